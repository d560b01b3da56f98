/*
 * Tests of string decoding in adapters/modbus_point, as part of the
 * modbus_point suite (test_modbus_point.c registers them): character order,
 * trimming, the replacement of bytes that are neither printable ASCII nor
 * valid UTF-8, and the length limits.
 */
#include <CUnit/CUnit.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "adapters/modbus_point.h"

/* Called by modbus_point_suite() in test_modbus_point.c. */
int modbus_point_add_string_tests(CU_pSuite s);

static mb_point_t holding(mb_type_t type, mb_order_t order)
{
    return (mb_point_t){MB_TABLE_HOLDING, 100, type, order, -1, 0, 1.0, 0.0};
}

/* Strings: BADC and DCBA swap the characters of each register; no order
 * reverses the registers. */
static void test_vectors_string_every_order(void)
{
    static const char *const want[] = {"ABCDEF", "ABCDEF", "BADCFE", "BADCFE"};
    const uint16_t regs[] = {0x4142, 0x4344, 0x4546};
    mb_value_t v;

    for (int o = 0; o < 4; o++) {
        mb_point_t p = holding(MB_TYPE_STRING, (mb_order_t)o);

        p.length = 3;
        CU_ASSERT_EQUAL(mb_decode_registers(&p, regs, &v), 0);
        CU_ASSERT_EQUAL(v.kind, MB_VAL_STRING);
        CU_ASSERT_STRING_EQUAL(v.s, want[o]);
    }
}

static int str_is(const uint16_t *regs, uint16_t length, mb_order_t order, const char *want)
{
    mb_point_t p = holding(MB_TYPE_STRING, order);
    mb_value_t v;
    int rc;

    p.length = length;
    rc = mb_decode_registers(&p, regs, &v);
    if (rc == 0 && v.kind == MB_VAL_STRING && strcmp(v.s, want) == 0)
        return 1;
    fprintf(stderr, "\n  want \"%s\" got rc %d kind %d \"%s\"\n", want, rc, (int)v.kind, v.s);
    return 0;
}

static void test_string_trim(void)
{
    const uint16_t hello[] = {0x4845, 0x4C4C, 0x4F00, 0x0000};  /* "HELLO\0\0\0" */
    const uint16_t spaces[] = {0x2041, 0x2042, 0x2020, 0x0020}; /* " A B   \0 " */
    const uint16_t mixed[] = {0x4142, 0x2000, 0x2000, 0x0000};  /* "AB \0 \0\0\0" */
    const uint16_t empty[] = {0x0000, 0x2020, 0x0000};
    const uint16_t swapped[] = {0x4548, 0x4C4C, 0x004F, 0x2000}; /* BADC of "HELLO\0 \0" */

    CU_ASSERT_TRUE(str_is(hello, 4, MB_ORDER_ABCD, "HELLO"));
    CU_ASSERT_TRUE(str_is(hello, 4, MB_ORDER_CDAB, "HELLO"));
    CU_ASSERT_TRUE(str_is(hello, 2, MB_ORDER_ABCD, "HELL"));
    CU_ASSERT_TRUE(str_is(spaces, 4, MB_ORDER_ABCD, " A B"));
    CU_ASSERT_TRUE(str_is(mixed, 4, MB_ORDER_ABCD, "AB"));
    CU_ASSERT_TRUE(str_is(empty, 3, MB_ORDER_ABCD, ""));
    CU_ASSERT_TRUE(str_is(swapped, 4, MB_ORDER_BADC, "HELLO"));
    CU_ASSERT_TRUE(str_is(swapped, 4, MB_ORDER_DCBA, "HELLO"));
    CU_ASSERT_TRUE(str_is(swapped, 4, MB_ORDER_ABCD, "EHLL?O"));
}

static void test_string_sanitize(void)
{
    const uint16_t ctrl[] = {0x4101, 0x0042, 0x7F0A};         /* A\x01 \0B \x7f\n */
    const uint16_t utf8[] = {0xC3A9, 0x74C3, 0xA900};         /* "été" */
    const uint16_t euro[] = {0xE282, 0xAC31, 0xF09F, 0x9880}; /* "€1" + U+1F600 */
    const uint16_t lone[] = {0xC341, 0xFF42, 0x80C3};         /* C3 'A', FF 'B', 80, C3 */
    const uint16_t overlong[] = {0xC080, 0xE080, 0x8041};     /* C0 80, E0 80 80 'A' */
    const uint16_t surrogate[] = {0xEDA0, 0x8041};            /* U+D800, 'A' */
    const uint16_t big[] = {0xF490, 0x8080, 0xF500};          /* past U+10FFFF; F5 */
    const uint16_t high_ctrl[] = {0xC280, 0x4100};            /* U+0080 is valid UTF-8 */

    CU_ASSERT_TRUE(str_is(ctrl, 3, MB_ORDER_ABCD, "A??B??"));
    CU_ASSERT_TRUE(str_is(utf8, 3, MB_ORDER_ABCD, "\xC3\xA9t\xC3\xA9"));
    CU_ASSERT_TRUE(str_is(euro, 4, MB_ORDER_ABCD,
                          "\xE2\x82\xAC"
                          "1\xF0\x9F\x98\x80"));
    CU_ASSERT_TRUE(str_is(lone, 3, MB_ORDER_ABCD, "?A?B??"));
    CU_ASSERT_TRUE(str_is(overlong, 3, MB_ORDER_ABCD, "?????A"));
    CU_ASSERT_TRUE(str_is(surrogate, 2, MB_ORDER_ABCD, "???A"));
    CU_ASSERT_TRUE(str_is(big, 3, MB_ORDER_ABCD, "?????"));
    CU_ASSERT_TRUE(str_is(high_ctrl, 2, MB_ORDER_ABCD,
                          "\xC2\x80"
                          "A"));
    /* Swapping happens before validation: the swapped bytes are the string. */
    CU_ASSERT_TRUE(str_is(utf8, 3, MB_ORDER_BADC, "???t??"));
}

static void test_string_lengths(void)
{
    uint16_t regs[126];
    char want[251];
    mb_point_t p = holding(MB_TYPE_STRING, MB_ORDER_ABCD);
    mb_value_t v;

    for (int i = 0; i < 126; i++)
        regs[i] = (uint16_t)(('a' + i % 26) << 8 | ('A' + i % 26));
    for (int i = 0; i < 250; i++)
        want[i] = (char)(i % 2 ? 'A' + i / 2 % 26 : 'a' + i / 2 % 26);
    want[250] = '\0';
    p.length = 125;
    CU_ASSERT_EQUAL(mb_decode_registers(&p, regs, &v), 0);
    CU_ASSERT_EQUAL(strlen(v.s), 250);
    CU_ASSERT_STRING_EQUAL(v.s, want);
    /* 250 invalid bytes become 250 '?': the buffer still holds them. */
    for (int i = 0; i < 125; i++)
        regs[i] = 0xFFFE;
    CU_ASSERT_EQUAL(mb_decode_registers(&p, regs, &v), 0);
    CU_ASSERT_EQUAL(strlen(v.s), 250);
    CU_ASSERT_EQUAL(strspn(v.s, "?"), 250);
    p.length = 126;
    CU_ASSERT_EQUAL(mb_decode_registers(&p, regs, &v), -EINVAL);
    p.length = 0;
    CU_ASSERT_EQUAL(mb_decode_registers(&p, regs, &v), -EINVAL);
}

int modbus_point_add_string_tests(CU_pSuite s)
{
    if (!CU_add_test(s, "decode: string x orders", test_vectors_string_every_order) ||
        !CU_add_test(s, "decode: string trimming", test_string_trim) ||
        !CU_add_test(s, "decode: string sanitizing", test_string_sanitize) ||
        !CU_add_test(s, "decode: string lengths", test_string_lengths))
        return -1;
    return 0;
}

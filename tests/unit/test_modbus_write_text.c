/*
 * Tests of writing string and bool points (mb_encode_registers() for strings,
 * mb_encode_bit() for coils, mb_encode_register_bit() for one bit of a
 * register), as part of the modbus_write suite (test_modbus_write.c
 * registers them).
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "adapters/modbus_point.h"
#include "modbus_write_test.h"
#include "suites.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- strings ---- */

static void test_strings(void)
{
    static const struct {
        mb_order_t order;
        uint16_t length;
        const char *s;
        uint16_t regs[4];
    } cases[] = {
        {MB_ORDER_ABCD, 3, "abcde", {0x6162, 0x6364, 0x6500}},
        {MB_ORDER_CDAB, 3, "abcde", {0x6162, 0x6364, 0x6500}}, /* never reordered */
        {MB_ORDER_BADC, 3, "abcde", {0x6261, 0x6463, 0x0065}},
        {MB_ORDER_DCBA, 3, "abcde", {0x6261, 0x6463, 0x0065}},
        {MB_ORDER_ABCD, 2, "abcd", {0x6162, 0x6364}},
        {MB_ORDER_ABCD, 2, "", {0, 0}},
        {MB_ORDER_ABCD, 1, "\xc3\xa9", {0xC3A9}}, /* é: two bytes, one register */
        {MB_ORDER_BADC, 1, "x", {0x0078}},
        {MB_ORDER_ABCD, 4, "ab ", {0x6162, 0x2000, 0, 0}}, /* written; a read trims it */
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        mb_point_t p = mbw_holding(MB_TYPE_STRING, cases[i].order, 1.0, 0.0);
        mb_input_t in = mbw_str(cases[i].s);
        uint16_t regs[5] = {MBW_POISON, MBW_POISON, MBW_POISON, MBW_POISON, MBW_POISON};
        mb_value_t v;

        p.length = cases[i].length;
        if (!mbw_encode_ok(&p, &in, regs))
            continue;
        CU_ASSERT_EQUAL(memcmp(regs, cases[i].regs, p.length * sizeof(uint16_t)), 0);
        CU_ASSERT_EQUAL(regs[p.length], MBW_POISON);
        CU_ASSERT_EQUAL_FATAL(mb_decode_registers(&p, regs, &v), 0);
        CU_ASSERT_EQUAL(v.kind, MB_VAL_STRING);
        if (strcmp(cases[i].s, "ab ") != 0)
            CU_ASSERT_STRING_EQUAL(v.s, cases[i].s);
    }
}

static void test_string_refusals(void)
{
    char longest[251], too_long[252];
    mb_point_t p = mbw_holding(MB_TYPE_STRING, MB_ORDER_ABCD, 1.0, 0.0);
    mb_input_t in;
    uint16_t regs[125];

    p.length = 6;
    in = mbw_str("abcdefghijklm");
    mbw_refused(&p, &in, -ERANGE, "string longer than 12 bytes");
    in = mbw_str("abcdefghijkl");
    CU_ASSERT(mbw_encode_ok(&p, &in, regs));
    in = mbw_str(
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"); /* 13 bytes, 7 characters */
    mbw_refused(&p, &in, -ERANGE, "string longer than 12 bytes");
    p.length = 1;
    in = mbw_str("abc");
    mbw_refused(&p, &in, -ERANGE, "string longer than 2 bytes");
    p.length = 125;
    memset(longest, 'x', 250);
    longest[250] = '\0';
    in = mbw_str(longest);
    CU_ASSERT(mbw_encode_ok(&p, &in, regs) && regs[124] == 0x7878);
    memset(too_long, 'x', 251);
    too_long[251] = '\0';
    in = mbw_str(too_long);
    mbw_refused(&p, &in, -ERANGE, "string longer than 250 bytes");

    /* Bytes a read would turn into '?': refused rather than written. */
    p.length = 4;
    in = mbw_str("a\tb");
    mbw_refused(&p, &in, -ERANGE, "string has a control character");
    in = mbw_str("\x7f");
    mbw_refused(&p, &in, -ERANGE, "string has a control character");
    in = (mb_input_t){.kind = MB_IN_STRING, .s = "a\0b", .s_len = 3};
    mbw_refused(&p, &in, -ERANGE, "string has a control character");
    in = mbw_str("\xff");
    mbw_refused(&p, &in, -ERANGE, "string is not valid UTF-8");
    in = mbw_str("ab\xc3");
    mbw_refused(&p, &in, -ERANGE, "string is not valid UTF-8");
    in = mbw_str("\xed\xa0\x80"); /* a UTF-16 surrogate */
    mbw_refused(&p, &in, -ERANGE, "string is not valid UTF-8");
}

/* ---- bools ---- */

static void test_coils(void)
{
    mb_point_t p = {MB_TABLE_COIL, 7, MB_TYPE_BOOL, MB_ORDER_ABCD, -1, 0, 1.0, 0.0};
    mb_input_t in = mbw_boolean(true);
    const char *why = "unset";
    bool bit = false;
    mb_value_t v;

    CU_ASSERT(mb_encode_bit(&p, &in, &bit, &why) == 0 && bit && why == NULL);
    mb_decode_bit(&p, bit, &v);
    CU_ASSERT(v.kind == MB_VAL_BOOL && v.b);
    in = mbw_boolean(false);
    CU_ASSERT(mb_encode_bit(&p, &in, &bit, NULL) == 0 && !bit);

    /* Coils read as booleans: 0 and 1 are numbers, refused. */
    bit = true;
    in = mbw_lit_i(1);
    CU_ASSERT_EQUAL(mb_encode_bit(&p, &in, &bit, &why), -EINVAL);
    CU_ASSERT_STRING_EQUAL(why, "expected true or false");
    in = mbw_str("true");
    CU_ASSERT_EQUAL(mb_encode_bit(&p, &in, &bit, &why), -EINVAL);
    CU_ASSERT_STRING_EQUAL(why, "expected true or false");
    CU_ASSERT(bit); /* untouched */
    in = mbw_boolean(false);
    p.table = MB_TABLE_DISCRETE;
    CU_ASSERT_EQUAL(mb_encode_bit(&p, &in, &bit, &why), -EINVAL);
    CU_ASSERT_STRING_EQUAL(why, "not writable");
    p.table = MB_TABLE_INPUT;
    CU_ASSERT_EQUAL(mb_encode_bit(&p, &in, &bit, &why), -EINVAL);
    CU_ASSERT_STRING_EQUAL(why, "not writable");
    p.table = MB_TABLE_HOLDING;
    CU_ASSERT_EQUAL(mb_encode_bit(&p, &in, &bit, &why), -EINVAL);
    CU_ASSERT_STRING_EQUAL(why, "not a coil");
    CU_ASSERT(bit);
}

/* Read-modify-write of one bit keeps the other fifteen. */
static void test_register_bit(void)
{
    mb_point_t p = mbw_holding(MB_TYPE_BOOL, MB_ORDER_DCBA, 1.0, 0.0);
    const uint16_t currents[] = {0x0000, 0xFFFF, 0xA5A5, 0x5A5A};
    const char *why = "unset";
    uint16_t out = MBW_POISON;
    mb_value_t v;
    mb_input_t in;

    for (int bit = 0; bit <= 15; bit++)
        for (size_t c = 0; c < ARRAY_LEN(currents); c++)
            for (int b = 0; b <= 1; b++) {
                uint16_t mask = (uint16_t)(1u << bit);

                p.bit = bit;
                in = mbw_boolean(b);
                CU_ASSERT_EQUAL_FATAL(mb_encode_register_bit(&p, &in, currents[c], &out, &why), 0);
                CU_ASSERT_PTR_NULL(why);
                CU_ASSERT_EQUAL(out & ~mask, currents[c] & ~mask);
                CU_ASSERT_EQUAL_FATAL(mb_decode_registers(&p, &out, &v), 0);
                CU_ASSERT(v.kind == MB_VAL_BOOL && v.b == b);
            }
    p.bit = 1;
    in = mbw_boolean(true);
    CU_ASSERT(mb_encode_register_bit(&p, &in, 0xA5A5, &out, NULL) == 0 && out == 0xA5A7);
    in = mbw_boolean(false);
    CU_ASSERT(mb_encode_register_bit(&p, &in, 0xA5A5, &out, NULL) == 0 && out == 0xA5A5);
    p.bit = 15;
    CU_ASSERT(mb_encode_register_bit(&p, &in, 0xA5A5, &out, NULL) == 0 && out == 0x25A5);

    /* Bit -1 is the whole register: 1 or 0, whatever was there. */
    p.bit = -1;
    in = mbw_boolean(true);
    CU_ASSERT(mb_encode_register_bit(&p, &in, 0xA5A4, &out, NULL) == 0 && out == 1);
    in = mbw_boolean(false);
    CU_ASSERT(mb_encode_register_bit(&p, &in, 0xA5A5, &out, NULL) == 0 && out == 0);
    in = mbw_boolean(true);
    CU_ASSERT(mb_encode_registers(&p, &in, &out, NULL) == 0 && out == 1);

    out = MBW_POISON;
    in = mbw_lit_i(1);
    CU_ASSERT_EQUAL(mb_encode_register_bit(&p, &in, 0, &out, &why), -EINVAL);
    CU_ASSERT_STRING_EQUAL(why, "expected true or false");
    in = mbw_boolean(true);
    p.table = MB_TABLE_INPUT;
    CU_ASSERT_EQUAL(mb_encode_register_bit(&p, &in, 0, &out, &why), -EINVAL);
    CU_ASSERT_STRING_EQUAL(why, "not writable");
    p.table = MB_TABLE_COIL;
    CU_ASSERT_EQUAL(mb_encode_register_bit(&p, &in, 0, &out, &why), -EINVAL);
    CU_ASSERT_STRING_EQUAL(why, "not a register point");
    p = mbw_holding(MB_TYPE_UINT16, MB_ORDER_ABCD, 1.0, 0.0);
    CU_ASSERT_EQUAL(mb_encode_register_bit(&p, &in, 0, &out, &why), -EINVAL);
    CU_ASSERT_STRING_EQUAL(why, "not a bool point");
    p = mbw_holding(MB_TYPE_BOOL, MB_ORDER_ABCD, 1.0, 0.0);
    p.bit = -2;
    CU_ASSERT_EQUAL(mb_encode_register_bit(&p, &in, 0, &out, &why), -EINVAL);
    CU_ASSERT_STRING_EQUAL(why, "invalid point");
    CU_ASSERT_EQUAL(out, MBW_POISON);
}

int modbus_write_add_text_bool_tests(CU_pSuite s)
{
    static const sb_test_t tests[] = {
        {"encode: strings x orders", test_strings},
        {"refuse: strings", test_string_refusals},
        {"encode: coils", test_coils},
        {"encode: bit of a register, read-modify-write", test_register_bit},
    };

    return SB_ADD_TESTS(s, tests);
}

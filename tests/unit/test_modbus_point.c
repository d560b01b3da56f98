/*
 * Tests of adapters/modbus_point: name parsing, widths and numeric decoding.
 * String decoding (test_modbus_point_string.c) and the planner
 * (test_modbus_point_plan.c) are tested in files of their own that join this
 * suite.
 *
 * Register vectors are written out by hand from each value's big-endian
 * bytes, never produced by libmodbus: Debian's libmodbus 3.1.6 setters
 * (modbus_set_float_abcd and friends) write the wrong byte order. Its getters
 * are right, so they serve as an independent check of float32 decoding.
 */
#include <CUnit/CUnit.h>
#include <errno.h>

#include <float.h>
#include <math.h>
#include <modbus/modbus.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "adapters/modbus_point.h"
#include "suites.h"

/* The rest of the suite, in test_modbus_point_string.c and test_modbus_point_plan.c. */
int modbus_point_add_string_tests(CU_pSuite s);
int modbus_point_add_plan_tests(CU_pSuite s);

static mb_point_t point(mb_table_t table, mb_type_t type, mb_order_t order)
{
    return (mb_point_t){table, 100, type, order, -1, 0, 1.0, 0.0};
}

static mb_point_t holding(mb_type_t type, mb_order_t order)
{
    return point(MB_TABLE_HOLDING, type, order);
}

/* ---- names ---- */

static void test_table_parse(void)
{
    static const char *const bad[] = {"",      "Holding", "HOLDING",        "holdings", "holding ",
                                      " coil", "coils",   "discrete_input", "register", "input\n"};
    mb_table_t t = MB_TABLE_INPUT;

    CU_ASSERT(mb_table_parse("coil", &t) == 0 && t == MB_TABLE_COIL);
    CU_ASSERT(mb_table_parse("discrete", &t) == 0 && t == MB_TABLE_DISCRETE);
    CU_ASSERT(mb_table_parse("holding", &t) == 0 && t == MB_TABLE_HOLDING);
    CU_ASSERT(mb_table_parse("input", &t) == 0 && t == MB_TABLE_INPUT);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = MB_TABLE_DISCRETE;
        CU_ASSERT_EQUAL(mb_table_parse(bad[i], &t), -EINVAL);
        CU_ASSERT_EQUAL(t, MB_TABLE_DISCRETE); /* untouched on failure */
    }
    CU_ASSERT_EQUAL(mb_table_parse(NULL, &t), -EINVAL);
}

static void test_type_parse(void)
{
    static const char *const names[] = {"bool",  "int16",  "uint16",  "int32",   "uint32",
                                        "int64", "uint64", "float32", "float64", "string"};
    static const mb_type_t want[] = {
        MB_TYPE_BOOL,  MB_TYPE_INT16,  MB_TYPE_UINT16,  MB_TYPE_INT32,   MB_TYPE_UINT32,
        MB_TYPE_INT64, MB_TYPE_UINT64, MB_TYPE_FLOAT32, MB_TYPE_FLOAT64, MB_TYPE_STRING};
    static const char *const bad[] = {"",       "Bool",   "INT16", "int",      "uint8",  "float",
                                      "double", "int16 ", "str",   "float128", "uint 16"};
    mb_type_t t;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        t = want[i] == MB_TYPE_STRING ? MB_TYPE_BOOL : MB_TYPE_STRING;
        CU_ASSERT_EQUAL(mb_type_parse(names[i], &t), 0);
        CU_ASSERT_EQUAL(t, want[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = MB_TYPE_UINT64;
        CU_ASSERT_EQUAL(mb_type_parse(bad[i], &t), -EINVAL);
        CU_ASSERT_EQUAL(t, MB_TYPE_UINT64);
    }
    CU_ASSERT_EQUAL(mb_type_parse(NULL, &t), -EINVAL);
}

static void test_order_parse(void)
{
    static const struct {
        const char *name;
        mb_order_t want;
    } good[] = {
        {"ABCD", MB_ORDER_ABCD},     {"CDAB", MB_ORDER_CDAB},     {"BADC", MB_ORDER_BADC},
        {"DCBA", MB_ORDER_DCBA},     {"ABCDEFGH", MB_ORDER_ABCD}, {"GHEFCDAB", MB_ORDER_CDAB},
        {"BADCFEHG", MB_ORDER_BADC}, {"HGFEDCBA", MB_ORDER_DCBA}, {"abcd", MB_ORDER_ABCD},
        {"cdab", MB_ORDER_CDAB},     {"badc", MB_ORDER_BADC},     {"dcba", MB_ORDER_DCBA},
        {"CdAb", MB_ORDER_CDAB},     {"hgfedcba", MB_ORDER_DCBA}, {"ghefcdab", MB_ORDER_CDAB},
    };
    static const char *const bad[] = {"",         "AB",       "BA",       "ABDC",     "ABCDE",
                                      "ABCD ",    "DCAB",     "ABCDEFHG", "EFGHABCD", "HGFEDCAB",
                                      "BADCFEGH", "ABCDABCD", "little",   "big"};
    mb_order_t o;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        o = good[i].want == MB_ORDER_ABCD ? MB_ORDER_DCBA : MB_ORDER_ABCD;
        CU_ASSERT_EQUAL(mb_order_parse(good[i].name, &o), 0);
        CU_ASSERT_EQUAL(o, good[i].want);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o = MB_ORDER_BADC;
        CU_ASSERT_EQUAL(mb_order_parse(bad[i], &o), -EINVAL);
        CU_ASSERT_EQUAL(o, MB_ORDER_BADC);
    }
    CU_ASSERT_EQUAL(mb_order_parse(NULL, &o), -EINVAL);
}

static void test_table_props(void)
{
    CU_ASSERT_STRING_EQUAL(mb_table_name(MB_TABLE_COIL), "coil");
    CU_ASSERT_STRING_EQUAL(mb_table_name(MB_TABLE_DISCRETE), "discrete");
    CU_ASSERT_STRING_EQUAL(mb_table_name(MB_TABLE_HOLDING), "holding");
    CU_ASSERT_STRING_EQUAL(mb_table_name(MB_TABLE_INPUT), "input");
    CU_ASSERT_STRING_EQUAL(mb_table_name((mb_table_t)7), "unknown");
    CU_ASSERT_EQUAL(mb_table_fc(MB_TABLE_COIL), 1);
    CU_ASSERT_EQUAL(mb_table_fc(MB_TABLE_DISCRETE), 2);
    CU_ASSERT_EQUAL(mb_table_fc(MB_TABLE_HOLDING), 3);
    CU_ASSERT_EQUAL(mb_table_fc(MB_TABLE_INPUT), 4);
    CU_ASSERT_EQUAL(mb_table_fc((mb_table_t)7), 0);
    CU_ASSERT_TRUE(mb_table_is_bits(MB_TABLE_COIL));
    CU_ASSERT_TRUE(mb_table_is_bits(MB_TABLE_DISCRETE));
    CU_ASSERT_FALSE(mb_table_is_bits(MB_TABLE_HOLDING));
    CU_ASSERT_FALSE(mb_table_is_bits(MB_TABLE_INPUT));
}

static void test_width(void)
{
    static const uint16_t want[] = {1, 1, 1, 2, 2, 4, 4, 2, 4};
    mb_point_t p;

    for (int t = MB_TYPE_BOOL; t <= MB_TYPE_FLOAT64; t++) {
        p = holding((mb_type_t)t, MB_ORDER_DCBA);
        CU_ASSERT_EQUAL(mb_point_width(&p), want[t]);
        p.table = MB_TABLE_INPUT;
        CU_ASSERT_EQUAL(mb_point_width(&p), want[t]);
    }
    p = holding(MB_TYPE_BOOL, MB_ORDER_ABCD);
    p.bit = 15;
    CU_ASSERT_EQUAL(mb_point_width(&p), 1);
    p = holding(MB_TYPE_STRING, MB_ORDER_ABCD);
    p.length = 1;
    CU_ASSERT_EQUAL(mb_point_width(&p), 1);
    p.length = 17;
    CU_ASSERT_EQUAL(mb_point_width(&p), 17);
    p.length = 125;
    CU_ASSERT_EQUAL(mb_point_width(&p), 125);
    p = point(MB_TABLE_COIL, MB_TYPE_BOOL, MB_ORDER_ABCD);
    CU_ASSERT_EQUAL(mb_point_width(&p), 1);
    p = point(MB_TABLE_DISCRETE, MB_TYPE_BOOL, MB_ORDER_ABCD);
    CU_ASSERT_EQUAL(mb_point_width(&p), 1);
}

/* ---- fixed vectors: every type in every order ---- */

typedef struct {
    mb_type_t type;
    mb_order_t order;
    int kind;
    int64_t i;
    uint64_t u;
    double d;
    uint16_t regs[4];
} vec_t;

/* clang-format off */
#define VI(t, o, v, ...) {MB_TYPE_##t, MB_ORDER_##o, MB_VAL_INT, v, 0, 0.0, {__VA_ARGS__}}
#define VU(t, o, v, ...) {MB_TYPE_##t, MB_ORDER_##o, MB_VAL_UINT, 0, v, 0.0, {__VA_ARGS__}}
#define VD(t, o, v, ...) {MB_TYPE_##t, MB_ORDER_##o, MB_VAL_DOUBLE, 0, 0, v, {__VA_ARGS__}}
/* clang-format on */

static const vec_t vectors[] = {
    /* int16 -12345 = 0xCFC7; one register: only BADC/DCBA swap its bytes. */
    VI(INT16, ABCD, -12345, 0xCFC7),
    VI(INT16, CDAB, -12345, 0xCFC7),
    VI(INT16, BADC, -12345, 0xC7CF),
    VI(INT16, DCBA, -12345, 0xC7CF),
    /* uint16 48879 = 0xBEEF */
    VU(UINT16, ABCD, 48879, 0xBEEF),
    VU(UINT16, CDAB, 48879, 0xBEEF),
    VU(UINT16, BADC, 48879, 0xEFBE),
    VU(UINT16, DCBA, 48879, 0xEFBE),
    /* int32 -123456789 = 0xF8A432EB */
    VI(INT32, ABCD, -123456789, 0xF8A4, 0x32EB),
    VI(INT32, CDAB, -123456789, 0x32EB, 0xF8A4),
    VI(INT32, BADC, -123456789, 0xA4F8, 0xEB32),
    VI(INT32, DCBA, -123456789, 0xEB32, 0xA4F8),
    /* uint32 3735928559 = 0xDEADBEEF */
    VU(UINT32, ABCD, 3735928559u, 0xDEAD, 0xBEEF),
    VU(UINT32, CDAB, 3735928559u, 0xBEEF, 0xDEAD),
    VU(UINT32, BADC, 3735928559u, 0xADDE, 0xEFBE),
    VU(UINT32, DCBA, 3735928559u, 0xEFBE, 0xADDE),
    /* int64 -1234567890123456789 = 0xEEDDEF0B82167EEB */
    VI(INT64, ABCD, -1234567890123456789LL, 0xEEDD, 0xEF0B, 0x8216, 0x7EEB),
    VI(INT64, CDAB, -1234567890123456789LL, 0x7EEB, 0x8216, 0xEF0B, 0xEEDD),
    VI(INT64, BADC, -1234567890123456789LL, 0xDDEE, 0x0BEF, 0x1682, 0xEB7E),
    VI(INT64, DCBA, -1234567890123456789LL, 0xEB7E, 0x1682, 0x0BEF, 0xDDEE),
    /* uint64 0x0102030405060708 */
    VU(UINT64, ABCD, 0x0102030405060708u, 0x0102, 0x0304, 0x0506, 0x0708),
    VU(UINT64, CDAB, 0x0102030405060708u, 0x0708, 0x0506, 0x0304, 0x0102),
    VU(UINT64, BADC, 0x0102030405060708u, 0x0201, 0x0403, 0x0605, 0x0807),
    VU(UINT64, DCBA, 0x0102030405060708u, 0x0807, 0x0605, 0x0403, 0x0201),
    /* float32 123.456f = 0x42F6E979 */
    VD(FLOAT32, ABCD, (double)123.456f, 0x42F6, 0xE979),
    VD(FLOAT32, CDAB, (double)123.456f, 0xE979, 0x42F6),
    VD(FLOAT32, BADC, (double)123.456f, 0xF642, 0x79E9),
    VD(FLOAT32, DCBA, (double)123.456f, 0x79E9, 0xF642),
    /* float64 -9876.54321 = 0xC0C34A4587E7C06E */
    VD(FLOAT64, ABCD, -9876.54321, 0xC0C3, 0x4A45, 0x87E7, 0xC06E),
    VD(FLOAT64, CDAB, -9876.54321, 0xC06E, 0x87E7, 0x4A45, 0xC0C3),
    VD(FLOAT64, BADC, -9876.54321, 0xC3C0, 0x454A, 0xE787, 0x6EC0),
    VD(FLOAT64, DCBA, -9876.54321, 0x6EC0, 0xE787, 0x454A, 0xC3C0),
};

static int vec_ok(const vec_t *v, size_t row)
{
    mb_point_t p = holding(v->type, v->order);
    mb_value_t out;
    int rc = mb_decode_registers(&p, v->regs, &out);
    int ok = rc == 0 && (int)out.kind == v->kind;

    if (ok && v->kind == MB_VAL_INT)
        ok = out.i == v->i;
    else if (ok && v->kind == MB_VAL_UINT)
        ok = out.u == v->u;
    else if (ok)
        ok = out.d == v->d;
    if (!ok)
        fprintf(stderr, "\n  vector %zu: rc %d kind %d i %lld u %llu d %.17g\n", row, rc,
                (int)out.kind, (long long)out.i, (unsigned long long)out.u, out.d);
    return ok;
}

static void test_vectors(void)
{
    int seen[MB_TYPE_STRING][4] = {{0}};

    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        CU_ASSERT_TRUE(vec_ok(&vectors[i], i));
        seen[vectors[i].type][vectors[i].order]++;
    }
    /* Every numeric type in every order, exactly once. */
    for (int t = MB_TYPE_INT16; t < MB_TYPE_STRING; t++)
        for (int o = 0; o < 4; o++)
            CU_ASSERT_EQUAL(seen[t][o], 1);
}

/* Bool ignores the order: a bit number names a bit of the register value. */
static void test_vectors_bool_every_order(void)
{
    const uint16_t zero = 0, nonzero = 0x0100, bit8 = 0x0100;
    mb_value_t v;

    for (int o = 0; o < 4; o++) {
        mb_point_t p = holding(MB_TYPE_BOOL, (mb_order_t)o);

        CU_ASSERT(mb_decode_registers(&p, &zero, &v) == 0 && v.kind == MB_VAL_BOOL && !v.b);
        CU_ASSERT(mb_decode_registers(&p, &nonzero, &v) == 0 && v.kind == MB_VAL_BOOL && v.b);
        p.bit = 8;
        CU_ASSERT(mb_decode_registers(&p, &bit8, &v) == 0 && v.kind == MB_VAL_BOOL && v.b);
        p.bit = 0;
        CU_ASSERT(mb_decode_registers(&p, &bit8, &v) == 0 && v.kind == MB_VAL_BOOL && !v.b);
    }
}

/* libmodbus's float getters agree, on the fixed vectors and on random bits. */
static float libmodbus_float(mb_order_t o, const uint16_t *regs)
{
    switch (o) {
    case MB_ORDER_ABCD:
        return modbus_get_float_abcd(regs);
    case MB_ORDER_CDAB:
        return modbus_get_float_cdab(regs);
    case MB_ORDER_BADC:
        return modbus_get_float_badc(regs);
    case MB_ORDER_DCBA:
        return modbus_get_float_dcba(regs);
    }
    return NAN;
}

static void test_float32_vs_libmodbus(void)
{
    uint64_t x = 0x9E3779B97F4A7C15u;
    mb_value_t v;

    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
        if (vectors[i].type == MB_TYPE_FLOAT32)
            CU_ASSERT_EQUAL(libmodbus_float(vectors[i].order, vectors[i].regs), 123.456f);
    for (int n = 0; n < 20000; n++) {
        uint16_t regs[2];
        mb_point_t p = holding(MB_TYPE_FLOAT32, (mb_order_t)(n % 4));
        float want;
        int rc;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        regs[0] = (uint16_t)(x >> 16);
        regs[1] = (uint16_t)x;
        want = libmodbus_float(p.order, regs);
        rc = mb_decode_registers(&p, regs, &v);
        if (!isfinite(want)) {
            CU_ASSERT_EQUAL(rc, -ERANGE);
            continue;
        }
        CU_ASSERT(rc == 0 && v.kind == MB_VAL_DOUBLE && v.d == (double)want);
    }
}

/* ---- bits, signs, scale ---- */

static void test_bits(void)
{
    mb_point_t p = holding(MB_TYPE_BOOL, MB_ORDER_ABCD);
    mb_value_t v;

    for (int bit = 0; bit < 16; bit++) {
        p.bit = bit;
        for (int set = 0; set < 16; set++) {
            uint16_t only = (uint16_t)(1u << set), but = (uint16_t)~only;

            CU_ASSERT_EQUAL(mb_decode_registers(&p, &only, &v), 0);
            CU_ASSERT(v.kind == MB_VAL_BOOL && v.b == (bit == set));
            CU_ASSERT_EQUAL(mb_decode_registers(&p, &but, &v), 0);
            CU_ASSERT(v.kind == MB_VAL_BOOL && v.b == (bit != set));
        }
    }
    /* No bit: the whole register, nonzero is true. */
    p.bit = -1;
    for (int set = 0; set < 16; set++) {
        uint16_t only = (uint16_t)(1u << set);

        CU_ASSERT(mb_decode_registers(&p, &only, &v) == 0 && v.kind == MB_VAL_BOOL && v.b);
    }
    /* Bool never scales. */
    p.scale = 10.0;
    p.offset = 3.0;
    p.bit = 2;
    {
        const uint16_t r = 4;

        CU_ASSERT(mb_decode_registers(&p, &r, &v) == 0 && v.kind == MB_VAL_BOOL && v.b);
    }
}

static void test_sign_extension(void)
{
    static const struct {
        mb_type_t type;
        uint16_t regs[4];
        int64_t want;
    } s[] = {
        {MB_TYPE_INT16, {0x8000}, -32768},
        {MB_TYPE_INT16, {0xFFFF}, -1},
        {MB_TYPE_INT16, {0xFFFB}, -5},
        {MB_TYPE_INT16, {0x7FFF}, 32767},
        {MB_TYPE_INT16, {0x0000}, 0},
        {MB_TYPE_INT32, {0x8000, 0x0000}, INT32_MIN},
        {MB_TYPE_INT32, {0xFFFF, 0xFFFF}, -1},
        {MB_TYPE_INT32, {0x7FFF, 0xFFFF}, INT32_MAX},
        {MB_TYPE_INT32, {0x0000, 0x8000}, 32768},
        {MB_TYPE_INT64, {0x8000, 0, 0, 0}, INT64_MIN},
        {MB_TYPE_INT64, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, -1},
        {MB_TYPE_INT64, {0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF}, INT64_MAX},
        {MB_TYPE_INT64, {0x0000, 0x0000, 0x8000, 0x0000}, 2147483648LL},
    };
    mb_value_t v;

    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        mb_point_t p = holding(s[i].type, MB_ORDER_ABCD);

        CU_ASSERT_EQUAL(mb_decode_registers(&p, s[i].regs, &v), 0);
        CU_ASSERT_EQUAL(v.kind, MB_VAL_INT);
        CU_ASSERT_EQUAL(v.i, s[i].want);
    }
    /* The unsigned types do not extend. */
    {
        const uint16_t ones[4] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};
        mb_point_t p = holding(MB_TYPE_UINT16, MB_ORDER_ABCD);

        CU_ASSERT(mb_decode_registers(&p, ones, &v) == 0 && v.kind == MB_VAL_UINT);
        CU_ASSERT_EQUAL(v.u, 65535);
        p.type = MB_TYPE_UINT32;
        CU_ASSERT(mb_decode_registers(&p, ones, &v) == 0 && v.kind == MB_VAL_UINT);
        CU_ASSERT_EQUAL(v.u, 4294967295u);
        p.type = MB_TYPE_UINT64;
        CU_ASSERT(mb_decode_registers(&p, ones, &v) == 0 && v.kind == MB_VAL_UINT);
        CU_ASSERT_EQUAL(v.u, UINT64_MAX);
    }
}

/* Decodes one point with a scale and offset; returns the double, or NAN. */
static double scaled(mb_type_t type, mb_order_t order, const uint16_t *regs, double scale,
                     double offset)
{
    mb_point_t p = holding(type, order);
    mb_value_t v;

    p.scale = scale;
    p.offset = offset;
    if (mb_decode_registers(&p, regs, &v) != 0 || v.kind != MB_VAL_DOUBLE)
        return NAN;
    return v.d;
}

static void test_scale_offset(void)
{
    const uint16_t m5[] = {0xFFFB}, u100[] = {100}, i32[] = {0xF8A4, 0x32EB};
    const uint16_t u32_cdab[] = {0xBEEF, 0xDEAD}, f32[] = {0x42F6, 0xE979};
    const uint16_t u64[] = {0x0102, 0x0304, 0x0506, 0x0708},
                   i64m1[] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};
    const uint16_t f64big[] = {0x7FE0, 0, 0, 0}; /* 2^1023 */
    double d;

    /* int16 -5 * 0.1 + 2 */
    d = scaled(MB_TYPE_INT16, MB_ORDER_ABCD, m5, 0.1, 2.0);
    CU_ASSERT_EQUAL(d, -5.0 * 0.1 + 2.0);
    CU_ASSERT_DOUBLE_EQUAL(d, 1.5, 1e-12);
    /* Offset alone, scale alone. */
    CU_ASSERT_EQUAL(scaled(MB_TYPE_UINT16, MB_ORDER_ABCD, u100, 1.0, -0.5), 99.5);
    CU_ASSERT_EQUAL(scaled(MB_TYPE_UINT16, MB_ORDER_DCBA, u100, 1.0, -0.5), 25599.5);
    CU_ASSERT_EQUAL(scaled(MB_TYPE_INT32, MB_ORDER_ABCD, i32, 0.5, 0.0), -61728394.5);
    CU_ASSERT_EQUAL(scaled(MB_TYPE_UINT32, MB_ORDER_CDAB, u32_cdab, 2.0, 0.0), 7471857118.0);
    CU_ASSERT_EQUAL(scaled(MB_TYPE_FLOAT32, MB_ORDER_ABCD, f32, 2.0, 1.0),
                    (double)123.456f * 2.0 + 1.0);
    CU_ASSERT_EQUAL(scaled(MB_TYPE_UINT64, MB_ORDER_ABCD, u64, 1.0, 1.0),
                    (double)0x0102030405060708u + 1.0);
    CU_ASSERT_EQUAL(scaled(MB_TYPE_INT64, MB_ORDER_ABCD, i64m1, -3.0, 0.0), 3.0);
    CU_ASSERT_EQUAL(scaled(MB_TYPE_INT16, MB_ORDER_ABCD, m5, 0.0, 0.0), 0.0);
    /* A scaled result that overflows is a bad reading, like an infinite float. */
    CU_ASSERT_EQUAL(scaled(MB_TYPE_FLOAT64, MB_ORDER_ABCD, f64big, 1.0, 0.0), ldexp(1.0, 1023));
    CU_ASSERT_TRUE(isnan(scaled(MB_TYPE_FLOAT64, MB_ORDER_ABCD, f64big, 4.0, 0.0)));
    {
        mb_point_t p = holding(MB_TYPE_FLOAT64, MB_ORDER_ABCD);
        mb_value_t v;

        p.scale = 4.0;
        CU_ASSERT_EQUAL(mb_decode_registers(&p, f64big, &v), -ERANGE);
    }
}

/* Unscaled integers stay exact, beyond what a double holds. */
static void test_unscaled_exact(void)
{
    const uint16_t u64[] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE};
    const uint16_t i64[] = {0x8000, 0x0000, 0x0000, 0x0001};
    mb_point_t p = holding(MB_TYPE_UINT64, MB_ORDER_ABCD);
    mb_value_t v;

    CU_ASSERT(mb_decode_registers(&p, u64, &v) == 0 && v.kind == MB_VAL_UINT);
    CU_ASSERT_EQUAL(v.u, UINT64_MAX - 1);
    p.type = MB_TYPE_INT64;
    CU_ASSERT(mb_decode_registers(&p, i64, &v) == 0 && v.kind == MB_VAL_INT);
    CU_ASSERT_EQUAL(v.i, INT64_MIN + 1);
    /* Floats are always doubles, scaled or not. */
    p.type = MB_TYPE_FLOAT32;
    {
        const uint16_t one[] = {0x3F80, 0x0000};

        CU_ASSERT(mb_decode_registers(&p, one, &v) == 0 && v.kind == MB_VAL_DOUBLE);
        CU_ASSERT_EQUAL(v.d, 1.0);
    }
}

/* ---- bad readings and bad points ---- */

static void test_nan_inf(void)
{
    /* Big-endian patterns; each is laid out in every order below. */
    static const uint32_t f32[] = {0x7FC00000, 0x7F800000, 0xFF800000, 0x7F800001, 0xFFFFFFFF};
    static const uint64_t f64[] = {0x7FF8000000000000u, 0x7FF0000000000000u, 0xFFF0000000000000u,
                                   0x7FF0000000000001u};
    mb_value_t v;

    for (int o = 0; o < 4; o++) {
        mb_point_t p = holding(MB_TYPE_FLOAT32, (mb_order_t)o);
        bool ws = o == MB_ORDER_CDAB || o == MB_ORDER_DCBA;
        bool bs = o == MB_ORDER_BADC || o == MB_ORDER_DCBA;

        for (size_t i = 0; i < sizeof(f32) / sizeof(f32[0]); i++) {
            const uint16_t w[2] = {(uint16_t)(f32[i] >> 16), (uint16_t)f32[i]};
            uint16_t r[2];

            for (int k = 0; k < 2; k++) {
                uint16_t x = w[ws ? 1 - k : k];

                r[k] = bs ? (uint16_t)(x << 8 | x >> 8) : x;
            }
            CU_ASSERT_EQUAL(mb_decode_registers(&p, r, &v), -ERANGE);
        }
        p.type = MB_TYPE_FLOAT64;
        for (size_t i = 0; i < sizeof(f64) / sizeof(f64[0]); i++) {
            uint16_t r[4];

            for (int k = 0; k < 4; k++) {
                uint16_t x = (uint16_t)(f64[i] >> (16 * (ws ? k : 3 - k)));

                r[k] = bs ? (uint16_t)(x << 8 | x >> 8) : x;
            }
            CU_ASSERT_EQUAL(mb_decode_registers(&p, r, &v), -ERANGE);
        }
    }
    /* The largest finite values still decode. */
    {
        const uint16_t max32[] = {0x7F7F, 0xFFFF}, max64[] = {0x7FEF, 0xFFFF, 0xFFFF, 0xFFFF};
        mb_point_t p = holding(MB_TYPE_FLOAT32, MB_ORDER_ABCD);

        CU_ASSERT(mb_decode_registers(&p, max32, &v) == 0 && v.d == (double)FLT_MAX);
        p.type = MB_TYPE_FLOAT64;
        CU_ASSERT(mb_decode_registers(&p, max64, &v) == 0 && v.d == 1.7976931348623157e308);
    }
}

static void test_bad_points(void)
{
    const uint16_t regs[4] = {1, 2, 3, 4};
    mb_point_t p = holding(MB_TYPE_BOOL, MB_ORDER_ABCD);
    mb_value_t v;

    p.bit = 16;
    CU_ASSERT_EQUAL(mb_decode_registers(&p, regs, &v), -EINVAL);
    p.bit = -2;
    CU_ASSERT_EQUAL(mb_decode_registers(&p, regs, &v), -EINVAL);
    p = holding(MB_TYPE_UINT16, (mb_order_t)4);
    CU_ASSERT_EQUAL(mb_decode_registers(&p, regs, &v), -EINVAL);
    p = holding((mb_type_t)10, MB_ORDER_ABCD);
    CU_ASSERT_EQUAL(mb_decode_registers(&p, regs, &v), -EINVAL);
    CU_ASSERT_EQUAL(mb_point_width(&p), 0);
}

static void test_decode_bit(void)
{
    mb_point_t p = point(MB_TABLE_COIL, MB_TYPE_BOOL, MB_ORDER_ABCD);
    mb_value_t v;

    memset(&v, 0x55, sizeof(v));
    mb_decode_bit(&p, true, &v);
    CU_ASSERT(v.kind == MB_VAL_BOOL && v.b && v.i == 0 && v.u == 0 && v.s[0] == '\0');
    p.table = MB_TABLE_DISCRETE;
    p.scale = 5.0;
    p.offset = 1.0;
    mb_decode_bit(&p, false, &v);
    CU_ASSERT(v.kind == MB_VAL_BOOL && !v.b);
}

int modbus_point_suite(void)
{
    CU_pSuite s = CU_add_suite("modbus_point", NULL, NULL);

    if (!s || !CU_add_test(s, "names: table", test_table_parse) ||
        !CU_add_test(s, "names: type", test_type_parse) ||
        !CU_add_test(s, "names: order", test_order_parse) ||
        !CU_add_test(s, "table: name, fc, bits", test_table_props) ||
        !CU_add_test(s, "width", test_width) ||
        !CU_add_test(s, "decode: numeric types x orders", test_vectors) ||
        !CU_add_test(s, "decode: bool x orders", test_vectors_bool_every_order) ||
        !CU_add_test(s, "decode: float32 vs libmodbus", test_float32_vs_libmodbus) ||
        !CU_add_test(s, "decode: bits 0..15", test_bits) ||
        !CU_add_test(s, "decode: sign extension", test_sign_extension) ||
        !CU_add_test(s, "decode: scale and offset", test_scale_offset) ||
        !CU_add_test(s, "decode: unscaled stays exact", test_unscaled_exact) ||
        !CU_add_test(s, "decode: NaN and Inf", test_nan_inf) ||
        !CU_add_test(s, "decode: bad points", test_bad_points) ||
        !CU_add_test(s, "decode: bit tables", test_decode_bit) ||
        modbus_point_add_string_tests(s) != 0 || modbus_point_add_plan_tests(s) != 0)
        return -1;
    return 0;
}

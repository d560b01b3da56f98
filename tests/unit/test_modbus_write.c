/*
 * Tests of writing Modbus points: encoding a value into registers or a coil
 * (adapters/modbus_point_encode.c), checked against hand-written register
 * vectors and against the decoder, whose inverse it must be. The codec's
 * write requests and responses are tested with the codec, in
 * test_modbus_codec_write.c. Strings and bools are in
 * test_modbus_write_text.c, which joins this suite.
 *
 * "Reads back" means what the adapter publishes: the decoded value, a scaled
 * double rounded to 15 significant digits and an unscaled float32 at its
 * shortest decimal form, as tidy_double() in modbus_tcp.c does.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/modbus_point.h"
#include "modbus_write_test.h"
#include "suites.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

mb_point_t mbw_holding(mb_type_t type, mb_order_t order, double scale, double offset)
{
    return (mb_point_t){MB_TABLE_HOLDING, 100, type, order, -1, 0, scale, offset};
}

static mb_input_t num(double d)
{
    return (mb_input_t){.kind = MB_IN_NUMBER, .d = d};
}

/* An integer literal, exact; d as a JSON parser would give it alongside. */
static mb_input_t lit(bool neg, uint64_t mag)
{
    return (mb_input_t){.kind = MB_IN_NUMBER,
                        .d = neg ? -(double)mag : (double)mag,
                        .is_int = true,
                        .neg = neg,
                        .mag = mag};
}

mb_input_t mbw_lit_i(int64_t v)
{
    return v < 0 ? lit(true, (uint64_t)0 - (uint64_t)v) : lit(false, (uint64_t)v);
}

mb_input_t mbw_boolean(bool b)
{
    return (mb_input_t){.kind = MB_IN_BOOL, .b = b};
}

mb_input_t mbw_str(const char *s)
{
    return (mb_input_t){.kind = MB_IN_STRING, .s = s, .s_len = strlen(s)};
}

/* The input a subscriber would send back after reading v. */
static mb_input_t input_of(const mb_point_t *p, const mb_value_t *v)
{
    switch (v->kind) {
    case MB_VAL_INT:
        return mbw_lit_i(v->i);
    case MB_VAL_UINT:
        return lit(false, v->u);
    case MB_VAL_DOUBLE:
        return num(mb_published_double(p, v->d));
    case MB_VAL_BOOL:
        return mbw_boolean(v->b);
    default:
        return mbw_str(v->s);
    }
}

/* Encodes in into p, expecting success; returns whether it did. */
bool mbw_encode_ok(const mb_point_t *p, const mb_input_t *in, uint16_t *regs)
{
    const char *why = "unset";
    int rc = mb_encode_registers(p, in, regs, &why);

    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NULL(why);
    if (rc != 0)
        fprintf(stderr, "\n  type %d order %d scale %g offset %g d %.17g: %s\n", (int)p->type,
                (int)p->order, p->scale, p->offset, in->d, why);
    return rc == 0;
}

/* Expects a refusal with this code and message, and regs left alone. */
void mbw_refused(const mb_point_t *p, const mb_input_t *in, int rc, const char *msg)
{
    uint16_t regs[8] = {MBW_POISON, MBW_POISON, MBW_POISON, MBW_POISON,
                        MBW_POISON, MBW_POISON, MBW_POISON, MBW_POISON};
    const char *why = NULL;
    int got = mb_encode_registers(p, in, regs, &why);

    CU_ASSERT_EQUAL(got, rc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    CU_ASSERT_STRING_EQUAL(why, msg);
    if (got != rc || strcmp(why, msg) != 0)
        fprintf(stderr, "\n  type %d scale %g d %.17g: %d '%s', want %d '%s'\n", (int)p->type,
                p->scale, in->d, got, why, rc, msg);
    for (size_t i = 0; i < ARRAY_LEN(regs); i++)
        CU_ASSERT_EQUAL(regs[i], MBW_POISON);
    CU_ASSERT_EQUAL(mb_encode_registers(p, in, regs, NULL), rc); /* why may be NULL */
}

/* ---- exact vectors: the decoder's, run backwards ---- */

typedef struct {
    mb_type_t type;
    mb_order_t order;
    mb_input_t in;
    uint16_t regs[4];
} wvec_t;

/* clang-format off */
#define WI(t, o, v, ...) {MB_TYPE_##t, MB_ORDER_##o, {.kind = MB_IN_NUMBER, .d = (double)(v), \
    .is_int = true, .neg = (v) < 0, .mag = (v) < 0 ? 0 - (uint64_t)(v) : (uint64_t)(v)}, {__VA_ARGS__}}
#define WD(t, o, v, ...) {MB_TYPE_##t, MB_ORDER_##o, {.kind = MB_IN_NUMBER, .d = (v)}, {__VA_ARGS__}}
/* clang-format on */

static const wvec_t wvectors[] = {
    WI(INT16, ABCD, -12345LL, 0xCFC7),
    WI(INT16, CDAB, -12345LL, 0xCFC7),
    WI(INT16, BADC, -12345LL, 0xC7CF),
    WI(INT16, DCBA, -12345LL, 0xC7CF),
    WI(UINT16, ABCD, 48879LL, 0xBEEF),
    WI(UINT16, BADC, 48879LL, 0xEFBE),
    WI(INT32, ABCD, -123456789LL, 0xF8A4, 0x32EB),
    WI(INT32, CDAB, -123456789LL, 0x32EB, 0xF8A4),
    WI(INT32, BADC, -123456789LL, 0xA4F8, 0xEB32),
    WI(INT32, DCBA, -123456789LL, 0xEB32, 0xA4F8),
    WI(UINT32, ABCD, 3735928559LL, 0xDEAD, 0xBEEF),
    WI(UINT32, CDAB, 3735928559LL, 0xBEEF, 0xDEAD),
    WI(UINT32, BADC, 3735928559LL, 0xADDE, 0xEFBE),
    WI(UINT32, DCBA, 3735928559LL, 0xEFBE, 0xADDE),
    WI(INT64, ABCD, -1234567890123456789LL, 0xEEDD, 0xEF0B, 0x8216, 0x7EEB),
    WI(INT64, CDAB, -1234567890123456789LL, 0x7EEB, 0x8216, 0xEF0B, 0xEEDD),
    WI(INT64, BADC, -1234567890123456789LL, 0xDDEE, 0x0BEF, 0x1682, 0xEB7E),
    WI(INT64, DCBA, -1234567890123456789LL, 0xEB7E, 0x1682, 0x0BEF, 0xDDEE),
    WI(UINT64, ABCD, 0x0102030405060708LL, 0x0102, 0x0304, 0x0506, 0x0708),
    WI(UINT64, CDAB, 0x0102030405060708LL, 0x0708, 0x0506, 0x0304, 0x0102),
    WI(UINT64, BADC, 0x0102030405060708LL, 0x0201, 0x0403, 0x0605, 0x0807),
    WI(UINT64, DCBA, 0x0102030405060708LL, 0x0807, 0x0605, 0x0403, 0x0201),
    /* 123.456 is not a float: the nearest one is 0x42F6E979. */
    WD(FLOAT32, ABCD, 123.456, 0x42F6, 0xE979),
    WD(FLOAT32, CDAB, 123.456, 0xE979, 0x42F6),
    WD(FLOAT32, BADC, 123.456, 0xF642, 0x79E9),
    WD(FLOAT32, DCBA, 123.456, 0x79E9, 0xF642),
    WD(FLOAT64, ABCD, -9876.54321, 0xC0C3, 0x4A45, 0x87E7, 0xC06E),
    WD(FLOAT64, CDAB, -9876.54321, 0xC06E, 0x87E7, 0x4A45, 0xC0C3),
    WD(FLOAT64, BADC, -9876.54321, 0xC3C0, 0x454A, 0xE787, 0x6EC0),
    WD(FLOAT64, DCBA, -9876.54321, 0x6EC0, 0xE787, 0x454A, 0xC3C0),
};

static void test_vectors(void)
{
    for (size_t i = 0; i < ARRAY_LEN(wvectors); i++) {
        const wvec_t *v = &wvectors[i];
        mb_point_t p = mbw_holding(v->type, v->order, 1.0, 0.0);
        uint16_t regs[5] = {MBW_POISON, MBW_POISON, MBW_POISON, MBW_POISON, MBW_POISON};
        unsigned w = mb_point_width(&p);

        if (!mbw_encode_ok(&p, &v->in, regs))
            continue;
        CU_ASSERT_EQUAL(memcmp(regs, v->regs, w * sizeof(uint16_t)), 0);
        if (memcmp(regs, v->regs, w * sizeof(uint16_t)) != 0)
            fprintf(stderr, "\n  vector %zu: %04x %04x %04x %04x\n", i, regs[0], regs[1], regs[2],
                    regs[3]);
        CU_ASSERT_EQUAL(regs[w], MBW_POISON); /* exactly the point's width */
    }
}

/* ---- round trips: every type x order x scaling, edges included ---- */

static const struct {
    double scale, offset;
} scalings[] = {{1.0, 0.0}, {0.1, 0.0}, {0.01, -40.0}};

/* Raw values, as the bit patterns a device holds (low bits used). */
static const uint64_t raw_int16[] = {0x8000, 0xFFFF, 0, 1, 215, 6150, 0x7FFF};
static const uint64_t raw_uint16[] = {0, 1, 215, 6150, 0x8000, 0xFFFF};
static const uint64_t raw_int32[] = {0x80000000, 0xFFFFFFFF, 0, 1, 123456789, 0x7FFFFFFF};
static const uint64_t raw_uint32[] = {0, 1, 123456789, 0xFFFFFFFF};
static const uint64_t raw_int64[] = {0x8000000000000000u, UINT64_MAX,        0, 1,
                                     (1ull << 53) + 1,    0x7FFFFFFFFFFFFFFF};
static const uint64_t raw_uint64[] = {0, 1, (1ull << 53) + 1, 0x8000000000000000u, UINT64_MAX};

static uint64_t float32_bits(float f)
{
    uint32_t b;

    memcpy(&b, &f, sizeof(b));
    return b;
}

static uint64_t float64_bits(double d)
{
    uint64_t b;

    memcpy(&b, &d, sizeof(b));
    return b;
}

/* Registers of a raw pattern, written out by the test's own rule: words most
 * significant first, then the order's swaps. */
static void registers_of(uint64_t raw, unsigned n, mb_order_t o, uint16_t *regs)
{
    for (unsigned i = 0; i < n; i++) {
        uint16_t r = (uint16_t)(raw >> (16 * (n - 1 - i)));

        if (o == MB_ORDER_BADC || o == MB_ORDER_DCBA)
            r = (uint16_t)(r << 8 | r >> 8);
        regs[o == MB_ORDER_CDAB || o == MB_ORDER_DCBA ? n - 1 - i : i] = r;
    }
}

static bool same_value(const mb_point_t *p, const mb_value_t *a, const mb_value_t *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case MB_VAL_INT:
        return a->i == b->i;
    case MB_VAL_UINT:
        return a->u == b->u;
    case MB_VAL_DOUBLE:
        return mb_published_double(p, a->d) == mb_published_double(p, b->d);
    default:
        return false;
    }
}

/*
 * Decodes raw, writes back what was published, decodes that: the same value
 * must be published. The registers must be the device's own too, except where
 * the published digits cannot tell: a scaled 64-bit integer with more than 15
 * digits, and scaled floats (0.1 + 0.1 * 2^-23 is 0.1 to 15 digits, and an
 * offset of -40 swallows 1e-300 whole).
 */
static void round_trip(const mb_point_t *p, uint64_t raw)
{
    uint16_t regs[4], back[4];
    unsigned w = mb_point_width(p);
    bool scaled = p->scale != 1.0 || p->offset != 0.0;
    bool is_float = p->type == MB_TYPE_FLOAT32 || p->type == MB_TYPE_FLOAT64;
    mb_value_t v, again;
    mb_input_t in;

    registers_of(raw, w, p->order, regs);
    CU_ASSERT_EQUAL_FATAL(mb_decode_registers(p, regs, &v), 0);
    in = input_of(p, &v);
    if (!mbw_encode_ok(p, &in, back))
        return;
    CU_ASSERT_EQUAL_FATAL(mb_decode_registers(p, back, &again), 0);
    CU_ASSERT(same_value(p, &v, &again));
    if (!scaled || (!is_float && (w < 4 || raw < (1ull << 40)))) {
        CU_ASSERT_EQUAL(memcmp(regs, back, w * sizeof(uint16_t)), 0);
        if (memcmp(regs, back, w * sizeof(uint16_t)) != 0)
            fprintf(stderr, "\n  type %d order %d scale %g raw %llx: %04x %04x -> %04x %04x\n",
                    (int)p->type, (int)p->order, p->scale, (unsigned long long)raw, regs[0],
                    regs[1], back[0], back[1]);
    }
}

static void round_trip_all(mb_type_t type, const uint64_t *raws, size_t n)
{
    for (size_t s = 0; s < ARRAY_LEN(scalings); s++)
        for (int o = MB_ORDER_ABCD; o <= MB_ORDER_DCBA; o++) {
            mb_point_t p = mbw_holding(type, (mb_order_t)o, scalings[s].scale, scalings[s].offset);

            for (size_t i = 0; i < n; i++)
                round_trip(&p, raws[i]);
        }
}

static void test_round_trip_integers(void)
{
    round_trip_all(MB_TYPE_INT16, raw_int16, ARRAY_LEN(raw_int16));
    round_trip_all(MB_TYPE_UINT16, raw_uint16, ARRAY_LEN(raw_uint16));
    round_trip_all(MB_TYPE_INT32, raw_int32, ARRAY_LEN(raw_int32));
    round_trip_all(MB_TYPE_UINT32, raw_uint32, ARRAY_LEN(raw_uint32));
    round_trip_all(MB_TYPE_INT64, raw_int64, ARRAY_LEN(raw_int64));
    round_trip_all(MB_TYPE_UINT64, raw_uint64, ARRAY_LEN(raw_uint64));
}

static void test_round_trip_floats(void)
{
    const uint64_t f32[] = {float32_bits(123.456f), float32_bits(-1.5f),  float32_bits(0.0f),
                            float32_bits(-0.0f),    float32_bits(21.5f),  float32_bits(FLT_MAX),
                            float32_bits(-FLT_MAX), float32_bits(FLT_MIN)};
    const uint64_t f64[] = {float64_bits(-9876.54321), float64_bits(0.1), float64_bits(0.0),
                            float64_bits(1e300), float64_bits(-1e-300)};
    /* Past these, unscaled only: DBL_MAX and the smallest floats do not
     * survive scaling by 0.1 and rounding to 15 digits (the raw value the
     * published digits name lies beyond DBL_MAX, or is a different denormal). */
    const uint64_t f32_unscaled[] = {float32_bits(1e-45f), float32_bits(3e-42f)};
    const uint64_t f64_unscaled[] = {float64_bits(DBL_MAX), float64_bits(-DBL_MAX),
                                     float64_bits(4.9e-324)};

    round_trip_all(MB_TYPE_FLOAT32, f32, ARRAY_LEN(f32));
    round_trip_all(MB_TYPE_FLOAT64, f64, ARRAY_LEN(f64));
    for (int o = MB_ORDER_ABCD; o <= MB_ORDER_DCBA; o++) {
        mb_point_t p32 = mbw_holding(MB_TYPE_FLOAT32, (mb_order_t)o, 1.0, 0.0);
        mb_point_t p64 = mbw_holding(MB_TYPE_FLOAT64, (mb_order_t)o, 1.0, 0.0);

        for (size_t i = 0; i < ARRAY_LEN(f32_unscaled); i++)
            round_trip(&p32, f32_unscaled[i]);
        for (size_t i = 0; i < ARRAY_LEN(f64_unscaled); i++)
            round_trip(&p64, f64_unscaled[i]);
    }
}

/* The integer edges given as literals: exact, in every order. */
static void test_integer_edges(void)
{
    static const struct {
        mb_type_t type;
        bool neg;
        uint64_t mag;
    } edges[] = {
        {MB_TYPE_INT16, true, 32768},
        {MB_TYPE_INT16, false, 32767},
        {MB_TYPE_UINT16, false, 65535},
        {MB_TYPE_INT32, true, 2147483648u},
        {MB_TYPE_INT32, false, 2147483647},
        {MB_TYPE_UINT32, false, 4294967295u},
        {MB_TYPE_INT64, true, 0x8000000000000000u},
        {MB_TYPE_INT64, false, 0x7FFFFFFFFFFFFFFFu},
        {MB_TYPE_UINT64, false, UINT64_MAX},
        {MB_TYPE_UINT64, false, (1ull << 53) + 1},
        {MB_TYPE_INT16, true, 0}, /* -0 */
    };

    for (size_t i = 0; i < ARRAY_LEN(edges); i++)
        for (int o = MB_ORDER_ABCD; o <= MB_ORDER_DCBA; o++) {
            mb_point_t p = mbw_holding(edges[i].type, (mb_order_t)o, 1.0, 0.0);
            mb_input_t in = lit(edges[i].neg, edges[i].mag);
            uint16_t regs[4];
            mb_value_t v;

            if (!mbw_encode_ok(&p, &in, regs))
                continue;
            CU_ASSERT_EQUAL_FATAL(mb_decode_registers(&p, regs, &v), 0);
            if (v.kind == MB_VAL_UINT) {
                CU_ASSERT(!edges[i].neg && v.u == edges[i].mag);
            } else {
                uint64_t mag = edges[i].neg ? 0 - (uint64_t)v.i : (uint64_t)v.i;

                CU_ASSERT(v.kind == MB_VAL_INT && mag == edges[i].mag);
            }
        }
}

/* Whole doubles (21.0, 1e3) are integers too; below 2^53 they are exact. */
static void test_whole_doubles(void)
{
    mb_point_t p16 = mbw_holding(MB_TYPE_INT16, MB_ORDER_ABCD, 1.0, 0.0);
    mb_point_t p64 = mbw_holding(MB_TYPE_UINT64, MB_ORDER_ABCD, 1.0, 0.0);
    mb_input_t in = num(-21.0);
    uint16_t regs[4];

    CU_ASSERT(mbw_encode_ok(&p16, &in, regs) && regs[0] == 0xFFEB);
    in = num(1e3);
    CU_ASSERT(mbw_encode_ok(&p16, &in, regs) && regs[0] == 1000);
    in = num(-0.0);
    CU_ASSERT(mbw_encode_ok(&p16, &in, regs) && regs[0] == 0);
    in = num(9007199254740991.0); /* 2^53 - 1 */
    CU_ASSERT(mbw_encode_ok(&p64, &in, regs) && regs[0] == 0x001F && regs[1] == 0xFFFF &&
              regs[2] == 0xFFFF && regs[3] == 0xFFFF);
}

/* Scaled points: the raw value that reads back as the value asked for. */
static void test_scaled(void)
{
    mb_point_t tenth = mbw_holding(MB_TYPE_INT16, MB_ORDER_ABCD, 0.1, 0.0);
    mb_point_t temp = mbw_holding(MB_TYPE_INT16, MB_ORDER_ABCD, 0.01, -40.0);
    mb_point_t utemp = mbw_holding(MB_TYPE_UINT16, MB_ORDER_BADC, 0.01, -40.0);
    mb_point_t f32 = mbw_holding(MB_TYPE_FLOAT32, MB_ORDER_ABCD, 0.1, 0.0);
    mb_input_t in = num(21.5);
    uint16_t regs[2];

    CU_ASSERT(mbw_encode_ok(&tenth, &in, regs) && regs[0] == 215);
    CU_ASSERT(mbw_encode_ok(&temp, &in, regs) && regs[0] == 6150);
    CU_ASSERT(mbw_encode_ok(&utemp, &in, regs) && regs[0] == 0x0618); /* 6150 byte-swapped */
    in = mbw_lit_i(21);
    CU_ASSERT(mbw_encode_ok(&tenth, &in, regs) && regs[0] == 210);
    in = num(-3276.8);
    CU_ASSERT(mbw_encode_ok(&tenth, &in, regs) && regs[0] == 0x8000);
    in = num(3276.7);
    CU_ASSERT(mbw_encode_ok(&tenth, &in, regs) && regs[0] == 0x7FFF);
    in = num(101.3); /* 1013 * 0.1 is 101.30000000000001 before rounding */
    CU_ASSERT(mbw_encode_ok(&tenth, &in, regs) && regs[0] == 1013);
    in = num(-367.68); /* -32768 * 0.01 - 40 */
    CU_ASSERT(mbw_encode_ok(&temp, &in, regs) && regs[0] == 0x8000);
    in = num(21.5);
    CU_ASSERT(mbw_encode_ok(&f32, &in, regs) && regs[0] == 0x4357 &&
              regs[1] == 0x0000); /* 215.0f */

    /* Between two raw values; beyond the range (not clamped to its edge). */
    in = num(21.55);
    mbw_refused(&tenth, &in, -ERANGE, "between two steps of the scale");
    in = num(21.505);
    mbw_refused(&temp, &in, -ERANGE, "between two steps of the scale");
    in = num(3276.8);
    mbw_refused(&tenth, &in, -ERANGE, "out of range for int16");
    in = num(-3276.9);
    mbw_refused(&tenth, &in, -ERANGE, "out of range for int16");
    in = num(-40.01);
    mbw_refused(&utemp, &in, -ERANGE, "out of range for uint16");
    in = num(1e308);
    mbw_refused(&tenth, &in, -ERANGE, "out of range for int16");
}

/* ---- refusals ---- */

static void test_integer_refusals(void)
{
    static const struct {
        mb_type_t type;
        mb_input_t in;
        const char *why;
    } cases[] = {
        {MB_TYPE_INT16,
         {MB_IN_NUMBER, false, 32768, true, false, 32768, NULL, 0},
         "out of range for int16"},
        {MB_TYPE_INT16,
         {MB_IN_NUMBER, false, -32769, true, true, 32769, NULL, 0},
         "out of range for int16"},
        {MB_TYPE_INT16,
         {MB_IN_NUMBER, false, 32768.0, false, false, 0, NULL, 0},
         "out of range for int16"},
        {MB_TYPE_UINT16,
         {MB_IN_NUMBER, false, -1, true, true, 1, NULL, 0},
         "out of range for uint16"},
        {MB_TYPE_UINT16,
         {MB_IN_NUMBER, false, 65536, true, false, 65536, NULL, 0},
         "out of range for uint16"},
        {MB_TYPE_UINT16,
         {MB_IN_NUMBER, false, -1.0, false, false, 0, NULL, 0},
         "out of range for uint16"},
        {MB_TYPE_INT32,
         {MB_IN_NUMBER, false, 2147483648.0, true, false, 2147483648u, NULL, 0},
         "out of range for int32"},
        {MB_TYPE_INT32,
         {MB_IN_NUMBER, false, -2147483649.0, true, true, 2147483649u, NULL, 0},
         "out of range for int32"},
        {MB_TYPE_UINT32,
         {MB_IN_NUMBER, false, 4294967296.0, true, false, 4294967296u, NULL, 0},
         "out of range for uint32"},
        {MB_TYPE_INT64,
         {MB_IN_NUMBER, false, 0x1p63, true, false, 1ull << 63, NULL, 0},
         "out of range for int64"},
        {MB_TYPE_INT64,
         {MB_IN_NUMBER, false, -0x1p63, true, true, (1ull << 63) + 1, NULL, 0},
         "out of range for int64"},
        {MB_TYPE_UINT64,
         {MB_IN_NUMBER, false, -1.0, true, true, 1, NULL, 0},
         "out of range for uint64"},
        {MB_TYPE_UINT64,
         {MB_IN_NUMBER, false, 1e20, false, false, 0, NULL, 0},
         "out of range for uint64"},
        {MB_TYPE_INT64,
         {MB_IN_NUMBER, false, -1e19, false, false, 0, NULL, 0},
         "out of range for int64"},
        {MB_TYPE_INT16, {MB_IN_NUMBER, false, 1.5, false, false, 0, NULL, 0}, "not a whole number"},
        {MB_TYPE_UINT64,
         {MB_IN_NUMBER, false, 0.5, false, false, 0, NULL, 0},
         "not a whole number"},
        {MB_TYPE_INT32,
         {MB_IN_NUMBER, false, -1e-300, false, false, 0, NULL, 0},
         "not a whole number"},
        /* 2^53 + 1 as a double is 2^53: which integer was meant is lost. */
        {MB_TYPE_UINT64,
         {MB_IN_NUMBER, false, 9007199254740993.0, false, false, 0, NULL, 0},
         "not exact above 2^53: give an integer"},
        {MB_TYPE_INT64,
         {MB_IN_NUMBER, false, -0x1p60, false, false, 0, NULL, 0},
         "not exact above 2^53: give an integer"},
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        mb_point_t p = mbw_holding(cases[i].type, MB_ORDER_CDAB, 1.0, 0.0);

        mbw_refused(&p, &cases[i].in, -ERANGE, cases[i].why);
    }
}

static void test_float_refusals(void)
{
    mb_point_t f32 = mbw_holding(MB_TYPE_FLOAT32, MB_ORDER_ABCD, 1.0, 0.0);
    mb_point_t f64 = mbw_holding(MB_TYPE_FLOAT64, MB_ORDER_ABCD, 1.0, 0.0);
    mb_point_t f64s = mbw_holding(MB_TYPE_FLOAT64, MB_ORDER_ABCD, 0.1, 0.0);
    mb_point_t i16 = mbw_holding(MB_TYPE_INT16, MB_ORDER_ABCD, 1.0, 0.0);
    mb_point_t i16s = mbw_holding(MB_TYPE_INT16, MB_ORDER_ABCD, 0.1, 0.0);
    const mb_point_t *all[] = {&f32, &f64, &f64s, &i16, &i16s};
    mb_input_t in;
    uint16_t regs[4];

    for (size_t i = 0; i < ARRAY_LEN(all); i++) {
        in = num(NAN);
        mbw_refused(all[i], &in, -ERANGE, "not a finite number");
        in = num(INFINITY);
        mbw_refused(all[i], &in, -ERANGE, "not a finite number");
        in = num(-INFINITY);
        mbw_refused(all[i], &in, -ERANGE, "not a finite number");
    }
    in = num(1e39);
    mbw_refused(&f32, &in, -ERANGE, "out of range for float32");
    in = num(-3.4028236e38); /* past the halfway point to 2^128: rounds to infinity */
    mbw_refused(&f32, &in, -ERANGE, "out of range for float32");
    in = num(3.4028235e38); /* rounds down to FLT_MAX */
    CU_ASSERT(mbw_encode_ok(&f32, &in, regs) && regs[0] == 0x7F7F && regs[1] == 0xFFFF);
    in = num(1e-50); /* the nearest float is 0 */
    CU_ASSERT(mbw_encode_ok(&f32, &in, regs) && regs[0] == 0 && regs[1] == 0);
    in = num(DBL_MAX); /* DBL_MAX / 0.1 overflows */
    mbw_refused(&f64s, &in, -ERANGE, "out of range for float64");
    in = lit(false, UINT64_MAX); /* the nearest double, 2^64 */
    CU_ASSERT(mbw_encode_ok(&f64, &in, regs) && regs[0] == 0x43F0 && regs[1] == 0 && regs[2] == 0 &&
              regs[3] == 0);
}

static void test_kind_refusals(void)
{
    mb_point_t i16 = mbw_holding(MB_TYPE_INT16, MB_ORDER_ABCD, 1.0, 0.0);
    mb_point_t f32 = mbw_holding(MB_TYPE_FLOAT32, MB_ORDER_ABCD, 0.1, 0.0);
    mb_point_t s = mbw_holding(MB_TYPE_STRING, MB_ORDER_ABCD, 1.0, 0.0);
    mb_point_t b = mbw_holding(MB_TYPE_BOOL, MB_ORDER_ABCD, 1.0, 0.0);
    mb_input_t t = mbw_boolean(true), text = mbw_str("21.5"), one = mbw_lit_i(1);

    s.length = 4;
    mbw_refused(&i16, &t, -EINVAL, "expected a number");
    mbw_refused(&i16, &text, -EINVAL, "expected a number");
    mbw_refused(&f32, &t, -EINVAL, "expected a number");
    mbw_refused(&s, &one, -EINVAL, "expected a string");
    mbw_refused(&s, &t, -EINVAL, "expected a string");
    mbw_refused(&b, &one, -EINVAL, "expected true or false");
    mbw_refused(&b, &text, -EINVAL, "expected true or false");
}

/* Points the register encoder does not take, and points it cannot. */
static void test_point_refusals(void)
{
    mb_point_t p = mbw_holding(MB_TYPE_UINT16, MB_ORDER_ABCD, 1.0, 0.0);
    mb_input_t one = mbw_lit_i(1), t = mbw_boolean(true);

    p.table = MB_TABLE_INPUT;
    mbw_refused(&p, &one, -EINVAL, "not writable");
    p.table = MB_TABLE_DISCRETE;
    mbw_refused(&p, &t, -EINVAL, "not writable");
    p.table = MB_TABLE_COIL;
    mbw_refused(&p, &t, -EINVAL, "not a register point");
    p = mbw_holding(MB_TYPE_UINT16, (mb_order_t)4, 1.0, 0.0);
    mbw_refused(&p, &one, -EINVAL, "invalid point");
    p = mbw_holding((mb_type_t)(MB_TYPE_STRING + 1), MB_ORDER_ABCD, 1.0, 0.0);
    mbw_refused(&p, &one, -EINVAL, "invalid point");
    p = mbw_holding(MB_TYPE_BOOL, MB_ORDER_ABCD, 1.0, 0.0);
    p.bit = 16;
    mbw_refused(&p, &t, -EINVAL, "invalid point");
    p.bit = 3;
    mbw_refused(&p, &t, -EINVAL, "a register bit needs the register's value");
    p = mbw_holding(MB_TYPE_STRING, MB_ORDER_ABCD, 1.0, 0.0);
    mbw_refused(&p, &t, -EINVAL, "invalid point"); /* length 0 */
    p.length = 126;
    mbw_refused(&p, &t, -EINVAL, "invalid point");
}

int modbus_write_suite(void)
{
    static const sb_test_t tests[] = {
        {"encode: vectors, every type x order", test_vectors},
        {"encode: integers round trip, edges x orders x scalings", test_round_trip_integers},
        {"encode: floats round trip, edges x orders x scalings", test_round_trip_floats},
        {"encode: integer edges as literals", test_integer_edges},
        {"encode: whole doubles", test_whole_doubles},
        {"encode: scale and offset", test_scaled},
        {"refuse: integers", test_integer_refusals},
        {"refuse: floats and non-finite numbers", test_float_refusals},
        {"refuse: wrong kind of value", test_kind_refusals},
        {"refuse: points that cannot be written", test_point_refusals},
    };
    CU_pSuite s = CU_add_suite("modbus_write", NULL, NULL);

    if (!s || SB_ADD_TESTS(s, tests) != 0 || modbus_write_add_text_bool_tests(s) != 0)
        return -1;
    return 0;
}

/*
 * Encoding a value into a point for a write: the inverse of
 * mb_decode_registers() and mb_decode_bit() in modbus_point.c.
 *
 * Numbers end as the bit pattern decoding starts from, a 16-, 32- or 64-bit
 * big-endian value, which disassemble() cuts into registers by applying the
 * word and byte swaps that assemble() undoes (modbus_point_int.h holds the
 * rules both read).
 *
 * A scaled integer point is checked by decoding, with the decoder itself: the
 * nearest raw integer is accepted only if it reads back as the value asked
 * for, both rounded to the 15 significant digits the adapter publishes
 * (mb_published_double()). So a value the point publishes as 21.5
 * writes the registers that read back as 21.5, and 21.55 on a 0.1 scale is
 * refused rather than written as 21.5 or 21.6. Unscaled integers are exact:
 * the value must be that integer, and above 2^53 only an integer literal says
 * which one.
 *
 * No libm (gateway/fmath.h says why): rounding is gw_round().
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/modbus_point.h"
#include "adapters/modbus_point_int.h"
#include "gateway/fmath.h"
#include "gateway/utf8.h"

#define TWO_POW_53 9007199254740992.0
#define TWO_POW_64 18446744073709551616.0
/* Doubles from here on round to infinity as a float (halfway past FLT_MAX). */
#define FLOAT32_LIMIT 0x1.ffffffp127

/* The integer types, indexed by mb_type_t - MB_TYPE_INT16. */
typedef struct {
    unsigned regs;
    bool is_signed;
    uint64_t max; /* the largest value; a signed type's smallest is -max - 1 */
    const char *range;
} int_type_t;

static const int_type_t int_types[] = {
    {1, true, INT16_MAX, "out of range for int16"},
    {1, false, UINT16_MAX, "out of range for uint16"},
    {2, true, INT32_MAX, "out of range for int32"},
    {2, false, UINT32_MAX, "out of range for uint32"},
    {4, true, INT64_MAX, "out of range for int64"},
    {4, false, UINT64_MAX, "out of range for uint64"},
};

/* The refusal of a string too long, one per point length (in registers):
 * *why must be static, so the numbers are written out rather than printed. */
#define TOO_LONG(n) "string longer than " #n " bytes"
static const char *const too_long[MB_STRING_MAX_REGS] = {
    TOO_LONG(2),   TOO_LONG(4),   TOO_LONG(6),   TOO_LONG(8),   TOO_LONG(10),  TOO_LONG(12),
    TOO_LONG(14),  TOO_LONG(16),  TOO_LONG(18),  TOO_LONG(20),  TOO_LONG(22),  TOO_LONG(24),
    TOO_LONG(26),  TOO_LONG(28),  TOO_LONG(30),  TOO_LONG(32),  TOO_LONG(34),  TOO_LONG(36),
    TOO_LONG(38),  TOO_LONG(40),  TOO_LONG(42),  TOO_LONG(44),  TOO_LONG(46),  TOO_LONG(48),
    TOO_LONG(50),  TOO_LONG(52),  TOO_LONG(54),  TOO_LONG(56),  TOO_LONG(58),  TOO_LONG(60),
    TOO_LONG(62),  TOO_LONG(64),  TOO_LONG(66),  TOO_LONG(68),  TOO_LONG(70),  TOO_LONG(72),
    TOO_LONG(74),  TOO_LONG(76),  TOO_LONG(78),  TOO_LONG(80),  TOO_LONG(82),  TOO_LONG(84),
    TOO_LONG(86),  TOO_LONG(88),  TOO_LONG(90),  TOO_LONG(92),  TOO_LONG(94),  TOO_LONG(96),
    TOO_LONG(98),  TOO_LONG(100), TOO_LONG(102), TOO_LONG(104), TOO_LONG(106), TOO_LONG(108),
    TOO_LONG(110), TOO_LONG(112), TOO_LONG(114), TOO_LONG(116), TOO_LONG(118), TOO_LONG(120),
    TOO_LONG(122), TOO_LONG(124), TOO_LONG(126), TOO_LONG(128), TOO_LONG(130), TOO_LONG(132),
    TOO_LONG(134), TOO_LONG(136), TOO_LONG(138), TOO_LONG(140), TOO_LONG(142), TOO_LONG(144),
    TOO_LONG(146), TOO_LONG(148), TOO_LONG(150), TOO_LONG(152), TOO_LONG(154), TOO_LONG(156),
    TOO_LONG(158), TOO_LONG(160), TOO_LONG(162), TOO_LONG(164), TOO_LONG(166), TOO_LONG(168),
    TOO_LONG(170), TOO_LONG(172), TOO_LONG(174), TOO_LONG(176), TOO_LONG(178), TOO_LONG(180),
    TOO_LONG(182), TOO_LONG(184), TOO_LONG(186), TOO_LONG(188), TOO_LONG(190), TOO_LONG(192),
    TOO_LONG(194), TOO_LONG(196), TOO_LONG(198), TOO_LONG(200), TOO_LONG(202), TOO_LONG(204),
    TOO_LONG(206), TOO_LONG(208), TOO_LONG(210), TOO_LONG(212), TOO_LONG(214), TOO_LONG(216),
    TOO_LONG(218), TOO_LONG(220), TOO_LONG(222), TOO_LONG(224), TOO_LONG(226), TOO_LONG(228),
    TOO_LONG(230), TOO_LONG(232), TOO_LONG(234), TOO_LONG(236), TOO_LONG(238), TOO_LONG(240),
    TOO_LONG(242), TOO_LONG(244), TOO_LONG(246), TOO_LONG(248), TOO_LONG(250)};

static int refuse(const char **why, int rc, const char *msg)
{
    if (why)
        *why = msg;
    return rc;
}

static int done(const char **why)
{
    if (why)
        *why = NULL;
    return 0;
}

/* The low 16 * n bits of v as registers: the inverse of assemble(). */
static void disassemble(uint64_t v, unsigned n, mb_order_t order, uint16_t *regs)
{
    for (unsigned i = 0; i < n; i++) {
        uint16_t r = (uint16_t)(v >> (16 * (n - 1 - i))); /* i-th from the most significant */

        regs[mb_word_swapped(order) ? n - 1 - i : i] = mb_byte_swapped(order) ? mb_swap16(r) : r;
    }
}

/* Whether a finite double is an integer, without libm's trunc(). */
static bool whole(double d)
{
    return !(d > -0x1p52 && d < 0x1p52) || (double)(int64_t)d == d;
}

static double input_double(const mb_input_t *in)
{
    if (!in->is_int)
        return in->d;
    return in->neg ? -(double)in->mag : (double)in->mag;
}

/* A value as a scaled reading is published (mb_published_double()). */
static double round15(double d)
{
    char tmp[40];

    snprintf(tmp, sizeof(tmp), "%.15g", d);
    return strtod(tmp, NULL);
}

/* Sign and magnitude to the type's two's-complement pattern, if in range. */
static int int_pattern(const int_type_t *t, bool neg, uint64_t mag, uint64_t *bits,
                       const char **why)
{
    if (mag == 0)
        neg = false; /* -0 is 0 */
    if (neg ? !t->is_signed || mag > t->max + 1 : mag > t->max)
        return refuse(why, -ERANGE, t->range);
    *bits = neg ? (uint64_t)0 - mag : mag; /* modulo 2^64; disassemble() keeps the low bits */
    return 0;
}

/* An unscaled integer point: exactly the integer asked for. */
static int exact_int(const int_type_t *t, const mb_input_t *in, uint64_t *bits, const char **why)
{
    double d = in->d, mag;

    if (in->is_int)
        return int_pattern(t, in->neg, in->mag, bits, why);
    if (!whole(d))
        return refuse(why, -ERANGE, "not a whole number");
    mag = d < 0 ? -d : d;
    if (mag >= TWO_POW_64)
        return refuse(why, -ERANGE, t->range);
    if (int_pattern(t, d < 0, (uint64_t)mag, bits, why) < 0)
        return -ERANGE;
    /* 2^53 + 1 arrives as 2^53: past 2^53 a double does not say which
     * integer was meant, and a counter is not written approximately. */
    if (mag >= TWO_POW_53)
        return refuse(why, -ERANGE, "not exact above 2^53: give an integer");
    return 0;
}

/* The raw integer nearest to r, clamped to the type's range; *clamped says
 * whether it had to be. */
static uint64_t nearest_raw(const int_type_t *t, double r, bool *clamped)
{
    double hi = (double)t->max + 1.0; /* 2^15 ... 2^64, exact */
    double lo = t->is_signed ? -hi : 0.0;

    *clamped = r < lo || r >= hi;
    if (r < lo)
        return t->is_signed ? (uint64_t)0 - t->max - 1 : 0;
    if (r >= hi)
        return t->max;
    if (r < 0)
        return (uint64_t)0 - (uint64_t)(-r);
    return (uint64_t)r;
}

/* A scaled integer point: the nearest raw value, if it reads back as v. */
static int scaled_int(const mb_point_t *p, const int_type_t *t, double v, uint16_t *regs,
                      const char **why)
{
    double raw = (v - p->offset) / p->scale;
    bool clamped;
    mb_value_t back;

    if (!isfinite(raw))
        return refuse(why, -ERANGE, t->range);
    disassemble(nearest_raw(t, gw_round(raw), &clamped), t->regs, p->order, regs);
    if (mb_decode_registers(p, regs, &back) == 0 && back.kind == MB_VAL_DOUBLE &&
        mb_published_double(p, back.d) == round15(v))
        return 0;
    return refuse(why, -ERANGE, clamped ? t->range : "between two steps of the scale");
}

static int encode_float(const mb_point_t *p, double v, uint16_t *regs, const char **why)
{
    double raw = mb_point_scaled(p) ? (v - p->offset) / p->scale : v;

    if (p->type == MB_TYPE_FLOAT32) {
        float f;
        uint32_t bits;

        /* Checked first: converting a double beyond float's range is undefined. */
        if (!(raw > -FLOAT32_LIMIT && raw < FLOAT32_LIMIT))
            return refuse(why, -ERANGE, "out of range for float32");
        f = (float)raw;
        memcpy(&bits, &f, sizeof(bits));
        disassemble(bits, 2, p->order, regs);
    } else {
        uint64_t bits;

        if (!isfinite(raw))
            return refuse(why, -ERANGE, "out of range for float64");
        memcpy(&bits, &raw, sizeof(bits));
        disassemble(bits, 4, p->order, regs);
    }
    return 0;
}

static int encode_number(const mb_point_t *p, const mb_input_t *in, uint16_t *regs,
                         const char **why)
{
    const int_type_t *t;
    uint64_t bits;

    if (in->kind != MB_IN_NUMBER)
        return refuse(why, -EINVAL, "expected a number");
    if (!in->is_int && !isfinite(in->d))
        return refuse(why, -ERANGE, "not a finite number");
    if (p->type == MB_TYPE_FLOAT32 || p->type == MB_TYPE_FLOAT64)
        return encode_float(p, input_double(in), regs, why);
    t = &int_types[p->type - MB_TYPE_INT16];
    if (mb_point_scaled(p))
        return scaled_int(p, t, input_double(in), regs, why);
    if (exact_int(t, in, &bits, why) < 0)
        return -ERANGE;
    disassemble(bits, t->regs, p->order, regs);
    return 0;
}

/* Bytes that read back as themselves: valid UTF-8 without control
 * characters, as decode_string() keeps them. NULs pad the rest; trailing
 * spaces are written but, as on any read, trimmed. */
static int encode_string(const mb_point_t *p, const mb_input_t *in, uint16_t *regs,
                         const char **why)
{
    unsigned char raw[2 * MB_STRING_MAX_REGS] = {0};

    if (in->kind != MB_IN_STRING)
        return refuse(why, -EINVAL, "expected a string");
    if (in->s_len > 2 * (size_t)p->length)
        return refuse(why, -ERANGE, too_long[p->length - 1]);
    for (size_t i = 0; i < in->s_len;) {
        unsigned char c = (unsigned char)in->s[i];
        size_t len = gw_utf8_seq(in->s + i, in->s_len - i);

        if (c < 0x20 || c == 0x7F)
            return refuse(why, -ERANGE, "string has a control character");
        if (len == 0)
            return refuse(why, -ERANGE, "string is not valid UTF-8");
        i += len;
    }
    if (in->s_len)
        memcpy(raw, in->s, in->s_len);
    for (size_t i = 0; i < p->length; i++) {
        uint16_t r = (uint16_t)(raw[2 * i] << 8 | raw[2 * i + 1]);

        regs[i] = mb_byte_swapped(p->order) ? mb_swap16(r) : r;
    }
    return 0;
}

/* The checks every register encoder starts with. */
static int writable_register(const mb_point_t *p, const char **why)
{
    if (p->table == MB_TABLE_INPUT || p->table == MB_TABLE_DISCRETE)
        return refuse(why, -EINVAL, "not writable");
    if (p->table != MB_TABLE_HOLDING)
        return refuse(why, -EINVAL, "not a register point");
    if ((unsigned)p->order > MB_ORDER_DCBA || (unsigned)p->type > MB_TYPE_STRING || p->bit < -1 ||
        p->bit > 15 ||
        (p->type == MB_TYPE_STRING && (p->length == 0 || p->length > MB_STRING_MAX_REGS)))
        return refuse(why, -EINVAL, "invalid point");
    return 0;
}

int mb_encode_registers(const mb_point_t *p, const mb_input_t *in, uint16_t *regs, const char **why)
{
    uint16_t out[MB_STRING_MAX_REGS];
    int rc = writable_register(p, why);

    if (rc < 0)
        return rc;
    switch (p->type) {
    case MB_TYPE_BOOL:
        if (p->bit >= 0)
            return refuse(why, -EINVAL, "a register bit needs the register's value");
        if (in->kind != MB_IN_BOOL)
            return refuse(why, -EINVAL, "expected true or false");
        out[0] = in->b ? 1 : 0;
        break;
    case MB_TYPE_STRING:
        rc = encode_string(p, in, out, why);
        break;
    default:
        rc = encode_number(p, in, out, why);
        break;
    }
    if (rc < 0)
        return rc;
    memcpy(regs, out, mb_point_width(p) * sizeof(*regs));
    return done(why);
}

int mb_encode_bit(const mb_point_t *p, const mb_input_t *in, bool *bit, const char **why)
{
    if (p->table == MB_TABLE_DISCRETE || p->table == MB_TABLE_INPUT)
        return refuse(why, -EINVAL, "not writable");
    if (p->table != MB_TABLE_COIL)
        return refuse(why, -EINVAL, "not a coil");
    if (in->kind != MB_IN_BOOL)
        return refuse(why, -EINVAL, "expected true or false");
    *bit = in->b;
    return done(why);
}

int mb_encode_register_bit(const mb_point_t *p, const mb_input_t *in, uint16_t current,
                           uint16_t *out, const char **why)
{
    int rc = writable_register(p, why);

    if (rc < 0)
        return rc;
    if (p->type != MB_TYPE_BOOL)
        return refuse(why, -EINVAL, "not a bool point");
    if (in->kind != MB_IN_BOOL)
        return refuse(why, -EINVAL, "expected true or false");
    if (p->bit < 0)
        *out = in->b ? 1 : 0;
    else if (in->b)
        *out = (uint16_t)(current | 1u << p->bit);
    else
        *out = (uint16_t)(current & ~(1u << p->bit));
    return done(why);
}

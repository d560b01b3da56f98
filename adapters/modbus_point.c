/*
 * Modbus points: names, widths, decoding and request batching. Encoding for
 * writes, the inverse of decoding, is in modbus_point_encode.c.
 *
 * Decoding works on register values as the codec hands them over: host-order
 * uint16_t, each holding one big-endian wire register. A multi-register value
 * is first put back into its canonical big-endian order (ABCD) by undoing the
 * configured word and byte swaps, then read as one 16-, 32- or 64-bit pattern.
 * Signed conversions are written out rather than cast so that they do not
 * rely on implementation-defined behaviour.
 *
 * The planner sorts the points of each table by address and cuts the sorted
 * run greedily. With an unlimited gap, a batch is feasible exactly when its
 * span fits the limit, and cutting only when the next point would overflow the
 * span gives the fewest batches.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapters/modbus_point.h"
#include "adapters/modbus_point_int.h"
#include "gateway/utf8.h"

#define MB_ADDRESS_SPACE 65536u

_Static_assert(sizeof(((mb_value_t *)0)->s) == 2 * MB_STRING_MAX_REGS + 1, "string buffer");
_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE 754 binary32/64");

/* ---- names ---- */

static const char *const table_names[] = {"coil", "discrete", "holding", "input"};
static const char *const type_names[] = {"bool",  "int16",  "uint16",  "int32",   "uint32",
                                         "int64", "uint64", "float32", "float64", "string"};
/* The 64-bit names follow the 32-bit ones in the same order: index % 4 is the order. */
static const char *const order_names[] = {"ABCD",     "CDAB",     "BADC",     "DCBA",
                                          "ABCDEFGH", "GHEFCDAB", "BADCFEHG", "HGFEDCBA"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int mb_table_parse(const char *s, mb_table_t *out)
{
    for (size_t i = 0; s && i < COUNT(table_names); i++)
        if (strcmp(s, table_names[i]) == 0) {
            *out = (mb_table_t)i;
            return 0;
        }
    return -EINVAL;
}

int mb_type_parse(const char *s, mb_type_t *out)
{
    for (size_t i = 0; s && i < COUNT(type_names); i++)
        if (strcmp(s, type_names[i]) == 0) {
            *out = (mb_type_t)i;
            return 0;
        }
    return -EINVAL;
}

int mb_order_parse(const char *s, mb_order_t *out)
{
    /* Vendors' manuals write these either way; both cases are accepted. */
    for (size_t i = 0; s && i < COUNT(order_names); i++)
        if (strcasecmp(s, order_names[i]) == 0) {
            *out = (mb_order_t)(i % 4);
            return 0;
        }
    return -EINVAL;
}

const char *mb_table_name(mb_table_t t)
{
    return (unsigned)t < COUNT(table_names) ? table_names[t] : "unknown";
}

uint8_t mb_table_fc(mb_table_t t)
{
    switch (t) {
    case MB_TABLE_COIL:
        return 1;
    case MB_TABLE_DISCRETE:
        return 2;
    case MB_TABLE_HOLDING:
        return 3;
    case MB_TABLE_INPUT:
        return 4;
    }
    return 0;
}

bool mb_table_is_bits(mb_table_t t)
{
    return t == MB_TABLE_COIL || t == MB_TABLE_DISCRETE;
}

uint16_t mb_point_width(const mb_point_t *p)
{
    if (mb_table_is_bits(p->table))
        return 1;
    switch (p->type) {
    case MB_TYPE_BOOL:
    case MB_TYPE_INT16:
    case MB_TYPE_UINT16:
        return 1;
    case MB_TYPE_INT32:
    case MB_TYPE_UINT32:
    case MB_TYPE_FLOAT32:
        return 2;
    case MB_TYPE_INT64:
    case MB_TYPE_UINT64:
    case MB_TYPE_FLOAT64:
        return 4;
    case MB_TYPE_STRING:
        return p->length;
    }
    return 0;
}

/* ---- decoding ---- */

/* The n registers as one big-endian bit pattern, swaps undone. */
static uint64_t assemble(const uint16_t *regs, unsigned n, mb_order_t order)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        uint16_t r = mb_word_swapped(order) ? regs[n - 1 - i] : regs[i];

        v = (v << 16) | (mb_byte_swapped(order) ? mb_swap16(r) : r);
    }
    return v;
}

/* Two's complement of the low `bits` bits, without implementation-defined casts. */
static int64_t to_signed(uint64_t v, unsigned bits)
{
    uint64_t sign = (uint64_t)1 << (bits - 1);
    uint64_t mask = sign | (sign - 1);

    if (!(v & sign))
        return (int64_t)(v & mask);
    return -(int64_t)(~v & mask) - 1;
}

static int set_double(mb_value_t *out, double d)
{
    if (!isfinite(d))
        return -ERANGE;
    out->kind = MB_VAL_DOUBLE;
    out->d = d;
    return 0;
}

static int set_int(const mb_point_t *p, int64_t v, mb_value_t *out)
{
    if (mb_point_scaled(p))
        return set_double(out, (double)v * p->scale + p->offset);
    out->kind = MB_VAL_INT;
    out->i = v;
    return 0;
}

static int set_uint(const mb_point_t *p, uint64_t v, mb_value_t *out)
{
    if (mb_point_scaled(p))
        return set_double(out, (double)v * p->scale + p->offset);
    out->kind = MB_VAL_UINT;
    out->u = v;
    return 0;
}

static int set_float(const mb_point_t *p, double raw, mb_value_t *out)
{
    if (!isfinite(raw))
        return -ERANGE;
    return set_double(out, mb_point_scaled(p) ? raw * p->scale + p->offset : raw);
}

static int decode_string(const mb_point_t *p, const uint16_t *regs, mb_value_t *out)
{
    unsigned char raw[2 * MB_STRING_MAX_REGS];
    size_t n = 2 * (size_t)p->length, o = 0;

    if (p->length == 0 || p->length > MB_STRING_MAX_REGS)
        return -EINVAL;
    for (size_t i = 0; i < p->length; i++) {
        uint16_t r = mb_byte_swapped(p->order) ? mb_swap16(regs[i]) : regs[i];

        raw[2 * i] = (unsigned char)(r >> 8);
        raw[2 * i + 1] = (unsigned char)(r & 0xFF);
    }
    while (n > 0 && (raw[n - 1] == '\0' || raw[n - 1] == ' '))
        n--;
    for (size_t i = 0; i < n;) {
        /* Control characters (NUL included) become '?', as invalid UTF-8 does. */
        bool ctl = raw[i] < 0x20 || raw[i] == 0x7F;
        size_t len = ctl ? 0 : gw_utf8_seq((const char *)raw + i, n - i);

        if (len == 0) {
            out->s[o++] = '?';
            i++;
            continue;
        }
        memcpy(out->s + o, raw + i, len);
        o += len;
        i += len;
    }
    out->s[o] = '\0';
    out->kind = MB_VAL_STRING;
    return 0;
}

static int decode_bool(const mb_point_t *p, uint16_t reg, mb_value_t *out)
{
    if (p->bit < -1 || p->bit > 15)
        return -EINVAL;
    out->kind = MB_VAL_BOOL;
    out->b = p->bit < 0 ? reg != 0 : ((reg >> p->bit) & 1) != 0;
    return 0;
}

int mb_decode_registers(const mb_point_t *p, const uint16_t *regs, mb_value_t *out)
{
    uint32_t bits32;
    uint64_t bits64;
    float f;
    double d;

    memset(out, 0, sizeof(*out));
    if ((unsigned)p->order > MB_ORDER_DCBA)
        return -EINVAL;
    switch (p->type) {
    case MB_TYPE_BOOL:
        return decode_bool(p, regs[0], out);
    case MB_TYPE_INT16:
        return set_int(p, to_signed(assemble(regs, 1, p->order), 16), out);
    case MB_TYPE_UINT16:
        return set_uint(p, assemble(regs, 1, p->order), out);
    case MB_TYPE_INT32:
        return set_int(p, to_signed(assemble(regs, 2, p->order), 32), out);
    case MB_TYPE_UINT32:
        return set_uint(p, assemble(regs, 2, p->order), out);
    case MB_TYPE_INT64:
        return set_int(p, to_signed(assemble(regs, 4, p->order), 64), out);
    case MB_TYPE_UINT64:
        return set_uint(p, assemble(regs, 4, p->order), out);
    case MB_TYPE_FLOAT32:
        bits32 = (uint32_t)assemble(regs, 2, p->order);
        memcpy(&f, &bits32, sizeof(f));
        return set_float(p, f, out);
    case MB_TYPE_FLOAT64:
        bits64 = assemble(regs, 4, p->order);
        memcpy(&d, &bits64, sizeof(d));
        return set_float(p, d, out);
    case MB_TYPE_STRING:
        return decode_string(p, regs, out);
    }
    return -EINVAL;
}

void mb_decode_bit(const mb_point_t *p, bool bit, mb_value_t *out)
{
    (void)p;
    memset(out, 0, sizeof(*out));
    out->kind = MB_VAL_BOOL;
    out->b = bit;
}

/* ---- planning ---- */

typedef struct {
    mb_table_t table;
    uint32_t start, end; /* [start, end) in registers or bits */
    size_t idx;          /* into the caller's array */
} span_t;

/* Table, then address, then the caller's index: a stable order. */
static int span_cmp(const void *a, const void *b)
{
    const span_t *x = a, *y = b;

    if (x->table != y->table)
        return x->table < y->table ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int make_spans(const mb_point_t *points, size_t n, uint16_t max_regs, uint16_t max_bits,
                      span_t *sp)
{
    for (size_t i = 0; i < n; i++) {
        const mb_point_t *p = &points[i];
        uint32_t w = mb_point_width(p);
        uint32_t limit = mb_table_is_bits(p->table) ? max_bits : max_regs;

        if ((unsigned)p->table > MB_TABLE_INPUT || w == 0 || w > limit ||
            p->address + w > MB_ADDRESS_SPACE)
            return -EINVAL;
        sp[i] = (span_t){p->table, p->address, p->address + w, i};
    }
    return 0;
}

/* Whether s can join batch b (whose points so far end at b_end). */
static bool joins(const mb_batch_t *b, uint32_t b_end, const span_t *s, uint32_t limit,
                  uint32_t max_gap)
{
    uint32_t end = s->end > b_end ? s->end : b_end;

    /* Sorted input: s->start >= b->address, so the span cannot go negative. */
    return s->table == b->table && end - b->address <= limit && s->start <= b_end + max_gap;
}

int mb_plan(const mb_point_t *points, size_t n, uint16_t max_per_request, uint16_t max_bits,
            uint16_t max_gap, mb_plan_t *out)
{
    span_t *sp = NULL;
    uint32_t b_end = 0;
    int rc;

    *out = (mb_plan_t){0};
    if (n == 0)
        return 0;
    /* calloc: checks n * size for overflow. */
    sp = calloc(n, sizeof(*sp));
    out->batches = calloc(n, sizeof(*out->batches));
    out->points = calloc(n, sizeof(*out->points));
    if (!sp || !out->batches || !out->points) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = make_spans(points, n, max_per_request, max_bits, sp)))
        goto fail;
    qsort(sp, n, sizeof(*sp), span_cmp);
    for (size_t i = 0; i < n; i++) {
        const span_t *s = &sp[i];
        mb_batch_t *b = out->n_batches ? &out->batches[out->n_batches - 1] : NULL;
        uint32_t limit = mb_table_is_bits(s->table) ? max_bits : max_per_request;

        if (!b || !joins(b, b_end, s, limit, max_gap)) {
            b = &out->batches[out->n_batches++];
            *b = (mb_batch_t){s->table, (uint16_t)s->start, 0, i, 0};
            b_end = s->end;
        }
        if (s->end > b_end)
            b_end = s->end;
        b->count = (uint16_t)(b_end - b->address);
        b->n_points++;
        out->points[i] = s->idx;
    }
    free(sp);
    return 0;
fail:
    free(sp);
    mb_plan_free(out);
    return rc;
}

void mb_plan_free(mb_plan_t *plan)
{
    if (!plan)
        return;
    free(plan->batches);
    free(plan->points);
    *plan = (mb_plan_t){0};
}

double mb_published_double(const mb_point_t *p, double d)
{
    char tmp[40];

    if (p->scale != 1.0 || p->offset != 0.0) {
        snprintf(tmp, sizeof(tmp), "%.15g", d);
        return strtod(tmp, NULL);
    }
    if (p->type == MB_TYPE_FLOAT32) {
        float f = (float)d;

        for (int prec = 6; prec <= 9; prec++) {
            snprintf(tmp, sizeof(tmp), "%.*g", prec, (double)f);
            if (strtof(tmp, NULL) == f)
                return strtod(tmp, NULL);
        }
    }
    return d;
}

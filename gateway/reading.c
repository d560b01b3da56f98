/*
 * JSON payload and topic rendering for normalized readings; see reading.h.
 *
 * The encoder writes straight into the caller's buffer with no allocation:
 * it runs once per reading on the hot path.
 */
#include "gateway/reading.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/fmath.h"
#include "gateway/utf8.h"

typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    int overflow;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->len + n >= o->cap) {
        o->overflow = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts_lit(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

/* RFC 8259 escaping: quote, backslash and every control character. Bytes
 * >= 0x80 pass through; names are checked for valid UTF-8 where they enter. */
static void put_json_string(out_t *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    put(o, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const unsigned char *run = p;

        while (*p >= 0x20 && *p != '"' && *p != '\\')
            p++;
        put(o, (const char *)run, (size_t)(p - run));
        if (!*p)
            break;
        char esc[6] = {'\\', 0};
        size_t n = 2;
        switch (*p) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            n = 6;
        }
        put(o, esc, n);
    }
    put(o, "\"", 1);
}

/* Writes v as %.15g would when v is the double nearest to a decimal of at
 * most 15 significant digits and 9 decimal places, m / 10^d, and
 * 1e-4 <= |v| < 1e15 (where %g writes no exponent); returns false otherwise.
 * m < 2^53 and 10^d are exact, so the division is rounded once and
 * m / 10^d == v proves that v is that decimal's nearest double; and a decimal
 * of at most 15 digits (DBL_DIG) comes back from its nearest double as
 * itself, which is what %.15g writes, trailing zeros removed. The smallest d
 * gives a last digit that is not 0. Sensors' values are mostly like this
 * (21.5, 1013.25), and snprintf() with strtod() costs some 4,000
 * instructions a value (callgrind). */
static bool put_short_decimal(out_t *o, double v)
{
    static const double pow10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    double a = v < 0 ? -v : v;
    char tmp[40];
    size_t i = sizeof(tmp);
    int64_t m = -1;
    int d;

    if (!(a >= 1e-4 && a < 1e15))
        return false;
    for (d = 0; d < 10; d++) {
        double scaled = a * pow10[d];

        if (scaled >= 1e15)
            return false;
        m = gw_llround(scaled);
        if ((double)m / pow10[d] == a)
            break;
    }
    if (d == 10)
        return false;
    for (int k = 0; k < d; k++) {
        tmp[--i] = (char)('0' + m % 10);
        m /= 10;
    }
    if (d > 0)
        tmp[--i] = '.';
    do {
        tmp[--i] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    if (v < 0)
        tmp[--i] = '-';
    put(o, tmp + i, sizeof(tmp) - i);
    return true;
}

/* Shortest of %.15g/%.16g/%.17g that reads back exactly, so 49.87 stays
 * 49.87 instead of 49.869999999999997. */
static void put_double(out_t *o, double v)
{
    char tmp[32];
    int n = 0;

    if (!isfinite(v)) {
        puts_lit(o, "null");
        return;
    }
    if (put_short_decimal(o, v))
        return;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    put(o, tmp, (size_t)n);
}

/* Integers are formatted by hand: seq and ts are in every payload, and
 * snprintf's generality costs several times more (callgrind). */
static void put_uint(out_t *o, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, tmp + i, sizeof(tmp) - i);
}

static void put_int(out_t *o, int64_t v)
{
    if (v < 0) {
        put(o, "-", 1);
        put_uint(o, (uint64_t)0 - (uint64_t)v); /* INT64_MIN included */
        return;
    }
    put_uint(o, (uint64_t)v);
}

static void put_value(out_t *o, const gw_reading_t *r)
{
    switch (r->kind) {
    case GW_VALUE_UINT:
        put_uint(o, r->value.u);
        break;
    case GW_VALUE_DOUBLE:
        put_double(o, r->value.d);
        break;
    case GW_VALUE_INT:
        put_int(o, r->value.i);
        break;
    case GW_VALUE_BOOL:
        puts_lit(o, r->value.b ? "true" : "false");
        break;
    case GW_VALUE_STRING:
        put_json_string(o, r->value.s ? r->value.s : "");
        break;
    case GW_VALUE_NONE:
    default:
        puts_lit(o, "null");
    }
}

int gw_json_string(const char *s, char *buf, size_t cap)
{
    out_t o = {buf, cap, 0, 0};

    put_json_string(&o, s);
    if (o.overflow || cap == 0)
        return -ENOSPC;
    buf[o.len] = '\0';
    return (int)o.len;
}

int gw_reading_value_json(const gw_reading_t *r, char *buf, size_t cap)
{
    out_t o = {buf, cap, 0, 0};

    put_value(&o, r);
    if (o.overflow || cap == 0)
        return -ENOSPC;
    buf[o.len] = '\0';
    return (int)o.len;
}

int gw_reading_to_json(const gw_reading_t *r, char *buf, size_t cap)
{
    out_t o = {buf, cap, 0, 0};

    puts_lit(&o, "{\"sensor\":");
    put_json_string(&o, r->sensor);
    puts_lit(&o, ",\"adapter\":");
    put_json_string(&o, r->adapter);
    puts_lit(&o, ",\"seq\":");
    put_int(&o, (int64_t)r->seq);
    puts_lit(&o, ",\"ts\":");
    put_int(&o, r->ts_ms);
    puts_lit(&o, ",\"value\":");
    put_value(&o, r);
    if (r->extra)
        puts_lit(&o, r->extra);
    if (r->unit) {
        puts_lit(&o, ",\"unit\":");
        put_json_string(&o, r->unit);
    }
    if (r->error) {
        puts_lit(&o, ",\"quality\":\"bad\",\"error\":");
        put_json_string(&o, r->error);
        puts_lit(&o, "}");
    } else {
        puts_lit(&o, ",\"quality\":\"good\"}");
    }
    if (o.overflow || cap == 0)
        return -ENOSPC;
    buf[o.len] = '\0';
    return (int)o.len;
}

static const char *const placeholders[] = {"{gateway}", "{adapter}", "{sensor}"};

/* Index of the placeholder starting at s, or -1. */
static int placeholder_at(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strncmp(s, placeholders[i], strlen(placeholders[i])) == 0)
            return i;
    return -1;
}

const char *gw_topic_check(const char *tmpl)
{
    if (!tmpl || !*tmpl)
        return "topic template is empty";
    for (const char *p = tmpl; *p; p++) {
        if (*p == '+' || *p == '#')
            return "topic template contains a wildcard ('+' or '#')";
        if (*p == '}')
            return "topic template has a '}' without '{'";
        if (*p == '{') {
            int i = placeholder_at(p);

            if (i < 0)
                return "topic template has an unknown placeholder (use {gateway}, {adapter} "
                       "or {sensor})";
            p += strlen(placeholders[i]) - 1;
        }
    }
    return NULL;
}

int gw_topic_render(const char *tmpl, const char *gateway, const char *adapter, const char *sensor,
                    char *buf, size_t cap)
{
    const char *vals[3] = {gateway, adapter, sensor};
    out_t o = {buf, cap, 0, 0};

    for (const char *p = tmpl; *p;) {
        const char *run = p;
        int i;

        while (*p && *p != '{')
            p++;
        put(&o, run, (size_t)(p - run));
        if (!*p)
            break;
        i = placeholder_at(p);
        if (i < 0) { /* unchecked template: copy the brace literally */
            put(&o, p, 1);
            p++;
            continue;
        }
        puts_lit(&o, vals[i] ? vals[i] : "");
        p += strlen(placeholders[i]);
    }
    if (o.overflow || cap == 0)
        return -ENOSPC;
    buf[o.len] = '\0';
    return (int)o.len;
}

const char *gw_topic_level_check(const char *name)
{
    size_t len = name ? strlen(name) : 0;

    if (len == 0)
        return "name is empty";
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)name[i];
        size_t n;

        if (c == '/' || c == '+' || c == '#')
            return "name contains '/', '+' or '#'";
        if (c < 0x20 || c == 0x7f)
            return "name contains a control character";
        n = gw_utf8_seq(name + i, len - i);
        if (n == 0)
            return "name is not valid UTF-8";
        i += n;
    }
    return NULL;
}

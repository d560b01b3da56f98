/*
 * libFuzzer target for adapters/line_parser: arbitrary bytes through a framer
 * whose options come from the first four input bytes. Every reading is
 * checked against the promises of line_parser.h (the name passes
 * gw_topic_level_check(), strings are NUL-free valid UTF-8, numbers are
 * finite, the payload renders as JSON cJSON can read back), every error
 * report against its bounds, and the stream is fed three ways (whole, in
 * pseudo-random pieces, byte by byte) which must give identical results and
 * counters. Any violation aborts.
 *
 * Input: [flags] [delimiter] [max_line] [split seed] stream...
 *   flags bits 0-1 format (3 is kv again), bit 2 sensor_prefix, bit 3
 *   default_unit, bits 4-5 csv columns and separator, bit 6 custom JSON keys.
 *   delimiter: bit 7 clear picks one of eight; set takes 1..8 bytes from the
 *   stream's start (NUL becomes 0x01).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/line_parser.h"
#include "gateway/reading.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    uint64_t hash; /* FNV-1a over every event, in order */
    uint64_t readings, errors;
    const lp_options_t *opt;
    size_t dlen;
} run_t;

static void mix(run_t *r, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        r->hash = (r->hash ^ b[i]) * 1099511628211ULL;
}

static void check(int ok)
{
    if (!ok)
        abort();
}

/* An independent UTF-8 check (RFC 3629), NUL-free; no_ctl also refuses C0
 * controls and DEL. */
static int utf8_ok(const char *s, int no_ctl)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned c = *p, cp, n;

        if (c < 0x80) {
            if (no_ctl && (c < 0x20 || c == 0x7f))
                return 0;
            p++;
            continue;
        }
        n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
        if (n == 0 || c > 0xf4)
            return 0;
        cp = c & (0x3f >> n);
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += n + 1;
    }
    return 1;
}

static void check_payload(const lp_reading_t *r)
{
    static char buf[8192];
    gw_reading_t g = {0};
    cJSON *back;
    int n;

    g.sensor = r->sensor;
    g.adapter = "fuzz";
    g.seq = 1;
    g.ts_ms = r->has_ts ? r->ts_ms : 0;
    g.kind = r->kind;
    g.value.d = r->value.d;
    if (r->kind == GW_VALUE_BOOL)
        g.value.b = r->value.b;
    else if (r->kind == GW_VALUE_STRING)
        g.value.s = r->value.s;
    g.unit = r->unit;
    n = gw_reading_to_json(&g, buf, sizeof(buf));
    if (n == -ENOSPC)
        return; /* long string values: the gateway's buffer, not ours */
    check(n > 0);
    back = cJSON_ParseWithLength(buf, (size_t)n);
    check(back != NULL);
    cJSON_Delete(back);
}

static void on_reading(void *ctx, const lp_reading_t *r)
{
    run_t *run = ctx;
    const char *prefix = run->opt->sensor_prefix;

    check(r->sensor && gw_topic_level_check(r->sensor) == NULL);
    check(strlen(r->sensor) <= LP_MAX_NAME);
    check(!prefix || strncmp(r->sensor, prefix, strlen(prefix)) == 0);
    switch (r->kind) {
    case GW_VALUE_DOUBLE:
        check(isfinite(r->value.d));
        break;
    case GW_VALUE_BOOL:
        check(r->value.b == true || r->value.b == false);
        break;
    case GW_VALUE_STRING:
        check(r->value.s && utf8_ok(r->value.s, 0));
        check(strlen(r->value.s) <= run->opt->max_line);
        break;
    default:
        abort();
    }
    check(!r->unit || (r->unit[0] && utf8_ok(r->unit, 1)));
    check(!r->has_ts || (r->ts_ms >= 0 && r->ts_ms <= 1000000000000000LL));
    check_payload(r);
    run->readings++;
    mix(run, "R", 1);
    mix(run, r->sensor, strlen(r->sensor) + 1);
    mix(run, &r->kind, sizeof(r->kind));
    if (r->kind == GW_VALUE_STRING)
        mix(run, r->value.s, strlen(r->value.s) + 1);
    else if (r->kind == GW_VALUE_BOOL)
        mix(run, &r->value.b, sizeof(r->value.b));
    else
        mix(run, &r->value.d, sizeof(r->value.d));
    mix(run, r->unit ? r->unit : "", r->unit ? strlen(r->unit) + 1 : 0);
    mix(run, &r->ts_ms, r->has_ts ? sizeof(r->ts_ms) : 0);
}

static void on_error(void *ctx, lp_reason_t reason, const char *line, size_t len)
{
    run_t *run = ctx;

    check(reason > LP_OK && reason < LP_REASON_COUNT);
    check(strcmp(lp_reason_name(reason), "unknown") != 0);
    check(len == 0 || line != NULL);
    check(len <= run->opt->max_line + run->dlen + 1);
    run->errors++;
    mix(run, "E", 1);
    mix(run, &reason, sizeof(reason));
    mix(run, line, len);
}

/* Feeds the stream in pieces: whole (step 0), byte by byte (step 1), or
 * pseudo-random sizes from seed. */
static void feed(lp_parser_t *p, run_t *run, const uint8_t *s, size_t n, int step, uint32_t seed)
{
    lp_sink_t sink = {on_reading, on_error, run};
    lp_framer_t *f = NULL;
    size_t at = 0;

    if (lp_framer_new(p, &sink, &f) != 0)
        abort();
    while (at < n) {
        size_t k = n - at;

        if (step == 1) {
            k = 1;
        } else if (step != 0) {
            seed = seed * 1103515245u + 12345u;
            k = 1 + (seed >> 16) % (1 + (seed & 0x7f));
            if (k > n - at)
                k = n - at;
        }
        lp_framer_feed(f, s + at, k);
        at += k;
    }
    lp_framer_finish(f);
    lp_framer_free(f);
}

static void options_from(const uint8_t *h, const uint8_t **s, size_t *n, lp_options_t *o,
                         char *delim)
{
    static const char *const delims[] = {
        "\n", "\r\n", ";", "aab", "EOT", "\x03\x03\x03\x03\x03\x03\x03\x02", "\n\n", "|",
    };
    static const size_t max_lines[] = {1, 2, 3, 8, 16, 64, 300, 4096};
    static const lp_role_t cols[4][4] = {
        {LP_COL_SENSOR, LP_COL_VALUE, LP_COL_IGNORE, LP_COL_IGNORE},
        {LP_COL_SENSOR, LP_COL_VALUE, LP_COL_UNIT, LP_COL_TS},
        {LP_COL_IGNORE, LP_COL_TS, LP_COL_VALUE, LP_COL_SENSOR},
        {LP_COL_VALUE, LP_COL_IGNORE, LP_COL_SENSOR, LP_COL_UNIT},
    };
    static const char seps[] = {',', ';', '\t', ' '};
    int c = (h[0] >> 4) & 3;

    lp_options_init(o);
    o->format = (h[0] & 3) == 3 ? LP_FORMAT_KV : (lp_format_t)(h[0] & 3);
    o->sensor_prefix = h[0] & 4 ? "dev." : NULL;
    o->default_unit = h[0] & 8 ? "C" : NULL;
    memcpy(o->columns, cols[c], sizeof(cols[c]));
    o->ncolumns = c == 0 ? 2 : 4;
    o->separator = seps[c];
    if (h[0] & 0x40) {
        o->sensor_key = "id";
        o->value_key = "v";
        o->unit_key = NULL;
        o->ts_key = "t";
    }
    o->max_line = max_lines[h[2] & 7];
    o->delimiter = delims[h[1] & 7];
    if (h[1] & 0x80) {
        size_t k = 1 + ((h[1] >> 3) & 7);

        if (k > *n)
            k = *n;
        for (size_t i = 0; i < k; i++)
            delim[i] = (*s)[i] ? (char)(*s)[i] : 1;
        delim[k] = '\0';
        *s += k;
        *n -= k;
        o->delimiter = k ? delim : "\n";
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *s = data + 4;
    size_t n = size - 4;
    char delim[LP_MAX_DELIMITER + 1];
    lp_options_t o;
    lp_parser_t *p[3] = {NULL, NULL, NULL};
    run_t run[3];
    int ways = 3;

    if (size < 4)
        return 0;
    options_from(data, &s, &n, &o, delim);
    if (lp_options_check(&o)) {
        check(lp_parser_new(&o, &p[0]) == -EINVAL && p[0] == NULL);
        return 0;
    }
    if (n > 4096)
        ways = 2; /* byte by byte is slow on big inputs */
    for (int i = 0; i < ways; i++) {
        run[i] = (run_t){14695981039346656037ULL, 0, 0, &o, strlen(o.delimiter)};
        check(lp_parser_new(&o, &p[i]) == 0);
        feed(p[i], &run[i], s, n, i == 0 ? 0 : i == 1 ? 2 : 1, data[3]);
    }
    for (int i = 0; i < ways; i++) {
        const lp_counters_t *c = lp_parser_counters(p[i]);
        uint64_t errors = 0;

        for (int r = 0; r < LP_REASON_COUNT; r++)
            errors += c->errors[r];
        check(c->errors[LP_OK] == 0);
        check(c->readings == run[i].readings && errors == run[i].errors);
        check(c->lines_ok <= c->lines);
        check(run[i].hash == run[0].hash);
        check(memcmp(c, lp_parser_counters(p[0]), sizeof(*c)) == 0);
    }
    for (int i = 0; i < ways; i++)
        lp_parser_free(p[i]);
    return 0;
}

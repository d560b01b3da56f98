/*
 * Line framing and parsing; see line_parser.h for the API and docs/raw_tcp.md
 * for the rules users see.
 *
 * The framer finds delimiters with a small Knuth-Morris-Pratt automaton, one
 * byte at a time, so a delimiter split across reads (or overlapping itself,
 * like "abab") is found exactly where a single read would find it: the
 * results never depend on how the stream was split. Runs without the
 * delimiter's first byte are skipped with memchr() and copied in bulk.
 *
 * The parser copies each line into its own work buffer and cuts it up in
 * place (NUL-terminating fields), so the reading's strings need no allocation
 * and the caller's bytes stay intact for error reports.
 */
#include "adapters/line_parser.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/fmath.h"
#include "gateway/utf8.h"

/* A ts above this is milliseconds, at or below it seconds: 1e11 s is the year
 * 5138 and 1e11 ms is March 1973, so real clocks are never ambiguous. */
#define TS_MS_THRESHOLD 1e11
#define TS_MAX_MS 1e15 /* the year 33658; keeps the conversion in int64 range */

struct lp_parser {
    lp_format_t format;
    char delimiter[LP_MAX_DELIMITER + 1];
    size_t max_line;
    char key[LP_COL_TS + 1][LP_MAX_KEY + 1]; /* JSON key names by role */
    lp_role_t columns[LP_MAX_COLUMNS];
    size_t ncolumns;
    char separator;
    char prefix[LP_MAX_PREFIX + 1];
    size_t prefix_len;
    char default_unit[LP_MAX_KEY + 1];
    lp_counters_t counters;
    char name[LP_MAX_NAME + 1]; /* the sensor name being delivered */
    char *work;                 /* max_line + 1 bytes: the line being cut up */
};

struct lp_framer {
    lp_parser_t *p;
    lp_sink_t sink;
    const char *delim; /* the parser's */
    size_t dlen;
    size_t fail[LP_MAX_DELIMITER + 1]; /* KMP: longest border of delim[0..k) */
    bool strip_cr;
    size_t limit;    /* content bytes allowed while the line is open */
    size_t len;      /* bytes in buf: content, then `matched` delimiter bytes */
    size_t matched;  /* delimiter bytes matched at the end of the stream */
    bool discarding; /* inside an over-long line, already reported */
    char *buf;       /* limit + dlen + 1 bytes */
};

/* One line being parsed: where results go and what to report errors with. */
typedef struct {
    lp_parser_t *p;
    const lp_sink_t *sink;
    const char *line; /* the caller's bytes, untouched */
    size_t len;
    lp_reason_t first;
} line_t;

static const char *const reason_names[] = {
    "ok",         "too_long",  "incomplete", "bad_json", "not_object", "missing_field",
    "bad_number", "bad_value", "bad_unit",   "bad_name", "bad_kv",
};
_Static_assert(sizeof(reason_names) / sizeof(reason_names[0]) == LP_REASON_COUNT,
               "one name per reason");

const char *lp_reason_name(int reason)
{
    if (reason < 0 || reason >= LP_REASON_COUNT)
        return "unknown";
    return reason_names[reason];
}

/* ASCII whitespace as the C locale's isspace() sees it. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool only_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_space(s[i]))
            return false;
    return true;
}

/* Valid UTF-8 without NUL (gw_utf8_valid(), the rules gw_topic_level_check()
 * applies) and, when no_ctl, without control characters. */
static bool text_ok(const char *s, size_t n, bool no_ctl)
{
    for (size_t i = 0; no_ctl && i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return gw_utf8_valid(s, n);
}

/* Builds p->name from a device-supplied name: rejected when empty, too long,
 * holding a control character or invalid UTF-8; '/', '+' and '#' would make
 * extra topic levels or wildcards, so they become '_'. What remains passes
 * gw_topic_level_check(). */
static bool make_name(lp_parser_t *p, const char *s, size_t n)
{
    char *d = p->name + p->prefix_len;

    if (n == 0 || n > LP_MAX_NAME - p->prefix_len || !text_ok(s, n, true))
        return false;
    memcpy(p->name, p->prefix, p->prefix_len);
    for (size_t i = 0; i < n; i++)
        d[i] = (s[i] == '/' || s[i] == '+' || s[i] == '#') ? '_' : s[i];
    d[n] = '\0';
    return true;
}

/* A decimal number filling all of s (NUL-terminated at n), as strtod() reads
 * it in the C locale. Hexadecimal forms stay strings: "0x1F" is more likely a
 * label than thirty-one. */
static bool read_number(const char *s, size_t n, double *out)
{
    char *end;

    if (n == 0 || memchr(s, 'x', n) || memchr(s, 'X', n))
        return false;
    *out = strtod(s, &end);
    return end == s + n;
}

static bool ts_to_ms(double v, int64_t *ms)
{
    if (!isfinite(v) || v < 0 || v > TS_MAX_MS)
        return false;
    *ms = v > TS_MS_THRESHOLD ? gw_llround(v) : gw_llround(v * 1000.0);
    return true;
}

/* A CSV or kv value token (n > 0, NUL-terminated at n): true/false, a
 * number, or else a string. */
static lp_reason_t token_value(const char *s, size_t n, lp_reading_t *r)
{
    double d;

    if (memchr(s, '\0', n))
        return LP_BAD_VALUE;
    if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0)) {
        r->kind = GW_VALUE_BOOL;
        r->value.b = n == 4;
        return LP_OK;
    }
    if (read_number(s, n, &d)) {
        if (!isfinite(d))
            return LP_BAD_NUMBER;
        r->kind = GW_VALUE_DOUBLE;
        r->value.d = d;
        return LP_OK;
    }
    if (!text_ok(s, n, false))
        return LP_BAD_VALUE;
    r->kind = GW_VALUE_STRING;
    r->value.s = s;
    return LP_OK;
}

static void count_error(lp_parser_t *p, const lp_sink_t *sink, lp_reason_t why, const char *line,
                        size_t len)
{
    p->counters.errors[why]++;
    if (sink->error)
        sink->error(sink->ctx, why, line, len);
}

static void reject(line_t *l, lp_reason_t why)
{
    if (l->first == LP_OK)
        l->first = why;
    count_error(l->p, l->sink, why, l->line, l->len);
}

/* Delivers r, named by p->name, or rejects the line with why. */
static void finish_reading(line_t *l, lp_reading_t *r, lp_reason_t why)
{
    lp_parser_t *p = l->p;

    if (why != LP_OK) {
        reject(l, why);
        return;
    }
    r->sensor = p->name;
    if (!r->unit && p->default_unit[0])
        r->unit = p->default_unit;
    p->counters.readings++;
    l->sink->reading(l->sink->ctx, r);
}

/*
 * cJSON decodes "\u0000" and copies raw NUL bytes into NUL-terminated
 * strings, silently truncating them: "ab\u0000cd" would read as "ab", and a
 * key "sensor\u0000x" would match "sensor". Both become one raw 0xff byte,
 * which is never valid UTF-8, so a name or value holding it fails the UTF-8
 * check and a key holding it matches nothing; outside a string it is a syntax
 * error, as the NUL was. Tracking strings needs only quotes and backslashes.
 * Returns the new length.
 */
static size_t json_mark_nul(char *s, size_t n)
{
    const char marker = (char)0xff;
    bool in_str = false;
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '\0') {
            c = marker;
        } else if (in_str && c == '\\' && i + 1 < n) {
            if (i + 5 < n && memcmp(s + i + 1, "u0000", 5) == 0) {
                c = marker;
                i += 5;
            } else {
                s[o++] = c;
                c = s[++i] == '\0' ? marker : s[i];
            }
        } else if (c == '"') {
            in_str = !in_str;
        }
        s[o++] = c;
    }
    s[o] = '\0';
    return o;
}

/* The value of a JSON reading: a number, true/false or a string. */
static lp_reason_t json_value(const cJSON *v, lp_reading_t *r)
{
    if (cJSON_IsBool(v)) {
        r->kind = GW_VALUE_BOOL;
        r->value.b = cJSON_IsTrue(v);
    } else if (cJSON_IsNumber(v)) {
        if (!isfinite(v->valuedouble))
            return LP_BAD_NUMBER;
        r->kind = GW_VALUE_DOUBLE;
        r->value.d = v->valuedouble;
    } else if (cJSON_IsString(v) && text_ok(v->valuestring, strlen(v->valuestring), false)) {
        r->kind = GW_VALUE_STRING;
        r->value.s = v->valuestring;
    } else {
        return LP_BAD_VALUE;
    }
    return LP_OK;
}

/* The reading in a parsed JSON object; null for unit or ts means absent. */
static lp_reason_t json_reading(lp_parser_t *p, const cJSON *root, lp_reading_t *r)
{
    const cJSON *it[LP_COL_TS + 1] = {0};
    const char *name, *unit;
    lp_reason_t why;

    for (int role = LP_COL_SENSOR; role <= LP_COL_TS; role++)
        if (p->key[role][0])
            it[role] = cJSON_GetObjectItemCaseSensitive(root, p->key[role]);
    if (!it[LP_COL_SENSOR] || !it[LP_COL_VALUE])
        return LP_MISSING_FIELD;
    name = cJSON_GetStringValue(it[LP_COL_SENSOR]);
    if (!name || !make_name(p, name, strlen(name)))
        return LP_BAD_NAME;
    why = json_value(it[LP_COL_VALUE], r);
    if (why != LP_OK)
        return why;
    if (it[LP_COL_UNIT] && !cJSON_IsNull(it[LP_COL_UNIT])) {
        unit = cJSON_GetStringValue(it[LP_COL_UNIT]);
        if (!unit || !text_ok(unit, strlen(unit), true))
            return LP_BAD_UNIT;
        r->unit = unit[0] ? unit : NULL;
    }
    if (it[LP_COL_TS] && !cJSON_IsNull(it[LP_COL_TS])) {
        if (!cJSON_IsNumber(it[LP_COL_TS]) || !ts_to_ms(it[LP_COL_TS]->valuedouble, &r->ts_ms))
            return LP_BAD_NUMBER;
        r->has_ts = true;
    }
    return LP_OK;
}

static void parse_json(line_t *l, char *s, size_t n)
{
    lp_reading_t r = {0};
    const char *end = NULL;
    lp_reason_t why;
    cJSON *root;

    n = json_mark_nul(s, n);
    root = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!root) {
        reject(l, LP_BAD_JSON);
        return;
    }
    if (!only_space(end, n - (size_t)(end - s)))
        why = LP_BAD_JSON;
    else if (!cJSON_IsObject(root))
        why = LP_NOT_OBJECT;
    else
        why = json_reading(l->p, root, &r);
    finish_reading(l, &r, why);
    cJSON_Delete(root);
}

/* The fields of a CSV line, by role: surrounding whitespace trimmed, each
 * NUL-terminated in place. Missing roles stay NULL. */
static bool csv_split(const lp_parser_t *p, char *s, size_t n, char **field, size_t *flen)
{
    size_t col = 0, start = 0;

    for (size_t i = 0; i <= n && col < p->ncolumns; i++) {
        size_t a = start, b = i;

        if (i < n && s[i] != p->separator)
            continue;
        while (a < b && is_space(s[a]))
            a++;
        while (b > a && is_space(s[b - 1]))
            b--;
        s[b] = '\0';
        field[p->columns[col]] = s + a;
        flen[p->columns[col]] = b - a;
        col++;
        start = i + 1;
    }
    return col == p->ncolumns;
}

static lp_reason_t csv_reading(lp_parser_t *p, char *s, size_t n, lp_reading_t *r)
{
    char *field[LP_COL_TS + 1] = {0};
    size_t flen[LP_COL_TS + 1] = {0};
    lp_reason_t why;
    double ts;

    if (!csv_split(p, s, n, field, flen))
        return LP_MISSING_FIELD;
    if (!make_name(p, field[LP_COL_SENSOR], flen[LP_COL_SENSOR]))
        return LP_BAD_NAME;
    if (flen[LP_COL_VALUE] == 0)
        return LP_MISSING_FIELD;
    why = token_value(field[LP_COL_VALUE], flen[LP_COL_VALUE], r);
    if (why != LP_OK)
        return why;
    if (flen[LP_COL_UNIT] > 0) {
        if (!text_ok(field[LP_COL_UNIT], flen[LP_COL_UNIT], true))
            return LP_BAD_UNIT;
        r->unit = field[LP_COL_UNIT];
    }
    if (flen[LP_COL_TS] > 0) {
        if (memchr(field[LP_COL_TS], '\0', flen[LP_COL_TS]) ||
            !read_number(field[LP_COL_TS], flen[LP_COL_TS], &ts) || !ts_to_ms(ts, &r->ts_ms))
            return LP_BAD_NUMBER;
        r->has_ts = true;
    }
    return LP_OK;
}

/* One "key=value" token (NUL-terminated at n): one reading named key. */
static void kv_pair(line_t *l, char *tok, size_t n)
{
    lp_reading_t r = {0};
    char *eq = memchr(tok, '=', n);
    size_t klen;

    if (!eq || eq == tok || eq == tok + n - 1) {
        reject(l, LP_BAD_KV);
        return;
    }
    klen = (size_t)(eq - tok);
    if (!make_name(l->p, tok, klen)) {
        reject(l, LP_BAD_NAME);
        return;
    }
    finish_reading(l, &r, token_value(eq + 1, n - klen - 1, &r));
}

static void parse_kv(line_t *l, char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t start;

        while (i < n && is_space(s[i]))
            i++;
        if (i == n)
            break;
        start = i;
        while (i < n && !is_space(s[i]))
            i++;
        s[i] = '\0';
        kv_pair(l, s + start, i - start);
        if (i < n)
            i++;
    }
}

lp_reason_t lp_parse_line(lp_parser_t *p, const char *line, size_t len, const lp_sink_t *sink)
{
    line_t l = {p, sink, line, len, LP_OK};
    lp_reading_t r = {0};

    if (len > p->max_line) {
        l.len = p->max_line;
        reject(&l, LP_TOO_LONG);
        return l.first;
    }
    if (only_space(line, len)) {
        p->counters.blank++;
        return LP_OK;
    }
    p->counters.lines++;
    memcpy(p->work, line, len);
    p->work[len] = '\0';
    switch (p->format) {
    case LP_FORMAT_JSON:
        parse_json(&l, p->work, len);
        break;
    case LP_FORMAT_CSV:
        finish_reading(&l, &r, csv_reading(p, p->work, len, &r));
        break;
    case LP_FORMAT_KV:
        parse_kv(&l, p->work, len);
        break;
    }
    if (l.first == LP_OK)
        p->counters.lines_ok++;
    return l.first;
}

void lp_options_init(lp_options_t *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->format = LP_FORMAT_JSON;
    opt->delimiter = "\n";
    opt->max_line = LP_DEFAULT_MAX_LINE;
    opt->sensor_key = "sensor";
    opt->value_key = "value";
    opt->unit_key = "unit";
    opt->ts_key = "ts";
    opt->separator = ',';
}

/* An optional configured string: NULL or "", else at most max bytes of UTF-8
 * without control characters (and, for a topic level, without / + #). */
static bool label_ok(const char *s, size_t max, bool topic)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0)
        return true;
    if (n > max || !text_ok(s, n, true))
        return false;
    return !topic || gw_topic_level_check(s) == NULL;
}

static const char *json_check(const lp_options_t *o)
{
    const char *keys[] = {o->sensor_key, o->value_key, o->unit_key, o->ts_key};

    for (int i = 0; i < 4; i++)
        if ((i < 2 && (!keys[i] || !keys[i][0])) || !label_ok(keys[i], LP_MAX_KEY, false))
            return "sensor_key and value_key must be 1 to 63 bytes, unit_key and ts_key at most "
                   "63 bytes, of UTF-8 without control characters";
    return NULL;
}

static const char *csv_check(const lp_options_t *o)
{
    size_t count[LP_COL_TS + 1] = {0};
    char sep = o->separator;

    if (sep == '\0' || sep == '\r' || sep == '\n' || strchr(o->delimiter, sep))
        return "separator must be one byte, not NUL, CR, LF or part of the delimiter";
    if (o->ncolumns == 0 || o->ncolumns > LP_MAX_COLUMNS)
        return "columns must list 1 to 32 columns";
    for (size_t i = 0; i < o->ncolumns; i++) {
        if ((unsigned)o->columns[i] > LP_COL_TS)
            return "columns may only be sensor, value, unit, ts or _";
        count[o->columns[i]]++;
    }
    if (count[LP_COL_SENSOR] != 1 || count[LP_COL_VALUE] != 1)
        return "columns must name exactly one sensor and one value column";
    if (count[LP_COL_UNIT] > 1 || count[LP_COL_TS] > 1)
        return "columns may name at most one unit and one ts column";
    return NULL;
}

const char *lp_options_check(const lp_options_t *o)
{
    size_t dlen = o->delimiter ? strlen(o->delimiter) : 0;

    if (dlen == 0 || dlen > LP_MAX_DELIMITER)
        return "delimiter must be 1 to 8 bytes";
    if (o->max_line == 0 || o->max_line > LP_MAX_LINE_LIMIT)
        return "max_line must be between 1 and 1048576 bytes";
    if (!label_ok(o->sensor_prefix, LP_MAX_PREFIX, true))
        return "sensor_prefix must be at most 64 bytes of UTF-8 without control characters, "
               "'/', '+' or '#'";
    if (!label_ok(o->default_unit, LP_MAX_KEY, false))
        return "default_unit must be at most 63 bytes of UTF-8 without control characters";
    switch (o->format) {
    case LP_FORMAT_JSON:
        return json_check(o);
    case LP_FORMAT_CSV:
        return csv_check(o);
    case LP_FORMAT_KV:
        return NULL;
    }
    return "format must be json, csv or kv";
}

static int lookup(const char *name, const char *const *names, int n)
{
    for (int i = 0; name && i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -EINVAL;
}

int lp_format_parse(const char *name)
{
    static const char *const names[] = {"json", "csv", "kv"};

    return lookup(name, names, 3);
}

int lp_role_parse(const char *name)
{
    static const char *const names[] = {"_", "sensor", "value", "unit", "ts"};

    return lookup(name, names, 5);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* Strings are copied after lp_options_check() has checked that they fit. */
int lp_parser_new(const lp_options_t *opt, lp_parser_t **out)
{
    lp_parser_t *p;

    *out = NULL;
    if (lp_options_check(opt))
        return -EINVAL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->work = malloc(opt->max_line + 1);
    if (!p->work) {
        free(p);
        return -ENOMEM;
    }
    p->format = opt->format;
    snprintf(p->delimiter, sizeof(p->delimiter), "%s", or_empty(opt->delimiter));
    p->max_line = opt->max_line;
    snprintf(p->key[LP_COL_SENSOR], sizeof(p->key[0]), "%s", or_empty(opt->sensor_key));
    snprintf(p->key[LP_COL_VALUE], sizeof(p->key[0]), "%s", or_empty(opt->value_key));
    snprintf(p->key[LP_COL_UNIT], sizeof(p->key[0]), "%s", or_empty(opt->unit_key));
    snprintf(p->key[LP_COL_TS], sizeof(p->key[0]), "%s", or_empty(opt->ts_key));
    memcpy(p->columns, opt->columns, sizeof(p->columns));
    p->ncolumns = opt->ncolumns;
    p->separator = opt->separator;
    snprintf(p->prefix, sizeof(p->prefix), "%s", or_empty(opt->sensor_prefix));
    p->prefix_len = strlen(p->prefix);
    snprintf(p->default_unit, sizeof(p->default_unit), "%s", or_empty(opt->default_unit));
    *out = p;
    return 0;
}

void lp_parser_free(lp_parser_t *p)
{
    if (!p)
        return;
    free(p->work);
    free(p);
}

const lp_counters_t *lp_parser_counters(const lp_parser_t *p)
{
    return &p->counters;
}

int lp_framer_new(lp_parser_t *p, const lp_sink_t *sink, lp_framer_t **out)
{
    lp_framer_t *f = calloc(1, sizeof(*f));
    size_t k = 0;

    *out = NULL;
    if (!f)
        return -ENOMEM;
    f->p = p;
    f->sink = *sink;
    f->delim = p->delimiter;
    f->dlen = strlen(p->delimiter);
    f->strip_cr = strcmp(p->delimiter, "\n") == 0;
    f->limit = p->max_line + (f->strip_cr ? 1 : 0);
    for (size_t i = 1; i < f->dlen; i++) {
        while (k > 0 && f->delim[i] != f->delim[k])
            k = f->fail[k];
        if (f->delim[i] == f->delim[k])
            k++;
        f->fail[i + 1] = k;
    }
    f->buf = malloc(f->limit + f->dlen + 1);
    if (!f->buf) {
        free(f);
        return -ENOMEM;
    }
    *out = f;
    return 0;
}

void lp_framer_free(lp_framer_t *f)
{
    if (!f)
        return;
    free(f->buf);
    free(f);
}

/* The KMP automaton: delimiter bytes matched after c, given m before it. */
static size_t kmp_step(const lp_framer_t *f, size_t m, char c)
{
    for (;;) {
        if (f->delim[m] == c)
            return m + 1;
        if (m == 0)
            return 0;
        m = f->fail[m];
    }
}

/* A delimiter completed the line in buf. */
static void end_line(lp_framer_t *f)
{
    size_t n = f->len - f->dlen;

    f->len = 0;
    f->matched = 0;
    if (f->strip_cr && n > 0 && f->buf[n - 1] == '\r')
        n--;
    lp_parse_line(f->p, f->buf, n, &f->sink);
}

static void push_byte(lp_framer_t *f, char c)
{
    f->matched = kmp_step(f, f->matched, c);
    if (f->discarding) {
        if (f->matched == f->dlen) {
            f->discarding = false;
            f->matched = 0;
        }
        return;
    }
    f->buf[f->len++] = c;
    if (f->matched == f->dlen) {
        end_line(f);
    } else if (f->len - f->matched > f->limit) {
        count_error(f->p, &f->sink, LP_TOO_LONG, f->buf, f->p->max_line);
        f->discarding = true;
        f->len = 0;
    }
}

void lp_framer_feed(lp_framer_t *f, const void *data, size_t n)
{
    const char *s = data, *end = s + n;

    while (s < end) {
        /* With nothing matched, bytes other than the delimiter's first one
         * leave the automaton where it is: copy or skip them in bulk. While
         * a line is open here, len <= limit. */
        if (f->matched == 0) {
            const char *hit = memchr(s, f->delim[0], (size_t)(end - s));
            size_t run = (size_t)((hit ? hit : end) - s);

            if (!f->discarding) {
                if (run > f->limit - f->len)
                    run = f->limit - f->len;
                memcpy(f->buf + f->len, s, run);
                f->len += run;
            }
            s += run;
            if (s == end)
                break;
        }
        push_byte(f, *s++);
    }
}

void lp_framer_finish(lp_framer_t *f)
{
    if (!f->discarding && !only_space(f->buf, f->len))
        count_error(f->p, &f->sink, LP_INCOMPLETE, f->buf, f->len);
    f->len = 0;
    f->matched = 0;
    f->discarding = false;
}

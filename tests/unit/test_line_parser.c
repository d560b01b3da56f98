/*
 * Tests of the line framer (delimiters, \r\n, over-long and partial lines,
 * arbitrary splits), the options and the reason names. Registers the format
 * tests of test_line_parser_formats.c in the same suite.
 *
 * Results are rendered into one log string, readings as `name=value; ` and
 * rejections as `!reason; `, so a test compares the whole outcome at once and
 * split tests can compare runs with each other.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/line_parser.h"
#include "gateway/reading.h"
#include "suites.h"

int line_parser_format_tests(CU_pSuite s); /* in test_line_parser_formats.c */

static char log_buf[8192];
static size_t log_len;
static char err_line[64]; /* the last error's line bytes (up to 63) */
static size_t err_len;    /* and its full reported length */
static lp_counters_t counters;

__attribute__((format(printf, 1, 2))) static void logf_(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(log_buf + log_len, sizeof(log_buf) - log_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        log_len += (size_t)n < sizeof(log_buf) - log_len ? (size_t)n : 0;
}

static void on_reading(void *ctx, const lp_reading_t *r)
{
    (void)ctx;
    CU_ASSERT_PTR_NULL(gw_topic_level_check(r->sensor));
    if (r->kind == GW_VALUE_DOUBLE)
        logf_("%s=%g; ", r->sensor, r->value.d);
    else if (r->kind == GW_VALUE_BOOL)
        logf_("%s=%s; ", r->sensor, r->value.b ? "true" : "false");
    else
        logf_("%s=\"%s\"; ", r->sensor, r->value.s);
}

static void on_error(void *ctx, lp_reason_t reason, const char *line, size_t len)
{
    (void)ctx;
    logf_("!%s; ", lp_reason_name(reason));
    err_len = len;
    memset(err_line, 0, sizeof(err_line));
    memcpy(err_line, line, len < sizeof(err_line) - 1 ? len : sizeof(err_line) - 1);
}

static const lp_sink_t sink = {on_reading, on_error, NULL};

static lp_options_t kv_opts(const char *delimiter, size_t max_line)
{
    lp_options_t o;

    lp_options_init(&o);
    o.format = LP_FORMAT_KV;
    o.delimiter = delimiter;
    o.max_line = max_line;
    return o;
}

/*
 * Feeds data through a new framer in pieces cut at the offsets in cuts
 * (ascending, ncuts of them), then finishes it. Returns the log; the
 * counters are left in `counters`.
 */
static const char *frame_cuts(const lp_options_t *o, const char *data, size_t n, const size_t *cuts,
                              size_t ncuts)
{
    lp_parser_t *p = NULL;
    lp_framer_t *f = NULL;
    size_t at = 0;

    log_len = 0;
    log_buf[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(lp_parser_new(o, &p), 0);
    CU_ASSERT_EQUAL_FATAL(lp_framer_new(p, &sink, &f), 0);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;

        lp_framer_feed(f, data + at, to - at);
        at = to;
    }
    lp_framer_finish(f);
    counters = *lp_parser_counters(p);
    lp_framer_free(f);
    lp_parser_free(p);
    return log_buf;
}

static const char *frame_n(const lp_options_t *o, const char *data, size_t n)
{
    return frame_cuts(o, data, n, NULL, 0);
}

#define FRAME(o, lit) frame_n(o, lit, sizeof(lit) - 1)

/* Feeds data one byte per call. */
static const char *frame_bytes(const lp_options_t *o, const char *data, size_t n)
{
    size_t cuts[512];

    CU_ASSERT_FATAL(n <= 512);
    for (size_t i = 0; i < n; i++)
        cuts[i] = i;
    return frame_cuts(o, data, n, cuts, n);
}

static void test_lf_and_crlf(void)
{
    lp_options_t o = kv_opts("\n", 4096);

    CU_ASSERT_STRING_EQUAL(FRAME(&o, "a=1\nb=2\n"), "a=1; b=2; ");
    CU_ASSERT_EQUAL(counters.lines, 2);
    CU_ASSERT_EQUAL(counters.lines_ok, 2);
    CU_ASSERT_EQUAL(counters.readings, 2);
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "a=1\r\nb=x\r\n"), "a=1; b=\"x\"; ");
    /* Only one '\r' goes; a lone '\r' inside a line stays (kv: whitespace). */
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "a=x\r\r\nb=1\rc=2\n"), "a=\"x\"; b=1; c=2; ");
    /* The reported line has neither the delimiter nor the '\r'. */
    o.format = LP_FORMAT_JSON;
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "{oops}\r\n"), "!bad_json; ");
    CU_ASSERT_EQUAL(err_len, 6);
    CU_ASSERT_STRING_EQUAL(err_line, "{oops}");
}

static void test_blank_lines_between(void)
{
    lp_options_t o = kv_opts("\n", 4096);

    CU_ASSERT_STRING_EQUAL(FRAME(&o, "\n\r\na=1\n \t\n\nb=2\n"), "a=1; b=2; ");
    CU_ASSERT_EQUAL(counters.blank, 4);
    CU_ASSERT_EQUAL(counters.lines, 2);
}

static void test_custom_delimiters(void)
{
    lp_options_t o = kv_opts(";", 4096);

    CU_ASSERT_STRING_EQUAL(FRAME(&o, "a=1;b=2\n;c=3\r;"), "a=1; b=2; c=3; ");
    o.delimiter = "\r\n";
    /* A bare '\n' or '\r' does not end a line. */
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "a=1\nb=2\r\nc=3\rd=4\r\n"), "a=1; b=2; c=3; d=4; ");
    CU_ASSERT_EQUAL(counters.lines, 2);
    o.delimiter = "EOT";
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "a=EOb=TEOTc=EEOTEOT"), "a=\"EOb=T\"; c=\"E\"; ");
    CU_ASSERT_EQUAL(counters.blank, 1);
    /* A delimiter overlapping itself: "k=1aaab" is the line "k=1a". */
    o.delimiter = "aab";
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "k=1aaabv=aaaabw=2aab"), "k=\"1a\"; v=\"aa\"; w=2; ");
    CU_ASSERT_STRING_EQUAL(frame_bytes(&o, "k=1aaabv=aaaabw=2aab", 20),
                           "k=\"1a\"; v=\"aa\"; w=2; ");
    o.delimiter = "\x03\x03\x03\x03\x03\x03\x03\x02";
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "x=1\x03\x03\x03\x03\x03\x03\x03\x03\x02y=2"
                                     "\x03\x03\x03\x03\x03\x03\x03\x02"),
                           "x=\"1\x03\"; y=2; ");
}

static void test_delimiter_split_across_feeds(void)
{
    lp_options_t o = kv_opts("\r\n", 4096);
    const char in[] = "a=1\r\nb=2\r\n";
    const size_t cut1[] = {4}, cut2[] = {3, 4, 8, 9};

    CU_ASSERT_STRING_EQUAL(frame_cuts(&o, in, 10, cut1, 1), "a=1; b=2; ");
    CU_ASSERT_STRING_EQUAL(frame_cuts(&o, in, 10, cut2, 4), "a=1; b=2; ");
    CU_ASSERT_EQUAL(counters.errors[LP_INCOMPLETE], 0);
    o.delimiter = "\n";
    CU_ASSERT_STRING_EQUAL(frame_cuts(&o, in, 10, cut2, 4), "a=1; b=2; ");
}

static void test_max_line_boundary(void)
{
    lp_options_t o = kv_opts("\n", 16);

    /* Exactly max_line bytes pass, with or without '\r'; one more does not. */
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "abcdefghijk=1.25\nabcdefghijk=1.25\r\n"),
                           "abcdefghijk=1.25; abcdefghijk=1.25; ");
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "abcdefghijk=1.125\nz=1\n"), "!too_long; z=1; ");
    CU_ASSERT_EQUAL(err_len, 16);
    CU_ASSERT_STRING_EQUAL(err_line, "abcdefghijk=1.12");
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "abcdefghijk=1.125\r\nz=1\n"), "!too_long; z=1; ");
    o.delimiter = ";";
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "abcdefghijk=1.25;abcdefghijk=1.125;z=1;"),
                           "abcdefghijk=1.25; !too_long; z=1; ");
    o.delimiter = "\r\n";
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "abcdefghijk=1.25\r\nabcdefghijk=1.25\r\r\n"),
                           "abcdefghijk=1.25; !too_long; ");
}

static void test_too_long_mid_stream(void)
{
    lp_options_t o = kv_opts("\n", 32);
    char big[20000];
    lp_parser_t *p = NULL;
    lp_framer_t *f = NULL;

    memset(big, 'x', sizeof(big));
    memcpy(big, "a=1\n", 4);
    memcpy(big + sizeof(big) - 8, "\nb=2\nc=", 7);
    big[sizeof(big) - 1] = '3';
    CU_ASSERT_STRING_EQUAL(frame_n(&o, big, sizeof(big)), "a=1; !too_long; b=2; !incomplete; ");
    CU_ASSERT_EQUAL(counters.errors[LP_TOO_LONG], 1);
    CU_ASSERT_EQUAL(counters.errors[LP_INCOMPLETE], 1);
    CU_ASSERT_EQUAL(counters.readings, 2);
    /* One report per over-long line, however it is fed. */
    log_len = 0;
    CU_ASSERT_EQUAL_FATAL(lp_parser_new(&o, &p), 0);
    CU_ASSERT_EQUAL_FATAL(lp_framer_new(p, &sink, &f), 0);
    for (size_t i = 0; i < sizeof(big) - 7; i++)
        lp_framer_feed(f, big + i, 1);
    lp_framer_feed(f, "b=9\n", 4);
    CU_ASSERT_STRING_EQUAL(log_buf, "a=1; !too_long; b=9; ");
    CU_ASSERT_EQUAL(lp_parser_counters(p)->errors[LP_TOO_LONG], 1);
    lp_framer_free(f);
    lp_parser_free(p);
}

static void test_incomplete_and_finish(void)
{
    lp_options_t o = kv_opts("\n", 4096);
    lp_parser_t *p = NULL;
    lp_framer_t *f = NULL;

    CU_ASSERT_STRING_EQUAL(FRAME(&o, "a=1\nb=2"), "a=1; !incomplete; ");
    CU_ASSERT_EQUAL(err_len, 3);
    CU_ASSERT_STRING_EQUAL(err_line, "b=2");
    CU_ASSERT_EQUAL(counters.readings, 1);
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "a=1\n \r"), "a=1; ");
    CU_ASSERT_STRING_EQUAL(FRAME(&o, ""), "");
    o.delimiter = "\r\n";
    CU_ASSERT_STRING_EQUAL(FRAME(&o, "a=1\r"), "!incomplete; ");
    /* finish resets: the next connection starts clean, even mid-discard. */
    o.max_line = 4;
    log_len = 0;
    CU_ASSERT_EQUAL_FATAL(lp_parser_new(&o, &p), 0);
    CU_ASSERT_EQUAL_FATAL(lp_framer_new(p, &sink, &f), 0);
    lp_framer_feed(f, "a=2\r", 4);
    lp_framer_finish(f);
    lp_framer_feed(f, "\nb=3\r\nc=12345", 13);
    lp_framer_finish(f);
    lp_framer_feed(f, "d=4\r\n", 5);
    lp_framer_finish(f);
    lp_framer_finish(f);
    CU_ASSERT_STRING_EQUAL(log_buf, "!incomplete; b=3; !too_long; d=4; ");
    CU_ASSERT_EQUAL(lp_parser_counters(p)->errors[LP_INCOMPLETE], 1);
    lp_framer_free(f);
    lp_parser_free(p);
}

/*
 * The same stream cut at every position into two pieces, at every pair of
 * positions into three, and byte by byte must give the same log and counters
 * as one feed.
 */
static void check_all_splits(const lp_options_t *o, const char *in, const char *want)
{
    size_t n = strlen(in), cuts[2];
    char ref[sizeof(log_buf)];
    lp_counters_t ref_counters;
    int bad = 0;

    CU_ASSERT_STRING_EQUAL(frame_n(o, in, n), want);
    memcpy(ref, log_buf, sizeof(ref));
    ref_counters = counters;
    for (cuts[0] = 0; cuts[0] <= n; cuts[0]++) {
        for (cuts[1] = cuts[0]; cuts[1] <= n; cuts[1]++) {
            frame_cuts(o, in, n, cuts, 2);
            if (strcmp(log_buf, ref) != 0 || memcmp(&counters, &ref_counters, sizeof(counters)))
                bad++;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_STRING_EQUAL(frame_bytes(o, in, n), ref);
    CU_ASSERT_EQUAL(memcmp(&counters, &ref_counters, sizeof(counters)), 0);
}

static void test_every_split(void)
{
    lp_options_t o = kv_opts("\n", 16);

    check_all_splits(&o,
                     "a=1\r\nb=2\n\n  \r\nthis_is_way_too_long=1\nc=x y\r\nbad\n=3\n"
                     "d=true\re=5\r\nf=",
                     "a=1; b=2; !too_long; c=\"x\"; !bad_kv; !bad_kv; !bad_kv; d=true; e=5; "
                     "!incomplete; ");
    CU_ASSERT_EQUAL(counters.blank, 2);
    CU_ASSERT_EQUAL(counters.lines, 6);
    CU_ASSERT_EQUAL(counters.lines_ok, 3);
    o.delimiter = "\r\n";
    check_all_splits(&o, "a=1\r\n\r\nb=2\r\r\nthis_is_way_too_long=1\r\nc=3\r\n\r",
                     "a=1; b=2; !too_long; c=3; ");
    o.delimiter = "aab";
    check_all_splits(&o, "k=1aaabv=aaaabxxxxxxxxxxxxxxxxaaaaaabw=2aab",
                     "k=\"1a\"; v=\"aa\"; !too_long; w=2; ");
    o.format = LP_FORMAT_JSON;
    o.delimiter = "\n";
    o.max_line = 4096;
    check_all_splits(&o, "{\"sensor\":\"t\",\n\"value\":1}\r\n[]\n{\"sensor\":\"u\",\"value\":2}",
                     "!bad_json; !bad_json; !not_object; !incomplete; ");
}

static void test_options_check(void)
{
    lp_options_t o;
    lp_parser_t *p = (lp_parser_t *)&o;

    lp_options_init(&o);
    CU_ASSERT_PTR_NULL(lp_options_check(&o));
    CU_ASSERT_EQUAL(o.format, LP_FORMAT_JSON);
    CU_ASSERT_STRING_EQUAL(o.delimiter, "\n");
    CU_ASSERT_EQUAL(o.max_line, 4096);
    CU_ASSERT_EQUAL(o.separator, ',');
    o.delimiter = "";
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o));
    CU_ASSERT_EQUAL(lp_parser_new(&o, &p), -EINVAL);
    CU_ASSERT_PTR_NULL(p);
    o.delimiter = "123456789";
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o));
    o.delimiter = "12345678";
    CU_ASSERT_PTR_NULL(lp_options_check(&o));
    o.max_line = 0;
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o));
    o.max_line = LP_MAX_LINE_LIMIT + 1;
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o));
    o.max_line = 1;
    o.sensor_prefix = "a/";
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o));
    o.sensor_prefix = "a.";
    o.default_unit = "\x01";
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o));
    o.default_unit = NULL;
    o.value_key = "";
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o));
    o.value_key = "v";
    o.unit_key = o.ts_key = NULL;
    CU_ASSERT_PTR_NULL(lp_options_check(&o));
    o.format = (lp_format_t)7;
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o));
}

static void test_options_csv(void)
{
    lp_options_t o;

    lp_options_init(&o);
    o.format = LP_FORMAT_CSV;
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o)); /* no columns */
    o.columns[0] = LP_COL_SENSOR;
    o.columns[1] = LP_COL_VALUE;
    o.ncolumns = 2;
    CU_ASSERT_PTR_NULL(lp_options_check(&o));
    o.separator = '\n';
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o));
    o.separator = ';';
    o.delimiter = "\r;";
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o));
    o.delimiter = "\n";
    o.columns[1] = LP_COL_SENSOR;
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o)); /* two sensors, no value */
    o.columns[1] = LP_COL_VALUE;
    o.columns[2] = LP_COL_TS;
    o.columns[3] = LP_COL_TS;
    o.ncolumns = 4;
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o));
    o.columns[3] = (lp_role_t)9;
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o));
    o.columns[3] = LP_COL_IGNORE;
    CU_ASSERT_PTR_NULL(lp_options_check(&o));
    o.ncolumns = LP_MAX_COLUMNS + 1;
    CU_ASSERT_PTR_NOT_NULL(lp_options_check(&o));
}

static void test_names_parse(void)
{
    CU_ASSERT_EQUAL(lp_format_parse("json"), LP_FORMAT_JSON);
    CU_ASSERT_EQUAL(lp_format_parse("csv"), LP_FORMAT_CSV);
    CU_ASSERT_EQUAL(lp_format_parse("kv"), LP_FORMAT_KV);
    CU_ASSERT_EQUAL(lp_format_parse("JSON"), -EINVAL);
    CU_ASSERT_EQUAL(lp_format_parse(NULL), -EINVAL);
    CU_ASSERT_EQUAL(lp_role_parse("_"), LP_COL_IGNORE);
    CU_ASSERT_EQUAL(lp_role_parse("sensor"), LP_COL_SENSOR);
    CU_ASSERT_EQUAL(lp_role_parse("value"), LP_COL_VALUE);
    CU_ASSERT_EQUAL(lp_role_parse("unit"), LP_COL_UNIT);
    CU_ASSERT_EQUAL(lp_role_parse("ts"), LP_COL_TS);
    CU_ASSERT_EQUAL(lp_role_parse("time"), -EINVAL);
}

/* lp_parser_new copies every string: the caller may free its config. */
static void test_options_copied(void)
{
    char key[8] = "id", prefix[8] = "p_", unit[8] = "V", delim[8] = ";";
    lp_options_t o;
    lp_parser_t *p = NULL;
    lp_framer_t *f = NULL;

    lp_options_init(&o);
    o.sensor_key = key;
    o.sensor_prefix = prefix;
    o.default_unit = unit;
    o.delimiter = delim;
    CU_ASSERT_EQUAL_FATAL(lp_parser_new(&o, &p), 0);
    memset(key, 'z', 7);
    memset(prefix, 'z', 7);
    memset(unit, 'z', 7);
    memset(delim, 'z', 7);
    CU_ASSERT_EQUAL_FATAL(lp_framer_new(p, &sink, &f), 0);
    log_len = 0;
    lp_framer_feed(f, "{\"id\":\"a\",\"value\":1};", strlen("{\"id\":\"a\",\"value\":1};"));
    CU_ASSERT_STRING_EQUAL(log_buf, "p_a=1; ");
    lp_framer_free(f);
    lp_parser_free(p);
    lp_framer_free(NULL);
    lp_parser_free(NULL);
}

static void test_reason_names(void)
{
    static const char *const want[LP_REASON_COUNT] = {
        "ok",         "too_long",  "incomplete", "bad_json", "not_object", "missing_field",
        "bad_number", "bad_value", "bad_unit",   "bad_name", "bad_kv",
    };

    for (int i = 0; i < LP_REASON_COUNT; i++)
        CU_ASSERT_STRING_EQUAL(lp_reason_name(i), want[i]);
    CU_ASSERT_STRING_EQUAL(lp_reason_name(LP_TOO_LONG), "too_long");
    CU_ASSERT_STRING_EQUAL(lp_reason_name(LP_BAD_KV), "bad_kv");
    CU_ASSERT_STRING_EQUAL(lp_reason_name(-1), "unknown");
    CU_ASSERT_STRING_EQUAL(lp_reason_name(LP_REASON_COUNT), "unknown");
}

int line_parser_suite(void)
{
    static const sb_test_t tests[] = {
        {"framer \\n and \\r\\n", test_lf_and_crlf},
        {"framer blank lines", test_blank_lines_between},
        {"framer custom delimiters", test_custom_delimiters},
        {"framer delimiter split across feeds", test_delimiter_split_across_feeds},
        {"framer max_line boundary", test_max_line_boundary},
        {"framer over-long line mid-stream", test_too_long_mid_stream},
        {"framer incomplete and finish", test_incomplete_and_finish},
        {"framer every split", test_every_split},
        {"options check", test_options_check},
        {"options csv", test_options_csv},
        {"format and role names", test_names_parse},
        {"options copied", test_options_copied},
        {"reason names", test_reason_names},
    };
    CU_pSuite s = CU_add_suite("line_parser", NULL, NULL);

    if (!s)
        return -1;
    if (SB_ADD_TESTS(s, tests) != 0)
        return -1;
    return line_parser_format_tests(s);
}

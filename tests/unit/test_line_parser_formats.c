/*
 * Tests of line parsing (json, csv, kv), values, timestamps and sensor-name
 * rules, one line at a time through lp_parse_line(). The framer and the
 * options are tested in test_line_parser.c, which registers these tests too.
 *
 * Every result is rendered into one log string, readings as
 * `name=value [unit] @ts_ms; ` and rejections as `!reason; `, and compared
 * whole, so an extra, missing or different reading fails the test.
 */
#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/line_parser.h"
#include "gateway/reading.h"
#include "suites.h"

int line_parser_format_tests(CU_pSuite s); /* called by line_parser_suite() */

static char log_buf[4096];
static size_t log_len;
static lp_counters_t counters;
static lp_reason_t result;

__attribute__((format(printf, 1, 2))) static void logf_(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(log_buf + log_len, sizeof(log_buf) - log_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        log_len += (size_t)n < sizeof(log_buf) - log_len ? (size_t)n : 0;
}

/* The shortest form that reads back exactly: 21.5, not 21.500000000000000. */
static void log_double(double v)
{
    char tmp[32];

    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    logf_("%s", tmp);
}

static void on_reading(void *ctx, const lp_reading_t *r)
{
    (void)ctx;
    /* The promise the gateway relies on, checked for every reading. */
    CU_ASSERT_PTR_NULL(gw_topic_level_check(r->sensor));
    logf_("%s=", r->sensor);
    if (r->kind == GW_VALUE_DOUBLE)
        log_double(r->value.d);
    else if (r->kind == GW_VALUE_BOOL)
        logf_("%s", r->value.b ? "true" : "false");
    else if (r->kind == GW_VALUE_STRING)
        logf_("\"%s\"", r->value.s);
    else
        logf_("?kind%d", (int)r->kind);
    if (r->unit)
        logf_(" [%s]", r->unit);
    if (r->has_ts)
        logf_(" @%lld", (long long)r->ts_ms);
    logf_("; ");
}

static void on_error(void *ctx, lp_reason_t reason, const char *line, size_t len)
{
    (void)ctx;
    (void)line;
    (void)len;
    logf_("!%s; ", lp_reason_name(reason));
}

static const lp_sink_t sink = {on_reading, on_error, NULL};

/* Parses one line with fresh counters; returns the log. */
static const char *parse_n(const lp_options_t *o, const char *line, size_t len)
{
    lp_parser_t *p = NULL;

    log_len = 0;
    log_buf[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(lp_parser_new(o, &p), 0);
    result = lp_parse_line(p, line, len, &sink);
    counters = *lp_parser_counters(p);
    lp_parser_free(p);
    return log_buf;
}

#define PARSE(o, lit) parse_n(o, lit, sizeof(lit) - 1)

static lp_options_t opts(lp_format_t format)
{
    lp_options_t o;

    lp_options_init(&o);
    o.format = format;
    return o;
}

/* CSV options from role names, e.g. "sensor value unit ts". */
static lp_options_t csv_opts(const char *roles)
{
    lp_options_t o = opts(LP_FORMAT_CSV);
    char buf[128], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", roles);
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        int role = lp_role_parse(t);

        CU_ASSERT_FATAL(role >= 0);
        o.columns[o.ncolumns++] = (lp_role_t)role;
    }
    return o;
}

static void test_json_basic(void)
{
    lp_options_t o = opts(LP_FORMAT_JSON);

    CU_ASSERT_STRING_EQUAL(
        PARSE(&o, "{\"sensor\":\"t1\",\"value\":21.5,\"unit\":\"C\",\"ts\":1700000000}"),
        "t1=21.5 [C] @1700000000000; ");
    CU_ASSERT_EQUAL(result, LP_OK);
    CU_ASSERT_EQUAL(counters.lines, 1);
    CU_ASSERT_EQUAL(counters.lines_ok, 1);
    CU_ASSERT_EQUAL(counters.readings, 1);
    /* Key order, whitespace, other keys and a trailing '\r' do not matter. */
    CU_ASSERT_STRING_EQUAL(
        PARSE(&o, " { \"x\": [1, {}], \"value\" : -4e-3 , \"sensor\" : \"t2\" } \r"),
        "t2=-0.004; ");
}

static void test_json_value_kinds(void)
{
    lp_options_t o = opts(LP_FORMAT_JSON);

    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":true}"), "a=true; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":false}"), "a=false; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":40}"), "a=40; ");
    /* JSON strings stay strings, even when they look like numbers. */
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":\"21.5\"}"), "a=\"21.5\"; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":\"caf\\u00e9 \\\"x\\\"\"}"),
                           "a=\"caf\xc3\xa9 \"x\"\"; ");
}

static void test_json_custom_keys(void)
{
    lp_options_t o = opts(LP_FORMAT_JSON);

    o.sensor_key = "id";
    o.value_key = "v";
    o.unit_key = "u";
    o.ts_key = "time";
    CU_ASSERT_STRING_EQUAL(
        PARSE(&o, "{\"id\":\"p\",\"v\":1,\"u\":\"bar\",\"time\":2,\"sensor\":\"no\",\"ts\":9}"),
        "p=1 [bar] @2000; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"p\",\"value\":1}"), "!missing_field; ");
    /* Keys are case-sensitive. */
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"ID\":\"p\",\"v\":1}"), "!missing_field; ");
    /* Without a ts key the device's timestamps are not read. */
    o.ts_key = NULL;
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"id\":\"p\",\"v\":1,\"time\":\"junk\"}"), "p=1; ");
}

static void test_json_ts(void)
{
    lp_options_t o = opts(LP_FORMAT_JSON);

    /* Seconds up to 1e11, fractions kept to the millisecond. */
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1,\"ts\":1700000000.1234}"),
                           "a=1 @1700000000123; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1,\"ts\":1e11}"),
                           "a=1 @100000000000000; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1,\"ts\":0}"), "a=1 @0; ");
    /* Milliseconds above. */
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1,\"ts\":100000000001}"),
                           "a=1 @100000000001; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1,\"ts\":1763736903123}"),
                           "a=1 @1763736903123; ");
    /* null is absent; anything but a number in range is bad_number. */
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1,\"ts\":null}"), "a=1; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1,\"ts\":\"1700000000\"}"),
                           "!bad_number; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1,\"ts\":-1}"), "!bad_number; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1,\"ts\":1.1e15}"),
                           "!bad_number; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1,\"ts\":true}"),
                           "!bad_number; ");
}

static void test_json_errors(void)
{
    lp_options_t o = opts(LP_FORMAT_JSON);

    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":"), "!bad_json; ");
    CU_ASSERT_EQUAL(result, LP_BAD_JSON);
    CU_ASSERT_EQUAL(counters.errors[LP_BAD_JSON], 1);
    CU_ASSERT_EQUAL(counters.lines, 1);
    CU_ASSERT_EQUAL(counters.lines_ok, 0);
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1} x"), "!bad_json; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1}{}"), "!bad_json; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "temp=1"), "!bad_json; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "[1,2]"), "!not_object; ");
    CU_ASSERT_EQUAL(result, LP_NOT_OBJECT);
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "42"), "!not_object; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "\"s\""), "!not_object; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\"}"), "!missing_field; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"value\":1}"), "!missing_field; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":12,\"value\":1}"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"\",\"value\":1}"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":null}"), "!bad_value; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":[1]}"), "!bad_value; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":{}}"), "!bad_value; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1e999}"), "!bad_number; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1,\"unit\":5}"), "!bad_unit; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1,\"unit\":\"\\u0007\"}"),
                           "!bad_unit; ");
    CU_ASSERT_EQUAL(counters.errors[LP_BAD_UNIT], 1);
}

/* cJSON would cut strings at a NUL; the parser must reject instead. */
static void test_json_nul(void)
{
    lp_options_t o = opts(LP_FORMAT_JSON);

    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"ab\\u0000cd\",\"value\":1}"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"ab\0cd\",\"value\":1}"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":\"x\\u0000y\"}"), "!bad_value; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1,\"unit\":\"C\\u0000\"}"),
                           "!bad_unit; ");
    /* A key with a NUL must not match "sensor". */
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\\u0000x\":\"a\",\"value\":1}"), "!missing_field; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":1}\0"), "!bad_json; ");
    /* An escaped backslash followed by "u0000" is text, not a NUL. */
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\\\\u0000\",\"value\":\"\\\"\\\\\"}"),
                           "a\\u0000=\"\"\\\"; ");
}

static void test_json_invalid_utf8(void)
{
    lp_options_t o = opts(LP_FORMAT_JSON);

    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\xff\",\"value\":1}"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"\xc0\xaf\",\"value\":1}"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"\xed\xa0\x80\",\"value\":1}"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"\xe2\x82\",\"value\":1}"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"a\",\"value\":\"\xf5\x80\x80\x80\"}"),
                           "!bad_value; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "{\"sensor\":\"caf\xc3\xa9\xf0\x9f\x8c\xa1\",\"value\":1}"),
                           "caf\xc3\xa9\xf0\x9f\x8c\xa1=1; ");
}

static void test_csv_basic(void)
{
    lp_options_t o = csv_opts("sensor value unit ts");

    CU_ASSERT_STRING_EQUAL(PARSE(&o, "t1, 21.5 ,C,1700000000"), "t1=21.5 [C] @1700000000000; ");
    CU_ASSERT_EQUAL(counters.lines_ok, 1);
    CU_ASSERT_STRING_EQUAL(PARSE(&o, " t 2 \t,\t-3e2,  m/s , 1700000000123 \r"),
                           "t 2=-300 [m/s] @1700000000123; ");
    /* Empty unit and ts fields are absent. */
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "t3,1,,"), "t3=1; ");
    /* Columns past the configured ones are ignored. */
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "t4,1,V,5,extra,more"), "t4=1 [V] @5000; ");
}

static void test_csv_roles_and_separator(void)
{
    lp_options_t o = csv_opts("_ value _ sensor");

    o.separator = ';';
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "2024-01-01;7.25;x,y;pump 1"), "pump 1=7.25; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,7.25,x,pump"), "!missing_field; ");
    o.separator = '\t';
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "d\t 8 \tx\t p "), "p=8; ");
}

static void test_csv_values(void)
{
    lp_options_t o = csv_opts("sensor value");

    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,true"), "a=true; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,false"), "a=false; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,True"), "a=\"True\"; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,on"), "a=\"on\"; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,1e3"), "a=1000; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,+5"), "a=5; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,-0.25"), "a=-0.25; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,0x1F"), "a=\"0x1F\"; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,12abc"), "a=\"12abc\"; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,N/A"), "a=\"N/A\"; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,x y"), "a=\"x y\"; ");
}

static void test_csv_errors(void)
{
    lp_options_t o = csv_opts("sensor value unit ts");

    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,1,C"), "!missing_field; ");
    CU_ASSERT_EQUAL(result, LP_MISSING_FIELD);
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a"), "!missing_field; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a, ,C,1"), "!missing_field; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, " ,1,C,1"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,nan,C,1"), "!bad_number; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,-inf,C,1"), "!bad_number; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,1e999,C,1"), "!bad_number; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,1,C,soon"), "!bad_number; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,1,C,0x10"), "!bad_number; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,1,C,-5"), "!bad_number; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,1,C\x01,1"), "!bad_unit; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,1,\xff,1"), "!bad_unit; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,x\xffy,C,1"), "!bad_value; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a,x\0y,C,1"), "!bad_value; ");
    CU_ASSERT_EQUAL(counters.errors[LP_BAD_VALUE], 1);
}

static void test_kv_basic(void)
{
    lp_options_t o = opts(LP_FORMAT_KV);

    CU_ASSERT_STRING_EQUAL(PARSE(&o, "temp=21.5 hum=40\tok=true  state=on \r"),
                           "temp=21.5; hum=40; ok=true; state=\"on\"; ");
    CU_ASSERT_EQUAL(result, LP_OK);
    CU_ASSERT_EQUAL(counters.readings, 4);
    CU_ASSERT_EQUAL(counters.lines_ok, 1);
    /* Only the first '=' separates. */
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "mode=a=b"), "mode=\"a=b\"; ");
}

static void test_kv_errors(void)
{
    lp_options_t o = opts(LP_FORMAT_KV);

    CU_ASSERT_STRING_EQUAL(PARSE(&o, "temp"), "!bad_kv; ");
    CU_ASSERT_EQUAL(result, LP_BAD_KV);
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "=5"), "!bad_kv; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a="), "!bad_kv; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "a=nan"), "!bad_number; ");
    /* Good pairs of a line survive its bad ones; each bad one is counted. */
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "t=1 junk h=2 = x\x01=3"),
                           "t=1; !bad_kv; h=2; !bad_kv; !bad_name; ");
    CU_ASSERT_EQUAL(result, LP_BAD_KV);
    CU_ASSERT_EQUAL(counters.readings, 2);
    CU_ASSERT_EQUAL(counters.errors[LP_BAD_KV], 2);
    CU_ASSERT_EQUAL(counters.errors[LP_BAD_NAME], 1);
    CU_ASSERT_EQUAL(counters.lines, 1);
    CU_ASSERT_EQUAL(counters.lines_ok, 0);
}

static void test_name_replacement(void)
{
    lp_options_t j = opts(LP_FORMAT_JSON), c = csv_opts("sensor value"), k = opts(LP_FORMAT_KV);

    CU_ASSERT_STRING_EQUAL(PARSE(&j, "{\"sensor\":\"a/b+c#d\",\"value\":1}"), "a_b_c_d=1; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&j, "{\"sensor\":\"\\/+#\",\"value\":1}"), "___=1; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&c, "/dev/x,1"), "_dev_x=1; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&k, "#=1 +=2 a/b=3"), "_=1; _=2; a_b=3; ");
}

static void test_name_rejection(void)
{
    lp_options_t j = opts(LP_FORMAT_JSON), c = csv_opts("sensor value"), k = opts(LP_FORMAT_KV);
    char line[300], want[300];

    CU_ASSERT_STRING_EQUAL(PARSE(&j, "{\"sensor\":\"a\\u0001\",\"value\":1}"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&j, "{\"sensor\":\"a\\tb\",\"value\":1}"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&j, "{\"sensor\":\"a\x7f\",\"value\":1}"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&c, "a\0b,1"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&c, "a\x1b[0m,1"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&c, "\xfe,1"), "!bad_name; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&k, "a\0b=1 c=2"), "!bad_name; c=2; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&k, "\xc3=1"), "!bad_name; ");
    /* 128 bytes are accepted, 129 are not; the prefix counts. */
    memset(line, 'n', 129);
    memcpy(line + 129, ",1", 3);
    CU_ASSERT_STRING_EQUAL(parse_n(&c, line, strlen(line)), "!bad_name; ");
    snprintf(want, sizeof(want), "%.128s=1; ", line);
    CU_ASSERT_STRING_EQUAL(parse_n(&c, line + 1, strlen(line + 1)), want);
    c.sensor_prefix = "dev1_";
    snprintf(want, sizeof(want), "dev1_%.123s=1; ", line);
    CU_ASSERT_STRING_EQUAL(parse_n(&c, line + 6, strlen(line + 6)), want);
    CU_ASSERT_STRING_EQUAL(parse_n(&c, line + 5, strlen(line + 5)), "!bad_name; ");
}

static void test_prefix_and_default_unit(void)
{
    lp_options_t j = opts(LP_FORMAT_JSON), c = csv_opts("sensor value unit"),
                 k = opts(LP_FORMAT_KV);

    j.sensor_prefix = c.sensor_prefix = k.sensor_prefix = "plc7.";
    j.default_unit = c.default_unit = k.default_unit = "celsius";
    CU_ASSERT_STRING_EQUAL(PARSE(&j, "{\"sensor\":\"t\",\"value\":1}"), "plc7.t=1 [celsius]; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&j, "{\"sensor\":\"t\",\"value\":1,\"unit\":\"K\"}"),
                           "plc7.t=1 [K]; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&j, "{\"sensor\":\"t\",\"value\":1,\"unit\":\"\"}"),
                           "plc7.t=1 [celsius]; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&j, "{\"sensor\":\"t\",\"value\":1,\"unit\":null}"),
                           "plc7.t=1 [celsius]; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&c, "a/b,2,"), "plc7.a_b=2 [celsius]; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&c, "a,2,F"), "plc7.a=2 [F]; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&k, "x=1 y=on"), "plc7.x=1 [celsius]; plc7.y=\"on\" [celsius]; ");
    /* An empty device name stays rejected behind a prefix. */
    CU_ASSERT_STRING_EQUAL(PARSE(&c, ",2,F"), "!bad_name; ");
}

static void test_blank_lines(void)
{
    lp_options_t o = opts(LP_FORMAT_JSON);

    CU_ASSERT_STRING_EQUAL(PARSE(&o, ""), "");
    CU_ASSERT_EQUAL(result, LP_OK);
    CU_ASSERT_EQUAL(counters.blank, 1);
    CU_ASSERT_EQUAL(counters.lines, 0);
    CU_ASSERT_STRING_EQUAL(PARSE(&o, " \t\r\v\f"), "");
    CU_ASSERT_EQUAL(counters.blank, 1);
    o = csv_opts("sensor value");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "   "), "");
    CU_ASSERT_EQUAL(counters.blank, 1);
    CU_ASSERT_STRING_EQUAL(PARSE(&o, " , "), "!bad_name; ");
    CU_ASSERT_EQUAL(counters.blank, 0);
}

static void test_parse_line_too_long(void)
{
    lp_options_t o = opts(LP_FORMAT_KV);

    o.max_line = 8;
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "abcd=1.5"), "abcd=1.5; ");
    CU_ASSERT_STRING_EQUAL(PARSE(&o, "abcd=1.25"), "!too_long; ");
    CU_ASSERT_EQUAL(result, LP_TOO_LONG);
    CU_ASSERT_EQUAL(counters.errors[LP_TOO_LONG], 1);
    CU_ASSERT_EQUAL(counters.lines, 0);
}

int line_parser_format_tests(CU_pSuite s)
{
    static const sb_test_t tests[] = {
        {"json basic", test_json_basic},
        {"json value kinds", test_json_value_kinds},
        {"json custom keys", test_json_custom_keys},
        {"json ts seconds vs ms", test_json_ts},
        {"json errors", test_json_errors},
        {"json NUL in strings", test_json_nul},
        {"json invalid UTF-8", test_json_invalid_utf8},
        {"csv basic", test_csv_basic},
        {"csv roles and separator", test_csv_roles_and_separator},
        {"csv values", test_csv_values},
        {"csv errors", test_csv_errors},
        {"kv basic", test_kv_basic},
        {"kv errors", test_kv_errors},
        {"name replacement / + #", test_name_replacement},
        {"name rejection", test_name_rejection},
        {"prefix and default unit", test_prefix_and_default_unit},
        {"blank lines", test_blank_lines},
        {"lp_parse_line too long", test_parse_line_too_long},
    };

    return SB_ADD_TESTS(s, tests);
}

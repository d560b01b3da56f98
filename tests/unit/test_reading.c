/* Tests of the JSON payload, topic templates and topic-level name checks. */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/reading.h"
#include "suites.h"

static gw_reading_t base_reading(void)
{
    gw_reading_t r = {0};

    r.sensor = "TEMP_00";
    r.adapter = "sim";
    r.seq = 41;
    r.ts_ms = 1763736903123;
    r.kind = GW_VALUE_DOUBLE;
    r.value.d = 49.87;
    r.unit = "celsius";
    return r;
}

static void test_json_documented_example(void)
{
    gw_reading_t r = base_reading();
    char buf[256];
    int n = gw_reading_to_json(&r, buf, sizeof(buf));
    const char *want = "{\"sensor\":\"TEMP_00\",\"adapter\":\"sim\",\"seq\":41,"
                       "\"ts\":1763736903123,\"value\":49.87,\"unit\":\"celsius\","
                       "\"quality\":\"good\"}";

    CU_ASSERT_EQUAL(n, (int)strlen(want));
    CU_ASSERT_STRING_EQUAL(buf, want);
}

static void test_json_bad_quality(void)
{
    gw_reading_t r = base_reading();
    char buf[256];

    r.kind = GW_VALUE_NONE;
    r.error = "timeout";
    r.unit = NULL;
    CU_ASSERT(gw_reading_to_json(&r, buf, sizeof(buf)) > 0);
    CU_ASSERT_STRING_EQUAL(buf, "{\"sensor\":\"TEMP_00\",\"adapter\":\"sim\",\"seq\":41,"
                                "\"ts\":1763736903123,\"value\":null,"
                                "\"quality\":\"bad\",\"error\":\"timeout\"}");
}

static void test_json_escaping(void)
{
    gw_reading_t r = base_reading();
    char buf[256];

    r.sensor = "a\"b\\c\n\t\x01\x1f";
    r.adapter = "caf\xc3\xa9";
    r.kind = GW_VALUE_STRING;
    r.value.s = "</\r\b\f>";
    r.unit = NULL;
    CU_ASSERT(gw_reading_to_json(&r, buf, sizeof(buf)) > 0);
    CU_ASSERT_STRING_EQUAL(buf, "{\"sensor\":\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\","
                                "\"adapter\":\"caf\xc3\xa9\",\"seq\":41,\"ts\":1763736903123,"
                                "\"value\":\"</\\r\\b\\f>\",\"quality\":\"good\"}");
}

static void test_json_values(void)
{
    gw_reading_t r = base_reading();
    char buf[256];
    static const struct {
        double d;
        const char *text;
    } doubles[] = {{0.1, "0.1"},
                   {-2.5, "-2.5"},
                   {1e21, "1e+21"},
                   {100, "100"},
                   {1.0 / 3, "0.3333333333333333"},
                   {NAN, "null"},
                   {INFINITY, "null"}};

    r.unit = NULL;
    for (size_t i = 0; i < sizeof(doubles) / sizeof(doubles[0]); i++) {
        char want[128];

        r.value.d = doubles[i].d;
        CU_ASSERT(gw_reading_to_json(&r, buf, sizeof(buf)) > 0);
        snprintf(want, sizeof(want), "\"value\":%s,", doubles[i].text);
        CU_ASSERT_PTR_NOT_NULL(strstr(buf, want));
    }
    r.kind = GW_VALUE_INT;
    r.value.i = INT64_MIN;
    CU_ASSERT(gw_reading_to_json(&r, buf, sizeof(buf)) > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"value\":-9223372036854775808,"));
    r.kind = GW_VALUE_UINT;
    r.value.u = UINT64_MAX;
    CU_ASSERT(gw_reading_to_json(&r, buf, sizeof(buf)) > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"value\":18446744073709551615,"));
    r.kind = GW_VALUE_BOOL;
    r.value.b = true;
    CU_ASSERT(gw_reading_to_json(&r, buf, sizeof(buf)) > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"value\":true,"));
}

/* The encoder's double, as it was written before its fast path for short
 * decimals: the shortest of %.15g/%.16g/%.17g that reads back exactly. */
static void reference_double(double v, char *buf, size_t cap)
{
    if (!isfinite(v)) {
        snprintf(buf, cap, "null");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Every double written as the reference writes it: short decimals (the fast
 * path) at every scale around its limits, and arbitrary bit patterns. */
static void test_json_double_against_reference(void)
{
    static const double scale[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12};
    static const double edges[] = {0.0,
                                   -0.0,
                                   1e-4,
                                   9.99e-5,
                                   1e15,
                                   999999999999999.0,
                                   1e15 - 0.5,
                                   0.1 + 0.2,
                                   123456789.123456789,
                                   5e-324,
                                   1.7976931348623157e308,
                                   -1e-4,
                                   0.30000000000000004};
    gw_reading_t r = base_reading();
    uint64_t x = 0x9e3779b97f4a7c15u;
    char got[64], want[64];
    int mismatches = 0;

    r.kind = GW_VALUE_DOUBLE;
    for (size_t i = 0; i < 300000 + sizeof(edges) / sizeof(edges[0]); i++) {
        double v;

        if (i < sizeof(edges) / sizeof(edges[0])) {
            v = edges[i];
        } else if (i % 3 == 0) {
            uint64_t bits = xorshift(&x);

            memcpy(&v, &bits, sizeof(v));
        } else {
            int64_t k = (int64_t)(xorshift(&x) % 2000000001u) - 1000000000;
            int64_t wide = (int64_t)(xorshift(&x) >> 11); /* up to 2^53 */

            v = (double)(i % 3 == 1 ? k : wide) / scale[xorshift(&x) % 13];
            if (i % 7 == 0)
                v *= 1e-6;
        }
        r.value.d = v;
        reference_double(v, want, sizeof(want));
        CU_ASSERT_FATAL(gw_reading_value_json(&r, got, sizeof(got)) > 0);
        if (strcmp(got, want) != 0 && mismatches++ < 5) /* the first few */
            CU_ASSERT_STRING_EQUAL(got, want);
    }
    CU_ASSERT_EQUAL(mismatches, 0);
}

static void test_json_buffer_too_small(void)
{
    gw_reading_t r = base_reading();
    char buf[256];
    int n = gw_reading_to_json(&r, buf, sizeof(buf));

    CU_ASSERT(n > 0);
    /* Exactly the length plus the NUL fits; one byte less does not. */
    CU_ASSERT_EQUAL(gw_reading_to_json(&r, buf, (size_t)n + 1), n);
    CU_ASSERT_EQUAL(gw_reading_to_json(&r, buf, (size_t)n), -ENOSPC);
    CU_ASSERT_EQUAL(gw_reading_to_json(&r, buf, 0), -ENOSPC);
}

static void test_topic_render(void)
{
    char buf[64];

    CU_ASSERT_EQUAL(gw_topic_render("sensorbridge/{gateway}/{adapter}/{sensor}", "pi-01", "sim",
                                    "TEMP_00", buf, sizeof(buf)),
                    (int)strlen("sensorbridge/pi-01/sim/TEMP_00"));
    CU_ASSERT_STRING_EQUAL(buf, "sensorbridge/pi-01/sim/TEMP_00");
    CU_ASSERT(gw_topic_render("x/{sensor}/{sensor}", "g", "a", "s", buf, sizeof(buf)) > 0);
    CU_ASSERT_STRING_EQUAL(buf, "x/s/s");
    CU_ASSERT_EQUAL(gw_topic_render("{gateway}/{sensor}", "gateway", "a", "sensor", buf, 12),
                    -ENOSPC);
}

static void test_topic_check(void)
{
    CU_ASSERT_PTR_NULL(gw_topic_check("sensorbridge/{gateway}/{adapter}/{sensor}"));
    CU_ASSERT_PTR_NULL(gw_topic_check("plain/topic"));
    CU_ASSERT_STRING_EQUAL(gw_topic_check(""), "topic template is empty");
    CU_ASSERT_STRING_EQUAL(gw_topic_check("a/{host}/b"),
                           "topic template has an unknown placeholder (use {gateway}, {adapter} "
                           "or {sensor})");
    CU_ASSERT_STRING_EQUAL(gw_topic_check("a/{sensor"),
                           "topic template has an unknown placeholder (use {gateway}, {adapter} "
                           "or {sensor})");
    CU_ASSERT_STRING_EQUAL(gw_topic_check("a/sensor}"), "topic template has a '}' without '{'");
    CU_ASSERT_STRING_EQUAL(gw_topic_check("a/+/b"),
                           "topic template contains a wildcard ('+' or '#')");
    CU_ASSERT_STRING_EQUAL(gw_topic_check("a/#"),
                           "topic template contains a wildcard ('+' or '#')");
}

static void test_topic_level_check(void)
{
    CU_ASSERT_PTR_NULL(gw_topic_level_check("TEMP_00"));
    CU_ASSERT_PTR_NULL(gw_topic_level_check("K\xc3\xbc"
                                            "che \xe2\x82\xac \xf0\x9f\x8c\xa1"));
    CU_ASSERT_STRING_EQUAL(gw_topic_level_check(""), "name is empty");
    CU_ASSERT_STRING_EQUAL(gw_topic_level_check("a/b"), "name contains '/', '+' or '#'");
    CU_ASSERT_STRING_EQUAL(gw_topic_level_check("a+"), "name contains '/', '+' or '#'");
    CU_ASSERT_STRING_EQUAL(gw_topic_level_check("#"), "name contains '/', '+' or '#'");
    CU_ASSERT_STRING_EQUAL(gw_topic_level_check("a\tb"), "name contains a control character");
    CU_ASSERT_STRING_EQUAL(gw_topic_level_check("a\x7f"), "name contains a control character");
    /* Truncated sequence, overlong encoding, surrogate, above U+10FFFF, stray continuation. */
    CU_ASSERT_STRING_EQUAL(gw_topic_level_check("a\xc3"), "name is not valid UTF-8");
    CU_ASSERT_STRING_EQUAL(gw_topic_level_check("\xc0\xaf"), "name is not valid UTF-8");
    CU_ASSERT_STRING_EQUAL(gw_topic_level_check("\xed\xa0\x80"), "name is not valid UTF-8");
    CU_ASSERT_STRING_EQUAL(gw_topic_level_check("\xf4\x90\x80\x80"), "name is not valid UTF-8");
    CU_ASSERT_STRING_EQUAL(gw_topic_level_check("\x80"), "name is not valid UTF-8");
}

int reading_suite(void)
{
    CU_pSuite s = CU_add_suite("reading", NULL, NULL);

    if (!s || !CU_add_test(s, "JSON: documented example", test_json_documented_example) ||
        !CU_add_test(s, "JSON: bad quality", test_json_bad_quality) ||
        !CU_add_test(s, "JSON: string escaping", test_json_escaping) ||
        !CU_add_test(s, "JSON: value kinds", test_json_values) ||
        !CU_add_test(s, "JSON: doubles as the shortest %.15g/%.16g/%.17g that reads back",
                     test_json_double_against_reference) ||
        !CU_add_test(s, "JSON: buffer too small", test_json_buffer_too_small) ||
        !CU_add_test(s, "topic: render", test_topic_render) ||
        !CU_add_test(s, "topic: template check", test_topic_check) ||
        !CU_add_test(s, "topic: level name check", test_topic_level_check))
        return -1;
    return 0;
}

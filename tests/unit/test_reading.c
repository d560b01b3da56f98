/* Tests of the JSON payload, topic templates and topic-level name checks. */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <math.h>
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
        !CU_add_test(s, "JSON: buffer too small", test_json_buffer_too_small) ||
        !CU_add_test(s, "topic: render", test_topic_render) ||
        !CU_add_test(s, "topic: template check", test_topic_check) ||
        !CU_add_test(s, "topic: level name check", test_topic_level_check))
        return -1;
    return 0;
}

/*
 * The command line of a line device (adapters/raw_tcp_write.c): templates
 * checked, values rendered as text (exact integers, shortest doubles,
 * booleans, strings as they are) and every refusal with its message.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "adapters/raw_tcp.h"
#include "gateway/command_json.h"
#include "suites.h"

static char out[RTCP_MAX_COMMAND];

static const char *render(const char *tmpl, const cj_value_t *v)
{
    const char *why = NULL;
    ssize_t n = rtcp_command_render(tmpl, "valve", v, "\n", out, sizeof(out), &why);

    CU_ASSERT(n >= 0);
    CU_ASSERT(n < 0 || (size_t)n == strlen(out));
    return n >= 0 ? out : why;
}

static cj_value_t number(double d)
{
    return (cj_value_t){.kind = CJ_NUMBER, .d = d};
}

static cj_value_t integer(bool neg, uint64_t mag)
{
    return (cj_value_t){.kind = CJ_NUMBER,
                        .d = neg ? -(double)mag : (double)mag,
                        .is_int = true,
                        .neg = neg,
                        .mag = mag};
}

static cj_value_t string(const char *s)
{
    return (cj_value_t){.kind = CJ_STRING, .s = s, .s_len = strlen(s)};
}

static void test_values(void)
{
    cj_value_t v;

    v = number(21.5);
    CU_ASSERT_STRING_EQUAL(render("SET {sensor} {value}\n", &v), "SET valve 21.5\n");
    v = number(0.1);
    CU_ASSERT_STRING_EQUAL(render("{value}", &v), "0.1");
    v = number(1.0 / 3.0);
    CU_ASSERT_STRING_EQUAL(render("{value}", &v), "0.3333333333333333");
    v = number(-1e300);
    CU_ASSERT_STRING_EQUAL(render("{value}", &v), "-1e+300");
    v = number(1000.0); /* "1e3" or "1000.0" in the command */
    CU_ASSERT_STRING_EQUAL(render("{value}", &v), "1000");
    v = integer(false, UINT64_MAX); /* never through a double */
    CU_ASSERT_STRING_EQUAL(render("{value}", &v), "18446744073709551615");
    v = integer(true, (uint64_t)INT64_MAX + 1);
    CU_ASSERT_STRING_EQUAL(render("{value}", &v), "-9223372036854775808");
    v = integer(true, 0); /* -0 */
    CU_ASSERT_STRING_EQUAL(render("{value}", &v), "0");
    v = (cj_value_t){.kind = CJ_BOOL, .b = true};
    CU_ASSERT_STRING_EQUAL(render("{sensor}={value};", &v), "valve=true;");
    v.b = false;
    CU_ASSERT_STRING_EQUAL(render("{sensor}={value};", &v), "valve=false;");
    v = string("open all \"the\" way, ünïcode");
    CU_ASSERT_STRING_EQUAL(render("{value}\r\n", &v), "open all \"the\" way, ünïcode\r\n");
    v = string("");
    CU_ASSERT_STRING_EQUAL(render("{value}", &v), "");
}

static void test_templates(void)
{
    cj_value_t v = number(7);
    size_t at = 99;

    /* Braces that are no placeholder are text: a JSON template works. */
    CU_ASSERT_STRING_EQUAL(render("{\"set\":\"{sensor}\",\"v\":{value}}\n", &v),
                           "{\"set\":\"valve\",\"v\":7}\n");
    CU_ASSERT_STRING_EQUAL(render("{} { {value}{value}} {sensor", &v), "{} { 77} {sensor");
    CU_ASSERT_PTR_NULL(rtcp_command_check("SET {sensor} {value}\n", &at));
    CU_ASSERT_PTR_NULL(rtcp_command_check("{\"v\":{value}}", &at));
    CU_ASSERT_PTR_NULL(rtcp_command_check("{ {} {-x}", &at));
    CU_ASSERT_STRING_EQUAL(rtcp_command_check("SET {sensor} {id}\n", &at), "unknown placeholder");
    CU_ASSERT_EQUAL(at, 13);
    CU_ASSERT_STRING_EQUAL(rtcp_command_check("{Value}", &at), "unknown placeholder");
    CU_ASSERT_EQUAL(at, 0);
    CU_ASSERT_STRING_EQUAL(rtcp_command_check("", &at), "empty");
}

static const char *refusal(const char *tmpl, const cj_value_t *v, const char *delim, size_t cap)
{
    const char *why = NULL;

    memset(out, 'z', sizeof(out));
    CU_ASSERT_EQUAL(rtcp_command_render(tmpl, "valve", v, delim, out, cap, &why), -EINVAL);
    return why ? why : "(none)";
}

static void test_refusals(void)
{
    char big[RTCP_MAX_COMMAND + 1];
    const char *why;
    cj_value_t v;

    v = string("a\nb");
    CU_ASSERT_STRING_EQUAL(refusal("{value}\n", &v, "\n", sizeof(out)),
                           "string has a control character");
    v = string("tab\there");
    CU_ASSERT_STRING_EQUAL(refusal("{value}\n", &v, "\n", sizeof(out)),
                           "string has a control character");
    v = string("del\x7f");
    CU_ASSERT_STRING_EQUAL(refusal("{value}\n", &v, "\n", sizeof(out)),
                           "string has a control character");
    v = string("a;b");
    CU_ASSERT_STRING_EQUAL(refusal("{value};", &v, ";", sizeof(out)),
                           "string contains the line delimiter");
    v = number(INFINITY);
    CU_ASSERT_STRING_EQUAL(refusal("{value}", &v, "\n", sizeof(out)), "number out of range");
    v = (cj_value_t){.kind = CJ_NULL};
    CU_ASSERT_STRING_EQUAL(refusal("{value}", &v, "\n", sizeof(out)),
                           "\"value\" must be a number, true, false or a string");
    /* The line must fit with its NUL; nothing is written past cap. */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    v = string(big + 1); /* "{value}\n" then takes cap bytes, the NUL one more */
    CU_ASSERT_STRING_EQUAL(refusal("{value}\n", &v, "\n", sizeof(out)), "command too long");
    v = string(big + 2);
    CU_ASSERT_EQUAL(rtcp_command_render("{value}\n", "valve", &v, "\n", out, sizeof(out), &why),
                    RTCP_MAX_COMMAND - 1);
    v = number(12345);
    CU_ASSERT_STRING_EQUAL(refusal("SET {value}", &v, "\n", 8), "command too long");
    CU_ASSERT_EQUAL(out[8], 'z');
}

int raw_tcp_write_suite(void)
{
    static const sb_test_t tests[] = {
        {"values as text", test_values},
        {"templates", test_templates},
        {"refusals with their messages", test_refusals},
    };
    CU_pSuite s = CU_add_suite("raw_tcp_write", NULL, NULL);

    return s ? SB_ADD_TESTS(s, tests) : -1;
}

/*
 * Command payloads (gateway/command_json.c): every accepted shape with its
 * exact result, exact 64-bit integers, escapes, and every refusal with its
 * message.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gateway/command_json.h"
#include "suites.h"

static char buf[256];

static int parse(const char *text, cj_command_t *c, const char **why)
{
    *why = NULL;
    return cj_parse_command(text, strlen(text), buf, sizeof(buf), c, why);
}

static void test_bare_values(void)
{
    cj_command_t c;
    const char *why;

    CU_ASSERT_EQUAL(parse("21.5", &c, &why), 0);
    CU_ASSERT(c.value.kind == CJ_NUMBER && c.value.d == 21.5 && !c.value.is_int);
    CU_ASSERT(!c.has_id && !c.has_ts);
    CU_ASSERT_EQUAL(parse(" \t-32768\r\n", &c, &why), 0);
    CU_ASSERT(c.value.is_int && c.value.neg && c.value.mag == 32768 && c.value.d == -32768.0);
    CU_ASSERT_EQUAL(parse("true", &c, &why), 0);
    CU_ASSERT(c.value.kind == CJ_BOOL && c.value.b);
    CU_ASSERT_EQUAL(parse("false", &c, &why), 0);
    CU_ASSERT(c.value.kind == CJ_BOOL && !c.value.b);
    CU_ASSERT_EQUAL(parse("\"ON\"", &c, &why), 0);
    CU_ASSERT(c.value.kind == CJ_STRING && c.value.s_len == 2);
    CU_ASSERT_STRING_EQUAL(c.value.s, "ON");
    CU_ASSERT_EQUAL(parse("1e3", &c, &why), 0);
    CU_ASSERT(c.value.d == 1000.0 && !c.value.is_int); /* an exponent is not an integer literal */
    CU_ASSERT_EQUAL(parse("-0", &c, &why), 0);
    CU_ASSERT(c.value.is_int && c.value.mag == 0);
}

static void test_exact_integers(void)
{
    cj_command_t c;
    const char *why;

    CU_ASSERT_EQUAL(parse("18446744073709551615", &c, &why), 0);
    CU_ASSERT(c.value.is_int && !c.value.neg && c.value.mag == UINT64_MAX);
    CU_ASSERT_EQUAL(parse("9007199254740993", &c, &why), 0); /* 2^53 + 1 */
    CU_ASSERT(c.value.is_int && c.value.mag == 9007199254740993ull);
    CU_ASSERT(c.value.d == 9007199254740992.0); /* what a double would have said */
    CU_ASSERT_EQUAL(parse("-9223372036854775808", &c, &why), 0);
    CU_ASSERT(c.value.is_int && c.value.neg && c.value.mag == 9223372036854775808ull);
    CU_ASSERT_EQUAL(parse("18446744073709551616", &c, &why), 0); /* 2^64: a number, not exact */
    CU_ASSERT(!c.value.is_int && c.value.d == 18446744073709551616.0);
    CU_ASSERT_EQUAL(parse("1e999", &c, &why), 0);
    CU_ASSERT(isinf(c.value.d)); /* the encoder refuses it: not finite */
}

static void test_objects(void)
{
    cj_command_t c;
    const char *why;
    char out[64];

    CU_ASSERT_EQUAL(parse("{\"value\": 21.5, \"id\": \"abc\"}", &c, &why), 0);
    CU_ASSERT(c.value.kind == CJ_NUMBER && c.value.d == 21.5);
    CU_ASSERT(c.has_id && c.id.kind == CJ_STRING);
    CU_ASSERT_STRING_EQUAL(c.id.s, "abc");
    CU_ASSERT_EQUAL(
        parse("{ \"id\" : 7 , \"ts\":1765000000000,\"value\":true,\"x\":null }", &c, &why), 0);
    CU_ASSERT(c.value.kind == CJ_BOOL && c.value.b);
    CU_ASSERT(c.has_id && c.id.kind == CJ_NUMBER && c.id.mag == 7);
    CU_ASSERT(c.has_ts && c.ts_ms == 1765000000000);
    CU_ASSERT_EQUAL(cj_write_value(&c.id, out, sizeof(out)), 1);
    CU_ASSERT_STRING_EQUAL(out, "7");
    CU_ASSERT_EQUAL(
        parse("{\"value\":\"a\\\"b\\\\c\\/\\n\\u00e9\\ud83d\\ude00\",\"id\":\"q\\\"\"}", &c, &why),
        0);
    CU_ASSERT_STRING_EQUAL(c.value.s, "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80");
    CU_ASSERT_EQUAL(c.value.s_len, strlen("a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80"));
    CU_ASSERT_EQUAL(cj_write_value(&c.id, out, sizeof(out)), 5);
    CU_ASSERT_STRING_EQUAL(out, "\"q\\\"\"");
    CU_ASSERT_EQUAL(cj_write_value(&c.value, out, 4), -ENOSPC);
}

static void expect_refused(const char *text, const char *message)
{
    cj_command_t c;
    const char *why;

    CU_ASSERT_EQUAL(parse(text, &c, &why), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    if (strcmp(why, message) != 0)
        fprintf(stderr, "\n%s: got '%s', want '%s'\n", text, why, message);
    CU_ASSERT_STRING_EQUAL(why, message);
}

static void test_refusals(void)
{
    cj_command_t c;
    const char *why;

    expect_refused("", "not JSON");
    expect_refused("21.5x", "not JSON");
    expect_refused("NaN", "not JSON");
    expect_refused("Infinity", "not JSON");
    expect_refused("-Infinity", "not JSON");
    expect_refused("01", "not JSON");
    expect_refused("1.", "not JSON");
    expect_refused(".5", "not JSON");
    expect_refused("+1", "not JSON");
    expect_refused("'x'", "not JSON");
    expect_refused("\"abc", "not JSON");
    expect_refused("\"a\tb\"", "not JSON"); /* a raw control character */
    expect_refused("\"\\x\"", "not JSON");
    expect_refused("\"\\u12\"", "not JSON");
    expect_refused("\"\\ud800\"", "not valid UTF-8");
    expect_refused("\"\\udc00\"", "not valid UTF-8");
    expect_refused("\"\\u0000\"", "not valid UTF-8");
    expect_refused("\"\xff\"", "not valid UTF-8");
    expect_refused("null", "\"value\" must be a number, true, false or a string");
    expect_refused("[1]", "expected a value or an object with \"value\"");
    expect_refused("{}", "no \"value\" in the object");
    expect_refused("{\"id\": 1}", "no \"value\" in the object");
    expect_refused("{\"value\": null}", "\"value\" must be a number, true, false or a string");
    expect_refused("{\"value\": 1, \"value\": 2}", "duplicate key");
    expect_refused("{\"value\": [1]}", "nested values are not accepted");
    expect_refused("{\"value\": {\"a\": 1}}", "nested values are not accepted");
    expect_refused("{\"value\": 1, \"id\": true}", "\"id\" must be a string or a number");
    expect_refused("{\"value\": 1, \"ts\": 1.5}", "\"ts\" must be a number of milliseconds");
    expect_refused("{\"value\": 1, \"ts\": -5}", "\"ts\" must be a number of milliseconds");
    expect_refused("{\"value\": 1,}", "not JSON");
    expect_refused("{\"value\" 1}", "not JSON");
    expect_refused("{\"value\": 1} 2", "not JSON");
    expect_refused("123456789012345678901234567890123456789012345678901234567890123456789",
                   "number too long");
    /* The buffer bounds what is unescaped; never written past. */
    memset(buf, 'z', sizeof(buf));
    CU_ASSERT_EQUAL(cj_parse_command("\"abcdef\"", 8, buf, 4, &c, &why), -EINVAL);
    CU_ASSERT_STRING_EQUAL(why, "command too long");
    CU_ASSERT_EQUAL(buf[4], 'z');
    /* A payload's length + 1 is always room enough. */
    CU_ASSERT_EQUAL(cj_parse_command("\"abcdef\"", 8, buf, 9, &c, &why), 0);
    /* Not NUL-terminated input: only n bytes are read. */
    CU_ASSERT_EQUAL(cj_parse_command("12345", 2, buf, sizeof(buf), &c, &why), 0);
    CU_ASSERT(c.value.is_int && c.value.mag == 12);
}

int command_json_suite(void)
{
    static const sb_test_t tests[] = {
        {"bare values", test_bare_values},
        {"exact 64-bit integers", test_exact_integers},
        {"objects, ids, ts and escapes", test_objects},
        {"refusals with their messages", test_refusals},
    };
    CU_pSuite s = CU_add_suite("command_json", NULL, NULL);

    return s ? SB_ADD_TESTS(s, tests) : -1;
}

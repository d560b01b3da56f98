/*
 * Tests of config/cfg_yaml.c, the tree composed from libyaml's events:
 * anchors and aliases (positions, shared consumed flags, the key a shared
 * node is named by), composer errors as yaml_parser_load() worded them,
 * nesting deeper than any recursion would survive, a large document, the
 * canonical dump, and errors in the middle of the stream (run under ASan,
 * LeakSanitizer fails the suite if one leaks).
 */
#include <CUnit/CUnit.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "gateway/error.h"
#include "suites.h"

#define ADP_HEAD "adapters:\n  - name: a\n    type: t\n"

static int err_is(const cfg_error_t *e, const char *want)
{
    if (strcmp(e->text, want) == 0)
        return 1;
    fprintf(stderr, "\n  want: %s\n  got:  %s\n", want, e->text);
    return 0;
}

static int load(const char *yaml, cfg_t **cfg, cfg_error_t *e)
{
    return cfg_load_string("t.yaml", yaml, strlen(yaml), cfg, e);
}

static void expect_error(const char *yaml, const char *want)
{
    cfg_error_t e;
    cfg_t *cfg = NULL;

    CU_ASSERT_EQUAL(load(yaml, &cfg, &e), -GW_ECONFIG);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT(err_is(&e, want));
}

/* An alias is the anchored node: its messages point at the anchor and name
 * the key where it is defined, and reading it through the alias consumes it. */
static void test_alias_positions(void)
{
    const char *yaml = ADP_HEAD "    base: &b {x: 9, y: 2}\n"
                                "    other: *b\n"
                                "    list: [&s 7, 8]\n"
                                "    single: *s\n";
    const cfg_node_t *n, *other;
    cfg_t *cfg = NULL;
    cfg_error_t e;
    int64_t v = 0;

    CU_ASSERT_EQUAL_FATAL(load(yaml, &cfg, &e), 0);
    n = cfg->adapters[0].node;
    other = cfg_get_node(n, "other");
    CU_ASSERT_EQUAL(cfg_get_int(other, "x", 0, 5, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:18: x must be between 0 and 5, got 9"));
    CU_ASSERT_EQUAL(cfg_node_int(other, 0, 5, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:11: base: expected an integer, got a mapping"));
    /* Defined as a sequence item (no key), named by the first key it is the
     * value of, here through an alias. A node starts at its anchor. */
    CU_ASSERT_EQUAL(cfg_node_int(cfg_get_node(n, "single"), 8, 9, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:6:12: single must be between 8 and 9, got 7"));
    /* y is read through "other" only: consumed for "base" too. */
    CU_ASSERT(cfg_get_int(other, "y", 0, 5, 0, &v, &e) == 0 && v == 2);
    CU_ASSERT_EQUAL(cfg_check_unknown(cfg_get_node(n, "base"), "base", &e), 0);
    cfg_get_node(n, "list");
    CU_ASSERT_EQUAL(cfg_check_unknown(n, "adapter 'a'", &e), 0);
    cfg_free(cfg);
}

static void test_composer_errors(void)
{
    expect_error("gateway: &g {id: a}\nmqtt: &g {qos: 1}\n" ADP_HEAD,
                 "t.yaml:2:7: YAML syntax error: second occurrence (found duplicate anchor; "
                 "first occurrence at line 1, column 10)");
    expect_error("gateway: {id: *nope}\n" ADP_HEAD,
                 "t.yaml:1:15: YAML syntax error: found undefined alias");
    /* Anchors do not carry over to a second document, whose errors come
     * before the one about its existence. */
    expect_error("x: &a 1\n" ADP_HEAD "---\n*a\n",
                 "t.yaml:6:1: YAML syntax error: found undefined alias");
    expect_error(ADP_HEAD "---\n[&a 1, &a 2]\n",
                 "t.yaml:5:8: YAML syntax error: second occurrence (found duplicate anchor; "
                 "first occurrence at line 5, column 2)");
    expect_error(ADP_HEAD "---\n{k: 1, k: 2}\n",
                 "t.yaml:5:1: only one YAML document is allowed, found another one here");
    /* Duplicate keys are checked once the whole document is read, outer
     * mappings first. */
    expect_error("a: {b: 1, b: 2}\na: 3\n",
                 "t.yaml:2:1: duplicate key 'a' (first defined at line 1)");
    expect_error("a: 1\na: 2\nb: [\n", "t.yaml:4:1: YAML syntax error: did not find expected node "
                                       "content");
    /* An alias can be a key: it is the same scalar, so a duplicate. */
    expect_error("x: &k a\n*k : 1\na: 2\n",
                 "t.yaml:3:1: duplicate key 'a' (first defined at line 1)");
}

/* A cycle (an alias inside its own anchor) is composed as libyaml composes
 * it, and the dump stops at its depth limit. */
static void test_recursive_alias(void)
{
    cfg_t *cfg = NULL;
    cfg_error_t e;
    const cfg_node_t *r;
    char *dump;

    CU_ASSERT_EQUAL_FATAL(load(ADP_HEAD "    r: &r [*r, 1]\n", &cfg, &e), 0);
    r = cfg_get_node(cfg->adapters[0].node, "r");
    CU_ASSERT_EQUAL(cfg_seq_len(r), 2);
    CU_ASSERT_PTR_EQUAL(cfg_seq_at(r, 0), r);
    dump = cfg_node_dump(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dump);
    CU_ASSERT_EQUAL(strncmp(dump, "[[[", 3), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(dump, "[~,~,]"));
    CU_ASSERT_EQUAL(strcmp(dump + strlen(dump) - 6, ",1:1,]"), 0);
    free(dump);
    cfg_free(cfg);
}

/* The text the reload compares: unchanged from the libyaml document's. */
static void test_dump(void)
{
    cfg_t *cfg = NULL;
    cfg_error_t e;
    char *dump;

    CU_ASSERT_EQUAL_FATAL(
        load(ADP_HEAD "    o: {a: [1, \"x\"], b: {c: ''}, d: , e: !!str 5}\n", &cfg, &e), 0);
    dump = cfg_node_dump(cfg_get_node(cfg->adapters[0].node, "o"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(dump);
    CU_ASSERT_STRING_EQUAL(dump, "{1:a=[1:1,1:x,];1:b={1:c=0:;};1:d=0:;1:e=1:5;}");
    free(dump);
    cfg_free(cfg);
}

/* Tags are ignored and quoting only matters for the empty value. */
static void test_tags_and_quotes(void)
{
    cfg_t *cfg = NULL;
    cfg_error_t e;
    const cfg_node_t *n;
    const char *s = NULL;
    int64_t v = 0;

    CU_ASSERT_EQUAL_FATAL(load(ADP_HEAD "    t: !!str 5\n    q: \"6\"\n    e: ''\n    p:\n"
                                        "    b: |\n      7\n",
                               &cfg, &e),
                          0);
    n = cfg->adapters[0].node;
    CU_ASSERT(cfg_get_int(n, "t", 0, 9, 0, &v, &e) == 0 && v == 5);
    CU_ASSERT(cfg_get_int(n, "q", 0, 9, 0, &v, &e) == 0 && v == 6);
    CU_ASSERT(cfg_get_string(n, "e", NULL, &s, &e) == 0 && strcmp(s, "") == 0);
    CU_ASSERT_EQUAL(cfg_get_string(n, "p", NULL, &s, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:7:7: p: expected a string, got an empty value"));
    CU_ASSERT(cfg_get_string(n, "b", NULL, &s, &e) == 0 && strcmp(s, "7\n") == 0);
    cfg_free(cfg);
}

/* Far deeper than a recursive composer or checker would survive. */
static void test_deep_nesting(void)
{
    enum { DEPTH = 100000 };
    size_t head = strlen(ADP_HEAD "    deep: "), i, o;
    char *yaml = malloc(head + 6 * (size_t)DEPTH + 64);
    const cfg_node_t *n;
    cfg_t *cfg = NULL;
    cfg_error_t e;

    CU_ASSERT_PTR_NOT_NULL_FATAL(yaml);
    memcpy(yaml, ADP_HEAD "    deep: ", head);
    o = head;
    for (i = 0; i < DEPTH; i++)
        o += (size_t)sprintf(yaml + o, i % 2 ? "[" : "{k: ");
    yaml[o++] = '1';
    for (i = DEPTH; i-- > 0;)
        yaml[o++] = i % 2 ? ']' : '}';
    strcpy(yaml + o, "\n    after: 1\n");
    CU_ASSERT_EQUAL_FATAL(load(yaml, &cfg, &e), 0);
    n = cfg_get_node(cfg->adapters[0].node, "deep");
    for (i = 0; i < DEPTH - 1 && n; i++)
        n = i % 2 ? cfg_seq_at(n, 0) : cfg_get_node(n, "k");
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_EQUAL(cfg_node_kind(n), CFG_SEQUENCE);
    CU_ASSERT_TRUE(cfg_has(cfg->adapters[0].node, "after"));
    cfg_free(cfg);
    /* Cut short after half the openers: a syntax error with 50,000 levels open. */
    yaml[head + 5 * (DEPTH / 4)] = '\0';
    CU_ASSERT_EQUAL(load(yaml, &cfg, &e), -GW_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.text, "YAML syntax error"));
    free(yaml);
}

/* 20,000 adapters: every one loaded, positions exact at the end. */
static void test_large_document(void)
{
    enum { N = 20000 };
    char *yaml = malloc((size_t)N * 64 + 64), *p;
    cfg_t *cfg = NULL;
    cfg_error_t e;
    int64_t v = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(yaml);
    p = yaml + sprintf(yaml, "adapters:\n");
    for (int i = 0; i < N; i++)
        p += sprintf(p, "  - {name: d%05d, type: t, port: %d}\n", i, i);
    CU_ASSERT_EQUAL_FATAL(load(yaml, &cfg, &e), 0);
    CU_ASSERT_EQUAL_FATAL(cfg->n_adapters, N);
    CU_ASSERT_STRING_EQUAL(cfg->adapters[N - 1].name, "d19999");
    CU_ASSERT(cfg_get_int(cfg->adapters[N - 1].node, "port", 0, 99999, 0, &v, &e) == 0 &&
              v == N - 1);
    CU_ASSERT_EQUAL(cfg_get_int(cfg->adapters[N - 1].node, "port", 0, 9, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:20001:35: port must be between 0 and 9, got 19999"));
    cfg_free(cfg);
    /* The same with a duplicate name at the end: found among them all. */
    sprintf(p, "  - {name: d00007, type: t}\n");
    CU_ASSERT_EQUAL(load(yaml, &cfg, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:20002:12: duplicate adapter name 'd00007' (first defined at line "
                         "9)"));
    free(yaml);
}

/* Errors with nodes, anchors and open collections behind them; under ASan,
 * LeakSanitizer reports anything they leave. */
static void test_error_mid_stream(void)
{
    expect_error("a: &x [1, {b: &y 2}]\nc: [*x, *y, {d: &z [\n  'unterminated\n",
                 "t.yaml:4:1: YAML syntax error: found unexpected end of stream (while "
                 "scanning a quoted scalar at line 3, column 3)");
    expect_error("a: &x [1, {b: &y 2}]\nc: [*x, {d: &x 3}]\n",
                 "t.yaml:2:13: YAML syntax error: second occurrence (found duplicate anchor; "
                 "first occurrence at line 1, column 4)");
    expect_error("a: &x [1, {b: &y 2}]\nc: [*x, {d: *w}]\n",
                 "t.yaml:2:13: YAML syntax error: found undefined alias");
    /* A second document with its own anchors and a cycle: reported at its
     * root, a third one is not read. */
    expect_error("a: &x [1]\n---\nb: &x [2, {c: *x}]\n---\n[\n",
                 "t.yaml:3:1: only one YAML document is allowed, found another one here");
    expect_error("a: &x [1]\n---\nb: &x [2, {c: *x}\n",
                 "t.yaml:4:1: YAML syntax error: did not find expected ',' or ']' (while parsing "
                 "a flow sequence at line 3, column 7)");
    expect_error("a: [1, {b: 2}]\nz: \xff\n", "t.yaml:2:4: YAML encoding error: invalid leading "
                                              "UTF-8 octet");
}

int config_yaml_suite(void)
{
    static const sb_test_t tests[] = {
        {"alias positions and consumed flags", test_alias_positions},
        {"composer errors", test_composer_errors},
        {"recursive alias", test_recursive_alias},
        {"dump", test_dump},
        {"tags and quoting", test_tags_and_quotes},
        {"deep nesting", test_deep_nesting},
        {"large document", test_large_document},
        {"errors mid-stream", test_error_mid_stream},
    };
    CU_pSuite suite = CU_add_suite("config_yaml", NULL, NULL);

    if (!suite)
        return -1;
    return SB_ADD_TESTS(suite, tests);
}

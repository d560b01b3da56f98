/*
 * Tests of the `publish` settings (config/cfg_publish.c): what each level
 * gives and how the narrower one overrides the wider, key by key; and how
 * the publishing stage finds a reading's point (gateway/publish.c).
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "gateway/error.h"
#include "gateway/publish_int.h"
#include "suites.h"

static const char YAML[] = "publish:\n"
                           "  deadband: 0.5\n"
                           "  max_interval: 60s\n"
                           "adapters:\n"
                           "  - name: a\n"
                           "    type: simulated\n"
                           "    publish:\n"
                           "      deadband: 2%\n"
                           "      points:\n"
                           "        - {name: w, window: {length: 10s, functions: [max, mean]}}\n"
                           "        - {name: c, on_change: true, max_interval: 5s}\n"
                           "  - name: b\n"
                           "    type: simulated\n";

static void test_resolve(void)
{
    cfg_error_t err;
    cfg_t *cfg = NULL;
    cfg_publish_t p;

    CU_ASSERT_EQUAL_FATAL(cfg_load_string("t.yaml", YAML, strlen(YAML), &cfg, &err), 0);
    /* b: the gateway's. */
    cfg_publish_resolve(cfg, &cfg->adapters[1], "x", &p);
    CU_ASSERT_EQUAL(p.deadband, 0.5);
    CU_ASSERT_EQUAL(p.deadband_kind, CFG_DEADBAND_ABSOLUTE);
    CU_ASSERT_EQUAL(p.max_interval_ms, 60000);
    CU_ASSERT_EQUAL(p.window_ms, 0);
    CU_ASSERT_EQUAL(p.own, 0);
    /* a: its percentage over the gateway's absolute deadband. */
    cfg_publish_resolve(cfg, &cfg->adapters[0], "x", &p);
    CU_ASSERT_EQUAL(p.deadband, 2.0);
    CU_ASSERT_EQUAL(p.deadband_kind, CFG_DEADBAND_PERCENT);
    CU_ASSERT_EQUAL(p.max_interval_ms, 60000);
    /* a/c: its own on_change and heartbeat, the adapter's deadband. */
    cfg_publish_resolve(cfg, &cfg->adapters[0], "c", &p);
    CU_ASSERT(p.on_change);
    CU_ASSERT_EQUAL(p.max_interval_ms, 5000);
    CU_ASSERT_EQUAL(p.deadband_kind, CFG_DEADBAND_PERCENT);
    CU_ASSERT_EQUAL(p.own, CFG_PUB_ON_CHANGE | CFG_PUB_MAX_INTERVAL);
    /* a/w: a window with its functions in the order given. */
    cfg_publish_resolve(cfg, &cfg->adapters[0], "w", &p);
    CU_ASSERT_EQUAL(p.window_ms, 10000);
    CU_ASSERT_EQUAL_FATAL(p.n_fns, 2);
    CU_ASSERT_EQUAL(p.fns[0], CFG_WFN_MAX);
    CU_ASSERT_EQUAL(p.fns[1], CFG_WFN_MEAN);
    CU_ASSERT_EQUAL(p.own, CFG_PUB_WINDOW);
    cfg_free(cfg);
}

static void expect_error(const char *yaml, const char *text)
{
    cfg_error_t err;
    cfg_t *cfg = NULL;

    CU_ASSERT_EQUAL(cfg_load_string("t.yaml", yaml, strlen(yaml), &cfg, &err), -GW_ECONFIG);
    CU_ASSERT_PTR_NULL(cfg);
    if (strcmp(err.text, text) != 0) {
        fprintf(stderr, "\n  got:      %s\n  expected: %s\n", err.text, text);
        CU_FAIL("error text");
    }
}

static void test_errors(void)
{
    expect_error("publish: {deadband: -1}\nadapters: [{name: a, type: simulated}]\n",
                 "t.yaml:1:21: deadband: expected a number >= 0 or a percentage such as 2%, "
                 "got '-1'");
    expect_error("publish: {deadband: 5%%}\nadapters: [{name: a, type: simulated}]\n",
                 "t.yaml:1:21: deadband: expected a number >= 0 or a percentage such as 2%, "
                 "got '5%%'");
    expect_error("publish: {window: {length: 0ms}}\nadapters: [{name: a, type: simulated}]\n",
                 "t.yaml:1:28: length must be between 1ms and 24h, got 0ms");
    expect_error("adapters:\n  - name: a\n    type: simulated\n    publish:\n      points:\n"
                 "        - {name: x}\n        - {name: x}\n",
                 "t.yaml:7:18: publish.points: point 'x' listed twice");
    expect_error("homeassistant: {prefix: a/b}\nadapters: [{name: a, type: simulated}]\n",
                 "t.yaml:1:25: homeassistant.prefix must be one topic level without '/', '+' "
                 "or '#'");
}

static point_t *find(gw_stage_t *st, const char *sensor, uint32_t order)
{
    gw_reading_t r = {.sensor = sensor, .order = order};

    return gw_stage_find(st, &r);
}

static void test_find(void)
{
    static const char y[] = "publish: {deadband: 1}\nadapters: [{name: a, type: simulated}]\n";
    /* Names as an adapter that gives an order keeps them, and copies of them
     * at other addresses, as one that builds names per reading passes them. */
    static const char x_name[] = "x", y_name[] = "y";
    char buf[8];
    cfg_error_t err;
    cfg_t *cfg = NULL;
    gw_stage_t *st = NULL;
    point_t *px, *py;

    CU_ASSERT_EQUAL_FATAL(cfg_load_string("t.yaml", y, strlen(y), &cfg, &err), 0);
    CU_ASSERT_EQUAL_FATAL(gw_stage_new(cfg, &cfg->adapters[0], NULL, &st), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);

    /* First by name; then by order and pointer, the same point. */
    px = find(st, x_name, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(px);
    CU_ASSERT_STRING_EQUAL(px->name, "x");
    CU_ASSERT_EQUAL_FATAL(st->n_order, 3);
    CU_ASSERT_PTR_EQUAL(st->by_order[2], px);
    CU_ASSERT_PTR_NULL(st->by_order[0]);
    CU_ASSERT_PTR_EQUAL(find(st, x_name, 3), px);
    CU_ASSERT_EQUAL(st->n, 1);

    /* The same name at another address and without an order: by name. */
    snprintf(buf, sizeof(buf), "x");
    CU_ASSERT_PTR_EQUAL(find(st, buf, 0), px);
    CU_ASSERT_PTR_EQUAL(find(st, buf, 3), px);
    CU_ASSERT_EQUAL(st->n, 1);

    /* Another name with that order: its own point, which the order now gives. */
    py = find(st, y_name, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(py);
    CU_ASSERT_PTR_NOT_EQUAL(py, px);
    CU_ASSERT_STRING_EQUAL(py->name, "y");
    CU_ASSERT_PTR_EQUAL(st->by_order[2], py);
    CU_ASSERT_PTR_EQUAL(find(st, x_name, 3), px);
    CU_ASSERT_EQUAL(st->n, 2);

    /* The table grows to the largest order seen, keeping what it held. */
    CU_ASSERT_PTR_EQUAL(find(st, y_name, 40), py);
    CU_ASSERT_EQUAL(st->n_order, 40);
    CU_ASSERT_PTR_EQUAL(st->by_order[2], px);
    CU_ASSERT_PTR_EQUAL(st->by_order[39], py);

    /* Past the largest order kept: by name, no table that large. */
    CU_ASSERT_PTR_EQUAL(find(st, x_name, 70000), px);
    CU_ASSERT_EQUAL(st->n_order, 40);
    CU_ASSERT_EQUAL(st->n, 2);

    gw_stage_free(st);
    cfg_free(cfg);
}

int publish_suite(void)
{
    CU_pSuite s = CU_add_suite("publish", NULL, NULL);

    if (!s || !CU_add_test(s, "gateway, adapter, point: the narrower wins", test_resolve) ||
        !CU_add_test(s, "config errors", test_errors) ||
        !CU_add_test(s, "a reading's point: by order and pointer, else by name", test_find))
        return -1;
    return 0;
}

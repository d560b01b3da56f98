/*
 * Tests of the `publish` settings (config/cfg_publish.c): what each level
 * gives and how the narrower one overrides the wider, key by key.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "config/config.h"
#include "gateway/error.h"
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

int publish_suite(void)
{
    CU_pSuite s = CU_add_suite("publish", NULL, NULL);

    if (!s || !CU_add_test(s, "gateway, adapter, point: the narrower wins", test_resolve) ||
        !CU_add_test(s, "config errors", test_errors))
        return -1;
    return 0;
}

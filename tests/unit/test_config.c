/*
 * Tests of config/: the common sections and their defaults, every accessor
 * (values, defaults, ranges, and the exact text and position of each error),
 * cfg_check_unknown(), and the fixtures under tests/config/.
 *
 * Fixture paths are relative to the source tree: the suite runs from the
 * repository root, or from anywhere with SB_SOURCE_DIR naming it. Each
 * tests/config/bad/X.yaml holds one error, and X.expected its one-line
 * message as reported for the path "tests/config/bad/X.yaml". Errors that
 * only creating the adapters finds (an unknown adapter type) are in there
 * too; run_fixtures.sh checks their messages through --check-config.
 */
#include <CUnit/CUnit.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/adapter.h"
#include "config/config.h"
#include "gateway/error.h"
#include "gateway/reading.h"
#include "suites.h"

/* The adapter every inline test starts from; extra keys begin on line 4,
 * indented by four spaces, so "    v: X" puts X at column 8. */
#define ADP_HEAD "adapters:\n  - name: a\n    type: t\n"

static const char *source_dir(void)
{
    const char *dir = getenv("SB_SOURCE_DIR");

    return dir && *dir ? dir : NULL;
}

/* rel as the tests name it on disk: under SB_SOURCE_DIR when set. */
static void src_path(char *buf, size_t cap, const char *rel)
{
    if (source_dir())
        snprintf(buf, cap, "%s/%s", source_dir(), rel);
    else
        snprintf(buf, cap, "%s", rel);
}

/* Compares an error's text and checks it agrees with its fields; prints
 * both sides on a mismatch, since CUnit shows only the expression. */
static int err_is(const cfg_error_t *e, const char *want)
{
    char again[sizeof(e->text)];

    snprintf(again, sizeof(again), "%s:%d:%d: %s", e->file, e->line, e->column, e->msg);
    if (strcmp(e->text, want) == 0 && strcmp(again, e->text) == 0)
        return 1;
    fprintf(stderr, "\n  want: %s\n  got:  %s\n  fields: %s\n", want, e->text, again);
    return 0;
}

static int load(const char *yaml, cfg_t **cfg, cfg_error_t *e)
{
    return cfg_load_string("t.yaml", yaml, strlen(yaml), cfg, e);
}

/* Loads ADP_HEAD + extra; NULL (and a printed reason) on failure. */
static cfg_t *load_adp(const char *extra)
{
    char yaml[4096];
    cfg_error_t e;
    cfg_t *cfg = NULL;

    snprintf(yaml, sizeof(yaml), "%s%s", ADP_HEAD, extra);
    if (load(yaml, &cfg, &e) != 0)
        fprintf(stderr, "\n  unexpected: %s\n", e.text);
    return cfg;
}

/* Loads yaml, expects the error want; the cfg must stay NULL. */
static void expect_load_error(const char *yaml, const char *want)
{
    cfg_error_t e;
    cfg_t *cfg = (cfg_t *)&e; /* must be reset to NULL */

    CU_ASSERT_EQUAL(load(yaml, &cfg, &e), -GW_ECONFIG);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT(err_is(&e, want));
}

static void test_builtin_default(void)
{
    char host[HOST_NAME_MAX + 1] = "", want[300];
    const cfg_node_t *n;
    cfg_error_t e;
    cfg_t *cfg = NULL;
    int64_t sensors = 0;
    uint64_t ms = 0;

    CU_ASSERT_EQUAL_FATAL(cfg_load_string("<built-in default>", cfg_builtin_default,
                                          strlen(cfg_builtin_default), &cfg, &e),
                          0);
    CU_ASSERT_STRING_EQUAL(cfg->path, "<built-in default>");
    CU_ASSERT_EQUAL(gethostname(host, sizeof(host) - 1), 0);
    CU_ASSERT_STRING_EQUAL(cfg->gateway.id, host);
    snprintf(want, sizeof(want), "sensorbridge-%s", host);
    CU_ASSERT_STRING_EQUAL(cfg->mqtt.client_id, want);
    CU_ASSERT_EQUAL(cfg->gateway.log_level, GW_LOG_INFO);
    CU_ASSERT_EQUAL(cfg->gateway.shutdown_timeout_ms, 5000);
    CU_ASSERT_STRING_EQUAL(cfg->mqtt.uri, "tcp://127.0.0.1:1883");
    CU_ASSERT_PTR_NULL(cfg->mqtt.username);
    CU_ASSERT_PTR_NULL(cfg->mqtt.password_file);
    CU_ASSERT_EQUAL(cfg->mqtt.keepalive_ms, 30000);
    CU_ASSERT_EQUAL(cfg->mqtt.qos, 1);
    CU_ASSERT_FALSE(cfg->mqtt.retain);
    CU_ASSERT_STRING_EQUAL(cfg->mqtt.topic, "sensorbridge/{gateway}/{adapter}/{sensor}");
    CU_ASSERT_EQUAL(cfg->mqtt.max_inflight, 64);
    CU_ASSERT_EQUAL(cfg->mqtt.reconnect_min_ms, 250);
    CU_ASSERT_EQUAL(cfg->mqtt.reconnect_max_ms, 10000);
    CU_ASSERT_EQUAL(cfg->outbox.capacity, 10000);
    CU_ASSERT_EQUAL(cfg->outbox.max_bytes, 8 * 1024 * 1024);
    CU_ASSERT_EQUAL(cfg->outbox.overflow, GW_OVERFLOW_DROP_OLDEST);
    CU_ASSERT_EQUAL_FATAL(cfg->n_adapters, 1);
    CU_ASSERT_STRING_EQUAL(cfg->adapters[0].name, "sim");
    CU_ASSERT_STRING_EQUAL(cfg->adapters[0].type, "simulated");
    CU_ASSERT_EQUAL(cfg->adapters[0].qos, -1);
    CU_ASSERT_EQUAL(cfg->adapters[0].retain, -1);

    /* The simulated adapter's keys are left for it, unconsumed. */
    n = cfg->adapters[0].node;
    CU_ASSERT_EQUAL(cfg_check_unknown(n, "adapter 'sim'", &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "<built-in default>:8:5: unknown key 'sensors' in adapter 'sim'"));
    CU_ASSERT_EQUAL(cfg_get_int(n, "sensors", 1, 1000, 1, &sensors, &e), 0);
    CU_ASSERT_EQUAL(sensors, 4);
    CU_ASSERT_EQUAL(cfg_get_duration(n, "interval", 1, 3600000, 0, &ms, &e), 0);
    CU_ASSERT_EQUAL(ms, 1000);
    CU_ASSERT_EQUAL(cfg_check_unknown(n, "adapter 'sim'", &e), 0);
    cfg_free(cfg);
    cfg_free(NULL);
}

static void test_good_minimal(void)
{
    char path[PATH_MAX];
    cfg_error_t e;
    cfg_t *cfg = NULL;

    src_path(path, sizeof(path), "tests/config/good/minimal.yaml");
    CU_ASSERT_EQUAL_FATAL(cfg_load_file(path, &cfg, &e), 0);
    CU_ASSERT_STRING_EQUAL(cfg->path, path);
    CU_ASSERT_STRING_EQUAL(cfg->mqtt.uri, "tcp://127.0.0.1:1883");
    CU_ASSERT_EQUAL(cfg->mqtt.qos, 1);
    CU_ASSERT_EQUAL(cfg->outbox.capacity, 10000);
    CU_ASSERT_EQUAL_FATAL(cfg->n_adapters, 1);
    CU_ASSERT_STRING_EQUAL(cfg->adapters[0].name, "sim");
    CU_ASSERT_EQUAL(cfg_check_unknown(cfg->adapters[0].node, "adapter 'sim'", &e), 0);
    cfg_free(cfg);
}

static void test_good_full(void)
{
    char path[PATH_MAX];
    const cfg_node_t *n, *sensors;
    const char *s = NULL;
    cfg_error_t e;
    cfg_t *cfg = NULL;
    uint64_t ms = 0;
    int64_t i = 0;
    double d = 0;

    src_path(path, sizeof(path), "tests/config/good/full.yaml");
    CU_ASSERT_EQUAL_FATAL(cfg_load_file(path, &cfg, &e), 0);
    CU_ASSERT_STRING_EQUAL(cfg->gateway.id, "pi-01");
    CU_ASSERT_EQUAL(cfg->gateway.log_level, GW_LOG_DEBUG);
    CU_ASSERT_EQUAL(cfg->gateway.shutdown_timeout_ms, 120000);
    CU_ASSERT_STRING_EQUAL(cfg->mqtt.uri, "mqtt://broker.example.net:8883");
    CU_ASSERT_STRING_EQUAL(cfg->mqtt.client_id, "gateway-pi-01");
    CU_ASSERT_STRING_EQUAL(cfg->mqtt.username, "alice");
    CU_ASSERT_STRING_EQUAL(cfg->mqtt.password_file, "/etc/sensorbridge/mqtt.pass");
    CU_ASSERT_EQUAL(cfg->mqtt.keepalive_ms, 45000);
    CU_ASSERT_EQUAL(cfg->mqtt.qos, 2);
    CU_ASSERT_TRUE(cfg->mqtt.retain);
    CU_ASSERT_STRING_EQUAL(cfg->mqtt.topic, "plant/{gateway}/{adapter}/{sensor}/value");
    CU_ASSERT_EQUAL(cfg->mqtt.max_inflight, 128);
    CU_ASSERT_EQUAL(cfg->mqtt.reconnect_min_ms, 500);
    CU_ASSERT_EQUAL(cfg->mqtt.reconnect_max_ms, 60000);
    CU_ASSERT_EQUAL(cfg->outbox.capacity, 5000);
    CU_ASSERT_EQUAL(cfg->outbox.max_bytes, 65536);
    CU_ASSERT_EQUAL(cfg->outbox.overflow, GW_OVERFLOW_BLOCK);
    CU_ASSERT_EQUAL_FATAL(cfg->n_adapters, 2);
    CU_ASSERT_EQUAL(cfg->adapters[0].qos, 0);
    CU_ASSERT_EQUAL(cfg->adapters[0].retain, 0);
    CU_ASSERT_STRING_EQUAL(cfg->adapters[1].name, "boiler");
    CU_ASSERT_STRING_EQUAL(cfg->adapters[1].type, "simulated");
    CU_ASSERT_EQUAL(cfg->adapters[1].qos, -1);
    CU_ASSERT_EQUAL(cfg->adapters[1].retain, -1);

    /* The adapter's own keys are there for it to read, none consumed yet. */
    n = cfg->adapters[1].node;
    CU_ASSERT_EQUAL(cfg_check_unknown(n, "adapter 'boiler'", &e), -GW_ECONFIG);
    CU_ASSERT_STRING_EQUAL(e.msg, "unknown key 'sensors' in adapter 'boiler'");
    CU_ASSERT_EQUAL(e.line, 34);
    CU_ASSERT_EQUAL(e.column, 5);
    sensors = cfg_get_node(n, "sensors");
    CU_ASSERT_EQUAL_FATAL(cfg_seq_len(sensors), 2);
    CU_ASSERT(cfg_node_string(cfg_seq_at(sensors, 1), &s, &e) == 0 && strcmp(s, "FLOW_OUT") == 0);
    CU_ASSERT(cfg_get_duration(n, "interval", 1, 1000, 0, &ms, &e) == 0 && ms == 250);
    CU_ASSERT(cfg_get_int(n, "count", 1, 1000, 0, &i, &e) == 0 && i == 100);
    CU_ASSERT(cfg_get_double(n, "mean", 0, 100, 0, &d, &e) == 0 && d == 20.5);
    CU_ASSERT(cfg_get_double(n, "stddev", 0, 100, 0, &d, &e) == 0 && d == 0.5);
    CU_ASSERT(cfg_get_string(n, "unit", NULL, &s, &e) == 0 && strcmp(s, "l/min") == 0);
    CU_ASSERT_EQUAL(cfg_check_unknown(n, "adapter 'boiler'", &e), -GW_ECONFIG);
    CU_ASSERT_STRING_EQUAL(e.msg, "unknown key 'seed' in adapter 'boiler'");
    CU_ASSERT(cfg_get_int(n, "seed", 0, 1000, 0, &i, &e) == 0 && i == 42);
    CU_ASSERT_EQUAL(cfg_check_unknown(n, "adapter 'boiler'", &e), 0);
    cfg_free(cfg);
}

/* Reads a .expected file: one line, the trailing newline dropped. */
static int read_expected(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return -1;
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    return strchr(buf, '\n') ? -1 : 0;
}

/* Whether an adapter has a type the registry does not know: the error in a
 * bad fixture that config/ accepts, found when the gateway creates the
 * adapters (the unit tests stub the gateway out). */
static bool has_unknown_type(const cfg_t *cfg)
{
    for (size_t i = 0; i < cfg->n_adapters; i++)
        if (!adp_find(cfg->adapters[i].type))
            return true;
    return false;
}

static bool has_adapter_type(const cfg_t *cfg, const char *type)
{
    for (size_t i = 0; i < cfg->n_adapters; i++)
        if (strcmp(cfg->adapters[i].type, type) == 0)
            return true;
    return false;
}

static void check_bad_fixture(const char *name)
{
    char rel[300], path[PATH_MAX], exp_path[PATH_MAX], expected[700], want[PATH_MAX + 700];
    cfg_error_t e;
    cfg_t *cfg = NULL;
    int rc;

    snprintf(rel, sizeof(rel), "tests/config/bad/%s", name);
    src_path(path, sizeof(path), rel);
    snprintf(rel + strlen(rel) - strlen(".yaml"), 10, ".expected");
    src_path(exp_path, sizeof(exp_path), rel);
    CU_ASSERT_EQUAL_FATAL(read_expected(exp_path, expected, sizeof(expected)), 0);
    /* The .expected text names the path relative to the source tree. */
    snprintf(want, sizeof(want), "%s%s%s", source_dir() ? source_dir() : "",
             source_dir() ? "/" : "", expected);
    rc = cfg_load_file(path, &cfg, &e);
    if (rc == 0) {
        /* Refused by an adapter's own keys (or by its points' publishing
         * settings), not by the loader: the adapter creates it under
         * --check-config, which run_fixtures.sh checks. */
        CU_ASSERT(has_unknown_type(cfg) || has_adapter_type(cfg, "modbus_tcp") ||
                  has_adapter_type(cfg, "modbus_rtu") || has_adapter_type(cfg, "simulated") ||
                  has_adapter_type(cfg, "raw_tcp"));
        cfg_free(cfg);
        return;
    }
    CU_ASSERT_EQUAL(rc, -GW_ECONFIG);
    CU_ASSERT_PTR_NULL(cfg);
    if (!err_is(&e, want)) {
        fprintf(stderr, "  fixture: %s\n", name);
        CU_FAIL("fixture message differs");
    }
}

static void test_bad_fixtures(void)
{
    char dir_path[PATH_MAX];
    struct dirent *de;
    DIR *dir;
    int count = 0;

    src_path(dir_path, sizeof(dir_path), "tests/config/bad");
    dir = opendir(dir_path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    while ((de = readdir(dir))) {
        size_t len = strlen(de->d_name);

        if (len <= 5 || strcmp(de->d_name + len - 5, ".yaml") != 0)
            continue;
        check_bad_fixture(de->d_name);
        count++;
    }
    closedir(dir);
    CU_ASSERT(count >= 15);
}

static void test_unreadable_file(void)
{
    char path[PATH_MAX], want[PATH_MAX + 100];
    cfg_error_t e;
    cfg_t *cfg = NULL;
    int rc, saved;

    rc = cfg_load_file("tests/config/bad/no-such-file.yaml", &cfg, &e);
    saved = errno;
    CU_ASSERT_EQUAL(rc, -GW_ECONFIG);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_EQUAL(saved, ENOENT);
    CU_ASSERT(err_is(&e, "tests/config/bad/no-such-file.yaml:1:1: cannot read config file: No "
                         "such file or directory"));

    src_path(path, sizeof(path), "tests/config/bad");
    CU_ASSERT_EQUAL(cfg_load_file(path, &cfg, &e), -GW_ECONFIG);
    snprintf(want, sizeof(want), "%s:1:1: cannot read config file: Is a directory", path);
    CU_ASSERT(err_is(&e, want));
}

static void test_document_errors(void)
{
    expect_load_error("", "t.yaml:1:1: empty document, expected a mapping with an 'adapters' key");
    expect_load_error("42\n", "t.yaml:1:1: the top level must be a mapping, got '42'");
    expect_load_error("? [a, b]\n: 1\n" ADP_HEAD,
                      "t.yaml:1:3: expected a scalar key, got a sequence");
    /* Duplicates are found in adapter-specific mappings too, at load. */
    expect_load_error(ADP_HEAD "    opts: {x: 1, y: 2, x: 3}\n",
                      "t.yaml:4:24: duplicate key 'x' (first defined at line 4)");
    expect_load_error("gateway:\n" ADP_HEAD,
                      "t.yaml:1:9: gateway: expected a mapping, got an empty value");
    expect_load_error("a: \"x\n",
                      "t.yaml:2:1: YAML syntax error: found unexpected end of stream (while "
                      "scanning a quoted scalar at line 1, column 4)");
    expect_load_error("a: b\n\xc3(\n", "t.yaml:2:2: YAML encoding error: invalid trailing "
                                       "UTF-8 octet");
    expect_load_error(ADP_HEAD "...\n[\n",
                      "t.yaml:5:1: YAML syntax error: did not find expected <document start>");
    expect_load_error(ADP_HEAD "---\n" ADP_HEAD,
                      "t.yaml:5:1: only one YAML document is allowed, found another one here");
}

static void test_common_errors(void)
{
    char want[400], id[200];

    expect_load_error("mqtt:\n  reconnect_min: 20s\n" ADP_HEAD,
                      "t.yaml:2:18: reconnect_min must be at most reconnect_max (10s), got 20s");
    expect_load_error("mqtt:\n  password_file: \"\"\n" ADP_HEAD,
                      "t.yaml:2:18: password_file must not be empty");
    expect_load_error("mqtt:\n  client_id: \"\"\n" ADP_HEAD,
                      "t.yaml:2:14: client_id must be between 1 and 128 bytes long, got 0");
    expect_load_error("mqtt:\n  max_inflight: 0\n" ADP_HEAD,
                      "t.yaml:2:17: max_inflight must be between 1 and 65535, got 0");
    expect_load_error(ADP_HEAD "    retain: 1\n",
                      "t.yaml:4:13: retain: expected true or false, got '1'");
    expect_load_error(ADP_HEAD "  - name: b\n",
                      "t.yaml:4:5: adapter is missing required key 'type'");
    expect_load_error("adapters:\n", "t.yaml:1:10: adapters: expected a sequence, got an empty "
                                     "value");

    snprintf(want, sizeof(want), "t.yaml:2:7: gateway id 'a/b' is invalid: %s",
             gw_topic_level_check("a/b"));
    expect_load_error("gateway:\n  id: a/b\n" ADP_HEAD, want);
    snprintf(want, sizeof(want), "t.yaml:2:11: adapter name 'x+y' is invalid: %s",
             gw_topic_level_check("x+y"));
    expect_load_error("adapters:\n  - name: x+y\n    type: t\n", want);
    snprintf(want, sizeof(want), "t.yaml:2:10: topic 'a/{nope}' is invalid: %s",
             gw_topic_check("a/{nope}"));
    expect_load_error("mqtt:\n  topic: a/{nope}\n" ADP_HEAD, want);

    /* "sensorbridge-" + a 116-byte id would exceed 128 bytes. */
    memset(id, 'g', 116);
    id[116] = '\0';
    snprintf(want, sizeof(want), "gateway:\n  id: %s\n" ADP_HEAD, id);
    expect_load_error(want, "t.yaml:2:7: gateway id is too long to derive mqtt.client_id from (at "
                            "most 115 bytes), set mqtt.client_id");
}

static void test_common_values(void)
{
    cfg_error_t e;
    cfg_t *cfg = NULL;

    CU_ASSERT_EQUAL_FATAL(load("gateway: {id: gw}\n"
                               "mqtt: {retain: true, qos: 0}\n" ADP_HEAD "    qos: 2\n"
                               "    retain: true\n",
                               &cfg, &e),
                          0);
    CU_ASSERT_STRING_EQUAL(cfg->gateway.id, "gw");
    CU_ASSERT_STRING_EQUAL(cfg->mqtt.client_id, "sensorbridge-gw");
    CU_ASSERT_EQUAL(cfg->mqtt.qos, 0);
    CU_ASSERT_TRUE(cfg->mqtt.retain);
    CU_ASSERT_EQUAL(cfg->adapters[0].qos, 2);
    CU_ASSERT_EQUAL(cfg->adapters[0].retain, 1);
    cfg_free(cfg);
}

static void test_uri(void)
{
    static const char *const good[] = {"tcp://localhost:1883",
                                       "mqtt://10.0.0.1:65535",
                                       "tcp://[::1]:1",
                                       "mqtt://broker.example.net:8883",
                                       "ssl://host:8883",
                                       "mqtts://[::1]:8883",
                                       NULL};
    static const char *const bad[] = {"http://host:8883", "tcp://host",       "tcp://:1883",
                                      "tcp://host:0",     "tcp://host:65536", "tcp://host:",
                                      "tcp://host:1883/", "tcp://host:18a",   "tcp://[::1]1883",
                                      "tcp://[]:1",       "tcp://a b:1",      "tcp://host:1234567",
                                      "TCP://host:1",     "tcp://u@h:1",      NULL};
    char yaml[300], want[300];
    cfg_error_t e;
    cfg_t *cfg;

    for (int i = 0; good[i]; i++) {
        snprintf(yaml, sizeof(yaml), "mqtt: {uri: '%s'}\n" ADP_HEAD, good[i]);
        cfg = NULL;
        CU_ASSERT_EQUAL(load(yaml, &cfg, &e), 0);
        CU_ASSERT(cfg && strcmp(cfg->mqtt.uri, good[i]) == 0);
        cfg_free(cfg);
    }
    for (int i = 0; bad[i]; i++) {
        snprintf(yaml, sizeof(yaml), "mqtt: {uri: '%s'}\n" ADP_HEAD, bad[i]);
        snprintf(want, sizeof(want),
                 "t.yaml:1:13: uri must look like tcp://HOST:PORT or ssl://HOST:PORT (or "
                 "mqtt://, mqtts://), got '%s'",
                 bad[i]);
        expect_load_error(yaml, want);
    }
}

static void test_string(void)
{
    cfg_t *cfg = load_adp("    s: hello\n    q: \"\"\n    m: {a: 1}\n    e:\n    n: 5\n"
                          "    z: \"a\\0b\"\n");
    const cfg_node_t *n;
    const char *s = NULL;
    cfg_error_t e;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    n = cfg->adapters[0].node;
    CU_ASSERT_EQUAL(cfg_get_string(n, "s", "d", &s, &e), 0);
    CU_ASSERT_STRING_EQUAL(s, "hello");
    CU_ASSERT_EQUAL(cfg_get_string(n, "q", "d", &s, &e), 0);
    CU_ASSERT_STRING_EQUAL(s, "");
    CU_ASSERT_EQUAL(cfg_get_string(n, "n", "d", &s, &e), 0);
    CU_ASSERT_STRING_EQUAL(s, "5");
    CU_ASSERT_EQUAL(cfg_get_string(n, "absent", "d", &s, &e), 0);
    CU_ASSERT_STRING_EQUAL(s, "d");
    CU_ASSERT_EQUAL(cfg_get_string(n, "absent", NULL, &s, &e), 0);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_EQUAL(cfg_get_string(n, "m", NULL, &s, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:6:8: m: expected a string, got a mapping"));
    CU_ASSERT_EQUAL(cfg_get_string(n, "e", NULL, &s, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:7:7: e: expected a string, got an empty value"));
    CU_ASSERT_EQUAL(cfg_get_string(n, "z", NULL, &s, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:9:8: z must not contain NUL characters"));
    /* A failed read still consumes its key; nothing is left unknown. */
    CU_ASSERT_EQUAL(cfg_check_unknown(n, "adapter 'a'", &e), 0);
    cfg_free(cfg);
}

/* Strings read stay valid after the document is released; a long one takes a
 * chunk of its own. */
static void test_release_doc(void)
{
    static char yaml[16384];
    char big[6000];
    cfg_t *cfg;
    cfg_error_t e;
    const char *s = NULL, *b = NULL, *name, *id;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(yaml, sizeof(yaml),
             "gateway: {id: gw1}\nadapters:\n  - name: a\n    type: simulated\n"
             "    s: hello\n    big: %s\n",
             big);
    CU_ASSERT_EQUAL_FATAL(load(yaml, &cfg, &e), 0);
    CU_ASSERT_EQUAL(cfg_get_string(cfg->adapters[0].node, "s", NULL, &s, &e), 0);
    CU_ASSERT_EQUAL(cfg_get_string(cfg->adapters[0].node, "big", NULL, &b, &e), 0);
    name = cfg->adapters[0].name;
    id = cfg->gateway.id;
    cfg_release_doc(cfg);
    CU_ASSERT_PTR_NULL(cfg->adapters[0].node);
    CU_ASSERT_STRING_EQUAL(s, "hello");
    CU_ASSERT_STRING_EQUAL(b, big);
    CU_ASSERT_STRING_EQUAL(name, "a");
    CU_ASSERT_STRING_EQUAL(id, "gw1");
    CU_ASSERT_STRING_EQUAL(cfg->adapters[0].type, "simulated");
    cfg_release_doc(cfg); /* twice is harmless */
    cfg_free(cfg);
}

static void test_int(void)
{
    cfg_t *cfg = load_adp("    a: 42\n    b: -7\n    c: +3\n    d: \"12\"\n    f: 1.5\n"
                          "    g: 0x10\n    h: 99999999999999999999\n"
                          "    i: -9223372036854775808\n    j: ' 5'\n    k: 007\n    l: [1]\n");
    const cfg_node_t *n;
    cfg_error_t e;
    int64_t v = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    n = cfg->adapters[0].node;
    CU_ASSERT(cfg_get_int(n, "a", 0, 100, 0, &v, &e) == 0 && v == 42);
    CU_ASSERT(cfg_get_int(n, "b", -10, 10, 0, &v, &e) == 0 && v == -7);
    CU_ASSERT(cfg_get_int(n, "c", 0, 10, 0, &v, &e) == 0 && v == 3);
    CU_ASSERT(cfg_get_int(n, "d", 0, 100, 0, &v, &e) == 0 && v == 12);
    CU_ASSERT(cfg_get_int(n, "i", INT64_MIN, 0, 0, &v, &e) == 0 && v == INT64_MIN);
    CU_ASSERT(cfg_get_int(n, "k", 0, 10, 0, &v, &e) == 0 && v == 7);
    CU_ASSERT(cfg_get_int(n, "absent", 0, 10, 9, &v, &e) == 0 && v == 9);

    CU_ASSERT_EQUAL(cfg_get_int(n, "a", 0, 10, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:8: a must be between 0 and 10, got 42"));
    CU_ASSERT_EQUAL(cfg_get_int(n, "b", 0, INT64_MAX, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:5:8: b must be at least 0, got -7"));
    CU_ASSERT_EQUAL(cfg_get_int(n, "a", INT64_MIN, 10, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:8: a must be at most 10, got 42"));
    CU_ASSERT_EQUAL(cfg_get_int(n, "h", INT64_MIN, INT64_MAX, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:10:8: h is out of range, got 99999999999999999999"));
    CU_ASSERT_EQUAL(cfg_get_int(n, "f", 0, 10, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:8:8: f: expected an integer, got '1.5'"));
    CU_ASSERT_EQUAL(cfg_get_int(n, "g", 0, 100, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:9:8: g: expected an integer, got '0x10'"));
    CU_ASSERT_EQUAL(cfg_get_int(n, "j", 0, 100, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:12:8: j: expected an integer, got ' 5'"));
    CU_ASSERT_EQUAL(cfg_get_int(n, "l", 0, 100, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:14:8: l: expected an integer, got a sequence"));
    /* err may be NULL when the caller only wants the code. */
    CU_ASSERT_EQUAL(cfg_get_int(n, "f", 0, 10, 0, &v, NULL), -GW_ECONFIG);
    cfg_free(cfg);
}

static void test_double(void)
{
    cfg_t *cfg = load_adp("    a: 1.5\n    b: -2e3\n    c: .5\n    d: 5.\n    f: 7\n    g: inf\n"
                          "    h: nan\n    i: 0x1p3\n    j: 1e999\n    k: 1e\n    l: '.'\n");
    static const char *const bad[] = {"g", "h", "i", "k", "l", NULL};
    const cfg_node_t *n;
    cfg_error_t e;
    char want[200];
    double d = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    n = cfg->adapters[0].node;
    CU_ASSERT(cfg_get_double(n, "a", 0, 10, 0, &d, &e) == 0 && d == 1.5);
    CU_ASSERT(cfg_get_double(n, "b", -1e9, 1e9, 0, &d, &e) == 0 && d == -2000);
    CU_ASSERT(cfg_get_double(n, "c", 0, 1, 0, &d, &e) == 0 && d == 0.5);
    CU_ASSERT(cfg_get_double(n, "d", 0, 10, 0, &d, &e) == 0 && d == 5);
    CU_ASSERT(cfg_get_double(n, "f", 0, 10, 0, &d, &e) == 0 && d == 7);
    CU_ASSERT(cfg_get_double(n, "absent", 0, 10, 2.25, &d, &e) == 0 && d == 2.25);
    CU_ASSERT_EQUAL(cfg_get_double(n, "a", 0, 1, 0, &d, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:8: a must be between 0 and 1, got 1.5"));
    CU_ASSERT_EQUAL(cfg_get_double(n, "b", 0.25, HUGE_VAL, 0, &d, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:5:8: b must be at least 0.25, got -2e3"));
    CU_ASSERT_EQUAL(cfg_get_double(n, "j", -HUGE_VAL, HUGE_VAL, 0, &d, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:12:8: j is out of range, got 1e999"));
    for (int i = 0; bad[i]; i++) {
        CU_ASSERT_EQUAL(cfg_get_double(n, bad[i], -1e9, 1e9, 0, &d, &e), -GW_ECONFIG);
        snprintf(want, sizeof(want), "%s: expected a number, got '", bad[i]);
        CU_ASSERT(strncmp(e.msg, want, strlen(want)) == 0);
    }
    cfg_free(cfg);
}

static void test_bool(void)
{
    cfg_t *cfg = load_adp("    t: true\n    f: false\n    y: yes\n    c: True\n    o: 1\n    e:\n");
    const cfg_node_t *n;
    cfg_error_t e;
    bool b = false;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    n = cfg->adapters[0].node;
    CU_ASSERT(cfg_get_bool(n, "t", false, &b, &e) == 0 && b);
    CU_ASSERT(cfg_get_bool(n, "f", true, &b, &e) == 0 && !b);
    CU_ASSERT(cfg_get_bool(n, "absent", true, &b, &e) == 0 && b);
    CU_ASSERT_EQUAL(cfg_get_bool(n, "y", false, &b, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:6:8: y: expected true or false, got 'yes'"));
    CU_ASSERT_EQUAL(cfg_get_bool(n, "c", false, &b, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:7:8: c: expected true or false, got 'True'"));
    CU_ASSERT_EQUAL(cfg_get_bool(n, "o", false, &b, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:8:8: o: expected true or false, got '1'"));
    CU_ASSERT_EQUAL(cfg_get_bool(n, "e", false, &b, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:9:7: e: expected true or false, got an empty value"));
    cfg_free(cfg);
}

typedef struct {
    const char *text; /* as written after "v: " */
    int ok;
    uint64_t value;  /* when ok */
    const char *msg; /* else: the message */
} unit_case_t;

/* Loads "    v: TEXT" and reads it over the full range [0, UINT64_MAX]. */
static void run_unit_cases(const unit_case_t *cases, bool duration)
{
    const char *what =
        duration ? "a duration such as 250ms, 5s or 2m" : "a size such as 4096, 64KiB or 8MiB";
    char extra[200], want[300];
    cfg_error_t e;

    for (const unit_case_t *c = cases; c->text; c++) {
        cfg_t *cfg;
        uint64_t v = 12345;
        int rc;

        snprintf(extra, sizeof(extra), "    v: %s\n", c->text);
        cfg = load_adp(extra);
        CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
        rc = duration ? cfg_get_duration(cfg->adapters[0].node, "v", 0, UINT64_MAX, 0, &v, &e)
                      : cfg_get_size(cfg->adapters[0].node, "v", 0, UINT64_MAX, 0, &v, &e);
        if (c->ok) {
            CU_ASSERT(rc == 0 && v == c->value);
        } else {
            if (c->msg)
                snprintf(want, sizeof(want), "t.yaml:4:8: %s", c->msg);
            else
                snprintf(want, sizeof(want), "t.yaml:4:8: v: expected %s, got %s", what, c->text);
            CU_ASSERT_EQUAL(rc, -GW_ECONFIG);
            CU_ASSERT(err_is(&e, want));
        }
        cfg_free(cfg);
    }
}

static void test_duration_parse(void)
{
    static const unit_case_t cases[] = {
        {"0ms", 1, 0, NULL},
        {"0s", 1, 0, NULL},
        {"250ms", 1, 250, NULL},
        {"5s", 1, 5000, NULL},
        {"2m", 1, 120000, NULL},
        {"1h", 1, 3600000, NULL},
        {"007s", 1, 7000, NULL},
        {"'30s'", 1, 30000, NULL},
        {"18446744073709551615ms", 1, UINT64_MAX, NULL},
        {"5124095576030h", 1, 5124095576030ULL * 3600000ULL, NULL},
        {"'5'", 0, 0, NULL},
        {"'-5s'", 0, 0, NULL},
        {"'+5s'", 0, 0, NULL},
        {"'5 s'", 0, 0, NULL},
        {"'1.5s'", 0, 0, NULL},
        {"'5sec'", 0, 0, NULL},
        {"'5S'", 0, 0, NULL},
        {"'ms'", 0, 0, NULL},
        {"''", 0, 0, NULL},
        {"'5ms5'", 0, 0, NULL},
        {"'99999999999999999999x'", 0, 0, NULL},
        {"18446744073709551616ms", 0, 0, "v is out of range, got 18446744073709551616ms"},
        {"5124095576031h", 0, 0, "v is out of range, got 5124095576031h"},
        {NULL, 0, 0, NULL},
    };

    run_unit_cases(cases, true);
}

static void test_size_parse(void)
{
    static const unit_case_t cases[] = {
        {"0", 1, 0, NULL},
        {"4096", 1, 4096, NULL},
        {"1B", 1, 1, NULL},
        {"64KiB", 1, 65536, NULL},
        {"8MiB", 1, 8388608, NULL},
        {"1GiB", 1, 1073741824, NULL},
        {"17179869183GiB", 1, 17179869183ULL << 30, NULL},
        {"'8MB'", 0, 0, NULL},
        {"'8K'", 0, 0, NULL},
        {"'8mib'", 0, 0, NULL},
        {"'8 MiB'", 0, 0, NULL},
        {"'-1'", 0, 0, NULL},
        {"'1.5KiB'", 0, 0, NULL},
        {"'KiB'", 0, 0, NULL},
        {"17179869184GiB", 0, 0, "v is out of range, got 17179869184GiB"},
        {"[1]", 0, 0, "v: expected a size such as 4096, 64KiB or 8MiB, got a sequence"},
        {NULL, 0, 0, NULL},
    };

    run_unit_cases(cases, false);
}

static void test_unit_ranges(void)
{
    cfg_t *cfg = load_adp("    d: 1s\n    s: 512\n    t: 2GiB\n    e:\n");
    const cfg_node_t *n;
    cfg_error_t e;
    uint64_t v = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    n = cfg->adapters[0].node;
    CU_ASSERT(cfg_get_duration(n, "d", 1000, 1000, 0, &v, &e) == 0 && v == 1000);
    CU_ASSERT(cfg_get_duration(n, "absent", 0, 10, 7, &v, &e) == 0 && v == 7);
    CU_ASSERT_EQUAL(cfg_get_duration(n, "d", 1500, 90000, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:8: d must be between 1500ms and 90s, got 1s"));
    CU_ASSERT_EQUAL(cfg_get_duration(n, "d", 0, 120, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:8: d must be at most 120ms, got 1s"));
    CU_ASSERT_EQUAL(cfg_get_duration(n, "d", 7200000, UINT64_MAX, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:8: d must be at least 2h, got 1s"));
    CU_ASSERT_EQUAL(cfg_get_size(n, "s", 1024, 1 << 30, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:5:8: s must be between 1KiB and 1GiB, got 512"));
    CU_ASSERT_EQUAL(cfg_get_size(n, "t", 1536, 3 << 20, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:6:8: t must be between 1536B and 3MiB, got 2GiB"));
    CU_ASSERT_EQUAL(cfg_get_duration(n, "e", 0, 10, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:7:7: e: expected a duration such as 250ms, 5s or 2m, got an "
                         "empty value"));
    CU_ASSERT_EQUAL(cfg_get_size(n, "e", 0, 10, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:7:7: e: expected a size such as 4096, 64KiB or 8MiB, got an "
                         "empty value"));
    cfg_free(cfg);
}

static void test_enum(void)
{
    static const char *const names[] = {"low", "mid", "high", NULL};
    cfg_t *cfg = load_adp("    a: high\n    b: HIGH\n    c: {x: 1}\n    d:\n");
    const cfg_node_t *n;
    cfg_error_t e;
    int v = -1;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    n = cfg->adapters[0].node;
    CU_ASSERT(cfg_get_enum(n, "a", names, 0, &v, &e) == 0 && v == 2);
    CU_ASSERT(cfg_get_enum(n, "absent", names, 1, &v, &e) == 0 && v == 1);
    CU_ASSERT_EQUAL(cfg_get_enum(n, "b", names, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:5:8: b must be one of low, mid, high, got 'HIGH'"));
    CU_ASSERT_EQUAL(cfg_get_enum(n, "c", names, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:6:8: c must be one of low, mid, high, got a mapping"));
    CU_ASSERT_EQUAL(cfg_get_enum(n, "d", names, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:7:7: d must be one of low, mid, high, got an empty value"));
    cfg_free(cfg);
}

static void test_nodes(void)
{
    cfg_t *cfg = load_adp("    list: [1, two, {x: 1}]\n    map: {k: v}\n    alias: &m {y: 2}\n"
                          "    again: *m\n    count: 0\n");
    const cfg_node_t *n, *list, *map;
    const char *s = NULL;
    cfg_error_t e;
    int64_t v = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    n = cfg->adapters[0].node;
    CU_ASSERT_EQUAL(cfg_node_kind(n), CFG_MAPPING);
    CU_ASSERT_TRUE(cfg_has(n, "list"));
    CU_ASSERT_FALSE(cfg_has(n, "nope"));
    CU_ASSERT_FALSE(cfg_has(NULL, "list"));
    CU_ASSERT_PTR_NULL(cfg_get_node(n, "nope"));
    /* cfg_has() does not consume. */
    CU_ASSERT_EQUAL(cfg_check_unknown(n, "adapter 'a'", &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:5: unknown key 'list' in adapter 'a'"));

    list = cfg_get_node(n, "list");
    CU_ASSERT_EQUAL_FATAL(cfg_node_kind(list), CFG_SEQUENCE);
    CU_ASSERT_EQUAL(cfg_seq_len(list), 3);
    CU_ASSERT_EQUAL(cfg_seq_len(n), 0);
    CU_ASSERT_EQUAL(cfg_seq_len(NULL), 0);
    CU_ASSERT_PTR_NULL(cfg_seq_at(list, 3));
    CU_ASSERT_EQUAL(cfg_node_kind(cfg_seq_at(list, 0)), CFG_SCALAR);
    CU_ASSERT(cfg_node_int(cfg_seq_at(list, 0), 0, 5, &v, &e) == 0 && v == 1);
    CU_ASSERT_EQUAL(cfg_node_int(cfg_seq_at(list, 0), 2, 5, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:12: value must be between 2 and 5, got 1"));
    CU_ASSERT_EQUAL(cfg_node_int(cfg_seq_at(list, 1), 0, 5, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:15: expected an integer, got 'two'"));
    CU_ASSERT(cfg_node_string(cfg_seq_at(list, 1), &s, &e) == 0 && strcmp(s, "two") == 0);
    CU_ASSERT_EQUAL(cfg_node_kind(cfg_seq_at(list, 2)), CFG_MAPPING);
    CU_ASSERT_EQUAL(cfg_node_string(cfg_seq_at(list, 2), &s, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:20: expected a string, got a mapping"));

    /* Accessors on a node that is not a mapping report it. */
    CU_ASSERT_EQUAL(cfg_get_int(list, "x", 0, 5, 0, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:11: list: expected a mapping, got a sequence"));
    CU_ASSERT_EQUAL(cfg_check_unknown(list, "list", &e), 0);

    /* A value read on its own is still named by its key. */
    CU_ASSERT_EQUAL(cfg_node_int(cfg_get_node(n, "count"), 1, 5, &v, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:8:12: count must be between 1 and 5, got 0"));
    CU_ASSERT_EQUAL(cfg_node_string(cfg_get_node(n, "map"), &s, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:5:10: map: expected a string, got a mapping"));

    map = cfg_get_node(n, "map");
    CU_ASSERT_EQUAL(cfg_node_error(map, &e, "custom %d", 7), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:5:10: custom 7"));
    CU_ASSERT_EQUAL(cfg_check_unknown(map, "map 'm'", &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:5:11: unknown key 'k' in map 'm'"));
    CU_ASSERT(cfg_get_string(map, "k", NULL, &s, &e) == 0 && strcmp(s, "v") == 0);
    CU_ASSERT_EQUAL(cfg_check_unknown(map, "map 'm'", &e), 0);

    /* An alias is the anchored node itself: reading it through one name
     * consumes it for both. */
    CU_ASSERT(cfg_get_int(cfg_get_node(n, "again"), "y", 0, 5, 0, &v, &e) == 0 && v == 2);
    CU_ASSERT_EQUAL(cfg_check_unknown(cfg_get_node(n, "alias"), "alias", &e), 0);
    CU_ASSERT_EQUAL(cfg_check_unknown(n, "adapter 'a'", &e), 0);
    cfg_free(cfg);
}

static void test_null_map(void)
{
    static const char *const names[] = {"x", "y", NULL};
    cfg_error_t e;
    const char *s = NULL;
    int64_t i = 0;
    double d = 0;
    bool b = false;
    uint64_t u = 0;
    int en = 0;

    /* An absent section reads as an empty mapping: every default. */
    CU_ASSERT(cfg_get_string(NULL, "k", "d", &s, &e) == 0 && strcmp(s, "d") == 0);
    CU_ASSERT(cfg_get_int(NULL, "k", 0, 9, 4, &i, &e) == 0 && i == 4);
    CU_ASSERT(cfg_get_double(NULL, "k", 0, 9, 0.5, &d, &e) == 0 && d == 0.5);
    CU_ASSERT(cfg_get_bool(NULL, "k", true, &b, &e) == 0 && b);
    CU_ASSERT(cfg_get_duration(NULL, "k", 0, 9, 3, &u, &e) == 0 && u == 3);
    CU_ASSERT(cfg_get_size(NULL, "k", 0, 9, 5, &u, &e) == 0 && u == 5);
    CU_ASSERT(cfg_get_enum(NULL, "k", names, 1, &en, &e) == 0 && en == 1);
    CU_ASSERT_PTR_NULL(cfg_get_node(NULL, "k"));
    CU_ASSERT_EQUAL(cfg_check_unknown(NULL, "nothing", &e), 0);
}

static void test_shown_values(void)
{
    cfg_t *cfg =
        load_adp("    \"bad\\tkey\": 1\n"
                 "    long: aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeeeffffffffff\n"
                 "    utf: \"x\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                 "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                 "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9x\"\n");
    const cfg_node_t *n;
    cfg_error_t e;
    bool b;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    n = cfg->adapters[0].node;
    /* Control characters are escaped, long values cut at 48 bytes. */
    CU_ASSERT_EQUAL(cfg_check_unknown(n, "adapter 'a'", &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:4:5: unknown key 'bad\\tkey' in adapter 'a'"));
    CU_ASSERT_EQUAL(cfg_get_bool(n, "long", false, &b, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:5:11: long: expected true or false, got "
                         "'aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeee...'"));
    /* ... and never inside a UTF-8 character: after "x", 23 two-byte characters fit. */
    CU_ASSERT_EQUAL(cfg_get_bool(n, "utf", false, &b, &e), -GW_ECONFIG);
    CU_ASSERT(err_is(&e, "t.yaml:6:10: utf: expected true or false, got "
                         "'x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...'"));
    cfg_free(cfg);
}

int config_suite(void)
{
    static const sb_test_t tests[] = {
        {"built-in default", test_builtin_default},
        {"good/minimal.yaml", test_good_minimal},
        {"good/full.yaml", test_good_full},
        {"bad fixtures", test_bad_fixtures},
        {"unreadable file", test_unreadable_file},
        {"document errors", test_document_errors},
        {"common section errors", test_common_errors},
        {"common section values", test_common_values},
        {"mqtt uri", test_uri},
        {"string accessor", test_string},
        {"strings outlive the released document", test_release_doc},
        {"int accessor", test_int},
        {"double accessor", test_double},
        {"bool accessor", test_bool},
        {"duration parsing", test_duration_parse},
        {"size parsing", test_size_parse},
        {"duration and size ranges", test_unit_ranges},
        {"enum accessor", test_enum},
        {"nodes, sequences, aliases", test_nodes},
        {"NULL mapping", test_null_map},
        {"values shown in messages", test_shown_values},
    };
    CU_pSuite suite = CU_add_suite("config", NULL, NULL);

    if (!suite)
        return -1;
    return SB_ADD_TESTS(suite, tests);
}

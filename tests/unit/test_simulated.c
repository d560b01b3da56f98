/*
 * Tests of the simulated adapter on a real loop. The gateway side of the
 * adapter interface (gw_ctx_*) is replaced at link time by the stubs below,
 * which record every reading instead of publishing it.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "gateway/clock.h"
#include "suites.h"

#define MAX_READINGS 20000

typedef struct {
    char sensor[16];
    uint64_t seq;
    double value;
    uint64_t at_ms;
    gw_value_kind_t kind;
    bool b;
    char s[16];
    bool bad;
} rec_t;

struct gw_ctx {
    gw_loop_t *loop;
    rec_t *recs;
    size_t n;
    bool blocked;
    bool once; /* --test */
    int done_calls;
    uint64_t done_at_ms;
    size_t block_after;        /* block once this many readings arrived (0: never) */
    gw_value_kind_t points[8]; /* kinds declared with gw_ctx_point */
    size_t n_points;
};

gw_loop_t *gw_ctx_loop(gw_ctx_t *ctx)
{
    return ctx->loop;
}

const char *gw_ctx_name(const gw_ctx_t *ctx)
{
    (void)ctx;
    return "sim";
}

bool gw_ctx_once(const gw_ctx_t *ctx)
{
    return ctx->once;
}

bool gw_ctx_blocked(const gw_ctx_t *ctx)
{
    return ctx->blocked;
}

int gw_ctx_emit(gw_ctx_t *ctx, gw_reading_t *r)
{
    rec_t *rec;

    if (ctx->n >= MAX_READINGS)
        return -1;
    rec = &ctx->recs[ctx->n++];
    snprintf(rec->sensor, sizeof(rec->sensor), "%s", r->sensor);
    rec->seq = r->seq;
    rec->value = r->value.d;
    rec->kind = r->kind;
    rec->b = r->kind == GW_VALUE_BOOL && r->value.b;
    snprintf(rec->s, sizeof(rec->s), "%s", r->kind == GW_VALUE_STRING ? r->value.s : "");
    rec->bad = r->error != NULL;
    rec->at_ms = gw_clock_now_ms();
    if (ctx->block_after && ctx->n == ctx->block_after)
        ctx->blocked = true;
    return 0;
}

int gw_ctx_point(gw_ctx_t *ctx, const gw_point_info_t *pi, cfg_error_t *err)
{
    (void)err;
    if (ctx->n_points < 8)
        ctx->points[ctx->n_points++] = pi->kind;
    return 0;
}

int gw_ctx_status(gw_ctx_t *ctx, const char *state)
{
    (void)ctx;
    (void)state;
    return 0;
}

void gw_ctx_done(gw_ctx_t *ctx)
{
    ctx->done_calls++;
    ctx->done_at_ms = gw_clock_now_ms();
    gw_loop_stop(ctx->loop);
}

/* What the publishing stage hands on (test_publish.c tests only how it
 * finds points, and the adapter here has no stage): never reached. Their
 * declarations are gateway_int.h's, whose gw_ctx this file cannot see. */
int gw_ctx_publish(gw_ctx_t *ctx, const gw_reading_t *r);
void gw_ctx_suppress(gw_ctx_t *ctx);
int gw_ctx_put(gw_ctx_t *ctx, const char *topic, const char *payload, size_t len, bool retain);

int gw_ctx_publish(gw_ctx_t *ctx, const gw_reading_t *r)
{
    (void)ctx;
    (void)r;
    CU_FAIL("gw_ctx_publish() called");
    return -1;
}

void gw_ctx_suppress(gw_ctx_t *ctx)
{
    (void)ctx;
    CU_FAIL("gw_ctx_suppress() called");
}

int gw_ctx_put(gw_ctx_t *ctx, const char *topic, const char *payload, size_t len, bool retain)
{
    (void)ctx;
    (void)topic;
    (void)payload;
    (void)len;
    (void)retain;
    CU_FAIL("gw_ctx_put() called");
    return -1;
}

/* Creates a simulated adapter from YAML text on a fresh context. */
static void *make(const char *yaml, cfg_t **cfg, gw_ctx_t *ctx)
{
    const adp_ops_t *ops = adp_find("simulated");
    cfg_error_t err;
    void *self = NULL;

    memset(ctx, 0, sizeof(*ctx));
    ctx->recs = calloc(MAX_READINGS, sizeof(*ctx->recs));
    CU_ASSERT_EQUAL_FATAL(cfg_load_string("test.yaml", yaml, strlen(yaml), cfg, &err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ops);
    CU_ASSERT_EQUAL_FATAL(ops->create(&(*cfg)->adapters[0], ctx, &self, &err), 0);
    CU_ASSERT_EQUAL(cfg_check_unknown((*cfg)->adapters[0].node, "adapter 'sim'", &err), 0);
    ctx->loop = gw_loop_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx->loop);
    return self;
}

static void unmake(void *self, cfg_t *cfg, gw_ctx_t *ctx)
{
    const adp_ops_t *ops = adp_find("simulated");

    ops->stop(self);
    ops->destroy(self);
    gw_loop_free(ctx->loop);
    cfg_free(cfg);
    free(ctx->recs);
}

static const char *const CONC_YAML = "adapters:\n"
                                     "  - name: sim\n"
                                     "    type: simulated\n"
                                     "    sensors: 4\n"
                                     "    interval: 50ms\n"
                                     "    count: 5\n"
                                     "    seed: 42\n";

/* 4 sensors x 5 readings at 50 ms take about 5 intervals, not 4 x 5. */
static void test_concurrent_not_serialized(void)
{
    gw_ctx_t ctx;
    cfg_t *cfg;
    void *self = make(CONC_YAML, &cfg, &ctx);
    uint64_t t0 = gw_clock_now_ms(), elapsed;
    uint64_t next_seq[4] = {1, 1, 1, 1};

    CU_ASSERT_EQUAL(adp_find("simulated")->start(self), 0);
    CU_ASSERT_EQUAL(gw_loop_run(ctx.loop), 0);
    elapsed = ctx.done_at_ms - t0;
    CU_ASSERT_EQUAL(ctx.n, 20);
    CU_ASSERT_EQUAL(ctx.done_calls, 1);
    CU_ASSERT(elapsed >= 240 && elapsed <= 400);
    for (size_t i = 0; i < ctx.n; i++) {
        int s = ctx.recs[i].sensor[6] - '0';

        CU_ASSERT(strncmp(ctx.recs[i].sensor, "TEMP_0", 6) == 0 && s >= 0 && s < 4);
        CU_ASSERT_EQUAL(ctx.recs[i].seq, next_seq[s]);
        next_seq[s]++;
        /* Round-robin: reading i belongs to sensor i mod 4 (phases are spread, no bursts). */
        CU_ASSERT_EQUAL((size_t)s, i % 4);
    }
    unmake(self, cfg, &ctx);
}

/* --test: every sensor once, all at the start (not spread over the 10 s
 * interval), then done; `count` does not matter. */
static void test_once(void)
{
    gw_ctx_t ctx;
    cfg_t *cfg;
    void *self = make("adapters:\n  - name: sim\n    type: simulated\n    sensors: 3\n"
                      "    interval: 10s\n    count: 7\n",
                      &cfg, &ctx);
    uint64_t t0 = gw_clock_now_ms();

    ctx.once = true;
    CU_ASSERT_EQUAL(adp_find("simulated")->start(self), 0);
    CU_ASSERT_EQUAL(gw_loop_run(ctx.loop), 0);
    CU_ASSERT_EQUAL(ctx.n, 3);
    CU_ASSERT_EQUAL(ctx.done_calls, 1);
    CU_ASSERT(ctx.done_at_ms - t0 < 1000);
    for (size_t i = 0; i < ctx.n; i++) {
        char want[32];

        snprintf(want, sizeof(want), "TEMP_%02zu", i);
        CU_ASSERT_STRING_EQUAL(ctx.recs[i].sensor, want);
        CU_ASSERT_EQUAL(ctx.recs[i].seq, 1);
    }
    unmake(self, cfg, &ctx);
}

static void test_seed_reproducible(void)
{
    double first[20], second[20];
    gw_ctx_t ctx;
    cfg_t *cfg;

    for (int run = 0; run < 2; run++) {
        void *self = make(CONC_YAML, &cfg, &ctx);

        adp_find("simulated")->start(self);
        gw_loop_run(ctx.loop);
        CU_ASSERT_EQUAL_FATAL(ctx.n, 20);
        for (size_t i = 0; i < 20; i++)
            (run ? second : first)[i] = ctx.recs[i].value;
        unmake(self, cfg, &ctx);
    }
    CU_ASSERT(memcmp(first, second, sizeof(first)) == 0);
    /* Different sensors draw different values. */
    CU_ASSERT(first[0] != first[1] || first[1] != first[2]);
}

static void test_gaussian_and_rounding(void)
{
    const char *yaml = "adapters:\n"
                       "  - name: sim\n"
                       "    type: simulated\n"
                       "    sensors: [a, b]\n"
                       "    interval: 1ms\n"
                       "    count: 2500\n"
                       "    mean: 20.0\n"
                       "    stddev: 2.0\n"
                       "    unit: kelvin\n"
                       "    seed: 7\n";
    gw_ctx_t ctx;
    cfg_t *cfg;
    void *self = make(yaml, &cfg, &ctx);
    double sum = 0, sq = 0, mean, sd;

    adp_find("simulated")->start(self);
    gw_loop_run(ctx.loop);
    CU_ASSERT_EQUAL_FATAL(ctx.n, 5000);
    for (size_t i = 0; i < ctx.n; i++) {
        double v = ctx.recs[i].value;

        sum += v;
        sq += v * v;
        CU_ASSERT(fabs(v * 100 - round(v * 100)) < 1e-6); /* two decimals */
        CU_ASSERT(strcmp(ctx.recs[i].sensor, i % 2 ? "b" : "a") == 0);
    }
    mean = sum / ctx.n;
    sd = sqrt(sq / ctx.n - mean * mean);
    CU_ASSERT(fabs(mean - 20.0) < 0.2);
    CU_ASSERT(fabs(sd - 2.0) < 0.15);
    unmake(self, cfg, &ctx);
}

static void *resume_self;

static void resume_timer(gw_timer_t *t, void *arg)
{
    gw_ctx_t *ctx = arg;
    (void)t;

    ctx->blocked = false;
    adp_find("simulated")->resume(resume_self);
}

/* While blocked no reading is produced; after resume() every sensor goes on
 * with the next seq, none lost. */
static void test_block_and_resume(void)
{
    gw_ctx_t ctx;
    cfg_t *cfg;
    void *self = make(CONC_YAML, &cfg, &ctx);
    gw_timer_t t;
    uint64_t next_seq[4] = {1, 1, 1, 1};
    size_t at_block;

    resume_self = self;
    ctx.block_after = 6;
    gw_timer_init(&t, resume_timer, &ctx);
    adp_find("simulated")->start(self);
    gw_timer_start(ctx.loop, &t, gw_clock_now_ms() + 300);
    gw_loop_run(ctx.loop);
    CU_ASSERT_EQUAL(ctx.n, 20);
    CU_ASSERT_EQUAL(ctx.done_calls, 1);
    at_block = ctx.block_after;
    /* Blocked after ~62 ms, resumed at 300 ms: nothing arrived in between. */
    CU_ASSERT(ctx.recs[at_block].at_ms - ctx.recs[at_block - 1].at_ms >= 150);
    for (size_t i = 0; i < ctx.n; i++) {
        int s = ctx.recs[i].sensor[6] - '0';

        CU_ASSERT_EQUAL(ctx.recs[i].seq, next_seq[s]);
        next_seq[s]++;
    }
    gw_timer_stop(ctx.loop, &t);
    unmake(self, cfg, &ctx);
}

static void expect_create_error(const char *yaml, const char *text)
{
    cfg_t *cfg;
    cfg_error_t err = {0};
    void *self = NULL;

    CU_ASSERT_EQUAL_FATAL(cfg_load_string("test.yaml", yaml, strlen(yaml), &cfg, &err), 0);
    CU_ASSERT_NOT_EQUAL(adp_find("simulated")->create(&cfg->adapters[0], NULL, &self, &err), 0);
    CU_ASSERT_STRING_EQUAL(err.text, text);
    cfg_free(cfg);
}

static void test_config_errors(void)
{
    expect_create_error("adapters:\n  - name: sim\n    type: simulated\n    sensors: 0\n",
                        "test.yaml:4:14: sensors must be between 1 and 100000, got 0");
    expect_create_error("adapters:\n  - name: sim\n    type: simulated\n    sensors: [a, a]\n",
                        "test.yaml:4:18: duplicate sensor name 'a'");
    expect_create_error("adapters:\n  - name: sim\n    type: simulated\n    sensors: [a/b]\n",
                        "test.yaml:4:15: sensor name 'a/b': name contains '/', '+' or '#'");
    expect_create_error("adapters:\n  - name: sim\n    type: simulated\n    interval: 0ms\n",
                        "test.yaml:4:15: interval must be between 1ms and 24h, got 0ms");
    expect_create_error("adapters:\n  - name: sim\n    type: simulated\n    stddev: -1\n",
                        "test.yaml:4:13: stddev must be between 0 and 1e+15, got -1");
}

/* sequence: the listed values in turn, starting over after the last, with
 * their kinds; null is a failed read. The declared kind is the common one. */
static void test_sequence(void)
{
    gw_ctx_t ctx;
    cfg_t *cfg;
    void *self = make("adapters:\n  - name: sim\n    type: simulated\n    sensors: [a]\n"
                      "    interval: 5ms\n    count: 7\n"
                      "    sequence: [20, 20.1, true, run, null]\n",
                      &cfg, &ctx);
    static const gw_value_kind_t kinds[] = {GW_VALUE_DOUBLE, GW_VALUE_DOUBLE, GW_VALUE_BOOL,
                                            GW_VALUE_STRING, GW_VALUE_NONE};

    CU_ASSERT_EQUAL(ctx.n_points, 1);
    CU_ASSERT_EQUAL(ctx.points[0], GW_VALUE_NONE); /* mixed kinds: not known */
    CU_ASSERT_EQUAL(adp_find("simulated")->start(self), 0);
    CU_ASSERT_EQUAL(gw_loop_run(ctx.loop), 0);
    CU_ASSERT_EQUAL_FATAL(ctx.n, 7);
    for (size_t i = 0; i < ctx.n; i++) {
        const rec_t *r = &ctx.recs[i];

        CU_ASSERT_EQUAL(r->seq, i + 1);
        CU_ASSERT_EQUAL(r->kind, kinds[i % 5]);
        CU_ASSERT_EQUAL(r->bad, i % 5 == 4);
    }
    CU_ASSERT_EQUAL(ctx.recs[0].value, 20.0);
    CU_ASSERT_EQUAL(ctx.recs[1].value, 20.1);
    CU_ASSERT_EQUAL(ctx.recs[5].value, 20.0);
    CU_ASSERT_EQUAL(ctx.recs[6].value, 20.1);
    CU_ASSERT(ctx.recs[2].b);
    CU_ASSERT_STRING_EQUAL(ctx.recs[3].s, "run");
    unmake(self, cfg, &ctx);

    self = make("adapters:\n  - name: sim\n    type: simulated\n    sensors: [a, b]\n"
                "    sequence: [true, null, false]\n",
                &cfg, &ctx);
    CU_ASSERT_EQUAL(ctx.n_points, 2);
    CU_ASSERT_EQUAL(ctx.points[0], GW_VALUE_BOOL);
    CU_ASSERT_EQUAL(ctx.points[1], GW_VALUE_BOOL);
    unmake(self, cfg, &ctx);
}

int simulated_suite(void)
{
    CU_pSuite s = CU_add_suite("simulated", NULL, NULL);

    if (!s ||
        !CU_add_test(s, "4 sensors x 5 at 50 ms run concurrently",
                     test_concurrent_not_serialized) ||
        !CU_add_test(s, "seed gives reproducible values", test_seed_reproducible) ||
        !CU_add_test(s, "--test: every sensor once at the start", test_once) ||
        !CU_add_test(s, "Gaussian mean/stddev, names list, 2 decimals",
                     test_gaussian_and_rounding) ||
        !CU_add_test(s, "block pauses, resume continues the seq", test_block_and_resume) ||
        !CU_add_test(s, "config errors", test_config_errors) ||
        !CU_add_test(s, "sequence plays fixed values and kinds", test_sequence))
        return -1;
    return 0;
}

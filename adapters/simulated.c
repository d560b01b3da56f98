/*
 * The simulated adapter: sensors that each yield a reading every `interval`,
 * with values drawn from a Gaussian(mean, stddev).
 *
 * Each sensor has its own timer on an absolute schedule (start + phase +
 * k * interval), so sensors neither drift nor serialize behind each other.
 * The phases are spread evenly over one interval: N sensors never fire in one
 * lock-step burst, and with `count` set the last reading of the last sensor
 * comes at count * interval after start. Each timer has the loop's grid for
 * its interval (gw_interval_grid()): sensors due within one slot of the grid
 * fire in one wake-up, each at a fixed offset of less than the grid after
 * its phase.
 *
 * Values come from a per-sensor xoshiro256** generator. With `seed` set,
 * sensor i's sequence depends only on (seed, i), so runs are reproducible.
 *
 * With `sequence: [20, 20.1, true, text, null, ...]` every sensor instead
 * plays the listed values in turn, from the first, starting over after the
 * last: numbers, true/false, null (a failed read, quality bad) and any other
 * text as a string value. Signals with known steps test what subscribers see.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "adapters/adapter.h"
#include "gateway/clock.h"
#include "gateway/error.h"
#include "gateway/fmath.h"
#include "gateway/log.h"

#define SIM_MAX_SENSORS 100000

typedef struct sim sim_t;

typedef struct {
    sim_t *sim;
    char *name;
    gw_timer_t timer;
    uint64_t due_ms;
    uint64_t seq; /* readings produced so far */
    uint64_t rng[4];
    bool paused; /* held while the outbox is blocked */
} sim_sensor_t;

typedef struct {
    gw_value_kind_t kind; /* GW_VALUE_NONE: a failed read */
    double d;
    bool b;
    const char *s;
} sim_step_t;

struct sim {
    gw_ctx_t *ctx;
    sim_step_t *steps; /* `sequence`, NULL: Gaussian values */
    size_t n_steps;
    sim_sensor_t *sensors;
    size_t n_sensors;
    size_t n_resumes; /* sim_resume() calls: where the next one starts */
    size_t n_done;
    uint64_t interval_ms;
    uint64_t count; /* 0: forever */
    double mean;
    double stddev;
    const char *unit;
    bool running;
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in (0, 1]. */
static double uniform01(uint64_t s[4])
{
    return ((double)(xoshiro_next(s) >> 11) + 1.0) * 0x1.0p-53;
}

/* Marsaglia's polar method (Box-Muller without the cosine): a point drawn
 * uniformly in the unit disc, on average 1.27 pairs per value; the second
 * value of the pair is thrown away to keep the state per draw simple. */
static double gaussian(uint64_t s[4], double mean, double stddev)
{
    double x, y, r2;

    do {
        x = 2.0 * uniform01(s) - 1.0;
        y = 2.0 * uniform01(s) - 1.0;
        r2 = x * x + y * y;
    } while (r2 >= 1.0 || r2 == 0.0);
    return mean + stddev * x * sqrt(-2.0 * gw_ln(r2) / r2);
}

static void play_step(const sim_t *sim, uint64_t seq, gw_reading_t *r)
{
    const sim_step_t *st = &sim->steps[(seq - 1) % sim->n_steps];

    r->kind = st->kind;
    if (st->kind == GW_VALUE_DOUBLE)
        r->value.d = st->d;
    else if (st->kind == GW_VALUE_BOOL)
        r->value.b = st->b;
    else if (st->kind == GW_VALUE_STRING)
        r->value.s = st->s;
    else
        r->error = "simulated failure";
}

static void sensor_sample(sim_sensor_t *se)
{
    sim_t *sim = se->sim;
    gw_reading_t r = {0};

    r.sensor = se->name;
    r.seq = ++se->seq;
    r.ts_ms = gw_clock_wall_ms();
    if (sim->steps) {
        play_step(sim, r.seq, &r);
    } else {
        double v = gaussian(se->rng, sim->mean, sim->stddev);

        r.kind = GW_VALUE_DOUBLE;
        r.value.d = gw_round(v * 100.0) / 100.0; /* two decimals, as a real probe reports */
    }
    r.unit = sim->unit;
    gw_ctx_emit(sim->ctx, &r);
}

static void sensor_schedule(sim_sensor_t *se, uint64_t now)
{
    sim_t *sim = se->sim;

    se->due_ms += sim->interval_ms;
    /* Fallen behind by more than an interval (a stalled machine): restart the
     * schedule from now rather than firing a burst of catch-up readings. */
    if (se->due_ms + sim->interval_ms < now)
        se->due_ms = now;
    gw_timer_start(gw_ctx_loop(sim->ctx), &se->timer, se->due_ms);
}

static void sensor_fire(gw_timer_t *t, void *arg)
{
    sim_sensor_t *se = arg;
    sim_t *sim = se->sim;
    uint64_t count = gw_ctx_once(sim->ctx) ? 1 : sim->count;
    (void)t;

    if (gw_ctx_blocked(sim->ctx)) {
        se->paused = true; /* resume() picks it up again */
        return;
    }
    sensor_sample(se);
    if (count && se->seq >= count) {
        if (++sim->n_done == sim->n_sensors)
            gw_ctx_done(sim->ctx);
        return;
    }
    sensor_schedule(se, gw_clock_now_ms());
}

static int read_sensor_names(sim_t *sim, const cfg_node_t *node, cfg_error_t *err)
{
    if (!node) {
        sim->n_sensors = 4;
    } else if (cfg_node_kind(node) == CFG_SEQUENCE) {
        sim->n_sensors = cfg_seq_len(node);
        if (sim->n_sensors == 0 || sim->n_sensors > SIM_MAX_SENSORS)
            return cfg_node_error(node, err, "sensors must list between 1 and %d names",
                                  SIM_MAX_SENSORS);
    } else {
        int64_t n;
        int rc = cfg_node_int(node, 1, SIM_MAX_SENSORS, &n, err);

        if (rc)
            return rc;
        sim->n_sensors = (size_t)n;
    }
    sim->sensors = calloc(sim->n_sensors, sizeof(*sim->sensors));
    if (!sim->sensors)
        return -ENOMEM;
    for (size_t i = 0; i < sim->n_sensors; i++) {
        sim_sensor_t *se = &sim->sensors[i];
        const char *name, *why;
        char buf[32];

        if (node && cfg_node_kind(node) == CFG_SEQUENCE) {
            const cfg_node_t *item = cfg_seq_at(node, i);
            int rc = cfg_node_string(item, &name, err);

            if (rc)
                return rc;
            if ((why = gw_topic_level_check(name)) != NULL)
                return cfg_node_error(item, err, "sensor name '%s': %s", name, why);
            for (size_t j = 0; j < i; j++)
                if (strcmp(sim->sensors[j].name, name) == 0)
                    return cfg_node_error(item, err, "duplicate sensor name '%s'", name);
        } else {
            snprintf(buf, sizeof(buf), "TEMP_%02zu", i);
            name = buf;
        }
        se->sim = sim;
        se->name = strdup(name);
        if (!se->name)
            return -ENOMEM;
    }
    return 0;
}

/* A decimal number, nothing around it. */
static bool parse_number(const char *s, double *out)
{
    char *end;

    if (!*s || strchr(" \t\n", *s))
        return false;
    *out = strtod(s, &end);
    return *end == '\0' && isfinite(*out);
}

static int read_sequence(sim_t *sim, const cfg_node_t *node, cfg_error_t *err)
{
    if (!node)
        return 0;
    if (cfg_node_kind(node) != CFG_SEQUENCE || cfg_seq_len(node) == 0)
        return cfg_node_error(node, err, "sequence must list at least one value");
    sim->n_steps = cfg_seq_len(node);
    sim->steps = calloc(sim->n_steps, sizeof(*sim->steps));
    if (!sim->steps)
        return -ENOMEM;
    for (size_t i = 0; i < sim->n_steps; i++) {
        const cfg_node_t *item = cfg_seq_at(node, i);
        sim_step_t *st = &sim->steps[i];
        const char *text;
        int rc;

        if (cfg_node_kind(item) != CFG_SCALAR)
            return cfg_node_error(item, err, "sequence values must be scalars");
        if ((rc = cfg_node_string(item, &text, err)) < 0)
            return rc;
        if (parse_number(text, &st->d)) {
            st->kind = GW_VALUE_DOUBLE;
        } else if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
            st->kind = GW_VALUE_BOOL;
            st->b = text[0] == 't';
        } else if (strcmp(text, "null") == 0 || strcmp(text, "~") == 0) {
            st->kind = GW_VALUE_NONE;
        } else {
            st->kind = GW_VALUE_STRING;
            st->s = text;
        }
    }
    return 0;
}

/* The value kind every sensor has: the steps' common kind (failed reads
 * aside), GW_VALUE_NONE when they mix kinds; numbers without a sequence. */
static gw_value_kind_t value_kind(const sim_t *sim)
{
    gw_value_kind_t k = GW_VALUE_NONE;

    if (!sim->steps)
        return GW_VALUE_DOUBLE;
    for (size_t i = 0; i < sim->n_steps; i++) {
        if (sim->steps[i].kind == GW_VALUE_NONE)
            continue;
        if (k != GW_VALUE_NONE && k != sim->steps[i].kind)
            return GW_VALUE_NONE;
        k = sim->steps[i].kind;
    }
    return k;
}

static int declare_points(const sim_t *sim, cfg_error_t *err)
{
    gw_point_info_t pi = {
        .kind = value_kind(sim), .unit = sim->unit, .interval_ms = sim->interval_ms};

    for (size_t i = 0; i < sim->n_sensors; i++) {
        int rc;

        pi.name = sim->sensors[i].name;
        if ((rc = gw_ctx_point(sim->ctx, &pi, err)) < 0)
            return rc;
    }
    return 0;
}

static void seed_sensors(sim_t *sim, bool seeded, uint64_t seed)
{
    if (!seeded && getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = (uint64_t)gw_clock_wall_ms() ^ (uint64_t)gw_clock_now_ms() << 20;
    for (size_t i = 0; i < sim->n_sensors; i++) {
        uint64_t x = seed ^ (0x632be59bd9b4e019u * (i + 1));

        for (int k = 0; k < 4; k++)
            sim->sensors[i].rng[k] = splitmix64(&x);
    }
}

static void sim_destroy(void *self);

static int sim_create(const cfg_adapter_t *cfg, gw_ctx_t *ctx, void **self, cfg_error_t *err)
{
    sim_t *sim = calloc(1, sizeof(*sim));
    int64_t count = 0, seed = 0;
    bool seeded;
    int rc;

    if (!sim)
        return -ENOMEM;
    sim->ctx = ctx;
    if ((rc = read_sensor_names(sim, cfg_get_node(cfg->node, "sensors"), err)) ||
        (rc = cfg_get_duration(cfg->node, "interval", 1, 86400000, 1000, &sim->interval_ms, err)) ||
        (rc = cfg_get_int(cfg->node, "count", 1, INT64_MAX, 0, &count, err)) ||
        (rc = cfg_get_double(cfg->node, "mean", -1e15, 1e15, 50.0, &sim->mean, err)) ||
        (rc = cfg_get_double(cfg->node, "stddev", 0.0, 1e15, 10.0, &sim->stddev, err)) ||
        (rc = cfg_get_string(cfg->node, "unit", "celsius", &sim->unit, err)) ||
        (rc = read_sequence(sim, cfg_get_node(cfg->node, "sequence"), err)))
        goto fail;
    seeded = cfg_has(cfg->node, "seed");
    if ((rc = cfg_get_int(cfg->node, "seed", 0, INT64_MAX, 0, &seed, err)))
        goto fail;
    sim->count = (uint64_t)count;
    if ((rc = declare_points(sim, err)))
        goto fail;
    seed_sensors(sim, seeded, (uint64_t)seed);
    *self = sim;
    return 0;
fail:
    sim_destroy(sim);
    return rc;
}

static int sim_start(void *self)
{
    sim_t *sim = self;
    uint64_t now = gw_clock_now_ms();

    for (size_t i = 0; i < sim->n_sensors; i++) {
        sim_sensor_t *se = &sim->sensors[i];

        /* Phase (i+1)/N of an interval, minus the one interval that
         * sensor_schedule() adds, so sensor N-1's k-th reading comes at
         * now + k * interval. */
        se->due_ms = now + sim->interval_ms * (i + 1) / sim->n_sensors - sim->interval_ms;
        gw_timer_init(&se->timer, sensor_fire, se);
        gw_timer_set_grid(&se->timer, gw_interval_grid(sim->interval_ms));
        if (gw_ctx_once(sim->ctx))
            gw_timer_start(gw_ctx_loop(sim->ctx), &se->timer, now); /* --test: all at once */
        else
            sensor_schedule(se, now);
    }
    sim->running = true;
    gw_info("adapter '%s': %zu simulated sensors every %llu ms%s", gw_ctx_name(sim->ctx),
            sim->n_sensors, (unsigned long long)sim->interval_ms,
            sim->count ? "" : ", without end");
    return 0;
}

static void sim_stop(void *self)
{
    sim_t *sim = self;
    gw_loop_t *loop = gw_ctx_loop(sim->ctx);

    if (!sim->running)
        return;
    for (size_t i = 0; i < sim->n_sensors; i++)
        gw_timer_stop(loop, &sim->sensors[i].timer);
    sim->running = false;
}

static void sim_resume(void *self)
{
    sim_t *sim = self;
    uint64_t now = gw_clock_now_ms();
    size_t first;

    if (!sim->running || !sim->n_sensors)
        return;
    first = sim->n_resumes++ % sim->n_sensors; /* fair: see unblocked(), gateway.c */
    for (size_t k = 0; k < sim->n_sensors; k++) {
        sim_sensor_t *se = &sim->sensors[(first + k) % sim->n_sensors];

        if (se->paused) {
            se->paused = false;
            se->due_ms = now;
            gw_timer_start(gw_ctx_loop(sim->ctx), &se->timer, now);
        }
    }
}

static void sim_destroy(void *self)
{
    sim_t *sim = self;

    if (!sim)
        return;
    for (size_t i = 0; sim->sensors && i < sim->n_sensors; i++)
        free(sim->sensors[i].name);
    free(sim->sensors);
    free(sim->steps);
    free(sim);
}

static void sim_stats(const void *self, adp_stats_t *out)
{
    const sim_t *sim = self;

    out->reads_ok = 0;
    out->reads_failed = 0;
    out->reconnects = 0;
    for (size_t i = 0; i < sim->n_sensors; i++)
        out->reads_ok += sim->sensors[i].seq;
}

const adp_ops_t adp_simulated_ops = {
    .kind = "simulated",
    .once = true,
    .create = sim_create,
    .start = sim_start,
    .stop = sim_stop,
    .destroy = sim_destroy,
    .resume = sim_resume,
    .stats = sim_stats,
};

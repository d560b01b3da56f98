/*
 * The publishing stage; see publish.h.
 *
 * A stage belongs to one adapter and keeps one record per point, found by
 * the reading's sensor name in an open-addressing hash table (names are
 * copied: some adapters build them per reading). A point's settings are
 * resolved once, when its first reading arrives. Everything is O(1) per
 * reading; the window timer walks the points once per window length.
 *
 * Loop thread only.
 */
#include "gateway/publish.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/clock.h"
#include "gateway/gateway_int.h"
#include "gateway/log.h"
#include "gateway/publish_device.h"

typedef enum { MODE_ALL, MODE_EXCEPTION, MODE_WINDOW, MODE_DEVICE } mode_t_;

typedef struct {
    char *name;
    uint64_t hash;
    mode_t_ mode;
    cfg_publish_t set;
    const gw_point_info_t *decl; /* as the adapter declared it, NULL: it did not */
    size_t dev_points;           /* points its device declared */
    uint64_t mark;               /* per-device messages: in the cycle being gathered */
    bool warned;                 /* a setting that does not fit the point's value type, said once */
    /* Report by exception: what was last published, and when (monotonic). */
    bool has_last;
    gw_value_kind_t kind;
    union {
        double d;
        int64_t i;
        uint64_t u;
        bool b;
    } last;
    char *last_s; /* strings: the value; bad readings: the error */
    bool last_bad;
    uint64_t last_pub_ms;
    /* Window: [start, start + length) of wall-clock time. */
    bool open;
    int64_t start;
    int64_t closed_until; /* end of the last window published */
    uint64_t n;           /* good samples */
    uint64_t samples;     /* every sample, good or bad */
    double min, max, mean, lastv;
    uint64_t seq; /* of the last sample */
    char *unit;
    char *error; /* of the last bad sample */
} point_t;

/* A declared point (gw_stage_point), with copies of its strings. */
typedef struct {
    gw_point_info_t info;
} decl_t;

struct gw_stage {
    gw_ctx_t *ctx;
    decl_t *decls;
    size_t n_decls;
    const cfg_t *cfg;
    const cfg_adapter_t *a;
    point_t **slots; /* open addressing, power-of-two size */
    size_t cap;
    size_t n;
    gw_timer_t timer;  /* the earliest end of an open window */
    int64_t armed_end; /* ... which is this (wall clock) while the timer runs */
    bool all;          /* no publish settings: every reading as is */
    gw_devmsg_t *dm;   /* payload: per_device, else NULL */
};

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int grow(gw_stage_t *st)
{
    size_t cap = st->cap ? st->cap * 2 : 64;
    point_t **slots = calloc(cap, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < st->cap; i++) {
        point_t *p = st->slots[i];
        size_t j;

        if (!p)
            continue;
        for (j = p->hash & (cap - 1); slots[j]; j = (j + 1) & (cap - 1))
            ;
        slots[j] = p;
    }
    free(st->slots);
    st->slots = slots;
    st->cap = cap;
    return 0;
}

static point_t *point_new(gw_stage_t *st, const char *name, uint64_t h, size_t slot)
{
    point_t *p = calloc(1, sizeof(*p));

    if (!p || !(p->name = strdup(name))) {
        free(p);
        return NULL;
    }
    p->hash = h;
    cfg_publish_resolve(st->cfg, st->a, name, &p->set);
    for (size_t i = 0; i < st->n_decls; i++)
        if (strcmp(st->decls[i].info.name, name) == 0)
            p->decl = &st->decls[i].info;
    for (size_t i = 0; p->decl && i < st->n_decls; i++) {
        const char *d = st->decls[i].info.device;

        p->dev_points +=
            (!d && !p->decl->device) || (d && p->decl->device && strcmp(d, p->decl->device) == 0);
    }
    if (st->dm)
        p->mode = MODE_DEVICE;
    else if (p->set.window_ms)
        p->mode = MODE_WINDOW;
    else if ((p->set.set & CFG_PUB_DEADBAND) || p->set.on_change)
        p->mode = MODE_EXCEPTION;
    else
        p->mode = MODE_ALL;
    st->slots[slot] = p;
    st->n++;
    return p;
}

/* The point of a sensor name, made on its first reading; NULL without memory. */
static point_t *lookup(gw_stage_t *st, const char *name)
{
    uint64_t h = hash_name(name);
    size_t i;

    if ((st->n + 1) * 2 > st->cap && grow(st) < 0)
        return NULL;
    for (i = h & (st->cap - 1); st->slots[i]; i = (i + 1) & (st->cap - 1))
        if (st->slots[i]->hash == h && strcmp(st->slots[i]->name, name) == 0)
            return st->slots[i];
    return point_new(st, name, h, i);
}

static bool is_number(gw_value_kind_t k)
{
    return k == GW_VALUE_DOUBLE || k == GW_VALUE_INT || k == GW_VALUE_UINT;
}

static double as_double(const gw_reading_t *r)
{
    switch (r->kind) {
    case GW_VALUE_INT:
        return (double)r->value.i;
    case GW_VALUE_UINT:
        return (double)r->value.u;
    default:
        return r->value.d;
    }
}

static bool same_value(const point_t *p, const gw_reading_t *r)
{
    if (p->kind != r->kind)
        return false;
    switch (r->kind) {
    case GW_VALUE_DOUBLE:
        return p->last.d == r->value.d;
    case GW_VALUE_INT:
        return p->last.i == r->value.i;
    case GW_VALUE_UINT:
        return p->last.u == r->value.u;
    case GW_VALUE_BOOL:
        return p->last.b == r->value.b;
    case GW_VALUE_STRING:
        return strcmp(p->last_s ? p->last_s : "", r->value.s ? r->value.s : "") == 0;
    default:
        return true;
    }
}

/* Whether a value moved by the deadband from the last published one. The
 * small tolerance keeps decimal steps exact: 20.2 - 20 is 0.1999... in
 * binary and still moves by a deadband of 0.2. */
static bool beyond_deadband(const point_t *p, const gw_reading_t *r)
{
    double last = p->kind == GW_VALUE_DOUBLE ? p->last.d
                  : p->kind == GW_VALUE_INT  ? (double)p->last.i
                                             : (double)p->last.u;
    double v = as_double(r), diff = fabs(v - last);
    double band = p->set.deadband_kind == CFG_DEADBAND_PERCENT
                      ? p->set.deadband / 100.0 * fabs(last)
                      : p->set.deadband;

    if (same_value(p, r) || !is_number(p->kind))
        return !same_value(p, r);
    return diff >= band - 1e-9 * fmax(fabs(v), fabs(last));
}

/* A point's own setting that does not fit the values it turned out to have
 * (an adapter that could not say in advance): said once. */
static void warn_type(gw_stage_t *st, point_t *p, const char *what)
{
    if (p->warned)
        return;
    p->warned = true;
    gw_warn("adapter '%s': point '%s' has no numeric value: %s applies as on_change", st->a->name,
            p->name, what);
}

/* Report by exception: whether this reading is published. */
static bool changed(gw_stage_t *st, point_t *p, const gw_reading_t *r, uint64_t now)
{
    bool bad = r->error != NULL;

    if (!p->has_last || bad != p->last_bad)
        return true;
    if (p->set.max_interval_ms && now - p->last_pub_ms >= p->set.max_interval_ms)
        return true;
    if (bad)
        return strcmp(p->last_s ? p->last_s : "", r->error) != 0;
    if ((p->set.set & CFG_PUB_DEADBAND) && is_number(r->kind))
        return beyond_deadband(p, r);
    if ((p->set.own & CFG_PUB_DEADBAND) && !p->set.on_change)
        warn_type(st, p, "its deadband");
    return !same_value(p, r);
}

static void remember(point_t *p, const gw_reading_t *r, uint64_t now)
{
    const char *s = r->error ? r->error : r->kind == GW_VALUE_STRING ? r->value.s : NULL;

    p->has_last = true;
    p->last_bad = r->error != NULL;
    p->kind = r->error ? GW_VALUE_NONE : r->kind;
    p->last.u = 0;
    switch (p->kind) {
    case GW_VALUE_DOUBLE:
        p->last.d = r->value.d;
        break;
    case GW_VALUE_INT:
        p->last.i = r->value.i;
        break;
    case GW_VALUE_UINT:
        p->last.u = r->value.u;
        break;
    case GW_VALUE_BOOL:
        p->last.b = r->value.b;
        break;
    default:
        break;
    }
    if (s && (!p->last_s || strcmp(p->last_s, s) != 0)) {
        char *copy = strdup(s);

        if (copy) { /* without memory the next reading is published: harmless */
            free(p->last_s);
            p->last_s = copy;
        }
    } else if (!s) {
        free(p->last_s);
        p->last_s = NULL;
    }
    p->last_pub_ms = now;
}

static int exception(gw_stage_t *st, point_t *p, const gw_reading_t *r)
{
    uint64_t now = gw_clock_now_ms();

    if (!changed(st, p, r, now)) {
        gw_ctx_suppress(st->ctx);
        return 0;
    }
    remember(p, r, now);
    return gw_ctx_publish(st->ctx, r);
}

/* --- windows ------------------------------------------------------------- */

static void put_fn(char *buf, size_t cap, size_t *len, const char *key, double v, bool ok)
{
    gw_reading_t r = {.kind = ok ? GW_VALUE_DOUBLE : GW_VALUE_NONE, .value.d = v};
    int n;

    if (*len >= cap)
        return;
    n = snprintf(buf + *len, cap - *len, "%s", key);
    *len += n > 0 ? (size_t)n : 0;
    if (*len < cap && (n = gw_reading_value_json(&r, buf + *len, cap - *len)) > 0)
        *len += (size_t)n;
    else
        *len = cap;
}

/* The value of function f over the window; false when it has none (no good
 * sample). */
static bool fn_value(const point_t *p, int f, double *v)
{
    switch (f) {
    case CFG_WFN_COUNT:
        *v = (double)p->n;
        return true;
    case CFG_WFN_MIN:
        *v = p->min;
        break;
    case CFG_WFN_MAX:
        *v = p->max;
        break;
    case CFG_WFN_MEAN:
        *v = p->mean;
        break;
    default:
        *v = p->lastv;
    }
    return p->n > 0;
}

/* What "value" holds: the mean when asked for, else the first function. */
static int value_fn(const point_t *p)
{
    for (uint8_t i = 0; i < p->set.n_fns; i++)
        if (p->set.fns[i] == CFG_WFN_MEAN)
            return CFG_WFN_MEAN;
    return p->set.fns[0];
}

/* The summary of p's open window, published, and the next window opened
 * (empty) right after it. */
static void window_close(gw_stage_t *st, point_t *p)
{
    char extra[PAYLOAD_MAX];
    int n =
        snprintf(extra, sizeof(extra), ",\"window\":%llu", (unsigned long long)p->set.window_ms);
    size_t len = n > 0 ? (size_t)n : 0;
    gw_reading_t r = {0};
    double v;
    bool ok;

    for (uint8_t i = 0; i < p->set.n_fns; i++) {
        static const char *const keys[] = {
            ",\"min\":", ",\"max\":", ",\"mean\":", ",\"last\":", ",\"count\":"};
        int f = p->set.fns[i];

        ok = fn_value(p, f, &v);
        if (f == CFG_WFN_COUNT) {
            len += (size_t)snprintf(extra + len, sizeof(extra) - len, "%s%llu", keys[f],
                                    (unsigned long long)p->n);
            continue;
        }
        put_fn(extra, sizeof(extra), &len, keys[f], v, ok);
    }
    r.sensor = p->name;
    r.adapter = st->a->name;
    r.seq = p->seq;
    r.ts_ms = p->start;
    ok = fn_value(p, value_fn(p), &v);
    r.kind = ok && p->n ? GW_VALUE_DOUBLE : GW_VALUE_NONE;
    r.value.d = v;
    r.unit = p->unit;
    r.error = p->n ? NULL : p->error ? p->error : "no sample in window";
    r.extra = len < sizeof(extra) ? extra : NULL; /* cannot overflow: five numbers */
    gw_ctx_publish(st->ctx, &r);
    p->closed_until = p->start + (int64_t)p->set.window_ms;
    p->start = p->closed_until;
    p->n = p->samples = 0;
    free(p->error);
    p->error = NULL;
}

static int64_t window_end(const point_t *p)
{
    return p->start + (int64_t)p->set.window_ms;
}

/* Arms the timer for the earliest end of an open window (monotonic time is
 * derived from the wall-clock distance to it). */
static void arm(gw_stage_t *st)
{
    int64_t wall = gw_clock_wall_ms(), first = INT64_MAX;

    for (size_t i = 0; i < st->cap; i++) {
        point_t *p = st->slots[i];

        if (p && p->open && window_end(p) < first)
            first = window_end(p);
    }
    if (first == INT64_MAX)
        return;
    st->armed_end = first;
    gw_timer_start(gw_ctx_loop(st->ctx), &st->timer,
                   gw_clock_now_ms() + (uint64_t)(first > wall ? first - wall : 1));
}

/* Closes every window that has ended by the wall clock. The timer may fire
 * up to a millisecond early (its clock is the monotonic one): a window not
 * yet ended is left for the next run. */
static void window_due(gw_timer_t *t, void *arg)
{
    gw_stage_t *st = arg;
    int64_t wall = gw_clock_wall_ms();
    (void)t;

    for (size_t i = 0; i < st->cap; i++) {
        point_t *p = st->slots[i];

        while (p && p->open && window_end(p) <= wall)
            window_close(st, p);
    }
    arm(st);
}

static void fold(point_t *p, const gw_reading_t *r)
{
    double x = as_double(r);

    p->samples++;
    p->seq = r->seq;
    if (r->unit && (!p->unit || strcmp(p->unit, r->unit) != 0)) {
        free(p->unit);
        p->unit = strdup(r->unit);
    }
    if (r->error) {
        free(p->error);
        p->error = strdup(r->error);
        return;
    }
    if (p->n++ == 0) {
        p->min = p->max = p->mean = x;
    } else {
        if (x < p->min)
            p->min = x;
        if (x > p->max)
            p->max = x;
        p->mean += (x - p->mean) / (double)p->n; /* Welford's running mean */
    }
    p->lastv = x;
}

static int window(gw_stage_t *st, point_t *p, const gw_reading_t *r)
{
    int64_t len = (int64_t)p->set.window_ms;
    int64_t start = r->ts_ms - ((r->ts_ms % len) + len) % len;
    bool rearm = !p->open;

    if (!r->error && !is_number(r->kind)) {
        if (!p->warned && (p->set.own & CFG_PUB_WINDOW)) {
            p->warned = true;
            gw_warn("adapter '%s': point '%s' has no numeric value: its window is ignored",
                    st->a->name, p->name);
        }
        return gw_ctx_publish(st->ctx, r);
    }
    if (start < p->closed_until)
        start = p->closed_until; /* stamped just before a window the timer closed */
    if (p->open) {
        while (window_end(p) <= start)
            window_close(st, p);
    } else {
        p->open = true;
    }
    p->start = start;
    fold(p, r);
    gw_ctx_suppress(st->ctx);
    if (rearm && (!gw_timer_active(&st->timer) || window_end(p) < st->armed_end))
        arm(st);
    return 0;
}

void gw_stage_flush(gw_stage_t *st)
{
    if (!st)
        return;
    gw_devmsg_flush(st->dm);
    if (gw_timer_active(&st->timer))
        gw_timer_stop(gw_ctx_loop(st->ctx), &st->timer);
    for (size_t i = 0; i < st->cap; i++) {
        point_t *p = st->slots[i];

        if (p && p->open && p->samples > 0)
            window_close(st, p);
        if (p)
            p->open = false;
    }
}

/* --- declared points ---------------------------------------------------- */

static char *dup_or_null(const char *s, bool *oom)
{
    char *c = s ? strdup(s) : NULL;

    if (s && !c)
        *oom = true;
    return c;
}

static int keep_decl(gw_stage_t *st, const gw_point_info_t *pi)
{
    decl_t *d = realloc(st->decls, (st->n_decls + 1) * sizeof(*d));
    bool oom = false;

    if (!d)
        return -ENOMEM;
    st->decls = d;
    d = &st->decls[st->n_decls];
    d->info = *pi;
    d->info.name = dup_or_null(pi->name, &oom);
    d->info.unit = dup_or_null(pi->unit, &oom);
    d->info.device = dup_or_null(pi->device, &oom);
    st->n_decls++;
    return oom ? -ENOMEM : 0;
}

int gw_stage_point(gw_stage_t *st, const gw_point_info_t *pi, cfg_error_t *err)
{
    static const char *const kinds[] = {[GW_VALUE_BOOL] = "bool", [GW_VALUE_STRING] = "string"};
    cfg_publish_t set;

    if (!st)
        return 0;
    cfg_publish_resolve(st->cfg, st->a, pi->name, &set);
    /* Only a point's own entry is wrong for its kind: a deadband or window of
     * the gateway or the adapter applies to their numbers (bools and strings
     * are then published on change, or every sample). */
    if (st->dm && (set.own & CFG_PUB_WINDOW) && set.window_node)
        return cfg_node_error(set.window_node, err,
                              "a window does not combine with payload: per_device (point '%s')",
                              pi->name);
    if (st->dm && (set.own & CFG_PUB_DEADBAND) && set.deadband_node)
        return cfg_node_error(set.deadband_node, err,
                              "a deadband does not combine with payload: per_device (point '%s')",
                              pi->name);
    if (pi->kind == GW_VALUE_BOOL || pi->kind == GW_VALUE_STRING) {
        if ((set.own & CFG_PUB_DEADBAND) && set.deadband_node)
            return cfg_node_error(set.deadband_node, err,
                                  "deadband applies to numbers; point '%s' is a %s (use "
                                  "on_change: true)",
                                  pi->name, kinds[pi->kind]);
        if ((set.own & CFG_PUB_WINDOW) && set.window_node)
            return cfg_node_error(set.window_node, err,
                                  "a window applies to numbers; point '%s' is a %s", pi->name,
                                  kinds[pi->kind]);
    }
    return keep_decl(st, pi);
}

int gw_stage_check_points(gw_stage_t *st, cfg_error_t *err)
{
    if (!st || st->n_decls == 0)
        return 0;
    for (size_t i = 0; i < st->a->n_points; i++) {
        const cfg_publish_point_t *pt = &st->a->points[i];
        size_t j;

        for (j = 0; j < st->n_decls && strcmp(st->decls[j].info.name, pt->name) != 0; j++)
            ;
        if (j == st->n_decls && pt->node)
            return cfg_node_error(pt->node, err,
                                  "publish.points: adapter '%s' has no point named '%s'",
                                  st->a->name, pt->name);
    }
    return 0;
}

bool gw_stage_per_device(const gw_stage_t *st)
{
    return st && st->dm;
}

const gw_point_info_t *gw_stage_point_at(const gw_stage_t *st, size_t i)
{
    return st && i < st->n_decls ? &st->decls[i].info : NULL;
}

/* --- the stage ---------------------------------------------------------- */

int gw_stage_new(const cfg_t *cfg, const cfg_adapter_t *a, gw_ctx_t *ctx, gw_stage_t **out)
{
    gw_stage_t *st;
    bool staged = cfg->publish.set || a->publish.set || a->n_points;

    *out = NULL;
    if (!staged && !a->ha.enabled)
        return 0;
    if (!(st = calloc(1, sizeof(*st))))
        return -ENOMEM;
    st->all = !staged;
    if (a->publish.set & CFG_PUB_PAYLOAD ? a->publish.per_device : cfg->publish.per_device) {
        const char *tmpl = a->publish.set & CFG_PUB_DEVICE_TOPIC ? a->publish.device_topic
                                                                 : cfg->publish.device_topic;

        if (!(st->dm = gw_devmsg_new(ctx, cfg, a->name, tmpl))) {
            free(st);
            return -ENOMEM;
        }
    }
    st->ctx = ctx;
    st->cfg = cfg;
    st->a = a;
    gw_timer_init(&st->timer, window_due, st);
    if (grow(st) < 0) {
        free(st);
        return -ENOMEM;
    }
    *out = st;
    return 0;
}

void gw_stage_free(gw_stage_t *st)
{
    if (!st)
        return;
    if (gw_timer_active(&st->timer))
        gw_timer_stop(gw_ctx_loop(st->ctx), &st->timer);
    for (size_t i = 0; i < st->cap; i++) {
        point_t *p = st->slots[i];

        if (!p)
            continue;
        free(p->name);
        free(p->last_s);
        free(p->unit);
        free(p->error);
        free(p);
    }
    for (size_t i = 0; i < st->n_decls; i++) {
        free((char *)st->decls[i].info.name);
        free((char *)st->decls[i].info.unit);
        free((char *)st->decls[i].info.device);
    }
    free(st->decls);
    free(st->slots);
    gw_devmsg_free(st->dm);
    free(st);
}

int gw_stage_reading(gw_stage_t *st, const gw_reading_t *r)
{
    point_t *p;

    if (st->all)
        return gw_ctx_publish(st->ctx, r);
    p = lookup(st, r->sensor);
    if (!p || p->mode == MODE_ALL)
        return gw_ctx_publish(st->ctx, r);
    if (p->mode == MODE_EXCEPTION)
        return exception(st, p, r);
    if (p->mode == MODE_DEVICE) {
        int rc = gw_devmsg_reading(st->dm, r, p->decl, p->dev_points, &p->mark);

        gw_ctx_suppress(st->ctx); /* it is part of the device's message */
        return rc;
    }
    return window(st, p, r);
}

/*
 * The publishing stage; see publish.h.
 *
 * A stage belongs to one adapter and keeps one record per point, found by
 * the reading's sensor name in an open-addressing hash table (names are
 * copied: some adapters build them per reading), or, when the adapter gives
 * the point's order, by that order and the name's pointer (reading.h). A
 * point's settings are resolved once, when its first reading arrives.
 * Everything is O(1) per reading. Windows are in publish_window.c,
 * per-device messages in publish_device.c.
 *
 * Loop thread only.
 */
#include "gateway/publish.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_int.h"
#include "gateway/log.h"
#include "gateway/publish_int.h"

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
    double v = gw_stage_as_double(r), diff = fabs(v - last);
    double band = p->set.deadband_kind == CFG_DEADBAND_PERCENT
                      ? p->set.deadband / 100.0 * fabs(last)
                      : p->set.deadband;
    double big = fabs(v) > fabs(last) ? fabs(v) : fabs(last); /* no fmax(): no libm */

    if (same_value(p, r) || !gw_stage_is_number(p->kind))
        return !same_value(p, r);
    return diff >= band - 1e-9 * big;
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
    if ((p->set.set & CFG_PUB_DEADBAND) && gw_stage_is_number(r->kind))
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
    uint64_t now = gw_loop_now_ms(gw_ctx_loop(st->ctx));

    if (!changed(st, p, r, now)) {
        gw_ctx_suppress(st->ctx);
        return 0;
    }
    remember(p, r, now);
    return gw_ctx_publish(st->ctx, r);
}

void gw_stage_flush(gw_stage_t *st)
{
    if (!st)
        return;
    gw_devmsg_flush(st->dm);
    gw_stage_windows_flush(st);
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
    gw_timer_init(&st->timer, gw_stage_window_due, st);
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
    free(st->by_order);
    gw_devmsg_free(st->dm);
    free(st);
}

/* Orders past this are looked up by name only (no table that large). */
#define ORDER_MAX 65536

point_t *gw_stage_find(gw_stage_t *st, const gw_reading_t *r)
{
    uint32_t o = r->order;
    point_t *p;

    if (o && o <= st->n_order && (p = st->by_order[o - 1]) && p->src == r->sensor)
        return p;
    if (!(p = lookup(st, r->sensor)) || !o || o > ORDER_MAX)
        return p;
    if (o > st->n_order) {
        size_t n = st->n_order * 2 > o ? st->n_order * 2 : o;
        point_t **more = realloc(st->by_order, n * sizeof(*more));

        if (!more)
            return p; /* found by name again next time */
        memset(more + st->n_order, 0, (n - st->n_order) * sizeof(*more));
        st->by_order = more;
        st->n_order = n;
    }
    st->by_order[o - 1] = p;
    p->src = r->sensor;
    return p;
}

int gw_stage_reading(gw_stage_t *st, const gw_reading_t *r)
{
    point_t *p;

    if (st->all)
        return gw_ctx_publish(st->ctx, r);
    p = gw_stage_find(st, r);
    if (!p || p->mode == MODE_ALL)
        return gw_ctx_publish(st->ctx, r);
    if (p->mode == MODE_EXCEPTION)
        return exception(st, p, r);
    if (p->mode == MODE_DEVICE) {
        int rc = gw_devmsg_reading(st->dm, r, p->decl, p->dev_points, &p->mark);

        gw_ctx_suppress(st->ctx); /* it is part of the device's message */
        return rc;
    }
    return gw_stage_window(st, p, r);
}

/*
 * Windows of the publishing stage (docs/publishing.md): the samples of each
 * wall-clock aligned window of a point are folded into a running minimum,
 * maximum, Welford mean, last value and count, and one summary is published
 * when the window ends. One timer per stage closes the windows at their
 * ends. Loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/clock.h"
#include "gateway/gateway_int.h"
#include "gateway/log.h"
#include "gateway/publish_int.h"

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
void gw_stage_window_due(gw_timer_t *t, void *arg)
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
    double x = gw_stage_as_double(r);

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

int gw_stage_window(gw_stage_t *st, point_t *p, const gw_reading_t *r)
{
    int64_t len = (int64_t)p->set.window_ms;
    int64_t start = r->ts_ms - ((r->ts_ms % len) + len) % len;
    bool rearm = !p->open;

    if (!r->error && !gw_stage_is_number(r->kind)) {
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

void gw_stage_windows_flush(gw_stage_t *st)
{
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

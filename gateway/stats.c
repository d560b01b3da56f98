/* The exit summary and the JSON stats message; see stats.h. */
#include "gateway/stats.h"

#include "gateway/clock.h"
#include "gateway/loop.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;
} out_t;

static void add(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(out_t *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len)
        o->overflow = true;
    else
        o->len += (size_t)n;
}

static int finish(const out_t *o)
{
    return o->overflow ? -ENOSPC : (int)o->len;
}

/* Drops by reason: the outbox's, and the spool's for lack of room. */
static uint64_t dropped_total(const gw_store_stats_t *st)
{
    return st->outbox.dropped_total + st->spool.dropped_full + st->spool.corrupt;
}

int gw_stats_summary(const gw_store_stats_t *st, const gw_pub_stats_t *ps, char *buf, size_t cap)
{
    out_t o = {buf, cap, 0, cap == 0};
    const char *sep = " (";

    add(&o, "produced %" PRIu64 ", delivered %" PRIu64 ", dropped %" PRIu64, st->produced,
        st->outbox.delivered, dropped_total(st));
    for (int r = 0; r < GW_DROP_NREASONS; r++) {
        if (st->outbox.dropped[r]) {
            add(&o, "%s%s %" PRIu64, sep, gw_drop_reason_name((gw_drop_reason_t)r),
                st->outbox.dropped[r]);
            sep = ", ";
        }
    }
    if (st->spool.dropped_full) {
        add(&o, "%sspool_full %" PRIu64, sep, st->spool.dropped_full);
        sep = ", ";
    }
    if (st->spool.corrupt) {
        add(&o, "%sspool_corrupt %" PRIu64, sep, st->spool.corrupt);
        sep = ", ";
    }
    if (sep[0] == ',')
        add(&o, ")");
    add(&o, ", queued %zu, in flight %zu", st->outbox.queued, st->outbox.in_flight);
    if (st->suppressed)
        add(&o, ", suppressed %" PRIu64, st->suppressed);
    if (st->outbox.requeued)
        add(&o, ", re-sent %" PRIu64, st->outbox.requeued);
    if (st->has_spool)
        add(&o, ", spooled %" PRIu64 " (recovered %" PRIu64 ")", st->spool.records,
            st->spool.recovered);
    (void)ps;
    return finish(&o);
}

/* A name as a JSON string. Names have passed gw_topic_level_check(): valid
 * UTF-8 without control characters, so only quote and backslash need care. */
static void add_name(out_t *o, const char *name)
{
    add(o, "\"");
    for (const char *p = name; *p; p++)
        add(o, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
    add(o, "\"");
}

/* The event loop's counters, with the monotonic time they were read at so a
 * reader can turn two messages into rates; null off the loop thread. */
static void add_loop(out_t *o, gw_loop_t *loop)
{
    gw_loop_stats_t ls;

    if (!loop) {
        add(o, ",\"loop\":null");
        return;
    }
    gw_loop_stats(loop, &ls);
    add(o,
        ",\"loop\":{\"ms\":%" PRIu64 ",\"iterations\":%" PRIu64 ",\"io_events\":%" PRIu64
        ",\"timers_fired\":%" PRIu64 ",\"wakeups\":%" PRIu64 ",\"timers\":%zu}",
        gw_clock_now_ms(), ls.iterations, ls.io_events, ls.timers_fired, ls.wakeups,
        gw_loop_timer_count(loop));
}

int gw_stats_json(const gw_store_stats_t *st, const gw_pub_stats_t *ps, const gw_cmds_stats_t *cs,
                  const gw_adapter_stats_t *adapters, size_t n_adapters, char *buf, size_t cap)
{
    out_t o = {buf, cap, 0, cap == 0};

    add(&o,
        "{\"produced\":%" PRIu64 ",\"recovered\":%" PRIu64 ",\"delivered\":%" PRIu64
        ",\"resent\":%" PRIu64 ",\"dropped\":{",
        st->produced, st->spool.recovered, st->outbox.delivered, st->outbox.requeued);
    for (int r = 0; r < GW_DROP_NREASONS; r++)
        add(&o, "\"%s\":%" PRIu64 ",", gw_drop_reason_name((gw_drop_reason_t)r),
            st->outbox.dropped[r]);
    add(&o, "\"spool_full\":%" PRIu64 ",\"spool_corrupt\":%" PRIu64 "}", st->spool.dropped_full,
        st->spool.corrupt);
    add(&o, ",\"queued\":%zu,\"in_flight\":%zu,\"suppressed\":%" PRIu64, st->outbox.queued,
        st->outbox.in_flight, st->suppressed);
    if (st->has_spool)
        add(&o, ",\"spool\":{\"records\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", st->spool.records,
            st->spool.bytes);
    else
        add(&o, ",\"spool\":null");
    add(&o,
        ",\"mqtt\":{\"connects\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"sent\":%" PRIu64
        ",\"renewed\":%" PRIu64 ",\"stale_acks\":%" PRIu64,
        ps->connects, ps->lost, ps->sent, ps->renewed, st->outbox.stale_acks);
    if (ps->paho_heap >= 0)
        add(&o, ",\"paho_heap\":%" PRId64 "}", ps->paho_heap);
    else
        add(&o, ",\"paho_heap\":null}");
    add(&o,
        ",\"commands\":{\"received\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"ok\":%" PRIu64
        ",\"failed\":%" PRIu64 ",\"refused\":%" PRIu64 "}",
        ps->received, ps->inbound_dropped, cs->ok, cs->failed, cs->refused);
    add_loop(&o, gw_loop_current());
    add(&o, ",\"adapters\":{");
    for (size_t i = 0; i < n_adapters; i++) {
        add(&o, "%s", i ? "," : "");
        add_name(&o, adapters[i].name);
        add(&o,
            ":{\"reads_ok\":%" PRIu64 ",\"reads_failed\":%" PRIu64 ",\"reconnects\":%" PRIu64 "}",
            adapters[i].reads_ok, adapters[i].reads_failed, adapters[i].reconnects);
    }
    add(&o, "}}");
    return finish(&o);
}

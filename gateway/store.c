/*
 * The store: outbox plus optional disk spool; see store.h.
 */
#include "gateway/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/clock.h"
#include "gateway/error.h"
#include "gateway/log.h"

struct gw_store {
    gw_loop_t *loop;
    gw_outbox_t *ob;
    gw_spool_t *sp; /* NULL: no spool */
    size_t capacity;
    size_t max_bytes;
    uint64_t sync_interval_ms;
    gw_timer_t sync_timer;
    uint64_t produced;
    uint64_t suppressed;
    uint64_t appended; /* by gw_store_put, this run */
    uint64_t spool_errors;
    uint64_t corrupt_at_open; /* damaged records found by gw_spool_open */
};

/* A spool record handed to the outbox is confirmed on disk once it left the
 * outbox: delivered, or dropped and counted there. */
static void released(void *arg, const gw_msg_t *m)
{
    gw_store_t *st = arg;

    gw_spool_confirm(st->sp, m->origin - 1);
}

static void sync_due(gw_timer_t *t, void *arg)
{
    gw_store_t *st = arg;
    int rc = gw_spool_sync(st->sp);

    if (rc != 0)
        gw_err("spool: fsync failed: %s", gw_strerror(rc));
    gw_timer_start(st->loop, t, gw_clock_now_ms() + st->sync_interval_ms);
}

static int open_spool(gw_store_t *st, const cfg_t *cfg)
{
    gw_spool_opts_t so = {
        .dir = cfg->outbox.spool.dir,
        .max_bytes = cfg->outbox.spool.max_bytes,
        .sync = (gw_spool_sync_t)cfg->outbox.spool.sync,
    };
    gw_spool_stats_t s;
    int rc = gw_spool_open(&so, &st->sp);

    if (rc != 0) {
        gw_err("spool: cannot open %s: %s", so.dir, gw_strerror(rc));
        return rc;
    }
    gw_spool_stats(st->sp, &s);
    st->corrupt_at_open = s.corrupt;
    if (s.recovered || s.corrupt)
        gw_info("spool: %llu records from an earlier run in %s, replayed first; %llu damaged "
                "records discarded",
                (unsigned long long)s.recovered, so.dir, (unsigned long long)s.corrupt);
    gw_outbox_on_release(st->ob, released, st);
    if (so.sync == GW_SPOOL_SYNC_INTERVAL) {
        st->sync_interval_ms = cfg->outbox.spool.sync_interval_ms;
        gw_timer_init(&st->sync_timer, sync_due, st);
        gw_timer_start(st->loop, &st->sync_timer, gw_clock_now_ms() + st->sync_interval_ms);
    }
    return 0;
}

int gw_store_open(const cfg_t *cfg, gw_loop_t *loop, gw_store_t **out)
{
    gw_store_t *st = calloc(1, sizeof(*st));
    gw_outbox_opts_t oo = {
        .capacity = cfg->outbox.capacity,
        .max_bytes = cfg->outbox.max_bytes,
        /* Paho's window and as many again in the publisher's hand-off ring,
         * which Paho's threads send from as confirmations come. */
        .max_inflight = 2 * (size_t)cfg->mqtt.max_inflight,
        .overflow = cfg->outbox.overflow,
    };
    int rc;

    if (!st)
        return -ENOMEM;
    st->loop = loop;
    st->capacity = oo.capacity;
    st->max_bytes = oo.max_bytes;
    gw_timer_init(&st->sync_timer, sync_due, st);
    if (!(st->ob = gw_outbox_new(&oo))) {
        rc = -errno;
        goto fail;
    }
    if (cfg->outbox.spool.enabled && (rc = open_spool(st, cfg)) != 0)
        goto fail;
    *out = st;
    return 0;
fail:
    gw_store_close(st);
    return rc;
}

void gw_store_close(gw_store_t *st)
{
    if (!st)
        return;
    gw_timer_stop(st->loop, &st->sync_timer);
    gw_spool_close(st->sp);
    gw_outbox_free(st->ob);
    free(st);
}

gw_outbox_t *gw_store_outbox(gw_store_t *st)
{
    return st->ob;
}

/* Whether one more message of this size fits in memory. */
static bool outbox_has_room(const gw_store_t *st, size_t size)
{
    gw_outbox_stats_t s;

    gw_outbox_stats(st->ob, &s);
    return s.queued + s.in_flight < st->capacity && s.bytes + size <= st->max_bytes;
}

int gw_store_put(gw_store_t *st, const char *topic, size_t topic_len, const char *payload,
                 size_t payload_len, int qos, bool retain, bool connected)
{
    st->produced++;
    if (st->sp && (!connected || gw_spool_pending(st->sp) > 0 ||
                   !outbox_has_room(st, topic_len + payload_len))) {
        int rc = gw_spool_append(st->sp, topic, topic_len, payload, payload_len, qos, retain);

        if (rc == 0) {
            gw_debug("spool: %llu records appended", (unsigned long long)++st->appended);
            return 0;
        }
        if (st->spool_errors++ == 0)
            gw_err("spool: cannot append: %s; keeping messages in memory", gw_strerror(rc));
    }
    return gw_outbox_push(st->ob, topic, topic_len, payload, payload_len, qos, retain);
}

int gw_store_put_corr(gw_store_t *st, const char *topic, size_t topic_len, const char *payload,
                      size_t payload_len, int qos, bool retain, const void *corr, size_t corr_len)
{
    st->produced++;
    return gw_outbox_push_corr(st->ob, topic, topic_len, payload, payload_len, qos, retain, corr,
                               corr_len);
}

void gw_store_refill(gw_store_t *st)
{
    gw_spool_rec_t rec;

    while (st->sp && gw_spool_pending(st->sp) > 0) {
        if (!outbox_has_room(st, 0))
            return;
        int rc = gw_spool_take(st->sp, &rec);

        if (rc != 0)
            return; /* -ENOENT, or damage already counted by the spool */
        if (gw_outbox_push_origin(st->ob, rec.topic, rec.topic_len, rec.payload, rec.payload_len,
                                  rec.qos, rec.retain, rec.recno + 1) != 0)
            gw_spool_confirm(st->sp, rec.recno); /* dropped and counted by the outbox */
    }
}

bool gw_store_spool_empty(const gw_store_t *st)
{
    return !st->sp || gw_spool_empty(st->sp);
}

bool gw_store_empty(const gw_store_t *st)
{
    return gw_outbox_empty(st->ob) && gw_store_spool_empty(st);
}

/* At shutdown a queued message goes to disk, unless it came from there. */
static void move_to_spool(void *arg, const gw_msg_t *m)
{
    gw_store_t *st = arg;

    if (m->origin && gw_spool_holds(st->sp, m->origin - 1))
        return; /* still on disk; untaken below */
    if (gw_spool_append(st->sp, m->topic, m->topic_len, m->payload, m->payload_len, m->qos,
                        m->retain) != 0)
        st->spool_errors++;
}

void gw_store_refuse(gw_store_t *st, gw_drop_reason_t reason)
{
    st->produced++;
    gw_outbox_refuse(st->ob, reason);
}

void gw_store_suppress(gw_store_t *st)
{
    st->produced++;
    st->suppressed++;
}

size_t gw_store_stop(gw_store_t *st)
{
    size_t n;

    if (!st->sp)
        return gw_outbox_drop_queued(st->ob, GW_DROP_SHUTDOWN);
    gw_outbox_on_release(st->ob, NULL, NULL); /* moved, not confirmed */
    n = gw_outbox_move_queued(st->ob, move_to_spool, st);
    gw_spool_untake(st->sp);
    gw_spool_sync(st->sp);
    return n;
}

void gw_store_stats(const gw_store_t *st, gw_store_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    gw_outbox_stats(st->ob, &out->outbox);
    out->produced = st->produced;
    out->suppressed = st->suppressed;
    out->spool_errors = st->spool_errors;
    out->has_spool = st->sp != NULL;
    if (st->sp) {
        gw_spool_stats(st->sp, &out->spool);
        /* Damage found at start-up was never produced or recovered by this
         * run: it is reported at start-up, not counted as a drop. */
        out->spool.corrupt -= st->corrupt_at_open;
    }
}

/*
 * The gateway's life cycle: start-up in dependency order, the signals, the
 * end of every loop iteration, draining and stopping; see gateway.h. What
 * adapters see is in context.c, what the gateway reports in report.c,
 * reloading in reload.c.
 */
#include "gateway/gateway.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "gateway/clock.h"
#include "gateway/commands.h"
#include "gateway/error.h"
#include "gateway/gateway_int.h"
#include "gateway/homeassistant.h"
#include "gateway/log.h"
#include "gateway/notify.h"
#include "gateway/publisher.h"
#include "gateway/store.h"

static void stop_adapters(gw_gateway_t *gw)
{
    for (size_t i = gw->n_ctxs; i-- > 0;) {
        gw_ctx_t *c = gw->ctxs[i];

        if (c->started) {
            c->ops->stop(c->self);
            c->started = false;
        }
    }
}

static void publisher_stopped(void *arg)
{
    gw_gateway_t *gw = arg;

    gw_loop_stop(gw->loop);
}

static void stop_publisher(gw_gateway_t *gw)
{
    if (gw->phase == GW_STOPPING)
        return;
    gw->phase = GW_STOPPING;
    gw_timer_stop(gw->loop, &gw->deadline);
    gw_timer_stop(gw->loop, &gw->repub_timer); /* a reload's reconnect is moot now */
    gw_pub_stop(gw->pub, DISCONNECT_TIMEOUT_MS, publisher_stopped, gw);
}

/* Out of time: whatever is still queued or in flight goes to the spool or is
 * counted as dropped. The publisher gives back what it holds first: the
 * store frees messages, and none may be in the publisher's ring then. */
static void deadline_due(gw_timer_t *t, void *arg)
{
    gw_gateway_t *gw = arg;
    size_t n;
    (void)t;

    gw_pub_take_back(gw->pub);
    n = gw_store_stop(gw->store);
    gw_warn("shutdown timeout: %zu undelivered messages %s", n,
            gw->cfg->outbox.spool.enabled ? "kept in the spool" : "dropped");
    stop_publisher(gw);
}

static void begin_drain(gw_gateway_t *gw, uint64_t timeout_ms)
{
    gw_notify_stopping();
    gw->phase = GW_DRAINING;
    stop_adapters(gw);
    if (timeout_ms != UINT64_MAX)
        gw_timer_start(gw->loop, &gw->deadline, gw_clock_now_ms() + timeout_ms);
}

static const char *signal_name(int signo)
{
    return signo == SIGTERM ? "SIGTERM" : signo == SIGINT ? "SIGINT" : "signal";
}

static void on_signal(gw_loop_t *loop, int signo, void *arg)
{
    gw_gateway_t *gw = arg;
    (void)loop;

    if (signo == SIGHUP) {
        if (gw->phase == GW_RUNNING)
            gw_gateway_reload(gw);
        return;
    }
    if (gw->signalled) {
        gw_warn("second %s: stopping now", signal_name(signo));
        if (gw->phase != GW_STOPPING)
            deadline_due(&gw->deadline, gw);
        return;
    }
    gw->signalled = true;
    gw_info("%s received: stopping adapters, delivering what is queued (up to %.1f s)",
            signal_name(signo), gw->cfg->gateway.shutdown_timeout_ms / 1000.0);
    if (gw->phase == GW_RUNNING)
        begin_drain(gw, gw->cfg->gateway.shutdown_timeout_ms);
    else if (gw->phase == GW_DRAINING && !gw_timer_active(&gw->deadline))
        gw_timer_start(gw->loop, &gw->deadline,
                       gw_clock_now_ms() + gw->cfg->gateway.shutdown_timeout_ms);
}

/* The outbox takes readings again. The adapters resumed first get their
 * readings in first (their ticks are due at the same time, and timers due
 * together run in the order they were started), and when the room is less
 * than they all want, the rest are held back again: a fixed order would
 * starve the last adapters for as long as the outbox stays that tight. So
 * each call starts one adapter further on. */
static void unblocked(void *arg)
{
    gw_gateway_t *gw = arg;
    size_t n = gw->n_ctxs, first = n ? gw->n_resumes++ % n : 0;

    for (size_t k = 0; k < n; k++) {
        gw_ctx_t *c = gw->ctxs[(first + k) % n];

        if (c->started && c->ops->resume)
            c->ops->resume(c->self);
    }
}

/*
 * A backlog (broker away, then back) grows the heap by thousands of messages;
 * once it has drained, give that memory back to the system, so a daemon that
 * rode out an outage does not keep its peak footprint for the rest of its
 * life (RSS matters on a small board). Drained means nothing queued: under
 * steady production something is always in flight, the more so with lazy
 * confirmations (gw_pub_lazy_acks()), so waiting for none in flight could
 * wait forever.
 */
static void trim_after_backlog(gw_gateway_t *gw, const gw_outbox_stats_t *s)
{
    if (s->queued + s->in_flight > gw->backlog_peak)
        gw->backlog_peak = s->queued + s->in_flight;
    if (s->queued == 0 && gw->backlog_peak >= TRIM_BACKLOG) {
        gw->backlog_peak = 0;
        malloc_trim(0);
    }
}

/*
 * Pacing. While the broker is connected but takes messages more slowly than
 * the devices produce them, a reading made now would only be dropped by the
 * overflow policy, after the work of reading it. So once the outbox is half
 * full (messages or bytes), adapters skip their cycles (gw_ctx_blocked)
 * until it has drained to a quarter: the sampling rate falls to what can be
 * delivered, and an overloaded gateway keeps delivering what it reads. With
 * the broker away the overflow policy applies as configured (drop_oldest
 * keeps the freshest readings); overflow: block has its own watermarks.
 */
static void pace(gw_gateway_t *gw, const gw_outbox_stats_t *s)
{
    const cfg_t *cfg = gw->cfg;
    size_t held = s->queued + s->in_flight;
    bool connected = gw_pub_connected(gw->pub);

    if (cfg->outbox.overflow == GW_OVERFLOW_BLOCK)
        return;
    if (!gw->paced && connected &&
        (held >= cfg->outbox.capacity / 2 || s->bytes >= cfg->outbox.max_bytes / 2)) {
        gw->paced = true;
        if (gw->paced_times++ == 0)
            gw_warn("the broker takes fewer messages than the devices produce: devices skip "
                    "their cycles while the outbox is over half full");
        else
            gw_debug("outbox half full: pacing the devices");
    } else if (gw->paced && (!connected || (held <= cfg->outbox.capacity / 4 &&
                                            s->bytes <= cfg->outbox.max_bytes / 4))) {
        gw->paced = false;
        gw_debug("outbox drained to a quarter: devices poll again");
        unblocked(gw);
    }
}

/* End of every loop iteration: hand queued messages to the publisher, then
 * see whether the run is over. */
static void on_tick(gw_loop_t *loop, void *arg)
{
    gw_gateway_t *gw = arg;
    gw_outbox_stats_t s;
    (void)loop;

    if (gw_pub_connected(gw->pub))
        gw_store_refill(gw->store);
    gw_pub_flush(gw->pub);
    gw_outbox_stats(gw->ob, &s);
    /* Nothing waits for the confirmations of what is in flight (no message
     * queued behind them, none spooled, no drain): they may wait for the
     * loop's next wake-up instead of waking it. */
    gw_pub_lazy_acks(gw->pub,
                     gw->phase == GW_RUNNING && s.queued == 0 && gw_store_spool_empty(gw->store));
    trim_after_backlog(gw, &s);
    pace(gw, &s);
    if (gw->phase == GW_RUNNING && gw->n_done == gw->n_ctxs) {
        gw_info("every adapter is done: delivering what is queued");
        begin_drain(gw, UINT64_MAX); /* the sentinel waits for every confirmation */
    }
    if (gw->phase == GW_DRAINING && gw_store_empty(gw->store))
        stop_publisher(gw);
}

int gw_gateway_new(cfg_t *cfg, bool check_only, gw_gateway_t **out, cfg_error_t *err)
{
    gw_gateway_t *gw = calloc(1, sizeof(*gw));
    int rc = -ENOMEM;

    if (!gw || !(gw->gen = gw_gen_new(cfg))) {
        free(gw);
        cfg_free(cfg);
        return -ENOMEM;
    }
    gw->cfg = cfg;
    gw_timer_init(&gw->deadline, deadline_due, gw);
    gw_timer_init(&gw->stats_timer, gw_stats_due, gw);
    gw_timer_init(&gw->status_timer, gw_status_due, gw);
    gw_timer_init(&gw->repub_timer, gw_replace_publisher, gw);
    gw->ctxs = calloc(cfg->n_adapters, sizeof(*gw->ctxs));
    if (!gw->ctxs || !(gw->cmds = gw_cmds_new(gw)))
        goto fail;
    for (size_t i = 0; i < cfg->n_adapters; i++, gw->n_ctxs++)
        if ((rc = gw_ctx_create(gw, gw->gen, i, &gw->ctxs[i], err)) != 0)
            goto fail;
    cfg_release_doc(cfg); /* everything is read; the values stay */
    if (!check_only && (rc = -ENOMEM, !(gw->loop = gw_loop_new())))
        goto fail;
    *out = gw;
    return 0;
fail:
    gw_gateway_free(gw);
    return rc;
}

const cfg_t *gw_gateway_config(const gw_gateway_t *gw)
{
    return gw->cfg;
}

void gw_pub_options(gw_gateway_t *gw, const cfg_t *cfg, gw_pub_opts_t *po)
{
    snprintf(gw->status_topic, sizeof(gw->status_topic), "sensorbridge/%s/status", cfg->gateway.id);
    *po = (gw_pub_opts_t){
        .uri = cfg->mqtt.uri,
        .client_id = cfg->mqtt.client_id,
        .username = cfg->mqtt.username,
        .password = gw->password,
        .keepalive_ms = cfg->mqtt.keepalive_ms,
        .reconnect_min_ms = cfg->mqtt.reconnect_min_ms,
        .reconnect_max_ms = cfg->mqtt.reconnect_max_ms,
        .max_inflight = (unsigned)cfg->mqtt.max_inflight,
        .status_topic = gw->status_topic,
        .version = cfg->mqtt.version,
        .tls = cfg->mqtt.tls.enabled,
        .ca_file = cfg->mqtt.tls.ca_file,
        .cert_file = cfg->mqtt.tls.cert_file,
        .key_file = cfg->mqtt.tls.key_file,
        .verify = cfg->mqtt.tls.verify,
    };
}

static int start_all(gw_gateway_t *gw)
{
    const cfg_t *cfg = gw->cfg;
    gw_pub_opts_t po;
    int rc;

    if ((rc = gw_read_password(cfg, &gw->password)) != 0)
        return rc;
    gw_pub_options(gw, cfg, &po);
    if ((rc = gw_store_open(cfg, gw->loop, &gw->store)) != 0)
        return rc;
    gw->ob = gw_store_outbox(gw->store);
    gw_outbox_on_unblock(gw->ob, unblocked, gw);
    if (!(gw->pub = gw_pub_new(gw->loop, gw->ob, &po)))
        return -errno;
    if ((rc = gw_cmds_route(gw->cmds, gw->ctxs, gw->n_ctxs)) != 0 ||
        (rc = gw_cmds_subscribe(gw->cmds, gw->pub)) != 0)
        return rc;
    gw_loop_on_signal(gw->loop, on_signal, gw);
    gw_loop_on_tick(gw->loop, on_tick, gw);
    if ((rc = gw_pub_start(gw->pub)) != 0)
        return rc;
    gw_notify_init(gw->loop);
    gw_timer_start(gw->loop, &gw->status_timer, gw_clock_now_ms());
    if (cfg->gateway.stats_interval_ms)
        gw_timer_start(gw->loop, &gw->stats_timer,
                       gw_clock_now_ms() + cfg->gateway.stats_interval_ms);
    for (size_t i = 0; i < gw->n_ctxs; i++)
        if ((rc = gw_ctx_start(gw->ctxs[i])) != 0)
            return rc;
    gw->ha_inbound = gw_ha_inbound;
    gw_ha_sync(gw);
    return 0;
}

int gw_gateway_run(gw_gateway_t *gw, const char *source)
{
    int rc;

    gw->source = source;
    rc = start_all(gw);
    if (rc == 0) {
        gw_info("running: gateway '%s', %zu adapter%s, broker %s", gw->cfg->gateway.id, gw->n_ctxs,
                gw->n_ctxs == 1 ? "" : "s", gw->cfg->mqtt.uri);
        rc = gw_loop_run(gw->loop);
    }
    stop_adapters(gw);
    if (gw->store)
        gw_log_summary(gw);
    return rc == 0 ? 0 : 1;
}

void gw_gateway_stats(const gw_gateway_t *gw, gw_store_stats_t *out)
{
    *out = gw->final;
}

void gw_gateway_free(gw_gateway_t *gw)
{
    if (!gw)
        return;
    for (size_t i = gw->n_ctxs; gw->ctxs && i-- > 0;)
        gw_ctx_free(gw->ctxs[i]);
    if (gw->loop) {
        gw_timer_stop(gw->loop, &gw->deadline);
        gw_timer_stop(gw->loop, &gw->stats_timer);
        gw_timer_stop(gw->loop, &gw->status_timer);
        gw_timer_stop(gw->loop, &gw->repub_timer);
        gw_notify_fini(gw->loop);
    }
    gw_cmds_free(gw->cmds); /* after the adapters, which answer what they held */
    gw_ha_free(gw);
    gw_pub_free(gw->next_pub);
    gw_pub_free(gw->pub);
    gw_store_close(gw->store);
    gw_loop_free(gw->loop);
    gw_gen_unref(gw->gen);
    if (gw->password)
        memset(gw->password, 0, strlen(gw->password));
    free(gw->password);
    free(gw->ctxs);
    free(gw);
}

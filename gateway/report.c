/*
 * What the gateway reports about itself: the stats message every
 * gateway.stats_interval, systemd's READY=1 and STATUS= line, and the exit
 * summary. Loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "gateway/clock.h"
#include "gateway/gateway_int.h"
#include "gateway/log.h"
#include "gateway/notify.h"
#include "gateway/publisher.h"
#include "gateway/stats.h"
#include "gateway/store.h"

void gw_log_summary(gw_gateway_t *gw)
{
    gw_pub_stats_t ps;
    char line[600];

    gw_store_stats(gw->store, &gw->final);
    gw_pub_stats(gw->pub, &ps);
    if (gw_stats_summary(&gw->final, &ps, line, sizeof(line)) > 0)
        gw_info("summary: %s", line);
}

/* Every gateway.stats_interval: the figures as JSON on
 * sensorbridge/{gateway}/stats, published directly (never queued: a stats
 * message that cannot go out now is worthless later). */
void gw_stats_due(gw_timer_t *t, void *arg)
{
    gw_gateway_t *gw = arg;
    gw_adapter_stats_t *as = calloc(gw->n_ctxs, sizeof(*as));
    char topic[TOPIC_MAX];
    gw_store_stats_t st;
    gw_pub_stats_t ps;
    gw_cmds_stats_t cs;
    size_t cap = 1024 + gw->n_ctxs * 160;
    char *json = malloc(cap);

    gw_timer_start(gw->loop, t, gw_clock_now_ms() + gw->cfg->gateway.stats_interval_ms);
    if (!as || !json)
        goto out;
    for (size_t i = 0; i < gw->n_ctxs; i++) {
        adp_stats_t a = {0};

        if (gw->ctxs[i]->ops->stats)
            gw->ctxs[i]->ops->stats(gw->ctxs[i]->self, &a);
        as[i] =
            (gw_adapter_stats_t){gw->ctxs[i]->cfg->name, a.reads_ok, a.reads_failed, a.reconnects};
    }
    gw_store_stats(gw->store, &st);
    gw_pub_stats(gw->pub, &ps);
    gw_cmds_stats(gw->cmds, &cs);
    snprintf(topic, sizeof(topic), "sensorbridge/%s/stats", gw->cfg->gateway.id);
    if (gw_stats_json(&st, &ps, &cs, as, gw->n_ctxs, json, cap) > 0)
        gw_pub_publish(gw->pub, topic, json, 0, false);
out:
    free(as);
    free(json);
}

/* First run from the running loop: READY=1; then a STATUS= line every few
 * seconds for `systemctl status`. */
void gw_status_due(gw_timer_t *t, void *arg)
{
    gw_gateway_t *gw = arg;
    gw_store_stats_t st;

    if (gw->phase == GW_RUNNING && !gw->ready) {
        gw->ready = true;
        gw_notify_ready();
    }
    gw_store_stats(gw->store, &st);
    gw_notify_status("%s %s; %zu adapter%s; delivered %llu, queued %zu, dropped %llu",
                     gw_pub_connected(gw->pub) ? "connected to" : "connecting to",
                     gw->cfg->mqtt.uri, gw->n_ctxs, gw->n_ctxs == 1 ? "" : "s",
                     (unsigned long long)st.outbox.delivered,
                     st.outbox.queued + st.outbox.in_flight,
                     (unsigned long long)(st.outbox.dropped_total + st.spool.dropped_full));
    gw_timer_start(gw->loop, t, gw_clock_now_ms() + STATUS_INTERVAL_MS);
}

/*
 * Private to the gateway's files (gateway.c, context.c, report.c, reload.c):
 * the gateway's state.
 */
#ifndef GW_GATEWAY_INT_H
#define GW_GATEWAY_INT_H

#include "adapters/adapter.h"
#include "gateway/gateway.h"
#include "gateway/loop.h"
#include "gateway/publisher.h"
#include "gateway/store.h"

#define TOPIC_MAX 1024
#define PAYLOAD_MAX 4096
#define DISCONNECT_TIMEOUT_MS 2000
#define STATUS_INTERVAL_MS 5000
#define TRIM_BACKLOG 1000 /* messages: a backlog this large is trimmed once drained */

typedef enum {
    GW_RUNNING,
    GW_DRAINING, /* adapters stopped or done; delivering what is queued */
    GW_STOPPING, /* publisher disconnecting */
} gw_phase_t;

/* A loaded configuration, shared by the adapters created from it: a reload
 * keeps unchanged adapters, whose configuration lives in an older
 * generation, which is freed when its last adapter goes. */
typedef struct {
    cfg_t *cfg;
    unsigned refs; /* adapters created from it, + 1 while it is the current one */
} gw_gen_t;

struct gw_ctx {
    gw_gateway_t *gw;
    gw_gen_t *gen;
    const cfg_adapter_t *cfg;
    char *fingerprint; /* what the adapter was configured with (reload) */
    const adp_ops_t *ops;
    void *self;
    int qos;
    bool retain;
    bool done;
    bool started;
    struct gw_stage *stage; /* publishing stage (publish.h); NULL: publish every reading */
    bool tested;            /* --test: started */
    uint64_t probed;        /* --test: readings seen */
};

struct gw_gateway {
    cfg_t *cfg; /* the current generation's */
    gw_gen_t *gen;
    const char *source; /* config file to reload, NULL: the built-in default */
    char *password;
    gw_ctx_t **ctxs;
    size_t n_ctxs;
    size_t n_resumes; /* unblocked() calls: where the next one starts */
    size_t n_done;
    gw_loop_t *loop;
    gw_store_t *store;
    gw_outbox_t *ob;    /* the store's */
    gw_pub_t *pub;      /* never NULL once running */
    gw_pub_t *next_pub; /* a reload's, created and waiting for pub to stop */
    gw_timer_t stats_timer;
    gw_timer_t status_timer; /* READY=1, then STATUS= for systemd */
    gw_phase_t phase;
    gw_timer_t deadline;
    gw_timer_t repub_timer; /* reload: swaps the publisher outside its callback */
    bool signalled;
    bool ready;
    uint64_t encode_errors;
    size_t backlog_peak; /* queued + in flight since the last trim */
    bool paced;          /* adapters skip cycles: see pace() in gateway.c */
    uint64_t paced_times;
    gw_store_stats_t final;
    struct gw_probe *probe; /* --test (probe.c): readings go there, not out */
    struct gw_cmds *cmds;   /* write-back (commands.c) */
    struct gw_ha_state *ha; /* discovery topics published (homeassistant.c) */
    /* gw_ha_inbound, reached through this pointer so that commands.c does
     * not link discovery (and the adapters' context) into unit tests. */
    bool (*ha_inbound)(gw_gateway_t *gw, const gw_inbound_t *m);
    char status_topic[TOPIC_MAX]; /* Paho keeps a pointer to it for the will */
};

/* Creates the adapter of cfg->adapters[i] (no start). 0 or -GW_ECONFIG
 * with err filled, or -ENOMEM. */
int gw_ctx_create(gw_gateway_t *gw, gw_gen_t *gen, size_t i, gw_ctx_t **out, cfg_error_t *err);
/* Stops (if started) and destroys the adapter; drops its generation. */
void gw_ctx_free(gw_ctx_t *c);
/* A reading (r->adapter set) encoded and offered to the store, as every
 * reading is without a publishing stage; -ENOSPC when it does not fit. */
int gw_ctx_publish(gw_ctx_t *ctx, const gw_reading_t *r);
/* A message the publishing stage made (per-device messages): offered to the
 * store with the adapter's QoS; retained when retain or the adapter's is. */
int gw_ctx_put(gw_ctx_t *ctx, const char *topic, const char *payload, size_t len, bool retain);
/* A reading the publishing stage held back: counted as produced and
 * suppressed. */
void gw_ctx_suppress(gw_ctx_t *ctx);
/* Starts an adapter; logs a failure. */
int gw_ctx_start(gw_ctx_t *c);

gw_gen_t *gw_gen_new(cfg_t *cfg);
void gw_gen_unref(gw_gen_t *gen);

/* The publisher options of a configuration (status_topic filled in). */
void gw_pub_options(gw_gateway_t *gw, const cfg_t *cfg, gw_pub_opts_t *po);

/* SIGHUP: reload the configuration file (reload.c). */
void gw_gateway_reload(gw_gateway_t *gw);

/* report.c: the stats and status timers' callbacks, and the exit summary
 * (which keeps the final figures in gw->final). */
void gw_stats_due(gw_timer_t *t, void *arg);
void gw_status_due(gw_timer_t *t, void *arg);
void gw_log_summary(gw_gateway_t *gw);

/* --test (probe.c): keeps a reading with the topic and payload it would be
 * published with. */
void gw_probe_add(struct gw_probe *p, gw_ctx_t *ctx, const gw_reading_t *r, const char *topic,
                  const char *payload, int qos, bool retain);

/* The repub_timer's callback: next_pub replaces the stopped pub (reload.c). */
void gw_replace_publisher(gw_timer_t *t, void *arg);

#endif

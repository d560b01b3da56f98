/*
 * Reloading the configuration on SIGHUP, and reading the MQTT password.
 *
 * The new file is loaded and every adapter it names is created (which
 * validates it) before anything running changes; any error keeps the old
 * configuration running and is logged with FILE:LINE:COLUMN. Then:
 * - an adapter whose configuration is unchanged (same mapping, same
 *   gateway id, topic template and default QoS/retain) keeps running, with
 *   its sequence numbers, without a gap;
 * - a changed adapter is stopped and its new version started; a removed one
 *   is stopped; an added one is started;
 * - changed MQTT settings reconnect the publisher; queued readings stay in
 *   the outbox and are delivered on the new connection;
 * - outbox and spool sizes only change with a restart (logged).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/clock.h"
#include "gateway/commands.h"
#include "gateway/error.h"
#include "gateway/gateway_int.h"
#include "gateway/homeassistant.h"
#include "gateway/log.h"
#include "gateway/notify.h"

#define PASSWORD_MAX 1024

int gw_read_password(const cfg_t *cfg, char **out)
{
    char buf[PASSWORD_MAX];
    FILE *f;

    *out = NULL;
    if (!cfg->mqtt.password_file)
        return 0;
    if (!(f = fopen(cfg->mqtt.password_file, "re"))) {
        int err = errno;

        gw_err("cannot read mqtt.password_file %s: %s", cfg->mqtt.password_file, strerror(err));
        return -err;
    }
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    *out = strdup(buf);
    memset(buf, 0, sizeof(buf));
    return *out ? 0 : -ENOMEM;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool mqtt_changed(const cfg_t *a, const cfg_t *b, const char *pw_a, const char *pw_b)
{
    return !same_str(a->mqtt.uri, b->mqtt.uri) || !same_str(a->mqtt.client_id, b->mqtt.client_id) ||
           !same_str(a->mqtt.username, b->mqtt.username) || !same_str(pw_a, pw_b) ||
           a->mqtt.keepalive_ms != b->mqtt.keepalive_ms ||
           a->mqtt.max_inflight != b->mqtt.max_inflight || a->mqtt.version != b->mqtt.version ||
           a->mqtt.reconnect_min_ms != b->mqtt.reconnect_min_ms ||
           a->mqtt.reconnect_max_ms != b->mqtt.reconnect_max_ms ||
           a->mqtt.tls.enabled != b->mqtt.tls.enabled ||
           !same_str(a->mqtt.tls.ca_file, b->mqtt.tls.ca_file) ||
           !same_str(a->mqtt.tls.cert_file, b->mqtt.tls.cert_file) ||
           !same_str(a->mqtt.tls.key_file, b->mqtt.tls.key_file) ||
           a->mqtt.tls.verify != b->mqtt.tls.verify || !same_str(a->gateway.id, b->gateway.id);
}

/* The old publisher has stopped: the next one, created when the reload was
 * accepted, takes over. Freeing the old one gives every message it still
 * held back to the outbox's queue, and the new one sends them again. Runs
 * from a timer: the stop callback comes from inside the old publisher,
 * which must not be freed under its own feet. */
void gw_replace_publisher(gw_timer_t *t, void *arg)
{
    gw_gateway_t *gw = arg;
    (void)t;

    if (!gw->next_pub)
        return;
    gw_pub_free(gw->pub);
    gw->pub = gw->next_pub;
    gw->next_pub = NULL;
    gw_pub_start(gw->pub);
    gw_info("reload: reconnecting to %s", gw->cfg->mqtt.uri);
}

static void publisher_stopped(void *arg)
{
    gw_gateway_t *gw = arg;

    gw_timer_start(gw->loop, &gw->repub_timer, gw_clock_now_ms());
}

/* The publisher for the new settings, created (no I/O) before anything
 * running changes, so that a setting that cannot work (mqtts:// without
 * the TLS library) fails the reload instead of stopping the gateway. */
static int prepare_publisher(gw_gateway_t *gw, const cfg_t *cfg, const char *password,
                             gw_pub_t **out)
{
    gw_pub_opts_t po;

    gw_pub_options(gw, cfg, &po);
    po.password = password;
    if (!(*out = gw_pub_new(gw->loop, gw->ob, &po)))
        return errno ? -errno : -ENOMEM;
    return 0;
}

/* Home Assistant's status topic is subscribed to with the commands. */
static bool ha_changed(const cfg_t *a, const cfg_t *b)
{
    return a->homeassistant.enabled != b->homeassistant.enabled ||
           (b->homeassistant.enabled &&
            strcmp(a->homeassistant.prefix, b->homeassistant.prefix) != 0);
}

/* The old adapter of the same name with the same fingerprint, or NULL. */
static gw_ctx_t *find_unchanged(gw_gateway_t *gw, const gw_ctx_t *fresh)
{
    for (size_t i = 0; i < gw->n_ctxs; i++) {
        gw_ctx_t *old = gw->ctxs[i];

        if (old && strcmp(old->cfg->name, fresh->cfg->name) == 0 &&
            strcmp(old->fingerprint, fresh->fingerprint) == 0)
            return old;
    }
    return NULL;
}

static void warn_restart_only(const cfg_t *a, const cfg_t *b)
{
    if (a->outbox.capacity != b->outbox.capacity || a->outbox.max_bytes != b->outbox.max_bytes ||
        a->outbox.overflow != b->outbox.overflow || a->mqtt.max_inflight != b->mqtt.max_inflight ||
        a->outbox.spool.enabled != b->outbox.spool.enabled ||
        !same_str(a->outbox.spool.dir, b->outbox.spool.dir) ||
        a->outbox.spool.max_bytes != b->outbox.spool.max_bytes)
        gw_warn("reload: outbox and spool settings take effect at the next restart");
}

/* Creates the new adapter set; on any error nothing running has changed. */
static int prepare(gw_gateway_t *gw, gw_gen_t *gen, gw_ctx_t **fresh, cfg_error_t *err)
{
    for (size_t i = 0; i < gen->cfg->n_adapters; i++) {
        int rc = gw_ctx_create(gw, gen, i, &fresh[i], err);

        if (rc != 0) {
            while (i-- > 0)
                gw_ctx_free(fresh[i]);
            return rc;
        }
    }
    return 0;
}

/* Swaps in the new adapter set: unchanged adapters carry over running. */
static void commit(gw_gateway_t *gw, gw_ctx_t **fresh, size_t n)
{
    size_t kept = 0, started = 0, stopped = 0;

    for (size_t i = 0; i < n; i++) {
        gw_ctx_t *old = find_unchanged(gw, fresh[i]);

        if (!old)
            continue;
        gw_ctx_free(fresh[i]);
        fresh[i] = old;
        for (size_t j = 0; j < gw->n_ctxs; j++)
            if (gw->ctxs[j] == old)
                gw->ctxs[j] = NULL;
        kept++;
    }
    for (size_t j = 0; j < gw->n_ctxs; j++) {
        if (gw->ctxs[j]) {
            gw_info("reload: stopping adapter '%s'", gw->ctxs[j]->cfg->name);
            gw_ctx_free(gw->ctxs[j]);
            stopped++;
        }
    }
    free(gw->ctxs);
    gw->ctxs = fresh;
    gw->n_ctxs = n;
    gw->n_done = 0;
    for (size_t i = 0; i < n; i++) {
        if (!fresh[i]->started && !fresh[i]->done) {
            gw_info("reload: starting adapter '%s'", fresh[i]->cfg->name);
            gw_ctx_start(fresh[i]);
            started++;
        }
        gw->n_done += fresh[i]->done;
    }
    gw_info("reload: %zu adapters kept running, %zu started, %zu stopped", kept, started, stopped);
}

void gw_gateway_reload(gw_gateway_t *gw)
{
    const char *path = gw->source ? gw->source : "<built-in default>";
    cfg_error_t err = {0};
    cfg_t *cfg = NULL;
    gw_gen_t *gen;
    gw_ctx_t **fresh;
    gw_pub_t *next = NULL;
    char *password = NULL;
    bool prepared = false, reconnect;
    int rc;

    gw_notify_reloading();
    gw_info("SIGHUP: reloading %s", path);
    rc = gw->source
             ? cfg_load_file(gw->source, &cfg, &err)
             : cfg_load_string(path, cfg_builtin_default, strlen(cfg_builtin_default), &cfg, &err);
    if (rc != 0 || !(gen = gw_gen_new(cfg))) {
        gw_err("reload failed, the running configuration stays: %s",
               err.text[0] ? err.text : gw_strerror(rc ? rc : -ENOMEM));
        cfg_free(cfg);
        gw_notify_ready();
        return;
    }
    fresh = calloc(cfg->n_adapters, sizeof(*fresh));
    rc = fresh ? prepare(gw, gen, fresh, &err) : -ENOMEM;
    if (rc == 0) {
        cfg_release_doc(cfg);
        rc = gw_read_password(cfg, &password);
        prepared = true;
    }
    /* A new set of command topics needs a new subscription: a publisher of
     * its own, as for new MQTT settings. */
    reconnect =
        rc == 0 && (mqtt_changed(gw->cfg, cfg, gw->password, password) ||
                    gw_cmds_differ(gw->cmds, fresh, cfg->n_adapters) || ha_changed(gw->cfg, cfg));
    if (reconnect && (rc = prepare_publisher(gw, cfg, password, &next)) != 0)
        snprintf(err.text, sizeof(err.text), "cannot use the new MQTT settings (%s): %s",
                 cfg->mqtt.uri, gw_strerror(rc));
    if (rc != 0) {
        gw_err("reload failed, the running configuration stays: %s",
               err.text[0] ? err.text : gw_strerror(rc));
        for (size_t i = 0; prepared && i < cfg->n_adapters; i++)
            gw_ctx_free(fresh[i]);
        free(fresh);
        free(password);
        gw_gen_unref(gen);
        gw_notify_ready();
        return;
    }
    warn_restart_only(gw->cfg, cfg);
    commit(gw, fresh, cfg->n_adapters);
    if (gw_cmds_route(gw->cmds, gw->ctxs, gw->n_ctxs) != 0)
        gw_err("reload: out of memory routing commands; commands are not taken");
    if (next && gw_cmds_subscribe(gw->cmds, next) != 0)
        gw_err("reload: out of memory subscribing to the command topics");
    gw_gen_unref(gw->gen); /* no longer current; kept adapters hold it */
    gw->gen = gen;
    gw->cfg = cfg;
    free(gw->password);
    gw->password = password;
    gw_log_set_level(cfg->gateway.log_level);
    gw_ha_sync(gw); /* configs of new points; removed points' deleted */
    gw_timer_stop(gw->loop, &gw->stats_timer);
    if (cfg->gateway.stats_interval_ms)
        gw_timer_start(gw->loop, &gw->stats_timer,
                       gw_clock_now_ms() + cfg->gateway.stats_interval_ms);
    if (reconnect) {
        gw_info("reload: MQTT settings changed, reconnecting");
        gw_pub_free(gw->next_pub); /* an earlier reload's, not started yet */
        gw->next_pub = next;
        gw_pub_stop(gw->pub, DISCONNECT_TIMEOUT_MS, publisher_stopped, gw);
    }
    gw_notify_ready();
}

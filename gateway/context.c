/*
 * What an adapter sees of the gateway (the gw_ctx_* calls of adapter.h),
 * and how adapters are created, started and freed with the configuration
 * generation they came from. Loop thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "gateway/error.h"
#include "gateway/gateway_int.h"
#include "gateway/log.h"
#include "gateway/publish.h"
#include "gateway/publisher.h"
#include "gateway/store.h"

gw_loop_t *gw_ctx_loop(gw_ctx_t *ctx)
{
    return ctx->gw->loop;
}

const char *gw_ctx_name(const gw_ctx_t *ctx)
{
    return ctx->cfg->name;
}

bool gw_ctx_once(const gw_ctx_t *ctx)
{
    return ctx->gw->probe != NULL;
}

bool gw_ctx_blocked(const gw_ctx_t *ctx)
{
    return ctx->gw->ob && (gw_outbox_blocked(ctx->gw->ob) || ctx->gw->paced);
}

int gw_ctx_emit(gw_ctx_t *ctx, gw_reading_t *r)
{
    r->adapter = ctx->cfg->name;
    /* The default path: no stage, every reading is its own message. */
    if (ctx->stage && !ctx->gw->probe)
        return gw_stage_reading(ctx->stage, r);
    return gw_ctx_publish(ctx, r);
}

int gw_ctx_point(gw_ctx_t *ctx, const gw_point_info_t *pi, cfg_error_t *err)
{
    return ctx->stage ? gw_stage_point(ctx->stage, pi, err) : 0;
}

void gw_ctx_suppress(gw_ctx_t *ctx)
{
    gw_store_suppress(ctx->gw->store);
}

int gw_ctx_publish(gw_ctx_t *ctx, const gw_reading_t *r)
{
    gw_gateway_t *gw = ctx->gw;
    char topic[TOPIC_MAX], payload[PAYLOAD_MAX];
    int tlen, plen;

    tlen = gw_topic_render(gw->cfg->mqtt.topic, gw->cfg->gateway.id, r->adapter, r->sensor, topic,
                           sizeof(topic));
    plen = gw_reading_to_json(r, payload, sizeof(payload));
    if (gw->probe) {
        bool fits = tlen >= 0 && plen >= 0;

        gw_probe_add(gw->probe, ctx, r, fits ? topic : NULL, fits ? payload : NULL,
                     r->has_qos ? r->qos : ctx->qos, r->has_retain ? r->retain : ctx->retain);
        return 0;
    }
    if (tlen < 0 || plen < 0) {
        if (gw->encode_errors++ == 0)
            gw_err("adapter '%s': reading of sensor '%s' does not fit in a message (%d bytes "
                   "at most); dropped and counted as too_big",
                   r->adapter, r->sensor, tlen < 0 ? TOPIC_MAX : PAYLOAD_MAX);
        gw_store_refuse(gw->store, GW_DROP_TOO_BIG);
        return -ENOSPC;
    }
    return gw_store_put(gw->store, topic, (size_t)tlen, payload, (size_t)plen,
                        r->has_qos ? r->qos : ctx->qos, r->has_retain ? r->retain : ctx->retain,
                        gw_pub_connected(gw->pub));
}

int gw_ctx_put(gw_ctx_t *ctx, const char *topic, const char *payload, size_t len, bool retain)
{
    gw_gateway_t *gw = ctx->gw;

    return gw_store_put(gw->store, topic, strlen(topic), payload, len, ctx->qos,
                        retain || ctx->retain, gw_pub_connected(gw->pub));
}

int gw_ctx_status(gw_ctx_t *ctx, const char *state)
{
    gw_gateway_t *gw = ctx->gw;
    char topic[TOPIC_MAX];
    int n = snprintf(topic, sizeof(topic), "sensorbridge/%s/%s/status", gw->cfg->gateway.id,
                     ctx->cfg->name);

    if (n < 0 || (size_t)n >= sizeof(topic))
        return -ENOSPC;
    if (gw->probe)
        return 0; /* --test shows readings only */
    return gw_store_put(gw->store, topic, (size_t)n, state, strlen(state), 1, true,
                        gw_pub_connected(gw->pub));
}

void gw_ctx_done(gw_ctx_t *ctx)
{
    if (ctx->done)
        return;
    ctx->done = true;
    gw_stage_flush(ctx->stage);
    gw_info("adapter '%s': done", ctx->cfg->name);
    ctx->gw->n_done++;
}

gw_gen_t *gw_gen_new(cfg_t *cfg)
{
    gw_gen_t *gen = calloc(1, sizeof(*gen));

    if (!gen)
        return NULL;
    gen->cfg = cfg;
    gen->refs = 1;
    return gen;
}

void gw_gen_unref(gw_gen_t *gen)
{
    if (gen && --gen->refs == 0) {
        cfg_free(gen->cfg);
        free(gen);
    }
}

/* What decides whether a reload may keep an adapter running: its own
 * mapping and every common setting that shapes its messages. */
static char *fingerprint(const cfg_t *cfg, const cfg_adapter_t *a)
{
    char *own = cfg_node_dump(a->node), *fp;
    size_t len;

    if (!own)
        return NULL;
    len = strlen(own) + strlen(cfg->gateway.id) + strlen(cfg->mqtt.topic) +
          strlen(cfg->publish_text) + 64;
    fp = malloc(len);
    if (fp)
        snprintf(fp, len, "%s|%s|%s|%d|%d|%s|%d", own, cfg->gateway.id, cfg->mqtt.topic,
                 cfg->mqtt.qos, cfg->mqtt.retain, cfg->publish_text, cfg->homeassistant.enabled);
    free(own);
    return fp;
}

int gw_ctx_create(gw_gateway_t *gw, gw_gen_t *gen, size_t i, gw_ctx_t **out, cfg_error_t *err)
{
    const cfg_t *cfg = gen->cfg;
    const cfg_adapter_t *a = &cfg->adapters[i];
    gw_ctx_t *c = calloc(1, sizeof(*c));
    char context[160];
    int rc;

    if (!c)
        return -ENOMEM;
    c->gw = gw;
    c->gen = gen;
    gen->refs++;
    c->cfg = a;
    c->qos = a->qos >= 0 ? a->qos : cfg->mqtt.qos;
    c->retain = a->retain >= 0 ? a->retain != 0 : cfg->mqtt.retain;
    c->ops = adp_find(a->type);
    if (!c->ops) {
        rc = cfg_node_error(cfg_get_node(a->node, "type"), err,
                            "adapter '%s' has unknown type '%s' (known: %s)", a->name, a->type,
                            adp_kinds());
        goto fail;
    }
    if ((rc = gw_stage_new(cfg, a, c, &c->stage)) < 0)
        goto fail;
    rc = c->ops->create(a, c, &c->self, err);
    if (rc) {
        c->ops = NULL; /* nothing to destroy */
        rc = rc == -ENOMEM ? rc : -GW_ECONFIG;
        goto fail;
    }
    snprintf(context, sizeof(context), "adapter '%s'", a->name);
    if ((rc = cfg_check_unknown(a->node, context, err)) != 0 ||
        (rc = gw_stage_check_points(c->stage, err)) != 0)
        goto fail;
    if (!(c->fingerprint = fingerprint(cfg, a))) {
        rc = -ENOMEM;
        goto fail;
    }
    *out = c;
    return 0;
fail:
    gw_ctx_free(c);
    return rc;
}

int gw_ctx_start(gw_ctx_t *c)
{
    int rc = c->ops->start(c->self);

    if (rc != 0) {
        gw_err("adapter '%s': cannot start: %s", c->cfg->name, gw_strerror(rc));
        return rc;
    }
    c->started = true;
    return 0;
}

void gw_ctx_free(gw_ctx_t *c)
{
    if (!c)
        return;
    if (c->started)
        c->ops->stop(c->self);
    if (c->ops)
        c->ops->destroy(c->self);
    gw_stage_free(c->stage);
    gw_gen_unref(c->gen);
    free(c->fingerprint);
    free(c);
}

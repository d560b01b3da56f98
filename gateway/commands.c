/*
 * Write-back: from a message on a command topic to the adapter's write()
 * and back to a result (commands.h, docs/commands.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/clock.h"
#include "gateway/command_json.h"
#include "gateway/commands.h"
#include "gateway/gateway_int.h"
#include "gateway/log.h"
#include "gateway/store.h"

#define ID_MAX 256 /* bytes of the id's JSON in a result; longer ids are cut */
#define LABEL_MAX 200

typedef struct {
    char *topic; /* the command topic */
    gw_ctx_t *ctx;
    size_t point; /* index in the adapter's writable() list */
    const char *name;
} route_t;

struct gw_cmds {
    gw_gateway_t *gw;
    route_t *routes; /* sorted by topic */
    size_t n_routes;
    gw_cmds_stats_t stats;
};

struct gw_command {
    gw_cmds_t *cmds;
    cj_value_t value;
    char *result_topic;
    unsigned char *corr; /* MQTT 5 correlation data, echoed with the result */
    size_t corr_len;
    char id[ID_MAX];       /* JSON: a string, a number or null */
    char label[LABEL_MAX]; /* "adapter/point = value (id ...)" for the log */
    char buf[];            /* the value's string */
};

/* --- routes ---------------------------------------------------------------- */

/* The command topic of one point: commands.topic with {topic} the point's
 * reading topic, then the reading placeholders. */
int gw_cmds_topic(const cfg_t *cfg, const char *adapter, const char *point, char *out, size_t cap)
{
    char reading[TOPIC_MAX], tmpl[TOPIC_MAX];
    size_t o = 0;
    int n =
        gw_topic_render(cfg->mqtt.topic, cfg->gateway.id, adapter, point, reading, sizeof(reading));

    if (n < 0)
        return -ENOSPC;
    for (const char *p = cfg->commands.topic; *p; p++) {
        const char *add = p;
        size_t len = 1;

        if (strncmp(p, "{topic}", 7) == 0) {
            add = reading;
            len = (size_t)n;
            p += 6;
        }
        if (o + len >= sizeof(tmpl))
            return -ENOSPC;
        memcpy(tmpl + o, add, len);
        o += len;
    }
    tmpl[o] = '\0';
    return gw_topic_render(tmpl, cfg->gateway.id, adapter, point, out, cap);
}

static int by_topic(const void *a, const void *b)
{
    return strcmp(((const route_t *)a)->topic, ((const route_t *)b)->topic);
}

static void free_routes(route_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].topic);
    free(r);
}

/* Every writable point of ctxs, sorted by topic. */
static int build(gw_ctx_t *const *ctxs, size_t n, route_t **out, size_t *n_out)
{
    route_t *r = NULL;
    size_t k = 0, cap = 0;
    char topic[TOPIC_MAX];

    for (size_t i = 0; i < n; i++) {
        gw_ctx_t *c = ctxs[i];
        const char *name;

        for (size_t p = 0; c->ops->writable && (name = c->ops->writable(c->self, p)); p++) {
            if (gw_cmds_topic(c->gen->cfg, c->cfg->name, name, topic, sizeof(topic)) < 0) {
                gw_err("adapter '%s': the command topic of point '%s' is too long", c->cfg->name,
                       name);
                free_routes(r, k);
                return -ENOSPC;
            }
            if (k == cap) {
                route_t *more = realloc(r, (cap = cap ? 2 * cap : 16) * sizeof(*r));

                if (!more) {
                    free_routes(r, k);
                    return -ENOMEM;
                }
                r = more;
            }
            r[k] = (route_t){.topic = strdup(topic), .ctx = c, .point = p, .name = name};
            if (!r[k++].topic) {
                free_routes(r, k);
                return -ENOMEM;
            }
        }
    }
    if (k)
        qsort(r, k, sizeof(*r), by_topic);
    *out = r;
    *n_out = k;
    return 0;
}

int gw_cmds_route(gw_cmds_t *c, gw_ctx_t *const *ctxs, size_t n)
{
    route_t *r;
    size_t k;
    int rc = build(ctxs, n, &r, &k);

    if (rc)
        return rc;
    free_routes(c->routes, c->n_routes);
    c->routes = r;
    c->n_routes = k;
    for (size_t i = 1; i < k; i++)
        if (strcmp(r[i - 1].topic, r[i].topic) == 0)
            gw_warn("points '%s' and '%s' have the same command topic %s; commands go to the "
                    "first",
                    r[i - 1].name, r[i].name, r[i].topic);
    return 0;
}

bool gw_cmds_differ(const gw_cmds_t *c, gw_ctx_t *const *ctxs, size_t n)
{
    route_t *r;
    size_t k;
    bool differ;

    if (build(ctxs, n, &r, &k) != 0)
        return true;
    differ = k != c->n_routes;
    for (size_t i = 0; !differ && i < k; i++)
        differ = strcmp(r[i].topic, c->routes[i].topic) != 0;
    free_routes(r, k);
    return differ;
}

static const route_t *find(const gw_cmds_t *c, const char *topic)
{
    route_t key = {.topic = (char *)topic};

    return c->n_routes ? bsearch(&key, c->routes, c->n_routes, sizeof(key), by_topic) : NULL;
}

/* --- results --------------------------------------------------------------- */

static void result(gw_cmds_t *c, const char *topic, const char *id, const char *error,
                   const unsigned char *corr, size_t corr_len)
{
    gw_gateway_t *gw = c->gw;
    char payload[ID_MAX + 400], text[300];
    cj_value_t e = {.kind = CJ_STRING, .s = error, .s_len = error ? strlen(error) : 0};
    int n;

    if (!error)
        n = snprintf(payload, sizeof(payload), "{\"id\":%s,\"ok\":true}", id);
    else if (cj_write_value(&e, text, sizeof(text)) < 0)
        n = snprintf(payload, sizeof(payload), "{\"id\":%s,\"ok\":false}", id);
    else
        n = snprintf(payload, sizeof(payload), "{\"id\":%s,\"ok\":false,\"error\":%s}", id, text);
    if (n < 0 || (size_t)n >= sizeof(payload) || !gw->store)
        return;
    if (corr_len)
        gw_store_put_corr(gw->store, topic, strlen(topic), payload, (size_t)n, 1, false, corr,
                          corr_len);
    else
        gw_store_put(gw->store, topic, strlen(topic), payload, (size_t)n, 1, false,
                     gw->pub && gw_pub_connected(gw->pub));
}

static void answer(gw_command_t *cmd, const char *error, uint64_t *count, const char *outcome)
{
    gw_cmds_t *c = cmd->cmds;

    (*count)++;
    if (error)
        gw_info("command %s: %s: %s", cmd->label, outcome, error);
    else
        gw_info("command %s: ok", cmd->label);
    result(c, cmd->result_topic, cmd->id, error, cmd->corr, cmd->corr_len);
    free(cmd->result_topic);
    free(cmd->corr);
    free(cmd);
}

const cj_value_t *gw_command_value(const gw_command_t *cmd)
{
    return &cmd->value;
}

void gw_command_done(gw_command_t *cmd)
{
    answer(cmd, NULL, &cmd->cmds->stats.ok, "ok");
}

void gw_command_fail(gw_command_t *cmd, const char *error)
{
    answer(cmd, error, &cmd->cmds->stats.failed, "failed");
}

void gw_command_refuse(gw_command_t *cmd, const char *error)
{
    answer(cmd, error, &cmd->cmds->stats.refused, "refused");
}

/* --- a message arrives ----------------------------------------------------- */

/* The result topic: the MQTT 5 Response Topic, else {command topic}/result. */
static char *result_topic(const gw_inbound_t *m)
{
    char *t;

    if (m->response_topic && m->response_topic[0])
        return strdup(m->response_topic);
    if (asprintf(&t, "%s/result", m->topic) < 0)
        return NULL;
    return t;
}

static gw_command_t *command_new(gw_cmds_t *c, const gw_inbound_t *m, const route_t *r)
{
    size_t cap = m->payload ? m->payload_len + 2 : 2;
    gw_command_t *cmd = calloc(1, sizeof(*cmd) + cap);

    if (!cmd)
        return NULL;
    cmd->cmds = c;
    if (!(cmd->result_topic = result_topic(m))) {
        free(cmd);
        return NULL;
    }
    if (m->correlation_len && m->response_topic && m->response_topic[0]) {
        if (!(cmd->corr = malloc(m->correlation_len))) {
            free(cmd->result_topic);
            free(cmd);
            return NULL;
        }
        memcpy(cmd->corr, m->correlation, m->correlation_len);
        cmd->corr_len = m->correlation_len;
    }
    snprintf(cmd->id, sizeof(cmd->id), "null");
    snprintf(cmd->label, sizeof(cmd->label), "%s/%s", r->ctx->cfg->name, r->name);
    return cmd;
}

static void on_message(void *arg, const gw_inbound_t *m)
{
    gw_cmds_t *c = arg;
    const route_t *r = find(c, m->topic);
    const cfg_t *cfg = c->gw->cfg;
    gw_command_t *cmd;
    cj_command_t parsed;
    const char *why = NULL;
    char value[96];
    size_t o;

    if (!r && c->gw->ha_inbound && c->gw->ha_inbound(c->gw, m))
        return; /* Home Assistant's status, not a command */
    if (!r) {   /* a topic dropped by a reload, still subscribed */
        c->stats.refused++;
        gw_info("command on %s: no writable point has this topic (any more); ignored", m->topic);
        return;
    }
    if (m->retained && !cfg->commands.accept_retained) {
        c->stats.refused++;
        gw_info("command %s/%s: retained, ignored (commands.accept_retained is false)",
                r->ctx->cfg->name, r->name);
        return;
    }
    if (!m->too_big && m->payload_len == 0) { /* how a retained command is cleared */
        c->stats.refused++;
        gw_info("command %s/%s: empty, ignored", r->ctx->cfg->name, r->name);
        return;
    }
    if (!(cmd = command_new(c, m, r))) {
        c->stats.refused++;
        gw_err("command %s/%s: out of memory", r->ctx->cfg->name, r->name);
        return;
    }
    if (m->too_big) {
        gw_command_refuse(cmd, "payload too large");
        return;
    }
    if (cj_parse_command(m->payload, m->payload_len, cmd->buf, m->payload_len + 2, &parsed, &why) !=
        0) {
        /* An id read before the error is still echoed. */
        if (parsed.has_id && cj_write_value(&parsed.id, cmd->id, sizeof(cmd->id)) < 0)
            snprintf(cmd->id, sizeof(cmd->id), "null");
        gw_command_refuse(cmd, why);
        return;
    }
    cmd->value = parsed.value;
    if (parsed.has_id && cj_write_value(&parsed.id, cmd->id, sizeof(cmd->id)) < 0)
        snprintf(cmd->id, sizeof(cmd->id), "null"); /* too long to echo */
    if (cj_write_value(&parsed.value, value, sizeof(value)) < 0)
        snprintf(value, sizeof(value), "(long)");
    o = strlen(cmd->label);
    snprintf(cmd->label + o, sizeof(cmd->label) - o, " = %s%s%s%s", value,
             parsed.has_id ? " (id " : "", parsed.has_id ? cmd->id : "", parsed.has_id ? ")" : "");
    if (cfg->commands.max_age_ms && parsed.has_ts &&
        gw_clock_wall_ms() - parsed.ts_ms > (int64_t)cfg->commands.max_age_ms) {
        gw_command_refuse(cmd, "too old");
        return;
    }
    if (!r->ctx->started) {
        gw_command_refuse(cmd, "adapter not running");
        return;
    }
    r->ctx->ops->write(r->ctx->self, r->point, cmd);
}

/* Home Assistant's status topic, when discovery is on. */
static bool ha_status_topic(const cfg_t *cfg, char *buf, size_t cap)
{
    int n;

    if (!cfg->homeassistant.enabled)
        return false;
    n = snprintf(buf, cap, "%s/status", cfg->homeassistant.prefix);
    return n > 0 && (size_t)n < cap;
}

int gw_cmds_subscribe(gw_cmds_t *c, gw_pub_t *pub)
{
    const char **topics;
    char ha[TOPIC_MAX];
    size_t n = 0;
    int rc;

    if (!c->n_routes && !ha_status_topic(c->gw->cfg, ha, sizeof(ha)))
        return 0;
    if (!(topics = calloc(c->n_routes + 1, sizeof(*topics))))
        return -ENOMEM;
    for (size_t i = 0; i < c->n_routes; i++)
        if (i == 0 || strcmp(c->routes[i].topic, c->routes[i - 1].topic) != 0)
            topics[n++] = c->routes[i].topic;
    /* Home Assistant's birth message shares the subscription (one per
     * publisher): on_message() hands it over. */
    if (ha_status_topic(c->gw->cfg, ha, sizeof(ha)))
        topics[n++] = ha;
    rc = gw_pub_subscribe(pub, topics, n, on_message, c);
    free(topics);
    return rc;
}

gw_cmds_t *gw_cmds_new(gw_gateway_t *gw)
{
    gw_cmds_t *c = calloc(1, sizeof(*c));

    if (c)
        c->gw = gw;
    return c;
}

void gw_cmds_free(gw_cmds_t *c)
{
    if (!c)
        return;
    free_routes(c->routes, c->n_routes);
    free(c);
}

void gw_cmds_stats(const gw_cmds_t *c, gw_cmds_stats_t *out)
{
    *out = c ? c->stats : (gw_cmds_stats_t){0};
}

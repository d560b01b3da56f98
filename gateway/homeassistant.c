/*
 * Home Assistant MQTT discovery; see homeassistant.h and docs/homeassistant.md.
 *
 * The configs are built with cJSON from what each adapter declared of its
 * points (gw_ctx_point) and the configuration. The gateway remembers the
 * config topics it published last (sorted), so a sync can clear the ones
 * whose point is gone with an empty retained message. Loop thread only.
 */
#include "gateway/homeassistant.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/commands.h"
#include "gateway/gateway_int.h"
#include "gateway/log.h"
#include "gateway/publish.h"
#include "gateway/store.h"

#ifndef SB_VERSION
#define SB_VERSION "0.0.0"
#endif

#define ID_MAX 256

/* What one sync has published so far. */
typedef struct {
    char **topics;
    size_t n, cap;
    char **ids; /* unique_ids, to keep them unique */
    size_t n_ids, cap_ids;
} seen_t;

struct gw_ha_state {
    char **topics; /* sorted */
    size_t n;
};

/* snprintf for texts that may be cut short (ids, topics checked later by
 * their users): the compiler's truncation warning does not apply. */
__attribute__((format(printf, 3, 4))) static void fmt(char *buf, size_t cap, const char *f, ...)
{
    va_list ap;

    va_start(ap, f);
    vsnprintf(buf, cap, f, ap);
    va_end(ap);
}

static int push(char ***arr, size_t *n, size_t *cap, const char *s)
{
    char *c;

    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        char **more = realloc(*arr, nc * sizeof(**arr));

        if (!more)
            return -ENOMEM;
        *arr = more;
        *cap = nc;
    }
    if (!(c = strdup(s)))
        return -ENOMEM;
    (*arr)[(*n)++] = c;
    return 0;
}

static bool has(char *const *arr, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(arr[i], s) == 0)
            return true;
    return false;
}

static void put(gw_gateway_t *gw, const char *topic, const char *payload, bool retain)
{
    gw_store_put(gw->store, topic, strlen(topic), payload, strlen(payload), 1, retain,
                 gw_pub_connected(gw->pub));
}

static const char *component(const gw_point_info_t *pi)
{
    if (pi->kind == GW_VALUE_BOOL)
        return pi->writable ? "switch" : "binary_sensor";
    if (pi->kind == GW_VALUE_DOUBLE || pi->kind == GW_VALUE_INT || pi->kind == GW_VALUE_UINT)
        return pi->writable ? "number" : "sensor";
    return "sensor";
}

/* How long a state stays valid: 3 x the time between two published
 * messages of the point (its interval, its window, or its heartbeat with
 * report by exception); 0 when there is no such bound. */
static uint64_t expire_ms(const cfg_t *cfg, const cfg_adapter_t *a, const gw_point_info_t *pi)
{
    cfg_publish_t set;

    cfg_publish_resolve(cfg, a, pi->name, &set);
    if (set.window_ms)
        return 3 * set.window_ms;
    if ((set.set & CFG_PUB_DEADBAND) || set.on_change)
        return 3 * set.max_interval_ms;
    return 3 * pi->interval_ms;
}

static void add_classes(cJSON *o, const cfg_adapter_t *a, const gw_point_info_t *pi)
{
    const char *unit, *dc, *sc;

    gw_ha_classes(pi->unit, pi->name, &unit, &dc, &sc);
    if (pi->kind == GW_VALUE_BOOL || pi->kind == GW_VALUE_STRING)
        unit = dc = sc = NULL; /* units and classes of numbers */
    if (strcmp(component(pi), "sensor") != 0)
        sc = NULL; /* only sensors have a state class */
    for (size_t i = 0; i < a->ha.n_points; i++) {
        if (strcmp(a->ha.points[i].name, pi->name) == 0) {
            dc = a->ha.points[i].device_class ? a->ha.points[i].device_class : dc;
            sc = a->ha.points[i].state_class ? a->ha.points[i].state_class : sc;
        }
    }
    if (unit)
        cJSON_AddStringToObject(o, "unit_of_measurement", unit);
    if (dc)
        cJSON_AddStringToObject(o, "device_class", dc);
    if (sc)
        cJSON_AddStringToObject(o, "state_class", sc);
}

static void add_kind(cJSON *o, const gw_ctx_t *c, const gw_point_info_t *pi)
{
    char topic[TOPIC_MAX];
    const char *comp = component(pi);

    if (strcmp(comp, "binary_sensor") == 0 || strcmp(comp, "switch") == 0) {
        /* The template renders JSON true/false as True/False. */
        cJSON_AddStringToObject(o, "payload_on", "True");
        cJSON_AddStringToObject(o, "payload_off", "False");
    }
    if (!pi->writable)
        return;
    if (gw_cmds_topic(c->gen->cfg, c->cfg->name, pi->name, topic, sizeof(topic)) >= 0)
        cJSON_AddStringToObject(o, "command_topic", topic);
    if (strcmp(comp, "switch") == 0) {
        /* A command is a bare JSON value; the state is matched as rendered. */
        cJSON_ReplaceItemInObject(o, "payload_on", cJSON_CreateString("true"));
        cJSON_ReplaceItemInObject(o, "payload_off", cJSON_CreateString("false"));
        cJSON_AddStringToObject(o, "state_on", "True");
        cJSON_AddStringToObject(o, "state_off", "False");
    } else if (strcmp(comp, "number") == 0) {
        cJSON_AddNumberToObject(o, "min", -1e9);
        cJSON_AddNumberToObject(o, "max", 1e9);
        cJSON_AddNumberToObject(o, "step", 0.001);
        cJSON_AddStringToObject(o, "mode", "box");
    }
}

static cJSON *device(const gw_gateway_t *gw, const gw_ctx_t *c, const char *node)
{
    cJSON *d = cJSON_CreateObject(), *ids = cJSON_AddArrayToObject(d, "identifiers");
    char id[ID_MAX], obj[ID_MAX];

    fmt(id, sizeof(id), "sensorbridge_%s_%s", node,
        gw_ha_object_id(c->cfg->name, obj, sizeof(obj)));
    cJSON_AddItemToArray(ids, cJSON_CreateString(id));
    cJSON_AddStringToObject(d, "name", c->cfg->name);
    if (c->cfg->ha.manufacturer)
        cJSON_AddStringToObject(d, "manufacturer", c->cfg->ha.manufacturer);
    cJSON_AddStringToObject(d, "model", c->cfg->ha.model ? c->cfg->ha.model : c->cfg->type);
    fmt(id, sizeof(id), "sensorbridge_%s", node);
    cJSON_AddStringToObject(d, "via_device", id);
    (void)gw;
    return d;
}

static void add_availability(cJSON *o, const gw_gateway_t *gw, const gw_ctx_t *c)
{
    cJSON *av = cJSON_AddArrayToObject(o, "availability"), *e;
    char topic[TOPIC_MAX];

    e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "topic", gw->status_topic);
    cJSON_AddItemToArray(av, e);
    fmt(topic, sizeof(topic), "sensorbridge/%s/%s/status", gw->cfg->gateway.id, c->cfg->name);
    e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "topic", topic);
    cJSON_AddItemToArray(av, e);
    cJSON_AddStringToObject(o, "availability_mode", "all");
}

/* The unique_id and object_id of a point, unique among those of this sync. */
static void ids(seen_t *seen, const char *node, const gw_ctx_t *c, const char *sensor, char *uid,
                char *obj)
{
    char a[ID_MAX], s[ID_MAX], raw[2 * ID_MAX];

    fmt(obj, ID_MAX, "%s_%s", gw_ha_object_id(c->cfg->name, a, sizeof(a)),
        gw_ha_object_id(sensor, s, sizeof(s)));
    fmt(uid, ID_MAX, "sensorbridge_%s_%s", node, obj);
    if (has(seen->ids, seen->n_ids, uid)) { /* "a_b"+"c" and "a"+"b_c" */
        size_t o = strlen(obj);

        fmt(raw, sizeof(raw), "%s/%s", c->cfg->name, sensor);
        fmt(obj + o, ID_MAX - o, "_%08x", gw_ha_hash(raw));
        fmt(uid, ID_MAX, "sensorbridge_%s_%s", node, obj);
    }
    push(&seen->ids, &seen->n_ids, &seen->cap_ids, uid);
}

static void announce(gw_gateway_t *gw, seen_t *seen, const char *node, const gw_ctx_t *c,
                     const gw_point_info_t *pi)
{
    char topic[TOPIC_MAX], state[TOPIC_MAX], uid[ID_MAX], obj[ID_MAX];
    cJSON *o = cJSON_CreateObject(), *origin;
    uint64_t expire = expire_ms(gw->cfg, c->cfg, pi);
    char *json;

    ids(seen, node, c, pi->name, uid, obj);
    if (gw_topic_render(gw->cfg->mqtt.topic, gw->cfg->gateway.id, c->cfg->name, pi->name, state,
                        sizeof(state)) < 0)
        return;
    cJSON_AddStringToObject(o, "name", pi->name);
    cJSON_AddStringToObject(o, "unique_id", uid);
    cJSON_AddStringToObject(o, "object_id", obj);
    cJSON_AddStringToObject(o, "state_topic", state);
    cJSON_AddStringToObject(o, "value_template", "{{ value_json.value }}");
    add_classes(o, c->cfg, pi);
    add_kind(o, c, pi);
    if (expire && !pi->writable) /* sensors' option, not numbers' or switches' */
        cJSON_AddNumberToObject(o, "expire_after", (double)((expire + 999) / 1000));
    add_availability(o, gw, c);
    cJSON_AddItemToObject(o, "device", device(gw, c, node));
    origin = cJSON_AddObjectToObject(o, "origin");
    cJSON_AddStringToObject(origin, "name", "sensorbridge");
    cJSON_AddStringToObject(origin, "sw_version", SB_VERSION);
    json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    fmt(topic, sizeof(topic), "%s/%s/%s/%s/config", gw->cfg->homeassistant.prefix, component(pi),
        node, obj);
    if (!json || strlen(json) >= PAYLOAD_MAX || strlen(topic) + 1 >= sizeof(topic)) {
        gw_err("homeassistant: the config of %s/%s does not fit in a message", c->cfg->name,
               pi->name);
    } else {
        put(gw, topic, json, true);
        push(&seen->topics, &seen->n, &seen->cap, topic);
    }
    cJSON_free(json);
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_strs(char **arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(arr[i]);
    free(arr);
}

void gw_ha_sync(gw_gateway_t *gw)
{
    struct gw_ha_state *old = gw->ha;
    seen_t seen = {0};
    char node[ID_MAX];
    size_t cleared = 0;

    if (gw->probe || !gw->store || (!gw->cfg->homeassistant.enabled && !old))
        return;
    gw_ha_object_id(gw->cfg->gateway.id, node, sizeof(node));
    for (size_t i = 0; gw->cfg->homeassistant.enabled && i < gw->n_ctxs; i++) {
        const gw_ctx_t *c = gw->ctxs[i];
        const gw_point_info_t *pi;
        char topic[TOPIC_MAX];

        if (!c->cfg->ha.enabled || !c->stage)
            continue;
        if (gw_stage_per_device(c->stage)) {
            gw_warn("homeassistant: adapter '%s' publishes per device; its points are not "
                    "announced",
                    c->cfg->name);
            continue;
        }
        if (!c->ops->reports_status) {
            fmt(topic, sizeof(topic), "sensorbridge/%s/%s/status", gw->cfg->gateway.id,
                c->cfg->name);
            put(gw, topic, "online", true);
        }
        for (size_t p = 0; (pi = gw_stage_point_at(c->stage, p)) != NULL; p++)
            announce(gw, &seen, node, c, pi);
    }
    for (size_t i = 0; old && i < old->n; i++) {
        if (!has(seen.topics, seen.n, old->topics[i])) {
            put(gw, old->topics[i], "", true); /* an empty retained message deletes it */
            cleared++;
        }
    }
    if (seen.n || cleared)
        gw_info("homeassistant: %zu configs published, %zu deleted", seen.n, cleared);
    free_strs(seen.ids, seen.n_ids);
    if (old)
        free_strs(old->topics, old->n);
    else if (!(old = gw->ha = calloc(1, sizeof(*old)))) {
        free_strs(seen.topics, seen.n);
        return;
    }
    if (seen.n)
        qsort(seen.topics, seen.n, sizeof(*seen.topics), by_str);
    old->topics = seen.topics;
    old->n = seen.n;
}

bool gw_ha_status_topic(const gw_gateway_t *gw, char *buf, size_t cap)
{
    int n;

    if (!gw->cfg->homeassistant.enabled)
        return false;
    n = snprintf(buf, cap, "%s/status", gw->cfg->homeassistant.prefix);
    return n > 0 && (size_t)n < cap;
}

bool gw_ha_inbound(gw_gateway_t *gw, const gw_inbound_t *m)
{
    char topic[TOPIC_MAX];

    if (!gw_ha_status_topic(gw, topic, sizeof(topic)) || strcmp(m->topic, topic) != 0)
        return false;
    if (m->payload && m->payload_len == 6 && memcmp(m->payload, "online", 6) == 0) {
        gw_info("homeassistant: %s is online, sending the configs again", topic);
        gw_ha_sync(gw);
    }
    return true;
}

void gw_ha_free(gw_gateway_t *gw)
{
    if (!gw->ha)
        return;
    free_strs(gw->ha->topics, gw->ha->n);
    free(gw->ha);
    gw->ha = NULL;
}

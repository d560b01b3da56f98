/*
 * Per-device messages (`payload: per_device`, docs/publishing.md): the
 * readings of one poll cycle of one device become one message,
 *
 *   {"adapter":"plc","device":"meter1","seq":7,"ts":...,"values":{"power":1200,...},
 *    "quality":{"temp":"bad"},"errors":{"temp":"timeout"}}
 *
 * ("device" only on a Modbus link with a devices list), and the units go
 * into a retained .../meta message whenever they change.
 *
 * A cycle ends when every point the device declared has a reading, or, for
 * devices that did not declare their points, when a point comes again. A
 * group is the device of the reading (its declared device, else the
 * reading's device label, else the adapter itself). Loop thread only.
 */
#include "gateway/publish_device.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_int.h"
#include "gateway/log.h"

#define NAMES_MAX 4096 /* points per device message */
#define META_MAX PAYLOAD_MAX

typedef struct {
    char *key;    /* what identifies the device among the adapter's, "" for the adapter */
    char *device; /* its declared name (topic level and "device"), or NULL */
    size_t expected;
    uint64_t seq;
    int64_t ts;
    uint64_t cycle; /* marks the points of the cycle being gathered */
    size_t n_names; /* points in it */
    char values[PAYLOAD_MAX], quality[PAYLOAD_MAX / 4], errors[PAYLOAD_MAX / 2];
    size_t lv, lq, le;
    char units[META_MAX];
    size_t lu;
    char *meta; /* the units of the last meta message published */
} group_t;

struct gw_devmsg {
    gw_ctx_t *ctx;
    const char *adapter;
    char topic[TOPIC_MAX]; /* the device_topic rendered for the adapter */
    group_t **groups;
    size_t n_groups;
    group_t *last; /* readings of one device come together */
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

gw_devmsg_t *gw_devmsg_new(gw_ctx_t *ctx, const cfg_t *cfg, const char *adapter, const char *tmpl)
{
    gw_devmsg_t *dm = calloc(1, sizeof(*dm));

    if (!dm)
        return NULL;
    dm->ctx = ctx;
    dm->adapter = adapter;
    if (gw_topic_render(tmpl ? tmpl : "sensorbridge/{gateway}/{adapter}", cfg->gateway.id, adapter,
                        NULL, dm->topic, sizeof(dm->topic) - 256) < 0) {
        free(dm);
        return NULL;
    }
    return dm;
}

static void reset(group_t *g)
{
    g->cycle++;
    g->n_names = 0;
    g->lv = g->lq = g->le = g->lu = 0;
}

void gw_devmsg_free(gw_devmsg_t *dm)
{
    if (!dm)
        return;
    for (size_t i = 0; i < dm->n_groups; i++) {
        reset(dm->groups[i]);
        free(dm->groups[i]->key);
        free(dm->groups[i]->device);
        free(dm->groups[i]->meta);
        free(dm->groups[i]);
    }
    free(dm->groups);
    free(dm);
}

/* Appends n bytes of s to buf; false when they do not fit (buf unchanged). */
static bool append(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    if (n > cap - *len)
        return false;
    memcpy(buf + *len, s, n);
    *len += n;
    return true;
}

/* Appends `,"name":` + value text to buf (its first member without the
 * comma); false when it does not fit (buf unchanged). */
static bool member(char *buf, size_t cap, size_t *len, const char *name, const char *value,
                   size_t value_len)
{
    char key[512];
    int k = gw_json_string(name, key + 1, sizeof(key) - 2);
    size_t at = *len;

    if (k < 0)
        return false;
    key[0] = ',';
    key[k + 1] = ':';
    if (!append(buf, cap, len, key + !at, (size_t)k + 1 + !!at) ||
        !append(buf, cap, len, value, value_len)) {
        *len = at;
        return false;
    }
    return true;
}

/* Publishes the group's units in its retained .../meta message unless they
 * are what it published last. */
static void publish_meta(gw_devmsg_t *dm, group_t *g, const char *topic)
{
    char meta[META_MAX + 256], mtopic[TOPIC_MAX + 8], a[256];
    int n;

    if ((g->meta && strlen(g->meta) == g->lu && memcmp(g->meta, g->units, g->lu) == 0) ||
        gw_json_string(dm->adapter, a, sizeof(a)) < 0)
        return;
    n = snprintf(meta, sizeof(meta), "{\"adapter\":%s,\"units\":{%.*s}}", a, (int)g->lu, g->units);
    if (n < 0 || (size_t)n >= sizeof(meta))
        return;
    fmt(mtopic, sizeof(mtopic), "%s/meta", topic);
    free(g->meta);
    g->meta = strndup(g->units, g->lu);
    gw_ctx_put(dm->ctx, mtopic, meta, (size_t)n, true);
}

static void flush(gw_devmsg_t *dm, group_t *g)
{
    char payload[PAYLOAD_MAX * 2], topic[TOPIC_MAX], a[256], d[256] = "";
    size_t cap = sizeof(payload), len;
    int n;

    if (!g->n_names)
        return;
    if (gw_json_string(dm->adapter, a, sizeof(a)) < 0 ||
        (g->device && gw_json_string(g->device, d, sizeof(d)) < 0))
        goto out;
    fmt(topic, sizeof(topic), "%s%s%s", dm->topic, g->device ? "/" : "",
        g->device ? g->device : "");
    n = snprintf(payload, cap, "{\"adapter\":%s%s%s,\"seq\":%llu,\"ts\":%lld,\"values\":{", a,
                 g->device ? ",\"device\":" : "", d, (unsigned long long)++g->seq,
                 (long long)g->ts);
    if (n < 0 || (size_t)n >= cap)
        goto out;
    len = (size_t)n;
    publish_meta(dm, g, topic);
    if (append(payload, cap, &len, g->values, g->lv) &&
        append(payload, cap, &len, "},\"quality\":{", 13) &&
        append(payload, cap, &len, g->quality, g->lq) &&
        append(payload, cap, &len, "},\"errors\":{", 12) &&
        append(payload, cap, &len, g->errors, g->le) && append(payload, cap, &len, "}}", 2))
        gw_ctx_put(dm->ctx, topic, payload, len, false);
out:
    reset(g);
}

static group_t *group_of(gw_devmsg_t *dm, const char *key, const char *device, size_t expected)
{
    group_t *g, **more;

    if (dm->last && strcmp(dm->last->key, key) == 0)
        return dm->last;
    for (size_t i = 0; i < dm->n_groups; i++)
        if (strcmp(dm->groups[i]->key, key) == 0)
            return dm->last = dm->groups[i];
    if (!(more = realloc(dm->groups, (dm->n_groups + 1) * sizeof(*more))))
        return NULL;
    dm->groups = more;
    if (!(g = calloc(1, sizeof(*g))) || !(g->key = strdup(key)) ||
        (device && !(g->device = strdup(device)))) {
        if (g)
            free(g->key);
        free(g);
        return NULL;
    }
    g->expected = expected;
    dm->groups[dm->n_groups++] = g;
    return dm->last = g;
}

/* Adds one reading to g; false when the message has no room left. */
static bool add(group_t *g, const gw_reading_t *r, const char *name)
{
    char value[PAYLOAD_MAX / 2], text[512];
    size_t lv = g->lv, lq = g->lq, le = g->le, lu = g->lu;
    int nv = r->error ? 4 : gw_reading_value_json(r, value, sizeof(value)), nt;

    if (nv < 0 || g->n_names >= NAMES_MAX ||
        !member(g->values, sizeof(g->values), &g->lv, name, r->error ? "null" : value, (size_t)nv))
        goto undo;
    if (r->error && ((nt = gw_json_string(r->error, text, sizeof(text))) < 0 ||
                     !member(g->quality, sizeof(g->quality), &g->lq, name, "\"bad\"", 5) ||
                     !member(g->errors, sizeof(g->errors), &g->le, name, text, (size_t)nt)))
        goto undo;
    if (r->unit && ((nt = gw_json_string(r->unit, text, sizeof(text))) < 0 ||
                    !member(g->units, sizeof(g->units), &g->lu, name, text, (size_t)nt)))
        goto undo;
    if (g->n_names++ == 0)
        g->ts = r->ts_ms;
    return true;
undo:
    g->lv = lv, g->lq = lq, g->le = le, g->lu = lu;
    return false;
}

int gw_devmsg_reading(gw_devmsg_t *dm, const gw_reading_t *r, const gw_point_info_t *pi,
                      size_t expected, uint64_t *mark)
{
    const char *device = pi ? pi->device : NULL;
    const char *key = device ? device : r->device ? r->device : "";
    const char *name = r->sensor;
    group_t *g = group_of(dm, key, device, pi ? expected : 0);

    if (!g)
        return -ENOMEM;
    if (device && strncmp(name, device, strlen(device)) == 0 && name[strlen(device)] == '/')
        name += strlen(device) + 1; /* "meter1/power" is "power" of meter1 */
    if (*mark == g->cycle + 1)
        flush(dm, g); /* the point comes again: the next cycle began */
    if (!add(g, r, name)) {
        flush(dm, g);
        if (!add(g, r, name)) {
            gw_err("adapter '%s': reading of '%s' does not fit in a device message; dropped",
                   dm->adapter, r->sensor);
            return -ENOSPC;
        }
    }
    *mark = g->cycle + 1; /* in this cycle (flush() moves g->cycle on) */
    if (g->expected && g->n_names >= g->expected)
        flush(dm, g);
    return 0;
}

void gw_devmsg_flush(gw_devmsg_t *dm)
{
    for (size_t i = 0; dm && i < dm->n_groups; i++)
        flush(dm, dm->groups[i]);
}

/*
 * The `publish` mappings: what the publishing stage does with a point's
 * readings (report by exception, time windows). One at the top level, one
 * per adapter, and one per point in the adapter's `publish.points` list; a
 * narrower mapping overrides the keys it gives (cfg_publish_resolve).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_internal.h"
#include "config/config.h"
#include "gateway/error.h"
#include "gateway/reading.h"

#define DAY_MS 86400000ULL

static const char *const top_keys[] = {
    "deadband", "on_change", "max_interval", "window", "payload", "device_topic", NULL};
static const char *const adapter_keys[] = {"deadband", "on_change",    "max_interval", "window",
                                           "payload",  "device_topic", "points",       NULL};
static const char *const payloads[] = {"per_point", "per_device", NULL};
static const char *const point_keys[] = {"name",         "deadband", "on_change",
                                         "max_interval", "window",   NULL};
static const char *const window_keys[] = {"length", "functions", NULL};
static const char *const fn_names[] = {"min", "max", "mean", "last", "count", NULL};
_Static_assert(CFG_WFN_COUNT == 4 && CFG_WFN_N == 5, "fn_names[] follows cfg_window_fn_t");

/* "0.5" (absolute) or "2%" (of the last published value). */
static int read_deadband(const cfg_node_t *n, cfg_publish_t *p, cfg_error_t *err)
{
    const char *s;
    char *end;
    double d;
    size_t len;
    int rc;

    if (cfg_node_kind(n) != CFG_SCALAR)
        return cfg_node_error(n, err, "deadband: expected a number or a percentage such as 2%%");
    if ((rc = cfg_node_string(n, &s, err)) < 0)
        return rc;
    len = strlen(s);
    p->deadband_kind = len > 1 && s[len - 1] == '%' ? CFG_DEADBAND_PERCENT : CFG_DEADBAND_ABSOLUTE;
    d = strtod(s, &end);
    if (end == s || !isfinite(d) || d < 0 ||
        (size_t)(end - s) != len - (p->deadband_kind == CFG_DEADBAND_PERCENT))
        return cfg_node_error(n, err,
                              "deadband: expected a number >= 0 or a percentage such as 2%%, "
                              "got '%s'",
                              s);
    p->deadband = d;
    p->deadband_node = n;
    p->set |= CFG_PUB_DEADBAND;
    return 0;
}

static int read_functions(const cfg_node_t *fns, cfg_publish_t *p, cfg_error_t *err)
{
    if (!fns) {
        for (int i = 0; i < CFG_WFN_N; i++)
            p->fns[i] = (uint8_t)i;
        p->n_fns = CFG_WFN_N;
        return 0;
    }
    if (cfg_node_kind(fns) != CFG_SEQUENCE || cfg_seq_len(fns) == 0)
        return cfg_node_error(fns, err,
                              "window.functions: expected a list of min, max, mean, last, count");
    p->n_fns = 0;
    for (size_t i = 0; i < cfg_seq_len(fns); i++) {
        const cfg_node_t *item = cfg_seq_at(fns, i);
        const char *name;
        int f, rc;

        if ((rc = cfg_node_string(item, &name, err)) < 0)
            return rc;
        for (f = 0; fn_names[f] && strcmp(fn_names[f], name) != 0; f++)
            ;
        if (!fn_names[f])
            return cfg_node_error(item, err,
                                  "unknown window function '%s' (known: min, max, mean, last, "
                                  "count)",
                                  name);
        for (uint8_t j = 0; j < p->n_fns; j++)
            if (p->fns[j] == f)
                return cfg_node_error(item, err, "window function '%s' listed twice", name);
        p->fns[p->n_fns++] = (uint8_t)f;
    }
    return 0;
}

static int read_window(const cfg_node_t *w, cfg_publish_t *p, cfg_error_t *err)
{
    int rc;

    if (cfg_node_kind(w) != CFG_MAPPING)
        return cfg_node_error(w, err, "window: expected a mapping with length and functions");
    if ((rc = cfg_check_keys(w, window_keys, "window", err)) < 0)
        return rc;
    if (!cfg_has(w, "length"))
        return cfg_node_error(w, err, "window: missing required key 'length'");
    if ((rc = cfg_get_duration(w, "length", 1, DAY_MS, 0, &p->window_ms, err)) < 0)
        return rc;
    if ((rc = read_functions(cfg_get_node(w, "functions"), p, err)) < 0)
        return rc;
    p->window_node = w;
    p->set |= CFG_PUB_WINDOW;
    return 0;
}

/* The settings keys of one mapping (keys already checked). */
static int read_settings(const cfg_node_t *m, cfg_publish_t *p, cfg_error_t *err)
{
    const cfg_node_t *n;
    int rc;

    if ((n = cfg_get_node(m, "deadband")) && (rc = read_deadband(n, p, err)) < 0)
        return rc;
    if (cfg_has(m, "on_change")) {
        if ((rc = cfg_get_bool(m, "on_change", false, &p->on_change, err)) < 0)
            return rc;
        p->set |= CFG_PUB_ON_CHANGE;
    }
    if (cfg_has(m, "max_interval")) {
        if ((rc = cfg_get_duration(m, "max_interval", 1, 365 * DAY_MS, 0, &p->max_interval_ms,
                                   err)) < 0)
            return rc;
        p->set |= CFG_PUB_MAX_INTERVAL;
    }
    if ((n = cfg_get_node(m, "window")) && (rc = read_window(n, p, err)) < 0)
        return rc;
    if (cfg_has(m, "payload")) {
        int pl;

        if ((rc = cfg_get_enum(m, "payload", payloads, 0, &pl, err)) < 0)
            return rc;
        p->per_device = pl == 1;
        p->set |= CFG_PUB_PAYLOAD;
    }
    if (cfg_has(m, "device_topic")) {
        const char *why;

        if ((rc = cfg_get_string(m, "device_topic", NULL, &p->device_topic, err)) < 0)
            return rc;
        if ((why = gw_topic_check(p->device_topic)) != NULL || strstr(p->device_topic, "{sensor}"))
            return cfg_node_error(cfg_get_node(m, "device_topic"), err, "device_topic: %s",
                                  why ? why : "{sensor} has no meaning in a device's topic");
        p->set |= CFG_PUB_DEVICE_TOPIC;
    }
    /* A window publishes a summary instead of the samples: exception
     * reporting has nothing left to act on in the same mapping. */
    if ((p->set & CFG_PUB_WINDOW) &&
        (p->set & (CFG_PUB_DEADBAND | CFG_PUB_ON_CHANGE | CFG_PUB_MAX_INTERVAL))) {
        const char *k = (p->set & CFG_PUB_DEADBAND)    ? "deadband"
                        : (p->set & CFG_PUB_ON_CHANGE) ? "on_change"
                                                       : "max_interval";

        return cfg_node_error(cfg_get_node(m, k), err,
                              "%s does not combine with a window (a window publishes one "
                              "summary per length)",
                              k);
    }
    return 0;
}

static int open_mapping(const cfg_node_t *n, const char *const *keys, const char *context,
                        cfg_error_t *err)
{
    char buf[CFG_SHOW_CAP];

    if (cfg_node_kind(n) != CFG_MAPPING)
        return cfg_node_error(n, err, "%s: expected a mapping, got %s", context,
                              cfg_describe(n, buf));
    return cfg_check_keys(n, keys, context, err);
}

int cfg_load_publish(cfg_t *cfg, const cfg_node_t *root, cfg_error_t *err)
{
    const cfg_node_t *n = cfg_get_node(root, "publish");
    int rc;

    cfg->publish_text = n ? cfg_node_dump(n) : strdup("");
    if (!cfg->publish_text)
        return -ENOMEM;
    if (!n)
        return 0;
    if ((rc = open_mapping(n, top_keys, "section 'publish'", err)) < 0)
        return rc;
    return read_settings(n, &cfg->publish, err);
}

static int load_points(cfg_adapter_t *a, const cfg_node_t *seq, cfg_error_t *err)
{
    char buf[CFG_SHOW_CAP];

    if (cfg_node_kind(seq) != CFG_SEQUENCE)
        return cfg_node_error(seq, err, "publish.points: expected a list, got %s",
                              cfg_describe(seq, buf));
    a->n_points = cfg_seq_len(seq);
    a->points = calloc(a->n_points ? a->n_points : 1, sizeof(*a->points));
    if (!a->points)
        return -ENOMEM;
    for (size_t i = 0; i < a->n_points; i++) {
        const cfg_node_t *m = cfg_seq_at(seq, i);
        cfg_publish_point_t *pt = &a->points[i];
        int rc;

        if ((rc = open_mapping(m, point_keys, "publish.points", err)) < 0)
            return rc;
        if (!cfg_has(m, "name"))
            return cfg_node_error(m, err, "publish.points: each entry needs a 'name'");
        if ((rc = cfg_get_string(m, "name", NULL, &pt->name, err)) < 0)
            return rc;
        pt->node = cfg_get_node(m, "name");
        for (size_t j = 0; j < i; j++)
            if (strcmp(a->points[j].name, pt->name) == 0)
                return cfg_node_error(cfg_get_node(m, "name"), err,
                                      "publish.points: point '%s' listed twice", pt->name);
        if ((rc = read_settings(m, &pt->pub, err)) < 0)
            return rc;
    }
    return 0;
}

int cfg_load_adapter_publish(cfg_adapter_t *a, cfg_error_t *err)
{
    const cfg_node_t *n = cfg_get_node(a->node, "publish"), *pts;
    int rc;

    if (!n)
        return 0;
    if ((rc = open_mapping(n, adapter_keys, "publish", err)) < 0)
        return rc;
    if ((rc = read_settings(n, &a->publish, err)) < 0)
        return rc;
    pts = cfg_get_node(n, "points");
    return pts ? load_points(a, pts, err) : 0;
}

static void overlay(cfg_publish_t *out, const cfg_publish_t *p)
{
    if (p->set & CFG_PUB_DEADBAND) {
        out->deadband = p->deadband;
        out->deadband_kind = p->deadband_kind;
        out->deadband_node = p->deadband_node;
    }
    if (p->set & CFG_PUB_ON_CHANGE)
        out->on_change = p->on_change;
    if (p->set & CFG_PUB_MAX_INTERVAL)
        out->max_interval_ms = p->max_interval_ms;
    if (p->set & CFG_PUB_WINDOW) {
        out->window_ms = p->window_ms;
        memcpy(out->fns, p->fns, sizeof(out->fns));
        out->n_fns = p->n_fns;
        out->window_node = p->window_node;
    }
    if (p->set & CFG_PUB_PAYLOAD)
        out->per_device = p->per_device;
    if (p->set & CFG_PUB_DEVICE_TOPIC)
        out->device_topic = p->device_topic;
    out->set |= p->set;
}

void cfg_publish_resolve(const cfg_t *cfg, const cfg_adapter_t *a, const char *sensor,
                         cfg_publish_t *out)
{
    memset(out, 0, sizeof(*out));
    overlay(out, &cfg->publish);
    overlay(out, &a->publish);
    for (size_t i = 0; i < a->n_points; i++) {
        if (strcmp(a->points[i].name, sensor) == 0) {
            overlay(out, &a->points[i].pub);
            out->own = a->points[i].pub.set;
        }
    }
}

/* --- Home Assistant discovery ------------------------------------------- */

static const char *const ha_keys[] = {"enabled", "prefix", NULL};
static const char *const ha_adapter_keys[] = {"enabled", "manufacturer", "model", "points", NULL};
static const char *const ha_point_keys[] = {"name", "device_class", "state_class", NULL};

/* A topic level of our own choosing: no wildcard, no '/', not empty. */
static int check_level(const cfg_node_t *n, const char *what, const char *s, cfg_error_t *err)
{
    if (!*s || strpbrk(s, "/+#"))
        return cfg_node_error(n, err, "%s must be one topic level without '/', '+' or '#'", what);
    return 0;
}

int cfg_load_homeassistant(cfg_t *cfg, const cfg_node_t *root, cfg_error_t *err)
{
    const cfg_node_t *n = cfg_get_node(root, "homeassistant");
    int rc;

    cfg->homeassistant.prefix = "homeassistant";
    if (!n)
        return 0;
    if ((rc = open_mapping(n, ha_keys, "section 'homeassistant'", err)) < 0 ||
        (rc = cfg_get_bool(n, "enabled", false, &cfg->homeassistant.enabled, err)) < 0 ||
        (rc = cfg_get_string(n, "prefix", "homeassistant", &cfg->homeassistant.prefix, err)) < 0)
        return rc;
    return cfg_has(n, "prefix") ? check_level(cfg_get_node(n, "prefix"), "homeassistant.prefix",
                                              cfg->homeassistant.prefix, err)
                                : 0;
}

static int load_ha_points(cfg_adapter_t *a, const cfg_node_t *seq, cfg_error_t *err)
{
    if (cfg_node_kind(seq) != CFG_SEQUENCE)
        return cfg_node_error(seq, err, "homeassistant.points: expected a list");
    a->ha.n_points = cfg_seq_len(seq);
    a->ha.points = calloc(a->ha.n_points ? a->ha.n_points : 1, sizeof(*a->ha.points));
    if (!a->ha.points)
        return -ENOMEM;
    for (size_t i = 0; i < a->ha.n_points; i++) {
        const cfg_node_t *m = cfg_seq_at(seq, i);
        cfg_ha_point_t *pt = &a->ha.points[i];
        int rc;

        if ((rc = open_mapping(m, ha_point_keys, "homeassistant.points", err)) < 0)
            return rc;
        if (!cfg_has(m, "name"))
            return cfg_node_error(m, err, "homeassistant.points: each entry needs a 'name'");
        if ((rc = cfg_get_string(m, "name", NULL, &pt->name, err)) < 0 ||
            (rc = cfg_get_string(m, "device_class", NULL, &pt->device_class, err)) < 0 ||
            (rc = cfg_get_string(m, "state_class", NULL, &pt->state_class, err)) < 0)
            return rc;
    }
    return 0;
}

int cfg_load_adapter_ha(const cfg_t *cfg, cfg_adapter_t *a, cfg_error_t *err)
{
    const cfg_node_t *n = cfg_get_node(a->node, "homeassistant"), *pts;
    int rc;

    a->ha.enabled = cfg->homeassistant.enabled;
    if (!n)
        return 0;
    if ((rc = open_mapping(n, ha_adapter_keys, "homeassistant", err)) < 0 ||
        (rc = cfg_get_bool(n, "enabled", cfg->homeassistant.enabled, &a->ha.enabled, err)) < 0 ||
        (rc = cfg_get_string(n, "manufacturer", NULL, &a->ha.manufacturer, err)) < 0 ||
        (rc = cfg_get_string(n, "model", NULL, &a->ha.model, err)) < 0)
        return rc;
    pts = cfg_get_node(n, "points");
    return pts ? load_ha_points(a, pts, err) : 0;
}

void cfg_publish_forget_nodes(cfg_t *cfg)
{
    cfg->publish.deadband_node = cfg->publish.window_node = NULL;
    for (size_t i = 0; i < cfg->n_adapters; i++) {
        cfg_adapter_t *a = &cfg->adapters[i];

        a->publish.deadband_node = a->publish.window_node = NULL;
        for (size_t j = 0; j < a->n_points; j++) {
            a->points[j].node = NULL;
            a->points[j].pub.deadband_node = a->points[j].pub.window_node = NULL;
        }
    }
}

void cfg_publish_free(cfg_adapter_t *a)
{
    free(a->ha.points);
    a->ha.points = NULL;
    free(a->points);
    a->points = NULL;
    a->n_points = 0;
}

/*
 * The delivery keys of the configuration: MQTT protocol version, TLS to the
 * broker, the disk spool of the outbox, and the commands that come back.
 */
#include <stdio.h>
#include <string.h>

#include "gateway/reading.h"

#include "config/cfg_internal.h"
#include "config/config.h"
#include "gateway/spool.h"

#define SPOOL_DEFAULT_DIR "/var/lib/sensorbridge/spool"

static const char *const versions[] = {"3.1.1", "5", NULL};
static const char *const tls_keys[] = {"ca_file", "cert_file", "key_file", "verify", NULL};
static const char *const spool_keys[] = {"dir", "max_bytes", "sync", "sync_interval", NULL};
static const char *const syncs[] = {"always", "interval", "never", NULL};
static const char *const commands_keys[] = {"topic", "accept_retained", "max_age", NULL};
_Static_assert(GW_SPOOL_SYNC_ALWAYS == 0 && GW_SPOOL_SYNC_NEVER == 2, "syncs[] order");

/* A nested mapping such as mqtt.tls: NULL when absent, else checked to be a
 * mapping of known keys. */
static int subsection(const cfg_node_t *sec, const char *key, const char *name,
                      const char *const *keys, const cfg_node_t **out, cfg_error_t *err)
{
    const cfg_node_t *n = sec ? cfg_get_node(sec, key) : NULL;
    char context[64];

    *out = n;
    if (!n)
        return 0;
    if (cfg_node_kind(n) != CFG_MAPPING) {
        char buf[CFG_SHOW_CAP];

        return cfg_node_error(n, err, "%s: expected a mapping, got %s", name, cfg_describe(n, buf));
    }
    snprintf(context, sizeof(context), "section '%s'", name);
    return cfg_check_keys(n, keys, context, err);
}

int cfg_load_mqtt_extra(cfg_t *cfg, const cfg_node_t *sec, cfg_error_t *err)
{
    const cfg_node_t *tls;
    int version = 0, rc;

    if ((rc = cfg_get_enum(sec, "version", versions, 0, &version, err)) < 0)
        return rc;
    cfg->mqtt.version = version == 0 ? 4 : 5;
    cfg->mqtt.tls.enabled =
        strncmp(cfg->mqtt.uri, "ssl://", 6) == 0 || strncmp(cfg->mqtt.uri, "mqtts://", 8) == 0;
    if ((rc = subsection(sec, "tls", "mqtt.tls", tls_keys, &tls, err)) < 0)
        return rc;
    if (tls && !cfg->mqtt.tls.enabled)
        return cfg_node_error(tls, err, "mqtt.tls needs a uri starting with ssl:// or mqtts://");
    if ((rc = cfg_get_string(tls, "ca_file", NULL, &cfg->mqtt.tls.ca_file, err)) < 0 ||
        (rc = cfg_get_string(tls, "cert_file", NULL, &cfg->mqtt.tls.cert_file, err)) < 0 ||
        (rc = cfg_get_string(tls, "key_file", NULL, &cfg->mqtt.tls.key_file, err)) < 0 ||
        (rc = cfg_get_bool(tls, "verify", true, &cfg->mqtt.tls.verify, err)) < 0)
        return rc;
    if (cfg->mqtt.tls.key_file && !cfg->mqtt.tls.cert_file)
        return cfg_node_error(tls, err, "mqtt.tls: key_file needs cert_file");
    return 0;
}

int cfg_load_spool(cfg_t *cfg, const cfg_node_t *sec, cfg_error_t *err)
{
    const cfg_node_t *sp;
    int sync = GW_SPOOL_SYNC_INTERVAL, rc;

    if ((rc = subsection(sec, "spool", "outbox.spool", spool_keys, &sp, err)) < 0 || !sp)
        return rc;
    cfg->outbox.spool.enabled = true;
    if ((rc = cfg_get_string(sp, "dir", SPOOL_DEFAULT_DIR, &cfg->outbox.spool.dir, err)) < 0 ||
        (rc = cfg_get_size(sp, "max_bytes", 1024 * 1024, (uint64_t)1 << 40, 256 * 1024 * 1024,
                           &cfg->outbox.spool.max_bytes, err)) < 0 ||
        (rc = cfg_get_enum(sp, "sync", syncs, GW_SPOOL_SYNC_INTERVAL, &sync, err)) < 0 ||
        (rc = cfg_get_duration(sp, "sync_interval", 1, 3600 * 1000, 1000,
                               &cfg->outbox.spool.sync_interval_ms, err)) < 0)
        return rc;
    cfg->outbox.spool.sync = sync;
    if (!cfg->outbox.spool.dir[0])
        return cfg_node_error(sp, err, "outbox.spool: dir must not be empty");
    return 0;
}

/* A command topic template: the reading-topic placeholders, and {topic}
 * for the point's own reading topic. */
static const char *command_topic_check(const char *tmpl)
{
    char copy[512];
    size_t o = 0;

    for (const char *p = tmpl; *p && o + 16 < sizeof(copy); p++) {
        if (strncmp(p, "{topic}", 7) == 0) {
            memcpy(copy + o, "t", 1);
            o += 1;
            p += 6;
        } else {
            copy[o++] = *p;
        }
    }
    copy[o] = '\0';
    if (strlen(tmpl) + 16 >= sizeof(copy))
        return "too long";
    return gw_topic_check(copy);
}

int cfg_load_commands(cfg_t *cfg, const cfg_node_t *root, cfg_error_t *err)
{
    const cfg_node_t *sec;
    const char *problem;
    int rc;

    if ((rc = subsection(root, "commands", "commands", commands_keys, &sec, err)) < 0)
        return rc;
    if ((rc = cfg_get_string(sec, "topic", "{topic}/set", &cfg->commands.topic, err)) < 0 ||
        (rc = cfg_get_bool(sec, "accept_retained", false, &cfg->commands.accept_retained, err)) <
            0 ||
        (rc = cfg_get_duration(sec, "max_age", 0, 7 * 86400 * 1000ull, 0, &cfg->commands.max_age_ms,
                               err)) < 0)
        return rc;
    if ((problem = command_topic_check(cfg->commands.topic)) != NULL) {
        char buf[CFG_SHOW_CAP];

        return cfg_node_error(cfg_get_node(sec, "topic"), err, "commands.topic %s is invalid: %s",
                              cfg_describe(cfg_get_node(sec, "topic"), buf), problem);
    }
    return 0;
}

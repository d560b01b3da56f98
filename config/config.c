/*
 * The common sections of the configuration (gateway, mqtt, outbox, and the
 * name/type/qos/retain of each adapter): their defaults and their checks.
 * The YAML tree lives in cfg_yaml.c and cfg_doc.c, the accessors in cfg_node.c.
 *
 * Unknown keys in the common sections are reported before any value is read,
 * so a misspelt key ("adaptors:") is named as such instead of surfacing as a
 * missing key or a silently used default. Adapter-specific keys are left to
 * the adapter, which calls cfg_check_unknown() once it has read them.
 */
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg_internal.h"
#include "gateway/error.h"
#include "gateway/reading.h"

#define SEC 1000ULL
#define HOUR (3600 * SEC)
#define MAX_FILE_BYTES (16u << 20)
#define CLIENT_ID_MAX 128
#define CLIENT_ID_PREFIX "sensorbridge-"
#define DEFAULT_URI "tcp://127.0.0.1:1883"
#define DEFAULT_TOPIC "sensorbridge/{gateway}/{adapter}/{sensor}"

const char cfg_builtin_default[] = "# Built-in default: four simulated sensors, TEMP_00..TEMP_03,\n"
                                   "# published to a broker on this machine.\n"
                                   "mqtt:\n"
                                   "  uri: tcp://127.0.0.1:1883\n"
                                   "adapters:\n"
                                   "  - name: sim\n"
                                   "    type: simulated\n"
                                   "    sensors: 4\n"
                                   "    interval: 1s\n";

typedef struct {
    cfg_t pub; /* first, so cfg_free() can cast back */
    cfg_doc_t doc;
    cfg_strings_t strings; /* every string of pub */
    char *path;
    char *host_id;   /* gateway.id when taken from the host name */
    char *client_id; /* mqtt.client_id when derived from gateway.id */
} cfg_impl_t;

static const char *const top_keys[] = {"gateway", "mqtt",          "outbox",   "commands",
                                       "publish", "homeassistant", "adapters", NULL};
static const char *const gateway_keys[] = {"id", "log_level", "shutdown_timeout", "stats_interval",
                                           NULL};
static const char *const mqtt_keys[] = {
    "uri",   "client_id",    "username",      "password_file", "keepalive", "qos", "retain",
    "topic", "max_inflight", "reconnect_min", "reconnect_max", "version",   "tls", NULL};
static const char *const outbox_keys[] = {"capacity", "max_bytes", "overflow", "spool", NULL};

/* Indexed by gw_log_level_t and gw_overflow_t. */
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const overflows[] = {"drop_oldest", "drop_newest", "block", NULL};
_Static_assert(GW_LOG_DEBUG == 3, "log_levels[] follows gw_log_level_t");
_Static_assert(GW_OVERFLOW_BLOCK == 2, "overflows[] follows gw_overflow_t");

/* The value node of a key already read, for a message about its value. */
static const cfg_node_t *node_of(const cfg_node_t *map, const char *key)
{
    return cfg_get_node(map, key);
}

/* A common section: absent (*out = NULL, all defaults) or a mapping whose keys
 * are all known. */
static int section(const cfg_node_t *root, const char *key, const char *const *keys,
                   const cfg_node_t **out, cfg_error_t *err)
{
    const cfg_node_t *n = cfg_get_node(root, key);
    char context[64];

    *out = NULL;
    if (!n)
        return 0;
    if (cfg_node_kind(n) != CFG_MAPPING) {
        char buf[CFG_SHOW_CAP];

        return cfg_node_error(n, err, "%s: expected a mapping, got %s", key, cfg_describe(n, buf));
    }
    snprintf(context, sizeof(context), "section '%s'", key);
    *out = n;
    return cfg_check_keys(n, keys, context, err);
}

static int required_string(const cfg_node_t *map, const char *what, const char *key,
                           const char **out, cfg_error_t *err)
{
    const cfg_node_t *v = cfg_get_node(map, key);

    if (!v)
        return cfg_node_error(map, err, "%s is missing required key '%s'", what, key);
    return cfg_node_string(v, out, err);
}

/* gateway.id, or the host name: either must be usable as one topic level. */
static int gateway_id(cfg_impl_t *c, const cfg_node_t *root, const cfg_node_t *sec,
                      cfg_error_t *err)
{
    char host[HOST_NAME_MAX + 1], buf[CFG_SHOW_CAP];
    const char *problem;

    if (c->pub.gateway.id) {
        problem = gw_topic_level_check(c->pub.gateway.id);
        if (problem)
            return cfg_node_error(node_of(sec, "id"), err, "gateway id %s is invalid: %s",
                                  cfg_describe(node_of(sec, "id"), buf), problem);
        return 0;
    }
    if (gethostname(host, sizeof(host)) != 0)
        return cfg_node_error(root, err, "cannot get the host name (%s), set gateway.id",
                              strerror(errno));
    host[sizeof(host) - 1] = '\0';
    problem = gw_topic_level_check(host);
    if (problem)
        return cfg_node_error(root, err,
                              "the host name %s is not a valid gateway id (%s), set "
                              "gateway.id",
                              cfg_show(host, strlen(host), buf), problem);
    c->host_id = strdup(host);
    if (!c->host_id)
        return -ENOMEM;
    c->pub.gateway.id = c->host_id;
    return 0;
}

static int load_gateway(cfg_impl_t *c, const cfg_node_t *root, cfg_error_t *err)
{
    const cfg_node_t *sec;
    int level = GW_LOG_INFO, rc;

    if ((rc = section(root, "gateway", gateway_keys, &sec, err)) < 0)
        return rc;
    if ((rc = cfg_get_string(sec, "id", NULL, &c->pub.gateway.id, err)) < 0)
        return rc;
    if ((rc = gateway_id(c, root, sec, err)) < 0)
        return rc;
    if ((rc = cfg_get_enum(sec, "log_level", log_levels, GW_LOG_INFO, &level, err)) < 0)
        return rc;
    c->pub.gateway.log_level = (gw_log_level_t)level;
    if ((rc = cfg_get_duration(sec, "shutdown_timeout", 0, HOUR, 5 * SEC,
                               &c->pub.gateway.shutdown_timeout_ms, err)) < 0)
        return rc;
    return cfg_get_duration(sec, "stats_interval", 0, 24 * HOUR, 10 * SEC,
                            &c->pub.gateway.stats_interval_ms, err);
}

/* tcp://, mqtt://, ssl:// or mqtts:// HOST:PORT, HOST a name, an IPv4
 * address or an IPv6 address in brackets, PORT 1..65535, nothing after it. */
static bool uri_ok(const char *uri)
{
    static const char *const schemes[] = {"tcp://", "mqtt://", "ssl://", "mqtts://"};
    const char *p = NULL, *colon;
    unsigned long port = 0;
    size_t i;

    for (i = 0; i < 4 && !p; i++)
        if (strncmp(uri, schemes[i], strlen(schemes[i])) == 0)
            p = uri + strlen(schemes[i]);
    if (!p)
        return false;
    if (*p == '[') {
        colon = strchr(p, ']');
        if (!colon || colon == p + 1 || *++colon != ':')
            return false;
    } else {
        colon = strchr(p, ':');
        if (!colon || colon == p)
            return false;
        for (i = 0; p + i < colon; i++) {
            if ((unsigned char)p[i] <= ' ' || strchr("/?#@[]", p[i]))
                return false;
        }
    }
    for (p = colon + 1, i = 0; p[i] >= '0' && p[i] <= '9' && i < 6; i++)
        port = port * 10 + (unsigned long)(p[i] - '0');
    return i > 0 && p[i] == '\0' && port >= 1 && port <= 65535;
}

/* mqtt.client_id, or "sensorbridge-" + gateway.id. */
static int client_id(cfg_impl_t *c, const cfg_node_t *root, const cfg_node_t *sec, cfg_error_t *err)
{
    size_t len;
    int rc;

    if ((rc = cfg_get_string(sec, "client_id", NULL, &c->pub.mqtt.client_id, err)) < 0)
        return rc;
    if (c->pub.mqtt.client_id) {
        len = strlen(c->pub.mqtt.client_id);
        if (len < 1 || len > CLIENT_ID_MAX)
            return cfg_node_error(node_of(sec, "client_id"), err,
                                  "client_id must be between 1 and %d bytes long, got %zu",
                                  CLIENT_ID_MAX, len);
        return 0;
    }
    len = strlen(CLIENT_ID_PREFIX) + strlen(c->pub.gateway.id);
    if (len > CLIENT_ID_MAX) {
        const cfg_node_t *n = node_of(node_of(root, "gateway"), "id");

        return cfg_node_error(n ? n : root, err,
                              "gateway id is too long to derive mqtt.client_id from (at most %zu "
                              "bytes), set mqtt.client_id",
                              CLIENT_ID_MAX - strlen(CLIENT_ID_PREFIX));
    }
    c->client_id = malloc(len + 1);
    if (!c->client_id)
        return -ENOMEM;
    snprintf(c->client_id, len + 1, "%s%s", CLIENT_ID_PREFIX, c->pub.gateway.id);
    c->pub.mqtt.client_id = c->client_id;
    return 0;
}

/* Where to connect and as whom. */
static int load_connection(cfg_impl_t *c, const cfg_node_t *root, const cfg_node_t *sec,
                           cfg_error_t *err)
{
    int rc;

    if ((rc = cfg_get_string(sec, "uri", DEFAULT_URI, &c->pub.mqtt.uri, err)) < 0)
        return rc;
    if (!uri_ok(c->pub.mqtt.uri)) {
        char buf[CFG_SHOW_CAP];

        return cfg_node_error(node_of(sec, "uri"), err,
                              "uri must look like tcp://HOST:PORT or ssl://HOST:PORT (or mqtt://, "
                              "mqtts://), got %s",
                              cfg_describe(node_of(sec, "uri"), buf));
    }
    if ((rc = client_id(c, root, sec, err)) < 0)
        return rc;
    if ((rc = cfg_get_string(sec, "username", NULL, &c->pub.mqtt.username, err)) < 0)
        return rc;
    if ((rc = cfg_get_string(sec, "password_file", NULL, &c->pub.mqtt.password_file, err)) < 0)
        return rc;
    if (c->pub.mqtt.password_file && !c->pub.mqtt.password_file[0])
        return cfg_node_error(node_of(sec, "password_file"), err,
                              "password_file must not be empty");
    return cfg_get_duration(sec, "keepalive", SEC, HOUR, 30 * SEC, &c->pub.mqtt.keepalive_ms, err);
}

/* How readings are published. */
static int load_publish(cfg_t *cfg, const cfg_node_t *sec, cfg_error_t *err)
{
    const char *problem;
    int64_t v;
    int rc;

    if ((rc = cfg_get_int(sec, "qos", 0, 2, 1, &v, err)) < 0)
        return rc;
    cfg->mqtt.qos = (int)v;
    if ((rc = cfg_get_bool(sec, "retain", false, &cfg->mqtt.retain, err)) < 0)
        return rc;
    if ((rc = cfg_get_string(sec, "topic", DEFAULT_TOPIC, &cfg->mqtt.topic, err)) < 0)
        return rc;
    problem = gw_topic_check(cfg->mqtt.topic);
    if (problem) {
        char buf[CFG_SHOW_CAP];

        return cfg_node_error(node_of(sec, "topic"), err, "topic %s is invalid: %s",
                              cfg_describe(node_of(sec, "topic"), buf), problem);
    }
    if ((rc = cfg_get_int(sec, "max_inflight", 1, 65535, 64, &v, err)) < 0)
        return rc;
    cfg->mqtt.max_inflight = (size_t)v;
    return 0;
}

static int load_reconnect(cfg_t *cfg, const cfg_node_t *sec, cfg_error_t *err)
{
    uint64_t *lo = &cfg->mqtt.reconnect_min_ms, *hi = &cfg->mqtt.reconnect_max_ms;
    const char *lo_text = "250ms", *hi_text = "10s";
    int rc;

    if ((rc = cfg_get_duration(sec, "reconnect_min", 1, HOUR, 250, lo, err)) < 0)
        return rc;
    if ((rc = cfg_get_duration(sec, "reconnect_max", 1, HOUR, 10 * SEC, hi, err)) < 0)
        return rc;
    if (*hi >= *lo)
        return 0;
    /* Both parsed, so both are strings; blame the one the user wrote (the
     * defaults are in order), preferring reconnect_max. */
    if (cfg_has(sec, "reconnect_min"))
        cfg_node_string(node_of(sec, "reconnect_min"), &lo_text, NULL);
    if (!cfg_has(sec, "reconnect_max"))
        return cfg_node_error(node_of(sec, "reconnect_min"), err,
                              "reconnect_min must be at most reconnect_max (%s), got %s", hi_text,
                              lo_text);
    cfg_node_string(node_of(sec, "reconnect_max"), &hi_text, NULL);
    return cfg_node_error(node_of(sec, "reconnect_max"), err,
                          "reconnect_max must be at least reconnect_min (%s), got %s", lo_text,
                          hi_text);
}

static int load_mqtt(cfg_impl_t *c, const cfg_node_t *root, cfg_error_t *err)
{
    const cfg_node_t *sec;
    int rc;

    if ((rc = section(root, "mqtt", mqtt_keys, &sec, err)) < 0)
        return rc;
    if ((rc = load_connection(c, root, sec, err)) < 0)
        return rc;
    if ((rc = load_publish(&c->pub, sec, err)) < 0)
        return rc;
    if ((rc = load_reconnect(&c->pub, sec, err)) < 0)
        return rc;
    return cfg_load_mqtt_extra(&c->pub, sec, err);
}

static int load_outbox(cfg_t *cfg, const cfg_node_t *root, cfg_error_t *err)
{
    const cfg_node_t *sec;
    int64_t cap;
    uint64_t bytes;
    int overflow = GW_OVERFLOW_DROP_OLDEST, rc;

    if ((rc = section(root, "outbox", outbox_keys, &sec, err)) < 0)
        return rc;
    if ((rc = cfg_get_int(sec, "capacity", 1, 10000000, 10000, &cap, err)) < 0)
        return rc;
    if ((rc = cfg_get_size(sec, "max_bytes", 1024, 1024 * 1024 * 1024, 8 * 1024 * 1024, &bytes,
                           err)) < 0)
        return rc;
    if ((rc = cfg_get_enum(sec, "overflow", overflows, GW_OVERFLOW_DROP_OLDEST, &overflow, err)) <
        0)
        return rc;
    cfg->outbox.capacity = (size_t)cap;
    cfg->outbox.max_bytes = (size_t)bytes;
    cfg->outbox.overflow = (gw_overflow_t)overflow;
    return cfg_load_spool(cfg, sec, err);
}

static int load_adapter(const cfg_node_t *n, cfg_adapter_t *a, cfg_error_t *err)
{
    char buf[CFG_SHOW_CAP];
    const char *problem;
    int64_t qos;
    bool retain;
    int rc;

    if (cfg_node_kind(n) != CFG_MAPPING)
        return cfg_node_error(n, err, "each adapter must be a mapping, got %s",
                              cfg_describe(n, buf));
    a->node = n;
    a->qos = -1;
    a->retain = -1;
    if ((rc = required_string(n, "adapter", "name", &a->name, err)) < 0)
        return rc;
    problem = gw_topic_level_check(a->name);
    if (problem)
        return cfg_node_error(node_of(n, "name"), err, "adapter name %s is invalid: %s",
                              cfg_describe(node_of(n, "name"), buf), problem);
    if ((rc = required_string(n, "adapter", "type", &a->type, err)) < 0)
        return rc;
    if (cfg_has(n, "qos")) {
        if ((rc = cfg_get_int(n, "qos", 0, 2, 0, &qos, err)) < 0)
            return rc;
        a->qos = (int)qos;
    }
    if (cfg_has(n, "retain")) {
        if ((rc = cfg_get_bool(n, "retain", false, &retain, err)) < 0)
            return rc;
        a->retain = retain;
    }
    return cfg_load_adapter_publish(a, err);
}

static int check_names(const cfg_t *cfg, cfg_error_t *err)
{
    cfg_dup_item_t *items = calloc(cfg->n_adapters, sizeof(*items));
    const cfg_node_t *n;
    char buf[CFG_SHOW_CAP];
    size_t i, dup, first;
    bool found;

    if (!items)
        return -ENOMEM;
    for (i = 0; i < cfg->n_adapters; i++) {
        items[i].s = cfg->adapters[i].name;
        items[i].len = strlen(cfg->adapters[i].name);
        items[i].idx = i;
    }
    found = cfg_find_dup(items, cfg->n_adapters, &dup, &first);
    free(items);
    if (!found)
        return 0;
    n = node_of(cfg->adapters[dup].node, "name");
    return cfg_node_error(n, err, "duplicate adapter name %s (first defined at line %d)",
                          cfg_describe(n, buf),
                          cfg_node_line(node_of(cfg->adapters[first].node, "name")));
}

static int load_adapters(cfg_t *cfg, const cfg_node_t *root, cfg_error_t *err)
{
    const cfg_node_t *seq = cfg_get_node(root, "adapters");
    size_t i, n;

    if (!seq)
        return cfg_node_error(root, err,
                              "the top-level mapping is missing required key 'adapters'");
    if (cfg_node_kind(seq) != CFG_SEQUENCE) {
        char buf[CFG_SHOW_CAP];

        return cfg_node_error(seq, err, "adapters: expected a sequence, got %s",
                              cfg_describe(seq, buf));
    }
    n = cfg_seq_len(seq);
    if (n == 0)
        return cfg_node_error(seq, err, "adapters must list at least one adapter");
    cfg->adapters = calloc(n, sizeof(*cfg->adapters));
    if (!cfg->adapters)
        return -ENOMEM;
    cfg->n_adapters = n;
    for (i = 0; i < n; i++) {
        int rc = load_adapter(cfg_seq_at(seq, i), &cfg->adapters[i], err);

        if (rc == 0)
            rc = cfg_load_adapter_ha(cfg, &cfg->adapters[i], err);
        if (rc < 0)
            return rc;
    }
    return check_names(cfg, err);
}

static int load_common(cfg_impl_t *c, cfg_error_t *err)
{
    const cfg_node_t *root = cfg_doc_root(&c->doc);
    int rc;

    if (!root)
        return cfg_error_at(err, c->path, 1, 1,
                            "empty document, expected a mapping with an 'adapters' key");
    if (cfg_node_is_empty(root))
        return cfg_node_error(root, err,
                              "empty document, expected a mapping with an 'adapters' key");
    if (cfg_node_kind(root) != CFG_MAPPING) {
        char buf[CFG_SHOW_CAP];

        return cfg_node_error(root, err, "the top level must be a mapping, got %s",
                              cfg_describe(root, buf));
    }
    if ((rc = cfg_check_keys(root, top_keys, "the top-level mapping", err)) < 0)
        return rc;
    if ((rc = load_gateway(c, root, err)) < 0)
        return rc;
    if ((rc = load_mqtt(c, root, err)) < 0)
        return rc;
    if ((rc = load_outbox(&c->pub, root, err)) < 0)
        return rc;
    if ((rc = cfg_load_commands(&c->pub, root, err)) < 0)
        return rc;
    if ((rc = cfg_load_publish(&c->pub, root, err)) < 0 ||
        (rc = cfg_load_homeassistant(&c->pub, root, err)) < 0)
        return rc;
    return load_adapters(&c->pub, root, err);
}

int cfg_load_string(const char *name, const char *yaml, size_t len, cfg_t **out, cfg_error_t *err)
{
    cfg_impl_t *c = calloc(1, sizeof(*c));
    int rc = -ENOMEM;

    *out = NULL;
    if (!c || !(c->path = strdup(name)))
        goto fail;
    c->pub.path = c->path;
    c->doc.path = c->path;
    c->doc.strings = &c->strings;
    rc = cfg_doc_load(&c->doc, yaml, len, err);
    if (rc == 0)
        rc = load_common(c, err);
    if (rc < 0)
        goto fail;
    *out = &c->pub;
    return 0;

fail:
    if (rc == -ENOMEM)
        cfg_error_at(err, name, 1, 1, "out of memory");
    cfg_free(c ? &c->pub : NULL);
    return rc;
}

/* The whole file in one buffer; 0 or -errno (-EFBIG past MAX_FILE_BYTES). */
static int read_all(int fd, char **out, size_t *len)
{
    char *buf = NULL, *nb;
    size_t cap = 0, n = 0;

    for (;;) {
        ssize_t r;

        if (n == cap) {
            if (cap >= MAX_FILE_BYTES) {
                free(buf);
                return -EFBIG;
            }
            cap = cap ? cap * 2 : 4096;
            nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return -errno;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int read_file(const char *path, char **out, size_t *len)
{
    struct stat st;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0)
        rc = -errno;
    else if (S_ISDIR(st.st_mode))
        rc = -EISDIR;
    else
        rc = read_all(fd, out, len);
    close(fd);
    return rc;
}

/* A file that cannot be read is a configuration error at 1:1 (errno is left
 * set, so a caller can tell ENOENT from the rest). */
int cfg_load_file(const char *path, cfg_t **out, cfg_error_t *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = read_file(path, &text, &len);
    if (rc < 0) {
        cfg_error_at(err, path, 1, 1, "cannot read config file: %s", strerror(-rc));
        errno = -rc;
        return rc == -ENOMEM ? -ENOMEM : -GW_ECONFIG;
    }
    rc = cfg_load_string(path, text ? text : "", len, out, err);
    free(text);
    return rc;
}

void cfg_release_doc(cfg_t *cfg)
{
    cfg_impl_t *c = (cfg_impl_t *)cfg;

    cfg_doc_free(&c->doc);
    for (size_t i = 0; i < cfg->n_adapters; i++)
        cfg->adapters[i].node = NULL;
    cfg_publish_forget_nodes(cfg);
}

void cfg_free(cfg_t *cfg)
{
    cfg_impl_t *c = (cfg_impl_t *)cfg;

    if (!c)
        return;
    cfg_doc_free(&c->doc);
    cfg_strings_free(&c->strings);
    for (size_t i = 0; c->pub.adapters && i < c->pub.n_adapters; i++)
        cfg_publish_free(&c->pub.adapters[i]);
    free(c->pub.adapters);
    free(c->pub.publish_text);
    free(c->path);
    free(c->host_id);
    free(c->client_id);
    free(c);
}

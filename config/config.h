/*
 * Configuration: one YAML file parsed with libyaml (its event API) into typed structs.
 *
 * config/ knows YAML and the common sections (gateway, mqtt, outbox and the
 * name/type/qos/retain of each adapter), never an adapter's own keys. Each
 * adapter reads its own mapping through the typed accessors below; every key
 * an accessor reads is marked as consumed, and cfg_check_unknown() afterwards
 * reports the first key nobody consumed.
 *
 * Every error carries the file, line and column (1-based) of the node at
 * fault and formats as "FILE:LINE:COLUMN: message".
 *
 * Strings returned by accessors live as long as the cfg_t. Loop thread only.
 */
#ifndef CFG_CONFIG_H
#define CFG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/log.h"
#include "gateway/outbox.h"

#define CFG_DEFAULT_PATH "/etc/sensorbridge/sensorbridge.yaml"

typedef struct {
    char file[256];
    int line;   /* 1-based */
    int column; /* 1-based */
    char msg[256];
    char text[600]; /* "FILE:LINE:COLUMN: msg" */
} cfg_error_t;

typedef struct cfg_node cfg_node_t;

typedef enum { CFG_SCALAR, CFG_SEQUENCE, CFG_MAPPING } cfg_kind_t;

/* The publishing stage's settings (the `publish` mapping of the top level,
 * of an adapter and of one of its points): which keys were given, so a
 * narrower mapping overrides only those. */
enum {
    CFG_PUB_DEADBAND = 1u << 0,
    CFG_PUB_ON_CHANGE = 1u << 1,
    CFG_PUB_MAX_INTERVAL = 1u << 2,
    CFG_PUB_WINDOW = 1u << 3,
    CFG_PUB_PAYLOAD = 1u << 4,
    CFG_PUB_DEVICE_TOPIC = 1u << 5,
};

typedef enum { CFG_DEADBAND_ABSOLUTE, CFG_DEADBAND_PERCENT } cfg_deadband_kind_t;

/* Window functions, in the order a summary lists them when asked for. */
typedef enum {
    CFG_WFN_MIN,
    CFG_WFN_MAX,
    CFG_WFN_MEAN,
    CFG_WFN_LAST,
    CFG_WFN_COUNT,
    CFG_WFN_N
} cfg_window_fn_t;

typedef struct {
    unsigned set; /* CFG_PUB_* of the keys present */
    unsigned own; /* resolved settings: those the point's own entry gave */
    double deadband;
    cfg_deadband_kind_t deadband_kind;
    bool on_change;
    uint64_t max_interval_ms; /* 0: no heartbeat */
    uint64_t window_ms;       /* 0: no window */
    uint8_t fns[CFG_WFN_N];   /* window functions in the order given */
    uint8_t n_fns;
    bool per_device;          /* payload: per_device (gateway and adapter only) */
    const char *device_topic; /* template of per-device messages' topic */
    /* Where the deadband and window were given, for errors found while the
     * adapters are created (NULL after cfg_release_doc()). */
    const cfg_node_t *deadband_node;
    const cfg_node_t *window_node;
} cfg_publish_t;

typedef struct {
    const char *name;       /* the sensor (point) name */
    const cfg_node_t *node; /* its name's node, as above */
    cfg_publish_t pub;
} cfg_publish_point_t;

/* Home Assistant discovery: what one point's entry of an adapter's
 * `homeassistant.points` says (NULL: derived from the unit). */
typedef struct {
    const char *name;
    const char *device_class;
    const char *state_class;
} cfg_ha_point_t;

typedef struct {
    const char *name;
    const char *type;
    struct {
        bool enabled;             /* default: the gateway's homeassistant.enabled */
        const char *manufacturer; /* NULL: none */
        const char *model;        /* NULL: the adapter's type */
        cfg_ha_point_t *points;
        size_t n_points;
    } ha;
    cfg_publish_t publish;       /* the adapter's `publish` mapping */
    cfg_publish_point_t *points; /* its `publish.points` list */
    size_t n_points;
    int qos;                /* -1: inherit mqtt.qos */
    int retain;             /* -1: inherit mqtt.retain, else 0/1 */
    const cfg_node_t *node; /* the adapter's mapping; name/type/qos/retain consumed;
                               NULL after cfg_release_doc() */
} cfg_adapter_t;

typedef struct {
    struct {
        const char *id; /* default: the host name */
        gw_log_level_t log_level;
        uint64_t shutdown_timeout_ms;
        uint64_t stats_interval_ms; /* 0: no stats messages */
    } gateway;
    struct {
        const char *uri;
        const char *client_id;     /* default: "sensorbridge-<id>" */
        const char *username;      /* NULL: none */
        const char *password_file; /* NULL: none */
        uint64_t keepalive_ms;
        int qos;
        bool retain;
        const char *topic;
        size_t max_inflight;
        uint64_t reconnect_min_ms;
        uint64_t reconnect_max_ms;
        int version; /* 4 (MQTT 3.1.1) or 5 */
        struct {
            bool enabled;          /* ssl:// or mqtts:// */
            const char *ca_file;   /* NULL: the system's CA store */
            const char *cert_file; /* client certificate, NULL: none */
            const char *key_file;  /* its key, NULL: in cert_file or none */
            bool verify;           /* server certificate and host name */
        } tls;
    } mqtt;
    struct {
        size_t capacity;
        size_t max_bytes;
        gw_overflow_t overflow;
        struct {
            bool enabled;
            const char *dir;
            uint64_t max_bytes;
            int sync; /* gw_spool_sync_t */
            uint64_t sync_interval_ms;
        } spool;
    } outbox;
    struct {
        const char *topic;    /* template of a writable point's command topic */
        bool accept_retained; /* act on retained commands (default: ignore them) */
        uint64_t max_age_ms;  /* refuse commands whose "ts" is older; 0: no limit */
    } commands;
    struct {
        bool enabled;       /* Home Assistant MQTT discovery */
        const char *prefix; /* default "homeassistant" */
    } homeassistant;
    cfg_publish_t publish; /* the top-level `publish` mapping */
    char *publish_text;    /* its canonical text (reload fingerprint), "" when absent */
    cfg_adapter_t *adapters;
    size_t n_adapters;
    const char *path; /* the file name used in messages */
} cfg_t;

/* The settings that apply to one point: the gateway's, overridden by the
 * adapter's, overridden by the point's own (the narrower one wins). */
void cfg_publish_resolve(const cfg_t *cfg, const cfg_adapter_t *a, const char *sensor,
                         cfg_publish_t *out);

/* Loads and validates the common sections of a file. On error returns
 * -GW_ECONFIG (or -ENOMEM) and fills err. The caller frees *out with
 * cfg_free(). A file that cannot be read is reported at 1:1, with errno
 * left set (ENOENT, EACCES, ...). */
int cfg_load_file(const char *path, cfg_t **out, cfg_error_t *err);

/* The same from a string; name stands for the file name in messages. */
int cfg_load_string(const char *name, const char *yaml, size_t len, cfg_t **out, cfg_error_t *err);

/* NULL-safe. */
void cfg_free(cfg_t *cfg);

/* Frees the YAML tree once everything has been read from it (the
 * adapters created, unknown keys checked): every node becomes invalid and
 * adapters[i].node NULL; the values read, strings included, stay valid until
 * cfg_free(). */
void cfg_release_doc(cfg_t *cfg);

/* The built-in configuration used when no file exists: 4 simulated sensors
 * TEMP_00..TEMP_03 publishing to tcp://127.0.0.1:1883. */
extern const char cfg_builtin_default[];

/* --- typed accessors for a mapping node ------------------------------------
 * Each returns 0 and stores the value (or the default when the key is absent),
 * or -GW_ECONFIG with err filled in (position of the offending value). Ranges
 * are inclusive. A NULL map reads as an empty mapping (every default). err
 * may be NULL. */
int cfg_get_string(const cfg_node_t *map, const char *key, const char *def, const char **out,
                   cfg_error_t *err);
int cfg_get_int(const cfg_node_t *map, const char *key, int64_t min, int64_t max, int64_t def,
                int64_t *out, cfg_error_t *err);
int cfg_get_double(const cfg_node_t *map, const char *key, double min, double max, double def,
                   double *out, cfg_error_t *err);
int cfg_get_bool(const cfg_node_t *map, const char *key, bool def, bool *out, cfg_error_t *err);
/* Durations: "250ms", "5s", "2m", "1h" (an integer and a unit). */
int cfg_get_duration(const cfg_node_t *map, const char *key, uint64_t min_ms, uint64_t max_ms,
                     uint64_t def_ms, uint64_t *out_ms, cfg_error_t *err);
/* Sizes: "4096", "64KiB", "8MiB", "1GiB". */
int cfg_get_size(const cfg_node_t *map, const char *key, uint64_t min, uint64_t max, uint64_t def,
                 uint64_t *out, cfg_error_t *err);
/* names is NULL-terminated; *out is the index of the matching name. */
int cfg_get_enum(const cfg_node_t *map, const char *key, const char *const *names, int def,
                 int *out, cfg_error_t *err);

/* Whether the key is present (does not consume it). */
bool cfg_has(const cfg_node_t *map, const char *key);
/* The value node of a key, consumed; NULL when absent. */
const cfg_node_t *cfg_get_node(const cfg_node_t *map, const char *key);

/* Node-level access, for lists and values whose type varies. */
cfg_kind_t cfg_node_kind(const cfg_node_t *node);
size_t cfg_seq_len(const cfg_node_t *seq);
const cfg_node_t *cfg_seq_at(const cfg_node_t *seq, size_t i);
int cfg_node_string(const cfg_node_t *node, const char **out, cfg_error_t *err);
int cfg_node_int(const cfg_node_t *node, int64_t min, int64_t max, int64_t *out, cfg_error_t *err);

/* Fills err with the node's position and a printf-style message; returns
 * -GW_ECONFIG so it can be returned directly. */
int cfg_node_error(const cfg_node_t *node, cfg_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports the first key of the mapping that no accessor consumed:
 * "unknown key 'x' in adapter 'sim'" style, via the context string. */
int cfg_check_unknown(const cfg_node_t *map, const char *context, cfg_error_t *err);

/* A canonical text of the subtree at node (malloc'd, caller frees; NULL on
 * ENOMEM): equal texts mean equal configurations. Used on reload to keep
 * adapters whose configuration did not change. */
char *cfg_node_dump(const cfg_node_t *node);

#endif

/*
 * Configuration of the raw TCP adapter.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/raw_tcp.h"
#include "gateway/error.h"

static const char *const mode_names[] = {"client", "server", NULL};
static const char *const format_names[] = {"json", "csv", "kv", NULL};
static const char *const phase_names[] = {"random", "aligned", NULL};

static int read_fields(rtcp_t *r, const cfg_node_t *n, cfg_error_t *err)
{
    const cfg_node_t *f = cfg_get_node(n, "fields");
    int rc;

    if (!f)
        return 0;
    if (cfg_node_kind(f) != CFG_MAPPING)
        return cfg_node_error(f, err, "fields: expected a mapping");
    if ((rc = cfg_get_string(f, "sensor", "sensor", &r->lp_opts.sensor_key, err)) ||
        (rc = cfg_get_string(f, "value", "value", &r->lp_opts.value_key, err)) ||
        (rc = cfg_get_string(f, "unit", "unit", &r->lp_opts.unit_key, err)) ||
        (rc = cfg_get_string(f, "ts", "ts", &r->lp_opts.ts_key, err)))
        return rc;
    return cfg_check_unknown(f, "fields", err);
}

static int read_columns(rtcp_t *r, const cfg_node_t *n, cfg_error_t *err)
{
    const cfg_node_t *c = cfg_get_node(n, "columns");
    int rc;

    if (!c) {
        if (r->lp_opts.format == LP_FORMAT_CSV)
            return cfg_node_error(n, err, "format csv needs columns, e.g. [sensor, value, unit]");
        return 0;
    }
    if (cfg_node_kind(c) != CFG_SEQUENCE || cfg_seq_len(c) == 0 || cfg_seq_len(c) > LP_MAX_COLUMNS)
        return cfg_node_error(c, err, "columns must list between 1 and %d column roles",
                              LP_MAX_COLUMNS);
    r->lp_opts.ncolumns = cfg_seq_len(c);
    for (size_t i = 0; i < r->lp_opts.ncolumns; i++) {
        const cfg_node_t *item = cfg_seq_at(c, i);
        const char *name;
        int role;

        if ((rc = cfg_node_string(item, &name, err)))
            return rc;
        if ((role = lp_role_parse(name)) < 0)
            return cfg_node_error(
                item, err, "column must be one of sensor, value, unit, ts, _, got '%s'", name);
        r->lp_opts.columns[i] = (lp_role_t)role;
    }
    return 0;
}

static int read_parser_keys(rtcp_t *r, const cfg_node_t *n, cfg_error_t *err)
{
    const char *sep = ",";
    uint64_t max_line;
    int format, rc;

    lp_options_init(&r->lp_opts);
    if ((rc = cfg_get_enum(n, "format", format_names, LP_FORMAT_JSON, &format, err)))
        return rc;
    r->lp_opts.format = (lp_format_t)format;
    if ((rc = read_fields(r, n, err)) || (rc = read_columns(r, n, err)) ||
        (rc = cfg_get_string(n, "separator", ",", &sep, err)) ||
        (rc = cfg_get_string(n, "delimiter", "\n", &r->lp_opts.delimiter, err)) ||
        (rc = cfg_get_size(n, "max_line", 16, LP_MAX_LINE_LIMIT, LP_DEFAULT_MAX_LINE, &max_line,
                           err)) ||
        (rc = cfg_get_string(n, "unit", NULL, &r->lp_opts.default_unit, err)) ||
        (rc = cfg_get_string(n, "sensor_prefix", NULL, &r->lp_opts.sensor_prefix, err)))
        return rc;
    if (strlen(sep) != 1)
        return cfg_node_error(cfg_get_node(n, "separator"), err,
                              "separator must be one character, got '%s'", sep);
    r->lp_opts.separator = sep[0];
    r->lp_opts.max_line = (size_t)max_line;
    return 0;
}

static int read_mode_keys(rtcp_t *r, const cfg_node_t *n, cfg_error_t *err)
{
    int64_t max_clients, max_sensors;
    int phase, rc;

    if ((rc = cfg_get_string(n, "request", NULL, &r->request, err)) ||
        (rc = cfg_get_enum(n, "phase", phase_names, 0, &phase, err)) ||
        (rc = cfg_get_duration(n, "interval", 1, 86400000, 1000, &r->interval_ms, err)) ||
        (rc = cfg_get_duration(n, "connect_timeout", 1, 600000, 2000, &r->connect_timeout_ms,
                               err)) ||
        (rc = cfg_get_duration(n, "backoff_min", 1, 3600000, 250, &r->backoff_min_ms, err)) ||
        (rc = cfg_get_duration(n, "backoff_max", 1, 3600000, 30000, &r->backoff_max_ms, err)) ||
        (rc = cfg_get_int(n, "max_clients", 1, 10000, 64, &max_clients, err)) ||
        (rc = cfg_get_duration(n, "idle_timeout", 1, 86400000, 300000, &r->idle_timeout_ms, err)) ||
        (rc = cfg_get_int(n, "max_sensors", 1, 100000, 1024, &max_sensors, err)))
        return rc;
    if (r->server && r->request)
        return cfg_node_error(cfg_get_node(n, "request"), err,
                              "request applies only to mode client");
    if (!r->request && cfg_has(n, "phase"))
        return cfg_node_error(cfg_get_node(n, "phase"), err,
                              "phase applies only to a device polled with a request");
    if (r->backoff_max_ms < r->backoff_min_ms)
        return cfg_node_error(n, err, "backoff_max must be at least backoff_min");
    r->aligned = phase == 1;
    r->request_len = r->request ? strlen(r->request) : 0;
    r->max_clients = (size_t)max_clients;
    r->max_sensors = (size_t)max_sensors;
    return 0;
}

/* The sensors named by `writable`: valid topic levels, each once. */
static int read_writable(rtcp_t *r, const cfg_node_t *w, cfg_error_t *err)
{
    size_t n = cfg_node_kind(w) == CFG_SEQUENCE ? cfg_seq_len(w) : 0;
    int rc;

    if (n == 0)
        return cfg_node_error(w, err, "writable must list the sensors that take commands");
    if (n > r->max_sensors)
        return cfg_node_error(w, err, "writable lists %zu sensors, more than max_sensors (%zu)", n,
                              r->max_sensors);
    if (!(r->writables = calloc(n, sizeof(*r->writables))))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const cfg_node_t *item = cfg_seq_at(w, i);
        const char *name, *why;

        if ((rc = cfg_node_string(item, &name, err)))
            return rc;
        if ((why = gw_topic_level_check(name)) != NULL)
            return cfg_node_error(item, err, "writable sensor '%s': %s", name, why);
        if (strlen(name) > LP_MAX_NAME)
            return cfg_node_error(item, err, "writable sensor name longer than %d bytes",
                                  LP_MAX_NAME);
        for (size_t k = 0; k < i; k++)
            if (strcmp(r->writables[k].name, name) == 0)
                return cfg_node_error(item, err, "writable sensor '%s' is listed twice", name);
        r->writables[r->n_writables++].name = name;
    }
    return 0;
}

/* `command` and `writable` come together: a line device's readings name
 * their sensors on the wire, so which of them take commands is configured. */
static int read_command_keys(rtcp_t *r, const cfg_node_t *n, cfg_error_t *err)
{
    const cfg_node_t *cmd, *w;
    const char *why;
    size_t at;
    int rc;

    if ((rc = cfg_get_string(n, "command", NULL, &r->command, err)))
        return rc;
    cmd = cfg_get_node(n, "command");
    w = cfg_get_node(n, "writable");
    if (!r->command) {
        if (w)
            return cfg_node_error(w, err, "writable needs command, the line that writes a sensor");
        return 0;
    }
    if (!w)
        return cfg_node_error(cmd, err, "command needs writable, the sensors that take commands");
    if ((why = rtcp_command_check(r->command, &at)) != NULL) {
        const char *end = strchr(r->command + at, '}');
        int len = end ? (int)(end - (r->command + at)) + 1 : 0;

        if (len)
            return cfg_node_error(cmd, err, "command: %s '%.*s' (known: {sensor}, {value})", why,
                                  len, r->command + at);
        return cfg_node_error(cmd, err, "command: %s", why);
    }
    return read_writable(r, w, err);
}

int rtcp_read_config(rtcp_t *r, const cfg_adapter_t *cfg, cfg_error_t *err)
{
    const cfg_node_t *n = cfg->node;
    const char *why;
    int64_t port;
    int mode, rc;

    if ((rc = cfg_get_enum(n, "mode", mode_names, 0, &mode, err)) ||
        (rc = cfg_get_string(n, "host", NULL, &r->host, err)) ||
        (rc = cfg_get_int(n, "port", 1, 65535, 0, &port, err)))
        return rc;
    r->server = mode == 1;
    if (!r->host)
        return cfg_node_error(n, err, "adapter '%s' is missing required key 'host'", cfg->name);
    if (!cfg_has(n, "port"))
        return cfg_node_error(n, err, "adapter '%s' is missing required key 'port'", cfg->name);
    r->port = (uint16_t)port;
    if ((rc = read_mode_keys(r, n, err)) || (rc = read_parser_keys(r, n, err)) ||
        (rc = read_command_keys(r, n, err)))
        return rc;
    if ((why = lp_options_check(&r->lp_opts)) != NULL)
        return cfg_node_error(n, err, "adapter '%s': %s", cfg->name, why);
    return lp_parser_new(&r->lp_opts, &r->parser) == 0 ? 0 : -ENOMEM;
}

/*
 * The gateway: owns the loop, the outbox, the publisher and the adapters,
 * starts them in dependency order and stops them in reverse.
 *
 * It also decides when to stop: on SIGTERM/SIGINT (stop the adapters, deliver
 * what can be delivered within gateway.shutdown_timeout), and when every
 * adapter is finite and done (drain the outbox, wait for every confirmation).
 */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include "config/config.h"
#include "gateway/store.h"

typedef struct gw_gateway gw_gateway_t;

/*
 * Creates the adapters from the configuration, which the gateway owns from
 * then on (even on failure). With check_only, nothing else is created
 * (--check-config). Returns 0, or -GW_ECONFIG with err filled, or another
 * negative errno.
 */
int gw_gateway_new(cfg_t *cfg, bool check_only, gw_gateway_t **out, cfg_error_t *err);

/* The configuration in force. */
const cfg_t *gw_gateway_config(const gw_gateway_t *gw);

/*
 * Runs until stopped. source is the configuration file that SIGHUP reloads
 * (NULL: the built-in default, which reloads to itself). Reads
 * mqtt.password_file. Returns the process exit code.
 */
int gw_gateway_run(gw_gateway_t *gw, const char *source);

/* sensorbridge --test */
typedef struct {
    const char *const *adapters; /* the adapters to run; none: all */
    size_t n_adapters;
    uint64_t seconds_ms; /* how long devices that send on their own are heard */
    bool json;           /* JSON lines as they would be published, not a table */
} gw_probe_opts_t;

/*
 * Runs the adapters without a broker: each that can reads every point once,
 * the others are listened to for seconds_ms; the run is bounded by that plus
 * the longest connect and response timeouts. Prints the readings to stdout
 * (a table, or JSON lines) and a one-line summary. Returns the exit code: 0
 * when every point read good, 1 otherwise, 2 for an unknown adapter name.
 */
int gw_gateway_test(gw_gateway_t *gw, const gw_probe_opts_t *o);

/* The first line of mqtt.password_file (NULL when none is configured) into
 * *out (malloc'd). 0, or -errno after logging why. */
int gw_read_password(const cfg_t *cfg, char **out);

/* The store's counters at the end of the run (all zero before). */
void gw_gateway_stats(const gw_gateway_t *gw, gw_store_stats_t *out);

/* NULL-safe. */
void gw_gateway_free(gw_gateway_t *gw);

#endif

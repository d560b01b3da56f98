/*
 * The adapter interface and registry.
 *
 * An adapter instance is one configured device (or, for the simulated
 * adapter, one group of sensors). It owns its sockets and timers, registers
 * them with the loop it gets from its context, and reports readings through
 * gw_ctx_emit(); it never touches the outbox or MQTT directly.
 *
 * Lifecycle, all on the loop thread:
 *   create()  reads the adapter's own keys from its config mapping (unknown
 *             keys are reported by the caller afterwards); no I/O, no timers,
 *             so `sensorbridge --check-config` can run it too.
 *   start()   registers timers and fds; non-blocking.
 *   stop()    idempotent: cancels timers, closes fds.
 *   destroy() NULL-safe, after stop().
 *   resume()  optional: the outbox drained after asking producers to pause
 *             (overflow: block); the adapter reschedules the reads it held.
 *
 * Under `sensorbridge --test` (gw_ctx_once() true) an adapter with .once set
 * reads every point once at start, reports each one (bad with the cause when
 * the device cannot be reached or does not answer within its timeout) and
 * calls gw_ctx_done(). Adapters without .once (devices that send on their
 * own) run as usual for the test's --seconds.
 *
 * Adding a protocol means one new file here and one line in registry.c.
 */
#ifndef ADP_ADAPTER_H
#define ADP_ADAPTER_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "gateway/loop.h"
#include "gateway/reading.h"

/* The gateway side of one adapter instance; owned by the gateway. */
typedef struct gw_ctx gw_ctx_t;

/* A command that writes one point (gateway/commands.c); see write() below. */
typedef struct gw_command gw_command_t;

/* What an adapter reports for the stats message and the exit summary. */
typedef struct {
    uint64_t reads_ok;     /* successful reads (or readings) */
    uint64_t reads_failed; /* failed reads (or rejected lines) */
    uint64_t reconnects;
} adp_stats_t;

typedef struct adp_ops {
    const char *kind;    /* the `type:` in the config, e.g. "simulated" */
    bool once;           /* supports reading every point once (--test) */
    bool reports_status; /* publishes its own availability (gw_ctx_status) */
    int (*create)(const cfg_adapter_t *cfg, gw_ctx_t *ctx, void **self, cfg_error_t *err);
    int (*start)(void *self);
    void (*stop)(void *self);
    void (*destroy)(void *self);
    void (*resume)(void *self); /* may be NULL */
    void (*stats)(const void *self, adp_stats_t *out);
    /* --test: how long reading every point once may take at most (connect
     * and response timeouts); NULL: no wait beyond --seconds. */
    uint64_t (*longest_wait_ms)(const void *self);
    /* Write-back, both NULL when the adapter has nothing writable.
     * writable() names its i-th writable point (NULL past the last); the
     * name lives as long as the adapter. write() takes a command for that
     * point and answers it exactly once, at once or later, with
     * gw_command_done(), _fail() or _refuse(); stop() answers every command
     * still held. */
    const char *(*writable)(const void *self, size_t i);
    void (*write)(void *self, size_t i, gw_command_t *cmd);
} adp_ops_t;

/* The registered adapter kinds, or NULL for an unknown kind. */
const adp_ops_t *adp_find(const char *kind);

/* "simulated, modbus_tcp, ..." for error messages. */
const char *adp_kinds(void);

/* --- what the gateway offers an adapter (implemented in gateway/) --- */

/* The loop to register timers and fds with; NULL while only checking config. */
gw_loop_t *gw_ctx_loop(gw_ctx_t *ctx);

/* The adapter's configured name. */
const char *gw_ctx_name(const gw_ctx_t *ctx);

/*
 * Publishes one reading: the gateway fills in the adapter name, renders the
 * topic and JSON payload and offers them to the outbox with the adapter's
 * QoS and retain flag. With `publish` settings the publishing stage
 * (gateway/publish.h) may hold it back, fold it into a window or a
 * per-device message instead. Returns 0 if queued (or held) or -ENOBUFS if
 * the outbox dropped it (already counted).
 */
int gw_ctx_emit(gw_ctx_t *ctx, gw_reading_t *r);

/* What an adapter knows of one of its points before any reading: the
 * publishing stage checks its settings against the value kind and Home
 * Assistant discovery describes the point from it. */
typedef struct {
    const char *name;     /* the sensor name its readings carry */
    gw_value_kind_t kind; /* GW_VALUE_NONE: not known in advance */
    const char *unit;     /* NULL: none */
    bool writable;        /* takes commands (docs/commands.md) */
    uint64_t interval_ms; /* how often it is read; 0: when the device sends */
    const char *device;   /* the device on a link with several, else NULL */
} gw_point_info_t;

/* Called from create() for each point. 0, -ENOMEM, or -GW_ECONFIG with err
 * at the offending `publish` setting (a deadband on a bool or string point,
 * a window on one). The gateway copies what it keeps. */
int gw_ctx_point(gw_ctx_t *ctx, const gw_point_info_t *pi, cfg_error_t *err);

/* Publishes the adapter's availability, retained at QoS 1, on
 * sensorbridge/{gateway}/{adapter}/status: "online" or "offline". */
int gw_ctx_status(gw_ctx_t *ctx, const char *state);

/* True while the outbox asks producers to pause (overflow: block). An adapter
 * checks it before sampling and waits for resume() instead. */
bool gw_ctx_blocked(const gw_ctx_t *ctx);

/* True under `sensorbridge --test`: read every point once, then gw_ctx_done(). */
bool gw_ctx_once(const gw_ctx_t *ctx);

/* The value a command asks to write (command_json.h); valid until the
 * command is answered. */
const struct cj_value *gw_command_value(const gw_command_t *cmd);
/* The answers to a command; each frees it. done: the device confirmed the
 * write. fail: the device was asked and the write failed or its outcome is
 * unknown (error: "timeout", an exception's name, ...). refuse: nothing was
 * sent to the device (error: "busy", "not connected", "out of range for
 * int16", ...). */
void gw_command_done(gw_command_t *cmd);
void gw_command_fail(gw_command_t *cmd, const char *error);
void gw_command_refuse(gw_command_t *cmd, const char *error);

/* A finite adapter calls this once when it has produced everything it ever
 * will; when every adapter is done the gateway drains the outbox and exits. */
void gw_ctx_done(gw_ctx_t *ctx);

#endif

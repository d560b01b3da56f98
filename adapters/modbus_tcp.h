/*
 * The Modbus TCP adapter's private types, shared by its configuration reader
 * (modbus_tcp_config.c) and its state machine (modbus_tcp.c).
 */
#ifndef ADP_MODBUS_TCP_H
#define ADP_MODBUS_TCP_H

#include <netdb.h>
#include <stdint.h>

#include "adapters/adapter.h"
#include "adapters/modbus_codec.h"
#include "adapters/modbus_point.h"
#include "adapters/net.h"

typedef struct {
    mb_point_t p;
    const char *name;
    const char *unit; /* NULL: none */
    int qos;          /* -1: the adapter's */
    int retain;       /* -1: the adapter's */
    bool writable;    /* commands may write it (coil or holding register) */
    uint64_t seq;
} mbt_point_t;

/* Which function writes registers: FC 6 for one register and FC 16 for
 * more (auto), or always one of them. */
typedef enum { MBT_WRITE_AUTO, MBT_WRITE_SINGLE, MBT_WRITE_MULTIPLE } mbt_write_fn_t;

typedef enum {
    MBT_IDLE,
    MBT_CONNECTING,
    MBT_READY,   /* connected, no request in flight */
    MBT_WAITING, /* one request in flight */
    MBT_BACKOFF,
} mbt_state_t;

typedef struct {
    uint64_t reads_ok;
    uint64_t reads_failed;
    uint64_t timeouts;
    uint64_t exceptions;
    uint64_t discarded; /* late or mismatched responses */
    uint64_t malformed; /* frames the codec rejected */
    uint64_t reconnects;
    uint64_t overruns;     /* cycles that outlasted their interval */
    uint64_t missed_ticks; /* ticks skipped because a cycle outlasted them */
    uint64_t paced_ticks;  /* ticks skipped while the outbox held the devices back */
} mbt_stats_t;

typedef struct {
    gw_ctx_t *ctx;
    /* configuration */
    const char *host;
    uint16_t port;
    uint8_t unit_id;
    uint64_t interval_ms;
    uint64_t timeout_ms;
    uint64_t connect_timeout_ms;
    uint64_t backoff_min_ms;
    uint64_t backoff_max_ms;
    uint16_t max_registers;
    uint16_t max_bits;
    uint16_t max_gap;
    mbt_point_t *points;
    size_t n_points;
    mbt_write_fn_t write_fn;
    unsigned max_pending_writes;
    mb_plan_t plan;
    /* connection */
    mbt_state_t state;
    int fd;
    gw_io_t io;
    gw_timer_t state_timer; /* response timeout (lazy, see send_batch) or backoff */
    gw_timer_t tick;        /* the polling schedule */
    uint64_t next_tick_ms;
    uint64_t deadline_ms; /* the response timeout of the request in flight */
    uint64_t backoff_ms;
    uint64_t rng;
    bool online;
    bool running;
    unsigned consecutive_timeouts;
    const char *last_error; /* why the device is not connected */
    adp_connector_t conn;   /* resolves and connects; owns the socket until connected */
    /* the cycle in progress */
    bool in_cycle;
    bool tick_missed; /* a tick came while the first connection was on its way */
    bool parked;      /* the outbox held a tick back: resume() re-arms it */
    bool once;        /* --test: one cycle, every point reported, then done */
    bool once_done;   /* --test: that cycle is over */
    char *device;     /* --test: "host:port unit N" for the table */
    size_t batch;
    mb_request_t req;
    uint16_t next_tid;
    uint8_t tx[MB_REQ_LEN];
    size_t tx_len, tx_off;
    mb_decoder_t dec;
    int64_t sample_ts_ms;
    mbt_stats_t stats;
} mbt_t;

/* Reads the adapter's keys (modbus_tcp_config.c). */
int mbt_read_config(mbt_t *m, const cfg_adapter_t *cfg, cfg_error_t *err);

#endif

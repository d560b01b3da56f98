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

/* What the request on the wire is. */
typedef enum {
    MBT_REQ_POLL,     /* a batch of the polling cycle */
    MBT_REQ_WRITE,    /* a command's write */
    MBT_REQ_RMW_READ, /* the register whose bit a command sets, read first */
    MBT_REQ_READBACK, /* a written point, read back at once */
} mbt_req_kind_t;

/* A command waiting for the link, its value already encoded. */
typedef struct {
    gw_command_t *cmd;
    size_t point; /* index into points */
    uint16_t regs[MB_MAX_WRITE_REGISTERS];
    bool bit;
} mbt_pending_t;

/* Write-back state (modbus_tcp_write.c), allocated at a device's first
 * command: a device that is never written pays nothing for it. */
typedef struct {
    mbt_pending_t *q; /* max_pending_writes, a ring */
    size_t head, len;
    mbt_pending_t cur; /* the command on the wire */
    bool has_cur;
    mb_write_t w; /* its request, to match the response */
    uint8_t tx[MB_MAX_ADU];
    bool readback; /* a written point to read back before polling on */
    size_t readback_point;
} mbt_wq_t;

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
    const uint8_t *tx_buf; /* tx, or the write queue's buffer */
    size_t tx_len, tx_off;
    mbt_req_kind_t req_kind;
    mbt_wq_t *wq;   /* write-back, NULL until the first command */
    bool cycle_due; /* a tick came while a command held the link */
    mb_decoder_t dec;
    int64_t sample_ts_ms;
    mbt_stats_t stats;
} mbt_t;

/* modbus_tcp.c, for modbus_tcp_write.c: sends one request of `kind` (the
 * response timeout starts); publishes point pt from a read response whose
 * first register or bit is the point's; the link is free again (a command
 * first, then the polling cycle goes on). */
void mbt_send(mbt_t *m, const uint8_t *buf, size_t len, mbt_req_kind_t kind);
void mbt_emit_read(mbt_t *m, mbt_point_t *pt, const mb_response_t *resp, size_t off);
void mbt_emit_bad(mbt_t *m, mbt_point_t *pt, const char *error);
void mbt_link_free(mbt_t *m);

/* modbus_tcp_write.c: the adapter's writable() and write(); sends what
 * commands need when the link is free (false: nothing to send); handles the
 * response or timeout of a command's request; answers every command held
 * (the connection is gone: `cause`, or the adapter stops). */
const char *mbt_writable(const void *self, size_t i);
void mbt_write(void *self, size_t i, gw_command_t *cmd);
bool mbt_write_next(mbt_t *m);
void mbt_write_frame(mbt_t *m, const mb_response_t *resp);
void mbt_write_timeout(mbt_t *m);
void mbt_write_abort(mbt_t *m, const char *cause);
void mbt_write_free(mbt_t *m);

/* Reads the adapter's keys (modbus_tcp_config.c). */
int mbt_read_config(mbt_t *m, const cfg_adapter_t *cfg, cfg_error_t *err);

#endif

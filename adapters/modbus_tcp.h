/*
 * The Modbus adapters' private types, shared by their configuration reader
 * (modbus_tcp_config.c), the link (modbus_tcp.c: one connection or serial
 * port, one request on it at a time), the devices polled over it
 * (modbus_device.c), the serial port (modbus_serial.c) and write-back
 * (modbus_tcp_write.c).
 *
 * A link carries one or more devices (unit ids). `modbus_tcp` without a
 * `devices:` list is one TCP connection to one device, as it always was;
 * with a list, several unit ids share the connection (a TCP-to-RTU
 * converter), framed as MBAP or as RTU over TCP. `modbus_rtu` is a serial
 * port with its list of devices, framed as RTU.
 */
#ifndef ADP_MODBUS_TCP_H
#define ADP_MODBUS_TCP_H

#include <netdb.h>
#include <stdint.h>

#include "adapters/adapter.h"
#include "adapters/modbus_codec.h"
#include "adapters/modbus_point.h"
#include "adapters/modbus_rtu.h"
#include "adapters/net.h"

typedef struct mbl mbl_t;

typedef struct {
    mb_point_t p;
    const char *name; /* the reading's sensor: "point", or "device/point" on a list */
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
    uint64_t overruns;     /* cycles that outlasted their interval */
    uint64_t missed_ticks; /* ticks skipped because a cycle outlasted them */
    uint64_t paced_ticks;  /* ticks skipped while the outbox held the devices back */
    uint64_t backed_off;   /* ticks a silent device was not polled (devices: lists) */
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

/* One device (unit id) on a link. */
typedef struct mbt {
    mbl_t *link;
    gw_ctx_t *ctx;
    /* configuration */
    const char *name; /* the device's topic level; NULL: the adapter is the device */
    uint8_t unit_id;
    uint64_t interval_ms;
    uint64_t timeout_ms;
    mbt_point_t *points;
    size_t n_points;
    mbt_write_fn_t write_fn;
    unsigned max_pending_writes;
    mb_plan_t plan;
    /* the polling schedule */
    gw_timer_t tick;
    uint64_t next_tick_ms;
    bool in_cycle;    /* its batches are being read, one turn of the link at a time */
    bool queued;      /* in the link's queue of devices waiting for the wire */
    bool tick_missed; /* a tick came while the first connection was on its way */
    bool parked;      /* the outbox held a tick back: resume() re-arms it */
    bool once_done;   /* --test: its cycle is over */
    size_t batch;
    int64_t sample_ts_ms;
    /* a silent device on a devices: list is polled again only after this */
    uint64_t silent_until_ms;
    uint64_t silent_backoff_ms;
    bool answered;       /* this cycle got an answer (an exception is one) */
    bool timed_out;      /* ... and a timeout */
    bool answered_last;  /* the last cycle got an answer (true at start) */
    mbt_wq_t *wq;        /* write-back, NULL until the first command */
    char *label;         /* --test: where the device is, for the table */
    uint32_t order_base; /* points of the devices before it: --test orders by it */
    mbt_stats_t stats;
} mbt_t;

typedef enum { MBL_TCP, MBL_SERIAL } mbl_transport_t;
typedef enum { MBL_MBAP, MBL_RTU } mbl_framing_t;

typedef struct {
    const char *path;
    uint32_t baud;
    char parity; /* 'N', 'E' or 'O' */
    uint8_t data_bits;
    uint8_t stop_bits;
    bool rs485;
    bool rts_on_send;
    uint64_t rts_before_ms;
    uint64_t rts_after_ms;
} mbl_serial_t;

/* One connection or serial port and the devices on it. */
struct mbl {
    gw_ctx_t *ctx;
    /* configuration */
    mbl_transport_t transport;
    mbl_framing_t framing;
    bool list; /* devices: given: device names in topics, silent devices backed off */
    const char *host;
    uint16_t port;
    mbl_serial_t serial;
    uint64_t connect_timeout_ms;
    uint64_t backoff_min_ms;
    uint64_t backoff_max_ms;
    uint64_t gap_ms;    /* silence before every request (RTU: 3.5 characters) */
    uint64_t delay_ms;  /* delay_between_requests, added to the silence */
    uint64_t settle_ms; /* delay_after_connect */
    bool aligned;       /* phase: aligned (polls on multiples of the interval) */
    uint16_t max_registers;
    uint16_t max_bits;
    uint16_t max_gap;
    mbt_t *devs;
    size_t n_devs;
    size_t n_resumes; /* mbl_resume() calls: where the next one starts */
    /* connection */
    mbt_state_t state;
    int fd;
    gw_io_t io;
    gw_timer_t state_timer; /* response timeout (lazy, see mbl_send) or backoff */
    gw_timer_t gap_timer;   /* the silence before a request; RTU: the end of a bad frame */
    uint64_t deadline_ms;   /* the response timeout of the request in flight */
    uint64_t timer_due_ms;  /* when state_timer was last armed for */
    uint64_t quiet_ms;      /* the line was last busy then */
    uint64_t backoff_ms;
    uint64_t rng;
    bool online;
    bool running;
    bool once; /* --test: one cycle of every device, every point reported, then done */
    bool rs485_warned;
    unsigned consecutive_timeouts;
    const char *last_error; /* why the link is down */
    char error_buf[160];    /* last_error when it is composed (serial ports) */
    adp_connector_t conn;   /* TCP: resolves and connects; owns the socket until connected */
    /* the request on the wire, or waiting for the silence before it */
    mbt_t *cur; /* whose it is */
    mb_request_t req;
    uint16_t next_tid;
    uint8_t tx[MB_REQ_LEN];
    uint8_t rtu_tx[MB_RTU_MAX_ADU];
    const uint8_t *tx_buf;
    size_t tx_len, tx_off;
    bool tx_held; /* waiting for the silence */
    int mismatch; /* RTU: why a frame that came for the request was not its answer */
    mbt_req_kind_t req_kind;
    /* devices waiting for the wire, first come first served: a ring of n_devs */
    mbt_t **queue;
    size_t q_head, q_len;
    mb_decoder_t dec;
    mb_rtu_decoder_t *rtu; /* RTU framing only */
    uint64_t malformed;    /* frames that could not be read */
    uint64_t discarded;    /* late or foreign frames */
    uint64_t noise;        /* RTU: bytes skipped before a frame */
    uint64_t reconnects;
    unsigned once_left; /* --test: devices whose cycle is not over */
};

/* --- modbus_tcp.c: the link --- */

/* Sends one request of `kind` for device d (the response timeout starts,
 * after the silence the line needs); the request on the wire is over
 * (answered or given up): the link sends what waits, a command first, then
 * the next device in the queue; d wants the wire (queued after the devices
 * already waiting, sent at once when the link is idle); a transaction id (0
 * on RTU, which has none). */
void mbl_send(mbl_t *l, mbt_t *d, const uint8_t *buf, size_t len, mbt_req_kind_t kind);
void mbl_done(mbl_t *l);
void mbl_kick(mbl_t *l); /* sends what waits if the link is idle */
void mbl_enqueue(mbl_t *l, mbt_t *d);
uint16_t mbl_tid(mbl_t *l);
/* Whether requests can be sent (connected, or the port open). */
bool mbl_up(const mbl_t *l);
/* Why the devices cannot be read, for their readings. */
const char *mbl_down_cause(const mbl_t *l);
const char *mbl_where(const mbl_t *l); /* "host:port" or the port's path, for logs */

/* --- modbus_device.c: a device's cycle --- */

void mbt_start(mbt_t *d, uint64_t now);
void mbt_stop(mbt_t *d);
void mbt_resume(mbt_t *d);
void mbt_connected(mbt_t *d);
/* The link's turn for d: sends its next batch. */
void mbt_send_batch(mbt_t *d);
/* The poll in flight for d was answered (resp), failed (cause, with
 * `timeout` true for a timeout) or lost with the link (the link is down
 * already; `polling`: d's batch was in flight, `writing`: d's command's
 * write was on the wire). */
void mbt_poll_answer(mbt_t *d, const mb_response_t *resp);
void mbt_poll_failed(mbt_t *d, const char *cause, bool timeout);
/* A command's request to d timed out (counted; on a list a device that was
 * silent in its last cycle is backed off at once). */
void mbt_write_timed_out(mbt_t *d);
void mbt_link_lost(mbt_t *d, bool polling, bool writing, const char *cause);
void mbt_emit_read(mbt_t *d, mbt_point_t *pt, const mb_response_t *resp, size_t off);
void mbt_emit_bad(mbt_t *d, mbt_point_t *pt, const char *error);
/* --test: d reports what it has not read, with the cause. */
void mbt_once_failed(mbt_t *d, const char *cause);
void mbt_free(mbt_t *d);

/* --- modbus_serial.c --- */

/* Opens and sets up the port: a non-blocking fd; or -1, a short static cause
 * for the devices' readings in *cause, and for the log the details, naming
 * the port and the setting it refused, in l->error_buf. */
int mbl_serial_open(mbl_t *l, const char **cause);
/* Whether the port can be set to this speed (the standard ones). */
bool mbl_serial_baud_ok(uint32_t baud);
/* Drops what arrived and was not read (a late reply, noise). */
void mbl_serial_flush(mbl_t *l);

/* --- modbus_tcp_write.c --- */

/* The adapter's writable() and write(); sends what d's commands need (false:
 * nothing to send); handles the response or timeout of a command's request;
 * answers every command d holds (the link is gone: `cause`, or the adapter
 * stops; `on_wire`: its write was sent, so it fails rather than is refused). */
const char *mbt_writable(const void *self, size_t i);
void mbt_write(void *self, size_t i, gw_command_t *cmd);
bool mbt_write_next(mbt_t *d);
void mbt_write_frame(mbt_t *d, const mb_response_t *resp);
void mbt_write_failed(mbt_t *d, const char *cause);
void mbt_write_abort(mbt_t *d, const char *cause, bool on_wire);
void mbt_write_free(mbt_t *d);

/* --- modbus_tcp_config.c --- */

int mbl_read_config(mbl_t *l, const cfg_adapter_t *cfg, mbl_transport_t transport,
                    cfg_error_t *err);

#endif

/*
 * A Modbus link: one TCP connection or one serial port, and the devices
 * polled over it (modbus_device.c). An explicit non-blocking state machine
 * on the gateway's loop:
 *
 *   IDLE -> CONNECTING -> READY <-> WAITING (one request on the wire)
 *   any error -> BACKOFF (doubling, capped, jittered) -> CONNECTING
 *
 * One request is on the wire at a time; the devices queue for it in the
 * order they asked (modbus_device.c), a command's request going first. On
 * TCP with MBAP framing responses are matched by transaction id, unit and
 * function: a late or foreign response is discarded and counted, never
 * assigned to the wrong request. RTU (a serial port, or RTU frames over
 * TCP) has no transaction id: the line is kept silent for 3.5 characters
 * before every request and stale input is dropped; a frame that is not the
 * answer (wrong unit, function or length: a late answer to an earlier
 * request, most likely) is discarded while the answer may still come, and
 * names the failure if it does not; a frame with a bad CRC fails the
 * request once the line is silent after it. Framing is the
 * codecs' (modbus_codec.c, modbus_rtu.c); this file only moves bytes and
 * decides.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/modbus_tcp.h"
#include "gateway/clock.h"
#include "gateway/error.h"
#include "gateway/log.h"

/* After this many timeouts in a row on TCP the connection is presumed dead
 * (a half-open TCP connection never reports an error by itself). */
#define MBT_MAX_TIMEOUTS 3

static const char *const state_names[] = {"idle", "connecting", "ready", "waiting", "backoff"};

static void connect_start(mbl_t *l);
static void on_io(gw_io_t *io, uint32_t events, void *arg);

static void set_state(mbl_t *l, mbt_state_t state)
{
    gw_debug("adapter '%s': %s -> %s", gw_ctx_name(l->ctx), state_names[l->state],
             state_names[state]);
    l->state = state;
}

static gw_loop_t *loop_of(const mbl_t *l)
{
    return gw_ctx_loop(l->ctx);
}

bool mbl_up(const mbl_t *l)
{
    return l->state == MBT_READY || l->state == MBT_WAITING;
}

const char *mbl_down_cause(const mbl_t *l)
{
    return l->last_error ? l->last_error : "not connected";
}

const char *mbl_where(const mbl_t *l)
{
    static char where[300];

    if (l->transport == MBL_SERIAL)
        return l->serial.path;
    snprintf(where, sizeof(where), "%s:%u", l->host, l->port);
    return where;
}

uint16_t mbl_tid(mbl_t *l)
{
    return l->framing == MBL_RTU ? 0 : l->next_tid++;
}

static void arm_state_timer(mbl_t *l, uint64_t due_ms)
{
    l->timer_due_ms = due_ms;
    gw_timer_start(loop_of(l), &l->state_timer, due_ms);
}

/* --- connection ------------------------------------------------------------ */

static void close_fd(mbl_t *l)
{
    if (l->fd < 0)
        return;
    gw_io_stop(loop_of(l), &l->io);
    close(l->fd);
    l->fd = -1;
}

static void set_online(mbl_t *l, bool online)
{
    if (l->online == online)
        return;
    l->online = online;
    gw_ctx_status(l->ctx, online ? "online" : "offline");
}

/* Any failure of the link: what was in flight is reported bad, every device
 * goes offline and a reconnect is scheduled. */
static void fail_connection(mbl_t *l, const char *cause)
{
    uint64_t wait = adp_jitter(&l->rng, l->backoff_ms);
    mbt_t *cur = l->state == MBT_WAITING ? l->cur : NULL;
    bool polling = cur && l->req_kind == MBT_REQ_POLL;
    bool writing = cur && l->req_kind == MBT_REQ_WRITE && !l->tx_held; /* sent: may be applied */
    const char *detail = l->error_buf[0] ? l->error_buf : cause;

    /* The link is down before the devices hear of it, so that none of them
     * starts a cycle on it. */
    l->q_len = 0;
    l->cur = NULL;
    l->tx_held = false;
    l->mismatch = 0;
    gw_timer_stop(loop_of(l), &l->gap_timer);
    close_fd(l);
    set_state(l, l->once ? MBT_IDLE : MBT_BACKOFF);
    for (size_t i = 0; i < l->n_devs; i++)
        mbt_link_lost(&l->devs[i], &l->devs[i] == cur && polling, &l->devs[i] == cur && writing,
                      cause);
    if (l->once) { /* --test: no reconnect */
        gw_warn("adapter '%s': %s: %s", gw_ctx_name(l->ctx), mbl_where(l), detail);
        l->error_buf[0] = '\0';
        return;
    }
    if (l->online || l->last_error != cause)
        gw_warn("adapter '%s': %s: %s; %s in %.1f s", gw_ctx_name(l->ctx), mbl_where(l), detail,
                l->transport == MBL_SERIAL ? "reopening" : "reconnecting", wait / 1000.0);
    l->error_buf[0] = '\0';
    l->last_error = cause;
    set_online(l, false);
    arm_state_timer(l, gw_clock_now_ms() + wait);
    l->backoff_ms = l->backoff_ms * 2 > l->backoff_max_ms ? l->backoff_max_ms : l->backoff_ms * 2;
}

static void connected(mbl_t *l, int fd)
{
    l->fd = fd;
    gw_io_init(&l->io, fd, on_io, l);
    if (gw_io_start(loop_of(l), &l->io, EPOLLIN) != 0) {
        fail_connection(l, "cannot watch the connection");
        return;
    }
    mb_decoder_reset(&l->dec);
    if (l->rtu)
        mb_rtu_decoder_reset(l->rtu);
    l->backoff_ms = l->backoff_min_ms;
    l->consecutive_timeouts = 0;
    l->quiet_ms = gw_clock_now_ms() + l->settle_ms;
    set_state(l, MBT_READY);
    if (l->transport == MBL_SERIAL)
        gw_info("adapter '%s': port %s open (%u baud, %u%c%u)", gw_ctx_name(l->ctx), l->serial.path,
                l->serial.baud, l->serial.data_bits, l->serial.parity, l->serial.stop_bits);
    else
        gw_info("adapter '%s': connected to %s", gw_ctx_name(l->ctx), mbl_where(l));
    l->last_error = NULL;
    set_online(l, true);
    for (size_t i = 0; i < l->n_devs; i++)
        mbt_connected(&l->devs[i]);
    mbl_kick(l);
}

/* The connector's answer: a connected socket, or why there is none. */
static void on_connect(void *arg, int fd, int err, const char *cause)
{
    mbl_t *l = arg;
    (void)err;

    if (l->state != MBT_CONNECTING) {
        gw_err("adapter '%s': connection result in state %s", gw_ctx_name(l->ctx),
               state_names[l->state]);
        if (fd >= 0)
            close(fd);
        return;
    }
    if (fd < 0) {
        fail_connection(l, cause);
        return;
    }
    connected(l, fd);
}

/* TCP: resolves the host again (a name may have moved) and connects to each
 * of its addresses in turn, without blocking the loop (see
 * adp_connector_t). Serial: the port is opened from the state timer, never
 * from within start(). */
static void connect_start(mbl_t *l)
{
    set_state(l, MBT_CONNECTING);
    if (l->transport == MBL_TCP)
        adp_connector_start(&l->conn);
    else
        arm_state_timer(l, gw_clock_now_ms());
}

static void open_port(mbl_t *l)
{
    const char *cause = NULL;
    int fd = mbl_serial_open(l, &cause);

    if (fd < 0)
        fail_connection(l, cause);
    else
        connected(l, fd);
}

/* --- requests ---------------------------------------------------------------- */

static void flush_tx(mbl_t *l)
{
    while (l->tx_off < l->tx_len) {
        ssize_t n = l->transport == MBL_TCP
                        ? send(l->fd, l->tx_buf + l->tx_off, l->tx_len - l->tx_off, MSG_NOSIGNAL)
                        : write(l->fd, l->tx_buf + l->tx_off, l->tx_len - l->tx_off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            gw_io_modify(loop_of(l), &l->io, EPOLLIN | EPOLLOUT);
            return;
        }
        if (n < 0) {
            fail_connection(l, l->transport == MBL_TCP ? "send failed" : "port unavailable");
            return;
        }
        l->tx_off += (size_t)n;
    }
    gw_io_modify(loop_of(l), &l->io, EPOLLIN);
}

/* The request goes on the wire. On RTU what arrived since the last answer
 * (a late reply, noise) is dropped first. */
static void transmit(mbl_t *l)
{
    mbt_t *d = l->cur;

    l->tx_held = false;
    l->mismatch = 0;
    gw_timer_stop(loop_of(l), &l->gap_timer);
    if (l->rtu) {
        if (l->transport == MBL_SERIAL)
            mbl_serial_flush(l);
        mb_rtu_decoder_reset(l->rtu);
    }
    /* The response timeout is lazy: a timer still armed for an earlier
     * request's deadline stays, and on_state_timer() moves it on to this
     * one's. A device answering in time then costs no timer operation per
     * request, where stopping and re-arming cost two heap updates. Only a
     * deadline before the armed one (devices with a shorter timeout on the
     * link) arms it again. */
    l->deadline_ms = gw_clock_now_ms() + d->timeout_ms;
    if (!gw_timer_active(&l->state_timer) || l->timer_due_ms > l->deadline_ms)
        arm_state_timer(l, l->deadline_ms);
    flush_tx(l);
}

void mbl_send(mbl_t *l, mbt_t *d, const uint8_t *buf, size_t len, mbt_req_kind_t kind)
{
    if (l->framing == MBL_RTU) {
        int n = mb_rtu_from_mbap(buf, len, l->rtu_tx, sizeof(l->rtu_tx));

        if (n < 0) { /* the codec made buf: cannot happen */
            gw_err("adapter '%s': cannot frame a request for RTU", gw_ctx_name(l->ctx));
            abort();
        }
        buf = l->rtu_tx;
        len = (size_t)n;
    }
    l->tx_buf = buf;
    l->tx_len = len;
    l->tx_off = 0;
    l->req_kind = kind;
    l->cur = d;
    set_state(l, MBT_WAITING);
    if (l->gap_ms || l->delay_ms || l->settle_ms) {
        uint64_t earliest = l->quiet_ms + l->gap_ms + l->delay_ms;

        if (gw_clock_now_ms() < earliest) {
            l->tx_held = true;
            gw_timer_start(loop_of(l), &l->gap_timer, earliest);
            return;
        }
    }
    transmit(l);
}

/* The link is idle: a command goes first, then the device that has waited
 * longest. */
void mbl_kick(mbl_t *l)
{
    if (l->state != MBT_READY || l->cur)
        return;
    for (size_t i = 0; i < l->n_devs; i++)
        if (l->devs[i].wq && mbt_write_next(&l->devs[i]))
            return;
    while (l->q_len > 0) {
        mbt_t *d = l->queue[l->q_head];

        l->q_head = (l->q_head + 1) % l->n_devs;
        l->q_len--;
        d->queued = false;
        if (d->in_cycle && d->batch < d->plan.n_batches) {
            mbt_send_batch(d);
            return;
        }
    }
}

void mbl_done(mbl_t *l)
{
    l->cur = NULL;
    if (l->state == MBT_WAITING)
        set_state(l, MBT_READY);
    if (l->gap_ms || l->delay_ms)
        l->quiet_ms = gw_clock_now_ms();
    mbl_kick(l);
}

void mbl_enqueue(mbl_t *l, mbt_t *d)
{
    if (!d->queued) {
        d->queued = true;
        l->queue[(l->q_head + l->q_len++) % l->n_devs] = d;
    }
    mbl_kick(l);
}

/* --- responses --------------------------------------------------------------- */

/* Why an RTU reply is not the answer, for the device's readings. */
static const char *mismatch_cause(int match)
{
    switch (match) {
    case MB_MISMATCH_UNIT:
        return "reply from the wrong unit";
    case MB_MISMATCH_FUNCTION:
        return "reply to another function";
    default:
        return "reply of the wrong length";
    }
}

static void on_frame(mbl_t *l, const mb_response_t *resp)
{
    mbt_t *d = l->cur;
    int match;

    if (l->state != MBT_WAITING || l->tx_held || !d) {
        l->discarded++;
        gw_debug("adapter '%s': discarded a frame nobody waits for (unit %u, function %u)",
                 gw_ctx_name(l->ctx), resp->unit, resp->fc);
        return;
    }
    if (l->req_kind != MBT_REQ_POLL) {
        mbt_write_frame(d, resp);
        return;
    }
    match = mb_match(&l->req, resp);
    if (match != MB_MATCH) {
        l->discarded++;
        gw_debug("adapter '%s': discarded a response (tid %u, unit %u, function %u): %s",
                 gw_ctx_name(l->ctx), resp->tid, resp->unit, resp->fc, mb_status_name(match));
        if (l->framing != MBL_RTU)
            return;
        /* RTU has no transaction id. Another unit or function is a late
         * answer to an earlier request (one that timed out), most likely:
         * the answer may still come, and if it does not, the timeout names
         * what came instead. The right unit and function with the wrong
         * length is this device answering wrongly: the request fails. */
        if (match != MB_MISMATCH_COUNT) {
            l->mismatch = match;
            return;
        }
        l->consecutive_timeouts = 0;
        mbt_poll_failed(d, mismatch_cause(match), false);
        mbl_done(l);
        return;
    }
    l->consecutive_timeouts = 0;
    mbt_poll_answer(d, resp);
    mbl_done(l);
}

/* A request whose answer is not coming: a timeout, or (RTU) a frame that
 * could not be read and the line silent after it. */
static void request_failed(mbl_t *l, const char *cause, bool timeout)
{
    mbt_t *d = l->cur;

    if (l->req_kind != MBT_REQ_POLL) {
        if (timeout)
            mbt_write_timed_out(d);
        mbt_write_failed(d, cause);
        return;
    }
    mbt_poll_failed(d, cause, timeout);
    if (timeout && !l->once && l->transport == MBL_TCP &&
        ++l->consecutive_timeouts >= MBT_MAX_TIMEOUTS) {
        l->cur = NULL;
        set_state(l, MBT_READY); /* the batch is already reported */
        fail_connection(l, "no response");
        return;
    }
    mbl_done(l);
}

/* RTU: bytes came and are no frame. A complete frame with a bad CRC ends
 * the request once the line is silent after it; anything else waits for
 * more bytes or the timeout. */
static void rtu_no_frame(mbl_t *l)
{
    if (l->state != MBT_WAITING || l->tx_held)
        return;
    if (mb_rtu_verdict(l->rtu) == MB_ECRC)
        gw_timer_start(loop_of(l), &l->gap_timer,
                       gw_clock_now_ms() + (l->gap_ms > 2 ? l->gap_ms : 2));
}

/* Feeds what arrived to the framing; false when a handler closed the link. */
static bool feed(mbl_t *l, const uint8_t *buf, size_t n)
{
    int fd = l->fd;
    size_t off = 0;

    if (l->rtu) {
        /* At most a frame at a time, so that no frame that arrived whole
         * can be pushed out of the decoder's window by what follows it. */
        for (; off < n; off += MB_RTU_MAX_ADU) {
            size_t len = n - off < MB_RTU_MAX_ADU ? n - off : MB_RTU_MAX_ADU;
            mb_response_t resp;

            for (int rc = mb_rtu_feed(l->rtu, buf + off, len, &resp); rc == MB_FRAME;
                 rc = mb_rtu_feed(l->rtu, NULL, 0, &resp)) {
                l->noise += l->rtu->skipped;
                on_frame(l, &resp);
                if (l->fd != fd)
                    return false;
            }
        }
        if (mb_rtu_pending(l->rtu))
            rtu_no_frame(l);
        return true;
    }
    while (off < n) {
        mb_response_t resp;
        size_t used = 0;
        int rc = mb_decoder_feed(&l->dec, buf + off, n - off, &used, &resp);

        off += used;
        if (rc < 0) {
            l->malformed++;
            fail_connection(l, mb_status_name(rc));
            return false;
        }
        if (rc == MB_FRAME) {
            on_frame(l, &resp);
            if (l->fd != fd) /* the handler closed the connection */
                return false;
        }
    }
    return true;
}

static void read_input(mbl_t *l, uint32_t events)
{
    uint8_t buf[1024];

    for (;;) {
        ssize_t n = l->transport == MBL_TCP ? recv(l->fd, buf, sizeof(buf), 0)
                                            : read(l->fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (events & (EPOLLHUP | EPOLLERR)) /* a tty hung up: nothing will come */
                fail_connection(l, "port unavailable");
            return;
        }
        if (n <= 0) {
            if (l->transport == MBL_SERIAL)
                fail_connection(l, "port unavailable");
            else
                fail_connection(l, n == 0 ? "connection closed by the device" : "receive failed");
            return;
        }
        if (l->gap_ms || l->delay_ms)
            l->quiet_ms = gw_clock_now_ms();
        if (!feed(l, buf, (size_t)n))
            return;
        /* A short read took all there was: the watcher is level-triggered,
         * so anything arriving later is reported again. Not asking once more
         * saves a read() that would fail with EAGAIN on every response. */
        if ((size_t)n < sizeof(buf))
            return;
    }
}

static void on_io(gw_io_t *io, uint32_t events, void *arg)
{
    mbl_t *l = arg;
    (void)io;

    switch (l->state) {
    case MBT_READY:
    case MBT_WAITING:
        if ((events & EPOLLOUT) && !l->tx_held && l->tx_off < l->tx_len) {
            flush_tx(l);
            if (l->fd < 0)
                return;
        }
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            read_input(l, events);
        break;
    default:
        gw_err("adapter '%s': I/O event in state %s", gw_ctx_name(l->ctx), state_names[l->state]);
        close_fd(l);
    }
}

static void on_state_timer(gw_timer_t *t, void *arg)
{
    mbl_t *l = arg;
    int verdict;
    (void)t;

    switch (l->state) {
    case MBT_CONNECTING: /* serial: open the port */
        open_port(l);
        break;
    case MBT_BACKOFF:
        l->reconnects++;
        connect_start(l);
        break;
    case MBT_WAITING:
        if (l->tx_held)
            break; /* transmit() arms it again */
        if (gw_clock_now_ms() < l->deadline_ms) {
            /* Armed for an earlier request, answered since: wait for this one. */
            arm_state_timer(l, l->deadline_ms);
            break;
        }
        verdict = l->rtu ? mb_rtu_verdict(l->rtu) : 0;
        if (verdict < 0) {
            l->malformed++;
            request_failed(l, mb_status_name(verdict), false);
        } else if (l->mismatch) {
            request_failed(l, mismatch_cause(l->mismatch), false);
        } else {
            request_failed(l, "timeout", true);
        }
        break;
    case MBT_READY:
        break; /* the deadline of a request answered since (see transmit) */
    default:
        gw_err("adapter '%s': timer in state %s", gw_ctx_name(l->ctx), state_names[l->state]);
    }
}

/* The silence before a request is over; or, RTU, the line went silent after
 * a frame with a bad CRC. */
static void on_gap_timer(gw_timer_t *t, void *arg)
{
    mbl_t *l = arg;
    (void)t;

    if (l->state != MBT_WAITING)
        return;
    if (l->tx_held) {
        transmit(l);
        return;
    }
    if (l->rtu && mb_rtu_verdict(l->rtu) == MB_ECRC) {
        l->malformed++;
        request_failed(l, mb_status_name(MB_ECRC), false);
    }
}

/* --- adapter interface ----------------------------------------------------- */

static void mbl_destroy(void *self);

static int create(const cfg_adapter_t *cfg, gw_ctx_t *ctx, void **self, cfg_error_t *err,
                  mbl_transport_t transport)
{
    mbl_t *l = calloc(1, sizeof(*l));
    int rc;

    if (!l)
        return -ENOMEM;
    l->ctx = ctx;
    l->fd = -1;
    if ((rc = mbl_read_config(l, cfg, transport, err)) != 0) {
        mbl_destroy(l);
        return rc;
    }
    if (l->framing == MBL_RTU && !(l->rtu = calloc(1, sizeof(*l->rtu)))) {
        mbl_destroy(l);
        return -ENOMEM;
    }
    if (!(l->queue = calloc(l->n_devs, sizeof(*l->queue)))) {
        mbl_destroy(l);
        return -ENOMEM;
    }
    gw_timer_init(&l->state_timer, on_state_timer, l);
    gw_timer_init(&l->gap_timer, on_gap_timer, l);
    *self = l;
    return 0;
}

static int create_tcp(const cfg_adapter_t *cfg, gw_ctx_t *ctx, void **self, cfg_error_t *err)
{
    return create(cfg, ctx, self, err, MBL_TCP);
}

static int create_rtu(const cfg_adapter_t *cfg, gw_ctx_t *ctx, void **self, cfg_error_t *err)
{
    return create(cfg, ctx, self, err, MBL_SERIAL);
}

static int mbl_start(void *self)
{
    mbl_t *l = self;
    uint64_t now = gw_clock_now_ms();

    l->rng = (uint64_t)gw_clock_wall_ms() ^ ((uint64_t)(uintptr_t)l << 16) ^ 0x9e3779b97f4a7c15u;
    l->backoff_ms = l->backoff_min_ms;
    l->next_tid = (uint16_t)l->rng;
    l->running = true;
    l->once = gw_ctx_once(l->ctx);
    l->once_left = (unsigned)l->n_devs;
    l->q_head = l->q_len = 0;
    if (l->transport == MBL_TCP)
        adp_connector_init(&l->conn, loop_of(l), l->host, l->port, l->connect_timeout_ms,
                           on_connect, l);
    for (size_t i = 0; i < l->n_devs; i++)
        mbt_start(&l->devs[i], now);
    connect_start(l);
    return 0;
}

static void mbl_stop(void *self)
{
    mbl_t *l = self;
    mbt_stats_t s = {0};

    if (!l->running)
        return;
    for (size_t i = 0; i < l->n_devs; i++)
        mbt_stop(&l->devs[i]);
    l->running = false;
    l->cur = NULL;
    l->q_len = 0;
    gw_timer_stop(loop_of(l), &l->state_timer);
    gw_timer_stop(loop_of(l), &l->gap_timer);
    if (l->transport == MBL_TCP)
        adp_connector_cancel(&l->conn);
    close_fd(l);
    set_online(l, false);
    set_state(l, MBT_IDLE);
    for (size_t i = 0; i < l->n_devs; i++) {
        const mbt_stats_t *d = &l->devs[i].stats;

        s.reads_ok += d->reads_ok;
        s.reads_failed += d->reads_failed;
        s.timeouts += d->timeouts;
        s.exceptions += d->exceptions;
        s.overruns += d->overruns;
        s.missed_ticks += d->missed_ticks;
        s.paced_ticks += d->paced_ticks;
        s.backed_off += d->backed_off;
    }
    gw_info("adapter '%s': stopped: %llu reads ok, %llu failed (%llu timeouts, %llu "
            "exceptions), %llu discarded, %llu malformed, %llu reconnects, %llu cycles over "
            "the interval (%llu ticks skipped), %llu ticks held back by the outbox",
            gw_ctx_name(l->ctx), (unsigned long long)s.reads_ok, (unsigned long long)s.reads_failed,
            (unsigned long long)s.timeouts, (unsigned long long)s.exceptions,
            (unsigned long long)l->discarded, (unsigned long long)l->malformed,
            (unsigned long long)l->reconnects, (unsigned long long)s.overruns,
            (unsigned long long)s.missed_ticks, (unsigned long long)s.paced_ticks);
    if (l->list)
        gw_info("adapter '%s': %llu ticks of silent devices not polled, %llu bytes of noise "
                "skipped",
                gw_ctx_name(l->ctx), (unsigned long long)s.backed_off,
                (unsigned long long)l->noise);
}

static void mbl_resume(void *self)
{
    mbl_t *l = self;
    size_t first;

    if (!l->running || !l->n_devs)
        return;
    first = l->n_resumes++ % l->n_devs; /* as the gateway rotates its adapters */
    for (size_t k = 0; k < l->n_devs; k++)
        mbt_resume(&l->devs[(first + k) % l->n_devs]);
}

static void mbl_destroy(void *self)
{
    mbl_t *l = self;

    if (!l)
        return;
    for (size_t i = 0; l->devs && i < l->n_devs; i++)
        mbt_free(&l->devs[i]);
    free(l->devs);
    free(l->queue);
    free(l->rtu);
    free(l);
}

static void mbl_stats(const void *self, adp_stats_t *out)
{
    const mbl_t *l = self;

    out->reads_ok = out->reads_failed = 0;
    for (size_t i = 0; i < l->n_devs; i++) {
        out->reads_ok += l->devs[i].stats.reads_ok;
        out->reads_failed += l->devs[i].stats.reads_failed;
    }
    out->reconnects = l->reconnects;
}

static uint64_t mbl_longest_wait_ms(const void *self)
{
    const mbl_t *l = self;
    uint64_t ms = l->connect_timeout_ms + l->settle_ms;

    for (size_t i = 0; i < l->n_devs; i++)
        ms += (l->devs[i].timeout_ms + l->gap_ms + l->delay_ms) * l->devs[i].plan.n_batches;
    return ms;
}

const adp_ops_t adp_modbus_tcp_ops = {
    .kind = "modbus_tcp",
    .once = true,
    .reports_status = true,
    .create = create_tcp,
    .start = mbl_start,
    .stop = mbl_stop,
    .destroy = mbl_destroy,
    .resume = mbl_resume,
    .stats = mbl_stats,
    .longest_wait_ms = mbl_longest_wait_ms,
    .writable = mbt_writable,
    .write = mbt_write,
};

const adp_ops_t adp_modbus_rtu_ops = {
    .kind = "modbus_rtu",
    .once = true,
    .reports_status = true,
    .create = create_rtu,
    .start = mbl_start,
    .stop = mbl_stop,
    .destroy = mbl_destroy,
    .resume = mbl_resume,
    .stats = mbl_stats,
    .longest_wait_ms = mbl_longest_wait_ms,
    .writable = mbt_writable,
    .write = mbt_write,
};

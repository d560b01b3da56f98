/*
 * The Modbus TCP adapter: one instance per device, an explicit non-blocking
 * state machine on the gateway's loop.
 *
 *   IDLE -> CONNECTING -> READY <-> WAITING (one request in flight)
 *   any error -> BACKOFF (doubling, capped, jittered) -> CONNECTING
 *
 * Every `interval` a cycle reads the device's planned batches one request at
 * a time. A timeout, an exception or a lost connection publishes the affected
 * points with quality bad and the cause; while the device is unreachable,
 * each tick publishes every point as bad, so subscribers see the outage at
 * the configured rate. Responses are matched by transaction id, unit and
 * function: a late or foreign response is discarded and counted, never
 * assigned to the wrong request. Framing is the codec's (modbus_codec.c);
 * this file only moves bytes and decides.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/modbus_tcp.h"
#include "adapters/net.h"
#include "gateway/clock.h"
#include "gateway/error.h"
#include "gateway/log.h"

/* After this many timeouts in a row the connection is presumed dead (a
 * half-open TCP connection never reports an error by itself). */
#define MBT_MAX_TIMEOUTS 3

static const char *const state_names[] = {"idle", "connecting", "ready", "waiting", "backoff"};

static void connect_start(mbt_t *m);
static void send_batch(mbt_t *m);
static void cycle_ended(mbt_t *m);
static void on_io(gw_io_t *io, uint32_t events, void *arg);

static void set_state(mbt_t *m, mbt_state_t state)
{
    gw_debug("adapter '%s': %s -> %s", gw_ctx_name(m->ctx), state_names[m->state],
             state_names[state]);
    m->state = state;
}

static gw_loop_t *loop_of(mbt_t *m)
{
    return gw_ctx_loop(m->ctx);
}

/* --- publishing ------------------------------------------------------------ */

static void emit_point(mbt_t *m, mbt_point_t *pt, const mb_value_t *v, const char *error,
                       const uint16_t *raw, size_t n_raw)
{
    gw_reading_t r = {0};

    r.device = m->device;
    r.order = (uint32_t)(pt - m->points) + 1;
    r.raw = raw;
    r.n_raw = (uint8_t)n_raw;

    r.sensor = pt->name;
    r.seq = ++pt->seq;
    r.ts_ms = m->sample_ts_ms ? m->sample_ts_ms : gw_clock_wall_ms();
    r.unit = pt->unit;
    r.error = error;
    r.has_qos = pt->qos >= 0;
    r.qos = (uint8_t)(pt->qos >= 0 ? pt->qos : 0);
    r.has_retain = pt->retain >= 0;
    r.retain = pt->retain > 0;
    if (v && !error) {
        switch (v->kind) {
        case MB_VAL_BOOL:
            r.kind = GW_VALUE_BOOL;
            r.value.b = v->b;
            break;
        case MB_VAL_INT:
            r.kind = GW_VALUE_INT;
            r.value.i = v->i;
            break;
        case MB_VAL_UINT:
            r.kind = GW_VALUE_UINT;
            r.value.u = v->u;
            break;
        case MB_VAL_DOUBLE:
            r.kind = GW_VALUE_DOUBLE;
            r.value.d = mb_published_double(&pt->p, v->d);
            break;
        case MB_VAL_STRING:
            r.kind = GW_VALUE_STRING;
            r.value.s = v->s;
            break;
        }
    }
    gw_ctx_emit(m->ctx, &r);
}

static mbt_point_t *batch_point(mbt_t *m, const mb_batch_t *b, size_t k)
{
    return &m->points[m->plan.points[b->first + k]];
}

static void emit_batch_bad(mbt_t *m, size_t batch, const char *error)
{
    const mb_batch_t *b = &m->plan.batches[batch];

    for (size_t k = 0; k < b->n_points; k++)
        emit_point(m, batch_point(m, b, k), NULL, error, NULL, 0);
}

void mbt_emit_bad(mbt_t *m, mbt_point_t *pt, const char *error)
{
    emit_point(m, pt, NULL, error, NULL, 0);
}

void mbt_emit_read(mbt_t *m, mbt_point_t *pt, const mb_response_t *resp, size_t off)
{
    uint16_t regs[MB_MAX_REGISTERS];
    mb_value_t v;

    if (mb_table_is_bits(pt->p.table)) {
        mb_decode_bit(&pt->p, mb_bit(resp, off), &v);
        emit_point(m, pt, &v, NULL, NULL, 0);
        return;
    }
    for (size_t w = 0; w < mb_point_width(&pt->p); w++)
        regs[w] = mb_register(resp, off + w);
    if (mb_decode_registers(&pt->p, regs, &v) != 0)
        emit_point(m, pt, NULL, "invalid value", regs, mb_point_width(&pt->p));
    else
        emit_point(m, pt, &v, NULL, regs, mb_point_width(&pt->p));
}

static void emit_batch(mbt_t *m, const mb_response_t *resp)
{
    const mb_batch_t *b = &m->plan.batches[m->batch];

    for (size_t k = 0; k < b->n_points; k++) {
        mbt_point_t *pt = batch_point(m, b, k);

        mbt_emit_read(m, pt, resp, (size_t)(pt->p.address - b->address));
    }
}

static void emit_all_bad(mbt_t *m, const char *error)
{
    for (size_t i = 0; i < m->plan.n_batches; i++)
        emit_batch_bad(m, i, error);
}

/* --test: the one cycle is over, every point reported; nothing more is
 * scheduled. The connection stays until the adapter is stopped. */
static void once_finished(mbt_t *m)
{
    if (m->once && !m->once_done) {
        m->once_done = true;
        gw_timer_stop(loop_of(m), &m->tick);
        gw_timer_stop(loop_of(m), &m->state_timer);
        gw_ctx_done(m->ctx);
    }
}

/* --test: the device failed before every batch was answered: the batches
 * from `first` on are reported bad with the cause, and the test is over. */
static void once_failed(mbt_t *m, size_t first, const char *cause)
{
    for (size_t i = first; m->once && !m->once_done && i < m->plan.n_batches; i++)
        emit_batch_bad(m, i, cause);
    once_finished(m);
}

/* --- connection ------------------------------------------------------------ */

static void close_fd(mbt_t *m)
{
    if (m->fd < 0)
        return;
    gw_io_stop(loop_of(m), &m->io);
    close(m->fd);
    m->fd = -1;
}

static void set_online(mbt_t *m, bool online)
{
    if (m->online == online)
        return;
    m->online = online;
    gw_ctx_status(m->ctx, online ? "online" : "offline");
}

/* Any failure of the connection: what was in flight is reported bad, the
 * device goes offline and a reconnect is scheduled. */
static void fail_connection(mbt_t *m, const char *cause)
{
    uint64_t wait = adp_jitter(&m->rng, m->backoff_ms);
    bool waiting = m->state == MBT_WAITING && m->req_kind == MBT_REQ_POLL;

    if (waiting)
        emit_batch_bad(m, m->batch, cause);
    mbt_write_abort(m, cause); /* commands: the one on the wire failed, none waits */
    if (m->once) {             /* --test: no reconnect; what is not read yet is reported */
        close_fd(m);
        set_state(m, MBT_IDLE);
        if (!m->once_done)
            gw_warn("adapter '%s': %s:%u: %s", gw_ctx_name(m->ctx), m->host, m->port, cause);
        once_failed(m, m->in_cycle ? m->batch + waiting : 0, cause);
        return;
    }
    close_fd(m);
    if (m->online || m->last_error != cause)
        gw_warn("adapter '%s': %s:%u: %s; reconnecting in %.1f s", gw_ctx_name(m->ctx), m->host,
                m->port, cause, wait / 1000.0);
    m->last_error = cause;
    set_online(m, false);
    set_state(m, MBT_BACKOFF);
    if (m->in_cycle)
        cycle_ended(m);
    gw_timer_start(loop_of(m), &m->state_timer, gw_clock_now_ms() + wait);
    m->backoff_ms = m->backoff_ms * 2 > m->backoff_max_ms ? m->backoff_max_ms : m->backoff_ms * 2;
}

static void park_tick(mbt_t *m);

static void start_cycle(mbt_t *m)
{
    gw_timer_stop(loop_of(m), &m->tick); /* re-armed when the cycle ends */
    m->in_cycle = true;
    m->tick_missed = false;
    m->batch = 0;
    send_batch(m);
}

static void connected(mbt_t *m)
{
    mb_decoder_reset(&m->dec);
    m->backoff_ms = m->backoff_min_ms;
    m->consecutive_timeouts = 0;
    set_state(m, MBT_READY);
    gw_info("adapter '%s': connected to %s:%u", gw_ctx_name(m->ctx), m->host, m->port);
    m->last_error = NULL;
    set_online(m, true);
    if (m->tick_missed) {
        m->tick_missed = false;
        if (gw_ctx_blocked(m->ctx))
            park_tick(m);
        else
            start_cycle(m);
    }
}

/* The connector's answer: a connected socket, or why there is none. */
static void on_connect(void *arg, int fd, int err, const char *cause)
{
    mbt_t *m = arg;
    (void)err;

    if (m->state != MBT_CONNECTING) {
        gw_err("adapter '%s': connection result in state %s", gw_ctx_name(m->ctx),
               state_names[m->state]);
        if (fd >= 0)
            close(fd);
        return;
    }
    if (fd < 0) {
        fail_connection(m, cause);
        return;
    }
    m->fd = fd;
    gw_io_init(&m->io, fd, on_io, m);
    if (gw_io_start(loop_of(m), &m->io, EPOLLIN) != 0) {
        fail_connection(m, "cannot watch the socket");
        return;
    }
    connected(m);
}

/* Resolves the host again (a name may have moved) and connects to each of
 * its addresses in turn, without blocking the loop (see adp_connector_t). */
static void connect_start(mbt_t *m)
{
    set_state(m, MBT_CONNECTING);
    adp_connector_start(&m->conn);
}

/* --- requests and responses ------------------------------------------------ */

static void flush_tx(mbt_t *m)
{
    while (m->tx_off < m->tx_len) {
        ssize_t n = send(m->fd, m->tx_buf + m->tx_off, m->tx_len - m->tx_off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            gw_io_modify(loop_of(m), &m->io, EPOLLIN | EPOLLOUT);
            return;
        }
        if (n < 0) {
            fail_connection(m, "send failed");
            return;
        }
        m->tx_off += (size_t)n;
    }
    gw_io_modify(loop_of(m), &m->io, EPOLLIN);
}

void mbt_send(mbt_t *m, const uint8_t *buf, size_t len, mbt_req_kind_t kind)
{
    m->tx_buf = buf;
    m->tx_len = len;
    m->tx_off = 0;
    m->req_kind = kind;
    set_state(m, MBT_WAITING);
    /* The response timeout is lazy: a timer still armed for an earlier
     * request's deadline stays, and on_state_timer() moves it on to this
     * one's. A device answering in time then costs no timer operation per
     * request, where stopping and re-arming cost two heap updates. */
    m->deadline_ms = gw_clock_now_ms() + m->timeout_ms;
    if (!gw_timer_active(&m->state_timer))
        gw_timer_start(loop_of(m), &m->state_timer, m->deadline_ms);
    flush_tx(m);
}

static void send_batch(mbt_t *m)
{
    const mb_batch_t *b = &m->plan.batches[m->batch];
    int n;

    m->req.tid = m->next_tid++;
    m->req.unit = m->unit_id;
    m->req.fc = mb_table_fc(b->table);
    m->req.address = b->address;
    m->req.quantity = b->count;
    n = mb_encode_read(&m->req, m->tx, sizeof(m->tx));
    if (n < 0) { /* the plan made it: cannot happen */
        gw_err("adapter '%s': cannot encode a read request: %s", gw_ctx_name(m->ctx),
               gw_strerror(n));
        abort();
    }
    m->sample_ts_ms = gw_clock_wall_ms();
    mbt_send(m, m->tx, (size_t)n, MBT_REQ_POLL);
}

/* The current batch is answered (or given up): on to the next, or end the
 * cycle. */
static void next_batch(mbt_t *m)
{
    m->batch++;
    mbt_link_free(m);
}

/* Nothing on the wire (the response timer stays armed: see mbt_send()). A
 * command goes first, then the polling cycle goes on, or a cycle that came
 * due while a command held the link starts. */
void mbt_link_free(mbt_t *m)
{
    set_state(m, MBT_READY);
    if (mbt_write_next(m))
        return;
    if (m->in_cycle) {
        if (m->batch < m->plan.n_batches)
            send_batch(m);
        else
            cycle_ended(m);
        return;
    }
    if (m->cycle_due && m->running) {
        m->cycle_due = false;
        if (gw_ctx_blocked(m->ctx))
            park_tick(m);
        else
            start_cycle(m);
    }
}

static void on_frame(mbt_t *m, const mb_response_t *resp)
{
    if (m->state == MBT_WAITING && m->req_kind != MBT_REQ_POLL) {
        mbt_write_frame(m, resp);
        return;
    }
    int match = m->state == MBT_WAITING ? mb_match(&m->req, resp) : MB_MISMATCH_TID;

    if (match != MB_MATCH) {
        m->stats.discarded++;
        gw_debug("adapter '%s': discarded a response (tid %u, unit %u, function %u): %s",
                 gw_ctx_name(m->ctx), resp->tid, resp->unit, resp->fc,
                 match == MB_MISMATCH_TID        ? "not the request in flight"
                 : match == MB_MISMATCH_UNIT     ? "wrong unit"
                 : match == MB_MISMATCH_FUNCTION ? "wrong function"
                                                 : "wrong byte count");
        return;
    }
    m->consecutive_timeouts = 0;
    if (resp->exception) {
        m->stats.exceptions++;
        m->stats.reads_failed++;
        emit_batch_bad(m, m->batch, mb_exception_name(resp->exception_code));
    } else {
        m->stats.reads_ok++;
        emit_batch(m, resp);
    }
    next_batch(m);
}

static void read_input(mbt_t *m)
{
    uint8_t buf[1024];
    int fd = m->fd;
    bool more;

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        size_t off = 0;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            fail_connection(m, n == 0 ? "connection closed by the device" : "receive failed");
            return;
        }
        more = (size_t)n == sizeof(buf);
        while (off < (size_t)n) {
            mb_response_t resp;
            size_t used = 0;
            int rc = mb_decoder_feed(&m->dec, buf + off, (size_t)n - off, &used, &resp);

            off += used;
            if (rc < 0) {
                m->stats.malformed++;
                fail_connection(m, mb_status_name(rc));
                return;
            }
            if (rc == MB_FRAME) {
                on_frame(m, &resp);
                if (m->fd != fd) /* the handler closed the connection */
                    return;
            }
        }
        /* A short read took all there was: the watcher is level-triggered,
         * so anything arriving later is reported again. Not asking once more
         * saves a recv() that would fail with EAGAIN on every response. */
        if (!more)
            return;
    }
}

static void on_io(gw_io_t *io, uint32_t events, void *arg)
{
    mbt_t *m = arg;
    (void)io;

    switch (m->state) {
    case MBT_READY:
    case MBT_WAITING:
        if ((events & EPOLLOUT) && m->tx_off < m->tx_len) {
            flush_tx(m);
            if (m->fd < 0)
                return;
        }
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            read_input(m);
        break;
    default:
        gw_err("adapter '%s': socket event in state %s", gw_ctx_name(m->ctx),
               state_names[m->state]);
        close_fd(m);
    }
}

static void on_state_timer(gw_timer_t *t, void *arg)
{
    mbt_t *m = arg;
    (void)t;

    switch (m->state) {
    case MBT_BACKOFF:
        m->stats.reconnects++;
        connect_start(m);
        break;
    case MBT_WAITING:
        if (gw_clock_now_ms() < m->deadline_ms) {
            /* Armed for an earlier request, answered since: wait for this one. */
            gw_timer_start(loop_of(m), &m->state_timer, m->deadline_ms);
            break;
        }
        m->stats.timeouts++;
        if (m->req_kind != MBT_REQ_POLL) {
            mbt_write_timeout(m);
            break;
        }
        m->stats.reads_failed++;
        emit_batch_bad(m, m->batch, "timeout");
        if (m->once) { /* --test: a silent device is reported, not waited on */
            set_state(m, MBT_READY);
            once_failed(m, m->batch + 1, "timeout");
            return;
        }
        if (++m->consecutive_timeouts >= MBT_MAX_TIMEOUTS) {
            m->state = MBT_READY; /* the batch is already reported */
            fail_connection(m, "no response");
            return;
        }
        next_batch(m);
        break;
    case MBT_READY:
        break; /* the deadline of a request answered since (see send_batch) */
    default:
        gw_err("adapter '%s': timer in state %s", gw_ctx_name(m->ctx), state_names[m->state]);
    }
}

/*
 * The polling schedule: absolute, from a random phase, so a slow cycle never
 * shifts later ones and devices stay spread over the interval. The tick is
 * not armed while a cycle is in flight (a device slower than its interval,
 * or polled back to back, must not fire a timer per interval for nothing);
 * it is re-armed when the cycle ends, at the next due time of the schedule,
 * and the ticks that passed meanwhile are skipped and counted.
 *
 * advance_tick() moves next_tick_ms on to that due time and returns now.
 */
static uint64_t advance_tick(mbt_t *m)
{
    uint64_t now = gw_clock_now_ms();
    uint64_t missed;

    m->next_tick_ms = adp_next_due(m->next_tick_ms, m->interval_ms, now, &missed);
    if (missed) {
        m->stats.overruns++;
        m->stats.missed_ticks += missed;
    }
    return now;
}

static void arm_tick(mbt_t *m)
{
    advance_tick(m);
    gw_timer_start(loop_of(m), &m->tick, m->next_tick_ms);
}

/* The outbox holds the devices back (pacing or overflow: block): the tick is
 * parked rather than fired every interval for nothing (at a 1 ms interval
 * and thousands of devices that alone would saturate the loop), and
 * mbt_resume() puts it back on the schedule. */
static void park_tick(mbt_t *m)
{
    gw_timer_stop(loop_of(m), &m->tick);
    m->parked = true;
}

/* A cycle ended (answered, given up or cut by a lost connection). When the
 * next one is already due (a device polled back to back), it starts here, on
 * the same phase, without a round trip through the timer heap. */
static void cycle_ended(mbt_t *m)
{
    m->in_cycle = false;
    m->sample_ts_ms = 0;
    if (m->once) {
        once_finished(m);
        return;
    }
    if (!m->running || gw_timer_active(&m->tick))
        return;
    if (gw_ctx_blocked(m->ctx)) {
        park_tick(m);
        return;
    }
    if (advance_tick(m) >= m->next_tick_ms && m->state == MBT_READY) {
        start_cycle(m);
        return;
    }
    gw_timer_start(loop_of(m), &m->tick, m->next_tick_ms);
}

static void on_tick(gw_timer_t *t, void *arg)
{
    mbt_t *m = arg;
    (void)t;

    if (m->in_cycle) {
        gw_err("adapter '%s': tick during a cycle", gw_ctx_name(m->ctx));
        return; /* start_cycle() stopped it; cycle_ended() re-arms it */
    }
    if (m->state == MBT_WAITING) { /* a command holds the link */
        m->cycle_due = true;
        return; /* mbt_link_free() starts the cycle */
    }
    if (gw_ctx_blocked(m->ctx)) {
        m->stats.paced_ticks++;
        park_tick(m); /* this cycle is skipped, not queued */
        return;
    }
    if (m->state == MBT_READY) {
        start_cycle(m); /* the tick is re-armed when it ends */
        return;
    }
    arm_tick(m);
    if (m->state == MBT_CONNECTING && !m->last_error) {
        m->tick_missed = true; /* the first connection is on its way: poll when it is up */
        return;
    }
    m->sample_ts_ms = 0;
    emit_all_bad(m, m->last_error ? m->last_error : "not connected");
}

/* --- adapter interface ----------------------------------------------------- */

static void mbt_destroy(void *self);

static int mbt_create(const cfg_adapter_t *cfg, gw_ctx_t *ctx, void **self, cfg_error_t *err)
{
    mbt_t *m = calloc(1, sizeof(*m));
    int rc;

    if (!m)
        return -ENOMEM;
    m->ctx = ctx;
    m->fd = -1;
    if ((rc = mbt_read_config(m, cfg, err)) != 0) {
        mbt_destroy(m);
        return rc;
    }
    gw_timer_init(&m->state_timer, on_state_timer, m);
    gw_timer_init(&m->tick, on_tick, m);
    *self = m;
    return 0;
}

static int mbt_start(void *self)
{
    mbt_t *m = self;
    uint64_t now = gw_clock_now_ms();

    m->rng = (uint64_t)gw_clock_wall_ms() ^ ((uint64_t)(uintptr_t)m << 16) ^ 0x9e3779b97f4a7c15u;
    m->backoff_ms = m->backoff_min_ms;
    m->next_tid = (uint16_t)m->rng;
    m->running = true;
    adp_connector_init(&m->conn, loop_of(m), m->host, m->port, m->connect_timeout_ms, on_connect,
                       m);
    /* A random phase, uniform over the whole interval, spreads many devices
     * instead of sending every request in the same millisecond. */
    m->next_tick_ms = now + adp_phase(&m->rng, m->interval_ms);
    if ((m->once = gw_ctx_once(m->ctx))) {
        m->next_tick_ms = now; /* --test: read at once */
        if (!m->device && asprintf(&m->device, "%s:%u unit %u", m->host, m->port, m->unit_id) < 0)
            m->device = NULL;
    }
    m->tick_missed = false;
    m->parked = false;
    gw_timer_start(loop_of(m), &m->tick, m->next_tick_ms);
    connect_start(m);
    return 0;
}

static void mbt_stop(void *self)
{
    mbt_t *m = self;

    if (!m->running)
        return;
    once_failed(m, m->in_cycle ? m->batch : 0, "no answer within the test's time");
    mbt_write_abort(m, "the adapter stopped");
    m->running = false;
    gw_timer_stop(loop_of(m), &m->tick);
    gw_timer_stop(loop_of(m), &m->state_timer);
    adp_connector_cancel(&m->conn);
    close_fd(m);
    set_online(m, false);
    set_state(m, MBT_IDLE);
    gw_info("adapter '%s': stopped: %llu reads ok, %llu failed (%llu timeouts, %llu "
            "exceptions), %llu discarded, %llu malformed, %llu reconnects, %llu cycles over "
            "the interval (%llu ticks skipped), %llu ticks held back by the outbox",
            gw_ctx_name(m->ctx), (unsigned long long)m->stats.reads_ok,
            (unsigned long long)m->stats.reads_failed, (unsigned long long)m->stats.timeouts,
            (unsigned long long)m->stats.exceptions, (unsigned long long)m->stats.discarded,
            (unsigned long long)m->stats.malformed, (unsigned long long)m->stats.reconnects,
            (unsigned long long)m->stats.overruns, (unsigned long long)m->stats.missed_ticks,
            (unsigned long long)m->stats.paced_ticks);
}

/* The outbox takes readings again: a parked tick goes back on the schedule,
 * at its next due time; the ticks it skipped are counted. */
static void mbt_resume(void *self)
{
    mbt_t *m = self;
    uint64_t missed;

    if (!m->running || !m->parked)
        return;
    m->parked = false;
    m->next_tick_ms = adp_next_due(m->next_tick_ms, m->interval_ms, gw_clock_now_ms(), &missed);
    m->stats.paced_ticks += missed;
    gw_timer_start(loop_of(m), &m->tick, m->next_tick_ms);
}

static void mbt_destroy(void *self)
{
    mbt_t *m = self;

    if (!m)
        return;
    mb_plan_free(&m->plan);
    mbt_write_free(m);
    free(m->points);
    free(m->device);
    free(m);
}

static void mbt_stats(const void *self, adp_stats_t *out)
{
    const mbt_t *m = self;

    out->reads_ok = m->stats.reads_ok;
    out->reads_failed = m->stats.reads_failed;
    out->reconnects = m->stats.reconnects;
}

static uint64_t mbt_longest_wait_ms(const void *self)
{
    const mbt_t *m = self;

    return m->connect_timeout_ms + m->timeout_ms * m->plan.n_batches;
}

const adp_ops_t adp_modbus_tcp_ops = {
    .kind = "modbus_tcp",
    .once = true,
    .create = mbt_create,
    .start = mbt_start,
    .stop = mbt_stop,
    .destroy = mbt_destroy,
    .resume = mbt_resume,
    .stats = mbt_stats,
    .longest_wait_ms = mbt_longest_wait_ms,
    .writable = mbt_writable,
    .write = mbt_write,
};

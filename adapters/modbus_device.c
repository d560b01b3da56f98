/*
 * One Modbus device on a link (modbus_tcp.c): its polling schedule, its
 * cycle of batches and what it publishes.
 *
 * Every `interval` a cycle reads the device's planned batches. The device
 * does not own the wire: it queues for it, one batch per turn, behind the
 * other devices of the link (first come, first served), so a device with
 * many batches cannot starve one with a few. A timeout, an exception or a
 * lost link publishes the affected points with quality bad and the cause;
 * while the link is down each tick publishes every point as bad, so
 * subscribers see the outage at the configured rate.
 *
 * On a devices: list a device that does not answer costs its timeout once:
 * a cycle in which it answered nothing puts it in a backoff (jittered,
 * doubling from backoff_min to backoff_max) during which it is not polled,
 * its ticks publishing "no response", so a dead meter cannot take the bus
 * time of the live ones. When the backoff is over one request probes it: a
 * timeout backs it off again at once, without trying the rest of its cycle;
 * an answer brings it back to its rate. A device that answers some requests
 * and lets others time out (a point it is slow to read) is alive: only those
 * requests fail.
 */
#include <stdio.h>
#include <stdlib.h>

#include "adapters/modbus_tcp.h"
#include "gateway/clock.h"
#include "gateway/error.h"
#include "gateway/log.h"

static gw_loop_t *loop_of(const mbt_t *d)
{
    return gw_ctx_loop(d->ctx);
}

/* --- publishing ------------------------------------------------------------ */

static void emit_point(mbt_t *d, mbt_point_t *pt, const mb_value_t *v, const char *error,
                       const uint16_t *raw, size_t n_raw)
{
    gw_reading_t r = {0};

    r.device = d->label;
    r.order = d->order_base + (uint32_t)(pt - d->points) + 1;
    r.raw = raw;
    r.n_raw = (uint8_t)n_raw;

    r.sensor = pt->name;
    r.seq = ++pt->seq;
    r.ts_ms = d->sample_ts_ms ? d->sample_ts_ms : gw_clock_wall_ms();
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
    gw_ctx_emit(d->ctx, &r);
}

static mbt_point_t *batch_point(mbt_t *d, const mb_batch_t *b, size_t k)
{
    return &d->points[d->plan.points[b->first + k]];
}

static void emit_batch_bad(mbt_t *d, size_t batch, const char *error)
{
    const mb_batch_t *b = &d->plan.batches[batch];

    for (size_t k = 0; k < b->n_points; k++)
        emit_point(d, batch_point(d, b, k), NULL, error, NULL, 0);
}

void mbt_emit_bad(mbt_t *d, mbt_point_t *pt, const char *error)
{
    emit_point(d, pt, NULL, error, NULL, 0);
}

void mbt_emit_read(mbt_t *d, mbt_point_t *pt, const mb_response_t *resp, size_t off)
{
    uint16_t regs[MB_MAX_REGISTERS];
    mb_value_t v;

    if (mb_table_is_bits(pt->p.table)) {
        mb_decode_bit(&pt->p, mb_bit(resp, off), &v);
        emit_point(d, pt, &v, NULL, NULL, 0);
        return;
    }
    for (size_t w = 0; w < mb_point_width(&pt->p); w++)
        regs[w] = mb_register(resp, off + w);
    if (mb_decode_registers(&pt->p, regs, &v) != 0)
        emit_point(d, pt, NULL, "invalid value", regs, mb_point_width(&pt->p));
    else
        emit_point(d, pt, &v, NULL, regs, mb_point_width(&pt->p));
}

static void emit_batch(mbt_t *d, const mb_response_t *resp)
{
    const mb_batch_t *b = &d->plan.batches[d->batch];

    for (size_t k = 0; k < b->n_points; k++) {
        mbt_point_t *pt = batch_point(d, b, k);

        mbt_emit_read(d, pt, resp, (size_t)(pt->p.address - b->address));
    }
}

static void emit_all_bad(mbt_t *d, const char *error)
{
    for (size_t i = 0; i < d->plan.n_batches; i++)
        emit_batch_bad(d, i, error);
}

/* --- --test ------------------------------------------------------------------ */

/* The one cycle is over, every point reported; nothing more is scheduled for
 * the device. When every device of the link is done, so is the adapter. */
static void once_finished(mbt_t *d)
{
    mbl_t *l = d->link;

    if (!l->once || d->once_done)
        return;
    d->once_done = true;
    gw_timer_stop(loop_of(d), &d->tick);
    if (--l->once_left == 0) {
        gw_timer_stop(loop_of(d), &l->state_timer);
        gw_ctx_done(d->ctx);
    }
}

/* The batches from `first` on are reported bad with the cause, and the
 * device's test is over. */
static void once_failed_from(mbt_t *d, size_t first, const char *cause)
{
    for (size_t i = first; d->link->once && !d->once_done && i < d->plan.n_batches; i++)
        emit_batch_bad(d, i, cause);
    once_finished(d);
}

void mbt_once_failed(mbt_t *d, const char *cause)
{
    once_failed_from(d, d->in_cycle ? d->batch : 0, cause);
}

/* --- the schedule ------------------------------------------------------------ */

/*
 * Absolute, from a random phase, so a slow cycle never shifts later ones and
 * devices stay spread over the interval; or, with `phase: aligned`, on the
 * multiples of the interval on the wall clock, found again after a step of
 * that clock (adp_first_due(), adp_next_due()). The tick is not armed while a cycle
 * is in flight (a device slower than its interval, or polled back to back,
 * must not fire a timer per interval for nothing); it is re-armed when the
 * cycle ends, at the next due time of the schedule, and the ticks that
 * passed meanwhile are skipped and counted.
 *
 * advance_tick() moves next_tick_ms on to that due time and returns now.
 */
static uint64_t advance_tick(mbt_t *d)
{
    uint64_t now = gw_clock_now_ms();
    uint64_t missed;

    d->next_tick_ms = adp_next_due(d->next_tick_ms, d->interval_ms, now, d->link->aligned, &missed);
    if (missed) {
        d->stats.overruns++;
        d->stats.missed_ticks += missed;
    }
    return now;
}

static void arm_tick(mbt_t *d)
{
    advance_tick(d);
    gw_timer_start(loop_of(d), &d->tick, d->next_tick_ms);
}

/* The outbox holds the devices back (pacing or overflow: block): the tick is
 * parked rather than fired every interval for nothing (at a 1 ms interval
 * and thousands of devices that alone would saturate the loop), and
 * mbt_resume() puts it back on the schedule. */
static void park_tick(mbt_t *d)
{
    gw_timer_stop(loop_of(d), &d->tick);
    d->parked = true;
}

static void start_cycle(mbt_t *d)
{
    gw_timer_stop(loop_of(d), &d->tick); /* re-armed when the cycle ends */
    d->in_cycle = true;
    d->tick_missed = false;
    d->batch = 0;
    mbl_enqueue(d->link, d);
}

/* A device on a list answered nothing in a cycle, or a probe after its
 * backoff timed out: it is not polled for the next wait. */
static void go_silent(mbt_t *d)
{
    mbl_t *l = d->link;
    uint64_t wait = adp_jitter(&l->rng, d->silent_backoff_ms);

    if (!d->silent_until_ms)
        gw_warn("adapter '%s': device '%s' (unit %u) does not answer; polling it again in %.1f s",
                gw_ctx_name(d->ctx), d->name, d->unit_id, wait / 1000.0);
    d->silent_until_ms = gw_clock_now_ms() + wait;
    d->silent_backoff_ms =
        d->silent_backoff_ms * 2 > l->backoff_max_ms ? l->backoff_max_ms : d->silent_backoff_ms * 2;
}

/* A silent device on a list waits out its backoff. */
static bool backed_off(const mbt_t *d)
{
    return d->link->list && d->silent_until_ms > gw_clock_now_ms();
}

/* A cycle ended (answered, given up or cut by a lost link). When the next
 * one is already due (a device polled back to back), it starts here, on the
 * same phase, without a round trip through the timer heap. */
static void cycle_ended(mbt_t *d)
{
    d->in_cycle = false;
    d->sample_ts_ms = 0;
    if (d->link->once) {
        once_finished(d);
        return;
    }
    if (d->link->list) {
        if (!d->answered && d->timed_out && !backed_off(d))
            go_silent(d);
        d->answered_last = d->answered;
        d->answered = d->timed_out = false;
    }
    if (!d->link->running || gw_timer_active(&d->tick))
        return;
    if (gw_ctx_blocked(d->ctx)) {
        park_tick(d);
        return;
    }
    if (d->link->list && mbl_up(d->link) && !backed_off(d)) {
        /* On a shared link a device waits for the others' requests (or a
         * silent one's timeout): the last tick that came due meanwhile is
         * served late, now, rather than skipped; only those before it are
         * skipped (and counted). */
        uint64_t now = gw_clock_now_ms();

        if (now >= d->next_tick_ms + d->interval_ms) {
            uint64_t passed = (now - d->next_tick_ms) / d->interval_ms;

            if (passed > 1) {
                d->stats.overruns++;
                d->stats.missed_ticks += passed - 1;
            }
            d->next_tick_ms += passed * d->interval_ms;
            start_cycle(d);
            return;
        }
    }
    if (advance_tick(d) >= d->next_tick_ms && mbl_up(d->link) && !backed_off(d)) {
        start_cycle(d);
        return;
    }
    gw_timer_start(loop_of(d), &d->tick, d->next_tick_ms);
}

static void on_tick(gw_timer_t *t, void *arg)
{
    mbt_t *d = arg;
    mbl_t *l = d->link;
    (void)t;

    if (d->in_cycle) {
        gw_err("adapter '%s': tick during a cycle", gw_ctx_name(d->ctx));
        return; /* start_cycle() stopped it; cycle_ended() re-arms it */
    }
    if (gw_ctx_blocked(d->ctx)) {
        d->stats.paced_ticks++;
        park_tick(d); /* this cycle is skipped, not queued */
        return;
    }
    if (mbl_up(l) && !backed_off(d)) {
        start_cycle(d); /* the tick is re-armed when it ends */
        return;
    }
    arm_tick(d);
    d->sample_ts_ms = 0;
    if (mbl_up(l)) {
        d->stats.backed_off++;
        emit_all_bad(d, "no response");
        return;
    }
    if (l->state == MBT_CONNECTING && !l->last_error) {
        d->tick_missed = true; /* the first connection is on its way: poll when it is up */
        return;
    }
    emit_all_bad(d, mbl_down_cause(l));
}

/* --- the cycle --------------------------------------------------------------- */

void mbt_send_batch(mbt_t *d)
{
    mbl_t *l = d->link;
    const mb_batch_t *b = &d->plan.batches[d->batch];
    int n;

    l->req.tid = mbl_tid(l);
    l->req.unit = d->unit_id;
    l->req.fc = mb_table_fc(b->table);
    l->req.address = b->address;
    l->req.quantity = b->count;
    n = mb_encode_read(&l->req, l->tx, sizeof(l->tx));
    if (n < 0) { /* the plan made it: cannot happen */
        gw_err("adapter '%s': cannot encode a read request: %s", gw_ctx_name(d->ctx),
               gw_strerror(n));
        abort();
    }
    d->sample_ts_ms = gw_clock_wall_ms();
    mbl_send(l, d, l->tx, (size_t)n, MBT_REQ_POLL);
}

/* The current batch is answered (or given up): the next one queues for the
 * wire, or the cycle is over. */
static void next_batch(mbt_t *d)
{
    if (++d->batch < d->plan.n_batches)
        mbl_enqueue(d->link, d);
    else
        cycle_ended(d);
}

void mbt_poll_answer(mbt_t *d, const mb_response_t *resp)
{
    if (resp->exception) {
        d->stats.exceptions++;
        d->stats.reads_failed++;
        emit_batch_bad(d, d->batch, mb_exception_name(resp->exception_code));
    } else {
        d->stats.reads_ok++;
        emit_batch(d, resp);
    }
    d->answered = true;
    if (d->silent_until_ms)
        gw_info("adapter '%s': device '%s' (unit %u) answers again", gw_ctx_name(d->ctx), d->name,
                d->unit_id);
    d->silent_until_ms = 0;
    d->silent_backoff_ms = d->link->backoff_min_ms;
    next_batch(d);
}

void mbt_poll_failed(mbt_t *d, const char *cause, bool timeout)
{
    mbl_t *l = d->link;

    d->stats.reads_failed++;
    if (timeout)
        d->stats.timeouts++;
    emit_batch_bad(d, d->batch, cause);
    if (l->once) { /* --test: a silent device is reported, not waited on */
        if (timeout) {
            once_failed_from(d, d->batch + 1, cause);
            d->in_cycle = false;
            return;
        }
        next_batch(d);
        return;
    }
    if (timeout && l->list) {
        d->timed_out = true;
        if (!d->answered && !d->answered_last) {
            /* Silent in its last cycle and again now: the rest of this one
             * is reported without asking, and the device waits. */
            for (size_t i = d->batch + 1; i < d->plan.n_batches; i++)
                emit_batch_bad(d, i, cause);
            go_silent(d);
            d->batch = d->plan.n_batches;
        }
    }
    next_batch(d);
}

void mbt_write_timed_out(mbt_t *d)
{
    d->stats.timeouts++;
    if (d->link->list && !d->link->once && !d->answered && !d->answered_last && !backed_off(d))
        go_silent(d); /* silent in its last cycle, and now to a command too */
}

void mbt_link_lost(mbt_t *d, bool polling, bool writing, const char *cause)
{
    if (polling)
        emit_batch_bad(d, d->batch, cause);
    mbt_write_abort(d, cause, writing); /* commands: the one on the wire failed, none waits */
    d->queued = false;
    d->answered_last = true; /* not known when the link is back */
    if (d->link->once) {     /* --test: no reconnect; what is not read yet is reported */
        once_failed_from(d, d->in_cycle ? d->batch + polling : 0, cause);
        d->in_cycle = false;
        return;
    }
    if (d->in_cycle)
        cycle_ended(d);
}

/* --- lifecycle ----------------------------------------------------------------- */

void mbt_start(mbt_t *d, uint64_t now)
{
    mbl_t *l = d->link;

    gw_timer_init(&d->tick, on_tick, d);
    /* Devices whose polls fall due close together share a wake-up. */
    gw_timer_set_grid(&d->tick, l->aligned ? 0 : gw_interval_grid(d->interval_ms));
    /* A random phase, uniform over the whole interval, spreads many devices
     * instead of sending every request in the same millisecond; aligned,
     * every device of an interval polls at the same multiples of it. */
    d->next_tick_ms = l->once ? now : adp_first_due(&l->rng, d->interval_ms, now, l->aligned);
    d->tick_missed = false;
    d->parked = false;
    d->in_cycle = false;
    d->queued = false;
    d->once_done = false;
    d->silent_until_ms = 0;
    d->silent_backoff_ms = l->backoff_min_ms;
    d->answered = d->timed_out = false;
    d->answered_last = true;
    if (l->once && !d->label) {
        int n = l->transport == MBL_TCP
                    ? asprintf(&d->label, "%s:%u unit %u", l->host, l->port, d->unit_id)
                    : asprintf(&d->label, "%s unit %u", l->serial.path, d->unit_id);

        if (n < 0)
            d->label = NULL;
    }
    gw_timer_start(loop_of(d), &d->tick, d->next_tick_ms);
}

/* The link is up: a tick that came while the first connection was on its
 * way is served now. */
void mbt_connected(mbt_t *d)
{
    if (!d->tick_missed)
        return;
    d->tick_missed = false;
    if (gw_ctx_blocked(d->ctx))
        park_tick(d);
    else
        start_cycle(d);
}

void mbt_stop(mbt_t *d)
{
    const mbl_t *l = d->link;

    once_failed_from(d, d->in_cycle ? d->batch : 0, "no answer within the test's time");
    mbt_write_abort(d, "the adapter stopped",
                    l->state == MBT_WAITING && l->cur == d && l->req_kind == MBT_REQ_WRITE &&
                        !l->tx_held);
    gw_timer_stop(loop_of(d), &d->tick);
    d->in_cycle = false;
    d->queued = false;
}

/* The outbox takes readings again: a parked tick goes back on the schedule,
 * at its next due time; the ticks it skipped are counted. */
void mbt_resume(mbt_t *d)
{
    uint64_t missed;

    if (!d->parked)
        return;
    d->parked = false;
    d->next_tick_ms =
        adp_next_due(d->next_tick_ms, d->interval_ms, gw_clock_now_ms(), d->link->aligned, &missed);
    d->stats.paced_ticks += missed;
    gw_timer_start(loop_of(d), &d->tick, d->next_tick_ms);
}

void mbt_free(mbt_t *d)
{
    for (size_t i = 0; d->name && d->points && i < d->n_points; i++)
        free((char *)d->points[i].name); /* "device/point", composed for the list */
    mb_plan_free(&d->plan);
    mbt_write_free(d);
    free(d->points);
    free(d->label);
}

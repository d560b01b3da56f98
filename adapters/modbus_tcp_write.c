/*
 * Write-back for Modbus TCP devices: commands for writable points
 * (docs/commands.md), on the same connection as the polls.
 *
 * A command's value is encoded when it arrives (modbus_point.h), so a value
 * the point cannot hold is refused before anything reaches the wire. It then
 * waits in a per-device FIFO of max_pending_writes; when the link is free
 * (no request on the wire) a waiting command goes before the next poll
 * batch, one request at a time. A bit of a holding register is written as
 * read-modify-write: the register is read, the bit set or cleared, the
 * register written (not atomic on the device: another master writing the
 * same register in between loses its change). After the device confirms,
 * the result is published and the point is read back at once, so the new
 * reading comes before the next poll. A write that times out is reported as
 * failed and never sent again (the device may have applied it). A device
 * that is not connected refuses commands at once; nothing is kept for later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/modbus_tcp.h"
#include "gateway/clock.h"
#include "gateway/command_json.h"
#include "gateway/log.h"

/* The i-th writable point of the adapter: its device and index, or false. */
static bool writable_at(const mbl_t *l, size_t i, mbt_t **dev, size_t *k)
{
    for (size_t n = 0; n < l->n_devs; n++) {
        mbt_t *d = &l->devs[n];

        for (size_t j = 0; j < d->n_points; j++) {
            if (d->points[j].writable && i-- == 0) {
                *dev = d;
                *k = j;
                return true;
            }
        }
    }
    return false;
}

const char *mbt_writable(const void *self, size_t i)
{
    mbt_t *d;
    size_t k;

    return writable_at(self, i, &d, &k) ? d->points[k].name : NULL;
}

static bool register_bit(const mb_point_t *p)
{
    return p->table == MB_TABLE_HOLDING && p->type == MB_TYPE_BOOL;
}

/* The command's value as the point's codec takes it. */
static int input_of(const cj_value_t *v, mb_input_t *in, const char **why)
{
    memset(in, 0, sizeof(*in));
    switch (v->kind) {
    case CJ_BOOL:
        in->kind = MB_IN_BOOL;
        in->b = v->b;
        return 0;
    case CJ_NUMBER:
        in->kind = MB_IN_NUMBER;
        in->d = v->d;
        in->is_int = v->is_int;
        in->neg = v->neg;
        in->mag = v->mag;
        return 0;
    case CJ_STRING:
        in->kind = MB_IN_STRING;
        in->s = v->s;
        in->s_len = v->s_len;
        return 0;
    default:
        *why = "\"value\" must be a number, true, false or a string";
        return -EINVAL;
    }
}

/* Encodes the command's value into p; 0 or the refusal in *why. */
static int encode(const mbt_t *m, mbt_pending_t *p, const char **why)
{
    const mbt_point_t *pt = &m->points[p->point];
    mb_input_t in;
    uint16_t scratch;

    if (input_of(gw_command_value(p->cmd), &in, why) != 0)
        return -EINVAL;
    if (pt->p.table == MB_TABLE_COIL)
        return mb_encode_bit(&pt->p, &in, &p->bit, why);
    if (register_bit(&pt->p)) /* checked now; encoded on the register read */
        return mb_encode_register_bit(&pt->p, &in, 0, &scratch, why);
    if (mb_point_width(&pt->p) > MB_MAX_WRITE_REGISTERS) {
        *why = "too wide to write in one request";
        return -ERANGE;
    }
    return mb_encode_registers(&pt->p, &in, p->regs, why);
}

void mbt_write(void *self, size_t i, gw_command_t *cmd)
{
    mbl_t *l = self;
    mbt_t *m;
    size_t k;
    const char *why = NULL;

    if (!writable_at(l, i, &m, &k)) {
        gw_command_refuse(cmd, "not writable");
        return;
    }
    mbt_pending_t p = {.cmd = cmd, .point = k};

    if (encode(m, &p, &why) != 0) {
        gw_command_refuse(cmd, why ? why : "cannot be written");
        return;
    }
    if (!mbl_up(l)) {
        gw_command_refuse(cmd, "not connected");
        return;
    }
    if (l->list && m->silent_until_ms > gw_clock_now_ms()) { /* it would hold the line */
        gw_command_refuse(cmd, "no response");
        return;
    }
    if (!m->wq && !(m->wq = calloc(1, sizeof(*m->wq)))) {
        gw_command_refuse(cmd, "out of memory");
        return;
    }
    if (!m->wq->q && !(m->wq->q = calloc(m->max_pending_writes, sizeof(*m->wq->q)))) {
        gw_command_refuse(cmd, "out of memory");
        return;
    }
    if (m->wq->len + m->wq->has_cur >= m->max_pending_writes) {
        gw_command_refuse(cmd, "busy");
        return;
    }
    m->wq->q[(m->wq->head + m->wq->len++) % m->max_pending_writes] = p;
    mbl_kick(l);
}

/* --- requests ---------------------------------------------------------------- */

/* A read of one point (the register before a bit is set, or a read-back). */
static void send_read(mbt_t *m, const mbt_point_t *pt, mbt_req_kind_t kind)
{
    mb_request_t *req = &m->link->req;
    int n;

    req->tid = mbl_tid(m->link);
    req->unit = m->unit_id;
    req->fc = mb_table_fc(pt->p.table);
    req->address = pt->p.address;
    req->quantity = mb_point_width(&pt->p);
    if (kind == MBT_REQ_RMW_READ)
        req->quantity = 1;
    n = mb_encode_read(req, m->wq->tx, sizeof(m->wq->tx));
    if (n < 0) { /* a configured point always encodes */
        gw_err("adapter '%s': cannot encode a read of '%s'", gw_ctx_name(m->ctx), pt->name);
        abort();
    }
    m->sample_ts_ms = gw_clock_wall_ms();
    mbl_send(m->link, m, m->wq->tx, (size_t)n, kind);
}

static uint8_t write_fc(const mbt_t *m, const mbt_point_t *pt)
{
    if (pt->p.table == MB_TABLE_COIL)
        return m->write_fn == MBT_WRITE_MULTIPLE ? MB_FC_WRITE_MULTIPLE_COILS
                                                 : MB_FC_WRITE_SINGLE_COIL;
    if (m->write_fn == MBT_WRITE_MULTIPLE ||
        (m->write_fn == MBT_WRITE_AUTO && mb_point_width(&pt->p) > 1))
        return MB_FC_WRITE_MULTIPLE_REGISTERS;
    return MB_FC_WRITE_SINGLE_REGISTER;
}

static void send_write(mbt_t *m)
{
    mbt_wq_t *wq = m->wq;
    const mbt_point_t *pt = &m->points[wq->cur.point];
    int n;

    wq->w = (mb_write_t){.tid = mbl_tid(m->link),
                         .unit = m->unit_id,
                         .fc = write_fc(m, pt),
                         .address = pt->p.address,
                         .quantity = pt->p.table == MB_TABLE_COIL ? 1 : mb_point_width(&pt->p),
                         .regs = wq->cur.regs,
                         .bits = &wq->cur.bit};
    n = mb_encode_write(&wq->w, wq->tx, sizeof(wq->tx));
    if (n < 0) {
        wq->has_cur = false;
        gw_command_fail(wq->cur.cmd, "cannot encode the request");
        mbl_kick(m->link);
        return;
    }
    mbl_send(m->link, m, wq->tx, (size_t)n, MBT_REQ_WRITE);
}

bool mbt_write_next(mbt_t *m)
{
    mbt_wq_t *wq = m->wq;

    if (!wq)
        return false;
    if (wq->readback) {
        wq->readback = false;
        send_read(m, &m->points[wq->readback_point], MBT_REQ_READBACK);
        return true;
    }
    if (wq->has_cur || wq->len == 0)
        return false;
    if (m->link->list && m->silent_until_ms > gw_clock_now_ms()) {
        /* The device stopped answering while these waited: each would hold
         * the line for its timeout. */
        while (wq->len > 0) {
            gw_command_refuse(wq->q[wq->head].cmd, "no response");
            wq->head = (wq->head + 1) % m->max_pending_writes;
            wq->len--;
        }
        return false;
    }
    wq->cur = wq->q[wq->head];
    wq->head = (wq->head + 1) % m->max_pending_writes;
    wq->len--;
    wq->has_cur = true;
    if (register_bit(&m->points[wq->cur.point].p))
        send_read(m, &m->points[wq->cur.point], MBT_REQ_RMW_READ);
    else
        send_write(m);
    return true;
}

/* --- responses --------------------------------------------------------------- */

static void discarded(mbt_t *m, const mb_response_t *resp, int match)
{
    m->link->discarded++;
    gw_debug("adapter '%s': discarded a response (tid %u, function %u): %s", gw_ctx_name(m->ctx),
             resp->tid, resp->fc, mb_status_name(match));
}

/* The command on the wire is answered: the result, then (written) the
 * read-back. */
static void finish(mbt_t *m, const char *error, bool sent)
{
    mbt_wq_t *wq = m->wq;
    gw_command_t *cmd = wq->cur.cmd;

    wq->has_cur = false;
    if (!error) {
        wq->readback = true;
        wq->readback_point = wq->cur.point;
        gw_command_done(cmd);
    } else if (sent) {
        gw_command_fail(cmd, error);
    } else {
        gw_command_refuse(cmd, error);
    }
    mbl_done(m->link);
}

static void rmw_read(mbt_t *m, const mb_response_t *resp)
{
    mbt_wq_t *wq = m->wq;
    const mbt_point_t *pt = &m->points[wq->cur.point];
    const char *why = NULL;
    mb_input_t in;

    if (resp->exception) {
        finish(m, mb_exception_name(resp->exception_code), false);
        return;
    }
    if (input_of(gw_command_value(wq->cur.cmd), &in, &why) != 0 ||
        mb_encode_register_bit(&pt->p, &in, mb_register(resp, 0), &wq->cur.regs[0], &why) != 0) {
        finish(m, why ? why : "cannot be written", false);
        return;
    }
    send_write(m);
}

void mbt_write_frame(mbt_t *m, const mb_response_t *resp)
{
    mbt_wq_t *wq = m->wq;
    mbl_t *l = m->link;
    int match =
        l->req_kind == MBT_REQ_WRITE ? mb_match_write(&wq->w, resp) : mb_match(&l->req, resp);

    if (match != MB_MATCH) {
        discarded(m, resp, match);
        return;
    }
    l->consecutive_timeouts = 0;
    switch (l->req_kind) {
    case MBT_REQ_RMW_READ:
        rmw_read(m, resp);
        return;
    case MBT_REQ_WRITE:
        if (resp->exception) {
            m->stats.exceptions++;
            finish(m, mb_exception_name(resp->exception_code), true);
        } else {
            finish(m, NULL, true);
        }
        return;
    case MBT_REQ_READBACK:
        if (resp->exception)
            mbt_emit_bad(m, &m->points[wq->readback_point],
                         mb_exception_name(resp->exception_code));
        else
            mbt_emit_read(m, &m->points[wq->readback_point], resp, 0);
        m->sample_ts_ms = 0;
        mbl_done(m->link);
        return;
    case MBT_REQ_POLL:
        break;
    }
}

void mbt_write_failed(mbt_t *m, const char *cause)
{
    mbt_wq_t *wq = m->wq;

    switch (m->link->req_kind) {
    case MBT_REQ_RMW_READ:
        finish(m, cause, false); /* nothing written yet */
        return;
    case MBT_REQ_WRITE:
        finish(m, cause, true); /* maybe applied: never sent again */
        return;
    case MBT_REQ_READBACK:
        mbt_emit_bad(m, &m->points[wq->readback_point], cause);
        m->sample_ts_ms = 0;
        mbl_done(m->link);
        return;
    case MBT_REQ_POLL:
        break;
    }
}

void mbt_write_abort(mbt_t *m, const char *cause, bool on_wire)
{
    mbt_wq_t *wq = m->wq;

    if (!wq)
        return;
    wq->readback = false;
    if (wq->has_cur) {
        wq->has_cur = false;
        if (on_wire)
            gw_command_fail(wq->cur.cmd, cause); /* it may have been applied */
        else
            gw_command_refuse(wq->cur.cmd, cause);
    }
    while (wq->len > 0) {
        gw_command_t *cmd = wq->q[wq->head].cmd;

        wq->head = (wq->head + 1) % m->max_pending_writes;
        wq->len--;
        gw_command_refuse(cmd, "not connected");
    }
}

void mbt_write_free(mbt_t *m)
{
    if (!m->wq)
        return;
    free(m->wq->q);
    free(m->wq);
    m->wq = NULL;
}

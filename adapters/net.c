/* Non-blocking TCP client helpers; see net.h. */
#include "adapters/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "gateway/clock.h"
#include "gateway/log.h"

int adp_connect_start(const adp_addr_t *addr, int *fd)
{
    int one = 1;
    int s = socket(addr->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    *fd = -1;
    if (s < 0)
        return -errno;
    /* Requests are small and latency matters more than packet count. */
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(s, &addr->u.sa, addr->len) == 0) {
        *fd = s;
        return 0;
    }
    if (errno == EINPROGRESS) {
        *fd = s;
        return -EINPROGRESS;
    }
    int err = -errno;
    close(s);
    return err;
}

int adp_connect_result(int fd)
{
    int so_error = 0;
    socklen_t len = sizeof(so_error);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
        return -errno;
    return -so_error;
}

const char *adp_connect_error(int err)
{
    switch (-err) {
    case ECONNREFUSED:
        return "connection refused";
    case EHOSTUNREACH:
        return "host unreachable";
    case ENETUNREACH:
        return "network unreachable";
    case ETIMEDOUT:
        return "connect timeout";
    case EMFILE:
    case ENFILE:
        return "too many open files";
    default:
        return "cannot connect";
    }
}

/* --- the connector ---------------------------------------------------------------
 *
 *   IDLE -> RESOLVING -> CONNECTING (address k, k+1, ...) -> IDLE (callback)
 *   A result known inside adp_connector_start() (a numeric host that refuses
 *   or connects at once) goes through REPORTING: a timer due now delivers it
 *   on the next iteration, so the caller is never called back re-entrantly.
 */

static const char *const cn_state_names[] = {"idle", "resolving", "connecting", "reporting"};

static void cn_on_io(gw_io_t *io, uint32_t events, void *arg);

static void cn_set_state(adp_connector_t *c, adp_cn_state_t state)
{
    gw_debug("connector %s:%u: %s -> %s", c->host, c->port, cn_state_names[c->state],
             cn_state_names[state]);
    c->state = state;
}

static void cn_deliver(adp_connector_t *c)
{
    int fd = c->fd;

    c->fd = -1;
    cn_set_state(c, ADP_CN_IDLE);
    c->cb(c->arg, fd, fd >= 0 ? 0 : c->err, fd >= 0 ? NULL : c->cause);
}

/* The outcome is known: deliver it now, or on the next iteration when the
 * caller is still inside adp_connector_start(). */
static void cn_finish(adp_connector_t *c, bool deferred)
{
    if (!deferred) {
        cn_deliver(c);
        return;
    }
    cn_set_state(c, ADP_CN_REPORTING);
    gw_timer_start(c->loop, &c->timer, gw_clock_now_ms());
}

static void cn_fail(adp_connector_t *c, int err, const char *cause, bool deferred)
{
    c->fd = -1;
    c->err = err;
    c->cause = cause;
    cn_finish(c, deferred);
}

static void cn_close(adp_connector_t *c)
{
    if (c->fd < 0)
        return;
    gw_io_stop(c->loop, &c->io);
    gw_timer_stop(c->loop, &c->timer);
    close(c->fd);
    c->fd = -1;
}

/* Tries the addresses from c->next on until one is connecting or connected. */
static void cn_try_next(adp_connector_t *c, bool deferred)
{
    while (c->next < c->addrs.n) {
        int rc = adp_connect_start(&c->addrs.a[c->next++], &c->fd);

        if (rc == 0) {
            cn_finish(c, deferred);
            return;
        }
        if (rc != -EINPROGRESS) {
            c->err = rc; /* e.g. EAFNOSUPPORT for ::1 without IPv6: next address */
            continue;
        }
        gw_io_init(&c->io, c->fd, cn_on_io, c);
        if ((rc = gw_io_start(c->loop, &c->io, EPOLLOUT)) != 0) {
            close(c->fd);
            c->fd = -1;
            c->err = rc;
            continue;
        }
        cn_set_state(c, ADP_CN_CONNECTING);
        gw_timer_start(c->loop, &c->timer, gw_clock_now_ms() + c->timeout_ms);
        return;
    }
    cn_fail(c, c->err, adp_connect_error(c->err), deferred);
}

/* The socket of the address being tried is writable (connected) or failed. */
static void cn_on_io(gw_io_t *io, uint32_t events, void *arg)
{
    adp_connector_t *c = arg;
    int rc = adp_connect_result(io->fd);
    (void)events;

    if (c->state != ADP_CN_CONNECTING) {
        gw_err("connector %s:%u: socket event in state %s", c->host, c->port,
               cn_state_names[c->state]);
        return;
    }
    if (rc == 0) {
        gw_io_stop(c->loop, &c->io);
        gw_timer_stop(c->loop, &c->timer);
        cn_deliver(c); /* hands c->fd over */
        return;
    }
    cn_close(c);
    c->err = rc;
    cn_try_next(c, false);
}

static void cn_on_timer(gw_timer_t *t, void *arg)
{
    adp_connector_t *c = arg;
    (void)t;

    switch (c->state) {
    case ADP_CN_CONNECTING:
        cn_close(c);
        c->err = -ETIMEDOUT;
        cn_try_next(c, false);
        break;
    case ADP_CN_REPORTING:
        cn_deliver(c);
        break;
    default:
        gw_err("connector %s:%u: timer in state %s", c->host, c->port, cn_state_names[c->state]);
    }
}

static void cn_on_resolved(void *arg, int status, const adp_addrs_t *addrs)
{
    adp_connector_t *c = arg;

    c->lookup = NULL;
    if (c->state != ADP_CN_RESOLVING) {
        gw_err("connector %s:%u: address in state %s", c->host, c->port, cn_state_names[c->state]);
        return;
    }
    if (status < 0) {
        cn_fail(c, status, "cannot resolve host", false);
        return;
    }
    c->addrs = *addrs;
    c->next = 0;
    c->err = -EHOSTUNREACH;
    cn_try_next(c, false);
}

void adp_connector_init(adp_connector_t *c, gw_loop_t *loop, const char *host, uint16_t port,
                        uint64_t timeout_ms, adp_connect_cb cb, void *arg)
{
    *c = (adp_connector_t){.loop = loop,
                           .host = host,
                           .port = port,
                           .timeout_ms = timeout_ms,
                           .cb = cb,
                           .arg = arg,
                           .state = ADP_CN_IDLE,
                           .fd = -1};
    gw_timer_init(&c->timer, cn_on_timer, c);
}

void adp_connector_start(adp_connector_t *c)
{
    int rc;

    adp_connector_cancel(c);
    c->next = 0;
    c->err = -EHOSTUNREACH;
    if (adp_addrs_numeric(c->host, c->port, &c->addrs) == 0) {
        cn_try_next(c, true);
        return;
    }
    /* A name: resolved again at every attempt, off the loop thread. */
    rc = adp_resolve_start(c->loop, c->host, c->port, cn_on_resolved, c, &c->lookup);
    if (rc < 0) {
        cn_fail(c, rc, "cannot resolve host", true);
        return;
    }
    cn_set_state(c, ADP_CN_RESOLVING);
}

void adp_connector_cancel(adp_connector_t *c)
{
    if (c->lookup) {
        adp_resolve_cancel(c->loop, c->lookup);
        c->lookup = NULL;
    }
    if (c->state == ADP_CN_REPORTING && c->fd >= 0) {
        close(c->fd); /* connected, not yet handed over */
        c->fd = -1;
    }
    cn_close(c);
    gw_timer_stop(c->loop, &c->timer);
    if (c->state != ADP_CN_IDLE)
        cn_set_state(c, ADP_CN_IDLE);
}

static uint64_t xorshift(uint64_t *rng)
{
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    return *rng;
}

uint64_t adp_jitter(uint64_t *rng, uint64_t ms)
{
    uint64_t half = ms / 2;

    return half + xorshift(rng) % (ms - half + 1);
}

uint64_t adp_phase(uint64_t *rng, uint64_t interval_ms)
{
    return interval_ms ? xorshift(rng) % interval_ms : 0;
}

uint64_t adp_first_due(uint64_t *rng, uint64_t interval_ms, uint64_t now, bool aligned)
{
    return aligned ? adp_align_due(now, interval_ms, adp_clock_offset(), now)
                   : now + adp_phase(rng, interval_ms);
}

uint64_t adp_next_due(uint64_t prev, uint64_t interval_ms, uint64_t now, bool aligned,
                      uint64_t *missed)
{
    uint64_t next = prev + interval_ms;
    uint64_t k;

    *missed = 0;
    if (interval_ms == 0)
        return now;
    if (next < now) {
        /* The first prev + k * interval at or after now; the k - 1 before it are skipped. */
        k = (now - prev + interval_ms - 1) / interval_ms;
        *missed = k - 1;
        next = prev + k * interval_ms;
    }
    return aligned ? adp_align_due(next, interval_ms, adp_clock_offset(), now) : next;
}

uint64_t adp_align_due(uint64_t due, uint64_t interval_ms, int64_t offset_ms, uint64_t not_before)
{
    int64_t iv = (int64_t)interval_ms;
    int64_t r;

    if (interval_ms == 0)
        return due > not_before ? due : not_before;
    r = ((int64_t)due + offset_ms) % iv; /* how far past a multiple, on the wall clock */
    if (r < 0)
        r += iv;
    if (r <= iv / 2 && (uint64_t)r <= due)
        due -= (uint64_t)r;
    else if (r)
        due += (uint64_t)(iv - r);
    if (due < not_before)
        due += (not_before - due + interval_ms - 1) / interval_ms * interval_ms;
    return due;
}

int64_t adp_clock_offset(void)
{
    static int64_t offset;
    static bool known;
    int64_t now = gw_clock_wall_offset_ms();

    if (!known || now > offset + 1 || now < offset - 1) {
        offset = now;
        known = true;
    }
    return offset;
}

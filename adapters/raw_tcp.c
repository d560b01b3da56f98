/*
 * The raw TCP adapter: line-oriented devices over plain TCP.
 *
 * mode client: the gateway connects to the device (non-blocking connect,
 * capped jittered backoff) and reads what it streams, or sends `request`
 * every `interval` and reads the answers. mode server: the gateway listens
 * and devices connect and push lines; at most max_clients at once, and a
 * connection silent for idle_timeout is closed.
 *
 * Bytes go straight into the connection's framer (line_parser.c); this file
 * never parses. Input is untrusted: every rejection is counted by reason and
 * logged at most once per RTCP_WARN_INTERVAL_MS, with the line escaped. Each
 * read event takes at most RTCP_READ_BUDGET bytes from one connection, so a
 * fast client cannot starve the others.
 *
 * Commands (raw_tcp_write.c) write one line to a connection; what is left
 * of it after a short write goes out on EPOLLOUT, after the rest of a poll
 * request and before the next one (rtcp_conn_send).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/net.h"
#include "adapters/raw_tcp.h"
#include "gateway/clock.h"
#include "gateway/log.h"

#define RTCP_WARN_INTERVAL_MS 10000
#define RTCP_READ_BUDGET (64 * 1024)

static gw_loop_t *loop_of(rtcp_t *r)
{
    return gw_ctx_loop(r->ctx);
}

/* --- sequence numbers per device-supplied sensor name ---------------------- */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */

    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h;
}

/* The slot of a name, added if new; NULL once max_sensors names exist. */
static rtcp_seq_t *seq_slot(rtcp_t *r, const char *name)
{
    size_t mask = r->seq_cap - 1;

    for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
        rtcp_seq_t *s = &r->seqs[i];

        if (!s->name) {
            if (r->n_seqs >= r->max_sensors || !(s->name = strdup(name)))
                return NULL;
            s->writable = -1;
            r->n_seqs++;
            return s;
        }
        if (strcmp(s->name, name) == 0)
            return s;
    }
}

/* --- parser callbacks ------------------------------------------------------ */

static void on_reading(void *arg, const lp_reading_t *lr)
{
    rtcp_conn_t *c = arg;
    rtcp_t *r = c->owner;
    rtcp_seq_t *slot = seq_slot(r, lr->sensor);
    gw_reading_t g = {0};

    if (!slot) {
        if (r->stats.unknown_sensors++ == 0)
            gw_warn("adapter '%s': more than %zu sensor names; readings of new names are "
                    "dropped",
                    gw_ctx_name(r->ctx), r->max_sensors);
        return;
    }
    g.sensor = lr->sensor;
    g.seq = ++slot->seq;
    g.ts_ms = lr->has_ts ? lr->ts_ms : gw_clock_wall_ms();
    g.kind = lr->kind;
    if (lr->kind == GW_VALUE_DOUBLE)
        g.value.d = lr->value.d;
    else if (lr->kind == GW_VALUE_BOOL)
        g.value.b = lr->value.b;
    else
        g.value.s = lr->value.s;
    g.unit = lr->unit;
    g.device = c->peer;
    rtcp_note_sender(r, slot, c);
    gw_ctx_emit(r->ctx, &g);
}

/* The first bytes of a rejected line, printable ASCII only, for the log. */
static void escape_excerpt(const char *line, size_t len, char *out, size_t cap)
{
    size_t o = 0, i;

    for (i = 0; i < len && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)line[i];

        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    if (i < len)
        o += (size_t)snprintf(out + o, cap - o, "...");
    out[o] = '\0';
}

static void on_error(void *arg, lp_reason_t reason, const char *line, size_t len)
{
    rtcp_t *r = ((rtcp_conn_t *)arg)->owner;
    uint64_t now = gw_clock_now_ms();
    char excerpt[100];

    if (r->last_warn_ms && now - r->last_warn_ms < RTCP_WARN_INTERVAL_MS) {
        r->suppressed++;
        return;
    }
    escape_excerpt(line, len, excerpt, sizeof(excerpt));
    gw_warn("adapter '%s': rejected a line (%s): '%s'%s", gw_ctx_name(r->ctx),
            lp_reason_name(reason), excerpt, r->suppressed ? " (and others not shown)" : "");
    r->last_warn_ms = now;
    r->suppressed = 0;
}

/* --- connections ----------------------------------------------------------- */

static void conn_on_io(gw_io_t *io, uint32_t events, void *arg);
static void client_failed(rtcp_t *r, const char *cause);
static void client_on_connect(void *arg, int fd, int err, const char *cause);
static bool send_request(rtcp_t *r);

/* Reading unless paused; writing while a request or a command line is
 * partly sent. */
static uint32_t conn_mask(const rtcp_conn_t *c)
{
    const rtcp_t *r = c->owner;
    bool out = c->cmd || (!r->server && r->tx_off < r->request_len);

    return (r->paused ? 0 : EPOLLIN) | (out ? EPOLLOUT : 0);
}

/* --test: "address:port" of the socket's peer, malloc'd (NULL if unknown). */
static char *peer_name(int fd)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    char host[INET6_ADDRSTRLEN], *out = NULL;
    const void *addr;
    unsigned port;

    if (getpeername(fd, (struct sockaddr *)&sa, &len) != 0)
        return NULL;
    if (sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;

        addr = &in->sin_addr;
        port = ntohs(in->sin_port);
    } else if (sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;

        addr = &in6->sin6_addr;
        port = ntohs(in6->sin6_port);
    } else {
        return NULL;
    }
    if (!inet_ntop(sa.ss_family, addr, host, sizeof(host)))
        return NULL;
    if (asprintf(&out, sa.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port) < 0)
        return NULL;
    return out;
}

int rtcp_conn_open(rtcp_t *r, rtcp_conn_t *c, int fd)
{
    lp_sink_t sink = {on_reading, on_error, c};

    c->owner = r;
    c->fd = fd;
    c->gen = ++r->next_gen;
    c->paused = false;
    if (gw_ctx_once(r->ctx)) {
        free(c->peer);
        c->peer = peer_name(fd);
    }
    if (!c->framer && lp_framer_new(r->parser, &sink, &c->framer) != 0)
        return -ENOMEM;
    gw_io_init(&c->io, fd, conn_on_io, c);
    return gw_io_start(loop_of(r), &c->io, r->paused ? 0 : EPOLLIN);
}

void rtcp_conn_close(rtcp_conn_t *c)
{
    rtcp_t *r = c->owner;

    if (c->fd < 0)
        return;
    if (c->framer)
        lp_framer_finish(c->framer); /* a partial line counts as incomplete */
    rtcp_conn_abort(c, NULL);
    gw_io_stop(loop_of(r), &c->io);
    gw_timer_stop(loop_of(r), &c->idle);
    close(c->fd);
    c->fd = -1;
}

static void pause_all(rtcp_t *r)
{
    r->paused = true;
    if (!r->server) {
        if (r->client.fd >= 0 && r->state == RTCP_CONNECTED)
            gw_io_modify(loop_of(r), &r->client.io, conn_mask(&r->client));
        return;
    }
    for (size_t i = 0; i < r->max_clients; i++)
        if (r->conns[i].fd >= 0)
            gw_io_modify(loop_of(r), &r->conns[i].io, conn_mask(&r->conns[i]));
}

/* Reads what one connection has, up to the budget. Returns false when the
 * connection ended. */
static bool conn_read(rtcp_conn_t *c)
{
    char buf[16384];
    size_t total = 0;

    while (total < RTCP_READ_BUDGET) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return true;
        if (n <= 0)
            return false;
        lp_framer_feed(c->framer, buf, (size_t)n);
        total += (size_t)n;
    }
    return true;
}

static void conn_on_io(gw_io_t *io, uint32_t events, void *arg)
{
    rtcp_conn_t *c = arg;
    rtcp_t *r = c->owner;
    (void)io;

    if ((events & EPOLLOUT) && (conn_mask(c) & EPOLLOUT)) {
        rtcp_conn_send(c);
        if (c->fd < 0)
            return; /* the send failed and closed the connection */
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;
    if (!conn_read(c)) {
        if (r->server) {
            rtcp_conn_close(c);
        } else {
            client_failed(r, "connection closed by the device");
        }
        return;
    }
    if (r->server)
        gw_timer_start(loop_of(r), &c->idle, gw_clock_now_ms() + r->idle_timeout_ms);
    if (gw_ctx_blocked(r->ctx) && !r->paused)
        pause_all(r); /* overflow: block; TCP flow control holds the devices */
}

static void conn_idle(gw_timer_t *t, void *arg)
{
    rtcp_conn_t *c = arg;
    (void)t;

    c->owner->stats.idle_closed++;
    gw_info("adapter '%s': closing a connection silent for %.0f s", gw_ctx_name(c->owner->ctx),
            c->owner->idle_timeout_ms / 1000.0);
    rtcp_conn_close(c);
}

/* --- client mode ----------------------------------------------------------- */

static const char *const state_names[] = {"idle", "connecting", "connected", "backoff"};

static void set_state(rtcp_t *r, rtcp_state_t state)
{
    gw_debug("adapter '%s': %s -> %s", gw_ctx_name(r->ctx), state_names[r->state],
             state_names[state]);
    r->state = state;
}

static void client_failed(rtcp_t *r, const char *cause)
{
    uint64_t wait = adp_jitter(&r->rng, r->backoff_ms);

    rtcp_conn_close(&r->client);
    r->tx_off = r->request_len; /* a partial request went with the connection */
    if (r->state == RTCP_CONNECTED || r->last_error != cause)
        gw_warn("adapter '%s': %s:%u: %s; reconnecting in %.1f s", gw_ctx_name(r->ctx), r->host,
                r->port, cause, wait / 1000.0);
    r->last_error = cause;
    set_state(r, RTCP_BACKOFF);
    gw_timer_start(loop_of(r), &r->state_timer, gw_clock_now_ms() + wait);
    r->backoff_ms = r->backoff_ms * 2 > r->backoff_max_ms ? r->backoff_max_ms : r->backoff_ms * 2;
}

static void client_connected(rtcp_t *r)
{
    r->tx_off = r->request_len;
    gw_io_modify(loop_of(r), &r->client.io, conn_mask(&r->client));
    r->backoff_ms = r->backoff_min_ms;
    r->last_error = NULL;
    r->stats.connections++;
    set_state(r, RTCP_CONNECTED);
    gw_info("adapter '%s': connected to %s:%u", gw_ctx_name(r->ctx), r->host, r->port);
}

/* The connector's answer: a connected socket, or why there is none. */
static void client_on_connect(void *arg, int fd, int err, const char *cause)
{
    rtcp_t *r = arg;
    (void)err;

    if (r->state != RTCP_CONNECTING) {
        gw_err("adapter '%s': connection result in state %s", gw_ctx_name(r->ctx),
               state_names[r->state]);
        if (fd >= 0)
            close(fd);
        return;
    }
    if (fd < 0) {
        client_failed(r, cause);
        return;
    }
    if (rtcp_conn_open(r, &r->client, fd) != 0) {
        r->client.fd = fd;
        client_failed(r, "cannot watch the socket");
        return;
    }
    client_connected(r);
}

/* Resolves the host again and connects to each address in turn, without
 * blocking the loop (see adp_connector_t). */
static void client_connect(rtcp_t *r)
{
    set_state(r, RTCP_CONNECTING);
    adp_connector_start(&r->connector);
}

static void client_state_timer(gw_timer_t *t, void *arg)
{
    rtcp_t *r = arg;
    (void)t;

    if (r->state == RTCP_BACKOFF) {
        r->stats.reconnects++;
        client_connect(r);
    } else {
        gw_err("adapter '%s': timer in state %s", gw_ctx_name(r->ctx), state_names[r->state]);
    }
}

/*
 * Sends what is left of the current request. A short write leaves the rest
 * for when the socket is writable (EPOLLOUT), and no new request starts
 * until this one is out whole: a device never sees half a request followed
 * by another one. False when the send failed (and the client reconnects).
 */
static bool send_request(rtcp_t *r)
{
    while (r->tx_off < r->request_len) {
        ssize_t n = send(r->client.fd, r->request + r->tx_off, r->request_len - r->tx_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            client_failed(r, "send failed");
            return false;
        }
        r->tx_off += (size_t)n;
    }
    return true;
}

/* A command line goes after the rest of a request, never into it. */
void rtcp_conn_send(rtcp_conn_t *c)
{
    rtcp_t *r = c->owner;

    if (!r->server && !send_request(r))
        return;
    if ((r->server || r->tx_off == r->request_len) && rtcp_conn_flush(c) != 0) {
        if (r->server)
            rtcp_conn_close(c);
        else
            client_failed(r, "send failed");
        return;
    }
    gw_io_modify(loop_of(r), &c->io, conn_mask(c));
}

/* Poll-style devices: the request goes out every interval while connected,
 * on an absolute schedule from a random phase, or on the multiples of the
 * interval (phase: aligned; see adp_first_due() and adp_next_due()). */
static void client_request(gw_timer_t *t, void *arg)
{
    rtcp_t *r = arg;
    uint64_t missed;
    (void)t;

    r->next_request_ms =
        adp_next_due(r->next_request_ms, r->interval_ms, gw_clock_now_ms(), r->aligned, &missed);
    r->stats.requests_skipped += missed;
    gw_timer_start(loop_of(r), &r->request_timer, r->next_request_ms);
    if (r->state != RTCP_CONNECTED || r->paused) {
        r->stats.requests_skipped++;
        return;
    }
    if (r->tx_off < r->request_len || r->client.cmd) {
        /* The device has not taken the previous request (or a command
         * line) yet; never block. */
        r->stats.requests_skipped++;
        return;
    }
    r->tx_off = 0;
    rtcp_conn_send(&r->client);
}

/* --- adapter interface ----------------------------------------------------- */

static void rtcp_destroy(void *self);

static int rtcp_create(const cfg_adapter_t *cfg, gw_ctx_t *ctx, void **self, cfg_error_t *err)
{
    rtcp_t *r = calloc(1, sizeof(*r));
    int rc;

    if (!r)
        return -ENOMEM;
    r->ctx = ctx;
    r->listen_fd = -1;
    r->client.fd = -1;
    r->client.owner = r;
    if ((rc = rtcp_read_config(r, cfg, err)) != 0)
        goto fail;
    r->seq_cap = 16;
    while (r->seq_cap <= r->max_sensors * 2)
        r->seq_cap *= 2;
    r->seqs = calloc(r->seq_cap, sizeof(*r->seqs));
    if (r->server)
        r->conns = calloc(r->max_clients, sizeof(*r->conns));
    if (!r->seqs || (r->server && !r->conns)) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < r->n_writables; i++) { /* their slots, known from the start */
        rtcp_seq_t *s = seq_slot(r, r->writables[i].name);

        if (!s) {
            rc = -ENOMEM;
            goto fail;
        }
        s->writable = (int32_t)i;
    }
    for (size_t i = 0; r->server && i < r->max_clients; i++) {
        r->conns[i].fd = -1;
        r->conns[i].owner = r;
        gw_timer_init(&r->conns[i].idle, conn_idle, &r->conns[i]);
    }
    gw_timer_init(&r->client.idle, conn_idle, &r->client);
    gw_timer_init(&r->state_timer, client_state_timer, r);
    gw_timer_init(&r->request_timer, client_request, r);
    gw_timer_set_grid(&r->request_timer, r->aligned ? 0 : gw_interval_grid(r->interval_ms));
    *self = r;
    return 0;
fail:
    rtcp_destroy(r);
    return rc;
}

static int rtcp_start(void *self)
{
    rtcp_t *r = self;
    uint64_t now = gw_clock_now_ms();

    r->running = true;
    if (r->server)
        return rtcp_server_listen(r);
    r->rng = (uint64_t)gw_clock_wall_ms() ^ ((uint64_t)(uintptr_t)r << 16) ^ 0x2545f4914f6cdd1du;
    adp_connector_init(&r->connector, loop_of(r), r->host, r->port, r->connect_timeout_ms,
                       client_on_connect, r);
    r->backoff_ms = r->backoff_min_ms;
    r->tx_off = r->request_len; /* nothing to send yet */
    if (r->request) {
        /* A random phase spreads many polled devices over the interval;
         * aligned, they request together on its multiples. */
        r->next_request_ms = adp_first_due(&r->rng, r->interval_ms, now, r->aligned);
        gw_timer_start(loop_of(r), &r->request_timer, r->next_request_ms);
    }
    client_connect(r);
    return 0;
}

static void log_counters(rtcp_t *r)
{
    const lp_counters_t *c = lp_parser_counters(r->parser);
    char reasons[512] = "";
    size_t len = 0;

    for (int i = 1; i < LP_REASON_COUNT && len < sizeof(reasons); i++)
        if (c->errors[i])
            len += (size_t)snprintf(reasons + len, sizeof(reasons) - len, ", %s %llu",
                                    lp_reason_name(i), (unsigned long long)c->errors[i]);
    gw_info("adapter '%s': stopped: %llu lines, %llu readings, %llu connections (%llu refused "
            "over max_clients, %llu closed idle)%s",
            gw_ctx_name(r->ctx), (unsigned long long)c->lines, (unsigned long long)c->readings,
            (unsigned long long)r->stats.connections, (unsigned long long)r->stats.refused_clients,
            (unsigned long long)r->stats.idle_closed, reasons);
}

static void rtcp_stop(void *self)
{
    rtcp_t *r = self;

    if (!r->running)
        return;
    r->running = false;
    gw_timer_stop(loop_of(r), &r->state_timer);
    gw_timer_stop(loop_of(r), &r->request_timer);
    adp_resolve_cancel(loop_of(r), r->lookup);
    r->lookup = NULL;
    if (!r->server)
        adp_connector_cancel(&r->connector);
    rtcp_conn_abort(&r->client, "the adapter stopped");
    for (size_t i = 0; r->server && i < r->max_clients; i++)
        rtcp_conn_abort(&r->conns[i], "the adapter stopped");
    rtcp_conn_close(&r->client);
    for (size_t i = 0; r->server && i < r->max_clients; i++)
        rtcp_conn_close(&r->conns[i]);
    if (r->listen_fd >= 0) {
        gw_io_stop(loop_of(r), &r->listen_io);
        close(r->listen_fd);
        r->listen_fd = -1;
    }
    log_counters(r);
}

static void rtcp_resume(void *self)
{
    rtcp_t *r = self;

    if (!r->paused || !r->running)
        return;
    r->paused = false;
    if (!r->server) {
        if (r->state == RTCP_CONNECTED)
            gw_io_modify(loop_of(r), &r->client.io, conn_mask(&r->client));
        return;
    }
    for (size_t i = 0; i < r->max_clients; i++)
        if (r->conns[i].fd >= 0)
            gw_io_modify(loop_of(r), &r->conns[i].io, conn_mask(&r->conns[i]));
}

static void rtcp_destroy(void *self)
{
    rtcp_t *r = self;

    if (!r)
        return;
    lp_framer_free(r->client.framer);
    free(r->client.peer);
    for (size_t i = 0; r->server && r->conns && i < r->max_clients; i++) {
        lp_framer_free(r->conns[i].framer);
        free(r->conns[i].peer);
    }
    for (size_t i = 0; r->seqs && i < r->seq_cap; i++)
        free(r->seqs[i].name);
    free(r->seqs);
    free(r->conns);
    free(r->writables);
    lp_parser_free(r->parser);
    free(r);
}

/* Readings delivered, lines rejected (every reason), reconnects. */
static void rtcp_stats(const void *self, adp_stats_t *out)
{
    const rtcp_t *r = self;
    const lp_counters_t *c = lp_parser_counters(r->parser);

    out->reads_ok = c->readings;
    out->reads_failed = 0;
    for (int i = 1; i < LP_REASON_COUNT; i++)
        out->reads_failed += c->errors[i];
    out->reconnects = r->stats.reconnects;
}

const adp_ops_t adp_raw_tcp_ops = {
    .kind = "raw_tcp",
    .create = rtcp_create,
    .start = rtcp_start,
    .stop = rtcp_stop,
    .destroy = rtcp_destroy,
    .resume = rtcp_resume,
    .stats = rtcp_stats,
    .writable = rtcp_writable,
    .write = rtcp_write,
};

/*
 * The raw TCP adapter's server mode: listening and accepting. Devices
 * connect and push lines; at most max_clients connections at once (more are
 * closed at once, counted and logged now and then), each watched like the
 * client's one connection (raw_tcp.c) and closed after idle_timeout of
 * silence. Loop thread only.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/raw_tcp.h"
#include "gateway/clock.h"
#include "gateway/log.h"

static gw_loop_t *loop_of(rtcp_t *r)
{
    return gw_ctx_loop(r->ctx);
}

static void server_on_accept(gw_io_t *io, uint32_t events, void *arg)
{
    rtcp_t *r = arg;
    (void)io;
    (void)events;

    for (int burst = 0; burst < 64; burst++) {
        int fd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        rtcp_conn_t *slot = NULL;

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                gw_warn("adapter '%s': cannot accept a device: too many open files",
                        gw_ctx_name(r->ctx));
            return; /* EAGAIN: done; other errors are the client's (ECONNABORTED) */
        }
        for (size_t i = 0; i < r->max_clients && !slot; i++)
            if (r->conns[i].fd < 0)
                slot = &r->conns[i];
        if (!slot) {
            if (r->stats.refused_clients++ % 1000 == 0)
                gw_warn("adapter '%s': %zu devices connected already (max_clients); closing "
                        "a new connection (%llu so far)",
                        gw_ctx_name(r->ctx), r->max_clients,
                        (unsigned long long)r->stats.refused_clients);
            close(fd);
            continue;
        }
        if (rtcp_conn_open(r, slot, fd) != 0) {
            slot->fd = fd;
            rtcp_conn_close(slot);
            continue;
        }
        r->stats.connections++;
        gw_timer_start(loop_of(r), &slot->idle, gw_clock_now_ms() + r->idle_timeout_ms);
    }
}

static int listen_on(rtcp_t *r, const adp_addr_t *addr)
{
    int one = 1;
    int fd = socket(addr->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, &addr->u.sa, addr->len) != 0 || listen(fd, 128) != 0) {
        int err = -errno;

        gw_err("adapter '%s': cannot listen on %s:%u: %s", gw_ctx_name(r->ctx), r->host, r->port,
               strerror(-err));
        close(fd);
        return err;
    }
    r->listen_fd = fd;
    gw_io_init(&r->listen_io, fd, server_on_accept, r);
    gw_info("adapter '%s': listening on %s:%u", gw_ctx_name(r->ctx), r->host, r->port);
    return gw_io_start(loop_of(r), &r->listen_io, EPOLLIN);
}

static void server_resolved(void *arg, int status, const adp_addrs_t *addrs)
{
    rtcp_t *r = arg;

    r->lookup = NULL;
    if (status < 0) {
        gw_err("adapter '%s': cannot resolve %s", gw_ctx_name(r->ctx), r->host);
        return;
    }
    (void)listen_on(r, &addrs->a[0]); /* logs its own failure */
}

/* A numeric address listens at once; a name is resolved off the loop thread
 * first, and the adapter listens on its first address when it is known. */
int rtcp_server_listen(rtcp_t *r)
{
    adp_addrs_t addrs;

    if (adp_addrs_numeric(r->host, r->port, &addrs) == 0)
        return listen_on(r, &addrs.a[0]);
    return adp_resolve_start(loop_of(r), r->host, r->port, server_resolved, r, &r->lookup);
}

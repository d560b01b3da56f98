/*
 * nodelay_preload: a what-if for bench/latency, LD_PRELOADed into the
 * gateway only by `bench/latency --gateway-nodelay`.
 *
 * Paho MQTT C never sets TCP_NODELAY on its socket and exposes no way to, so
 * the gateway's small PUBLISH packets go through Nagle's algorithm. This
 * wraps connect(): a TCP socket gets TCP_NODELAY before it connects.
 * Nothing else changes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    static connect_fn real;
    int type = 0, one = 1;
    socklen_t tl = sizeof(type);

    if (!real)
        real = (connect_fn)dlsym(RTLD_NEXT, "connect");
    if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6) &&
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return real(fd, addr, len);
}

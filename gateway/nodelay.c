/*
 * TCP_NODELAY on every TCP socket sensorbridge connects, the MQTT client's
 * included.
 *
 * Small messages are the gateway's whole traffic: a PUBACK, then a command's
 * result; a reading, then the next. With Nagle's algorithm a small segment
 * waits while an earlier one is unacknowledged, and the receiver delays its
 * ACK (40 ms on Linux) when it has nothing to send back: a command's result
 * left 43 ms after the command instead of 21 (BENCHMARKS.md, commands). The
 * adapters set TCP_NODELAY on their own sockets (adapters/net.c), but Paho
 * MQTT C opens its socket itself and has no option for it.
 *
 * So the executable defines connect() and exports it
 * (-Wl,--export-dynamic-symbol=connect): the Paho library, loaded at run
 * time, binds its connect() to this one, which sets TCP_NODELAY on a TCP
 * socket and calls the C library's. Only the sensorbridge executable links
 * this file; nothing else changes for a UNIX socket or a failed call.
 */
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

static connect_fn next_connect;

/* Before main(), so no thread races for it. */
__attribute__((constructor)) static void find_connect(void)
{
    next_connect = (connect_fn)dlsym(RTLD_NEXT, "connect");
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    int one = 1;

    if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6))
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* not TCP: EOPNOTSUPP */
    return next_connect(fd, addr, len);
}

/* Non-blocking TCP client helpers; see net.h. */
#include "adapters/net.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int adp_resolve(const char *host, uint16_t port, struct sockaddr_storage *addr, socklen_t *len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res;
    char service[8];

    snprintf(service, sizeof(service), "%u", port);
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return -EHOSTUNREACH;
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int adp_connect_start(const struct sockaddr_storage *addr, socklen_t len, int *fd)
{
    int one = 1;
    int s = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    *fd = -1;
    if (s < 0)
        return -errno;
    /* Requests are small and latency matters more than packet count. */
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(s, (const struct sockaddr *)addr, len) == 0) {
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

uint64_t adp_next_due(uint64_t prev, uint64_t interval_ms, uint64_t now, uint64_t *missed)
{
    uint64_t next = prev + interval_ms;
    uint64_t k;

    *missed = 0;
    if (next >= now || interval_ms == 0)
        return interval_ms ? next : now;
    /* The first prev + k * interval at or after now; the k - 1 before it are skipped. */
    k = (now - prev + interval_ms - 1) / interval_ms;
    *missed = k - 1;
    return prev + k * interval_ms;
}

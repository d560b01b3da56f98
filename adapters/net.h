/*
 * Non-blocking TCP client helpers shared by the connection-oriented
 * adapters: address resolution, connect without blocking, and the jittered
 * backoff between attempts.
 */
#ifndef ADP_NET_H
#define ADP_NET_H

#include <stdint.h>
#include <sys/socket.h>

/* Resolves host:port (numeric service). getaddrinfo may block on DNS, so it
 * is called once per device, before the loop runs. 0 or -EHOSTUNREACH. */
int adp_resolve(const char *host, uint16_t port, struct sockaddr_storage *addr, socklen_t *len);

/* Creates a non-blocking, close-on-exec socket and starts connecting.
 * Returns 0 when already connected, -EINPROGRESS when the caller must wait
 * for EPOLLOUT (then adp_connect_result), or another negative errno (*fd
 * is then -1). */
int adp_connect_start(const struct sockaddr_storage *addr, socklen_t len, int *fd);

/* After EPOLLOUT on a connecting socket: 0 or the negative errno. */
int adp_connect_result(int fd);

/* A short, static description of a connect error for logs and readings. */
const char *adp_connect_error(int err);

/* A random time in [ms/2, ms] from a xorshift state (never 0): backoff. */
uint64_t adp_jitter(uint64_t *rng, uint64_t ms);

/* A random phase, uniform in [0, interval_ms): a periodic schedule started
 * at now + phase spreads N devices evenly over the whole interval. */
uint64_t adp_phase(uint64_t *rng, uint64_t interval_ms);

/*
 * The next due time of a periodic schedule whose last tick was due at prev,
 * keeping its phase: prev + interval. When that is already before now (the
 * last cycle outlasted the interval, or the loop was late), the ticks that
 * passed are skipped, not run late in a burst: the result is the first
 * prev + k * interval at or after now, and *missed is set to k - 1.
 */
uint64_t adp_next_due(uint64_t prev, uint64_t interval_ms, uint64_t now, uint64_t *missed);

#endif

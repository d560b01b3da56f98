/*
 * Non-blocking TCP client helpers shared by the connection-oriented
 * adapters: a connector (resolve, then connect to each address in turn),
 * the jittered backoff between attempts, and the polling schedule.
 */
#ifndef ADP_NET_H
#define ADP_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "adapters/resolve.h"
#include "gateway/loop.h"

/* Creates a non-blocking, close-on-exec socket and starts connecting.
 * Returns 0 when already connected, -EINPROGRESS when the caller must wait
 * for EPOLLOUT (then adp_connect_result), or another negative errno (*fd
 * is then -1). */
int adp_connect_start(const adp_addr_t *addr, int *fd);

/* After EPOLLOUT on a connecting socket: 0 or the negative errno. */
int adp_connect_result(int fd);

/*
 * A connection attempt to host:port on the loop: resolve the host (at every
 * attempt, so a device whose name moves is found again; numeric at once, a
 * name on a resolver thread, see resolve.h), then connect to each address in
 * turn, each within timeout_ms, until one answers. The callback gets the
 * connected socket (the caller owns it from then on) or, when every address
 * failed, the last error and a static cause for logs ("cannot resolve host",
 * "connection refused", "connect timeout", ...). It runs on the loop thread,
 * never from within adp_connector_start(). Loop thread only.
 */
typedef void (*adp_connect_cb)(void *arg, int fd, int err, const char *cause);

typedef enum { ADP_CN_IDLE, ADP_CN_RESOLVING, ADP_CN_CONNECTING, ADP_CN_REPORTING } adp_cn_state_t;

/* Fields are private to net.c; the struct is public so adapters can embed it. */
typedef struct {
    gw_loop_t *loop;
    const char *host; /* borrowed: must outlive the connector */
    uint16_t port;
    uint64_t timeout_ms;
    adp_connect_cb cb;
    void *arg;
    adp_cn_state_t state;
    adp_resolve_t *lookup;
    adp_addrs_t addrs;
    size_t next; /* the address tried next */
    int fd;      /* the socket connecting, or the result waiting to be reported */
    int err;     /* the last failure */
    const char *cause;
    gw_io_t io;
    gw_timer_t timer; /* connect timeout, or the deferred report */
} adp_connector_t;

void adp_connector_init(adp_connector_t *c, gw_loop_t *loop, const char *host, uint16_t port,
                        uint64_t timeout_ms, adp_connect_cb cb, void *arg);
/* Starts an attempt (cancelling one in progress). */
void adp_connector_start(adp_connector_t *c);
/* Stops an attempt in progress, closing its socket; the callback will not
 * run. Idempotent. */
void adp_connector_cancel(adp_connector_t *c);

/* A short, static description of a connect error for logs and readings. */
const char *adp_connect_error(int err);

/* A random time in [ms/2, ms] from a xorshift state (never 0): backoff. */
uint64_t adp_jitter(uint64_t *rng, uint64_t ms);

/* A random phase, uniform in [0, interval_ms): a periodic schedule started
 * at now + phase spreads N devices evenly over the whole interval. */
uint64_t adp_phase(uint64_t *rng, uint64_t interval_ms);

/*
 * The first due time of a periodic schedule (a device's polls) started at
 * now: after a random phase (adp_phase()), or, aligned (`phase: aligned`),
 * the first multiple of the interval on the wall clock at or after now.
 */
uint64_t adp_first_due(uint64_t *rng, uint64_t interval_ms, uint64_t now, bool aligned);

/*
 * The next due time of a periodic schedule whose last tick was due at prev,
 * keeping its phase: prev + interval. When that is already before now (the
 * last cycle outlasted the interval, or the loop was late), the ticks that
 * passed are skipped, not run late in a burst: the result is the first
 * prev + k * interval at or after now, and *missed is set to k - 1.
 * Aligned, the result is then moved onto the nearest multiple of the
 * interval on the wall clock (adp_align_due()), which it is on already
 * unless the wall clock was stepped.
 */
uint64_t adp_next_due(uint64_t prev, uint64_t interval_ms, uint64_t now, bool aligned,
                      uint64_t *missed);

/*
 * `phase: aligned`: the due time nearest to due (monotonic milliseconds)
 * that falls on a multiple of interval_ms of the wall clock, where
 * wall = monotonic + offset_ms; the first such time at or after not_before
 * if that one is earlier. An aligned due time stays where it is; after a
 * step of the wall clock the schedule comes back to the multiples within
 * one tick, which moves by at most half an interval.
 */
uint64_t adp_align_due(uint64_t due, uint64_t interval_ms, int64_t offset_ms, uint64_t not_before);
/*
 * The wall clock minus the monotonic clock, in milliseconds, for
 * adp_align_due(): gw_clock_wall_offset_ms(), so that a device due on a
 * multiple polls when the wall clock reads that multiple, not a millisecond
 * before. The value returned changes only when a reading moves by more than
 * 1 (a step of the wall clock), so that devices that share an interval keep
 * sharing their due times even if a reading falls on a millisecond's edge.
 */
int64_t adp_clock_offset(void);

#endif

/*
 * The event loop: epoll over file descriptors, a binary min-heap of timers on
 * the monotonic clock, an eventfd so other threads can wake the loop, and a
 * signalfd for SIGTERM, SIGINT and SIGHUP.
 *
 * Everything registered here runs on the loop thread, the thread that calls
 * gw_loop_run(). Only gw_loop_wake() may be called from any other thread.
 *
 * Timers and fd watchers are owned by the caller (usually embedded in an
 * adapter's struct). A timer is a node of the loop's heap itself, so arming
 * one never allocates and cannot fail. A watcher or timer must be stopped
 * before its memory is freed.
 */
#ifndef GW_LOOP_H
#define GW_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_loop gw_loop_t;
typedef struct gw_timer gw_timer_t;
typedef struct gw_io gw_io_t;

typedef void (*gw_timer_cb)(gw_timer_t *timer, void *arg);
/* events: the EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP bits that fired. */
typedef void (*gw_io_cb)(gw_io_t *io, uint32_t events, void *arg);
typedef void (*gw_loop_cb)(gw_loop_t *loop, void *arg);
typedef void (*gw_signal_cb)(gw_loop_t *loop, int signo, void *arg);

/* Fields are private to loop.c; the struct is public only so it can be embedded. */
struct gw_timer {
    uint64_t due_ms;    /* absolute, gw_clock_now_ms() scale */
    uint64_t order;     /* tie-breaker: timers due at the same ms fire in arming order */
    gw_timer_t *parent; /* links of the intrusive heap (timer_heap.c) */
    gw_timer_t *left;
    gw_timer_t *right;
    gw_timer_t *next; /* ring of the timers that wait behind one heap node */
    gw_timer_t *prev;
    uint32_t grid_ms; /* 0, or due times are rounded up to a multiple of it */
    bool armed;
    bool behind; /* in a ring behind another timer, not in the tree */
    gw_timer_cb cb;
    void *arg;
};

struct gw_io {
    int fd;
    uint32_t events;
    bool active;
    gw_io_cb cb;
    void *arg;
};

/*
 * Creates a loop. Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (so
 * threads created later, such as Paho's, inherit the mask) and receives them
 * through a signalfd. Returns NULL on failure with errno set.
 */
gw_loop_t *gw_loop_new(void);

/* Closes every fd the loop owns (not the watched ones). NULL-safe. */
void gw_loop_free(gw_loop_t *loop);

/* Runs until gw_loop_stop(). Returns 0, or a negative errno if epoll fails. */
int gw_loop_run(gw_loop_t *loop);

/* Makes gw_loop_run() return after the current iteration. Loop thread. */
void gw_loop_stop(gw_loop_t *loop);

/* Called for each SIGTERM/SIGINT/SIGHUP received. Without a handler, TERM and
 * INT stop the loop and HUP is ignored. */
void gw_loop_on_signal(gw_loop_t *loop, gw_signal_cb cb, void *arg);

/* Called on the loop thread after gw_loop_wake() (coalesced: several wakes
 * before the loop runs give one call). */
void gw_loop_on_wake(gw_loop_t *loop, gw_loop_cb cb, void *arg);

/* Wakes the loop. Async-signal-safe and callable from any thread.
 * Returns 0 or a negative errno. */
int gw_loop_wake(gw_loop_t *loop);

/* Called once at the end of every loop iteration, after all timers and fd
 * callbacks of that iteration ran (the publisher flushes the outbox here). */
void gw_loop_on_tick(gw_loop_t *loop, gw_loop_cb cb, void *arg);

/* Timers. gw_timer_init() must be called once before any other use. */
void gw_timer_init(gw_timer_t *timer, gw_timer_cb cb, void *arg);
/* Arms (or re-arms) the timer for the absolute monotonic time due_ms. A due
 * time in the past fires on the next iteration. Never fails: the timer
 * itself is the heap node. */
void gw_timer_start(gw_loop_t *loop, gw_timer_t *timer, uint64_t due_ms);
/*
 * Lets the timer fire late, so that timers due close together share one
 * wake-up of the loop: its due times are rounded up to a multiple of
 * grid_ms (on the monotonic clock's scale). 0 or 1, the default, fires at
 * the due time. Takes effect from the next gw_timer_start().
 */
void gw_timer_set_grid(gw_timer_t *timer, uint32_t grid_ms);
/*
 * The grid of a periodic timer of interval_ms (a device's poll, a simulated
 * sensor): the largest divisor of the interval not above 1/GW_GRID_DIVISOR
 * of it, and not above GW_GRID_MAX_MS. Since the grid divides the interval,
 * every due time of an absolute schedule (phase + k * interval) is rounded
 * up by the same amount: the timer keeps its exact period, and only its
 * phase moves, by less than the grid. 0 when no divisor above 1 fits.
 */
#define GW_GRID_DIVISOR 8
#define GW_GRID_MAX_MS 250
uint32_t gw_interval_grid(uint64_t interval_ms);
/* Disarms; a no-op for a timer that is not armed. */
void gw_timer_stop(gw_loop_t *loop, gw_timer_t *timer);
bool gw_timer_active(const gw_timer_t *timer);

/* Number of armed timers (tests and stats). */
size_t gw_loop_timer_count(const gw_loop_t *loop);

/* What the loop did since gw_loop_new(), for stats and benchmarks. */
typedef struct {
    uint64_t iterations;   /* epoll_wait() calls */
    uint64_t io_events;    /* fd events dispatched */
    uint64_t timers_fired; /* timer callbacks run */
    uint64_t wakeups;      /* wake callbacks run (gw_loop_wake() calls, coalesced) */
} gw_loop_stats_t;

/* Copies the counters. Loop thread (they are plain integers). */
void gw_loop_stats(const gw_loop_t *loop, gw_loop_stats_t *out);

/* The monotonic clock (gw_clock_now_ms() scale) as of the end of the running
 * iteration's wait: one clock read for everything the iteration handles.
 * Outside gw_loop_run(), the clock itself. */
uint64_t gw_loop_now_ms(const gw_loop_t *loop);

/* The loop whose gw_loop_run() is running on the calling thread, or NULL;
 * lets a callback several layers down (the stats message) find it. */
gw_loop_t *gw_loop_current(void);

/* fd watchers. The caller keeps ownership of fd and closes it after
 * gw_io_stop(). Level-triggered. Returns 0 or a negative errno. */
void gw_io_init(gw_io_t *io, int fd, gw_io_cb cb, void *arg);
int gw_io_start(gw_loop_t *loop, gw_io_t *io, uint32_t events);
/* Changes the event mask of an active watcher. */
int gw_io_modify(gw_loop_t *loop, gw_io_t *io, uint32_t events);
/* Removes the watcher; safe inside any callback, including for a watcher whose
 * event is pending in the same iteration (that event is then not delivered). */
void gw_io_stop(gw_loop_t *loop, gw_io_t *io);

#endif

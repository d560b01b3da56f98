/*
 * The event loop; see loop.h for the contract.
 *
 * One iteration is: wait in epoll_wait() until the earliest timer is due or an
 * fd is ready, dispatch the fd events, run the timers that are due, then call
 * the tick callback. The eventfd and the signalfd are ordinary watched fds with
 * internal watchers, so they need no special case in the dispatch path.
 *
 * Timers live in an intrusive binary min-heap ordered by (due_ms, order)
 * (timer_heap.c): each timer is a node of the tree, so arming allocates
 * nothing and cannot fail, and stopping or re-arming is O(log n) with no
 * search. `order` comes from a per-loop counter bumped on every arming, so
 * timers due in the same millisecond fire in the order they were armed. The
 * loop allocates nothing after gw_loop_new().
 */
#include "gateway/loop.h"

#include "gateway/clock.h"
#include "gateway/timer_heap.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

/*
 * Events taken per epoll_wait(); more ready fds are simply returned by the
 * next call, since the watchers are level-triggered. This is also the most
 * fd callbacks one iteration runs before the wake-up check and the tick
 * (where the publisher hands the outbox to MQTT) get their turn, so it sets
 * the balance under overload: every ready device socket yields a reading,
 * and the publisher lets out at most its window (mqtt.max_inflight, 64 by
 * default) per iteration. Taking in no more per iteration than can go out
 * keeps an overloaded gateway delivering what it reads instead of reading
 * faster and dropping the difference (bench/fanin part b, 10,000 devices
 * back to back on 2 shared cores, 3 runs each: with 256, 0-62 % of the
 * reads in the window were dropped by the outbox and 16,000-35,000 readings/s
 * reached the subscriber; with 64, none were dropped in the window and
 * 28,000-36,000/s arrived, from 30,000-38,000 reads/s). A syscall per 64
 * events costs well under 1 % of their handling. -DLOOP_MAX_EVENTS=N
 * overrides it for experiments.
 */
#ifndef LOOP_MAX_EVENTS
#define LOOP_MAX_EVENTS 64
#endif

struct gw_loop {
    int epfd;
    int wakefd;
    int sigfd;
    gw_io_t wake_io;
    gw_io_t sig_io;
    sigset_t old_mask; /* the creating thread's mask, restored by free */

    gw_theap_t timers;
    uint64_t next_order;
    uint64_t phase_now; /* the clock when the running timer phase began */
    uint64_t wait_end;  /* the clock when the iteration's epoll_wait() returned */
    bool in_timers;

    /* The batch being dispatched, so gw_io_stop() can cancel pending events. */
    struct epoll_event events[LOOP_MAX_EVENTS];
    int nevents;

    bool running;
    bool stopping;

    gw_signal_cb signal_cb;
    void *signal_arg;
    gw_loop_cb wake_cb;
    void *wake_arg;
    atomic_bool wake_pending; /* set by gw_loop_wake() from any thread */
    gw_loop_cb tick_cb;
    void *tick_arg;
    gw_loop_stats_t stats;
};

/* ---- timers ---- */

void gw_timer_init(gw_timer_t *timer, gw_timer_cb cb, void *arg)
{
    *timer = (gw_timer_t){.cb = cb, .arg = arg};
}

void gw_timer_set_grid(gw_timer_t *timer, uint32_t grid_ms)
{
    timer->grid_ms = grid_ms > 1 ? grid_ms : 0;
}

uint32_t gw_interval_grid(uint64_t interval_ms)
{
    uint64_t max = interval_ms / GW_GRID_DIVISOR;

    if (max > GW_GRID_MAX_MS)
        max = GW_GRID_MAX_MS;
    for (uint64_t d = max; d > 1; d--)
        if (interval_ms % d == 0)
            return (uint32_t)d;
    return 0;
}

void gw_timer_start(gw_loop_t *loop, gw_timer_t *timer, uint64_t due_ms)
{
    assert(loop && timer && timer->cb);
    if (timer->grid_ms)
        due_ms = (due_ms + timer->grid_ms - 1) / timer->grid_ms * timer->grid_ms;
    if (loop->in_timers && due_ms < loop->phase_now)
        due_ms = loop->phase_now; /* see run_timers() */
    timer->due_ms = due_ms;
    /* Re-arming counts as a new arming for tie-breaking. */
    timer->order = loop->next_order++;
    if (timer->armed) {
        gw_theap_update(&loop->timers, timer);
        return;
    }
    timer->armed = true;
    gw_theap_insert(&loop->timers, timer);
}

void gw_timer_stop(gw_loop_t *loop, gw_timer_t *timer)
{
    assert(loop && timer);
    if (!timer->armed)
        return;
    gw_theap_remove(&loop->timers, timer);
    timer->armed = false;
}

bool gw_timer_active(const gw_timer_t *timer)
{
    return timer->armed;
}

size_t gw_loop_timer_count(const gw_loop_t *loop)
{
    return loop->timers.n;
}

/*
 * Runs the timers that were due when this phase began. `now` is read once, and
 * a timer armed during the phase (order >= limit) waits for the next
 * iteration, so a callback re-arming for a time already past cannot spin here.
 * gw_timer_start() clamps such a due time to phase_now: every timer armed
 * during the phase then sorts after every timer still waiting to run in it,
 * so the first deferred timer at the top of the heap ends the phase without
 * starving the others.
 */
static void run_timers(gw_loop_t *loop)
{
    uint64_t limit = loop->next_order;

    loop->phase_now = gw_clock_now_ms();
    loop->in_timers = true;
    while (loop->timers.min) {
        gw_timer_t *t = loop->timers.min;

        if (t->due_ms > loop->phase_now || t->order >= limit)
            break;
        gw_timer_stop(loop, t);
        loop->stats.timers_fired++;
        t->cb(t, t->arg);
    }
    loop->in_timers = false;
}

/*
 * gw_clock_now_ms() truncates, so the real time is at or after `now`; sleeping
 * due - now whole milliseconds (epoll_wait never returns early on timeout)
 * therefore ends at or after due_ms, and the timer is not found early.
 */
static int next_timeout(const gw_loop_t *loop)
{
    uint64_t now, delta;

    if (loop->stopping)
        return 0;
    if (!loop->timers.min)
        return -1;
    now = gw_clock_now_ms();
    if (loop->timers.min->due_ms <= now)
        return 0;
    delta = loop->timers.min->due_ms - now;
    return delta > INT_MAX ? INT_MAX : (int)delta;
}

/* ---- fd watchers ---- */

void gw_io_init(gw_io_t *io, int fd, gw_io_cb cb, void *arg)
{
    *io = (gw_io_t){.fd = fd, .cb = cb, .arg = arg};
}

static int io_ctl(gw_loop_t *loop, gw_io_t *io, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};

    if (epoll_ctl(loop->epfd, op, io->fd, &ev) < 0)
        return -errno;
    io->events = events;
    return 0;
}

int gw_io_start(gw_loop_t *loop, gw_io_t *io, uint32_t events)
{
    int rc;

    assert(loop && io && io->cb);
    /* Starting an active watcher just changes its mask, as libuv does. */
    if (io->active)
        return gw_io_modify(loop, io, events);
    rc = io_ctl(loop, io, EPOLL_CTL_ADD, events);
    if (rc < 0)
        return rc;
    io->active = true;
    return 0;
}

int gw_io_modify(gw_loop_t *loop, gw_io_t *io, uint32_t events)
{
    assert(loop && io);
    if (!io->active)
        return -EINVAL;
    if (io->events == events)
        return 0; /* a syscall saved on every request of a busy device */
    return io_ctl(loop, io, EPOLL_CTL_MOD, events);
}

void gw_io_stop(gw_loop_t *loop, gw_io_t *io)
{
    assert(loop && io);
    if (!io->active)
        return;
    /*
     * Failure is ignored on purpose: EBADF/ENOENT mean the fd was already
     * closed, which removed it from the epoll set, and there is nothing a
     * caller could do about anything else. The watcher is stopped either way.
     */
    (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->active = false;
    /* Its memory may be freed as soon as we return: drop pending events. */
    for (int i = 0; i < loop->nevents; i++) {
        if (loop->events[i].data.ptr == io)
            loop->events[i].data.ptr = NULL;
    }
}

static void dispatch_io(gw_loop_t *loop)
{
    for (int i = 0; i < loop->nevents; i++) {
        gw_io_t *io = loop->events[i].data.ptr;
        uint32_t ev;

        if (!io)
            continue;
        /* A mask narrowed earlier in this batch hides events it no longer asks for. */
        ev = loop->events[i].events & (io->events | EPOLLERR | EPOLLHUP);
        if (ev)
            io->cb(io, ev, io->arg);
    }
    loop->nevents = 0;
}

/* ---- wake-up and signals ---- */

/*
 * A wake-up is a flag and an eventfd. gw_loop_wake() sets wake_pending and
 * writes the eventfd only if the flag was clear, so a burst of wakes costs
 * one write. The loop reads the flag on every iteration, not only when epoll
 * reports the eventfd: with thousands of ready sockets the eventfd could wait
 * many iterations for its turn in the event array, and MQTT confirmations
 * with it.
 *
 * The flag and the eventfd are not one atomic step. A waker can set the flag,
 * the loop serve it (drain, clear, callback), and only then the waker write
 * the eventfd: the eventfd is readable with the flag clear. So whenever epoll
 * reports the eventfd it is drained, whatever the flag says (as libuv does);
 * otherwise the level-triggered eventfd would end every epoll_wait() at once
 * and the loop would spin until the next wake-up.
 */
static void drain_wakefd(gw_loop_t *loop)
{
    uint64_t count;
    ssize_t n;

    /* EAGAIN: already empty; nothing else can fail on an eventfd we own. */
    do {
        n = read(loop->wakefd, &count, sizeof(count));
    } while (n < 0 && errno == EINTR);
}

static void serve_wake(gw_loop_t *loop)
{
    /* Drained before the flag is cleared: a waker that finds the flag still
     * set skips its write (see gw_loop_wake), and is served right here. */
    if (!atomic_exchange(&loop->wake_pending, false))
        return;
    loop->stats.wakeups++;
    if (loop->wake_cb)
        loop->wake_cb(loop, loop->wake_arg);
}

/* Every iteration: the cheap check of the flag. */
static void check_wake(gw_loop_t *loop)
{
    if (!atomic_load(&loop->wake_pending))
        return;
    drain_wakefd(loop);
    serve_wake(loop);
}

/* The eventfd is readable: drain it unconditionally, then serve the flag. */
static void on_wakefd(gw_io_t *io, uint32_t events, void *arg)
{
    gw_loop_t *loop = arg;

    (void)io;
    (void)events;
    drain_wakefd(loop);
    serve_wake(loop);
}

int gw_loop_wake(gw_loop_t *loop)
{
    const uint64_t one = 1;
    int saved = errno; /* async-signal-safe callers expect errno untouched */
    int rc = 0;
    ssize_t n;

    /* Already pending: the loop has not run check_wake() since, and will.
     * Saves a syscall per MQTT confirmation under load. */
    if (atomic_exchange(&loop->wake_pending, true))
        return 0;
    do {
        n = write(loop->wakefd, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
    /* EAGAIN: the counter is saturated, so the loop is already awake. */
    if (n < 0 && errno != EAGAIN)
        rc = -errno;
    errno = saved;
    return rc;
}

static void handle_signal(gw_loop_t *loop, int signo)
{
    if (loop->signal_cb)
        loop->signal_cb(loop, signo, loop->signal_arg);
    else if (signo == SIGTERM || signo == SIGINT)
        gw_loop_stop(loop);
}

static void on_sigfd(gw_io_t *io, uint32_t events, void *arg)
{
    gw_loop_t *loop = arg;
    struct signalfd_siginfo si;

    (void)events;
    for (;;) {
        ssize_t n = read(io->fd, &si, sizeof(si));

        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(si))
            return; /* EAGAIN: drained */
        handle_signal(loop, (int)si.ssi_signo);
    }
}

void gw_loop_on_signal(gw_loop_t *loop, gw_signal_cb cb, void *arg)
{
    loop->signal_cb = cb;
    loop->signal_arg = arg;
}

void gw_loop_on_wake(gw_loop_t *loop, gw_loop_cb cb, void *arg)
{
    loop->wake_cb = cb;
    loop->wake_arg = arg;
}

void gw_loop_on_tick(gw_loop_t *loop, gw_loop_cb cb, void *arg)
{
    loop->tick_cb = cb;
    loop->tick_arg = arg;
}

/* ---- lifecycle ---- */

static void loop_signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

/* Blocks the signals, then opens the signalfd; on failure the mask is back. */
static int open_signals(gw_loop_t *loop)
{
    sigset_t set;
    int err;

    loop_signal_set(&set);
    err = pthread_sigmask(SIG_BLOCK, &set, &loop->old_mask);
    if (err != 0)
        return -err;
    loop->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (loop->sigfd < 0) {
        err = -errno;
        /* SIG_SETMASK with a mask the kernel gave us cannot fail. */
        (void)pthread_sigmask(SIG_SETMASK, &loop->old_mask, NULL);
        return err;
    }
    return 0;
}

static int open_fds(gw_loop_t *loop)
{
    int rc;

    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        return -errno;
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0)
        return -errno;
    gw_io_init(&loop->wake_io, loop->wakefd, on_wakefd, loop);
    rc = gw_io_start(loop, &loop->wake_io, EPOLLIN);
    if (rc < 0)
        return rc;
    rc = open_signals(loop);
    if (rc < 0)
        return rc;
    gw_io_init(&loop->sig_io, loop->sigfd, on_sigfd, loop);
    return gw_io_start(loop, &loop->sig_io, EPOLLIN);
}

gw_loop_t *gw_loop_new(void)
{
    gw_loop_t *loop = calloc(1, sizeof(*loop));
    int rc;

    if (!loop)
        return NULL;
    loop->epfd = loop->wakefd = loop->sigfd = -1;
    rc = open_fds(loop);
    if (rc < 0)
        goto fail;
    return loop;

fail:
    gw_loop_free(loop);
    errno = -rc;
    return NULL;
}

/*
 * Signals that arrived after the loop last read the signalfd were meant for
 * the loop, which is going away. Discarding them keeps a late SIGHUP (whose
 * default action is to terminate) from killing a process that is already
 * shutting down in order, once the old mask is restored.
 */
static void drain_signals(gw_loop_t *loop)
{
    struct signalfd_siginfo si;
    ssize_t n;

    do {
        n = read(loop->sigfd, &si, sizeof(si));
    } while (n == (ssize_t)sizeof(si) || (n < 0 && errno == EINTR));
}

static void close_fd(int fd)
{
    /* On Linux the fd is released even when close() reports EINTR: no retry. */
    if (fd >= 0)
        (void)close(fd);
}

static void disarm(gw_timer_t *t)
{
    t->armed = false;
    t->behind = false;
    t->parent = t->left = t->right = t->next = t->prev = NULL;
}

void gw_loop_free(gw_loop_t *loop)
{
    if (!loop)
        return;
    /* Armed timers outlive the loop; make them read as stopped. */
    gw_theap_each(&loop->timers, disarm);
    if (loop->sigfd >= 0) {
        drain_signals(loop);
        close_fd(loop->sigfd);
        (void)pthread_sigmask(SIG_SETMASK, &loop->old_mask, NULL);
    }
    close_fd(loop->wakefd);
    close_fd(loop->epfd);
    free(loop);
}

/* ---- running ---- */

/* Set by gw_loop_run() for the thread that runs the loop. */
static _Thread_local gw_loop_t *current_loop;

void gw_loop_stop(gw_loop_t *loop)
{
    loop->stopping = true;
}

static int loop_iterate(gw_loop_t *loop)
{
    int n = epoll_wait(loop->epfd, loop->events, LOOP_MAX_EVENTS, next_timeout(loop));

    if (n < 0) {
        if (errno != EINTR)
            return -errno;
        n = 0; /* a signal handler ran; timers may be due, so carry on */
    }
    loop->wait_end = gw_clock_now_ms();
    loop->stats.iterations++;
    loop->stats.io_events += (uint64_t)n;
    loop->nevents = n;
    dispatch_io(loop);
    check_wake(loop);
    run_timers(loop);
    if (loop->tick_cb)
        loop->tick_cb(loop, loop->tick_arg);
    return 0;
}

int gw_loop_run(gw_loop_t *loop)
{
    gw_loop_t *outer = current_loop;
    int rc = 0;

    assert(loop);
    if (loop->running)
        return -EBUSY;
    loop->running = true;
    current_loop = loop;
    /* A stop requested before run still ends the first iteration, without blocking. */
    do {
        rc = loop_iterate(loop);
    } while (rc == 0 && !loop->stopping);
    current_loop = outer;
    loop->stopping = false;
    loop->running = false;
    return rc;
}

void gw_loop_stats(const gw_loop_t *loop, gw_loop_stats_t *out)
{
    *out = loop->stats;
}

uint64_t gw_loop_now_ms(const gw_loop_t *loop)
{
    return loop->running ? loop->wait_end : gw_clock_now_ms();
}

gw_loop_t *gw_loop_current(void)
{
    return current_loop;
}

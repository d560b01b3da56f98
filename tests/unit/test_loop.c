/*
 * Unit tests for gateway/loop.
 *
 * They run on the real monotonic clock with due times of tens of
 * milliseconds, and assert orders and counts rather than durations. Every
 * run is bounded by a guard timer that stops the loop and marks the test as
 * failed, so a broken loop fails instead of hanging.
 */
#include "gateway/clock.h"
#include "gateway/loop.h"

#include <CUnit/CUnit.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "suites.h"

/* Defined in test_loop_wake.c; suites.h lists suites only. */
int loop_wake_tests(CU_pSuite s);
int loop_grid_tests(CU_pSuite s);

#define GUARD_MS 1000
#define MAX_FIRES 1024
#define NRANDOM 1000

/* ---- helpers ---- */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static uint64_t past_ms(void)
{
    uint64_t now = gw_clock_now_ms();

    return now > 5 ? now - 5 : 0;
}

struct guard {
    gw_timer_t timer;
    gw_loop_t *loop;
    bool fired;
};

static void guard_cb(gw_timer_t *t, void *arg)
{
    struct guard *g = arg;

    g->fired = true;
    gw_loop_stop(g->loop);
    /* Periodic, so a loop that ignored one stop still cannot hang the run. */
    gw_timer_start(g->loop, t, gw_clock_now_ms() + GUARD_MS);
}

static void guard_arm(gw_loop_t *loop, struct guard *g)
{
    g->loop = loop;
    g->fired = false;
    gw_timer_init(&g->timer, guard_cb, g);
    gw_timer_start(loop, &g->timer, gw_clock_now_ms() + GUARD_MS);
}

/* Records which timers fired, in which order and in which iteration. */
struct fires {
    gw_loop_t *loop;
    int n;
    int stop_after; /* stop the loop after this many fires; 0: never */
    int ids[MAX_FIRES];
    unsigned tick_at[MAX_FIRES];
    bool early;
    unsigned ticks;
    unsigned stop_at_tick; /* stop the loop at this tick; 0: never */
};

struct tt {
    gw_timer_t timer;
    struct fires *f;
    int id;
    uint64_t due;
    uint64_t seq; /* the test's own arming counter */
    int fired;
    bool cancelled;
};

static void tt_cb(gw_timer_t *t, void *arg)
{
    struct tt *x = arg;
    struct fires *f = x->f;

    CU_ASSERT_PTR_EQUAL(t, &x->timer);
    if (gw_clock_now_ms() < x->due)
        f->early = true;
    if (f->n < MAX_FIRES) {
        f->ids[f->n] = x->id;
        f->tick_at[f->n] = f->ticks;
    }
    f->n++;
    x->fired++;
    if (f->n == f->stop_after)
        gw_loop_stop(f->loop);
}

static void tick_cb(gw_loop_t *loop, void *arg)
{
    struct fires *f = arg;

    f->ticks++;
    if (f->ticks == f->stop_at_tick)
        gw_loop_stop(loop);
}

static void fires_init(struct fires *f, gw_loop_t *loop)
{
    memset(f, 0, sizeof(*f));
    f->loop = loop;
    gw_loop_on_tick(loop, tick_cb, f);
}

static void tt_init(struct tt *x, struct fires *f, int id)
{
    memset(x, 0, sizeof(*x));
    x->f = f;
    x->id = id;
    gw_timer_init(&x->timer, tt_cb, x);
}

static void tt_arm(gw_loop_t *loop, struct tt *x, uint64_t due)
{
    static uint64_t seq;

    x->due = due;
    x->seq = ++seq;
    gw_timer_start(loop, &x->timer, due);
}

/* ---- lifecycle ---- */

static void test_new_free(void)
{
    int before = count_fds();
    gw_loop_t *loop = gw_loop_new();

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    CU_ASSERT_EQUAL(count_fds(), before + 3); /* epoll, eventfd, signalfd */
    CU_ASSERT_EQUAL(gw_loop_timer_count(loop), 0);
    gw_loop_free(loop);
    CU_ASSERT_EQUAL(count_fds(), before);
    gw_loop_free(NULL);
}

static bool blocked(int signo)
{
    sigset_t cur;

    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, signo) == 1;
}

static void test_signal_mask(void)
{
    gw_loop_t *loop;

    CU_ASSERT_FALSE(blocked(SIGTERM));
    loop = gw_loop_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    CU_ASSERT_TRUE(blocked(SIGTERM));
    CU_ASSERT_TRUE(blocked(SIGINT));
    CU_ASSERT_TRUE(blocked(SIGHUP));
    gw_loop_free(loop);
    CU_ASSERT_FALSE(blocked(SIGTERM));
    CU_ASSERT_FALSE(blocked(SIGINT));
    CU_ASSERT_FALSE(blocked(SIGHUP));
}

/* ---- timers ---- */

static void test_timer_due_order(void)
{
    static const int offs[] = {50, 10, 30, 20, 40};
    static const int want[] = {1, 3, 2, 4, 0};
    gw_loop_t *loop = gw_loop_new();
    struct fires f;
    struct tt t[5];
    struct guard g;
    uint64_t base = gw_clock_now_ms();

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    fires_init(&f, loop);
    f.stop_after = 5;
    for (int i = 0; i < 5; i++) {
        tt_init(&t[i], &f, i);
        tt_arm(loop, &t[i], base + (uint64_t)offs[i]);
        CU_ASSERT_TRUE(gw_timer_active(&t[i].timer));
    }
    CU_ASSERT_EQUAL(gw_loop_timer_count(loop), 5);
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_FALSE(f.early);
    CU_ASSERT_EQUAL_FATAL(f.n, 5);
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(f.ids[i], want[i]);
        CU_ASSERT_FALSE(gw_timer_active(&t[i].timer));
    }
    CU_ASSERT_EQUAL(gw_loop_timer_count(loop), 1);
    gw_timer_stop(loop, &g.timer);
    CU_ASSERT_EQUAL(gw_loop_timer_count(loop), 0);
    gw_loop_free(loop);
}

static void test_timer_ties(void)
{
    static const int arm[] = {3, 1, 4, 0, 2};
    /* Re-arming 4 for the same due time makes it the last armed. */
    static const int want[] = {3, 1, 0, 2, 4};
    gw_loop_t *loop = gw_loop_new();
    struct fires f;
    struct tt t[5];
    struct guard g;
    uint64_t due = gw_clock_now_ms() + 10;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    fires_init(&f, loop);
    f.stop_after = 5;
    for (int i = 0; i < 5; i++)
        tt_init(&t[i], &f, i);
    for (int i = 0; i < 5; i++)
        tt_arm(loop, &t[arm[i]], due);
    tt_arm(loop, &t[4], due);
    CU_ASSERT_EQUAL(gw_loop_timer_count(loop), 5);
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_EQUAL_FATAL(f.n, 5);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(f.ids[i], want[i]);
    /* Due in the same millisecond and armed before the loop ran: one iteration. */
    CU_ASSERT_EQUAL(f.tick_at[0], f.tick_at[4]);
    gw_loop_free(loop);
}

static void test_timer_cancel(void)
{
    gw_loop_t *loop = gw_loop_new();
    struct fires f;
    struct tt a, b, c, d, end;
    uint64_t base = gw_clock_now_ms();
    struct guard g;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    fires_init(&f, loop);
    f.stop_after = 3; /* a, c, end; if b fired, it would be second */
    tt_init(&a, &f, 0);
    tt_init(&b, &f, 1);
    tt_init(&c, &f, 2);
    tt_init(&d, &f, 3);
    tt_init(&end, &f, 4);
    tt_arm(loop, &a, base + 10);
    tt_arm(loop, &b, base + 20);
    tt_arm(loop, &c, base + 30);
    tt_arm(loop, &end, base + 60);
    gw_timer_stop(loop, &b.timer);
    CU_ASSERT_FALSE(gw_timer_active(&b.timer));
    CU_ASSERT_EQUAL(gw_loop_timer_count(loop), 3);
    gw_timer_stop(loop, &b.timer); /* twice: no-op */
    gw_timer_stop(loop, &d.timer); /* never armed: no-op */
    CU_ASSERT_FALSE(gw_timer_active(&d.timer));
    CU_ASSERT_EQUAL(gw_loop_timer_count(loop), 3);
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_EQUAL_FATAL(f.n, 3);
    CU_ASSERT_EQUAL(f.ids[0], 0);
    CU_ASSERT_EQUAL(f.ids[1], 2);
    CU_ASSERT_EQUAL(f.ids[2], 4);
    gw_loop_free(loop);
}

static void test_timer_rearm(void)
{
    gw_loop_t *loop = gw_loop_new();
    struct fires f;
    struct tt a, b, c;
    uint64_t base = gw_clock_now_ms();
    struct guard g;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    fires_init(&f, loop);
    f.stop_after = 3;
    tt_init(&a, &f, 0);
    tt_init(&b, &f, 1);
    tt_init(&c, &f, 2);
    tt_arm(loop, &a, base + 200);
    tt_arm(loop, &b, base + 40);
    tt_arm(loop, &c, base + 10);
    tt_arm(loop, &a, base + 20);  /* earlier */
    tt_arm(loop, &c, base + 100); /* later */
    CU_ASSERT_EQUAL(gw_loop_timer_count(loop), 3);
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_FALSE(f.early);
    CU_ASSERT_EQUAL_FATAL(f.n, 3);
    CU_ASSERT_EQUAL(f.ids[0], 0);
    CU_ASSERT_EQUAL(f.ids[1], 1);
    CU_ASSERT_EQUAL(f.ids[2], 2);
    gw_loop_free(loop);
}

/* Re-arms itself for a time already past: once per iteration, never a spin. */
static void self_rearm_cb(gw_timer_t *t, void *arg)
{
    struct tt *x = arg;

    tt_cb(t, arg);
    if (x->fired < 5)
        tt_arm(x->f->loop, x, past_ms());
}

static void test_timer_self_rearm(void)
{
    gw_loop_t *loop = gw_loop_new();
    struct fires f;
    struct tt x, later;
    struct guard g;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    fires_init(&f, loop);
    tt_init(&x, &f, 0);
    gw_timer_init(&x.timer, self_rearm_cb, &x);
    tt_init(&later, &f, 1);
    tt_arm(loop, &x, past_ms());
    /* Due with the first firing; must not be starved by the re-armed timer. */
    tt_arm(loop, &later, gw_clock_now_ms());
    f.stop_after = 6;
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_EQUAL_FATAL(f.n, 6);
    CU_ASSERT_EQUAL(f.ids[0], 0);
    CU_ASSERT_EQUAL(f.ids[1], 1);
    CU_ASSERT_EQUAL(f.tick_at[0], 0);
    CU_ASSERT_EQUAL(f.tick_at[1], 0);
    for (int i = 2; i < 6; i++) {
        CU_ASSERT_EQUAL(f.ids[i], 0);
        CU_ASSERT_EQUAL(f.tick_at[i], (unsigned)i - 1);
    }
    CU_ASSERT_FALSE(gw_timer_active(&x.timer));
    gw_loop_free(loop);
}

static void random_arm(gw_loop_t *loop, struct tt *t, struct fires *f, uint64_t base)
{
    for (int i = 0; i < NRANDOM; i++) {
        tt_init(&t[i], f, i);
        tt_arm(loop, &t[i], base + (uint64_t)(rand() % 60));
    }
    for (int i = 0; i < NRANDOM; i++) {
        if (rand() % 5 == 0) {
            t[i].cancelled = true;
            gw_timer_stop(loop, &t[i].timer);
        } else if (rand() % 10 == 0) {
            tt_arm(loop, &t[i], base + (uint64_t)(rand() % 60));
        }
    }
}

static void random_check(const struct tt *t, const struct fires *f, int live)
{
    static int seen[NRANDOM];

    memset(seen, 0, sizeof(seen));
    CU_ASSERT_EQUAL_FATAL(f->n, live);
    for (int i = 0; i < f->n; i++) {
        const struct tt *x = &t[f->ids[i]];

        seen[x->id]++;
        CU_ASSERT_FALSE(x->cancelled);
        if (i == 0)
            continue;
        const struct tt *prev = &t[f->ids[i - 1]];
        CU_ASSERT_TRUE(prev->due <= x->due);
        if (prev->due == x->due)
            CU_ASSERT_TRUE(prev->seq < x->seq);
    }
    for (int i = 0; i < NRANDOM; i++)
        CU_ASSERT_EQUAL(seen[i], t[i].cancelled ? 0 : 1);
}

static void test_timer_random(void)
{
    gw_loop_t *loop = gw_loop_new();
    struct tt *t = calloc(NRANDOM, sizeof(*t));
    struct fires *f = calloc(1, sizeof(*f));
    struct guard g;
    int live = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    srand(12345);
    fires_init(f, loop);
    random_arm(loop, t, f, gw_clock_now_ms() + 5);
    for (int i = 0; i < NRANDOM; i++)
        live += !t[i].cancelled;
    CU_ASSERT_TRUE(live > 0 && live < NRANDOM);
    CU_ASSERT_EQUAL(gw_loop_timer_count(loop), (size_t)live);
    f->stop_after = live;
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_FALSE(f->early);
    random_check(t, f, live);
    CU_ASSERT_EQUAL(gw_loop_timer_count(loop), 1);
    gw_loop_free(loop);
    free(f);
    free(t);
}

/* ---- fd watchers ---- */

struct pipe_ctx {
    gw_loop_t *loop;
    gw_io_t io;
    int fds[2];
    int calls;
    uint32_t events;
    char buf[16];
    bool armed; /* set when the test made the fd ready */
    bool early; /* the callback ran before that */
    int modify_rc;
};

static void pipe_read_cb(gw_io_t *io, uint32_t events, void *arg)
{
    struct pipe_ctx *p = arg;
    ssize_t n = read(io->fd, p->buf, sizeof(p->buf) - 1);

    p->early |= !p->armed;
    p->calls++;
    p->events = events;
    if (n > 0)
        p->buf[n] = '\0';
    gw_loop_stop(p->loop);
}

static void pipe_write_timer(gw_timer_t *t, void *arg)
{
    struct pipe_ctx *p = arg;

    (void)t;
    p->armed = true;
    CU_ASSERT_EQUAL(write(p->fds[1], "hello", 5), 5);
}

static void test_io_read(void)
{
    int fd0 = count_fds();
    gw_loop_t *loop = gw_loop_new();
    struct pipe_ctx p;
    gw_timer_t t;
    struct guard g;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    memset(&p, 0, sizeof(p));
    p.loop = loop;
    CU_ASSERT_EQUAL_FATAL(pipe2(p.fds, O_NONBLOCK | O_CLOEXEC), 0);
    gw_io_init(&p.io, p.fds[0], pipe_read_cb, &p);
    CU_ASSERT_EQUAL(gw_io_start(loop, &p.io, EPOLLIN), 0);
    gw_timer_init(&t, pipe_write_timer, &p);
    gw_timer_start(loop, &t, gw_clock_now_ms() + 10);
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_FALSE(p.early);
    CU_ASSERT_EQUAL(p.calls, 1);
    CU_ASSERT_TRUE(p.events & EPOLLIN);
    CU_ASSERT_STRING_EQUAL(p.buf, "hello");
    gw_io_stop(loop, &p.io);
    gw_io_stop(loop, &p.io); /* twice: no-op */
    close(p.fds[0]);
    close(p.fds[1]);
    gw_loop_free(loop);
    CU_ASSERT_EQUAL(count_fds(), fd0);
}

static void pipe_write_cb(gw_io_t *io, uint32_t events, void *arg)
{
    struct pipe_ctx *p = arg;

    (void)io;
    p->early |= !p->armed;
    p->calls++;
    p->events = events;
    gw_loop_stop(p->loop);
}

static void modify_timer(gw_timer_t *t, void *arg)
{
    struct pipe_ctx *p = arg;

    (void)t;
    p->armed = true;
    p->modify_rc = gw_io_modify(p->loop, &p->io, EPOLLOUT);
}

static void test_io_modify(void)
{
    int fd0 = count_fds();
    gw_loop_t *loop = gw_loop_new();
    struct pipe_ctx p;
    gw_io_t idle;
    gw_timer_t t;
    struct guard g;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    memset(&p, 0, sizeof(p));
    p.loop = loop;
    p.modify_rc = 1;
    CU_ASSERT_EQUAL_FATAL(pipe2(p.fds, O_NONBLOCK | O_CLOEXEC), 0);
    gw_io_init(&idle, p.fds[1], pipe_write_cb, &p);
    CU_ASSERT_EQUAL(gw_io_modify(loop, &idle, EPOLLOUT), -EINVAL);
    /* The write end of a pipe never becomes readable, only writable. */
    gw_io_init(&p.io, p.fds[1], pipe_write_cb, &p);
    CU_ASSERT_EQUAL(gw_io_start(loop, &p.io, EPOLLIN), 0);
    gw_timer_init(&t, modify_timer, &p);
    gw_timer_start(loop, &t, gw_clock_now_ms() + 20);
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_EQUAL(p.modify_rc, 0);
    CU_ASSERT_FALSE(p.early);
    CU_ASSERT_EQUAL(p.calls, 1);
    CU_ASSERT_TRUE(p.events & EPOLLOUT);
    gw_io_stop(loop, &p.io);
    close(p.fds[0]);
    close(p.fds[1]);
    gw_loop_free(loop);
    CU_ASSERT_EQUAL(count_fds(), fd0);
}

/* Two readable pipes; whichever callback runs first stops and frees the other. */
struct pair_ctx {
    gw_loop_t *loop;
    gw_io_t *w[2];
    int fds[2][2];
    int calls;
};

static void pair_cb(gw_io_t *io, uint32_t events, void *arg)
{
    struct pair_ctx *c = arg;
    int me = io == c->w[0] ? 0 : 1;

    (void)events;
    c->calls++;
    if (c->w[1 - me]) {
        gw_io_stop(c->loop, c->w[1 - me]);
        free(c->w[1 - me]); /* a delivered stale event would be a use-after-free */
        c->w[1 - me] = NULL;
    }
}

static void test_io_stop_pending(void)
{
    int fd0 = count_fds();
    gw_loop_t *loop = gw_loop_new();
    struct pair_ctx c;
    struct fires f;
    struct guard g;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    memset(&c, 0, sizeof(c));
    c.loop = loop;
    fires_init(&f, loop);
    f.stop_at_tick = 1;
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL_FATAL(pipe2(c.fds[i], O_NONBLOCK | O_CLOEXEC), 0);
        CU_ASSERT_EQUAL(write(c.fds[i][1], "x", 1), 1);
        c.w[i] = malloc(sizeof(*c.w[i]));
        CU_ASSERT_PTR_NOT_NULL_FATAL(c.w[i]);
        gw_io_init(c.w[i], c.fds[i][0], pair_cb, &c);
        CU_ASSERT_EQUAL(gw_io_start(loop, c.w[i], EPOLLIN), 0);
    }
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_EQUAL(f.ticks, 1);
    CU_ASSERT_EQUAL(c.calls, 1);
    CU_ASSERT_TRUE((c.w[0] == NULL) != (c.w[1] == NULL));
    for (int i = 0; i < 2; i++) {
        if (c.w[i]) {
            gw_io_stop(loop, c.w[i]);
            free(c.w[i]);
        }
        close(c.fds[i][0]);
        close(c.fds[i][1]);
    }
    gw_loop_free(loop);
    CU_ASSERT_EQUAL(count_fds(), fd0);
}

/* Narrowing the mask of a watcher whose event is pending hides that event. */
static void narrow_cb(gw_io_t *io, uint32_t events, void *arg)
{
    struct pair_ctx *c = arg;
    int me = io == c->w[0] ? 0 : 1;

    (void)events;
    c->calls++;
    CU_ASSERT_EQUAL(gw_io_modify(c->loop, c->w[1 - me], EPOLLOUT), 0);
}

static void test_io_modify_pending(void)
{
    gw_loop_t *loop = gw_loop_new();
    gw_io_t w[2];
    struct pair_ctx c;
    struct fires f;
    struct guard g;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    memset(&c, 0, sizeof(c));
    c.loop = loop;
    fires_init(&f, loop);
    f.stop_at_tick = 1;
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL_FATAL(pipe2(c.fds[i], O_NONBLOCK | O_CLOEXEC), 0);
        CU_ASSERT_EQUAL(write(c.fds[i][1], "x", 1), 1);
        c.w[i] = &w[i];
        gw_io_init(&w[i], c.fds[i][0], narrow_cb, &c);
        CU_ASSERT_EQUAL(gw_io_start(loop, &w[i], EPOLLIN), 0);
    }
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_EQUAL(c.calls, 1);
    for (int i = 0; i < 2; i++) {
        gw_io_stop(loop, &w[i]);
        close(c.fds[i][0]);
        close(c.fds[i][1]);
    }
    gw_loop_free(loop);
}

/* ---- wake-up ---- */

struct wake_ctx {
    gw_loop_t *loop;
    pthread_t loop_thread;
    bool on_loop_thread;
    int wakes;
    int wake_rc;
};

static void wake_cb(gw_loop_t *loop, void *arg)
{
    struct wake_ctx *w = arg;

    w->wakes++;
    w->on_loop_thread = pthread_equal(pthread_self(), w->loop_thread) != 0;
    gw_loop_stop(loop);
}

static void *waker(void *arg)
{
    struct wake_ctx *w = arg;

    sleep_ms(20);
    w->wake_rc = gw_loop_wake(w->loop);
    return NULL;
}

static void test_wake_thread(void)
{
    gw_loop_t *loop = gw_loop_new();
    struct wake_ctx w;
    struct guard g;
    pthread_t th;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    memset(&w, 0, sizeof(w));
    w.loop = loop;
    w.loop_thread = pthread_self();
    w.wake_rc = 1;
    gw_loop_on_wake(loop, wake_cb, &w);
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, waker, &w), 0);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_EQUAL(pthread_join(th, NULL), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_EQUAL(w.wake_rc, 0);
    CU_ASSERT_EQUAL(w.wakes, 1);
    CU_ASSERT_TRUE(w.on_loop_thread);
    gw_loop_free(loop);
}

static void test_wake_coalesce(void)
{
    gw_loop_t *loop = gw_loop_new();
    struct wake_ctx w;
    struct fires f;
    struct guard g;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    memset(&w, 0, sizeof(w));
    w.loop = loop;
    w.loop_thread = pthread_self();
    fires_init(&f, loop);
    f.stop_at_tick = 2;
    gw_loop_on_wake(loop, wake_cb, &w);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(gw_loop_wake(loop), 0);
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_EQUAL(w.wakes, 1);
    CU_ASSERT_EQUAL(f.ticks, 1); /* wake_cb stopped it in the first iteration */
    gw_loop_free(loop);
}

/* ---- signals ---- */

struct sig_ctx {
    int n;
    int signos[8];
};

static void signal_cb(gw_loop_t *loop, int signo, void *arg)
{
    struct sig_ctx *s = arg;

    if (s->n < 8)
        s->signos[s->n] = signo;
    s->n++;
    if (signo == SIGTERM)
        gw_loop_stop(loop);
}

static bool got(const struct sig_ctx *s, int signo)
{
    for (int i = 0; i < s->n && i < 8; i++) {
        if (s->signos[i] == signo)
            return true;
    }
    return false;
}

static void test_signal_handler(void)
{
    gw_loop_t *loop = gw_loop_new();
    struct sig_ctx s;
    struct guard g;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    memset(&s, 0, sizeof(s));
    gw_loop_on_signal(loop, signal_cb, &s);
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(raise(SIGHUP), 0);
    CU_ASSERT_EQUAL(raise(SIGINT), 0); /* with a handler, INT does not stop */
    CU_ASSERT_EQUAL(kill(getpid(), SIGTERM), 0);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_EQUAL(s.n, 3);
    CU_ASSERT_TRUE(got(&s, SIGHUP));
    CU_ASSERT_TRUE(got(&s, SIGINT));
    CU_ASSERT_TRUE(got(&s, SIGTERM));
    gw_loop_free(loop);
}

static void term_timer(gw_timer_t *t, void *arg)
{
    bool *fired = arg;

    (void)t;
    *fired = true;
    CU_ASSERT_EQUAL(kill(getpid(), SIGTERM), 0);
}

static void test_signal_default(void)
{
    gw_loop_t *loop = gw_loop_new();
    gw_timer_t t;
    bool fired = false;
    struct guard g;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    /* HUP is ignored: the loop is still running when the timer sends TERM. */
    CU_ASSERT_EQUAL(raise(SIGHUP), 0);
    gw_timer_init(&t, term_timer, &fired);
    gw_timer_start(loop, &t, gw_clock_now_ms() + 20);
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_TRUE(fired);
    CU_ASSERT_FALSE(g.fired);
    /* INT stops it too. */
    gw_timer_stop(loop, &g.timer);
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(kill(getpid(), SIGINT), 0);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    gw_loop_free(loop);
}

/* ---- iterations ---- */

static void test_tick(void)
{
    gw_loop_t *loop = gw_loop_new();
    struct fires f;
    struct tt t[3], a, b;
    struct guard g;
    uint64_t base;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    fires_init(&f, loop);
    f.stop_at_tick = 1;
    for (int i = 0; i < 3; i++) {
        tt_init(&t[i], &f, i);
        tt_arm(loop, &t[i], past_ms());
    }
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_EQUAL(f.ticks, 1); /* once, after all three timers */
    CU_ASSERT_EQUAL_FATAL(f.n, 3);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(f.tick_at[i], 0);

    /* Two timers in different iterations; stopping still ends with one tick. */
    fires_init(&f, loop);
    f.stop_after = 2;
    tt_init(&a, &f, 0);
    tt_init(&b, &f, 1);
    base = gw_clock_now_ms();
    tt_arm(loop, &a, base + 10);
    tt_arm(loop, &b, base + 60);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_EQUAL_FATAL(f.n, 2);
    /* The wait lasts until the timer is due: no early wake-ups to spin through. */
    CU_ASSERT_TRUE(f.tick_at[0] <= 1);
    CU_ASSERT_TRUE(f.tick_at[0] < f.tick_at[1]);
    CU_ASSERT_EQUAL(f.ticks, f.tick_at[1] + 1);
    gw_loop_free(loop);
}

struct stop_ctx {
    gw_loop_t *loop;
    int nested_rc;
};

static void stop_timer(gw_timer_t *t, void *arg)
{
    struct stop_ctx *s = arg;

    (void)t;
    s->nested_rc = gw_loop_run(s->loop);
    gw_loop_stop(s->loop);
}

static void test_stop(void)
{
    gw_loop_t *loop = gw_loop_new();
    struct stop_ctx s = {loop, 1};
    struct fires f;
    struct tt late;
    gw_timer_t t;
    struct guard g;
    unsigned ticks;
    uint64_t start = gw_clock_now_ms();

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    fires_init(&f, loop);
    tt_init(&late, &f, 0);
    tt_arm(loop, &late, start + 300);
    gw_timer_init(&t, stop_timer, &s);
    gw_timer_start(loop, &t, start + 10);
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_EQUAL(s.nested_rc, -EBUSY);
    CU_ASSERT_EQUAL(f.n, 0);
    CU_ASSERT_TRUE(gw_clock_now_ms() - start < GUARD_MS);

    /* Stopped before run: one non-blocking iteration, although a timer is pending. */
    ticks = f.ticks;
    gw_loop_stop(loop);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_EQUAL(f.ticks, ticks + 1);
    CU_ASSERT_EQUAL(f.n, 0);

    /* The loop can run again after a stop. */
    gw_timer_start(loop, &t, gw_clock_now_ms() + 10);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_EQUAL(s.nested_rc, -EBUSY);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_EQUAL(f.n, 0);
    gw_loop_free(loop);
}

struct now_rec {
    gw_loop_t *loop;
    gw_timer_t *next; /* armed by the first callback, due at once */
    uint64_t due, in_cb, before_sleep, after_sleep;
    int n;
    uint64_t at[2];
};

static void now_cb(gw_timer_t *t, void *arg)
{
    struct now_rec *r = arg;

    (void)t;
    if (r->n == 0) {
        r->in_cb = gw_clock_now_ms();
        r->before_sleep = gw_loop_now_ms(r->loop);
        sleep_ms(30);
        r->after_sleep = gw_loop_now_ms(r->loop);
        /* Armed in the timer phase: it runs in the next iteration. */
        gw_timer_start(r->loop, r->next, gw_clock_now_ms());
    }
    r->at[r->n++] = gw_loop_now_ms(r->loop);
    if (r->n == 2)
        gw_loop_stop(r->loop);
}

/* The loop's time: the clock outside a run; inside, the clock when the
 * iteration's wait ended, the same for everything the iteration runs. */
static void test_now(void)
{
    gw_loop_t *loop = gw_loop_new();
    struct now_rec r = {0};
    gw_timer_t a, b;
    struct guard g;
    uint64_t t0, t1;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    t0 = gw_clock_now_ms();
    t1 = gw_loop_now_ms(loop);
    CU_ASSERT_TRUE(t1 >= t0 && t1 <= gw_clock_now_ms());

    r.loop = loop;
    r.next = &b;
    gw_timer_init(&a, now_cb, &r);
    gw_timer_init(&b, now_cb, &r);
    r.due = gw_clock_now_ms() + 10;
    gw_timer_start(loop, &a, r.due);
    guard_arm(loop, &g);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_FALSE(g.fired);
    CU_ASSERT_EQUAL_FATAL(r.n, 2);
    CU_ASSERT_TRUE(r.before_sleep >= r.due && r.before_sleep <= r.in_cb);
    CU_ASSERT_EQUAL(r.after_sleep, r.before_sleep);
    CU_ASSERT_EQUAL(r.at[0], r.before_sleep);
    /* b ran in a later iteration, whose wait ended after the sleep. */
    CU_ASSERT_TRUE(r.at[1] >= r.in_cb + 30);
    gw_loop_free(loop);
}

int loop_suite(void)
{
    static const sb_test_t tests[] = {
        {"new/free closes its fds", test_new_free},
        {"the loop's time: read once per iteration", test_now},
        {"signal mask blocked and restored", test_signal_mask},
        {"timers fire in due order", test_timer_due_order},
        {"ties fire in arming order", test_timer_ties},
        {"cancelled timers never fire", test_timer_cancel},
        {"re-arm moves the due time", test_timer_rearm},
        {"timer re-arming itself", test_timer_self_rearm},
        {"1000 random timers", test_timer_random},
        {"fd read callback", test_io_read},
        {"fd modify to EPOLLOUT", test_io_modify},
        {"stopped pending watcher not delivered", test_io_stop_pending},
        {"narrowed pending watcher not delivered", test_io_modify_pending},
        {"wake from another thread", test_wake_thread},
        {"wakes coalesce", test_wake_coalesce},
        {"signal handler gets signo", test_signal_handler},
        {"default TERM/INT stop, HUP ignored", test_signal_default},
        {"tick once per iteration", test_tick},
        {"stop returns from run", test_stop},
    };
    CU_pSuite suite = CU_add_suite("loop", NULL, NULL);

    if (!suite || SB_ADD_TESTS(suite, tests) != 0)
        return -1;
    if (loop_wake_tests(suite) != 0)
        return -1;
    return loop_grid_tests(suite);
}

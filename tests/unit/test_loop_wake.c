/*
 * Tests of the loop's wake-up path and counters. Registered into the loop
 * suite by test_loop.c.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "gateway/clock.h"
#include "gateway/loop.h"

int loop_wake_tests(CU_pSuite s);

#define FD_SCAN_MAX 4096

/* The fds that are eventfds, as a bitmap over [0, FD_SCAN_MAX). */
static void eventfds(unsigned char *map)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    memset(map, 0, FD_SCAN_MAX);
    if (!d)
        return;
    while ((e = readdir(d))) {
        char path[64], target[64];
        int fd = atoi(e->d_name);
        ssize_t n;

        if (e->d_name[0] == '.' || fd < 0 || fd >= FD_SCAN_MAX)
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        map[fd] = strcmp(target, "anon_inode:[eventfd]") == 0;
    }
    closedir(d);
}

/* The loop's wake-up eventfd: the one eventfd gw_loop_new() opened. */
static gw_loop_t *loop_with_wakefd(int *wakefd)
{
    static unsigned char before[FD_SCAN_MAX], after[FD_SCAN_MAX];
    gw_loop_t *loop;

    eventfds(before);
    loop = gw_loop_new();
    eventfds(after);
    *wakefd = -1;
    for (int fd = 0; fd < FD_SCAN_MAX; fd++) {
        if (after[fd] && !before[fd]) {
            CU_ASSERT_EQUAL(*wakefd, -1); /* exactly one */
            *wakefd = fd;
        }
    }
    return loop;
}

struct counts {
    unsigned ticks;
    unsigned wakes;
};

static void count_tick(gw_loop_t *loop, void *arg)
{
    (void)loop;
    ((struct counts *)arg)->ticks++;
}

static void count_wake(gw_loop_t *loop, void *arg)
{
    (void)loop;
    ((struct counts *)arg)->wakes++;
}

static void stop_cb(gw_timer_t *t, void *arg)
{
    (void)t;
    gw_loop_stop(arg);
}

/*
 * The wake race, made deterministic: a waker set the flag, the loop served it
 * (drained the eventfd, cleared the flag), and only then the waker's write
 * landed. That leaves the eventfd readable with the flag clear, which is what
 * writing the eventfd directly produces. Over 50 ms an idle loop must run a
 * handful of iterations, not spin on the level-triggered eventfd.
 */
static void test_wake_race_no_spin(void)
{
    const uint64_t one = 1;
    struct counts c = {0, 0};
    gw_loop_stats_t st;
    gw_timer_t stop;
    int wakefd;
    gw_loop_t *loop = loop_with_wakefd(&wakefd);

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    CU_ASSERT_TRUE_FATAL(wakefd >= 0);
    gw_loop_on_tick(loop, count_tick, &c);
    gw_loop_on_wake(loop, count_wake, &c);
    CU_ASSERT_EQUAL(write(wakefd, &one, sizeof(one)), (ssize_t)sizeof(one));
    gw_timer_init(&stop, stop_cb, loop);
    gw_timer_start(loop, &stop, gw_clock_now_ms() + 50);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_TRUE(c.ticks <= 5);
    CU_ASSERT_EQUAL(c.wakes, 0); /* nobody called gw_loop_wake(): nothing to serve */
    gw_loop_stats(loop, &st);
    CU_ASSERT_EQUAL(st.iterations, c.ticks);
    /* A real wake-up after that is still served. */
    c.ticks = 0;
    CU_ASSERT_EQUAL(gw_loop_wake(loop), 0);
    gw_timer_start(loop, &stop, gw_clock_now_ms() + 50);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_EQUAL(c.wakes, 1);
    CU_ASSERT_TRUE(c.ticks <= 5);
    gw_loop_free(loop);
}

struct stats_ctx {
    gw_loop_t *loop;
    gw_loop_t *seen_current;
    int fds[2];
    gw_io_t io;
};

static void read_one(gw_io_t *io, uint32_t events, void *arg)
{
    struct stats_ctx *x = arg;
    char b;

    (void)events;
    x->seen_current = gw_loop_current();
    CU_ASSERT_EQUAL(read(io->fd, &b, 1), 1);
}

static void test_loop_stats(void)
{
    struct counts c = {0, 0};
    struct stats_ctx x;
    gw_loop_stats_t st;
    gw_timer_t t[3];
    gw_loop_t *loop = gw_loop_new();

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    memset(&x, 0, sizeof(x));
    x.loop = loop;
    gw_loop_stats(loop, &st);
    CU_ASSERT_EQUAL(st.iterations + st.io_events + st.timers_fired + st.wakeups, 0);
    CU_ASSERT_PTR_NULL(gw_loop_current());
    gw_loop_on_tick(loop, count_tick, &c);
    gw_loop_on_wake(loop, count_wake, &c);
    CU_ASSERT_EQUAL_FATAL(pipe(x.fds), 0);
    CU_ASSERT_EQUAL(write(x.fds[1], "ab", 2), 2);
    gw_io_init(&x.io, x.fds[0], read_one, &x);
    CU_ASSERT_EQUAL(gw_io_start(loop, &x.io, EPOLLIN), 0);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(gw_loop_wake(loop), 0); /* coalesced: one wake-up */
    gw_timer_init(&t[0], stop_cb, loop);
    gw_timer_init(&t[1], stop_cb, loop);
    gw_timer_init(&t[2], stop_cb, loop);
    gw_timer_start(loop, &t[1], gw_clock_now_ms() + 5);
    gw_timer_start(loop, &t[2], gw_clock_now_ms() + 5);
    gw_timer_start(loop, &t[0], gw_clock_now_ms() + 30);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0); /* stopped by t[1] and t[2] */
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0); /* stopped by t[0] */
    gw_loop_stats(loop, &st);
    CU_ASSERT_EQUAL(st.iterations, c.ticks);
    CU_ASSERT_EQUAL(st.wakeups, 1);
    CU_ASSERT_EQUAL(c.wakes, 1);
    CU_ASSERT_EQUAL(st.timers_fired, 3);
    /* The pipe: one byte per event, two events; the eventfd: one. */
    CU_ASSERT_TRUE(st.io_events >= 2 && st.io_events <= 3);
    CU_ASSERT_PTR_EQUAL(x.seen_current, loop);
    CU_ASSERT_PTR_NULL(gw_loop_current());
    gw_io_stop(loop, &x.io);
    close(x.fds[0]);
    close(x.fds[1]);
    gw_loop_free(loop);
}

int loop_wake_tests(CU_pSuite s)
{
    if (!CU_add_test(s, "wake race: readable eventfd, clear flag, no spin",
                     test_wake_race_no_spin) ||
        !CU_add_test(s, "counters and the current loop", test_loop_stats))
        return -1;
    return 0;
}

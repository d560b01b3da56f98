/*
 * Unit tests for adapters/net and adapters/resolve: the polling schedule's
 * phase and next due time, and the connector on a real loop (names resolved
 * off the loop thread, every address tried in turn). Fake name lookups are
 * installed with adp_resolve_set_lookup(); real sockets on 127.0.0.1.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "adapters/net.h"
#include "adapters/resolve.h"
#include "gateway/clock.h"
#include "suites.h"

/*
 * 10,000 devices at a 1 s interval: their first polls must cover the whole
 * interval, not only its first half (adp_jitter's [interval/2, interval]
 * minus interval/2 gave [0, interval/2]). Each half gets about 5,000, each
 * tenth about 1,000.
 */
static void test_phase_uniform(void)
{
    enum { N = 10000, INTERVAL = 1000 };
    uint64_t rng = 0x9e3779b97f4a7c15u;
    unsigned halves[2] = {0, 0}, tenths[10] = {0};
    uint64_t max = 0;

    for (int i = 0; i < N; i++) {
        uint64_t p = adp_phase(&rng, INTERVAL);

        CU_ASSERT_TRUE_FATAL(p < INTERVAL);
        halves[p >= INTERVAL / 2]++;
        tenths[p / (INTERVAL / 10)]++;
        if (p > max)
            max = p;
    }
    CU_ASSERT_TRUE(halves[0] > 4700 && halves[0] < 5300);
    CU_ASSERT_TRUE(halves[1] > 4700 && halves[1] < 5300);
    for (int i = 0; i < 10; i++)
        CU_ASSERT_TRUE(tenths[i] > 850 && tenths[i] < 1150);
    CU_ASSERT_TRUE(max >= INTERVAL - 5);
    CU_ASSERT_EQUAL(adp_phase(&rng, 1), 0);
    CU_ASSERT_EQUAL(adp_phase(&rng, 0), 0);
}

/* phase: aligned. Wall = monotonic + offset; interval 1000. */
static void test_align_due(void)
{
    /* Starting at monotonic 5300 with the wall clock 700 ahead (wall 6000):
     * on a multiple already, the poll is due now. */
    CU_ASSERT_EQUAL(adp_align_due(5300, 1000, 700, 5300), 5300);
    /* Wall 6250: the next multiple, wall 7000, is monotonic 6000; the
     * nearest one, wall 6000, has passed. */
    CU_ASSERT_EQUAL(adp_align_due(5250, 1000, 1000, 5250), 6000);
    /* Wall 6750: forward to wall 7000. */
    CU_ASSERT_EQUAL(adp_align_due(5750, 1000, 1000, 5750), 6000);
    /* An aligned schedule stays put: next due 6300 is wall 7000. */
    CU_ASSERT_EQUAL(adp_align_due(6300, 1000, 700, 5400), 6300);
    /* The wall clock stepped 200 ms forward (offset 700 -> 900): due 6300
     * is wall 7200, back to wall 7000 (monotonic 6100), a tick 800 ms after
     * the last; stepped 400 back (offset 300): wall 6600, forward to wall
     * 7000 (monotonic 6700), 1400 ms after. */
    CU_ASSERT_EQUAL(adp_align_due(6300, 1000, 900, 5400), 6100);
    CU_ASSERT_EQUAL(adp_align_due(6300, 1000, 300, 5400), 6700);
    /* Half way goes back, unless that is before not_before. */
    CU_ASSERT_EQUAL(adp_align_due(6300, 1000, 1200, 5400), 5800);
    CU_ASSERT_EQUAL(adp_align_due(6300, 1000, 1200, 6000), 6800);
    /* Far behind not_before: the first multiple at or after it. */
    CU_ASSERT_EQUAL(adp_align_due(6300, 1000, 700, 99999), 100300);
    /* A wall clock behind the monotonic one (negative offset), and a
     * monotonic clock smaller than the remainder: never below 0. */
    CU_ASSERT_EQUAL(adp_align_due(5300, 1000, -2100, 5300), 5100 + 1000);
    CU_ASSERT_EQUAL(adp_align_due(100, 1000, 200, 0), 800);
    /* Interval 0 (back to back): due now or later, as given. */
    CU_ASSERT_EQUAL(adp_align_due(10, 0, 123, 20), 20);
    /* One minute, wall clock in 2026: on the minute. */
    {
        int64_t offset = 1796601600123 - 777777; /* wall 2026-12-07 00:00:00.123 at mono 777777 */
        uint64_t due = adp_align_due(777777, 60000, offset, 777777);

        CU_ASSERT_EQUAL(((int64_t)due + offset) % 60000, 0);
        CU_ASSERT_EQUAL(due, 777777 + 60000 - 123);
    }
}

/* The offset is rounded down, so that an aligned poll is never early: the
 * difference of the two clocks' milliseconds is it or one or two more (one
 * for the milliseconds' edges, one for the margin). It stays put. */
static void test_clock_offset(void)
{
    for (int i = 0; i < 1000; i++) {
        int64_t a = adp_clock_offset();
        uint64_t mono = gw_clock_now_ms();
        int64_t diff = gw_clock_wall_ms() - (int64_t)mono;

        CU_ASSERT_TRUE_FATAL(diff >= a && diff <= a + 2);
        CU_ASSERT_EQUAL_FATAL(adp_clock_offset(), a);
    }
}

static void test_next_due(void)
{
    uint64_t missed = 99;

    /* On time or early: prev + interval, nothing missed. */
    CU_ASSERT_EQUAL(adp_next_due(1000, 100, 1050, false, &missed), 1100);
    CU_ASSERT_EQUAL(missed, 0);
    CU_ASSERT_EQUAL(adp_next_due(1000, 100, 1100, false, &missed), 1100);
    CU_ASSERT_EQUAL(missed, 0);
    /* A cycle that ended at 1101: the tick of 1100 is skipped; the phase stays. */
    CU_ASSERT_EQUAL(adp_next_due(1000, 100, 1101, false, &missed), 1200);
    CU_ASSERT_EQUAL(missed, 1);
    CU_ASSERT_EQUAL(adp_next_due(1000, 100, 1350, false, &missed), 1400);
    CU_ASSERT_EQUAL(missed, 3);
    /* Aligned: on a multiple of the wall clock, at or after now; skipped
     * ticks still counted. */
    {
        int64_t off = adp_clock_offset();
        uint64_t now = 5000000, due = adp_next_due(now - 1000, 1000, now, true, &missed);

        CU_ASSERT_EQUAL(((int64_t)due + off) % 1000, 0);
        CU_ASSERT_TRUE(due >= now && due < now + 1000);
        CU_ASSERT_EQUAL(missed, 0);
        due = adp_next_due(now - 3500, 1000, now, true, &missed);
        CU_ASSERT_EQUAL(((int64_t)due + off) % 1000, 0);
        CU_ASSERT_TRUE(due >= now && due < now + 1000);
        CU_ASSERT_EQUAL(missed, 3);
        due = adp_first_due(NULL, 1000, now, true);
        CU_ASSERT_EQUAL(((int64_t)due + off) % 1000, 0);
        CU_ASSERT_TRUE(due >= now && due < now + 1000);
    }
    /* Back to back (interval 1 ms) after a 100 ms read: due now, 99 skipped. */
    CU_ASSERT_EQUAL(adp_next_due(5000, 1, 5100, false, &missed), 5100);
    CU_ASSERT_EQUAL(missed, 99);
}

/* --- the connector ------------------------------------------------------------ */

/* A listening socket on 127.0.0.1 (port in *port), or a port nothing listens on. */
static int listener(uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    CU_ASSERT_TRUE_FATAL(fd >= 0);
    CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    CU_ASSERT_EQUAL_FATAL(listen(fd, 8), 0);
    CU_ASSERT_EQUAL_FATAL(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static uint16_t closed_port(void)
{
    uint16_t port;
    int fd = listener(&port);

    close(fd); /* nothing listens there now: connecting is refused */
    return port;
}

static uint16_t port_a, port_b; /* the fake lookup's two addresses */
static int lookups;

static void add_addr(adp_addrs_t *out, uint16_t port)
{
    adp_addrs_t one;

    CU_ASSERT_EQUAL_FATAL(adp_addrs_numeric("127.0.0.1", port, &one), 0);
    out->a[out->n++] = one.a[0];
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* "two.test" has two addresses (port_a, then port_b); "slow.test" takes
 * 300 ms and does not resolve; anything else does not resolve. */
static int fake_lookup(const char *host, uint16_t port, adp_addrs_t *out)
{
    (void)port;
    __atomic_add_fetch(&lookups, 1, __ATOMIC_SEQ_CST);
    memset(out, 0, sizeof(*out));
    if (strcmp(host, "two.test") == 0) {
        add_addr(out, port_a);
        add_addr(out, port_b);
        return 0;
    }
    if (strcmp(host, "slow.test") == 0)
        sleep_ms(300);
    return -EHOSTUNREACH;
}

struct result {
    gw_loop_t *loop;
    int calls;
    int fd;
    int err;
    const char *cause;
    uint64_t at_ms;
    int *pending; /* stop the loop when it reaches 0 */
};

static void on_result(void *arg, int fd, int err, const char *cause)
{
    struct result *r = arg;

    r->calls++;
    r->fd = fd;
    r->err = err;
    r->cause = cause;
    r->at_ms = gw_clock_now_ms();
    if (--*r->pending == 0)
        gw_loop_stop(r->loop);
}

static void stop_loop_cb(gw_timer_t *t, void *arg)
{
    (void)t;
    gw_loop_stop(arg);
}

/* Runs the loop until the results are in; a guard timer stops it after 3 s
 * so a broken connector fails instead of hanging. */
static void run_connectors(gw_loop_t *loop, int *pending)
{
    gw_timer_t guard;

    gw_timer_init(&guard, stop_loop_cb, loop);
    gw_timer_start(loop, &guard, gw_clock_now_ms() + 3000);
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_EQUAL(*pending, 0);
    gw_timer_stop(loop, &guard);
}

/* A name with two addresses where the first refuses: the second is tried
 * and connects. (The connector before took the first address only.) */
static void test_connect_second_address(void)
{
    gw_loop_t *loop = gw_loop_new();
    adp_connector_t c;
    int pending = 1;
    struct result r = {loop, 0, -1, 0, NULL, 0, &pending};
    int lfd = listener(&port_b);

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    port_a = closed_port();
    adp_resolve_set_lookup(fake_lookup);
    adp_connector_init(&c, loop, "two.test", 502, 1000, on_result, &r);
    adp_connector_start(&c);
    CU_ASSERT_EQUAL(r.calls, 0); /* never from within start */
    run_connectors(loop, &pending);
    CU_ASSERT_EQUAL(r.calls, 1);
    CU_ASSERT_TRUE(r.fd >= 0);
    if (r.fd >= 0) {
        struct sockaddr_in peer;
        socklen_t len = sizeof(peer);

        CU_ASSERT_EQUAL(getpeername(r.fd, (struct sockaddr *)&peer, &len), 0);
        CU_ASSERT_EQUAL(ntohs(peer.sin_port), port_b);
        close(r.fd);
    }
    adp_connector_cancel(&c);
    adp_resolve_set_lookup(NULL);
    close(lfd);
    gw_loop_free(loop);
}

/* Every address refuses: the callback reports the last error. A name that
 * does not resolve: "cannot resolve host". Each attempt resolves again. */
static void test_connect_failures(void)
{
    gw_loop_t *loop = gw_loop_new();
    adp_connector_t c, bad;
    int pending = 2;
    struct result r = {loop, 0, -1, 0, NULL, 0, &pending};
    struct result rb = {loop, 0, -1, 0, NULL, 0, &pending};

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    port_a = closed_port();
    port_b = closed_port();
    lookups = 0;
    adp_resolve_set_lookup(fake_lookup);
    adp_connector_init(&c, loop, "two.test", 502, 1000, on_result, &r);
    adp_connector_init(&bad, loop, "nowhere.test", 502, 1000, on_result, &rb);
    adp_connector_start(&c);
    adp_connector_start(&bad);
    run_connectors(loop, &pending);
    CU_ASSERT_EQUAL(r.calls, 1);
    CU_ASSERT_EQUAL(r.fd, -1);
    CU_ASSERT_EQUAL(r.err, -ECONNREFUSED);
    CU_ASSERT_STRING_EQUAL(r.cause, "connection refused");
    CU_ASSERT_EQUAL(rb.calls, 1);
    CU_ASSERT_STRING_EQUAL(rb.cause, "cannot resolve host");
    /* Again: resolved again, not remembered. */
    pending = 1;
    adp_connector_start(&c);
    run_connectors(loop, &pending);
    CU_ASSERT_EQUAL(r.calls, 2);
    CU_ASSERT_EQUAL(__atomic_load_n(&lookups, __ATOMIC_SEQ_CST), 3);
    adp_resolve_set_lookup(NULL);
    gw_loop_free(loop);
}

/* A real name through getaddrinfo on a resolver thread. */
static void test_connect_localhost(void)
{
    gw_loop_t *loop = gw_loop_new();
    adp_connector_t c;
    int pending = 1;
    struct result r = {loop, 0, -1, 0, NULL, 0, &pending};
    uint16_t port;
    int lfd = listener(&port);

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    adp_connector_init(&c, loop, "localhost", port, 1000, on_result, &r);
    adp_connector_start(&c);
    run_connectors(loop, &pending);
    CU_ASSERT_EQUAL(r.calls, 1);
    CU_ASSERT_TRUE(r.fd >= 0);
    if (r.fd >= 0)
        close(r.fd);
    close(lfd);
    gw_loop_free(loop);
}

struct ticker {
    gw_timer_t t;
    gw_loop_t *loop;
    int n;
};

static void tick_cb(gw_timer_t *t, void *arg)
{
    struct ticker *k = arg;

    k->n++;
    gw_timer_start(k->loop, t, gw_clock_now_ms() + 10);
}

/*
 * A name that takes 300 ms to (not) resolve stalls nobody: meanwhile a
 * numeric device connects, and a 10 ms timer keeps firing. A cancelled slow
 * lookup never calls back. (getaddrinfo on the loop thread blocked it for
 * the whole lookup.)
 */
static void test_slow_name_does_not_stall(void)
{
    gw_loop_t *loop = gw_loop_new();
    adp_connector_t slow, fast, gone;
    int pending = 2;
    struct result rs = {loop, 0, -1, 0, NULL, 0, &pending};
    struct result rf = {loop, 0, -1, 0, NULL, 0, &pending};
    struct result rg = {loop, 0, -1, 0, NULL, 0, &pending};
    struct ticker k = {.loop = loop};
    uint16_t port;
    int lfd = listener(&port);
    uint64_t t0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    adp_resolve_set_lookup(fake_lookup);
    gw_timer_init(&k.t, tick_cb, &k);
    gw_timer_start(loop, &k.t, gw_clock_now_ms() + 10);
    adp_connector_init(&slow, loop, "slow.test", 502, 1000, on_result, &rs);
    adp_connector_init(&gone, loop, "slow.test", 502, 1000, on_result, &rg);
    adp_connector_init(&fast, loop, "127.0.0.1", port, 1000, on_result, &rf);
    t0 = gw_clock_now_ms();
    adp_connector_start(&slow);
    adp_connector_start(&gone);
    adp_connector_start(&fast);
    adp_connector_cancel(&gone);
    run_connectors(loop, &pending);
    CU_ASSERT_EQUAL(rf.calls, 1);
    CU_ASSERT_TRUE(rf.fd >= 0);
    CU_ASSERT_TRUE(rf.at_ms - t0 < 100);
    CU_ASSERT_EQUAL(rs.calls, 1);
    CU_ASSERT_STRING_EQUAL(rs.cause, "cannot resolve host");
    CU_ASSERT_TRUE(rs.at_ms - t0 >= 290);
    CU_ASSERT_TRUE(k.n >= 15); /* ~29 ticks of 10 ms in 300 ms */
    CU_ASSERT_EQUAL(rg.calls, 0);
    if (rf.fd >= 0)
        close(rf.fd);
    gw_timer_stop(loop, &k.t);
    sleep_ms(350); /* the cancelled lookup's thread finishes and frees it */
    adp_resolve_set_lookup(NULL);
    close(lfd);
    gw_loop_free(loop);
}

int net_suite(void)
{
    static const sb_test_t tests[] = {
        {"first polls spread over the whole interval", test_phase_uniform},
        {"next due keeps the phase, skips and counts", test_next_due},
        {"aligned due times: multiples of the interval on the wall clock", test_align_due},
        {"clock offset: rounded down, and stable", test_clock_offset},
        {"connect: the second address after a refusal", test_connect_second_address},
        {"connect: refused everywhere, unresolvable, resolved again", test_connect_failures},
        {"connect: localhost through getaddrinfo", test_connect_localhost},
        {"connect: a slow name stalls nobody", test_slow_name_does_not_stall},
    };
    CU_pSuite suite = CU_add_suite("net", NULL, NULL);

    if (!suite)
        return -1;
    return SB_ADD_TESTS(suite, tests);
}

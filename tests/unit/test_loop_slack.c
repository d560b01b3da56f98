/*
 * Tests of timer slack: due times rounded up to the slack's power-of-two
 * grid, so timers due close together fire in one iteration, never early.
 * Registered into the loop suite by test_loop.c.
 */
#include <CUnit/CUnit.h>
#include <stdint.h>

#include "gateway/clock.h"
#include "gateway/loop.h"

int loop_slack_tests(CU_pSuite s);

static void nop_cb(gw_timer_t *t, void *arg)
{
    (void)t;
    (void)arg;
}

static void test_interval_slack(void)
{
    CU_ASSERT_EQUAL(gw_interval_slack(0), 0);
    CU_ASSERT_EQUAL(gw_interval_slack(10), 10 / GW_SLACK_DIVISOR);
    CU_ASSERT_EQUAL(gw_interval_slack(100), 100 / GW_SLACK_DIVISOR);
    CU_ASSERT_EQUAL(gw_interval_slack(1000), 1000 / GW_SLACK_DIVISOR);
    CU_ASSERT_EQUAL(gw_interval_slack(3600000), GW_SLACK_MAX_MS);
}

/* The due time a timer with slack ends up with, armed for `due`. */
static uint64_t armed_due(gw_loop_t *loop, uint32_t slack, uint64_t due)
{
    gw_timer_t t;
    uint64_t got;

    gw_timer_init(&t, nop_cb, NULL);
    gw_timer_set_slack(&t, slack);
    gw_timer_start(loop, &t, due);
    got = t.due_ms;
    gw_timer_stop(loop, &t);
    return got;
}

static void test_grid(void)
{
    gw_loop_t *loop = gw_loop_new();

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    /* No slack, or under 2 ms: exact. */
    CU_ASSERT_EQUAL(armed_due(loop, 0, 1000001), 1000001);
    CU_ASSERT_EQUAL(armed_due(loop, 1, 1000001), 1000001);
    /* 12 ms of slack: a grid of 8 ms, rounded up, a multiple kept as is. */
    CU_ASSERT_EQUAL(armed_due(loop, 12, 1000001), 1000008);
    CU_ASSERT_EQUAL(armed_due(loop, 12, 1000007), 1000008);
    CU_ASSERT_EQUAL(armed_due(loop, 12, 1000008), 1000008);
    CU_ASSERT_EQUAL(armed_due(loop, 12, 1000009), 1000016);
    /* Exact powers of two, and the grids nest: 64 ms meets 8 ms. */
    CU_ASSERT_EQUAL(armed_due(loop, 8, 1000003), 1000008);
    CU_ASSERT_EQUAL(armed_due(loop, 64, 1000003), 1000000 + 64 - (1000000 % 64));
    CU_ASSERT_EQUAL(armed_due(loop, 64, 1000003) % 8, 0);
    CU_ASSERT_EQUAL(armed_due(loop, 250, 1000003) % 128, 0);
    CU_ASSERT_TRUE(armed_due(loop, 250, 1000003) - 1000003 < 128);
    gw_loop_free(loop);
}

struct slot {
    gw_loop_t *loop;
    int fired;
    uint64_t iteration[8];
    uint64_t fired_ms[8];
    uint64_t due[8];
    bool early;
};

static void slot_cb(gw_timer_t *t, void *arg)
{
    struct slot *s = arg;
    gw_loop_stats_t st;
    int i = s->fired++;

    gw_loop_stats(s->loop, &st);
    s->iteration[i] = st.iterations;
    s->fired_ms[i] = gw_clock_now_ms();
    if (s->fired_ms[i] < s->due[i])
        s->early = true;
    (void)t;
    if (s->fired == 8)
        gw_loop_stop(s->loop);
}

/* Eight timers due 1 ms apart within one 8 ms slot fire in one iteration,
 * in due order, none before its own due time. */
static void test_one_wakeup(void)
{
    gw_loop_t *loop = gw_loop_new();
    struct slot s = {.loop = loop};
    gw_timer_t t[8];
    uint64_t base;

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    /* The start of a slot at least 20 ms ahead. */
    base = (gw_clock_now_ms() + 20 + 7) & ~(uint64_t)7;
    for (int i = 0; i < 8; i++) {
        s.due[i] = base + 1 + (uint64_t)i; /* base+1 .. base+8: one slot */
        gw_timer_init(&t[i], slot_cb, &s);
        gw_timer_set_slack(&t[i], 8);
        gw_timer_start(loop, &t[i], s.due[i]);
    }
    CU_ASSERT_EQUAL(gw_loop_run(loop), 0);
    CU_ASSERT_EQUAL_FATAL(s.fired, 8);
    CU_ASSERT_FALSE(s.early);
    for (int i = 1; i < 8; i++)
        CU_ASSERT_EQUAL(s.iteration[i], s.iteration[0]);
    CU_ASSERT_TRUE(s.fired_ms[0] >= base + 8);
    gw_loop_free(loop);
}

int loop_slack_tests(CU_pSuite s)
{
    if (!CU_add_test(s, "slack of an interval", test_interval_slack) ||
        !CU_add_test(s, "slack rounds due times up to its grid", test_grid) ||
        !CU_add_test(s, "timers in one slot share one wake-up", test_one_wakeup))
        return -1;
    return 0;
}

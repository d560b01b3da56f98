/*
 * Tests of timer grids: due times rounded up to a multiple of the grid, so
 * timers due close together fire in one iteration, never early, and a
 * periodic timer whose grid divides its interval keeps its exact period.
 * Registered into the loop suite by test_loop.c.
 */
#include <CUnit/CUnit.h>
#include <stdint.h>

#include "gateway/clock.h"
#include "gateway/loop.h"

int loop_grid_tests(CU_pSuite s);

static void nop_cb(gw_timer_t *t, void *arg)
{
    (void)t;
    (void)arg;
}

static void test_interval_grid(void)
{
    CU_ASSERT_EQUAL(gw_interval_grid(0), 0);
    CU_ASSERT_EQUAL(gw_interval_grid(10), 0); /* 10/8: 1 */
    CU_ASSERT_EQUAL(gw_interval_grid(16), 2);
    CU_ASSERT_EQUAL(gw_interval_grid(50), 5);   /* <= 6, divides 50 */
    CU_ASSERT_EQUAL(gw_interval_grid(100), 10); /* <= 12 */
    CU_ASSERT_EQUAL(gw_interval_grid(97), 0);   /* prime */
    CU_ASSERT_EQUAL(gw_interval_grid(1000), 125);
    CU_ASSERT_EQUAL(gw_interval_grid(60000), GW_GRID_MAX_MS);
    CU_ASSERT_EQUAL(gw_interval_grid(3001), 0);   /* 3001 is prime */
    CU_ASSERT_EQUAL(gw_interval_grid(3003), 231); /* 3 * 7 * 11 */
}

/* The due time a timer with a grid ends up with, armed for `due`. */
static uint64_t armed_due(gw_loop_t *loop, uint32_t grid, uint64_t due)
{
    gw_timer_t t;
    uint64_t got;

    gw_timer_init(&t, nop_cb, NULL);
    gw_timer_set_grid(&t, grid);
    gw_timer_start(loop, &t, due);
    got = t.due_ms;
    gw_timer_stop(loop, &t);
    return got;
}

static void test_grid(void)
{
    gw_loop_t *loop = gw_loop_new();

    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    /* No grid, or 1 ms: exact. */
    CU_ASSERT_EQUAL(armed_due(loop, 0, 1000001), 1000001);
    CU_ASSERT_EQUAL(armed_due(loop, 1, 1000001), 1000001);
    /* Rounded up, a multiple kept as it is. */
    CU_ASSERT_EQUAL(armed_due(loop, 10, 1000001), 1000010);
    CU_ASSERT_EQUAL(armed_due(loop, 10, 1000009), 1000010);
    CU_ASSERT_EQUAL(armed_due(loop, 10, 1000010), 1000010);
    CU_ASSERT_EQUAL(armed_due(loop, 10, 1000011), 1000020);
    CU_ASSERT_EQUAL(armed_due(loop, 125, 1000001), 1000125);
    /* A schedule of period 100 on a grid of 10: every due time moves by the
     * same amount, so the period stays exact. */
    for (uint64_t k = 0; k < 50; k++)
        CU_ASSERT_EQUAL(armed_due(loop, gw_interval_grid(100), 1000003 + k * 100),
                        1000010 + k * 100);
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

/* Eight timers due 1 ms apart within one 8 ms slot of the grid fire in one
 * iteration, in due order, none before its own due time. */
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
        gw_timer_set_grid(&t[i], 8);
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

int loop_grid_tests(CU_pSuite s)
{
    if (!CU_add_test(s, "grid of an interval", test_interval_grid) ||
        !CU_add_test(s, "a grid rounds due times up", test_grid) ||
        !CU_add_test(s, "timers in one slot share one wake-up", test_one_wakeup))
        return -1;
    return 0;
}

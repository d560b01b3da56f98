/*
 * Unit tests for adapters/net: the polling schedule's phase and next due
 * time.
 */
#include <CUnit/CUnit.h>
#include <stdint.h>

#include "adapters/net.h"
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

static void test_next_due(void)
{
    uint64_t missed = 99;

    /* On time or early: prev + interval, nothing missed. */
    CU_ASSERT_EQUAL(adp_next_due(1000, 100, 1050, &missed), 1100);
    CU_ASSERT_EQUAL(missed, 0);
    CU_ASSERT_EQUAL(adp_next_due(1000, 100, 1100, &missed), 1100);
    CU_ASSERT_EQUAL(missed, 0);
    /* A cycle that ended at 1101: the tick of 1100 is skipped; the phase stays. */
    CU_ASSERT_EQUAL(adp_next_due(1000, 100, 1101, &missed), 1200);
    CU_ASSERT_EQUAL(missed, 1);
    CU_ASSERT_EQUAL(adp_next_due(1000, 100, 1350, &missed), 1400);
    CU_ASSERT_EQUAL(missed, 3);
    /* Back to back (interval 1 ms) after a 100 ms read: due now, 99 skipped. */
    CU_ASSERT_EQUAL(adp_next_due(5000, 1, 5100, &missed), 5100);
    CU_ASSERT_EQUAL(missed, 99);
}

int net_suite(void)
{
    static const sb_test_t tests[] = {
        {"first polls spread over the whole interval", test_phase_uniform},
        {"next due keeps the phase, skips and counts", test_next_due},
    };
    CU_pSuite suite = CU_add_suite("net", NULL, NULL);

    if (!suite)
        return -1;
    return SB_ADD_TESTS(suite, tests);
}

/* gateway/fmath: gw_ln, gw_round and gw_llround against libm. */
#include <CUnit/CUnit.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "gateway/fmath.h"
#include "suites.h"

/* |a - b| in units of the last place of b. */
static double ulps(double a, double b)
{
    if (a == b)
        return 0;
    return fabs(a - b) / (nextafter(fabs(b), INFINITY) - fabs(b));
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_ln_against_libm(void)
{
    static const double fixed[] = {1.0,
                                   2.0,
                                   0.5,
                                   M_E,
                                   10.0,
                                   1e-300,
                                   1e300,
                                   DBL_MAX,
                                   DBL_MIN,
                                   DBL_MIN / 4,
                                   4.9406564584124654e-324,
                                   0.99999999999999989,
                                   1.0000000000000002,
                                   1.4142135623730951,
                                   0.70710678118654746,
                                   1.0 / 3};
    double worst = 0, worst_at = 0;

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        double want = log(fixed[i]), got = gw_ln(fixed[i]);

        /* Near 1 the result is tiny: judge it against 1 ulp of 1e-16. */
        if (fabs(want) < 1e-15) {
            CU_ASSERT(fabs(got - want) < 1e-31);
        } else if (ulps(got, want) > worst) {
            worst = ulps(got, want);
            worst_at = fixed[i];
        }
    }
    /* The polar method's whole domain, (0, 1), and beyond. */
    for (int i = 0; i < 200000; i++) {
        double x = (double)(next() >> 11) * 0x1.0p-53;
        double big = ldexp(1.0 + x, (int)(next() % 2000) - 1000);

        if (x > 0 && fabs(log(x)) > 1e-15 && ulps(gw_ln(x), log(x)) > worst) {
            worst = ulps(gw_ln(x), log(x));
            worst_at = x;
        }
        if (fabs(log(big)) > 1e-15 && ulps(gw_ln(big), log(big)) > worst) {
            worst = ulps(gw_ln(big), log(big));
            worst_at = big;
        }
    }
    if (worst > 4)
        fprintf(stderr, "\n  gw_ln: %.1f ulp at %.17g\n", worst, worst_at);
    CU_ASSERT(worst <= 4);
}

static void test_ln_domain(void)
{
    CU_ASSERT(isnan(gw_ln(0.0)));
    CU_ASSERT(isnan(gw_ln(-1.0)));
    CU_ASSERT(isnan(gw_ln(NAN)));
    CU_ASSERT(isnan(gw_ln(INFINITY)));
}

static void test_round_against_libm(void)
{
    static const double fixed[] = {0.0,
                                   -0.0,
                                   0.5,
                                   -0.5,
                                   1.5,
                                   -1.5,
                                   2.5,
                                   -2.5,
                                   0.49999999999999994,
                                   -0.49999999999999994,
                                   -0.3,
                                   4503599627370495.5,
                                   -4503599627370495.5,
                                   4503599627370496.0,
                                   9007199254740993.0,
                                   1e300,
                                   -1e300,
                                   INFINITY,
                                   -INFINITY,
                                   DBL_MIN,
                                   -DBL_MIN,
                                   123.456 * 100.0,
                                   -0.004999 * 100.0};

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        double want = round(fixed[i]), got = gw_round(fixed[i]);

        CU_ASSERT_EQUAL(got, want);
        CU_ASSERT_EQUAL(signbit(got) != 0, signbit(want) != 0);
    }
    CU_ASSERT(isnan(gw_round(NAN)));
    for (int i = 0; i < 200000; i++) {
        double x = ((double)(next() >> 11) * 0x1.0p-53 - 0.5) * ldexp(1.0, (int)(next() % 70));

        CU_ASSERT_EQUAL_FATAL(gw_round(x), round(x));
        if (fabs(x) < 0x1p62)
            CU_ASSERT_EQUAL_FATAL(gw_llround(x), llround(x));
    }
}

static void test_llround_timestamps(void)
{
    /* What the line parser hands it: seconds * 1000 and milliseconds. */
    CU_ASSERT_EQUAL(gw_llround(1795285267.4715 * 1000.0), 1795285267472LL);
    CU_ASSERT_EQUAL(gw_llround(1795285267471.5), 1795285267472LL);
    CU_ASSERT_EQUAL(gw_llround(1795285267471.49), 1795285267471LL);
    CU_ASSERT_EQUAL(gw_llround(0.0), 0);
}

int fmath_suite(void)
{
    CU_pSuite s = CU_add_suite("fmath", NULL, NULL);

    if (!s || !CU_add_test(s, "gw_ln against libm's log", test_ln_against_libm) ||
        !CU_add_test(s, "gw_ln outside its domain", test_ln_domain) ||
        !CU_add_test(s, "gw_round and gw_llround against libm", test_round_against_libm) ||
        !CU_add_test(s, "gw_llround of timestamps", test_llround_timestamps))
        return -1;
    return 0;
}

/* See fmath.h. */
#include "gateway/fmath.h"

#include <string.h>

#define LN2_HI 6.93147180369123816490e-01 /* ln 2, upper bits: e * LN2_HI is exact */
#define LN2_LO 1.90821492927058770002e-10 /* ln 2 - LN2_HI */
#define SQRT2 1.41421356237309504880

double gw_ln(double x)
{
    uint64_t bits;
    int e;
    double m, s, s2, sum;

    if (!(x > 0.0) || x - x != 0.0) /* <= 0, NaN or infinite */
        return __builtin_nan("");
    memcpy(&bits, &x, sizeof(bits));
    e = (int)((bits >> 52) & 0x7ff);
    if (e == 0) { /* subnormal: scale into the normal range first */
        x *= 0x1p54;
        memcpy(&bits, &x, sizeof(bits));
        e = (int)((bits >> 52) & 0x7ff) - 54;
    }
    e -= 1023;
    bits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    memcpy(&m, &bits, sizeof(m)); /* x = m * 2^e, m in [1, 2) */
    if (m > SQRT2) {
        m *= 0.5;
        e++;
    }
    /* ln m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), |s| <= 0.1716, so
     * s^2 <= 0.0295 and twelve terms leave less than 1e-18 behind. */
    s = (m - 1.0) / (m + 1.0);
    s2 = s * s;
    sum = 2.0 / 23;
    for (int k = 21; k >= 1; k -= 2)
        sum = 2.0 / k + s2 * sum;
    return e * LN2_HI + (e * LN2_LO + s * sum);
}

double gw_round(double x)
{
    double t, f;

    if (!(x > -0x1p52 && x < 0x1p52)) /* NaN, infinite or already an integer */
        return x;
    t = (double)(int64_t)x; /* toward zero */
    f = x - t;              /* exact */
    if (f >= 0.5)
        t += 1.0;
    else if (f <= -0.5)
        t -= 1.0;
    return t == 0.0 ? __builtin_copysign(0.0, x) : t; /* round(-0.3) is -0.0 */
}

int64_t gw_llround(double x)
{
    return (int64_t)gw_round(x);
}

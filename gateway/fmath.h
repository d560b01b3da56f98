/*
 * The three pieces of floating-point arithmetic the gateway needs beyond
 * + - * / and sqrt, done here rather than by libm.
 *
 * libm is a large shared library whose IFUNC resolvers run at load time:
 * mapped for these three functions it kept 0.3-0.65 MiB resident in an idle
 * gateway (bench/footprint), about a tenth of the whole. sqrt needs no call:
 * with -fno-math-errno the compiler emits the instruction.
 */
#ifndef GW_FMATH_H
#define GW_FMATH_H

#include <stdint.h>

/* Natural logarithm of a finite x > 0, within a few units in the last place
 * of libm's log(). Anything else is the caller's error (returns NaN). */
double gw_ln(double x);

/* round(): to the nearest integer, halves away from zero, -0.0 kept; NaN,
 * infinities and |x| >= 2^52 (already integers) returned as they are. */
double gw_round(double x);

/* llround() for |x| < 2^63 (the caller checks the range). */
int64_t gw_llround(double x);

#endif

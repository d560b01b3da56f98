/*
 * The only ways the gateway reads time. Tests may link their own
 * definitions of these functions to make time deterministic.
 */
#ifndef GW_CLOCK_H
#define GW_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC; used for every timer and timeout. */
uint64_t gw_clock_now_ms(void);

/* Wall-clock milliseconds since the Unix epoch; used only to stamp readings. */
int64_t gw_clock_wall_ms(void);

/*
 * The wall clock minus the monotonic clock in whole milliseconds, read to
 * the nanosecond and rounded down after taking GW_CLOCK_OFFSET_MARGIN_NS
 * off: a timer due at monotonic d fires when the wall clock reads
 * d + offset or later, never a millisecond before (`phase: aligned`). The
 * margin covers the time between the two reads; when the true offset lies
 * within it above a whole millisecond, the result is one less, and such
 * timers fire in the millisecond after.
 */
#define GW_CLOCK_OFFSET_MARGIN_NS 10000
int64_t gw_clock_wall_offset_ms(void);

/* ts in milliseconds, computed in 64 bits: right past 2038 (time_t is 64-bit
 * on every target, armhf through _TIME_BITS=64) and whatever the width of
 * long, which holds tv_nsec. */
int64_t gw_clock_timespec_ms(const struct timespec *ts);

#endif

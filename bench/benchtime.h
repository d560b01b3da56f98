/* Clocks shared by the benchmark programs. */
#ifndef SB_BENCHTIME_H
#define SB_BENCHTIME_H

#include <time.h>

/* Seconds on CLOCK_MONOTONIC, for rates and durations. */
static inline double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Milliseconds since the epoch, the unit of a reading's "ts". */
static inline long long wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif

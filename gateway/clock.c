/* The gateway's two clocks; see clock.h. */
#include "gateway/clock.h"

int64_t gw_clock_timespec_ms(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000 + (int64_t)ts->tv_nsec / 1000000;
}

uint64_t gw_clock_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)gw_clock_timespec_ms(&ts);
}

int64_t gw_clock_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return gw_clock_timespec_ms(&ts);
}

int64_t gw_clock_wall_offset_ms(void)
{
    struct timespec mono, wall;
    int64_t ns;

    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &wall);
    ns = ((int64_t)wall.tv_sec - (int64_t)mono.tv_sec) * 1000000000 +
         ((int64_t)wall.tv_nsec - (int64_t)mono.tv_nsec) - GW_CLOCK_OFFSET_MARGIN_NS;
    return ns >= 0 ? ns / 1000000 : -((-ns + 999999) / 1000000); /* rounded down */
}

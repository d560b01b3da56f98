/*
 * The only two ways the gateway reads time. Tests may link their own
 * definitions of these functions to make time deterministic.
 */
#ifndef GW_CLOCK_H
#define GW_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC; used for every timer and timeout. */
uint64_t gw_clock_now_ms(void);

/* Wall-clock milliseconds since the Unix epoch; used only to stamp readings. */
int64_t gw_clock_wall_ms(void);

#endif

/*
 * What the decoder (modbus_point.c) and the encoder (modbus_point_encode.c)
 * must agree on, in one place: the byte-order rules and the string limit. The
 * encoder is only the decoder's inverse as long as both read these.
 */
#ifndef ADP_MODBUS_POINT_INT_H
#define ADP_MODBUS_POINT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "adapters/modbus_point.h"

#define MB_STRING_MAX_REGS 125

/* Registers least significant first (CDAB, DCBA). */
static inline bool mb_word_swapped(mb_order_t o)
{
    return o == MB_ORDER_CDAB || o == MB_ORDER_DCBA;
}

/* The two bytes of every register swapped (BADC, DCBA). */
static inline bool mb_byte_swapped(mb_order_t o)
{
    return o == MB_ORDER_BADC || o == MB_ORDER_DCBA;
}

static inline uint16_t mb_swap16(uint16_t r)
{
    return (uint16_t)((r >> 8) | (r << 8));
}

/* Scale or offset in use: the value is a double, raw * scale + offset. */
static inline bool mb_point_scaled(const mb_point_t *p)
{
    return p->scale != 1.0 || p->offset != 0.0;
}

#endif

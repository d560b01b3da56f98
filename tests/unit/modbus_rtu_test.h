/*
 * Frames shared by the RTU framer's tests (test_modbus_rtu.c, which defines
 * them, and test_modbus_rtu_decode.c): bytes libmodbus 3.1.6 put on a serial
 * line, captured from a pty, and the Modbus literature's examples.
 */
#ifndef SB_MODBUS_RTU_TEST_H
#define SB_MODBUS_RTU_TEST_H

#include <CUnit/CUnit.h>
#include <stdint.h>

#include "adapters/modbus_codec.h"

#define MBR_NOISE 0xFF /* 0xFF 0xFF can start no response frame */
#define MBR_WRITES 4   /* FC 5, 6, 15, 16 */

/* Holding registers 0..9 of unit 1, 0x1000 + 0x111 * i, as libmodbus's RTU
 * server answered `01 03 00 00 00 0A C5 CD`. */
extern const uint8_t mbr_regs_frame[25];
/* Coils 0x13..0x37 (37 of them), on where the address is a multiple of 3. */
extern const uint8_t mbr_coils_frame[10];
/* Discrete inputs 0x13..0x1C, on where the address is odd. */
extern const uint8_t mbr_inputs_frame[7];
/* Input register 8: 0xEFF8. */
extern const uint8_t mbr_input_reg_frame[7];
/* Illegal data address, to FC 3 (also the Modbus guides' example). */
extern const uint8_t mbr_exception_frame[5];
/* The response to `11 03 00 6B 00 03` in the simplymodbus.ca example. */
extern const uint8_t mbr_simply_frame[11];

/* A write request as libmodbus's RTU client sent it, and the response its
 * RTU server echoed (FC 5's to coil 0x2C). */
typedef struct {
    mb_write_t w;
    uint8_t req[13];
    size_t req_len;
    uint8_t resp[8];
} mbr_write_case_t;
extern const mbr_write_case_t mbr_writes[MBR_WRITES];

/* The largest frame: a read response of 251 bytes, MB_RTU_MAX_ADU long. */
void mbr_make_largest(uint8_t *rtu);

/* The decoder's tests, in test_modbus_rtu_decode.c, and a live libmodbus
 * server, in test_modbus_rtu_peer.c: 0, or -1 if CUnit refused one. */
int modbus_rtu_decode_tests(CU_pSuite s);
int modbus_rtu_peer_tests(CU_pSuite s);

#endif

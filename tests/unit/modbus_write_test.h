/*
 * Helpers shared by the point-encoding tests (test_modbus_write.c, which
 * defines them, and test_modbus_write_text.c).
 */
#ifndef SB_MODBUS_WRITE_TEST_H
#define SB_MODBUS_WRITE_TEST_H

#include <CUnit/CUnit.h>
#include <stdbool.h>
#include <stdint.h>

#include "adapters/modbus_point.h"

#define MBW_POISON 0xEEEE /* fills registers that must stay untouched */

/* A holding-register point at address 100, bit -1, length 0. */
mb_point_t mbw_holding(mb_type_t type, mb_order_t order, double scale, double offset);
/* Inputs as a JSON command gives them; str() borrows s. */
mb_input_t mbw_lit_i(int64_t v);
mb_input_t mbw_boolean(bool b);
mb_input_t mbw_str(const char *s);
/* Encodes in into p's registers expecting success (a CUnit assertion);
 * returns whether it succeeded. */
bool mbw_encode_ok(const mb_point_t *p, const mb_input_t *in, uint16_t *regs);
/* Expects mb_encode_registers() to refuse with rc and exactly msg, leaving
 * the registers untouched, with why given and with why NULL. */
void mbw_refused(const mb_point_t *p, const mb_input_t *in, int rc, const char *msg);

/* Strings and bools, in test_modbus_write_text.c: 0, or -1 if CUnit refused. */
int modbus_write_add_text_bool_tests(CU_pSuite s);

#endif

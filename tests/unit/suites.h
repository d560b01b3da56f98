/* Every unit-test suite: each registers itself with CUnit, returning 0 or -1. */
#ifndef SB_TEST_SUITES_H
#define SB_TEST_SUITES_H

int config_suite(void);
int fmath_suite(void);
int line_parser_suite(void);
int loop_suite(void);
int modbus_codec_suite(void);
int modbus_point_suite(void);
int msgpool_suite(void);
int outbox_suite(void);
int reading_suite(void);
int simulated_suite(void);
int spool_suite(void);

#endif

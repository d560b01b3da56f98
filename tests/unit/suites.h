/* Every unit-test suite: each registers itself with CUnit, returning 0 or -1. */
#ifndef SB_TEST_SUITES_H
#define SB_TEST_SUITES_H

#include <CUnit/CUnit.h>
#include <stddef.h>

typedef struct {
    const char *name;
    CU_TestFunc fn;
} sb_test_t;

/* Adds tests[0..n) to s in order: 0, or -1 if CUnit refused one. */
int sb_add_tests(CU_pSuite s, const sb_test_t *tests, size_t n);
#define SB_ADD_TESTS(s, tests) sb_add_tests((s), (tests), sizeof(tests) / sizeof((tests)[0]))

int config_suite(void);
int config_yaml_suite(void);
int fmath_suite(void);
int line_parser_suite(void);
int loop_suite(void);
int modbus_codec_suite(void);
int modbus_point_suite(void);
int modbus_rtu_suite(void);
int modbus_write_suite(void);
int msgpool_suite(void);
int net_suite(void);
int outbox_suite(void);
int paho_heap_suite(void);
int paho_pending_suite(void);
int paho_cork_suite(void);
int paho_store_suite(void);
int paho_suite(void);
int publisher_suite(void);
int raw_tcp_write_suite(void);
int reading_suite(void);
int simulated_suite(void);
int spool_suite(void);
int spool_format_suite(void);
int timer_heap_suite(void);
int utf8_suite(void);
int width_suite(void);
int command_json_suite(void);
int homeassistant_suite(void);
int publish_suite(void);

#endif

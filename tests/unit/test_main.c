/*
 * The one CUnit main: registers every module's suite and returns the number
 * of failures, so CTest (and CI) fail on any failed assertion.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "suites.h"

int sb_add_tests(CU_pSuite s, const sb_test_t *tests, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return -1;
    return 0;
}

int main(int argc, char **argv)
{
    int (*suites[])(void) = {
        command_json_suite,  config_suite,       config_yaml_suite,  fmath_suite,
        line_parser_suite,   loop_suite,         modbus_codec_suite, modbus_point_suite,
        modbus_rtu_suite,    modbus_write_suite, msgpool_suite,      net_suite,
        outbox_suite,        paho_heap_suite,    paho_store_suite,   publisher_suite,
        raw_tcp_write_suite, reading_suite,      simulated_suite,    spool_suite,
        spool_format_suite,  timer_heap_suite,   utf8_suite,         width_suite,
        homeassistant_suite, publish_suite,      paho_suite,         paho_pending_suite,
        paho_cork_suite};
    unsigned failures;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        if (suites[i]() != 0) {
            fprintf(stderr, "cannot register a suite: %s\n", CU_get_error_msg());
            CU_cleanup_registry();
            return 1;
        }
    }
    CU_basic_set_mode(argc > 1 && strcmp(argv[1], "-v") == 0 ? CU_BRM_VERBOSE : CU_BRM_NORMAL);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
               CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failures > 255 ? 255 : (int)failures;
}

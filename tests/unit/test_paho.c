/*
 * gateway/paho.c and, in a lean build, gateway/paho_lean.c: the Paho this
 * build uses for tcp://, with the real library (no fake). A lean build's
 * Paho is linked in and counts its heap in gateway/paho_heap.c; a build
 * that loads the shared library at run time has Debian's heap tracking.
 * Either way a client can be created and destroyed through the table, which
 * under AddressSanitizer also checks that what the lean Paho allocates
 * (through the C library, gateway/paho_lean.c) is freed.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "gateway/paho.h"
#include "suites.h"

static bool lean(void)
{
    return strstr(gw_paho_describe(), ", static, without stack tracing and heap tracking") != NULL;
}

static void test_describe(void)
{
    const char *d = gw_paho_describe();

    CU_ASSERT_EQUAL(strncmp(d, "Paho MQTT C ", 12), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(d, "for tcp://"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d, "libpaho-mqtt3as.so.1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d, "for ssl://"));
}

static void test_heap_accounting(void)
{
    const gw_paho_t *api;

    gw_paho_fake(NULL);
    api = gw_paho_load(false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(api);
    CU_ASSERT_PTR_EQUAL(gw_paho_load(false), api); /* loaded once */
    if (lean()) {
        CU_ASSERT_PTR_NOT_NULL(api->heap_info); /* gateway/paho_heap.c counts */
        CU_ASSERT(gw_paho_heap_bytes() >= 0);
    } else if (api->heap_info) {
        CU_ASSERT(gw_paho_heap_bytes() >= 0);
    }
    CU_ASSERT_PTR_NOT_NULL(api->getNumericValue); /* MQTT 5 properties */
}

static void test_client(void)
{
    const gw_paho_t *api = gw_paho_load(false);
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    MQTTAsync client = NULL;
    char *p;

    CU_ASSERT_PTR_NOT_NULL_FATAL(api);
    co.MQTTVersion = MQTTVERSION_5;
    CU_ASSERT_EQUAL(api->createWithOptions(&client, "tcp://127.0.0.1:1", "sb-unit-paho",
                                           MQTTCLIENT_PERSISTENCE_NONE, NULL, &co),
                    MQTTASYNC_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL(client);
    CU_ASSERT_STRING_EQUAL(api->strerror(MQTTASYNC_DISCONNECTED), "Disconnected");
    p = api->malloc(100); /* Paho's allocator: freed by Paho's free */
    CU_ASSERT_PTR_NOT_NULL(p);
    if (p)
        memset(p, 0, 100);
    api->free(p);
    api->destroy(&client);
    CU_ASSERT_PTR_NULL(client);
}

/* Paho 1.3.12 frees the topic and payload of a QoS 1 publish whose write
 * failed twice (gateway/paho_heap.c says where). The lean Paho must ignore
 * the second free, as Debian's heap tracking does, not pass it to free(). */
static void test_double_free(void)
{
    const gw_paho_t *api = gw_paho_load(false);
    unsigned long before = gw_paho_lean_ignored_frees();
    char *p, *q;

    CU_ASSERT_PTR_NOT_NULL_FATAL(api);
    if (!lean()) {
        CU_ASSERT_EQUAL(before, 0);
        return;
    }
    p = api->malloc(114);
    q = api->malloc(20);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    api->free(p);
    api->free(p);
    CU_ASSERT_EQUAL(gw_paho_lean_ignored_frees(), before + 1);
    api->free(q); /* still Paho's */
    CU_ASSERT_EQUAL(gw_paho_lean_ignored_frees(), before + 1);
    for (int i = 0; i < 10000; i++) /* the set grows and shrinks */
        api->free(api->malloc((size_t)i % 200 + 1));
    CU_ASSERT_EQUAL(gw_paho_lean_ignored_frees(), before + 1);
}

int paho_suite(void)
{
    static const sb_test_t tests[] = {
        {"which Paho, said in one line", test_describe},
        {"heap accounting", test_heap_accounting},
        {"a client created and destroyed through the table", test_client},
        {"a block freed twice: the second free ignored", test_double_free},
    };
    CU_pSuite s = CU_add_suite("paho", NULL, NULL);

    return s ? SB_ADD_TESTS(s, tests) : -1;
}

/*
 * Paho MQTT C for tcp:// brokers, linked into the executable without its
 * stack tracing and heap tracking. Only in a build with SB_PAHO_LEAN (the
 * top-level CMakeLists.txt and cmake/paho_lean.cmake decide); see paho.h.
 *
 * Debian's Paho (libpaho-mqtt-dev 1.3.12) is built without
 * PAHO_HIGH_PERFORMANCE. Every Paho function then calls StackTrace_entry()
 * on entry and StackTrace_exit() on exit, which take a global mutex, scan a
 * table of threads and copy the function's name; every Paho allocation goes
 * through mymalloc()/myrealloc()/myfree(), which take another global mutex
 * and insert into or delete from a balanced tree that records each block.
 * That is about three quarters of the instructions Paho runs per message
 * (BENCHMARKS.md). Upstream's PAHO_HIGH_PERFORMANCE build compiles both away.
 *
 * The same effect without rebuilding Paho: this file defines those seven
 * functions, and the executable links Debian's static archive
 * libpaho-mqtt3a.a after it. Every reference the archive's other objects
 * make to StackTrace.c.o and Heap.c.o is then already satisfied, so neither
 * object is linked in, and nothing else in Paho changes. Two conditions
 * make that safe, and cmake/paho_lean.cmake checks both on the archive at
 * configure time (falling back to loading the shared library at run time
 * when either fails): the archive's other objects use no other symbol of
 * StackTrace.c.o or Heap.c.o, and these definitions match the prototypes
 * of the Paho that was checked (1.3.12; its StackTrace.h and Heap.h are not
 * installed, hence the declarations below). Should Heap.c.o still be pulled
 * in, its definitions collide with these and the link fails; it is never
 * linked silently.
 *
 * Link order matters for that: a static library member is only linked when
 * something already linked needs it. gateway/paho.c calls gw_paho_lean_fill()
 * below, which is what brings this object in ahead of the archive.
 *
 * What is lost: Paho's heap accounting (Heap_get_info(), the `paho_heap`
 * stats, the list of blocks still allocated that MQTT_C_CLIENT_TRACE prints
 * at exit) and Paho's stack trace in its own trace output. Paho's
 * allocations are the C library's own, which AddressSanitizer and Valgrind
 * see one by one.
 *
 * The definitions are hidden: the executable must not export them, or the
 * TLS library loaded at run time (libpaho-mqtt3as.so.1, which has its own
 * tracking) could bind to them. The archive's own symbols are hidden
 * already. Any thread (Paho's included).
 */
#include <stdlib.h>

#include "gateway/paho.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* Paho 1.3.12's prototypes, from src/StackTrace.h and src/Heap.h. */
HIDDEN void StackTrace_entry(const char *name, int line, int trace_level);
HIDDEN void StackTrace_exit(const char *name, int line, void *return_value, int trace_level);
HIDDEN void *mymalloc(char *file, int line, size_t size);
HIDDEN void *myrealloc(char *file, int line, void *p, size_t size);
HIDDEN void myfree(char *file, int line, void *p);
HIDDEN int Heap_initialize(void);
HIDDEN void Heap_terminate(void);

void StackTrace_entry(const char *name, int line, int trace_level)
{
    (void)name;
    (void)line;
    (void)trace_level;
}

void StackTrace_exit(const char *name, int line, void *return_value, int trace_level)
{
    (void)name;
    (void)line;
    (void)return_value;
    (void)trace_level;
}

void *mymalloc(char *file, int line, size_t size)
{
    (void)file;
    (void)line;
    return malloc(size);
}

void *myrealloc(char *file, int line, void *p, size_t size)
{
    (void)file;
    (void)line;
    return realloc(p, size);
}

void myfree(char *file, int line, void *p)
{
    (void)file;
    (void)line;
    free(p);
}

int Heap_initialize(void)
{
    return 0;
}

void Heap_terminate(void)
{
}

/* The shared library runs MQTTAsync_init() when it is loaded (it is linked
 * with -Wl,-init,MQTTAsync_init); the archive has no such entry point, so
 * its mutexes would keep their static initializers. MQTTAsync_global_init()
 * is the public way to run it (without OpenSSL, which this library does
 * not have, that is all it does): Paho's mutexes then become error-checking,
 * as in the shared library, where locking a mutex its thread already holds
 * fails instead of deadlocking. Before any client exists, hence here. */
void gw_paho_lean_fill(gw_paho_t *api)
{
    MQTTAsync_init_options init = MQTTAsync_init_options_initializer;

    MQTTAsync_global_init(&init);
    *api = (gw_paho_t){
        .createWithOptions = MQTTAsync_createWithOptions,
        .setCallbacks = MQTTAsync_setCallbacks,
        .connect = MQTTAsync_connect,
        .disconnect = MQTTAsync_disconnect,
        .sendMessage = MQTTAsync_sendMessage,
        .destroy = MQTTAsync_destroy,
        .strerror = MQTTAsync_strerror,
        .freeMessage = MQTTAsync_freeMessage,
        .free = MQTTAsync_free,
        .malloc = MQTTAsync_malloc,
        .reasonCode_toString = MQTTReasonCode_toString,
        .subscribeMany = MQTTAsync_subscribeMany,
        .getProperty = MQTTProperties_getProperty,
        .propertiesAdd = MQTTProperties_add,
        .propertiesFree = MQTTProperties_free,
        .hasProperty = MQTTProperties_hasProperty,
        .getNumericValue = MQTTProperties_getNumericValue,
        .heap_info = NULL, /* not tracked: see above */
    };
}

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
 * The same effect without rebuilding Paho: this file defines the two
 * tracing functions, gateway/paho_heap.c the five of the heap, and the
 * executable links Debian's static archive libpaho-mqtt3a.a after them.
 * Every reference the archive's other objects make to StackTrace.c.o and
 * Heap.c.o is then already satisfied, so neither object is linked in, and
 * nothing else in Paho changes. Two conditions make that safe, and
 * cmake/paho_lean.cmake checks the archive for both at configure time
 * (falling back to loading the shared library at run time when a check
 * fails): the archive's other objects use no other symbol of StackTrace.c.o
 * or Heap.c.o (checked with nm), and these definitions match the prototypes
 * of the Paho they were written for (1.3.12, checked by its members and
 * version; StackTrace.h and Heap.h are not installed, hence the declarations
 * below). Should Heap.c.o still be pulled in, its definitions collide with
 * these and the link fails; it is never linked silently.
 *
 * Link order matters for that: a static library member is only linked when
 * something already linked needs it. gateway/paho.c calls gw_paho_lean_fill()
 * below, which brings this object and paho_heap.c's in ahead of the archive;
 * the link names the --wrap replacements (paho_wake.c) with -u for the same
 * reason.
 *
 * Defects of Paho 1.3.12 that Debian's build hides or makes rare are dealt
 * with beside it: a double free after a failed write (paho_heap.c) and a
 * lost wake-up of the send thread (paho_wake.c); docs/design.md says what
 * is left. Paho's own stack trace in its trace output is what is lost.
 *
 * The definitions are hidden: the executable must not export them, or the
 * TLS library loaded at run time (libpaho-mqtt3as.so.1, which has its own
 * tracking) could bind to them. The archive's own symbols are hidden
 * already.
 */
#include "gateway/paho.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* Paho 1.3.12's prototypes, from src/StackTrace.h. */
HIDDEN void StackTrace_entry(const char *name, int line, int trace_level);
HIDDEN void StackTrace_exit(const char *name, int line, void *return_value, int trace_level);

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
        .heap_info = gw_paho_lean_heap_info, /* gateway/paho_heap.c */
    };
}

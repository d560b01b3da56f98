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
#include "gateway/log.h"
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
/* Clients of this library that exist. When the last one is destroyed Paho
 * frees everything else it holds (MQTTAsync_terminate()), so what its heap
 * still holds then is a leak: said, so that the tests see it (the set of
 * live blocks in paho_heap.c keeps them reachable, so LeakSanitizer
 * cannot). Loop thread. */
static unsigned clients;

static int lean_create(MQTTAsync *handle, const char *uri, const char *client_id,
                       int persistence_type, void *persistence_context,
                       MQTTAsync_createOptions *options)
{
    int rc = MQTTAsync_createWithOptions(handle, uri, client_id, persistence_type,
                                         persistence_context, options);

    if (rc == MQTTASYNC_SUCCESS)
        clients++;
    return rc;
}

static void lean_destroy(MQTTAsync *handle)
{
    size_t held;

    if (!*handle)
        return;
    MQTTAsync_destroy(handle);
    if (clients == 0 || --clients > 0)
        return;
    held = gw_paho_lean_heap_info()[0];
    if (held > 0) {
        char where[256];
        size_t blocks = gw_paho_lean_heap_origins(where, sizeof(where), 4);

        gw_warn("mqtt: Paho still holds %zu bytes in %zu block(s) with no client left (a leak "
                "in Paho): %s",
                held, blocks, where);
    }
}

void gw_paho_lean_fill(gw_paho_t *api)
{
    MQTTAsync_init_options init = MQTTAsync_init_options_initializer;

    MQTTAsync_global_init(&init);
    *api = (gw_paho_t){
        .createWithOptions = lean_create,
        .setCallbacks = MQTTAsync_setCallbacks,
        .connect = MQTTAsync_connect,
        .disconnect = MQTTAsync_disconnect,
        .sendMessage = MQTTAsync_sendMessage,
        .destroy = lean_destroy,
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
        .frees_unsent = true,                /* __wrap_MQTTAsync_NULLPublishCommands */
    };
}

/* MQTTAsync_destroy() (1.3.12) calls this before it frees the client's
 * queued commands, to clear the topic and payload pointers of its PUBLISH
 * commands "so that these memory locations aren't freed twice as they are
 * also stored by MQTTProtocol_storePublication". That holds for commands
 * already processed (those are in the client's responses and are cleared by
 * MQTTAsync_NULLPublishResponses(), which stays), but a command still in the
 * queue has never been processed: MQTTAsync_processCommand() detaches a
 * command from the queue before it stores a publication, and only puts
 * CONNECT commands back. So the pointers cleared here belong to the command
 * alone, and clearing them leaked every unwritten publish of a destroyed
 * client. Left in place, MQTTAsync_freeCommands() frees them. Reached
 * through the linker's --wrap (the call is from MQTTAsync.c.o to
 * MQTTAsyncUtils.c.o). With this the client needs no persistence to give
 * the memory back (gateway/paho_store.h), which cost a quarter of a QoS 1
 * reading's instructions (bench/callgrind). */
void __wrap_MQTTAsync_NULLPublishCommands(void *m);

void __wrap_MQTTAsync_NULLPublishCommands(void *m)
{
    (void)m;
}

/* MQTTAsync_send() checks every topic with UTF8_validateString(), which
 * walks a table of byte ranges per character: a twentieth of a QoS 1
 * reading's instructions (bench/callgrind). A string of bytes below 0x80 is
 * valid UTF-8 (Paho's first range is 0x00-0x7F); anything else is checked by
 * Paho's function. */
int __real_UTF8_validateString(const char *string);
int __wrap_UTF8_validateString(const char *string);

int __wrap_UTF8_validateString(const char *string)
{
    const unsigned char *p = (const unsigned char *)string;

    if (!p)
        return 0;
    while (*p && *p < 0x80)
        p++;
    return *p ? __real_UTF8_validateString(string) : 1;
}

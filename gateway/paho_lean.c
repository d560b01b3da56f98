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
 * make that safe, and cmake/paho_lean.cmake checks the archive for both at
 * configure time (falling back to loading the shared library at run time
 * when a check fails): the archive's other objects use no other symbol of
 * StackTrace.c.o or Heap.c.o (checked with nm), and these definitions match
 * the prototypes of the Paho they were written for (1.3.12, checked by its
 * members and version; StackTrace.h and Heap.h are not installed, hence the
 * declarations below). Should Heap.c.o still be pulled
 * in, its definitions collide with these and the link fails; it is never
 * linked silently.
 *
 * Link order matters for that: a static library member is only linked when
 * something already linked needs it. gateway/paho.c calls gw_paho_lean_fill()
 * below, which is what brings this object in ahead of the archive.
 *
 * What is kept of Heap.c: a free of a block Paho does not hold is ignored
 * (Paho 1.3.12 frees some blocks twice; see "The set of blocks" below).
 * What is lost: Paho's heap accounting (Heap_get_info(), the `paho_heap`
 * stats, the list of blocks still allocated that MQTT_C_CLIENT_TRACE prints
 * at exit) and Paho's stack trace in its own trace output. Paho's
 * allocations are the C library's own, which AddressSanitizer and Valgrind
 * see one by one.
 *
 * The definitions are hidden: the executable must not export them, or the
 * TLS library loaded at run time (libpaho-mqtt3as.so.1, which has its own
 * tracking) could bind to them. The archive's own symbols are hidden
 * already. Any thread (Paho's included) may allocate and free; the set's
 * shards each have a lock, and the count of ignored frees is atomic.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "gateway/log.h"
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

/*
 * The set of blocks Paho holds. Paho 1.3.12 frees some blocks twice: a QoS 1
 * or 2 publish whose write fails with a socket error is freed with its
 * command (src/MQTTAsyncUtils.c, MQTTAsync_processCommand(): the
 * SOCKET_ERROR branch calls MQTTAsync_freeCommand(), whose
 * MQTTAsync_freeCommand1() frees pub.destinationName and pub.payload),
 * while the message stored for retries in the client's outboundMsgs still
 * points to the same topic and payload (MQTTProtocol_startPublish() ->
 * MQTTProtocol_storePublication() takes the pointers, it does not copy);
 * MQTTAsync_cleanSession() -> MQTTProtocol_emptyMessageList() ->
 * MQTTProtocol_removePublication() frees them again when the session is
 * closed. A broker that drops the connection while a window is being
 * written does that (tests/integration/test_flapping.py, under
 * AddressSanitizer). Debian's Heap.c looks every free up in its tree and
 * ignores one it does not know ("Failed to remove heap item"), which hid
 * the bug; plain free() would corrupt the heap.
 *
 * So the shim keeps that one property of Heap.c at a fraction of its cost:
 * a set of the blocks Paho holds, split in SHARDS hash tables with a lock
 * each (Heap.c: one lock, a balanced tree, and the stack tracing), and a
 * free of a block not in the set is counted and ignored, never passed to
 * free(). Nothing reads a block after it is freed. Heap_terminate() logs
 * the count. The tables themselves are the C library's memory.
 */
#define SHARDS 64
#define EMPTY ((uintptr_t)0)
#define GONE ((uintptr_t)1) /* a removed entry: probing goes on past it */

typedef struct {
    pthread_mutex_t lock;
    uintptr_t *slot; /* cap entries: EMPTY, GONE or a block */
    size_t cap;      /* a power of two, or 0 */
    size_t used;     /* entries not EMPTY */
    size_t live;     /* blocks */
} shard_t;

static shard_t shards[SHARDS];
static pthread_once_t shards_once = PTHREAD_ONCE_INIT;
static atomic_ulong ignored_frees;

static void shards_init(void)
{
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&shards[i].lock, NULL);
}

static uint64_t hash(const void *p)
{
    return ((uint64_t)(uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull;
}

static shard_t *shard_of(const void *p)
{
    pthread_once(&shards_once, shards_init);
    return &shards[hash(p) >> 58]; /* the top 6 bits; SHARDS is 64 */
}

/* Inserts p, known absent, into s->slot (locked). */
static void put(shard_t *s, uintptr_t p)
{
    size_t i = (size_t)hash((void *)p) & (s->cap - 1);

    while (s->slot[i] != EMPTY && s->slot[i] != GONE)
        i = (i + 1) & (s->cap - 1);
    if (s->slot[i] == EMPTY)
        s->used++;
    s->slot[i] = p;
    s->live++;
}

/* Room for one more entry, at most 3/4 full (locked). */
static bool reserve(shard_t *s)
{
    uintptr_t *old = s->slot;
    size_t old_cap = s->cap, cap = s->cap ? s->cap : 64;

    if ((s->used + 1) * 4 <= s->cap * 3)
        return true;
    while ((s->live + 1) * 2 > cap) /* rehashed, at most half full */
        cap *= 2;
    if (!(s->slot = calloc(cap, sizeof(*s->slot)))) {
        s->slot = old;
        return false;
    }
    s->cap = cap;
    s->used = s->live = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i] != EMPTY && old[i] != GONE)
            put(s, old[i]);
    free(old);
    return true;
}

static bool track(void *p)
{
    shard_t *s = shard_of(p);
    bool ok;

    pthread_mutex_lock(&s->lock);
    ok = reserve(s);
    if (ok)
        put(s, (uintptr_t)p);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* Removes p; false if it is not a block Paho holds. */
static bool untrack(void *p)
{
    shard_t *s = shard_of(p);
    bool found = false;

    pthread_mutex_lock(&s->lock);
    if (s->cap) {
        for (size_t i = (size_t)hash(p) & (s->cap - 1); s->slot[i] != EMPTY;
             i = (i + 1) & (s->cap - 1)) {
            if (s->slot[i] == (uintptr_t)p) {
                s->slot[i] = GONE;
                s->live--;
                found = true;
                break;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

void *mymalloc(char *file, int line, size_t size)
{
    void *p = malloc(size);

    (void)file;
    (void)line;
    if (p && !track(p)) {
        free(p);
        p = NULL;
    }
    return p;
}

void *myrealloc(char *file, int line, void *p, size_t size)
{
    void *q;

    if (!p)
        return mymalloc(file, line, size);
    if (!untrack(p)) { /* as Heap.c: not Paho's, left alone */
        atomic_fetch_add(&ignored_frees, 1);
        return NULL;
    }
    if (!(q = realloc(p, size))) {
        (void)track(p); /* room for it was just freed */
        return NULL;
    }
    if (!track(q)) {
        free(q);
        return NULL;
    }
    return q;
}

void myfree(char *file, int line, void *p)
{
    (void)file;
    (void)line;
    if (!p)
        return;
    if (untrack(p))
        free(p);
    else
        atomic_fetch_add(&ignored_frees, 1);
}

int Heap_initialize(void)
{
    return 0;
}

/* When the last client is destroyed (MQTTAsync_destroy()). Loop thread. */
void Heap_terminate(void)
{
    unsigned long n = atomic_load(&ignored_frees);

    if (n)
        gw_warn("mqtt: Paho freed %lu block(s) it did not hold (a Paho 1.3.12 bug, "
                "gateway/paho_lean.c); ignored, as Debian's Paho does",
                n);
}

/* Blocks freed twice, or not Paho's, so far (ignored). Any thread. */
unsigned long gw_paho_lean_ignored_frees(void)
{
    return atomic_load(&ignored_frees);
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

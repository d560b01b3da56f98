/*
 * Paho's allocator where Paho is linked statically: a set of the blocks Paho
 * holds, in place of Paho's heap tracking.
 *
 * Debian builds Paho MQTT C without PAHO_HIGH_PERFORMANCE, so every Paho
 * allocation goes through mymalloc()/myfree() (Heap.c): a global mutex, a
 * balanced tree of every block with its file and line, and eyecatchers
 * around it. That costs about a fifth of Paho's instructions per message.
 * It also has a rule Paho depends on: myfree() of a block it does not know
 * does nothing. Paho 1.3.12 frees some blocks twice: a QoS 1 or 2 publish
 * whose write fails with a socket error is freed with its command
 * (src/MQTTAsyncUtils.c, MQTTAsync_processCommand(): the SOCKET_ERROR branch
 * calls MQTTAsync_freeCommand(), which frees pub.destinationName and
 * pub.payload), while the message kept for retries in the client's
 * outboundMsgs still points to the same topic and payload
 * (MQTTProtocol_storePublication() takes the pointers, it does not copy);
 * MQTTAsync_cleanSession() -> MQTTProtocol_emptyMessageList() ->
 * MQTTProtocol_removePublication() frees them again when the session ends.
 * A broker that drops the connection while a window is being written does
 * that (tests/integration/test_flapping.py). With plain free() that is a
 * double free.
 *
 * So this keeps the rule and drops the cost: a hash set of the live blocks
 * (open addressing, linear probing, deletion by backward shift) under one
 * mutex. A free of a block not in the set is not passed on, and is counted
 * (gw_paho_lean_ignored_frees()). The bytes held are reported as Debian's
 * Heap_get_info() reports them, for the stats message (`paho_heap`). The archive's Heap.c.o is
 * never linked: these definitions satisfy every reference to it.
 *
 * Before freeing a publication the second time Paho also writes to it
 * (--refcount, then topic = payload = NULL). With plain free() those writes
 * land in a chunk that malloc has taken back, and glibc's safe-linked free
 * lists detect the damage ("malloc(): unaligned fastbin chunk detected").
 * So a freed block is not given back to malloc at once: it waits in a
 * quarantine of the last QUARANTINE_BLOCKS blocks (at most QUARANTINE_BYTES),
 * where a late write to it harms nothing, and is freed when it leaves.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/log.h"
#include "gateway/paho.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* Paho 1.3.12's prototypes (src/Heap.h, not installed). */
HIDDEN void *mymalloc(char *file, int line, size_t size);
HIDDEN void *myrealloc(char *file, int line, void *p, size_t size);
HIDDEN void myfree(char *file, int line, void *p);
HIDDEN int Heap_initialize(void);
HIDDEN void Heap_terminate(void);

/* As Paho's heap_info: bytes held now, and the most ever held. */
typedef struct {
    size_t current_size;
    size_t max_size;
} heap_info;

typedef struct {
    void *p; /* NULL: an empty slot */
    size_t size;
    const char *file; /* where Paho allocated it, for gw_paho_lean_heap_origins() */
    int line;
} block_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static block_t *slots; /* cap slots, cap a power of two */
static size_t cap, live;
static heap_info info;
static uint64_t ignored;

#define QUARANTINE_BLOCKS 1024
#define QUARANTINE_BYTES (256 * 1024)
static block_t quarantine[QUARANTINE_BLOCKS]; /* a ring, oldest at q_head */
static size_t q_head, q_len, q_bytes;

static size_t home(const void *p, size_t mask)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15u;

    return (size_t)(h >> 32) & mask;
}

static void put(block_t *tab, size_t mask, block_t b)
{
    size_t i = home(b.p, mask);

    while (tab[i].p)
        i = (i + 1) & mask;
    tab[i] = b;
}

/* Keeps the load under 3/4. false without memory. */
static bool reserve(void)
{
    size_t ncap = cap ? cap * 2 : 256;
    block_t *tab;

    if ((live + 1) * 4 <= cap * 3)
        return true;
    tab = calloc(ncap, sizeof(*tab));
    if (!tab)
        return false;
    for (size_t i = 0; i < cap; i++)
        if (slots[i].p)
            put(tab, ncap - 1, slots[i]);
    free(slots);
    slots = tab;
    cap = ncap;
    return true;
}

/* The slot of p, or cap when p is not in the set. */
static size_t find(const void *p)
{
    size_t mask = cap - 1;

    if (!cap)
        return 0;
    for (size_t i = home(p, mask);; i = (i + 1) & mask) {
        if (slots[i].p == p)
            return i;
        if (!slots[i].p)
            return cap;
    }
}

/* Empties slot i and moves later entries of its probe run back into the
 * gap, so that every entry stays reachable from its home slot. */
static void remove_at(size_t i)
{
    size_t mask = cap - 1;

    for (size_t j = i, k = i;;) {
        slots[j].p = NULL;
        for (;;) {
            k = (k + 1) & mask;
            if (!slots[k].p)
                return;
            size_t h = home(slots[k].p, mask);
            /* Stays if its home is cyclically within (j, k]. */
            bool stays = j < k ? h > j && h <= k : h > j || h <= k;

            if (!stays) {
                slots[j] = slots[k];
                j = k;
                break;
            }
        }
    }
}

static void held(size_t add, size_t sub)
{
    info.current_size += add;
    info.current_size -= sub;
    if (info.current_size > info.max_size)
        info.max_size = info.current_size;
}

void *mymalloc(char *file, int line, size_t size)
{
    void *p = malloc(size);

    if (!p)
        return NULL;
    pthread_mutex_lock(&lock);
    if (!reserve()) {
        pthread_mutex_unlock(&lock);
        free(p);
        return NULL;
    }
    put(slots, cap - 1, (block_t){p, size, file, line});
    live++;
    held(size, 0);
    pthread_mutex_unlock(&lock);
    return p;
}

/* As Paho's: a block it does not know is not reallocated (NULL). */
void *myrealloc(char *file, int line, void *p, size_t size)
{
    size_t i, old;
    void *np;

    pthread_mutex_lock(&lock);
    i = find(p);
    if (i == cap) {
        ignored++;
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    old = slots[i].size;
    np = realloc(p, size);
    if (!np) {
        pthread_mutex_unlock(&lock); /* p is still Paho's, and still listed */
        return NULL;
    }
    remove_at(i);
    put(slots, cap - 1, (block_t){np, size, file, line}); /* the freed slot keeps the load */
    held(size, old);
    pthread_mutex_unlock(&lock);
    return np;
}

/* Puts p in the quarantine; returns a block that left it (to free outside
 * the lock), or NULL. */
static void *quarantine_put(void *p, size_t size)
{
    void *out = NULL;

    if (q_len == QUARANTINE_BLOCKS || q_bytes + size > QUARANTINE_BYTES) {
        if (q_len == 0)
            return p; /* larger than the whole quarantine: freed at once */
        out = quarantine[q_head].p;
        q_bytes -= quarantine[q_head].size;
        q_head = (q_head + 1) % QUARANTINE_BLOCKS;
        q_len--;
    }
    quarantine[(q_head + q_len) % QUARANTINE_BLOCKS] = (block_t){p, size, NULL, 0};
    q_len++;
    q_bytes += size;
    return out;
}

void myfree(char *file, int line, void *p)
{
    size_t i, size;
    void *out;

    (void)file;
    (void)line;
    if (!p)
        return;
    pthread_mutex_lock(&lock);
    i = find(p);
    if (i == cap) {
        ignored++; /* freed already, or never Paho's: see above */
        pthread_mutex_unlock(&lock);
        return;
    }
    size = slots[i].size;
    held(0, size);
    remove_at(i);
    live--;
    out = quarantine_put(p, size);
    pthread_mutex_unlock(&lock);
    free(out);
}

int Heap_initialize(void)
{
    return 0;
}

/* When the last client is destroyed (MQTTAsync_destroy()). Loop thread.
 * Blocks still listed are Paho's to free later, and stay listed. */
void Heap_terminate(void)
{
    unsigned long n = gw_paho_lean_ignored_frees();

    if (n)
        gw_warn("mqtt: Paho freed %lu block(s) it did not hold (a Paho 1.3.12 bug, "
                "gateway/paho_heap.c); ignored, as Debian's Paho does",
                n);
}

size_t gw_paho_lean_heap_origins(char *buf, size_t len, unsigned max)
{
    size_t n = 0;
    unsigned listed = 0;

    if (len)
        buf[0] = '\0';
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < cap && listed < max && n < len; i++) {
        const char *f = slots[i].file;
        const char *base;
        int w;

        if (!slots[i].p)
            continue;
        base = f ? strrchr(f, '/') : NULL;
        w = snprintf(buf + n, len - n, "%s%zu B at %s:%d", listed ? ", " : "", slots[i].size,
                     base ? base + 1
                     : f  ? f
                          : "?",
                     slots[i].line);
        if (w < 0)
            break;
        n += (size_t)w < len - n ? (size_t)w : len - n - 1;
        listed++;
    }
    pthread_mutex_unlock(&lock);
    return live;
}

/* What gw_paho_heap_bytes() reads: Paho's heap_info. The two counters are
 * read without the lock, each a whole word. Any thread. */
const size_t *gw_paho_lean_heap_info(void)
{
    return &info.current_size;
}

unsigned long gw_paho_lean_ignored_frees(void)
{
    unsigned long n;

    pthread_mutex_lock(&lock);
    n = (unsigned long)ignored;
    pthread_mutex_unlock(&lock);
    return n;
}

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
 * (open addressing, linear probing, deletion by backward shift), split by
 * address into STRIPES sets with a mutex each, so that Paho's three threads
 * do not all take the same lock for every block. A free of a block not in
 * the set is not passed on, and is counted
 * (gw_paho_lean_ignored_frees()). The bytes held are reported as Debian's
 * Heap_get_info() reports them, for the stats message (`paho_heap`). The archive's Heap.c.o is
 * never linked: these definitions satisfy every reference to it.
 *
 * Before freeing a publication the second time Paho also writes to it
 * (--refcount, then topic = payload = NULL). With plain free() those writes
 * land in a chunk that malloc has taken back, and glibc's safe-linked free
 * lists detect the damage ("malloc(): unaligned fastbin chunk detected").
 * So a freed block is not given back to malloc at once: it waits in a
 * quarantine of its stripe's last QUARANTINE_BLOCKS / STRIPES blocks (at
 * most QUARANTINE_BYTES / STRIPES), where a late write to it harms nothing,
 * and is freed when it leaves.
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

/* As Paho's heap_info: bytes held now, and the most ever held. Updated
 * with atomic operations; read without a lock, each a whole word. */
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

#define STRIPES 8
#define QUARANTINE_BLOCKS 1024
#define QUARANTINE_BYTES (256 * 1024)
#define Q_BLOCKS (QUARANTINE_BLOCKS / STRIPES)
#define Q_BYTES (QUARANTINE_BYTES / STRIPES)

typedef struct {
    pthread_mutex_t lock;
    block_t *slots; /* cap slots, cap a power of two */
    size_t cap, live;
    uint64_t ignored;
    block_t quarantine[Q_BLOCKS]; /* a ring, oldest at q_head */
    size_t q_head, q_len, q_bytes;
} stripe_t;

static stripe_t stripes[STRIPES] = {
#define S                                                                                          \
    {                                                                                              \
        .lock = PTHREAD_MUTEX_INITIALIZER                                                          \
    }
    S, S, S, S, S, S, S, S,
#undef S
};
static heap_info info;

static uint64_t mix(const void *p)
{
    return (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15u;
}

/* The stripe from the hash's top bits, the slot from bits 32 and up. */
static stripe_t *stripe_of(const void *p)
{
    return &stripes[mix(p) >> 61];
}

static size_t home(const void *p, size_t mask)
{
    return (size_t)(mix(p) >> 32) & mask;
}

static void put(block_t *tab, size_t mask, block_t b)
{
    size_t i = home(b.p, mask);

    while (tab[i].p)
        i = (i + 1) & mask;
    tab[i] = b;
}

/* Keeps the load at most 1/2 (short probe runs). false without memory. */
static bool reserve(stripe_t *st)
{
    size_t ncap = st->cap ? st->cap * 2 : 64;
    block_t *tab;

    if ((st->live + 1) * 2 <= st->cap)
        return true;
    tab = calloc(ncap, sizeof(*tab));
    if (!tab)
        return false;
    for (size_t i = 0; i < st->cap; i++)
        if (st->slots[i].p)
            put(tab, ncap - 1, st->slots[i]);
    free(st->slots);
    st->slots = tab;
    st->cap = ncap;
    return true;
}

/* The slot of p, or cap when p is not in the set. */
static size_t find(const stripe_t *st, const void *p)
{
    size_t mask = st->cap - 1;

    if (!st->cap)
        return 0;
    for (size_t i = home(p, mask);; i = (i + 1) & mask) {
        if (st->slots[i].p == p)
            return i;
        if (!st->slots[i].p)
            return st->cap;
    }
}

/* Empties slot i and moves later entries of its probe run back into the
 * gap, so that every entry stays reachable from its home slot. */
static void remove_at(stripe_t *st, size_t i)
{
    block_t *slots = st->slots;
    size_t mask = st->cap - 1;

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
    size_t now = __atomic_add_fetch(&info.current_size, add - sub, __ATOMIC_RELAXED);
    size_t most = __atomic_load_n(&info.max_size, __ATOMIC_RELAXED);

    while (now > most && !__atomic_compare_exchange_n(&info.max_size, &most, now, true,
                                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

/* Lists p; false without memory. */
static bool list(void *p, size_t size, const char *file, int line)
{
    stripe_t *st = stripe_of(p);

    pthread_mutex_lock(&st->lock);
    if (!reserve(st)) {
        pthread_mutex_unlock(&st->lock);
        return false;
    }
    put(st->slots, st->cap - 1, (block_t){p, size, file, line});
    st->live++;
    pthread_mutex_unlock(&st->lock);
    held(size, 0);
    return true;
}

void *mymalloc(char *file, int line, size_t size)
{
    void *p = malloc(size);

    if (p && !list(p, size, file, line)) {
        free(p);
        return NULL;
    }
    return p;
}

/* As Paho's: a block it does not know is not reallocated (NULL). A size of
 * 0 frees the block and returns NULL, as glibc's realloc() does: Paho
 * shrinks its saved poll arrays to nothing that way when its last socket
 * closes (Socket_getReadySocket()). Passed on to realloc(), the block was
 * freed but stayed listed: reported as a leak at exit, and a stale entry
 * for an address malloc() would hand out again. */
void *myrealloc(char *file, int line, void *p, size_t size)
{
    stripe_t *st = stripe_of(p);
    size_t i, old;
    void *np;

    if (size == 0) {
        myfree(file, line, p);
        return NULL;
    }
    pthread_mutex_lock(&st->lock);
    i = find(st, p);
    if (i == st->cap) {
        st->ignored++;
        pthread_mutex_unlock(&st->lock);
        return NULL;
    }
    old = st->slots[i].size;
    np = realloc(p, size);
    if (!np) {
        pthread_mutex_unlock(&st->lock); /* p is still Paho's, and still listed */
        return NULL;
    }
    remove_at(st, i);
    st->live--;
    pthread_mutex_unlock(&st->lock);
    held(0, old);
    /* Out of memory for the set: np stays Paho's but unlisted, so its free
     * will be ignored; a leak, not a use after free. */
    (void)list(np, size, file, line);
    return np;
}

/* Puts p in the stripe's quarantine; returns a block that left it (to free
 * outside the lock), or NULL. */
static void *quarantine_put(stripe_t *st, void *p, size_t size)
{
    void *out = NULL;

    if (st->q_len == Q_BLOCKS || st->q_bytes + size > Q_BYTES) {
        if (st->q_len == 0)
            return p; /* larger than the whole quarantine: freed at once */
        out = st->quarantine[st->q_head].p;
        st->q_bytes -= st->quarantine[st->q_head].size;
        st->q_head = (st->q_head + 1) % Q_BLOCKS;
        st->q_len--;
    }
    st->quarantine[(st->q_head + st->q_len) % Q_BLOCKS] = (block_t){p, size, NULL, 0};
    st->q_len++;
    st->q_bytes += size;
    return out;
}

void myfree(char *file, int line, void *p)
{
    stripe_t *st;
    size_t i, size;
    void *out;

    (void)file;
    (void)line;
    if (!p)
        return;
    st = stripe_of(p);
    pthread_mutex_lock(&st->lock);
    i = find(st, p);
    if (i == st->cap) {
        st->ignored++; /* freed already, or never Paho's: see above */
        pthread_mutex_unlock(&st->lock);
        return;
    }
    size = st->slots[i].size;
    remove_at(st, i);
    st->live--;
    out = quarantine_put(st, p, size);
    pthread_mutex_unlock(&st->lock);
    held(0, size);
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
    size_t n = 0, live = 0;
    unsigned listed = 0;

    if (len)
        buf[0] = '\0';
    for (stripe_t *st = stripes; st < stripes + STRIPES; st++) {
        pthread_mutex_lock(&st->lock);
        live += st->live;
        for (size_t i = 0; i < st->cap && listed < max && n + 1 < len; i++) {
            const char *f = st->slots[i].file;
            const char *base;
            int w;

            if (!st->slots[i].p)
                continue;
            base = f ? strrchr(f, '/') : NULL;
            w = snprintf(buf + n, len - n, "%s%zu B at %s:%d", listed ? ", " : "",
                         st->slots[i].size,
                         base ? base + 1
                         : f  ? f
                              : "?",
                         st->slots[i].line);
            if (w < 0)
                break;
            n += (size_t)w < len - n ? (size_t)w : len - n - 1;
            listed++;
        }
        pthread_mutex_unlock(&st->lock);
    }
    return live;
}

/* What gw_paho_heap_bytes() reads: Paho's heap_info. Any thread. */
const size_t *gw_paho_lean_heap_info(void)
{
    return &info.current_size;
}

unsigned long gw_paho_lean_ignored_frees(void)
{
    unsigned long n = 0;

    for (stripe_t *st = stripes; st < stripes + STRIPES; st++) {
        pthread_mutex_lock(&st->lock);
        n += (unsigned long)st->ignored;
        pthread_mutex_unlock(&st->lock);
    }
    return n;
}

/* Blocks of queued messages; see msgpool.h. */
#include "gateway/msgpool.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define GW_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GW_POOL_ASAN 1
#endif
#endif

#ifdef GW_POOL_ASAN
#include <sanitizer/asan_interface.h>
/* Under AddressSanitizer each allocation records its size in front of it, so
 * that a freed message can be poisoned and a use after free is caught. */
#define CHUNK_HDR ALIGN
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define CHUNK_HDR 0
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ALIGN ((size_t)alignof(max_align_t))
#define ROUND(n) (((n) + ALIGN - 1) & ~(ALIGN - 1))

typedef struct block {
    gw_pool_t *pool;
    struct block *prev, *next; /* every mapped block */
    size_t used;               /* bytes from the block's start, header included */
    size_t live;
} block_t;

#define BLOCK_HDR ROUND(sizeof(block_t))

struct gw_pool {
    block_t *current; /* allocations are carved from here */
    block_t *spare;   /* an empty block kept for the next one */
    block_t *all;
    size_t n_blocks;
    size_t max_blocks;
    size_t live;
    uint64_t refused;
};

static block_t *block_of(const void *ptr)
{
    return (block_t *)((uintptr_t)ptr & ~(uintptr_t)(GW_POOL_BLOCK - 1));
}

/* A block aligned to its size: map twice the size, unmap the excess. */
static block_t *map_block(gw_pool_t *pool)
{
    char *raw =
        mmap(NULL, 2 * GW_POOL_BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *start;
    block_t *b;

    if (raw == MAP_FAILED)
        return NULL;
    start = (char *)block_of(raw + GW_POOL_BLOCK - 1);
    if (start > raw)
        munmap(raw, (size_t)(start - raw));
    if (start + GW_POOL_BLOCK < raw + 2 * GW_POOL_BLOCK)
        munmap(start + GW_POOL_BLOCK, (size_t)(raw + 2 * GW_POOL_BLOCK - start - GW_POOL_BLOCK));
    b = (block_t *)start;
    b->pool = pool;
    b->prev = NULL;
    b->next = pool->all;
    if (pool->all)
        pool->all->prev = b;
    pool->all = b;
    b->used = BLOCK_HDR;
    b->live = 0;
    pool->n_blocks++;
    POISON(start + BLOCK_HDR, GW_POOL_BLOCK - BLOCK_HDR);
    return b;
}

static void unmap_block(gw_pool_t *pool, block_t *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        pool->all = b->next;
    if (b->next)
        b->next->prev = b->prev;
    pool->n_blocks--;
    UNPOISON((char *)b + BLOCK_HDR, GW_POOL_BLOCK - BLOCK_HDR);
    munmap(b, GW_POOL_BLOCK);
}

gw_pool_t *gw_pool_new(size_t max_blocks)
{
    gw_pool_t *pool;

    if (max_blocks == 0)
        return NULL;
    pool = calloc(1, sizeof(*pool));
    if (pool)
        pool->max_blocks = max_blocks;
    return pool;
}

void gw_pool_destroy(gw_pool_t *pool)
{
    if (!pool)
        return;
    while (pool->all)
        unmap_block(pool, pool->all);
    free(pool);
}

static block_t *next_block(gw_pool_t *pool)
{
    block_t *b = pool->spare;

    if (b) {
        pool->spare = NULL;
        return b;
    }
    if (pool->n_blocks >= pool->max_blocks)
        return NULL;
    return map_block(pool);
}

void *gw_pool_alloc(gw_pool_t *pool, size_t size)
{
    size_t need;
    block_t *b = pool->current;
    char *p;

    if (size > GW_POOL_BLOCK - BLOCK_HDR - CHUNK_HDR) {
        pool->refused++;
        return NULL;
    }
    need = ROUND(size) + CHUNK_HDR;
    if (!b || b->used + need > GW_POOL_BLOCK) {
        block_t *fresh = next_block(pool);

        if (!fresh) {
            pool->refused++;
            return NULL;
        }
        /* The old block goes when its last message does (see gw_pool_free). */
        b = pool->current = fresh;
    }
    p = (char *)b + b->used;
    b->used += need;
    b->live++;
    pool->live++;
#ifdef GW_POOL_ASAN
    UNPOISON(p, CHUNK_HDR);
    *(size_t *)p = size;
    POISON(p, CHUNK_HDR);
    p += CHUNK_HDR;
#endif
    UNPOISON(p, size);
    return p;
}

void gw_pool_free(void *ptr)
{
    block_t *b;
    gw_pool_t *pool;

    if (!ptr)
        return;
    b = block_of(ptr);
    pool = b->pool;
#ifdef GW_POOL_ASAN
    {
        char *h = (char *)ptr - CHUNK_HDR;
        size_t size;

        UNPOISON(h, CHUNK_HDR);
        size = *(size_t *)h;
        POISON(h, CHUNK_HDR + size);
    }
#endif
    b->live--;
    pool->live--;
    if (b->live > 0)
        return;
    /* Empty: reuse it from the start if it is the current block, keep it as
     * the spare if there is none, else give it back to the kernel. */
    POISON((char *)b + BLOCK_HDR, GW_POOL_BLOCK - BLOCK_HDR);
    b->used = BLOCK_HDR;
    if (b == pool->current)
        return;
    if (!pool->spare)
        pool->spare = b;
    else
        unmap_block(pool, b);
}

void gw_pool_stats(const gw_pool_t *pool, gw_pool_stats_t *out)
{
    out->blocks = pool->n_blocks;
    out->live = pool->live;
    out->refused = pool->refused;
}

/*
 * Memory for queued messages, in blocks of their own.
 *
 * The outbox is a queue: messages leave roughly in the order they came. From
 * malloc, a backlog of an outage spreads over the heap, and once it has
 * drained the few messages still queued at any moment keep landing on
 * different pages of that heap, so the process keeps the outage's footprint.
 * Here messages are carved one after another from aligned blocks of
 * GW_POOL_BLOCK bytes mapped from the kernel; a block whose last message is
 * freed goes back to the kernel (one spare is kept), so the memory of a
 * drained backlog is returned at once and the live messages stay packed.
 *
 * A message that does not fit in a block, or that would take the pool past
 * its block limit (pinned blocks: a few long-lived messages keeping many
 * blocks alive), is refused: the caller allocates it with malloc instead.
 * gw_pool_free() takes only pointers from gw_pool_alloc(), of any pool.
 * Not thread-safe: one loop thread.
 */
#ifndef GW_MSGPOOL_H
#define GW_MSGPOOL_H

#include <stddef.h>
#include <stdint.h>

#define GW_POOL_BLOCK ((size_t)64 * 1024)

typedef struct gw_pool gw_pool_t;

typedef struct {
    size_t blocks;    /* mapped, the spare included */
    size_t live;      /* allocations not yet freed */
    uint64_t refused; /* allocations refused (too big, or at the limit): a count of
                         events, 64-bit so it does not wrap on 32-bit targets */
} gw_pool_stats_t;

/* max_blocks >= 1: the most blocks mapped at once. */
gw_pool_t *gw_pool_new(size_t max_blocks);

/* Frees the pool and every block: live allocations become invalid. */
void gw_pool_destroy(gw_pool_t *pool);

/* size bytes aligned for any type, or NULL (the caller falls back to malloc). */
void *gw_pool_alloc(gw_pool_t *pool, size_t size);

void gw_pool_free(void *ptr);

void gw_pool_stats(const gw_pool_t *pool, gw_pool_stats_t *out);

#endif

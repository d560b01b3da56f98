/*
 * The loop's timer heap (private to gateway/loop.c and its tests).
 *
 * An intrusive binary min-heap, as libuv's heap-inl.h: every timer carries
 * its own parent and child links, so the heap is a tree of the timers
 * themselves and never allocates. Arming a timer therefore cannot fail, and
 * no caller has an error to forget. Ordered by (due_ms, order); the position
 * of the n-th node is found from the bits of n, so insertion and removal are
 * O(log n) without an array.
 *
 * Timers that fall due in the same millisecond mostly come in runs: devices
 * whose polls share a grid slot re-arm one after another for the same next
 * slot, and the requests sent in one iteration arm their timeouts for the
 * same instant. A timer inserted with the same due time as the tree node
 * inserted last, and a later order than everything waiting behind it, joins
 * that node's ring instead of the tree: O(1), and no walk through cold tree
 * nodes. Removing a ring member is O(1); removing a node with a ring puts
 * the next member in its place in the tree (the same due time, so at most a
 * short sift). The minimum and the order in which timers come out are those
 * of the plain heap.
 *
 * Loop thread only, like every timer.
 */
#ifndef GW_TIMER_HEAP_H
#define GW_TIMER_HEAP_H

#include <stddef.h>

#include "gateway/loop.h"

typedef struct {
    gw_timer_t *min;  /* the root: the timer due first, or NULL */
    size_t n;         /* timers, in the tree and in rings */
    size_t nodes;     /* timers in the tree */
    gw_timer_t *last; /* the tree node inserted last, while in the tree, or NULL */
} gw_theap_t;

/* Adds a timer that is not in the heap, with its key already set. */
void gw_theap_insert(gw_theap_t *h, gw_timer_t *t);

/* Removes a timer that is in the heap. */
void gw_theap_remove(gw_theap_t *h, gw_timer_t *t);

/* Restores the order after the key of a timer in the heap changed. */
void gw_theap_update(gw_theap_t *h, gw_timer_t *t);

/* Calls fn on every timer in the heap, ring members before their node and
 * children before parents, so fn may clear the links of the timer it is
 * given (the heap is then unusable). */
void gw_theap_each(gw_theap_t *h, void (*fn)(gw_timer_t *t));

#endif

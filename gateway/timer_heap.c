/*
 * The intrusive timer heap; see timer_heap.h.
 *
 * Nodes are numbered 1..n in breadth-first order. The path from the root to
 * node k is written in the bits of k below its leading 1, most significant
 * first: 0 goes left, 1 goes right. Insertion hangs the new timer at node
 * n + 1 and sifts it up; removal moves node n into the hole and sifts it in
 * whichever direction its key asks. Sifting swaps links, never keys, so a
 * timer's memory stays where its owner put it.
 */
#include "gateway/timer_heap.h"

#include <stdbool.h>

static bool less(const gw_timer_t *a, const gw_timer_t *b)
{
    if (a->due_ms != b->due_ms)
        return a->due_ms < b->due_ms;
    return a->order < b->order;
}

/* The link that points to node k (1-based); its target may be NULL when k is n + 1. */
static gw_timer_t **slot_of(gw_theap_t *h, size_t k, gw_timer_t **parent)
{
    gw_timer_t **slot = &h->min;
    int depth = 0;

    *parent = NULL;
    for (size_t x = k; x > 1; x >>= 1)
        depth++;
    for (int bit = depth - 1; bit >= 0; bit--) {
        *parent = *slot;
        slot = (k >> bit) & 1 ? &(*parent)->right : &(*parent)->left;
    }
    return slot;
}

/* Exchanges child with its parent p in the tree. */
static void swap_up(gw_theap_t *h, gw_timer_t *p, gw_timer_t *child)
{
    gw_timer_t *gp = p->parent;
    gw_timer_t *cl = child->left, *cr = child->right;
    gw_timer_t *sibling;

    if (p->left == child) {
        sibling = p->right;
        child->left = p;
        child->right = sibling;
    } else {
        sibling = p->left;
        child->left = sibling;
        child->right = p;
    }
    if (sibling)
        sibling->parent = child;
    child->parent = gp;
    p->parent = child;
    p->left = cl;
    p->right = cr;
    if (cl)
        cl->parent = p;
    if (cr)
        cr->parent = p;
    if (!gp)
        h->min = child;
    else if (gp->left == p)
        gp->left = child;
    else
        gp->right = child;
}

static void sift(gw_theap_t *h, gw_timer_t *t)
{
    while (t->parent && less(t, t->parent))
        swap_up(h, t->parent, t);
    for (;;) {
        gw_timer_t *smallest = t;

        if (t->left && less(t->left, smallest))
            smallest = t->left;
        if (t->right && less(t->right, smallest))
            smallest = t->right;
        if (smallest == t)
            return;
        swap_up(h, t, smallest);
    }
}

/* Puts b where a is in the tree; a leaves it. */
static void replace(gw_theap_t *h, gw_timer_t *a, gw_timer_t *b)
{
    b->parent = a->parent;
    b->left = a->left;
    b->right = a->right;
    if (b->left)
        b->left->parent = b;
    if (b->right)
        b->right->parent = b;
    if (!a->parent)
        h->min = b;
    else if (a->parent->left == a)
        a->parent->left = b;
    else
        a->parent->right = b;
}

static void tree_insert(gw_theap_t *h, gw_timer_t *t)
{
    gw_timer_t *parent;
    gw_timer_t **slot = slot_of(h, h->nodes + 1, &parent);

    t->parent = parent;
    t->left = t->right = NULL;
    *slot = t;
    h->nodes++;
    while (t->parent && less(t, t->parent))
        swap_up(h, t->parent, t);
}

static void tree_remove(gw_theap_t *h, gw_timer_t *t)
{
    gw_timer_t *parent;
    gw_timer_t **slot = slot_of(h, h->nodes, &parent);
    gw_timer_t *last = *slot;

    *slot = NULL; /* unlinks the last node (t itself, or the one that fills its hole) */
    h->nodes--;
    if (last != t) {
        replace(h, t, last);
        sift(h, last);
    }
}

void gw_theap_insert(gw_theap_t *h, gw_timer_t *t)
{
    gw_timer_t *node = h->last;

    h->n++;
    t->parent = t->left = t->right = NULL;
    if (node && node->due_ms == t->due_ms && less(node->prev, t)) {
        /* Behind node, after the last timer of its ring. */
        t->behind = true;
        t->prev = node->prev;
        t->next = node;
        node->prev->next = t;
        node->prev = t;
        return;
    }
    t->behind = false;
    t->next = t->prev = t;
    tree_insert(h, t);
    h->last = t;
}

void gw_theap_remove(gw_theap_t *h, gw_timer_t *t)
{
    h->n--;
    if (t->behind) {
        t->prev->next = t->next;
        t->next->prev = t->prev;
    } else if (t->next != t) {
        /* The first timer behind t takes its place: the same due time, a
         * later order, so it can only have to move down. */
        gw_timer_t *m = t->next;

        m->prev = t->prev;
        t->prev->next = m;
        m->behind = false;
        replace(h, t, m);
        if (h->last == t)
            h->last = m;
        sift(h, m);
    } else {
        if (h->last == t)
            h->last = NULL;
        tree_remove(h, t);
    }
    t->parent = t->left = t->right = t->next = t->prev = NULL;
    t->behind = false;
}

void gw_theap_update(gw_theap_t *h, gw_timer_t *t)
{
    if (!t->behind && t->next == t) {
        sift(h, t); /* alone in its node: moves in place */
        return;
    }
    gw_theap_remove(h, t);
    gw_theap_insert(h, t);
}

static void each(gw_timer_t *t, void (*fn)(gw_timer_t *t))
{
    /* Depth is log2(n): recursion is bounded by the bits of a size_t. */
    if (!t)
        return;
    each(t->left, fn);
    each(t->right, fn);
    for (gw_timer_t *m = t->next, *after; m != t; m = after) {
        after = m->next;
        fn(m);
    }
    fn(t);
}

void gw_theap_each(gw_theap_t *h, void (*fn)(gw_timer_t *t))
{
    each(h->min, fn);
}

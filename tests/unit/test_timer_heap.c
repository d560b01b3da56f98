/*
 * Unit tests for gateway/timer_heap: the tree's links and order after random
 * insertions, removals and key changes, and the loop's guarantee that arming
 * a timer never allocates (so it cannot fail).
 */
#include <CUnit/CUnit.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/clock.h"
#include "gateway/loop.h"
#include "gateway/timer_heap.h"
#include "suites.h"

#define NT 3000

static bool key_less(const gw_timer_t *a, const gw_timer_t *b)
{
    return a->due_ms != b->due_ms ? a->due_ms < b->due_ms : a->order < b->order;
}

/* Checks t's ring: members behind it, at its due time, in increasing
 * order, linked both ways; returns their number. */
static size_t check_ring(const gw_timer_t *t)
{
    size_t n = 0;

    CU_ASSERT_FALSE(t->behind);
    for (const gw_timer_t *m = t->next, *before = t; m != t; before = m, m = m->next) {
        CU_ASSERT_TRUE_FATAL(m->behind);
        CU_ASSERT_PTR_EQUAL(m->prev, before);
        CU_ASSERT_EQUAL(m->due_ms, t->due_ms);
        CU_ASSERT_TRUE(m->order > before->order);
        CU_ASSERT_PTR_NULL(m->parent);
        n++;
    }
    CU_ASSERT_PTR_EQUAL(t->next->prev, t);
    return n;
}

/* Checks links and heap order below t; returns the number of timers in the
 * tree there and, in *behind, how many wait in their rings. */
static size_t check_subtree(const gw_timer_t *t, size_t *behind)
{
    size_t n = 1;

    *behind += check_ring(t);
    if (t->left) {
        CU_ASSERT_PTR_EQUAL(t->left->parent, t);
        CU_ASSERT_FALSE(key_less(t->left, t));
        n += check_subtree(t->left, behind);
    }
    if (t->right) {
        CU_ASSERT_PTR_NOT_NULL(t->left); /* complete tree: left filled first */
        CU_ASSERT_PTR_EQUAL(t->right->parent, t);
        CU_ASSERT_FALSE(key_less(t->right, t));
        n += check_subtree(t->right, behind);
    }
    return n;
}

static void check_heap(const gw_theap_t *h)
{
    size_t behind = 0;

    if (!h->min) {
        CU_ASSERT_EQUAL(h->n, 0);
        CU_ASSERT_EQUAL(h->nodes, 0);
        CU_ASSERT_PTR_NULL(h->last);
        return;
    }
    CU_ASSERT_PTR_NULL(h->min->parent);
    CU_ASSERT_EQUAL(check_subtree(h->min, &behind), h->nodes);
    CU_ASSERT_EQUAL(h->nodes + behind, h->n);
    if (h->last)
        CU_ASSERT_FALSE(h->last->behind);
}

static void set_key(gw_timer_t *t, uint64_t due, uint64_t *order)
{
    t->due_ms = due;
    t->order = (*order)++;
}

static void test_heap_random(void)
{
    gw_timer_t *t = calloc(NT, sizeof(*t));
    bool *in = calloc(NT, sizeof(*in));
    gw_theap_t h = {0};
    uint64_t order = 0, last_due = 0, last_order = 0;
    size_t live = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    srand(4242);
    for (int round = 0; round < 20 * NT; round++) {
        size_t i = (size_t)rand() % NT;
        int op = rand() % 3;

        if (!in[i]) {
            set_key(&t[i], (uint64_t)(rand() % 500), &order);
            gw_theap_insert(&h, &t[i]);
            in[i] = true;
            live++;
        } else if (op == 0) {
            gw_theap_remove(&h, &t[i]);
            CU_ASSERT_PTR_NULL(t[i].parent);
            in[i] = false;
            live--;
        } else {
            set_key(&t[i], (uint64_t)(rand() % 500), &order);
            gw_theap_update(&h, &t[i]);
        }
        CU_ASSERT_EQUAL_FATAL(h.n, live);
        if (round % 997 == 0)
            check_heap(&h);
    }
    check_heap(&h);
    /* Taking the minimum until empty yields the keys in order. */
    while (h.min) {
        gw_timer_t *m = h.min;

        CU_ASSERT_TRUE(m->due_ms > last_due || (m->due_ms == last_due && m->order > last_order) ||
                       (last_due == 0 && last_order == 0));
        last_due = m->due_ms;
        last_order = m->order;
        gw_theap_remove(&h, m);
    }
    CU_ASSERT_EQUAL(h.n, 0);
    free(in);
    free(t);
}

/* The live timer with the least key, by looking at every one. */
static const gw_timer_t *least(const gw_timer_t *t, const bool *in, size_t n)
{
    const gw_timer_t *m = NULL;

    for (size_t i = 0; i < n; i++)
        if (in[i] && (!m || key_less(&t[i], m)))
            m = &t[i];
    return m;
}

/*
 * Runs of timers due in the same millisecond wait in one node's ring: twelve
 * armed one after another for one due time take one tree node, and come
 * out in arming order. Then runs of equal due times mixed with other keys,
 * removals from the middle of rings, key changes and taking the minimum:
 * after each step the minimum is the least live key (checked against every
 * timer), and links, rings and counts stay consistent.
 */
static void test_heap_rings(void)
{
    enum { N = 600 };
    gw_timer_t *t = calloc(N, sizeof(*t));
    bool *in = calloc(N, sizeof(*in));
    gw_theap_t h = {0};
    uint64_t order = 1, run_due = 0;
    size_t live = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    for (int i = 0; i < 12; i++) {
        set_key(&t[i], 1000, &order);
        gw_theap_insert(&h, &t[i]);
    }
    CU_ASSERT_EQUAL(h.n, 12);
    CU_ASSERT_EQUAL(h.nodes, 1);
    check_heap(&h);
    gw_theap_remove(&h, &t[5]);  /* from the middle of the ring */
    gw_theap_remove(&h, &t[11]); /* its last */
    check_heap(&h);
    for (int i = 0; i < 12; i++) {
        if (i == 5 || i == 11)
            continue;
        CU_ASSERT_PTR_EQUAL_FATAL(h.min, &t[i]);
        gw_theap_remove(&h, h.min);
        CU_ASSERT_EQUAL(h.nodes, h.n ? 1u : 0u);
        check_heap(&h);
    }
    CU_ASSERT_PTR_NULL(h.min);

    srand(777);
    for (int round = 0; round < 40 * N; round++) {
        size_t i = (size_t)rand() % N;
        int op = rand() % 8;

        if (rand() % 6 == 0)
            run_due = (uint64_t)(rand() % 40); /* a new run */
        if (op == 0 && h.min) {
            CU_ASSERT_PTR_EQUAL_FATAL(h.min, least(t, in, N));
            in[h.min - t] = false;
            gw_theap_remove(&h, h.min);
            live--;
        } else if (!in[i]) {
            set_key(&t[i], op < 6 ? run_due : (uint64_t)(rand() % 40), &order);
            gw_theap_insert(&h, &t[i]);
            in[i] = true;
            live++;
        } else if (op < 4) {
            gw_theap_remove(&h, &t[i]);
            CU_ASSERT_TRUE(t[i].parent == NULL && t[i].next == NULL && !t[i].behind);
            in[i] = false;
            live--;
        } else {
            set_key(&t[i], op < 6 ? run_due : (uint64_t)(rand() % 40), &order);
            gw_theap_update(&h, &t[i]);
        }
        CU_ASSERT_EQUAL_FATAL(h.n, live);
        CU_ASSERT_TRUE_FATAL(h.nodes <= h.n);
        if (round % 53 == 0) {
            check_heap(&h);
            CU_ASSERT_PTR_EQUAL(h.min, least(t, in, N));
        }
    }
    check_heap(&h);
    CU_ASSERT_TRUE(h.nodes < h.n); /* runs did share nodes */
    while (h.min) {
        CU_ASSERT_PTR_EQUAL_FATAL(h.min, least(t, in, N));
        in[h.min - t] = false;
        gw_theap_remove(&h, h.min);
    }
    CU_ASSERT_EQUAL(h.n, 0);
    check_heap(&h);
    free(in);
    free(t);
}

static void noop_cb(gw_timer_t *t, void *arg)
{
    (void)t;
    (void)arg;
}

/* Bytes the allocator has handed out (heap and mmap). */
static size_t allocated(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

/*
 * Arming takes no memory: 20,000 timers armed (then re-armed and stopped)
 * leave the allocator exactly where it was. The loop kept a growing array
 * of pointers before, whose realloc could fail with -ENOMEM that no caller
 * checked. (Under AddressSanitizer malloc is not glibc's and mallinfo2 sees
 * nothing, so there the count is not checked.)
 */
static void test_arming_never_allocates(void)
{
    enum { N = 20000 };
    gw_timer_t *t = calloc(N, sizeof(*t));
    gw_loop_t *loop = gw_loop_new();
    uint64_t now = gw_clock_now_ms();
    size_t before, after;

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
    for (int i = 0; i < N; i++)
        gw_timer_init(&t[i], noop_cb, NULL);
    before = allocated();
    for (int i = 0; i < N; i++)
        gw_timer_start(loop, &t[i], now + 10000 + (uint64_t)(i * 7919 % 1000));
    for (int i = 0; i < N; i += 3)
        gw_timer_start(loop, &t[i], now + 5000 + (uint64_t)i);
    after = allocated();
    CU_ASSERT_EQUAL(gw_loop_timer_count(loop), N);
    for (int i = 0; i < N; i += 2)
        gw_timer_stop(loop, &t[i]);
    CU_ASSERT_EQUAL(gw_loop_timer_count(loop), N / 2);
#ifndef __SANITIZE_ADDRESS__
    CU_ASSERT_EQUAL(after, before);
#else
    (void)before;
    (void)after;
#endif
    gw_loop_free(loop);
    for (int i = 0; i < N; i++)
        CU_ASSERT_FALSE(gw_timer_active(&t[i])); /* freed loop: all read as stopped */
    free(t);
}

int timer_heap_suite(void)
{
    static const sb_test_t tests[] = {
        {"random insert/remove/update keep links and order", test_heap_random},
        {"timers due together share a node, in arming order", test_heap_rings},
        {"arming 20,000 timers allocates nothing", test_arming_never_allocates},
    };
    CU_pSuite suite = CU_add_suite("timer_heap", NULL, NULL);

    if (!suite)
        return -1;
    return SB_ADD_TESTS(suite, tests);
}

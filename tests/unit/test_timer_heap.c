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

/* Checks links and heap order below t; returns the number of nodes. */
static size_t check_subtree(const gw_timer_t *t)
{
    size_t n = 1;

    if (t->left) {
        CU_ASSERT_PTR_EQUAL(t->left->parent, t);
        CU_ASSERT_FALSE(key_less(t->left, t));
        n += check_subtree(t->left);
    }
    if (t->right) {
        CU_ASSERT_PTR_NOT_NULL(t->left); /* complete tree: left filled first */
        CU_ASSERT_PTR_EQUAL(t->right->parent, t);
        CU_ASSERT_FALSE(key_less(t->right, t));
        n += check_subtree(t->right);
    }
    return n;
}

static void check_heap(const gw_theap_t *h)
{
    if (!h->min) {
        CU_ASSERT_EQUAL(h->n, 0);
        return;
    }
    CU_ASSERT_PTR_NULL(h->min->parent);
    CU_ASSERT_EQUAL(check_subtree(h->min), h->n);
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
    gw_theap_t h = {NULL, 0};
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
        {"arming 20,000 timers allocates nothing", test_arming_never_allocates},
    };
    CU_pSuite suite = CU_add_suite("timer_heap", NULL, NULL);

    if (!suite)
        return -1;
    return SB_ADD_TESTS(suite, tests);
}

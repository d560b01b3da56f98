/* gateway/msgpool: blocks, packing, return of empty blocks, limits. */
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <string.h>

#include "gateway/msgpool.h"
#include "suites.h"

static size_t blocks(const gw_pool_t *p)
{
    gw_pool_stats_t s;

    gw_pool_stats(p, &s);
    return s.blocks;
}

static size_t live(const gw_pool_t *p)
{
    gw_pool_stats_t s;

    gw_pool_stats(p, &s);
    return s.live;
}

static void test_new_rejects_zero(void)
{
    CU_ASSERT_PTR_NULL(gw_pool_new(0));
    gw_pool_destroy(NULL);
    gw_pool_free(NULL);
}

static void test_alloc_aligned_and_packed(void)
{
    gw_pool_t *p = gw_pool_new(4);
    char *a = gw_pool_alloc(p, 100);
    char *b = gw_pool_alloc(p, 1);
    char *c = gw_pool_alloc(p, 33);

    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL((uintptr_t)a % _Alignof(max_align_t), 0);
    CU_ASSERT_EQUAL((uintptr_t)b % _Alignof(max_align_t), 0);
    CU_ASSERT_EQUAL((uintptr_t)c % _Alignof(max_align_t), 0);
    /* One block, carved in order, no overlap. */
    CU_ASSERT_EQUAL(blocks(p), 1);
    CU_ASSERT_EQUAL(live(p), 3);
    CU_ASSERT_TRUE(b >= a + 100);
    CU_ASSERT_TRUE(c >= b + 1);
    CU_ASSERT_TRUE(c - a < 512);
    memset(a, 0xa5, 100);
    memset(b, 0x5a, 1);
    memset(c, 0x11, 33);
    CU_ASSERT_EQUAL((unsigned char)a[99], 0xa5);
    CU_ASSERT_EQUAL((unsigned char)b[0], 0x5a);
    gw_pool_free(a);
    gw_pool_free(b);
    gw_pool_free(c);
    CU_ASSERT_EQUAL(live(p), 0);
    gw_pool_destroy(p);
}

static void test_too_big_refused(void)
{
    gw_pool_t *p = gw_pool_new(4);
    gw_pool_stats_t s;

    CU_ASSERT_PTR_NULL(gw_pool_alloc(p, GW_POOL_BLOCK));
    CU_ASSERT_PTR_NULL(gw_pool_alloc(p, SIZE_MAX));
    gw_pool_stats(p, &s);
    CU_ASSERT_EQUAL(s.refused, 2);
    CU_ASSERT_EQUAL(s.blocks, 0);
    gw_pool_destroy(p);
}

/* A queue: allocate many, free in order. Drained blocks go back (one spare
 * is kept), so the pool ends with at most the current block and the spare. */
static void test_fifo_returns_blocks(void)
{
    enum { N = 5000, SIZE = 200 };
    static void *ptrs[N];
    gw_pool_t *p = gw_pool_new(100);
    size_t peak;

    for (int i = 0; i < N; i++) {
        ptrs[i] = gw_pool_alloc(p, SIZE);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ptrs[i]);
        memset(ptrs[i], i & 0xff, SIZE);
    }
    peak = blocks(p);
    CU_ASSERT_TRUE(peak >= (size_t)N * SIZE / GW_POOL_BLOCK);
    CU_ASSERT_TRUE(peak <= (size_t)N * (SIZE + 32) / GW_POOL_BLOCK + 1);
    for (int i = 0; i < N; i++) {
        CU_ASSERT_EQUAL(((unsigned char *)ptrs[i])[SIZE - 1], i & 0xff);
        gw_pool_free(ptrs[i]);
    }
    CU_ASSERT_EQUAL(live(p), 0);
    CU_ASSERT_TRUE(blocks(p) <= 2);
    /* Steady state after the backlog: a short queue stays in those blocks. */
    for (int round = 0; round < 1000; round++) {
        void *q[10];

        for (int i = 0; i < 10; i++)
            CU_ASSERT_PTR_NOT_NULL_FATAL(q[i] = gw_pool_alloc(p, SIZE));
        for (int i = 0; i < 10; i++)
            gw_pool_free(q[i]);
    }
    CU_ASSERT_TRUE(blocks(p) <= 2);
    gw_pool_destroy(p);
}

/* One long-lived allocation pins its block only: the rest still return. */
static void test_pinned_block(void)
{
    enum { PER_BLOCK = 100 };
    size_t size = GW_POOL_BLOCK / PER_BLOCK - 64;
    void *ptrs[4 * PER_BLOCK];
    gw_pool_t *p = gw_pool_new(10);
    int n = 0;

    for (n = 0; n < 4 * PER_BLOCK; n++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(ptrs[n] = gw_pool_alloc(p, size));
    CU_ASSERT_EQUAL(blocks(p), 4);
    for (int i = 1; i < n; i++)
        gw_pool_free(ptrs[i]);
    /* ptrs[0]'s block, the current block (empty, reused) and no more than one
     * spare. */
    CU_ASSERT_EQUAL(live(p), 1);
    CU_ASSERT_TRUE(blocks(p) <= 3);
    gw_pool_free(ptrs[0]);
    CU_ASSERT_TRUE(blocks(p) <= 2);
    gw_pool_destroy(p);
}

/* At the block limit the pool refuses; freeing makes room again. */
static void test_block_limit(void)
{
    gw_pool_t *p = gw_pool_new(2);
    size_t size = GW_POOL_BLOCK / 2;
    void *a = gw_pool_alloc(p, size); /* block 1 */
    void *b = gw_pool_alloc(p, size); /* block 2: a's has no room left */
    gw_pool_stats_t s;

    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(blocks(p), 2);
    CU_ASSERT_PTR_NULL(gw_pool_alloc(p, size));
    gw_pool_stats(p, &s);
    CU_ASSERT_EQUAL(s.refused, 1);
    gw_pool_free(a); /* block 1 becomes the spare */
    void *c = gw_pool_alloc(p, size);
    CU_ASSERT_PTR_NOT_NULL(c);
    CU_ASSERT_EQUAL(blocks(p), 2);
    gw_pool_free(b);
    gw_pool_free(c);
    gw_pool_destroy(p);
}

/* Destroy with live allocations unmaps everything (LeakSanitizer and
 * valgrind see no leak, the memory is not malloc's). */
static void test_destroy_with_live(void)
{
    gw_pool_t *p = gw_pool_new(8);

    for (int i = 0; i < 1000; i++)
        CU_ASSERT_PTR_NOT_NULL(gw_pool_alloc(p, 300));
    CU_ASSERT_EQUAL(live(p), 1000);
    gw_pool_destroy(p);
}

int msgpool_suite(void)
{
    static const sb_test_t tests[] = {
        {"new rejects 0 blocks", test_new_rejects_zero},
        {"aligned and packed", test_alloc_aligned_and_packed},
        {"too big refused", test_too_big_refused},
        {"a drained queue returns its blocks", test_fifo_returns_blocks},
        {"a pinned block keeps only itself", test_pinned_block},
        {"block limit", test_block_limit},
        {"destroy with live allocations", test_destroy_with_live},
    };
    CU_pSuite s = CU_add_suite("msgpool", NULL, NULL);

    if (!s)
        return -1;
    return SB_ADD_TESTS(s, tests);
}

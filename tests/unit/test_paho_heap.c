/*
 * The lean Paho's allocator (gateway/paho_heap.c), called directly: the set
 * of live blocks against a reference through several doublings, the bytes
 * held, and blocks that are not Paho's left alone. The double free through
 * Paho's own table is test_paho.c's. In a build that loads Paho at run time
 * the allocator is not linked (weak references), and there is nothing to
 * test.
 */
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/paho.h"
#include "suites.h"

void *mymalloc(char *file, int line, size_t size) __attribute__((weak));
void *myrealloc(char *file, int line, void *p, size_t size) __attribute__((weak));
void myfree(char *file, int line, void *p) __attribute__((weak));

static size_t held(void)
{
    return gw_paho_lean_heap_info()[0];
}

static size_t most(void)
{
    return gw_paho_lean_heap_info()[1];
}

#define N 5000

static uint64_t rng = 0x243f6a8885a308d3u;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Random allocations, reallocations and frees, checked against a reference:
 * every block keeps its contents and the bytes held are exact; the set
 * grows through several doublings and empties again. */
static void test_against_reference(void)
{
    static unsigned char *p[N];
    static size_t size[N];
    size_t base, want;
    unsigned long ignored = gw_paho_lean_ignored_frees();

    if (!mymalloc)
        return; /* Paho loaded at run time: not linked */
    base = want = held();
    for (int round = 0; round < 60000; round++) {
        size_t i = next() % N;

        if (!p[i]) {
            size[i] = 1 + next() % 200;
            p[i] = mymalloc(__FILE__, __LINE__, size[i]);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
            memset(p[i], (int)(i & 0xff), size[i]);
            want += size[i];
        } else if (next() % 4 == 0) {
            size_t ns = 1 + next() % 300;
            unsigned char *np = myrealloc(__FILE__, __LINE__, p[i], ns);
            size_t keep = ns < size[i] ? ns : size[i];

            CU_ASSERT_PTR_NOT_NULL_FATAL(np);
            for (size_t k = 0; k < keep; k++)
                if (np[k] != (unsigned char)(i & 0xff)) {
                    CU_FAIL("realloc lost a block's contents");
                    break;
                }
            memset(np, (int)(i & 0xff), ns);
            want = want - size[i] + ns;
            p[i] = np;
            size[i] = ns;
        } else {
            for (size_t k = 0; k < size[i]; k++)
                if (p[i][k] != (unsigned char)(i & 0xff)) {
                    CU_FAIL("a block's contents changed");
                    break;
                }
            myfree(__FILE__, __LINE__, p[i]);
            p[i] = NULL;
            want -= size[i];
        }
        if (held() != want) {
            CU_FAIL("bytes held differ from the reference");
            break;
        }
    }
    for (size_t i = 0; i < N; i++) {
        if (p[i]) {
            myfree(__FILE__, __LINE__, p[i]);
            want -= size[i];
            p[i] = NULL;
        }
    }
    CU_ASSERT_EQUAL(want, base);
    CU_ASSERT_EQUAL(held(), base);
    CU_ASSERT_TRUE(most() >= base + 1000);
    CU_ASSERT_EQUAL(gw_paho_lean_ignored_frees(), ignored);
}

/* A block freed twice, or never Paho's: not passed on (no abort, no report
 * under AddressSanitizer), not reallocated, and counted. */
static void test_not_pahos(void)
{
    unsigned long ignored;
    size_t base;
    char *a, *b;
    char local[8];

    if (!mymalloc)
        return;
    ignored = gw_paho_lean_ignored_frees();
    base = held();
    a = mymalloc(__FILE__, __LINE__, 40);
    b = mymalloc(__FILE__, __LINE__, 24);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(held(), base + 64);
    myfree(__FILE__, __LINE__, a);
    myfree(__FILE__, __LINE__, a);
    CU_ASSERT_EQUAL(gw_paho_lean_ignored_frees(), ignored + 1);
    CU_ASSERT_EQUAL(held(), base + 24);
    /* Never Paho's: not freed, not reallocated. */
    myfree(__FILE__, __LINE__, local);
    CU_ASSERT_PTR_NULL(myrealloc(__FILE__, __LINE__, local, 16));
    CU_ASSERT_EQUAL(gw_paho_lean_ignored_frees(), ignored + 3);
    myfree(__FILE__, __LINE__, NULL); /* legal, not counted */
    CU_ASSERT_EQUAL(gw_paho_lean_ignored_frees(), ignored + 3);
    myfree(__FILE__, __LINE__, b);
    CU_ASSERT_EQUAL(held(), base);
}

/* realloc to 0 bytes frees the block (glibc's realloc returns NULL then):
 * nothing held, nothing ignored, and a second free is one Paho's heap no
 * longer knows. Paho shrinks its saved poll arrays so when its last socket
 * closes; the block stayed listed before, a leak reported at every exit. */
static void test_realloc_to_zero(void)
{
    unsigned long ignored;
    size_t base;
    char *a;

    if (!mymalloc)
        return;
    ignored = gw_paho_lean_ignored_frees();
    base = held();
    a = mymalloc(__FILE__, __LINE__, 8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(held(), base + 8);
    CU_ASSERT_PTR_NULL(myrealloc(__FILE__, __LINE__, a, 0));
    CU_ASSERT_EQUAL(held(), base);
    CU_ASSERT_EQUAL(gw_paho_lean_ignored_frees(), ignored);
    myfree(__FILE__, __LINE__, a);
    CU_ASSERT_EQUAL(gw_paho_lean_ignored_frees(), ignored + 1);
    CU_ASSERT_EQUAL(held(), base);
}

int paho_heap_suite(void)
{
    static const sb_test_t tests[] = {
        {"against a reference", test_against_reference},
        {"blocks freed twice or not Paho's", test_not_pahos},
        {"realloc to 0 bytes frees", test_realloc_to_zero},
    };
    CU_pSuite s = CU_add_suite("paho_heap", NULL, NULL);

    return s ? SB_ADD_TESTS(s, tests) : -1;
}

/*
 * Paho's allocator for the static link (gateway/paho_heap.c): the set of
 * live blocks against a reference, a double free ignored and counted, a
 * realloc of an unknown block refused, and the bytes held.
 */
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/paho.h"
#include "suites.h"

typedef struct {
    size_t current_size;
    size_t max_size;
} heap_info;

void *mymalloc(char *file, int line, size_t size);
void *myrealloc(char *file, int line, void *p, size_t size);
void myfree(char *file, int line, void *p);
heap_info *Heap_get_info(void);

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
    size_t base = Heap_get_info()->current_size, want = base;
    uint64_t ignored = gw_paho_heap_ignored();

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
        if (Heap_get_info()->current_size != want) {
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
    CU_ASSERT_EQUAL(Heap_get_info()->current_size, base);
    CU_ASSERT_TRUE(Heap_get_info()->max_size >= base + 1000);
    CU_ASSERT_EQUAL(gw_paho_heap_ignored(), ignored);
}

/* Paho frees some publications twice: the second free is not passed on
 * (no abort, no report under AddressSanitizer) and is counted. */
static void test_double_free_ignored(void)
{
    uint64_t ignored = gw_paho_heap_ignored();
    size_t base = Heap_get_info()->current_size;
    char *a = mymalloc(__FILE__, __LINE__, 40);
    char *b = mymalloc(__FILE__, __LINE__, 24);
    char local[8];

    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(Heap_get_info()->current_size, base + 64);
    myfree(__FILE__, __LINE__, a);
    myfree(__FILE__, __LINE__, a);
    CU_ASSERT_EQUAL(gw_paho_heap_ignored(), ignored + 1);
    CU_ASSERT_EQUAL(Heap_get_info()->current_size, base + 24);
    /* Never Paho's: not freed, not reallocated. */
    myfree(__FILE__, __LINE__, local);
    CU_ASSERT_PTR_NULL(myrealloc(__FILE__, __LINE__, local, 16));
    CU_ASSERT_EQUAL(gw_paho_heap_ignored(), ignored + 3);
    myfree(__FILE__, __LINE__, NULL); /* legal, not counted */
    CU_ASSERT_EQUAL(gw_paho_heap_ignored(), ignored + 3);
    myfree(__FILE__, __LINE__, b);
    CU_ASSERT_EQUAL(Heap_get_info()->current_size, base);
}

int paho_heap_suite(void)
{
    static const sb_test_t tests[] = {
        {"against a reference", test_against_reference},
        {"double free ignored and counted", test_double_free_ignored},
    };
    CU_pSuite s = CU_add_suite("paho_heap", NULL, NULL);

    return s ? SB_ADD_TESTS(s, tests) : -1;
}

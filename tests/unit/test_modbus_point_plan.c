/*
 * Tests of mb_plan(), the request batcher, as part of the modbus_point suite
 * (test_modbus_point.c registers them).
 *
 * Fixed cases check exact batches; a randomized test checks the invariants of
 * every plan (each point in exactly one batch of its table, within limits,
 * greedy cuts) and, with an unlimited gap, that the batch count equals the
 * optimum computed by a different algorithm: the minimum number of windows
 * of `limit` addresses that each contain a whole point, found by interval
 * stabbing.
 */
#include <CUnit/CUnit.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/modbus_point.h"

/* Called by modbus_point_suite() in test_modbus_point.c. */
int modbus_point_add_plan_tests(CU_pSuite s);

static mb_point_t pt(mb_table_t table, uint16_t address, mb_type_t type)
{
    return (mb_point_t){table, address, type, MB_ORDER_ABCD, -1, 0, 1.0, 0.0};
}

static mb_point_t reg(uint16_t address, mb_type_t type)
{
    return pt(MB_TABLE_HOLDING, address, type);
}

static mb_point_t str(uint16_t address, uint16_t length)
{
    mb_point_t p = reg(address, MB_TYPE_STRING);

    p.length = length;
    return p;
}

static mb_point_t coil(uint16_t address)
{
    return pt(MB_TABLE_COIL, address, MB_TYPE_BOOL);
}

/* Batch k is exactly (table, address, count) over the point indices idx. */
static int batch_is(const mb_plan_t *pl, size_t k, mb_table_t table, uint16_t address,
                    uint16_t count, const size_t *idx, size_t n)
{
    const mb_batch_t *b;
    int ok;

    if (k >= pl->n_batches) {
        fprintf(stderr, "\n  no batch %zu (%zu batches)\n", k, pl->n_batches);
        return 0;
    }
    b = &pl->batches[k];
    ok = b->table == table && b->address == address && b->count == count && b->n_points == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = pl->points[b->first + i] == idx[i];
    if (!ok) {
        fprintf(stderr, "\n  batch %zu: table %d address %u count %u points", k, (int)b->table,
                b->address, b->count);
        for (size_t i = 0; i < b->n_points; i++)
            fprintf(stderr, " %zu", pl->points[b->first + i]);
        fprintf(stderr, "\n");
    }
    return ok;
}

#define IDX(...) (const size_t[]){__VA_ARGS__}, sizeof((size_t[]){__VA_ARGS__}) / sizeof(size_t)
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_plan_empty(void)
{
    mb_plan_t pl;

    memset(&pl, 0x5A, sizeof(pl));
    CU_ASSERT_EQUAL(mb_plan(NULL, 0, 125, 2000, 0, &pl), 0);
    CU_ASSERT(pl.batches == NULL && pl.points == NULL && pl.n_batches == 0);
    mb_plan_free(&pl);
}

static void test_plan_contiguous(void)
{
    const mb_point_t p[] = {reg(0, MB_TYPE_UINT16), reg(1, MB_TYPE_INT32), reg(3, MB_TYPE_FLOAT64),
                            reg(7, MB_TYPE_UINT16)};
    mb_plan_t pl;

    CU_ASSERT_EQUAL_FATAL(mb_plan(p, N(p), 125, 2000, 0, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 1);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 0, 8, IDX(0, 1, 2, 3)));
    mb_plan_free(&pl);
}

static void test_plan_gap(void)
{
    /* Holes of 1 (after 0) and 7 (after 2). */
    const mb_point_t p[] = {reg(0, MB_TYPE_UINT16), reg(2, MB_TYPE_UINT16),
                            reg(10, MB_TYPE_UINT16)};
    mb_plan_t pl;

    CU_ASSERT_EQUAL_FATAL(mb_plan(p, N(p), 125, 2000, 0, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 3);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 0, 1, IDX(0)));
    CU_ASSERT_TRUE(batch_is(&pl, 1, MB_TABLE_HOLDING, 2, 1, IDX(1)));
    CU_ASSERT_TRUE(batch_is(&pl, 2, MB_TABLE_HOLDING, 10, 1, IDX(2)));
    mb_plan_free(&pl);
    for (uint16_t gap = 1; gap <= 6; gap++) {
        CU_ASSERT_EQUAL_FATAL(mb_plan(p, N(p), 125, 2000, gap, &pl), 0);
        CU_ASSERT_EQUAL(pl.n_batches, 2);
        CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 0, 3, IDX(0, 1)));
        CU_ASSERT_TRUE(batch_is(&pl, 1, MB_TABLE_HOLDING, 10, 1, IDX(2)));
        mb_plan_free(&pl);
    }
    CU_ASSERT_EQUAL_FATAL(mb_plan(p, N(p), 125, 2000, 7, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 1);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 0, 11, IDX(0, 1, 2)));
    mb_plan_free(&pl);
}

/* The hole is measured from the furthest end so far, not the last point's. */
static void test_plan_gap_after_wide_point(void)
{
    const mb_point_t p[] = {str(0, 10), reg(3, MB_TYPE_UINT16), reg(10, MB_TYPE_UINT16),
                            reg(12, MB_TYPE_UINT16)};
    mb_plan_t pl;

    CU_ASSERT_EQUAL_FATAL(mb_plan(p, N(p), 125, 2000, 0, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 2);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 0, 11, IDX(0, 1, 2)));
    CU_ASSERT_TRUE(batch_is(&pl, 1, MB_TABLE_HOLDING, 12, 1, IDX(3)));
    mb_plan_free(&pl);
    CU_ASSERT_EQUAL_FATAL(mb_plan(p, N(p), 125, 2000, 1, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 1);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 0, 13, IDX(0, 1, 2, 3)));
    mb_plan_free(&pl);
}

static void test_plan_limit(void)
{
    const mb_point_t fit[] = {reg(0, MB_TYPE_UINT16), reg(124, MB_TYPE_UINT16)};
    const mb_point_t over[] = {reg(0, MB_TYPE_UINT16), reg(125, MB_TYPE_UINT16)};
    const mb_point_t fit32[] = {reg(0, MB_TYPE_INT32), reg(123, MB_TYPE_INT32)};
    const mb_point_t over32[] = {reg(0, MB_TYPE_INT32), reg(124, MB_TYPE_INT32)};
    const mb_point_t whole[] = {str(1000, 125)};
    const mb_point_t small[] = {reg(0, MB_TYPE_UINT16), reg(6, MB_TYPE_FLOAT64),
                                reg(7, MB_TYPE_FLOAT64)};
    mb_plan_t pl;

    CU_ASSERT_EQUAL_FATAL(mb_plan(fit, 2, 125, 2000, 1000, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 1);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 0, 125, IDX(0, 1)));
    mb_plan_free(&pl);
    CU_ASSERT_EQUAL_FATAL(mb_plan(over, 2, 125, 2000, 1000, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 2);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 0, 1, IDX(0)));
    CU_ASSERT_TRUE(batch_is(&pl, 1, MB_TABLE_HOLDING, 125, 1, IDX(1)));
    mb_plan_free(&pl);
    CU_ASSERT_EQUAL_FATAL(mb_plan(fit32, 2, 125, 2000, 1000, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 1);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 0, 125, IDX(0, 1)));
    mb_plan_free(&pl);
    CU_ASSERT_EQUAL_FATAL(mb_plan(over32, 2, 125, 2000, 1000, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 2);
    CU_ASSERT_TRUE(batch_is(&pl, 1, MB_TABLE_HOLDING, 124, 2, IDX(1)));
    mb_plan_free(&pl);
    CU_ASSERT_EQUAL_FATAL(mb_plan(whole, 1, 125, 2000, 0, &pl), 0);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 1000, 125, IDX(0)));
    mb_plan_free(&pl);
    /* A smaller configured limit: 0..10 fits 10, 0..11 does not. */
    CU_ASSERT_EQUAL_FATAL(mb_plan(small, 2, 10, 2000, 100, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 1);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 0, 10, IDX(0, 1)));
    mb_plan_free(&pl);
    CU_ASSERT_EQUAL_FATAL(mb_plan(small, 3, 10, 2000, 100, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 2);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 0, 10, IDX(0, 1)));
    CU_ASSERT_TRUE(batch_is(&pl, 1, MB_TABLE_HOLDING, 7, 4, IDX(2)));
    mb_plan_free(&pl);
}

static void test_plan_tables(void)
{
    const mb_point_t p[] = {
        pt(MB_TABLE_INPUT, 0, MB_TYPE_UINT16),   pt(MB_TABLE_HOLDING, 0, MB_TYPE_UINT16),
        pt(MB_TABLE_DISCRETE, 0, MB_TYPE_BOOL),  coil(0),
        pt(MB_TABLE_HOLDING, 1, MB_TYPE_UINT16), coil(1)};
    mb_plan_t pl;

    CU_ASSERT_EQUAL_FATAL(mb_plan(p, N(p), 125, 2000, 0, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 4);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_COIL, 0, 2, IDX(3, 5)));
    CU_ASSERT_TRUE(batch_is(&pl, 1, MB_TABLE_DISCRETE, 0, 1, IDX(2)));
    CU_ASSERT_TRUE(batch_is(&pl, 2, MB_TABLE_HOLDING, 0, 2, IDX(1, 4)));
    CU_ASSERT_TRUE(batch_is(&pl, 3, MB_TABLE_INPUT, 0, 1, IDX(0)));
    mb_plan_free(&pl);
}

static void test_plan_overlap(void)
{
    const mb_point_t p[] = {reg(10, MB_TYPE_INT32),  reg(11, MB_TYPE_UINT16),
                            reg(10, MB_TYPE_UINT16), reg(8, MB_TYPE_FLOAT64),
                            reg(10, MB_TYPE_UINT16), reg(9, MB_TYPE_BOOL)};
    mb_plan_t pl;

    CU_ASSERT_EQUAL_FATAL(mb_plan(p, N(p), 125, 2000, 0, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 1);
    /* Same address: the caller's order is kept. */
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 8, 4, IDX(3, 5, 0, 2, 4, 1)));
    mb_plan_free(&pl);
    /* Duplicates alone make one batch of one register. */
    CU_ASSERT_EQUAL_FATAL(mb_plan(&p[4], 1, 125, 2000, 0, &pl), 0);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 10, 1, IDX(0)));
    mb_plan_free(&pl);
}

static void test_plan_bits(void)
{
    const mb_point_t p[] = {coil(1999), coil(0), coil(2000)};
    const mb_point_t far[] = {coil(0),
                              coil(500),
                              pt(MB_TABLE_DISCRETE, 0, MB_TYPE_BOOL),
                              pt(MB_TABLE_DISCRETE, 500, MB_TYPE_BOOL),
                              reg(0, MB_TYPE_UINT16),
                              reg(500, MB_TYPE_UINT16)};
    mb_plan_t pl;

    CU_ASSERT_EQUAL_FATAL(mb_plan(p, 2, 125, 2000, 2000, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 1);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_COIL, 0, 2000, IDX(1, 0)));
    mb_plan_free(&pl);
    CU_ASSERT_EQUAL_FATAL(mb_plan(p, 3, 125, 2000, 2000, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 2);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_COIL, 0, 2000, IDX(1, 0)));
    CU_ASSERT_TRUE(batch_is(&pl, 1, MB_TABLE_COIL, 2000, 1, IDX(2)));
    mb_plan_free(&pl);
    /* Bit tables use max_bits, register tables max_per_request. */
    CU_ASSERT_EQUAL_FATAL(mb_plan(far, N(far), 125, 2000, 1000, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 4);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_COIL, 0, 501, IDX(0, 1)));
    CU_ASSERT_TRUE(batch_is(&pl, 1, MB_TABLE_DISCRETE, 0, 501, IDX(2, 3)));
    CU_ASSERT_TRUE(batch_is(&pl, 2, MB_TABLE_HOLDING, 0, 1, IDX(4)));
    CU_ASSERT_TRUE(batch_is(&pl, 3, MB_TABLE_HOLDING, 500, 1, IDX(5)));
    mb_plan_free(&pl);
    CU_ASSERT_EQUAL_FATAL(mb_plan(far, N(far), 1000, 100, 1000, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 5);
    CU_ASSERT_TRUE(batch_is(&pl, 1, MB_TABLE_COIL, 500, 1, IDX(1)));
    CU_ASSERT_TRUE(batch_is(&pl, 4, MB_TABLE_HOLDING, 0, 501, IDX(4, 5)));
    mb_plan_free(&pl);
}

static void test_plan_unsorted(void)
{
    const mb_point_t p[] = {reg(50, MB_TYPE_UINT16), reg(10, MB_TYPE_UINT16),
                            reg(30, MB_TYPE_UINT16), reg(20, MB_TYPE_UINT16),
                            reg(40, MB_TYPE_UINT16)};
    mb_plan_t pl;

    CU_ASSERT_EQUAL_FATAL(mb_plan(p, N(p), 125, 2000, 9, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 1);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 10, 41, IDX(1, 3, 2, 4, 0)));
    mb_plan_free(&pl);
    CU_ASSERT_EQUAL_FATAL(mb_plan(p, N(p), 125, 2000, 8, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 5);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 10, 1, IDX(1)));
    CU_ASSERT_TRUE(batch_is(&pl, 1, MB_TABLE_HOLDING, 20, 1, IDX(3)));
    CU_ASSERT_TRUE(batch_is(&pl, 2, MB_TABLE_HOLDING, 30, 1, IDX(2)));
    CU_ASSERT_TRUE(batch_is(&pl, 3, MB_TABLE_HOLDING, 40, 1, IDX(4)));
    CU_ASSERT_TRUE(batch_is(&pl, 4, MB_TABLE_HOLDING, 50, 1, IDX(0)));
    mb_plan_free(&pl);
}

static int plan_fails(const mb_point_t *p, size_t n, uint16_t max_regs, uint16_t max_bits)
{
    mb_plan_t pl;
    int rc = mb_plan(p, n, max_regs, max_bits, 10, &pl);

    if (rc == -EINVAL && pl.batches == NULL && pl.points == NULL && pl.n_batches == 0)
        return 1;
    fprintf(stderr, "\n  mb_plan returned %d with %zu batches\n", rc, pl.n_batches);
    mb_plan_free(&pl);
    return 0;
}

static void test_plan_einval(void)
{
    const mb_point_t p[] = {reg(0, MB_TYPE_UINT16),
                            reg(1, MB_TYPE_UINT16),
                            str(5, 126),
                            coil(0),
                            str(10, 9),
                            str(20, 0),
                            reg(65535, MB_TYPE_INT32),
                            reg(65535, MB_TYPE_UINT16),
                            reg(65532, MB_TYPE_FLOAT64)};
    mb_plan_t pl;

    CU_ASSERT_TRUE(plan_fails(p, 3, 125, 2000));     /* a 126-register string */
    CU_ASSERT_TRUE(plan_fails(&p[4], 1, 8, 2000));   /* 9 registers, limit 8 */
    CU_ASSERT_TRUE(plan_fails(&p[3], 1, 125, 0));    /* a bit, limit 0 */
    CU_ASSERT_TRUE(plan_fails(&p[5], 1, 125, 2000)); /* no width */
    CU_ASSERT_TRUE(plan_fails(&p[6], 1, 125, 2000)); /* past 65535 */
    /* The same points within their limits plan fine. */
    CU_ASSERT_EQUAL_FATAL(mb_plan(&p[3], 2, 9, 1, 0, &pl), 0);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_COIL, 0, 1, IDX(0)));
    CU_ASSERT_TRUE(batch_is(&pl, 1, MB_TABLE_HOLDING, 10, 9, IDX(1)));
    mb_plan_free(&pl);
    CU_ASSERT_EQUAL_FATAL(mb_plan(&p[7], 2, 125, 2000, 0, &pl), 0);
    CU_ASSERT_TRUE(batch_is(&pl, 0, MB_TABLE_HOLDING, 65532, 4, IDX(1, 0)));
    mb_plan_free(&pl);
}

static void test_plan_free(void)
{
    const mb_point_t p[] = {reg(0, MB_TYPE_UINT16), coil(3)};
    mb_plan_t pl;

    CU_ASSERT_EQUAL_FATAL(mb_plan(p, N(p), 125, 2000, 0, &pl), 0);
    CU_ASSERT_EQUAL(pl.n_batches, 2);
    mb_plan_free(&pl);
    CU_ASSERT(pl.batches == NULL && pl.points == NULL && pl.n_batches == 0);
    mb_plan_free(&pl); /* twice is harmless */
    mb_plan_free(NULL);
}

/* ---- randomized ---- */

typedef struct {
    uint16_t max_regs, max_bits, max_gap;
} limits_t;

static uint64_t rng_next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint32_t rnd(uint64_t *x, uint32_t n)
{
    return (uint32_t)(rng_next(x) % n);
}

static uint32_t limit_of(const limits_t *l, mb_table_t t)
{
    return mb_table_is_bits(t) ? l->max_bits : l->max_regs;
}

static mb_point_t random_point(uint64_t *x, uint32_t base)
{
    mb_point_t p = pt((mb_table_t)rnd(x, 4), 0, MB_TYPE_BOOL);
    uint32_t addr = base + rnd(x, 400), w;

    if (!mb_table_is_bits(p.table)) {
        p.type = (mb_type_t)rnd(x, 10);
        p.length = p.type == MB_TYPE_STRING ? (uint16_t)(1 + rnd(x, 12)) : 0;
    }
    w = mb_point_width(&p);
    p.address = (uint16_t)(addr + w > 65536 ? 65536 - w : addr);
    return p;
}

/* The fewest windows of `limit` addresses, each holding whole points, that
 * cover the points of one table: a window starting at w holds [s, e) iff
 * e - limit <= w <= s. Stabbing these ranges in order of their right end is
 * optimal. */
static size_t min_windows(const mb_point_t *p, size_t n, mb_table_t t, uint32_t limit)
{
    unsigned char done[64] = {0};
    size_t count = 0;

    for (;;) {
        size_t best = n;

        for (size_t i = 0; i < n; i++)
            if (p[i].table == t && !done[i] && (best == n || p[i].address < p[best].address))
                best = i;
        if (best == n)
            return count;
        count++;
        for (size_t i = 0; i < n; i++)
            if (p[i].table == t &&
                p[i].address + mb_point_width(&p[i]) <= (uint32_t)p[best].address + limit)
                done[i] = 1;
    }
}

/* Checks one batch and its points; NULL, or what is wrong. */
static const char *check_batch(const mb_point_t *p, size_t n, const limits_t *l,
                               const mb_plan_t *pl, size_t k, unsigned char *seen)
{
    const mb_batch_t *b = &pl->batches[k];
    uint32_t lo = UINT32_MAX, hi = 0, run_end = 0;
    size_t prev = n;

    if (b->n_points == 0 || b->count == 0 || b->count > limit_of(l, b->table))
        return "empty batch or over its limit";
    for (size_t j = b->first; j < b->first + b->n_points; j++) {
        size_t i = pl->points[j];
        uint32_t s, e;

        if (i >= n || seen[i]++)
            return "bad or repeated point index";
        s = p[i].address;
        e = s + mb_point_width(&p[i]);
        if (p[i].table != b->table || s < b->address || e > (uint32_t)b->address + b->count)
            return "point outside its batch";
        if (prev != n && (s < p[prev].address || (s == p[prev].address && i < prev)))
            return "points of a batch not in (address, index) order";
        if (prev != n && s > run_end + l->max_gap)
            return "hole larger than max_gap inside a batch";
        run_end = e > run_end ? e : run_end;
        lo = s < lo ? s : lo;
        hi = e > hi ? e : hi;
        prev = i;
    }
    if (lo != b->address || hi != (uint32_t)b->address + b->count)
        return "batch wider than its points";
    return NULL;
}

/* Batch k (k > 0) comes after k-1, and if of the same table, its first point
 * could not have joined k-1: the cut was forced. */
static const char *check_cut(const mb_point_t *p, const limits_t *l, const mb_plan_t *pl, size_t k)
{
    const mb_batch_t *a = &pl->batches[k - 1], *b = &pl->batches[k];
    const mb_point_t *first = &p[pl->points[b->first]];
    uint32_t a_end = (uint32_t)a->address + a->count;
    uint32_t e = first->address + mb_point_width(first);

    if (b->table < a->table || (b->table == a->table && b->address <= a->address))
        return "batches not in (table, address) order";
    if (b->table == a->table && (e > a_end ? e : a_end) - a->address <= limit_of(l, a->table) &&
        first->address <= a_end + l->max_gap)
        return "a point that fits the previous batch starts a new one";
    return NULL;
}

static const char *check_plan(const mb_point_t *p, size_t n, const limits_t *l, const mb_plan_t *pl)
{
    unsigned char seen[64] = {0};
    size_t total = 0;

    for (size_t k = 0; k < pl->n_batches; k++) {
        const char *why;

        if (pl->batches[k].first != total)
            return "batches' point ranges not consecutive";
        if ((why = check_batch(p, n, l, pl, k, seen)) || (k > 0 && (why = check_cut(p, l, pl, k))))
            return why;
        total += pl->batches[k].n_points;
    }
    if (total != n)
        return "not every point planned";
    if (l->max_gap == UINT16_MAX)
        for (int t = 0; t < 4; t++) {
            size_t nb = 0;

            for (size_t k = 0; k < pl->n_batches; k++)
                nb += pl->batches[k].table == (mb_table_t)t;
            if (nb != min_windows(p, n, (mb_table_t)t, limit_of(l, (mb_table_t)t)))
                return "batch count differs from the optimum";
        }
    return NULL;
}

static void test_plan_random(void)
{
    static const uint16_t gaps[] = {0, 1, 2, 5, 20, UINT16_MAX};
    uint64_t x = 20240611;
    int einval = 0, planned = 0;

    for (int iter = 0; iter < 4000; iter++) {
        mb_point_t p[64];
        size_t n = 1 + rnd(&x, 60);
        uint32_t base = rnd(&x, 8) == 0 ? 65300 : rnd(&x, 2000);
        /* Every tenth plan gets a small register limit, so some points are too wide. */
        limits_t l = {(uint16_t)(iter % 10 == 9 ? 2 + rnd(&x, 8) : 8 + rnd(&x, 118)),
                      (uint16_t)(rnd(&x, 2) ? 2000 : 1 + rnd(&x, 60)), gaps[iter % N(gaps)]};
        bool too_wide = false;
        mb_plan_t pl;
        const char *why;
        int rc;

        for (size_t i = 0; i < n; i++) {
            p[i] = random_point(&x, base);
            too_wide |= mb_point_width(&p[i]) > limit_of(&l, p[i].table);
        }
        rc = mb_plan(p, n, l.max_regs, l.max_bits, l.max_gap, &pl);
        if (too_wide) {
            CU_ASSERT(rc == -EINVAL && pl.n_batches == 0 && !pl.batches && !pl.points);
            einval++;
            continue;
        }
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        planned++;
        if ((why = check_plan(p, n, &l, &pl)) != NULL) {
            fprintf(stderr, "\n  iteration %d (n %zu, limits %u/%u gap %u): %s\n", iter, n,
                    l.max_regs, l.max_bits, l.max_gap, why);
            CU_FAIL("random plan");
        }
        mb_plan_free(&pl);
    }
    /* Both outcomes were exercised. */
    CU_ASSERT(einval > 100 && planned > 3000);
}

int modbus_point_add_plan_tests(CU_pSuite s)
{
    if (!CU_add_test(s, "plan: empty", test_plan_empty) ||
        !CU_add_test(s, "plan: contiguous points merge", test_plan_contiguous) ||
        !CU_add_test(s, "plan: max_gap", test_plan_gap) ||
        !CU_add_test(s, "plan: hole after a wide point", test_plan_gap_after_wide_point) ||
        !CU_add_test(s, "plan: limit 125 vs 126", test_plan_limit) ||
        !CU_add_test(s, "plan: separate tables", test_plan_tables) ||
        !CU_add_test(s, "plan: overlapping points", test_plan_overlap) ||
        !CU_add_test(s, "plan: bits and max_bits", test_plan_bits) ||
        !CU_add_test(s, "plan: unsorted input", test_plan_unsorted) ||
        !CU_add_test(s, "plan: -EINVAL", test_plan_einval) ||
        !CU_add_test(s, "plan: free", test_plan_free) ||
        !CU_add_test(s, "plan: randomized", test_plan_random))
        return -1;
    return 0;
}

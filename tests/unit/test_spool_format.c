/*
 * Unit tests for gateway/spool_format.c's scanner, sans I/O: segments built
 * in memory, scanned through a memory reader (gw_spf_attach_mem), checking
 * the runs of intact records it finds, where it resynchronises after damage
 * and what it refuses to trust. Every scan is also checked to account for
 * every byte: the runs plus the damaged bytes make the segment.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/spool_format.h"
#include "suites.h"

#define LEN 40 /* 24-byte header, topic "t/000000", payload "p0000000" */

/* A segment being built: records and junk appended back to back. One byte
 * of slack in front lets a test scan it at an odd address. */
typedef struct {
    unsigned char mem[1 + 4096];
    size_t len;
} seg_t;

static unsigned char *at(seg_t *s, size_t off)
{
    return s->mem + 1 + off;
}

static void put(seg_t *s, uint64_t recno)
{
    char t[16], p[16];

    snprintf(t, sizeof(t), "t/%06u", (unsigned)(recno % 1000000));
    snprintf(p, sizeof(p), "p%07u", (unsigned)(recno % 10000000));
    gw_spf_encode(at(s, s->len), recno, t, 8, p, 8, (int)(recno % 3), recno % 2 == 1);
    s->len += LEN;
}

static void junk(seg_t *s, size_t n, unsigned char byte)
{
    memset(at(s, s->len), byte, n);
    s->len += n;
}

/* Scans s (named first) and renders its runs as "first+count@off ..." and
 * ends with "| damaged D tail T" (static). */
static const char *scan(seg_t *s, uint64_t first, uint64_t h)
{
    static char out[1024];
    gw_spf_reader_t r = {.fd = -1};
    gw_spf_cursor_t c;
    gw_spf_run_t run;
    uint64_t bytes = 0;
    size_t n = 0;
    int rc;

    gw_spf_attach_mem(&r, at(s, 0), s->len, first);
    gw_spf_cursor_init(&c, first, s->len, h);
    out[0] = '\0';
    while ((rc = gw_spf_next_run(&r, &c, &run)) == 1) {
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%llu+%llu@%llu ",
                              (unsigned long long)run.first, (unsigned long long)run.count,
                              (unsigned long long)run.off);
        CU_ASSERT_EQUAL(run.len, run.count * LEN);
        bytes += run.len;
    }
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(bytes + c.damaged, s->len);
    CU_ASSERT_PTR_NULL(r.buf); /* nothing allocated: the bytes are read in place */
    snprintf(out + n, sizeof(out) - n, "| damaged %llu tail %llu", (unsigned long long)c.damaged,
             (unsigned long long)c.tail);
    gw_spf_close(&r);
    return out;
}

static void test_clean(void)
{
    seg_t s = {.len = 0};

    for (uint64_t r = 10; r < 15; r++)
        put(&s, r);
    CU_ASSERT_STRING_EQUAL(scan(&s, 10, 0), "10+5@0 | damaged 0 tail 0");
    s.len = 0;
    CU_ASSERT_STRING_EQUAL(scan(&s, 10, 0), "| damaged 0 tail 0");
}

/* At byte 0 a number above the segment's is a declared gap; anywhere else
 * a number out of sequence is damage. */
static void test_declared_gap(void)
{
    seg_t s = {.len = 0};

    put(&s, 13);
    put(&s, 14);
    CU_ASSERT_STRING_EQUAL(scan(&s, 10, 0), "13+2@0 | damaged 0 tail 0");
    put(&s, 16); /* 15 missing without a byte to show for it: not believed */
    CU_ASSERT_STRING_EQUAL(scan(&s, 10, 0), "13+2@0 | damaged 40 tail 1");
    s.len = 0;
    put(&s, 9); /* below the segment's own number */
    put(&s, 10);
    CU_ASSERT_STRING_EQUAL(scan(&s, 10, 0), "10+1@40 | damaged 40 tail 0");
}

/* A flipped bit in a record's body: its intact header says where the next
 * record starts. One in its header: the magic is searched for. */
static void test_flip(void)
{
    static const size_t offs[] = {0, 4, 8, 16, 20, 22, 23, 24, 39};

    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        seg_t s = {.len = 0};

        for (uint64_t r = 10; r < 15; r++)
            put(&s, r);
        *at(&s, 2 * LEN + offs[i]) ^= 0x80;
        CU_ASSERT_STRING_EQUAL(scan(&s, 10, 0), "10+2@0 13+2@120 | damaged 40 tail 0");
    }
}

/* After damage, a record is trusted only if the damaged bytes could have
 * held the records numbered before it (each at least a header). */
static void test_resync_bound(void)
{
    seg_t s = {.len = 0};

    put(&s, 10);
    junk(&s, 47, 0xab);
    put(&s, 13); /* 11 and 12 in 47 bytes: no */
    CU_ASSERT_STRING_EQUAL(scan(&s, 10, 0), "10+1@0 | damaged 87 tail 1");
    s.len = 0;
    put(&s, 10);
    junk(&s, 48, 0xab);
    put(&s, 13); /* in 48 bytes: yes */
    put(&s, 14);
    CU_ASSERT_STRING_EQUAL(scan(&s, 10, 0), "10+1@0 13+2@88 | damaged 48 tail 0");
    s.len = 0;
    put(&s, 10);
    junk(&s, 5, 0);
    put(&s, 11); /* junk inserted: nothing lost */
    CU_ASSERT_STRING_EQUAL(scan(&s, 10, 0), "10+1@0 11+1@45 | damaged 5 tail 0");
}

/* An earlier record copied after the last: out of order, not trusted. */
static void test_duplicate(void)
{
    seg_t s = {.len = 0};

    put(&s, 10);
    put(&s, 11);
    put(&s, 10);
    CU_ASSERT_STRING_EQUAL(scan(&s, 10, 0), "10+2@0 | damaged 40 tail 1");
}

/* Length fields beyond the bytes there, or beyond any message: damage, and
 * the search finds the record after. */
static void test_lengths(void)
{
    static const unsigned char plen[3][4] = {
        {0xff, 0xff, 0xff, 0xff}, {0x00, 0x00, 0x00, 0x10}, {0x09, 0x00, 0x00, 0x00}};

    for (size_t i = 0; i < 3; i++) {
        seg_t s = {.len = 0};

        for (uint64_t r = 10; r < 13; r++)
            put(&s, r);
        memcpy(at(&s, LEN + 16), plen[i], 4);
        CU_ASSERT_STRING_EQUAL(scan(&s, 10, 0), "10+1@0 12+1@80 | damaged 40 tail 0");
    }
}

/* A record whose body failed its CRC followed by a torn one: two lost,
 * unless they are below h. */
static void test_tail(void)
{
    seg_t s = {.len = 0};

    put(&s, 10);
    put(&s, 11);
    put(&s, 12);
    *at(&s, LEN + 30) ^= 1;
    s.len -= 7;
    CU_ASSERT_STRING_EQUAL(scan(&s, 10, 0), "10+1@0 | damaged 73 tail 2");
    CU_ASSERT_STRING_EQUAL(scan(&s, 10, 12), "10+1@0 | damaged 73 tail 0");
    s.len = LEN + 10; /* torn second record alone */
    CU_ASSERT_STRING_EQUAL(scan(&s, 10, 0), "10+1@0 | damaged 10 tail 1");
}

/* Records are read byte by byte, at any alignment (32-bit ARM). */
static void test_unaligned(void)
{
    seg_t s = {.len = 0};
    gw_spf_reader_t r = {.fd = -1};
    gw_spf_rec_t rec;

    for (uint64_t n = 0x0102030405060708ULL; n < 0x0102030405060708ULL + 3; n++)
        put(&s, n);
    memmove(s.mem, s.mem + 1, s.len); /* now at an odd address */
    gw_spf_attach_mem(&r, s.mem, s.len, 0);
    CU_ASSERT_EQUAL(gw_spf_read(&r, LEN, s.len, &rec), 1);
    CU_ASSERT_EQUAL(rec.recno, 0x0102030405060709ULL);
    CU_ASSERT_EQUAL(rec.len, LEN);
    CU_ASSERT_EQUAL(rec.tlen, 8);
    CU_ASSERT_EQUAL(rec.plen, 8);
    CU_ASSERT_PTR_EQUAL(rec.p, s.mem + LEN);
    CU_ASSERT_EQUAL(gw_spf_read(&r, LEN + 1, s.len, &rec), 0);
    CU_ASSERT_EQUAL(gw_spf_read(&r, 3 * LEN, s.len, &rec), 0); /* past the end */
    gw_spf_close(&r);
}

/* Numbers past GW_SPF_RECNO_OPEN_MAX are damage: what opens can append. */
static void test_recno_max(void)
{
    seg_t s = {.len = 0};

    CU_ASSERT(GW_SPF_RECNO_OPEN_MAX < GW_SPF_RECNO_MAX);
    put(&s, GW_SPF_RECNO_OPEN_MAX);
    put(&s, GW_SPF_RECNO_OPEN_MAX + 1);
    CU_ASSERT_STRING_EQUAL(scan(&s, GW_SPF_RECNO_OPEN_MAX, 0),
                           "2305843009213693952+1@0 | damaged 40 tail 1");
}

int spool_format_suite(void)
{
    static const sb_test_t tests[] = {
        {"clean segment", test_clean},
        {"declared gap", test_declared_gap},
        {"flipped bit in each field", test_flip},
        {"resynchronising: how far a number may jump", test_resync_bound},
        {"duplicate record", test_duplicate},
        {"length fields", test_lengths},
        {"damaged tail", test_tail},
        {"unaligned records", test_unaligned},
        {"largest record number", test_recno_max},
    };
    CU_pSuite s = CU_add_suite("spool_format", NULL, NULL);

    return s ? SB_ADD_TESTS(s, tests) : -1;
}

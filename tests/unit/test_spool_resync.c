/*
 * Unit tests for gateway/spool.c and spool_repair.c: damage in the middle
 * of a spool. A damaged record costs only itself: recovery finds the intact
 * records after it (resynchronising on the next record whose magic, CRC and
 * number can be trusted), keeps every later segment, and counts exactly
 * what the record numbers say was lost. Each test also reopens the repaired
 * spool and checks that nothing is counted twice.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool_test.h"
#include "suites.h"

#define SEG4 (4 * SPT_LEN)
#define SEG10 (10 * SPT_LEN)
#define BIG (1 << 20) /* max_bytes: the widest plausible gap is BIG / 24 records */

/* "first,...,last" appended to out. */
static char *cat_range(char *out, size_t cap, unsigned first, unsigned last)
{
    size_t n = strlen(out);

    for (unsigned i = first; i <= last; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%u", n ? "," : "", i);
    return out;
}

static gw_spool_t *reopen(const char *dir, uint64_t seg_bytes, uint64_t recovered, uint64_t corrupt)
{
    gw_spool_t *sp = spt_open(dir, BIG, seg_bytes, GW_SPOOL_SYNC_NEVER);
    gw_spool_stats_t s = spt_stats(sp);

    CU_ASSERT_EQUAL(s.recovered, recovered);
    CU_ASSERT_EQUAL(s.records, recovered);
    CU_ASSERT_EQUAL(s.corrupt, corrupt);
    return sp;
}

/* Opens the damaged spool, checks what was kept and the files, then again
 * after a reopen (nothing counted twice, the same records in order). */
static void check_twice(const char *dir, uint64_t seg_bytes, uint64_t recovered, uint64_t corrupt,
                        const char *want, const char *ls)
{
    for (int pass = 0; pass < 2; pass++) {
        gw_spool_t *sp = reopen(dir, seg_bytes, recovered, pass ? 0 : corrupt);

        CU_ASSERT_STRING_EQUAL(spt_ls(dir), ls);
        CU_ASSERT_STRING_EQUAL(spt_take_numbered(sp), want);
        gw_spool_close(sp);
    }
}

/* Three damaged records in two segments: three lost, 22 kept in order. */
static void test_several_damaged_records(void)
{
    const char *dir = spt_build(25, SEG10); /* segments 1, 11, 21 */
    char want[256] = "";

    spt_flip(spt_seg(dir, 1), 2 * SPT_LEN + 30, 0x01); /* record 3's payload */
    spt_flip(spt_seg(dir, 1), 6 * SPT_LEN, 0x40);      /* record 7's magic */
    spt_flip(spt_seg(dir, 11), 4 * SPT_LEN + 4, 0x08); /* record 15's CRC */
    cat_range(want, sizeof(want), 1, 2);
    cat_range(want, sizeof(want), 4, 6);
    cat_range(want, sizeof(want), 8, 14);
    cat_range(want, sizeof(want), 16, 25);
    check_twice(dir, SEG10, 22, 3, want, "1,3,7,11,15,21");
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 1)), 2 * SPT_LEN);
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 3)), 3 * SPT_LEN);
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 7)), 3 * SPT_LEN);
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 11)), 4 * SPT_LEN);
    spt_rmtree(dir);
}

/* Length fields that do not fit the record they are in, with an unchanged
 * CRC: one claims a payload of nearly 4 GiB, one a topic of 65535 bytes.
 * Neither is trusted to find the next record; the search for it is. */
static void test_inconsistent_lengths(void)
{
    static const unsigned char huge[4] = {0xf0, 0xff, 0xff, 0xff}, wide[2] = {0xff, 0xff};
    const char *dir = spt_build(25, SEG10);
    char want[256] = "";

    spt_poke(spt_seg(dir, 1), 4 * SPT_LEN + 16, huge, sizeof(huge));  /* record 5 */
    spt_poke(spt_seg(dir, 11), 7 * SPT_LEN + 20, wide, sizeof(wide)); /* record 18 */
    cat_range(want, sizeof(want), 1, 4);
    cat_range(want, sizeof(want), 6, 17);
    cat_range(want, sizeof(want), 19, 25);
    check_twice(dir, SEG10, 23, 2, want, "1,5,11,18,21");
    spt_rmtree(dir);
}

/* The first record of a segment is damaged: the segment is rewritten to
 * start with the next intact record, keeping its name. */
static void test_damaged_first_record(void)
{
    const char *dir = spt_build(25, SEG10);
    char want[256] = "";

    spt_flip(spt_seg(dir, 1), 0, 0x01);   /* record 1's magic */
    spt_flip(spt_seg(dir, 11), 10, 0x20); /* record 11's number */
    cat_range(want, sizeof(want), 2, 10);
    cat_range(want, sizeof(want), 12, 25);
    check_twice(dir, SEG10, 23, 2, want, "1,11,21");
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 1)), 9 * SPT_LEN);
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 11)), 9 * SPT_LEN);
    spt_rmtree(dir);
}

/* Junk after the last record of a segment that the next segment follows
 * without a gap held no record: it is cut off and nothing is counted. */
static void test_junk_between_segments(void)
{
    static unsigned char junk[100];
    const char *dir = spt_build(10, SEG4);

    memset(junk, 0xab, sizeof(junk));
    memcpy(junk + 7, "SBR\001", 4);
    spt_append_bytes(spt_seg(dir, 1), junk, sizeof(junk));
    check_twice(dir, SEG4, 10, 0, "1,2,3,4,5,6,7,8,9,10", "1,5,9");
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 1)), SEG4);
    spt_rmtree(dir);
}

/* A power loss in the middle of a repair: the intact records after the
 * damage were copied to their new segment, but the damaged segment was not
 * cut yet. The copy is used and the original cut; what the interrupted
 * repair had found lost is declared by the copy's name, not counted again. */
static void test_interrupted_repair(void)
{
    const char *dir = spt_build(25, SEG10);
    char want[256] = "";

    spt_flip(spt_seg(dir, 1), 4 * SPT_LEN + 39, 0x04); /* record 5's payload */
    spt_copy_range(spt_seg(dir, 1), 5 * SPT_LEN, 5 * SPT_LEN, spt_seg(dir, 5));
    cat_range(want, sizeof(want), 1, 4);
    cat_range(want, sizeof(want), 6, 25);
    check_twice(dir, SEG10, 24, 0, want, "1,5,11,21");
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 1)), 4 * SPT_LEN);
    spt_rmtree(dir);
}

/* A spool of two records numbered from first, in dir2 (a path of its own). */
static void build_at(char *dir2, size_t cap, uint64_t first)
{
    gw_spool_t *sp;

    snprintf(dir2, cap, "%s", spt_mkdtemp());
    spt_write_head(dir2, first); /* a head past every record: numbering goes on from it */
    sp = spt_open(dir2, BIG, SEG4, GW_SPOOL_SYNC_NEVER);
    spt_put_range(sp, 11, 12);
    gw_spool_close(sp);
}

/* A segment numbered far beyond the others: a gap of more records than
 * max_bytes could ever hold is not believed, and the segment is dropped
 * (its records counted). A wide but possible gap is counted and kept. */
static void test_gap_width(void)
{
    char far[64], near[64], dir[64];
    gw_spool_t *sp;

    build_at(far, sizeof(far), 100000);
    build_at(near, sizeof(near), 1000);
    snprintf(dir, sizeof(dir), "%s", spt_build(10, SEG4));
    spt_copy_range(spt_seg(far, 100000), 0, 2 * SPT_LEN, spt_seg(dir, 100000));
    sp = reopen(dir, SEG4, 10, 2);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "1,5,9");
    CU_ASSERT_STRING_EQUAL(spt_take_numbered(sp), "1,2,3,4,5,6,7,8,9,10");
    gw_spool_close(sp);

    /* Records 11..999 lost; 1000 and 1001 kept (labelled 11 and 12). */
    spt_copy_range(spt_seg(near, 1000), 0, 2 * SPT_LEN, spt_seg(dir, 1000));
    check_twice(dir, SEG4, 12, 989, "1,2,3,4,5,6,7,8,9,10,11@1000,12@1001", "1,5,9,11");
    spt_rmtree(far);
    spt_rmtree(near);
    spt_rmtree(dir);
}

/* Damage to a record the head has passed costs nothing, even in a segment
 * that still holds unconfirmed records. */
static void test_damage_just_below_head(void)
{
    const char *dir = spt_build(10, SEG4);

    spt_write_head(dir, 7);
    spt_flip(spt_seg(dir, 5), SPT_LEN + 30, 0x01); /* record 6 */
    check_twice(dir, SEG4, 4, 0, "7,8,9,10", "5,9,head");
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 5)), 2 * SPT_LEN);
    spt_rmtree(dir);
}

/* The peak resident memory of this process, in KiB, since the last reset. */
static long peak_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");

    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static void peak_reset(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY);

    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, "5", 1), 1);
    close(fd);
}

/* A record header claiming a body larger than any MQTT message (256 MiB), in
 * a (sparse) segment file large enough to hold it: the header is not
 * believed, so no buffer of that size is allocated and filled; the damage
 * is counted and the intact record after it kept. */
static void test_length_beyond_any_message(void)
{
    static const unsigned char huge[4] = {0x00, 0x00, 0x00, 0x11}; /* 272 MiB */
    const char *dir = spt_build(2, SEG10);
    const char *seg = spt_seg(dir, 1);
    gw_spool_t *sp;
    long before;

    spt_poke(seg, 16, huge, sizeof(huge)); /* record 1 */
    spt_truncate(seg, 300L << 20);         /* zeros after record 2 */
    peak_reset();
    before = peak_kib();
    sp = reopen(dir, SEG10, 1, 2); /* record 1, and the zeros count as one */
    CU_ASSERT(before > 0 && peak_kib() - before < 64 * 1024);
    CU_ASSERT_EQUAL(spt_size(seg), SPT_LEN); /* record 2 alone, under its segment's name */
    CU_ASSERT_STRING_EQUAL(spt_take_numbered(sp), "2");
    gw_spool_close(sp);
    spt_rmtree(dir);
}

int spool_resync_add(CU_pSuite s)
{
    static const sb_test_t tests[] = {
        {"several damaged records", test_several_damaged_records},
        {"length fields that do not fit", test_inconsistent_lengths},
        {"damaged first record of a segment", test_damaged_first_record},
        {"junk between segments", test_junk_between_segments},
        {"interrupted repair", test_interrupted_repair},
        {"gap width", test_gap_width},
        {"damage just below the head", test_damage_just_below_head},
        {"length beyond any message", test_length_beyond_any_message},
    };

    return SB_ADD_TESTS(s, tests);
}

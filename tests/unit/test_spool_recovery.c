/*
 * Unit tests for gateway/spool.c: damaged spools. Each test builds a spool,
 * damages its files the way a power loss, a bad SD card or a stray process
 * would, reopens it and checks exactly what was kept, what was counted as
 * corrupt, what the files look like after the repair, and that the
 * repaired spool goes on working across another reopen.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool_test.h"
#include "suites.h"

#define SEG4 (4 * SPT_LEN)   /* four records per segment */
#define SEG10 (10 * SPT_LEN) /* ten */
#define BIG (1 << 20)

static const char *range(unsigned first, unsigned last)
{
    static char out[1024];
    size_t n = 0;

    out[0] = '\0';
    for (unsigned i = first; i <= last; i++)
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%u", n ? "," : "", i);
    return out;
}

/* Opens dir and checks what recovery found. */
static gw_spool_t *reopen(const char *dir, uint64_t seg_bytes, gw_spool_sync_t sync,
                          uint64_t recovered, uint64_t corrupt)
{
    gw_spool_t *sp = spt_open(dir, BIG, seg_bytes, sync);
    gw_spool_stats_t s = spt_stats(sp);

    CU_ASSERT_EQUAL(s.recovered, recovered);
    CU_ASSERT_EQUAL(s.records, recovered);
    CU_ASSERT_EQUAL(s.corrupt, corrupt);
    CU_ASSERT_EQUAL(s.appended + s.taken + s.dropped_full, 0);
    return sp;
}

/* A power loss in the middle of the last append: the last record is cut
 * short by k bytes. */
static void test_torn_tail(void)
{
    static const off_t cuts[] = {1, 2, 8, 16, 23, 24, 25, 39};

    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        gw_spool_sync_t sync = (gw_spool_sync_t)(i % 3);
        const char *dir = spt_build(10, SEG4);
        gw_spool_t *sp;
        uint64_t rn;

        spt_truncate(spt_seg(dir, 9), 2 * SPT_LEN - cuts[i]);
        sp = reopen(dir, SEG4, sync, 9, 1);
        CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 9)), SPT_LEN);
        CU_ASSERT_EQUAL(spt_stats(sp).bytes, 9 * SPT_LEN);
        CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), range(1, 9));
        spt_put_range(sp, 10, 12);
        for (unsigned r = 10; r <= 12; r++) {
            CU_ASSERT_EQUAL(spt_take(sp, &rn), r);
            CU_ASSERT_EQUAL(rn, r);
        }
        CU_ASSERT_STRING_EQUAL(spt_ls(dir), "1,5,9");
        gw_spool_close(sp);

        sp = reopen(dir, SEG4, sync, 12, 0);
        CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 1), range(1, 12));
        gw_spool_close(sp);
        spt_rmtree(dir);
    }
}

/* A record missing entirely looks like one never written: nothing to count. */
static void test_whole_record_lost(void)
{
    const char *dir = spt_build(10, SEG4);
    gw_spool_t *sp;

    spt_truncate(spt_seg(dir, 9), SPT_LEN);
    sp = reopen(dir, SEG4, GW_SPOOL_SYNC_NEVER, 9, 0);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), range(1, 9));
    gw_spool_close(sp);
    spt_rmtree(dir);
}

/* Offsets in a record: magic, CRC, number, payload length, topic length,
 * QoS, flags, topic, last payload byte. */
static const off_t fields[] = {0, 4, 8, 16, 20, 22, 23, 24, 39};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static void test_bit_flip_last_record(void)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *dir = spt_build(10, SEG4);
        gw_spool_t *sp;

        spt_flip(spt_seg(dir, 9), SPT_LEN + fields[i], 0x01);
        sp = reopen(dir, SEG4, GW_SPOOL_SYNC_NEVER, 9, 1);
        CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 9)), SPT_LEN);
        CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), range(1, 9));
        gw_spool_close(sp);
        spt_rmtree(dir);
    }
}

/* Damage inside the last segment costs only the damaged record. The intact
 * records after it move to a segment of their own, named after the lost
 * record: a segment whose first record is above its name declares the
 * numbers in between lost, so the next start does not count them again. */
static void test_bit_flip_middle_record(void)
{
    char want[256], again[300];

    snprintf(want, sizeof(want), "%s,24,25", range(1, 22));
    snprintf(again, sizeof(again), "%s,26", want);
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *dir = spt_build(25, SEG10); /* segments 1, 11, 21 */
        gw_spool_t *sp;
        uint64_t rn;

        spt_flip(spt_seg(dir, 21), 2 * SPT_LEN + fields[i], 0x80); /* record 23 */
        sp = reopen(dir, SEG10, GW_SPOOL_SYNC_NEVER, 24, 1);
        CU_ASSERT_STRING_EQUAL(spt_ls(dir), "1,11,21,23");
        CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 21)), 2 * SPT_LEN);
        CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 23)), 2 * SPT_LEN);
        CU_ASSERT_STRING_EQUAL(spt_take_numbered(sp), want);
        CU_ASSERT_EQUAL(spt_put(sp, 26), 0);
        CU_ASSERT_EQUAL(spt_take(sp, &rn), 26);
        CU_ASSERT_EQUAL(rn, 26);
        gw_spool_close(sp);

        sp = reopen(dir, SEG10, GW_SPOOL_SYNC_NEVER, 25, 0);
        CU_ASSERT_STRING_EQUAL(spt_ls(dir), "1,11,21,23");
        CU_ASSERT_STRING_EQUAL(spt_take_numbered(sp), again);
        gw_spool_close(sp);
        spt_rmtree(dir);
    }
}

/* A power loss after a bit rotted: the next-to-last record fails its CRC
 * (payload flipped, header intact) and the last one is torn. Both are lost
 * and both are counted. */
static void test_flip_then_torn(void)
{
    const char *dir = spt_build(25, SEG10); /* segments 1, 11, 21 */
    gw_spool_t *sp;

    spt_flip(spt_seg(dir, 21), 3 * SPT_LEN + 30, 0x01); /* record 24's payload */
    spt_truncate(spt_seg(dir, 21), 5 * SPT_LEN - 7);    /* record 25 torn */
    sp = reopen(dir, SEG10, GW_SPOOL_SYNC_NEVER, 23, 2);
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 21)), 3 * SPT_LEN);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), range(1, 23));
    gw_spool_close(sp);
    spt_rmtree(dir);
}

/* Damage in an older segment costs only the damaged record: the intact
 * records after it in that segment and every later segment are kept and
 * replayed in order, and the head moves over the lost number. */
static void test_bit_flip_older_segment(void)
{
    const char *dir = spt_build(25, SEG10);
    char want[256];
    gw_spool_t *sp;
    uint64_t rn;

    spt_flip(spt_seg(dir, 1), 4 * SPT_LEN + 39, 0x04); /* record 5's payload */
    sp = reopen(dir, SEG10, GW_SPOOL_SYNC_NEVER, 24, 1);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "1,5,11,21");
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 1)), 4 * SPT_LEN);
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 5)), 5 * SPT_LEN); /* records 6..10 */
    CU_ASSERT_EQUAL(spt_stats(sp).segments, 4);
    CU_ASSERT_EQUAL(spt_stats(sp).bytes, 24 * SPT_LEN);
    snprintf(want, sizeof(want), "1,2,3,4,%s", range(6, 25));
    CU_ASSERT_STRING_EQUAL(spt_take_numbered(sp), want);
    CU_ASSERT_EQUAL(spt_put(sp, 26), 0); /* numbering continues after the last record */
    CU_ASSERT_EQUAL(spt_take(sp, &rn), 26);
    CU_ASSERT_EQUAL(rn, 26);
    gw_spool_close(sp);

    /* Repaired: the same records, in the same order, nothing counted twice. */
    sp = reopen(dir, SEG10, GW_SPOOL_SYNC_NEVER, 25, 0);
    snprintf(want, sizeof(want), "1,2,3,4,%s", range(6, 26));
    CU_ASSERT_STRING_EQUAL(spt_take_numbered(sp), want);
    for (uint64_t r = 1; r <= 4; r++)
        gw_spool_confirm(sp, r);
    CU_ASSERT_EQUAL(spt_head(dir), 6);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "5,11,21,head");
    for (uint64_t r = 6; r <= 26; r++)
        gw_spool_confirm(sp, r);
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "21,head");
    CU_ASSERT_EQUAL(spt_head(dir), 27);
    gw_spool_close(sp);
    spt_rmtree(dir);
}

/* A segment in the middle is missing: its records are lost, and the number
 * the next segment starts with tells how many. The segments after the gap
 * are kept; the first of them is renamed to start where the gap starts, so
 * that the next start does not count the gap again. */
static void test_missing_segment(void)
{
    const char *dir = spt_build(10, SEG4);
    gw_spool_t *sp;
    uint64_t rn;

    CU_ASSERT_EQUAL(unlink(spt_seg(dir, 5)), 0);
    sp = reopen(dir, SEG4, GW_SPOOL_SYNC_NEVER, 6, 4);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "1,5");
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 5)), 2 * SPT_LEN);
    CU_ASSERT_STRING_EQUAL(spt_take_numbered(sp), "1,2,3,4,9,10");
    CU_ASSERT_EQUAL(spt_put(sp, 11), 0);
    CU_ASSERT_EQUAL(spt_take(sp, &rn), 11);
    CU_ASSERT_EQUAL(rn, 11);
    gw_spool_close(sp);

    sp = reopen(dir, SEG4, GW_SPOOL_SYNC_NEVER, 7, 0);
    CU_ASSERT_STRING_EQUAL(spt_take_numbered(sp), "1,2,3,4,9,10,11");
    gw_spool_close(sp);
    spt_rmtree(dir);
}

static void test_garbage_tail(void)
{
    static unsigned char junk[3][4096];
    static const size_t lens[3] = {100, 4096, 61};

    memset(junk[0], 0xab, sizeof(junk[0]));
    /* Zeros: what a file extended but never written holds after a power loss. */
    memset(junk[1], 0, sizeof(junk[1]));
    /* A magic followed by junk. */
    memset(junk[2], 0x5a, sizeof(junk[2]));
    memcpy(junk[2] + 10, "SBR\001", 4);
    for (size_t i = 0; i < 3; i++) {
        const char *dir = spt_build(10, SEG4);
        gw_spool_t *sp;

        spt_append_bytes(spt_seg(dir, 9), junk[i], lens[i]);
        sp = reopen(dir, SEG4, GW_SPOOL_SYNC_INTERVAL, 10, 1);
        CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 9)), 2 * SPT_LEN);
        CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), range(1, 10));
        gw_spool_close(sp);
        sp = reopen(dir, SEG4, GW_SPOOL_SYNC_INTERVAL, 10, 0);
        gw_spool_close(sp);
        spt_rmtree(dir);
    }
}

/* A copy of an earlier record appended again (a number out of sequence). */
static void test_duplicate_record_tail(void)
{
    const char *dir = spt_build(10, SEG4);
    unsigned char rec[SPT_LEN];
    FILE *f = fopen(spt_seg(dir, 9), "rb");
    gw_spool_t *sp;

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fread(rec, 1, sizeof(rec), f), sizeof(rec));
    fclose(f);
    spt_append_bytes(spt_seg(dir, 9), rec, sizeof(rec));
    sp = reopen(dir, SEG4, GW_SPOOL_SYNC_NEVER, 10, 1);
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 9)), 2 * SPT_LEN);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), range(1, 10));
    gw_spool_close(sp);
    spt_rmtree(dir);
}

static void test_head_file(void)
{
    const char *dir = spt_build(10, SEG4);
    gw_spool_t *sp = spt_open(dir, BIG, SEG4, GW_SPOOL_SYNC_NEVER);
    static const unsigned char junk[13] = "not a head!!";
    uint64_t rn;

    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), range(1, 10));
    for (uint64_t r = 1; r <= 6; r++)
        gw_spool_confirm(sp, r);
    gw_spool_close(sp);
    CU_ASSERT_EQUAL(spt_head(dir), 7);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "5,9,head");

    sp = reopen(dir, SEG4, GW_SPOOL_SYNC_NEVER, 4, 0);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), "7,8,9,10");
    gw_spool_close(sp);
    /* Missing, damaged, too short, too long: start from the oldest record. */
    CU_ASSERT_EQUAL(unlink(spt_path(dir, "head")), 0);
    sp = reopen(dir, SEG4, GW_SPOOL_SYNC_NEVER, 6, 0);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), range(5, 10));
    gw_spool_close(sp);
    for (size_t n = 3; n <= 13; n += 5) { /* 3, 8, 13 bytes */
        spt_write_file(spt_path(dir, "head"), junk, n);
        sp = reopen(dir, SEG4, GW_SPOOL_SYNC_NEVER, 6, 0);
        gw_spool_close(sp);
    }
    spt_write_head(dir, 7);
    spt_flip(spt_path(dir, "head"), 2, 0x10);
    sp = reopen(dir, SEG4, GW_SPOOL_SYNC_NEVER, 6, 0);
    gw_spool_close(sp);
    /* A head inside a segment; a leftover head.tmp is removed. */
    spt_write_head(dir, 6);
    spt_write_file(spt_path(dir, "head.tmp"), junk, 5);
    sp = reopen(dir, SEG4, GW_SPOOL_SYNC_NEVER, 5, 0);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "5,9,head");
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), range(6, 10));
    gw_spool_close(sp);
    /* A head past every record: nothing to replay, numbering goes on from it. */
    spt_write_head(dir, 50);
    sp = reopen(dir, SEG4, GW_SPOOL_SYNC_NEVER, 0, 0);
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    CU_ASSERT_EQUAL(spt_take(sp, NULL), 0);
    CU_ASSERT_EQUAL(spt_put(sp, 50), 0);
    CU_ASSERT_EQUAL(spt_take(sp, &rn), 50);
    CU_ASSERT_EQUAL(rn, 50);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "50,head");
    gw_spool_close(sp);
    spt_rmtree(dir);
}

/* Segments that hold only confirmed records are deleted unread: damage in
 * them costs nothing. */
static void test_damage_below_head(void)
{
    const char *dir = spt_build(10, SEG4);
    gw_spool_t *sp;

    spt_write_head(dir, 9);
    spt_flip(spt_seg(dir, 1), SPT_LEN + 8, 0x01);
    spt_truncate(spt_seg(dir, 5), 3 * SPT_LEN + 7);
    sp = reopen(dir, SEG4, GW_SPOOL_SYNC_NEVER, 2, 0);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "9,head");
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 1), "9,10");
    gw_spool_close(sp);
    spt_rmtree(dir);
}

/* An empty directory, and names that only look like segments. */
static void test_empty_and_foreign_names(void)
{
    static const char *const names[] = {"notes.txt", "seg-abc.log", "seg-1.log",
                                        "seg-000000000000000000001.log",
                                        "seg-99999999999999999999.log"};
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp = reopen(dir, SEG4, GW_SPOOL_SYNC_ALWAYS, 0, 0);
    gw_spool_stats_t s = spt_stats(sp);
    char sub[512];

    CU_ASSERT_EQUAL(s.bytes + s.segments, 0);
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    CU_ASSERT_EQUAL(spt_take(sp, NULL), 0);
    CU_ASSERT_EQUAL(gw_spool_sync(sp), 0);
    gw_spool_close(sp);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "");

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        spt_write_file(spt_path(dir, names[i]), "SBR\001junk", 8);
    snprintf(sub, sizeof(sub), "%s/seg-00000000000000000007.log", dir);
    CU_ASSERT_EQUAL(mkdir(sub, 0700), 0);
    spt_write_file(spt_seg(dir, 3), "", 0); /* an empty segment: removed */
    sp = reopen(dir, SEG4, GW_SPOOL_SYNC_ALWAYS, 0, 0);
    CU_ASSERT_EQUAL(spt_stats(sp).segments, 0);
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 3)), -1);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        CU_ASSERT_EQUAL(spt_size(spt_path(dir, names[i])), 8);
    spt_put_range(sp, 1, 2);
    gw_spool_close(sp);
    sp = reopen(dir, SEG4, GW_SPOOL_SYNC_ALWAYS, 2, 0);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 1), "1,2");
    gw_spool_close(sp);
    spt_rmtree(dir);
}

/* Damage found by gw_spool_take while running: the rest of that segment is
 * skipped and counted once, even when met again after an untake. */
static void test_damage_while_running(void)
{
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp = spt_open(dir, BIG, SEG4, GW_SPOOL_SYNC_NEVER);
    gw_spool_rec_t r;

    spt_put_range(sp, 1, 10);
    spt_flip(spt_seg(dir, 5), SPT_LEN + 39, 0x02); /* record 6 */
    for (unsigned i = 1; i <= 5; i++)
        CU_ASSERT_EQUAL(spt_take(sp, NULL), i);
    CU_ASSERT_EQUAL(gw_spool_take(sp, &r), -EBADMSG);
    CU_ASSERT_EQUAL(spt_stats(sp).corrupt, 3);
    CU_ASSERT_EQUAL(spt_stats(sp).records, 2);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), "9,10");
    gw_spool_untake(sp);
    CU_ASSERT_EQUAL(spt_stats(sp).records, 7);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), "1,2,3,4,5,9,10");
    CU_ASSERT_EQUAL(spt_stats(sp).corrupt, 3);
    for (uint64_t rn = 1; rn <= 10; rn++)
        gw_spool_confirm(sp, rn);
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "9,head");

    /* In the segment being written: appends move on to a new segment. */
    CU_ASSERT_EQUAL(spt_put(sp, 11), 0);
    spt_flip(spt_seg(dir, 9), 2 * SPT_LEN + 30, 0x02);
    CU_ASSERT_EQUAL(gw_spool_take(sp, &r), -EBADMSG);
    CU_ASSERT_EQUAL(spt_stats(sp).corrupt, 4);
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    CU_ASSERT_EQUAL(spt_put(sp, 12), 0);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "12,head");
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 1), "12");
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    gw_spool_close(sp);
    CU_ASSERT_EQUAL(spt_head(dir), 13);
    spt_rmtree(dir);
}

/* Records of many sizes: none straddles two segments, no segment passes
 * segment_bytes, and every byte comes back. */
static void test_mixed_sizes(void)
{
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp = spt_open(dir, BIG, 1000, GW_SPOOL_SYNC_NEVER);
    static char payload[1000];
    uint64_t total = 0, seen = 0;
    unsigned bad = 0;
    gw_spool_rec_t r;

    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (char)(i * 7 + 3);
    for (unsigned i = 0; i < 500; i++) {
        size_t plen = (i * 37) % 977; /* 0..976: up to the whole segment */

        CU_ASSERT_EQUAL_FATAL(gw_spool_append(sp, "t", 0, payload, plen, 1, false), 0);
        total += 24 + plen;
    }
    CU_ASSERT_EQUAL(spt_stats(sp).bytes, total);
    for (uint64_t first = 1; first <= 500; first++) {
        off_t size = spt_size(spt_seg(dir, first));

        bad += size > 1000;
        seen += size > 0 ? (uint64_t)size : 0;
    }
    CU_ASSERT_EQUAL(seen, total);
    gw_spool_close(sp);
    sp = reopen(dir, 1000, GW_SPOOL_SYNC_NEVER, 500, 0);
    for (unsigned i = 0; i < 500; i++) {
        size_t plen = (i * 37) % 977;

        bad += gw_spool_take(sp, &r) != 0 || r.recno != i + 1 || r.payload_len != plen ||
               memcmp(r.payload, payload, plen) != 0;
    }
    CU_ASSERT_EQUAL(bad, 0);
    gw_spool_close(sp);
    spt_rmtree(dir);
}

int spool_recovery_add(CU_pSuite s)
{
    static const sb_test_t tests[] = {
        {"torn tail", test_torn_tail},
        {"whole last record lost", test_whole_record_lost},
        {"bit flip in the last record", test_bit_flip_last_record},
        {"bit flip in a middle record", test_bit_flip_middle_record},
        {"bit flip in an older segment", test_bit_flip_older_segment},
        {"bit flip, then a torn record", test_flip_then_torn},
        {"missing segment", test_missing_segment},
        {"garbage at the end", test_garbage_tail},
        {"duplicate record at the end", test_duplicate_record_tail},
        {"head file: missing, damaged, moved", test_head_file},
        {"damage below the head", test_damage_below_head},
        {"empty directory and foreign names", test_empty_and_foreign_names},
        {"damage found while running", test_damage_while_running},
        {"mixed record sizes", test_mixed_sizes},
    };

    return SB_ADD_TESTS(s, tests);
}

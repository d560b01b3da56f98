/*
 * Unit tests for gateway/spool.c: the API and its bookkeeping (this file),
 * damage and recovery (test_spool_recovery.c), with the helpers of
 * spool_test.h (test_spool_helpers.c). Every test works in its own
 * directory under /tmp and removes it; the suite ends by checking that no
 * file descriptor leaked.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gateway/log.h"
#include "spool_test.h"
#include "suites.h"

#define SEG4 (4 * SPT_LEN) /* four records per segment */
#define BIG (1 << 20)

static void test_round_trip(void)
{
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp = spt_open(dir, BIG, SEG4, GW_SPOOL_SYNC_NEVER);
    gw_spool_stats_t s = spt_stats(sp);

    CU_ASSERT_EQUAL(s.records + s.bytes + s.taken + s.appended + s.segments, 0);
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    spt_put_range(sp, 1, 10);
    s = spt_stats(sp);
    CU_ASSERT_EQUAL(s.records, 10);
    CU_ASSERT_EQUAL(s.appended, 10);
    CU_ASSERT_EQUAL(s.bytes, 10 * SPT_LEN);
    CU_ASSERT_EQUAL(s.segments, 3);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "1,5,9");
    CU_ASSERT_EQUAL(spt_size(spt_seg(dir, 5)), SEG4);
    CU_ASSERT_EQUAL(gw_spool_pending(sp), 10);
    CU_ASSERT_FALSE(gw_spool_empty(sp));

    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), "1,2,3,4,5,6,7,8,9,10");
    s = spt_stats(sp);
    CU_ASSERT_EQUAL(s.records, 0);
    CU_ASSERT_EQUAL(s.taken, 10);
    CU_ASSERT_EQUAL(gw_spool_pending(sp), 0);
    CU_ASSERT_FALSE(gw_spool_empty(sp)); /* taken is not confirmed */

    for (uint64_t r = 1; r <= 10; r++) {
        gw_spool_confirm(sp, r);
        if (r == 3)
            CU_ASSERT_STRING_EQUAL(spt_ls(dir), "1,5,9,head");
        if (r == 4) /* the first segment is all confirmed */
            CU_ASSERT_STRING_EQUAL(spt_ls(dir), "5,9,head");
    }
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "9,head"); /* the one being written stays */
    CU_ASSERT_EQUAL(spt_head(dir), 11);
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    s = spt_stats(sp);
    CU_ASSERT_EQUAL(s.taken, 0);
    CU_ASSERT_EQUAL(s.segments, 1);
    CU_ASSERT_EQUAL(s.bytes, 2 * SPT_LEN);
    CU_ASSERT_EQUAL(spt_take(sp, NULL), 0);

    /* Interleaved append and take keep the order and the numbering. */
    spt_put_range(sp, 11, 12);
    CU_ASSERT_EQUAL(spt_take(sp, NULL), 11);
    spt_put_range(sp, 13, 15);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 1), "12,13,14,15");
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "9,13,head");
    gw_spool_confirm(sp, 11);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "13,head");
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    gw_spool_close(sp);
    gw_spool_close(NULL);
    spt_rmtree(dir);
}

static void test_confirm_out_of_order(void)
{
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp = spt_open(dir, BIG, SEG4, GW_SPOOL_SYNC_NEVER);

    spt_put_range(sp, 1, 10);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), "1,2,3,4,5,6,7,8,9,10");
    gw_spool_confirm(sp, 3);
    CU_ASSERT_EQUAL(spt_head(dir), 0); /* the head did not move: not written */
    CU_ASSERT_EQUAL(spt_stats(sp).taken, 9);
    gw_spool_confirm(sp, 3); /* twice above the head: counted once */
    CU_ASSERT_EQUAL(spt_stats(sp).taken, 9);
    gw_spool_confirm(sp, 1);
    CU_ASSERT_EQUAL(spt_head(dir), 2);
    gw_spool_confirm(sp, 4);
    CU_ASSERT_EQUAL(spt_head(dir), 2);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "1,5,9,head");
    gw_spool_confirm(sp, 2);
    CU_ASSERT_EQUAL(spt_head(dir), 5);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "5,9,head");
    CU_ASSERT_EQUAL(spt_stats(sp).taken, 6);

    /* Stale and unknown confirmations change nothing. */
    gw_spool_confirm(sp, 2);
    gw_spool_confirm(sp, 4);
    gw_spool_confirm(sp, 0);
    gw_spool_confirm(sp, 11);
    gw_spool_confirm(sp, UINT64_MAX);
    gw_spool_confirm(NULL, 5);
    CU_ASSERT_EQUAL(spt_stats(sp).taken, 6);
    CU_ASSERT_EQUAL(spt_head(dir), 5);

    for (uint64_t r = 10; r >= 6; r--)
        gw_spool_confirm(sp, r);
    CU_ASSERT_EQUAL(spt_head(dir), 5);
    CU_ASSERT_EQUAL(spt_stats(sp).taken, 1);
    CU_ASSERT_FALSE(gw_spool_empty(sp));
    gw_spool_confirm(sp, 5);
    CU_ASSERT_EQUAL(spt_head(dir), 11);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "9,head");
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    gw_spool_close(sp);
    spt_rmtree(dir);
}

/* Confirmations far ahead of a head that stays put (the bitmap grows and
 * shifts), then the head jumps over all of them at once. */
static void test_confirm_wide_window(void)
{
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp = spt_open(dir, 1 << 24, 64 * SPT_LEN, GW_SPOOL_SYNC_INTERVAL);
    unsigned bad = 0;
    uint64_t rn;

    spt_put_range(sp, 1, 1000);
    for (unsigned i = 1; i <= 1000; i++)
        CU_ASSERT_EQUAL(spt_take(sp, &rn), i);
    for (uint64_t r = 1000; r >= 2; r--)
        gw_spool_confirm(sp, r);
    CU_ASSERT_EQUAL(spt_stats(sp).taken, 1);
    CU_ASSERT_EQUAL(spt_stats(sp).segments, 16);
    gw_spool_confirm(sp, 1);
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    CU_ASSERT_EQUAL(spt_stats(sp).segments, 1);
    CU_ASSERT_EQUAL(spt_head(dir), 0); /* INTERVAL: written by gw_spool_sync only */
    CU_ASSERT_EQUAL(gw_spool_sync(sp), 0);
    CU_ASSERT_EQUAL(spt_head(dir), 1001);
    /* And again above the new head, which is not a multiple of 64. */
    spt_put_range(sp, 1001, 1200);
    CU_ASSERT_EQUAL(spt_take(sp, &rn), 1001);
    CU_ASSERT_EQUAL(rn, 1001);
    for (unsigned i = 1002; i <= 1200; i++) {
        bad += spt_take(sp, &rn) != i;
        gw_spool_confirm(sp, rn);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(spt_stats(sp).taken, 1);
    CU_ASSERT_EQUAL(spt_stats(sp).records, 0);
    CU_ASSERT_FALSE(gw_spool_empty(sp)); /* confirmed records above the head: not empty */
    gw_spool_confirm(sp, 1001);
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    /* Confirmed runs with a gap: the bitmap shifts under the second run. */
    spt_put_range(sp, 1201, 1500);
    for (unsigned i = 1201; i <= 1500; i++)
        bad += spt_take(sp, &rn) != i;
    for (uint64_t r = 1202; r <= 1500; r++)
        if (r <= 1300 || r >= 1350)
            gw_spool_confirm(sp, r);
    gw_spool_confirm(sp, 1201);
    CU_ASSERT_EQUAL(gw_spool_sync(sp), 0);
    CU_ASSERT_EQUAL(spt_head(dir), 1301);
    CU_ASSERT_EQUAL(spt_stats(sp).taken, 49);
    for (uint64_t r = 1301; r < 1350; r++)
        gw_spool_confirm(sp, r);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    gw_spool_close(sp);
    CU_ASSERT_EQUAL(spt_head(dir), 1501);
    spt_rmtree(dir);
}

static void test_reopen_resumes_at_head(void)
{
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp = spt_open(dir, BIG, SEG4, GW_SPOOL_SYNC_NEVER);
    gw_spool_stats_t s;
    uint64_t rn;

    spt_put_range(sp, 1, 10);
    for (unsigned i = 1; i <= 6; i++)
        CU_ASSERT_EQUAL(spt_take(sp, NULL), i);
    gw_spool_confirm(sp, 1);
    gw_spool_confirm(sp, 2);
    gw_spool_confirm(sp, 3);
    gw_spool_confirm(sp, 5);
    gw_spool_close(sp);
    CU_ASSERT_EQUAL(spt_head(dir), 4);

    sp = spt_open(dir, BIG, SEG4, GW_SPOOL_SYNC_NEVER);
    s = spt_stats(sp);
    CU_ASSERT_EQUAL(s.recovered, 7);
    CU_ASSERT_EQUAL(s.records, 7);
    CU_ASSERT_EQUAL(s.corrupt, 0);
    CU_ASSERT_EQUAL(s.appended, 0);
    CU_ASSERT_EQUAL(s.taken, 0);
    CU_ASSERT_EQUAL(s.segments, 3);
    CU_ASSERT_EQUAL(s.bytes, 10 * SPT_LEN);
    /* 5 was confirmed above the head: that lived in memory, so it comes again. */
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 1), "4,5,6,7,8,9,10");
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    gw_spool_close(sp);

    sp = spt_open(dir, BIG, SEG4, GW_SPOOL_SYNC_NEVER);
    s = spt_stats(sp);
    CU_ASSERT_EQUAL(s.recovered, 0);
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    CU_ASSERT_EQUAL(spt_take(sp, NULL), 0);
    CU_ASSERT_EQUAL(spt_put(sp, 11), 0); /* numbering continues */
    CU_ASSERT_EQUAL(spt_take(sp, &rn), 11);
    CU_ASSERT_EQUAL(rn, 11);
    gw_spool_close(sp);
    spt_rmtree(dir);
}

static void test_untake(void)
{
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp = spt_open(dir, BIG, SEG4, GW_SPOOL_SYNC_NEVER);
    gw_spool_stats_t s;

    spt_put_range(sp, 1, 8);
    for (unsigned i = 1; i <= 5; i++)
        CU_ASSERT_EQUAL(spt_take(sp, NULL), i);
    gw_spool_confirm(sp, 2);
    gw_spool_confirm(sp, 4);
    gw_spool_untake(sp);
    s = spt_stats(sp);
    CU_ASSERT_EQUAL(s.taken, 0);
    CU_ASSERT_EQUAL(s.records, 6);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 0), "1,3,5,6,7,8");

    gw_spool_untake(sp);
    CU_ASSERT_EQUAL(spt_take(sp, NULL), 1);
    CU_ASSERT_EQUAL(spt_take(sp, NULL), 3);
    gw_spool_confirm(sp, 1);
    gw_spool_confirm(sp, 3);
    CU_ASSERT_EQUAL(spt_head(dir), 5);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "5,head");
    gw_spool_untake(sp);
    CU_ASSERT_EQUAL(spt_take(sp, NULL), 5);
    /* A late confirmation of an untaken record still removes it. */
    gw_spool_untake(sp);
    CU_ASSERT_EQUAL(spt_stats(sp).records, 4);
    gw_spool_confirm(sp, 5);
    s = spt_stats(sp);
    CU_ASSERT_EQUAL(s.records, 3);
    CU_ASSERT_EQUAL(s.taken, 0);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 1), "6,7,8");
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    gw_spool_untake(sp);
    CU_ASSERT_EQUAL(spt_take(sp, NULL), 0);
    gw_spool_untake(NULL);
    gw_spool_close(sp);
    spt_rmtree(dir);
}

static void test_max_bytes_eviction(void)
{
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp = spt_open(dir, 3 * SEG4, SEG4, GW_SPOOL_SYNC_NEVER);
    gw_spool_stats_t s;

    spt_put_range(sp, 1, 12);
    CU_ASSERT_EQUAL(spt_stats(sp).bytes, 3 * SEG4);
    CU_ASSERT_EQUAL(spt_take(sp, NULL), 1);
    CU_ASSERT_EQUAL(spt_take(sp, NULL), 2);
    gw_spool_confirm(sp, 1);
    /* 13 needs a new segment: the oldest goes. 1 was confirmed, 2 belongs to
     * the caller (taken), 3 and 4 were never handed out: dropped. */
    CU_ASSERT_EQUAL(spt_put(sp, 13), 0);
    s = spt_stats(sp);
    CU_ASSERT_EQUAL(s.dropped_full, 2);
    CU_ASSERT_EQUAL(s.taken, 0);
    CU_ASSERT_EQUAL(s.records, 9);
    CU_ASSERT_EQUAL(s.segments, 3);
    CU_ASSERT_EQUAL(s.bytes, 9 * SPT_LEN);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "5,9,13,head");
    CU_ASSERT_EQUAL(spt_head(dir), 5);
    gw_spool_confirm(sp, 2); /* late: ignored, nothing counted twice */
    gw_spool_confirm(sp, 3);
    s = spt_stats(sp);
    CU_ASSERT_EQUAL(s.records, 9);
    CU_ASSERT_EQUAL(s.taken, 0);
    CU_ASSERT_EQUAL(s.dropped_full, 2);

    CU_ASSERT_EQUAL(spt_take(sp, NULL), 5);
    spt_put_range(sp, 14, 17); /* 17 evicts 5..8: 5 taken, 6..8 dropped */
    s = spt_stats(sp);
    CU_ASSERT_EQUAL(s.dropped_full, 5);
    CU_ASSERT_EQUAL(s.records, 9);
    CU_ASSERT_EQUAL(s.taken, 0);
    CU_ASSERT_EQUAL(s.appended, 17);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "9,13,17,head");
    gw_spool_untake(sp);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 1), "9,10,11,12,13,14,15,16,17");
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    gw_spool_close(sp);
    spt_rmtree(dir);
}

/* segment_bytes >= max_bytes: a single segment, deleted when it is left. */
static void test_max_bytes_one_segment(void)
{
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp = spt_open(dir, SEG4, 10 * SEG4, GW_SPOOL_SYNC_ALWAYS);
    gw_spool_stats_t s;

    spt_put_range(sp, 1, 4);
    CU_ASSERT_EQUAL(spt_take(sp, NULL), 1);
    CU_ASSERT_EQUAL(spt_put(sp, 5), 0);
    s = spt_stats(sp);
    CU_ASSERT_EQUAL(s.dropped_full, 3);
    CU_ASSERT_EQUAL(s.segments, 1);
    CU_ASSERT_EQUAL(s.bytes, SPT_LEN);
    CU_ASSERT_EQUAL(s.records, 1);
    CU_ASSERT_EQUAL(s.taken, 0);
    CU_ASSERT_STRING_EQUAL(spt_ls(dir), "5,head");
    CU_ASSERT_EQUAL(spt_head(dir), 5);
    gw_spool_confirm(sp, 1);
    CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 1), "5");
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    gw_spool_close(sp);
    spt_rmtree(dir);
}

static void test_sizes_and_arguments(void)
{
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp = spt_open(dir, BIG, SEG4, GW_SPOOL_SYNC_NEVER);
    static char big[70000];
    gw_spool_rec_t r;

    memset(big, 'x', sizeof(big));
    /* 24 + 8 + 128 = 160: exactly one segment. */
    CU_ASSERT_EQUAL(gw_spool_append(sp, "t/000001", 8, big, 128, 2, true), 0);
    CU_ASSERT_EQUAL(gw_spool_append(sp, "t/000001", 8, big, 129, 2, true), -EMSGSIZE);
    CU_ASSERT_EQUAL(gw_spool_append(sp, big, 65536, "", 0, 0, false), -EMSGSIZE);
    CU_ASSERT_EQUAL(gw_spool_append(sp, "t", 1, "p", 1, 3, false), -EINVAL);
    CU_ASSERT_EQUAL(gw_spool_append(sp, "t", 1, "p", 1, -1, false), -EINVAL);
    CU_ASSERT_EQUAL(gw_spool_append(sp, NULL, 1, "p", 1, 0, false), -EINVAL);
    CU_ASSERT_EQUAL(gw_spool_append(sp, "t", 1, NULL, 1, 0, false), -EINVAL);
    CU_ASSERT_EQUAL(gw_spool_append(NULL, "t", 1, "p", 1, 0, false), -EINVAL);
    CU_ASSERT_EQUAL(gw_spool_append(sp, NULL, 0, NULL, 0, 1, false), 0);
    CU_ASSERT_EQUAL(spt_stats(sp).appended, 2);
    CU_ASSERT_EQUAL(spt_stats(sp).segments, 2);

    CU_ASSERT_EQUAL(gw_spool_take(sp, &r), 0);
    CU_ASSERT_EQUAL(r.recno, 1);
    CU_ASSERT_EQUAL(r.topic_len, 8);
    CU_ASSERT_EQUAL(r.payload_len, 128);
    CU_ASSERT_EQUAL(memcmp(r.payload, big, 128), 0);
    CU_ASSERT_EQUAL(r.qos, 2);
    CU_ASSERT_TRUE(r.retain);
    CU_ASSERT_EQUAL(gw_spool_take(sp, &r), 0);
    CU_ASSERT_EQUAL(r.recno, 2);
    CU_ASSERT_EQUAL(r.topic_len + r.payload_len, 0);
    CU_ASSERT_EQUAL(r.qos, 1);
    CU_ASSERT_FALSE(r.retain);
    CU_ASSERT_EQUAL(gw_spool_take(sp, &r), -ENOENT);
    CU_ASSERT_EQUAL(gw_spool_take(NULL, &r), -EINVAL);
    CU_ASSERT_EQUAL(gw_spool_sync(NULL), -EINVAL);
    gw_spool_close(sp);

    /* max_bytes below one header: nothing fits. */
    sp = spt_open(dir, 20, 0, GW_SPOOL_SYNC_NEVER);
    CU_ASSERT_EQUAL(gw_spool_append(sp, NULL, 0, NULL, 0, 0, false), -EMSGSIZE);
    gw_spool_close(sp);
    spt_rmtree(dir);
}

static void test_open_errors(void)
{
    const char *dir = spt_mkdtemp();
    char file[512], nested[512];
    gw_spool_opts_t o = {NULL, BIG, 0, GW_SPOOL_SYNC_NEVER};
    gw_spool_t *sp = (gw_spool_t *)&o;
    struct stat sb;
    mode_t mask = umask(0);

    umask(mask);
    snprintf(file, sizeof(file), "%s/plain", dir);
    spt_write_file(file, "x", 1);
    o.dir = file; /* a regular file where the directory should be */
    CU_ASSERT_EQUAL(gw_spool_open(&o, &sp), -ENOTDIR);
    CU_ASSERT_PTR_NULL(sp);
    snprintf(nested, sizeof(nested), "%s/plain/spool", dir);
    o.dir = nested; /* under a regular file: cannot be created */
    CU_ASSERT_EQUAL(gw_spool_open(&o, &sp), -ENOTDIR);
    o.dir = "";
    CU_ASSERT_EQUAL(gw_spool_open(&o, &sp), -EINVAL);
    o.dir = dir;
    o.max_bytes = 0;
    CU_ASSERT_EQUAL(gw_spool_open(&o, &sp), -EINVAL);
    o.max_bytes = BIG;
    o.sync = (gw_spool_sync_t)7;
    CU_ASSERT_EQUAL(gw_spool_open(&o, &sp), -EINVAL);
    CU_ASSERT_EQUAL(gw_spool_open(NULL, &sp), -EINVAL);

    /* Missing parents are created, mode 0750. */
    snprintf(nested, sizeof(nested), "%s/a/b/spool/", dir);
    sp = spt_open(nested, BIG, 0, GW_SPOOL_SYNC_ALWAYS);
    CU_ASSERT_EQUAL(stat(nested, &sb), 0);
    CU_ASSERT_TRUE(S_ISDIR(sb.st_mode));
    CU_ASSERT_EQUAL(sb.st_mode & 0777, 0750 & ~mask);
    CU_ASSERT_EQUAL(spt_put(sp, 1), 0);
    CU_ASSERT_EQUAL(spt_size(spt_seg(nested, 1)), SPT_LEN);
    gw_spool_close(sp);
    spt_rmtree(dir);
}

/* Every sync mode stores, syncs and reopens the same way; only when the head
 * file is written differs. */
static void test_sync_modes(void)
{
    static const gw_spool_sync_t modes[] = {GW_SPOOL_SYNC_ALWAYS, GW_SPOOL_SYNC_INTERVAL,
                                            GW_SPOOL_SYNC_NEVER};

    for (size_t m = 0; m < 3; m++) {
        const char *dir = spt_mkdtemp();
        gw_spool_t *sp = spt_open(dir, BIG, SEG4, modes[m]);

        spt_put_range(sp, 1, 6);
        CU_ASSERT_EQUAL(spt_take(sp, NULL), 1);
        CU_ASSERT_EQUAL(spt_take(sp, NULL), 2);
        CU_ASSERT_EQUAL(spt_take(sp, NULL), 3);
        gw_spool_confirm(sp, 1);
        gw_spool_confirm(sp, 2);
        CU_ASSERT_EQUAL(spt_head(dir), modes[m] == GW_SPOOL_SYNC_INTERVAL ? 0 : 3);
        CU_ASSERT_EQUAL(gw_spool_sync(sp), 0);
        CU_ASSERT_EQUAL(spt_head(dir), 3);
        CU_ASSERT_EQUAL(gw_spool_sync(sp), 0);
        spt_put_range(sp, 7, 9);
        gw_spool_confirm(sp, 3);
        gw_spool_close(sp);
        CU_ASSERT_EQUAL(spt_head(dir), 4);
        CU_ASSERT_STRING_EQUAL(spt_ls(dir), "1,5,9,head");

        sp = spt_open(dir, BIG, SEG4, modes[m]);
        CU_ASSERT_EQUAL(spt_stats(sp).recovered, 6);
        CU_ASSERT_STRING_EQUAL(spt_take_all(sp, 1), "4,5,6,7,8,9");
        CU_ASSERT_TRUE(gw_spool_empty(sp));
        gw_spool_close(sp);
        CU_ASSERT_EQUAL(spt_head(dir), 10);
        CU_ASSERT_STRING_EQUAL(spt_ls(dir), "9,head");
        spt_rmtree(dir);
    }
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A crude performance check, printed, never asserted: 100k small records
 * through append, reopen (which checks every record), take and confirm,
 * with the default segment size. Under NEVER every confirmation rewrites
 * the head file; under INTERVAL only gw_spool_sync does. */
static void many_records(gw_spool_sync_t sync, const char *mode)
{
    enum { N = 100000 };
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp = spt_open(dir, 64 << 20, 0, sync);
    double t0 = now_s(), t1, t2, t3;
    gw_spool_stats_t s;
    unsigned bad = 0;
    uint64_t rn;

    for (unsigned i = 1; i <= N; i++)
        bad += spt_put(sp, i) != 0;
    t1 = now_s();
    gw_spool_close(sp);
    sp = spt_open(dir, 64 << 20, 0, sync);
    t2 = now_s();
    s = spt_stats(sp);
    CU_ASSERT_EQUAL(s.recovered, N);
    CU_ASSERT_EQUAL(s.bytes, (uint64_t)N * SPT_LEN);
    CU_ASSERT_EQUAL(s.segments, 1); /* 4 MB in 8 MiB segments */
    for (unsigned i = 1; i <= N; i++) {
        bad += spt_take(sp, &rn) != i || rn != i;
        gw_spool_confirm(sp, rn);
    }
    t3 = now_s();
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_TRUE(gw_spool_empty(sp));
    CU_ASSERT_EQUAL(gw_spool_sync(sp), 0);
    CU_ASSERT_EQUAL(spt_head(dir), N + 1);
    gw_spool_close(sp);
    printf("\n    spool, %d records of %d bytes, sync %s: append %.0f/s, open %.0f/s, "
           "take+confirm %.0f/s",
           N, SPT_LEN, mode, N / (t1 - t0), N / (t2 - t1), N / (t3 - t2));
    spt_rmtree(dir);
}

static void test_many_records(void)
{
    many_records(GW_SPOOL_SYNC_INTERVAL, "interval");
    many_records(GW_SPOOL_SYNC_NEVER, "never");
    printf("\n    ");
}

static int fds_at_start;
static gw_log_level_t log_level;

/* Recovery logs every repair; the tests check what was repaired instead. */
static int suite_init(void)
{
    fds_at_start = spt_fds();
    log_level = gw_log_get_level();
    gw_log_set_level(GW_LOG_ERROR);
    return 0;
}

static int suite_cleanup(void)
{
    gw_log_set_level(log_level);
    return 0;
}

static void test_no_fd_leak(void)
{
    CU_ASSERT_TRUE(fds_at_start > 0);
    CU_ASSERT_EQUAL(spt_fds(), fds_at_start);
}

int spool_suite(void)
{
    static const sb_test_t tests[] = {
        {"round trip across segments", test_round_trip},
        {"confirm out of order", test_confirm_out_of_order},
        {"confirm a wide window", test_confirm_wide_window},
        {"reopen resumes at the head", test_reopen_resumes_at_head},
        {"untake", test_untake},
        {"max_bytes evicts the oldest segment", test_max_bytes_eviction},
        {"max_bytes with one segment", test_max_bytes_one_segment},
        {"sizes and arguments", test_sizes_and_arguments},
        {"open errors", test_open_errors},
        {"sync modes", test_sync_modes},
        {"100k records", test_many_records},
    };
    CU_pSuite s = CU_add_suite("spool", suite_init, suite_cleanup);

    if (!s)
        return -1;
    if (SB_ADD_TESTS(s, tests) != 0)
        return -1;
    if (spool_recovery_add(s) != 0 || spool_resync_add(s) != 0 ||
        !CU_add_test(s, "no fd leaked", test_no_fd_leak))
        return -1;
    return 0;
}

/*
 * 32-bit hazards. On armhf long, size_t and pointers are 32 bits, and
 * time_t and off_t are 64 bits only because the build asks for them
 * (_TIME_BITS=64, _FILE_OFFSET_BITS=64). These tests check that what must
 * not wrap at 2^32 (counters, ids, record numbers, offsets) or in January
 * 2038 (timestamps) is 64 bits wide, and carry values past those limits
 * through the code that handles them. Natively most of them hold by
 * construction; scripts/cross-armhf runs them on armhf under qemu, where
 * each fails if its type is narrowed back to long, size_t or 32 bits.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "adapters/adapter.h"
#include "adapters/line_parser.h"
#include "adapters/modbus_codec.h"
#include "adapters/modbus_tcp.h"
#include "adapters/raw_tcp.h"
#include "gateway/clock.h"
#include "gateway/loop.h"
#include "gateway/msgpool.h"
#include "gateway/outbox.h"
#include "gateway/paho.h"
#include "gateway/publisher.h"
#include "gateway/reading.h"
#include "gateway/spool.h"
#include "gateway/spool_format.h"
#include "gateway/stats.h"
#include "gateway/store.h"
#include "spool_test.h"
#include "suites.h"

#define IS_U64(x) _Generic((x), uint64_t : 1, default : 0)
#define IS_I64(x) _Generic((x), int64_t : 1, default : 0)

/* 2100-01-01T00:00:00.123Z: past 2^31 seconds, whose milliseconds do not
 * fit 32 bits either. */
#define TS_2100_S 4102444800LL
#define TS_2100_MS 4102444800123LL

#define U32_WRAP ((uint64_t)1 << 32)

/* --- time -------------------------------------------------------------------- */

static void test_time_types(void)
{
    gw_reading_t r;
    struct timespec ts = {0};

    CU_ASSERT_EQUAL(sizeof(time_t), 8); /* the build's _TIME_BITS=64 */
    CU_ASSERT(IS_U64(gw_clock_now_ms()));
    CU_ASSERT(IS_I64(gw_clock_wall_ms()));
    CU_ASSERT(IS_I64(gw_clock_timespec_ms(&ts)));
    CU_ASSERT(IS_I64(r.ts_ms));
    CU_ASSERT(IS_U64(r.seq));
}

/* The clocks' arithmetic, on either side of 2^31 seconds (2038-01-19). */
static void test_timespec_past_2038(void)
{
    struct timespec before = {.tv_sec = (time_t)INT32_MAX, .tv_nsec = 999999999};
    struct timespec after = {.tv_sec = (time_t)INT32_MAX + 1, .tv_nsec = 0};
    struct timespec later = {.tv_sec = (time_t)TS_2100_S, .tv_nsec = 123456789};

    CU_ASSERT_EQUAL(gw_clock_timespec_ms(&before), 2147483647999LL);
    CU_ASSERT_EQUAL(gw_clock_timespec_ms(&after), 2147483648000LL);
    CU_ASSERT_EQUAL(gw_clock_timespec_ms(&later), TS_2100_MS);
    /* Now (after November 2023) in milliseconds: 41 bits. */
    CU_ASSERT(gw_clock_wall_ms() > 1700000000000LL);
}

/* A reading stamped in 2100 keeps its stamp in the JSON payload and in a
 * spool record that holds it, read back from an odd address. */
static void test_ts_past_2038_roundtrip(void)
{
    gw_reading_t r = {.sensor = "s",
                      .adapter = "a",
                      .seq = ((uint64_t)1 << 32) + 7,
                      .ts_ms = TS_2100_MS,
                      .kind = GW_VALUE_INT,
                      .value.i = 1};
    char json[256];
    unsigned char *buf;
    gw_spf_reader_t rd = {.fd = -1};
    gw_spf_rec_t rec;
    int n = gw_reading_to_json(&r, json, sizeof(json));
    size_t len;

    CU_ASSERT_FATAL(n > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"ts\":4102444800123,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"seq\":4294967303,"));
    len = GW_SPF_HDR_LEN + 3 + (size_t)n;
    buf = malloc(len + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    gw_spf_encode(buf + 1, ((uint64_t)1 << 32) + 1, "t/s", 3, json, (size_t)n, 1, false);
    gw_spf_attach_mem(&rd, buf + 1, len, 0);
    CU_ASSERT_EQUAL(gw_spf_read(&rd, 0, len, &rec), 1);
    CU_ASSERT_EQUAL(rec.recno, ((uint64_t)1 << 32) + 1);
    CU_ASSERT_EQUAL(rec.plen, (size_t)n);
    CU_ASSERT_EQUAL(memcmp(rec.p + GW_SPF_HDR_LEN + 3, json, (size_t)n), 0);
    gw_spf_close(&rd);
    free(buf);
}

/* --- counters ------------------------------------------------------------------ */

/* Event counts, bytes and per-sensor sequence numbers outgrow 2^32 in a
 * long run; none is a size_t, unsigned or long. */
static void test_counter_types(void)
{
    gw_outbox_stats_t ob;
    gw_pub_stats_t ps;
    gw_loop_stats_t lo;
    gw_pool_stats_t po;
    gw_store_stats_t st;
    gw_spool_stats_t sp;
    adp_stats_t ad;
    gw_adapter_stats_t ga;
    lp_counters_t lp;
    mbt_stats_t mb;
    mbl_t ml;
    mbt_point_t mp;
    rtcp_stats_t rt;
    rtcp_seq_t rs;

    CU_ASSERT(IS_U64(ob.produced) && IS_U64(ob.delivered) && IS_U64(ob.dropped[0]) &&
              IS_U64(ob.dropped_total) && IS_U64(ob.moved) && IS_U64(ob.requeued) &&
              IS_U64(ob.stale_acks));
    CU_ASSERT(IS_U64(ps.connects) && IS_U64(ps.connect_fails) && IS_U64(ps.lost) &&
              IS_U64(ps.sent) && IS_U64(ps.renewed));
    CU_ASSERT(IS_I64(ps.paho_heap)); /* bytes, -1 for none: not a long */
    CU_ASSERT(IS_I64(gw_paho_heap_bytes()));
    CU_ASSERT(IS_U64(lo.iterations) && IS_U64(lo.io_events) && IS_U64(lo.timers_fired) &&
              IS_U64(lo.wakeups));
    CU_ASSERT(IS_U64(po.refused));
    CU_ASSERT(IS_U64(st.produced) && IS_U64(st.spool_errors));
    CU_ASSERT(IS_U64(sp.records) && IS_U64(sp.bytes) && IS_U64(sp.taken) && IS_U64(sp.appended) &&
              IS_U64(sp.recovered) && IS_U64(sp.corrupt) && IS_U64(sp.dropped_full) &&
              IS_U64(sp.segments));
    CU_ASSERT(IS_U64(ad.reads_ok) && IS_U64(ad.reads_failed) && IS_U64(ad.reconnects));
    CU_ASSERT(IS_U64(ga.reads_ok) && IS_U64(ga.reads_failed) && IS_U64(ga.reconnects));
    CU_ASSERT(IS_U64(lp.lines) && IS_U64(lp.lines_ok) && IS_U64(lp.blank) && IS_U64(lp.readings) &&
              IS_U64(lp.errors[0]));
    CU_ASSERT(IS_U64(mb.reads_ok) && IS_U64(mb.reads_failed) && IS_U64(mb.timeouts) &&
              IS_U64(mb.exceptions) && IS_U64(mb.overruns) && IS_U64(mb.missed_ticks) &&
              IS_U64(mb.paced_ticks) && IS_U64(mb.backed_off));
    CU_ASSERT(IS_U64(ml.malformed) && IS_U64(ml.discarded) && IS_U64(ml.noise) &&
              IS_U64(ml.reconnects));
    CU_ASSERT(IS_U64(mp.seq) && IS_U64(rs.seq));
    CU_ASSERT(IS_U64(rt.connections) && IS_U64(rt.refused_clients) && IS_U64(rt.idle_closed) &&
              IS_U64(rt.reconnects) && IS_U64(rt.unknown_sensors) && IS_U64(rt.requests_skipped));
}

static gw_outbox_t *outbox(size_t capacity, size_t max_bytes, size_t max_inflight)
{
    gw_outbox_opts_t o = {.capacity = capacity,
                          .max_bytes = max_bytes,
                          .max_inflight = max_inflight,
                          .overflow = GW_OVERFLOW_DROP_OLDEST};
    gw_outbox_t *ob = gw_outbox_new(&o);

    CU_ASSERT_PTR_NOT_NULL_FATAL(ob);
    return ob;
}

static void test_message_id_types(void)
{
    gw_msg_t m;
    gw_spool_rec_t r;
    gw_spool_opts_t o;

    CU_ASSERT(IS_U64(m.id) && IS_U64(m.origin) && IS_U64(m.send));
    CU_ASSERT(IS_U64(gw_outbox_send_of(NULL, 0)));
    CU_ASSERT(
        _Generic(&gw_outbox_ack, int (*)(gw_outbox_t *, uint64_t, uint64_t) : 1, default : 0));
    CU_ASSERT(IS_U64(r.recno) && IS_U64(o.max_bytes) && IS_U64(o.segment_bytes));
    CU_ASSERT(IS_U64(gw_spool_pending(NULL)));
    CU_ASSERT(_Generic(&gw_spool_confirm, void (*)(gw_spool_t *, uint64_t) : 1, default : 0));
}

/* Ids, send numbers and counters go on past 2^32: every message is
 * confirmed by its own id and send, and a confirmation naming a send cut to
 * 32 bits is stale. */
static void test_outbox_past_2_32(void)
{
    gw_outbox_t *ob = outbox(16, 4096, 16);
    gw_outbox_stats_t s;
    gw_msg_t *m[4];
    uint64_t id[4], send[4];

    CU_ASSERT_EQUAL(gw_outbox_fast_forward(ob, U32_WRAP - 2), 0);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(gw_outbox_push(ob, "t", 1, "p", 1, 1, false), 0);
        m[i] = gw_outbox_next(ob);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m[i]);
        gw_outbox_mark_inflight(ob, m[i]);
        id[i] = m[i]->id;
        send[i] = m[i]->send;
    }
    CU_ASSERT_EQUAL(gw_outbox_fast_forward(ob, 1), -EBUSY);
    CU_ASSERT_EQUAL(id[0], U32_WRAP - 1);
    CU_ASSERT_EQUAL(id[3], U32_WRAP + 2);
    CU_ASSERT_EQUAL(send[1], U32_WRAP);
    CU_ASSERT_EQUAL(gw_outbox_ack(ob, id[3] & UINT32_MAX, send[3]), -ENOENT);
    CU_ASSERT_EQUAL(gw_outbox_ack(ob, id[3], send[3] & UINT32_MAX), -ENOENT);
    for (int i = 3; i >= 0; i--)
        CU_ASSERT_EQUAL(gw_outbox_ack(ob, id[i], send[i]), 0);
    gw_outbox_stats(ob, &s);
    CU_ASSERT_EQUAL(s.produced, U32_WRAP + 2);
    CU_ASSERT_EQUAL(s.delivered, U32_WRAP + 2);
    CU_ASSERT_EQUAL(s.stale_acks, 2);
    CU_ASSERT_TRUE(gw_outbox_empty(ob));
    gw_outbox_free(ob);
}

/* Spool record numbers past 2^32: appended, taken, confirmed, and the head
 * file and segment name that keep them across a restart. */
static void test_spool_past_2_32(void)
{
    const char *dir = spt_mkdtemp();
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    gw_spool_t *sp;
    uint64_t recno, head;

    CU_ASSERT_FATAL(dfd >= 0);
    CU_ASSERT_EQUAL(gw_spf_head_store(dfd, U32_WRAP - 2, true), 0);
    sp = spt_open(dir, 1 << 20, 0, GW_SPOOL_SYNC_NEVER);
    for (unsigned i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(spt_put(sp, i), 0);
    CU_ASSERT_EQUAL(gw_spool_pending(sp), 4);
    for (uint64_t want = U32_WRAP - 2; want < U32_WRAP + 2; want++) {
        spt_take(sp, &recno);
        CU_ASSERT_EQUAL(recno, want);
        gw_spool_confirm(sp, recno);
    }
    CU_ASSERT_EQUAL(access(spt_seg(dir, U32_WRAP - 2), F_OK), 0);
    gw_spool_close(sp);
    CU_ASSERT_TRUE(gw_spf_head_load(dfd, &head));
    CU_ASSERT_EQUAL(head, U32_WRAP + 2);
    sp = spt_open(dir, 1 << 20, 0, GW_SPOOL_SYNC_NEVER);
    CU_ASSERT_EQUAL(spt_put(sp, 9), 0);
    spt_take(sp, &recno);
    CU_ASSERT_EQUAL(recno, U32_WRAP + 2);
    gw_spool_close(sp);
    close(dfd);
    spt_rmtree(dir);
}

/* --- size_t limits and alignment ------------------------------------------------ */

/* Lengths whose sum wraps a 32-bit size_t are refused before anything is
 * allocated or read (the pointers below hold 2 bytes). */
static void test_size_limits(void)
{
    const size_t half = SIZE_MAX / 2 + 1;
    gw_outbox_t *ob = outbox(4, SIZE_MAX, 4);
    gw_outbox_stats_t s;
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp;

    CU_ASSERT_EQUAL(gw_outbox_push(ob, "t", half, "p", half, 1, false), -ENOBUFS);
    CU_ASSERT_EQUAL(gw_outbox_push(ob, "t", SIZE_MAX, "p", 1, 1, false), -ENOBUFS);
    gw_outbox_stats(ob, &s);
    CU_ASSERT_EQUAL(s.dropped[GW_DROP_TOO_BIG], 2);
    CU_ASSERT_EQUAL(s.bytes, 0);
    /* The byte budget's arithmetic near SIZE_MAX: a small message fits. */
    CU_ASSERT_EQUAL(gw_outbox_push(ob, "t", 1, "p", 1, 1, false), 0);
    gw_outbox_stats(ob, &s);
    CU_ASSERT_EQUAL(s.bytes, 2);
    gw_outbox_free(ob);

    sp = spt_open(dir, 1 << 20, 0, GW_SPOOL_SYNC_NEVER);
    CU_ASSERT_EQUAL(gw_spool_append(sp, "t", 10, "p", SIZE_MAX - 5, 0, false), -EMSGSIZE);
    CU_ASSERT_EQUAL(gw_spool_append(sp, "t", SIZE_MAX, "p", 1, 0, false), -EMSGSIZE);
    CU_ASSERT_EQUAL(gw_spool_pending(sp), 0);
    gw_spool_close(sp);
    spt_rmtree(dir);
}

/* Messages hold 64-bit fields, which 32-bit ARM loads in pairs (LDRD) that
 * need 8-byte alignment: the pool hands out max_align_t-aligned memory
 * whatever the sizes asked before. */
static void test_pool_alignment(void)
{
    gw_pool_t *pool = gw_pool_new(4);

    CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
    CU_ASSERT(alignof(max_align_t) >= alignof(uint64_t));
    for (size_t size = 1; size < 200; size += 3) {
        void *p = gw_pool_alloc(pool, sizeof(gw_msg_t) + size);

        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_EQUAL((uintptr_t)p % alignof(max_align_t), 0);
        CU_ASSERT_EQUAL((uintptr_t)p % alignof(gw_msg_t), 0);
    }
    gw_pool_destroy(pool);
}

/* Frames from the wire at odd addresses: fields are assembled byte by byte. */
static void test_wire_unaligned(void)
{
    static const uint8_t frame[] = {0x12, 0x34, 0, 0, 0, 7, 0x11, 0x03, 4, 0x00, 0x2a, 0xff, 0xfe};
    static const uint8_t request[] = {0x56, 0x78, 0, 0, 0, 6, 0x01, 0x04, 0x12, 0x34, 0x00, 0x7d};
    uint8_t buf[1 + sizeof(frame) + sizeof(request)];
    mb_decoder_t d;
    mb_response_t r;
    mb_request_t q;
    size_t used;

    memcpy(buf + 1, frame, sizeof(frame));
    mb_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_decoder_feed(&d, buf + 1, sizeof(frame), &used, &r), MB_FRAME);
    CU_ASSERT_EQUAL(r.tid, 0x1234);
    CU_ASSERT_EQUAL(mb_register(&r, 0), 0x002a);
    CU_ASSERT_EQUAL(mb_register(&r, 1), 0xfffe);
    memcpy(buf + 1, request, sizeof(request));
    CU_ASSERT_EQUAL(mb_decode_request(buf + 1, sizeof(request), &q), MB_REQ_LEN);
    CU_ASSERT_EQUAL(q.tid, 0x5678);
    CU_ASSERT_EQUAL(q.address, 0x1234);
    CU_ASSERT_EQUAL(q.quantity, 125);
}

/* --- file offsets ------------------------------------------------------------ */

static void test_offset_types(void)
{
    gw_spf_reader_t rd;
    gw_spf_rec_t rec;
    gw_spf_run_t run;
    gw_spf_cursor_t c;

    CU_ASSERT_EQUAL(sizeof(off_t), 8); /* the build's _FILE_OFFSET_BITS=64 */
    CU_ASSERT(_Generic(&gw_spf_pread, ssize_t(*)(int, void *, size_t, uint64_t) : 1, default : 0));
    CU_ASSERT(
        _Generic(&gw_spf_pwrite, int (*)(int, const void *, size_t, uint64_t) : 1, default : 0));
    CU_ASSERT(IS_U64(rd.off) && IS_U64(rd.mlen) && IS_U64(rd.first));
    CU_ASSERT(IS_U64(rec.recno) && IS_U64(rec.len));
    CU_ASSERT(IS_U64(run.first) && IS_U64(run.count) && IS_U64(run.off) && IS_U64(run.len));
    CU_ASSERT(IS_U64(c.size) && IS_U64(c.off) && IS_U64(c.expect) && IS_U64(c.damaged));
}

/* A record written and read back 4 GiB + 3 bytes into a (sparse) segment:
 * with a 32-bit off_t the offset would wrap to 3. */
static void test_offset_past_4gib(void)
{
    const char *dir = spt_mkdtemp();
    const uint64_t off = ((uint64_t)1 << 32) + 3;
    unsigned char rec_bytes[GW_SPF_HDR_LEN + 2 + 5], back[sizeof(rec_bytes)];
    gw_spf_reader_t rd = {.fd = -1};
    gw_spf_rec_t rec;
    int fd = open(spt_path(dir, "big"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    CU_ASSERT_FATAL(fd >= 0);
    gw_spf_encode(rec_bytes, 42, "t/", 2, "hello", 5, 0, false);
    CU_ASSERT_EQUAL(gw_spf_pwrite(fd, "x", 1, 3), 0); /* where a wrapped offset lands */
    CU_ASSERT_EQUAL(gw_spf_pwrite(fd, rec_bytes, sizeof(rec_bytes), off), 0);
    CU_ASSERT_EQUAL((uint64_t)lseek(fd, 0, SEEK_END), off + sizeof(rec_bytes));
    CU_ASSERT_EQUAL(gw_spf_pread(fd, back, 1, 3), 1);
    CU_ASSERT_EQUAL(back[0], 'x'); /* not overwritten */
    CU_ASSERT_EQUAL(gw_spf_pread(fd, back, sizeof(back), off), (ssize_t)sizeof(back));
    CU_ASSERT_EQUAL(memcmp(back, rec_bytes, sizeof(back)), 0);
    gw_spf_attach(&rd, fd, 0); /* the reader closes fd */
    CU_ASSERT_EQUAL(gw_spf_read(&rd, off, off + sizeof(rec_bytes), &rec), 1);
    CU_ASSERT_EQUAL(rec.recno, 42);
    CU_ASSERT_EQUAL(rec.len, sizeof(rec_bytes));
    gw_spf_close(&rd);
    free(rd.buf); /* the window stays with the reader until its owner frees it */
    spt_rmtree(dir);
}

int width_suite(void)
{
    static const sb_test_t tests[] = {
        {"time: 64-bit types", test_time_types},
        {"time: clock arithmetic past 2038", test_timespec_past_2038},
        {"time: a 2100 stamp through JSON and a spool record", test_ts_past_2038_roundtrip},
        {"counters: 64-bit types", test_counter_types},
        {"ids: 64-bit types", test_message_id_types},
        {"ids: outbox ids, sends and counters past 2^32", test_outbox_past_2_32},
        {"ids: spool record numbers past 2^32", test_spool_past_2_32},
        {"sizes: lengths that wrap a 32-bit size_t", test_size_limits},
        {"alignment: pooled messages", test_pool_alignment},
        {"alignment: wire frames at odd addresses", test_wire_unaligned},
        {"offsets: 64-bit types", test_offset_types},
        {"offsets: a record past 4 GiB", test_offset_past_4gib},
    };
    CU_pSuite s = CU_add_suite("width", NULL, NULL);

    return s ? SB_ADD_TESTS(s, tests) : -1;
}

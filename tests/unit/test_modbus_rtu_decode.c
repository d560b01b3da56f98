/*
 * Tests of the RTU framer's hunting decoder: whole frames, byte by byte and
 * every split; noise before a frame; single-bit damage, truncation and
 * garbage with the verdict on each; back-to-back frames; a full window; and
 * mb_match() on what it returns. Registered into the modbus_rtu suite by
 * test_modbus_rtu.c.
 */
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <string.h>

#include "adapters/modbus_codec.h"
#include "adapters/modbus_rtu.h"
#include "modbus_rtu_test.h"
#include "suites.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* What mb_decoder_feed makes of the MBAP form (tid 0) of an RTU frame: the
 * RTU decoder must give exactly that. */
static void check_as_mbap(const mb_response_t *r, const uint8_t *rtu, size_t n)
{
    uint8_t adu[MB_MAX_ADU];
    mb_decoder_t d;
    mb_response_t want;
    size_t used;
    int len = mb_rtu_to_mbap(rtu, n, 0, adu, sizeof(adu));

    CU_ASSERT_FATAL(len > 0);
    mb_decoder_reset(&d);
    CU_ASSERT_EQUAL_FATAL(mb_decoder_feed(&d, adu, (size_t)len, &used, &want), MB_FRAME);
    CU_ASSERT(r->tid == 0 && want.tid == 0);
    CU_ASSERT(r->unit == want.unit && r->fc == want.fc && r->exception == want.exception);
    CU_ASSERT_EQUAL(r->exception_code, want.exception_code);
    CU_ASSERT(r->address == want.address && r->value == want.value);
    CU_ASSERT_EQUAL_FATAL(r->data_len, want.data_len);
    CU_ASSERT_EQUAL(r->data == NULL, want.data == NULL);
    if (r->data_len)
        CU_ASSERT_EQUAL(memcmp(r->data, want.data, r->data_len), 0);
}

/* Feeds one frame whole, then asks again: nothing more. */
static void feed_one(mb_rtu_decoder_t *d, const uint8_t *f, size_t n, mb_response_t *r)
{
    mb_response_t again;

    mb_rtu_decoder_reset(d);
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(d, f, n, r), MB_FRAME);
    CU_ASSERT(d->skipped == 0 && mb_rtu_pending(d) == 0);
    check_as_mbap(r, f, n);
    CU_ASSERT_EQUAL(mb_rtu_verdict(d), 0);
    CU_ASSERT_EQUAL(mb_rtu_feed(d, NULL, 0, &again), MB_NEED_MORE);
}

static void check_regs(const mb_response_t *r)
{
    CU_ASSERT(r->unit == 1 && r->fc == MB_FC_READ_HOLDING_REGISTERS && !r->exception);
    CU_ASSERT(r->data_len == 20 && r->address == 0 && r->value == 0);
    for (size_t i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(mb_register(r, i), 0x1000 + 0x111 * i);
    CU_ASSERT_EQUAL(mb_register(r, 10), 0);
}

static void test_decode_registers(void)
{
    mb_rtu_decoder_t d;
    mb_response_t r;

    feed_one(&d, mbr_regs_frame, sizeof(mbr_regs_frame), &r);
    check_regs(&r);
    feed_one(&d, mbr_input_reg_frame, sizeof(mbr_input_reg_frame), &r);
    CU_ASSERT(r.fc == MB_FC_READ_INPUT_REGISTERS && r.data_len == 2);
    CU_ASSERT_EQUAL(mb_register(&r, 0), 0xEFF8);
    feed_one(&d, mbr_simply_frame, sizeof(mbr_simply_frame), &r);
    CU_ASSERT(r.unit == 0x11 && r.data_len == 6);
    CU_ASSERT(mb_register(&r, 0) == 0xAE41 && mb_register(&r, 1) == 0x5652);
    CU_ASSERT_EQUAL(mb_register(&r, 2), 0x4340);
}

static void test_decode_bits(void)
{
    mb_rtu_decoder_t d;
    mb_response_t r;

    feed_one(&d, mbr_coils_frame, sizeof(mbr_coils_frame), &r);
    CU_ASSERT(r.fc == MB_FC_READ_COILS && r.data_len == 5);
    for (size_t i = 0; i < 37; i++)
        CU_ASSERT_EQUAL(mb_bit(&r, i), (0x13 + i) % 3 == 0);
    feed_one(&d, mbr_inputs_frame, sizeof(mbr_inputs_frame), &r);
    CU_ASSERT(r.fc == MB_FC_READ_DISCRETE_INPUTS && r.data_len == 2);
    for (size_t i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(mb_bit(&r, i), (0x13 + i) % 2 == 1);
}

static void test_byte_by_byte(void)
{
    mb_rtu_decoder_t d;
    mb_response_t r;

    mb_rtu_decoder_reset(&d);
    for (size_t i = 0; i + 1 < sizeof(mbr_regs_frame); i++) {
        CU_ASSERT_EQUAL(mb_rtu_feed(&d, mbr_regs_frame + i, 1, &r), MB_NEED_MORE);
        CU_ASSERT_EQUAL(mb_rtu_pending(&d), i + 1);
        CU_ASSERT_EQUAL(mb_rtu_verdict(&d), MB_ETRUNCATED);
    }
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, mbr_regs_frame + sizeof(mbr_regs_frame) - 1, 1, &r),
                          MB_FRAME);
    CU_ASSERT(d.skipped == 0 && mb_rtu_pending(&d) == 0);
    check_regs(&r);
}

static void test_every_split(void)
{
    mb_rtu_decoder_t d;
    mb_response_t r;
    size_t n = sizeof(mbr_regs_frame);

    for (size_t i = 0; i <= n; i++) {
        mb_rtu_decoder_reset(&d);
        if (i < n) {
            CU_ASSERT_EQUAL(mb_rtu_feed(&d, mbr_regs_frame, i, &r), MB_NEED_MORE);
            CU_ASSERT_EQUAL(mb_rtu_feed(&d, mbr_regs_frame + i, n - i, &r), MB_FRAME);
        } else {
            CU_ASSERT_EQUAL(mb_rtu_feed(&d, mbr_regs_frame, n, &r), MB_FRAME);
            CU_ASSERT_EQUAL(mb_rtu_feed(&d, mbr_regs_frame + n, 0, &r), MB_NEED_MORE);
            CU_ASSERT_EQUAL(mb_rtu_feed(&d, NULL, 0, &r), MB_NEED_MORE);
            CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, mbr_regs_frame, n, &r), MB_FRAME);
        }
        CU_ASSERT(d.skipped == 0 && mb_rtu_pending(&d) == 0);
        check_regs(&r);
    }
}

/* The largest frame fed a byte at a time after more noise than the window
 * holds beside it: found when its last byte arrives, all before it skipped. */
static void test_largest_after_noise(void)
{
    uint8_t big[MB_RTU_MAX_ADU], noise = MBR_NOISE;
    mb_rtu_decoder_t d;
    mb_response_t r;

    mbr_make_largest(big);
    mb_rtu_decoder_reset(&d);
    for (size_t i = 0; i < 300; i++)
        CU_ASSERT_EQUAL(mb_rtu_feed(&d, &noise, 1, &r), MB_NEED_MORE);
    for (size_t i = 0; i + 1 < sizeof(big); i++)
        CU_ASSERT_EQUAL(mb_rtu_feed(&d, big + i, 1, &r), MB_NEED_MORE);
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, big + sizeof(big) - 1, 1, &r), MB_FRAME);
    CU_ASSERT(d.skipped == 300 && mb_rtu_pending(&d) == 0 && r.data_len == 251);
    CU_ASSERT_EQUAL(mb_register(&r, 0), big[3] << 8 | big[4]);
    check_as_mbap(&r, big, sizeof(big));
}

static void test_decode_exception(void)
{
    mb_rtu_decoder_t d;
    mb_response_t r;

    feed_one(&d, mbr_exception_frame, sizeof(mbr_exception_frame), &r);
    CU_ASSERT(r.unit == 1 && r.fc == MB_FC_READ_HOLDING_REGISTERS && r.exception);
    CU_ASSERT(r.exception_code == 2 && r.data == NULL && r.data_len == 0);
    CU_ASSERT(r.address == 0 && r.value == 0);
}

static void test_decode_writes(void)
{
    static const uint16_t values[] = {0xFF00, 3, 10, 2};
    mb_rtu_decoder_t d;
    mb_response_t r;

    for (size_t i = 0; i < ARRAY_LEN(mbr_writes); i++) {
        mb_write_t w = mbr_writes[i].w;

        feed_one(&d, mbr_writes[i].resp, sizeof(mbr_writes[i].resp), &r);
        CU_ASSERT(r.unit == 1 && r.fc == w.fc && !r.exception && r.data == NULL);
        CU_ASSERT_EQUAL(r.value, values[i]);
        if (w.fc == MB_FC_WRITE_SINGLE_COIL)
            w.address = 0x2C;
        CU_ASSERT_EQUAL(r.address, w.address);
        CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MATCH);
        w.address++;
        CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MISMATCH_ECHO);
    }
}

/* Noise before a frame is skipped and counted, whole or byte by byte; noise
 * that starts like a frame (a read header, a write function) among it. */
static void test_noise_before_frame(void)
{
    static const struct {
        uint8_t noise[8];
        size_t n;
    } cases[] = {
        {{MBR_NOISE}, 1},
        {{0x00, 0x00, 0x00}, 3},
        {{0x01, 0x03, 0x14}, 3},       /* claims 25 bytes, its CRC wrong once they are in */
        {{0x01, 0x03, 0xFB, 0x01}, 4}, /* claims the longest frame: never complete here */
        {{0x01, 0x06, 0x00, 0x01, 0x00, 0x03, 0x98}, 7}, /* a write response cut short */
        {{0x01, 0x83, 0x02, 0xC0, 0xF0, 0x01}, 6},       /* an exception with a bad CRC */
    };
    uint8_t stream[sizeof(cases[0].noise) + sizeof(mbr_regs_frame) + 2];
    mb_rtu_decoder_t d;
    mb_response_t r;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t n = cases[i].n + sizeof(mbr_regs_frame), got = 0;

        memcpy(stream, cases[i].noise, cases[i].n);
        memcpy(stream + cases[i].n, mbr_regs_frame, sizeof(mbr_regs_frame));
        stream[n] = MBR_NOISE; /* and two bytes after it, which stay */
        stream[n + 1] = MBR_NOISE;
        mb_rtu_decoder_reset(&d);
        CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, stream, n + 2, &r), MB_FRAME);
        CU_ASSERT_EQUAL(d.skipped, cases[i].n);
        CU_ASSERT_EQUAL(mb_rtu_pending(&d), 2);
        check_regs(&r);
        CU_ASSERT_EQUAL(mb_rtu_feed(&d, NULL, 0, &r), MB_NEED_MORE);
        CU_ASSERT_EQUAL(mb_rtu_verdict(&d), MB_EGARBAGE);

        mb_rtu_decoder_reset(&d);
        for (size_t k = 0; k < n; k++)
            if (mb_rtu_feed(&d, stream + k, 1, &r) == MB_FRAME)
                got = k + 1;
        CU_ASSERT_EQUAL(got, n);
        CU_ASSERT(d.skipped == cases[i].n && mb_rtu_pending(&d) == 0);
    }
}

/* One flipped bit: no frame, and the verdict says why. A flip in the
 * function code or byte count changes what the frame claims to be. */
static void test_flipped_bit(void)
{
    static const struct {
        size_t byte;
        uint8_t mask;
        int verdict;
    } header[] = {
        {1, 0x01, MB_ECRC},       /* FC 2: same length */
        {1, 0x04, MB_EGARBAGE},   /* FC 7 */
        {1, 0x80, MB_ECRC},       /* an exception: 5 bytes */
        {2, 0x01, MB_ETRUNCATED}, /* 21 data bytes: one more than are in */
        {2, 0x10, MB_ECRC},       /* 4 data bytes */
    };
    uint8_t bad[sizeof(mbr_regs_frame)];
    mb_rtu_decoder_t d;
    mb_response_t r;

    for (size_t bit = 0; bit < 8 * sizeof(bad); bit++) {
        memcpy(bad, mbr_regs_frame, sizeof(bad));
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        mb_rtu_decoder_reset(&d);
        CU_ASSERT_EQUAL(mb_rtu_feed(&d, bad, sizeof(bad), &r), MB_NEED_MORE);
        CU_ASSERT_EQUAL(mb_rtu_pending(&d), sizeof(bad));
        if (bit / 8 != 1 && bit / 8 != 2)
            CU_ASSERT_EQUAL(mb_rtu_verdict(&d), MB_ECRC);
    }
    for (size_t i = 0; i < ARRAY_LEN(header); i++) {
        memcpy(bad, mbr_regs_frame, sizeof(bad));
        bad[header[i].byte] ^= header[i].mask;
        mb_rtu_decoder_reset(&d);
        CU_ASSERT_EQUAL(mb_rtu_feed(&d, bad, sizeof(bad), &r), MB_NEED_MORE);
        CU_ASSERT_EQUAL(mb_rtu_verdict(&d), header[i].verdict);
    }
}

static void test_truncated(void)
{
    static const struct {
        const uint8_t *f;
        size_t n;
    } frames[] = {
        {mbr_regs_frame, sizeof(mbr_regs_frame)},
        {mbr_coils_frame, sizeof(mbr_coils_frame)},
        {mbr_exception_frame, sizeof(mbr_exception_frame)},
        {mbr_writes[0].resp, 8},
        {mbr_writes[2].resp, 8},
    };
    mb_rtu_decoder_t d;
    mb_response_t r;

    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_rtu_verdict(&d), 0);
    for (size_t i = 0; i < ARRAY_LEN(frames); i++) {
        for (size_t n = 1; n < frames[i].n; n++) {
            mb_rtu_decoder_reset(&d);
            CU_ASSERT_EQUAL(mb_rtu_feed(&d, frames[i].f, n, &r), MB_NEED_MORE);
            CU_ASSERT_EQUAL(mb_rtu_verdict(&d), MB_ETRUNCATED);
        }
    }
}

static void test_garbage(void)
{
    static const uint8_t cases[][3] = {
        {0x01, 0x00}, {0x01, 0x07}, {0x01, 0x11},       {0x01, 0x80},       {0x01, 0x87},
        {0x01, 0x7F}, {0x01, 0xFF}, {0x01, 0x03, 0x00}, {0x01, 0x01, 0xFC}, {0x01, 0x04, 0xFF},
    };
    static const uint8_t longest[] = {0x01, 0x02, 0xFB};
    mb_rtu_decoder_t d;
    mb_response_t r;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        mb_rtu_decoder_reset(&d);
        CU_ASSERT_EQUAL(mb_rtu_feed(&d, cases[i], sizeof(cases[i]), &r), MB_NEED_MORE);
        CU_ASSERT_EQUAL(mb_rtu_verdict(&d), MB_EGARBAGE);
    }
    /* 251 data bytes still fit a 253-byte PDU. */
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, longest, sizeof(longest), &r), MB_NEED_MORE);
    CU_ASSERT_EQUAL(mb_rtu_verdict(&d), MB_ETRUNCATED);
    /* Only a unit byte, then a write and an exception function with nothing after. */
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, longest, 1, &r), MB_NEED_MORE);
    CU_ASSERT_EQUAL(mb_rtu_verdict(&d), MB_ETRUNCATED);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, mbr_writes[3].resp + 1, 1, &r), MB_NEED_MORE);
    CU_ASSERT_EQUAL(mb_rtu_verdict(&d), MB_ETRUNCATED);
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, (const uint8_t[]){0x01, 0x90}, 2, &r), MB_NEED_MORE);
    CU_ASSERT_EQUAL(mb_rtu_verdict(&d), MB_ETRUNCATED);
}

/* Feeds a stream in two pieces, asking again after each frame; records the
 * frames' function codes and skipped counts. */
static size_t feed_two_pieces(const uint8_t *p, size_t n, size_t cut, uint8_t *fcs, size_t *skips)
{
    mb_rtu_decoder_t d;
    mb_response_t r;
    size_t frames = 0;

    mb_rtu_decoder_reset(&d);
    for (int piece = 0; piece < 2; piece++) {
        int rc = piece ? mb_rtu_feed(&d, p + cut, n - cut, &r) : mb_rtu_feed(&d, p, cut, &r);

        for (; rc == MB_FRAME && frames < 4; rc = mb_rtu_feed(&d, NULL, 0, &r)) {
            fcs[frames] = (uint8_t)(r.fc | (r.exception ? 0x80 : 0));
            skips[frames++] = d.skipped;
        }
    }
    CU_ASSERT_EQUAL(mb_rtu_pending(&d), 0);
    return frames;
}

static void test_back_to_back(void)
{
    uint8_t stream[sizeof(mbr_regs_frame) + 3 + sizeof(mbr_exception_frame)], fcs[4];
    size_t skips[4], n = sizeof(stream);
    mb_rtu_decoder_t d;
    mb_response_t r;

    memcpy(stream, mbr_regs_frame, sizeof(mbr_regs_frame));
    memcpy(stream + sizeof(mbr_regs_frame), mbr_exception_frame, sizeof(mbr_exception_frame));
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, stream, n - 3, &r), MB_FRAME);
    check_regs(&r);
    CU_ASSERT(d.skipped == 0 && mb_rtu_pending(&d) == sizeof(mbr_exception_frame));
    CU_ASSERT_EQUAL(mb_rtu_verdict(&d), MB_FRAME); /* not asked for yet */
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, NULL, 0, &r), MB_FRAME);
    CU_ASSERT(r.exception && r.exception_code == 2 && d.skipped == 0);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, NULL, 0, &r), MB_NEED_MORE);
    CU_ASSERT(mb_rtu_pending(&d) == 0 && mb_rtu_verdict(&d) == 0);

    /* With three bytes of noise between them, cut anywhere. */
    memmove(stream + sizeof(mbr_regs_frame) + 3, mbr_exception_frame, sizeof(mbr_exception_frame));
    memset(stream + sizeof(mbr_regs_frame), MBR_NOISE, 3);
    for (size_t cut = 0; cut <= n; cut++) {
        CU_ASSERT_EQUAL_FATAL(feed_two_pieces(stream, n, cut, fcs, skips), 2);
        CU_ASSERT(fcs[0] == 0x03 && skips[0] == 0);
        CU_ASSERT(fcs[1] == 0x83 && skips[1] == 3);
    }
}

/* The window keeps the newest 512 bytes; what it drops is noise skipped. */
static void test_full_window(void)
{
    uint8_t stream[600 + sizeof(mbr_regs_frame)];
    size_t n = sizeof(mbr_regs_frame), win = sizeof(((mb_rtu_decoder_t *)0)->win);
    mb_rtu_decoder_t d;
    mb_response_t r;

    CU_ASSERT_EQUAL(win, 2 * MB_RTU_MAX_ADU);
    memset(stream, MBR_NOISE, 600);
    memcpy(stream + 600, mbr_regs_frame, n);

    /* Full of noise: 25 more bytes drop the 25 oldest. */
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, stream, win, &r), MB_NEED_MORE);
    CU_ASSERT(mb_rtu_pending(&d) == win && d.dropped == 0 && d.skipped == 0);
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, mbr_regs_frame, n, &r), MB_FRAME);
    CU_ASSERT(d.skipped == win && d.dropped == 0 && mb_rtu_pending(&d) == 0);
    check_regs(&r);

    /* 500 bytes of noise and a frame: 13 dropped, 487 skipped in the window. */
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, stream, 500, &r), MB_NEED_MORE);
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, mbr_regs_frame, n, &r), MB_FRAME);
    CU_ASSERT(d.skipped == 500 && mb_rtu_pending(&d) == 0);

    /* One feed longer than the window keeps its last 512 bytes. */
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, stream, sizeof(stream), &r), MB_FRAME);
    CU_ASSERT(d.skipped == 600 && mb_rtu_pending(&d) == 0);
    check_regs(&r);

    /* ... so a frame at its start is lost: counted as dropped, not skipped. */
    memcpy(stream, mbr_regs_frame, n);
    memset(stream + n, MBR_NOISE, 600);
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, stream, sizeof(stream), &r), MB_NEED_MORE);
    CU_ASSERT(d.dropped == sizeof(stream) - win && d.skipped == 0);
    CU_ASSERT(mb_rtu_pending(&d) == win && mb_rtu_verdict(&d) == MB_EGARBAGE);

    /* The oldest bytes are the ones that go. */
    memset(stream, MBR_NOISE, win);
    stream[0] = 0xA5;
    stream[1] = 0x5A;
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, stream, win, &r), MB_NEED_MORE);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, (const uint8_t[]){0x11, 0x22}, 2, &r), MB_NEED_MORE);
    CU_ASSERT(d.dropped == 2 && mb_rtu_pending(&d) == win);
    CU_ASSERT(d.win[0] == MBR_NOISE && d.win[win - 3] == MBR_NOISE);
    CU_ASSERT(d.win[win - 2] == 0x11 && d.win[win - 1] == 0x22);
}

static void test_match(void)
{
    mb_request_t req = {0, 1, MB_FC_READ_HOLDING_REGISTERS, 0, 10};
    mb_rtu_decoder_t d;
    mb_response_t r;

    feed_one(&d, mbr_regs_frame, sizeof(mbr_regs_frame), &r);
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MATCH);
    req.tid = 1;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_TID);
    req.tid = 0;
    req.unit = 2;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_UNIT);
    req.unit = 1;
    req.fc = MB_FC_READ_INPUT_REGISTERS;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_FUNCTION);
    req.fc = MB_FC_READ_HOLDING_REGISTERS;
    req.quantity = 9;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_COUNT);
    req.quantity = 11;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_COUNT);

    /* 37 coils take 5 bytes, as do 33..40. */
    feed_one(&d, mbr_coils_frame, sizeof(mbr_coils_frame), &r);
    req = (mb_request_t){0, 1, MB_FC_READ_COILS, 0x13, 37};
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MATCH);
    req.quantity = 40;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MATCH);
    req.quantity = 32;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_COUNT);
    req.quantity = 41;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_COUNT);

    /* An exception answers any quantity of its function. */
    feed_one(&d, mbr_exception_frame, sizeof(mbr_exception_frame), &r);
    req = (mb_request_t){0, 1, MB_FC_READ_HOLDING_REGISTERS, 100, 1};
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MATCH);
    req.fc = MB_FC_READ_COILS;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_FUNCTION);
}

int modbus_rtu_decode_tests(CU_pSuite s)
{
    static const sb_test_t tests[] = {
        {"decode: registers", test_decode_registers},
        {"decode: bits", test_decode_bits},
        {"decode: byte by byte", test_byte_by_byte},
        {"decode: every split", test_every_split},
        {"decode: largest frame after noise", test_largest_after_noise},
        {"decode: exception", test_decode_exception},
        {"decode: each write response", test_decode_writes},
        {"decode: noise before a frame", test_noise_before_frame},
        {"verdict: one flipped bit", test_flipped_bit},
        {"verdict: truncated", test_truncated},
        {"verdict: garbage", test_garbage},
        {"decode: two frames back to back", test_back_to_back},
        {"decode: a full window drops the oldest", test_full_window},
        {"match: tid 0, unit, function, count", test_match},
    };

    return SB_ADD_TESTS(s, tests);
}

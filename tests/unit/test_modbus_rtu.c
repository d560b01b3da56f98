/*
 * Tests of the Modbus RTU framer: the CRC and the MBAP <-> RTU conversion
 * against frames libmodbus 3.1.6 put on a serial line (its RTU client's
 * requests and its RTU server's responses, captured from a pty) and the
 * well-known example frames of the Modbus literature; the hunting decoder on
 * whole frames, every split, noise, damage, back-to-back frames and a full
 * window. A live libmodbus server is in test_modbus_rtu_peer.c, same suite.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "adapters/modbus_codec.h"
#include "adapters/modbus_rtu.h"
#include "gateway/error.h"
#include "suites.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NOISE 0xFF /* 0xFF 0xFF can start no response frame */

int modbus_rtu_peer_tests(CU_pSuite s); /* in test_modbus_rtu_peer.c */

/* Holding registers 0..9 of unit 1, 0x1000 + 0x111 * i, as libmodbus's RTU
 * server answered `01 03 00 00 00 0A C5 CD`. */
static const uint8_t regs_frame[] = {0x01, 0x03, 0x14, 0x10, 0x00, 0x11, 0x11, 0x12, 0x22,
                                     0x13, 0x33, 0x14, 0x44, 0x15, 0x55, 0x16, 0x66, 0x17,
                                     0x77, 0x18, 0x88, 0x19, 0x99, 0x8F, 0xA7};
/* Coils 0x13..0x37 (37 of them), on where the address is a multiple of 3. */
static const uint8_t coils_frame[] = {0x01, 0x01, 0x05, 0x24, 0x49, 0x92, 0x24, 0x09, 0x8D, 0xE2};
/* Discrete inputs 0x13..0x1C, on where the address is odd. */
static const uint8_t inputs_frame[] = {0x01, 0x02, 0x02, 0x55, 0x01, 0x47, 0x28};
/* Input register 8: 0xEFF8. */
static const uint8_t input_reg_frame[] = {0x01, 0x04, 0x02, 0xEF, 0xF8, 0xF4, 0x82};
/* Illegal data address, to FC 3 (also the Modbus guides' example). */
static const uint8_t exception_frame[] = {0x01, 0x83, 0x02, 0xC0, 0xF1};

/* Write requests as libmodbus's RTU client sent them, and the responses its
 * RTU server echoed (FC 5's to coil 0x2C). */
static const uint16_t two_regs[] = {0x000A, 0x0102};
static const bool ten_coils[] = {1, 0, 1, 1, 0, 0, 1, 1, 1, 0};
static const uint16_t reg_3 = 3;
static const bool on = true;
static const struct {
    mb_write_t w;
    uint8_t req[13];
    size_t req_len;
    uint8_t resp[8];
} writes[] = {
    {{0, 1, MB_FC_WRITE_SINGLE_COIL, 0x00AC, 1, NULL, &on},
     {0x01, 0x05, 0x00, 0xAC, 0xFF, 0x00, 0x4C, 0x1B},
     8,
     {0x01, 0x05, 0x00, 0x2C, 0xFF, 0x00, 0x4D, 0xF3}},
    {{0, 1, MB_FC_WRITE_SINGLE_REGISTER, 1, 1, &reg_3, NULL},
     {0x01, 0x06, 0x00, 0x01, 0x00, 0x03, 0x98, 0x0B},
     8,
     {0x01, 0x06, 0x00, 0x01, 0x00, 0x03, 0x98, 0x0B}},
    {{0, 1, MB_FC_WRITE_MULTIPLE_COILS, 0x0013, 10, NULL, ten_coils},
     {0x01, 0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01, 0x72, 0xCB},
     11,
     {0x01, 0x0F, 0x00, 0x13, 0x00, 0x0A, 0x24, 0x09}},
    {{0, 1, MB_FC_WRITE_MULTIPLE_REGISTERS, 1, 2, two_regs, NULL},
     {0x01, 0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02, 0x92, 0x30},
     13,
     {0x01, 0x10, 0x00, 0x01, 0x00, 0x02, 0x10, 0x08}},
};

/* Read requests as libmodbus's RTU client sent them; the first is also the
 * simplymodbus.ca example, the second the task's own vector. */
static const struct {
    mb_request_t req;
    uint8_t rtu[8];
} reads[] = {
    {{0, 0x11, MB_FC_READ_HOLDING_REGISTERS, 0x006B, 3},
     {0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87}},
    {{0, 1, MB_FC_READ_HOLDING_REGISTERS, 0, 10}, {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD}},
    {{0, 1, MB_FC_READ_INPUT_REGISTERS, 8, 1}, {0x01, 0x04, 0x00, 0x08, 0x00, 0x01, 0xB0, 0x08}},
    {{0, 1, MB_FC_READ_COILS, 0x13, 0x25}, {0x01, 0x01, 0x00, 0x13, 0x00, 0x25, 0x0C, 0x14}},
    {{0, 1, MB_FC_READ_DISCRETE_INPUTS, 0xC4, 0x16},
     {0x01, 0x02, 0x00, 0xC4, 0x00, 0x16, 0xB8, 0x39}},
};

/* The response to `11 03 00 6B 00 03` in the simplymodbus.ca example. */
static const uint8_t simply_frame[] = {0x11, 0x03, 0x06, 0xAE, 0x41, 0x56,
                                       0x52, 0x43, 0x40, 0x49, 0xAD};

static void check_crc_of(const uint8_t *f, size_t n)
{
    CU_ASSERT_EQUAL(mb_crc16(f, n - 2), f[n - 2] | f[n - 1] << 8);
    /* A frame followed by its CRC, low byte first, leaves no remainder. */
    CU_ASSERT_EQUAL(mb_crc16(f, n), 0);
}

static void test_crc(void)
{
    static const uint8_t task[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A};

    CU_ASSERT_EQUAL(mb_crc16(task, sizeof(task)), 0xCDC5); /* C5 CD on the wire */
    CU_ASSERT_EQUAL(mb_crc16(NULL, 0), 0xFFFF);
    for (size_t i = 0; i < ARRAY_LEN(reads); i++)
        check_crc_of(reads[i].rtu, sizeof(reads[i].rtu));
    for (size_t i = 0; i < ARRAY_LEN(writes); i++) {
        check_crc_of(writes[i].req, writes[i].req_len);
        check_crc_of(writes[i].resp, sizeof(writes[i].resp));
    }
    check_crc_of(regs_frame, sizeof(regs_frame));
    check_crc_of(coils_frame, sizeof(coils_frame));
    check_crc_of(inputs_frame, sizeof(inputs_frame));
    check_crc_of(input_reg_frame, sizeof(input_reg_frame));
    check_crc_of(exception_frame, sizeof(exception_frame));
    check_crc_of(simply_frame, sizeof(simply_frame));
}

/* Converts an MBAP ADU and checks the exact RTU bytes, with nothing written
 * past them. */
static void check_from_mbap(const uint8_t *adu, int len, const uint8_t *want, size_t want_len)
{
    uint8_t out[MB_RTU_MAX_ADU + 1];

    CU_ASSERT_FATAL(len > 0);
    memset(out, 0xEE, sizeof(out));
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(adu, (size_t)len, out, sizeof(out)), (int)want_len);
    CU_ASSERT_EQUAL(memcmp(out, want, want_len), 0);
    CU_ASSERT_EQUAL(out[want_len], 0xEE);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(adu, (size_t)len, out, want_len), (int)want_len);
}

static void test_from_mbap_requests(void)
{
    uint8_t adu[MB_MAX_ADU];

    for (size_t i = 0; i < ARRAY_LEN(reads); i++) {
        mb_request_t req = reads[i].req;

        req.tid = (uint16_t)(0x4321 + i); /* RTU has none: it must not show */
        check_from_mbap(adu, mb_encode_read(&req, adu, sizeof(adu)), reads[i].rtu, 8);
    }
    for (size_t i = 0; i < ARRAY_LEN(writes); i++)
        check_from_mbap(adu, mb_encode_write(&writes[i].w, adu, sizeof(adu)), writes[i].req,
                        writes[i].req_len);
}

/* The server side's encoders give the bytes libmodbus's RTU server sent. */
static void test_from_mbap_responses(void)
{
    mb_request_t req = {7, 1, MB_FC_READ_HOLDING_REGISTERS, 0, 10};
    uint16_t regs[10];
    uint8_t adu[MB_MAX_ADU];

    for (size_t i = 0; i < ARRAY_LEN(regs); i++)
        regs[i] = (uint16_t)(0x1000 + 0x111 * i);
    check_from_mbap(adu, mb_encode_response(&req, regs, NULL, adu, sizeof(adu)), regs_frame,
                    sizeof(regs_frame));
    check_from_mbap(adu, mb_encode_exception(&req, 2, adu, sizeof(adu)), exception_frame,
                    sizeof(exception_frame));
    for (size_t i = 0; i < ARRAY_LEN(writes); i++) {
        mb_write_t w = writes[i].w;

        if (w.fc == MB_FC_WRITE_SINGLE_COIL)
            w.address = 0x2C;
        check_from_mbap(adu, mb_encode_write_response(&w, adu, sizeof(adu)), writes[i].resp,
                        sizeof(writes[i].resp));
    }
}

static void test_from_mbap_refusals(void)
{
    uint8_t adu[MB_REQ_LEN], out[MB_RTU_MAX_ADU], bad[MB_REQ_LEN];

    CU_ASSERT_EQUAL_FATAL(mb_encode_read(&reads[1].req, adu, sizeof(adu)), MB_REQ_LEN);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(NULL, MB_REQ_LEN, out, sizeof(out)), -EINVAL);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(adu, MB_REQ_LEN, NULL, sizeof(out)), -EINVAL);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(adu, 7, out, sizeof(out)), -EINVAL);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(adu, 0, out, sizeof(out)), -EINVAL);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(adu, MB_REQ_LEN - 1, out, sizeof(out)), -EINVAL);
    /* The length field disagrees: 5 and 7 for 12 bytes, or 0x0106. */
    for (int delta = -1; delta <= 1; delta += 2) {
        memcpy(bad, adu, sizeof(bad));
        bad[5] = (uint8_t)(bad[5] + delta);
        CU_ASSERT_EQUAL(mb_rtu_from_mbap(bad, sizeof(bad), out, sizeof(out)), -EINVAL);
    }
    memcpy(bad, adu, sizeof(bad));
    bad[4] = 1;
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(bad, sizeof(bad), out, sizeof(out)), -EINVAL);
    for (int i = 2; i <= 3; i++) {
        memcpy(bad, adu, sizeof(bad));
        bad[i] = 1;
        CU_ASSERT_EQUAL(mb_rtu_from_mbap(bad, sizeof(bad), out, sizeof(out)), -EINVAL);
    }
    /* Room: 8 bytes exactly; -EINVAL before -ENOSPC. */
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(adu, MB_REQ_LEN, out, 7), -ENOSPC);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(adu, MB_REQ_LEN, out, 0), -ENOSPC);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(bad, sizeof(bad), out, 7), -EINVAL);
    /* The smallest: an MBAP header and a function code. */
    memcpy(bad, (const uint8_t[]){0, 1, 0, 0, 0, 2, 0x11, 0x07}, 8);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(bad, 8, out, sizeof(out)), 4);
    CU_ASSERT(out[0] == 0x11 && out[1] == 0x07 && mb_crc16(out, 4) == 0);
}

/* to_mbap gives back the MBAP form with the tid asked, and from_mbap the
 * same RTU bytes again. */
static void check_round_trip(const uint8_t *rtu, size_t n, uint16_t tid)
{
    uint8_t adu[MB_MAX_ADU + 1], back[MB_RTU_MAX_ADU];

    memset(adu, 0xEE, sizeof(adu));
    CU_ASSERT_EQUAL_FATAL(mb_rtu_to_mbap(rtu, n, tid, adu, sizeof(adu)), (int)n + 4);
    CU_ASSERT(adu[0] == tid >> 8 && adu[1] == (tid & 0xFF));
    CU_ASSERT(adu[2] == 0 && adu[3] == 0 && adu[4] == 0 && adu[5] == n - 2);
    CU_ASSERT_EQUAL(memcmp(adu + 6, rtu, n - 2), 0);
    CU_ASSERT_EQUAL(adu[n + 4], 0xEE);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(rtu, n, tid, adu, n + 4), (int)n + 4);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(rtu, n, tid, adu, n + 3), -ENOSPC);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(adu, n + 4, back, sizeof(back)), (int)n);
    CU_ASSERT_EQUAL(memcmp(back, rtu, n), 0);
}

static void test_to_mbap(void)
{
    uint8_t adu[MB_MAX_ADU], bad[sizeof(regs_frame)], rtu4[4] = {0x11, 0x07};
    mb_request_t req;
    mb_write_values_t vals;
    mb_write_t w;

    for (size_t i = 0; i < ARRAY_LEN(reads); i++) {
        check_round_trip(reads[i].rtu, 8, (uint16_t)(0xBEEF + i));
        /* The server side reads the request a libmodbus client sent. */
        CU_ASSERT_EQUAL(mb_rtu_to_mbap(reads[i].rtu, 8, 0x0102, adu, sizeof(adu)), MB_REQ_LEN);
        CU_ASSERT_EQUAL(mb_decode_request(adu, MB_REQ_LEN, &req), MB_REQ_LEN);
        CU_ASSERT(req.tid == 0x0102 && req.unit == reads[i].req.unit);
        CU_ASSERT(req.fc == reads[i].req.fc && req.address == reads[i].req.address);
        CU_ASSERT_EQUAL(req.quantity, reads[i].req.quantity);
    }
    for (size_t i = 0; i < ARRAY_LEN(writes); i++) {
        int len = mb_rtu_to_mbap(writes[i].req, writes[i].req_len, 9, adu, sizeof(adu));

        check_round_trip(writes[i].req, writes[i].req_len, 0);
        check_round_trip(writes[i].resp, sizeof(writes[i].resp), 0xFFFF);
        CU_ASSERT_EQUAL(mb_decode_write_request(adu, (size_t)len, &w, &vals), len);
        CU_ASSERT(w.fc == writes[i].w.fc && w.address == writes[i].w.address);
        CU_ASSERT_EQUAL(w.quantity, writes[i].w.quantity);
    }
    check_round_trip(regs_frame, sizeof(regs_frame), 1);
    check_round_trip(exception_frame, sizeof(exception_frame), 2);
    check_round_trip(simply_frame, sizeof(simply_frame), 3);

    /* Every single-bit error is caught by the CRC. */
    for (size_t bit = 0; bit < 8 * sizeof(regs_frame); bit++) {
        memcpy(bad, regs_frame, sizeof(bad));
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CU_ASSERT_EQUAL(mb_rtu_to_mbap(bad, sizeof(bad), 0, adu, sizeof(adu)), MB_ECRC);
    }
    /* The smallest frame is 4 bytes, the largest MB_RTU_MAX_ADU. */
    rtu4[2] = (uint8_t)mb_crc16(rtu4, 2);
    rtu4[3] = (uint8_t)(mb_crc16(rtu4, 2) >> 8);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(rtu4, 4, 0, adu, sizeof(adu)), 8);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(rtu4, 3, 0, adu, sizeof(adu)), -EINVAL);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(regs_frame, MB_RTU_MAX_ADU + 1, 0, adu, sizeof(adu)), -EINVAL);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(NULL, 4, 0, adu, sizeof(adu)), -EINVAL);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(rtu4, 4, 0, NULL, sizeof(adu)), -EINVAL);
    /* A wrong CRC is reported before a small buffer. */
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(bad, sizeof(bad), 0, adu, 1), MB_ECRC);
}

static void test_to_mbap_largest(void)
{
    uint8_t rtu[MB_RTU_MAX_ADU], adu[MB_MAX_ADU], back[MB_RTU_MAX_ADU];
    uint16_t crc;

    rtu[0] = 0x01;
    rtu[1] = MB_FC_READ_HOLDING_REGISTERS;
    rtu[2] = 251;
    for (size_t i = 3; i < MB_RTU_MAX_ADU - 2; i++)
        rtu[i] = (uint8_t)(i * 7);
    crc = mb_crc16(rtu, MB_RTU_MAX_ADU - 2);
    rtu[MB_RTU_MAX_ADU - 2] = (uint8_t)crc;
    rtu[MB_RTU_MAX_ADU - 1] = (uint8_t)(crc >> 8);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(rtu, sizeof(rtu), 5, adu, sizeof(adu)), MB_MAX_ADU);
    CU_ASSERT_EQUAL(adu[5], 254);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(adu, sizeof(adu), back, sizeof(back)), MB_RTU_MAX_ADU);
    CU_ASSERT_EQUAL(memcmp(back, rtu, sizeof(rtu)), 0);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(adu, sizeof(adu), back, MB_RTU_MAX_ADU - 1), -ENOSPC);
}

/* --- the decoder --- */

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

    feed_one(&d, regs_frame, sizeof(regs_frame), &r);
    check_regs(&r);
    feed_one(&d, input_reg_frame, sizeof(input_reg_frame), &r);
    CU_ASSERT(r.fc == MB_FC_READ_INPUT_REGISTERS && r.data_len == 2);
    CU_ASSERT_EQUAL(mb_register(&r, 0), 0xEFF8);
    feed_one(&d, simply_frame, sizeof(simply_frame), &r);
    CU_ASSERT(r.unit == 0x11 && r.data_len == 6);
    CU_ASSERT(mb_register(&r, 0) == 0xAE41 && mb_register(&r, 1) == 0x5652);
    CU_ASSERT_EQUAL(mb_register(&r, 2), 0x4340);
}

static void test_decode_bits(void)
{
    mb_rtu_decoder_t d;
    mb_response_t r;

    feed_one(&d, coils_frame, sizeof(coils_frame), &r);
    CU_ASSERT(r.fc == MB_FC_READ_COILS && r.data_len == 5);
    for (size_t i = 0; i < 37; i++)
        CU_ASSERT_EQUAL(mb_bit(&r, i), (0x13 + i) % 3 == 0);
    feed_one(&d, inputs_frame, sizeof(inputs_frame), &r);
    CU_ASSERT(r.fc == MB_FC_READ_DISCRETE_INPUTS && r.data_len == 2);
    for (size_t i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(mb_bit(&r, i), (0x13 + i) % 2 == 1);
}

static void test_byte_by_byte(void)
{
    mb_rtu_decoder_t d;
    mb_response_t r;

    mb_rtu_decoder_reset(&d);
    for (size_t i = 0; i + 1 < sizeof(regs_frame); i++) {
        CU_ASSERT_EQUAL(mb_rtu_feed(&d, regs_frame + i, 1, &r), MB_NEED_MORE);
        CU_ASSERT_EQUAL(mb_rtu_pending(&d), i + 1);
        CU_ASSERT_EQUAL(mb_rtu_verdict(&d), MB_ETRUNCATED);
    }
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, regs_frame + sizeof(regs_frame) - 1, 1, &r), MB_FRAME);
    CU_ASSERT(d.skipped == 0 && mb_rtu_pending(&d) == 0);
    check_regs(&r);
}

static void test_every_split(void)
{
    mb_rtu_decoder_t d;
    mb_response_t r;
    size_t n = sizeof(regs_frame);

    for (size_t i = 0; i <= n; i++) {
        mb_rtu_decoder_reset(&d);
        if (i < n) {
            CU_ASSERT_EQUAL(mb_rtu_feed(&d, regs_frame, i, &r), MB_NEED_MORE);
            CU_ASSERT_EQUAL(mb_rtu_feed(&d, regs_frame + i, n - i, &r), MB_FRAME);
        } else {
            CU_ASSERT_EQUAL(mb_rtu_feed(&d, regs_frame, n, &r), MB_FRAME);
            CU_ASSERT_EQUAL(mb_rtu_feed(&d, regs_frame + n, 0, &r), MB_NEED_MORE);
            CU_ASSERT_EQUAL(mb_rtu_feed(&d, NULL, 0, &r), MB_NEED_MORE);
            CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, regs_frame, n, &r), MB_FRAME);
        }
        CU_ASSERT(d.skipped == 0 && mb_rtu_pending(&d) == 0);
        check_regs(&r);
    }
}

static void test_decode_exception(void)
{
    mb_rtu_decoder_t d;
    mb_response_t r;

    feed_one(&d, exception_frame, sizeof(exception_frame), &r);
    CU_ASSERT(r.unit == 1 && r.fc == MB_FC_READ_HOLDING_REGISTERS && r.exception);
    CU_ASSERT(r.exception_code == 2 && r.data == NULL && r.data_len == 0);
    CU_ASSERT(r.address == 0 && r.value == 0);
}

static void test_decode_writes(void)
{
    static const uint16_t values[] = {0xFF00, 3, 10, 2};
    mb_rtu_decoder_t d;
    mb_response_t r;

    for (size_t i = 0; i < ARRAY_LEN(writes); i++) {
        mb_write_t w = writes[i].w;

        feed_one(&d, writes[i].resp, sizeof(writes[i].resp), &r);
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
        {{NOISE}, 1},
        {{0x00, 0x00, 0x00}, 3},
        {{0x01, 0x03, 0x14}, 3},       /* claims 25 bytes, its CRC wrong once they are in */
        {{0x01, 0x03, 0xFB, 0x01}, 4}, /* claims the longest frame: never complete here */
        {{0x01, 0x06, 0x00, 0x01, 0x00, 0x03, 0x98}, 7}, /* a write response cut short */
        {{0x01, 0x83, 0x02, 0xC0, 0xF0, 0x01}, 6},       /* an exception with a bad CRC */
    };
    uint8_t stream[sizeof(cases[0].noise) + sizeof(regs_frame) + 2];
    mb_rtu_decoder_t d;
    mb_response_t r;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t n = cases[i].n + sizeof(regs_frame), got = 0;

        memcpy(stream, cases[i].noise, cases[i].n);
        memcpy(stream + cases[i].n, regs_frame, sizeof(regs_frame));
        stream[n] = NOISE; /* and two bytes after it, which stay */
        stream[n + 1] = NOISE;
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
    uint8_t bad[sizeof(regs_frame)];
    mb_rtu_decoder_t d;
    mb_response_t r;

    for (size_t bit = 0; bit < 8 * sizeof(bad); bit++) {
        memcpy(bad, regs_frame, sizeof(bad));
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        mb_rtu_decoder_reset(&d);
        CU_ASSERT_EQUAL(mb_rtu_feed(&d, bad, sizeof(bad), &r), MB_NEED_MORE);
        CU_ASSERT_EQUAL(mb_rtu_pending(&d), sizeof(bad));
        if (bit / 8 != 1 && bit / 8 != 2)
            CU_ASSERT_EQUAL(mb_rtu_verdict(&d), MB_ECRC);
    }
    for (size_t i = 0; i < ARRAY_LEN(header); i++) {
        memcpy(bad, regs_frame, sizeof(bad));
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
        {regs_frame, sizeof(regs_frame)},
        {coils_frame, sizeof(coils_frame)},
        {exception_frame, sizeof(exception_frame)},
        {writes[0].resp, 8},
        {writes[2].resp, 8},
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
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, writes[3].resp + 1, 1, &r), MB_NEED_MORE);
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
    uint8_t stream[sizeof(regs_frame) + 3 + sizeof(exception_frame)], fcs[4];
    size_t skips[4], n = sizeof(stream);
    mb_rtu_decoder_t d;
    mb_response_t r;

    memcpy(stream, regs_frame, sizeof(regs_frame));
    memcpy(stream + sizeof(regs_frame), exception_frame, sizeof(exception_frame));
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, stream, n - 3, &r), MB_FRAME);
    check_regs(&r);
    CU_ASSERT(d.skipped == 0 && mb_rtu_pending(&d) == sizeof(exception_frame));
    CU_ASSERT_EQUAL(mb_rtu_verdict(&d), MB_FRAME); /* not asked for yet */
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, NULL, 0, &r), MB_FRAME);
    CU_ASSERT(r.exception && r.exception_code == 2 && d.skipped == 0);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, NULL, 0, &r), MB_NEED_MORE);
    CU_ASSERT(mb_rtu_pending(&d) == 0 && mb_rtu_verdict(&d) == 0);

    /* With three bytes of noise between them, cut anywhere. */
    memmove(stream + sizeof(regs_frame) + 3, exception_frame, sizeof(exception_frame));
    memset(stream + sizeof(regs_frame), NOISE, 3);
    for (size_t cut = 0; cut <= n; cut++) {
        CU_ASSERT_EQUAL_FATAL(feed_two_pieces(stream, n, cut, fcs, skips), 2);
        CU_ASSERT(fcs[0] == 0x03 && skips[0] == 0);
        CU_ASSERT(fcs[1] == 0x83 && skips[1] == 3);
    }
}

/* The window keeps the newest 512 bytes; what it drops is noise skipped. */
static void test_full_window(void)
{
    uint8_t stream[600 + sizeof(regs_frame)];
    size_t n = sizeof(regs_frame), win = sizeof(((mb_rtu_decoder_t *)0)->win);
    mb_rtu_decoder_t d;
    mb_response_t r;

    CU_ASSERT_EQUAL(win, 2 * MB_RTU_MAX_ADU);
    memset(stream, NOISE, 600);
    memcpy(stream + 600, regs_frame, n);

    /* Full of noise: 25 more bytes drop the 25 oldest. */
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, stream, win, &r), MB_NEED_MORE);
    CU_ASSERT(mb_rtu_pending(&d) == win && d.dropped == 0 && d.skipped == 0);
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, regs_frame, n, &r), MB_FRAME);
    CU_ASSERT(d.skipped == win && d.dropped == 0 && mb_rtu_pending(&d) == 0);
    check_regs(&r);

    /* 500 bytes of noise and a frame: 13 dropped, 487 skipped in the window. */
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, stream, 500, &r), MB_NEED_MORE);
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, regs_frame, n, &r), MB_FRAME);
    CU_ASSERT(d.skipped == 500 && mb_rtu_pending(&d) == 0);

    /* One feed longer than the window keeps its last 512 bytes. */
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL_FATAL(mb_rtu_feed(&d, stream, sizeof(stream), &r), MB_FRAME);
    CU_ASSERT(d.skipped == 600 && mb_rtu_pending(&d) == 0);
    check_regs(&r);

    /* ... so a frame at its start is lost: counted as dropped, not skipped. */
    memcpy(stream, regs_frame, n);
    memset(stream + n, NOISE, 600);
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, stream, sizeof(stream), &r), MB_NEED_MORE);
    CU_ASSERT(d.dropped == sizeof(stream) - win && d.skipped == 0);
    CU_ASSERT(mb_rtu_pending(&d) == win && mb_rtu_verdict(&d) == MB_EGARBAGE);

    /* The oldest bytes are the ones that go. */
    memset(stream, NOISE, win);
    stream[0] = 0xA5;
    stream[1] = 0x5A;
    mb_rtu_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, stream, win, &r), MB_NEED_MORE);
    CU_ASSERT_EQUAL(mb_rtu_feed(&d, (const uint8_t[]){0x11, 0x22}, 2, &r), MB_NEED_MORE);
    CU_ASSERT(d.dropped == 2 && mb_rtu_pending(&d) == win);
    CU_ASSERT(d.win[0] == NOISE && d.win[win - 3] == NOISE);
    CU_ASSERT(d.win[win - 2] == 0x11 && d.win[win - 1] == 0x22);
}

static void test_match(void)
{
    mb_request_t req = {0, 1, MB_FC_READ_HOLDING_REGISTERS, 0, 10};
    mb_rtu_decoder_t d;
    mb_response_t r;

    feed_one(&d, regs_frame, sizeof(regs_frame), &r);
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
    feed_one(&d, coils_frame, sizeof(coils_frame), &r);
    req = (mb_request_t){0, 1, MB_FC_READ_COILS, 0x13, 37};
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MATCH);
    req.quantity = 40;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MATCH);
    req.quantity = 32;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_COUNT);
    req.quantity = 41;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_COUNT);

    /* An exception answers any quantity of its function. */
    feed_one(&d, exception_frame, sizeof(exception_frame), &r);
    req = (mb_request_t){0, 1, MB_FC_READ_HOLDING_REGISTERS, 100, 1};
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MATCH);
    req.fc = MB_FC_READ_COILS;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_FUNCTION);
}

/* The new codes follow the existing block, whose values stay as they were. */
static void test_codes(void)
{
    CU_ASSERT_EQUAL(GW_EMB_PROTOCOL, GW_EBASE + 100);
    CU_ASSERT_EQUAL(GW_EMB_ECHO, GW_EBASE + 110);
    CU_ASSERT_EQUAL(MB_ECRC, -(GW_EBASE + 111));
    CU_ASSERT_EQUAL(MB_ETRUNCATED, -(GW_EBASE + 112));
    CU_ASSERT_EQUAL(MB_EGARBAGE, -(GW_EBASE + 113));
    CU_ASSERT_STRING_EQUAL(mb_status_name(MB_ECRC), "CRC error");
    CU_ASSERT_STRING_EQUAL(mb_status_name(MB_ETRUNCATED), "truncated frame");
    CU_ASSERT_STRING_EQUAL(mb_status_name(MB_EGARBAGE), "garbage on the line");
    CU_ASSERT_STRING_EQUAL(gw_strerror(MB_ECRC), "Modbus: CRC error");
}

int modbus_rtu_suite(void)
{
    static const sb_test_t tests[] = {
        {"crc: libmodbus and published frames", test_crc},
        {"from_mbap: read and write requests", test_from_mbap_requests},
        {"from_mbap: responses", test_from_mbap_responses},
        {"from_mbap: refusals", test_from_mbap_refusals},
        {"to_mbap: round trips, CRC errors, refusals", test_to_mbap},
        {"to_mbap: largest frame", test_to_mbap_largest},
        {"decode: registers", test_decode_registers},
        {"decode: bits", test_decode_bits},
        {"decode: byte by byte", test_byte_by_byte},
        {"decode: every split", test_every_split},
        {"decode: exception", test_decode_exception},
        {"decode: each write response", test_decode_writes},
        {"decode: noise before a frame", test_noise_before_frame},
        {"verdict: one flipped bit", test_flipped_bit},
        {"verdict: truncated", test_truncated},
        {"verdict: garbage", test_garbage},
        {"decode: two frames back to back", test_back_to_back},
        {"decode: a full window drops the oldest", test_full_window},
        {"match: tid 0, unit, function, count", test_match},
        {"codes: values and names", test_codes},
    };
    CU_pSuite s = CU_add_suite("modbus_rtu", NULL, NULL);

    if (!s || SB_ADD_TESTS(s, tests) != 0 || modbus_rtu_peer_tests(s) != 0)
        return -1;
    return 0;
}

/*
 * Tests of the Modbus TCP codec's writes (function codes 5, 6, 15, 16):
 * exact request bytes, the limits, write responses and their exceptions
 * decoded from every split of a stream, matching a response to its request,
 * and the server side a simulator uses. Registered into the modbus_codec suite
 * by test_modbus_codec.c.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "adapters/modbus_codec.h"
#include "gateway/error.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

int modbus_codec_write_tests(CU_pSuite s);

static const uint16_t two_regs[] = {0x000A, 0x0102};
static const bool ten_coils[] = {1, 0, 1, 1, 0, 0, 1, 1, 1, 0};
static const uint16_t reg_41ac = 0x41AC;
static const bool on = true, off = false;

/* One request per function, with its bytes and the response that echoes it. */
static const struct {
    mb_write_t w;
    uint8_t req[17];
    size_t req_len;
    uint8_t resp[MB_WRITE_RESP_LEN];
} known[] = {
    {{0x0007, 0x01, MB_FC_WRITE_SINGLE_REGISTER, 100, 1, &reg_41ac, NULL},
     {0x00, 0x07, 0x00, 0x00, 0x00, 0x06, 0x01, 0x06, 0x00, 0x64, 0x41, 0xAC},
     12,
     {0x00, 0x07, 0x00, 0x00, 0x00, 0x06, 0x01, 0x06, 0x00, 0x64, 0x41, 0xAC}},
    {{0x0001, 0x11, MB_FC_WRITE_SINGLE_COIL, 0x00AC, 1, NULL, &on},
     {0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x11, 0x05, 0x00, 0xAC, 0xFF, 0x00},
     12,
     {0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x11, 0x05, 0x00, 0xAC, 0xFF, 0x00}},
    {{0x0002, 0x11, MB_FC_WRITE_SINGLE_COIL, 0x00AC, 1, NULL, &off},
     {0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x11, 0x05, 0x00, 0xAC, 0x00, 0x00},
     12,
     {0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x11, 0x05, 0x00, 0xAC, 0x00, 0x00}},
    {{0x1234, 0x01, MB_FC_WRITE_MULTIPLE_REGISTERS, 0x0001, 2, two_regs, NULL},
     {0x12, 0x34, 0x00, 0x00, 0x00, 0x0B, 0x01, 0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A,
      0x01, 0x02},
     17,
     {0x12, 0x34, 0x00, 0x00, 0x00, 0x06, 0x01, 0x10, 0x00, 0x01, 0x00, 0x02}},
    /* Ten coils 1,0,1,1,0,0,1,1 1,0: 0xCD 0x01, the unused high bits 0. */
    {{0xFFFF, 0xFF, MB_FC_WRITE_MULTIPLE_COILS, 0x0013, 10, NULL, ten_coils},
     {0xFF, 0xFF, 0x00, 0x00, 0x00, 0x09, 0xFF, 0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01},
     15,
     {0xFF, 0xFF, 0x00, 0x00, 0x00, 0x06, 0xFF, 0x0F, 0x00, 0x13, 0x00, 0x0A}},
};

static void test_encode_known(void)
{
    for (size_t i = 0; i < ARRAY_LEN(known); i++) {
        uint8_t buf[MB_MAX_ADU];
        size_t len = known[i].req_len;

        memset(buf, 0xEE, sizeof(buf));
        CU_ASSERT_EQUAL(mb_encode_write(&known[i].w, buf, sizeof(buf)), (int)len);
        CU_ASSERT_EQUAL(memcmp(buf, known[i].req, len), 0);
        CU_ASSERT_EQUAL(buf[len], 0xEE);
        CU_ASSERT_EQUAL(mb_encode_write(&known[i].w, buf, len - 1), -ENOSPC);
        CU_ASSERT_EQUAL(mb_encode_write(&known[i].w, buf, len), (int)len);
    }
}

static void test_encode_limits(void)
{
    static uint16_t regs[MB_MAX_WRITE_REGISTERS + 1];
    static bool bits[MB_MAX_WRITE_BITS + 1];
    static const struct {
        uint8_t fc;
        uint16_t address, quantity;
        int rc;
    } cases[] = {
        {MB_FC_WRITE_MULTIPLE_REGISTERS, 0, 123, 13 + 246},
        {MB_FC_WRITE_MULTIPLE_REGISTERS, 0, 124, -EINVAL},
        {MB_FC_WRITE_MULTIPLE_REGISTERS, 0, 0, -EINVAL},
        {MB_FC_WRITE_MULTIPLE_REGISTERS, 65534, 2, 17},
        {MB_FC_WRITE_MULTIPLE_REGISTERS, 65535, 2, -EINVAL},
        {MB_FC_WRITE_MULTIPLE_COILS, 0, 1968, 13 + 246},
        {MB_FC_WRITE_MULTIPLE_COILS, 0, 1969, -EINVAL},
        {MB_FC_WRITE_MULTIPLE_COILS, 0, 0, -EINVAL},
        {MB_FC_WRITE_MULTIPLE_COILS, 65535, 1, 14},
        {MB_FC_WRITE_MULTIPLE_COILS, 65535, 2, -EINVAL},
        {MB_FC_WRITE_SINGLE_REGISTER, 65535, 1, 12},
        {MB_FC_WRITE_SINGLE_REGISTER, 0, 2, -EINVAL},
        {MB_FC_WRITE_SINGLE_REGISTER, 0, 0, -EINVAL},
        {MB_FC_WRITE_SINGLE_COIL, 65535, 1, 12},
        {MB_FC_WRITE_SINGLE_COIL, 0, 2, -EINVAL},
        {MB_FC_READ_HOLDING_REGISTERS, 0, 1, -EINVAL},
        {0x85, 0, 1, -EINVAL},
        {0x17, 0, 1, -EINVAL},
    };
    mb_write_t w = {1, 1, MB_FC_WRITE_SINGLE_REGISTER, 0, 1, regs, bits};
    uint8_t buf[MB_MAX_ADU];

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        w.fc = cases[i].fc;
        w.address = cases[i].address;
        w.quantity = cases[i].quantity;
        CU_ASSERT_EQUAL(mb_encode_write(&w, buf, sizeof(buf)), cases[i].rc);
        CU_ASSERT(cases[i].rc <= MB_MAX_ADU);
    }
    w = (mb_write_t){1, 1, MB_FC_WRITE_SINGLE_REGISTER, 0, 1, NULL, bits};
    CU_ASSERT_EQUAL(mb_encode_write(&w, buf, sizeof(buf)), -EINVAL);
    w.fc = MB_FC_WRITE_MULTIPLE_REGISTERS;
    CU_ASSERT_EQUAL(mb_encode_write(&w, buf, sizeof(buf)), -EINVAL);
    w = (mb_write_t){1, 1, MB_FC_WRITE_SINGLE_COIL, 0, 1, regs, NULL};
    CU_ASSERT_EQUAL(mb_encode_write(&w, buf, sizeof(buf)), -EINVAL);
    w.fc = MB_FC_WRITE_MULTIPLE_COILS;
    CU_ASSERT_EQUAL(mb_encode_write(&w, buf, sizeof(buf)), -EINVAL);
    CU_ASSERT_EQUAL(mb_encode_write(NULL, buf, sizeof(buf)), -EINVAL);
    CU_ASSERT_EQUAL(mb_encode_write(&known[0].w, NULL, sizeof(buf)), -EINVAL);

    /* Nine coils, all on: the last byte keeps only its one coil. */
    memset(bits, 1, sizeof(bits));
    w = (mb_write_t){1, 1, MB_FC_WRITE_MULTIPLE_COILS, 0, 9, NULL, bits};
    CU_ASSERT_EQUAL_FATAL(mb_encode_write(&w, buf, sizeof(buf)), 15);
    CU_ASSERT(buf[12] == 2 && buf[13] == 0xFF && buf[14] == 0x01);
}

/* ---- responses ---- */

/* Feeds the bytes one at a time: every byte but the last needs more. */
static int feed_bytes(mb_decoder_t *d, const uint8_t *p, size_t n, mb_response_t *r)
{
    size_t used;
    int rc = MB_NEED_MORE;

    for (size_t i = 0; i < n; i++) {
        rc = mb_decoder_feed(d, p + i, 1, &used, r);
        CU_ASSERT_EQUAL(used, 1);
        if (i + 1 < n)
            CU_ASSERT_EQUAL(rc, MB_NEED_MORE);
    }
    return rc;
}

static void test_decode_responses(void)
{
    for (size_t i = 0; i < ARRAY_LEN(known); i++) {
        const mb_write_t *w = &known[i].w;
        mb_decoder_t d;
        mb_response_t r;

        mb_decoder_reset(&d);
        CU_ASSERT_EQUAL_FATAL(feed_bytes(&d, known[i].resp, MB_WRITE_RESP_LEN, &r), MB_FRAME);
        CU_ASSERT(r.tid == w->tid && r.unit == w->unit && r.fc == w->fc);
        CU_ASSERT(!r.exception && r.exception_code == 0);
        CU_ASSERT(r.data == NULL && r.data_len == 0);
        CU_ASSERT_EQUAL(r.address, w->address);
        CU_ASSERT_EQUAL(r.value, (uint16_t)(known[i].resp[10] << 8 | known[i].resp[11]));
        CU_ASSERT_EQUAL(mb_match_write(w, &r), MB_MATCH);
        CU_ASSERT_EQUAL(mb_register(&r, 0), 0); /* no data to read */
        CU_ASSERT_EQUAL(mb_bit(&r, 0), false);
    }
}

/* Exceptions to each write function, and what a read response looks like
 * after one (its address and value zero). */
static void test_decode_exceptions(void)
{
    static const uint8_t fcs[] = {0x85, 0x86, 0x8F, 0x90};
    static const uint8_t reg_frame[] = {0x12, 0x34, 0x00, 0x00, 0x00, 0x05,
                                        0x11, 0x03, 0x02, 0x00, 0x2A};
    mb_decoder_t d;
    mb_response_t r;
    size_t used;

    for (size_t i = 0; i < ARRAY_LEN(fcs); i++) {
        const uint8_t frame[] = {0x00, 0x07, 0x00, 0x00, 0x00, 0x03, 0x01, fcs[i], 0x02};
        mb_write_t w = {0x0007, 0x01, (uint8_t)(fcs[i] & 0x7F), 100, 1, &reg_41ac, &on};

        mb_decoder_reset(&d);
        CU_ASSERT_EQUAL_FATAL(feed_bytes(&d, frame, sizeof(frame), &r), MB_FRAME);
        CU_ASSERT(r.exception && r.exception_code == 2 && r.fc == (fcs[i] & 0x7F));
        CU_ASSERT(r.address == 0 && r.value == 0 && r.data == NULL);
        CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MATCH); /* any echo: there is none */
        w.fc = (uint8_t)(w.fc == MB_FC_WRITE_SINGLE_COIL ? MB_FC_WRITE_SINGLE_REGISTER
                                                         : MB_FC_WRITE_SINGLE_COIL);
        CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MISMATCH_FUNCTION);
    }
    CU_ASSERT_EQUAL_FATAL(mb_decoder_feed(&d, reg_frame, sizeof(reg_frame), &used, &r), MB_FRAME);
    CU_ASSERT(r.address == 0 && r.value == 0 && r.data_len == 2);
}

/* A write response, an exception and a read response in one stream, cut in
 * three reads at every pair of places: always the same three frames. */
static void test_every_split(void)
{
    static const uint8_t exc[] = {0x00, 0x08, 0x00, 0x00, 0x00, 0x03, 0x01, 0x90, 0x04};
    static const uint8_t reg_frame[] = {0x00, 0x09, 0x00, 0x00, 0x00, 0x05,
                                        0x01, 0x03, 0x02, 0xBE, 0xEF};
    uint8_t stream[sizeof(known[3].resp) + sizeof(exc) + sizeof(reg_frame)];
    const size_t n = sizeof(stream);

    memcpy(stream, known[3].resp, sizeof(known[3].resp));
    memcpy(stream + sizeof(known[3].resp), exc, sizeof(exc));
    memcpy(stream + sizeof(known[3].resp) + sizeof(exc), reg_frame, sizeof(reg_frame));
    for (size_t a = 0; a <= n; a++)
        for (size_t b = a; b <= n; b++) {
            const size_t cuts[] = {0, a, b, n};
            uint16_t tids[4] = {0}, values[4] = {0};
            int frames = 0;
            mb_decoder_t d;

            mb_decoder_reset(&d);
            for (int k = 0; k < 3; k++) {
                const uint8_t *p = stream + cuts[k];
                size_t left = cuts[k + 1] - cuts[k];

                while (left > 0) {
                    mb_response_t r;
                    size_t used;
                    int rc = mb_decoder_feed(&d, p, left, &used, &r);

                    CU_ASSERT_FATAL(rc == MB_FRAME || rc == MB_NEED_MORE);
                    if (rc == MB_FRAME && frames < 4) {
                        tids[frames] = r.tid;
                        values[frames++] = r.exception ? r.exception_code : r.value;
                    }
                    p += used;
                    left -= used;
                }
            }
            CU_ASSERT_EQUAL(frames, 3);
            CU_ASSERT(tids[0] == 0x1234 && values[0] == 2);
            CU_ASSERT(tids[1] == 0x0008 && values[1] == 4);
            CU_ASSERT(tids[2] == 0x0009 && values[2] == 0);
        }
}

/* Write responses of the wrong shape, each known at the byte that shows it. */
static void test_malformed(void)
{
    static const struct {
        uint8_t bytes[14];
        size_t len;
        int rc;
        size_t known;
    } cases[] = {
        {{0, 1, 0, 0, 0, 7, 1, 6, 0, 1, 0, 2, 0}, 13, MB_ELENGTH, 8},
        {{0, 1, 0, 0, 0, 5, 1, 5, 0, 1, 0}, 11, MB_ELENGTH, 8},
        {{0, 1, 0, 0, 0, 4, 1, 0x0F, 0, 1}, 10, MB_ELENGTH, 8},
        {{0, 1, 0, 0, 0, 8, 1, 0x10, 0, 1, 0, 1, 2, 0}, 14, MB_ELENGTH, 8},
        {{0, 1, 0, 0, 0, 2, 1, 6}, 8, MB_ELENGTH, 8},
        {{0, 1, 0, 0, 0, 4, 1, 0x86, 2, 0}, 10, MB_EEXCEPTION_LENGTH, 8},
        {{0, 1, 0, 0, 0, 2, 1, 0x90}, 8, MB_EEXCEPTION_LENGTH, 8},
        {{0, 1, 0, 0, 0, 6, 1, 0x07, 0, 1, 0, 1}, 12, MB_EFUNCTION, 8},
        {{0, 1, 0, 0, 0, 6, 1, 0x17, 0, 1, 0, 1}, 12, MB_EFUNCTION, 8},
        {{0, 1, 0, 0, 0, 3, 1, 0x8E, 1}, 9, MB_EFUNCTION, 8},
        {{0, 1, 0, 1, 0, 6, 1, 6, 0, 1, 0, 1}, 12, MB_EPROTOCOL, 4},
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        mb_decoder_t d;
        mb_response_t r;
        size_t used;

        mb_decoder_reset(&d);
        CU_ASSERT_EQUAL(mb_decoder_feed(&d, cases[i].bytes, cases[i].len, &used, &r), cases[i].rc);
        CU_ASSERT(used >= cases[i].known && used <= cases[i].len);
        mb_decoder_reset(&d);
        for (size_t k = 0; k + 1 < cases[i].known; k++)
            CU_ASSERT_EQUAL(mb_decoder_feed(&d, cases[i].bytes + k, 1, &used, &r), MB_NEED_MORE);
        CU_ASSERT_EQUAL(mb_decoder_feed(&d, cases[i].bytes + cases[i].known - 1, 1, &used, &r),
                        cases[i].rc);
        CU_ASSERT_EQUAL(mb_decoder_feed(&d, known[0].resp, 12, &used, &r), cases[i].rc);
        CU_ASSERT_EQUAL(used, 0); /* sticky */
    }
}

/* ---- matching ---- */

static void test_match(void)
{
    static const uint16_t other_reg = 0x41AD;
    mb_decoder_t d;
    mb_response_t r, bad;
    mb_write_t w = known[0].w;
    mb_request_t read = {0x0007, 0x01, MB_FC_READ_HOLDING_REGISTERS, 100, 1};
    size_t used;

    mb_decoder_reset(&d);
    CU_ASSERT_EQUAL_FATAL(mb_decoder_feed(&d, known[0].resp, 12, &used, &r), MB_FRAME);
    CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MATCH);
    bad = r;
    bad.tid = 8;
    CU_ASSERT_EQUAL(mb_match_write(&w, &bad), MB_MISMATCH_TID);
    bad = r;
    bad.unit = 2;
    CU_ASSERT_EQUAL(mb_match_write(&w, &bad), MB_MISMATCH_UNIT);
    bad = r;
    bad.fc = MB_FC_WRITE_MULTIPLE_REGISTERS;
    CU_ASSERT_EQUAL(mb_match_write(&w, &bad), MB_MISMATCH_FUNCTION);
    bad.tid = 8; /* tid is checked first */
    CU_ASSERT_EQUAL(mb_match_write(&w, &bad), MB_MISMATCH_TID);
    bad = r;
    bad.address = 101;
    CU_ASSERT_EQUAL(mb_match_write(&w, &bad), MB_MISMATCH_ECHO);
    w.regs = &other_reg;
    CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MISMATCH_ECHO);
    w.regs = NULL;
    CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MISMATCH_ECHO);

    /* A write response never answers a read, nor a read response a write. */
    CU_ASSERT_EQUAL(mb_match(&read, &r), MB_MISMATCH_FUNCTION);
    w = (mb_write_t){0x0007, 0x01, MB_FC_READ_HOLDING_REGISTERS, 100, 1, &reg_41ac, NULL};
    bad = r;
    bad.fc = MB_FC_READ_HOLDING_REGISTERS;
    CU_ASSERT_EQUAL(mb_match_write(&w, &bad), MB_MISMATCH_FUNCTION);

    /* FC 5: the echo is 0xFF00 for on, 0x0000 for off. */
    CU_ASSERT_EQUAL_FATAL(mb_decoder_feed(&d, known[1].resp, 12, &used, &r), MB_FRAME);
    w = known[1].w;
    CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MATCH);
    w.bits = &off;
    CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MISMATCH_ECHO);
    w.bits = NULL;
    CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MISMATCH_ECHO);

    /* FC 15 and 16 echo the quantity, not the values. */
    CU_ASSERT_EQUAL_FATAL(mb_decoder_feed(&d, known[4].resp, 12, &used, &r), MB_FRAME);
    w = known[4].w;
    CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MATCH);
    w.quantity = 9;
    CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MISMATCH_ECHO);
    w = known[4].w;
    w.address = 0x0014;
    CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MISMATCH_ECHO);
    CU_ASSERT_EQUAL_FATAL(mb_decoder_feed(&d, known[3].resp, 12, &used, &r), MB_FRAME);
    w = known[3].w;
    CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MATCH);
    w.quantity = 1;
    CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MISMATCH_ECHO);

    CU_ASSERT_STRING_EQUAL(mb_status_name(MB_MISMATCH_ECHO), "write echo mismatch");
    CU_ASSERT_STRING_EQUAL(gw_strerror(MB_MISMATCH_ECHO), "Modbus: write echo mismatch");
    CU_ASSERT(MB_MISMATCH_ECHO < -GW_EBASE && MB_MISMATCH_ECHO != MB_MISMATCH_COUNT);
}

/* ---- server side ---- */

static void test_server_decode(void)
{
    for (size_t i = 0; i < ARRAY_LEN(known); i++) {
        const mb_write_t *want = &known[i].w;
        mb_write_values_t vals;
        mb_write_t w;
        uint8_t resp[MB_WRITE_RESP_LEN + 1];
        uint8_t again[MB_MAX_ADU];
        size_t len = known[i].req_len;

        for (size_t k = 0; k < len; k++)
            CU_ASSERT_EQUAL(mb_decode_write_request(known[i].req, k, &w, &vals), 0);
        memset(&w, 0xEE, sizeof(w));
        CU_ASSERT_EQUAL_FATAL(mb_decode_write_request(known[i].req, len, &w, &vals), (int)len);
        CU_ASSERT(w.tid == want->tid && w.unit == want->unit && w.fc == want->fc);
        CU_ASSERT(w.address == want->address && w.quantity == want->quantity);
        /* The values come back: encoding them again gives the same request. */
        CU_ASSERT_EQUAL(mb_encode_write(&w, again, sizeof(again)), (int)len);
        CU_ASSERT_EQUAL(memcmp(again, known[i].req, len), 0);
        CU_ASSERT_EQUAL(mb_encode_write_response(&w, resp, sizeof(resp)), MB_WRITE_RESP_LEN);
        CU_ASSERT_EQUAL(memcmp(resp, known[i].resp, MB_WRITE_RESP_LEN), 0);
        CU_ASSERT_EQUAL(mb_encode_write_response(&w, resp, MB_WRITE_RESP_LEN - 1), -ENOSPC);
    }
}

static void test_server_errors(void)
{
    static const struct {
        uint8_t bytes[20];
        size_t len;
        int rc;
        size_t known;
    } cases[] = {
        {{0, 1, 1, 0, 0, 6, 1, 6, 0, 1, 0, 1}, 12, MB_EPROTOCOL, 3},
        {{0, 1, 0, 0, 1, 6, 1, 6, 0, 1, 0, 1}, 12, MB_ELENGTH, 5},
        {{0, 1, 0, 0, 0, 5, 1, 6, 0, 1, 0}, 11, MB_ELENGTH, 6},
        {{0, 1, 0, 0, 0, 255, 1, 0x10}, 8, MB_ELENGTH, 6},
        {{0, 1, 0, 0, 0, 7, 1, 6, 0, 1, 0, 1, 0}, 13, MB_ELENGTH, 8},
        {{0, 1, 0, 0, 0, 7, 1, 0x10, 0, 1, 0, 1, 0}, 13, MB_ELENGTH, 8},
        {{0, 1, 0, 0, 0, 9, 1, 0x10, 0, 1, 0, 1, 3, 0, 1}, 15, MB_EBYTECOUNT, 13},
        {{0, 1, 0, 0, 0, 9, 1, 0x0F, 0, 1, 0, 1, 3, 0, 1}, 15, MB_EBYTECOUNT, 13},
        /* Whole frames a server answers with an exception. */
        {{0, 1, 0, 0, 0, 6, 1, 3, 0, 1, 0, 1}, 12, MB_EFUNCTION, 12},
        {{0, 1, 0, 0, 0, 6, 1, 0x86, 0, 1, 0, 1}, 12, MB_EFUNCTION, 12},
        {{0, 1, 0, 0, 0, 6, 1, 5, 0, 1, 0x12, 0x34}, 12, MB_EQUANTITY, 12},
        {{0, 1, 0, 0, 0, 6, 1, 5, 0, 1, 0x00, 0xFF}, 12, MB_EQUANTITY, 12},
        {{0, 1, 0, 0, 0, 9, 1, 0x10, 0, 1, 0, 0, 2, 0, 1}, 15, MB_EQUANTITY, 15},
        {{0, 1, 0, 0, 0, 9, 1, 0x10, 0, 1, 0, 2, 2, 0, 1}, 15, MB_EQUANTITY, 15},
        {{0, 1, 0, 0, 0, 11, 1, 0x10, 0xFF, 0xFF, 0, 2, 4, 0, 1, 0, 2}, 17, MB_EQUANTITY, 17},
        {{0, 1, 0, 0, 0, 9, 1, 0x0F, 0, 1, 0, 17, 2, 0, 1}, 15, MB_EQUANTITY, 15},
        {{0, 1, 0, 0, 0, 8, 1, 0x0F, 0, 1, 0, 9, 1, 0}, 14, MB_EQUANTITY, 14},
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        mb_write_values_t vals;
        mb_write_t w;
        const uint8_t *b = cases[i].bytes;
        int rc;

        for (size_t k = 0; k + 1 < cases[i].known; k++)
            CU_ASSERT_EQUAL(mb_decode_write_request(b, k, &w, &vals), 0);
        for (size_t k = cases[i].known; k <= cases[i].len; k++)
            CU_ASSERT_EQUAL(mb_decode_write_request(b, k, &w, &vals), cases[i].rc);
        rc = mb_decode_write_request(b, cases[i].len, &w, &vals);
        if (rc != cases[i].rc)
            fprintf(stderr, "\n  server case %zu: %d\n", i, rc);
        if (rc == MB_EFUNCTION || rc == MB_EQUANTITY) {
            /* Enough to answer: who asked, and what. */
            CU_ASSERT(w.tid == 1 && w.unit == 1 && w.fc == b[7]);
            CU_ASSERT(w.address == (uint16_t)(b[8] << 8 | b[9]));
            CU_ASSERT(w.regs == NULL && w.bits == NULL);
        }
    }
}

/* Client to server and back: a write of the largest size each way. */
static void test_round_trip(void)
{
    static uint16_t regs[MB_MAX_WRITE_REGISTERS];
    static bool bits[MB_MAX_WRITE_BITS];
    mb_write_t w[2] = {
        {0x0101, 7, MB_FC_WRITE_MULTIPLE_REGISTERS, 65536 - 123, 123, regs, NULL},
        {0x0102, 7, MB_FC_WRITE_MULTIPLE_COILS, 65536 - 1968, 1968, NULL, bits},
    };

    for (size_t i = 0; i < ARRAY_LEN(regs); i++)
        regs[i] = (uint16_t)(0x9E37 * (i + 1));
    for (size_t i = 0; i < ARRAY_LEN(bits); i++)
        bits[i] = (i * 7) % 3 == 1;
    for (size_t k = 0; k < 2; k++) {
        uint8_t req[MB_MAX_ADU], resp[MB_WRITE_RESP_LEN];
        mb_write_values_t vals;
        mb_write_t got;
        mb_decoder_t d;
        mb_response_t r;
        size_t used;
        int len = mb_encode_write(&w[k], req, sizeof(req));

        CU_ASSERT_EQUAL_FATAL(len, 259);
        CU_ASSERT_EQUAL_FATAL(mb_decode_write_request(req, (size_t)len, &got, &vals), len);
        if (k == 0) {
            CU_ASSERT_EQUAL(memcmp(got.regs, regs, sizeof(regs)), 0);
        } else {
            CU_ASSERT_EQUAL(memcmp(got.bits, bits, sizeof(bits)), 0);
        }
        CU_ASSERT_EQUAL_FATAL(mb_encode_write_response(&got, resp, sizeof(resp)), 12);
        mb_decoder_reset(&d);
        CU_ASSERT_EQUAL_FATAL(mb_decoder_feed(&d, resp, sizeof(resp), &used, &r), MB_FRAME);
        CU_ASSERT_EQUAL(mb_match_write(&w[k], &r), MB_MATCH);
    }
    CU_ASSERT_EQUAL(mb_encode_write_response(NULL, NULL, 0), -EINVAL);
}

int modbus_codec_write_tests(CU_pSuite s)
{
    if (!CU_add_test(s, "codec: write requests, exact bytes", test_encode_known) ||
        !CU_add_test(s, "codec: write request limits", test_encode_limits) ||
        !CU_add_test(s, "codec: write responses byte by byte", test_decode_responses) ||
        !CU_add_test(s, "codec: write exceptions", test_decode_exceptions) ||
        !CU_add_test(s, "codec: every split of a write stream", test_every_split) ||
        !CU_add_test(s, "codec: malformed write responses", test_malformed) ||
        !CU_add_test(s, "codec: write matching, each mismatch", test_match) ||
        !CU_add_test(s, "server: decode write requests", test_server_decode) ||
        !CU_add_test(s, "server: write request errors", test_server_errors) ||
        !CU_add_test(s, "server: round trip of the largest writes", test_round_trip))
        return -1;
    return 0;
}

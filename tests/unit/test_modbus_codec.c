/*
 * Tests of the Modbus TCP codec, client side: exact bytes on the wire, every
 * malformed class with its own code, every way of splitting a stream into
 * reads. The server side is in test_modbus_codec_server.c and writes are in
 * test_modbus_codec_write.c, same suite.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "adapters/modbus_codec.h"
#include "gateway/error.h"
#include "suites.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Defined in test_modbus_codec_server.c and test_modbus_codec_write.c;
 * suites.h lists suites only. */
int modbus_codec_server_tests(CU_pSuite s);
int modbus_codec_write_tests(CU_pSuite s);

/* Holding registers 0x002a and 0xfffe; tid 0x1234, unit 0x11. */
static const uint8_t reg_frame[] = {0x12, 0x34, 0x00, 0x00, 0x00, 0x07, 0x11,
                                    0x03, 0x04, 0x00, 0x2a, 0xff, 0xfe};
/* Ten coils 1,0,1,1,0,0,1,1,1,0 (0xcd 0x01); tid 0x1235, unit 0x11. */
static const uint8_t bit_frame[] = {0x12, 0x35, 0x00, 0x00, 0x00, 0x05,
                                    0x11, 0x01, 0x02, 0xcd, 0x01};
static const bool coil_values[10] = {1, 0, 1, 1, 0, 0, 1, 1, 1, 0};

static void test_encode_every_function(void)
{
    static const struct {
        mb_request_t req;
        uint8_t want[MB_REQ_LEN];
    } cases[] = {
        {{0x0001, 0x01, MB_FC_READ_COILS, 0x0013, 0x0025},
         {0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x01, 0x00, 0x13, 0x00, 0x25}},
        {{0xabcd, 0xff, MB_FC_READ_DISCRETE_INPUTS, 0x00c4, 0x07d0},
         {0xab, 0xcd, 0x00, 0x00, 0x00, 0x06, 0xff, 0x02, 0x00, 0xc4, 0x07, 0xd0}},
        {{0x1234, 0x11, MB_FC_READ_HOLDING_REGISTERS, 0x006b, 0x0003},
         {0x12, 0x34, 0x00, 0x00, 0x00, 0x06, 0x11, 0x03, 0x00, 0x6b, 0x00, 0x03}},
        {{0xffff, 0x00, MB_FC_READ_INPUT_REGISTERS, 0xff83, 0x007d},
         {0xff, 0xff, 0x00, 0x00, 0x00, 0x06, 0x00, 0x04, 0xff, 0x83, 0x00, 0x7d}},
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        uint8_t buf[MB_REQ_LEN + 1];

        memset(buf, 0xee, sizeof(buf));
        CU_ASSERT_EQUAL(mb_encode_read(&cases[i].req, buf, sizeof(buf)), MB_REQ_LEN);
        CU_ASSERT_EQUAL(memcmp(buf, cases[i].want, MB_REQ_LEN), 0);
        CU_ASSERT_EQUAL(buf[MB_REQ_LEN], 0xee);
    }
}

static void test_encode_limits(void)
{
    static const struct {
        uint8_t fc;
        uint16_t address, quantity;
        int rc;
    } cases[] = {
        {3, 0, 0, -EINVAL},        {3, 0, 1, 12},
        {3, 0, 125, 12},           {3, 0, 126, -EINVAL},
        {4, 0, 125, 12},           {4, 0, 126, -EINVAL},
        {1, 0, 0, -EINVAL},        {1, 0, 2000, 12},
        {1, 0, 2001, -EINVAL},     {2, 0, 2000, 12},
        {2, 0, 2001, -EINVAL},     {3, 65535, 1, 12},
        {3, 65535, 2, -EINVAL},    {3, 65411, 125, 12},
        {3, 65412, 125, -EINVAL},  {1, 63536, 2000, 12},
        {1, 63537, 2000, -EINVAL}, {2, 65535, 1, 12},
        {0, 0, 1, -EINVAL},        {5, 0, 1, -EINVAL},
        {0x83, 0, 1, -EINVAL},     {0x10, 0, 1, -EINVAL},
    };
    mb_request_t req = {1, 1, 3, 0, 1};
    uint8_t buf[MB_REQ_LEN];

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        req.fc = cases[i].fc;
        req.address = cases[i].address;
        req.quantity = cases[i].quantity;
        CU_ASSERT_EQUAL(mb_encode_read(&req, buf, sizeof(buf)), cases[i].rc);
    }
    req.fc = 3;
    req.address = 0;
    req.quantity = 1;
    CU_ASSERT_EQUAL(mb_encode_read(&req, buf, MB_REQ_LEN - 1), -ENOSPC);
    CU_ASSERT_EQUAL(mb_encode_read(&req, NULL, MB_REQ_LEN), -EINVAL);
    CU_ASSERT_EQUAL(mb_encode_read(NULL, buf, MB_REQ_LEN), -EINVAL);
    req.quantity = 0; /* an invalid request is -EINVAL whatever the room */
    CU_ASSERT_EQUAL(mb_encode_read(&req, buf, MB_REQ_LEN - 1), -EINVAL);
    req.quantity = 1;
    CU_ASSERT_EQUAL(mb_encode_read(&req, buf, MB_REQ_LEN), MB_REQ_LEN);
}

static void test_decode_registers(void)
{
    mb_decoder_t d;
    mb_response_t r;
    uint8_t frame[sizeof(reg_frame)];
    size_t used = 99;

    mb_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_decoder_feed(&d, reg_frame, sizeof(reg_frame), &used, &r), MB_FRAME);
    CU_ASSERT_EQUAL(used, sizeof(reg_frame));
    CU_ASSERT_EQUAL(r.tid, 0x1234);
    CU_ASSERT_EQUAL(r.unit, 0x11);
    CU_ASSERT_EQUAL(r.fc, MB_FC_READ_HOLDING_REGISTERS);
    CU_ASSERT_FALSE(r.exception);
    CU_ASSERT_EQUAL(r.exception_code, 0);
    CU_ASSERT_PTR_EQUAL(r.data, d.buf + 9);
    CU_ASSERT_EQUAL(r.data_len, 4);
    CU_ASSERT_EQUAL(mb_register(&r, 0), 0x002a);
    CU_ASSERT_EQUAL(mb_register(&r, 1), 0xfffe);
    CU_ASSERT_EQUAL(mb_register(&r, 2), 0);

    memcpy(frame, reg_frame, sizeof(frame));
    frame[7] = MB_FC_READ_INPUT_REGISTERS;
    frame[9] = 0x80;
    CU_ASSERT_EQUAL(mb_decoder_feed(&d, frame, sizeof(frame), &used, &r), MB_FRAME);
    CU_ASSERT_EQUAL(r.fc, MB_FC_READ_INPUT_REGISTERS);
    CU_ASSERT_EQUAL(mb_register(&r, 0), 0x802a);
    CU_ASSERT_EQUAL(mb_register(&r, 1), 0xfffe);
}

static void test_decode_bits(void)
{
    static const uint8_t discrete[] = {0x00, 0x09, 0x00, 0x00, 0x00, 0x04, 0x02, 0x02, 0x01, 0x80};
    mb_decoder_t d;
    mb_response_t r;
    size_t used;

    mb_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_decoder_feed(&d, bit_frame, sizeof(bit_frame), &used, &r), MB_FRAME);
    CU_ASSERT_EQUAL(used, sizeof(bit_frame));
    CU_ASSERT_EQUAL(r.tid, 0x1235);
    CU_ASSERT_EQUAL(r.fc, MB_FC_READ_COILS);
    CU_ASSERT_EQUAL(r.data_len, 2);
    for (size_t i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(mb_bit(&r, i), coil_values[i]);
    for (size_t i = 10; i < 20; i++)
        CU_ASSERT_FALSE(mb_bit(&r, i));

    CU_ASSERT_EQUAL(mb_decoder_feed(&d, discrete, sizeof(discrete), &used, &r), MB_FRAME);
    CU_ASSERT_EQUAL(used, sizeof(discrete));
    CU_ASSERT_EQUAL(r.tid, 0x0009);
    CU_ASSERT_EQUAL(r.unit, 0x02);
    CU_ASSERT_EQUAL(r.fc, MB_FC_READ_DISCRETE_INPUTS);
    CU_ASSERT_EQUAL(r.data_len, 1);
    for (size_t i = 0; i < 7; i++)
        CU_ASSERT_FALSE(mb_bit(&r, i));
    CU_ASSERT_TRUE(mb_bit(&r, 7));
}

/* The largest length the decoder accepts fills its buffer exactly; the
 * accessors stop at data_len, even on an odd byte count. */
static void test_decode_largest_frame(void)
{
    uint8_t frame[MB_MAX_ADU];
    mb_decoder_t d;
    mb_response_t r;
    size_t used;

    for (size_t i = 0; i < sizeof(frame); i++)
        frame[i] = (uint8_t)(i - 9);
    memcpy(frame, (const uint8_t[]){0x00, 0x01, 0x00, 0x00, 0x00, 254, 0x01, 0x04, 251}, 9);
    mb_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_decoder_feed(&d, frame, sizeof(frame), &used, &r), MB_FRAME);
    CU_ASSERT_EQUAL(used, MB_MAX_ADU);
    CU_ASSERT_EQUAL(d.have, MB_MAX_ADU);
    CU_ASSERT_EQUAL(r.data_len, 251);
    CU_ASSERT_EQUAL(mb_register(&r, 0), 0x0001);
    CU_ASSERT_EQUAL(mb_register(&r, 124), 0xf8f9);
    CU_ASSERT_EQUAL(mb_register(&r, 125), 0);
    CU_ASSERT_EQUAL(mb_register(&r, (size_t)-1), 0);
    CU_ASSERT_TRUE(mb_bit(&r, 250 * 8 + 7));
    CU_ASSERT_FALSE(mb_bit(&r, 250 * 8 + 2));
    CU_ASSERT_FALSE(mb_bit(&r, 251 * 8));
    CU_ASSERT_FALSE(mb_bit(&r, (size_t)-1));
}

static void test_decode_exception(void)
{
    static const uint8_t frame[] = {0x12, 0x34, 0x00, 0x00, 0x00, 0x03, 0x11, 0x83, 0x02};
    mb_request_t req = {0x1234, 0x11, MB_FC_READ_HOLDING_REGISTERS, 0, 2};
    uint8_t other[sizeof(frame)];
    mb_decoder_t d;
    mb_response_t r;
    size_t used;

    mb_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_decoder_feed(&d, frame, sizeof(frame), &used, &r), MB_FRAME);
    CU_ASSERT_EQUAL(used, sizeof(frame));
    CU_ASSERT_EQUAL(r.tid, 0x1234);
    CU_ASSERT_EQUAL(r.unit, 0x11);
    CU_ASSERT_EQUAL(r.fc, MB_FC_READ_HOLDING_REGISTERS);
    CU_ASSERT_TRUE(r.exception);
    CU_ASSERT_EQUAL(r.exception_code, 2);
    CU_ASSERT_PTR_NULL(r.data);
    CU_ASSERT_EQUAL(r.data_len, 0);
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MATCH);
    CU_ASSERT_STRING_EQUAL(mb_exception_name(r.exception_code), "illegal data address");
    for (uint8_t fc = 1; fc <= 4; fc++) {
        memcpy(other, frame, sizeof(other));
        other[7] = 0x80 | fc;
        other[8] = 0x0b;
        CU_ASSERT_EQUAL(mb_decoder_feed(&d, other, sizeof(other), &used, &r), MB_FRAME);
        CU_ASSERT_EQUAL(r.fc, fc);
        CU_ASSERT_TRUE(r.exception);
        CU_ASSERT_EQUAL(r.exception_code, 0x0b);
    }
    /* Nothing of the exception lingers into the next frame. */
    CU_ASSERT_EQUAL(mb_decoder_feed(&d, reg_frame, sizeof(reg_frame), &used, &r), MB_FRAME);
    CU_ASSERT_FALSE(r.exception);
    CU_ASSERT_EQUAL(mb_register(&r, 0), 0x002a);
}

static void test_exception_names(void)
{
    static const struct {
        uint8_t code;
        const char *name;
    } cases[] = {
        {1, "illegal function"},
        {2, "illegal data address"},
        {3, "illegal data value"},
        {4, "server device failure"},
        {5, "acknowledge"},
        {6, "server busy"},
        {8, "memory parity error"},
        {10, "gateway path unavailable"},
        {11, "gateway target device failed to respond"},
        {0, "exception 0"},
        {7, "exception 7"},
        {9, "exception 9"},
        {12, "exception 12"},
        {255, "exception 255"},
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        CU_ASSERT_STRING_EQUAL(mb_exception_name(cases[i].code), cases[i].name);
}

static void test_status_names(void)
{
    static const struct {
        int status;
        const char *name;
    } cases[] = {
        {MB_NEED_MORE, "need more"},
        {MB_FRAME, "frame"},
        {MB_EPROTOCOL, "bad protocol id"},
        {MB_ELENGTH, "bad length"},
        {MB_EBYTECOUNT, "bad byte count"},
        {MB_EFUNCTION, "unsupported function"},
        {MB_EEXCEPTION_LENGTH, "bad exception length"},
        {MB_EQUANTITY, "bad quantity"},
        {MB_MISMATCH_TID, "transaction id mismatch"},
        {MB_MISMATCH_UNIT, "unit id mismatch"},
        {MB_MISMATCH_FUNCTION, "function mismatch"},
        {MB_MISMATCH_COUNT, "byte count mismatch"},
        {MB_MISMATCH_ECHO, "write echo mismatch"},
        {MB_ECRC, "CRC error"},
        {MB_ETRUNCATED, "truncated frame"},
        {MB_EGARBAGE, "garbage on the line"},
        {2, "unknown status"},
        {-7, "unknown status"},
        {-14, "unknown status"},
        {-EINTR, "unknown status"},
        {-EAGAIN, "unknown status"},
        {-(GW_EMB_PROTOCOL - 1), "unknown status"},
        {-(GW_EMB_GARBAGE + 1), "unknown status"},
    };

    CU_ASSERT_EQUAL(MB_MATCH, MB_NEED_MORE);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        CU_ASSERT_STRING_EQUAL(mb_status_name(cases[i].status), cases[i].name);
}

/* Every error is one of sensorbridge's own codes: distinct, never an errno
 * value a caller could mistake for -EAGAIN or -EINTR, and named by
 * gw_strerror(). */
static void test_status_codes(void)
{
    static const struct {
        int code;
        const char *text;
    } cases[] = {
        {MB_EPROTOCOL, "Modbus: bad protocol id"},
        {MB_ELENGTH, "Modbus: bad length"},
        {MB_EBYTECOUNT, "Modbus: bad byte count"},
        {MB_EFUNCTION, "Modbus: unsupported function"},
        {MB_EEXCEPTION_LENGTH, "Modbus: bad exception length"},
        {MB_EQUANTITY, "Modbus: bad quantity"},
        {MB_MISMATCH_TID, "Modbus: transaction id mismatch"},
        {MB_MISMATCH_UNIT, "Modbus: unit id mismatch"},
        {MB_MISMATCH_FUNCTION, "Modbus: function mismatch"},
        {MB_MISMATCH_COUNT, "Modbus: byte count mismatch"},
        {MB_MISMATCH_ECHO, "Modbus: write echo mismatch"},
        {MB_ECRC, "Modbus: CRC error"},
        {MB_ETRUNCATED, "Modbus: truncated frame"},
        {MB_EGARBAGE, "Modbus: garbage on the line"},
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        CU_ASSERT(cases[i].code < -GW_EBASE);
        CU_ASSERT_STRING_EQUAL(gw_strerror(cases[i].code), cases[i].text);
        for (size_t j = 0; j < i; j++)
            CU_ASSERT_NOT_EQUAL(cases[i].code, cases[j].code);
    }
}

/* What came out of a stream: at most four frames, copied (the decoder's
 * pointers only live until the next feed). */
typedef struct {
    int frames;
    uint16_t tid[4];
    uint8_t fc[4];
    size_t data_len[4];
    uint8_t data[4][4];
} seen_t;

/* Feeds one read's worth of bytes, recording every frame, as an adapter does:
 * feed again with the rest after each frame. Returns the last status. */
static int feed_read(mb_decoder_t *d, const uint8_t *p, size_t n, seen_t *seen)
{
    for (;;) {
        mb_response_t r;
        size_t used = 999;
        int rc = mb_decoder_feed(d, p, n, &used, &r);

        CU_ASSERT(used <= n);
        if (rc != MB_FRAME) {
            CU_ASSERT(rc != MB_NEED_MORE || used == n);
            return rc;
        }
        CU_ASSERT_FATAL(used > 0);
        if (seen->frames < 4 && r.data_len <= 4) {
            seen->tid[seen->frames] = r.tid;
            seen->fc[seen->frames] = r.fc;
            seen->data_len[seen->frames] = r.data_len;
            memcpy(seen->data[seen->frames], r.data, r.data_len);
        }
        seen->frames++;
        p += used;
        n -= used;
        if (n == 0)
            return rc;
    }
}

static void two_frames(uint8_t *buf)
{
    memcpy(buf, reg_frame, sizeof(reg_frame));
    memcpy(buf + sizeof(reg_frame), bit_frame, sizeof(bit_frame));
}

static void check_two_frames(const seen_t *seen)
{
    CU_ASSERT_EQUAL(seen->frames, 2);
    CU_ASSERT_EQUAL(seen->tid[0], 0x1234);
    CU_ASSERT_EQUAL(seen->fc[0], 3);
    CU_ASSERT_EQUAL(seen->data_len[0], 4);
    CU_ASSERT_EQUAL(memcmp(seen->data[0], reg_frame + 9, 4), 0);
    CU_ASSERT_EQUAL(seen->tid[1], 0x1235);
    CU_ASSERT_EQUAL(seen->fc[1], 1);
    CU_ASSERT_EQUAL(seen->data_len[1], 2);
    CU_ASSERT_EQUAL(memcmp(seen->data[1], bit_frame + 9, 2), 0);
}

static void test_byte_by_byte(void)
{
    uint8_t buf[sizeof(reg_frame) + sizeof(bit_frame)];
    mb_decoder_t d;
    mb_response_t r;
    size_t used;
    seen_t seen = {0};

    two_frames(buf);
    mb_decoder_reset(&d);
    for (size_t i = 0; i < sizeof(buf); i++) {
        bool last = i == sizeof(reg_frame) - 1 || i == sizeof(buf) - 1;

        CU_ASSERT_EQUAL(feed_read(&d, buf + i, 1, &seen), last ? MB_FRAME : MB_NEED_MORE);
    }
    check_two_frames(&seen);
    CU_ASSERT_EQUAL(mb_decoder_feed(&d, NULL, 0, &used, &r), MB_NEED_MORE);
    CU_ASSERT_EQUAL(used, 0);
    CU_ASSERT_EQUAL(d.have, 0);
}

/* Every pair of split points, so every single split too (a == 0 or b == n). */
static void test_every_split(void)
{
    uint8_t buf[sizeof(reg_frame) + sizeof(bit_frame)];
    const size_t n = sizeof(buf);
    mb_decoder_t d;

    two_frames(buf);
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            seen_t seen = {0};

            mb_decoder_reset(&d);
            feed_read(&d, buf, a, &seen);
            feed_read(&d, buf + a, b - a, &seen);
            CU_ASSERT_EQUAL(feed_read(&d, buf + b, n - b, &seen), b == n ? MB_NEED_MORE : MB_FRAME);
            check_two_frames(&seen);
        }
    }
}

static void test_stops_after_one_frame(void)
{
    uint8_t buf[sizeof(reg_frame) + sizeof(bit_frame)];
    mb_decoder_t d;
    mb_response_t r;
    size_t used;

    two_frames(buf);
    mb_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_decoder_feed(&d, buf, sizeof(buf), &used, &r), MB_FRAME);
    CU_ASSERT_EQUAL(used, sizeof(reg_frame));
    CU_ASSERT_EQUAL(r.tid, 0x1234);
    CU_ASSERT_EQUAL(mb_register(&r, 1), 0xfffe);
    CU_ASSERT_EQUAL(mb_decoder_feed(&d, buf + used, sizeof(buf) - used, &used, &r), MB_FRAME);
    CU_ASSERT_EQUAL(used, sizeof(bit_frame));
    CU_ASSERT_EQUAL(r.tid, 0x1235);

    /* A reset drops a partial frame. */
    CU_ASSERT_EQUAL(mb_decoder_feed(&d, buf, 5, &used, &r), MB_NEED_MORE);
    CU_ASSERT_EQUAL(used, 5);
    mb_decoder_reset(&d);
    CU_ASSERT_EQUAL(mb_decoder_feed(&d, bit_frame, sizeof(bit_frame), &used, &r), MB_FRAME);
    CU_ASSERT_EQUAL(r.tid, 0x1235);
}

static const struct {
    uint8_t bytes[16];
    size_t len;
    int rc;
    size_t known; /* bytes after which the error is certain */
} malformed[] = {
    {{0, 1, 1, 0, 0, 5, 1, 3, 2, 0, 1}, 11, MB_EPROTOCOL, 3},
    {{0, 1, 0, 1, 0, 5, 1, 3, 2, 0, 1}, 11, MB_EPROTOCOL, 4},
    {{0, 1, 0, 0, 0, 0, 1, 3, 2, 0, 1}, 11, MB_ELENGTH, 6},
    {{0, 1, 0, 0, 0, 1, 1, 3}, 8, MB_ELENGTH, 6},
    {{0, 1, 0, 0, 0, 2, 1, 3}, 8, MB_ELENGTH, 8},
    {{0, 1, 0, 0, 0, 255, 1, 3, 252}, 9, MB_ELENGTH, 6},
    {{0, 1, 0, 0, 1, 0, 1, 3, 253}, 9, MB_ELENGTH, 5},
    {{0, 1, 0, 0, 255, 255, 1, 3}, 8, MB_ELENGTH, 5},
    {{0, 1, 0, 0, 0, 7, 1, 3, 3, 0, 1, 0, 2}, 13, MB_EBYTECOUNT, 9},
    {{0, 1, 0, 0, 0, 5, 1, 3, 4, 0, 1}, 11, MB_EBYTECOUNT, 9},
    {{0, 1, 0, 0, 0, 3, 1, 4, 1}, 9, MB_EBYTECOUNT, 9},
    {{0, 1, 0, 0, 0, 5, 1, 0, 2, 0, 1}, 11, MB_EFUNCTION, 8},
    {{0, 1, 0, 0, 0, 5, 1, 7, 2, 0, 1}, 11, MB_EFUNCTION, 8},
    {{0, 1, 0, 0, 0, 5, 1, 0x11, 2, 0, 1}, 11, MB_EFUNCTION, 8},
    {{0, 1, 0, 0, 0, 3, 1, 0x80, 1}, 9, MB_EFUNCTION, 8},
    {{0, 1, 0, 0, 0, 3, 1, 0x87, 1}, 9, MB_EFUNCTION, 8},
    /* A write response has no byte count: its MBAP length is always 6. */
    {{0, 1, 0, 0, 0, 5, 1, 5, 2, 0, 1}, 11, MB_ELENGTH, 8},
    {{0, 1, 0, 0, 0, 7, 1, 0x10, 0, 1, 0, 2, 0}, 13, MB_ELENGTH, 8},
    {{0, 1, 0, 0, 0, 4, 1, 0x85, 2, 0}, 10, MB_EEXCEPTION_LENGTH, 8},
    {{0, 1, 0, 0, 0, 2, 1, 0xff}, 8, MB_EFUNCTION, 8},
    {{0, 1, 0, 0, 0, 4, 1, 0x83, 2, 0}, 10, MB_EEXCEPTION_LENGTH, 8},
    {{0, 1, 0, 0, 0, 5, 1, 0x81, 2, 0, 0}, 11, MB_EEXCEPTION_LENGTH, 8},
    {{0, 1, 0, 0, 0, 2, 1, 0x84}, 8, MB_EEXCEPTION_LENGTH, 8},
};

/* Each class has its own code, known as soon as the bad byte is in (no wait
 * for a body), whole or byte by byte; it sticks until a reset. */
static void test_malformed(void)
{
    mb_decoder_t d;
    mb_response_t r;
    size_t used;

    for (size_t i = 0; i < ARRAY_LEN(malformed); i++) {
        const uint8_t *bytes = malformed[i].bytes;
        int want = malformed[i].rc;

        mb_decoder_reset(&d);
        CU_ASSERT_EQUAL(mb_decoder_feed(&d, bytes, malformed[i].len, &used, &r), want);
        CU_ASSERT(used >= malformed[i].known && used <= malformed[i].len);
        CU_ASSERT_EQUAL(mb_decoder_feed(&d, reg_frame, sizeof(reg_frame), &used, &r), want);
        CU_ASSERT_EQUAL(used, 0);

        mb_decoder_reset(&d);
        for (size_t k = 0; k + 1 < malformed[i].known; k++)
            CU_ASSERT_EQUAL(mb_decoder_feed(&d, bytes + k, 1, &used, &r), MB_NEED_MORE);
        CU_ASSERT_EQUAL(mb_decoder_feed(&d, bytes + malformed[i].known - 1, 1, &used, &r), want);
        CU_ASSERT_EQUAL(used, 1);

        mb_decoder_reset(&d);
        CU_ASSERT_EQUAL(mb_decoder_feed(&d, reg_frame, sizeof(reg_frame), &used, &r), MB_FRAME);
    }
}

static void test_match(void)
{
    mb_request_t req = {0x1234, 0x11, MB_FC_READ_HOLDING_REGISTERS, 0, 2};
    mb_decoder_t d;
    mb_response_t r, bad;
    size_t used;

    mb_decoder_reset(&d);
    CU_ASSERT_EQUAL_FATAL(mb_decoder_feed(&d, reg_frame, sizeof(reg_frame), &used, &r), MB_FRAME);
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MATCH);
    bad = r;
    bad.tid = 0x1233;
    CU_ASSERT_EQUAL(mb_match(&req, &bad), MB_MISMATCH_TID);
    bad = r;
    bad.unit = 0x12;
    CU_ASSERT_EQUAL(mb_match(&req, &bad), MB_MISMATCH_UNIT);
    bad = r;
    bad.fc = MB_FC_READ_INPUT_REGISTERS;
    CU_ASSERT_EQUAL(mb_match(&req, &bad), MB_MISMATCH_FUNCTION);
    bad.unit = 0;
    CU_ASSERT_EQUAL(mb_match(&req, &bad), MB_MISMATCH_UNIT);
    bad.tid = 0;
    CU_ASSERT_EQUAL(mb_match(&req, &bad), MB_MISMATCH_TID);
    req.quantity = 1;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_COUNT);
    req.quantity = 3;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_COUNT);

    /* An exception answers any quantity, but only the function asked. */
    bad = r;
    bad.exception = true;
    bad.exception_code = 4;
    bad.data = NULL;
    bad.data_len = 0;
    CU_ASSERT_EQUAL(mb_match(&req, &bad), MB_MATCH);
    bad.fc = MB_FC_READ_COILS;
    CU_ASSERT_EQUAL(mb_match(&req, &bad), MB_MISMATCH_FUNCTION);

    /* Bits: ten coils take two bytes, as do 9..16. */
    CU_ASSERT_EQUAL_FATAL(mb_decoder_feed(&d, bit_frame, sizeof(bit_frame), &used, &r), MB_FRAME);
    req = (mb_request_t){0x1235, 0x11, MB_FC_READ_COILS, 0, 10};
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MATCH);
    req.quantity = 9;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MATCH);
    req.quantity = 16;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MATCH);
    req.quantity = 8;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_COUNT);
    req.quantity = 17;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_COUNT);
    req.quantity = 1;
    req.fc = MB_FC_READ_HOLDING_REGISTERS;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_FUNCTION);
    req.fc = MB_FC_READ_DISCRETE_INPUTS;
    CU_ASSERT_EQUAL(mb_match(&req, &r), MB_MISMATCH_FUNCTION);
}

int modbus_codec_suite(void)
{
    CU_pSuite s = CU_add_suite("modbus_codec", NULL, NULL);

    if (!s || !CU_add_test(s, "encode: every function", test_encode_every_function) ||
        !CU_add_test(s, "encode: limits", test_encode_limits) ||
        !CU_add_test(s, "decode: registers", test_decode_registers) ||
        !CU_add_test(s, "decode: bits", test_decode_bits) ||
        !CU_add_test(s, "decode: largest frame", test_decode_largest_frame) ||
        !CU_add_test(s, "decode: exception", test_decode_exception) ||
        !CU_add_test(s, "exception names", test_exception_names) ||
        !CU_add_test(s, "status names", test_status_names) ||
        !CU_add_test(s, "status codes: own, distinct, named", test_status_codes) ||
        !CU_add_test(s, "decode: byte by byte", test_byte_by_byte) ||
        !CU_add_test(s, "decode: every split of two frames", test_every_split) ||
        !CU_add_test(s, "decode: one frame per feed", test_stops_after_one_frame) ||
        !CU_add_test(s, "decode: malformed frames", test_malformed) ||
        !CU_add_test(s, "match: each mismatch", test_match) || modbus_codec_server_tests(s) != 0 ||
        modbus_codec_write_tests(s) != 0)
        return -1;
    return 0;
}

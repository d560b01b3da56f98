/*
 * Tests of the Modbus TCP codec, server side (what the test peers and the
 * fan-in simulator use), each checked against the client side. Registered
 * into the modbus_codec suite by test_modbus_codec.c.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "adapters/modbus_codec.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

int modbus_codec_server_tests(CU_pSuite s);

static void test_decode_request(void)
{
    static const uint8_t good[] = {0x00, 0x07, 0x00, 0x00, 0x00, 0x06, 0x05,
                                   0x04, 0x01, 0x00, 0x00, 0x7d, 0xaa, 0xbb};
    static const struct {
        uint8_t bytes[MB_REQ_LEN];
        int rc;
        size_t known;
    } cases[] = {
        {{0, 1, 1, 0, 0, 6, 1, 3, 0, 0, 0, 1}, MB_EPROTOCOL, 3},
        {{0, 1, 0, 1, 0, 6, 1, 3, 0, 0, 0, 1}, MB_EPROTOCOL, 4},
        {{0, 1, 0, 0, 1, 6, 1, 3, 0, 0, 0, 1}, MB_ELENGTH, 5},
        {{0, 1, 0, 0, 0, 5, 1, 3, 0, 0, 0, 1}, MB_ELENGTH, 6},
        {{0, 1, 0, 0, 0, 7, 1, 3, 0, 0, 0, 1}, MB_ELENGTH, 6},
        {{0, 1, 0, 0, 0, 6, 1, 5, 0, 0, 0, 1}, MB_EFUNCTION, 12},
        {{0, 1, 0, 0, 0, 6, 1, 0x83, 0, 0, 0, 1}, MB_EFUNCTION, 12},
        {{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 0}, MB_EQUANTITY, 12},
        {{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 126}, MB_EQUANTITY, 12},
        {{0, 1, 0, 0, 0, 6, 1, 1, 0, 0, 0x07, 0xd1}, MB_EQUANTITY, 12},
        {{0, 1, 0, 0, 0, 6, 1, 4, 0xff, 0xff, 0, 2}, MB_EQUANTITY, 12},
        {{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 125}, MB_REQ_LEN, 12},
        {{0, 1, 0, 0, 0, 6, 1, 2, 0, 0, 0x07, 0xd0}, MB_REQ_LEN, 12},
        {{0, 1, 0, 0, 0, 6, 1, 4, 0xff, 0xff, 0, 1}, MB_REQ_LEN, 12},
    };
    mb_request_t req;

    for (size_t n = 0; n < MB_REQ_LEN; n++)
        CU_ASSERT_EQUAL(mb_decode_request(good, n, &req), 0);
    memset(&req, 0, sizeof(req));
    CU_ASSERT_EQUAL(mb_decode_request(good, sizeof(good), &req), MB_REQ_LEN);
    CU_ASSERT_EQUAL(req.tid, 7);
    CU_ASSERT_EQUAL(req.unit, 5);
    CU_ASSERT_EQUAL(req.fc, MB_FC_READ_INPUT_REGISTERS);
    CU_ASSERT_EQUAL(req.address, 0x0100);
    CU_ASSERT_EQUAL(req.quantity, 125);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        CU_ASSERT_EQUAL(mb_decode_request(cases[i].bytes, cases[i].known - 1, &req), 0);
        CU_ASSERT_EQUAL(mb_decode_request(cases[i].bytes, cases[i].known, &req), cases[i].rc);
        CU_ASSERT_EQUAL(mb_decode_request(cases[i].bytes, MB_REQ_LEN, &req), cases[i].rc);
    }
    /* A server answers a bad function with an exception: the request is filled. */
    memset(&req, 0, sizeof(req));
    CU_ASSERT_EQUAL(mb_decode_request(cases[5].bytes, MB_REQ_LEN, &req), MB_EFUNCTION);
    CU_ASSERT_EQUAL(req.tid, 1);
    CU_ASSERT_EQUAL(req.unit, 1);
    CU_ASSERT_EQUAL(req.fc, 5);
}

static void test_encode_response(void)
{
    static const uint8_t want_regs[] = {0x01, 0x02, 0x00, 0x00, 0x00, 0x07, 0x03,
                                        0x03, 0x04, 0x12, 0x34, 0xab, 0xcd};
    static const uint8_t want_bits[] = {0x00, 0x01, 0x00, 0x00, 0x00, 0x05,
                                        0x01, 0x01, 0x02, 0xff, 0x03};
    static const uint8_t want_exc[] = {0x0a, 0x0b, 0x00, 0x00, 0x00, 0x03, 0x0c, 0x84, 0x02};
    const uint16_t regs[] = {0x1234, 0xabcd};
    const uint8_t bits[] = {0xff, 0xff};
    mb_request_t req = {0x0102, 0x03, MB_FC_READ_HOLDING_REGISTERS, 0, 2};
    uint8_t buf[MB_MAX_ADU];

    CU_ASSERT_EQUAL(mb_encode_response(&req, regs, NULL, buf, sizeof(want_regs) - 1), -ENOSPC);
    CU_ASSERT_EQUAL(mb_encode_response(&req, NULL, bits, buf, sizeof(buf)), -EINVAL);
    CU_ASSERT_EQUAL(mb_encode_response(&req, regs, NULL, buf, sizeof(want_regs)), 13);
    CU_ASSERT_EQUAL(memcmp(buf, want_regs, sizeof(want_regs)), 0);

    req = (mb_request_t){0x0001, 0x01, MB_FC_READ_COILS, 0, 10};
    CU_ASSERT_EQUAL(mb_encode_response(&req, regs, NULL, buf, sizeof(buf)), -EINVAL);
    CU_ASSERT_EQUAL(mb_encode_response(&req, NULL, bits, buf, sizeof(buf)), 11);
    CU_ASSERT_EQUAL(memcmp(buf, want_bits, sizeof(want_bits)), 0);
    req.quantity = 16;
    CU_ASSERT_EQUAL(mb_encode_response(&req, NULL, bits, buf, sizeof(buf)), 11);
    CU_ASSERT_EQUAL(buf[10], 0xff);
    req.quantity = 0;
    CU_ASSERT_EQUAL(mb_encode_response(&req, NULL, bits, buf, sizeof(buf)), -EINVAL);

    req = (mb_request_t){0x0a0b, 0x0c, MB_FC_READ_INPUT_REGISTERS, 0, 1};
    CU_ASSERT_EQUAL(mb_encode_exception(&req, 2, buf, 8), -ENOSPC);
    CU_ASSERT_EQUAL(mb_encode_exception(&req, 2, buf, 9), 9);
    CU_ASSERT_EQUAL(memcmp(buf, want_exc, sizeof(want_exc)), 0);
    req.fc = 5; /* a server refusing a function it does not serve */
    CU_ASSERT_EQUAL(mb_encode_exception(&req, 1, buf, sizeof(buf)), 9);
    CU_ASSERT_EQUAL(buf[7], 0x85);
    req.fc = 0x83;
    CU_ASSERT_EQUAL(mb_encode_exception(&req, 1, buf, sizeof(buf)), -EINVAL);
    req.fc = 0;
    CU_ASSERT_EQUAL(mb_encode_exception(&req, 1, buf, sizeof(buf)), -EINVAL);
    req.fc = MB_FC_READ_COILS;
    CU_ASSERT_EQUAL(mb_encode_exception(NULL, 1, buf, sizeof(buf)), -EINVAL);
    CU_ASSERT_EQUAL(mb_encode_exception(&req, 1, NULL, sizeof(buf)), -EINVAL);
    CU_ASSERT_EQUAL(mb_encode_response(NULL, NULL, bits, buf, sizeof(buf)), -EINVAL);
    CU_ASSERT_EQUAL(mb_encode_response(&req, NULL, bits, NULL, sizeof(buf)), -EINVAL);
}

/* Client request -> server decode -> server response -> client decode. */
static void test_round_trip(void)
{
    static const mb_request_t reqs[] = {
        {0x0101, 1, MB_FC_READ_COILS, 100, 13},
        {0x0202, 2, MB_FC_READ_DISCRETE_INPUTS, 0, MB_MAX_BITS},
        {0x0303, 3, MB_FC_READ_HOLDING_REGISTERS, 40000, MB_MAX_REGISTERS},
        {0xfffe, 247, MB_FC_READ_INPUT_REGISTERS, 65535, 1},
    };
    uint16_t regs[MB_MAX_REGISTERS];
    uint8_t bits[MB_MAX_BITS / 8];
    uint8_t wire[MB_MAX_ADU];
    mb_decoder_t d;

    for (size_t i = 0; i < ARRAY_LEN(regs); i++)
        regs[i] = (uint16_t)(i * 517 + 3);
    for (size_t i = 0; i < ARRAY_LEN(bits); i++)
        bits[i] = (uint8_t)(i * 37 + 11);
    mb_decoder_reset(&d);
    for (size_t i = 0; i < ARRAY_LEN(reqs); i++) {
        const mb_request_t *req = &reqs[i];
        bool is_bits = req->fc <= MB_FC_READ_DISCRETE_INPUTS;
        size_t count = is_bits ? (req->quantity + 7u) / 8 : req->quantity * 2u;
        mb_request_t got;
        mb_response_t r;
        size_t used;

        CU_ASSERT_EQUAL_FATAL(mb_encode_read(req, wire, sizeof(wire)), MB_REQ_LEN);
        CU_ASSERT_EQUAL_FATAL(mb_decode_request(wire, MB_REQ_LEN, &got), MB_REQ_LEN);
        CU_ASSERT(got.tid == req->tid && got.unit == req->unit && got.fc == req->fc &&
                  got.address == req->address && got.quantity == req->quantity);
        CU_ASSERT_EQUAL(mb_encode_response(&got, regs, bits, wire, sizeof(wire)), (int)(9 + count));
        CU_ASSERT_EQUAL_FATAL(mb_decoder_feed(&d, wire, 9 + count, &used, &r), MB_FRAME);
        CU_ASSERT_EQUAL(used, 9 + count);
        CU_ASSERT_EQUAL(mb_match(req, &r), MB_MATCH);
        for (size_t k = 0; k < req->quantity; k++) {
            if (is_bits) {
                CU_ASSERT_EQUAL(mb_bit(&r, k), (bits[k / 8] >> (k % 8)) & 1);
            } else {
                CU_ASSERT_EQUAL(mb_register(&r, k), regs[k]);
            }
        }
        for (size_t k = req->quantity; is_bits && k < count * 8; k++)
            CU_ASSERT_FALSE(mb_bit(&r, k));

        CU_ASSERT_EQUAL(mb_encode_exception(&got, 6, wire, sizeof(wire)), 9);
        CU_ASSERT_EQUAL_FATAL(mb_decoder_feed(&d, wire, 9, &used, &r), MB_FRAME);
        CU_ASSERT_TRUE(r.exception);
        CU_ASSERT_EQUAL(r.exception_code, 6);
        CU_ASSERT_EQUAL(mb_match(req, &r), MB_MATCH);
    }
}

int modbus_codec_server_tests(CU_pSuite s)
{
    if (!CU_add_test(s, "server: decode request", test_decode_request) ||
        !CU_add_test(s, "server: encode response", test_encode_response) ||
        !CU_add_test(s, "server: round trip with the client", test_round_trip))
        return -1;
    return 0;
}

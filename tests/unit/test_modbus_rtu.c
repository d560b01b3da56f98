/*
 * Tests of the Modbus RTU framer: the CRC and the MBAP <-> RTU conversion
 * against frames libmodbus 3.1.6 put on a serial line (its RTU client's
 * requests and its RTU server's responses, captured from a pty) and the
 * well-known example frames of the Modbus literature; the hunting decoder on
 * whole frames, every split, noise, damage, back-to-back frames and a full
 * window (test_modbus_rtu_decode.c). A live libmodbus server is in
 * test_modbus_rtu_peer.c. One suite, modbus_rtu.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "adapters/modbus_codec.h"
#include "adapters/modbus_rtu.h"
#include "gateway/error.h"
#include "modbus_rtu_test.h"
#include "suites.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The shared frames: modbus_rtu_test.h says what each is. */
const uint8_t mbr_regs_frame[] = {0x01, 0x03, 0x14, 0x10, 0x00, 0x11, 0x11, 0x12, 0x22,
                                  0x13, 0x33, 0x14, 0x44, 0x15, 0x55, 0x16, 0x66, 0x17,
                                  0x77, 0x18, 0x88, 0x19, 0x99, 0x8F, 0xA7};
const uint8_t mbr_coils_frame[] = {0x01, 0x01, 0x05, 0x24, 0x49, 0x92, 0x24, 0x09, 0x8D, 0xE2};
const uint8_t mbr_inputs_frame[] = {0x01, 0x02, 0x02, 0x55, 0x01, 0x47, 0x28};
const uint8_t mbr_input_reg_frame[] = {0x01, 0x04, 0x02, 0xEF, 0xF8, 0xF4, 0x82};
const uint8_t mbr_exception_frame[] = {0x01, 0x83, 0x02, 0xC0, 0xF1};

static const uint16_t two_regs[] = {0x000A, 0x0102};
static const bool ten_coils[] = {1, 0, 1, 1, 0, 0, 1, 1, 1, 0};
static const uint16_t reg_3 = 3;
static const bool on = true;
const mbr_write_case_t mbr_writes[MBR_WRITES] = {
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
 * simplymodbus.ca example, the second the usual CRC example. */
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

const uint8_t mbr_simply_frame[] = {0x11, 0x03, 0x06, 0xAE, 0x41, 0x56,
                                    0x52, 0x43, 0x40, 0x49, 0xAD};

static void check_crc_of(const uint8_t *f, size_t n)
{
    CU_ASSERT_EQUAL(mb_crc16(f, n - 2), f[n - 2] | f[n - 1] << 8);
    /* A frame followed by its CRC, low byte first, leaves no remainder. */
    CU_ASSERT_EQUAL(mb_crc16(f, n), 0);
}

static void test_crc(void)
{
    static const uint8_t vector[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A};

    CU_ASSERT_EQUAL(mb_crc16(vector, sizeof(vector)), 0xCDC5); /* C5 CD on the wire */
    CU_ASSERT_EQUAL(mb_crc16(NULL, 0), 0xFFFF);
    for (size_t i = 0; i < ARRAY_LEN(reads); i++)
        check_crc_of(reads[i].rtu, sizeof(reads[i].rtu));
    for (size_t i = 0; i < ARRAY_LEN(mbr_writes); i++) {
        check_crc_of(mbr_writes[i].req, mbr_writes[i].req_len);
        check_crc_of(mbr_writes[i].resp, sizeof(mbr_writes[i].resp));
    }
    check_crc_of(mbr_regs_frame, sizeof(mbr_regs_frame));
    check_crc_of(mbr_coils_frame, sizeof(mbr_coils_frame));
    check_crc_of(mbr_inputs_frame, sizeof(mbr_inputs_frame));
    check_crc_of(mbr_input_reg_frame, sizeof(mbr_input_reg_frame));
    check_crc_of(mbr_exception_frame, sizeof(mbr_exception_frame));
    check_crc_of(mbr_simply_frame, sizeof(mbr_simply_frame));
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
    for (size_t i = 0; i < ARRAY_LEN(mbr_writes); i++)
        check_from_mbap(adu, mb_encode_write(&mbr_writes[i].w, adu, sizeof(adu)), mbr_writes[i].req,
                        mbr_writes[i].req_len);
}

/* The server side's encoders give the bytes libmodbus's RTU server sent. */
static void test_from_mbap_responses(void)
{
    mb_request_t req = {7, 1, MB_FC_READ_HOLDING_REGISTERS, 0, 10};
    uint16_t regs[10];
    uint8_t adu[MB_MAX_ADU];

    for (size_t i = 0; i < ARRAY_LEN(regs); i++)
        regs[i] = (uint16_t)(0x1000 + 0x111 * i);
    check_from_mbap(adu, mb_encode_response(&req, regs, NULL, adu, sizeof(adu)), mbr_regs_frame,
                    sizeof(mbr_regs_frame));
    check_from_mbap(adu, mb_encode_exception(&req, 2, adu, sizeof(adu)), mbr_exception_frame,
                    sizeof(mbr_exception_frame));
    for (size_t i = 0; i < ARRAY_LEN(mbr_writes); i++) {
        mb_write_t w = mbr_writes[i].w;

        if (w.fc == MB_FC_WRITE_SINGLE_COIL)
            w.address = 0x2C;
        check_from_mbap(adu, mb_encode_write_response(&w, adu, sizeof(adu)), mbr_writes[i].resp,
                        sizeof(mbr_writes[i].resp));
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
    uint8_t adu[MB_MAX_ADU], bad[sizeof(mbr_regs_frame)], rtu4[4] = {0x11, 0x07};
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
    for (size_t i = 0; i < ARRAY_LEN(mbr_writes); i++) {
        int len = mb_rtu_to_mbap(mbr_writes[i].req, mbr_writes[i].req_len, 9, adu, sizeof(adu));

        check_round_trip(mbr_writes[i].req, mbr_writes[i].req_len, 0);
        check_round_trip(mbr_writes[i].resp, sizeof(mbr_writes[i].resp), 0xFFFF);
        CU_ASSERT_EQUAL(mb_decode_write_request(adu, (size_t)len, &w, &vals), len);
        CU_ASSERT(w.fc == mbr_writes[i].w.fc && w.address == mbr_writes[i].w.address);
        CU_ASSERT_EQUAL(w.quantity, mbr_writes[i].w.quantity);
    }
    check_round_trip(mbr_regs_frame, sizeof(mbr_regs_frame), 1);
    check_round_trip(mbr_exception_frame, sizeof(mbr_exception_frame), 2);
    check_round_trip(mbr_simply_frame, sizeof(mbr_simply_frame), 3);

    /* Every single-bit error is caught by the CRC. */
    for (size_t bit = 0; bit < 8 * sizeof(mbr_regs_frame); bit++) {
        memcpy(bad, mbr_regs_frame, sizeof(bad));
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CU_ASSERT_EQUAL(mb_rtu_to_mbap(bad, sizeof(bad), 0, adu, sizeof(adu)), MB_ECRC);
    }
    /* The smallest frame is 4 bytes, the largest MB_RTU_MAX_ADU. */
    rtu4[2] = (uint8_t)mb_crc16(rtu4, 2);
    rtu4[3] = (uint8_t)(mb_crc16(rtu4, 2) >> 8);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(rtu4, 4, 0, adu, sizeof(adu)), 8);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(rtu4, 3, 0, adu, sizeof(adu)), -EINVAL);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(mbr_regs_frame, MB_RTU_MAX_ADU + 1, 0, adu, sizeof(adu)),
                    -EINVAL);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(NULL, 4, 0, adu, sizeof(adu)), -EINVAL);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(rtu4, 4, 0, NULL, sizeof(adu)), -EINVAL);
    /* A wrong CRC is reported before a small buffer. */
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(bad, sizeof(bad), 0, adu, 1), MB_ECRC);
}

/* The largest frame: a read response of 251 bytes. */
void mbr_make_largest(uint8_t *rtu)
{
    uint16_t crc;

    rtu[0] = 0x01;
    rtu[1] = MB_FC_READ_HOLDING_REGISTERS;
    rtu[2] = 251;
    for (size_t i = 3; i < MB_RTU_MAX_ADU - 2; i++)
        rtu[i] = (uint8_t)(i * 7);
    crc = mb_crc16(rtu, MB_RTU_MAX_ADU - 2);
    rtu[MB_RTU_MAX_ADU - 2] = (uint8_t)crc;
    rtu[MB_RTU_MAX_ADU - 1] = (uint8_t)(crc >> 8);
}

static void test_to_mbap_largest(void)
{
    uint8_t rtu[MB_RTU_MAX_ADU], adu[MB_MAX_ADU], back[MB_RTU_MAX_ADU];

    mbr_make_largest(rtu);
    CU_ASSERT_EQUAL(mb_rtu_to_mbap(rtu, sizeof(rtu), 5, adu, sizeof(adu)), MB_MAX_ADU);
    CU_ASSERT_EQUAL(adu[5], 254);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(adu, sizeof(adu), back, sizeof(back)), MB_RTU_MAX_ADU);
    CU_ASSERT_EQUAL(memcmp(back, rtu, sizeof(rtu)), 0);
    CU_ASSERT_EQUAL(mb_rtu_from_mbap(adu, sizeof(adu), back, MB_RTU_MAX_ADU - 1), -ENOSPC);
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
        {"codes: values and names", test_codes},
    };
    CU_pSuite s = CU_add_suite("modbus_rtu", NULL, NULL);

    if (!s || SB_ADD_TESTS(s, tests) != 0 || modbus_rtu_decode_tests(s) != 0 ||
        modbus_rtu_peer_tests(s) != 0)
        return -1;
    return 0;
}

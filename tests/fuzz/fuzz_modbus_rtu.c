/*
 * libFuzzer target for the Modbus RTU framer.
 *
 * Input: the first byte seeds the sizes of the chunks the rest is fed in
 * (0 to 64 bytes, or up to 700 when its high bit is set, past the window);
 * the rest is the byte stream from a serial line. After each chunk the
 * decoder is drained (fed NULL, 0 until MB_NEED_MORE), and every frame it
 * returns is checked against the stream itself and against a scanner written
 * here without the library: its bytes are in the stream where skipped says,
 * its CRC is right, no earlier offset the decoder could see held a frame, and
 * its MBAP form converts back to the same RTU bytes. At every step bytes are
 * conserved (fed = skipped + frames + dropped + pending), the window holds
 * exactly the newest bytes not yet taken, and the verdict is one of its four.
 * Then the same input, read as an MBAP ADU, as a read request and as a write
 * request, goes through mb_rtu_from_mbap() and mb_rtu_to_mbap() and back.
 * Any violated invariant aborts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/modbus_codec.h"
#include "adapters/modbus_rtu.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define WINDOW (2 * MB_RTU_MAX_ADU)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reference: the length of a complete, right response frame at p (n
 * bytes available), or 0. Function codes from a table, CRC bitwise from the
 * first principles of the spec. A frame no longer than `known` bytes was
 * checked before (the bytes never change) and is not looked at again: 0. */
static size_t ref_frame(const uint8_t *p, size_t n, size_t known)
{
    static const uint8_t fcs[] = {1, 2, 3, 4, 5, 6, 15, 16};
    uint8_t fc;
    size_t len = 0;
    uint16_t crc = 0xFFFF;

    if (n < 5)
        return 0;
    fc = p[1] & 0x7F;
    if (!memchr(fcs, fc, sizeof(fcs)))
        return 0;
    if (p[1] & 0x80)
        len = 5;
    else if (fc >= 5)
        len = 8;
    else if (p[2] >= 1 && p[2] <= 251)
        len = 5u + p[2];
    if (len == 0 || len > n || len <= known)
        return 0;
    for (size_t i = 0; i < len - 2; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (crc >> 1) ^ 0xA001 : crc >> 1;
    }
    return p[len - 2] == (crc & 0xFF) && p[len - 1] == crc >> 8 ? len : 0;
}

/* The bytes a response must have come from, rebuilt from *r alone. */
static size_t rebuild(const mb_response_t *r, uint8_t *out)
{
    out[0] = r->unit;
    out[1] = (uint8_t)(r->fc | (r->exception ? 0x80 : 0));
    if (r->exception) {
        out[2] = r->exception_code;
        return 3;
    }
    if (r->fc >= MB_FC_WRITE_SINGLE_COIL) {
        out[2] = (uint8_t)(r->address >> 8);
        out[3] = (uint8_t)r->address;
        out[4] = (uint8_t)(r->value >> 8);
        out[5] = (uint8_t)r->value;
        return 6;
    }
    out[2] = (uint8_t)r->data_len;
    memcpy(out + 3, r->data, r->data_len);
    return 3 + r->data_len;
}

/* Bytes at stream offset j that checks up to stream offset `checked` saw. */
static size_t known(size_t j, size_t checked)
{
    return checked > j ? checked - j : 0;
}

/* A frame the decoder returned: it lies in the stream at `start`, it is
 * right, nothing the decoder could see before it was a frame, and its MBAP
 * form (in the decoder) converts back to it. Returns its length. */
static size_t check_frame(const mb_rtu_decoder_t *d, const mb_response_t *r, const uint8_t *p,
                          size_t start, size_t seen_from, size_t fed, size_t checked)
{
    uint8_t body[MB_RTU_MAX_ADU], rtu[MB_RTU_MAX_ADU];
    size_t n, len;
    uint16_t crc;

    CHECK(r->tid == 0 && r->data_len <= 251);
    CHECK(r->data ? r->data >= d->mbap.buf && r->data + r->data_len <= d->mbap.buf + MB_MAX_ADU
                  : r->data_len == 0);
    CHECK(!r->exception || (r->data == NULL && r->address == 0 && r->value == 0));
    n = rebuild(r, body);
    len = n + 2;
    CHECK(start + len <= fed && memcmp(p + start, body, n) == 0);
    crc = mb_crc16(body, n);
    CHECK(p[start + n] == (uint8_t)crc && p[start + n + 1] == (uint8_t)(crc >> 8));
    CHECK(ref_frame(p + start, fed - start, 0) == len);
    for (size_t j = seen_from; j < start; j++)
        CHECK(ref_frame(p + j, fed - j, known(j, checked)) == 0);
    CHECK(mb_rtu_from_mbap(d->mbap.buf, d->mbap.have, rtu, sizeof(rtu)) == (int)len);
    CHECK(memcmp(rtu, p + start, len) == 0);
    return len;
}

static bool verdict_allowed(int v)
{
    return v == 0 || v == MB_ECRC || v == MB_ETRUNCATED || v == MB_EGARBAGE;
}

static size_t next_chunk(uint8_t seed, uint32_t *rng, size_t left)
{
    size_t max = (seed & 0x80) ? 700 : (seed & 0x3F) + 1, n;

    *rng ^= *rng << 13;
    *rng ^= *rng >> 17;
    *rng ^= *rng << 5;
    n = *rng % (max + 1);
    return n < left ? n : left;
}

static void run_stream(const uint8_t *p, size_t n, uint8_t seed)
{
    mb_rtu_decoder_t d;
    uint32_t rng = seed * 2654435761u + 1;
    size_t fed = 0, taken = 0; /* taken: skipped and framed bytes, all frames so far */
    size_t checked = 0;        /* no frame ends at or before it in the bytes still held */
    mb_response_t r;

    memset(&d, 0xA5, sizeof(d)); /* the reset must set everything it reads */
    mb_rtu_decoder_reset(&d);
    while (fed < n) {
        size_t c = next_chunk(seed, &rng, n - fed);
        int rc = mb_rtu_feed(&d, c ? p + fed : NULL, c, &r);

        fed += c;
        for (; rc == MB_FRAME; rc = mb_rtu_feed(&d, NULL, 0, &r)) {
            size_t seen_from = fed - (fed - taken < WINDOW ? fed - taken : WINDOW);
            size_t start = taken + d.skipped;

            CHECK(start >= seen_from);
            taken = start + check_frame(&d, &r, p, start, seen_from, fed, checked);
            CHECK(d.dropped == 0);
        }
        CHECK(rc == MB_NEED_MORE);
        CHECK(fed == taken + d.dropped + mb_rtu_pending(&d));
        CHECK(mb_rtu_pending(&d) <= WINDOW && d.have == mb_rtu_pending(&d));
        CHECK(memcmp(d.win, p + fed - d.have, d.have) == 0);
        for (size_t j = fed - d.have; j < fed; j++)
            CHECK(ref_frame(p + j, fed - j, known(j, checked)) == 0);
        checked = fed;
        CHECK(verdict_allowed(mb_rtu_verdict(&d)));
        CHECK((mb_rtu_verdict(&d) == 0) == (d.have == 0));
    }
}

/* MBAP -> RTU -> MBAP gives the same ADU back; what from_mbap refuses has a
 * reason it may refuse for. */
static void check_mbap(const uint8_t *adu, size_t len)
{
    uint8_t rtu[MB_RTU_MAX_ADU], back[MB_MAX_ADU];
    int n = mb_rtu_from_mbap(adu, len, rtu, sizeof(rtu));
    bool valid =
        len >= 8 && adu[2] == 0 && adu[3] == 0 && (size_t)(adu[4] << 8 | adu[5]) + 6 == len;

    if (!valid) {
        CHECK(n == -EINVAL);
        return;
    }
    if (len - 4 > sizeof(rtu)) {
        CHECK(n == -ENOSPC);
        return;
    }
    CHECK(n == (int)len - 4 && mb_crc16(rtu, (size_t)n) == 0);
    CHECK(mb_rtu_from_mbap(adu, len, rtu, (size_t)n - 1) == -ENOSPC);
    CHECK(mb_rtu_to_mbap(rtu, (size_t)n, (uint16_t)(adu[0] << 8 | adu[1]), back, sizeof(back)) ==
          (int)len);
    CHECK(memcmp(back, adu, len) == 0);
    rtu[(size_t)n / 2] ^= 0x20;
    CHECK(mb_rtu_to_mbap(rtu, (size_t)n, 0, back, sizeof(back)) == MB_ECRC);
}

/* An encoded response, in RTU form, is found by a fresh decoder at once. */
static void check_found(const uint8_t *adu, int len)
{
    mb_rtu_decoder_t d;
    uint8_t rtu[MB_RTU_MAX_ADU];
    mb_response_t r;
    int n;

    if (len <= 0)
        return;
    n = mb_rtu_from_mbap(adu, (size_t)len, rtu, sizeof(rtu));
    CHECK(n == len - 4);
    mb_rtu_decoder_reset(&d);
    CHECK(mb_rtu_feed(&d, rtu, (size_t)n, &r) == MB_FRAME);
    CHECK(d.skipped == 0 && d.have == 0);
    CHECK(memcmp(d.mbap.buf + 2, adu + 2, (size_t)len - 2) == 0);
}

/* Requests and their answers built from the input's bytes, through the
 * encoders, both ways through RTU. */
static void check_encoders(const uint8_t *p, size_t n)
{
    static mb_write_values_t vals;
    uint8_t adu[MB_MAX_ADU];
    mb_request_t req;
    mb_write_t w;

    if (n < 8)
        return;
    req = (mb_request_t){(uint16_t)(p[0] << 8 | p[1]), p[2], (uint8_t)(p[3] % 4 + 1),
                         (uint16_t)(p[4] << 8 | p[5]), (uint16_t)(p[6] << 8 | p[7])};
    if (mb_encode_read(&req, adu, sizeof(adu)) == MB_REQ_LEN) {
        uint16_t regs[MB_MAX_REGISTERS];
        uint8_t bits[MB_MAX_BITS / 8];

        check_mbap(adu, MB_REQ_LEN);
        for (size_t i = 0; i < MB_MAX_REGISTERS; i++)
            regs[i] = (uint16_t)(p[i % n] * 257u + i);
        for (size_t i = 0; i < sizeof(bits); i++)
            bits[i] = p[(i + 8) % n];
        check_found(adu, mb_encode_response(&req, regs, bits, adu, sizeof(adu)));
        check_found(adu, mb_encode_exception(&req, p[3], adu, sizeof(adu)));
    }
    /* The input as a write request a server decoded, and its answers. */
    if (mb_decode_write_request(p, n, &w, &vals) > 0) {
        int len = mb_encode_write(&w, adu, sizeof(adu));

        CHECK(len > 0);
        check_mbap(adu, (size_t)len);
        check_found(adu, mb_encode_write_response(&w, adu, sizeof(adu)));
        req.fc = w.fc;
        check_found(adu, mb_encode_exception(&req, p[n - 1], adu, sizeof(adu)));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    run_stream(data + 1, size - 1, data[0]);
    check_mbap(data + 1, size - 1);
    check_encoders(data + 1, size - 1);
    return 0;
}

/*
 * libFuzzer target for the Modbus TCP response decoder, read and write
 * responses alike (and, in passing, the read and write request decoders a
 * server uses).
 *
 * Input: the first byte picks how the rest of the input is cut into reads;
 * the rest is the byte stream from a device. The stream is decoded three
 * times: in the chunks the first byte picks, all at once, and byte by byte.
 * Each pass feeds its chunks as an adapter would (feed the remainder again
 * after each frame, reset after an error) and checks every frame against the
 * decoder's buffer. The three passes must agree on every frame before the
 * first error and on that error's code, since a decoder whose result depends
 * on how TCP happened to split the stream is broken even if it never crashes.
 * Any violated invariant aborts.
 *
 * Build (see docs/modbus.md):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. adapters/modbus_codec.c \
 *       tests/fuzz/fuzz_modbus_response.c -o fuzz_mb
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/modbus_codec.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

enum { SPLIT_SEEDED, SPLIT_NONE, SPLIT_BYTES };

/* What a pass saw before its first error; passes must agree on all of it. */
typedef struct {
    size_t frames;
    uint32_t hash; /* FNV-1a over each frame's end offset and bytes */
    int first_error;
    size_t tail; /* bytes of an unfinished frame at the end */
} pass_log_t;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 16777619u;
    return h;
}

/* The accessors read exactly the frame's data and nothing past it. */
static void check_accessors(const mb_response_t *r)
{
    for (size_t i = 0; i < r->data_len / 2 + 2; i++)
        CHECK(mb_register(r, i) == (i < r->data_len / 2 ? be16(r->data + 2 * i) : (uint16_t)0));
    for (size_t i = 0; i < r->data_len * 8 + 9; i++)
        CHECK(mb_bit(r, i) == (i / 8 < r->data_len ? (r->data[i / 8] >> (i % 8)) & 1 : 0));
}

static bool is_write(uint8_t fc)
{
    return fc == MB_FC_WRITE_SINGLE_COIL || fc == MB_FC_WRITE_SINGLE_REGISTER ||
           fc == MB_FC_WRITE_MULTIPLE_COILS || fc == MB_FC_WRITE_MULTIPLE_REGISTERS;
}

/* A write response: the request it echoes matches, another address does not,
 * and the server side encodes the same 12 bytes from it. */
static void check_write_answer(const mb_decoder_t *d, const mb_response_t *r)
{
    uint16_t reg = r->value;
    bool bit = r->value == 0xFF00;
    bool multi = r->fc == MB_FC_WRITE_MULTIPLE_COILS || r->fc == MB_FC_WRITE_MULTIPLE_REGISTERS;
    mb_write_t w = {r->tid, r->unit, r->fc, r->address, multi ? r->value : 1, &reg, &bit};
    unsigned max = r->fc == MB_FC_WRITE_MULTIPLE_COILS ? MB_MAX_WRITE_BITS : MB_MAX_WRITE_REGISTERS;
    bool valid = r->fc == MB_FC_WRITE_SINGLE_COIL ? r->value == 0xFF00 || r->value == 0
                 : multi ? r->value >= 1 && r->value <= max && r->address + r->value <= 65536
                         : true;
    uint8_t out[MB_WRITE_RESP_LEN];

    CHECK(mb_match_write(&w, r) ==
          (r->fc == MB_FC_WRITE_SINGLE_COIL && !valid ? MB_MISMATCH_ECHO : MB_MATCH));
    if (valid) {
        CHECK(mb_encode_write_response(&w, out, sizeof(out) - 1) == -ENOSPC);
        CHECK(mb_encode_write_response(&w, out, sizeof(out)) == MB_WRITE_RESP_LEN);
        CHECK(memcmp(out, d->buf, MB_WRITE_RESP_LEN) == 0);
    } else if (multi) { /* a quantity no request could have */
        CHECK(mb_encode_write_response(&w, out, sizeof(out)) == -EINVAL);
    }
    w.address++;
    CHECK(mb_match_write(&w, r) == MB_MISMATCH_ECHO);
}

/* A request this frame answers must match, and the server side must encode
 * the same frame again from what the client side decoded. */
static void check_answer(const mb_decoder_t *d, const mb_response_t *r, uint8_t seed)
{
    mb_request_t req = {r->tid, r->unit, r->fc, 0, 0};
    bool bits = r->fc <= MB_FC_READ_DISCRETE_INPUTS;
    uint16_t regs[MB_MAX_ADU / 2];
    uint8_t out[MB_MAX_ADU], last;

    if (is_write(r->fc) && !r->exception) {
        check_write_answer(d, r);
        return;
    }
    if (r->exception) {
        mb_write_t w = {r->tid, r->unit, r->fc, 0, 1, regs, NULL};

        req.quantity = 1;
        CHECK((is_write(r->fc) ? mb_match_write(&w, r) : mb_match(&req, r)) == MB_MATCH);
        CHECK(mb_encode_exception(&req, r->exception_code, out, 8) == -ENOSPC);
        CHECK(mb_encode_exception(&req, r->exception_code, out, sizeof(out)) == 9);
        CHECK(memcmp(out, d->buf, 9) == 0);
        return;
    }
    if (r->data_len == 0 || r->data_len > 250 || (!bits && r->data_len % 2))
        return;
    req.quantity = (uint16_t)(bits ? r->data_len * 8 - seed % 8 : r->data_len / 2);
    CHECK(mb_match(&req, r) == MB_MATCH);
    req.quantity = (uint16_t)(req.quantity + (bits ? 8 : 1));
    CHECK(mb_match(&req, r) == MB_MISMATCH_COUNT);
    req.quantity = (uint16_t)(req.quantity - (bits ? 8 : 1));
    for (size_t i = 0; !bits && i < req.quantity; i++)
        regs[i] = mb_register(r, i);
    CHECK(mb_encode_response(&req, regs, r->data, out, d->have - 1) == -ENOSPC);
    CHECK(mb_encode_response(&req, regs, r->data, out, sizeof(out)) == (int)d->have);
    /* Only the padding bits of a bit response may differ: they are sent as 0. */
    last = d->buf[d->have - 1];
    if (bits && req.quantity % 8)
        last &= (uint8_t)((1u << (req.quantity % 8)) - 1);
    CHECK(memcmp(out, d->buf, d->have - 1) == 0 && out[d->have - 1] == last);
}

static void check_frame(const mb_decoder_t *d, const mb_response_t *r, uint8_t seed)
{
    static const mb_request_t fixed = {0x0001, 0x01, MB_FC_READ_HOLDING_REGISTERS, 0, 2};
    int want;

    CHECK(d->have >= 9 && d->have <= MB_MAX_ADU && d->have == 6u + be16(d->buf + 4));
    CHECK(be16(d->buf + 2) == 0);
    CHECK(r->tid == be16(d->buf) && r->unit == d->buf[6]);
    CHECK((r->fc >= MB_FC_READ_COILS && r->fc <= MB_FC_READ_INPUT_REGISTERS) || is_write(r->fc));
    CHECK(d->buf[7] == (r->exception ? (0x80 | r->fc) : r->fc));
    if (r->exception) {
        CHECK(d->have == 9 && r->exception_code == d->buf[8]);
        CHECK(r->data == NULL && r->data_len == 0 && r->address == 0 && r->value == 0);
    } else if (is_write(r->fc)) {
        CHECK(d->have == MB_WRITE_RESP_LEN && r->exception_code == 0);
        CHECK(r->data == NULL && r->data_len == 0);
        CHECK(r->address == be16(d->buf + 8) && r->value == be16(d->buf + 10));
    } else {
        CHECK(r->address == 0 && r->value == 0);
        CHECK(r->exception_code == 0 && r->data == d->buf + 9);
        CHECK(r->data_len == d->buf[8] && 9 + r->data_len == d->have);
        CHECK(r->data + r->data_len <= d->buf + sizeof(d->buf));
    }
    want = r->tid != fixed.tid                ? MB_MISMATCH_TID
           : r->unit != fixed.unit            ? MB_MISMATCH_UNIT
           : r->fc != fixed.fc                ? MB_MISMATCH_FUNCTION
           : r->exception || r->data_len == 4 ? MB_MATCH
                                              : MB_MISMATCH_COUNT;
    CHECK(mb_match(&fixed, r) == want);
    check_accessors(r);
    check_answer(d, r, seed);
}

static size_t next_chunk(int split, uint8_t seed, uint32_t *rng, size_t left)
{
    size_t n;

    if (split == SPLIT_NONE)
        return left;
    if (split == SPLIT_BYTES)
        return 1;
    *rng ^= *rng << 13;
    *rng ^= *rng >> 17;
    *rng ^= *rng << 5;
    n = 1 + *rng % (1u + seed);
    return n < left ? n : left;
}

/* The errors the response decoder may return: the malformed-frame classes,
 * never MB_EQUANTITY (a request's) nor an errno value. */
static bool response_error(int rc)
{
    return rc == MB_EPROTOCOL || rc == MB_ELENGTH || rc == MB_EBYTECOUNT || rc == MB_EFUNCTION ||
           rc == MB_EEXCEPTION_LENGTH;
}

/* Bytes past d->have are garbage by contract: fill them with a value that
 * differs between passes, so a decoder that reads them disagrees with itself. */
static void poison(mb_decoder_t *d, uint8_t value)
{
    memset(d->buf + d->have, value, sizeof(d->buf) - d->have);
}

/* Feeds one chunk as an adapter does; returns the last status. */
static int feed_chunk(mb_decoder_t *d, const uint8_t *p, size_t n, size_t *pos, uint8_t seed,
                      uint8_t junk, pass_log_t *log)
{
    int rc = MB_NEED_MORE;

    while (n > 0) {
        mb_response_t r;
        size_t used = SIZE_MAX, again = SIZE_MAX;

        rc = mb_decoder_feed(d, p + *pos, n, &used, &r);
        CHECK(used <= n);
        if (rc == MB_NEED_MORE) {
            CHECK(used == n && d->have > 0 && d->have < MB_MAX_ADU);
            poison(d, junk);
        } else if (rc == MB_FRAME) {
            CHECK(used > 0);
            check_frame(d, &r, seed);
            if (!log->first_error) {
                size_t end = *pos + used;

                log->frames++;
                log->hash = fnv(fnv(log->hash, &end, sizeof(end)), d->buf, d->have);
            }
        } else {
            CHECK(response_error(rc) && used > 0);
            CHECK(mb_decoder_feed(d, p + *pos + used, n - used, &again, &r) == rc && again == 0);
            if (!log->first_error)
                log->first_error = rc;
            mb_decoder_reset(d);
            poison(d, junk);
        }
        *pos += used;
        n -= used;
    }
    return rc;
}

static void run_pass(const uint8_t *p, size_t n, uint8_t seed, int split, pass_log_t *log)
{
    mb_decoder_t d;
    uint32_t rng = seed * 2654435761u + 1;
    uint8_t junk = (uint8_t)(seed ^ (0x5a * split));
    size_t pos = 0;
    int rc = MB_NEED_MORE;

    memset(log, 0, sizeof(*log));
    log->hash = 2166136261u;
    mb_decoder_reset(&d);
    poison(&d, junk);
    while (pos < n)
        rc = feed_chunk(&d, p, next_chunk(split, seed, &rng, n - pos), &pos, seed, junk, log);
    CHECK(pos == n);
    log->tail = !log->first_error && rc == MB_NEED_MORE ? d.have : 0;
}

/* The same bytes as a write request: whatever the server side accepts, the
 * client side encodes back to the same bytes (but for the unused high bits of
 * FC 15's last byte, sent as 0); an error is reported again for any longer
 * prefix of the frame. */
static void check_write_request(const uint8_t *p, size_t n)
{
    static mb_write_values_t vals;
    uint8_t out[MB_MAX_ADU];
    mb_write_t w;
    int rc = mb_decode_write_request(p, n, &w, &vals);

    if (rc > 0) {
        size_t len = (size_t)rc;
        uint8_t last = p[len - 1];

        CHECK(len <= n && len == 6u + be16(p + 4) && len <= MB_MAX_ADU);
        CHECK(mb_encode_write(&w, out, len - 1) == -ENOSPC);
        CHECK(mb_encode_write(&w, out, sizeof(out)) == rc);
        if (w.fc == MB_FC_WRITE_MULTIPLE_COILS && w.quantity % 8)
            last &= (uint8_t)((1u << (w.quantity % 8)) - 1);
        CHECK(memcmp(out, p, len - 1) == 0 && out[len - 1] == last);
        CHECK(mb_encode_write_response(&w, out, sizeof(out)) == MB_WRITE_RESP_LEN);
    } else if (rc == 0) {
        CHECK(n <= MB_MBAP_LEN || n < 6u + be16(p + 4));
    } else {
        CHECK(rc == MB_EPROTOCOL || rc == MB_ELENGTH || rc == MB_EBYTECOUNT || rc == MB_EFUNCTION ||
              rc == MB_EQUANTITY);
        if (n < MB_MAX_ADU && n > 0) {
            uint8_t longer[MB_MAX_ADU + 1];

            memcpy(longer, p, n);
            longer[n] = 0x5A;
            CHECK(mb_decode_write_request(longer, n + 1, &w, &vals) == rc);
        }
    }
}

/* A server reading the same bytes as a request: whatever it accepts, the
 * client side encodes back to the same 12 bytes. */
static void check_request(const uint8_t *p, size_t n)
{
    mb_request_t req;
    int rc = mb_decode_request(p, n, &req);

    if (rc == MB_REQ_LEN) {
        uint8_t out[MB_REQ_LEN];

        CHECK(mb_encode_read(&req, out, sizeof(out)) == MB_REQ_LEN);
        CHECK(memcmp(out, p, MB_REQ_LEN) == 0);
    } else if (rc == 0) {
        CHECK(n < MB_REQ_LEN);
    } else {
        CHECK(rc == MB_EPROTOCOL || rc == MB_ELENGTH || rc == MB_EFUNCTION || rc == MB_EQUANTITY);
        CHECK(rc == mb_decode_request(p, n < MB_REQ_LEN ? n : MB_REQ_LEN, &req));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pass_log_t logs[3];

    if (size < 1)
        return 0;
    for (int split = SPLIT_SEEDED; split <= SPLIT_BYTES; split++)
        run_pass(data + 1, size - 1, data[0], split, &logs[split]);
    for (int split = SPLIT_NONE; split <= SPLIT_BYTES; split++) {
        CHECK(logs[split].frames == logs[0].frames && logs[split].hash == logs[0].hash);
        CHECK(logs[split].first_error == logs[0].first_error);
        CHECK(logs[split].tail == logs[0].tail);
    }
    check_request(data + 1, size - 1);
    check_write_request(data + 1, size - 1);
    return 0;
}

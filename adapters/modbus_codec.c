/*
 * Sans-IO Modbus TCP codec; see modbus_codec.h.
 *
 * The response decoder copies bytes into its own ADU-sized buffer, header
 * first and then exactly the body the MBAP length announces, so it never
 * takes a byte of the next frame. After every copy it validates whatever
 * prefix has arrived, field by field in wire order. Two things follow: a bad
 * field is reported as soon as its byte is in (a garbage length never makes
 * the decoder wait for a body that will not come), and the error reported for
 * a stream does not depend on how the stream was split into reads.
 */
#include "adapters/modbus_codec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MB_EXCEPTION_BIT 0x80
#define MB_FC_MASK 0x7f
#define MB_MIN_LENGTH 2   /* unit id and function code */
#define MB_MAX_LENGTH 254 /* unit id and a 253-byte PDU */
#define MB_REQ_LENGTH 6   /* unit id, function code, address, quantity */
#define MB_EXC_LENGTH 3   /* unit id, function code, exception code */
#define MB_EXC_ADU (MB_MBAP_LEN + 2)
#define MB_WRITE_LENGTH 6  /* a write response, FC 5/6 request: unit, fc, address, value */
#define MB_MULTI_HEADER 13 /* FC 15/16 request up to its byte count */
#define MB_MULTI_LENGTH 7  /* its MBAP length without values: unit, fc, address, quantity, count */
#define MB_COIL_ON 0xFF00

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_mbap(uint8_t *buf, uint16_t tid, uint16_t length, uint8_t unit)
{
    put_be16(buf, tid);
    put_be16(buf + 2, 0);
    put_be16(buf + 4, length);
    buf[6] = unit;
}

static bool fc_is_read(uint8_t fc)
{
    return fc >= MB_FC_READ_COILS && fc <= MB_FC_READ_INPUT_REGISTERS;
}

static bool fc_is_bits(uint8_t fc)
{
    return fc == MB_FC_READ_COILS || fc == MB_FC_READ_DISCRETE_INPUTS;
}

static bool fc_is_write(uint8_t fc)
{
    return fc == MB_FC_WRITE_SINGLE_COIL || fc == MB_FC_WRITE_SINGLE_REGISTER ||
           fc == MB_FC_WRITE_MULTIPLE_COILS || fc == MB_FC_WRITE_MULTIPLE_REGISTERS;
}

static bool fc_is_single_write(uint8_t fc)
{
    return fc == MB_FC_WRITE_SINGLE_COIL || fc == MB_FC_WRITE_SINGLE_REGISTER;
}

static bool fc_writes_bits(uint8_t fc)
{
    return fc == MB_FC_WRITE_SINGLE_COIL || fc == MB_FC_WRITE_MULTIPLE_COILS;
}

/* Data bytes of a read response for this quantity of registers or bits. */
static size_t data_bytes(uint8_t fc, uint16_t quantity)
{
    return fc_is_bits(fc) ? ((size_t)quantity + 7) / 8 : (size_t)quantity * 2;
}

static bool request_valid(const mb_request_t *req)
{
    unsigned max = fc_is_bits(req->fc) ? MB_MAX_BITS : MB_MAX_REGISTERS;

    return fc_is_read(req->fc) && req->quantity >= 1 && req->quantity <= max &&
           (uint32_t)req->address + req->quantity <= 65536;
}

/* Protocol id and length of an MBAP header prefix of `have` bytes. The length
 * high byte alone rules out every length above 255, all of them invalid. */
static int check_mbap(const uint8_t *b, size_t have, uint8_t min_len, uint8_t max_len)
{
    if ((have > 2 && b[2] != 0) || (have > 3 && b[3] != 0))
        return MB_EPROTOCOL;
    if ((have > 4 && b[4] != 0) || (have > 5 && (b[5] < min_len || b[5] > max_len)))
        return MB_ELENGTH;
    return 0;
}

/* Every field of a response prefix that has arrived, in wire order. */
static int check_response(const uint8_t *b, size_t have)
{
    int rc = check_mbap(b, have, MB_MIN_LENGTH, MB_MAX_LENGTH);
    uint8_t length;

    if (rc < 0 || have <= MB_MBAP_LEN)
        return rc;
    length = b[5];
    if (!fc_is_read(b[7] & MB_FC_MASK) && !fc_is_write(b[7] & MB_FC_MASK))
        return MB_EFUNCTION;
    if (b[7] & MB_EXCEPTION_BIT)
        return length == MB_EXC_LENGTH ? 0 : MB_EEXCEPTION_LENGTH;
    /* A write response has no byte count: its length is fixed. */
    if (fc_is_write(b[7]))
        return length == MB_WRITE_LENGTH ? 0 : MB_ELENGTH;
    if (length < 3)
        return MB_ELENGTH;
    if (have > 8 && b[8] != length - 3)
        return MB_EBYTECOUNT;
    return 0;
}

/* The whole ADU length; only once a valid header is in. */
static size_t frame_len(const uint8_t *b)
{
    return 6 + (size_t)get_be16(b + 4);
}

static void fill_response(const uint8_t *b, mb_response_t *out)
{
    out->tid = get_be16(b);
    out->unit = b[6];
    out->fc = b[7] & MB_FC_MASK;
    out->exception = (b[7] & MB_EXCEPTION_BIT) != 0;
    out->address = 0;
    out->value = 0;
    if (out->exception || fc_is_write(out->fc)) {
        out->exception_code = out->exception ? b[8] : 0;
        out->data = NULL;
        out->data_len = 0;
        if (!out->exception) {
            out->address = get_be16(b + 8);
            out->value = get_be16(b + 10);
        }
    } else {
        out->exception_code = 0;
        out->data = b + 9;
        out->data_len = b[8];
    }
}

const char *mb_status_name(int status)
{
    switch (status) {
    case MB_NEED_MORE:
        return "need more";
    case MB_FRAME:
        return "frame";
    case MB_EPROTOCOL:
        return "bad protocol id";
    case MB_ELENGTH:
        return "bad length";
    case MB_EBYTECOUNT:
        return "bad byte count";
    case MB_EFUNCTION:
        return "unsupported function";
    case MB_EEXCEPTION_LENGTH:
        return "bad exception length";
    case MB_EQUANTITY:
        return "bad quantity";
    case MB_ECRC:
        return "CRC error";
    case MB_ETRUNCATED:
        return "truncated frame";
    case MB_EGARBAGE:
        return "garbage on the line";
    case MB_MISMATCH_TID:
        return "transaction id mismatch";
    case MB_MISMATCH_UNIT:
        return "unit id mismatch";
    case MB_MISMATCH_FUNCTION:
        return "function mismatch";
    case MB_MISMATCH_COUNT:
        return "byte count mismatch";
    case MB_MISMATCH_ECHO:
        return "write echo mismatch";
    default:
        return "unknown status";
    }
}

const char *mb_exception_name(uint8_t code)
{
    static char unknown[sizeof("exception 255")];

    switch (code) {
    case 1:
        return "illegal function";
    case 2:
        return "illegal data address";
    case 3:
        return "illegal data value";
    case 4:
        return "server device failure";
    case 5:
        return "acknowledge";
    case 6:
        return "server busy";
    case 8:
        return "memory parity error";
    case 10:
        return "gateway path unavailable";
    case 11:
        return "gateway target device failed to respond";
    default:
        snprintf(unknown, sizeof(unknown), "exception %u", (unsigned)code);
        return unknown;
    }
}

void mb_decoder_reset(mb_decoder_t *d)
{
    d->have = 0;
}

/*
 * An error is sticky: until the caller resets, every feed returns it again
 * and takes nothing, so a caller that misses one cannot decode garbage. The
 * previous frame stays in the buffer until the next feed, which starts over.
 */
int mb_decoder_feed(mb_decoder_t *d, const uint8_t *in, size_t n, size_t *consumed,
                    mb_response_t *out)
{
    size_t used = 0;
    int rc = check_response(d->buf, d->have);

    *consumed = 0;
    if (rc < 0)
        return rc;
    if (d->have >= MB_MBAP_LEN && d->have >= frame_len(d->buf))
        d->have = 0;
    for (;;) {
        size_t target = d->have < MB_MBAP_LEN ? MB_MBAP_LEN : frame_len(d->buf);
        size_t take = target - d->have;

        if (take == 0) {
            fill_response(d->buf, out);
            return MB_FRAME;
        }
        if (take > n - used)
            take = n - used;
        if (take == 0)
            return MB_NEED_MORE;
        memcpy(d->buf + d->have, in + used, take);
        d->have += take;
        used += take;
        *consumed = used;
        rc = check_response(d->buf, d->have);
        if (rc < 0)
            return rc;
    }
}

int mb_encode_read(const mb_request_t *req, uint8_t *buf, size_t cap)
{
    if (!req || !buf || !request_valid(req))
        return -EINVAL;
    if (cap < MB_REQ_LEN)
        return -ENOSPC;
    put_mbap(buf, req->tid, MB_REQ_LENGTH, req->unit);
    buf[7] = req->fc;
    put_be16(buf + 8, req->address);
    put_be16(buf + 10, req->quantity);
    return MB_REQ_LEN;
}

int mb_match(const mb_request_t *req, const mb_response_t *resp)
{
    if (resp->tid != req->tid)
        return MB_MISMATCH_TID;
    if (resp->unit != req->unit)
        return MB_MISMATCH_UNIT;
    if (resp->fc != req->fc || !fc_is_read(req->fc))
        return MB_MISMATCH_FUNCTION;
    if (resp->exception)
        return MB_MATCH;
    if (resp->data_len != data_bytes(req->fc, req->quantity) || (resp->data_len && !resp->data))
        return MB_MISMATCH_COUNT;
    return MB_MATCH;
}

uint16_t mb_register(const mb_response_t *resp, size_t i)
{
    if (!resp->data || i >= resp->data_len / 2)
        return 0;
    return get_be16(resp->data + 2 * i);
}

bool mb_bit(const mb_response_t *resp, size_t i)
{
    if (!resp->data || i / 8 >= resp->data_len)
        return false;
    return (resp->data[i / 8] >> (i % 8)) & 1;
}

int mb_decode_request(const uint8_t *in, size_t n, mb_request_t *req)
{
    int rc = check_mbap(in, n, MB_REQ_LENGTH, MB_REQ_LENGTH);

    if (rc < 0 || n < MB_REQ_LEN)
        return rc;
    req->tid = get_be16(in);
    req->unit = in[6];
    req->fc = in[7];
    req->address = get_be16(in + 8);
    req->quantity = get_be16(in + 10);
    if (!fc_is_read(req->fc))
        return MB_EFUNCTION;
    if (!request_valid(req))
        return MB_EQUANTITY;
    return MB_REQ_LEN;
}

int mb_encode_response(const mb_request_t *req, const uint16_t *registers, const uint8_t *bits,
                       uint8_t *buf, size_t cap)
{
    size_t count;

    if (!req || !buf || !request_valid(req) || (fc_is_bits(req->fc) ? !bits : !registers))
        return -EINVAL;
    count = data_bytes(req->fc, req->quantity);
    if (cap < MB_MBAP_LEN + 2 + count)
        return -ENOSPC;
    put_mbap(buf, req->tid, (uint16_t)(3 + count), req->unit);
    buf[7] = req->fc;
    buf[8] = (uint8_t)count;
    if (fc_is_bits(req->fc)) {
        memcpy(buf + 9, bits, count);
        if (req->quantity % 8)
            buf[8 + count] &= (uint8_t)((1u << (req->quantity % 8)) - 1);
    } else {
        for (size_t i = 0; i < req->quantity; i++)
            put_be16(buf + 9 + 2 * i, registers[i]);
    }
    return (int)(MB_MBAP_LEN + 2 + count);
}

int mb_encode_exception(const mb_request_t *req, uint8_t code, uint8_t *buf, size_t cap)
{
    if (!req || !buf || req->fc == 0 || (req->fc & MB_EXCEPTION_BIT))
        return -EINVAL;
    if (cap < MB_EXC_ADU)
        return -ENOSPC;
    put_mbap(buf, req->tid, MB_EXC_LENGTH, req->unit);
    buf[7] = req->fc | MB_EXCEPTION_BIT;
    buf[8] = code;
    return MB_EXC_ADU;
}

/* ---- writes ---- */

/* Bytes of values a write request carries after its header (FC 15, 16). */
static size_t write_data_bytes(uint8_t fc, uint16_t quantity)
{
    return fc == MB_FC_WRITE_MULTIPLE_COILS ? ((size_t)quantity + 7) / 8 : (size_t)quantity * 2;
}

static bool write_quantity_valid(uint8_t fc, uint16_t address, uint16_t quantity)
{
    unsigned max = fc_is_single_write(fc)             ? 1
                   : fc == MB_FC_WRITE_MULTIPLE_COILS ? MB_MAX_WRITE_BITS
                                                      : MB_MAX_WRITE_REGISTERS;

    return fc_is_write(fc) && quantity >= 1 && quantity <= max &&
           (uint32_t)address + quantity <= 65536;
}

static bool write_valid(const mb_write_t *w)
{
    return write_quantity_valid(w->fc, w->address, w->quantity) &&
           (fc_writes_bits(w->fc) ? w->bits != NULL : w->regs != NULL);
}

/* The second word of an FC 5/6 request or of any write response. */
static uint16_t echo_value(const mb_write_t *w)
{
    switch (w->fc) {
    case MB_FC_WRITE_SINGLE_COIL:
        return w->bits[0] ? MB_COIL_ON : 0;
    case MB_FC_WRITE_SINGLE_REGISTER:
        return w->regs[0];
    default:
        return w->quantity;
    }
}

int mb_encode_write(const mb_write_t *w, uint8_t *buf, size_t cap)
{
    size_t count, len;

    if (!w || !buf || !write_valid(w))
        return -EINVAL;
    count = fc_is_single_write(w->fc) ? 0 : write_data_bytes(w->fc, w->quantity);
    len = fc_is_single_write(w->fc) ? MB_REQ_LEN : MB_MULTI_HEADER + count;
    if (cap < len)
        return -ENOSPC;
    put_mbap(buf, w->tid, (uint16_t)(len - 6), w->unit);
    buf[7] = w->fc;
    put_be16(buf + 8, w->address);
    put_be16(buf + 10, echo_value(w));
    if (fc_is_single_write(w->fc))
        return (int)len;
    buf[12] = (uint8_t)count;
    if (w->fc == MB_FC_WRITE_MULTIPLE_COILS) {
        memset(buf + MB_MULTI_HEADER, 0, count);
        for (size_t i = 0; i < w->quantity; i++)
            if (w->bits[i])
                buf[MB_MULTI_HEADER + i / 8] |= (uint8_t)(1u << (i % 8));
    } else {
        for (size_t i = 0; i < w->quantity; i++)
            put_be16(buf + MB_MULTI_HEADER + 2 * i, w->regs[i]);
    }
    return (int)len;
}

int mb_match_write(const mb_write_t *w, const mb_response_t *resp)
{
    if (resp->tid != w->tid)
        return MB_MISMATCH_TID;
    if (resp->unit != w->unit)
        return MB_MISMATCH_UNIT;
    if (resp->fc != w->fc || !fc_is_write(w->fc))
        return MB_MISMATCH_FUNCTION;
    if (resp->exception)
        return MB_MATCH;
    if ((w->fc == MB_FC_WRITE_SINGLE_COIL && !w->bits) ||
        (w->fc == MB_FC_WRITE_SINGLE_REGISTER && !w->regs))
        return MB_MISMATCH_ECHO;
    if (resp->address != w->address || resp->value != echo_value(w))
        return MB_MISMATCH_ECHO;
    return MB_MATCH;
}

/* Framing checks of a write request prefix, in wire order; 0 while it may
 * still be valid. The function code is not judged here: an unknown one waits
 * for the whole frame so that a server can answer it. */
static int check_write_framing(const uint8_t *in, size_t n)
{
    int rc = check_mbap(in, n, MB_WRITE_LENGTH, MB_MAX_LENGTH);

    if (rc < 0 || n <= MB_MBAP_LEN)
        return rc;
    if (fc_is_single_write(in[7]) && in[5] != MB_WRITE_LENGTH)
        return MB_ELENGTH;
    if (fc_is_write(in[7]) && !fc_is_single_write(in[7])) {
        if (in[5] <= MB_MULTI_LENGTH) /* at least one byte of values */
            return MB_ELENGTH;
        if (n >= MB_MULTI_HEADER && in[12] != in[5] - MB_MULTI_LENGTH)
            return MB_EBYTECOUNT;
    }
    return 0;
}

static void unpack_values(const uint8_t *in, mb_write_t *w, mb_write_values_t *vals)
{
    const uint8_t *data = in + MB_MULTI_HEADER;

    if (w->fc == MB_FC_WRITE_SINGLE_COIL) {
        vals->bits[0] = get_be16(in + 10) == MB_COIL_ON;
    } else if (w->fc == MB_FC_WRITE_SINGLE_REGISTER) {
        vals->regs[0] = get_be16(in + 10);
    } else if (w->fc == MB_FC_WRITE_MULTIPLE_COILS) {
        for (size_t i = 0; i < w->quantity; i++)
            vals->bits[i] = (data[i / 8] >> (i % 8)) & 1;
    } else {
        for (size_t i = 0; i < w->quantity; i++)
            vals->regs[i] = get_be16(data + 2 * i);
    }
    if (fc_writes_bits(w->fc))
        w->bits = vals->bits;
    else
        w->regs = vals->regs;
}

int mb_decode_write_request(const uint8_t *in, size_t n, mb_write_t *w, mb_write_values_t *vals)
{
    int rc = check_write_framing(in, n);
    size_t len;

    if (rc < 0 || n <= MB_MBAP_LEN || n < (len = frame_len(in)))
        return rc;
    *w = (mb_write_t){.tid = get_be16(in), .unit = in[6], .fc = in[7]};
    if (len >= MB_REQ_LEN) {
        w->address = get_be16(in + 8);
        w->quantity = fc_is_single_write(w->fc) ? 1 : get_be16(in + 10);
    }
    if (!fc_is_write(w->fc))
        return MB_EFUNCTION;
    if (!write_quantity_valid(w->fc, w->address, w->quantity) ||
        (w->fc == MB_FC_WRITE_SINGLE_COIL && get_be16(in + 10) != MB_COIL_ON &&
         get_be16(in + 10) != 0) ||
        (!fc_is_single_write(w->fc) && in[12] != write_data_bytes(w->fc, w->quantity)))
        return MB_EQUANTITY;
    unpack_values(in, w, vals);
    return (int)len;
}

int mb_encode_write_response(const mb_write_t *w, uint8_t *buf, size_t cap)
{
    if (!w || !buf || !write_valid(w))
        return -EINVAL;
    if (cap < MB_WRITE_RESP_LEN)
        return -ENOSPC;
    put_mbap(buf, w->tid, MB_WRITE_LENGTH, w->unit);
    buf[7] = w->fc;
    put_be16(buf + 8, w->address);
    put_be16(buf + 10, echo_value(w));
    return MB_WRITE_RESP_LEN;
}

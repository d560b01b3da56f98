/*
 * A sans-IO Modbus TCP (MBAP) codec: builds read requests and decodes
 * responses from whatever bytes have arrived so far. It never touches a file
 * descriptor; the adapter owns the socket and feeds bytes in.
 *
 * Why not libmodbus for this: libmodbus's I/O blocks in select() (and select()
 * cannot watch fds >= 1024), so it cannot run on the loop thread with
 * thousands of devices in flight. libmodbus is still used for its constants
 * and as the test peer.
 *
 * The server side (request decoding, response encoding) is here too, small
 * enough to share: the fan-in simulator uses it to serve thousands of
 * connections.
 */
#ifndef ADP_MODBUS_CODEC_H
#define ADP_MODBUS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/error.h"

#define MB_MBAP_LEN 7  /* transaction id, protocol id, length, unit id */
#define MB_MAX_ADU 260 /* MBAP + 253-byte PDU */
#define MB_REQ_LEN 12  /* a read request: MBAP + fc + address + quantity */
#define MB_MAX_REGISTERS 125
#define MB_MAX_BITS 2000

enum {
    MB_FC_READ_COILS = 0x01,
    MB_FC_READ_DISCRETE_INPUTS = 0x02,
    MB_FC_READ_HOLDING_REGISTERS = 0x03,
    MB_FC_READ_INPUT_REGISTERS = 0x04,
};

/*
 * Decoder results. Negative values are errors: sensorbridge's own codes
 * (gateway/error.h, named by gw_strerror()), one per malformed-frame class so
 * it can be counted by reason, and never equal to an errno value such as
 * -EAGAIN. After an error the stream has lost its framing: the connection
 * must be closed.
 */
typedef enum {
    MB_NEED_MORE = 0,                                /* every byte consumed, frame incomplete */
    MB_FRAME = 1,                                    /* one frame complete in *out */
    MB_EPROTOCOL = -GW_EMB_PROTOCOL,                 /* protocol id is not 0 */
    MB_ELENGTH = -GW_EMB_LENGTH,                     /* MBAP length not 2..254 */
    MB_EBYTECOUNT = -GW_EMB_BYTECOUNT,               /* byte count disagrees with the length */
    MB_EFUNCTION = -GW_EMB_FUNCTION,                 /* function code this codec does not read */
    MB_EEXCEPTION_LENGTH = -GW_EMB_EXCEPTION_LENGTH, /* exception response of the wrong length */
    MB_EQUANTITY = -GW_EMB_QUANTITY,                 /* quantity 0, too large or past 65535 */
} mb_status_t;

/* Stable lower-case name of a status or mb_match_t ("bad protocol id", ...);
 * "unknown status" for anything else. */
const char *mb_status_name(int status);

/* Modbus exception code names: 1 "illegal function", 2 "illegal data
 * address", 3 "illegal data value", 4 "server device failure", 5
 * "acknowledge", 6 "server busy", 8 "memory parity error", 10 "gateway path
 * unavailable", 11 "gateway target device failed to respond", other
 * "exception N" (static buffer for unknown codes: not thread-safe). */
const char *mb_exception_name(uint8_t code);

typedef struct {
    uint16_t tid;
    uint8_t unit;
    uint8_t fc; /* without the 0x80 exception bit */
    bool exception;
    uint8_t exception_code;
    const uint8_t *data; /* register or bit bytes (after the byte count) */
    size_t data_len;
} mb_response_t;

typedef struct {
    uint8_t buf[MB_MAX_ADU];
    size_t have;
} mb_decoder_t;

void mb_decoder_reset(mb_decoder_t *d);

/*
 * Feeds up to n bytes. Stops after one complete frame: *consumed says how
 * many bytes were taken (the caller feeds the rest again). Returns MB_FRAME
 * with *out pointing into the decoder (valid until the next feed or reset),
 * MB_NEED_MORE, or the error of the first bad field: MB_EPROTOCOL,
 * MB_ELENGTH, MB_EFUNCTION, MB_EEXCEPTION_LENGTH or MB_EBYTECOUNT. An error
 * is returned again, taking nothing, until mb_decoder_reset().
 */
int mb_decoder_feed(mb_decoder_t *d, const uint8_t *in, size_t n, size_t *consumed,
                    mb_response_t *out);

/* One read request as sent; kept to check the response against it. */
typedef struct {
    uint16_t tid;
    uint8_t unit;
    uint8_t fc;
    uint16_t address;
    uint16_t quantity; /* registers or bits */
} mb_request_t;

/* Writes the 12-byte request ADU. Returns MB_REQ_LEN; -EINVAL if req or buf
 * is NULL, the function is not 1 to 4, the quantity is 0 or above the
 * function's maximum (125 registers, 2000 bits) or the range passes 65535;
 * -ENOSPC if cap is below MB_REQ_LEN. */
int mb_encode_read(const mb_request_t *req, uint8_t *buf, size_t cap);

/* mb_match() results: 0 or sensorbridge's own negative codes (gateway/error.h). */
typedef enum {
    MB_MATCH = 0,
    MB_MISMATCH_TID = -GW_EMB_TID, /* a late reply or one for another request */
    MB_MISMATCH_UNIT = -GW_EMB_UNIT,
    MB_MISMATCH_FUNCTION = -GW_EMB_FC, /* also when req's function is not 1 to 4 */
    MB_MISMATCH_COUNT = -GW_EMB_COUNT, /* byte count does not fit the quantity asked */
} mb_match_t;

/* Whether a decoded response answers this request (an exception response with
 * the right tid, unit and function matches): MB_MATCH or the first mismatch,
 * checked in the order tid, unit, function, byte count. */
int mb_match(const mb_request_t *req, const mb_response_t *resp);

/* Big-endian register i of a matched register response (0 if i is past
 * data_len). */
uint16_t mb_register(const mb_response_t *resp, size_t i);
/* Bit i of a matched coil/discrete response (LSB of the first byte first;
 * false if i is past data_len). */
bool mb_bit(const mb_response_t *resp, size_t i);

/* --- server side (test peers and simulators) --- */

/* Decodes one read request from a complete or partial buffer. Returns the
 * request length (12) with *req filled, 0 if more bytes are needed, or
 * MB_EPROTOCOL, MB_ELENGTH (not 6), MB_EFUNCTION (not 1 to 4) or MB_EQUANTITY.
 * A bad protocol id or length is reported as soon as its byte is in; on
 * MB_EFUNCTION and MB_EQUANTITY *req is filled too, so a server can answer
 * with an exception. */
int mb_decode_request(const uint8_t *in, size_t n, mb_request_t *req);

/* Encodes a read response. For registers, values[] holds quantity registers;
 * for bits, quantity bits packed LSB first (as in the wire format; the unused
 * high bits of the last byte are sent as 0). Returns the ADU length; -EINVAL
 * if req or buf is NULL, the request could not have been encoded, or the
 * values it needs (registers or bits) are NULL; -ENOSPC if cap is too small. */
int mb_encode_response(const mb_request_t *req, const uint16_t *registers, const uint8_t *bits,
                       uint8_t *buf, size_t cap);

/* Encodes an exception response. Returns its length (9); -EINVAL if req or
 * buf is NULL or req->fc is 0 or already has the exception bit (0x80);
 * -ENOSPC if cap is below 9. */
int mb_encode_exception(const mb_request_t *req, uint8_t code, uint8_t *buf, size_t cap);

#endif

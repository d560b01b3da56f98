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

/* Decoder results. Negative values are errors; each malformed-frame class has
 * its own code so it can be counted by reason. After an error the stream has
 * lost its framing: the connection must be closed. */
typedef enum {
    MB_NEED_MORE = 0,          /* every byte consumed, frame incomplete */
    MB_FRAME = 1,              /* one frame complete in *out */
    MB_EPROTOCOL = -1,         /* protocol id is not 0 */
    MB_ELENGTH = -2,           /* MBAP length out of range (< 2 or > 254) */
    MB_EBYTECOUNT = -3,        /* byte count disagrees with the MBAP length */
    MB_EFUNCTION = -4,         /* function code this codec does not read */
    MB_EEXCEPTION_LENGTH = -5, /* exception response of the wrong length */
    MB_EQUANTITY = -6,         /* request quantity 0, too large, or past 65535 */
} mb_status_t;

/* Stable lower-case name of a status ("bad protocol id", ...). */
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
 * MB_NEED_MORE, or a negative mb_status_t.
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

/* Writes the 12-byte request ADU. Returns MB_REQ_LEN, or -1 if the quantity is
 * 0 or above the function's maximum (125 registers, 2000 bits) or the range
 * passes 65535. */
int mb_encode_read(const mb_request_t *req, uint8_t *buf, size_t cap);

typedef enum {
    MB_MATCH = 0,
    MB_MISMATCH_TID = -10, /* a late reply or one for another request */
    MB_MISMATCH_UNIT = -11,
    MB_MISMATCH_FUNCTION = -12,
    MB_MISMATCH_COUNT = -13, /* byte count does not fit the quantity asked */
} mb_match_t;

/* Whether a decoded response answers this request (an exception response with
 * the right tid, unit and function matches). */
int mb_match(const mb_request_t *req, const mb_response_t *resp);

/* Big-endian register i of a matched register response (0 if i is past
 * data_len). */
uint16_t mb_register(const mb_response_t *resp, size_t i);
/* Bit i of a matched coil/discrete response (LSB of the first byte first;
 * false if i is past data_len). */
bool mb_bit(const mb_response_t *resp, size_t i);

/* --- server side (test peers and simulators) --- */

/* Decodes one read request from a complete or partial buffer. Returns the
 * request length (12) with *req filled, 0 if more bytes are needed, or a
 * negative mb_status_t. A bad protocol id or length is reported as soon as its
 * byte is in; on MB_EFUNCTION and MB_EQUANTITY *req is filled too, so a server
 * can answer with an exception. */
int mb_decode_request(const uint8_t *in, size_t n, mb_request_t *req);

/* Encodes a read response. For registers, values[] holds quantity registers;
 * for bits, quantity bits packed LSB first (as in the wire format; the unused
 * high bits of the last byte are sent as 0). Returns the ADU length or -1 if
 * cap is too small or the request could not have been encoded. */
int mb_encode_response(const mb_request_t *req, const uint16_t *registers, const uint8_t *bits,
                       uint8_t *buf, size_t cap);

/* Encodes an exception response. Returns its length (9) or -1. */
int mb_encode_exception(const mb_request_t *req, uint8_t code, uint8_t *buf, size_t cap);

#endif

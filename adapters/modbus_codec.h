/*
 * A sans-IO Modbus TCP (MBAP) codec: builds read and write requests and
 * decodes responses from whatever bytes have arrived so far. It never touches
 * a file descriptor; the adapter owns the socket and feeds bytes in.
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
#define MB_MAX_WRITE_REGISTERS 123 /* FC 16: 7-byte header + 246 bytes fill the PDU */
#define MB_MAX_WRITE_BITS 1968     /* FC 15: the same 246 bytes of coils */
#define MB_WRITE_RESP_LEN 12       /* a write response: MBAP + fc + address + value */

enum {
    MB_FC_READ_COILS = 0x01,
    MB_FC_READ_DISCRETE_INPUTS = 0x02,
    MB_FC_READ_HOLDING_REGISTERS = 0x03,
    MB_FC_READ_INPUT_REGISTERS = 0x04,
    MB_FC_WRITE_SINGLE_COIL = 0x05,
    MB_FC_WRITE_SINGLE_REGISTER = 0x06,
    MB_FC_WRITE_MULTIPLE_COILS = 0x0F,
    MB_FC_WRITE_MULTIPLE_REGISTERS = 0x10,
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
    MB_EFUNCTION = -GW_EMB_FUNCTION,                 /* function code this codec does not know */
    MB_EEXCEPTION_LENGTH = -GW_EMB_EXCEPTION_LENGTH, /* exception response of the wrong length */
    MB_EQUANTITY = -GW_EMB_QUANTITY, /* quantity 0, too large or past 65535; bad coil value */
    /* RTU framing (adapters/modbus_rtu.h): why held bytes are not a frame. */
    MB_ECRC = -GW_EMB_CRC,             /* a whole frame whose CRC is wrong */
    MB_ETRUNCATED = -GW_EMB_TRUNCATED, /* a frame begun but not complete */
    MB_EGARBAGE = -GW_EMB_GARBAGE,     /* no response frame can start here */
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

/*
 * A decoded response. A read response carries data; a write response (FC 5,
 * 6, 15, 16) echoes the request's address and its value (FC 5: 0xFF00 or
 * 0x0000; FC 6: the register) or quantity (FC 15, 16), with data NULL. An
 * exception response has neither.
 */
typedef struct {
    uint16_t tid;
    uint8_t unit;
    uint8_t fc; /* without the 0x80 exception bit */
    bool exception;
    uint8_t exception_code;
    const uint8_t *data; /* register or bit bytes (after the byte count) */
    size_t data_len;
    uint16_t address; /* write responses: echoed address; 0 otherwise */
    uint16_t value;   /* write responses: echoed value or quantity; 0 otherwise */
} mb_response_t;

typedef struct {
    uint8_t buf[MB_MAX_ADU];
    size_t have;
} mb_decoder_t;

void mb_decoder_reset(mb_decoder_t *d);

/*
 * Feeds up to n bytes. Stops after one complete frame: *consumed says how
 * many bytes were taken (the caller feeds the rest again). Responses to
 * function codes 1 to 6, 15 and 16 are framed, and their exceptions; a write
 * response's MBAP length must be 6 (MB_ELENGTH otherwise). Returns MB_FRAME
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
    MB_MISMATCH_ECHO = -GW_EMB_ECHO,   /* write response echoes another address or value */
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

/* One write request as sent; kept to check the response against it. The
 * values are borrowed: the caller keeps them alive while the struct is used. */
typedef struct {
    uint16_t tid;
    uint8_t unit;
    uint8_t fc;           /* MB_FC_WRITE_...: 5, 6, 15 or 16 */
    uint16_t address;     /* first register or coil */
    uint16_t quantity;    /* registers or coils: 1 for FC 5 and 6 */
    const uint16_t *regs; /* FC 6 and 16: quantity registers, host order */
    const bool *bits;     /* FC 5 and 15: quantity coils */
} mb_write_t;

/* Writes the request ADU: 12 bytes for FC 5 and 6, 13 + byte count for FC
 * 15 (coils packed LSB first, unused high bits 0) and 16. Returns its length;
 * -EINVAL if w or buf is NULL, the function is not a write, the quantity is
 * not 1 for FC 5 and 6, is 0 or above 1968 coils (FC 15) or 123 registers (FC
 * 16), the range passes 65535, or the values the function needs are NULL;
 * -ENOSPC if cap is too small (MB_MAX_ADU always suffices). */
int mb_encode_write(const mb_write_t *w, uint8_t *buf, size_t cap);

/* Whether a decoded response answers this write request: MB_MATCH or the
 * first mismatch, checked in the order tid, unit, function (also when w's
 * function is not a write), then, unless it is an exception, the echoed
 * address and value (FC 5: 0xFF00 or 0x0000 for the coil, FC 6: the
 * register) or quantity (FC 15, 16): MB_MISMATCH_ECHO. w is as given to
 * mb_encode_write(); FC 5 or 6 without its value is an echo mismatch. */
int mb_match_write(const mb_write_t *w, const mb_response_t *resp);

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

/* Room for the values of any write request, for mb_decode_write_request(). */
typedef struct {
    uint16_t regs[MB_MAX_WRITE_REGISTERS];
    bool bits[MB_MAX_WRITE_BITS];
} mb_write_values_t;

/*
 * Decodes one write request (FC 5, 6, 15, 16) from a complete or partial
 * buffer; a server looks at the function code (in[7]) to choose between this
 * and mb_decode_request(). Returns the request length with *w filled, its
 * regs or bits pointing into *vals (owned by the caller); 0 if more bytes are
 * needed; or an error. Errors that lose the framing are reported as soon as
 * their byte is in: MB_EPROTOCOL; MB_ELENGTH (MBAP length outside 6..254,
 * not 6 for FC 5 and 6, below 8 for FC 15 and 16); MB_EBYTECOUNT (FC 15, 16: byte count is not
 * the MBAP length - 7). The others wait for the whole frame, 6 + its MBAP
 * length bytes, so a server can skip it and answer with an exception:
 * MB_EFUNCTION (not a write) and MB_EQUANTITY (quantity 0, above the maximum,
 * past 65535 or not the byte count's; FC 5 value neither 0xFF00 nor 0x0000).
 * With these two *w holds tid, unit, fc and, when present, address and
 * quantity, without values.
 */
int mb_decode_write_request(const uint8_t *in, size_t n, mb_write_t *w, mb_write_values_t *vals);

/* Encodes the response that echoes a write request (12 bytes). Returns 12;
 * -EINVAL if w or buf is NULL or mb_encode_write() would refuse w; -ENOSPC if
 * cap is below 12. Exceptions to writes use mb_encode_exception(). */
int mb_encode_write_response(const mb_write_t *w, uint8_t *buf, size_t cap);

#endif

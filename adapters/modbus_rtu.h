/*
 * A sans-IO Modbus RTU framer beside the MBAP codec (modbus_codec.h): the
 * CRC, conversion between the MBAP and the RTU form of an ADU, and a client
 * decoder that finds response frames in a byte stream with no length header.
 * Like the MBAP codec it never touches a file descriptor: the adapter owns the
 * serial port (or the RTU-over-TCP socket) and feeds bytes in.
 *
 * Why not libmodbus's RTU framing: its RTU I/O blocks in select() on the
 * serial fd between the bytes of a frame, while the gateway keeps every fd
 * non-blocking on its one event loop; and its framing is not exposed apart
 * from that I/O, so it cannot be fed bytes. Requests and the decoded response
 * stay in their MBAP form (mb_request_t, mb_response_t, mb_match()), so the
 * adapter checks an RTU response exactly as it checks a TCP one, with tid 0.
 *
 * All functions are pure or touch only the decoder they are given: any
 * thread, one thread per decoder at a time.
 */
#ifndef ADP_MODBUS_RTU_H
#define ADP_MODBUS_RTU_H

#include <stddef.h>
#include <stdint.h>

#include "adapters/modbus_codec.h"

#define MB_RTU_MAX_ADU 256 /* unit + 253-byte PDU + CRC */

/* Modbus CRC-16 (init 0xFFFF, reflected poly 0xA001). On the wire it is sent
 * low byte first. p may be NULL when n is 0. */
uint16_t mb_crc16(const uint8_t *p, size_t n);

/*
 * Converts an MBAP ADU (as written by mb_encode_read / mb_encode_write /
 * mb_encode_response / mb_encode_exception / mb_encode_write_response) into
 * the RTU ADU: unit id + PDU + CRC (low byte first). Returns the RTU length
 * (len - 4); -EINVAL if adu/out is NULL, len < 8, the MBAP length field
 * disagrees with len, or the protocol id is not 0; -ENOSPC if cap is too
 * small (MB_RTU_MAX_ADU always suffices for what the encoders write). The
 * caller owns both buffers.
 */
int mb_rtu_from_mbap(const uint8_t *adu, size_t len, uint8_t *out, size_t cap);

/*
 * The reverse, for servers and RTU-over-TCP peers: an RTU ADU whose CRC is
 * right becomes an MBAP ADU with transaction id `tid`. Returns the MBAP length
 * (len + 4); -EINVAL on NULL, len < 4 or len > MB_RTU_MAX_ADU; MB_ECRC if the
 * CRC is wrong; -ENOSPC if cap is too small (MB_MAX_ADU always suffices). The
 * PDU itself is not judged: mb_decode_request() and friends do that.
 */
int mb_rtu_to_mbap(const uint8_t *rtu, size_t len, uint16_t tid, uint8_t *out, size_t cap);

/*
 * Client-side response decoder. RTU has no length header and no transaction
 * id: frames are found by function code + byte count + CRC. It hunts: noise
 * before a frame is skipped. Caller-allocated (no heap); reset before use.
 */
typedef struct {
    uint8_t win[2 * MB_RTU_MAX_ADU]; /* bytes received since the reset, oldest first */
    size_t have;
    size_t skipped;    /* noise bytes skipped before the frame last returned (and dropped by a
                          full window); set only when a frame is returned, 0 after a reset */
    size_t dropped;    /* bytes dropped by a full window since the frame last returned (or the
                          reset): noise not counted in skipped yet */
    size_t scanned;    /* win[0..scanned) holds no frame: scanned and refused before */
    mb_decoder_t mbap; /* the MBAP form of the frame last returned: out->data points here */
} mb_rtu_decoder_t;

void mb_rtu_decoder_reset(mb_rtu_decoder_t *d);

/*
 * Appends n bytes (in may be NULL when n is 0: just scan again) and looks for
 * one response frame at every offset from the oldest byte on. A frame at
 * offset k is: a unit byte, a function code that is 1-6, 15 or 16 (a
 * response) or one of those | 0x80 (an exception), its length known from the
 * function (reads: 3 + byte count + 2, the byte count in the third byte, 1 to
 * 251; FC 5/6/15/16 write responses: 8; exceptions: 5), all of it present,
 * and the CRC over it right. The first such frame wins: returns MB_FRAME with
 * *out filled exactly as mb_decoder_feed fills it for the MBAP form of that
 * frame, except tid = 0 (data points into the decoder; valid until the next
 * feed or reset), and d->skipped = k (bytes before it) plus d->dropped, which
 * goes back to 0. The frame and the bytes before it are removed from the
 * window; bytes after it stay (a later feed(d, NULL, 0, out) looks at them).
 * Otherwise MB_NEED_MORE. When the window is full, the oldest bytes are
 * dropped (added to d->dropped, then to skipped) to make room; of a feed
 * longer than the window only its last sizeof(d->win) bytes are kept.
 * Never returns an error: why nothing was found is mb_rtu_verdict()'s to say.
 *
 * No frame is ever lost to the window if the caller feeds at most
 * MB_RTU_MAX_ADU bytes at a time and, after each MB_FRAME, feeds (d, NULL, 0)
 * until MB_NEED_MORE. A CRC is 16 bits: a frame found inside noise (or inside
 * another frame's data) is possible, so match it against the request.
 */
int mb_rtu_feed(mb_rtu_decoder_t *d, const uint8_t *in, size_t n, mb_response_t *out);

/*
 * Why the bytes held (since the reset or the last frame) are not a frame,
 * asked when the line has gone silent or the response timeout has come, after
 * mb_rtu_feed() has returned MB_NEED_MORE: 0 if no byte is held; MB_ECRC if at
 * offset 0 there is a complete frame (valid function and length) whose CRC is
 * wrong; MB_ETRUNCATED if offset 0 starts a valid function but the frame is
 * incomplete (also when only the unit byte is held); MB_EGARBAGE if the byte
 * at offset 1 is no function code a response can have (or the byte count of a
 * read is 0 or too big for a 253-byte PDU). MB_FRAME if offset 0 holds a
 * whole, right frame that mb_rtu_feed() has not been asked to return yet.
 */
int mb_rtu_verdict(const mb_rtu_decoder_t *d);

/* Bytes held in the window. */
size_t mb_rtu_pending(const mb_rtu_decoder_t *d);

#endif

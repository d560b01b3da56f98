/*
 * The RTU framer against a real libmodbus RTU server on a pseudo-terminal.
 * Requests built by the MBAP encoders and converted by mb_rtu_from_mbap() are
 * written to the pty's master side; libmodbus reads them from the slave side
 * (checking their CRC), answers from its mapping, and its bytes are fed to
 * mb_rtu_feed() in the pieces small reads give. All on one thread: a request
 * is in the pty before the server is asked to read it, and every wait is
 * bounded. Registered into the modbus_rtu suite by test_modbus_rtu.c.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <modbus.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/modbus_codec.h"
#include "adapters/modbus_rtu.h"
#include "modbus_rtu_test.h"
#include "suites.h"

#define UNIT 0x21
#define MAP_BITS 2100
#define MAP_REGS 200
#define READ_PIECE 7 /* bytes per read of the master side */
#define WAIT_MS 2000 /* for the server's answer */

typedef struct {
    int master;
    modbus_t *ctx;
    modbus_mapping_t *map;
} peer_t;

static void peer_close(peer_t *p)
{
    if (p->ctx) {
        modbus_close(p->ctx);
        modbus_free(p->ctx);
    }
    modbus_mapping_free(p->map);
    if (p->master >= 0)
        close(p->master);
}

/* A libmodbus RTU server for unit UNIT on a fresh pty, its tables filled
 * with values that differ from address to address. */
static int peer_open(peer_t *p)
{
    *p = (peer_t){.master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)};
    if (p->master < 0 || grantpt(p->master) != 0 || unlockpt(p->master) != 0)
        goto fail;
    p->ctx = modbus_new_rtu(ptsname(p->master), 19200, 'N', 8, 1);
    p->map = modbus_mapping_new(MAP_BITS, MAP_BITS, MAP_REGS, MAP_REGS);
    if (!p->ctx || !p->map || modbus_set_slave(p->ctx, UNIT) != 0 || modbus_connect(p->ctx) != 0 ||
        modbus_set_indication_timeout(p->ctx, WAIT_MS / 1000, 0) != 0)
        goto fail;
    for (int i = 0; i < MAP_BITS; i++) {
        p->map->tab_bits[i] = i % 3 == 0;
        p->map->tab_input_bits[i] = (i * 7) % 5 < 2;
    }
    for (int i = 0; i < MAP_REGS; i++) {
        p->map->tab_registers[i] = (uint16_t)(0x1000 + 0x111 * i);
        p->map->tab_input_registers[i] = (uint16_t)(0xF000 - 3 * i);
    }
    return 0;
fail:
    CU_FAIL("cannot start a libmodbus RTU server on a pty");
    peer_close(p);
    return -1;
}

/* Writes an RTU request to the server and lets it answer; the server's rc. */
static int ask(peer_t *p, const uint8_t *rtu, size_t n)
{
    uint8_t query[MODBUS_RTU_MAX_ADU_LENGTH];
    int rc;

    if (write(p->master, rtu, n) != (ssize_t)n)
        return -1;
    rc = modbus_receive(p->ctx, query);
    return rc > 0 ? modbus_reply(p->ctx, query, rc, p->map) : rc;
}

/* Feeds what the server sent until a frame is found or the line is quiet:
 * MB_FRAME, or the verdict on what was held. */
static int collect(peer_t *p, mb_rtu_decoder_t *d, mb_response_t *r)
{
    struct pollfd pfd = {p->master, POLLIN, 0};
    uint8_t piece[READ_PIECE];

    mb_rtu_decoder_reset(d);
    while (poll(&pfd, 1, WAIT_MS) > 0) {
        ssize_t got = read(p->master, piece, sizeof(piece));

        if (got <= 0)
            break;
        if (mb_rtu_feed(d, piece, (size_t)got, r) == MB_FRAME)
            return MB_FRAME;
    }
    return mb_rtu_verdict(d);
}

/* One request in MBAP form through the server; MB_FRAME with *r or not. */
static int exchange(peer_t *p, const uint8_t *adu, int len, mb_rtu_decoder_t *d, mb_response_t *r)
{
    uint8_t rtu[MB_RTU_MAX_ADU];
    int n = len > 0 ? mb_rtu_from_mbap(adu, (size_t)len, rtu, sizeof(rtu)) : len;

    CU_ASSERT_FATAL(n > 0);
    CU_ASSERT_FATAL(ask(p, rtu, (size_t)n) > 0);
    return collect(p, d, r);
}

static void test_peer_reads(void)
{
    static const mb_request_t reqs[] = {
        {0, UNIT, MB_FC_READ_HOLDING_REGISTERS, 0, 10},
        {0, UNIT, MB_FC_READ_HOLDING_REGISTERS, 75, 125}, /* the largest frame, 255 bytes */
        {0, UNIT, MB_FC_READ_INPUT_REGISTERS, 7, 3},
        {0, UNIT, MB_FC_READ_COILS, 0x13, 37},
        {0, UNIT, MB_FC_READ_COILS, 100, 2000},
        {0, UNIT, MB_FC_READ_DISCRETE_INPUTS, 1, 17},
    };
    mb_rtu_decoder_t d;
    mb_response_t r;
    uint8_t adu[MB_REQ_LEN];
    peer_t p;

    if (peer_open(&p) != 0)
        return;
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        const mb_request_t *q = &reqs[i];

        CU_ASSERT_EQUAL_FATAL(exchange(&p, adu, mb_encode_read(q, adu, sizeof(adu)), &d, &r),
                              MB_FRAME);
        CU_ASSERT(d.skipped == 0 && mb_rtu_pending(&d) == 0);
        CU_ASSERT_EQUAL(mb_match(q, &r), MB_MATCH);
        for (size_t k = 0; k < q->quantity; k++) {
            size_t a = q->address + k;

            switch (q->fc) {
            case MB_FC_READ_COILS:
                CU_ASSERT_EQUAL(mb_bit(&r, k), p.map->tab_bits[a]);
                break;
            case MB_FC_READ_DISCRETE_INPUTS:
                CU_ASSERT_EQUAL(mb_bit(&r, k), p.map->tab_input_bits[a]);
                break;
            case MB_FC_READ_HOLDING_REGISTERS:
                CU_ASSERT_EQUAL(mb_register(&r, k), p.map->tab_registers[a]);
                break;
            default:
                CU_ASSERT_EQUAL(mb_register(&r, k), p.map->tab_input_registers[a]);
            }
        }
    }
    peer_close(&p);
}

static void test_peer_writes(void)
{
    static const uint16_t regs[] = {0xBEEF, 0x0000, 0xFFFF};
    static const bool coils[] = {1, 1, 0, 1, 0, 0, 0, 1, 1};
    static const uint16_t reg = 0x4242;
    static const bool off = false;
    static const mb_write_t writes[] = {
        {0, UNIT, MB_FC_WRITE_SINGLE_COIL, 3, 1, NULL, &off},
        {0, UNIT, MB_FC_WRITE_SINGLE_REGISTER, 199, 1, &reg, NULL},
        {0, UNIT, MB_FC_WRITE_MULTIPLE_COILS, 1000, 9, NULL, coils},
        {0, UNIT, MB_FC_WRITE_MULTIPLE_REGISTERS, 10, 3, regs, NULL},
    };
    mb_rtu_decoder_t d;
    mb_response_t r;
    uint8_t adu[MB_MAX_ADU];
    peer_t p;

    if (peer_open(&p) != 0)
        return;
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        const mb_write_t *w = &writes[i];

        CU_ASSERT_EQUAL_FATAL(exchange(&p, adu, mb_encode_write(w, adu, sizeof(adu)), &d, &r),
                              MB_FRAME);
        CU_ASSERT(!r.exception && r.address == w->address);
        CU_ASSERT_EQUAL(mb_match_write(w, &r), MB_MATCH);
        for (size_t k = 0; k < w->quantity; k++) {
            int got =
                w->bits ? p.map->tab_bits[w->address + k] : p.map->tab_registers[w->address + k];

            CU_ASSERT_EQUAL(got, w->bits ? w->bits[k] : w->regs[k]);
        }
    }
    peer_close(&p);
}

static void test_peer_exceptions(void)
{
    static const mb_request_t past = {0, UNIT, MB_FC_READ_HOLDING_REGISTERS, MAP_REGS - 1, 2};
    static const uint16_t reg = 1;
    static const mb_write_t w = {0, UNIT, MB_FC_WRITE_SINGLE_REGISTER, MAP_REGS, 1, &reg, NULL};
    mb_rtu_decoder_t d;
    mb_response_t r;
    uint8_t adu[MB_MAX_ADU], rtu[MB_RTU_MAX_ADU];
    peer_t p;
    int n;

    if (peer_open(&p) != 0)
        return;
    CU_ASSERT_EQUAL_FATAL(exchange(&p, adu, mb_encode_read(&past, adu, sizeof(adu)), &d, &r),
                          MB_FRAME);
    CU_ASSERT(r.exception && r.exception_code == MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    CU_ASSERT_EQUAL(mb_match(&past, &r), MB_MATCH);
    CU_ASSERT_EQUAL_FATAL(exchange(&p, adu, mb_encode_write(&w, adu, sizeof(adu)), &d, &r),
                          MB_FRAME);
    CU_ASSERT(r.exception && r.fc == MB_FC_WRITE_SINGLE_REGISTER);
    CU_ASSERT_EQUAL(mb_match_write(&w, &r), MB_MATCH);

    /* The server checks the CRC we send: a broken one gets no answer. */
    n = mb_rtu_from_mbap(adu, (size_t)mb_encode_read(&past, adu, sizeof(adu)), rtu, sizeof(rtu));
    CU_ASSERT_FATAL(n == 8);
    rtu[n - 1] ^= 0x01;
    errno = 0;
    CU_ASSERT_EQUAL(ask(&p, rtu, (size_t)n), -1);
    CU_ASSERT_EQUAL(errno, EMBBADCRC);
    peer_close(&p);
}

int modbus_rtu_peer_tests(CU_pSuite s)
{
    static const sb_test_t tests[] = {
        {"libmodbus RTU server: reads", test_peer_reads},
        {"libmodbus RTU server: writes", test_peer_writes},
        {"libmodbus RTU server: exceptions, bad CRC", test_peer_exceptions},
    };

    return SB_ADD_TESTS(s, tests);
}

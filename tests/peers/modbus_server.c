/*
 * modbus_server: a Modbus TCP server for sensorbridge's integration tests.
 *
 * It serves a fixed register image (the tables below, repeated with decoded
 * values in tests/peers/README.md) so a test can assert exact values for every
 * type and byte order, and it misbehaves on request: a delay before every
 * reply, no reply at all, replies dribbled out one byte at a time, exceptions
 * on chosen addresses, connections closed after N requests.
 *
 * It is built on libmodbus's server API on purpose, so that the gateway's own
 * codec is checked against an independent implementation rather than against
 * itself. One thread runs one select() loop over the listening socket and the
 * clients; a --delay-ms therefore delays every client of this server. The
 * tests run one server per device, so that is fine.
 *
 * The image is written register by register in hexadecimal, never through
 * modbus_set_float_*(): in Debian's libmodbus 3.1.6 modbus_set_float_abcd()
 * writes the wrong byte order, and a peer that shares a bug with the code
 * under test proves nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <modbus.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RULES 32
#define MAX_CLIENTS 64
#define TABLE_SIZE 65536 /* every address exists; unlisted ones read 0 */
#define SPLIT_PAUSE_MS 2

typedef struct {
    uint16_t addr;
    uint16_t value;
} reg_t;

/*
 * Holding registers (function 3), 0-based protocol addresses. Byte orders are
 * named for the value's big-endian bytes A B C D (E F G H for 64 bits):
 * ABCD registers most significant first, CDAB word-swapped, BADC bytes of
 * each register swapped, DCBA both.
 *
 *   addr   registers                   value
 *   0      1234                        uint16 4660
 *   1      FB2E                        int16 -1234
 *   2..3   F8A4 32EB                   int32 -123456789 ABCD
 *   4..5   32EB F8A4                   int32 -123456789 CDAB
 *   6..7   A4F8 EB32                   int32 -123456789 BADC
 *   8..9   EB32 A4F8                   int32 -123456789 DCBA
 *   10..11 B2D0 5E00                   uint32 3000000000 ABCD
 *   12..13 42F6 E979                   float32 123.456 ABCD (123.45600128173828)
 *   14..15 E979 42F6                   float32 123.456 CDAB
 *   16..17 F642 79E9                   float32 123.456 BADC
 *   18..19 79E9 F642                   float32 123.456 DCBA
 *   20     002A                        bits 1, 3, 5 set (uint16 42)
 *   21     FFFF                        uint16 65535, int16 -1
 *   24..27 FFFF FEE0 8E04 FB35         int64 -1234567890123 ABCD
 *   28..31 FB35 8E04 FEE0 FFFF         int64 -1234567890123 CDAB
 *   32..35 FFFF E0FE 048E 35FB         int64 -1234567890123 BADC
 *   36..39 35FB 048E E0FE FFFF         int64 -1234567890123 DCBA
 *   40..43 0102 0304 0506 0708         uint64 72623859790382856 ABCD
 *   44..47 C0C3 4A45 87E7 C06E         float64 -9876.54321 ABCD
 *   48..51 C06E 87E7 4A45 C0C3         float64 -9876.54321 CDAB
 *   52..55 C3C0 454A E787 6EC0         float64 -9876.54321 BADC
 *   56..59 6EC0 E787 454A C3C0         float64 -9876.54321 DCBA
 *   60..65 4845 4C4C 4F20 574F 524C 4400  string "HELLO WORLD" (+ NUL)
 *   70..75 4548 4C4C 204F 4F57 4C52 0044  string "HELLO WORLD", chars swapped
 *   100..101 41AC 0000                 float32 21.5 ABCD
 *   102..103 7FC0 0000                 float32 NaN ABCD
 *   104..105 7F80 0000                 float32 +infinity ABCD
 */
static const reg_t HOLDING[] = {
    {0, 0x1234},   {1, 0xFB2E},   {2, 0xF8A4},   {3, 0x32EB},   {4, 0x32EB},   {5, 0xF8A4},
    {6, 0xA4F8},   {7, 0xEB32},   {8, 0xEB32},   {9, 0xA4F8},   {10, 0xB2D0},  {11, 0x5E00},
    {12, 0x42F6},  {13, 0xE979},  {14, 0xE979},  {15, 0x42F6},  {16, 0xF642},  {17, 0x79E9},
    {18, 0x79E9},  {19, 0xF642},  {20, 0x002A},  {21, 0xFFFF},  {24, 0xFFFF},  {25, 0xFEE0},
    {26, 0x8E04},  {27, 0xFB35},  {28, 0xFB35},  {29, 0x8E04},  {30, 0xFEE0},  {31, 0xFFFF},
    {32, 0xFFFF},  {33, 0xE0FE},  {34, 0x048E},  {35, 0x35FB},  {36, 0x35FB},  {37, 0x048E},
    {38, 0xE0FE},  {39, 0xFFFF},  {40, 0x0102},  {41, 0x0304},  {42, 0x0506},  {43, 0x0708},
    {44, 0xC0C3},  {45, 0x4A45},  {46, 0x87E7},  {47, 0xC06E},  {48, 0xC06E},  {49, 0x87E7},
    {50, 0x4A45},  {51, 0xC0C3},  {52, 0xC3C0},  {53, 0x454A},  {54, 0xE787},  {55, 0x6EC0},
    {56, 0x6EC0},  {57, 0xE787},  {58, 0x454A},  {59, 0xC3C0},  {60, 0x4845},  {61, 0x4C4C},
    {62, 0x4F20},  {63, 0x574F},  {64, 0x524C},  {65, 0x4400},  {70, 0x4548},  {71, 0x4C4C},
    {72, 0x204F},  {73, 0x4F57},  {74, 0x4C52},  {75, 0x0044},  {100, 0x41AC}, {101, 0x0000},
    {102, 0x7FC0}, {103, 0x0000}, {104, 0x7F80}, {105, 0x0000},
};

/*
 * Input registers (function 4). Deliberately not a copy of the holding table,
 * so a point read with the wrong function code gets a wrong value.
 *
 *   0      4321                        uint16 17185
 *   7      03F5                        int16 1013 (pressure: scale 0.1 -> 101.3)
 *   8..9   C222 0000                   float32 -40.5 ABCD
 *   10..11 0001 86A0                   uint32 100000 ABCD
 */
static const reg_t INPUT[] = {
    {0, 0x4321}, {7, 0x03F5}, {8, 0xC222}, {9, 0x0000}, {10, 0x0001}, {11, 0x86A0},
};

/* Coils (function 1) and discrete inputs (function 2), addresses 0..7. */
static const uint8_t COILS[] = {1, 0, 1, 1, 0, 0, 1, 0};
static const uint8_t DISCRETE[] = {0, 1, 1, 0, 1, 0, 0, 1};

typedef struct {
    uint16_t addr;
    uint8_t code;
    bool write; /* --write-exception: for writes, else for reads */
} rule_t;

typedef struct {
    long port;
    long unit; /* -1: answer every unit id */
    long delay_ms;
    long close_after;  /* 0: never */
    long max_requests; /* 0: no limit */
    bool blackhole;
    bool split;
    bool verbose;
    bool silent_writes;
    const char *record; /* file: every request's PDU in hex, a line each */
    rule_t rules[MAX_RULES];
    size_t n_rules;
} opts_t;

typedef struct {
    int fd; /* -1: free slot */
    long requests;
} client_t;

typedef struct {
    opts_t opt;
    modbus_t *ctx;
    modbus_mapping_t *map;
    int listen_fd;
    FILE *record;
    int pair[2]; /* captures modbus_reply()'s output for --split */
    client_t clients[MAX_CLIENTS];
    long connections;
    long requests;
} server_t;

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *f)
{
    fputs("usage: modbus_server [--port N] [--unit N] [--delay-ms N] [--blackhole]\n"
          "                     [--close-after N] [--exception ADDR:CODE]... [--split]\n"
          "                     [--max-requests N] [--verbose] [--silent-writes]\n"
          "                     [--record FILE] [--write-exception ADDR:CODE]...\n"
          "Prints 'PORT <n>' on stdout once listening on 127.0.0.1.\n",
          f);
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;

    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/* "ADDR:CODE": ADDR 0..65535, CODE 1..11 (the codes libmodbus can send). */
static int parse_rule(opts_t *o, const char *s, bool write)
{
    char buf[32];
    long addr, code;

    if (o->n_rules == MAX_RULES || snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf)) {
        return -1;
    }
    char *colon = strchr(buf, ':');
    if (colon == NULL) {
        return -1;
    }
    *colon = '\0';
    if (parse_long(buf, 0, 65535, &addr) < 0 ||
        parse_long(colon + 1, 1, MODBUS_EXCEPTION_MAX - 1, &code) < 0) {
        return -1;
    }
    o->rules[o->n_rules].addr = (uint16_t)addr;
    o->rules[o->n_rules].code = (uint8_t)code;
    o->rules[o->n_rules].write = write;
    o->n_rules++;
    return 0;
}

static int parse_args(int argc, char **argv, opts_t *o)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"unit", required_argument, NULL, 'u'},
        {"delay-ms", required_argument, NULL, 'd'},
        {"blackhole", no_argument, NULL, 'b'},
        {"close-after", required_argument, NULL, 'c'},
        {"exception", required_argument, NULL, 'e'},
        {"write-exception", required_argument, NULL, 'E'},
        {"split", no_argument, NULL, 's'},
        {"max-requests", required_argument, NULL, 'm'},
        {"verbose", no_argument, NULL, 'v'},
        {"silent-writes", no_argument, NULL, 'W'},
        {"record", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, idx = 0, rc = 0;

    *o = (opts_t){.unit = -1};
    while (rc == 0 && (c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
        switch (c) {
        case 'p':
            rc = parse_long(optarg, 0, 65535, &o->port);
            break;
        case 'u':
            rc = parse_long(optarg, 0, 255, &o->unit);
            break;
        case 'd':
            rc = parse_long(optarg, 0, 3600000, &o->delay_ms);
            break;
        case 'c':
            rc = parse_long(optarg, 1, LONG_MAX, &o->close_after);
            break;
        case 'm':
            rc = parse_long(optarg, 1, LONG_MAX, &o->max_requests);
            break;
        case 'e':
            rc = parse_rule(o, optarg, false);
            break;
        case 'E':
            rc = parse_rule(o, optarg, true);
            break;
        case 'b':
            o->blackhole = true;
            break;
        case 's':
            o->split = true;
            break;
        case 'W':
            o->silent_writes = true;
            break;
        case 'R':
            o->record = optarg;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return -1;
        }
        if (rc < 0) {
            fprintf(stderr, "modbus_server: bad value for --%s: '%s'\n", longopts[idx].name,
                    optarg);
        }
    }
    return rc < 0 || optind != argc ? -1 : 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static void load_image(modbus_mapping_t *map)
{
    for (size_t i = 0; i < sizeof(HOLDING) / sizeof(HOLDING[0]); i++) {
        map->tab_registers[HOLDING[i].addr] = HOLDING[i].value;
    }
    for (size_t i = 0; i < sizeof(INPUT) / sizeof(INPUT[0]); i++) {
        map->tab_input_registers[INPUT[i].addr] = INPUT[i].value;
    }
    memcpy(map->tab_bits, COILS, sizeof(COILS));
    memcpy(map->tab_input_bits, DISCRETE, sizeof(DISCRETE));
}

/* The exception code a request (its PDU) must get, or 0: reads by
 * --exception, writes by --write-exception, for any address they touch. */
static int exception_for(const opts_t *o, const uint8_t *pdu, int len)
{
    bool write =
        pdu[0] == MODBUS_FC_WRITE_SINGLE_COIL || pdu[0] == MODBUS_FC_WRITE_SINGLE_REGISTER ||
        pdu[0] == MODBUS_FC_WRITE_MULTIPLE_COILS || pdu[0] == MODBUS_FC_WRITE_MULTIPLE_REGISTERS;

    if (len < 5 ||
        (!write && (pdu[0] < MODBUS_FC_READ_COILS || pdu[0] > MODBUS_FC_READ_INPUT_REGISTERS))) {
        return 0;
    }
    long addr = (long)(pdu[1] << 8 | pdu[2]);
    long count = (long)(pdu[3] << 8 | pdu[4]);
    if (pdu[0] == MODBUS_FC_WRITE_SINGLE_COIL || pdu[0] == MODBUS_FC_WRITE_SINGLE_REGISTER) {
        count = 1;
    }
    for (size_t i = 0; i < o->n_rules; i++) {
        if (o->rules[i].write == write && o->rules[i].addr >= addr &&
            o->rules[i].addr < addr + count) {
            return o->rules[i].code;
        }
    }
    return 0;
}

static int reply(server_t *s, const uint8_t *req, int len, int code)
{
    return code != 0 ? modbus_reply_exception(s->ctx, req, (unsigned)code)
                     : modbus_reply(s->ctx, req, len, s->map);
}

/*
 * --split: libmodbus writes the reply into one end of a socketpair, and the
 * bytes read back from the other end go to the client one at a time. Every
 * function code gets exactly the reply libmodbus would have sent.
 */
static int reply_split(server_t *s, int fd, const uint8_t *req, int len, int code)
{
    uint8_t rsp[MODBUS_TCP_MAX_ADU_LENGTH];
    ssize_t got = 0;

    modbus_set_socket(s->ctx, s->pair[0]);
    int n = reply(s, req, len, code);
    if (n <= 0 || n > (int)sizeof(rsp)) {
        return -1;
    }
    while (got < n) {
        ssize_t r = recv(s->pair[1], rsp + got, (size_t)(n - got), 0);
        if (r <= 0) {
            return -1;
        }
        got += r;
    }
    for (int i = 0; i < n; i++) {
        if (send(fd, rsp + i, 1, MSG_NOSIGNAL) != 1) {
            return -1;
        }
        if (i + 1 < n) {
            sleep_ms(SPLIT_PAUSE_MS);
        }
    }
    return 0;
}

/* Answers (or deliberately ignores) one request. Returns 0 or -1 when the
 * connection must be dropped. */
static int answer(server_t *s, int fd, const uint8_t *req, int len)
{
    const int hl = modbus_get_header_length(s->ctx); /* MBAP: the unit id is its last byte */
    const int unit = req[hl - 1];
    const int code = exception_for(&s->opt, req + hl, len - hl);
    const char *what = s->opt.blackhole ? "blackholed" : code ? "exception" : "reply";

    if (s->opt.unit >= 0 && unit != s->opt.unit) {
        what = "ignored (unit)";
    }
    if (s->opt.verbose) {
        fprintf(stderr, "modbus_server: fd %d unit %d fc %d: %s\n", fd, unit, req[hl], what);
    }
    if (s->record) { /* the PDU as the test reads it: "06 00 64 41 ac" */
        for (int i = hl; i < len; i++) {
            fprintf(s->record, "%s%02x", i > hl ? " " : "", req[i]);
        }
        fputc('\n', s->record);
        fflush(s->record);
    }
    if (s->opt.silent_writes && (req[hl] == 5 || req[hl] == 6 || req[hl] == 15 || req[hl] == 16)) {
        return 0; /* --silent-writes: reads are answered, writes never */
    }
    if (s->opt.blackhole || (s->opt.unit >= 0 && unit != s->opt.unit)) {
        return 0;
    }
    if (s->opt.delay_ms > 0) {
        sleep_ms(s->opt.delay_ms);
    }
    if (s->opt.split) {
        return reply_split(s, fd, req, len, code);
    }
    modbus_set_socket(s->ctx, fd);
    return reply(s, req, len, code) < 0 ? -1 : 0;
}

static void drop_client(client_t *c)
{
    close(c->fd);
    c->fd = -1;
}

/* Reads and answers one request from a readable client. Returns true once
 * --max-requests requests have been served. */
static bool serve_client(server_t *s, client_t *c)
{
    uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];

    modbus_set_socket(s->ctx, c->fd);
    int len = modbus_receive(s->ctx, req);
    if (len < 0) { /* closed by the client, reset, or a malformed frame */
        if (s->opt.verbose) {
            fprintf(stderr, "modbus_server: fd %d: %s\n", c->fd, modbus_strerror(errno));
        }
        drop_client(c);
        return false;
    }
    if (len == 0) {
        return false;
    }
    c->requests++;
    s->requests++;
    if (answer(s, c->fd, req, len) < 0 ||
        (s->opt.close_after > 0 && c->requests >= s->opt.close_after)) {
        drop_client(c);
    }
    return s->opt.max_requests > 0 && s->requests >= s->opt.max_requests;
}

static void accept_client(server_t *s)
{
    int one = 1;
    int fd = modbus_tcp_accept(s->ctx, &s->listen_fd);

    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED) {
            perror("modbus_server: accept");
        }
        return;
    }
    for (size_t i = 0; i < MAX_CLIENTS && fd < FD_SETSIZE; i++) {
        if (s->clients[i].fd < 0) {
            /* Without TCP_NODELAY, --split bytes would be coalesced by Nagle. */
            if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
                perror("modbus_server: TCP_NODELAY");
            }
            s->clients[i] = (client_t){.fd = fd, .requests = 0};
            s->connections++;
            return;
        }
    }
    fprintf(stderr, "modbus_server: too many clients, closing fd %d\n", fd);
    close(fd);
}

/* The select() loop. Signals are blocked except inside pselect(), so a
 * SIGTERM can neither be lost between the check and the wait nor interrupt
 * libmodbus half-way through a frame. */
static int serve(server_t *s, const sigset_t *wait_mask)
{
    while (!stop_signal) {
        fd_set rd;
        int maxfd = s->listen_fd;

        FD_ZERO(&rd);
        FD_SET(s->listen_fd, &rd);
        for (size_t i = 0; i < MAX_CLIENTS; i++) {
            if (s->clients[i].fd >= 0) {
                FD_SET(s->clients[i].fd, &rd);
                maxfd = s->clients[i].fd > maxfd ? s->clients[i].fd : maxfd;
            }
        }
        if (pselect(maxfd + 1, &rd, NULL, NULL, NULL, wait_mask) < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("modbus_server: pselect");
            return -1;
        }
        if (FD_ISSET(s->listen_fd, &rd)) {
            accept_client(s);
        }
        for (size_t i = 0; i < MAX_CLIENTS; i++) {
            client_t *c = &s->clients[i];
            if (c->fd >= 0 && FD_ISSET(c->fd, &rd) && serve_client(s, c)) {
                return 0;
            }
        }
    }
    return 0;
}

/* Creates the context, the image and the listening socket, and prints the
 * port. Returns 0 or -1 (what was created is released by shutdown_server). */
static int start(server_t *s)
{
    struct sockaddr_in sa = {0};
    socklen_t sl = sizeof(sa);

    s->ctx = modbus_new_tcp("127.0.0.1", (int)s->opt.port);
    s->map = modbus_mapping_new(TABLE_SIZE, TABLE_SIZE, TABLE_SIZE, TABLE_SIZE);
    if (s->ctx == NULL || s->map == NULL) {
        fprintf(stderr, "modbus_server: %s\n", modbus_strerror(errno));
        return -1;
    }
    load_image(s->map);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->pair) < 0) {
        perror("modbus_server: socketpair");
        return -1;
    }
    s->listen_fd = modbus_tcp_listen(s->ctx, MAX_CLIENTS);
    if (s->listen_fd < 0) {
        fprintf(stderr, "modbus_server: listen on 127.0.0.1:%ld: %s\n", s->opt.port,
                modbus_strerror(errno));
        return -1;
    }
    /* Non-blocking, so a client that resets before accept() cannot hang us. */
    if (fcntl(s->listen_fd, F_SETFL, O_NONBLOCK) < 0 ||
        fcntl(s->listen_fd, F_SETFD, FD_CLOEXEC) < 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&sa, &sl) < 0) {
        perror("modbus_server: listening socket");
        return -1;
    }
    printf("PORT %u\n", ntohs(sa.sin_port));
    if (fflush(stdout) != 0) {
        perror("modbus_server: stdout");
        return -1;
    }
    return 0;
}

static void shutdown_server(server_t *s)
{
    for (size_t i = 0; i < MAX_CLIENTS; i++) {
        if (s->clients[i].fd >= 0) {
            drop_client(&s->clients[i]);
        }
    }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
    }
    for (int i = 0; i < 2; i++) {
        if (s->pair[i] >= 0) {
            close(s->pair[i]);
        }
    }
    modbus_mapping_free(s->map);
    if (s->record) {
        fclose(s->record);
    }
    if (s->ctx != NULL) {
        modbus_free(s->ctx);
    }
}

static int setup_signals(sigset_t *wait_mask)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigset_t block;

    sigemptyset(&sa.sa_mask);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    if (sigprocmask(SIG_BLOCK, &block, wait_mask) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
        sigaction(SIGINT, &sa, NULL) < 0 || signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("modbus_server: signals");
        return -1;
    }
    sigdelset(wait_mask, SIGTERM);
    sigdelset(wait_mask, SIGINT);
    return 0;
}

int main(int argc, char **argv)
{
    static server_t s; /* static: the client table need not live on the stack */
    sigset_t wait_mask;
    int rc = 1;

    s.listen_fd = -1;
    s.pair[0] = s.pair[1] = -1;
    for (size_t i = 0; i < MAX_CLIENTS; i++) {
        s.clients[i].fd = -1;
    }
    if (parse_args(argc, argv, &s.opt) < 0) {
        usage(stderr);
        return 2;
    }
    if (s.opt.record && !(s.record = fopen(s.opt.record, "a"))) {
        perror(s.opt.record);
        return 2;
    }
    if (setup_signals(&wait_mask) == 0 && start(&s) == 0 && serve(&s, &wait_mask) == 0) {
        rc = 0;
    }
    fprintf(stderr, "modbus_server: %ld connections, %ld requests\n", s.connections, s.requests);
    shutdown_server(&s);
    return rc;
}

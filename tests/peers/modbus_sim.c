/*
 * modbus_sim: a Modbus TCP simulator for sensorbridge's fan-in benchmarks.
 *
 * One process stands in for thousands of devices: every TCP connection is a
 * device, and every read request (functions 1-4) is answered after a fixed
 * latency with values the client can check without knowing any state:
 *
 *   holding register a   a
 *   input register a     a ^ 0xFFFF
 *   coil a               a & 1
 *   discrete input a     !(a & 1)
 *
 * Writes (functions 5, 6, 15, 16) are applied when they are due, after the
 * same latency, and answered with the usual echo; from then on the
 * connection's holding registers and coils read what was written. Written
 * values belong to the connection (a device) and go with it when it closes;
 * only they take memory, in a sorted array per connection. With --write-log
 * every applied write is also logged with its wall-clock time, so a benchmark
 * can tell when a command reached the device.
 *
 * A request of another function gets exception 1 (illegal function), a bad
 * quantity exception 3 and a range past 65535 exception 2, after the same
 * latency. A frame with a bad MBAP header closes the connection.
 *
 * It never blocks: one epoll loop, non-blocking sockets, and a queue of
 * pending replies whose head sets the epoll_wait() timeout. Every request gets
 * the same latency, so due times are appended in non-decreasing order and a
 * FIFO ring is already sorted; no heap is needed. A reply whose connection
 * closed in the meantime is recognised by a per-connection serial number and
 * dropped.
 *
 * Per-connection state stays small (64 bytes, the start of one read request
 * included): at most MAX_PENDING requests per connection wait for their due
 * time, and reading pauses until they are answered. Reply bytes are buffered
 * only when the socket will not take them at once, the start of a longer
 * write request only when it arrives split.
 *
 * stdout carries exactly one line, "PORT <n>"; the summary goes to stderr on
 * SIGTERM or SIGINT.
 */
#include "adapters/modbus_codec.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define MAX_PENDING 16                           /* per connection */
#define OUT_CAP ((MAX_PENDING + 1) * MB_MAX_ADU) /* see conn_send() */
#define MAX_FDS (1 << 20)
#define TAG_LISTEN 0 /* epoll tags: a connection's tag is its serial (>= 1) */
#define TAG_SIGNAL 1
#define FIRST_SERIAL 2
#define TABLE_HOLDING 0u /* the tables a write changes, in an image key's high half */
#define TABLE_COIL 1u

/* One written register or coil: key is table << 16 | address. */
typedef struct {
    uint32_t key;
    uint16_t value;
} cell_t;

/* What a connection's writes changed, sorted by key. */
typedef struct {
    size_t len, cap;
    cell_t cell[];
} image_t;

typedef struct {
    int fd;
    uint32_t serial;  /* tells this connection from a later one on the same fd */
    uint32_t events;  /* what epoll watches now */
    uint16_t pending; /* requests waiting for their due time */
    uint16_t in_len;  /* bytes of an incomplete request: in[], or in_big past MB_REQ_LEN */
    uint8_t in[MB_REQ_LEN];
    uint8_t *in_big; /* MB_MAX_ADU bytes, once a longer write request arrived split */
    image_t *image;  /* written values, NULL until the first write */
    uint8_t *out;    /* unsent reply bytes, only while the socket is full */
    uint16_t out_off, out_len;
} conn_t;

typedef struct {
    uint64_t due_us;
    uint32_t serial;
    int fd;
    mb_request_t req;  /* a write's tid, unit, fc, address and quantity too */
    uint8_t exception; /* 0: a normal reply */
    uint16_t *values;  /* a write's registers or coils (0 or 1), owned; NULL for a read */
} pending_t;

typedef struct {
    int listen_fd, sig_fd, ep;
    long latency_ms;
    conn_t **conns; /* indexed by fd */
    size_t n_conns_max;
    pending_t *ring; /* FIFO of pending replies, capacity a power of two */
    size_t ring_cap, ring_head, ring_len;
    uint32_t next_serial;
    int accept_paused; /* out of fds: stop watching the listener */
    FILE *write_log;   /* --write-log, or NULL */
    unsigned long accepted, open, peak, requests, served, exceptions, errors, dropped, writes;
    int stop;
} sim_t;

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* An epoll tag: the serial in the high half (multiplied rather than shifted,
 * which clang-tidy 14 misreads as undefined), the fd in the low half. */
static uint64_t tag(uint32_t serial, int fd)
{
    return (uint64_t)serial * 0x100000000u + (uint32_t)fd;
}

static int watch(sim_t *s, int op, int fd, uint32_t events, uint64_t t)
{
    struct epoll_event ev = {.events = events, .data.u64 = t};

    if (epoll_ctl(s->ep, op, fd, &ev) < 0) {
        fprintf(stderr, "modbus_sim: epoll_ctl fd %d: %s\n", fd, strerror(errno));
        return -1;
    }
    return 0;
}

static void conn_close(sim_t *s, conn_t *c)
{
    s->dropped += c->pending;
    s->conns[c->fd] = NULL;
    close(c->fd); /* also removes it from the epoll set */
    free(c->out);
    free(c->in_big);
    free(c->image);
    free(c);
    s->open--;
    if (s->accept_paused && watch(s, EPOLL_CTL_MOD, s->listen_fd, EPOLLIN, TAG_LISTEN) == 0) {
        s->accept_paused = 0;
    }
}

/* Reading pauses while MAX_PENDING requests wait or reply bytes are stuck,
 * which bounds both the ring and the output buffer per connection. */
static int conn_update(sim_t *s, conn_t *c)
{
    uint32_t want = 0;

    if (c->out != NULL) {
        want |= EPOLLOUT;
    } else if (c->pending < MAX_PENDING) {
        want |= EPOLLIN;
    }
    if (want == c->events) {
        return 0;
    }
    c->events = want;
    return watch(s, EPOLL_CTL_MOD, c->fd, want, tag(c->serial, c->fd));
}

static int ring_push(sim_t *s, const pending_t *p)
{
    if (s->ring_len == s->ring_cap) {
        size_t cap = s->ring_cap ? 2 * s->ring_cap : 1024;
        pending_t *r = malloc(cap * sizeof(*r));
        if (r == NULL) {
            return -1;
        }
        for (size_t i = 0; i < s->ring_len; i++) {
            r[i] = s->ring[(s->ring_head + i) & (s->ring_cap - 1)];
        }
        free(s->ring);
        s->ring = r;
        s->ring_cap = cap;
        s->ring_head = 0;
    }
    s->ring[(s->ring_head + s->ring_len) & (s->ring_cap - 1)] = *p;
    s->ring_len++;
    return 0;
}

static bool is_write(uint8_t fc)
{
    return fc == MB_FC_WRITE_SINGLE_COIL || fc == MB_FC_WRITE_SINGLE_REGISTER ||
           fc == MB_FC_WRITE_MULTIPLE_COILS || fc == MB_FC_WRITE_MULTIPLE_REGISTERS;
}

/* A write request, its values copied out for when it is due. Returns its
 * length, 0 if more bytes are needed, or a negative mb_status_t. */
static int decode_write(const uint8_t *buf, size_t n, pending_t *p)
{
    mb_write_values_t vals;
    mb_write_t w = {0};
    int rc = mb_decode_write_request(buf, n, &w, &vals);

    if (rc == MB_EQUANTITY) {
        unsigned max =
            w.fc == MB_FC_WRITE_MULTIPLE_COILS ? MB_MAX_WRITE_BITS : MB_MAX_WRITE_REGISTERS;
        int past = (uint32_t)w.address + w.quantity > 0x10000u;
        p->exception = w.quantity >= 1 && w.quantity <= max && past ? 2 : 3;
        rc = MB_MBAP_LEN - 1 + buf[5]; /* the whole frame, skipped */
    } else if (rc > 0) {
        p->values = malloc((size_t)w.quantity * sizeof(*p->values));
        if (p->values == NULL) {
            return -ENOMEM;
        }
        for (size_t i = 0; i < w.quantity; i++) {
            p->values[i] = w.bits ? (uint16_t)w.bits[i] : w.regs[i];
        }
    }
    p->req = (mb_request_t){
        .tid = w.tid, .unit = w.unit, .fc = w.fc, .address = w.address, .quantity = w.quantity};
    return rc;
}

/* One request from buf: a write (functions 5, 6, 15, 16) or a read, any other
 * function in a 12-byte frame being answered with exception 1. Returns its
 * length with *p filled, 0 if more bytes are needed, or a negative error. */
static int decode_frame(const uint8_t *buf, size_t n, pending_t *p)
{
    if (n <= MB_MBAP_LEN) {
        return 0; /* the function code chooses the decoder */
    }
    if (is_write(buf[MB_MBAP_LEN])) {
        return decode_write(buf, n, p);
    }
    int rc = mb_decode_request(buf, n, &p->req);
    if (rc == MB_EFUNCTION) {
        p->exception = 1; /* illegal function */
    } else if (rc == MB_EQUANTITY) {
        /* Quantity out of range is illegal data value; a range that passes
         * 65535 is illegal data address. */
        unsigned max = p->req.fc <= MB_FC_READ_DISCRETE_INPUTS ? MB_MAX_BITS : MB_MAX_REGISTERS;
        p->exception = p->req.quantity == 0 || p->req.quantity > max ? 3 : 2;
    } else {
        return rc;
    }
    return MB_REQ_LEN;
}

/* Consumes complete requests from buf and queues their replies. Returns the
 * bytes consumed, or -1 when the stream has lost its framing. */
static long queue_requests(sim_t *s, conn_t *c, const uint8_t *buf, size_t n)
{
    const uint64_t due = now_us() + (uint64_t)s->latency_ms * 1000u;
    size_t off = 0;

    while (off < n) {
        pending_t p = {.serial = c->serial, .fd = c->fd, .due_us = due};
        int rc = decode_frame(buf + off, n - off, &p);
        if (rc == 0) {
            break;
        } else if (rc < 0) {
            fprintf(stderr, "modbus_sim: fd %d: %s\n", c->fd,
                    rc == -ENOMEM ? strerror(ENOMEM) : mb_status_name(rc));
            s->errors++;
            return -1;
        }
        if (ring_push(s, &p) < 0) {
            perror("modbus_sim: ring");
            free(p.values);
            return -1;
        }
        c->pending++;
        s->requests++;
        off += (size_t)rc;
    }
    return (long)off;
}

/* Keeps the start of an incomplete request for the next read: in c->in when
 * it fits, as any read request's does, else in c->in_big, allocated the
 * first time a longer write request arrives split and kept until the
 * connection closes. Where the bytes are follows from c->in_len. */
static int keep_partial(conn_t *c, const uint8_t *bytes, size_t len)
{
    if (len > MB_REQ_LEN && c->in_big == NULL) {
        c->in_big = malloc(MB_MAX_ADU);
        if (c->in_big == NULL) {
            return -1;
        }
    }
    memcpy(len > MB_REQ_LEN ? c->in_big : c->in, bytes, len);
    c->in_len = (uint16_t)len; /* below MB_MAX_ADU: less than one frame */
    return 0;
}

/*
 * Reads at most MAX_PENDING - pending requests' worth beyond the partial
 * request kept, so the count of pending requests can never pass MAX_PENDING:
 * every request is at least MB_REQ_LEN bytes, and the partial one needs at
 * least one more byte.
 */
static void conn_read(sim_t *s, conn_t *c)
{
    uint8_t buf[MB_MAX_ADU + MAX_PENDING * MB_REQ_LEN];
    if (c->pending >= MAX_PENDING) {
        return;
    }
    size_t want = (size_t)(MAX_PENDING - c->pending) * MB_REQ_LEN;
    memcpy(buf, c->in_len > MB_REQ_LEN ? c->in_big : c->in, c->in_len);
    ssize_t n = read(c->fd, buf + c->in_len, want);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (n <= 0) { /* closed by the client, or reset */
        conn_close(s, c);
        return;
    }
    size_t have = c->in_len + (size_t)n;
    long used = queue_requests(s, c, buf, have);
    if (used < 0 || keep_partial(c, buf + used, have - (size_t)used) < 0 || conn_update(s, c) < 0) {
        conn_close(s, c);
    }
}

/* Sends what the socket takes. Returns 0, or -1 if the connection is gone. */
static int conn_flush(sim_t *s, conn_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        c->out_off += (uint16_t)n;
    }
    if (c->out_off == c->out_len) {
        free(c->out);
        c->out = NULL;
        c->out_off = c->out_len = 0;
    }
    return conn_update(s, c);
}

/*
 * Queues one reply and sends what the socket takes. The output buffer cannot
 * overflow: reading stops while it holds bytes, so at most MAX_PENDING more
 * replies can join the one that did not fit.
 */
static int conn_send(sim_t *s, conn_t *c, const uint8_t *buf, size_t len)
{
    if (c->out == NULL) {
        c->out = malloc(OUT_CAP);
        if (c->out == NULL) {
            return -1;
        }
    }
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len = (uint16_t)(c->out_len - c->out_off);
        c->out_off = 0;
    }
    if (c->out_len + len > OUT_CAP) {
        return -1;
    }
    memcpy(c->out + c->out_len, buf, len);
    c->out_len = (uint16_t)(c->out_len + len);
    s->served++;
    return conn_flush(s, c);
}

/* The index of key in the image, or where it would go (*found 0). */
static size_t image_find(const image_t *im, uint32_t key, int *found)
{
    size_t lo = 0, hi = im ? im->len : 0;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (im->cell[mid].key < key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = im && lo < im->len && im->cell[lo].key == key;
    return lo;
}

static int image_set(image_t **imp, uint32_t key, uint16_t value)
{
    int found;
    image_t *im = *imp;
    size_t i = image_find(im, key, &found);

    if (!found && (im == NULL || im->len == im->cap)) {
        size_t cap = im ? 2 * im->cap : 16;
        image_t *bigger = realloc(im, sizeof(*im) + cap * sizeof(im->cell[0]));
        if (bigger == NULL) {
            return -1;
        }
        if (im == NULL) {
            bigger->len = 0;
        }
        bigger->cap = cap;
        *imp = im = bigger;
    }
    if (!found) {
        memmove(&im->cell[i + 1], &im->cell[i], (im->len - i) * sizeof(im->cell[0]));
        im->len++;
    }
    im->cell[i] = (cell_t){.key = key, .value = value};
    return 0;
}

/* A holding register or coil: what was written, else the value of its address. */
static uint16_t image_get(const image_t *im, uint32_t table, uint32_t a)
{
    int found;
    size_t i = image_find(im, table << 16 | a, &found);

    if (found) {
        return im->cell[i].value;
    }
    return table == TABLE_COIL ? (uint16_t)(a & 1) : (uint16_t)a;
}

static int encode_reply(const conn_t *c, const pending_t *p, uint8_t *buf, size_t cap)
{
    uint16_t regs[MB_MAX_REGISTERS];
    uint8_t bits[(MB_MAX_BITS + 7) / 8] = {0};
    const mb_request_t *r = &p->req;

    if (p->exception != 0) {
        return mb_encode_exception(r, p->exception, buf, cap);
    }
    for (uint32_t i = 0; i < r->quantity; i++) {
        uint32_t a = r->address + i;
        switch (r->fc) {
        case MB_FC_READ_COILS:
            bits[i / 8] |= (uint8_t)(image_get(c->image, TABLE_COIL, a) << (i % 8));
            break;
        case MB_FC_READ_DISCRETE_INPUTS:
            bits[i / 8] |= (uint8_t)((~a & 1) << (i % 8));
            break;
        case MB_FC_READ_HOLDING_REGISTERS:
            regs[i] = image_get(c->image, TABLE_HOLDING, a);
            break;
        default:
            regs[i] = (uint16_t)(a ^ 0xFFFF);
            break;
        }
    }
    return mb_encode_response(r, regs, bits, buf, cap);
}

/* "<wall-clock ms, µs resolution> <fc> <address> <quantity> <values...>" */
static void log_write(sim_t *s, const pending_t *p)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    fprintf(s->write_log, "%" PRIu64 ".%03u %u %u %u", us / 1000u, (unsigned)(us % 1000u),
            p->req.fc, p->req.address, p->req.quantity);
    for (size_t i = 0; i < p->req.quantity; i++) {
        fprintf(s->write_log, " %u", p->values[i]);
    }
    if (fputc('\n', s->write_log) == EOF || fflush(s->write_log) != 0) {
        perror("modbus_sim: write log");
        fclose(s->write_log);
        s->write_log = NULL;
    }
}

/* Applies a due write to the connection's image and encodes its echo; a
 * write that finds no memory is answered with exception 4 (server device
 * failure) and changes nothing it had not changed yet. */
static int apply_write(sim_t *s, conn_t *c, pending_t *p, uint8_t *buf, size_t cap)
{
    bool coil = p->values[0] != 0; /* FC 5's echo; FC 15's echoes the quantity */
    uint32_t table = p->req.fc == MB_FC_WRITE_SINGLE_COIL || p->req.fc == MB_FC_WRITE_MULTIPLE_COILS
                         ? TABLE_COIL
                         : TABLE_HOLDING;
    mb_write_t w = {.tid = p->req.tid,
                    .unit = p->req.unit,
                    .fc = p->req.fc,
                    .address = p->req.address,
                    .quantity = p->req.quantity,
                    .regs = p->values,
                    .bits = &coil};

    for (uint32_t i = 0; i < p->req.quantity; i++) {
        if (image_set(&c->image, table << 16 | (p->req.address + i), p->values[i]) < 0) {
            p->exception = 4;
            return mb_encode_exception(&p->req, p->exception, buf, cap);
        }
    }
    s->writes++;
    if (s->write_log != NULL) {
        log_write(s, p);
    }
    return mb_encode_write_response(&w, buf, cap);
}

static void fire_due(sim_t *s)
{
    uint64_t now = now_us();

    while (s->ring_len > 0 && s->ring[s->ring_head].due_us <= now) {
        pending_t p = s->ring[s->ring_head];
        uint8_t buf[MB_MAX_ADU];
        s->ring_head = (s->ring_head + 1) & (s->ring_cap - 1);
        s->ring_len--;

        conn_t *c = s->conns[p.fd];
        if (c == NULL || c->serial != p.serial) {
            free(p.values);
            continue; /* the connection closed; counted in conn_close() */
        }
        c->pending--;
        int len = p.values ? apply_write(s, c, &p, buf, sizeof(buf))
                           : encode_reply(c, &p, buf, sizeof(buf));
        free(p.values);
        s->exceptions += p.exception != 0;
        if (len < 0 || conn_send(s, c, buf, (size_t)len) < 0) {
            conn_close(s, c);
        }
    }
}

static int next_timeout_ms(const sim_t *s)
{
    if (s->ring_len == 0) {
        return -1;
    }
    uint64_t due = s->ring[s->ring_head].due_us, now = now_us();
    return due <= now ? 0 : (int)((due - now + 999) / 1000);
}

static void accept_all(sim_t *s)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Wait for a connection to close rather than spin on the listener. */
                fprintf(stderr, "modbus_sim: accept: %s (%lu open)\n", strerror(errno), s->open);
                if (watch(s, EPOLL_CTL_MOD, s->listen_fd, 0, TAG_LISTEN) == 0) {
                    s->accept_paused = 1;
                }
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                       errno != ECONNABORTED) {
                perror("modbus_sim: accept");
            }
            return;
        }
        conn_t *c = calloc(1, sizeof(*c));
        if ((size_t)fd >= s->n_conns_max || c == NULL) {
            free(c);
            close(fd);
            continue;
        }
        *c = (conn_t){.fd = fd, .serial = s->next_serial++, .events = EPOLLIN};
        if (s->next_serial < FIRST_SERIAL) {
            s->next_serial = FIRST_SERIAL;
        }
        if (watch(s, EPOLL_CTL_ADD, fd, EPOLLIN, tag(c->serial, fd)) < 0) {
            free(c);
            close(fd);
            continue;
        }
        s->conns[fd] = c;
        s->accepted++;
        s->peak = ++s->open > s->peak ? s->open : s->peak;
    }
}

static void dispatch(sim_t *s, const struct epoll_event *ev)
{
    uint32_t serial = (uint32_t)(ev->data.u64 >> 32);
    int fd = (int)(uint32_t)ev->data.u64;

    if (ev->data.u64 == TAG_LISTEN) {
        accept_all(s);
        return;
    }
    if (ev->data.u64 == TAG_SIGNAL) {
        s->stop = 1;
        return;
    }
    conn_t *c = s->conns[fd];
    if (c == NULL || c->serial != serial) {
        return; /* closed earlier in this batch */
    }
    if (ev->events & (EPOLLERR | EPOLLHUP)) {
        conn_close(s, c);
    } else if ((ev->events & EPOLLOUT) && conn_flush(s, c) < 0) {
        conn_close(s, c);
    } else if (ev->events & EPOLLIN) {
        conn_read(s, c);
    }
}

static int run(sim_t *s)
{
    struct epoll_event evs[MAX_EVENTS];

    while (!s->stop) {
        int n = epoll_wait(s->ep, evs, MAX_EVENTS, next_timeout_ms(s));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            perror("modbus_sim: epoll_wait");
            return -1;
        }
        for (int i = 0; i < n; i++) {
            dispatch(s, &evs[i]);
        }
        fire_due(s);
    }
    return 0;
}

/* Thousands of connections need thousands of fds: raise the soft limit to
 * the hard one, and size the connection table by the result. */
static size_t raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        perror("modbus_sim: getrlimit");
        return 1024;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            perror("modbus_sim: setrlimit");
            rl.rlim_cur = old;
        }
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > MAX_FDS ? MAX_FDS : (size_t)rl.rlim_cur;
}

static int open_listener(sim_t *s, long port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t sl = sizeof(sa);
    int one = 1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0 ||
        setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(s->listen_fd, 4096) < 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&sa, &sl) < 0) {
        fprintf(stderr, "modbus_sim: listen on 127.0.0.1:%ld: %s\n", port, strerror(errno));
        return -1;
    }
    return ntohs(sa.sin_port);
}

/* Signals arrive through a signalfd, so the loop sees them as events. */
static int open_signalfd(sim_t *s)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("modbus_sim: signals");
        return -1;
    }
    s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->sig_fd < 0) {
        perror("modbus_sim: signalfd");
        return -1;
    }
    return 0;
}

static int start(sim_t *s, long port)
{
    s->n_conns_max = raise_nofile();
    s->conns = calloc(s->n_conns_max, sizeof(*s->conns));
    if (s->conns == NULL) {
        perror("modbus_sim: connection table");
        return -1;
    }
    if (open_signalfd(s) < 0) {
        return -1;
    }
    int actual = open_listener(s, port);
    if (actual < 0) {
        return -1;
    }
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep < 0) {
        perror("modbus_sim: epoll_create1");
        return -1;
    }
    if (watch(s, EPOLL_CTL_ADD, s->listen_fd, EPOLLIN, TAG_LISTEN) < 0 ||
        watch(s, EPOLL_CTL_ADD, s->sig_fd, EPOLLIN, TAG_SIGNAL) < 0) {
        return -1;
    }
    printf("PORT %d\n", actual);
    if (fflush(stdout) != 0) {
        perror("modbus_sim: stdout");
        return -1;
    }
    return 0;
}

static void finish(sim_t *s)
{
    for (size_t fd = 0; s->conns != NULL && fd < s->n_conns_max; fd++) {
        if (s->conns[fd] != NULL) {
            conn_close(s, s->conns[fd]);
        }
    }
    fprintf(stderr,
            "modbus_sim: connections %lu (peak %lu), requests %lu, served %lu "
            "(exceptions %lu), writes %lu, dropped %lu, protocol errors %lu\n",
            s->accepted, s->peak, s->requests, s->served, s->exceptions, s->writes, s->dropped,
            s->errors);
    free(s->conns);
    for (size_t i = 0; i < s->ring_len; i++) {
        free(s->ring[(s->ring_head + i) & (s->ring_cap - 1)].values);
    }
    free(s->ring);
    if (s->write_log != NULL) {
        fclose(s->write_log);
    }
    for (int i = 0; i < 3; i++) {
        int fd = i == 0 ? s->listen_fd : i == 1 ? s->sig_fd : s->ep;
        if (fd >= 0) {
            close(fd);
        }
    }
}

static int parse_long(const char *str, long min, long max, long *out)
{
    char *end;

    errno = 0;
    long v = strtol(str, &end, 10);
    if (errno != 0 || end == str || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"latency-ms", required_argument, NULL, 'l'},
        {"write-log", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sim_t s = {
        .listen_fd = -1, .sig_fd = -1, .ep = -1, .latency_ms = 100, .next_serial = FIRST_SERIAL};
    long port = 0;
    const char *write_log = NULL;
    int c, rc = 0;

    while (rc == 0 && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'p') {
            rc = parse_long(optarg, 0, 65535, &port);
        } else if (c == 'l') {
            rc = parse_long(optarg, 0, 3600000, &s.latency_ms);
        } else if (c == 'w') {
            write_log = optarg;
        } else {
            rc = c == 'h' ? 1 : -1;
        }
    }
    if (rc != 0 || optind != argc) {
        fputs("usage: modbus_sim [--port N] [--latency-ms N] [--write-log FILE]\n"
              "Prints 'PORT <n>' on stdout once listening on 127.0.0.1.\n",
              rc == 1 ? stdout : stderr);
        return rc == 1 ? 0 : 2;
    }
    if (write_log != NULL && (s.write_log = fopen(write_log, "ae")) == NULL) {
        fprintf(stderr, "modbus_sim: %s: %s\n", write_log, strerror(errno));
        return 2;
    }
    rc = start(&s, port) == 0 && run(&s) == 0 ? 0 : 1;
    finish(&s);
    return rc;
}

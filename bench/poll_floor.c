/*
 * poll_floor: what polling Modbus TCP devices costs with nothing else done,
 * the floor under any gateway's CPU on bench/publish's workload.
 *
 * Opens N TCP connections to one Modbus TCP server (normally
 * tests/peers/modbus_sim, where every connection is one device) and, every
 * --interval-ms, sends each the same "read holding registers" request (one
 * write() per device) and reads the answers as epoll reports them. By
 * default every request goes at the same instant, the fewest wake-ups any
 * poller can have; --slots S spreads the devices over S evenly spaced
 * instants of the interval, as sensorbridge's random phases on its timer
 * grid do (S = 8 for a 1 s interval, docs/design.md). It
 * checks only that an answer is a complete frame of the expected length; it
 * decodes nothing, publishes nothing and keeps no timers beyond the one
 * tick. A gateway that polls the same devices cannot cost less than this,
 * so it bounds what any payload layout can save.
 *
 * Runs until SIGTERM or SIGINT, then prints one JSON line on stdout:
 *
 *   {"devices":N,"requests":R,"answers":A,"errors":E}
 *
 * Usage: poll_floor --port P [--host H] [--devices N] [--points K]
 *                   [--interval-ms T] [--slots S]
 * Exit status: 0, or 2 on bad arguments or when a device cannot be
 * connected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVICES 4096

struct device {
    int fd;
    size_t got; /* bytes of the current answer */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_device(const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1;
    int fd;

    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void usage(void)
{
    fputs("usage: poll_floor --port P [--host H] [--devices N] [--points K] "
          "[--interval-ms T] [--slots S]\n",
          stderr);
}

int main(int argc, char **argv)
{
    static struct device dev[MAX_DEVICES];
    const char *host = "127.0.0.1";
    int port = 0, n = 100, points = 50, interval = 1000, slots = 1, slot = 0;
    uint64_t requests = 0, answers = 0, errors = 0;
    uint8_t req[12];
    size_t want;
    int ep;

    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!v) {
            usage();
            return 2;
        }
        if (!strcmp(argv[i], "--port"))
            port = atoi(v);
        else if (!strcmp(argv[i], "--host"))
            host = v;
        else if (!strcmp(argv[i], "--devices"))
            n = atoi(v);
        else if (!strcmp(argv[i], "--points"))
            points = atoi(v);
        else if (!strcmp(argv[i], "--interval-ms"))
            interval = atoi(v);
        else if (!strcmp(argv[i], "--slots"))
            slots = atoi(v);
        else {
            usage();
            return 2;
        }
    }
    if (port <= 0 || n <= 0 || n > MAX_DEVICES || points <= 0 || points > 125 || interval <= 0 ||
        slots <= 0 || slots > n || slots > interval) {
        usage();
        return 2;
    }
    /* MBAP header (transaction 1, protocol 0, length 6, unit 1), then
     * function 3, address 1, count. */
    memcpy(req, (uint8_t[]){0, 1, 0, 0, 0, 6, 1, 3, 0, 1, 0, (uint8_t)points}, sizeof(req));
    want = 9 + 2 * (size_t)points;
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return 2;
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &dev[i]};

        if ((dev[i].fd = connect_device(host, port)) < 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, dev[i].fd, &ev) < 0) {
            fprintf(stderr, "poll_floor: device %d: %s\n", i + 1, strerror(errno));
            return 2;
        }
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    fprintf(stderr, "poll_floor: %d devices x %d registers every %d ms in %d slot(s)\n", n, points,
            interval, slots);

    for (int64_t due = now_ms(); !stop;) {
        struct epoll_event evs[256];
        int64_t wait = due - now_ms();
        int k;

        if (wait <= 0) {
            for (int i = slot; i < n; i += slots) {
                if (write(dev[i].fd, req, sizeof(req)) != (ssize_t)sizeof(req))
                    errors++;
                dev[i].got = 0;
                requests++;
            }
            slot = (slot + 1) % slots;
            due += interval / slots + (slot == 0 ? interval % slots : 0);
            continue;
        }
        k = epoll_wait(ep, evs, 256, (int)wait);
        for (int j = 0; j < k; j++) {
            struct device *d = evs[j].data.ptr;
            uint8_t buf[512];
            ssize_t r = read(d->fd, buf, sizeof(buf));

            if (r <= 0) { /* the server went away: stop watching */
                epoll_ctl(ep, EPOLL_CTL_DEL, d->fd, NULL);
                errors++;
                continue;
            }
            d->got += (size_t)r;
            if (d->got == want)
                answers++;
            else if (d->got > want)
                errors++;
        }
    }
    printf("{\"devices\":%d,\"requests\":%llu,\"answers\":%llu,\"errors\":%llu}\n", n,
           (unsigned long long)requests, (unsigned long long)answers, (unsigned long long)errors);
    return 0;
}

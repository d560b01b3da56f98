/*
 * count_sub: the counting subscriber of bench/throughput and bench/latency.
 *
 * A libmosquitto client (one thread, mosquitto_loop) that subscribes to one
 * topic filter and counts the readings that arrive: messages whose payload
 * starts with {"sensor": (status and stats messages are counted apart).
 * With --latency it also parses each reading's "ts" (milliseconds since the
 * epoch, taken when the reading was sampled) and records receipt time minus
 * ts, in milliseconds with microsecond resolution on the receipt side.
 *
 *   count_sub --port N --topic FILTER [--qos Q] [--expect N] [--idle-ms MS]
 *             [--latency] [--skip-ms MS] [--max-s S]
 *
 * Prints "READY" on stdout once the broker has acknowledged the
 * subscription, and when it stops (--expect readings seen, no reading for
 * --idle-ms after the first one, --max-s elapsed, or SIGTERM/SIGINT) one JSON
 * line: counts, the time between the first and the last reading (CLOCK_MONOTONIC),
 * its own CPU time (getrusage) and, with --latency, the latency percentiles of
 * the readings whose ts is at least --skip-ms after the first reading's ts
 * (the start-up backlog is left out).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "benchtime.h"

static volatile sig_atomic_t stop_signal;

static struct {
    const char *topic;
    int qos;
    long long expect;
    long idle_ms;
    double max_s;
    int latency;
    long skip_ms;
} opt = {.qos = 0, .idle_ms = 0, .max_s = 0, .skip_ms = 0};

static struct {
    long long readings, other, bytes;
    double first_mono, last_mono, start_mono;
    int subscribed;
    int done;
    long long first_ts;
    double *lat; /* ms */
    size_t n_lat, cap_lat;
    long long lat_skipped, lat_unparsed;
} st = {.first_ts = -1};

/* Receipt time with sub-millisecond resolution, for latency. */
static double wall_ms_exact(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
    (void)arg;
    if (rc != 0) {
        fprintf(stderr, "count_sub: connect refused: %s\n", mosquitto_connack_string(rc));
        st.done = 1;
        return;
    }
    mosquitto_subscribe(m, NULL, opt.topic, opt.qos);
}

static void on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *granted)
{
    (void)m;
    (void)arg;
    (void)mid;
    if (n < 1 || granted[0] > 2) {
        fprintf(stderr, "count_sub: subscription refused\n");
        st.done = 1;
        return;
    }
    st.subscribed = 1;
    st.start_mono = mono_s();
    printf("READY\n");
    fflush(stdout);
}

static long long parse_ts(const char *p, size_t len)
{
    const char *q = memmem(p, len, "\"ts\":", 5);
    long long v = 0;

    if (!q)
        return -1;
    q += 5;
    if (q >= p + len || *q < '0' || *q > '9')
        return -1;
    while (q < p + len && *q >= '0' && *q <= '9')
        v = v * 10 + (*q++ - '0');
    return v;
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
    const char *p = msg->payload;
    double now = mono_s();

    (void)arg;
    if (msg->payloadlen < 10 || memcmp(p, "{\"sensor\":", 10) != 0) {
        st.other++;
        return;
    }
    if (st.readings++ == 0)
        st.first_mono = now;
    st.last_mono = now;
    st.bytes += msg->payloadlen;
    if (opt.latency) {
        double rx = wall_ms_exact();
        long long ts = parse_ts(p, (size_t)msg->payloadlen);

        if (ts < 0) {
            st.lat_unparsed++;
        } else {
            if (st.first_ts < 0)
                st.first_ts = ts;
            if (ts < st.first_ts + opt.skip_ms) {
                st.lat_skipped++;
            } else {
                if (st.n_lat == st.cap_lat) {
                    size_t cap = st.cap_lat ? st.cap_lat * 2 : 65536;
                    double *grown = realloc(st.lat, cap * sizeof(*grown));

                    if (!grown) {
                        fprintf(stderr, "count_sub: out of memory\n");
                        exit(1);
                    }
                    st.lat = grown;
                    st.cap_lat = cap;
                }
                st.lat[st.n_lat++] = rx - (double)ts;
            }
        }
    }
    if (opt.expect > 0 && st.readings >= opt.expect) {
        st.done = 1;
        mosquitto_disconnect(m);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *v, size_t n, double p)
{
    size_t k;

    if (n == 0)
        return 0;
    k = (size_t)(p / 100.0 * (double)n + 0.999999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

static void usage(void)
{
    fprintf(stderr, "usage: count_sub --port N --topic FILTER [--host H] [--qos Q] [--expect N]\n"
                    "                 [--idle-ms MS] [--max-s S] [--latency] [--skip-ms MS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"host", required_argument, 0, 'h'},    {"port", required_argument, 0, 'p'},
        {"topic", required_argument, 0, 't'},   {"qos", required_argument, 0, 'q'},
        {"expect", required_argument, 0, 'n'},  {"idle-ms", required_argument, 0, 'i'},
        {"max-s", required_argument, 0, 'm'},   {"latency", no_argument, 0, 'l'},
        {"skip-ms", required_argument, 0, 's'}, {0, 0, 0, 0},
    };
    const char *host = "127.0.0.1";
    int port = 0, c, rc;
    struct mosquitto *m;
    struct rusage ru;
    char id[64];

    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'h':
            host = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 't':
            opt.topic = optarg;
            break;
        case 'q':
            opt.qos = atoi(optarg);
            break;
        case 'n':
            opt.expect = atoll(optarg);
            break;
        case 'i':
            opt.idle_ms = atol(optarg);
            break;
        case 'm':
            opt.max_s = atof(optarg);
            break;
        case 'l':
            opt.latency = 1;
            break;
        case 's':
            opt.skip_ms = atol(optarg);
            break;
        default:
            usage();
        }
    }
    if (!port || !opt.topic || opt.qos < 0 || opt.qos > 2)
        usage();
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    snprintf(id, sizeof(id), "count_sub-%d", (int)getpid());
    m = mosquitto_new(id, true, NULL);
    if (!m) {
        perror("count_sub: mosquitto_new");
        return 1;
    }
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    mosquitto_message_callback_set(m, on_message);
    rc = mosquitto_connect(m, host, port, 60);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "count_sub: cannot connect to %s:%d: %s\n", host, port,
                mosquitto_strerror(rc));
        return 1;
    }
    double t0 = mono_s();
    while (!st.done && !stop_signal) {
        rc = mosquitto_loop(m, 100, 1000);
        if (rc != MOSQ_ERR_SUCCESS) {
            if (st.done)
                break;
            fprintf(stderr, "count_sub: %s\n", mosquitto_strerror(rc));
            break;
        }
        double now = mono_s();
        if (opt.idle_ms > 0 && st.readings > 0 && (now - st.last_mono) * 1000.0 > opt.idle_ms)
            break;
        if (opt.max_s > 0 && now - t0 > opt.max_s)
            break;
    }
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6;
    double span = st.readings > 1 ? st.last_mono - st.first_mono : 0;
    printf("{\"readings\":%lld,\"other\":%lld,\"bytes\":%lld,\"span_s\":%.6f,"
           "\"rate_per_s\":%.1f,\"cpu_s\":%.4f,\"first_mono\":%.6f,\"last_mono\":%.6f",
           st.readings, st.other, st.bytes, span, span > 0 ? (st.readings - 1) / span : 0.0, cpu,
           st.first_mono, st.last_mono);
    if (opt.latency) {
        qsort(st.lat, st.n_lat, sizeof(*st.lat), cmp_double);
        double sum = 0;

        for (size_t i = 0; i < st.n_lat; i++)
            sum += st.lat[i];
        printf(",\"lat_samples\":%zu,\"lat_skipped\":%lld,\"lat_unparsed\":%lld", st.n_lat,
               st.lat_skipped, st.lat_unparsed);
        if (st.n_lat)
            printf(",\"lat_min_ms\":%.3f,\"lat_mean_ms\":%.3f,\"lat_p50_ms\":%.3f,"
                   "\"lat_p90_ms\":%.3f,\"lat_p99_ms\":%.3f,\"lat_p999_ms\":%.3f,"
                   "\"lat_max_ms\":%.3f",
                   st.lat[0], sum / st.n_lat, pct(st.lat, st.n_lat, 50), pct(st.lat, st.n_lat, 90),
                   pct(st.lat, st.n_lat, 99), pct(st.lat, st.n_lat, 99.9), st.lat[st.n_lat - 1]);
    }
    printf("}\n");
    fflush(stdout);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    free(st.lat);
    return 0;
}

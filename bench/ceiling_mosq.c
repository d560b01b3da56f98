/*
 * ceiling_mosq: bench/throughput's reference publisher with libmosquitto.
 *
 * The same messages as ceiling_pub (topics and payloads of sensorbridge's
 * simulated readings), the same window of --inflight outstanding messages,
 * but one thread and libmosquitto: mosquitto_publish() writes straight to
 * the socket when it can, mosquitto_loop() reads the acknowledgements.
 * A message is outstanding from mosquitto_publish() until on_publish (for
 * QoS 0: once written to the socket).
 *
 * With --rate R it is paced instead of flooding: message i is due at
 * t0 + i / R on an absolute schedule (a late wake-up is caught up, not
 * carried forward), still within the window, and between due times the
 * single thread sleeps in mosquitto_loop() with a timeout up to the next one.
 * That is bench/latency's minimal publisher at the gateway's rate; --messages
 * is then the total (rate x seconds).
 *
 *   ceiling_mosq --port N [--host H] [--messages M] [--qos Q] [--inflight W]
 *                [--sensors S] [--prefix TOPIC_PREFIX] [--adapter NAME] [--rate R]
 *
 * Prints one JSON line like ceiling_pub's, with its context switches.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <mosquitto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "benchtime.h"

static long long done_count;
static int connected = -1;

/* What every message is made of; the loops below only decide when. */
struct pub {
    struct mosquitto *m;
    const char *prefix, *adapter;
    int qos, sensors;
    unsigned long long *seq;
    uint64_t rng;
};

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
    (void)m;
    (void)arg;
    connected = rc == 0;
    if (rc)
        fprintf(stderr, "ceiling_mosq: connect refused: %s\n", mosquitto_connack_string(rc));
}

static void on_publish(struct mosquitto *m, void *arg, int mid)
{
    (void)m;
    (void)arg;
    (void)mid;
    done_count++;
}

/* Publishes message number i: sensor i % sensors, its next seq, ts = now. */
static int publish_one(struct pub *p, long long i)
{
    char topic[256], payload[512];
    int s = (int)(i % p->sensors), plen, rc;
    double v;

    p->rng = p->rng * 6364136223846793005u + 1442695040888963407u;
    v = 40.0 + (double)((p->rng >> 33) % 2000) / 100.0;
    snprintf(topic, sizeof(topic), "%s/TEMP_%02d", p->prefix, s);
    plen = snprintf(payload, sizeof(payload),
                    "{\"sensor\":\"TEMP_%02d\",\"adapter\":\"%s\",\"seq\":%llu,\"ts\":%lld,"
                    "\"value\":%.15g,\"unit\":\"celsius\",\"quality\":\"good\"}",
                    s, p->adapter, ++p->seq[s], wall_ms(), v);
    rc = mosquitto_publish(p->m, NULL, topic, plen, payload, p->qos, false);
    if (rc != MOSQ_ERR_SUCCESS)
        fprintf(stderr, "ceiling_mosq: publish: %s\n", mosquitto_strerror(rc));
    return rc;
}

/* Whether message i may go now: the window has room and, when paced, its
 * time (t0 + i / rate) has come. */
static int may_send(long long i, long long messages, int inflight, double rate, double t0)
{
    if (i >= messages || i - done_count >= inflight)
        return 0;
    return rate <= 0 || mono_s() >= t0 + (double)i / rate;
}

/* How long mosquitto_loop() may sleep, in ms: up to message i's due time
 * when paced and the window has room, else until an acknowledgement comes.
 * Rounded up, so the thread never spins; a wake-up up to 1 ms late is caught
 * up by the absolute schedule. */
static int sleep_ms(long long i, long long messages, int inflight, double rate, double t0)
{
    double wait_ms;

    if (rate <= 0 || i >= messages || i - done_count >= inflight)
        return 1000;
    wait_ms = (t0 + (double)i / rate - mono_s()) * 1000.0;
    if (wait_ms <= 0)
        return 0;
    return wait_ms >= 1000 ? 1000 : (int)wait_ms + 1;
}

/* Publishes `messages` messages, flooding (rate <= 0) or paced, with at most
 * `inflight` outstanding, and returns once all are done: MOSQ_ERR_SUCCESS or
 * libmosquitto's error. Everything runs on this one thread. */
static int run(struct pub *p, long long messages, int inflight, double rate, double t0)
{
    long long i = 0;
    int rc;

    while (done_count < messages) {
        while (may_send(i, messages, inflight, rate, t0)) {
            rc = publish_one(p, i);
            if (rc != MOSQ_ERR_SUCCESS)
                return rc;
            i++;
        }
        if (done_count >= messages)
            break;
        rc = mosquitto_loop(p->m, sleep_ms(i, messages, inflight, rate, t0), 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "ceiling_mosq: %s\n", mosquitto_strerror(rc));
            return rc;
        }
    }
    return MOSQ_ERR_SUCCESS;
}

static void usage(void)
{
    fprintf(stderr, "usage: ceiling_mosq --port N [--host H] [--messages M] [--qos Q] "
                    "[--inflight W] [--sensors S] [--prefix P] [--adapter NAME] [--rate R]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"host", required_argument, 0, 'h'},     {"port", required_argument, 0, 'p'},
        {"messages", required_argument, 0, 'n'}, {"qos", required_argument, 0, 'q'},
        {"inflight", required_argument, 0, 'w'}, {"sensors", required_argument, 0, 's'},
        {"prefix", required_argument, 0, 'x'},   {"adapter", required_argument, 0, 'a'},
        {"rate", required_argument, 0, 'r'},     {0, 0, 0, 0},
    };
    const char *host = "127.0.0.1", *prefix = "sensorbridge/bench/sim", *adapter = "sim";
    long long messages = 100000;
    double rate = 0;
    int port = 0, qos = 1, inflight = 64, sensors = 100, c, rc;
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
        case 'n':
            messages = atoll(optarg);
            break;
        case 'q':
            qos = atoi(optarg);
            break;
        case 'w':
            inflight = atoi(optarg);
            break;
        case 's':
            sensors = atoi(optarg);
            break;
        case 'x':
            prefix = optarg;
            break;
        case 'a':
            adapter = optarg;
            break;
        case 'r':
            rate = atof(optarg);
            break;
        default:
            usage();
        }
    }
    if (!port || qos < 0 || qos > 2 || inflight < 1 || sensors < 1 || messages < 1 || !(rate >= 0))
        usage();
    mosquitto_lib_init();
    snprintf(id, sizeof(id), "ceiling_mosq-%d", (int)getpid());
    m = mosquitto_new(id, true, NULL);
    if (!m)
        return 1;
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_publish_callback_set(m, on_publish);
    /* libmosquitto queues past its own limit; the window below is what bounds
     * the messages outstanding. */
    mosquitto_max_inflight_messages_set(m, (unsigned)inflight);
    rc = mosquitto_connect(m, host, port, 30);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "ceiling_mosq: connect: %s\n", mosquitto_strerror(rc));
        return 1;
    }
    while (connected < 0) {
        rc = mosquitto_loop(m, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "ceiling_mosq: %s\n", mosquitto_strerror(rc));
            return 1;
        }
    }
    if (!connected)
        return 1;

    unsigned long long *seq = calloc((size_t)sensors, sizeof(*seq));
    struct pub p = {m, prefix, adapter, qos, sensors, seq, 0x9e3779b97f4a7c15u};
    double t0 = mono_s();

    if (!seq || run(&p, messages, inflight, rate, t0) != MOSQ_ERR_SUCCESS)
        return 1;
    double t1 = mono_s();

    mosquitto_disconnect(m);
    mosquitto_loop(m, 100, 1);
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6;
    printf("{\"client\":\"libmosquitto\",\"messages\":%lld,\"qos\":%d,\"inflight\":%d,"
           "\"target_rate_per_s\":%.1f,\"elapsed_s\":%.6f,\"rate_per_s\":%.1f,\"cpu_s\":%.4f,"
           "\"vol_cs\":%ld,\"invol_cs\":%ld,\"ctx_switches\":%ld,\"failed\":0,\"refused\":0}\n",
           messages, qos, inflight, rate, t1 - t0, messages / (t1 - t0), cpu, ru.ru_nvcsw,
           ru.ru_nivcsw, ru.ru_nvcsw + ru.ru_nivcsw);
    fflush(stdout);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    free(seq);
    return 0;
}

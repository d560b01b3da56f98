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
 *   ceiling_mosq --port N [--host H] [--messages M] [--qos Q] [--inflight W]
 *                [--sensors S] [--prefix TOPIC_PREFIX] [--adapter NAME]
 *
 * Prints one JSON line like ceiling_pub's.
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

static void usage(void)
{
    fprintf(stderr, "usage: ceiling_mosq --port N [--host H] [--messages M] [--qos Q] "
                    "[--inflight W] [--sensors S] [--prefix P] [--adapter NAME]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"host", required_argument, 0, 'h'},
        {"port", required_argument, 0, 'p'},
        {"messages", required_argument, 0, 'n'},
        {"qos", required_argument, 0, 'q'},
        {"inflight", required_argument, 0, 'w'},
        {"sensors", required_argument, 0, 's'},
        {"prefix", required_argument, 0, 'x'},
        {"adapter", required_argument, 0, 'a'},
        {0, 0, 0, 0},
    };
    const char *host = "127.0.0.1", *prefix = "sensorbridge/bench/sim", *adapter = "sim";
    long long messages = 100000;
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
        default:
            usage();
        }
    }
    if (!port || qos < 0 || qos > 2 || inflight < 1 || sensors < 1 || messages < 1)
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
    uint64_t rng = 0x9e3779b97f4a7c15u;
    char topic[256], payload[512];
    long long i = 0;
    double t0 = mono_s();

    while (done_count < messages) {
        while (i < messages && i - done_count < inflight) {
            int s = (int)(i % sensors);
            int plen;

            rng = rng * 6364136223846793005u + 1442695040888963407u;
            double v = 40.0 + (double)((rng >> 33) % 2000) / 100.0;
            snprintf(topic, sizeof(topic), "%s/TEMP_%02d", prefix, s);
            plen = snprintf(payload, sizeof(payload),
                            "{\"sensor\":\"TEMP_%02d\",\"adapter\":\"%s\",\"seq\":%llu,\"ts\":%lld,"
                            "\"value\":%.15g,\"unit\":\"celsius\",\"quality\":\"good\"}",
                            s, adapter, ++seq[s], wall_ms(), v);
            rc = mosquitto_publish(m, NULL, topic, plen, payload, qos, false);
            if (rc != MOSQ_ERR_SUCCESS) {
                fprintf(stderr, "ceiling_mosq: publish: %s\n", mosquitto_strerror(rc));
                return 1;
            }
            i++;
        }
        if (done_count >= messages)
            break;
        rc = mosquitto_loop(m, 1000, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "ceiling_mosq: %s\n", mosquitto_strerror(rc));
            return 1;
        }
    }
    double t1 = mono_s();

    mosquitto_disconnect(m);
    mosquitto_loop(m, 100, 1);
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6;
    printf("{\"client\":\"libmosquitto\",\"messages\":%lld,\"qos\":%d,\"inflight\":%d,"
           "\"elapsed_s\":%.6f,\"rate_per_s\":%.1f,\"cpu_s\":%.4f,\"failed\":0,\"refused\":0}\n",
           messages, qos, inflight, t1 - t0, messages / (t1 - t0), cpu);
    fflush(stdout);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    free(seq);
    return 0;
}

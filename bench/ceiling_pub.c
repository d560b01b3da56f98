/*
 * ceiling_pub: the broker ceiling of bench/throughput with Paho MQTTAsync.
 *
 * Publishes --messages readings as fast as Paho and the broker take them,
 * with no gateway logic: no adapters, no outbox, no event loop. It uses Paho
 * the way sensorbridge does (MQTTAsync, clean session, no persistence,
 * sendWhileDisconnected off, maxInflight = --inflight, one MQTTAsync_sendMessage
 * per message with a success callback carrying a context) and keeps at most
 * --inflight messages outstanding, a message counting as outstanding from
 * sendMessage until its success callback, as sensorbridge's outbox counts
 * its in-flight messages (for QoS 0 Paho calls back once the message is
 * written to the socket).
 *
 * Topics and payloads have the shape and size of sensorbridge's simulated
 * readings: TOPIC_PREFIX/TEMP_NN over --sensors sensors, payload
 *   {"sensor":"TEMP_07","adapter":"sim","seq":12,"ts":1763736903123,
 *    "value":49.87,"unit":"celsius","quality":"good"}
 * with a real per-sensor seq and the current time as ts.
 *
 * Two ways to refill the window (--mode):
 *   thread    the main thread sends and sleeps on a condition variable that
 *             every confirmation signals, as sensorbridge's loop thread is
 *             woken by every batch of confirmations;
 *   callback  each confirmation refills the window from Paho's own thread
 *             (MQTTAsync_sendMessage inside the success callback): no other
 *             thread is woken per message. The fastest way to drive Paho
 *             found; bench/throughput uses it for the ceiling.
 *
 *   ceiling_pub --port N [--host H] [--messages M] [--qos Q] [--inflight W]
 *               [--sensors S] [--prefix TOPIC_PREFIX] [--adapter NAME]
 *               [--mode thread|callback]
 *
 * Prints one JSON line: messages, seconds from the first send to the last
 * confirmation, rate, CPU seconds of the whole process (Paho's threads
 * included), and how often Paho refused a message (MQTTASYNC_MAX_*).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <MQTTAsync.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "benchtime.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int connected = -1; /* -1 pending, 0 failed, 1 connected */
static int disconnected;

/* The counters are guarded by mu; Paho is never called with mu held. */
static struct {
    MQTTAsync client;
    int callback_mode;
    int qos;
    int inflight;
    int sensors;
    long long messages;
    long long next; /* messages handed to Paho, or reserved to be */
    long long done; /* confirmations (success or failure) */
    long long failed;
    long long refused; /* MQTTASYNC_MAX_* from sendMessage, retried */
    const char *prefix, *adapter;
} g;

static void on_sent(void *ctx, MQTTAsync_successData *r);
static void on_send_fail(void *ctx, MQTTAsync_failureData *r);

/* Renders and sends message i (sensor i % sensors, its seq i / sensors + 1,
 * a value in 40.00..59.99). */
static void send_index(long long i)
{
    int s = (int)(i % g.sensors), plen, rc;
    char topic[256], payload[512];
    MQTTAsync_message pm = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15u;

    h ^= h >> 29;
    snprintf(topic, sizeof(topic), "%s/TEMP_%02d", g.prefix, s);
    plen = snprintf(payload, sizeof(payload),
                    "{\"sensor\":\"TEMP_%02d\",\"adapter\":\"%s\",\"seq\":%lld,\"ts\":%lld,"
                    "\"value\":%.15g,\"unit\":\"celsius\",\"quality\":\"good\"}",
                    s, g.adapter, i / g.sensors + 1, wall_ms(), 40.0 + (double)(h % 2000) / 100.0);
    pm.payload = payload;
    pm.payloadlen = plen;
    pm.qos = g.qos;
    ro.onSuccess = on_sent;
    ro.onFailure = on_send_fail;
    ro.context = (void *)(uintptr_t)(i + 2);
    for (;;) {
        rc = MQTTAsync_sendMessage(g.client, topic, &pm, &ro);
        if (rc == MQTTASYNC_SUCCESS)
            return;
        if (rc != MQTTASYNC_MAX_MESSAGES_INFLIGHT && rc != MQTTASYNC_MAX_BUFFERED_MESSAGES &&
            rc != MQTTASYNC_NO_MORE_MSGIDS) {
            fprintf(stderr, "ceiling_pub: sendMessage: %s\n", MQTTAsync_strerror(rc));
            exit(1);
        }
        /* Paho's own limit (not expected: the window is within it). */
        pthread_mutex_lock(&mu);
        g.refused++;
        pthread_mutex_unlock(&mu);
        usleep(100);
    }
}

/* Reserves the free slots of the window: [*first, return value). */
static long long reserve(long long *first)
{
    long long end = g.done + g.inflight;

    if (end > g.messages)
        end = g.messages;
    *first = g.next;
    if (end > g.next)
        g.next = end;
    return g.next;
}

static void confirmed(int ok)
{
    long long first = 0, end = 0;

    pthread_mutex_lock(&mu);
    g.done++;
    g.failed += !ok;
    if (g.callback_mode)
        end = reserve(&first);
    if (!g.callback_mode || g.done >= g.messages)
        pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    /* callback mode: refill the window from Paho's thread; nobody else wakes. */
    for (long long i = first; i < end; i++)
        send_index(i);
}

static void on_sent(void *ctx, MQTTAsync_successData *r)
{
    (void)ctx;
    (void)r;
    confirmed(1);
}

static void on_send_fail(void *ctx, MQTTAsync_failureData *r)
{
    (void)ctx;
    (void)r;
    confirmed(0);
}

static void on_connect_ok(void *ctx, MQTTAsync_successData *r)
{
    (void)ctx;
    (void)r;
    pthread_mutex_lock(&mu);
    connected = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_connect_fail(void *ctx, MQTTAsync_failureData *r)
{
    (void)ctx;
    fprintf(stderr, "ceiling_pub: connect failed: %s\n",
            r && r->message ? r->message : MQTTAsync_strerror(r ? r->code : -1));
    pthread_mutex_lock(&mu);
    connected = 0;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_lost(void *ctx, char *cause)
{
    (void)ctx;
    fprintf(stderr, "ceiling_pub: connection lost: %s\n", cause ? cause : "?");
    exit(1);
}

static int on_message(void *ctx, char *topic, int len, MQTTAsync_message *m)
{
    (void)ctx;
    (void)len;
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void on_disconnected(void *ctx, MQTTAsync_successData *r)
{
    (void)ctx;
    (void)r;
    pthread_mutex_lock(&mu);
    disconnected = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void wait_ms(int ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)ms * 1000000;
    while (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&cv, &mu, &until);
}

static void usage(void)
{
    fprintf(stderr, "usage: ceiling_pub --port N [--host H] [--messages M] [--qos Q] "
                    "[--inflight W] [--sensors S] [--prefix P] [--adapter NAME]\n"
                    "                   [--mode thread|callback]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"host", required_argument, 0, 'h'},     {"port", required_argument, 0, 'p'},
        {"messages", required_argument, 0, 'n'}, {"qos", required_argument, 0, 'q'},
        {"inflight", required_argument, 0, 'w'}, {"sensors", required_argument, 0, 's'},
        {"prefix", required_argument, 0, 'x'},   {"adapter", required_argument, 0, 'a'},
        {"mode", required_argument, 0, 'm'},     {0, 0, 0, 0},
    };
    const char *host = "127.0.0.1";
    int port = 0, c, rc;
    char uri[300], id[64];
    MQTTAsync_createOptions cro = MQTTAsync_createOptions_initializer;
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;
    struct rusage ru;

    g.qos = 1;
    g.inflight = 64;
    g.sensors = 100;
    g.messages = 100000;
    g.prefix = "sensorbridge/bench/sim";
    g.adapter = "sim";
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'h':
            host = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 'n':
            g.messages = atoll(optarg);
            break;
        case 'q':
            g.qos = atoi(optarg);
            break;
        case 'w':
            g.inflight = atoi(optarg);
            break;
        case 's':
            g.sensors = atoi(optarg);
            break;
        case 'x':
            g.prefix = optarg;
            break;
        case 'a':
            g.adapter = optarg;
            break;
        case 'm':
            if (strcmp(optarg, "callback") == 0)
                g.callback_mode = 1;
            else if (strcmp(optarg, "thread") != 0)
                usage();
            break;
        default:
            usage();
        }
    }
    if (!port || g.qos < 0 || g.qos > 2 || g.inflight < 1 || g.sensors < 1 || g.messages < 1)
        usage();
    snprintf(uri, sizeof(uri), "tcp://%s:%d", host, port);
    snprintf(id, sizeof(id), "ceiling_pub-%d", (int)getpid());
    /* As sensorbridge does (gateway/paho_lean.c): the static Paho has no
     * load-time hook that runs MQTTAsync_init(). */
    MQTTAsync_init_options init = MQTTAsync_init_options_initializer;
    MQTTAsync_global_init(&init);
    cro.sendWhileDisconnected = 0;
    cro.maxBufferedMessages = g.inflight + 16;
    rc = MQTTAsync_createWithOptions(&g.client, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &cro);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "ceiling_pub: create: %s\n", MQTTAsync_strerror(rc));
        return 1;
    }
    MQTTAsync_setCallbacks(g.client, NULL, on_lost, on_message, NULL);
    co.keepAliveInterval = 30;
    co.cleansession = 1;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.maxInflight = g.inflight;
    co.connectTimeout = 10;
    co.automaticReconnect = 0;
    co.onSuccess = on_connect_ok;
    co.onFailure = on_connect_fail;
    rc = MQTTAsync_connect(g.client, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "ceiling_pub: connect: %s\n", MQTTAsync_strerror(rc));
        return 1;
    }
    pthread_mutex_lock(&mu);
    while (connected < 0)
        pthread_cond_wait(&cv, &mu);
    if (!connected)
        return 1;

    /* thread mode: this thread sends and sleeps on cv, woken by every
     * confirmation (as sensorbridge's loop thread is woken through its
     * eventfd), and refills the window. callback mode: this thread fills the
     * first window; each confirmation refills it from Paho's thread. Either
     * way at most --inflight messages are outstanding. */
    double t0 = mono_s();

    for (;;) {
        long long first = 0, end = 0;

        if (g.done >= g.messages)
            break;
        if (!g.callback_mode || g.next == 0)
            end = reserve(&first);
        if (end > first) {
            pthread_mutex_unlock(&mu);
            for (long long i = first; i < end; i++)
                send_index(i);
            pthread_mutex_lock(&mu);
            continue;
        }
        pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
    double t1 = mono_s();

    dopt.timeout = 1000;
    dopt.onSuccess = on_disconnected;
    if (MQTTAsync_disconnect(g.client, &dopt) == MQTTASYNC_SUCCESS) {
        pthread_mutex_lock(&mu);
        for (int k = 0; k < 200 && !disconnected; k++)
            wait_ms(10);
        pthread_mutex_unlock(&mu);
    }
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6;
    printf("{\"client\":\"paho\",\"mode\":\"%s\",\"messages\":%lld,\"qos\":%d,\"inflight\":%d,"
           "\"elapsed_s\":%.6f,\"rate_per_s\":%.1f,\"cpu_s\":%.4f,\"failed\":%lld,"
           "\"refused\":%lld}\n",
           g.callback_mode ? "callback" : "thread", g.messages, g.qos, g.inflight, t1 - t0,
           g.messages / (t1 - t0), cpu, g.failed, g.refused);
    fflush(stdout);
    MQTTAsync_destroy(&g.client);
    return 0;
}

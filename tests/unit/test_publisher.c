/*
 * The publisher against a scripted Paho: the test plays the library's part
 * (a table of functions, gateway/paho.h) and decides which callback comes
 * when, on the test's own thread, as Paho's threads would. What it checks
 * is the publisher's bookkeeping: which message a callback names, what goes
 * back to the queue, when a Paho client is renewed, and that the outbox's
 * counts add up. Run under ASan, a callback that freed a message still in
 * the publisher's ring would be a use after free here.
 */
#include <CUnit/CUnit.h>
#include <MQTTAsync.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/clock.h"
#include "gateway/loop.h"
#include "gateway/outbox.h"
#include "gateway/paho.h"
#include "gateway/publisher.h"
#include "gateway/publisher_int.h"
#include "suites.h"

#define MAX_SENT 64

typedef struct {
    int client; /* which fake client it went to */
    char topic[64];
    char payload[64];
    void *context;
    MQTTAsync_onSuccess *ok;
    MQTTAsync_onFailure *fail;
    bool done; /* its callback came */
} sent_t;

static struct {
    int clients_made, clients_destroyed, current;
    MQTTAsync_connectionLost *lost;
    MQTTAsync_messageArrived *arrived;
    void *lost_ctx;
    int subscribes;         /* subscribeMany calls */
    char sub_topics[4][32]; /* of the last one */
    int sub_qos[4], n_sub;
    MQTTAsync_onSuccess *sub_ok;
    void *sub_ctx;
    MQTTAsync_onSuccess *connected;
    void *connect_ctx;
    sent_t sent[MAX_SENT];
    int n_sent;
} fk;

static int fk_create(MQTTAsync *handle, const char *uri, const char *id, int pt, void *pc,
                     MQTTAsync_createOptions *o)
{
    (void)uri, (void)id, (void)pt, (void)pc, (void)o;
    *handle = (MQTTAsync)(intptr_t)++fk.clients_made;
    fk.current = fk.clients_made;
    return MQTTASYNC_SUCCESS;
}

static int fk_callbacks(MQTTAsync h, void *ctx, MQTTAsync_connectionLost *cl,
                        MQTTAsync_messageArrived *ma, MQTTAsync_deliveryComplete *dc)
{
    (void)h, (void)dc;
    fk.lost = cl;
    fk.arrived = ma;
    fk.lost_ctx = ctx;
    return MQTTASYNC_SUCCESS;
}

static int fk_connect(MQTTAsync h, const MQTTAsync_connectOptions *o)
{
    CU_ASSERT_EQUAL((int)(intptr_t)h, fk.current);
    fk.connected = o->onSuccess;
    fk.connect_ctx = o->context;
    return MQTTASYNC_SUCCESS;
}

static int fk_disconnect(MQTTAsync h, const MQTTAsync_disconnectOptions *o)
{
    (void)h;
    o->onSuccess(o->context, NULL);
    return MQTTASYNC_SUCCESS;
}

static int fk_send(MQTTAsync h, const char *topic, const MQTTAsync_message *m,
                   MQTTAsync_responseOptions *ro)
{
    sent_t *s = &fk.sent[fk.n_sent++];

    CU_ASSERT_FATAL(fk.n_sent <= MAX_SENT);
    *s = (sent_t){.client = (int)(intptr_t)h,
                  .context = ro->context,
                  .ok = ro->onSuccess,
                  .fail = ro->onFailure};
    snprintf(s->topic, sizeof(s->topic), "%s", topic);
    snprintf(s->payload, sizeof(s->payload), "%.*s", m->payloadlen, (const char *)m->payload);
    return MQTTASYNC_SUCCESS;
}

/* Paho calls the failure callback of everything a destroyed client held. */
static void fk_destroy(MQTTAsync *h)
{
    int client = (int)(intptr_t)*h;

    for (int i = 0; i < fk.n_sent; i++) {
        if (fk.sent[i].client == client && !fk.sent[i].done) {
            MQTTAsync_failureData d = {.code = MQTTASYNC_OPERATION_INCOMPLETE};

            fk.sent[i].done = true;
            fk.sent[i].fail(fk.sent[i].context, &d);
        }
    }
    fk.clients_destroyed++;
    *h = NULL;
}

static int fk_subscribe_many(MQTTAsync h, int n, char *const *topics, const int *qos,
                             MQTTAsync_responseOptions *ro)
{
    (void)h;
    CU_ASSERT_FATAL(n <= 4);
    fk.subscribes++;
    fk.n_sub = n;
    for (int i = 0; i < n; i++) {
        snprintf(fk.sub_topics[i], sizeof(fk.sub_topics[i]), "%s", topics[i]);
        fk.sub_qos[i] = qos[i];
    }
    fk.sub_ok = ro->onSuccess;
    fk.sub_ctx = ro->context;
    return MQTTASYNC_SUCCESS;
}

static void fk_free_message(MQTTAsync_message **m)
{
    free((*m)->payload);
    free(*m);
    *m = NULL;
}

static const char *fk_strerror(int code)
{
    (void)code;
    return "fake";
}

static const gw_paho_t fake_api = {
    .createWithOptions = fk_create,
    .setCallbacks = fk_callbacks,
    .connect = fk_connect,
    .disconnect = fk_disconnect,
    .sendMessage = fk_send,
    .destroy = fk_destroy,
    .strerror = fk_strerror,
    .subscribeMany = fk_subscribe_many,
    .freeMessage = fk_free_message,
    .free = free,
};

static void callback(int i, bool ok);

/* --- helpers ------------------------------------------------------------------ */

typedef struct {
    gw_loop_t *loop;
    gw_outbox_t *ob;
    gw_pub_t *pub;
} rig_t;

/* One loop iteration (events applied, timers run), then a flush as the
 * gateway's tick does. */
static void turn(rig_t *r)
{
    gw_loop_wake(r->loop); /* confirmations wake the loop in batches; see them all */
    gw_loop_stop(r->loop);
    CU_ASSERT_EQUAL(gw_loop_run(r->loop), 0);
    gw_pub_flush(r->pub);
}

static void setup_with(rig_t *r, unsigned max_inflight, const char *const *topics, size_t n,
                       gw_inbound_cb on_message);

static void setup(rig_t *r, unsigned max_inflight)
{
    setup_with(r, max_inflight, NULL, 0, NULL);
}

static void setup_with(rig_t *r, unsigned max_inflight, const char *const *topics, size_t n,
                       gw_inbound_cb on_message)
{
    gw_outbox_opts_t oo = {.capacity = 100, .max_bytes = 1 << 20, .max_inflight = 2 * max_inflight};
    gw_pub_opts_t po = {.uri = "tcp://127.0.0.1:1",
                        .client_id = "t",
                        .keepalive_ms = 1000,
                        .reconnect_min_ms = 1,
                        .reconnect_max_ms = 2,
                        .max_inflight = max_inflight,
                        .status_topic = "t/status",
                        .version = 4};

    memset(&fk, 0, sizeof(fk));
    gw_paho_fake(&fake_api);
    r->loop = gw_loop_new();
    r->ob = gw_outbox_new(&oo);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->loop);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->ob);
    r->pub = gw_pub_new(r->loop, r->ob, &po);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->pub);
    if (n)
        CU_ASSERT_EQUAL(gw_pub_subscribe(r->pub, topics, n, on_message, r), 0);
    CU_ASSERT_EQUAL(gw_pub_start(r->pub), 0);
    fk.connected(fk.connect_ctx, NULL);
    turn(r);
    CU_ASSERT_TRUE(gw_pub_connected(r->pub));
    CU_ASSERT_EQUAL(fk.n_sent, 1);
    callback(0, true); /* the online status */
}

static void teardown(rig_t *r)
{
    gw_pub_free(r->pub);
    gw_outbox_free(r->ob);
    gw_loop_free(r->loop);
    gw_paho_fake(NULL);
}

static void push(rig_t *r, int n)
{
    char p[16];

    for (int i = 0; i < n; i++) {
        int len = snprintf(p, sizeof(p), "m%d", i + 1);

        CU_ASSERT_EQUAL(gw_outbox_push(r->ob, "t/r", 3, p, (size_t)len, 1, false), 0);
    }
}

/* The index of the latest send of payload, or -1. */
static int last_send(const char *payload)
{
    for (int i = fk.n_sent; i-- > 0;)
        if (strcmp(fk.sent[i].payload, payload) == 0)
            return i;
    return -1;
}

static void callback(int i, bool ok)
{
    MQTTAsync_failureData d = {.code = MQTTASYNC_FAILURE};

    CU_ASSERT_FATAL(i >= 0 && !fk.sent[i].done);
    fk.sent[i].done = true;
    if (ok)
        fk.sent[i].ok(fk.sent[i].context, NULL);
    else
        fk.sent[i].fail(fk.sent[i].context, &d);
}

static gw_outbox_stats_t stats(const rig_t *r)
{
    gw_outbox_stats_t s;

    gw_outbox_stats(r->ob, &s);
    CU_ASSERT_EQUAL(s.produced, s.delivered + s.dropped_total + s.queued + s.in_flight + s.moved);
    return s;
}

/* --- tests --------------------------------------------------------------------- */

/* A publish fails (the connection is probably going): everything in flight
 * goes back and is sent again. The confirmation of a first send that comes
 * after the second send went out is stale: it neither frees the message
 * (which may sit in the ring) nor counts it. */
static void test_stale_after_pause(void)
{
    rig_t r;
    gw_outbox_stats_t s;

    setup(&r, 3); /* two messages, and a place kept for a status */
    push(&r, 3);
    turn(&r);
    /* online status, m1, m2 sent; m3 waits in the ring */
    CU_ASSERT_EQUAL(fk.n_sent, 3);
    int m1 = last_send("m1"), m2 = last_send("m2");
    callback(m2, false);
    turn(&r); /* pause: m1, m2, m3 back to the queue */
    s = stats(&r);
    CU_ASSERT_EQUAL(s.in_flight, 0);
    CU_ASSERT_EQUAL(s.queued, 3);
    usleep(3000); /* reconnect_min: the pause is over */
    turn(&r);
    turn(&r);
    int m1b = last_send("m1");
    CU_ASSERT_NOT_EQUAL(m1b, m1);
    /* The first send of m1 is confirmed now: stale. */
    callback(m1, true);
    turn(&r);
    s = stats(&r);
    CU_ASSERT_EQUAL(s.delivered, 0);
    CU_ASSERT_EQUAL(s.stale_acks, 1);
    CU_ASSERT_EQUAL(s.in_flight, 3);
    callback(m1b, true);
    callback(last_send("m2"), true);
    turn(&r);
    callback(last_send("m3"), true);
    turn(&r);
    s = stats(&r);
    CU_ASSERT_EQUAL(s.delivered, 3);
    CU_ASSERT_EQUAL(s.in_flight, 0);
    CU_ASSERT_EQUAL(s.queued, 0);
    teardown(&r);
}

/* Paho's window is never more than max_inflight messages; the rest wait in
 * the ring and go as confirmations come, in order. */
static void test_window(void)
{
    rig_t r;

    setup(&r, 4);
    push(&r, 10);
    turn(&r);
    CU_ASSERT_EQUAL(fk.n_sent, 1 + 3); /* one place kept for a status */
    for (int i = 1; i <= 10; i++) {
        char p[8];

        snprintf(p, sizeof(p), "m%d", i);
        CU_ASSERT_EQUAL_FATAL(strcmp(fk.sent[i].payload, p), 0);
        callback(i, true);
        turn(&r);
    }
    CU_ASSERT_EQUAL(fk.n_sent, 11);
    CU_ASSERT_EQUAL(stats(&r).delivered, 10);
    teardown(&r);
}

/* Lazy confirmations: while they are on and something is in flight, a timer
 * bounds how long the loop may sleep on confirmations not yet applied,
 * ACK_LAZY_MS from the end of the iteration. It follows the mode the
 * iteration ends with (gw_pub_lazy_acks() comes after the flush), and is not
 * armed with nothing in flight. A confirmation that comes meanwhile waits,
 * without waking the loop, and the next flush applies it. */
static void test_lazy_deadline(void)
{
    rig_t r;
    uint64_t before;

    setup(&r, 4);
    CU_ASSERT_FALSE(gw_timer_active(&r.pub->ack_timer));
    push(&r, 1);
    turn(&r); /* m1 goes, with the mode still off */
    CU_ASSERT_EQUAL(stats(&r).in_flight, 1);
    CU_ASSERT_FALSE(gw_timer_active(&r.pub->ack_timer));
    before = gw_clock_now_ms();
    gw_pub_lazy_acks(r.pub, true); /* the iteration ends with it on */
    CU_ASSERT_TRUE_FATAL(gw_timer_active(&r.pub->ack_timer));
    CU_ASSERT(r.pub->ack_timer.due_ms >= before + ACK_LAZY_MS);
    CU_ASSERT(r.pub->ack_timer.due_ms <= gw_clock_now_ms() + ACK_LAZY_MS + ACK_LAZY_MS / 4);
    gw_pub_lazy_acks(r.pub, false);
    CU_ASSERT_FALSE(gw_timer_active(&r.pub->ack_timer));
    gw_pub_lazy_acks(r.pub, true);
    CU_ASSERT_TRUE(gw_timer_active(&r.pub->ack_timer));
    callback(last_send("m1"), true);
    CU_ASSERT_TRUE(atomic_load(&r.pub->acks_waiting)); /* posted, the loop not woken */
    CU_ASSERT_EQUAL(stats(&r).delivered, 0);
    gw_pub_flush(r.pub);
    CU_ASSERT_EQUAL(stats(&r).delivered, 1);
    CU_ASSERT_EQUAL(stats(&r).in_flight, 0);
    CU_ASSERT_FALSE(gw_timer_active(&r.pub->ack_timer));
    teardown(&r);
}

/* Paho's per-message context is a slot holding the message id and send
 * number in 64 bits, not a pointer-sized integer (32 bits on armhf):
 * messages numbered past 2^32 are confirmed as themselves. */
static void test_ids_past_2_32(void)
{
    const uint64_t base = ((uint64_t)1 << 32) - 2;
    rig_t r;
    gw_outbox_stats_t s;

    setup(&r, 8);
    CU_ASSERT_EQUAL_FATAL(gw_outbox_fast_forward(r.ob, base), 0);
    push(&r, 4);
    turn(&r);
    CU_ASSERT_EQUAL_FATAL(fk.n_sent, 1 + 4);
    for (int i = 1; i <= 4; i++) {
        const pub_slot_t *slot = fk.sent[i].context;

        CU_ASSERT_EQUAL(slot->id, base + (uint64_t)i);
        CU_ASSERT_EQUAL(slot->send, base + (uint64_t)i);
    }
    for (int i = 4; i >= 1; i--)
        callback(i, true);
    turn(&r);
    s = stats(&r);
    CU_ASSERT_EQUAL(s.delivered, base + 4);
    CU_ASSERT_EQUAL(s.stale_acks, 0);
    CU_ASSERT_EQUAL(s.in_flight, 0);
    teardown(&r);
}

/* A lost connection with nothing left in Paho reuses the client (destroying
 * one that holds unwritten publishes leaks them inside Paho); with sends
 * still held, the reconnect starts from a new client and the old one's
 * callbacks are stale. */
static void test_renew_only_when_held(void)
{
    rig_t r;
    gw_outbox_stats_t s;

    setup(&r, 4);
    push(&r, 2);
    turn(&r);
    callback(last_send("m1"), false);
    callback(last_send("m2"), false);
    fk.lost(fk.lost_ctx, "gone");
    turn(&r);
    usleep(3000);
    turn(&r);
    CU_ASSERT_EQUAL(fk.clients_made, 1); /* reused */
    fk.connected(fk.connect_ctx, NULL);
    turn(&r);
    turn(&r);
    CU_ASSERT_EQUAL(fk.sent[fk.n_sent - 1].client, 1);
    /* Now Paho holds m1, m2 and the status unconfirmed when the line drops. */
    fk.lost(fk.lost_ctx, "gone again");
    turn(&r);
    usleep(3000);
    turn(&r);
    CU_ASSERT_EQUAL(fk.clients_made, 2);
    CU_ASSERT_EQUAL(fk.clients_destroyed, 1);
    fk.connected(fk.connect_ctx, NULL);
    turn(&r);
    turn(&r);
    callback(last_send("m1"), true);
    callback(last_send("m2"), true);
    turn(&r);
    s = stats(&r);
    CU_ASSERT_EQUAL(s.delivered, 2);
    CU_ASSERT_EQUAL(s.in_flight, 0);
    teardown(&r);
}

static bool stopped;

static void on_stopped(void *arg)
{
    (void)arg;
    stopped = true;
}

/* A second stop while the first waits for the broker replaces the callback
 * and touches no armed timer; a stop after the stop finished calls back
 * from the loop. */
static void test_stop_twice(void)
{
    rig_t r;

    setup(&r, 2);
    stopped = false;
    gw_pub_stop(r.pub, 10000, on_stopped, NULL);
    gw_pub_stop(r.pub, 10000, on_stopped, NULL);
    turn(&r);
    CU_ASSERT_FALSE(stopped);
    callback(last_send("offline"), true);
    turn(&r);
    CU_ASSERT_TRUE(stopped);
    stopped = false;
    gw_pub_stop(r.pub, 10000, on_stopped, NULL);
    CU_ASSERT_FALSE(stopped); /* never inside the call */
    turn(&r);
    CU_ASSERT_TRUE(stopped);
    teardown(&r);
}

/* gw_pub_take_back: every message the publisher holds, in the ring or
 * handed to Paho, is back in the queue in order; the store may free them. */
static void test_take_back(void)
{
    rig_t r;
    gw_outbox_stats_t s;

    setup(&r, 3);
    push(&r, 6);
    turn(&r);
    turn(&r); /* m1, m2 handed to Paho; m3, m4, m5 wait in the ring */
    CU_ASSERT_EQUAL(fk.n_sent, 3);
    CU_ASSERT_EQUAL(gw_pub_take_back(r.pub), 5);
    s = stats(&r);
    CU_ASSERT_EQUAL(s.in_flight, 0);
    CU_ASSERT_EQUAL(s.queued, 6);
    CU_ASSERT_EQUAL(gw_outbox_drop_queued(r.ob, GW_DROP_SHUTDOWN), 6);
    callback(last_send("m1"), true); /* late and stale */
    turn(&r);
    s = stats(&r);
    CU_ASSERT_EQUAL(s.delivered, 0);
    CU_ASSERT_EQUAL(s.stale_acks, 1);
    CU_ASSERT_EQUAL(s.dropped[GW_DROP_SHUTDOWN], 6);
    teardown(&r);
}

/* --- messages that come in ------------------------------------------------ */

#define MAX_GOT 1100

static struct {
    int n;
    char topic[MAX_GOT][32];
    char payload[8][32];
    bool too_big[MAX_GOT], retained[MAX_GOT];
    int qos[MAX_GOT];
} got;

static void on_message(void *arg, const gw_inbound_t *m)
{
    (void)arg;
    CU_ASSERT_FATAL(got.n < MAX_GOT);
    snprintf(got.topic[got.n], sizeof(got.topic[0]), "%s", m->topic);
    if (got.n < 8)
        snprintf(got.payload[got.n], sizeof(got.payload[0]), "%s",
                 m->payload ? m->payload : "(none)");
    got.too_big[got.n] = m->too_big;
    got.retained[got.n] = m->retained;
    got.qos[got.n] = m->qos;
    CU_ASSERT_EQUAL(m->response_topic, NULL); /* MQTT 3.1.1 */
    CU_ASSERT_EQUAL(m->expiry_s, -1);
    got.n++;
}

/* Paho's receiving thread delivers a message: topic and message are the
 * library's allocations, which the callback frees. */
static int arrive(rig_t *r, const char *topic, const char *payload, size_t len, int qos,
                  bool retained)
{
    MQTTAsync_message *m = calloc(1, sizeof(*m));
    char *t = strdup(topic);

    (void)r;
    CU_ASSERT_FATAL(m && t);
    *m = (MQTTAsync_message)MQTTAsync_message_initializer;
    m->payload = malloc(len ? len : 1);
    CU_ASSERT_FATAL(m->payload != NULL);
    if (payload)
        memcpy(m->payload, payload, len);
    else
        memset(m->payload, 'x', len);
    m->payloadlen = (int)len;
    m->qos = qos;
    m->retained = retained;
    return fk.arrived(fk.lost_ctx, t, 0, m);
}

static void test_subscriptions(void)
{
    static const char *const topics[] = {"sb/g/a/x/set", "sb/g/a/y/set"};
    int granted[] = {2, 0x80};
    MQTTAsync_successData ok = {.alt.qosList = granted};
    gw_pub_stats_t ps;
    rig_t r;

    memset(&got, 0, sizeof(got));
    setup_with(&r, 4, topics, 2, on_message);
    CU_ASSERT_EQUAL(gw_pub_subscribe(r.pub, topics, 1, on_message, &r), -EALREADY);
    /* Subscribed on connecting, every topic at QoS 2. */
    CU_ASSERT_EQUAL(fk.subscribes, 1);
    CU_ASSERT_EQUAL(fk.n_sub, 2);
    CU_ASSERT_STRING_EQUAL(fk.sub_topics[0], "sb/g/a/x/set");
    CU_ASSERT_STRING_EQUAL(fk.sub_topics[1], "sb/g/a/y/set");
    CU_ASSERT(fk.sub_qos[0] == 2 && fk.sub_qos[1] == 2);
    fk.sub_ok(fk.sub_ctx, &ok); /* the second refused */
    turn(&r);
    gw_pub_stats(r.pub, &ps);
    CU_ASSERT_EQUAL(ps.subscribes, 1);
    CU_ASSERT_EQUAL(ps.subscribe_fails, 1);

    /* Three messages, handed over in order, with their flags; one too big. */
    CU_ASSERT_EQUAL(arrive(&r, "sb/g/a/x/set", "21.5", 4, 1, false), 1);
    CU_ASSERT_EQUAL(arrive(&r, "sb/g/a/y/set", NULL, GW_INBOUND_PAYLOAD_MAX + 1, 2, false), 1);
    CU_ASSERT_EQUAL(arrive(&r, "sb/g/a/x/set", "true", 4, 0, true), 1);
    CU_ASSERT_EQUAL(got.n, 0); /* nothing on Paho's thread */
    turn(&r);
    CU_ASSERT_EQUAL_FATAL(got.n, 3);
    CU_ASSERT_STRING_EQUAL(got.topic[0], "sb/g/a/x/set");
    CU_ASSERT_STRING_EQUAL(got.payload[0], "21.5");
    CU_ASSERT(!got.too_big[0] && got.qos[0] == 1 && !got.retained[0]);
    CU_ASSERT_STRING_EQUAL(got.topic[1], "sb/g/a/y/set");
    CU_ASSERT_STRING_EQUAL(got.payload[1], "(none)");
    CU_ASSERT(got.too_big[1] && got.qos[1] == 2);
    CU_ASSERT_STRING_EQUAL(got.payload[2], "true");
    CU_ASSERT(got.retained[2] && got.qos[2] == 0);

    /* A flood: the queue to the loop holds GW_INBOUND_QUEUE_MAX; the rest is
     * dropped, counted, and still acknowledged. */
    got.n = 0;
    for (unsigned i = 0; i < GW_INBOUND_QUEUE_MAX + 6; i++)
        CU_ASSERT_EQUAL(arrive(&r, "sb/g/a/x/set", "1", 1, 1, false), 1);
    turn(&r);
    CU_ASSERT_EQUAL(got.n, GW_INBOUND_QUEUE_MAX);
    gw_pub_stats(r.pub, &ps);
    CU_ASSERT_EQUAL(ps.received, 3 + GW_INBOUND_QUEUE_MAX + 6);
    CU_ASSERT_EQUAL(ps.inbound_dropped, 6);

    /* A lost connection: subscribed again on the next one (clean session). */
    fk.lost(fk.lost_ctx, "gone");
    turn(&r);
    usleep(5000); /* reconnect_max 2 ms */
    turn(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fk.connected);
    fk.connected(fk.connect_ctx, NULL);
    turn(&r);
    CU_ASSERT_TRUE(gw_pub_connected(r.pub));
    CU_ASSERT_EQUAL(fk.subscribes, 2);
    /* Messages that arrived and were never handed over are freed with the
     * publisher (ASan would see a leak). */
    CU_ASSERT_EQUAL(arrive(&r, "sb/g/a/x/set", "5", 1, 1, false), 1);
    teardown(&r);
}

int publisher_suite(void)
{
    static const sb_test_t tests[] = {
        {"a confirmation of an earlier send is stale", test_stale_after_pause},
        {"the window and the ring", test_window},
        {"lazy confirmations: the loop's deadline", test_lazy_deadline},
        {"a new Paho client only when Paho still holds sends", test_renew_only_when_held},
        {"stop twice, and after stopping", test_stop_twice},
        {"take back everything", test_take_back},
        {"message ids and sends past 2^32 through Paho's context", test_ids_past_2_32},
        {"subscriptions and messages that come in", test_subscriptions},
    };
    CU_pSuite s = CU_add_suite("publisher", NULL, NULL);

    return s ? SB_ADD_TESTS(s, tests) : -1;
}

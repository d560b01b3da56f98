/*
 * Everything of the publisher that Paho's threads touch, and its rules.
 *
 * Who owns a message, at each step:
 *   queued       the outbox (loop thread).
 *   in the ring  still the outbox's memory, in its in-flight list, but the
 *                ring holds a pointer that Paho's threads read (topic,
 *                payload, id, send) under ring_lock. The loop frees none of
 *                them: ack and fail need a matching send, which no callback
 *                can name before the message left the ring, and every
 *                requeue goes through pr_ring_stop() first.
 *   handed       Paho has its own copy (sendMessage copies); a busy slot
 *                names the send. The outbox keeps the message in flight
 *                until the loop applies the callback's event.
 *   back         pr_ring_stop() puts the ring's messages back in the queue;
 *                pr_take_back() then every message in flight. A callback
 *                that comes later names a send that is no longer current:
 *                the outbox ignores it (a stale ack).
 *
 * Threads and locks:
 *   `lock`       guards the event queue and the slots. Taken by callbacks
 *                (Paho's threads, holding Paho's own lock) and by the loop;
 *                never held while calling Paho.
 *   `ring_lock`  guards the ring, ring_on and `client`. The loop takes it to
 *                fill or stop the ring and to swap the client, and calls
 *                Paho (sendMessage) while holding it; a callback only ever
 *                tries it (Paho holds its own lock around callbacks, and the
 *                loop takes ring_lock first, Paho's second). Order: ring_lock,
 *                then lock.
 *   Everything else in gw_pub_t is the loop thread's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/error.h"
#include "gateway/log.h"
#include "gateway/publisher_int.h"

/* A confirmation names its send in full on every platform: a 32-bit context
 * (armhf's pointer size) would wrap after 2^32 messages. */
_Static_assert(sizeof(((pub_slot_t *)0)->id) == 8 && sizeof(((pub_slot_t *)0)->send) == 8,
               "message ids and send numbers are 64-bit");

/* A PUBLISH's bytes on the wire, near enough: fixed header, topic, packet
 * id, properties, payload. */
static size_t wire_size(size_t topic_len, size_t payload_len)
{
    return 16 + topic_len + payload_len;
}

/* --- slots (under lock) ---------------------------------------------------- */

int pr_init(gw_pub_t *pub, size_t window)
{
    pthread_mutex_init(&pub->lock, NULL);
    pthread_mutex_init(&pub->ring_lock, NULL);
    pub->inbound_tail = &pub->inbound;
    pub->ring_cap = window ? window : 1;
    pub->window = pub->ring_cap;
    pub->ring = calloc(pub->ring_cap, sizeof(*pub->ring));
    pub->slots = calloc(pub->ring_cap, sizeof(*pub->slots));
    if (!pub->ring || !pub->slots)
        return -ENOMEM;
    for (size_t i = 0; i < pub->ring_cap; i++) {
        pub->slots[i] = (pub_slot_t){.pub = pub, .kind = SEND_MSG};
        pub->slots[i].next_free = i + 1 < pub->ring_cap ? &pub->slots[i + 1] : NULL;
    }
    pub->free_slots = pub->slots;
    for (int k = 0; k < SEND_NKINDS; k++)
        pub->own[k] = (pub_slot_t){.pub = pub, .kind = (send_kind_t)k};
    return 0;
}

void pr_fini(gw_pub_t *pub)
{
    pr_inbound_fini(pub);
    pthread_mutex_destroy(&pub->lock);
    pthread_mutex_destroy(&pub->ring_lock);
    free(pub->ring);
    free(pub->slots);
    free(pub->events);
    free(pub->spare);
}

/*
 * A message slot if the window has room, or NULL; lock held. The window is
 * a count (mqtt.max_inflight, or the broker's receive maximum, of which one
 * is kept for the status message, so that the broker never has more than
 * the window unacknowledged) and a byte budget: PAHO_HELD_MAX bytes stay far below what the
 * socket's send buffer and the broker's receive buffer take, so Paho can always write a publish at
 * once and never holds one unwritten (see renew_client() in publisher.c). One message always goes,
 * whatever its size.
 */
static pub_slot_t *slot_take(gw_pub_t *pub, size_t bytes)
{
    pub_slot_t *s = pub->free_slots;

    /* One place is kept for a status message besides those unconfirmed. */
    size_t own = pub->busy_all - pub->busy_msgs - pub->own[SEND_OTHER].busy;
    size_t limit = pub->window > own + 1 ? pub->window - own - 1 : own == 0;

    if (!s || pub->busy_msgs >= limit ||
        (pub->busy_msgs > 0 && pub->held_bytes + bytes > PAHO_HELD_MAX))
        return NULL;
    pub->free_slots = s->next_free;
    s->busy = true;
    s->bytes = bytes;
    pub->held_bytes += bytes;
    pub->busy_msgs++;
    pub->busy_all++;
    return s;
}

/* lock held. */
static void slot_put(gw_pub_t *pub, pub_slot_t *s)
{
    s->busy = false;
    pub->held_bytes -= s->bytes;
    pub->busy_all--;
    if (s->kind == SEND_MSG) {
        pub->busy_msgs--;
        s->next_free = pub->free_slots;
        pub->free_slots = s;
    }
}

size_t pr_pending(gw_pub_t *pub)
{
    size_t n;

    pthread_mutex_lock(&pub->lock);
    n = pub->busy_all;
    pthread_mutex_unlock(&pub->lock);
    return n;
}

void pr_set_window(gw_pub_t *pub, size_t window)
{
    pthread_mutex_lock(&pub->lock);
    pub->window = window < 1 ? 1 : window > pub->ring_cap ? pub->ring_cap : window;
    pthread_mutex_unlock(&pub->lock);
}

/* --- events ------------------------------------------------------------------ */

/* Appends an event, lock held; false (nothing recorded) when out of memory. */
static pub_event_t *event_add(gw_pub_t *pub, ev_type_t type, int code, const char *text)
{
    if (pub->n_events == pub->cap_events) {
        size_t cap = pub->cap_events ? pub->cap_events * 2 : 256;
        pub_event_t *ev = realloc(pub->events, cap * sizeof(*ev));

        if (!ev) {
            /* Losing a confirmation would leave a message in flight forever;
             * there is no way to continue correctly without memory. */
            pthread_mutex_unlock(&pub->lock);
            gw_err("mqtt: out of memory recording an event");
            abort();
        }
        pub->events = ev;
        pub->cap_events = cap;
    }
    pub_event_t *e = &pub->events[pub->n_events++];
    *e = (pub_event_t){.type = type, .code = code, .kind = SEND_NKINDS};
    snprintf(e->text, sizeof(e->text), "%s", text ? text : "");
    return e;
}

void pr_post(gw_pub_t *pub, ev_type_t type, int code, const char *text)
{
    pthread_mutex_lock(&pub->lock);
    event_add(pub, type, code, text);
    pthread_mutex_unlock(&pub->lock);
    gw_loop_wake(pub->loop);
}

/*
 * A send's outcome: the event names the send, and the slot is free again.
 * Confirmations are batched: waking the loop for each one costs a context
 * switch per message and a sendMessage per wake-up, which contends with
 * Paho's threads for its lock. The loop is woken once ACK_BATCH have come,
 * or when every message in flight is confirmed (so nothing waits for a
 * confirmation that will not come). Anything else wakes it at once.
 * gw_pub_flush() closes the race with inflight_now.
 *
 * When nothing waits for confirmations (gw_pub_lazy_acks()), the last one
 * does not wake the loop either: it is applied at the loop's next wake-up,
 * which at a modest rate is the next reading's, or ACK_LAZY_MS later.
 */
static void post_send(pub_slot_t *s, ev_type_t type, int code, const char *text)
{
    gw_pub_t *pub = s->pub;
    bool wake = true;

    pthread_mutex_lock(&pub->lock);
    pub_event_t *e = event_add(pub, type, code, text);
    e->kind = s->kind;
    e->id = s->id;
    e->send = s->send;
    slot_put(pub, s);
    if (type == EV_SENT && s->kind == SEND_MSG) {
        pub->n_acks++;
        wake = pub->n_acks >= ACK_BATCH ||
               (pub->n_acks >= atomic_load(&pub->inflight_now) && !atomic_load(&pub->lazy_acks));
        if (!wake)
            atomic_store(&pub->acks_waiting, true);
    }
    pthread_mutex_unlock(&pub->lock);
    if (wake)
        gw_loop_wake(pub->loop);
}

pub_event_t *pr_events_take(gw_pub_t *pub, size_t *n, size_t *cap)
{
    pub_event_t *batch;

    pthread_mutex_lock(&pub->lock);
    batch = pub->events;
    *n = pub->n_events;
    *cap = pub->cap_events;
    pub->events = pub->spare;
    pub->cap_events = pub->cap_spare;
    pub->n_events = 0;
    pub->n_acks = 0;
    atomic_store(&pub->acks_waiting, false);
    pthread_mutex_unlock(&pub->lock);
    pub->spare = NULL;
    return batch;
}

void pr_events_done(gw_pub_t *pub, pub_event_t *batch, size_t cap)
{
    pub->spare = batch;
    pub->cap_spare = cap;
}

/* --- the ring ---------------------------------------------------------------- */

/* A message Paho refused outright: reported to the loop, which drops it (it
 * would be refused again). */
static void refused(gw_pub_t *pub, pub_slot_t *s, int rc)
{
    post_send(s, EV_REJECTED, rc, pub->api->strerror(rc));
}

static bool transient(int rc)
{
    return rc == MQTTASYNC_DISCONNECTED || rc == MQTTASYNC_MAX_MESSAGES_INFLIGHT ||
           rc == MQTTASYNC_MAX_BUFFERED_MESSAGES || rc == MQTTASYNC_NO_MORE_MSGIDS;
}

/*
 * Sends from the ring while the window has room; ring_lock held. Runs on
 * the loop thread (pr_fill) and on Paho's threads (confirmed()), so the
 * messages leave in ring order whoever sends them. A transient refusal
 * leaves the message first in the ring.
 */
static void pump(gw_pub_t *pub)
{
    while (pub->ring_on && pub->ring_len > 0) {
        gw_msg_t *m = pub->ring[pub->ring_head];
        MQTTAsync_message pm = MQTTAsync_message_initializer;
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        pub_slot_t *s;
        int rc;

        pthread_mutex_lock(&pub->lock);
        s = slot_take(pub, wire_size(m->topic_len, m->payload_len));
        pthread_mutex_unlock(&pub->lock);
        if (!s)
            return; /* the window is full: a callback sends on */
        s->id = m->id;
        s->send = m->send;
        pm.payload = m->payload;
        pm.payloadlen = (int)m->payload_len;
        pm.qos = m->qos;
        pm.retained = m->retain;
        if (m->corr_len && pub->opts.version == 5) {
            /* A command's result to its Response Topic: Paho copies the
             * properties, so they are freed right after the call. */
            MQTTProperty cd = {.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA};

            cd.value.data.len = m->corr_len;
            cd.value.data.data = (char *)gw_msg_corr(m);
            pub->api->propertiesAdd(&pm.properties, &cd); /* out of memory: sent without */
        }
        pr_send_callbacks(pub, &ro);
        ro.context = s;
        rc = pub->api->sendMessage(pub->client, m->topic, &pm, &ro);
        if (pm.properties.count)
            pub->api->propertiesFree(&pm.properties);
        if (rc == MQTTASYNC_SUCCESS) {
            atomic_fetch_add(&pub->sent, 1);
        } else if (transient(rc)) {
            pthread_mutex_lock(&pub->lock);
            slot_put(pub, s);
            pthread_mutex_unlock(&pub->lock);
            return; /* sent on a later pump */
        } else {
            refused(pub, s, rc);
        }
        pub->ring_head = (pub->ring_head + 1) % pub->ring_cap;
        pub->ring_len--;
    }
}

void pr_fill(gw_pub_t *pub)
{
    gw_msg_t *m;

    pthread_mutex_lock(&pub->ring_lock);
    pub->ring_on = true;
    while (pub->ring_len < pub->ring_cap && (m = gw_outbox_next(pub->ob)) != NULL) {
        gw_outbox_mark_inflight(pub->ob, m);
        pub->ring[(pub->ring_head + pub->ring_len) % pub->ring_cap] = m;
        pub->ring_len++;
    }
    pump(pub);
    pthread_mutex_unlock(&pub->ring_lock);
}

size_t pr_ring_stop(gw_pub_t *pub)
{
    size_t n;

    pthread_mutex_lock(&pub->ring_lock);
    n = pub->ring_len;
    pub->ring_on = false;
    /* Newest first: each goes back to the head of the queue. */
    while (pub->ring_len > 0) {
        size_t last = (pub->ring_head + pub->ring_len - 1) % pub->ring_cap;

        gw_outbox_requeue(pub->ob, pub->ring[last]->id);
        pub->ring_len--;
    }
    pub->ring_head = 0;
    pthread_mutex_unlock(&pub->ring_lock);
    return n;
}

size_t pr_take_back(gw_pub_t *pub)
{
    size_t n = pr_ring_stop(pub);

    return n + gw_outbox_requeue_inflight(pub->ob);
}

MQTTAsync pr_swap_client(gw_pub_t *pub, MQTTAsync client)
{
    MQTTAsync old;

    pthread_mutex_lock(&pub->ring_lock);
    old = pub->client;
    pub->client = client;
    pthread_mutex_unlock(&pub->ring_lock);
    return old;
}

int pr_send_own(gw_pub_t *pub, send_kind_t kind, const char *topic, const char *payload, int qos,
                bool retain, int *paho_rc)
{
    MQTTAsync_message m = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    pub_slot_t *s = &pub->own[kind];
    int rc;

    pthread_mutex_lock(&pub->lock);
    if (s->busy) {
        pthread_mutex_unlock(&pub->lock);
        return -EBUSY;
    }
    s->busy = true;
    s->bytes = wire_size(strlen(topic), strlen(payload));
    pub->held_bytes += s->bytes;
    pub->busy_all++;
    pthread_mutex_unlock(&pub->lock);
    m.payload = (void *)payload;
    m.payloadlen = (int)strlen(payload);
    m.qos = qos;
    m.retained = retain;
    pr_send_callbacks(pub, &ro);
    ro.context = s;
    rc = pub->api->sendMessage(pub->client, topic, &m, &ro);
    *paho_rc = rc;
    if (rc == MQTTASYNC_SUCCESS)
        return 0;
    pthread_mutex_lock(&pub->lock);
    slot_put(pub, s);
    pthread_mutex_unlock(&pub->lock);
    return -GW_EMQTT;
}

/* --- the callbacks (Paho's threads) ------------------------------------------ */

/* A message's callback: one fewer in the window, so the next message of the
 * ring can go at once, from this thread, without waiting for the loop. If
 * the loop holds the ring (it is refilling it and sends itself), it is
 * woken to look again. */
static void confirmed(gw_pub_t *pub)
{
    if (pthread_mutex_trylock(&pub->ring_lock) == 0) {
        pump(pub);
        pthread_mutex_unlock(&pub->ring_lock);
    } else {
        gw_loop_wake(pub->loop);
    }
}

static void on_sent(void *context, MQTTAsync_successData *resp)
{
    pub_slot_t *s = context;
    gw_pub_t *pub = s->pub;
    bool msg = s->kind == SEND_MSG;

    (void)resp;
    post_send(s, EV_SENT, 0, NULL);
    if (msg)
        confirmed(pub);
}

static void on_send_fail(void *context, MQTTAsync_failureData *resp)
{
    post_send(context, EV_SEND_FAILED, resp ? resp->code : -1,
              resp && resp->message ? resp->message : NULL);
}

static void on_connect_ok(void *context, MQTTAsync_successData *resp)
{
    (void)resp;
    pr_post(context, EV_CONNECTED, 0, NULL);
}

/* A broker's refusal in words: Paho reports a CONNACK's return code (MQTT
 * 3.1.1) or reason code (MQTT 5) as a positive `code`, with the message
 * "CONNACK return code" only. Its own failures are negative. */
static void connect_failure(gw_pub_t *pub, int code, const char *message, char *buf, size_t cap)
{
    static const char *const v311[] = {
        [1] = "connection refused: unacceptable protocol version",
        [2] = "connection refused: identifier rejected",
        [3] = "connection refused: server unavailable",
        [4] = "connection refused: bad user name or password",
        [5] = "connection refused: not authorized",
    };

    if (code > 0 && pub->opts.version == 5)
        snprintf(buf, cap, "connection refused: %s (reason code %d)",
                 pub->api->reasonCode_toString((enum MQTTReasonCodes)code), code);
    else if (code > 0 && code < (int)(sizeof(v311) / sizeof(v311[0])))
        snprintf(buf, cap, "%s (return code %d)", v311[code], code);
    else if (code > 0)
        snprintf(buf, cap, "connection refused (return code %d)", code);
    else
        snprintf(buf, cap, "%s", message ? message : pub->api->strerror(code));
}

static void on_connect_fail(void *context, MQTTAsync_failureData *resp)
{
    gw_pub_t *pub = context;
    char why[120];

    connect_failure(pub, resp ? resp->code : -1, resp ? resp->message : NULL, why, sizeof(why));
    pr_post(pub, EV_CONNECT_FAILED, resp ? resp->code : -1, why);
}

void pr_on_lost(void *context, char *cause)
{
    pr_post(context, EV_LOST, 0, cause ? cause : "connection closed");
}

/* MQTT 5 variants: the same events, with the broker's reason code. */
static void reason_text(const gw_pub_t *pub, char *buf, size_t cap, int reason, int code,
                        const char *message)
{
    if (reason)
        snprintf(buf, cap, "%s (reason code %d)", pub->api->reasonCode_toString(reason), reason);
    else
        snprintf(buf, cap, "%s", message ? message : pub->api->strerror(code));
}

static void on_connect_ok5(void *context, MQTTAsync_successData5 *resp)
{
    gw_pub_t *pub = context;
    int receive_max = 0;

    if (resp && pub->api->getNumericValue &&
        pub->api->hasProperty(&resp->properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM))
        receive_max =
            pub->api->getNumericValue(&resp->properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM);
    pr_post(pub, EV_CONNECTED, receive_max, NULL);
}

static void on_connect_fail5(void *context, MQTTAsync_failureData5 *resp)
{
    gw_pub_t *pub = context;
    int code = resp ? (resp->reasonCode ? (int)resp->reasonCode : resp->code) : -1;
    char why[120];

    connect_failure(pub, code, resp ? resp->message : NULL, why, sizeof(why));
    pr_post(pub, EV_CONNECT_FAILED, code, why);
}

static void on_sent5(void *context, MQTTAsync_successData5 *resp)
{
    on_sent(context, NULL);
    (void)resp;
}

static void on_send_fail5(void *context, MQTTAsync_failureData5 *resp)
{
    pub_slot_t *s = context;
    int reason = resp ? (int)resp->reasonCode : 0;
    char why[120];

    reason_text(s->pub, why, sizeof(why), reason, resp ? resp->code : -1,
                resp ? resp->message : NULL);
    /* The reason code rides in code's place: >= 0x80 is the broker's refusal. */
    post_send(s, EV_SEND_FAILED, reason >= 0x80 ? reason : (resp ? resp->code : -1), why);
}

static void on_disconnected(void *context, MQTTAsync_successData *resp)
{
    (void)resp;
    pr_post(context, EV_DISCONNECTED, 0, NULL);
}

static void on_disconnect_fail(void *context, MQTTAsync_failureData *resp)
{
    (void)resp;
    pr_post(context, EV_DISCONNECTED, -1, NULL);
}

static void on_disconnected5(void *context, MQTTAsync_successData5 *resp)
{
    (void)resp;
    pr_post(context, EV_DISCONNECTED, 0, NULL);
}

static void on_disconnect_fail5(void *context, MQTTAsync_failureData5 *resp)
{
    (void)resp;
    pr_post(context, EV_DISCONNECTED, -1, NULL);
}

/* OpenSSL's own description of a TLS failure (wrong CA, expired
 * certificate, ...), which Paho's failure callback does not carry. */
int pr_on_ssl_error(const char *str, size_t len, void *u)
{
    (void)u;
    gw_warn("mqtt: TLS: %.*s", (int)(len && str[len - 1] == '\n' ? len - 1 : len), str);
    return 0;
}

void pr_send_callbacks(const gw_pub_t *pub, MQTTAsync_responseOptions *ro)
{
    if (pub->opts.version == 5) {
        ro->onSuccess5 = on_sent5;
        ro->onFailure5 = on_send_fail5;
    } else {
        ro->onSuccess = on_sent;
        ro->onFailure = on_send_fail;
    }
}

void pr_connect_callbacks(const gw_pub_t *pub, MQTTAsync_connectOptions *co)
{
    if (pub->opts.version == 5) {
        co->onSuccess5 = on_connect_ok5;
        co->onFailure5 = on_connect_fail5;
    } else {
        co->onSuccess = on_connect_ok;
        co->onFailure = on_connect_fail;
    }
}

void pr_disconnect_callbacks(const gw_pub_t *pub, MQTTAsync_disconnectOptions *dopt)
{
    if (pub->opts.version == 5) {
        dopt->onSuccess5 = on_disconnected5;
        dopt->onFailure5 = on_disconnect_fail5;
    } else {
        dopt->onSuccess = on_disconnected;
        dopt->onFailure = on_disconnect_fail;
    }
}

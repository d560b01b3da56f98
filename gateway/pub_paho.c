/*
 * The publisher's half that runs on Paho's threads: the callbacks. Each
 * records an event for the loop (pub_post); a confirmation also sends the
 * next message of the hand-off ring (pub_pump). See publisher.c.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/log.h"
#include "gateway/publisher_int.h"

gw_pub_t *pub_the;

void pub_post(gw_pub_t *pub, ev_type_t type, int code, uintptr_t ctx, const char *text)
{
    pthread_mutex_lock(&pub->lock);
    if (pub->n_events == pub->cap_events) {
        size_t cap = pub->cap_events ? pub->cap_events * 2 : 256;
        pub_event_t *ev = realloc(pub->events, cap * sizeof(*ev));

        if (!ev) {
            /* Losing an ack would leave a message in flight forever; there is
             * no way to continue correctly without memory. */
            pthread_mutex_unlock(&pub->lock);
            gw_err("mqtt: out of memory recording an event");
            abort();
        }
        pub->events = ev;
        pub->cap_events = cap;
    }
    pub_event_t *e = &pub->events[pub->n_events++];
    e->type = type;
    e->code = code;
    e->ctx = ctx;
    snprintf(e->text, sizeof(e->text), "%s", text ? text : "");
    /* Confirmations are batched: waking the loop for each one costs a
     * context switch per message and a sendMessage per wake-up, which
     * contends with Paho's threads for its lock. The loop is woken once
     * ACK_BATCH have come, or when every message in flight is confirmed (so
     * nothing waits for a confirmation that will not come). Anything else
     * wakes it at once. gw_pub_flush() closes the race with inflight_now. */
    bool wake = true;
    if (type == EV_SENT && ctx >= CTX_MSG_BASE) {
        pub->n_acks++;
        wake = pub->n_acks >= ACK_BATCH || pub->n_acks >= atomic_load(&pub->inflight_now);
    }
    pthread_mutex_unlock(&pub->lock);
    if (wake)
        gw_loop_wake(pub->loop);
}

static void on_connect_ok(void *context, MQTTAsync_successData *resp)
{
    (void)resp;
    pub_post(context, EV_CONNECTED, 0, 0, NULL);
}

static void on_connect_fail(void *context, MQTTAsync_failureData *resp)
{
    const char *why = resp && resp->message
                          ? resp->message
                          : ((gw_pub_t *)context)->api->strerror(resp ? resp->code : -1);
    pub_post(context, EV_CONNECT_FAILED, resp ? resp->code : -1, 0, why);
}

void pub_on_lost(void *context, char *cause)
{
    pub_post(context, EV_LOST, 0, 0, cause ? cause : "connection closed");
}

int pub_on_message(void *context, char *topic, int topic_len, MQTTAsync_message *m)
{
    (void)context;
    (void)topic_len;
    pub_the->api->freeMessage(&m);
    pub_the->api->free(topic);
    return 1;
}

/* A message's callback, on a Paho thread: one fewer in Paho's window, so
 * the next message of the ring can go at once, from this thread, without
 * waiting for the loop. If the loop holds the ring (it is refilling it and
 * sends itself), it is woken to look again. Paho holds its own lock around
 * callbacks, so this thread only ever tries the ring lock: the loop takes
 * the ring lock first and Paho's second. */
static void confirmed(gw_pub_t *pub, uintptr_t ctx)
{
    if (ctx < CTX_MSG_BASE)
        return;
    atomic_fetch_sub(&pub->unconfirmed, 1);
    if (pthread_mutex_trylock(&pub->ring_lock) == 0) {
        pub_pump(pub);
        pthread_mutex_unlock(&pub->ring_lock);
    } else {
        gw_loop_wake(pub->loop);
    }
}

static void on_sent(void *context, MQTTAsync_successData *resp)
{
    (void)resp;
    pub_post(pub_the, EV_SENT, 0, (uintptr_t)context, NULL);
    confirmed(pub_the, (uintptr_t)context);
}

static void on_send_fail(void *context, MQTTAsync_failureData *resp)
{
    pub_post(pub_the, EV_SEND_FAILED, resp ? resp->code : -1, (uintptr_t)context,
             resp && resp->message ? resp->message : NULL);
    atomic_fetch_sub(&pub_the->unconfirmed, (long)((uintptr_t)context >= CTX_MSG_BASE));
}

/* MQTT 5 variants: the same events, with the broker's reason code. */
static void reason_text(char *buf, size_t cap, int reason, int code, const char *message)
{
    if (reason)
        snprintf(buf, cap, "%s (reason code %d)", pub_the->api->reasonCode_toString(reason),
                 reason);
    else
        snprintf(buf, cap, "%s", message ? message : pub_the->api->strerror(code));
}

static void on_connect_ok5(void *context, MQTTAsync_successData5 *resp)
{
    (void)resp;
    pub_post(context, EV_CONNECTED, 0, 0, NULL);
}

static void on_connect_fail5(void *context, MQTTAsync_failureData5 *resp)
{
    char why[120];

    reason_text(why, sizeof(why), resp ? (int)resp->reasonCode : 0, resp ? resp->code : -1,
                resp ? resp->message : NULL);
    pub_post(context, EV_CONNECT_FAILED, resp ? resp->code : -1, 0, why);
}

static void on_sent5(void *context, MQTTAsync_successData5 *resp)
{
    (void)resp;
    pub_post(pub_the, EV_SENT, 0, (uintptr_t)context, NULL);
    confirmed(pub_the, (uintptr_t)context);
}

static void on_send_fail5(void *context, MQTTAsync_failureData5 *resp)
{
    char why[120];
    int reason = resp ? (int)resp->reasonCode : 0;

    reason_text(why, sizeof(why), reason, resp ? resp->code : -1, resp ? resp->message : NULL);
    /* The reason code rides in code's place: >= 0x80 is the broker's refusal. */
    pub_post(pub_the, EV_SEND_FAILED, reason >= 0x80 ? reason : (resp ? resp->code : -1),
             (uintptr_t)context, why);
    atomic_fetch_sub(&pub_the->unconfirmed, (long)((uintptr_t)context >= CTX_MSG_BASE));
}

static void on_disconnected5(void *context, MQTTAsync_successData5 *resp)
{
    (void)resp;
    pub_post(context, EV_DISCONNECTED, 0, 0, NULL);
}

static void on_disconnect_fail5(void *context, MQTTAsync_failureData5 *resp)
{
    (void)resp;
    pub_post(context, EV_DISCONNECTED, -1, 0, NULL);
}

/* OpenSSL's own description of a TLS failure (wrong CA, expired
 * certificate, ...), which Paho's failure callback does not carry. */
int pub_on_ssl_error(const char *str, size_t len, void *u)
{
    (void)u;
    gw_warn("mqtt: TLS: %.*s", (int)(len && str[len - 1] == '\n' ? len - 1 : len), str);
    return 0;
}

/* Response options for one call, in the callback flavour of the protocol
 * version (Paho refuses 3.1.1 callbacks on an MQTT 5 connection). */
static void set_callbacks(const gw_pub_t *pub, MQTTAsync_responseOptions *ro,
                          MQTTAsync_onSuccess *ok, MQTTAsync_onFailure *fail,
                          MQTTAsync_onSuccess5 *ok5, MQTTAsync_onFailure5 *fail5)
{
    if (pub->opts.version == 5) {
        ro->onSuccess5 = ok5;
        ro->onFailure5 = fail5;
    } else {
        ro->onSuccess = ok;
        ro->onFailure = fail;
    }
}

static void on_disconnected(void *context, MQTTAsync_successData *resp)
{
    (void)resp;
    pub_post(context, EV_DISCONNECTED, 0, 0, NULL);
}

static void on_disconnect_fail(void *context, MQTTAsync_failureData *resp)
{
    (void)resp;
    pub_post(context, EV_DISCONNECTED, -1, 0, NULL);
}

void pub_send_callbacks(const gw_pub_t *pub, MQTTAsync_responseOptions *ro)
{
    set_callbacks(pub, ro, on_sent, on_send_fail, on_sent5, on_send_fail5);
}

void pub_connect_callbacks(const gw_pub_t *pub, MQTTAsync_connectOptions *co)
{
    if (pub->opts.version == 5) {
        co->onSuccess5 = on_connect_ok5;
        co->onFailure5 = on_connect_fail5;
    } else {
        co->onSuccess = on_connect_ok;
        co->onFailure = on_connect_fail;
    }
}

void pub_disconnect_callbacks(const gw_pub_t *pub, MQTTAsync_disconnectOptions *dopt)
{
    if (pub->opts.version == 5) {
        dopt->onSuccess5 = on_disconnected5;
        dopt->onFailure5 = on_disconnect_fail5;
    } else {
        dopt->onSuccess = on_disconnected;
        dopt->onFailure = on_disconnect_fail;
    }
}

/*
 * Sends from the ring while Paho's window has room; ring_lock held. Runs on
 * the loop thread (gw_pub_flush) and on Paho's threads (confirmed()), so the
 * messages leave in ring order whoever sends them. A message Paho refuses
 * outright is reported to the loop, which drops it (it would be refused
 * again); a transient refusal leaves it first in the ring.
 */
void pub_pump(gw_pub_t *pub)
{
    while (pub->ring_on && pub->ring_len > 0 &&
           atomic_load(&pub->unconfirmed) < (long)pub->opts.max_inflight) {
        gw_msg_t *m = pub->ring[pub->ring_head];
        MQTTAsync_message pm = MQTTAsync_message_initializer;
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        int rc;

        pm.payload = m->payload;
        pm.payloadlen = (int)m->payload_len;
        pm.qos = m->qos;
        pm.retained = m->retain;
        pub_send_callbacks(pub, &ro);
        ro.context = (void *)(uintptr_t)(m->id + CTX_MSG_BASE);
        /* Counted before the call: its callback may come before it returns. */
        atomic_fetch_add(&pub->unconfirmed, 1);
        rc = pub->api->sendMessage(pub->client, m->topic, &pm, &ro);
        if (rc == MQTTASYNC_SUCCESS) {
            atomic_fetch_add(&pub->sent, 1);
        } else {
            atomic_fetch_sub(&pub->unconfirmed, 1);
            if (rc == MQTTASYNC_DISCONNECTED || rc == MQTTASYNC_MAX_MESSAGES_INFLIGHT ||
                rc == MQTTASYNC_MAX_BUFFERED_MESSAGES || rc == MQTTASYNC_NO_MORE_MSGIDS)
                break; /* transient: sent on a later pump */
            pub_post(pub, EV_REJECTED, rc, (uintptr_t)(m->id + CTX_MSG_BASE),
                     pub->api->strerror(rc));
        }
        pub->ring_head = (pub->ring_head + 1) % pub->ring_cap;
        pub->ring_len--;
    }
}

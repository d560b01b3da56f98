/*
 * Messages that come in: the publisher's subscriptions (the command topics
 * of writable points) and what arrives on them.
 *
 * Paho calls pr_on_message() on its receiving thread. The message is copied
 * into one allocation (topic, payload, MQTT 5 response topic and correlation
 * data), appended to `inbound` under `lock` and the loop is woken; the loop
 * hands the messages to the subscriber's callback in arrival order
 * (pr_inbound_deliver(), from drain_events()). Paho acknowledges a message
 * once the callback returns 1, so a message is queued before it is
 * acknowledged. The queue is bounded (GW_INBOUND_QUEUE_MAX): a flood of
 * commands cannot grow memory without limit; what does not fit is dropped
 * and counted, and still acknowledged (refusing it would make Paho offer it
 * again at once).
 *
 * Subscriptions are made on every connection: sessions are clean, so the
 * broker forgets them at each disconnect.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/clock.h"
#include "gateway/log.h"
#include "gateway/publisher_int.h"

struct pub_inbound {
    struct pub_inbound *next;
    gw_inbound_t m; /* its strings point into data */
    char data[];
};

/* MQTT 5 string or binary property `code`, or NULL. */
static const MQTTLenString *prop_data(gw_pub_t *pub, MQTTProperties *props,
                                      enum MQTTPropertyCodes code)
{
    MQTTProperty *p = props && props->count ? pub->api->getProperty(props, code) : NULL;

    return p ? &p->value.data : NULL;
}

static struct pub_inbound *copy_message(gw_pub_t *pub, const char *topic, int topic_len,
                                        const MQTTAsync_message *m)
{
    size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    size_t plen = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
    bool too_big = plen > GW_INBOUND_PAYLOAD_MAX;
    MQTTProperties *props = pub->opts.version == 5 ? (MQTTProperties *)&m->properties : NULL;
    const MQTTLenString *rt = prop_data(pub, props, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
    const MQTTLenString *cd = prop_data(pub, props, MQTTPROPERTY_CODE_CORRELATION_DATA);
    size_t rtlen = rt && rt->len > 0 ? (size_t)rt->len : 0;
    size_t cdlen = cd && cd->len > 0 ? (size_t)cd->len : 0;
    struct pub_inbound *in;
    char *at;

    if (too_big)
        plen = 0;
    in = malloc(sizeof(*in) + tlen + 1 + plen + 1 + rtlen + 1 + cdlen);
    if (!in)
        return NULL;
    in->next = NULL;
    in->m = (gw_inbound_t){.qos = m->qos,
                           .retained = m->retained != 0,
                           .dup = m->dup != 0,
                           .too_big = too_big,
                           .payload_len = plen,
                           .received_ms = gw_clock_now_ms(),
                           .expiry_s = -1};
    at = in->data;
    memcpy(at, topic, tlen);
    at[tlen] = '\0';
    in->m.topic = at;
    at += tlen + 1;
    if (!too_big) {
        if (plen)
            memcpy(at, m->payload, plen);
        at[plen] = '\0';
        in->m.payload = at;
    }
    at += plen + 1;
    if (rt) {
        memcpy(at, rt->data, rtlen);
        at[rtlen] = '\0';
        in->m.response_topic = at;
    }
    at += rtlen + 1;
    if (cd) {
        memcpy(at, cd->data, cdlen);
        in->m.correlation = (const uint8_t *)at;
        in->m.correlation_len = cdlen;
    }
    if (props && pub->api->hasProperty &&
        pub->api->hasProperty(props, MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL))
        in->m.expiry_s =
            pub->api->getNumericValue(props, MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL);
    return in;
}

int pr_on_message(void *context, char *topic, int topic_len, MQTTAsync_message *m)
{
    gw_pub_t *pub = context;
    struct pub_inbound *in = NULL;
    bool take;

    pthread_mutex_lock(&pub->lock);
    take = pub->inbound_on && pub->n_inbound < GW_INBOUND_QUEUE_MAX;
    pthread_mutex_unlock(&pub->lock);
    if (take)
        in = copy_message(pub, topic, topic_len, m);
    atomic_fetch_add(&pub->received, 1);
    pthread_mutex_lock(&pub->lock);
    if (in && pub->n_inbound < GW_INBOUND_QUEUE_MAX) {
        *pub->inbound_tail = in;
        pub->inbound_tail = &in->next;
        pub->n_inbound++;
    } else {
        atomic_fetch_add(&pub->inbound_dropped, 1);
        free(in);
        in = NULL;
    }
    pthread_mutex_unlock(&pub->lock);
    pub->api->freeMessage(&m);
    pub->api->free(topic);
    if (in)
        gw_loop_wake(pub->loop);
    return 1;
}

void pr_inbound_deliver(gw_pub_t *pub)
{
    struct pub_inbound *list, *next;

    pthread_mutex_lock(&pub->lock);
    list = pub->inbound;
    pub->inbound = NULL;
    pub->inbound_tail = &pub->inbound;
    pub->n_inbound = 0;
    pthread_mutex_unlock(&pub->lock);
    for (; list; list = next) {
        next = list->next;
        if (pub->on_message)
            pub->on_message(pub->on_message_arg, &list->m);
        free(list);
    }
}

void pr_inbound_fini(gw_pub_t *pub)
{
    struct pub_inbound *next;

    for (struct pub_inbound *in = pub->inbound; in; in = next) {
        next = in->next;
        free(in);
    }
    pub->inbound = NULL;
    pub->inbound_tail = &pub->inbound;
    pub->n_inbound = 0;
    free(pub->sub_topics);
    pub->sub_topics = NULL;
    pub->n_sub_topics = 0;
}

/* --- subscribing ------------------------------------------------------------- */

/* How many of a SUBACK's granted QoS / reason codes are refusals (>= 0x80),
 * and the first refused topic's index. */
static int refusals(const int *codes, int n, int *first)
{
    int k = 0;

    *first = -1;
    for (int i = 0; codes && i < n; i++)
        if (codes[i] >= 0x80) {
            if (k++ == 0)
                *first = i;
        }
    return k;
}

static void subscribed(gw_pub_t *pub, const int *codes, int n)
{
    int first, k = refusals(codes, n, &first);
    char index[24];

    snprintf(index, sizeof(index), "%d", first); /* the loop names the topic */
    pr_post(pub, EV_SUBSCRIBED, k, index);
}

static void on_sub_ok(void *context, MQTTAsync_successData *resp)
{
    gw_pub_t *pub = context;

    /* One topic: the granted QoS is resp->alt.qos; several: alt.qosList. */
    if (resp && pub->n_sub_topics == 1)
        subscribed(pub, &resp->alt.qos, 1);
    else
        subscribed(pub, resp ? resp->alt.qosList : NULL, (int)pub->n_sub_topics);
}

static void on_sub_ok5(void *context, MQTTAsync_successData5 *resp)
{
    gw_pub_t *pub = context;
    int codes[64], n = 0;

    /* Paho fills reasonCodes only for several topics; for one, reasonCode. */
    if (resp && resp->alt.sub.reasonCodeCount > 1 && resp->alt.sub.reasonCodes) {
        n = resp->alt.sub.reasonCodeCount;
        if (n > (int)(sizeof(codes) / sizeof(codes[0])))
            n = (int)(sizeof(codes) / sizeof(codes[0]));
        for (int i = 0; i < n; i++)
            codes[i] = resp->alt.sub.reasonCodes[i];
    } else if (resp) {
        codes[n++] = resp->reasonCode;
    }
    subscribed(pub, codes, n);
}

static void on_sub_fail(void *context, MQTTAsync_failureData *resp)
{
    pr_post(context, EV_SUBSCRIBE_FAILED, resp ? resp->code : -1,
            resp && resp->message ? resp->message : NULL);
}

static void on_sub_fail5(void *context, MQTTAsync_failureData5 *resp)
{
    gw_pub_t *pub = context;
    char why[120];

    if (resp && resp->reasonCode)
        snprintf(why, sizeof(why), "%s (reason code %d)",
                 pub->api->reasonCode_toString(resp->reasonCode), resp->reasonCode);
    else
        snprintf(why, sizeof(why), "%s", resp && resp->message ? resp->message : "failed");
    pr_post(pub, EV_SUBSCRIBE_FAILED, resp ? resp->code : -1, why);
}

void pr_subscribe(gw_pub_t *pub)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int *qos;
    int rc;

    if (!pub->n_sub_topics)
        return;
    if (!(qos = malloc(pub->n_sub_topics * sizeof(*qos)))) {
        gw_err("mqtt: out of memory subscribing to the command topics");
        return;
    }
    for (size_t i = 0; i < pub->n_sub_topics; i++)
        qos[i] = 2;
    ro.context = pub;
    if (pub->opts.version == 5) {
        ro.onSuccess5 = on_sub_ok5;
        ro.onFailure5 = on_sub_fail5;
    } else {
        ro.onSuccess = on_sub_ok;
        ro.onFailure = on_sub_fail;
    }
    rc = pub->api->subscribeMany(pub->client, (int)pub->n_sub_topics, pub->sub_topics, qos, &ro);
    free(qos);
    if (rc != MQTTASYNC_SUCCESS) {
        pub->stats.subscribe_fails += pub->n_sub_topics;
        gw_warn("mqtt: cannot subscribe to %zu command topic%s: %s", pub->n_sub_topics,
                pub->n_sub_topics == 1 ? "" : "s", pub->api->strerror(rc));
    }
}

int gw_pub_subscribe(gw_pub_t *pub, const char *const *topics, size_t n, gw_inbound_cb on_message,
                     void *arg)
{
    size_t len = 0;
    char **block, *at;

    if (pub->state != PUB_IDLE || pub->sub_topics)
        return -EALREADY; /* the callbacks read the set without a lock */
    for (size_t i = 0; i < n; i++)
        len += strlen(topics[i]) + 1;
    if (!(block = malloc(n * sizeof(char *) + len + 1)))
        return -ENOMEM;
    at = (char *)(block + n);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(topics[i]) + 1;

        memcpy(at, topics[i], l);
        block[i] = at;
        at += l;
    }
    pub->sub_topics = block;
    pub->n_sub_topics = n;
    pub->on_message = on_message;
    pub->on_message_arg = arg;
    pthread_mutex_lock(&pub->lock);
    pub->inbound_on = n > 0 && on_message != NULL;
    pthread_mutex_unlock(&pub->lock);
    return 0;
}

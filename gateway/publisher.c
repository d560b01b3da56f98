/*
 * The MQTT publisher over Paho MQTTAsync; see publisher.h for the contract.
 *
 * Threading: Paho calls back on its own threads. Each callback copies what it
 * needs into an event, appends it under `lock` and wakes the loop; the loop
 * thread swaps the whole event array out under the lock and applies the
 * events in order: the outbox and every state are the loop's alone. The one
 * exception is sending: the loop hands messages it took from the outbox to a
 * ring (under `ring_lock`), and a confirmation's callback sends the next one
 * from the ring itself, so a freed slot in Paho's window is filled without a
 * round trip through the loop (pub_pump() in pub_paho.c, which holds the
 * callbacks).
 */
#include "gateway/publisher.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/clock.h"
#include "gateway/error.h"
#include "gateway/log.h"
#include "gateway/paho.h"
#include "gateway/publisher_int.h"

static const char *const state_names[] = {"idle",     "connecting",    "connected", "backoff",
                                          "stopping", "disconnecting", "stopped"};

static void set_state(gw_pub_t *pub, pub_state_t state)
{
    gw_debug("mqtt: %s -> %s", state_names[pub->state], state_names[state]);
    pub->state = state;
}
/* --- loop thread ----------------------------------------------------------- */

static void connect_now(gw_pub_t *pub);

static uint64_t next_random(gw_pub_t *pub)
{
    pub->rng ^= pub->rng << 13;
    pub->rng ^= pub->rng >> 7;
    pub->rng ^= pub->rng << 17;
    return pub->rng;
}

/* Waits a random time in [backoff/2, backoff], then doubles the backoff. */
static void schedule_retry(gw_pub_t *pub, const char *what, const char *why)
{
    uint64_t half = pub->backoff_ms / 2;
    uint64_t wait = half + next_random(pub) % (pub->backoff_ms - half + 1);

    gw_warn("mqtt: %s %s: %s; retrying in %.1f s", what, pub->opts.uri, why, wait / 1000.0);
    set_state(pub, PUB_BACKOFF);
    gw_timer_start(pub->loop, &pub->retry_timer, gw_clock_now_ms() + wait);
    pub->backoff_ms *= 2;
    if (pub->backoff_ms > pub->opts.reconnect_max_ms)
        pub->backoff_ms = pub->opts.reconnect_max_ms;
}

static void retry_due(gw_timer_t *t, void *arg)
{
    (void)t;
    connect_now(arg);
}

static void publish_status(gw_pub_t *pub, const char *text, uintptr_t ctx)
{
    MQTTAsync_message m = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int rc;

    m.payload = (void *)text;
    m.payloadlen = (int)strlen(text);
    m.qos = 1;
    m.retained = 1;
    pub_send_callbacks(pub, &ro);
    ro.context = (void *)ctx;
    rc = pub->api->sendMessage(pub->client, pub->opts.status_topic, &m, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        gw_warn("mqtt: cannot publish status '%s': %s", text, pub->api->strerror(rc));
        if (ctx == CTX_OFFLINE)
            pub_post(pub, EV_SEND_FAILED, rc, CTX_OFFLINE, NULL);
    }
}

static int create_client(gw_pub_t *pub, MQTTAsync *client)
{
    MQTTAsync_createOptions cro = MQTTAsync_createOptions_initializer;
    int rc;

    cro.sendWhileDisconnected = 0;
    cro.maxBufferedMessages = (int)pub->opts.max_inflight + 16;
    cro.MQTTVersion = pub->opts.version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    rc = pub->api->createWithOptions(client, pub->opts.uri, pub->opts.client_id,
                                     MQTTCLIENT_PERSISTENCE_NONE, NULL, &cro);
    if (rc != MQTTASYNC_SUCCESS) {
        gw_err("mqtt: cannot create a client for %s: %s", pub->opts.uri, pub->api->strerror(rc));
        return -1;
    }
    rc = pub->api->setCallbacks(*client, pub, pub_on_lost, pub_on_message, NULL);
    if (rc != MQTTASYNC_SUCCESS) {
        gw_err("mqtt: cannot set the callbacks of a client: %s", pub->api->strerror(rc));
        pub->api->destroy(client);
        return -1;
    }
    return 0;
}

/*
 * After a lost connection Paho (1.3.11) keeps publish commands it had not yet
 * written, although it reported them failed, and writes them first on the
 * next connection, ahead of the messages the outbox sends again in order and
 * under message ids it hands out anew. So every reconnect starts from a new
 * client. The new one is created before the old one is destroyed: with no
 * client left, Paho would stop and restart its threads, which blocks.
 */
static void renew_client(gw_pub_t *pub)
{
    MQTTAsync fresh = NULL;

    MQTTAsync old;

    if (create_client(pub, &fresh) != 0)
        return; /* keep the old client; the stale commands are the lesser harm */
    pthread_mutex_lock(&pub->ring_lock);
    old = pub->client;
    pub->client = fresh;
    pthread_mutex_unlock(&pub->ring_lock);
    pub->api->destroy(&old);
    pub->renew = false;
}

static void connect_now(gw_pub_t *pub)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    MQTTAsync_connectOptions co5 = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    int rc;

    if (pub->opts.version == 5)
        co = co5;
    will.topicName = pub->opts.status_topic;
    will.message = "offline";
    will.retained = 1;
    will.qos = 1;
    co.keepAliveInterval = (int)((pub->opts.keepalive_ms + 999) / 1000);
    if (pub->opts.version == 5) {
        co.cleanstart = 1;
        co.MQTTVersion = MQTTVERSION_5;
    } else {
        co.cleansession = 1;
        co.MQTTVersion = MQTTVERSION_3_1_1;
    }
    pub_connect_callbacks(pub, &co);
    if (pub->opts.tls) {
        ssl.trustStore = pub->opts.ca_file;
        ssl.keyStore = pub->opts.cert_file;
        ssl.privateKey = pub->opts.key_file;
        ssl.enableServerCertAuth = pub->opts.verify;
        ssl.verify = pub->opts.verify; /* host name */
        ssl.ssl_error_cb = pub_on_ssl_error;
        co.ssl = &ssl;
    }
    co.maxInflight = (int)pub->opts.max_inflight;
    co.will = &will;
    co.username = pub->opts.username;
    co.password = pub->password;
    co.connectTimeout = 10;
    co.automaticReconnect = 0;
    co.context = pub;
    if (pub->renew)
        renew_client(pub);
    set_state(pub, PUB_CONNECTING);
    rc = pub->api->connect(pub->client, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        pub->stats.connect_fails++;
        schedule_retry(pub, "cannot connect to", pub->api->strerror(rc));
    }
}

static void finish_stop(gw_pub_t *pub)
{
    gw_timer_stop(pub->loop, &pub->stop_timer);
    set_state(pub, PUB_STOPPED);
    if (pub->stop_done) {
        void (*done)(void *) = pub->stop_done;

        pub->stop_done = NULL;
        done(pub->stop_arg);
    }
}

static void disconnect_now(gw_pub_t *pub)
{
    MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;

    set_state(pub, PUB_DISCONNECTING);
    dopt.timeout = 1000;
    pub_disconnect_callbacks(pub, &dopt);
    dopt.context = pub;
    if (pub->api->disconnect(pub->client, &dopt) != MQTTASYNC_SUCCESS)
        finish_stop(pub);
}

/* Takes the ring back from Paho's threads. With requeue, its messages go
 * back to the outbox's queue (they were never sent); without, the caller
 * requeues everything in flight. Loop thread. */
static void ring_stop(gw_pub_t *pub, bool requeue)
{
    pthread_mutex_lock(&pub->ring_lock);
    pub->ring_on = false;
    /* Newest first: each goes back to the head of the queue. */
    while (requeue && pub->ring_len > 0) {
        size_t last = (pub->ring_head + pub->ring_len - 1) % pub->ring_cap;

        gw_outbox_requeue(pub->ob, pub->ring[last]->id);
        pub->ring_len--;
    }
    pub->ring_head = 0;
    pub->ring_len = 0;
    pthread_mutex_unlock(&pub->ring_lock);
}

/*
 * A publish failed on a connection that is probably going away (Paho reports
 * the failures before the connection loss). Sending the failed message again
 * at once could put it behind newer messages still in flight, so: every
 * message in flight goes back to the queue in order, and nothing is sent
 * until the connection is re-established or, if it survives, for a short
 * pause. Messages that did arrive are sent twice (counted as re-sent).
 */
static void pause_sending(gw_pub_t *pub)
{
    if (pub->send_paused)
        return;
    pub->send_paused = true;
    ring_stop(pub, false);
    gw_outbox_requeue_inflight(pub->ob);
    gw_timer_start(pub->loop, &pub->pause_timer, gw_clock_now_ms() + pub->opts.reconnect_min_ms);
}

static void pause_over(gw_timer_t *t, void *arg)
{
    gw_pub_t *pub = arg;
    (void)t;

    pub->send_paused = false;
}

static void handle_sent(gw_pub_t *pub, const pub_event_t *e, bool ok)
{
    if (e->ctx == CTX_ONLINE)
        return;
    if (e->ctx == CTX_OFFLINE) {
        if (pub->state == PUB_STOPPING)
            disconnect_now(pub);
        return;
    }
    uint64_t id = (uint64_t)(e->ctx - CTX_MSG_BASE);
    if (ok) {
        gw_outbox_ack(pub->ob, id);
        return;
    }
    /* Only the broker's explicit refusal (an MQTT 5 reason code >= 0x80, e.g.
     * not authorized) is final. Any other failure is the connection's: the
     * message goes back to the queue and is sent again (at-least-once). */
    (void)id;
    if (e->code >= 0x80) {
        if (gw_outbox_fail(pub->ob, id, GW_DROP_REJECTED) == 0)
            gw_warn("mqtt: the broker refused a message: %s", e->text);
        return;
    }
    pause_sending(pub);
}

static void handle_lost(gw_pub_t *pub, const char *cause)
{
    size_t n;

    ring_stop(pub, false);
    n = gw_outbox_requeue_inflight(pub->ob);

    pub->stats.lost++;
    pub->renew = true;
    if (pub->state == PUB_STOPPING || pub->state == PUB_DISCONNECTING) {
        finish_stop(pub);
        return;
    }
    if (pub->state != PUB_CONNECTED)
        return;
    gw_warn("mqtt: connection to %s lost: %s; %zu messages in flight back to the queue",
            pub->opts.uri, cause, n);
    pub->backoff_ms = pub->opts.reconnect_min_ms;
    schedule_retry(pub, "reconnecting to", "connection lost");
}

static void apply(gw_pub_t *pub, const pub_event_t *e)
{
    switch (e->type) {
    case EV_CONNECTED:
        if (pub->state != PUB_CONNECTING)
            break;
        pub->stats.connects++;
        pub->backoff_ms = pub->opts.reconnect_min_ms;
        pub->send_paused = false;
        gw_timer_stop(pub->loop, &pub->pause_timer);
        /* A new client (renew_client) or the first: nothing of Paho's is
         * outstanding, and no callback of an older connection can come. */
        atomic_store(&pub->unconfirmed, 0);
        set_state(pub, PUB_CONNECTED);
        gw_info("mqtt: connected to %s as %s", pub->opts.uri, pub->opts.client_id);
        publish_status(pub, "online", CTX_ONLINE);
        break;
    case EV_CONNECT_FAILED:
        if (pub->state != PUB_CONNECTING)
            break;
        pub->stats.connect_fails++;
        schedule_retry(pub, "cannot connect to", e->text);
        break;
    case EV_LOST:
        handle_lost(pub, e->text);
        break;
    case EV_SENT:
    case EV_SEND_FAILED:
        handle_sent(pub, e, e->type == EV_SENT);
        break;
    case EV_REJECTED:
        if (gw_outbox_fail(pub->ob, (uint64_t)(e->ctx - CTX_MSG_BASE), GW_DROP_REJECTED) == 0)
            gw_warn("mqtt: cannot publish to a topic: %s", e->text);
        break;
    case EV_DISCONNECTED:
        if (pub->state == PUB_DISCONNECTING)
            finish_stop(pub);
        break;
    }
}

static void drain_events(gw_loop_t *loop, void *arg)
{
    gw_pub_t *pub = arg;
    pub_event_t *batch;
    size_t n, cap;
    (void)loop;

    pthread_mutex_lock(&pub->lock);
    batch = pub->events;
    n = pub->n_events;
    cap = pub->cap_events;
    pub->events = pub->spare;
    pub->cap_events = pub->cap_spare;
    pub->n_events = 0;
    pub->n_acks = 0;
    pthread_mutex_unlock(&pub->lock);
    for (size_t i = 0; i < n; i++)
        apply(pub, &batch[i]);
    pub->spare = batch;
    pub->cap_spare = cap;
}

void gw_pub_flush(gw_pub_t *pub)
{
    gw_msg_t *m;

    if (pub->state != PUB_CONNECTED || pub->send_paused) {
        if (pub->ring_on || pub->ring_len)
            ring_stop(pub, true);
        return;
    }
    /* Refill the ring from the outbox and send what Paho's window takes;
     * Paho's threads send the rest as confirmations come (pub_pump()). */
    pthread_mutex_lock(&pub->ring_lock);
    pub->ring_on = true;
    while (pub->ring_len < pub->ring_cap && (m = gw_outbox_next(pub->ob)) != NULL) {
        gw_outbox_mark_inflight(pub->ob, m);
        pub->ring[(pub->ring_head + pub->ring_len) % pub->ring_cap] = m;
        pub->ring_len++;
    }
    pub_pump(pub);
    pthread_mutex_unlock(&pub->ring_lock);
    /* Confirmations posted while inflight_now was higher than it is now may
     * be all there is to come: if so, process them on the next iteration. */
    size_t in_flight = gw_outbox_in_flight(pub->ob);
    bool late;

    atomic_store(&pub->inflight_now, in_flight);
    pthread_mutex_lock(&pub->lock);
    late = pub->n_acks > 0 && pub->n_acks >= in_flight;
    pthread_mutex_unlock(&pub->lock);
    if (late)
        gw_loop_wake(pub->loop);
}

gw_pub_t *gw_pub_new(gw_loop_t *loop, gw_outbox_t *ob, const gw_pub_opts_t *opts)
{
    gw_pub_t *pub;

    const gw_paho_t *api = gw_paho_load(opts->tls);

    if (pub_the) {
        errno = EBUSY;
        return NULL;
    }
    if (!api) {
        errno = ELIBACC;
        return NULL;
    }
    pub = calloc(1, sizeof(*pub));
    if (!pub)
        return NULL;
    pub->api = api;
    pub->loop = loop;
    pub->ob = ob;
    pub->opts = *opts;
    pub->backoff_ms = opts->reconnect_min_ms ? opts->reconnect_min_ms : 1;
    pub->rng = (uint64_t)gw_clock_wall_ms() | 1;
    pthread_mutex_init(&pub->lock, NULL);
    pthread_mutex_init(&pub->ring_lock, NULL);
    gw_timer_init(&pub->retry_timer, retry_due, pub);
    gw_timer_init(&pub->pause_timer, pause_over, pub);
    pub->ring_cap = opts->max_inflight ? opts->max_inflight : 1;
    if (!(pub->ring = calloc(pub->ring_cap, sizeof(*pub->ring))))
        goto fail;
    if (opts->password && !(pub->password = strdup(opts->password)))
        goto fail;
    if (create_client(pub, &pub->client) != 0) {
        errno = EINVAL;
        goto fail;
    }
    gw_loop_on_wake(loop, drain_events, pub);
    pub_the = pub;
    return pub;
fail:
    gw_pub_free(pub);
    return NULL;
}

int gw_pub_start(gw_pub_t *pub)
{
    if (pub->state != PUB_IDLE)
        return -EALREADY;
    connect_now(pub);
    return 0;
}

bool gw_pub_connected(const gw_pub_t *pub)
{
    return pub->state == PUB_CONNECTED;
}

int gw_pub_publish(gw_pub_t *pub, const char *topic, const char *payload, int qos, bool retain)
{
    MQTTAsync_message m = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

    if (pub->state != PUB_CONNECTED)
        return -ENOTCONN;
    m.payload = (void *)payload;
    m.payloadlen = (int)strlen(payload);
    m.qos = qos;
    m.retained = retain;
    pub_send_callbacks(pub, &ro);
    ro.context = (void *)(uintptr_t)CTX_ONLINE; /* confirmations are ignored */
    return pub->api->sendMessage(pub->client, topic, &m, &ro) == MQTTASYNC_SUCCESS ? 0 : -GW_EMQTT;
}

static void stop_deadline(gw_timer_t *t, void *arg)
{
    gw_pub_t *pub = arg;
    (void)t;

    if (!pub->stop_quietly)
        gw_warn("mqtt: disconnect from %s did not finish in time", pub->opts.uri);
    finish_stop(pub);
}

void gw_pub_stop(gw_pub_t *pub, uint64_t timeout_ms, void (*done)(void *arg), void *arg)
{
    pub->stop_done = done;
    pub->stop_arg = arg;
    gw_timer_stop(pub->loop, &pub->retry_timer);
    gw_timer_init(&pub->stop_timer, stop_deadline, pub);
    gw_timer_start(pub->loop, &pub->stop_timer, gw_clock_now_ms() + timeout_ms);
    ring_stop(pub, true); /* nothing more goes out */
    if (pub->state == PUB_CONNECTED) {
        set_state(pub, PUB_STOPPING);
        publish_status(pub, "offline", CTX_OFFLINE);
    } else if (pub->state == PUB_CONNECTING) {
        disconnect_now(pub);
    } else {
        /* Finish from the timer so done() never runs inside the caller. */
        pub->stop_quietly = true;
        gw_timer_start(pub->loop, &pub->stop_timer, gw_clock_now_ms());
        set_state(pub, PUB_DISCONNECTING);
    }
}

void gw_pub_stats(const gw_pub_t *pub, gw_pub_stats_t *out)
{
    *out = pub->stats;
    out->sent = atomic_load(&pub->sent);
}

void gw_pub_free(gw_pub_t *pub)
{
    if (!pub)
        return;
    if (pub->loop) {
        gw_timer_stop(pub->loop, &pub->retry_timer);
        gw_timer_stop(pub->loop, &pub->pause_timer);
        if (pub->stop_timer.cb)
            gw_timer_stop(pub->loop, &pub->stop_timer);
    }
    if (pub->client)
        pub->api->destroy(&pub->client);
    if (pub_the == pub) {
        pub_the = NULL;
        gw_loop_on_wake(pub->loop, NULL, NULL);
    }
    pthread_mutex_destroy(&pub->lock);
    pthread_mutex_destroy(&pub->ring_lock);
    free(pub->ring);
    if (pub->password)
        memset(pub->password, 0, strlen(pub->password));
    free(pub->password);
    free(pub->events);
    free(pub->spare);
    free(pub);
}

/*
 * The MQTT publisher over Paho MQTTAsync; see publisher.h for the contract.
 *
 * Threading: this file runs on the loop thread only. Paho calls back on its
 * own threads; those callbacks, and everything they touch, live in
 * pubring.c, which records what happened as events and wakes the loop. The
 * loop takes the events here and applies them in order: the outbox and every
 * state below are the loop's alone. The one exception is sending: the loop
 * hands messages it took from the outbox to a ring, and a confirmation's
 * callback sends the next one from the ring itself (pubring.c says who owns
 * a message at each step).
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

static void connect_now(gw_pub_t *pub);
static void stop_deadline(gw_timer_t *t, void *arg);

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

static void publish_status(gw_pub_t *pub, const char *text, send_kind_t kind)
{
    int paho_rc = 0;
    int rc = pr_send_own(pub, kind, pub->opts.status_topic, text, 1, true, &paho_rc);

    if (rc == 0)
        return;
    gw_warn("mqtt: cannot publish status '%s': %s", text,
            rc == -EBUSY ? "the previous one is not confirmed yet" : pub->api->strerror(paho_rc));
    if (kind == SEND_OFFLINE && pub->state == PUB_STOPPING)
        pr_post(pub, EV_DISCONNECTED, -1, NULL); /* nothing to wait for: disconnect */
}

static int create_client(gw_pub_t *pub, MQTTAsync *client)
{
    MQTTAsync_createOptions cro = MQTTAsync_createOptions_initializer;
    int rc;

    cro.sendWhileDisconnected = 0;
    cro.maxBufferedMessages = (int)pub->ring_cap + SEND_NKINDS;
    cro.MQTTVersion = pub->opts.version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    if (pub->api->frees_unsent) /* no persistence needed: paho_store.h */
        rc = pub->api->createWithOptions(client, pub->opts.uri, pub->opts.client_id,
                                         MQTTCLIENT_PERSISTENCE_NONE, NULL, &cro);
    else
        rc = pub->api->createWithOptions(client, pub->opts.uri, pub->opts.client_id,
                                         MQTTCLIENT_PERSISTENCE_USER, &pub->store, &cro);
    if (rc != MQTTASYNC_SUCCESS) {
        gw_err("mqtt: cannot create a client for %s: %s", pub->opts.uri, pub->api->strerror(rc));
        return -GW_EMQTT;
    }
    rc = pub->api->setCallbacks(*client, pub, pr_on_lost, pr_on_message, NULL);
    if (rc != MQTTASYNC_SUCCESS) {
        gw_err("mqtt: cannot set the callbacks of a client: %s", pub->api->strerror(rc));
        pub->api->destroy(client);
        return -GW_EMQTT;
    }
    return 0;
}

/*
 * After a lost connection Paho (1.3.12) keeps the publish commands it had
 * not yet written, and writes them first on the next connection, ahead of
 * the messages the outbox sends again in order. Those commands exist only
 * when Paho still held sends at the loss (pr_pending() > 0); then the
 * reconnect starts from a new client. The new one is created before the old
 * one is destroyed: with no client left, Paho would stop and restart its
 * threads, which blocks. Destroying a client that holds unwritten publishes
 * would leak their topic and payload inside Paho, but for the store they
 * live in (paho_store.h); a client is reused whenever it holds nothing all
 * the same, since a new one costs a round of Paho's set-up: docs/design.md.
 */
static void renew_client(gw_pub_t *pub)
{
    MQTTAsync fresh = NULL, old;

    if (create_client(pub, &fresh) != 0)
        return; /* keep the old client: stale sends are recognised as stale */
    old = pr_swap_client(pub, fresh);
    pub->api->destroy(&old); /* its callbacks run here, all stale */
    pub->renew = false;
    pub->stats.renewed++;
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
    pr_connect_callbacks(pub, &co);
    if (pub->opts.tls) {
        ssl.trustStore = pub->opts.ca_file;
        ssl.keyStore = pub->opts.cert_file;
        ssl.privateKey = pub->opts.key_file;
        ssl.enableServerCertAuth = pub->opts.verify;
        ssl.verify = pub->opts.verify; /* host name */
        ssl.ssl_error_cb = pr_on_ssl_error;
        co.ssl = &ssl;
    }
    /* Paho's own limit is above the publisher's window, so that Paho never
     * queues a publish of ours behind its flow control (see renew_client). */
    co.maxInflight = (int)pub->ring_cap + SEND_NKINDS;
    co.will = &will;
    co.username = pub->opts.username;
    co.password = pub->opts.password;
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
    pr_disconnect_callbacks(pub, &dopt);
    dopt.context = pub;
    if (pub->api->disconnect(pub->client, &dopt) != MQTTASYNC_SUCCESS)
        finish_stop(pub);
}

/*
 * A publish failed on a connection that is probably going away (Paho reports
 * the failures before the connection loss). Sending the failed message again
 * at once could put it behind newer messages still in flight, so: every
 * message in flight goes back to the queue in order, and nothing is sent
 * until the connection is re-established or, if it survives, for a short
 * pause. Messages that did arrive are sent twice (counted as re-sent); the
 * confirmations of their first sends are stale and ignored.
 */
static void pause_sending(gw_pub_t *pub)
{
    if (pub->send_paused)
        return;
    pub->send_paused = true;
    pr_take_back(pub);
    gw_timer_start(pub->loop, &pub->pause_timer, gw_clock_now_ms() + pub->opts.reconnect_min_ms);
}

static void pause_over(gw_timer_t *t, void *arg)
{
    gw_pub_t *pub = arg;
    (void)t;

    pub->send_paused = false;
}

static void handle_own(gw_pub_t *pub, const pub_event_t *e)
{
    if (e->kind == SEND_OFFLINE && pub->state == PUB_STOPPING)
        disconnect_now(pub);
}

static void handle_sent(gw_pub_t *pub, const pub_event_t *e)
{
    if (e->kind != SEND_MSG) {
        handle_own(pub, e);
        return;
    }
    if (e->type == EV_SENT) {
        gw_outbox_ack(pub->ob, e->id, e->send); /* a stale one is counted there */
        return;
    }
    if (!gw_outbox_is_current(pub->ob, e->id, e->send))
        return; /* an earlier send of a message sent again, or taken back */
    /* Only the broker's explicit refusal (an MQTT 5 reason code >= 0x80, e.g.
     * not authorized) or Paho's (EV_REJECTED) is final. Any other failure is
     * the connection's: the message goes back to the queue and is sent again
     * (at-least-once). */
    if (e->type == EV_REJECTED || e->code >= 0x80) {
        gw_outbox_fail(pub->ob, e->id, e->send, GW_DROP_REJECTED);
        gw_warn("mqtt: %s refused a message: %s",
                e->type == EV_REJECTED ? "the MQTT client" : "the broker", e->text);
        return;
    }
    pause_sending(pub);
}

static void handle_lost(gw_pub_t *pub, const char *cause)
{
    size_t n = pr_take_back(pub);

    pub->stats.lost++;
    /* Paho's failure callbacks for what it had written came before the loss;
     * what it still holds now are commands it never wrote. */
    pub->renew = pr_pending(pub) > 0;
    if (pub->state == PUB_STOPPING || pub->state == PUB_DISCONNECTING) {
        finish_stop(pub);
        return;
    }
    if (pub->state != PUB_CONNECTED)
        return;
    gw_warn("mqtt: connection to %s lost: %s; %zu messages back to the queue", pub->opts.uri, cause,
            n);
    pub->backoff_ms = pub->opts.reconnect_min_ms;
    schedule_retry(pub, "reconnecting to", "connection lost");
}

static void handle_connected(gw_pub_t *pub, int receive_max)
{
    size_t window = pub->ring_cap;

    pub->stats.connects++;
    pub->backoff_ms = pub->opts.reconnect_min_ms;
    pub->send_paused = false;
    gw_timer_stop(pub->loop, &pub->pause_timer);
    /* An MQTT 5 broker's receive maximum bounds what may be unacknowledged;
     * beyond it Paho would hold our publishes back. */
    if (receive_max > 0 && (size_t)receive_max < window) {
        window = (size_t)receive_max;
        gw_info("mqtt: the broker receives at most %d messages at once; max_inflight %zu -> %zu",
                receive_max, pub->ring_cap, window);
    }
    pr_set_window(pub, window);
    set_state(pub, PUB_CONNECTED);
    gw_info("mqtt: connected to %s as %s", pub->opts.uri, pub->opts.client_id);
    publish_status(pub, "online", SEND_ONLINE);
    pr_subscribe(pub); /* clean sessions: again on every connection */
}

static void handle_subscribed(gw_pub_t *pub, const pub_event_t *e)
{
    size_t n = pub->n_sub_topics;

    if (e->type == EV_SUBSCRIBE_FAILED) {
        pub->stats.subscribe_fails += n;
        gw_warn("mqtt: subscribing to %zu command topic%s failed: %s", n, n == 1 ? "" : "s",
                e->text[0] ? e->text : "no reason given");
        return;
    }
    pub->stats.subscribes += n - (size_t)e->code;
    pub->stats.subscribe_fails += (size_t)e->code;
    if (e->code == 0) {
        gw_info("mqtt: subscribed to %zu command topic%s", n, n == 1 ? "" : "s");
        return;
    }
    long first = strtol(e->text, NULL, 10);

    gw_warn("mqtt: the broker refused %d of %zu command topics, first '%s' (not authorized?)",
            e->code, n, first >= 0 && (size_t)first < n ? pub->sub_topics[first] : "?");
}

static void apply(gw_pub_t *pub, const pub_event_t *e)
{
    switch (e->type) {
    case EV_CONNECTED:
        if (pub->state == PUB_CONNECTING)
            handle_connected(pub, e->code);
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
    case EV_REJECTED:
        handle_sent(pub, e);
        break;
    case EV_SUBSCRIBED:
    case EV_SUBSCRIBE_FAILED:
        handle_subscribed(pub, e);
        break;
    case EV_DISCONNECTED:
        if (pub->state == PUB_DISCONNECTING)
            finish_stop(pub);
        else if (pub->state == PUB_STOPPING)
            disconnect_now(pub);
        break;
    }
}

static void drain_events(gw_loop_t *loop, void *arg)
{
    gw_pub_t *pub = arg;
    size_t n, cap;
    pub_event_t *batch = pr_events_take(pub, &n, &cap);
    (void)loop;

    for (size_t i = 0; i < n; i++)
        apply(pub, &batch[i]);
    pr_events_done(pub, batch, cap);
    pr_inbound_deliver(pub);
}

/*
 * With lazy confirmations, what is in flight and not yet applied waits at
 * most ACK_LAZY_MS (plus the timer's grid) from now for the loop's next
 * wake-up: the timer is pushed on at every iteration, so a gateway whose
 * readings come more often than that never wakes for its confirmations.
 * Called after every flush and every change of the mode, so the timer
 * follows the mode the iteration ends with. Without lazy confirmations, or
 * with nothing in flight, it is not needed.
 */
static void lazy_deadline(gw_pub_t *pub)
{
    uint64_t due;

    if (!atomic_load(&pub->lazy_acks) || gw_outbox_in_flight(pub->ob) == 0) {
        gw_timer_stop(pub->loop, &pub->ack_timer);
        return;
    }
    due = gw_loop_now_ms(pub->loop) + ACK_LAZY_MS;
    if (!gw_timer_active(&pub->ack_timer) || pub->ack_timer.due_ms < due)
        gw_timer_start(pub->loop, &pub->ack_timer, due);
}

void gw_pub_flush(gw_pub_t *pub)
{
    if (atomic_load(&pub->acks_waiting))
        drain_events(pub->loop, pub); /* confirmations left for this iteration */
    if (pub->state != PUB_CONNECTED || pub->send_paused) {
        if (pub->ring_on)
            pr_ring_stop(pub);
        return;
    }
    gw_paho_wake_hold(true); /* Paho's send thread woken once for all of them */
    pr_fill(pub);
    gw_paho_wake_hold(false);
    /* Confirmations posted while inflight_now was higher than it is now may
     * be all there is to come: if so, process them on the next iteration,
     * at once, unless confirmations are lazy (then lazy_deadline()'s timer
     * bounds their wait). */
    size_t in_flight = gw_outbox_in_flight(pub->ob);
    bool late;

    atomic_store(&pub->inflight_now, in_flight);
    pthread_mutex_lock(&pub->lock);
    late = pub->n_acks > 0 && pub->n_acks >= in_flight;
    pthread_mutex_unlock(&pub->lock);
    if (late && !atomic_load(&pub->lazy_acks))
        gw_loop_wake(pub->loop);
    lazy_deadline(pub);
}

void gw_pub_lazy_acks(gw_pub_t *pub, bool lazy)
{
    atomic_store(&pub->lazy_acks, lazy);
    /* Confirmations left lazily just before: someone may wait for them now. */
    if (!lazy && atomic_load(&pub->acks_waiting))
        gw_loop_wake(pub->loop);
    lazy_deadline(pub);
}

/* Ends the loop's wait, so that its iteration applies the confirmations left
 * lazily (gw_pub_flush()). */
static void ack_due(gw_timer_t *t, void *arg)
{
    (void)t;
    (void)arg;
}

/* The options' strings, copied into one block the publisher owns: the
 * configuration they came from may be freed by a reload while this
 * publisher still runs. */
static int copy_opts(gw_pub_t *pub, const gw_pub_opts_t *opts)
{
    const char **fields[] = {&pub->opts.uri,       &pub->opts.client_id,    &pub->opts.username,
                             &pub->opts.password,  &pub->opts.status_topic, &pub->opts.ca_file,
                             &pub->opts.cert_file, &pub->opts.key_file};
    size_t len = 0, at = 0;

    pub->opts = *opts;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        len += *fields[i] ? strlen(*fields[i]) + 1 : 0;
    if (!(pub->strings = malloc(len ? len : 1)))
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (!*fields[i])
            continue;
        size_t n = strlen(*fields[i]) + 1;

        memcpy(pub->strings + at, *fields[i], n);
        *fields[i] = pub->strings + at;
        at += n;
    }
    return 0;
}

gw_pub_t *gw_pub_new(gw_loop_t *loop, gw_outbox_t *ob, const gw_pub_opts_t *opts)
{
    const gw_paho_t *api = gw_paho_load(opts->tls);
    gw_pub_t *pub;
    int rc;

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
    gw_timer_init(&pub->retry_timer, retry_due, pub);
    gw_timer_init(&pub->ack_timer, ack_due, pub);
    gw_timer_set_grid(&pub->ack_timer, ACK_LAZY_MS / 4);
    gw_timer_init(&pub->pause_timer, pause_over, pub);
    gw_timer_init(&pub->stop_timer, stop_deadline, pub);
    gw_paho_store_init(&pub->store, api);
    rc = pr_init(pub, opts->max_inflight);
    if (rc == 0)
        rc = copy_opts(pub, opts);
    if (rc != 0) {
        gw_pub_free(pub);
        errno = -rc;
        return NULL;
    }
    pub->backoff_ms = opts->reconnect_min_ms ? opts->reconnect_min_ms : 1;
    pub->rng = (uint64_t)gw_clock_wall_ms() | 1;
    if (create_client(pub, &pub->client) != 0) {
        gw_pub_free(pub);
        errno = EINVAL;
        return NULL;
    }
    return pub;
}

int gw_pub_start(gw_pub_t *pub)
{
    if (pub->state != PUB_IDLE)
        return -EALREADY;
    gw_loop_on_wake(pub->loop, drain_events, pub);
    pub->owns_wake = true;
    connect_now(pub);
    return 0;
}

bool gw_pub_connected(const gw_pub_t *pub)
{
    return pub->state == PUB_CONNECTED;
}

int gw_pub_publish(gw_pub_t *pub, const char *topic, const char *payload, int qos, bool retain)
{
    int paho_rc;

    if (pub->state != PUB_CONNECTED)
        return -ENOTCONN;
    return pr_send_own(pub, SEND_OTHER, topic, payload, qos, retain, &paho_rc);
}

static void stop_deadline(gw_timer_t *t, void *arg)
{
    gw_pub_t *pub = arg;
    (void)t;

    if (!pub->stop_quietly)
        gw_warn("mqtt: disconnect from %s did not finish in time", pub->opts.uri);
    finish_stop(pub);
}

/* Finishes from the stop timer, so done() never runs inside the caller. */
static void stop_soon(gw_pub_t *pub)
{
    pub->stop_quietly = true;
    gw_timer_start(pub->loop, &pub->stop_timer, gw_clock_now_ms());
}

void gw_pub_stop(gw_pub_t *pub, uint64_t timeout_ms, void (*done)(void *arg), void *arg)
{
    /* A later stop replaces the earlier one's callback: shutdown after a
     * reload's reconnect, or a second reload. */
    pub->stop_done = done;
    pub->stop_arg = arg;
    if (pub->state == PUB_STOPPING || pub->state == PUB_DISCONNECTING)
        return; /* on its way */
    if (pub->state == PUB_STOPPED) {
        stop_soon(pub);
        return;
    }
    gw_timer_stop(pub->loop, &pub->retry_timer);
    gw_timer_stop(pub->loop, &pub->ack_timer);
    gw_timer_stop(pub->loop, &pub->pause_timer);
    pr_ring_stop(pub); /* nothing more goes out; what Paho holds may still be confirmed */
    gw_timer_start(pub->loop, &pub->stop_timer, gw_clock_now_ms() + timeout_ms);
    if (pub->state == PUB_CONNECTED) {
        set_state(pub, PUB_STOPPING);
        publish_status(pub, "offline", SEND_OFFLINE);
    } else if (pub->state == PUB_CONNECTING) {
        disconnect_now(pub);
    } else {
        set_state(pub, PUB_DISCONNECTING);
        stop_soon(pub);
    }
}

size_t gw_pub_take_back(gw_pub_t *pub)
{
    return pr_take_back(pub);
}

void gw_pub_stats(const gw_pub_t *pub, gw_pub_stats_t *out)
{
    *out = pub->stats;
    out->sent = atomic_load(&pub->sent);
    out->paho_heap = gw_paho_heap_bytes();
    out->received = atomic_load(&pub->received);
    out->inbound_dropped = atomic_load(&pub->inbound_dropped);
}

void gw_pub_free(gw_pub_t *pub)
{
    if (!pub)
        return;
    gw_timer_stop(pub->loop, &pub->retry_timer);
    gw_timer_stop(pub->loop, &pub->ack_timer);
    gw_timer_stop(pub->loop, &pub->pause_timer);
    gw_timer_stop(pub->loop, &pub->stop_timer);
    /* Everything it holds goes back to the outbox (a reload's new publisher
     * sends it again). */
    if (pub->ring)
        pr_take_back(pub);
    /* Destroying the client runs the callbacks of whatever it held, here:
     * before the slots and locks go. */
    if (pub->client)
        pub->api->destroy(&pub->client);
    if (pub->owns_wake)
        gw_loop_on_wake(pub->loop, NULL, NULL);
    pr_fini(pub);
    if (pub->strings && pub->opts.password)
        memset((char *)pub->opts.password, 0, strlen(pub->opts.password));
    free(pub->strings);
    free(pub);
}

/*
 * Private to the publisher: the state shared by its two halves.
 *
 * publisher.c runs on the loop thread: connection state, reconnects, the
 * outbox and the events Paho's callbacks recorded. pub_paho.c holds what runs
 * on Paho's threads: the callbacks, which record events (pub_post) and send
 * from the hand-off ring (pub_pump). See publisher.c for the threading rules.
 */
#ifndef GW_PUBLISHER_INT_H
#define GW_PUBLISHER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gateway/loop.h"
#include "gateway/outbox.h"
#include "gateway/paho.h"
#include "gateway/publisher.h"

/* Per-message Paho contexts: outbox ids are offset so that the two status
 * messages have contexts of their own. */
#define CTX_ONLINE 0u
#define CTX_OFFLINE 1u
#define CTX_MSG_BASE 2u

/* Confirmations that wake the loop together; see pub_post(). */
#define ACK_BATCH 16u

typedef enum {
    EV_CONNECTED,
    EV_CONNECT_FAILED,
    EV_LOST,
    EV_SENT,
    EV_SEND_FAILED,
    EV_DISCONNECTED,
    EV_REJECTED, /* Paho refused a message outright (sendMessage's return) */
} ev_type_t;

typedef struct {
    ev_type_t type;
    int code; /* Paho's error code, or the MQTT 5 reason code when >= 0x80 */
    uintptr_t ctx;
    char text[120];
} pub_event_t;

typedef enum {
    PUB_IDLE,
    PUB_CONNECTING,
    PUB_CONNECTED,
    PUB_BACKOFF,
    PUB_STOPPING,      /* publishing the offline status */
    PUB_DISCONNECTING, /* waiting for the disconnect to finish */
    PUB_STOPPED,
} pub_state_t;

struct gw_pub {
    const gw_paho_t *api; /* the plain or the TLS library */
    gw_loop_t *loop;
    gw_outbox_t *ob;
    MQTTAsync client;
    gw_pub_opts_t opts;
    char *password;
    pub_state_t state;
    gw_timer_t retry_timer;
    gw_timer_t stop_timer;
    gw_timer_t pause_timer;
    bool send_paused; /* after a failed publish; see pause_sending() */
    bool renew;       /* a connection was lost: a fresh Paho client first */
    uint64_t backoff_ms;
    uint64_t rng;
    void (*stop_done)(void *arg);
    void *stop_arg;
    bool stop_quietly; /* nothing to disconnect: the stop timer is not a timeout */
    gw_pub_stats_t stats;

    pthread_mutex_t lock; /* guards events, n_events, cap_events, n_acks */
    pub_event_t *events;
    size_t n_events;
    size_t cap_events;
    size_t n_acks;              /* confirmations among events; see pub_post() */
    atomic_size_t inflight_now; /* messages in flight after the last flush */

    /* The hand-off ring (see pub_pump()): messages the loop took from the outbox
     * (in flight there) that Paho's threads send as confirmations free room
     * in Paho's window. Guarded by ring_lock, as is `client` while ring_on. */
    pthread_mutex_t ring_lock;
    gw_msg_t **ring;
    size_t ring_cap, ring_head, ring_len;
    bool ring_on;              /* connected and not paused: sends allowed */
    atomic_long unconfirmed;   /* handed to Paho, no callback yet */
    atomic_uint_fast64_t sent; /* stats.sent, counted on whichever thread */
    pub_event_t *spare;        /* the loop thread's array, swapped with events */
    size_t cap_spare;
};

/* The one publisher: Paho's per-message callbacks carry only the message
 * id, so they find it here. */
extern gw_pub_t *pub_the;

/* Records an event for the loop and wakes it (confirmations in batches).
 * Any thread. */
void pub_post(gw_pub_t *pub, ev_type_t type, int code, uintptr_t ctx, const char *text);

/* Sends from the ring while Paho's window has room; ring_lock held. */
void pub_pump(gw_pub_t *pub);

/* The callbacks, in the flavour of pub->opts.version (Paho refuses 3.1.1
 * callbacks on an MQTT 5 connection): for a publish, a connect and a
 * disconnect. */
void pub_send_callbacks(const gw_pub_t *pub, MQTTAsync_responseOptions *ro);
void pub_connect_callbacks(const gw_pub_t *pub, MQTTAsync_connectOptions *co);
void pub_disconnect_callbacks(const gw_pub_t *pub, MQTTAsync_disconnectOptions *dopt);

/* For MQTTAsync_setCallbacks() and the TLS options. */
void pub_on_lost(void *context, char *cause);
int pub_on_message(void *context, char *topic, int topic_len, MQTTAsync_message *m);
int pub_on_ssl_error(const char *str, size_t len, void *u);

#endif

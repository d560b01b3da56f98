/*
 * Private to the publisher: the state shared by its two halves.
 *
 * publisher.c runs on the loop thread only: the connection's state machine,
 * reconnects, stopping, and applying the events Paho's callbacks recorded.
 * pubring.c holds everything Paho's threads touch, with its two locks and
 * the rules for each object written at its top: the event queue, the send
 * slots and the hand-off ring, and the callbacks themselves.
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
#include "gateway/paho_store.h"
#include "gateway/publisher.h"

/* Confirmations that wake the loop together; see post_send(). Half the
 * default window (mqtt.max_inflight 64): at QoS 0, 16 woke the loop about
 * 6,000 times a second at full rate, and each wake-up costs a context
 * switch; 32 took CPU per reading from 3.0 to 2.9 µs on average
 * (BENCHMARKS.md, Changes). A smaller window wakes it when all of it is
 * confirmed instead. */
#define ACK_BATCH 32u
/* With lazy confirmations, the longest the loop leaves them unapplied after
 * an iteration (plus the timer's grid, ACK_LAZY_MS / 4). Longer than the
 * most common interval (1 s) and its grid, so that a gateway reading every
 * second applies them at its next reading's wake-up, never a wake-up of
 * their own; short enough that the in-flight count in the stats message
 * lags by at most about a second. */
#define ACK_LAZY_MS 1000u

/* Bytes of publishes Paho may hold at once; see slot_take() in pubring.c. */
#define PAHO_HELD_MAX (16u * 1024u)

/* What a send carries: an outbox message, or one of the publisher's own. */
typedef enum {
    SEND_MSG,
    SEND_ONLINE,  /* the retained "online" status */
    SEND_OFFLINE, /* the retained "offline" status, at a clean stop */
    SEND_OTHER,   /* gw_pub_publish(): the stats, never retried */
    SEND_NKINDS
} send_kind_t;

/*
 * One message handed to Paho, from sendMessage() until its one callback.
 * Paho's per-message context points here, so a callback names its send
 * exactly (message id and send number, 64 bits on every platform) and finds
 * its publisher without a global. A slot is busy from a successful
 * sendMessage() until the callback (Paho calls exactly one per accepted
 * message, also when the client is destroyed), so a busy slot is never
 * reused: a late callback cannot be taken for a newer send.
 */
typedef struct pub_slot {
    struct gw_pub *pub;
    uint64_t id;   /* SEND_MSG: the outbox message */
    uint64_t send; /* ... and the number of this send of it */
    send_kind_t kind;
    bool busy;
    size_t bytes; /* its share of held_bytes */
    struct pub_slot *next_free;
} pub_slot_t;

typedef enum {
    EV_CONNECTED,
    EV_CONNECT_FAILED,
    EV_LOST,
    EV_SENT,
    EV_SEND_FAILED,
    EV_DISCONNECTED,
    EV_REJECTED,   /* Paho refused a message outright (sendMessage's return) */
    EV_SUBSCRIBED, /* code: topics refused (0: all granted); text: the first refused */
    EV_SUBSCRIBE_FAILED,
} ev_type_t;

typedef struct {
    ev_type_t type;
    int code; /* Paho's error code, the MQTT 5 reason code when >= 0x80, or
               * for EV_CONNECTED the broker's receive maximum (0: none) */
    send_kind_t kind;
    uint64_t id, send; /* of the slot, for a send's event */
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
    /* Loop thread only. */
    const gw_paho_t *api; /* the plain or the TLS library */
    gw_loop_t *loop;
    gw_outbox_t *ob;
    gw_pub_opts_t opts;           /* its strings point into `strings`, the publisher's own copy */
    MQTTClient_persistence store; /* for every client it makes: paho_store.h */
    char *strings;
    pub_state_t state;
    gw_timer_t retry_timer;
    gw_timer_t ack_timer; /* ends the loop's wait for lazy confirmations */
    gw_timer_t stop_timer;
    gw_timer_t pause_timer;
    bool send_paused; /* after a failed publish; see pause_sending() */
    bool renew;       /* Paho still holds commands of a lost connection */
    bool owns_wake;   /* the loop's wake callback is this publisher's */
    uint64_t backoff_ms;
    uint64_t rng;
    void (*stop_done)(void *arg);
    void *stop_arg;
    bool stop_quietly; /* nothing to disconnect: the stop timer is not a timeout */
    gw_pub_stats_t stats;
    pub_event_t *spare; /* the loop thread's event array, swapped with events */
    size_t cap_spare;
    char **sub_topics; /* gw_pub_subscribe()'s, one block */
    size_t n_sub_topics;
    gw_inbound_cb on_message;
    void *on_message_arg;

    /* Shared with Paho's threads: see pubring.c for who may do what. */
    MQTTAsync client; /* written by the loop under ring_lock only */

    pthread_mutex_t lock; /* events, slots */
    pub_event_t *events;
    size_t n_events;
    size_t cap_events;
    size_t n_acks;               /* confirmations among events; see pr_post() */
    pub_slot_t *slots;           /* window of them for messages */
    pub_slot_t own[SEND_NKINDS]; /* one each for the publisher's own sends */
    pub_slot_t *free_slots;
    size_t busy_msgs;           /* message slots in use */
    size_t busy_all;            /* every slot in use: what Paho still holds */
    size_t held_bytes;          /* ... and their bytes */
    size_t window;              /* message slots that may be in use */
    atomic_size_t inflight_now; /* messages in flight after the last flush */
    atomic_bool lazy_acks;      /* nothing waits for confirmations: see gw_pub_lazy_acks() */
    atomic_bool acks_waiting;   /* confirmations posted without waking the loop */

    pthread_mutex_t ring_lock; /* the ring, ring_on, and `client` */
    gw_msg_t **ring;
    size_t ring_cap, ring_head, ring_len;
    bool ring_on;                                /* connected and not paused: sends allowed */
    atomic_uint_fast64_t sent;                   /* stats.sent, counted on whichever thread */
    struct pub_inbound *inbound, **inbound_tail; /* under lock: arrived, for the loop */
    size_t n_inbound;
    bool inbound_on;                      /* under lock: a subscriber wants messages */
    atomic_uint_fast64_t received;        /* stats.received */
    atomic_uint_fast64_t inbound_dropped; /* stats.inbound_dropped */
};

/* --- pubring.c ----------------------------------------------------------- */

/* Allocates the slots and the ring for `window` messages. 0 or -ENOMEM. */
int pr_init(gw_pub_t *pub, size_t window);
void pr_fini(gw_pub_t *pub);

/* Loop thread: fills the ring from the outbox and sends what Paho's window
 * takes; Paho's threads send the rest as confirmations come. */
void pr_fill(gw_pub_t *pub);

/* Loop thread: stops sending. Messages in the ring (never sent) go back to
 * the outbox's queue; messages Paho holds stay in flight until their
 * callback. The one way sending stops. Returns how many went back. */
size_t pr_ring_stop(gw_pub_t *pub);

/* Loop thread: pr_ring_stop(), then every message in flight goes back to
 * the queue, in order; later callbacks for them are stale. Returns how many
 * went back in all. */
size_t pr_take_back(gw_pub_t *pub);

/* Loop thread: how many sends Paho still holds (busy slots). */
size_t pr_pending(gw_pub_t *pub);

/* Loop thread: sets the message window (<= the window pr_init() sized). */
void pr_set_window(gw_pub_t *pub, size_t window);

/* Loop thread: swaps in a new Paho client (NULL allowed) and returns the
 * old one, for renewing or destroying. */
MQTTAsync pr_swap_client(gw_pub_t *pub, MQTTAsync client);

/* Loop thread: sends one of the publisher's own messages. 0, -EBUSY (its
 * slot still waits for a callback) or -GW_EMQTT (refused, logged by the
 * caller with the returned Paho code in *paho_rc). */
int pr_send_own(gw_pub_t *pub, send_kind_t kind, const char *topic, const char *payload, int qos,
                bool retain, int *paho_rc);

/* Loop thread: takes the recorded events; the caller applies them and hands
 * the array back with pr_events_done(). */
pub_event_t *pr_events_take(gw_pub_t *pub, size_t *n, size_t *cap);
void pr_events_done(gw_pub_t *pub, pub_event_t *batch, size_t cap);

/* Any thread: records an event that names no send and wakes the loop. */
void pr_post(gw_pub_t *pub, ev_type_t type, int code, const char *text);

/* The callbacks, in the flavour of pub->opts.version (Paho refuses 3.1.1
 * callbacks on an MQTT 5 connection): for a publish, a connect and a
 * disconnect. */
void pr_send_callbacks(const gw_pub_t *pub, MQTTAsync_responseOptions *ro);
void pr_connect_callbacks(const gw_pub_t *pub, MQTTAsync_connectOptions *co);
void pr_disconnect_callbacks(const gw_pub_t *pub, MQTTAsync_disconnectOptions *dopt);

/* --- pubin.c: messages that come in --------------------------------------- */

/* Loop thread: subscribes the current client to the topic set. */
void pr_subscribe(gw_pub_t *pub);
/* Loop thread: hands what arrived to on_message, in order. */
void pr_inbound_deliver(gw_pub_t *pub);
/* Loop thread: frees what arrived and was not delivered. */
void pr_inbound_fini(gw_pub_t *pub);

/* For MQTTAsync_setCallbacks() and the TLS options. */
void pr_on_lost(void *context, char *cause);
int pr_on_message(void *context, char *topic, int topic_len, MQTTAsync_message *m);
int pr_on_ssl_error(const char *str, size_t len, void *u);

#endif

/*
 * The MQTT publisher: moves messages from the outbox to the broker with Paho
 * MQTTAsync and reports confirmations back to the outbox.
 *
 * Paho runs its own threads. Its callbacks only push a small event into a
 * mutex-guarded queue and wake the loop; everything else, including every
 * outbox call, happens on the loop thread. Paho's own offline buffer is off:
 * the outbox is the only buffer.
 *
 * The publisher owns its reconnect loop (Paho's automatic reconnect is off):
 * after a failed connect or a lost connection it waits a jittered, doubling
 * delay between reconnect_min and reconnect_max, then connects again, and
 * every message that was in flight goes back to the outbox queue.
 *
 * Several publishers may exist at once (a reload creates the next before
 * the current one has stopped); only a started one sends.
 */
#ifndef GW_PUBLISHER_H
#define GW_PUBLISHER_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/loop.h"
#include "gateway/outbox.h"

typedef struct {
    const char *uri;
    const char *client_id;
    const char *username; /* NULL: none */
    const char *password; /* NULL: none; copied, never logged */
    uint64_t keepalive_ms;
    uint64_t reconnect_min_ms;
    uint64_t reconnect_max_ms;
    unsigned max_inflight;
    const char *status_topic; /* retained "online", and "offline" as last will */
    int version;              /* 4 (MQTT 3.1.1) or 5 */
    bool tls;                 /* ssl:// or mqtts:// */
    const char *ca_file;      /* NULL: the system's trust store */
    const char *cert_file;    /* client certificate or NULL */
    const char *key_file;     /* its private key or NULL */
    bool verify;              /* server certificate and host name */
} gw_pub_opts_t;

/* Payloads longer than this are not kept: the message arrives marked
 * too_big, without its payload. */
#define GW_INBOUND_PAYLOAD_MAX (64u * 1024u)

/* Messages received and not yet handed to the loop; more are dropped and
 * counted (inbound_dropped). */
#define GW_INBOUND_QUEUE_MAX 1024u

/* A message that arrived on one of the subscribed topics, as the loop sees
 * it; valid during the on_message call only. */
typedef struct {
    const char *topic;
    const char *payload; /* NUL-terminated; NULL when too_big */
    size_t payload_len;
    bool too_big;
    int qos;
    bool retained;
    bool dup;
    uint64_t received_ms; /* gw_clock_now_ms() when Paho handed it over */
    /* MQTT 5 only (else NULL / 0 / -1): */
    const char *response_topic;
    const uint8_t *correlation;
    size_t correlation_len;
    int64_t expiry_s; /* message expiry interval left, -1: none */
} gw_inbound_t;

typedef void (*gw_inbound_cb)(void *arg, const gw_inbound_t *m);

typedef struct {
    uint64_t connects;        /* successful connections */
    uint64_t connect_fails;   /* failed attempts */
    uint64_t lost;            /* connections lost */
    uint64_t sent;            /* messages handed to the client library */
    uint64_t renewed;         /* reconnects that needed a new Paho client */
    int64_t paho_heap;        /* bytes Paho's own heap holds, -1: not tracked */
    uint64_t received;        /* messages that arrived on subscribed topics */
    uint64_t inbound_dropped; /* ... dropped: the queue to the loop was full */
    uint64_t subscribes;      /* subscriptions the broker granted */
    uint64_t subscribe_fails; /* ... and refused (or that failed) */
} gw_pub_stats_t;

typedef struct gw_pub gw_pub_t;

/* Creates the client (no I/O yet); copies the options' strings. Returns NULL
 * with errno set (ELIBACC: the Paho library cannot be loaded). */
gw_pub_t *gw_pub_new(gw_loop_t *loop, gw_outbox_t *ob, const gw_pub_opts_t *opts);

/* Takes the loop's wake callback and starts connecting. 0 or -EALREADY. */
int gw_pub_start(gw_pub_t *pub);

/* Hands queued messages to the client while connected and below the in-flight
 * limit. Called at the end of every loop iteration. */
void gw_pub_flush(gw_pub_t *pub);

/*
 * Whether confirmations may wait for the loop's next wake-up (at most
 * ACK_LAZY_MS after the last iteration) instead of waking it: true while
 * nothing waits for them (no message queued behind the window, nothing
 * spooled, no drain). At a modest rate this saves a wake-up of the loop per
 * batch of messages. Off by default.
 */
void gw_pub_lazy_acks(gw_pub_t *pub, bool lazy);

bool gw_pub_connected(const gw_pub_t *pub);

/* Publishes a message outside the outbox (stats): only while connected,
 * never queued, never retried. 0, -ENOTCONN or -GW_EMQTT. */
int gw_pub_publish(gw_pub_t *pub, const char *topic, const char *payload, int qos, bool retain);

/* Stops sending, publishes the retained "offline" status (a clean
 * disconnect suppresses the last will), then disconnects; done() runs on the
 * loop thread once that has finished or timeout_ms passed, never inside this
 * call. Messages the client still holds stay in flight and may yet be
 * confirmed; the caller counts what is left. Calling it again while a stop
 * is under way, or after it finished, only replaces done() (which then runs
 * once, when the stop finishes or at once). */
void gw_pub_stop(gw_pub_t *pub, uint64_t timeout_ms, void (*done)(void *arg), void *arg);

/* Stops sending and gives every message the publisher holds back to the
 * outbox's queue, in order; confirmations that come for them later are
 * stale and ignored. After this the caller may free any message. Returns how
 * many went back. */
size_t gw_pub_take_back(gw_pub_t *pub);

/*
 * Subscribes to `topics` (exact names or filters, QoS 2, so a command is
 * delivered once per connection) on every connection, and hands each
 * message that arrives on them to on_message, on the loop thread, in
 * arrival order. Once, before gw_pub_start() (a reload makes a new
 * publisher): Paho's threads read the set. The topics are copied. 0,
 * -EALREADY or -ENOMEM.
 */
int gw_pub_subscribe(gw_pub_t *pub, const char *const *topics, size_t n, gw_inbound_cb on_message,
                     void *arg);

void gw_pub_stats(const gw_pub_t *pub, gw_pub_stats_t *out);

/* Destroys the client. NULL-safe. */
void gw_pub_free(gw_pub_t *pub);

#endif

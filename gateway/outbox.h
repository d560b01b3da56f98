/*
 * The outbox: the bounded queue between the adapters and the MQTT publisher.
 *
 * Contract (docs/outbox.md has the full policy):
 * - Bounded by a message count (capacity) and a byte budget (max_bytes); both
 *   count queued and in-flight messages, since both hold memory.
 * - A message leaves only when its delivery is confirmed (gw_outbox_ack) or it
 *   is dropped for a counted reason.
 * - At most max_inflight messages are in flight. On connection loss every
 *   in-flight message goes back to the head of the queue, in its original
 *   order (gw_outbox_requeue_inflight).
 * - When a new message does not fit: queued QoS 0 messages are evicted first,
 *   oldest first; then the overflow policy applies: DROP_OLDEST evicts the
 *   oldest queued message, DROP_NEWEST refuses the new one, BLOCK refuses it
 *   too. Nothing is evicted for a new message that is refused anyway. BLOCK
 *   also asks producers to pause (gw_outbox_blocked() is true) from the moment
 *   the outbox is full, or refuses a message for lack of bytes, until it
 *   drains to the low watermark, so with BLOCK a producer that checks before
 *   producing never loses a reading to the message limit (the byte budget can
 *   refuse one message first, since sizes vary).
 *   Drops are counted with reason "overflow" (or "qos0_evicted").
 * - Conservation at every moment:
 *   produced == delivered + sum(dropped[reason]) + queued + in_flight + moved.
 *
 * Not thread-safe: every function runs on the loop thread.
 */
#ifndef GW_OUTBOX_H
#define GW_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    GW_OVERFLOW_DROP_OLDEST = 0,
    GW_OVERFLOW_DROP_NEWEST,
    GW_OVERFLOW_BLOCK,
} gw_overflow_t;

typedef enum {
    GW_DROP_OVERFLOW = 0, /* the overflow policy dropped it */
    GW_DROP_QOS0,         /* a QoS 0 message evicted to make room */
    GW_DROP_TOO_BIG,      /* larger than max_bytes on its own */
    GW_DROP_REJECTED,     /* the MQTT client refused it permanently */
    GW_DROP_SHUTDOWN,     /* still queued when the shutdown timeout ran out */
    GW_DROP_NREASONS
} gw_drop_reason_t;

/* Stable, lower-case name of a reason ("overflow", "qos0_evicted", ...). */
const char *gw_drop_reason_name(gw_drop_reason_t reason);

/* One message. The outbox owns it; others read it and must not keep the
 * pointer past the next call that may free it (ack, drop, push, free). */
typedef struct gw_msg {
    struct gw_msg *prev, *next; /* private: queue or in-flight list links */
    uint64_t id;                /* unique, increasing in production order */
    uint64_t origin;            /* caller's tag (the spool record + 1), 0: none */
    uint64_t send;              /* the number of its current send (gw_outbox_mark_inflight) */
    uint32_t topic_len;
    uint32_t payload_len;
    uint8_t qos;
    bool retain;
    bool inflight;     /* private */
    bool resend;       /* private: given back from flight; its next send is a re-send */
    bool pooled;       /* private: from the outbox's gw_pool_t, else malloc */
    uint16_t corr_len; /* MQTT 5 correlation data after the payload: gw_msg_corr() */
    char *topic;       /* NUL-terminated, points into data */
    char *payload;     /* NUL-terminated, points into data */
    char data[];
} gw_msg_t;

typedef struct {
    size_t capacity;     /* messages, >= 1 */
    size_t max_bytes;    /* bytes of topic + payload, >= 1 */
    size_t max_inflight; /* >= 1 */
    gw_overflow_t overflow;
    /* BLOCK: producers resume once queued + in flight <= low_watermark.
     * 0 means capacity / 2 (and max_bytes / 2 for bytes). */
    size_t low_watermark;
} gw_outbox_opts_t;

typedef struct {
    uint64_t produced;
    uint64_t delivered;
    uint64_t dropped[GW_DROP_NREASONS];
    uint64_t dropped_total;
    size_t queued;
    size_t in_flight;
    size_t bytes;        /* queued + in flight */
    uint64_t moved;      /* handed over by gw_outbox_move_queued */
    uint64_t requeued;   /* sends of messages given back from flight (re-sent) */
    uint64_t stale_acks; /* acks for messages no longer in flight */
} gw_outbox_stats_t;

typedef struct gw_outbox gw_outbox_t;

/* Returns NULL on ENOMEM or invalid options (errno set). */
gw_outbox_t *gw_outbox_new(const gw_outbox_opts_t *opts);
/* Frees every message still held (without counting them). NULL-safe. */
void gw_outbox_free(gw_outbox_t *ob);

/*
 * Offers a message; the outbox copies topic and payload. Always counts it as
 * produced. Returns 0 if queued, -ENOBUFS if it was dropped (the reason is
 * counted), -ENOMEM if memory ran out (counted as dropped, reason overflow).
 * Invalid arguments (qos outside 0..2, a NULL pointer with a non-zero length)
 * are not a message: -EINVAL, nothing counted.
 */
int gw_outbox_push(gw_outbox_t *ob, const char *topic, size_t topic_len, const char *payload,
                   size_t payload_len, int qos, bool retain);

/* gw_outbox_push() of a message that carries MQTT 5 correlation data
 * (corr_len bytes, at most 65535), published with it: a command's result
 * to its Response Topic. */
int gw_outbox_push_corr(gw_outbox_t *ob, const char *topic, size_t topic_len, const char *payload,
                        size_t payload_len, int qos, bool retain, const void *corr,
                        size_t corr_len);

/* The correlation data of m (m->corr_len bytes). */
static inline const unsigned char *gw_msg_corr(const gw_msg_t *m)
{
    return (const unsigned char *)m->payload + m->payload_len + 1;
}

/* gw_outbox_push() that tags the message with origin (non-zero), handed
 * back to the release callback when the message leaves the outbox. */
int gw_outbox_push_origin(gw_outbox_t *ob, const char *topic, size_t topic_len, const char *payload,
                          size_t payload_len, int qos, bool retain, uint64_t origin);

/* Called for every tagged message (origin != 0) as it leaves the outbox:
 * delivered, dropped for any reason, or moved out by gw_outbox_move_queued.
 * Not called by gw_outbox_free(). */
void gw_outbox_on_release(gw_outbox_t *ob, void (*cb)(void *arg, const gw_msg_t *m), void *arg);

/* Hands every queued (not in-flight) message to cb, oldest first, then
 * removes them. They are counted as moved (stats.moved), not dropped: the
 * caller took charge of them (the spool at shutdown). Returns how many. */
size_t gw_outbox_move_queued(gw_outbox_t *ob, void (*cb)(void *arg, const gw_msg_t *m), void *arg);

/* The oldest queued message that is not in flight, or NULL when the queue is
 * empty or max_inflight messages are already in flight. */
gw_msg_t *gw_outbox_next(gw_outbox_t *ob);

/* Marks the message returned by gw_outbox_next() as in flight and gives it a
 * new send number (msg->send), unique in this outbox: a confirmation names the
 * message by id and send, so one that comes for an earlier send of a message
 * sent again is recognised as stale. */
void gw_outbox_mark_inflight(gw_outbox_t *ob, gw_msg_t *msg);

/* True when the message with this id is in flight as this send. */
bool gw_outbox_is_current(const gw_outbox_t *ob, uint64_t id, uint64_t send);

/* The send number of the in-flight message with this id, 0 if none. */
uint64_t gw_outbox_send_of(const gw_outbox_t *ob, uint64_t id);

/* Delivery confirmed for send `send` of the in-flight message with this id:
 * it is counted as delivered and freed. Returns 0, or -ENOENT (counted as a
 * stale ack) when no message is in flight as that id and send. */
int gw_outbox_ack(gw_outbox_t *ob, uint64_t id, uint64_t send);

/* Drops the in-flight message with this id and send for a reason. 0 or
 * -ENOENT (-EINVAL for a reason outside the enum). */
int gw_outbox_fail(gw_outbox_t *ob, uint64_t id, uint64_t send, gw_drop_reason_t reason);

/* A message that was produced but could not be made into one (its payload
 * did not fit the encoder): counted as produced and dropped for reason. */
void gw_outbox_refuse(gw_outbox_t *ob, gw_drop_reason_t reason);

/* Connection lost: every in-flight message goes back to the head of the
 * queue, oldest first, ahead of everything queued; each counts as re-sent
 * (stats.requeued) when it is sent again. Returns how many. */
size_t gw_outbox_requeue_inflight(gw_outbox_t *ob);

/* One in-flight message that was never sent goes back to the queue, in id
 * order (ahead of everything newer); its next send is not a re-send. 0 or
 * -ENOENT. */
int gw_outbox_requeue(gw_outbox_t *ob, uint64_t id);

/* Drops every queued (not in-flight) message for a reason. Returns how many. */
size_t gw_outbox_drop_queued(gw_outbox_t *ob, gw_drop_reason_t reason);

/* True while producers should pause (see the contract above). */
bool gw_outbox_blocked(const gw_outbox_t *ob);

/* Called once each time the outbox leaves the blocked state (producers
 * resume). */
void gw_outbox_on_unblock(gw_outbox_t *ob, void (*cb)(void *arg), void *arg);

/* True when nothing is queued or in flight. */
bool gw_outbox_empty(const gw_outbox_t *ob);

/* Messages in flight (stats.in_flight without copying the stats). */
size_t gw_outbox_in_flight(const gw_outbox_t *ob);

void gw_outbox_stats(const gw_outbox_t *ob, gw_outbox_stats_t *out);

/* Tests: an empty outbox carries on as if n more messages had been produced,
 * sent once and delivered (produced, delivered, ids and send numbers all
 * advance by n; the counts still add up), so that ids, send numbers and
 * counters can be taken past 2^32 without 2^32 messages. 0, or -EBUSY when
 * anything is queued or in flight. */
int gw_outbox_fast_forward(gw_outbox_t *ob, uint64_t n);

#endif

/*
 * The outbox: a bounded queue of MQTT messages with in-flight tracking.
 *
 * Each message is one allocation (header, topic, NUL, payload, NUL) and sits on
 * exactly one of two intrusive doubly linked lists through its prev/next links:
 * the queue, in production order, or the in-flight list, in send order. Messages
 * only enter the in-flight list from the head of the queue and only go back to
 * the head of the queue, so every in-flight message is older than every queued
 * one and the queue is always sorted by id. That is what lets a requeue after a
 * connection loss replay messages in their original order.
 *
 * QoS 0 messages are evicted first, oldest first. Rather than a second list
 * (which would need two more pointers in every message), the outbox keeps a
 * cursor on the oldest queued QoS 0 message. Queued messages only ever leave
 * from the head (sent or evicted by DROP_OLDEST) or at the cursor (evicted as
 * QoS 0), and new ones only arrive at the tail or, on a requeue, before the
 * head. So the cursor moves forward by scanning from the message that left, a
 * requeue only has to scan the messages it puts back, and each message is
 * scanned over at most once per trip through the queue: O(1) amortized.
 *
 * Message ids are the value of the produced counter when the message was
 * offered (1, 2, 3, ...), so a gap in the ids handed out means a drop.
 */
#include "gateway/outbox.h"

#include "gateway/msgpool.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    gw_msg_t *head, *tail;
} msg_list_t;

struct gw_outbox {
    gw_outbox_opts_t opts;
    size_t low_count; /* BLOCK: resume when queued + in flight <= this */
    size_t low_bytes; /* ... and bytes <= this */
    msg_list_t queue; /* not in flight, production (= id) order */
    msg_list_t sent;  /* in flight, send (= id) order */
    gw_msg_t *qos0;   /* oldest queued QoS 0 message, or NULL if none */
    size_t qos0_count;
    size_t qos0_bytes;
    size_t sent_bytes; /* in flight part of st.bytes */
    bool blocked;
    void (*unblock_cb)(void *arg);
    void *unblock_arg;
    void (*release_cb)(void *arg, const gw_msg_t *m);
    void *release_arg;
    gw_outbox_stats_t st; /* every counter, kept live */
    gw_pool_t *pool;      /* message memory; see msgpool.h */
    uint64_t sends;       /* the last send number given out */
};

static const char *const reason_names[GW_DROP_NREASONS] = {
    [GW_DROP_OVERFLOW] = "overflow", [GW_DROP_QOS0] = "qos0_evicted", [GW_DROP_TOO_BIG] = "too_big",
    [GW_DROP_REJECTED] = "rejected", [GW_DROP_SHUTDOWN] = "shutdown",
};

const char *gw_drop_reason_name(gw_drop_reason_t reason)
{
    if ((unsigned)reason >= GW_DROP_NREASONS)
        return "unknown";
    return reason_names[reason];
}

/* ---- lists ---- */

static void list_append(msg_list_t *l, gw_msg_t *m)
{
    m->next = NULL;
    m->prev = l->tail;
    if (l->tail)
        l->tail->next = m;
    else
        l->head = m;
    l->tail = m;
}

static void list_unlink(msg_list_t *l, gw_msg_t *m)
{
    if (m == l->head)
        l->head = m->next;
    else
        m->prev->next = m->next;
    if (m == l->tail)
        l->tail = m->prev;
    else
        m->next->prev = m->prev;
    m->prev = m->next = NULL;
}

static void msg_free(gw_msg_t *m)
{
    if (m->pooled)
        gw_pool_free(m);
    else
        free(m);
}

static void list_free(msg_list_t *l)
{
    gw_msg_t *m = l->head;

    while (m) {
        gw_msg_t *next = m->next;
        msg_free(m);
        m = next;
    }
    l->head = l->tail = NULL;
}

static size_t msg_size(const gw_msg_t *m)
{
    return (size_t)m->topic_len + m->payload_len;
}

/* ---- life cycle ---- */

static bool opts_valid(const gw_outbox_opts_t *o)
{
    if (!o || o->capacity == 0 || o->max_bytes == 0 || o->max_inflight == 0)
        return false;
    if ((unsigned)o->overflow > GW_OVERFLOW_BLOCK)
        return false;
    /* A watermark at or above capacity would never be left "below". */
    return o->low_watermark < o->capacity;
}

/* The byte watermark follows the message watermark in proportion, so an
 * explicit low_watermark of capacity / 2 means the same as the default. */
static void set_watermarks(gw_outbox_t *ob)
{
    const gw_outbox_opts_t *o = &ob->opts;

    if (o->low_watermark == 0) {
        ob->low_count = o->capacity / 2;
        ob->low_bytes = o->max_bytes / 2;
        return;
    }
    ob->low_count = o->low_watermark;
    /* max_bytes * lw / capacity without overflowing size_t. */
    ob->low_bytes = o->max_bytes / o->capacity * o->low_watermark +
                    o->max_bytes % o->capacity * o->low_watermark / o->capacity;
}

gw_outbox_t *gw_outbox_new(const gw_outbox_opts_t *opts)
{
    gw_outbox_t *ob;

    if (!opts_valid(opts)) {
        errno = EINVAL;
        return NULL;
    }
    ob = calloc(1, sizeof(*ob));
    if (!ob)
        return NULL; /* errno is ENOMEM */
    ob->opts = *opts;
    set_watermarks(ob);
    /* Room for twice what a full outbox holds, so that blocks kept alive by
     * a few old messages do not send every new one to malloc. */
    ob->pool = gw_pool_new(2 * (opts->max_bytes / GW_POOL_BLOCK +
                                opts->capacity / (GW_POOL_BLOCK / sizeof(gw_msg_t))) +
                           4);
    if (!ob->pool) {
        free(ob);
        return NULL;
    }
    return ob;
}

void gw_outbox_free(gw_outbox_t *ob)
{
    if (!ob)
        return;
    list_free(&ob->queue);
    list_free(&ob->sent);
    gw_pool_destroy(ob->pool);
    free(ob);
}

/* ---- the queue and its QoS 0 cursor ---- */

static gw_msg_t *find_qos0(gw_msg_t *from)
{
    while (from && from->qos != 0)
        from = from->next;
    return from;
}

static void queue_append(gw_outbox_t *ob, gw_msg_t *m)
{
    list_append(&ob->queue, m);
    ob->st.queued++;
    ob->st.bytes += msg_size(m);
    if (m->qos != 0)
        return;
    /* Everything queued is older, so the cursor only moves if it was unset. */
    if (!ob->qos0)
        ob->qos0 = m;
    ob->qos0_count++;
    ob->qos0_bytes += msg_size(m);
}

/* Takes a message off the queue (the caller frees it or sends it). */
static void queue_unlink(gw_outbox_t *ob, gw_msg_t *m)
{
    /* Only the head or the cursor leave the queue, and nothing older than
     * the cursor is QoS 0, so a QoS 0 message leaving is the cursor. */
    assert(m->qos != 0 || m == ob->qos0);
    if (m == ob->qos0)
        ob->qos0 = find_qos0(m->next);
    if (m->qos == 0) {
        ob->qos0_count--;
        ob->qos0_bytes -= msg_size(m);
    }
    list_unlink(&ob->queue, m);
    ob->st.queued--;
    ob->st.bytes -= msg_size(m);
}

static void count_drop(gw_outbox_t *ob, gw_drop_reason_t reason)
{
    ob->st.dropped[reason]++;
    ob->st.dropped_total++;
}

/* Every message that leaves the outbox (but at gw_outbox_free) goes here. */
static void release(gw_outbox_t *ob, gw_msg_t *m)
{
    if (m->origin && ob->release_cb)
        ob->release_cb(ob->release_arg, m);
    msg_free(m);
}

void gw_outbox_on_release(gw_outbox_t *ob, void (*cb)(void *arg, const gw_msg_t *m), void *arg)
{
    ob->release_cb = cb;
    ob->release_arg = arg;
}

static void evict(gw_outbox_t *ob, gw_msg_t *m, gw_drop_reason_t reason)
{
    queue_unlink(ob, m);
    count_drop(ob, reason);
    release(ob, m);
}

/* ---- blocking ---- */

static bool is_full(const gw_outbox_t *ob)
{
    return ob->st.queued + ob->st.in_flight >= ob->opts.capacity ||
           ob->st.bytes >= ob->opts.max_bytes;
}

/* Called after anything that removed messages. The callback runs last, with
 * the outbox consistent, so it may push straight away. */
static void maybe_unblock(gw_outbox_t *ob)
{
    if (!ob->blocked)
        return;
    if (ob->st.queued + ob->st.in_flight > ob->low_count || ob->st.bytes > ob->low_bytes)
        return;
    ob->blocked = false;
    if (ob->unblock_cb)
        ob->unblock_cb(ob->unblock_arg);
}

bool gw_outbox_blocked(const gw_outbox_t *ob)
{
    return ob->blocked;
}

void gw_outbox_on_unblock(gw_outbox_t *ob, void (*cb)(void *arg), void *arg)
{
    ob->unblock_cb = cb;
    ob->unblock_arg = arg;
}

/* ---- push ---- */

/* Room for one more message of this size, counting queued and in flight. The
 * caller has checked size <= max_bytes and the outbox keeps bytes <= max_bytes,
 * so the subtraction cannot wrap. */
static bool fits(const gw_outbox_t *ob, size_t size)
{
    return ob->st.queued + ob->st.in_flight < ob->opts.capacity &&
           size <= ob->opts.max_bytes - ob->st.bytes;
}

/* Whether evicting everything the policy allows would make room. Checked
 * before evicting anything, so messages are never thrown away for a new one
 * that ends up refused anyway. */
static bool room_possible(const gw_outbox_t *ob, size_t size)
{
    size_t count = ob->st.queued + ob->st.in_flight;
    size_t bytes = ob->st.bytes;

    if (ob->opts.overflow == GW_OVERFLOW_DROP_OLDEST) {
        count = ob->st.in_flight; /* every queued message may go */
        bytes = ob->sent_bytes;
    } else {
        count -= ob->qos0_count; /* only queued QoS 0 messages may go */
        bytes -= ob->qos0_bytes;
    }
    return count < ob->opts.capacity && size <= ob->opts.max_bytes - bytes;
}

/* Oldest QoS 0 first, then (only reachable with DROP_OLDEST, thanks to
 * room_possible) the oldest queued message. */
static void make_room(gw_outbox_t *ob, size_t size)
{
    while (!fits(ob, size)) {
        if (ob->qos0)
            evict(ob, ob->qos0, GW_DROP_QOS0);
        else
            evict(ob, ob->queue.head, GW_DROP_OVERFLOW);
    }
}

static int refuse(gw_outbox_t *ob, gw_drop_reason_t reason)
{
    count_drop(ob, reason);
    /* A refusal under BLOCK means the outbox is full for this producer even
     * if the count is not at capacity (the byte budget ran out first). */
    if (ob->opts.overflow == GW_OVERFLOW_BLOCK && reason == GW_DROP_OVERFLOW)
        ob->blocked = true;
    return -ENOBUFS;
}

static gw_msg_t *msg_new(gw_outbox_t *ob, uint64_t id, const char *topic, size_t topic_len,
                         const char *payload, size_t payload_len, size_t corr_len)
{
    size_t size = topic_len + payload_len + corr_len;
    gw_msg_t *m;
    bool pooled = true;

    if (size > SIZE_MAX - sizeof(*m) - 2)
        return NULL;
    m = gw_pool_alloc(ob->pool, sizeof(*m) + size + 2);
    if (!m) {
        pooled = false;
        m = malloc(sizeof(*m) + size + 2);
        if (!m)
            return NULL;
    }
    memset(m, 0, sizeof(*m));
    m->pooled = pooled;
    m->id = id;
    m->topic_len = (uint32_t)topic_len;
    m->payload_len = (uint32_t)payload_len;
    m->topic = m->data;
    m->payload = m->data + topic_len + 1;
    if (topic_len)
        memcpy(m->topic, topic, topic_len);
    m->topic[topic_len] = '\0';
    if (payload_len)
        memcpy(m->payload, payload, payload_len);
    m->payload[payload_len] = '\0';
    return m;
}

static bool too_big(const gw_outbox_t *ob, size_t topic_len, size_t payload_len)
{
    if (topic_len > UINT32_MAX || payload_len > UINT32_MAX)
        return true;
    return payload_len > ob->opts.max_bytes || topic_len > ob->opts.max_bytes - payload_len;
}

int gw_outbox_push(gw_outbox_t *ob, const char *topic, size_t topic_len, const char *payload,
                   size_t payload_len, int qos, bool retain)
{
    return gw_outbox_push_corr(ob, topic, topic_len, payload, payload_len, qos, retain, NULL, 0);
}

int gw_outbox_push_corr(gw_outbox_t *ob, const char *topic, size_t topic_len, const char *payload,
                        size_t payload_len, int qos, bool retain, const void *corr, size_t corr_len)
{
    gw_msg_t *m;

    /* Not a message at all: refused before it is counted. */
    if (!ob || (!topic && topic_len) || (!payload && payload_len) || qos < 0 || qos > 2 ||
        (!corr && corr_len) || corr_len > UINT16_MAX)
        return -EINVAL;
    ob->st.produced++;
    if (too_big(ob, topic_len, payload_len))
        return refuse(ob, GW_DROP_TOO_BIG);
    if (!room_possible(ob, topic_len + payload_len))
        return refuse(ob, GW_DROP_OVERFLOW);
    /* Allocate before evicting so running out of memory loses one message. */
    m = msg_new(ob, ob->st.produced, topic, topic_len, payload, payload_len, corr_len);
    if (!m) {
        count_drop(ob, GW_DROP_OVERFLOW);
        return -ENOMEM;
    }
    m->corr_len = (uint16_t)corr_len;
    if (corr_len)
        memcpy(m->payload + payload_len + 1, corr, corr_len);
    m->qos = (uint8_t)qos;
    m->retain = retain;
    make_room(ob, msg_size(m));
    queue_append(ob, m);
    if (ob->opts.overflow == GW_OVERFLOW_BLOCK && is_full(ob))
        ob->blocked = true;
    return 0;
}

/* ---- sending ---- */

gw_msg_t *gw_outbox_next(gw_outbox_t *ob)
{
    if (ob->st.in_flight >= ob->opts.max_inflight)
        return NULL;
    return ob->queue.head;
}

void gw_outbox_mark_inflight(gw_outbox_t *ob, gw_msg_t *msg)
{
    /* Only the message next() returned may go: sending from anywhere else
     * would break the id order a requeue relies on. A caller bug, so it is
     * caught in debug builds and refused in release builds. */
    if (!msg || msg != gw_outbox_next(ob)) {
        assert(!"gw_outbox_mark_inflight: not the message gw_outbox_next returned");
        return;
    }
    queue_unlink(ob, msg);
    list_append(&ob->sent, msg);
    msg->inflight = true;
    msg->send = ++ob->sends;
    if (msg->resend) {
        msg->resend = false;
        ob->st.requeued++;
    }
    ob->st.in_flight++;
    ob->st.bytes += msg_size(msg); /* queue_unlink took it off the total */
    ob->sent_bytes += msg_size(msg);
}

/* Acks usually arrive in send order, so the scan from the head usually
 * stops at the first message. */
static gw_msg_t *find_sent(const gw_outbox_t *ob, uint64_t id)
{
    gw_msg_t *m = ob->sent.head;

    while (m && m->id != id)
        m = m->next;
    return m;
}

static void sent_remove(gw_outbox_t *ob, gw_msg_t *m)
{
    list_unlink(&ob->sent, m);
    ob->st.in_flight--;
    ob->st.bytes -= msg_size(m);
    ob->sent_bytes -= msg_size(m);
    release(ob, m);
}

/* The in-flight message with this id, if it is in flight as this send. */
static gw_msg_t *find_send(const gw_outbox_t *ob, uint64_t id, uint64_t send)
{
    gw_msg_t *m = find_sent(ob, id);

    return m && m->send == send ? m : NULL;
}

bool gw_outbox_is_current(const gw_outbox_t *ob, uint64_t id, uint64_t send)
{
    return find_send(ob, id, send) != NULL;
}

uint64_t gw_outbox_send_of(const gw_outbox_t *ob, uint64_t id)
{
    gw_msg_t *m = find_sent(ob, id);

    return m ? m->send : 0;
}

int gw_outbox_ack(gw_outbox_t *ob, uint64_t id, uint64_t send)
{
    gw_msg_t *m = find_send(ob, id, send);

    if (!m) {
        ob->st.stale_acks++;
        return -ENOENT;
    }
    sent_remove(ob, m);
    ob->st.delivered++;
    maybe_unblock(ob);
    return 0;
}

int gw_outbox_fail(gw_outbox_t *ob, uint64_t id, uint64_t send, gw_drop_reason_t reason)
{
    gw_msg_t *m;

    if ((unsigned)reason >= GW_DROP_NREASONS)
        return -EINVAL;
    m = find_send(ob, id, send);
    if (!m)
        return -ENOENT;
    sent_remove(ob, m);
    count_drop(ob, reason);
    maybe_unblock(ob);
    return 0;
}

void gw_outbox_refuse(gw_outbox_t *ob, gw_drop_reason_t reason)
{
    ob->st.produced++;
    count_drop(ob, reason < GW_DROP_NREASONS ? reason : GW_DROP_OVERFLOW);
}

int gw_outbox_requeue(gw_outbox_t *ob, uint64_t id)
{
    gw_msg_t *m = find_sent(ob, id), *q;

    if (!m)
        return -ENOENT;
    list_unlink(&ob->sent, m);
    ob->st.in_flight--;
    ob->sent_bytes -= msg_size(m);
    m->inflight = false;
    /* Back among the queued messages in id order: usually at the head. */
    for (q = ob->queue.head; q && q->id < m->id; q = q->next)
        ;
    m->next = q;
    m->prev = q ? q->prev : ob->queue.tail;
    if (m->prev)
        m->prev->next = m;
    else
        ob->queue.head = m;
    if (q)
        q->prev = m;
    else
        ob->queue.tail = m;
    ob->st.queued++;
    if (m->qos == 0) {
        ob->qos0_count++;
        ob->qos0_bytes += msg_size(m);
        if (!ob->qos0 || ob->qos0->id > m->id)
            ob->qos0 = m;
    }
    return 0;
}

size_t gw_outbox_requeue_inflight(gw_outbox_t *ob)
{
    gw_msg_t *first = ob->sent.head, *m;
    size_t n = ob->st.in_flight;

    if (!first)
        return 0;
    for (m = first; m; m = m->next) {
        m->inflight = false;
        m->resend = true;
    }
    /* Every in-flight message is older than every queued one: the oldest
     * QoS 0 message put back, if any, becomes the new cursor. */
    m = find_qos0(first);
    if (m)
        ob->qos0 = m;
    for (; m; m = find_qos0(m->next)) {
        ob->qos0_count++;
        ob->qos0_bytes += msg_size(m);
    }
    /* Splice the whole in-flight list in front of the queue. */
    ob->sent.tail->next = ob->queue.head;
    if (ob->queue.head)
        ob->queue.head->prev = ob->sent.tail;
    else
        ob->queue.tail = ob->sent.tail;
    ob->queue.head = first;
    ob->sent.head = ob->sent.tail = NULL;
    ob->st.queued += n;
    ob->st.in_flight = 0;
    ob->sent_bytes = 0;
    return n;
}

/* Empties the queue (not the in-flight list), handing each message to cb
 * first when given. Returns how many there were. */
static size_t clear_queue(gw_outbox_t *ob, void (*cb)(void *arg, const gw_msg_t *m), void *arg)
{
    size_t n = ob->st.queued;

    for (gw_msg_t *m = ob->queue.head, *next; m; m = next) {
        next = m->next;
        if (cb)
            cb(arg, m);
        release(ob, m);
    }
    ob->queue.head = ob->queue.tail = NULL;
    ob->st.bytes = ob->sent_bytes;
    ob->st.queued = 0;
    ob->qos0 = NULL;
    ob->qos0_count = 0;
    ob->qos0_bytes = 0;
    return n;
}

size_t gw_outbox_drop_queued(gw_outbox_t *ob, gw_drop_reason_t reason)
{
    size_t n;

    if ((unsigned)reason >= GW_DROP_NREASONS) {
        assert(!"gw_outbox_drop_queued: invalid reason");
        return 0;
    }
    n = clear_queue(ob, NULL, NULL);
    ob->st.dropped[reason] += n;
    ob->st.dropped_total += n;
    maybe_unblock(ob);
    return n;
}

size_t gw_outbox_move_queued(gw_outbox_t *ob, void (*cb)(void *arg, const gw_msg_t *m), void *arg)
{
    size_t n = clear_queue(ob, cb, arg);

    ob->st.moved += n;
    maybe_unblock(ob);
    return n;
}

int gw_outbox_push_origin(gw_outbox_t *ob, const char *topic, size_t topic_len, const char *payload,
                          size_t payload_len, int qos, bool retain, uint64_t origin)
{
    int rc = gw_outbox_push(ob, topic, topic_len, payload, payload_len, qos, retain);

    if (rc == 0)
        ob->queue.tail->origin = origin; /* push appends to the queue */
    return rc;
}

int gw_outbox_fast_forward(gw_outbox_t *ob, uint64_t n)
{
    if (!gw_outbox_empty(ob))
        return -EBUSY;
    ob->st.produced += n;
    ob->st.delivered += n;
    ob->sends += n;
    return 0;
}

size_t gw_outbox_in_flight(const gw_outbox_t *ob)
{
    return ob->st.in_flight;
}

bool gw_outbox_empty(const gw_outbox_t *ob)
{
    return ob->st.queued == 0 && ob->st.in_flight == 0;
}

void gw_outbox_stats(const gw_outbox_t *ob, gw_outbox_stats_t *out)
{
    *out = ob->st;
}

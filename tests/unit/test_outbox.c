/*
 * Unit tests for gateway/outbox.c.
 *
 * Scripted tests pin down each rule of the contract with exact counts and
 * contents (every payload is "m<label>", so the survivors of an eviction can be
 * named). A randomized test then runs thousands of operations under each
 * policy against a small reference model and compares every counter, the
 * blocked state and the next message after every single operation.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/outbox.h"
#include "suites.h"

static const gw_overflow_t policies[] = {GW_OVERFLOW_DROP_OLDEST, GW_OVERFLOW_DROP_NEWEST,
                                         GW_OVERFLOW_BLOCK};

static gw_outbox_t *mk(size_t cap, size_t max_bytes, size_t max_inflight, gw_overflow_t ov,
                       size_t low_watermark)
{
    gw_outbox_opts_t o = {cap, max_bytes, max_inflight, ov, low_watermark};
    gw_outbox_t *ob = gw_outbox_new(&o);

    CU_ASSERT_PTR_NOT_NULL_FATAL(ob);
    return ob;
}

static gw_outbox_stats_t stats(const gw_outbox_t *ob)
{
    gw_outbox_stats_t s;

    gw_outbox_stats(ob, &s);
    return s;
}

static int conserved(const gw_outbox_t *ob)
{
    gw_outbox_stats_t s = stats(ob);
    uint64_t sum = 0;

    for (int r = 0; r < GW_DROP_NREASONS; r++)
        sum += s.dropped[r];
    return sum == s.dropped_total &&
           s.produced == s.delivered + s.dropped_total + s.queued + s.in_flight + s.moved;
}

/* Topic "t" (1 byte) and payload "m<label>" padded with '.' to pad bytes. */
static int push_l(gw_outbox_t *ob, unsigned label, int qos, size_t pad)
{
    char p[256];
    int n = snprintf(p, sizeof(p), "m%u", label);

    if (pad > (size_t)n) {
        memset(p + n, '.', pad - (size_t)n);
        n = (int)pad;
    }
    return gw_outbox_push(ob, "t", 1, p, (size_t)n, qos, false);
}

/* Confirms the current send of the in-flight message with this id, as the
 * publisher does with the send number its confirmation carries. */
static int ack(gw_outbox_t *ob, uint64_t id)
{
    return gw_outbox_ack(ob, id, gw_outbox_send_of(ob, id));
}

static int fail(gw_outbox_t *ob, uint64_t id, gw_drop_reason_t reason)
{
    return gw_outbox_fail(ob, id, gw_outbox_send_of(ob, id), reason);
}

/* Hands out the next message; returns its label or 0 if there is none. */
static unsigned send(gw_outbox_t *ob)
{
    gw_msg_t *m = gw_outbox_next(ob);

    if (!m)
        return 0;
    gw_outbox_mark_inflight(ob, m);
    return (unsigned)strtoul(m->payload + 1, NULL, 10);
}

/* Sends and acks everything, one at a time; returns the labels in order,
 * as "1,2,3" (padding left out; ids are checked where they matter). */
static const char *drain(gw_outbox_t *ob)
{
    static char out[1024];
    size_t len = 0;
    gw_msg_t *m;

    out[0] = '\0';
    while ((m = gw_outbox_next(ob)) != NULL) {
        uint64_t id = m->id;
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%lu", len ? "," : "",
                                strtoul(m->payload + 1, NULL, 10));
        gw_outbox_mark_inflight(ob, m);
        if (ack(ob, id) != 0)
            return "ack failed";
    }
    return out;
}

/* ---- basics ---- */

static void test_reason_names(void)
{
    CU_ASSERT_STRING_EQUAL(gw_drop_reason_name(GW_DROP_OVERFLOW), "overflow");
    CU_ASSERT_STRING_EQUAL(gw_drop_reason_name(GW_DROP_QOS0), "qos0_evicted");
    CU_ASSERT_STRING_EQUAL(gw_drop_reason_name(GW_DROP_TOO_BIG), "too_big");
    CU_ASSERT_STRING_EQUAL(gw_drop_reason_name(GW_DROP_REJECTED), "rejected");
    CU_ASSERT_STRING_EQUAL(gw_drop_reason_name(GW_DROP_SHUTDOWN), "shutdown");
    CU_ASSERT_STRING_EQUAL(gw_drop_reason_name(GW_DROP_NREASONS), "unknown");
}

static void test_new_rejects_invalid(void)
{
    const gw_outbox_opts_t bad[] = {
        {0, 100, 1, GW_OVERFLOW_DROP_OLDEST, 0}, {4, 0, 1, GW_OVERFLOW_DROP_OLDEST, 0},
        {4, 100, 0, GW_OVERFLOW_DROP_OLDEST, 0}, {4, 100, 1, (gw_overflow_t)3, 0},
        {4, 100, 1, GW_OVERFLOW_BLOCK, 4},
    };
    gw_outbox_opts_t ok = {4, 100, 1, GW_OVERFLOW_BLOCK, 3};
    gw_outbox_t *ob;

    errno = 0;
    CU_ASSERT_PTR_NULL(gw_outbox_new(NULL));
    CU_ASSERT_EQUAL(errno, EINVAL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        CU_ASSERT_PTR_NULL(gw_outbox_new(&bad[i]));
        CU_ASSERT_EQUAL(errno, EINVAL);
    }
    ob = gw_outbox_new(&ok);
    CU_ASSERT_PTR_NOT_NULL(ob);
    CU_ASSERT_TRUE(gw_outbox_empty(ob));
    gw_outbox_free(ob);
    gw_outbox_free(NULL);
}

static void test_push_invalid_args(void)
{
    gw_outbox_t *ob = mk(4, 100, 1, GW_OVERFLOW_DROP_OLDEST, 0);
    gw_msg_t *m;

    CU_ASSERT_EQUAL(gw_outbox_push(ob, "t", 1, "p", 1, 3, false), -EINVAL);
    CU_ASSERT_EQUAL(gw_outbox_push(ob, "t", 1, "p", 1, -1, false), -EINVAL);
    CU_ASSERT_EQUAL(gw_outbox_push(ob, NULL, 2, "p", 1, 1, false), -EINVAL);
    CU_ASSERT_EQUAL(gw_outbox_push(ob, "t", 1, NULL, 1, 1, false), -EINVAL);
    CU_ASSERT_EQUAL(gw_outbox_push(NULL, "t", 1, "p", 1, 1, false), -EINVAL);
    CU_ASSERT_EQUAL(stats(ob).produced, 0);
    /* Empty topic and payload are a message, stored as "" and "". */
    CU_ASSERT_EQUAL(gw_outbox_push(ob, NULL, 0, NULL, 0, 1, false), 0);
    m = gw_outbox_next(ob);
    CU_ASSERT_PTR_NOT_NULL(m);
    if (m) {
        CU_ASSERT_STRING_EQUAL(m->topic, "");
        CU_ASSERT_STRING_EQUAL(m->payload, "");
    }
    CU_ASSERT_EQUAL(stats(ob).produced, 1);
    CU_ASSERT_EQUAL(stats(ob).bytes, 0);
    gw_outbox_free(ob);
}

static void test_message_fields(void)
{
    gw_outbox_t *ob = mk(4, 100, 4, GW_OVERFLOW_DROP_OLDEST, 0);
    gw_msg_t *m;

    /* Source buffers longer than the lengths: only len bytes are copied. */
    CU_ASSERT_EQUAL(gw_outbox_push(ob, "a/b/cXYZ", 5, "{\"v\":1}ZZZ", 7, 1, true), 0);
    CU_ASSERT_EQUAL(gw_outbox_push(ob, "q", 1, "x", 1, 2, false), 0);
    m = gw_outbox_next(ob);
    CU_ASSERT_PTR_NOT_NULL(m);
    if (!m)
        goto out;
    CU_ASSERT_EQUAL(m->id, 1);
    CU_ASSERT_EQUAL(m->topic_len, 5);
    CU_ASSERT_EQUAL(m->payload_len, 7);
    CU_ASSERT_STRING_EQUAL(m->topic, "a/b/c");
    CU_ASSERT_STRING_EQUAL(m->payload, "{\"v\":1}");
    CU_ASSERT_EQUAL(m->qos, 1);
    CU_ASSERT_TRUE(m->retain);
    CU_ASSERT_PTR_EQUAL(gw_outbox_next(ob), m); /* next() is a peek */
    gw_outbox_mark_inflight(ob, m);
    m = gw_outbox_next(ob);
    CU_ASSERT_PTR_NOT_NULL(m);
    if (!m)
        goto out;
    CU_ASSERT_EQUAL(m->id, 2);
    CU_ASSERT_EQUAL(m->qos, 2);
    CU_ASSERT_FALSE(m->retain);
    CU_ASSERT_STRING_EQUAL(m->topic, "q");
    CU_ASSERT_EQUAL(stats(ob).bytes, 14);
out:
    gw_outbox_free(ob);
}

static void test_fifo_order(void)
{
    gw_outbox_t *ob = mk(200, 10000, 3, GW_OVERFLOW_DROP_NEWEST, 0);
    uint64_t expect = 1;
    gw_msg_t *m;

    for (unsigned i = 1; i <= 100; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, (int)(i % 3), 0), 0);
    while ((m = gw_outbox_next(ob)) != NULL) {
        char want[16];
        snprintf(want, sizeof(want), "m%" PRIu64, expect);
        CU_ASSERT_EQUAL(m->id, expect);
        CU_ASSERT_STRING_EQUAL(m->payload, want);
        gw_outbox_mark_inflight(ob, m);
        CU_ASSERT_EQUAL(ack(ob, expect), 0);
        expect++;
    }
    CU_ASSERT_EQUAL(expect, 101);
    CU_ASSERT_EQUAL(stats(ob).delivered, 100);
    CU_ASSERT_TRUE(gw_outbox_empty(ob));
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

/* ---- bounds ---- */

static void test_capacity_messages(void)
{
    gw_outbox_t *ob = mk(5, 1000, 5, GW_OVERFLOW_DROP_NEWEST, 0);

    for (unsigned i = 1; i <= 5; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 0), 0);
    CU_ASSERT_EQUAL(push_l(ob, 6, 1, 0), -ENOBUFS);
    CU_ASSERT_EQUAL(stats(ob).queued, 5);
    CU_ASSERT_EQUAL(stats(ob).produced, 6);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_OVERFLOW], 1);
    /* In-flight messages still count against the capacity. */
    CU_ASSERT_EQUAL(send(ob), 1);
    CU_ASSERT_EQUAL(push_l(ob, 7, 1, 0), -ENOBUFS);
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_EQUAL(push_l(ob, 8, 1, 0), 0);
    CU_ASSERT_STRING_EQUAL(drain(ob), "2,3,4,5,8");
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

static void test_capacity_bytes(void)
{
    gw_outbox_t *ob = mk(100, 100, 5, GW_OVERFLOW_DROP_NEWEST, 0);

    for (unsigned i = 1; i <= 3; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 24), 0); /* 1 + 24 bytes each */
    CU_ASSERT_EQUAL(stats(ob).bytes, 75);
    CU_ASSERT_EQUAL(push_l(ob, 4, 1, 25), -ENOBUFS); /* 101 > 100 */
    CU_ASSERT_EQUAL(push_l(ob, 5, 1, 24), 0);        /* exactly 100 */
    CU_ASSERT_EQUAL(stats(ob).bytes, 100);
    CU_ASSERT_EQUAL(push_l(ob, 6, 1, 1), -ENOBUFS);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_OVERFLOW], 2);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_TOO_BIG], 0);
    CU_ASSERT_EQUAL(send(ob), 1); /* in flight bytes still count */
    CU_ASSERT_EQUAL(stats(ob).bytes, 100);
    CU_ASSERT_EQUAL(push_l(ob, 7, 1, 1), -ENOBUFS);
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_EQUAL(stats(ob).bytes, 75);
    CU_ASSERT_STRING_EQUAL(drain(ob), "2,3,5");
    CU_ASSERT_EQUAL(stats(ob).bytes, 0);
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

static void test_too_big(void)
{
    for (size_t p = 0; p < 3; p++) {
        gw_outbox_t *ob = mk(10, 50, 2, policies[p], 0);

        CU_ASSERT_EQUAL(push_l(ob, 1, 0, 9), 0);
        CU_ASSERT_EQUAL(push_l(ob, 2, 1, 50), -ENOBUFS); /* 51 bytes alone */
        CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_TOO_BIG], 1);
        CU_ASSERT_EQUAL(stats(ob).dropped_total, 1);
        CU_ASSERT_EQUAL(stats(ob).queued, 1); /* nothing evicted for it */
        CU_ASSERT_FALSE(gw_outbox_blocked(ob));
        CU_ASSERT_STRING_EQUAL(drain(ob), "1");
        CU_ASSERT_EQUAL(push_l(ob, 3, 1, 49), 0); /* exactly max_bytes */
        CU_ASSERT_EQUAL(stats(ob).bytes, 50);
        CU_ASSERT_TRUE(conserved(ob));
        gw_outbox_free(ob);
    }
}

/* ---- overflow policies ---- */

static void test_drop_oldest_keeps_newest(void)
{
    gw_outbox_t *ob = mk(4, 1000, 4, GW_OVERFLOW_DROP_OLDEST, 0);

    for (unsigned i = 1; i <= 10; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 0), 0);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_OVERFLOW], 6);
    CU_ASSERT_EQUAL(stats(ob).dropped_total, 6);
    CU_ASSERT_FALSE(gw_outbox_blocked(ob));
    CU_ASSERT_STRING_EQUAL(drain(ob), "7,8,9,10");
    gw_outbox_free(ob);

    /* By bytes: 3 messages of 30 fit in 100, the newest 3 survive. */
    ob = mk(100, 100, 4, GW_OVERFLOW_DROP_OLDEST, 0);
    for (unsigned i = 1; i <= 8; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 2, 29), 0);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_OVERFLOW], 5);
    CU_ASSERT_STRING_EQUAL(drain(ob), "6,7,8");
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

static void test_drop_newest_keeps_oldest(void)
{
    gw_outbox_t *ob = mk(4, 1000, 4, GW_OVERFLOW_DROP_NEWEST, 0);

    for (unsigned i = 1; i <= 10; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 0), i <= 4 ? 0 : -ENOBUFS);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_OVERFLOW], 6);
    CU_ASSERT_FALSE(gw_outbox_blocked(ob));
    CU_ASSERT_STRING_EQUAL(drain(ob), "1,2,3,4");
    gw_outbox_free(ob);

    ob = mk(100, 100, 4, GW_OVERFLOW_DROP_NEWEST, 0);
    for (unsigned i = 1; i <= 8; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 2, 29), i <= 3 ? 0 : -ENOBUFS);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_OVERFLOW], 5);
    CU_ASSERT_STRING_EQUAL(drain(ob), "1,2,3");
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

static unsigned unblocks;

static void on_unblock(void *arg)
{
    CU_ASSERT_PTR_EQUAL(arg, &unblocks);
    unblocks++;
}

static void test_block_transitions(void)
{
    gw_outbox_t *ob = mk(4, 1000, 4, GW_OVERFLOW_BLOCK, 0); /* resume at <= 2 */

    unblocks = 0;
    gw_outbox_on_unblock(ob, on_unblock, &unblocks);
    for (unsigned i = 1; i <= 3; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 0), 0);
    CU_ASSERT_FALSE(gw_outbox_blocked(ob));
    CU_ASSERT_EQUAL(push_l(ob, 4, 1, 0), 0);
    CU_ASSERT_TRUE(gw_outbox_blocked(ob)); /* full */
    CU_ASSERT_EQUAL(push_l(ob, 5, 1, 0), -ENOBUFS);
    CU_ASSERT_EQUAL(push_l(ob, 6, 1, 0), -ENOBUFS);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_OVERFLOW], 2);
    for (unsigned i = 1; i <= 4; i++)
        CU_ASSERT_EQUAL(send(ob), i);
    CU_ASSERT_TRUE(gw_outbox_blocked(ob)); /* in flight still counts */
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_TRUE(gw_outbox_blocked(ob)); /* 3 > 2 */
    CU_ASSERT_EQUAL(unblocks, 0);
    CU_ASSERT_EQUAL(ack(ob, 99), -ENOENT);
    CU_ASSERT_EQUAL(ack(ob, 2), 0);
    CU_ASSERT_FALSE(gw_outbox_blocked(ob)); /* 2 <= 2 */
    CU_ASSERT_EQUAL(unblocks, 1);
    CU_ASSERT_EQUAL(ack(ob, 3), 0);
    CU_ASSERT_EQUAL(unblocks, 1);
    /* 1 in flight; 3 more fill it again. Then fail() and drop_queued() drain. */
    for (unsigned i = 7; i <= 9; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 0), 0);
    CU_ASSERT_TRUE(gw_outbox_blocked(ob));
    CU_ASSERT_EQUAL(fail(ob, 4, GW_DROP_REJECTED), 0);
    CU_ASSERT_TRUE(gw_outbox_blocked(ob));
    CU_ASSERT_EQUAL(gw_outbox_drop_queued(ob, GW_DROP_SHUTDOWN), 3);
    CU_ASSERT_FALSE(gw_outbox_blocked(ob));
    CU_ASSERT_EQUAL(unblocks, 2);
    CU_ASSERT_TRUE(gw_outbox_empty(ob));
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_REJECTED], 1);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_SHUTDOWN], 3);
    CU_ASSERT_EQUAL(stats(ob).delivered, 3);
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

static void test_block_bytes_watermark(void)
{
    gw_outbox_t *ob = mk(10, 100, 10, GW_OVERFLOW_BLOCK, 0); /* <= 5 and <= 50 */

    unblocks = 0;
    gw_outbox_on_unblock(ob, on_unblock, &unblocks);
    for (unsigned i = 1; i <= 4; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 24), 0);
    CU_ASSERT_TRUE(gw_outbox_blocked(ob)); /* 100 bytes, only 4 messages */
    for (unsigned i = 1; i <= 4; i++)
        CU_ASSERT_EQUAL(send(ob), i);
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_TRUE(gw_outbox_blocked(ob)); /* 3 messages but 75 bytes */
    CU_ASSERT_EQUAL(ack(ob, 2), 0);
    CU_ASSERT_FALSE(gw_outbox_blocked(ob)); /* 50 bytes */
    CU_ASSERT_EQUAL(unblocks, 1);
    gw_outbox_free(ob);
}

static void test_block_custom_watermark(void)
{
    gw_outbox_t *ob = mk(10, 1000, 10, GW_OVERFLOW_BLOCK, 7); /* <= 7 and <= 700 */

    unblocks = 0;
    gw_outbox_on_unblock(ob, on_unblock, &unblocks);
    for (unsigned i = 1; i <= 10; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 0), 0);
    CU_ASSERT_TRUE(gw_outbox_blocked(ob));
    for (unsigned i = 1; i <= 3; i++)
        CU_ASSERT_EQUAL(send(ob), i);
    CU_ASSERT_EQUAL(ack(ob, 2), 0);
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_TRUE(gw_outbox_blocked(ob)); /* 8 */
    CU_ASSERT_EQUAL(ack(ob, 3), 0);
    CU_ASSERT_FALSE(gw_outbox_blocked(ob)); /* 7 */
    CU_ASSERT_EQUAL(unblocks, 1);
    gw_outbox_free(ob);

    /* The byte watermark scales with it: 10 * 700 / 1000 = 7 bytes here. */
    ob = mk(1000, 10, 10, GW_OVERFLOW_BLOCK, 700);
    gw_outbox_on_unblock(ob, on_unblock, &unblocks);
    CU_ASSERT_EQUAL(gw_outbox_push(ob, "t", 1, "1234", 4, 1, false), 0);
    CU_ASSERT_EQUAL(gw_outbox_push(ob, "t", 1, "1234", 4, 1, false), 0);
    CU_ASSERT_TRUE(gw_outbox_blocked(ob)); /* 10 bytes */
    gw_outbox_mark_inflight(ob, gw_outbox_next(ob));
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_FALSE(gw_outbox_blocked(ob)); /* 5 bytes */
    CU_ASSERT_EQUAL(unblocks, 2);
    gw_outbox_free(ob);
}

static void test_block_refusal_blocks(void)
{
    gw_outbox_t *ob = mk(10, 100, 10, GW_OVERFLOW_BLOCK, 0);

    unblocks = 0;
    gw_outbox_on_unblock(ob, on_unblock, &unblocks);
    for (unsigned i = 1; i <= 3; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 29), 0);
    CU_ASSERT_FALSE(gw_outbox_blocked(ob)); /* 90 bytes, 3 messages */
    CU_ASSERT_EQUAL(push_l(ob, 4, 1, 19), -ENOBUFS);
    CU_ASSERT_TRUE(gw_outbox_blocked(ob));
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_OVERFLOW], 1);
    CU_ASSERT_EQUAL(push_l(ob, 5, 1, 9), 0); /* still fits: accepted */
    CU_ASSERT_STRING_EQUAL(drain(ob), "1,2,3,5");
    CU_ASSERT_EQUAL(unblocks, 1);
    CU_ASSERT_FALSE(gw_outbox_blocked(ob));
    gw_outbox_free(ob);
}

static void test_other_policies_never_block(void)
{
    for (size_t p = 0; p < 2; p++) {
        gw_outbox_t *ob = mk(3, 30, 3, policies[p], 0);

        unblocks = 0;
        gw_outbox_on_unblock(ob, on_unblock, &unblocks);
        for (unsigned i = 1; i <= 8; i++) {
            push_l(ob, i, 1, (i % 2) ? 0 : 12);
            CU_ASSERT_FALSE(gw_outbox_blocked(ob));
        }
        CU_ASSERT_EQUAL(stats(ob).queued, 3);
        drain(ob);
        CU_ASSERT_EQUAL(unblocks, 0);
        CU_ASSERT_EQUAL(stats(ob).delivered, 3);
        CU_ASSERT_TRUE(conserved(ob));
        gw_outbox_free(ob);
    }
}

static void unblock_pushes(void *arg)
{
    gw_outbox_t *ob = arg;

    unblocks++;
    CU_ASSERT_FALSE(gw_outbox_blocked(ob));
    CU_ASSERT_EQUAL(push_l(ob, 100, 1, 0), 0);
}

static void test_unblock_callback_may_push(void)
{
    gw_outbox_t *ob = mk(2, 100, 2, GW_OVERFLOW_BLOCK, 0); /* resume at <= 1 */

    unblocks = 0;
    gw_outbox_on_unblock(ob, unblock_pushes, ob);
    CU_ASSERT_EQUAL(push_l(ob, 1, 1, 0), 0);
    CU_ASSERT_EQUAL(push_l(ob, 2, 1, 0), 0);
    CU_ASSERT_TRUE(gw_outbox_blocked(ob));
    CU_ASSERT_EQUAL(send(ob), 1);
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_EQUAL(unblocks, 1);
    CU_ASSERT_TRUE(gw_outbox_blocked(ob)); /* the callback filled it again */
    CU_ASSERT_EQUAL(stats(ob).queued, 2);
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

/* ---- QoS 0 first ---- */

static void qos0_first(gw_overflow_t ov)
{
    gw_outbox_t *ob = mk(6, 1000, 6, ov, 0);

    for (unsigned i = 1; i <= 6; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, (i % 2) ? 1 : 0, 0), 0); /* even = QoS 0 */
    CU_ASSERT_EQUAL(gw_outbox_blocked(ob), ov == GW_OVERFLOW_BLOCK);
    for (unsigned i = 7; i <= 9; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, (i == 8) ? 2 : 1, 0), 0);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_QOS0], 3);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_OVERFLOW], 0);
    /* No QoS 0 left: now the policy decides. */
    CU_ASSERT_EQUAL(push_l(ob, 10, 1, 0), ov == GW_OVERFLOW_DROP_OLDEST ? 0 : -ENOBUFS);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_OVERFLOW], 1);
    CU_ASSERT_EQUAL(stats(ob).dropped_total, 4);
    CU_ASSERT_STRING_EQUAL(drain(ob),
                           ov == GW_OVERFLOW_DROP_OLDEST ? "3,5,7,8,9,10" : "1,3,5,7,8,9");
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

static void test_qos0_first_drop_oldest(void)
{
    qos0_first(GW_OVERFLOW_DROP_OLDEST);
}

static void test_qos0_first_drop_newest(void)
{
    qos0_first(GW_OVERFLOW_DROP_NEWEST);
}

static void test_qos0_first_block(void)
{
    qos0_first(GW_OVERFLOW_BLOCK);
}

static void test_qos0_evicts_older_qos0(void)
{
    for (size_t p = 0; p < 3; p++) {
        gw_outbox_t *ob = mk(3, 1000, 3, policies[p], 0);

        CU_ASSERT_EQUAL(push_l(ob, 1, 0, 0), 0);
        CU_ASSERT_EQUAL(push_l(ob, 2, 1, 0), 0);
        CU_ASSERT_EQUAL(push_l(ob, 3, 0, 0), 0);
        for (unsigned i = 4; i <= 6; i++)
            CU_ASSERT_EQUAL(push_l(ob, i, 0, 0), 0);
        CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_QOS0], 3);
        CU_ASSERT_EQUAL(stats(ob).dropped_total, 3);
        CU_ASSERT_STRING_EQUAL(drain(ob), "2,5,6");
        gw_outbox_free(ob);
    }
}

/* Nothing is evicted for a message that would be refused anyway. */
static void test_no_pointless_eviction(void)
{
    gw_outbox_t *ob = mk(10, 100, 10, GW_OVERFLOW_DROP_NEWEST, 0);

    CU_ASSERT_EQUAL(push_l(ob, 1, 0, 9), 0);  /* 10 bytes, QoS 0 */
    CU_ASSERT_EQUAL(push_l(ob, 2, 1, 79), 0); /* 80 bytes */
    CU_ASSERT_EQUAL(push_l(ob, 3, 1, 29), -ENOBUFS);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_QOS0], 0);
    CU_ASSERT_EQUAL(stats(ob).queued, 2);
    CU_ASSERT_EQUAL(push_l(ob, 4, 1, 19), 0); /* fits once the QoS 0 goes */
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_QOS0], 1);
    CU_ASSERT_STRING_EQUAL(drain(ob), "2,4");
    gw_outbox_free(ob);

    /* DROP_OLDEST: everything queued may go, but not what is in flight. */
    ob = mk(10, 100, 10, GW_OVERFLOW_DROP_OLDEST, 0);
    CU_ASSERT_EQUAL(push_l(ob, 1, 1, 59), 0);
    CU_ASSERT_EQUAL(send(ob), 1);
    CU_ASSERT_EQUAL(push_l(ob, 2, 0, 9), 0);
    CU_ASSERT_EQUAL(push_l(ob, 3, 1, 19), 0);
    CU_ASSERT_EQUAL(push_l(ob, 4, 1, 49), -ENOBUFS); /* 60 + 50 > 100 */
    CU_ASSERT_EQUAL(stats(ob).queued, 2);
    CU_ASSERT_EQUAL(push_l(ob, 5, 1, 39), 0); /* evicts 2 (QoS 0), then 3 */
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_QOS0], 1);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_OVERFLOW], 2);
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_STRING_EQUAL(drain(ob), "5");
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

/* ---- in flight ---- */

static void test_inflight_never_evicted(void)
{
    for (size_t p = 0; p < 3; p++) {
        gw_outbox_t *ob = mk(4, 1000, 4, policies[p], 0);

        for (unsigned i = 1; i <= 4; i++)
            CU_ASSERT_EQUAL(push_l(ob, i, 0, 0), 0);
        CU_ASSERT_EQUAL(send(ob), 1);
        CU_ASSERT_EQUAL(send(ob), 2);
        /* Oldest queued QoS 0 is 3; in-flight 1 and 2 are older but stay. */
        CU_ASSERT_EQUAL(push_l(ob, 5, 0, 0), 0);
        CU_ASSERT_EQUAL(send(ob), 4);
        CU_ASSERT_EQUAL(send(ob), 5);
        CU_ASSERT_EQUAL(push_l(ob, 6, 0, 0), -ENOBUFS); /* all 4 in flight */
        CU_ASSERT_EQUAL(push_l(ob, 7, 1, 0), -ENOBUFS);
        CU_ASSERT_EQUAL(stats(ob).in_flight, 4);
        CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_QOS0], 1);
        CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_OVERFLOW], 2);
        for (uint64_t id = 1; id <= 5; id++)
            CU_ASSERT_EQUAL(ack(ob, id), id == 3 ? -ENOENT : 0);
        CU_ASSERT_EQUAL(stats(ob).delivered, 4);
        CU_ASSERT_TRUE(gw_outbox_empty(ob));
        CU_ASSERT_TRUE(conserved(ob));
        gw_outbox_free(ob);
    }
}

static void test_max_inflight(void)
{
    gw_outbox_t *ob = mk(10, 1000, 3, GW_OVERFLOW_DROP_OLDEST, 0);

    for (unsigned i = 1; i <= 5; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 0), 0);
    for (unsigned i = 1; i <= 3; i++)
        CU_ASSERT_EQUAL(send(ob), i);
    CU_ASSERT_PTR_NULL(gw_outbox_next(ob));
    CU_ASSERT_EQUAL(stats(ob).in_flight, 3);
    CU_ASSERT_EQUAL(stats(ob).queued, 2);
    CU_ASSERT_EQUAL(ack(ob, 2), 0);
    CU_ASSERT_EQUAL(send(ob), 4);
    CU_ASSERT_PTR_NULL(gw_outbox_next(ob));
    CU_ASSERT_EQUAL(fail(ob, 1, GW_DROP_REJECTED), 0);
    CU_ASSERT_EQUAL(send(ob), 5);
    CU_ASSERT_PTR_NULL(gw_outbox_next(ob)); /* in flight 3, queue empty */
    CU_ASSERT_EQUAL(ack(ob, 3), 0);
    CU_ASSERT_PTR_NULL(gw_outbox_next(ob)); /* queue empty */
    gw_outbox_free(ob);
}

static void test_ack_in_order(void)
{
    gw_outbox_t *ob = mk(10, 1000, 10, GW_OVERFLOW_DROP_OLDEST, 0);

    for (unsigned i = 1; i <= 5; i++) {
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 0), 0);
        CU_ASSERT_EQUAL(send(ob), i);
    }
    for (uint64_t id = 1; id <= 5; id++) {
        CU_ASSERT_EQUAL(ack(ob, id), 0);
        CU_ASSERT_EQUAL(stats(ob).in_flight, 5 - id);
        CU_ASSERT_EQUAL(stats(ob).delivered, id);
        CU_ASSERT_TRUE(conserved(ob));
    }
    CU_ASSERT_TRUE(gw_outbox_empty(ob));
    CU_ASSERT_EQUAL(stats(ob).bytes, 0);
    CU_ASSERT_EQUAL(stats(ob).stale_acks, 0);
    gw_outbox_free(ob);
}

static void test_ack_out_of_order(void)
{
    static const uint64_t order[] = {3, 5, 1, 4, 2};
    gw_outbox_t *ob = mk(10, 1000, 10, GW_OVERFLOW_DROP_OLDEST, 0);

    for (unsigned i = 1; i <= 5; i++) {
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 0), 0);
        CU_ASSERT_EQUAL(send(ob), i);
    }
    for (size_t i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(ack(ob, order[i]), 0);
        CU_ASSERT_EQUAL(ack(ob, order[i]), -ENOENT); /* only once */
        CU_ASSERT_EQUAL(stats(ob).in_flight, 4 - i);
    }
    CU_ASSERT_EQUAL(stats(ob).delivered, 5);
    CU_ASSERT_EQUAL(stats(ob).stale_acks, 5);
    CU_ASSERT_TRUE(gw_outbox_empty(ob));
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

static void test_stale_ack(void)
{
    gw_outbox_t *ob = mk(10, 1000, 1, GW_OVERFLOW_DROP_OLDEST, 0);

    CU_ASSERT_EQUAL(ack(ob, 1), -ENOENT); /* nothing produced yet */
    CU_ASSERT_EQUAL(push_l(ob, 1, 1, 0), 0);
    CU_ASSERT_EQUAL(push_l(ob, 2, 1, 0), 0);
    CU_ASSERT_EQUAL(send(ob), 1);
    CU_ASSERT_EQUAL(ack(ob, 2), -ENOENT); /* queued, not in flight */
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_EQUAL(ack(ob, 1), -ENOENT); /* already acked */
    CU_ASSERT_EQUAL(ack(ob, 99), -ENOENT);
    CU_ASSERT_EQUAL(stats(ob).stale_acks, 4);
    CU_ASSERT_EQUAL(stats(ob).delivered, 1);
    CU_ASSERT_EQUAL(stats(ob).queued, 1);
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

static void test_fail(void)
{
    gw_outbox_t *ob = mk(10, 1000, 2, GW_OVERFLOW_DROP_OLDEST, 0);

    for (unsigned i = 1; i <= 3; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 0), 0);
    CU_ASSERT_EQUAL(send(ob), 1);
    CU_ASSERT_EQUAL(send(ob), 2);
    CU_ASSERT_EQUAL(fail(ob, 2, GW_DROP_REJECTED), 0);
    CU_ASSERT_EQUAL(fail(ob, 2, GW_DROP_REJECTED), -ENOENT);
    CU_ASSERT_EQUAL(fail(ob, 3, GW_DROP_REJECTED), -ENOENT); /* queued */
    CU_ASSERT_EQUAL(fail(ob, 1, GW_DROP_NREASONS), -EINVAL);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_REJECTED], 1);
    CU_ASSERT_EQUAL(stats(ob).dropped_total, 1);
    CU_ASSERT_EQUAL(stats(ob).stale_acks, 0);
    CU_ASSERT_EQUAL(stats(ob).in_flight, 1);
    CU_ASSERT_EQUAL(stats(ob).bytes, 6); /* 1 in flight, 3 queued: 3 bytes each */
    CU_ASSERT_EQUAL(send(ob), 3);
    CU_ASSERT_EQUAL(fail(ob, 1, GW_DROP_SHUTDOWN), 0);
    CU_ASSERT_EQUAL(ack(ob, 3), 0);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_SHUTDOWN], 1);
    CU_ASSERT_EQUAL(stats(ob).delivered, 1);
    CU_ASSERT_TRUE(gw_outbox_empty(ob));
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

/* ---- requeue after a connection loss ---- */

static void test_requeue_order(void)
{
    gw_outbox_t *ob = mk(10, 1000, 3, GW_OVERFLOW_DROP_OLDEST, 0);

    CU_ASSERT_EQUAL(gw_outbox_requeue_inflight(ob), 0);
    for (unsigned i = 1; i <= 6; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, (int)(i % 3), 0), 0);
    for (unsigned i = 1; i <= 3; i++)
        CU_ASSERT_EQUAL(send(ob), i);
    CU_ASSERT_EQUAL(gw_outbox_requeue_inflight(ob), 3);
    CU_ASSERT_EQUAL(stats(ob).requeued, 0); /* counted when sent again */
    CU_ASSERT_EQUAL(stats(ob).in_flight, 0);
    CU_ASSERT_EQUAL(stats(ob).queued, 6);
    CU_ASSERT_EQUAL(stats(ob).bytes, 18);
    CU_ASSERT_EQUAL(gw_outbox_requeue_inflight(ob), 0);
    CU_ASSERT_EQUAL(ack(ob, 1), -ENOENT); /* no longer in flight */
    CU_ASSERT_STRING_EQUAL(drain(ob), "1,2,3,4,5,6");
    CU_ASSERT_EQUAL(stats(ob).requeued, 3);
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

static void test_requeue_after_partial_acks(void)
{
    gw_outbox_t *ob = mk(10, 1000, 4, GW_OVERFLOW_DROP_OLDEST, 0);

    for (unsigned i = 1; i <= 8; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 0), 0);
    for (unsigned i = 1; i <= 4; i++)
        CU_ASSERT_EQUAL(send(ob), i);
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_EQUAL(ack(ob, 3), 0);
    CU_ASSERT_EQUAL(gw_outbox_requeue_inflight(ob), 2); /* 2 and 4 */
    CU_ASSERT_EQUAL(push_l(ob, 9, 1, 0), 0);
    CU_ASSERT_EQUAL(send(ob), 2);
    CU_ASSERT_EQUAL(send(ob), 4);
    CU_ASSERT_EQUAL(send(ob), 5);
    CU_ASSERT_EQUAL(send(ob), 6);
    CU_ASSERT_EQUAL(send(ob), 0);
    CU_ASSERT_EQUAL(ack(ob, 4), 0);
    CU_ASSERT_EQUAL(gw_outbox_requeue_inflight(ob), 3); /* 2, 5, 6 */
    CU_ASSERT_EQUAL(stats(ob).requeued, 2);             /* 2 and 4 went again */
    CU_ASSERT_STRING_EQUAL(drain(ob), "2,5,6,7,8,9");
    CU_ASSERT_EQUAL(stats(ob).requeued, 5);
    CU_ASSERT_EQUAL(stats(ob).delivered, 9);
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

/* Requeued QoS 0 messages are queued again, so evictable again, in order. */
static void test_requeue_qos0_evictable(void)
{
    static const struct {
        int qos[4];
        unsigned early_push; /* push 5 while 1 and 2 are in flight */
        const char *left;
        uint64_t qos0_drops;
    } cases[] = {
        /* 1 (QoS 0) is requeued ahead of 4 (QoS 0): 1 goes first, then 4. */
        {{0, 1, 1, 0}, 0, "2,3,5,6", 2},
        /* While 1 is in flight, 3 goes instead; once requeued, 1 goes. */
        {{0, 1, 0, 1}, 1, "2,4,5,6", 2},
        /* Only QoS 1 requeued: the queued QoS 0 messages go, oldest first. */
        {{1, 1, 0, 0}, 0, "1,2,5,6", 2},
    };

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        gw_outbox_t *ob = mk(4, 1000, 4, GW_OVERFLOW_DROP_NEWEST, 0);

        for (unsigned i = 1; i <= 4; i++)
            CU_ASSERT_EQUAL(push_l(ob, i, cases[c].qos[i - 1], 0), 0);
        CU_ASSERT_EQUAL(send(ob), 1);
        CU_ASSERT_EQUAL(send(ob), 2);
        if (cases[c].early_push)
            CU_ASSERT_EQUAL(push_l(ob, 5, 1, 0), 0);
        CU_ASSERT_EQUAL(gw_outbox_requeue_inflight(ob), 2);
        for (unsigned i = cases[c].early_push ? 6 : 5; i <= 6; i++)
            CU_ASSERT_EQUAL(push_l(ob, i, 1, 0), 0);
        CU_ASSERT_EQUAL(push_l(ob, 7, 1, 0), -ENOBUFS); /* no QoS 0 left */
        CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_QOS0], cases[c].qos0_drops);
        CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_OVERFLOW], 1);
        CU_ASSERT_STRING_EQUAL(drain(ob), cases[c].left);
        CU_ASSERT_TRUE(conserved(ob));
        gw_outbox_free(ob);
    }
}

static void test_drop_queued(void)
{
    gw_outbox_t *ob = mk(4, 1000, 2, GW_OVERFLOW_DROP_NEWEST, 0);

    CU_ASSERT_EQUAL(gw_outbox_drop_queued(ob, GW_DROP_SHUTDOWN), 0);
    for (unsigned i = 1; i <= 4; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, i <= 2 ? 1 : 0, 0), 0);
    CU_ASSERT_EQUAL(send(ob), 1);
    CU_ASSERT_EQUAL(send(ob), 2);
    CU_ASSERT_EQUAL(gw_outbox_drop_queued(ob, GW_DROP_SHUTDOWN), 2);
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_SHUTDOWN], 2);
    CU_ASSERT_EQUAL(stats(ob).dropped_total, 2);
    CU_ASSERT_EQUAL(stats(ob).queued, 0);
    CU_ASSERT_EQUAL(stats(ob).in_flight, 2);
    CU_ASSERT_EQUAL(stats(ob).bytes, 6);
    CU_ASSERT_EQUAL(gw_outbox_drop_queued(ob, GW_DROP_SHUTDOWN), 0);
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_EQUAL(ack(ob, 2), 0);
    /* The QoS 0 bookkeeping starts afresh. */
    CU_ASSERT_EQUAL(push_l(ob, 5, 1, 0), 0);
    CU_ASSERT_EQUAL(push_l(ob, 6, 0, 0), 0);
    CU_ASSERT_EQUAL(push_l(ob, 7, 0, 0), 0);
    CU_ASSERT_EQUAL(push_l(ob, 8, 1, 0), 0);
    CU_ASSERT_EQUAL(push_l(ob, 9, 1, 0), 0); /* evicts 6 */
    CU_ASSERT_EQUAL(stats(ob).dropped[GW_DROP_QOS0], 1);
    CU_ASSERT_STRING_EQUAL(drain(ob), "5,7,8,9");
    CU_ASSERT_TRUE(conserved(ob));
    gw_outbox_free(ob);
}

static void test_stats_fields(void)
{
    gw_outbox_t *ob = mk(3, 20, 2, GW_OVERFLOW_DROP_NEWEST, 0);
    gw_outbox_stats_t s;

    CU_ASSERT_EQUAL(push_l(ob, 1, 1, 0), 0);         /* 3 bytes */
    CU_ASSERT_EQUAL(push_l(ob, 2, 0, 0), 0);         /* 3 bytes, QoS 0 */
    CU_ASSERT_EQUAL(push_l(ob, 3, 1, 10), 0);        /* 11 bytes */
    CU_ASSERT_EQUAL(push_l(ob, 4, 1, 0), 0);         /* evicts 2 */
    CU_ASSERT_EQUAL(push_l(ob, 5, 1, 25), -ENOBUFS); /* too big */
    CU_ASSERT_EQUAL(send(ob), 1);
    CU_ASSERT_EQUAL(send(ob), 3);
    s = stats(ob);
    CU_ASSERT_EQUAL(s.produced, 5);
    CU_ASSERT_EQUAL(s.queued, 1);
    CU_ASSERT_EQUAL(s.in_flight, 2);
    CU_ASSERT_EQUAL(s.bytes, 17);
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_EQUAL(ack(ob, 42), -ENOENT);
    CU_ASSERT_EQUAL(gw_outbox_requeue_inflight(ob), 1);
    CU_ASSERT_EQUAL(send(ob), 3);
    CU_ASSERT_EQUAL(fail(ob, 3, GW_DROP_REJECTED), 0);
    CU_ASSERT_EQUAL(push_l(ob, 6, 1, 0), 0);
    CU_ASSERT_EQUAL(gw_outbox_drop_queued(ob, GW_DROP_SHUTDOWN), 2);
    s = stats(ob);
    CU_ASSERT_EQUAL(s.produced, 6);
    CU_ASSERT_EQUAL(s.delivered, 1);
    CU_ASSERT_EQUAL(s.dropped[GW_DROP_OVERFLOW], 0);
    CU_ASSERT_EQUAL(s.dropped[GW_DROP_QOS0], 1);
    CU_ASSERT_EQUAL(s.dropped[GW_DROP_TOO_BIG], 1);
    CU_ASSERT_EQUAL(s.dropped[GW_DROP_REJECTED], 1);
    CU_ASSERT_EQUAL(s.dropped[GW_DROP_SHUTDOWN], 2);
    CU_ASSERT_EQUAL(s.dropped_total, 5);
    CU_ASSERT_EQUAL(s.queued, 0);
    CU_ASSERT_EQUAL(s.in_flight, 0);
    CU_ASSERT_EQUAL(s.bytes, 0);
    CU_ASSERT_EQUAL(s.requeued, 1);
    CU_ASSERT_EQUAL(s.stale_acks, 1);
    CU_ASSERT_TRUE(gw_outbox_empty(ob));
    gw_outbox_free(ob);
}

/* Freeing with messages queued and in flight releases them (checked by
 * ASan/valgrind) without counting them. */
/* One message the publisher took but never sent goes back among the
 * queued messages in id order. */
static void test_requeue_one(void)
{
    gw_outbox_t *ob = mk(10, 4096, 3, GW_OVERFLOW_DROP_OLDEST, 0);
    gw_outbox_stats_t s;

    for (unsigned i = 1; i <= 5; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, i == 2 ? 0 : 1, 0), 0);
    CU_ASSERT_EQUAL(send(ob), 1);
    CU_ASSERT_EQUAL(send(ob), 2);
    CU_ASSERT_EQUAL(send(ob), 3);
    CU_ASSERT_EQUAL(gw_outbox_requeue(ob, 2), 0);
    CU_ASSERT_EQUAL(gw_outbox_requeue(ob, 2), -ENOENT); /* no longer in flight */
    s = stats(ob);
    CU_ASSERT_EQUAL(s.in_flight, 2);
    CU_ASSERT_EQUAL(s.queued, 3);
    CU_ASSERT_EQUAL(s.requeued, 0); /* it never went out: not re-sent */
    CU_ASSERT(conserved(ob));
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_EQUAL(ack(ob, 3), 0);
    CU_ASSERT_STRING_EQUAL(drain(ob), "2,4,5");
    /* The requeued QoS 0 message is evictable again, oldest first. */
    for (unsigned i = 6; i <= 8; i++)
        CU_ASSERT_EQUAL(push_l(ob, i, 1, 0), 0);
    CU_ASSERT_EQUAL(send(ob), 6);
    gw_outbox_free(ob);

    ob = mk(3, 4096, 3, GW_OVERFLOW_DROP_NEWEST, 0);
    CU_ASSERT_EQUAL(push_l(ob, 1, 1, 0), 0);
    CU_ASSERT_EQUAL(push_l(ob, 2, 0, 0), 0);
    CU_ASSERT_EQUAL(push_l(ob, 3, 1, 0), 0);
    CU_ASSERT_EQUAL(send(ob), 1);
    CU_ASSERT_EQUAL(send(ob), 2);
    CU_ASSERT_EQUAL(gw_outbox_requeue(ob, 2), 0);
    CU_ASSERT_EQUAL(push_l(ob, 4, 1, 0), 0); /* evicts the requeued QoS 0 message */
    s = stats(ob);
    CU_ASSERT_EQUAL(s.dropped[GW_DROP_QOS0], 1);
    CU_ASSERT(conserved(ob));
    CU_ASSERT_EQUAL(ack(ob, 1), 0);
    CU_ASSERT_STRING_EQUAL(drain(ob), "3,4");
    gw_outbox_free(ob);
}

/* A confirmation names a send, not only a message: after a message went back
 * to the queue and out again, a confirmation of its first send is stale and
 * must neither free nor count it (it may be held by the publisher's ring). */
static void test_stale_send(void)
{
    gw_outbox_t *ob = mk(10, 4096, 3, GW_OVERFLOW_DROP_OLDEST, 0);
    gw_outbox_stats_t s;
    uint64_t first, second;

    CU_ASSERT_EQUAL(push_l(ob, 1, 1, 0), 0);
    CU_ASSERT_EQUAL(push_l(ob, 2, 1, 0), 0);
    CU_ASSERT_EQUAL(send(ob), 1);
    first = gw_outbox_send_of(ob, 1);
    CU_ASSERT_NOT_EQUAL(first, 0);
    CU_ASSERT_EQUAL(gw_outbox_requeue_inflight(ob), 1);
    /* Queued again: its old send is no longer current. */
    CU_ASSERT_FALSE(gw_outbox_is_current(ob, 1, first));
    CU_ASSERT_EQUAL(gw_outbox_ack(ob, 1, first), -ENOENT);
    CU_ASSERT_EQUAL(send(ob), 1);
    second = gw_outbox_send_of(ob, 1);
    CU_ASSERT(second > first);
    CU_ASSERT_TRUE(gw_outbox_is_current(ob, 1, second));
    /* In flight again: the first send's confirmation or failure is stale. */
    CU_ASSERT_EQUAL(gw_outbox_ack(ob, 1, first), -ENOENT);
    CU_ASSERT_EQUAL(gw_outbox_fail(ob, 1, first, GW_DROP_REJECTED), -ENOENT);
    s = stats(ob);
    CU_ASSERT_EQUAL(s.in_flight, 1);
    CU_ASSERT_EQUAL(s.delivered, 0);
    CU_ASSERT_EQUAL(s.dropped_total, 0);
    CU_ASSERT_EQUAL(s.stale_acks, 2);
    CU_ASSERT_EQUAL(gw_outbox_ack(ob, 1, second), 0);
    CU_ASSERT_EQUAL(gw_outbox_ack(ob, 1, second), -ENOENT); /* twice */
    s = stats(ob);
    CU_ASSERT_EQUAL(s.delivered, 1);
    CU_ASSERT_EQUAL(s.stale_acks, 3);
    CU_ASSERT(conserved(ob));
    CU_ASSERT_STRING_EQUAL(drain(ob), "2");
    gw_outbox_free(ob);
}

/* A reading that could not be encoded is produced and dropped, so the
 * conservation law holds for it too. */
static void test_refuse(void)
{
    gw_outbox_t *ob = mk(10, 4096, 3, GW_OVERFLOW_DROP_OLDEST, 0);
    gw_outbox_stats_t s;

    gw_outbox_refuse(ob, GW_DROP_TOO_BIG);
    s = stats(ob);
    CU_ASSERT_EQUAL(s.produced, 1);
    CU_ASSERT_EQUAL(s.dropped[GW_DROP_TOO_BIG], 1);
    CU_ASSERT_EQUAL(s.dropped_total, 1);
    CU_ASSERT(conserved(ob));
    gw_outbox_free(ob);
}

static unsigned released_origins[16];
static size_t n_released;

static void on_release(void *arg, const gw_msg_t *m)
{
    (void)arg;
    released_origins[n_released++] = (unsigned)m->origin;
}

static unsigned moved_labels[16];
static size_t n_moved;

static void on_move(void *arg, const gw_msg_t *m)
{
    (void)arg;
    moved_labels[n_moved++] = (unsigned)strtoul(m->payload + 1, NULL, 10);
}

/* Tagged messages report when they leave: delivered, dropped or moved. */
static void test_origin_and_move(void)
{
    gw_outbox_t *ob = mk(3, 4096, 2, GW_OVERFLOW_DROP_OLDEST, 0);
    gw_outbox_stats_t s;

    n_released = n_moved = 0;
    gw_outbox_on_release(ob, on_release, NULL);
    CU_ASSERT_EQUAL(gw_outbox_push_origin(ob, "t", 1, "m1", 2, 1, false, 101), 0);
    CU_ASSERT_EQUAL(push_l(ob, 2, 1, 0), 0); /* untagged: never reported */
    CU_ASSERT_EQUAL(gw_outbox_push_origin(ob, "t", 1, "m3", 2, 1, false, 103), 0);
    CU_ASSERT_EQUAL(send(ob), 1);
    CU_ASSERT_EQUAL(ack(ob, 1), 0); /* delivered */
    CU_ASSERT_EQUAL(n_released, 1);
    CU_ASSERT_EQUAL(released_origins[0], 101);
    CU_ASSERT_EQUAL(gw_outbox_push_origin(ob, "t", 1, "m4", 2, 1, false, 104), 0);
    CU_ASSERT_EQUAL(gw_outbox_push_origin(ob, "t", 1, "m5", 2, 1, false, 105), 0);
    CU_ASSERT_EQUAL(n_released, 1); /* drop_oldest evicted message 2: untagged */
    CU_ASSERT_EQUAL(send(ob), 3);
    CU_ASSERT_EQUAL(fail(ob, 3, GW_DROP_REJECTED), 0); /* dropped: reported */
    CU_ASSERT_EQUAL(n_released, 2);
    CU_ASSERT_EQUAL(released_origins[1], 103);
    CU_ASSERT_EQUAL(send(ob), 4);
    CU_ASSERT_EQUAL(gw_outbox_move_queued(ob, on_move, NULL), 1);
    CU_ASSERT_EQUAL(n_moved, 1);
    CU_ASSERT_EQUAL(moved_labels[0], 5);
    CU_ASSERT_EQUAL(n_released, 3);
    CU_ASSERT_EQUAL(released_origins[2], 105);
    s = stats(ob);
    CU_ASSERT_EQUAL(s.moved, 1);
    CU_ASSERT_EQUAL(s.queued, 0);
    CU_ASSERT_EQUAL(s.in_flight, 1);
    CU_ASSERT(conserved(ob));
    gw_outbox_free(ob); /* message 4, still in flight: not reported */
    CU_ASSERT_EQUAL(n_released, 3);
}

static void test_empty_and_free(void)
{
    gw_outbox_t *ob = mk(4, 1000, 2, GW_OVERFLOW_DROP_OLDEST, 0);

    CU_ASSERT_TRUE(gw_outbox_empty(ob));
    CU_ASSERT_PTR_NULL(gw_outbox_next(ob));
    CU_ASSERT_EQUAL(push_l(ob, 1, 1, 0), 0);
    CU_ASSERT_FALSE(gw_outbox_empty(ob));
    CU_ASSERT_EQUAL(send(ob), 1);
    CU_ASSERT_FALSE(gw_outbox_empty(ob)); /* in flight is not empty */
    CU_ASSERT_EQUAL(push_l(ob, 2, 0, 0), 0);
    CU_ASSERT_EQUAL(stats(ob).produced, 2);
    gw_outbox_free(ob);
}

/* ---- randomized, against a reference model ----
 *
 * The model keeps each message's state by id and the ids still held (queued
 * or in flight) in id order. Since the outbox keeps its queue in id order,
 * the model's rules are one-liners: the next message is the smallest queued
 * id, the QoS 0 victim the smallest queued QoS 0 id, the DROP_OLDEST victim
 * the smallest queued id. */

enum { R_OPS = 20000, R_MAXCAP = 64 };
enum { S_NONE = 0, S_QUEUED, S_SENT, S_GONE };

typedef struct {
    uint8_t state, qos;
    bool resend; /* given back after it went out: its next send is a re-send */
    uint16_t tlen, plen;
} rmsg_t;

typedef struct {
    gw_outbox_t *ob;
    gw_outbox_opts_t o;
    size_t low_count, low_bytes;
    rmsg_t *m;               /* by id, 1 .. R_OPS */
    uint64_t live[R_MAXCAP]; /* ids queued or in flight, ascending */
    size_t nlive;
    gw_outbox_stats_t st; /* what the outbox must report */
    bool blocked;
    unsigned unblocks, cb_calls;
    uint64_t last_sent; /* ids handed out increase, until a requeue */
    uint64_t rng;
    size_t op;
} rig_t;

static uint64_t rnd(rig_t *r, uint64_t n)
{
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return (r->rng * 0x2545F4914F6CDD1DULL >> 11) % n;
}

/* Deterministic contents from the id, so what comes out can be checked. */
static void fill(char *buf, size_t len, uint64_t id, char base)
{
    char head[24];
    int n = snprintf(head, sizeof(head), "%" PRIu64 ":", id);

    for (size_t i = 0; i < len; i++)
        buf[i] = i < (size_t)n ? head[i] : (char)(base + id % 26);
}

#define RC(r, cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "\npolicy %d cap %zu op %zu: %s\n", (int)(r)->o.overflow,              \
                    (r)->o.capacity, (r)->op, #cond);                                              \
            CU_FAIL(#cond);                                                                        \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

static size_t r_size(const rig_t *r, uint64_t id)
{
    return (size_t)r->m[id].tlen + r->m[id].plen;
}

/* Smallest held id in this state (and QoS 0 if asked), or 0. */
static uint64_t r_first(const rig_t *r, int state, bool qos0_only)
{
    for (size_t i = 0; i < r->nlive; i++) {
        const rmsg_t *m = &r->m[r->live[i]];
        if (m->state == state && (!qos0_only || m->qos == 0))
            return r->live[i];
    }
    return 0;
}

static void r_unlive(rig_t *r, uint64_t id)
{
    size_t i = 0;

    while (r->live[i] != id)
        i++;
    memmove(&r->live[i], &r->live[i + 1], (r->nlive - i - 1) * sizeof(r->live[0]));
    r->nlive--;
}

static void r_drop(rig_t *r, uint64_t id, gw_drop_reason_t reason)
{
    if (r->m[id].state == S_QUEUED)
        r->st.queued--;
    else
        r->st.in_flight--;
    r->st.bytes -= r_size(r, id);
    r->m[id].state = S_GONE;
    r_unlive(r, id);
    r->st.dropped[reason]++;
    r->st.dropped_total++;
}

static void r_maybe_unblock(rig_t *r)
{
    if (r->blocked && r->st.queued + r->st.in_flight <= r->low_count &&
        r->st.bytes <= r->low_bytes) {
        r->blocked = false;
        r->unblocks++;
    }
}

/* Bytes and count that must stay if everything evictable goes. */
static bool r_room_possible(const rig_t *r, size_t size)
{
    size_t count = 0, bytes = 0;

    for (size_t i = 0; i < r->nlive; i++) {
        const rmsg_t *m = &r->m[r->live[i]];
        bool evictable =
            m->state == S_QUEUED && (r->o.overflow == GW_OVERFLOW_DROP_OLDEST || m->qos == 0);
        if (!evictable) {
            count++;
            bytes += r_size(r, r->live[i]);
        }
    }
    return count + 1 <= r->o.capacity && bytes + size <= r->o.max_bytes;
}

/* The model's push: returns what gw_outbox_push must return. */
static int r_model_push(rig_t *r, uint64_t id, size_t size)
{
    bool blockp = r->o.overflow == GW_OVERFLOW_BLOCK;

    r->st.produced++;
    if (size > r->o.max_bytes) {
        r->st.dropped[GW_DROP_TOO_BIG]++, r->st.dropped_total++;
        return -ENOBUFS;
    }
    if (!r_room_possible(r, size)) {
        r->st.dropped[GW_DROP_OVERFLOW]++, r->st.dropped_total++;
        r->blocked |= blockp;
        return -ENOBUFS;
    }
    while (r->st.queued + r->st.in_flight + 1 > r->o.capacity ||
           r->st.bytes + size > r->o.max_bytes) {
        uint64_t v = r_first(r, S_QUEUED, true);
        if (v)
            r_drop(r, v, GW_DROP_QOS0);
        else
            r_drop(r, r_first(r, S_QUEUED, false), GW_DROP_OVERFLOW);
    }
    r->m[id].state = S_QUEUED;
    r->live[r->nlive++] = id;
    r->st.queued++;
    r->st.bytes += size;
    if (blockp &&
        (r->st.queued + r->st.in_flight >= r->o.capacity || r->st.bytes >= r->o.max_bytes))
        r->blocked = true;
    return 0;
}

static bool r_push(rig_t *r)
{
    char topic[16], payload[1024];
    uint64_t id = r->st.produced + 1;
    rmsg_t *m = &r->m[id];
    uint64_t q = rnd(r, 100);
    int want;

    /* A polite producer under BLOCK checks first, as the gateway does. */
    if (r->o.overflow == GW_OVERFLOW_BLOCK && rnd(r, 2) && gw_outbox_blocked(r->ob))
        return true;
    m->qos = q < 35 ? 0 : q < 80 ? 1 : 2;
    m->tlen = (uint16_t)(1 + rnd(r, 12));
    m->plen = (uint16_t)(rnd(r, 100) == 0 ? r->o.max_bytes : rnd(r, 41));
    fill(topic, m->tlen, id, 'A');
    fill(payload, m->plen, id, 'a');
    want = r_model_push(r, id, r_size(r, id));
    RC(r, gw_outbox_push(r->ob, topic, m->tlen, payload, m->plen, m->qos, false) == want);
    return true;
}

static bool r_check_msg(rig_t *r, const gw_msg_t *msg)
{
    char topic[16], payload[1024];
    const rmsg_t *m = &r->m[msg->id];

    fill(topic, m->tlen, msg->id, 'A');
    fill(payload, m->plen, msg->id, 'a');
    RC(r, msg->qos == m->qos && msg->topic_len == m->tlen && msg->payload_len == m->plen);
    RC(r, memcmp(msg->topic, topic, m->tlen) == 0 && msg->topic[m->tlen] == '\0');
    RC(r, memcmp(msg->payload, payload, m->plen) == 0 && msg->payload[m->plen] == '\0');
    return true;
}

static uint64_t r_next_id(const rig_t *r)
{
    if (r->st.in_flight >= r->o.max_inflight)
        return 0;
    return r_first(r, S_QUEUED, false);
}

static bool r_send(rig_t *r)
{
    gw_msg_t *msg = gw_outbox_next(r->ob);

    RC(r, (msg ? msg->id : 0) == r_next_id(r));
    if (!msg)
        return true;
    if (!r_check_msg(r, msg))
        return false;
    RC(r, msg->id > r->last_sent); /* in order, replays included */
    r->last_sent = msg->id;
    gw_outbox_mark_inflight(r->ob, msg);
    r->m[msg->id].state = S_SENT;
    if (r->m[msg->id].resend) {
        r->m[msg->id].resend = false;
        r->st.requeued++;
    }
    r->st.queued--;
    r->st.in_flight++;
    return true;
}

/* Acks (or fails) an in-flight message: the oldest half of the time, since
 * acks usually come in order, otherwise any. */
static bool r_finish(rig_t *r, bool fail)
{
    uint64_t sent[R_MAXCAP], id;
    size_t n = 0;

    for (size_t i = 0; i < r->nlive; i++)
        if (r->m[r->live[i]].state == S_SENT)
            sent[n++] = r->live[i];
    if (n == 0)
        return true;
    id = rnd(r, 2) ? sent[0] : sent[rnd(r, n)];
    if (fail) {
        RC(r, gw_outbox_fail(r->ob, id, gw_outbox_send_of(r->ob, id), GW_DROP_REJECTED) == 0);
        r_drop(r, id, GW_DROP_REJECTED);
    } else {
        RC(r, ack(r->ob, id) == 0);
        r->st.in_flight--;
        r->st.bytes -= r_size(r, id);
        r->m[id].state = S_GONE;
        r_unlive(r, id);
        r->st.delivered++;
    }
    r_maybe_unblock(r);
    return true;
}

static bool r_stale_ack(rig_t *r)
{
    uint64_t id = rnd(r, r->st.produced + 3);

    if (id >= 1 && id <= r->st.produced && r->m[id].state == S_SENT)
        return true;
    RC(r, ack(r->ob, id) == -ENOENT);
    r->st.stale_acks++;
    return true;
}

static bool r_requeue(rig_t *r)
{
    size_t n = 0;

    for (size_t i = 0; i < r->nlive; i++) {
        if (r->m[r->live[i]].state == S_SENT) {
            r->m[r->live[i]].state = S_QUEUED;
            r->m[r->live[i]].resend = true;
            n++;
        }
    }
    RC(r, gw_outbox_requeue_inflight(r->ob) == n);
    r->st.in_flight -= n;
    r->st.queued += n;
    if (n)
        r->last_sent = 0; /* the replay starts again from the oldest */
    return true;
}

static bool r_drop_queued(rig_t *r)
{
    size_t n = 0;
    uint64_t id;

    while ((id = r_first(r, S_QUEUED, false)) != 0) {
        r_drop(r, id, GW_DROP_SHUTDOWN);
        n++;
    }
    RC(r, gw_outbox_drop_queued(r->ob, GW_DROP_SHUTDOWN) == n);
    r_maybe_unblock(r);
    return true;
}

static bool r_check(rig_t *r)
{
    gw_outbox_stats_t s = stats(r->ob);
    gw_msg_t *next = gw_outbox_next(r->ob);
    uint64_t sum = 0;

    for (int i = 0; i < GW_DROP_NREASONS; i++) {
        RC(r, s.dropped[i] == r->st.dropped[i]);
        sum += s.dropped[i];
    }
    RC(r, s.dropped_total == sum);
    RC(r, s.produced == s.delivered + s.dropped_total + s.queued + s.in_flight);
    RC(r, s.queued + s.in_flight <= r->o.capacity);
    RC(r, s.bytes <= r->o.max_bytes);
    RC(r, s.in_flight <= r->o.max_inflight);
    RC(r, s.produced == r->st.produced && s.delivered == r->st.delivered);
    RC(r, s.queued == r->st.queued && s.in_flight == r->st.in_flight);
    RC(r, s.bytes == r->st.bytes && s.dropped_total == r->st.dropped_total);
    RC(r, s.requeued == r->st.requeued && s.stale_acks == r->st.stale_acks);
    RC(r, gw_outbox_blocked(r->ob) == r->blocked);
    RC(r, r->cb_calls == r->unblocks);
    RC(r, gw_outbox_empty(r->ob) == (s.queued + s.in_flight == 0));
    RC(r, (next ? next->id : 0) == r_next_id(r));
    return true;
}

static bool r_step(rig_t *r)
{
    uint64_t x = rnd(r, 1000);

    if (x < 450)
        return r_push(r);
    if (x < 700)
        return r_send(r);
    if (x < 870)
        return r_finish(r, false);
    if (x < 890)
        return r_finish(r, true);
    if (x < 930)
        return r_stale_ack(r);
    if (x < 970)
        return r_requeue(r);
    if (x < 975)
        return r_drop_queued(r);
    return r_send(r);
}

static void r_count_unblock(void *arg)
{
    ((rig_t *)arg)->cb_calls++;
}

static void run_random(gw_overflow_t ov, size_t cap, size_t max_bytes, size_t max_inflight,
                       size_t lw, uint64_t seed)
{
    rig_t r = {.o = {cap, max_bytes, max_inflight, ov, lw}, .rng = seed};
    bool ok = true;

    r.low_count = lw ? lw : cap / 2;
    r.low_bytes = lw ? max_bytes * lw / cap : max_bytes / 2;
    r.m = calloc(R_OPS + 1, sizeof(*r.m));
    r.ob = gw_outbox_new(&r.o);
    CU_ASSERT_FATAL(r.m != NULL && r.ob != NULL && max_bytes < 1024 && cap <= R_MAXCAP);
    gw_outbox_on_unblock(r.ob, r_count_unblock, &r);
    for (r.op = 0; ok && r.op < R_OPS; r.op++)
        ok = r_step(&r) && r_check(&r);
    /* Connection lost, then everything delivered: all of it comes out. */
    ok = ok && r_requeue(&r) && r_check(&r);
    while (ok && r.st.queued + r.st.in_flight > 0)
        ok = r_send(&r) && r_finish(&r, false) && r_check(&r);
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_TRUE(gw_outbox_empty(r.ob));
    /* The run must have exercised every path it is meant to test. */
    CU_ASSERT_TRUE(r.st.dropped[GW_DROP_QOS0] > 0 && r.st.dropped[GW_DROP_OVERFLOW] > 0);
    CU_ASSERT_TRUE(r.st.dropped[GW_DROP_TOO_BIG] > 0 && r.st.dropped[GW_DROP_SHUTDOWN] > 0);
    CU_ASSERT_TRUE(r.st.requeued > 0 && r.st.stale_acks > 0 && r.st.delivered > 1000);
    if (ov == GW_OVERFLOW_BLOCK)
        CU_ASSERT_TRUE(r.unblocks > 10);
    gw_outbox_free(r.ob);
    free(r.m);
}

static void random_policy(gw_overflow_t ov)
{
    run_random(ov, 16, 600, 4, 0, 0x5eed0001u + (uint64_t)ov);
    run_random(ov, 5, 150, 7, 3, 0x5eed0101u + (uint64_t)ov);
    run_random(ov, 40, 300, 2, 0, 0x5eed0201u + (uint64_t)ov);
}

static void test_random_drop_oldest(void)
{
    random_policy(GW_OVERFLOW_DROP_OLDEST);
}

static void test_random_drop_newest(void)
{
    random_policy(GW_OVERFLOW_DROP_NEWEST);
}

static void test_random_block(void)
{
    random_policy(GW_OVERFLOW_BLOCK);
}

int outbox_suite(void)
{
    static const sb_test_t tests[] = {
        {"drop reason names", test_reason_names},
        {"new rejects invalid options", test_new_rejects_invalid},
        {"push rejects invalid arguments", test_push_invalid_args},
        {"message fields", test_message_fields},
        {"FIFO order", test_fifo_order},
        {"capacity in messages", test_capacity_messages},
        {"capacity in bytes", test_capacity_bytes},
        {"too big", test_too_big},
        {"drop_oldest keeps the newest", test_drop_oldest_keeps_newest},
        {"drop_newest keeps the oldest", test_drop_newest_keeps_oldest},
        {"block: transitions and callback", test_block_transitions},
        {"block: byte watermark", test_block_bytes_watermark},
        {"block: custom low watermark", test_block_custom_watermark},
        {"block: a refused push blocks", test_block_refusal_blocks},
        {"other policies never block", test_other_policies_never_block},
        {"unblock callback may push", test_unblock_callback_may_push},
        {"QoS 0 first: drop_oldest", test_qos0_first_drop_oldest},
        {"QoS 0 first: drop_newest", test_qos0_first_drop_newest},
        {"QoS 0 first: block", test_qos0_first_block},
        {"QoS 0 evicts older QoS 0", test_qos0_evicts_older_qos0},
        {"no eviction for a refused message", test_no_pointless_eviction},
        {"in flight never evicted", test_inflight_never_evicted},
        {"max_inflight", test_max_inflight},
        {"ack in order", test_ack_in_order},
        {"ack out of order", test_ack_out_of_order},
        {"stale ack", test_stale_ack},
        {"fail", test_fail},
        {"requeue keeps order", test_requeue_order},
        {"requeue after partial acks", test_requeue_after_partial_acks},
        {"requeued QoS 0 evictable again", test_requeue_qos0_evictable},
        {"drop_queued", test_drop_queued},
        {"stats fields", test_stats_fields},
        {"empty, and free with messages held", test_empty_and_free},
        {"origin tags, release and move", test_origin_and_move},
        {"requeue one failed message", test_requeue_one},
        {"a stale send is recognised", test_stale_send},
        {"refused before it was a message", test_refuse},
        {"random: drop_oldest", test_random_drop_oldest},
        {"random: drop_newest", test_random_drop_newest},
        {"random: block", test_random_block},
    };
    CU_pSuite s = CU_add_suite("outbox", NULL, NULL);

    if (!s)
        return -1;
    return SB_ADD_TESTS(s, tests);
}

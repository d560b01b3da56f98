/*
 * The store: the in-memory outbox and, when configured, the disk spool
 * behind it, as one FIFO with one set of counters.
 *
 * A message goes to the outbox while the broker is connected and the outbox
 * has room; otherwise, and for as long as the spool holds records not yet
 * taken back (so order is kept), it is appended to the spool. gw_store_refill
 * moves spool records, oldest first, into the outbox as room frees up; a
 * record leaves the disk only when the broker confirmed it (or it was dropped
 * for a counted reason). Without a spool the store is just the outbox.
 *
 * Conservation, at every moment:
 *   produced + recovered = delivered + dropped (all reasons, spool's
 *   included) + queued + in flight + spooled + suppressed
 * where recovered counts records found in the spool at start-up and
 * suppressed the readings the publishing stage did not make a message of.
 *
 * Loop thread only.
 */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "gateway/loop.h"
#include "gateway/outbox.h"
#include "gateway/spool.h"

typedef struct {
    gw_outbox_stats_t outbox;
    bool has_spool;
    gw_spool_stats_t spool;
    uint64_t produced;     /* offered by adapters and the gateway */
    uint64_t suppressed;   /* readings the publishing stage held back or folded into a window */
    uint64_t spool_errors; /* appends that failed (disk full, I/O): went to memory */
} gw_store_stats_t;

typedef struct gw_store gw_store_t;

/* Creates the outbox and opens the spool (logging what it recovered).
 * Returns 0 or a negative errno. */
int gw_store_open(const cfg_t *cfg, gw_loop_t *loop, gw_store_t **out);

/* Closes the spool and frees the outbox. NULL-safe. */
void gw_store_close(gw_store_t *st);

gw_outbox_t *gw_store_outbox(gw_store_t *st);

/* Offers one message. connected: whether the broker is reachable now.
 * Returns 0 (queued or spooled) or -ENOBUFS (dropped and counted). */
int gw_store_put(gw_store_t *st, const char *topic, size_t topic_len, const char *payload,
                 size_t payload_len, int qos, bool retain, bool connected);

/* gw_store_put() of a message with MQTT 5 correlation data (a command's
 * result): into the outbox only, never through the spool, whose records
 * have no room for it (at a shutdown it is spooled without it). */
int gw_store_put_corr(gw_store_t *st, const char *topic, size_t topic_len, const char *payload,
                      size_t payload_len, int qos, bool retain, const void *corr, size_t corr_len);

/* Moves spool records into the outbox while it has room. */
void gw_store_refill(gw_store_t *st);

/* Nothing queued, in flight or spooled. */
bool gw_store_empty(const gw_store_t *st);

/* Nothing spooled (always true without a spool). */
bool gw_store_spool_empty(const gw_store_t *st);

/* A message that could not be made (too big to encode): counted as produced
 * and dropped for reason. */
void gw_store_refuse(gw_store_t *st, gw_drop_reason_t reason);

/* A reading that did not become a message (publishing stage): counted as
 * produced and suppressed. */
void gw_store_suppress(gw_store_t *st);

/* Shutdown: everything queued to the spool (or, without one, dropped as
 * "shutdown"). Messages in flight are the publisher's and stay: the caller
 * has it give them back first (gw_pub_take_back). Returns how many messages
 * were spooled or dropped. */
size_t gw_store_stop(gw_store_t *st);

void gw_store_stats(const gw_store_t *st, gw_store_stats_t *out);

#endif

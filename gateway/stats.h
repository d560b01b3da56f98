/*
 * The gateway's figures as a person reads them (the exit summary) and as a
 * machine reads them (the JSON stats message on sensorbridge/{gateway}/stats).
 */
#ifndef GW_STATS_H
#define GW_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/commands.h"
#include "gateway/publisher.h"
#include "gateway/store.h"

typedef struct {
    const char *name;
    uint64_t reads_ok;
    uint64_t reads_failed;
    uint64_t reconnects;
} gw_adapter_stats_t;

/* "produced 1000, delivered 100, dropped 900 (overflow 900), queued 0, in flight 0"
 * plus ", suppressed N" when the publishing stage held readings back, ", re-sent N" when messages
 * were sent again after a connection loss and ", spooled N (recovered R)" with a spool. Returns the
 * length, or -ENOSPC. */
int gw_stats_summary(const gw_store_stats_t *st, const gw_pub_stats_t *ps, char *buf, size_t cap);

/* Compact JSON: {"produced":..,"delivered":..,"resent":..,"dropped":{"overflow":..,...},
 * "queued":..,"in_flight":..,"suppressed":..,"spool":{"records":..,"bytes":..}|null,
 * "mqtt":{"connects":..,"lost":..},"loop":{"ms":..,"iterations":..,"io_events":..,
 * "timers_fired":..,"wakeups":..,"timers":..}|null,"adapters":{"NAME":{"reads_ok":..,
 * "reads_failed":..,"reconnects":..},...}}. "loop" is the loop running on the calling
 * thread (gw_loop_current()), null when none is. Returns the length or -ENOSPC. */
int gw_stats_json(const gw_store_stats_t *st, const gw_pub_stats_t *ps, const gw_cmds_stats_t *cs,
                  const gw_adapter_stats_t *adapters, size_t n_adapters, char *buf, size_t cap);

#endif

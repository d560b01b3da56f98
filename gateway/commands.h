/*
 * Write-back: MQTT commands to writable points (docs/commands.md).
 *
 * Every writable point gets a command topic (commands.topic, by default its
 * reading topic + "/set"); the publisher subscribes to exactly those. A
 * command is parsed (command_json.h), checked (retained, age), handed to
 * its adapter's write(), and answered on {command topic}/result (or an MQTT
 * 5 Response Topic) with {"id": ..., "ok": true} or {"id": ..., "ok": false,
 * "error": "..."}, published through the outbox at QoS 1, not retained.
 * Every command is logged at info and counted. Loop thread only.
 */
#ifndef GW_COMMANDS_H
#define GW_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "gateway/publisher.h"

typedef struct gw_gateway gw_gateway_t;
typedef struct gw_ctx gw_ctx_t;
typedef struct gw_cmds gw_cmds_t;

typedef struct {
    uint64_t ok;      /* written, the device confirmed */
    uint64_t failed;  /* sent to the device, which failed or did not answer */
    uint64_t refused; /* never sent: malformed, retained, too old, busy, ... */
} gw_cmds_stats_t;

/* NULL on ENOMEM. */
gw_cmds_t *gw_cmds_new(gw_gateway_t *gw);
void gw_cmds_free(gw_cmds_t *c);

/* Routes commands to the adapters ctxs[0..n) from now on (at start and
 * after a reload committed its adapter set). 0 or -ENOMEM. */
int gw_cmds_route(gw_cmds_t *c, gw_ctx_t *const *ctxs, size_t n);

/* Subscribes pub (not started yet) to the command topics of the routes. */
int gw_cmds_subscribe(gw_cmds_t *c, gw_pub_t *pub);

/* Whether the command topics of ctxs[0..n) differ from the routes' (a
 * reload must then reconnect, to subscribe anew). */
bool gw_cmds_differ(const gw_cmds_t *c, gw_ctx_t *const *ctxs, size_t n);

/* The command topic of a point (commands.topic rendered). Returns the
 * length or -ENOSPC. */
int gw_cmds_topic(const cfg_t *cfg, const char *adapter, const char *point, char *out, size_t cap);

void gw_cmds_stats(const gw_cmds_t *c, gw_cmds_stats_t *out);

#endif

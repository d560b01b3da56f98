/*
 * Home Assistant MQTT discovery (docs/homeassistant.md): one retained
 * config message per point of every adapter that declared its points, on
 * <prefix>/<component>/<node_id>/<object_id>/config. The configs go through
 * the store like any message (QoS 1, retained). Loop thread only.
 */
#ifndef GW_HOMEASSISTANT_H
#define GW_HOMEASSISTANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/publisher.h"

typedef struct gw_gateway gw_gateway_t;

/* Publishes the config of every point of every adapter now running, and an
 * empty retained message on each config topic published before that no
 * longer has a point (a reload removed it, or discovery was turned off).
 * Adapters that do not report their own availability get a retained
 * "online" on their status topic. Called at start, after a reload and when
 * Home Assistant announces itself. */
void gw_ha_sync(gw_gateway_t *gw);

/* "<prefix>/status" into buf when discovery is on; false otherwise. */
bool gw_ha_status_topic(const gw_gateway_t *gw, char *buf, size_t cap);

/* An inbound message: true when it was Home Assistant's status (and
 * "online" re-sent every config), false when it is not for discovery. */
bool gw_ha_inbound(gw_gateway_t *gw, const gw_inbound_t *m);

/* Frees what gw_ha_sync() remembers. */
void gw_ha_free(gw_gateway_t *gw);

/* ha_names.c. A string made of [a-zA-Z0-9_-] from s into
 * buf: other bytes become '_', and when any did, "_" and 8 hex digits of a
 * hash of s follow, so distinct names stay distinct. Returns buf. */
char *gw_ha_object_id(const char *s, char *buf, size_t cap);

/* Maps a unit (as configured) to Home Assistant's unit, device_class and
 * state_class (each NULL when there is none); name decides percent as
 * humidity. */
void gw_ha_classes(const char *unit, const char *name, const char **ha_unit,
                   const char **device_class, const char **state_class);

/* The 32-bit FNV-1a hash gw_ha_object_id() appends. */
uint32_t gw_ha_hash(const char *s);

#endif

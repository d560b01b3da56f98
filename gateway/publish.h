/*
 * The publishing stage: between an adapter's reading and the outbox, it
 * decides what a reading becomes. With nothing configured an adapter has no
 * stage and every reading is published as it comes (gw_ctx_emit tests one
 * pointer). With a `publish` mapping, per point:
 *
 * - report by exception: a reading is published when its value moved by the
 *   deadband (absolute, or a percentage of the last published value) or, with
 *   on_change, when it changed at all; when its quality changed; and at least
 *   every max_interval. Other readings are counted as suppressed.
 * - windows: the readings of each wall-clock aligned window of `length` are
 *   folded into one summary (min, max, mean, last, count) published when the
 *   window ends.
 *
 * Loop thread only.
 */
#ifndef GW_PUBLISH_H
#define GW_PUBLISH_H

#include "adapters/adapter.h"
#include "config/config.h"
#include "gateway/reading.h"

typedef struct gw_stage gw_stage_t;

/* *out = NULL when no `publish` setting applies to the adapter (every
 * reading is published as is) and it takes no part in Home Assistant
 * discovery (which needs its declared points). 0 or -ENOMEM. The stage keeps pointers into
 * cfg and a, which must outlive it. */
int gw_stage_new(const cfg_t *cfg, const cfg_adapter_t *a, gw_ctx_t *ctx, gw_stage_t **out);

/* A point the adapter declared while being created (gw_ctx_point): its
 * settings are checked against its value kind and it is kept for discovery.
 * 0, -ENOMEM or -GW_ECONFIG with err filled. */
int gw_stage_point(gw_stage_t *st, const gw_point_info_t *pi, cfg_error_t *err);

/* After the adapter's create(): when it declared its points, every name in
 * its publish.points list must be one of them. 0 or -GW_ECONFIG. */
int gw_stage_check_points(gw_stage_t *st, cfg_error_t *err);

/* Whether the adapter publishes per-device messages. */
bool gw_stage_per_device(const gw_stage_t *st);

/* The i-th declared point, NULL past the last (Home Assistant discovery). */
const gw_point_info_t *gw_stage_point_at(const gw_stage_t *st, size_t i);

/* Stops the stage's timer and frees it; open windows are dropped. NULL-safe. */
void gw_stage_free(gw_stage_t *st);

/* One reading of the adapter (r->adapter set): published through
 * gw_ctx_publish, folded into a window or counted as suppressed. Returns
 * what gw_ctx_publish returned, or 0. */
int gw_stage_reading(gw_stage_t *st, const gw_reading_t *r);

/* The adapter is done: every open window is published now. */
void gw_stage_flush(gw_stage_t *st);

#endif

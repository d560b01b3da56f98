/*
 * Per-device messages of the publishing stage (publish_device.c): one
 * message per poll cycle of a device, and its units in a retained .../meta
 * message. Loop thread only.
 */
#ifndef GW_PUBLISH_DEVICE_H
#define GW_PUBLISH_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "adapters/adapter.h"
#include "config/config.h"
#include "gateway/reading.h"

typedef struct gw_devmsg gw_devmsg_t;

/* tmpl: the device_topic template ({gateway}, {adapter}), NULL for the
 * default sensorbridge/{gateway}/{adapter}. NULL on ENOMEM or a topic that
 * does not fit. */
gw_devmsg_t *gw_devmsg_new(gw_ctx_t *ctx, const cfg_t *cfg, const char *adapter, const char *tmpl);
void gw_devmsg_free(gw_devmsg_t *dm);

/* One reading; pi: the point as the adapter declared it (NULL: not
 * declared), expected: how many points its device declared, mark: the
 * point's own word (zero at first) that says whether it is in the cycle
 * being gathered, so a repeat is found in O(1). 0, -ENOMEM or
 * -ENOSPC (the reading does not fit in a message, logged). */
int gw_devmsg_reading(gw_devmsg_t *dm, const gw_reading_t *r, const gw_point_info_t *pi,
                      size_t expected, uint64_t *mark);

/* Publishes every unfinished cycle (the adapter is done). */
void gw_devmsg_flush(gw_devmsg_t *dm);

#endif

/* One strerror for errno values and sensorbridge's own codes. */
#include "gateway/error.h"

#include <string.h>

const char *gw_strerror(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case GW_ECONFIG:
        return "invalid configuration";
    case GW_EMQTT:
        return "MQTT client error";
    case GW_EFULL:
        return "outbox full";
    default:
        return strerror(err);
    }
}

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
    case GW_EMB_PROTOCOL:
        return "Modbus: bad protocol id";
    case GW_EMB_LENGTH:
        return "Modbus: bad length";
    case GW_EMB_BYTECOUNT:
        return "Modbus: bad byte count";
    case GW_EMB_FUNCTION:
        return "Modbus: unsupported function";
    case GW_EMB_EXCEPTION_LENGTH:
        return "Modbus: bad exception length";
    case GW_EMB_QUANTITY:
        return "Modbus: bad quantity";
    case GW_EMB_TID:
        return "Modbus: transaction id mismatch";
    case GW_EMB_UNIT:
        return "Modbus: unit id mismatch";
    case GW_EMB_FC:
        return "Modbus: function mismatch";
    case GW_EMB_COUNT:
        return "Modbus: byte count mismatch";
    case GW_EMB_ECHO:
        return "Modbus: write echo mismatch";
    case GW_EMB_CRC:
        return "Modbus: CRC error";
    case GW_EMB_TRUNCATED:
        return "Modbus: truncated frame";
    case GW_EMB_GARBAGE:
        return "Modbus: garbage on the line";
    default:
        return strerror(err);
    }
}

/*
 * Error codes shared by every module.
 *
 * Functions return 0 on success or a negative errno value; -EAGAIN means
 * "in progress, resumes on an fd or timer event". Codes specific to
 * sensorbridge sit above GW_EBASE so they never collide with errno values,
 * and gw_strerror() names both kinds.
 */
#ifndef GW_ERROR_H
#define GW_ERROR_H

#define GW_EBASE 10000

enum {
    GW_ECONFIG = GW_EBASE + 1, /* invalid configuration */
    GW_EMQTT,                  /* the MQTT client library refused a call */
    GW_EFULL,                  /* the outbox refused a message */
};

/*
 * The Modbus TCP codec's reasons (adapters/modbus_codec.h names them MB_E...
 * and MB_MISMATCH_...): one per malformed-frame class and one per way a
 * response can fail to answer its request, so each can be counted by reason.
 * A block of their own, so that codes added above never renumber them.
 */
enum {
    GW_EMB_PROTOCOL = GW_EBASE + 100, /* MBAP protocol id is not 0 */
    GW_EMB_LENGTH,                    /* MBAP length out of range */
    GW_EMB_BYTECOUNT,                 /* byte count disagrees with the MBAP length */
    GW_EMB_FUNCTION,                  /* function code the codec does not read */
    GW_EMB_EXCEPTION_LENGTH,          /* exception response of the wrong length */
    GW_EMB_QUANTITY,                  /* request quantity 0, too large, or past 65535 */
    GW_EMB_TID,                       /* response to another transaction */
    GW_EMB_UNIT,                      /* response from another unit */
    GW_EMB_FC,                        /* response to another function */
    GW_EMB_COUNT,                     /* response byte count does not fit the quantity */
    GW_EMB_ECHO,                      /* write response echoes another address or value */
};

/* Returns a static, human-readable description of a negative (or positive)
 * error code. Any thread. */
const char *gw_strerror(int err);

#endif

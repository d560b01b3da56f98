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
 * The Modbus codecs' reasons (adapters/modbus_codec.h names them MB_E... and
 * MB_MISMATCH_...): one per malformed-frame class, one per way a response can
 * fail to answer its request, and one per reason RTU bytes are not a frame,
 * so each can be counted by reason. A block of their own, so that codes added
 * above never renumber them; new ones go at its end.
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
    GW_EMB_CRC,                       /* RTU frame whose CRC is wrong */
    GW_EMB_TRUNCATED,                 /* RTU frame cut short */
    GW_EMB_GARBAGE,                   /* RTU bytes that start no response frame */
};

/* Returns a static, human-readable description of a negative (or positive)
 * error code. Any thread. */
const char *gw_strerror(int err);

#endif

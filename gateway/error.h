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

/* Returns a static, human-readable description of a negative (or positive)
 * error code. Any thread. */
const char *gw_strerror(int err);

#endif

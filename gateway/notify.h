/*
 * The service manager protocol (sd_notify): READY=1 once the configuration
 * is loaded and the loop runs, STATUS= with a one-line summary, WATCHDOG=1
 * from the loop when the unit sets WatchdogSec=, RELOADING=1 and STOPPING=1.
 * Every call is a no-op when not started by systemd (no NOTIFY_SOCKET).
 */
#ifndef GW_NOTIFY_H
#define GW_NOTIFY_H

#include "gateway/loop.h"

/* Arms the watchdog timer on the loop when WATCHDOG_USEC is set for us;
 * pings at half the interval, so a stalled loop is noticed and restarted. */
void gw_notify_init(gw_loop_t *loop);

/* Stops the watchdog timer. */
void gw_notify_fini(gw_loop_t *loop);

void gw_notify_ready(void);
void gw_notify_reloading(void);
void gw_notify_stopping(void);
void gw_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

/* sd_notify from the loop thread; see notify.h. */
#include "gateway/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "gateway/clock.h"
#include "gateway/log.h"

static gw_timer_t watchdog;
static uint64_t watchdog_ms; /* 0: no watchdog */

/* The ping comes from a loop timer: if the loop stalls, the pings stop and
 * systemd restarts the service, which is the point. */
static void watchdog_due(gw_timer_t *t, void *arg)
{
    gw_loop_t *loop = arg;

    sd_notify(0, "WATCHDOG=1");
    gw_timer_start(loop, t, gw_clock_now_ms() + watchdog_ms);
}

void gw_notify_init(gw_loop_t *loop)
{
    uint64_t usec = 0;

    gw_timer_init(&watchdog, watchdog_due, loop);
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return;
    watchdog_ms = usec / 2000 ? usec / 2000 : 1;
    gw_info("systemd watchdog: pinging every %llu ms", (unsigned long long)watchdog_ms);
    gw_timer_start(loop, &watchdog, gw_clock_now_ms() + watchdog_ms);
}

void gw_notify_fini(gw_loop_t *loop)
{
    gw_timer_stop(loop, &watchdog);
}

void gw_notify_ready(void)
{
    sd_notify(0, "READY=1");
}

void gw_notify_reloading(void)
{
    sd_notify(0, "RELOADING=1");
}

void gw_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}

void gw_notify_status(const char *fmt, ...)
{
    char line[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    sd_notifyf(0, "STATUS=%s", line);
}

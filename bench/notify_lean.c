/*
 * notify_lean: a what-if for bench/footprint, linked only into the bench
 * variant `sensorbridge_lean` in place of gateway/notify.c.
 *
 * gateway/notify.c uses libsystemd for sd_notify(), which maps libsystemd
 * and, through it, libgcrypt, libgpg-error, liblz4, liblzma, libzstd and
 * libcap. The protocol itself is one datagram on the AF_UNIX socket named by
 * $NOTIFY_SOCKET ('@' for the abstract namespace); this file speaks it
 * directly, with the same behaviour (READY, RELOADING, STOPPING, STATUS, and
 * WATCHDOG=1 from a loop timer at half of $WATCHDOG_USEC when
 * $WATCHDOG_PID is ours or unset).
 */
#include "gateway/notify.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gateway/clock.h"
#include "gateway/log.h"

static gw_timer_t watchdog;
static uint64_t watchdog_ms;

static void notify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len;
    int fd;

    if (!path || (path[0] != '/' && path[0] != '@') || (len = strlen(path)) >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    (void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    close(fd);
}

static void watchdog_due(gw_timer_t *t, void *arg)
{
    gw_loop_t *loop = arg;

    notify("WATCHDOG=1");
    gw_timer_start(loop, t, gw_clock_now_ms() + watchdog_ms);
}

void gw_notify_init(gw_loop_t *loop)
{
    const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    unsigned long long us;

    gw_timer_init(&watchdog, watchdog_due, loop);
    if (!usec || (pid && strtol(pid, NULL, 10) != (long)getpid()))
        return;
    us = strtoull(usec, NULL, 10);
    if (us == 0)
        return;
    watchdog_ms = us / 2000 ? us / 2000 : 1;
    gw_info("systemd watchdog: pinging every %llu ms", (unsigned long long)watchdog_ms);
    gw_timer_start(loop, &watchdog, gw_clock_now_ms() + watchdog_ms);
}

void gw_notify_fini(gw_loop_t *loop)
{
    gw_timer_stop(loop, &watchdog);
}

void gw_notify_ready(void)
{
    notify("READY=1");
}

void gw_notify_reloading(void)
{
    notify("RELOADING=1");
}

void gw_notify_stopping(void)
{
    notify("STOPPING=1");
}

void gw_notify_status(const char *fmt, ...)
{
    char line[256 + 8] = "STATUS=";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line + 7, sizeof(line) - 7, fmt, ap);
    va_end(ap);
    notify(line);
}

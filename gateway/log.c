/*
 * Logging to stderr; see log.h. One write(2) per line keeps lines from
 * different threads (Paho's callbacks log too) from interleaving.
 */
#include "gateway/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gw_log_level_t log_level = GW_LOG_INFO;
static int log_journal; /* stderr is the journal: "<N>" prefixes */

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int syslog_prio[] = {3, 4, 6, 7};

/* JOURNAL_STREAM is "DEV:INODE" of the journal's stream; it only applies when
 * it names our stderr (a child that redirected stderr must not use it). */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
        return 0;
    if (fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void gw_log_init(void)
{
    log_journal = stderr_is_journal();
}

void gw_log_set_level(gw_log_level_t level)
{
    log_level = level;
}

gw_log_level_t gw_log_get_level(void)
{
    return log_level;
}

int gw_log_level_parse(const char *name, gw_log_level_t *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (gw_log_level_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

void gw_log(gw_log_level_t level, const char *fmt, ...)
{
    char line[1024];
    int n;
    va_list ap;

    if (level > log_level)
        return;
    if (log_journal)
        n = snprintf(line, sizeof(line), "<%d>", syslog_prio[level]);
    else
        n = snprintf(line, sizeof(line), "sensorbridge[%ld]: %s: ", (long)getpid(),
                     level_names[level]);
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* A failed write to stderr has nowhere to be reported. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

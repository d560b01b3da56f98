/*
 * Logging to stderr for a person to read.
 *
 * Lines look like "sensorbridge[pid]: warn: message" on a terminal. When stderr
 * is connected to the systemd journal (JOURNAL_STREAM matches stderr's device
 * and inode), each line starts with a "<N>" syslog priority prefix instead, so
 * journalctl shows the right priority without a timestamp of our own.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

typedef enum {
    GW_LOG_ERROR = 0,
    GW_LOG_WARN,
    GW_LOG_INFO,
    GW_LOG_DEBUG,
} gw_log_level_t;

/* Decides the output style (journal or terminal). Call once at start-up. */
void gw_log_init(void);

void gw_log_set_level(gw_log_level_t level);
gw_log_level_t gw_log_get_level(void);

/* Parses "error", "warn", "info", "debug". Returns 0 or -EINVAL. */
int gw_log_level_parse(const char *name, gw_log_level_t *out);

/* Writes one line. Any thread (one write(2) per line). */
void gw_log(gw_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define gw_err(...) gw_log(GW_LOG_ERROR, __VA_ARGS__)
#define gw_warn(...) gw_log(GW_LOG_WARN, __VA_ARGS__)
#define gw_info(...) gw_log(GW_LOG_INFO, __VA_ARGS__)
#define gw_debug(...)                                                                              \
    do {                                                                                           \
        if (gw_log_get_level() >= GW_LOG_DEBUG)                                                    \
            gw_log(GW_LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

#endif

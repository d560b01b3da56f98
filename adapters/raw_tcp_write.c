/*
 * Write-back for line devices: a command for a writable sensor sends one
 * line, rendered from the adapter's `command` template (docs/raw_tcp.md,
 * docs/commands.md).
 *
 * A line device says nothing back that the gateway could read as an
 * answer, so a command is done once its whole line is written to the
 * socket. Client mode writes to the device's one connection. Server mode
 * writes to the connection that last sent a reading of the sensor: a slot
 * index and that connection's generation, so a device that went away is
 * "not connected" even when another device has taken its slot since.
 *
 * Each connection holds at most one command line; a second command while
 * the first is still being written is refused as busy, never queued, so a
 * stalled device cannot pile up memory. A line the socket does not take at
 * once waits for EPOLLOUT (raw_tcp.c), after the rest of a poll request and
 * before the next one, so the two never interleave on the wire. Loop thread
 * only.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "adapters/raw_tcp.h"
#include "gateway/command_json.h"

enum { PH_NONE = -1, PH_SENSOR, PH_VALUE, PH_UNKNOWN };

/* What starts at s: a placeholder ("{name}", *len its length, braces
 * included) or PH_NONE (a brace that is text). */
static int placeholder_at(const char *s, size_t *len)
{
    size_t k = 1;

    if (s[0] != '{')
        return PH_NONE;
    while ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') ||
           (s[k] >= '0' && s[k] <= '9') || s[k] == '_')
        k++;
    if (k == 1 || s[k] != '}')
        return PH_NONE;
    *len = k + 1;
    if (*len == 8 && strncmp(s, "{sensor}", 8) == 0)
        return PH_SENSOR;
    if (*len == 7 && strncmp(s, "{value}", 7) == 0)
        return PH_VALUE;
    return PH_UNKNOWN;
}

const char *rtcp_command_check(const char *tmpl, size_t *at)
{
    size_t len;

    if (!tmpl[0]) {
        *at = 0;
        return "empty";
    }
    for (size_t i = 0; tmpl[i]; i++) {
        if (placeholder_at(tmpl + i, &len) == PH_UNKNOWN) {
            *at = i;
            return "unknown placeholder";
        }
    }
    return NULL;
}

/* The shortest of %.15g/%.16g/%.17g that reads back as d (as readings are
 * published), so 21.5 stays 21.5 and 0.1 stays 0.1. */
static int shortest(double d, char *out, size_t cap)
{
    int n = 0;

    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, cap, "%.*g", prec, d);
        if (n < 0 || (size_t)n >= cap || strtod(out, NULL) == d)
            break;
    }
    return n;
}

/* A string goes to the device as it is, but must not end the line early
 * or carry bytes a line protocol cannot take. */
static const char *string_problem(const cj_value_t *v, const char *delim)
{
    for (size_t i = 0; i < v->s_len; i++) {
        unsigned char c = (unsigned char)v->s[i];

        if (c < 0x20 || c == 0x7f)
            return "string has a control character";
    }
    if (delim && delim[0] && strstr(v->s, delim))
        return "string contains the line delimiter";
    return NULL;
}

/* The value as text in buf, or *s_out pointing at the command's string. */
static int value_text(const cj_value_t *v, const char *delim, char *buf, size_t cap,
                      const char **s_out, size_t *len, const char **why)
{
    int n;

    *s_out = buf;
    switch (v->kind) {
    case CJ_BOOL:
        n = snprintf(buf, cap, "%s", v->b ? "true" : "false");
        break;
    case CJ_NUMBER:
        if (v->is_int)
            n = snprintf(buf, cap, "%s%llu", v->neg && v->mag ? "-" : "",
                         (unsigned long long)v->mag);
        else if (!isfinite(v->d)) { /* too large for a double */
            *why = "number out of range";
            return -EINVAL;
        } else
            n = shortest(v->d, buf, cap);
        break;
    case CJ_STRING:
        if ((*why = string_problem(v, delim)) != NULL)
            return -EINVAL;
        *s_out = v->s;
        *len = v->s_len;
        return 0;
    default:
        *why = "\"value\" must be a number, true, false or a string";
        return -EINVAL;
    }
    if (n < 0 || (size_t)n >= cap) {
        *why = "number out of range";
        return -EINVAL;
    }
    *len = (size_t)n;
    return 0;
}

ssize_t rtcp_command_render(const char *tmpl, const char *sensor, const cj_value_t *v,
                            const char *delim, char *out, size_t cap, const char **why)
{
    char num[40];
    const char *val;
    size_t val_len, o = 0;

    if (value_text(v, delim, num, sizeof(num), &val, &val_len, why) != 0)
        return -EINVAL;
    for (const char *p = tmpl; *p;) {
        const char *add = p;
        size_t len = 1, ph_len;

        switch (placeholder_at(p, &ph_len)) {
        case PH_SENSOR:
            add = sensor, len = strlen(sensor), p += ph_len;
            break;
        case PH_VALUE:
            add = val, len = val_len, p += ph_len;
            break;
        default:
            p++;
            break;
        }
        if (len >= cap - o) {
            *why = "command too long";
            return -EINVAL;
        }
        memcpy(out + o, add, len);
        o += len;
    }
    out[o] = '\0';
    return (ssize_t)o;
}

/* --- the adapter's side ---------------------------------------------------- */

const char *rtcp_writable(const void *self, size_t i)
{
    const rtcp_t *r = self;

    return i < r->n_writables ? r->writables[i].name : NULL;
}

void rtcp_note_sender(rtcp_t *r, const rtcp_seq_t *s, const rtcp_conn_t *c)
{
    rtcp_writable_t *w;

    if (!r->server || s->writable < 0)
        return;
    w = &r->writables[s->writable];
    w->slot = (size_t)(c - r->conns);
    w->gen = c->gen;
}

/* The connection a command for writable i goes to, or NULL. */
static rtcp_conn_t *target(rtcp_t *r, size_t i)
{
    const rtcp_writable_t *w = &r->writables[i];
    rtcp_conn_t *c;

    if (!r->running)
        return NULL;
    if (!r->server)
        return r->state == RTCP_CONNECTED && r->client.fd >= 0 ? &r->client : NULL;
    if (w->gen == 0)
        return NULL;
    c = &r->conns[w->slot];
    return c->fd >= 0 && c->gen == w->gen ? c : NULL;
}

void rtcp_write(void *self, size_t i, gw_command_t *cmd)
{
    rtcp_t *r = self;
    char line[RTCP_MAX_COMMAND];
    const char *why = NULL;
    rtcp_conn_t *c;
    ssize_t n;

    if (i >= r->n_writables) {
        gw_command_refuse(cmd, "not writable");
        return;
    }
    n = rtcp_command_render(r->command, r->writables[i].name, gw_command_value(cmd),
                            r->lp_opts.delimiter, line, sizeof(line), &why);
    if (n < 0) {
        gw_command_refuse(cmd, why);
        return;
    }
    if (!(c = target(r, i))) {
        gw_command_refuse(cmd, "not connected");
        return;
    }
    if (c->cmd) {
        gw_command_refuse(cmd, "busy");
        return;
    }
    if (!(c->tx = malloc((size_t)n ? (size_t)n : 1))) {
        gw_command_refuse(cmd, "out of memory");
        return;
    }
    memcpy(c->tx, line, (size_t)n);
    c->tx_len = (size_t)n;
    c->tx_off = 0;
    c->cmd = cmd;
    rtcp_conn_send(c);
}

/* Forgets c's command line; returns the command. */
static gw_command_t *take(rtcp_conn_t *c)
{
    gw_command_t *cmd = c->cmd;

    free(c->tx);
    c->tx = NULL;
    c->cmd = NULL;
    c->tx_len = c->tx_off = 0;
    return cmd;
}

int rtcp_conn_flush(rtcp_conn_t *c)
{
    while (c->cmd && c->tx_off < c->tx_len) {
        ssize_t n =
            send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n < 0)
            return -errno;
        c->tx_off += (size_t)n;
    }
    if (c->cmd)
        gw_command_done(take(c));
    return 0;
}

void rtcp_conn_abort(rtcp_conn_t *c, const char *cause)
{
    bool partly = c->tx_off > 0;

    if (!c->cmd)
        return;
    if (partly) /* the device has a part of the line */
        gw_command_fail(take(c), cause ? cause : "connection closed while sending");
    else
        gw_command_refuse(take(c), cause ? cause : "not connected");
}

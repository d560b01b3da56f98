/*
 * The raw TCP adapter's private types, shared by its configuration reader
 * (raw_tcp_config.c) and its connection handling (raw_tcp.c).
 */
#ifndef ADP_RAW_TCP_H
#define ADP_RAW_TCP_H

#include <netdb.h>
#include <stdint.h>
#include <sys/types.h>

#include "adapters/adapter.h"
#include "adapters/line_parser.h"
#include "adapters/net.h"

typedef struct rtcp rtcp_t;

/* One TCP connection: the device (client mode) or one pushing device (server
 * mode). */
typedef struct {
    rtcp_t *owner;
    int fd;
    gw_io_t io;
    gw_timer_t idle; /* server mode: closes a silent connection */
    lp_framer_t *framer;
    bool paused;  /* reading stopped while the outbox is blocked */
    char *peer;   /* --test: the device's "address:port", for the table */
    uint64_t gen; /* tells this connection from a later one in the same slot */
    /* A command line being written (raw_tcp_write.c): the command, answered
     * once all of it is written; NULL: none. */
    gw_command_t *cmd;
    char *tx;
    size_t tx_len, tx_off;
} rtcp_conn_t;

/* Per-sensor sequence numbers for device-supplied names: a small open
 * addressing table, bounded by max_sensors so a device cannot grow it
 * without limit. */
typedef struct {
    char *name;
    uint64_t seq;
    int32_t writable; /* index in rtcp_t.writables, or -1 */
} rtcp_seq_t;

/* A sensor that takes commands. In server mode the command goes to the
 * connection that last sent a reading of it: conns[slot] while its gen is
 * still gen (0: none has yet). */
typedef struct {
    const char *name;
    size_t slot;
    uint64_t gen;
} rtcp_writable_t;

/* The longest command line, delimiter included. */
#define RTCP_MAX_COMMAND 1024

typedef enum { RTCP_IDLE, RTCP_CONNECTING, RTCP_CONNECTED, RTCP_BACKOFF } rtcp_state_t;

typedef struct {
    uint64_t connections;      /* accepted (server) or established (client) */
    uint64_t refused_clients;  /* server: over max_clients */
    uint64_t idle_closed;      /* server: closed after idle_timeout */
    uint64_t reconnects;       /* client */
    uint64_t unknown_sensors;  /* over max_sensors */
    uint64_t requests_skipped; /* client: request due while not connected, paused, still
                                  sending the previous one, or skipped by a late loop */
} rtcp_stats_t;

struct rtcp {
    gw_ctx_t *ctx;
    /* configuration */
    bool server;
    const char *host;
    uint16_t port;
    const char *request; /* client: sent every interval; NULL: streaming device */
    size_t request_len;
    uint64_t interval_ms;
    bool aligned; /* phase: aligned (requests on multiples of the interval) */
    uint64_t connect_timeout_ms;
    uint64_t backoff_min_ms;
    uint64_t backoff_max_ms;
    size_t max_clients;
    uint64_t idle_timeout_ms;
    size_t max_sensors;
    lp_options_t lp_opts;
    lp_parser_t *parser;
    const char *command; /* the command line template; NULL: no commands */
    rtcp_writable_t *writables;
    size_t n_writables;
    /* runtime */
    adp_connector_t connector; /* client: resolves and connects */
    adp_resolve_t *lookup;     /* server: the listen address being resolved */
    bool running;
    bool paused;
    rtcp_state_t state;       /* client mode */
    rtcp_conn_t client;       /* client mode: the one connection */
    gw_timer_t state_timer;   /* client: backoff */
    gw_timer_t request_timer; /* client: the request schedule */
    uint64_t next_request_ms;
    size_t tx_off; /* bytes of the current request sent; request_len: none pending */
    uint64_t backoff_ms;
    uint64_t rng;
    const char *last_error;
    int listen_fd; /* server mode */
    gw_io_t listen_io;
    rtcp_conn_t *conns; /* server: max_clients slots, fd < 0 when free */
    size_t n_conns;
    uint64_t next_gen; /* the last connection's gen */
    rtcp_seq_t *seqs;
    size_t seq_cap; /* power of two, > max_sensors */
    size_t n_seqs;
    uint64_t last_warn_ms; /* rate limit for rejected-line warnings */
    uint64_t suppressed;   /* rejections not logged since the last warning */
    rtcp_stats_t stats;
};

/* Reads the adapter's keys into r (raw_tcp_config.c). */
int rtcp_read_config(rtcp_t *r, const cfg_adapter_t *cfg, cfg_error_t *err);

/* Watches a connected socket fd with c (its framer made on first use). 0,
 * or -errno with c->fd already fd: the caller then calls rtcp_conn_close()
 * (raw_tcp.c). */
int rtcp_conn_open(rtcp_t *r, rtcp_conn_t *c, int fd);

/* Ends c's connection, if any: reports a partial line, answers a command
 * line still being written (rtcp_conn_abort), closes the fd. */
void rtcp_conn_close(rtcp_conn_t *c);

/* Server mode: listens on host:port, at once for a numeric address, after
 * resolving it off the loop thread for a name (raw_tcp_server.c). 0 or
 * -errno. */
int rtcp_server_listen(rtcp_t *r);

/* --- commands (raw_tcp_write.c); loop thread only ------------------------- */

struct cj_value;

/*
 * Checks a command template: "{sensor}" and "{value}" are placeholders, any
 * other "{name}" (letters, digits, '_') is an error; other braces are text,
 * so a template may be JSON. NULL when valid, else a static description
 * ("empty", "unknown placeholder"); *at is then the offset of the fault.
 */
const char *rtcp_command_check(const char *tmpl, size_t *at);

/*
 * Renders the line a command sends: tmpl (checked) with {sensor} and {value}
 * replaced. The value is text: a number as its JSON (an integer exactly,
 * else the shortest form that reads back), true or false, a string as it
 * is. A string with a control character or with delim is refused. Returns
 * the length (out NUL-terminated) or -EINVAL with *why: "string has a
 * control character", "string contains the line delimiter", "number out
 * of range", "command too long" (more than cap - 1 bytes), "\"value\" must
 * be a number, true, false or a string".
 */
ssize_t rtcp_command_render(const char *tmpl, const char *sensor, const struct cj_value *v,
                            const char *delim, char *out, size_t cap, const char **why);

/* The adapter's writable() and write() (adapter.h). */
const char *rtcp_writable(const void *self, size_t i);
void rtcp_write(void *self, size_t i, gw_command_t *cmd);

/* Writes what is left of c's command line and answers the command once all
 * of it is out. 0 (done or waiting for EPOLLOUT) or -errno: the connection
 * failed; the caller closes it. */
int rtcp_conn_flush(rtcp_conn_t *c);

/* The connection closes: a command not written at all is refused, one
 * partly written has failed, with cause or (NULL) "not connected" and
 * "connection closed while sending". */
void rtcp_conn_abort(rtcp_conn_t *c, const char *cause);

/* A reading of sensor slot s came in on c (server mode): commands for it go
 * to c from now on. */
void rtcp_note_sender(rtcp_t *r, const rtcp_seq_t *s, const rtcp_conn_t *c);

/* --- connections (raw_tcp.c), for raw_tcp_write.c ------------------------- */

/* Sends what c has waiting (client: the rest of a request first) and
 * watches for EPOLLOUT while something is left; a failed send closes the
 * connection (client: reconnects). */
void rtcp_conn_send(rtcp_conn_t *c);

#endif

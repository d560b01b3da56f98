/*
 * Sans-IO framing and parsing of line-oriented device output (JSON, CSV or
 * key=value lines) into readings. Nothing here touches a file descriptor,
 * allocates per line (except cJSON's own allocations for JSON lines) or logs:
 * the raw TCP adapter owns the socket, feeds the bytes in and logs
 * (rate-limited) from the counters and the reason names. User-facing rules:
 * docs/raw_tcp.md.
 *
 * Two objects:
 *   lp_parser_t  the validated options and the counters; one per adapter
 *                instance, shared by its connections (or one per connection
 *                for per-connection counters).
 *   lp_framer_t  the bytes of one connection's unfinished line; one per
 *                connection, borrowing a parser that must outlive it.
 *
 * Usage:
 *   lp_options_t opt;
 *   lp_options_init(&opt);              defaults: json, "\n", 4096 bytes
 *   opt.format = LP_FORMAT_KV; ...      from the configuration
 *   why = lp_options_check(&opt);       NULL or a static problem description
 *   lp_parser_new(&opt, &parser);       copies the options
 *   lp_framer_new(parser, &sink, &framer);
 *   lp_framer_feed(framer, buf, n);     on every read; callbacks run inside
 *   lp_framer_finish(framer);           at disconnect: reports a partial line
 *   lp_framer_free(framer); lp_parser_free(parser);
 *
 * Everything runs on one thread (the loop thread); nothing is reentrant: a
 * callback must not feed, finish or free the framer or parser that called it.
 */
#ifndef ADP_LINE_PARSER_H
#define ADP_LINE_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/reading.h"

#define LP_DEFAULT_MAX_LINE 4096
#define LP_MAX_LINE_LIMIT (1024 * 1024) /* largest accepted max_line */
#define LP_MAX_DELIMITER 8              /* bytes */
#define LP_MAX_COLUMNS 32
#define LP_MAX_NAME 128 /* bytes of a final sensor name, prefix included */
#define LP_MAX_PREFIX 64
#define LP_MAX_KEY 63 /* bytes of a JSON key name or of default_unit */

typedef enum {
    LP_FORMAT_JSON = 0,
    LP_FORMAT_CSV,
    LP_FORMAT_KV,
} lp_format_t;

/* The role of one CSV column. */
typedef enum {
    LP_COL_IGNORE = 0, /* "_" */
    LP_COL_SENSOR,
    LP_COL_VALUE,
    LP_COL_UNIT,
    LP_COL_TS,
} lp_role_t;

/*
 * Why a line, pair or reading was rejected. The names (lp_reason_name) are
 * stable lower-case identifiers for logs and metrics. Blank lines are not an
 * error: they are skipped and only counted in lp_counters_t.blank.
 */
typedef enum {
    LP_OK = 0,
    LP_TOO_LONG,      /* "too_long": more than max_line bytes before the delimiter */
    LP_INCOMPLETE,    /* "incomplete": a partial line when the connection ended */
    LP_BAD_JSON,      /* "bad_json": not valid JSON, or text after the value */
    LP_NOT_OBJECT,    /* "not_object": valid JSON but not an object */
    LP_MISSING_FIELD, /* "missing_field": no sensor/value key, too few columns, empty value */
    LP_BAD_NUMBER,    /* "bad_number": ts not a number or out of range; nan, inf */
    LP_BAD_VALUE,     /* "bad_value": null/array/object value; string not UTF-8 or with NUL */
    LP_BAD_UNIT,      /* "bad_unit": unit not a string, not UTF-8 or with control chars */
    LP_BAD_NAME,      /* "bad_name": empty, too long, control character, invalid UTF-8 */
    LP_BAD_KV,        /* "bad_kv": a kv token without '=', with an empty key or value */
    LP_REASON_COUNT
} lp_reason_t;

/* Stable lower-case name of a reason ("ok", "too_long", ...); "unknown" when
 * out of range. Static strings. */
const char *lp_reason_name(int reason);

/*
 * Options; lp_options_init() sets the defaults. Strings are borrowed only
 * until lp_parser_new() returns (it copies them). NULL or "" disables the
 * optional strings (unit_key, ts_key, sensor_prefix, default_unit).
 */
typedef struct {
    lp_format_t format;
    const char *delimiter; /* 1..LP_MAX_DELIMITER bytes; "\n" also strips one '\r' */
    size_t max_line;       /* 1..LP_MAX_LINE_LIMIT bytes, delimiter excluded */
    /* json: the device's key names */
    const char *sensor_key; /* default "sensor" */
    const char *value_key;  /* default "value" */
    const char *unit_key;   /* default "unit" */
    const char *ts_key;     /* default "ts" */
    /* csv */
    lp_role_t columns[LP_MAX_COLUMNS];
    size_t ncolumns; /* exactly one sensor and one value column, at most one unit and ts */
    char separator;  /* default ',' */
    /* every format */
    const char *sensor_prefix; /* prepended to every sensor name */
    const char *default_unit;  /* when the line carries no unit */
} lp_options_t;

void lp_options_init(lp_options_t *opt);

/* NULL when the options are usable, else a static description of the first
 * problem (for the configuration error message). */
const char *lp_options_check(const lp_options_t *opt);

/* "json", "csv", "kv" → lp_format_t; "sensor", "value", "unit", "ts", "_" →
 * lp_role_t. -EINVAL for any other name. */
int lp_format_parse(const char *name);
int lp_role_parse(const char *name);

/*
 * One accepted reading. Every pointer is valid only during the callback.
 * kind is GW_VALUE_DOUBLE, GW_VALUE_BOOL or GW_VALUE_STRING. sensor passes
 * gw_topic_level_check(); value.s and unit are NUL-terminated valid UTF-8.
 */
typedef struct {
    const char *sensor;
    gw_value_kind_t kind;
    union {
        double d;
        bool b;
        const char *s;
    } value;
    const char *unit; /* NULL: none (and no default_unit) */
    bool has_ts;      /* false: the adapter stamps the reading itself */
    int64_t ts_ms;    /* ms since the epoch when has_ts */
} lp_reading_t;

/*
 * Where results go. reading() gets each accepted reading; error() (may be
 * NULL) gets each rejection with the offending line's raw bytes: arbitrary,
 * not NUL-terminated, to be escaped before logging; for too_long the first
 * max_line bytes, for incomplete the partial line. Both are called on the
 * thread that feeds.
 */
typedef struct {
    void (*reading)(void *ctx, const lp_reading_t *r);
    void (*error)(void *ctx, lp_reason_t reason, const char *line, size_t len);
    void *ctx;
} lp_sink_t;

/* Cumulative, per parser. */
typedef struct {
    uint64_t lines;                   /* non-blank lines parsed */
    uint64_t lines_ok;                /* of those, lines without any error */
    uint64_t blank;                   /* blank (whitespace-only) lines skipped */
    uint64_t readings;                /* readings delivered */
    uint64_t errors[LP_REASON_COUNT]; /* rejections by reason; errors[LP_OK] stays 0 */
} lp_counters_t;

typedef struct lp_parser lp_parser_t;
typedef struct lp_framer lp_framer_t;

/* Copies and checks the options. 0, -EINVAL (lp_options_check fails) or
 * -ENOMEM. The caller owns *out. */
int lp_parser_new(const lp_options_t *opt, lp_parser_t **out);

/* NULL-safe. No framer may still use the parser. */
void lp_parser_free(lp_parser_t *p);

/* Valid as long as the parser. */
const lp_counters_t *lp_parser_counters(const lp_parser_t *p);

/*
 * Parses one line (delimiter already removed; no '\r' stripping) without a
 * framer, e.g. one datagram. The line is copied, so it may be const and
 * arbitrary bytes; longer than max_line is too_long. Returns LP_OK or the
 * first rejection's reason (a kv line can reject several pairs and still
 * deliver others).
 */
lp_reason_t lp_parse_line(lp_parser_t *p, const char *line, size_t len, const lp_sink_t *sink);

/* A framer for one connection: delimiter and max_line from the parser, its
 * buffer allocated once here. p is borrowed; sink is copied. 0 or -ENOMEM. */
int lp_framer_new(lp_parser_t *p, const lp_sink_t *sink, lp_framer_t **out);

/* NULL-safe. Drops a partial line silently (call lp_framer_finish first). */
void lp_framer_free(lp_framer_t *f);

/* Feeds n bytes of the stream in any split; every complete line is parsed
 * and delivered before it returns. */
void lp_framer_feed(lp_framer_t *f, const void *data, size_t n);

/* End of stream: reports a non-blank partial line as incomplete (not parsed)
 * and resets the framer for the next connection. */
void lp_framer_finish(lp_framer_t *f);

#endif

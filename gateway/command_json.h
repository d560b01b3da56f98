/*
 * The payload of a command: a bare JSON value (`21.5`, `true`, `"text"`) or
 * a flat object with the value and optional keys (`{"value": 21.5, "id":
 * "abc", "ts": 1765000000000}`). Sans-IO, no allocation: strings are
 * unescaped into the caller's buffer.
 *
 * Why not cJSON (which the line parser uses): a command that writes a
 * uint64 or int64 register must be exact, and cJSON keeps numbers only as
 * doubles, which lose integers above 2^53 without saying so. Here a number
 * keeps its integer value when its text is an integer literal, and the
 * accepted shapes are few enough for a small, fully tested scanner.
 */
#ifndef GW_COMMAND_JSON_H
#define GW_COMMAND_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CJ_NULL,
    CJ_BOOL,
    CJ_NUMBER,
    CJ_STRING,
} cj_kind_t;

typedef struct cj_value {
    cj_kind_t kind;
    bool b;
    double d;      /* CJ_NUMBER: strtod of the text (may be +-inf: too large) */
    bool is_int;   /* the text is an integer literal within 64 bits: */
    bool neg;      /* ... its sign */
    uint64_t mag;  /* ... and magnitude (|INT64_MIN| fits) */
    const char *s; /* CJ_STRING: unescaped UTF-8 in the caller's buffer, NUL-terminated */
    size_t s_len;
} cj_value_t;

typedef struct {
    cj_value_t value;
    bool has_id;
    cj_value_t id; /* a string or a number, echoed in the result */
    bool has_ts;
    int64_t ts_ms; /* "ts": when the command was made, ms since the epoch */
} cj_command_t;

/*
 * Parses a command payload of n bytes. Strings (the value's and the id's)
 * are unescaped into buf (cap bytes; the payload's length + 2 is always
 * enough). Returns 0, or -EINVAL with *why a short static description for
 * the result message: "not JSON", "expected a value or an object with
 * \"value\"", "no \"value\" in the object", "\"value\" must be a number,
 * true, false or a string", "duplicate key", "\"ts\" must be a number of
 * milliseconds", "\"id\" must be a string or a number", "not valid UTF-8".
 * Unknown keys in the object are ignored (room for later additions). On
 * an error, out->id is kept when it was read before the error (has_id), so
 * the refusal can still be answered with it.
 */
int cj_parse_command(const char *payload, size_t n, char *buf, size_t cap, cj_command_t *out,
                     const char **why);

/* Writes v as JSON into out (cap bytes, NUL-terminated): for echoing an id.
 * Returns the length or -ENOSPC. */
int cj_write_value(const cj_value_t *v, char *out, size_t cap);

#endif

/*
 * The normalized reading every adapter produces, its compact JSON payload and
 * the MQTT topic it is published on.
 *
 * Payload (keys in this order; "error" only when quality is bad):
 * {"sensor":"TEMP_00","adapter":"sim","seq":41,"ts":1763736903123,
 *  "value":49.87,"unit":"celsius","quality":"good"}
 */
#ifndef GW_READING_H
#define GW_READING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    GW_VALUE_NONE = 0, /* no value (a failed read): "value":null */
    GW_VALUE_DOUBLE,
    GW_VALUE_INT,
    GW_VALUE_UINT,
    GW_VALUE_BOOL,
    GW_VALUE_STRING,
} gw_value_kind_t;

typedef struct {
    const char *sensor;  /* required */
    const char *adapter; /* required */
    uint64_t seq;        /* per sensor, from 1 */
    int64_t ts_ms;       /* wall clock, ms since the epoch */
    gw_value_kind_t kind;
    union {
        double d;
        int64_t i;
        uint64_t u;
        bool b;
        const char *s;
    } value;
    const char *unit;  /* NULL: no "unit" key */
    const char *error; /* NULL: quality good; else quality bad with this error */
    /* Per-reading overrides of the adapter's QoS and retain flag. */
    bool has_qos;
    uint8_t qos;
    bool has_retain;
    bool retain;
    /* Shown by `sensorbridge --test`, never published: the device the
     * reading came from when the adapter is not the device itself (a
     * connection of a raw_tcp server), and the Modbus registers the value
     * was decoded from. */
    const char *device;
    const uint16_t *raw;
    uint8_t n_raw;
    /* The point's place in the configuration, from 1 (0: none). An adapter
     * that gives it passes, for one order, always the same sensor pointer,
     * to a name that stays unchanged while the adapter runs: the publishing
     * stage then finds the point by the pair without reading the name. */
    uint32_t order;
    /* JSON members written after "value", each with its leading comma (a
     * window's summary); NULL: none. */
    const char *extra;
} gw_reading_t;

/*
 * Writes the JSON payload into buf (NUL-terminated). Strings are escaped per
 * RFC 8259; doubles use the shortest form that reads back to the same value;
 * NaN and infinities become null. Returns the length without the NUL, or
 * -ENOSPC if cap is too small.
 */
int gw_reading_to_json(const gw_reading_t *r, char *buf, size_t cap);

/* The reading's value alone, as it appears in the payload ("21.5", "true",
 * "\"text\"", "null"). Returns the length or -ENOSPC. */
int gw_reading_value_json(const gw_reading_t *r, char *buf, size_t cap);

/* s as a JSON string, quotes included. Returns the length or -ENOSPC. */
int gw_json_string(const char *s, char *buf, size_t cap);

/*
 * Topic templates: "{gateway}", "{adapter}" and "{sensor}" are replaced;
 * any other text is copied. gw_topic_check() returns NULL when the template is
 * valid, else a static description of the problem (unknown placeholder,
 * unbalanced brace, wildcard character, empty).
 */
const char *gw_topic_check(const char *tmpl);

/* Renders a checked template into buf. Returns the length or -ENOSPC. */
int gw_topic_render(const char *tmpl, const char *gateway, const char *adapter, const char *sensor,
                    char *buf, size_t cap);

/*
 * A name that becomes one topic level (gateway id, adapter or sensor name)
 * must be non-empty valid UTF-8 without '/', '+', '#' or control characters.
 * Returns NULL when valid, else a static description of the problem.
 */
const char *gw_topic_level_check(const char *name);

#endif

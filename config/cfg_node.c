/*
 * The typed accessors: how the common sections and every adapter read values.
 *
 * Each keyed accessor looks the key up in a mapping, marks it consumed, and
 * parses the value node. A NULL mapping behaves as an empty one, so an absent
 * optional section yields all defaults. Messages name the key when there is
 * one ("qos: expected an integer, got 'x'", "qos must be between 0 and 2,
 * got 3"), also for a node read on its own (cfg_node_int() on the value of
 * "sensors" still says "sensors"), and "value" for a sequence item.
 *
 * Scalars are read the same whatever their quoting: qos: "1" is 1. Booleans
 * are only true and false (YAML 1.1's yes/no/on/off are rejected, because
 * "no" as a sensor name becoming false is the classic YAML trap). An empty
 * plain value (key:) is never a string or a number.
 */
#include "config/cfg_internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/error.h"

#define MS_PER_S 1000ULL
#define MS_PER_M (60 * MS_PER_S)
#define MS_PER_H (60 * MS_PER_M)
#define KIB 1024ULL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

typedef struct {
    const char *name;
    uint64_t mult;
} unit_t;

/* Units are matched exactly, so their order only matters for display. */
static const unit_t duration_units[] = {
    {"ms", 1}, {"s", MS_PER_S}, {"m", MS_PER_M}, {"h", MS_PER_H}, {NULL, 0}};
static const unit_t size_units[] = {{"", 1},      {"B", 1},     {"KiB", KIB},
                                    {"MiB", MIB}, {"GiB", GIB}, {NULL, 0}};

static const char *text_of(const cfg_node_t *n)
{
    return n->u.text;
}

static size_t len_of(const cfg_node_t *n)
{
    return n->len;
}

static bool is_value(const cfg_node_t *n)
{
    return n->kind == CFG_SCALAR && !cfg_node_is_empty(n);
}

static int type_error(const cfg_node_t *n, const char *key, const char *expected, cfg_error_t *err)
{
    char buf[CFG_SHOW_CAP];

    if (!key)
        key = n->key;
    if (key)
        return cfg_node_error(n, err, "%s: expected %s, got %s", key, expected,
                              cfg_describe(n, buf));
    return cfg_node_error(n, err, "expected %s, got %s", expected, cfg_describe(n, buf));
}

/* lo or hi is NULL when that side is unbounded. The value is shown as written
 * (it parsed as a number, or overflowed while parsing). */
static int range_error(const cfg_node_t *n, const char *key, const char *lo, const char *hi,
                       cfg_error_t *err)
{
    char buf[CFG_SHOW_CAP];
    const char *what = key ? key : n->key ? n->key : "value";
    const char *got = cfg_describe(n, buf);
    size_t len = strlen(got);

    /* Strip the quotes: a number is shown bare, "got 3". */
    if (len >= 2 && got[0] == '\'') {
        memmove(buf, got + 1, len - 2);
        buf[len - 2] = '\0';
        got = buf;
    }
    if (lo && hi)
        return cfg_node_error(n, err, "%s must be between %s and %s, got %s", what, lo, hi, got);
    if (lo)
        return cfg_node_error(n, err, "%s must be at least %s, got %s", what, lo, got);
    if (hi)
        return cfg_node_error(n, err, "%s must be at most %s, got %s", what, hi, got);
    return cfg_node_error(n, err, "%s is out of range, got %s", what, got);
}

/* The index of key's pair in map, or -1 (keys are scalars: cfg_doc.c checks). */
static long find(const cfg_node_t *map, const char *key)
{
    size_t klen = strlen(key);

    if (!map || map->kind != CFG_MAPPING)
        return -1;
    for (size_t i = 0; i < map->len; i++) {
        const cfg_node_t *k = map->u.kids[2 * i];

        if (len_of(k) == klen && memcmp(text_of(k), key, klen) == 0)
            return (long)i;
    }
    return -1;
}

bool cfg_has(const cfg_node_t *map, const char *key)
{
    return find(map, key) >= 0;
}

const cfg_node_t *cfg_get_node(const cfg_node_t *map, const char *key)
{
    long i = find(map, key);

    if (!map || i < 0)
        return NULL;
    cfg_node_consumed(map)[i] = true;
    return map->u.kids[2 * i + 1];
}

/* The value of key, consumed, or *out = NULL when absent. An error when map
 * is not a mapping, so an adapter gets a message rather than all defaults. */
static int lookup(const cfg_node_t *map, const char *key, const cfg_node_t **out, cfg_error_t *err)
{
    *out = NULL;
    if (map && map->kind != CFG_MAPPING)
        return type_error(map, NULL, "a mapping", err);
    *out = cfg_get_node(map, key);
    return 0;
}

cfg_kind_t cfg_node_kind(const cfg_node_t *node)
{
    return (cfg_kind_t)node->kind;
}

size_t cfg_seq_len(const cfg_node_t *seq)
{
    if (!seq || seq->kind != CFG_SEQUENCE)
        return 0;
    return seq->len;
}

const cfg_node_t *cfg_seq_at(const cfg_node_t *seq, size_t i)
{
    if (i >= cfg_seq_len(seq))
        return NULL;
    return seq->u.kids[i];
}

static int node_string(const cfg_node_t *n, const char *key, const char **out, cfg_error_t *err)
{
    if (!is_value(n))
        return type_error(n, key, "a string", err);
    if (strlen(text_of(n)) != len_of(n))
        return cfg_node_error(n, err, "%s must not contain NUL characters",
                              key      ? key
                              : n->key ? n->key
                                       : "value");
    const cfg_doc_t *doc = cfg_node_doc(n);

    if (!doc->strings) {
        *out = text_of(n);
        return 0;
    }
    *out = cfg_strings_add(doc->strings, text_of(n), len_of(n));
    return *out ? 0 : -ENOMEM;
}

int cfg_node_string(const cfg_node_t *node, const char **out, cfg_error_t *err)
{
    return node_string(node, NULL, out, err);
}

int cfg_get_string(const cfg_node_t *map, const char *key, const char *def, const char **out,
                   cfg_error_t *err)
{
    const cfg_node_t *v;
    int rc = lookup(map, key, &v, err);

    if (rc < 0)
        return rc;
    if (!v) {
        *out = def;
        return 0;
    }
    return node_string(v, key, out, err);
}

/* A decimal integer, optional sign, nothing around it: 0, -EINVAL or
 * -ERANGE. strtoll alone would also take " 5", "5abc" and hex. */
static int parse_int(const char *s, size_t len, int64_t *out)
{
    const char *p = s + (len > 0 && (s[0] == '+' || s[0] == '-'));
    char *end;
    long long v;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (end != s + len)
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    *out = (int64_t)v;
    return 0;
}

static int node_int(const cfg_node_t *n, const char *key, int64_t min, int64_t max, int64_t *out,
                    cfg_error_t *err)
{
    char lo[24], hi[24];
    int64_t v = 0;
    int rc;

    if (!is_value(n))
        return type_error(n, key, "an integer", err);
    rc = parse_int(text_of(n), len_of(n), &v);
    if (rc == -EINVAL)
        return type_error(n, key, "an integer", err);
    if (rc == 0 && v >= min && v <= max) {
        *out = v;
        return 0;
    }
    snprintf(lo, sizeof(lo), "%lld", (long long)min);
    snprintf(hi, sizeof(hi), "%lld", (long long)max);
    return range_error(n, key, min == INT64_MIN ? NULL : lo, max == INT64_MAX ? NULL : hi, err);
}

int cfg_node_int(const cfg_node_t *node, int64_t min, int64_t max, int64_t *out, cfg_error_t *err)
{
    return node_int(node, NULL, min, max, out, err);
}

int cfg_get_int(const cfg_node_t *map, const char *key, int64_t min, int64_t max, int64_t def,
                int64_t *out, cfg_error_t *err)
{
    const cfg_node_t *v;
    int rc = lookup(map, key, &v, err);

    if (rc < 0)
        return rc;
    if (!v) {
        *out = def;
        return 0;
    }
    return node_int(v, key, min, max, out, err);
}

/* [+-] digits [. digits] [e [+-] digits], at least one mantissa digit: no
 * inf, nan or hex, which strtod would take. */
static bool is_decimal(const char *s, size_t len)
{
    size_t i = 0, digits = 0;

    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    }
    if (digits == 0)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp = 0;

        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            exp++;
        if (exp == 0)
            return false;
    }
    return i == len;
}

int cfg_get_double(const cfg_node_t *map, const char *key, double min, double max, double def,
                   double *out, cfg_error_t *err)
{
    const cfg_node_t *v;
    char lo[32], hi[32];
    double d;
    int rc = lookup(map, key, &v, err);

    if (rc < 0)
        return rc;
    if (!v) {
        *out = def;
        return 0;
    }
    if (!is_value(v) || !is_decimal(text_of(v), len_of(v)))
        return type_error(v, key, "a number", err);
    d = strtod(text_of(v), NULL);
    if (isfinite(d) && d >= min && d <= max) {
        *out = d;
        return 0;
    }
    snprintf(lo, sizeof(lo), "%g", min);
    snprintf(hi, sizeof(hi), "%g", max);
    return range_error(v, key, min <= -DBL_MAX ? NULL : lo, max >= DBL_MAX ? NULL : hi, err);
}

int cfg_get_bool(const cfg_node_t *map, const char *key, bool def, bool *out, cfg_error_t *err)
{
    const cfg_node_t *v;
    int rc = lookup(map, key, &v, err);

    if (rc < 0)
        return rc;
    if (!v) {
        *out = def;
        return 0;
    }
    if (is_value(v) && strcmp(text_of(v), "true") == 0)
        *out = true;
    else if (is_value(v) && strcmp(text_of(v), "false") == 0)
        *out = false;
    else
        return type_error(v, key, "true or false", err);
    return 0;
}

/* digits followed by exactly one of the units: 0, -EINVAL or -ERANGE. The
 * unit is checked before overflow so "99999999999999999999x" is a type
 * error, not a range error. */
static int parse_unit(const char *s, size_t len, const unit_t *units, uint64_t *out)
{
    uint64_t v = 0;
    bool overflow = false;
    size_t i;

    for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');

        if (v > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
    }
    if (i == 0)
        return -EINVAL;
    for (; units->name; units++) {
        if (strlen(units->name) == len - i && memcmp(units->name, s + i, len - i) == 0)
            break;
    }
    if (!units->name)
        return -EINVAL;
    if (overflow || v > UINT64_MAX / units->mult)
        return -ERANGE;
    *out = v * units->mult;
    return 0;
}

/* The largest unit that shows v exactly: 3600000 ms is "1h", 1500 is "1500ms". */
static void fmt_unit(char *buf, size_t cap, uint64_t v, const unit_t *units, size_t n,
                     const char *zero)
{
    if (v == 0) {
        snprintf(buf, cap, "%s", zero);
        return;
    }
    while (n-- > 0) {
        if (v % units[n].mult == 0) {
            snprintf(buf, cap, "%llu%s", (unsigned long long)(v / units[n].mult), units[n].name);
            return;
        }
    }
}

static int get_unit(const cfg_node_t *map, const char *key, uint64_t min, uint64_t max,
                    uint64_t def, uint64_t *out, bool duration, cfg_error_t *err)
{
    const unit_t *units = duration ? duration_units : size_units;
    /* For display, in ascending order, without the bare "" for sizes. */
    const unit_t *show = duration ? duration_units : size_units + 1;
    const size_t nshow = 4;
    const char *expected =
        duration ? "a duration such as 250ms, 5s or 2m" : "a size such as 4096, 64KiB or 8MiB";
    const cfg_node_t *v;
    char lo[32], hi[32];
    uint64_t x = 0;
    int rc = lookup(map, key, &v, err);

    if (rc < 0)
        return rc;
    if (!v) {
        *out = def;
        return 0;
    }
    rc = is_value(v) ? parse_unit(text_of(v), len_of(v), units, &x) : -EINVAL;
    if (rc == -EINVAL)
        return type_error(v, key, expected, err);
    if (rc == 0 && x >= min && x <= max) {
        *out = x;
        return 0;
    }
    fmt_unit(lo, sizeof(lo), min, show, nshow, duration ? "0s" : "0");
    fmt_unit(hi, sizeof(hi), max, show, nshow, duration ? "0s" : "0");
    return range_error(v, key, min == 0 ? NULL : lo, max == UINT64_MAX ? NULL : hi, err);
}

int cfg_get_duration(const cfg_node_t *map, const char *key, uint64_t min_ms, uint64_t max_ms,
                     uint64_t def_ms, uint64_t *out_ms, cfg_error_t *err)
{
    return get_unit(map, key, min_ms, max_ms, def_ms, out_ms, true, err);
}

int cfg_get_size(const cfg_node_t *map, const char *key, uint64_t min, uint64_t max, uint64_t def,
                 uint64_t *out, cfg_error_t *err)
{
    return get_unit(map, key, min, max, def, out, false, err);
}

int cfg_get_enum(const cfg_node_t *map, const char *key, const char *const *names, int def,
                 int *out, cfg_error_t *err)
{
    const cfg_node_t *v;
    char list[160], buf[CFG_SHOW_CAP];
    size_t o = 0;
    int i, rc = lookup(map, key, &v, err);

    if (rc < 0)
        return rc;
    if (!v) {
        *out = def;
        return 0;
    }
    for (i = 0; names[i]; i++) {
        if (is_value(v) && strcmp(text_of(v), names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    list[0] = '\0';
    for (i = 0; names[i] && o < sizeof(list); i++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", names[i]);
    return cfg_node_error(v, err, "%s must be one of %s, got %s", key, list, cfg_describe(v, buf));
}

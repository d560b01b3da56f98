/*
 * A strict reader for the few JSON shapes a command payload may take
 * (command_json.h): RFC 8259 scalars, or one flat object of them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/command_json.h"
#include "gateway/utf8.h"

typedef struct {
    const char *p, *end;
    char *buf;
    size_t cap, used;
    const char *why;
} rd_t;

static int fail(rd_t *r, const char *why)
{
    if (!r->why)
        r->why = why;
    return -EINVAL;
}

static void skip_ws(rd_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static bool literal(rd_t *r, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return false;
    r->p += n;
    return true;
}

static int hex4(rd_t *r, unsigned *out)
{
    unsigned v = 0;

    if (r->end - r->p < 4)
        return fail(r, "not JSON");
    for (int i = 0; i < 4; i++) {
        char c = *r->p++;

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return fail(r, "not JSON");
    }
    *out = v;
    return 0;
}

static int put(rd_t *r, const char *s, size_t n)
{
    if (r->used + n >= r->cap)
        return fail(r, "command too long");
    memcpy(r->buf + r->used, s, n);
    r->used += n;
    return 0;
}

/* A \u escape (and its low surrogate, if it is a high one) as UTF-8. */
static int unicode_escape(rd_t *r)
{
    unsigned cp, lo;
    char u[4];
    size_t n;

    if (hex4(r, &cp))
        return -EINVAL;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(r, "not valid UTF-8");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (!literal(r, "\\u") || hex4(r, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return fail(r, "not valid UTF-8");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (cp == 0)
        return fail(r, "not valid UTF-8"); /* it would cut the C string short */
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return put(r, u, n);
}

/* A string at r->p (the opening quote), unescaped into buf. */
static int string(rd_t *r, const char **s, size_t *len)
{
    size_t start = r->used;

    r->p++; /* the quote */
    for (;;) {
        const char *run = r->p;

        while (r->p < r->end && *r->p != '"' && *r->p != '\\' && (unsigned char)*r->p >= 0x20)
            r->p++;
        if (!gw_utf8_valid(run, (size_t)(r->p - run)))
            return fail(r, "not valid UTF-8");
        if (put(r, run, (size_t)(r->p - run)))
            return -EINVAL;
        if (r->p == r->end || (unsigned char)*r->p < 0x20)
            return fail(r, "not JSON");
        if (*r->p++ == '"')
            break;
        if (r->p == r->end)
            return fail(r, "not JSON");
        switch (*r->p++) {
        case '"':
            if (put(r, "\"", 1))
                return -EINVAL;
            break;
        case '\\':
            if (put(r, "\\", 1))
                return -EINVAL;
            break;
        case '/':
            if (put(r, "/", 1))
                return -EINVAL;
            break;
        case 'b':
            if (put(r, "\b", 1))
                return -EINVAL;
            break;
        case 'f':
            if (put(r, "\f", 1))
                return -EINVAL;
            break;
        case 'n':
            if (put(r, "\n", 1))
                return -EINVAL;
            break;
        case 'r':
            if (put(r, "\r", 1))
                return -EINVAL;
            break;
        case 't':
            if (put(r, "\t", 1))
                return -EINVAL;
            break;
        case 'u':
            if (unicode_escape(r))
                return -EINVAL;
            break;
        default:
            return fail(r, "not JSON");
        }
    }
    if (put(r, "\0", 1))
        return -EINVAL;
    *s = r->buf + start;
    *len = r->used - start - 1;
    return 0;
}

static bool digit(rd_t *r)
{
    return r->p < r->end && *r->p >= '0' && *r->p <= '9';
}

/* A number per RFC 8259's grammar; an integer literal keeps its exact value
 * when it fits in 64 bits. */
static int number(rd_t *r, cj_value_t *v)
{
    const char *start = r->p;
    char text[64];
    bool integer = true;

    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (!digit(r))
        return fail(r, "not JSON");
    if (*r->p == '0')
        r->p++;
    else
        while (digit(r))
            r->p++;
    if (r->p < r->end && *r->p == '.') {
        integer = false;
        r->p++;
        if (!digit(r))
            return fail(r, "not JSON");
        while (digit(r))
            r->p++;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        integer = false;
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (!digit(r))
            return fail(r, "not JSON");
        while (digit(r))
            r->p++;
    }
    if ((size_t)(r->p - start) >= sizeof(text))
        return fail(r, "number too long");
    memcpy(text, start, (size_t)(r->p - start));
    text[r->p - start] = '\0';
    v->kind = CJ_NUMBER;
    v->d = strtod(text, NULL);
    v->neg = text[0] == '-';
    if (integer) {
        char *end;

        errno = 0;
        v->mag = strtoull(text + v->neg, &end, 10);
        v->is_int = errno == 0 && *end == '\0';
    }
    return 0;
}

static int scalar(rd_t *r, cj_value_t *v)
{
    memset(v, 0, sizeof(*v));
    if (r->p == r->end)
        return fail(r, "not JSON");
    if (*r->p == '"') {
        v->kind = CJ_STRING;
        return string(r, &v->s, &v->s_len);
    }
    if (literal(r, "true")) {
        v->kind = CJ_BOOL;
        v->b = true;
        return 0;
    }
    if (literal(r, "false")) {
        v->kind = CJ_BOOL;
        return 0;
    }
    if (literal(r, "null")) {
        v->kind = CJ_NULL;
        return 0;
    }
    if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
        return number(r, v);
    if (*r->p == '{' || *r->p == '[')
        return fail(r, "nested values are not accepted");
    return fail(r, "not JSON");
}

static int member(rd_t *r, cj_command_t *out, bool *has_value)
{
    const char *key;
    size_t key_len;
    cj_value_t v;

    if (r->p == r->end || *r->p != '"')
        return fail(r, "not JSON");
    if (string(r, &key, &key_len))
        return -EINVAL;
    skip_ws(r);
    if (r->p == r->end || *r->p++ != ':')
        return fail(r, "not JSON");
    skip_ws(r);
    if (scalar(r, &v))
        return -EINVAL;
    if (strcmp(key, "value") == 0) {
        if (*has_value)
            return fail(r, "duplicate key");
        *has_value = true;
        out->value = v;
    } else if (strcmp(key, "id") == 0) {
        if (out->has_id)
            return fail(r, "duplicate key");
        if (v.kind != CJ_STRING && v.kind != CJ_NUMBER)
            return fail(r, "\"id\" must be a string or a number");
        out->has_id = true;
        out->id = v;
    } else if (strcmp(key, "ts") == 0) {
        if (out->has_ts)
            return fail(r, "duplicate key");
        if (v.kind != CJ_NUMBER || !v.is_int || v.neg || v.mag > (uint64_t)INT64_MAX)
            return fail(r, "\"ts\" must be a number of milliseconds");
        out->has_ts = true;
        out->ts_ms = (int64_t)v.mag;
    }
    return 0;
}

static int object(rd_t *r, cj_command_t *out)
{
    bool has_value = false;

    r->p++; /* { */
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return fail(r, "no \"value\" in the object");
    }
    for (;;) {
        skip_ws(r);
        if (member(r, out, &has_value))
            return -EINVAL;
        skip_ws(r);
        if (r->p == r->end)
            return fail(r, "not JSON");
        if (*r->p == '}') {
            r->p++;
            break;
        }
        if (*r->p++ != ',')
            return fail(r, "not JSON");
    }
    return has_value ? 0 : fail(r, "no \"value\" in the object");
}

int cj_parse_command(const char *payload, size_t n, char *buf, size_t cap, cj_command_t *out,
                     const char **why)
{
    rd_t r = {.p = payload, .end = payload + n, .buf = buf, .cap = cap};
    int rc;

    memset(out, 0, sizeof(*out));
    skip_ws(&r);
    if (r.p < r.end && *r.p == '{')
        rc = object(&r, out);
    else if (r.p < r.end && *r.p == '[')
        rc = fail(&r, "expected a value or an object with \"value\"");
    else
        rc = scalar(&r, &out->value);
    if (rc == 0) {
        skip_ws(&r);
        if (r.p != r.end)
            rc = fail(&r, "not JSON"); /* text after the value */
    }
    if (rc == 0 && out->value.kind == CJ_NULL)
        rc = fail(&r, "\"value\" must be a number, true, false or a string");
    if (rc != 0 && why)
        *why = r.why ? r.why : "not JSON";
    return rc;
}

int cj_write_value(const cj_value_t *v, char *out, size_t cap)
{
    size_t o = 0;
    int n;

    if (v->kind == CJ_NUMBER) {
        if (v->is_int)
            n = snprintf(out, cap, "%s%llu", v->neg ? "-" : "", (unsigned long long)v->mag);
        else
            n = snprintf(out, cap, "%.17g", v->d);
        return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
    }
    if (v->kind != CJ_STRING) {
        n = snprintf(out, cap, "%s", v->kind == CJ_BOOL ? (v->b ? "true" : "false") : "null");
        return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
    }
    if (cap < 3)
        return -ENOSPC;
    out[o++] = '"';
    for (size_t i = 0; i < v->s_len; i++) {
        unsigned char c = (unsigned char)v->s[i];
        char esc[8];
        size_t k;

        if (c == '"' || c == '\\')
            k = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
        else if (c < 0x20)
            k = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
        else
            esc[0] = (char)c, k = 1;
        if (o + k + 2 > cap)
            return -ENOSPC;
        memcpy(out + o, esc, k);
        o += k;
    }
    out[o++] = '"';
    out[o] = '\0';
    return (int)o;
}

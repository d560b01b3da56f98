/*
 * libFuzzer target for gateway/command_json: any bytes as a command payload.
 * Checks the promises of command_json.h: a payload's length + 1 is always
 * buffer enough; accepted strings are NUL-terminated valid UTF-8 of their
 * stated length inside the buffer; an accepted value written back with
 * cj_write_value() parses to the same value (exact for integer literals
 * and strings). Any violation aborts.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/command_json.h"
#include "gateway/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const cj_value_t *v, const char *buf, size_t cap)
{
    if (v->kind != CJ_STRING)
        return;
    if (v->s < buf || v->s + v->s_len >= buf + cap || v->s[v->s_len] != '\0' ||
        !gw_utf8_valid(v->s, v->s_len))
        abort();
}

static void same(const cj_value_t *a, const cj_value_t *b)
{
    if (a->kind != b->kind)
        abort();
    switch (a->kind) {
    case CJ_BOOL:
        if (a->b != b->b)
            abort();
        break;
    case CJ_NUMBER:
        /* 1e3 comes back as the integer literal 1000: compare as doubles. */
        if ((a->is_int && (!b->is_int || a->mag != b->mag || a->neg != b->neg)) ||
            (!a->is_int && a->d != b->d))
            abort();
        break;
    case CJ_STRING:
        if (a->s_len != b->s_len || memcmp(a->s, b->s, a->s_len) != 0)
            abort();
        break;
    case CJ_NULL:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = size + 1;
    char *buf = malloc(cap), *buf2, *text;
    cj_command_t c, c2;
    const char *why = NULL;
    int n;

    if (!buf)
        return 0;
    if (cj_parse_command((const char *)data, size, buf, cap, &c, &why) != 0) {
        if (!why || strcmp(why, "command too long") == 0)
            abort();
        free(buf);
        return 0;
    }
    check_string(&c.value, buf, cap);
    if (c.has_id)
        check_string(&c.id, buf, cap);
    /* Round trip: the value, written as JSON, reads back the same. */
    text = malloc(6 * size + 64);
    buf2 = malloc(6 * size + 64);
    if (text && buf2 && !(c.value.kind == CJ_NUMBER && isinf(c.value.d))) {
        n = cj_write_value(&c.value, text, 6 * size + 64);
        if (n < 0 || cj_parse_command(text, (size_t)n, buf2, 6 * size + 64, &c2, &why) != 0)
            abort();
        same(&c.value, &c2.value);
    }
    free(text);
    free(buf2);
    free(buf);
    return 0;
}

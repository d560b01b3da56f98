/*
 * A canonical text of a configuration subtree, to tell whether an adapter's
 * configuration changed across a reload: same text, same configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_internal.h"

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} dump_t;

static void put(dump_t *d, const char *s, size_t n)
{
    if (d->oom)
        return;
    if (d->len + n + 1 > d->cap) {
        size_t cap = (d->cap ? d->cap * 2 : 256) + n;
        char *b = realloc(d->buf, cap);

        if (!b) {
            d->oom = true;
            return;
        }
        d->buf = b;
        d->cap = cap;
    }
    memcpy(d->buf + d->len, s, n);
    d->len += n;
    d->buf[d->len] = '\0';
}

/* Scalars are length-prefixed so no value can imitate structure. */
static void dump_node(dump_t *d, const cfg_node_t *n, int depth)
{
    char tmp[32];

    if (depth > 64) {
        put(d, "~", 1);
        return;
    }
    switch (n->kind) {
    case CFG_SCALAR:
        snprintf(tmp, sizeof(tmp), "%zu:", (size_t)n->len);
        put(d, tmp, strlen(tmp));
        put(d, n->u.text, n->len);
        break;
    case CFG_SEQUENCE:
        put(d, "[", 1);
        for (size_t i = 0; i < n->len; i++) {
            dump_node(d, n->u.kids[i], depth + 1);
            put(d, ",", 1);
        }
        put(d, "]", 1);
        break;
    default:
        put(d, "{", 1);
        for (size_t i = 0; i < n->len; i++) {
            dump_node(d, n->u.kids[2 * i], depth + 1);
            put(d, "=", 1);
            dump_node(d, n->u.kids[2 * i + 1], depth + 1);
            put(d, ";", 1);
        }
        put(d, "}", 1);
        break;
    }
}

char *cfg_node_dump(const cfg_node_t *node)
{
    dump_t d = {0};

    dump_node(&d, node, 0);
    if (d.oom) {
        free(d.buf);
        return NULL;
    }
    return d.buf;
}

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
static void dump_node(dump_t *d, yaml_document_t *doc, yaml_node_t *y, int depth)
{
    char tmp[32];

    if (!y || depth > 64) {
        put(d, "~", 1);
        return;
    }
    switch (y->type) {
    case YAML_SCALAR_NODE:
        snprintf(tmp, sizeof(tmp), "%zu:", y->data.scalar.length);
        put(d, tmp, strlen(tmp));
        put(d, (const char *)y->data.scalar.value, y->data.scalar.length);
        break;
    case YAML_SEQUENCE_NODE:
        put(d, "[", 1);
        for (yaml_node_item_t *i = y->data.sequence.items.start; i < y->data.sequence.items.top;
             i++) {
            dump_node(d, doc, yaml_document_get_node(doc, *i), depth + 1);
            put(d, ",", 1);
        }
        put(d, "]", 1);
        break;
    case YAML_MAPPING_NODE:
        put(d, "{", 1);
        for (yaml_node_pair_t *p = y->data.mapping.pairs.start; p < y->data.mapping.pairs.top;
             p++) {
            dump_node(d, doc, yaml_document_get_node(doc, p->key), depth + 1);
            put(d, "=", 1);
            dump_node(d, doc, yaml_document_get_node(doc, p->value), depth + 1);
            put(d, ";", 1);
        }
        put(d, "}", 1);
        break;
    default:
        put(d, "~", 1);
    }
}

char *cfg_node_dump(const cfg_node_t *node)
{
    dump_t d = {0};
    yaml_document_t *doc = (yaml_document_t *)&node->doc->doc;

    dump_node(&d, doc, node->y, 0);
    if (d.oom) {
        free(d.buf);
        return NULL;
    }
    return d.buf;
}

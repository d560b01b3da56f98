/*
 * The loaded document's checks (scalar, unique keys), the error helpers
 * every part of config/ uses, and the string copies the accessors hand out.
 *
 * The whole document is loaded at once (cfg_yaml.c, from libyaml's events)
 * and kept until the adapters have been created from it (cfg_release_doc());
 * the strings the accessors return are copies that live until cfg_free(),
 * since a running gateway needs only those. Each mapping pair has a
 * "consumed" flag that the accessors set; that is how cfg_check_unknown()
 * finds the keys no adapter read without config/ knowing any adapter's keys.
 *
 * An alias is the anchored node itself, so its position in messages is the
 * anchor's, and a mapping reached through two aliases shares one set of
 * consumed flags.
 */
#include "config/cfg_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/error.h"

/* User text shown in messages is cut after this many bytes, so a message stays
 * one readable line whatever the user wrote. */
#define SHOW_MAX 48

__attribute__((format(printf, 5, 0))) static int
verror_at(cfg_error_t *err, const char *file, int line, int column, const char *fmt, va_list ap)
{
    if (!err)
        return -GW_ECONFIG;
    snprintf(err->file, sizeof(err->file), "%s", file);
    err->line = line;
    err->column = column;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    snprintf(err->text, sizeof(err->text), "%s:%d:%d: %s", err->file, line, column, err->msg);
    return -GW_ECONFIG;
}

int cfg_error_at(cfg_error_t *err, const char *file, int line, int column, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verror_at(err, file, line, column, fmt, ap);
    va_end(ap);
    return -GW_ECONFIG;
}

int cfg_node_error(const cfg_node_t *node, cfg_error_t *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verror_at(err, cfg_node_doc(node)->path, node->line, node->column, fmt, ap);
    va_end(ap);
    return -GW_ECONFIG;
}

int cfg_node_line(const cfg_node_t *node)
{
    return node->line;
}

/* Length of the UTF-8 sequence starting with byte c (libyaml only lets valid
 * UTF-8 through). */
static size_t utf8_len(unsigned char c)
{
    return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

const char *cfg_show(const char *s, size_t len, char *buf)
{
    size_t o = 0, i = 0;

    buf[o++] = '\'';
    while (i < len && i < SHOW_MAX) {
        unsigned char c = (unsigned char)s[i];
        size_t n = utf8_len(c);

        if (c < 0x20 || c == 0x7f) {
            if (c == '\n')
                o += (size_t)snprintf(buf + o, CFG_SHOW_CAP - o, "\\n");
            else if (c == '\t')
                o += (size_t)snprintf(buf + o, CFG_SHOW_CAP - o, "\\t");
            else
                o += (size_t)snprintf(buf + o, CFG_SHOW_CAP - o, "\\x%02x", c);
            i++;
            continue;
        }
        if (i + n > len || i + n > SHOW_MAX)
            break;
        memcpy(buf + o, s + i, n);
        o += n;
        i += n;
    }
    if (i < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
    return buf;
}

bool cfg_node_is_empty(const cfg_node_t *node)
{
    return node->kind == CFG_SCALAR && node->len == 0 && node->plain;
}

const char *cfg_describe(const cfg_node_t *node, char *buf)
{
    switch (node->kind) {
    case CFG_MAPPING:
        return "a mapping";
    case CFG_SEQUENCE:
        return "a sequence";
    default:
        if (cfg_node_is_empty(node))
            return "an empty value";
        return cfg_show(node->u.text, node->len, buf);
    }
}

int cfg_check_keys(const cfg_node_t *map, const char *const *keys, const char *context,
                   cfg_error_t *err)
{
    char buf[CFG_SHOW_CAP];

    for (size_t p = 0; p < map->len; p++) {
        const cfg_node_t *k = map->u.kids[2 * p];
        const char *name = k->u.text;
        size_t i, len = k->len;

        for (i = 0; keys[i]; i++) {
            if (strlen(keys[i]) == len && memcmp(keys[i], name, len) == 0)
                break;
        }
        if (!keys[i])
            return cfg_node_error(k, err, "unknown key %s in %s", cfg_show(name, len, buf),
                                  context);
    }
    return 0;
}

int cfg_check_unknown(const cfg_node_t *map, const char *context, cfg_error_t *err)
{
    char buf[CFG_SHOW_CAP];
    const bool *consumed;

    if (!map || map->kind != CFG_MAPPING)
        return 0;
    consumed = cfg_node_consumed(map);
    for (size_t i = 0; i < map->len; i++) {
        const cfg_node_t *k = map->u.kids[2 * i];

        if (!consumed[i])
            return cfg_node_error(k, err, "unknown key %s in %s", cfg_show(k->u.text, k->len, buf),
                                  context);
    }
    return 0;
}

static int dup_cmp(const void *a, const void *b)
{
    const cfg_dup_item_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);

    if (c != 0)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sorting makes this O(n log n): a device list or a register map can hold
 * thousands of entries. Within a run of equal strings (sorted by idx) the
 * second entry is that string's first repeat; the earliest of those wins. */
bool cfg_find_dup(cfg_dup_item_t *items, size_t n, size_t *dup, size_t *first)
{
    bool found = false;
    size_t i, run = 0;

    if (n < 2)
        return false;
    qsort(items, n, sizeof(*items), dup_cmp);
    for (i = 1; i < n; i++) {
        if (items[i].len != items[run].len || memcmp(items[i].s, items[run].s, items[i].len)) {
            run = i;
            continue;
        }
        if (i == run + 1 && (!found || items[i].idx < *dup)) {
            *dup = items[i].idx;
            *first = items[run].idx;
            found = true;
        }
    }
    return found;
}

/* Every key must be a scalar (an accessor could never name another) and
 * appear once (libyaml does not check, and the first would silently win). */
static int check_mapping(const cfg_node_t *map, cfg_dup_item_t *items, cfg_error_t *err)
{
    size_t i, n = map->len, dup, first;
    const cfg_node_t *k;
    char buf[CFG_SHOW_CAP];

    for (i = 0; i < n; i++) {
        k = map->u.kids[2 * i];
        if (k->kind != CFG_SCALAR)
            return cfg_node_error(k, err, "expected a scalar key, got %s", cfg_describe(k, buf));
        items[i].s = k->u.text;
        items[i].len = k->len;
        items[i].idx = i;
    }
    if (!cfg_find_dup(items, n, &dup, &first))
        return 0;
    k = map->u.kids[2 * dup];
    return cfg_node_error(k, err, "duplicate key %s (first defined at line %d)",
                          cfg_show(k->u.text, k->len, buf), cfg_node_line(map->u.kids[2 * first]));
}

/* Gives each value of map its key. A node reached through aliases keeps the
 * first key, the one where it is defined. */
static void name_values(cfg_node_t *map)
{
    for (size_t i = 0; i < map->len; i++) {
        cfg_node_t *v = map->u.kids[2 * i + 1];

        if (!v->key)
            v->key = map->u.kids[2 * i]->u.text;
    }
}

/* Checks every mapping, then names values, both in the order the mappings
 * start in the file (the order libyaml's document numbered them), so the
 * first error reported and the key a shared node gets are as before. */
static int check_mappings(cfg_node_t **maps, size_t n, cfg_error_t *err)
{
    size_t i, most = 0;
    cfg_dup_item_t *items;
    int rc = 0;

    for (i = 0; i < n; i++)
        most = maps[i]->len > most ? maps[i]->len : most;
    if (!(items = calloc(most ? most : 1, sizeof(*items))))
        return -ENOMEM;
    for (i = 0; i < n && rc == 0; i++)
        rc = check_mapping(maps[i], items, err);
    for (i = 0; i < n && rc == 0; i++)
        name_values(maps[i]);
    free(items);
    return rc;
}

int cfg_doc_load(cfg_doc_t *d, const char *text, size_t len, cfg_error_t *err)
{
    cfg_node_t **maps = NULL;
    size_t n = 0;
    int rc = cfg_yaml_compose(d, text, len, &maps, &n, err);

    if (rc < 0)
        return rc;
    rc = check_mappings(maps, n, err);
    free(maps);
    if (rc == -ENOMEM)
        cfg_error_at(err, d->path, 1, 1, "out of memory");
    if (rc < 0)
        cfg_yaml_free(d);
    return rc;
}

struct cfg_chunk {
    cfg_chunk_t *next;
    size_t used, cap;
    char data[];
};

#define CHUNK_BYTES 4000

const char *cfg_strings_add(cfg_strings_t *st, const char *s, size_t len)
{
    cfg_chunk_t *c = st->head;
    char *out;

    if (len >= SIZE_MAX - sizeof(*c) - CHUNK_BYTES)
        return NULL;
    if (!c || c->cap - c->used < len + 1) {
        size_t cap = len + 1 > CHUNK_BYTES ? len + 1 : CHUNK_BYTES;

        if (!(c = malloc(sizeof(*c) + cap)))
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = st->head;
        st->head = c;
    }
    out = c->data + c->used;
    memcpy(out, s, len);
    out[len] = '\0';
    c->used += len + 1;
    return out;
}

void cfg_strings_free(cfg_strings_t *st)
{
    while (st->head) {
        cfg_chunk_t *next = st->head->next;

        free(st->head);
        st->head = next;
    }
}

void cfg_doc_free(cfg_doc_t *d)
{
    cfg_yaml_free(d);
}

const cfg_node_t *cfg_doc_root(const cfg_doc_t *d)
{
    return d->root;
}

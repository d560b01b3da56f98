/*
 * Loading one YAML document with libyaml, wrapping its nodes, and the error
 * helpers every part of config/ uses.
 *
 * The whole document is loaded at once and kept until the adapters have been
 * created from it (cfg_release_doc()); the strings the accessors return are
 * copies that live until cfg_free(), since a running gateway needs only those
 * and a document of 10,000 devices takes about 4 KiB each. Each node gets a cfg_node_t in an array
 * parallel to libyaml's node array, and each mapping pair a "consumed" flag that the accessors set;
 * that is how cfg_check_unknown() finds the keys no adapter read without config/ knowing any
 * adapter's keys.
 *
 * Aliases are left as libyaml resolves them: an alias is the anchored node
 * itself, so its position in messages is the anchor's, and a mapping reached
 * through two aliases shares one set of consumed flags.
 */
#include "config/cfg_internal.h"

#include <errno.h>
#include <limits.h>
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

static int mark_int(size_t v)
{
    return v >= (size_t)INT_MAX ? INT_MAX : (int)v + 1;
}

int cfg_node_error(const cfg_node_t *node, cfg_error_t *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verror_at(err, node->doc->path, mark_int(node->y->start_mark.line),
              mark_int(node->y->start_mark.column), fmt, ap);
    va_end(ap);
    return -GW_ECONFIG;
}

int cfg_node_line(const cfg_node_t *node)
{
    return mark_int(node->y->start_mark.line);
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
    const yaml_node_t *y = node->y;

    return y->type == YAML_SCALAR_NODE && y->data.scalar.length == 0 &&
           y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

const char *cfg_describe(const cfg_node_t *node, char *buf)
{
    const yaml_node_t *y = node->y;

    switch (y->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    default:
        if (cfg_node_is_empty(node))
            return "an empty value";
        return cfg_show((const char *)y->data.scalar.value, y->data.scalar.length, buf);
    }
}

static const cfg_node_t *wrap(const cfg_doc_t *d, int id)
{
    return &d->nodes[id - 1];
}

int cfg_check_keys(const cfg_node_t *map, const char *const *keys, const char *context,
                   cfg_error_t *err)
{
    const yaml_node_pair_t *p;
    char buf[CFG_SHOW_CAP];

    for (p = map->y->data.mapping.pairs.start; p < map->y->data.mapping.pairs.top; p++) {
        const cfg_node_t *k = wrap(map->doc, p->key);
        const char *name = (const char *)k->y->data.scalar.value;
        size_t i, len = k->y->data.scalar.length;

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
    size_t i, n;

    if (!map || map->y->type != YAML_MAPPING_NODE)
        return 0;
    n = (size_t)(map->y->data.mapping.pairs.top - map->y->data.mapping.pairs.start);
    for (i = 0; i < n; i++) {
        const cfg_node_t *k = wrap(map->doc, map->y->data.mapping.pairs.start[i].key);

        if (!map->consumed[i])
            return cfg_node_error(
                k, err, "unknown key %s in %s",
                cfg_show((const char *)k->y->data.scalar.value, k->y->data.scalar.length, buf),
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
static int check_mapping(const cfg_doc_t *d, const cfg_node_t *map, cfg_dup_item_t *items,
                         cfg_error_t *err)
{
    const yaml_node_pair_t *start = map->y->data.mapping.pairs.start;
    size_t i, n = (size_t)(map->y->data.mapping.pairs.top - start), dup, first;
    const cfg_node_t *k;
    char buf[CFG_SHOW_CAP];

    for (i = 0; i < n; i++) {
        const yaml_node_t *ky = &d->doc.nodes.start[start[i].key - 1];

        if (ky->type != YAML_SCALAR_NODE) {
            k = wrap(d, start[i].key);
            return cfg_node_error(k, err, "expected a scalar key, got %s", cfg_describe(k, buf));
        }
        items[i].s = (const char *)ky->data.scalar.value;
        items[i].len = ky->data.scalar.length;
        items[i].idx = i;
    }
    if (!cfg_find_dup(items, n, &dup, &first))
        return 0;
    k = wrap(d, start[dup].key);
    return cfg_node_error(
        k, err, "duplicate key %s (first defined at line %d)",
        cfg_show((const char *)k->y->data.scalar.value, k->y->data.scalar.length, buf),
        cfg_node_line(wrap(d, start[first].key)));
}

/* Gives each value of map its key. A node reached through aliases keeps the
 * first key, the one where it is defined. */
static void name_values(cfg_doc_t *d, const cfg_node_t *map)
{
    const yaml_node_pair_t *p;

    for (p = map->y->data.mapping.pairs.start; p < map->y->data.mapping.pairs.top; p++) {
        cfg_node_t *v = &d->nodes[p->value - 1];

        if (!v->key)
            v->key = (const char *)wrap(d, p->key)->y->data.scalar.value;
    }
}

/* Allocates the wrappers and consumed flags, then checks every mapping. */
static int wrap_nodes(cfg_doc_t *d, cfg_error_t *err)
{
    size_t n = (size_t)(d->doc.nodes.top - d->doc.nodes.start), pairs = 0, most = 0, used = 0;
    cfg_dup_item_t *items = NULL;
    size_t i;
    int rc = 0;

    for (i = 0; i < n; i++) {
        yaml_node_t *y = &d->doc.nodes.start[i];

        if (y->type == YAML_MAPPING_NODE) {
            size_t k = (size_t)(y->data.mapping.pairs.top - y->data.mapping.pairs.start);

            pairs += k;
            most = k > most ? k : most;
        }
    }
    d->nodes = calloc(n ? n : 1, sizeof(*d->nodes));
    d->flags = calloc(pairs ? pairs : 1, sizeof(*d->flags));
    items = calloc(most ? most : 1, sizeof(*items));
    if (!d->nodes || !d->flags || !items) {
        free(items);
        return -ENOMEM;
    }
    for (i = 0; i < n; i++) {
        cfg_node_t *w = &d->nodes[i];

        w->doc = d;
        w->y = &d->doc.nodes.start[i];
        if (w->y->type != YAML_MAPPING_NODE)
            continue;
        w->consumed = d->flags + used;
        used += (size_t)(w->y->data.mapping.pairs.top - w->y->data.mapping.pairs.start);
    }
    for (i = 0; i < n && rc == 0; i++) {
        if (d->nodes[i].y->type == YAML_MAPPING_NODE)
            rc = check_mapping(d, &d->nodes[i], items, err);
    }
    for (i = 0; i < n && rc == 0; i++) {
        if (d->nodes[i].y->type == YAML_MAPPING_NODE)
            name_values(d, &d->nodes[i]);
    }
    free(items);
    return rc;
}

/* Reader errors (bad encoding) carry a byte offset, not a mark: count lines
 * and characters up to it the way libyaml's marks would. */
static void offset_to_mark(const char *text, size_t len, size_t off, int *line, int *column)
{
    size_t i, l = 0, c = 0;

    for (i = 0; i < off && i < len; i++) {
        unsigned char b = (unsigned char)text[i];

        if (b == '\n') {
            l++;
            c = 0;
        } else if ((b & 0xc0) != 0x80) {
            c++;
        }
    }
    *line = mark_int(l);
    *column = mark_int(c);
}

static int parser_error(const cfg_doc_t *d, const yaml_parser_t *p, const char *text, size_t len,
                        cfg_error_t *err)
{
    int line, column;

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        cfg_error_at(err, d->path, 1, 1, "out of memory");
        return -ENOMEM;
    case YAML_READER_ERROR:
        offset_to_mark(text, len, p->problem_offset, &line, &column);
        return cfg_error_at(err, d->path, line, column, "YAML encoding error: %s",
                            p->problem ? p->problem : "invalid input");
    default:
        line = mark_int(p->problem_mark.line);
        column = mark_int(p->problem_mark.column);
        if (!p->context || (p->context_mark.line == p->problem_mark.line &&
                            p->context_mark.column == p->problem_mark.column))
            return cfg_error_at(err, d->path, line, column, "YAML syntax error: %s",
                                p->problem ? p->problem : "invalid YAML");
        /* "while scanning a quoted scalar" and where it started: the problem
         * is often found far from its cause. */
        return cfg_error_at(err, d->path, line, column,
                            "YAML syntax error: %s (%s at line %d, "
                            "column %d)",
                            p->problem ? p->problem : "invalid YAML", p->context,
                            mark_int(p->context_mark.line), mark_int(p->context_mark.column));
    }
}

/* A second document would be silently ignored by yaml_parser_load(): load it
 * too, which also finds syntax errors after the first document. */
static int check_single(const cfg_doc_t *d, yaml_parser_t *p, const char *text, size_t len,
                        cfg_error_t *err)
{
    yaml_document_t next;
    yaml_node_t *root;
    int rc = 0;

    if (!yaml_parser_load(p, &next))
        return parser_error(d, p, text, len, err);
    root = yaml_document_get_root_node(&next);
    if (root)
        rc = cfg_error_at(err, d->path, mark_int(root->start_mark.line),
                          mark_int(root->start_mark.column),
                          "only one YAML document is allowed, found another one here");
    yaml_document_delete(&next);
    return rc;
}

int cfg_doc_load(cfg_doc_t *d, const char *text, size_t len, cfg_error_t *err)
{
    yaml_parser_t p;
    int rc;

    if (!yaml_parser_initialize(&p)) {
        cfg_error_at(err, d->path, 1, 1, "out of memory");
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &d->doc)) {
        /* yaml_parser_load() has already freed the partial document. */
        rc = parser_error(d, &p, text, len, err);
        yaml_parser_delete(&p);
        return rc;
    }
    d->loaded = true;
    rc = check_single(d, &p, text, len, err);
    yaml_parser_delete(&p);
    if (rc == 0)
        rc = wrap_nodes(d, err);
    if (rc == -ENOMEM)
        cfg_error_at(err, d->path, 1, 1, "out of memory");
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
    if (d->loaded)
        yaml_document_delete(&d->doc);
    d->loaded = false;
    free(d->nodes);
    free(d->flags);
    d->nodes = NULL;
    d->flags = NULL;
}

const cfg_node_t *cfg_doc_root(const cfg_doc_t *d)
{
    if (!d->loaded || d->doc.nodes.top == d->doc.nodes.start)
        return NULL;
    return &d->nodes[0];
}

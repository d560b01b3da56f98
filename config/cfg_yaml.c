/*
 * Loading the YAML file: libyaml's events composed directly into a compact
 * tree of cfg_node_t, without libyaml's document API.
 *
 * yaml_parser_load() keeps a 96-byte yaml_node_t per node in an array that
 * doubles as it grows, a malloc'd tag and value per scalar and a malloc'd
 * item stack per collection: with 10,000 Modbus devices that was most of the
 * start-up peak. Here a node is 32 bytes, and nodes, values and child arrays
 * are carved from an arena of 64 KiB chunks, freed at once by
 * cfg_release_doc(). A collection's children are pushed on a scratch stack
 * as they complete and copied to one exact-size array at its end event.
 *
 * Everything yaml_parser_load() reports is reported the same way, at the
 * same marks: undefined aliases, duplicate anchors, and the checks on a
 * second document. An alias is the anchored node itself, registered when the
 * node starts (so an alias inside its own anchored collection is a cycle, as
 * in libyaml). Tags are ignored: nothing in config/ reads them.
 */
#include "config/cfg_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <yaml.h>

#include "gateway/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define SB_ARENA_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_ARENA_HEAP 1
#endif
#endif
#ifndef SB_ARENA_HEAP
#define SB_ARENA_HEAP 0
#endif

/* A chunk's size and alignment, header included: big enough that a
 * 10,000-device file needs about 150 chunks, small enough that the tail
 * left unused by a small file stays untouched pages. Aligning chunks lets a
 * node find its document from its own address instead of holding a pointer
 * to it (8 of its 32 bytes). */
#define ARENA_BYTES (64 * 1024)

/* A chunk of ARENA_BYTES aligned to ARENA_BYTES, or (cap > ARENA_CHUNK) a
 * block of its own for one big value or child array, which holds no node. */
struct cfg_arena {
    cfg_arena_t *next;
    const cfg_doc_t *doc;
    size_t used, cap;
    alignas(max_align_t) char data[];
};

#define ARENA_CHUNK (ARENA_BYTES - sizeof(cfg_arena_t))
_Static_assert(sizeof(cfg_node_t) <= 32, "a node stays 32 bytes");

typedef struct {
    char *name; /* libyaml's copy, owned here */
    cfg_node_t *node;
    yaml_mark_t mark; /* where the anchored node starts */
} anchor_t;

/* An open collection: its node and where its children start on pend. */
typedef struct {
    cfg_node_t *node;
    size_t base;
} frame_t;

typedef struct {
    cfg_doc_t *d;
    yaml_parser_t p;
    cfg_node_t *root;
    cfg_node_t **pend; /* completed children of the open collections */
    size_t npend, cap_pend;
    frame_t *open;
    size_t nopen, cap_open;
    anchor_t *anchors; /* per document, searched linearly as libyaml does */
    size_t nanchors, cap_anchors;
    cfg_node_t **maps; /* the first document's mappings, in start order */
    size_t nmaps, cap_maps;
    bool keep_maps;
} composer_t;

static int mark_int(size_t v)
{
    return v >= (size_t)INT_MAX ? INT_MAX : (int)v + 1;
}

/* An aligned chunk. mmap() gives one without the padding aligned_alloc()
 * leaves around it in the heap (2 MiB of 10 for a 10,000-device file), and
 * munmap() gives it back to the kernel at once. Under AddressSanitizer the
 * heap is used, so that LeakSanitizer sees a chunk that leaks. */
static cfg_arena_t *chunk_new(void)
{
#if SB_ARENA_HEAP
    return aligned_alloc(ARENA_BYTES, ARENA_BYTES);
#else
    char *p =
        mmap(NULL, 2 * ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uintptr_t start, head;

    if (p == MAP_FAILED)
        return NULL;
    start = ((uintptr_t)p + ARENA_BYTES - 1) & ~(uintptr_t)(ARENA_BYTES - 1);
    head = start - (uintptr_t)p;
    if (head > 0)
        munmap(p, head);
    munmap((char *)start + ARENA_BYTES, ARENA_BYTES - head);
    return (cfg_arena_t *)start;
#endif
}

static void chunk_free(cfg_arena_t *c)
{
#if SB_ARENA_HEAP
    free(c);
#else
    munmap(c, ARENA_BYTES);
#endif
}

static void *arena_alloc(cfg_doc_t *d, size_t n, size_t align)
{
    cfg_arena_t *a = d->arena, *c;
    size_t cap;

    if (a) {
        size_t off = (a->used + align - 1) & ~(align - 1);

        if (off <= a->cap && a->cap - off >= n) {
            a->used = off + n;
            return a->data + off;
        }
    }
    if (n > SIZE_MAX / 2)
        return NULL;
    cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
    c = n > ARENA_CHUNK ? malloc(sizeof(*c) + cap) : chunk_new();
    if (!c)
        return NULL;
    c->doc = d;
    c->used = n;
    c->cap = cap;
    /* An oversized block goes behind the current chunk, whose room stays in use. */
    if (a && n > ARENA_CHUNK) {
        c->next = a->next;
        a->next = c;
    } else {
        c->next = a;
        d->arena = c;
    }
    return c->data;
}

const cfg_doc_t *cfg_node_doc(const cfg_node_t *node)
{
    return ((const cfg_arena_t *)((uintptr_t)node & ~(uintptr_t)(ARENA_BYTES - 1)))->doc;
}

void cfg_yaml_free(cfg_doc_t *d)
{
    while (d->arena) {
        cfg_arena_t *next = d->arena->next;

        if (d->arena->cap > ARENA_CHUNK)
            free(d->arena);
        else
            chunk_free(d->arena);
        d->arena = next;
    }
    d->root = NULL;
}

/* Room for one more element in *arr (cap elements of size each). */
static int grow(void *arr, size_t *cap, size_t n, size_t size)
{
    void **p = arr;
    size_t ncap;
    void *b;

    if (n < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 64;
    if (ncap > SIZE_MAX / size || !(b = realloc(*p, ncap * size)))
        return -ENOMEM;
    *p = b;
    *cap = ncap;
    return 0;
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

/* The message for a failure of libyaml (reader, scanner, parser) or of the
 * composer below, which fills the parser's error fields as libyaml's own
 * composer does. */
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

static int composer_error(composer_t *c, const char *context, yaml_mark_t context_mark,
                          const char *problem, yaml_mark_t problem_mark)
{
    c->p.error = YAML_COMPOSER_ERROR;
    c->p.context = context;
    c->p.context_mark = context_mark;
    c->p.problem = problem;
    c->p.problem_mark = problem_mark;
    return -GW_ECONFIG;
}

/* A node completed (or an alias met) goes to its parent, or is the root. */
static int add_child(composer_t *c, cfg_node_t *n)
{
    if (c->nopen == 0) {
        c->root = n;
        return 0;
    }
    if (grow(&c->pend, &c->cap_pend, c->npend, sizeof(*c->pend)) < 0)
        return -ENOMEM;
    c->pend[c->npend++] = n;
    return 0;
}

/* A new node at mark; takes *anchor (libyaml's string) and registers it. */
static int new_node(composer_t *c, cfg_kind_t kind, yaml_mark_t mark, yaml_char_t **anchor,
                    cfg_node_t **out)
{
    cfg_node_t *n = arena_alloc(c->d, sizeof(*n), alignof(cfg_node_t));
    size_t i;

    if (!n)
        return -ENOMEM;
    memset(n, 0, sizeof(*n));
    n->kind = (uint8_t)kind;
    n->line = mark_int(mark.line);
    n->column = mark_int(mark.column);
    *out = n;
    if (!*anchor)
        return 0;
    for (i = 0; i < c->nanchors; i++) {
        if (strcmp(c->anchors[i].name, (const char *)*anchor) == 0)
            return composer_error(c, "found duplicate anchor; first occurrence", c->anchors[i].mark,
                                  "second occurrence", mark);
    }
    if (grow(&c->anchors, &c->cap_anchors, c->nanchors, sizeof(*c->anchors)) < 0)
        return -ENOMEM;
    c->anchors[c->nanchors++] = (anchor_t){(char *)*anchor, n, mark};
    *anchor = NULL;
    return 0;
}

static int on_scalar(composer_t *c, yaml_event_t *ev)
{
    size_t len = ev->data.scalar.length;
    cfg_node_t *n;
    char *text;
    int rc;

    if (len >= UINT32_MAX)
        return -ENOMEM;
    if (!(text = arena_alloc(c->d, len + 1, 1)))
        return -ENOMEM;
    memcpy(text, ev->data.scalar.value, len);
    text[len] = '\0';
    if ((rc = new_node(c, CFG_SCALAR, ev->start_mark, &ev->data.scalar.anchor, &n)) < 0)
        return rc;
    n->u.text = text;
    n->len = (uint32_t)len;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return add_child(c, n);
}

static int on_alias(composer_t *c, const yaml_event_t *ev)
{
    size_t i;

    for (i = 0; i < c->nanchors; i++) {
        if (strcmp(c->anchors[i].name, (const char *)ev->data.alias.anchor) == 0)
            return add_child(c, c->anchors[i].node);
    }
    return composer_error(c, NULL, ev->start_mark, "found undefined alias", ev->start_mark);
}

static int on_start(composer_t *c, yaml_event_t *ev)
{
    bool map = ev->type == YAML_MAPPING_START_EVENT;
    yaml_char_t **anchor = map ? &ev->data.mapping_start.anchor : &ev->data.sequence_start.anchor;
    cfg_node_t *n;
    int rc;

    if ((rc = new_node(c, map ? CFG_MAPPING : CFG_SEQUENCE, ev->start_mark, anchor, &n)) < 0)
        return rc;
    if (map && c->keep_maps) {
        if (grow(&c->maps, &c->cap_maps, c->nmaps, sizeof(*c->maps)) < 0)
            return -ENOMEM;
        c->maps[c->nmaps++] = n;
    }
    if (grow(&c->open, &c->cap_open, c->nopen, sizeof(*c->open)) < 0)
        return -ENOMEM;
    c->open[c->nopen++] = (frame_t){n, c->npend};
    return 0;
}

/* The children collected since the start event become the node's array;
 * a mapping's consumed flags follow its key/value pointers. */
static int on_end(composer_t *c)
{
    frame_t f = c->open[--c->nopen];
    size_t k = c->npend - f.base;
    size_t bytes = k * sizeof(cfg_node_t *);
    bool map = f.node->kind == CFG_MAPPING;

    /* libyaml's parser pairs every key with a value (empty when absent). */
    if ((map ? k / 2 : k) >= INT_MAX)
        return -ENOMEM;
    if (map)
        bytes += k / 2 * sizeof(bool);
    f.node->len = (uint32_t)(map ? k / 2 : k);
    if (k > 0) {
        if (!(f.node->u.kids = arena_alloc(c->d, bytes, alignof(cfg_node_t *))))
            return -ENOMEM;
        memcpy(f.node->u.kids, c->pend + f.base, k * sizeof(cfg_node_t *));
        if (map)
            memset(cfg_node_consumed(f.node), 0, k / 2 * sizeof(bool));
    }
    c->npend = f.base;
    return add_child(c, f.node);
}

static int on_event(composer_t *c, yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return on_alias(c, ev);
    case YAML_SCALAR_EVENT:
        return on_scalar(c, ev);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        return on_start(c, ev);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return c->nopen > 0 ? on_end(c) : -GW_ECONFIG;
    default:
        return composer_error(c, NULL, ev->start_mark, "unexpected event", ev->start_mark);
    }
}

/* The events of one document after its DOCUMENT-START, up to and including
 * its DOCUMENT-END. -EIO for a libyaml error or one set in c->p. */
static int compose_document(composer_t *c)
{
    yaml_event_t ev;
    int rc;

    c->root = NULL;
    c->nanchors = 0;
    for (;;) {
        if (!yaml_parser_parse(&c->p, &ev))
            return -EIO;
        if (ev.type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        rc = on_event(c, &ev);
        yaml_event_delete(&ev);
        if (rc == -ENOMEM)
            return rc;
        if (rc < 0)
            return -EIO;
    }
}

/* As yaml_parser_load(): 0 with c->root NULL at the end of the stream, 0
 * with c->root set after a document, or -EIO / -ENOMEM. */
static int next_document(composer_t *c)
{
    yaml_event_t ev;
    bool doc;

    c->root = NULL;
    if (c->p.stream_end_produced)
        return 0;
    if (!c->p.stream_start_produced) {
        if (!yaml_parser_parse(&c->p, &ev))
            return -EIO;
        yaml_event_delete(&ev);
    }
    if (!yaml_parser_parse(&c->p, &ev))
        return -EIO;
    doc = ev.type == YAML_DOCUMENT_START_EVENT;
    yaml_event_delete(&ev);
    return doc ? compose_document(c) : 0;
}

static void composer_free(composer_t *c)
{
    for (size_t i = 0; i < c->nanchors; i++)
        free(c->anchors[i].name);
    free(c->anchors);
    free(c->pend);
    free(c->open);
    free(c->maps);
    yaml_parser_delete(&c->p);
}

int cfg_yaml_compose(cfg_doc_t *d, const char *text, size_t len, cfg_node_t ***mappings,
                     size_t *n_mappings, cfg_error_t *err)
{
    composer_t c = {.d = d, .keep_maps = true};
    int line = 0, column = 0;
    int rc;

    if (!yaml_parser_initialize(&c.p)) {
        cfg_error_at(err, d->path, 1, 1, "out of memory");
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&c.p, (const unsigned char *)text, len);
    rc = next_document(&c);
    d->root = c.root;
    if (rc == 0) {
        cfg_doc_t scratch = {.path = d->path};

        /* A second document would be silently ignored by a loader that stops
         * after the first: compose it too, as yaml_parser_load() would, which
         * also finds errors after the first document. Its nodes go to a
         * scratch arena; only its root's position is needed. */
        for (size_t i = 0; i < c.nanchors; i++)
            free(c.anchors[i].name);
        c.nanchors = 0;
        c.keep_maps = false;
        c.d = &scratch;
        rc = next_document(&c);
        if (rc == 0 && c.root) {
            line = c.root->line;
            column = c.root->column;
            rc = -GW_ECONFIG;
        }
        cfg_yaml_free(&scratch);
        c.d = d;
    }
    if (rc == -EIO || c.p.error != YAML_NO_ERROR)
        rc = parser_error(d, &c.p, text, len, err);
    else if (rc == -GW_ECONFIG)
        cfg_error_at(err, d->path, line, column,
                     "only one YAML document is allowed, found another one here");
    else if (rc == -ENOMEM)
        cfg_error_at(err, d->path, 1, 1, "out of memory");
    if (rc == 0 && mappings) {
        *mappings = c.maps;
        *n_mappings = c.nmaps;
        c.maps = NULL;
    }
    composer_free(&c);
    if (rc < 0)
        cfg_yaml_free(d);
    return rc;
}

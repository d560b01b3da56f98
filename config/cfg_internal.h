/*
 * Private to config/: the loaded YAML tree shared by cfg_yaml.c (loading),
 * cfg_doc.c (checks, messages), cfg_node.c (accessors) and config.c (the
 * common sections).
 */
#ifndef CFG_INTERNAL_H
#define CFG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Room for a user value as shown in a message (quoted, escaped, truncated). */
#define CFG_SHOW_CAP 256

typedef struct cfg_doc cfg_doc_t;

/* Copies of the strings the accessors hand out, so they outlive the tree
 * (see cfg_release_doc()). Chunks are only freed all at once. */
typedef struct cfg_chunk cfg_chunk_t;
typedef struct {
    cfg_chunk_t *head;
} cfg_strings_t;

/* A NUL-terminated copy of s[0..len) in st, or NULL without memory. */
const char *cfg_strings_add(cfg_strings_t *st, const char *s, size_t len);
void cfg_strings_free(cfg_strings_t *st);

/* A node of the loaded tree (cfg_yaml.c). Nodes, scalar values and child
 * arrays live in the document's arena; a node is 32 bytes where libyaml's
 * document node is 96. Its document is found from its address
 * (cfg_node_doc()). */
struct cfg_node {
    /* The key this node is the value of, so node-level errors can name it
     * ("sensors must be ..."); NULL for the root and sequence items. */
    const char *key;
    union {
        const char *text;  /* scalars: the value, NUL-terminated */
        cfg_node_t **kids; /* sequences: the items; mappings: key, value, key,
                              value..., followed by one consumed flag (bool)
                              per pair */
    } u;
    uint32_t len;     /* bytes of a scalar, items of a sequence, pairs of a mapping */
    int line, column; /* 1-based, where the node starts (libyaml's start_mark) */
    uint8_t kind;     /* cfg_kind_t */
    bool plain;       /* a plain (unquoted, non-block) scalar */
};

typedef struct cfg_arena cfg_arena_t;

/* One YAML document as a tree of cfg_node_t. An alias is the anchored node
 * itself, as in libyaml's document API. */
struct cfg_doc {
    const char *path;       /* the file name used in messages; owned by the cfg_t */
    cfg_strings_t *strings; /* where string values are copied; owned by the cfg_t */
    cfg_arena_t *arena;     /* every node, value and child array */
    cfg_node_t *root;       /* NULL when the stream holds no document */
};

/* The consumed flags of a mapping, one per pair in pair order. */
static inline bool *cfg_node_consumed(const cfg_node_t *map)
{
    return map->len ? (bool *)(map->u.kids + 2 * (size_t)map->len) : NULL;
}

/* cfg_yaml.c: composes the first document of text[0..len) from libyaml's
 * events into d (d->path set), and checks there is no second one. Messages
 * are those of yaml_parser_load(). 0, -GW_ECONFIG or -ENOMEM with err
 * filled; on failure d holds nothing. mappings (may be NULL) receives a
 * malloc'd array of the document's mappings in the order they start, and
 * *n_mappings their count; the caller frees it. */
int cfg_yaml_compose(cfg_doc_t *d, const char *text, size_t len, cfg_node_t ***mappings,
                     size_t *n_mappings, cfg_error_t *err);
/* The document node belongs to: nodes live in chunks aligned to their size,
 * whose header names it. */
const cfg_doc_t *cfg_node_doc(const cfg_node_t *node);
/* Frees the arena of d (safe on a zeroed d). */
void cfg_yaml_free(cfg_doc_t *d);
/* Parses text (not kept: values are copied into d's arena) into d and
 * rejects duplicate and non-scalar keys in every mapping. d->path must be
 * set. 0, -GW_ECONFIG or -ENOMEM with err filled. */
int cfg_doc_load(cfg_doc_t *d, const char *text, size_t len, cfg_error_t *err);
/* Frees what cfg_doc_load() allocated; safe on a zeroed or failed d. */
void cfg_doc_free(cfg_doc_t *d);
/* The root node, or NULL when the document is empty. */
const cfg_node_t *cfg_doc_root(const cfg_doc_t *d);

/* Fills err for a position that has no node (1-based line and column). */
int cfg_error_at(cfg_error_t *err, const char *file, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* 1-based line of a node, for "first defined at line N". */
int cfg_node_line(const cfg_node_t *node);

/* s as shown in messages: in single quotes, control characters escaped, cut
 * after a few dozen bytes (never inside a character) with "...". buf holds
 * CFG_SHOW_CAP bytes; returns buf. */
const char *cfg_show(const char *s, size_t len, char *buf);

/* An empty plain scalar ("key:" with nothing after it). */
bool cfg_node_is_empty(const cfg_node_t *node);

/* What a node is, for "got ..." in messages: "'text'" (quoted, escaped,
 * truncated), "an empty value", "a sequence" or "a mapping". Returns buf or a
 * static string; buf holds CFG_SHOW_CAP bytes. */
const char *cfg_describe(const cfg_node_t *node, char *buf);

/* Reports the first key of map (in file order) that is not in the
 * NULL-terminated list keys, as cfg_check_unknown() words it. */
int cfg_check_keys(const cfg_node_t *map, const char *const *keys, const char *context,
                   cfg_error_t *err);

/* A string to look for duplicates among: see cfg_find_dup(). */
typedef struct {
    const char *s;
    size_t len;
    size_t idx; /* position in file order */
} cfg_dup_item_t;

/* Sorts items (n of them) and finds the earliest repeat in file order: true
 * with *dup the idx of the repeat and *first the idx of its first occurrence. */
bool cfg_find_dup(cfg_dup_item_t *items, size_t n, size_t *dup, size_t *first);

/* cfg_delivery.c: mqtt.version and mqtt.tls (sec: the mqtt section or
 * NULL), and outbox.spool (sec: the outbox section or NULL). */
int cfg_load_mqtt_extra(cfg_t *cfg, const cfg_node_t *sec, cfg_error_t *err);
int cfg_load_spool(cfg_t *cfg, const cfg_node_t *sec, cfg_error_t *err);
/* The top-level `commands` section (write-back): cfg_delivery.c. */
int cfg_load_commands(cfg_t *cfg, const cfg_node_t *root, cfg_error_t *err);

/* cfg_publish.c: the top-level `publish` section, and an adapter's `publish`
 * key (a->node set); cfg_publish_free() frees what the latter allocated. */
int cfg_load_publish(cfg_t *cfg, const cfg_node_t *root, cfg_error_t *err);
int cfg_load_adapter_publish(cfg_adapter_t *a, cfg_error_t *err);
void cfg_publish_free(cfg_adapter_t *a);
/* The top-level `homeassistant` section, and an adapter's (after the
 * top-level one). */
int cfg_load_homeassistant(cfg_t *cfg, const cfg_node_t *root, cfg_error_t *err);
int cfg_load_adapter_ha(const cfg_t *cfg, cfg_adapter_t *a, cfg_error_t *err);
/* cfg_release_doc(): the publish settings' node pointers become NULL. */
void cfg_publish_forget_nodes(cfg_t *cfg);

#endif

/*
 * Private to config/: the loaded YAML document and the node wrappers shared by
 * cfg_node.c (YAML, nodes, accessors) and config.c (the common sections).
 */
#ifndef CFG_INTERNAL_H
#define CFG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "config/config.h"

/* Room for a user value as shown in a message (quoted, escaped, truncated). */
#define CFG_SHOW_CAP 256

typedef struct cfg_doc cfg_doc_t;

/* Copies of the strings the accessors hand out, so they outlive the document
 * (see cfg_release_doc()). Chunks are only freed all at once. */
typedef struct cfg_chunk cfg_chunk_t;
typedef struct {
    cfg_chunk_t *head;
} cfg_strings_t;

/* A NUL-terminated copy of s[0..len) in st, or NULL without memory. */
const char *cfg_strings_add(cfg_strings_t *st, const char *s, size_t len);
void cfg_strings_free(cfg_strings_t *st);

struct cfg_node {
    const cfg_doc_t *doc;
    yaml_node_t *y;
    bool *consumed; /* mappings: one flag per pair, in pair order; else NULL */
    /* The key this node is the value of, so node-level errors can name it
     * ("sensors must be ..."); NULL for the root and sequence items. */
    const char *key;
};

/* One YAML document and a wrapper per node. libyaml node ids are 1-based
 * indexes into doc.nodes, so the wrapper of node id is nodes[id - 1]. */
struct cfg_doc {
    const char *path;       /* the file name used in messages; owned by the cfg_t */
    cfg_strings_t *strings; /* where string values are copied; owned by the cfg_t */
    yaml_document_t doc;
    bool loaded;
    cfg_node_t *nodes;
    bool *flags; /* every mapping's consumed flags, one allocation */
};

/* Parses text (not kept: libyaml copies what it needs) into d, wraps its
 * nodes and rejects duplicate and non-scalar keys in every mapping. d->path
 * must be set. 0, -GW_ECONFIG or -ENOMEM with err filled. */
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

/*
 * The store Paho keeps its publish commands in; see paho_store.h for why.
 *
 * A hash table of key -> bytes, one per Paho client, freed with it. Paho
 * calls these functions from its own threads and from the loop thread (an
 * API call), under different locks of its own, so the table has its lock.
 * What get() and keys() hand back is allocated with Paho's allocator, since
 * Paho frees it with its own.
 */
#include "gateway/paho_store.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 256u

typedef struct entry {
    struct entry *next;
    char *key;
    size_t len;
    char data[];
} entry_t;

typedef struct {
    const gw_paho_t *api;
    pthread_mutex_t lock;
    entry_t *buckets[BUCKETS];
    size_t count;
} store_t;

static unsigned hash(const char *key)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % BUCKETS;
}

/* The link that points at key's entry (or at the NULL ending its bucket). */
static entry_t **find(store_t *s, const char *key)
{
    entry_t **e = &s->buckets[hash(key)];

    while (*e && strcmp((*e)->key, key) != 0)
        e = &(*e)->next;
    return e;
}

static void unlink_free(store_t *s, entry_t **link)
{
    entry_t *e = *link;

    *link = e->next;
    free(e->key);
    free(e);
    s->count--;
}

static int st_open(void **handle, const char *client_id, const char *uri, void *context)
{
    store_t *s = calloc(1, sizeof(*s));

    (void)client_id;
    (void)uri;
    if (!s)
        return MQTTCLIENT_PERSISTENCE_ERROR;
    s->api = context;
    pthread_mutex_init(&s->lock, NULL);
    *handle = s;
    return 0;
}

static int st_clear(void *handle)
{
    store_t *s = handle;

    pthread_mutex_lock(&s->lock);
    for (unsigned b = 0; b < BUCKETS; b++)
        while (s->buckets[b])
            unlink_free(s, &s->buckets[b]);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int st_close(void *handle)
{
    store_t *s = handle;

    st_clear(s);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return 0;
}

static int st_put(void *handle, char *key, int bufcount, char *buffers[], int buflens[])
{
    store_t *s = handle;
    size_t len = 0, at = 0;
    entry_t *e, **link;

    for (int i = 0; i < bufcount; i++)
        len += (size_t)buflens[i];
    e = malloc(sizeof(*e) + len);
    if (!e || !(e->key = strdup(key))) {
        free(e);
        return MQTTCLIENT_PERSISTENCE_ERROR;
    }
    e->len = len;
    for (int i = 0; i < bufcount; i++) {
        memcpy(e->data + at, buffers[i], (size_t)buflens[i]);
        at += (size_t)buflens[i];
    }
    pthread_mutex_lock(&s->lock);
    link = find(s, key);
    if (*link)
        unlink_free(s, link);
    e->next = s->buckets[hash(key)];
    s->buckets[hash(key)] = e;
    s->count++;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int st_get(void *handle, char *key, char **buffer, int *buflen)
{
    store_t *s = handle;
    int rc = MQTTCLIENT_PERSISTENCE_ERROR;
    entry_t *e;

    pthread_mutex_lock(&s->lock);
    e = *find(s, key);
    if (e && (*buffer = s->api->malloc(e->len ? e->len : 1)) != NULL) {
        memcpy(*buffer, e->data, e->len);
        *buflen = (int)e->len;
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int st_remove(void *handle, char *key)
{
    store_t *s = handle;
    entry_t **link;
    int rc = MQTTCLIENT_PERSISTENCE_ERROR;

    pthread_mutex_lock(&s->lock);
    link = find(s, key);
    if (*link) {
        unlink_free(s, link);
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int st_keys(void *handle, char ***keys, int *nkeys)
{
    store_t *s = handle;
    int rc = 0, n = 0;

    pthread_mutex_lock(&s->lock);
    *keys = NULL;
    if (s->count && !(*keys = s->api->malloc(s->count * sizeof(**keys))))
        rc = MQTTCLIENT_PERSISTENCE_ERROR;
    for (unsigned b = 0; rc == 0 && b < BUCKETS; b++) {
        for (entry_t *e = s->buckets[b]; rc == 0 && e; e = e->next) {
            size_t len = strlen(e->key) + 1;

            if (((*keys)[n] = s->api->malloc(len)) == NULL)
                rc = MQTTCLIENT_PERSISTENCE_ERROR;
            else
                memcpy((*keys)[n++], e->key, len);
        }
    }
    if (rc != 0) {
        while (n > 0)
            s->api->free((*keys)[--n]);
        s->api->free(*keys);
        *keys = NULL;
    }
    *nkeys = n;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int st_containskey(void *handle, char *key)
{
    store_t *s = handle;
    int rc;

    pthread_mutex_lock(&s->lock);
    rc = *find(s, key) ? 0 : MQTTCLIENT_PERSISTENCE_ERROR;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void gw_paho_store_init(MQTTClient_persistence *p, const gw_paho_t *api)
{
    *p = (MQTTClient_persistence){
        .context = (void *)api,
        .popen = st_open,
        .pclose = st_close,
        .pput = st_put,
        .pget = st_get,
        .premove = st_remove,
        .pkeys = st_keys,
        .pclear = st_clear,
        .pcontainskey = st_containskey,
    };
}

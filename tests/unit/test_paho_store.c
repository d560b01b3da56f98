/*
 * The store Paho keeps its publish commands in (gateway/paho_store.c),
 * driven as Paho drives a user persistence: open, put in pieces, get,
 * replace, remove, list the keys, clear, close. Under ASan, anything the
 * store kept after close is a leak.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/paho_store.h"
#include "suites.h"

static void *plain_malloc(size_t n)
{
    return malloc(n);
}

static void plain_free(void *p)
{
    free(p);
}

static const gw_paho_t api = {.malloc = plain_malloc, .free = plain_free};

static int put(MQTTClient_persistence *p, void *h, const char *key, const char *a, const char *b)
{
    char *bufs[] = {(char *)a, (char *)b};
    int lens[] = {(int)strlen(a), (int)strlen(b)};

    return p->pput(h, (char *)key, 2, bufs, lens);
}

static char *get(MQTTClient_persistence *p, void *h, const char *key)
{
    char *buf = NULL, *out;
    int len = 0;

    if (p->pget(h, (char *)key, &buf, &len) != 0)
        return NULL;
    out = malloc((size_t)len + 1);
    memcpy(out, buf, (size_t)len);
    out[len] = '\0';
    free(buf);
    return out;
}

static void test_store(void)
{
    MQTTClient_persistence p;
    void *h = NULL;
    char **keys = NULL, *v;
    int n = -1;

    gw_paho_store_init(&p, &api);
    CU_ASSERT_PTR_NOT_NULL(p.context);
    CU_ASSERT_EQUAL_FATAL(p.popen(&h, "id", "tcp://x:1", p.context), 0);
    CU_ASSERT_EQUAL(p.pkeys(h, &keys, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_PTR_NULL(keys);
    CU_ASSERT_EQUAL(put(&p, h, "c-1", "ab", "cd"), 0);
    CU_ASSERT_EQUAL(put(&p, h, "c-2", "", "x"), 0);
    CU_ASSERT_STRING_EQUAL(v = get(&p, h, "c-1"), "abcd");
    free(v);
    CU_ASSERT_EQUAL(put(&p, h, "c-1", "new", ""), 0); /* replaces */
    CU_ASSERT_STRING_EQUAL(v = get(&p, h, "c-1"), "new");
    free(v);
    CU_ASSERT_EQUAL(p.pcontainskey(h, "c-2"), 0);
    CU_ASSERT_NOT_EQUAL(p.pcontainskey(h, "c-3"), 0);
    CU_ASSERT_PTR_NULL(get(&p, h, "c-3"));
    CU_ASSERT_EQUAL(p.pkeys(h, &keys, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT((strcmp(keys[0], "c-1") == 0 && strcmp(keys[1], "c-2") == 0) ||
              (strcmp(keys[0], "c-2") == 0 && strcmp(keys[1], "c-1") == 0));
    for (int i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    CU_ASSERT_EQUAL(p.premove(h, "c-2"), 0);
    CU_ASSERT_NOT_EQUAL(p.premove(h, "c-2"), 0);
    CU_ASSERT_EQUAL(p.pcontainskey(h, "c-1"), 0);
    CU_ASSERT_EQUAL(p.pclear(h), 0);
    CU_ASSERT_NOT_EQUAL(p.pcontainskey(h, "c-1"), 0);
    /* Many keys, some of them left for close to free. */
    for (int i = 0; i < 1000; i++) {
        char key[16];

        snprintf(key, sizeof(key), "s-%d", i);
        CU_ASSERT_EQUAL(put(&p, h, key, "payload", "!"), 0);
    }
    CU_ASSERT_EQUAL(p.pkeys(h, &keys, &n), 0);
    CU_ASSERT_EQUAL(n, 1000);
    for (int i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    CU_ASSERT_EQUAL(p.premove(h, "s-500"), 0);
    CU_ASSERT_EQUAL(p.pclose(h), 0);
}

/* Each open is a store of its own: a new client never sees an old one's. */
static void test_separate(void)
{
    MQTTClient_persistence p;
    void *a = NULL, *b = NULL;

    gw_paho_store_init(&p, &api);
    CU_ASSERT_EQUAL_FATAL(p.popen(&a, "id", "tcp://x:1", p.context), 0);
    CU_ASSERT_EQUAL_FATAL(p.popen(&b, "id", "tcp://x:1", p.context), 0);
    CU_ASSERT_EQUAL(put(&p, a, "c-1", "a", ""), 0);
    CU_ASSERT_NOT_EQUAL(p.pcontainskey(b, "c-1"), 0);
    CU_ASSERT_EQUAL(p.pclose(a), 0);
    CU_ASSERT_EQUAL(p.pclose(b), 0);
}

int paho_store_suite(void)
{
    static const sb_test_t tests[] = {
        {"put, get, replace, remove, keys, clear", test_store},
        {"one store per client", test_separate},
    };
    CU_pSuite s = CU_add_suite("paho_store", NULL, NULL);

    return s ? SB_ADD_TESTS(s, tests) : -1;
}

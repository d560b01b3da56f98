/*
 * Paho MQTTAsync: linked for tcp:// in a lean build, otherwise loaded at run
 * time.
 *
 * Debian ships Paho as two libraries with the same API: libpaho-mqtt3a
 * (plain TCP) and libpaho-mqtt3as (TLS, which pulls in OpenSSL). Linking the
 * TLS one costs every installation about 3.5 MiB of resident memory for
 * libcrypto, which a gateway talking plain MQTT to a local broker never
 * uses. So the publisher loads the plain library for tcp:// and mqtt://
 * URIs and the TLS one for ssl:// and mqtts://, and calls Paho through this
 * table. Both may end up loaded after a reload that switches to TLS.
 *
 * A lean build (SB_PAHO_LEAN, the default where cmake/paho_lean.cmake
 * accepts Debian's static archive) links the plain library into the
 * executable instead, without Paho's stack tracing and heap tracking
 * (gateway/paho_lean.c says how and why); the TLS library is still loaded
 * at run time. The two never share memory: a client, and everything
 * allocated for it, stays with the library that created it.
 */
#ifndef GW_PAHO_H
#define GW_PAHO_H

#include <MQTTAsync.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int (*createWithOptions)(MQTTAsync *handle, const char *uri, const char *client_id,
                             int persistence_type, void *persistence_context,
                             MQTTAsync_createOptions *options);
    int (*setCallbacks)(MQTTAsync handle, void *context, MQTTAsync_connectionLost *cl,
                        MQTTAsync_messageArrived *ma, MQTTAsync_deliveryComplete *dc);
    int (*connect)(MQTTAsync handle, const MQTTAsync_connectOptions *options);
    int (*disconnect)(MQTTAsync handle, const MQTTAsync_disconnectOptions *options);
    int (*sendMessage)(MQTTAsync handle, const char *topic, const MQTTAsync_message *msg,
                       MQTTAsync_responseOptions *response);
    void (*destroy)(MQTTAsync *handle);
    const char *(*strerror)(int code);
    void (*freeMessage)(MQTTAsync_message **msg);
    void (*free)(void *ptr);
    void *(*malloc)(size_t size);
    const char *(*reasonCode_toString)(enum MQTTReasonCodes value);
    int (*subscribeMany)(MQTTAsync handle, int count, char *const *topic, const int *qos,
                         MQTTAsync_responseOptions *response);
    MQTTProperty *(*getProperty)(MQTTProperties *props, enum MQTTPropertyCodes code);
    int (*propertiesAdd)(MQTTProperties *props, const MQTTProperty *prop);
    void (*propertiesFree)(MQTTProperties *props);
    /* Optional (NULL when the library lacks them): */
    int (*hasProperty)(MQTTProperties *props, enum MQTTPropertyCodes code);
    int (*getNumericValue)(MQTTProperties *props, enum MQTTPropertyCodes code);
    /* Paho's own heap accounting, in builds that track it (Debian's shared
     * libraries do, the lean one does not): the first member is the bytes it
     * holds now. */
    const size_t *(*heap_info)(void);
    /* Whether MQTTAsync_destroy() frees the publishes a client never wrote
     * (the lean build's, gateway/paho_lean.c); Paho 1.3.12 as Debian ships
     * it leaks them unless they live in a persistence (paho_store.h). */
    bool frees_unsent;
} gw_paho_t;

/* Unit tests: gw_paho_load() returns api from now on (NULL: the real
 * libraries again). */
void gw_paho_fake(const gw_paho_t *api);

/* Bytes Paho's own heap holds now, in the libraries in use so far; -1
 * (unknown) when none is in use yet or one of them does not track its heap.
 * Any thread. */
int64_t gw_paho_heap_bytes(void);

/* Which Paho this build uses, one line for --version and the log: its
 * version and how it is linked. Static string; any thread. */
const char *gw_paho_describe(void);

/* Lean build only (gateway/paho_lean.c): initialises the statically linked
 * Paho and fills *api with its functions. Called once, by gw_paho_load(),
 * before any client exists. Loop thread. */
void gw_paho_lean_fill(gw_paho_t *api);

/* How many frees of blocks the lean Paho did not hold (a block freed
 * twice) it has ignored so far (gateway/paho_heap.c); 0 in a build without
 * it. Any thread. */
unsigned long gw_paho_lean_ignored_frees(void);

/* Lean build only (gateway/paho_heap.c): where Paho allocated the blocks it
 * holds, up to max of them, as "16 B at MQTTAsync.c:1234, ..." in buf;
 * returns how many it holds. */
size_t gw_paho_lean_heap_origins(char *buf, size_t len, unsigned max);

/* While on, the signals this thread gives Paho's send thread are held back;
 * turning it off gives the held one (gateway/paho_wake.c; a no-op where
 * Paho is loaded at run time). The loop holds them while it hands Paho a
 * batch, Paho's receive thread while it works through what it has read
 * (gateway/paho_pending.c). */
void gw_paho_wake_hold(bool on);
/* Lean build only (gateway/paho_cork.c): marks the calling thread as Paho's
 * send thread and sends what its last writes held back; Paho's send thread
 * calls it before it waits for work. */
void gw_paho_cork_flush(void);
/* Lean build only: the lean Paho's heap_info (bytes held, most held). */
const size_t *gw_paho_lean_heap_info(void);

/* The Paho library for plain TCP or for TLS, loaded on first use (it stays
 * loaded). NULL, after logging why, if it cannot be loaded. Loop thread. */
const gw_paho_t *gw_paho_load(bool tls);

#endif

/* Paho, linked (tcp:// in a lean build) or loaded at run time; see paho.h. */
#include "gateway/paho.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/log.h"

static const char *const libraries[2] = {"libpaho-mqtt3a.so.1", "libpaho-mqtt3as.so.1"};
static gw_paho_t apis[2];
static bool loaded[2];

/* dlsym returns a data pointer; POSIX guarantees it converts to a function
 * pointer, which C leaves undefined, hence the memcpy. */
static bool sym(void *lib, const char *file, const char *name, void *fn, size_t size)
{
    void *p = dlsym(lib, name);

    if (!p) {
        gw_err("mqtt: cannot use %s: it has no symbol %s (not the Paho MQTT C library?)", file,
               name);
        return false;
    }
    memcpy(fn, &p, size);
    return true;
}

/* A symbol that may be missing: the pointer stays NULL. */
static void opt_sym(void *lib, const char *name, void *fn, size_t size)
{
    void *p = dlsym(lib, name);

    memset(fn, 0, size);
    if (p)
        memcpy(fn, &p, size);
}

#define SYM(lib, api, field, name)                                                                 \
    sym(lib, libraries[tls], name, &(api)->field, sizeof((api)->field))

static const gw_paho_t *fake;

void gw_paho_fake(const gw_paho_t *api)
{
    fake = api;
}

const char *gw_paho_describe(void)
{
#ifdef SB_PAHO_LEAN_DESC
    return SB_PAHO_LEAN_DESC " for tcp://, libpaho-mqtt3as.so.1 loaded at run time for ssl://";
#else
    return "Paho MQTT C loaded at run time (libpaho-mqtt3a.so.1 for tcp://, "
           "libpaho-mqtt3as.so.1 for ssl://)";
#endif
}

#ifndef SB_PAHO_LEAN_DESC
unsigned long gw_paho_lean_ignored_frees(void)
{
    return 0;
}

void gw_paho_wake_hold(bool on)
{
    (void)on;
}

const size_t *gw_paho_lean_heap_info(void)
{
    static const size_t none[2];

    return none;
}
#endif

/* Paho formats a line for every packet it sends or receives (Log() at
 * LOG_PROTOCOL, above its default level TRACE_MINIMUM) into an in-memory
 * ring that nobody reads unless MQTT_C_CLIENT_TRACE asks for trace output:
 * about a tenth of a QoS 0 publish's instructions. Unless it is set, only
 * Paho's errors are kept. */
static void quiet_trace(void (*set_level)(enum MQTTASYNC_TRACE_LEVELS level))
{
    const char *trace = getenv("MQTT_C_CLIENT_TRACE");

    if (set_level && (!trace || !*trace))
        set_level(MQTTASYNC_TRACE_ERROR);
}

const gw_paho_t *gw_paho_load(bool tls)
{
    void (*set_level)(enum MQTTASYNC_TRACE_LEVELS level) = NULL;
    gw_paho_t *api = &apis[tls];
    void *lib;

    if (fake)
        return fake;
    if (loaded[tls])
        return api;
#ifdef SB_PAHO_LEAN_DESC
    if (!tls) {
        gw_paho_lean_fill(api);
        quiet_trace(MQTTAsync_setTraceLevel);
        loaded[tls] = true;
        gw_debug("mqtt: using %s", SB_PAHO_LEAN_DESC);
        return api;
    }
#endif
    lib = dlopen(libraries[tls], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        gw_err("mqtt: cannot load %s: %s (is libpaho-mqtt1.3 installed?)", libraries[tls],
               dlerror());
        return NULL;
    }
    if (!SYM(lib, api, createWithOptions, "MQTTAsync_createWithOptions") ||
        !SYM(lib, api, setCallbacks, "MQTTAsync_setCallbacks") ||
        !SYM(lib, api, connect, "MQTTAsync_connect") ||
        !SYM(lib, api, disconnect, "MQTTAsync_disconnect") ||
        !SYM(lib, api, sendMessage, "MQTTAsync_sendMessage") ||
        !SYM(lib, api, destroy, "MQTTAsync_destroy") ||
        !SYM(lib, api, strerror, "MQTTAsync_strerror") ||
        !SYM(lib, api, freeMessage, "MQTTAsync_freeMessage") ||
        !SYM(lib, api, free, "MQTTAsync_free") || !SYM(lib, api, malloc, "MQTTAsync_malloc") ||
        !SYM(lib, api, subscribeMany, "MQTTAsync_subscribeMany") ||
        !SYM(lib, api, getProperty, "MQTTProperties_getProperty") ||
        !SYM(lib, api, propertiesAdd, "MQTTProperties_add") ||
        !SYM(lib, api, propertiesFree, "MQTTProperties_free") ||
        !SYM(lib, api, reasonCode_toString, "MQTTReasonCode_toString")) {
        dlclose(lib);
        return NULL;
    }
    /* Optional: MQTT 5 properties, and the heap accounting of a tracking
     * build. */
    opt_sym(lib, "MQTTProperties_hasProperty", &api->hasProperty, sizeof(api->hasProperty));
    opt_sym(lib, "MQTTProperties_getNumericValue", &api->getNumericValue,
            sizeof(api->getNumericValue));
    opt_sym(lib, "Heap_get_info", &api->heap_info, sizeof(api->heap_info));
    opt_sym(lib, "MQTTAsync_setTraceLevel", &set_level, sizeof(set_level));
    quiet_trace(set_level);
    if (!api->hasProperty || !api->getNumericValue)
        api->getNumericValue = NULL;
    loaded[tls] = true;
    gw_debug("mqtt: using %s", libraries[tls]);
    return api;
}

/* A sum that leaves out a library in use would pass for the whole, so one
 * untracked library in use (a shared one built without tracking) makes the
 * total unknown. The lean one counts (gateway/paho_heap.c). */
int64_t gw_paho_heap_bytes(void)
{
    int64_t total = -1;

    for (int i = 0; i < 2; i++) {
        const size_t *info;

        if (!loaded[i])
            continue;
        if (!apis[i].heap_info)
            return -1;
        info = apis[i].heap_info();
        total = (total < 0 ? 0 : total) + (int64_t)(info ? info[0] : 0);
    }
    return total;
}

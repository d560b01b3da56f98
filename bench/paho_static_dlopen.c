/*
 * paho_static_dlopen: for the bench variants that link Debian's static Paho
 * archive (sensorbridge_pahostatic, sensorbridge_pahofast).
 *
 * The gateway may load Paho at run time (gateway/paho.c: dlopen() of
 * libpaho-mqtt3a.so.1 or libpaho-mqtt3as.so.1, then dlsym()). In these
 * variants Paho is linked into the executable instead, so that profiles name
 * its functions (pahostatic) or so that its tracing can be replaced
 * (pahofast, with gateway/paho_lean.c). The archive's symbols are hidden, so
 * this wraps dlopen() and dlsym(): a request for a Paho library returns a
 * handle of its own, and dlsym() on that handle answers from the table
 * below, the functions linked in. Everything else goes to the real
 * dlopen()/dlsym(). A gateway that links Paho directly never calls them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <MQTTAsync.h>
#include <dlfcn.h>
#include <string.h>

static char paho_handle; /* its address is the handle */

static const struct {
    const char *name;
    void (*fn)(void);
} paho_api[] = {
#define API(f)                                                                                     \
    {                                                                                              \
#f, (void (*)(void))f                                                                      \
    }
    API(MQTTAsync_createWithOptions),
    API(MQTTAsync_setCallbacks),
    API(MQTTAsync_connect),
    API(MQTTAsync_disconnect),
    API(MQTTAsync_sendMessage),
    API(MQTTAsync_destroy),
    API(MQTTAsync_strerror),
    API(MQTTAsync_freeMessage),
    API(MQTTAsync_free),
    API(MQTTReasonCode_toString),
    API(MQTTAsync_create),
    API(MQTTAsync_global_init),
    API(MQTTAsync_isConnected),
    API(MQTTAsync_setTraceLevel),
    API(MQTTAsync_malloc),
    API(MQTTProperties_hasProperty),
    API(MQTTProperties_getNumericValue),
    API(MQTTAsync_subscribeMany),
    API(MQTTProperties_getProperty),
    API(MQTTProperties_add),
    API(MQTTProperties_free),
#undef API
};

typedef void *(*dlsym_fn)(void *, const char *);

static dlsym_fn real_dlsym(void)
{
    static dlsym_fn real;

    if (!real)
        real = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
    if (!real)
        real = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
    return real;
}

void *dlopen(const char *file, int mode)
{
    static void *(*real)(const char *, int);

    if (file && strncmp(file, "libpaho-mqtt3a", 14) == 0)
        return &paho_handle;
    if (!real)
        real = (void *(*)(const char *, int))real_dlsym()(RTLD_NEXT, "dlopen");
    return real(file, mode);
}

void *dlsym(void *handle, const char *name)
{
    if (handle == &paho_handle) {
        for (size_t i = 0; i < sizeof(paho_api) / sizeof(paho_api[0]); i++) {
            if (strcmp(paho_api[i].name, name) == 0) {
                void *p;

                memcpy(&p, &paho_api[i].fn, sizeof(p));
                return p;
            }
        }
        return NULL;
    }
    return real_dlsym()(handle, name);
}

int dlclose(void *handle)
{
    static int (*real)(void *);

    if (handle == &paho_handle)
        return 0;
    if (!real)
        real = (int (*)(void *))real_dlsym()(RTLD_NEXT, "dlclose");
    return real(handle);
}

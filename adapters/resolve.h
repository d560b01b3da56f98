/*
 * Host name resolution that never blocks the loop thread.
 *
 * getaddrinfo() can wait seconds for DNS. A numeric address (the common case:
 * "192.168.1.20", "::1") is converted at once with AI_NUMERICHOST, which never
 * blocks; a name goes to a small pool of resolver threads, and the answer
 * comes back on the loop thread through an eventfd the loop watches. Every
 * address the name has is kept (up to ADP_ADDRS_MAX), in getaddrinfo's
 * order, so a caller can try them in turn.
 */
#ifndef ADP_RESOLVE_H
#define ADP_RESOLVE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gateway/loop.h"

#define ADP_ADDRS_MAX 4

/* One TCP address, IPv4 or IPv6. */
typedef struct {
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } u;
    socklen_t len;
} adp_addr_t;

typedef struct {
    size_t n;
    adp_addr_t a[ADP_ADDRS_MAX];
} adp_addrs_t;

/* host as a numeric IPv4 or IPv6 address: 0 and one address in *out, or
 * -EINVAL when host is a name. Never blocks. */
int adp_addrs_numeric(const char *host, uint16_t port, adp_addrs_t *out);

/* The answer, on the loop thread: 0 and the addresses, or a negative errno
 * (-EHOSTUNREACH: the name does not resolve) and none. addrs is valid only
 * during the call. */
typedef void (*adp_resolve_cb)(void *arg, int status, const adp_addrs_t *addrs);

/* A lookup in progress; owned by the resolver. */
typedef struct adp_resolve adp_resolve_t;

/*
 * Starts resolving the name host on a resolver thread. cb runs later on the
 * loop thread, never from within this call, exactly once unless the lookup
 * is cancelled first. host is copied. Returns 0 and the handle in *req
 * (valid until cb runs or adp_resolve_cancel), or a negative errno. Loop
 * thread.
 */
int adp_resolve_start(gw_loop_t *loop, const char *host, uint16_t port, adp_resolve_cb cb,
                      void *arg, adp_resolve_t **req);

/* Forgets a lookup: cb will not run. The thread may still finish it; its
 * answer is then discarded. NULL-safe. Loop thread. */
void adp_resolve_cancel(gw_loop_t *loop, adp_resolve_t *req);

/* For tests: the function that resolves names on the resolver threads
 * (NULL: getaddrinfo). Returns 0 or a negative errno. Set it while no
 * lookup is in progress. */
typedef int (*adp_lookup_fn)(const char *host, uint16_t port, adp_addrs_t *out);
void adp_resolve_set_lookup(adp_lookup_fn fn);

#endif

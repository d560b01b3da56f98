/*
 * The wait of Paho's receive thread, redone so that a pending write or a
 * connect in progress is finished as soon as its socket is writable: replaces
 * Socket_getReadySocket() where Paho is linked statically (the link passes
 * --wrap for it, for WebSocket_putdatas and for Socket_new, so Paho's calls
 * between its objects reach the functions here).
 *
 * Paho MQTT C 1.3.12 (poll build) writes a packet without blocking; when the
 * socket's send buffer is full the rest of the packet becomes a "pending
 * write" and the send thread sends nothing more on that socket until it is
 * finished. Only the receive thread finishes it: Socket_getReadySocket()
 * polls the write set with timeout 0, finishes writable pending writes, then
 * blocks in poll() on the read set alone for up to a second, and when that
 * times out MQTTAsync_cycle() sleeps another 100 ms. At QoS 0 nothing arrives
 * to read, so a pending write waited up to 1.1 s for the next round: a fast
 * publisher spent most of its time waiting (43,000 messages/s at 10 % of a
 * core). A connect in progress (connect_pending) is likewise only noticed by
 * that timeout-0 write poll.
 *
 * Here the real function is called with more_work set (timeout 0: it finishes
 * writable pending writes and returns a socket ready to read, as before), and
 * the waiting is done here: poll() on each socket for POLLIN, or POLLOUT when
 * it has a pending write or a pending connect, plus an eventfd written
 * whenever a write becomes pending or a connect starts, so a wait begun before
 * that sees it. After each wake-up the real function runs again. 0 is
 * returned only when the caller's timeout has passed, so the caller's 100 ms
 * sleep still follows only an idle second. Without sockets the real
 * function's answer (0, at once) is kept, as are its errors.
 *
 * The real function returns a socket only when it is readable and writable and
 * has no pending write; a socket that is readable but not writable is
 * therefore polled for POLLOUT on the next round. Any other wake-up that the
 * real function does not act on (an error bit alone) would make the loop spin,
 * so the rest of the wait is then left to the real function, which waits as
 * Paho always did.
 *
 * Threads: __wrap_Socket_getReadySocket runs on Paho's receive thread only.
 * The wake-ups are written from Paho's send and receive threads. Paho's socket
 * table (mod_s) is read under Paho's socket_mutex, the mutex passed in, as
 * Paho's own isReady() does. The eventfd is opened once and lives as long as
 * the process.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Paho's headers (Socket.h, LinkedList.h, Thread.h) are not installed. SOCKET
 * is int and mutex_type a pthread_mutex_t pointer on Linux. */
#define PS_TCPSOCKET_INTERRUPTED (-22) /* Socket.h: the rest of the write is pending */

/* The head of Paho 1.3.12's Sockets (Socket.h, poll build, not USE_SELECT):
 * only the fields read here. Pinned to 1.3.12 (also 1.3.13): the offsets were
 * checked against Debian's Socket.c.o (0, 8, 0x10, 0x18). */
struct ps_sockets {
    void *connect_pending; /* List of int: sockets whose connect is in progress */
    void *write_pending;   /* List of int: sockets with a pending write */
    unsigned int nfds;     /* entries in fds_read */
    struct pollfd *fds_read;
};
extern struct ps_sockets mod_s;

/* Paho 1.3.12's List and ListElement (LinkedList.h). The lists are walked
 * here, not searched with ListFindItem(): that moves the list's `current`,
 * which Paho's own ListUnlink() iterates with, and the send thread changes
 * write_pending without the socket mutex; reading alone cannot disturb it. */
struct ps_elem {
    struct ps_elem *prev, *next;
    void *content;
};
struct ps_list {
    struct ps_elem *first, *last, *current;
    int count;
    size_t size;
};

int Thread_lock_mutex(pthread_mutex_t *mutex);
int Thread_unlock_mutex(pthread_mutex_t *mutex);

/* Whether the list of sockets l names fd. */
static bool listed(const void *l, int fd)
{
    for (const struct ps_elem *e = l ? ((const struct ps_list *)l)->first : NULL; e; e = e->next)
        if (e->content && *(const int *)e->content == fd)
            return true;
    return false;
}

int __real_Socket_getReadySocket(int more_work, int timeout, pthread_mutex_t *mutex, int *rc);
int __real_WebSocket_putdatas(void *net, char **buf0, size_t *buf0len, void *bufs);
int __real_Socket_new(const char *addr, size_t addr_len, int port, int *sock, long timeout);
int __wrap_Socket_getReadySocket(int more_work, int timeout, pthread_mutex_t *mutex, int *rc);
int __wrap_WebSocket_putdatas(void *net, char **buf0, size_t *buf0len, void *bufs);
int __wrap_Socket_new(const char *addr, size_t addr_len, int port, int *sock, long timeout);

/* More sockets than this (one MQTTAsync client has one) and the wait is the
 * real function's. */
#define PS_MAX_SOCKETS 32

enum ps_kind {
    PS_READ,    /* waiting for data: POLLIN */
    PS_BLOCKED, /* readable, waiting to be writable too: POLLOUT */
    PS_WRITE,   /* pending write or connect: POLLOUT */
};

struct ps_set {
    struct pollfd fds[1 + PS_MAX_SOCKETS]; /* [0] is the eventfd */
    unsigned char kind[1 + PS_MAX_SOCKETS];
    int n; /* entries in fds, the eventfd included */
};

static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static int wake_fd = -1; /* written once, under wake_once */

static void wake_open(void)
{
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

static int wake_get(void)
{
    pthread_once(&wake_once, wake_open);
    return wake_fd;
}

/* A full counter (EAGAIN) already wakes the poll; nothing else can fail. */
static void wake_post(void)
{
    uint64_t one = 1;
    ssize_t n;

    if (wake_get() < 0)
        return;
    n = write(wake_fd, &one, sizeof(one));
    (void)n;
}

static void wake_drain(void)
{
    uint64_t count;
    ssize_t n = read(wake_fd, &count, sizeof(count));

    (void)n;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    /* Linked without the core library (ceiling_pub_fast), so not
     * gw_clock_now_ms(); Paho's own timeouts are not faked either. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int was_blocked(const struct ps_set *prev, int fd)
{
    for (int i = 1; i < prev->n; i++)
        if (prev->fds[i].fd == fd &&
            (prev->kind[i] == PS_BLOCKED ||
             (prev->kind[i] == PS_READ && (prev->fds[i].revents & POLLIN))))
            return 1;
    return 0;
}

/* Paho's sockets into set, with what to wait for on each; a socket found
 * readable in prev (and not returned by the real function since) waits to be
 * writable. -1 when there are more than PS_MAX_SOCKETS, 0 when none. */
static int snapshot(pthread_mutex_t *mutex, const struct ps_set *prev, struct ps_set *set)
{
    unsigned int nfds;

    Thread_lock_mutex(mutex);
    nfds = mod_s.nfds;
    if (nfds > PS_MAX_SOCKETS) {
        Thread_unlock_mutex(mutex);
        return -1;
    }
    for (unsigned int i = 0; i < nfds; i++) {
        int fd = mod_s.fds_read[i].fd;
        struct pollfd *p = &set->fds[1 + i];

        p->fd = fd;
        p->revents = 0;
        if (listed(mod_s.connect_pending, fd) || listed(mod_s.write_pending, fd))
            set->kind[1 + i] = PS_WRITE;
        else if (was_blocked(prev, fd))
            set->kind[1 + i] = PS_BLOCKED;
        else
            set->kind[1 + i] = PS_READ;
        p->events = set->kind[1 + i] == PS_READ ? POLLIN : POLLOUT;
    }
    Thread_unlock_mutex(mutex);
    set->fds[0] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
    set->kind[0] = PS_READ;
    set->n = 1 + (int)nfds;
    return (int)nfds;
}

/* Whether what poll() reported is news to look at again: the eventfd, a
 * pending write or connect that can go on, a socket found readable (which
 * waits for POLLOUT next). A hang-up or an error the real function did not
 * return the socket for, or a socket readable and writable that it did not
 * return, is not: waiting again would spin. */
static int explained(const struct ps_set *set)
{
    if (set->fds[0].revents)
        return 1;
    for (int i = 1; i < set->n; i++) {
        short ev = set->fds[i].revents;

        if ((set->kind[i] == PS_WRITE && (ev & POLLOUT)) ||
            (set->kind[i] == PS_READ && (ev & POLLIN)))
            return 1;
    }
    return 0;
}

/* Paho's receive thread: the next socket to read (or to finish connecting),
 * 0 when none came within timeout ms, *rc as Paho's. */
int __wrap_Socket_getReadySocket(int more_work, int timeout, pthread_mutex_t *mutex, int *rc)
{
    struct ps_set sets[2];
    struct ps_set *set = &sets[0], *prev = &sets[1];
    int64_t deadline;
    int sock;

    sock = __real_Socket_getReadySocket(1, 0, mutex, rc);
    if (sock != 0 || *rc != 0 || more_work || timeout <= 0 || wake_get() < 0)
        return sock;
    deadline = now_ms() + timeout;
    prev->n = 0;
    for (;;) {
        int64_t left = deadline - now_ms();
        struct ps_set *t;
        int n;

        if (left <= 0)
            return 0;
        n = snapshot(mutex, prev, set);
        if (n == 0)
            return 0; /* as the real function: no sockets, no wait */
        if (n < 0)
            return __real_Socket_getReadySocket(0, (int)left, mutex, rc);
        n = poll(set->fds, (nfds_t)set->n, (int)left);
        if (n < 0 && errno != EINTR)
            return __real_Socket_getReadySocket(0, (int)left, mutex, rc);
        if (set->fds[0].revents & POLLIN)
            wake_drain();
        sock = __real_Socket_getReadySocket(1, 0, mutex, rc);
        if (sock != 0 || *rc != 0)
            return sock;
        if (n > 0 && !explained(set)) {
            left = deadline - now_ms();
            return left > 0 ? __real_Socket_getReadySocket(0, (int)left, mutex, rc) : 0;
        }
        t = prev;
        prev = set;
        set = t;
    }
}

/* Every MQTT packet Paho sends goes through here (from MQTTPacket.c);
 * TCPSOCKET_INTERRUPTED means the rest is now a pending write. */
int __wrap_WebSocket_putdatas(void *net, char **buf0, size_t *buf0len, void *bufs)
{
    int rc = __real_WebSocket_putdatas(net, buf0, buf0len, bufs);

    if (rc == PS_TCPSOCKET_INTERRUPTED)
        wake_post();
    return rc;
}

/* Paho's TCP connect (from MQTTProtocolOut.c); EINPROGRESS means the socket
 * is now in connect_pending, to be polled for POLLOUT. */
int __wrap_Socket_new(const char *addr, size_t addr_len, int port, int *sock, long timeout)
{
    int rc = __real_Socket_new(addr, addr_len, port, sock, timeout);

    if (rc == EINPROGRESS || rc == EWOULDBLOCK)
        wake_post();
    return rc;
}

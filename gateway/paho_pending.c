/*
 * Pending writes in Paho's receive thread, finished when the socket is
 * writable instead of after a second: replaces Socket_getReadySocket() and
 * wraps poll() for it, where Paho is linked statically (the link passes
 * --wrap for the functions named __wrap_* below, so Paho's calls between its
 * objects reach them; gateway/paho_lean.c says how the archive is checked).
 *
 * The defect (Paho MQTT C 1.3.12, poll build). Paho writes a packet without
 * blocking; when the socket's send buffer is full the rest becomes a
 * "pending write", and nothing more is sent on that socket until the receive
 * thread has finished it. Socket_getReadySocket() finishes pending writes
 * whose socket a poll with timeout 0 finds writable, then blocks in poll() on
 * the read set alone for up to a second; a socket is only returned when it is
 * readable, was writable and has no pending write; and when nothing is
 * returned MQTTAsync_cycle() sleeps another 100 ms. At QoS 0 nothing arrives
 * to read, so each time the buffer filled, sending stopped for up to 1.1 s
 * (a publisher at 9 % of a core, 40,000 messages/s); at QoS 1 a socket with a
 * pending write that was readable made the thread sleep 100 ms.
 *
 * What changes here. While the receive thread is inside
 * Socket_getReadySocket(), its blocking poll() waits for each socket
 * according to what the function would do with it: for POLLOUT if the socket
 * has a pending write or was not writable at the round's write check, for
 * POLLIN otherwise, and always for an eventfd that a new pending write posts
 * (the send thread makes one while the receive thread may already be
 * waiting). When it wakes for a reason the real function does not return a
 * socket for, it says so, and the replacement of Socket_getReadySocket() runs
 * the real function again (which finishes the writes) instead of returning 0
 * and letting the caller sleep. 0 is returned as before when the caller's
 * timeout has passed without a socket, and after 1,000 rounds within one call,
 * so an unforeseen state cannot spin.
 *
 * Reads. Paho reads each packet with one recv() for its first byte, one per
 * byte of its length and one for the rest: three system calls, and two
 * poll()s, for each 4-byte acknowledgement. On the receive thread, recv()
 * is therefore served from a buffer per socket filled by one recv() of up to
 * 4 KiB (larger reads go straight to the socket once the buffer is empty),
 * and Socket_getReadySocket() returns a socket with buffered bytes at once,
 * as Paho's own TLS build does for bytes OpenSSL holds
 * (SSLSocket_getPendingRead()), if it has no pending write. A socket's
 * buffer is emptied when Paho closes or opens a socket with its number, and
 * when Paho, handed the socket for its buffered bytes, did not read them
 * (no client has it: it would be handed over again and again).
 *
 * The race this would otherwise widen. Paho's list of sockets with pending
 * writes is changed by the receive thread under socket_mutex, but read and
 * appended to by the send thread without it (Socket_noPendingWrites(), which
 * also moves the list's cursor, and Socket_putdatas()); finishing writes
 * promptly made that race corrupt the heap in the flapping test. So the
 * calls between Paho's objects that touch the list, Socket_noPendingWrites(),
 * WebSocket_putdatas() and Socket_close(), take socket_mutex here. Paho makes
 * its mutexes error-checking (MQTTAsync_init(), which gw_paho_lean_fill()
 * runs), so a thread that already holds it (Paho locks it around some of
 * these calls) gets EDEADLK and goes on without unlocking. The order is the
 * one Paho already uses: mqttasync_mutex, then socket_mutex; the receive
 * thread never takes mqttasync_mutex while it holds socket_mutex.
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
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gateway/paho.h"

#define PP_TCPSOCKET_INTERRUPTED (-22) /* Paho's Socket.h: the rest of the write is pending */
#define PP_MAX_SOCKETS 64              /* more, and the wait is Paho's own */
#define PP_MAX_ROUNDS 1000             /* rounds of the real function within one call */

/* Paho's socket_mutex (MQTTAsync.c; mutex_type is a pthread_mutex_t pointer). */
extern pthread_mutex_t *socket_mutex;

int __real_Socket_getReadySocket(int more_work, int timeout, pthread_mutex_t *mutex, int *rc);
int __real_Socket_noPendingWrites(int sock);
int __real_WebSocket_putdatas(void *net, char **buf0, size_t *buf0len, void *bufs);
int __real_Socket_close(int sock);
int __real_poll(struct pollfd *fds, nfds_t nfds, int timeout);
ssize_t __real_recv(int fd, void *buf, size_t len, int flags);
int __real_Socket_new(const char *addr, size_t addr_len, int port, int *sock, long timeout);
int __wrap_Socket_getReadySocket(int more_work, int timeout, pthread_mutex_t *mutex, int *rc);
int __wrap_Socket_noPendingWrites(int sock);
int __wrap_WebSocket_putdatas(void *net, char **buf0, size_t *buf0len, void *bufs);
int __wrap_Socket_close(int sock);
int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags);
int __wrap_Socket_new(const char *addr, size_t addr_len, int port, int *sock, long timeout);

/* The receive thread's round, set by __wrap_Socket_getReadySocket() around
 * the real function and read by __wrap_poll() on the same thread. */
struct pp_round {
    bool active; /* inside the real Socket_getReadySocket() */
    bool again;  /* the wait woke for something the real function ignores */
    nfds_t nfds; /* sockets in the round's write check, 0 if there was none */
    int fd[PP_MAX_SOCKETS];
    bool writable[PP_MAX_SOCKETS];
};
static __thread struct pp_round recv_round;

/* The receive thread's read buffers: filled and read on that thread only,
 * emptied from any thread when Paho closes or opens a socket. */
#define PP_RBUFS 4
#define PP_RBUF_SIZE 4096
struct pp_rbuf {
    int fd; /* -1: free */
    unsigned start, end;
    char data[PP_RBUF_SIZE];
};
static struct pp_rbuf rbufs[PP_RBUFS] = {{.fd = -1}, {.fd = -1}, {.fd = -1}, {.fd = -1}};
static pthread_mutex_t rbuf_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread bool receive_thread; /* set on Paho's receive thread */
/* The socket last returned for its buffered bytes, until recv() reads it. */
static __thread int unread_fd = -1;
static void rbuf_forget(int fd);

static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static int wake_fd = -1; /* written once, under wake_once; lives as long as the process */

static void wake_open(void)
{
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

/* A full counter (EAGAIN) already wakes the wait; nothing else can fail. */
static void wake_post(void)
{
    uint64_t one = 1;
    ssize_t n;

    pthread_once(&wake_once, wake_open);
    if (wake_fd < 0)
        return;
    n = write(wake_fd, &one, sizeof(one));
    (void)n;
}

/* Whether Paho's mutexes are error-checking, as MQTTAsync_init() makes them
 * (glibc keeps the type in __kind). Before that, or where a program never
 * ran it, they are plain mutexes that a second lock would deadlock on: the
 * functions here then do what Paho does. */
static bool paho_initialized(void)
{
    return (socket_mutex->__data.__kind & 3) == PTHREAD_MUTEX_ERRORCHECK;
}

/* Lock socket_mutex unless this thread holds it: true if it must be unlocked. */
static bool socket_lock(void)
{
    return paho_initialized() && pthread_mutex_lock(socket_mutex) == 0;
}

static void socket_unlock(bool locked)
{
    if (locked)
        pthread_mutex_unlock(socket_mutex);
}

int __wrap_Socket_noPendingWrites(int sock)
{
    bool locked = socket_lock();
    int rc = __real_Socket_noPendingWrites(sock);

    socket_unlock(locked);
    return rc;
}

int __wrap_WebSocket_putdatas(void *net, char **buf0, size_t *buf0len, void *bufs)
{
    bool locked = socket_lock();
    int rc = __real_WebSocket_putdatas(net, buf0, buf0len, bufs);

    socket_unlock(locked);
    if (rc == PP_TCPSOCKET_INTERRUPTED)
        wake_post();
    return rc;
}

int __wrap_Socket_close(int sock)
{
    bool locked = socket_lock();
    int rc = __real_Socket_close(sock);

    socket_unlock(locked);
    rbuf_forget(sock);
    return rc;
}

/* Forgets what was read ahead on fd (Paho closed it, or reuses its number). */
static void rbuf_forget(int fd)
{
    pthread_mutex_lock(&rbuf_lock);
    for (int i = 0; i < PP_RBUFS; i++)
        if (rbufs[i].fd == fd)
            rbufs[i].fd = -1;
    pthread_mutex_unlock(&rbuf_lock);
}

int __wrap_Socket_new(const char *addr, size_t addr_len, int port, int *sock, long timeout)
{
    int rc = __real_Socket_new(addr, addr_len, port, sock, timeout);

    if (sock && *sock > 0)
        rbuf_forget(*sock);
    return rc;
}

/* recv() as Paho's receive thread sees it: from the socket's buffer while it
 * holds bytes, the rest from the socket. Errors and end of file are the
 * socket's, with its errno, once the buffer is empty. */
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags)
{
    struct pp_rbuf *b = NULL;
    size_t got = 0;
    ssize_t n;

    if (!receive_thread || len == 0 || flags != 0)
        return __real_recv(fd, buf, len, flags);
    pthread_mutex_lock(&rbuf_lock);
    for (int i = 0; i < PP_RBUFS && !b; i++)
        if (rbufs[i].fd == fd)
            b = &rbufs[i];
    for (int i = 0; i < PP_RBUFS && !b; i++)
        if (rbufs[i].fd < 0) {
            b = &rbufs[i];
            *b = (struct pp_rbuf){.fd = fd};
        }
    if (!b) {
        pthread_mutex_unlock(&rbuf_lock);
        return __real_recv(fd, buf, len, flags);
    }
    if (b->start == b->end && len < PP_RBUF_SIZE) {
        n = __real_recv(fd, b->data, PP_RBUF_SIZE, 0);
        if (n <= 0) {
            int err = errno;

            pthread_mutex_unlock(&rbuf_lock);
            errno = err;
            return n;
        }
        b->start = 0;
        b->end = (unsigned)n;
    }
    if (fd == unread_fd)
        unread_fd = -1;
    got = b->end - b->start < len ? b->end - b->start : len;
    memcpy(buf, b->data + b->start, got);
    b->start += (unsigned)got;
    pthread_mutex_unlock(&rbuf_lock);
    if (got == len)
        return (ssize_t)got;
    /* The buffer is empty: the rest straight from the socket. */
    n = __real_recv(fd, (char *)buf + got, len - got, 0);
    if (n < 0)
        return got > 0 ? (ssize_t)got : n;
    return (ssize_t)(got + (size_t)n);
}

/* A socket whose buffer holds bytes, or 0. */
static int rbuf_ready(void)
{
    int fd = 0;

    pthread_mutex_lock(&rbuf_lock);
    for (int i = 0; i < PP_RBUFS && !fd; i++)
        if (rbufs[i].fd > 0 && rbufs[i].start < rbufs[i].end)
            fd = rbufs[i].fd;
    pthread_mutex_unlock(&rbuf_lock);
    return fd;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether fd was writable at this round's write check (true if unknown). */
static bool was_writable(int fd)
{
    for (nfds_t i = 0; i < recv_round.nfds; i++)
        if (recv_round.fd[i] == fd)
            return recv_round.writable[i];
    return true;
}

/* The round's write check: poll() with timeout 0 on the sockets for POLLOUT. */
static void note_write_check(const struct pollfd *fds, nfds_t nfds)
{
    recv_round.nfds = 0;
    if (nfds > PP_MAX_SOCKETS)
        return;
    for (nfds_t i = 0; i < nfds; i++) {
        recv_round.fd[i] = fds[i].fd;
        recv_round.writable[i] = (fds[i].revents & POLLOUT) != 0;
    }
    recv_round.nfds = nfds;
}

/* The round's blocking wait on the read set, done as the comment at the top
 * says. Returns what poll() would, with revents only for what the caller
 * asked; sets recv_round.again when it woke for a write. */
static int wait_round(struct pollfd *fds, nfds_t nfds, int timeout)
{
    struct pollfd set[1 + PP_MAX_SOCKETS];
    bool out[PP_MAX_SOCKETS];
    int64_t deadline = now_ms() + timeout;

    pthread_once(&wake_once, wake_open);
    for (;;) {
        int64_t left = deadline - now_ms();
        int n, ready = 0;
        bool woke_out = false;
        bool locked;

        set[0] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
        locked = socket_lock();
        for (nfds_t i = 0; i < nfds; i++) {
            out[i] = !__real_Socket_noPendingWrites(fds[i].fd) || !was_writable(fds[i].fd);
            set[1 + i] =
                (struct pollfd){.fd = fds[i].fd, .events = out[i] ? POLLOUT : fds[i].events};
        }
        socket_unlock(locked);
        n = __real_poll(set, nfds + 1, left > 0 ? (int)left : 0);
        if (n <= 0) {
            for (nfds_t i = 0; i < nfds; i++)
                fds[i].revents = 0;
            return n;
        }
        if (set[0].revents) {
            uint64_t count;
            ssize_t r = read(wake_fd, &count, sizeof(count));
            (void)r;
        }
        for (nfds_t i = 0; i < nfds; i++) {
            short ev = set[1 + i].revents;

            if (out[i] && (ev & POLLOUT))
                woke_out = true;
            fds[i].revents = out[i] ? (short)(ev & ~POLLOUT) : ev;
            if (fds[i].revents)
                ready++;
        }
        if (ready > 0 || woke_out) {
            recv_round.again = woke_out;
            return ready;
        }
        if (left <= 0)
            return 0;
        /* Only the eventfd: a write became pending; look again. */
    }
}

int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    if (!recv_round.active)
        return __real_poll(fds, nfds, timeout);
    if (timeout == 0) {
        int n = __real_poll(fds, nfds, 0);

        if (n >= 0)
            note_write_check(fds, nfds);
        return n;
    }
    if (nfds > PP_MAX_SOCKETS || recv_round.nfds != nfds)
        return __real_poll(fds, nfds, timeout);
    return wait_round(fds, nfds, timeout);
}

int __wrap_Socket_getReadySocket(int more_work, int timeout, pthread_mutex_t *mutex, int *rc)
{
    int64_t deadline;
    int sock = 0;

    if (!paho_initialized())
        return __real_Socket_getReadySocket(more_work, timeout, mutex, rc);
    receive_thread = true;
    sock = rbuf_ready();
    if (sock > 0 && sock == unread_fd) {
        /* Returned last time and not read since: no client of Paho's has
         * that socket any more. Its bytes are dropped, or this would spin. */
        rbuf_forget(sock);
        sock = 0;
    }
    if (sock > 0) {
        bool locked = socket_lock();
        bool free_to_read = __real_Socket_noPendingWrites(sock);

        socket_unlock(locked);
        if (free_to_read) {
            gw_paho_wake_hold(true); /* more already read: hand-offs wake the sender once */
            unread_fd = sock;
            *rc = 0;
            return sock;
        }
        sock = 0;
    }
    gw_paho_wake_hold(false);
    if (more_work)
        return __real_Socket_getReadySocket(more_work, timeout, mutex, rc);
    deadline = now_ms() + (timeout >= 0 ? timeout : 1000);
    for (int n = 0; n < PP_MAX_ROUNDS; n++) {
        int64_t left = deadline - now_ms();

        recv_round = (struct pp_round){.active = true};
        sock = __real_Socket_getReadySocket(0, left > 0 ? (int)left : 0, mutex, rc);
        recv_round.active = false;
        if (sock != 0 || *rc != 0 || !recv_round.again || left <= 0)
            break;
    }
    return sock;
}

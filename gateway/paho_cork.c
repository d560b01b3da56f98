/*
 * Paho's send thread writes a burst of packets as a burst: replaces writev()
 * for Paho's objects where Paho is linked statically (the link passes --wrap
 * for it; gateway/paho_lean.c says how the archive is checked).
 *
 * Paho MQTT C 1.3.12's send thread takes one command at a time from its
 * queue and writes its packet with one writev(). On a TCP socket with
 * TCP_NODELAY (gateway/nodelay.c) each write leaves as a segment of its
 * own, and on loopback the sender's system call also carries the segment
 * through the receiver's side of the stack: at QoS 1 the write was the
 * largest single cost of a reading. When the loop hands Paho a batch, or
 * the receive thread's confirmations do (each refills the window), the queue
 * holds many commands, and most of that work is per segment, not per byte.
 *
 * So on the send thread, a write made while more commands wait in Paho's
 * queue is sent with MSG_MORE: the kernel keeps the bytes until a full
 * segment or a write without it. The held bytes leave as soon as the burst
 * ends, whichever way it ends:
 *   - the next write on the same socket with the queue empty is a plain
 *     writev(), which sends everything held;
 *   - a write on another socket first pushes the held one;
 *   - before the send thread waits for work (gw_paho_cork_flush(), from
 *     gateway/paho_wake.c's Thread_wait_cond()), a held socket is pushed by
 *     setting TCP_NODELAY again, which sends what is pending at once.
 * At most 16 KiB is held back: a burst that does not end (a steady stream
 * at QoS 0) still leaves in writes of that size. So no byte waits longer
 * than the rest of the send thread's burst, and the send thread never
 * sleeps on held bytes. Nothing changes on other threads (the receive
 * thread's acknowledgements and its finishing of pending writes are plain
 * writes, which also push), nor for a socket that is not TCP. The queue's
 * length is read without Paho's lock: it only chooses between MSG_MORE and
 * a plain write, and either way the bytes leave by the rules above.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "gateway/paho.h"

/* The head of Paho's List (LinkedList.h, not installed). */
typedef struct {
    void *first, *last, *current;
    int count;
} pc_list_t;

extern pc_list_t *MQTTAsync_commands; /* MQTTAsync.c: the command queue */

ssize_t __real_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t __wrap_writev(int fd, const struct iovec *iov, int iovcnt);

#define PC_MAX_HELD 16384 /* bytes held back at most, so a steady stream still leaves */

static __thread bool send_thread; /* set by gw_paho_cork_flush() */
static __thread int held = -1;    /* the socket with bytes held back */
static __thread size_t held_bytes;

static void push(int fd)
{
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void gw_paho_cork_flush(void)
{
    send_thread = true; /* the only thread that waits on send_cond */
    if (held >= 0)
        push(held);
    held = -1;
}

ssize_t __wrap_writev(int fd, const struct iovec *iov, int iovcnt)
{
    pc_list_t *q = MQTTAsync_commands;
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    size_t len = 0;
    ssize_t n;

    if (!send_thread)
        return __real_writev(fd, iov, iovcnt);
    if (held >= 0 && held != fd) {
        push(held);
        held = -1;
    }
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    if (held < 0)
        held_bytes = 0;
    held = -1;
    if (!q || __atomic_load_n(&q->count, __ATOMIC_RELAXED) <= 0 || held_bytes + len > PC_MAX_HELD)
        return __real_writev(fd, iov, iovcnt);
    n = sendmsg(fd, &msg, MSG_MORE);
    if (n >= 0) {
        held = fd;
        held_bytes += (size_t)n;
    }
    return n;
}

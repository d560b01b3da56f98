/*
 * The lean Paho's send thread writes a burst as a burst (gateway/paho_cork.c):
 * a write while Paho's command queue holds more is held back by the kernel,
 * and the held bytes leave with the next write on the socket made with the
 * queue empty, when a write goes to another socket, when the send thread is
 * about to wait, and after 16 KiB at most; other threads' writes are plain.
 * Real TCP connections on 127.0.0.1 (MSG_MORE means nothing on a UNIX
 * socket); Paho's command queue is replaced by a List head whose length the
 * test sets. A held segment would leave by itself only on the kernel's
 * probe timer (200 ms at least), so "nothing within 50 ms" is what held
 * means here. In a build that loads Paho at run time none of this is linked
 * (weak references) and there is nothing to test.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gateway/paho.h"
#include "suites.h"

/* Paho's List (LinkedList.h) in full, so that nothing Paho might do to the
 * queue while it stands in writes past its end. */
typedef struct {
    void *first, *last, *current;
    int count;
    size_t size;
} fake_list_t;

extern fake_list_t *MQTTAsync_commands __attribute__((weak));
ssize_t __wrap_writev(int fd, const struct iovec *iov, int iovcnt) __attribute__((weak));
void gw_paho_cork_flush(void) __attribute__((weak));

static fake_list_t queue;

/* A connected pair on 127.0.0.1: *out writes (TCP_NODELAY, as the gateway
 * sets on Paho's socket), *in reads; 0 or -1. */
static int tcp_pair(int *out, int *in)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);

    *out = *in = -1;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) < 0 ||
        (*out = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
        setsockopt(*out, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        connect(*out, (struct sockaddr *)&a, sizeof(a)) < 0 || (*in = accept(l, NULL, NULL)) < 0) {
        if (l >= 0)
            close(l);
        return -1;
    }
    close(l);
    return 0;
}

/* writev() of one buffer as Paho's Socket_writev() calls it, with `more`
 * commands left in the queue; true if all of it was taken. */
static bool put(int fd, const void *buf, size_t len, int more)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

    queue.count = more;
    return __wrap_writev(fd, &iov, 1) == (ssize_t)len;
}

/* What arrives at fd within ms, up to len bytes (stops when len is reached). */
static size_t arrived(int fd, char *buf, size_t len, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    size_t got = 0;

    while (got < len && poll(&p, 1, ms) == 1) {
        ssize_t n = recv(fd, buf + got, len - got, 0);

        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

static void *send_thread(void *arg)
{
    int *fd = arg; /* out, in, out2, in2 */
    char buf[20000], big[1000];

    /* Not yet the send thread: a write with commands queued is plain. */
    CU_ASSERT(put(fd[0], "plain", 5, 3));
    CU_ASSERT_EQUAL(arrived(fd[1], buf, 5, 1000), 5);
    CU_ASSERT_EQUAL(memcmp(buf, "plain", 5), 0);

    gw_paho_cork_flush(); /* as Paho's send thread before it waits */

    /* Held while more commands wait; all of it with the write that empties
     * the queue, in order. */
    CU_ASSERT(put(fd[0], "abc", 3, 3));
    CU_ASSERT(put(fd[0], "def", 3, 2));
    CU_ASSERT_EQUAL(arrived(fd[1], buf, 6, 50), 0);
    CU_ASSERT(put(fd[0], "ghi", 3, 0));
    CU_ASSERT_EQUAL(arrived(fd[1], buf, 9, 1000), 9);
    CU_ASSERT_EQUAL(memcmp(buf, "abcdefghi", 9), 0);

    /* Held, then the thread is about to wait: pushed. */
    CU_ASSERT(put(fd[0], "jk", 2, 1));
    CU_ASSERT_EQUAL(arrived(fd[1], buf, 2, 50), 0);
    gw_paho_cork_flush();
    CU_ASSERT_EQUAL(arrived(fd[1], buf, 2, 1000), 2);
    CU_ASSERT_EQUAL(memcmp(buf, "jk", 2), 0);

    /* A write to another socket pushes the held one first. */
    CU_ASSERT(put(fd[0], "lm", 2, 1));
    CU_ASSERT(put(fd[2], "n", 1, 1));
    CU_ASSERT_EQUAL(arrived(fd[1], buf, 2, 1000), 2);
    CU_ASSERT_EQUAL(memcmp(buf, "lm", 2), 0);
    CU_ASSERT_EQUAL(arrived(fd[3], buf, 1, 50), 0);
    gw_paho_cork_flush();
    CU_ASSERT_EQUAL(arrived(fd[3], buf, 1, 1000), 1);
    CU_ASSERT_EQUAL(buf[0], 'n');

    /* A burst that does not end: 16 writes of 1,000 bytes are held, the
     * 17th would pass 16 KiB and is plain (all 17,000 leave), the next
     * three start a new burst. */
    memset(big, 'x', sizeof(big));
    for (int i = 0; i < 20; i++)
        CU_ASSERT(put(fd[0], big, sizeof(big), 5));
    CU_ASSERT_EQUAL(arrived(fd[1], buf, 17000, 1000), 17000);
    CU_ASSERT_EQUAL(arrived(fd[1], buf, sizeof(buf), 50), 0);
    gw_paho_cork_flush();
    CU_ASSERT_EQUAL(arrived(fd[1], buf, sizeof(buf), 200), 3000);
    return NULL;
}

static void test_bursts(void)
{
    fake_list_t *saved;
    int fd[4];
    pthread_t t;

    if (!__wrap_writev || !gw_paho_cork_flush || !&MQTTAsync_commands)
        return; /* Paho loaded at run time: not linked */
    CU_ASSERT_EQUAL_FATAL(tcp_pair(&fd[0], &fd[1]), 0);
    CU_ASSERT_EQUAL_FATAL(tcp_pair(&fd[2], &fd[3]), 0);
    saved = MQTTAsync_commands;
    MQTTAsync_commands = &queue;
    /* A thread of its own: the send thread's mark is the thread's. */
    CU_ASSERT_EQUAL(pthread_create(&t, NULL, send_thread, fd), 0);
    pthread_join(t, NULL);
    MQTTAsync_commands = saved;

    /* This thread never waited on Paho's send_cond: its writes are plain. */
    queue.count = 3;
    MQTTAsync_commands = &queue;
    {
        char buf[4];
        struct iovec iov = {.iov_base = "xyz", .iov_len = 3};

        CU_ASSERT_EQUAL(__wrap_writev(fd[0], &iov, 1), 3);
        CU_ASSERT_EQUAL(arrived(fd[1], buf, 3, 1000), 3);
    }
    MQTTAsync_commands = saved;
    for (int i = 0; i < 4; i++)
        close(fd[i]);
}

int paho_cork_suite(void)
{
    static const sb_test_t tests[] = {
        {"Paho's send thread holds a burst back and always lets it go", test_bursts},
    };
    CU_pSuite s = CU_add_suite("paho_cork", NULL, NULL);

    return s ? SB_ADD_TESTS(s, tests) : -1;
}

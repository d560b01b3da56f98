/*
 * The lean Paho's read-ahead on its receive thread (gateway/paho_pending.c):
 * recv() served from a buffer per socket, with the socket's own short reads,
 * end of file and errors; a socket with buffered bytes returned by
 * Socket_getReadySocket() without waiting; other threads untouched. A
 * socketpair stands in for the broker's socket; a client is created first so
 * that Paho's socket module is initialised. The waits for pending writes
 * need a broker that falls behind: test_flapping and bench/throughput (QoS 0)
 * exercise them. In a build that loads Paho at run time none of this is
 * linked (weak references) and there is nothing to test.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/paho.h"
#include "suites.h"

ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags) __attribute__((weak));
int __wrap_Socket_getReadySocket(int more_work, int timeout, pthread_mutex_t *mutex, int *rc)
    __attribute__((weak));

static pthread_mutex_t ready_mutex = PTHREAD_MUTEX_INITIALIZER;

/* Socket_getReadySocket() as Paho's receive thread calls it; more_work: do
 * not wait. Called once first, it makes this thread read as that one does. */
static int ready(int more_work)
{
    int rc = -1;
    int sock = __wrap_Socket_getReadySocket(more_work, 0, &ready_mutex, &rc);

    CU_ASSERT_EQUAL(rc, 0);
    return sock;
}

/* Bytes the kernel still holds for fd, read without the buffer. */
static ssize_t kernel_left(int fd, char *buf, size_t len)
{
    return recv(fd, buf, len, MSG_DONTWAIT); /* flags: passed straight through */
}

static void *other_thread(void *arg)
{
    int fd = *(int *)arg;
    char c = 0;

    return (void *)(intptr_t)(recv(fd, &c, 1, 0) == 1 ? c : -1);
}

static void test_read_ahead(void)
{
    const gw_paho_t *api = gw_paho_load(false);
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    MQTTAsync client = NULL;
    int sv[2];
    char buf[8192], big[5000];
    pthread_t t;
    void *got;

    if (!__wrap_recv || !api)
        return; /* Paho loaded at run time: not linked */
    CU_ASSERT_EQUAL_FATAL(api->createWithOptions(&client, "tcp://127.0.0.1:1", "sb-unit-pending",
                                                 MQTTCLIENT_PERSISTENCE_NONE, NULL, &co),
                          MQTTASYNC_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);

    /* Another thread reads from the socket itself. */
    CU_ASSERT_EQUAL(write(sv[1], "xyz", 3), 3);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, other_thread, &sv[0]), 0);
    pthread_join(t, &got);
    CU_ASSERT_EQUAL((intptr_t)got, 'x');
    CU_ASSERT_EQUAL(kernel_left(sv[0], buf, sizeof(buf)), 2);

    CU_ASSERT_EQUAL(ready(1), 0); /* nothing buffered; now this thread reads ahead */

    /* Two acknowledgements read as Paho does: 1 byte, 1 byte, then the rest.
     * The first recv() takes both from the kernel. */
    CU_ASSERT_EQUAL(write(sv[1], "\x40\x02\x00\x07\x40\x02\x00\x08", 8), 8);
    CU_ASSERT_EQUAL(__wrap_recv(sv[0], buf, 1, 0), 1);
    CU_ASSERT_EQUAL(buf[0], 0x40);
    errno = 0;
    CU_ASSERT_EQUAL(kernel_left(sv[0], buf, sizeof(buf)), -1);
    CU_ASSERT_EQUAL(errno, EAGAIN);
    CU_ASSERT_EQUAL(ready(0), sv[0]); /* buffered: ready without a wait */
    CU_ASSERT_EQUAL(__wrap_recv(sv[0], buf, 1, 0), 1);
    CU_ASSERT_EQUAL(buf[0], 0x02);
    CU_ASSERT_EQUAL(__wrap_recv(sv[0], buf, 2, 0), 2);
    CU_ASSERT_EQUAL(memcmp(buf, "\x00\x07", 2), 0);
    CU_ASSERT_EQUAL(__wrap_recv(sv[0], buf, 4, 0), 4);
    CU_ASSERT_EQUAL(memcmp(buf, "\x40\x02\x00\x08", 4), 0);
    CU_ASSERT_EQUAL(ready(1), 0); /* empty again */

    /* Nothing anywhere: the socket's EAGAIN. */
    errno = 0;
    CU_ASSERT_EQUAL(__wrap_recv(sv[0], buf, 1, 0), -1);
    CU_ASSERT_EQUAL(errno, EAGAIN);

    /* A read at least as large as the buffer goes straight to the socket. */
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7);
    CU_ASSERT_EQUAL(write(sv[1], big, sizeof(big)), (ssize_t)sizeof(big));
    CU_ASSERT_EQUAL(__wrap_recv(sv[0], buf, sizeof(big), 0), (ssize_t)sizeof(big));
    CU_ASSERT_EQUAL(memcmp(buf, big, sizeof(big)), 0);

    /* A read longer than what is buffered: the buffered bytes, then what the
     * socket has (here nothing: a short read, not an error). */
    CU_ASSERT_EQUAL(write(sv[1], "0123456789", 10), 10);
    CU_ASSERT_EQUAL(__wrap_recv(sv[0], buf, 4, 0), 4);
    CU_ASSERT_EQUAL(write(sv[1], "ab", 2), 2); /* arrives after the read-ahead */
    CU_ASSERT_EQUAL(__wrap_recv(sv[0], buf, 100, 0), 8);
    CU_ASSERT_EQUAL(memcmp(buf, "456789ab", 8), 0);

    /* Handed over for its buffered bytes and not read: the next call drops
     * them instead of handing the socket over again (Paho has no client
     * with that socket; it would spin). */
    CU_ASSERT_EQUAL(write(sv[1], "zz", 2), 2);
    CU_ASSERT_EQUAL(__wrap_recv(sv[0], buf, 1, 0), 1);
    CU_ASSERT_EQUAL(ready(0), sv[0]);
    CU_ASSERT_EQUAL(ready(1), 0);
    errno = 0;
    CU_ASSERT_EQUAL(__wrap_recv(sv[0], buf, 1, 0), -1); /* the byte left is gone */
    CU_ASSERT_EQUAL(errno, EAGAIN);

    /* End of file comes after the buffered bytes. */
    CU_ASSERT_EQUAL(write(sv[1], "END", 3), 3);
    close(sv[1]);
    CU_ASSERT_EQUAL(__wrap_recv(sv[0], buf, 1, 0), 1);
    CU_ASSERT_EQUAL(__wrap_recv(sv[0], buf, 5, 0), 2);
    CU_ASSERT_EQUAL(memcmp(buf, "ND", 2), 0);
    CU_ASSERT_EQUAL(__wrap_recv(sv[0], buf, 1, 0), 0);
    close(sv[0]);
    api->destroy(&client);
}

int paho_pending_suite(void)
{
    static const sb_test_t tests[] = {
        {"Paho's receive thread reads ahead; others do not", test_read_ahead},
    };
    CU_pSuite s = CU_add_suite("paho_pending", NULL, NULL);

    return s ? SB_ADD_TESTS(s, tests) : -1;
}

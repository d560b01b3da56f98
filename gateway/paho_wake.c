/*
 * A wake-up of Paho's send thread that cannot be lost: replaces Paho's
 * Thread_signal_cond() and Thread_wait_cond() where Paho is linked
 * statically (the link passes --wrap for both, so Paho's own calls reach
 * these functions).
 *
 * Paho MQTT C 1.3.12's MQTTAsync send thread checks its command queue, then
 * waits on the condition variable send_cond for up to a second;
 * MQTTAsync_sendMessage() appends a command and signals send_cond. The wait
 * has no predicate: a signal that comes after the queue was found empty but
 * before pthread_cond_timedwait() started is lost, and the new command waits
 * for the timeout (1 s) or for the next signal. Under load that is a stall
 * (a Paho publisher sending from its callbacks at QoS 0 ran at 9 % of a core),
 * and for a gateway that publishes rarely it is up to a second of latency on
 * one reading in a few. Here a signal sets a flag under the condition
 * variable's mutex and a wait returns at once while the flag is set, so a
 * signal given while the send thread was busy is seen when it next waits.
 *
 * The send thread is the only waiter and send_cond the only condition
 * variable Paho 1.3.12 creates this way, so one flag suffices; the build
 * checks that the Paho archive is the version this was written against. The
 * struct mirrors Paho's cond_type_struct (Thread.h, not installed).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "gateway/paho.h"

typedef struct {
    pthread_cond_t cond;
    pthread_mutex_t mutex;
} paho_cond_t;

int __wrap_Thread_signal_cond(paho_cond_t *c);
int __wrap_Thread_wait_cond(paho_cond_t *c, int timeout_ms);

static bool signalled; /* guarded by the condition variable's mutex */

/* Held signals. While Paho's receive thread works through acknowledgements
 * it has already read (gateway/paho_pending.c), each confirmation's callback
 * may hand Paho the next message, and each hand-off signalled the send
 * thread: it woke, wrote one message and slept again, two context switches
 * a message. While holding, a signal on this thread only sets the flag (a
 * send thread that is awake sees it at its next wait) and is given when
 * holding ends, before the receive thread waits for the network again. */
static __thread bool holding;
static __thread paho_cond_t *held;

/*
 * The flag is set under the mutex, the signal given after it is released:
 * a send thread woken while the signaller still held the mutex went straight
 * back to sleep on it (a second context switch, and a futex call on each
 * side, per wake-up). Nothing is lost that way: the waiter tests the flag
 * under the mutex before it waits, so it either sees the flag or is already
 * waiting when the signal comes. send_cond is a static object Paho never
 * destroys, so signalling it outside its mutex is always safe.
 */
int __wrap_Thread_signal_cond(paho_cond_t *c)
{
    pthread_mutex_lock(&c->mutex);
    signalled = true;
    pthread_mutex_unlock(&c->mutex);
    if (holding) {
        held = c;
        return 0;
    }
    return pthread_cond_signal(&c->cond);
}

void gw_paho_wake_hold(bool on)
{
    paho_cond_t *c = held;

    holding = on;
    if (on || !c)
        return;
    held = NULL;
    pthread_cond_signal(&c->cond);
}

/* 0 when signalled (now or since the last wait), ETIMEDOUT otherwise. Paho
 * made its condition variable with the default clock, CLOCK_REALTIME. */
int __wrap_Thread_wait_cond(paho_cond_t *c, int timeout_ms)
{
    struct timespec deadline;
    int rc = 0;

    gw_paho_cork_flush(); /* nothing this thread held back waits while it sleeps */
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mutex);
    while (!signalled && rc == 0)
        rc = pthread_cond_timedwait(&c->cond, &c->mutex, &deadline);
    if (signalled)
        rc = 0;
    signalled = false;
    pthread_mutex_unlock(&c->mutex);
    return rc;
}

/*
 * Host name resolution off the loop thread; see resolve.h.
 *
 * Threads. The loop thread creates a lookup (a job) and hands it to the pool;
 * up to RESOLVE_THREADS resolver threads take jobs from the pool's queue, run
 * the blocking lookup without any lock held, store the answer in the job and
 * write the job's eventfd; the loop, woken by that eventfd, reads the answer
 * and calls the caller back. Resolver threads are started on demand and end
 * after RESOLVE_IDLE_S seconds without work, so a gateway that only ever
 * sees numeric addresses never starts one.
 *
 * Ownership. A job has two references: the loop's (dropped when the answer is
 * delivered, or at cancel) and the pool's (dropped by the thread that ran it,
 * or at once if it was cancelled while still queued). Whoever drops the last
 * one closes the eventfd and frees the job, so a cancelled lookup that is
 * still running on a thread keeps its memory and eventfd until it returns.
 * Everything marked "pool.lock" below is only touched under that lock: the
 * queue, the thread counts, a job's references, `cancelled`, `done` and the
 * answer. The loop's watcher and callback fields are loop-thread only.
 */
#include "adapters/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define RESOLVE_THREADS 4
#define RESOLVE_IDLE_S 10

struct adp_resolve {
    /* set before the job is queued, then read-only */
    char *host;
    uint16_t port;
    int efd;
    /* loop thread only */
    gw_loop_t *loop;
    gw_io_t io;
    adp_resolve_cb cb;
    void *arg;
    /* pool.lock */
    struct adp_resolve *next;
    int refs;
    bool cancelled;
    bool done;
    int status;
    adp_addrs_t addrs;
};

static int lookup_getaddrinfo(const char *host, uint16_t port, adp_addrs_t *out);

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct adp_resolve *head, *tail;
    unsigned threads; /* running */
    unsigned idle;    /* waiting for work */
    adp_lookup_fn lookup;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0,
          lookup_getaddrinfo};

/* --- addresses ---------------------------------------------------------------- */

int adp_addrs_numeric(const char *host, uint16_t port, adp_addrs_t *out)
{
    adp_addr_t *a = &out->a[0];

    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, host, &a->u.in4.sin_addr) == 1) {
        a->u.in4.sin_family = AF_INET;
        a->u.in4.sin_port = htons(port);
        a->len = sizeof(a->u.in4);
    } else if (inet_pton(AF_INET6, host, &a->u.in6.sin6_addr) == 1) {
        a->u.in6.sin6_family = AF_INET6;
        a->u.in6.sin6_port = htons(port);
        a->len = sizeof(a->u.in6);
    } else {
        return -EINVAL;
    }
    out->n = 1;
    return 0;
}

static int lookup_getaddrinfo(const char *host, uint16_t port, adp_addrs_t *out)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res, *ai;
    char service[8];

    memset(out, 0, sizeof(*out));
    snprintf(service, sizeof(service), "%u", port);
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return -EHOSTUNREACH;
    for (ai = res; ai && out->n < ADP_ADDRS_MAX; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(out->a[0].u))
            continue;
        memcpy(&out->a[out->n].u, ai->ai_addr, ai->ai_addrlen);
        out->a[out->n].len = ai->ai_addrlen;
        out->n++;
    }
    freeaddrinfo(res);
    return out->n ? 0 : -EHOSTUNREACH;
}

void adp_resolve_set_lookup(adp_lookup_fn fn)
{
    pthread_mutex_lock(&pool.lock);
    pool.lookup = fn ? fn : lookup_getaddrinfo;
    pthread_mutex_unlock(&pool.lock);
}

/* --- jobs ----------------------------------------------------------------------- */

/* pool.lock held. */
static void release_locked(struct adp_resolve *job)
{
    if (--job->refs > 0)
        return;
    close(job->efd);
    free(job->host);
    free(job);
}

/* pool.lock held: the next job, or NULL after RESOLVE_IDLE_S without one. */
static struct adp_resolve *take_locked(void)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += RESOLVE_IDLE_S;
    while (!pool.head) {
        int rc;

        pool.idle++;
        rc = pthread_cond_timedwait(&pool.work, &pool.lock, &until);
        pool.idle--;
        if (rc == ETIMEDOUT && !pool.head)
            return NULL;
    }
    struct adp_resolve *job = pool.head;

    pool.head = job->next;
    if (!pool.head)
        pool.tail = NULL;
    job->next = NULL;
    return job;
}

static void *resolver_thread(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        struct adp_resolve *job = take_locked();
        adp_lookup_fn fn = pool.lookup;
        adp_addrs_t addrs;
        int status;

        if (!job)
            break;
        if (job->cancelled) {
            release_locked(job);
            continue;
        }
        pthread_mutex_unlock(&pool.lock);
        status = fn(job->host, job->port, &addrs);
        pthread_mutex_lock(&pool.lock);
        job->status = status;
        job->addrs = addrs;
        job->done = true;
        if (!job->cancelled) {
            const uint64_t one = 1;

            /* Cannot fail: the eventfd is open while we hold a reference,
             * and one write never saturates its counter. */
            (void)!write(job->efd, &one, sizeof(one));
        }
        release_locked(job);
    }
    pool.threads--;
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* pool.lock held: a thread for the job just queued, unless one is idle. */
static int spawn_locked(void)
{
    pthread_attr_t attr;
    pthread_t th;
    int err;

    if (pool.idle > 0 || pool.threads >= RESOLVE_THREADS) {
        pthread_cond_signal(&pool.work);
        return 0;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024); /* getaddrinfo needs more than 64 KiB */
    err = pthread_create(&th, &attr, resolver_thread, NULL);
    pthread_attr_destroy(&attr);
    if (err != 0)
        return pool.threads > 0 ? 0 : -err; /* a running thread will take it */
    pool.threads++;
    return 0;
}

/* The job's eventfd is readable: its answer is in. */
static void on_answer(gw_io_t *io, uint32_t events, void *arg)
{
    struct adp_resolve *job = arg;
    adp_resolve_cb cb = job->cb;
    void *cb_arg = job->arg;
    adp_addrs_t addrs;
    uint64_t count;
    int status;
    (void)events;

    if (read(io->fd, &count, sizeof(count)) < 0 && errno == EAGAIN)
        return; /* spurious */
    gw_io_stop(job->loop, io);
    pthread_mutex_lock(&pool.lock);
    status = job->done ? job->status : -EHOSTUNREACH;
    addrs = job->addrs;
    release_locked(job);
    pthread_mutex_unlock(&pool.lock);
    cb(cb_arg, status, &addrs);
}

int adp_resolve_start(gw_loop_t *loop, const char *host, uint16_t port, adp_resolve_cb cb,
                      void *arg, adp_resolve_t **req)
{
    struct adp_resolve *job = calloc(1, sizeof(*job));
    int rc;

    if (!job || !(job->host = strdup(host))) {
        free(job);
        return -ENOMEM;
    }
    job->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (job->efd < 0) {
        rc = -errno;
        free(job->host);
        free(job);
        return rc;
    }
    job->port = port;
    job->loop = loop;
    job->cb = cb;
    job->arg = arg;
    job->refs = 2;
    gw_io_init(&job->io, job->efd, on_answer, job);
    rc = gw_io_start(loop, &job->io, EPOLLIN);
    pthread_mutex_lock(&pool.lock);
    if (rc == 0)
        rc = spawn_locked();
    if (rc < 0) {
        gw_io_stop(loop, &job->io);
        job->refs = 1;
        release_locked(job);
        pthread_mutex_unlock(&pool.lock);
        return rc;
    }
    if (pool.tail)
        pool.tail->next = job;
    else
        pool.head = job;
    pool.tail = job;
    pthread_mutex_unlock(&pool.lock);
    *req = job;
    return 0;
}

void adp_resolve_cancel(gw_loop_t *loop, adp_resolve_t *req)
{
    if (!req)
        return;
    gw_io_stop(loop, &req->io);
    pthread_mutex_lock(&pool.lock);
    req->cancelled = true;
    release_locked(req);
    pthread_mutex_unlock(&pool.lock);
}

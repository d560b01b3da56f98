/*
 * The disk spool; the contract is in spool.h, the files are described in
 * spool_format.h.
 *
 * In memory the spool keeps the segments in order (the last one is the one
 * appended to), the head (oldest unconfirmed record), the next record number,
 * the read position and a bitmap of the records confirmed above the head.
 * Every record number in [head, next) is exactly one of: confirmed (its bit
 * is set), taken (below the read position `rnext`), or pending. The bitmap
 * is not persisted: after a restart, records confirmed above the head are
 * delivered again, which at-least-once allows.
 *
 * There is no index of record offsets (8 bytes per record is too much on a
 * small machine): gw_spool_untake rewinds to the start of the head's segment
 * and gw_spool_take skips what is below the head or confirmed.
 *
 * Checking and repairing the files at open is spool_repair.c's. What it
 * keeps follows without a gap; numbers a segment declares lost (its first
 * record numbered above its name) are marked confirmed, and gw_spool_take
 * steps over them.
 *
 * The head file is written whenever the head moves under ALWAYS (with
 * fsync) and NEVER (without), and only by gw_spool_sync under INTERVAL,
 * which keeps SD card writes to one small file per interval.
 */
#include "gateway/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/spool_format.h"
#include "gateway/spool_repair.h"

#define SEG_MIN (64 * 1024)

typedef struct {
    uint64_t first, count, size;
} seg_t;

struct gw_spool {
    gw_spool_sync_t sync;
    uint64_t max_bytes, seg_bytes;
    int dirfd;
    seg_t *segs;
    size_t nsegs, segcap;
    uint64_t bytes;
    int wfd;      /* the last segment, opened on demand; -1: closed */
    bool wbroken; /* its tail could not be repaired or is damaged: start a new one */
    bool wdirty;  /* written since its last fdatasync */
    unsigned char *wbuf;
    size_t wcap;
    gw_spf_reader_t rd;
    size_t ri;           /* read position: segment index, */
    uint64_t roff;       /* offset in it, */
    uint64_t rnext;      /* and the record there */
    uint64_t head, next; /* oldest unconfirmed record; the next one to append */
    uint64_t *bits;      /* confirmed records, bit r - base; base <= head */
    size_t nwords;
    uint64_t base;
    bool head_dirty;   /* the head file is behind */
    bool head_durable; /* the head file was fsynced */
    bool dir_dirty;    /* names created, renamed or deleted since the last fsync */
    uint64_t ntaken, npending;
    gw_spool_stats_t st;
};

/* --- confirmed records above the head --- */

static bool is_confirmed(const gw_spool_t *sp, uint64_t r)
{
    uint64_t i = (r - sp->base) / 64;

    return r >= sp->base && i < sp->nwords && (sp->bits[i] >> ((r - sp->base) % 64) & 1);
}

/* Makes room in the bitmap for every record up to r. */
static int bits_reserve(gw_spool_t *sp, uint64_t r)
{
    uint64_t need = (r - sp->base) / 64 + 1;
    size_t n = sp->nwords ? sp->nwords : 4;
    uint64_t *b;

    if (need <= sp->nwords)
        return 0;
    while (n < need)
        n *= 2;
    if (!(b = realloc(sp->bits, n * sizeof(*b))))
        return -ENOMEM;
    memset(b + sp->nwords, 0, (n - sp->nwords) * sizeof(*b));
    sp->bits = b;
    sp->nwords = n;
    return 0;
}

static int mark(gw_spool_t *sp, uint64_t r)
{
    int rc = bits_reserve(sp, r);

    if (rc == 0)
        sp->bits[(r - sp->base) / 64] |= (uint64_t)1 << ((r - sp->base) % 64);
    return rc;
}

/* Moves the head to at least `to`, then over the confirmed records after it,
 * and drops the bits below it. Returns whether it moved. */
static bool head_move(gw_spool_t *sp, uint64_t to)
{
    uint64_t old = sp->head, shift;

    if (to > sp->head)
        sp->head = to;
    while (sp->head < sp->next && is_confirmed(sp, sp->head))
        sp->head++;
    if (sp->head == old)
        return false;
    shift = (sp->head - sp->base) / 64;
    if (shift >= sp->nwords) {
        if (sp->nwords)
            memset(sp->bits, 0, sp->nwords * sizeof(*sp->bits));
    } else if (shift > 0) {
        memmove(sp->bits, sp->bits + shift, (sp->nwords - shift) * sizeof(*sp->bits));
        memset(sp->bits + (sp->nwords - shift), 0, shift * sizeof(*sp->bits));
    }
    sp->base += shift * 64;
    if (sp->nwords && sp->head > sp->base)
        sp->bits[0] &= ~(((uint64_t)1 << (sp->head - sp->base)) - 1);
    sp->head_dirty = true;
    sp->head_durable = false;
    return true;
}

/* --- the head file --- */

static int head_store(gw_spool_t *sp, bool durable)
{
    int rc = gw_spf_head_store(sp->dirfd, sp->head, durable);

    if (rc != 0)
        return rc;
    sp->head_dirty = false;
    sp->head_durable = durable;
    sp->dir_dirty = !durable;
    return 0;
}

/* --- segments --- */

static int segs_reserve(gw_spool_t *sp)
{
    size_t n = sp->segcap ? sp->segcap * 2 : 16;
    seg_t *s;

    if (sp->nsegs < sp->segcap)
        return 0;
    if (!(s = realloc(sp->segs, n * sizeof(*s))))
        return -ENOMEM;
    sp->segs = s;
    sp->segcap = n;
    return 0;
}

/* Deletes segment i (the first or the last) and keeps the read position on
 * a segment that still exists. */
static void seg_remove(gw_spool_t *sp, size_t i)
{
    char name[GW_SPF_NAME_CAP];

    gw_spf_name(name, sp->segs[i].first);
    if (sp->rd.fd >= 0 && sp->rd.first == sp->segs[i].first)
        gw_spf_close(&sp->rd);
    if (i == sp->nsegs - 1 && sp->wfd >= 0) {
        close(sp->wfd);
        sp->wfd = -1;
        sp->wdirty = false;
    }
    (void)unlinkat(sp->dirfd, name, 0); /* a leftover is below the head: ignored later */
    sp->dir_dirty = true;
    sp->bytes -= sp->segs[i].size;
    memmove(sp->segs + i, sp->segs + i + 1, (sp->nsegs - i - 1) * sizeof(*sp->segs));
    sp->nsegs--;
    if (i < sp->ri) {
        sp->ri--;
    } else if (i == sp->ri) {
        sp->roff = 0;
        sp->rnext = sp->ri < sp->nsegs ? sp->segs[sp->ri].first : sp->next;
    }
}

/* Deletes the segments before the last whose records are all confirmed. */
static void prune(gw_spool_t *sp)
{
    while (sp->nsegs > 1 && sp->segs[0].first + sp->segs[0].count <= sp->head)
        seg_remove(sp, 0);
}

/* The head moved: write it down as the sync mode says, drop what it passed. */
static void head_moved(gw_spool_t *sp)
{
    if (sp->sync != GW_SPOOL_SYNC_INTERVAL)
        (void)head_store(sp, sp->sync == GW_SPOOL_SYNC_ALWAYS); /* retried at sync or close */
    prune(sp);
}

/* Deletes the oldest segment to make room; its records that were neither
 * taken nor confirmed are counted as dropped. Taken ones belong to the
 * caller now; their late confirmations fall below the head and are ignored. */
static void evict_front(gw_spool_t *sp)
{
    const seg_t *s = &sp->segs[0];
    uint64_t end = s->first + s->count;

    for (uint64_t r = s->first > sp->head ? s->first : sp->head; r < end; r++) {
        if (is_confirmed(sp, r))
            continue;
        if (r < sp->rnext) {
            sp->ntaken--;
        } else {
            sp->npending--;
            sp->st.dropped_full++;
        }
    }
    seg_remove(sp, 0);
    if (head_move(sp, end))
        head_moved(sp);
}

/* Closes the segment being written and starts one named after the next
 * record. */
static int seg_roll(gw_spool_t *sp)
{
    char name[GW_SPF_NAME_CAP];
    int fd, rc;

    if (sp->wfd >= 0) {
        /* gw_spool_sync only syncs the last segment: this one must be done now. */
        if (sp->wdirty && sp->sync == GW_SPOOL_SYNC_INTERVAL && fdatasync(sp->wfd) != 0)
            return -errno;
        close(sp->wfd);
        sp->wfd = -1;
        sp->wdirty = false;
    }
    if (sp->nsegs && sp->segs[sp->nsegs - 1].count == 0)
        seg_remove(sp, sp->nsegs - 1); /* it would have the same name */
    if ((rc = segs_reserve(sp)) != 0)
        return rc;
    gw_spf_name(name, sp->next);
    fd = openat(sp->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    if (sp->sync == GW_SPOOL_SYNC_ALWAYS && fsync(sp->dirfd) != 0) {
        rc = -errno;
        close(fd);
        (void)unlinkat(sp->dirfd, name, 0);
        return rc;
    }
    sp->dir_dirty = sp->sync != GW_SPOOL_SYNC_ALWAYS;
    sp->segs[sp->nsegs++] = (seg_t){sp->next, 0, 0};
    sp->wfd = fd;
    sp->wbroken = false;
    prune(sp); /* the previous segment may be fully confirmed already */
    return 0;
}

/* Gets the last segment ready for a record of len bytes: a new segment when
 * it is full, damaged or does not end at the next record, after deleting
 * the oldest segments while the spool would pass max_bytes. The segment
 * being written is only deleted when it is being left anyway; since
 * seg_bytes <= max_bytes, that always makes room. */
static int make_room(gw_spool_t *sp, uint64_t len)
{
    const seg_t *w = sp->nsegs ? &sp->segs[sp->nsegs - 1] : NULL;
    bool roll = !w || sp->wbroken || w->first + w->count != sp->next ||
                (w->size > 0 && w->size + len > sp->seg_bytes);
    char name[GW_SPF_NAME_CAP];

    while (sp->nsegs > (roll ? 0u : 1u) && sp->bytes + len > sp->max_bytes)
        evict_front(sp);
    if (roll)
        return seg_roll(sp);
    if (sp->wfd >= 0)
        return 0;
    gw_spf_name(name, sp->segs[sp->nsegs - 1].first); /* w moved if segments were evicted */
    if ((sp->wfd = openat(sp->dirfd, name, O_WRONLY | O_CLOEXEC)) < 0)
        return -errno;
    return 0;
}

static int rec_encode(gw_spool_t *sp, const char *topic, size_t tlen, const char *payload,
                      size_t plen, int qos, bool retain, size_t len)
{
    if (len > sp->wcap) {
        unsigned char *p = realloc(sp->wbuf, len);

        if (!p)
            return -ENOMEM;
        sp->wbuf = p;
        sp->wcap = len;
    }
    gw_spf_encode(sp->wbuf, sp->next, topic, tlen, payload, plen, qos, retain);
    return 0;
}

int gw_spool_append(gw_spool_t *sp, const char *topic, size_t topic_len, const char *payload,
                    size_t payload_len, int qos, bool retain)
{
    uint64_t len = GW_SPF_HDR_LEN + (uint64_t)topic_len + payload_len;
    seg_t *w;
    int rc;

    if (!sp || (!topic && topic_len) || (!payload && payload_len) || qos < 0 || qos > 2)
        return -EINVAL;
    if (topic_len > UINT16_MAX || payload_len > GW_SPF_BODY_MAX - topic_len || len > sp->seg_bytes)
        return -EMSGSIZE;
    if (sp->next >= GW_SPF_RECNO_MAX)
        return -EOVERFLOW; /* never by appending; only a forged head file gets here */
    if ((rc = rec_encode(sp, topic, topic_len, payload, payload_len, qos, retain, len)) != 0 ||
        (rc = make_room(sp, len)) != 0)
        return rc;
    w = &sp->segs[sp->nsegs - 1];
    rc = gw_spf_pwrite(sp->wfd, sp->wbuf, (size_t)len, w->size);
    if (rc == 0 && sp->sync == GW_SPOOL_SYNC_ALWAYS && fdatasync(sp->wfd) != 0)
        rc = -errno;
    if (rc != 0) {
        /* Leave no partial record behind; failing that, never append after it. */
        if (ftruncate(sp->wfd, (off_t)w->size) != 0)
            sp->wbroken = true;
        return rc;
    }
    w->size += len;
    w->count++;
    sp->bytes += len;
    sp->next++;
    sp->npending++;
    sp->st.appended++;
    sp->wdirty = sp->sync != GW_SPOOL_SYNC_ALWAYS;
    return 0;
}

/* --- reading --- */

/* The record at the read position could not be read: the rest of its
 * segment is given up, counted as corrupt and treated as confirmed. A
 * damaged last segment is no longer appended to. */
static int skip_rest(gw_spool_t *sp)
{
    const seg_t *s = &sp->segs[sp->ri];
    uint64_t end = s->first + s->count;
    int rc;

    if (end > sp->head && (rc = bits_reserve(sp, end - 1)) != 0)
        return rc;
    for (uint64_t r = sp->rnext > sp->head ? sp->rnext : sp->head; r < end; r++) {
        if (!is_confirmed(sp, r)) {
            (void)mark(sp, r); /* cannot fail: reserved */
            sp->npending--;
            sp->st.corrupt++;
        }
    }
    if (sp->ri == sp->nsegs - 1)
        sp->wbroken = true;
    sp->ri++;
    sp->roff = 0;
    sp->rnext = end;
    if (head_move(sp, sp->head))
        head_moved(sp);
    return 0;
}

/* Whether every record from the read position to the end of its segment is
 * below the head or confirmed (nothing left to take there). */
static bool rest_done(const gw_spool_t *sp, uint64_t end)
{
    for (uint64_t r = sp->rnext > sp->head ? sp->rnext : sp->head; r < end; r++)
        if (!is_confirmed(sp, r))
            return false;
    return true;
}

/* Reads the record at the read position: 1, 0 when it is damaged, or a
 * negative errno. */
static int read_at(gw_spool_t *sp, const seg_t *s, gw_spf_rec_t *h)
{
    char name[GW_SPF_NAME_CAP];
    int fd;

    if (sp->rd.fd < 0 || sp->rd.first != s->first) {
        gw_spf_close(&sp->rd);
        gw_spf_name(name, s->first);
        if ((fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC)) < 0)
            return errno == ENOENT ? 0 : -errno;
        gw_spf_attach(&sp->rd, fd, s->first);
    }
    return gw_spf_read(&sp->rd, sp->roff, s->size, h);
}

int gw_spool_take(gw_spool_t *sp, gw_spool_rec_t *rec)
{
    gw_spf_rec_t h = {0};
    int rc;

    if (!sp || !rec)
        return -EINVAL;
    while ((sp->rnext > sp->head ? sp->rnext : sp->head) < sp->next) {
        const seg_t *s = &sp->segs[sp->ri];
        uint64_t end = s->first + s->count;

        if (sp->rnext >= end || (sp->rnext < sp->head && sp->head >= end)) {
            sp->ri++; /* exists: something is left to take after this segment */
            sp->roff = 0;
            sp->rnext = sp->segs[sp->ri].first;
            continue;
        }
        rc = read_at(sp, s, &h);
        if (rc < 0 && rc != -ENOMEM && rc != -EMFILE && rc != -ENFILE)
            rc = 0; /* an I/O error: the data there is lost all the same */
        if (rc < 0)
            return rc;
        if (rc == 1 && sp->roff == 0 && h.recno > sp->rnext && h.recno < end &&
            rest_done(sp, h.recno))
            sp->rnext = h.recno; /* over the segment's declared gap */
        if (rc == 0 || h.recno != sp->rnext) {
            bool done = rest_done(sp, end);

            if ((rc = skip_rest(sp)) != 0)
                return rc;
            if (done)
                continue; /* damage met again after an untake: already counted */
            return -EBADMSG;
        }
        sp->roff += h.len;
        sp->rnext++;
        if (h.recno < sp->head || is_confirmed(sp, h.recno))
            continue;
        sp->npending--;
        sp->ntaken++;
        *rec = (gw_spool_rec_t){h.recno, (const char *)h.p + GW_SPF_HDR_LEN,
                                h.tlen,  (const char *)h.p + GW_SPF_HDR_LEN + h.tlen,
                                h.plen,  h.qos,
                                h.retain};
        return 0;
    }
    return -ENOENT;
}

void gw_spool_confirm(gw_spool_t *sp, uint64_t recno)
{
    if (!sp || recno < sp->head || recno >= sp->next || is_confirmed(sp, recno))
        return; /* stale: confirmed before, evicted, or never appended */
    if (mark(sp, recno) != 0)
        return; /* out of memory: stays on disk and is delivered again (at-least-once) */
    if (recno < sp->rnext)
        sp->ntaken--;
    else
        sp->npending--;
    if (head_move(sp, sp->head))
        head_moved(sp);
}

void gw_spool_untake(gw_spool_t *sp)
{
    if (!sp)
        return;
    sp->npending += sp->ntaken;
    sp->ntaken = 0;
    sp->ri = 0;
    while (sp->ri + 1 < sp->nsegs && sp->segs[sp->ri].first + sp->segs[sp->ri].count <= sp->head)
        sp->ri++;
    sp->roff = 0;
    sp->rnext = sp->nsegs ? sp->segs[sp->ri].first : sp->next;
}

int gw_spool_sync(gw_spool_t *sp)
{
    int rc = 0, r;

    if (!sp)
        return -EINVAL;
    if (sp->wfd >= 0 && sp->wdirty) {
        if (fdatasync(sp->wfd) != 0)
            rc = -errno;
        else
            sp->wdirty = false;
    }
    if ((sp->head_dirty || !sp->head_durable) && (r = head_store(sp, true)) != 0 && rc == 0)
        rc = r;
    if (sp->dir_dirty) {
        if (fsync(sp->dirfd) == 0)
            sp->dir_dirty = false;
        else if (rc == 0)
            rc = -errno;
    }
    return rc;
}

bool gw_spool_holds(const gw_spool_t *sp, uint64_t recno)
{
    for (size_t i = 0; sp && i < sp->nsegs; i++)
        if (recno >= sp->segs[i].first && recno < sp->segs[i].first + sp->segs[i].count)
            return !is_confirmed(sp, recno) && recno >= sp->head;
    return false;
}

bool gw_spool_empty(const gw_spool_t *sp)
{
    return !sp || sp->head >= sp->next;
}

uint64_t gw_spool_pending(const gw_spool_t *sp)
{
    return sp ? sp->npending : 0;
}

void gw_spool_stats(const gw_spool_t *sp, gw_spool_stats_t *out)
{
    *out = sp->st;
    out->records = sp->npending;
    out->bytes = sp->bytes;
    out->taken = sp->ntaken;
    out->segments = sp->nsegs;
}

static void destroy(gw_spool_t *sp)
{
    gw_spf_close(&sp->rd);
    if (sp->wfd >= 0)
        close(sp->wfd);
    if (sp->dirfd >= 0)
        close(sp->dirfd);
    free(sp->rd.buf);
    free(sp->wbuf);
    free(sp->bits);
    free(sp->segs);
    free(sp);
}

void gw_spool_close(gw_spool_t *sp)
{
    if (!sp)
        return;
    if (sp->sync != GW_SPOOL_SYNC_NEVER)
        (void)gw_spool_sync(sp);
    else if (sp->head_dirty)
        (void)head_store(sp, false);
    destroy(sp);
}

/* --- opening --- */

/* Takes what the repair kept: the segments, the head (the oldest record not
 * confirmed, at least the first segment's first record), the next number,
 * and the numbers declared lost, marked confirmed. */
static int adopt(gw_spool_t *sp, const gw_spr_result_t *res, uint64_t h)
{
    const gw_spr_seg_t *v = res->segs;
    size_t n = res->nsegs;
    int rc;

    for (size_t i = 0; i < n; i++) {
        if ((rc = segs_reserve(sp)) != 0)
            return rc;
        sp->segs[sp->nsegs++] = (seg_t){v[i].first, v[i].count, v[i].size};
        sp->bytes += v[i].size;
    }
    sp->next = n ? v[n - 1].first + v[n - 1].count : 1;
    sp->head = n ? v[0].start : 1;
    if (h > sp->head)
        sp->head = h;
    if (sp->head > sp->next)
        sp->next = sp->head;
    sp->base = sp->head & ~(uint64_t)63;
    for (size_t i = 0; i < n; i++) {
        uint64_t end = v[i].first + v[i].count;

        for (uint64_t r = v[i].first > sp->head ? v[i].first : sp->head; r < v[i].start; r++)
            if ((rc = mark(sp, r)) != 0)
                return rc;
        if (end > sp->head)
            sp->npending += end - (v[i].start > sp->head ? v[i].start : sp->head);
    }
    (void)head_move(sp, sp->head); /* a head file naming a declared-lost number */
    sp->st.recovered = sp->npending;
    sp->st.corrupt = res->corrupt;
    return 0;
}

/* Checks and repairs the segments, and sets the head, the next record
 * number and the counters. */
static int recover(gw_spool_t *sp)
{
    uint64_t h = 0;
    gw_spr_result_t res;
    int rc;

    (void)unlinkat(sp->dirfd, "head.tmp", 0);
    if (!gw_spf_head_load(sp->dirfd, &h))
        h = 0; /* start from the oldest record present */
    if ((rc = gw_spr_recover(sp->dirfd, &sp->rd, h, sp->max_bytes / GW_SPF_HDR_LEN, &res)) != 0)
        return rc;
    rc = adopt(sp, &res, h);
    free(res.segs);
    if (rc != 0)
        return rc;
    sp->head_durable = !sp->head_dirty;
    prune(sp);
    gw_spool_untake(sp);
    if (res.repaired && fsync(sp->dirfd) != 0)
        return -errno;
    return 0;
}

int gw_spool_open(const gw_spool_opts_t *opts, gw_spool_t **out)
{
    gw_spool_t *sp;
    int rc;

    if (!opts || !out || !opts->dir || !opts->dir[0] || opts->max_bytes == 0 ||
        (unsigned)opts->sync > GW_SPOOL_SYNC_NEVER)
        return -EINVAL;
    *out = NULL;
    if (!(sp = calloc(1, sizeof(*sp))))
        return -ENOMEM;
    sp->dirfd = sp->wfd = sp->rd.fd = -1;
    sp->sync = opts->sync;
    sp->max_bytes = opts->max_bytes;
    sp->seg_bytes = opts->segment_bytes ? opts->segment_bytes : opts->max_bytes / 8;
    if (!opts->segment_bytes && sp->seg_bytes < SEG_MIN)
        sp->seg_bytes = SEG_MIN;
    if (sp->seg_bytes > sp->max_bytes)
        sp->seg_bytes = sp->max_bytes; /* so that deleting old segments always makes room */
    if ((sp->dirfd = gw_spf_dir_open(opts->dir)) < 0) {
        rc = sp->dirfd;
        goto fail;
    }
    if ((rc = recover(sp)) != 0)
        goto fail;
    *out = sp;
    return 0;
fail:
    destroy(sp);
    return rc;
}

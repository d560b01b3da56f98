/*
 * The disk spool's check and repair at open; see spool_repair.h.
 *
 * Files are checked one after the other, in order of name. For each, the
 * runs the scanner finds are considered in order (consider()), which builds
 * the file's plan: the runs it keeps and the segment each goes to. The plan
 * is carried out (apply()) before the next file is read, so that when a run
 * is renamed to the number where a gap starts, the file that held that
 * number before, if any, is gone already.
 */
#include "gateway/spool_repair.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/log.h"

#define TMP_NAME "seg.tmp"

typedef unsigned long long ull; /* for printf */

/* "record 5" or "records 5..9", for the log. */
static const char *span(char *buf, size_t cap, uint64_t first, uint64_t last)
{
    if (first == last)
        snprintf(buf, cap, "record %llu", (ull)first);
    else
        snprintf(buf, cap, "records %llu..%llu", (ull)first, (ull)last);
    return buf;
}

/* A kept run and the name of the segment it goes to. */
typedef struct {
    gw_spf_run_t run;
    uint64_t to;
} place_t;

typedef struct {
    int dirfd;
    gw_spf_reader_t *r;
    uint64_t h, max_gap;
    uint64_t *names; /* the segment files, in order */
    size_t nnames, cur;
    bool kept;      /* some run was kept */
    uint64_t end;   /* numbers below are kept, copies of kept ones, or counted */
    uint64_t gaps;  /* numbers in the gaps between kept runs so far */
    uint64_t tail;  /* records lost in damage after the last kept run */
    bool untrusted; /* a gap too wide was met: nothing after it is kept */
    place_t *plan;  /* what the file being checked keeps */
    size_t nplan, plancap;
    gw_spr_result_t *out;
} rcv_t;

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x, y;

    memcpy(&x, a, sizeof(x));
    memcpy(&y, b, sizeof(y));
    return x < y ? -1 : x > y;
}

/* Whether a segment file named n comes after the one being checked. */
static bool listed_later(const rcv_t *v, uint64_t n)
{
    size_t k = v->nnames - v->cur - 1;

    return k && bsearch(&n, v->names + v->cur + 1, k, sizeof(n), u64_cmp) != NULL;
}

static int plan_add(rcv_t *v, const gw_spf_run_t *run, uint64_t to)
{
    if (v->nplan == v->plancap) {
        size_t n = v->plancap ? v->plancap * 2 : 8;
        place_t *p = realloc(v->plan, n * sizeof(*p));

        if (!p)
            return -ENOMEM;
        v->plan = p;
        v->plancap = n;
    }
    v->plan[v->nplan++] = (place_t){*run, to};
    return 0;
}

static int seg_add(gw_spr_result_t *out, const place_t *p)
{
    if (out->nsegs == out->cap) {
        size_t n = out->cap ? out->cap * 2 : 16;
        gw_spr_seg_t *s = realloc(out->segs, n * sizeof(*s));

        if (!s)
            return -ENOMEM;
        out->segs = s;
        out->cap = n;
    }
    out->segs[out->nsegs++] =
        (gw_spr_seg_t){p->to, p->run.first, p->run.first + p->run.count - p->to, p->run.len};
    return 0;
}

/* Cuts the records numbered below `to` off the front of a run: 0, 1 when
 * they cannot be read again (the run is to be dropped), or -ENOMEM. */
static int trim(gw_spf_reader_t *r, uint64_t size, gw_spf_run_t *run, uint64_t to)
{
    gw_spf_rec_t rec;

    while (run->first < to) {
        int rc = gw_spf_read(r, run->off, size, &rec);

        if (rc != 1)
            return rc == -ENOMEM ? rc : 1;
        run->first++;
        run->count--;
        run->off += rec.len;
        run->len -= rec.len;
    }
    return 0;
}

/* Drops a run that cannot be kept; its records from lo on are counted. */
static void drop(rcv_t *v, const char *seg, const gw_spf_run_t *run, uint64_t lo, const char *why)
{
    uint64_t end = run->first + run->count, from = run->first > lo ? run->first : lo;
    char b[64];

    gw_warn("spool: %s: %s dropped: %s", seg, span(b, sizeof(b), run->first, end - 1), why);
    v->out->corrupt += end - from;
    v->end = end;
}

/* The numbers [lo, first) are missing before a kept run; those the run's
 * segment does not declare lost are counted. */
static void count_gap(rcv_t *v, const char *seg, const gw_spf_run_t *run, uint64_t name,
                      uint64_t lo)
{
    uint64_t upto = run->first;
    char b[64];

    if (run->off == 0 && run->first > name) /* declared by an earlier repair */
        upto = name > lo ? name : lo;
    if (upto <= lo)
        return;
    gw_warn("spool: %s: %s damaged or missing, skipped", seg, span(b, sizeof(b), lo, upto - 1));
    v->out->corrupt += upto - lo;
}

/* Decides what becomes of a run of the segment `name` of size bytes: 0 when
 * it is dropped or kept (added to the plan), 1 when it and the rest of the
 * file belong to a later segment, or -ENOMEM. */
static int consider(rcv_t *v, uint64_t name, uint64_t size, gw_spf_run_t *run)
{
    uint64_t end = run->first + run->count, lo, gap, to;
    char seg[GW_SPF_NAME_CAP];
    int rc;

    if (end <= v->h || end <= v->end)
        return 0; /* all confirmed already, or copies of kept records */
    gw_spf_name(seg, name);
    lo = v->end > v->h ? v->end : v->h;
    if (run->first < v->end && (rc = trim(v->r, size, run, v->end)) != 0) {
        if (rc < 0)
            return rc;
        drop(v, seg, run, lo, "they became unreadable");
        return 0;
    }
    gap = run->first > lo ? run->first - lo : 0;
    if (v->untrusted || gap > v->max_gap - v->gaps) {
        v->untrusted = true;
        drop(v, seg, run, lo, "they come after a gap wider than the spool can hold");
        return 0;
    }
    to = v->kept ? v->end : name;
    if (to != name && listed_later(v, to))
        return 1; /* a copy made by an interrupted repair holds the rest */
    count_gap(v, seg, run, name, lo);
    if ((rc = plan_add(v, run, to)) != 0)
        return rc;
    v->gaps += gap;
    v->tail = 0; /* the gap before this run counted what the damage held */
    v->kept = true;
    v->end = end;
    return 0;
}

/* Copies a planned run into its own segment, through TMP_NAME. */
static int copy_run(rcv_t *v, const place_t *p, const char *from)
{
    char to[GW_SPF_NAME_CAP];
    int fd = openat(v->dirfd, TMP_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640), rc;

    if (fd < 0)
        return -errno;
    rc = gw_spf_copy(v->r, p->run.off, p->run.len, fd);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0 && errno != EINTR)
        rc = -errno;
    gw_spf_name(to, p->to);
    if (rc == 0 && renameat(v->dirfd, TMP_NAME, v->dirfd, to) != 0)
        rc = -errno;
    if (rc != 0) {
        (void)unlinkat(v->dirfd, TMP_NAME, 0);
        return rc;
    }
    v->out->repaired = true;
    if (strcmp(from, to) == 0) {
        gw_info("spool: %s: rewritten to start at record %llu", from, (ull)p->run.first);
    } else {
        char b[64];

        gw_info("spool: %s: %s moved to %s", from,
                span(b, sizeof(b), p->run.first, p->run.first + p->run.count - 1), to);
    }
    return 0;
}

/* Carries out the plan for the segment `name` (fd, size bytes): copies the
 * runs that move and makes them durable, then cuts the run at byte 0 (the
 * anchor) out of the file and renames it if it moves, or deletes the file
 * when nothing stays in it. */
static int apply(rcv_t *v, uint64_t name, int fd, uint64_t size)
{
    const place_t *anchor = v->nplan && v->plan[0].run.off == 0 ? &v->plan[0] : NULL;
    char seg[GW_SPF_NAME_CAP], to[GW_SPF_NAME_CAP];
    size_t i = anchor ? 1 : 0;
    bool own = false;
    int rc;

    gw_spf_name(seg, name);
    for (; i < v->nplan; i++) {
        if ((rc = copy_run(v, &v->plan[i], seg)) != 0)
            return rc;
        own |= v->plan[i].to == name;
    }
    if (v->nplan > (anchor ? 1u : 0u) && fsync(v->dirfd) != 0)
        return -errno;
    if (anchor && anchor->run.len < size) {
        gw_warn("spool: %s: cut after record %llu (%llu bytes)", seg,
                (ull)(anchor->run.first + anchor->run.count - 1), (ull)anchor->run.len);
        if (ftruncate(fd, (off_t)anchor->run.len) != 0 || fsync(fd) != 0)
            return -errno;
        v->out->repaired = true;
    }
    gw_spf_name(to, anchor ? anchor->to : name);
    if (anchor && anchor->to != name) {
        if (renameat(v->dirfd, seg, v->dirfd, to) != 0)
            return -errno;
        gw_info("spool: %s renamed %s to follow the segment before it", seg, to);
        v->out->repaired = true;
    } else if (!anchor && !own) {
        if (unlinkat(v->dirfd, seg, 0) != 0)
            return -errno;
        v->out->repaired = true;
    }
    for (i = 0; i < v->nplan; i++)
        if ((rc = seg_add(v->out, &v->plan[i])) != 0)
            return rc;
    return 0;
}

/* Checks the segment `name` and carries out what it keeps. */
static int check_file(rcv_t *v, uint64_t name)
{
    char seg[GW_SPF_NAME_CAP];
    gw_spf_cursor_t c;
    gw_spf_run_t run;
    struct stat sb;
    int fd, rc;

    gw_spf_name(seg, name);
    if ((fd = openat(v->dirfd, seg, O_RDWR | O_CLOEXEC)) < 0)
        return -errno;
    gw_spf_attach(v->r, fd, name);
    if (fstat(fd, &sb) != 0) {
        rc = -errno;
        goto out;
    }
    gw_spf_cursor_init(&c, name, (uint64_t)sb.st_size, v->h);
    v->nplan = 0;
    while ((rc = gw_spf_next_run(v->r, &c, &run)) == 1 &&
           (rc = consider(v, name, c.size, &run)) == 0)
        ;
    if (rc < 0)
        goto out;
    if (rc == 0 && c.tail && c.expect >= v->end) {
        gw_warn("spool: %s: damaged bytes at the end, where record %llu should be", seg,
                (ull)c.expect);
        v->tail += c.tail;
    }
    rc = apply(v, name, fd, c.size);
out:
    gw_spf_close(v->r);
    return rc;
}

int gw_spr_recover(int dirfd, gw_spf_reader_t *r, uint64_t h, uint64_t max_gap,
                   gw_spr_result_t *out)
{
    rcv_t v = {.dirfd = dirfd, .r = r, .h = h, .max_gap = max_gap, .out = out};
    char seg[GW_SPF_NAME_CAP];
    size_t i = 0;
    int rc;

    *out = (gw_spr_result_t){0};
    (void)unlinkat(dirfd, TMP_NAME, 0); /* left by a repair cut short */
    if ((rc = gw_spf_list(dirfd, &v.names, &v.nnames)) != 0)
        goto fail;
    /* A segment followed by one starting at or below the head is all confirmed. */
    for (; i + 1 < v.nnames && v.names[i + 1] <= h; i++) {
        gw_spf_name(seg, v.names[i]);
        (void)unlinkat(dirfd, seg, 0); /* a leftover is deleted at the next open */
        out->repaired = true;
    }
    v.end = i < v.nnames ? v.names[i] : 0;
    for (; i < v.nnames; i++) {
        v.cur = i;
        if ((rc = check_file(&v, v.names[i])) != 0)
            goto fail;
    }
    if (v.tail) {
        gw_warn("spool: %llu records lost in damaged bytes from record %llu on", (ull)v.tail,
                (ull)v.end);
        out->corrupt += v.tail;
    }
    free(v.names);
    free(v.plan);
    return 0;
fail:
    free(v.names);
    free(v.plan);
    free(out->segs);
    *out = (gw_spr_result_t){0};
    return rc;
}

/*
 * The disk spool's files; see spool_format.h for the layout.
 */
#include "gateway/spool_format.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define REC_MAGIC "SBR\001"
#define HEAD_LEN 12
#define CHUNK (64 * 1024) /* read-ahead */
#define SKIP 4096         /* past a read error, a search goes on at the next block */

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t crc(const unsigned char *p, uint64_t n)
{
    return (uint32_t)crc32_z(0, p, (z_size_t)n);
}

ssize_t gw_spf_pread(int fd, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;

    while (done < n) {
        ssize_t k = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            break;
        done += (size_t)k;
    }
    return (ssize_t)done;
}

int gw_spf_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
    size_t done = 0;

    while (done < n) {
        ssize_t k = pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + done));

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            return -EIO;
        done += (size_t)k;
    }
    return 0;
}

void gw_spf_name(char buf[GW_SPF_NAME_CAP], uint64_t first)
{
    snprintf(buf, GW_SPF_NAME_CAP, "seg-%020llu.log", (unsigned long long)first);
}

bool gw_spf_parse_name(const char *name, uint64_t *first)
{
    uint64_t v = 0;

    if (strlen(name) != GW_SPF_NAME_CAP - 1 || strncmp(name, "seg-", 4) != 0 ||
        strcmp(name + 24, ".log") != 0)
        return false;
    for (int i = 4; i < 24; i++) {
        unsigned d = (unsigned)(name[i] - '0');

        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *first = v;
    return true;
}

void gw_spf_encode(unsigned char *p, uint64_t recno, const char *topic, size_t tlen,
                   const char *payload, size_t plen, int qos, bool retain)
{
    size_t len = GW_SPF_HDR_LEN + tlen + plen;

    memcpy(p, REC_MAGIC, 4);
    put_le(p + 8, recno, 8);
    put_le(p + 16, plen, 4);
    put_le(p + 20, tlen, 2);
    p[22] = (unsigned char)qos;
    p[23] = retain ? 1 : 0;
    if (tlen)
        memcpy(p + GW_SPF_HDR_LEN, topic, tlen);
    if (plen)
        memcpy(p + GW_SPF_HDR_LEN + tlen, payload, plen);
    put_le(p + 4, crc(p + 8, len - 8), 4);
}

void gw_spf_attach(gw_spf_reader_t *r, int fd, uint64_t first)
{
    r->fd = fd;
    r->first = first;
    r->mem = NULL;
    r->mlen = 0;
    r->off = 0;
    r->len = 0;
}

void gw_spf_attach_mem(gw_spf_reader_t *r, const void *p, uint64_t len, uint64_t first)
{
    gw_spf_attach(r, -1, first);
    r->mem = p;
    r->mlen = len;
}

void gw_spf_close(gw_spf_reader_t *r)
{
    if (r->fd >= 0)
        close(r->fd);
    gw_spf_attach(r, -1, 0);
}

/* Points *p at up to n bytes of the segment at off; returns how many are
 * there (fewer at its end) or a negative errno. The window grows to the
 * largest record read, which callers have checked against the segment's
 * size and GW_SPF_REC_MAX; larger requests are refused here all the same. */
static ssize_t rd_get(gw_spf_reader_t *r, uint64_t off, size_t n, const unsigned char **p)
{
    size_t avail;

    if (n > GW_SPF_REC_MAX || off > UINT64_MAX - n)
        return -EFBIG;
    if (r->mem) {
        *p = r->mem + (off < r->mlen ? (size_t)off : (size_t)r->mlen);
        return off < r->mlen ? (ssize_t)(r->mlen - off < n ? r->mlen - off : n) : 0;
    }
    if (off < r->off || off + n > r->off + r->len) {
        size_t want = n > CHUNK ? n : CHUNK;
        ssize_t got;

        if (want > r->cap) {
            unsigned char *b = realloc(r->buf, want);

            if (!b)
                return -ENOMEM;
            r->buf = b;
            r->cap = want;
        }
        r->len = 0;
        if ((got = gw_spf_pread(r->fd, r->buf, want, off)) < 0)
            return got;
        r->off = off;
        r->len = (size_t)got;
    }
    *p = r->buf + (off - r->off);
    avail = (size_t)(r->off + r->len - off);
    return (ssize_t)(avail < n ? avail : n);
}

/* Reads the header at off of a segment of size bytes into *rec: 1 when it
 * is plausible (magic, QoS, flags, a number up to GW_SPF_RECNO_OPEN_MAX and a
 * length that fits both the segment and GW_SPF_REC_MAX), 0 when it is not,
 * or a negative errno. */
static int read_hdr(gw_spf_reader_t *r, uint64_t off, uint64_t size, gw_spf_rec_t *rec)
{
    const unsigned char *p;
    ssize_t n;

    if (off > size || size - off < GW_SPF_HDR_LEN)
        return 0;
    if ((n = rd_get(r, off, GW_SPF_HDR_LEN, &p)) < 0)
        return (int)n;
    if (n < GW_SPF_HDR_LEN || memcmp(p, REC_MAGIC, 4) != 0 || p[22] > 2 || p[23] > 1)
        return 0;
    rec->recno = get_le(p + 8, 8);
    rec->plen = (size_t)get_le(p + 16, 4);
    rec->tlen = (size_t)get_le(p + 20, 2);
    rec->qos = p[22];
    rec->retain = p[23] & 1;
    rec->len = GW_SPF_HDR_LEN + (uint64_t)rec->tlen + (uint64_t)get_le(p + 16, 4);
    return rec->recno <= GW_SPF_RECNO_OPEN_MAX && rec->len <= GW_SPF_REC_MAX &&
           rec->len <= size - off;
}

int gw_spf_read(gw_spf_reader_t *r, uint64_t off, uint64_t size, gw_spf_rec_t *rec)
{
    const unsigned char *p;
    ssize_t n;
    int rc = read_hdr(r, off, size, rec);

    if (rc != 1)
        return rc;
    if ((n = rd_get(r, off, (size_t)rec->len, &p)) < 0) /* len <= GW_SPF_REC_MAX: no truncation */
        return (int)n;
    if ((uint64_t)n < rec->len || crc(p + 8, rec->len - 8) != get_le(p + 4, 4))
        return 0;
    rec->p = p;
    return 1;
}

/* For the scan, a read error is damage like any other: only -ENOMEM stops it. */
static int scan_read(gw_spf_reader_t *r, uint64_t off, uint64_t size, gw_spf_rec_t *rec)
{
    int rc = gw_spf_read(r, off, size, rec);

    return rc < 0 && rc != -ENOMEM ? 0 : rc;
}

void gw_spf_cursor_init(gw_spf_cursor_t *c, uint64_t first, uint64_t size, uint64_t h)
{
    *c = (gw_spf_cursor_t){.size = size, .expect = first, .h = h};
}

/* Whether a record found at `at` after damage starting at off can be
 * trusted: numbered from the expected number on, and no further than the
 * damaged bytes could have held records (each takes a header at least). */
static bool plausible(const gw_spf_cursor_t *c, uint64_t off, uint64_t at, uint64_t recno)
{
    return recno >= c->expect && recno - c->expect <= (at - off) / GW_SPF_HDR_LEN;
}

/* Searches the bytes after off for the first record that can be trusted
 * after damage at off: 1 with *rec and *at, 0 when there is none, or
 * -ENOMEM. The magic is searched for, then the record checked whole. */
static int search(gw_spf_reader_t *r, const gw_spf_cursor_t *c, uint64_t off, gw_spf_rec_t *rec,
                  uint64_t *at)
{
    uint64_t o = off + 1;

    while (o < c->size && c->size - o >= GW_SPF_HDR_LEN) {
        const unsigned char *p, *m;
        ssize_t n = rd_get(r, o, CHUNK, &p);
        int rc;

        if (n == -ENOMEM)
            return (int)n;
        if (n < 4) { /* a read error (or a file that shrank): try the next block */
            o = (o / SKIP + 1) * SKIP;
            continue;
        }
        if (!(m = memmem(p, (size_t)n, REC_MAGIC, 4))) {
            o += (uint64_t)n - 3;
            continue;
        }
        o += (uint64_t)(m - p);
        if ((rc = scan_read(r, o, c->size, rec)) < 0)
            return rc;
        if (rc == 1 && plausible(c, off, o, rec->recno)) {
            *at = o;
            return 1;
        }
        o++;
    }
    return 0;
}

/* The record at c->off is damaged (or out of order). Moves c->off to the
 * next record that can be trusted: 1 with *rec; 0 when there is none, the
 * rest of the segment being damage (c->tail set); or -ENOMEM. */
static int resync(gw_spf_reader_t *r, gw_spf_cursor_t *c, gw_spf_rec_t *rec)
{
    uint64_t off = c->off, at = 0;
    gw_spf_rec_t hdr = {0};
    bool framed;
    int rc = read_hdr(r, off, c->size, &hdr);

    if (rc == -ENOMEM)
        return rc;
    /* An intact header in order, only the rest failing the CRC (a flipped
     * bit): the record ends where its header says, if an intact record with
     * the next number starts right there. */
    framed = rc == 1 && hdr.recno == c->expect;
    rc = framed ? scan_read(r, off + hdr.len, c->size, rec) : 0;
    if (rc == 1 && rec->recno == c->expect + 1)
        at = off + hdr.len;
    else if (rc >= 0)
        rc = search(r, c, off, rec, &at);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        c->damaged += at - off;
        c->off = at;
        return 1;
    }
    /* Nothing intact after the damage: it held at least one record, two when
     * a framed record is followed by more bytes (a torn one). */
    c->damaged += c->size - off;
    c->tail = c->expect < c->h ? 0 : framed && off + hdr.len < c->size ? 2 : 1;
    c->off = c->size;
    return 0;
}

int gw_spf_next_run(gw_spf_reader_t *r, gw_spf_cursor_t *c, gw_spf_run_t *run)
{
    gw_spf_rec_t rec = {0};
    int rc;

    if (c->off >= c->size)
        return 0;
    if ((rc = scan_read(r, c->off, c->size, &rec)) < 0)
        return rc;
    /* At byte 0, a number above the segment's is a gap declared by a repair. */
    if (rc == 0 || rec.recno < c->expect || (rec.recno > c->expect && c->off > 0))
        rc = resync(r, c, &rec);
    if (rc <= 0)
        return rc;
    *run = (gw_spf_run_t){rec.recno, 1, c->off, rec.len};
    while ((rc = scan_read(r, run->off + run->len, c->size, &rec)) == 1 &&
           rec.recno == run->first + run->count) {
        run->count++;
        run->len += rec.len;
    }
    if (rc < 0)
        return rc;
    c->off = run->off + run->len;
    c->expect = run->first + run->count;
    return 1;
}

int gw_spf_copy(gw_spf_reader_t *r, uint64_t off, uint64_t len, int fd)
{
    for (uint64_t done = 0; done < len;) {
        const unsigned char *p;
        size_t want = len - done < CHUNK ? (size_t)(len - done) : CHUNK;
        ssize_t n = rd_get(r, off + done, want, &p);
        int rc;

        if (n < 0)
            return (int)n;
        if (n == 0)
            return -EIO;
        if ((rc = gw_spf_pwrite(fd, p, (size_t)n, done)) != 0)
            return rc;
        done += (uint64_t)n;
    }
    return 0;
}

int gw_spf_head_store(int dirfd, uint64_t head, bool durable)
{
    unsigned char b[HEAD_LEN];
    int fd, rc;

    put_le(b, head, 8);
    put_le(b + 8, crc(b, 8), 4);
    fd = openat(dirfd, "head.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    rc = gw_spf_pwrite(fd, b, sizeof(b), 0);
    if (rc == 0 && durable && fdatasync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0 && errno != EINTR)
        rc = -errno;
    if (rc == 0 && renameat(dirfd, "head.tmp", dirfd, "head") != 0)
        rc = -errno;
    if (rc == 0 && durable && fsync(dirfd) != 0)
        rc = -errno;
    return rc;
}

bool gw_spf_head_load(int dirfd, uint64_t *head)
{
    unsigned char b[HEAD_LEN + 1];
    int fd = openat(dirfd, "head", O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return false;
    n = gw_spf_pread(fd, b, sizeof(b), 0);
    close(fd);
    if (n != HEAD_LEN || crc(b, 8) != get_le(b + 8, 4) || get_le(b, 8) > GW_SPF_RECNO_OPEN_MAX)
        return false;
    *head = get_le(b, 8);
    return true;
}

int gw_spf_dir_open(const char *dir)
{
    char *path = strdup(dir);
    int rc = 0, fd;

    if (!path)
        return -ENOMEM;
    for (char *p = path + 1; *p && rc == 0; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST)
            rc = -errno;
        *p = '/';
    }
    if (rc == 0 && mkdir(path, 0750) != 0 && errno != EEXIST)
        rc = -errno;
    free(path);
    if (rc != 0)
        return rc;
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -errno;
    if (faccessat(fd, ".", R_OK | W_OK | X_OK, AT_EACCESS) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

int gw_spf_list(int dirfd, uint64_t **firsts, size_t *n)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
    size_t cap = 0;
    struct dirent *e;
    uint64_t first;
    DIR *d;

    *firsts = NULL;
    *n = 0;
    if (fd < 0)
        return -errno;
    if (!(d = fdopendir(fd))) {
        rc = -errno;
        close(fd);
        return rc;
    }
    while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
        struct stat sb;

        if (!gw_spf_parse_name(e->d_name, &first) ||
            (e->d_type != DT_REG &&
             (e->d_type != DT_UNKNOWN || fstatat(dirfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
              !S_ISREG(sb.st_mode))))
            continue; /* not a segment: left alone */
        if (*n == cap) {
            uint64_t *f = realloc(*firsts, (cap = cap ? cap * 2 : 16) * sizeof(*f));

            if (!f) {
                rc = -ENOMEM;
                break;
            }
            *firsts = f;
        }
        (*firsts)[(*n)++] = first;
    }
    if (rc == 0 && errno != 0)
        rc = -errno;
    closedir(d);
    if (*n)
        qsort(*firsts, *n, sizeof(**firsts), u64_cmp);
    return rc;
}

/*
 * libFuzzer target for the spool's recovery: arbitrary bytes as one to four
 * segment files (and optionally a head file).
 *
 * 1. Sans I/O: each segment is scanned in memory (gw_spf_next_run on a
 *    memory reader). The runs must lie inside it, in order, without
 *    overlapping, numbered upwards, each made of intact records with
 *    consecutive numbers; a number may jump after damage only as far as the
 *    damaged bytes could have held records; the runs plus the damaged bytes
 *    must make the whole segment; the reader allocates nothing.
 * 2. On disk (tmpfs when there is one): the files are written to a
 *    directory and the spool opened, which must succeed. Every record taken
 *    must be one the scanner found intact, in increasing order, as many as
 *    stats.recovered says. Reopening the repaired spool must count nothing
 *    and give the same records; an append afterwards must get the next
 *    number. With flags bit 3, the first half of the records is confirmed
 *    (the head moves over lost numbers too) and a third open must give
 *    exactly the second half. No file descriptor may be left open.
 * Any violation aborts; ASan and LeakSanitizer watch memory.
 *
 * Input: [flags] [head] then segments, each [name delta] [length, 2 bytes
 * LE, except for the last] [bytes]. flags bits 0-1: segments - 1; bit 2: a
 * head file, numbered after the first segment's name + head - 8; bit 3:
 * confirm half. A segment
 * is named after the number in its first header (when it has one) minus its
 * name delta, else after the previous name + delta + 1.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "gateway/log.h"
#include "gateway/spool.h"
#include "gateway/spool_format.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEGS 4
#define MAX_RUNS 512
#define MAX_RECS 4096

typedef struct {
    const uint8_t *p;
    size_t len;
    uint64_t name;
    gw_spf_run_t runs[MAX_RUNS];
    size_t nruns;
} seg_t;

static char dir[64];

static void check(int ok)
{
    if (!ok)
        abort();
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Splits the input into segments; returns how many. */
static size_t split(const uint8_t *d, size_t n, seg_t *segs, uint64_t *head, int *has_head)
{
    size_t want = (d[0] & 3) + 1, k = 0, at = 2;
    uint64_t prev = 0;

    *has_head = (d[0] & 4) != 0;
    for (; k < want && at < n; k++) {
        seg_t *s = &segs[k];
        uint8_t delta = d[at++];
        size_t len = n - at;

        if (k + 1 < want && n - at >= 2) {
            len = (size_t)le(d + at, 2);
            at += 2;
            if (len > n - at)
                len = n - at;
        }
        s->p = d + at;
        s->len = len;
        at += len;
        if (len >= 16 && memcmp(s->p, "SBR\001", 4) == 0 && le(s->p + 8, 8) >= delta)
            s->name = le(s->p + 8, 8) - delta;
        else
            s->name = prev + delta + 1;
        if (s->name > GW_SPF_RECNO_OPEN_MAX)
            s->name = GW_SPF_RECNO_OPEN_MAX;
        prev = s->name;
    }
    *head = k && d[1] >= 8 ? segs[0].name + d[1] - 8 : 0;
    return k;
}

/* Scans one segment in memory and checks what the scanner promises. */
static void scan_mem(seg_t *s, uint64_t h)
{
    gw_spf_reader_t r = {.fd = -1};
    gw_spf_cursor_t c;
    gw_spf_run_t run;
    uint64_t bytes = 0, off = 0, expect = s->name;
    int rc;

    gw_spf_attach_mem(&r, s->p, s->len, s->name);
    gw_spf_cursor_init(&c, s->name, s->len, h);
    s->nruns = 0;
    while ((rc = gw_spf_next_run(&r, &c, &run)) == 1) {
        gw_spf_rec_t rec;
        uint64_t o = run.off;

        check(run.count > 0 && run.off >= off && run.len <= s->len - run.off);
        check(run.first >= expect);
        if (run.off > 0) /* a jump after damage: the damaged bytes held the records skipped */
            check(run.first - expect <= (run.off - off) / GW_SPF_HDR_LEN);
        for (uint64_t i = 0; i < run.count; i++) {
            check(gw_spf_read(&r, o, s->len, &rec) == 1 && rec.recno == run.first + i);
            check(rec.len >= GW_SPF_HDR_LEN && rec.len == GW_SPF_HDR_LEN + rec.tlen + rec.plen);
            o += rec.len;
        }
        check(o == run.off + run.len);
        bytes += run.len;
        off = run.off + run.len;
        expect = run.first + run.count;
        if (s->nruns < MAX_RUNS)
            s->runs[s->nruns++] = run;
    }
    check(rc == 0);
    check(bytes + c.damaged == s->len);
    check(c.tail <= 2 && (c.tail == 0 || c.damaged > 0));
    check(r.buf == NULL && r.cap == 0);
    gw_spf_close(&r);
}

/* Whether recno is in a run some segment's scan found. */
static int found(const seg_t *segs, size_t n, uint64_t recno)
{
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < segs[k].nruns; i++)
            if (recno >= segs[k].runs[i].first &&
                recno - segs[k].runs[i].first < segs[k].runs[i].count)
                return 1;
    return 0;
}

static void write_file(const char *name, const void *p, size_t n)
{
    char path[128];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    check(fd >= 0);
    check(n == 0 || write(fd, p, n) == (ssize_t)n);
    close(fd);
}

static void clear_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    check(d != NULL);
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            check(unlinkat(dirfd(d), e->d_name, 0) == 0);
    closedir(d);
}

static gw_spool_t *open_spool(void)
{
    gw_spool_opts_t o = {dir, 1 << 20, 64 * 1024, GW_SPOOL_SYNC_NEVER};
    gw_spool_t *sp = NULL;

    check(gw_spool_open(&o, &sp) == 0 && sp != NULL);
    return sp;
}

static uint64_t recnos[MAX_RECS], sums[MAX_RECS]; /* as taken at the first open */

static uint64_t rec_sum(const gw_spool_rec_t *rec)
{
    uint64_t h = crc32(0, (const Bytef *)rec->topic, (uInt)rec->topic_len);

    h = h << 32 | crc32(0, (const Bytef *)rec->payload, (uInt)rec->payload_len);
    return h ^ (uint64_t)rec->qos << 1 ^ (uint64_t)rec->retain;
}

/* Takes everything and checks it against recnos[from..] (filled first when
 * segs is given); returns how many. */
static uint64_t take_all(gw_spool_t *sp, const seg_t *segs, size_t n, uint64_t from)
{
    uint64_t count = 0;
    gw_spool_rec_t rec;
    int rc;

    while ((rc = gw_spool_take(sp, &rec)) == 0) {
        uint64_t i = from + count++;

        check(i < MAX_RECS);
        if (segs) {
            check(i == 0 || rec.recno > recnos[i - 1]);
            check(found(segs, n, rec.recno));
            recnos[i] = rec.recno;
            sums[i] = rec_sum(&rec);
        } else {
            check(recnos[i] == rec.recno && sums[i] == rec_sum(&rec));
        }
    }
    check(rc == -ENOENT);
    return count;
}

static void write_head(uint64_t head)
{
    unsigned char hb[12];
    uLong c;

    for (int i = 0; i < 8; i++)
        hb[i] = (unsigned char)(head >> (8 * i));
    c = crc32(0, hb, 8);
    for (int i = 0; i < 4; i++)
        hb[8 + i] = (unsigned char)(c >> (8 * i));
    write_file("head", hb, sizeof(hb));
}

/* Opens the spool and checks what it recovered and counted. */
static gw_spool_t *reopen(uint64_t recovered, uint64_t corrupt)
{
    gw_spool_t *sp = open_spool();
    gw_spool_stats_t st;

    gw_spool_stats(sp, &st);
    check(st.recovered == recovered && st.records == recovered && st.corrupt == corrupt);
    return sp;
}

static void on_disk(const seg_t *segs, size_t n, uint64_t head, int has_head, int confirm)
{
    char name[GW_SPF_NAME_CAP];
    gw_spool_stats_t st;
    gw_spool_rec_t rec;
    uint64_t count, half;
    gw_spool_t *sp;

    clear_dir();
    for (size_t k = 0; k < n; k++) {
        gw_spf_name(name, segs[k].name);
        write_file(name, segs[k].p, segs[k].len); /* a later one with the same name wins */
    }
    if (has_head)
        write_head(head);
    sp = open_spool();
    gw_spool_stats(sp, &st);
    count = take_all(sp, segs, n, 0);
    check(count == st.recovered && st.appended == 0);
    gw_spool_stats(sp, &st);
    check(st.records == 0 && st.taken == count);
    gw_spool_close(sp);

    /* The repair is done: nothing more to count, the same records. */
    sp = reopen(count, 0);
    check(take_all(sp, NULL, 0, 0) == count);
    half = confirm ? count / 2 : 0;
    for (uint64_t i = 0; i < half; i++)
        gw_spool_confirm(sp, recnos[i]);
    gw_spool_stats(sp, &st);
    check(st.taken == count - half);
    gw_spool_close(sp);

    /* Exactly the records not confirmed; then an append takes the next number. */
    sp = reopen(count - half, 0);
    check(take_all(sp, NULL, 0, half) == count - half);
    check(gw_spool_append(sp, "t", 1, "p", 1, 1, false) == 0);
    check(gw_spool_take(sp, &rec) == 0 && (count == 0 || rec.recno > recnos[count - 1]));
    gw_spool_close(sp);
}

static void remove_dir(void)
{
    clear_dir();
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct stat sb;

    (void)argc;
    (void)argv;
    gw_log_set_level(GW_LOG_ERROR); /* every repair is logged; keep the output readable */
    snprintf(dir, sizeof(dir), "%s/sb-fuzz-spool-XXXXXX",
             stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp");
    check(mkdtemp(dir) != NULL);
    atexit(remove_dir); /* libFuzzer exits through exit() when its time is up */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    seg_t segs[MAX_SEGS];
    uint64_t head;
    int has_head, fd;
    size_t n;

    if (size < 3)
        return 0;
    n = split(data, size, segs, &head, &has_head);
    for (size_t k = 0; k < n; k++)
        scan_mem(&segs[k], has_head ? head : 0);
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(fd);
    on_disk(segs, n, head, has_head, (data[0] & 8) != 0);
    check(open("/dev/null", O_RDONLY | O_CLOEXEC) == fd); /* nothing left open */
    close(fd);
    return 0;
}

/*
 * Helpers shared by the spool tests; see spool_test.h. (Named test_*.c so
 * the unit-test glob builds it; it registers no suite of its own.)
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "spool_test.h"

const char *spt_mkdtemp(void)
{
    static char dir[64];

    strcpy(dir, "/tmp/sb-spool-test-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    return dir;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void spt_rmtree(const char *dir)
{
    CU_ASSERT_EQUAL(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

const char *spt_path(const char *dir, const char *name)
{
    static char buf[2][1024];
    static int k;

    k ^= 1;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
    return buf[k];
}

const char *spt_seg(const char *dir, uint64_t first)
{
    char name[64];

    snprintf(name, sizeof(name), "seg-%020llu.log", (unsigned long long)first);
    return spt_path(dir, name);
}

gw_spool_t *spt_open(const char *dir, uint64_t max_bytes, uint64_t seg_bytes, gw_spool_sync_t sync)
{
    gw_spool_opts_t o = {dir, max_bytes, seg_bytes, sync};
    gw_spool_t *sp = NULL;

    CU_ASSERT_EQUAL_FATAL(gw_spool_open(&o, &sp), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    return sp;
}

int spt_put(gw_spool_t *sp, unsigned i)
{
    char t[16], p[16];

    snprintf(t, sizeof(t), "t/%06u", i);
    snprintf(p, sizeof(p), "p%07u", i);
    return gw_spool_append(sp, t, 8, p, 8, (int)(i % 3), i % 2 == 1);
}

void spt_put_range(gw_spool_t *sp, unsigned first, unsigned last)
{
    for (unsigned i = first; i <= last; i++)
        CU_ASSERT_EQUAL_FATAL(spt_put(sp, i), 0);
}

unsigned spt_take(gw_spool_t *sp, uint64_t *recno)
{
    gw_spool_rec_t r;
    char t[16], p[16];
    unsigned label;
    int rc = gw_spool_take(sp, &r);

    if (rc == -ENOENT)
        return 0;
    if (rc != 0 || r.topic_len != 8 || r.payload_len != 8)
        return ~0u;
    memcpy(p, r.payload, 8); /* not NUL-terminated */
    p[8] = '\0';
    if (sscanf(p, "p%7u", &label) != 1)
        return ~0u;
    snprintf(t, sizeof(t), "t/%06u", label);
    snprintf(p, sizeof(p), "p%07u", label);
    if (memcmp(r.topic, t, 8) != 0 || memcmp(r.payload, p, 8) != 0 || r.qos != label % 3 ||
        r.retain != (label % 2 == 1))
        return ~0u;
    if (recno)
        *recno = r.recno;
    return label;
}

const char *spt_take_all(gw_spool_t *sp, int confirm)
{
    static char out[8192];
    size_t n = 0;
    uint64_t recno;
    unsigned label;

    out[0] = '\0';
    while ((label = spt_take(sp, &recno)) != 0 && n + 16 < sizeof(out)) {
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%d", n ? "," : "",
                              label == ~0u ? -1 : (int)label);
        if (label == ~0u)
            break;
        if (confirm)
            gw_spool_confirm(sp, recno);
    }
    return out;
}

const char *spt_take_numbered(gw_spool_t *sp)
{
    static char out[8192];
    size_t n = 0;
    uint64_t recno = 0;
    unsigned label;

    out[0] = '\0';
    while ((label = spt_take(sp, &recno)) != 0 && n + 48 < sizeof(out)) {
        if (label == ~0u) {
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%s-1", n ? "," : "");
            break;
        }
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%u", n ? "," : "", label);
        if (recno != label)
            n += (size_t)snprintf(out + n, sizeof(out) - n, "@%llu", (unsigned long long)recno);
    }
    return out;
}

gw_spool_stats_t spt_stats(const gw_spool_t *sp)
{
    gw_spool_stats_t s;

    gw_spool_stats(sp, &s);
    return s;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *spt_ls(const char *dir)
{
    static char out[4096];
    char *names[256];
    size_t n = 0, len = 0;
    struct dirent *e;
    DIR *d = opendir(dir);

    out[0] = '\0';
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    while ((e = readdir(d)) && n < 256) {
        unsigned long long first;
        char *s;
        int k;

        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        /* Segment names sort numerically as zero-padded keys, before others. */
        if (strlen(e->d_name) == 28 && sscanf(e->d_name, "seg-%20llu.log", &first) == 1)
            k = asprintf(&s, "0%020llu", first);
        else
            k = asprintf(&s, "1%s", e->d_name);
        CU_ASSERT_FATAL(k > 0);
        names[n++] = s;
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), str_cmp);
    for (size_t i = 0; i < n; i++) {
        const char *v = names[i] + 1;

        if (names[i][0] == '0')
            v += strspn(v, "0") == 20 ? 19 : strspn(v, "0");
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? "," : "", v);
        free(names[i]);
    }
    return out;
}

uint64_t spt_head(const char *dir)
{
    unsigned char b[16];
    uint64_t v = 0;
    uint32_t c = 0;
    FILE *f = fopen(spt_path(dir, "head"), "rb");
    size_t n;

    if (!f)
        return 0;
    n = fread(b, 1, sizeof(b), f);
    fclose(f);
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    for (int i = 11; i >= 8; i--)
        c = c << 8 | b[i];
    return n == 12 && crc32(0, b, 8) == c ? v : 0;
}

void spt_write_head(const char *dir, uint64_t head)
{
    unsigned char b[12];
    uint32_t c;

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(head >> (8 * i));
    c = (uint32_t)crc32(0, b, 8);
    for (int i = 0; i < 4; i++)
        b[8 + i] = (unsigned char)(c >> (8 * i));
    spt_write_file(spt_path(dir, "head"), b, sizeof(b));
}

off_t spt_size(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

void spt_truncate(const char *path, off_t len)
{
    CU_ASSERT_EQUAL_FATAL(truncate(path, len), 0);
}

void spt_flip(const char *path, off_t off, unsigned char mask)
{
    unsigned char c;
    int fd = open(path, O_RDWR);

    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pread(fd, &c, 1, off), 1);
    c ^= mask;
    CU_ASSERT_EQUAL(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

void spt_append_bytes(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND);

    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, data, n), (ssize_t)n);
    close(fd);
}

void spt_write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);

    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, data, n), (ssize_t)n);
    close(fd);
}

int spt_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 1; /* the one opendir holds; "." and ".." are counted in both */
}

void spt_copy_range(const char *src, off_t off, size_t n, const char *dst)
{
    unsigned char *buf = malloc(n ? n : 1);
    int fd = open(src, O_RDONLY);

    CU_ASSERT_FATAL(fd >= 0 && buf != NULL);
    CU_ASSERT_EQUAL(pread(fd, buf, n, off), (ssize_t)n);
    close(fd);
    spt_write_file(dst, buf, n);
    free(buf);
}

void spt_poke(const char *path, off_t off, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY);

    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pwrite(fd, data, n, off), (ssize_t)n);
    close(fd);
}

const char *spt_build(unsigned n, uint64_t seg_bytes)
{
    const char *dir = spt_mkdtemp();
    gw_spool_t *sp = spt_open(dir, 1 << 20, seg_bytes, GW_SPOOL_SYNC_NEVER);

    spt_put_range(sp, 1, n);
    gw_spool_close(sp);
    return dir;
}

/*
 * Helpers shared by the spool tests (test_spool.c, test_spool_recovery.c),
 * defined in test_spool_helpers.c.
 *
 * Record i has topic "t/%06u" and payload "p%07u" (8 bytes each), QoS i % 3
 * and retain i % 2, so every record is SPT_LEN bytes on disk and a record
 * taken back names itself. On a fresh spool, record i is appended as record
 * number i.
 */
#ifndef SB_SPOOL_TEST_H
#define SB_SPOOL_TEST_H

#include <CUnit/CUnit.h>
#include <stdint.h>
#include <sys/types.h>

#include "gateway/spool.h"

#define SPT_LEN 40 /* 24-byte header + 8 + 8 */

/* A new empty directory under /tmp (static buffer; one at a time). */
const char *spt_mkdtemp(void);
/* Removes a directory tree. */
void spt_rmtree(const char *dir);
/* dir/name in a static buffer (two in rotation). */
const char *spt_path(const char *dir, const char *name);
/* dir/seg-<first>.log */
const char *spt_seg(const char *dir, uint64_t first);

gw_spool_t *spt_open(const char *dir, uint64_t max_bytes, uint64_t seg_bytes, gw_spool_sync_t sync);
int spt_put(gw_spool_t *sp, unsigned i);
/* Appends records first..last, asserting success. */
void spt_put_range(gw_spool_t *sp, unsigned first, unsigned last);
/* A closed spool of records 1..n in a new directory, segments of seg_bytes,
 * max_bytes 1 MiB; returns the directory. */
const char *spt_build(unsigned n, uint64_t seg_bytes);
/* Takes one record and checks that its contents match its label; returns
 * the label (and its record number in *recno), 0 if there is none, or
 * ~0u on a take error or contents that do not match. */
unsigned spt_take(gw_spool_t *sp, uint64_t *recno);
/* Takes everything left, optionally confirming each; "1,2,3" (static). */
const char *spt_take_all(gw_spool_t *sp, int confirm);
/* The same, for spools whose record i was appended as record number i: a
 * record whose number is not its label shows as "label@number". */
const char *spt_take_numbered(gw_spool_t *sp);
gw_spool_stats_t spt_stats(const gw_spool_t *sp);

/* The directory's entries: segment numbers in order, then other names in
 * order, as "1,5,head" (static). */
const char *spt_ls(const char *dir);
/* The head file's record number; 0 if it is missing or invalid. */
uint64_t spt_head(const char *dir);
/* Writes a valid head file. */
void spt_write_head(const char *dir, uint64_t head);
off_t spt_size(const char *path);
void spt_truncate(const char *path, off_t len);
void spt_flip(const char *path, off_t off, unsigned char mask);
void spt_append_bytes(const char *path, const void *data, size_t n);
void spt_write_file(const char *path, const void *data, size_t n);
/* Writes n bytes of src from off to a new file dst. */
void spt_copy_range(const char *src, off_t off, size_t n, const char *dst);
/* Replaces n bytes at off. */
void spt_poke(const char *path, off_t off, const void *data, size_t n);
/* Open file descriptors of this process. */
int spt_fds(void);

int spool_recovery_add(CU_pSuite s);
int spool_resync_add(CU_pSuite s);

#endif

/*
 * The disk spool's files, private to gateway/spool.c: the record layout, the
 * segment names, the head file, a read-ahead reader and the check of one
 * segment file. Plain file I/O, no bookkeeping.
 *
 * A record is, all little-endian:
 *
 *    0  4  magic "SBR\1"
 *    4  4  CRC-32 (zlib) of bytes 8..23, the topic and the payload
 *    8  8  record number
 *   16  4  payload length
 *   20  2  topic length
 *   22  1  QoS, 0..2
 *   23  1  flags: bit 0 retain, the others zero
 *   24     topic, then payload
 *
 * A segment is seg-<number of its first record, 20 digits>.log holding
 * records back to back with consecutive numbers. The head file `head` holds
 * the oldest unconfirmed record number (8 bytes) and the CRC-32 of those 8
 * bytes (4 bytes); it is replaced through `head.tmp` and rename().
 *
 * Functions return 0 (or a count) or a negative errno; the caller owns every
 * fd it passes. Loop thread only, like the spool.
 */
#ifndef GW_SPOOL_FORMAT_H
#define GW_SPOOL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GW_SPF_HDR_LEN 24
#define GW_SPF_NAME_CAP 29 /* "seg-" + 20 digits + ".log" + NUL */

/* A read-ahead window on one segment file. */
typedef struct {
    int fd;         /* -1: none */
    uint64_t first; /* the segment open in fd */
    unsigned char *buf;
    size_t cap;
    uint64_t off; /* buf holds the file's bytes [off, off + len) */
    size_t len;
} gw_spf_reader_t;

/* A record as read back. */
typedef struct {
    uint64_t recno;
    uint64_t len; /* the whole record */
    size_t tlen, plen;
    uint8_t qos;
    bool retain;
    const unsigned char *p; /* the whole record, valid until the next reader call */
} gw_spf_rec_t;

/* What a segment file holds: count valid records from its start, ending at
 * byte `end`; then, when end < size, damaged bytes that held `lost` records
 * (see gw_spf_scan). */
typedef struct {
    uint64_t count, end, lost;
    uint64_t size; /* of the file before any repair (gw_spf_check) */
} gw_spf_scan_t;

/* pread/pwrite of all n bytes, through EINTR and short transfers. pread
 * returns how many bytes it got (fewer only at the end of the file). */
ssize_t gw_spf_pread(int fd, void *buf, size_t n, uint64_t off);
int gw_spf_pwrite(int fd, const void *buf, size_t n, uint64_t off);

void gw_spf_name(char buf[GW_SPF_NAME_CAP], uint64_t first);
/* Whether name is exactly a segment name; *first gets its number. */
bool gw_spf_parse_name(const char *name, uint64_t *first);

/* Writes a record of GW_SPF_HDR_LEN + tlen + plen bytes to p. */
void gw_spf_encode(unsigned char *p, uint64_t recno, const char *topic, size_t tlen,
                   const char *payload, size_t plen, int qos, bool retain);

/* The reader takes fd (which gw_spf_close closes) and forgets its window;
 * its buffer is kept. */
void gw_spf_attach(gw_spf_reader_t *r, int fd, uint64_t first);
void gw_spf_close(gw_spf_reader_t *r);

/* Reads and checks the record at off of a segment file of size bytes: 1
 * valid (*rec filled), 0 no valid record there, or a negative errno. */
int gw_spf_read(gw_spf_reader_t *r, uint64_t off, uint64_t size, gw_spf_rec_t *rec);

/* Checks a segment file of size bytes whose first record should be `first`.
 * Damaged bytes are searched for intact records (by magic and CRC), whose
 * numbers tell exactly how many records were lost up to the last one found;
 * bytes that hold no intact record count as one lost record. Only records
 * numbered from h on are counted as lost. Read errors count as damage;
 * returns 0 or -ENOMEM. */
int gw_spf_scan(gw_spf_reader_t *r, uint64_t first, uint64_t size, uint64_t h, gw_spf_scan_t *out);

/* Checks the segment file named after first (see gw_spf_scan) through r;
 * with repair, cuts it after its last valid record and fsyncs it. */
int gw_spf_check(int dirfd, gw_spf_reader_t *r, uint64_t first, uint64_t h, bool repair,
                 gw_spf_scan_t *out);

/* Creates dir and its missing parents (mode 0750), opens it and checks that
 * it can be written. Returns the fd or a negative errno. */
int gw_spf_dir_open(const char *dir);

/* The record numbers of the regular files named like segments in the
 * directory, in order, in a new array (*firsts, *n) that the caller frees.
 * Other names are left alone. */
int gw_spf_list(int dirfd, uint64_t **firsts, size_t *n);

/* Replaces the head file; durable: fsync the file and the directory. */
int gw_spf_head_store(int dirfd, uint64_t head, bool durable);
/* false when the head file is missing or damaged. */
bool gw_spf_head_load(int dirfd, uint64_t *head);

#endif

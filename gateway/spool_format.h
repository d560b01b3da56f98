/*
 * The disk spool's files, private to gateway/spool.c and spool_repair.c: the
 * record layout, the segment names, the head file, a read-ahead reader and
 * the scanner that finds the intact records of a segment. Plain file I/O, no
 * bookkeeping; the scanner also runs on a segment in memory (sans I/O).
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
 * Fields are assembled byte by byte (never by casting a pointer into a
 * buffer: records sit at any alignment, and 32-bit ARM builds exist). Every
 * length read from disk is checked against the bytes that hold it and
 * against GW_SPF_REC_MAX before anything is allocated or copied.
 *
 * A segment is seg-<number, 20 digits>.log holding records back to back with
 * consecutive numbers. Its first record is normally numbered after the
 * segment; a higher number means a repair found the records in between lost
 * (they were counted then) and declares them gone. The head file `head`
 * holds the oldest unconfirmed record number (8 bytes) and the CRC-32 of
 * those 8 bytes (4 bytes); it is replaced through `head.tmp` and rename().
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
/* The largest topic and payload together: what fits in the largest MQTT
 * packet (its remaining length), so no message the spool holds is larger. */
#define GW_SPF_BODY_MAX 268435455u
#define GW_SPF_REC_MAX ((uint64_t)GW_SPF_HDR_LEN + GW_SPF_BODY_MAX)
/* Appends stop at this record number: far beyond any number reachable, and
 * first + count never overflows below it. */
#define GW_SPF_RECNO_MAX ((uint64_t)1 << 62)
/* A record number or head read from disk above this is damage. It is half
 * the append limit, so that a spool that opened can always append again (a
 * head file claiming 2^62 would otherwise leave a spool that opens but can
 * never take another record). */
#define GW_SPF_RECNO_OPEN_MAX ((uint64_t)1 << 61)

/* A read-ahead window on one segment file, or a segment in memory. */
typedef struct {
    int fd;                   /* -1: none */
    uint64_t first;           /* the segment open in fd */
    const unsigned char *mem; /* instead of fd: mlen bytes owned by the caller */
    uint64_t mlen;
    unsigned char *buf; /* the window, never larger than GW_SPF_REC_MAX */
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

/* A run of intact records numbered first .. first + count - 1, back to back
 * at bytes [off, off + len) of a segment. */
typedef struct {
    uint64_t first, count, off, len;
} gw_spf_run_t;

/* Where a scan of one segment stands (gw_spf_next_run). */
typedef struct {
    uint64_t size;    /* of the segment */
    uint64_t off;     /* the scan goes on from here */
    uint64_t expect;  /* the number the record at off should have */
    uint64_t h;       /* damage counts only from this record number on */
    uint64_t damaged; /* bytes found holding no intact record so far */
    uint64_t tail;    /* at the end: records from h on lost in the damaged bytes
                         after the last run (0, 1 or 2: their number is unknown) */
} gw_spf_cursor_t;
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
/* The reader reads len bytes at p (owned by the caller, which keeps them
 * until gw_spf_close) instead of a file. */
void gw_spf_attach_mem(gw_spf_reader_t *r, const void *p, uint64_t len, uint64_t first);
void gw_spf_close(gw_spf_reader_t *r);

/* Reads and checks the record at off of a segment file of size bytes: 1
 * valid (*rec filled), 0 no valid record there, or a negative errno. */
int gw_spf_read(gw_spf_reader_t *r, uint64_t off, uint64_t size, gw_spf_rec_t *rec);

/* Starts a scan of a segment of size bytes named after record `first`;
 * damage is counted from record h on. */
void gw_spf_cursor_init(gw_spf_cursor_t *c, uint64_t first, uint64_t size, uint64_t h);

/*
 * The next run of intact records of the segment read by r: 1 with *run
 * filled, 0 when there is none left (c->damaged and c->tail are final), or
 * -ENOMEM. Runs come in order of offset and number, each numbered above the
 * last. The first run may start at byte 0 with any number from the
 * segment's own on (a declared gap, see above). After damage, the scan
 * resynchronises on the next record that can be trusted: intact (magic,
 * fields, CRC), numbered from the expected number on but no further than the
 * damaged bytes could have held (each lost record took at least a header),
 * and found where the damaged record's own header says it ends when that
 * header is intact, else by searching the bytes for the magic. Read errors
 * count as damage; the search goes on past them.
 */
int gw_spf_next_run(gw_spf_reader_t *r, gw_spf_cursor_t *c, gw_spf_run_t *run);

/* Copies bytes [off, off + len) of the segment read by r to the start of
 * the file fd. 0, -EIO when the segment is shorter, or a negative errno. */
int gw_spf_copy(gw_spf_reader_t *r, uint64_t off, uint64_t len, int fd);

/* Creates dir and its missing parents (mode 0750), opens it and checks that
 * it can be written. Returns the fd or a negative errno. */
int gw_spf_dir_open(const char *dir);

/* The record numbers of the regular files named like segments in the
 * directory, in order, in a new array (*firsts, *n) that the caller frees.
 * Other names are left alone. */
int gw_spf_list(int dirfd, uint64_t **firsts, size_t *n);

/* Replaces the head file; durable: fsync the file and the directory. */
int gw_spf_head_store(int dirfd, uint64_t head, bool durable);
/* false when the head file is missing or damaged (or past GW_SPF_RECNO_OPEN_MAX). */
bool gw_spf_head_load(int dirfd, uint64_t *head);

#endif

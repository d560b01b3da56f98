/*
 * The disk spool: store and forward for messages the in-memory outbox cannot
 * hold or cannot deliver yet (broker unreachable, outbox full).
 *
 * Records are appended to segment files (seg-<first record number>.log) in
 * one directory; each record carries its number and a CRC-32 so a torn or
 * corrupt tail is detected after a power loss. Records are consumed oldest
 * first. A record leaves the spool for good only when the caller confirms it
 * (gw_spool_confirm, after the broker acknowledged it); the number of the
 * oldest unconfirmed record is kept in a small `head` file, so after a crash
 * replay starts there (records taken but not confirmed may be delivered
 * twice: at-least-once).
 *
 * Bounded by max_bytes: when an append would pass it, whole oldest segments
 * are deleted and their unconsumed records counted as dropped (spool_full).
 *
 * Durability (sync): ALWAYS fsyncs before gw_spool_append returns (the
 * record survives a power loss once it returns; slowest, most writes on an
 * SD card); INTERVAL leaves fsync to gw_spool_sync(), which the gateway calls
 * every sync_interval (a power loss loses at most that window); NEVER leaves
 * it to the kernel (a crash of the process loses nothing, a power loss may
 * lose whatever the kernel had not written).
 *
 * Not thread-safe; plain blocking file I/O (regular files, no network).
 */
#ifndef GW_SPOOL_H
#define GW_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { GW_SPOOL_SYNC_ALWAYS, GW_SPOOL_SYNC_INTERVAL, GW_SPOOL_SYNC_NEVER } gw_spool_sync_t;

typedef struct {
    const char *dir;        /* created (mode 0750) if missing */
    uint64_t max_bytes;     /* total size of all segments */
    uint64_t segment_bytes; /* a new segment starts past this; 0: max_bytes / 8, at least 64 KiB */
    gw_spool_sync_t sync;
} gw_spool_opts_t;

typedef struct {
    uint64_t records;      /* on disk, not yet taken */
    uint64_t bytes;        /* on disk, all segments */
    uint64_t taken;        /* handed out and not yet confirmed */
    uint64_t appended;     /* this run */
    uint64_t recovered;    /* valid records found at open (from a previous run) */
    uint64_t corrupt;      /* records lost to damage: found at open (torn, failing the
                              CRC, missing) or while reading */
    uint64_t dropped_full; /* records deleted unconsumed to stay within max_bytes */
    uint64_t segments;
} gw_spool_stats_t;

/* One record handed out by gw_spool_take(). Pointers are valid until the
 * next call on the spool. */
typedef struct {
    uint64_t recno;
    const char *topic;
    size_t topic_len;
    const char *payload;
    size_t payload_len;
    uint8_t qos;
    bool retain;
} gw_spool_rec_t;

typedef struct gw_spool gw_spool_t;

/*
 * Opens (creating) the spool, scans every segment and validates every record
 * from the head on. A damaged record costs only itself: the intact records
 * after it, in its segment and in every later one, are found again and kept
 * in order (the repair moves them to segments of their own, see
 * spool_repair.h), and a torn or corrupt tail is cut off. Never refuses to
 * start because of bad data: a damaged spool is repaired, what was lost is
 * counted in stats.corrupt (exactly where the record numbers tell, else one
 * per damaged tail) and logged, and a repaired spool counts nothing again at
 * the next open.
 * Returns 0, or a negative errno for an unusable directory (e.g. EACCES) or
 * a repair that could not be written (e.g. ENOSPC, EIO).
 */
int gw_spool_open(const gw_spool_opts_t *opts, gw_spool_t **out);

/* Closes files (fsyncs first unless sync is NEVER). NULL-safe. */
void gw_spool_close(gw_spool_t *sp);

/* Appends one record. 0, -EMSGSIZE (a record larger than a segment, or a
 * topic and payload larger than the largest MQTT message), or a negative
 * errno from the file system (ENOSPC, EIO). */
int gw_spool_append(gw_spool_t *sp, const char *topic, size_t topic_len, const char *payload,
                    size_t payload_len, int qos, bool retain);

/* fsync of the segment being written (and the head file). */
int gw_spool_sync(gw_spool_t *sp);

/* The oldest record not yet taken: 0 with *rec filled, -ENOENT when none are
 * left, or a negative errno on a read error (the damaged rest is skipped and
 * counted as corrupt). */
int gw_spool_take(gw_spool_t *sp, gw_spool_rec_t *rec);

/* The record was delivered (or dropped for good): it may leave the disk.
 * Records may be confirmed in any order; the head advances over every
 * confirmed record and fully confirmed segments are deleted. */
void gw_spool_confirm(gw_spool_t *sp, uint64_t recno);

/* Everything taken but not confirmed goes back to be taken again, in order
 * (used when the in-memory copies were dropped without delivery). */
void gw_spool_untake(gw_spool_t *sp);

/* Whether the record is still on disk, unconfirmed (not evicted for
 * max_bytes since it was taken). */
bool gw_spool_holds(const gw_spool_t *sp, uint64_t recno);

/* Nothing on disk that is not confirmed. */
bool gw_spool_empty(const gw_spool_t *sp);

/* Records left to take (neither taken nor confirmed). */
uint64_t gw_spool_pending(const gw_spool_t *sp);

void gw_spool_stats(const gw_spool_t *sp, gw_spool_stats_t *out);

#endif

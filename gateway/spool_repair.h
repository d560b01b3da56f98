/*
 * The disk spool's check and repair at open, private to gateway/spool.c.
 *
 * Every segment file is scanned for runs of intact records
 * (gw_spf_next_run); a damaged record costs only itself. The runs are kept
 * in order of number, each above the last: a run that repeats kept records
 * (a copy left by an interrupted repair) is dropped, one that overlaps them
 * is cut to what is new. Every kept run ends up alone in a segment, from
 * byte 0, named after the end of the run before it, so that the segments
 * follow each other without a gap again:
 *
 * - a run at byte 0 stays in its file, which is cut after it (and renamed
 *   when the numbers before it are missing);
 * - a run after damage is copied to a segment of its own (seg.tmp, fsync,
 *   rename, fsync of the directory) before its file is cut or deleted, so a
 *   power loss in the middle of a repair leaves every intact record on disk
 *   at least once, and the next open finishes the repair.
 *
 * A segment whose first record is numbered above its name declares the
 * numbers in between lost: they were counted once, by the repair that found
 * them, and are not counted again.
 *
 * Counted as corrupt, from the head on: the numbers missing between kept
 * runs that no segment declares lost (exactly); damaged bytes after the last
 * kept run, as one record, or two when an intact header shows a record
 * before a torn one (their number is unknown); and the records of runs
 * dropped after a gap wider than the spool could ever have held (max_gap
 * numbers in all gaps together), which is not believed. Each is logged.
 *
 * Loop thread only, at open, like the spool.
 */
#ifndef GW_SPOOL_REPAIR_H
#define GW_SPOOL_REPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/spool_format.h"

typedef struct {
    uint64_t first; /* its name: the numbers it stands for start here */
    uint64_t start; /* its first record: above first after a declared gap */
    uint64_t count; /* numbers from first on, the declared gap included */
    uint64_t size;  /* bytes */
} gw_spr_seg_t;

typedef struct {
    gw_spr_seg_t *segs; /* what is kept, in order, each segment following the
                           one before; malloc'd, the caller frees it */
    size_t nsegs, cap;
    uint64_t corrupt; /* records from the head on found lost */
    bool repaired;    /* names were created, renamed or deleted: fsync the directory */
} gw_spr_result_t;

/*
 * Checks and repairs the segments of the spool directory dirfd through the
 * reader r (whose window it reuses; r is left closed). h is the head from
 * the head file (0: none): segments wholly below it are deleted unread and
 * damage below it costs nothing. Returns 0 with *out filled, or a negative
 * errno (-ENOMEM, or a file system error reading the directory or writing a
 * repair); on error *out holds nothing to free.
 */
int gw_spr_recover(int dirfd, gw_spf_reader_t *r, uint64_t h, uint64_t max_gap,
                   gw_spr_result_t *out);

#endif

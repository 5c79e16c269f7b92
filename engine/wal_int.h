/*
 * wal_int.h - what wal.c, walseg.c and walread.c share: a segment file's
 * name and place, listing segments in LSN order, reading them, and the
 * read-ahead thread of a scan.
 */
#ifndef BOOKD_WAL_INT_H
#define BOOKD_WAL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wal.h"

struct seg {
	uint64_t first_lsn;
	int dfd;       /* the directory holding it: wal/ or wal/archive/ */
	bool archived; /* in wal/archive/ */
	char name[32];
};

/* Order by first LSN; the same segment in wal/ and in wal/archive/: wal/
 * sorts last. */
int wal_seg_cmp(const void *a, const void *b);
/* Append the segments of directory dfd to *v (n used, cap allocated);
 * archived marks them as wal/archive/'s.  Not sorted. */
int wal_add_segments(int dfd, bool archived, struct seg **v, size_t *n,
		     size_t *cap);
/* List wal/ segments sorted by first LSN (*out is the caller's to free). */
int wal_list_segments(int waldfd, struct seg **out, size_t *n);
int wal_fsync_dir(int fd);

/* A segment file mapped read-only (p NULL when it is empty). */
struct mapped {
	const unsigned char *p;
	size_t len;
};

/* Map segment name of directory dfd; populate: fault it all in now. */
int wal_map_segment(int dfd, const char *name, struct mapped *m, bool populate);
void wal_unmap_segment(struct mapped *m);
/* Is there a complete record at off (length in bounds, and its checksum
 * right unless check is false)?  Fills r (seg_first_lsn untouched); 1
 * valid, 0 not. */
int wal_parse_rec(const struct mapped *m, size_t off, struct wal_rec *r,
		  bool check);

/*
 * The read-ahead of a scan (walread.c): a thread that maps segs[0..n) in
 * turn and checks their records' checksums ahead of the scan.  Start
 * returns NULL when no thread could be started: the scan then reads alone.
 * segs must outlive it.
 */
struct wal_ahead;
struct wal_ahead *wal_ahead_start(const struct seg *segs, size_t n);
/* The read-ahead's mapping of segment seg (waiting for it), or NULL when it
 * will not map it (the scan maps it itself).  Segments are asked for in
 * order; the one before goes.  Valid until the next call, or until
 * wal_ahead_end. */
const struct mapped *wal_ahead_map(struct wal_ahead *a, size_t seg);
/* Has the read-ahead checked every record of segment seg (the last one
 * asked for with wal_ahead_map) up to byte end? */
bool wal_ahead_checked(struct wal_ahead *a, size_t seg, size_t end);
/* Stop the thread and let go of its mappings. */
void wal_ahead_end(struct wal_ahead *a);

#endif

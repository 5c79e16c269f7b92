/*
 * wal_int.h - what wal.c and walseg.c share: a segment file's name and
 * place, and listing segments in LSN order.
 */
#ifndef BOOKD_WAL_INT_H
#define BOOKD_WAL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif

/*
 * walprep.h - preparing the WAL's next segment in the background.
 *
 * Segment preparation, on a thread of its own so that the commit path never
 * waits for it.  posix_fallocate leaves unwritten extents: the first write
 * into each block makes the group's fdatasync also commit the file system
 * journal.  Blocks that were written (with zeros) and synced beforehand
 * cost only the data.  So from a quarter of the way through a segment the
 * thread writes the next one in full with zeros, syncing as it goes, as
 * wal/PREP_NAME; the switch renames it and writes its header.  The first
 * segment of a log is written with zeros at open, FIRST_SEG bytes at most
 * (cheap for an engine that writes little); each prepared one is four
 * times the size of the one before, up to the segment size, so that it is
 * ready before the writer needs it.
 *
 * Zeros are harmless to recovery: a zero length word ends a segment's
 * records, and a renamed segment whose header never reached the disk is
 * the newest one, a torn tail.  PREP_NAME is not a segment's name, so a
 * half-prepared file is never read as log.  The thread never touches the
 * segment being written (its dirty pages would ride on the commits'
 * fdatasyncs).  A failure of the thread only costs speed (logged once): the
 * switch then falls back to a fallocated segment.
 */
#ifndef BOOKD_WALPREP_H
#define BOOKD_WALPREP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PREP_NAME	"next.wal.prep"
#define ZERO_CHUNK	(1u << 20)
#define ZERO_SYNC_EVERY (4ull << 20)
#define FIRST_SEG	(1ull << 20)

struct prep {
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	int waldfd;	    /* DATA/wal, shared with the WAL (read only) */
	uint64_t seg_size;  /* the largest segment */
	uint64_t next_size; /* of the segment being prepared */
	bool cur;	    /* a current segment is being written */
	uint64_t cur_size;  /* its size */
	uint64_t reserved;  /* the writer's end in it */
	int next_fd;	    /* the prepared next segment, -1 when none */
	bool next_busy;	    /* the thread is preparing it */
	bool failed;	    /* an I/O error: prepare no more */
	uint64_t prepared;  /* segments taken ready by a switch */
	uint64_t fallbacks;
};

int prep_pwrite_all(int fd, const void *buf, size_t n, off_t off);
int prep_zero_fill(int fd, uint64_t size, const bool *stop);
void prep_set_current(struct prep *p, uint64_t size, uint64_t reserved);
void prep_reserve(struct prep *p, uint64_t end);
int prep_take_next(struct prep *p, const char *name, uint64_t *size);
void prep_start(struct prep *p, int waldfd, uint64_t seg_size);
void prep_stop(struct prep *p);

#endif

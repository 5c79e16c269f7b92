/*
 * checkpoint.h - when and how snapshots are written while the engine runs:
 * the checkpoint policy (struct checkpoint), the compactor it starts, the
 * install after durable and the log trim that follows.  The snapshot
 * format and its writer and reader are snapshot.h's.
 */
#ifndef BOOKD_CHECKPOINT_H
#define BOOKD_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "snapshot.h"
#include "state.h"
#include "wal.h"

/*
 * Checkpoint policy.  The engine keeps one, calls checkpoint_tick() after
 * every durable WAL group, checkpoint_child_done() when the compactor's pidfd
 * (child_fd) becomes readable, and checkpoint_now() when it stops cleanly.
 *
 * A snapshot is written by a compactor: a new process of the engine's own
 * binary (exe, by default /proc/self/exe) in its hidden mode `bookd
 * --write-snapshot` (compact.h), started with posix_spawn.  It gets the
 * data directory (as descriptor 3), the LSN -- always one already durable
 * in the log -- and the shape of the state (max resources, the window of
 * days); it rebuilds the state the way recovery does, read-only (the
 * snapshot, then the log records after it up to that LSN and not one
 * further, with no torn tail cut), writes and fsyncs snapshot.tmp and
 * exits with status 0 (1 and a line on stderr, the engine's log, on
 * failure).  Its LSN being durable, it then installs snapshot.tmp itself
 * (--install: rename, directory fsync) and lets go of the log segments
 * the snapshot covers (wal_trim_dir), the one being appended to never
 * among them.  It touches neither the lock, the socket nor the pages,
 * dies with the engine (PR_SET_PDEATHSIG) and runs at a lower priority
 * (nice CHECKPOINT_CHILD_NICE) so the loop's replies come first.  The
 * caller's loop never waits for the disk nor for the compactor; its pidfd
 * (child_fd) says when it ended, and then the caller only counts: the
 * snapshot's size, the LSN, the segments left (wal_recount).  Segments go
 * only at the end of a compactor's run, by that compactor, so none it
 * reads ever vanishes (and the segment preparation thread's next.wal.prep
 * never matches the scan's segment names).  A compactor that fails or is
 * killed before its rename leaves snapshot.tmp uninstalled (the caller
 * removes it); the failure is logged and the next checkpoint is tried no
 * sooner than CHECKPOINT_RETRY_MS later.  At most one checkpoint runs at
 * a time.
 *
 * With foreground set, the snapshot is written in the caller (the caller
 * blocks for about one second per few hundred MB of state); the same
 * rename and retry rules hold.
 *
 * The caller's stall is posix_spawn's (vfork semantics: CLONE_VM |
 * CLONE_VFORK, so no page table is copied; the caller waits only until
 * the child has called execve) plus a pidfd_open: spawn_us and start_us
 * measure them and the log line that starts a compactor reports both
 * (measured at 1 M bookings on a shared 2-vCPU VM, 2026-12-03: 0.7-6 ms,
 * the spread being the wait for the new process to be scheduled).
 * Installing (rename, directory fsyncs, the trim's unlinks) took the
 * caller about 31 ms after 2 M log records when the caller did it; the
 * compactor does it now, and install_us is only the caller's reaping and
 * counting.
 * What the fork this replaced cost, measured on a 2-vCPU VM under load
 * (2026-12-03): 104-117 ms for an engine of 953 MiB VmRSS holding 1 M
 * bookings (the kernel copies one page-table entry per 4 KiB page), and
 * copy-on-write faults afterwards.  The price of the compactor instead:
 * it rebuilds the state from the files, so a checkpoint takes about as
 * long as a restart's recovery plus the write, and the machine holds a
 * second copy of the state while it runs.
 */
struct checkpoint {
	/* set by checkpoint_init; may be changed before the first tick */
	int dirfd;
	uint64_t every_bytes; /* log bytes between checkpoints */
	bool archive;	      /* trimmed segments go to wal/archive/ */
	bool foreground;      /* write in the caller, no child */
	const char *exe;      /* the compactor's binary; NULL: /proc/self/exe */
	int64_t retry_ms;     /* after a failure, wait this long */
	/* read-only: the last snapshot made durable */
	uint64_t lsn;	  /* 0: none */
	int64_t at_ms;	  /* when it was written (0: before this process) */
	uint64_t written; /* snapshots this process made durable */
	uint64_t failed;  /* checkpoints that failed */
	/* read-only: the compactor writing snapshot.tmp */
	pid_t child;	    /* 0: none */
	int child_fd;	    /* its pidfd (readable once it ended), or -1 */
	int64_t spawn_us;   /* how long the last posix_spawn took */
	int64_t start_us;   /* the caller's whole part of starting it */
	int64_t install_us; /* the caller's part of installing the last one */
	int64_t write_ms;   /* how long the last snapshot took to write */
	/* private */
	uint64_t snap_bytes;  /* size of the last snapshot */
	uint64_t log_bytes;   /* log bytes since the last snapshot */
	uint64_t seen_bytes;  /* the WAL's byte counter at the last tick */
	uint64_t pending_lsn; /* snapshot.tmp holds this LSN, not yet durable */
	uint64_t child_lsn;   /* the LSN the child writes */
	int64_t child_t0;     /* monotonic ms when the child started */
	uint64_t child_log_bytes; /* log_bytes when the child started */
	int64_t retry_at;	  /* monotonic ms: no new checkpoint before */
#ifdef BOOKD_TEST_HOOKS
	uint32_t test_fail;	/* this many children fail before writing */
	uint32_t test_delay_ms; /* a child sleeps this long before it exits */
#endif
};

#define CHECKPOINT_DEFAULT_BYTES (64ull << 20)
#define CHECKPOINT_RETRY_MS	 5000
#define CHECKPOINT_CHILD_NICE	 10 /* the compactor yields the CPU */

/*
 * dirfd: the data directory; every_bytes: 0 for the default; snap_lsn: the
 * LSN of the snapshot loaded at start (0: none); replayed_bytes: log bytes
 * replayed after it (wal_scan.bytes), which count towards the next
 * checkpoint.
 */
void checkpoint_init(struct checkpoint *ck, int dirfd, uint64_t every_bytes,
		     bool archive, uint64_t snap_lsn, uint64_t replayed_bytes);

/*
 * Call after wal_group_done().  Publishes a pending snapshot.tmp once its
 * LSN is durable (then trims the log), and starts a new checkpoint when the
 * log written since the last snapshot exceeds both every_bytes and that
 * snapshot's size (so checkpoints never write more bytes than the log they
 * save replaying), no child is running and no failure is recent.  Starting
 * one spawns the compactor at the durable LSN and returns (child_fd is
 * then valid), or with
 * foreground writes the snapshot before it returns.  Returns 1 when a
 * snapshot became durable, 0 otherwise, or a negative errno with err set
 * (the log still holds everything).
 */
int checkpoint_tick(struct checkpoint *ck, const struct state *st,
		    struct wal *w, char *err, size_t errlen);

/*
 * child_fd became readable: reap the child.  When it wrote snapshot.tmp,
 * install it (at once when its LSN is durable, else at a later tick).
 * Returns 1 when a snapshot became durable, 0 when nothing was installed
 * yet (or the child has not ended: poll again while child_fd >= 0), or a
 * negative errno with err set (the child failed; nothing was installed).
 */
int checkpoint_child_done(struct checkpoint *ck, struct wal *w, char *err,
			  size_t errlen);

/*
 * Snapshot now, at the last LSN, and trim: for a clean stop.  Waits for a
 * running child first (installing what it wrote), then writes in the
 * caller when that did not cover everything.  Every appended record must
 * be durable (-EBUSY otherwise).  Returns 1 when a snapshot was written, 0
 * when the last one already covers everything.
 */
int checkpoint_now(struct checkpoint *ck, const struct state *st, struct wal *w,
		   char *err, size_t errlen);

/* Kill and reap a running child, remove its snapshot.tmp; for an exit
 * that skips checkpoint_now. */
void checkpoint_free(struct checkpoint *ck);

#endif

/*
 * snapshot.h - checkpoints: the whole durable state in one file, DATA/snapshot,
 * so that recovery replays only the log after it and old log segments can go.
 *
 * What it owns: DATA/snapshot and DATA/snapshot.tmp, and the policy of when
 * to write them (struct checkpoint).  It reads the state only through the
 * same record encoding the WAL uses, and rebuilds a state only through
 * state_apply(), so a snapshot restores exactly what replaying the log would.
 *
 * On-disk format (all integers little-endian)
 * -------------------------------------------
 * Header, 64 bytes:
 *
 *   0   8  magic "BOOKDSNP"
 *   8   4  version (2; version 1 files are still read)
 *   12  4  header size (64)
 *   16  8  LSN: the state is that of the log up to and including this LSN
 *   24  8  creation time, ms since the epoch
 *   32  4  resources
 *   36  4  event types
 *   40  4  bookings
 *   44  4  zero
 *   48  8  feed events
 *   56  4  zero
 *   60  4  CRC-32C of bytes 0..59
 *
 * then records, each starting at an 8-byte aligned offset:
 *
 *   0   4  payload length N (1 .. SNAP_MAX_PAYLOAD)
 *   4   4  CRC-32C of bytes 8 .. 16+N of this record
 *   8   2  type
 *   10  2  flags (0)
 *   12  4  zero
 *   16  N  payload
 *   ..     zero padding to a multiple of 8
 *
 * Record types, in this order (a record of an earlier kind after a later
 * kind is damage):
 *
 *   WAL_RESOURCE (1)    every resource, in index order; payload exactly as
 *                       state_pack_resource_rec() writes it to the WAL
 *   WAL_EVENT_TYPE (3)  every event type, as state_pack_event_type()
 *   WAL_BOOKING (2)     every booking, ids 1, 2, 3 ... in order, as
 *                       state_pack_booking_rec(pk, st, b, EV_NONE)
 *   SNAP_EVENTS (256)   the events feed (state.ev) in LSN order, in batches
 *                       of at most SNAP_EVENTS_PER_REC fixed 24-byte
 *                       entries: 0 LSN (8), 8 at_ms (8), 16 booking id (4),
 *                       20 enum feed_event (1), 21 zero (3)
 *   WAL_HOOK (4)        every webhook, as hooks_pack_rec() (engine/hooks.h);
 *                       a snapshot without hooks has none of these, so
 *                       version 1 files from before hooks still load
 *   WAL_SCHEDULE (5)    every shared schedule, as state_pack_schedule_rec()
 *   WAL_HOLIDAYS (6)    every holiday calendar, as state_pack_holidays_rec();
 *                       new in version 2 (a version 1 file has none), so
 *                       an older engine refuses a file that may hold them
 *                       by its version instead of by an unknown record
 *
 * Trailer, the last 32 bytes of the file:
 *
 *   0   8  magic "BOOKDEND"
 *   8   8  number of records between the header and the trailer
 *   16  4  CRC-32C of every byte of the file before the trailer
 *   20  8  zero
 *   28  4  CRC-32C of trailer bytes 0..27
 *
 * Invariants
 * ----------
 * - DATA/snapshot is only ever replaced by rename(2) of a complete, fsynced
 *   snapshot.tmp, followed by an fsync of the directory: a crash leaves the
 *   old snapshot or the new one, never a mix.  A stray snapshot.tmp is
 *   ignored and overwritten.
 * - A published snapshot at LSN S only covers records that are durable in
 *   the log: struct checkpoint writes snapshot.tmp at the durable LSN (the
 *   compactor) or the last appended one (in the caller), and renames it
 *   only once the WAL reports that LSN durable.  Log segments
 *   go (wal_trim) only after that rename is durable.
 * - Every kind of durable state is in it: resources (with schedules),
 *   event types, bookings (with history and idempotency keys) and the
 *   events feed.  A new WAL record type needs a place here too; the loader
 *   refuses types it does not know.
 *
 * How it fails
 * ------------
 * Functions return 0 or a negative errno and write a one-line reason into
 * err.  A snapshot that fails any check (size, magic, version, a checksum,
 * record order, a record that does not apply) is refused with -EUCLEAN and
 * a message naming the record and byte offset: the engine must refuse to
 * start rather than run on a state it cannot trust.  On failure the state
 * passed to snapshot_load holds whatever was applied; the caller frees it.
 * A failed checkpoint (or a checkpoint compactor that fails or is killed)
 * leaves the previous snapshot and the whole log in place, so nothing is
 * lost; the engine logs it and tries again CHECKPOINT_RETRY_MS later.
 */
#ifndef BOOKD_SNAPSHOT_H
#define BOOKD_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "state.h"
#include "wal.h"

#define SNAP_MAGIC	    "BOOKDSNP"
#define SNAP_END_MAGIC	    "BOOKDEND"
#define SNAP_VERSION	    2u
#define SNAP_VERSION_OLDEST 1u /* the oldest version still read */
#define SNAP_HEADER	    64u
#define SNAP_REC_HEADER	    16u
#define SNAP_TRAILER	    32u
#define SNAP_MAX_PAYLOAD    WAL_MAX_PAYLOAD
#define SNAP_EVENTS	    256u
#define SNAP_EVENT_SIZE	    24u
#define SNAP_EVENTS_PER_REC 2048u
#define SNAP_FILE	    "snapshot"
#define SNAP_TMP	    "snapshot.tmp"

/* What a snapshot's header says, and how big it is. */
struct snapshot_info {
	bool present;
	uint64_t lsn;
	int64_t created_ms;
	uint32_t resources, event_types, bookings;
	uint64_t events;
	uint64_t bytes;	  /* file size */
	uint64_t records; /* filled by snapshot_read only */
};

/*
 * Write the whole state as of LSN lsn: snapshot.tmp, fsync, rename to
 * snapshot, fsync the directory dirfd.
 */
int snapshot_write(int dirfd, const struct state *st, uint64_t lsn, char *err,
		   size_t errlen);

/*
 * Only the first step: write snapshot.tmp for st at lsn and fsync it (not
 * installed).  bytes, when not NULL, gets its size.  On failure
 * snapshot.tmp is removed.
 */
int snapshot_write_tmp(int dirfd, const struct state *st, uint64_t lsn,
		       uint64_t *bytes, char *err, size_t errlen);

/*
 * Load DATA/snapshot into st, a state fresh from state_init (nothing
 * applied yet).  Absent: 0 with *lsn = 0.  Loaded changes are committed
 * (state_commit_deltas, or state_replay_end after a state_replay_begin): a
 * snapshot holds only durable state.  The header's counts size the state's
 * indexes and memory before the records come.  Record checksums are
 * checked on a second thread, ahead of the loader, which applies a record
 * only once its checksum is known to hold.
 */
int snapshot_load(int dirfd, struct state *st, uint64_t *lsn, char *err,
		  size_t errlen);

/* snapshot_load, also reporting the header and the record count. */
int snapshot_read(int dirfd, struct state *st, struct snapshot_info *info,
		  char *err, size_t errlen);

/* Read and check only the header (info->present false when absent). */
int snapshot_peek(int dirfd, struct snapshot_info *info, char *err,
		  size_t errlen);

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
 * failure).  It touches neither the lock, the socket, the pages nor any
 * log segment, dies with the engine (PR_SET_PDEATHSIG) and runs at a lower
 * priority (nice CHECKPOINT_CHILD_NICE) so the loop's replies come first.
 * The caller's loop never waits for the disk nor for the compactor; its
 * pidfd (child_fd) says when it ended.  Once it exited 0 the caller
 * installs snapshot.tmp by rename, fsyncs the directory and trims the log:
 * segments only go at install, after the compactor ended, so none it reads
 * ever vanishes (and the segment preparation thread's next.wal.prep never
 * matches the scan's segment names).  A compactor that fails or is killed
 * leaves snapshot.tmp uninstalled (the caller removes it); the failure is
 * logged and the next checkpoint is tried no sooner than
 * CHECKPOINT_RETRY_MS later.  At most one checkpoint runs at a time.
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
 * Installing (rename, directory fsyncs, the trim's unlinks) is done in
 * the caller too: install_us, about 31 ms after 2 M log records.
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

/*
 * snapshot.h - snapshots: the whole durable state in one file, DATA/snapshot,
 * so that recovery replays only the log after it and old log segments can go.
 *
 * What it owns: the format of DATA/snapshot and DATA/snapshot.tmp, writing
 * and reading them (the policy of when to write them, struct checkpoint,
 * is checkpoint.h's).  It reads the state only through the
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
/* Make snapshot.tmp the snapshot: rename, then fsync the directory. */
int snapshot_install_tmp(int dirfd, char *err, size_t errlen);

int snapshot_load(int dirfd, struct state *st, uint64_t *lsn, char *err,
		  size_t errlen);

/* snapshot_load, also reporting the header and the record count. */
int snapshot_read(int dirfd, struct state *st, struct snapshot_info *info,
		  char *err, size_t errlen);

/* Read and check only the header (info->present false when absent). */
int snapshot_peek(int dirfd, struct snapshot_info *info, char *err,
		  size_t errlen);

#endif

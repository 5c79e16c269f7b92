/*
 * wal.h - the write-ahead log: record format, segments, group commit
 * bookkeeping and recovery.
 *
 * The WAL owns DATA/wal/.  It does no asynchronous I/O itself: the server
 * takes a finished group with wal_group_begin(), writes and fdatasyncs it
 * (through io_uring or plainly) and reports back with wal_group_done().
 * That keeps this module testable without a ring and lets bookd-replay read
 * logs with the same code.
 *
 * Up to WAL_MAX_FLIGHT groups may be in flight at once: the next group is
 * written and its fdatasync issued while the previous one's is still
 * running.  They are reported done in the order they began, and a group
 * counts as durable only when it and every earlier group are (the caller
 * waits for every completion rather than reasoning about which fdatasync
 * covered which write: a write error is reported to one fdatasync only).
 * No group starts a new segment while another is in flight.
 *
 * On-disk format (all integers little-endian)
 * -------------------------------------------
 * Segment file wal/<first LSN as 16 hex digits>.wal:
 *
 *   0   8  magic "BOOKDWAL"
 *   8   4  version (1)
 *   12  4  header size (64)
 *   16  8  first LSN the segment may hold
 *   24  8  creation time, ms since the epoch
 *   32  28 zero
 *   60  4  CRC-32C of bytes 0..59
 *
 * then records, each starting at an 8-byte aligned offset:
 *
 *   0   4  payload length N (at most WAL_MAX_PAYLOAD)
 *   4   4  CRC-32C of bytes 8 .. 40+N of this record
 *   8   8  LSN (global, consecutive from 1, never reused)
 *   16  8  synced: every LSN <= synced was durable when this record was
 *          written (the last LSN of the last group reported done; with
 *          no group in flight, the previous group's last LSN)
 *   24  8  commit time, ms since the epoch
 *   32  2  type (enum wal_type)
 *   34  2  flags (0)
 *   36  4  zero
 *   40  N  payload: one MessagePack map, a self-contained redo of the
 *          mutation (the new full state of the object it names)
 *   ..     zero padding to a multiple of 8
 *
 * A segment reads as zeros past its last record: it is written with zeros
 * beforehand (at open, or by a thread of this module: see "Segment
 * preparation" in wal.c), or preallocated (fallocate) when none was ready; a
 * zero length word ends the segment's records (in the newest segment, zeros
 * followed by a record that proves them durable, as below, are a lost write:
 * corruption).
 *
 * Recovery rule
 * -------------
 * Records are read in LSN order.  The first record that is cut short, fails
 * its checksum or has an unexpected LSN ends the valid log at LSN E.  It is
 * a torn tail (a crash during the last group's write, never acknowledged)
 * unless some valid record further on has LSN >= E and synced >= E: that
 * record was written after E was durable, so E's damage happened later -
 * corruption.  A torn tail is cut (zeroed and synced) with a log line;
 * corruption makes wal_open fail naming E, and bookd refuses to start.
 *
 * With groups in flight together, a crash can leave group N torn (or not
 * written at all) and group N+1 intact after it.  N+1's synced field is
 * below N's first LSN (N was not durable when N+1 was written), so it
 * proves nothing: a torn tail at N.  N+1 was never acknowledged (its
 * replies wait for N) and is cut with the tail, never replayed; that
 * includes the case where N's first bytes read as zeros, which would
 * otherwise end the log cleanly with N+1's records left behind the place
 * where new records will be written.  A group two behind (N+2 begins only
 * after N is done) has synced >= N's last LSN and does prove N durable.
 */
#ifndef BOOKD_WAL_H
#define BOOKD_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WAL_SEG_MAGIC	    "BOOKDWAL"
#define WAL_VERSION	    1u
#define WAL_SEG_HEADER	    64u
#define WAL_REC_HEADER	    40u
#define WAL_MAX_PAYLOAD	    (4u << 20)
#define WAL_DEFAULT_SEGMENT (64ull << 20)
#define WAL_MAX_FLIGHT	    2u /* groups written but not yet done */

enum wal_type {
	WAL_RESOURCE = 1,   /* full resource */
	WAL_BOOKING = 2,    /* full booking, plus the event it records */
	WAL_EVENT_TYPE = 3, /* full event type */
	WAL_HOOK = 4,	    /* a webhook, or its deletion (engine/hooks.h) */
	WAL_SCHEDULE = 5,   /* a shared schedule, or its deletion */
	WAL_HOLIDAYS = 6,   /* a holiday calendar, or its deletion */
};

struct wal_rec {
	uint64_t lsn;
	uint64_t synced;
	int64_t at_ms;
	uint16_t type;
	uint32_t len;
	const char *payload;
	/* where it was found */
	uint64_t seg_first_lsn;
	uint64_t offset;
};

/* Replay callback: return 0 to go on, non-zero to stop with that error. */
typedef int (*wal_fn)(void *ctx, const struct wal_rec *rec);

enum wal_verdict {
	WAL_CLEAN = 0, /* every record valid up to the end */
	WAL_TORN = 1,  /* a torn tail after the last valid record */
	WAL_CORRUPT = 2,
};

struct wal_scan {
	enum wal_verdict verdict;
	uint64_t first_lsn;  /* first LSN found (0 when none) */
	uint64_t last_lsn;   /* last valid LSN (0 when none) */
	uint64_t bad_lsn;    /* the LSN expected where damage starts */
	uint64_t bad_seg;    /* first LSN of the segment holding it */
	uint64_t bad_offset; /* byte offset of the damage in that segment */
	uint64_t records;
	uint64_t bytes; /* bytes of valid records */
	uint32_t segments;
	char detail[160]; /* what was wrong, for log lines */
};

/*
 * Read every segment of dirfd's wal/ in order and call fn for each valid
 * record with LSN > after_lsn, where after_lsn is also the snapshot's LSN
 * (covered_lsn below).  Never modifies anything.  While it runs, a second
 * thread maps the segments and checks checksums ahead of fn's thread
 * (walread.c); fn is always called on the caller's thread, in LSN order.
 * Returns 0 (see *res for the verdict), or a negative errno for I/O errors, or
 * fn's non-zero result (res->bad_lsn is then the LSN of the record fn refused).
 */
int wal_scan_dir(int dirfd, uint64_t after_lsn, wal_fn fn, void *ctx,
		 struct wal_scan *res);

struct wal_scan_opts {
	uint64_t covered_lsn; /* a snapshot holds every LSN up to this */
	uint64_t from_lsn;    /* call fn for records with LSN >= from_lsn */
	bool archive;	      /* read wal/archive/ before wal/ */
};

/* wal_scan_dir with the coverage, the first LSN passed to fn and the
 * archive chosen separately (bookd-replay's dump and recovery). */
int wal_scan(int dirfd, const struct wal_scan_opts *o, wal_fn fn, void *ctx,
	     struct wal_scan *res);

struct wal;

struct wal_opts {
	uint64_t segment_size; /* 0: WAL_DEFAULT_SEGMENT */
	uint64_t after_lsn;    /* records up to this LSN are in the snapshot */
};

/*
 * Open DATA/wal (creating it), replay it through fn, cut a torn tail, and
 * get ready to append.  On corruption or I/O error returns a negative errno
 * (EUCLEAN for corruption) with a one-line reason in err.
 */
int wal_open(struct wal **out, int dirfd, const struct wal_opts *opts,
	     wal_fn fn, void *ctx, struct wal_scan *scan, char *err,
	     size_t errlen);
void wal_close(struct wal *w);

/* Queue a record for the next group; returns its LSN, or 0 (and appends
 * nothing) when the payload is longer than WAL_MAX_PAYLOAD. */
uint64_t wal_append(struct wal *w, uint16_t type, const void *payload,
		    uint32_t len, int64_t at_ms);

#ifdef BOOKD_TEST_HOOKS
/* Lower the payload limit (tests of the refusal). */
void wal_set_max_payload(struct wal *w, uint32_t max);
#endif

uint64_t wal_last_lsn(const struct wal *w);    /* last appended */
uint64_t wal_durable_lsn(const struct wal *w); /* last known durable */
int wal_has_pending(const struct wal *w);      /* records gathered */
int wal_in_flight(const struct wal *w);	       /* groups begun, not done */

struct wal_group {
	int fd;
	const void *buf;
	size_t len;
	off_t offset;
	uint64_t first_lsn;
	uint64_t last_lsn;
	uint32_t records;
};

/*
 * Seal the gathered records into a group (checksums, synced field), rolling
 * to a new segment first when this one is full.  Returns 1 with *g filled
 * (g->buf stays valid until the group is done), 0 when it cannot begin now
 * (nothing gathered, WAL_MAX_FLIGHT groups in flight, or the segment is
 * full and groups are in flight: try again after wal_group_done), or a
 * negative errno when a new segment could not be made (fatal for
 * durability).
 */
int wal_group_begin(struct wal *w, struct wal_group *g);
/* The oldest group in flight, and every one before it, completed its write
 * and fdatasync: its records are durable. */
void wal_group_done(struct wal *w);

struct wal_stats {
	uint64_t groups;
	uint64_t records;
	uint64_t bytes;
	uint32_t segments;
	uint64_t seg_prepared;	/* switches to a segment zeroed beforehand */
	uint64_t seg_fallbacks; /* switches that had to fallocate one */
	bool seg_ready;		/* the next segment is prepared */
};
void wal_get_stats(const struct wal *w, struct wal_stats *st);

/*
 * A snapshot at upto_lsn is durable: remove (archive: move into
 * wal/archive/) every segment whose records are all <= upto_lsn, never the
 * one being appended to, and fsync the directories.  Returns the number of
 * segments let go, or a negative errno (some may have gone already; the
 * log stays valid either way).
 */
int wal_trim(struct wal *w, uint64_t upto_lsn, bool archive);
/*
 * The same on a log directory without a struct wal (the checkpoint
 * compactor's): the segment whose first LSN is current, and the newest
 * segment listed, always stay.  Returns the number let go or a negative
 * errno.
 */
int wal_trim_dir(int waldfd, uint64_t upto_lsn, bool archive, uint64_t current);
/* Count the segments again (after another process trimmed the log). */
void wal_recount(struct wal *w);

#endif

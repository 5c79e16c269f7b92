/*
 * rlog.h - bookd-replay's reader of a data directory: the snapshot and the
 * log (wal/ and, when present, wal/archive/), rebuilt into a state with the
 * engine's own code (snapshot_read, wal_scan, state_apply).
 *
 * What it owns: opening DIR read-only, choosing where a rebuild starts (the
 * snapshot, or LSN 1 through the archive), the window of days the rebuilt
 * state keeps, and stopping at an LSN or a time.
 *
 * Invariants:
 *  - Nothing under DIR is ever modified, created or locked: files are
 *    opened O_RDONLY and segments mapped read-only, so a live engine's
 *    directory can be read (its newest group may then look torn).
 *  - The state's window slides with the records' commit times, like the
 *    engine's: each record is applied with its own day inside the window,
 *    wide enough (from a first pass over the records) for the farthest
 *    booking any record admits, so admission checks see every day they
 *    need while memory stays that of an engine.
 *  - After every record the state's deltas are committed: a rebuilt state
 *    holds only what the log made durable.
 *
 * How it fails: functions return 0 or -1 with a one-line reason in err
 * (I/O errors, a snapshot that fails its checks, a record that does not
 * apply).  Damage to the log is not an error here: rlog_build reports it
 * in res->scan (verdict, bad LSN, detail) and stops before it.
 */
#ifndef BOOKD_REPLAY_RLOG_H
#define BOOKD_REPLAY_RLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"
#include "state.h"
#include "wal.h"

struct rlog {
	const char *path;
	int dirfd;
	struct snapshot_info snap; /* header only, checked */
	bool archive;		   /* wal/archive/ exists */
};

int rlog_open(struct rlog *rl, const char *path, char *err, size_t errlen);
void rlog_close(struct rlog *rl);

/* A hook around each record: return 0 to go on, non-zero to stop. */
typedef int (*rlog_hook)(void *ctx, struct state *st, const struct wal_rec *r);

struct rbuild_opts {
	bool from_start;	   /* ignore the snapshot, read from LSN 1 */
	uint64_t until_lsn;	   /* apply records up to this LSN (0: all) */
	rlog_hook before;	   /* called before a record is applied */
	rlog_hook after;	   /* called after it is applied */
	rlog_hook snapshot_loaded; /* once, after the snapshot (r NULL) */
	void *ctx;
};

struct rbuild_res {
	struct snapshot_info snap; /* the snapshot used (present false: none) */
	bool moved; /* a live engine checkpointed meanwhile: build again */
	struct wal_scan scan;	   /* what the log scan found */
	bool stopped;		   /* stopped at until_lsn before the end */
	uint64_t applied;	   /* log records applied */
	uint64_t lsn;		   /* LSN of the rebuilt state */
	int64_t first_ms, last_ms; /* commit times of the records applied */
	int64_t window_first, window_last; /* the state's window at the end */
};

/*
 * Rebuild st (this function calls state_init; the caller frees it, also
 * on failure) from the snapshot (unless from_start) and the log records
 * after it, up to until_lsn.  Returns 0 (damage: see res->scan), -1 with
 * err set on I/O errors, a bad snapshot, a record that does not apply
 * (res->scan.bad_lsn names it) or a hook's refusal.  When a live engine
 * replaced the snapshot (and let segments go) while it was read,
 * res->moved is set and rl->snap updated: the caller may build again.
 */
int rlog_build(struct rlog *rl, const struct rbuild_opts *o, struct state *st,
	       struct rbuild_res *res, char *err, size_t errlen);

/*
 * Call fn for every record in the log files (wal/archive/ and wal/) with
 * LSN in [from, to] (to 0: no bound); *scan gets the verdict.  Returns
 * 0, fn's non-zero result, or -1 with err set.
 */
int rlog_records(struct rlog *rl, uint64_t from, uint64_t to, wal_fn fn,
		 void *ctx, struct wal_scan *scan, char *err, size_t errlen);

/* Names and formats shared by the commands. */
const char *rlog_type_name(uint16_t type);
/* "2026-11-24T04:19:33.123Z" into buf[32]. */
void rlog_fmt_ms(int64_t ms, char buf[32]);
/* "2026-11-24T04:19Z" (seconds when not whole minutes) into buf[32]. */
void rlog_fmt_s(int64_t s, char buf[32]);
/*
 * Parse an ISO 8601 instant: YYYY-MM-DD, optionally followed by T (or a
 * space) and HH:MM[:SS[.fff]], optionally followed by Z or +HH:MM / -HH:MM
 * (no zone means UTC).  Returns 0 with *ms set, or -1.
 */
int rlog_parse_time(const char *s, int64_t *ms);

#endif

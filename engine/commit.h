/*
 * commit.h - group commit: gather WAL records, write them as one group,
 * make it durable, then say so once.
 *
 * Records appended during a loop turn (commit_append) gather in the WAL.
 * At the end of the turn (commit_turn_end) they are sealed into one group
 * (hooks.sealed is called then, so the caller can set aside what the group
 * changed), written into the page cache with one pwrite and made durable
 * with one fdatasync: through io_uring (SYNC_URING, the default), inline
 * (SYNC_PLAIN) or not at all (SYNC_OFF, benchmarks only).  When the group
 * is durable, hooks.durable(lsn) is called exactly once, from a completion
 * of the loop (or inline in the plain modes), with the group's last LSN.
 * With io_uring, a lone request's group (the only frame of its turn, one
 * record, nothing in flight, nothing else arrived) is synced inline too:
 * see lone_request in commit.c.
 *
 * With io_uring, up to COMMIT_MAX_FLIGHT groups are in flight together:
 * the next group is written and its fdatasync issued while the previous
 * one's runs.  Groups are sealed in LSN order (hooks.sealed each time) and
 * become durable in that order: hooks.durable(lsn) is called for a group
 * only after its own and every earlier group's fdatasync completed, so lsn
 * only grows and every reply it releases follows all earlier ones.
 *
 * A group may wait a little for more records (see gather_more in
 * commit.c), never longer than 1 ms or half of the last sync; beside a
 * group in flight, one waits until it holds as many records as that group.
 *
 * How it fails: a failed write, fdatasync or segment roll ends the process
 * with BOOKD_EXIT_FATAL after a log line, before hooks.durable: nothing of
 * the group is ever acknowledged.
 */
#ifndef BOOKD_COMMIT_H
#define BOOKD_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "stats.h"
#include "wal.h"

enum sync_mode { SYNC_URING, SYNC_PLAIN, SYNC_OFF };

#define COMMIT_MAX_FLIGHT WAL_MAX_FLIGHT

struct commit;

/* One group written and waiting for its fdatasync. */
struct commit_flight {
	struct commit *k;
	struct loop_ev ev;
	struct wal_group g;
	int64_t started_us;
	bool synced; /* its fdatasync completed; earlier ones may not have */
#ifdef BOOKD_TEST_HOOKS
	struct __kernel_timespec delay_ts;
#endif
};

struct commit_hooks {
	void *ctx;
	/* The records gathered so far became the newest group in flight. */
	void (*sealed)(void *ctx);
	/* Every record up to lsn is durable: the oldest group in flight. */
	void (*durable)(void *ctx, uint64_t lsn);
};

struct commit {
	struct loop *loop;
	struct wal *wal;
	enum sync_mode sync;
	struct commit_hooks hooks;
	struct stats *stats;
	/* Groups in flight, oldest at head. */
	struct commit_flight flight[COMMIT_MAX_FLIGHT];
	unsigned head, nflight;
	struct loop_ev gather_ev;
	struct __kernel_timespec gather_ts;
	bool gather_armed;
	/* Records gathered for the next group, when it may stop waiting for
	 * more, and how long the last group took from its write to being
	 * durable (microseconds). */
	uint32_t gathered;
	uint32_t expect; /* records expected in the next group */
	int64_t gather_until_us;
	int64_t last_sync_us;
	uint64_t syncs_done;
	uint64_t ops_mark; /* stats->ops at the last turn's end */
	/* Groups in a row of one record with nothing arriving during their
	 * fdatasync (see lone_request in commit.c). */
	uint32_t quiet;
#ifdef BOOKD_TEST_HOOKS
	uint64_t fail_sync_at; /* fail the Nth fdatasync (0: never) */
	/* Sleep before each plain fdatasync; with io_uring, hold back that
	 * long the fdatasync of each group that begins alone. */
	uint32_t sync_delay_ms;
#endif
};

void commit_init(struct commit *k, struct loop *loop, struct wal *wal,
		 enum sync_mode sync, const struct commit_hooks *hooks,
		 struct stats *stats);
/* Queue a record for the next group; its LSN, or 0 when it is longer than
 * the log takes (nothing was appended). */
uint64_t commit_append(struct commit *k, uint16_t type, const void *payload,
		       uint32_t len, int64_t at_ms);
/* End of a loop turn: seal and start a group when one is due. */
void commit_turn_end(struct commit *k, bool stopping);
/* Nothing gathered and nothing in flight. */
bool commit_settled(const struct commit *k);

#endif

/*
 * commit.c - group commit; see commit.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commit.h"
#include "log.h"

#define GATHER_MAX_US 1000 /* the longest a group waits for more records */

static void fatal_io(const char *what, int err)
{
	log_msg("FATAL: %s failed: %s; the log can no longer be trusted to "
		"hold new changes, stopping without acknowledging them",
		what, strerror(err));
	exit(BOOKD_EXIT_FATAL);
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Fault injection of the test build: does this fdatasync fail? */
static bool sync_fails(struct commit *k)
{
	k->syncs_done++;
#ifdef BOOKD_TEST_HOOKS
	return k->fail_sync_at && k->syncs_done == k->fail_sync_at;
#else
	return false;
#endif
}

/* A group and every one before it is durable: say so once. */
static void group_durable(struct commit *k, uint64_t lsn)
{
	wal_group_done(k->wal);
	k->stats->commits++;
	k->hooks.durable(k->hooks.ctx, lsn);
}

/* Write the sealed group into the log file (the page cache). */
static void write_group(const struct wal_group *g)
{
	const char *p = g->buf;
	size_t left = g->len;
	off_t off = g->offset;

	while (left > 0) {
		ssize_t w = pwrite(g->fd, p, left, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fatal_io("WAL write", w < 0 ? errno : EIO);
		p += w;
		left -= (size_t)w;
		off += w;
	}
}

static void plain_sync(struct commit *k, const struct wal_group *g, bool sync)
{
	write_group(g);
	if (sync) {
#ifdef BOOKD_TEST_HOOKS
		if (k->sync_delay_ms) {
			struct timespec ts = {k->sync_delay_ms / 1000,
					      (k->sync_delay_ms % 1000) *
						  1000000L};
			nanosleep(&ts, NULL);
		}
#endif
		if (sync_fails(k))
			fatal_io("fdatasync (injected)", EIO);
		if (fdatasync(g->fd) < 0)
			fatal_io("fdatasync", errno);
		k->stats->fsyncs++;
	}
	group_durable(k, g->last_lsn);
}

/*
 * Should the gathered records wait a little for more?  Clients answered by
 * the last group send their next requests a round trip later; submitting
 * before they arrive splits the clients into two cohorts that take turns,
 * each paying a whole extra fdatasync.  So when a group completes, expect
 * what was already gathered plus as many records as that group held, and
 * wait for them, at most half an fdatasync (and 1 ms).  A lone client
 * never waits: its record is the one expected.
 *
 * With a group in flight, the next one overlaps it once it holds as many
 * records as that group (a whole cohort, whose fdatasync then runs beside
 * the other's instead of after it); with fewer, it waits for the group in
 * flight to complete and then gathers as above, so that a trickle of
 * records does not become a train of tiny groups, each paying a flush.
 */
static bool gather_more(struct commit *k, bool stopping)
{
	int64_t now, left;
	struct io_uring_sqe *sqe;

	if (k->sync != SYNC_URING || stopping)
		return false;
	if (k->nflight > 0)
		return k->gathered < k->flight[k->head].g.records;
	now = mono_us();
	if (k->gathered >= k->expect || now >= k->gather_until_us)
		return false;
	if (!k->gather_armed) {
		left = k->gather_until_us - now;
		k->gather_ts.tv_sec = 0;
		k->gather_ts.tv_nsec = left * 1000;
		sqe = loop_sqe(k->loop);
		io_uring_prep_timeout(sqe, &k->gather_ts, 0, 0);
		io_uring_sqe_set_data(sqe, &k->gather_ev);
		k->gather_armed = true;
	}
	return true;
}

/*
 * Sync this group inline, in the loop, rather than through io_uring?  Only
 * for a lone request: the turn handled one frame, it made the one record
 * gathered, no group is in flight, nothing else has arrived, and the last
 * LONE_STREAK groups were of one record each with nothing arriving during
 * their fdatasyncs (k->quiet: with a few clients, one would otherwise be
 * made to take turns with the others instead of overlapping their
 * groups; measured at 8 clients, 10% of the groups went inline without
 * the streak).  Then nothing could run beside the fdatasync,
 * and handing it to an io_uring worker thread and back costs a wake-up
 * each way: on the 2-vCPU VM one client's booking took 209 us that way
 * and 131 us inline (bench/RESULTS.md).  Whatever arrives meanwhile waits
 * at most that one fdatasync, and turns the next groups back to the ring.
 */
#define LONE_STREAK 8

/* One more group in the streak, or the end of it. */
static void note_quiet(struct commit *k, bool quiet)
{
	k->quiet = !quiet		    ? 0
		   : k->quiet < LONE_STREAK ? k->quiet + 1
					    : k->quiet;
}

static bool lone_request(const struct commit *k)
{
#ifdef BOOKD_TEST_HOOKS
	if (k->sync_delay_ms)
		return false; /* the tests' held-back fdatasyncs need the ring
			       */
#endif
	return k->quiet >= LONE_STREAK && k->nflight == 0 && k->gathered == 1 &&
	       k->stats->ops - k->ops_mark == 1 && loop_idle(k->loop);
}

static void sync_lone(struct commit *k, const struct wal_group *g)
{
	int64_t start = mono_us(), w;

	plain_sync(k, g, true);
	k->stats->inline_syncs++;
	note_quiet(k, loop_idle(k->loop));
	k->last_sync_us = mono_us() - start;
	w = k->last_sync_us / 2 < GATHER_MAX_US ? k->last_sync_us / 2
						: GATHER_MAX_US;
	k->gather_until_us = start + k->last_sync_us + w;
	k->expect = k->gathered + g->records;
}

static void turn_end(struct commit *k, bool stopping)
{
	struct commit_flight *f;
	struct io_uring_sqe *sqe;
	bool lone;
	int rc;

	if (k->nflight == COMMIT_MAX_FLIGHT || !wal_has_pending(k->wal) ||
	    gather_more(k, stopping))
		return;
	lone = k->sync == SYNC_URING && lone_request(k);
	f = &k->flight[(k->head + k->nflight) % COMMIT_MAX_FLIGHT];
	rc = wal_group_begin(k->wal, &f->g);
	if (rc < 0)
		fatal_io("starting a WAL segment", -rc);
	if (rc == 0)
		return; /* a new segment waits for the groups in flight */
	k->gathered = 0;
	f->started_us = mono_us();
	f->synced = false;
	k->hooks.sealed(k->hooks.ctx);
	k->stats->records += f->g.records;
	if (k->sync != SYNC_URING) {
		plain_sync(k, &f->g, k->sync == SYNC_PLAIN);
		return;
	}
	if (lone) {
		sync_lone(k, &f->g);
		return;
	}
	k->nflight++;
	/* The write only copies into the page cache: doing it here costs a
	 * few microseconds, while handing it to io_uring puts it on a worker
	 * thread in front of the fdatasync (measured: the sync period grew
	 * from ~0.45 to ~1 ms).  Only the fdatasync, which waits for the
	 * disk, goes to the ring. */
	write_group(&f->g);
#ifdef BOOKD_TEST_HOOKS
	/* Hold back the fdatasync of a group that begins alone, so that one
	 * begun beside it completes first. */
	if (k->sync_delay_ms && k->nflight == 1) {
		f->delay_ts.tv_sec = k->sync_delay_ms / 1000;
		f->delay_ts.tv_nsec = (k->sync_delay_ms % 1000) * 1000000L;
		sqe = loop_sqe(k->loop);
		io_uring_prep_timeout(sqe, &f->delay_ts, 0,
				      IORING_TIMEOUT_ETIME_SUCCESS);
		io_uring_sqe_set_data(sqe, NULL);
		sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
	}
#endif
	sqe = loop_sqe(k->loop);
	io_uring_prep_fsync(sqe, f->g.fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, &f->ev);
}

void commit_turn_end(struct commit *k, bool stopping)
{
	turn_end(k, stopping);
	k->ops_mark = k->stats->ops;
}

/*
 * A group's fdatasync completed.  Groups become durable in the order they
 * began, each only once it and every earlier one have completed: an
 * fdatasync that finishes first says nothing of an earlier group whose own
 * fdatasync may yet fail.
 */
static void on_sync(void *owner, int res, unsigned flags)
{
	struct commit_flight *f = owner;
	struct commit *k = f->k;

	(void)flags;
	if (sync_fails(k))
		res = -EIO;
	if (res < 0)
		fatal_io("fdatasync", -res);
	k->stats->fsyncs++;
	f->synced = true;
	note_quiet(k, f->g.records == 1 && k->gathered == 0);
	while (k->nflight > 0 && k->flight[k->head].synced) {
		int64_t now = mono_us(), w;

		f = &k->flight[k->head];
		f->synced = false;
		k->head = (k->head + 1) % COMMIT_MAX_FLIGHT;
		k->nflight--;
		k->last_sync_us = now - f->started_us;
		w = k->last_sync_us / 2 < GATHER_MAX_US ? k->last_sync_us / 2
							: GATHER_MAX_US;
		k->gather_until_us = now + w;
		k->expect = k->gathered + f->g.records;
		group_durable(k, f->g.last_lsn);
	}
}

static void on_gather(void *owner, int res, unsigned flags)
{
	struct commit *k = owner;

	(void)res;
	(void)flags;
	k->gather_armed = false; /* commit_turn_end decides */
}

void commit_init(struct commit *k, struct loop *loop, struct wal *wal,
		 enum sync_mode sync, const struct commit_hooks *hooks,
		 struct stats *stats)
{
	memset(k, 0, sizeof(*k));
	k->loop = loop;
	k->wal = wal;
	k->sync = sync;
	k->hooks = *hooks;
	k->stats = stats;
	for (unsigned i = 0; i < COMMIT_MAX_FLIGHT; i++) {
		k->flight[i].k = k;
		k->flight[i].ev = (struct loop_ev){on_sync, &k->flight[i]};
	}
	k->gather_ev = (struct loop_ev){on_gather, k};
}

uint64_t commit_append(struct commit *k, uint16_t type, const void *payload,
		       uint32_t len, int64_t at_ms)
{
	uint64_t lsn = wal_append(k->wal, type, payload, len, at_ms);

	if (lsn)
		k->gathered++;
	return lsn;
}

bool commit_settled(const struct commit *k)
{
	return k->nflight == 0 && !wal_has_pending(k->wal);
}

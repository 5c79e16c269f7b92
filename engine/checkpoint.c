/*
 * checkpoint.c - the checkpoint policy; see checkpoint.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "compact.h"
#include "log.h"

/* ---- checkpoints ------------------------------------------------------ */

void checkpoint_init(struct checkpoint *ck, int dirfd, uint64_t every_bytes,
		     bool archive, uint64_t snap_lsn, uint64_t replayed_bytes)
{
	struct stat sb;

	memset(ck, 0, sizeof(*ck));
	ck->dirfd = dirfd;
	ck->every_bytes = every_bytes ? every_bytes : CHECKPOINT_DEFAULT_BYTES;
	ck->archive = archive;
	ck->retry_ms = CHECKPOINT_RETRY_MS;
	ck->lsn = snap_lsn;
	ck->log_bytes = replayed_bytes;
	ck->child_fd = -1;
	if (snap_lsn && fstatat(dirfd, SNAP_FILE, &sb, 0) == 0)
		ck->snap_bytes = (uint64_t)sb.st_size;
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A checkpoint failed: count it and hold the next one back a while (a
 * full disk is not retried at every group). */
static int failed(struct checkpoint *ck, int rc)
{
	ck->failed++;
	ck->retry_at = mono_ms() + ck->retry_ms;
	return rc;
}

/* snapshot.tmp at ck->pending_lsn is covered by the durable log: install
 * it and let the segments it covers go. */
static int publish(struct checkpoint *ck, struct wal *w, char *err,
		   size_t errlen)
{
	uint64_t lsn = ck->pending_lsn;
	int64_t t0 = mono_us(), t1, t2;
	int rc;

	ck->pending_lsn = 0;
	rc = snapshot_install_tmp(ck->dirfd, err, errlen);
	if (rc < 0)
		return failed(ck, rc);
	t1 = mono_us();
	ck->lsn = lsn;
	ck->at_ms = now_ms();
	ck->written++;
	log_msg("checkpoint: snapshot at LSN %" PRIu64 " installed (%" PRIu64
		" KiB, written in %lld ms)",
		lsn, ck->snap_bytes >> 10, (long long)ck->write_ms);
	rc = wal_trim(w, lsn, ck->archive);
	t2 = mono_us();
	if (rc < 0) {
		snprintf(err, errlen,
			 "snapshot at LSN %" PRIu64
			 " written, but letting old log segments go failed: %s",
			 lsn, strerror(-rc));
		return rc;
	}
	/* The caller's part of a checkpoint's end: rename, directory
	 * fsync, old segments gone (and the log directory fsynced). */
	ck->install_us = t2 - t0;
	log_msg("checkpoint: installing took %lld us (rename and directory "
		"fsync %lld us, %d log segments let go in %lld us)",
		(long long)ck->install_us, (long long)(t1 - t0), rc,
		(long long)(t2 - t1));
	return 1;
}

/* Write snapshot.tmp at the last appended LSN in the caller; install it at
 * once when that LSN is already durable. */
static int write_here(struct checkpoint *ck, const struct state *st,
		      struct wal *w, char *err, size_t errlen)
{
	uint64_t lsn = wal_last_lsn(w);
	int64_t t0 = mono_ms();
	int rc;

	log_msg("checkpoint: writing the snapshot at LSN %" PRIu64
		" in the loop",
		lsn);
	rc = snapshot_write_tmp(ck->dirfd, st, lsn, &ck->snap_bytes, err,
				errlen);
	if (rc < 0)
		return failed(ck, rc);
	ck->write_ms = mono_ms() - t0;
	ck->log_bytes = 0;
	ck->pending_lsn = lsn;
	return wal_durable_lsn(w) >= lsn ? publish(ck, w, err, errlen) : 0;
}

/*
 * Spawn the compactor that writes snapshot.tmp at the durable LSN: the
 * engine's own binary in its hidden mode (compact.h).  posix_spawn uses
 * vfork semantics (CLONE_VM|CLONE_VFORK): no page table is copied, the
 * loop only waits until the new program is loaded.  The compactor gets
 * the data directory as descriptor 3 and stderr (the engine's log);
 * every other descriptor is closed, the signal mask and the stop
 * signals' handlers are reset.
 */
static int start_child(struct checkpoint *ck, const struct state *st,
		       struct wal *w, char *err, size_t errlen)
{
	extern char **environ;
	uint64_t lsn = wal_durable_lsn(w);
	char a_upto[24], a_res[16], a_first[24], a_last[24], a_win[16];
	char a_parent[16];
	char *argv[20];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	sigset_t none, dflt;
	pid_t pid;
	int64_t t0 = mono_us(), t1;
	int n = 0, fd, rc;
#ifdef BOOKD_TEST_HOOKS
	char a_delay[16];
#endif

	snprintf(a_upto, sizeof(a_upto), "%" PRIu64, lsn);
	snprintf(a_res, sizeof(a_res), "%" PRIu32, st->max_resources);
	snprintf(a_first, sizeof(a_first), "%" PRId64, st->first_day);
	snprintf(a_last, sizeof(a_last), "%" PRId64, st->last_day);
	snprintf(a_win, sizeof(a_win), "%" PRIu32, st->window_days);
	snprintf(a_parent, sizeof(a_parent), "%d", (int)getpid());
	argv[n++] = "bookd";
	argv[n++] = COMPACT_MODE;
	argv[n++] = "--data-fd";
	argv[n++] = "3";
	argv[n++] = "--upto";
	argv[n++] = a_upto;
	argv[n++] = "--max-resources";
	argv[n++] = a_res;
	argv[n++] = "--first-day";
	argv[n++] = a_first;
	argv[n++] = "--last-day";
	argv[n++] = a_last;
	argv[n++] = "--window-days";
	argv[n++] = a_win;
	argv[n++] = "--parent";
	argv[n++] = a_parent;
	argv[n++] = "--install";
	if (ck->archive)
		argv[n++] = "--archive-wal";
#ifdef BOOKD_TEST_HOOKS
	if (ck->test_fail) {
		ck->test_fail--;
		argv[n++] = "--test-fail";
	}
	if (ck->test_delay_ms) {
		snprintf(a_delay, sizeof(a_delay), "%" PRIu32,
			 ck->test_delay_ms);
		argv[n++] = "--test-delay-ms";
		argv[n++] = a_delay;
	}
#endif
	argv[n] = NULL;

	/* A new inode: whatever may still hold the old snapshot.tmp open
	 * writes into a file that can no longer be installed. */
	unlinkat(ck->dirfd, SNAP_TMP, 0);
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGHUP);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGQUIT);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGUSR1);
	sigaddset(&dflt, SIGUSR2);
	rc = posix_spawn_file_actions_init(&fa);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, ck->dirfd, 3);
	if (rc == 0)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	if (rc == 0)
		rc = posix_spawnattr_init(&sa);
	if (rc == 0)
		rc = posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK |
						       POSIX_SPAWN_SETSIGDEF);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&sa, &none);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&sa, &dflt);
	t1 = mono_us();
	if (rc == 0)
		rc = posix_spawn(&pid, ck->exe ? ck->exe : "/proc/self/exe",
				 &fa, &sa, argv, environ);
	ck->spawn_us = mono_us() - t1;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	if (rc != 0) {
		snprintf(err, errlen,
			 "cannot start the checkpoint compactor: %s",
			 strerror(rc));
		return failed(ck, -rc);
	}
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		rc = -errno;
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		unlinkat(ck->dirfd, SNAP_TMP, 0);
		snprintf(err, errlen,
			 "cannot watch the checkpoint compactor (pidfd_open): "
			 "%s",
			 strerror(-rc));
		return failed(ck, rc);
	}
	ck->child = pid;
	ck->child_fd = fd;
	ck->child_lsn = lsn;
	ck->child_t0 = mono_ms();
	ck->child_log_bytes = ck->log_bytes;
	ck->start_us = mono_us() - t0;
	log_msg("checkpoint: compactor %d writes the snapshot at LSN %" PRIu64
		" (spawn took %lld us, the loop %lld us)",
		(int)pid, lsn, (long long)ck->spawn_us,
		(long long)ck->start_us);
	return 0;
}

/* Reap the child (waiting for it when block) and take its result. */
static int reap(struct checkpoint *ck, struct wal *w, bool block, char *err,
		size_t errlen)
{
	struct stat sb;
	int status = 0;
	int64_t t0;
	pid_t r;

	if (ck->child == 0)
		return 0;
	do
		r = waitpid(ck->child, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	t0 = mono_us();
	close(ck->child_fd);
	ck->child_fd = -1;
	ck->child = 0;
	ck->write_ms = mono_ms() - ck->child_t0;
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char why[64];
		if (r < 0)
			snprintf(why, sizeof(why), "could not be reaped (%s)",
				 strerror(errno));
		else if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), "was killed by signal %d",
				 WTERMSIG(status));
		else
			snprintf(why, sizeof(why), "exited with status %d",
				 WEXITSTATUS(status));
		unlinkat(ck->dirfd, SNAP_TMP, 0);
		snprintf(err, errlen,
			 "the compactor writing the snapshot at LSN %" PRIu64
			 " %s; nothing was installed, the log keeps "
			 "everything, next try in %lld ms",
			 ck->child_lsn, why, (long long)ck->retry_ms);
		return failed(ck, -EIO);
	}
	/* The compactor installed the snapshot and trimmed the log itself
	 * (its LSN was durable when it was asked): only the bookkeeping is
	 * left here. */
	if (fstatat(ck->dirfd, SNAP_FILE, &sb, 0) < 0) {
		int rc = -errno;
		snprintf(
		    err, errlen,
		    "the checkpoint compactor ended well but %s is gone: %s",
		    SNAP_FILE, strerror(-rc));
		return failed(ck, rc);
	}
	ck->snap_bytes = (uint64_t)sb.st_size;
	/* The log written while the child ran counts towards the next. */
	ck->log_bytes -= ck->log_bytes < ck->child_log_bytes
			     ? ck->log_bytes
			     : ck->child_log_bytes;
	ck->lsn = ck->child_lsn;
	ck->at_ms = now_ms();
	ck->written++;
	wal_recount(w);
	ck->install_us = mono_us() - t0;
	log_msg("checkpoint: snapshot at LSN %" PRIu64 " installed (%" PRIu64
		" KiB, written in %lld ms) by the compactor",
		ck->lsn, ck->snap_bytes >> 10, (long long)ck->write_ms);
	log_msg("checkpoint: installing took %lld us in the loop (the "
		"compactor renamed the snapshot and trimmed the log)",
		(long long)ck->install_us);
	return 1;
}

int checkpoint_child_done(struct checkpoint *ck, struct wal *w, char *err,
			  size_t errlen)
{
	return reap(ck, w, false, err, errlen);
}

int checkpoint_tick(struct checkpoint *ck, const struct state *st,
		    struct wal *w, char *err, size_t errlen)
{
	struct wal_stats ws;

	wal_get_stats(w, &ws);
	ck->log_bytes += ws.bytes - ck->seen_bytes;
	ck->seen_bytes = ws.bytes;
	if (ck->child)
		return 0;
	if (ck->pending_lsn)
		return wal_durable_lsn(w) >= ck->pending_lsn
			   ? publish(ck, w, err, errlen)
			   : 0;
	/* Past every_bytes, and past the size of the last snapshot, so a
	 * big state is not rewritten for a little log: checkpoints never
	 * write more than the log itself. */
	if (ck->log_bytes < ck->every_bytes || ck->log_bytes < ck->snap_bytes ||
	    wal_last_lsn(w) == ck->lsn || mono_ms() < ck->retry_at)
		return 0;
	if (ck->foreground)
		return write_here(ck, st, w, err, errlen);
	/* The compactor reads the log: it may only ask for durable
	 * records. */
	if (wal_durable_lsn(w) == ck->lsn)
		return 0;
	return start_child(ck, st, w, err, errlen);
}

int checkpoint_now(struct checkpoint *ck, const struct state *st, struct wal *w,
		   char *err, size_t errlen)
{
	int rc, done = 0;

	if (wal_in_flight(w) || wal_has_pending(w) ||
	    wal_durable_lsn(w) != wal_last_lsn(w)) {
		snprintf(err, errlen,
			 "checkpoint: log records are not durable yet");
		return -EBUSY;
	}
	if (ck->child) {
		/* Its snapshot may be most of the way written: use it. */
		rc = reap(ck, w, true, err, errlen);
		if (rc < 0)
			log_msg("checkpoint: %s", err);
		done = rc > 0;
	}
	if (ck->pending_lsn) {
		rc = publish(ck, w, err, errlen);
		if (rc < 0)
			return rc;
		done = 1;
	}
	if (wal_last_lsn(w) == ck->lsn)
		return done;
	return write_here(ck, st, w, err, errlen);
}

void checkpoint_free(struct checkpoint *ck)
{
	if (ck->child == 0)
		return;
	kill(ck->child, SIGKILL);
	while (waitpid(ck->child, NULL, 0) < 0 && errno == EINTR)
		;
	close(ck->child_fd);
	ck->child_fd = -1;
	ck->child = 0;
	unlinkat(ck->dirfd, SNAP_TMP, 0);
}

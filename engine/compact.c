/*
 * compact.c - the checkpoint compactor (see compact.h): rebuild the durable
 * state of a data directory up to an LSN, read-only, with the engine's own
 * recovery code (snapshot_load, wal_scan, state_apply), and write
 * snapshot.tmp with the engine's own writer (snapshot_write_tmp).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "compact.h"
#include "log.h"
#include "num.h"
#include "quanta.h"
#include "checkpoint.h"
#include "state.h"
#include "wal.h"

struct replay {
	struct state *st;
	uint64_t upto;
	uint64_t bad_lsn; /* a record that did not apply */
	bool reached;	  /* the record at upto was applied */
};

/* Apply one record; stop right after the one at upto, so that nothing
 * the engine may be appending past it is ever read. */
static int apply_rec(void *ctx, const struct wal_rec *r)
{
	struct replay *rp = ctx;

	if (r->lsn > rp->upto)
		return 1; /* not reached: the upto record was missing */
	if (state_apply(rp->st, r->type, r->payload, r->len, r->lsn, r->at_ms) <
	    0) {
		rp->bad_lsn = r->lsn;
		return 1;
	}
	if (r->lsn == rp->upto) {
		rp->reached = true;
		return 1;
	}
	return 0;
}

/* The state up to upto, into st (state_init'ed): the snapshot, then the
 * log after it. */
static int rebuild(int dirfd, struct state *st, uint64_t upto, char *err,
		   size_t errlen)
{
	struct replay rp = {st, upto, 0, false};
	struct wal_scan_opts so;
	struct wal_scan scan;
	uint64_t snap_lsn = 0;
	size_t n;
	struct delta *dl;
	int rc;

	rc = snapshot_load(dirfd, st, &snap_lsn, err, errlen);
	if (rc < 0)
		return rc;
	if (snap_lsn > upto) {
		snprintf(err, errlen,
			 "the snapshot is at LSN %" PRIu64
			 ", past LSN %" PRIu64,
			 snap_lsn, upto);
		return -EINVAL;
	}
	if (snap_lsn < upto) {
		/* Records after the snapshot are never archived (wal_trim
		 * moves only segments a snapshot covers): wal/ as recovery
		 * reads it. */
		so = (struct wal_scan_opts){snap_lsn, snap_lsn + 1, false};
		rc = wal_scan(dirfd, &so, apply_rec, &rp, &scan);
		if (rp.bad_lsn) {
			snprintf(err, errlen,
				 "log record at LSN %" PRIu64 " does not apply",
				 rp.bad_lsn);
			return -EUCLEAN;
		}
		if (rc < 0 && !rp.reached) {
			snprintf(err, errlen, "cannot read the log: %s",
				 strerror(-rc));
			return rc;
		}
		if (!rp.reached) {
			snprintf(err, errlen,
				 "the log ends at LSN %" PRIu64
				 " before LSN %" PRIu64 "%s%s",
				 scan.last_lsn, upto,
				 scan.detail[0] ? ": " : "", scan.detail);
			return -EUCLEAN;
		}
	}
	/* As after recovery: everything replayed is durable. */
	dl = state_take_deltas(st, &n);
	state_commit_deltas(st, dl, n);
	free(dl);
	return 0;
}

static int opt_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi,
		   uint64_t *out)
{
	if (num_parse_u64(s, lo, hi, out) < 0) {
		log_msg("write-snapshot: %s: expected a whole number from "
			"%" PRIu64 " to %" PRIu64 ", got '%s'",
			opt, lo, hi, s);
		return -1;
	}
	return 0;
}

enum {
	C_DATA = 1,
	C_DATA_FD,
	C_UPTO,
	C_MAXRES,
	C_FIRST,
	C_LAST,
	C_WINDOW,
	C_PARENT,
	C_INSTALL,
	C_ARCHIVE,
	C_TEST_FAIL,
	C_TEST_DELAY,
};

/*
 * --install: upto is durable in the log (the engine asks for nothing else),
 * so the snapshot may replace the old one at once; then the segments it
 * covers go.  Both are done here rather than in the engine's loop, whose
 * turn they would hold up (a rename, two directory fsyncs and the unlinks
 * of the replayed segments).  Exit status 0: installed (a failed trim is
 * only logged: the segments go at the next checkpoint); 1: not installed.
 */
static int install_and_trim(int dirfd, uint64_t upto, bool archive)
{
	char err[256];
	int waldfd, n;

	if (snapshot_install_tmp(dirfd, err, sizeof(err)) < 0) {
		log_msg("write-snapshot: %s", err);
		return 1;
	}
	waldfd = openat(dirfd, "wal", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	n = waldfd < 0 ? -errno : wal_trim_dir(waldfd, upto, archive, 0);
	if (waldfd >= 0)
		close(waldfd);
	if (n < 0)
		log_msg("write-snapshot: snapshot at LSN %" PRIu64
			" installed, but letting old log segments go "
			"failed: %s",
			upto, strerror(-n));
	else if (n > 0)
		log_msg("write-snapshot: %d log segments let go", n);
	return 0;
}

int compact_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"data", required_argument, NULL, C_DATA},
	    {"data-fd", required_argument, NULL, C_DATA_FD},
	    {"upto", required_argument, NULL, C_UPTO},
	    {"max-resources", required_argument, NULL, C_MAXRES},
	    {"first-day", required_argument, NULL, C_FIRST},
	    {"last-day", required_argument, NULL, C_LAST},
	    {"window-days", required_argument, NULL, C_WINDOW},
	    {"parent", required_argument, NULL, C_PARENT},
	    {"install", no_argument, NULL, C_INSTALL},
	    {"archive-wal", no_argument, NULL, C_ARCHIVE},
#ifdef BOOKD_TEST_HOOKS
	    {"test-fail", no_argument, NULL, C_TEST_FAIL},
	    {"test-delay-ms", required_argument, NULL, C_TEST_DELAY},
#endif
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	uint64_t upto = 0, maxres = 1024, first = 0, last = 0, window = 0, v;
	uint64_t parent = 0, delay_ms = 0;
	bool fail = false, install = false, archive = false;
	int dirfd = -1, c, rc;
	struct state st;
	int64_t today, t0 = mono_ms(), t1 = 0;
	char err[512];

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case C_DATA:
			dir = optarg;
			break;
		case C_DATA_FD:
			if (opt_u64("--data-fd", optarg, 0, 1u << 20, &v))
				return 1;
			dirfd = (int)v;
			break;
		case C_UPTO:
			if (opt_u64("--upto", optarg, 1, UINT64_MAX, &upto))
				return 1;
			break;
		case C_MAXRES:
			if (opt_u64("--max-resources", optarg, 1, 1000000,
				    &maxres))
				return 1;
			break;
		case C_FIRST:
			if (opt_u64("--first-day", optarg, 1, 1000000, &first))
				return 1;
			break;
		case C_LAST:
			if (opt_u64("--last-day", optarg, 1, 1000000, &last))
				return 1;
			break;
		case C_WINDOW:
			if (opt_u64("--window-days", optarg, 2, 8000, &window))
				return 1;
			break;
		case C_PARENT:
			if (opt_u64("--parent", optarg, 2, INT32_MAX, &parent))
				return 1;
			break;
		case C_INSTALL:
			install = true;
			break;
		case C_ARCHIVE:
			archive = true;
			break;
		case C_TEST_FAIL:
			fail = true;
			break;
		case C_TEST_DELAY:
			if (opt_u64("--test-delay-ms", optarg, 1, 600000,
				    &delay_ms))
				return 1;
			break;
		default:
			log_msg("write-snapshot: bad arguments");
			return 1;
		}
	}
	if (optind < argc || upto == 0 || (dir == NULL) == (dirfd < 0)) {
		log_msg("write-snapshot: usage: bookd " COMPACT_MODE
			" (--data DIR | --data-fd N) --upto LSN "
			"[--max-resources N] [--first-day D --last-day D "
			"--window-days N] [--parent PID] "
			"[--install [--archive-wal]]");
		return 1;
	}
	if (parent) {
		/* Die with the engine, so that no orphan goes on writing
		 * while a restarted engine takes over the directory; it may
		 * have died before this line. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
		    getppid() != (pid_t)parent) {
			log_msg("write-snapshot: the engine (pid %" PRIu64
				") is gone",
				parent);
			return 1;
		}
		/* On a machine of two cores the compactor and the engine's
		 * loop share the CPUs: the loop's replies come first. */
		if (setpriority(PRIO_PROCESS, 0, CHECKPOINT_CHILD_NICE) < 0)
			log_msg("write-snapshot: cannot lower its priority: "
				"%s",
				strerror(errno));
	}
	if (dir) {
		dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0) {
			log_msg("write-snapshot: cannot open %s: %s", dir,
				strerror(errno));
			return 1;
		}
	}
	if (fail) {
		log_msg("write-snapshot: failing as the test asked");
		return 1;
	}
	/* The engine's window, or one as a fresh engine's by default. */
	today = q_day_of(now_ms() / 1000);
	if (first == 0)
		first = (uint64_t)(today - 7);
	if (last == 0)
		last = (uint64_t)(today + 730);
	if (window == 0)
		window = last - first + 2;
	if (last < first || last - first >= window) {
		log_msg("write-snapshot: days %" PRIu64 " to %" PRIu64
			" do not fit a window of %" PRIu64,
			first, last, window);
		return 1;
	}
	if (state_init(&st, (uint32_t)maxres, (int64_t)first, (int64_t)last,
		       (uint32_t)window) < 0) {
		log_msg("write-snapshot: out of memory");
		return 1;
	}
	rc = rebuild(dirfd, &st, upto, err, sizeof(err));
	t1 = mono_ms();
	if (rc == 0)
		rc = snapshot_write_tmp(dirfd, &st, upto, NULL, err,
					sizeof(err));
	state_free(&st);
	if (rc < 0) {
		log_msg("write-snapshot: LSN %" PRIu64 ": %s", upto, err);
		return 1;
	}
	if (delay_ms) {
		struct timespec ts = {(time_t)(delay_ms / 1000),
				      (long)(delay_ms % 1000) * 1000000};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	if (parent)
		log_msg("write-snapshot: snapshot.tmp at LSN %" PRIu64
			": state rebuilt in %lld ms, written in %lld ms",
			upto, (long long)(t1 - t0),
			(long long)(mono_ms() - t1));
	return install ? install_and_trim(dirfd, upto, archive) : 0;
}

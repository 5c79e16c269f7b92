/*
 * pitr.c - `bookd-replay replay`: point-in-time recovery into a fresh data
 * directory.
 *
 * The new directory gets the same history up to the chosen LSN, with the
 * same LSNs: a copy of the snapshot the recovery started from (when it
 * started from one) and a new log holding the records after it, written
 * with the engine's own WAL code and fdatasynced.  bookd opens it like any
 * directory it wrote itself, and `bookd-replay dump` shows the same
 * records.  The token key (auth.key) is copied so tokens stay valid; the
 * pages file, the lock and the socket are the new engine's to make.
 *
 * A target before the snapshot needs the records before it: recovery then
 * starts from LSN 1 and ignores the snapshot, which works while the log
 * files (wal/archive/ included) still reach back to LSN 1.  --until-time T
 * picks the longest prefix of the log committed at or before T.
 *
 * How it fails: NEWDIR not empty, a target the files cannot reach, damage
 * before the target, or an I/O error: a message and exit status 1, and
 * whatever it had written into NEWDIR is removed again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "rlog.h"

/* Write a group when this many bytes have gathered. */
#define PITR_GROUP_BYTES (4u << 20)

struct pitr {
	struct wal *w;
	uint64_t gathered; /* bytes appended since the last group */
	int io_err;	   /* errno of a failed write or sync */
	uint64_t bad_lsn;  /* a record that did not keep its LSN */
};

static int write_group(struct pitr *p)
{
	struct wal_group g;
	const char *b;
	size_t left;
	off_t off;
	int rc = wal_group_begin(p->w, &g);

	if (rc <= 0)
		return rc;
	b = g.buf;
	left = g.len;
	off = g.offset;
	while (left > 0) {
		ssize_t n = pwrite(g.fd, b, left, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		b += n;
		left -= (size_t)n;
		off += n;
	}
	if (fdatasync(g.fd) < 0)
		return -errno;
	wal_group_done(p->w);
	p->gathered = 0;
	return 0;
}

/* Copy each record applied into the new log, with its own LSN. */
static int copy_fn(void *ctx, struct state *st, const struct wal_rec *r)
{
	struct pitr *p = ctx;
	int rc;

	(void)st;
	if (wal_append(p->w, r->type, r->payload, r->len, r->at_ms) != r->lsn) {
		p->bad_lsn = r->lsn;
		return 1;
	}
	p->gathered += r->len;
	if (p->gathered < PITR_GROUP_BYTES)
		return 0;
	rc = write_group(p);
	if (rc < 0) {
		p->io_err = -rc;
		return 1;
	}
	return 0;
}

/* ---- --until-time ----------------------------------------------------- */

struct by_time {
	int64_t until_ms;
	uint64_t first, last; /* LSNs seen at or before the time */
	uint64_t beyond;      /* first LSN committed after it (0: none) */
};

static int time_fn(void *ctx, const struct wal_rec *r)
{
	struct by_time *t = ctx;

	if (r->at_ms > t->until_ms) {
		t->beyond = r->lsn;
		return 1;
	}
	if (t->first == 0)
		t->first = r->lsn;
	t->last = r->lsn;
	return 0;
}

/* The LSN the log had reached at until_ms, into *lsn. */
static int lsn_at_time(struct rlog *rl, int64_t until_ms, uint64_t *lsn)
{
	struct by_time t = {until_ms, 0, 0, 0};
	struct wal_scan sc;
	char err[512], when[32];
	int rc = rlog_records(rl, 1, 0, time_fn, &t, &sc, err, sizeof(err));

	rlog_fmt_ms(until_ms, when);
	if (rc < 0) {
		fprintf(stderr, "bookd-replay: %s\n", err);
		return -1;
	}
	if (t.last) {
		*lsn = t.last;
		return 0;
	}
	if (t.beyond == 0) {
		/* No record in the files at all: the snapshot is the
		 * whole history. */
		if (rl->snap.present && rl->snap.created_ms <= until_ms) {
			*lsn = rl->snap.lsn;
			return 0;
		}
	} else if (rl->snap.present && t.beyond == rl->snap.lsn + 1 &&
		   rl->snap.created_ms <= until_ms) {
		/* Everything the snapshot holds was committed before it was
		 * written, and the next record came after until_ms. */
		*lsn = rl->snap.lsn;
		return 0;
	}
	if (t.beyond == 1)
		fprintf(stderr,
			"bookd-replay: nothing was committed by %s: the first "
			"record is later\n",
			when);
	else
		fprintf(stderr,
			"bookd-replay: cannot tell what was committed by %s: "
			"the records before LSN %" PRIu64
			" have left the log (no wal/archive/)\n",
			when, t.beyond ? t.beyond : (uint64_t)1);
	return -1;
}

static int first_fn(void *ctx, const struct wal_rec *r)
{
	*(uint64_t *)ctx = r->lsn;
	return 1;
}

/* The first LSN the log files hold (wal/archive/ included), or 0. */
static uint64_t first_lsn(struct rlog *rl)
{
	struct wal_scan sc;
	char err[512];
	uint64_t lsn = 0;

	rlog_records(rl, 1, 0, first_fn, &lsn, &sc, err, sizeof(err));
	return lsn;
}

/* ---- the new directory ------------------------------------------------ */

static int is_empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int empty = 1;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

/* Open NEWDIR, creating it; *made says whether it was created. */
static int open_into(const char *path, bool *made)
{
	struct stat sb;

	*made = false;
	if (stat(path, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode) || is_empty_dir(path) != 1) {
			fprintf(stderr,
				"bookd-replay: %s exists and is not an empty "
				"directory; recovery writes only into a fresh "
				"one\n",
				path);
			return -1;
		}
	} else if (errno != ENOENT || mkdir(path, 0750) < 0) {
		fprintf(stderr, "bookd-replay: %s: %s\n", path,
			strerror(errno));
		return -1;
	} else {
		*made = true;
	}
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Remove what recovery wrote into NEWDIR (it was empty before). */
static void undo_into(int dfd, const char *path, bool made)
{
	int wfd = openat(dfd, "wal", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (wfd >= 0) {
		DIR *d = fdopendir(wfd);
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				unlinkat(wfd, de->d_name, 0);
		if (d)
			closedir(d);
		else
			close(wfd);
		unlinkat(dfd, "wal", AT_REMOVEDIR);
	}
	unlinkat(dfd, SNAP_FILE, 0);
	unlinkat(dfd, "auth.key", 0);
	if (made)
		rmdir(path);
}

/* Copy file name from one directory to another, durably. */
static int copy_file(int from, int to, const char *name, mode_t mode)
{
	char buf[65536];
	int in = openat(from, name, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
	ssize_t n;

	if (in < 0)
		return errno == ENOENT ? 0 : -errno;
	out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (out < 0) {
		rc = -errno;
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = w < 0 ? -errno : -EIO;
				goto out;
			}
			done += w;
		}
	}
	if (n < 0)
		rc = -errno;
	else if (fsync(out) < 0)
		rc = -errno;
out:
	close(in);
	if (out >= 0)
		close(out);
	return rc;
}

/* ---- the command ------------------------------------------------------ */

/* Is the recovered log in NEWDIR whole, ending at lsn? */
static int check_new_log(int dfd, uint64_t base, uint64_t lsn)
{
	struct wal_scan sc;
	int rc = wal_scan_dir(dfd, base, NULL, NULL, &sc);

	if (rc < 0 || sc.verdict != WAL_CLEAN ||
	    (sc.last_lsn ? sc.last_lsn : base) != lsn)
		return -1;
	return 0;
}

int cmd_replay(const struct cmd_args *a)
{
	struct rlog rl;
	struct state st;
	struct rbuild_opts o = {0};
	struct rbuild_res res;
	struct pitr p = {0};
	struct wal_opts wo = {0, 0};
	struct wal_scan sc;
	char err[512], when[32];
	uint64_t target = a->to_lsn, base;
	bool made = false, from_start;
	int dfd = -1, rc = EXIT_DAMAGED, wrc;

	memset(&st, 0, sizeof(st));
	if (rlog_open(&rl, a->dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "bookd-replay: %s\n", err);
		return EXIT_DAMAGED;
	}
	if (a->have_until_ms && lsn_at_time(&rl, a->until_ms, &target) < 0)
		goto out;
	from_start = rl.snap.present && target && target < rl.snap.lsn;
	if (from_start && first_lsn(&rl) != 1) {
		fprintf(stderr,
			"bookd-replay: LSN %" PRIu64
			" is before the snapshot (LSN %" PRIu64
			"), and the records before the snapshot have left the "
			"log (keep them with an archive: wal/archive/)\n",
			target, rl.snap.lsn);
		goto out;
	}
	base = rl.snap.present && !from_start ? rl.snap.lsn : 0;
	dfd = open_into(a->into, &made);
	if (dfd < 0)
		goto out;
	wo.after_lsn = base;
	if (wal_open(&p.w, dfd, &wo, NULL, NULL, &sc, err, sizeof(err)) < 0) {
		fprintf(stderr, "bookd-replay: %s: %s\n", a->into, err);
		goto undo;
	}
	o.from_start = from_start;
	o.until_lsn = target;
	o.after = copy_fn;
	o.ctx = &p;
	if (rlog_build(&rl, &o, &st, &res, err, sizeof(err)) < 0) {
		if (p.io_err)
			fprintf(stderr, "bookd-replay: writing %s/wal: %s\n",
				a->into, strerror(p.io_err));
		else if (p.bad_lsn)
			fprintf(stderr,
				"bookd-replay: LSN %" PRIu64
				" does not follow the records before it\n",
				p.bad_lsn);
		else if (res.moved)
			fprintf(stderr,
				"bookd-replay: %s; the engine is running: run "
				"again, or recover from a stopped engine's "
				"directory\n",
				err);
		else
			fprintf(stderr, "bookd-replay: %s\n", err);
		goto undo;
	}
	if (!res.stopped && res.scan.verdict == WAL_CORRUPT &&
	    (target == 0 || res.scan.bad_lsn <= target)) {
		fprintf(stderr,
			"bookd-replay: the log is damaged at LSN %" PRIu64
			" (%s), before the point asked for; recover up to "
			"LSN %" PRIu64 " at most (--until %" PRIu64 ")\n",
			res.scan.bad_lsn, res.scan.detail, res.scan.last_lsn,
			res.scan.last_lsn);
		goto undo;
	}
	wrc = write_group(&p);
	if (wrc < 0) {
		fprintf(stderr, "bookd-replay: writing %s/wal: %s\n", a->into,
			strerror(-wrc));
		goto undo;
	}
	if (check_new_log(dfd, base, res.lsn) < 0) {
		fprintf(
		    stderr,
		    "bookd-replay: %s/wal does not read back as LSN %" PRIu64
		    " to %" PRIu64 "\n",
		    a->into, base + 1, res.lsn);
		goto undo;
	}
	if ((base && copy_file(rl.dirfd, dfd, SNAP_FILE, 0640) < 0) ||
	    copy_file(rl.dirfd, dfd, "auth.key", 0600) < 0 || fsync(dfd) < 0) {
		fprintf(stderr, "bookd-replay: copying into %s: %s\n", a->into,
			strerror(errno));
		goto undo;
	}
	if (base) {
		/* The copy must be the snapshot the recovery started from: a
		 * live engine may have replaced it meanwhile. */
		struct snapshot_info copied;
		if (snapshot_peek(dfd, &copied, err, sizeof(err)) < 0 ||
		    copied.lsn != base) {
			fprintf(stderr,
				"bookd-replay: the snapshot changed while it "
				"was copied (the engine is running): run "
				"again\n");
			goto undo;
		}
	}
	if (target && res.lsn < target)
		printf("note: the log ends at LSN %" PRIu64
		       ", before LSN %" PRIu64 "\n",
		       res.lsn, target);
	rlog_fmt_ms(res.last_ms, when);
	printf("recovered LSN %" PRIu64 " (%s%s) into %s: %u resources, %u "
	       "bookings, %zu events; %s%" PRIu64
	       " log records copied; start it with: bookd --data %s\n",
	       res.lsn, res.applied ? "last commit " : "the snapshot",
	       res.applied ? when : "", a->into, st.nres, st.nbk, st.nev,
	       base ? "the snapshot and " : "", res.applied, a->into);
	rc = 0;
	goto out;
undo:
	if (p.w) {
		wal_close(p.w);
		p.w = NULL;
	}
	undo_into(dfd, a->into, made);
out:
	if (p.w)
		wal_close(p.w);
	if (dfd >= 0)
		close(dfd);
	state_free(&st);
	rlog_close(&rl);
	return rc;
}

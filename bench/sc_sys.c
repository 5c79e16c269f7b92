/*
 * sc_sys.c - raw, recover and memory.  See sc_sys.h.
 *
 * raw measures what no engine can beat on this machine, in the same run:
 *  - fdatasync after a 4 KiB write at the end of the written part of a file
 *    laid out as the WAL's segments are (written with zeros and synced
 *    beforehand), in the directory the engines use, and the same on a file
 *    preallocated with fallocate (unwritten extents) and on one that grows;
 *  - a blocking round trip of a 32-byte message over a Unix stream socket
 *    between two processes, neither pinned (as bookd and its clients);
 *  - bookd's own ping over the socket, synchronous, to set against it.
 *
 * recover builds a log of the asked length with booked-and-cancelled
 * bookings on an engine running --sync off (the log's bytes are the same;
 * only the wait for the disk is skipped) and checkpoints put off past the
 * log's size, so every record is after the last snapshot; kills it with
 * SIGKILL so that restart has to replay the whole log, and times exec to
 * "bookd: ready".  Then a clean stop (SIGTERM) writes a snapshot, and the
 * restart from it shows the snapshot's load time (the engine's own split).
 *
 * memory reads the engine's VmRSS and RssAnon and the pages file's apparent
 * size and allocated blocks, with only the resources, then after loading
 * bookings.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sc_read.h"
#include "sc_sys.h"
#include "util.h"

#define FSYNC_BLOCK 4096
#define FSYNC_FILE  (256u << 20) /* bytes preallocated */

enum layout {
	LAYOUT_ZEROED, /* written with zeros and synced: the WAL's segments */
	LAYOUT_FALLOC, /* posix_fallocate: unwritten extents */
	LAYOUT_GROW,   /* appends extend the file */
};
#define PINGPONG_BYTES	 32
#define RECOVER_READY_MS 900000 /* replaying 10 M records takes a while */

/* ---- raw -------------------------------------------------------------- */

/*
 * fdatasync latency of 4 KiB appends on a new file in dir laid out as asked,
 * for the run time (and at most the file's size); samples in ns.
 */
static int fsync_run(struct bench_ctx *x, const char *dir, enum layout lay,
		     struct bench_samples *out)
{
	char path[PATH_MAX], block[FSYNC_BLOCK];
	uint64_t t0, span = x->run_ms * 1000000u, off = 0;
	int fd, rc = -1;

	if ((size_t)snprintf(path, sizeof path, "%s/.bench-fsync.XXXXXX",
			     dir) >= sizeof path)
		return -1;
	fd = mkstemp(path);
	if (fd < 0) {
		bench_log("%s: %s", path, strerror(errno));
		return -1;
	}
	unlink(path);
	memset(block, 'x', sizeof block);
	if (lay == LAYOUT_FALLOC &&
	    (errno = posix_fallocate(fd, 0, FSYNC_FILE)) != 0) {
		bench_log("fallocate: %s", strerror(errno));
		goto out;
	}
	if (lay == LAYOUT_ZEROED) {
		static const char zeros[1u << 20];
		for (off_t z = 0; z < (off_t)FSYNC_FILE; z += sizeof zeros)
			if (pwrite(fd, zeros, sizeof zeros, z) !=
			    (ssize_t)sizeof zeros)
				goto io;
	}
	if (fdatasync(fd) < 0)
		goto io;
	t0 = bench_now_ns();
	while (bench_now_ns() - t0 < span && off + FSYNC_BLOCK <= FSYNC_FILE) {
		uint64_t a = bench_now_ns();
		if (pwrite(fd, block, sizeof block, (off_t)off) !=
		    (ssize_t)sizeof block)
			goto io;
		if (fdatasync(fd) < 0)
			goto io;
		bench_samples_add(out, bench_now_ns() - a);
		off += FSYNC_BLOCK;
	}
	rc = 0;
	goto out;
io:
	bench_log("write/fdatasync in %s: %s", dir, strerror(errno));
out:
	close(fd);
	return rc;
}

static int read_full(int fd, char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Round trips of PINGPONG_BYTES over a socketpair between this process and
 * a forked echo child, for warm-up plus run time; samples in ns.
 */
static int pingpong_run(struct bench_ctx *x, struct bench_samples *out)
{
	char msg[PINGPONG_BYTES];
	uint64_t t0, warm = x->warm_ms * 1000000u, span = x->run_ms * 1000000u;
	int sv[2], st, rc = 0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		bench_log("socketpair: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		bench_log("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		while (read_full(sv[1], msg, sizeof msg) == 0 &&
		       write_full(sv[1], msg, sizeof msg) == 0)
			;
		_exit(0);
	}
	close(sv[1]);
	memset(msg, 'p', sizeof msg);
	t0 = bench_now_ns();
	for (;;) {
		uint64_t a = bench_now_ns();
		if (a - t0 >= warm + span)
			break;
		if (write_full(sv[0], msg, sizeof msg) < 0 ||
		    read_full(sv[0], msg, sizeof msg) < 0) {
			bench_log("ping-pong: %s", strerror(errno));
			rc = -1;
			break;
		}
		if (a - t0 >= warm)
			bench_samples_add(out, bench_now_ns() - a);
	}
	close(sv[0]);
	waitpid(pid, &st, 0);
	return rc;
}

int sc_raw(struct bench_ctx *x)
{
	double fs_pre[BENCH_MAX_REPEATS], fs_pre99[BENCH_MAX_REPEATS],
	    fs_premax[BENCH_MAX_REPEATS],
	    fs_falloc[BENCH_MAX_REPEATS], fs_grow[BENCH_MAX_REPEATS],
	    pp[BENCH_MAX_REPEATS], pp99[BENCH_MAX_REPEATS],
	    ping[BENCH_MAX_REPEATS], ping99[BENCH_MAX_REPEATS],
	    ratio[BENCH_MAX_REPEATS], tping[BENCH_MAX_REPEATS],
	    tratio[BENCH_MAX_REPEATS];
	const char *dir = x->attach_data ? x->attach_data : x->base;
	struct bench_engine e;
	struct bench_shape sh;
	int rc = -1;

	bench_shape_init(&sh, x->nres, x->ndays);
	if (bench_ctx_engine(x, &e, NULL) < 0)
		return -1;
	for (int r = 0; r < x->repeats; r++) {
		struct bench_samples a = {0}, b = {0}, c = {0}, f = {0};
		struct bench_sock_result pr, tr;

		if (fsync_run(x, dir, LAYOUT_ZEROED, &a) < 0 ||
		    fsync_run(x, dir, LAYOUT_FALLOC, &f) < 0 ||
		    fsync_run(x, dir, LAYOUT_GROW, &b) < 0 ||
		    pingpong_run(x, &c) < 0 ||
		    bench_socket_run(x, &e, &sh, BENCH_Q_PING, BENCH_LIBBOOKD,
				     1, 1, 300 + (uint64_t)r, &pr) < 0 ||
		    bench_socket_run(x, &e, &sh, BENCH_Q_PING, BENCH_THIN, 1, 1,
				     400 + (uint64_t)r, &tr) < 0) {
			bench_samples_free(&a);
			bench_samples_free(&b);
			bench_samples_free(&c);
			bench_samples_free(&f);
			goto out;
		}
		fs_pre[r] = (double)bench_samples_quantile(&a, 0.5) / 1e3;
		fs_pre99[r] = (double)bench_samples_quantile(&a, 0.99) / 1e3;
		fs_premax[r] = (double)bench_samples_quantile(&a, 1.0) / 1e3;
		fs_falloc[r] = (double)bench_samples_quantile(&f, 0.5) / 1e3;
		fs_grow[r] = (double)bench_samples_quantile(&b, 0.5) / 1e3;
		pp[r] = (double)bench_samples_quantile(&c, 0.5) / 1e3;
		pp99[r] = (double)bench_samples_quantile(&c, 0.99) / 1e3;
		ping[r] = pr.p50_us;
		ping99[r] = pr.p99_us;
		ratio[r] = pr.p50_us / pp[r];
		tping[r] = tr.p50_us;
		tratio[r] = tr.p50_us / pp[r];
		bench_samples_free(&a);
		bench_samples_free(&b);
		bench_samples_free(&c);
		bench_samples_free(&f);
	}
	bench_report_add(x->rep, "raw", "raw.fdatasync.us",
			 "fdatasync of a 4 KiB append, WAL segment layout "
			 "(zero-filled, synced), p50",
			 "us", fs_pre, (size_t)x->repeats);
	bench_report_add(x->rep, "raw", "raw.fdatasync.p99_us",
			 "fdatasync of a 4 KiB append, WAL segment layout "
			 "(zero-filled, synced), p99",
			 "us", fs_pre99, (size_t)x->repeats);
	bench_report_add(x->rep, "raw", "raw.fdatasync.max_us",
			 "fdatasync of a 4 KiB append, WAL segment layout "
			 "(zero-filled, synced), max",
			 "us", fs_premax, (size_t)x->repeats);
	bench_report_add(x->rep, "raw", "raw.fdatasync_falloc.us",
			 "fdatasync of a 4 KiB append, fallocated file, p50",
			 "us", fs_falloc, (size_t)x->repeats);
	bench_report_add(x->rep, "raw", "raw.fdatasync_grow.us",
			 "fdatasync of a 4 KiB append, growing file, p50", "us",
			 fs_grow, (size_t)x->repeats);
	bench_report_add(x->rep, "raw", "raw.pingpong.us",
			 "Unix socket ping-pong, 2 processes, p50", "us", pp,
			 (size_t)x->repeats);
	bench_report_add(x->rep, "raw", "raw.pingpong.p99_us",
			 "Unix socket ping-pong, 2 processes, p99", "us", pp99,
			 (size_t)x->repeats);
	bench_report_add(x->rep, "raw", "raw.ping.us",
			 "bookd ping (libbookd, synchronous), p50", "us", ping,
			 (size_t)x->repeats);
	bench_report_add(x->rep, "raw", "raw.ping.p99_us",
			 "bookd ping (libbookd, synchronous), p99", "us",
			 ping99, (size_t)x->repeats);
	bench_report_add(x->rep, "raw", "raw.ping_ratio",
			 "bookd ping p50 / raw ping-pong p50", "x", ratio,
			 (size_t)x->repeats);
	bench_report_add(x->rep, "raw", "raw.ping_thin.us",
			 "bookd ping (thin client, synchronous), p50", "us",
			 tping, (size_t)x->repeats);
	bench_report_add(x->rep, "raw", "raw.ping_thin_ratio",
			 "bookd ping p50, thin client / raw ping-pong p50", "x",
			 tratio, (size_t)x->repeats);
	rc = 0;
out:
	bench_engine_cleanup(&e);
	return rc;
}

/* ---- recover ---------------------------------------------------------- */

/* Book and cancel until the engine's log holds at least records records. */
static int fill_log(const struct bench_engine *e, const struct bench_shape *sh,
		    uint64_t records, struct bench_stats *st)
{
	bookd_conn *c = bench_engine_connect(e);
	int rc = -1;

	if (c == NULL)
		return -1;
	for (int round = 0; round < 4; round++) {
		struct bench_load_result lr;
		if (bench_engine_stats(c, st) < 0)
			goto out;
		if ((uint64_t)st->lsn >= records) {
			rc = 0;
			goto out;
		}
		/* Each pair is two records; a conflict makes none. */
		if (bench_load(e, sh, (records - (uint64_t)st->lsn + 1) / 2,
			       true, 31 + (uint64_t)round, &lr) < 0)
			goto out;
	}
	rc = bench_engine_stats(c, st);
	if (rc == 0 && (uint64_t)st->lsn < records) {
		bench_log("the log holds %lld records, short of %llu",
			  (long long)st->lsn, (unsigned long long)records);
		rc = -1;
	}
out:
	bookd_close(c);
	return rc;
}

static int64_t file_size(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >=
		sizeof path ||
	    stat(path, &st) < 0)
		return -1;
	return (int64_t)st.st_size;
}

/*
 * The engine's own split of its last recovery ("recovery took T ms:
 * snapshot load S ms, log scan and replay R ms" in its log); 0 when found.
 */
static int recovery_split(const char *log, double *snap_ms, double *log_ms)
{
	FILE *f = fopen(log, "r");
	char line[512];
	int found = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f)) {
		const char *p = strstr(line, "recovery took ");
		long long t, sn, rp;
		if (p && sscanf(p,
				"recovery took %lld ms: snapshot load %lld ms, "
				"log scan and replay %lld ms",
				&t, &sn, &rp) == 3) {
			*snap_ms = (double)sn;
			*log_ms = (double)rp;
			found = 0;
		}
	}
	fclose(f);
	return found;
}

static int recover_one(struct bench_ctx *x, uint64_t records)
{
	double snap_ms[BENCH_MAX_REPEATS], log_ms[BENCH_MAX_REPEATS];
	bool split = true;
	double ms[BENCH_MAX_REPEATS];
	char k[BENCH_KEY_MAX], l[BENCH_LABEL_MAX], tag[32];
	struct bench_stats st, after;
	struct bench_engine e;
	struct bench_shape sh;
	uint64_t ns;
	int64_t snap;
	bookd_conn *c;
	int rc = -1;

	bench_fmt(tag, sizeof tag, "%.3gM", (double)records / 1e6);
	bench_shape_init(&sh, x->nres, 700);
	/* 1 TiB between checkpoints: none while the log is written. */
	if (bench_ctx_engine(x, &e, "--sync off --checkpoint-mb 1048576") < 0)
		return -1;
	bench_log("recover: writing a log of %llu records",
		  (unsigned long long)records);
	if (fill_log(&e, &sh, records, &st) < 0)
		goto out;
	for (int r = 0; r < x->repeats; r++) {
		bench_engine_kill9(&e);
		if (bench_engine_restart(&e, RECOVER_READY_MS, &ns) < 0)
			goto out;
		ms[r] = (double)ns / 1e6;
		if (recovery_split(e.log, &snap_ms[r], &log_ms[r]) < 0)
			split = false;
	}
	c = bench_engine_connect(&e);
	if (c == NULL || bench_engine_stats(c, &after) < 0) {
		if (c)
			bookd_close(c);
		goto out;
	}
	bookd_close(c);
	if (after.bookings != st.bookings)
		bench_report_note(x->rep,
				  "recover %s: %lld bookings before the kill, "
				  "%lld after the restart",
				  tag, (long long)st.bookings,
				  (long long)after.bookings);
	bench_fmt(k, sizeof k, "recover.%s.restart_ms", tag);
	bench_fmt(l, sizeof l, "restart after kill -9, %lld log records",
		  (long long)st.lsn);
	bench_report_add(x->rep, "recover", k, l, "ms", ms, (size_t)x->repeats);
	if (split) {
		bench_fmt(k, sizeof k, "recover.%s.snapshot_load_ms", tag);
		bench_report_add(x->rep, "recover", k,
				 "  of which snapshot load (engine's log)",
				 "ms", snap_ms, (size_t)x->repeats);
		bench_fmt(k, sizeof k, "recover.%s.log_replay_ms", tag);
		bench_report_add(
		    x->rep, "recover", k,
		    "  of which log scan and replay (engine's log)", "ms",
		    log_ms, (size_t)x->repeats);
	}
	bench_fmt(k, sizeof k, "recover.%s.log_mib", tag);
	bench_fmt(l, sizeof l, "log size, %lld records", (long long)st.lsn);
	bench_report_add1(x->rep, "recover", k, l, "MiB",
			  (double)st.log_bytes / 1048576.0);
	bench_fmt(k, sizeof k, "recover.%s.records_per_s", tag);
	bench_fmt(l, sizeof l,
		  "log records per second of restart, %lld records",
		  (long long)st.lsn);
	bench_report_add1(x->rep, "recover", k, l, "/s",
			  (double)st.lsn /
			      (bench_median(ms, (size_t)x->repeats) / 1e3));

	/* A clean stop may checkpoint; restart from whatever it left. */
	if (bench_engine_stop(&e) < 0)
		bench_report_note(x->rep,
				  "recover %s: bookd did not exit 0 on "
				  "SIGTERM",
				  tag);
	snap = file_size(e.data, "snapshot");
	if (bench_engine_restart(&e, RECOVER_READY_MS, &ns) < 0)
		goto out;
	bench_fmt(k, sizeof k, "recover.%s.clean_restart_ms", tag);
	bench_fmt(l, sizeof l, "restart after SIGTERM (%s)",
		  snap >= 0 ? "from the snapshot" : "no snapshot: log replay");
	bench_report_add1(x->rep, "recover", k, l, "ms", (double)ns / 1e6);
	if (snap >= 0 && recovery_split(e.log, &snap_ms[0], &log_ms[0]) == 0) {
		bench_fmt(k, sizeof k, "recover.%s.clean_snapshot_load_ms",
			  tag);
		bench_fmt(l, sizeof l,
			  "  of which snapshot load of %lld bookings "
			  "(engine's log)",
			  (long long)after.bookings);
		bench_report_add1(x->rep, "recover", k, l, "ms", snap_ms[0]);
	}
	if (snap >= 0) {
		bench_fmt(k, sizeof k, "recover.%s.snapshot_mib", tag);
		bench_report_add1(x->rep, "recover", k, "snapshot size", "MiB",
				  (double)snap / 1048576.0);
	}
	rc = 0;
out:
	bench_engine_cleanup(&e);
	return rc;
}

int sc_recover(struct bench_ctx *x)
{
	if (x->attach_sock) {
		bench_report_note(x->rep, "recover: skipped, it restarts the "
					  "engine and cannot on an attached "
					  "one");
		return 0;
	}
	for (size_t i = 0; i < x->nrecover; i++)
		if (recover_one(x, x->recover[i]) < 0)
			return -1;
	return 0;
}

/* ---- memory ----------------------------------------------------------- */

struct mem_point {
	int64_t rss_kib, anon_kib;
	int64_t pages_size, pages_alloc;
	int64_t bookings;
};

static int read_anon(pid_t pid, int64_t *anon_kib)
{
	char path[64], line[256];
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f)) {
		long long v;
		if (sscanf(line, "RssAnon: %lld", &v) == 1) {
			*anon_kib = v;
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

static int mem_point(const struct bench_engine *e, struct mem_point *m)
{
	char path[PATH_MAX];
	struct bench_stats st;
	struct stat sb;
	int64_t hwm;
	bookd_conn *c;

	if ((size_t)snprintf(path, sizeof path, "%s/pages", e->data) >=
		sizeof path ||
	    stat(path, &sb) < 0) {
		bench_log("%s/pages: %s", e->data, strerror(errno));
		return -1;
	}
	m->pages_size = (int64_t)sb.st_size;
	m->pages_alloc = (int64_t)sb.st_blocks * 512;
	c = bench_engine_connect(e);
	if (c == NULL)
		return -1;
	if (bench_engine_stats(c, &st) < 0) {
		bookd_close(c);
		return -1;
	}
	bookd_close(c);
	m->bookings = st.bookings;
	if (bench_engine_rss(e, &m->rss_kib, &hwm) < 0 ||
	    read_anon(e->peer_pid, &m->anon_kib) < 0)
		return -1;
	return 0;
}

int sc_memory(struct bench_ctx *x)
{
	struct mem_point m0, m1;
	struct bench_load_result lr;
	struct bench_engine e;
	struct bench_shape wide;
	double mib = 1048576.0, per;
	char extra[64];
	int rc = -1;

	/* Pages for exactly the shape's resources, so the file's size is
	 * the figure per that many resources. */
	bench_fmt(extra, sizeof extra, "--sync off --max-resources %u",
		  x->nres);
	if (bench_ctx_engine(x, &e, extra) < 0)
		return -1;
	if (mem_point(&e, &m0) < 0)
		goto out;
	bench_report_add1(x->rep, "memory", "memory.base.rss_mib",
			  "bookd VmRSS, resources created, before loading",
			  "MiB", (double)m0.rss_kib / 1024);
	bench_report_add1(x->rep, "memory", "memory.base.anon_mib",
			  "bookd RssAnon (heap), before loading", "MiB",
			  (double)m0.anon_kib / 1024);
	bench_report_add1(x->rep, "memory", "memory.base.pages_mib",
			  "pages file, apparent size (whole window)", "MiB",
			  (double)m0.pages_size / mib);
	bench_report_add1(x->rep, "memory", "memory.base.pages_alloc_mib",
			  "pages file, allocated blocks", "MiB",
			  (double)m0.pages_alloc / mib);
	bench_shape_init(&wide, x->nres, 700);
	bench_log("memory: loading %llu bookings (book + cancel)",
		  (unsigned long long)x->memory_bookings);
	if (bench_load(&e, &wide, x->memory_bookings, true, 41, &lr) < 0)
		goto out;
	if (mem_point(&e, &m1) < 0)
		goto out;
	if (m1.bookings <= m0.bookings) {
		bench_log("memory: no booking was stored");
		goto out;
	}
	per = 1e6 / (double)(m1.bookings - m0.bookings);
	bench_report_add1(x->rep, "memory", "memory.loaded.bookings",
			  "stored bookings after loading", "",
			  (double)m1.bookings);
	bench_report_add1(x->rep, "memory", "memory.loaded.rss_mib",
			  "bookd VmRSS after loading", "MiB",
			  (double)m1.rss_kib / 1024);
	bench_report_add1(x->rep, "memory", "memory.per_million.rss_mib",
			  "VmRSS growth per million stored bookings", "MiB",
			  (double)(m1.rss_kib - m0.rss_kib) / 1024 * per);
	bench_report_add1(x->rep, "memory", "memory.per_million.anon_mib",
			  "RssAnon growth per million stored bookings", "MiB",
			  (double)(m1.anon_kib - m0.anon_kib) / 1024 * per);
	bench_report_add1(x->rep, "memory", "memory.loaded.pages_alloc_mib",
			  "pages file, allocated blocks after loading", "MiB",
			  (double)m1.pages_alloc / mib);
	rc = 0;
out:
	bench_engine_cleanup(&e);
	return rc;
}

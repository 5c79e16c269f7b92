/*
 * sc_ckpt.c - ckpt-latency.  See sc_ckpt.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sc_ckpt.h"
#include "util.h"
#include "work.h"

#define CKPT_OFF_MB    1048576	  /* --checkpoint-mb that is never reached */
#define CKPT_DUE_MIB   3	  /* new log until the checkpoint is due */
#define CKPT_READY_MS  900000	  /* restart replays the whole load */
#define CKPT_WAIT_MS   300000	  /* bound on the checkpoint's start and end */
#define CKPT_BEFORE_NS 100000000u /* the window opens 100 ms earlier */
#define CKPT_AFTER_NS  500000000u /* and closes 500 ms later */
#define CKPT_TAIL_MS   1000	  /* bookings go on this long after it */
#define CKPT_POLL_MS   5
#define CKPT_SLOW_NS   10000000u /* the target: under 10 ms */
#define CKPT_LINE      1024

enum way { WAY_SPAWN, WAY_LOOP };

static const char *const way_name[] = {"spawn", "loop"};
static const char *const way_label[] = {
    "checkpoint by a spawned compactor (default)",
    "checkpoint in the loop (--checkpoint-foreground)"};

/* ---- the booking client ----------------------------------------------- */

struct ck_client {
	pthread_t th;
	const struct bench_engine *e;
	const struct bench_shape *sh;
	_Atomic bool stop;
	struct bench_samples t0, lat; /* of each successful booking */
	uint64_t conflicts;
	bool failed;
};

static void *client_main(void *arg)
{
	struct ck_client *w = arg;
	struct bench_rng rng;
	bookd_conn *c = bench_engine_connect(w->e);
	bookd_args *a = bookd_args_new();

	if (c == NULL || a == NULL) {
		w->failed = true;
		goto out;
	}
	bench_rng_seed(&rng, 61);
	while (!atomic_load(&w->stop)) {
		struct bench_span sp;
		char id[BENCH_ID_LEN];
		uint64_t t0, t1;
		int rc;

		bench_span_random(w->sh, &rng, &sp);
		bench_res_id(sp.res, id);
		bench_pack_book(a, id, sp.start, sp.end);
		t0 = bench_now_ns();
		rc = bookd_call_args(c, "book", a, NULL);
		t1 = bench_now_ns();
		if (rc == 0) {
			bench_samples_add(&w->t0, t0);
			bench_samples_add(&w->lat, t1 - t0);
		} else if (rc == BOOKD_E_CONFLICT) {
			w->conflicts++;
		} else if (bookd_broken(c)) {
			bench_log("ckpt-latency: %s", bookd_errmsg(c));
			w->failed = true;
			break;
		}
	}
out:
	if (a)
		bookd_args_free(a);
	if (c)
		bookd_close(c);
	return NULL;
}

/* ---- following the engine's log --------------------------------------- */

struct ck_watch {
	int fd;
	char buf[CKPT_LINE];
	size_t len;
	uint64_t start_ns, end_ns; /* when the lines were seen, or 0 */
	int64_t spawn_us, start_us, install_us, rebuild_ms, snap_kib, write_ms;
	bool failed;
};

static void watch_line(struct ck_watch *w, const char *line, uint64_t now)
{
	const char *p;

	if (strstr(line, "checkpoint: compactor ") ||
	    strstr(line, "checkpoint: writing the snapshot")) {
		if (w->start_ns == 0)
			w->start_ns = now;
		if ((p = strstr(line, "spawn took ")) != NULL)
			w->spawn_us = strtoll(p + 11, NULL, 10);
		if ((p = strstr(line, "the loop ")) != NULL)
			w->start_us = strtoll(p + 9, NULL, 10);
	} else if ((p = strstr(line, "installing took ")) != NULL) {
		w->install_us = strtoll(p + 16, NULL, 10);
	} else if ((p = strstr(line, "state rebuilt in ")) != NULL) {
		w->rebuild_ms = strtoll(p + 17, NULL, 10);
	} else if ((p = strstr(line, " installed (")) != NULL &&
		   strstr(line, "checkpoint: ")) {
		if (w->end_ns == 0)
			w->end_ns = now;
		w->snap_kib = strtoll(p + 12, NULL, 10);
		if ((p = strstr(line, "written in ")) != NULL)
			w->write_ms = strtoll(p + 11, NULL, 10);
	} else if (strstr(line, "checkpoint") &&
		   (strstr(line, "nothing was installed") ||
		    strstr(line, "cannot"))) {
		bench_log("ckpt-latency: the engine says: %s", line);
		w->failed = true;
	}
}

/* Read what the log gained since the last call, line by line. */
static void watch_poll(struct ck_watch *w)
{
	uint64_t now = bench_now_ns();
	ssize_t n;

	while ((n = read(w->fd, w->buf + w->len, sizeof w->buf - 1 - w->len)) >
	       0) {
		char *nl;
		w->len += (size_t)n;
		w->buf[w->len] = 0;
		while ((nl = strchr(w->buf, '\n')) != NULL) {
			*nl = 0;
			watch_line(w, w->buf, now);
			w->len -= (size_t)(nl + 1 - w->buf);
			memmove(w->buf, nl + 1, w->len + 1);
		}
		if (w->len == sizeof w->buf - 1)
			w->len = 0; /* a line longer than ours: drop it */
	}
}

/* ---- one way ---------------------------------------------------------- */

static int run_cmd(const char *const argv[])
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		bench_log("ckpt-latency: %s failed", argv[0]);
		return -1;
	}
	return 0;
}

struct ck_figs {
	double before_max, before_p999, during_max, during_p999;
	size_t before_n, during_n;
	size_t during_over; /* bookings during it over CKPT_SLOW_NS */
	double worst_at_ms; /* when the slowest one during it started,
			       from the checkpoint's start line */
};

static void split(struct ck_client *cl, const struct ck_watch *w,
		  struct ck_figs *f)
{
	struct bench_samples before = {0}, during = {0};
	uint64_t lo = w->start_ns - CKPT_BEFORE_NS;
	uint64_t hi = w->end_ns + CKPT_AFTER_NS, worst = 0;

	f->during_over = 0;
	f->worst_at_ms = 0;
	for (size_t i = 0; i < cl->lat.n; i++) {
		uint64_t t0 = cl->t0.v[i], t1 = t0 + cl->lat.v[i];
		if (t1 < lo) {
			bench_samples_add(&before, cl->lat.v[i]);
		} else if (t0 <= hi) {
			bench_samples_add(&during, cl->lat.v[i]);
			f->during_over += cl->lat.v[i] > CKPT_SLOW_NS;
			if (cl->lat.v[i] > worst) {
				worst = cl->lat.v[i];
				f->worst_at_ms =
				    ((double)t0 - (double)w->start_ns) / 1e6;
			}
		}
	}
	f->before_n = before.n;
	f->during_n = during.n;
	f->before_max = (double)bench_samples_quantile(&before, 1.0) / 1e6;
	f->before_p999 = (double)bench_samples_quantile(&before, 0.999) / 1e6;
	f->during_max = (double)bench_samples_quantile(&during, 1.0) / 1e6;
	f->during_p999 = (double)bench_samples_quantile(&during, 0.999) / 1e6;
	bench_samples_free(&before);
	bench_samples_free(&during);
}

static void add(struct bench_ctx *x, enum way way, const char *what,
		const char *label, const char *unit, double v)
{
	char k[128], l[160];

	bench_fmt(k, sizeof k, "ckpt.%s.%s", way_name[way], what);
	bench_fmt(l, sizeof l, "%s: %s", way_name[way], label);
	bench_report_add1(x->rep, "ckpt-latency", k, l, unit, v);
}

/*
 * Restart a copy of src's data directory with a checkpoint due after
 * CKPT_DUE_MIB of new log and measure the booking client through it.
 */
static int one_way(struct bench_ctx *x, const struct bench_engine *src,
		   uint64_t due_mb, enum way way)
{
	struct bench_engine e;
	struct bench_shape sh;
	struct ck_client cl;
	struct ck_watch w;
	struct ck_figs f;
	char extra[160];
	uint64_t deadline;
	int64_t rss = 0, hwm = 0;
	int rc = -1;

	memset(&cl, 0, sizeof cl);
	memset(&w, 0, sizeof w);
	w.fd = -1;
	bench_fmt(extra, sizeof extra, "--sync off --checkpoint-mb %d %s",
		  CKPT_OFF_MB, x->engine_args ? x->engine_args : "");
	if (bench_engine_start(&e, x->bin, x->base, extra) < 0)
		return -1;
	bench_engine_kill9(&e);
	{
		const char *rm[] = {"rm", "-rf", e.data, NULL};
		const char *cp[] = {"cp", "-a", src->data, e.data, NULL};
		if (run_cmd(rm) < 0 || run_cmd(cp) < 0)
			goto out;
	}
	bench_fmt(e.extra, sizeof e.extra, "--checkpoint-mb %llu %s %s",
		  (unsigned long long)due_mb,
		  way == WAY_LOOP ? "--checkpoint-foreground" : "",
		  x->engine_args ? x->engine_args : "");
	w.fd = open(e.log, O_RDONLY | O_CLOEXEC);
	if (w.fd < 0 || lseek(w.fd, 0, SEEK_END) < 0) {
		bench_log("ckpt-latency: %s: %s", e.log, strerror(errno));
		goto out;
	}
	bench_log("ckpt-latency (%s): restarting on a copy of the loaded "
		  "data",
		  way_name[way]);
	if (bench_engine_restart(&e, CKPT_READY_MS, NULL) < 0)
		goto out;
	bench_engine_rss(&e, &rss, &hwm);
	bench_shape_init(&sh, x->nres, x->ndays);
	cl.e = &e;
	cl.sh = &sh;
	if (pthread_create(&cl.th, NULL, client_main, &cl) != 0) {
		bench_log("ckpt-latency: pthread_create failed");
		goto out;
	}
	deadline = bench_now_ns() + (uint64_t)CKPT_WAIT_MS * 1000000u;
	while (
	    (w.end_ns == 0 ||
	     bench_now_ns() < w.end_ns + (uint64_t)CKPT_TAIL_MS * 1000000u) &&
	    !w.failed && !cl.failed && bench_now_ns() < deadline) {
		bench_sleep_ms(CKPT_POLL_MS);
		watch_poll(&w);
	}
	atomic_store(&cl.stop, true);
	pthread_join(cl.th, NULL);
	if (w.end_ns == 0 || w.start_ns == 0 || cl.failed) {
		bench_log("ckpt-latency (%s): no checkpoint was installed "
			  "within %d s",
			  way_name[way], CKPT_WAIT_MS / 1000);
		goto out;
	}
	split(&cl, &w, &f);
	if (f.before_n == 0)
		bench_report_note(x->rep,
				  "ckpt-latency (%s): the checkpoint started "
				  "before any booking finished",
				  way_name[way]);
	bench_report_note(x->rep, "ckpt-latency: %s", way_label[way]);
	add(x, way, "during.max_ms", "booking max, during the checkpoint", "ms",
	    f.during_max);
	add(x, way, "during.p999_ms", "booking p99.9, during the checkpoint",
	    "ms", f.during_p999);
	add(x, way, "during.n", "bookings during the checkpoint", "",
	    (double)f.during_n);
	add(x, way, "during.over10", "of them over 10 ms", "",
	    (double)f.during_over);
	add(x, way, "during.worst_at_ms",
	    "the slowest started, from the start line", "ms", f.worst_at_ms);
	add(x, way, "before.max_ms", "booking max, before it", "ms",
	    f.before_max);
	add(x, way, "before.p999_ms", "booking p99.9, before it", "ms",
	    f.before_p999);
	add(x, way, "before.n", "bookings before it", "", (double)f.before_n);
	add(x, way, "ckpt_ms", "checkpoint, start to installed (seen)", "ms",
	    (double)(w.end_ns - w.start_ns) / 1e6);
	add(x, way, "write_ms", "snapshot written in (engine's log)", "ms",
	    (double)w.write_ms);
	add(x, way, "snapshot_mib", "snapshot size", "MiB",
	    (double)w.snap_kib / 1024.0);
	add(x, way, "install_ms",
	    "the loop's part of installing it (engine's log)", "ms",
	    (double)w.install_us / 1e3);
	if (way == WAY_SPAWN) {
		add(x, way, "spawn_ms", "posix_spawn (engine's log)", "ms",
		    (double)w.spawn_us / 1e3);
		add(x, way, "loop_stall_ms",
		    "the loop's part of starting it (engine's log)", "ms",
		    (double)w.start_us / 1e3);
		add(x, way, "rebuild_ms",
		    "compactor: snapshot load + log replay (its log)", "ms",
		    (double)w.rebuild_ms);
		add(x, way, "rss_mib", "engine VmRSS before", "MiB",
		    (double)rss / 1024.0);
	}
	rc = 0;
out:
	if (w.fd >= 0)
		close(w.fd);
	bench_samples_free(&cl.t0);
	bench_samples_free(&cl.lat);
	/* SIGKILL: a clean stop would write one more snapshot for nothing. */
	if (e.pid > 0)
		bench_engine_kill9(&e);
	bench_engine_cleanup(&e);
	return rc;
}

int sc_ckpt_latency(struct bench_ctx *x)
{
	struct bench_engine src;
	struct bench_shape wide;
	struct bench_load_result lr;
	struct bench_stats st;
	char extra[64];
	bookd_conn *c;
	uint64_t due_mb;
	int rc = -1;

	if (x->attach_sock) {
		bench_report_note(x->rep, "ckpt-latency: skipped, it restarts "
					  "the engine and cannot on an "
					  "attached one");
		return 0;
	}
	bench_fmt(extra, sizeof extra, "--sync off --checkpoint-mb %d",
		  CKPT_OFF_MB);
	if (bench_ctx_engine(x, &src, extra) < 0)
		return -1;
	bench_shape_init(&wide, x->nres, 700);
	bench_log("ckpt-latency: loading %llu bookings (book + cancel)",
		  (unsigned long long)x->ckpt_bookings);
	if (bench_load(&src, &wide, x->ckpt_bookings, true, 53, &lr) < 0)
		goto out;
	c = bench_engine_connect(&src);
	if (c == NULL)
		goto out;
	rc = bench_engine_stats(c, &st);
	bookd_close(c);
	if (rc < 0)
		goto out;
	rc = -1;
	/* SIGKILL: a clean stop would write a snapshot. */
	bench_engine_kill9(&src);
	due_mb = (uint64_t)st.log_bytes / 1048576 + CKPT_DUE_MIB;
	bench_report_add1(x->rep, "ckpt-latency", "ckpt.bookings",
			  "bookings in the checkpoint (booked, then cancelled)",
			  "", (double)st.bookings);
	if (one_way(x, &src, due_mb, WAY_SPAWN) < 0 ||
	    one_way(x, &src, due_mb, WAY_LOOP) < 0)
		goto out;
	rc = 0;
out:
	bench_engine_cleanup(&src);
	return rc;
}

/*
 * sc_read.c - read-mmap, read-socket, slots and history.  See sc_read.h.
 *
 * The reader figures run on one thread pinned to one CPU (ctx->cpu) and
 * cycle through a table of pre-drawn random questions, so the random
 * generator is not part of the figure while the pages touched stay random
 * (1,000 resources x 30 days of pages are several MiB, beyond the caches
 * the table shares).  The clock is read once per batch of questions.
 */
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "bookd_reader.h"
#include "quanta.h"
#include "sc_read.h"
#include "thin.h"
#include "util.h"
#include "wire.h"

#define NQ	       65536 /* pre-drawn questions, a power of two */
#define BATCH	       1024  /* reader calls between clock reads */
#define MONTH_DAYS     42    /* a six-week calendar grid */
#define SLOTS_DURATION 60    /* minutes, for slots.day and the month view */
#define MAX_DEPTH      1024

struct rq {
	uint32_t idx; /* the reader's index of the resource */
	uint32_t res; /* the shape's resource number */
	int64_t day, start, end;
};

/* ---- the reader ------------------------------------------------------- */

struct reader_set {
	bookd_reader *rd;
	uint32_t *idx; /* shape resource number -> reader index */
	struct rq *qs;
};

static int reader_set_open(const struct bench_engine *e,
			   const struct bench_shape *sh, uint64_t seed,
			   struct reader_set *s)
{
	struct bench_rng rng;
	int rc;

	memset(s, 0, sizeof *s);
	rc = bookd_reader_open(e->data, &s->rd);
	if (rc != 0) {
		bench_log("bookd_reader_open %s: %s", e->data,
			  bookd_strerror(rc));
		return -1;
	}
	s->idx = bench_calloc(sh->nres, sizeof *s->idx);
	for (uint32_t i = 0; i < sh->nres; i++) {
		char id[BENCH_ID_LEN];
		bench_res_id(i, id);
		rc = bookd_reader_resource(s->rd, id, &s->idx[i]);
		if (rc != 0) {
			bench_log("reader: resource %s: %s", id,
				  bookd_strerror(rc));
			goto fail;
		}
	}
	s->qs = bench_calloc(NQ, sizeof *s->qs);
	bench_rng_seed(&rng, seed);
	for (size_t i = 0; i < NQ; i++) {
		struct bench_span sp;
		bench_span_random(sh, &rng, &sp);
		s->qs[i] = (struct rq){s->idx[sp.res], sp.res, sp.day, sp.start,
				       sp.end};
	}
	return 0;
fail:
	bookd_reader_close(s->rd);
	free(s->idx);
	return -1;
}

static void reader_set_close(struct reader_set *s)
{
	bookd_reader_close(s->rd);
	free(s->idx);
	free(s->qs);
}

enum reader_op { R_CHECK, R_SLOTS_DAY, R_MONTH };

/* One call of the measured kind on question q; 0 or a bookd_err. */
static inline int reader_call(bookd_reader *rd, enum reader_op op,
			      const struct rq *q, uint64_t *busy)
{
	int64_t starts[BOOKD_READER_SLOTS];
	size_t n;
	enum bookd_reason why;
	int is_free, rc = 0;

	switch (op) {
	case R_CHECK:
		rc = bookd_reader_check(rd, q->idx, q->start, q->end, NULL,
					&is_free, &why);
		*busy += rc == 0 && !is_free;
		break;
	case R_SLOTS_DAY:
		rc = bookd_reader_slots_day(rd, q->idx, q->day, SLOTS_DURATION,
					    0, starts, &n);
		*busy += rc == 0 && n == 0;
		break;
	case R_MONTH:
		for (int k = 0; k < MONTH_DAYS && rc == 0; k++) {
			rc = bookd_reader_slots_day(rd, q->idx, q->day + k,
						    SLOTS_DURATION, 0, starts,
						    &n);
			*busy += rc == 0 && n == 0;
		}
		break;
	}
	return rc;
}

/*
 * Calls per second of op on the calling thread, pinned to cpu: warm_ms of
 * calls first, then run_ms counted.  *errors counts non-zero returns.
 */
static double reader_rate(struct bench_ctx *x, struct reader_set *s,
			  enum reader_op op, uint64_t *errors)
{
	uint64_t t0, t, n = 0, busy = 0;
	size_t i = 0;
	cpu_set_t saved;
	bool restore;

	restore = sched_getaffinity(0, sizeof saved, &saved) == 0;
	if (bench_pin_cpu(x->cpu) != 0)
		bench_log("cannot pin to CPU %d; measuring unpinned", x->cpu);
	for (int phase = 0; phase < 2; phase++) {
		uint64_t span = (phase ? x->run_ms : x->warm_ms) * 1000000u;
		n = 0;
		t0 = t = bench_now_ns();
		while (t - t0 < span) {
			for (int k = 0; k < BATCH; k++) {
				int rc = reader_call(
				    s->rd, op, &s->qs[i++ & (NQ - 1)], &busy);
				*errors += phase && rc != 0;
			}
			n += BATCH;
			t = bench_now_ns();
		}
	}
	if (restore)
		sched_setaffinity(0, sizeof saved, &saved);
	return (double)n / ((double)(t - t0) / 1e9);
}

/* Add "<key>.per_s" and "<key>.ns" (or .us) from per-repeat rates. */
static void add_rate(struct bench_ctx *x, const char *scen, const char *key,
		     const char *label, const char *what, double *rates, int n,
		     bool micro)
{
	double per[BENCH_MAX_REPEATS];
	char k[BENCH_KEY_MAX], l[BENCH_LABEL_MAX];

	for (int i = 0; i < n; i++)
		per[i] = (micro ? 1e6 : 1e9) / rates[i];
	bench_fmt(k, sizeof k, "%s.per_s", key);
	bench_fmt(l, sizeof l, "%s/s", label);
	bench_report_add(x->rep, scen, k, l, "/s", rates, (size_t)n);
	bench_fmt(k, sizeof k, "%s.%s", key, micro ? "us" : "ns");
	bench_fmt(l, sizeof l, "%s per %s", micro ? "us" : "ns", what);
	bench_report_add(x->rep, scen, k, l, micro ? "us" : "ns", per,
			 (size_t)n);
}

static void reader_figures(struct bench_ctx *x, struct reader_set *s,
			   enum reader_op op, const char *scen, const char *key,
			   const char *label, const char *what)
{
	double rates[BENCH_MAX_REPEATS];
	uint64_t errors = 0;
	int n = x->repeats;

	for (int r = 0; r < n; r++)
		rates[r] = reader_rate(x, s, op, &errors);
	add_rate(x, scen, key, label, what, rates, n, op == R_MONTH);
	if (errors) {
		struct bookd_reader_stats st;
		bookd_reader_stats(s->rd, &st);
		bench_report_note(x->rep,
				  "%s: %llu reader calls failed (stale %llu, "
				  "retries %llu)",
				  key, (unsigned long long)errors,
				  (unsigned long long)st.stale,
				  (unsigned long long)st.retries);
	}
}

/* ---- the socket ------------------------------------------------------- */

struct sock_worker {
	pthread_t th;
	const struct bench_engine *e;
	const struct bench_shape *sh;
	struct bench_phase *ph;
	enum bench_question q;
	enum bench_client cl;
	int depth;
	uint64_t seed;
	/* results */
	uint64_t count, errors;
	struct bench_samples lat;
	bool failed;
};

static const char *question_op(enum bench_question q)
{
	switch (q) {
	case BENCH_Q_CHECK:
		return "check";
	case BENCH_Q_SLOTS_DAY:
		return "slots.day";
	case BENCH_Q_SLOTS_MONTH:
		return "slots.month";
	case BENCH_Q_PING:
		return "ping";
	}
	return "?";
}

/* Pack the next random question into a; returns a, or NULL for a
 * question without arguments (ping). */
static bookd_args *make_question(struct sock_worker *w, struct bench_rng *rng,
				 bookd_args *a)
{
	struct bench_span sp;
	char id[BENCH_ID_LEN], from[11], to[11];

	if (w->q == BENCH_Q_PING)
		return NULL;
	bench_span_random(w->sh, rng, &sp);
	bench_res_id(sp.res, id);
	switch (w->q) {
	case BENCH_Q_CHECK:
		bench_pack_check(a, id, sp.start, sp.end);
		break;
	case BENCH_Q_SLOTS_DAY:
		q_format_date(sp.day, from);
		bench_pack_slots_day(a, id, from, SLOTS_DURATION);
		break;
	case BENCH_Q_SLOTS_MONTH:
		q_format_date(sp.day, from);
		q_format_date(sp.day + MONTH_DAYS - 1, to);
		bench_pack_slots_month(a, id, from, to, SLOTS_DURATION);
		break;
	case BENCH_Q_PING:
		break;
	}
	return a;
}

static void sync_loop(struct sock_worker *w, bookd_conn *c,
		      struct bench_rng *rng, bookd_args *a)
{
	const char *op = question_op(w->q);

	while (bench_phase_get(w->ph) != BENCH_STOP) {
		int ph0 = bench_phase_get(w->ph);
		uint64_t t0, t1;
		int rc;

		bookd_args *q = make_question(w, rng, a);
		t0 = bench_now_ns();
		rc = bookd_call_args(c, op, q, NULL);
		t1 = bench_now_ns();
		if (rc < 0 && bookd_broken(c)) {
			bench_log("%s: %s", op, bookd_errmsg(c));
			w->failed = true;
			return;
		}
		if (ph0 == BENCH_MEASURE &&
		    bench_phase_get(w->ph) == BENCH_MEASURE) {
			w->count++;
			w->errors += rc < 0;
			bench_samples_add(&w->lat, t1 - t0);
		}
	}
}

/* Keep depth requests in flight; a reply counts when its request was sent
 * in MEASURE and it arrived in MEASURE. */
static void pipe_loop(struct sock_worker *w, bookd_conn *c,
		      struct bench_rng *rng, bookd_args *a)
{
	const char *op = question_op(w->q);
	bool measured[MAX_DEPTH];
	size_t head = 0, inflight = 0;

	for (;;) {
		int rc;
		while (inflight < (size_t)w->depth &&
		       bench_phase_get(w->ph) != BENCH_STOP) {
			rc = bookd_send_args(c, op, make_question(w, rng, a),
					     NULL);
			if (rc < 0)
				goto broken;
			measured[(head + inflight) % MAX_DEPTH] =
			    bench_phase_get(w->ph) == BENCH_MEASURE;
			inflight++;
		}
		if (inflight == 0)
			return;
		rc = bookd_recv(c, NULL, NULL);
		if (rc < 0 && bookd_broken(c))
			goto broken;
		if (measured[head] && bench_phase_get(w->ph) == BENCH_MEASURE) {
			w->count++;
			w->errors += rc < 0;
		}
		head = (head + 1) % MAX_DEPTH;
		inflight--;
	}
broken:
	bench_log("%s: %s", op, bookd_errmsg(c));
	w->failed = true;
}

/*
 * The thin client's loop, as the Redis peer's: keep depth requests in
 * flight (1: synchronous), one send per refill, replies in order.  A reply
 * counts when its request was sent in MEASURE and it arrived in MEASURE.
 */
static void thin_loop(struct sock_worker *w, struct bench_rng *rng)
{
	bool measured[MAX_DEPTH];
	uint64_t sent_at[MAX_DEPTH];
	size_t head = 0, inflight = 0;
	struct thin_conn c;

	if (thin_connect(w->e->sock, &c) < 0) {
		w->failed = true;
		return;
	}
	for (;;) {
		bool ok;
		size_t k;

		while (inflight < (size_t)w->depth &&
		       bench_phase_get(w->ph) != BENCH_STOP) {
			k = (head + inflight) % MAX_DEPTH;
			if (w->q == BENCH_Q_PING) {
				thin_add_ping(&c);
			} else {
				struct bench_span sp;
				char id[BENCH_ID_LEN];
				bench_span_random(w->sh, rng, &sp);
				bench_res_id(sp.res, id);
				thin_add_check(&c, id, sp.start, sp.end);
			}
			measured[k] = bench_phase_get(w->ph) == BENCH_MEASURE;
			sent_at[k] = bench_now_ns();
			inflight++;
		}
		if (inflight == 0)
			break;
		if (c.wlen && thin_flush(&c) < 0)
			goto fail;
		if (thin_read(&c, w->q == BENCH_Q_CHECK, &ok) < 0)
			goto fail;
		if (measured[head] && bench_phase_get(w->ph) == BENCH_MEASURE) {
			w->count++;
			w->errors += !ok;
			if (w->depth <= 1)
				bench_samples_add(&w->lat, bench_now_ns() -
							       sent_at[head]);
		}
		head = (head + 1) % MAX_DEPTH;
		inflight--;
	}
	thin_close(&c);
	return;
fail:
	w->failed = true;
	thin_close(&c);
}

static void *sock_main(void *arg)
{
	struct sock_worker *w = arg;
	struct bench_rng rng;
	bookd_args *a;
	bookd_conn *c;

	if (w->cl == BENCH_THIN) {
		bench_rng_seed(&rng, w->seed);
		thin_loop(w, &rng);
		return NULL;
	}
	c = bench_engine_connect(w->e);

	if (c == NULL) {
		w->failed = true;
		return NULL;
	}
	a = bookd_args_new();
	if (a == NULL) {
		bench_log("out of memory");
		w->failed = true;
		bookd_close(c);
		return NULL;
	}
	bench_rng_seed(&rng, w->seed);
	if (w->depth <= 1)
		sync_loop(w, c, &rng, a);
	else
		pipe_loop(w, c, &rng, a);
	bookd_args_free(a);
	bookd_close(c);
	return NULL;
}

int bench_socket_run(struct bench_ctx *x, const struct bench_engine *e,
		     const struct bench_shape *sh, enum bench_question q,
		     enum bench_client cl, int nconn, int depth, uint64_t seed,
		     struct bench_sock_result *out)
{
	struct sock_worker *w = bench_calloc((size_t)nconn, sizeof *w);
	struct bench_samples all = {0};
	struct bench_phase ph = {0};
	uint64_t count = 0;
	int started = 0, rc = 0;

	if (depth > MAX_DEPTH)
		depth = MAX_DEPTH;
	memset(out, 0, sizeof *out);
	ph.cpu_pid = e->peer_pid;
	atomic_store(&ph.phase, BENCH_WARM);
	for (int i = 0; i < nconn; i++) {
		w[i] = (struct sock_worker){.e = e,
					    .sh = sh,
					    .ph = &ph,
					    .q = q,
					    .cl = cl,
					    .depth = depth,
					    .seed = seed * 1000 + (uint64_t)i};
		if (pthread_create(&w[i].th, NULL, sock_main, &w[i]) != 0) {
			bench_log("pthread_create failed");
			rc = -1;
			break;
		}
		started++;
	}
	if (rc == 0)
		bench_phase_drive(&ph, x->warm_ms, x->run_ms);
	else
		atomic_store(&ph.phase, BENCH_STOP);
	for (int i = 0; i < started; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].failed)
			rc = -1;
		count += w[i].count;
		out->errors += w[i].errors;
		bench_samples_merge(&all, &w[i].lat);
		bench_samples_free(&w[i].lat);
	}
	free(w);
	if (rc == 0) {
		out->per_s = (double)count / bench_phase_secs(&ph);
		out->p50_us = (double)bench_samples_quantile(&all, 0.50) / 1e3;
		out->p99_us = (double)bench_samples_quantile(&all, 0.99) / 1e3;
		out->cpu_us =
		    count && ph.cpu0 && ph.cpu1 > ph.cpu0
			? (double)(ph.cpu1 - ph.cpu0) / 1e3 / (double)count
			: 0;
	}
	bench_samples_free(&all);
	return rc;
}

/* The figures of one client kind, cl_key "" (libbookd) or ".thin". */
static void socket_report(struct bench_ctx *x, const char *scen,
			  const char *key, const char *cl_key,
			  const char *label, const char *cl_label,
			  double *s_rate, double *s_p50, double *s_p99,
			  double *p_rate, double *s_cpu, double *p_cpu)
{
	char k[BENCH_KEY_MAX], l[BENCH_LABEL_MAX];

	bench_fmt(k, sizeof k, "%s%s.sync.per_s", key, cl_key);
	bench_fmt(l, sizeof l, "%s/s, 1 connection, synchronous%s", label,
		  cl_label);
	bench_report_add(x->rep, scen, k, l, "/s", s_rate, (size_t)x->repeats);
	bench_fmt(k, sizeof k, "%s%s.sync.p50_us", key, cl_key);
	bench_fmt(l, sizeof l, "%s round trip p50, synchronous%s", label,
		  cl_label);
	bench_report_add(x->rep, scen, k, l, "us", s_p50, (size_t)x->repeats);
	bench_fmt(k, sizeof k, "%s%s.sync.p99_us", key, cl_key);
	bench_fmt(l, sizeof l, "%s round trip p99, synchronous%s", label,
		  cl_label);
	bench_report_add(x->rep, scen, k, l, "us", s_p99, (size_t)x->repeats);
	bench_fmt(k, sizeof k, "%s%s.pipe.per_s", key, cl_key);
	bench_fmt(l, sizeof l, "%s/s, %d connections x %d in flight%s", label,
		  x->pipe_conns, x->pipeline, cl_label);
	bench_report_add(x->rep, scen, k, l, "/s", p_rate, (size_t)x->repeats);
	bench_fmt(k, sizeof k, "%s%s.sync.cpu_us", key, cl_key);
	bench_fmt(l, sizeof l, "engine CPU per answer, synchronous%s",
		  cl_label);
	bench_report_add(x->rep, scen, k, l, "us", s_cpu, (size_t)x->repeats);
	bench_fmt(k, sizeof k, "%s%s.pipe.cpu_us", key, cl_key);
	bench_fmt(l, sizeof l, "engine CPU per answer, %d x %d%s",
		  x->pipe_conns, x->pipeline, cl_label);
	bench_report_add(x->rep, scen, k, l, "us", p_cpu, (size_t)x->repeats);
}

/*
 * Synchronous (1 connection) and pipelined (pipe_conns connections, each
 * with pipeline requests in flight) figures of question q, over repeats:
 * through libbookd, and for check also through the thin client (thin.h),
 * whose figures are the ones set against the Redis peer's.
 */
static int socket_figures(struct bench_ctx *x, const struct bench_engine *e,
			  const struct bench_shape *sh, enum bench_question q,
			  const char *scen, const char *key, const char *label)
{
	double s_rate[2][BENCH_MAX_REPEATS], s_p50[2][BENCH_MAX_REPEATS],
	    s_p99[2][BENCH_MAX_REPEATS], p_rate[2][BENCH_MAX_REPEATS],
	    s_cpu[2][BENCH_MAX_REPEATS], p_cpu[2][BENCH_MAX_REPEATS];
	int kinds = q == BENCH_Q_CHECK ? 2 : 1;
	uint64_t errors = 0;

	for (int r = 0; r < x->repeats; r++) {
		for (int i = 0; i < kinds; i++) {
			enum bench_client cl = i ? BENCH_THIN : BENCH_LIBBOOKD;
			struct bench_sock_result res;
			if (bench_socket_run(x, e, sh, q, cl, 1, 1,
					     100 + (uint64_t)r, &res) < 0)
				return -1;
			s_rate[i][r] = res.per_s;
			s_p50[i][r] = res.p50_us;
			s_p99[i][r] = res.p99_us;
			s_cpu[i][r] = res.cpu_us;
			errors += res.errors;
			if (bench_socket_run(x, e, sh, q, cl, x->pipe_conns,
					     x->pipeline, 200 + (uint64_t)r,
					     &res) < 0)
				return -1;
			p_rate[i][r] = res.per_s;
			p_cpu[i][r] = res.cpu_us;
			errors += res.errors;
		}
	}
	socket_report(x, scen, key, "", label, "", s_rate[0], s_p50[0],
		      s_p99[0], p_rate[0], s_cpu[0], p_cpu[0]);
	if (kinds > 1)
		socket_report(x, scen, key, ".thin", label, " (thin client)",
			      s_rate[1], s_p50[1], s_p99[1], p_rate[1],
			      s_cpu[1], p_cpu[1]);
	if (errors)
		bench_report_note(x->rep, "%s: %llu error replies", key,
				  (unsigned long long)errors);
	return 0;
}

/* ---- scenarios -------------------------------------------------------- */

/* An engine with the shape's resources and x->preload active bookings. */
static int read_engine(struct bench_ctx *x, struct bench_engine *e,
		       struct bench_shape *sh, const char *extra)
{
	struct bench_load_result lr;

	bench_shape_init(sh, x->nres, x->ndays);
	if (bench_ctx_engine(x, e, extra) < 0)
		return -1;
	if (x->preload && bench_load(e, sh, x->preload, false, 7, &lr) < 0) {
		bench_engine_cleanup(e);
		return -1;
	}
	return 0;
}

int sc_read_mmap(struct bench_ctx *x)
{
	struct bench_engine e;
	struct bench_shape sh;
	struct reader_set s;
	int rc;

	if (read_engine(x, &e, &sh, NULL) < 0)
		return -1;
	rc = reader_set_open(&e, &sh, 11, &s);
	if (rc == 0) {
		reader_figures(x, &s, R_CHECK, "read-mmap", "read-mmap",
			       "reader checks", "check");
		reader_set_close(&s);
	}
	bench_engine_cleanup(&e);
	return rc;
}

int sc_read_socket(struct bench_ctx *x)
{
	struct bench_engine e;
	struct bench_shape sh;
	int rc;

	if (read_engine(x, &e, &sh, NULL) < 0)
		return -1;
	rc = socket_figures(x, &e, &sh, BENCH_Q_CHECK, "read-socket",
			    "read-socket", "checks");
	bench_engine_cleanup(&e);
	return rc;
}

int sc_slots(struct bench_ctx *x)
{
	struct bench_engine e;
	struct bench_shape sh;
	struct reader_set s;
	int rc;

	if (read_engine(x, &e, &sh, NULL) < 0)
		return -1;
	rc = socket_figures(x, &e, &sh, BENCH_Q_SLOTS_DAY, "slots", "slots.day",
			    "slots.day");
	if (rc == 0)
		rc = socket_figures(x, &e, &sh, BENCH_Q_SLOTS_MONTH, "slots",
				    "slots.month", "slots.month (42 days)");
	if (rc == 0)
		rc = reader_set_open(&e, &sh, 13, &s);
	if (rc == 0) {
		reader_figures(x, &s, R_SLOTS_DAY, "slots", "slots.reader.day",
			       "reader slots_day", "day");
		reader_figures(x, &s, R_MONTH, "slots", "slots.reader.month",
			       "reader month views (42 x slots_day)",
			       "month view");
		reader_set_close(&s);
	}
	bench_engine_cleanup(&e);
	return rc;
}

/*
 * history: the same questions of an engine without history and of one with
 * x->history past bookings.  Started engines run side by side, with the
 * same active bookings (the same seed), and every repeat measures one and
 * then the other, so a change in the machine's load shows in both rather
 * than in the ratio.  An attached engine can only be measured before and
 * after loading it.
 */
struct hist_point {
	struct bench_engine e;
	struct reader_set rs;
	bool up, open;
	double mmap[BENCH_MAX_REPEATS], sync[BENCH_MAX_REPEATS],
	    p50[BENCH_MAX_REPEATS], p99[BENCH_MAX_REPEATS],
	    pipe[BENCH_MAX_REPEATS];
	uint64_t errors;
};

/* Repeat r of every figure at one point. */
static int hist_measure(struct bench_ctx *x, const struct bench_shape *sh,
			struct hist_point *p, int r)
{
	struct bench_sock_result res;

	p->mmap[r] = reader_rate(x, &p->rs, R_CHECK, &p->errors);
	if (bench_socket_run(x, &p->e, sh, BENCH_Q_CHECK, BENCH_LIBBOOKD, 1, 1,
			     400 + (uint64_t)r, &res) < 0)
		return -1;
	p->sync[r] = res.per_s;
	p->p50[r] = res.p50_us;
	p->p99[r] = res.p99_us;
	p->errors += res.errors;
	if (bench_socket_run(x, &p->e, sh, BENCH_Q_CHECK, BENCH_LIBBOOKD,
			     x->pipe_conns, x->pipeline, 500 + (uint64_t)r,
			     &res) < 0)
		return -1;
	p->pipe[r] = res.per_s;
	p->errors += res.errors;
	return 0;
}

static void hist_figures(struct bench_ctx *x, struct hist_point *p,
			 const char *tag, const char *what)
{
	char k[BENCH_KEY_MAX], l[BENCH_LABEL_MAX];
	size_t n = (size_t)x->repeats;

	bench_fmt(k, sizeof k, "history.%s.read-mmap", tag);
	bench_fmt(l, sizeof l, "%s: reader checks", what);
	add_rate(x, "history", k, l, "check", p->mmap, x->repeats, false);
	bench_fmt(k, sizeof k, "history.%s.read-socket.sync.per_s", tag);
	bench_fmt(l, sizeof l, "%s: checks/s, 1 connection", what);
	bench_report_add(x->rep, "history", k, l, "/s", p->sync, n);
	bench_fmt(k, sizeof k, "history.%s.read-socket.sync.p50_us", tag);
	bench_fmt(l, sizeof l, "%s: check round trip p50", what);
	bench_report_add(x->rep, "history", k, l, "us", p->p50, n);
	bench_fmt(k, sizeof k, "history.%s.read-socket.sync.p99_us", tag);
	bench_fmt(l, sizeof l, "%s: check round trip p99", what);
	bench_report_add(x->rep, "history", k, l, "us", p->p99, n);
	bench_fmt(k, sizeof k, "history.%s.read-socket.pipe.per_s", tag);
	bench_fmt(l, sizeof l, "%s: checks/s, %d connections x %d", what,
		  x->pipe_conns, x->pipeline);
	bench_report_add(x->rep, "history", k, l, "/s", p->pipe, n);
	if (p->errors)
		bench_report_note(x->rep, "history %s: %llu failed checks", tag,
				  (unsigned long long)p->errors);
}

/* The per-repeat ratio past / none of one figure. */
static void hist_ratio(struct bench_ctx *x, const double *none,
		       const double *past, const char *key, const char *label)
{
	double v[BENCH_MAX_REPEATS];

	for (int r = 0; r < x->repeats; r++)
		v[r] = none[r] > 0 ? past[r] / none[r] : 0;
	bench_report_add(x->rep, "history", key, label, "x", v,
			 (size_t)x->repeats);
}

/* Load x->history booked-and-cancelled bookings into p's engine. */
static int hist_load(struct bench_ctx *x, struct hist_point *p)
{
	struct bench_load_result lr;
	struct bench_shape wide;

	/* Past bookings spread over most of the window, booked and then
	 * cancelled: they stay in the booking store and the log, while the
	 * pages show only the active ones. */
	bench_shape_init(&wide, x->nres, 700);
	bench_log("history: loading %llu bookings (book + cancel)",
		  (unsigned long long)x->history);
	if (bench_load(&p->e, &wide, x->history, true, 23, &lr) < 0)
		return -1;
	bench_report_add1(x->rep, "history", "history.loaded",
			  "past bookings loaded (booked, then cancelled)", "",
			  (double)lr.booked);
	bench_report_add1(x->rep, "history", "history.load.per_s",
			  "loading: book + cancel pairs/s", "/s",
			  (double)lr.booked / ((double)lr.ns / 1e9));
	return 0;
}

int sc_history(struct bench_ctx *x)
{
	struct hist_point *p = bench_calloc(2, sizeof *p);
	bool attached = x->attach_sock != NULL;
	struct bench_shape sh;
	char what[64];
	int rc = -1;

	/* Loading is the long part and its durability is not measured. */
	for (int i = 0; i < (attached ? 1 : 2); i++) {
		if (read_engine(x, &p[i].e, &sh, "--sync off") < 0)
			goto out;
		p[i].up = true;
	}
	if (attached) {
		if (reader_set_open(&p[0].e, &sh, 17, &p[0].rs) < 0)
			goto out;
		p[0].open = true;
		for (int r = 0; r < x->repeats; r++)
			if (hist_measure(x, &sh, &p[0], r) < 0)
				goto out;
		if (hist_load(x, &p[0]) < 0)
			goto out;
		/* The same engine, now with history, is the second point. */
		p[1].rs = p[0].rs;
		p[1].e = p[0].e;
		for (int r = 0; r < x->repeats; r++)
			if (hist_measure(x, &sh, &p[1], r) < 0)
				goto out;
	} else {
		if (hist_load(x, &p[1]) < 0)
			goto out;
		for (int i = 0; i < 2; i++) {
			if (reader_set_open(&p[i].e, &sh, 17, &p[i].rs) < 0)
				goto out;
			p[i].open = true;
		}
		for (int r = 0; r < x->repeats; r++)
			for (int i = 0; i < 2; i++)
				if (hist_measure(x, &sh, &p[i], r) < 0)
					goto out;
	}
	bench_fmt(what, sizeof what, "%.3gM past",
		  bench_report_find(x->rep, "history.loaded")->median / 1e6);
	hist_figures(x, &p[0], "none", "no history");
	hist_figures(x, &p[1], "past", what);
	hist_ratio(x, p[0].mmap, p[1].mmap, "history.ratio.read-mmap.per_s",
		   "reader checks/s, past / none");
	hist_ratio(x, p[0].sync, p[1].sync,
		   "history.ratio.read-socket.sync.per_s",
		   "socket checks/s synchronous, past / none");
	hist_ratio(x, p[0].pipe, p[1].pipe,
		   "history.ratio.read-socket.pipe.per_s",
		   "socket checks/s pipelined, past / none");
	rc = 0;
out:
	/* An attached engine's point 1 shares point 0's reader. */
	for (int i = 0; i < (attached ? 1 : 2); i++) {
		if (p[i].open)
			reader_set_close(&p[i].rs);
		if (p[i].up)
			bench_engine_cleanup(&p[i].e);
	}
	free(p);
	return rc;
}

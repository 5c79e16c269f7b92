/*
 * sc_write.c - book and hold.  See sc_write.h.
 *
 * book: each client is a thread with its own connection and one request in
 * flight (closed loop), booking random spans of the shape.  Every repeat
 * runs on a fresh engine (unless attached), so a repeat does not inherit
 * the previous one's fill level and its conflict rate.  Latency
 * percentiles are of successful (durable) bookings; conflicts answer
 * without waiting for the log and are reported as a share of replies.  The
 * WAL group size is the engine's records / commits over the timed phase.
 *
 * hold: 1,000 connections subscribe to the holds of one resource-day.  A
 * holder moves its hold between two spans of that day (each move is a
 * replacement, which pushes); after each move the harness waits, on one
 * epoll set over all subscribers, until every subscriber has its push.  The
 * delay of a push is from just before the holder sends the request to the
 * moment the harness reads the push, so it includes the hold's own trip to
 * the engine and the harness's pass over the ready subscribers.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "quanta.h"
#include "sc_write.h"
#include "util.h"
#include "wire.h"

#define PUSH_WAIT_MS 2000 /* bound on one hold's fan-out */

/* ---- book ------------------------------------------------------------- */

struct book_worker {
	pthread_t th;
	const struct bench_engine *e;
	const struct bench_shape *sh;
	struct bench_phase *ph;
	uint64_t seed;
	bookd_conn *c;
	/* results */
	uint64_t ok, conflicts, other;
	struct bench_samples lat;
	bool failed;
};

static void *book_main(void *arg)
{
	struct book_worker *w = arg;
	struct bench_rng rng;
	bookd_args *a = bookd_args_new();

	if (a == NULL) {
		bench_log("book: out of memory");
		w->failed = true;
		return NULL;
	}
	bench_rng_seed(&rng, w->seed);
	while (bench_phase_get(w->ph) != BENCH_STOP) {
		int ph0 = bench_phase_get(w->ph);
		struct bench_span sp;
		char id[BENCH_ID_LEN];
		uint64_t t0, t1;
		int rc;

		bench_span_random(w->sh, &rng, &sp);
		bench_res_id(sp.res, id);
		bench_pack_book(a, id, sp.start, sp.end);
		t0 = bench_now_ns();
		rc = bookd_call_args(w->c, "book", a, NULL);
		t1 = bench_now_ns();
		if (rc < 0 && bookd_broken(w->c)) {
			bench_log("book: %s", bookd_errmsg(w->c));
			w->failed = true;
			break;
		}
		if (ph0 != BENCH_MEASURE ||
		    bench_phase_get(w->ph) != BENCH_MEASURE)
			continue;
		if (rc == 0) {
			w->ok++;
			bench_samples_add(&w->lat, t1 - t0);
		} else if (rc == BOOKD_E_CONFLICT) {
			w->conflicts++;
		} else {
			w->other++;
		}
	}
	bookd_args_free(a);
	return NULL;
}

struct book_result {
	double per_s, replies_s, conflict_pct, p50, p99, p999, group;
	double fsyncs_s;
	double cpu_us; /* the engine's CPU per booking */
	uint64_t other;
};

/* One timed run of nclients on engine e. */
static int book_once(struct bench_ctx *x, const struct bench_engine *e,
		     const struct bench_shape *sh, int nclients, uint64_t seed,
		     struct book_result *out)
{
	struct book_worker *w = bench_calloc((size_t)nclients, sizeof *w);
	struct bench_stats s0 = {0}, s1 = {0};
	struct bench_samples all = {0};
	struct bench_phase ph = {0};
	uint64_t ok = 0, conflicts = 0;
	bookd_conn *admin;
	int started = 0, rc = 0;
	double secs;

	memset(out, 0, sizeof *out);
	admin = bench_engine_connect(e);
	if (admin == NULL) {
		free(w);
		return -1;
	}
	/* Connect every client before the clock starts. */
	for (int i = 0; i < nclients; i++) {
		w[i] = (struct book_worker){.e = e,
					    .sh = sh,
					    .ph = &ph,
					    .seed = seed * 1000 + (uint64_t)i};
		w[i].c = bench_engine_connect(e);
		if (w[i].c == NULL) {
			rc = -1;
			break;
		}
	}
	atomic_store(&ph.phase, BENCH_WARM);
	for (int i = 0; rc == 0 && i < nclients; i++) {
		if (pthread_create(&w[i].th, NULL, book_main, &w[i]) != 0) {
			bench_log("pthread_create failed");
			rc = -1;
			break;
		}
		started++;
	}
	if (rc == 0) {
		bench_sleep_ms(x->warm_ms);
		rc = bench_engine_stats(admin, &s0);
		ph.cpu0 = bench_proc_cpu_ns(e->peer_pid);
		ph.t0 = bench_now_ns();
		atomic_store(&ph.phase, BENCH_MEASURE);
		bench_sleep_ms(x->run_ms);
		atomic_store(&ph.phase, BENCH_STOP);
		ph.t1 = bench_now_ns();
		ph.cpu1 = bench_proc_cpu_ns(e->peer_pid);
		if (rc == 0)
			rc = bench_engine_stats(admin, &s1);
	}
	atomic_store(&ph.phase, BENCH_STOP);
	for (int i = 0; i < started; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].failed)
			rc = -1;
		ok += w[i].ok;
		conflicts += w[i].conflicts;
		out->other += w[i].other;
		bench_samples_merge(&all, &w[i].lat);
	}
	for (int i = 0; i < nclients; i++) {
		bench_samples_free(&w[i].lat);
		if (w[i].c)
			bookd_close(w[i].c);
	}
	free(w);
	bookd_close(admin);
	if (rc == 0) {
		secs = bench_phase_secs(&ph);
		out->per_s = (double)ok / secs;
		out->replies_s = (double)(ok + conflicts + out->other) / secs;
		out->conflict_pct =
		    ok + conflicts
			? 100.0 * (double)conflicts / (double)(ok + conflicts)
			: 0;
		out->p50 = (double)bench_samples_quantile(&all, 0.50) / 1e3;
		out->p99 = (double)bench_samples_quantile(&all, 0.99) / 1e3;
		out->p999 = (double)bench_samples_quantile(&all, 0.999) / 1e3;
		out->group = s1.commits > s0.commits
				 ? (double)(s1.records - s0.records) /
				       (double)(s1.commits - s0.commits)
				 : 0;
		out->fsyncs_s = (double)(s1.fsyncs - s0.fsyncs) / secs;
		out->cpu_us =
		    ok && ph.cpu0 && ph.cpu1 > ph.cpu0
			? (double)(ph.cpu1 - ph.cpu0) / 1e3 / (double)ok
			: 0;
	}
	bench_samples_free(&all);
	return rc;
}

static void add_series(struct bench_ctx *x, const char *key, const char *k2,
		       const char *label, const char *unit, double *v)
{
	char k[BENCH_KEY_MAX];

	bench_fmt(k, sizeof k, "%s.%s", key, k2);
	bench_report_add(x->rep, "book", k, label, unit, v, (size_t)x->repeats);
}

/* Every concurrency level at one sync setting. */
static int book_level(struct bench_ctx *x, bool sync, int nclients)
{
	double per[BENCH_MAX_REPEATS], rep[BENCH_MAX_REPEATS],
	    cpct[BENCH_MAX_REPEATS], p50[BENCH_MAX_REPEATS],
	    p99[BENCH_MAX_REPEATS], p999[BENCH_MAX_REPEATS],
	    grp[BENCH_MAX_REPEATS], fs[BENCH_MAX_REPEATS],
	    cpu[BENCH_MAX_REPEATS];
	char key[BENCH_KEY_MAX], l[BENCH_LABEL_MAX];
	const char *mode = sync ? "sync" : "nosync";
	struct bench_shape sh;
	uint64_t other = 0;

	bench_shape_init(&sh, x->nres, x->ndays);
	for (int r = 0; r < x->repeats; r++) {
		struct bench_engine e;
		struct book_result res;
		int rc;

		if (bench_ctx_engine(x, &e, sync ? NULL : "--sync off") < 0)
			return -1;
		rc = book_once(x, &e, &sh, nclients,
			       (uint64_t)nclients * 100 + (uint64_t)r, &res);
		bench_engine_cleanup(&e);
		if (rc < 0)
			return -1;
		per[r] = res.per_s;
		rep[r] = res.replies_s;
		cpct[r] = res.conflict_pct;
		p50[r] = res.p50;
		p99[r] = res.p99;
		p999[r] = res.p999;
		grp[r] = res.group;
		fs[r] = res.fsyncs_s;
		cpu[r] = res.cpu_us;
		other += res.other;
	}
	bench_fmt(key, sizeof key, "book.%s.c%d", mode, nclients);
	bench_fmt(l, sizeof l, "%s, %d clients: bookings/s", mode, nclients);
	add_series(x, key, "per_s", l, "/s", per);
	bench_fmt(l, sizeof l, "%s, %d clients: replies/s (with conflicts)",
		  mode, nclients);
	add_series(x, key, "replies_s", l, "/s", rep);
	bench_fmt(l, sizeof l, "%s, %d clients: conflicts", mode, nclients);
	add_series(x, key, "conflict_pct", l, "%", cpct);
	bench_fmt(l, sizeof l, "%s, %d clients: booking latency p50", mode,
		  nclients);
	add_series(x, key, "p50_us", l, "us", p50);
	bench_fmt(l, sizeof l, "%s, %d clients: booking latency p99", mode,
		  nclients);
	add_series(x, key, "p99_us", l, "us", p99);
	bench_fmt(l, sizeof l, "%s, %d clients: booking latency p999", mode,
		  nclients);
	add_series(x, key, "p999_us", l, "us", p999);
	bench_fmt(l, sizeof l, "%s, %d clients: WAL records per group", mode,
		  nclients);
	add_series(x, key, "group", l, "", grp);
	bench_fmt(l, sizeof l,
		  "%s, %d clients: engine CPU per booking (/proc, all threads)",
		  mode, nclients);
	add_series(x, key, "cpu_us", l, "us", cpu);
	if (sync) {
		bench_fmt(l, sizeof l, "%s, %d clients: fsyncs/s", mode,
			  nclients);
		add_series(x, key, "fsyncs_s", l, "/s", fs);
	}
	if (other)
		bench_report_note(x->rep,
				  "%s: %llu replies other than ok or "
				  "CONFLICT",
				  key, (unsigned long long)other);
	return 0;
}

int sc_book(struct bench_ctx *x)
{
	for (size_t i = 0; i < x->nclients; i++)
		if (book_level(x, true, x->clients[i]) < 0)
			return -1;
	if (x->attach_sock) {
		bench_report_note(x->rep, "book: attached to a running engine, "
					  "so no --sync off reference line");
		return 0;
	}
	for (size_t i = 0; i < x->nclients; i++)
		if (book_level(x, false, x->clients[i]) < 0)
			return -1;
	return 0;
}

/* ---- hold ------------------------------------------------------------- */

struct hb_worker {
	pthread_t th;
	const struct bench_engine *e;
	const struct bench_shape *sh;
	struct bench_phase *ph;
	uint32_t res; /* this worker's resource */
	bool move;    /* true: alternate two spans (new holds); false: renew */
	uint64_t count, errors;
	bool failed;
};

static void *hb_main(void *arg)
{
	struct hb_worker *w = arg;
	char id[BENCH_ID_LEN], session[32];
	int64_t base = w->sh->day0 * 86400 + 40 * 900;
	bookd_conn *c = bench_engine_connect(w->e);
	uint64_t i = 0;

	if (c == NULL) {
		w->failed = true;
		return NULL;
	}
	bench_res_id(w->res, id);
	snprintf(session, sizeof session, "bench-hb-%u", w->res);
	while (bench_phase_get(w->ph) != BENCH_STOP) {
		int ph0 = bench_phase_get(w->ph);
		int64_t start =
		    base + (w->move ? (int64_t)(i & 1) * 8 * 900 : 0);
		int rc =
		    bookd_hold(c, id, start, start + 4 * 900, session, NULL);
		i++;
		if (rc < 0 && bookd_broken(c)) {
			bench_log("hold: %s", bookd_errmsg(c));
			w->failed = true;
			break;
		}
		if (ph0 == BENCH_MEASURE &&
		    bench_phase_get(w->ph) == BENCH_MEASURE) {
			w->count++;
			w->errors += rc < 0;
		}
	}
	bookd_close(c);
	return NULL;
}

/* Heartbeats per second of nclients, each on its own resource (from 1,
 * so the subscribed resource 0 is left to the push measurement). */
static int heartbeat_once(struct bench_ctx *x, const struct bench_engine *e,
			  const struct bench_shape *sh, int nclients, bool move,
			  double *per_s, uint64_t *errors)
{
	struct hb_worker *w = bench_calloc((size_t)nclients, sizeof *w);
	struct bench_phase ph = {0};
	uint64_t count = 0;
	int started = 0, rc = 0;

	atomic_store(&ph.phase, BENCH_WARM);
	for (int i = 0; i < nclients; i++) {
		w[i] =
		    (struct hb_worker){.e = e,
				       .sh = sh,
				       .ph = &ph,
				       .res = 1 + (uint32_t)i % (sh->nres - 1),
				       .move = move};
		if (pthread_create(&w[i].th, NULL, hb_main, &w[i]) != 0) {
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
		rc |= w[i].failed ? -1 : 0;
		count += w[i].count;
		*errors += w[i].errors;
	}
	free(w);
	if (rc == 0)
		*per_s = (double)count / bench_phase_secs(&ph);
	return rc;
}

/*
 * Subscribers speak the protocol directly on their sockets: one subscribe
 * request and its reply, then pushes read with one read() per ready socket.
 * Through libbookd each push cost the harness several system calls (poll,
 * read, and a poll that finds nothing), and with a thousand subscribers on
 * one thread that cost, not the engine's, set the measured delay.
 */
struct sub {
	int fd;
	size_t len; /* bytes in buf not yet framed */
	char buf[4096];
};

struct subs {
	struct sub *s;
	uint32_t n;
	int ep;
};

static void subs_close(struct subs *s)
{
	for (uint32_t i = 0; i < s->n; i++)
		close(s->s[i].fd);
	free(s->s);
	if (s->ep >= 0)
		close(s->ep);
}

/*
 * Take the complete frames at the front of b->buf: each is checked to be
 * a map (a push, or the subscribe reply with ok true when want_reply).
 * Returns the frames taken, or -1 on a bad frame.
 */
static int sub_frames(struct sub *b, bool want_reply)
{
	const char *body;
	size_t blen, used, off = 0;
	int n = 0, r;

	while ((r = wire_frame_next(b->buf + off, b->len - off, &body, &blen,
				    &used)) == 1) {
		msgpack_unpacked up;
		bool ok;

		msgpack_unpacked_init(&up);
		ok = msgpack_unpack_next(&up, body, blen, NULL) ==
			 MSGPACK_UNPACK_SUCCESS &&
		     up.data.type == MSGPACK_OBJECT_MAP;
		if (ok && want_reply) {
			const msgpack_object *v = wire_get(&up.data, "ok");
			ok = v && v->type == MSGPACK_OBJECT_BOOLEAN &&
			     v->via.boolean;
		} else if (ok) {
			ok = wire_get(&up.data, "push") != NULL;
		}
		msgpack_unpacked_destroy(&up);
		if (!ok)
			return -1;
		off += used;
		n++;
	}
	if (r < 0)
		return -1;
	memmove(b->buf, b->buf + off, b->len - off);
	b->len -= off;
	return n;
}

/* Connect and subscribe to the holds of (res, date); the socket is left
 * non-blocking. */
static int sub_open(const char *path, const char *res, const char *date,
		    struct sub *b)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {BENCH_CALL_MS / 1000, 0};
	struct wbuf w = {0};
	msgpack_packer pk;
	size_t off;

	errno = 0;
	b->len = 0;
	b->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (b->fd < 0 || strlcpy(sun.sun_path, path, sizeof sun.sun_path) >=
			     sizeof sun.sun_path)
		goto io;
	if (setsockopt(b->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(b->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
	    connect(b->fd, (struct sockaddr *)&sun, sizeof sun) < 0)
		goto io;
	wbuf_packer_init(&pk, &w);
	off = wire_frame_begin(&w);
	msgpack_pack_map(&pk, 3);
	wire_pk_kint(&pk, "id", 1);
	wire_pk_kstr(&pk, "op", "subscribe");
	wire_pk_str(&pk, "args");
	msgpack_pack_map(&pk, 4);
	wire_pk_kstr(&pk, "topic", "holds");
	wire_pk_kstr(&pk, "resource", res);
	wire_pk_kstr(&pk, "from", date);
	wire_pk_kstr(&pk, "to", date);
	wire_frame_end(&w, off);
	if (send(b->fd, w.data, w.len, MSG_NOSIGNAL) != (ssize_t)w.len) {
		wbuf_free(&w);
		goto io;
	}
	wbuf_free(&w);
	for (;;) {
		ssize_t r =
		    read(b->fd, b->buf + b->len, sizeof b->buf - b->len);
		int n;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto io;
		b->len += (size_t)r;
		n = sub_frames(b, true);
		if (n < 0) {
			bench_log("subscribe: refused or malformed reply");
			return -1;
		}
		if (n > 0)
			break;
	}
	if (fcntl(b->fd, F_SETFL, O_NONBLOCK) < 0)
		goto io;
	return 0;
io:
	bench_log("subscriber on %s: %s", path,
		  errno ? strerror(errno) : "connection closed");
	return -1;
}

/* n subscribers to the holds of (res, day), in one epoll set whose events
 * carry the subscriber's index. */
static int subs_open(const struct bench_engine *e, const char *res, int64_t day,
		     uint32_t n, struct subs *s)
{
	char date[11];
	struct rlimit rl;

	/* Each subscriber is a descriptor; make room for them. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 256) {
		rl.rlim_cur = rl.rlim_max < n + 256 ? rl.rlim_max : n + 256;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	q_format_date(day, date);
	s->s = bench_calloc(n, sizeof *s->s);
	s->n = 0;
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0) {
		bench_log("epoll_create1: %s", strerror(errno));
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
		if (sub_open(e->sock, res, date, &s->s[i]) < 0) {
			if (s->s[i].fd >= 0)
				close(s->s[i].fd);
			return -1;
		}
		s->n++;
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->s[i].fd, &ev) < 0) {
			bench_log("epoll_ctl: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * Move the holder's hold once and collect one push per subscriber; each
 * arrival's delay since t0 goes to lat.  Returns the pushes that did not
 * come within PUSH_WAIT_MS, or -1 on a broken connection.
 */
static int64_t push_round(struct subs *s, bookd_conn *holder, const char *res,
			  int64_t start, struct bench_samples *lat, bool *got)
{
	uint64_t t0, deadline;
	uint32_t have = 0;
	bookd_args *a = bookd_args_new();
	int rc;

	memset(got, 0, s->n * sizeof *got);
	if (a == NULL) {
		bench_log("hold: out of memory");
		return -1;
	}
	bench_pack_hold(a, res, start, start + 4 * 900, "bench-pusher");
	t0 = bench_now_ns();
	deadline = t0 + PUSH_WAIT_MS * 1000000ull;
	rc = bookd_send_args(holder, "hold", a, NULL);
	bookd_args_free(a);
	if (rc < 0) {
		bench_log("hold: %s", bookd_errmsg(holder));
		return -1;
	}
	while (have < s->n) {
		struct epoll_event ev[64];
		uint64_t now = bench_now_ns();
		int n;

		if (now >= deadline)
			break;
		n = epoll_wait(s->ep, ev, 64,
			       (int)((deadline - now) / 1000000u) + 1);
		if (n < 0 && errno != EINTR) {
			bench_log("epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++) {
			struct sub *b = &s->s[ev[i].data.u32];
			ssize_t r = read(b->fd, b->buf + b->len,
					 sizeof b->buf - b->len);
			int frames;

			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				bench_log("subscriber: %s",
					  r ? strerror(errno)
					    : "connection closed");
				return -1;
			}
			b->len += (size_t)r;
			frames = sub_frames(b, false);
			if (frames < 0) {
				bench_log("subscriber: a frame that is not a "
					  "push");
				return -1;
			}
			if (frames > 0 && !got[ev[i].data.u32]) {
				got[ev[i].data.u32] = true;
				have++;
				bench_samples_add(lat, bench_now_ns() - t0);
			}
		}
	}
	rc = bookd_recv(holder, NULL, NULL);
	if (rc < 0) {
		bench_log("hold: %s", bookd_errmsg(holder));
		return -1;
	}
	return (int64_t)(s->n - have);
}

int sc_hold(struct bench_ctx *x)
{
	double renew[BENCH_MAX_REPEATS], moves[BENCH_MAX_REPEATS],
	    p50[BENCH_MAX_REPEATS], p99[BENCH_MAX_REPEATS],
	    last[BENCH_MAX_REPEATS];
	struct bench_samples lat = {0};
	struct subs s = {.ep = -1};
	struct bench_engine e;
	struct bench_shape sh;
	char res[BENCH_ID_LEN], l[BENCH_LABEL_MAX];
	bookd_conn *holder = NULL;
	uint64_t errors = 0, missing = 0, round = 0;
	bool *got = NULL;
	int rc = -1;

	bench_shape_init(&sh, x->nres, x->ndays);
	if (bench_ctx_engine(x, &e, NULL) < 0)
		return -1;
	bench_res_id(0, res);
	bench_log("hold: connecting %u subscribers", x->subscribers);
	if (subs_open(&e, res, sh.day0, x->subscribers, &s) < 0)
		goto out;
	for (int r = 0; r < x->repeats; r++) {
		if (heartbeat_once(x, &e, &sh, x->pipe_conns, false, &renew[r],
				   &errors) < 0 ||
		    heartbeat_once(x, &e, &sh, x->pipe_conns, true, &moves[r],
				   &errors) < 0)
			goto out;
	}
	bench_fmt(l, sizeof l, "renewals/s, %d clients", x->pipe_conns);
	bench_report_add(x->rep, "hold", "hold.renew.per_s", l, "/s", renew,
			 (size_t)x->repeats);
	bench_fmt(l, sizeof l, "new holds (moves)/s, %d clients",
		  x->pipe_conns);
	bench_report_add(x->rep, "hold", "hold.move.per_s", l, "/s", moves,
			 (size_t)x->repeats);
	if (errors)
		bench_report_note(x->rep,
				  "hold: %llu error replies to "
				  "heartbeats",
				  (unsigned long long)errors);

	holder = bench_engine_connect(&e);
	if (holder == NULL)
		goto out;
	got = bench_calloc(s.n, sizeof *got);
	for (int r = 0; r < x->repeats; r++) {
		struct bench_samples junk = {0};
		/* A few rounds first, so connections and caches are warm.
		 * Every round moves the hold to the other span: the same span
		 * again would be a renewal, which pushes nothing. */
		for (uint32_t i = 0; i < 5; i++) {
			int64_t m = push_round(
			    &s, holder, res,
			    sh.day0 * 86400 + (int64_t)(round & 1) * 8 * 900,
			    &junk, got);
			round++;
			if (m < 0)
				goto out;
		}
		bench_samples_free(&junk);
		lat.n = 0;
		for (uint32_t i = 0; i < x->pushes; i++) {
			int64_t m = push_round(
			    &s, holder, res,
			    sh.day0 * 86400 + (int64_t)(round & 1) * 8 * 900,
			    &lat, got);
			round++;
			if (m < 0)
				goto out;
			missing += (uint64_t)m;
		}
		p50[r] = (double)bench_samples_quantile(&lat, 0.50) / 1e3;
		p99[r] = (double)bench_samples_quantile(&lat, 0.99) / 1e3;
		last[r] = (double)bench_samples_quantile(&lat, 1.0) / 1e3;
	}
	bench_fmt(l, sizeof l, "hold -> push delay p50, %u subscribers", s.n);
	bench_report_add(x->rep, "hold", "hold.push.p50_us", l, "us", p50,
			 (size_t)x->repeats);
	bench_fmt(l, sizeof l, "hold -> push delay p99, %u subscribers", s.n);
	bench_report_add(x->rep, "hold", "hold.push.p99_us", l, "us", p99,
			 (size_t)x->repeats);
	bench_fmt(l, sizeof l, "hold -> last of %u pushes (max)", s.n);
	bench_report_add(x->rep, "hold", "hold.push.max_us", l, "us", last,
			 (size_t)x->repeats);
	if (missing)
		bench_report_note(x->rep,
				  "hold: %llu pushes did not arrive within "
				  "%d ms",
				  (unsigned long long)missing, PUSH_WAIT_MS);
	rc = 0;
out:
	free(got);
	bench_samples_free(&lat);
	if (holder)
		bookd_close(holder);
	subs_close(&s);
	bench_engine_cleanup(&e);
	return rc;
}

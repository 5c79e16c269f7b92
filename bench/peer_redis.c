/*
 * peer_redis.c - Redis driven with the book and read scenarios' shape.  See
 * peer_redis.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "peer_redis.h"
#include "util.h"

#define MAX_DEPTH 1024

/*
 * KEYS[1] the day's bitmap; ARGV: start slot, slots, resource, day, name,
 * email.  Returns the new booking's id, or 0 when a slot is taken.
 */
static const char BOOK_LUA[] =
    "local n = tonumber(ARGV[2])\n"
    "local t = 'u' .. n\n"
    "local got = redis.call('BITFIELD', KEYS[1], 'GET', t, ARGV[1])\n"
    "if got[1] ~= 0 then return 0 end\n"
    "redis.call('BITFIELD', KEYS[1], 'SET', t, ARGV[1], 2 ^ n - 1)\n"
    "local id = redis.call('INCR', 'booking:next')\n"
    "redis.call('HSET', 'booking:' .. id, 'resource', ARGV[3], 'day', "
    "ARGV[4], 'start', ARGV[1], 'slots', n, 'name', ARGV[5], 'email', "
    "ARGV[6])\n"
    "return id\n";

struct rconn {
	int fd;
	struct bench_rbuf in; /* received, not yet parsed */
	char *wb;	      /* commands not yet written */
	size_t wlen, wcap;
};

struct rreply {
	char type;     /* '+', '-', ':' or '$' */
	int64_t num;   /* ':' */
	const char *s; /* '+', '-', '$' (NULL for a nil bulk) */
	size_t len;
};

static void r_close(struct rconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in.b);
	free(c->wb);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

static int r_connect(const char *path, struct rconn *c)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {BENCH_CALL_MS / 1000, 0};

	memset(c, 0, sizeof *c);
	c->fd = -1;
	if (strlcpy(sun.sun_path, path, sizeof sun.sun_path) >=
	    sizeof sun.sun_path) {
		bench_log("%s: socket path too long", path);
		return -1;
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
	    connect(c->fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		bench_log("redis %s: %s", path, strerror(errno));
		r_close(c);
		return -1;
	}
	return 0;
}

static void w_put(struct rconn *c, const char *p, size_t n)
{
	if (c->wcap - c->wlen < n) {
		size_t cap = c->wcap ? c->wcap : 4096;
		while (cap - c->wlen < n)
			cap *= 2;
		c->wb = bench_reallocarray(c->wb, cap, 1);
		c->wcap = cap;
	}
	memcpy(c->wb + c->wlen, p, n);
	c->wlen += n;
}

/* Append one command (argc strings) to the write buffer. */
static void r_append(struct rconn *c, int argc, const char *const *argv)
{
	char h[32];
	int hn = snprintf(h, sizeof h, "*%d\r\n", argc);

	w_put(c, h, (size_t)hn);
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);
		hn = snprintf(h, sizeof h, "$%zu\r\n", n);
		w_put(c, h, (size_t)hn);
		w_put(c, argv[i], n);
		w_put(c, "\r\n", 2);
	}
}

static int r_flush(struct rconn *c)
{
	if (bench_send_all(c->fd, c->wb, c->wlen, "redis") < 0)
		return -1;
	c->wlen = 0;
	return 0;
}

/* The length of the CRLF-terminated line at rpos (without CRLF). */
static int r_line(struct rconn *c, size_t *len)
{
	size_t scanned = 0;

	for (;;) {
		char *p = memchr(c->in.b + c->in.pos + scanned, '\n',
				 c->in.len - c->in.pos - scanned);
		if (p) {
			size_t n = (size_t)(p - (c->in.b + c->in.pos));
			if (n == 0 || p[-1] != '\r') {
				bench_log("redis: malformed reply line");
				return -1;
			}
			*len = n - 1;
			return 0;
		}
		scanned = c->in.len - c->in.pos;
		if (bench_recv_need(c->fd, &c->in, scanned + 1, "redis") < 0)
			return -1;
	}
}

/* Read one reply; its strings point into the buffer until the next read. */
static int r_read(struct rconn *c, struct rreply *out)
{
	size_t n;
	char *p;

	if (bench_recv_need(c->fd, &c->in, 1, "redis") < 0 || r_line(c, &n) < 0)
		return -1;
	p = c->in.b + c->in.pos;
	out->type = p[0];
	out->s = p + 1;
	out->len = n - 1;
	c->in.pos += n + 2;
	switch (out->type) {
	case '+':
	case '-':
		return 0;
	case ':':
		out->num = strtoll(p + 1, NULL, 10);
		return 0;
	case '$': {
		long long blen = strtoll(p + 1, NULL, 10);
		if (blen < 0) {
			out->s = NULL;
			out->len = 0;
			return 0;
		}
		if (blen > (1 << 20)) {
			bench_log("redis: bulk reply of %lld bytes", blen);
			return -1;
		}
		if (bench_recv_need(c->fd, &c->in, (size_t)blen + 2, "redis") <
		    0)
			return -1;
		out->s = c->in.b + c->in.pos;
		out->len = (size_t)blen;
		c->in.pos += (size_t)blen + 2;
		return 0;
	}
	}
	bench_log("redis: unexpected reply type '%c'", out->type);
	return -1;
}

/* One command and its reply; an error reply is a failure. */
static int r_call(struct rconn *c, int argc, const char *const *argv,
		  struct rreply *out)
{
	r_append(c, argc, argv);
	if (r_flush(c) < 0 || r_read(c, out) < 0)
		return -1;
	if (out->type == '-') {
		bench_log("redis %s: %.*s", argv[0], (int)out->len, out->s);
		return -1;
	}
	return 0;
}

/* ---- the workload's commands ----------------------------------------- */

struct rargs {
	char key[48], start[16], nslots[16], res[16], day[24];
};

static void span_args(const struct bench_shape *sh, const struct bench_span *sp,
		      struct rargs *a)
{
	snprintf(a->key, sizeof a->key, "bm:%u:%lld", sp->res,
		 (long long)(sp->day - sh->day0));
	snprintf(a->start, sizeof a->start, "%d", sp->slot);
	snprintf(a->nslots, sizeof a->nslots, "%d", sp->nslots);
	snprintf(a->res, sizeof a->res, "%u", sp->res);
	snprintf(a->day, sizeof a->day, "%lld", (long long)sp->day);
}

static void append_book(struct rconn *c, const char *sha, const struct rargs *a)
{
	const char *argv[] = {
	    "EVALSHA", sha,    "1",    a->key,	a->start,
	    a->nslots, a->res, a->day, "Bench", "bench@example.org"};

	r_append(c, 10, argv);
}

static void append_check(struct rconn *c, const struct bench_span *sp,
			 const struct rargs *a)
{
	char from[16], to[16];
	const char *argv[] = {"GETRANGE", a->key, from, to};

	snprintf(from, sizeof from, "%d", sp->slot / 8);
	snprintf(to, sizeof to, "%d", (sp->slot + sp->nslots - 1) / 8);
	r_append(c, 4, argv);
}

/* Is the span free in the bytes GETRANGE returned (from byte slot/8)? */
static bool span_free(const struct bench_span *sp, const struct rreply *r)
{
	int first = sp->slot / 8 * 8;

	for (int i = sp->slot; i < sp->slot + sp->nslots; i++) {
		size_t byte = (size_t)((i - first) / 8);
		if (r->s && byte < r->len &&
		    ((unsigned char)r->s[byte] & (0x80u >> (i % 8))))
			return false;
	}
	return true;
}

/* ---- timed runs ------------------------------------------------------- */

enum rmode { RM_BOOK, RM_CHECK };

struct rworker {
	pthread_t th;
	const char *path, *sha;
	const struct bench_shape *sh;
	struct bench_phase *ph;
	enum rmode mode;
	int depth;
	uint64_t seed;
	struct rconn c;
	/* results */
	uint64_t ok, conflicts, busy;
	struct bench_samples lat;
	bool failed;
};

static void rw_count(struct rworker *w, const struct bench_span *sp,
		     const struct rreply *r, uint64_t ns)
{
	if (w->mode == RM_BOOK) {
		if (r->num > 0) {
			w->ok++;
			bench_samples_add(&w->lat, ns);
		} else {
			w->conflicts++;
		}
		return;
	}
	w->ok++;
	w->busy += !span_free(sp, r);
	bench_samples_add(&w->lat, ns);
}

static void *rw_main(void *arg)
{
	struct rworker *w = arg;
	struct bench_span spans[MAX_DEPTH];
	bool measured[MAX_DEPTH];
	uint64_t sent_at[MAX_DEPTH];
	size_t head = 0, inflight = 0;
	struct bench_rng rng;

	bench_rng_seed(&rng, w->seed);
	for (;;) {
		struct rreply r;
		size_t k;

		while (inflight < (size_t)w->depth &&
		       bench_phase_get(w->ph) != BENCH_STOP) {
			struct rargs a = {0};
			k = (head + inflight) % MAX_DEPTH;
			bench_span_random(w->sh, &rng, &spans[k]);
			span_args(w->sh, &spans[k], &a);
			if (w->mode == RM_BOOK)
				append_book(&w->c, w->sha, &a);
			else
				append_check(&w->c, &spans[k], &a);
			measured[k] = bench_phase_get(w->ph) == BENCH_MEASURE;
			sent_at[k] = bench_now_ns();
			inflight++;
		}
		if (inflight == 0)
			break;
		if (w->c.wlen && r_flush(&w->c) < 0)
			goto fail;
		if (r_read(&w->c, &r) < 0)
			goto fail;
		if (r.type == '-') {
			bench_log("redis: %.*s", (int)r.len, r.s);
			goto fail;
		}
		if (measured[head] && bench_phase_get(w->ph) == BENCH_MEASURE)
			rw_count(w, &spans[head], &r,
				 bench_now_ns() - sent_at[head]);
		head = (head + 1) % MAX_DEPTH;
		inflight--;
	}
	return NULL;
fail:
	w->failed = true;
	return NULL;
}

struct rresult {
	double per_s, conflict_pct, p50, p99, p999;
	double cpu_us; /* redis-server's CPU per request answered ok */
};

static pid_t redis_pid; /* from INFO server; 0 when unknown */

static int redis_run(struct bench_ctx *x, const struct bench_shape *sh,
		     const char *sha, enum rmode mode, int nconn, int depth,
		     uint64_t seed, struct rresult *out)
{
	struct rworker *w = bench_calloc((size_t)nconn, sizeof *w);
	struct bench_samples all = {0};
	struct bench_phase ph = {0};
	uint64_t ok = 0, conflicts = 0;
	int started = 0, rc = 0;

	memset(out, 0, sizeof *out);
	for (int i = 0; i < nconn; i++) {
		w[i] = (struct rworker){.path = x->redis_sock,
					.sha = sha,
					.sh = sh,
					.ph = &ph,
					.mode = mode,
					.depth = depth < MAX_DEPTH ? depth
								   : MAX_DEPTH,
					.seed = seed * 1000 + (uint64_t)i};
		if (r_connect(x->redis_sock, &w[i].c) < 0) {
			rc = -1;
			break;
		}
	}
	atomic_store(&ph.phase, BENCH_WARM);
	for (int i = 0; rc == 0 && i < nconn; i++) {
		if (pthread_create(&w[i].th, NULL, rw_main, &w[i]) != 0) {
			rc = -1;
			break;
		}
		started++;
	}
	ph.cpu_pid = redis_pid;
	if (rc == 0)
		bench_phase_drive(&ph, x->warm_ms, x->run_ms);
	atomic_store(&ph.phase, BENCH_STOP);
	for (int i = 0; i < started; i++) {
		pthread_join(w[i].th, NULL);
		rc |= w[i].failed ? -1 : 0;
		ok += w[i].ok;
		conflicts += w[i].conflicts;
		bench_samples_merge(&all, &w[i].lat);
	}
	for (int i = 0; i < nconn; i++) {
		bench_samples_free(&w[i].lat);
		r_close(&w[i].c);
	}
	free(w);
	if (rc == 0) {
		out->per_s = (double)ok / bench_phase_secs(&ph);
		out->conflict_pct =
		    ok + conflicts
			? 100.0 * (double)conflicts / (double)(ok + conflicts)
			: 0;
		out->p50 = (double)bench_samples_quantile(&all, 0.5) / 1e3;
		out->p99 = (double)bench_samples_quantile(&all, 0.99) / 1e3;
		out->p999 = (double)bench_samples_quantile(&all, 0.999) / 1e3;
		out->cpu_us =
		    ok && ph.cpu0 && ph.cpu1 > ph.cpu0
			? (double)(ph.cpu1 - ph.cpu0) / 1e3 / (double)ok
			: 0;
	}
	bench_samples_free(&all);
	return rc;
}

/* ---- set-up and the scenario ------------------------------------------ */

/* FLUSHALL (a fresh state, as a fresh engine), then load the script. */
static int redis_reset(struct rconn *c, char sha[48])
{
	const char *flush[] = {"FLUSHALL"};
	const char *load[] = {"SCRIPT", "LOAD", BOOK_LUA};
	struct rreply r;

	if (r_call(c, 1, flush, &r) < 0 || r_call(c, 3, load, &r) < 0)
		return -1;
	if (r.type != '$' || r.s == NULL || r.len >= 48) {
		bench_log("redis SCRIPT LOAD: unexpected reply");
		return -1;
	}
	memcpy(sha, r.s, r.len);
	sha[r.len] = 0;
	return 0;
}

/* n random bookings through one pipelined connection. */
static int redis_preload(struct rconn *c, const struct bench_shape *sh,
			 const char *sha, uint64_t n)
{
	struct bench_rng rng;
	uint64_t done = 0;

	bench_rng_seed(&rng, 7);
	while (done < n) {
		uint64_t batch = n - done < 256 ? n - done : 256;
		for (uint64_t i = 0; i < batch; i++) {
			struct bench_span sp;
			struct rargs a = {0};
			bench_span_random(sh, &rng, &sp);
			span_args(sh, &sp, &a);
			append_book(c, sha, &a);
		}
		if (r_flush(c) < 0)
			return -1;
		for (uint64_t i = 0; i < batch; i++) {
			struct rreply r;
			if (r_read(c, &r) < 0 || r.type == '-')
				return -1;
		}
		done += batch;
	}
	return 0;
}

static void add_fig(struct bench_ctx *x, const char *key, const char *label,
		    const char *unit, double *v)
{
	bench_report_add(x->rep, "redis", key, label, unit, v,
			 (size_t)x->repeats);
}

static int redis_book_level(struct bench_ctx *x, struct rconn *adm,
			    const struct bench_shape *sh, int nclients)
{
	double per[BENCH_MAX_REPEATS], cpct[BENCH_MAX_REPEATS],
	    p50[BENCH_MAX_REPEATS], p99[BENCH_MAX_REPEATS],
	    p999[BENCH_MAX_REPEATS], cpu[BENCH_MAX_REPEATS];
	char k[BENCH_KEY_MAX], l[BENCH_LABEL_MAX], sha[48];

	for (int r = 0; r < x->repeats; r++) {
		struct rresult res;
		if (redis_reset(adm, sha) < 0 ||
		    redis_run(x, sh, sha, RM_BOOK, nclients, 1,
			      (uint64_t)nclients * 100 + (uint64_t)r, &res) < 0)
			return -1;
		per[r] = res.per_s;
		cpct[r] = res.conflict_pct;
		p50[r] = res.p50;
		p99[r] = res.p99;
		p999[r] = res.p999;
		cpu[r] = res.cpu_us;
	}
	bench_fmt(k, sizeof k, "redis.book.c%d.per_s", nclients);
	bench_fmt(l, sizeof l, "%d clients: bookings/s", nclients);
	add_fig(x, k, l, "/s", per);
	bench_fmt(k, sizeof k, "redis.book.c%d.conflict_pct", nclients);
	bench_fmt(l, sizeof l, "%d clients: conflicts", nclients);
	add_fig(x, k, l, "%", cpct);
	bench_fmt(k, sizeof k, "redis.book.c%d.p50_us", nclients);
	bench_fmt(l, sizeof l, "%d clients: booking latency p50", nclients);
	add_fig(x, k, l, "us", p50);
	bench_fmt(k, sizeof k, "redis.book.c%d.p99_us", nclients);
	bench_fmt(l, sizeof l, "%d clients: booking latency p99", nclients);
	add_fig(x, k, l, "us", p99);
	bench_fmt(k, sizeof k, "redis.book.c%d.p999_us", nclients);
	bench_fmt(l, sizeof l, "%d clients: booking latency p999", nclients);
	add_fig(x, k, l, "us", p999);
	if (redis_pid > 0) {
		bench_fmt(k, sizeof k, "redis.book.c%d.cpu_us", nclients);
		bench_fmt(l, sizeof l,
			  "%d clients: redis-server CPU per booking (/proc)",
			  nclients);
		add_fig(x, k, l, "us", cpu);
	}
	return 0;
}

static int redis_check_level(struct bench_ctx *x, const struct bench_shape *sh,
			     int nconn, int depth, const char *tag)
{
	double per[BENCH_MAX_REPEATS], p50[BENCH_MAX_REPEATS],
	    cpu[BENCH_MAX_REPEATS];
	char k[BENCH_KEY_MAX], l[BENCH_LABEL_MAX];

	for (int r = 0; r < x->repeats; r++) {
		struct rresult res;
		if (redis_run(x, sh, "", RM_CHECK, nconn, depth,
			      500 + (uint64_t)r, &res) < 0)
			return -1;
		per[r] = res.per_s;
		p50[r] = res.p50;
		cpu[r] = res.cpu_us;
	}
	if (redis_pid > 0) {
		bench_fmt(k, sizeof k, "redis.check.%s.cpu_us", tag);
		bench_fmt(l, sizeof l,
			  "redis-server CPU per check, %d conn x %d in "
			  "flight (/proc)",
			  nconn, depth);
		add_fig(x, k, l, "us", cpu);
	}
	bench_fmt(k, sizeof k, "redis.check.%s.per_s", tag);
	bench_fmt(l, sizeof l, "GETRANGE checks/s, %d conn x %d in flight",
		  nconn, depth);
	add_fig(x, k, l, "/s", per);
	bench_fmt(k, sizeof k, "redis.check.%s.p50_us", tag);
	bench_fmt(l, sizeof l, "GETRANGE latency p50, %d conn x %d in flight",
		  nconn, depth);
	add_fig(x, k, l, "us", p50);
	return 0;
}

/* redis-server's PID (INFO server), when it runs on this machine. */
static pid_t redis_server_pid(struct rconn *c)
{
	const char *info[] = {"INFO", "server"};
	struct rreply r;
	const char *p;
	char path[64];
	long v;

	if (r_call(c, 2, info, &r) < 0 || r.type != '$' || r.s == NULL)
		return 0;
	p = memmem(r.s, r.len, "process_id:", 11);
	if (p == NULL)
		return 0;
	v = strtol(p + 11, NULL, 10);
	if (v <= 0 || v > INT32_MAX)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/stat", v);
	return access(path, R_OK) == 0 ? (pid_t)v : 0;
}

int sc_redis(struct bench_ctx *x)
{
	struct bench_shape sh;
	struct rconn adm;
	char sha[48];
	int rc = -1;

	if (x->redis_sock == NULL) {
		bench_log("redis: needs --redis SOCKET (bench/peers/redis.sh "
			  "starts one)");
		return -1;
	}
	bench_shape_init(&sh, x->nres, x->ndays);
	if (r_connect(x->redis_sock, &adm) < 0)
		return -1;
	redis_pid = redis_server_pid(&adm);
	if (redis_pid <= 0)
		bench_log("redis: no process_id in INFO server: its CPU is "
			  "not reported");
	for (size_t i = 0; i < x->nclients; i++)
		if (redis_book_level(x, &adm, &sh, x->clients[i]) < 0)
			goto out;
	if (redis_reset(&adm, sha) < 0 ||
	    redis_preload(&adm, &sh, sha, x->preload) < 0)
		goto out;
	/* One client, pipe_conns synchronous clients, and pipe_conns
	 * pipelined ones as bookd's read-socket figures are taken. */
	if (redis_check_level(x, &sh, 1, 1, "c1") < 0 ||
	    redis_check_level(x, &sh, x->pipe_conns, 1, "conns") < 0 ||
	    redis_check_level(x, &sh, x->pipe_conns, x->pipeline, "pipe") < 0)
		goto out;
	rc = 0;
out:
	r_close(&adm);
	return rc;
}

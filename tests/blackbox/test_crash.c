/*
 * test_crash.c - crash safety of a real engine ($BOOKD_BIN), checked from
 * the outside (SPEC section 7, scenario 8).
 *
 *  - A booking storm: worker threads, each with its own connection, book
 *    single resources, several resources with pool units, spans over
 *    several days, and cancel, confirm and reschedule their own bookings,
 *    while the engine is killed with SIGKILL at a random moment.  After each
 *    restart: every acknowledged booking is there with its last acknowledged
 *    status and span (or the one an unanswered request was asking for), no
 *    two occupying bookings overlap on a single resource and no pool is over
 *    its quantity, the engine's `check` agrees with the bookings, and
 *    `bookd-replay verify` passes on the live directory (pages included).
 *    $BOOKD_SOAK_CYCLES sets the cycles (default 3; `make soak` runs 30).
 *    The same storm runs once with --sync-mode plain.
 *  - A failing fdatasync (--fail-sync-at N): the request in flight gets no
 *    reply, the engine exits 3 with a FATAL line, and after a restart every
 *    acknowledged booking is there and the directory verifies.
 *  - A flipped byte in the middle of a stopped engine's log: bookd refuses to
 *    start naming the LSN, `bookd-replay verify` agrees, and `bookd-replay
 *    replay --until LSN-1` recovers into a directory bookd opens.
 *
 * Nothing here asserts on timing: the kill moment is random, and every wait
 * is bounded by the harness.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "state.h"
#include "suite_main.h"
#include "wal.h"
#include "wire.h"

#define Q	 900
#define NRES	 4
#define NWORKERS 4
#define DAYS	 6
#define RUN_MS	 60000

static const char *const res_ids[NRES] = {"s1", "s2", "s3", "pool"};
static const int res_qty[NRES] = {1, 1, 1, 3};

static struct harness H;

/* ---- running bookd-replay ----------------------------------------------- */

struct run {
	int status;
	char out[1 << 16];
	char err[1 << 14];
};

/* Run $BOOKD_REPLAY_BIN with args (NULL-terminated), capturing its output,
 * for at most RUN_MS. */
static void replay_tool(struct run *r, const char *a1, ...)
{
	const char *argv[16];
	const char *bin = getenv("BOOKD_REPLAY_BIN");
	int n = 0;
	va_list ap;

	ck_assert_msg(bin && *bin, "BOOKD_REPLAY_BIN is not set");
	argv[n++] = bin;
	va_start(ap, a1);
	for (const char *a = a1; a && n < 15; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	r->status = h_run_capture(argv, RUN_MS, r->out, sizeof(r->out), r->err,
				  sizeof(r->err));
	/* Shown in the test's log, so a failure explains itself. */
	fprintf(stderr, "bookd-replay %s %s: exit %d\n%s%s", a1,
		n > 2 ? argv[2] : "", r->status, r->out, r->err);
}

/* ---- what clients were told ----------------------------------------- */

struct span {
	int status;
	int64_t start, end;
};

struct known {
	bool acked;    /* some reply told a client about it */
	struct span s; /* as last acknowledged */
	bool alt;      /* a request to change it got no reply */
	struct span a; /* what that request asked for */
	int owner;     /* worker allowed to change it, -1: none */
	int nitems;
	int res[2], qty[2];
};

static struct {
	pthread_mutex_t mu;
	struct known *v; /* by booking id; [0] unused */
	uint32_t cap;
} M = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};

static struct known *known_at(uint32_t id)
{
	if (id >= M.cap) {
		uint32_t cap = M.cap ? M.cap : 1024;
		struct known *v;
		while (cap <= id)
			cap *= 2;
		v = reallocarray(M.v, cap, sizeof(*v));
		if (v == NULL)
			abort();
		memset(v + M.cap, 0, (cap - M.cap) * sizeof(*v));
		M.v = v;
		M.cap = cap;
	}
	return &M.v[id];
}

/* ---- workers ------------------------------------------------------------ */

struct worker {
	int idx;
	uint64_t rng;
	uint64_t next_id;
	uint32_t *mine; /* bookings this worker may change */
	size_t nmine, capmine;
	int64_t day0;
	char err[256]; /* a reply the storm did not expect */
	uint64_t acks;
};

static uint32_t wrnd(struct worker *w, uint32_t n)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return (uint32_t)(w->rng % n);
}

static void add_mine(struct worker *w, uint32_t id)
{
	if (w->nmine == w->capmine) {
		size_t cap = w->capmine ? w->capmine * 2 : 256;
		uint32_t *v = reallocarray(w->mine, cap, sizeof(*v));
		if (v == NULL)
			abort();
		w->mine = v;
		w->capmine = cap;
	}
	w->mine[w->nmine++] = id;
}

/* A booking's id, status and span from a reply's result. */
static int parse_booking(const msgpack_object *b, uint32_t *id, struct span *s)
{
	int64_t v;
	if (b == NULL || !wire_int(wire_get(b, "id"), &v))
		return -1;
	*id = (uint32_t)v;
	s->status = bstatus_parse(wire_get(b, "status"));
	if (s->status < 0 || !wire_int(wire_get(b, "start"), &s->start) ||
	    !wire_int(wire_get(b, "end"), &s->end))
		return -1;
	return 0;
}

static void random_span(struct worker *w, int64_t *start, int64_t *end)
{
	*start = w->day0 + (int64_t)wrnd(w, DAYS * 96) * Q;
	if (wrnd(w, 8) == 0) /* over midnight, several days */
		*end = *start + (int64_t)(96 + wrnd(w, 2 * 96)) * Q;
	else
		*end = *start + (int64_t)(1 + wrnd(w, 12)) * Q;
}

/* One book request of a random shape; returns h_call's result. */
static int do_book(struct worker *w, int fd, msgpack_unpacked *u)
{
	struct known k = {0};
	struct span s;
	int64_t start, end;
	uint32_t id;
	int shape = (int)wrnd(w, 4), rc;
	const char *single = res_ids[wrnd(w, 3)];
	int q = 1 + (int)wrnd(w, 2);
	const char *status = wrnd(w, 5) == 0 ? "pending" : "confirmed";

	random_span(w, &start, &end);
	k.owner = w->idx;
	if (shape <= 1) {
		k.nitems = 1;
		k.res[0] = single[1] - '1';
		k.qty[0] = 1;
		rc = h_call(fd, u, w->next_id++, "book",
			    "{s:s s:I s:I s:{s:s s:s} s:s}", "resource", single,
			    "start", start, "end", end, "booker", "name",
			    "Storm", "email", "storm@example.com", "status",
			    status);
	} else if (shape == 2) {
		k.nitems = 2;
		k.res[0] = single[1] - '1';
		k.qty[0] = 1;
		k.res[1] = 3;
		k.qty[1] = q;
		rc = h_call(fd, u, w->next_id++, "book",
			    "{s:[s {s:s s:i}] s:I s:I s:{s:s s:s} s:s}",
			    "resources", single, "id", "pool", "quantity", q,
			    "start", start, "end", end, "booker", "name",
			    "Storm", "email", "storm@example.com", "status",
			    status);
	} else {
		k.nitems = 1;
		k.res[0] = 3;
		k.qty[0] = q;
		rc = h_call(fd, u, w->next_id++, "book",
			    "{s:[{s:s s:i}] s:I s:I s:{s:s s:s} s:s}",
			    "resources", "id", "pool", "quantity", q, "start",
			    start, "end", end, "booker", "name", "Storm",
			    "email", "storm@example.com", "status", status);
	}
	if (rc != 0)
		return rc;
	if (parse_booking(h_result(u), &id, &s) < 0 || s.start != start ||
	    s.end != end) {
		snprintf(w->err, sizeof(w->err), "book: unexpected result");
		return BOOKD_E_PROTO;
	}
	k.acked = true;
	k.s = s;
	pthread_mutex_lock(&M.mu);
	*known_at(id) = k;
	pthread_mutex_unlock(&M.mu);
	add_mine(w, id);
	return 0;
}

/* Cancel, confirm or move one of this worker's live bookings. */
static int do_change(struct worker *w, int fd, msgpack_unpacked *u)
{
	uint32_t id = w->mine[wrnd(w, (uint32_t)w->nmine)], got;
	struct known *k;
	struct span want, s;
	int kind = (int)wrnd(w, 3), rc;

	pthread_mutex_lock(&M.mu);
	k = known_at(id);
	want = k->s;
	pthread_mutex_unlock(&M.mu);
	if (want.status != BS_PENDING && want.status != BS_CONFIRMED)
		return 0;
	if (kind == 1 && want.status != BS_PENDING)
		kind = 0;
	if (kind == 0)
		want.status = BS_CANCELLED;
	else if (kind == 1)
		want.status = BS_CONFIRMED;
	else {
		int64_t s0 = want.start, e0 = want.end;
		random_span(w, &want.start, &want.end);
		/* A reschedule must move the booking (the same span is
		 * refused): nothing to change then. */
		if (want.start == s0 && want.end == e0)
			return 0;
	}
	/* Until a reply comes, the engine may hold either version. */
	pthread_mutex_lock(&M.mu);
	k = known_at(id);
	k->alt = true;
	k->a = want;
	pthread_mutex_unlock(&M.mu);
	if (kind == 0)
		rc = h_call(fd, u, w->next_id++, "booking.cancel", "{s:I s:s}",
			    "id", (int64_t)id, "reason", "storm");
	else if (kind == 1)
		rc = h_call(fd, u, w->next_id++, "booking.transition",
			    "{s:I s:s}", "id", (int64_t)id, "to", "confirmed");
	else
		rc = h_call(fd, u, w->next_id++, "booking.reschedule",
			    "{s:I s:I s:I}", "id", (int64_t)id, "start",
			    want.start, "end", want.end);
	if (rc == BOOKD_E_IO || rc == BOOKD_E_UNAVAILABLE)
		return rc; /* the alternative stays possible */
	pthread_mutex_lock(&M.mu);
	k = known_at(id);
	k->alt = false;
	pthread_mutex_unlock(&M.mu);
	if (rc == BOOKD_E_CONFLICT && kind == 2)
		return 0;
	if (rc != 0)
		return rc;
	if (parse_booking(h_result(u), &got, &s) < 0 || got != id ||
	    s.status != want.status || s.start != want.start ||
	    s.end != want.end) {
		snprintf(w->err, sizeof(w->err),
			 "change of #%u: unexpected result", id);
		return BOOKD_E_PROTO;
	}
	pthread_mutex_lock(&M.mu);
	known_at(id)->s = s;
	pthread_mutex_unlock(&M.mu);
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	msgpack_unpacked u;
	int fd = h_connect_raw(&H);

	if (fd < 0) {
		snprintf(w->err, sizeof(w->err), "cannot connect");
		return NULL;
	}
	msgpack_unpacked_init(&u);
	/* Bounded even if the kill never came. */
	for (int i = 0; i < 20000; i++) {
		int rc;
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
		if (w->nmine > 0 && wrnd(w, 5) < 2)
			rc = do_change(w, fd, &u);
		else
			rc = do_book(w, fd, &u);
		if (rc == BOOKD_E_IO || rc == BOOKD_E_UNAVAILABLE)
			break; /* the engine died or is stopping */
		if (rc != 0 && rc != BOOKD_E_CONFLICT) {
			if (w->err[0] == 0)
				snprintf(w->err, sizeof(w->err),
					 "unexpected reply %d", rc);
			break;
		}
		if (rc == 0)
			w->acks++;
	}
	msgpack_unpacked_destroy(&u);
	close(fd);
	return NULL;
}

/* ---- checking the restarted engine ----------------------------------- */

struct actual {
	uint32_t n;
	struct span *s; /* by id - 1 */
	int *nitems;
	int (*res)[2];
	int (*qty)[2];
};

static int res_index(const msgpack_object *o)
{
	for (int i = 0; i < NRES; i++)
		if (wire_str_eq(o, res_ids[i]))
			return i;
	return -1;
}

/* Every booking the engine has, through booking.list pages. */
static void fetch_all(int fd, struct actual *a)
{
	msgpack_unpacked u;
	int64_t after = 0;
	uint64_t rid = 1000000;

	memset(a, 0, sizeof(*a));
	msgpack_unpacked_init(&u);
	for (;;) {
		const msgpack_object *bs, *next;
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
		ck_assert_int_eq(h_call(fd, &u, rid++, "booking.list",
					"{s:i s:I}", "limit", 1000, "after",
					after),
				 0);
		bs = wire_get(h_result(&u), "bookings");
		ck_assert_ptr_nonnull(bs);
		for (uint32_t i = 0; i < bs->via.array.size; i++) {
			const msgpack_object *b = &bs->via.array.ptr[i];
			const msgpack_object *items = wire_get(b, "items");
			uint32_t id;
			struct span s;
			ck_assert_int_eq(parse_booking(b, &id, &s), 0);
			ck_assert_uint_eq(id, a->n + 1); /* ids have no gaps */
			a->n = id;
			a->s = reallocarray(a->s, id, sizeof(*a->s));
			a->nitems = reallocarray(a->nitems, id, sizeof(int));
			a->res = reallocarray(a->res, id, sizeof(*a->res));
			a->qty = reallocarray(a->qty, id, sizeof(*a->qty));
			ck_assert(a->s && a->nitems && a->res && a->qty);
			a->s[id - 1] = s;
			ck_assert(items && items->via.array.size >= 1 &&
				  items->via.array.size <= 2);
			a->nitems[id - 1] = (int)items->via.array.size;
			for (uint32_t k = 0; k < items->via.array.size; k++) {
				const msgpack_object *it =
				    &items->via.array.ptr[k];
				int64_t q;
				a->res[id - 1][k] =
				    res_index(wire_get(it, "resource"));
				ck_assert_int_ge(a->res[id - 1][k], 0);
				ck_assert(
				    wire_int(wire_get(it, "quantity"), &q));
				a->qty[id - 1][k] = (int)q;
			}
		}
		next = wire_get(h_result(&u), "next");
		if (next == NULL || !wire_int(next, &after))
			break;
	}
	msgpack_unpacked_destroy(&u);
}

static void free_actual(struct actual *a)
{
	free(a->s);
	free(a->nitems);
	free(a->res);
	free(a->qty);
}

static bool same_span(const struct span *x, const struct span *y)
{
	return x->status == y->status && x->start == y->start &&
	       x->end == y->end;
}

/* Every acknowledged booking is there, as last acknowledged (or as the
 * unanswered request asked); bookings nobody was told about are adopted
 * as they are now. */
static void check_acknowledged(const struct actual *a)
{
	uint64_t acked = 0;

	pthread_mutex_lock(&M.mu);
	for (uint32_t id = 1; id < M.cap; id++) {
		struct known *k = &M.v[id];
		if (!k->acked)
			continue;
		acked++;
		ck_assert_msg(id <= a->n, "acknowledged booking #%u is gone",
			      id);
		ck_assert_msg(same_span(&a->s[id - 1], &k->s) ||
				  (k->alt && same_span(&a->s[id - 1], &k->a)),
			      "booking #%u: %s %" PRId64 "..%" PRId64
			      " after the crash, acknowledged %s %" PRId64
			      "..%" PRId64,
			      id, bstatus_names[a->s[id - 1].status],
			      a->s[id - 1].start, a->s[id - 1].end,
			      bstatus_names[k->s.status], k->s.start, k->s.end);
		k->s = a->s[id - 1];
		k->alt = false;
	}
	for (uint32_t id = 1; id <= a->n; id++) {
		struct known *k = known_at(id);
		if (k->acked)
			continue;
		k->acked = true;
		k->owner = -1;
		k->s = a->s[id - 1];
	}
	pthread_mutex_unlock(&M.mu);
	fprintf(stderr,
		"crash: %" PRIu64 " acknowledged bookings checked, %u "
		"in the engine\n",
		acked, a->n);
}

/* Units of resource r the bookings take in quarter t. */
static int taken(const struct actual *a, int r, int64_t t)
{
	int n = 0;
	for (uint32_t i = 0; i < a->n; i++) {
		if (!bstatus_occupies(a->s[i].status) || a->s[i].start > t ||
		    a->s[i].end <= t)
			continue;
		for (int k = 0; k < a->nitems[i]; k++)
			if (a->res[i][k] == r)
				n += a->qty[i][k];
	}
	return n;
}

/* No quarter of any resource holds more than its quantity. */
static void check_no_overbooking(const struct actual *a, int64_t day0)
{
	for (int r = 0; r < NRES; r++)
		for (int64_t t = day0; t < day0 + (DAYS + 3) * 86400; t += Q)
			ck_assert_msg(taken(a, r, t) <= res_qty[r],
				      "%s is booked %d times over at %" PRId64,
				      res_ids[r], taken(a, r, t), t);
}

/* The engine's check agrees with the bookings on random spans. */
static void check_agrees(int fd, const struct actual *a, int64_t day0,
			 uint64_t seed)
{
	msgpack_unpacked u;
	struct worker w = {.rng = seed | 1, .day0 = day0};

	msgpack_unpacked_init(&u);
	for (int i = 0; i < 150; i++) {
		int r = (int)wrnd(&w, NRES);
		int64_t start, end;
		bool want = true, free_;
		const msgpack_object *f;
		random_span(&w, &start, &end);
		for (int64_t t = start; t < end; t += Q)
			want &= taken(a, r, t) < res_qty[r];
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
		ck_assert_int_eq(h_call(fd, &u, 2000000 + (uint64_t)i, "check",
					"{s:s s:I s:I}", "resource", res_ids[r],
					"start", start, "end", end),
				 0);
		f = wire_get(h_result(&u), "free");
		ck_assert(f && f->type == MSGPACK_OBJECT_BOOLEAN);
		free_ = f->via.boolean;
		ck_assert_msg(free_ == want,
			      "check %s %" PRId64 "..%" PRId64
			      ": engine says %s, the bookings say %s",
			      res_ids[r], start, end, free_ ? "free" : "taken",
			      want ? "free" : "taken");
	}
	msgpack_unpacked_destroy(&u);
}

static void verify_dir(void)
{
	struct run *r = malloc(sizeof(*r));
	ck_assert_ptr_nonnull(r);
	replay_tool(r, "verify", H.data, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "OK:"));
	free(r);
}

static void check_engine(int64_t day0, uint64_t seed)
{
	struct actual a;
	int fd = h_connect_raw(&H);

	ck_assert_int_ge(fd, 0);
	fetch_all(fd, &a);
	check_acknowledged(&a);
	check_no_overbooking(&a, day0);
	check_agrees(fd, &a, day0, seed);
	free_actual(&a);
	close(fd);
	verify_dir();
}

/* ---- the storm -------------------------------------------------------- */

static int soak_cycles(void)
{
	const char *e = getenv("BOOKD_SOAK_CYCLES");
	int n = e ? atoi(e) : 3;
	return n > 0 ? n : 3;
}

static void setup_resources(void)
{
	msgpack_unpacked u;
	int fd = h_connect_raw(&H);

	ck_assert_int_ge(fd, 0);
	msgpack_unpacked_init(&u);
	for (int i = 0; i < NRES; i++) {
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
		ck_assert_int_eq(h_call(fd, &u, (uint64_t)i + 1,
					"resource.create", "{s:s s:i}", "id",
					res_ids[i], "quantity", res_qty[i]),
				 0);
	}
	msgpack_unpacked_destroy(&u);
	close(fd);
}

static void storm(const char *args, int cycles, uint64_t seed)
{
	struct worker w[NWORKERS];
	int64_t day0 = h_day(1);
	uint64_t rng = seed;

	memset(w, 0, sizeof(w));
	for (int i = 0; i < NWORKERS; i++) {
		w[i].idx = i;
		w[i].rng = seed * 7919 + (uint64_t)i * 104729 + 1;
		w[i].next_id = 1;
		w[i].day0 = day0;
	}
	ck_assert_int_eq(h_start(&H, args), 0);
	setup_resources();
	for (int c = 0; c < cycles; c++) {
		pthread_t t[NWORKERS];
		struct timespec pause;
		uint64_t acks = 0;

		for (int i = 0; i < NWORKERS; i++)
			ck_assert_int_eq(
			    pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
		/* Kill at a random moment: timing varies, nothing is
		 * asserted about it. */
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		pause.tv_sec = 0;
		pause.tv_nsec = (long)(50 + rng % 700) * 1000000L;
		nanosleep(&pause, NULL);
		if (c + 1 == cycles && cycles > 1)
			ck_assert_int_eq(h_stop(&H), 0); /* a clean stop too */
		else
			h_kill9(&H);
		for (int i = 0; i < NWORKERS; i++) {
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
			ck_assert_msg(w[i].err[0] == 0, "worker %d: %s", i,
				      w[i].err);
			acks += w[i].acks;
		}
		fprintf(stderr,
			"crash: cycle %d: %" PRIu64
			" acknowledged replies so far\n",
			c + 1, acks);
		ck_assert_int_eq(h_restart(&H, args), 0);
		check_engine(day0, rng);
	}
	for (int i = 0; i < NWORKERS; i++)
		free(w[i].mine);
}

static void teardown(void)
{
	h_cleanup(&H);
	free(M.v);
	M.v = NULL;
	M.cap = 0;
}

START_TEST(storm_kill9)
{
	storm("--segment-mb 1", soak_cycles(), 0x5eed0001);
}
END_TEST

/* Checkpoints every 32 KiB of log (or the snapshot's size), each child
 * lingering 100 ms after it wrote snapshot.tmp: kills fall while a child
 * runs or just after its snapshot was installed and the log trimmed. */
START_TEST(storm_kill9_checkpoints)
{
	ck_assert_int_eq(h_use_test_build(), 0);
	storm("--segment-mb 1 --test-checkpoint-kb 32 "
	      "--test-checkpoint-delay-ms 100",
	      soak_cycles(), 0x5eed0003);
}
END_TEST

START_TEST(storm_kill9_plain_sync)
{
	int n = soak_cycles() / 3;
	storm("--segment-mb 1 --sync-mode plain", n > 0 ? n : 1, 0x5eed0002);
}
END_TEST

/* ---- a failing fdatasync ---------------------------------------------- */

static void failing_sync(const char *mode)
{
	char args[128];
	msgpack_unpacked u;
	int64_t day0 = h_day(1);
	int fd, rc = 0, booked = 0, st;

	snprintf(args, sizeof(args), "--fail-sync-at 25%s%s", *mode ? " " : "",
		 mode);
	/* The fault injection exists only in the test build. */
	ck_assert_int_eq(h_use_test_build(), 0);
	ck_assert_int_eq(h_start(&H, args), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_ge(fd, 0);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(
	    h_call(fd, &u, 1, "resource.create", "{s:s}", "id", "s1"), 0);
	/* One booking per group: the 25th sync is one of them. */
	for (int i = 0; i < 100; i++) {
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
		rc = h_call(fd, &u, (uint64_t)i + 2, "book",
			    "{s:s s:I s:I s:{s:s s:s}}", "resource", "s1",
			    "start", day0 + (int64_t)i * Q, "end",
			    day0 + (int64_t)(i + 1) * Q, "booker", "name", "F",
			    "email", "f@example.com");
		if (rc != 0)
			break;
		booked++;
	}
	/* The request whose sync failed got no reply at all: the
	 * connection closed. */
	ck_assert_int_eq(rc, BOOKD_E_IO);
	ck_assert_int_lt(booked, 100);
	msgpack_unpacked_destroy(&u);
	close(fd);
	st = h_stop(&H);
	ck_assert_int_eq(st, 3);
	ck_assert(h_log_contains(&H, "FATAL"));
	ck_assert_int_eq(h_restart(&H, NULL), 0);
	fd = h_connect_raw(&H);
	msgpack_unpacked_init(&u);
	for (int i = 1; i <= booked; i++) {
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
		ck_assert_int_eq(h_call(fd, &u, 1000 + (uint64_t)i,
					"booking.get", "{s:i}", "id", i),
				 0);
		ck_assert(
		    wire_str_eq(wire_get(h_result(&u), "status"), "confirmed"));
	}
	/* The unacknowledged one may or may not have made it; nothing after
	 * it did. */
	msgpack_unpacked_destroy(&u);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(
	    h_call(fd, &u, 2000, "booking.get", "{s:i}", "id", booked + 2),
	    BOOKD_E_NOT_FOUND);
	msgpack_unpacked_destroy(&u);
	close(fd);
	verify_dir();
}

START_TEST(failing_fdatasync_uring)
{
	failing_sync("");
}
END_TEST

START_TEST(failing_fdatasync_plain)
{
	failing_sync("--sync-mode plain");
}
END_TEST

/* ---- corruption in the middle of the log ------------------------------ */

struct find_lsn {
	uint64_t lsn, seg, off;
	uint32_t len;
};

static int find_fn(void *ctx, const struct wal_rec *r)
{
	struct find_lsn *f = ctx;
	if (r->lsn == f->lsn) {
		f->seg = r->seg_first_lsn;
		f->off = r->offset;
		f->len = r->len;
	}
	return 0;
}

START_TEST(corruption_refused_then_recovered)
{
	char err[4096], path[600], bad[400], want[64];
	struct find_lsn f = {15, 0, 0, 0};
	struct wal_scan sc;
	msgpack_unpacked u;
	struct run *r = malloc(sizeof(*r));
	int64_t day0 = h_day(1);
	unsigned char byte;
	int fd, dfd;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(h_start(&H, NULL), 0);
	fd = h_connect_raw(&H);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(
	    h_call(fd, &u, 1, "resource.create", "{s:s}", "id", "s1"), 0);
	/* LSN 1 is the resource, LSN k + 1 booking k: one group each. */
	for (int i = 0; i < 30; i++) {
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
		ck_assert_int_eq(h_call(fd, &u, (uint64_t)i + 2, "book",
					"{s:s s:I s:I s:{s:s s:s}}", "resource",
					"s1", "start", day0 + (int64_t)i * Q,
					"end", day0 + (int64_t)(i + 1) * Q,
					"booker", "name", "C", "email",
					"c@example.com"),
				 0);
	}
	msgpack_unpacked_destroy(&u);
	close(fd);
	ck_assert_int_eq(h_stop(&H), 0);

	/* Flip one payload byte of LSN 15, which later groups prove was
	 * durable. */
	dfd = open(H.data, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(wal_scan_dir(dfd, 0, find_fn, &f, &sc), 0);
	close(dfd);
	ck_assert_uint_gt(f.len, 0);
	snprintf(path, sizeof(path), "%s/wal/%016" PRIx64 ".wal", H.data,
		 f.seg);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &byte, 1, (off_t)(f.off + 40 + f.len / 2)),
			 1);
	byte ^= 0x20;
	ck_assert_int_eq(pwrite(fd, &byte, 1, (off_t)(f.off + 40 + f.len / 2)),
			 1);
	close(fd);

	/* bookd refuses, naming the LSN, and changes nothing. */
	ck_assert_int_ne(h_run_to_exit(&H, NULL, 30000, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "corrupt at LSN 15");
	ck_assert_msg(strstr(err, want), "engine said: %s", err);
	/* bookd-replay agrees. */
	replay_tool(r, "verify", H.data, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->out, want));
	/* Recovery up to the last good record, into the directory the
	 * harness starts bookd on. */
	snprintf(bad, sizeof(bad), "%s.bad", H.data);
	ck_assert_int_eq(rename(H.data, bad), 0);
	replay_tool(r, "replay", bad, "--into", H.data, "--until", "15", NULL);
	ck_assert_int_eq(r->status, 1); /* LSN 15 itself is damaged */
	replay_tool(r, "replay", bad, "--into", H.data, "--until", "14", NULL);
	ck_assert_int_eq(r->status, 0);
	replay_tool(r, "verify", H.data, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_int_eq(h_restart(&H, NULL), 0);
	fd = h_connect_raw(&H);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_call(fd, &u, 1, "booking.get", "{s:i}", "id", 13),
			 0);
	msgpack_unpacked_destroy(&u);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_call(fd, &u, 2, "booking.get", "{s:i}", "id", 14),
			 BOOKD_E_NOT_FOUND);
	/* The recovered engine goes on from LSN 15 with booking 14. */
	msgpack_unpacked_destroy(&u);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_call(fd, &u, 3, "book", "{s:s s:I s:I s:{s:s s:s}}",
				"resource", "s1", "start", day0 + 40 * Q, "end",
				day0 + 41 * Q, "booker", "name", "C", "email",
				"c@example.com"),
			 0);
	ck_assert(wire_str_eq(wire_get(h_result(&u), "status"), "confirmed"));
	{
		int64_t id;
		ck_assert(wire_int(wire_get(h_result(&u), "id"), &id));
		ck_assert_int_eq(id, 14);
	}
	msgpack_unpacked_destroy(&u);
	close(fd);
	snprintf(err, sizeof(err), "rm -rf '%s'", bad);
	ck_assert_int_eq(system(err), 0);
	free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("crash");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120 + 30 * soak_cycles());
	tcase_add_test(tc, storm_kill9);
	tcase_add_test(tc, storm_kill9_plain_sync);
	tcase_add_test(tc, storm_kill9_checkpoints);
	tcase_add_test(tc, failing_fdatasync_uring);
	tcase_add_test(tc, failing_fdatasync_plain);
	tcase_add_test(tc, corruption_refused_then_recovered);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

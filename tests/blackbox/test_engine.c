/*
 * test_engine.c - black-box tests of the engine: a real bookd on a
 * temporary directory and socket, spoken to over the wire.
 *
 * Covers SPEC section 7 scenarios 1, 2, 4, 5, 6 and 7, restart and kill -9
 * keeping every acknowledged booking, the data directory lock, every error
 * code the core operations can produce, and malformed input.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "suite_main.h"
#include "harness.h"
#include "wire.h"

static struct h_case C;

static void setup(void)
{
	h_case_start(&C, "--hold-ttl-ms 600");
}

static void teardown(void)
{
	h_case_end(&C);
}

/* One call; the reply stays in C.r until the next call. */
#define CALL(fd, op, ...) h_case_call(&C, fd, NULL, op, __VA_ARGS__)

static const msgpack_object *res(void)
{
	return h_result(&C.r);
}

static int64_t ires(const char *key)
{
	const msgpack_object *v = wire_get(res(), key);
	int64_t x = -1;
	ck_assert_ptr_nonnull(v);
	ck_assert(wire_int(v, &x));
	return x;
}

static const char *err_field(void)
{
	static char buf[128];
	const msgpack_object *f = wire_get(h_error(&C.r), "field");
	if (f == NULL || wire_cstr(f, buf, sizeof(buf)) < 0)
		return "";
	return buf;
}

static int conn(void)
{
	return h_case_conn(&C);
}

static void mkres(int fd, const char *id)
{
	h_case_mkres(&C, fd, id);
}

static int book(int fd, const char *resource, int64_t s, int64_t e,
		const char *session)
{
	if (session)
		return CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			    "resource", resource, "start", s, "end", e,
			    "booker", "name", "Ann", "email", "ann@example.com",
			    "session", session);
	return CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s}}", "resource",
		    resource, "start", s, "end", e, "booker", "name", "Ann",
		    "email", "ann@example.com");
}

/* Starts of a slots.view reply and their states: 'a' or 'r'. */
static int view(int fd, const char *resource, int64_t day, int minutes,
		int interval, const char *session, int64_t *starts,
		char *states, int max)
{
	char date[11];
	const msgpack_object *a;
	int n = 0;

	h_date(day, date);
	ck_assert_int_eq(CALL(fd, "slots.view", "{s:s s:s s:i s:i s:s}",
			      "resource", resource, "date", date, "duration",
			      minutes, "interval", interval, "session",
			      session),
			 0);
	a = res();
	ck_assert_int_eq(a->type, MSGPACK_OBJECT_ARRAY);
	for (uint32_t i = 0; i < a->via.array.size && n < max; i++) {
		const msgpack_object *e = &a->via.array.ptr[i];
		ck_assert(wire_int(wire_get(e, "start"), &starts[n]));
		states[n] =
		    wire_str_eq(wire_get(e, "state"), "reserved") ? 'r' : 'a';
		n++;
	}
	return n;
}

static char state_at(const int64_t *starts, const char *states, int n,
		     int64_t t)
{
	for (int i = 0; i < n; i++)
		if (starts[i] == t)
			return states[i];
	return '-';
}

#define HOUR 3600
#define Q    900

START_TEST(scenario1_multi_duration)
{
	int fd = conn();
	int64_t d = h_day(3), st[128];
	char sv[128];
	int n;

	mkres(fd, "studio-a");
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource",
			      "studio-a", "start", d + 13 * HOUR, "end",
			      d + 14 * HOUR, "session", "A"),
			 0);
	n = view(fd, "studio-a", d, 300, 60, "B", st, sv, 128);
	for (int h = 9; h <= 13; h++)
		ck_assert_int_eq(state_at(st, sv, n, d + h * HOUR), 'r');
	ck_assert_int_eq(state_at(st, sv, n, d + 8 * HOUR), 'a');
	ck_assert_int_eq(state_at(st, sv, n, d + 14 * HOUR), 'a');
	ck_assert_int_eq(
	    book(fd, "studio-a", d + 10 * HOUR, d + 15 * HOUR, "B"),
	    BOOKD_E_HELD);
	n = view(fd, "studio-a", d, 60, 60, "B", st, sv, 128);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(sv[i], st[i] == d + 13 * HOUR ? 'r' : 'a');
	/* A's own view does not count its own hold as reserved. */
	n = view(fd, "studio-a", d, 60, 60, "A", st, sv, 128);
	ck_assert_int_eq(state_at(st, sv, n, d + 13 * HOUR), 'a');
	close(fd);
}
END_TEST

START_TEST(scenario2_isolation)
{
	int fd = conn();
	int64_t d = h_day(2);
	char date[11];

	mkres(fd, "studio-a");
	mkres(fd, "studio-b");
	ck_assert_int_eq(
	    book(fd, "studio-a", d + 10 * HOUR, d + 11 * HOUR, NULL), 0);
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource",
			      "studio-a", "start", d + 11 * HOUR, "end",
			      d + 12 * HOUR, "session", "A"),
			 0);
	for (int h = 10; h <= 11; h++) {
		ck_assert_int_eq(CALL(fd, "check", "{s:s s:I s:I}", "resource",
				      "studio-b", "start", d + h * HOUR, "end",
				      d + (h + 1) * HOUR),
				 0);
		ck_assert(wire_get(res(), "free")->via.boolean);
	}
	h_date(d, date);
	ck_assert_int_eq(CALL(fd, "holds.day", "{s:s s:s}", "resource",
			      "studio-b", "date", date),
			 0);
	ck_assert_int_eq(res()->via.array.size, 0);
	ck_assert_int_eq(CALL(fd, "slots.day", "{s:s s:s s:i}", "resource",
			      "studio-b", "date", date, "duration", 60),
			 0);
	ck_assert_int_eq(wire_get(res(), "slots")->via.array.size, 24);
	ck_assert_int_eq(CALL(fd, "slots.day", "{s:s s:s s:i}", "resource",
			      "studio-a", "date", date, "duration", 60),
			 0);
	ck_assert_int_eq(wire_get(res(), "slots")->via.array.size, 23);
	close(fd);
}
END_TEST

START_TEST(scenario4_chronological)
{
	int fd = conn();
	int64_t d = h_day(4), st[128];
	char sv[128];
	int n, reserved = 0, available = 0;

	mkres(fd, "studio-a");
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource",
			      "studio-a", "start", d + 6 * HOUR, "end",
			      d + 7 * HOUR, "session", "A"),
			 0);
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource",
			      "studio-a", "start", d + 15 * HOUR, "end",
			      d + 16 * HOUR, "session", "C"),
			 0);
	n = view(fd, "studio-a", d, 120, 60, "B", st, sv, 128);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			ck_assert_int_lt(st[i - 1], st[i]);
		reserved += sv[i] == 'r';
		available += sv[i] == 'a';
	}
	ck_assert_int_eq(reserved, 4);
	ck_assert_int_gt(available, 0);
	/* Mixed, not grouped: an available start lies between reserved
	 * ones. */
	ck_assert_int_eq(state_at(st, sv, n, d + 10 * HOUR), 'a');
	ck_assert_int_eq(state_at(st, sv, n, d + 6 * HOUR), 'r');
	ck_assert_int_eq(state_at(st, sv, n, d + 15 * HOUR), 'r');
	close(fd);
}
END_TEST

/* Is slot t of resource booked?  (A 15-minute check.) */
static bool booked(int fd, const char *resource, int64_t t)
{
	ck_assert_int_eq(CALL(fd, "check", "{s:s s:I s:I}", "resource",
			      resource, "start", t, "end", t + Q),
			 0);
	return !wire_get(res(), "free")->via.boolean;
}

START_TEST(scenario6_multi_day)
{
	int fd = conn();
	int64_t mon = h_day(3), s = mon + 14 * HOUR,
		e = mon + 2 * 86400 + 10 * HOUR;

	mkres(fd, "studio-a");
	ck_assert_int_eq(book(fd, "studio-a", s, e, NULL), 0);
	for (int64_t t = mon; t < mon + 3 * 86400; t += Q)
		ck_assert_int_eq(booked(fd, "studio-a", t), t >= s && t < e);
	/* A conflicting request touching only Wednesday leaves every day
	 * unchanged, and one spanning all three days too. */
	ck_assert_int_eq(book(fd, "studio-a", e - Q, e + HOUR, NULL),
			 BOOKD_E_CONFLICT);
	ck_assert_int_eq(CALL(fd, "book", "{s:[s,s] s:I s:I s:{s:s s:s}}",
			      "resources", "studio-a", "studio-b", "start", mon,
			      "end", e + HOUR, "booker", "name", "x", "email",
			      "x@y"),
			 BOOKD_E_NOT_FOUND);
	mkres(fd, "studio-b");
	ck_assert_int_eq(book(fd, "studio-b", e, e + HOUR, NULL), 0);
	ck_assert_int_eq(CALL(fd, "book", "{s:[s,s] s:I s:I s:{s:s s:s}}",
			      "resources", "studio-b", "studio-a", "start", mon,
			      "end", mon + 13 * HOUR, "booker", "name", "x",
			      "email", "x@y"),
			 0); /* fits both: before Monday's booking */
	ck_assert_int_eq(CALL(fd, "book", "{s:[s,s] s:I s:I s:{s:s s:s}}",
			      "resources", "studio-b", "studio-a", "start",
			      e - HOUR, "end", e + 2 * HOUR, "booker", "name",
			      "x", "email", "x@y"),
			 BOOKD_E_CONFLICT);
	for (int64_t t = mon + 13 * HOUR; t < mon + 3 * 86400; t += Q) {
		ck_assert_int_eq(booked(fd, "studio-a", t), t >= s && t < e);
		ck_assert_int_eq(booked(fd, "studio-b", t),
				 t >= e && t < e + HOUR);
	}
	close(fd);
}
END_TEST

/* Scenario 7: clients race for overlapping spans; exactly a set of
 * non-overlapping winners commits and every loser overlaps a winner. */
#define RACERS 12
#define TRIES  20
START_TEST(scenario7_race)
{
	int fd = conn();
	int64_t base = h_day(5);
	int pipes[RACERS][2];
	pid_t pids[RACERS];
	int64_t won_s[RACERS * TRIES], won_e[RACERS * TRIES];
	int nwon = 0, nlost = 0;

	mkres(fd, "race");
	for (int i = 0; i < RACERS; i++) {
		ck_assert_int_eq(pipe(pipes[i]), 0);
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			int cfd = h_connect_raw(&C.h);
			unsigned seed = (unsigned)i * 7919u + 1;
			close(pipes[i][0]);
			for (int k = 0; k < TRIES; k++) {
				int64_t s =
				    base + (int64_t)(rand_r(&seed) % 40) * Q;
				int64_t e = s + (1 + rand_r(&seed) % 8) * Q;
				int64_t rec[3];
				int rc = CALL(
				    cfd, "book", "{s:s s:I s:I s:{s:s s:s}}",
				    "resource", "race", "start", s, "end", e,
				    "booker", "name", "r", "email", "r@x");
				rec[0] = rc;
				rec[1] = s;
				rec[2] = e;
				if (write(pipes[i][1], rec, sizeof(rec)) !=
				    sizeof(rec))
					_exit(2);
			}
			_exit(0);
		}
		close(pipes[i][1]);
	}
	for (int i = 0; i < RACERS; i++) {
		int64_t rec[3];
		int status;
		while (read(pipes[i][0], rec, sizeof(rec)) == sizeof(rec)) {
			if (rec[0] == 0) {
				won_s[nwon] = rec[1];
				won_e[nwon++] = rec[2];
			} else {
				ck_assert_int_eq(rec[0], BOOKD_E_CONFLICT);
				nlost++;
			}
		}
		close(pipes[i][0]);
		waitpid(pids[i], &status, 0);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ck_assert_int_eq(nwon + nlost, RACERS * TRIES);
	ck_assert_int_gt(nwon, 0);
	ck_assert_int_gt(nlost, 0);
	for (int i = 0; i < nwon; i++)
		for (int j = i + 1; j < nwon; j++)
			ck_assert(won_e[i] <= won_s[j] || won_e[j] <= won_s[i]);
	/* The engine holds exactly the winners. */
	ck_assert_int_eq(CALL(fd, "booking.list", "{s:s s:i}", "resource",
			      "race", "limit", 1000),
			 0);
	ck_assert_int_eq(wire_get(res(), "bookings")->via.array.size,
			 (uint32_t)nwon);
	close(fd);
}
END_TEST

/* Scenario 5: watchers are pushed exactly what concerns them. */
#define WATCHERS 10
START_TEST(scenario5_invalidation)
{
	int fd = conn(), w[WATCHERS];
	int64_t d = h_day(3);
	char date[11], date2[11];
	int slots_push[WATCHERS] = {0}, holds_push[WATCHERS] = {0};
	msgpack_unpacked u;

	mkres(fd, "studio-a");
	h_date(d, date);
	h_date(d + 86400, date2);
	for (int i = 0; i < WATCHERS; i++) {
		w[i] = conn();
		ck_assert_int_eq(CALL(w[i], "subscribe", "{s:s s:s s:s s:s}",
				      "topic", "slots", "resource", "studio-a",
				      "from", date, "to", date2),
				 0);
		ck_assert_int_eq(CALL(w[i], "subscribe", "{s:s s:s s:s}",
				      "topic", "holds", "resource", "studio-a",
				      "from", date),
				 0);
	}
	/* A new hold, then three renewals, then a booking over two days. */
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource",
			      "studio-a", "start", d + 13 * HOUR, "end",
			      d + 14 * HOUR, "session", "A"),
			 0);
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}",
				      "resource", "studio-a", "start",
				      d + 13 * HOUR, "end", d + 14 * HOUR,
				      "session", "A"),
				 0);
	ck_assert_int_eq(
	    book(fd, "studio-a", d + 20 * HOUR, d + 86400 + 2 * HOUR, NULL), 0);
	/* A ping on each watcher is answered after every push queued before
	 * it, so counting frames up to the pong counts exactly the pushes. */
	msgpack_unpacked_init(&u);
	for (int i = 0; i < WATCHERS; i++) {
		ck_assert_int_eq(h_send_req(w[i], 999, "ping", NULL), 0);
		for (;;) {
			const msgpack_object *t;
			msgpack_unpacked_destroy(&u);
			msgpack_unpacked_init(&u);
			ck_assert_int_eq(h_recv_frame(w[i], &u, 10000), 1);
			if (wire_get(&u.data, "push") == NULL)
				break;
			t = wire_get(&u.data, "topic");
			if (wire_str_eq(t, "slots"))
				slots_push[i]++;
			else
				holds_push[i]++;
		}
		/* The booking touched two subscribed days. */
		ck_assert_int_eq(slots_push[i], 2);
		/* The hold: one push; renewals and the booking: none. */
		ck_assert_int_eq(holds_push[i], 1);
		close(w[i]);
	}
	msgpack_unpacked_destroy(&u);
	close(fd);
}
END_TEST

/* Scenario 3 (engine side): expiry and release push "holds". */
START_TEST(scenario3_expiry_push)
{
	int fd = conn(), w = conn();
	int64_t d = h_day(3), st[128];
	char date[11], sv[128];
	msgpack_unpacked u;
	int n, pushes = 0;

	mkres(fd, "studio-a");
	h_date(d, date);
	ck_assert_int_eq(CALL(w, "subscribe", "{s:s s:s s:s}", "topic", "holds",
			      "resource", "studio-a", "from", date),
			 0);
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource",
			      "studio-a", "start", d + 13 * HOUR, "end",
			      d + 14 * HOUR, "session", "A"),
			 0);
	n = view(fd, "studio-a", d, 300, 60, "B", st, sv, 128);
	ck_assert_int_eq(state_at(st, sv, n, d + 9 * HOUR), 'r');
	/* The TTL is 600 ms: wait for the expiry push (bounded). */
	msgpack_unpacked_init(&u);
	while (pushes < 2) {
		ck_assert_int_eq(h_recv_frame(w, &u, 10000), 1);
		ck_assert_ptr_nonnull(wire_get(&u.data, "push"));
		pushes++;
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
	}
	msgpack_unpacked_destroy(&u);
	n = view(fd, "studio-a", d, 300, 60, "B", st, sv, 128);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(sv[i], 'a');
	/* Release pushes too. */
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource",
			      "studio-a", "start", d + 13 * HOUR, "end",
			      d + 14 * HOUR, "session", "A"),
			 0);
	ck_assert_int_eq(CALL(fd, "release", "{s:s s:s}", "resource",
			      "studio-a", "session", "A"),
			 0);
	ck_assert(wire_get(res(), "released")->via.boolean);
	msgpack_unpacked_init(&u);
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(h_recv_frame(w, &u, 10000), 1);
		ck_assert_ptr_nonnull(wire_get(&u.data, "push"));
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
	}
	msgpack_unpacked_destroy(&u);
	close(w);
	close(fd);
}
END_TEST

START_TEST(restart_keeps_bookings)
{
	int fd = conn();
	int64_t d = h_day(1);
	char ref[40];

	mkres(fd, "studio-a");
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(
		    book(fd, "studio-a", d + i * HOUR, d + i * HOUR + Q, NULL),
		    0);
	ck_assert_int_eq(wire_cstr(wire_get(res(), "ref"), ref, sizeof(ref)),
			 0);
	ck_assert_int_eq(CALL(fd, "booking.cancel", "{s:I}", "id", (int64_t)3),
			 0);
	close(fd);
	ck_assert_int_eq(h_stop(&C.h), 0);
	ck_assert_int_eq(h_restart(&C.h, NULL), 0);
	fd = conn();
	ck_assert_int_eq(CALL(fd, "booking.get", "{s:s}", "ref", ref), 0);
	ck_assert_int_eq(ires("id"), 10);
	ck_assert_int_eq(CALL(fd, "booking.get", "{s:I}", "id", (int64_t)3), 0);
	ck_assert(wire_str_eq(wire_get(res(), "status"), "cancelled"));
	ck_assert(!booked(fd, "studio-a", d + 2 * HOUR));
	ck_assert(booked(fd, "studio-a", d + 4 * HOUR));
	/* kill -9 keeps acknowledged bookings too. */
	ck_assert_int_eq(
	    book(fd, "studio-a", d + 20 * HOUR, d + 21 * HOUR, NULL), 0);
	close(fd);
	h_kill9(&C.h);
	ck_assert_int_eq(h_restart(&C.h, NULL), 0);
	fd = conn();
	ck_assert(booked(fd, "studio-a", d + 20 * HOUR));
	ck_assert_int_eq(CALL(fd, "booking.get", "{s:I}", "id", (int64_t)11),
			 0);
	/* Ids continue after recovery. */
	ck_assert_int_eq(
	    book(fd, "studio-a", d + 22 * HOUR, d + 23 * HOUR, NULL), 0);
	ck_assert_int_eq(ires("id"), 12);
	close(fd);
}
END_TEST

START_TEST(second_engine_refused)
{
	char err[512];
	int st = h_run_to_exit(&C.h, NULL, 20000, err, sizeof(err));
	ck_assert_int_ne(st, 0);
	ck_assert_ptr_nonnull(strstr(err, "in use"));
}
END_TEST

START_TEST(idempotency_key)
{
	int fd = conn();
	int64_t d = h_day(2), id1;

	mkres(fd, "studio-a");
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			      "resource", "studio-a", "start", d, "end",
			      d + HOUR, "booker", "name", "A", "email", "a@b",
			      "key", "req-1"),
			 0);
	id1 = ires("id");
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			      "resource", "studio-a", "start", d, "end",
			      d + HOUR, "booker", "name", "A", "email", "a@b",
			      "key", "req-1"),
			 0);
	ck_assert_int_eq(ires("id"), id1);
	ck_assert_int_eq(CALL(fd, "stats", NULL), 0);
	ck_assert_int_eq(ires("bookings"), 1);
	close(fd);
}
END_TEST

START_TEST(own_hold_consumed)
{
	int fd = conn();
	int64_t d = h_day(2);
	char date[11];

	mkres(fd, "studio-a");
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource",
			      "studio-a", "start", d, "end", d + HOUR,
			      "session", "S"),
			 0);
	ck_assert_int_eq(book(fd, "studio-a", d, d + HOUR, "S"), 0);
	h_date(d, date);
	ck_assert_int_eq(CALL(fd, "holds.day", "{s:s s:s}", "resource",
			      "studio-a", "date", date),
			 0);
	ck_assert_int_eq(res()->via.array.size, 0);
	close(fd);
}
END_TEST

START_TEST(transitions_and_reschedule)
{
	int fd = conn();
	int64_t d = h_day(2), id;

	mkres(fd, "studio-a");
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			      "resource", "studio-a", "start", d, "end",
			      d + HOUR, "booker", "name", "A", "email", "a@b",
			      "status", "pending"),
			 0);
	id = ires("id");
	ck_assert(booked(fd, "studio-a", d)); /* pending holds its slots */
	ck_assert_int_eq(CALL(fd, "booking.transition", "{s:I s:s}", "id", id,
			      "to", "completed"),
			 BOOKD_E_INVALID_STATE);
	ck_assert_int_eq(CALL(fd, "booking.transition", "{s:I s:s s:s s:s}",
			      "id", id, "to", "declined", "reason", "busy",
			      "by", "ops@studio"),
			 0);
	ck_assert_int_eq(ires("id"), id);
	ck_assert_int_eq(wire_get(res(), "history")->via.array.size, 2);
	ck_assert(!booked(fd, "studio-a", d)); /* declined frees them */
	ck_assert_int_eq(CALL(fd, "booking.transition", "{s:I s:s}", "id", id,
			      "to", "confirmed"),
			 BOOKD_E_INVALID_STATE);
	/* Reschedule: moves atomically, ignores its own old span. */
	ck_assert_int_eq(book(fd, "studio-a", d, d + 2 * HOUR, NULL), 0);
	id = ires("id");
	ck_assert_int_eq(book(fd, "studio-a", d + 3 * HOUR, d + 4 * HOUR, NULL),
			 0);
	ck_assert_int_eq(CALL(fd, "booking.reschedule", "{s:I s:I s:I}", "id",
			      id, "start", d + HOUR, "end", d + 3 * HOUR),
			 0);
	ck_assert(!booked(fd, "studio-a", d));
	ck_assert(booked(fd, "studio-a", d + 2 * HOUR));
	ck_assert_int_eq(CALL(fd, "booking.reschedule", "{s:I s:I s:I}", "id",
			      id, "start", d + 2 * HOUR, "end", d + 4 * HOUR),
			 BOOKD_E_CONFLICT);
	ck_assert(booked(fd, "studio-a", d + HOUR)); /* unchanged */
	ck_assert_int_eq(CALL(fd, "booking.transition", "{s:I s:s}", "id", id,
			      "to", "completed"),
			 0);
	ck_assert_int_eq(CALL(fd, "booking.cancel", "{s:I}", "id", id),
			 BOOKD_E_INVALID_STATE);
	ck_assert_int_eq(CALL(fd, "events", "{s:i}", "after", 0), 0);
	ck_assert_int_ge(wire_get(res(), "events")->via.array.size, 5);
	close(fd);
}
END_TEST

START_TEST(public_role)
{
	int fd = conn();
	int64_t d = h_day(2);
	char ref[40];

	mkres(fd, "studio-a");
	ck_assert_int_eq(book(fd, "studio-a", d, d + HOUR, NULL), 0);
	ck_assert_int_eq(CALL(fd, "hello", "{s:s}", "role", "public"), 0);
	ck_assert(wire_str_eq(wire_get(res(), "role"), "public"));
	ck_assert_int_eq(CALL(fd, "hello", "{s:s}", "role", "admin"),
			 BOOKD_E_FORBIDDEN);
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "x"),
			 BOOKD_E_FORBIDDEN);
	ck_assert_int_eq(CALL(fd, "booking.get", "{s:I}", "id", (int64_t)1),
			 BOOKD_E_FORBIDDEN);
	ck_assert_int_eq(book(fd, "studio-a", d, d + HOUR, NULL),
			 BOOKD_E_CONFLICT);
	/* Public callers learn that something is in the way, not what. */
	ck_assert_int_eq(wire_get(h_error(&C.r), "conflicts")->via.array.size,
			 0);
	ck_assert_int_eq(book(fd, "studio-a", d + HOUR, d + 2 * HOUR, NULL), 0);
	ck_assert_int_eq(wire_cstr(wire_get(res(), "ref"), ref, sizeof(ref)),
			 0);
	ck_assert_int_eq(CALL(fd, "booking.get", "{s:s}", "ref", ref), 0);
	ck_assert_int_eq(CALL(fd, "booking.cancel", "{s:s}", "ref", ref), 0);
	ck_assert_int_eq(
	    CALL(fd, "booking.get", "{s:s}", "ref", "0000000000000000"),
	    BOOKD_E_NOT_FOUND);
	ck_assert_int_eq(CALL(fd, "hello", "{s:s}", "token", "bk1.00.00"),
			 BOOKD_E_UNAUTHENTICATED);
	close(fd);
}
END_TEST

START_TEST(error_codes)
{
	int fd = conn();
	int64_t d = h_day(2);

	ck_assert_int_eq(CALL(fd, "no.such.op", NULL), BOOKD_E_UNKNOWN_OP);
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "Bad Id"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(err_field(), "id");
	mkres(fd, "studio-a");
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "studio-a"),
			 BOOKD_E_EXISTS);
	ck_assert_int_eq(CALL(fd, "resource.get", "{s:s}", "id", "nope"),
			 BOOKD_E_NOT_FOUND);
	ck_assert_int_eq(book(fd, "studio-a", d, d + HOUR, NULL), 0);
	ck_assert_int_eq(book(fd, "studio-a", d, d + HOUR, NULL),
			 BOOKD_E_CONFLICT);
	ck_assert_int_eq(wire_get(h_error(&C.r), "conflicts")->via.array.size,
			 1);
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource",
			      "studio-a", "start", d + HOUR, "end",
			      d + 2 * HOUR, "session", "X"),
			 0);
	ck_assert_int_eq(book(fd, "studio-a", d + HOUR, d + 2 * HOUR, "Y"),
			 BOOKD_E_HELD);
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource",
			      "studio-a", "start", d, "end", d + HOUR,
			      "session", "Z"),
			 BOOKD_E_CONFLICT);
	ck_assert_int_eq(
	    book(fd, "studio-a", h_day(800), h_day(800) + HOUR, NULL),
	    BOOKD_E_OUT_OF_RANGE);
	ck_assert_int_eq(
	    book(fd, "studio-a", h_day(-30), h_day(-30) + HOUR, NULL),
	    BOOKD_E_OUT_OF_RANGE);
	ck_assert_int_eq(CALL(fd, "resource.update", "{s:s s:b}", "id",
			      "studio-a", "active", 0),
			 0);
	ck_assert_int_eq(book(fd, "studio-a", d + 5 * HOUR, d + 6 * HOUR, NULL),
			 BOOKD_E_INACTIVE);
	ck_assert_int_eq(CALL(fd, "booking.transition", "{s:I s:s}", "id",
			      (int64_t)1, "to", "pending"),
			 BOOKD_E_INVALID_STATE);
	ck_assert_int_eq(CALL(fd, "hello", "{s:s}", "token", "nonsense"),
			 BOOKD_E_UNAUTHENTICATED);
	ck_assert_int_eq(CALL(fd, "unsubscribe", "{s:i}", "sub", 77),
			 BOOKD_E_NOT_FOUND);
	close(fd);
}
END_TEST

START_TEST(limit_resources)
{
	int fd;

	ck_assert_int_eq(h_stop(&C.h), 0);
	ck_assert_int_eq(h_restart(&C.h, "--max-resources 2"), 0);
	fd = conn();
	mkres(fd, "a");
	mkres(fd, "b");
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "c"),
			 BOOKD_E_LIMIT);
	close(fd);
}
END_TEST

/* Send a raw frame; return its reply's id (-1: nil) and whether it is ok. */
static int64_t raw_reply(int fd, const unsigned char *f, size_t n, bool *ok)
{
	msgpack_unpacked u;
	const msgpack_object *id;
	int64_t v;

	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_send_all(fd, f, n), 0);
	ck_assert_int_eq(h_recv_frame(fd, &u, 5000), 1);
	*ok = wire_get(&u.data, "ok")->via.boolean;
	id = wire_get(&u.data, "id");
	v = id->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)id->via.u64
							: -1;
	msgpack_unpacked_destroy(&u);
	return v;
}

/* The request map's keys: id, op, args, as and nothing else; the first of
 * a repeated key counts. */
START_TEST(envelope_keys)
{
	int fd = conn();
	/* {id: 7, op: "ping", x: 1} */
	static const unsigned char unknown[] = {
	    0,	 0,   0,    16,	 0x83, 0xa2, 'i', 'd',	7,   0xa2,
	    'o', 'p', 0xa4, 'p', 'i',  'n',  'g', 0xa1, 'x', 1};
	/* {op: "ping", op: "nope", id: 9} */
	static const unsigned char twice[] = {
	    0,	 0,   0,   21,	 0x83, 0xa2, 'o', 'p',	0xa4,
	    'p', 'i', 'n', 'g',	 0xa2, 'o',  'p', 0xa4, 'n',
	    'o', 'p', 'e', 0xa2, 'i',  'd',  9};
	/* {1: 2, op: "ping"} */
	static const unsigned char intkey[] = {
	    0, 0, 0, 11, 0x82, 1, 2, 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g'};
	/* {id: "a", op: "ping"} */
	static const unsigned char strid[] = {0,   0,	 0,    14,  0x82, 0xa2,
					      'i', 'd',	 0xa1, 'a', 0xa2, 'o',
					      'p', 0xa4, 'p',  'i', 'n',  'g'};
	bool ok;

	ck_assert_int_eq(raw_reply(fd, unknown, sizeof(unknown), &ok), 7);
	ck_assert(!ok);
	ck_assert_int_eq(raw_reply(fd, twice, sizeof(twice), &ok), 9);
	ck_assert(ok);
	ck_assert_int_eq(raw_reply(fd, intkey, sizeof(intkey), &ok), -1);
	ck_assert(!ok);
	ck_assert_int_eq(raw_reply(fd, strid, sizeof(strid), &ok), -1);
	ck_assert(!ok);
	ck_assert_int_eq(CALL(fd, "ping", NULL), 0);
	close(fd);
}
END_TEST

/* Frames that arrive together are answered together: one send with every
 * reply of the turn, so one read gets them all. */
START_TEST(replies_of_a_turn_leave_together)
{
	enum { N = 20, FLEN = 4 + 13 };
	unsigned char req[N * FLEN], got[65536];
	int fd = conn(), n = 0;
	ssize_t r;
	size_t off = 0;

	for (int i = 0; i < N; i++) {
		static const unsigned char tmpl[FLEN] = {
		    0,	  0,   0,   13,	  0x82, 0xa2, 'i', 'd', 0,
		    0xa2, 'o', 'p', 0xa4, 'p',	'i',  'n', 'g'};
		memcpy(req + i * FLEN, tmpl, FLEN);
		req[i * FLEN + 8] = (unsigned char)(i + 1);
	}
	ck_assert_int_eq(h_send_all(fd, req, sizeof(req)), 0);
	/* Give the engine time to answer all of them before reading. */
	usleep(300 * 1000);
	r = recv(fd, got, sizeof(got), MSG_DONTWAIT);
	ck_assert_int_gt(r, 0);
	while (off + 4 <= (size_t)r) {
		size_t len = (size_t)got[off] << 24 |
			     (size_t)got[off + 1] << 16 |
			     (size_t)got[off + 2] << 8 | got[off + 3];
		off += 4 + len;
		n++;
	}
	ck_assert_uint_eq(off, (size_t)r);
	ck_assert_int_eq(n, N);
	close(fd);
}
END_TEST

START_TEST(bad_input)
{
	int fd = conn();
	int64_t d = h_day(2);
	static const unsigned char garbage[] = {0, 0, 0, 3, 0xc1, 0xc1, 0xc1};
	static const unsigned char not_map[] = {0, 0, 0, 1, 0x05};
	static const unsigned char huge[] = {0x7f, 0xff, 0xff, 0xff, 1, 2};
	char big[5000];
	msgpack_unpacked u;

	mkres(fd, "studio-a");
	/* Misaligned, reversed, wrong types, unknown fields, oversized. */
	ck_assert_int_eq(book(fd, "studio-a", d + 1, d + HOUR, NULL),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(err_field(), "start");
	ck_assert_int_eq(book(fd, "studio-a", d + HOUR, d + HOUR, NULL),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(err_field(), "end");
	ck_assert_int_eq(CALL(fd, "check", "{s:s s:s s:I}", "resource",
			      "studio-a", "start", "10:00", "end", d),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL(fd, "check", "{s:s s:I s:I s:i}", "resource",
			      "studio-a", "start", d, "end", d + Q, "colour",
			      3),
			 BOOKD_E_BAD_REQUEST);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ck_assert_int_eq(CALL(fd, "check", "{s:s s:I s:I s:s}", "resource",
			      "studio-a", "start", d, "end", d + Q, "session",
			      big),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s s:s}}",
			      "resource", "studio-a", "start", d, "end",
			      d + HOUR, "booker", "name", "A", "email", "a@b",
			      "shoe", "42"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(err_field(), "booker.shoe");
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s}}",
			      "resource", "studio-a", "start", d, "end",
			      d + HOUR, "booker", "name", "A", "email", "nope"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL(fd, "slots.day", "{s:s s:s s:i}", "resource",
			      "studio-a", "date", "2026-02-30", "duration", 60),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL(fd, "slots.day", "{s:s s:s s:i}", "resource",
			      "studio-a", "date", "2026-12-01", "duration", 20),
			 BOOKD_E_BAD_REQUEST);
	/* Garbage inside a valid frame and a frame that is not a map: the
	 * connection survives both. */
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_send_all(fd, garbage, sizeof(garbage)), 0);
	ck_assert_int_eq(h_recv_frame(fd, &u, 5000), 1);
	ck_assert(wire_str_eq(wire_get(wire_get(&u.data, "error"), "code"),
			      "BAD_REQUEST"));
	msgpack_unpacked_destroy(&u);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_send_all(fd, not_map, sizeof(not_map)), 0);
	ck_assert_int_eq(h_recv_frame(fd, &u, 5000), 1);
	ck_assert(wire_str_eq(wire_get(wire_get(&u.data, "error"), "code"),
			      "BAD_REQUEST"));
	msgpack_unpacked_destroy(&u);
	ck_assert_int_eq(CALL(fd, "ping", NULL), 0);
	/* Nothing committed was touched. */
	ck_assert_int_eq(CALL(fd, "stats", NULL), 0);
	ck_assert_int_eq(ires("bookings"), 0);
	/* An unframeable length: TOO_LARGE, then the connection closes. */
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_send_all(fd, huge, sizeof(huge)), 0);
	ck_assert_int_eq(h_recv_frame(fd, &u, 5000), 1);
	ck_assert(wire_str_eq(wire_get(wire_get(&u.data, "error"), "code"),
			      "TOO_LARGE"));
	msgpack_unpacked_destroy(&u);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_recv_frame(fd, &u, 5000), 0);
	msgpack_unpacked_destroy(&u);
	close(fd);
	/* The engine is fine. */
	fd = conn();
	ck_assert_int_eq(CALL(fd, "ping", NULL), 0);
	close(fd);
}
END_TEST

START_TEST(pipelining_in_order)
{
	int fd = conn();
	int64_t d = h_day(6);
	msgpack_unpacked u;

	mkres(fd, "pipe");
	/* Writes and reads interleaved: replies come back in request order
	 * even though writes wait for their commit. */
	for (int i = 0; i < 200; i++) {
		if (i % 2 == 0)
			ck_assert_int_eq(
			    h_send_req(fd, 1000 + (uint64_t)i, "book",
				       "{s:s s:I s:I s:{s:s s:s}}", "resource",
				       "pipe", "start",
				       d + (int64_t)(i / 2) * Q, "end",
				       d + (int64_t)(i / 2 + 1) * Q, "booker",
				       "name", "p", "email", "p@q"),
			    0);
		else
			ck_assert_int_eq(
			    h_send_req(fd, 1000 + (uint64_t)i, "ping", NULL),
			    0);
	}
	msgpack_unpacked_init(&u);
	for (int i = 0; i < 200; i++) {
		int64_t id;
		ck_assert_int_eq(h_recv_frame(fd, &u, 10000), 1);
		ck_assert(wire_int(wire_get(&u.data, "id"), &id));
		ck_assert_int_eq(id, 1000 + i);
		ck_assert(wire_get(&u.data, "ok")->via.boolean);
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
	}
	msgpack_unpacked_destroy(&u);
	close(fd);
}
END_TEST

START_TEST(pools_count_units)
{
	int fd = conn();
	int64_t d = h_day(2);

	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s s:i}", "id", "mics",
			      "quantity", 3),
			 0);
	mkres(fd, "room");
	ck_assert_int_eq(
	    CALL(fd, "book", "{s:[{s:s s:i}, s] s:I s:I s:{s:s s:s}}",
		 "resources", "id", "mics", "quantity", 2, "room", "start", d,
		 "end", d + HOUR, "booker", "name", "a", "email", "a@b"),
	    0);
	ck_assert_int_eq(CALL(fd, "book", "{s:[{s:s s:i}] s:I s:I s:{s:s s:s}}",
			      "resources", "id", "mics", "quantity", 2, "start",
			      d, "end", d + HOUR, "booker", "name", "a",
			      "email", "a@b"),
			 BOOKD_E_CONFLICT);
	ck_assert_int_eq(CALL(fd, "book", "{s:[{s:s s:i}] s:I s:I s:{s:s s:s}}",
			      "resources", "id", "mics", "quantity", 1, "start",
			      d, "end", d + HOUR, "booker", "name", "a",
			      "email", "a@b"),
			 0);
	ck_assert(booked(fd, "mics", d));
	ck_assert_int_eq(CALL(fd, "booking.cancel", "{s:I}", "id", (int64_t)2),
			 0);
	ck_assert(!booked(fd, "mics", d));
	/* An add-on alone is refused. */
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s s:b}", "id", "cable",
			      "standalone", 0),
			 0);
	ck_assert_int_eq(book(fd, "cable", d, d + HOUR, NULL),
			 BOOKD_E_BAD_REQUEST);
	close(fd);
}
END_TEST

START_TEST(hold_many_all_or_nothing)
{
	int fd = conn();
	int64_t d = h_day(2);
	char date[11];

	mkres(fd, "a");
	mkres(fd, "b");
	ck_assert_int_eq(book(fd, "b", d + HOUR, d + 2 * HOUR, NULL), 0);
	/* b is booked at that time: neither hold is taken. */
	ck_assert_int_eq(CALL(fd, "hold.many",
			      "{s:[{s:s s:I s:I} {s:s s:I s:I}] s:s}", "holds",
			      "resource", "a", "start", d + HOUR, "end",
			      d + 2 * HOUR, "resource", "b", "start", d + HOUR,
			      "end", d + 2 * HOUR, "session", "S"),
			 BOOKD_E_CONFLICT);
	h_date(d, date);
	ck_assert_int_eq(
	    CALL(fd, "holds.day", "{s:s s:s}", "resource", "a", "date", date),
	    0);
	ck_assert_int_eq(res()->via.array.size, 0);
	ck_assert_int_eq(
	    CALL(fd, "hold.many", "{s:[{s:s s:I s:I} {s:s s:I s:I}] s:s}",
		 "holds", "resource", "a", "start", d, "end", d + HOUR,
		 "resource", "b", "start", d, "end", d + HOUR, "session", "S"),
	    0);
	ck_assert_int_eq(CALL(fd, "holds.day", "{s:s s:s s:s}", "resource", "b",
			      "date", date, "session", "S"),
			 0);
	ck_assert_int_eq(res()->via.array.size, 1);
	ck_assert(wire_get(&res()->via.array.ptr[0], "mine")->via.boolean);
	/* The same resource twice, and a misaligned item, are refused with
	 * the item named. */
	ck_assert_int_eq(
	    CALL(fd, "hold.many", "{s:[{s:s s:I s:I} {s:s s:I s:I}] s:s}",
		 "holds", "resource", "a", "start", d, "end", d + HOUR,
		 "resource", "a", "start", d, "end", d + HOUR, "session", "S"),
	    BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL(fd, "hold.many", "{s:[{s:s s:I s:I}] s:s}",
			      "holds", "resource", "a", "start", d + 5, "end",
			      d + HOUR, "session", "S"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(err_field(), "holds[0].start");
	close(fd);
}
END_TEST

START_TEST(plain_sync_mode)
{
	int fd;
	int64_t d = h_day(1);

	ck_assert_int_eq(h_stop(&C.h), 0);
	ck_assert_int_eq(h_restart(&C.h, "--sync-mode plain"), 0);
	fd = conn();
	mkres(fd, "p");
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(
		    book(fd, "p", d + i * Q, d + (i + 1) * Q, NULL), 0);
	close(fd);
	h_kill9(&C.h);
	ck_assert_int_eq(h_restart(&C.h, NULL), 0);
	fd = conn();
	ck_assert_int_eq(CALL(fd, "stats", NULL), 0);
	ck_assert_int_eq(ires("bookings"), 20);
	close(fd);
}
END_TEST

/* A subscriber that stops reading is cut off; the engine stays healthy. */
START_TEST(slow_subscriber_cut_off)
{
	int fd = conn(), w = conn();
	int64_t d = h_day(2);
	char date[11];
	msgpack_unpacked u;

	mkres(fd, "a");
	h_date(d, date);
	for (int i = 0; i < 4096; i++)
		ck_assert_int_eq(h_send_req(w, (uint64_t)i + 1, "subscribe",
					    "{s:s s:s s:s}", "topic", "holds",
					    "resource", "a", "from", date),
				 0);
	/* Let the subscriptions land (the ping after them is answered in
	 * order), then stop reading w. */
	ck_assert_int_eq(CALL(fd, "ping", NULL), 0);
	for (int k = 0; k < 200; k++) {
		ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}",
				      "resource", "a", "start",
				      d + (k % 2) * HOUR, "end",
				      d + (k % 2) * HOUR + Q, "session", "S"),
				 0);
		ck_assert_int_eq(CALL(fd, "stats", NULL), 0);
		if (ires("cut_off") > 0)
			break;
	}
	ck_assert_int_eq(ires("cut_off"), 1);
	ck_assert_int_eq(ires("subscriptions"), 0);
	ck_assert(h_log_contains(&C.h, "cut off"));
	/* The cut connection ends (after whatever was already sent). */
	msgpack_unpacked_init(&u);
	for (;;) {
		int rc = h_recv_frame(w, &u, 10000);
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
		if (rc != 1) {
			ck_assert_int_eq(rc, 0);
			break;
		}
	}
	msgpack_unpacked_destroy(&u);
	close(w);
	close(fd);
}
END_TEST

/* A token minted by `bookctl token` names the role and the audit actor. */
START_TEST(tokens_name_the_actor)
{
	int fd = conn();
	char cmd[1024], tok[600];
	const char *bin = getenv("BOOKCTL_BIN");
	const msgpack_object *hist;
	FILE *p;

	ck_assert_ptr_nonnull(bin);
	mkres(fd, "a");
	snprintf(cmd, sizeof(cmd),
		 "%s token %s --role public --subject web@front --ttl 60", bin,
		 C.h.data);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(tok, sizeof(tok), p));
	ck_assert_int_eq(pclose(p), 0);
	tok[strcspn(tok, "\n")] = 0;
	ck_assert_int_eq(CALL(fd, "hello", "{s:s}", "token", tok), 0);
	ck_assert(wire_str_eq(wire_get(res(), "role"), "public"));
	ck_assert_int_eq(book(fd, "a", h_day(1), h_day(1) + HOUR, NULL), 0);
	hist = wire_get(res(), "history");
	ck_assert(
	    wire_str_eq(wire_get(&hist->via.array.ptr[0], "by"), "web@front"));
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "b"),
			 BOOKD_E_FORBIDDEN);
	/* A tampered token is refused. */
	tok[8] = tok[8] == '0' ? '1' : '0';
	ck_assert_int_eq(CALL(fd, "hello", "{s:s}", "token", tok),
			 BOOKD_E_UNAUTHENTICATED);
	close(fd);
}
END_TEST

/* Count pushes on w up to the reply of a ping (answered after every push
 * queued before it); topics and dates go to the caller's arrays. */
static int drain_pushes(int w, char dates[][11], int max)
{
	msgpack_unpacked u;
	int n = 0;

	ck_assert_int_eq(h_send_req(w, 777, "ping", NULL), 0);
	msgpack_unpacked_init(&u);
	for (;;) {
		ck_assert_int_eq(h_recv_frame(w, &u, 10000), 1);
		if (wire_get(&u.data, "push") == NULL)
			break;
		if (n < max)
			wire_cstr(wire_get(&u.data, "date"), dates[n], 11);
		n++;
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
	}
	msgpack_unpacked_destroy(&u);
	return n;
}

/* Pushes name local dates in the resource's zone, once per date. */
START_TEST(pushes_use_local_dates)
{
	int fd = conn(), w = conn();
	int64_t d = h_day(3);
	char dates[8][11], want0[11], want1[11];
	int n;

	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s s:s}", "id", "ny",
			      "timezone", "America/New_York"),
			 0);
	ck_assert_int_eq(CALL(w, "subscribe", "{s:s s:s}", "topic", "slots",
			      "resource", "ny"),
			 0);
	/* 02:00-06:00 UTC is the evening before and the night of, in New
	 * York: two local dates, each pushed once. */
	ck_assert_int_eq(book(fd, "ny", d + 2 * HOUR, d + 6 * HOUR, NULL), 0);
	n = drain_pushes(w, dates, 8);
	ck_assert_int_eq(n, 2);
	h_date(d - 86400, want0);
	h_date(d, want1);
	ck_assert_str_eq(dates[0], want0);
	ck_assert_str_eq(dates[1], want1);
	/* Confirming a pending booking keeps its slots: no slots push. */
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			      "resource", "ny", "start", d + 10 * HOUR, "end",
			      d + 11 * HOUR, "booker", "name", "a", "email",
			      "a@b", "status", "pending"),
			 0);
	ck_assert_int_eq(drain_pushes(w, dates, 8), 1);
	ck_assert_int_eq(CALL(fd, "booking.transition", "{s:I s:s}", "id",
			      (int64_t)2, "to", "confirmed"),
			 0);
	ck_assert_int_eq(drain_pushes(w, dates, 8), 0);
	close(w);
	close(fd);
}
END_TEST

START_TEST(keys_and_actors)
{
	int fd = conn(), pub = conn();
	int64_t d = h_day(2);

	mkres(fd, "a");
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			      "resource", "a", "start", d, "end", d + HOUR,
			      "booker", "name", "A", "email", "a@b", "key",
			      "k1"),
			 0);
	/* The same key for another request does not reveal the booking. */
	ck_assert_int_eq(CALL(pub, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			      "resource", "a", "start", d, "end", d + HOUR,
			      "booker", "name", "M", "email", "m@x", "key",
			      "k1"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(err_field(), "key");
	ck_assert_int_eq(CALL(pub, "hello", "{s:s}", "role", "public"), 0);
	ck_assert_int_eq(CALL(pub, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			      "resource", "a", "start", d + HOUR, "end",
			      d + 2 * HOUR, "booker", "name", "M", "email",
			      "m@x", "by", "the-boss"),
			 BOOKD_E_FORBIDDEN);
	ck_assert_int_eq(CALL(pub, "hello", "{s:s}", "token", "bk1.00.00"),
			 BOOKD_E_UNAUTHENTICATED);
	close(pub);
	close(fd);
}
END_TEST

START_TEST(reschedule_over_own_hold)
{
	int fd = conn();
	int64_t d = h_day(2);
	char date[11];

	mkres(fd, "a");
	ck_assert_int_eq(book(fd, "a", d, d + HOUR, NULL), 0);
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource", "a",
			      "start", d + 3 * HOUR, "end", d + 4 * HOUR,
			      "session", "S"),
			 0);
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource", "a",
			      "start", d + 5 * HOUR, "end", d + 6 * HOUR,
			      "session", "T"),
			 0);
	ck_assert_int_eq(CALL(fd, "booking.reschedule", "{s:I s:I s:I}", "id",
			      (int64_t)1, "start", d + 3 * HOUR, "end",
			      d + 4 * HOUR),
			 BOOKD_E_HELD);
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource", "a",
			      "start", d + 7 * HOUR, "end", d + 8 * HOUR,
			      "session", "U"),
			 0);
	ck_assert_int_eq(CALL(fd, "booking.reschedule", "{s:I s:I s:I s:s}",
			      "id", (int64_t)1, "start", d + 3 * HOUR, "end",
			      d + 4 * HOUR, "session", "S"),
			 0);
	/* S's hold became the booking; holds.day is chronological. */
	h_date(d, date);
	ck_assert_int_eq(
	    CALL(fd, "holds.day", "{s:s s:s}", "resource", "a", "date", date),
	    0);
	ck_assert_int_eq(res()->via.array.size, 2);
	{
		int64_t a, b;
		ck_assert(
		    wire_int(wire_get(&res()->via.array.ptr[0], "start"), &a));
		ck_assert(
		    wire_int(wire_get(&res()->via.array.ptr[1], "start"), &b));
		ck_assert_int_lt(a, b);
	}
	close(fd);
}
END_TEST

/* Checkpoints while running (1 MiB of log each), with small segments that
 * get trimmed, then kill -9: snapshot plus log tail restore everything. */
START_TEST(checkpoints_and_recovery)
{
	int fd;
	int64_t d = h_day(4), lsn;
	static char note[3001];

	ck_assert_int_eq(h_stop(&C.h), 0);
	ck_assert_int_eq(h_restart(&C.h, "--checkpoint-mb 1 --segment-mb 1"),
			 0);
	fd = conn();
	mkres(fd, "cp");
	memset(note, 'n', sizeof(note) - 1);
	for (int i = 0; i < 900; i++)
		ck_assert_int_eq(
		    CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			 "resource", "cp", "start", d + (int64_t)i * Q, "end",
			 d + (int64_t)(i + 1) * Q, "booker", "name", "n",
			 "email", "n@x", "note", note),
		    0);
	ck_assert_int_eq(CALL(fd, "booking.cancel", "{s:I}", "id", (int64_t)17),
			 0);
	/* Checkpoints are written by a child: wait (bounded) for the last
	 * one due to be installed and the log trimmed. */
	for (int tries = 0;; tries++) {
		ck_assert_int_eq(CALL(fd, "stats", NULL), 0);
		if ((ires("last_checkpoint") > 0 && ires("log_segments") < 4) ||
		    tries == 300)
			break;
		usleep(100000);
	}
	lsn = ires("lsn");
	ck_assert_int_gt(ires("last_checkpoint"), 0);
	ck_assert_int_lt(ires("log_segments"), 4);
	close(fd);
	h_kill9(&C.h);
	ck_assert_int_eq(h_restart(&C.h, NULL), 0);
	fd = conn();
	ck_assert_int_eq(CALL(fd, "stats", NULL), 0);
	ck_assert_int_eq(ires("lsn"), lsn);
	ck_assert_int_eq(ires("bookings"), 900);
	ck_assert(booked(fd, "cp", d + 899 * Q));
	ck_assert(!booked(fd, "cp", d + 16 * Q));
	{
		/* The feed survived the snapshots: page through it. */
		int64_t after = 0, n = 0;
		for (;;) {
			uint32_t got;
			ck_assert_int_eq(CALL(fd, "events", "{s:I s:i}",
					      "after", after, "limit", 100),
					 0);
			got = wire_get(res(), "events")->via.array.size;
			if (got == 0)
				break;
			n += got;
			after = ires("next");
		}
		ck_assert_int_eq(n, 901);
	}
	close(fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("blackbox");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, scenario1_multi_duration);
	tcase_add_test(tc, scenario2_isolation);
	tcase_add_test(tc, scenario3_expiry_push);
	tcase_add_test(tc, scenario4_chronological);
	tcase_add_test(tc, scenario5_invalidation);
	tcase_add_test(tc, scenario6_multi_day);
	tcase_add_test(tc, scenario7_race);
	tcase_add_test(tc, restart_keeps_bookings);
	tcase_add_test(tc, second_engine_refused);
	tcase_add_test(tc, idempotency_key);
	tcase_add_test(tc, own_hold_consumed);
	tcase_add_test(tc, transitions_and_reschedule);
	tcase_add_test(tc, public_role);
	tcase_add_test(tc, error_codes);
	tcase_add_test(tc, limit_resources);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, envelope_keys);
	tcase_add_test(tc, replies_of_a_turn_leave_together);
	tcase_add_test(tc, pipelining_in_order);
	tcase_add_test(tc, pools_count_units);
	tcase_add_test(tc, hold_many_all_or_nothing);
	tcase_add_test(tc, plain_sync_mode);
	tcase_add_test(tc, slow_subscriber_cut_off);
	tcase_add_test(tc, tokens_name_the_actor);
	tcase_add_test(tc, pushes_use_local_dates);
	tcase_add_test(tc, keys_and_actors);
	tcase_add_test(tc, reschedule_over_own_hold);
	tcase_add_test(tc, checkpoints_and_recovery);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

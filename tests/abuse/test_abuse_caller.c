/*
 * test_abuse_caller.c - black-box tests of what one caller may do to
 * another: the principal a request acts for ("as" from a gateway), and the
 * per-caller rules built on it.
 *
 * Every case starts a real bookd on a temporary directory and speaks the
 * protocol to it; each takes a few seconds at most.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "suite_main.h"
#include "wire.h"

#define HOUR 3600

static struct h_case C;

static void setup(void)
{
	h_case_start(&C, NULL);
}

static void teardown(void)
{
	h_case_end(&C);
}

/* The case's engine again, started with args instead. */
static void restart_with(const char *args)
{
	h_cleanup(&C.h);
	ck_assert_int_eq(h_start(&C.h, args), 0);
}

/* One call; the reply stays in C.r until the next call. */
#define CALL(fd, op, ...) h_case_call(&C, fd, NULL, op, __VA_ARGS__)
/* The same for visitor `as` of a gateway connection. */
#define CALL_AS(fd, as, op, ...) h_case_call(&C, fd, as, op, __VA_ARGS__)

static const msgpack_object *res(void)
{
	return h_result(&C.r);
}

static bool err_msg_has(const char *needle)
{
	char buf[300];
	const msgpack_object *m = wire_get(h_error(&C.r), "message");
	return m && wire_cstr(m, buf, sizeof(buf)) == 0 &&
	       strstr(buf, needle) != NULL;
}

static int conn(void)
{
	return h_case_conn(&C);
}

/* A token of `role` for `subject`, minted by bookctl. */
static void mint(const char *role, const char *subject, char tok[600])
{
	const char *bin = getenv("BOOKCTL_BIN");
	const char *argv[] = {bin,	   "token", C.h.data, "--role", role,
			      "--subject", subject, "--ttl",  "600",	NULL};
	char err[256];

	ck_assert_ptr_nonnull(bin);
	ck_assert_int_eq(h_run_capture(argv, 10000, tok, 600, err, sizeof(err)),
			 0);
	tok[strcspn(tok, "\n")] = 0;
}

/* A connection holding a token of `role` for `subject`. */
static int conn_token(const char *role, const char *subject)
{
	char tok[600];
	int fd = conn();

	mint(role, subject, tok);
	ck_assert_int_eq(CALL(fd, "hello", "{s:s}", "token", tok), 0);
	return fd;
}

/* A connection dropped to public. */
static int conn_public(void)
{
	int fd = conn();
	ck_assert_int_eq(CALL(fd, "hello", "{s:s}", "role", "public"), 0);
	return fd;
}

static void mkres(int fd, const char *id)
{
	h_case_mkres(&C, fd, id);
}

static const char *first_by(void)
{
	static char buf[200];
	const msgpack_object *hist = wire_get(res(), "history");
	ck_assert_ptr_nonnull(hist);
	ck_assert_int_ge(hist->via.array.size, 1);
	ck_assert_int_eq(wire_cstr(wire_get(&hist->via.array.ptr[0], "by"), buf,
				   sizeof(buf)),
			 0);
	return buf;
}

/* A gateway token may name visitors; each visitor is its own principal, and
 * the request runs as public. */
START_TEST(gateway_acts_for_visitors)
{
	int adm = conn(), gw = conn_token("gateway", "web");
	int64_t d = h_day(2);

	mkres(adm, "a");
	ck_assert(wire_str_eq(wire_get(res(), "id"), "a"));
	ck_assert_int_eq(CALL(gw, "hello", NULL), 0);
	ck_assert(wire_str_eq(wire_get(res(), "role"), "gateway"));
	ck_assert_int_eq(CALL_AS(gw, "alice", "book",
				 "{s:s s:I s:I s:{s:s s:s}}", "resource", "a",
				 "start", d + 9 * HOUR, "end", d + 10 * HOUR,
				 "booker", "name", "Alice", "email", "a@x.org"),
			 0);
	ck_assert_str_eq(first_by(), "v:web/alice");
	/* Without "as" the gateway is itself, a public caller. */
	ck_assert_int_eq(CALL(gw, "book", "{s:s s:I s:I s:{s:s s:s}}",
			      "resource", "a", "start", d + 10 * HOUR, "end",
			      d + 11 * HOUR, "booker", "name", "G", "email",
			      "g@x.org"),
			 0);
	ck_assert_str_eq(first_by(), "web");
	ck_assert_int_eq(CALL(gw, "resource.create", "{s:s}", "id", "b"),
			 BOOKD_E_FORBIDDEN);
	/* A malformed visitor name is refused. */
	ck_assert_int_eq(CALL_AS(gw, "a b", "ping", NULL), BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL_AS(gw, "", "ping", NULL), BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL_AS(gw,
				 "x1234567890123456789012345678901234567890123"
				 "456789012345678901234",
				 "ping", NULL),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL_AS(gw, "a.B_c:d-9", "ping", NULL), 0);
	ck_assert_int_eq(CALL_AS(gw, "v", "hello", NULL), BOOKD_E_BAD_REQUEST);
	close(adm);
	close(gw);
}
END_TEST

/* Public callers, with or without a public token, may not name visitors. */
START_TEST(public_cannot_use_as)
{
	int pub = conn_public(), tp = conn_token("public", "someone");

	ck_assert_int_eq(CALL_AS(pub, "alice", "ping", NULL),
			 BOOKD_E_FORBIDDEN);
	ck_assert(err_msg_has("as: only a gateway may act for visitors"));
	ck_assert_int_eq(CALL_AS(tp, "alice", "ping", NULL), BOOKD_E_FORBIDDEN);
	/* A dropped connection cannot be raised to gateway. */
	{
		char tok[600];
		mint("gateway", "web", tok);
		ck_assert_int_eq(CALL(pub, "hello", "{s:s}", "token", tok),
				 BOOKD_E_FORBIDDEN);
	}
	close(pub);
	close(tp);
}
END_TEST

/* "as" on an admin connection runs that one request as public. */
START_TEST(as_demotes_admin)
{
	int adm = conn();
	int64_t d = h_day(2);

	mkres(adm, "a");
	ck_assert_int_eq(
	    CALL_AS(adm, "bob", "resource.create", "{s:s}", "id", "b"),
	    BOOKD_E_FORBIDDEN);
	ck_assert_int_eq(CALL_AS(adm, "bob", "booking.list", NULL),
			 BOOKD_E_FORBIDDEN);
	ck_assert_int_eq(CALL_AS(adm, "bob", "book",
				 "{s:s s:I s:I s:{s:s s:s} s:s}", "resource",
				 "a", "start", d + 9 * HOUR, "end",
				 d + 10 * HOUR, "booker", "name", "Bob",
				 "email", "b@x.org", "status", "pending"),
			 BOOKD_E_FORBIDDEN);
	ck_assert_int_eq(CALL_AS(adm, "bob", "book",
				 "{s:s s:I s:I s:{s:s s:s}}", "resource", "a",
				 "start", d + 9 * HOUR, "end", d + 10 * HOUR,
				 "booker", "name", "Bob", "email", "b@x.org"),
			 0);
	ck_assert(strncmp(first_by(), "v:uid", 5) == 0);
	/* The connection itself is still admin. */
	ck_assert_int_eq(CALL(adm, "resource.create", "{s:s}", "id", "b"), 0);
	close(adm);
}
END_TEST

static int book_key(int fd, const char *res, int64_t s, int64_t e,
		    const char *email, const char *key)
{
	return CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s s:s} s:s}", "resource",
		    res, "start", s, "end", e, "booker", "name", "Victim",
		    "email", email, "phone", "+33 1 23 45 67 89", "key", key);
}

static void result_str(const char *key, char *buf, size_t len)
{
	ck_assert_int_eq(wire_cstr(wire_get(res(), key), buf, len), 0);
}

/* Issue 11.1: an idempotency key belongs to the caller that used it.  A
 * repeat by another caller is an ordinary new request and reveals nothing
 * of the first booking. */
START_TEST(keys_are_per_caller)
{
	int adm = conn(), alice = conn_token("public", "alice"),
	    mallory = conn_token("public", "mallory");
	int64_t d = h_day(3);
	char ref[40], ref2[40];

	mkres(adm, "a");
	ck_assert_int_eq(book_key(alice, "a", d + 9 * HOUR, d + 10 * HOUR,
				  "alice@x.org", "web-42-1"),
			 0);
	result_str("ref", ref, sizeof(ref));
	/* Alice's repeat returns her booking. */
	ck_assert_int_eq(book_key(alice, "a", d + 9 * HOUR, d + 10 * HOUR,
				  "alice@x.org", "web-42-1"),
			 0);
	result_str("ref", ref2, sizeof(ref2));
	ck_assert_str_eq(ref, ref2);
	/* Mallory replaying the request is a new booking of a taken slot. */
	ck_assert_int_eq(book_key(mallory, "a", d + 9 * HOUR, d + 10 * HOUR,
				  "alice@x.org", "web-42-1"),
			 BOOKD_E_CONFLICT);
	ck_assert(h_result(&C.r) == NULL);
	/* Under the same key, another span is Mallory's own booking, not a
	 * key reused for a different one. */
	ck_assert_int_eq(book_key(mallory, "a", d + 11 * HOUR, d + 12 * HOUR,
				  "m@x.org", "web-42-1"),
			 0);
	result_str("ref", ref2, sizeof(ref2));
	ck_assert_str_ne(ref, ref2);
	/* Visitors of one gateway are distinct callers too. */
	{
		int gw = conn_token("gateway", "web");
		ck_assert_int_eq(
		    CALL_AS(gw, "v1", "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			    "resource", "a", "start", d + 13 * HOUR, "end",
			    d + 14 * HOUR, "booker", "name", "V", "email",
			    "v@x.org", "key", "k"),
		    0);
		ck_assert_int_eq(
		    CALL_AS(gw, "v2", "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			    "resource", "a", "start", d + 13 * HOUR, "end",
			    d + 14 * HOUR, "booker", "name", "V", "email",
			    "v@x.org", "key", "k"),
		    BOOKD_E_CONFLICT);
		close(gw);
	}
	/* Keys stay per caller across a restart (the owner is logged). */
	ck_assert_int_eq(h_stop(&C.h), 0);
	ck_assert_int_eq(h_restart(&C.h, NULL), 0);
	close(alice);
	close(mallory);
	alice = conn_token("public", "alice");
	mallory = conn_token("public", "mallory");
	ck_assert_int_eq(book_key(mallory, "a", d + 9 * HOUR, d + 10 * HOUR,
				  "alice@x.org", "web-42-1"),
			 BOOKD_E_BAD_REQUEST); /* hers: a different span */
	ck_assert_int_eq(book_key(alice, "a", d + 9 * HOUR, d + 10 * HOUR,
				  "alice@x.org", "web-42-1"),
			 0);
	result_str("ref", ref2, sizeof(ref2));
	ck_assert_str_eq(ref, ref2);
	close(adm);
	close(alice);
	close(mallory);
}
END_TEST

static int hold(int fd, const char *res, int64_t s, int64_t e,
		const char *session)
{
	return CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource", res, "start",
		    s, "end", e, "session", session);
}

/* Issue 11.2: a session with live holds belongs to the caller that took
 * them; nobody else may release it, add to it or book with it. */
START_TEST(sessions_are_bound)
{
	int adm = conn(), alice = conn_token("public", "alice"),
	    mallory = conn_token("public", "mallory");
	int64_t d = h_day(3);

	mkres(adm, "a");
	mkres(adm, "b");
	ck_assert_int_eq(hold(alice, "a", d + 9 * HOUR, d + 10 * HOUR, "s1"),
			 0);
	ck_assert_int_eq(CALL(mallory, "release", "{s:s s:s}", "resource", "a",
			      "session", "s1"),
			 BOOKD_E_FORBIDDEN);
	ck_assert_int_eq(hold(mallory, "b", d + 9 * HOUR, d + 10 * HOUR, "s1"),
			 BOOKD_E_FORBIDDEN);
	ck_assert_int_eq(CALL(mallory, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			      "resource", "a", "start", d + 9 * HOUR, "end",
			      d + 10 * HOUR, "booker", "name", "M", "email",
			      "m@x.org", "session", "s1"),
			 BOOKD_E_FORBIDDEN);
	/* The hold still stands against Mallory. */
	ck_assert_int_eq(CALL(mallory, "book", "{s:s s:I s:I s:{s:s s:s}}",
			      "resource", "a", "start", d + 9 * HOUR, "end",
			      d + 10 * HOUR, "booker", "name", "M", "email",
			      "m@x.org"),
			 BOOKD_E_HELD);
	/* Alice books with her session; then the name is free again. */
	ck_assert_int_eq(CALL(alice, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			      "resource", "a", "start", d + 9 * HOUR, "end",
			      d + 10 * HOUR, "booker", "name", "A", "email",
			      "a@x.org", "session", "s1"),
			 0);
	ck_assert_int_eq(hold(mallory, "b", d + 9 * HOUR, d + 10 * HOUR, "s1"),
			 0);
	ck_assert_int_eq(CALL(alice, "release", "{s:s s:s}", "resource", "b",
			      "session", "s1"),
			 BOOKD_E_FORBIDDEN);
	close(adm);
	close(alice);
	close(mallory);
}
END_TEST

/* Issue 11.3: holds are bounded in span, per caller and per resource, and
 * never start in the past. */
START_TEST(holds_are_bounded)
{
	int adm = conn(), pub = conn_token("public", "p");
	int64_t d = h_day(3);
	char sess[16];

	mkres(adm, "a");
	mkres(adm, "b");
	/* A day and a quarter is over the default 24 h span. */
	ck_assert_int_eq(hold(pub, "a", d, d + 25 * HOUR, "s"), BOOKD_E_LIMIT);
	ck_assert_int_eq(hold(pub, "a", d, d + 24 * HOUR, "s"), 0);
	ck_assert_int_eq(
	    CALL(pub, "release", "{s:s s:s}", "resource", "a", "session", "s"),
	    0);
	/* Starting in the past (yesterday, inside the window). */
	ck_assert_int_eq(
	    hold(pub, "a", h_day(-1) + 9 * HOUR, h_day(-1) + 10 * HOUR, "s"),
	    BOOKD_E_OUT_OF_RANGE);
	/* Sixteen live holds per caller; renewing one is not a new one. */
	for (int i = 0; i < 16; i++) {
		snprintf(sess, sizeof(sess), "s%d", i);
		ck_assert_int_eq(
		    hold(pub, "a", d + i * 900, d + (i + 1) * 900, sess), 0);
	}
	ck_assert_int_eq(hold(pub, "a", d + 16 * 900, d + 17 * 900, "s16"),
			 BOOKD_E_LIMIT);
	ck_assert_int_eq(hold(pub, "a", d, d + 900, "s0"), 0);
	ck_assert_int_eq(CALL(pub, "hold.many", "{s:[{s:s s:I s:I}] s:s}",
			      "holds", "resource", "b", "start", d, "end",
			      d + 900, "session", "s0"),
			 BOOKD_E_LIMIT);
	/* Admin callers are not counted. */
	ck_assert_int_eq(hold(adm, "b", d, d + 900, "staff"), 0);
	close(adm);
	close(pub);
}
END_TEST

/* Issue 11.3: a resource takes at most --max-holds-per-resource holds from
 * non-admin callers, whoever they are. */
START_TEST(holds_per_resource)
{
	int adm, gw;
	int64_t d = h_day(3);
	char v[16];

	restart_with("--max-holds-per-resource 3");
	adm = conn();
	gw = conn_token("gateway", "web");
	mkres(adm, "a");
	for (int i = 0; i < 4; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		ck_assert_int_eq(CALL_AS(gw, v, "hold", "{s:s s:I s:I s:s}",
					 "resource", "a", "start", d + i * 900,
					 "end", d + (i + 1) * 900, "session",
					 v),
				 i < 3 ? 0 : BOOKD_E_LIMIT);
	}
	/* Staff still can. */
	ck_assert_int_eq(hold(adm, "a", d + 8 * 900, d + 9 * 900, "staff"), 0);
	close(adm);
	close(gw);
}
END_TEST

static int book_at(int fd, const char *res, int64_t s, int64_t e,
		   const char *et)
{
	if (et)
		return CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			    "resource", res, "start", s, "end", e, "booker",
			    "name", "P", "email", "p@x.org", "event_type", et);
	return CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s}}", "resource", res,
		    "start", s, "end", e, "booker", "name", "P", "email",
		    "p@x.org");
}

/* Issue 11.4: public callers book nothing that has started. */
START_TEST(public_not_in_past)
{
	int adm = conn(), pub = conn_token("public", "p");
	int64_t y = h_day(-2), d = h_day(3);
	char ref[40];

	mkres(adm, "a");
	ck_assert_int_eq(book_at(pub, "a", y + 9 * HOUR, y + 10 * HOUR, NULL),
			 BOOKD_E_OUT_OF_RANGE);
	/* Staff may record what happened. */
	ck_assert_int_eq(book_at(adm, "a", y + 9 * HOUR, y + 10 * HOUR, NULL),
			 0);
	ck_assert_int_eq(book_at(pub, "a", d + 9 * HOUR, d + 10 * HOUR, NULL),
			 0);
	result_str("ref", ref, sizeof(ref));
	ck_assert_int_eq(CALL(pub, "booking.reschedule", "{s:s s:I s:I}", "ref",
			      ref, "start", y + 11 * HOUR, "end",
			      y + 12 * HOUR),
			 BOOKD_E_OUT_OF_RANGE);
	close(adm);
	close(pub);
}
END_TEST

/* Issue 11.4: with --public-requires-event-type on, public bookings go
 * through an event type, whose lengths and notice bind them. */
START_TEST(public_requires_event_type)
{
	int adm, pub;
	int64_t d = h_day(3);
	char ref[40];

	restart_with("--public-requires-event-type on");
	adm = conn();
	pub = conn_token("public", "p");
	mkres(adm, "a");
	ck_assert_int_eq(CALL(adm, "event_type.put",
			      "{s:s s:s s:[i] s:[s] s:i}", "id", "cut", "title",
			      "Cut", "lengths", 60, "resources", "a",
			      "buffer_after", 15),
			 0);
	/* A 12-hour span with no event type. */
	ck_assert_int_eq(book_at(pub, "a", d, d + 12 * HOUR, NULL),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(book_at(pub, "a", d, d + 12 * HOUR, "cut"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(book_at(pub, "a", d + 9 * HOUR, d + 10 * HOUR, "cut"),
			 0);
	result_str("ref", ref, sizeof(ref));
	/* Its buffer holds the next quarter. */
	ck_assert_int_eq(book_at(adm, "a", d + 10 * HOUR, d + 11 * HOUR, NULL),
			 BOOKD_E_CONFLICT);
	ck_assert_int_eq(CALL(pub, "booking.reschedule", "{s:s s:I s:I}", "ref",
			      ref, "start", d + 12 * HOUR, "end",
			      d + 15 * HOUR),
			 BOOKD_E_BAD_REQUEST);
	/* Staff are not bound. */
	ck_assert_int_eq(book_at(adm, "a", d + 13 * HOUR, d + 20 * HOUR, NULL),
			 0);
	close(adm);
	close(pub);
}
END_TEST

/* Issue 11.13: bytes that are not text, or that drive a terminal, are
 * refused at the boundary, in every string argument. */
START_TEST(strings_are_text)
{
	int adm = conn(), pub = conn_token("public", "p");
	int64_t d = h_day(3);

	mkres(adm, "a");
	ck_assert_int_eq(CALL(pub, "book", "{s:s s:I s:I s:{s:s s:s}}",
			      "resource", "a", "start", d + 9 * HOUR, "end",
			      d + 10 * HOUR, "booker", "name", "Ann\xff",
			      "email", "a@x.org"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert(err_msg_has("booker.name: not valid UTF-8"));
	ck_assert_int_eq(CALL(pub, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			      "resource", "a", "start", d + 9 * HOUR, "end",
			      d + 10 * HOUR, "booker", "name", "Ann", "email",
			      "a@x.org", "note", "\x1b[2J\x1b]0;pwned\x07"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert(err_msg_has("note: contains control characters"));
	ck_assert_int_eq(CALL(pub, "book", "{s:s s:I s:I s:{s:s s:s}}",
			      "resource", "a", "start", d + 9 * HOUR, "end",
			      d + 10 * HOUR, "booker", "name", "Ann\nAdmin",
			      "email", "a@x.org"),
			 BOOKD_E_BAD_REQUEST);
	/* Overlong "/", a lone surrogate, a C1 control. */
	ck_assert_int_eq(CALL(pub, "hold", "{s:s s:I s:I s:s}", "resource", "a",
			      "start", d, "end", d + 900, "session",
			      "\xc0\xaf"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL(pub, "hold", "{s:s s:I s:I s:s}", "resource", "a",
			      "start", d, "end", d + 900, "session",
			      "\xed\xa0\x80"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL(adm, "resource.update", "{s:s s:s}", "id", "a",
			      "name",
			      "Room \xc2\x9b"
			      "1m"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL(adm, "resource.update", "{s:s s:{s:s}}", "id",
			      "a", "meta", "k\xfe", "v"),
			 BOOKD_E_BAD_REQUEST);
	/* Text is fine: accents, other scripts, emoji; tabs and newlines in
	 * notes. */
	ck_assert_int_eq(CALL(pub, "book", "{s:s s:I s:I s:{s:s s:s s:s} s:s}",
			      "resource", "a", "start", d + 9 * HOUR, "end",
			      d + 10 * HOUR, "booker", "name",
			      "Zoë 日本 \xf0\x9f\x98\x80", "email", "a@x.org",
			      "notes", "line 1\n\tline 2", "note", "a\nb"),
			 0);
	/* An unknown op or field that is not text is not echoed back. */
	ck_assert_int_eq(CALL(pub, "\xff\xfe", NULL), BOOKD_E_UNKNOWN_OP);
	ck_assert(err_msg_has("not valid text"));
	close(adm);
	close(pub);
}
END_TEST

/* Bytes the log has written (stats.log_bytes). */
static uint64_t wal_bytes(int adm)
{
	int64_t v = -1;

	ck_assert_int_eq(CALL(adm, "stats", NULL), 0);
	ck_assert(wire_int(wire_get(res(), "log_bytes"), &v));
	return (uint64_t)v;
}

/* Issue 11.9: a reschedule logs only the change, so n reschedules cost
 * O(n) bytes of log, not O(n^2). */
START_TEST(reschedules_log_the_change)
{
	int adm;
	int64_t d = h_day(3);
	char ref[40];
	uint64_t w0, w1;
	const int n = 400;

	restart_with("--max-reschedules 1000 --sync off");
	adm = conn();
	mkres(adm, "a");
	ck_assert_int_eq(book_at(adm, "a", d + 9 * HOUR, d + 10 * HOUR, NULL),
			 0);
	result_str("ref", ref, sizeof(ref));
	w0 = wal_bytes(adm);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(CALL(adm, "booking.reschedule",
				      "{s:s s:I s:I}", "ref", ref, "start",
				      d + (10 + i % 2) * HOUR, "end",
				      d + (11 + i % 2) * HOUR),
				 0);
	w1 = wal_bytes(adm);
	fprintf(stderr,
		"reschedules_log_the_change: %d reschedules, %llu "
		"bytes of WAL\n",
		n, (unsigned long long)(w1 - w0));
	/* About 300 bytes each; the whole history each time would be about
	 * 40 kB per record by the end. */
	ck_assert_uint_lt(w1 - w0, (uint64_t)n * 1024);
	/* The history still tells the whole story, across a restart. */
	ck_assert_int_eq(h_stop(&C.h), 0);
	ck_assert_int_eq(h_restart(&C.h, NULL), 0);
	close(adm);
	adm = conn();
	ck_assert_int_eq(CALL(adm, "booking.get", "{s:s}", "ref", ref), 0);
	ck_assert_int_eq(wire_get(res(), "history")->via.array.size, n + 1);
	close(adm);
}
END_TEST

/* Issue 11.9: reschedules per booking are capped, and a reschedule must
 * move the booking. */
START_TEST(reschedules_are_bounded)
{
	int pub = conn_token("public", "p"), adm = conn();
	int64_t d = h_day(3);
	char ref[40];

	mkres(adm, "a");
	ck_assert_int_eq(book_at(pub, "a", d + 9 * HOUR, d + 10 * HOUR, NULL),
			 0);
	result_str("ref", ref, sizeof(ref));
	ck_assert_int_eq(CALL(pub, "booking.reschedule", "{s:s s:I s:I}", "ref",
			      ref, "start", d + 9 * HOUR, "end", d + 10 * HOUR),
			 BOOKD_E_BAD_REQUEST);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(CALL(pub, "booking.reschedule",
				      "{s:s s:I s:I}", "ref", ref, "start",
				      d + (10 + i % 2) * HOUR, "end",
				      d + (11 + i % 2) * HOUR),
				 0);
	ck_assert_int_eq(CALL(pub, "booking.reschedule", "{s:s s:I s:I}", "ref",
			      ref, "start", d + 14 * HOUR, "end",
			      d + 15 * HOUR),
			 BOOKD_E_LIMIT);
	/* It can still be cancelled. */
	ck_assert_int_eq(CALL(pub, "booking.cancel", "{s:s}", "ref", ref), 0);
	close(adm);
	close(pub);
}
END_TEST

/* Issue 11.9: lists page instead of answering TOO_LARGE, and meta is
 * capped. */
START_TEST(lists_page_by_size)
{
	int adm = conn();
	int64_t d = h_day(3);
	static char notes[4097], meta[15001];
	uint64_t next, total = 0;

	memset(notes, 'n', 4096);
	memset(meta, 'm', 15000);
	mkres(adm, "a");
	/* 300 bookings of 4 kB notes: more than a frame in all. */
	for (int i = 0; i < 300; i++)
		ck_assert_int_eq(
		    CALL(adm, "book", "{s:s s:I s:I s:{s:s s:s s:s}}",
			 "resource", "a", "start", d + (int64_t)i * 900, "end",
			 d + (int64_t)(i + 1) * 900, "booker", "name", "N",
			 "email", "n@x.org", "notes", notes),
		    0);
	ck_assert_int_eq(
	    CALL(adm, "events", "{s:i s:i}", "after", 0, "limit", 1000), 0);
	ck_assert_int_lt(wire_get(res(), "events")->via.array.size, 300);
	ck_assert_int_gt(wire_get(res(), "events")->via.array.size, 100);
	for (next = 0;;) {
		uint32_t got;
		ck_assert_int_eq(CALL(adm, "events", "{s:U s:i}", "after", next,
				      "limit", 1000),
				 0);
		got = wire_get(res(), "events")->via.array.size;
		if (got == 0)
			break;
		total += got;
		ck_assert(wire_int(wire_get(res(), "next"), (int64_t *)&next));
	}
	ck_assert_uint_eq(total, 300);
	/* Issue 11.15: the largest cursor comes back as itself. */
	ck_assert_int_eq(CALL(adm, "events", "{s:U}", "after", UINT64_MAX), 0);
	ck_assert_int_eq(wire_get(res(), "next")->type,
			 MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(wire_get(res(), "next")->via.u64, UINT64_MAX);
	ck_assert_int_eq(CALL(adm, "booking.list", "{s:i}", "limit", 1000), 0);
	ck_assert_ptr_nonnull(wire_get(res(), "next"));
	/* meta: at most 16 kB packed. */
	{
		static char big[17000];
		memset(big, 'b', sizeof(big) - 1);
		ck_assert_int_eq(CALL(adm, "resource.update", "{s:s s:{s:s}}",
				      "id", "a", "meta", "k", big),
				 BOOKD_E_BAD_REQUEST);
	}
	/* 80 resources of 15 kB meta are more than a frame: the list pages. */
	for (int i = 0; i < 80; i++) {
		char id[16];
		snprintf(id, sizeof(id), "r%d", i);
		ck_assert_int_eq(CALL(adm, "resource.create", "{s:s s:{s:s}}",
				      "id", id, "meta", "k", meta),
				 0);
	}
	ck_assert_int_eq(CALL(adm, "resource.list", "{s:i}", "limit", 1000), 0);
	ck_assert_ptr_nonnull(wire_get(res(), "next"));
	ck_assert_int_gt(wire_get(res(), "resources")->via.array.size, 10);
	close(adm);
}
END_TEST

/* Issue 11.8: public callers write small fields, and at a bounded rate
 * each. */
START_TEST(public_writes_are_bounded)
{
	int adm, pub, other;
	int64_t d = h_day(3), wait = 0;
	static char notes[1002];

	restart_with("--public-writes-per-minute 5");
	adm = conn();
	pub = conn_token("public", "p");
	other = conn_token("public", "q");
	mkres(adm, "a");
	memset(notes, 'n', 1001);
	ck_assert_int_eq(CALL(pub, "book", "{s:s s:I s:I s:{s:s s:s s:s}}",
			      "resource", "a", "start", d, "end", d + 900,
			      "booker", "name", "P", "email", "p@x.org",
			      "notes", notes),
			 BOOKD_E_BAD_REQUEST);
	ck_assert(err_msg_has("booker.notes: longer than 1000 bytes"));
	/* Staff keep the larger limits. */
	ck_assert_int_eq(CALL(adm, "book", "{s:s s:I s:I s:{s:s s:s s:s}}",
			      "resource", "a", "start", d, "end", d + 900,
			      "booker", "name", "P", "email", "p@x.org",
			      "notes", notes),
			 0);
	/* Four more writes (the refused one took a token too), then the
	 * bucket is empty. */
	for (int i = 1; i < 5; i++)
		ck_assert_int_eq(
		    book_at(pub, "a", d + i * 900, d + (i + 1) * 900, NULL), 0);
	ck_assert_int_eq(book_at(pub, "a", d + 6 * 900, d + 7 * 900, NULL),
			 BOOKD_E_LIMIT);
	ck_assert(wire_int(wire_get(h_error(&C.r), "retry_after_ms"), &wait));
	ck_assert_int_gt(wait, 0);
	ck_assert_int_le(wait, 12000);
	/* Another caller has a bucket of its own; staff have none. */
	ck_assert_int_eq(book_at(other, "a", d + 8 * 900, d + 9 * 900, NULL),
			 0);
	ck_assert_int_eq(book_at(adm, "a", d + 10 * 900, d + 11 * 900, NULL),
			 0);
	close(adm);
	close(pub);
	close(other);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("abuse_caller");
	TCase *tc = tcase_create("blackbox");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, gateway_acts_for_visitors);
	tcase_add_test(tc, public_cannot_use_as);
	tcase_add_test(tc, as_demotes_admin);
	tcase_add_test(tc, keys_are_per_caller);
	tcase_add_test(tc, sessions_are_bound);
	tcase_add_test(tc, holds_are_bounded);
	tcase_add_test(tc, holds_per_resource);
	tcase_add_test(tc, public_not_in_past);
	tcase_add_test(tc, public_requires_event_type);
	tcase_add_test(tc, strings_are_text);
	tcase_add_test(tc, reschedules_log_the_change);
	tcase_add_test(tc, reschedules_are_bounded);
	tcase_add_test(tc, lists_page_by_size);
	tcase_add_test(tc, public_writes_are_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

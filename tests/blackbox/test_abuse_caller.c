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

static struct harness H;
static msgpack_unpacked R;
static uint64_t next_id = 1;

static void setup(void)
{
	ck_assert_int_eq(h_start(&H, NULL), 0);
	msgpack_unpacked_init(&R);
}

static void teardown(void)
{
	msgpack_unpacked_destroy(&R);
	h_cleanup(&H);
}

/* One call; the reply stays in R until the next call. */
#define CALL(fd, op, ...)                                                      \
	(msgpack_unpacked_destroy(&R), msgpack_unpacked_init(&R),              \
	 h_call(fd, &R, next_id++, op, __VA_ARGS__))
/* The same for visitor `as` of a gateway connection. */
#define CALL_AS(fd, as, op, ...)                                               \
	(msgpack_unpacked_destroy(&R), msgpack_unpacked_init(&R),              \
	 h_call_as(fd, &R, next_id++, as, op, __VA_ARGS__))

static const msgpack_object *res(void)
{
	return h_result(&R);
}

static bool err_msg_has(const char *needle)
{
	char buf[300];
	const msgpack_object *m = wire_get(h_error(&R), "message");
	return m && wire_cstr(m, buf, sizeof(buf)) == 0 &&
	       strstr(buf, needle) != NULL;
}

static int conn(void)
{
	int fd = h_connect_raw(&H);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* A token of `role` for `subject`, minted by bookctl. */
static void mint(const char *role, const char *subject, char tok[600])
{
	const char *bin = getenv("BOOKCTL_BIN");
	const char *argv[] = {bin,	   "token", H.data,  "--role", role,
			      "--subject", subject, "--ttl", "600",    NULL};
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
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", id), 0);
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
	ck_assert(h_result(&R) == NULL);
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
	ck_assert_int_eq(h_stop(&H), 0);
	ck_assert_int_eq(h_restart(&H, NULL), 0);
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
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

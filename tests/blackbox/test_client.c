/*
 * test_client.c - libbookd against a real engine ($BOOKD_BIN, started by the
 * harness), and against a deliberately broken server forked by the test.
 *
 * Engine cases: hello and roles, ping, the generic call, pipelining, error
 * codes with messages and details, the typed booking helpers, pushes
 * interleaved with replies, and an engine that goes away mid-session.
 *
 * Broken-server cases: each serves one connection with canned bytes (a
 * frame over 1 MiB, malformed MessagePack, a container claiming more items
 * than the frame holds, a reply out of order, ...) and checks that the
 * client reports an error instead of crashing or allocating without bound.
 *
 * No assertion depends on timing.  "No push arrived" is asserted after a
 * fence: the pushing change has been acknowledged, then the subscriber's
 * own ping reply has come back, so any push for the change would have been
 * queued before that reply on the subscriber's stream.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "suite_main.h"
#include "bookd.h"
#include "harness.h"
#include "wire.h"

#define WAIT_MS 10000 /* bound on waiting for a push that must come */
/* A string literal and its length, which may include NUL bytes. */
#define B(lit) lit, sizeof(lit) - 1

static struct harness h;

static void setup(void)
{
	ck_assert_int_eq(h_start(&h, NULL), 0);
}

static void teardown(void)
{
	h_cleanup(&h);
}

static bookd_conn *conn(void)
{
	int err = 0;
	bookd_conn *c = bookd_connect(h.sock, &err);

	ck_assert_msg(c != NULL, "connect: %s", bookd_strerror(err));
	return c;
}

/* Pack args with h_pack and make a generic call. */
static int callf(bookd_conn *c, const char *op, const msgpack_object **res,
		 const char *fmt, ...)
{
	msgpack_sbuffer sb;
	va_list ap;
	int rc;

	msgpack_sbuffer_init(&sb);
	va_start(ap, fmt);
	ck_assert_int_eq(h_vpack(&sb, fmt, ap), 0);
	va_end(ap);
	rc = bookd_call(c, op, sb.data, sb.size, res);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void make_resource(bookd_conn *c, const char *id)
{
	const msgpack_object *r;
	int rc =
	    callf(c, "resource.create", &r, "{s:s, s:s}", "id", id, "name", id);

	ck_assert_msg(rc == 0, "resource.create %s: %s", id, bookd_errmsg(c));
	ck_assert(wire_str_eq(wire_get(r, "id"), id));
}

static struct bookd_book_req req_for(const char *resource, int64_t start,
				     int64_t end)
{
	struct bookd_book_req q;

	memset(&q, 0, sizeof q);
	q.resource = resource;
	q.start = start;
	q.end = end;
	q.name = "Ada Lovelace";
	q.email = "ada@example.org";
	return q;
}

/* ---- engine: session ------------------------------------------------- */

START_TEST(hello_roles_ping)
{
	struct bookd_hello_info info;
	const msgpack_object *r;
	bookd_conn *c = conn();

	ck_assert_int_eq(bookd_hello(c, "test_client", NULL, &info), 0);
	ck_assert_str_eq(info.server, "bookd");
	ck_assert_int_eq(info.proto, 1);
	ck_assert_int_eq(info.quantum, 900);
	ck_assert_int_gt(info.hold_ttl_ms, 0);
	/* The test runs as the engine's own uid (or root): admin. */
	ck_assert_str_eq(info.role, "admin");
	ck_assert_int_eq(bookd_ping(c), 0);
	ck_assert_int_eq(bookd_call(c, "stats", NULL, 0, &r), 0);
	ck_assert_int_eq(r->type, MSGPACK_OBJECT_MAP);

	/* Dropping to public is for good. */
	ck_assert_int_eq(bookd_hello(c, NULL, "public", &info), 0);
	ck_assert_str_eq(info.role, "public");
	ck_assert_int_eq(bookd_call(c, "stats", NULL, 0, &r),
			 BOOKD_E_FORBIDDEN);
	ck_assert_int_eq(bookd_hello(c, NULL, "admin", NULL),
			 BOOKD_E_FORBIDDEN);
	ck_assert_int_eq(bookd_ping(c), 0);
	bookd_close(c);
}
END_TEST

START_TEST(connect_paths)
{
	int err = 0;
	bookd_conn *c;
	char missing[400];

	/* NULL path: $BOOKD_SOCKET. */
	setenv("BOOKD_SOCKET", h.sock, 1);
	c = bookd_connect(NULL, &err);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(bookd_ping(c), 0);
	ck_assert_int_ge(bookd_fd(c), 0);
	bookd_close(c);

	snprintf(missing, sizeof missing, "%s/nope.sock", h.dir);
	ck_assert_ptr_null(bookd_connect(missing, &err));
	ck_assert_int_eq(err, BOOKD_E_IO);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* ---- engine: generic calls and errors --------------------------------- */

START_TEST(generic_call_and_errors)
{
	const msgpack_object *r, *e;
	bookd_conn *c = conn();
	int64_t t = h_day(3) + 10 * 3600;

	make_resource(c, "studio-a");
	ck_assert_int_eq(
	    callf(c, "resource.get", &r, "{s:s}", "id", "studio-a"), 0);
	ck_assert(wire_str_eq(wire_get(r, "id"), "studio-a"));

	ck_assert_int_eq(
	    callf(c, "resource.create", &r, "{s:s}", "id", "studio-a"),
	    BOOKD_E_EXISTS);
	ck_assert_ptr_null(r);
	ck_assert_str_ne(bookd_errmsg(c), "");
	ck_assert(wire_str_eq(wire_get(bookd_errobj(c), "code"), "EXISTS"));

	ck_assert_int_eq(bookd_call(c, "no.such.op", NULL, 0, &r),
			 BOOKD_E_UNKNOWN_OP);
	ck_assert_int_eq(callf(c, "resource.get", &r, "{s:s}", "id", "nope"),
			 BOOKD_E_NOT_FOUND);

	/* A wrongly typed argument is BAD_REQUEST naming the field, and the
	 * connection stays usable. */
	ck_assert_int_eq(callf(c, "check", &r, "{s:s, s:s, s:I}", "resource",
			       "studio-a", "start", "ten", "end", t + 3600),
			 BOOKD_E_BAD_REQUEST);
	e = bookd_errobj(c);
	ck_assert_ptr_nonnull(e);
	ck_assert_msg(wire_str_eq(wire_get(e, "field"), "start") ||
			  strstr(bookd_errmsg(c), "start"),
		      "BAD_REQUEST does not name the field: %s",
		      bookd_errmsg(c));
	/* Misaligned start: BAD_REQUEST. */
	ck_assert_int_eq(callf(c, "check", &r, "{s:s, s:I, s:I}", "resource",
			       "studio-a", "start", t + 60, "end", t + 3600),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_ping(c), 0);
	ck_assert_str_eq(bookd_errmsg(c), "");
	ck_assert_ptr_null(bookd_errobj(c));

	/* Args that are not one packed map are refused before sending. */
	ck_assert_int_eq(bookd_call(c, "ping", "\x93\x01\x02\x03", 4, &r),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_call(c, "ping", "\x81\xa1", 2, &r),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_ping(c), 0);

	ck_assert_str_eq(bookd_err_name(BOOKD_E_CONFLICT), "CONFLICT");
	ck_assert_str_eq(bookd_strerror(BOOKD_E_CONFLICT),
			 "overlaps an active booking");
	bookd_close(c);
}
END_TEST

START_TEST(pipelining_in_order)
{
	enum { N = 100 };
	const msgpack_object *r;
	bookd_conn *c = conn();
	uint64_t ids[N];
	msgpack_sbuffer sb;

	make_resource(c, "room-1");
	msgpack_sbuffer_init(&sb);
	ck_assert_int_eq(h_pack(&sb, "{s:s}", "id", "room-1"), 0);
	/* Even requests ping, odd ones alternate a found and a missing
	 * resource, so replies of three kinds must come back in order. */
	for (int i = 0; i < N; i++) {
		int rc;
		if (i % 2 == 0)
			rc = bookd_send(c, "ping", NULL, 0, &ids[i]);
		else if (i % 4 == 1)
			rc = bookd_send(c, "resource.get", sb.data, sb.size,
					&ids[i]);
		else
			rc = bookd_send(c, "resource.get",
					B("\x81\xa2id\xa4nope"), &ids[i]);
		ck_assert_int_eq(rc, 0);
		if (i > 0)
			ck_assert_uint_eq(ids[i], ids[i - 1] + 1);
	}
	msgpack_sbuffer_destroy(&sb);
	ck_assert_uint_eq(bookd_pending(c), N);
	/* A synchronous call must not steal a pipelined reply. */
	ck_assert_int_eq(bookd_ping(c), BOOKD_E_BAD_REQUEST);
	for (int i = 0; i < N; i++) {
		uint64_t id = 0;
		int rc = bookd_recv(c, &id, &r);
		ck_assert_uint_eq(id, ids[i]);
		if (i % 2 == 0) {
			ck_assert_int_eq(rc, 0);
			ck_assert(wire_str_eq(r, "pong"));
		} else if (i % 4 == 1) {
			ck_assert_int_eq(rc, 0);
			ck_assert(wire_str_eq(wire_get(r, "id"), "room-1"));
		} else {
			ck_assert_int_eq(rc, BOOKD_E_NOT_FOUND);
		}
	}
	ck_assert_uint_eq(bookd_pending(c), 0);
	ck_assert_int_eq(bookd_recv(c, NULL, &r), BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_ping(c), 0);
	bookd_close(c);
}
END_TEST

/* ---- engine: typed helpers -------------------------------------------- */

START_TEST(book_check_hold_cancel)
{
	struct bookd_booking b, b2, g;
	struct bookd_book_req q;
	enum bookd_reason why;
	const msgpack_object *e;
	bookd_conn *c = conn();
	bookd_conn *other = conn();
	int64_t t = h_day(5) + 10 * 3600;
	int64_t exp = 0;
	bool is_free, released;

	make_resource(c, "studio-a");
	make_resource(c, "studio-b");

	ck_assert_int_eq(
	    bookd_check(c, "studio-a", t, t + 3600, NULL, &is_free, &why), 0);
	ck_assert(is_free);
	ck_assert_int_eq(why, BOOKD_REASON_NONE);

	q = req_for("studio-a", t, t + 3600);
	q.phone = "+44 1";
	q.notes = "bring cables";
	q.key = "k-1";
	ck_assert_msg(bookd_book(c, &q, &b) == 0, "book: %s", bookd_errmsg(c));
	ck_assert_uint_gt(b.id, 0);
	ck_assert_int_ge(strlen(b.ref), 22); /* at least 128 random bits */
	ck_assert_str_eq(b.status, "confirmed");
	ck_assert_int_eq(b.start, t);
	ck_assert_int_eq(b.end, t + 3600);
	ck_assert_uint_eq(b.nitems, 1);
	ck_assert_str_eq(b.items[0].resource, "studio-a");
	ck_assert_str_eq(b.name, "Ada Lovelace");
	ck_assert_str_eq(b.email, "ada@example.org");
	ck_assert_str_eq(b.phone, "+44 1");
	ck_assert_str_eq(b.notes, "bring cables");

	/* The same key books nothing new. */
	ck_assert_int_eq(bookd_book(c, &q, &b2), 0);
	ck_assert_uint_eq(b2.id, b.id);
	bookd_booking_free(&b2);

	/* Overlap: CONFLICT with the conflicting ids for an admin. */
	q = req_for("studio-a", t + 1800, t + 5400);
	ck_assert_int_eq(bookd_book(c, &q, &b2), BOOKD_E_CONFLICT);
	ck_assert_str_ne(bookd_errmsg(c), "");
	e = wire_get(bookd_errobj(c), "conflicts");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->type, MSGPACK_OBJECT_ARRAY);
	ck_assert_uint_ge(e->via.array.size, 1);
	ck_assert_int_eq(
	    bookd_check(c, "studio-a", t, t + 900, NULL, &is_free, &why), 0);
	ck_assert(!is_free);
	ck_assert_int_eq(why, BOOKD_REASON_BOOKED);
	ck_assert_str_eq(bookd_reason_name(why), "booked");
	/* Resource isolation. */
	ck_assert_int_eq(
	    bookd_check(c, "studio-b", t, t + 3600, NULL, &is_free, NULL), 0);
	ck_assert(is_free);

	/* Holds: another session is HELD out, the holder is not. */
	ck_assert_int_eq(
	    bookd_hold(other, "studio-b", t, t + 3600, "sess-a", &exp), 0);
	ck_assert_int_gt(exp, 0);
	ck_assert_int_eq(bookd_hold(c, "studio-b", t, t + 900, "sess-b", NULL),
			 BOOKD_E_HELD);
	ck_assert_int_eq(
	    bookd_check(c, "studio-b", t, t + 900, "sess-b", &is_free, &why),
	    0);
	ck_assert(!is_free);
	ck_assert_int_eq(why, BOOKD_REASON_HELD);
	q = req_for("studio-b", t, t + 3600);
	q.session = "sess-b";
	ck_assert_int_eq(bookd_book(c, &q, NULL), BOOKD_E_HELD);
	ck_assert_int_eq(bookd_hold(c, "studio-a", t, t + 900, "sess-b", NULL),
			 BOOKD_E_CONFLICT);
	ck_assert_int_eq(bookd_release(other, "studio-b", "sess-a", &released),
			 0);
	ck_assert(released);
	ck_assert_int_eq(bookd_release(other, "studio-b", "sess-a", &released),
			 0);
	ck_assert(!released);

	/* Get by id and by ref; cancel by ref frees the span at once. */
	ck_assert_int_eq(bookd_booking_get(c, b.id, NULL, &g), 0);
	ck_assert_str_eq(g.ref, b.ref);
	bookd_booking_free(&g);
	ck_assert_int_eq(bookd_booking_get(c, 0, b.ref, &g), 0);
	ck_assert_uint_eq(g.id, b.id);
	bookd_booking_free(&g);
	ck_assert_int_eq(bookd_cancel(c, 0, b.ref, "plans changed", &g), 0);
	ck_assert_str_eq(g.status, "cancelled");
	ck_assert_uint_ge(g.nhistory, 1);
	ck_assert_str_eq(g.history[g.nhistory - 1].to, "cancelled");
	ck_assert_str_eq(g.history[g.nhistory - 1].reason, "plans changed");
	bookd_booking_free(&g);
	ck_assert_int_eq(
	    bookd_check(c, "studio-a", t, t + 3600, NULL, &is_free, NULL), 0);
	ck_assert(is_free);
	ck_assert_int_eq(bookd_cancel(c, b.id, NULL, NULL, NULL),
			 BOOKD_E_INVALID_STATE);
	ck_assert_int_eq(bookd_booking_get(c, 999999, NULL, NULL),
			 BOOKD_E_NOT_FOUND);
	bookd_booking_free(&b);
	bookd_close(other);
	bookd_close(c);
}
END_TEST

START_TEST(multi_resource_transition_reschedule)
{
	struct bookd_item items[] = {{"studio-a", 0}, {"mics", 3}};
	struct bookd_booking b, m;
	struct bookd_book_req q;
	const msgpack_object *r;
	bookd_conn *c = conn();
	int64_t t = h_day(6) + 14 * 3600;

	make_resource(c, "studio-a");
	ck_assert_int_eq(callf(c, "resource.create", &r, "{s:s, s:i}", "id",
			       "mics", "quantity", 5),
			 0);
	q = req_for(NULL, t, t + 7200);
	q.items = items;
	q.nitems = 2;
	q.status = "pending";
	ck_assert_msg(bookd_book(c, &q, &b) == 0, "book: %s", bookd_errmsg(c));
	ck_assert_str_eq(b.status, "pending");
	ck_assert_uint_eq(b.nitems, 2);
	for (size_t i = 0; i < b.nitems; i++)
		if (strcmp(b.items[i].resource, "mics") == 0)
			ck_assert_uint_eq(b.items[i].quantity, 3);

	ck_assert_int_eq(bookd_transition(c, b.id, "confirmed", "ok", &m), 0);
	ck_assert_str_eq(m.status, "confirmed");
	bookd_booking_free(&m);
	ck_assert_int_eq(bookd_transition(c, b.id, "pending", NULL, NULL),
			 BOOKD_E_INVALID_STATE);
	ck_assert_int_eq(
	    bookd_reschedule(c, b.id, NULL, t + 86400, t + 86400 + 3600, &m),
	    0);
	ck_assert_int_eq(m.start, t + 86400);
	ck_assert_int_eq(m.end, t + 86400 + 3600);
	bookd_booking_free(&m);
	bookd_booking_free(&b);

	/* Neither resource nor items: refused locally. */
	memset(&q, 0, sizeof q);
	ck_assert_int_eq(bookd_book(c, &q, NULL), BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_ping(c), 0);
	bookd_close(c);
}
END_TEST

/* ---- engine: subscriptions -------------------------------------------- */

/* Wait for the next push on c; fail the test if none comes. */
static void expect_push(bookd_conn *c, uint64_t sub, const char *topic,
			const char *resource, const char *date)
{
	struct bookd_push p;
	int rc = bookd_next_push(c, &p, WAIT_MS);

	ck_assert_msg(rc == 1, "no %s push (rc %d)", topic, rc);
	ck_assert_str_eq(p.kind, "changed");
	ck_assert_uint_eq(p.sub, sub);
	ck_assert_str_eq(p.topic, topic);
	ck_assert_str_eq(p.resource, resource);
	ck_assert_str_eq(p.date, date);
}

/* The fence described at the top of the file, then: no push queued. */
static void expect_no_push(bookd_conn *c)
{
	struct bookd_push p;

	ck_assert_int_eq(bookd_ping(c), 0);
	ck_assert_int_eq(bookd_next_push(c, &p, 0), 0);
}

START_TEST(pushes_between_replies)
{
	struct bookd_push p;
	struct bookd_book_req q;
	bookd_conn *w = conn();
	bookd_conn *o = conn();
	int64_t t = h_day(4) + 13 * 3600;
	uint64_t hs = 0, ss = 0;
	char date[11];

	h_date(t, date);
	make_resource(o, "studio-a");
	ck_assert_int_eq(
	    bookd_subscribe(w, "holds", "studio-a", date, date, &hs), 0);
	ck_assert_int_eq(
	    bookd_subscribe(w, "slots", "studio-a", date, date, &ss), 0);
	ck_assert_uint_ne(hs, ss);
	ck_assert_int_eq(bookd_next_push(w, &p, 0), 0);

	/* A hold from another connection: one holds push, which reaches the
	 * watcher while it waits for replies to its own pipelined pings. */
	ck_assert_int_eq(bookd_hold(o, "studio-a", t, t + 3600, "s1", NULL), 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(bookd_send(w, "ping", NULL, 0, NULL), 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(bookd_recv(w, NULL, NULL), 0);
	expect_push(w, hs, "holds", "studio-a", date);
	expect_no_push(w);

	/* A heartbeat (same span) notifies nobody. */
	ck_assert_int_eq(bookd_hold(o, "studio-a", t, t + 3600, "s1", NULL), 0);
	expect_no_push(w);

	/* A booking elsewhere that day: one slots push. */
	q = req_for("studio-a", t + 4 * 3600, t + 5 * 3600);
	ck_assert_int_eq(bookd_book(o, &q, NULL), 0);
	expect_push(w, ss, "slots", "studio-a", date);
	expect_no_push(w);

	/* After unsubscribing, releases push nothing. */
	ck_assert_int_eq(bookd_unsubscribe(w, hs), 0);
	ck_assert_int_eq(bookd_release(o, "studio-a", "s1", NULL), 0);
	expect_no_push(w);
	ck_assert_int_eq(bookd_unsubscribe(w, hs), BOOKD_E_NOT_FOUND);
	bookd_close(o);
	bookd_close(w);
}
END_TEST

/* ---- engine: going away ------------------------------------------------ */

START_TEST(engine_stops_mid_session)
{
	struct bookd_push p;
	bookd_conn *c = conn();
	int rc;

	ck_assert_int_eq(bookd_ping(c), 0);
	ck_assert_int_eq(h_stop(&h), 0);
	rc = bookd_ping(c);
	ck_assert_msg(rc == BOOKD_E_CLOSED_CONN || rc == BOOKD_E_IO ||
			  rc == BOOKD_E_UNAVAILABLE,
		      "rc %d", rc);
	/* Sticky: the connection is dead. */
	ck_assert_int_eq(bookd_ping(c), rc);
	ck_assert_int_eq(bookd_next_push(c, &p, 0), rc);
	ck_assert_str_ne(bookd_errmsg(c), "");
	bookd_close(c);
}
END_TEST

START_TEST(engine_killed_mid_session)
{
	bookd_conn *c = conn();
	int rc;

	ck_assert_int_eq(bookd_ping(c), 0);
	ck_assert_int_eq(bookd_send(c, "ping", NULL, 0, NULL), 0);
	h_kill9(&h);
	/* The reply may or may not have been sent before the kill. */
	rc = bookd_recv(c, NULL, NULL);
	if (rc == 0)
		rc = bookd_ping(c);
	ck_assert_msg(rc == BOOKD_E_CLOSED_CONN || rc == BOOKD_E_IO, "rc %d",
		      rc);
	bookd_close(c);
	/* A fresh connection after restart works. */
	ck_assert_int_eq(h_restart(&h, NULL), 0);
	c = conn();
	ck_assert_int_eq(bookd_ping(c), 0);
	bookd_close(c);
}
END_TEST

/* ---- a broken server ---------------------------------------------------- */

struct fake {
	char dir[64];
	char path[100];
	pid_t pid;
};

/* Read one request frame from fd (the client's first call). */
static void fake_read_request(int fd)
{
	unsigned char hdr[4];
	size_t got = 0, len;
	char buf[4096];

	while (got < 4) {
		ssize_t n = read(fd, hdr + got, 4 - got);
		if (n <= 0)
			_exit(1);
		got += (size_t)n;
	}
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
	      (size_t)hdr[2] << 8 | hdr[3];
	while (len > 0) {
		ssize_t n = read(fd, buf, len < sizeof buf ? len : sizeof buf);
		if (n <= 0)
			_exit(1);
		len -= (size_t)n;
	}
}

/*
 * Serve one connection in a child: read the first request, write the
 * canned bytes, then either close at once or keep the socket open until the
 * client closes (stay_open).  alarm() bounds the child's life.
 */
static void fake_start(struct fake *f, const void *bytes, size_t n,
		       bool stay_open)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int lfd;

	snprintf(f->dir, sizeof f->dir, "/tmp/bookd-fake-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/s", f->dir);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", f->path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	f->pid = fork();
	ck_assert_int_ge(f->pid, 0);
	if (f->pid == 0) {
		const char *p = bytes;
		char sink[256];
		int fd;

		alarm(30);
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			_exit(1);
		fake_read_request(fd);
		while (n > 0) {
			ssize_t w = write(fd, p, n);
			if (w <= 0)
				_exit(0);
			p += w;
			n -= (size_t)w;
		}
		if (stay_open)
			while (read(fd, sink, sizeof sink) > 0)
				;
		_exit(0);
	}
	close(lfd);
}

static void fake_stop(struct fake *f)
{
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
	unlink(f->path);
	rmdir(f->dir);
}

/* Append a frame holding body to sb. */
static void frame(msgpack_sbuffer *sb, const void *body, size_t n)
{
	unsigned char h4[4] = {(unsigned char)(n >> 24),
			       (unsigned char)(n >> 16),
			       (unsigned char)(n >> 8), (unsigned char)n};

	msgpack_sbuffer_write(sb, (const char *)h4, 4);
	msgpack_sbuffer_write(sb, body, n);
}

/* The argument builder alone: what it packs, and every misuse refused. */
START_TEST(args_builder)
{
	bookd_args *a = bookd_args_new();
	msgpack_unpacked up;
	const msgpack_object *m, *arr;
	const void *p;
	size_t n, used = 0;
	char *big;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(bookd_args_str(a, "s", "x"), 0);
	ck_assert_int_eq(bookd_args_str(a, "skipped", NULL), 0);
	bookd_args_int(a, "neg", -5);
	bookd_args_uint(a, "u", UINT64_MAX);
	bookd_args_bool(a, "t", true);
	bookd_args_nil(a, "z");
	bookd_args_strn(a, "nul", B("a\0b"));
	bookd_args_array(a, "arr");
	bookd_args_int(a, NULL, 1);
	bookd_args_str(a, NULL, "two");
	bookd_args_map(a, NULL);
	bookd_args_str(a, "k", "v");
	bookd_args_end(a);
	bookd_args_end(a);
	bookd_args_map(a, "empty");
	ck_assert_int_eq(bookd_args_end(a), 0);
	p = bookd_args_data(a, &n);
	ck_assert_ptr_nonnull(p);
	msgpack_unpacked_init(&up);
	ck_assert_int_eq(msgpack_unpack_next(&up, p, n, &used),
			 MSGPACK_UNPACK_SUCCESS);
	ck_assert_uint_eq(used, n);
	m = &up.data;
	ck_assert_int_eq(m->type, MSGPACK_OBJECT_MAP);
	ck_assert_uint_eq(m->via.map.size, 8);
	ck_assert(wire_str_eq(wire_get(m, "s"), "x"));
	ck_assert_ptr_null(wire_get(m, "skipped"));
	ck_assert_int_eq(wire_get(m, "neg")->via.i64, -5);
	ck_assert(wire_get(m, "u")->via.u64 == UINT64_MAX);
	ck_assert(wire_get(m, "t")->via.boolean);
	ck_assert_int_eq(wire_get(m, "z")->type, MSGPACK_OBJECT_NIL);
	ck_assert_uint_eq(wire_get(m, "nul")->via.str.size, 3);
	arr = wire_get(m, "arr");
	ck_assert_uint_eq(arr->via.array.size, 3);
	ck_assert(wire_str_eq(&arr->via.array.ptr[1], "two"));
	ck_assert(wire_str_eq(wire_get(&arr->via.array.ptr[2], "k"), "v"));
	ck_assert_uint_eq(wire_get(m, "empty")->via.map.size, 0);
	msgpack_unpacked_destroy(&up);

	/* Misuse is sticky until a reset. */
	bookd_args_reset(a);
	bookd_args_array(a, "arr");
	ck_assert_int_eq(bookd_args_str(a, "key", "in an array"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_args_int(a, NULL, 1), BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_args_error(a), BOOKD_E_BAD_REQUEST);
	ck_assert_ptr_null(bookd_args_data(a, &n));
	ck_assert_uint_eq(n, 0);
	bookd_args_reset(a);
	ck_assert_int_eq(bookd_args_error(a), 0);
	ck_assert_int_eq(bookd_args_int(a, NULL, 1), BOOKD_E_BAD_REQUEST);
	bookd_args_reset(a);
	ck_assert_int_eq(bookd_args_end(a), BOOKD_E_BAD_REQUEST);
	bookd_args_reset(a);
	ck_assert_int_eq(bookd_args_strn(a, "k", NULL, 3), BOOKD_E_BAD_REQUEST);
	/* An open container is not a map yet. */
	bookd_args_reset(a);
	bookd_args_map(a, "open");
	ck_assert_int_eq(bookd_args_error(a), 0);
	ck_assert_ptr_null(bookd_args_data(a, &n));
	/* Nesting is bounded. */
	bookd_args_reset(a);
	for (int i = 1; i < BOOKD_ARGS_DEPTH; i++)
		ck_assert_int_eq(bookd_args_map(a, "m"), 0);
	ck_assert_int_eq(bookd_args_map(a, "m"), BOOKD_E_BAD_REQUEST);
	/* No map larger than a frame. */
	bookd_args_reset(a);
	big = malloc(WIRE_MAX_FRAME);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', WIRE_MAX_FRAME);
	ck_assert_int_eq(bookd_args_strn(a, "big", big, WIRE_MAX_FRAME),
			 BOOKD_E_TOO_LARGE);
	free(big);
	bookd_args_free(a);
	bookd_args_free(NULL);
}
END_TEST

/* bookd_call_args() and bookd_result() against the engine. */
START_TEST(args_call_and_result)
{
	bookd_conn *c = conn();
	bookd_args *a = bookd_args_new();
	const msgpack_object *r = NULL;

	bookd_args_str(a, "id", "studio-a");
	bookd_args_str(a, "name", "Studio A");
	ck_assert_int_eq(bookd_call_args(c, "resource.create", a, &r), 0);
	ck_assert_ptr_eq(bookd_result(c), r);
	ck_assert(wire_str_eq(wire_get(r, "id"), "studio-a"));
	/* The same builder again, reset. */
	bookd_args_reset(a);
	bookd_args_str(a, "id", "no-such");
	ck_assert_int_eq(bookd_call_args(c, "resource.get", a, &r),
			 BOOKD_E_NOT_FOUND);
	ck_assert_ptr_null(bookd_result(c));
	/* A builder's error is returned and nothing is sent. */
	bookd_args_reset(a);
	bookd_args_map(a, "open");
	ck_assert_int_eq(bookd_call_args(c, "resource.get", a, &r),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_broken(c), 0);
	ck_assert_uint_eq(bookd_pending(c), 0);
	ck_assert_int_eq(bookd_send_args(c, "resource.get", a, NULL),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_uint_eq(bookd_pending(c), 0);
	/* A typed helper leaves its whole result readable. */
	ck_assert_int_eq(bookd_ping(c), 0);
	ck_assert(wire_str_eq(bookd_result(c), "pong"));
	ck_assert_int_eq(bookd_call_args(c, "resource.list", NULL, &r), 0);
	ck_assert_int_eq(r->type, MSGPACK_OBJECT_ARRAY);
	bookd_args_free(a);
	bookd_close(c);
}
END_TEST

/* Append a frame packed from an h_pack format. */
static void framef(msgpack_sbuffer *sb, const char *fmt, ...)
{
	msgpack_sbuffer body;
	va_list ap;

	msgpack_sbuffer_init(&body);
	va_start(ap, fmt);
	ck_assert_int_eq(h_vpack(&body, fmt, ap), 0);
	va_end(ap);
	frame(sb, body.data, body.size);
	msgpack_sbuffer_destroy(&body);
}

static const struct broken_case {
	const char *name;
	const char *bytes; /* one frame body, or the raw stream if raw */
	size_t n;
	bool raw;
	int want;
} broken[] = {
    {"length over 1 MiB", B("\x7f\xff\xff\xff"), true, BOOKD_E_PROTO},
    {"array claiming 2^32 items", B("\xdd\xff\xff\xff\xff"), false,
     BOOKD_E_PROTO},
    {"map claiming 65535 pairs", B("\xde\xff\xff\x01\x02"), false,
     BOOKD_E_PROTO},
    {"str longer than frame", B("\xdb\x00\x10\x00\x00zz"), false,
     BOOKD_E_PROTO},
    {"reserved byte 0xc1", B("\xc1"), false, BOOKD_E_PROTO},
    {"not a map", B("\x92\x01\x02"), false, BOOKD_E_PROTO},
    {"two objects in a frame", B("\x80\x80"), false, BOOKD_E_PROTO},
    {"empty frame", B(""), false, BOOKD_E_PROTO},
    {"reply with wrong id", B("\x83\xa2id\x63\xa2ok\xc3\xa6result\xc0"), false,
     BOOKD_E_PROTO},
    {"reply without ok", B("\x81\xa2id\x01"), false, BOOKD_E_PROTO},
    {"error without code",
     B("\x83\xa2id\x01\xa2ok\xc2\xa5"
       "error\x80"),
     false, BOOKD_E_PROTO},
    {"truncated frame then close", B("\x00\x00\x00\x10\x81"), true,
     BOOKD_E_CLOSED_CONN},
    {"connection error without id",
     B("\x82\xa2ok\xc2\xa5"
       "error\x82\xa4"
       "code\xa9TOO_LARGE\xa7message"
       "\xa3"
       "big"),
     false, BOOKD_E_TOO_LARGE},
};

START_TEST(broken_server)
{
	const struct broken_case *bc = &broken[_i];
	struct fake f;
	msgpack_sbuffer sb;
	bookd_conn *c;
	int err = 0, rc;

	msgpack_sbuffer_init(&sb);
	if (bc->raw)
		msgpack_sbuffer_write(&sb, bc->bytes, bc->n);
	else
		frame(&sb, bc->bytes, bc->n);
	fake_start(&f, sb.data, sb.size, false);
	msgpack_sbuffer_destroy(&sb);
	c = bookd_connect(f.path, &err);
	ck_assert_ptr_nonnull(c);
	rc = bookd_ping(c);
	ck_assert_msg(rc == bc->want, "%s: got %s (%s)", bc->name,
		      bookd_err_name(rc), bookd_errmsg(c));
	ck_assert_int_eq(bookd_ping(c), rc);
	bookd_close(c);
	fake_stop(&f);
}
END_TEST

START_TEST(deep_nesting)
{
	char body[200];
	struct fake f;
	msgpack_sbuffer sb;
	bookd_conn *c;

	/* 199 nested one-item arrays: deeper than msgpack-c will go. */
	memset(body, 0x91, sizeof body - 1);
	body[sizeof body - 1] = 0x01;
	msgpack_sbuffer_init(&sb);
	frame(&sb, body, sizeof body);
	fake_start(&f, sb.data, sb.size, false);
	msgpack_sbuffer_destroy(&sb);
	c = bookd_connect(f.path, NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(bookd_ping(c), BOOKD_E_PROTO);
	bookd_close(c);
	fake_stop(&f);
}
END_TEST

START_TEST(result_absent_and_pushes_before_reply)
{
	struct bookd_push p;
	struct fake f;
	msgpack_sbuffer sb;
	const msgpack_object *r;
	bookd_conn *c;

	msgpack_sbuffer_init(&sb);
	framef(&sb, "{s:s, s:U, s:s, s:s, s:s, s:U}", "push", "changed", "sub",
	       (uint64_t)4, "topic", "holds", "resource", "studio-a", "date",
	       "2030-01-02", "version", (uint64_t)9);
	framef(&sb, "{s:i, s:b}", "id", 1, "ok", 1);
	fake_start(&f, sb.data, sb.size, true);
	msgpack_sbuffer_destroy(&sb);
	c = bookd_connect(f.path, NULL);
	ck_assert_ptr_nonnull(c);
	/* A reply without "result" is a success with nil. */
	ck_assert_int_eq(bookd_call(c, "anything", NULL, 0, &r), 0);
	ck_assert_int_eq(r->type, MSGPACK_OBJECT_NIL);
	ck_assert_int_eq(bookd_next_push(c, &p, 0), 1);
	ck_assert_str_eq(p.kind, "changed");
	ck_assert_uint_eq(p.sub, 4);
	ck_assert_str_eq(p.topic, "holds");
	ck_assert_str_eq(p.resource, "studio-a");
	ck_assert_str_eq(p.date, "2030-01-02");
	ck_assert_uint_eq(p.version, 9);
	ck_assert_int_eq(bookd_next_push(c, &p, 0), 0);
	bookd_close(c);
	fake_stop(&f);
}
END_TEST

START_TEST(push_queue_overflow)
{
	enum { EXTRA = 100 };
	struct bookd_push p;
	struct fake f;
	msgpack_sbuffer sb;
	bookd_conn *c;
	int n = 0;

	msgpack_sbuffer_init(&sb);
	for (int i = 0; i < BOOKD_PUSH_QUEUE_MAX + EXTRA; i++)
		framef(&sb, "{s:s, s:i, s:U}", "push", "changed", "sub", 1,
		       "version", (uint64_t)i);
	framef(&sb, "{s:i, s:b, s:s}", "id", 1, "ok", 1, "result", "pong");
	fake_start(&f, sb.data, sb.size, true);
	msgpack_sbuffer_destroy(&sb);
	c = bookd_connect(f.path, NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(bookd_ping(c), 0);
	while (bookd_next_push(c, &p, 0) == 1 &&
	       strcmp(p.kind, "changed") == 0) {
		ck_assert_uint_eq(p.version, (uint64_t)n);
		n++;
	}
	ck_assert_int_eq(n, BOOKD_PUSH_QUEUE_MAX);
	ck_assert_str_eq(p.kind, "overflow");
	ck_assert_uint_eq(p.version, EXTRA);
	ck_assert_int_eq(bookd_next_push(c, &p, 0), 0);
	bookd_close(c);
	fake_stop(&f);
}
END_TEST

START_TEST(reply_timeout_kills_connection)
{
	struct fake f;
	bookd_conn *c;
	int rc;

	/* The server reads the request and never answers. */
	fake_start(&f, "", 0, true);
	c = bookd_connect(f.path, NULL);
	ck_assert_ptr_nonnull(c);
	bookd_set_timeout(c, 200);
	rc = bookd_ping(c);
	ck_assert_int_eq(rc, BOOKD_E_IO);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_int_eq(bookd_ping(c), BOOKD_E_IO);
	bookd_close(c);
	fake_stop(&f);
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *eng = tcase_create("engine");
	TCase *bad = tcase_create("broken-server");

	tcase_add_checked_fixture(eng, setup, teardown);
	tcase_add_test(eng, hello_roles_ping);
	tcase_add_test(eng, connect_paths);
	tcase_add_test(eng, generic_call_and_errors);
	tcase_add_test(eng, pipelining_in_order);
	tcase_add_test(eng, book_check_hold_cancel);
	tcase_add_test(eng, multi_resource_transition_reschedule);
	tcase_add_test(eng, pushes_between_replies);
	tcase_add_test(eng, engine_stops_mid_session);
	tcase_add_test(eng, engine_killed_mid_session);
	tcase_add_test(eng, args_call_and_result);
	suite_add_tcase(s, eng);

	tcase_add_loop_test(bad, broken_server, 0,
			    (int)(sizeof broken / sizeof broken[0]));
	tcase_add_test(bad, deep_nesting);
	tcase_add_test(bad, args_builder);
	tcase_add_test(bad, result_absent_and_pushes_before_reply);
	tcase_add_test(bad, push_queue_overflow);
	tcase_add_test(bad, reply_timeout_kills_connection);
	suite_add_tcase(s, bad);
	return s;
}

int main(void)
{
	return run_suite(client_suite());
}

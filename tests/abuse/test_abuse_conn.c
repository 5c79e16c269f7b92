/*
 * test_abuse_conn.c - attacks on the engine's connections, replayed against
 * a real bookd: each case is one attack of issue 11 (the number in its
 * name) and asserts the fixed behaviour.
 *
 *  6   output amplification: thousands of pipelined resource.list on one
 *      connection that never reads; the engine must stop reading it, not
 *      buffer every reply (RSS growth bounded), and still answer all of
 *      them once the client reads; one that never reads is closed after
 *      three frame timeouts;
 *  7   slow senders: connections that send most of a large frame and stop
 *      cost at most the input budget and are closed after the frame
 *      timeout; idle public connections are closed, admin ones are not;
 *  11  subscriptions are capped per caller and in all, a change of every
 *      day of a resource's window is one push per subscriber, and the day
 *      index pushes exactly the subscriptions whose range holds the date;
 *  10  a record over the log's limit is refused with TOO_LARGE, and the
 *      engine restarts after kill -9 with every acknowledged booking;
 *  12  a frame of a million nils is refused before it is unpacked, and
 *      connections flooding expensive frames leave another client's ping
 *      fast;
 *  14  a second engine on the same --socket refuses to start, and a path
 *      that is not a socket is never deleted;
 *  5   a non-admin user cannot take every connection (per-uid cap, admin
 *      reserve); RLIMIT_NOFILE is raised at start or the engine refuses to
 *      start; EMFILE on accept does not spin;
 *  15  --admin-group is decided from the peer's actual groups; events
 *      {after: 2^64-1} answers next = 2^64-1.
 *
 * Cases that act as another user (nobody) need root; every wait is
 * bounded (the harness's bounds, explicit deadlines, fixed counts).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "quanta.h"
#include "suite_main.h"
#include "wire.h"

#define NOBODY 65534

static struct harness H;
static msgpack_unpacked U;

static void setup(void)
{
	msgpack_unpacked_init(&U);
}

static void teardown(void)
{
	msgpack_unpacked_destroy(&U);
	h_cleanup(&H);
}

/* One call; the reply stays in U until the next call. */
#define CALL(fd, id, op, ...)                                                  \
	(msgpack_unpacked_destroy(&U), msgpack_unpacked_init(&U),              \
	 h_call(fd, &U, id, op, __VA_ARGS__))

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A value of /proc/PID/status, in kB ("VmRSS"). */
static long proc_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

/* CPU time (user + system) of pid, in clock ticks. */
static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

/*
 * RSS is what these tests measure: with the sanitizer build, keep freed
 * memory out of the engine's quarantine (ASan's default holds 256 MiB of
 * it), so the figure is the engine's and not the sanitizer's.  Harmless
 * for other builds, and only for engines started after the call.
 */
static void small_asan_quarantine(void)
{
	const char *o = getenv("ASAN_OPTIONS");
	char buf[512];

	snprintf(buf, sizeof(buf), "%s%squarantine_size_mb=1", o ? o : "",
		 o && *o ? ":" : "");
	setenv("ASAN_OPTIONS", buf, 1);
}

/* The error code string of the reply in u, or "". */
static const char *err_code(const msgpack_unpacked *u)
{
	static char code[32];
	const msgpack_object *e = h_error(u), *c;

	code[0] = 0;
	c = e ? wire_get(e, "code") : NULL;
	if (c && c->type == MSGPACK_OBJECT_STR && c->via.str.size < 32) {
		memcpy(code, c->via.str.ptr, c->via.str.size);
		code[c->via.str.size] = 0;
	}
	return code;
}

/* Ping over fd; its round trip in microseconds, or -1. */
static long ping_us(int fd, uint64_t id)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (CALL(fd, id, "ping", NULL) != 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) * 1000000L +
	       (b.tv_nsec - a.tv_nsec) / 1000;
}

/* Append one request frame {id, op, args?} to sb (args: packed map or
 * NULL). */
static void frame_into(msgpack_sbuffer *sb, uint64_t id, const char *op)
{
	msgpack_sbuffer body;
	msgpack_packer pk;
	unsigned char hdr[4];

	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	wire_pk_kint(&pk, "id", (int64_t)id);
	wire_pk_kstr(&pk, "op", op);
	hdr[0] = (unsigned char)(body.size >> 24);
	hdr[1] = (unsigned char)(body.size >> 16);
	hdr[2] = (unsigned char)(body.size >> 8);
	hdr[3] = (unsigned char)body.size;
	msgpack_sbuffer_write(sb, (const char *)hdr, 4);
	msgpack_sbuffer_write(sb, body.data, body.size);
	msgpack_sbuffer_destroy(&body);
}

/* Send as much of buf as the peer takes within ms; bytes sent. */
static size_t send_for(int fd, const char *buf, size_t n, int ms)
{
	int64_t end = now_ms() + ms;
	size_t off = 0;

	while (off < n && now_ms() < end) {
		struct pollfd p = {fd, POLLOUT, 0};
		ssize_t w;
		if (poll(&p, 1, 50) <= 0)
			continue;
		w = send(fd, buf + off, n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno != EAGAIN && errno != EINTR)
			break;
	}
	return off;
}

/* Wait (at most ms) for the engine to answer fd with an error frame of
 * code and then close it; 0 or -1. */
static int expect_closed_with(int fd, const char *code, int ms)
{
	msgpack_unpacked u;
	int rc;

	msgpack_unpacked_init(&u);
	rc = h_recv_frame(fd, &u, ms);
	if (rc != 1 || strcmp(err_code(&u), code) != 0) {
		fprintf(stderr, "expected %s, got rc %d code '%s'\n", code, rc,
			rc == 1 ? err_code(&u) : "");
		msgpack_unpacked_destroy(&u);
		return -1;
	}
	msgpack_unpacked_destroy(&u);
	/* Then the end of the stream: EOF, or a reset when the engine
	 * closed with our bytes unread. */
	for (int64_t end = now_ms() + ms; now_ms() < end;) {
		struct pollfd p = {fd, POLLIN, 0};
		char b[4096];
		ssize_t n;
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, b, sizeof(b), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return 0;
	}
	fprintf(stderr, "the connection stayed open\n");
	return -1;
}

/* ---- 6: output amplification ------------------------------------------ */

START_TEST(i6_output_amplification)
{
	int fd, flood;
	uint64_t id = 1;
	msgpack_sbuffer sb;
	char meta[2001];
	size_t reply, sent, n;
	long rss0, rss1;
	int got = 0;
	int64_t deadline;

	small_asan_quarantine();
	ck_assert_int_eq(h_start(&H, NULL), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_ge(fd, 0);
	memset(meta, 'm', sizeof(meta) - 1);
	meta[sizeof(meta) - 1] = 0;
	for (int i = 0; i < 100; i++) {
		char rid[16];
		snprintf(rid, sizeof(rid), "r%d", i);
		ck_assert_int_eq(CALL(fd, id++, "resource.create",
				      "{s:s s:{s:s}}", "id", rid, "meta", "x",
				      meta),
				 0);
	}
	/* How big is one reply?  Enough of them to make 400 MiB. */
	ck_assert_int_eq(CALL(fd, id++, "resource.list", NULL), 0);
	{
		msgpack_sbuffer t;
		msgpack_packer pk;
		msgpack_sbuffer_init(&t);
		msgpack_packer_init(&pk, &t, msgpack_sbuffer_write);
		msgpack_pack_object(&pk, U.data);
		reply = t.size;
		msgpack_sbuffer_destroy(&t);
	}
	n = (400u << 20) / reply;
	if (n > 100000)
		n = 100000;
	msgpack_sbuffer_init(&sb);
	for (size_t i = 0; i < n; i++)
		frame_into(&sb, 1000000 + i, "resource.list");
	rss0 = proc_kb(H.pid, "VmRSS");
	flood = h_connect_raw(&H);
	ck_assert_int_ge(flood, 0);
	sent = send_for(flood, sb.data, sb.size, 3000);
	usleep(1000 * 1000);
	rss1 = proc_kb(H.pid, "VmRSS");
	fprintf(stderr,
		"i6: %zu requests (%zu of %zu bytes sent) of %zu-byte "
		"replies: RSS %ld -> %ld kB\n",
		n, sent, sb.size, reply, rss0, rss1);
	/* Bounded by the connection's output limit (8 MiB) and a frame. */
	ck_assert_int_lt(rss1 - rss0, 64 * 1024);
	/* Others are served meanwhile. */
	ck_assert_int_ge(ping_us(fd, id++), 0);
	/* Nothing was dropped: the flooder reads every reply. */
	send_for(flood, sb.data + sent, sb.size - sent, 0);
	deadline = now_ms() + 60000;
	while (got < (int)n && now_ms() < deadline) {
		msgpack_unpacked u;
		msgpack_unpacked_init(&u);
		if (sent < sb.size) {
			size_t more =
			    send_for(flood, sb.data + sent, sb.size - sent, 1);
			sent += more;
		}
		if (h_recv_frame(flood, &u, 5000) != 1) {
			msgpack_unpacked_destroy(&u);
			break;
		}
		got++;
		msgpack_unpacked_destroy(&u);
	}
	ck_assert_int_eq(got, (int)n);
	msgpack_sbuffer_destroy(&sb);
	close(flood);
	close(fd);
}
END_TEST

START_TEST(i6_stalled_reader_closed)
{
	int fd, flood;
	uint64_t id = 1;
	msgpack_sbuffer sb;
	char meta[2001];
	int64_t end;
	int64_t conns = -1;

	ck_assert_int_eq(h_start(&H, "--frame-timeout-ms 500"), 0);
	fd = h_connect_raw(&H);
	memset(meta, 'm', sizeof(meta) - 1);
	meta[sizeof(meta) - 1] = 0;
	for (int i = 0; i < 20; i++) {
		char rid[16];
		snprintf(rid, sizeof(rid), "r%d", i);
		ck_assert_int_eq(CALL(fd, id++, "resource.create",
				      "{s:s s:{s:s}}", "id", rid, "meta", "x",
				      meta),
				 0);
	}
	msgpack_sbuffer_init(&sb);
	for (int i = 0; i < 400; i++)
		frame_into(&sb, 1000 + (uint64_t)i, "resource.list");
	flood = h_connect_raw(&H);
	send_for(flood, sb.data, sb.size, 1000);
	/* It reads nothing: after three frame timeouts it is let go. */
	for (end = now_ms() + 6000; now_ms() < end;) {
		ck_assert_int_eq(CALL(fd, id++, "stats", NULL), 0);
		conns = (int64_t)wire_get(h_result(&U), "connections")->via.u64;
		if (conns == 1)
			break;
		usleep(200 * 1000);
	}
	ck_assert_int_eq(conns, 1);
	ck_assert(h_log_contains(&H, "unread for"));
	msgpack_sbuffer_destroy(&sb);
	close(flood);
	close(fd);
}
END_TEST

/* ---- 7: slow senders -------------------------------------------------- */

START_TEST(i7_slow_senders)
{
	enum { NCONN = 64, BODY = 512 * 1024 };
	int fds[NCONN], fd;
	static char body[BODY];
	unsigned char hdr[4] = {0x00, 0x0f, 0xff, 0xff}; /* 1 MiB - 1 */
	long rss0, rss1;
	int64_t t0;

	small_asan_quarantine();
	ck_assert_int_eq(
	    h_start(&H, "--frame-timeout-ms 1000 --max-input-mb 8"), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_ge(ping_us(fd, 1), 0);
	rss0 = proc_kb(H.pid, "VmRSS");
	for (int i = 0; i < NCONN; i++) {
		fds[i] = h_connect_raw(&H);
		ck_assert_int_ge(fds[i], 0);
		ck_assert_int_eq(h_send_all(fds[i], hdr, 4), 0);
		send_for(fds[i], body, BODY, 20);
	}
	t0 = now_ms();
	usleep(300 * 1000);
	rss1 = proc_kb(H.pid, "VmRSS");
	fprintf(stderr,
		"i7: %d connections x %d bytes of a frame: RSS %ld -> "
		"%ld kB\n",
		NCONN, BODY, rss0, rss1);
	/* The input budget (8 MiB) plus a receive per connection. */
	ck_assert_int_lt(rss1 - rss0, 24 * 1024);
	ck_assert_int_ge(ping_us(fd, 2), 0);
	/* Each is told and closed after the frame timeout. */
	for (int i = 0; i < NCONN; i++) {
		ck_assert_int_eq(expect_closed_with(fds[i], "LIMIT", 5000), 0);
		close(fds[i]);
	}
	fprintf(stderr, "i7: all closed %lld ms after the attack\n",
		(long long)(now_ms() - t0));
	ck_assert_int_ge(ping_us(fd, 3), 0);
	close(fd);
}
END_TEST

START_TEST(i7_idle_timeout)
{
	int pub, adm;

	ck_assert_int_eq(h_start(&H, "--idle-timeout-ms 500"), 0);
	pub = h_connect_raw(&H);
	adm = h_connect_raw(&H);
	ck_assert_int_eq(CALL(pub, 1, "hello", "{s:s}", "role", "public"), 0);
	ck_assert_int_ge(ping_us(adm, 2), 0);
	ck_assert_int_eq(expect_closed_with(pub, "LIMIT", 4000), 0);
	/* Admin connections are never idle-closed. */
	usleep(1600 * 1000);
	ck_assert_int_ge(ping_us(adm, 3), 0);
	close(pub);
	close(adm);
}
END_TEST

/* ---- 10: records over the log's limit --------------------------------- */

START_TEST(i10_record_too_large)
{
	int fd;
	uint64_t id = 1;
	int64_t day0 = h_day(2);
	char notes[1500];

	ck_assert_int_eq(h_use_test_build(), 0);
	ck_assert_int_eq(h_start(&H, "--test-wal-max-payload 1024"), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_eq(CALL(fd, id++, "resource.create", "{s:s}", "id", "r"),
			 0);
	memset(notes, 'n', sizeof(notes) - 1);
	notes[sizeof(notes) - 1] = 0;
	for (int i = 0; i < 6; i++) {
		int64_t s = day0 + (int64_t)i * Q_SECONDS;
		int rc = CALL(fd, id++, "book", "{s:s s:I s:I s:{s:s s:s s:s}}",
			      "resource", "r", "start", s, "end", s + Q_SECONDS,
			      "booker", "name", "N", "email", "n@example.com",
			      "notes", i == 3 ? notes : "short");
		if (i == 3) {
			ck_assert_int_eq(rc, BOOKD_E_TOO_LARGE);
		} else {
			ck_assert_int_eq(rc, 0);
		}
	}
	close(fd);
	h_kill9(&H);
	ck_assert_int_eq(h_restart(&H, NULL), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_eq(
	    CALL(fd, id++, "booking.list", "{s:s}", "resource", "r"), 0);
	{
		const msgpack_object *b = wire_get(h_result(&U), "bookings");
		ck_assert_ptr_nonnull(b);
		ck_assert_int_eq(b->via.array.size, 5);
	}
	close(fd);
}
END_TEST

/* ---- 12: parsing cost ------------------------------------------------- */

/* A frame whose body is an array of n nils. */
static void nils_frame(msgpack_sbuffer *sb, uint32_t n)
{
	size_t len = 5 + (size_t)n;
	unsigned char h[9] = {(unsigned char)(len >> 24),
			      (unsigned char)(len >> 16),
			      (unsigned char)(len >> 8),
			      (unsigned char)len,
			      0xdd,
			      (unsigned char)(n >> 24),
			      (unsigned char)(n >> 16),
			      (unsigned char)(n >> 8),
			      (unsigned char)n};
	msgpack_sbuffer_write(sb, (const char *)h, 9);
	for (uint32_t i = 0; i < n; i++)
		msgpack_sbuffer_write(sb, "\xc0", 1);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

START_TEST(i12_parsing_cost)
{
	enum { NFLOOD = 4, PINGS = 200 };
	int fd, flood[NFLOOD];
	msgpack_sbuffer big, many;
	msgpack_unpacked u;
	long rtt[PINGS];
	pid_t kids[NFLOOD];

	ck_assert_int_eq(h_start(&H, NULL), 0);
	fd = h_connect_raw(&H);
	/* A million nils: refused from the array's header. */
	msgpack_sbuffer_init(&big);
	nils_frame(&big, 1000000);
	ck_assert_int_eq(h_send_all(fd, big.data, big.size), 0);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_recv_frame(fd, &u, 5000), 1);
	ck_assert_str_eq(err_code(&u), "TOO_LARGE");
	msgpack_unpacked_destroy(&u);
	/* Frames just under the element cap, as fast as they go, on four
	 * connections, while another pings. */
	msgpack_sbuffer_init(&many);
	for (int i = 0; i < 16; i++)
		nils_frame(&many, 60000);
	for (int k = 0; k < NFLOOD; k++) {
		flood[k] = h_connect_raw(&H);
		ck_assert_int_ge(flood[k], 0);
		kids[k] = fork();
		ck_assert_int_ge(kids[k], 0);
		if (kids[k] == 0) {
			int64_t end = now_ms() + 4000;
			char sink[65536];
			while (now_ms() < end) {
				send_for(flood[k], many.data, many.size, 100);
				while (recv(flood[k], sink, sizeof(sink),
					    MSG_DONTWAIT) > 0)
					;
			}
			_exit(0);
		}
	}
	usleep(300 * 1000);
	for (int i = 0; i < PINGS; i++) {
		rtt[i] = ping_us(fd, 10 + (uint64_t)i);
		ck_assert_int_ge(rtt[i], 0);
	}
	for (int k = 0; k < NFLOOD; k++) {
		waitpid(kids[k], NULL, 0);
		close(flood[k]);
	}
	qsort(rtt, PINGS, sizeof(long), cmp_long);
	fprintf(stderr,
		"i12: ping under %d floods of 60000-nil frames: p50 "
		"%ld us, p99 %ld us\n",
		NFLOOD, rtt[PINGS / 2], rtt[PINGS * 99 / 100]);
	/* The machine is shared and may run the sanitizer build: a bound
	 * well above an idle ping, well below a turn of the old engine. */
	ck_assert_int_lt(rtt[PINGS / 2], 20000);
	msgpack_sbuffer_destroy(&big);
	msgpack_sbuffer_destroy(&many);
	close(fd);
}
END_TEST

/* ---- 11: subscription fan-out ---------------------------------------- */

START_TEST(i11_subscription_caps)
{
	int a, b;
	uint64_t id = 1;

	ck_assert_int_eq(h_start(&H, "--max-subs-per-caller 50 --max-subs 70"),
			 0);
	a = h_connect_raw(&H);
	b = h_connect_raw(&H);
	ck_assert_int_eq(CALL(a, id++, "resource.create", "{s:s}", "id", "r"),
			 0);
	/* One caller (one uid here), over two connections. */
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(CALL(i % 2 ? a : b, id++, "subscribe",
				      "{s:s s:s}", "topic", "slots", "resource",
				      "r"),
				 0);
	ck_assert_int_eq(CALL(b, id++, "subscribe", "{s:s s:s}", "topic",
			      "holds", "resource", "r"),
			 BOOKD_E_LIMIT);
	/* A closed connection gives its share back. */
	close(b);
	usleep(200 * 1000);
	for (int i = 0; i < 25; i++)
		ck_assert_int_eq(CALL(a, id++, "subscribe", "{s:s s:s}",
				      "topic", "slots", "resource", "r"),
				 0);
	ck_assert_int_eq(CALL(a, id++, "subscribe", "{s:s s:s}", "topic",
			      "slots", "resource", "r"),
			 BOOKD_E_LIMIT);
	close(a);
}
END_TEST

START_TEST(i11_whole_window_coalesced)
{
	enum { NSUB = 20 };
	int fds[NSUB], fd;
	uint64_t id = 1;
	int64_t t0;

	ck_assert_int_eq(h_start(&H, NULL), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_eq(CALL(fd, id++, "resource.create", "{s:s s:i}", "id",
			      "pool", "quantity", 4),
			 0);
	for (int i = 0; i < NSUB; i++) {
		fds[i] = h_connect_raw(&H);
		ck_assert_int_eq(CALL(fds[i], id++, "subscribe", "{s:s s:s}",
				      "topic", "slots", "resource", "pool"),
				 0);
	}
	t0 = now_ms();
	ck_assert_int_eq(CALL(fd, id++, "resource.update", "{s:s s:i}", "id",
			      "pool", "quantity", 2),
			 0);
	fprintf(stderr,
		"i11: quantity change with %d whole-window "
		"subscribers answered in %lld ms\n",
		NSUB, (long long)(now_ms() - t0));
	for (int i = 0; i < NSUB; i++) {
		msgpack_unpacked u;
		const msgpack_object *to;
		msgpack_unpacked_init(&u);
		ck_assert_int_eq(h_recv_frame(fds[i], &u, 5000), 1);
		ck_assert(wire_str_eq(wire_get(&u.data, "topic"), "slots"));
		to = wire_get(&u.data, "to");
		ck_assert_ptr_nonnull(to);
		msgpack_unpacked_destroy(&u);
		/* One push, not one per date. */
		msgpack_unpacked_init(&u);
		ck_assert_int_eq(h_recv_frame(fds[i], &u, 300), -1);
		msgpack_unpacked_destroy(&u);
		close(fds[i]);
	}
	close(fd);
}
END_TEST

START_TEST(i11_day_index_exact)
{
	enum { NSUB = 60 };
	int fd, w;
	uint64_t id = 1;
	int64_t d0 = h_day(5), from[NSUB], to[NSUB], sid[NSUB];
	int64_t target = d0 + 7 * DAY_SECONDS;
	bool expect[NSUB], got[NSUB];
	msgpack_unpacked u;

	ck_assert_int_eq(h_start(&H, NULL), 0);
	fd = h_connect_raw(&H);
	w = h_connect_raw(&H);
	ck_assert_int_eq(CALL(fd, id++, "resource.create", "{s:s}", "id", "r"),
			 0);
	/* Ranges of every length and place around the target date. */
	for (int i = 0; i < NSUB; i++) {
		char a[11], b[11];
		from[i] = d0 + (int64_t)(i % 12) * DAY_SECONDS;
		to[i] = from[i] + (int64_t)(i / 12) * 2 * DAY_SECONDS;
		h_date(from[i], a);
		h_date(to[i], b);
		ck_assert_int_eq(CALL(w, id++, "subscribe", "{s:s s:s s:s s:s}",
				      "topic", "slots", "resource", "r", "from",
				      a, "to", b),
				 0);
		sid[i] = (int64_t)wire_get(h_result(&U), "sub")->via.u64;
		expect[i] = from[i] <= target && target <= to[i];
		got[i] = false;
	}
	ck_assert_int_eq(CALL(fd, id++, "book", "{s:s s:I s:I s:{s:s s:s}}",
			      "resource", "r", "start", target + 3600, "end",
			      target + 3600 + Q_SECONDS, "booker", "name", "I",
			      "email", "i@example.com"),
			 0);
	msgpack_unpacked_init(&u);
	while (h_recv_frame(w, &u, 500) == 1) {
		int64_t sub = (int64_t)wire_get(&u.data, "sub")->via.u64;
		for (int i = 0; i < NSUB; i++)
			if (sid[i] == sub) {
				ck_assert(!got[i]);
				got[i] = true;
			}
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
	}
	msgpack_unpacked_destroy(&u);
	for (int i = 0; i < NSUB; i++)
		ck_assert_msg(got[i] == expect[i],
			      "sub %d: pushed %d, expected %d", i, got[i],
			      expect[i]);
	close(w);
	close(fd);
}
END_TEST

/* ---- 14: socket takeover ---------------------------------------------- */

START_TEST(i14_socket_takeover)
{
	char args[512], err[4096];
	struct harness h2;
	int fd, st;

	ck_assert_int_eq(h_start(&H, NULL), 0);
	/* A second engine on another data directory, same socket. */
	memset(&h2, 0, sizeof(h2));
	ck_assert_int_eq(h_start(&h2, NULL), 0);
	h_stop(&h2);
	snprintf(args, sizeof(args), "--socket %s", H.sock);
	st = h_run_to_exit(&h2, args, 10000, err, sizeof(err));
	ck_assert_int_eq(st, 2);
	ck_assert_ptr_nonnull(strstr(err, "an engine is listening"));
	fd = h_connect_raw(&H);
	ck_assert_int_ge(ping_us(fd, 1), 0);
	close(fd);
	/* A path that is not a socket is left alone. */
	snprintf(args, sizeof(args), "--socket %s/not-a-socket", h2.dir);
	{
		char path[400];
		int f;
		snprintf(path, sizeof(path), "%s/not-a-socket", h2.dir);
		f = open(path, O_CREAT | O_WRONLY, 0600);
		ck_assert_int_ge(f, 0);
		ck_assert_int_eq(write(f, "keep", 4), 4);
		close(f);
		st = h_run_to_exit(&h2, args, 10000, err, sizeof(err));
		ck_assert_int_eq(st, 2);
		ck_assert_ptr_nonnull(strstr(err, "not a socket"));
		ck_assert_int_eq(access(path, F_OK), 0);
	}
	h_cleanup(&h2);
}
END_TEST

/* ---- 5: connections --------------------------------------------------- */

/*
 * A child running as nobody (with the given supplementary groups) that
 * opens up to want connections and says hello on each; it holds them until
 * kid_release().  ok: hellos answered; admin: the first answer's role.
 */
struct kid {
	pid_t pid;
	int release; /* closing it lets the child go */
	int ok;
	int admin;
};

static void kid_start(struct kid *k, int want, const gid_t *groups, int ngroups)
{
	int res[2], rel[2];
	unsigned char out[2];

	ck_assert_int_eq(pipe(res), 0);
	ck_assert_int_eq(pipe(rel), 0);
	k->pid = fork();
	ck_assert_int_ge(k->pid, 0);
	if (k->pid == 0) {
		unsigned char r[2] = {0, 0};
		char x;
		close(res[0]);
		close(rel[1]);
		if (setgroups((size_t)ngroups, groups) < 0 ||
		    setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(1);
		for (int i = 0; i < want; i++) {
			int fd = h_connect_raw(&H);
			msgpack_unpacked u;
			if (fd < 0)
				continue;
			msgpack_unpacked_init(&u);
			if (h_call(fd, &u, 1, "hello", NULL) == 0) {
				if (r[0] == 0)
					r[1] = wire_str_eq(
					    wire_get(h_result(&u), "role"),
					    "admin");
				r[0]++;
			}
			msgpack_unpacked_destroy(&u);
		}
		if (write(res[1], r, 2) != 2)
			_exit(1);
		if (read(rel[0], &x, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(res[1]);
	close(rel[0]);
	k->release = rel[1];
	ck_assert_int_eq(read(res[0], out, 2), 2);
	close(res[0]);
	k->ok = out[0];
	k->admin = out[1];
}

static void kid_release(struct kid *k)
{
	int st;

	close(k->release);
	waitpid(k->pid, &st, 0);
}

static void open_world(void)
{
	/* nobody must reach the socket inside the harness's directory. */
	ck_assert_int_eq(chmod(H.dir, 0755), 0);
}

START_TEST(i5_per_uid_cap)
{
	struct kid k;
	int fd;

	if (geteuid() != 0) {
		fprintf(stderr, "i5_per_uid_cap: needs root, not run\n");
		return;
	}
	ck_assert_int_eq(h_start(&H, "--max-conns 16 --max-conns-per-uid 4 "
				     "--admin-reserve 2"),
			 0);
	open_world();
	kid_start(&k, 8, NULL, 0);
	ck_assert_int_eq(k.admin, 0);
	ck_assert_int_eq(k.ok, 4);
	fd = h_connect_raw(&H);
	ck_assert_int_ge(ping_us(fd, 1), 0);
	close(fd);
	kid_release(&k);
}
END_TEST

START_TEST(i5_admin_reserve)
{
	struct kid k;
	int fds[3];

	if (geteuid() != 0) {
		fprintf(stderr, "i5_admin_reserve: needs root, not run\n");
		return;
	}
	ck_assert_int_eq(h_start(&H, "--max-conns 8 --max-conns-per-uid 100 "
				     "--admin-reserve 3"),
			 0);
	open_world();
	/* nobody gets all but the reserve... */
	kid_start(&k, 10, NULL, 0);
	ck_assert_int_eq(k.ok, 5);
	/* ... and root the reserve, while nobody holds the rest. */
	for (int i = 0; i < 3; i++) {
		fds[i] = h_connect_raw(&H);
		ck_assert_int_ge(ping_us(fds[i], 1), 0);
	}
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	kid_release(&k);
}
END_TEST

START_TEST(i5_nofile_refused)
{
	struct rlimit rl = {200, 200};
	char err[4096];
	pid_t pid;
	int st;

	ck_assert_int_eq(h_start(&H, NULL), 0);
	h_stop(&H);
	/* A hard limit too low for 4096 connections, in a child that cannot
	 * raise it again (root could: nobody, when we are root). */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (geteuid() == 0 &&
		    (setgid(NOBODY) < 0 || setuid(NOBODY) < 0))
			_exit(100);
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(101);
		st = h_run_to_exit(&H, "--max-conns 4096", 10000, err,
				   sizeof(err));
		fprintf(stderr, "i5_nofile_refused: status %d: %s\n", st, err);
		_exit(st == 2 && strstr(err, "RLIMIT_NOFILE") ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

START_TEST(i5_nofile_raised)
{
	struct rlimit low, old;
	enum { N = 150 };
	int fds[N];

	/* A soft limit below what --max-conns needs, a hard one above. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	ck_assert_int_eq(h_start(&H, "--max-conns 400"), 0);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	for (int i = 0; i < N; i++) {
		fds[i] = h_connect_raw(&H);
		ck_assert_int_ge(fds[i], 0);
		ck_assert_int_ge(ping_us(fds[i], 1), 0);
	}
	for (int i = 0; i < N; i++)
		close(fds[i]);
}
END_TEST

START_TEST(i5_emfile_no_spin)
{
	enum { N = 80 };
	int fds[N], fd;
	long t0, t1;
	long hz = sysconf(_SC_CLK_TCK);

	ck_assert_int_eq(h_use_test_build(), 0);
	ck_assert_int_eq(h_start(&H, "--max-conns 200 --test-nofile 40"), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_ge(ping_us(fd, 1), 0);
	for (int i = 0; i < N; i++)
		fds[i] = h_connect_raw(&H); /* queued: accept hits EMFILE */
	usleep(200 * 1000);
	t0 = cpu_ticks(H.pid);
	usleep(1000 * 1000);
	t1 = cpu_ticks(H.pid);
	fprintf(stderr, "i5_emfile: engine CPU %ld%% over 1 s\n",
		(t1 - t0) * 100 / hz);
	ck_assert_int_lt((t1 - t0) * 100 / hz, 30);
	/* Still serving the connection it has. */
	ck_assert_int_ge(ping_us(fd, 2), 0);
	for (int i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	close(fd);
}
END_TEST

/* ---- 15: admin group, events overflow --------------------------------- */

START_TEST(i15_admin_group_from_peer)
{
	struct group *g = getgrnam("staff");
	char args[64];
	struct kid k;
	gid_t gid;

	if (geteuid() != 0 || g == NULL) {
		fprintf(stderr, "i15_admin_group: needs root and a 'staff' "
				"group, not run\n");
		return;
	}
	gid = g->gr_gid;
	for (char **m = g->gr_mem; *m; m++)
		ck_assert_str_ne(*m, "nobody");
	snprintf(args, sizeof(args), "--admin-group staff");
	ck_assert_int_eq(h_start(&H, args), 0);
	open_world();
	/* nobody is not in staff by /etc/group, but this process is. */
	kid_start(&k, 1, &gid, 1);
	ck_assert_int_eq(k.ok, 1);
	ck_assert_int_eq(k.admin, 1);
	kid_release(&k);
	/* And without the group it is public. */
	kid_start(&k, 1, NULL, 0);
	ck_assert_int_eq(k.ok, 1);
	ck_assert_int_eq(k.admin, 0);
	kid_release(&k);
}
END_TEST

START_TEST(i15_events_after_max)
{
	int fd;
	const msgpack_object *next;

	ck_assert_int_eq(h_start(&H, NULL), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_eq(CALL(fd, 1, "events", "{s:U}", "after", UINT64_MAX),
			 0);
	next = wire_get(h_result(&U), "next");
	ck_assert_ptr_nonnull(next);
	ck_assert_int_eq(next->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert(next->via.u64 == UINT64_MAX);
	close(fd);
}
END_TEST

/* ---- all at once ------------------------------------------------------ */

/*
 * The connection-level attacks together (pipelined lists never read, slow
 * senders, floods of expensive frames, a subscription flood) while an
 * honest client books and pings: every booking succeeds, the ping stays
 * fast, and the engine's RSS grows by less than the budget below (the
 * attacks' share of --max-conn-output-mb, --max-input-mb, and buffers).
 */
#define COMBINED_RSS_BUDGET_KB (160 * 1024)

START_TEST(all_attacks_at_once)
{
	enum { SLOW = 32, BOOKS = 100 };
	int fd, flood, slow[SLOW], subs;
	uint64_t id = 1;
	msgpack_sbuffer lists, nils;
	static char body[256 * 1024];
	unsigned char hdr[4] = {0x00, 0x0f, 0xff, 0xff};
	char meta[2001];
	long rtt[BOOKS], rss0, rss_max = 0;
	int64_t day0 = h_day(3);
	pid_t kid;

	small_asan_quarantine();
	ck_assert_int_eq(h_start(&H, NULL), 0);
	fd = h_connect_raw(&H);
	memset(meta, 'm', sizeof(meta) - 1);
	meta[sizeof(meta) - 1] = 0;
	for (int i = 0; i < 50; i++) {
		char rid[16];
		snprintf(rid, sizeof(rid), "r%d", i);
		ck_assert_int_eq(CALL(fd, id++, "resource.create",
				      "{s:s s:{s:s}}", "id", rid, "meta", "x",
				      meta),
				 0);
	}
	rss0 = proc_kb(H.pid, "VmRSS");
	/* Output amplification. */
	msgpack_sbuffer_init(&lists);
	for (int i = 0; i < 2000; i++)
		frame_into(&lists, 100000 + (uint64_t)i, "resource.list");
	flood = h_connect_raw(&H);
	send_for(flood, lists.data, lists.size, 500);
	/* Slow senders. */
	for (int i = 0; i < SLOW; i++) {
		slow[i] = h_connect_raw(&H);
		ck_assert_int_eq(h_send_all(slow[i], hdr, 4), 0);
		send_for(slow[i], body, sizeof(body), 20);
	}
	/* A subscription flood: as many as one caller may have. */
	subs = h_connect_raw(&H);
	for (int i = 0; i < 4096; i++)
		ck_assert_int_eq(h_send_req(subs, 200000 + (uint64_t)i,
					    "subscribe", "{s:s s:s}", "topic",
					    "slots", "resource", "r0"),
				 0);
	/* Expensive frames, from a child, as fast as they go. */
	msgpack_sbuffer_init(&nils);
	for (int i = 0; i < 8; i++)
		nils_frame(&nils, 60000);
	kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0) {
		int c[2] = {h_connect_raw(&H), h_connect_raw(&H)};
		int64_t end = now_ms() + 5000;
		char sink[65536];
		while (now_ms() < end)
			for (int k = 0; k < 2; k++) {
				send_for(c[k], nils.data, nils.size, 50);
				while (recv(c[k], sink, sizeof(sink),
					    MSG_DONTWAIT) > 0)
					;
			}
		_exit(0);
	}
	/* The honest client books on r1 (with a subscriber flood on r0). */
	for (int i = 0; i < BOOKS; i++) {
		int64_t s = day0 + (int64_t)i * Q_SECONDS;
		long r;
		ck_assert_int_eq(
		    CALL(fd, id++, "book", "{s:s s:I s:I s:{s:s s:s}}",
			 "resource", "r1", "start", s, "end", s + Q_SECONDS,
			 "booker", "name", "H", "email", "h@example.com"),
		    0);
		r = ping_us(fd, id++);
		ck_assert_int_ge(r, 0);
		rtt[i] = r;
		if (i % 10 == 0) {
			long k = proc_kb(H.pid, "VmRSS");
			if (k > rss_max)
				rss_max = k;
		}
	}
	waitpid(kid, NULL, 0);
	qsort(rtt, BOOKS, sizeof(long), cmp_long);
	fprintf(stderr,
		"all at once: %d bookings ok; ping p50 %ld us p99 %ld us; "
		"RSS %ld -> max %ld kB\n",
		BOOKS, rtt[BOOKS / 2], rtt[BOOKS * 99 / 100], rss0, rss_max);
	ck_assert_int_lt(rss_max - rss0, COMBINED_RSS_BUDGET_KB);
	/* A shared machine, maybe the sanitizer build: p99 is bounded
	 * loosely; the 20 ms holds for the plain build when the
	 * machine is idle (see the report's figures). */
	ck_assert_int_lt(rtt[BOOKS * 99 / 100], 200000);
	for (int i = 0; i < SLOW; i++)
		close(slow[i]);
	close(flood);
	close(subs);
	close(fd);
	msgpack_sbuffer_destroy(&lists);
	msgpack_sbuffer_destroy(&nils);
}
END_TEST

Suite *abuse_conn_suite(void);
Suite *abuse_conn_suite(void)
{
	Suite *s = suite_create("abuse_conn");
	struct {
		const char *name;
		const TTest *t;
	} cases[] = {
	    {"i6", i6_output_amplification},
	    {"i6", i6_stalled_reader_closed},
	    {"i7", i7_slow_senders},
	    {"i7", i7_idle_timeout},
	    {"i10", i10_record_too_large},
	    {"i12", i12_parsing_cost},
	    {"i11", i11_subscription_caps},
	    {"i11", i11_whole_window_coalesced},
	    {"i11", i11_day_index_exact},
	    {"i14", i14_socket_takeover},
	    {"i5", i5_per_uid_cap},
	    {"i5", i5_admin_reserve},
	    {"i5", i5_nofile_refused},
	    {"i5", i5_nofile_raised},
	    {"i5", i5_emfile_no_spin},
	    {"i15", i15_admin_group_from_peer},
	    {"i15", i15_events_after_max},
	    {"all", all_attacks_at_once},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 90);
		tcase_add_test(tc, cases[i].t);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	return run_suite(abuse_conn_suite());
}

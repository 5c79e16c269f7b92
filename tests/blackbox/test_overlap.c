/*
 * test_overlap.c - overlapping commit groups seen from the outside: a
 * group's replies never leave before an earlier group is durable, even
 * when the later group's fdatasync completes first.
 *
 * The test build's --test-sync-delay-ms holds back, with io_uring, the
 * fdatasync of each group that begins with none in flight.  Booking A
 * begins such a group; booking B, sent on another connection while A's
 * group is held back, begins a second group beside it, whose fdatasync
 * completes at once.  B's reply must still wait for A's group: it cannot
 * arrive before A was sent plus the delay (a lower bound, which a slow
 * machine only makes later).  Afterwards the log itself shows that B's
 * group really overlapped A's: B's record says that A was not yet durable
 * when it was written (synced < A's LSN).
 *
 * A lone request (the only frame of its loop turn, nothing in flight) is
 * synced by the loop itself; two frames in one write are not, and both
 * kinds are durable when answered (a kill -9 right after loses neither).
 */
#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "quanta.h"
#include "suite_main.h"
#include "wal.h"
#include "wire.h"

#define DELAY_MS 300
#define ROUNDS	 4
#define LONE	 12 /* lone bookings: more than commit.c's LONE_STREAK */

static struct harness H;

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_book(int fd, uint64_t id, int64_t start)
{
	return h_send_req(fd, id, "book", "{s:s s:I s:I s:{s:s s:s}}",
			  "resource", "r1", "start", start, "end",
			  start + Q_SECONDS, "booker", "name", "O", "email",
			  "o@example.com");
}

/* Read one reply on fd and return the booking id it carries. */
static uint64_t booked_id(int fd, uint64_t req_id)
{
	msgpack_unpacked u;
	const msgpack_object *res, *v;
	uint64_t id;

	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_recv_frame(fd, &u, 10000), 1);
	v = wire_get(&u.data, "id");
	ck_assert(v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(v->via.u64, req_id);
	res = h_result(&u);
	ck_assert_msg(res != NULL, "book failed");
	v = wire_get(res, "id");
	ck_assert(v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER);
	id = v->via.u64;
	msgpack_unpacked_destroy(&u);
	return id;
}

struct bookings {
	uint64_t lsn[2 * ROUNDS];
	uint64_t synced[2 * ROUNDS];
	int n;
};

static int collect(void *ctx, const struct wal_rec *r)
{
	struct bookings *b = ctx;
	if (r->type == WAL_BOOKING && b->n < 2 * ROUNDS) {
		b->lsn[b->n] = r->lsn;
		b->synced[b->n] = r->synced;
		b->n++;
	}
	return 0;
}

static int64_t stat_of(int fd, uint64_t id, const char *key)
{
	msgpack_unpacked u;
	const msgpack_object *v;
	int64_t n;

	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_call(fd, &u, id, "stats", NULL), 0);
	v = wire_get(h_result(&u), key);
	ck_assert_msg(v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER,
		      "stats has no %s", key);
	n = (int64_t)v->via.u64;
	msgpack_unpacked_destroy(&u);
	return n;
}

START_TEST(lone_requests_synced_inline)
{
	int64_t day0 = h_day(3), in0, fs0, in1, fs1, in2, fs2;
	msgpack_sbuffer sb;
	msgpack_unpacked u;
	uint64_t req = 1;
	int fd;

	ck_assert_int_eq(h_start(&H, NULL), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_ge(fd, 0);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(
	    h_call(fd, &u, req++, "resource.create", "{s:s}", "id", "r1"), 0);
	msgpack_unpacked_destroy(&u);

	/* One booking at a time: after a streak of quiet lone groups through
	 * the ring, each synced inline. */
	for (int i = 0; i < LONE; i++) {
		ck_assert_int_eq(send_book(fd, req, day0 + i * Q_SECONDS), 0);
		booked_id(fd, req++);
	}
	in0 = stat_of(fd, req++, "inline_syncs");
	fs0 = stat_of(fd, req++, "fsyncs");
	ck_assert_int_ge(in0, 1);
	ck_assert_int_lt(in0, LONE);
	for (int i = LONE; i < LONE + 3; i++) {
		ck_assert_int_eq(send_book(fd, req, day0 + i * Q_SECONDS), 0);
		booked_id(fd, req++);
	}
	in1 = stat_of(fd, req++, "inline_syncs");
	fs1 = stat_of(fd, req++, "fsyncs");
	ck_assert_int_eq(in1 - in0, 3);
	ck_assert_int_eq(fs1 - fs0, 3);

	/* Two in one write: one turn, two frames, through the ring. */
	msgpack_sbuffer_init(&sb);
	for (int i = LONE + 3; i < LONE + 5; i++)
		ck_assert_int_eq(
		    h_build_req(&sb, req + (uint64_t)(i - LONE - 3), "book",
				"{s:s s:I s:I s:{s:s s:s}}", "resource", "r1",
				"start", day0 + i * Q_SECONDS, "end",
				day0 + (i + 1) * Q_SECONDS, "booker", "name",
				"O", "email", "o@example.com"),
		    0);
	ck_assert_int_eq(h_send_all(fd, sb.data, sb.size), 0);
	msgpack_sbuffer_destroy(&sb);
	booked_id(fd, req++);
	booked_id(fd, req++);
	in2 = stat_of(fd, req++, "inline_syncs");
	fs2 = stat_of(fd, req++, "fsyncs");
	ck_assert_int_eq(in2, in1);
	ck_assert_int_ge(fs2 - fs1, 1);

	/* Every answered booking survives kill -9. */
	close(fd);
	h_kill9(&H);
	ck_assert_int_eq(h_restart(&H, NULL), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(stat_of(fd, req++, "bookings"), LONE + 5);
	close(fd);
}
END_TEST

START_TEST(replies_wait_for_earlier_groups)
{
	int a, b, dfd;
	uint64_t req = 1, ida, idb;
	int64_t day0 = h_day(2);
	struct bookings bk = {0};
	struct wal_scan sc;
	msgpack_unpacked u;
	char args[64];

	ck_assert_int_eq(h_use_test_build(), 0);
	snprintf(args, sizeof(args), "--test-sync-delay-ms %d", DELAY_MS);
	ck_assert_int_eq(h_start(&H, args), 0);
	a = h_connect_raw(&H);
	b = h_connect_raw(&H);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(
	    h_call(a, &u, req++, "resource.create", "{s:s}", "id", "r1"), 0);
	msgpack_unpacked_destroy(&u);

	for (int i = 0; i < ROUNDS; i++) {
		uint64_t ra = req++, rb = req++;
		int64_t sent_a, got_b;
		struct pollfd p = {b, POLLIN, 0};

		sent_a = mono_ms();
		ck_assert_int_eq(send_book(a, ra, day0 + 2 * i * Q_SECONDS), 0);
		/* Long enough for A's group to begin, well inside its
		 * delay. */
		usleep(30000);
		ck_assert_int_eq(
		    send_book(b, rb, day0 + (2 * i + 1) * Q_SECONDS), 0);
		ck_assert_int_eq(poll(&p, 1, 10000), 1);
		got_b = mono_ms();
		ck_assert_msg(got_b - sent_a >= DELAY_MS - 1,
			      "round %d: B's reply came %" PRId64
			      " ms after A was sent, before A's group "
			      "(held back %d ms) was durable",
			      i, got_b - sent_a, DELAY_MS);
		idb = booked_id(b, rb);
		ida = booked_id(a, ra);
		ck_assert_uint_lt(ida, idb);
	}
	ck_assert_int_eq(h_stop(&H), 0);

	/* Every B was written while its A was in flight. */
	dfd = open(H.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(wal_scan_dir(dfd, 0, collect, &bk, &sc), 0);
	close(dfd);
	ck_assert_int_eq(sc.verdict, WAL_CLEAN);
	ck_assert_int_eq(bk.n, 2 * ROUNDS);
	for (int i = 0; i < ROUNDS; i++) {
		ck_assert_uint_lt(bk.lsn[2 * i], bk.lsn[2 * i + 1]);
		ck_assert_msg(bk.synced[2 * i + 1] < bk.lsn[2 * i],
			      "round %d: B (LSN %" PRIu64 ", synced %" PRIu64
			      ") did not overlap A (LSN %" PRIu64 ")",
			      i, bk.lsn[2 * i + 1], bk.synced[2 * i + 1],
			      bk.lsn[2 * i]);
	}
	close(a);
	close(b);
}
END_TEST

static void teardown(void)
{
	h_cleanup(&H);
}

static Suite *overlap_suite(void)
{
	Suite *s = suite_create("overlap");
	TCase *tc = tcase_create("order");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, replies_wait_for_earlier_groups);
	tcase_add_test(tc, lone_requests_synced_inline);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(overlap_suite());
}

/*
 * test_publish.c - what the shared pages and pushes show while a change is
 * on its way to the disk, against a real engine and the mmap reader.
 *
 *  - A booking that consumes its own hold: from the moment the hold is
 *    published until the booking is, a reader must see the slot held or
 *    booked, never free.  A reader thread reads the slot's page in a tight
 *    loop while the main thread holds and then books with that session.
 *    With the test build's slow fdatasync (--test-sync-delay-ms) the
 *    window of the old order (hold bits gone at once, booked bits only
 *    after the sync) is the whole delay, so one round shows it; the second
 *    case runs the ordinary engine with its real fdatasync, many rounds.
 *  - The "events" push: an admin subscriber hears of new events only once
 *    they are durable (its lsn is at most the durable LSN that "stats"
 *    reports right after, under a slow fdatasync), with the LSN to ask
 *    "events" from; a group without events pushes nothing; public callers
 *    cannot subscribe to it.
 *
 * Every wait is bounded (the harness's bounds, fixed round counts).
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bookd_reader.h"
#include "harness.h"
#include "quanta.h"
#include "suite_main.h"
#include "wire.h"

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

/* The reader thread watches one slot of one page. */
struct watch {
	bookd_reader *rd;
	uint32_t idx;
	int64_t day;
	_Atomic int slot; /* the slot watched, -1: none */
	_Atomic int stop;
	_Atomic long seen_free; /* reads that showed the slot free */
	_Atomic long reads;
};

static void *watcher(void *arg)
{
	struct watch *w = arg;

	while (!atomic_load(&w->stop)) {
		struct bookd_reader_day d;
		int slot = atomic_load(&w->slot);
		uint64_t bit;

		if (slot < 0 ||
		    bookd_reader_day(w->rd, w->idx, w->day, &d) != 0)
			continue;
		/* The slot may have moved on while we read. */
		if (slot != atomic_load(&w->slot))
			continue;
		bit = 1ull << (slot % 64);
		atomic_fetch_add(&w->reads, 1);
		if (!((d.held[slot / 64] | d.booked[slot / 64]) & bit))
			atomic_fetch_add(&w->seen_free, 1);
	}
	return NULL;
}

/* One call; the reply stays in U until the next call. */
#define CALL(fd, id, op, ...)                                                  \
	(msgpack_unpacked_destroy(&U), msgpack_unpacked_init(&U),              \
	 h_call(fd, &U, id, op, __VA_ARGS__))

/* rounds bookings, each consuming its own hold, while a reader watches. */
static void hold_then_book(int rounds)
{
	struct watch w = {0};
	pthread_t t;
	int64_t day0 = h_day(2);
	uint64_t id = 1;
	int fd;

	fd = h_connect_raw(&H);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(CALL(fd, id++, "resource.create", "{s:s}", "id", "r1"),
			 0);
	ck_assert_int_eq(bookd_reader_open(H.data, &w.rd), 0);
	ck_assert_int_eq(bookd_reader_resource(w.rd, "r1", &w.idx), 0);
	w.day = day0 / DAY_SECONDS;
	atomic_store(&w.slot, -1);
	ck_assert_int_eq(pthread_create(&t, NULL, watcher, &w), 0);
	for (int i = 0; i < rounds; i++) {
		int64_t s = day0 + (int64_t)(i % Q_PER_DAY) * Q_SECONDS;
		char session[32];

		snprintf(session, sizeof(session), "web-%d", i);
		ck_assert_int_eq(CALL(fd, id++, "hold", "{s:s s:I s:I s:s}",
				      "resource", "r1", "start", s, "end",
				      s + Q_SECONDS, "session", session),
				 0);
		/* The hold is on the pages: from now on the slot is taken. */
		atomic_store(&w.slot, i % Q_PER_DAY);
		ck_assert_int_eq(
		    CALL(fd, id++, "book", "{s:s s:I s:I s:s s:{s:s s:s}}",
			 "resource", "r1", "start", s, "end", s + Q_SECONDS,
			 "session", session, "booker", "name", "P", "email",
			 "p@example.com"),
		    0);
		/* Give the reader a look at the booked page too. */
		usleep(1000);
		atomic_store(&w.slot, -1);
	}
	atomic_store(&w.stop, 1);
	pthread_join(t, NULL);
	fprintf(stderr,
		"hold_then_book: %d rounds, %ld reads, %ld saw the "
		"slot free\n",
		rounds, atomic_load(&w.reads), atomic_load(&w.seen_free));
	ck_assert_int_gt(atomic_load(&w.reads), 0);
	ck_assert_int_eq(atomic_load(&w.seen_free), 0);
	bookd_reader_close(w.rd);
	close(fd);
}

START_TEST(consumed_hold_slow_sync)
{
	ck_assert_int_eq(h_use_test_build(), 0);
	ck_assert_int_eq(
	    h_start(&H, "--sync-mode plain --test-sync-delay-ms 30"), 0);
	hold_then_book(10);
}
END_TEST

START_TEST(consumed_hold_real_sync)
{
	ck_assert_int_eq(h_start(&H, NULL), 0);
	hold_then_book(60);
}
END_TEST

/* The value of key in map m as an unsigned integer (-1: absent). */
static int64_t get_u(const msgpack_object *m, const char *key)
{
	const msgpack_object *v = m ? wire_get(m, key) : NULL;
	return v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER
		   ? (int64_t)v->via.u64
		   : -1;
}

START_TEST(events_push_after_durable)
{
	int sub, other;
	uint64_t id = 1;
	int64_t sid, lsn, day0 = h_day(3);
	msgpack_unpacked p;

	/* A slow fdatasync, so a push sent before durability would be seen
	 * before the durable LSN moved. */
	ck_assert_int_eq(h_use_test_build(), 0);
	ck_assert_int_eq(
	    h_start(&H, "--sync-mode plain --test-sync-delay-ms 200"), 0);
	sub = h_connect_raw(&H);
	other = h_connect_raw(&H);
	ck_assert_int_ge(sub, 0);
	ck_assert_int_ge(other, 0);
	ck_assert_int_eq(CALL(sub, id++, "subscribe", "{s:s s:s}", "topic",
			      "events", "resource", "r1"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(
	    CALL(sub, id++, "subscribe", "{s:s}", "topic", "events"), 0);
	sid = get_u(h_result(&U), "sub");
	ck_assert_int_gt(sid, 0);
	/* A group without events pushes nothing. */
	ck_assert_int_eq(
	    CALL(other, id++, "resource.create", "{s:s}", "id", "r1"), 0);
	msgpack_unpacked_init(&p);
	ck_assert_int_eq(h_recv_frame(sub, &p, 300), -1);
	/* A booking does, once it is durable. */
	ck_assert_int_eq(
	    h_send_req(other, id++, "book", "{s:s s:I s:I s:{s:s s:s}}",
		       "resource", "r1", "start", day0, "end", day0 + Q_SECONDS,
		       "booker", "name", "E", "email", "e@example.com"),
	    0);
	ck_assert_int_eq(h_recv_frame(sub, &p, 5000), 1);
	ck_assert(wire_str_eq(wire_get(&p.data, "push"), "events"));
	ck_assert(wire_str_eq(wire_get(&p.data, "topic"), "events"));
	ck_assert_int_eq(get_u(&p.data, "sub"), sid);
	lsn = get_u(&p.data, "lsn");
	ck_assert_int_gt(lsn, 0);
	ck_assert_int_ge(CALL(sub, id++, "stats", NULL), 0);
	ck_assert_int_ge(get_u(h_result(&U), "durable_lsn"), lsn);
	/* The follower reads what the push announced. */
	ck_assert_int_eq(CALL(sub, id++, "events", "{s:I}", "after", lsn - 1),
			 0);
	ck_assert_int_eq(get_u(h_result(&U), "next"), lsn);
	msgpack_unpacked_destroy(&p);
	close(sub);
	close(other);
}
END_TEST

START_TEST(events_admin_only)
{
	int fd;
	uint64_t id = 1;

	ck_assert_int_eq(h_start(&H, NULL), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(CALL(fd, id++, "hello", "{s:s}", "role", "public"), 0);
	ck_assert_int_eq(
	    CALL(fd, id++, "subscribe", "{s:s}", "topic", "events"),
	    BOOKD_E_FORBIDDEN);
	ck_assert_int_eq(CALL(fd, id++, "subscribe", "{s:s}", "topic", "slots"),
			 BOOKD_E_BAD_REQUEST);
	close(fd);
}
END_TEST

Suite *publish_suite(void);
Suite *publish_suite(void)
{
	Suite *s = suite_create("publish");
	TCase *tc = tcase_create("consumed_hold");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, consumed_hold_slow_sync);
	tcase_add_test(tc, consumed_hold_real_sync);
	suite_add_tcase(s, tc);
	tc = tcase_create("events");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, events_push_after_durable);
	tcase_add_test(tc, events_admin_only);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(publish_suite());
}

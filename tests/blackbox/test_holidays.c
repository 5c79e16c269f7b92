/*
 * test_holidays.c - holiday calendars against a real engine: a calendar
 * included by a shared schedule that two resources use closes (or
 * shortens) its dates for both, seen through slots.day, check and the
 * memory-mapped reader; a calendar change pushes `slots` to subscribers;
 * a clean restart (snapshot) and a kill -9 (log replay) keep it, and
 * bookd-replay reads its records; deleting it is refused while a schedule
 * includes it; unknown calendars, hostile sizes and the calendar limit are
 * refused with errors naming what is wrong.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suite_main.h"
#include "bookd_reader.h"
#include "harness.h"
#include "wire.h"

static struct h_case C;

static void setup(void)
{
	h_case_start(&C, "");
}

static void teardown(void)
{
	h_case_end(&C);
}

#define CALL(fd, op, ...) h_case_call(&C, fd, NULL, op, __VA_ARGS__)

static const msgpack_object *res(void)
{
	return h_result(&C.r);
}

/* Whether the last error's message contains needle. */
static bool errmsg_has(const char *needle)
{
	const msgpack_object *o = wire_get(h_error(&C.r), "message");

	return o && o->type == MSGPACK_OBJECT_STR &&
	       memmem(o->via.str.ptr, o->via.str.size, needle,
		      strlen(needle)) != NULL;
}

static int64_t res_int(const char *key)
{
	int64_t v = -1;

	ck_assert(wire_int(wire_get(res(), key), &v));
	return v;
}

/* The shared schedule: 09:00-17:00 UTC every day, including calendar cal
 * (NULL: none). */
static int put_hours(int fd, const char *cal)
{
	const char *fmt =
	    cal ? "{s:s s:s s:[{s:i s:s s:s} {s:i s:s s:s} {s:i s:s s:s} "
		  "{s:i s:s s:s} {s:i s:s s:s} {s:i s:s s:s} {s:i s:s s:s}] "
		  "s:[s]}"
		: "{s:s s:s s:[{s:i s:s s:s} {s:i s:s s:s} {s:i s:s s:s} "
		  "{s:i s:s s:s} {s:i s:s s:s} {s:i s:s s:s} {s:i s:s s:s}]}";
	const char *a = "09:00", *b = "17:00";

	return CALL(fd, "schedule.put", fmt, "id", "studio-hours", "timezone",
		    "UTC", "weekly", "day", 1, "start", a, "end", b, "day", 2,
		    "start", a, "end", b, "day", 3, "start", a, "end", b, "day",
		    4, "start", a, "end", b, "day", 5, "start", a, "end", b,
		    "day", 6, "start", a, "end", b, "day", 7, "start", a, "end",
		    b, "holidays", cal);
}

/* The calendar: date1 closed, date2 open only in [from, to). */
static int put_cal(int fd, const char *date1, const char *date2,
		   const char *from, const char *to)
{
	return CALL(fd, "holidays.put",
		    "{s:s s:s s:[{s:s} {s:s s:[{s:s s:s}]}]}", "id", "de-be",
		    "name", "Berlin holidays", "dates", "date", date1, "date",
		    date2, "windows", "start", from, "end", to);
}

/* The starts of one-hour slots of a resource's day: their number, the
 * first into *first (-1 without any). */
static int slots(int fd, const char *r, const char *date, int64_t *first)
{
	const msgpack_object *a;

	ck_assert_int_eq(CALL(fd, "slots.day", "{s:s s:s s:i}", "resource", r,
			      "date", date, "duration", 60),
			 0);
	a = wire_get(res(), "slots");
	ck_assert_ptr_nonnull(a);
	*first = -1;
	if (a->via.array.size)
		ck_assert(wire_int(&a->via.array.ptr[0], first));
	return (int)a->via.array.size;
}

static void expect_slots(int fd, const char *r, const char *date, int n,
			 int64_t first)
{
	int64_t got;

	ck_assert_int_eq(slots(fd, r, date, &got), n);
	ck_assert_int_eq(got, first);
}

/* check {resource, start, end}: free, or the reason it is not. */
static void expect_check(int fd, const char *r, int64_t s, int64_t e,
			 const char *reason)
{
	ck_assert_int_eq(CALL(fd, "check", "{s:s s:I s:I}", "resource", r,
			      "start", s, "end", e),
			 0);
	ck_assert(wire_get(res(), "free")->via.boolean == (reason == NULL));
	if (reason)
		ck_assert(wire_str_eq(wire_get(res(), "reason"), reason));
}

/* The same through the memory-mapped pages. */
static void expect_reader(const char *r, int64_t s, int64_t e, bool free_)
{
	bookd_reader *rd = NULL;
	enum bookd_reason why;
	uint32_t idx;
	int fr = -1;

	ck_assert_int_eq(bookd_reader_open(C.h.data, &rd), 0);
	ck_assert_int_eq(bookd_reader_resource(rd, r, &idx), 0);
	ck_assert_int_eq(bookd_reader_check(rd, idx, s, e, NULL, &fr, &why), 0);
	ck_assert_int_eq(fr, free_);
	if (!free_)
		ck_assert_int_eq(why, BOOKD_REASON_CLOSED);
	bookd_reader_close(rd);
}

/* Count the slots pushes on w up to the answer of a ping. */
static int slots_pushes(int w)
{
	msgpack_unpacked u;
	int n = 0;

	ck_assert_int_eq(h_send_req(w, 999, "ping", NULL), 0);
	msgpack_unpacked_init(&u);
	for (;;) {
		ck_assert_int_eq(h_recv_frame(w, &u, 10000), 1);
		if (wire_get(&u.data, "push") == NULL)
			break;
		n += wire_str_eq(wire_get(&u.data, "topic"), "slots");
	}
	msgpack_unpacked_destroy(&u);
	return n;
}

/* Run $BOOKD_REPLAY_BIN cmd on the data directory; its exit status, with
 * its output in out. */
static int replay_tool(const char *cmd, char *out, size_t cap)
{
	const char *bin = getenv("BOOKD_REPLAY_BIN");
	const char *argv[] = {bin, cmd, C.h.data, NULL};
	char err[4096];
	int st;

	ck_assert_msg(bin && *bin, "BOOKD_REPLAY_BIN is not set");
	st = h_run_capture(argv, 30000, out, cap, err, sizeof(err));
	fprintf(stderr, "bookd-replay %s: exit %d\n%s", cmd, st, err);
	return st;
}

START_TEST(calendar_in_shared_schedule)
{
	static char out[1 << 16];
	int fd = h_case_conn(&C), w[2];
	int64_t d = h_day(10), d2 = d + 86400, d3 = d + 2 * 86400;
	const char *ids[2] = {"ha", "hb"};
	char date[11], date2[11], date3[11];

	h_date(d, date);
	h_date(d2, date2);
	h_date(d3, date3);
	/* Unknown calendars are refused by name, in shared and own
	 * schedules alike. */
	ck_assert_int_eq(put_hours(fd, "de-be"), BOOKD_E_NOT_FOUND);
	ck_assert(errmsg_has("holidays[0]: no holiday calendar 'de-be'"));
	ck_assert_int_eq(put_cal(fd, date, date2, "10:00", "12:00"), 0);
	ck_assert_int_eq(res_int("republished"), 0);
	ck_assert_int_eq(put_hours(fd, "de-be"), 0);
	ck_assert_int_eq(wire_get(res(), "holidays")->via.array.size, 1);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(CALL(fd, "resource.create", "{s:s s:s}", "id",
				      ids[i], "schedule", "studio-hours"),
				 0);
	/* Closed on date, 10:00-12:00 on date2, the weekly hours after. */
	for (int i = 0; i < 2; i++) {
		expect_slots(fd, ids[i], date, 0, -1);
		expect_slots(fd, ids[i], date2, 2, d2 + 10 * 3600);
		expect_slots(fd, ids[i], date3, 8, d3 + 9 * 3600);
		expect_check(fd, ids[i], d + 10 * 3600, d + 11 * 3600,
			     "closed");
		expect_check(fd, ids[i], d3 + 10 * 3600, d3 + 11 * 3600, NULL);
		expect_reader(ids[i], d + 10 * 3600, d + 11 * 3600, false);
		expect_reader(ids[i], d2 + 9 * 3600, d2 + 10 * 3600, false);
		expect_reader(ids[i], d2 + 10 * 3600, d2 + 11 * 3600, true);
		w[i] = h_case_conn(&C);
		ck_assert_int_eq(CALL(w[i], "subscribe", "{s:s s:s s:s s:s}",
				      "topic", "slots", "resource", ids[i],
				      "from", date, "to", date),
				 0);
	}
	/* A calendar change republishes both and pushes their watchers. */
	ck_assert_int_eq(put_cal(fd, date2, date, "13:00", "14:00"), 0);
	ck_assert_int_eq(res_int("republished"), 2);
	ck_assert_int_eq(res_int("used_by"), 1);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_ge(slots_pushes(w[i]), 1);
		close(w[i]);
		expect_slots(fd, ids[i], date, 1, d + 13 * 3600);
		expect_slots(fd, ids[i], date2, 0, -1);
		expect_reader(ids[i], d + 13 * 3600, d + 14 * 3600, true);
		expect_reader(ids[i], d + 10 * 3600, d + 11 * 3600, false);
	}
	ck_assert_int_eq(CALL(fd, "holidays.get", "{s:s}", "id", "de-be"), 0);
	ck_assert(wire_str_eq(wire_get(res(), "name"), "Berlin holidays"));
	ck_assert_int_eq(wire_get(res(), "dates")->via.array.size, 2);
	ck_assert_int_eq(CALL(fd, "holidays.list", NULL), 0);
	ck_assert_int_eq(res()->via.array.size, 1);
	/* In use: deleting it is refused, saying by how many. */
	ck_assert_int_eq(CALL(fd, "holidays.delete", "{s:s}", "id", "de-be"),
			 BOOKD_E_INVALID_STATE);
	ck_assert(errmsg_has("used by 1 schedule"));
	close(fd);

	/* A clean stop writes a snapshot: the calendar comes back from it. */
	ck_assert_int_eq(h_stop(&C.h), 0);
	ck_assert_int_eq(h_restart(&C.h, ""), 0);
	fd = h_case_conn(&C);
	for (int i = 0; i < 2; i++)
		expect_slots(fd, ids[i], date, 1, d + 13 * 3600);
	ck_assert_int_eq(CALL(fd, "holidays.get", "{s:s}", "id", "de-be"), 0);
	ck_assert_int_eq(res_int("used_by"), 1);
	/* A change after the snapshot, then kill -9: the log replays it. */
	ck_assert_int_eq(put_cal(fd, date3, date2, "15:00", "16:00"), 0);
	close(fd);
	h_kill9(&C.h);
	ck_assert_int_eq(replay_tool("dump", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "holidays    de-be 2 dates"));
	ck_assert_int_eq(replay_tool("verify", out, sizeof(out)), 0);
	ck_assert_int_eq(h_restart(&C.h, ""), 0);
	fd = h_case_conn(&C);
	for (int i = 0; i < 2; i++) {
		expect_slots(fd, ids[i], date, 8, d + 9 * 3600);
		expect_slots(fd, ids[i], date2, 1, d2 + 15 * 3600);
		expect_slots(fd, ids[i], date3, 0, -1);
		expect_reader(ids[i], d3 + 9 * 3600, d3 + 10 * 3600, false);
	}
	/* Once no schedule includes it, it can go, for good. */
	ck_assert_int_eq(put_hours(fd, NULL), 0);
	ck_assert_int_eq(CALL(fd, "holidays.delete", "{s:s}", "id", "de-be"),
			 0);
	ck_assert_int_eq(CALL(fd, "holidays.get", "{s:s}", "id", "de-be"),
			 BOOKD_E_NOT_FOUND);
	close(fd);
	h_kill9(&C.h);
	ck_assert_int_eq(h_restart(&C.h, ""), 0);
	fd = h_case_conn(&C);
	ck_assert_int_eq(CALL(fd, "holidays.get", "{s:s}", "id", "de-be"),
			 BOOKD_E_NOT_FOUND);
	expect_slots(fd, "ha", date3, 8, d3 + 9 * 3600);
	close(fd);
}
END_TEST

START_TEST(own_schedules_and_bounds)
{
	int fd = h_case_conn(&C);
	int64_t d = h_day(5);
	char date[11], id[32];

	h_date(d, date);
	ck_assert_int_eq(CALL(fd, "holidays.put", "{s:s s:[{s:s}]}", "id",
			      "Bad Id", "dates", "date", date),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL(fd, "holidays.put", "{s:s s:[{s:s}]}", "id", "x",
			      "dates", "date", "2027-02-30"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert(errmsg_has("dates[0].date"));
	ck_assert_int_eq(CALL(fd, "holidays.put", "{s:s s:[{s:s} {s:s}]}", "id",
			      "x", "dates", "date", date, "date", date),
			 BOOKD_E_BAD_REQUEST);
	ck_assert(errmsg_has("same date as dates[0]"));
	ck_assert_int_eq(CALL(fd, "holidays.put", "{s:s s:[{s:s}]}", "id",
			      "closed", "dates", "date", date),
			 0);
	/* A resource's own schedule includes it (a schedule map). */
	ck_assert_int_eq(
	    CALL(fd, "resource.create", "{s:s s:{s:s s:[{s:i s:s s:s}] s:[s]}}",
		 "id", "own", "schedule", "timezone", "UTC", "weekly", "day", 1,
		 "start", "09:00", "end", "10:00", "holidays", "nope"),
	    BOOKD_E_NOT_FOUND);
	ck_assert(errmsg_has("no holiday calendar 'nope'"));
	ck_assert_int_eq(
	    CALL(fd, "resource.create", "{s:s s:{s:s s:[{s:i s:s s:s}] s:[s]}}",
		 "id", "own", "schedule", "timezone", "UTC", "weekly", "day", 1,
		 "start", "00:00", "end", "24:00", "holidays", "closed"),
	    0);
	ck_assert_int_eq(CALL(fd, "schedule.get", "{s:s}", "id", "own"), 0);
	ck_assert_int_eq(wire_get(res(), "holidays")->via.array.size, 1);
	/* The resolved copy stays inside the engine. */
	ck_assert_ptr_null(wire_get(res(), "holiday_days"));
	ck_assert_int_eq(CALL(fd, "resource.get", "{s:s}", "id", "own"), 0);
	ck_assert_ptr_null(
	    wire_get(wire_get(res(), "schedule"), "holiday_days"));
	ck_assert_int_eq(CALL(fd, "holidays.delete", "{s:s}", "id", "closed"),
			 BOOKD_E_INVALID_STATE);
	ck_assert(errmsg_has("used by 1 schedule"));
	ck_assert_int_eq(
	    CALL(fd, "resource.update", "{s:s s:n}", "id", "own", "schedule"),
	    0);
	ck_assert_int_eq(CALL(fd, "holidays.delete", "{s:s}", "id", "closed"),
			 0);
	/* How many calendars there can be. */
	for (int i = 0; i < 256; i++) {
		snprintf(id, sizeof(id), "cal-%d", i);
		ck_assert_int_eq(
		    CALL(fd, "holidays.put", "{s:s s:[]}", "id", id, "dates"),
		    0);
	}
	ck_assert_int_eq(
	    CALL(fd, "holidays.put", "{s:s s:[]}", "id", "one-more", "dates"),
	    BOOKD_E_LIMIT);
	ck_assert(errmsg_has("at most 256"));
	/* Replacing one is still allowed at the limit. */
	ck_assert_int_eq(CALL(fd, "holidays.put", "{s:s s:[{s:s}]}", "id",
			      "cal-0", "dates", "date", date),
			 0);
	close(fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("holidays");
	TCase *tc = tcase_create("holidays");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, calendar_in_shared_schedule);
	tcase_add_test(tc, own_schedules_and_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

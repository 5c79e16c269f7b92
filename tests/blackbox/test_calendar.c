/*
 * test_calendar.c - calendar semantics against a real engine: schedules in
 * local time across DST switches, zones far from UTC, event types with
 * lengths, buffers, notice and window, pools racing, add-ons, and a
 * property test comparing slots.day with a brute-force computation.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "suite_main.h"
#include "harness.h"
#include "quanta.h"
#include "schedule.h"
#include "tz.h"
#include "wire.h"

static struct h_case C;

static void setup(void)
{
	h_case_start(&C, "--horizon-days 1100");
}

static void teardown(void)
{
	h_case_end(&C);
}

#define CALL(fd, op, ...) h_case_call(&C, fd, NULL, op, __VA_ARGS__)

static int conn(void)
{
	return h_case_conn(&C);
}

static const msgpack_object *res(void)
{
	return h_result(&C.r);
}

/* The last error's message. */
static const char *errmsg(void)
{
	static char buf[256];

	if (wire_cstr(wire_get(h_error(&C.r), "message"), buf, sizeof buf) < 0)
		buf[0] = 0;
	return buf;
}

/* A 7-day schedule of one window a day. */
static int put_weekly(int fd, const char *id, const char *zone,
		      const char *start, const char *end)
{
	return CALL(fd, "schedule.put",
		    "{s:s s:s s:[{s:i s:s s:s} {s:i s:s s:s} {s:i s:s s:s} "
		    "{s:i s:s s:s} {s:i s:s s:s} {s:i s:s s:s} {s:i s:s s:s}]}",
		    "id", id, "timezone", zone, "weekly", "day", 1, "start",
		    start, "end", end, "day", 2, "start", start, "end", end,
		    "day", 3, "start", start, "end", end, "day", 4, "start",
		    start, "end", end, "day", 5, "start", start, "end", end,
		    "day", 6, "start", start, "end", end, "day", 7, "start",
		    start, "end", end);
}

/* slots.day starts into out; returns their number. */
static int slots(int fd, const char *resource, const char *date, int dur,
		 const char *zone, int64_t *out, int max)
{
	const msgpack_object *a;
	int rc;

	if (zone)
		rc = CALL(fd, "slots.day", "{s:s s:s s:i s:s}", "resource",
			  resource, "date", date, "duration", dur, "tz", zone);
	else
		rc = CALL(fd, "slots.day", "{s:s s:s s:i}", "resource",
			  resource, "date", date, "duration", dur);
	ck_assert_int_eq(rc, 0);
	a = wire_get(res(), "slots");
	ck_assert_ptr_nonnull(a);
	for (uint32_t i = 0; i < a->via.array.size && (int)i < max; i++)
		ck_assert(wire_int(&a->via.array.ptr[i], &out[i]));
	return (int)a->via.array.size;
}

/* Local wall time of t in zone, as "HH:MM". */
static void local_hm(const char *zone, int64_t t, char buf[6])
{
	const struct tz *z;
	int64_t loc;

	ck_assert_int_eq(tz_get(zone, &z), 0);
	loc = t + tz_offset_at(z, t);
	loc = ((loc % 86400) + 86400) % 86400;
	snprintf(buf, 6, "%02d:%02d", (int)(loc / 3600),
		 (int)(loc % 3600 / 60));
}

/* A year within the window whose DST days we test: next year. */
static int test_year(void)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	return tm.tm_year + 1900 + 1;
}

/* The date (day of month) of the last Sunday of a month. */
static int last_sunday(int y, int m)
{
	int64_t d = q_days_from_civil(y, (unsigned)m + 1, 1) - 1;
	while (q_weekday(d) != 7)
		d--;
	return (int)(d - q_days_from_civil(y, (unsigned)m, 1) + 1);
}

/* The nth Sunday of a month. */
static int nth_sunday(int y, int m, int n)
{
	int64_t d = q_days_from_civil(y, (unsigned)m, 1);
	while (q_weekday(d) != 7)
		d++;
	return (int)(d - q_days_from_civil(y, (unsigned)m, 1) + 1 +
		     7 * (n - 1));
}

static void check_dst_day(int fd, const char *resource, const char *zone, int y,
			  int m, int d, int want_quarters)
{
	char date[11];
	int64_t st[128];
	int n;

	snprintf(date, sizeof(date), "%04d-%02d-%02d", y, m, d);
	/* Around the clock: one start per quarter of the local day. */
	n = slots(fd, "open", date, 15, zone, st, 128);
	ck_assert_int_eq(n, want_quarters);
	/* A 09:00-17:00 schedule stays at 09:00 local on either side. */
	n = slots(fd, resource, date, 60, NULL, st, 128);
	ck_assert_int_eq(n, 8);
	{
		char hm[6];
		local_hm(zone, st[0], hm);
		ck_assert_str_eq(hm, "09:00");
		local_hm(zone, st[7], hm);
		ck_assert_str_eq(hm, "16:00");
	}
}

START_TEST(dst_berlin_new_york)
{
	int fd = conn(), y = test_year();

	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "open"), 0);
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s s:s}", "id", "ber",
			      "timezone", "Europe/Berlin"),
			 0);
	ck_assert_int_eq(
	    put_weekly(fd, "ber", "Europe/Berlin", "09:00", "17:00"), 0);
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s s:s}", "id", "nyc",
			      "timezone", "America/New_York"),
			 0);
	ck_assert_int_eq(
	    put_weekly(fd, "nyc", "America/New_York", "09:00", "17:00"), 0);
	check_dst_day(fd, "ber", "Europe/Berlin", y, 3, last_sunday(y, 3), 92);
	check_dst_day(fd, "ber", "Europe/Berlin", y, 10, last_sunday(y, 10),
		      100);
	check_dst_day(fd, "ber", "Europe/Berlin", y, 6, 15, 96);
	check_dst_day(fd, "nyc", "America/New_York", y, 3, nth_sunday(y, 3, 2),
		      92);
	check_dst_day(fd, "nyc", "America/New_York", y, 11,
		      nth_sunday(y, 11, 1), 100);
	/* A booking across the spring switch: Saturday 22:00 to Sunday
	 * 04:00 local is 5 hours long and occupies exactly that. */
	{
		const struct tz *z;
		int64_t day =
		    q_days_from_civil(y, 3, (unsigned)last_sunday(y, 3));
		int64_t s, e;
		ck_assert_int_eq(tz_get("Europe/Berlin", &z), 0);
		s = tz_local_to_utc(z, day - 1, 22 * 3600);
		e = tz_local_to_utc(z, day, 4 * 3600);
		ck_assert_int_eq(e - s, 5 * 3600);
		ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s}}",
				      "resource", "open", "start", s, "end", e,
				      "booker", "name", "n", "email", "n@x"),
				 0);
		ck_assert_int_eq(CALL(fd, "check", "{s:s s:I s:I}", "resource",
				      "open", "start", e - 900, "end", e),
				 0);
		ck_assert(!wire_get(res(), "free")->via.boolean);
		ck_assert_int_eq(CALL(fd, "check", "{s:s s:I s:I}", "resource",
				      "open", "start", e, "end", e + 900),
				 0);
		ck_assert(wire_get(res(), "free")->via.boolean);
	}
	close(fd);
}
END_TEST

START_TEST(zones_far_from_utc)
{
	int fd = conn(), y = test_year();
	int64_t st[128];
	char date[11], hm[6];
	int n;
	static const char *zones[] = {"Pacific/Auckland", "Pacific/Kiritimati",
				      "America/St_Johns"};

	for (int i = 0; i < 3; i++) {
		char id[16];
		int64_t day = q_days_from_civil(y, 7, 6); /* some Monday-ish */
		snprintf(id, sizeof(id), "z%d", i);
		ck_assert_int_eq(CALL(fd, "resource.create", "{s:s s:s}", "id",
				      id, "timezone", zones[i]),
				 0);
		/* Open only on Mondays, 10:00-12:00 local. */
		ck_assert_int_eq(CALL(fd, "schedule.put",
				      "{s:s s:s s:[{s:i s:s s:s}]}", "id", id,
				      "timezone", zones[i], "weekly", "day", 1,
				      "start", "10:00", "end", "12:00"),
				 0);
		while (q_weekday(day) != 1)
			day++;
		q_format_date(day, date);
		n = slots(fd, id, date, 30, NULL, st, 128);
		ck_assert_int_eq(n, 4);
		local_hm(zones[i], st[0], hm);
		ck_assert_str_eq(hm, "10:00");
		/* The local Monday's starts fall on a Monday locally even when
		 * UTC says Sunday (Auckland, Kiritimati). */
		{
			const struct tz *z;
			ck_assert_int_eq(tz_get(zones[i], &z), 0);
			ck_assert_int_eq(q_weekday(tz_local_day_of(z, st[0])),
					 1);
		}
		q_format_date(day + 1, date);
		ck_assert_int_eq(slots(fd, id, date, 30, NULL, st, 128), 0);
	}
	/* St John's is UTC-3:30 or -2:30: 10:00 local is at :30 UTC. */
	q_format_date(q_days_from_civil(y, 1, 1), date);
	ck_assert_int_eq(CALL(fd, "slots.day", "{s:s s:s s:i s:s}", "resource",
			      "z2", "date", date, "duration", 30, "tz",
			      "Mars/Olympus"),
			 BOOKD_E_BAD_REQUEST);
	close(fd);
}
END_TEST

START_TEST(overrides_and_closed)
{
	int fd = conn();
	int64_t d = h_day(10), st[128];
	char date[11], date2[11];
	int n;

	h_date(d, date);
	h_date(d + 86400, date2);
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "r"), 0);
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s}}",
			      "resource", "r", "start", d + 20 * 3600, "end",
			      d + 21 * 3600, "booker", "name", "n", "email",
			      "n@x"),
			 0);
	/* Closing the hours of a booking is allowed and reported. */
	ck_assert_int_eq(
	    CALL(fd, "schedule.put",
		 "{s:s s:s s:[{s:i s:s s:s} {s:i s:s s:s} "
		 "{s:i s:s s:s} {s:i s:s s:s} {s:i s:s s:s} "
		 "{s:i s:s s:s} {s:i s:s s:s}] "
		 "s:[{s:s s:[]} {s:s s:[{s:s s:s}]}]}",
		 "id", "r", "timezone", "UTC", "weekly", "day", 1, "start",
		 "08:00", "end", "12:00", "day", 2, "start", "08:00", "end",
		 "12:00", "day", 3, "start", "08:00", "end", "12:00", "day", 4,
		 "start", "08:00", "end", "12:00", "day", 5, "start", "08:00",
		 "end", "12:00", "day", 6, "start", "08:00", "end", "12:00",
		 "day", 7, "start", "08:00", "end", "12:00", "overrides",
		 "date", date, "windows", "date", date2, "windows", "start",
		 "22:00", "end", "24:00"),
	    0);
	ck_assert_int_eq(wire_get(res(), "booked_slots_closed")->via.u64, 4);
	ck_assert_int_eq(slots(fd, "r", date, 60, NULL, st, 128), 0);
	n = slots(fd, "r", date2, 60, NULL, st, 128);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(st[0], d + 86400 + 22 * 3600);
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s}}",
			      "resource", "r", "start", d + 9 * 3600, "end",
			      d + 10 * 3600, "booker", "name", "n", "email",
			      "n@x"),
			 BOOKD_E_CLOSED);
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource", "r",
			      "start", d + 9 * 3600, "end", d + 10 * 3600,
			      "session", "s"),
			 BOOKD_E_CLOSED);
	ck_assert_int_eq(CALL(fd, "check", "{s:s s:I s:I}", "resource", "r",
			      "start", d + 9 * 3600, "end", d + 10 * 3600),
			 0);
	ck_assert(wire_str_eq(wire_get(res(), "reason"), "closed"));
	/* The booking survived, and a bad schedule names its field. */
	ck_assert_int_eq(CALL(fd, "booking.get", "{s:I}", "id", (int64_t)1), 0);
	ck_assert(wire_str_eq(wire_get(res(), "status"), "confirmed"));
	ck_assert_int_eq(CALL(fd, "schedule.put", "{s:s s:s s:[{s:i s:s s:s}]}",
			      "id", "r", "timezone", "UTC", "weekly", "day", 8,
			      "start", "08:00", "end", "12:00"),
			 BOOKD_E_BAD_REQUEST);
	close(fd);
}
END_TEST

START_TEST(event_types)
{
	int fd = conn();
	int64_t d = h_day(5), now = time(NULL);
	int64_t soon = (now / 900 + 2) * 900; /* 15-30 minutes ahead */

	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "a"), 0);
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "b"), 0);
	ck_assert_int_eq(
	    CALL(fd, "event_type.put",
		 "{s:s s:s s:[i,i] s:[s] s:i s:i s:i s:i s:b}", "id", "session",
		 "title", "Session", "lengths", 60, 120, "resources", "a",
		 "buffer_before", 15, "buffer_after", 30, "min_notice", 60,
		 "max_future", 60 * 24 * 30, "requires_confirmation", 1),
	    0);
#define BOOK_ET(res, s, e)                                                     \
	CALL(fd, "book", "{s:s s:s s:I s:I s:{s:s s:s}}", "resource", res,     \
	     "event_type", "session", "start", (int64_t)(s), "end",            \
	     (int64_t)(e), "booker", "name", "n", "email", "n@x")
	ck_assert_int_eq(BOOK_ET("b", d + 10 * 3600, d + 11 * 3600),
			 BOOKD_E_BAD_REQUEST); /* not linked */
	ck_assert_int_eq(BOOK_ET("a", d + 10 * 3600, d + 10 * 3600 + 2700),
			 BOOKD_E_BAD_REQUEST); /* 45 is not a length */
	ck_assert_int_eq(BOOK_ET("a", soon, soon + 3600),
			 BOOKD_E_OUT_OF_RANGE); /* notice */
	/* The refusal names the field and says from when it is bookable:
	 * the first quarter an hour from now. */
	{
		int64_t first = ((now + 3600 - 1) / 900 + 1) * 900;
		char want[96], got[200], date[11];

		ck_assert(
		    wire_str_eq(wire_get(h_error(&C.r), "field"), "start"));
		ck_assert_int_eq(wire_cstr(wire_get(h_error(&C.r), "message"),
					   got, sizeof got),
				 0);
		h_date(first, date);
		snprintf(want, sizeof want,
			 "start: 'session' needs at least 1 h notice: bookable "
			 "from %s %02d:%02d UTC",
			 date, (int)(first % 86400 / 3600),
			 (int)(first % 3600 / 60));
		/* A second may pass between the two clocks. */
		ck_assert_msg(strncmp(got, want, strlen(want) - 9) == 0, "%s",
			      got);
	}
	ck_assert_int_eq(BOOK_ET("a", d + 40 * 86400, d + 40 * 86400 + 3600),
			 BOOKD_E_OUT_OF_RANGE); /* window */
	ck_assert(wire_str_eq(wire_get(h_error(&C.r), "field"), "start"));
	ck_assert_msg(
	    strstr(errmsg(), "books at most 30 d ahead: bookable until "), "%s",
	    errmsg());
	/* A date past the engine's window says what the window is. */
	{
		char far[11];

		h_date(d + 1200 * 86400, far);
		ck_assert_int_eq(CALL(fd, "slots.day", "{s:s s:s s:i}",
				      "resource", "a", "date", far, "duration",
				      60),
				 BOOKD_E_OUT_OF_RANGE);
		ck_assert(
		    wire_str_eq(wire_get(h_error(&C.r), "field"), "date"));
		ck_assert_msg(strstr(errmsg(), "date: outside the bookable "
					       "window: bookable from "),
			      "%s", errmsg());
	}
	ck_assert_int_eq(BOOK_ET("a", d + 10 * 3600, d + 11 * 3600), 0);
	ck_assert(wire_str_eq(wire_get(res(), "status"), "pending"));
	/* Buffers stack: the next booking must leave 30 + 15 minutes. */
	ck_assert_int_eq(
	    BOOK_ET("a", d + 11 * 3600 + 1800, d + 12 * 3600 + 1800),
	    BOOKD_E_CONFLICT);
	ck_assert_int_eq(
	    BOOK_ET("a", d + 11 * 3600 + 2700, d + 12 * 3600 + 2700), 0);
	/* A plain booking may not take the buffer either. */
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s}}",
			      "resource", "a", "start", d + 11 * 3600, "end",
			      d + 11 * 3600 + 900, "booker", "name", "n",
			      "email", "n@x"),
			 BOOKD_E_CONFLICT);
	/* Declining frees the span and its buffers. */
	ck_assert_int_eq(CALL(fd, "booking.transition", "{s:I s:s}", "id",
			      (int64_t)1, "to", "declined"),
			 0);
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s}}",
			      "resource", "a", "start", d + 11 * 3600, "end",
			      d + 11 * 3600 + 900, "booker", "name", "n",
			      "email", "n@x"),
			 0);
	/* slots.day with the event type: buffers and default interval. */
	{
		char date[11];
		h_date(d, date);
		ck_assert_int_eq(CALL(fd, "slots.day", "{s:s s:s s:i s:s}",
				      "resource", "a", "date", date, "duration",
				      60, "event_type", "session"),
				 0);
		ck_assert_int_gt(wire_get(res(), "slots")->via.array.size, 0);
		ck_assert_int_eq(CALL(fd, "slots.day", "{s:s s:s s:i s:s}",
				      "resource", "a", "date", date, "duration",
				      45, "event_type", "session"),
				 BOOKD_E_BAD_REQUEST);
	}
	ck_assert_int_eq(CALL(fd, "event_type.list", NULL), 0);
	ck_assert_int_eq(res()->via.array.size, 1);
	close(fd);
}
END_TEST

/* Pools racing: many clients taking units; the counts end equal to the
 * sum of booked units and never above the quantity. */
#define POOL_RACERS 8
START_TEST(pool_race)
{
	int fd = conn();
	int64_t d = h_day(7);
	pid_t pids[POOL_RACERS];
	int64_t units = 0;

	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s s:i}", "id", "mics",
			      "quantity", 5),
			 0);
	for (int i = 0; i < POOL_RACERS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			int c = h_connect_raw(&C.h);
			for (int k = 0; k < 10; k++) {
				int q = 1 + (i + k) % 3;
				int64_t s =
				    d + (int64_t)((i * 3 + k) % 6) * 900;
				CALL(c, "book",
				     "{s:[{s:s s:i}] s:I s:I s:{s:s s:s}}",
				     "resources", "id", "mics", "quantity", q,
				     "start", s, "end", s + 1800, "booker",
				     "name", "p", "email", "p@x");
			}
			_exit(0);
		}
	}
	for (int i = 0; i < POOL_RACERS; i++) {
		int status;
		waitpid(pids[i], &status, 0);
		ck_assert(WIFEXITED(status));
	}
	/* Per quarter: the sum of units of bookings covering it <= 5, and
	 * check says "booked" exactly when it is 5. */
	ck_assert_int_eq(CALL(fd, "booking.list", "{s:s s:i}", "resource",
			      "mics", "limit", 1000),
			 0);
	{
		const msgpack_object *bl = wire_get(res(), "bookings");
		int64_t per[8] = {0};
		for (uint32_t i = 0; i < bl->via.array.size; i++) {
			const msgpack_object *b = &bl->via.array.ptr[i];
			int64_t s, e, q;
			ck_assert(wire_int(wire_get(b, "start"), &s));
			ck_assert(wire_int(wire_get(b, "end"), &e));
			ck_assert(wire_int(
			    wire_get(&wire_get(b, "items")->via.array.ptr[0],
				     "quantity"),
			    &q));
			units += q;
			for (int64_t t = s; t < e; t += 900)
				per[(t - d) / 900] += q;
		}
		ck_assert_int_gt(units, 0);
		for (int k = 0; k < 8; k++) {
			ck_assert_int_le(per[k], 5);
			ck_assert_int_eq(CALL(fd, "check", "{s:s s:I s:I}",
					      "resource", "mics", "start",
					      d + k * 900, "end",
					      d + k * 900 + 900),
					 0);
			ck_assert_int_eq(!wire_get(res(), "free")->via.boolean,
					 per[k] == 5);
		}
	}
	close(fd);
}
END_TEST

/*
 * Property: random schedules, bookings, cancels and holds; every
 * slots.day answer equals a brute-force computation from the bookings
 * (booking.list) and the schedule's local windows.
 */
struct bk {
	int64_t s, e;
	bool live;
};

static bool brute_free(const struct sched *sc, const struct bk *b, int nb,
		       int64_t t, int64_t dur)
{
	/* Every quarter of the span must lie in an open window of the
	 * local day it falls in. */
	for (int64_t q = t; q < t + dur; q += 900) {
		int64_t st[SCHED_DAY_MAX], en[SCHED_DAY_MAX];
		const struct tz *z = sched_tz(sc);
		int64_t ld = tz_local_day_of(z, q);
		bool in = false;
		for (int64_t dd = ld - 1; dd <= ld + 1 && !in; dd++) {
			int n =
			    sched_local_windows(sc, dd, st, en, SCHED_DAY_MAX);
			for (int i = 0; i < n; i++)
				in |= st[i] <= q && q + 900 <= en[i];
		}
		if (!in)
			return false;
	}
	for (int i = 0; i < nb; i++)
		if (b[i].live && b[i].s < t + dur && t < b[i].e)
			return false;
	return true;
}

START_TEST(property_slots_day)
{
	int fd = conn();
	unsigned seed = 12345;
	int64_t base = h_day(3);
	struct bk b[400];
	int nb = 0;
	static const char *zones[] = {"UTC", "Europe/Berlin",
				      "America/New_York", "Asia/Kolkata"};

	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "p"), 0);
	for (int round = 0; round < 6; round++) {
		const char *zone = zones[round % 4];
		char a[16], e[16];
		struct sched *sc;
		int sh = 6 + rand_r(&seed) % 6,
		    eh = sh + 2 + rand_r(&seed) % 10;
		snprintf(a, sizeof(a), "%02d:%02d", sh,
			 15 * (rand_r(&seed) % 4));
		snprintf(e, sizeof(e), "%02d:00", eh > 24 ? 24 : eh);
		ck_assert_int_eq(put_weekly(fd, "p", zone, a, e), 0);
		ck_assert_int_eq(CALL(fd, "schedule.get", "{s:s}", "id", "p"),
				 0);
		{
			char err[100];
			ck_assert_int_eq(
			    sched_parse(res(), &sc, err, sizeof(err)), 0);
		}
		for (int k = 0; k < 40; k++) {
			int op = rand_r(&seed) % 10;
			int64_t s =
			    base + (int64_t)(rand_r(&seed) % (4 * 96)) * 900;
			int64_t len = (1 + rand_r(&seed) % 12) * 900;
			if (op < 6 && nb < 400) {
				if (CALL(fd, "book",
					 "{s:s s:I s:I s:{s:s s:s}}",
					 "resource", "p", "start", s, "end",
					 s + len, "booker", "name", "n",
					 "email", "n@x") == 0)
					b[nb++] = (struct bk){s, s + len, true};
			} else if (op < 8 && nb > 0) {
				int i = rand_r(&seed) % nb;
				if (b[i].live &&
				    CALL(fd, "booking.cancel", "{s:I}", "id",
					 (int64_t)i + 1) == 0)
					b[i].live = false;
			} else {
				CALL(fd, "hold", "{s:s s:I s:I s:s}",
				     "resource", "p", "start", s, "end",
				     s + len, "session", "h");
			}
		}
		for (int day = 0; day < 4; day++) {
			static const int durs[] = {15, 60, 150};
			for (int di = 0; di < 3; di++) {
				int64_t got[128], ds, de;
				int n, k = 0;
				char date[11];
				const struct tz *z = sched_tz(sc);
				int64_t ld = tz_local_day_of(z, base) + day;
				q_format_date(ld, date);
				n = slots(fd, "p", date, durs[di], zone, got,
					  128);
				tz_local_day(z, ld, &ds, &de);
				/* Brute force: grid from each open run's
				 * start; a start counts when free. */
				for (int64_t t = ds; t < de;) {
					int64_t run;
					if (!brute_free(sc, b, 0, t, 900)) {
						t += 900;
						continue;
					}
					for (run = t;
					     run < de &&
					     brute_free(sc, b, 0, run, 900);
					     run += 900)
						;
					for (int64_t u = t; u < run;
					     u += durs[di] * 60)
						if (brute_free(sc, b, nb, u,
							       durs[di] * 60)) {
							ck_assert_int_lt(k, n);
							ck_assert_int_eq(got[k],
									 u);
							k++;
						}
					t = run;
				}
				ck_assert_int_eq(k, n);
			}
		}
		sched_free(sc);
	}
	close(fd);
}
END_TEST

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

/* The first slot of a resource's day and how many there are. */
static int first_slot(int fd, const char *r, const char *date, int64_t *first)
{
	int64_t st[128];
	int n = slots(fd, r, date, 60, NULL, st, 128);
	*first = n ? st[0] : -1;
	return n;
}

START_TEST(shared_schedules)
{
	int fd = conn(), w[2];
	int64_t d = h_day(10), first;
	const char *ids[2] = {"sa", "sb"};
	char date[11];
	const msgpack_object *o;

	h_date(d, date);
	ck_assert_int_eq(
	    put_weekly(fd, "studio-hours", "UTC", "09:00", "17:00"), 0);
	ck_assert_int_eq(wire_get(res(), "resources")->via.array.size, 0);
	/* One resource names it at creation, the other by an update. */
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s s:s}", "id", "sa",
			      "schedule", "studio-hours"),
			 0);
	ck_assert(wire_str_eq(wire_get(res(), "schedule_ref"), "studio-hours"));
	h_case_mkres(&C, fd, "sb");
	ck_assert_int_eq(CALL(fd, "resource.update", "{s:s s:s}", "id", "sb",
			      "schedule", "studio-hours"),
			 0);
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s s:s}", "id", "sc",
			      "schedule", "no-such"),
			 BOOKD_E_NOT_FOUND);
	ck_assert_int_eq(
	    CALL(fd, "resource.create", "{s:s}", "id", "studio-hours"),
	    BOOKD_E_EXISTS);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(first_slot(fd, ids[i], date, &first), 8);
		ck_assert_int_eq(first, d + 9 * 3600);
		w[i] = conn();
		ck_assert_int_eq(CALL(w[i], "subscribe", "{s:s s:s s:s s:s}",
				      "topic", "slots", "resource", ids[i],
				      "from", date, "to", date),
				 0);
	}
	/* Changing it changes both, and pushes to each one's watcher. */
	ck_assert_int_eq(
	    put_weekly(fd, "studio-hours", "UTC", "10:00", "12:00"), 0);
	ck_assert_int_eq(wire_get(res(), "resources")->via.array.size, 2);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(first_slot(fd, ids[i], date, &first), 2);
		ck_assert_int_eq(first, d + 10 * 3600);
		ck_assert_int_ge(slots_pushes(w[i]), 1);
		close(w[i]);
	}
	ck_assert_int_eq(
	    CALL(fd, "schedule.get", "{s:s}", "id", "studio-hours"), 0);
	ck_assert_int_eq(wire_get(res(), "resources")->via.array.size, 2);
	ck_assert_int_eq(CALL(fd, "schedule.list", NULL), 0);
	ck_assert_int_eq(res()->via.array.size, 3);
	/* Deleting it is refused while used, naming how many use it. */
	ck_assert_int_eq(
	    CALL(fd, "schedule.delete", "{s:s}", "id", "studio-hours"),
	    BOOKD_E_INVALID_STATE);
	o = wire_get(h_error(&C.r), "message");
	ck_assert(o && o->type == MSGPACK_OBJECT_STR);
	ck_assert(memmem(o->via.str.ptr, o->via.str.size, "2 resources", 11));
	close(fd);

	/* A clean stop writes a snapshot: the schedule and the references
	 * come back from it. */
	ck_assert_int_eq(h_stop(&C.h), 0);
	ck_assert_int_eq(h_restart(&C.h, "--horizon-days 1100"), 0);
	fd = conn();
	ck_assert_int_eq(
	    CALL(fd, "schedule.get", "{s:s}", "id", "studio-hours"), 0);
	ck_assert_int_eq(wire_get(res(), "resources")->via.array.size, 2);
	ck_assert_int_eq(
	    put_weekly(fd, "studio-hours", "UTC", "13:00", "14:00"), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(first_slot(fd, ids[i], date, &first), 1);
		ck_assert_int_eq(first, d + 13 * 3600);
	}
	close(fd);

	/* kill -9: the log alone brings it back. */
	h_kill9(&C.h);
	ck_assert_int_eq(h_restart(&C.h, "--horizon-days 1100"), 0);
	fd = conn();
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(first_slot(fd, ids[i], date, &first), 1);
		ck_assert_int_eq(first, d + 13 * 3600);
	}
	ck_assert_int_eq(
	    put_weekly(fd, "studio-hours", "UTC", "15:00", "17:00"), 0);
	ck_assert_int_eq(first_slot(fd, "sa", date, &first), 2);
	ck_assert_int_eq(first, d + 15 * 3600);
	/* Once neither uses it (sa drops it, sb takes its own), it goes. */
	ck_assert_int_eq(
	    CALL(fd, "resource.update", "{s:s s:n}", "id", "sa", "schedule"),
	    0);
	ck_assert_ptr_null(wire_get(res(), "schedule_ref"));
	ck_assert_int_eq(put_weekly(fd, "sb", "UTC", "08:00", "09:00"), 0);
	ck_assert_int_eq(
	    put_weekly(fd, "studio-hours", "UTC", "10:00", "11:00"), 0);
	ck_assert_int_eq(first_slot(fd, "sb", date, &first), 1);
	ck_assert_int_eq(first, d + 8 * 3600);
	ck_assert_int_eq(
	    CALL(fd, "schedule.delete", "{s:s}", "id", "studio-hours"), 0);
	ck_assert_int_eq(
	    CALL(fd, "schedule.get", "{s:s}", "id", "studio-hours"),
	    BOOKD_E_NOT_FOUND);
	ck_assert_int_eq(
	    CALL(fd, "schedule.delete", "{s:s}", "id", "studio-hours"),
	    BOOKD_E_NOT_FOUND);
	close(fd);
	h_kill9(&C.h);
	ck_assert_int_eq(h_restart(&C.h, "--horizon-days 1100"), 0);
	fd = conn();
	ck_assert_int_eq(
	    CALL(fd, "schedule.get", "{s:s}", "id", "studio-hours"),
	    BOOKD_E_NOT_FOUND);
	ck_assert_int_eq(first_slot(fd, "sa", date, &first), 24);
	close(fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("calendar");
	TCase *tc = tcase_create("calendar");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, dst_berlin_new_york);
	tcase_add_test(tc, zones_far_from_utc);
	tcase_add_test(tc, overrides_and_closed);
	tcase_add_test(tc, event_types);
	tcase_add_test(tc, pool_race);
	tcase_add_test(tc, property_slots_day);
	tcase_add_test(tc, shared_schedules);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

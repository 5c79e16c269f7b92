/*
 * test_reader.c - libbookd's reader of the shared pages (clients/c/reader.c)
 * against a real engine: the reader's check, slot lists, views and month
 * views must equal what the engine answers over the socket.
 *
 * The agreement test creates resources with schedules in Europe/Berlin,
 * America/New_York and Asia/Kolkata, one open around the clock in UTC and
 * one pool, builds randomized states through the socket (bookings, cancels,
 * holds of several sessions, schedule changes, a deactivation, a lowered
 * pool quantity, an engine restart) and after each step compares many
 * random (resource, date, zone, duration, interval) questions and spans.
 * The dates are the next weeks, every DST switch day of both zones inside
 * the window with its neighbours, and the window's edges.  The random
 * sequence comes from a seed printed at the start (BOOKD_TEST_SEED
 * overrides it), so a failure can be replayed.
 *
 * Where the pages cannot settle a question the reader defers with
 * BOOKD_E_STALE: check() with a session when held bits are the only
 * obstacle, and check() on a pool whose held slots still have units left.
 * Those are counted, not failed; every other answer must be equal.
 *
 * Every wait is bounded by the harness (H_READY_MS, H_CALL_MS); the work is
 * bounded by fixed counts.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "suite_main.h"
#include "bookd_reader.h"
#include "harness.h"
#include "quanta.h"
#include "tz.h"
#include "wire.h"

static struct harness H;
static msgpack_unpacked R;
static msgpack_sbuffer SB;
static msgpack_packer PK;
static uint64_t next_id = 1;
static int fd = -1;

static void setup(void)
{
	ck_assert_int_eq(h_start(&H, "--hold-ttl-ms 3600000"), 0);
	msgpack_unpacked_init(&R);
	msgpack_sbuffer_init(&SB);
	msgpack_packer_init(&PK, &SB, msgpack_sbuffer_write);
	fd = h_connect_raw(&H);
	ck_assert_int_ge(fd, 0);
}

static void teardown(void)
{
	msgpack_unpacked_destroy(&R);
	msgpack_sbuffer_destroy(&SB);
	h_cleanup(&H);
}

/* One call; the reply stays in R until the next call. */
#define CALL(op, ...)                                                          \
	(msgpack_unpacked_destroy(&R), msgpack_unpacked_init(&R),              \
	 h_call(fd, &R, next_id++, op, __VA_ARGS__))

static const msgpack_object *res(void)
{
	return h_result(&R);
}

/* Arguments built with the packer, for calls whose fields vary: begin with
 * the map's size, pack its keys and values into PK, then args_call(). */
static msgpack_packer *args(uint32_t n)
{
	msgpack_sbuffer_clear(&SB);
	msgpack_pack_map(&PK, n);
	return &PK;
}

static int args_call(const char *op)
{
	msgpack_unpacked a;
	int rc;

	msgpack_unpacked_init(&a);
	ck_assert_int_eq(msgpack_unpack_next(&a, SB.data, SB.size, NULL),
			 MSGPACK_UNPACK_SUCCESS);
	rc = CALL(op, "o", &a.data);
	msgpack_unpacked_destroy(&a);
	return rc;
}

/* ---- randomness ------------------------------------------------------- */

static uint64_t rng;

static uint64_t rnd(void)
{
	/* xorshift64*: small, seedable, good enough to pick test cases. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

/* Uniform in [lo, hi]. */
static int64_t rnd_in(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static void seed(void)
{
	const char *s = getenv("BOOKD_TEST_SEED");

	rng = s != NULL && s[0] != '\0' ? strtoull(s, NULL, 0)
					: (uint64_t)time(NULL);
	if (rng == 0)
		rng = 1;
	printf("test_reader: seed %llu (set BOOKD_TEST_SEED to replay)\n",
	       (unsigned long long)rng);
	fflush(stdout);
}

/* ---- the resources and the dates ---------------------------------------- */

struct rdef {
	const char *id;
	const char *zone; /* the resource's timezone */
	uint32_t idx;	  /* the reader's index */
};

enum { R_BER, R_NYC, R_UTC, R_POOL, NRES };

static struct rdef RES[NRES] = {
    {"ber", "Europe/Berlin", 0},
    {"nyc", "America/New_York", 0},
    {"utc", "UTC", 0},
    {"pool", "Asia/Kolkata", 0},
};

/* Zones of the questions; NULL sends no tz (the resource's zone). */
static const char *const ZONES[] = {NULL, "UTC", "Europe/Berlin",
				    "America/New_York", "Asia/Kolkata"};
#define NZONES (sizeof(ZONES) / sizeof(ZONES[0]))

static const uint32_t DURATIONS[] = {15,  30,  45,  60,	  90,  120,
				     180, 300, 600, 1440, 2880};
#define NDURATIONS (sizeof(DURATIONS) / sizeof(DURATIONS[0]))
static const uint32_t INTERVALS[] = {0, 15, 30, 45, 60, 120};
#define NINTERVALS (sizeof(INTERVALS) / sizeof(INTERVALS[0]))

#define NSESSIONS 4
static const char *const SESSIONS[NSESSIONS] = {"s1", "s2", "s3", "s4"};

static int64_t today, win_first, win_last;
/* The dates questions are about: the next weeks, DST days and their
 * neighbours, the window's edges. */
static int64_t focus[96];
static int nfocus;
/* The DST switch days found inside the window, in either zone. */
static int64_t dst_days[16];
static const char *dst_zone[16];
static int ndst;

static void add_focus(int64_t d)
{
	for (int i = 0; i < nfocus; i++)
		if (focus[i] == d)
			return;
	ck_assert_int_lt(nfocus, (int)(sizeof(focus) / sizeof(focus[0])));
	focus[nfocus++] = d;
}

static void find_dates(bookd_reader *r)
{
	const char *zones[] = {"Europe/Berlin", "America/New_York"};
	struct bookd_reader_info info;

	ck_assert_int_eq(bookd_reader_info(r, &info), 0);
	win_first = info.first_day;
	win_last = info.last_day;
	today = q_day_of((int64_t)time(NULL));
	ck_assert_int_ge(today, win_first);
	ck_assert_int_le(today, win_last);
	for (int64_t d = today + 1; d <= today + 14; d++)
		add_focus(d);
	for (int zi = 0; zi < 2; zi++) {
		const struct tz *z;
		ck_assert_int_eq(tz_get(zones[zi], &z), 0);
		for (int64_t d = today + 2; d <= win_last - 2; d++) {
			int64_t ds, de;
			tz_local_day(z, d, &ds, &de);
			if (de - ds == DAY_SECONDS ||
			    ndst ==
				(int)(sizeof(dst_days) / sizeof(dst_days[0])))
				continue;
			dst_days[ndst] = d;
			dst_zone[ndst++] = zones[zi];
			add_focus(d - 1);
			add_focus(d);
			add_focus(d + 1);
		}
	}
	/* Two years ahead hold at least a spring and a fall switch of each
	 * zone. */
	ck_assert_int_ge(ndst, 4);
	add_focus(win_first - 1);
	add_focus(win_first);
	add_focus(win_first + 1);
	add_focus(win_last - 1);
	add_focus(win_last);
	add_focus(win_last + 1);
}

/* A focus date where bookings make sense: not at the window's edges. */
static int64_t inner_date(void)
{
	int64_t d;

	do
		d = focus[rnd_in(0, nfocus - 1)];
	while (d <= today || d >= win_last - 1);
	return d;
}

static int64_t local_midnight(const char *zone, int64_t date)
{
	const struct tz *z;
	int64_t ds, de;

	ck_assert_int_eq(tz_get(zone, &z), 0);
	tz_local_day(z, date, &ds, &de);
	return ds;
}

/* ---- schedules ---------------------------------------------------------- */

struct win {
	const char *start, *end;
};
struct wk {
	int day; /* ISO weekday, Monday = 1 */
	struct win w;
};
struct ovr {
	int64_t date;
	int nwin;
	struct win win[2];
};

static void pk_win(msgpack_packer *pk, const struct win *w)
{
	msgpack_pack_map(pk, 2);
	wire_pk_kstr(pk, "start", w->start);
	wire_pk_kstr(pk, "end", w->end);
}

static void put_schedule(const char *id, const char *zone, const struct wk *wk,
			 int nwk, const struct ovr *ov, int nov)
{
	msgpack_packer *pk = args(nov > 0 ? 4 : 3);

	wire_pk_kstr(pk, "id", id);
	wire_pk_kstr(pk, "timezone", zone);
	wire_pk_str(pk, "weekly");
	msgpack_pack_array(pk, (size_t)nwk);
	for (int i = 0; i < nwk; i++) {
		msgpack_pack_map(pk, 3);
		wire_pk_kint(pk, "day", wk[i].day);
		wire_pk_kstr(pk, "start", wk[i].w.start);
		wire_pk_kstr(pk, "end", wk[i].w.end);
	}
	if (nov > 0) {
		wire_pk_str(pk, "overrides");
		msgpack_pack_array(pk, (size_t)nov);
		for (int i = 0; i < nov; i++) {
			char date[11];
			q_format_date(ov[i].date, date);
			msgpack_pack_map(pk, 2);
			wire_pk_kstr(pk, "date", date);
			wire_pk_str(pk, "windows");
			msgpack_pack_array(pk, (size_t)ov[i].nwin);
			for (int k = 0; k < ov[i].nwin; k++)
				pk_win(pk, &ov[i].win[k]);
		}
	}
	ck_assert_int_eq(args_call("schedule.put"), 0);
}

static void create_resources(void)
{
	/* Berlin: weekdays 09:00-17:00 with a second window on Wednesday
	 * evening, Saturday morning, Sunday closed. */
	static const struct wk ber[] = {
	    {1, {"09:00", "17:00"}}, {2, {"09:00", "17:00"}},
	    {3, {"09:00", "17:00"}}, {3, {"18:00", "21:30"}},
	    {4, {"09:00", "17:00"}}, {5, {"09:00", "17:00"}},
	    {6, {"10:00", "14:00"}}};
	/* New York: 07:30-22:00, Friday around the clock, so Friday's
	 * window joins Thursday's evening and Saturday's morning. */
	static const struct wk nyc[] = {
	    {1, {"07:30", "22:00"}}, {2, {"07:30", "22:00"}},
	    {3, {"07:30", "22:00"}}, {4, {"07:30", "22:00"}},
	    {5, {"00:00", "24:00"}}, {6, {"07:30", "22:00"}},
	    {7, {"07:30", "22:00"}}};
	/* The pool: Kolkata's 06:00-23:00 (half-hour offset), Sunday all
	 * day. */
	static const struct wk pool[] = {
	    {1, {"06:00", "23:00"}}, {2, {"06:00", "23:00"}},
	    {3, {"06:00", "23:00"}}, {4, {"06:00", "23:00"}},
	    {5, {"06:00", "23:00"}}, {6, {"06:00", "23:00"}},
	    {7, {"00:00", "24:00"}}};

	for (int i = 0; i < NRES; i++) {
		if (i == R_POOL)
			ck_assert_int_eq(CALL("resource.create",
					      "{s:s s:s s:i}", "id", RES[i].id,
					      "timezone", RES[i].zone,
					      "quantity", 3),
					 0);
		else
			ck_assert_int_eq(CALL("resource.create", "{s:s s:s}",
					      "id", RES[i].id, "timezone",
					      RES[i].zone),
					 0);
	}
	put_schedule("ber", "Europe/Berlin", ber, 7, NULL, 0);
	put_schedule("nyc", "America/New_York", nyc, 7, NULL, 0);
	put_schedule("pool", "Asia/Kolkata", pool, 7, NULL, 0);
}

/* New Berlin hours: two windows on weekdays, weekends around the clock,
 * the first DST day closed, a short night on the second, and a date with
 * a window that runs to midnight. */
static void change_ber_schedule(void)
{
	static const struct wk wk[] = {
	    {1, {"08:15", "12:00"}}, {1, {"13:30", "18:45"}},
	    {2, {"08:15", "12:00"}}, {2, {"13:30", "18:45"}},
	    {3, {"08:15", "12:00"}}, {3, {"13:30", "18:45"}},
	    {4, {"08:15", "12:00"}}, {4, {"13:30", "18:45"}},
	    {5, {"08:15", "12:00"}}, {5, {"13:30", "18:45"}},
	    {6, {"00:00", "24:00"}}, {7, {"00:00", "24:00"}}};
	struct ovr ov[3] = {
	    {dst_days[0], 0, {{NULL, NULL}}},
	    {dst_days[1], 1, {{"01:00", "05:00"}}},
	    {today + 5, 2, {{"10:00", "11:00"}, {"22:00", "24:00"}}},
	};

	put_schedule("ber", "Europe/Berlin", wk, 12, ov, 3);
}

/* ---- building state ----------------------------------------------------- */

static int64_t booking_ids[1024];
static int nbookings;

/* The engine's refusals of a well-formed request; anything else fails. */
static void expect_refusal(int rc)
{
	char msg[200] = "";
	const msgpack_object *m = wire_get(h_error(&R), "message");

	if (m != NULL)
		wire_cstr(m, msg, sizeof(msg));
	ck_assert_msg(rc == 0 || rc == BOOKD_E_CONFLICT || rc == BOOKD_E_HELD ||
			  rc == BOOKD_E_CLOSED || rc == BOOKD_E_INACTIVE ||
			  rc == BOOKD_E_OUT_OF_RANGE,
		      "unexpected error %d: %s", rc, msg);
}

/* A random span on a focus date: mostly short and inside the day's usual
 * hours, sometimes running over midnight or over days. */
static void random_span(const struct rdef *rd, int64_t *s, int64_t *e)
{
	int64_t t = local_midnight(rd->zone, inner_date());
	int64_t p = rnd_in(0, 99), len;

	t = q_floor_div(t, Q_SECONDS) * Q_SECONDS +
	    rnd_in(20, 92) * (int64_t)Q_SECONDS;
	if (p < 75)
		len = rnd_in(1, 16);
	else if (p < 95)
		len = rnd_in(17, 96);
	else
		len = rnd_in(97, 300);
	*s = t;
	*e = t + len * Q_SECONDS;
}

static void random_bookings(int n)
{
	for (int i = 0; i < n; i++) {
		const struct rdef *rd = &RES[rnd_in(0, NRES - 1)];
		int64_t s, e, id;
		int rc;
		random_span(rd, &s, &e);
		rc = CALL("book", "{s:s s:I s:I s:{s:s s:s}}", "resource",
			  rd->id, "start", s, "end", e, "booker", "name", "r",
			  "email", "r@example.org");
		expect_refusal(rc);
		if (rc == 0 && nbookings < 1024) {
			ck_assert(wire_int(wire_get(res(), "id"), &id));
			booking_ids[nbookings++] = id;
		}
	}
}

/* Cancel about one booking in four (ids of cancelled bookings stay in the
 * list: cancelling one twice is INVALID_STATE, which is skipped). */
static void random_cancels(void)
{
	for (int i = 0; i < nbookings; i++) {
		int rc;
		if (rnd_in(0, 3) != 0)
			continue;
		rc = CALL("booking.cancel", "{s:I}", "id", booking_ids[i]);
		ck_assert(rc == 0 || rc == BOOKD_E_INVALID_STATE);
	}
}

/* Every session tries a hold on most resources; some are released. */
static void random_holds(void)
{
	for (int k = 0; k < NSESSIONS; k++) {
		for (int i = 0; i < NRES; i++) {
			const struct rdef *rd = &RES[i];
			int64_t s, e;
			if (rnd_in(0, 9) < 2)
				continue;
			random_span(rd, &s, &e);
			if (e - s > 12 * Q_SECONDS)
				e = s + rnd_in(1, 12) * Q_SECONDS;
			expect_refusal(CALL("hold", "{s:s s:I s:I s:s}",
					    "resource", rd->id, "start", s,
					    "end", e, "session", SESSIONS[k]));
			if (rnd_in(0, 9) == 0)
				ck_assert_int_eq(CALL("release", "{s:s s:s}",
						      "resource", rd->id,
						      "session", SESSIONS[k]),
						 0);
		}
	}
}

/* ---- comparisons -------------------------------------------------------- */

struct counts {
	unsigned day, starts, view, reserved, month, month_true;
	unsigned check, check_busy, deferred;
};
static struct counts C;

static const char *zname(const char *tz)
{
	return tz ? tz : "(resource's)";
}

/* slots.day or slots.view from the engine. */
static int engine_slots(const char *op, const struct rdef *rd, int64_t date,
			const char *tz, uint32_t dur, uint32_t ival)
{
	msgpack_packer *pk = args(3 + (tz != NULL) + (ival != 0));
	char ds[11];

	q_format_date(date, ds);
	wire_pk_kstr(pk, "resource", rd->id);
	wire_pk_kstr(pk, "date", ds);
	wire_pk_kint(pk, "duration", dur);
	if (tz != NULL)
		wire_pk_kstr(pk, "tz", tz);
	if (ival != 0)
		wire_pk_kint(pk, "interval", ival);
	return args_call(op);
}

static void cmp_day(bookd_reader *r, const struct rdef *rd, int64_t date,
		    const char *tz, uint32_t dur, uint32_t ival)
{
	int64_t st[BOOKD_READER_MAX_STARTS], t;
	const msgpack_object *a;
	char ds[11];
	size_t n;
	int erc, rrc;

	q_format_date(date, ds);
	erc = engine_slots("slots.day", rd, date, tz, dur, ival);
	rrc = bookd_reader_slots_day_tz(r, rd->idx, date, tz ? tz : rd->zone,
					dur, ival, st, &n);
	ck_assert_msg(erc == rrc,
		      "slots.day %s %s tz %s %u/%u: engine %d, reader %d",
		      rd->id, ds, zname(tz), dur, ival, erc, rrc);
	C.day++;
	if (erc != 0)
		return;
	C.starts += (unsigned)n;
	a = wire_get(res(), "slots");
	ck_assert_ptr_nonnull(a);
	ck_assert_msg(a->via.array.size == n,
		      "slots.day %s %s tz %s %u/%u: engine %u starts, "
		      "reader %zu",
		      rd->id, ds, zname(tz), dur, ival, a->via.array.size, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert(wire_int(&a->via.array.ptr[i], &t));
		ck_assert_msg(t == st[i],
			      "slots.day %s %s tz %s %u/%u: start %zu engine "
			      "%lld, reader %lld",
			      rd->id, ds, zname(tz), dur, ival, i, (long long)t,
			      (long long)st[i]);
	}
}

static void cmp_view(bookd_reader *r, const struct rdef *rd, int64_t date,
		     const char *tz, uint32_t dur, uint32_t ival)
{
	struct bookd_reader_view_slot v[BOOKD_READER_MAX_STARTS];
	const msgpack_object *a;
	char ds[11];
	size_t n;
	int erc, rrc;

	q_format_date(date, ds);
	erc = engine_slots("slots.view", rd, date, tz, dur, ival);
	rrc = bookd_reader_slots_view_tz(r, rd->idx, date, tz ? tz : rd->zone,
					 dur, ival, v, &n);
	ck_assert_msg(erc == rrc,
		      "slots.view %s %s tz %s %u/%u: engine %d, reader %d",
		      rd->id, ds, zname(tz), dur, ival, erc, rrc);
	C.view++;
	if (erc != 0)
		return;
	a = res();
	ck_assert_int_eq(a->type, MSGPACK_OBJECT_ARRAY);
	ck_assert_msg(a->via.array.size == n,
		      "slots.view %s %s tz %s %u/%u: engine %u starts, "
		      "reader %zu",
		      rd->id, ds, zname(tz), dur, ival, a->via.array.size, n);
	for (size_t i = 0; i < n; i++) {
		const msgpack_object *e = &a->via.array.ptr[i];
		int reserved = wire_str_eq(wire_get(e, "state"), "reserved");
		int64_t t;
		ck_assert(wire_int(wire_get(e, "start"), &t));
		ck_assert_msg(t == v[i].start && reserved == v[i].reserved,
			      "slots.view %s %s tz %s %u/%u: entry %zu engine "
			      "%lld %d, reader %lld %d",
			      rd->id, ds, zname(tz), dur, ival, i, (long long)t,
			      reserved, (long long)v[i].start, v[i].reserved);
		C.reserved += (unsigned)reserved;
	}
}

static void cmp_month(bookd_reader *r, const struct rdef *rd, int64_t from,
		      int64_t to, const char *tz, uint32_t dur, uint32_t ival)
{
	uint8_t av[BOOKD_READER_MONTH_MAX];
	msgpack_packer *pk = args(4 + (tz != NULL) + (ival != 0));
	char fs[11], ts[11], ds[11];
	int erc, rrc;

	q_format_date(from, fs);
	q_format_date(to, ts);
	wire_pk_kstr(pk, "resource", rd->id);
	wire_pk_kstr(pk, "from", fs);
	wire_pk_kstr(pk, "to", ts);
	wire_pk_kint(pk, "duration", dur);
	if (tz != NULL)
		wire_pk_kstr(pk, "tz", tz);
	if (ival != 0)
		wire_pk_kint(pk, "interval", ival);
	erc = args_call("slots.month");
	rrc = bookd_reader_slots_month(r, rd->idx, from, to, tz ? tz : rd->zone,
				       dur, ival, av);
	ck_assert_msg(erc == rrc,
		      "slots.month %s %s..%s tz %s %u/%u: engine %d, reader %d",
		      rd->id, fs, ts, zname(tz), dur, ival, erc, rrc);
	C.month++;
	if (erc != 0)
		return;
	ck_assert_uint_eq(res()->via.map.size, (uint32_t)(to - from + 1));
	for (int64_t d = from; d <= to; d++) {
		const msgpack_object *b;
		q_format_date(d, ds);
		b = wire_get(res(), ds);
		ck_assert_ptr_nonnull(b);
		ck_assert_int_eq(b->type, MSGPACK_OBJECT_BOOLEAN);
		ck_assert_msg(b->via.boolean == (av[d - from] != 0),
			      "slots.month %s %s..%s tz %s %u/%u: %s engine "
			      "%d, reader %d",
			      rd->id, fs, ts, zname(tz), dur, ival, ds,
			      b->via.boolean, av[d - from]);
		C.month_true += b->via.boolean;
	}
}

/* The engine's check as a reader reason. */
static enum bookd_reason engine_reason(int rc)
{
	const msgpack_object *why;

	if (rc == BOOKD_E_OUT_OF_RANGE)
		return BOOKD_REASON_OUT_OF_RANGE;
	ck_assert_int_eq(rc, 0);
	if (wire_get(res(), "free")->via.boolean)
		return BOOKD_REASON_NONE;
	why = wire_get(res(), "reason");
	ck_assert_ptr_nonnull(why);
	if (wire_str_eq(why, "booked"))
		return BOOKD_REASON_BOOKED;
	if (wire_str_eq(why, "held"))
		return BOOKD_REASON_HELD;
	if (wire_str_eq(why, "closed"))
		return BOOKD_REASON_CLOSED;
	ck_assert(wire_str_eq(why, "inactive"));
	return BOOKD_REASON_INACTIVE;
}

static void cmp_check(bookd_reader *r, const struct rdef *rd, int64_t s,
		      int64_t e, const char *session)
{
	enum bookd_reason why = BOOKD_REASON_OTHER;
	enum bookd_reason ewhy;
	int erc, rrc, fr = -1;

	if (session != NULL)
		erc = CALL("check", "{s:s s:I s:I s:s}", "resource", rd->id,
			   "start", s, "end", e, "session", session);
	else
		erc = CALL("check", "{s:s s:I s:I}", "resource", rd->id,
			   "start", s, "end", e);
	ewhy = engine_reason(erc);
	rrc = bookd_reader_check(r, rd->idx, s, e, session, &fr, &why);
	C.check++;
	if (rrc == BOOKD_E_STALE) {
		/* Only a hold can leave the pages undecided. */
		ck_assert_msg(ewhy == BOOKD_REASON_NONE ||
				  ewhy == BOOKD_REASON_HELD,
			      "check %s [%lld, %lld) %s: reader deferred, "
			      "engine says %s",
			      rd->id, (long long)s, (long long)e,
			      session ? session : "-", bookd_reason_name(ewhy));
		C.deferred++;
		return;
	}
	ck_assert_msg(rrc == 0 && why == ewhy && fr == (why == 0),
		      "check %s [%lld, %lld) %s: engine %s, reader rc %d %s",
		      rd->id, (long long)s, (long long)e,
		      session ? session : "-", bookd_reason_name(ewhy), rrc,
		      bookd_reason_name(why));
	C.check_busy += why != BOOKD_REASON_NONE;
}

static uint32_t pick_u32(const uint32_t *v, size_t n)
{
	return v[rnd_in(0, (int64_t)n - 1)];
}

/* Many random questions of every kind, about every resource. */
static void compare_random(bookd_reader *r, int ndays, int nviews, int nmonths,
			   int nchecks)
{
	for (int i = 0; i < ndays; i++)
		cmp_day(r, &RES[rnd_in(0, NRES - 1)],
			focus[rnd_in(0, nfocus - 1)],
			ZONES[rnd_in(0, NZONES - 1)],
			pick_u32(DURATIONS, NDURATIONS),
			pick_u32(INTERVALS, NINTERVALS));
	for (int i = 0; i < nviews; i++)
		cmp_view(r, &RES[rnd_in(0, NRES - 1)],
			 focus[rnd_in(0, nfocus - 1)],
			 ZONES[rnd_in(0, NZONES - 1)],
			 pick_u32(DURATIONS, NDURATIONS),
			 pick_u32(INTERVALS, NINTERVALS));
	for (int i = 0; i < nmonths; i++) {
		int64_t from, to;
		switch (rnd_in(0, 3)) {
		case 0: /* across the window's start */
			from = win_first - rnd_in(1, 5);
			to = win_first + rnd_in(0, 20);
			break;
		case 1: /* across its end */
			from = win_last - rnd_in(0, 20);
			to = win_last + rnd_in(1, 5);
			break;
		default:
			from = focus[rnd_in(0, nfocus - 1)] - rnd_in(0, 5);
			to = from + rnd_in(0, 40);
			break;
		}
		cmp_month(r, &RES[rnd_in(0, NRES - 1)], from, to,
			  ZONES[rnd_in(0, NZONES - 1)],
			  pick_u32(DURATIONS, NDURATIONS),
			  pick_u32(INTERVALS, NINTERVALS));
	}
	for (int i = 0; i < nchecks; i++) {
		const struct rdef *rd = &RES[rnd_in(0, NRES - 1)];
		int64_t d = focus[rnd_in(0, nfocus - 1)], s, e;
		int64_t p = rnd_in(0, 99);
		s = d * DAY_SECONDS + rnd_in(-8, 100) * (int64_t)Q_SECONDS;
		e = s + (p < 80	  ? rnd_in(1, 16)
			 : p < 95 ? rnd_in(17, 120)
				  : rnd_in(121, 400)) *
			    (int64_t)Q_SECONDS;
		cmp_check(r, rd, s, e,
			  rnd_in(0, 1) ? NULL
				       : SESSIONS[rnd_in(0, NSESSIONS - 1)]);
	}
}

/* Every DST day, for every resource, in every zone, on a few grids. */
static void compare_dst_days(bookd_reader *r)
{
	static const uint32_t durs[] = {15, 60, 150};

	for (int k = 0; k < ndst; k++)
		for (int i = 0; i < NRES; i++)
			for (size_t z = 0; z < NZONES; z++)
				for (size_t u = 0; u < 3; u++) {
					cmp_day(r, &RES[i], dst_days[k],
						ZONES[z], durs[u], 0);
					cmp_view(r, &RES[i], dst_days[k],
						 ZONES[z], durs[u], 30);
				}
}

/* Before any booking, the resource open around the clock has one start
 * per quarter of a DST day in the day's zone: 92 or 100, never 96. */
static void assert_dst_lengths(bookd_reader *r)
{
	int64_t st[BOOKD_READER_MAX_STARTS];
	size_t n;

	for (int k = 0; k < ndst; k++) {
		int64_t ds, de;
		const struct tz *z;
		ck_assert_int_eq(tz_get(dst_zone[k], &z), 0);
		tz_local_day(z, dst_days[k], &ds, &de);
		ck_assert_int_eq(
		    bookd_reader_slots_day_tz(r, RES[R_UTC].idx, dst_days[k],
					      dst_zone[k], 15, 0, st, &n),
		    0);
		ck_assert_uint_eq(n, (size_t)((de - ds) / Q_SECONDS));
		ck_assert(n == 92 || n == 100);
	}
}

static void report(const char *phase)
{
	printf("test_reader: %s: %d bookings made; compared %u day lists "
	       "(%u starts), %u views (%u reserved), %u month views (%u days "
	       "with starts), %u checks (%u not free, %u deferred)\n",
	       phase, nbookings, C.day, C.starts, C.view, C.reserved, C.month,
	       C.month_true, C.check, C.check_busy, C.deferred);
	fflush(stdout);
}

static void resolve_all(bookd_reader *r)
{
	for (int i = 0; i < NRES; i++)
		ck_assert_int_eq(
		    bookd_reader_resource(r, RES[i].id, &RES[i].idx), 0);
}

START_TEST(test_reader_agrees_with_engine)
{
	struct bookd_reader_info info;
	struct bookd_reader_stats rst;
	bookd_reader *r = NULL;
	uint64_t gen;

	seed();
	create_resources();
	ck_assert_int_eq(bookd_reader_open(H.data, &r), 0);
	resolve_all(r);
	find_dates(r);

	/* 1: bookings, cancels and holds of four sessions. */
	assert_dst_lengths(r);
	random_bookings(160);
	random_cancels();
	random_holds();
	compare_dst_days(r);
	compare_random(r, 400, 200, 40, 600);
	report("bookings and holds");

	/* 2: new Berlin hours with overrides on DST days, New York
	 * deactivated, more of everything. */
	change_ber_schedule();
	ck_assert_int_eq(
	    CALL("resource.update", "{s:s s:b}", "id", "nyc", "active", 0), 0);
	random_bookings(80);
	random_holds();
	compare_random(r, 300, 150, 30, 400);
	report("schedule change, deactivation");

	/* 3: New York back, the pool lowered to 2 units under its bookings,
	 * more cancels. */
	ck_assert_int_eq(
	    CALL("resource.update", "{s:s s:b}", "id", "nyc", "active", 1), 0);
	ck_assert_int_eq(
	    CALL("resource.update", "{s:s s:i}", "id", "pool", "quantity", 2),
	    0);
	random_cancels();
	random_bookings(60);
	random_holds();
	compare_random(r, 300, 150, 30, 400);
	report("reactivation, pool lowered");

	/* 4: a restart.  Holds vanish; the reader notices the new file on
	 * its next call and keeps its indices. */
	ck_assert_int_eq(bookd_reader_info(r, &info), 0);
	gen = info.generation;
	ck_assert_int_eq(h_stop(&H), 0);
	ck_assert_int_eq(h_restart(&H, "--hold-ttl-ms 3600000"), 0);
	close(fd);
	fd = h_connect_raw(&H);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bookd_reader_info(r, &info), 0);
	ck_assert_uint_eq(info.generation, gen + 1);
	bookd_reader_stats(r, &rst);
	ck_assert_uint_eq(rst.reopens, 1);
	compare_dst_days(r);
	compare_random(r, 300, 150, 30, 400);
	report("after restart");

	/* 5: new state on the new file. */
	random_bookings(80);
	random_cancels();
	random_holds();
	compare_random(r, 300, 150, 30, 400);
	report("after restart, new state");

	/* The comparisons must have met every kind of answer. */
	ck_assert_uint_gt(C.reserved, 0);
	ck_assert_uint_gt(C.starts, C.day);
	ck_assert_uint_gt(C.month_true, C.month);
	ck_assert_uint_gt(C.check_busy, C.check / 10);
	ck_assert_uint_lt(C.deferred, C.check / 4);
	bookd_reader_close(r);
}
END_TEST

/* SPEC scenario 2 through the reader: a booking and a hold on studio-a at
 * 10:00 leave studio-b free at 10:00 in the pages. */
START_TEST(test_scenario2_isolation)
{
	int64_t st[BOOKD_READER_MAX_STARTS];
	struct bookd_reader_view_slot v[BOOKD_READER_MAX_STARTS];
	struct bookd_reader_day da, db;
	int64_t day = q_day_of((int64_t)time(NULL)) + 3;
	int64_t ten = day * DAY_SECONDS + 10 * 3600;
	int64_t ten2 = ten + DAY_SECONDS;
	bookd_reader *r = NULL;
	uint32_t a, b;
	size_t n;
	enum bookd_reason why;
	int fr;

	ck_assert_int_eq(CALL("resource.create", "{s:s}", "id", "studio-a"), 0);
	ck_assert_int_eq(CALL("resource.create", "{s:s}", "id", "studio-b"), 0);
	ck_assert_int_eq(CALL("book", "{s:s s:I s:I s:{s:s s:s}}", "resource",
			      "studio-a", "start", ten, "end", ten + 3600,
			      "booker", "name", "a", "email", "a@example.org"),
			 0);
	ck_assert_int_eq(CALL("hold", "{s:s s:I s:I s:s}", "resource",
			      "studio-a", "start", ten2, "end", ten2 + 3600,
			      "session", "A"),
			 0);
	ck_assert_int_eq(bookd_reader_open(H.data, &r), 0);
	ck_assert_int_eq(bookd_reader_resource(r, "studio-a", &a), 0);
	ck_assert_int_eq(bookd_reader_resource(r, "studio-b", &b), 0);

	/* studio-a: booked on the first day, held on the second. */
	ck_assert_int_eq(
	    bookd_reader_check(r, a, ten, ten + 3600, NULL, &fr, &why), 0);
	ck_assert_int_eq(why, BOOKD_REASON_BOOKED);
	ck_assert_int_eq(
	    bookd_reader_check(r, a, ten2, ten2 + 3600, NULL, &fr, &why), 0);
	ck_assert_int_eq(why, BOOKD_REASON_HELD);
	/* studio-b: free at both, in check, bits and slot lists. */
	for (int k = 0; k < 2; k++) {
		int64_t t = k ? ten2 : ten;
		ck_assert_int_eq(
		    bookd_reader_check(r, b, t, t + 3600, NULL, &fr, &why), 0);
		ck_assert_int_eq(fr, 1);
		ck_assert_int_eq(why, BOOKD_REASON_NONE);
		ck_assert_int_eq(bookd_reader_day(r, a, day + k, &da), 0);
		ck_assert_int_eq(bookd_reader_day(r, b, day + k, &db), 0);
		ck_assert_uint_eq((k ? da.held[0] : da.booked[0]) >> 40 & 0xf,
				  0xf);
		ck_assert_uint_eq(
		    db.booked[0] | db.booked[1] | db.held[0] | db.held[1], 0);
		ck_assert_int_eq(bookd_reader_slots_day_tz(r, b, day + k, "UTC",
							   60, 0, st, &n),
				 0);
		ck_assert_uint_eq(n, 24);
		ck_assert_int_eq(st[10], t);
		ck_assert_int_eq(bookd_reader_slots_view_tz(
				     r, b, day + k, "UTC", 60, 0, v, &n),
				 0);
		ck_assert_uint_eq(n, 24);
		for (size_t i = 0; i < n; i++)
			ck_assert_int_eq(v[i].reserved, 0);
		/* studio-a lists no 10:00 start on the booked day and marks
		 * it reserved on the held one. */
		ck_assert_int_eq(bookd_reader_slots_view_tz(
				     r, a, day + k, "UTC", 60, 0, v, &n),
				 0);
		ck_assert_uint_eq(n, k ? 24u : 23u);
		if (k)
			ck_assert_int_eq(v[10].reserved, 1);
		else
			ck_assert_int_eq(v[10].start, t + 3600);
	}
	bookd_reader_close(r);
}
END_TEST

static Suite *reader_suite(void)
{
	Suite *s = suite_create("reader");
	TCase *tc = tcase_create("reader");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_reader_agrees_with_engine);
	tcase_add_test(tc, test_scenario2_isolation);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(reader_suite());
}

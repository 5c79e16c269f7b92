/*
 * test_sched.c - unit tests of proto/schedule: validation with field-naming
 * errors, the canonical form, and conversion of local opening hours to UTC
 * slots across DST switches, far-east and half-hour zones.
 *
 * Schedules are written as JSON with single quotes for readability and
 * packed to MessagePack by a small converter below, so each case reads like
 * the request a client would send.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <msgpack.h>

#include "suite_main.h"
#include "quanta.h"
#include "schedule.h"
#include "tz.h"

#define H 3600

static int64_t dayn(int y, unsigned mo, unsigned d)
{
	return q_days_from_civil(y, mo, d);
}

static int64_t at(int y, unsigned mo, unsigned d, int h, int mi)
{
	return dayn(y, mo, d) * DAY_SECONDS + h * H + mi * 60;
}

/* JSON (with '...' strings allowed, and integer map keys) to MessagePack. */

struct jp {
	const char *p;
};

static void j_ws(struct jp *j)
{
	while (*j->p == ' ' || *j->p == '\n' || *j->p == '\t')
		j->p++;
}

/* A string into buf (NUL bytes allowed via \u0000); returns its length. */
static size_t j_str(struct jp *j, char *buf, size_t cap)
{
	char q = *j->p++;
	size_t n = 0;

	/* Check records every passing ck_assert, so the per-byte checks
	 * here only call it to fail. */
	while (*j->p != q) {
		char c = *j->p++;
		if (c == 0)
			ck_abort_msg("unterminated string");
		if (c == '\\') {
			c = *j->p++;
			if (c == 'n') {
				c = '\n';
			} else if (c == 'u') {
				char hex[5] = {0};
				memcpy(hex, j->p, 4);
				j->p += 4;
				c = (char)strtol(hex, NULL, 16);
			}
		}
		if (n == cap)
			ck_abort_msg("string too long");
		buf[n++] = c;
	}
	j->p++;
	return n;
}

static void j_value(struct jp *j, msgpack_packer *pk);

/* Skip one value (packing it nowhere) to count a container's members. */
static void j_skip(struct jp *j)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	j_value(j, &pk);
	msgpack_sbuffer_destroy(&sb);
}

static uint32_t j_count(struct jp j, char close, bool map)
{
	uint32_t n = 0;

	j.p++;
	j_ws(&j);
	while (*j.p != close) {
		j_skip(&j);
		j_ws(&j);
		if (map) {
			if (*j.p != ':')
				ck_abort_msg("bad JSON at %.20s", j.p);
			j.p++;
			j_skip(&j);
			j_ws(&j);
		}
		n++;
		if (*j.p == ',')
			j.p++;
		j_ws(&j);
	}
	return n;
}

static void j_value(struct jp *j, msgpack_packer *pk)
{
	static char buf[8192];
	bool map;

	j_ws(j);
	switch (*j->p) {
	case '{':
	case '[':
		map = *j->p == '{';
		if (map)
			msgpack_pack_map(pk, j_count(*j, '}', true));
		else
			msgpack_pack_array(pk, j_count(*j, ']', false));
		j->p++;
		j_ws(j);
		while (*j->p != (map ? '}' : ']')) {
			j_value(j, pk);
			j_ws(j);
			if (map) {
				j->p++; /* ':' */
				j_value(j, pk);
				j_ws(j);
			}
			if (*j->p == ',')
				j->p++;
			j_ws(j);
		}
		j->p++;
		break;
	case '"':
	case '\'': {
		size_t n = j_str(j, buf, sizeof(buf));
		msgpack_pack_str(pk, n);
		msgpack_pack_str_body(pk, buf, n);
		break;
	}
	case 't':
		j->p += 4;
		msgpack_pack_true(pk);
		break;
	case 'f':
		j->p += 5;
		msgpack_pack_false(pk);
		break;
	case 'n':
		j->p += 4;
		msgpack_pack_nil(pk);
		break;
	default: {
		char *end;
		long long v = strtoll(j->p, &end, 10);
		if (end == j->p)
			ck_abort_msg("bad JSON at %.20s", j->p);
		if (*end == '.') {
			msgpack_pack_double(pk, strtod(j->p, &end));
		} else {
			msgpack_pack_int64(pk, v);
		}
		j->p = end;
	}
	}
}

static void pack_json(msgpack_sbuffer *sb, const char *json)
{
	msgpack_packer pk;
	struct jp j = {json};

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	j_value(&j, &pk);
	j_ws(&j);
	ck_assert_msg(*j.p == 0, "trailing JSON: %s", j.p);
}

static int parse_json(const char *json, struct sched **s, char *err,
		      size_t errlen)
{
	msgpack_sbuffer sb;
	msgpack_unpacked u;
	int rc;

	pack_json(&sb, json);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
			 MSGPACK_UNPACK_SUCCESS);
	rc = sched_parse(&u.data, s, err, errlen);
	/* The schedule must not point into the message it came from. */
	memset(sb.data, 0xa5, sb.size);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static struct sched *must(const char *json)
{
	struct sched *s = NULL;
	char err[256];
	int rc = parse_json(json, &s, err, sizeof(err));

	ck_assert_msg(rc == 0, "%s: %s", json, err);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Append to a JSON text being built; running out of room fails the test. */
static void append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*n >= cap)
		ck_abort_msg("JSON buffer full");
	va_start(ap, fmt);
	k = vsnprintf(buf + *n, cap - *n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= cap - *n)
		ck_abort_msg("JSON buffer full");
	*n += (size_t)k;
}

/* Bitmaps. */

static void expect_bits(const struct sched *s, int64_t utc_day, int from,
			int to, int from2, int to2)
{
	uint64_t want[2] = {0, 0}, got[2];
	char date[11];

	q_bits_set(want, from, to);
	q_bits_set(want, from2, to2);
	sched_open_bits(s, utc_day, got);
	q_format_date(utc_day, date);
	ck_assert_msg(got[0] == want[0] && got[1] == want[1],
		      "%s: open %016llx %08llx, want %016llx %08llx", date,
		      (unsigned long long)got[0], (unsigned long long)got[1],
		      (unsigned long long)want[0], (unsigned long long)want[1]);
}

static void expect_windows(const struct sched *s, int64_t local_day, int n,
			   const int64_t *want)
{
	int64_t st[SCHED_DAY_MAX], en[SCHED_DAY_MAX];
	int got = sched_local_windows(s, local_day, st, en, SCHED_DAY_MAX);

	ck_assert_int_eq(got, n);
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(st[i], want[2 * i]);
		ck_assert_int_eq(en[i], want[2 * i + 1]);
	}
}

#define OFFICE                                                                 \
	"{'timezone': 'Europe/Berlin', 'weekly': ["                            \
	"{'day': 1, 'start': '09:00', 'end': '17:00'},"                        \
	"{'day': 2, 'start': '09:00', 'end': '17:00'},"                        \
	"{'day': 3, 'start': '09:00', 'end': '17:00'},"                        \
	"{'day': 4, 'start': '09:00', 'end': '17:00'},"                        \
	"{'day': 5, 'start': '09:00', 'end': '17:00'}]}"

START_TEST(berlin_office_hours)
{
	struct sched *s = must(OFFICE);

	ck_assert_str_eq(tz_name(sched_tz(s)), "Europe/Berlin");
	/* Winter (CET): 08:00-16:00 UTC, slots 32..63. */
	expect_bits(s, dayn(2026, 1, 12), 32, 64, 0, 0);
	expect_bits(s, dayn(2026, 1, 16), 32, 64, 0, 0);
	expect_bits(s, dayn(2026, 1, 17), 0, 0, 0, 0);
	expect_bits(s, dayn(2026, 1, 18), 0, 0, 0, 0);
	/* Summer (CEST): 07:00-15:00 UTC. */
	expect_bits(s, dayn(2026, 7, 13), 28, 60, 0, 0);
	/* The weeks around both switches (the switches fall on Sundays). */
	expect_bits(s, dayn(2026, 3, 27), 32, 64, 0, 0);
	expect_bits(s, dayn(2026, 3, 30), 28, 60, 0, 0);
	expect_bits(s, dayn(2026, 10, 23), 28, 60, 0, 0);
	expect_bits(s, dayn(2026, 10, 26), 32, 64, 0, 0);
	/* Years covered only by the footer rule. */
	expect_bits(s, dayn(2031, 7, 14), 28, 60, 0, 0);
	expect_bits(s, dayn(2031, 12, 15), 32, 64, 0, 0);
	{
		int64_t w[] = {at(2026, 1, 12, 8, 0), at(2026, 1, 12, 16, 0)};
		expect_windows(s, dayn(2026, 1, 12), 1, w);
	}
	expect_windows(s, dayn(2026, 1, 11), 0, NULL);
	sched_free(s);
}
END_TEST

START_TEST(switch_days_stay_local)
{
	/* Open every day, so the Sunday switch days themselves are open. */
	struct sched *s =
	    must("{'timezone': 'Europe/Berlin', 'weekly': ["
		 "{'day': 1, 'start': '09:00', 'end': '17:00'},"
		 "{'day': 2, 'start': '09:00', 'end': '17:00'},"
		 "{'day': 3, 'start': '09:00', 'end': '17:00'},"
		 "{'day': 4, 'start': '09:00', 'end': '17:00'},"
		 "{'day': 5, 'start': '09:00', 'end': '17:00'},"
		 "{'day': 6, 'start': '09:00', 'end': '17:00'},"
		 "{'day': 7, 'start': '09:00', 'end': '17:00'}]}");
	int64_t w1[] = {at(2026, 3, 29, 7, 0), at(2026, 3, 29, 15, 0)};
	int64_t w2[] = {at(2026, 10, 25, 8, 0), at(2026, 10, 25, 16, 0)};

	expect_bits(s, dayn(2026, 3, 28), 32, 64, 0, 0);
	expect_bits(s, dayn(2026, 3, 29), 28, 60, 0, 0); /* 09:00 CEST */
	expect_bits(s, dayn(2026, 10, 24), 28, 60, 0, 0);
	expect_bits(s, dayn(2026, 10, 25), 32, 64, 0, 0); /* 09:00 CET */
	expect_windows(s, dayn(2026, 3, 29), 1, w1);
	expect_windows(s, dayn(2026, 10, 25), 1, w2);
	sched_free(s);
}
END_TEST

START_TEST(overrides)
{
	struct sched *s =
	    must("{'timezone': 'Europe/Berlin', 'weekly': ["
		 "{'day': 4, 'start': '09:00', 'end': '17:00'}],"
		 "'overrides': ["
		 "{'date': '2026-12-31', 'windows': [{'start': '13:00', 'end': "
		 "'14:00'}, {'start': '10:00', 'end': '12:00'}]},"
		 "{'date': '2026-12-24', 'windows': []},"
		 "{'date': '2026-12-26', 'windows': [{'start': '10:00', 'end': "
		 "'11:00'}]}]}");
	int64_t w[] = {at(2026, 12, 31, 9, 0), at(2026, 12, 31, 11, 0),
		       at(2026, 12, 31, 12, 0), at(2026, 12, 31, 13, 0)};

	/* Thursday the 24th is closed, Thursday the 17th is not. */
	expect_bits(s, dayn(2026, 12, 24), 0, 0, 0, 0);
	expect_bits(s, dayn(2026, 12, 17), 32, 64, 0, 0);
	/* Thursday the 31st has its own windows, 10-12 and 13-14 CET. */
	expect_bits(s, dayn(2026, 12, 31), 36, 44, 48, 52);
	expect_windows(s, dayn(2026, 12, 31), 2, w);
	/* An override opens a Saturday the week leaves closed. */
	expect_bits(s, dayn(2026, 12, 26), 36, 40, 0, 0);
	expect_bits(s, dayn(2026, 12, 19), 0, 0, 0, 0);
	sched_free(s);
}
END_TEST

START_TEST(end_of_day)
{
	/* Friday 18:00-24:00 and Saturday 00:00-02:00 run into each other. */
	struct sched *s =
	    must("{'timezone': 'Europe/Berlin', 'weekly': ["
		 "{'day': 5, 'start': '18:00', 'end': '24:00'},"
		 "{'day': 6, 'start': '00:00', 'end': '02:00'},"
		 "{'day': 7, 'start': '00:00', 'end': '24:00'}]}");
	int64_t fri[] = {at(2026, 1, 16, 17, 0), at(2026, 1, 16, 23, 0)};
	int64_t sat[] = {at(2026, 1, 16, 23, 0), at(2026, 1, 17, 1, 0)};
	int64_t sun[] = {at(2026, 3, 28, 23, 0), at(2026, 3, 29, 22, 0)};

	expect_windows(s, dayn(2026, 1, 16), 1, fri);
	expect_windows(s, dayn(2026, 1, 17), 1, sat);
	expect_bits(s, dayn(2026, 1, 16), 68, 96, 0, 0);
	expect_bits(s, dayn(2026, 1, 17), 0, 4, 92, 96);
	/* Sunday 2026-03-29 00:00-24:00 is the whole 23-hour local day:
	 * 4 + 88 slots (Saturday's 00:00-02:00 is slots 0..3 of the 28th).
	 * Sunday 2026-10-25 is 25 hours: 8 + 92 slots. */
	expect_windows(s, dayn(2026, 3, 29), 1, sun);
	expect_bits(s, dayn(2026, 3, 28), 0, 4, 92, 96);
	expect_bits(s, dayn(2026, 3, 29), 0, 88, 0, 0);
	expect_bits(s, dayn(2026, 10, 24), 88, 96, 0, 0);
	expect_bits(s, dayn(2026, 10, 25), 0, 92, 0, 0);
	sched_free(s);
}
END_TEST

START_TEST(auckland_monday_is_sunday_in_utc)
{
	struct sched *s =
	    must("{'timezone': 'Pacific/Auckland', 'weekly': ["
		 "{'day': 1, 'start': '09:00', 'end': '17:00'}]}");
	int64_t w[] = {at(2026, 7, 12, 21, 0), at(2026, 7, 13, 5, 0)};

	/* NZST (+12): Monday 09:00 is Sunday 21:00 UTC. */
	ck_assert_int_eq(q_weekday(dayn(2026, 7, 12)), 7);
	expect_bits(s, dayn(2026, 7, 12), 84, 96, 0, 0);
	expect_bits(s, dayn(2026, 7, 13), 0, 20, 0, 0);
	expect_bits(s, dayn(2026, 7, 14), 0, 0, 0, 0);
	expect_windows(s, dayn(2026, 7, 13), 1, w);
	/* NZDT (+13) in January. */
	expect_bits(s, dayn(2026, 1, 11), 80, 96, 0, 0);
	expect_bits(s, dayn(2026, 1, 12), 0, 16, 0, 0);
	sched_free(s);
}
END_TEST

START_TEST(far_east_and_half_hours)
{
	struct sched *s;

	/* Kiritimati (+14): all of Monday is Sunday 10:00 to Monday 10:00
	 * UTC. */
	s = must("{'timezone': 'Pacific/Kiritimati', 'weekly': ["
		 "{'day': 1, 'start': '00:00', 'end': '24:00'}]}");
	expect_bits(s, dayn(2026, 3, 1), 40, 96, 0, 0);
	expect_bits(s, dayn(2026, 3, 2), 0, 40, 0, 0);
	sched_free(s);
	/* Kathmandu (+5:45): 09:00-17:00 is 03:15-11:15 UTC. */
	s = must("{'timezone': 'Asia/Kathmandu', 'weekly': ["
		 "{'day': 3, 'start': '09:00', 'end': '17:00'}]}");
	expect_bits(s, dayn(2026, 6, 3), 13, 45, 0, 0);
	sched_free(s);
	/* St John's (-3:30 / -2:30). */
	s = must("{'timezone': 'America/St_Johns', 'weekly': ["
		 "{'day': 3, 'start': '09:00', 'end': '17:00'}]}");
	expect_bits(s, dayn(2026, 1, 14), 50, 82, 0, 0);
	expect_bits(s, dayn(2026, 7, 15), 46, 78, 0, 0);
	sched_free(s);
}
END_TEST

START_TEST(midnight_inside_a_gap)
{
	/* Toronto jumped from 23:30 EST to 00:30 EDT on Sunday 1919-03-30:
	 * Monday's 00:00 is the first instant of Monday (04:30 UTC), not
	 * 00:00 moved forward by the gap (05:00 UTC). */
	struct sched *s =
	    must("{'timezone': 'America/Toronto', 'weekly': ["
		 "{'day': 1, 'start': '00:00', 'end': '01:00'}]}");
	int64_t w[] = {at(1919, 3, 31, 4, 30), at(1919, 3, 31, 5, 0)};

	ck_assert_int_eq(q_weekday(dayn(1919, 3, 31)), 1);
	expect_windows(s, dayn(1919, 3, 31), 1, w);
	expect_bits(s, dayn(1919, 3, 31), 18, 20, 0, 0);
	sched_free(s);
}
END_TEST

START_TEST(lmt_rounds_inward)
{
	/* Berlin kept local mean time (+0:53:28) until 1893: 09:00-17:00 is
	 * 08:06:32-16:06:32 UTC, whose whole quarters are 08:15-16:00. */
	struct sched *s =
	    must("{'timezone': 'Europe/Berlin', 'weekly': ["
		 "{'day': 1, 'start': '09:00', 'end': '17:00'}]}");
	int64_t w[] = {at(1890, 6, 2, 8, 15), at(1890, 6, 2, 16, 0)};

	ck_assert_int_eq(q_weekday(dayn(1890, 6, 2)), 1);
	expect_bits(s, dayn(1890, 6, 2), 33, 64, 0, 0);
	expect_windows(s, dayn(1890, 6, 2), 1, w);
	sched_free(s);
}
END_TEST

START_TEST(windows_in_gaps_and_folds)
{
	struct sched *s =
	    must("{'timezone': 'Europe/Berlin', 'weekly': [], 'overrides': ["
		 /* 01-02 and 03-05 touch once 02:00-03:00 is skipped. */
		 "{'date': '2026-03-29', 'windows': [{'start': '01:00', 'end': "
		 "'02:00'}, {'start': '03:00', 'end': '05:00'}]},"
		 /* The same day a year on, with a window inside the gap. */
		 "{'date': '2027-03-28', 'windows': [{'start': '02:00', 'end': "
		 "'03:00'}]},"
		 /* 02:30 moves to 03:30 CEST (01:30 UTC), after 03:00. */
		 "{'date': '2028-03-26', 'windows': [{'start': '02:30', 'end': "
		 "'02:45'}, {'start': '03:00', 'end': '03:15'}]},"
		 /* The repeated hour: 02:00 is the first (CEST) one. */
		 "{'date': '2026-10-25', 'windows': [{'start': '02:00', 'end': "
		 "'03:00'}]}]}");
	int64_t a[] = {at(2026, 3, 29, 0, 0), at(2026, 3, 29, 3, 0)};
	int64_t c[] = {at(2028, 3, 26, 1, 0), at(2028, 3, 26, 1, 15),
		       at(2028, 3, 26, 1, 30), at(2028, 3, 26, 1, 45)};
	int64_t d[] = {at(2026, 10, 25, 0, 0), at(2026, 10, 25, 2, 0)};

	expect_windows(s, dayn(2026, 3, 29), 1, a);
	expect_windows(s, dayn(2027, 3, 28), 0, NULL);
	expect_bits(s, dayn(2027, 3, 28), 0, 0, 0, 0);
	expect_windows(s, dayn(2028, 3, 26), 2, c);
	expect_windows(s, dayn(2026, 10, 25), 1, d);
	expect_bits(s, dayn(2026, 10, 25), 0, 8, 0, 0);
	sched_free(s);
}
END_TEST

/*
 * Every slot of every UTC day of 2026, for zones with DST, half hours and
 * a far-east offset: a slot is open iff the wall time of its start lies in
 * a window of its local weekday.  None of these windows touches a DST
 * switch, so this independent reading must agree exactly.
 */
static const char *const sweep_zones[] = {
    "Europe/Berlin",	  "America/New_York",  "Pacific/Auckland",
    "Asia/Kathmandu",	  "America/St_Johns",  "Australia/Lord_Howe",
    "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC",
};

START_TEST(sweep_year)
{
	char json[1024];
	struct sched *s;
	const struct tz *z;
	/* [weekday][start, end) in minutes; Sunday closed. */
	static const int win[7][4] = {
	    {480, 720, 780, 1110}, {480, 720, 780, 1110}, {480, 720, 780, 1110},
	    {480, 720, 780, 1110}, {480, 720, 780, 1440}, {600, 840, 0, 0},
	    {0, 0, 0, 0},
	};

	snprintf(json, sizeof(json),
		 "{'timezone': '%s', 'weekly': ["
		 "{'day': 1, 'start': '08:00', 'end': '12:00'},"
		 "{'day': 1, 'start': '13:00', 'end': '18:30'},"
		 "{'day': 2, 'start': '08:00', 'end': '12:00'},"
		 "{'day': 2, 'start': '13:00', 'end': '18:30'},"
		 "{'day': 3, 'start': '08:00', 'end': '12:00'},"
		 "{'day': 3, 'start': '13:00', 'end': '18:30'},"
		 "{'day': 4, 'start': '13:00', 'end': '18:30'},"
		 "{'day': 4, 'start': '08:00', 'end': '12:00'},"
		 "{'day': 5, 'start': '08:00', 'end': '12:00'},"
		 "{'day': 5, 'start': '13:00', 'end': '24:00'},"
		 "{'day': 6, 'start': '10:00', 'end': '14:00'}]}",
		 sweep_zones[_i]);
	s = must(json);
	z = sched_tz(s);
	for (int64_t d = dayn(2026, 1, 1); d < dayn(2027, 1, 1); d++) {
		uint64_t open[2];
		sched_open_bits(s, d, open);
		for (int i = 0; i < Q_PER_DAY; i++) {
			int64_t t = d * DAY_SECONDS + i * Q_SECONDS;
			int64_t L = t + tz_offset_at(z, t);
			int64_t ld = q_floor_div(L, DAY_SECONDS);
			int m = (int)(L - ld * DAY_SECONDS) / 60;
			const int *w = win[q_weekday(ld) - 1];
			bool want =
			    (m >= w[0] && m < w[1]) || (m >= w[2] && m < w[3]);
			bool got = (open[i / 64] >> (i % 64)) & 1;
			/* Only failures go through Check: it records every
			 * passing assertion. */
			if (want != got)
				ck_abort_msg("%s: slot %d of day %lld: %d",
					     sweep_zones[_i], i, (long long)d,
					     got);
		}
	}
	sched_free(s);
}
END_TEST

START_TEST(local_windows_capacity)
{
	char json[8192];
	size_t n = 0;
	struct sched *s;
	int64_t st[SCHED_DAY_MAX], en[SCHED_DAY_MAX];

	/* 48 disjoint quarters on Monday (the most a day can hold) and 16
	 * more on Tuesday: 64 weekly windows, the limit. */
	append(json, sizeof(json), &n, "{'timezone': 'UTC', 'weekly': [");
	for (int i = 0; i < 64; i++) {
		int q = i < 48 ? 2 * i : 2 * (i - 48);
		append(json, sizeof(json), &n,
		       "%s{'day': %d, 'start': '%02d:%02d', "
		       "'end': '%02d:%02d'}",
		       i ? "," : "", i < 48 ? 1 : 2, q / 4, q % 4 * 15,
		       (q + 1) / 4, (q + 1) % 4 * 15);
	}
	append(json, sizeof(json), &n, "]}");
	s = must(json);
	ck_assert_int_eq(
	    sched_local_windows(s, dayn(2026, 1, 12), st, en, SCHED_DAY_MAX),
	    48);
	ck_assert_int_eq(st[47], at(2026, 1, 12, 23, 30));
	ck_assert_int_eq(en[47], at(2026, 1, 12, 23, 45));
	ck_assert_int_eq(sched_local_windows(s, dayn(2026, 1, 12), st, en, 47),
			 -ENOSPC);
	ck_assert_int_eq(sched_local_windows(s, dayn(2026, 1, 13), st, en, 16),
			 16);
	ck_assert_int_eq(sched_local_windows(s, dayn(2026, 1, 14), st, en, 0),
			 0);
	sched_free(s);
}
END_TEST

/* The canonical form. */

static void pack_sched(msgpack_sbuffer *sb, const struct sched *s)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	sched_pack(s, &pk);
}

START_TEST(canonical_form)
{
	struct sched *s =
	    must("{'overrides': [{'windows': [{'end': '12:00', 'start': "
		 "'11:00'}, {'start': '09:00', 'end': '11:00'}], 'date': "
		 "'2026-12-31'}, {'date': '2026-05-01', 'windows': []}],"
		 "'weekly': [{'day': 3, 'start': '13:00', 'end': '24:00'},"
		 "{'day': 1, 'start': '12:00', 'end': '17:00'},"
		 "{'day': 1, 'start': '09:00', 'end': '12:30'},"
		 "{'day': 1, 'start': '18:00', 'end': '19:00'}],"
		 "'timezone': 'America/New_York'}");
	msgpack_sbuffer got, want, again;
	struct sched *s2;
	msgpack_unpacked u;
	char err[128];

	pack_sched(&got, s);
	pack_json(&want,
		  "{'timezone': 'America/New_York', 'weekly': ["
		  "{'day': 1, 'start': '09:00', 'end': '17:00'},"
		  "{'day': 1, 'start': '18:00', 'end': '19:00'},"
		  "{'day': 3, 'start': '13:00', 'end': '24:00'}],"
		  "'overrides': ["
		  "{'date': '2026-05-01', 'windows': []},"
		  "{'date': '2026-12-31', 'windows': [{'start': '09:00', "
		  "'end': '12:00'}]}]}");
	ck_assert_uint_eq(got.size, want.size);
	ck_assert_int_eq(memcmp(got.data, want.data, got.size), 0);
	/* Parsing the canonical form gives the same schedule. */
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(msgpack_unpack_next(&u, got.data, got.size, NULL),
			 MSGPACK_UNPACK_SUCCESS);
	ck_assert_int_eq(sched_parse(&u.data, &s2, err, sizeof(err)), 0);
	pack_sched(&again, s2);
	ck_assert_uint_eq(again.size, got.size);
	ck_assert_int_eq(memcmp(again.data, got.data, got.size), 0);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&got);
	msgpack_sbuffer_destroy(&want);
	msgpack_sbuffer_destroy(&again);
	sched_free(s);
	sched_free(s2);
	/* No overrides packs an empty list. */
	s = must("{'timezone': 'UTC', 'weekly': []}");
	pack_sched(&got, s);
	pack_json(&want, "{'timezone': 'UTC', 'weekly': [], 'overrides': []}");
	ck_assert_uint_eq(got.size, want.size);
	ck_assert_int_eq(memcmp(got.data, want.data, got.size), 0);
	msgpack_sbuffer_destroy(&got);
	msgpack_sbuffer_destroy(&want);
	sched_free(s);
}
END_TEST

START_TEST(limits_accepted)
{
	static char json[1 << 18];
	size_t n = 0;
	struct sched *s;

	/* 366 overrides of 16 windows each: the limits, all accepted. */
	append(json, sizeof(json), &n,
	       "{'timezone': 'UTC', 'weekly': [], 'overrides': [");
	for (int i = 0; i < 366; i++) {
		char date[11];
		q_format_date(dayn(2028, 1, 1) + i, date);
		append(json, sizeof(json), &n, "%s{'date': '%s', 'windows': [",
		       i ? "," : "", date);
		for (int k = 0; k < 16; k++)
			append(json, sizeof(json), &n,
			       "%s{'start': '%02d:00', 'end': "
			       "'%02d:30'}",
			       k ? "," : "", k, k);
		append(json, sizeof(json), &n, "]}");
	}
	append(json, sizeof(json), &n, "]}");
	s = must(json);
	/* Slots 4k and 4k + 1 for k = 0..15 on every date of 2028. */
	for (int64_t d = dayn(2028, 1, 1); d < dayn(2029, 1, 1); d++) {
		uint64_t got[2];
		sched_open_bits(s, d, got);
		ck_assert_uint_eq(got[0], 0x3333333333333333ull);
		ck_assert_uint_eq(got[1], 0);
	}
	expect_bits(s, dayn(2029, 1, 1), 0, 0, 0, 0);
	sched_free(s);
}
END_TEST

/* Malformed input: each case and the exact message naming its field. */

#define TZB  "'timezone': 'Europe/Berlin'"
#define W(x) "{" TZB ", 'weekly': [" x "]}"
#define O(x) "{" TZB ", 'weekly': [], 'overrides': [" x "]}"
#define OK_W "{'day': 1, 'start': '09:00', 'end': '10:00'}"

static const struct {
	const char *json;
	const char *err;
} bad[] = {
    {"[]", "schedule: not a map"},
    {"'x'", "schedule: not a map"},
    {"{}", "timezone: required"},
    {"{" TZB "}", "weekly: required"},
    {"{1: 2}", "schedule: keys must be strings"},
    {"{'timezone': 5, 'weekly': []}", "timezone: not a string"},
    {"{'timezone': 'Mars/Olympus', 'weekly': []}",
     "timezone: unknown time zone 'Mars/Olympus'"},
    {"{'timezone': '../etc/passwd', 'weekly': []}",
     "timezone: not a valid time zone name"},
    {"{'timezone': 'Europe/Berlin\\u0000', 'weekly': []}",
     "timezone: not a valid time zone name"},
    {"{'timezone': 'Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaa', 'weekly': []}",
     "timezone: not a valid time zone name"},
    {"{'timezone': 'leapseconds', 'weekly': []}",
     "timezone: corrupt or unsupported time zone file 'leapseconds'"},
    {"{'timezone': 'UTC', 'weekly': [], 'color': 'red'}",
     "color: unknown field"},
    {"{'timezone': 'UTC', 'weekly': [], '\\u0001abcdefghijklmnopqrstuvwxyz"
     "0123456789': 1}",
     "?abcdefghijklmnopqrstuvwxyz01234...: unknown field"},
    {"{'timezone': 'UTC', 'timezone': 'UTC', 'weekly': []}",
     "timezone: duplicate field"},
    {"{" TZB ", 'weekly': {}}", "weekly: not an array"},
    {"{" TZB ", 'weekly': null}", "weekly: not an array"},
    {W("5"), "weekly[0]: not a map"},
    {W(OK_W ", {'start': '09:00', 'end': '10:00'}"), "weekly[1].day: required"},
    {W("{'day': 0, 'start': '09:00', 'end': '10:00'}"),
     "weekly[0].day: not a weekday 1..7 (Monday = 1)"},
    {W("{'day': 8, 'start': '09:00', 'end': '10:00'}"),
     "weekly[0].day: not a weekday 1..7 (Monday = 1)"},
    {W("{'day': -1, 'start': '09:00', 'end': '10:00'}"),
     "weekly[0].day: not a weekday 1..7 (Monday = 1)"},
    {W("{'day': '1', 'start': '09:00', 'end': '10:00'}"),
     "weekly[0].day: not a weekday 1..7 (Monday = 1)"},
    {W("{'day': 1.0, 'start': '09:00', 'end': '10:00'}"),
     "weekly[0].day: not a weekday 1..7 (Monday = 1)"},
    {W("{'day': 1, 'end': '10:00'}"), "weekly[0].start: required"},
    {W("{'day': 1, 'start': '09:00'}"), "weekly[0].end: required"},
    {W("{'day': 1, 'start': 900, 'end': '10:00'}"),
     "weekly[0].start: not a string \"HH:MM\""},
    {W("{'day': 1, 'start': '9:00', 'end': '10:00'}"),
     "weekly[0].start: not a time \"HH:MM\""},
    {W("{'day': 1, 'start': '09:00:00', 'end': '10:00'}"),
     "weekly[0].start: not a time \"HH:MM\""},
    {W("{'day': 1, 'start': '0900', 'end': '10:00'}"),
     "weekly[0].start: not a time \"HH:MM\""},
    {W("{'day': 1, 'start': 'ab:cd', 'end': '10:00'}"),
     "weekly[0].start: not a time \"HH:MM\""},
    {W("{'day': 1, 'start': '09:00', 'end': '25:00'}"),
     "weekly[0].end: not a time \"HH:MM\""},
    {W("{'day': 1, 'start': '09:60', 'end': '10:00'}"),
     "weekly[0].start: not a time \"HH:MM\""},
    {W("{'day': 1, 'start': '09:00', 'end': '24:15'}"),
     "weekly[0].end: not a time \"HH:MM\""},
    {W(OK_W "," OK_W ", {'day': 2, 'start': '09:10', 'end': '10:00'}"),
     "weekly[2].start: not a multiple of 15 minutes"},
    {W("{'day': 1, 'start': '09:00', 'end': '10:01'}"),
     "weekly[0].end: not a multiple of 15 minutes"},
    {W("{'day': 1, 'start': '24:00', 'end': '24:00'}"),
     "weekly[0].start: 24:00 is only valid as an end"},
    {W("{'day': 1, 'start': '10:00', 'end': '10:00'}"),
     "weekly[0].end: not after start"},
    {W("{'day': 1, 'start': '10:00', 'end': '09:00'}"),
     "weekly[0].end: not after start"},
    {W("{'day': 1, 'start': '09:00', 'end': '10:00', 'note': 1}"),
     "weekly[0].note: unknown field"},
    {W("{'day': 1, 'day': 2, 'start': '09:00', 'end': '10:00'}"),
     "weekly[0].day: duplicate field"},
    {"{" TZB ", 'weekly': [], 'overrides': 5}", "overrides: not an array"},
    {O("[]"), "overrides[0]: not a map"},
    {O("{'windows': []}"), "overrides[0].date: required"},
    {O("{'date': '2026-02-30', 'windows': []}"),
     "overrides[0].date: not a valid date \"YYYY-MM-DD\""},
    {O("{'date': '2026-1-01', 'windows': []}"),
     "overrides[0].date: not a valid date \"YYYY-MM-DD\""},
    {O("{'date': 20260101, 'windows': []}"),
     "overrides[0].date: not a valid date \"YYYY-MM-DD\""},
    {O("{'date': '2026-01-01'}"), "overrides[0].windows: required"},
    {O("{'date': '2026-01-01', 'windows': {}}"),
     "overrides[0].windows: not an array"},
    {O("{'date': '2026-01-01', 'windows': [], 'x': 1}"),
     "overrides[0].x: unknown field"},
    {O("{'date': '2026-01-01', 'windows': [{'day': 1, 'start': '09:00', "
       "'end': '10:00'}]}"),
     "overrides[0].windows[0].day: unknown field"},
    {O("{'date': '2026-01-01', 'windows': []}, {'date': '2026-01-02', "
       "'windows': [{'start': '09:00', 'end': '10:00'}, {'start': "
       "'11:00', 'end': '11:00'}]}"),
     "overrides[1].windows[1].end: not after start"},
    {O("{'date': '2026-01-01', 'windows': []}, {'date': '2026-01-02', "
       "'windows': []}, {'date': '2026-01-01', 'windows': []}"),
     "overrides[2].date: same date as overrides[0]"},
};

START_TEST(malformed)
{
	struct sched *s = (struct sched *)1;
	char err[160];
	int rc = parse_json(bad[_i].json, &s, err, sizeof(err));

	ck_assert_msg(rc == -EINVAL, "%s: rc %d", bad[_i].json, rc);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(err, bad[_i].err);
}
END_TEST

static void expect_err(const char *json, const char *want)
{
	struct sched *s;
	char err[160];

	ck_assert_int_eq(parse_json(json, &s, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(err, want);
}

START_TEST(malformed_limits)
{
	static char json[1 << 18];
	size_t n;

	n = 0;
	append(json, sizeof(json), &n, "{" TZB ", 'weekly': [");
	for (int i = 0; i < 65; i++)
		append(json, sizeof(json), &n, "%s" OK_W, i ? "," : "");
	append(json, sizeof(json), &n, "]}");
	expect_err(json, "weekly: more than 64 windows");

	n = 0;
	append(json, sizeof(json), &n,
	       "{" TZB ", 'weekly': [], 'overrides': [");
	for (int i = 0; i < 367; i++) {
		char date[11];
		q_format_date(dayn(2028, 1, 1) + i, date);
		append(json, sizeof(json), &n,
		       "%s{'date': '%s', 'windows': []}", i ? "," : "", date);
	}
	append(json, sizeof(json), &n, "]}");
	expect_err(json, "overrides: more than 366 dates");

	n = 0;
	append(json, sizeof(json), &n,
	       "{" TZB ", 'weekly': [], 'overrides': [{'date': "
	       "'2026-01-01', 'windows': [");
	for (int i = 0; i < 17; i++)
		append(json, sizeof(json), &n,
		       "%s{'start': '%02d:00', 'end': '%02d:15'}", i ? "," : "",
		       i, i);
	append(json, sizeof(json), &n, "]}]}");
	expect_err(json, "overrides[0].windows: more than 16 windows");
}
END_TEST

START_TEST(small_error_buffers)
{
	struct sched *s;
	char err[8];

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(parse_json("{}", &s, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "timezon"); /* cut, but terminated */
	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(parse_json("{}", &s, err, 0), -EINVAL);
	ck_assert_int_eq(err[0], 'x');
	ck_assert_int_eq(parse_json("[]", &s, err, 1), -EINVAL);
	ck_assert_int_eq(err[0], 0);
}
END_TEST

/* Holiday calendars. */

static struct hcal *cals[4];
static const char *cal_ids[4];
static int ncals;

static const struct hcal *resolve(void *ctx, const char *id, size_t len)
{
	(void)ctx;
	for (int i = 0; i < ncals; i++)
		if (strlen(cal_ids[i]) == len &&
		    memcmp(cal_ids[i], id, len) == 0)
			return cals[i];
	return NULL;
}

/* Parse json with hcal_parse (wire = 0), sched_parse_wire (1) or
 * sched_parse (2). */
static int parse_as(int how, const char *json, void **out, char *err,
		    size_t errlen)
{
	msgpack_sbuffer sb;
	msgpack_unpacked u;
	int rc;

	pack_json(&sb, json);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
			 MSGPACK_UNPACK_SUCCESS);
	if (how == 0)
		rc = hcal_parse(&u.data, (struct hcal **)out, err, errlen);
	else if (how == 1)
		rc = sched_parse_wire(&u.data, resolve, NULL,
				      (struct sched **)out, err, errlen);
	else
		rc = sched_parse(&u.data, (struct sched **)out, err, errlen);
	memset(sb.data, 0xa5, sb.size);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void add_cal(const char *id, const char *json)
{
	void *h = NULL;
	char err[256];

	ck_assert_int_lt(ncals, 4);
	ck_assert_msg(parse_as(0, json, &h, err, sizeof(err)) == 0, "%s: %s",
		      json, err);
	cals[ncals] = h;
	cal_ids[ncals++] = id;
}

static void clear_cals(void)
{
	while (ncals > 0)
		hcal_free(cals[--ncals]);
}

static struct sched *must_wire(const char *json)
{
	void *s = NULL;
	char err[256];

	ck_assert_msg(parse_as(1, json, &s, err, sizeof(err)) == 0, "%s: %s",
		      json, err);
	return s;
}

#define EVERY_DAY_9_17                                                         \
	"'weekly': [{'day': 1, 'start': '09:00', 'end': '17:00'},"             \
	"{'day': 2, 'start': '09:00', 'end': '17:00'},"                        \
	"{'day': 3, 'start': '09:00', 'end': '17:00'},"                        \
	"{'day': 4, 'start': '09:00', 'end': '17:00'},"                        \
	"{'day': 5, 'start': '09:00', 'end': '17:00'},"                        \
	"{'day': 6, 'start': '09:00', 'end': '17:00'},"                        \
	"{'day': 7, 'start': '09:00', 'end': '17:00'}]"

START_TEST(holidays_precedence)
{
	struct sched *s;

	add_cal("xmas", "[{'date': '2026-12-24', 'windows': [{'start': "
			"'09:00', 'end': '12:00'}]}, {'date': '2026-12-25'},"
			"{'date': '2026-12-26', 'windows': [{'start': '10:00',"
			" 'end': '11:00'}]}, {'date': '2026-12-27', "
			"'windows': []}]");
	s = must_wire("{'timezone': 'Europe/Berlin', " EVERY_DAY_9_17
		      ", 'overrides': [{'date': '2026-12-26', 'windows': "
		      "[{'start': '09:00', 'end': '10:00'}]}],"
		      "'holidays': ['xmas']}");
	ck_assert(sched_has_holidays(s, "xmas"));
	ck_assert(!sched_has_holidays(s, "xma"));
	/* CET: local 09:00 is 08:00 UTC, slot 32. */
	expect_bits(s, dayn(2026, 12, 23), 32, 64, 0, 0); /* weekly */
	expect_bits(s, dayn(2026, 12, 24), 32, 44, 0, 0); /* shortened */
	expect_bits(s, dayn(2026, 12, 25), 0, 0, 0, 0);	  /* closed */
	expect_bits(s, dayn(2026, 12, 26), 32, 36, 0, 0); /* own override */
	expect_bits(s, dayn(2026, 12, 27), 0, 0, 0, 0);	  /* empty windows */
	expect_bits(s, dayn(2026, 12, 28), 32, 64, 0, 0);
	{
		int64_t d = dayn(2026, 12, 24) * 86400;
		int64_t want[] = {d + 8 * H, d + 11 * H};
		expect_windows(s, dayn(2026, 12, 24), 1, want);
		expect_windows(s, dayn(2026, 12, 25), 0, NULL);
	}
	sched_free(s);
	clear_cals();
}
END_TEST

START_TEST(holidays_several_calendars_intersect)
{
	struct sched *s;

	add_cal("a", "[{'date': '2026-12-24', 'windows': [{'start': '09:00', "
		     "'end': '12:00'}]}, {'date': '2026-12-31', 'windows': "
		     "[{'start': '10:00', 'end': '11:00'}]}]");
	add_cal("b", "[{'date': '2026-12-24', 'windows': [{'start': '11:00', "
		     "'end': '14:00'}]}, {'date': '2026-12-31'},"
		     "{'date': '2027-01-01', 'windows': [{'start': '10:00', "
		     "'end': '11:00'}, {'start': '11:00', 'end': '12:00'}]}]");
	s = must_wire("{'timezone': 'UTC', " EVERY_DAY_9_17
		      ", 'holidays': ['a', 'b']}");
	expect_bits(s, dayn(2026, 12, 24), 44, 48, 0, 0);
	expect_bits(s, dayn(2026, 12, 31), 0, 0, 0, 0);
	expect_bits(s, dayn(2027, 1, 1), 40, 48, 0, 0);
	expect_bits(s, dayn(2027, 1, 2), 36, 68, 0, 0);
	sched_free(s);
	clear_cals();
}
END_TEST

static void pack_wire(msgpack_sbuffer *sb, const struct sched *s)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	sched_pack_wire(s, &pk, 0);
}

static void expect_packed(msgpack_sbuffer *got, const char *json)
{
	msgpack_sbuffer want;

	pack_json(&want, json);
	ck_assert_uint_eq(got->size, want.size);
	ck_assert_int_eq(memcmp(got->data, want.data, got->size), 0);
	msgpack_sbuffer_destroy(&want);
	msgpack_sbuffer_destroy(got);
}

START_TEST(holidays_forms_and_rebind)
{
	struct sched *s, *s2, *s3;
	msgpack_sbuffer full, again, w;
	msgpack_unpacked u;
	char err[256];
	void *p = NULL;
	int64_t d = dayn(2026, 12, 24);

	add_cal("c", "[{'date': '2026-12-24'}]");
	s = must_wire("{'timezone': 'UTC', 'weekly': [{'day': 4, 'start': "
		      "'09:00', 'end': '10:00'}], 'holidays': ['c']}");
	/* The wire form names the calendar only. */
	pack_wire(&w, s);
	expect_packed(&w, "{'timezone': 'UTC', 'weekly': [{'day': 4, "
			  "'start': '09:00', 'end': '10:00'}], 'overrides': "
			  "[], 'holidays': ['c']}");
	/* The full form carries the dates and reads back alone. */
	pack_sched(&full, s);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(msgpack_unpack_next(&u, full.data, full.size, NULL),
			 MSGPACK_UNPACK_SUCCESS);
	ck_assert_int_eq(sched_parse(&u.data, &s2, err, sizeof(err)), 0);
	/* A caller cannot hand in the resolved dates. */
	ck_assert_int_eq(
	    sched_parse_wire(&u.data, resolve, NULL, &s3, err, sizeof(err)),
	    -EINVAL);
	ck_assert_str_eq(err, "holiday_days: unknown field");
	msgpack_unpacked_destroy(&u);
	pack_sched(&again, s2);
	ck_assert_uint_eq(again.size, full.size);
	ck_assert_int_eq(memcmp(again.data, full.data, full.size), 0);
	msgpack_sbuffer_destroy(&again);
	msgpack_sbuffer_destroy(&full);
	expect_bits(s2, d, 0, 0, 0, 0);
	expect_bits(s2, d + 7, 36, 40, 0, 0);
	/* The calendar changes: a rebind sees it, the old copy does not. */
	clear_cals();
	add_cal("c", "[{'date': '2026-12-31'}]");
	ck_assert_int_eq(sched_rebind(s2, resolve, NULL, &s3, err, sizeof(err)),
			 0);
	expect_bits(s3, d, 36, 40, 0, 0);
	expect_bits(s3, d + 7, 0, 0, 0, 0);
	expect_bits(s2, d, 0, 0, 0, 0);
	sched_free(s3);
	/* Gone: the rebind and a new parse name it. */
	clear_cals();
	ck_assert_int_eq(sched_rebind(s2, resolve, NULL, &s3, err, sizeof(err)),
			 -ENOENT);
	ck_assert_str_eq(err, "holidays[0]: no holiday calendar 'c'");
	ck_assert_int_eq(parse_as(1,
				  "{'timezone': 'UTC', 'weekly': [], "
				  "'holidays': ['c']}",
				  &p, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_null(p);
	sched_free(s);
	sched_free(s2);
}
END_TEST

START_TEST(holidays_calendar_form)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct hcal *h;

	add_cal("x", "[{'date': '2027-01-01', 'windows': [{'start': '12:00', "
		     "'end': '14:00'}, {'start': '10:00', 'end': '12:00'}]},"
		     "{'date': '2026-12-25'}]");
	h = cals[0];
	ck_assert_uint_eq(hcal_count(h), 2);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	hcal_pack(h, &pk);
	expect_packed(&sb, "[{'date': '2026-12-25'}, {'date': '2027-01-01', "
			   "'windows': [{'start': '10:00', 'end': "
			   "'14:00'}]}]");
	clear_cals();
}
END_TEST

static const struct {
	int how; /* as parse_as() */
	const char *json, *msg;
} hbad[] = {
    {0, "{}", "dates: not an array"},
    {0, "[{'date': '2026-02-30'}]",
     "dates[0].date: not a valid date \"YYYY-MM-DD\""},
    {0, "[{}]", "dates[0].date: required"},
    {0, "[{'date': '2026-12-24', 'close': true}]",
     "dates[0].close: unknown field"},
    {0, "[{'date': '2026-12-24', 'windows': {}}]",
     "dates[0].windows: not an array"},
    {0,
     "[{'date': '2026-12-24'}, {'date': '2026-12-25'}, "
     "{'date': '2026-12-24'}]",
     "dates[2].date: same date as dates[0]"},
    {0,
     "[{'date': '2026-12-24', 'windows': [{'start': '10:00', 'end': "
     "'09:00'}]}]",
     "dates[0].windows[0].end: not after start"},
    {1, "{'timezone': 'UTC', 'weekly': [], 'holidays': 'x'}",
     "holidays: not an array"},
    {1, "{'timezone': 'UTC', 'weekly': [], 'holidays': ['Bad!']}",
     "holidays[0]: not a holiday calendar id (a slug)"},
    {1, "{'timezone': 'UTC', 'weekly': [], 'holidays': ['a', 'a']}",
     "holidays[1]: 'a' listed twice"},
    {1,
     "{'timezone': 'UTC', 'weekly': [], 'holidays': ['a', 'b', 'c', 'd',"
     " 'e', 'f', 'g', 'h', 'i']}",
     "holidays: more than 8 holiday calendars"},
    {2,
     "{'timezone': 'UTC', 'weekly': [], 'holiday_days': [[5, 0, 0], "
     "[4, 0, 0]]}",
     "holiday_days[1]: mask out of range or day out of order"},
    {2,
     "{'timezone': 'UTC', 'weekly': [], 'holiday_days': "
     "[[9999999999, 0, 0]]}",
     "holiday_days[0]: day out of range"},
    {2,
     "{'timezone': 'UTC', 'weekly': [], 'holiday_days': [[1, 0, "
     "4294967296]]}",
     "holiday_days[0]: mask out of range or day out of order"},
    {2, "{'timezone': 'UTC', 'weekly': [], 'holiday_days': [[1, 0]]}",
     "holiday_days[0]: not [day, lo, hi]"},
};

START_TEST(holidays_malformed)
{
	void *out = (void *)1;
	char err[256];

	ck_assert_int_eq(
	    parse_as(hbad[_i].how, hbad[_i].json, &out, err, sizeof(err)),
	    -EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(err, hbad[_i].msg);
}
END_TEST

START_TEST(holidays_limits)
{
	/* The most dates and windows a calendar takes, and one more. */
	static char buf[1 << 17];
	size_t n = 0;
	void *h = NULL;
	char err[256];

	append(buf, sizeof(buf), &n, "[");
	for (int i = 0; i < HCAL_MAX_DATES; i++) {
		char date[11];
		q_format_date(dayn(2027, 1, 1) + i, date);
		append(buf, sizeof(buf), &n, "%s{'date': '%s', 'windows': [",
		       i ? "," : "", date);
		for (int j = 0; j < HCAL_MAX_WINDOWS; j++)
			append(buf, sizeof(buf), &n,
			       "%s{'start': '%02d:00', 'end': '%02d:30'}",
			       j ? "," : "", j * 2, j * 2);
		append(buf, sizeof(buf), &n, "]}");
	}
	append(buf, sizeof(buf), &n, "]");
	ck_assert_msg(parse_as(0, buf, &h, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(hcal_count(h), HCAL_MAX_DATES);
	hcal_free(h);
	buf[n - 1] = 0;
	n--;
	append(buf, sizeof(buf), &n, ",{'date': '2030-01-01'}]");
	ck_assert_int_eq(parse_as(0, buf, &h, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "dates: more than 400 dates");
	n = 0;
	append(buf, sizeof(buf), &n, "[{'date': '2027-01-01', 'windows': [");
	for (int j = 0; j <= HCAL_MAX_WINDOWS; j++)
		append(buf, sizeof(buf), &n,
		       "%s{'start': '%02d:00', 'end': '%02d:30'}", j ? "," : "",
		       j, j);
	append(buf, sizeof(buf), &n, "]}]");
	ck_assert_int_eq(parse_as(0, buf, &h, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "dates[0].windows: more than 8 windows");
}
END_TEST

static Suite *sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("sched");

	tcase_add_test(tc, berlin_office_hours);
	tcase_add_test(tc, switch_days_stay_local);
	tcase_add_test(tc, overrides);
	tcase_add_test(tc, end_of_day);
	tcase_add_test(tc, auckland_monday_is_sunday_in_utc);
	tcase_add_test(tc, far_east_and_half_hours);
	tcase_add_test(tc, midnight_inside_a_gap);
	tcase_add_test(tc, lmt_rounds_inward);
	tcase_add_test(tc, windows_in_gaps_and_folds);
	tcase_add_loop_test(
	    tc, sweep_year, 0,
	    (int)(sizeof(sweep_zones) / sizeof(sweep_zones[0])));
	tcase_add_test(tc, local_windows_capacity);
	tcase_add_test(tc, canonical_form);
	tcase_add_test(tc, limits_accepted);
	tcase_add_loop_test(tc, malformed, 0,
			    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, malformed_limits);
	tcase_add_test(tc, small_error_buffers);
	tcase_add_test(tc, holidays_precedence);
	tcase_add_test(tc, holidays_several_calendars_intersect);
	tcase_add_test(tc, holidays_forms_and_rebind);
	tcase_add_test(tc, holidays_calendar_form);
	tcase_add_loop_test(tc, holidays_malformed, 0,
			    (int)(sizeof(hbad) / sizeof(hbad[0])));
	tcase_add_test(tc, holidays_limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(sched_suite());
}

/*
 * test_tz.c - unit tests of proto/tz: TZif parsing, the POSIX footer, and
 * the conversions, checked against glibc's own reading of the same files.
 *
 * glibc is the oracle: this test process (never the library) sets TZ and
 * calls tzset()/localtime_r() and compares tm_gmtoff with tz_offset_at()
 * over 1990-2035 for the zones bookd's users meet, and over 1970-2040 for
 * every zone in the system's database.  Hostile files are built in memory:
 * every truncation of a real file, byte flips, and hand-made corruptions.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "suite_main.h"
#include "quanta.h"
#include "tz.h"

#define H 3600

static int64_t at(int y, unsigned mo, unsigned d, int h, int mi)
{
	return q_days_from_civil(y, mo, d) * DAY_SECONDS + h * H + mi * 60;
}

static int64_t dayn(int y, unsigned mo, unsigned d)
{
	return q_days_from_civil(y, mo, d);
}

static const struct tz *zone(const char *name)
{
	const struct tz *z = NULL;
	int rc = tz_get(name, &z);

	ck_assert_msg(rc == 0, "tz_get(%s): %s", name, tz_strerror(rc));
	ck_assert_ptr_nonnull(z);
	return z;
}

static void glibc_zone(const char *tzval)
{
	ck_assert_int_eq(setenv("TZ", tzval, 1), 0);
	tzset();
}

static long glibc_off(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	/* Hot loops call this: Check records every passing ck_assert, so
	 * only a failure goes through it. */
	if (localtime_r(&tt, &tm) == NULL)
		ck_abort_msg("localtime_r(%lld) failed", (long long)t);
	return tm.tm_gmtoff;
}

struct mismatch {
	int count;
	int64_t t;
	long want, got;
};

static void note(struct mismatch *m, const struct tz *z, int64_t t)
{
	long want = glibc_off(t), got = (long)tz_offset_at(z, t);

	if (want != got && m->count++ == 0) {
		m->t = t;
		m->want = want;
		m->got = got;
	}
}

/*
 * Compare with glibc every `step` seconds over [from, to), and on both sides
 * of every change of glibc's offset, found by bisection, so each transition
 * instant is checked to the second.
 */
static void compare_range(const struct tz *z, int64_t from, int64_t to,
			  int64_t step, struct mismatch *m)
{
	int64_t prev_t = from;
	long prev = glibc_off(from);

	for (int64_t t = from; t < to; t += step) {
		long g = glibc_off(t);
		if (g != prev) {
			int64_t lo = prev_t, hi = t;
			while (hi - lo > 1) {
				int64_t mid = lo + (hi - lo) / 2;
				if (glibc_off(mid) == prev)
					lo = mid;
				else
					hi = mid;
			}
			note(m, z, lo);
			note(m, z, hi);
		}
		note(m, z, t);
		prev = g;
		prev_t = t;
	}
}

static void oracle(const char *name, int64_t from, int64_t to, int64_t step)
{
	struct mismatch m = {0};
	char tzval[TZ_NAME_MAX + 2];
	const struct tz *z = zone(name);

	snprintf(tzval, sizeof(tzval), ":%s", name);
	glibc_zone(tzval);
	compare_range(z, from, to, step, &m);
	ck_assert_msg(m.count == 0,
		      "%s: %d mismatches, first at %lld: glibc %ld, tz %ld",
		      name, m.count, (long long)m.t, m.want, m.got);
}

static const char *const main_zones[] = {
    "Europe/Berlin",	   "America/New_York",
    "Pacific/Auckland",	   "Pacific/Kiritimati",
    "America/St_Johns",	   "Asia/Kathmandu",
    "Australia/Lord_Howe", "UTC",
};
#define NMAIN (int)(sizeof(main_zones) / sizeof(main_zones[0]))

/* Every ~3 hours (not a divisor of a day, so all hours get visited). */
START_TEST(oracle_main_zones)
{
	oracle(main_zones[_i], at(1990, 1, 1, 0, 0), at(2036, 1, 1, 0, 0),
	       3 * H - 1);
}
END_TEST

/* Zones with rule times past 24:00 or negative, negative DST, midnight
 * transitions, and recent rule changes. */
static const char *const odd_zones[] = {
    "Asia/Jerusalem",	"America/Nuuk",	     "America/Santiago",
    "Europe/Dublin",	"Africa/Casablanca", "Pacific/Chatham",
    "Antarctica/Troll", "Asia/Gaza",	     "America/Havana",
    "Pacific/Apia",	"Asia/Tehran",	     "America/Asuncion",
};
#define NODD (int)(sizeof(odd_zones) / sizeof(odd_zones[0]))

START_TEST(oracle_odd_zones)
{
	oracle(odd_zones[_i], at(1990, 1, 1, 0, 0), at(2041, 1, 1, 0, 0),
	       3 * H - 1);
}
END_TEST

/* Every zone file of the system, 1970-2040, sampled every ~5 days plus
 * every transition glibc sees. */
static char **all_names;
static size_t all_n, all_cap;
static size_t dir_len;

static int collect(const char *path, const struct stat *st, int flag,
		   struct FTW *ftw)
{
	const char *rel = path + dir_len + 1;
	char magic[4];
	int fd;

	(void)st;
	(void)ftw;
	if (flag != FTW_F || strlen(path) <= dir_len ||
	    strncmp(rel, "right/", 6) == 0 || strncmp(rel, "posix/", 6) == 0 ||
	    !tz_name_valid(rel))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0) {
		if (all_n == all_cap) {
			all_cap = all_cap ? 2 * all_cap : 512;
			all_names = reallocarray(all_names, all_cap,
						 sizeof(*all_names));
			ck_assert_ptr_nonnull(all_names);
		}
		all_names[all_n] = strdup(rel);
		ck_assert_ptr_nonnull(all_names[all_n]);
		all_n++;
	}
	close(fd);
	return 0;
}

START_TEST(oracle_every_zone)
{
	int bad = 0;
	char first[200] = "";

	dir_len = strlen(TZ_DIR);
	ck_assert_int_eq(nftw(TZ_DIR, collect, 16, FTW_PHYS), 0);
	ck_assert_msg(all_n > 300, "only %zu zone files found", all_n);
	for (size_t i = 0; i < all_n; i++) {
		struct mismatch m = {0};
		char tzval[TZ_NAME_MAX + 2];
		const struct tz *z = zone(all_names[i]);

		snprintf(tzval, sizeof(tzval), ":%s", all_names[i]);
		glibc_zone(tzval);
		compare_range(z, at(1970, 1, 1, 0, 0), at(2041, 1, 1, 0, 0),
			      5 * DAY_SECONDS + 7 * H + 1, &m);
		if (m.count && bad++ == 0)
			snprintf(first, sizeof(first),
				 "%s at %lld: glibc %ld, tz %ld", all_names[i],
				 (long long)m.t, m.want, m.got);
		free(all_names[i]);
	}
	free(all_names);
	ck_assert_msg(bad == 0, "%d zones disagree with glibc, first %s", bad,
		      first);
}
END_TEST

/* Names. */

START_TEST(names)
{
	static const char *const good[] = {
	    "UTC",
	    "Europe/Berlin",
	    "America/Argentina/Buenos_Aires",
	    "Etc/GMT+5",
	    "America/Port-au-Prince",
	    "a",
	};
	static const char *const bad[] = {
	    "",
	    "/etc/passwd",
	    "../etc/passwd",
	    "Europe/../../etc/passwd",
	    "Europe//Berlin",
	    "Europe/",
	    "/",
	    "Europe/Berlin ",
	    "zone.tab",
	    "Europe\\Berlin",
	    "Eu\nrope",
	    /* 65 bytes */
	    "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	const struct tz *z = (const struct tz *)1;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(tz_name_valid(good[i]), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(!tz_name_valid(bad[i]), "%s", bad[i]);
		ck_assert_int_eq(tz_get(bad[i], &z), -EINVAL);
		ck_assert_ptr_null(z);
	}
	/* 64 bytes is the limit. */
	ck_assert(tz_name_valid("Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				"aaaaaaaaaaaaaaaaaa"));
	ck_assert_int_eq(tz_get("Mars/Olympus", &z), -ENOENT);
	ck_assert_int_eq(tz_get("Europe", &z), -ENOENT); /* a directory */
	ck_assert_int_eq(tz_get("Europe/Berlin/x", &z), -ENOENT);
	ck_assert_ptr_null(z);
	/* A file in the database directory that is not TZif. */
	ck_assert_int_eq(tz_get("leapseconds", &z), -EBADMSG);
	/* Leap-second zones count TAI-like seconds, not Unix time. */
	if (access(TZ_DIR "/right/UTC", R_OK) == 0)
		ck_assert_int_eq(tz_get("right/UTC", &z), -EBADMSG);
	ck_assert_str_ne(tz_strerror(-EINVAL), tz_strerror(-ENOENT));
	ck_assert_str_ne(tz_strerror(-ENOENT), tz_strerror(-EBADMSG));
	ck_assert_str_ne(tz_strerror(-EBADMSG), tz_strerror(-EACCES));
}
END_TEST

START_TEST(utc_builtin_and_cache)
{
	const struct tz *a = zone("UTC"), *b = zone("Etc/UTC");
	const struct tz *c = zone("Europe/Berlin"), *d = zone("Europe/Berlin");

	ck_assert_str_eq(tz_name(a), "UTC");
	ck_assert_str_eq(tz_name(b), "Etc/UTC");
	ck_assert_str_eq(tz_name(c), "Europe/Berlin");
	ck_assert_ptr_eq(c, d);
	for (int64_t t = -4 * DAY_SECONDS; t < at(2100, 1, 1, 0, 0);
	     t += 97 * DAY_SECONDS + 1) {
		ck_assert_int_eq(tz_offset_at(a, t), 0);
		ck_assert_int_eq(tz_offset_at(b, t), 0);
		ck_assert_int_eq(tz_local_day_of(a, t), q_day_of(t));
	}
	ck_assert_int_eq(tz_local_to_utc(a, 20000, 3600),
			 20000LL * 86400 + 3600);
}
END_TEST

/* Local days. */

static void check_day(const char *name, int y, unsigned mo, unsigned d,
		      int64_t want_start, int hours_x2)
{
	const struct tz *z = zone(name);
	int64_t s, e;

	tz_local_day(z, dayn(y, mo, d), &s, &e);
	ck_assert_msg(s == want_start,
		      "%s %d-%02u-%02u starts at %lld, not %lld", name, y, mo,
		      d, (long long)s, (long long)want_start);
	ck_assert_msg(e - s == hours_x2 * H / 2,
		      "%s %d-%02u-%02u is %lld s long, not %d half hours", name,
		      y, mo, d, (long long)(e - s), hours_x2);
}

START_TEST(day_lengths)
{
	check_day("Europe/Berlin", 2026, 3, 29, at(2026, 3, 28, 23, 0), 46);
	check_day("Europe/Berlin", 2026, 10, 25, at(2026, 10, 24, 22, 0), 50);
	check_day("Europe/Berlin", 2026, 7, 1, at(2026, 6, 30, 22, 0), 48);
	check_day("Europe/Berlin", 2026, 1, 15, at(2026, 1, 14, 23, 0), 48);
	check_day("America/New_York", 2026, 3, 8, at(2026, 3, 8, 5, 0), 46);
	check_day("America/New_York", 2026, 11, 1, at(2026, 11, 1, 4, 0), 50);
	check_day("America/St_Johns", 2026, 3, 8, at(2026, 3, 8, 3, 30), 46);
	check_day("America/St_Johns", 2026, 11, 1, at(2026, 11, 1, 2, 30), 50);
	check_day("Pacific/Auckland", 2026, 9, 27, at(2026, 9, 26, 12, 0), 46);
	check_day("Pacific/Auckland", 2026, 4, 5, at(2026, 4, 4, 11, 0), 50);
	/* Lord Howe moves by half an hour. */
	check_day("Australia/Lord_Howe", 2026, 10, 4, at(2026, 10, 3, 13, 30),
		  47);
	check_day("Australia/Lord_Howe", 2026, 4, 5, at(2026, 4, 4, 13, 0), 49);
	check_day("Asia/Kathmandu", 2026, 1, 1, at(2025, 12, 31, 18, 15), 48);
	/* Santiago springs forward at 24:00: Sunday starts at 01:00. */
	check_day("America/Santiago", 2026, 9, 5, at(2026, 9, 5, 4, 0), 48);
	check_day("America/Santiago", 2026, 9, 6, at(2026, 9, 6, 4, 0), 46);
	/* Kiritimati skipped 1994-12-31 entirely. */
	check_day("Pacific/Kiritimati", 1994, 12, 31, at(1994, 12, 31, 10, 0),
		  0);
	check_day("Pacific/Kiritimati", 1995, 1, 1, at(1994, 12, 31, 10, 0),
		  48);
	/* Toronto sprang from 23:30 to 00:30 in 1919: Monday began at the
	 * transition, 23.5 hours before Tuesday. */
	check_day("America/Toronto", 1919, 3, 31, at(1919, 3, 31, 4, 30), 47);
	ck_assert_int_eq(
	    tz_local_to_utc(zone("America/Toronto"), dayn(1919, 3, 31), 0),
	    at(1919, 3, 31, 5, 0));
	/* 2030 comes from the footer rule alone. */
	check_day("Europe/Berlin", 2030, 3, 31, at(2030, 3, 30, 23, 0), 46);
	check_day("America/New_York", 2030, 11, 3, at(2030, 11, 3, 4, 0), 50);
}
END_TEST

START_TEST(slots_per_day)
{
	/* A local day in quanta: 92, 96 and 100 slots. */
	static const struct {
		const char *zone;
		int y;
		unsigned m, d;
		int slots;
	} cases[] = {
	    {"Europe/Berlin", 2026, 3, 29, 92},
	    {"Europe/Berlin", 2026, 10, 25, 100},
	    {"Europe/Berlin", 2026, 3, 30, 96},
	    {"America/New_York", 2026, 3, 8, 92},
	    {"America/New_York", 2026, 11, 1, 100},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t s, e;
		tz_local_day(zone(cases[i].zone),
			     dayn(cases[i].y, cases[i].m, cases[i].d), &s, &e);
		ck_assert(q_aligned(s) && q_aligned(e));
		ck_assert_int_eq((e - s) / Q_SECONDS, cases[i].slots);
	}
}
END_TEST

START_TEST(kiritimati_weekdays)
{
	const struct tz *z = zone("Pacific/Kiritimati");
	/* Sunday 2026-03-01 10:00 UTC is Monday 00:00 on Kiritimati. */
	int64_t t = at(2026, 3, 1, 10, 0), s, e;

	ck_assert_int_eq(tz_offset_at(z, t), 14 * H);
	ck_assert_int_eq(q_weekday(q_day_of(t)), 7);
	ck_assert_int_eq(tz_local_day_of(z, t), dayn(2026, 3, 2));
	ck_assert_int_eq(q_weekday(tz_local_day_of(z, t)), 1);
	ck_assert_int_eq(tz_local_day_of(z, t - 1), dayn(2026, 3, 1));
	ck_assert_int_eq(q_weekday(tz_local_day_of(z, t - 1)), 7);
	tz_local_day(z, dayn(2026, 3, 2), &s, &e);
	ck_assert_int_eq(s, t);
	ck_assert_int_eq(e, t + DAY_SECONDS);
	/* Before 1995 it was UTC-10: Sunday 09:59 UTC was Saturday. */
	t = at(1994, 3, 6, 9, 59);
	ck_assert_int_eq(tz_offset_at(z, t), -10 * H);
	ck_assert_int_eq(q_weekday(tz_local_day_of(z, t)), 6);
}
END_TEST

START_TEST(half_hour_offsets)
{
	const struct tz *sj = zone("America/St_Johns");
	const struct tz *kt = zone("Asia/Kathmandu");
	const struct tz *lh = zone("Australia/Lord_Howe");

	ck_assert_int_eq(tz_offset_at(sj, at(2026, 1, 15, 12, 0)),
			 -(3 * H + 1800));
	ck_assert_int_eq(tz_offset_at(sj, at(2026, 7, 15, 12, 0)),
			 -(2 * H + 1800));
	ck_assert_int_eq(tz_local_to_utc(sj, dayn(2026, 1, 15), 9 * H),
			 at(2026, 1, 15, 12, 30));
	ck_assert_int_eq(tz_local_to_utc(sj, dayn(2026, 7, 15), 9 * H),
			 at(2026, 7, 15, 11, 30));
	/* 00:00 local in St John's is 03:30 UTC: the same UTC day. */
	ck_assert_int_eq(tz_local_day_of(sj, at(2026, 1, 15, 3, 29)),
			 dayn(2026, 1, 14));
	ck_assert_int_eq(tz_local_day_of(sj, at(2026, 1, 15, 3, 30)),
			 dayn(2026, 1, 15));
	ck_assert_int_eq(tz_offset_at(kt, at(2026, 6, 1, 0, 0)), 5 * H + 2700);
	ck_assert_int_eq(tz_local_to_utc(kt, dayn(2026, 6, 1), 9 * H),
			 at(2026, 6, 1, 3, 15));
	ck_assert_int_eq(tz_offset_at(lh, at(2026, 1, 15, 0, 0)), 11 * H);
	ck_assert_int_eq(tz_offset_at(lh, at(2026, 7, 15, 0, 0)),
			 10 * H + 1800);
}
END_TEST

/* Wall time to UTC. */

START_TEST(gaps_and_folds)
{
	const struct tz *be = zone("Europe/Berlin");
	const struct tz *ny = zone("America/New_York");
	const struct tz *lh = zone("Australia/Lord_Howe");
	int64_t d;

	/* Berlin spring: 02:00 -> 03:00 at 01:00 UTC.  02:30 moves to 03:30. */
	d = dayn(2026, 3, 29);
	ck_assert_int_eq(tz_local_to_utc(be, d, 1 * H + 1800),
			 at(2026, 3, 29, 0, 30));
	ck_assert_int_eq(tz_local_to_utc(be, d, 2 * H), at(2026, 3, 29, 1, 0));
	ck_assert_int_eq(tz_local_to_utc(be, d, 2 * H + 1800),
			 at(2026, 3, 29, 1, 30));
	ck_assert_int_eq(tz_offset_at(be, at(2026, 3, 29, 1, 30)), 2 * H);
	ck_assert_int_eq(tz_local_to_utc(be, d, 3 * H), at(2026, 3, 29, 1, 0));
	ck_assert_int_eq(tz_local_to_utc(be, d, 9 * H), at(2026, 3, 29, 7, 0));
	/* Berlin autumn: 03:00 -> 02:00 at 01:00 UTC.  02:30 is the CEST one.
	 */
	d = dayn(2026, 10, 25);
	ck_assert_int_eq(tz_local_to_utc(be, d, 2 * H + 1800),
			 at(2026, 10, 25, 0, 30));
	ck_assert_int_eq(tz_local_to_utc(be, d, 2 * H), at(2026, 10, 25, 0, 0));
	ck_assert_int_eq(tz_local_to_utc(be, d, 3 * H), at(2026, 10, 25, 2, 0));
	ck_assert_int_eq(tz_local_to_utc(be, d, 9 * H), at(2026, 10, 25, 8, 0));
	/* New York. */
	ck_assert_int_eq(tz_local_to_utc(ny, dayn(2026, 3, 8), 2 * H + 1800),
			 at(2026, 3, 8, 7, 30));
	ck_assert_int_eq(tz_local_to_utc(ny, dayn(2026, 11, 1), 1 * H + 1800),
			 at(2026, 11, 1, 5, 30));
	/* Lord Howe's half-hour gap: 02:15 moves to 02:45 (+11). */
	ck_assert_int_eq(tz_local_to_utc(lh, dayn(2026, 10, 4), 2 * H + 900),
			 at(2026, 10, 3, 15, 45));
	/* Seconds past 24:00 continue into the next day. */
	ck_assert_int_eq(tz_local_to_utc(be, dayn(2026, 1, 15), 24 * H + 60),
			 tz_local_to_utc(be, dayn(2026, 1, 16), 60));
}
END_TEST

/*
 * Round trip over the main zones: for quarter-aligned instants u, the wall
 * time L of u converts back to an instant r <= u whose wall time is also L
 * (r < u only in a fold), and u lies inside its local day unless it is the
 * second pass of a fold: St John's fell back at 00:01 until 2011, so the
 * repeated hour belongs to the previous date but follows the next day's
 * start.
 */
START_TEST(round_trip)
{
	const struct tz *z = zone(main_zones[_i]);

	for (int64_t u = at(1990, 1, 1, 0, 0); u < at(2036, 1, 1, 0, 0);
	     u += 3 * H + 900) {
		int64_t L = u + tz_offset_at(z, u), r, s, e;
		int64_t ld = q_floor_div(L, DAY_SECONDS);

		r = tz_local_to_utc(z, ld, (int32_t)(L - ld * DAY_SECONDS));
		if (r + tz_offset_at(z, r) != L || r > u ||
		    (r < u && tz_offset_at(z, r) <= tz_offset_at(z, u)))
			ck_abort_msg("%s: %lld -> %lld", main_zones[_i],
				     (long long)u, (long long)r);
		if (tz_local_day_of(z, u) != ld)
			ck_abort_msg("%s: %lld: local day", main_zones[_i],
				     (long long)u);
		tz_local_day(z, ld, &s, &e);
		if (!(s <= u && u < e) && r == u)
			ck_abort_msg("%s: %lld not in its day", main_zones[_i],
				     (long long)u);
	}
}
END_TEST

/* Synthetic TZif files. */

struct ttype {
	int32_t off;
	uint8_t isdst, desig;
};

struct spec {
	int version; /* 0 (v1), '2', '3', '4' */
	int ntrans;
	const int64_t *trans;
	const uint8_t *idx;
	int ntypes;
	const struct ttype *types;
	const char *chars; /* abbreviations with their NULs */
	int nchars;
	const char *footer; /* v2+: the TZ string without newlines */
};

static unsigned char *put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return p + 4;
}

static unsigned char *put_hdr(unsigned char *p, int version, uint32_t ntrans,
			      uint32_t ntypes, uint32_t nchars)
{
	memcpy(p, "TZif", 4);
	p[4] = (unsigned char)version;
	memset(p + 5, 0, 15);
	p = put32(p + 20, 0); /* isut */
	p = put32(p, 0);      /* isstd */
	p = put32(p, 0);      /* leap */
	p = put32(p, ntrans);
	p = put32(p, ntypes);
	return put32(p, nchars);
}

static unsigned char *put_block(unsigned char *p, const struct spec *s,
				int tsize)
{
	for (int i = 0; i < s->ntrans; i++) {
		if (tsize == 8) {
			p = put32(p, (uint32_t)((uint64_t)s->trans[i] >> 32));
			p = put32(p, (uint32_t)s->trans[i]);
		} else {
			p = put32(p, (uint32_t)s->trans[i]);
		}
	}
	for (int i = 0; i < s->ntrans; i++)
		*p++ = s->idx[i];
	for (int i = 0; i < s->ntypes; i++) {
		p = put32(p, (uint32_t)s->types[i].off);
		*p++ = s->types[i].isdst;
		*p++ = s->types[i].desig;
	}
	memcpy(p, s->chars, (size_t)s->nchars);
	return p + s->nchars;
}

/* Build the file into buf (4 KiB suffices for these specs); returns its
 * length. */
static size_t build(unsigned char *buf, const struct spec *s)
{
	unsigned char *p = buf;

	if (s->version == 0) {
		p = put_hdr(p, 0, (uint32_t)s->ntrans, (uint32_t)s->ntypes,
			    (uint32_t)s->nchars);
		p = put_block(p, s, 4);
		return (size_t)(p - buf);
	}
	/* A slim v1 block (no transitions, one type) as zic -b slim writes. */
	p = put_hdr(p, s->version, 0, 1, 1);
	p = put32(p, 0);
	*p++ = 0;
	*p++ = 0;
	*p++ = 0;
	p = put_hdr(p, s->version, (uint32_t)s->ntrans, (uint32_t)s->ntypes,
		    (uint32_t)s->nchars);
	p = put_block(p, s, 8);
	*p++ = '\n';
	memcpy(p, s->footer, strlen(s->footer));
	p += strlen(s->footer);
	*p++ = '\n';
	return (size_t)(p - buf);
}

static const struct ttype std_type[] = {{0, 0, 0}};

/* A zone that is nothing but its footer. */
static int footer_zone(const char *footer, struct tz **out)
{
	unsigned char buf[512];
	struct spec s = {'2', 0, NULL, NULL, 1, std_type, "XXX", 4, footer};

	return tz_parse(footer, buf, build(buf, &s), out);
}

START_TEST(footer_oracle)
{
	/* Each TZ string read by glibc as TZ and by us as a TZif footer. */
	static const char *const footers[] = {
	    "CET-1CEST,M3.5.0,M10.5.0/3",
	    "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
	    "EST5EDT,M3.2.0,M11.1.0",
	    "NZST-12NZDT,M9.5.0,M4.1.0/3",
	    "IST-1GMT0,M10.5.0,M3.5.0/1",
	    "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
	    "IST-2IDT,M3.4.4/26,M10.5.0",
	    "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
	    "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
	    "ABC3DEF,J60/2,J300/2",
	    "ABC3DEF,59/2,299/2",
	    "ABC+3:30DEF+2:30:15,M3.2.0/1:02:03,M11.1.0/-1:30:00",
	    "<+0545>-5:45",
	    "<+14>-14",
	    "UTC0",
	};
	for (size_t i = 0; i < sizeof(footers) / sizeof(footers[0]); i++) {
		struct mismatch m = {0};
		struct tz *z;
		int rc = footer_zone(footers[i], &z);

		ck_assert_msg(rc == 0, "%s: %s", footers[i], tz_strerror(rc));
		glibc_zone(footers[i]);
		/* glibc applies the rule dates of the instant's UTC year
		 * only, which agrees with us for every rule here; the
		 * all-year-DST rule, where it does not, is checked by value
		 * in footer_rule_forms. */
		compare_range(z, at(1990, 1, 1, 0, 0), at(2041, 1, 1, 0, 0),
			      3 * H - 1, &m);
		ck_assert_msg(m.count == 0,
			      "%s: %d mismatches, first at %lld: glibc %ld, "
			      "tz %ld",
			      footers[i], m.count, (long long)m.t, m.want,
			      m.got);
		tz_free(z);
	}
}
END_TEST

START_TEST(footer_rule_forms)
{
	struct tz *z;

	/* Jn never counts February 29: J60 is March 1 in every year. */
	ck_assert_int_eq(footer_zone("ABC3DEF,J60/0,J300/0", &z), 0);
	ck_assert_int_eq(tz_offset_at(z, at(2024, 3, 1, 3, 0) - 1), -3 * H);
	ck_assert_int_eq(tz_offset_at(z, at(2024, 3, 1, 3, 0)), -2 * H);
	ck_assert_int_eq(tz_offset_at(z, at(2023, 3, 1, 3, 0)), -2 * H);
	tz_free(z);
	/* n counts it: day 59 is February 29 in a leap year. */
	ck_assert_int_eq(footer_zone("ABC3DEF,59/0,299/0", &z), 0);
	ck_assert_int_eq(tz_offset_at(z, at(2024, 2, 29, 3, 0)), -2 * H);
	ck_assert_int_eq(tz_offset_at(z, at(2024, 2, 29, 3, 0) - 1), -3 * H);
	ck_assert_int_eq(tz_offset_at(z, at(2023, 3, 1, 3, 0)), -2 * H);
	tz_free(z);
	/* Jerusalem's "M3.4.4/26": Friday 02:00 after the fourth Thursday. */
	ck_assert_int_eq(footer_zone("IST-2IDT,M3.4.4/26,M10.5.0", &z), 0);
	ck_assert_int_eq(tz_offset_at(z, at(2026, 3, 27, 0, 0) - 1), 2 * H);
	ck_assert_int_eq(tz_offset_at(z, at(2026, 3, 27, 0, 0)), 3 * H);
	tz_free(z);
	/* All-year DST: the year's end meets the next year's start, and DST
	 * holds across New Year too (glibc 2.36 shows standard time for the
	 * first five hours of each UTC year here, so it is no oracle). */
	ck_assert_int_eq(footer_zone("EST5EDT4,0/0,J365/25", &z), 0);
	for (int y = 2020; y < 2032; y++) {
		ck_assert_int_eq(tz_offset_at(z, at(y, 1, 1, 0, 0)), -4 * H);
		ck_assert_int_eq(tz_offset_at(z, at(y, 1, 1, 5, 0)), -4 * H);
		ck_assert_int_eq(tz_offset_at(z, at(y, 7, 1, 0, 0)), -4 * H);
		ck_assert_int_eq(tz_offset_at(z, at(y, 12, 31, 23, 0)), -4 * H);
	}
	tz_free(z);
}
END_TEST

START_TEST(footer_invalid)
{
	static const char *const bad[] = {
	    "CET",
	    "CET-1CEST",
	    "CET-25",
	    "CE-1",
	    "<+1>-1",
	    "<+14-14",
	    "CET-1CEST,M13.1.0,M10.5.0",
	    "CET-1CEST,M0.1.0,M10.5.0",
	    "CET-1CEST,M3.6.0,M10.5.0",
	    "CET-1CEST,M3.0.0,M10.5.0",
	    "CET-1CEST,M3.5.7,M10.5.0",
	    "CET-1CEST,J0,J365",
	    "CET-1CEST,366,1",
	    "CET-1CEST,M3.5.0/168,M10.5.0",
	    "CET-1CEST,M3.5.0,M10.5.0/3 ",
	    "CET-1:60",
	    "CET-1:30:60",
	    "CET-1CEST,M3.5.0",
	    "CET-1CEST,M3.5.0,",
	    "CET-1CEST-25,J1,J2",
	    "CET-1CEST,M3.5.0/,M10.5.0",
	    "CET-1CEST,M3.5,M10.5.0",
	    "-1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tz *z = (struct tz *)1;
		ck_assert_msg(footer_zone(bad[i], &z) == -EBADMSG, "%s",
			      bad[i]);
		ck_assert_ptr_null(z);
	}
}
END_TEST

/*
 * Explicit transitions: a gap that starts before midnight (23:30 -> 00:30)
 * and a fold that goes back across midnight (00:30 -> 23:30), then a v1
 * file of the same data.
 */
START_TEST(explicit_transitions)
{
	static const struct ttype types[] = {{0, 0, 0}, {3600, 1, 4}};
	int64_t d0 = dayn(2020, 6, 1), d1 = dayn(2020, 9, 1);
	/* Gap: at d0 23:30 (offset 0) the clock jumps to d0+1 00:30.
	 * Fold: at d1 00:30 (offset +1) the clock goes back to d1-1 23:30. */
	int64_t trans[] = {d0 * DAY_SECONDS + 23 * H + 1800,
			   d1 * DAY_SECONDS - 1800};
	uint8_t idx[] = {1, 0};
	struct spec s = {'3', 2, trans, idx, 2, types, "AAA\0BBB", 8, "AAA0"};
	unsigned char buf[512];
	struct tz *z;
	int64_t st, en;

	for (int v = 0; v < 2; v++) {
		s.version = v ? 0 : '3';
		ck_assert_int_eq(tz_parse("X", buf, build(buf, &s), &z), 0);
		ck_assert_str_eq(tz_name(z), "X");
		ck_assert_int_eq(tz_offset_at(z, trans[0] - 1), 0);
		ck_assert_int_eq(tz_offset_at(z, trans[0]), 3600);
		ck_assert_int_eq(tz_offset_at(z, trans[1] - 1), 3600);
		ck_assert_int_eq(tz_offset_at(z, trans[1]), 0);
		/* The day after the gap starts at the transition (00:30),
		 * while 00:00 itself moves forward by the gap to 01:00. */
		tz_local_day(z, d0 + 1, &st, &en);
		ck_assert_int_eq(st, trans[0]);
		ck_assert_int_eq(en, (d0 + 2) * DAY_SECONDS - 3600);
		ck_assert_int_eq(tz_local_to_utc(z, d0 + 1, 0),
				 trans[0] + 1800);
		tz_local_day(z, d0, &st, &en);
		ck_assert_int_eq(st, d0 * DAY_SECONDS);
		ck_assert_int_eq(en, trans[0]);
		/* The fold: d1 00:00 first happens under +1; 23:45 of d1-1
		 * happens twice and the earlier one wins. */
		tz_local_day(z, d1, &st, &en);
		ck_assert_int_eq(st, d1 * DAY_SECONDS - 3600);
		ck_assert_int_eq(en, (d1 + 1) * DAY_SECONDS);
		ck_assert_int_eq(tz_local_to_utc(z, d1 - 1, 23 * H + 2700),
				 d1 * DAY_SECONDS - 3600 - 900);
		ck_assert_int_eq(tz_local_day_of(z, trans[1] - 1), d1);
		ck_assert_int_eq(tz_local_day_of(z, trans[1]), d1 - 1);
		tz_free(z);
	}
}
END_TEST

/* Hostile files. */

static unsigned char *read_all(const char *path, size_t *len)
{
	static unsigned char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	close(fd);
	*len = (size_t)n;
	return buf;
}

/* A zone that parsed from garbage must still answer within bounds. */
static void exercise(const struct tz *z)
{
	static const int64_t ts[] = {INT64_MIN,	 -(1LL << 40), -1,	 0,
				     1700000000, 1LL << 40,    INT64_MAX};
	int64_t s, e;

	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		int64_t o = tz_offset_at(z, ts[i]);
		if (o <= -26 * H || o >= 26 * H)
			ck_abort_msg("offset %lld", (long long)o);
		tz_local_day_of(z, ts[i]);
	}
	tz_local_day(z, 20000, &s, &e);
	if (s > e)
		ck_abort_msg("day %lld..%lld", (long long)s, (long long)e);
	tz_local_to_utc(z, 20000, 9 * H);
}

START_TEST(truncations_fail)
{
	size_t len;
	unsigned char *f = read_all(TZ_DIR "/Europe/Berlin", &len);
	struct tz *z;

	ck_assert_int_eq(tz_parse("B", f, len, &z), 0);
	exercise(z);
	tz_free(z);
	for (size_t n = 0; n < len; n++) {
		int rc = tz_parse("B", f, n, &z);
		if (rc != -EBADMSG || z != NULL)
			ck_abort_msg("prefix of %zu bytes: %d", n, rc);
	}
	/* Trailing bytes after the footer are corruption too. */
	{
		static unsigned char more[65537];
		memcpy(more, f, len);
		more[len] = 'x';
		ck_assert_int_eq(tz_parse("B", more, len + 1, &z), -EBADMSG);
	}
}
END_TEST

START_TEST(byte_flips_are_safe)
{
	const char *name =
	    _i ? TZ_DIR "/America/New_York" : TZ_DIR "/Europe/Berlin";
	size_t len;
	unsigned char *f = read_all(name, &len);
	int ok = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char orig = f[i];
		const unsigned char vals[] = {0x00, 0xff,
					      (unsigned char)(orig ^ 1),
					      (unsigned char)(orig ^ 0x80)};
		for (size_t k = 0; k < sizeof(vals); k++) {
			struct tz *z;
			f[i] = vals[k];
			if (tz_parse("F", f, len, &z) == 0) {
				exercise(z);
				tz_free(z);
				ok++;
			}
		}
		f[i] = orig;
	}
	/* Flips in abbreviations and most transition times still parse. */
	ck_assert_int_gt(ok, 0);
}
END_TEST

START_TEST(crafted_corruptions)
{
	static const struct ttype good_types[] = {{0, 0, 0}, {3600, 1, 4}};
	static const int64_t trans[] = {1000, 2000, 3000};
	static const uint8_t idx[] = {1, 0, 1};
	struct spec base = {'2',	3,	    trans, idx,	   2,
			    good_types, "AAA\0BBB", 8,	   "BBB-1"};
	unsigned char buf[1024];
	size_t len, v2;
	struct tz *z;

	len = build(buf, &base);
	ck_assert_int_eq(tz_parse("C", buf, len, &z), 0);
	ck_assert_int_eq(tz_offset_at(z, 999), 0);
	ck_assert_int_eq(tz_offset_at(z, 1000), 3600);
	ck_assert_int_eq(tz_offset_at(z, 2500), 0);
	ck_assert_int_eq(tz_offset_at(z, 1LL << 40), 3600);
	tz_free(z);
	/* The second header starts after the slim v1 block (44 + 6 + 1). */
	v2 = 51;
#define EXPECT_BAD(mutate)                                                     \
	do {                                                                   \
		unsigned char copy[1024];                                      \
		memcpy(copy, buf, len);                                        \
		{                                                              \
			unsigned char *c = copy;                               \
			mutate;                                                \
		}                                                              \
		ck_assert_msg(tz_parse("C", copy, len, &z) == -EBADMSG, "%s",  \
			      #mutate);                                        \
	} while (0)
	EXPECT_BAD(c[0] = 'X');			     /* magic */
	EXPECT_BAD(c[4] = '1');			     /* version */
	EXPECT_BAD(c[v2 + 4] = 0);		     /* v2 header says v1 */
	EXPECT_BAD(put32(c + v2 + 36, 0));	     /* no types */
	EXPECT_BAD(put32(c + v2 + 36, 300));	     /* too many types */
	EXPECT_BAD(put32(c + v2 + 40, 0));	     /* no abbreviations */
	EXPECT_BAD(put32(c + v2 + 32, 0xffffffffu)); /* huge count */
	EXPECT_BAD(put32(c + v2 + 28, 1));	     /* leap seconds */
	EXPECT_BAD(put32(c + v2 + 24, 1));	     /* isstd != types */
	EXPECT_BAD(put32(c + 32, 0x10000000u));	     /* v1 block too big */
	EXPECT_BAD(c[v2 + 44 + 8 * 1 + 7] = 0xe8;
		   c[v2 + 44 + 8 * 1 + 6] = 0x02);	/* 2000 -> 744 */
	EXPECT_BAD(c[v2 + 44 + 24 + 2] = 2);		/* type index */
	EXPECT_BAD(c[v2 + 44 + 27 + 6 + 5] = 8);	/* abbreviation index */
	EXPECT_BAD(c[v2 + 44 + 27 + 6 + 4] = 2);	/* isdst not 0/1 */
	EXPECT_BAD(c[v2 + 44 + 27 + 12 + 7] = 'x');	/* abbreviation NUL */
	EXPECT_BAD(put32(c + v2 + 44 + 27 + 6, 93600)); /* offset >= 26 h */
	EXPECT_BAD(put32(c + v2 + 44 + 27 + 6, 0x80000000u));
	EXPECT_BAD(c[len - 1] = 'x');		    /* footer newline */
	EXPECT_BAD(c[v2 + 44 + 27 + 12 + 8] = 'x'); /* footer start */
	EXPECT_BAD(c[len - 3] = '\n');		    /* newline inside */
#undef EXPECT_BAD
	/* Type index, abbreviation and offset checks apply to v1 too. */
	base.version = 0;
	len = build(buf, &base);
	ck_assert_int_eq(tz_parse("C", buf, len, &z), 0);
	tz_free(z);
	buf[44 + 12 + 1] = 5;
	ck_assert_int_eq(tz_parse("C", buf, len, &z), -EBADMSG);
	ck_assert_int_eq(tz_parse("C", buf, len - 1, &z), -EBADMSG);
}
END_TEST

START_TEST(extreme_inputs)
{
	const struct tz *z = zone("Europe/Berlin");
	int64_t s, e, r;

	r = tz_offset_at(z, INT64_MAX);
	ck_assert(r == 3600 || r == 7200);
	ck_assert_int_eq(tz_offset_at(z, INT64_MIN), 3208); /* LMT */
	tz_local_day(z, INT64_MAX, &s, &e);
	ck_assert_int_le(s, e);
	tz_local_day(z, INT64_MIN, &s, &e);
	ck_assert_int_le(s, e);
	r = tz_local_to_utc(z, INT64_MAX, INT32_MAX);
	ck_assert_int_gt(r, 0);
	r = tz_local_to_utc(z, INT64_MIN, INT32_MIN);
	ck_assert_int_lt(r, 0);
	ck_assert_int_gt(tz_local_day_of(z, INT64_MAX), 0);
	ck_assert_int_lt(tz_local_day_of(z, INT64_MIN), 0);
}
END_TEST

/* Threads: many zones at once, each thread loading through the cache. */

#define NTHREADS 8
#define NSAMPLES 4000

struct job {
	const char *name;
	long want[NSAMPLES];
	int bad;
};

static int64_t sample_t(int i)
{
	return at(1995, 1, 1, 0, 0) + (int64_t)i * (DAY_SECONDS * 3 + 4321);
}

static void *run_job(void *arg)
{
	struct job *j = arg;
	const struct tz *z;

	for (int round = 0; round < 5; round++) {
		if (tz_get(j->name, &z) != 0) {
			j->bad++;
			return NULL;
		}
		for (int i = 0; i < NSAMPLES; i++)
			if (tz_offset_at(z, sample_t(i)) != j->want[i])
				j->bad++;
	}
	return NULL;
}

START_TEST(threads)
{
	static struct job jobs[NTHREADS];
	pthread_t th[NTHREADS];
	char tzval[TZ_NAME_MAX + 2];

	for (int k = 0; k < NTHREADS; k++) {
		jobs[k].name = main_zones[k % NMAIN];
		jobs[k].bad = 0;
		snprintf(tzval, sizeof(tzval), ":%s", jobs[k].name);
		glibc_zone(tzval);
		for (int i = 0; i < NSAMPLES; i++)
			jobs[k].want[i] = glibc_off(sample_t(i));
	}
	for (int k = 0; k < NTHREADS; k++)
		ck_assert_int_eq(
		    pthread_create(&th[k], NULL, run_job, &jobs[k]), 0);
	for (int k = 0; k < NTHREADS; k++) {
		ck_assert_int_eq(pthread_join(th[k], NULL), 0);
		ck_assert_msg(jobs[k].bad == 0, "%s: %d wrong", jobs[k].name,
			      jobs[k].bad);
	}
}
END_TEST

static Suite *tz_suite(void)
{
	Suite *s = suite_create("tz");
	TCase *tc = tcase_create("tz");
	TCase *slow = tcase_create("oracle");

	tcase_add_test(tc, names);
	tcase_add_test(tc, utc_builtin_and_cache);
	tcase_add_test(tc, day_lengths);
	tcase_add_test(tc, slots_per_day);
	tcase_add_test(tc, kiritimati_weekdays);
	tcase_add_test(tc, half_hour_offsets);
	tcase_add_test(tc, gaps_and_folds);
	tcase_add_loop_test(tc, round_trip, 0, NMAIN);
	tcase_add_test(tc, footer_rule_forms);
	tcase_add_test(tc, footer_invalid);
	tcase_add_test(tc, explicit_transitions);
	tcase_add_test(tc, truncations_fail);
	tcase_add_loop_test(tc, byte_flips_are_safe, 0, 2);
	tcase_add_test(tc, crafted_corruptions);
	tcase_add_test(tc, extreme_inputs);
	tcase_add_test(tc, threads);
	suite_add_tcase(s, tc);
	/* The oracle sweeps take seconds under the sanitizers; their bound
	 * is generous so a slow machine does not fail them. */
	tcase_set_timeout(slow, 600);
	tcase_add_loop_test(slow, oracle_main_zones, 0, NMAIN);
	tcase_add_loop_test(slow, oracle_odd_zones, 0, NODD);
	tcase_add_test(slow, footer_oracle);
	tcase_add_test(slow, oracle_every_zone);
	suite_add_tcase(s, slow);
	return s;
}

int main(void)
{
	return run_suite(tz_suite());
}

/*
 * test_pages.c - the shared pages: engine/pagesw.c (writer) against
 * clients/c/reader.c (reader), in one process and across processes.
 *
 * Each test builds its own pages file in a fresh temporary directory.  The
 * days used sit around D0 (2024-10-04); the window is W_FIRST..W_LAST in a
 * ring of W_DAYS pages.  The torture test forks one writer and several
 * readers and checks that every copy a reader accepts is a state the writer
 * published; it bounds everything by iteration counts, never by time.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "suite_main.h"
#include "bookd_reader.h"
#include "pages.h"
#include "pagesw.h"
#include "quanta.h"
#include "tz.h"

#define D0	20000 /* 2024-10-04 */
#define W_DAYS	16
#define W_FIRST D0
#define W_LAST	(D0 + 13)
#define MAXRES	8

/*
 * Each test gets its own directory tdir inside basedir.  basedir belongs to
 * an unchecked fixture, which runs in Check's parent process, so it is
 * removed even when a failed assertion ends a test's process early.
 */
static char basedir[256];
static char tdir[300];
static int tdirfd = -1;

/* Instant of slot `slot` of day `day` (slot may exceed 95: later days). */
static int64_t T(int64_t day, int64_t slot)
{
	return day * DAY_SECONDS + slot * Q_SECONDS;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void base_setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(basedir, sizeof(basedir), "%s/test_pages.XXXXXX",
		 base != NULL && base[0] != '\0' ? base : "/tmp");
	if (mkdtemp(basedir) == NULL) {
		perror("test_pages: mkdtemp");
		exit(EXIT_FAILURE);
	}
}

static void base_teardown(void)
{
	nftw(basedir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	snprintf(tdir, sizeof(tdir), "%s/tXXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	tdirfd = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(tdirfd, 0);
}

static void teardown(void)
{
	close(tdirfd);
	tdirfd = -1;
	nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct pagesw *wopen(void)
{
	struct pagesw *pw = NULL;

	ck_assert_int_eq(
	    pagesw_open(&pw, tdirfd, NULL, MAXRES, W_DAYS, W_FIRST, W_LAST), 0);
	ck_assert_ptr_nonnull(pw);
	return pw;
}

static struct pagesw *wopen_in(const char *pages_dir)
{
	struct pagesw *pw = NULL;

	ck_assert_int_eq(pagesw_open(&pw, tdirfd, pages_dir, MAXRES, W_DAYS,
				     W_FIRST, W_LAST),
			 0);
	ck_assert_ptr_nonnull(pw);
	return pw;
}

static bookd_reader *ropen(void)
{
	bookd_reader *r = NULL;

	ck_assert_int_eq(bookd_reader_open(tdir, &r), 0);
	ck_assert_ptr_nonnull(r);
	return r;
}

/* A day's state to publish, built slot range by slot range. */
struct dayst {
	uint64_t open[2];
	uint64_t booked[2];
	uint64_t held[2];
	uint16_t units[96];
};

static void ds_open_all(struct dayst *s)
{
	memset(s, 0, sizeof(*s));
	q_bits_set(s->open, 0, 96);
}

static void put(struct pagesw *pw, uint32_t idx, int64_t day,
		const struct dayst *s, int pool)
{
	pagesw_write_page(pw, idx, day, s->open, s->booked, s->held,
			  pool ? s->units : NULL, 1, 1);
}

/* Publish every day of the window open around the clock and empty. */
static void put_window_open(struct pagesw *pw, uint32_t idx)
{
	struct dayst s;

	ds_open_all(&s);
	pagesw_commit_begin(pw);
	for (int64_t d = W_FIRST; d <= W_LAST; d++)
		put(pw, idx, d, &s, 0);
	pagesw_commit_end(pw);
}

static uint32_t res(bookd_reader *r, const char *id)
{
	uint32_t idx = UINT32_MAX;

	ck_assert_int_eq(bookd_reader_resource(r, id, &idx), 0);
	return idx;
}

/* check() of [a, b): returns the reason, asserting the call succeeded and
 * free agrees with it. */
static int chk(bookd_reader *r, uint32_t idx, int64_t a, int64_t b)
{
	enum bookd_reason why = BOOKD_REASON_OTHER;
	int fr = -1;

	ck_assert_int_eq(bookd_reader_check(r, idx, a, b, NULL, &fr, &why), 0);
	ck_assert_int_eq(fr, why == BOOKD_REASON_NONE);
	return why;
}

START_TEST(test_header_and_info)
{
	struct pagesw *pw = wopen();
	struct bookd_reader_info info;
	uint64_t dir_off, pages_off, size;
	bookd_reader *r;
	struct stat st;
	uint32_t idx;

	ck_assert_uint_eq(pagesw_generation(pw), 1);
	ck_assert_int_eq(fstatat(tdirfd, "pages", &st, 0), 0);
	ck_assert_int_eq(
	    pages_layout(MAXRES, W_DAYS, &dir_off, &pages_off, &size), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, size);
	ck_assert_uint_eq(pages_off % PAGES_ALIGN, 0);
	ck_assert_int_eq(faccessat(tdirfd, "pages.new", F_OK, 0), -1);

	r = ropen();
	ck_assert_int_eq(bookd_reader_info(r, &info), 0);
	ck_assert_uint_eq(info.generation, 1);
	ck_assert_int_eq(info.first_day, W_FIRST);
	ck_assert_int_eq(info.last_day, W_LAST);
	ck_assert_uint_eq(info.nresources, 0);
	ck_assert_uint_eq(info.max_resources, MAXRES);
	ck_assert_uint_eq(info.window_days, W_DAYS);
	ck_assert_uint_eq(info.durable_lsn, 0);
	ck_assert_int_eq(bookd_reader_resource(r, "studio-a", &idx),
			 BOOKD_E_NOT_FOUND);

	pagesw_set_durable_lsn(pw, 42);
	pagesw_set_window(pw, W_FIRST + 1, W_LAST + 1);
	ck_assert_int_eq(bookd_reader_info(r, &info), 0);
	ck_assert_uint_eq(info.durable_lsn, 42);
	ck_assert_int_eq(info.first_day, W_FIRST + 1);
	ck_assert_int_eq(info.last_day, W_LAST + 1);
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

START_TEST(test_roundtrip_day)
{
	struct pagesw *pw = wopen();
	struct bookd_reader_resource ri;
	struct bookd_reader_day d;
	struct dayst s;
	bookd_reader *r;
	uint32_t a;

	pagesw_set_resource(pw, 0, "studio-a",
			    PAGES_DIR_ACTIVE | PAGES_DIR_STANDALONE, 1);
	memset(&s, 0, sizeof(s));
	q_bits_set(s.open, 32, 80);
	q_bits_set(s.booked, 40, 44);
	q_bits_set(s.held, 70, 90);
	s.open[1] |= ~0ull << 32; /* bits past slot 95 must not leak */
	put(pw, 0, D0 + 2, &s, 0);

	r = ropen();
	a = res(r, "studio-a");
	ck_assert_int_eq(bookd_reader_resource_info(r, a, &ri), 0);
	ck_assert_str_eq(ri.id, "studio-a");
	ck_assert_int_eq(ri.active, 1);
	ck_assert_int_eq(ri.standalone, 1);
	ck_assert_uint_eq(ri.quantity, 1);

	ck_assert_int_eq(bookd_reader_day(r, a, D0 + 2, &d), 0);
	ck_assert_int_eq(d.day, D0 + 2);
	ck_assert_uint_eq(d.open[0], s.open[0]);
	ck_assert_uint_eq(d.open[1], s.open[1] & 0xffffffffull);
	ck_assert_uint_eq(d.booked[0], s.booked[0]);
	ck_assert_uint_eq(d.booked[1], s.booked[1]);
	ck_assert_uint_eq(d.held[0], s.held[0]);
	ck_assert_uint_eq(d.held[1], s.held[1]);
	ck_assert_uint_eq(d.units[41], 0);
	ck_assert_uint_eq(d.quantity, 1);
	ck_assert_int_eq(d.active, 1);
	ck_assert_uint_eq(d.slots_version, 1);
	ck_assert_uint_eq(d.holds_version, 1);
	ck_assert_uint_eq(pagesw_slots_version(pw, 0, D0 + 2), 1);
	ck_assert_uint_eq(pagesw_holds_version(pw, 0, D0 + 2), 1);
	ck_assert_uint_eq(pagesw_slots_version(pw, 0, D0 + 3), 0);

	/* A hold change bumps only holds_version, a booking only
	 * slots_version. */
	pagesw_write_page(pw, 0, D0 + 2, s.open, s.booked, s.booked, NULL, 0,
			  1);
	pagesw_write_page(pw, 0, D0 + 2, s.open, s.held, s.booked, NULL, 1, 0);
	ck_assert_int_eq(bookd_reader_day(r, a, D0 + 2, &d), 0);
	ck_assert_uint_eq(d.slots_version, 2);
	ck_assert_uint_eq(d.holds_version, 2);
	ck_assert_uint_eq(d.booked[0], s.held[0]);
	ck_assert_uint_eq(d.held[0], s.booked[0]);
	ck_assert_uint_eq(pagesw_slots_version(pw, 0, D0 + 2), 2);
	ck_assert_uint_eq(pagesw_holds_version(pw, 0, D0 + 2), 2);

	/* Deactivation shows in the flags and in the day read. */
	pagesw_set_resource(pw, 0, "studio-a", PAGES_DIR_STANDALONE, 1);
	ck_assert_int_eq(bookd_reader_day(r, a, D0 + 2, &d), 0);
	ck_assert_int_eq(d.active, 0);
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

START_TEST(test_ring_reuse_keeps_versions_growing)
{
	struct pagesw *pw = wopen();
	struct bookd_reader_day d;
	struct dayst s;
	bookd_reader *r;
	uint32_t a;

	pagesw_set_resource(pw, 0, "a", PAGES_DIR_ACTIVE, 1);
	ds_open_all(&s);
	put(pw, 0, W_FIRST, &s, 0);
	put(pw, 0, W_FIRST, &s, 0);
	/* W_FIRST + W_DAYS shares W_FIRST's ring slot.  The engine moves the
	 * window by writing the entering days first, in the same bracket. */
	pagesw_commit_begin(pw);
	pagesw_write_page(pw, 0, W_FIRST + W_DAYS, s.open, s.booked, s.held,
			  NULL, 0, 0);
	pagesw_set_window(pw, W_FIRST + W_DAYS - 13, W_FIRST + W_DAYS);
	pagesw_commit_end(pw);
	r = ropen();
	a = res(r, "a");
	ck_assert_int_eq(bookd_reader_day(r, a, W_FIRST + W_DAYS, &d), 0);
	ck_assert_uint_eq(d.slots_version, 3);
	ck_assert_uint_eq(d.holds_version, 3);
	ck_assert_int_eq(bookd_reader_day(r, a, W_FIRST, &d),
			 BOOKD_E_OUT_OF_RANGE);
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

START_TEST(test_window_and_unpublished)
{
	struct pagesw *pw = wopen();
	struct bookd_reader_stats st;
	struct bookd_reader_day d;
	struct dayst s;
	bookd_reader *r;
	uint32_t a;
	enum bookd_reason why;
	int fr;

	pagesw_set_resource(pw, 0, "a", PAGES_DIR_ACTIVE, 1);
	ds_open_all(&s);
	put(pw, 0, D0, &s, 0);
	r = ropen();
	a = res(r, "a");

	/* Inside the window but never written: the reader must not guess. */
	ck_assert_int_eq(bookd_reader_day(r, a, D0 + 1, &d), BOOKD_E_STALE);
	ck_assert_int_eq(bookd_reader_check(r, a, T(D0 + 1, 4), T(D0 + 1, 8),
					    NULL, &fr, &why),
			 BOOKD_E_STALE);
	ck_assert_int_eq(
	    bookd_reader_check(r, a, T(D0, 90), T(D0 + 1, 2), NULL, &fr, &why),
	    BOOKD_E_STALE);
	bookd_reader_stats(r, &st);
	ck_assert_uint_eq(st.stale, 3);

	/* Outside the window: out of range, on either side, also for a span
	 * that only ends outside. */
	ck_assert_int_eq(chk(r, a, T(D0 - 1, 4), T(D0 - 1, 8)),
			 BOOKD_REASON_OUT_OF_RANGE);
	ck_assert_int_eq(chk(r, a, T(W_LAST + 1, 0), T(W_LAST + 1, 1)),
			 BOOKD_REASON_OUT_OF_RANGE);
	ck_assert_int_eq(chk(r, a, T(D0 - 1, 95), T(D0, 1)),
			 BOOKD_REASON_OUT_OF_RANGE);
	ck_assert_int_eq(chk(r, a, T(-3, 0), T(-3, 1)),
			 BOOKD_REASON_OUT_OF_RANGE);
	ck_assert_int_eq(bookd_reader_day(r, a, D0 - 1, &d),
			 BOOKD_E_OUT_OF_RANGE);
	ck_assert_int_eq(bookd_reader_day(r, a, -1, &d), BOOKD_E_OUT_OF_RANGE);
	ck_assert_int_eq(chk(r, a, T(D0, 4), T(D0, 8)), BOOKD_REASON_NONE);

	/* The window moves on: D0 leaves although its page still holds it. */
	pagesw_set_window(pw, D0 + 1, D0 + 14);
	ck_assert_int_eq(chk(r, a, T(D0, 4), T(D0, 8)),
			 BOOKD_REASON_OUT_OF_RANGE);
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

/* SPEC scenario 6: a booking Mon 14:00 -> Wed 10:00 on days D0+1..D0+3. */
static void put_multiday_booking(struct pagesw *pw, uint32_t idx)
{
	struct dayst s;

	ds_open_all(&s);
	pagesw_commit_begin(pw);
	q_bits_set(s.booked, 56, 96);
	put(pw, idx, D0 + 1, &s, 0);
	q_bits_set(s.booked, 0, 96);
	put(pw, idx, D0 + 2, &s, 0);
	memset(s.booked, 0, sizeof(s.booked));
	q_bits_set(s.booked, 0, 40);
	put(pw, idx, D0 + 3, &s, 0);
	pagesw_commit_end(pw);
}

START_TEST(test_check_spans)
{
	struct pagesw *pw = wopen();
	struct dayst s;
	bookd_reader *r;
	uint32_t a, b;
	enum bookd_reason why;
	int fr;

	pagesw_set_resource(pw, 0, "studio-a", PAGES_DIR_ACTIVE, 1);
	pagesw_set_resource(pw, 1, "studio-b", PAGES_DIR_ACTIVE, 1);
	put_window_open(pw, 0);
	put_window_open(pw, 1);
	put_multiday_booking(pw, 0);
	r = ropen();
	a = res(r, "studio-a");
	b = res(r, "studio-b");

	/* Around the booking's edges. */
	ck_assert_int_eq(chk(r, a, T(D0 + 1, 52), T(D0 + 1, 56)),
			 BOOKD_REASON_NONE);
	ck_assert_int_eq(chk(r, a, T(D0 + 1, 52), T(D0 + 1, 57)),
			 BOOKD_REASON_BOOKED);
	ck_assert_int_eq(chk(r, a, T(D0 + 3, 40), T(D0 + 3, 44)),
			 BOOKD_REASON_NONE);
	ck_assert_int_eq(chk(r, a, T(D0 + 3, 39), T(D0 + 3, 44)),
			 BOOKD_REASON_BOOKED);
	/* Across midnight, free and booked. */
	ck_assert_int_eq(chk(r, a, T(D0, 92), T(D0 + 1, 4)), BOOKD_REASON_NONE);
	ck_assert_int_eq(chk(r, a, T(D0 + 2, 92), T(D0 + 3, 4)),
			 BOOKD_REASON_BOOKED);
	/* Over many days: the middle day alone decides. */
	ck_assert_int_eq(chk(r, a, T(D0 + 2, 0), T(D0 + 2, 96)),
			 BOOKD_REASON_BOOKED);
	ck_assert_int_eq(chk(r, a, T(D0, 0), T(D0 + 8, 0)),
			 BOOKD_REASON_BOOKED);
	ck_assert_int_eq(chk(r, a, T(D0 + 3, 40), T(D0 + 9, 0)),
			 BOOKD_REASON_NONE);
	ck_assert_int_eq(chk(r, a, T(D0 + 3, 40), T(W_LAST + 1, 0)),
			 BOOKD_REASON_NONE);
	/* Resource isolation (SPEC scenario 2). */
	ck_assert_int_eq(chk(r, b, T(D0 + 2, 40), T(D0 + 2, 44)),
			 BOOKD_REASON_NONE);
	ck_assert_int_eq(chk(r, b, T(D0, 0), T(D0 + 8, 0)), BOOKD_REASON_NONE);

	/* Precedence: closed over booked over held, across days. */
	ds_open_all(&s);
	q_bits_set(s.held, 8, 12);
	put(pw, 0, D0 + 4, &s, 0);
	ck_assert_int_eq(chk(r, a, T(D0 + 4, 4), T(D0 + 4, 9)),
			 BOOKD_REASON_HELD);
	ck_assert_int_eq(chk(r, a, T(D0 + 3, 30), T(D0 + 4, 9)),
			 BOOKD_REASON_BOOKED);
	memset(s.open, 0, sizeof(s.open));
	q_bits_set(s.open, 0, 80);
	put(pw, 0, D0 + 5, &s, 0);
	ck_assert_int_eq(chk(r, a, T(D0 + 5, 4), T(D0 + 5, 9)),
			 BOOKD_REASON_HELD);
	ck_assert_int_eq(chk(r, a, T(D0 + 3, 30), T(D0 + 5, 81)),
			 BOOKD_REASON_CLOSED);
	/* Out of range over closed; inactive over everything. */
	ck_assert_int_eq(chk(r, a, T(D0 + 3, 30), T(W_LAST + 2, 0)),
			 BOOKD_REASON_OUT_OF_RANGE);
	pagesw_set_resource(pw, 0, "studio-a", 0, 1);
	ck_assert_int_eq(chk(r, a, T(D0 + 3, 30), T(W_LAST + 2, 0)),
			 BOOKD_REASON_INACTIVE);
	ck_assert_int_eq(chk(r, a, T(D0, 0), T(D0, 1)), BOOKD_REASON_INACTIVE);
	pagesw_set_resource(pw, 0, "studio-a", PAGES_DIR_ACTIVE, 1);

	/* With a session the reader cannot tell whose hold it is. */
	ck_assert_int_eq(bookd_reader_check(r, a, T(D0 + 5, 4), T(D0 + 5, 9),
					    "s1", &fr, &why),
			 BOOKD_E_STALE);
	ck_assert_int_eq(bookd_reader_check(r, a, T(D0 + 3, 30), T(D0 + 5, 9),
					    "s1", &fr, &why),
			 0);
	ck_assert_int_eq(why, BOOKD_REASON_BOOKED);
	ck_assert_int_eq(bookd_reader_check(r, a, T(D0 + 5, 0), T(D0 + 5, 4),
					    "s1", &fr, &why),
			 0);
	ck_assert_int_eq(fr, 1);

	/* Bad spans. */
	ck_assert_int_eq(
	    bookd_reader_check(r, a, T(D0, 4) + 60, T(D0, 8), NULL, &fr, &why),
	    BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(
	    bookd_reader_check(r, a, T(D0, 4), T(D0, 8) - 1, NULL, &fr, &why),
	    BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(
	    bookd_reader_check(r, a, T(D0, 8), T(D0, 8), NULL, &fr, &why),
	    BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(
	    bookd_reader_check(r, a, T(D0, 9), T(D0, 8), NULL, &fr, &why),
	    BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(
	    bookd_reader_check(r, 99, T(D0, 4), T(D0, 8), NULL, &fr, &why),
	    BOOKD_E_NOT_FOUND);
	ck_assert_str_eq(bookd_reason_name(BOOKD_REASON_BOOKED), "booked");
	ck_assert_str_eq(bookd_reason_name(BOOKD_REASON_HELD), "held");
	ck_assert_str_eq(bookd_reason_name(BOOKD_REASON_CLOSED), "closed");
	ck_assert_str_eq(bookd_reason_name(BOOKD_REASON_INACTIVE), "inactive");
	ck_assert_str_eq(bookd_reason_name(BOOKD_REASON_NONE), "");
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

START_TEST(test_days_one_cut)
{
	struct pagesw *pw = wopen();
	struct bookd_reader_day d[3];
	bookd_reader *r;
	uint32_t a;

	pagesw_set_resource(pw, 0, "a", PAGES_DIR_ACTIVE, 1);
	put_window_open(pw, 0);
	put_multiday_booking(pw, 0);
	r = ropen();
	a = res(r, "a");
	ck_assert_int_eq(bookd_reader_days(r, a, D0 + 1, 3, d), 0);
	ck_assert_int_eq(d[0].day, D0 + 1);
	ck_assert_int_eq(d[2].day, D0 + 3);
	ck_assert_uint_eq(d[0].booked[0], 0xff00000000000000ull);
	ck_assert_uint_eq(d[0].booked[1], 0xffffffffull);
	ck_assert_uint_eq(d[1].booked[0], ~0ull);
	ck_assert_uint_eq(d[1].booked[1], 0xffffffffull);
	ck_assert_uint_eq(d[2].booked[0], (1ull << 40) - 1);
	ck_assert_uint_eq(d[2].booked[1], 0);
	ck_assert_int_eq(bookd_reader_days(r, a, W_LAST - 1, 3, d),
			 BOOKD_E_OUT_OF_RANGE);
	ck_assert_int_eq(bookd_reader_days(r, a, D0, 0, d),
			 BOOKD_E_BAD_REQUEST);
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

START_TEST(test_pool_units)
{
	struct pagesw *pw = wopen();
	struct bookd_reader_day d;
	struct dayst s;
	bookd_reader *r;
	uint32_t mics, a, u;

	pagesw_set_resource(pw, 0, "a", PAGES_DIR_ACTIVE, 1);
	pagesw_set_resource(pw, 1, "mics", PAGES_DIR_ACTIVE, 5);
	put_window_open(pw, 0);
	ds_open_all(&s);
	for (int i = 40; i < 44; i++)
		s.units[i] = 3;
	s.units[42] = 5;
	q_bits_set(s.booked, 42, 43); /* no unit left at 42 */
	s.units[95] = 1;
	pagesw_commit_begin(pw);
	for (int64_t day = W_FIRST; day <= W_LAST; day++)
		put(pw, 1, day, &s, 1);
	pagesw_commit_end(pw);
	memset(s.units, 0, sizeof(s.units));
	memset(s.booked, 0, sizeof(s.booked));
	s.units[0] = 4;
	put(pw, 1, D0 + 1, &s, 1);

	r = ropen();
	mics = res(r, "mics");
	a = res(r, "a");
	ck_assert_int_eq(bookd_reader_day(r, mics, D0, &d), 0);
	ck_assert_uint_eq(d.quantity, 5);
	ck_assert_uint_eq(d.units[39], 0);
	ck_assert_uint_eq(d.units[40], 3);
	ck_assert_uint_eq(d.units[42], 5);
	ck_assert_uint_eq(d.units[95], 1);

	ck_assert_int_eq(
	    bookd_reader_free_units(r, mics, T(D0, 40), T(D0, 42), &u), 0);
	ck_assert_uint_eq(u, 2);
	ck_assert_int_eq(
	    bookd_reader_free_units(r, mics, T(D0, 40), T(D0, 44), &u), 0);
	ck_assert_uint_eq(u, 0);
	ck_assert_int_eq(
	    bookd_reader_free_units(r, mics, T(D0, 44), T(D0, 48), &u), 0);
	ck_assert_uint_eq(u, 5);
	/* Across midnight: 1 booked at 23:45, 4 at 00:00 the next day. */
	ck_assert_int_eq(
	    bookd_reader_free_units(r, mics, T(D0, 94), T(D0 + 1, 2), &u), 0);
	ck_assert_uint_eq(u, 1);
	ck_assert_int_eq(bookd_reader_free_units(r, mics, T(W_LAST, 0),
						 T(W_LAST + 1, 1), &u),
			 BOOKD_E_OUT_OF_RANGE);
	ck_assert_int_eq(chk(r, mics, T(D0, 40), T(D0, 42)), BOOKD_REASON_NONE);
	ck_assert_int_eq(chk(r, mics, T(D0, 40), T(D0, 43)),
			 BOOKD_REASON_BOOKED);

	/* A lowered quantity below the booked units counts as none free. */
	pagesw_set_resource(pw, 1, "mics", PAGES_DIR_ACTIVE, 2);
	ck_assert_int_eq(
	    bookd_reader_free_units(r, mics, T(D0, 40), T(D0, 42), &u), 0);
	ck_assert_uint_eq(u, 0);

	/* A single resource: 1 or 0. */
	ck_assert_int_eq(
	    bookd_reader_free_units(r, a, T(D0, 40), T(D0, 42), &u), 0);
	ck_assert_uint_eq(u, 1);
	put_multiday_booking(pw, 0);
	ck_assert_int_eq(
	    bookd_reader_free_units(r, a, T(D0 + 1, 40), T(D0 + 1, 60), &u), 0);
	ck_assert_uint_eq(u, 0);
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

/* Hours of day D0 in a slot list, for compact expectations. */
static int hour_of(int64_t t, int64_t day)
{
	return (int)((t - day * DAY_SECONDS) / 3600);
}

START_TEST(test_slots_view_scenario)
{
	struct pagesw *pw = wopen();
	struct bookd_reader_view_slot v[BOOKD_READER_SLOTS];
	int64_t st[BOOKD_READER_SLOTS];
	struct dayst s;
	bookd_reader *r;
	uint32_t a, b;
	size_t n;

	pagesw_set_resource(pw, 0, "studio-a", PAGES_DIR_ACTIVE, 1);
	pagesw_set_resource(pw, 1, "studio-b", PAGES_DIR_ACTIVE, 1);
	put_window_open(pw, 0);
	put_window_open(pw, 1);
	/* SPEC scenario 1: session A holds 13:00-14:00 on studio-a. */
	ds_open_all(&s);
	q_bits_set(s.held, 52, 56);
	put(pw, 0, D0, &s, 0);
	r = ropen();
	a = res(r, "studio-a");
	b = res(r, "studio-b");

	ck_assert_int_eq(bookd_reader_slots_view(r, a, D0, 300, 60, v, &n), 0);
	ck_assert_uint_eq(n, 24);
	for (size_t i = 0; i < n; i++) {
		int h = hour_of(v[i].start, D0);
		ck_assert_int_eq(h, (int)i); /* chronological */
		ck_assert_int_eq(v[i].reserved, h >= 9 && h <= 13);
	}
	ck_assert_int_eq(bookd_reader_slots_view(r, a, D0, 60, 0, v, &n), 0);
	ck_assert_uint_eq(n, 24);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(v[i].reserved, hour_of(v[i].start, D0) == 13);
	/* slots.day ignores holds; studio-b is untouched. */
	ck_assert_int_eq(bookd_reader_slots_day(r, a, D0, 300, 60, st, &n), 0);
	ck_assert_uint_eq(n, 24);
	ck_assert_int_eq(bookd_reader_slots_view(r, b, D0, 300, 60, v, &n), 0);
	ck_assert_uint_eq(n, 24);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(v[i].reserved, 0);

	/* A 15-minute grid: 96 starts. */
	ck_assert_int_eq(bookd_reader_slots_day(r, a, D0, 15, 0, st, &n), 0);
	ck_assert_uint_eq(n, 96);
	ck_assert_int_eq(st[95], T(D0, 95));
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

START_TEST(test_slots_midnight_and_windows)
{
	struct pagesw *pw = wopen();
	struct bookd_reader_view_slot v[BOOKD_READER_SLOTS];
	int64_t st[BOOKD_READER_SLOTS];
	struct dayst s;
	bookd_reader *r;
	uint32_t a;
	size_t n;

	pagesw_set_resource(pw, 0, "a", PAGES_DIR_ACTIVE, 1);
	put_window_open(pw, 0);
	/* A booking 01:00-02:00 the next day, a hold 00:30-00:45 there. */
	ds_open_all(&s);
	q_bits_set(s.booked, 4, 8);
	q_bits_set(s.held, 2, 3);
	put(pw, 0, D0 + 1, &s, 0);
	r = ropen();
	a = res(r, "a");

	ck_assert_int_eq(bookd_reader_slots_view(r, a, D0, 180, 60, v, &n), 0);
	ck_assert_uint_eq(n, 23); /* 23:00 runs into the booking */
	ck_assert_int_eq(hour_of(v[22].start, D0), 22);
	ck_assert_int_eq(v[21].reserved, 0); /* 21:00-24:00 */
	ck_assert_int_eq(v[22].reserved, 1); /* 22:00-01:00 meets the hold */

	/* A span of several days: 2 days long, hourly. */
	ck_assert_int_eq(bookd_reader_slots_day(r, a, D0, 2880, 60, st, &n), 0);
	ck_assert_uint_eq(n, 0); /* every 48 h span reaches 01:00 tomorrow */
	ck_assert_int_eq(bookd_reader_slots_day(r, a, D0 + 1, 2880, 60, st, &n),
			 0);
	ck_assert_uint_eq(n, 22); /* 02:00 .. 23:00 */
	ck_assert_int_eq(st[0], T(D0 + 1, 8));

	/* Spans past the window's end are not listed. */
	ck_assert_int_eq(bookd_reader_slots_day(r, a, W_LAST, 120, 60, st, &n),
			 0);
	ck_assert_uint_eq(n, 23);
	ck_assert_int_eq(st[22], T(W_LAST, 88));

	/* Open hours 09:30-12:00 and 13:00-17:00: starts step from each
	 * window's start, as the engine's slots.day does, so hourly starts
	 * are 09:30, 10:30 (11:30 would close at 12:00), 13:00 .. 16:00. */
	memset(&s, 0, sizeof(s));
	q_bits_set(s.open, 38, 48);
	q_bits_set(s.open, 52, 68);
	put(pw, 0, D0 + 2, &s, 0);
	ck_assert_int_eq(bookd_reader_slots_day(r, a, D0 + 2, 60, 60, st, &n),
			 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(st[0], T(D0 + 2, 38));
	ck_assert_int_eq(st[1], T(D0 + 2, 42));
	ck_assert_int_eq(st[2], T(D0 + 2, 52));
	ck_assert_int_eq(st[5], T(D0 + 2, 64));
	ck_assert_int_eq(bookd_reader_slots_day(r, a, D0 + 2, 60, 30, st, &n),
			 0);
	ck_assert_uint_eq(n, 4 + 7);
	ck_assert_int_eq(st[0], T(D0 + 2, 38));
	ck_assert_int_eq(st[3], T(D0 + 2, 44));
	ck_assert_int_eq(st[4], T(D0 + 2, 52));
	/* Nine hours fit in neither window, and both close before midnight. */
	ck_assert_int_eq(bookd_reader_slots_day(r, a, D0 + 2, 540, 60, st, &n),
			 0);
	ck_assert_uint_eq(n, 0);
	/* A window of 45 minutes holds no hour.  A span may leave its day
	 * while the hours stay open: D0 + 3 is open from midnight, so 9 hours
	 * from 16:00 .. 23:00 run on into it. */
	memset(&s, 0, sizeof(s));
	q_bits_set(s.open, 38, 41);
	q_bits_set(s.open, 64, 96);
	put(pw, 0, D0 + 2, &s, 0);
	ck_assert_int_eq(bookd_reader_slots_day(r, a, D0 + 2, 60, 0, st, &n),
			 0);
	ck_assert_uint_eq(n, 8); /* 16:00 .. 23:00 */
	ck_assert_int_eq(st[0], T(D0 + 2, 64));
	ck_assert_int_eq(bookd_reader_slots_day(r, a, D0 + 2, 540, 60, st, &n),
			 0);
	ck_assert_uint_eq(n, 8); /* every start runs on into D0 + 3 */
	ck_assert_int_eq(st[7], T(D0 + 2, 92));

	/* Errors. */
	ck_assert_int_eq(bookd_reader_slots_day(r, a, D0, 50, 0, st, &n),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_reader_slots_day(r, a, D0, 0, 0, st, &n),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_reader_slots_day(r, a, D0, 60, 20, st, &n),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(
	    bookd_reader_slots_day(r, a, W_LAST + 1, 60, 0, st, &n),
	    BOOKD_E_OUT_OF_RANGE);
	ck_assert_int_eq(bookd_reader_slots_day(r, a, -2, 60, 0, st, &n),
			 BOOKD_E_OUT_OF_RANGE);
	/* A deactivated resource has no starts. */
	pagesw_set_resource(pw, 0, "a", 0, 1);
	ck_assert_int_eq(bookd_reader_slots_view(r, a, D0, 60, 0, v, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(bookd_reader_slots_day(r, a, D0, 60, 0, st, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(
	    bookd_reader_slots_day(r, a, W_LAST + 1, 60, 0, st, &n),
	    BOOKD_E_OUT_OF_RANGE);
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

START_TEST(test_slots_pool)
{
	struct pagesw *pw = wopen();
	int64_t st[BOOKD_READER_SLOTS];
	struct dayst s;
	bookd_reader *r;
	uint32_t mics;
	size_t n;

	pagesw_set_resource(pw, 0, "mics", PAGES_DIR_ACTIVE, 3);
	put_window_open(pw, 0);
	ds_open_all(&s);
	for (int i = 8; i < 16; i++)
		s.units[i] = 2; /* a unit left */
	for (int i = 16; i < 20; i++)
		s.units[i] = 3; /* none left */
	q_bits_set(s.booked, 16, 20);
	put(pw, 0, D0, &s, 1);
	r = ropen();
	mics = res(r, "mics");
	ck_assert_int_eq(bookd_reader_slots_day(r, mics, D0, 60, 60, st, &n),
			 0);
	ck_assert_uint_eq(n, 23);
	ck_assert_int_eq(st[3], T(D0, 12));
	ck_assert_int_eq(st[4], T(D0, 20));
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

/* A window of 200 days from D0 holding the DST switches of 2024-10-27
 * (Berlin, back), 2024-11-03 (New York, back), 2025-03-09 (New York,
 * forward) and 2025-03-30 (Berlin, forward). */
#define L_DAYS	200
#define L_FIRST D0
#define L_LAST	(D0 + L_DAYS - 1)

static struct pagesw *wopen_long(void)
{
	struct pagesw *pw = NULL;
	struct dayst s;

	ck_assert_int_eq(
	    pagesw_open(&pw, tdirfd, NULL, MAXRES, L_DAYS, L_FIRST, L_LAST), 0);
	pagesw_set_resource(pw, 0, "a", PAGES_DIR_ACTIVE, 1);
	ds_open_all(&s);
	pagesw_commit_begin(pw);
	for (int64_t d = L_FIRST; d <= L_LAST; d++)
		put(pw, 0, d, &s, 0);
	pagesw_commit_end(pw);
	return pw;
}

static int64_t local(const char *zone, int64_t date, int h, int m)
{
	const struct tz *z;

	ck_assert_int_eq(tz_get(zone, &z), 0);
	return tz_local_to_utc(z, date, h * 3600 + m * 60);
}

static int64_t date_of(const char *ymd)
{
	int64_t d = -1;

	ck_assert_int_eq(bookd_reader_date(ymd, &d), 0);
	return d;
}

START_TEST(test_slots_local_days)
{
	struct pagesw *pw = wopen_long();
	struct bookd_reader_view_slot v[BOOKD_READER_MAX_STARTS];
	int64_t st[BOOKD_READER_MAX_STARTS], date;
	struct dayst s;
	bookd_reader *r = ropen();
	uint32_t a = res(r, "a");
	size_t n;

	/* DST days: one start per quarter of the local day. */
	date = date_of("2024-10-27");
	ck_assert_int_eq(bookd_reader_slots_day_tz(r, a, date, "Europe/Berlin",
						   15, 0, st, &n),
			 0);
	ck_assert_uint_eq(n, 100);
	ck_assert_int_eq(st[0], local("Europe/Berlin", date, 0, 0));
	ck_assert_int_eq(st[99], local("Europe/Berlin", date + 1, 0, 0) - 900);
	ck_assert_int_eq(bookd_reader_slots_day_tz(r, a, date_of("2025-03-30"),
						   "Europe/Berlin", 15, 0, st,
						   &n),
			 0);
	ck_assert_uint_eq(n, 92);
	ck_assert_int_eq(bookd_reader_slots_day_tz(r, a, date_of("2025-03-09"),
						   "America/New_York", 60, 0,
						   st, &n),
			 0);
	ck_assert_uint_eq(n, 23);
	ck_assert_int_eq(bookd_reader_slots_day_tz(r, a, date_of("2024-11-03"),
						   "America/New_York", 60, 0,
						   st, &n),
			 0);
	ck_assert_uint_eq(n, 25);
	/* The same starts in Berlin on an ordinary day: 96, local midnight
	 * first, whatever the UTC day. */
	date = D0 + 10;
	ck_assert_int_eq(bookd_reader_slots_day_tz(r, a, date, "Europe/Berlin",
						   15, 0, st, &n),
			 0);
	ck_assert_uint_eq(n, 96);
	ck_assert_int_eq(st[0], T(date - 1, 88)); /* 22:00 UTC, CEST */

	/* Half-hour offsets: Kolkata's day starts at 18:30 UTC.  A booking
	 * 00:00-01:00 UTC (05:30-06:30 local) removes the hourly starts
	 * whose spans meet it, in the middle of the local day. */
	ds_open_all(&s);
	q_bits_set(s.booked, 0, 4);
	put(pw, 0, D0 + 11, &s, 0);
	ck_assert_int_eq(bookd_reader_slots_day_tz(
			     r, a, D0 + 11, "Asia/Kolkata", 60, 0, st, &n),
			 0);
	ck_assert_uint_eq(n, 22);
	ck_assert_int_eq(st[0], T(D0 + 10, 74));
	ck_assert_int_eq(st[4], T(D0 + 10, 90)); /* 04:00 local */
	ck_assert_int_eq(st[5], T(D0 + 11, 6));	 /* 07:00: not 05:00, 06:00 */
	/* Held bits in the view, on the same zone's grid. */
	q_bits_set(s.held, 20, 21);
	put(pw, 0, D0 + 11, &s, 0);
	ck_assert_int_eq(bookd_reader_slots_view_tz(
			     r, a, D0 + 11, "Asia/Kolkata", 60, 0, v, &n),
			 0);
	ck_assert_uint_eq(n, 22);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(v[i].reserved, v[i].start == T(D0 + 11, 18));

	/* Open windows in local time: Berlin's 09:15-10:45 is 07:15-08:45
	 * UTC in summer; the local day's first two hours (D0 + 12 from 22:00
	 * UTC) are closed.  Starts step from 09:15. */
	ds_open_all(&s);
	memset(s.open, 0, sizeof(s.open));
	pagesw_commit_begin(pw);
	put(pw, 0, D0 + 12, &s, 0);
	q_bits_set(s.open, 29, 35);
	put(pw, 0, D0 + 13, &s, 0);
	pagesw_commit_end(pw);
	ck_assert_int_eq(bookd_reader_slots_day_tz(
			     r, a, D0 + 13, "Europe/Berlin", 30, 0, st, &n),
			 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(st[0], local("Europe/Berlin", D0 + 13, 9, 15));
	ck_assert_int_eq(st[2], local("Europe/Berlin", D0 + 13, 10, 15));

	/* The window's edges: a local day partly inside lists the starts
	 * inside, one wholly outside is out of range. */
	ck_assert_int_eq(bookd_reader_slots_day_tz(
			     r, a, L_FIRST, "Asia/Kolkata", 60, 0, st, &n),
			 0);
	ck_assert_uint_eq(n, 19); /* 00:00 .. 18:00 UTC */
	ck_assert_int_eq(st[0], T(L_FIRST, 0));
	ck_assert_int_eq(bookd_reader_slots_day_tz(
			     r, a, L_FIRST - 1, "Asia/Kolkata", 60, 0, st, &n),
			 BOOKD_E_OUT_OF_RANGE);
	ck_assert_int_eq(bookd_reader_slots_day_tz(
			     r, a, L_LAST, "America/New_York", 60, 0, st, &n),
			 0);
	ck_assert_uint_eq(n, 20); /* 04:00 .. 23:00 UTC (EDT) */
	ck_assert_int_eq(bookd_reader_slots_day_tz(r, a, L_LAST + 1,
						   "America/New_York", 60, 0,
						   st, &n),
			 BOOKD_E_OUT_OF_RANGE);

	/* NULL is the resource's zone; with none published, UTC. */
	ck_assert_int_eq(
	    bookd_reader_slots_day_tz(r, a, D0 + 13, NULL, 30, 0, st, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(st[0], T(D0 + 13, 29));
	pagesw_set_resource_zone(pw, 0, "Europe/Berlin");
	{
		int64_t st2[BOOKD_READER_MAX_STARTS];
		size_t n2;
		ck_assert_int_eq(bookd_reader_slots_day_tz(r, a, D0 + 13, NULL,
							   30, 0, st, &n),
				 0);
		ck_assert_int_eq(bookd_reader_slots_day_tz(r, a, D0 + 13,
							   "Europe/Berlin", 30,
							   0, st2, &n2),
				 0);
		ck_assert_uint_eq(n, n2);
		for (size_t i = 0; i < n; i++)
			ck_assert_int_eq(st[i], st2[i]);
	}
	pagesw_set_resource_zone(pw, 0, NULL);

	/* Bad zones, dates and minutes. */
	ck_assert_int_eq(
	    bookd_reader_slots_day_tz(r, a, D0, "Mars/Olympus", 60, 0, st, &n),
	    BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(
	    bookd_reader_slots_day_tz(r, a, D0, "../etc/passwd", 60, 0, st, &n),
	    BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(
	    bookd_reader_slots_day_tz(r, a, D0, "UTC",
				      BOOKD_READER_MINUTES_MAX + 15, 0, st, &n),
	    BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(
	    bookd_reader_slots_day_tz(r, a, D0, "UTC", 60,
				      BOOKD_READER_MINUTES_MAX + 15, st, &n),
	    BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_reader_date("2024-02-30", &date),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_reader_date("2024-2-3", &date),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(date_of("2024-10-04"), D0);
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

START_TEST(test_slots_month)
{
	struct pagesw *pw = wopen_long();
	uint8_t av[BOOKD_READER_MONTH_MAX];
	struct dayst s;
	bookd_reader *r = ropen();
	uint32_t a = res(r, "a");

	/* D0 + 3 fully booked; D0 + 4 open only 10:00-10:30 UTC. */
	ds_open_all(&s);
	q_bits_set(s.booked, 0, 96);
	pagesw_commit_begin(pw);
	put(pw, 0, D0 + 3, &s, 0);
	ds_open_all(&s);
	memset(s.open, 0, sizeof(s.open));
	q_bits_set(s.open, 40, 42);
	put(pw, 0, D0 + 4, &s, 0);
	pagesw_commit_end(pw);

	memset(av, 0xee, sizeof(av));
	ck_assert_int_eq(
	    bookd_reader_slots_month(r, a, D0 - 2, D0 + 6, "UTC", 30, 0, av),
	    0);
	/* Before the window, then D0 .. D0 + 6. */
	ck_assert_int_eq(av[0], 0);
	ck_assert_int_eq(av[1], 0);
	ck_assert_int_eq(av[2], 1);
	ck_assert_int_eq(av[3], 1);
	ck_assert_int_eq(av[4], 1);
	ck_assert_int_eq(av[5], 0); /* booked */
	ck_assert_int_eq(av[6], 1); /* 10:00-10:30 */
	ck_assert_int_eq(av[7], 1);
	ck_assert_int_eq(av[8], 1);
	ck_assert_int_eq(av[9], 0xee); /* nothing past the range */
	/* An hour fits nowhere on D0 + 4 (UTC).  In Berlin (UTC+2) local
	 * D0 + 3 begins at 22:00 UTC on D0 + 2, which is free, and local
	 * D0 + 4 has only booked quarters and the short window. */
	ck_assert_int_eq(
	    bookd_reader_slots_month(r, a, D0 + 2, D0 + 5, "UTC", 60, 0, av),
	    0);
	ck_assert_int_eq(av[0], 1);
	ck_assert_int_eq(av[1], 0);
	ck_assert_int_eq(av[2], 0);
	ck_assert_int_eq(av[3], 1);
	ck_assert_int_eq(bookd_reader_slots_month(r, a, D0 + 2, D0 + 5,
						  "Europe/Berlin", 60, 0, av),
			 0);
	ck_assert_int_eq(av[0], 1);
	ck_assert_int_eq(av[1], 1); /* 00:00-02:00 local is D0 + 2 UTC */
	ck_assert_int_eq(av[2], 0);
	ck_assert_int_eq(av[3], 1);
	/* Agreement with the day lists over the whole window, both zones. */
	for (int z = 0; z < 2; z++) {
		const char *zone = z ? "America/New_York" : "Europe/Berlin";
		int64_t st[BOOKD_READER_MAX_STARTS];
		size_t n;
		ck_assert_int_eq(bookd_reader_slots_month(r, a, L_FIRST, L_LAST,
							  zone, 120, 60, av),
				 0);
		for (int64_t d = L_FIRST; d <= L_LAST; d++) {
			ck_assert_int_eq(bookd_reader_slots_day_tz(
					     r, a, d, zone, 120, 60, st, &n),
					 0);
			ck_assert_int_eq(av[d - L_FIRST], n > 0);
		}
	}
	/* Limits and a deactivated resource. */
	ck_assert_int_eq(
	    bookd_reader_slots_month(r, a, D0, D0 + 365, "UTC", 60, 0, av), 0);
	ck_assert_int_eq(
	    bookd_reader_slots_month(r, a, D0, D0 + 366, "UTC", 60, 0, av),
	    BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(
	    bookd_reader_slots_month(r, a, D0, D0 - 1, "UTC", 60, 0, av),
	    BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(
	    bookd_reader_slots_month(r, a, INT64_MIN, D0, "UTC", 60, 0, av),
	    BOOKD_E_BAD_REQUEST);
	pagesw_set_resource(pw, 0, "a", 0, 1);
	ck_assert_int_eq(
	    bookd_reader_slots_month(r, a, D0, D0 + 6, "UTC", 60, 0, av), 0);
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(av[i], 0);
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

START_TEST(test_check_pool_holds)
{
	struct pagesw *pw = wopen();
	struct dayst s;
	bookd_reader *r;
	uint32_t mics;
	enum bookd_reason why;
	int fr;

	pagesw_set_resource(pw, 0, "mics", PAGES_DIR_ACTIVE, 3);
	put_window_open(pw, 0);
	ds_open_all(&s);
	q_bits_set(s.held, 40, 48);
	for (int i = 44; i < 48; i++)
		s.units[i] = 2; /* one unit left */
	put(pw, 0, D0, &s, 1);
	r = ropen();
	mics = res(r, "mics");
	/* Held with two units left: one hold or two, the pages cannot say. */
	ck_assert_int_eq(
	    bookd_reader_check(r, mics, T(D0, 40), T(D0, 44), NULL, &fr, &why),
	    BOOKD_E_STALE);
	/* Held with one unit left: any hold takes it. */
	ck_assert_int_eq(chk(r, mics, T(D0, 40), T(D0, 48)), BOOKD_REASON_HELD);
	ck_assert_int_eq(chk(r, mics, T(D0, 46), T(D0, 50)), BOOKD_REASON_HELD);
	ck_assert_int_eq(chk(r, mics, T(D0, 48), T(D0, 52)), BOOKD_REASON_NONE);
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

START_TEST(test_directory_growth)
{
	struct pagesw *pw = wopen();
	struct bookd_reader_info info;
	bookd_reader *r;
	uint32_t late, five, a;

	pagesw_set_resource(pw, 0, "a", PAGES_DIR_ACTIVE, 1);
	put_window_open(pw, 0);
	r = ropen();
	a = res(r, "a");
	/* An entry past a gap: 1..4 stay empty for now. */
	pagesw_set_resource(pw, 5, "five", PAGES_DIR_ACTIVE, 1);
	put_window_open(pw, 5);
	five = res(r, "five");
	ck_assert_uint_ne(five, a);
	ck_assert_int_eq(chk(r, five, T(D0, 0), T(D0, 4)), BOOKD_REASON_NONE);
	/* The gap is filled later without nresources growing. */
	pagesw_set_resource(pw, 2, "late", PAGES_DIR_ACTIVE, 1);
	put_window_open(pw, 2);
	late = res(r, "late");
	ck_assert_int_eq(chk(r, late, T(D0, 0), T(D0, 4)), BOOKD_REASON_NONE);
	ck_assert_int_eq(bookd_reader_info(r, &info), 0);
	ck_assert_uint_eq(info.nresources, 6);
	/* Slugs are exact: no prefix or over-long matches. */
	ck_assert_int_eq(bookd_reader_resource(r, "fiv", &a),
			 BOOKD_E_NOT_FOUND);
	ck_assert_int_eq(
	    bookd_reader_resource(r,
				  "a-very-long-slug-that-is-longer-than-"
				  "sixty-three-bytes-0123456789abcdef",
				  &a),
	    BOOKD_E_NOT_FOUND);
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

START_TEST(test_many_resources_hash)
{
	struct pagesw *pw = NULL;
	bookd_reader *r;
	char id[32];
	uint32_t idx;

	ck_assert_int_eq(pagesw_open(&pw, tdirfd, NULL, 300, 4, D0, D0 + 3), 0);
	for (uint32_t i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "room-%u", i);
		pagesw_set_resource(pw, i, id, PAGES_DIR_ACTIVE, i + 1);
	}
	r = ropen();
	for (uint32_t i = 0; i < 300; i++) {
		struct bookd_reader_resource ri;
		snprintf(id, sizeof(id), "room-%u", i);
		ck_assert_int_eq(bookd_reader_resource(r, id, &idx), 0);
		ck_assert_int_eq(bookd_reader_resource_info(r, idx, &ri), 0);
		ck_assert_str_eq(ri.id, id);
		ck_assert_uint_eq(ri.quantity, i + 1);
	}
	bookd_reader_close(r);
	pagesw_close(pw);
}
END_TEST

START_TEST(test_generation_retired)
{
	struct pagesw *pw1, *pw2, *pw3;
	struct bookd_reader_stats st;
	struct bookd_reader_info info;
	struct dayst s;
	bookd_reader *r;
	uint32_t a, b;
	uint32_t idx;

	pw1 = wopen();
	pagesw_set_resource(pw1, 0, "studio-a", PAGES_DIR_ACTIVE, 1);
	pagesw_set_resource(pw1, 1, "studio-b", PAGES_DIR_ACTIVE, 1);
	put_window_open(pw1, 0);
	put_window_open(pw1, 1);
	put_multiday_booking(pw1, 0);
	r = ropen();
	a = res(r, "studio-a");
	b = res(r, "studio-b");
	ck_assert_int_eq(chk(r, a, T(D0 + 2, 0), T(D0 + 2, 4)),
			 BOOKD_REASON_BOOKED);
	ck_assert_int_eq(chk(r, b, T(D0 + 2, 0), T(D0 + 2, 4)),
			 BOOKD_REASON_NONE);

	/* The engine restarts: a new file, the resources in another order,
	 * studio-b booked now.  The reader's indices keep their meaning. */
	pw2 = wopen();
	ck_assert_uint_eq(pagesw_generation(pw2), 2);
	pagesw_set_resource(pw2, 0, "studio-b", PAGES_DIR_ACTIVE, 1);
	pagesw_set_resource(pw2, 1, "studio-a", PAGES_DIR_ACTIVE, 1);
	put_window_open(pw2, 0);
	put_window_open(pw2, 1);
	put_multiday_booking(pw2, 0);
	ck_assert_int_eq(chk(r, a, T(D0 + 2, 0), T(D0 + 2, 4)),
			 BOOKD_REASON_NONE);
	ck_assert_int_eq(chk(r, b, T(D0 + 2, 0), T(D0 + 2, 4)),
			 BOOKD_REASON_BOOKED);
	ck_assert_int_eq(bookd_reader_info(r, &info), 0);
	ck_assert_uint_eq(info.generation, 2);
	bookd_reader_stats(r, &st);
	ck_assert_uint_eq(st.reopens, 1);

	/* The retired file's writer can no longer reach the reader. */
	ds_open_all(&s);
	q_bits_set(s.booked, 0, 96);
	put(pw1, 1, D0 + 2, &s, 0);
	ck_assert_int_eq(chk(r, b, T(D0 + 2, 0), T(D0 + 2, 4)),
			 BOOKD_REASON_BOOKED);
	pagesw_close(pw1);

	/* A third start without studio-a. */
	pw3 = wopen();
	ck_assert_uint_eq(pagesw_generation(pw3), 3);
	pagesw_set_resource(pw3, 0, "studio-b", PAGES_DIR_ACTIVE, 1);
	put_window_open(pw3, 0);
	ck_assert_int_eq(chk(r, b, T(D0 + 2, 0), T(D0 + 2, 4)),
			 BOOKD_REASON_NONE);
	ck_assert_int_eq(bookd_reader_check(r, a, T(D0, 0), T(D0, 4), NULL,
					    &(int){0}, &(enum bookd_reason){0}),
			 BOOKD_E_NOT_FOUND);
	ck_assert_int_eq(bookd_reader_resource(r, "studio-a", &idx),
			 BOOKD_E_NOT_FOUND);
	/* ... and when it comes back, the old index works again. */
	pagesw_set_resource(pw3, 1, "studio-a", PAGES_DIR_ACTIVE, 1);
	put_window_open(pw3, 1);
	ck_assert_int_eq(chk(r, a, T(D0 + 2, 0), T(D0 + 2, 4)),
			 BOOKD_REASON_NONE);
	ck_assert_int_eq(bookd_reader_resource(r, "studio-a", &idx), 0);
	ck_assert_uint_eq(idx, a);
	bookd_reader_stats(r, &st);
	ck_assert_uint_eq(st.reopens, 2);
	bookd_reader_close(r);
	pagesw_close(pw2);
	pagesw_close(pw3);
}
END_TEST

static void write_at(const char *name, off_t off, const void *p, size_t n)
{
	int fd = openat(tdirfd, name, O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, p, n, off), (ssize_t)n);
	close(fd);
}

START_TEST(test_reader_refuses_bad_files)
{
	struct pagesw *pw;
	bookd_reader *r = NULL;
	uint64_t magic = 0x5858585858585858ull;
	uint32_t version = PAGES_VERSION + 1;
	char missing[sizeof(tdir) + 16];
	int fd;

	snprintf(missing, sizeof(missing), "%s/nowhere", tdir);
	errno = 0;
	ck_assert_int_eq(bookd_reader_open(missing, &r), BOOKD_E_IO);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(r);

	pw = wopen();
	pagesw_close(pw);
	write_at("pages", offsetof(struct pages_header, version), &version,
		 sizeof(version));
	ck_assert_int_eq(bookd_reader_open(tdir, &r), BOOKD_E_PROTO);

	/* A file of another version is not ours to retire: a new writer
	 * starts from generation 1 and leaves it alone. */
	pw = wopen();
	ck_assert_uint_eq(pagesw_generation(pw), 1);
	pagesw_close(pw);
	write_at("pages", 0, &magic, sizeof(magic));
	ck_assert_int_eq(bookd_reader_open(tdir, &r), BOOKD_E_PROTO);

	pw = wopen();
	pagesw_close(pw);
	fd = openat(tdirfd, "pages", O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	close(fd);
	ck_assert_int_eq(bookd_reader_open(tdir, &r), BOOKD_E_PROTO);
	ck_assert_ptr_null(r);
}
END_TEST

START_TEST(test_writer_errors_and_leftovers)
{
	struct pagesw *pw = NULL;
	struct stat st;
	int fd;

	ck_assert_int_eq(pagesw_open(&pw, tdirfd, NULL, 0, W_DAYS, D0, D0),
			 -EINVAL);
	ck_assert_int_eq(pagesw_open(&pw, tdirfd, NULL, 4, 0, D0, D0), -EINVAL);
	ck_assert_int_eq(pagesw_open(&pw, tdirfd, NULL, 4, 3, D0, D0 + 3),
			 -EINVAL);
	ck_assert_int_eq(pagesw_open(&pw, tdirfd, NULL, 4, 3, D0 + 1, D0),
			 -EINVAL);
	ck_assert_int_eq(pagesw_open(&pw, tdirfd, NULL, 4, 3, -1, 0), -EINVAL);
	ck_assert_int_eq(
	    pagesw_open(&pw, tdirfd, NULL, UINT32_MAX, UINT32_MAX, D0, D0),
	    -EINVAL);
	ck_assert_ptr_null(pw);
	ck_assert_int_eq(faccessat(tdirfd, "pages", F_OK, 0), -1);

	/* A pages.new left by a crash is replaced. */
	fd = openat(tdirfd, "pages.new", O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "junk", 4), 4);
	close(fd);
	pw = wopen();
	ck_assert_int_eq(faccessat(tdirfd, "pages.new", F_OK, 0), -1);
	ck_assert_int_eq(fstatat(tdirfd, "pages", &st, 0), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
	pagesw_close(pw);

	/* A directory the writer cannot write to. */
	if (geteuid() != 0) {
		ck_assert_int_eq(fchmod(tdirfd, 0500), 0);
		ck_assert_int_eq(pagesw_open(&pw, tdirfd, NULL, 4, 3, D0, D0),
				 -EACCES);
		ck_assert_int_eq(fchmod(tdirfd, 0700), 0);
	}
}
END_TEST

START_TEST(test_file_is_sparse)
{
	struct pagesw *pw = NULL;
	struct stat st;

	/* 1000 resources x 800 days = 256 MB of pages if every row were
	 * touched; two used rows are 512 KB. */
	ck_assert_int_eq(
	    pagesw_open(&pw, tdirfd, NULL, 1000, 800, D0, D0 + 799), 0);
	pagesw_set_resource(pw, 0, "a", PAGES_DIR_ACTIVE, 1);
	pagesw_set_resource(pw, 1, "b", PAGES_DIR_ACTIVE, 1);
	ck_assert_int_eq(fstatat(tdirfd, "pages", &st, 0), 0);
	ck_assert_int_gt(st.st_size, 256000000);
	ck_assert_int_lt((int64_t)st.st_blocks * 512, 4 << 20);
	pagesw_close(pw);
}
END_TEST

/* The generation directory (in dir) of the file the link tdir/pages names,
 * into gen; the link's target into target. */
static void link_gen(const char *dir, char *target, size_t tcap, char *gen,
		     size_t gcap)
{
	ssize_t n = readlinkat(tdirfd, "pages", target, tcap - 1);
	const char *slash;

	ck_assert_int_gt(n, 0);
	target[n] = '\0';
	ck_assert_int_eq(strncmp(target, dir, strlen(dir)), 0);
	slash = strrchr(target, '/');
	ck_assert_ptr_nonnull(slash);
	ck_assert_uint_lt((size_t)(slash - target), gcap);
	memcpy(gen, target, (size_t)(slash - target));
	gen[slash - target] = '\0';
}

/*
 * With a pages directory (engine/pagesdir.h) the file lives there and
 * DATA/pages links to it: readers find it, each generation gets a new
 * directory and the previous one goes, the directory's mode follows the
 * data directory's, leftovers of a crash or of a removed data directory
 * are swept, nothing of another user or behind a link is touched, and a
 * directory that cannot be used leaves the file in the data directory.
 */
START_TEST(test_pages_dir)
{
	char pdir[512], other[512], target[1024], gen[1024], gen1[1024],
	    stray[1024], link[1024], alien[1024], ogen[1024];
	struct pagesw *pw = NULL, *pw2 = NULL;
	struct stat st, ds;
	bookd_reader *r;
	int ofd;

	snprintf(pdir, sizeof pdir, "%s/shmXXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(pdir));
	ck_assert_int_eq(fchmod(tdirfd, 0710), 0);
	ck_assert_int_eq(
	    pagesw_open(&pw, tdirfd, pdir, MAXRES, W_DAYS, W_FIRST, W_LAST), 0);
	ck_assert_ptr_nonnull(pagesw_place(pw));
	ck_assert_int_eq(fstatat(tdirfd, "pages", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISLNK(st.st_mode));
	link_gen(pdir, target, sizeof target, gen1, sizeof gen1);
	ck_assert_str_eq(target, pagesw_place(pw));
	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(stat(gen1, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0711);
	pagesw_set_resource(pw, 0, "a", PAGES_DIR_ACTIVE, 1);
	r = ropen();
	bookd_reader_close(r);
	pagesw_close(pw);

	/* A copy of the data directory links to this one's file: the copy's
	 * engine makes its own and leaves this one's LIVE and in place. */
	{
		char copy[512];
		uint64_t state = 0;
		int cfd, fd;
		snprintf(copy, sizeof copy, "%s/copyXXXXXX", basedir);
		ck_assert_ptr_nonnull(mkdtemp(copy));
		cfd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ck_assert_int_ge(cfd, 0);
		ck_assert_int_eq(symlinkat(target, cfd, "pages"), 0);
		ck_assert_int_eq(pagesw_open(&pw2, cfd, pdir, MAXRES, W_DAYS,
					     W_FIRST, W_LAST),
				 0);
		ck_assert_str_ne(pagesw_place(pw2), target);
		pagesw_close(pw2);
		fd = open(target, O_RDONLY | O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pread(fd, &state, sizeof state,
				       offsetof(struct pages_header, state)),
				 (ssize_t)sizeof state);
		close(fd);
		ck_assert_uint_eq(state, PAGES_LIVE);
		ck_assert_int_eq(stat(gen1, &st), 0);
		close(cfd);
	}

	/* A crash's leftover of this data directory, another user's
	 * directory and a link with a generation's name are there. */
	ck_assert_int_eq(fstat(tdirfd, &ds), 0);
	snprintf(stray, sizeof stray, "%s/bookd-pages.%llx.%llx.STRAY1", pdir,
		 (unsigned long long)ds.st_dev, (unsigned long long)ds.st_ino);
	ck_assert_int_eq(mkdir(stray, 0700), 0);
	snprintf(link, sizeof link, "%s/bookd-pages.%llx.%llx.LINK01", pdir,
		 (unsigned long long)ds.st_dev, (unsigned long long)ds.st_ino);
	ck_assert_int_eq(symlink(basedir, link), 0);
	snprintf(alien, sizeof alien, "%s/bookd-pages.%llx.%llx.ALIEN1", pdir,
		 (unsigned long long)ds.st_dev, (unsigned long long)ds.st_ino);
	ck_assert_int_eq(mkdir(alien, 0700), 0);
	if (geteuid() == 0)
		ck_assert_int_eq(chown(alien, 4242, 4242), 0);

	/* A data directory that is removed without its pages. */
	snprintf(other, sizeof other, "%s/otherXXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(other));
	ofd = open(other, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(ofd, 0);
	ck_assert_int_eq(
	    pagesw_open(&pw2, ofd, pdir, MAXRES, W_DAYS, W_FIRST, W_LAST), 0);
	snprintf(ogen, sizeof ogen, "%s", pagesw_place(pw2));
	*strrchr(ogen, '/') = '\0';
	pagesw_close(pw2);
	ck_assert_int_eq(stat(ogen, &st), 0);
	ck_assert_int_eq(unlinkat(ofd, "pages", 0), 0);
	close(ofd);
	ck_assert_int_eq(nftw(other, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);

	/* The data directory is now searchable by its owner only. */
	ck_assert_int_eq(fchmod(tdirfd, 0700), 0);
	pw = wopen_in(pdir);
	link_gen(pdir, target, sizeof target, gen, sizeof gen);
	ck_assert_str_ne(gen, gen1);
	ck_assert_int_eq(stat(gen1, &st), -1);	/* the previous generation */
	ck_assert_int_eq(stat(stray, &st), -1); /* the crash's leftover */
	ck_assert_int_eq(lstat(link, &st), 0);	/* not followed */
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(stat(basedir, &st), 0);
	if (geteuid() == 0)
		ck_assert_int_eq(stat(alien, &st), 0); /* not this user's */
	ck_assert_int_eq(stat(ogen, &st), -1); /* its data directory went */
	ck_assert_int_eq(stat(gen, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	pagesw_close(pw);

	/* A pages directory that cannot be used: the data directory. */
	snprintf(other, sizeof other, "%s/missing", basedir);
	pw = wopen_in(other);
	ck_assert_ptr_null(pagesw_place(pw));
	ck_assert_int_eq(fstatat(tdirfd, "pages", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(stat(gen, &st), -1); /* the link's generation went */
	pagesw_close(pw);
	r = ropen();
	bookd_reader_close(r);
}
END_TEST

/*
 * The torture: one writer process flips three consecutive days of a pool
 * between "all booked, units = k" and "all clear, units = k" in one commit
 * bracket per flip (k counts the flips: odd k booked), with lone page writes
 * to another day in between.  Readers in other processes take copies of the
 * three days, spans over them and slot lists, and count every accepted copy
 * that mixes two flips (torn).  Counts go through a shared anonymous map.
 */
#define TORTURE_READERS	   3
#define TORTURE_ITERS	   150000
#define TORTURE_WRITER_CAP 50000000ull
#define TORTURE_GAP	   2000	    /* empty loop turns between flips */
#define TD		   (D0 + 4) /* the three days TD .. TD+2 */

struct torture_counts {
	uint64_t reads, torn, stale, errors, retries, flips_seen;
};

struct torture_shared {
	atomic_int stop;
	atomic_ullong flips;
	struct torture_counts c[TORTURE_READERS];
};

static void spin(int n)
{
	for (volatile int i = 0; i < n; i++)
		;
}

static void torture_write(struct pagesw *pw, uint64_t k)
{
	struct dayst s;

	ds_open_all(&s);
	if (k & 1)
		q_bits_set(s.booked, 0, 96);
	for (int i = 0; i < 96; i++)
		s.units[i] = (uint16_t)k;
	pagesw_commit_begin(pw);
	for (int64_t d = TD; d < TD + 3; d++) {
		pagesw_write_page(pw, 0, d, s.open, s.booked, s.held, s.units,
				  1, 0);
		/* Linger between pages: a reader that does not take its
		 * pages from one cut would now see mixed flips. */
		spin(TORTURE_GAP / 10);
	}
	pagesw_commit_end(pw);
}

static void torture_writer(struct pagesw *pw, struct torture_shared *sh)
{
	struct dayst s;
	uint64_t k;

	ds_open_all(&s);
	for (k = 1; k < TORTURE_WRITER_CAP && !atomic_load(&sh->stop); k++) {
		torture_write(pw, k);
		/* A lone write elsewhere moves commit_seq too. */
		s.units[0] = (uint16_t)k;
		put(pw, 0, TD + 5, &s, 1);
		atomic_store_explicit(&sh->flips, k, memory_order_relaxed);
		/* A real engine publishes between long stretches of other
		 * work; a short gap outside the brackets lets readers on the
		 * other core in between flips, not only while the writer is
		 * descheduled. */
		spin(TORTURE_GAP);
	}
}

/* Is this copy of the three days one flip's state? */
static int torture_consistent(const struct bookd_reader_day d[3])
{
	uint16_t k = d[0].units[0];
	uint64_t b0 = (k & 1) ? ~0ull : 0, b1 = (k & 1) ? 0xffffffffull : 0;

	for (int i = 0; i < 3; i++) {
		if (d[i].booked[0] != b0 || d[i].booked[1] != b1)
			return 0;
		for (int j = 0; j < 96; j++)
			if (d[i].units[j] != k)
				return 0;
	}
	return 1;
}

static void torture_reader(struct torture_shared *sh, int me)
{
	struct torture_counts *c = &sh->c[me];
	struct bookd_reader_day d[3];
	struct bookd_reader_stats st;
	bookd_reader *r;
	int64_t starts[BOOKD_READER_SLOTS];
	uint16_t last = 0;
	uint32_t idx;
	size_t n;
	enum bookd_reason why;
	int rc, fr;

	if (bookd_reader_open(tdir, &r) != 0 ||
	    bookd_reader_resource(r, "pool", &idx) != 0) {
		c->errors++;
		return;
	}
	for (int i = 0; i < TORTURE_ITERS; i++) {
		switch (i % 4) {
		case 0:
		case 1:
			rc = bookd_reader_days(r, idx, TD, 3, d);
			if (rc == 0 && !torture_consistent(d))
				c->torn++;
			if (rc == 0 && d[0].units[0] != last) {
				last = d[0].units[0];
				c->flips_seen++;
			}
			break;
		case 2:
			/* Booked and free alternate; held never shows, so a
			 * HELD reason would be a torn read of the bits. */
			rc = bookd_reader_check(r, idx, T(TD, 0), T(TD + 3, 0),
						NULL, &fr, &why);
			if (rc == 0 && why != BOOKD_REASON_NONE &&
			    why != BOOKD_REASON_BOOKED)
				c->torn++;
			break;
		default:
			/* One 3-day span per day at most: 0 or 1 start. */
			rc = bookd_reader_slots_day(r, idx, TD, 4320, 1440,
						    starts, &n);
			if (rc == 0 && n > 1)
				c->torn++;
			break;
		}
		if (rc == 0)
			c->reads++;
		else if (rc == BOOKD_E_STALE)
			c->stale++;
		else
			c->errors++;
	}
	bookd_reader_stats(r, &st);
	c->retries = st.retries;
	bookd_reader_close(r);
}

/*
 * Put the calling process on the nth CPU it may run on, if there is one.
 * The writer gets one CPU and the readers another, so reads really overlap
 * writes instead of only meeting a writer that the scheduler stopped.
 */
static void pin_to(int nth)
{
	cpu_set_t allowed, one;
	int seen = 0;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed) || seen++ != nth)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		sched_setaffinity(0, sizeof(one), &one);
		return;
	}
}

static pid_t
torture_fork(void (*fn)(struct pagesw *, struct torture_shared *, int),
	     struct pagesw *pw, struct torture_shared *sh, int me, int cpu)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Never outlive the test, whatever happens to it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pin_to(cpu);
		fn(pw, sh, me);
		_exit(0);
	}
	return pid;
}

static void run_writer(struct pagesw *pw, struct torture_shared *sh, int me)
{
	(void)me;
	torture_writer(pw, sh);
}

static void run_reader(struct pagesw *pw, struct torture_shared *sh, int me)
{
	(void)pw;
	torture_reader(sh, me);
}

static int reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

START_TEST(test_torture_multiprocess)
{
	struct torture_counts sum = {0};
	struct torture_shared *sh;
	struct pagesw *pw = wopen();
	pid_t writer, readers[TORTURE_READERS];
	struct dayst s;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(sh, MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
	pagesw_set_resource(pw, 0, "pool", PAGES_DIR_ACTIVE, 60000);
	ds_open_all(&s);
	pagesw_commit_begin(pw);
	for (int64_t d = W_FIRST; d <= W_LAST; d++)
		put(pw, 0, d, &s, 1);
	pagesw_commit_end(pw);
	torture_write(pw, 0);

	writer = torture_fork(run_writer, pw, sh, 0, 0);
	for (int i = 0; i < TORTURE_READERS; i++)
		readers[i] = torture_fork(run_reader, pw, sh, i, 1);
	for (int i = 0; i < TORTURE_READERS; i++)
		ck_assert_int_eq(reap(readers[i]), 0);
	atomic_store(&sh->stop, 1);
	ck_assert_int_eq(reap(writer), 0);

	for (int i = 0; i < TORTURE_READERS; i++) {
		sum.reads += sh->c[i].reads;
		sum.torn += sh->c[i].torn;
		sum.stale += sh->c[i].stale;
		sum.errors += sh->c[i].errors;
		sum.retries += sh->c[i].retries;
		sum.flips_seen += sh->c[i].flips_seen;
	}
	printf("torture: %d readers x %d calls, writer flips %llu: "
	       "%llu accepted, %llu flips observed, %llu retries, %llu stale, "
	       "%llu torn, %llu errors\n",
	       TORTURE_READERS, TORTURE_ITERS,
	       (unsigned long long)atomic_load(&sh->flips),
	       (unsigned long long)sum.reads,
	       (unsigned long long)sum.flips_seen,
	       (unsigned long long)sum.retries, (unsigned long long)sum.stale,
	       (unsigned long long)sum.torn, (unsigned long long)sum.errors);
	fflush(stdout);
	ck_assert_uint_eq(sum.torn, 0);
	ck_assert_uint_eq(sum.errors, 0);
	ck_assert_uint_eq(sum.reads + sum.stale,
			  (uint64_t)TORTURE_READERS * TORTURE_ITERS);
	ck_assert_uint_gt(sum.reads, 0);
	munmap(sh, sizeof(*sh));
	pagesw_close(pw);
}
END_TEST

static Suite *pages_suite(void)
{
	Suite *s = suite_create("pages");
	TCase *tc = tcase_create("pages");
	TCase *tt = tcase_create("torture");

	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_header_and_info);
	tcase_add_test(tc, test_roundtrip_day);
	tcase_add_test(tc, test_ring_reuse_keeps_versions_growing);
	tcase_add_test(tc, test_window_and_unpublished);
	tcase_add_test(tc, test_check_spans);
	tcase_add_test(tc, test_days_one_cut);
	tcase_add_test(tc, test_pool_units);
	tcase_add_test(tc, test_slots_view_scenario);
	tcase_add_test(tc, test_slots_midnight_and_windows);
	tcase_add_test(tc, test_slots_pool);
	tcase_add_test(tc, test_slots_local_days);
	tcase_add_test(tc, test_slots_month);
	tcase_add_test(tc, test_check_pool_holds);
	tcase_add_test(tc, test_directory_growth);
	tcase_add_test(tc, test_many_resources_hash);
	tcase_add_test(tc, test_generation_retired);
	tcase_add_test(tc, test_reader_refuses_bad_files);
	tcase_add_test(tc, test_writer_errors_and_leftovers);
	tcase_add_test(tc, test_file_is_sparse);
	tcase_add_test(tc, test_pages_dir);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(tt, base_setup, base_teardown);
	tcase_add_checked_fixture(tt, setup, teardown);
	tcase_set_timeout(tt, 120);
	tcase_add_test(tt, test_torture_multiprocess);
	suite_add_tcase(s, tt);
	return s;
}

int main(void)
{
	return run_suite(pages_suite());
}

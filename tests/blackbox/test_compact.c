/*
 * test_compact.c - the checkpoint compactor (`bookd --write-snapshot`, the
 * process the engine spawns to write a snapshot) against a real bookd.
 *
 * What must hold: the snapshot the compactor writes for LSN L holds exactly
 * the state a restart of the engine at L has -- after a run with bookings,
 * reschedules, cancellations, holds consumed by bookings, confirmations,
 * event types, shared schedules with holiday overrides, hooks and their
 * deletion, part of it in a snapshot and part in the log after it.  The
 * restart's state is taken from the snapshot a clean stop writes in the
 * loop (the same encoding): the two files must be equal byte for byte but
 * for the creation time and the checksums over it.  L is both the end of
 * the log and an LSN in the middle of it (the restart at that LSN runs on
 * `bookd-replay replay --until`'s copy), so the compactor stops at L and
 * never reads past it.  It refuses an LSN the log does not reach and an
 * LSN before the snapshot, and modifies nothing but snapshot.tmp.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "suite_main.h"
#include "wire.h"

#define Q 900 /* seconds per slot */

static struct h_case C;
static bool started;

static void teardown(void)
{
	if (started)
		h_case_end(&C);
	started = false;
}

#define CALL(fd, op, ...) h_case_call(&C, fd, NULL, op, __VA_ARGS__)

static int64_t stat_of(int fd, const char *key)
{
	return h_case_stat(&C, fd, key);
}

static int64_t result_id(void)
{
	int64_t id = -1;

	ck_assert(wire_int(wire_get(h_result(&C.r), "id"), &id));
	return id;
}

/* Booking i of resource "cp": its own slot, with a 3,000-byte note so
 * that the log grows fast enough for the test build's checkpoints. */
static void book_note(int fd, int i)
{
	h_case_book_note(&C, fd, "cp", i);
}

/* One of every kind of change, round k. */
static void mixed(int fd, int k)
{
	char res[16], hook[16], prev[16], sess[16], date[11], sched[16];
	int64_t d = h_day(3 + k), id;

	snprintf(res, sizeof(res), "r%d", k);
	snprintf(hook, sizeof(hook), "h%d", k);
	snprintf(prev, sizeof(prev), "h%d", k - 1);
	snprintf(sess, sizeof(sess), "s%d", k);
	snprintf(sched, sizeof(sched), "hours%d", k % 2);
	/* A shared schedule, open every day, with a holiday (closed) and a
	 * short day; replacing it rewrites its resources. */
	h_date(h_day(40 + k), date);
	ck_assert_int_eq(
	    CALL(fd, "schedule.put",
		 "{s:s s:s s:[{s:i s:s s:s} {s:i s:s s:s} {s:i s:s s:s} "
		 "{s:i s:s s:s} {s:i s:s s:s} {s:i s:s s:s} {s:i s:s s:s}] "
		 "s:[{s:s s:[]}]}",
		 "id", sched, "timezone", "Europe/Berlin", "weekly", "day", 1,
		 "start", "00:00", "end", "24:00", "day", 2, "start", "00:00",
		 "end", "24:00", "day", 3, "start", "00:00", "end", "24:00",
		 "day", 4, "start", "00:00", "end", "24:00", "day", 5, "start",
		 "00:00", "end", "24:00", "day", 6, "start", "00:00", "end",
		 "24:00", "day", 7, "start", "00:00", "end", "24:00",
		 "overrides", "date", date, "windows"),
	    0);
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s s:s}", "id", res,
			      "schedule", sched),
			 0);
	/* Booked, then moved. */
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			      "resource", res, "start", d + 10 * 3600, "end",
			      d + 11 * 3600, "booker", "name", "a", "email",
			      "a@x", "key", sess),
			 0);
	id = result_id();
	ck_assert_int_eq(CALL(fd, "booking.reschedule", "{s:I s:I s:I}", "id",
			      id, "start", d + 12 * 3600, "end", d + 13 * 3600),
			 0);
	/* Booked, then cancelled. */
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s}}",
			      "resource", res, "start", d + 14 * 3600, "end",
			      d + 15 * 3600, "booker", "name", "b", "email",
			      "b@x"),
			 0);
	ck_assert_int_eq(CALL(fd, "booking.cancel", "{s:I}", "id", result_id()),
			 0);
	/* A hold, consumed by the session's booking. */
	ck_assert_int_eq(CALL(fd, "hold", "{s:s s:I s:I s:s}", "resource", res,
			      "start", d + 16 * 3600, "end", d + 17 * 3600,
			      "session", sess),
			 0);
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			      "resource", res, "start", d + 16 * 3600, "end",
			      d + 17 * 3600, "booker", "name", "c", "email",
			      "c@x", "session", sess),
			 0);
	/* An event type that needs confirmation, and a confirmation. */
	ck_assert_int_eq(CALL(fd, "event_type.put", "{s:s s:s s:[i] s:[s] s:b}",
			      "id", res, "title", "T", "lengths", 60,
			      "resources", res, "requires_confirmation", 1),
			 0);
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:s s:I s:I s:{s:s s:s}}",
			      "resource", res, "event_type", res, "start",
			      d + 18 * 3600, "end", d + 19 * 3600, "booker",
			      "name", "e", "email", "e@x"),
			 0);
	ck_assert_int_eq(CALL(fd, "booking.transition", "{s:I s:s}", "id",
			      result_id(), "to", "confirmed"),
			 0);
	/* Hooks come and go. */
	ck_assert_int_eq(CALL(fd, "hook.put", "{s:s s:s s:[s]}", "id", hook,
			      "url", "https://crm.example/hook", "events", "*"),
			 0);
	if (k % 3 == 2)
		ck_assert_int_eq(CALL(fd, "hook.delete", "{s:s}", "id", prev),
				 0);
}

static void run(const char *const argv[])
{
	char out[256], err[1024];
	int rc = h_run_capture(argv, 60000, out, sizeof(out), err, sizeof(err));

	ck_assert_msg(rc == 0, "%s %s: status %d: %s", argv[0], argv[1], rc,
		      err);
}

static void copy_dir(const char *from, const char *to)
{
	const char *argv[] = {"/bin/cp", "-a", from, to, NULL};
	run(argv);
}

/* The compactor on dir at lsn; returns its exit status, stderr in err. */
static int compact(const char *dir, uint64_t lsn, char *err, size_t errlen)
{
	char a_lsn[24], out[256];
	const char *argv[] = {getenv("BOOKD_BIN"),
			      "--write-snapshot",
			      "--data",
			      dir,
			      "--upto",
			      a_lsn,
			      NULL};

	snprintf(a_lsn, sizeof(a_lsn), "%" PRIu64, lsn);
	return h_run_capture(argv, 120000, out, sizeof(out), err, errlen);
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;
	long len;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	p = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fread(p, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	*n = (size_t)len;
	return p;
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Two snapshots of the same state at lsn: equal but for the creation
 * time (header 24..31), the header's CRC (60..63) and the trailer's
 * CRCs (16..19, 28..31). */
static void same_snapshot(const char *a, const char *b, uint64_t lsn)
{
	size_t na, nb;
	unsigned char *pa = slurp(a, &na), *pb = slurp(b, &nb);
	size_t t = na - 32;

	ck_assert_msg(na == nb, "%s has %zu bytes, %s %zu", a, na, b, nb);
	ck_assert_uint_gt(na, 96);
	ck_assert_uint_eq(le64(pa + 16), lsn);
	ck_assert_uint_eq(le64(pb + 16), lsn);
	ck_assert(memcmp(pa, pb, 24) == 0);
	ck_assert(memcmp(pa + 32, pb + 32, 28) == 0);
	for (size_t i = 64; i < t; i++)
		ck_assert_msg(pa[i] == pb[i],
			      "%s and %s differ at byte %zu of %zu", a, b, i,
			      na);
	ck_assert(memcmp(pa + t, pb + t, 16) == 0);
	ck_assert(memcmp(pa + t + 20, pb + t + 20, 8) == 0);
	free(pa);
	free(pb);
}

static void path(char *buf, size_t len, const char *dir, const char *name)
{
	ck_assert_int_lt(snprintf(buf, len, "%s/%s", dir, name), (int)len);
}

/* Restart on C.h.data, check it is at lsn, stop cleanly: the stop writes
 * the restarted state's snapshot in the loop. */
static void restart_and_stop(uint64_t lsn)
{
	int fd;

	ck_assert_int_eq(h_restart(&C.h, NULL), 0);
	fd = h_case_conn(&C);
	ck_assert_int_eq(stat_of(fd, "lsn"), (int64_t)lsn);
	close(fd);
	ck_assert_int_eq(h_stop(&C.h), 0);
	ck_assert(h_log_contains(&C.h, "in the loop"));
}

START_TEST(compactor_equals_restart)
{
	char full[400], mid[400], pitr[400], saved[400], a[480], b[480];
	char err[1024], a_mid[24];
	int fd, n = 0;
	uint64_t snap, last, half;
	struct stat sb;

	ck_assert_int_eq(h_use_test_build(), 0);
	/* Background checkpoints every 32 KiB of log (or the snapshot's
	 * size): the state is part snapshot, part log. */
	h_case_start(&C, "--test-checkpoint-kb 32");
	started = true;
	fd = h_case_conn(&C);
	h_case_mkres(&C, fd, "cp");
	for (int k = 0; k < 4; k++)
		mixed(fd, k);
	while (!h_log_contains(&C.h, "checkpoint: snapshot at LSN")) {
		ck_assert_int_lt(n, 3000);
		book_note(fd, n++);
	}
	/* The log after the snapshot: every kind again, little of it. */
	for (int k = 4; k < 10; k++)
		mixed(fd, k);
	snap = (uint64_t)stat_of(fd, "last_checkpoint");
	last = (uint64_t)stat_of(fd, "lsn");
	close(fd);
	ck_assert_uint_gt(last, snap + 40);
	half = snap + (last - snap) / 2;
	h_kill9(&C.h);

	/* The compactor's snapshots, on copies. */
	snprintf(full, sizeof(full), "%s/full", C.h.dir);
	snprintf(mid, sizeof(mid), "%s/mid", C.h.dir);
	snprintf(pitr, sizeof(pitr), "%s/pitr", C.h.dir);
	snprintf(saved, sizeof(saved), "%s/saved", C.h.dir);
	copy_dir(C.h.data, full);
	copy_dir(C.h.data, mid);
	/* A compactor killed with the engine may have left a snapshot.tmp
	 * (the engine would remove it). */
	path(a, sizeof(a), full, "snapshot.tmp");
	unlink(a);
	path(a, sizeof(a), mid, "snapshot.tmp");
	unlink(a);
	ck_assert_msg(compact(full, last, err, sizeof(err)) == 0, "%s", err);
	/* Refusals: past the log's end, before the snapshot. */
	ck_assert_int_eq(compact(mid, last + 5, err, sizeof(err)), 1);
	ck_assert_ptr_nonnull(strstr(err, "the log ends at LSN"));
	ck_assert_int_eq(compact(mid, snap - 1, err, sizeof(err)), 1);
	ck_assert_ptr_nonnull(strstr(err, "past LSN"));
	path(a, sizeof(a), mid, "snapshot.tmp");
	ck_assert_int_ne(stat(a, &sb), 0); /* a failure leaves none */
	ck_assert_msg(compact(mid, half, err, sizeof(err)) == 0, "%s", err);

	/* A restart at the end of the log. */
	restart_and_stop(last);
	path(a, sizeof(a), full, "snapshot.tmp");
	path(b, sizeof(b), C.h.data, "snapshot");
	same_snapshot(a, b, last);

	/* A restart at the LSN in the middle: a point-in-time copy. */
	snprintf(a_mid, sizeof(a_mid), "%" PRIu64, half);
	{
		const char *argv[] = {getenv("BOOKD_REPLAY_BIN"),
				      "replay",
				      mid,
				      "--into",
				      pitr,
				      "--until",
				      a_mid,
				      NULL};
		run(argv);
	}
	ck_assert_int_eq(rename(C.h.data, saved), 0);
	ck_assert_int_eq(rename(pitr, C.h.data), 0);
	restart_and_stop(half);
	path(a, sizeof(a), mid, "snapshot.tmp");
	path(b, sizeof(b), C.h.data, "snapshot");
	same_snapshot(a, b, half);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("compact");
	TCase *tc = tcase_create("compactor");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, compactor_equals_restart);
	suite_add_tcase(s, tc);
	return run_suite(s);
}

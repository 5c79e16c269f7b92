/*
 * test_checkpoint.c - checkpoints written by the compactor the engine
 * spawns (`bookd --write-snapshot`, its child process), against a real
 * bookd (the test build, whose --test-checkpoint-* flags make a compactor
 * fail or linger after it wrote snapshot.tmp).
 *
 * What must hold: the engine answers bookings while the child writes; the
 * snapshot is installed only once the child ended well (and its LSN is
 * durable: the unit test checkpoint_waits_for_durability covers that
 * order); a child that fails or is killed leaves no snapshot, is logged and
 * retried later; kill -9 of the engine during a checkpoint takes the child
 * with it and loses nothing acknowledged; a clean stop waits for the child
 * and installs its snapshot, or writes one itself.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

static void start(const char *args)
{
	ck_assert_int_eq(h_use_test_build(), 0);
	h_case_start(&C, args);
	started = true;
}

#define CALL(fd, op, ...) h_case_call(&C, fd, NULL, op, __VA_ARGS__)

static int64_t stat_of(int fd, const char *key)
{
	return h_case_stat(&C, fd, key);
}

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Booking number i of resource "cp": its own slot, 96 a day from the day
 * after tomorrow, with a 3,000-byte note so that 1 MiB of log is about 350
 * bookings. */
static void book(int fd, int i)
{
	h_case_book_note(&C, fd, "cp", i);
}

/* Book one at a time from *n on until the log says needle (at most 3,000
 * bookings). */
static void book_until(int fd, int *n, const char *needle)
{
	while (!h_log_contains(&C.h, needle)) {
		ck_assert_int_lt(*n, 3000);
		book(fd, (*n)++);
	}
}

static void wait_log(const char *needle, int ms)
{
	int64_t end = ms_now() + ms;

	while (!h_log_contains(&C.h, needle)) {
		ck_assert_msg(ms_now() < end, "the log never said \"%s\"",
			      needle);
		usleep(20000);
	}
}

static bool data_file(const char *name)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", C.h.data, name);
	return stat(path, &sb) == 0;
}

/* The PID of the last checkpoint child the log named. */
static pid_t child_pid(void)
{
	char line[512];
	pid_t pid = 0;
	FILE *f = fopen(C.h.log, "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		int p;
		if (sscanf(line, "bookd: checkpoint: compactor %d writes",
			   &p) == 1)
			pid = p;
	}
	fclose(f);
	ck_assert_int_gt(pid, 0);
	return pid;
}

/* A process is gone when it has no /proc entry or is a zombie. */
static bool gone(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	bool dead = true;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return true;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) != NULL)
		dead = p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
	fclose(f);
	return dead;
}

static int setup_conn(void)
{
	int fd = h_case_conn(&C);
	h_case_mkres(&C, fd, "cp");
	return fd;
}

/* Restart and find all n bookings; with covered, the snapshot covers the
 * whole log. */
static void restart_finds(int n, bool covered)
{
	int fd;

	ck_assert_int_eq(h_restart(&C.h, NULL), 0);
	fd = h_case_conn(&C);
	ck_assert_int_eq(stat_of(fd, "bookings"), n);
	if (covered)
		ck_assert_int_eq(stat_of(fd, "last_checkpoint"),
				 stat_of(fd, "lsn"));
	close(fd);
}

START_TEST(engine_serves_while_child_writes)
{
	int fd, n = 0;
	int64_t t0;

	start("--checkpoint-mb 1 --test-checkpoint-delay-ms 4000");
	fd = setup_conn();
	book_until(fd, &n, "checkpoint: compactor ");
	/* The child lingers 4 s after writing; the engine answers
	 * meanwhile, and has installed nothing yet. */
	t0 = ms_now();
	for (int i = 0; i < 5; i++)
		book(fd, n++);
	ck_assert_int_eq(stat_of(fd, "last_checkpoint"), 0);
	ck_assert(!h_log_contains(&C.h, "checkpoint: snapshot at LSN"));
	ck_assert_int_lt(ms_now() - t0, 4000);
	ck_assert(!data_file("snapshot"));
	wait_log("checkpoint: snapshot at LSN", 15000);
	ck_assert_int_gt(stat_of(fd, "last_checkpoint"), 0);
	ck_assert(data_file("snapshot"));
	ck_assert(!data_file("snapshot.tmp"));
	close(fd);
	h_kill9(&C.h);
	restart_finds(n, false);
}
END_TEST

START_TEST(failed_child_is_retried)
{
	int fd, n = 0;

	start("--checkpoint-mb 1 --test-checkpoint-fail 1");
	fd = setup_conn();
	book_until(fd, &n, "nothing was installed");
	ck_assert(h_log_contains(&C.h, "failing as the test asked"));
	ck_assert(!data_file("snapshot"));
	ck_assert(!data_file("snapshot.tmp"));
	ck_assert_int_eq(stat_of(fd, "last_checkpoint"), 0);
	/* Not at once: the next try waits CHECKPOINT_RETRY_MS (5 s). */
	for (int i = 0; i < 5; i++)
		book(fd, n++);
	ck_assert(!h_log_contains(&C.h, "checkpoint: snapshot at LSN"));
	sleep(5);
	book_until(fd, &n, "checkpoint: snapshot at LSN");
	ck_assert_int_gt(stat_of(fd, "last_checkpoint"), 0);
	ck_assert(data_file("snapshot"));
	close(fd);
	h_kill9(&C.h);
	restart_finds(n, false);
}
END_TEST

START_TEST(killed_child_installs_nothing)
{
	int fd, n = 0;
	pid_t pid;

	start("--checkpoint-mb 1 --test-checkpoint-delay-ms 60000");
	fd = setup_conn();
	book_until(fd, &n, "checkpoint: compactor ");
	pid = child_pid();
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	wait_log("was killed by signal 9", 10000);
	ck_assert(!data_file("snapshot"));
	ck_assert(!data_file("snapshot.tmp"));
	ck_assert_int_eq(stat_of(fd, "last_checkpoint"), 0);
	book(fd, n++);
	close(fd);
	/* No child runs now: the clean stop writes the snapshot itself. */
	ck_assert_int_eq(h_stop(&C.h), 0);
	ck_assert(data_file("snapshot"));
	restart_finds(n, true);
}
END_TEST

START_TEST(kill9_during_checkpoint)
{
	int fd, n = 0;
	pid_t pid;
	int64_t end;

	start("--checkpoint-mb 1 --test-checkpoint-delay-ms 60000");
	fd = setup_conn();
	book_until(fd, &n, "checkpoint: compactor ");
	pid = child_pid();
	for (int i = 0; i < 10; i++)
		book(fd, n++);
	close(fd);
	h_kill9(&C.h);
	/* The child dies with the engine instead of writing on. */
	end = ms_now() + 5000;
	while (!gone(pid)) {
		ck_assert_msg(ms_now() < end,
			      "checkpoint child %d outlived "
			      "the engine",
			      (int)pid);
		usleep(20000);
	}
	ck_assert(!data_file("snapshot"));
	restart_finds(n, false);
	ck_assert_int_eq(h_stop(&C.h), 0);
	ck_assert(data_file("snapshot"));
	restart_finds(n, true);
}
END_TEST

START_TEST(stop_waits_for_child)
{
	int fd, n = 0;

	start("--checkpoint-mb 1 --test-checkpoint-delay-ms 1500");
	fd = setup_conn();
	book_until(fd, &n, "checkpoint: compactor ");
	close(fd);
	ck_assert_int_eq(h_stop(&C.h), 0);
	ck_assert(h_log_contains(&C.h, "checkpoint: snapshot at LSN"));
	ck_assert(!h_log_contains(&C.h, "checkpoint at stop"));
	ck_assert(!h_log_contains(&C.h, "was killed"));
	restart_finds(n, true);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("checkpoint");
	TCase *tc = tcase_create("child");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, engine_serves_while_child_writes);
	tcase_add_test(tc, failed_child_is_retried);
	tcase_add_test(tc, killed_child_installs_nothing);
	tcase_add_test(tc, kill9_during_checkpoint);
	tcase_add_test(tc, stop_waits_for_child);
	suite_add_tcase(s, tc);
	return run_suite(s);
}

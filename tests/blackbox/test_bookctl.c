/*
 * test_bookctl.c - the bookctl command line ($BOOKCTL_BIN) against a real
 * engine ($BOOKD_BIN, started by the harness): the README tour (resources,
 * booking, the day view, holds, cancelling, stats), the booking lifecycle
 * commands, --json output (checked by an independent JSON parser, Python's),
 * watch, and the exit codes 1 (refused), 2 (usage) and 3 (unreachable).
 *
 * Every child runs under a bound: its output is read until EOF or
 * RUN_MS, after which it is killed and the test fails.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "suite_main.h"
#include "harness.h"
#include "bookd.h"
#include "quanta.h"
#include "tz.h"

#define RUN_MS	 30000
#define MAX_ARGV 32

static struct harness h;
static char date[11]; /* a day inside the engine's window */
static char at10[20]; /* date 10:00, as bookctl reads it */
static char at12[20]; /* date 12:00 */
static char at15[20]; /* date 15:00 */

struct run {
	int status; /* exit status, or -1 when it did not finish */
	char out[65536];
	char err[8192];
};

static void setup(void)
{
	int64_t day = h_day(7);

	ck_assert_int_eq(h_start(&h, NULL), 0);
	h_date(day, date);
	snprintf(at10, sizeof at10, "%sT10:00", date);
	snprintf(at12, sizeof at12, "%sT12:00", date);
	snprintf(at15, sizeof at15, "%sT15:00", date);
}

static void teardown(void)
{
	h_cleanup(&h);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Spawn argv with stdin fed from input (may be NULL), stdout and stderr on
 * pipes.  Returns the pid; *out_fd and *err_fd are the read ends.
 */
static pid_t spawn(char *const argv[], const char *input, int *out_fd,
		   int *err_fd)
{
	int in[2], out[2], err[2];
	pid_t pid;

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	/* Inputs here are small: they fit the pipe without blocking. */
	if (input)
		ck_assert_int_eq(write(in[1], input, strlen(input)),
				 (ssize_t)strlen(input));
	close(in[1]);
	*out_fd = out[0];
	*err_fd = err[0];
	return pid;
}

/* Read both pipes to EOF (bounded by RUN_MS), then reap. */
static void collect(struct run *r, pid_t pid, int out_fd, int err_fd)
{
	int64_t deadline = now_ms() + RUN_MS;
	size_t no = 0, ne = 0;
	int fds[2] = {out_fd, err_fd};
	int open_fds = 2, ws;

	while (open_fds > 0 && now_ms() < deadline) {
		struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
		int n = poll(p, 2, (int)(deadline - now_ms()));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (int i = 0; i < 2; i++) {
			char *buf = i == 0 ? r->out : r->err;
			size_t cap = i == 0 ? sizeof r->out : sizeof r->err;
			size_t *len = i == 0 ? &no : &ne;
			char sink[512];
			ssize_t k;

			if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (*len + 1 < cap)
				k = read(fds[i], buf + *len, cap - 1 - *len);
			else
				k = read(fds[i], sink, sizeof sink);
			if (k <= 0) {
				close(fds[i]);
				fds[i] = -1;
				open_fds--;
			} else if (*len + 1 < cap) {
				*len += (size_t)k;
			}
		}
	}
	r->out[no] = 0;
	r->err[ne] = 0;
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (open_fds > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		r->status = -1;
		return;
	}
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* Build "$BOOKCTL_BIN --socket SOCK args..." into argv. */
static void ctl_argv(char *argv[MAX_ARGV], bool with_socket, va_list ap)
{
	const char *bin = getenv("BOOKCTL_BIN");
	const char *a;
	int n = 0;

	ck_assert_msg(bin && *bin, "BOOKCTL_BIN is not set");
	argv[n++] = (char *)bin;
	if (with_socket) {
		argv[n++] = "--socket";
		argv[n++] = h.sock;
	}
	while ((a = va_arg(ap, const char *)) != NULL) {
		ck_assert_int_lt(n, MAX_ARGV - 1);
		argv[n++] = (char *)a;
	}
	argv[n] = NULL;
}

/* Run bookctl on the harness's socket with the NULL-terminated args. */
static int ctl(struct run *r, ...)
{
	char *argv[MAX_ARGV];
	int out_fd, err_fd;
	va_list ap;
	pid_t pid;

	va_start(ap, r);
	ctl_argv(argv, true, ap);
	va_end(ap);
	pid = spawn(argv, NULL, &out_fd, &err_fd);
	collect(r, pid, out_fd, err_fd);
	return r->status;
}

/* The same without --socket (for tests of the socket's default). */
static int ctl_bare(struct run *r, ...)
{
	char *argv[MAX_ARGV];
	int out_fd, err_fd;
	va_list ap;
	pid_t pid;

	va_start(ap, r);
	ctl_argv(argv, false, ap);
	va_end(ap);
	pid = spawn(argv, NULL, &out_fd, &err_fd);
	collect(r, pid, out_fd, err_fd);
	return r->status;
}

/*
 * Parse json_text with Python's json module and print the Python
 * expression expr (over the parsed value d) into r->out.  Returns the exit
 * status: non-zero when the text is not JSON or expr fails.
 */
static int py_json(struct run *r, const char *json_text, const char *expr)
{
	char prog[512];
	char *argv[] = {"/usr/bin/python3", "-c", prog, NULL};
	int out_fd, err_fd;
	pid_t pid;

	snprintf(prog, sizeof prog,
		 "import json, sys\nd = json.load(sys.stdin)\nprint(%s)", expr);
	pid = spawn(argv, json_text, &out_fd, &err_fd);
	collect(r, pid, out_fd, err_fd);
	return r->status;
}

#define OK(r, ...)                                                             \
	ck_assert_msg(ctl(r, __VA_ARGS__, NULL) == 0,                          \
		      "bookctl failed (%d): %s", (r)->status, (r)->err)

#define HAS(r, s)                                                              \
	ck_assert_msg(strstr((r)->out, s) != NULL, "no '%s' in:\n%s", s,       \
		      (r)->out)

/* The booking id on the first line "booking N  status". */
static long booking_id(const struct run *r)
{
	long id = 0;

	ck_assert_msg(sscanf(r->out, "booking %ld", &id) == 1,
		      "no booking in:\n%s", r->out);
	return id;
}

START_TEST(readme_tour)
{
	static struct run r;
	char id[32];
	char line[64];

	OK(&r, "ping");
	HAS(&r, "pong");
	OK(&r, "resource", "add", "studio-a", "--name", "Studio A", "--kind",
	   "room");
	HAS(&r, "studio-a");
	HAS(&r, "Studio A");
	OK(&r, "resource", "add", "mics", "--quantity", "5");
	OK(&r, "resource", "list");
	HAS(&r, "studio-a");
	HAS(&r, "mics");

	OK(&r, "book", "studio-a", at10, "2h", "--name", "Ada Lovelace",
	   "--email", "ada@example.org", "--phone", "+44 1");
	HAS(&r, "confirmed");
	HAS(&r, "Ada Lovelace <ada@example.org>");
	snprintf(line, sizeof line, "%s 10:00 UTC - %s 12:00 UTC (2h)", date,
		 date);
	HAS(&r, line);
	snprintf(id, sizeof id, "%ld", booking_id(&r));

	/* The day view: 10:00 and 11:00 are taken, 12:00 is free. */
	OK(&r, "day", "studio-a", date, "--duration", "60");
	HAS(&r, "09:00  available");
	HAS(&r, "12:00  available");
	ck_assert_ptr_null(strstr(r.out, "10:00"));
	ck_assert_ptr_null(strstr(r.out, "11:00"));

	OK(&r, "check", "studio-a", at10, "30m");
	HAS(&r, "not free: booked");
	OK(&r, "check", "studio-a", at12, "1h");
	ck_assert_str_eq(r.out, "free\n");

	/* A hold shows as reserved to everyone else, then goes away. */
	OK(&r, "hold", "studio-a", at15, "1h", "--session", "s1");
	HAS(&r, "held studio-a");
	OK(&r, "day", "studio-a", date);
	HAS(&r, "15:00  reserved");
	OK(&r, "day", "studio-a", date, "--session", "s1");
	HAS(&r, "15:00  available");
	OK(&r, "release", "studio-a", "--session", "s1");
	HAS(&r, "released");
	OK(&r, "release", "studio-a", "--session", "s1");
	HAS(&r, "no hold to release");
	OK(&r, "day", "studio-a", date);
	HAS(&r, "15:00  available");

	OK(&r, "cancel", id, "--reason", "plans changed");
	HAS(&r, "cancelled");
	HAS(&r, "plans changed");
	OK(&r, "show", id);
	HAS(&r, "cancelled");
	OK(&r, "day", "studio-a", date);
	HAS(&r, "10:00  available");

	OK(&r, "stats");
	HAS(&r, "bookings");
}
END_TEST

START_TEST(lifecycle_and_lists)
{
	static struct run r;
	char id[32], ref[80];
	const char *p;

	OK(&r, "resource", "add", "studio-a");
	OK(&r, "resource", "add", "mics", "--quantity", "5");
	OK(&r, "book", "studio-a,mics:2", at10, "1h30m", "--name", "Bob",
	   "--email", "bob@example.org", "--status", "pending", "--key", "k1");
	HAS(&r, "pending");
	HAS(&r, "mics x2");
	snprintf(id, sizeof id, "%ld", booking_id(&r));
	p = strstr(r.out, "ref        ");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p, "ref %79s", ref), 1);

	/* The same key returns the same booking. */
	OK(&r, "book", "studio-a,mics:2", at10, "1h30m", "--name", "Bob",
	   "--email", "bob@example.org", "--status", "pending", "--key", "k1");
	ck_assert_int_eq(booking_id(&r), atol(id));

	OK(&r, "confirm", id, "--reason", "phoned");
	HAS(&r, "confirmed");
	HAS(&r, "pending -> confirmed");
	ck_assert_int_eq(ctl(&r, "confirm", id, NULL), 1);
	ck_assert_ptr_nonnull(strstr(r.err, "bookctl: INVALID_STATE: "));

	OK(&r, "reschedule", ref, at12, "1h");
	HAS(&r, "12:00 UTC");
	OK(&r, "show", ref);
	HAS(&r, "(1h)");
	OK(&r, "complete", id);
	HAS(&r, "completed");

	OK(&r, "list", "--resource", "studio-a");
	HAS(&r, "completed");
	HAS(&r, "Bob <bob@example.org>");
	OK(&r, "events");
	HAS(&r, "booking.created");
	HAS(&r, "booking.confirmed");
	HAS(&r, "booking.rescheduled");
	HAS(&r, "booking.completed");

	OK(&r, "book", "studio-a", at15, "1h", "--name", "C", "--email",
	   "c@example.org");
	snprintf(id, sizeof id, "%ld", booking_id(&r));
	OK(&r, "no-show", id);
	HAS(&r, "no_show");
}
END_TEST

START_TEST(json_output_parses)
{
	static struct run r, py;
	char expect[32];

	OK(&r, "--json", "resource", "add", "studio-a");
	ck_assert_int_eq(py_json(&py, r.out, "d['id']"), 0);
	ck_assert_str_eq(py.out, "studio-a\n");

	OK(&r, "book", "studio-a", at10, "1h", "--json", "--name",
	   "Zoë \"Q\" \\ O'Neil", "--email", "z@example.org", "--notes",
	   "line1\nline2\ttab");
	ck_assert_int_eq(
	    py_json(&py, r.out,
		    "d['id'], d['booker']['name'], d['booker']['notes']"),
	    0);
	ck_assert_str_eq(py.out, "1 Zoë \"Q\" \\ O'Neil line1\nline2\ttab\n");

	OK(&r, "--json", "show", "1");
	ck_assert_int_eq(py_json(&py, r.out, "d['status']"), 0);
	ck_assert_str_eq(py.out, "confirmed\n");
	OK(&r, "--json", "resource", "list");
	ck_assert_int_eq(py_json(&py, r.out, "len(d)"), 0);
	ck_assert_str_eq(py.out, "1\n");
	OK(&r, "--json", "day", "studio-a", date);
	ck_assert_int_eq(py_json(&py, r.out, "d[0]['state']"), 0);
	ck_assert_str_eq(py.out, "available\n");
	OK(&r, "--json", "stats");
	ck_assert_int_eq(py_json(&py, r.out, "d['bookings']"), 0);
	ck_assert_str_eq(py.out, "1\n");
	OK(&r, "--json", "list");
	ck_assert_int_eq(py_json(&py, r.out, "len(d['bookings'])"), 0);
	ck_assert_str_eq(py.out, "1\n");

	/* call: JSON in, JSON out. */
	snprintf(expect, sizeof expect, "%s\n", date);
	{
		char args[160];
		snprintf(args, sizeof args,
			 "{\"resource\": \"studio-a\", \"date\": \"%s\", "
			 "\"duration\": 60}",
			 date);
		OK(&r, "call", "slots.day", args);
	}
	ck_assert_int_eq(py_json(&py, r.out, "d['date']"), 0);
	ck_assert_str_eq(py.out, expect);
	OK(&r, "call", "ping");
	ck_assert_str_eq(r.out, "\"pong\"\n");
	OK(&r, "call", "resource.get", "{\"id\": \"studio\\u002da\"}\n");
	ck_assert_int_eq(py_json(&py, r.out, "d['id']"), 0);
	ck_assert_str_eq(py.out, "studio-a\n");
	/* Unknown fields are refused by the engine: the JSON reached it. */
	ck_assert_int_eq(ctl(&r, "call", "resource.get",
			     "{\"id\": \"studio-a\", \"zz\": [1, 2.5, null, "
			     "true, {\"k\": \"\\ud83d\\ude00\"}]}",
			     NULL),
			 1);
	ck_assert_ptr_nonnull(strstr(r.err, "BAD_REQUEST"));
}
END_TEST

START_TEST(exit_codes)
{
	static struct run r;
	char missing[400];

	OK(&r, "resource", "add", "studio-a");
	OK(&r, "book", "studio-a", at10, "2h", "--name", "A", "--email",
	   "a@example.org");

	/* 1: the engine refused, with code, message and details. */
	ck_assert_int_eq(ctl(&r, "book", "studio-a", at12, "1h", "--name", "B",
			     "--email", "b@example.org", NULL),
			 0);
	ck_assert_int_eq(ctl(&r, "book", "studio-a", at10, "30m", "--name", "B",
			     "--email", "b@example.org", NULL),
			 1);
	ck_assert_msg(strncmp(r.err, "bookctl: CONFLICT: ", 19) == 0, "%s",
		      r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "conflicts"));
	ck_assert_int_eq(ctl(&r, "resource", "show", "nope", NULL), 1);
	ck_assert_ptr_nonnull(strstr(r.err, "bookctl: NOT_FOUND: "));
	ck_assert_int_eq(ctl(&r, "resource", "add", "studio-a", NULL), 1);
	ck_assert_ptr_nonnull(strstr(r.err, "bookctl: EXISTS: "));
	ck_assert_int_eq(ctl(&r, "call", "no.such.op", NULL), 1);
	ck_assert_ptr_nonnull(strstr(r.err, "UNKNOWN_OP"));

	/* 2: the command line is wrong; nothing is sent. */
	ck_assert_int_eq(ctl(&r, NULL), 2);
	ck_assert_int_eq(ctl(&r, "frobnicate", NULL), 2);
	ck_assert_int_eq(
	    ctl(&r, "book", "studio-a", at15, "1h", "--name", "A", NULL), 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--email"));
	ck_assert_int_eq(ctl(&r, "book", "studio-a", "tomorrow", "1h", "--name",
			     "A", "--email", "a@x", NULL),
			 2);
	ck_assert_int_eq(ctl(&r, "check", "studio-a", at15, "1 hour", NULL), 2);
	ck_assert_int_eq(ctl(&r, "ping", "--reason", "x", NULL), 2);
	ck_assert_int_eq(ctl(&r, "show", NULL), 2);
	ck_assert_int_eq(ctl(&r, "hold", "studio-a", at15, "1h", NULL), 2);
	ck_assert_int_eq(ctl(&r, "call", "ping", "[1, 2]", NULL), 2);
	ck_assert_int_eq(ctl(&r, "call", "ping", "{\"a\": }", NULL), 2);
	ck_assert_int_eq(ctl(&r, "--tz", "No/Such_Zone", "ping", NULL), 2);
	ck_assert_int_eq(ctl(&r, "--socket", NULL), 2);

	/* Help is not an error. */
	ck_assert_int_eq(ctl(&r, "--help", NULL), 0);
	HAS(&r, "usage: bookctl");
	ck_assert_int_eq(ctl(&r, "help", "book", NULL), 0);
	HAS(&r, "--email");
	ck_assert_int_eq(ctl(&r, "day", "--help", NULL), 0);
	HAS(&r, "bookctl day RESOURCE DATE");

	/* 3: nobody listens there. */
	snprintf(missing, sizeof missing, "%s/nope.sock", h.dir);
	ck_assert_int_eq(ctl_bare(&r, "--socket", missing, "ping", NULL), 3);
	ck_assert_ptr_nonnull(strstr(r.err, "cannot connect"));

	/* The socket's default comes from $BOOKD_SOCKET. */
	setenv("BOOKD_SOCKET", h.sock, 1);
	ck_assert_int_eq(ctl_bare(&r, "ping", NULL), 0);
	HAS(&r, "pong");
	unsetenv("BOOKD_SOCKET");

	/* 3 as well when the engine goes away. */
	ck_assert_int_eq(h_stop(&h), 0);
	ck_assert_int_eq(ctl(&r, "ping", NULL), 3);
}
END_TEST

START_TEST(time_zones)
{
	static struct run r, py;
	const struct tz *berlin;
	int64_t day = h_day(7) / DAY_SECONDS;
	int64_t start;
	char want[96], utc[16];
	char id[32];

	/* The expected instant comes from tz.h, independently of bookctl. */
	ck_assert_int_eq(tz_get("Europe/Berlin", &berlin), 0);
	start = tz_local_to_utc(berlin, day, 10 * 3600);

	OK(&r, "resource", "add", "studio-a");
	OK(&r, "--tz", "Europe/Berlin", "book", "studio-a", at10, "1h",
	   "--name", "T", "--email", "t@example.org");
	snprintf(want, sizeof want, "%s 10:00 Europe/Berlin - %s 11:00", date,
		 date);
	HAS(&r, want);
	snprintf(id, sizeof id, "%ld", booking_id(&r));
	OK(&r, "--json", "show", id);
	ck_assert_int_eq(py_json(&py, r.out, "d['start'], d['end']"), 0);
	snprintf(want, sizeof want, "%lld %lld\n", (long long)start,
		 (long long)start + 3600);
	ck_assert_str_eq(py.out, want);
	/* Without --tz the same booking shows in UTC. */
	OK(&r, "show", id);
	snprintf(utc, sizeof utc, "%02d:00 UTC",
		 (int)(start % DAY_SECONDS / 3600));
	HAS(&r, utc);
	/* The day view's starts are local times of the local day. */
	OK(&r, "--tz", "Europe/Berlin", "day", "studio-a", date, "--duration",
	   "60");
	HAS(&r, "(Europe/Berlin)");
	HAS(&r, "09:00  available");
	HAS(&r, "11:00  available");
	ck_assert_ptr_null(strstr(r.out, "10:00"));
}
END_TEST

/* Read one line from fd into buf within RUN_MS; false on EOF or timeout. */
static bool read_line(int fd, char *buf, size_t len)
{
	int64_t deadline = now_ms() + RUN_MS;
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd p = {fd, POLLIN, 0};
		char ch;
		int64_t left = deadline - now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return false;
		if (read(fd, &ch, 1) != 1)
			return false;
		if (ch == '\n')
			break;
		buf[n++] = ch;
	}
	buf[n] = 0;
	return true;
}

START_TEST(watch_prints_pushes)
{
	static struct run r;
	char *argv[MAX_ARGV];
	char line[256], want[128];
	int out_fd, err_fd;
	pid_t pid;
	int ws;

	OK(&r, "resource", "add", "studio-a");
	argv[0] = getenv("BOOKCTL_BIN");
	ck_assert_ptr_nonnull(argv[0]);
	argv[1] = "--socket";
	argv[2] = h.sock;
	argv[3] = "watch";
	argv[4] = "studio-a";
	argv[5] = date;
	argv[6] = "--count";
	argv[7] = "2";
	argv[8] = NULL;
	pid = spawn(argv, NULL, &out_fd, &err_fd);
	/* The first line means both subscriptions are in place. */
	ck_assert(read_line(out_fd, line, sizeof line));
	ck_assert_msg(strncmp(line, "watching studio-a", 17) == 0, "%s", line);

	OK(&r, "hold", "studio-a", at15, "1h", "--session", "w");
	snprintf(want, sizeof want, "holds studio-a %s version ", date);
	ck_assert(read_line(out_fd, line, sizeof line));
	ck_assert_msg(strncmp(line, want, strlen(want)) == 0, "%s", line);

	OK(&r, "book", "studio-a", at10, "1h", "--name", "W", "--email",
	   "w@example.org");
	snprintf(want, sizeof want, "slots studio-a %s version ", date);
	ck_assert(read_line(out_fd, line, sizeof line));
	ck_assert_msg(strncmp(line, want, strlen(want)) == 0, "%s", line);

	/* --count 2 reached: it exits 0 by itself. */
	ck_assert(!read_line(out_fd, line, sizeof line));
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFEXITED(ws));
	ck_assert_int_eq(WEXITSTATUS(ws), 0);
	close(out_fd);
	close(err_fd);
}
END_TEST

START_TEST(watch_stops_on_interrupt)
{
	static struct run r, py;
	char *argv[MAX_ARGV];
	char line[256];
	int out_fd, err_fd;
	pid_t pid;

	OK(&r, "resource", "add", "studio-a");
	argv[0] = getenv("BOOKCTL_BIN");
	ck_assert_ptr_nonnull(argv[0]);
	argv[1] = "--socket";
	argv[2] = h.sock;
	argv[3] = "--json";
	argv[4] = "watch";
	argv[5] = "studio-a";
	argv[6] = date;
	argv[7] = NULL;
	pid = spawn(argv, NULL, &out_fd, &err_fd);
	/* With --json the first line is a JSON object too. */
	ck_assert(read_line(out_fd, line, sizeof line));
	ck_assert_int_eq(py_json(&py, line, "d['watching']"), 0);
	ck_assert_str_eq(py.out, "studio-a\n");
	kill(pid, SIGINT);
	collect(&r, pid, out_fd, err_fd);
	ck_assert_int_eq(r.status, 0);
}
END_TEST

/*
 * A stand-in engine on a socket of its own that answers every request with
 * a booking (or a list of it, for booking.list) whose strings hold terminal
 * escapes (ESC [2J, an OSC title, C1 CSI) and bytes that are not UTF-8.
 * It does not depend on what the real engine lets a caller store.
 */
static void hostile_reply(int fd, const msgpack_object *req)
{
	static const char name[] = "\x1b[2Jevil\xff\xfe";
	static const char res[] = "studio\x1b]0;pwned\x07";
	static const char notes[] = "a\xc2\x9b"
				    "31mb\tc";
	const msgpack_object *id = NULL, *op = NULL;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	bool list;

	for (uint32_t i = 0; i < req->via.map.size; i++) {
		const msgpack_object_kv *kv = &req->via.map.ptr[i];
		if (kv->key.via.str.size == 2 &&
		    memcmp(kv->key.via.str.ptr, "id", 2) == 0)
			id = &kv->val;
		if (kv->key.via.str.size == 2 &&
		    memcmp(kv->key.via.str.ptr, "op", 2) == 0)
			op = &kv->val;
	}
	list = op && op->via.str.size == 12 &&
	       memcmp(op->via.str.ptr, "booking.list", 12) == 0;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_sbuffer_write(&sb, "\0\0\0\0", 4);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_uint64(&pk, id ? id->via.u64 : 0);
	msgpack_pack_str_with_body(&pk, "ok", 2);
	msgpack_pack_true(&pk);
	msgpack_pack_str_with_body(&pk, "result", 6);
	if (list) {
		msgpack_pack_map(&pk, 1);
		msgpack_pack_str_with_body(&pk, "bookings", 8);
		msgpack_pack_array(&pk, 1);
	}
	msgpack_pack_map(&pk, 7);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_str_with_body(&pk, "status", 6);
	msgpack_pack_str_with_body(&pk, "confirmed", 9);
	msgpack_pack_str_with_body(&pk, "start", 5);
	msgpack_pack_int64(&pk, 1796112000);
	msgpack_pack_str_with_body(&pk, "end", 3);
	msgpack_pack_int64(&pk, 1796115600);
	msgpack_pack_str_with_body(&pk, "items", 5);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "resource", 8);
	msgpack_pack_str_with_body(&pk, res, sizeof res - 1);
	msgpack_pack_str_with_body(&pk, "quantity", 8);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_str_with_body(&pk, "booker", 6);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "name", 4);
	msgpack_pack_str_with_body(&pk, name, sizeof name - 1);
	msgpack_pack_str_with_body(&pk, "email", 5);
	msgpack_pack_str_with_body(&pk, "e@example.org", 13);
	msgpack_pack_str_with_body(&pk, "notes", 5);
	msgpack_pack_str_with_body(&pk, notes, sizeof notes - 1);
	msgpack_pack_str_with_body(&pk, "history", 7);
	msgpack_pack_array(&pk, 0);
	{
		uint32_t n = (uint32_t)sb.size - 4;
		unsigned char *h4 = (unsigned char *)sb.data;
		h4[0] = (unsigned char)(n >> 24);
		h4[1] = (unsigned char)(n >> 16);
		h4[2] = (unsigned char)(n >> 8);
		h4[3] = (unsigned char)n;
	}
	h_send_all(fd, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* Serve connections on lfd until killed (at most 30 s). */
static void hostile_serve(int lfd)
{
	int64_t end = now_ms() + 30000;

	while (now_ms() < end) {
		struct pollfd p = {lfd, POLLIN, 0};
		msgpack_unpacked up;
		int fd;

		if (poll(&p, 1, 1000) <= 0)
			continue;
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		msgpack_unpacked_init(&up);
		while (h_recv_frame(fd, &up, 5000) == 1 &&
		       up.data.type == MSGPACK_OBJECT_MAP)
			hostile_reply(fd, &up.data);
		msgpack_unpacked_destroy(&up);
		close(fd);
	}
	_exit(0);
}

/* No byte that a terminal acts on, and valid UTF-8 throughout. */
static void assert_inert(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; u[i]; i++) {
		ck_assert_msg(u[i] >= 0x20 || u[i] == '\n',
			      "raw control byte 0x%02x in: %s", u[i], s);
		ck_assert_msg(u[i] != 0x7f && u[i] != 0xff && u[i] != 0xfe,
			      "raw byte 0x%02x in: %s", u[i], s);
		ck_assert_msg(
		    !(u[i] == 0xc2 && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f),
		    "raw C1 control in: %s", s);
	}
}

START_TEST(hostile_strings_escaped)
{
	static struct run r, py;
	char dir[] = "/tmp/bookctl-hostile-XXXXXX", path[64];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int lfd, ws;
	pid_t pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/sock", dir);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		hostile_serve(lfd);
	close(lfd);

	/* For people: every hostile byte shown as an escape. */
	ck_assert_msg(ctl_bare(&r, "--socket", path, "show", "1", NULL) == 0,
		      "bookctl show: %s", r.err);
	assert_inert(r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "\\e[2Jevil\\xff\\xfe"));
	ck_assert_ptr_nonnull(strstr(r.out, "studio\\e]0;pwned\\x07"));
	ck_assert_ptr_nonnull(strstr(r.out, "a\\u009b31mb\\tc"));
	ck_assert_int_eq(ctl_bare(&r, "--socket", path, "list", NULL), 0);
	assert_inert(r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "\\e[2Jevil\\xff\\xfe"));

	/* JSON: valid, the bad bytes as U+FFFD, the controls as \u escapes. */
	ck_assert_int_eq(
	    ctl_bare(&r, "--socket", path, "--json", "show", "1", NULL), 0);
	assert_inert(r.out);
	ck_assert_int_eq(
	    py_json(&py, r.out,
		    "ascii(d['booker']['name']), ascii(d['booker']['notes'])"),
	    0);
	ck_assert_str_eq(py.out,
			 "'\\x1b[2Jevil\\ufffd\\ufffd' 'a\\x9b31mb\\tc'\n");

	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* Run /usr/bin/python3 with prog over input; output in r->out. */
static int py_run(struct run *r, const char *input, const char *prog)
{
	char *argv[] = {"/usr/bin/python3", "-c", (char *)prog, NULL};
	int out_fd, err_fd;
	pid_t pid;

	pid = spawn(argv, input, &out_fd, &err_fd);
	collect(r, pid, out_fd, err_fd);
	return r->status;
}

START_TEST(resource_zone_by_default)
{
	static struct run r, py;
	const struct tz *berlin;
	int64_t day = h_day(7) / DAY_SECONDS;
	int64_t start;
	char want[128], id[32];

	ck_assert_int_eq(tz_get("Europe/Berlin", &berlin), 0);
	start = tz_local_to_utc(berlin, day, 10 * 3600);

	/* Without --tz, 10:00 means 10:00 where the studio is. */
	OK(&r, "resource", "add", "studio-b", "--timezone", "Europe/Berlin");
	OK(&r, "book", "studio-b", at10, "1h", "--name", "Z", "--email",
	   "z@example.org");
	snprintf(want, sizeof want,
		 "%s 10:00 Europe/Berlin - %s 11:00 Europe/Berlin (1h)", date,
		 date);
	HAS(&r, want);
	snprintf(id, sizeof id, "%ld", booking_id(&r));
	OK(&r, "--json", "show", id);
	ck_assert_int_eq(
	    py_json(&py, r.out, "d['start'], d['end'], d['timezone']"), 0);
	snprintf(want, sizeof want, "%lld %lld Europe/Berlin\n",
		 (long long)start, (long long)start + 3600);
	ck_assert_str_eq(py.out, want);
	/* Every listing shows the zone beside the time. */
	OK(&r, "list");
	snprintf(want, sizeof want, "%s 10:00 Europe/Berlin", date);
	HAS(&r, want);
	OK(&r, "events");
	HAS(&r, "Europe/Berlin");
	OK(&r, "day", "studio-b", date);
	HAS(&r, "(Europe/Berlin)");
	ck_assert_ptr_null(strstr(r.out, "10:00  available"));
	HAS(&r, "11:00  available");
	OK(&r, "check", "studio-b", at10, "1h");
	HAS(&r, "not free: booked");

	/* $BOOKD_TZ overrides the resource's zone, and --tz overrides both. */
	setenv("BOOKD_TZ", "UTC", 1);
	OK(&r, "show", id);
	snprintf(want, sizeof want, "%02d:00 UTC",
		 (int)(start % DAY_SECONDS / 3600));
	HAS(&r, want);
	OK(&r, "--tz", "America/New_York", "show", id);
	HAS(&r, "America/New_York");
	unsetenv("BOOKD_TZ");

	/* A resource the engine does not know is reported as such. */
	ck_assert_int_eq(ctl(&r, "book", "nope", at10, "1h", "--name", "Z",
			     "--email", "z@example.org", NULL),
			 1);
	ck_assert_ptr_nonnull(strstr(r.err, "NOT_FOUND"));
	/* A reschedule reads its new START in the booking's zone. */
	OK(&r, "reschedule", id, at12, "1h");
	snprintf(want, sizeof want, "%s 12:00 Europe/Berlin", date);
	HAS(&r, want);
}
END_TEST

START_TEST(schedules_and_event_types)
{
	static struct run r, py;

	OK(&r, "resource", "add", "studio-a", "--timezone", "Europe/Berlin");
	OK(&r, "schedule", "list");
	HAS(&r, "no schedules");
	OK(&r, "schedule", "set", "studio-a", "Europe/Berlin",
	   "mon-fri=09:00-12:00,13:00-18:00", "sat=10:00-14:00",
	   "2026-12-24=closed", "2026-12-31=10:00-13:00");
	HAS(&r, "hours in Europe/Berlin");
	HAS(&r, "Mon  09:00-12:00, 13:00-18:00");
	HAS(&r, "Sat  10:00-14:00");
	HAS(&r, "Sun  closed");
	HAS(&r, "2026-12-24  closed");
	HAS(&r, "2026-12-31  10:00-13:00");
	OK(&r, "--json", "schedule", "show", "studio-a");
	ck_assert_int_eq(py_json(&py, r.out,
				 "len(d['weekly']), d['overrides'][0]['date'],"
				 " d['overrides'][0]['windows']"),
			 0);
	ck_assert_str_eq(py.out, "11 2026-12-24 []\n");
	OK(&r, "schedule", "list");
	HAS(&r, "studio-a");
	HAS(&r, "Fri  09:00-12:00, 13:00-18:00");
	/* Rules bookctl cannot read never reach the engine. */
	ck_assert_int_eq(ctl(&r, "schedule", "set", "studio-a", "UTC",
			     "monday=09:00-17:00", NULL),
			 2);
	ck_assert_ptr_nonnull(strstr(r.err, "monday=09:00-17:00"));
	ck_assert_int_eq(
	    ctl(&r, "schedule", "set", "studio-a", "UTC", "mon=9-17", NULL), 2);
	ck_assert_int_eq(ctl(&r, "schedule", "set", "studio-a", "UTC",
			     "fri-mon=09:00-17:00", NULL),
			 2);
	/* What the engine refuses comes back as a refusal. */
	ck_assert_int_eq(ctl(&r, "schedule", "set", "studio-a", "UTC",
			     "mon=09:10-17:00", NULL),
			 1);
	ck_assert_ptr_nonnull(strstr(r.err, "15 minutes"));

	OK(&r, "event-type", "list");
	HAS(&r, "no event types");
	OK(&r, "event-type", "set", "session", "--title", "Studio session",
	   "--lengths", "60,120,300", "--resources", "studio-a",
	   "--buffer-after", "15", "--min-notice", "120", "--confirm");
	HAS(&r, "event type session: Studio session");
	HAS(&r, "60, 120, 300 minutes");
	HAS(&r, "buffer after   15m");
	HAS(&r, "min notice     2h");
	HAS(&r, "required (new bookings are pending)");
	OK(&r, "event-type", "list");
	HAS(&r, "Studio session");
	OK(&r, "--json", "event-type", "show", "session");
	ck_assert_int_eq(py_json(&py, r.out,
				 "d['lengths'], d['buffer_after'], "
				 "d['requires_confirmation']"),
			 0);
	ck_assert_str_eq(py.out, "[60, 120, 300] 15 True\n");
	ck_assert_int_eq(ctl(&r, "event-type", "set", "x", "--title", "X",
			     "--lengths", "60", NULL),
			 2);
	ck_assert_int_eq(ctl(&r, "event-type", "set", "x", "--title", "X",
			     "--lengths", "1h", "--resources", "studio-a",
			     NULL),
			 2);
	ck_assert_int_eq(ctl(&r, "event-type", "set", "x", "--title", "X",
			     "--lengths", "60", "--resources", "nope", NULL),
			 1);
	ck_assert_int_eq(ctl(&r, "--confirm=yes", "event-type", "list", NULL),
			 2);
}
END_TEST

START_TEST(shared_schedules_and_holidays)
{
	static struct run r, py;
	char d1[11], d2[11], d3[11], d1at10[20], d2at9[20], d2at10[20],
	    d3at9[20], path[400];
	FILE *f;

	h_date(h_day(20), d1);
	h_date(h_day(21), d2);
	h_date(h_day(22), d3);
	snprintf(d1at10, sizeof d1at10, "%sT10:00", d1);
	snprintf(d2at9, sizeof d2at9, "%sT09:00", d2);
	snprintf(d2at10, sizeof d2at10, "%sT10:00", d2);
	snprintf(d3at9, sizeof d3at9, "%sT09:00", d3);
	OK(&r, "resource", "add", "studio-a", "--timezone", "Europe/Berlin");
	OK(&r, "resource", "add", "studio-b", "--timezone", "Europe/Berlin");
	OK(&r, "holidays", "list");
	HAS(&r, "no holiday calendars");
	{
		char rule[40];
		snprintf(rule, sizeof rule, "%s=10:00-14:00", d2);
		OK(&r, "holidays", "set", "de-be", "--name", "Berlin", d1,
		   rule);
	}
	HAS(&r, "de-be  Berlin  (used by 0 schedules)");
	HAS(&r, "  closed\n");
	HAS(&r, "open only 10:00-14:00");
	/* A schedule of its own id is a shared one; its hours are read and
	 * shown in its zone. */
	OK(&r, "schedule", "set", "studio-hours", "Europe/Berlin",
	   "mon-sun=09:00-18:00", "--holidays", "de-be");
	HAS(&r, "hours in Europe/Berlin");
	HAS(&r, "holidays  de-be");
	OK(&r, "schedule", "use", "studio-a", "studio-hours");
	HAS(&r, "studio-a uses shared schedule studio-hours");
	OK(&r, "call", "resource.update",
	   "{\"id\": \"studio-b\", \"schedule\": \"studio-hours\"}");
	OK(&r, "schedule", "show", "studio-hours");
	HAS(&r, "used by   studio-a, studio-b");
	OK(&r, "schedule", "list");
	HAS(&r, "studio-hours  (shared schedule)");
	HAS(&r, "studio-a  (uses shared schedule studio-hours)");
	/* The holiday is closed for both; the shortened day opens at 10. */
	OK(&r, "check", "studio-a", d1at10, "1h");
	HAS(&r, "not free: closed");
	OK(&r, "check", "studio-b", d1at10, "1h");
	HAS(&r, "not free: closed");
	OK(&r, "check", "studio-b", d2at9, "1h");
	HAS(&r, "not free: closed");
	OK(&r, "check", "studio-b", d2at10, "1h");
	HAS(&r, "free");
	OK(&r, "holidays", "list");
	HAS(&r, "de-be  Berlin  2 dates  used by 1 schedule");
	OK(&r, "--json", "holidays", "show", "de-be");
	ck_assert_int_eq(py_json(&py, r.out,
				 "d['used_by'], len(d['dates']), "
				 "d['dates'][1]['windows'][0]['start']"),
			 0);
	ck_assert_str_eq(py.out, "1 2 10:00\n");
	/* In use: neither goes, and the refusal says why. */
	ck_assert_int_eq(ctl(&r, "holidays", "delete", "de-be", NULL), 1);
	ck_assert_ptr_nonnull(strstr(r.err, "used by 1 schedule"));
	ck_assert_int_eq(ctl(&r, "schedule", "delete", "studio-hours", NULL),
			 1);
	ck_assert_ptr_nonnull(strstr(r.err, "used by 2 resources"));
	/* A new resource can use it from the start. */
	OK(&r, "resource", "add", "room-s", "--schedule", "studio-hours");
	ck_assert_int_eq(ctl(&r, "schedule", "delete", "studio-hours", NULL),
			 1);
	ck_assert_ptr_nonnull(strstr(r.err, "used by 3 resources"));
	ck_assert_int_eq(ctl(&r, "schedule", "use", "room-s", "nope", NULL), 1);
	/* Dates bookctl cannot read, or unknown calendars. */
	ck_assert_int_eq(ctl(&r, "holidays", "set", "x", "2027-13-01", NULL),
			 2);
	ck_assert_int_eq(ctl(&r, "schedule", "set", "studio-hours", "UTC",
			     "mon=09:00-10:00", "--holidays", "nope", NULL),
			 1);
	ck_assert_ptr_nonnull(strstr(r.err, "no holiday calendar 'nope'"));
	/* The whole schedule from a JSON file, without the calendar now. */
	snprintf(path, sizeof path, "%s/hours.json", h.dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"timezone\": \"Europe/Berlin\", \"weekly\": [{\"day\": 1, "
	      "\"start\": \"09:00\", \"end\": \"18:00\"}, {\"day\": 2, "
	      "\"start\": \"09:00\", \"end\": \"18:00\"}, {\"day\": 3, "
	      "\"start\": \"09:00\", \"end\": \"18:00\"}, {\"day\": 4, "
	      "\"start\": \"09:00\", \"end\": \"18:00\"}, {\"day\": 5, "
	      "\"start\": \"09:00\", \"end\": \"18:00\"}, {\"day\": 6, "
	      "\"start\": \"09:00\", \"end\": \"18:00\"}, {\"day\": 7, "
	      "\"start\": \"09:00\", \"end\": \"18:00\"}]}",
	      f);
	ck_assert_int_eq(fclose(f), 0);
	OK(&r, "schedule", "set", "studio-hours", "--file", path);
	ck_assert_ptr_null(strstr(r.out, "holidays"));
	OK(&r, "check", "studio-a", d1at10, "1h");
	HAS(&r, "free");
	OK(&r, "check", "studio-a", d3at9, "1h");
	HAS(&r, "free");
	OK(&r, "holidays", "delete", "de-be");
	HAS(&r, "deleted holiday calendar de-be");
	ck_assert_int_eq(ctl(&r, "holidays", "show", "de-be", NULL), 1);
	ck_assert_ptr_nonnull(strstr(r.err, "NOT_FOUND"));
	/* A calendar from a file holding just its dates. */
	snprintf(path, sizeof path, "%s/dates.json", h.dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[{\"date\": \"%s\"}]", d3);
	ck_assert_int_eq(fclose(f), 0);
	OK(&r, "--json", "holidays", "set", "may", "--file", path, "--name",
	   "May");
	ck_assert_int_eq(
	    py_json(&py, r.out, "d['id'], d['name'], d['dates'][0]['date']"),
	    0);
	ck_assert(strncmp(py.out, "may May ", 8) == 0);
	ck_assert_int_eq(
	    ctl(&r, "holidays", "set", "may", "--file", path, d1, NULL), 2);
}
END_TEST

START_TEST(hold_keep_renews_until_interrupted)
{
	static struct run r;
	char *argv[MAX_ARGV];
	char line[256];
	int out_fd, err_fd, n = 0;
	pid_t pid;

	/* A short TTL: without renewals the hold would be gone in 1 s. */
	ck_assert_int_eq(h_stop(&h), 0);
	ck_assert_int_eq(h_restart(&h, "--hold-ttl-ms 1000"), 0);
	OK(&r, "resource", "add", "studio-a");
	argv[n++] = getenv("BOOKCTL_BIN");
	argv[n++] = "--socket";
	argv[n++] = h.sock;
	argv[n++] = "hold";
	argv[n++] = "studio-a";
	argv[n++] = at15;
	argv[n++] = "1h";
	argv[n++] = "--session";
	argv[n++] = "keeper";
	argv[n++] = "--keep";
	argv[n] = NULL;
	ck_assert_ptr_nonnull(argv[0]);
	pid = spawn(argv, NULL, &out_fd, &err_fd);
	ck_assert(read_line(out_fd, line, sizeof line));
	ck_assert_msg(strstr(line, "held studio-a") != NULL, "%s", line);
	ck_assert(read_line(out_fd, line, sizeof line));
	ck_assert_msg(strstr(line, "Ctrl-C releases it") != NULL, "%s", line);
	/* Three TTLs later the hold still stands in everyone else's way. */
	usleep(3000 * 1000);
	ck_assert_int_eq(ctl(&r, "book", "studio-a", at15, "1h", "--name", "B",
			     "--email", "b@example.org", NULL),
			 1);
	ck_assert_ptr_nonnull(strstr(r.err, "HELD"));
	kill(pid, SIGINT);
	collect(&r, pid, out_fd, err_fd);
	ck_assert_int_eq(r.status, 0);
	HAS(&r, "released");
	OK(&r, "book", "studio-a", at15, "1h", "--name", "B", "--email",
	   "b@example.org");
}
END_TEST

START_TEST(connect_error_says_what_to_do)
{
	static struct run r;
	char missing[400];

	snprintf(missing, sizeof missing, "%s/nope.sock", h.dir);
	ck_assert_int_eq(ctl_bare(&r, "--socket", missing, "ping", NULL), 3);
	ck_assert_ptr_nonnull(strstr(r.err, "cannot connect"));
	ck_assert_ptr_nonnull(strstr(r.err, "make run"));
	ck_assert_ptr_nonnull(strstr(r.err, "$BOOKD_SOCKET"));
}
END_TEST

/* Checks of a feed on stdin with the icalendar parser: prints one line
 * per event "UID STATUS SUMMARY-as-ascii has-attendee" and fails on any
 * line longer than 75 octets or not ending in CRLF. */
static const char ical_check[] =
    "import sys, icalendar\n"
    "raw = sys.stdin.buffer.read()\n"
    "assert raw.endswith(b'\\r\\n'), 'no final CRLF'\n"
    "for l in raw.split(b'\\r\\n')[:-1]:\n"
    "    assert len(l) <= 75, ('long line', l)\n"
    "    assert b'\\n' not in l and b'\\r' not in l, ('bare newline', l)\n"
    "    l.decode('utf-8')\n"
    "cal = icalendar.Calendar.from_ical(raw)\n"
    "assert cal['VERSION'] == '2.0' and cal.get('PRODID')\n"
    "for e in cal.walk('VEVENT'):\n"
    "    e.decoded('DTSTART'); e.decoded('DTEND'); e.decoded('DTSTAMP')\n"
    "    print(e['UID'], e['STATUS'], ascii(str(e['SUMMARY'])),\n"
    "          'ATTENDEE' in e, ascii(str(e.get('DESCRIPTION', ''))))\n";

START_TEST(ical_feed_parses)
{
	static struct run r, py, r2;
	static const char notes[] =
	    "Bring: cables, stands; the \\ key\nsecond line "
	    "\xc3\xa4\xc3\xb6\xc3\xbc\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac "
	    "and more text to push the line well past seventy-five octets";
	char id1[32], want[256];

	OK(&r, "resource", "add", "studio-a", "--name", "Studio A, Berlin",
	   "--timezone", "Europe/Berlin");
	OK(&r, "book", "studio-a", at10, "2h", "--name", "Ann; \"Annie\", Lee",
	   "--email", "ann+x@example.com", "--notes", notes);
	snprintf(id1, sizeof id1, "%ld", booking_id(&r));
	OK(&r, "book", "studio-a", at15, "1h", "--name", "Bob", "--email",
	   "bob@example.com");
	OK(&r, "cancel", "2", "--reason", "moved");

	OK(&r, "ical", "studio-a");
	HAS(&r, "X-WR-TIMEZONE:Europe/Berlin\r\n");
	ck_assert_int_eq(py_run(&py, r.out, ical_check), 0);
	snprintf(want, sizeof want,
		 "booking-%s@bookd CONFIRMED 'Studio A, Berlin: Ann; "
		 "\"Annie\", Lee' True",
		 id1);
	ck_assert_msg(strstr(py.out, want) != NULL, "no '%s' in %s", want,
		      py.out);
	ck_assert_ptr_nonnull(strstr(py.out, "booking-2@bookd CANCELLED"));
	/* The notes came through escaped and folded, and unfold whole. */
	ck_assert_msg(strstr(py.out,
			     "Notes: Bring: cables, stands; the \\\\ key\\n"
			     "second line \\xe4\\xf6\\xfc\\u20ac"),
		      "%s", py.out);
	ck_assert_ptr_nonnull(strstr(py.out, "seventy-five octets"));

	/* UIDs are stable: a reschedule keeps the UID and bumps SEQUENCE. */
	OK(&r, "reschedule", id1, at12, "2h");
	OK(&r2, "ical", "studio-a");
	snprintf(want, sizeof want, "UID:booking-%s@bookd\r\n", id1);
	ck_assert_ptr_nonnull(strstr(r2.out, want));
	ck_assert_ptr_nonnull(strstr(r2.out, "SEQUENCE:1\r\n"));

	/* A public feed: busy times, no booker. */
	OK(&r, "ical", "studio-a", "--public", "--domain", "studio.example");
	ck_assert_int_eq(py_run(&py, r.out, ical_check), 0);
	ck_assert_ptr_null(strstr(r.out, "Ann"));
	ck_assert_ptr_null(strstr(r.out, "example.com"));
	ck_assert_ptr_null(strstr(r.out, "ATTENDEE"));
	ck_assert_ptr_null(strstr(r.out, "DESCRIPTION"));
	ck_assert_ptr_nonnull(strstr(py.out, "@studio.example CONFIRMED "
					     "'Studio A, Berlin' False"));

	/* --from/--to are local dates and bound the feed. */
	OK(&r, "ical", "studio-a", "--from", "2020-01-01", "--to",
	   "2020-01-02");
	ck_assert_ptr_null(strstr(r.out, "BEGIN:VEVENT"));
	ck_assert_int_eq(py_run(&py, r.out, ical_check), 0);
	ck_assert_int_eq(ctl(&r, "ical", "studio-a", "--from", "soon", NULL),
			 2);
}
END_TEST

/* Terminal escapes, C1 controls and invalid UTF-8 from the stand-in
 * engine: the feed still parses, with no control character in it. */
START_TEST(ical_hostile_strings)
{
	static struct run r, py;
	char dir[] = "/tmp/bookctl-ical-XXXXXX", path[64];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int lfd, ws;
	pid_t pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/sock", dir);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		hostile_serve(lfd);
	close(lfd);

	ck_assert_msg(ctl_bare(&r, "--socket", path, "ical", "x", NULL) == 0,
		      "bookctl ical: %s", r.err);
	for (const char *p = r.out; *p; p++)
		ck_assert_msg((unsigned char)*p >= 0x20 || *p == '\r' ||
				  *p == '\n' || *p == '\t',
			      "control byte %02x in the feed",
			      (unsigned char)*p);
	ck_assert_ptr_null(strstr(r.out, "\xc2\x9b"));
	ck_assert_int_eq(py_run(&py, r.out, ical_check), 0);
	ck_assert_ptr_nonnull(strstr(py.out, "x:  [2Jevil\\ufffd\\ufffd'"));

	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* README.md's tour as printed there, on next Monday in Berlin. */
START_TEST(readme_tour_berlin)
{
	static struct run r;
	int64_t day = h_day(1) / DAY_SECONDS;
	char d[11], t10[20], t12[20], t13[20], want[160], id[32];

	while (q_weekday(day) != 1)
		day++;
	h_date(day * DAY_SECONDS, d);
	snprintf(t10, sizeof t10, "%sT10:00", d);
	snprintf(t12, sizeof t12, "%sT12:00", d);
	snprintf(t13, sizeof t13, "%sT13:00", d);

	OK(&r, "resource", "add", "studio-a", "--name", "Studio A",
	   "--timezone", "Europe/Berlin");
	ck_assert_str_eq(r.out, "resource studio-a (Studio A)\n"
				"  timezone   Europe/Berlin\n"
				"  schedule   none: open around the clock\n");
	OK(&r, "schedule", "set", "studio-a", "Europe/Berlin",
	   "mon-fri=09:00-20:00", "sat=10:00-16:00");
	HAS(&r, "  Sat  10:00-16:00\n  Sun  closed\n");
	OK(&r, "book", "studio-a", t10, "2h", "--name", "Ann", "--email",
	   "ann@example.com");
	snprintf(id, sizeof id, "%ld", booking_id(&r));
	snprintf(want, sizeof want,
		 "  when       %s 10:00 Europe/Berlin - %s 12:00 "
		 "Europe/Berlin (2h)\n",
		 d, d);
	HAS(&r, want);
	OK(&r, "day", "studio-a", d, "--duration", "60");
	snprintf(want, sizeof want,
		 "studio-a  %s (Europe/Berlin)  60-minute starts\n"
		 "  09:00  available\n  12:00  available\n",
		 d);
	HAS(&r, want);
	HAS(&r, "  19:00  available\n");
	ck_assert_ptr_null(strstr(r.out, "20:00"));

	OK(&r, "hold", "studio-a", t13, "1h", "--session", "browser-42");
	OK(&r, "day", "studio-a", d, "--duration", "300", "--interval", "60",
	   "--session", "someone-else");
	HAS(&r, "  12:00  reserved\n  13:00  reserved\n  14:00  available\n"
		"  15:00  available\n");
	ck_assert_int_eq(ctl(&r, "book", "studio-a", t12, "2h", "--name", "Bob",
			     "--email", "bob@example.com", NULL),
			 1);
	ck_assert_str_eq(r.err, "bookctl: HELD: studio-a: overlaps another "
				"session's hold (resource: studio-a)\n");
	OK(&r, "release", "studio-a", "--session", "browser-42");
	OK(&r, "book", "studio-a", t12, "2h", "--name", "Bob", "--email",
	   "bob@example.com");
	OK(&r, "list");
	snprintf(want, sizeof want,
		 "       1  confirmed  %s 10:00 Europe/Berlin      2h  "
		 "studio-a  Ann <ann@example.com>\n",
		 d);
	HAS(&r, want);
	OK(&r, "cancel", id, "--reason", "moved to Friday");
	HAS(&r, "confirmed -> cancelled  by admin: moved to Friday\n");
	OK(&r, "event-type", "set", "session", "--title", "Studio session",
	   "--lengths", "60,120,300", "--resources", "studio-a",
	   "--buffer-after", "15");
	HAS(&r, "  lengths        60, 120, 300 minutes\n");
	OK(&r, "ical", "studio-a", "--public");
	HAS(&r, "STATUS:CANCELLED\r\n");
}
END_TEST

/* An event type without slot_interval offers starts every shortest length
 * of its own (a 5-hour session at every hour of a 10:00-20:00 day), and
 * with a single length every that length. */
START_TEST(event_type_steps_by_shortest_length)
{
	static struct run r, py;
	char args[256];

	OK(&r, "resource", "add", "studio-a");
	OK(&r, "schedule", "set", "studio-a", "UTC", "mon-sun=10:00-20:00");
	OK(&r, "event-type", "set", "session", "--title", "S", "--lengths",
	   "60,300,120", "--resources", "studio-a");
	HAS(&r, "starts every   its shortest length");
	OK(&r, "event-type", "set", "long", "--title", "L", "--lengths", "300",
	   "--resources", "studio-a");
	snprintf(args, sizeof args,
		 "{\"resource\": \"studio-a\", \"date\": \"%s\", "
		 "\"duration\": 300, \"event_type\": \"session\"}",
		 date);
	OK(&r, "call", "slots.day", args);
	ck_assert_int_eq(
	    py_json(&py, r.out, "[(s % 86400) // 3600 for s in d['slots']]"),
	    0);
	ck_assert_str_eq(py.out, "[10, 11, 12, 13, 14, 15]\n");
	snprintf(args, sizeof args,
		 "{\"resource\": \"studio-a\", \"date\": \"%s\", "
		 "\"duration\": 300, \"event_type\": \"long\"}",
		 date);
	OK(&r, "call", "slots.day", args);
	ck_assert_int_eq(
	    py_json(&py, r.out, "[(s % 86400) // 3600 for s in d['slots']]"),
	    0);
	ck_assert_str_eq(py.out, "[10, 15]\n");
	/* Without an event type the duration is the step, as before. */
	snprintf(args, sizeof args,
		 "{\"resource\": \"studio-a\", \"date\": \"%s\", "
		 "\"duration\": 300}",
		 date);
	OK(&r, "call", "slots.day", args);
	ck_assert_int_eq(
	    py_json(&py, r.out, "[(s % 86400) // 3600 for s in d['slots']]"),
	    0);
	ck_assert_str_eq(py.out, "[10, 15]\n");
}
END_TEST

/* booking.list {email}: one booker's bookings in any case, paged, and
 * the same after a restart (the index is rebuilt from snapshot and log). */
START_TEST(list_by_email)
{
	static struct run r;
	int64_t day = h_day(7) / DAY_SECONDS;

	OK(&r, "resource", "add", "studio-a");
	for (int i = 0; i < 6; i++) {
		char at[20], d[11];

		h_date((day + i) * DAY_SECONDS, d);
		snprintf(at, sizeof at, "%sT10:00", d);
		OK(&r, "book", "studio-a", at, "1h", "--name", "N", "--email",
		   i % 2 ? "Ann@Example.org" : "bob@example.org");
	}
	for (int round = 0; round < 2; round++) {
		OK(&r, "list", "--email", "ann@EXAMPLE.org");
		HAS(&r, "       2  confirmed");
		HAS(&r, "       4  confirmed");
		HAS(&r, "       6  confirmed");
		ck_assert_ptr_null(strstr(r.out, "bob@"));
		ck_assert_ptr_null(strstr(r.out, "\n       1 "));
		OK(&r, "list", "--email", "ann@example.org", "--limit", "2");
		HAS(&r, "more: bookctl list --after 4");
		ck_assert_ptr_null(strstr(r.out, "\n       6 "));
		OK(&r, "list", "--email", "ann@example.org", "--after", "4");
		HAS(&r, "       6  confirmed");
		ck_assert_ptr_null(strstr(r.out, "\n       4 "));
		OK(&r, "list", "--email", "nobody@example.org");
		ck_assert_ptr_null(strstr(r.out, "confirmed"));
		/* Other filters still apply. */
		OK(&r, "list", "--email", "bob@example.org", "--status",
		   "cancelled");
		ck_assert_ptr_null(strstr(r.out, "confirmed"));
		ck_assert_int_eq(
		    ctl(&r, "list", "--email", "not-an-email", NULL), 1);
		ck_assert_ptr_nonnull(strstr(r.err, "email"));
		ck_assert_int_eq(h_stop(&h), 0);
		ck_assert_int_eq(h_restart(&h, NULL), 0);
	}
}
END_TEST

/* resource.delete and event_type.delete: refused while bookings from now
 * on use them (saying how many), then archived: inactive for good, past
 * bookings still readable, nothing more to change; across a restart. */
START_TEST(delete_archives)
{
	static struct run r, py;
	char id[32], id2[32], args[400];

	OK(&r, "resource", "add", "studio-a", "--name", "Studio A");
	OK(&r, "event-type", "set", "session", "--title", "S", "--lengths",
	   "60", "--resources", "studio-a");
	OK(&r, "book", "studio-a", at10, "1h", "--name", "N", "--email",
	   "n@example.org");
	snprintf(id, sizeof id, "%ld", booking_id(&r));
	snprintf(args, sizeof args,
		 "{\"resource\": \"studio-a\", \"event_type\": \"session\", "
		 "\"start\": %lld, \"end\": %lld, \"booker\": {\"name\": "
		 "\"E\", \"email\": \"e@example.org\"}}",
		 (long long)h_day(7) + 15 * 3600,
		 (long long)h_day(7) + 16 * 3600);
	OK(&r, "--json", "call", "book", args);
	ck_assert_int_eq(py_json(&py, r.out, "d['id']"), 0);
	snprintf(id2, sizeof id2, "%ld", strtol(py.out, NULL, 10));
	ck_assert_int_eq(ctl(&r, "resource", "delete", "studio-a", NULL), 1);
	ck_assert_msg(
	    strstr(r.err, "INVALID_STATE") &&
		strstr(r.err, "'studio-a' has 2 bookings from now on"),
	    "%s", r.err);
	ck_assert_int_eq(ctl(&r, "event-type", "delete", "session", NULL), 1);
	ck_assert_msg(strstr(r.err, "'session' has 1 booking from now on"),
		      "%s", r.err);
	OK(&r, "cancel", id);
	OK(&r, "cancel", id2);
	OK(&r, "resource", "delete", "studio-a");
	HAS(&r, "resource studio-a deleted (archived");
	OK(&r, "event-type", "delete", "session");
	HAS(&r, "event type session deleted");
	for (int round = 0; round < 2; round++) {
		OK(&r, "resource", "show", "studio-a");
		HAS(&r, "resource studio-a (Studio A)  deleted (archived)");
		OK(&r, "show", id);
		HAS(&r, "cancelled");
		HAS(&r, "studio-a");
		ck_assert_int_eq(ctl(&r, "book", "studio-a", at12, "1h",
				     "--name", "N", "--email", "n@example.org",
				     NULL),
				 1);
		ck_assert_ptr_nonnull(strstr(r.err, "INACTIVE"));
		ck_assert_int_eq(
		    ctl(&r, "resource", "enable", "studio-a", NULL), 1);
		ck_assert_ptr_nonnull(strstr(r.err, "was deleted"));
		ck_assert_int_eq(ctl(&r, "resource", "add", "studio-a", NULL),
				 1);
		ck_assert_ptr_nonnull(strstr(r.err, "EXISTS"));
		ck_assert_int_eq(ctl(&r, "event-type", "set", "session",
				     "--title", "S", "--lengths", "60",
				     "--resources", "studio-a", NULL),
				 1);
		ck_assert_ptr_nonnull(strstr(r.err, "was deleted"));
		OK(&r, "--json", "event-type", "show", "session");
		HAS(&r, "\"archived\":true");
		ck_assert_int_eq(ctl(&r, "resource", "delete", "nope", NULL),
				 1);
		ck_assert_ptr_nonnull(strstr(r.err, "NOT_FOUND"));
		ck_assert_int_eq(h_stop(&h), 0);
		ck_assert_int_eq(h_restart(&h, NULL), 0);
	}
}
END_TEST

static Suite *bookctl_suite(void)
{
	Suite *s = suite_create("bookctl");
	TCase *tc = tcase_create("engine");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, readme_tour);
	tcase_add_test(tc, lifecycle_and_lists);
	tcase_add_test(tc, json_output_parses);
	tcase_add_test(tc, exit_codes);
	tcase_add_test(tc, time_zones);
	tcase_add_test(tc, watch_prints_pushes);
	tcase_add_test(tc, watch_stops_on_interrupt);
	tcase_add_test(tc, readme_tour_berlin);
	tcase_add_test(tc, list_by_email);
	tcase_add_test(tc, delete_archives);
	tcase_add_test(tc, event_type_steps_by_shortest_length);
	tcase_add_test(tc, resource_zone_by_default);
	tcase_add_test(tc, schedules_and_event_types);
	tcase_add_test(tc, shared_schedules_and_holidays);
	tcase_add_test(tc, hold_keep_renews_until_interrupted);
	tcase_add_test(tc, connect_error_says_what_to_do);
	tcase_add_test(tc, ical_feed_parses);
	suite_add_tcase(s, tc);
	/* Against a stand-in server: no engine needed. */
	tc = tcase_create("hostile");
	tcase_add_test(tc, hostile_strings_escaped);
	tcase_add_test(tc, ical_hostile_strings);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(bookctl_suite());
}

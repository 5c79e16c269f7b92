/*
 * test_replay.c - bookd-replay ($BOOKD_REPLAY_BIN) on data directories
 * written by a real engine ($BOOKD_BIN) and on logs written by hand with
 * the engine's own WAL and snapshot code.
 *
 * Covers: stats, dump (human, --from/--to, --json as valid JSON Lines) and
 * verify on a healthy directory, pages included; usage errors; replay
 * --until-time into a directory bookd opens at exactly that LSN; replay
 * refusing a non-empty target; verify catching a double booking, an
 * illegal status change and a page that disagrees with the log, while
 * accepting a pool whose quantity was lowered under its bookings; a torn
 * tail reported as such; and recovery through wal/archive/ to a point
 * before the snapshot.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "pages.h"
#include "quanta.h"
#include "snapshot.h"
#include "state.h"
#include "suite_main.h"
#include "wal.h"
#include "wire.h"

#define Q      900
#define HOUR   3600
#define RUN_MS 60000

static struct harness H;
static msgpack_unpacked R;
static uint64_t next_id = 1;
static char tmp[256]; /* a scratch directory of the test's own */

/* ---- running bookd-replay ----------------------------------------------- */

struct run {
	int status;
	char out[1 << 18];
	char err[1 << 14];
};

static struct run *RUN;

/* Run $BOOKD_REPLAY_BIN a1 ... (NULL-terminated) into RUN, for at most
 * RUN_MS; returns its exit status. */
static int tool(const char *a1, ...)
{
	const char *argv[16];
	const char *bin = getenv("BOOKD_REPLAY_BIN");
	struct run *r = RUN;
	int n = 0;
	va_list ap;

	ck_assert_msg(bin && *bin, "BOOKD_REPLAY_BIN is not set");
	argv[n++] = bin;
	va_start(ap, a1);
	for (const char *a = a1; a && n < 15; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	r->status = h_run_capture(argv, RUN_MS, r->out, sizeof(r->out), r->err,
				  sizeof(r->err));
	fprintf(stderr, "$ bookd-replay %s ...: exit %d\n%s%s", a1, r->status,
		strlen(r->out) > 4000 ? "(long output)\n" : r->out, r->err);
	return r->status;
}

/* Lines of RUN->out not starting with '#'. */
static int record_lines(void)
{
	int n = 0;
	for (const char *p = RUN->out; *p;) {
		const char *nl = strchr(p, '\n');
		if (*p != '#')
			n++;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}

/* ---- a JSON checker, to hold dump --json to RFC 8259 ------------------ */

static const char *j_value(const char *p);

static const char *j_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *j_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF",
						    p[i]) ||
					    p[i] == 0)
						return NULL;
				p += 4;
			} else if (!strchr("\"\\/bfnrt", *p) || *p == 0) {
				return NULL;
			}
		}
		p++;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *j_number(const char *p)
{
	const char *s = p;
	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return NULL;
	while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' ||
	       *p == 'E' || *p == '+' || *p == '-')
		p++;
	return p > s ? p : NULL;
}

static const char *j_value(const char *p)
{
	p = j_ws(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		bool obj = *p == '{';
		p = j_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = j_string(j_ws(p));
				if (p == NULL || *(p = j_ws(p)) != ':')
					return NULL;
				p++;
			}
			p = j_value(p);
			if (p == NULL)
				return NULL;
			p = j_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return j_string(p);
	if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	return j_number(p);
}

/* Every line of s is one JSON object; returns the number of lines. */
static int json_lines(const char *s)
{
	int n = 0;
	while (*s) {
		const char *e = j_value(s);
		ck_assert_msg(e && *s == '{', "not JSON: %.120s", s);
		e = j_ws(e);
		ck_assert_msg(*e == '\n', "junk after JSON: %.60s", e);
		s = e + 1;
		n++;
	}
	return n;
}

/* ---- the engine ------------------------------------------------------- */

#define CALL(fd, op, ...)                                                      \
	(msgpack_unpacked_destroy(&R), msgpack_unpacked_init(&R),              \
	 h_call(fd, &R, next_id++, op, __VA_ARGS__))

static int64_t ires(const char *key)
{
	int64_t v = -1;
	ck_assert(wire_int(wire_get(h_result(&R), key), &v));
	return v;
}

static void setup(void)
{
	const char *t = getenv("TMPDIR");

	msgpack_unpacked_init(&R);
	RUN = malloc(sizeof(*RUN));
	ck_assert_ptr_nonnull(RUN);
	snprintf(tmp, sizeof(tmp), "%s/bookd-replay-XXXXXX", t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
	char cmd[400];

	msgpack_unpacked_destroy(&R);
	h_cleanup(&H);
	free(RUN);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	ck_assert_int_eq(system(cmd), 0);
}

struct counts {
	int res, et, bk;       /* records by type */
	int status[BS__COUNT]; /* bookings by final status */
};

static int book(int fd, const char *res, int64_t s, int64_t e,
		const char *status)
{
	return CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s} s:s}", "resource",
		    res, "start", s, "end", e, "booker", "name", "Ann", "email",
		    "ann@example.com", "status", status);
}

/* A small history of every kind; counts what it logged. */
static void populate(int fd, struct counts *c)
{
	int64_t d = h_day(2);

	memset(c, 0, sizeof(*c));
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s s:s}", "id",
			      "studio-a", "name", "Studio \"A\" \\"),
			 0);
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s s:i}", "id", "mics",
			      "quantity", 5),
			 0);
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "studio-b"),
			 0);
	c->res = 3;
	ck_assert_int_eq(
	    CALL(fd, "event_type.put", "{s:s s:s s:[i i] s:[s] s:i s:i}", "id",
		 "session", "title", "Session", "lengths", 60, 120, "resources",
		 "studio-b", "buffer_before", 15, "buffer_after", 15),
	    0);
	c->et = 1;
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(book(fd, "studio-a", d + i * HOUR,
				      d + i * HOUR + Q,
				      i % 2 ? "pending" : "confirmed"),
				 0);
		c->status[i % 2 ? BS_PENDING : BS_CONFIRMED]++;
	}
	c->bk = 6;
	ck_assert_int_eq(
	    CALL(fd, "book", "{s:[{s:s s:i} s] s:I s:I s:{s:s s:s} s:s}",
		 "resources", "id", "mics", "quantity", 3, "studio-a", "start",
		 d + 20 * HOUR, "end", d + 44 * HOUR, "booker", "name", "Bob",
		 "email", "bob@example.com", "key", "multi-day"),
	    0);
	c->status[BS_CONFIRMED]++;
	ck_assert_int_eq(CALL(fd, "book", "{s:s s:I s:I s:{s:s s:s} s:s}",
			      "resource", "studio-b", "start", d + 10 * HOUR,
			      "end", d + 11 * HOUR, "booker", "name", "Cy",
			      "email", "cy@example.com", "event_type",
			      "session"),
			 0);
	c->status[BS_CONFIRMED]++;
	c->bk += 2;
	ck_assert_int_eq(CALL(fd, "booking.cancel", "{s:i s:s}", "id", 1,
			      "reason", "changed plans"),
			 0);
	c->status[BS_CONFIRMED]--;
	c->status[BS_CANCELLED]++;
	ck_assert_int_eq(CALL(fd, "booking.transition", "{s:i s:s}", "id", 2,
			      "to", "confirmed"),
			 0);
	c->status[BS_PENDING]--;
	c->status[BS_CONFIRMED]++;
	ck_assert_int_eq(CALL(fd, "booking.transition", "{s:i s:s}", "id", 4,
			      "to", "declined"),
			 0);
	c->status[BS_PENDING]--;
	c->status[BS_DECLINED]++;
	ck_assert_int_eq(CALL(fd, "booking.reschedule", "{s:i s:I s:I}", "id",
			      3, "start", d + 50 * HOUR, "end",
			      d + 50 * HOUR + 2 * Q),
			 0);
	c->bk += 4;
}

static int total(const struct counts *c)
{
	return c->res + c->et + c->bk;
}

/* Every file under dir with its size, modification time and checksum, so
 * a test can tell that a command wrote nothing. */
static char *fingerprint(const char *dir)
{
	char cmd[600], *buf;
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && find . -type f -printf '%%p %%s %%T@\\n' | sort "
		 "&& find . -type f -exec md5sum {} + | sort",
		 dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	buf = calloc(1, 1 << 16);
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, (1 << 16) - 1, p);
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_uint_gt(n, 0);
	return buf;
}

START_TEST(healthy_directory)
{
	struct counts c;
	char want[256], *before, *after;
	int fd;

	ck_assert_int_eq(h_start(&H, NULL), 0);
	fd = h_connect_raw(&H);
	populate(fd, &c);
	close(fd);
	ck_assert_int_eq(h_stop(&H), 0);
	before = fingerprint(H.data);

	ck_assert_int_eq(tool("stats", H.data, NULL), 0);
	snprintf(want, sizeof(want),
		 "records: %d (resource %d, event_type %d, booking %d, "
		 "unknown 0), LSN 1 to %d,",
		 total(&c), c.res, c.et, c.bk, total(&c));
	ck_assert_msg(strstr(RUN->out, want), "want: %s", want);
	snprintf(want, sizeof(want),
		 "bookings: pending %d, confirmed %d, declined %d, cancelled "
		 "%d, completed 0, no_show 0",
		 c.status[BS_PENDING], c.status[BS_CONFIRMED],
		 c.status[BS_DECLINED], c.status[BS_CANCELLED]);
	ck_assert_msg(strstr(RUN->out, want), "want: %s", want);
	ck_assert_ptr_nonnull(strstr(RUN->out, "end: clean"));

	ck_assert_int_eq(tool("dump", H.data, NULL), 0);
	ck_assert_int_eq(record_lines(), total(&c));
	ck_assert_ptr_nonnull(strstr(RUN->out, "resource    studio-a"));
	ck_assert_ptr_nonnull(strstr(RUN->out, "mics quantity 5"));
	ck_assert_ptr_nonnull(strstr(RUN->out, "event_type  session"));
	ck_assert_ptr_nonnull(strstr(RUN->out, "#1 cancelled"));
	ck_assert_ptr_nonnull(strstr(RUN->out, "mics x3,studio-a"));
	ck_assert_ptr_nonnull(strstr(RUN->out, "booking.rescheduled"));

	ck_assert_int_eq(tool("dump", H.data, "--from", "3", "--to", "5", NULL),
			 0);
	ck_assert_int_eq(record_lines(), 3);
	ck_assert(strncmp(RUN->out, "       3  ", 10) == 0 ||
		  strstr(RUN->out, "\n       3  "));
	ck_assert_ptr_null(strstr(RUN->out, "\n       6  "));

	ck_assert_int_eq(tool("dump", H.data, "--json", NULL), 0);
	ck_assert_int_eq(json_lines(RUN->out), total(&c));
	ck_assert(strncmp(RUN->out, "{\"lsn\":1,\"at_ms\":", 17) == 0);
	ck_assert_ptr_nonnull(
	    strstr(RUN->out, "\"name\":\"Studio \\\"A\\\" \\\\\""));
	ck_assert_ptr_nonnull(strstr(RUN->out, "\"key\":\"multi-day\""));
	ck_assert_ptr_nonnull(
	    strstr(RUN->out, "\"event\":\"booking.declined\""));
	ck_assert_ptr_nonnull(strstr(RUN->out, "\"buffer_before\":15"));

	ck_assert_int_eq(tool("verify", H.data, NULL), 0);
	ck_assert_ptr_nonnull(strstr(RUN->out, "OK: "));
	ck_assert_ptr_nonnull(strstr(RUN->out, "pages: agree with the log"));
	/* The data directory was only read. */
	after = fingerprint(H.data);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	ck_assert_int_eq(h_restart(&H, NULL), 0);
}
END_TEST

START_TEST(usage_errors)
{
	ck_assert_int_eq(tool(NULL), 2);
	ck_assert_int_eq(tool("frobnicate", tmp, NULL), 2);
	ck_assert_int_eq(tool("dump", tmp, "--until", "3", NULL), 2);
	ck_assert_int_eq(tool("verify", tmp, "--json", NULL), 2);
	ck_assert_int_eq(tool("replay", tmp, NULL), 2);
	ck_assert_int_eq(tool("replay", tmp, "--into", "x", "--until", "3",
			      "--until-time", "2026-01-01T00:00Z", NULL),
			 2);
	ck_assert_int_eq(tool("replay", tmp, "--into", "x", "--until-time",
			      "yesterday", NULL),
			 2);
	ck_assert_int_eq(tool("dump", tmp, "--from", "-1", NULL), 2);
	/* Not a data directory: a failure, not a usage error. */
	ck_assert_int_eq(tool("verify", tmp, NULL), 1);
	ck_assert_int_eq(tool("stats", "/nonexistent/bookd", NULL), 1);
	ck_assert_int_eq(tool("--help", NULL), 0);
}
END_TEST

/* at_ms of each LSN from dump --json output, into at[lsn]. */
static int read_times(int64_t *at, int max)
{
	int n = 0;
	for (const char *p = RUN->out; *p && n < max;) {
		unsigned long long lsn;
		long long ms;
		const char *nl = strchr(p, '\n');
		ck_assert_int_eq(
		    sscanf(p, "{\"lsn\":%llu,\"at_ms\":%lld", &lsn, &ms), 2);
		ck_assert_uint_eq(lsn, (unsigned long long)n + 1);
		at[++n] = ms;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}

/* ms as ISO 8601 in the zone offset_min minutes east of UTC. */
static void iso(int64_t ms, int offset_min, char buf[64])
{
	int64_t local = ms + (int64_t)offset_min * 60000;
	int64_t s = q_floor_div(local, 1000), day = q_day_of(s);
	int64_t sec = s - day * 86400, y;
	unsigned m, d;
	char zone[16] = "Z";

	if (offset_min)
		snprintf(zone, sizeof(zone), "%c%02d:%02d",
			 offset_min > 0 ? '+' : '-', abs(offset_min) / 60,
			 abs(offset_min) % 60);
	q_civil_from_days(day, &y, &m, &d);
	snprintf(buf, 64, "%04d-%02u-%02uT%02d:%02d:%02d.%03d%s", (int)y, m, d,
		 (int)(sec / 3600), (int)(sec % 3600 / 60), (int)(sec % 60),
		 (int)(local - s * 1000), zone);
}

START_TEST(replay_until_time)
{
	int64_t at[64], d = h_day(3);
	char t[64], t2[64], orig[400];
	struct timespec gap = {0, 5 * 1000000};
	int fd, n, k = 0;

	ck_assert_int_eq(h_start(&H, NULL), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "a"), 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(
		    book(fd, "a", d + i * HOUR, d + i * HOUR + Q, "confirmed"),
		    0);
	/* Commit times are milliseconds: a pause makes sure the two halves
	 * differ (what follows relies on the order, not on the pause). */
	nanosleep(&gap, NULL);
	for (int i = 10; i < 20; i++)
		ck_assert_int_eq(
		    book(fd, "a", d + i * HOUR, d + i * HOUR + Q, "confirmed"),
		    0);
	close(fd);
	ck_assert_int_eq(h_stop(&H), 0);
	ck_assert_int_eq(tool("dump", H.data, "--json", NULL), 0);
	n = read_times(at, 63);
	ck_assert_int_eq(n, 21);
	for (int i = 11; i >= 2 && k == 0; i--)
		if (at[i] < at[i + 1])
			k = i;
	ck_assert_int_gt(k, 0);
	/* The same instant written in UTC and at +02:00. */
	iso(at[k], 0, t);
	iso(at[k], 120, t2);
	snprintf(orig, sizeof(orig), "%s.orig", H.data);
	ck_assert_int_eq(rename(H.data, orig), 0);
	ck_assert_int_eq(
	    tool("replay", orig, "--into", H.data, "--until-time", t2, NULL),
	    0);
	{
		char want[64];
		snprintf(want, sizeof(want), "recovered LSN %d ", k);
		ck_assert_msg(strstr(RUN->out, want), "want %s (at %s)", want,
			      t2);
	}
	ck_assert_int_eq(tool("verify", H.data, NULL), 0);
	ck_assert_int_eq(h_restart(&H, NULL), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_eq(CALL(fd, "stats", NULL), 0);
	ck_assert_int_eq(ires("lsn"), k);
	ck_assert_int_eq(ires("bookings"), k - 1);
	close(fd);
	ck_assert_int_eq(h_stop(&H), 0);
	/* Again in UTC, into a fresh directory: the same LSN. */
	{
		char into[400], want[64];
		snprintf(into, sizeof(into), "%s/utc", tmp);
		ck_assert_int_eq(tool("replay", orig, "--into", into,
				      "--until-time", t, NULL),
				 0);
		snprintf(want, sizeof(want), "recovered LSN %d ", k);
		ck_assert_ptr_nonnull(strstr(RUN->out, want));
		/* Into a directory that is not empty: refused, untouched. */
		ck_assert_int_eq(tool("replay", orig, "--into", into, NULL), 1);
		ck_assert_ptr_nonnull(strstr(RUN->err, "not an empty"));
		ck_assert_int_eq(tool("verify", into, NULL), 0);
		snprintf(want, sizeof(want), "LSN %d,", k);
		ck_assert_ptr_nonnull(strstr(RUN->out, want));
	}
	/* Before the first record nothing was committed. */
	iso(at[1] - 1, 0, t);
	{
		char into[400];
		snprintf(into, sizeof(into), "%s/none", tmp);
		ck_assert_int_eq(tool("replay", orig, "--into", into,
				      "--until-time", t, NULL),
				 1);
		ck_assert_int_eq(access(into, F_OK), -1);
	}
	{
		char cmd[500];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", orig);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

/* ---- logs written by hand ----------------------------------------------- */

struct handlog {
	int dfd;
	struct wal *w;
	struct state st;
};

static void hl_open(struct handlog *l, const char *path, uint64_t seg)
{
	struct wal_opts o = {seg, 0};
	struct wal_scan sc;
	char err[256];

	ck_assert_int_eq(mkdir(path, 0750), 0);
	l->dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(l->dfd, 0);
	ck_assert_int_eq(
	    wal_open(&l->w, l->dfd, &o, NULL, NULL, &sc, err, sizeof(err)), 0);
	ck_assert_int_eq(state_init(&l->st, 16, q_day_of(time(NULL)) - 7,
				    q_day_of(time(NULL)) + 60, 70),
			 0);
}

/* Append one record (a map described as for h_pack) in its own group,
 * and apply it to the state kept alongside. */
static void hl_put(struct handlog *l, uint16_t type, const char *fmt, ...)
{
	msgpack_sbuffer sb;
	struct wal_group g;
	va_list ap;
	uint64_t lsn;

	msgpack_sbuffer_init(&sb);
	va_start(ap, fmt);
	ck_assert_int_eq(h_vpack(&sb, fmt, ap), 0);
	va_end(ap);
	lsn =
	    wal_append(l->w, type, sb.data, (uint32_t)sb.size, 1800000000000ll);
	ck_assert_int_eq(state_apply(&l->st, type, sb.data, (uint32_t)sb.size,
				     lsn, 1800000000000ll),
			 0);
	ck_assert_int_eq(wal_group_begin(l->w, &g), 1);
	ck_assert_int_eq(pwrite(g.fd, g.buf, g.len, g.offset), (ssize_t)g.len);
	wal_group_done(l->w);
	msgpack_sbuffer_destroy(&sb);
}

static void hl_booking(struct handlog *l, int id, const char *res, int qty,
		       int64_t s, int64_t e, const char *status,
		       const char *event)
{
	char ref[16];
	snprintf(ref, sizeof(ref), "ref%d", id);
	hl_put(l, WAL_BOOKING,
	       "{s:i s:s s:s s:I s:I s:[{s:s s:i}] s:{s:s s:s} s:s}", "id", id,
	       "ref", ref, "status", status, "start", s, "end", e, "items",
	       "resource", res, "quantity", qty, "booker", "name", "H", "email",
	       "h@example.com", "event", event);
}

static void hl_close(struct handlog *l)
{
	wal_close(l->w);
	state_free(&l->st);
	close(l->dfd);
}

START_TEST(verify_catches_double_booking)
{
	struct handlog l;
	char dir[400];
	int64_t d = h_day(2);

	snprintf(dir, sizeof(dir), "%s/double", tmp);
	hl_open(&l, dir, 0);
	hl_put(&l, WAL_RESOURCE, "{s:s s:i}", "id", "a", "quantity", 1);
	hl_booking(&l, 1, "a", 1, d, d + HOUR, "confirmed", "booking.created");
	/* Overlaps #1 by a quarter: the engine would have said CONFLICT. */
	hl_booking(&l, 2, "a", 1, d + HOUR - Q, d + 2 * HOUR, "confirmed",
		   "booking.created");
	hl_close(&l);
	ck_assert_int_eq(tool("verify", dir, NULL), 1);
	ck_assert_ptr_nonnull(strstr(RUN->out, "LSN 3: booking #2 was "
					       "admitted on a"));
	ck_assert_ptr_nonnull(strstr(RUN->out, "(overlaps #1)"));
	/* The same log where #1 was cancelled first is fine... */
	snprintf(dir, sizeof(dir), "%s/fine", tmp);
	hl_open(&l, dir, 0);
	hl_put(&l, WAL_RESOURCE, "{s:s s:i}", "id", "a", "quantity", 1);
	hl_booking(&l, 1, "a", 1, d, d + HOUR, "confirmed", "booking.created");
	hl_booking(&l, 1, "a", 1, d, d + HOUR, "cancelled",
		   "booking.cancelled");
	hl_booking(&l, 2, "a", 1, d + HOUR - Q, d + 2 * HOUR, "confirmed",
		   "booking.created");
	hl_close(&l);
	ck_assert_int_eq(tool("verify", dir, NULL), 0);
	/* ...until #1 comes back from cancelled. */
	snprintf(dir, sizeof(dir), "%s/zombie", tmp);
	hl_open(&l, dir, 0);
	hl_put(&l, WAL_RESOURCE, "{s:s s:i}", "id", "a", "quantity", 1);
	hl_booking(&l, 1, "a", 1, d, d + HOUR, "confirmed", "booking.created");
	hl_booking(&l, 1, "a", 1, d, d + HOUR, "cancelled",
		   "booking.cancelled");
	hl_booking(&l, 2, "a", 1, d + 2 * HOUR, d + 3 * HOUR, "confirmed",
		   "booking.created");
	hl_booking(&l, 1, "a", 1, d, d + HOUR, "confirmed",
		   "booking.confirmed");
	hl_close(&l);
	ck_assert_int_eq(tool("verify", dir, NULL), 1);
	ck_assert_ptr_nonnull(strstr(RUN->out, "LSN 5: booking #1 went from "
					       "cancelled to confirmed"));
	/* A pool over its quantity is fine when the quantity was lowered
	 * under its bookings, and damage when it never was. */
	snprintf(dir, sizeof(dir), "%s/lowered", tmp);
	hl_open(&l, dir, 0);
	hl_put(&l, WAL_RESOURCE, "{s:s s:i}", "id", "p", "quantity", 3);
	hl_booking(&l, 1, "p", 2, d, d + HOUR, "confirmed", "booking.created");
	hl_booking(&l, 2, "p", 1, d, d + HOUR, "confirmed", "booking.created");
	hl_put(&l, WAL_RESOURCE, "{s:s s:i}", "id", "p", "quantity", 2);
	hl_close(&l);
	ck_assert_int_eq(tool("verify", dir, NULL), 0);
	ck_assert_ptr_nonnull(strstr(RUN->out, "which was lowered"));
	snprintf(dir, sizeof(dir), "%s/pool", tmp);
	hl_open(&l, dir, 0);
	hl_put(&l, WAL_RESOURCE, "{s:s s:i}", "id", "p", "quantity", 3);
	hl_booking(&l, 1, "p", 2, d, d + HOUR, "confirmed", "booking.created");
	hl_booking(&l, 2, "p", 2, d, d + HOUR, "confirmed", "booking.created");
	hl_close(&l);
	ck_assert_int_eq(tool("verify", dir, NULL), 1);
	ck_assert_ptr_nonnull(strstr(RUN->out, "2 taken + 2 asked > 3"));
}
END_TEST

START_TEST(verify_catches_bad_page)
{
	char path[400];
	unsigned char h[64];
	uint64_t pages_off, word;
	uint32_t window;
	int64_t d = h_day(2) + 10 * HOUR, day = q_day_of(d);
	off_t at;
	int fd;

	ck_assert_int_eq(h_start(&H, NULL), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "a"), 0);
	ck_assert_int_eq(book(fd, "a", d, d + HOUR, "confirmed"), 0);
	close(fd);
	ck_assert_int_eq(h_stop(&H), 0);
	ck_assert_int_eq(tool("verify", H.data, NULL), 0);
	ck_assert_ptr_nonnull(strstr(RUN->out, "pages: agree"));
	/* Clear the booked bit of 10:00 in resource 0's page of that day
	 * (layout: proto/pages.h). */
	snprintf(path, sizeof(path), "%s/pages", H.data);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
	memcpy(&window, h + 28, 4);
	memcpy(&pages_off, h + 40, 8);
	at = (off_t)(pages_off + (uint64_t)(day % window) * PAGES_PAGE_SIZE +
		     offsetof(struct pages_page, booked));
	ck_assert_int_eq(pread(fd, &word, 8, at), 8);
	ck_assert_uint_ne(word & (1ull << 40), 0);
	word &= ~(1ull << 40);
	ck_assert_int_eq(pwrite(fd, &word, 8, at), 8);
	close(fd);
	ck_assert_int_eq(tool("verify", H.data, NULL), 1);
	ck_assert_ptr_nonnull(strstr(RUN->out, "pages: 1 differences"));
	ck_assert_ptr_nonnull(strstr(RUN->out, "page of a on"));
}
END_TEST

static int end_fn(void *ctx, const struct wal_rec *r)
{
	/* Records start at 8-byte aligned offsets. */
	*(uint64_t *)ctx = r->offset + ((WAL_REC_HEADER + r->len + 7) & ~7u);
	return 0;
}

START_TEST(torn_tail_is_not_damage)
{
	char path[400];
	unsigned char junk[100];
	struct wal_scan sc;
	uint64_t end = 0;
	int fd, dfd;

	ck_assert_int_eq(h_start(&H, NULL), 0);
	fd = h_connect_raw(&H);
	ck_assert_int_eq(CALL(fd, "resource.create", "{s:s}", "id", "a"), 0);
	ck_assert_int_eq(book(fd, "a", h_day(2), h_day(2) + HOUR, "confirmed"),
			 0);
	close(fd);
	ck_assert_int_eq(h_stop(&H), 0);
	/* Half a record after the last one, as a crash mid-write leaves. */
	dfd = open(H.data, O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(wal_scan_dir(dfd, 0, end_fn, &end, &sc), 0);
	close(dfd);
	ck_assert_int_eq(sc.verdict, WAL_CLEAN);
	ck_assert_uint_eq(sc.last_lsn, 2);
	snprintf(path, sizeof(path), "%s/wal/%016" PRIx64 ".wal", H.data,
		 (uint64_t)1);
	memset(junk, 0x5a, sizeof(junk));
	junk[0] = 200; /* a length, then bytes that fail the checksum */
	junk[1] = junk[2] = junk[3] = 0;
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), (off_t)end),
			 (ssize_t)sizeof(junk));
	close(fd);
	ck_assert_int_eq(tool("dump", H.data, NULL), 0);
	ck_assert_ptr_nonnull(strstr(RUN->out, "# torn tail at LSN 3"));
	ck_assert_int_eq(tool("verify", H.data, NULL), 0);
	ck_assert_ptr_nonnull(strstr(RUN->out, "torn tail at LSN 3"));
	/* bookd agrees: it cuts the tail and serves. */
	ck_assert_int_eq(h_restart(&H, NULL), 0);
	ck_assert(h_log_contains(&H, "cutting a torn log tail at LSN 3"));
}
END_TEST

START_TEST(archive_reaches_before_snapshot)
{
	struct handlog l;
	char dir[400], into[400], cmd[900];
	char err[256];
	int64_t d = h_day(2);
	int n = 0;

	/* Small segments, a snapshot at the end, and every segment but the
	 * newest moved to the archive, as a checkpoint with archiving
	 * leaves them. */
	snprintf(dir, sizeof(dir), "%s/arch", tmp);
	hl_open(&l, dir, 2048);
	hl_put(&l, WAL_RESOURCE, "{s:s s:i}", "id", "a", "quantity", 1);
	for (int i = 1; i <= 60; i++)
		hl_booking(&l, i, "a", 1, d + i * HOUR, d + i * HOUR + Q,
			   "confirmed", "booking.created");
	ck_assert_int_eq(snapshot_write(l.dfd, &l.st, 61, err, sizeof(err)), 0);
	hl_close(&l);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s/wal' && mkdir archive && n=$(ls *.wal | wc -l) && "
		 "ls *.wal | head -n $((n - 1)) | xargs -I@ mv @ archive/ && "
		 "ls archive | wc -l",
		 dir);
	{
		FILE *p = popen(cmd, "r");
		ck_assert_ptr_nonnull(p);
		ck_assert_int_eq(fscanf(p, "%d", &n), 1);
		pclose(p);
	}
	ck_assert_int_gt(n, 3);
	ck_assert_int_eq(tool("verify", dir, NULL), 0);
	ck_assert_ptr_nonnull(strstr(RUN->out, "snapshot: LSN 61"));
	ck_assert_ptr_nonnull(strstr(RUN->out, "archive: LSN 1 to 61"));
	/* dump reads the archive too. */
	ck_assert_int_eq(tool("dump", dir, NULL), 0);
	ck_assert_int_eq(record_lines(), 61);
	/* Back to LSN 20, before the snapshot: through the archive. */
	snprintf(into, sizeof(into), "%s/at20", tmp);
	ck_assert_int_eq(
	    tool("replay", dir, "--into", into, "--until", "20", NULL), 0);
	ck_assert_ptr_nonnull(strstr(RUN->out, "recovered LSN 20 "));
	ck_assert_int_eq(tool("verify", into, NULL), 0);
	ck_assert_ptr_nonnull(strstr(RUN->out, "snapshot: none"));
	ck_assert_ptr_nonnull(strstr(RUN->out, "LSN 1 to 20"));
	/* Everything: the snapshot is copied, the log after it is empty. */
	snprintf(into, sizeof(into), "%s/all", tmp);
	ck_assert_int_eq(tool("replay", dir, "--into", into, NULL), 0);
	ck_assert_int_eq(tool("verify", into, NULL), 0);
	ck_assert_ptr_nonnull(strstr(RUN->out, "snapshot: LSN 61"));
	ck_assert_ptr_nonnull(strstr(RUN->out, "state: LSN 61, 1 resources, "
					       "0 event types, 60 bookings"));
	/* Without the archive, before the snapshot is out of reach. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/wal/archive'", dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(into, sizeof(into), "%s/gone", tmp);
	ck_assert_int_eq(
	    tool("replay", dir, "--into", into, "--until", "20", NULL), 1);
	ck_assert_ptr_nonnull(strstr(RUN->err, "have left the log"));
	ck_assert_int_eq(access(into, F_OK), -1);
	ck_assert_int_eq(tool("verify", dir, NULL), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("replay");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, healthy_directory);
	tcase_add_test(tc, usage_errors);
	tcase_add_test(tc, replay_until_time);
	tcase_add_test(tc, verify_catches_double_booking);
	tcase_add_test(tc, verify_catches_bad_page);
	tcase_add_test(tc, torn_tail_is_not_damage);
	tcase_add_test(tc, archive_reaches_before_snapshot);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

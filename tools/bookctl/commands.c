/*
 * commands.c - one function per bookctl command.  Each turns its arguments
 * into one call (two for watch), then prints the result for people, or as
 * JSON with --json.  Argument checks that need no engine (times, numbers,
 * required options) are usage errors before anything is sent.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bookctl.h"
#include "token.h"
#include "json.h"
#include "when.h"
#include "wire.h"

#define MAX_ITEMS 32

/* ---- call arguments ---------------------------------------------------- */

static int margs_write(void *data, const char *buf, size_t len)
{
	struct margs *a = data;

	if (msgpack_sbuffer_write(&a->sb, buf, len) < 0) {
		a->oom = true;
		return -1;
	}
	return 0;
}

void margs_init(struct margs *a)
{
	msgpack_sbuffer_init(&a->sb);
	msgpack_packer_init(&a->pk, a, margs_write);
	a->n = 0;
	a->oom = false;
	/* map16 whose count margs_call() patches. */
	margs_write(a, "\xde\0\0", 3);
}

void margs_key(struct margs *a, const char *k)
{
	msgpack_pack_str_with_body(&a->pk, k, strlen(k));
	a->n++;
}

void margs_str(struct margs *a, const char *k, const char *v)
{
	if (v == NULL)
		return;
	margs_key(a, k);
	msgpack_pack_str_with_body(&a->pk, v, strlen(v));
}

void margs_int(struct margs *a, const char *k, int64_t v)
{
	margs_key(a, k);
	msgpack_pack_int64(&a->pk, v);
}

void margs_bool(struct margs *a, const char *k, bool v)
{
	margs_key(a, k);
	if (v)
		msgpack_pack_true(&a->pk);
	else
		msgpack_pack_false(&a->pk);
}

int margs_call(struct ctx *x, struct margs *a, const char *op,
	       const msgpack_object **result)
{
	int rc;

	if (a->oom) {
		msgpack_sbuffer_destroy(&a->sb);
		fprintf(stderr, "bookctl: out of memory\n");
		return BOOKCTL_CONN;
	}
	a->sb.data[1] = (char)(a->n >> 8);
	a->sb.data[2] = (char)a->n;
	rc = bookd_call(x->c, op, a->sb.data, a->sb.size, result);
	msgpack_sbuffer_destroy(&a->sb);
	return rc;
}

/* ---- argument parsing ---------------------------------------------------- */

/* A non-negative decimal number of at most 18 digits. */
static int parse_uint(const char *s, int64_t *v)
{
	size_t n = strlen(s);

	if (n == 0 || n > 18 || strspn(s, "0123456789") != n)
		return -1;
	*v = strtoll(s, NULL, 10);
	return 0;
}

/* A booking is named by its id (all digits) or its ref. */
static void booking_name(struct margs *a, const char *s)
{
	int64_t id;

	if (parse_uint(s, &id) == 0)
		margs_int(a, "id", id);
	else
		margs_str(a, "ref", s);
}

/* START DURATION at argv[i], argv[i + 1] into a span. */
static int parse_span(struct ctx *x, int i, int64_t *start, int64_t *end)
{
	int64_t d;

	if (when_parse_start(x->argv[i], x->tz, start) < 0)
		return bookctl_usage(x,
				     "bad START '%s' (want "
				     "2026-12-01T10:00)",
				     x->argv[i]);
	if (when_parse_duration(x->argv[i + 1], &d) < 0)
		return bookctl_usage(x,
				     "bad DURATION '%s' (want 2h, 90m or "
				     "1h30m)",
				     x->argv[i + 1]);
	*end = *start + d;
	return 0;
}

static int opt_uint(struct ctx *x, int o, const char *name, int64_t *v)
{
	if (parse_uint(x->opt[o], v) < 0)
		return bookctl_usage(x, "--%s wants a number, not '%s'", name,
				     x->opt[o]);
	return 0;
}

/* Print the result as JSON with --json; otherwise let the caller. */
static bool as_json(struct ctx *x, const msgpack_object *r)
{
	if (!x->json)
		return false;
	out_json(r);
	return true;
}

static int done(struct ctx *x, int rc)
{
	return rc < 0 ? bookctl_fail(x, rc) : BOOKCTL_OK;
}

/* ---- resources ---------------------------------------------------------- */

int cmd_resource_add(struct ctx *x)
{
	const msgpack_object *r;
	struct margs a;
	int64_t q = 0;
	int rc;

	if (x->opt[OPT_quantity] &&
	    opt_uint(x, OPT_quantity, "quantity", &q) != 0)
		return BOOKCTL_USAGE;
	margs_init(&a);
	margs_str(&a, "id", x->argv[0]);
	margs_str(&a, "name", x->opt[OPT_name]);
	margs_str(&a, "kind", x->opt[OPT_kind]);
	margs_str(&a, "timezone", x->opt[OPT_timezone]);
	if (x->opt[OPT_quantity])
		margs_int(&a, "quantity", q);
	rc = margs_call(x, &a, "resource.create", &r);
	if (rc == 0 && !as_json(x, r))
		out_resource(x, r, true);
	return done(x, rc);
}

int cmd_resource_list(struct ctx *x)
{
	const msgpack_object *r;
	struct margs a;
	int rc;

	margs_init(&a);
	rc = margs_call(x, &a, "resource.list", &r);
	if (rc == 0 && !as_json(x, r))
		out_resource_table(x, r);
	return done(x, rc);
}

int cmd_resource_show(struct ctx *x)
{
	const msgpack_object *r;
	struct margs a;
	int rc;

	margs_init(&a);
	margs_str(&a, "id", x->argv[0]);
	rc = margs_call(x, &a, "resource.get", &r);
	if (rc == 0 && !as_json(x, r))
		out_resource(x, r, true);
	return done(x, rc);
}

int cmd_resource_active(struct ctx *x)
{
	const msgpack_object *r;
	struct margs a;
	int rc;

	margs_init(&a);
	margs_str(&a, "id", x->argv[0]);
	margs_bool(&a, "active", strcmp(x->cmd, "resource enable") == 0);
	rc = margs_call(x, &a, "resource.update", &r);
	if (rc == 0 && !as_json(x, r))
		out_resource(x, r, false);
	return done(x, rc);
}

/* ---- bookings ----------------------------------------------------------- */

/* RESOURCE[,RESOURCE...] with ID:N for pool units, packed as "resource" for
 * one plain id and as "resources" otherwise. */
static int pack_resources(struct ctx *x, struct margs *a, const char *spec)
{
	char buf[MAX_ITEMS * 80];
	char *items[MAX_ITEMS];
	uint32_t qty[MAX_ITEMS];
	char *save = NULL, *tok;
	size_t n = 0;

	if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf)
		return bookctl_usage(x, "resource list too long");
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		int64_t q = 1;

		if (n == MAX_ITEMS)
			return bookctl_usage(x, "more than %d resources",
					     MAX_ITEMS);
		if (colon) {
			*colon = 0;
			if (parse_uint(colon + 1, &q) < 0 || q < 1 ||
			    q > UINT32_MAX)
				return bookctl_usage(x, "bad units in '%s:%s'",
						     tok, colon + 1);
		}
		if (*tok == 0)
			return bookctl_usage(x, "empty resource in '%s'", spec);
		items[n] = tok;
		qty[n++] = (uint32_t)q;
	}
	if (n == 0)
		return bookctl_usage(x, "no resource given");
	if (n == 1 && qty[0] == 1) {
		margs_str(a, "resource", items[0]);
		return 0;
	}
	margs_key(a, "resources");
	msgpack_pack_array(&a->pk, n);
	for (size_t i = 0; i < n; i++) {
		if (qty[i] == 1) {
			msgpack_pack_str_with_body(&a->pk, items[i],
						   strlen(items[i]));
			continue;
		}
		msgpack_pack_map(&a->pk, 2);
		msgpack_pack_str_with_body(&a->pk, "id", 2);
		msgpack_pack_str_with_body(&a->pk, items[i], strlen(items[i]));
		msgpack_pack_str_with_body(&a->pk, "quantity", 8);
		msgpack_pack_uint32(&a->pk, qty[i]);
	}
	return 0;
}

static void pack_kv(msgpack_packer *pk, const char *k, const char *v)
{
	msgpack_pack_str_with_body(pk, k, strlen(k));
	msgpack_pack_str_with_body(pk, v, strlen(v));
}

int cmd_book(struct ctx *x)
{
	const msgpack_object *r;
	const char *phone = x->opt[OPT_phone], *notes = x->opt[OPT_notes];
	struct margs a;
	int64_t start, end;
	int rc;

	if (x->opt[OPT_name] == NULL || x->opt[OPT_email] == NULL)
		return bookctl_usage(x, "book needs --name and --email");
	if (parse_span(x, 1, &start, &end) != 0)
		return BOOKCTL_USAGE;
	margs_init(&a);
	if (pack_resources(x, &a, x->argv[0]) != 0) {
		msgpack_sbuffer_destroy(&a.sb);
		return BOOKCTL_USAGE;
	}
	margs_int(&a, "start", start);
	margs_int(&a, "end", end);
	margs_key(&a, "booker");
	msgpack_pack_map(&a.pk, 2 + (phone != NULL) + (notes != NULL));
	pack_kv(&a.pk, "name", x->opt[OPT_name]);
	pack_kv(&a.pk, "email", x->opt[OPT_email]);
	if (phone)
		pack_kv(&a.pk, "phone", phone);
	if (notes)
		pack_kv(&a.pk, "notes", notes);
	if (x->tz)
		margs_str(&a, "timezone", tz_name(x->tz));
	margs_str(&a, "key", x->opt[OPT_key]);
	margs_str(&a, "session", x->opt[OPT_session]);
	margs_str(&a, "status", x->opt[OPT_status]);
	margs_str(&a, "note", x->opt[OPT_note]);
	rc = margs_call(x, &a, "book", &r);
	if (rc == 0 && !as_json(x, r))
		out_booking(x, r);
	return done(x, rc);
}

int cmd_cancel(struct ctx *x)
{
	const msgpack_object *r;
	struct margs a;
	int rc;

	margs_init(&a);
	booking_name(&a, x->argv[0]);
	margs_str(&a, "reason", x->opt[OPT_reason]);
	rc = margs_call(x, &a, "booking.cancel", &r);
	if (rc == 0 && !as_json(x, r))
		out_booking(x, r);
	return done(x, rc);
}

int cmd_show(struct ctx *x)
{
	const msgpack_object *r;
	struct margs a;
	int rc;

	margs_init(&a);
	booking_name(&a, x->argv[0]);
	rc = margs_call(x, &a, "booking.get", &r);
	if (rc == 0 && !as_json(x, r))
		out_booking(x, r);
	return done(x, rc);
}

int cmd_list(struct ctx *x)
{
	const msgpack_object *r, *next;
	struct margs a;
	int64_t limit = 0, after = 0;
	int rc;

	if ((x->opt[OPT_limit] && opt_uint(x, OPT_limit, "limit", &limit)) ||
	    (x->opt[OPT_after] && opt_uint(x, OPT_after, "after", &after)))
		return BOOKCTL_USAGE;
	margs_init(&a);
	margs_str(&a, "resource", x->opt[OPT_resource]);
	margs_str(&a, "status", x->opt[OPT_status]);
	if (x->opt[OPT_limit])
		margs_int(&a, "limit", limit);
	if (x->opt[OPT_after])
		margs_int(&a, "after", after);
	rc = margs_call(x, &a, "booking.list", &r);
	if (rc != 0 || as_json(x, r))
		return done(x, rc);
	out_booking_table(x, wire_get(r, "bookings"));
	next = wire_get(r, "next");
	if (next && next->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		printf("more: bookctl list --after %" PRIu64 "\n",
		       next->via.u64);
	return BOOKCTL_OK;
}

int cmd_transition(struct ctx *x)
{
	static const struct {
		const char *cmd, *to;
	} to[] = {{"confirm", "confirmed"},
		  {"decline", "declined"},
		  {"complete", "completed"},
		  {"no-show", "no_show"}};
	const msgpack_object *r;
	const char *target = NULL;
	struct margs a;
	int64_t id;
	int rc;

	for (size_t i = 0; i < sizeof to / sizeof to[0]; i++)
		if (strcmp(x->cmd, to[i].cmd) == 0)
			target = to[i].to;
	if (target == NULL || parse_uint(x->argv[0], &id) < 0)
		return bookctl_usage(x, "%s wants a booking id, not '%s'",
				     x->cmd, x->argv[0]);
	margs_init(&a);
	margs_int(&a, "id", id);
	margs_str(&a, "to", target);
	margs_str(&a, "reason", x->opt[OPT_reason]);
	rc = margs_call(x, &a, "booking.transition", &r);
	if (rc == 0 && !as_json(x, r))
		out_booking(x, r);
	return done(x, rc);
}

int cmd_reschedule(struct ctx *x)
{
	const msgpack_object *r;
	struct margs a;
	int64_t start, end;
	int rc;

	if (parse_span(x, 1, &start, &end) != 0)
		return BOOKCTL_USAGE;
	margs_init(&a);
	booking_name(&a, x->argv[0]);
	margs_int(&a, "start", start);
	margs_int(&a, "end", end);
	rc = margs_call(x, &a, "booking.reschedule", &r);
	if (rc == 0 && !as_json(x, r))
		out_booking(x, r);
	return done(x, rc);
}

/* ---- availability and holds --------------------------------------------- */

int cmd_day(struct ctx *x)
{
	const msgpack_object *r;
	struct margs a;
	int64_t dur = 60, step = 0;
	char hm[16], st[32];
	int rc;

	if (when_parse_date(x->argv[1]) < 0)
		return bookctl_usage(x, "bad DATE '%s' (want YYYY-MM-DD)",
				     x->argv[1]);
	if ((x->opt[OPT_duration] &&
	     opt_uint(x, OPT_duration, "duration", &dur)) ||
	    (x->opt[OPT_interval] &&
	     opt_uint(x, OPT_interval, "interval", &step)))
		return BOOKCTL_USAGE;
	margs_init(&a);
	margs_str(&a, "resource", x->argv[0]);
	margs_str(&a, "date", x->argv[1]);
	margs_int(&a, "duration", dur);
	if (x->opt[OPT_interval])
		margs_int(&a, "interval", step);
	if (x->tz)
		margs_str(&a, "tz", tz_name(x->tz));
	margs_str(&a, "session", x->opt[OPT_session]);
	rc = margs_call(x, &a, "slots.view", &r);
	if (rc != 0 || as_json(x, r))
		return done(x, rc);
	printf("%s  %s (%s)  %" PRId64 "-minute starts\n", x->argv[0],
	       x->argv[1], when_zone(x->tz), dur);
	if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size == 0) {
		printf("  no free starts\n");
		return BOOKCTL_OK;
	}
	for (uint32_t i = 0; i < r->via.array.size; i++) {
		const msgpack_object *s = &r->via.array.ptr[i];
		int64_t t;

		if (!wire_int(wire_get(s, "start"), &t))
			continue;
		when_format_hm(t, x->tz, hm, sizeof hm);
		printf("  %s  %s\n", hm,
		       out_str(wire_get(s, "state"), st, sizeof st));
	}
	return BOOKCTL_OK;
}

int cmd_check(struct ctx *x)
{
	const msgpack_object *r, *f;
	struct margs a;
	int64_t start, end;
	char why[32];
	int rc;

	if (parse_span(x, 1, &start, &end) != 0)
		return BOOKCTL_USAGE;
	margs_init(&a);
	margs_str(&a, "resource", x->argv[0]);
	margs_int(&a, "start", start);
	margs_int(&a, "end", end);
	margs_str(&a, "session", x->opt[OPT_session]);
	rc = margs_call(x, &a, "check", &r);
	if (rc != 0 || as_json(x, r))
		return done(x, rc);
	f = wire_get(r, "free");
	if (f && f->type == MSGPACK_OBJECT_BOOLEAN && f->via.boolean)
		printf("free\n");
	else
		printf("not free: %s\n",
		       out_str(wire_get(r, "reason"), why, sizeof why));
	return BOOKCTL_OK;
}

int cmd_hold(struct ctx *x)
{
	const msgpack_object *r;
	struct margs a;
	struct timespec now;
	int64_t start, end, exp = 0;
	char from[64], to[16];
	int rc;

	if (x->opt[OPT_session] == NULL)
		return bookctl_usage(x, "hold needs --session");
	if (parse_span(x, 1, &start, &end) != 0)
		return BOOKCTL_USAGE;
	margs_init(&a);
	margs_str(&a, "resource", x->argv[0]);
	margs_int(&a, "start", start);
	margs_int(&a, "end", end);
	margs_str(&a, "session", x->opt[OPT_session]);
	rc = margs_call(x, &a, "hold", &r);
	if (rc != 0 || as_json(x, r))
		return done(x, rc);
	wire_int(wire_get(r, "expires_at_ms"), &exp);
	clock_gettime(CLOCK_REALTIME, &now);
	when_format(start, x->tz, from, sizeof from);
	when_format_hm(end, x->tz, to, sizeof to);
	printf("held %s %s - %s for session %s, expires in %.1f s\n",
	       x->argv[0], from, to, x->opt[OPT_session],
	       (double)(exp -
			((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000)) /
		   1000.0);
	return BOOKCTL_OK;
}

int cmd_release(struct ctx *x)
{
	const msgpack_object *r, *f;
	struct margs a;
	int rc;

	if (x->opt[OPT_session] == NULL)
		return bookctl_usage(x, "release needs --session");
	margs_init(&a);
	margs_str(&a, "resource", x->argv[0]);
	margs_str(&a, "session", x->opt[OPT_session]);
	rc = margs_call(x, &a, "release", &r);
	if (rc != 0 || as_json(x, r))
		return done(x, rc);
	f = wire_get(r, "released");
	printf("%s\n", f && f->type == MSGPACK_OBJECT_BOOLEAN && f->via.boolean
			   ? "released"
			   : "no hold to release");
	return BOOKCTL_OK;
}

/* ---- engine ------------------------------------------------------------- */

int cmd_stats(struct ctx *x)
{
	const msgpack_object *r;
	int rc = bookd_call(x->c, "stats", NULL, 0, &r);

	if (rc == 0 && !as_json(x, r))
		out_map_lines(r);
	return done(x, rc);
}

int cmd_ping(struct ctx *x)
{
	const msgpack_object *r;
	char buf[64];
	int rc = bookd_call(x->c, "ping", NULL, 0, &r);

	if (rc == 0 && !as_json(x, r))
		printf("%s\n", out_str(r, buf, sizeof buf));
	return done(x, rc);
}

int cmd_events(struct ctx *x)
{
	const msgpack_object *r, *ev, *next;
	struct margs a;
	int64_t after = 0, limit = 0;
	int rc;

	if ((x->opt[OPT_after] && opt_uint(x, OPT_after, "after", &after)) ||
	    (x->opt[OPT_limit] && opt_uint(x, OPT_limit, "limit", &limit)))
		return BOOKCTL_USAGE;
	margs_init(&a);
	if (x->opt[OPT_after])
		margs_int(&a, "after", after);
	if (x->opt[OPT_limit])
		margs_int(&a, "limit", limit);
	rc = margs_call(x, &a, "events", &r);
	if (rc != 0 || as_json(x, r))
		return done(x, rc);
	ev = wire_get(r, "events");
	for (uint32_t i = 0;
	     ev && ev->type == MSGPACK_OBJECT_ARRAY && i < ev->via.array.size;
	     i++) {
		const msgpack_object *e = &ev->via.array.ptr[i];
		const msgpack_object *b = wire_get(e, "booking");
		int64_t lsn = 0, at = 0, id = 0;
		char when[64], type[64], st[32];

		wire_int(wire_get(e, "lsn"), &lsn);
		wire_int(wire_get(e, "at_ms"), &at);
		wire_int(wire_get(b, "id"), &id);
		when_format(at / 1000, x->tz, when, sizeof when);
		printf("%8" PRId64 "  %s  %-20s  booking %" PRId64 " %s\n", lsn,
		       when, out_str(wire_get(e, "type"), type, sizeof type),
		       id, out_str(wire_get(b, "status"), st, sizeof st));
	}
	next = wire_get(r, "next");
	if (next && next->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		printf("next: bookctl events --after %" PRIu64 "\n",
		       next->via.u64);
	return BOOKCTL_OK;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void print_push(struct ctx *x, const struct bookd_push *p)
{
	if (!x->json) {
		printf("%s %s %s version %" PRIu64 "\n", p->topic, p->resource,
		       p->date, p->version);
		return;
	}
	printf("{\"push\":");
	json_print_str(stdout, p->kind, strlen(p->kind));
	printf(",\"sub\":%" PRIu64 ",\"topic\":", p->sub);
	json_print_str(stdout, p->topic, strlen(p->topic));
	printf(",\"resource\":");
	json_print_str(stdout, p->resource, strlen(p->resource));
	printf(",\"date\":");
	json_print_str(stdout, p->date, strlen(p->date));
	printf(",\"version\":%" PRIu64 "}\n", p->version);
}

int cmd_watch(struct ctx *x)
{
	const char *from = x->argv[1];
	const char *to = x->argc > 2 ? x->argv[2] : x->argv[1];
	struct sigaction sa;
	uint64_t slots = 0, holds = 0;
	int64_t count = -1;
	int rc;

	if (when_parse_date(from) < 0 || when_parse_date(to) < 0)
		return bookctl_usage(x, "bad DATE (want YYYY-MM-DD)");
	if (x->opt[OPT_count] && opt_uint(x, OPT_count, "count", &count))
		return BOOKCTL_USAGE;
	/* Before the "watching" line: whoever reads it may interrupt at
	 * once. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = bookd_subscribe(x->c, "slots", x->argv[0], from, to, &slots);
	if (rc == 0)
		rc = bookd_subscribe(x->c, "holds", x->argv[0], from, to,
				     &holds);
	if (rc < 0)
		return bookctl_fail(x, rc);
	/* Line-buffered, so that a reader of a pipe sees each push as it
	 * comes, and sees this line only once both subscriptions exist. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!x->json) {
		printf("watching %s %s..%s (slots sub %" PRIu64
		       ", holds sub %" PRIu64 ")\n",
		       x->argv[0], from, to, slots, holds);
	} else {
		printf("{\"watching\":");
		json_print_str(stdout, x->argv[0], strlen(x->argv[0]));
		printf(",\"from\":\"%s\",\"to\":\"%s\",\"slots_sub\":%" PRIu64
		       ",\"holds_sub\":%" PRIu64 "}\n",
		       from, to, slots, holds);
	}
	while (!interrupted && count != 0) {
		struct bookd_push p;

		/* Wake up now and then to notice an interrupt. */
		rc = bookd_next_push(x->c, &p, 250);
		if (rc < 0)
			return bookctl_fail(x, rc);
		if (rc == 0)
			continue;
		print_push(x, &p);
		if (count > 0)
			count--;
	}
	return BOOKCTL_OK;
}

int cmd_call(struct ctx *x)
{
	const msgpack_object *r;
	msgpack_sbuffer sb;
	char err[160];
	int rc;

	msgpack_sbuffer_init(&sb);
	if (x->argc > 1) {
		if (json_to_msgpack(x->argv[1], &sb, err, sizeof err) < 0) {
			msgpack_sbuffer_destroy(&sb);
			return bookctl_usage(x, "%s", err);
		}
		if ((unsigned char)sb.data[0] != 0xdf) {
			msgpack_sbuffer_destroy(&sb);
			return bookctl_usage(x, "JSON-ARGS must be an object");
		}
	}
	rc = bookd_call(x->c, x->argv[0], sb.data, sb.size, &r);
	msgpack_sbuffer_destroy(&sb);
	if (rc == 0)
		out_json(r);
	return done(x, rc);
}

int cmd_token(struct ctx *x)
{
	unsigned char key[TOKEN_KEY_LEN];
	char path[4096], tok[TOKEN_MAX], *end;
	const char *role = x->opt[OPT_role] ? x->opt[OPT_role] : "public";
	const char *subject = x->opt[OPT_subject];
	long long ttl = 86400;
	FILE *f;
	size_t n;

	if (subject == NULL)
		return bookctl_usage(x, "token needs --subject");
	if (x->opt[OPT_ttl]) {
		ttl = strtoll(x->opt[OPT_ttl], &end, 10);
		if (*end || ttl <= 0 || ttl > 10LL * 366 * 86400)
			return bookctl_usage(x,
					     "--ttl: seconds, 1 to ten years");
	}
	if (snprintf(path, sizeof(path), "%s/auth.key", x->argv[0]) >=
	    (int)sizeof(path))
		return bookctl_usage(x, "DATA-DIR: path too long");
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "bookctl: %s: %s\n", path, strerror(errno));
		return BOOKCTL_REFUSED;
	}
	n = fread(key, 1, sizeof(key), f);
	fclose(f);
	if (n != sizeof(key)) {
		fprintf(stderr, "bookctl: %s: not a %d-byte key\n", path,
			TOKEN_KEY_LEN);
		return BOOKCTL_REFUSED;
	}
	if (token_mint(key, role, subject, (int64_t)time(NULL) + ttl, tok,
		       sizeof(tok)) < 0)
		return bookctl_usage(x,
				     "--role admin|gateway|public and a --subject "
				     "of 1 to %d bytes without newlines",
				     TOKEN_SUBJECT_MAX);
	explicit_bzero(key, sizeof(key));
	if (x->json)
		printf("{\"token\":\"%s\"}\n", tok);
	else
		printf("%s\n", tok);
	return BOOKCTL_OK;
}

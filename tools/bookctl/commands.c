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
#include "num.h"
#include "when.h"
#include "wire.h"

#define MAX_ITEMS 32

/* ---- arguments --------------------------------------------------------- */

/* A builder for the commands that have no typed helper, or NULL after
 * reporting that memory ran out. */
static bookd_args *args_new(void)
{
	bookd_args *a = bookd_args_new();

	if (a == NULL)
		fprintf(stderr, "bookctl: out of memory\n");
	return a;
}

/* Call op with a's fields, then free a. */
static int args_call(struct ctx *x, bookd_args *a, const char *op,
		     const msgpack_object **result)
{
	int rc = bookd_call_args(x->c, op, a, result);

	bookd_args_free(a);
	return rc;
}

/* A non-negative decimal number that fits int64_t. */
static int parse_uint(const char *s, int64_t *v)
{
	uint64_t u;

	if (num_parse_u64(s, 0, INT64_MAX, &u) < 0)
		return -1;
	*v = (int64_t)u;
	return 0;
}

/* A booking is named by its id (all digits) or its ref. */
static void booking_name(const char *s, uint64_t *id, const char **ref)
{
	int64_t v;

	*id = 0;
	*ref = NULL;
	if (parse_uint(s, &v) == 0)
		*id = (uint64_t)v;
	else
		*ref = s;
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
	bookd_args *a;
	int64_t q = 0;
	int rc;

	if (x->opt[OPT_quantity] &&
	    opt_uint(x, OPT_quantity, "quantity", &q) != 0)
		return BOOKCTL_USAGE;
	if ((a = args_new()) == NULL)
		return BOOKCTL_CONN;
	bookd_args_str(a, "id", x->argv[0]);
	bookd_args_str(a, "name", x->opt[OPT_name]);
	bookd_args_str(a, "kind", x->opt[OPT_kind]);
	bookd_args_str(a, "timezone", x->opt[OPT_timezone]);
	bookd_args_str(a, "schedule", x->opt[OPT_schedule]);
	if (x->opt[OPT_quantity])
		bookd_args_int(a, "quantity", q);
	rc = args_call(x, a, "resource.create", &r);
	if (rc == 0 && !as_json(x, r))
		out_resource(x, r, true);
	return done(x, rc);
}

int cmd_resource_list(struct ctx *x)
{
	const msgpack_object *r;
	int rc = bookd_call_args(x->c, "resource.list", NULL, &r);

	if (rc == 0 && !as_json(x, r))
		out_resource_table(x, r);
	return done(x, rc);
}

int cmd_resource_show(struct ctx *x)
{
	const msgpack_object *r;
	bookd_args *a;
	int rc;

	if ((a = args_new()) == NULL)
		return BOOKCTL_CONN;
	bookd_args_str(a, "id", x->argv[0]);
	rc = args_call(x, a, "resource.get", &r);
	if (rc == 0 && !as_json(x, r))
		out_resource(x, r, true);
	return done(x, rc);
}

int cmd_resource_active(struct ctx *x)
{
	const msgpack_object *r;
	bookd_args *a;
	int rc;

	if ((a = args_new()) == NULL)
		return BOOKCTL_CONN;
	bookd_args_str(a, "id", x->argv[0]);
	bookd_args_bool(a, "active", strcmp(x->cmd, "resource enable") == 0);
	rc = args_call(x, a, "resource.update", &r);
	if (rc == 0 && !as_json(x, r))
		out_resource(x, r, false);
	return done(x, rc);
}

int cmd_delete(struct ctx *x)
{
	bool res = strcmp(x->cmd, "resource delete") == 0;
	const msgpack_object *r;
	bookd_args *a;
	int rc;

	if ((a = args_new()) == NULL)
		return BOOKCTL_CONN;
	bookd_args_str(a, "id", x->argv[0]);
	rc = args_call(x, a, res ? "resource.delete" : "event_type.delete", &r);
	if (rc == 0 && !as_json(x, r)) {
		printf("%s ", res ? "resource" : "event type");
		out_text(x->argv[0]);
		printf(" deleted (archived; past bookings keep it)\n");
	}
	return done(x, rc);
}

/* ---- bookings ----------------------------------------------------------- */

/* The result of the typed helper that just succeeded, printed as JSON with
 * --json and as a booking card otherwise. */
static int booking_done(struct ctx *x, int rc, struct bookd_booking *b)
{
	if (rc < 0) {
		bookd_booking_free(b);
		return bookctl_fail(x, rc);
	}
	if (!as_json(x, bookd_result(x->c)))
		out_booking(x, b);
	bookd_booking_free(b);
	return BOOKCTL_OK;
}

/* RESOURCE[,RESOURCE...] with ID:N for pool units, into items[] (pointing
 * into buf). */
static int parse_resources(struct ctx *x, const char *spec, char *buf,
			   size_t buflen, struct bookd_item *items, size_t *n)
{
	char *save = NULL, *tok;

	*n = 0;
	if (snprintf(buf, buflen, "%s", spec) >= (int)buflen)
		return bookctl_usage(x, "resource list too long");
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		uint64_t q = 1;

		if (*n == MAX_ITEMS)
			return bookctl_usage(x, "more than %d resources",
					     MAX_ITEMS);
		if (colon) {
			*colon = 0;
			if (num_parse_u64(colon + 1, 1, UINT32_MAX, &q) < 0)
				return bookctl_usage(x, "bad units in '%s:%s'",
						     tok, colon + 1);
		}
		if (*tok == 0)
			return bookctl_usage(x, "empty resource in '%s'", spec);
		items[*n].resource = tok;
		items[(*n)++].quantity = (uint32_t)q;
	}
	if (*n == 0)
		return bookctl_usage(x, "no resource given");
	return 0;
}

int cmd_book(struct ctx *x)
{
	char buf[MAX_ITEMS * 80];
	struct bookd_item items[MAX_ITEMS];
	struct bookd_book_req req = {0};
	struct bookd_booking b = {0};
	size_t n;
	int rc;

	if (x->opt[OPT_name] == NULL || x->opt[OPT_email] == NULL)
		return bookctl_usage(x, "book needs --name and --email");
	if (parse_resources(x, x->argv[0], buf, sizeof buf, items, &n) != 0)
		return BOOKCTL_USAGE;
	/* START is read in the first resource's zone, which the booking
	 * keeps as its own (the zone its e-mails show). */
	if ((rc = zone_of(x, items[0].resource, &x->tz)) != 0)
		return rc;
	if (parse_span(x, 1, &req.start, &req.end) != 0)
		return BOOKCTL_USAGE;
	/* One plain id goes as "resource", anything else as "resources". */
	if (n == 1 && items[0].quantity == 1) {
		req.resource = items[0].resource;
	} else {
		req.items = items;
		req.nitems = n;
	}
	req.name = x->opt[OPT_name];
	req.email = x->opt[OPT_email];
	req.phone = x->opt[OPT_phone];
	req.notes = x->opt[OPT_notes];
	req.timezone = tz_name(x->tz);
	req.key = x->opt[OPT_key];
	req.session = x->opt[OPT_session];
	req.status = x->opt[OPT_status];
	req.note = x->opt[OPT_note];
	return booking_done(x, bookd_book(x->c, &req, &b), &b);
}

int cmd_cancel(struct ctx *x)
{
	struct bookd_booking b = {0};
	const char *ref;
	uint64_t id;

	booking_name(x->argv[0], &id, &ref);
	return booking_done(
	    x, bookd_cancel(x->c, id, ref, x->opt[OPT_reason], &b), &b);
}

int cmd_show(struct ctx *x)
{
	struct bookd_booking b = {0};
	const char *ref;
	uint64_t id;

	booking_name(x->argv[0], &id, &ref);
	return booking_done(x, bookd_booking_get(x->c, id, ref, &b), &b);
}

int cmd_list(struct ctx *x)
{
	const msgpack_object *r, *next;
	bookd_args *a;
	int64_t limit = 0, after = 0;
	int rc;

	if ((x->opt[OPT_limit] && opt_uint(x, OPT_limit, "limit", &limit)) ||
	    (x->opt[OPT_after] && opt_uint(x, OPT_after, "after", &after)))
		return BOOKCTL_USAGE;
	if (!x->json && (rc = zone_load_all(x)) != 0)
		return rc;
	if ((a = args_new()) == NULL)
		return BOOKCTL_CONN;
	bookd_args_str(a, "resource", x->opt[OPT_resource]);
	bookd_args_str(a, "status", x->opt[OPT_status]);
	bookd_args_str(a, "email", x->opt[OPT_email]);
	if (x->opt[OPT_limit])
		bookd_args_int(a, "limit", limit);
	if (x->opt[OPT_after])
		bookd_args_int(a, "after", after);
	rc = args_call(x, a, "booking.list", &r);
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
	struct bookd_booking b = {0};
	const char *target = NULL;
	int64_t id;

	for (size_t i = 0; i < sizeof to / sizeof to[0]; i++)
		if (strcmp(x->cmd, to[i].cmd) == 0)
			target = to[i].to;
	if (target == NULL || parse_uint(x->argv[0], &id) < 0)
		return bookctl_usage(x, "%s wants a booking id, not '%s'",
				     x->cmd, x->argv[0]);
	return booking_done(x,
			    bookd_transition(x->c, (uint64_t)id, target,
					     x->opt[OPT_reason], &b),
			    &b);
}

int cmd_reschedule(struct ctx *x)
{
	struct bookd_booking b = {0};
	int64_t start, end;
	const char *ref;
	uint64_t id;

	int rc;

	/* The new START is read in the zone of the booking's resource. */
	booking_name(x->argv[0], &id, &ref);
	if (!x->tz_fixed) {
		rc = bookd_booking_get(x->c, id, ref, &b);
		if (rc < 0)
			return booking_done(x, rc, &b);
		x->tz = zone_show(x, b.nitems ? b.items[0].resource : NULL,
				  b.timezone);
		bookd_booking_free(&b);
		memset(&b, 0, sizeof b);
		if (x->tz == NULL)
			return bookctl_fail(x, BOOKD_E_IO);
	}
	if (parse_span(x, 1, &start, &end) != 0)
		return BOOKCTL_USAGE;
	return booking_done(x, bookd_reschedule(x->c, id, ref, start, end, &b),
			    &b);
}

/* ---- availability and holds --------------------------------------------- */

int cmd_day(struct ctx *x)
{
	const msgpack_object *r;
	bookd_args *a;
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
	if ((rc = zone_of(x, x->argv[0], &x->tz)) != 0)
		return rc;
	if ((a = args_new()) == NULL)
		return BOOKCTL_CONN;
	bookd_args_str(a, "resource", x->argv[0]);
	bookd_args_str(a, "date", x->argv[1]);
	bookd_args_int(a, "duration", dur);
	if (x->opt[OPT_interval])
		bookd_args_int(a, "interval", step);
	bookd_args_str(a, "tz", tz_name(x->tz));
	bookd_args_str(a, "session", x->opt[OPT_session]);
	rc = args_call(x, a, "slots.view", &r);
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
	enum bookd_reason why;
	int64_t start, end;
	bool is_free;
	int rc;

	if ((rc = zone_of(x, x->argv[0], &x->tz)) != 0)
		return rc;
	if (parse_span(x, 1, &start, &end) != 0)
		return BOOKCTL_USAGE;
	rc = bookd_check(x->c, x->argv[0], start, end, x->opt[OPT_session],
			 &is_free, &why);
	if (rc != 0 || as_json(x, bookd_result(x->c)))
		return done(x, rc);
	if (is_free) {
		printf("free\n");
	} else {
		char buf[32];
		/* The engine's own word, also for a reason this bookctl does
		 * not know. */
		printf("not free: %s\n",
		       out_str(wire_get(bookd_result(x->c), "reason"), buf,
			       sizeof buf));
	}
	return BOOKCTL_OK;
}

static int64_t now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void catch_interrupts(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Renew the session's hold every half of its remaining life until
 * interrupted, then release it. */
static int keep_hold(struct ctx *x, int64_t start, int64_t end, int64_t exp)
{
	const char *res = x->argv[0], *ses = x->opt[OPT_session];
	bool released = false;
	int rc;

	if (!x->json)
		printf("keeping the hold (renewed every %.1f s); Ctrl-C "
		       "releases it\n",
		       (double)(exp - now_ms()) / 2000.0);
	fflush(stdout);
	while (!interrupted) {
		int64_t due = now_ms() + (exp - now_ms()) / 2;

		while (!interrupted && now_ms() < due) {
			struct timespec nap = {0, 50 * 1000000};
			nanosleep(&nap, NULL);
		}
		if (interrupted)
			break;
		rc = bookd_hold(x->c, res, start, end, ses, &exp);
		if (rc < 0)
			return bookctl_fail(x, rc);
	}
	rc = bookd_release(x->c, res, ses, &released);
	if (rc < 0)
		return bookctl_fail(x, rc);
	if (x->json)
		printf("{\"released\":%s}\n", released ? "true" : "false");
	else
		printf("%s\n",
		       released ? "released" : "the hold had already gone");
	return BOOKCTL_OK;
}

int cmd_hold(struct ctx *x)
{
	int64_t start, end, exp = 0;
	char from[96], to[16];
	int rc;

	if (x->opt[OPT_session] == NULL)
		return bookctl_usage(x, "hold needs --session");
	if ((rc = zone_of(x, x->argv[0], &x->tz)) != 0)
		return rc;
	if (parse_span(x, 1, &start, &end) != 0)
		return BOOKCTL_USAGE;
	if (x->opt[OPT_keep])
		catch_interrupts();
	rc =
	    bookd_hold(x->c, x->argv[0], start, end, x->opt[OPT_session], &exp);
	if (rc != 0)
		return done(x, rc);
	if (as_json(x, bookd_result(x->c)))
		return x->opt[OPT_keep] ? keep_hold(x, start, end, exp)
					: BOOKCTL_OK;
	when_format(start, x->tz, from, sizeof from);
	when_format_hm(end, x->tz, to, sizeof to);
	printf("held ");
	out_text(x->argv[0]);
	printf(" %s - %s for session ", from, to);
	out_text(x->opt[OPT_session]);
	printf(", expires in %.1f s\n", (double)(exp - now_ms()) / 1000.0);
	if (x->opt[OPT_keep])
		return keep_hold(x, start, end, exp);
	return BOOKCTL_OK;
}

int cmd_release(struct ctx *x)
{
	bool released;
	int rc;

	if (x->opt[OPT_session] == NULL)
		return bookctl_usage(x, "release needs --session");
	rc = bookd_release(x->c, x->argv[0], x->opt[OPT_session], &released);
	if (rc != 0 || as_json(x, bookd_result(x->c)))
		return done(x, rc);
	printf("%s\n", released ? "released" : "no hold to release");
	return BOOKCTL_OK;
}

/* ---- engine ------------------------------------------------------------- */

int cmd_stats(struct ctx *x)
{
	const msgpack_object *r;
	int rc = bookd_call_args(x->c, "stats", NULL, &r);

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
	bookd_args *a;
	int64_t after = 0, limit = 0;
	int rc;

	if ((x->opt[OPT_after] && opt_uint(x, OPT_after, "after", &after)) ||
	    (x->opt[OPT_limit] && opt_uint(x, OPT_limit, "limit", &limit)))
		return BOOKCTL_USAGE;
	if (!x->json && (rc = zone_load_all(x)) != 0)
		return rc;
	if ((a = args_new()) == NULL)
		return BOOKCTL_CONN;
	if (x->opt[OPT_after])
		bookd_args_int(a, "after", after);
	if (x->opt[OPT_limit])
		bookd_args_int(a, "limit", limit);
	rc = args_call(x, a, "events", &r);
	if (rc != 0 || as_json(x, r))
		return done(x, rc);
	ev = wire_get(r, "events");
	for (uint32_t i = 0;
	     ev && ev->type == MSGPACK_OBJECT_ARRAY && i < ev->via.array.size;
	     i++) {
		const msgpack_object *e = &ev->via.array.ptr[i];
		const msgpack_object *b = wire_get(e, "booking");
		const msgpack_object *rs = wire_get(b, "resources");
		int64_t lsn = 0, at = 0, id = 0;
		char when[96], type[64], st[32], res[128], bz[64];

		wire_int(wire_get(e, "lsn"), &lsn);
		wire_int(wire_get(e, "at_ms"), &at);
		wire_int(wire_get(b, "id"), &id);
		if (rs == NULL || rs->type != MSGPACK_OBJECT_ARRAY ||
		    rs->via.array.size == 0 ||
		    wire_cstr(&rs->via.array.ptr[0], res, sizeof res) < 0)
			res[0] = 0;
		if (wire_cstr(wire_get(b, "timezone"), bz, sizeof bz) < 0)
			bz[0] = 0;
		when_format(at / 1000, zone_known(x, res, bz), when,
			    sizeof when);
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

static void print_push(struct ctx *x, const struct bookd_push *p)
{
	if (!x->json) {
		out_text(p->topic);
		putchar(' ');
		out_text(p->resource);
		putchar(' ');
		out_text(p->date);
		printf(" version %" PRIu64 "\n", p->version);
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
	uint64_t slots = 0, holds = 0;
	int64_t count = -1;
	int rc;

	if (when_parse_date(from) < 0 || when_parse_date(to) < 0)
		return bookctl_usage(x, "bad DATE (want YYYY-MM-DD)");
	if (x->opt[OPT_count] && opt_uint(x, OPT_count, "count", &count))
		return BOOKCTL_USAGE;
	/* Before the "watching" line: whoever reads it may interrupt at
	 * once. */
	catch_interrupts();
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
		return bookctl_usage(
		    x,
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

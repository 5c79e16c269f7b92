/*
 * catalog.c - the commands for what bookings are made against besides
 * resources: open hours (schedule list|show|set, for a resource or a
 * shared schedule) and event types (event-type list|show|set), with their
 * human output; holiday calendars are in cmd_holidays.c.
 *
 * "schedule set" reads open hours written for people (mon-fri=09:00-18:00,
 * 2026-12-24=closed) and sends them as schedule.put's weekly windows and
 * dated overrides; the engine checks what the syntax cannot (15-minute
 * steps, limits, the zone).  A rule bookctl cannot read is a usage error
 * naming it, and nothing is sent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookctl.h"
#include "num.h"
#include "quanta.h"
#include "when.h"
#include "wire.h"

static const char *const day_names[] = {"mon", "tue", "wed", "thu",
					"fri", "sat", "sun"};

static int day_index(const char *s, size_t n)
{
	for (int i = 0; i < 7; i++)
		if (n == 3 && strncasecmp(s, day_names[i], 3) == 0)
			return i + 1;
	return 0;
}

static bool is_hm(const char *s)
{
	return strlen(s) == 5 && s[2] == ':' && strspn(s, "0123456789:") == 5;
}

/* One rule's DAYS part: a weekday range into *from..*to (1..7), or a
 * date (then *date is set). */
static int parse_days(const char *d, size_t n, int *from, int *to, bool *date)
{
	const char *dash = memchr(d, '-', n);
	int64_t day;

	*date = false;
	if (q_parse_date(d, n, &day) == 0) {
		*date = true;
		return 0;
	}
	if (dash == NULL) {
		*from = *to = day_index(d, n);
		return *from ? 0 : -1;
	}
	*from = day_index(d, (size_t)(dash - d));
	*to = day_index(dash + 1, n - (size_t)(dash - d) - 1);
	return *from && *to && *from <= *to ? 0 : -1;
}

int schedule_add_windows(bookd_args *a, const char *hours, bool as_weekly,
			 int day)
{
	char buf[512], *save = NULL, *tok;

	if (strcmp(hours, "closed") == 0)
		return 0;
	if (snprintf(buf, sizeof buf, "%s", hours) >= (int)sizeof buf)
		return -1;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');

		if (dash == NULL)
			return -1;
		*dash = 0;
		if (!is_hm(tok) || !is_hm(dash + 1))
			return -1;
		bookd_args_map(a, NULL);
		if (as_weekly)
			bookd_args_int(a, "day", day);
		bookd_args_str(a, "start", tok);
		bookd_args_str(a, "end", dash + 1);
		bookd_args_end(a);
	}
	return 0;
}

/* Add the rules' weekly windows (dates == false) or overrides. */
static int add_rules(struct ctx *x, bookd_args *a, bool dates)
{
	for (int i = 2; i < x->argc; i++) {
		const char *r = x->argv[i], *eq = strchr(r, '=');
		int from = 0, to = 0;
		bool date;

		if (eq == NULL ||
		    parse_days(r, (size_t)(eq - r), &from, &to, &date) < 0)
			return bookctl_usage(x,
					     "bad rule '%s' (want DAYS=HOURS, "
					     "e.g. mon-fri=09:00-17:00)",
					     r);
		if (date != dates)
			continue;
		if (date) {
			bookd_args_map(a, NULL);
			bookd_args_strn(a, "date", r, (size_t)(eq - r));
			bookd_args_array(a, "windows");
		}
		for (int d = from; d <= to; d++)
			if (schedule_add_windows(a, eq + 1, !date, d) < 0)
				return bookctl_usage(
				    x,
				    "bad hours in '%s' (want 09:00-17:00, "
				    "several joined by commas, or closed)",
				    r);
		if (date) {
			bookd_args_end(a);
			bookd_args_end(a);
		}
	}
	return 0;
}

static int done(struct ctx *x, int rc)
{
	return rc < 0 ? bookctl_fail(x, rc) : BOOKCTL_OK;
}

/* "09:00-12:00, 13:00-17:00" for an array of {start, end}. */
static void print_windows(const msgpack_object *w)
{
	if (w == NULL || w->type != MSGPACK_OBJECT_ARRAY ||
	    w->via.array.size == 0) {
		printf("closed");
		return;
	}
	for (uint32_t i = 0; i < w->via.array.size; i++) {
		char s[16], e[16];

		printf("%s%s-%s", i ? ", " : "",
		       out_str(wire_get(&w->via.array.ptr[i], "start"), s,
			       sizeof s),
		       out_str(wire_get(&w->via.array.ptr[i], "end"), e,
			       sizeof e));
	}
}

/* prefix, the ids of array l joined by commas, suffix and a newline;
 * nothing when l is absent or empty. */
static void print_ids(const char *prefix, const msgpack_object *l,
		      const char *suffix)
{
	char id[80];

	if (l == NULL || l->type != MSGPACK_OBJECT_ARRAY ||
	    l->via.array.size == 0)
		return;
	printf("%s", prefix);
	for (uint32_t i = 0; i < l->via.array.size; i++)
		printf("%s%s", i ? ", " : "",
		       out_str(&l->via.array.ptr[i], id, sizeof id));
	printf("%s\n", suffix);
}

void out_schedule(const msgpack_object *s)
{
	const msgpack_object *weekly = wire_get(s, "weekly");
	const msgpack_object *ov = wire_get(s, "overrides");
	char zone[80];

	if (s == NULL || s->type != MSGPACK_OBJECT_MAP) {
		printf("  open around the clock (no schedule)\n");
		return;
	}
	printf("  hours in %s\n",
	       out_str(wire_get(s, "timezone"), zone, sizeof zone));
	for (int d = 1; d <= 7; d++) {
		bool any = false;

		printf("  %c%s  ", day_names[d - 1][0] - 'a' + 'A',
		       day_names[d - 1] + 1);
		for (uint32_t i = 0;
		     weekly && weekly->type == MSGPACK_OBJECT_ARRAY &&
		     i < weekly->via.array.size;
		     i++) {
			const msgpack_object *w = &weekly->via.array.ptr[i];
			int64_t day = 0;
			char st[16], en[16];

			if (!wire_int(wire_get(w, "day"), &day) || day != d)
				continue;
			printf("%s%s-%s", any ? ", " : "",
			       out_str(wire_get(w, "start"), st, sizeof st),
			       out_str(wire_get(w, "end"), en, sizeof en));
			any = true;
		}
		printf("%s\n", any ? "" : "closed");
	}
	for (uint32_t i = 0;
	     ov && ov->type == MSGPACK_OBJECT_ARRAY && i < ov->via.array.size;
	     i++) {
		const msgpack_object *o = &ov->via.array.ptr[i];
		char date[32];

		printf("  %s  ",
		       out_str(wire_get(o, "date"), date, sizeof date));
		print_windows(wire_get(o, "windows"));
		putchar('\n');
	}
	print_ids("  holidays  ", wire_get(s, "holidays"),
		  " (their dates win over the weekly hours)");
	print_ids("  used by   ", wire_get(s, "resources"), "");
}

int cmd_schedule_show(struct ctx *x)
{
	const msgpack_object *r;
	bookd_args *a = bookd_args_new();
	int rc;

	if (a == NULL)
		return BOOKCTL_CONN;
	bookd_args_str(a, "id", x->argv[0]);
	rc = bookd_call_args(x->c, "schedule.get", a, &r);
	bookd_args_free(a);
	if (rc == 0 && !(x->json && (out_json(r), true))) {
		out_text(x->argv[0]);
		putchar('\n');
		out_schedule(r);
	}
	return done(x, rc);
}

int cmd_schedule_list(struct ctx *x)
{
	const msgpack_object *r;
	int rc = bookd_call_args(x->c, "schedule.list", NULL, &r);

	if (rc < 0 || (x->json && (out_json(r), true)))
		return done(x, rc);
	if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size == 0) {
		printf("no schedules: every resource is open around the "
		       "clock\n");
		return BOOKCTL_OK;
	}
	for (uint32_t i = 0; i < r->via.array.size; i++) {
		char id[80];

		const msgpack_object *e = &r->via.array.ptr[i];
		const msgpack_object *shared = wire_get(e, "shared");
		const msgpack_object *ref = wire_get(e, "schedule_ref");
		char sref[80];

		printf("%s%s", i ? "\n" : "",
		       out_str(wire_get(e, "id"), id, sizeof id));
		if (shared && shared->type == MSGPACK_OBJECT_BOOLEAN &&
		    shared->via.boolean)
			printf("  (shared schedule)");
		else if (ref)
			printf("  (uses shared schedule %s)",
			       out_str(ref, sref, sizeof sref));
		putchar('\n');
		out_schedule(wire_get(e, "schedule"));
		print_ids("  used by   ", wire_get(e, "resources"), "");
	}
	return BOOKCTL_OK;
}

int cmd_schedule_set(struct ctx *x)
{
	const msgpack_object *r, *closed;
	bookd_args *a = bookd_args_new();
	int rc;

	if (a == NULL)
		return BOOKCTL_CONN;
	if (x->opt[OPT_file]) {
		rc = schedule_set_file(x, &r);
		if (rc)
			goto out;
		if (x->json) {
			out_json(r);
			goto out;
		}
		goto show;
	}
	if (x->argc < 3) {
		rc = bookctl_usage(x, "schedule set needs ID ZONE RULE... "
				      "(or --file PATH)");
		goto out;
	}
	bookd_args_str(a, "id", x->argv[0]);
	bookd_args_str(a, "timezone", x->argv[1]);
	bookd_args_array(a, "weekly");
	if ((rc = add_rules(x, a, false)) != 0)
		goto out;
	bookd_args_end(a);
	bookd_args_array(a, "overrides");
	if ((rc = add_rules(x, a, true)) != 0)
		goto out;
	bookd_args_end(a);
	if (x->opt[OPT_holidays]) {
		char buf[1024], *save = NULL, *tok;

		if (snprintf(buf, sizeof buf, "%s", x->opt[OPT_holidays]) >=
		    (int)sizeof buf) {
			rc = bookctl_usage(x, "--holidays: too long");
			goto out;
		}
		bookd_args_array(a, "holidays");
		for (tok = strtok_r(buf, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save))
			bookd_args_str(a, NULL, tok);
		bookd_args_end(a);
	}
	rc = bookd_call_args(x->c, "schedule.put", a, &r);
	if (rc < 0 || (x->json && (out_json(r), true))) {
		rc = done(x, rc);
		goto out;
	}
show:
	out_text(x->argv[0]);
	putchar('\n');
	out_schedule(r);
	closed = wire_get(r, "booked_slots_closed");
	if (closed && closed->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		printf("note: %" PRIu64 " booked quarter hours now lie outside "
		       "the open hours (the bookings stay)\n",
		       closed->via.u64);
	rc = BOOKCTL_OK;
out:
	bookd_args_free(a);
	return rc;
}

/* ---- event types --------------------------------------------------------- */

/* "60, 120, 300" from an array of numbers. */
static void print_uints(const msgpack_object *l, const char *suffix)
{
	for (uint32_t i = 0;
	     l && l->type == MSGPACK_OBJECT_ARRAY && i < l->via.array.size;
	     i++) {
		int64_t v = 0;

		wire_int(&l->via.array.ptr[i], &v);
		printf("%s%" PRId64, i ? ", " : "", v);
	}
	printf("%s", suffix);
}

static void print_strs(const msgpack_object *l)
{
	for (uint32_t i = 0;
	     l && l->type == MSGPACK_OBJECT_ARRAY && i < l->via.array.size;
	     i++) {
		char s[80];

		printf("%s%s", i ? ", " : "",
		       out_str(&l->via.array.ptr[i], s, sizeof s));
	}
}

static void minutes_line(const msgpack_object *e, const char *key,
			 const char *label, const char *zero)
{
	int64_t v = 0;
	char d[32];

	if (!wire_int(wire_get(e, key), &v) || v == 0) {
		if (zero)
			printf("  %-14s %s\n", label, zero);
		return;
	}
	when_format_duration(v * 60, d, sizeof d);
	printf("  %-14s %s\n", label, d);
}

void out_event_type(const msgpack_object *e, bool detail)
{
	const msgpack_object *conf = wire_get(e, "requires_confirmation");
	const msgpack_object *act = wire_get(e, "active");
	char id[80], title[300];

	out_str(wire_get(e, "id"), id, sizeof id);
	out_str(wire_get(e, "title"), title, sizeof title);
	if (!detail) {
		printf("%-20s %-28s ", id, title);
		print_uints(wire_get(e, "lengths"), " min  ");
		print_strs(wire_get(e, "resources"));
		if (act && act->type == MSGPACK_OBJECT_BOOLEAN &&
		    !act->via.boolean)
			printf("  (inactive)");
		putchar('\n');
		return;
	}
	printf("event type %s: %s\n", id, title);
	printf("  %-14s ", "lengths");
	print_uints(wire_get(e, "lengths"), " minutes\n");
	printf("  %-14s ", "resources");
	print_strs(wire_get(e, "resources"));
	putchar('\n');
	minutes_line(e, "slot_interval", "starts every",
		     "its shortest length (engine default)");
	minutes_line(e, "buffer_before", "buffer before", NULL);
	minutes_line(e, "buffer_after", "buffer after", NULL);
	minutes_line(e, "min_notice", "min notice", NULL);
	minutes_line(e, "max_future", "books ahead", "without limit");
	printf("  %-14s %s\n", "confirmation",
	       conf && conf->type == MSGPACK_OBJECT_BOOLEAN && conf->via.boolean
		   ? "required (new bookings are pending)"
		   : "not required");
	printf("  %-14s %s\n", "active",
	       act && act->type == MSGPACK_OBJECT_BOOLEAN && !act->via.boolean
		   ? "no"
		   : "yes");
}

int cmd_event_type_list(struct ctx *x)
{
	const msgpack_object *r;
	int rc = bookd_call_args(x->c, "event_type.list", NULL, &r);

	if (rc < 0 || (x->json && (out_json(r), true)))
		return done(x, rc);
	if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size == 0) {
		printf("no event types\n");
		return BOOKCTL_OK;
	}
	printf("%-20s %-28s %s\n", "ID", "TITLE", "LENGTHS  RESOURCES");
	for (uint32_t i = 0; i < r->via.array.size; i++)
		out_event_type(&r->via.array.ptr[i], false);
	return BOOKCTL_OK;
}

int cmd_event_type_show(struct ctx *x)
{
	const msgpack_object *r;
	bookd_args *a = bookd_args_new();
	int rc;

	if (a == NULL)
		return BOOKCTL_CONN;
	bookd_args_str(a, "id", x->argv[0]);
	rc = bookd_call_args(x->c, "event_type.get", a, &r);
	bookd_args_free(a);
	if (rc == 0 && !(x->json && (out_json(r), true)))
		out_event_type(r, true);
	return done(x, rc);
}

/* A comma-separated list into an array: numbers (minutes) or strings. */
static int add_list(struct ctx *x, bookd_args *a, const char *key, int o,
		    bool numbers)
{
	char buf[4096], *save = NULL, *tok;

	if (snprintf(buf, sizeof buf, "%s", x->opt[o]) >= (int)sizeof buf)
		return bookctl_usage(x, "--%s: too long", key);
	bookd_args_array(a, key);
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		uint64_t v;

		if (!numbers) {
			bookd_args_str(a, NULL, tok);
			continue;
		}
		if (num_parse_u64(tok, 0, UINT32_MAX, &v) < 0)
			return bookctl_usage(x, "--%s: '%s' is not minutes",
					     key, tok);
		bookd_args_uint(a, NULL, v);
	}
	bookd_args_end(a);
	return 0;
}

int cmd_event_type_set(struct ctx *x)
{
	static const struct {
		int opt;
		const char *key;
	} mins[] = {{OPT_interval, "slot_interval"},
		    {OPT_buffer_before, "buffer_before"},
		    {OPT_buffer_after, "buffer_after"},
		    {OPT_min_notice, "min_notice"},
		    {OPT_max_future, "max_future"}};
	const msgpack_object *r;
	bookd_args *a;
	int rc;

	if (!x->opt[OPT_title] || !x->opt[OPT_lengths] ||
	    !x->opt[OPT_resources])
		return bookctl_usage(x, "event-type set needs --title, "
					"--lengths and --resources");
	if ((a = bookd_args_new()) == NULL)
		return BOOKCTL_CONN;
	bookd_args_str(a, "id", x->argv[0]);
	bookd_args_str(a, "title", x->opt[OPT_title]);
	if ((rc = add_list(x, a, "lengths", OPT_lengths, true)) != 0 ||
	    (rc = add_list(x, a, "resources", OPT_resources, false)) != 0)
		goto out;
	for (size_t i = 0; i < sizeof mins / sizeof mins[0]; i++) {
		uint64_t v;

		if (!x->opt[mins[i].opt])
			continue;
		if (num_parse_u64(x->opt[mins[i].opt], 0, UINT32_MAX, &v) < 0) {
			rc = bookctl_usage(x, "%s wants minutes, not '%s'",
					   mins[i].key, x->opt[mins[i].opt]);
			goto out;
		}
		bookd_args_uint(a, mins[i].key, v);
	}
	bookd_args_bool(a, "requires_confirmation",
			x->opt[OPT_confirm] != NULL);
	bookd_args_bool(a, "active", x->opt[OPT_inactive] == NULL);
	rc = bookd_call_args(x->c, "event_type.put", a, &r);
	if (rc == 0 && !(x->json && (out_json(r), true)))
		out_event_type(r, true);
	rc = done(x, rc);
out:
	bookd_args_free(a);
	return rc;
}

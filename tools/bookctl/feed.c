/*
 * feed.c - bookctl ical: a resource's bookings as an iCalendar feed
 * (tools/common/ical.h writes the format).
 *
 * The bookings come from booking.list (admin), page by page, every status:
 * a cancelled or declined booking stays in the feed as STATUS:CANCELLED so
 * that a calendar which subscribed earlier removes it.  --from/--to are
 * local dates in the resource's zone (or --tz) and bound the feed by
 * overlap.  Each page is written before the next is asked for, so memory
 * stays bounded however many bookings there are.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bookctl.h"
#include "ical.h"
#include "icalfeed.h"
#include "quanta.h"
#include "wire.h"

#define PAGE 500

static int day_bound(struct ctx *x, int o, bool end, int64_t *t)
{
	int64_t day, s, e;

	if (q_parse_date(x->opt[o], strlen(x->opt[o]), &day) < 0)
		return bookctl_usage(x,
				     "--%s wants a date YYYY-MM-DD, not '%s'",
				     o == OPT_from ? "from" : "to", x->opt[o]);
	tz_local_day(x->tz, day, &s, &e);
	*t = end ? e : s;
	return 0;
}

/* One page's bookings as events. */
static int write_page(struct ctx *x, const msgpack_object *list,
		      const char *title)
{
	bool admin = x->opt[OPT_public] == NULL;

	for (uint32_t i = 0; list && list->type == MSGPACK_OBJECT_ARRAY &&
			     i < list->via.array.size;
	     i++) {
		struct bookd_booking b;
		struct ical_booking e;
		int rc;

		if (bookd_booking_from_object(&list->via.array.ptr[i], &b) < 0)
			continue;
		ical_from_booking(&e, &b, title, admin);
		rc = ical_event(stdout, &e, x->opt[OPT_domain], admin);
		bookd_booking_free(&b);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int cmd_ical(struct ctx *x)
{
	const msgpack_object *r, *next;
	char name[256], cal[320];
	int64_t from = 0, to = 0;
	uint64_t after = 0;
	bookd_args *a;
	int rc;

	if (!x->tz_fixed) {
		if ((rc = zone_of(x, x->argv[0], &x->tz)) != 0)
			return rc;
	}
	if ((x->opt[OPT_from] && day_bound(x, OPT_from, false, &from)) ||
	    (x->opt[OPT_to] && day_bound(x, OPT_to, true, &to)))
		return BOOKCTL_USAGE;
	if ((a = bookd_args_new()) == NULL)
		return BOOKCTL_CONN;
	bookd_args_str(a, "id", x->argv[0]);
	rc = bookd_call_args(x->c, "resource.get", a, &r);
	if (rc < 0) {
		bookd_args_free(a);
		return bookctl_fail(x, rc);
	}
	if (wire_cstr(wire_get(r, "name"), name, sizeof name) < 0 || !*name)
		snprintf(name, sizeof name, "%s", x->argv[0]);
	snprintf(cal, sizeof cal, "%s bookings", name);
	ical_begin(stdout, cal, tz_name(x->tz));
	do {
		bookd_args_reset(a);
		bookd_args_str(a, "resource", x->argv[0]);
		if (x->opt[OPT_from])
			bookd_args_int(a, "from", from);
		if (x->opt[OPT_to])
			bookd_args_int(a, "to", to);
		bookd_args_uint(a, "limit", PAGE);
		if (after)
			bookd_args_uint(a, "after", after);
		rc = bookd_call_args(x->c, "booking.list", a, &r);
		if (rc < 0)
			break;
		if (write_page(x, wire_get(r, "bookings"), name) < 0) {
			fprintf(stderr, "bookctl: writing the feed failed\n");
			bookd_args_free(a);
			return BOOKCTL_CONN;
		}
		next = wire_get(r, "next");
		after = next && next->type == MSGPACK_OBJECT_POSITIVE_INTEGER
			    ? next->via.u64
			    : 0;
	} while (after);
	bookd_args_free(a);
	if (rc < 0)
		return bookctl_fail(x, rc);
	if (ical_end(stdout) < 0) {
		fprintf(stderr, "bookctl: writing the feed failed\n");
		return BOOKCTL_CONN;
	}
	return BOOKCTL_OK;
}

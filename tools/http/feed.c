/*
 * feed.c - a resource's bookings as an iCalendar feed, for calendar
 * programs that subscribe to a URL:
 *   GET /v1/resources/{id}/calendar.ics        busy times, no booker
 *   GET /v1/admin/resources/{id}/calendar.ics  with the bookers' details
 * both with ?from=&to= (local dates in the resource's zone; by default
 * from 30 days ago, without an end).  The format is tools/common/ical.c's,
 * the one writer bookctl ical uses too.
 *
 * The bookings come from booking.list, which is admin-only in the engine:
 * with a gateway (not admin) engine connection both feeds answer 503, as
 * /v1/me/bookings does.  A feed holds at most FEED_MAX bookings (the
 * oldest first); past that it ends with the ones it has and says so in
 * the X-Bookd-Truncated header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "ical.h"
#include "icalfeed.h"
#include "quanta.h"
#include "tz.h"

#define FEED_PAGE 500
#define FEED_MAX  5000
#define FEED_BACK (30 * DAY_SECONDS)

static const char *qarg(struct gw_req *q, const char *name)
{
	const char *v =
	    MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
	return v && *v ? v : NULL;
}

static void pack_kstr(msgpack_packer *pk, const char *k, const char *v)
{
	msgpack_pack_str_with_body(pk, k, strlen(k));
	msgpack_pack_str_with_body(pk, v, strlen(v));
}

/* A local date's start (or end) as Unix seconds; -1 for a bad date. */
static int day_bound(const char *s, const struct tz *z, bool end, int64_t *t)
{
	int64_t day, a, b;

	if (q_parse_date(s, strlen(s), &day) < 0)
		return -1;
	tz_local_day(z, day, &a, &b);
	*t = end ? b : a;
	return 0;
}

struct feed {
	FILE *f;
	const char *title;
	bool admin;
	size_t n;
	uint64_t next;
};

static void write_page(struct feed *fd, const msgpack_object *list)
{
	for (uint32_t i = 0; list && list->type == MSGPACK_OBJECT_ARRAY &&
			     i < list->via.array.size && fd->n < FEED_MAX;
	     i++) {
		struct bookd_booking b;
		struct ical_booking e;

		if (bookd_booking_from_object(&list->via.array.ptr[i], &b) < 0)
			continue;
		ical_from_booking(&e, &b, fd->title, fd->admin);
		ical_event(fd->f, &e, NULL, fd->admin);
		bookd_booking_free(&b);
		fd->n++;
	}
}

enum MHD_Result gw_ical(struct gw_req *q, const char *id, size_t idlen,
			bool admin)
{
	const msgpack_object *res, *eo, *o;
	const struct tz *z = NULL;
	char rid[64], name[256], zone[65], cal[300];
	const char *from_s = qarg(q, "from"), *to_s = qarg(q, "to");
	int64_t from = (int64_t)time(NULL) - FEED_BACK, to = 0;
	struct feed fd = {0};
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct MHD_Response *r;
	enum MHD_Result ok;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	q->route = GW_ROUTE_ICAL;
	if (strcmp(q->method, "GET") != 0)
		return gw_problem(q, 405, "BAD_REQUEST",
				  "this method is not allowed here", NULL);
	if (idlen == 0 || idlen >= sizeof rid)
		return gw_problem(q, 404, "NOT_FOUND", "no such resource",
				  "id");
	memcpy(rid, id, idlen);
	rid[idlen] = 0;

	/* The resource as this caller may see it: public callers only
	 * active ones. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	pack_kstr(&pk, "id", rid);
	rc = gw_call(admin ? NULL : q->who.visitor, "resource.get", &sb, &res,
		     &eo);
	msgpack_sbuffer_destroy(&sb);
	if (rc != 0)
		return gw_engine_problem(q, rc, eo, !admin);
	o = gw_get(res, "name");
	if (o && o->type == MSGPACK_OBJECT_STR && o->via.str.size > 0 &&
	    o->via.str.size < sizeof name) {
		memcpy(name, o->via.str.ptr, o->via.str.size);
		name[o->via.str.size] = 0;
	} else {
		snprintf(name, sizeof name, "%s", rid);
	}
	o = gw_get(res, "timezone");
	snprintf(zone, sizeof zone, "UTC");
	if (o && o->type == MSGPACK_OBJECT_STR && o->via.str.size < 65) {
		memcpy(zone, o->via.str.ptr, o->via.str.size);
		zone[o->via.str.size] = 0;
	}
	if (tz_get(zone, &z) < 0 && tz_get("UTC", &z) < 0)
		return gw_problem(q, 500, "INTERNAL", "no time zone data",
				  NULL);
	if (from_s && day_bound(from_s, z, false, &from) < 0)
		return gw_problem(q, 400, "BAD_REQUEST",
				  "from: expected a date YYYY-MM-DD", "from");
	if (to_s && day_bound(to_s, z, true, &to) < 0)
		return gw_problem(q, 400, "BAD_REQUEST",
				  "to: expected a date YYYY-MM-DD", "to");

	fd.f = open_memstream(&buf, &len);
	if (fd.f == NULL)
		return gw_problem(q, 500, "INTERNAL", "out of memory", NULL);
	fd.title = name;
	fd.admin = admin;
	snprintf(cal, sizeof cal, "%s bookings", name);
	ical_begin(fd.f, cal, tz_name(z));
	do {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 3 + (to_s != NULL) + (fd.next != 0));
		pack_kstr(&pk, "resource", rid);
		msgpack_pack_str_with_body(&pk, "from", 4);
		msgpack_pack_int64(&pk, from);
		if (to_s) {
			msgpack_pack_str_with_body(&pk, "to", 2);
			msgpack_pack_int64(&pk, to);
		}
		msgpack_pack_str_with_body(&pk, "limit", 5);
		msgpack_pack_uint32(&pk, FEED_PAGE);
		if (fd.next) {
			msgpack_pack_str_with_body(&pk, "after", 5);
			msgpack_pack_uint64(&pk, fd.next);
		}
		rc = gw_call(NULL, "booking.list", &sb, &res, &eo);
		msgpack_sbuffer_destroy(&sb);
		if (rc != 0)
			break;
		write_page(&fd, gw_get(res, "bookings"));
		o = gw_get(res, "next");
		fd.next = o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER
			      ? o->via.u64
			      : 0;
	} while (fd.next && fd.n < FEED_MAX);
	ical_end(fd.f);
	fclose(fd.f);
	if (rc == BOOKD_E_FORBIDDEN) {
		free(buf);
		return gw_problem(q, 503, "UNAVAILABLE",
				  "calendar feeds need an admin engine "
				  "connection (--token-file with an admin "
				  "token, or the engine's user)",
				  NULL);
	}
	if (rc != 0) {
		free(buf);
		return gw_engine_problem(q, rc, eo, !admin);
	}
	r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type",
				"text/calendar; charset=utf-8");
	if (fd.next)
		MHD_add_response_header(r, "X-Bookd-Truncated", "true");
	gw_common_headers(q, r);
	ok = MHD_queue_response(q->conn, 200, r);
	MHD_destroy_response(r);
	gw_metrics_record(q->route, 200, gw_now_ns() - q->t0_ns);
	return ok;
}

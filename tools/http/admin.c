/*
 * admin.c - the admin API under /v1/admin, /healthz and /metrics.
 *
 * Owns: routes for a caller whose verified token carries the admin claim
 * (--admin-claim NAME=VALUE): bookings (list with filters, one by id,
 * transitions), resources (list, create, update, schedules, a day's quarter
 * grid from the shared pages), event types (list, upsert).  Bodies are
 * passed to the engine as the op's arguments (the engine checks them), so
 * this file stays a thin map from paths to ops; the token's subject becomes
 * the audit actor (`by`) of transitions.
 *
 * /metrics answers loopback callers and admins only: the engine's `stats`
 * (when the gateway's engine connection is admin) and the gateway's own
 * counters.  /healthz pings the engine.
 *
 * How it fails: 403 without the admin claim; engine errors map as for the
 * public API, but with their full detail (admins may see conflicts).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "tz.h"

static enum MHD_Result call(struct gw_req *q, const char *op,
			    const msgpack_sbuffer *args, unsigned ok_status)
{
	const msgpack_object *res, *eo;
	int rc = gw_call(NULL, op, args, &res, &eo);

	if (rc != 0)
		return gw_engine_problem(q, rc, eo, false);
	return gw_json(q, ok_status, gw_to_json(res, NULL));
}

/* Body object plus {idkey: id} (when id), packed. */
static int body_args(struct gw_req *q, const char *idkey, const char *id,
		     msgpack_sbuffer *sb, enum MHD_Result *ans)
{
	json_error_t e;
	json_t *o = q->body_len ? json_loadb(q->body, q->body_len,
					     JSON_REJECT_DUPLICATES, &e)
				: json_object();
	msgpack_packer pk;

	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		*ans = gw_problem(q, 400, "BAD_REQUEST",
				  "body: not a JSON object", "body");
		return -1;
	}
	if (id)
		json_object_set_new(o, idkey, json_string(id));
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (gw_pack_json(&pk, o) != 0) {
		json_decref(o);
		msgpack_sbuffer_destroy(sb);
		*ans = gw_problem(q, 400, "BAD_REQUEST", "body: cannot be sent",
				  "body");
		return -1;
	}
	json_decref(o);
	return 0;
}

static enum MHD_Result with_body(struct gw_req *q, const char *op,
				 const char *idkey, const char *id,
				 unsigned ok_status)
{
	msgpack_sbuffer sb;
	enum MHD_Result ans;

	if (body_args(q, idkey, id, &sb, &ans) != 0)
		return ans;
	ans = call(q, op, &sb, ok_status);
	msgpack_sbuffer_destroy(&sb);
	return ans;
}

static const char *qarg(struct gw_req *q, const char *name)
{
	const char *v =
	    MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
	return v && *v ? v : NULL;
}

static int uint_arg(const char *v, uint64_t *out)
{
	char *end;

	if (v == NULL || !isdigit((unsigned char)v[0]))
		return -1;
	*out = strtoull(v, &end, 10);
	return *end ? -1 : 0;
}

static enum MHD_Result list_bookings(struct gw_req *q)
{
	const char *names[] = {"resource", "status", "from",
			       "to",	   "limit",  "after"};
	const char *vals[6];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	enum MHD_Result ans;
	uint32_t n = 0;

	for (int i = 0; i < 6; i++)
		if ((vals[i] = qarg(q, names[i])) != NULL)
			n++;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	for (int i = 0; i < 6; i++) {
		if (vals[i] == NULL)
			continue;
		msgpack_pack_str_with_body(&pk, names[i], strlen(names[i]));
		if (i < 2) {
			msgpack_pack_str_with_body(&pk, vals[i],
						   strlen(vals[i]));
		} else {
			int64_t t;
			uint64_t u;
			json_t *s = json_string(vals[i]);
			if (uint_arg(vals[i], &u) == 0) {
				msgpack_pack_uint64(&pk, u);
			} else if (i < 4 && gw_parse_instant(s, &t) == 0) {
				msgpack_pack_int64(&pk, t);
			} else {
				char d[96];
				json_decref(s);
				msgpack_sbuffer_destroy(&sb);
				snprintf(d, sizeof d, "%s: expected %s",
					 names[i],
					 i < 4 ? "Unix seconds or ISO 8601"
					       : "a number");
				return gw_problem(q, 400, "BAD_REQUEST", d,
						  names[i]);
			}
			json_decref(s);
		}
	}
	ans = call(q, "booking.list", &sb, 200);
	msgpack_sbuffer_destroy(&sb);
	return ans;
}

static enum MHD_Result booking_op(struct gw_req *q, const char *rest)
{
	static const char *const verbs[][2] = {
	    {"confirm", "confirmed"},  {"decline", "declined"},
	    {"complete", "completed"}, {"no-show", "no_show"},
	    {"cancel", "cancelled"},
	};
	const char *slash = strchr(rest, '/');
	char idtext[24];
	uint64_t id;
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	enum MHD_Result ans;

	if (n == 0 || n >= sizeof idtext)
		return gw_problem(q, 404, "NOT_FOUND", "no such booking", "id");
	memcpy(idtext, rest, n);
	idtext[n] = 0;
	if (uint_arg(idtext, &id) != 0)
		return gw_problem(q, 404, "NOT_FOUND", "no such booking", "id");
	if (slash == NULL) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 1);
		msgpack_pack_str_with_body(&pk, "id", 2);
		msgpack_pack_uint64(&pk, id);
		ans = call(q, "booking.get", &sb, 200);
		msgpack_sbuffer_destroy(&sb);
		return ans;
	}
	if (strcmp(q->method, "POST") != 0)
		return gw_problem(q, 405, "BAD_REQUEST",
				  "this method is not allowed here", NULL);
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		json_t *o;
		json_error_t e;
		if (strcmp(slash + 1, verbs[i][0]) != 0)
			continue;
		o = q->body_len ? json_loadb(q->body, q->body_len, 0, &e)
				: json_object();
		if (o == NULL || !json_is_object(o)) {
			json_decref(o);
			return gw_problem(q, 400, "BAD_REQUEST",
					  "body: not a JSON object", "body");
		}
		json_t *reason = json_object_get(o, "reason");
		if (reason && !json_is_string(reason) &&
		    !json_is_null(reason)) {
			json_decref(o);
			return gw_problem(q, 400, "BAD_REQUEST",
					  "reason: must be a string", "reason");
		}
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 3 + (reason && json_is_string(reason)));
		msgpack_pack_str_with_body(&pk, "id", 2);
		msgpack_pack_uint64(&pk, id);
		msgpack_pack_str_with_body(&pk, "to", 2);
		msgpack_pack_str_with_body(&pk, verbs[i][1],
					   strlen(verbs[i][1]));
		msgpack_pack_str_with_body(&pk, "by", 2);
		msgpack_pack_str_with_body(&pk, q->who.sub,
					   strnlen(q->who.sub, 128));
		if (reason && json_is_string(reason)) {
			msgpack_pack_str_with_body(&pk, "reason", 6);
			msgpack_pack_str_with_body(&pk,
						   json_string_value(reason),
						   json_string_length(reason));
		}
		json_decref(o);
		ans = call(q, "booking.transition", &sb, 200);
		msgpack_sbuffer_destroy(&sb);
		return ans;
	}
	return gw_problem(q, 404, "NOT_FOUND",
			  "no such action (confirm, decline, complete, "
			  "no-show, cancel)",
			  NULL);
}

/* The quarters of a local day with their state, from the shared pages. */
static enum MHD_Result grid(struct gw_req *q, const char *id, const char *date)
{
	const char *tzq = qarg(q, "tz");
	char zone[65];
	const struct tz *z;
	bookd_reader *r = gw_reader();
	struct bookd_reader_day dy;
	int64_t d, s, e, cur_day = INT64_MIN;
	uint32_t idx;
	json_t *o, *arr;
	int rc;

	if (bookd_reader_date(date, &d) != 0)
		return gw_problem(q, 400, "BAD_REQUEST",
				  "date: not a date YYYY-MM-DD", "date");
	if (tzq)
		snprintf(zone, sizeof zone, "%s", tzq);
	else if (gw_resource_zone(id, zone) != 0)
		snprintf(zone, sizeof zone, "UTC");
	if (strlen(zone) > 64 || tz_get(zone, &z) != 0)
		return gw_problem(q, 400, "BAD_REQUEST",
				  "tz: not a known IANA time zone", "tz");
	if (r == NULL || bookd_reader_resource(r, id, &idx) != 0)
		return gw_problem(q, 404, "NOT_FOUND", "no such resource",
				  "resource");
	tz_local_day(z, d, &s, &e);
	o = json_object();
	arr = json_array();
	json_object_set_new(o, "resource", json_string(id));
	json_object_set_new(o, "date", json_string(date));
	json_object_set_new(o, "tz", json_string(zone));
	for (int64_t t = s; t < e; t += 900) {
		int64_t ud = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
		unsigned slot = (unsigned)((t - ud * 86400) / 900);
		const char *st;
		json_t *x;
		if (ud != cur_day) {
			rc = bookd_reader_day(r, idx, ud, &dy);
			if (rc != 0) {
				json_decref(o);
				json_decref(arr);
				return rc == BOOKD_E_OUT_OF_RANGE
					   ? gw_problem(q, 422, "OUT_OF_RANGE",
							"date: outside the "
							"window",
							"date")
					   : gw_problem(q, 503, "UNAVAILABLE",
							"the pages could not "
							"be read; retry",
							NULL);
			}
			cur_day = ud;
		}
		uint64_t bit = 1ull << (slot % 64);
		unsigned w = slot / 64;
		if (!dy.active)
			st = "inactive";
		else if (dy.booked[w] & bit)
			st = "booked";
		else if (dy.held[w] & bit)
			st = "held";
		else if (dy.open[w] & bit)
			st = "open";
		else
			st = "closed";
		x = json_object();
		gw_set_time(x, "start", t, zone);
		json_object_set_new(x, "state", json_string(st));
		if (dy.quantity > 1)
			json_object_set_new(x, "units_booked",
					    json_integer(dy.units[slot]));
		json_array_append_new(arr, x);
	}
	json_object_set_new(o, "quarters", arr);
	return gw_json(q, 200, o);
}

enum MHD_Result gw_admin(struct gw_req *q, const char *path)
{
	bool get = strcmp(q->method, "GET") == 0;
	char id[64];
	const char *rest, *slash;
	size_t n;

	if (!q->who.admin)
		return gw_problem(q, q->who.logged_in ? 403 : 401,
				  q->who.logged_in ? "FORBIDDEN"
						   : "UNAUTHENTICATED",
				  "the admin API needs a login with the admin "
				  "claim",
				  "Authorization");
	if (strcmp(path, "/bookings") == 0)
		return get ? list_bookings(q)
			   : gw_problem(q, 405, "BAD_REQUEST",
					"this method is not allowed here",
					NULL);
	if (strncmp(path, "/bookings/", 10) == 0)
		return booking_op(q, path + 10);
	if (strcmp(path, "/resources") == 0) {
		if (get) {
			msgpack_sbuffer sb;
			msgpack_packer pk;
			msgpack_sbuffer_init(&sb);
			msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
			msgpack_pack_map(&pk, 1);
			msgpack_pack_str_with_body(&pk, "active_only", 11);
			msgpack_pack_false(&pk);
			enum MHD_Result a = call(q, "resource.list", &sb, 200);
			msgpack_sbuffer_destroy(&sb);
			return a;
		}
		if (strcmp(q->method, "POST") == 0)
			return with_body(q, "resource.create", NULL, NULL, 201);
	}
	if (strcmp(path, "/event-types") == 0 && get)
		return call(q, "event_type.list", NULL, 200);
	if (strncmp(path, "/event-types/", 13) == 0 &&
	    strcmp(q->method, "PUT") == 0) {
		rest = path + 13;
		if (strlen(rest) == 0 || strlen(rest) > 63 || strchr(rest, '/'))
			return gw_problem(q, 404, "NOT_FOUND",
					  "no such event type", "id");
		return with_body(q, "event_type.put", "id", rest, 200);
	}
	if (strncmp(path, "/resources/", 11) == 0) {
		rest = path + 11;
		slash = strchr(rest, '/');
		n = slash ? (size_t)(slash - rest) : strlen(rest);
		if (n == 0 || n >= sizeof id)
			return gw_problem(q, 404, "NOT_FOUND",
					  "no such resource", "id");
		memcpy(id, rest, n);
		id[n] = 0;
		if (slash == NULL && strcmp(q->method, "PATCH") == 0)
			return with_body(q, "resource.update", "id", id, 200);
		if (slash && strcmp(slash, "/schedule") == 0) {
			if (strcmp(q->method, "PUT") == 0)
				return with_body(q, "schedule.put", "id", id,
						 200);
			if (get) {
				q->body_len = 0;
				return with_body(q, "schedule.get", "id", id,
						 200);
			}
		}
		if (slash && strncmp(slash, "/grid/", 6) == 0 && get)
			return grid(q, id, slash + 6);
		if (slash && strcmp(slash, "/calendar.ics") == 0)
			return gw_ical(q, id, n, true);
	}
	return gw_problem(q, 404, "NOT_FOUND", "no such admin route", NULL);
}

enum MHD_Result gw_health(struct gw_req *q)
{
	const msgpack_object *res, *eo;
	int rc;

	q->route = GW_ROUTE_HEALTH;
	rc = gw_call(NULL, "ping", NULL, &res, &eo);
	if (rc != 0)
		return gw_problem(q, 503, "UNAVAILABLE",
				  "the booking engine does not answer", NULL);
	return gw_json(q, 200,
		       json_pack("{s:s,s:s,s:b}", "status", "ok", "engine",
				 "up", "pages", gw_reader() != NULL));
}

static void stat_line(char **b, size_t *l, size_t *c, const char *key,
		      const msgpack_object *v)
{
	double x;

	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		x = (double)v->via.u64;
	else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		x = (double)v->via.i64;
	else if (v->type == MSGPACK_OBJECT_FLOAT32 ||
		 v->type == MSGPACK_OBJECT_FLOAT64)
		x = v->via.f64;
	else
		return;
	gw_buf_printf(b, l, c, "bookd_engine_%s %.17g\n", key, x);
}

enum MHD_Result gw_metrics(struct gw_req *q)
{
	const msgpack_object *res, *eo;
	char *b = NULL;
	size_t l = 0, c = 0;

	q->route = GW_ROUTE_METRICS;
	if (!q->who.loopback && !q->who.admin)
		return gw_problem(q, 403, "FORBIDDEN",
				  "metrics are for loopback callers and admins",
				  NULL);
	gw_buf_printf(&b, &l, &c,
		      "# HELP bookd_engine_up Whether the engine answered.\n"
		      "# TYPE bookd_engine_up gauge\n");
	if (gw_engine_admin && gw_call(NULL, "stats", NULL, &res, &eo) == 0 &&
	    res->type == MSGPACK_OBJECT_MAP) {
		gw_buf_printf(&b, &l, &c, "bookd_engine_up 1\n");
		for (uint32_t i = 0; i < res->via.map.size; i++) {
			const msgpack_object *k = &res->via.map.ptr[i].key;
			const msgpack_object *v = &res->via.map.ptr[i].val;
			char key[64];
			if (k->type != MSGPACK_OBJECT_STR ||
			    k->via.str.size >= sizeof key)
				continue;
			memcpy(key, k->via.str.ptr, k->via.str.size);
			key[k->via.str.size] = 0;
			for (char *p = key; *p; p++)
				if (!isalnum((unsigned char)*p))
					*p = '_';
			if (v->type == MSGPACK_OBJECT_MAP) {
				for (uint32_t j = 0; j < v->via.map.size; j++) {
					const msgpack_object *k2 =
					    &v->via.map.ptr[j].key;
					const msgpack_object *v2 =
					    &v->via.map.ptr[j].val;
					if (k2->type != MSGPACK_OBJECT_STR ||
					    k2->via.str.size > 32 ||
					    v2->type !=
						MSGPACK_OBJECT_POSITIVE_INTEGER)
						continue;
					gw_buf_printf(
					    &b, &l, &c,
					    "bookd_engine_%s{status=\"%.*s\"} "
					    "%" PRIu64 "\n",
					    key, (int)k2->via.str.size,
					    k2->via.str.ptr, v2->via.u64);
				}
				continue;
			}
			stat_line(&b, &l, &c, key, v);
		}
	} else {
		gw_buf_printf(&b, &l, &c, "bookd_engine_up %d\n",
			      gw_call(NULL, "ping", NULL, &res, &eo) == 0);
	}
	gw_metrics_text(&b, &l, &c);
	if (b == NULL)
		return gw_problem(q, 500, "INTERNAL", "out of memory", NULL);
	return gw_send(q, 200, b, l, "text/plain; version=0.0.4");
}

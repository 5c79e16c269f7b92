/*
 * api.c - the public HTTP API of bookd-http (/v1/...; the admin API is
 * admin.c).
 *
 * Owns: the routes a booking page uses, their argument checks, and the
 * shape of their JSON.  Every instant leaves as an ISO 8601 string with its
 * offset (in the view's zone, or the booking's own) and as Unix seconds
 * (key "x" and "x_unix"); every list is chronological.
 *
 * Reads of availability (month, day) are answered from the shared pages
 * when they can be: no event type, and for the day view no hold on the day
 * (the pages cannot tell the visitor's own hold from another's, so a day
 * with holds asks the engine, which marks the visitor's own as "mine").
 * The engine is asked too when the reader says stale.  Everything else is
 * one engine call, made as the visitor ("as") with the visitor's id as the
 * hold session and as the scope of idempotency keys.
 *
 * How it fails: a bad argument is 400 naming it; engine errors map through
 * gw_engine_problem(); nothing here keeps state between requests.
 */
#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gw.h"
#include "tz.h"

#define ME_PAGES     3
#define ME_PAGE_SIZE 1000
#define ME_DAYS_BACK 30

struct pk {
	msgpack_sbuffer sb;
	msgpack_packer p;
};

static void pk_init(struct pk *k, uint32_t n)
{
	msgpack_sbuffer_init(&k->sb);
	msgpack_packer_init(&k->p, &k->sb, msgpack_sbuffer_write);
	msgpack_pack_map(&k->p, n);
}

static void pk_key(struct pk *k, const char *key)
{
	msgpack_pack_str_with_body(&k->p, key, strlen(key));
}

static void pk_str(struct pk *k, const char *key, const char *v)
{
	pk_key(k, key);
	msgpack_pack_str_with_body(&k->p, v, strlen(v));
}

static void pk_int(struct pk *k, const char *key, int64_t v)
{
	pk_key(k, key);
	msgpack_pack_int64(&k->p, v);
}

static const char *arg(struct gw_req *q, const char *name)
{
	const char *v =
	    MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
	return v && *v ? v : NULL;
}

static bool slug_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) ||
		      isdigit((unsigned char)s[i]) ||
		      (i > 0 && (s[i] == '.' || s[i] == '_' || s[i] == '-'))))
			return false;
	return true;
}

/* Minutes: 1 to 44640; 0 when absent; -1 when bad. */
static long minutes(const char *v)
{
	char *end;
	long n;

	if (v == NULL)
		return 0;
	n = strtol(v, &end, 10);
	if (*end || end == v || n < 1 || n > 44640)
		return -1;
	return n;
}

static enum MHD_Result bad(struct gw_req *q, const char *field,
			   const char *detail)
{
	return gw_problem(q, 400, "BAD_REQUEST", detail, field);
}

static enum MHD_Result not_found(struct gw_req *q)
{
	return gw_problem(q, 404, "NOT_FOUND", "no such page", NULL);
}

static enum MHD_Result method_not_allowed(struct gw_req *q)
{
	return gw_problem(q, 405, "BAD_REQUEST",
			  "this method is not allowed here", NULL);
}

/* The request body as a JSON object (absent body: an empty object). */
static json_t *body_object(struct gw_req *q, enum MHD_Result *ans)
{
	json_error_t e;
	json_t *o;
	char d[200];

	if (q->body_len == 0)
		return json_object();
	o = json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, &e);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		snprintf(d, sizeof d, "body: not a JSON object%s%s",
			 o ? "" : ": ", o ? "" : e.text);
		*ans = bad(q, "body", d);
		return NULL;
	}
	return o;
}

/* The zone of the answer: ?tz= when given and known, else the resource's. */
static int view_zone(struct gw_req *q, const char *id, char zone[65],
		     enum MHD_Result *ans)
{
	const char *tz = arg(q, "tz");
	const struct tz *z;
	int rc;

	if (tz) {
		if (strlen(tz) > 64 || !tz_name_valid(tz) ||
		    tz_get(tz, &z) != 0) {
			*ans = bad(q, "tz", "tz: not a known IANA time zone");
			return -1;
		}
		snprintf(zone, 65, "%s", tz);
		return 0;
	}
	rc = gw_resource_zone(id, zone);
	if (rc != 0) {
		*ans = rc == BOOKD_E_NOT_FOUND
			   ? gw_problem(q, 404, "NOT_FOUND", "no such resource",
					"resource")
			   : gw_engine_problem(q, rc, NULL, true);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Lists. */

static enum MHD_Result list(struct gw_req *q, const char *op, const char *key)
{
	const msgpack_object *res, *eo;
	json_t *o;
	int rc;

	rc = gw_call(q->who.visitor, op, NULL, &res, &eo);
	if (rc != 0)
		return gw_engine_problem(q, rc, eo, true);
	o = json_object();
	json_object_set_new(o, key, gw_to_json(res, NULL));
	return gw_json(q, 200, o);
}

/* ---------------------------------------------------------------------- */
/* Month and day views. */

/*
 * What a day view needs of an event type, cached per thread for
 * ET_TTL_NS (an edit shows within that time).
 */
#define ET_CACHE   16
#define ET_TTL_NS  (2 * 1000000000LL)
#define ET_MAX_RES 64
struct et_info {
	char id[64];
	int64_t at_ns;
	bool found;
	uint32_t lengths[16];
	size_t nlen;
	int64_t slot_interval, buffer_before, buffer_after; /* minutes */
	int64_t min_notice, max_future; /* minutes, 0: none */
	char resources[ET_MAX_RES][64];
	size_t nres;
};
static _Thread_local struct et_info *et_cache;
static _Thread_local unsigned et_next;
static pthread_key_t et_key; /* frees a thread's cache when it ends */
static pthread_once_t et_once = PTHREAD_ONCE_INIT;

static void et_key_make(void)
{
	(void)pthread_key_create(&et_key, free);
}

static int64_t u_of(const msgpack_object *o)
{
	return o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER
		   ? (int64_t)o->via.u64
		   : 0;
}

/* The event type as the engine shows it to visitors; NULL when it cannot
 * be had (the engine answers then). */
static const struct et_info *event_type(struct gw_req *q, const char *id)
{
	const msgpack_object *res, *eo, *a;
	int64_t now = gw_now_ns();
	struct et_info *e = NULL;
	struct pk k;
	int rc;

	if (et_cache == NULL) {
		pthread_once(&et_once, et_key_make);
		if ((et_cache = calloc(ET_CACHE, sizeof *et_cache)) == NULL)
			return NULL;
		pthread_setspecific(et_key, et_cache);
	}
	for (unsigned i = 0; i < ET_CACHE; i++)
		if (strcmp(et_cache[i].id, id) == 0)
			e = &et_cache[i];
	if (e && now - e->at_ns < ET_TTL_NS)
		return e->found ? e : NULL;
	if (e == NULL)
		e = &et_cache[et_next++ % ET_CACHE];
	memset(e, 0, sizeof *e);
	pk_init(&k, 1);
	pk_str(&k, "id", id);
	rc = gw_call(q->who.visitor, "event_type.get", &k.sb, &res, &eo);
	msgpack_sbuffer_destroy(&k.sb);
	if (rc != 0 && rc != BOOKD_E_NOT_FOUND)
		return NULL;
	snprintf(e->id, sizeof e->id, "%s", id);
	e->at_ns = now;
	if (rc != 0)
		return NULL;
	a = gw_get(res, "lengths");
	for (uint32_t i = 0; a && a->type == MSGPACK_OBJECT_ARRAY &&
			     i < a->via.array.size && e->nlen < 16;
	     i++)
		e->lengths[e->nlen++] = (uint32_t)u_of(&a->via.array.ptr[i]);
	a = gw_get(res, "resources");
	for (uint32_t i = 0; a && a->type == MSGPACK_OBJECT_ARRAY &&
			     i < a->via.array.size && e->nres < ET_MAX_RES;
	     i++) {
		const msgpack_object *r = &a->via.array.ptr[i];
		if (r->type == MSGPACK_OBJECT_STR && r->via.str.size < 64) {
			memcpy(e->resources[e->nres], r->via.str.ptr,
			       r->via.str.size);
			e->resources[e->nres++][r->via.str.size] = 0;
		}
	}
	e->slot_interval = u_of(gw_get(res, "slot_interval"));
	e->buffer_before = u_of(gw_get(res, "buffer_before"));
	e->buffer_after = u_of(gw_get(res, "buffer_after"));
	e->min_notice = u_of(gw_get(res, "min_notice"));
	e->max_future = u_of(gw_get(res, "max_future"));
	e->found = e->nlen > 0;
	return e->found ? e : NULL;
}

struct view_args {
	char id[64];
	char zone[65];
	const char *event_type;
	const struct et_info *et; /* when the pages can apply its rules */
	long duration, interval;
};

static int view_args(struct gw_req *q, const char *id, size_t idlen,
		     struct view_args *v, enum MHD_Result *ans)
{
	memset(v, 0, sizeof *v);
	if (!slug_ok(id, idlen)) {
		*ans = gw_problem(q, 404, "NOT_FOUND", "no such resource",
				  "resource");
		return -1;
	}
	memcpy(v->id, id, idlen);
	v->event_type = arg(q, "event_type");
	v->duration = minutes(arg(q, "duration"));
	v->interval = minutes(arg(q, "interval"));
	if (v->duration < 0 || (v->duration && v->duration % 15)) {
		*ans = bad(q, "duration",
			   "duration: minutes, a multiple of 15 up to 44640");
		return -1;
	}
	if (v->interval < 0 || (v->interval && v->interval % 15)) {
		*ans = bad(q, "interval",
			   "interval: minutes, a multiple of 15 up to 44640");
		return -1;
	}
	if (v->event_type && !slug_ok(v->event_type, strlen(v->event_type))) {
		*ans = gw_problem(q, 404, "NOT_FOUND", "no such event type",
				  "event_type");
		return -1;
	}
	if (v->duration == 0 && v->event_type == NULL) {
		*ans = bad(q, "duration",
			   "duration: required (minutes), or give event_type");
		return -1;
	}
	if (v->event_type) {
		const struct et_info *e = event_type(q, v->event_type);
		bool linked = false, length = false;
		if (e && v->duration == 0)
			v->duration = e->lengths[0];
		for (size_t i = 0; e && i < e->nres; i++)
			linked |= strcmp(e->resources[i], v->id) == 0;
		for (size_t i = 0; e && i < e->nlen; i++)
			length |= e->lengths[i] == (uint32_t)v->duration;
		/* Anything the pages cannot settle (unknown type, a length or
		 * resource it does not offer) goes to the engine, which says
		 * what is wrong in its own words. */
		if (e && linked && length) {
			v->et = e;
			/* As the engine: the type's slot_interval, else its
			 * shortest length. */
			if (v->interval == 0 && e->slot_interval)
				v->interval = e->slot_interval;
			else if (v->interval == 0)
				for (size_t i = 0; i < e->nlen; i++)
					if (v->interval == 0 ||
					    e->lengths[i] < v->interval)
						v->interval = e->lengths[i];
		}
		if (v->duration == 0)
			v->duration = 15;
	}
	return view_zone(q, v->id, v->zone, ans);
}

/* The pages' index of an active resource; -1 when the pages cannot say. */
static int reader_index(bookd_reader *r, const char *id, uint32_t *idx,
			int *err)
{
	struct bookd_reader_resource info;

	*err = bookd_reader_resource(r, id, idx);
	if (*err == 0)
		*err = bookd_reader_resource_info(r, *idx, &info);
	if (*err == 0 && !info.active)
		*err = BOOKD_E_NOT_FOUND;
	return *err == 0 ? 0 : -1;
}

static void pack_view(struct pk *k, const struct view_args *v,
		      const char *date_key, const char *date)
{
	pk_str(k, "resource", v->id);
	pk_str(k, date_key, date);
	pk_str(k, "tz", v->zone);
	if (v->duration) {
		pk_int(k, "duration", v->duration);
	}
	if (v->interval)
		pk_int(k, "interval", v->interval);
	if (v->event_type)
		pk_str(k, "event_type", v->event_type);
}

static uint32_t view_nargs(const struct view_args *v)
{
	return 3 + (v->duration != 0) + (v->interval != 0) +
	       (v->event_type != NULL);
}

static int event_type_rules(bookd_reader *r, uint32_t idx,
			    const struct et_info *e, long duration,
			    struct bookd_reader_view_slot *out, size_t *n);

/* A month with an event type: each day's starts with the type's rules. */
static int month_with_type(bookd_reader *r, uint32_t idx,
			   const struct view_args *v, int64_t f, int64_t t,
			   uint8_t *avail)
{
	struct bookd_reader_view_slot out[BOOKD_READER_MAX_STARTS];
	size_t n;
	int rc;

	for (int64_t d = f; d <= t; d++) {
		rc = bookd_reader_slots_view_tz(r, idx, d, v->zone,
						(uint32_t)v->duration,
						(uint32_t)v->interval, out, &n);
		if (rc == BOOKD_E_OUT_OF_RANGE) {
			avail[d - f] = 0;
			continue;
		}
		if (rc == 0)
			rc = event_type_rules(r, idx, v->et, v->duration, out,
					      &n);
		if (rc != 0)
			return rc;
		avail[d - f] = n > 0;
	}
	return 0;
}

static enum MHD_Result month(struct gw_req *q, const char *id, size_t idlen)
{
	const char *from = arg(q, "from"), *to = arg(q, "to");
	uint8_t avail[BOOKD_READER_MONTH_MAX];
	const msgpack_object *res, *eo;
	struct view_args v;
	enum MHD_Result ans;
	int64_t f, t;
	json_t *o, *days;
	const char *src = "pages";
	bookd_reader *r;
	uint32_t idx;
	int rc = BOOKD_E_STALE;

	q->route = GW_ROUTE_MONTH;
	if (view_args(q, id, idlen, &v, &ans) != 0)
		return ans;
	if (from == NULL || bookd_reader_date(from, &f) != 0)
		return bad(q, "from", "from: required, a date YYYY-MM-DD");
	if (to == NULL || bookd_reader_date(to, &t) != 0)
		return bad(q, "to", "to: required, a date YYYY-MM-DD");
	if (t < f || t - f >= BOOKD_READER_MONTH_MAX)
		return bad(q, "to", "to: on or after from, at most 366 days");
	if ((v.event_type == NULL || v.et) && !gw_cfg.reads_engine &&
	    (r = gw_reader()) != NULL && reader_index(r, v.id, &idx, &rc) == 0)
		rc = v.et ? month_with_type(r, idx, &v, f, t, avail)
			  : bookd_reader_slots_month(
				r, idx, f, t, v.zone, (uint32_t)v.duration,
				(uint32_t)v.interval, avail);
	if (rc == BOOKD_E_BAD_REQUEST)
		return bad(q, "duration", "duration/interval: not valid here");
	o = json_object();
	days = json_array();
	json_object_set_new(o, "resource", json_string(v.id));
	json_object_set_new(o, "from", json_string(from));
	json_object_set_new(o, "to", json_string(to));
	json_object_set_new(o, "tz", json_string(v.zone));
	if (rc == 0) {
		for (int64_t d = f; d <= t; d++) {
			char ds[16];
			time_t tt = (time_t)(d * 86400);
			struct tm tm;
			gmtime_r(&tt, &tm);
			strftime(ds, sizeof ds, "%Y-%m-%d", &tm);
			json_array_append_new(
			    days, json_pack("{s:s,s:b}", "date", ds,
					    "available", avail[d - f] != 0));
		}
	} else {
		struct pk k;
		src = "engine";
		pk_init(&k, view_nargs(&v) + 1);
		pack_view(&k, &v, "from", from);
		pk_str(&k, "to", to);
		rc = gw_call(q->who.visitor, "slots.month", &k.sb, &res, &eo);
		msgpack_sbuffer_destroy(&k.sb);
		if (rc != 0) {
			json_decref(o);
			json_decref(days);
			return gw_engine_problem(q, rc, eo, true);
		}
		/* The engine's map, in date order (its keys are dates). */
		for (int64_t d = f; d <= t && res->type == MSGPACK_OBJECT_MAP;
		     d++) {
			char ds[16];
			time_t tt = (time_t)(d * 86400);
			struct tm tm;
			const msgpack_object *b;
			gmtime_r(&tt, &tm);
			strftime(ds, sizeof ds, "%Y-%m-%d", &tm);
			b = gw_get(res, ds);
			json_array_append_new(
			    days,
			    json_pack("{s:s,s:b}", "date", ds, "available",
				      b && b->type == MSGPACK_OBJECT_BOOLEAN &&
					  b->via.boolean));
		}
	}
	json_object_set_new(o, "days", days);
	json_object_set_new(o, "source", json_string(src));
	return gw_json(q, 200, o);
}

struct vslot {
	int64_t start;
	const char *state;
};

static char *put(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static char *put_i64(char *p, int64_t v)
{
	char tmp[24];
	int n = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	if (v < 0)
		*p++ = '-';
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* The day view's JSON, formatted by hand into one buffer sized for the
 * worst case (the ids and zone are bounded slugs and zone names; every
 * slot takes under 160 bytes). */
static enum MHD_Result day_answer(struct gw_req *q, const struct view_args *v,
				  const char *date, int64_t dur_s,
				  const struct vslot *s, size_t n,
				  const char *src)
{
	const struct tz *z = NULL;
	char iso[40], *buf, *p;

	if (tz_get(v->zone, &z) != 0)
		z = NULL;
	buf = malloc(512 + n * 160);
	if (buf == NULL)
		return gw_problem(q, 500, "INTERNAL", "out of memory", NULL);
	p = put(buf, "{\"resource\":\"");
	p = put(p, v->id);
	p = put(p, "\",\"date\":\"");
	p = put(p, date);
	p = put(p, "\",\"tz\":\"");
	p = put(p, v->zone);
	p = put(p, "\",\"duration\":");
	p = put_i64(p, dur_s / 60);
	p = put(p, ",\"source\":\"");
	p = put(p, src);
	p = put(p, "\",\"slots\":[");
	/* One offset for the whole answer unless it changes within it (a
	 * DST day): then each instant looks up its own. */
	bool one = n == 0 || z == NULL ||
		   tz_offset_at(z, s[0].start) ==
		       tz_offset_at(z, s[n - 1].start + dur_s);
	int64_t off = n && z ? tz_offset_at(z, s[0].start) : 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		if (one)
			gw_iso_off(s[i].start, off, iso);
		else
			gw_iso_z(s[i].start, z, iso);
		p = put(p, "{\"start\":\"");
		p = put(p, iso);
		p = put(p, "\",\"start_unix\":");
		p = put_i64(p, s[i].start);
		if (one)
			gw_iso_off(s[i].start + dur_s, off, iso);
		else
			gw_iso_z(s[i].start + dur_s, z, iso);
		p = put(p, ",\"end\":\"");
		p = put(p, iso);
		p = put(p, "\",\"end_unix\":");
		p = put_i64(p, s[i].start + dur_s);
		p = put(p, ",\"state\":\"");
		p = put(p, s[i].state);
		p = put(p, "\"}");
	}
	p = put(p, "]}");
	return gw_send(q, 200, buf, (size_t)(p - buf), NULL);
}

struct day_ctx {
	struct gw_req *q;
	int64_t dur_s;
	int64_t mine_s[64], mine_e[64];
	size_t nmine;
	struct vslot *s;
	size_t n;
	bool answered;
	enum MHD_Result ans;
};

static void day_take(size_t i, int rc, const msgpack_object *res,
		     const msgpack_object *eo, void *arg)
{
	struct day_ctx *d = arg;

	if (d->answered)
		return;
	if (rc != 0) {
		d->ans = gw_engine_problem(d->q, rc, eo, true);
		d->answered = true;
		return;
	}
	if (i == 0) {
		/* holds.day: the visitor's own holds, to mark them "mine". */
		for (uint32_t j = 0; res->type == MSGPACK_OBJECT_ARRAY &&
				     j < res->via.array.size && d->nmine < 64;
		     j++) {
			const msgpack_object *h = &res->via.array.ptr[j];
			const msgpack_object *m = gw_get(h, "mine"),
					     *hs = gw_get(h, "start"),
					     *he = gw_get(h, "end");
			if (m && m->type == MSGPACK_OBJECT_BOOLEAN &&
			    m->via.boolean && hs && he) {
				d->mine_s[d->nmine] = hs->via.i64;
				d->mine_e[d->nmine++] = he->via.i64;
			}
		}
		return;
	}
	/* slots.view */
	if (res->type == MSGPACK_OBJECT_ARRAY && res->via.array.size)
		d->s = calloc(res->via.array.size, sizeof *d->s);
	for (uint32_t j = 0; d->s && j < res->via.array.size; j++) {
		const msgpack_object *x = &res->via.array.ptr[j];
		const msgpack_object *st = gw_get(x, "start"),
				     *state = gw_get(x, "state");
		struct vslot *o = &d->s[d->n];
		if (st == NULL || state == NULL ||
		    state->type != MSGPACK_OBJECT_STR)
			continue;
		o->start = st->via.i64;
		o->state = state->via.str.size == 8 ? "reserved" : "available";
		for (size_t k = 0; k < d->nmine && o->state[0] == 'a'; k++)
			if (o->start < d->mine_e[k] &&
			    o->start + d->dur_s > d->mine_s[k])
				o->state = "mine";
		d->n++;
	}
}

/* The day view from the engine: holds.day and slots.view, pipelined. */
static enum MHD_Result day_engine(struct gw_req *q, const struct view_args *v,
				  const char *date)
{
	static const char *const ops[2] = {"holds.day", "slots.view"};
	struct day_ctx d = {.q = q, .dur_s = v->duration * 60};
	q->route = GW_ROUTE_DAY_ENGINE;
	const msgpack_sbuffer *args[2];
	struct pk h, k;
	int rc;

	pk_init(&h, 4);
	pk_str(&h, "resource", v->id);
	pk_str(&h, "date", date);
	pk_str(&h, "tz", v->zone);
	pk_str(&h, "session", q->who.visitor);
	pk_init(&k, view_nargs(v) + 1);
	pack_view(&k, v, "date", date);
	pk_str(&k, "session", q->who.visitor);
	args[0] = &h.sb;
	args[1] = &k.sb;
	rc = gw_call_n(q->who.visitor, 2, ops, args, day_take, &d);
	msgpack_sbuffer_destroy(&h.sb);
	msgpack_sbuffer_destroy(&k.sb);
	if (!d.answered)
		d.ans = rc != 0 ? gw_engine_problem(q, rc, NULL, true)
				: day_answer(q, v, date, d.dur_s, d.s, d.n,
					     "engine");
	free(d.s);
	return d.ans;
}

/*
 * An event type's rules over the starts the pages listed, as slots.day
 * applies them: now + min_notice <= start <= now + max_future, and the
 * buffers before and after the span free of bookings (they need not be
 * open).  The buffers are read after the starts, not in the same cut: a
 * booking landing in between shows on the next read.  0, or
 * BOOKD_E_STALE when a buffer cannot be read (the engine answers then).
 */
static int event_type_rules(bookd_reader *r, uint32_t idx,
			    const struct et_info *e, long duration,
			    struct bookd_reader_view_slot *out, size_t *n)
{
	struct timespec ts;
	int64_t now, dur = duration * 60;
	size_t j = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = ts.tv_sec;
	for (size_t i = 0; i < *n; i++) {
		int64_t st = out[i].start;
		uint32_t units;
		if (st < now + e->min_notice * 60)
			continue;
		if (e->max_future && st > now + e->max_future * 60)
			continue;
		if (e->buffer_before) {
			if (bookd_reader_free_units(r, idx,
						    st - e->buffer_before * 60,
						    st, &units) != 0)
				return BOOKD_E_STALE;
			if (units == 0)
				continue;
		}
		if (e->buffer_after) {
			if (bookd_reader_free_units(
				r, idx, st + dur,
				st + dur + e->buffer_after * 60, &units) != 0)
				return BOOKD_E_STALE;
			if (units == 0)
				continue;
		}
		out[j++] = out[i];
	}
	*n = j;
	return 0;
}

static enum MHD_Result day(struct gw_req *q, const char *id, size_t idlen,
			   const char *date)
{
	struct bookd_reader_view_slot out[BOOKD_READER_MAX_STARTS];
	struct vslot s[BOOKD_READER_MAX_STARTS];
	struct view_args v;
	enum MHD_Result ans;
	bookd_reader *r;
	size_t n = 0;
	int64_t d;
	uint32_t idx;
	int rc = BOOKD_E_STALE;

	q->route = GW_ROUTE_DAY;
	if (strcmp(q->method, "GET") != 0)
		return method_not_allowed(q);
	if (view_args(q, id, idlen, &v, &ans) != 0)
		return ans;
	if (bookd_reader_date(date, &d) != 0)
		return bad(q, "date", "date: not a date YYYY-MM-DD");
	if ((v.event_type == NULL || v.et) && !gw_cfg.reads_engine &&
	    (r = gw_reader()) != NULL &&
	    reader_index(r, v.id, &idx, &rc) == 0) {
		rc = bookd_reader_slots_view_tz(r, idx, d, v.zone,
						(uint32_t)v.duration,
						(uint32_t)v.interval, out, &n);
		if (rc == 0 && v.et)
			rc =
			    event_type_rules(r, idx, v.et, v.duration, out, &n);
	}
	if (rc == BOOKD_E_BAD_REQUEST)
		return bad(q, "duration", "duration/interval: not valid here");
	if (rc == BOOKD_E_OUT_OF_RANGE)
		return gw_problem(q, 422, "OUT_OF_RANGE",
				  "date: outside the bookable window", "date");
	if (rc == 0) {
		for (size_t i = 0; i < n; i++) {
			if (out[i].reserved)
				/* Held: whose?  Only the engine knows. */
				return day_engine(q, &v, date);
			s[i].start = out[i].start;
			s[i].state = "available";
		}
		return day_answer(q, &v, date, v.duration * 60, s, n, "pages");
	}
	return day_engine(q, &v, date);
}

/* ---------------------------------------------------------------------- */
/* Holds. */

static enum MHD_Result hold(struct gw_req *q, const char *id)
{
	const msgpack_object *res, *eo, *x;
	enum MHD_Result ans;
	char zone[65] = "UTC";
	int64_t start, end;
	json_t *b, *o;
	struct pk k;
	int rc;

	q->route = GW_ROUTE_HOLD;
	if (!slug_ok(id, strlen(id)))
		return gw_problem(q, 404, "NOT_FOUND", "no such resource",
				  "resource");
	if (strcmp(q->method, "DELETE") == 0) {
		pk_init(&k, 2);
		pk_str(&k, "resource", id);
		pk_str(&k, "session", q->who.visitor);
		rc = gw_call(q->who.visitor, "release", &k.sb, &res, &eo);
		msgpack_sbuffer_destroy(&k.sb);
		if (rc != 0)
			return gw_engine_problem(q, rc, eo, true);
		x = gw_get(res, "released");
		return gw_json(
		    q, 200,
		    json_pack("{s:s,s:b}", "resource", id, "released",
			      x && x->type == MSGPACK_OBJECT_BOOLEAN &&
				  x->via.boolean));
	}
	if (strcmp(q->method, "PUT") != 0)
		return method_not_allowed(q);
	if ((b = body_object(q, &ans)) == NULL)
		return ans;
	if (gw_parse_instant(json_object_get(b, "start"), &start) != 0) {
		json_decref(b);
		return bad(q, "start",
			   "start: required, Unix seconds or an ISO "
			   "8601 time with offset");
	}
	if (gw_parse_instant(json_object_get(b, "end"), &end) != 0) {
		json_decref(b);
		return bad(q, "end",
			   "end: required, Unix seconds or an ISO "
			   "8601 time with offset");
	}
	json_decref(b);
	pk_init(&k, 4);
	pk_str(&k, "resource", id);
	pk_int(&k, "start", start);
	pk_int(&k, "end", end);
	pk_str(&k, "session", q->who.visitor);
	rc = gw_call(q->who.visitor, "hold", &k.sb, &res, &eo);
	msgpack_sbuffer_destroy(&k.sb);
	if (rc != 0)
		return gw_engine_problem(q, rc, eo, true);
	x = gw_get(res, "expires_at_ms");
	int64_t exp = x ? x->via.i64 : 0;
	(void)gw_resource_zone(id, zone);
	o = json_object();
	json_object_set_new(o, "resource", json_string(id));
	gw_set_time(o, "start", start, zone);
	gw_set_time(o, "end", end, zone);
	gw_set_time(o, "expires_at", exp / 1000, zone);
	json_object_set_new(o, "expires_at_ms", json_integer(exp));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	json_object_set_new(o, "ttl_ms",
			    json_integer(exp - ((int64_t)ts.tv_sec * 1000 +
						ts.tv_nsec / 1000000)));
	return gw_json(q, 200, o);
}

/* ---------------------------------------------------------------------- */
/* Bookings. */

/* The booking tree j (converted with UTC) in its own zone, else its first
 * resource's.  Asks the engine: convert before calling this. */
static json_t *booking_zone(json_t *j)
{
	json_t *rs = json_object_get(j, "resources");
	char zone[65];

	if (json_is_array(rs) && json_is_string(json_array_get(rs, 0)) &&
	    gw_resource_zone(json_string_value(json_array_get(rs, 0)), zone) ==
		0)
		gw_rezone(j, zone);
	return j;
}

static json_t *booking_json(const msgpack_object *b)
{
	return booking_zone(gw_to_json(b, NULL));
}

static bool key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (k[i] <= ' ' || k[i] > '~')
			return false;
	return true;
}

static int opt_str(json_t *b, const char *name, const char **out,
		   const char **bad_field)
{
	json_t *v = json_object_get(b, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		*bad_field = name;
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static enum MHD_Result book(struct gw_req *q)
{
	const char *name, *email, *phone, *notes, *tzn, *et, *res_id,
	    *bf = NULL;
	const char *key = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND,
						      "Idempotency-Key");
	const msgpack_object *res, *eo;
	json_t *b, *resources;
	enum MHD_Result ans;
	int64_t start, end;
	char scoped[GW_VISITOR_MAX + 70], d[128];
	struct pk k;
	uint32_t n;
	int rc;

	q->route = GW_ROUTE_BOOK;
	if (strcmp(q->method, "POST") != 0)
		return method_not_allowed(q);
	if (gw_cfg.require_login && !q->who.logged_in)
		return gw_problem(q, 401, "UNAUTHENTICATED",
				  "log in to book (browsing and holding "
				  "need no login)",
				  "Authorization");
	if (key && !key_ok(key))
		return bad(q, "Idempotency-Key",
			   "Idempotency-Key: 1 to 64 printable characters, "
			   "no spaces");
	if ((b = body_object(q, &ans)) == NULL)
		return ans;
	if (opt_str(b, "name", &name, &bf) ||
	    opt_str(b, "email", &email, &bf) ||
	    opt_str(b, "phone", &phone, &bf) ||
	    opt_str(b, "notes", &notes, &bf) ||
	    opt_str(b, "timezone", &tzn, &bf) ||
	    opt_str(b, "event_type", &et, &bf) ||
	    opt_str(b, "resource", &res_id, &bf)) {
		snprintf(d, sizeof d, "%s: must be a string", bf);
		json_decref(b);
		return bad(q, bf, d);
	}
	resources = json_object_get(b, "resources");
	if ((res_id == NULL) == (resources == NULL) ||
	    (resources && !json_is_array(resources))) {
		json_decref(b);
		return bad(q, "resource",
			   "resource: give one resource, or resources as a "
			   "list");
	}
	if (gw_parse_instant(json_object_get(b, "start"), &start) != 0 ||
	    gw_parse_instant(json_object_get(b, "end"), &end) != 0) {
		json_decref(b);
		return bad(q, "start",
			   "start, end: required, Unix seconds or "
			   "ISO 8601 times with offset");
	}
	/* A logged-in booker's email is the login's, whatever the form
	 * says. */
	if (q->who.logged_in) {
		if (q->who.email[0] == 0) {
			json_decref(b);
			return gw_problem(q, 403, "FORBIDDEN",
					  "your login carries no email; the "
					  "booking needs one",
					  "email");
		}
		email = q->who.email;
	}
	if (name == NULL || email == NULL) {
		json_decref(b);
		return bad(q, name ? "email" : "name",
			   name ? "email: required" : "name: required");
	}
	n = 5 + (tzn != NULL) + (et != NULL) + (key != NULL);
	pk_init(&k, n);
	if (res_id) {
		pk_str(&k, "resource", res_id);
	} else {
		pk_key(&k, "resources");
		gw_pack_json(&k.p, resources);
	}
	pk_int(&k, "start", start);
	pk_int(&k, "end", end);
	pk_key(&k, "booker");
	msgpack_pack_map(&k.p, 2 + (phone != NULL) + (notes != NULL));
	pk_str(&k, "name", name);
	pk_str(&k, "email", email);
	if (phone)
		pk_str(&k, "phone", phone);
	if (notes)
		pk_str(&k, "notes", notes);
	pk_str(&k, "session", q->who.visitor);
	if (tzn)
		pk_str(&k, "timezone", tzn);
	if (et)
		pk_str(&k, "event_type", et);
	if (key) {
		/* Keys are the visitor's own, also on an engine that does
		 * not scope them. */
		snprintf(scoped, sizeof scoped, "%s:%s", q->who.visitor, key);
		pk_str(&k, "key", scoped);
	}
	json_decref(b);
	rc = gw_call(q->who.visitor, "book", &k.sb, &res, &eo);
	msgpack_sbuffer_destroy(&k.sb);
	if (rc != 0)
		return gw_engine_problem(q, rc, eo, true);
	return gw_json(q, 201, booking_json(res));
}

static bool ref_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static enum MHD_Result booking(struct gw_req *q, const char *rest)
{
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	const msgpack_object *res, *eo;
	enum MHD_Result ans;
	char ref[65];
	const char *op;
	json_t *b = NULL;
	struct pk k;
	int rc;

	q->route = GW_ROUTE_BOOKING;
	if (!ref_ok(rest, n))
		return gw_problem(q, 404, "NOT_FOUND", "no such booking",
				  "ref");
	memcpy(ref, rest, n);
	ref[n] = 0;
	if (slash == NULL) {
		if (strcmp(q->method, "GET") != 0)
			return method_not_allowed(q);
		pk_init(&k, 1);
		pk_str(&k, "ref", ref);
		op = "booking.get";
	} else if (strcmp(slash, "/cancel") == 0 ||
		   strcmp(slash, "/reschedule") == 0) {
		const char *reason = NULL, *bf = NULL;
		int64_t s, e;
		if (strcmp(q->method, "POST") != 0)
			return method_not_allowed(q);
		if ((b = body_object(q, &ans)) == NULL)
			return ans;
		if (slash[1] == 'c') {
			if (opt_str(b, "reason", &reason, &bf)) {
				json_decref(b);
				return bad(q, "reason",
					   "reason: must be a string");
			}
			pk_init(&k, 1 + (reason != NULL));
			pk_str(&k, "ref", ref);
			if (reason)
				pk_str(&k, "reason", reason);
			op = "booking.cancel";
		} else {
			if (gw_parse_instant(json_object_get(b, "start"), &s) ||
			    gw_parse_instant(json_object_get(b, "end"), &e)) {
				json_decref(b);
				return bad(q, "start",
					   "start, end: required, Unix seconds "
					   "or ISO 8601 times with offset");
			}
			pk_init(&k, 4);
			pk_str(&k, "ref", ref);
			pk_int(&k, "start", s);
			pk_int(&k, "end", e);
			pk_str(&k, "session", q->who.visitor);
			op = "booking.reschedule";
		}
	} else {
		return not_found(q);
	}
	rc = gw_call(q->who.visitor, op, &k.sb, &res, &eo);
	msgpack_sbuffer_destroy(&k.sb);
	json_decref(b);
	if (rc != 0)
		return gw_engine_problem(q, rc, eo, true);
	return gw_json(q, 200, booking_json(res));
}

/* ---------------------------------------------------------------------- */
/* A logged-in booker's own bookings. */

static int by_start(const void *a, const void *b)
{
	json_int_t x = json_integer_value(
	    json_object_get(*(json_t *const *)a, "start_unix"));
	json_int_t y = json_integer_value(
	    json_object_get(*(json_t *const *)b, "start_unix"));
	return x < y ? -1 : x > y;
}

static enum MHD_Result me(struct gw_req *q)
{
	const msgpack_object *res, *eo, *list, *next, *email;
	json_t **found = NULL, *arr, *o;
	size_t nfound = 0, cap = 0, scanned = 0;
	uint64_t after = 0;
	bool more = false;
	int rc;

	q->route = GW_ROUTE_ME;
	if (!q->who.logged_in)
		return gw_problem(q, 401, "UNAUTHENTICATED",
				  "log in to see your bookings",
				  "Authorization");
	if (q->who.email[0] == 0)
		return gw_problem(q, 403, "FORBIDDEN",
				  "your login carries no email", "email");
	if (!gw_engine_admin)
		return gw_problem(q, 503, "UNAVAILABLE",
				  "the gateway's engine connection cannot list "
				  "bookings (it needs admin rights)",
				  NULL);
	/* The engine's index by booker e-mail (booking.list {email}) gives
	 * this booker's recent and future bookings, a bounded number of
	 * pages of them. */
	for (int page = 0; page < ME_PAGES; page++) {
		struct pk k;
		pk_init(&k, 4);
		pk_str(&k, "email", q->who.email);
		pk_int(&k, "from", (int64_t)time(NULL) - ME_DAYS_BACK * 86400);
		pk_int(&k, "limit", ME_PAGE_SIZE);
		pk_int(&k, "after", (int64_t)after);
		rc = gw_call(NULL, "booking.list", &k.sb, &res, &eo);
		msgpack_sbuffer_destroy(&k.sb);
		if (rc != 0) {
			for (size_t i = 0; i < nfound; i++)
				json_decref(found[i]);
			free(found);
			return gw_engine_problem(q, rc, eo, false);
		}
		list = gw_get(res, "bookings");
		next = gw_get(res, "next");
		for (uint32_t i = 0;
		     list && list->type == MSGPACK_OBJECT_ARRAY &&
		     i < list->via.array.size;
		     i++) {
			const msgpack_object *bk = &list->via.array.ptr[i];
			scanned++;
			email = gw_get(gw_get(bk, "booker"), "email");
			if (email == NULL ||
			    email->type != MSGPACK_OBJECT_STR ||
			    email->via.str.size != strlen(q->who.email) ||
			    strncasecmp(email->via.str.ptr, q->who.email,
					email->via.str.size) != 0)
				continue;
			if (nfound == cap) {
				cap = cap ? cap * 2 : 16;
				json_t **nf =
				    reallocarray(found, cap, sizeof *found);
				if (nf == NULL)
					break;
				found = nf;
			}
			found[nfound++] = gw_to_json(bk, NULL);
		}
		more = next && next->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
		if (!more)
			break;
		after = next->via.u64;
	}
	for (size_t i = 0; i < nfound; i++)
		booking_zone(found[i]);
	if (nfound)
		qsort(found, nfound, sizeof *found, by_start);
	arr = json_array();
	for (size_t i = 0; i < nfound; i++)
		json_array_append_new(arr, found[i]);
	free(found);
	o = json_object();
	json_object_set_new(o, "bookings", arr);
	json_object_set_new(o, "truncated", json_boolean(more));
	json_object_set_new(o, "scanned", json_integer((json_int_t)scanned));
	json_object_set_new(o, "since_days", json_integer(ME_DAYS_BACK));
	return gw_json(q, 200, o);
}

/* ---------------------------------------------------------------------- */

enum MHD_Result gw_api(struct gw_req *q)
{
	const char *p = q->url + 3; /* after "/v1" */
	bool get = strcmp(q->method, "GET") == 0;

	if (strcmp(p, "/resources") == 0) {
		q->route = GW_ROUTE_RESOURCES;
		return get ? list(q, "resource.list", "resources")
			   : method_not_allowed(q);
	}
	if (strcmp(p, "/event-types") == 0) {
		q->route = GW_ROUTE_EVENT_TYPES;
		return get ? list(q, "event_type.list", "event_types")
			   : method_not_allowed(q);
	}
	if (strncmp(p, "/resources/", 11) == 0) {
		const char *id = p + 11, *slash = strchr(id, '/');
		if (slash == NULL) {
			q->route = GW_ROUTE_RESOURCES;
			return not_found(q);
		}
		if (strcmp(slash, "/month") == 0)
			return get ? month(q, id, (size_t)(slash - id))
				   : method_not_allowed(q);
		if (strcmp(slash, "/calendar.ics") == 0)
			return gw_ical(q, id, (size_t)(slash - id), false);
		if (strncmp(slash, "/days/", 6) == 0 &&
		    strchr(slash + 6, '/') == NULL)
			return day(q, id, (size_t)(slash - id), slash + 6);
		return not_found(q);
	}
	if (strncmp(p, "/holds/", 7) == 0)
		return hold(q, p + 7);
	if (strcmp(p, "/bookings") == 0)
		return book(q);
	if (strncmp(p, "/bookings/", 10) == 0)
		return booking(q, p + 10);
	if (strcmp(p, "/stream") == 0) {
		q->route = GW_ROUTE_STREAM;
		return get ? gw_stream_open(q) : method_not_allowed(q);
	}
	if (strcmp(p, "/me/bookings") == 0)
		return get ? me(q) : method_not_allowed(q);
	return not_found(q);
}

/*
 * ops.c - one handler per operation of the op table (proto/ops.h).
 *
 * A handler gets its arguments already checked against the op's schema
 * (types, required fields, string and list sizes) in r->a[ARG_x].  It
 * validates what the schema cannot say (slugs, alignment, nested maps),
 * packs its result into r->pk, or returns an error through req_error().
 * Helpers that validate an argument write the error themselves, so a
 * handler reads as a list of steps.
 *
 * Mutations build their WAL record, log it and apply that same record with
 * state_apply(): the live path and recovery are one path.  The server holds
 * the reply until the record is durable.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "hooks.h"
#include "log.h"
#include "quanta.h"
#include "schedule.h"
#include "server.h"
#include "token.h"
#include "tz.h"

#define VERSION		       "0.1.0"
#define MAX_LIST	       1000
#define MAX_MONTH_DAYS	       366
#define MAX_HOLDS_PER_RESOURCE 10000
/* A day of one resource holds at most this many holds: 96 quarters, and
 * pools let several sessions share one. */
#define MAX_DAY_HOLDS MAX_HOLDS_PER_RESOURCE

/* ---- argument helpers ------------------------------------------------- */

static int bad(struct req *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(struct req *r, const char *field, const char *fmt, ...)
{
	va_list ap;
	int n;

	r->err = BOOKD_E_BAD_REQUEST;
	snprintf(r->fieldbuf, sizeof(r->fieldbuf), "%s", field);
	r->field = r->fieldbuf;
	n = snprintf(r->msg, sizeof(r->msg), "%s: ", r->fieldbuf);
	va_start(ap, fmt);
	vsnprintf(r->msg + n, sizeof(r->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return r->err;
}

static const char *actor(struct req *r)
{
	if (r->c->subject[0])
		return r->c->subject;
	return r->c->role == ROLE_ADMIN ? "admin" : "public";
}

static bool valid_slug(const msgpack_object *o)
{
	const char *p = o->via.str.ptr;
	uint32_t n = o->via.str.size;

	if (n < 1 || n > 63)
		return false;
	if (!((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= '0' && p[0] <= '9')))
		return false;
	for (uint32_t i = 1; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Look up the resource named by a string object; public callers do not see
 * deactivated resources at all unless want_inactive. */
static struct resource *find_res(struct req *r, const msgpack_object *o,
				 const char *field, bool want_inactive)
{
	struct resource *res =
	    state_resource(&r->s->st, o->via.str.ptr, o->via.str.size);

	if (res == NULL ||
	    (!res->active && !want_inactive && r->c->role != ROLE_ADMIN)) {
		r->err = BOOKD_E_NOT_FOUND;
		snprintf(r->fieldbuf, sizeof(r->fieldbuf), "%s", field);
		r->field = r->fieldbuf;
		snprintf(r->msg, sizeof(r->msg), "%s: no resource '%.*s'",
			 field,
			 (int)(o->via.str.size > 63 ? 63 : o->via.str.size),
			 o->via.str.ptr);
		return NULL;
	}
	return res;
}

/* Validate a span given as two objects; pfx prefixes the field names
 * ("holds[2]." inside hold.many). */
static int span_of(struct req *r, const msgpack_object *so,
		   const msgpack_object *eo, const char *pfx, int64_t *start,
		   int64_t *end)
{
	char fs[80], fe[80];

	snprintf(fs, sizeof(fs), "%sstart", pfx);
	snprintf(fe, sizeof(fe), "%send", pfx);
	if (!wire_int(so, start))
		return bad(r, fs, "out of range");
	if (!wire_int(eo, end))
		return bad(r, fe, "out of range");
	if (!q_aligned(*start))
		return bad(r, fs, "not a multiple of 900 seconds (15 minutes)");
	if (!q_aligned(*end))
		return bad(r, fe, "not a multiple of 900 seconds (15 minutes)");
	if (*start >= *end)
		return bad(r, fe, "must be after start");
	/* Far beyond any window: refuse before day arithmetic can overflow. */
	if (*start < -((int64_t)1 << 40) || *end > ((int64_t)1 << 40))
		return req_error(r, BOOKD_E_OUT_OF_RANGE,
				 "span: outside the bookable window");
	return 0;
}

static int get_span(struct req *r, int64_t *start, int64_t *end)
{
	return span_of(r, r->a[ARG_start], r->a[ARG_end], "", start, end);
}

static int get_date(struct req *r, int field, const char *name, int64_t *day)
{
	const msgpack_object *o = r->a[field];
	if (q_parse_date(o->via.str.ptr, o->via.str.size, day) < 0)
		return bad(r, name, "not a date (YYYY-MM-DD)");
	return 0;
}

/* Resolve a zone name argument; NULL object: the fallback. */
static int get_tz(struct req *r, const msgpack_object *o, const char *field,
		  const struct tz *fallback, const struct tz **out)
{
	char name[TZ_NAME_MAX + 1];
	int rc;

	*out = fallback;
	if (o == NULL)
		return 0;
	if (wire_cstr(o, name, sizeof(name)) < 0 ||
	    (rc = tz_get(name, out)) < 0)
		return bad(r, field, "unknown time zone '%.*s'",
			   (int)(o->via.str.size > 64 ? 64 : o->via.str.size),
			   o->via.str.ptr);
	return 0;
}

static const struct tz *utc_zone(void)
{
	const struct tz *z = NULL;
	tz_get("UTC", &z); /* built in: cannot fail */
	return z;
}

/* The zone of a date argument: tz, else the resource's, else UTC. */
static int date_zone(struct req *r, const struct resource *res,
		     const struct tz **z)
{
	return get_tz(r, r->a[ARG_tz], "tz", res->tz ? res->tz : utc_zone(), z);
}

static int get_minutes(struct req *r, int field, const char *name,
		       uint64_t dflt, int64_t *secs)
{
	const msgpack_object *o = r->a[field];
	uint64_t m = o ? o->via.u64 : dflt;

	if (m == 0 || m % 15 != 0 || m > 60ull * 24 * 31)
		return bad(r, name,
			   "minutes, a positive multiple of 15 (at "
			   "most 31 days)");
	*secs = (int64_t)m * 60;
	return 0;
}

static void copy_session(const msgpack_object *o, char *buf)
{
	buf[0] = 0;
	if (o)
		wire_cstr(o, buf, SESSION_MAX + 1);
}

static int session_arg(struct req *r, char *buf)
{
	const msgpack_object *o = r->a[ARG_session];
	if (o && (o->via.str.size == 0 ||
		  memchr(o->via.str.ptr, 0, o->via.str.size)))
		return bad(r, "session", "must be a non-empty string");
	copy_session(o, buf);
	return 0;
}

/* Turn a refused check into the error reply. */
static int check_failed(struct req *r, const struct check_out *co)
{
	const char *id = r->s->st.res[co->res]->id;

	r->co = *co;
	switch (co->err) {
	case BOOKD_E_CONFLICT:
		return req_error(r, co->err, "%s: overlaps an active booking",
				 id);
	case BOOKD_E_HELD:
		return req_error(r, co->err,
				 "%s: overlaps another session's hold", id);
	case BOOKD_E_CLOSED:
		return req_error(r, co->err, "%s: outside its open hours", id);
	case BOOKD_E_INACTIVE:
		return req_error(r, co->err, "%s: deactivated", id);
	default:
		return req_error(
		    r, co->err,
		    "span: outside the bookable window (%" PRId64
		    " days back to %" PRId64 " days ahead)",
		    r->s->cfg.past_days > 0 ? (int64_t)r->s->cfg.past_days : 0,
		    (int64_t)r->s->cfg.horizon_days);
	}
}

static int event_type_arg(struct req *r, const msgpack_object *o,
			  const struct event_type **out);

/* ---- session ---------------------------------------------------------- */

static int h_hello(struct req *r)
{
	struct conn *c = r->c;
	const msgpack_object *tok = r->a[ARG_token], *role = r->a[ARG_role];
	int want = -1;

	if (role) {
		if (wire_str_eq(role, "public"))
			want = ROLE_PUBLIC;
		else if (wire_str_eq(role, "admin"))
			want = ROLE_ADMIN;
		else
			return bad(r, "role", "'admin' or 'public'");
	}
	if (tok) {
		char trole[8], subject[TOKEN_SUBJECT_MAX + 1];
		if (token_verify(r->s->auth_key, tok->via.str.ptr,
				 tok->via.str.size, now_ms() / 1000, trole,
				 subject) < 0)
			return req_error(r, BOOKD_E_UNAUTHENTICATED,
					 "token: invalid or expired");
		/* A token names the role and the audit actor; it cannot
		 * raise a connection that was dropped to public. */
		if (strcmp(trole, "admin") == 0 && c->dropped)
			return req_error(r, BOOKD_E_FORBIDDEN,
					 "token: this connection was dropped "
					 "to public for good");
		c->role =
		    strcmp(trole, "admin") == 0 ? ROLE_ADMIN : ROLE_PUBLIC;
		snprintf(c->subject, sizeof(c->subject), "%s", subject);
	}
	if (want == ROLE_ADMIN && c->role != ROLE_ADMIN)
		return req_error(r, BOOKD_E_FORBIDDEN,
				 "role: this connection cannot be admin");
	if (want == ROLE_PUBLIC) {
		c->role = ROLE_PUBLIC;
		c->dropped = true;
	}
	msgpack_pack_map(r->pk, 6);
	wire_pk_kstr(r->pk, "server", "bookd");
	wire_pk_kstr(r->pk, "version", VERSION);
	wire_pk_kint(r->pk, "proto", 1);
	wire_pk_kstr(r->pk, "role", c->role == ROLE_ADMIN ? "admin" : "public");
	wire_pk_kint(r->pk, "quantum", Q_SECONDS);
	wire_pk_kint(r->pk, "hold_ttl_ms", r->s->cfg.hold_ttl_ms);
	return 0;
}

static int h_ping(struct req *r)
{
	wire_pk_str(r->pk, "pong");
	return 0;
}

static int h_stats(struct req *r)
{
	struct server *s = r->s;
	struct wal_stats ws;

	wal_get_stats(s->wal, &ws);
	msgpack_pack_map(r->pk, 20);
	wire_pk_kint(r->pk, "connections", s->nconns);
	wire_pk_kint(r->pk, "cut_off", (int64_t)s->stats.cut_off);
	wire_pk_kint(r->pk, "connections_total", (int64_t)s->stats.conns_total);
	wire_pk_kint(r->pk, "ops", (int64_t)s->stats.ops);
	wire_pk_kint(r->pk, "commits", (int64_t)s->stats.commits);
	wire_pk_kint(r->pk, "fsyncs", (int64_t)s->stats.fsyncs);
	wire_pk_kint(r->pk, "records", (int64_t)s->stats.records);
	wire_pk_str(r->pk, "avg_group_size");
	msgpack_pack_double(r->pk, s->stats.commits
				       ? (double)s->stats.records /
					     (double)s->stats.commits
				       : 0.0);
	wire_pk_kint(r->pk, "active_holds", s->st.nholds);
	wire_pk_kint(r->pk, "bookings", s->st.nbk);
	wire_pk_str(r->pk, "by_status");
	msgpack_pack_map(r->pk, BS__COUNT);
	for (int i = 0; i < BS__COUNT; i++)
		wire_pk_kint(r->pk, bstatus_names[i],
			     (int64_t)s->st.by_status[i]);
	wire_pk_kint(r->pk, "resources", s->st.nres);
	wire_pk_kint(r->pk, "subscriptions", (int64_t)s->nsubs);
	wire_pk_kint(r->pk, "pushes", (int64_t)s->stats.pushes);
	wire_pk_kint(r->pk, "log_bytes", (int64_t)ws.bytes);
	wire_pk_kint(r->pk, "log_segments", ws.segments);
	wire_pk_kint(r->pk, "lsn", (int64_t)wal_last_lsn(s->wal));
	wire_pk_kint(r->pk, "durable_lsn", (int64_t)wal_durable_lsn(s->wal));
	wire_pk_kint(r->pk, "last_checkpoint", (int64_t)s->last_checkpoint_lsn);
	wire_pk_kint(r->pk, "uptime_ms", now_ms() - s->started_ms);
	return 0;
}

/* ---- resources -------------------------------------------------------- */

/* Validate the optional resource fields shared by create and update; a
 * schedule given is parsed into *sched (NULL when nil or absent). */
static int check_resource_fields(struct req *r, struct sched **sched)
{
	const msgpack_object *q = r->a[ARG_quantity];
	const msgpack_object *meta = r->a[ARG_meta];
	const msgpack_object *sc = r->a[ARG_schedule];
	const struct tz *z;
	char err[200];

	*sched = NULL;
	if (q && (q->via.u64 < 1 || q->via.u64 > 10000))
		return bad(r, "quantity", "from 1 to 10000");
	if (get_tz(r, r->a[ARG_timezone], "timezone", NULL, &z))
		return r->err;
	if (meta && meta->type != MSGPACK_OBJECT_MAP &&
	    meta->type != MSGPACK_OBJECT_NIL)
		return bad(r, "meta", "must be a map");
	if (sc && sc->type != MSGPACK_OBJECT_NIL) {
		if (sc->type != MSGPACK_OBJECT_MAP)
			return bad(r, "schedule", "must be a map or nil");
		if (sched_parse(sc, sched, err, sizeof(err)) < 0)
			return bad(r, "schedule", "%s", err);
	}
	return 0;
}

/* Pack key and the new value of a string field: the request's, else the
 * old one, else dflt, else nil. */
static void pk_field_str(msgpack_packer *pk, const char *key,
			 const msgpack_object *given, const char *old,
			 const char *dflt)
{
	wire_pk_str(pk, key);
	if (given)
		wire_pk_obj(pk, given);
	else if (old || dflt)
		wire_pk_str(pk, old ? old : dflt);
	else
		msgpack_pack_nil(pk);
}

/* Pack a resource record: the new state, from the old one (or defaults)
 * overlaid with the request's fields. */
static void pack_resource_update(struct req *r, const struct resource *old,
				 const struct sched *sched, bool set_sched,
				 msgpack_packer *pk)
{
	const msgpack_object *const *a = r->a;
	int64_t now = now_ms();

	msgpack_pack_map(pk, 11);
	wire_pk_str(pk, "id");
	wire_pk_obj(pk, a[ARG_id]);
	pk_field_str(pk, "name", a[ARG_name], old ? old->name : NULL, NULL);
	pk_field_str(pk, "kind", a[ARG_kind], old ? old->kind : NULL, NULL);
	pk_field_str(pk, "timezone", a[ARG_timezone],
		     old ? old->timezone : NULL, "UTC");
	wire_pk_kint(pk, "quantity",
		     a[ARG_quantity] ? (int64_t)a[ARG_quantity]->via.u64
		     : old	     ? old->quantity
				     : 1);
	wire_pk_kbool(pk, "standalone",
		      a[ARG_standalone] ? a[ARG_standalone]->via.boolean
		      : old		? old->standalone
					: true);
	wire_pk_kbool(pk, "active",
		      a[ARG_active] ? a[ARG_active]->via.boolean
		      : old	    ? old->active
				    : true);
	wire_pk_str(pk, "meta");
	if (a[ARG_meta])
		wire_pk_obj(pk, a[ARG_meta]);
	else if (old && old->meta)
		pk->callback(pk->data, old->meta, old->meta_len);
	else
		msgpack_pack_nil(pk);
	wire_pk_str(pk, "schedule");
	if (!set_sched)
		sched = old ? old->sched : NULL;
	if (sched)
		sched_pack(sched, pk);
	else
		msgpack_pack_nil(pk);
	wire_pk_kint(pk, "created_ms", old ? old->created_ms : now);
	wire_pk_kint(pk, "updated_ms", now);
}

static int log_and_apply(struct req *r, uint16_t type, struct wbuf *rec)
{
	struct server *s = r->s;
	uint64_t lsn = server_log_record(s, type, rec);

	if (state_apply(&s->st, type, rec->data, (uint32_t)rec->len, lsn,
			now_ms()) < 0) {
		/* A record the engine just built must apply; if it does not,
		 * the log now holds something recovery cannot replay. */
		log_msg("FATAL: record at LSN %" PRIu64 " does not apply", lsn);
		abort();
	}
	return 0;
}

/* Count, over the window, what the new state strands: slots of pools over
 * capacity, and occupying bookings outside open hours. */
static void stranded(const struct state *st, const struct resource *res,
		     uint32_t *overbooked, uint32_t *closed)
{
	*overbooked = *closed = 0;
	for (uint32_t k = 0; k < st->window_days; k++) {
		const struct rday *d = &res->days[k];
		if (d->day == DAY_NONE)
			continue;
		for (int sl = 0; sl < Q_PER_DAY; sl++) {
			bool open = (d->open[sl / 64] >> (sl % 64)) & 1;
			bool used = d->units
					? d->units[sl] > 0
					: (d->booked[sl / 64] >> (sl % 64)) & 1;
			if (d->units && d->units[sl] > res->quantity)
				(*overbooked)++;
			if (used && !open)
				(*closed)++;
		}
	}
}

/* Pack a map's entries plus n_extra more to come (the caller packs them). */
static void pack_with_extra(struct req *r,
			    void (*fn)(msgpack_packer *, const void *),
			    const void *arg, uint32_t n_extra)
{
	struct wbuf tmp = {0};
	msgpack_packer tpk;
	msgpack_unpacked u;
	size_t off = 0;

	wbuf_packer_init(&tpk, &tmp);
	fn(&tpk, arg);
	msgpack_unpacked_init(&u);
	msgpack_unpack_next(&u, tmp.data, tmp.len, &off);
	msgpack_pack_map(r->pk, u.data.via.map.size + n_extra);
	for (uint32_t i = 0; i < u.data.via.map.size; i++) {
		wire_pk_obj(r->pk, &u.data.via.map.ptr[i].key);
		wire_pk_obj(r->pk, &u.data.via.map.ptr[i].val);
	}
	msgpack_unpacked_destroy(&u);
	wbuf_free(&tmp);
}

static void pack_res_cb(msgpack_packer *pk, const void *res)
{
	state_pack_resource_rec(pk, res);
}

static void pack_sched_cb(msgpack_packer *pk, const void *sched)
{
	sched_pack(sched, pk);
}

static int write_resource(struct req *r, const struct resource *old,
			  struct sched *sched, bool set_sched,
			  bool reply_schedule)
{
	struct wbuf rec = {0};
	msgpack_packer pk;
	struct resource *res;
	uint32_t overbooked, closed;

	wbuf_packer_init(&pk, &rec);
	pack_resource_update(r, old, sched, set_sched, &pk);
	sched_free(sched);
	log_and_apply(r, WAL_RESOURCE, &rec);
	wbuf_free(&rec);
	res = state_resource(&r->s->st, r->a[ARG_id]->via.str.ptr,
			     r->a[ARG_id]->via.str.size);
	/* Lowering a pool under what is booked, or closing hours that hold
	 * bookings, is allowed (bookings are never dropped) and reported. */
	stranded(&r->s->st, res, &overbooked, &closed);
	if (reply_schedule)
		pack_with_extra(r, pack_sched_cb, res->sched, closed ? 1 : 0);
	else
		pack_with_extra(r, pack_res_cb, res,
				(overbooked ? 1 : 0) + (closed ? 1 : 0));
	if (overbooked && !reply_schedule)
		wire_pk_kint(r->pk, "overbooked_slots", overbooked);
	if (closed)
		wire_pk_kint(r->pk, "booked_slots_closed", closed);
	return 0;
}

static int h_resource_create(struct req *r)
{
	const msgpack_object *id = r->a[ARG_id];
	struct sched *sched;

	if (!valid_slug(id))
		return bad(r, "id", "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	if (state_resource(&r->s->st, id->via.str.ptr, id->via.str.size))
		return req_error(r, BOOKD_E_EXISTS, "id: '%.*s' exists",
				 (int)id->via.str.size, id->via.str.ptr);
	if (r->s->st.nres >= r->s->st.max_resources)
		return req_error(r, BOOKD_E_LIMIT,
				 "resources: at most %u (--max-resources)",
				 r->s->st.max_resources);
	if (check_resource_fields(r, &sched))
		return r->err;
	return write_resource(r, NULL, sched, true, false);
}

static int h_resource_update(struct req *r)
{
	struct resource *old = find_res(r, r->a[ARG_id], "id", true);
	struct sched *sched;

	if (old == NULL || check_resource_fields(r, &sched))
		return r->err;
	return write_resource(r, old, sched, r->a[ARG_schedule] != NULL, false);
}

/* ---- schedules -------------------------------------------------------- */

static int h_schedule_put(struct req *r)
{
	struct resource *res = find_res(r, r->a[ARG_id], "id", true);
	msgpack_object_kv kv[3];
	msgpack_object m;
	struct sched *sched;
	char err[200];
	uint32_t n = 0;

	if (res == NULL)
		return r->err;
	/* The schedule is the arguments without the resource id. */
	kv[n].key = (msgpack_object){.type = MSGPACK_OBJECT_STR,
				     .via.str = {8, "timezone"}};
	kv[n++].val = *r->a[ARG_timezone];
	kv[n].key = (msgpack_object){.type = MSGPACK_OBJECT_STR,
				     .via.str = {6, "weekly"}};
	kv[n++].val = *r->a[ARG_weekly];
	if (r->a[ARG_overrides]) {
		kv[n].key = (msgpack_object){.type = MSGPACK_OBJECT_STR,
					     .via.str = {9, "overrides"}};
		kv[n++].val = *r->a[ARG_overrides];
	}
	m.type = MSGPACK_OBJECT_MAP;
	m.via.map.size = n;
	m.via.map.ptr = kv;
	if (sched_parse(&m, &sched, err, sizeof(err)) < 0) {
		/* The schedule's own field names are the arguments' names. */
		r->err = BOOKD_E_BAD_REQUEST;
		snprintf(r->msg, sizeof(r->msg), "%s", err);
		return r->err;
	}
	/* Only the schedule changes: the resource keeps its own zone for
	 * local dates, whatever zone the schedule's hours are given in. */
	r->a[ARG_timezone] = NULL;
	return write_resource(r, res, sched, true, true);
}

static int h_schedule_get(struct req *r)
{
	struct resource *res = find_res(r, r->a[ARG_id], "id", false);

	if (res == NULL)
		return r->err;
	/* nil: no schedule, open around the clock. */
	if (res->sched)
		sched_pack(res->sched, r->pk);
	else
		msgpack_pack_nil(r->pk);
	return 0;
}

static int h_schedule_list(struct req *r)
{
	const struct state *st = &r->s->st;
	uint32_t n = 0;

	for (uint32_t i = 0; i < st->nres; i++)
		n += st->res[i]->sched &&
		     (st->res[i]->active || r->c->role == ROLE_ADMIN);
	msgpack_pack_array(r->pk, n);
	for (uint32_t i = 0; i < st->nres; i++) {
		const struct resource *res = st->res[i];
		if (!res->sched || (!res->active && r->c->role != ROLE_ADMIN))
			continue;
		msgpack_pack_map(r->pk, 2);
		wire_pk_kstr(r->pk, "id", res->id);
		wire_pk_str(r->pk, "schedule");
		sched_pack(res->sched, r->pk);
	}
	return 0;
}

/* ---- event types ------------------------------------------------------ */

static int minutes_field(struct req *r, int f, const char *name, bool q15,
			 uint32_t max)
{
	const msgpack_object *o = r->a[f];
	if (o && ((q15 && o->via.u64 % 15) || o->via.u64 > max))
		return bad(r, name, "%sat most %u minutes",
			   q15 ? "a multiple of 15, " : "", max);
	return 0;
}

static int h_event_type_put(struct req *r)
{
	const msgpack_object *const *a = r->a;
	const msgpack_object *len = a[ARG_lengths], *res = a[ARG_resources];
	const struct event_type *old;
	struct wbuf rec = {0};
	msgpack_packer pk;
	char field[48];
	int64_t now = now_ms();

	if (!valid_slug(a[ARG_id]))
		return bad(r, "id", "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	if (len->via.array.size == 0)
		return bad(r, "lengths", "at least one length");
	for (uint32_t i = 0; i < len->via.array.size; i++) {
		const msgpack_object *o = &len->via.array.ptr[i];
		snprintf(field, sizeof(field), "lengths[%u]", i);
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    o->via.u64 == 0 || o->via.u64 % 15 ||
		    o->via.u64 > 60 * 24 * 31)
			return bad(r, field,
				   "minutes, a positive multiple of "
				   "15");
	}
	if (res->via.array.size == 0)
		return bad(r, "resources", "at least one resource");
	for (uint32_t i = 0; i < res->via.array.size; i++) {
		const msgpack_object *o = &res->via.array.ptr[i];
		snprintf(field, sizeof(field), "resources[%u]", i);
		if (o->type != MSGPACK_OBJECT_STR)
			return bad(r, field, "a resource id");
		if (find_res(r, o, field, true) == NULL)
			return r->err;
		for (uint32_t k = 0; k < i; k++)
			if (wire_str_eq(&res->via.array.ptr[k], "") ||
			    (res->via.array.ptr[k].via.str.size ==
				 o->via.str.size &&
			     memcmp(res->via.array.ptr[k].via.str.ptr,
				    o->via.str.ptr, o->via.str.size) == 0))
				return bad(r, field, "listed twice");
	}
	if (a[ARG_slot_interval] && a[ARG_slot_interval]->via.u64 == 0)
		return bad(r, "slot_interval", "a positive multiple of 15");
	if (minutes_field(r, ARG_slot_interval, "slot_interval", true, 1440) ||
	    minutes_field(r, ARG_buffer_before, "buffer_before", true, 1440) ||
	    minutes_field(r, ARG_buffer_after, "buffer_after", true, 1440) ||
	    minutes_field(r, ARG_min_notice, "min_notice", false,
			  60 * 24 * 3660) ||
	    minutes_field(r, ARG_max_future, "max_future", false,
			  60 * 24 * 3660))
		return r->err;
	if (a[ARG_meta] && a[ARG_meta]->type != MSGPACK_OBJECT_MAP &&
	    a[ARG_meta]->type != MSGPACK_OBJECT_NIL)
		return bad(r, "meta", "must be a map");
	old = state_event_type(&r->s->st, a[ARG_id]->via.str.ptr,
			       a[ARG_id]->via.str.size);
	wbuf_packer_init(&pk, &rec);
	msgpack_pack_map(&pk, 14);
	wire_pk_str(&pk, "id");
	wire_pk_obj(&pk, a[ARG_id]);
	wire_pk_str(&pk, "title");
	wire_pk_obj(&pk, a[ARG_title]);
	wire_pk_str(&pk, "lengths");
	wire_pk_obj(&pk, len);
	wire_pk_str(&pk, "resources");
	wire_pk_obj(&pk, res);
#define UF(f)                                                                  \
	wire_pk_kint(&pk, #f, a[ARG_##f] ? (int64_t)a[ARG_##f]->via.u64 : 0);
	UF(slot_interval)
	UF(buffer_before)
	UF(buffer_after)
	UF(min_notice)
	UF(max_future)
#undef UF
	wire_pk_kbool(&pk, "requires_confirmation",
		      a[ARG_requires_confirmation] &&
			  a[ARG_requires_confirmation]->via.boolean);
	wire_pk_kbool(&pk, "active",
		      a[ARG_active] ? a[ARG_active]->via.boolean : true);
	wire_pk_str(&pk, "meta");
	if (a[ARG_meta])
		wire_pk_obj(&pk, a[ARG_meta]);
	else
		msgpack_pack_nil(&pk);
	wire_pk_kint(&pk, "created_ms", old ? old->created_ms : now);
	wire_pk_kint(&pk, "updated_ms", now);
	log_and_apply(r, WAL_EVENT_TYPE, &rec);
	wbuf_free(&rec);
	state_pack_event_type(r->pk, &r->s->st,
			      state_event_type(&r->s->st,
					       a[ARG_id]->via.str.ptr,
					       a[ARG_id]->via.str.size));
	return 0;
}

static int h_event_type_get(struct req *r)
{
	const struct event_type *e;

	if (event_type_arg(r, r->a[ARG_id], &e))
		return r->err;
	state_pack_event_type(r->pk, &r->s->st, e);
	return 0;
}

static int h_event_type_list(struct req *r)
{
	const struct state *st = &r->s->st;
	bool all = r->c->role == ROLE_ADMIN;
	uint32_t n = 0;

	for (uint32_t i = 0; i < st->net; i++)
		n += all || st->et[i]->active;
	msgpack_pack_array(r->pk, n);
	for (uint32_t i = 0; i < st->net; i++)
		if (all || st->et[i]->active)
			state_pack_event_type(r->pk, st, st->et[i]);
	return 0;
}

static int h_resource_get(struct req *r)
{
	struct resource *res = find_res(r, r->a[ARG_id], "id", false);

	if (res == NULL)
		return r->err;
	state_pack_resource(r->pk, &r->s->st, res);
	return 0;
}

static int h_resource_list(struct req *r)
{
	const struct state *st = &r->s->st;
	bool active_only =
	    r->c->role != ROLE_ADMIN ||
	    (r->a[ARG_active_only] && r->a[ARG_active_only]->via.boolean);
	uint32_t n = 0;

	for (uint32_t i = 0; i < st->nres; i++)
		n += !active_only || st->res[i]->active;
	msgpack_pack_array(r->pk, n);
	for (uint32_t i = 0; i < st->nres; i++)
		if (!active_only || st->res[i]->active)
			state_pack_resource(r->pk, st, st->res[i]);
	return 0;
}

/* ---- availability ----------------------------------------------------- */

static int h_check(struct req *r)
{
	struct resource *res =
	    find_res(r, r->a[ARG_resource], "resource", true);
	char session[SESSION_MAX + 1];
	struct check_out co;
	struct item it;
	int64_t start, end;
	const char *reason = NULL;

	if (res == NULL || get_span(r, &start, &end) || session_arg(r, session))
		return r->err;
	it = (struct item){res->idx, 1};
	switch (state_check_span(&r->s->st, &it, 1, start, end, true,
				 session[0] ? session : NULL, &co)) {
	case 0:
		break;
	case BOOKD_E_CONFLICT:
		reason = "booked";
		break;
	case BOOKD_E_HELD:
		reason = "held";
		break;
	case BOOKD_E_CLOSED:
		reason = "closed";
		break;
	case BOOKD_E_INACTIVE:
		reason = "inactive";
		break;
	default:
		return check_failed(r, &co);
	}
	msgpack_pack_map(r->pk, reason ? 2 : 1);
	wire_pk_kbool(r->pk, "free", reason == NULL);
	if (reason)
		wire_pk_kstr(r->pk, "reason", reason);
	return 0;
}

/*
 * The grid of slots.day: in the local day [day_start, day_end), starts step
 * by `step` from the start of each open window (a run of open quarters;
 * for a resource without schedule the whole day), and a start counts when
 * its span is open and free of bookings and its buffers free of bookings.
 * Holds are ignored.  With an event type, its notice and window bound the
 * starts too.
 */
struct grid {
	struct resource *res;
	const struct event_type *et;
	const struct tz *zone;
	int64_t day, day_start, day_end, dur, step;
	int64_t not_before, not_after; /* notice and window */
	int32_t bb, ba;
	char session[SESSION_MAX + 1];
};

static int event_type_arg(struct req *r, const msgpack_object *o,
			  const struct event_type **out)
{
	struct event_type *e;

	*out = NULL;
	if (o == NULL)
		return 0;
	e = state_event_type(&r->s->st, o->via.str.ptr, o->via.str.size);
	if (e == NULL || (!e->active && r->c->role != ROLE_ADMIN)) {
		r->field = "event_type";
		return req_error(
		    r, BOOKD_E_NOT_FOUND, "event_type: no event type '%.*s'",
		    (int)(o->via.str.size > 63 ? 63 : o->via.str.size),
		    o->via.str.ptr);
	}
	*out = e;
	return 0;
}

/* Does the event type allow this resource and length (seconds)? */
static int et_allows(struct req *r, const struct event_type *e,
		     const struct resource *res, int64_t len,
		     const char *lenfield)
{
	bool ok = false;
	char offered[128] = "";
	size_t n = 0;

	if (!state_et_links(e, res->idx))
		return bad(r, "event_type", "'%s' does not use resource '%s'",
			   e->id, res->id);
	for (uint32_t i = 0; i < e->nlengths; i++) {
		ok |= (int64_t)e->lengths[i] * 60 == len;
		if (n < sizeof(offered))
			n += (size_t)snprintf(offered + n, sizeof(offered) - n,
					      "%s%u", i ? ", " : "",
					      e->lengths[i]);
	}
	if (!ok)
		return bad(r, lenfield,
			   "%" PRId64 " minutes is not a length of '%s' "
			   "(offers %s)",
			   len / 60, e->id, offered);
	return 0;
}

static void grid_bounds(struct grid *g, int64_t now_s)
{
	g->not_before = INT64_MIN;
	g->not_after = INT64_MAX;
	if (g->et == NULL)
		return;
	g->bb = (int32_t)g->et->buffer_before * 60;
	g->ba = (int32_t)g->et->buffer_after * 60;
	if (g->et->min_notice)
		g->not_before = now_s + (int64_t)g->et->min_notice * 60;
	if (g->et->max_future)
		g->not_after = now_s + (int64_t)g->et->max_future * 60;
}

static int grid_common(struct req *r, struct grid *g)
{
	uint64_t dflt;

	g->res = find_res(r, r->a[ARG_resource], "resource", false);
	if (g->res == NULL || event_type_arg(r, r->a[ARG_event_type], &g->et) ||
	    get_minutes(r, ARG_duration, "duration", 0, &g->dur) ||
	    date_zone(r, g->res, &g->zone))
		return r->err;
	if (g->et && et_allows(r, g->et, g->res, g->dur, "duration"))
		return r->err;
	dflt = g->et && g->et->slot_interval ? g->et->slot_interval
					     : (uint64_t)g->dur / 60;
	if (get_minutes(r, ARG_interval, "interval", dflt, &g->step))
		return r->err;
	grid_bounds(g, now_ms() / 1000);
	return 0;
}

static void grid_day(struct grid *g, int64_t day)
{
	g->day = day;
	tz_local_day(g->zone, day, &g->day_start, &g->day_end);
}

static int grid_args(struct req *r, struct grid *g)
{
	int64_t day;

	memset(g, 0, sizeof(*g));
	if (grid_common(r, g) || get_date(r, ARG_date, "date", &day))
		return r->err;
	grid_day(g, day);
	if (q_day_of(g->day_end - 1) < r->s->st.first_day ||
	    q_day_of(g->day_start) > r->s->st.last_day)
		return req_error(r, BOOKD_E_OUT_OF_RANGE,
				 "date: outside the bookable window");
	return 0;
}

static bool start_free(struct state *st, const struct grid *g, int64_t t)
{
	struct item it = {g->res->idx, 1};
	struct check_out co;

	if (t < g->not_before || t > g->not_after)
		return false;
	if (state_check(st, &it, 1, t, t + g->dur, CHK_OPEN, NULL, &co))
		return false;
	if (g->bb && state_check(st, &it, 1, t - g->bb, t, 0, NULL, &co))
		return false;
	if (g->ba && state_check(st, &it, 1, t + g->dur, t + g->dur + g->ba, 0,
				 NULL, &co))
		return false;
	return true;
}

/* Is the quarter at t open for the resource (false outside the window)? */
static bool open_at(const struct state *st, const struct resource *res,
		    int64_t t)
{
	const struct rday *d = state_day(st, res, q_day_of(t));
	int s;

	if (d == NULL)
		return false;
	s = q_slot_of(t);
	return (d->open[s / 64] >> (s % 64)) & 1;
}

/* Starts a local day can have: it lasts at most about 26 hours, and
 * starts are at least a quarter apart. */
#define GRID_MAX 128

/*
 * The starts of the grid's day, in order, into out (at most max of them).
 * Local days in zones whose midnight is not on a quarter (historic
 * offsets) start their grid at the first quarter after midnight.
 */
static uint32_t grid_walk(struct state *st, const struct grid *g, int64_t out[],
			  uint32_t max)
{
	int64_t t = g->day_start, end = g->day_end;
	uint32_t n = 0;

	t = (t + Q_SECONDS - 1) / Q_SECONDS * Q_SECONDS;
	while (t < end && n < max) {
		int64_t run_end, u;
		if (!open_at(st, g->res, t)) {
			t += Q_SECONDS;
			continue;
		}
		for (run_end = t; run_end < end && open_at(st, g->res, run_end);
		     run_end += Q_SECONDS)
			;
		for (u = t; u < run_end && n < max; u += g->step)
			if (start_free(st, g, u))
				out[n++] = u;
		t = run_end;
	}
	return n;
}

static bool held_by_other(const struct resource *res, int64_t s, int64_t e,
			  const char *session)
{
	for (const struct hold *h = res->holds; h; h = h->rnext)
		if (h->start < e && s < h->end &&
		    (!session[0] || strcmp(h->session, session) != 0))
			return true;
	return false;
}

static int h_slots_day(struct req *r)
{
	struct grid g;
	int64_t starts[GRID_MAX];
	uint32_t n;
	char date[11];

	if (grid_args(r, &g))
		return r->err;
	n = grid_walk(&r->s->st, &g, starts, GRID_MAX);
	q_format_date(g.day, date);
	msgpack_pack_map(r->pk, 3);
	wire_pk_kstr(r->pk, "date", date);
	wire_pk_kstr(r->pk, "tz", tz_name(g.zone));
	wire_pk_str(r->pk, "slots");
	msgpack_pack_array(r->pk, n);
	for (uint32_t i = 0; i < n; i++)
		msgpack_pack_int64(r->pk, starts[i]);
	return 0;
}

static int h_slots_view(struct req *r)
{
	struct grid g;
	int64_t starts[GRID_MAX];
	uint32_t n;

	if (grid_args(r, &g) || session_arg(r, g.session))
		return r->err;
	n = grid_walk(&r->s->st, &g, starts, GRID_MAX);
	msgpack_pack_array(r->pk, n);
	for (uint32_t i = 0; i < n; i++) {
		msgpack_pack_map(r->pk, 2);
		wire_pk_kint(r->pk, "start", starts[i]);
		wire_pk_kstr(r->pk, "state",
			     held_by_other(g.res, starts[i], starts[i] + g.dur,
					   g.session)
				 ? "reserved"
				 : "available");
	}
	return 0;
}

static int h_slots_month(struct req *r)
{
	struct grid g;
	int64_t from, to, first;
	char date[11];

	memset(&g, 0, sizeof(g));
	if (grid_common(r, &g) || get_date(r, ARG_from, "from", &from) ||
	    get_date(r, ARG_to, "to", &to))
		return r->err;
	if (to < from)
		return bad(r, "to", "before from");
	if (to - from + 1 > MAX_MONTH_DAYS)
		return bad(r, "to", "at most %d days from 'from'",
			   MAX_MONTH_DAYS);
	msgpack_pack_map(r->pk, (size_t)(to - from + 1));
	for (int64_t day = from; day <= to; day++) {
		grid_day(&g, day);
		q_format_date(day, date);
		wire_pk_str(r->pk, date);
		if (grid_walk(&r->s->st, &g, &first, 1) > 0)
			msgpack_pack_true(r->pk);
		else
			msgpack_pack_false(r->pk);
	}
	return 0;
}

static int hold_cmp(const void *a, const void *b)
{
	const struct hold *x = *(const struct hold *const *)a;
	const struct hold *y = *(const struct hold *const *)b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

static int h_holds_day(struct req *r)
{
	struct resource *res =
	    find_res(r, r->a[ARG_resource], "resource", false);
	const struct hold *hs[MAX_DAY_HOLDS];
	char session[SESSION_MAX + 1];
	const struct tz *zone;
	int64_t day, ds, de;
	uint32_t n = 0;

	if (res == NULL || get_date(r, ARG_date, "date", &day) ||
	    date_zone(r, res, &zone) || session_arg(r, session))
		return r->err;
	tz_local_day(zone, day, &ds, &de);
	for (const struct hold *h = res->holds; h && n < MAX_DAY_HOLDS;
	     h = h->rnext)
		if (h->start < de && ds < h->end)
			hs[n++] = h;
	qsort(hs, n, sizeof(hs[0]), hold_cmp); /* chronological */
	msgpack_pack_array(r->pk, n);
	for (uint32_t i = 0; i < n; i++) {
		msgpack_pack_map(r->pk, 3);
		wire_pk_kint(r->pk, "start", hs[i]->start);
		wire_pk_kint(r->pk, "end", hs[i]->end);
		wire_pk_kbool(r->pk, "mine",
			      session[0] &&
				  strcmp(hs[i]->session, session) == 0);
	}
	return 0;
}

/* ---- holds ------------------------------------------------------------ */

struct hold_req {
	struct resource *res;
	int64_t start, end;
};

static int hold_check(struct req *r, const struct hold_req *h,
		      const char *session, struct check_out *co)
{
	struct item it = {h->res->idx, 1};

	if (state_hold_find(h->res, session) == NULL &&
	    h->res->nholds >= MAX_HOLDS_PER_RESOURCE)
		return req_error(r, BOOKD_E_LIMIT,
				 "hold: %s has %d holds already", h->res->id,
				 MAX_HOLDS_PER_RESOURCE);
	if (state_check_span(&r->s->st, &it, 1, h->start, h->end, true, session,
			     co))
		return check_failed(r, co);
	return 0;
}

static int h_hold(struct req *r)
{
	struct hold_req h;
	char session[SESSION_MAX + 1];
	struct check_out co;
	int64_t ttl = r->s->cfg.hold_ttl_ms;

	h.res = find_res(r, r->a[ARG_resource], "resource", true);
	if (h.res == NULL || get_span(r, &h.start, &h.end) ||
	    session_arg(r, session) || hold_check(r, &h, session, &co))
		return r->err;
	state_hold_set(&r->s->st, h.res, session, h.start, h.end,
		       mono_ms() + ttl);
	msgpack_pack_map(r->pk, 1);
	wire_pk_kint(r->pk, "expires_at_ms", now_ms() + ttl);
	return 0;
}

static int h_hold_many(struct req *r)
{
	const msgpack_object *list = r->a[ARG_holds];
	struct hold_req hs[64];
	char session[SESSION_MAX + 1];
	struct check_out co;
	uint32_t n = list->via.array.size;
	int64_t ttl = r->s->cfg.hold_ttl_ms;
	char field[64];

	if (session_arg(r, session))
		return r->err;
	if (n == 0)
		return bad(r, "holds", "at least one hold");
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *o = &list->via.array.ptr[i];
		const msgpack_object *a[ARG__COUNT];
		char msg[200];
		snprintf(field, sizeof(field), "holds[%u]", i);
		if (proto_validate_args(OP_check, o, a, msg, sizeof(msg)) ||
		    a[ARG_session])
			return bad(r, field, "%s",
				   a[ARG_session] ? "session belongs outside"
						  : msg);
		hs[i].res = find_res(r, a[ARG_resource], field, true);
		if (hs[i].res == NULL)
			return r->err;
		for (uint32_t k = 0; k < i; k++)
			if (hs[k].res == hs[i].res)
				return bad(r, field, "resource '%s' twice",
					   hs[i].res->id);
		snprintf(field, sizeof(field), "holds[%u].", i);
		if (span_of(r, a[ARG_start], a[ARG_end], field, &hs[i].start,
			    &hs[i].end))
			return r->err;
	}
	/* All or nothing: every hold is checked before any is taken. */
	for (uint32_t i = 0; i < n; i++)
		if (hold_check(r, &hs[i], session, &co))
			return r->err;
	for (uint32_t i = 0; i < n; i++)
		state_hold_set(&r->s->st, hs[i].res, session, hs[i].start,
			       hs[i].end, mono_ms() + ttl);
	msgpack_pack_map(r->pk, 1);
	wire_pk_kint(r->pk, "expires_at_ms", now_ms() + ttl);
	return 0;
}

static int h_release(struct req *r)
{
	struct resource *res =
	    find_res(r, r->a[ARG_resource], "resource", true);
	char session[SESSION_MAX + 1];
	int released;

	if (res == NULL || session_arg(r, session))
		return r->err;
	released = state_hold_release(&r->s->st, res, session);
	msgpack_pack_map(r->pk, 1);
	wire_pk_kbool(r->pk, "released", released);
	return 0;
}

/* ---- bookings --------------------------------------------------------- */

static char *objdup(const msgpack_object *o, char *buf, size_t len)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return NULL;
	if (wire_cstr(o, buf, len) < 0)
		return NULL;
	return buf;
}

struct booker {
	char name[257], email[257], phone[65], notes[4097];
};

static int get_booker(struct req *r, struct booker *bk)
{
	const msgpack_object *m = r->a[ARG_booker];
	static const struct {
		const char *key;
		size_t max;
		bool req;
	} f[] = {{"name", 256, true},
		 {"email", 256, true},
		 {"phone", 64, false},
		 {"notes", 4096, false}};
	char *dst[] = {bk->name, bk->email, bk->phone, bk->notes};

	memset(bk, 0, sizeof(*bk));
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;
		const msgpack_object *v = &m->via.map.ptr[i].val;
		size_t j;
		char field[64];
		for (j = 0; j < 4; j++)
			if (wire_str_eq(k, f[j].key))
				break;
		if (j == 4) {
			snprintf(field, sizeof(field), "booker.%.*s",
				 k->type == MSGPACK_OBJECT_STR
				     ? (int)(k->via.str.size > 32
						 ? 32
						 : k->via.str.size)
				     : 1,
				 k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr
							       : "?");
			return bad(r, field, "unknown field");
		}
		snprintf(field, sizeof(field), "booker.%s", f[j].key);
		if (v->type == MSGPACK_OBJECT_NIL && !f[j].req)
			continue;
		if (v->type != MSGPACK_OBJECT_STR)
			return bad(r, field, "must be a string");
		if (v->via.str.size > f[j].max)
			return bad(r, field, "longer than %zu bytes", f[j].max);
		if (wire_cstr(v, dst[j], f[j].max + 1) < 0)
			return bad(r, field, "must not contain NUL bytes");
	}
	if (!bk->name[0])
		return bad(r, "booker.name", "required");
	if (!bk->email[0])
		return bad(r, "booker.email", "required");
	if (strchr(bk->email, '@') == NULL || strchr(bk->email, ' '))
		return bad(r, "booker.email", "not an email address");
	return 0;
}

/* Resolve `resource` or `resources` into items. */
static int get_items(struct req *r, struct item *items, int *nitems)
{
	const msgpack_object *one = r->a[ARG_resource];
	const msgpack_object *many = r->a[ARG_resources];
	bool standalone = false;
	char field[48];

	*nitems = 0;
	if ((one == NULL) == (many == NULL))
		return bad(r, "resource",
			   "give exactly one of resource and "
			   "resources");
	if (one) {
		struct resource *res = find_res(r, one, "resource", true);
		if (res == NULL)
			return r->err;
		items[0] = (struct item){res->idx, 1};
		*nitems = 1;
		standalone = res->standalone;
	} else {
		if (many->via.array.size == 0)
			return bad(r, "resources", "at least one resource");
		for (uint32_t i = 0; i < many->via.array.size; i++) {
			const msgpack_object *o = &many->via.array.ptr[i];
			const msgpack_object *id = o, *q = NULL;
			struct resource *res;
			snprintf(field, sizeof(field), "resources[%u]", i);
			if (o->type == MSGPACK_OBJECT_MAP) {
				for (uint32_t k = 0; k < o->via.map.size; k++)
					if (!wire_str_eq(&o->via.map.ptr[k].key,
							 "id") &&
					    !wire_str_eq(&o->via.map.ptr[k].key,
							 "quantity"))
						return bad(r, field,
							   "unknown field "
							   "(expected id, "
							   "quantity)");
				id = wire_get(o, "id");
				q = wire_get(o, "quantity");
			}
			if (id == NULL || id->type != MSGPACK_OBJECT_STR)
				return bad(r, field,
					   "a resource id or {id, "
					   "quantity}");
			if (q && (q->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
				  q->via.u64 < 1 || q->via.u64 > 10000))
				return bad(r, field,
					   "quantity: from 1 to 10000");
			res = find_res(r, id, field, true);
			if (res == NULL)
				return r->err;
			for (int k = 0; k < *nitems; k++)
				if (items[k].res == res->idx)
					return bad(r, field,
						   "resource '%s' twice",
						   res->id);
			if (q && q->via.u64 > res->quantity)
				return bad(r, field,
					   "quantity: %s has %u units", res->id,
					   res->quantity);
			items[*nitems].res = res->idx;
			items[*nitems].qty = q ? (uint32_t)q->via.u64 : 1;
			(*nitems)++;
			standalone |= res->standalone;
		}
	}
	if (!standalone)
		return bad(r, one ? "resource" : "resources",
			   "add-ons are booked together with a standalone "
			   "resource");
	return 0;
}

static void random_ref(char out[33])
{
	unsigned char b[16];
	static const char d[] = "0123456789abcdef";

	arc4random_buf(b, sizeof(b));
	for (int i = 0; i < 16; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[32] = 0;
}

/*
 * Can items take [start, end) with buffers bb before and ba after?  The
 * span itself must be open and clear of bookings and of other sessions'
 * holds; the buffers need only be clear of bookings (and their buffers).
 */
static int check_booking(struct state *st, const struct item *items, int nitems,
			 int64_t start, int64_t end, int32_t bb, int32_t ba,
			 const char *session, struct check_out *co)
{
	if (state_check(st, items, nitems, start, end, CHK_OPEN | CHK_HOLDS,
			session, co))
		return co->err;
	if (bb &&
	    state_check(st, items, nitems, start - bb, start, 0, NULL, co))
		return co->err;
	if (ba && state_check(st, items, nitems, end, end + ba, 0, NULL, co))
		return co->err;
	return 0;
}

/* Log booking b (a new state of an existing or new booking) with event
 * ev, apply it, and reply with the stored booking. */
static int write_booking(struct req *r, const struct booking *b, int ev)
{
	struct wbuf rec = {0};
	msgpack_packer pk;
	const struct booking *stored;

	wbuf_packer_init(&pk, &rec);
	state_pack_booking_rec(&pk, &r->s->st, b, ev);
	log_and_apply(r, WAL_BOOKING, &rec);
	wbuf_free(&rec);
	stored = state_booking(&r->s->st, b->id);
	state_pack_booking(r->pk, &r->s->st, stored,
			   r->c->role == ROLE_ADMIN ? VIEW_ADMIN : VIEW_PUBLIC);
	return 0;
}

/* An event type's rules for a span: linked resources, one of its lengths,
 * its notice and its window. */
static int et_rules(struct req *r, const struct event_type *et,
		    const struct item *items, int nitems, int64_t start,
		    int64_t end)
{
	int64_t now_s = now_ms() / 1000;

	for (int i = 0; i < nitems; i++)
		if (et_allows(r, et, r->s->st.res[items[i].res], end - start,
			      "end"))
			return r->err;
	if (et->min_notice && start < now_s + (int64_t)et->min_notice * 60)
		return req_error(r, BOOKD_E_OUT_OF_RANGE,
				 "start: '%s' needs %u minutes' notice", et->id,
				 et->min_notice);
	if (et->max_future && start > now_s + (int64_t)et->max_future * 60)
		return req_error(r, BOOKD_E_OUT_OF_RANGE,
				 "start: '%s' books at most %u minutes ahead",
				 et->id, et->max_future);
	return 0;
}

/* Does an earlier booking match this request (for idempotency keys)? */
static bool same_request(const struct booking *b, const struct item *items,
			 int nitems, int64_t start, int64_t end,
			 const char *email)
{
	if (b->start != start || b->end != end || b->nitems != nitems ||
	    strcmp(b->email ? b->email : "", email) != 0)
		return false;
	for (int i = 0; i < nitems; i++)
		if (b->items[i].res != items[i].res ||
		    b->items[i].qty != items[i].qty)
			return false;
	return true;
}

/* `by` names the actor in a booking's history: staff only.  Public callers
 * are recorded as their token's subject, or "public". */
static int by_arg(struct req *r)
{
	if (r->a[ARG_by] && r->c->role != ROLE_ADMIN)
		return req_error(r, BOOKD_E_FORBIDDEN, "by: admin only");
	return 0;
}

static int h_book(struct req *r)
{
	struct state *st = &r->s->st;
	struct item items[MAX_ITEMS];
	struct booker bk;
	struct booking b;
	struct hist h;
	struct check_out co;
	char session[SESSION_MAX + 1], tzbuf[65], notebuf[4097], keybuf[129],
	    bybuf[129];
	int nitems, status = BS_CONFIRMED;
	int64_t start, end, now = now_ms();
	const msgpack_object *key = r->a[ARG_key];
	const struct event_type *et;
	const struct tz *zone;
	int32_t bb = 0, ba = 0;

	if (get_items(r, items, &nitems) || get_span(r, &start, &end) ||
	    get_booker(r, &bk) || session_arg(r, session) || by_arg(r))
		return r->err;
	if (key) {
		const struct booking *prev = state_booking_by_key(
		    st, key->via.str.ptr, key->via.str.size);
		if (key->via.str.size == 0)
			return bad(r, "key", "must not be empty");
		if (prev) {
			/* A repeat returns the first booking and books
			 * nothing; a different request under a used key is a
			 * mistake, and must not reveal that booking. */
			if (!same_request(prev, items, nitems, start, end,
					  bk.email))
				return bad(r, "key",
					   "already used for a different "
					   "booking");
			state_pack_booking(r->pk, st, prev,
					   r->c->role == ROLE_ADMIN
					       ? VIEW_ADMIN
					       : VIEW_PUBLIC);
			return 0;
		}
	}
	if (event_type_arg(r, r->a[ARG_event_type], &et))
		return r->err;
	if (et) {
		if (et_rules(r, et, items, nitems, start, end))
			return r->err;
		if (et->requires_confirmation)
			status = BS_PENDING;
		bb = (int32_t)et->buffer_before * 60;
		ba = (int32_t)et->buffer_after * 60;
	}
	if (r->a[ARG_status]) {
		if (r->c->role != ROLE_ADMIN)
			return req_error(r, BOOKD_E_FORBIDDEN,
					 "status: admin only");
		status = bstatus_parse(r->a[ARG_status]);
		if (status != BS_PENDING && status != BS_CONFIRMED)
			return bad(r, "status", "'pending' or 'confirmed'");
	}
	if (get_tz(r, r->a[ARG_timezone], "timezone", NULL, &zone))
		return r->err;
	if (check_booking(st, items, nitems, start, end, bb, ba,
			  session[0] ? session : NULL, &co))
		return check_failed(r, &co);

	memset(&b, 0, sizeof(b));
	b.id = st->nbk + 1;
	random_ref(b.ref);
	b.status = (uint8_t)status;
	b.start = start;
	b.end = end;
	b.buf_before = bb;
	b.buf_after = ba;
	b.event_type = et ? (char *)et->id : NULL;
	b.items = items;
	b.nitems = (uint8_t)nitems;
	b.name = bk.name;
	b.email = bk.email;
	b.phone = bk.phone[0] ? bk.phone : NULL;
	b.notes = bk.notes[0] ? bk.notes : NULL;
	b.timezone = objdup(r->a[ARG_timezone], tzbuf, sizeof(tzbuf));
	b.note = objdup(r->a[ARG_note], notebuf, sizeof(notebuf));
	b.key = objdup(key, keybuf, sizeof(keybuf));
	b.created_ms = b.updated_ms = now;
	h = (struct hist){now, -1, (int8_t)status,
			  objdup(r->a[ARG_by], bybuf, sizeof(bybuf)), NULL};
	if (h.by == NULL)
		h.by = (char *)actor(r);
	b.hist = &h;
	b.nhist = 1;
	write_booking(r, &b, EV_CREATED);
	/* The caller's own holds on these resources have become the
	 * booking. */
	if (session[0])
		for (int i = 0; i < nitems; i++)
			state_hold_release(st, st->res[items[i].res], session);
	return 0;
}

/* Find the booking named by id or ref; public callers must use ref. */
static struct booking *find_booking(struct req *r)
{
	const msgpack_object *id = r->a[ARG_id], *ref = r->a[ARG_ref];
	struct booking *b = NULL;

	if ((id == NULL) == (ref == NULL)) {
		bad(r, "id", "give exactly one of id and ref");
		return NULL;
	}
	if (id && r->c->role != ROLE_ADMIN) {
		req_error(r, BOOKD_E_FORBIDDEN, "id: admin only; use ref");
		return NULL;
	}
	if (id)
		b = state_booking(&r->s->st, id->via.u64);
	else
		b = state_booking_by_ref(&r->s->st, ref->via.str.ptr,
					 ref->via.str.size);
	if (b == NULL) {
		r->field = id ? "id" : "ref";
		req_error(r, BOOKD_E_NOT_FOUND, "%s: no such booking",
			  id ? "id" : "ref");
	}
	return b;
}

static int h_booking_get(struct req *r)
{
	struct booking *b = find_booking(r);

	if (b == NULL)
		return r->err;
	state_pack_booking(r->pk, &r->s->st, b,
			   r->c->role == ROLE_ADMIN ? VIEW_ADMIN : VIEW_PUBLIC);
	return 0;
}

static bool booking_matches(const struct booking *b, int res, int status,
			    const int64_t *from, const int64_t *to)
{
	if (status >= 0 && b->status != status)
		return false;
	if (from && b->end <= *from)
		return false;
	if (to && b->start >= *to)
		return false;
	if (res >= 0) {
		for (int i = 0; i < b->nitems; i++)
			if ((int)b->items[i].res == res)
				return true;
		return false;
	}
	return true;
}

static int h_booking_list(struct req *r)
{
	const struct state *st = &r->s->st;
	const msgpack_object *const *a = r->a;
	int res = -1, status = -1;
	int64_t from, to;
	uint64_t limit = a[ARG_limit] ? a[ARG_limit]->via.u64 : 100;
	uint64_t after = a[ARG_after] ? a[ARG_after]->via.u64 : 0;
	uint32_t ids[MAX_LIST], n = 0, i;
	bool more = false;

	if (limit < 1 || limit > MAX_LIST)
		return bad(r, "limit", "from 1 to %d", MAX_LIST);
	if (a[ARG_resource]) {
		struct resource *rr =
		    find_res(r, a[ARG_resource], "resource", true);
		if (rr == NULL)
			return r->err;
		res = (int)rr->idx;
	}
	if (a[ARG_status] && (status = bstatus_parse(a[ARG_status])) < 0)
		return bad(r, "status", "not a booking status");
	if (a[ARG_from])
		wire_int(a[ARG_from], &from);
	if (a[ARG_to])
		wire_int(a[ARG_to], &to);
	for (i = after < st->nbk ? (uint32_t)after : st->nbk; i < st->nbk;
	     i++) {
		if (!booking_matches(st->bk[i], res, status,
				     a[ARG_from] ? &from : NULL,
				     a[ARG_to] ? &to : NULL))
			continue;
		if (n == limit) {
			more = true;
			break;
		}
		ids[n++] = i + 1;
	}
	msgpack_pack_map(r->pk, more ? 2 : 1);
	wire_pk_str(r->pk, "bookings");
	msgpack_pack_array(r->pk, n);
	for (uint32_t k = 0; k < n; k++)
		state_pack_booking(r->pk, st, st->bk[ids[k] - 1], VIEW_ADMIN);
	if (more)
		wire_pk_kint(r->pk, "next", ids[n - 1]);
	return 0;
}

/* Move b to status `to` (or, with a new span, reschedule it), appending
 * history, and write it. */
static int change_booking(struct req *r, const struct booking *cur, int to,
			  int64_t start, int64_t end, const char *reason,
			  int ev)
{
	struct booking nb = *cur;
	struct hist *hist;
	char bybuf[129];
	int rc;

	if (by_arg(r))
		return r->err;
	hist = reallocarray(NULL, (size_t)cur->nhist + 1, sizeof(*hist));
	if (hist == NULL)
		return req_error(r, BOOKD_E_INTERNAL, "out of memory");
	memcpy(hist, cur->hist, cur->nhist * sizeof(*hist));
	hist[cur->nhist] = (struct hist){
	    now_ms(), (int8_t)cur->status, (int8_t)to,
	    objdup(r->a[ARG_by], bybuf, sizeof(bybuf)), (char *)reason};
	if (hist[cur->nhist].by == NULL)
		hist[cur->nhist].by = (char *)actor(r);
	nb.hist = hist;
	nb.nhist = cur->nhist + 1;
	nb.status = (uint8_t)to;
	nb.start = start;
	nb.end = end;
	nb.updated_ms = hist[cur->nhist].at_ms;
	rc = write_booking(r, &nb, ev);
	free(hist);
	return rc;
}

static const int status_event[BS__COUNT] = {
    [BS_PENDING] = EV_NONE,	   [BS_CONFIRMED] = EV_CONFIRMED,
    [BS_DECLINED] = EV_DECLINED,   [BS_CANCELLED] = EV_CANCELLED,
    [BS_COMPLETED] = EV_COMPLETED, [BS_NO_SHOW] = EV_NO_SHOW,
};

static int transition(struct req *r, struct booking *b, int to)
{
	char reason[1025];

	if (!bstatus_can_move(b->status, to))
		return req_error(r, BOOKD_E_INVALID_STATE,
				 "to: a %s booking cannot become %s",
				 bstatus_names[b->status], bstatus_names[to]);
	return change_booking(r, b, to, b->start, b->end,
			      objdup(r->a[ARG_reason], reason, sizeof(reason)),
			      status_event[to]);
}

static int h_booking_cancel(struct req *r)
{
	struct booking *b = find_booking(r);

	if (b == NULL)
		return r->err;
	return transition(r, b, BS_CANCELLED);
}

static int h_booking_transition(struct req *r)
{
	struct booking *b = find_booking(r);
	int to;

	if (b == NULL)
		return r->err;
	to = bstatus_parse(r->a[ARG_to]);
	if (to < 0)
		return bad(r, "to", "not a booking status");
	return transition(r, b, to);
}

/* "2026-12-01T10:00Z" */
static void fmt_instant(int64_t t, char buf[24])
{
	char date[11];
	int64_t sec = t - q_day_of(t) * DAY_SECONDS;

	q_format_date(q_day_of(t), date);
	snprintf(buf, 24, "%sT%02d:%02dZ", date, (int)(sec / 3600),
		 (int)(sec % 3600 / 60));
}

static int h_booking_reschedule(struct req *r)
{
	struct state *st = &r->s->st;
	struct booking *b = find_booking(r);
	struct check_out co;
	int64_t start, end;
	char reason[96], a[24], z[24], session[SESSION_MAX + 1];
	uint32_t id;
	int rc;

	if (b == NULL || get_span(r, &start, &end) || session_arg(r, session))
		return r->err;
	if (b->status != BS_PENDING && b->status != BS_CONFIRMED)
		return req_error(r, BOOKD_E_INVALID_STATE,
				 "a %s booking cannot be rescheduled",
				 bstatus_names[b->status]);
	/* Check the new span as a new booking would be (its event type's
	 * rules, its buffers, other sessions' holds), without the booking's
	 * own old span; then put the old span back. */
	if (b->event_type) {
		const struct event_type *et =
		    state_event_type(st, b->event_type, strlen(b->event_type));
		if (et && et_rules(r, et, b->items, b->nitems, start, end))
			return r->err;
	}
	state_occupy(st, b, -1, false);
	rc = check_booking(st, b->items, b->nitems, start, end, b->buf_before,
			   b->buf_after, session[0] ? session : NULL, &co);
	state_occupy(st, b, +1, false);
	if (rc)
		return check_failed(r, &co);
	fmt_instant(b->start, a);
	fmt_instant(start, z);
	snprintf(reason, sizeof(reason), "rescheduled from %s to %s", a, z);
	id = b->id; /* b is replaced by the new record */
	rc =
	    change_booking(r, b, b->status, start, end, reason, EV_RESCHEDULED);
	/* As with book: the caller's own holds have become the booking. */
	b = state_booking(st, id);
	if (rc == 0 && session[0])
		for (int i = 0; i < b->nitems; i++)
			state_hold_release(st, st->res[b->items[i].res],
					   session);
	return rc;
}

/* ---- subscriptions and events ----------------------------------------- */

/* The events feed (admin): a push when new events are durable. */
static int subscribe_events(struct req *r)
{
	uint64_t id;

	if (r->c->role != ROLE_ADMIN)
		return req_error(r, BOOKD_E_FORBIDDEN,
				 "topic: 'events' is "
				 "admin only");
	if (r->a[ARG_resource] || r->a[ARG_from] || r->a[ARG_to])
		return bad(r, "resource",
			   "topic 'events' takes no resource, from or to");
	if (server_subscribe(r->s, r->c, TOPIC_EVENTS, 0, 0, 0, &id))
		return req_error(r, BOOKD_E_LIMIT,
				 "subscriptions: at most 4096 on one "
				 "connection");
	msgpack_pack_map(r->pk, 1);
	wire_pk_kint(r->pk, "sub", (int64_t)id);
	return 0;
}

static int h_subscribe(struct req *r)
{
	struct resource *res;
	const msgpack_object *topic = r->a[ARG_topic];
	const struct tz *z;
	int64_t from, to;
	uint8_t t;
	uint64_t id;
	int rc;

	if (wire_str_eq(topic, "events"))
		return subscribe_events(r);
	if (r->a[ARG_resource] == NULL)
		return bad(r, "resource", "required");
	res = find_res(r, r->a[ARG_resource], "resource", false);
	if (res == NULL)
		return r->err;
	/* Dates are local dates in the resource's zone; by default the
	 * whole bookable window. */
	z = res->tz ? res->tz : utc_zone();
	from = tz_local_day_of(z, r->s->st.first_day * DAY_SECONDS);
	to = tz_local_day_of(z,
			     r->s->st.last_day * DAY_SECONDS + DAY_SECONDS - 1);
	if (wire_str_eq(topic, "slots"))
		t = TOPIC_SLOTS;
	else if (wire_str_eq(topic, "holds"))
		t = TOPIC_HOLDS;
	else
		return bad(r, "topic", "'slots', 'holds' or 'events'");
	if (r->a[ARG_from] && get_date(r, ARG_from, "from", &from))
		return r->err;
	if (r->a[ARG_to]) {
		if (get_date(r, ARG_to, "to", &to))
			return r->err;
	} else if (r->a[ARG_from]) {
		to = from;
	}
	if (to < from)
		return bad(r, "to", "before from");
	rc = server_subscribe(r->s, r->c, t, res->idx, from, to, &id);
	if (rc)
		return req_error(r, rc,
				 "subscriptions: at most 4096 on one "
				 "connection");
	msgpack_pack_map(r->pk, 1);
	wire_pk_kint(r->pk, "sub", (int64_t)id);
	return 0;
}

static int h_unsubscribe(struct req *r)
{
	if (server_unsubscribe(r->s, r->c, r->a[ARG_sub]->via.u64))
		return req_error(r, BOOKD_E_NOT_FOUND,
				 "sub: no such subscription on this "
				 "connection");
	msgpack_pack_map(r->pk, 0);
	return 0;
}

static int h_events(struct req *r)
{
	const struct state *st = &r->s->st;
	uint64_t after = r->a[ARG_after] ? r->a[ARG_after]->via.u64 : 0;
	uint64_t limit = r->a[ARG_limit] ? r->a[ARG_limit]->via.u64 : 100;
	size_t lo = 0, hi = st->nev, n;

	if (limit < 1 || limit > MAX_LIST)
		return bad(r, "limit", "from 1 to %d", MAX_LIST);
	while (lo < hi) { /* first event with lsn > after */
		size_t mid = lo + (hi - lo) / 2;
		if (st->ev[mid].lsn <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	n = st->nev - lo < limit ? st->nev - lo : limit;
	msgpack_pack_map(r->pk, 2);
	wire_pk_str(r->pk, "events");
	msgpack_pack_array(r->pk, n);
	for (size_t i = lo; i < lo + n; i++) {
		msgpack_pack_map(r->pk, 4);
		wire_pk_kint(r->pk, "lsn", (int64_t)st->ev[i].lsn);
		wire_pk_kstr(r->pk, "type", event_names[st->ev[i].type]);
		wire_pk_kint(r->pk, "at_ms", st->ev[i].at_ms);
		wire_pk_str(r->pk, "booking");
		state_pack_booking(r->pk, st, st->bk[st->ev[i].booking - 1],
				   VIEW_ADMIN);
	}
	wire_pk_kint(r->pk, "next",
		     (int64_t)(n ? st->ev[lo + n - 1].lsn : after));
	return 0;
}

#define HANDLER_X(ident, wire, role, flags) [OP_##ident] = h_##ident,
const handler_fn op_handlers[OP__COUNT] = {BOOKD_OPS(HANDLER_X)};
#undef HANDLER_X

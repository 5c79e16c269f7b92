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
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
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

static const char *role_name(int role)
{
	return role == ROLE_ADMIN     ? "admin"
	       : role == ROLE_GATEWAY ? "gateway"
				      : "public";
}

/* The audit actor: the visitor's principal, else the token subject, else
 * the role. */
static const char *actor(struct req *r)
{
	if (r->visitor)
		return r->principal;
	if (r->c->subject[0])
		return r->c->subject;
	return role_name(r->role);
}

static bool valid_slug(const msgpack_object *o)
{
	return proto_slug_ok(o->via.str.ptr, o->via.str.size);
}

/* Look up the resource named by a string object; public callers do not see
 * deactivated resources at all unless want_inactive. */
static struct resource *find_res(struct req *r, const msgpack_object *o,
				 const char *field, bool want_inactive)
{
	struct resource *res =
	    state_resource(&r->s->st, o->via.str.ptr, o->via.str.size);

	if (res == NULL ||
	    (!res->active && !want_inactive && r->role != ROLE_ADMIN)) {
		req_error(r, BOOKD_E_NOT_FOUND, field, "no resource '%.*s'",
			  (int)(o->via.str.size > PROTO_SLUG_MAX
				    ? PROTO_SLUG_MAX
				    : o->via.str.size),
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
		return req_error(r, BOOKD_E_BAD_REQUEST, fs, "out of range");
	if (!wire_int(eo, end))
		return req_error(r, BOOKD_E_BAD_REQUEST, fe, "out of range");
	if (!q_aligned(*start))
		return req_error(r, BOOKD_E_BAD_REQUEST, fs,
				 "not a multiple of 900 seconds (15 minutes)");
	if (!q_aligned(*end))
		return req_error(r, BOOKD_E_BAD_REQUEST, fe,
				 "not a multiple of 900 seconds (15 minutes)");
	if (*start >= *end)
		return req_error(r, BOOKD_E_BAD_REQUEST, fe,
				 "must be after start");
	/* Far beyond any window: refuse before day arithmetic can overflow. */
	if (*start < -((int64_t)1 << 40) || *end > ((int64_t)1 << 40))
		return req_error(r, BOOKD_E_OUT_OF_RANGE, NULL,
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
		return req_error(r, BOOKD_E_BAD_REQUEST, name,
				 "not a date (YYYY-MM-DD)");
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
		return req_error(
		    r, BOOKD_E_BAD_REQUEST, field, "unknown time zone '%.*s'",
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

	if (m == 0 || m % Q_MINUTES != 0 || m > ET_MAX_LENGTH_MINUTES)
		return req_error(r, BOOKD_E_BAD_REQUEST, name,
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

/* The session argument, which must not belong to another caller: a
 * session with live holds is bound to the principal that took them. */
static int session_arg(struct req *r, char *buf)
{
	const msgpack_object *o = r->a[ARG_session];
	const char *owner;

	if (o && (o->via.str.size == 0 ||
		  memchr(o->via.str.ptr, 0, o->via.str.size)))
		return req_error(r, BOOKD_E_BAD_REQUEST, "session",
				 "must be a non-empty string");
	copy_session(o, buf);
	if (buf[0] && (owner = state_session_owner(&r->s->st, buf)) &&
	    strcmp(owner, r->principal) != 0)
		return req_error(r, BOOKD_E_FORBIDDEN, "session",
				 "held by another caller");
	return 0;
}

/* Turn a refused check into the error reply. */
static int check_failed(struct req *r, const struct check_out *co)
{
	const char *id = r->s->st.res[co->res]->id;

	switch (co->err) {
	case BOOKD_E_CONFLICT:
		req_error(r, co->err, NULL, "%s: overlaps an active booking",
			  id);
		/* Admins see which bookings are in the way; public callers
		 * learn only that something is. */
		if (r->admin_details) {
			_Static_assert(sizeof(co->ids) <=
					   sizeof(r->e.conflicts),
				       "a check's conflicts fit the error");
			memcpy(r->e.conflicts, co->ids,
			       co->nids * sizeof(co->ids[0]));
			r->e.nconflicts = co->nids;
		}
		break;
	case BOOKD_E_HELD:
		req_error(r, co->err, NULL,
			  "%s: overlaps another session's hold", id);
		break;
	case BOOKD_E_CLOSED:
		req_error(r, co->err, NULL, "%s: outside its open hours", id);
		break;
	case BOOKD_E_INACTIVE:
		req_error(r, co->err, NULL, "%s: deactivated", id);
		break;
	default:
		return req_error(
		    r, co->err, NULL,
		    "span: outside the bookable window (%" PRId64
		    " days back to %" PRId64 " days ahead)",
		    r->s->cfg.past_days > 0 ? (int64_t)r->s->cfg.past_days : 0,
		    (int64_t)r->s->cfg.horizon_days);
	}
	snprintf(r->e.resource, sizeof(r->e.resource), "%s", id);
	return r->e.code;
}

static int event_type_arg(struct req *r, const msgpack_object *o,
			  const struct event_type **out);

/* ---- session ---------------------------------------------------------- */

static int h_hello(struct req *r)
{
	struct conn *c = r->c;
	const msgpack_object *tok = r->a[ARG_token], *role = r->a[ARG_role];
	int want = -1;

	if (r->visitor)
		return req_error(r, BOOKD_E_BAD_REQUEST, "as",
				 "not with hello: it changes the connection");
	if (role) {
		if (wire_str_eq(role, "public"))
			want = ROLE_PUBLIC;
		else if (wire_str_eq(role, "admin"))
			want = ROLE_ADMIN;
		else
			return req_error(r, BOOKD_E_BAD_REQUEST, "role",
					 "'admin' or 'public'");
	}
	if (tok) {
		char trole[8], subject[TOKEN_SUBJECT_MAX + 1];
		if (token_verify(r->s->auth_key, tok->via.str.ptr,
				 tok->via.str.size, now_ms() / 1000, trole,
				 subject) < 0)
			return req_error(r, BOOKD_E_UNAUTHENTICATED, NULL,
					 "token: invalid or expired");
		/* A token names the role and the audit actor; it cannot
		 * raise a connection that was dropped to public. */
		int trl = strcmp(trole, "admin") == 0	  ? ROLE_ADMIN
			  : strcmp(trole, "gateway") == 0 ? ROLE_GATEWAY
							  : ROLE_PUBLIC;
		if (trl > ROLE_PUBLIC && c->dropped)
			return req_error(r, BOOKD_E_FORBIDDEN, NULL,
					 "token: this connection was dropped "
					 "to public for good");
		c->role = (uint8_t)trl;
		snprintf(c->subject, sizeof(c->subject), "%s", subject);
	}
	if (want == ROLE_ADMIN && c->role != ROLE_ADMIN)
		return req_error(r, BOOKD_E_FORBIDDEN, NULL,
				 "role: this connection cannot be admin");
	if (want == ROLE_PUBLIC) {
		c->role = ROLE_PUBLIC;
		c->dropped = true;
	}
	msgpack_pack_map(r->pk, 6);
	wire_pk_kstr(r->pk, "server", "bookd");
	wire_pk_kstr(r->pk, "version", VERSION);
	wire_pk_kint(r->pk, "proto", 1);
	wire_pk_kstr(r->pk, "role", role_name(c->role));
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

/* Copy an optional string argument: NULL when absent, else buf. */
static int str_arg(struct req *r, int f, const char *name, char *buf,
		   size_t len, const char **out)
{
	const msgpack_object *o = r->a[f];

	if (o == NULL)
		return 0;
	if (wire_cstr(o, buf, len) < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, name,
				 "must not contain NUL bytes");
	*out = buf;
	return 0;
}

/* A `meta` argument, packed into buf: a map, or nil to clear. */
static int meta_arg(struct req *r, struct wbuf *buf, const char **meta,
		    uint32_t *len)
{
	const msgpack_object *o = r->a[ARG_meta];
	msgpack_packer pk;

	if (o == NULL)
		return 0;
	*meta = NULL;
	*len = 0;
	if (o->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (o->type != MSGPACK_OBJECT_MAP)
		return req_error(r, BOOKD_E_BAD_REQUEST, "meta",
				 "must be a map");
	wbuf_packer_init(&pk, buf);
	wire_pk_obj(&pk, o);
	if (buf->len > PROTO_META_MAX)
		return req_error(r, BOOKD_E_BAD_REQUEST, "meta",
				 "larger than %d bytes packed", PROTO_META_MAX);
	*meta = buf->data;
	*len = (uint32_t)buf->len;
	return 0;
}

/* The strings a resource input points into while it is built. */
struct resource_bufs {
	char id[64], name[257], kind[65], timezone[65];
	struct wbuf meta;
};

/* The new state of a resource: the old one (or the defaults) overlaid with
 * the request's fields.  A schedule argument is parsed into *sched (NULL
 * when nil or absent; the caller frees it). */
static int resource_input(struct req *r, const struct resource *old,
			  struct resource_in *in, struct resource_bufs *b,
			  struct sched **sched)
{
	const msgpack_object *const *a = r->a;
	const msgpack_object *sc = a[ARG_schedule];
	char err[200];

	*sched = NULL;
	if (old) {
		state_resource_in(old, in);
	} else {
		*in = (struct resource_in){.timezone = "UTC",
					   .quantity = 1,
					   .standalone = true,
					   .active = true,
					   .created_ms = now_ms()};
	}
	in->updated_ms = now_ms();
	if (wire_cstr(a[ARG_id], b->id, sizeof(b->id)) < 0 ||
	    !valid_slug(a[ARG_id]))
		return req_error(r, BOOKD_E_BAD_REQUEST, "id",
				 "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	in->id = b->id;
	if (str_arg(r, ARG_name, "name", b->name, sizeof(b->name), &in->name) ||
	    str_arg(r, ARG_kind, "kind", b->kind, sizeof(b->kind), &in->kind) ||
	    str_arg(r, ARG_timezone, "timezone", b->timezone,
		    sizeof(b->timezone), &in->timezone) ||
	    meta_arg(r, &b->meta, &in->meta, &in->meta_len))
		return r->e.code;
	if (a[ARG_quantity])
		in->quantity = a[ARG_quantity]->via.u64 > UINT32_MAX
				   ? 0
				   : (uint32_t)a[ARG_quantity]->via.u64;
	if (a[ARG_standalone])
		in->standalone = a[ARG_standalone]->via.boolean;
	if (a[ARG_active])
		in->active = a[ARG_active]->via.boolean;
	if (sc) {
		if (sc->type != MSGPACK_OBJECT_NIL &&
		    sc->type != MSGPACK_OBJECT_MAP)
			return req_error(r, BOOKD_E_BAD_REQUEST, "schedule",
					 "must be a map or nil");
		if (sc->type == MSGPACK_OBJECT_MAP &&
		    sched_parse(sc, sched, err, sizeof(err)) < 0)
			return req_error(r, BOOKD_E_BAD_REQUEST, "schedule",
					 "%s", err);
		in->sched = *sched;
	}
	return 0;
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

/*
 * A page of a list reply.  Entries are packed aside, and the page stops
 * before the reply would pass REPLY_BUDGET (always taking at least one
 * entry: no single entry comes near it), so a list answers with what fits
 * and a cursor instead of TOO_LARGE.
 */
#define REPLY_BUDGET (WIRE_MAX_FRAME / 4 * 3)
_Static_assert(REPLY_BUDGET + 65536 <= WIRE_MAX_FRAME,
	       "a page leaves room for the reply around it");

struct page {
	struct wbuf buf;
	msgpack_packer pk;
	size_t mark;
};

static void page_init(struct page *p)
{
	memset(p, 0, sizeof(*p));
	wbuf_packer_init(&p->pk, &p->buf);
}

static void page_mark(struct page *p)
{
	p->mark = p->buf.len;
}

/* Did the entry packed since page_mark overflow a page that already holds
 * n entries?  Then it is taken back. */
static bool page_over(struct page *p, uint32_t n)
{
	if (p->buf.len <= REPLY_BUDGET || n == 0)
		return false;
	p->buf.len = p->mark;
	return true;
}

/* Pack the page as an array of its n entries, and free it. */
static void page_emit(struct page *p, msgpack_packer *pk, uint32_t n)
{
	msgpack_pack_array(pk, n);
	if (p->buf.len)
		pk->callback(pk->data, p->buf.data, p->buf.len);
	wbuf_free(&p->buf);
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

/* Log the resource input and reply with the stored entry, plus what the
 * change strands (or, for schedule.put, the schedule alone). */
static int write_resource(struct req *r, const struct resource_in *in,
			  bool reply_schedule)
{
	struct wbuf rec = {0};
	struct resource *res;
	struct resource_in now;
	uint32_t overbooked, closed;

	if (state_resource_record(&r->s->st, in, &rec, &r->e)) {
		wbuf_free(&rec);
		return r->e.code;
	}
	log_and_apply(r, WAL_RESOURCE, &rec);
	wbuf_free(&rec);
	res = state_resource(&r->s->st, in->id, strlen(in->id));
	assert(res != NULL);
	/* Lowering a pool under what is booked, or closing hours that hold
	 * bookings, is allowed (bookings are never dropped) and reported. */
	stranded(&r->s->st, res, &overbooked, &closed);
	if (reply_schedule) {
		sched_pack_map(res->sched, r->pk, closed ? 1 : 0);
	} else {
		state_resource_in(res, &now);
		state_encode_resource(r->pk, &now,
				      (overbooked ? 1 : 0) + (closed ? 1 : 0));
		if (overbooked)
			wire_pk_kint(r->pk, "overbooked_slots", overbooked);
	}
	if (closed)
		wire_pk_kint(r->pk, "booked_slots_closed", closed);
	return 0;
}

static int put_resource(struct req *r, const struct resource *old)
{
	struct resource_in in;
	struct resource_bufs b = {0};
	struct sched *sched = NULL;
	int rc = resource_input(r, old, &in, &b, &sched);

	if (rc == 0)
		rc = write_resource(r, &in, false);
	sched_free(sched);
	wbuf_free(&b.meta);
	return rc;
}

static int h_resource_create(struct req *r)
{
	const msgpack_object *id = r->a[ARG_id];

	if (!valid_slug(id))
		return req_error(r, BOOKD_E_BAD_REQUEST, "id",
				 "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	if (state_resource(&r->s->st, id->via.str.ptr, id->via.str.size))
		return req_error(r, BOOKD_E_EXISTS, NULL, "id: '%.*s' exists",
				 (int)id->via.str.size, id->via.str.ptr);
	return put_resource(r, NULL);
}

static int h_resource_update(struct req *r)
{
	struct resource *old = find_res(r, r->a[ARG_id], "id", true);

	if (old == NULL)
		return r->e.code;
	return put_resource(r, old);
}

/* ---- schedules -------------------------------------------------------- */

static int h_schedule_put(struct req *r)
{
	struct resource *res = find_res(r, r->a[ARG_id], "id", true);
	msgpack_object_kv kv[3];
	msgpack_object m;
	struct sched *sched;
	struct resource_in in;
	char err[200];
	uint32_t n = 0;
	int rc;

	if (res == NULL)
		return r->e.code;
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
		return req_error(r, BOOKD_E_BAD_REQUEST, NULL, "%s", err);
	}
	/* Only the schedule changes: the resource keeps its own zone for
	 * local dates, whatever zone the schedule's hours are given in. */
	state_resource_in(res, &in);
	in.sched = sched;
	in.updated_ms = now_ms();
	rc = write_resource(r, &in, true);
	sched_free(sched);
	return rc;
}

static int h_schedule_get(struct req *r)
{
	struct resource *res = find_res(r, r->a[ARG_id], "id", false);

	if (res == NULL)
		return r->e.code;
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
		     (st->res[i]->active || r->role == ROLE_ADMIN);
	msgpack_pack_array(r->pk, n);
	for (uint32_t i = 0; i < st->nres; i++) {
		const struct resource *res = st->res[i];
		if (!res->sched || (!res->active && r->role != ROLE_ADMIN))
			continue;
		msgpack_pack_map(r->pk, 2);
		wire_pk_kstr(r->pk, "id", res->id);
		wire_pk_str(r->pk, "schedule");
		sched_pack(res->sched, r->pk);
	}
	return 0;
}

/* ---- event types ------------------------------------------------------ */

static uint32_t minutes_arg(const struct req *r, int f)
{
	const msgpack_object *o = r->a[f];
	/* Beyond every bound the domain checks: refused there. */
	return o == NULL		 ? 0
	       : o->via.u64 > UINT32_MAX ? UINT32_MAX
					 : (uint32_t)o->via.u64;
}

static int h_event_type_put(struct req *r)
{
	const msgpack_object *const *a = r->a;
	const msgpack_object *len = a[ARG_lengths], *res = a[ARG_resources];
	const struct event_type *old;
	struct event_type_in in = {0};
	struct wbuf rec = {0}, meta = {0};
	char field[48], id[64], title[257];
	int rc;

	_Static_assert(ET_MAX_LENGTHS >= PROTO_ET_LENGTHS_MAX &&
			   ET_MAX_RESOURCES >= PROTO_ET_RESOURCES_MAX,
		       "the schema's bounds fit the event type's arrays");
	if (!valid_slug(a[ARG_id]) || wire_cstr(a[ARG_id], id, sizeof(id)) < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "id",
				 "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	if (wire_cstr(a[ARG_title], title, sizeof(title)) < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "title",
				 "must not contain NUL bytes");
	in.id = id;
	in.title = title;
	for (uint32_t i = 0; i < len->via.array.size; i++) {
		const msgpack_object *o = &len->via.array.ptr[i];
		snprintf(field, sizeof(field), "lengths[%u]", i);
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    o->via.u64 > UINT32_MAX)
			return req_error(r, BOOKD_E_BAD_REQUEST, field,
					 "minutes, a positive multiple of "
					 "15");
		in.lengths[in.nlengths++] = (uint32_t)o->via.u64;
	}
	for (uint32_t i = 0; i < res->via.array.size; i++) {
		const msgpack_object *o = &res->via.array.ptr[i];
		const struct resource *rr;
		snprintf(field, sizeof(field), "resources[%u]", i);
		if (o->type != MSGPACK_OBJECT_STR)
			return req_error(r, BOOKD_E_BAD_REQUEST, field,
					 "a resource id");
		if ((rr = find_res(r, o, field, true)) == NULL)
			return r->e.code;
		in.res[in.nres++] = rr->idx;
	}
	if (a[ARG_slot_interval] && a[ARG_slot_interval]->via.u64 == 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "slot_interval",
				 "a positive multiple of 15");
	in.slot_interval = minutes_arg(r, ARG_slot_interval);
	in.buffer_before = minutes_arg(r, ARG_buffer_before);
	in.buffer_after = minutes_arg(r, ARG_buffer_after);
	in.min_notice = minutes_arg(r, ARG_min_notice);
	in.max_future = minutes_arg(r, ARG_max_future);
	in.requires_confirmation = a[ARG_requires_confirmation] &&
				   a[ARG_requires_confirmation]->via.boolean;
	in.active = a[ARG_active] ? a[ARG_active]->via.boolean : true;
	if (meta_arg(r, &meta, &in.meta, &in.meta_len))
		return r->e.code;
	old = state_event_type(&r->s->st, id, strlen(id));
	in.updated_ms = now_ms();
	in.created_ms = old ? old->created_ms : in.updated_ms;
	rc = state_event_type_record(&r->s->st, &in, &rec, &r->e);
	if (rc == 0) {
		log_and_apply(r, WAL_EVENT_TYPE, &rec);
		state_pack_event_type(
		    r->pk, &r->s->st,
		    state_event_type(&r->s->st, id, strlen(id)));
	}
	wbuf_free(&rec);
	wbuf_free(&meta);
	return rc;
}

static int h_event_type_get(struct req *r)
{
	const struct event_type *e;

	if (event_type_arg(r, r->a[ARG_id], &e))
		return r->e.code;
	state_pack_event_type(r->pk, &r->s->st, e);
	return 0;
}

static int h_event_type_list(struct req *r)
{
	const struct state *st = &r->s->st;
	bool all = r->role == ROLE_ADMIN;
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
		return r->e.code;
	state_pack_resource(r->pk, &r->s->st, res);
	return 0;
}

/* Without `after` or `limit`, the whole directory as an array (as it
 * always was); with either, a page {resources, next?} that stops before
 * the reply budget. */
static int h_resource_list(struct req *r)
{
	const struct state *st = &r->s->st;
	const msgpack_object *const *a = r->a;
	bool active_only =
	    r->role != ROLE_ADMIN ||
	    (a[ARG_active_only] && a[ARG_active_only]->via.boolean);
	uint64_t after = a[ARG_after] ? a[ARG_after]->via.u64 : 0;
	uint64_t limit = a[ARG_limit] ? a[ARG_limit]->via.u64 : MAX_LIST;
	bool paged = a[ARG_after] || a[ARG_limit], more = false;
	uint32_t n = 0, i;
	struct page pg;

	if (!paged) {
		for (i = 0; i < st->nres; i++)
			n += !active_only || st->res[i]->active;
		msgpack_pack_array(r->pk, n);
		for (i = 0; i < st->nres; i++)
			if (!active_only || st->res[i]->active)
				state_pack_resource(r->pk, st, st->res[i]);
		return 0;
	}
	if (limit < 1 || limit > MAX_LIST)
		return req_error(r, BOOKD_E_BAD_REQUEST, "limit",
				 "from 1 to %d", MAX_LIST);
	page_init(&pg);
	for (i = after < st->nres ? (uint32_t)after : st->nres; i < st->nres;
	     i++) {
		if (active_only && !st->res[i]->active)
			continue;
		if (n == limit) {
			more = true;
			break;
		}
		page_mark(&pg);
		state_pack_resource(&pg.pk, st, st->res[i]);
		if (page_over(&pg, n)) {
			more = true;
			break;
		}
		n++;
	}
	msgpack_pack_map(r->pk, more ? 2 : 1);
	wire_pk_str(r->pk, "resources");
	page_emit(&pg, r->pk, n);
	if (more)
		wire_pk_kint(r->pk, "next", i);
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
		return r->e.code;
	it = (struct item){res->idx, 1};
	switch (state_check(&r->s->st, &it, 1, start, end, CHK_OPEN | CHK_HOLDS,
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
	if (e == NULL || (!e->active && r->role != ROLE_ADMIN)) {
		return req_error(
		    r, BOOKD_E_NOT_FOUND, "event_type", "no event type '%.*s'",
		    (int)(o->via.str.size > PROTO_SLUG_MAX ? PROTO_SLUG_MAX
							   : o->via.str.size),
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
		return req_error(r, BOOKD_E_BAD_REQUEST, "event_type",
				 "'%s' does not use resource '%s'", e->id,
				 res->id);
	for (uint32_t i = 0; i < e->nlengths; i++) {
		ok |= (int64_t)e->lengths[i] * 60 == len;
		if (n < sizeof(offered))
			n += (size_t)snprintf(offered + n, sizeof(offered) - n,
					      "%s%u", i ? ", " : "",
					      e->lengths[i]);
	}
	if (!ok)
		return req_error(r, BOOKD_E_BAD_REQUEST, lenfield,
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
		return r->e.code;
	if (g->et && et_allows(r, g->et, g->res, g->dur, "duration"))
		return r->e.code;
	dflt = g->et && g->et->slot_interval ? g->et->slot_interval
					     : (uint64_t)g->dur / 60;
	if (get_minutes(r, ARG_interval, "interval", dflt, &g->step))
		return r->e.code;
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
		return r->e.code;
	grid_day(g, day);
	if (q_day_of(g->day_end - 1) < r->s->st.first_day ||
	    q_day_of(g->day_start) > r->s->st.last_day)
		return req_error(r, BOOKD_E_OUT_OF_RANGE, NULL,
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

/* Starts a local day can have (quanta.h): the grid and the reader's
 * slot lists share the bound. */
#define GRID_MAX Q_MAX_LOCAL_DAY_STARTS

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
		return r->e.code;
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
		return r->e.code;
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
		return r->e.code;
	if (to < from)
		return req_error(r, BOOKD_E_BAD_REQUEST, "to", "before from");
	if (to - from + 1 > MAX_MONTH_DAYS)
		return req_error(r, BOOKD_E_BAD_REQUEST, "to",
				 "at most %d days from 'from'", MAX_MONTH_DAYS);
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
		return r->e.code;
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

/*
 * May this caller take hold h?  Every caller: not in the past, at most
 * --max-hold-minutes long.  Non-admin callers: room on the resource
 * (--max-holds-per-resource) and for the caller (--max-holds-per-caller;
 * `fresh` is how many holds of this request are new).  Admin callers are
 * bounded only by MAX_HOLDS_PER_RESOURCE, the table's own size.
 */
static int hold_check(struct req *r, const struct hold_req *h,
		      const char *session, uint32_t fresh, struct check_out *co)
{
	const struct caller_limits *lim = &r->s->cfg.limits;
	struct item it = {h->res->idx, 1};
	bool is_new = state_hold_find(h->res, session) == NULL;
	bool admin = r->role == ROLE_ADMIN;

	if (h->start < now_ms() / 1000)
		return req_error(r, BOOKD_E_OUT_OF_RANGE, "start",
				 "in the past: a hold starts now or later");
	if (h->end - h->start > (int64_t)lim->max_hold_minutes * 60)
		return req_error(r, BOOKD_E_LIMIT, "end",
				 "a hold spans at most %u minutes "
				 "(--max-hold-minutes)",
				 lim->max_hold_minutes);
	if (is_new && h->res->nholds >= MAX_HOLDS_PER_RESOURCE)
		return req_error(r, BOOKD_E_LIMIT, NULL,
				 "hold: %s has %d holds already", h->res->id,
				 MAX_HOLDS_PER_RESOURCE);
	if (is_new && !admin && h->res->nholds >= lim->holds_per_resource)
		return req_error(r, BOOKD_E_LIMIT, NULL,
				 "hold: %s has %u holds already "
				 "(--max-holds-per-resource)",
				 h->res->id, lim->holds_per_resource);
	if (fresh && !admin &&
	    state_holds_of(&r->s->st, r->principal) + fresh >
		lim->holds_per_caller)
		return req_error(r, BOOKD_E_LIMIT, NULL,
				 "hold: at most %u live holds per caller "
				 "(--max-holds-per-caller)",
				 lim->holds_per_caller);
	if (state_check(&r->s->st, &it, 1, h->start, h->end,
			CHK_OPEN | CHK_HOLDS, session, co))
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
	    session_arg(r, session) ||
	    hold_check(r, &h, session, state_hold_find(h.res, session) == NULL,
		       &co))
		return r->e.code;
	state_hold_set(&r->s->st, h.res, session, r->principal, h.start, h.end,
		       mono_ms() + ttl);
	msgpack_pack_map(r->pk, 1);
	wire_pk_kint(r->pk, "expires_at_ms", now_ms() + ttl);
	return 0;
}

static int h_hold_many(struct req *r)
{
	const msgpack_object *list = r->a[ARG_holds];
	struct hold_req hs[PROTO_HOLDS_MAX];
	char session[SESSION_MAX + 1];
	struct check_out co;
	uint32_t n = list->via.array.size, fresh = 0;
	int64_t ttl = r->s->cfg.hold_ttl_ms;
	char field[64];

	if (session_arg(r, session))
		return r->e.code;
	if (n == 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "holds",
				 "at least one hold");
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *o = &list->via.array.ptr[i];
		const msgpack_object *a[ARG__COUNT];
		struct proto_error e;
		snprintf(field, sizeof(field), "holds[%u]", i);
		if (proto_validate_args(OP_check, o, a, &e) || a[ARG_session])
			return req_error(
			    r, BOOKD_E_BAD_REQUEST, field, "%s",
			    a[ARG_session] ? "session belongs outside" : e.msg);
		hs[i].res = find_res(r, a[ARG_resource], field, true);
		if (hs[i].res == NULL)
			return r->e.code;
		for (uint32_t k = 0; k < i; k++)
			if (hs[k].res == hs[i].res)
				return req_error(r, BOOKD_E_BAD_REQUEST, field,
						 "resource '%s' twice",
						 hs[i].res->id);
		snprintf(field, sizeof(field), "holds[%u].", i);
		if (span_of(r, a[ARG_start], a[ARG_end], field, &hs[i].start,
			    &hs[i].end))
			return r->e.code;
	}
	/* All or nothing: every hold is checked before any is taken. */
	for (uint32_t i = 0; i < n; i++)
		fresh += state_hold_find(hs[i].res, session) == NULL;
	for (uint32_t i = 0; i < n; i++)
		if (hold_check(r, &hs[i], session, fresh, &co))
			return r->e.code;
	for (uint32_t i = 0; i < n; i++)
		state_hold_set(&r->s->st, hs[i].res, session, r->principal,
			       hs[i].start, hs[i].end, mono_ms() + ttl);
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
		return r->e.code;
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

/* What a public caller may write into a booking (PROTOCOL.md section 5):
 * enough for any real booking form, small enough that a public write loop
 * cannot grow the log by kilobytes a request. */
#define PUBLIC_NAME_MAX	 100
#define PUBLIC_EMAIL_MAX 254
#define PUBLIC_PHONE_MAX 32
#define PUBLIC_NOTES_MAX 1000
#define PUBLIC_NOTE_MAX	 1000

/* Sized by the booker sub-schema's bounds (proto/ops.h). */
struct booker {
	char name[PROTO_NAME_MAX + 1], email[PROTO_EMAIL_MAX + 1],
	    phone[PROTO_PHONE_MAX + 1], notes[PROTO_NOTES_MAX + 1];
};

/* Public writes (book, cancel, reschedule) take a token from their
 * principal's bucket (--public-writes-per-minute); an empty bucket is
 * LIMIT with the wait in retry_after_ms. */
static struct ktab write_buckets;

static int public_write_gate(struct req *r)
{
	uint32_t per_min = r->s->cfg.limits.public_writes_per_minute;
	static int64_t last_sweep;
	int64_t now = mono_ms(), wait;

	if (r->role == ROLE_ADMIN || per_min == 0)
		return 0;
	if (now - last_sweep >= 60000) {
		caller_rate_sweep(&write_buckets, per_min, now);
		last_sweep = now;
	}
	wait = caller_rate_take(&write_buckets, r->principal, per_min, now);
	if (wait == 0)
		return 0;
	req_error(r, BOOKD_E_LIMIT, NULL,
		  "writes: at most %u a minute for one caller "
		  "(--public-writes-per-minute)",
		  per_min);
	r->e.retry_after_ms = wait;
	return r->e.code;
}

/* The booker map: its sub-schema (proto/ops.h ARGS_booker) checks types,
 * sizes, text and the email; then public callers meet smaller maxima. */
static int get_booker(struct req *r, struct booker *bk)
{
	static const struct {
		int field;
		const char *name;
		size_t pmax;
	} f[] = {{ARG_name, "booker.name", PUBLIC_NAME_MAX},
		 {ARG_email, "booker.email", PUBLIC_EMAIL_MAX},
		 {ARG_phone, "booker.phone", PUBLIC_PHONE_MAX},
		 {ARG_notes, "booker.notes", PUBLIC_NOTES_MAX}};
	char *dst[] = {bk->name, bk->email, bk->phone, bk->notes};
	size_t cap[] = {sizeof(bk->name), sizeof(bk->email), sizeof(bk->phone),
			sizeof(bk->notes)};
	const msgpack_object *a[ARG__COUNT];

	memset(bk, 0, sizeof(*bk));
	if (proto_validate_sub(&proto_booker, r->a[ARG_booker], a, &r->e))
		return r->e.code;
	for (size_t j = 0; j < sizeof(f) / sizeof(f[0]); j++) {
		const msgpack_object *v = a[f[j].field];
		if (v == NULL)
			continue;
		if (r->role != ROLE_ADMIN && v->via.str.size > f[j].pmax)
			return req_error(r, BOOKD_E_BAD_REQUEST, f[j].name,
					 "longer than %zu bytes", f[j].pmax);
		/* The schema bounds each field under its buffer, and the
		 * text check refused NUL. */
		if (wire_cstr(v, dst[j], cap[j]) < 0)
			return req_error(r, BOOKD_E_INTERNAL, f[j].name,
					 "does not fit");
	}
	if (!bk->name[0])
		return req_error(r, BOOKD_E_BAD_REQUEST, "booker.name",
				 "required");
	if (!bk->email[0])
		return req_error(r, BOOKD_E_BAD_REQUEST, "booker.email",
				 "required");
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
		return req_error(r, BOOKD_E_BAD_REQUEST, "resource",
				 "give exactly one of resource and "
				 "resources");
	if (one) {
		struct resource *res = find_res(r, one, "resource", true);
		if (res == NULL)
			return r->e.code;
		items[0] = (struct item){res->idx, 1};
		*nitems = 1;
		standalone = res->standalone;
	} else {
		if (many->via.array.size == 0)
			return req_error(r, BOOKD_E_BAD_REQUEST, "resources",
					 "at least one resource");
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
						return req_error(
						    r, BOOKD_E_BAD_REQUEST,
						    field,
						    "unknown field "
						    "(expected id, "
						    "quantity)");
				id = wire_get(o, "id");
				q = wire_get(o, "quantity");
			}
			if (id == NULL || id->type != MSGPACK_OBJECT_STR)
				return req_error(r, BOOKD_E_BAD_REQUEST, field,
						 "a resource id or {id, "
						 "quantity}");
			if (q &&
			    (q->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			     q->via.u64 < 1 || q->via.u64 > STATE_MAX_QUANTITY))
				return req_error(r, BOOKD_E_BAD_REQUEST, field,
						 "quantity: from 1 to %d",
						 STATE_MAX_QUANTITY);
			res = find_res(r, id, field, true);
			if (res == NULL)
				return r->e.code;
			for (int k = 0; k < *nitems; k++)
				if (items[k].res == res->idx)
					return req_error(
					    r, BOOKD_E_BAD_REQUEST, field,
					    "resource '%s' twice", res->id);
			if (q && q->via.u64 > res->quantity)
				return req_error(r, BOOKD_E_BAD_REQUEST, field,
						 "quantity: %s has %u units",
						 res->id, res->quantity);
			items[*nitems].res = res->idx;
			items[*nitems].qty = q ? (uint32_t)q->via.u64 : 1;
			(*nitems)++;
			standalone |= res->standalone;
		}
	}
	if (!standalone)
		return req_error(
		    r, BOOKD_E_BAD_REQUEST, one ? "resource" : "resources",
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
			   r->role == ROLE_ADMIN ? VIEW_ADMIN : VIEW_PUBLIC);
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
			return r->e.code;
	if (et->min_notice && start < now_s + (int64_t)et->min_notice * 60)
		return req_error(r, BOOKD_E_OUT_OF_RANGE, NULL,
				 "start: '%s' needs %u minutes' notice", et->id,
				 et->min_notice);
	if (et->max_future && start > now_s + (int64_t)et->max_future * 60)
		return req_error(r, BOOKD_E_OUT_OF_RANGE, NULL,
				 "start: '%s' books at most %u minutes ahead",
				 et->id, et->max_future);
	return 0;
}

/* What public callers may book: nothing that has started, and with
 * --public-requires-event-type only through an event type, whose lengths,
 * notice, window and buffers then bind them. */
static int public_span_rules(struct req *r, const struct event_type *et,
			     int64_t start, const char *etfield)
{
	if (r->role == ROLE_ADMIN)
		return 0;
	if (start < now_ms() / 1000)
		return req_error(r, BOOKD_E_OUT_OF_RANGE, "start",
				 "in the past: public bookings start now or "
				 "later");
	if (et == NULL && r->s->cfg.limits.public_requires_event_type)
		return req_error(r, BOOKD_E_BAD_REQUEST, etfield,
				 "required for public bookings "
				 "(--public-requires-event-type)");
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
	if (r->a[ARG_by] && r->role != ROLE_ADMIN)
		return req_error(r, BOOKD_E_FORBIDDEN, NULL, "by: admin only");
	return 0;
}

static int h_book(struct req *r)
{
	struct state *st = &r->s->st;
	struct item items[MAX_ITEMS];
	_Static_assert(MAX_ITEMS >= PROTO_BOOK_ITEMS_MAX,
		       "the schema's resources[] bound fits items[]");
	struct booker bk;
	struct booking b;
	struct hist h;
	struct check_out co;
	char session[SESSION_MAX + 1], tzbuf[65], notebuf[PROTO_NOTES_MAX + 1],
	    keybuf[PROTO_KEY_MAX + 1], bybuf[129];
	int nitems, status = BS_CONFIRMED;
	int64_t start, end, now = now_ms();
	const msgpack_object *key = r->a[ARG_key];
	const struct event_type *et;
	const struct tz *zone;
	int32_t bb = 0, ba = 0;

	if (public_write_gate(r) || get_items(r, items, &nitems) ||
	    get_span(r, &start, &end) || get_booker(r, &bk) ||
	    session_arg(r, session) || by_arg(r))
		return r->e.code;
	if (r->role != ROLE_ADMIN && r->a[ARG_note] &&
	    r->a[ARG_note]->via.str.size > PUBLIC_NOTE_MAX)
		return req_error(r, BOOKD_E_BAD_REQUEST, "note",
				 "longer than %d bytes", PUBLIC_NOTE_MAX);
	if (key) {
		const struct booking *prev = state_booking_by_key(
		    st, r->principal, key->via.str.ptr, key->via.str.size);
		if (key->via.str.size == 0)
			return req_error(r, BOOKD_E_BAD_REQUEST, "key",
					 "must not be empty");
		if (prev) {
			/* A repeat returns the first booking and books
			 * nothing; a different request under a used key is a
			 * mistake, and must not reveal that booking. */
			if (!same_request(prev, items, nitems, start, end,
					  bk.email))
				return req_error(r, BOOKD_E_BAD_REQUEST, "key",
						 "already used for a different "
						 "booking");
			state_pack_booking(r->pk, st, prev,
					   r->role == ROLE_ADMIN ? VIEW_ADMIN
								 : VIEW_PUBLIC);
			return 0;
		}
	}
	if (event_type_arg(r, r->a[ARG_event_type], &et) ||
	    public_span_rules(r, et, start, "event_type"))
		return r->e.code;
	if (et) {
		if (et_rules(r, et, items, nitems, start, end))
			return r->e.code;
		if (et->requires_confirmation)
			status = BS_PENDING;
		bb = (int32_t)et->buffer_before * 60;
		ba = (int32_t)et->buffer_after * 60;
	}
	if (r->a[ARG_status]) {
		if (r->role != ROLE_ADMIN)
			return req_error(r, BOOKD_E_FORBIDDEN, NULL,
					 "status: admin only");
		status = bstatus_parse(r->a[ARG_status]);
		if (status != BS_PENDING && status != BS_CONFIRMED)
			return req_error(r, BOOKD_E_BAD_REQUEST, "status",
					 "'pending' or 'confirmed'");
	}
	if (get_tz(r, r->a[ARG_timezone], "timezone", NULL, &zone))
		return r->e.code;
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
	b.owner = r->principal;
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
		req_error(r, BOOKD_E_BAD_REQUEST, "id",
			  "give exactly one of id and ref");
		return NULL;
	}
	if (id && r->role != ROLE_ADMIN) {
		req_error(r, BOOKD_E_FORBIDDEN, NULL,
			  "id: admin only; use ref");
		return NULL;
	}
	if (id)
		b = state_booking(&r->s->st, id->via.u64);
	else
		b = state_booking_by_ref(&r->s->st, ref->via.str.ptr,
					 ref->via.str.size);
	if (b == NULL) {
		req_error(r, BOOKD_E_NOT_FOUND, id ? "id" : "ref",
			  "no such booking");
	}
	return b;
}

static int h_booking_get(struct req *r)
{
	struct booking *b = find_booking(r);

	if (b == NULL)
		return r->e.code;
	state_pack_booking(r->pk, &r->s->st, b,
			   r->role == ROLE_ADMIN ? VIEW_ADMIN : VIEW_PUBLIC);
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
	uint32_t n = 0, i, last = 0;
	bool more = false;
	struct page pg;

	if (limit < 1 || limit > MAX_LIST)
		return req_error(r, BOOKD_E_BAD_REQUEST, "limit",
				 "from 1 to %d", MAX_LIST);
	page_init(&pg);
	if (a[ARG_resource]) {
		struct resource *rr =
		    find_res(r, a[ARG_resource], "resource", true);
		if (rr == NULL)
			return r->e.code;
		res = (int)rr->idx;
	}
	if (a[ARG_status] && (status = bstatus_parse(a[ARG_status])) < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "status",
				 "not a booking status");
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
		page_mark(&pg);
		state_pack_booking(&pg.pk, st, st->bk[i], VIEW_ADMIN);
		if (page_over(&pg, n)) {
			more = true;
			break;
		}
		n++;
		last = i + 1;
	}
	msgpack_pack_map(r->pk, more ? 2 : 1);
	wire_pk_str(r->pk, "bookings");
	page_emit(&pg, r->pk, n);
	if (more)
		wire_pk_kint(r->pk, "next", last);
	return 0;
}

/* Move b to status `to` (or, with a new span, reschedule it): log the
 * change alone, apply it, and reply with the stored booking. */
static int change_booking(struct req *r, const struct booking *cur, int to,
			  int64_t start, int64_t end, const char *reason,
			  int ev)
{
	struct wbuf rec = {0};
	char bybuf[129];
	uint32_t id = cur->id;
	struct booking_change c = {
	    .status = (uint8_t)to,
	    .start = start,
	    .end = end,
	    .at_ms = now_ms(),
	    .by = objdup(r->a[ARG_by], bybuf, sizeof(bybuf)),
	    .reason = reason,
	    .event = ev,
	};

	if (by_arg(r))
		return r->e.code;
	if (c.by == NULL)
		c.by = actor(r);
	if (state_booking_change_record(&r->s->st, cur, &c, &r->s->cfg.limits,
					&rec, &r->e)) {
		wbuf_free(&rec);
		return r->e.code;
	}
	log_and_apply(r, WAL_BOOKING, &rec);
	wbuf_free(&rec);
	state_pack_booking(r->pk, &r->s->st, state_booking(&r->s->st, id),
			   r->role == ROLE_ADMIN ? VIEW_ADMIN : VIEW_PUBLIC);
	return 0;
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
		return req_error(r, BOOKD_E_INVALID_STATE, NULL,
				 "to: a %s booking cannot become %s",
				 bstatus_names[b->status], bstatus_names[to]);
	return change_booking(r, b, to, b->start, b->end,
			      objdup(r->a[ARG_reason], reason, sizeof(reason)),
			      status_event[to]);
}

static int h_booking_cancel(struct req *r)
{
	struct booking *b;

	if (public_write_gate(r) || (b = find_booking(r)) == NULL)
		return r->e.code;
	return transition(r, b, BS_CANCELLED);
}

static int h_booking_transition(struct req *r)
{
	struct booking *b = find_booking(r);
	int to;

	if (b == NULL)
		return r->e.code;
	to = bstatus_parse(r->a[ARG_to]);
	if (to < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "to",
				 "not a booking status");
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
	struct booking *b;
	struct check_out co;
	int64_t start, end;
	char reason[96], a[24], z[24], session[SESSION_MAX + 1];
	uint32_t id;
	int rc;

	if (public_write_gate(r) || (b = find_booking(r)) == NULL ||
	    get_span(r, &start, &end) || session_arg(r, session))
		return r->e.code;
	if (b->status != BS_PENDING && b->status != BS_CONFIRMED)
		return req_error(r, BOOKD_E_INVALID_STATE, NULL,
				 "a %s booking cannot be rescheduled",
				 bstatus_names[b->status]);
	/* Check the new span as a new booking would be (its event type's
	 * rules, its buffers, other sessions' holds), without the booking's
	 * own old span; then put the old span back. */
	{
		const struct event_type *et =
		    b->event_type ? state_event_type(st, b->event_type,
						     strlen(b->event_type))
				  : NULL;
		if (public_span_rules(r, et, start, "event_type") ||
		    (et && et_rules(r, et, b->items, b->nitems, start, end)))
			return r->e.code;
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

static int h_subscribe(struct req *r)
{
	struct resource *res =
	    find_res(r, r->a[ARG_resource], "resource", false);
	const msgpack_object *topic = r->a[ARG_topic];
	const struct tz *z;
	int64_t from, to;
	uint8_t t;
	uint64_t id;
	int rc;

	if (res == NULL)
		return r->e.code;
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
		return req_error(r, BOOKD_E_BAD_REQUEST, "topic",
				 "'slots' or 'holds'");
	if (r->a[ARG_from] && get_date(r, ARG_from, "from", &from))
		return r->e.code;
	if (r->a[ARG_to]) {
		if (get_date(r, ARG_to, "to", &to))
			return r->e.code;
	} else if (r->a[ARG_from]) {
		to = from;
	}
	if (to < from)
		return req_error(r, BOOKD_E_BAD_REQUEST, "to", "before from");
	rc = server_subscribe(r->s, r->c, t, res->idx, from, to, &id);
	if (rc)
		return req_error(r, rc, NULL,
				 "subscriptions: at most 4096 on one "
				 "connection");
	msgpack_pack_map(r->pk, 1);
	wire_pk_kint(r->pk, "sub", (int64_t)id);
	return 0;
}

static int h_unsubscribe(struct req *r)
{
	if (server_unsubscribe(r->s, r->c, r->a[ARG_sub]->via.u64))
		return req_error(r, BOOKD_E_NOT_FOUND, NULL,
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
	struct page pg;

	if (limit < 1 || limit > MAX_LIST)
		return req_error(r, BOOKD_E_BAD_REQUEST, "limit",
				 "from 1 to %d", MAX_LIST);
	while (lo < hi) { /* first event with lsn > after */
		size_t mid = lo + (hi - lo) / 2;
		if (st->ev[mid].lsn <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	page_init(&pg);
	for (n = 0; n < limit && lo + n < st->nev; n++) {
		const struct event *ev = &st->ev[lo + n];
		page_mark(&pg);
		msgpack_pack_map(&pg.pk, 4);
		wire_pk_kint(&pg.pk, "lsn", (int64_t)ev->lsn);
		wire_pk_kstr(&pg.pk, "type", event_names[ev->type]);
		wire_pk_kint(&pg.pk, "at_ms", ev->at_ms);
		wire_pk_str(&pg.pk, "booking");
		state_pack_booking(&pg.pk, st, st->bk[ev->booking - 1],
				   VIEW_ADMIN);
		if (page_over(&pg, (uint32_t)n))
			break;
	}
	msgpack_pack_map(r->pk, 2);
	wire_pk_str(r->pk, "events");
	page_emit(&pg, r->pk, (uint32_t)n);
	wire_pk_kint(r->pk, "next",
		     (int64_t)(n ? st->ev[lo + n - 1].lsn : after));
	return 0;
}

#define HANDLER_X(ident, wire, role, flags) [OP_##ident] = h_##ident,
const handler_fn op_handlers[OP__COUNT] = {BOOKD_OPS(HANDLER_X)};
#undef HANDLER_X

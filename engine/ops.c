/*
 * ops.c - the handlers' shared argument helpers, the session, stats,
 * subscription and events handlers, and the handler table; see handlers.h.
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
#include <string.h>

#include "bookings.h"
#include "handlers.h"
#include "token.h"

/* ---- argument helpers ------------------------------------------------- */

static const char *role_name(int role)
{
	return role == ROLE_ADMIN     ? "admin"
	       : role == ROLE_GATEWAY ? "gateway"
				      : "public";
}

/* The audit actor: the visitor's principal, else the token subject, else
 * the role. */
const char *actor(struct req *r)
{
	if (r->visitor)
		return r->principal;
	if (r->c->subject[0])
		return r->c->subject;
	return role_name(r->role);
}

bool valid_slug(const msgpack_object *o)
{
	return proto_slug_ok(o->via.str.ptr, o->via.str.size);
}

/* Look up the resource named by a string object; public callers do not see
 * deactivated resources at all unless want_inactive. */
struct resource *find_res(struct req *r, const msgpack_object *o,
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

/* A span's field refused: the field's name is made only here, so a valid
 * span costs no formatting. */
static int span_refuse(struct req *r, const char *pfx, const char *name,
		       const char *msg)
{
	char f[80];

	snprintf(f, sizeof(f), "%s%s", pfx, name);
	return req_error(r, BOOKD_E_BAD_REQUEST, f, "%s", msg);
}

/* Validate a span given as two objects; pfx prefixes the field names
 * ("holds[2]." inside hold.many). */
int span_of(struct req *r, const msgpack_object *so, const msgpack_object *eo,
	    const char *pfx, int64_t *start, int64_t *end)
{
	static const char unaligned[] =
	    "not a multiple of 900 seconds (15 minutes)";

	if (!wire_int(so, start))
		return span_refuse(r, pfx, "start", "out of range");
	if (!wire_int(eo, end))
		return span_refuse(r, pfx, "end", "out of range");
	if (!q_aligned(*start))
		return span_refuse(r, pfx, "start", unaligned);
	if (!q_aligned(*end))
		return span_refuse(r, pfx, "end", unaligned);
	if (*start >= *end)
		return span_refuse(r, pfx, "end", "must be after start");
	/* Far beyond any window: refuse before day arithmetic can overflow. */
	if (*start < -((int64_t)1 << 40) || *end > ((int64_t)1 << 40))
		return req_error(r, BOOKD_E_OUT_OF_RANGE, NULL,
				 "span: outside the bookable window");
	return 0;
}

int get_span(struct req *r, int64_t *start, int64_t *end)
{
	return span_of(r, r->a[ARG_start], r->a[ARG_end], "", start, end);
}

int get_date(struct req *r, int field, const char *name, int64_t *day)
{
	const msgpack_object *o = r->a[field];
	if (q_parse_date(o->via.str.ptr, o->via.str.size, day) < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, name,
				 "not a date (YYYY-MM-DD)");
	return 0;
}

/* Resolve a zone name argument; NULL object: the fallback. */
int get_tz(struct req *r, const msgpack_object *o, const char *field,
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

const struct tz *utc_zone(void)
{
	const struct tz *z = NULL;
	tz_get("UTC", &z); /* built in: cannot fail */
	return z;
}

/* The zone of a date argument: tz, else the resource's, else UTC. */
int date_zone(struct req *r, const struct resource *res, const struct tz **z)
{
	return get_tz(r, r->a[ARG_tz], "tz", res->tz ? res->tz : utc_zone(), z);
}

int get_minutes(struct req *r, int field, const char *name, uint64_t dflt,
		int64_t *secs)
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
int session_arg(struct req *r, char *buf)
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

void window_text(const struct state *st, char *buf, size_t len)
{
	char from[11], to[11];

	q_format_date(st->first_day, from);
	q_format_date(st->last_day, to);
	snprintf(buf, len, "bookable from %s to %s", from, to);
}

/* Turn a refused check into the error reply. */
int check_failed(struct req *r, const struct check_out *co)
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
	default: {
		char win[64];

		window_text(&r->s->st, win, sizeof win);
		return req_error(
		    r, co->err, NULL,
		    "span: outside the bookable window: %s (UTC "
		    "dates; %" PRId64 " days back to %" PRId64 " days ahead)",
		    win,
		    r->s->cfg.past_days > 0 ? (int64_t)r->s->cfg.past_days : 0,
		    (int64_t)r->s->cfg.horizon_days);
	}
	}
	snprintf(r->e.resource, sizeof(r->e.resource), "%s", id);
	return r->e.code;
}

int log_and_apply(struct req *r, uint16_t type, struct wbuf *rec)
{
	struct server *s = r->s;
	uint64_t lsn = server_log_record(s, type, rec);

	if (lsn == 0)
		return req_error(r, BOOKD_E_TOO_LARGE, "record",
				 "%zu bytes, more than the log takes (limit)",
				 rec->len);
	if (state_apply(&s->st, type, rec->data, (uint32_t)rec->len, lsn,
			now_ms()) < 0) {
		/* A record the engine just built must apply; if it does not,
		 * the log now holds something recovery cannot replay. */
		log_msg("FATAL: record at LSN %" PRIu64 " does not apply", lsn);
		abort();
	}
	return 0;
}

void page_init(struct page *p)
{
	memset(p, 0, sizeof(*p));
	wbuf_packer_init(&p->pk, &p->buf);
}

void page_mark(struct page *p)
{
	p->mark = p->buf.len;
}

/* Did the entry packed since page_mark overflow a page that already holds
 * n entries?  Then it is taken back. */
bool page_over(struct page *p, uint32_t n)
{
	if (p->buf.len <= REPLY_BUDGET || n == 0)
		return false;
	p->buf.len = p->mark;
	return true;
}

/* Pack the page as an array of its n entries, and free it. */
void page_emit(struct page *p, msgpack_packer *pk, uint32_t n)
{
	msgpack_pack_array(pk, n);
	if (p->buf.len)
		pk->callback(pk->data, p->buf.data, p->buf.len);
	wbuf_free(&p->buf);
}

int event_type_arg(struct req *r, const msgpack_object *o,
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
int et_allows(struct req *r, const struct event_type *e,
	      const struct resource *res, int64_t len, const char *lenfield)
{
	return state_et_allows(e, res, len, lenfield, &r->e);
}

/* ---- session ---------------------------------------------------------- */

int h_hello(struct req *r)
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
		c->principal[0] = 0;
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

int h_ping(struct req *r)
{
	wire_pk_str(r->pk, "pong");
	return 0;
}

int h_stats(struct req *r)
{
	struct server *s = r->s;
	struct wal_stats ws;

	wal_get_stats(s->wal, &ws);
	msgpack_pack_map(r->pk, 21);
	wire_pk_kint(r->pk, "connections", s->nconns);
	wire_pk_kint(r->pk, "cut_off", (int64_t)s->stats.cut_off);
	wire_pk_kint(r->pk, "connections_total", (int64_t)s->stats.conns_total);
	wire_pk_kint(r->pk, "ops", (int64_t)s->stats.ops);
	wire_pk_kint(r->pk, "commits", (int64_t)s->stats.commits);
	wire_pk_kint(r->pk, "fsyncs", (int64_t)s->stats.fsyncs);
	wire_pk_kint(r->pk, "inline_syncs", (int64_t)s->stats.inline_syncs);
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

/* ---- subscriptions and events ----------------------------------------- */

/* The events feed (admin): a push when new events are durable. */
static int subscribe_events(struct req *r)
{
	uint64_t id;

	if (r->role != ROLE_ADMIN)
		return req_error(r, BOOKD_E_FORBIDDEN, "topic",
				 "'events' is admin only");
	if (r->a[ARG_resource] || r->a[ARG_from] || r->a[ARG_to])
		return req_error(r, BOOKD_E_BAD_REQUEST, "resource",
				 "topic 'events' takes no resource, from or "
				 "to");
	if (server_subscribe(r->s, r->c, TOPIC_EVENTS, 0, 0, 0, &id))
		return req_error(r, BOOKD_E_LIMIT, NULL,
				 "subscriptions: limit reached (4096 on one "
				 "connection, --max-subs-per-caller of one "
				 "caller, --max-subs in all)");
	msgpack_pack_map(r->pk, 1);
	wire_pk_kint(r->pk, "sub", (int64_t)id);
	return 0;
}

int h_subscribe(struct req *r)
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
		return req_error(r, BOOKD_E_BAD_REQUEST, "resource",
				 "required");
	res = find_res(r, r->a[ARG_resource], "resource", false);
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
				 "'slots', 'holds' or 'events'");
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
				 "subscriptions: limit reached (4096 on one "
				 "connection, --max-subs-per-caller of one "
				 "caller, --max-subs in all)");
	msgpack_pack_map(r->pk, 1);
	wire_pk_kint(r->pk, "sub", (int64_t)id);
	return 0;
}

int h_unsubscribe(struct req *r)
{
	if (server_unsubscribe(r->s, r->c, r->a[ARG_sub]->via.u64))
		return req_error(r, BOOKD_E_NOT_FOUND, NULL,
				 "sub: no such subscription on this "
				 "connection");
	msgpack_pack_map(r->pk, 0);
	return 0;
}

int h_events(struct req *r)
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
	/* An LSN is a uint64: packed as one, so after = 2^64 - 1 comes back
	 * as itself, not as -1. */
	wire_pk_str(r->pk, "next");
	msgpack_pack_uint64(r->pk, n ? st->ev[lo + n - 1].lsn : after);
	return 0;
}

#define HANDLER_X(ident, wire, role, flags) [OP_##ident] = h_##ident,
const handler_fn op_handlers[OP__COUNT] = {BOOKD_OPS(HANDLER_X)};
#undef HANDLER_X

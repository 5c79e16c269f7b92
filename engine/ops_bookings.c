/*
 * ops_bookings.c - the handlers of bookings; see handlers.h.
 */
#include "handlers.h"

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
	int rc = log_and_apply(r, WAL_BOOKING, &rec);

	wbuf_free(&rec);
	if (rc)
		return rc;
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
	if (et->min_notice && start < now_s + (int64_t)et->min_notice * 60) {
		int64_t first = now_s + (int64_t)et->min_notice * 60;
		char m[32], at[40];

		/* The first start on the quarter grid that is far enough. */
		first = (q_floor_div(first - 1, Q_SECONDS) + 1) * Q_SECONDS;
		minutes_text(et->min_notice, m, sizeof m);
		instant_text(first, at, sizeof at);
		return req_error(r, BOOKD_E_OUT_OF_RANGE, "start",
				 "'%s' needs at least %s notice: bookable from "
				 "%s",
				 et->id, m, at);
	}
	if (et->max_future && start > now_s + (int64_t)et->max_future * 60) {
		char m[32], at[40];

		minutes_text(et->max_future, m, sizeof m);
		instant_text(now_s + (int64_t)et->max_future * 60, at,
			     sizeof at);
		return req_error(r, BOOKD_E_OUT_OF_RANGE, "start",
				 "'%s' books at most %s ahead: bookable until "
				 "%s",
				 et->id, m, at);
	}
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

int h_book(struct req *r)
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
	if (write_booking(r, &b, EV_CREATED))
		return r->e.code;
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

int h_booking_get(struct req *r)
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

int h_booking_list(struct req *r)
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
	/* By e-mail: walk the booker's own list (ids ascending), not every
	 * booking. */
	if (a[ARG_email]) {
		const struct id_list *l = state_bookings_by_email(
		    st, a[ARG_email]->via.str.ptr, a[ARG_email]->via.str.size);
		uint32_t k = 0, lo = 0, hi = l ? l->n : 0;

		/* The first id past the cursor. */
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (l->ids[mid] <= after)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (k = lo; l && k < l->n; k++) {
			const struct booking *b = st->bk[l->ids[k] - 1];

			if (!booking_matches(b, res, status,
					     a[ARG_from] ? &from : NULL,
					     a[ARG_to] ? &to : NULL))
				continue;
			if (n == limit) {
				more = true;
				break;
			}
			page_mark(&pg);
			state_pack_booking(&pg.pk, st, b, VIEW_ADMIN);
			if (page_over(&pg, n)) {
				more = true;
				break;
			}
			n++;
			last = b->id;
		}
		goto done;
	}
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
done:
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
	if (log_and_apply(r, WAL_BOOKING, &rec)) {
		wbuf_free(&rec);
		return r->e.code;
	}
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

int h_booking_cancel(struct req *r)
{
	struct booking *b;

	if (public_write_gate(r) || (b = find_booking(r)) == NULL)
		return r->e.code;
	return transition(r, b, BS_CANCELLED);
}

int h_booking_transition(struct req *r)
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

int h_booking_reschedule(struct req *r)
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

/*
 * ops_bookings.c - the handlers of bookings; see handlers.h.
 */
#include "bookings.h"
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

/* `by` names the actor in a booking's history: staff only.  Public callers
 * are recorded as their token's subject, or "public". */
static int by_arg(struct req *r)
{
	if (r->a[ARG_by] && r->role != ROLE_ADMIN)
		return req_error(r, BOOKD_E_FORBIDDEN, NULL, "by: admin only");
	return 0;
}

/* A string argument as the domain takes it. */
static struct book_str arg_str(const msgpack_object *o)
{
	if (o == NULL)
		return (struct book_str){NULL, 0};
	return (struct book_str){o->via.str.ptr, o->via.str.size};
}

static void reply_booking(struct req *r, const struct booking *b)
{
	state_pack_booking(r->pk, &r->s->st, b,
			   r->role == ROLE_ADMIN ? VIEW_ADMIN : VIEW_PUBLIC);
}

/* Log a checked booking record, apply it, and reply with booking id. */
static int log_booking(struct req *r, struct wbuf *rec, uint32_t id)
{
	int rc = log_and_apply(r, WAL_BOOKING, rec);

	wbuf_free(rec);
	if (rc)
		return rc;
	reply_booking(r, state_booking(&r->s->st, id));
	return 0;
}

int h_book(struct req *r)
{
	struct state *st = &r->s->st;
	struct item items[MAX_ITEMS];
	_Static_assert(MAX_ITEMS >= PROTO_BOOK_ITEMS_MAX,
		       "the schema's resources[] bound fits items[]");
	struct booker bk;
	struct check_out co;
	struct wbuf rec = {0};
	const struct booking *repeat;
	char session[SESSION_MAX + 1], bybuf[129];
	uint32_t id = st->nbk + 1;
	struct book_in in = {.items = items};

	if (public_write_gate(r) || get_items(r, items, &in.nitems) ||
	    get_span(r, &in.start, &in.end) || get_booker(r, &bk) ||
	    session_arg(r, session) || by_arg(r))
		return r->e.code;
	in.name = bk.name;
	in.email = bk.email;
	in.phone = bk.phone[0] ? bk.phone : NULL;
	in.notes = bk.notes[0] ? bk.notes : NULL;
	in.event_type = arg_str(r->a[ARG_event_type]);
	in.timezone = arg_str(r->a[ARG_timezone]);
	in.note = arg_str(r->a[ARG_note]);
	in.key = arg_str(r->a[ARG_key]);
	in.status_given = r->a[ARG_status] != NULL;
	in.status = in.status_given ? bstatus_parse(r->a[ARG_status]) : -1;
	in.session = session[0] ? session : NULL;
	in.owner = r->principal;
	in.actor = objdup(r->a[ARG_by], bybuf, sizeof(bybuf));
	if (in.actor == NULL)
		in.actor = actor(r);
	in.admin = r->role == ROLE_ADMIN;
	in.now_ms = now_ms();
	if (state_book_record(st, &in, &r->s->cfg.limits, &rec, &r->e, &co,
			      &repeat)) {
		wbuf_free(&rec);
		return co.err ? check_failed(r, &co) : r->e.code;
	}
	if (repeat) {
		reply_booking(r, repeat);
		return 0;
	}
	if (log_booking(r, &rec, id))
		return r->e.code;
	/* The caller's own holds on these resources have become the
	 * booking. */
	state_book_release_holds(st, items, in.nitems, in.session);
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

/* The common part of a change's input: who does it, and when. */
static void change_in(struct req *r, struct booking_change_in *in,
		      char bybuf[129])
{
	memset(in, 0, sizeof(*in));
	in->by_given = r->a[ARG_by] != NULL;
	in->by = objdup(r->a[ARG_by], bybuf, 129);
	in->actor = actor(r);
	in->admin = r->role == ROLE_ADMIN;
	in->now_ms = now_ms();
}

static int transition(struct req *r, struct booking *b, int to)
{
	struct booking_change_in in;
	struct wbuf rec = {0};
	char reason[1025], bybuf[129];

	change_in(r, &in, bybuf);
	in.reason = objdup(r->a[ARG_reason], reason, sizeof(reason));
	if (state_transition_record(&r->s->st, b, to, &in, &r->s->cfg.limits,
				    &rec, &r->e)) {
		wbuf_free(&rec);
		return r->e.code;
	}
	return log_booking(r, &rec, b->id);
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

int h_booking_reschedule(struct req *r)
{
	struct state *st = &r->s->st;
	struct booking *b;
	struct booking_change_in in;
	struct check_out co;
	struct wbuf rec = {0};
	char session[SESSION_MAX + 1], bybuf[129];
	uint32_t id;

	change_in(r, &in, bybuf);
	if (public_write_gate(r) || (b = find_booking(r)) == NULL ||
	    get_span(r, &in.start, &in.end) || session_arg(r, session))
		return r->e.code;
	in.session = session[0] ? session : NULL;
	if (state_reschedule_record(st, b, &in, &r->s->cfg.limits, &rec, &r->e,
				    &co)) {
		wbuf_free(&rec);
		return co.err ? check_failed(r, &co) : r->e.code;
	}
	id = b->id; /* b is replaced by the new record */
	if (log_booking(r, &rec, id))
		return r->e.code;
	/* As with book: the caller's own holds have become the booking. */
	b = state_booking(st, id);
	state_book_release_holds(st, b->items, b->nitems, in.session);
	return 0;
}

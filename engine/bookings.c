/*
 * bookings.c - the domain's booking mutations; see bookings.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookings.h"
#include "quanta.h"

int state_et_allows(const struct event_type *et, const struct resource *res,
		    int64_t len, const char *lenfield, struct proto_error *e)
{
	bool ok = false;
	char offered[128] = "";
	size_t n = 0;

	if (!state_et_links(et, res->idx))
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "event_type",
				     "'%s' does not use resource '%s'", et->id,
				     res->id);
	for (uint32_t i = 0; i < et->nlengths; i++) {
		ok |= (int64_t)et->lengths[i] * 60 == len;
		if (n < sizeof(offered))
			n += (size_t)snprintf(offered + n, sizeof(offered) - n,
					      "%s%u", i ? ", " : "",
					      et->lengths[i]);
	}
	if (!ok)
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, lenfield,
				     "%" PRId64 " minutes is not a length of "
				     "'%s' (offers %s)",
				     len / 60, et->id, offered);
	return 0;
}

/* A NUL-terminated copy of s into buf, or NULL when absent or too long. */
static char *strdup_in(struct book_str s, char *buf, size_t len)
{
	if (s.ptr == NULL || s.len >= len || memchr(s.ptr, 0, s.len))
		return NULL;
	memcpy(buf, s.ptr, s.len);
	buf[s.len] = 0;
	return buf;
}

/*
 * A booking's reference: 16 random bytes in hex.  The bytes come from a
 * pool filled by one arc4random_buf per 256 references: libbsd's
 * arc4random_buf asks the kernel for the PID on every call (to notice a
 * fork), a system call per booking otherwise.  Bytes are wiped from the
 * pool as they are used, so the pool never holds a reference already
 * handed out.  Only the engine's thread makes references.
 */
static void random_ref(char out[33])
{
	static unsigned char pool[16 * 256];
	static size_t left;
	static const char d[] = "0123456789abcdef";
	unsigned char *b;

	if (left < 16) {
		arc4random_buf(pool, sizeof(pool));
		left = sizeof(pool);
	}
	b = pool + sizeof(pool) - left;
	left -= 16;
	for (int i = 0; i < 16; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[32] = 0;
	explicit_bzero(b, 16);
}

/*
 * Can items take [start, end) with buffers bb before and ba after?  The
 * span itself must be open and clear of bookings and of other sessions'
 * holds; the buffers need only be clear of bookings (and their buffers).
 */
static int check_span(struct state *st, const struct item *items, int nitems,
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

/* An event type's rules for a span: linked resources, one of its lengths,
 * its notice and its window. */
static int et_rules(const struct state *st, const struct event_type *et,
		    const struct item *items, int nitems, int64_t start,
		    int64_t end, int64_t now_ms, struct proto_error *e)
{
	int64_t now_s = now_ms / 1000;

	for (int i = 0; i < nitems; i++)
		if (state_et_allows(et, st->res[items[i].res], end - start,
				    "end", e))
			return e->code;
	if (et->min_notice && start < now_s + (int64_t)et->min_notice * 60) {
		int64_t first = now_s + (int64_t)et->min_notice * 60;
		char m[32], at[40];

		/* The first start on the quarter grid that is far enough. */
		first = (q_floor_div(first - 1, Q_SECONDS) + 1) * Q_SECONDS;
		q_minutes_text(et->min_notice, m, sizeof m);
		q_instant_text(first, at, sizeof at);
		return proto_err_set(e, BOOKD_E_OUT_OF_RANGE, "start",
				     "'%s' needs at least %s notice: bookable "
				     "from %s",
				     et->id, m, at);
	}
	if (et->max_future && start > now_s + (int64_t)et->max_future * 60) {
		char m[32], at[40];

		q_minutes_text(et->max_future, m, sizeof m);
		q_instant_text(now_s + (int64_t)et->max_future * 60, at,
			       sizeof at);
		return proto_err_set(e, BOOKD_E_OUT_OF_RANGE, "start",
				     "'%s' books at most %s ahead: bookable "
				     "until %s",
				     et->id, m, at);
	}
	return 0;
}

/* What public callers may book: nothing that has started, and with
 * --public-requires-event-type only through an event type, whose lengths,
 * notice, window and buffers then bind them. */
static int public_span_rules(bool admin, const struct caller_limits *lim,
			     const struct event_type *et, int64_t start,
			     int64_t now_ms, struct proto_error *e)
{
	if (admin)
		return 0;
	if (start < now_ms / 1000)
		return proto_err_set(e, BOOKD_E_OUT_OF_RANGE, "start",
				     "in the past: public bookings start now "
				     "or later");
	if (et == NULL && lim->public_requires_event_type)
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "event_type",
				     "required for public bookings "
				     "(--public-requires-event-type)");
	return 0;
}

/* Does an earlier booking match this request (for idempotency keys)? */
static bool same_request(const struct booking *b, const struct book_in *in)
{
	if (b->start != in->start || b->end != in->end ||
	    b->nitems != in->nitems ||
	    strcmp(b->email ? b->email : "", in->email) != 0)
		return false;
	for (int i = 0; i < in->nitems; i++)
		if (b->items[i].res != in->items[i].res ||
		    b->items[i].qty != in->items[i].qty)
			return false;
	return true;
}

int state_book_record(struct state *st, const struct book_in *in,
		      const struct caller_limits *lim, struct wbuf *rec,
		      struct proto_error *e, struct check_out *co,
		      const struct booking **repeat)
{
	const struct event_type *et = NULL;
	const struct tz *zone;
	struct booking b;
	struct hist h;
	msgpack_packer pk;
	char tzbuf[65], notebuf[PROTO_NOTES_MAX + 1], keybuf[PROTO_KEY_MAX + 1];
	int status = BS_CONFIRMED;
	int32_t bb = 0, ba = 0;

	assert(in->nitems > 0 && in->nitems <= MAX_ITEMS);
	assert(in->start < in->end && in->name && in->email);
	co->err = 0;
	*repeat = NULL;
	if (!in->admin && in->note.ptr && in->note.len > PUBLIC_NOTE_MAX)
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "note",
				     "longer than %d bytes", PUBLIC_NOTE_MAX);
	if (in->key.ptr) {
		const struct booking *prev = state_booking_by_key(
		    st, in->owner, in->key.ptr, in->key.len);
		if (in->key.len == 0)
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, "key",
					     "must not be empty");
		if (prev) {
			/* A repeat returns the first booking and books
			 * nothing; a different request under a used key is a
			 * mistake, and must not reveal that booking. */
			if (!same_request(prev, in))
				return proto_err_set(
				    e, BOOKD_E_BAD_REQUEST, "key",
				    "already used for a different booking");
			*repeat = prev;
			return 0;
		}
	}
	if (in->event_type.ptr) {
		et = state_event_type(st, in->event_type.ptr,
				      in->event_type.len);
		if (et == NULL || (!et->active && !in->admin))
			return proto_err_set(
			    e, BOOKD_E_NOT_FOUND, "event_type",
			    "no event type '%.*s'",
			    (int)(in->event_type.len > PROTO_SLUG_MAX
				      ? PROTO_SLUG_MAX
				      : in->event_type.len),
			    in->event_type.ptr);
	}
	if (public_span_rules(in->admin, lim, et, in->start, in->now_ms, e))
		return e->code;
	if (et) {
		if (et_rules(st, et, in->items, in->nitems, in->start, in->end,
			     in->now_ms, e))
			return e->code;
		if (et->requires_confirmation)
			status = BS_PENDING;
		bb = (int32_t)et->buffer_before * 60;
		ba = (int32_t)et->buffer_after * 60;
	}
	if (in->status_given) {
		if (!in->admin)
			return proto_err_set(e, BOOKD_E_FORBIDDEN, NULL,
					     "status: admin only");
		status = in->status;
		if (status != BS_PENDING && status != BS_CONFIRMED)
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, "status",
					     "'pending' or 'confirmed'");
	}
	if (in->timezone.ptr) {
		char name[TZ_NAME_MAX + 1];
		if (strdup_in(in->timezone, name, sizeof(name)) == NULL ||
		    tz_get(name, &zone) < 0)
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, "timezone",
					     "unknown time zone '%.*s'",
					     (int)(in->timezone.len > 64
						       ? 64
						       : in->timezone.len),
					     in->timezone.ptr);
	}
	if (check_span(st, in->items, in->nitems, in->start, in->end, bb, ba,
		       in->session, co))
		return co->err;

	memset(&b, 0, sizeof(b));
	b.id = st->nbk + 1;
	random_ref(b.ref);
	b.status = (uint8_t)status;
	b.start = in->start;
	b.end = in->end;
	b.buf_before = bb;
	b.buf_after = ba;
	b.event_type = et ? (char *)et->id : NULL;
	b.items = (struct item *)in->items;
	b.nitems = (uint8_t)in->nitems;
	b.name = (char *)in->name;
	b.email = (char *)in->email;
	b.phone = (char *)in->phone;
	b.notes = (char *)in->notes;
	b.timezone = strdup_in(in->timezone, tzbuf, sizeof(tzbuf));
	b.note = strdup_in(in->note, notebuf, sizeof(notebuf));
	b.key = strdup_in(in->key, keybuf, sizeof(keybuf));
	b.owner = (char *)in->owner;
	b.created_ms = b.updated_ms = in->now_ms;
	h = (struct hist){in->now_ms, -1, (int8_t)status, (char *)in->actor,
			  NULL};
	b.hist = &h;
	b.nhist = 1;
	wbuf_packer_init(&pk, rec);
	state_pack_booking_rec(&pk, st, &b, EV_CREATED);
	return 0;
}

/* The change record of cur with the actor of in. */
static int change_record(const struct state *st, const struct booking *cur,
			 struct booking_change *c,
			 const struct booking_change_in *in,
			 const struct caller_limits *lim, struct wbuf *rec,
			 struct proto_error *e)
{
	if (in->by_given && !in->admin)
		return proto_err_set(e, BOOKD_E_FORBIDDEN, NULL,
				     "by: admin only");
	c->at_ms = in->now_ms;
	c->by = in->by ? in->by : in->actor;
	return state_booking_change_record(st, cur, c, lim, rec, e);
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

int state_reschedule_record(struct state *st, const struct booking *cur,
			    const struct booking_change_in *in,
			    const struct caller_limits *lim, struct wbuf *rec,
			    struct proto_error *e, struct check_out *co)
{
	const struct event_type *et = NULL;
	char reason[96], a[24], z[24];
	int rc;

	co->err = 0;
	if (cur->status != BS_PENDING && cur->status != BS_CONFIRMED)
		return proto_err_set(e, BOOKD_E_INVALID_STATE, NULL,
				     "a %s booking cannot be rescheduled",
				     bstatus_names[cur->status]);
	/* Check the new span as a new booking would be (its event type's
	 * rules, its buffers, other sessions' holds), without the booking's
	 * own old span; then put the old span back. */
	if (cur->event_type)
		et = state_event_type(st, cur->event_type,
				      strlen(cur->event_type));
	if (public_span_rules(in->admin, lim, et, in->start, in->now_ms, e) ||
	    (et && et_rules(st, et, cur->items, cur->nitems, in->start, in->end,
			    in->now_ms, e)))
		return e->code;
	state_occupy(st, cur, -1, false);
	rc = check_span(st, cur->items, cur->nitems, in->start, in->end,
			cur->buf_before, cur->buf_after, in->session, co);
	state_occupy(st, cur, +1, false);
	if (rc)
		return rc;
	fmt_instant(cur->start, a);
	fmt_instant(in->start, z);
	snprintf(reason, sizeof(reason), "rescheduled from %s to %s", a, z);
	return change_record(st, cur,
			     &(struct booking_change){.status = cur->status,
						      .start = in->start,
						      .end = in->end,
						      .reason = reason,
						      .event = EV_RESCHEDULED},
			     in, lim, rec, e);
}

static const int status_event[BS__COUNT] = {
    [BS_PENDING] = EV_NONE,	   [BS_CONFIRMED] = EV_CONFIRMED,
    [BS_DECLINED] = EV_DECLINED,   [BS_CANCELLED] = EV_CANCELLED,
    [BS_COMPLETED] = EV_COMPLETED, [BS_NO_SHOW] = EV_NO_SHOW,
};

int state_transition_record(const struct state *st, const struct booking *cur,
			    int to, const struct booking_change_in *in,
			    const struct caller_limits *lim, struct wbuf *rec,
			    struct proto_error *e)
{
	assert(to >= 0 && to < BS__COUNT);
	if (!bstatus_can_move(cur->status, to))
		return proto_err_set(e, BOOKD_E_INVALID_STATE, NULL,
				     "to: a %s booking cannot become %s",
				     bstatus_names[cur->status],
				     bstatus_names[to]);
	return change_record(
	    st, cur,
	    &(struct booking_change){.status = (uint8_t)to,
				     .start = cur->start,
				     .end = cur->end,
				     .reason = in->reason,
				     .event = status_event[to]},
	    in, lim, rec, e);
}

void state_book_release_holds(struct state *st, const struct item *items,
			      int nitems, const char *session)
{
	if (session == NULL)
		return;
	for (int i = 0; i < nitems; i++)
		state_hold_release(st, st->res[items[i].res], session);
}

/*
 * calls.c - libbookd's typed helpers: each packs its arguments, makes one
 * bookd_call() and copies the parts of the result it promises into the
 * caller's structs.  See bookd.h for the API.
 *
 * A result that lacks a promised field or has it wrongly typed is
 * BOOKD_E_PROTO (the server broke the contract); the connection stays
 * usable.  Arguments are built with the connection's own bookd_args
 * (args.c), so a helper allocates nothing once the connection has made
 * one call.
 */
#include <stdlib.h>
#include <string.h>

#include "client_priv.h"
#include "wire.h"

/* id, or ref when ref is not NULL: how bookings are named. */
static void a_id_or_ref(bookd_args *a, uint64_t id, const char *ref)
{
	if (ref)
		bookd_args_str(a, "ref", ref);
	else
		bookd_args_uint(a, "id", id);
}

/* The connection's builder, or NULL with BOOKD_E_NOMEM recorded. */
static bookd_args *args_begin(bookd_conn *c, int *rc)
{
	bookd_args *a = bookd_conn_args_(c);

	*rc = a ? 0 : bookd_fail_(c, BOOKD_E_NOMEM, "out of memory");
	return a;
}

static int bad_result(bookd_conn *c, const char *op, const char *what)
{
	return bookd_fail_(c, BOOKD_E_PROTO, "%s: result %s", op, what);
}

static int hello(bookd_conn *c, const char *client, const char *role,
		 const char *token, struct bookd_hello_info *info)
{
	const msgpack_object *r;
	int rc;
	bookd_args *a = args_begin(c, &rc);

	if (a == NULL)
		return rc;
	bookd_args_str(a, "client", client);
	bookd_args_str(a, "role", role);
	bookd_args_str(a, "token", token);
	rc = bookd_call_args(c, "hello", a, &r);
	if (rc < 0)
		return rc;
	if (r->type != MSGPACK_OBJECT_MAP)
		return bad_result(c, "hello", "is not a map");
	if (info == NULL)
		return 0;
	memset(info, 0, sizeof *info);
	bookd_copy_str_(wire_get(r, "server"), info->server,
			sizeof info->server);
	bookd_copy_str_(wire_get(r, "version"), info->version,
			sizeof info->version);
	bookd_copy_str_(wire_get(r, "role"), info->role, sizeof info->role);
	wire_int(wire_get(r, "proto"), &info->proto);
	wire_int(wire_get(r, "quantum"), &info->quantum);
	wire_int(wire_get(r, "hold_ttl_ms"), &info->hold_ttl_ms);
	if (info->role[0] == 0)
		return bad_result(c, "hello", "lacks the role");
	return 0;
}

int bookd_hello(bookd_conn *c, const char *client, const char *role,
		struct bookd_hello_info *info)
{
	return hello(c, client, role, NULL, info);
}

int bookd_hello_token(bookd_conn *c, const char *client, const char *token,
		      struct bookd_hello_info *info)
{
	return hello(c, client, NULL, token, info);
}

int bookd_ping(bookd_conn *c)
{
	const msgpack_object *r;
	int rc = bookd_call(c, "ping", NULL, 0, &r);

	if (rc < 0)
		return rc;
	if (!wire_str_eq(r, "pong"))
		return bad_result(c, "ping", "is not \"pong\"");
	return 0;
}

/* op (check, hold) on [start, end) of resource for session. */
static int span_call(bookd_conn *c, const char *op, const char *resource,
		     int64_t start, int64_t end, const char *session,
		     const msgpack_object **r)
{
	int rc;
	bookd_args *a = args_begin(c, &rc);

	if (a == NULL)
		return rc;
	bookd_args_str(a, "resource", resource);
	bookd_args_int(a, "start", start);
	bookd_args_int(a, "end", end);
	bookd_args_str(a, "session", session);
	return bookd_call_args(c, op, a, r);
}

int bookd_check(bookd_conn *c, const char *resource, int64_t start, int64_t end,
		const char *session, bool *is_free, enum bookd_reason *reason)
{
	const msgpack_object *r, *f, *why;
	enum bookd_reason rs = BOOKD_REASON_NONE;
	int rc = span_call(c, "check", resource, start, end, session, &r);

	if (rc < 0)
		return rc;
	f = wire_get(r, "free");
	if (f == NULL || f->type != MSGPACK_OBJECT_BOOLEAN)
		return bad_result(c, "check", "lacks \"free\"");
	why = wire_get(r, "reason");
	if (!f->via.boolean) {
		rs = BOOKD_REASON_OTHER;
		if (why && why->type == MSGPACK_OBJECT_STR)
			rs = bookd_reason_from_name_(why->via.str.ptr,
						     why->via.str.size);
	}
	if (is_free)
		*is_free = f->via.boolean;
	if (reason)
		*reason = rs;
	return 0;
}

int bookd_hold(bookd_conn *c, const char *resource, int64_t start, int64_t end,
	       const char *session, int64_t *expires_at_ms)
{
	const msgpack_object *r;
	int64_t exp;
	int rc = span_call(c, "hold", resource, start, end, session, &r);

	if (rc < 0)
		return rc;
	if (!wire_int(wire_get(r, "expires_at_ms"), &exp))
		return bad_result(c, "hold", "lacks \"expires_at_ms\"");
	if (expires_at_ms)
		*expires_at_ms = exp;
	return 0;
}

int bookd_release(bookd_conn *c, const char *resource, const char *session,
		  bool *released)
{
	const msgpack_object *r, *f;
	bookd_args *a;
	int rc;

	a = args_begin(c, &rc);
	if (a == NULL)
		return rc;
	bookd_args_str(a, "resource", resource);
	bookd_args_str(a, "session", session);
	rc = bookd_call_args(c, "release", a, &r);
	if (rc < 0)
		return rc;
	f = wire_get(r, "released");
	if (f == NULL || f->type != MSGPACK_OBJECT_BOOLEAN)
		return bad_result(c, "release", "lacks \"released\"");
	if (released)
		*released = f->via.boolean;
	return 0;
}

int bookd_subscribe(bookd_conn *c, const char *topic, const char *resource,
		    const char *from, const char *to, uint64_t *sub)
{
	const msgpack_object *r, *s;
	bookd_args *a;
	int rc;

	a = args_begin(c, &rc);
	if (a == NULL)
		return rc;
	bookd_args_str(a, "topic", topic);
	bookd_args_str(a, "resource", resource);
	bookd_args_str(a, "from", from);
	bookd_args_str(a, "to", to);
	rc = bookd_call_args(c, "subscribe", a, &r);
	if (rc < 0)
		return rc;
	s = wire_get(r, "sub");
	if (s == NULL || s->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return bad_result(c, "subscribe", "lacks \"sub\"");
	if (sub)
		*sub = s->via.u64;
	return 0;
}

int bookd_unsubscribe(bookd_conn *c, uint64_t sub)
{
	bookd_args *a;
	int rc;

	a = args_begin(c, &rc);
	if (a == NULL)
		return rc;
	bookd_args_uint(a, "sub", sub);
	return bookd_call_args(c, "unsubscribe", a, NULL);
}

/* ---------------------------------------------------------------------- */
/* Bookings. */

/* A heap copy of a string object, "" when absent; NULL only when out of
 * memory (then *oom is set). */
static char *dup_str(const msgpack_object *o, bool *oom)
{
	char *s;

	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		s = strdup("");
	else
		s = strndup(o->via.str.ptr, o->via.str.size);
	if (s == NULL)
		*oom = true;
	return s;
}

void bookd_booking_free(struct bookd_booking *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->nitems; i++)
		free(b->items[i].resource);
	free(b->items);
	for (size_t i = 0; i < b->nhistory; i++) {
		free(b->history[i].from);
		free(b->history[i].to);
		free(b->history[i].by);
		free(b->history[i].reason);
	}
	free(b->history);
	free(b->ref);
	free(b->status);
	free(b->name);
	free(b->email);
	free(b->phone);
	free(b->notes);
	free(b->timezone);
	free(b->event_type);
	free(b->note);
	memset(b, 0, sizeof *b);
}

/* The booked resources: "items" [{resource, quantity}], or, from a server
 * that sends only "resources" [id], one unit of each. */
static int take_items(const msgpack_object *o, struct bookd_booking *b,
		      bool *oom)
{
	const msgpack_object *items = wire_get(o, "items");
	const msgpack_object *list = items ? items : wire_get(o, "resources");
	uint32_t n;

	if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY)
		return -1;
	n = list->via.array.size;
	b->items = reallocarray(NULL, n ? n : 1, sizeof *b->items);
	if (b->items == NULL) {
		*oom = true;
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *it = &list->via.array.ptr[i];
		struct bookd_booking_item *bi = &b->items[i];
		int64_t q = 1;

		if (items) {
			if (it->type != MSGPACK_OBJECT_MAP)
				return -1;
			if (wire_get(it, "quantity") &&
			    (!wire_int(wire_get(it, "quantity"), &q) || q < 0 ||
			     q > UINT32_MAX))
				return -1;
			it = wire_get(it, "resource");
		}
		if (it == NULL || it->type != MSGPACK_OBJECT_STR)
			return -1;
		bi->resource = dup_str(it, oom);
		bi->quantity = (uint32_t)q;
		b->nitems = i + 1;
		if (bi->resource == NULL)
			return -1;
	}
	return 0;
}

static int take_history(const msgpack_object *o, struct bookd_booking *b,
			bool *oom)
{
	const msgpack_object *h = wire_get(o, "history");
	uint32_t n;

	if (h == NULL)
		return 0;
	if (h->type != MSGPACK_OBJECT_ARRAY)
		return -1;
	n = h->via.array.size;
	b->history = reallocarray(NULL, n ? n : 1, sizeof *b->history);
	if (b->history == NULL) {
		*oom = true;
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *e = &h->via.array.ptr[i];
		struct bookd_history *bh = &b->history[i];

		if (e->type != MSGPACK_OBJECT_MAP)
			return -1;
		memset(bh, 0, sizeof *bh);
		b->nhistory = i + 1;
		wire_int(wire_get(e, "at_ms"), &bh->at_ms);
		bh->from = dup_str(wire_get(e, "from"), oom);
		bh->to = dup_str(wire_get(e, "to"), oom);
		bh->by = dup_str(wire_get(e, "by"), oom);
		bh->reason = dup_str(wire_get(e, "reason"), oom);
		if (*oom)
			return -1;
	}
	return 0;
}

int bookd_booking_from_object(const msgpack_object *o,
			      struct bookd_booking *out)
{
	const msgpack_object *id = wire_get(o, "id");
	const msgpack_object *booker = wire_get(o, "booker");
	bool oom = false;

	memset(out, 0, sizeof *out);
	if (o == NULL || o->type != MSGPACK_OBJECT_MAP || id == NULL ||
	    id->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return BOOKD_E_PROTO;
	out->id = id->via.u64;
	if (!wire_int(wire_get(o, "start"), &out->start) ||
	    !wire_int(wire_get(o, "end"), &out->end))
		goto bad;
	out->ref = dup_str(wire_get(o, "ref"), &oom);
	out->status = dup_str(wire_get(o, "status"), &oom);
	out->name = dup_str(wire_get(booker, "name"), &oom);
	out->email = dup_str(wire_get(booker, "email"), &oom);
	out->phone = dup_str(wire_get(booker, "phone"), &oom);
	out->notes = dup_str(wire_get(booker, "notes"), &oom);
	out->timezone = dup_str(wire_get(o, "timezone"), &oom);
	out->event_type = dup_str(wire_get(o, "event_type"), &oom);
	out->note = dup_str(wire_get(o, "note"), &oom);
	wire_int(wire_get(o, "created_ms"), &out->created_ms);
	wire_int(wire_get(o, "updated_ms"), &out->updated_ms);
	if (oom || take_items(o, out, &oom) < 0 ||
	    take_history(o, out, &oom) < 0)
		goto bad;
	return 0;

bad:
	bookd_booking_free(out);
	return oom ? BOOKD_E_NOMEM : BOOKD_E_PROTO;
}

/* The builder of a call whose result is a booking; out (when given) is
 * cleared first, so that it may be freed whatever the call does. */
static bookd_args *booking_begin(bookd_conn *c, struct bookd_booking *out,
				 int *rc)
{
	if (out)
		memset(out, 0, sizeof *out);
	return args_begin(c, rc);
}

/* Make call op with a and copy its result, a booking, into out. */
static int booking_call(bookd_conn *c, const char *op, bookd_args *a,
			struct bookd_booking *out)
{
	const msgpack_object *r = NULL;
	int rc = bookd_call_args(c, op, a, &r);

	if (rc < 0 || out == NULL)
		return rc;
	rc = bookd_booking_from_object(r, out);
	if (rc == BOOKD_E_PROTO)
		return bad_result(c, op, "is not a booking");
	if (rc < 0)
		return bookd_fail_(c, rc, "out of memory");
	return 0;
}

int bookd_book(bookd_conn *c, const struct bookd_book_req *req,
	       struct bookd_booking *out)
{
	bookd_args *a;
	int rc;

	if (out)
		memset(out, 0, sizeof *out);
	if ((req->resource == NULL) == (req->nitems == 0) ||
	    (req->nitems && req->items == NULL))
		return bookd_fail_(c, BOOKD_E_BAD_REQUEST,
				   "book: give either resource or items");
	a = args_begin(c, &rc);
	if (a == NULL)
		return rc;
	if (req->resource) {
		bookd_args_str(a, "resource", req->resource);
	} else {
		bookd_args_array(a, "resources");
		for (size_t i = 0; i < req->nitems; i++) {
			const struct bookd_item *it = &req->items[i];
			const char *id = it->resource ? it->resource : "";
			if (it->quantity <= 1) {
				bookd_args_str(a, NULL, id);
				continue;
			}
			bookd_args_map(a, NULL);
			bookd_args_str(a, "id", id);
			bookd_args_uint(a, "quantity", it->quantity);
			bookd_args_end(a);
		}
		bookd_args_end(a);
	}
	bookd_args_int(a, "start", req->start);
	bookd_args_int(a, "end", req->end);
	bookd_args_map(a, "booker");
	bookd_args_str(a, "name", req->name);
	bookd_args_str(a, "email", req->email);
	bookd_args_str(a, "phone", req->phone);
	bookd_args_str(a, "notes", req->notes);
	bookd_args_end(a);
	bookd_args_str(a, "timezone", req->timezone);
	bookd_args_str(a, "event_type", req->event_type);
	bookd_args_str(a, "session", req->session);
	bookd_args_str(a, "status", req->status);
	bookd_args_str(a, "key", req->key);
	bookd_args_str(a, "by", req->by);
	bookd_args_str(a, "note", req->note);
	return booking_call(c, "book", a, out);
}

int bookd_booking_get(bookd_conn *c, uint64_t id, const char *ref,
		      struct bookd_booking *out)
{
	int rc;
	bookd_args *a = booking_begin(c, out, &rc);

	if (a == NULL)
		return rc;
	a_id_or_ref(a, id, ref);
	return booking_call(c, "booking.get", a, out);
}

int bookd_cancel(bookd_conn *c, uint64_t id, const char *ref,
		 const char *reason, struct bookd_booking *out)
{
	int rc;
	bookd_args *a = booking_begin(c, out, &rc);

	if (a == NULL)
		return rc;
	a_id_or_ref(a, id, ref);
	bookd_args_str(a, "reason", reason);
	return booking_call(c, "booking.cancel", a, out);
}

int bookd_transition(bookd_conn *c, uint64_t id, const char *to,
		     const char *reason, struct bookd_booking *out)
{
	int rc;
	bookd_args *a = booking_begin(c, out, &rc);

	if (a == NULL)
		return rc;
	bookd_args_uint(a, "id", id);
	bookd_args_str(a, "to", to);
	bookd_args_str(a, "reason", reason);
	return booking_call(c, "booking.transition", a, out);
}

int bookd_reschedule(bookd_conn *c, uint64_t id, const char *ref, int64_t start,
		     int64_t end, struct bookd_booking *out)
{
	int rc;
	bookd_args *a = booking_begin(c, out, &rc);

	if (a == NULL)
		return rc;
	a_id_or_ref(a, id, ref);
	bookd_args_int(a, "start", start);
	bookd_args_int(a, "end", end);
	return booking_call(c, "booking.reschedule", a, out);
}

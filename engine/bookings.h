/*
 * bookings.h - the domain's booking mutations: typed inputs in, every rule
 * checked, the WAL record out.
 *
 * What it owns: the rules of a booking request (public span rules, an
 * event type's links, lengths, notice, window and buffers, idempotency
 * keys, the span check against bookings, buffers and other sessions'
 * holds, who may set a status or name the actor) and the building of the
 * booking and its first history entry.  The handlers (ops_bookings.c) only
 * parse arguments into these inputs, log the record and format replies.
 *
 * Invariants: nothing here changes the state except the what-if of a
 * reschedule (the old span is taken out and put back before returning);
 * the record is applied by state_apply() like any other, so the live path
 * and recovery stay one path.
 *
 * How it fails: every function returns 0 or a BOOKD_E_* code.  When the
 * span check refused, co->err holds the code and *e is left empty: the
 * caller words it (it knows the window and whether the caller may see the
 * conflicting bookings); otherwise *e names the field as on the wire.
 */
#ifndef BOOKD_BOOKINGS_H
#define BOOKD_BOOKINGS_H

#include "state.h"

/* What a public caller may write into a note (PROTOCOL.md section 5). */
#define PUBLIC_NOTE_MAX 1000

/* A string argument as it came: ptr NULL when absent. */
struct book_str {
	const char *ptr;
	size_t len;
};

/* A new booking. */
struct book_in {
	const struct item *items; /* distinct, checked resources */
	int nitems;
	int64_t start, end;	   /* a checked 15-minute span */
	const char *name, *email;  /* the booker: required */
	const char *phone, *notes; /* NULL: absent */
	struct book_str event_type, timezone, note, key;
	bool status_given;
	int status;	     /* bstatus_parse() of the argument, if given */
	const char *session; /* whose holds become the booking; NULL: none */
	const char *owner;   /* the principal booking (the key's scope) */
	const char *actor;   /* recorded in the history */
	bool admin;	     /* staff: no public rules */
	int64_t now_ms;
};

/*
 * Check a new booking and encode its WAL record into *rec (the caller frees
 * it); applied, the record creates booking st->nbk + 1.  A repeat of an
 * earlier request under the same key books nothing: *repeat is that booking
 * and *rec stays empty.
 */
int state_book_record(struct state *st, const struct book_in *in,
		      const struct caller_limits *lim, struct wbuf *rec,
		      struct proto_error *e, struct check_out *co,
		      const struct booking **repeat);

/* A change of a stored booking (reschedule, cancel, transition). */
struct booking_change_in {
	int64_t start, end;  /* reschedule: the new span */
	const char *session; /* reschedule: whose holds count as own */
	bool by_given;	     /* a `by` argument came (staff only) */
	const char *by;	     /* it, or NULL: actor is recorded */
	const char *actor;
	const char *reason; /* transition: NULL for none */
	bool admin;
	int64_t now_ms;
};

/* Move booking cur to a new span, checked as a new booking would be (its
 * event type's rules, buffers, other sessions' holds) without its own old
 * span. */
int state_reschedule_record(struct state *st, const struct booking *cur,
			    const struct booking_change_in *in,
			    const struct caller_limits *lim, struct wbuf *rec,
			    struct proto_error *e, struct check_out *co);

/* Move booking cur to status `to` (SPEC section 3). */
int state_transition_record(const struct state *st, const struct booking *cur,
			    int to, const struct booking_change_in *in,
			    const struct caller_limits *lim, struct wbuf *rec,
			    struct proto_error *e);

/* Once a booking of items is applied, the session's own holds on them have
 * become the booking: release them. */
void state_book_release_holds(struct state *st, const struct item *items,
			      int nitems, const char *session);

/* Does event type et allow resource res and a length of len seconds?
 * lenfield names the length on the wire. */
int state_et_allows(const struct event_type *et, const struct resource *res,
		    int64_t len, const char *lenfield, struct proto_error *e);

#endif

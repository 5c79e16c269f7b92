/*
 * handlers.h - what the request handlers share (engine/ops*.c).
 *
 * One handler h_<op>() per operation of the op table (proto/ops.h), in six
 * files by subject: ops.c (argument helpers, session, stats, subscriptions,
 * events, the table), ops_directory.c (resources, schedules, event types),
 * ops_slots.c (availability and holds), ops_bookings.c (bookings),
 * ops_hooks.c (the webhook registry), ops_holidays.c (holiday calendars).
 *
 * A handler gets its arguments already checked against the op's schema
 * (types, semantic types, sizes, text) in r->a[ARG_x].  It validates what
 * the schema cannot say (existence, spans, nested lists), packs its result
 * into r->pk, or refuses through req_error().  Helpers that validate an
 * argument write the error themselves and return its code, so a handler
 * reads as a list of steps.
 *
 * Mutations hand a typed input to the domain (state.h, bookings.h), which
 * checks it and encodes the WAL record; the handler logs it and applies
 * that same record with state_apply() (log_and_apply): the live path and
 * recovery are one path.  The server holds the reply until the record is
 * durable.
 */
#ifndef BOOKD_HANDLERS_H
#define BOOKD_HANDLERS_H

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
#include "tz.h"

#define VERSION		       "0.1.0"
#define MAX_LIST	       1000
#define MAX_MONTH_DAYS	       366
#define MAX_HOLDS_PER_RESOURCE 10000
/* A day of one resource holds at most this many holds: 96 quarters, and
 * pools let several sessions share one. */
#define MAX_DAY_HOLDS MAX_HOLDS_PER_RESOURCE

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

/* The handlers, one per op (the table in ops.c binds them by name). */
#define HANDLER_DECL(ident, wire, role, flags) int h_##ident(struct req *r);
BOOKD_OPS(HANDLER_DECL)
#undef HANDLER_DECL

/* Argument helpers (ops.c).  Each returns 0, or the error code it wrote. */
const char *actor(struct req *r);
bool valid_slug(const msgpack_object *o);
/* The resource named by string o; public callers do not see deactivated
 * ones unless want_inactive.  NULL after writing NOT_FOUND. */
struct resource *find_res(struct req *r, const msgpack_object *o,
			  const char *field, bool want_inactive);
int span_of(struct req *r, const msgpack_object *so, const msgpack_object *eo,
	    const char *pfx, int64_t *start, int64_t *end);
int get_span(struct req *r, int64_t *start, int64_t *end);
int get_date(struct req *r, int field, const char *name, int64_t *day);
int get_tz(struct req *r, const msgpack_object *o, const char *field,
	   const struct tz *fallback, const struct tz **out);
const struct tz *utc_zone(void);
int date_zone(struct req *r, const struct resource *res, const struct tz **z);
int get_minutes(struct req *r, int field, const char *name, uint64_t dflt,
		int64_t *secs);
int session_arg(struct req *r, char *buf);
int check_failed(struct req *r, const struct check_out *co);
/* For OUT_OF_RANGE messages: "bookable from 2026-12-01 to 2028-12-03"
 * (the window's UTC dates); instants and lengths of minutes in words are
 * q_instant_text() and q_minutes_text() of quanta.h. */
void window_text(const struct state *st, char *buf, size_t len);
int event_type_arg(struct req *r, const msgpack_object *o,
		   const struct event_type **out);
int et_allows(struct req *r, const struct event_type *e,
	      const struct resource *res, int64_t len, const char *lenfield);
/* Log a record and apply it; a record that does not apply ends the
 * process (the log would hold what recovery cannot replay). */
int log_and_apply(struct req *r, uint16_t type, struct wbuf *rec);

void page_init(struct page *p);
void page_mark(struct page *p);
bool page_over(struct page *p, uint32_t n);
void page_emit(struct page *p, msgpack_packer *pk, uint32_t n);

#endif

/*
 * ops.h - the operation table: every operation of the wire protocol, declared
 * once.
 *
 * BOOKD_OPS lists each operation with its wire name, the least role that may
 * call it and whether it mutates durable state.  Each operation's argument
 * schema is the macro ARGS_<ident>, a list of F(field, type, required, max).
 * From these lists come:
 *   - enum op_id and the name table (dispatch, UNKNOWN_OP, the client's list);
 *   - enum arg_field, one index per distinct argument name, so a handler reads
 *     its validated arguments as req->a[ARG_start] with no string compare;
 *   - struct op_spec, which proto_validate_args() uses to reject unknown
 *     fields, wrong types, missing required fields and oversized strings or
 *     lists, naming the field in the error.
 * The engine binds each op to its handler h_<ident>() (engine/handlers.h) by
 * the same list, so an operation without a handler does not link.
 *
 * "max" is a byte limit for strings, an item limit for arrays and the
 * largest value of T_MINUTES; 0 means the default of PROTO_MAX_STR /
 * PROTO_MAX_ITEMS.  Semantic types (slug, 15-minute instant, minutes, date,
 * email) are checked here too, so handlers get meaningful values.  The
 * booker map has a sub-schema (ARGS_booker, proto_validate_sub); holds[]
 * entries follow ARGS_check; resources[] entries are checked by the
 * handler.  The bounds the engine sizes arrays by are named PROTO_*_MAX
 * below and used both here and in _Static_asserts where the arrays are.
 */
#ifndef BOOKD_OPS_H
#define BOOKD_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "errors.h"

#define PROTO_MAX_STR	4096
#define PROTO_MAX_ITEMS 1024

/*
 * Bounds the engine sizes fixed arrays by.  The schemas below use these
 * names, so the schema is their one source, and the engine checks its
 * arrays against them with _Static_assert where it declares them.
 */
#define PROTO_SLUG_MAX	       63    /* resource and event type ids */
#define PROTO_SESSION_MAX      128   /* hold session names */
#define PROTO_KEY_MAX	       128   /* book idempotency keys */
#define PROTO_META_MAX	       16384 /* a meta map, packed */
#define PROTO_SPAN_MINUTES_MAX 44640 /* 31 days: a length or duration */
#define PROTO_NAME_MAX	       256   /* booker.name */
#define PROTO_EMAIL_MAX	       256   /* booker.email */
#define PROTO_PHONE_MAX	       64    /* booker.phone */
#define PROTO_NOTES_MAX	       4096  /* booker.notes, book note */
#define PROTO_HOLDS_MAX	       64    /* hold.many holds[] */
#define PROTO_BOOK_ITEMS_MAX   32    /* book resources[] */
#define PROTO_ET_LENGTHS_MAX   16    /* event_type.put lengths[] */
#define PROTO_ET_RESOURCES_MAX 64    /* event_type.put resources[] */
/* Holiday calendars (proto/schedule.h): how many calendars exist, the
 * dates of one, the windows of one date, the calendars one schedule
 * includes.  Their ids are slugs (PROTO_SLUG_MAX). */
#define PROTO_HOLIDAY_CALENDARS_MAX 256
#define PROTO_HOLIDAY_DATES_MAX	    400
#define PROTO_HOLIDAY_WINDOWS_MAX   8
#define PROTO_SCHED_HOLIDAYS_MAX    8

enum arg_type {
	T_STR,	/* one-line text of at most max bytes */
	T_TEXT, /* text of at most max bytes; tab and newline allowed */
	T_UINT, /* non-negative integer */
	T_INT,	/* integer of either sign */
	T_BOOL,
	T_MAP,
	T_ARR, /* array of at most max items */
	T_ANY, /* any value, the handler checks it (nil allowed) */
	/* Semantic types: a wire type plus what the value must mean. */
	T_SLUG,	   /* str: [a-z0-9][a-z0-9._-]{0,62} */
	T_INSTANT, /* int: Unix seconds on a 15-minute boundary */
	T_MINUTES, /* uint: a positive multiple of 15, at most max */
	T_DATE,	   /* str: YYYY-MM-DD, a real date */
	T_EMAIL,   /* str: holds "@" and no space */
};

/* A nested map's schema (booker): its fields are named "<name>.<field>". */
struct arg_spec;
struct sub_spec {
	const char *name;
	int nargs;
	const struct arg_spec *args;
};

/* Roles in increasing privilege.  A gateway has public privileges plus the
 * right to name a visitor with the request envelope's "as" (engine/caller.h).
 */
enum role { ROLE_PUBLIC = 0, ROLE_GATEWAY = 1, ROLE_ADMIN = 2 };

#define OPF_READ  0u
#define OPF_WRITE 1u /* mutates durable state: its reply waits for the WAL */

/* The tables are laid out by hand, one entry a line. */
/* clang-format off */
/* X(ident, "wire.name", least role, flags) */
#define BOOKD_OPS(X)                                                           \
	X(hello, "hello", ROLE_PUBLIC, OPF_READ)                               \
	X(ping, "ping", ROLE_PUBLIC, OPF_READ)                                 \
	X(stats, "stats", ROLE_ADMIN, OPF_READ)                                \
	X(resource_create, "resource.create", ROLE_ADMIN, OPF_WRITE)           \
	X(resource_update, "resource.update", ROLE_ADMIN, OPF_WRITE)           \
	X(resource_delete, "resource.delete", ROLE_ADMIN, OPF_WRITE)           \
	X(resource_get, "resource.get", ROLE_PUBLIC, OPF_READ)                 \
	X(resource_list, "resource.list", ROLE_PUBLIC, OPF_READ)               \
	X(schedule_put, "schedule.put", ROLE_ADMIN, OPF_WRITE)                 \
	X(schedule_get, "schedule.get", ROLE_PUBLIC, OPF_READ)                 \
	X(schedule_list, "schedule.list", ROLE_PUBLIC, OPF_READ)               \
	X(schedule_delete, "schedule.delete", ROLE_ADMIN, OPF_WRITE)           \
	X(holidays_put, "holidays.put", ROLE_ADMIN, OPF_WRITE)                 \
	X(holidays_get, "holidays.get", ROLE_ADMIN, OPF_READ)                  \
	X(holidays_list, "holidays.list", ROLE_ADMIN, OPF_READ)                \
	X(holidays_delete, "holidays.delete", ROLE_ADMIN, OPF_WRITE)           \
	X(event_type_put, "event_type.put", ROLE_ADMIN, OPF_WRITE)             \
	X(event_type_get, "event_type.get", ROLE_PUBLIC, OPF_READ)             \
	X(event_type_list, "event_type.list", ROLE_PUBLIC, OPF_READ)           \
	X(event_type_delete, "event_type.delete", ROLE_ADMIN, OPF_WRITE)       \
	X(check, "check", ROLE_PUBLIC, OPF_READ)                               \
	X(slots_day, "slots.day", ROLE_PUBLIC, OPF_READ)                       \
	X(slots_month, "slots.month", ROLE_PUBLIC, OPF_READ)                   \
	X(slots_view, "slots.view", ROLE_PUBLIC, OPF_READ)                     \
	X(holds_day, "holds.day", ROLE_PUBLIC, OPF_READ)                       \
	X(hold, "hold", ROLE_PUBLIC, OPF_READ)                                 \
	X(hold_many, "hold.many", ROLE_PUBLIC, OPF_READ)                       \
	X(release, "release", ROLE_PUBLIC, OPF_READ)                           \
	X(book, "book", ROLE_PUBLIC, OPF_WRITE)                                \
	X(booking_get, "booking.get", ROLE_PUBLIC, OPF_READ)                   \
	X(booking_list, "booking.list", ROLE_ADMIN, OPF_READ)                  \
	X(booking_cancel, "booking.cancel", ROLE_PUBLIC, OPF_WRITE)            \
	X(booking_transition, "booking.transition", ROLE_ADMIN, OPF_WRITE)     \
	X(booking_reschedule, "booking.reschedule", ROLE_PUBLIC, OPF_WRITE)    \
	X(subscribe, "subscribe", ROLE_PUBLIC, OPF_READ)                       \
	X(unsubscribe, "unsubscribe", ROLE_PUBLIC, OPF_READ)                   \
	X(events, "events", ROLE_ADMIN, OPF_READ)                              \
	X(hook_put, "hook.put", ROLE_ADMIN, OPF_WRITE)                         \
	X(hook_get, "hook.get", ROLE_ADMIN, OPF_READ)                          \
	X(hook_list, "hook.list", ROLE_ADMIN, OPF_READ)                        \
	X(hook_delete, "hook.delete", ROLE_ADMIN, OPF_WRITE)

/* Argument schemas: F(field, type, required, max). */
#define ARGS_hello(F)                                                          \
	F(client, T_STR, 0, 128) F(role, T_STR, 0, 16) F(token, T_STR, 0, 1024)
#define ARGS_ping(F)
#define ARGS_stats(F)
#define ARGS_RESOURCE_BODY(F, idtype)                                          \
	F(id, idtype, 1, PROTO_SLUG_MAX)                                       \
	F(name, T_STR, 0, 256)                                                 \
	F(kind, T_STR, 0, 64)                                                  \
	F(timezone, T_STR, 0, 64) F(schedule, T_ANY, 0, 0)                     \
	    F(quantity, T_UINT, 0, 0) F(standalone, T_BOOL, 0, 0)              \
		F(active, T_BOOL, 0, 0) F(meta, T_ANY, 0, 0)
#define ARGS_resource_create(F) ARGS_RESOURCE_BODY(F, T_SLUG)
#define ARGS_resource_update(F) ARGS_RESOURCE_BODY(F, T_STR)
#define ARGS_resource_get(F)	F(id, T_STR, 1, PROTO_SLUG_MAX)
#define ARGS_resource_list(F)                                                  \
	F(active_only, T_BOOL, 0, 0)                                           \
	F(after, T_UINT, 0, 0) F(limit, T_UINT, 0, 0)
#define ARGS_schedule_put(F)                                                   \
	F(id, T_STR, 1, PROTO_SLUG_MAX)                                        \
	F(timezone, T_STR, 1, 64)                                              \
	F(weekly, T_ARR, 1, 64) F(overrides, T_ARR, 0, 366)                   \
	    F(holidays, T_ARR, 0, PROTO_SCHED_HOLIDAYS_MAX)
#define ARGS_schedule_get(F) F(id, T_STR, 1, PROTO_SLUG_MAX)
#define ARGS_schedule_list(F)
#define ARGS_schedule_delete(F) F(id, T_STR, 1, PROTO_SLUG_MAX)
#define ARGS_holidays_put(F)                                                   \
	F(id, T_SLUG, 1, PROTO_SLUG_MAX)                                       \
	F(name, T_STR, 0, 256) F(dates, T_ARR, 1, PROTO_HOLIDAY_DATES_MAX)
#define ARGS_holidays_get(F)	F(id, T_STR, 1, PROTO_SLUG_MAX)
#define ARGS_holidays_list(F)
#define ARGS_holidays_delete(F) F(id, T_STR, 1, PROTO_SLUG_MAX)
#define ARGS_event_type_put(F)                                                 \
	F(id, T_SLUG, 1, PROTO_SLUG_MAX)                                       \
	F(title, T_STR, 1, 256)                                                \
	F(lengths, T_ARR, 1, PROTO_ET_LENGTHS_MAX) F(slot_interval, T_UINT, 0, 0) \
	    F(resources, T_ARR, 1, PROTO_ET_RESOURCES_MAX) F(buffer_before, T_UINT, 0, 0) \
		F(buffer_after, T_UINT, 0, 0) F(min_notice, T_UINT, 0, 0)      \
		    F(max_future, T_UINT, 0, 0)                                \
			F(requires_confirmation, T_BOOL, 0, 0)                 \
			    F(active, T_BOOL, 0, 0) F(meta, T_ANY, 0, 0)
#define ARGS_event_type_get(F) F(id, T_STR, 1, PROTO_SLUG_MAX)
#define ARGS_event_type_delete(F) F(id, T_STR, 1, PROTO_SLUG_MAX)
#define ARGS_resource_delete(F)	  F(id, T_STR, 1, PROTO_SLUG_MAX)
#define ARGS_event_type_list(F)
#define ARGS_check(F)                                                          \
	F(resource, T_STR, 1, PROTO_SLUG_MAX)                                  \
	F(start, T_INT, 1, 0) F(end, T_INT, 1, 0) F(session, T_STR, 0, PROTO_SESSION_MAX)
#define ARGS_slots_day(F)                                                      \
	F(resource, T_STR, 1, PROTO_SLUG_MAX)                                  \
	F(date, T_DATE, 1, 10)                                                 \
	F(duration, T_MINUTES, 1, PROTO_SPAN_MINUTES_MAX) F(interval, T_MINUTES, 0, PROTO_SPAN_MINUTES_MAX) \
	    F(tz, T_STR, 0, 64) F(event_type, T_STR, 0, PROTO_SLUG_MAX)
#define ARGS_slots_month(F)                                                    \
	F(resource, T_STR, 1, PROTO_SLUG_MAX)                                  \
	F(from, T_DATE, 1, 10)                                                 \
	F(to, T_DATE, 1, 10) F(duration, T_MINUTES, 1, PROTO_SPAN_MINUTES_MAX) \
	    F(interval, T_MINUTES, 0, PROTO_SPAN_MINUTES_MAX) F(tz, T_STR, 0, 64) \
		F(event_type, T_STR, 0, PROTO_SLUG_MAX)
#define ARGS_slots_view(F)                                                     \
	F(resource, T_STR, 1, PROTO_SLUG_MAX)                                  \
	F(date, T_DATE, 1, 10)                                                 \
	F(duration, T_MINUTES, 1, PROTO_SPAN_MINUTES_MAX) F(interval, T_MINUTES, 0, PROTO_SPAN_MINUTES_MAX) \
	    F(tz, T_STR, 0, 64) F(session, T_STR, 0, PROTO_SESSION_MAX)        \
		F(event_type, T_STR, 0, PROTO_SLUG_MAX)
#define ARGS_holds_day(F)                                                      \
	F(resource, T_STR, 1, PROTO_SLUG_MAX)                                  \
	F(date, T_DATE, 1, 10) F(tz, T_STR, 0, 64) F(session, T_STR, 0, PROTO_SESSION_MAX)
#define ARGS_hold(F)                                                           \
	F(resource, T_STR, 1, PROTO_SLUG_MAX)                                  \
	F(start, T_INSTANT, 1, 0) F(end, T_INSTANT, 1, 0) F(session, T_STR, 1, PROTO_SESSION_MAX)
#define ARGS_hold_many(F) F(holds, T_ARR, 1, PROTO_HOLDS_MAX) F(session, T_STR, 1, PROTO_SESSION_MAX)
#define ARGS_release(F)	  F(resource, T_STR, 1, PROTO_SLUG_MAX) F(session, T_STR, 1, PROTO_SESSION_MAX)
#define ARGS_book(F)                                                           \
	F(resource, T_STR, 0, PROTO_SLUG_MAX)                                  \
	F(resources, T_ARR, 0, PROTO_BOOK_ITEMS_MAX)                           \
	F(start, T_INSTANT, 1, 0) F(end, T_INSTANT, 1, 0) F(booker, T_MAP, 1, 0) \
	    F(timezone, T_STR, 0, 64) F(event_type, T_STR, 0, PROTO_SLUG_MAX)  \
		F(session, T_STR, 0, PROTO_SESSION_MAX) F(status, T_STR, 0, 16) \
		    F(key, T_STR, 0, PROTO_KEY_MAX) F(by, T_STR, 0, 128)       \
			F(note, T_TEXT, 0, PROTO_NOTES_MAX)
#define ARGS_booking_get(F) F(id, T_UINT, 0, 0) F(ref, T_STR, 0, 64)
#define ARGS_booking_list(F)                                                   \
	F(resource, T_STR, 0, PROTO_SLUG_MAX)                                  \
	F(from, T_INT, 0, 0)                                                   \
	F(to, T_INT, 0, 0) F(status, T_STR, 0, 16) F(limit, T_UINT, 0, 0)      \
	    F(after, T_UINT, 0, 0) F(email, T_EMAIL, 0, PROTO_EMAIL_MAX)
#define ARGS_booking_cancel(F)                                                 \
	F(id, T_UINT, 0, 0)                                                    \
	F(ref, T_STR, 0, 64) F(reason, T_TEXT, 0, 1024) F(by, T_STR, 0, 128)
#define ARGS_booking_transition(F)                                             \
	F(id, T_UINT, 1, 0)                                                    \
	F(to, T_STR, 1, 16) F(reason, T_TEXT, 0, 1024) F(by, T_STR, 0, 128)
#define ARGS_booking_reschedule(F)                                             \
	F(id, T_UINT, 0, 0)                                                    \
	F(ref, T_STR, 0, 64)                                                   \
	F(start, T_INSTANT, 1, 0) F(end, T_INSTANT, 1, 0) F(by, T_STR, 0, 128) \
	    F(session, T_STR, 0, PROTO_SESSION_MAX)
#define ARGS_subscribe(F)                                                      \
	F(topic, T_STR, 1, 16)                                                 \
	F(resource, T_STR, 0, PROTO_SLUG_MAX) F(from, T_DATE, 0, 10) F(to, T_DATE, 0, 10)
#define ARGS_unsubscribe(F) F(sub, T_UINT, 1, 0)
#define ARGS_events(F)	    F(after, T_UINT, 0, 0) F(limit, T_UINT, 0, 0)
#define ARGS_hook_put(F)                                                       \
	F(id, T_STR, 1, 63)                                                    \
	F(url, T_STR, 1, 2048)                                                 \
	F(events, T_ARR, 1, 8) F(secret, T_STR, 0, 96) F(active, T_BOOL, 0, 0)
#define ARGS_hook_get(F)    F(id, T_STR, 1, 63)
#define ARGS_hook_list(F)   F(secrets, T_BOOL, 0, 0)
#define ARGS_hook_delete(F) F(id, T_STR, 1, 63)

/* Sub-schemas.  booker is book's booker map; holds[] entries of hold.many
 * follow ARGS_check without session. */
#define ARGS_booker(F)                                                         \
	F(name, T_STR, 1, PROTO_NAME_MAX)                                      \
	F(email, T_EMAIL, 1, PROTO_EMAIL_MAX)                                  \
	F(phone, T_STR, 0, PROTO_PHONE_MAX) F(notes, T_TEXT, 0, PROTO_NOTES_MAX)

/* Every distinct argument name, once.  Order is irrelevant. */
#define BOOKD_FIELDS(N)                                                        \
	N(client)                                                              \
	N(role)                                                                \
	N(token) N(id) N(name) N(email) N(phone) N(notes) N(kind) N(timezone) N(schedule) N(quantity) \
	    N(standalone) N(active) N(meta) N(active_only) N(resource)         \
		N(resources) N(start) N(end) N(session) N(date) N(duration)    \
		    N(interval) N(tz) N(event_type) N(from) N(to) N(holds)     \
			N(booker) N(status) N(key) N(by) N(note) N(ref)        \
			    N(reason) N(limit) N(after) N(topic) N(sub)        \
				N(weekly) N(overrides) N(title) N(lengths)     \
				    N(slot_interval) N(buffer_before)          \
					N(buffer_after) N(min_notice)          \
					    N(max_future)                      \
						N(requires_confirmation)       \
						    N(url) N(events)           \
							N(secret) N(secrets) N(holidays) N(dates)

/* clang-format on */

enum op_id {
#define OP_X_ENUM(ident, wire, role, flags) OP_##ident,
	BOOKD_OPS(OP_X_ENUM)
#undef OP_X_ENUM
	    OP__COUNT
};

enum arg_field {
#define FIELD_X_ENUM(f) ARG_##f,
	BOOKD_FIELDS(FIELD_X_ENUM)
#undef FIELD_X_ENUM
	    ARG__COUNT
};

struct arg_spec {
	const char *name;
	uint8_t field; /* enum arg_field */
	uint8_t type;  /* enum arg_type */
	uint8_t required;
	uint32_t max;
};

struct op_spec {
	const char *name;
	uint8_t role;  /* enum role */
	uint8_t flags; /* OPF_* */
	uint8_t nargs;
	const struct arg_spec *args;
};

extern const struct op_spec proto_ops[OP__COUNT];

/* Look an operation up by its wire name; -1 when unknown. */
int proto_op_lookup(const char *name, size_t len);

/*
 * Check a request's "args" (NULL when absent) against the op's schema and
 * fill out[ARG__COUNT] with pointers to the present fields (others NULL).
 * Returns 0, or BOOKD_E_BAD_REQUEST with the error (naming the field) in *e.
 */
int proto_validate_args(int op, const msgpack_object *args,
			const msgpack_object *out[ARG__COUNT],
			struct proto_error *e);

/* The same for a nested map against its sub-schema: out[] by field, errors
 * naming "<sub>.<field>". */
extern const struct sub_spec proto_booker;
int proto_validate_sub(const struct sub_spec *sub, const msgpack_object *map,
		       const msgpack_object *out[ARG__COUNT],
		       struct proto_error *e);

/* Is p[0..n) a slug (T_SLUG)? */
bool proto_slug_ok(const char *p, size_t n);

#endif

/*
 * bookd.h - libbookd, the C client of the bookd booking engine.
 *
 * Using it
 * --------
 * Open a connection with bookd_connect() (NULL means $BOOKD_SOCKET, else
 * ./var/bookd.sock).  Every operation of the wire protocol (SPEC section 3)
 * can then be called two ways:
 *
 *   - typed helpers for the common ones: bookd_hello(), bookd_ping(),
 *     bookd_check(), bookd_hold(), bookd_release(), bookd_book(),
 *     bookd_cancel(), bookd_subscribe(), ...;
 *   - the generic bookd_call_args(conn, "slots.day", args, &result), where
 *     args is a bookd_args built with bookd_args_str(), bookd_args_int(),
 *     ... (or bookd_call() with MessagePack bytes packed by other means),
 *     and result points to the reply's "result" object.
 *
 * Building, compiling
 * -------------------
 *     #include <bookd.h>           (needs nothing else)
 *     cc prog.c $(pkg-config --cflags --libs bookd)
 *     cc -static prog.c $(pkg-config --static --cflags --libs bookd)
 *
 * The library exports bookd_* names only and never aborts or exits the
 * process: out of memory is BOOKD_E_NOMEM.  The reply objects are msgpack-c's
 * msgpack_object, read by their fields (via.map, via.str, ...); a program
 * that calls msgpack-c functions itself links msgpack-c itself.
 *
 * A result object, and the error details of bookd_errobj(), belong to the
 * connection and stay valid until the next call on that connection; copy
 * what you need to keep.  Typed helpers copy their answers into your
 * structs, so those outlive the call (free a struct bookd_booking with
 * bookd_booking_free()); the whole result of a typed helper stays readable
 * through bookd_result() until the next call.
 *
 * The error rule: every function returning int returns 0 (or a positive
 * count) on success and a negative enum bookd_err from bookd_errors.h on
 * failure; bookd_strerror() and bookd_err_name() describe a code, and
 * bookd_errmsg() gives the server's own message for the last failed call.
 *
 * Server errors (BOOKD_E_CONFLICT, BOOKD_E_NOT_FOUND, ...) leave the
 * connection usable.  Transport errors (BOOKD_E_IO, BOOKD_E_PROTO,
 * BOOKD_E_CLOSED_CONN, a timeout, or a connection-level error the server
 * sends before hanging up, such as BOOKD_E_TOO_LARGE) are sticky: the
 * connection is dead (bookd_broken() says so), every later call returns
 * the same code, and the only thing left to do is bookd_close() and
 * reconnect.
 *
 * Pipelining: bookd_send() sends a request and returns at once with its id;
 * bookd_recv() returns replies in request order.  Send a batch, then
 * receive the batch.
 *
 * Subscriptions: bookd_subscribe() asks the server to push "changed"
 * notices for one resource and topic ("slots": bookings and schedules;
 * "holds": holds).  Pushes that arrive while you wait for a reply are
 * queued, never lost (up to BOOKD_PUSH_QUEUE_MAX; past that the queue
 * reports one push of kind "overflow", meaning "re-read everything").
 * bookd_next_push() returns queued pushes first and otherwise waits for one.
 * A push names what changed; re-read the day to see how.
 *
 * Caveats
 * -------
 * - One connection is used by one thread at a time.  The library has no
 *   global state, so separate connections in separate threads are fine.
 * - bookd_call() and the typed helpers need an idle connection: receive
 *   every pipelined reply (bookd_pending() == 0) before calling them.
 * - To wait on bookd_fd() with poll/epoll, first drain bookd_next_push()
 *   with timeout 0: pushes read along with a reply sit in the library's
 *   queue and will not make the descriptor readable again.
 * - Every wait for a reply is bounded by the connection's timeout (default
 *   BOOKD_DEFAULT_TIMEOUT_MS, see bookd_set_timeout()); bookd_next_push()
 *   takes its own.  A reply that does not come in time kills the
 *   connection: its outcome is unknown, so reconnect and re-read rather
 *   than retry blindly (book with a "key" to make a retry safe).
 * - The library never raises SIGPIPE: writes use MSG_NOSIGNAL.
 * - Everything the server sends is checked before use.  Frames above 1 MiB,
 *   malformed MessagePack, containers that claim more items than the frame
 *   holds and replies out of order kill the connection with BOOKD_E_PROTO;
 *   a result that lacks a field a typed helper promises is BOOKD_E_PROTO
 *   for that call only.  Never a crash or an unbounded allocation.
 */
#ifndef BOOKD_H
#define BOOKD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "bookd_errors.h"

BOOKD_BEGIN_DECLS

#define BOOKD_DEFAULT_SOCKET	 "./var/bookd.sock"
#define BOOKD_DEFAULT_TIMEOUT_MS 30000
#define BOOKD_PUSH_QUEUE_MAX	 4096

typedef struct bookd_conn bookd_conn;

/*
 * Connections.
 */

/* Connect to the engine's socket (path NULL: $BOOKD_SOCKET, else
 * BOOKD_DEFAULT_SOCKET).  NULL on failure, with the code in *err (may be
 * NULL) and errno set. */
bookd_conn *bookd_connect(const char *path, int *err);
void bookd_close(bookd_conn *c);
/* The socket, for poll/epoll (see the caveat above). */
int bookd_fd(const bookd_conn *c);
/* Bound on every wait for a reply, in milliseconds; negative: no bound. */
void bookd_set_timeout(bookd_conn *c, int timeout_ms);
/*
 * Acting for someone else.  On a connection the engine trusts to speak for
 * its callers (an admin connection, or one authenticated with a token of
 * role "gateway"), every request sent after bookd_set_as(c, visitor)
 * carries the envelope key "as": visitor, and the engine runs it with role
 * public and applies its per-caller limits, idempotency-key scope and hold
 * ownership to that visitor.  visitor: 1 to BOOKD_AS_MAX bytes of
 * [A-Za-z0-9._:-] (BOOKD_E_BAD_REQUEST otherwise, and the setting is left
 * as it was); NULL stops sending it.  The setting stays until changed.
 */
#define BOOKD_AS_MAX 64
int bookd_set_as(bookd_conn *c, const char *visitor);
/* 0 while the connection is usable, else the sticky transport error. */
int bookd_broken(const bookd_conn *c);

/* The message of the last failed call on c ("" after a success). */
const char *bookd_errmsg(const bookd_conn *c);
/* The server's whole error map of the last failed call ("code", "message",
 * and details such as "field" or "conflicts"), or NULL when the failure did
 * not come from the server.  Valid until the next call on c. */
const msgpack_object *bookd_errobj(const bookd_conn *c);

/* bookd_err_name(), bookd_strerror(): see bookd_errors.h. */

/*
 * Request arguments.  A bookd_args builds the map a request's "args" is:
 * fields in order, maps and arrays nested with bookd_args_map() /
 * bookd_args_array() ... bookd_args_end().  Inside a map every value has a
 * key; inside an array none has (key NULL).
 *
 *     bookd_args *a = bookd_args_new();
 *     bookd_args_str(a, "resource", "studio-a");
 *     bookd_args_int(a, "start", start);
 *     bookd_args_int(a, "end", end);
 *     bookd_args_map(a, "booker");
 *     bookd_args_str(a, "name", "Ada");
 *     bookd_args_str(a, "email", "ada@example.org");
 *     bookd_args_end(a);
 *     rc = bookd_call_args(c, "book", a, &result);
 *     bookd_args_reset(a);        (empty again, memory kept for the next)
 *     ...
 *     bookd_args_free(a);
 *
 * Errors are sticky: the first one (BOOKD_E_NOMEM; BOOKD_E_TOO_LARGE past
 * the 1 MiB frame; BOOKD_E_BAD_REQUEST for a key inside an array, none
 * inside a map, an end without a begin, nesting deeper than
 * BOOKD_ARGS_DEPTH) makes every later addition a no-op that returns it, and
 * bookd_call_args() returns it without sending anything.  So a caller may
 * add every field unchecked and look at one return code.
 */
#define BOOKD_ARGS_DEPTH 16

typedef struct bookd_args bookd_args;

/* NULL when out of memory. */
bookd_args *bookd_args_new(void);
void bookd_args_free(bookd_args *a);
/* Empty the map and forget the error, keeping the memory. */
void bookd_args_reset(bookd_args *a);
/* 0, or the sticky error. */
int bookd_args_error(const bookd_args *a);

/* Each returns 0 or the sticky error.  A NULL string value adds nothing
 * (the field is left out), so optional fields need no test. */
int bookd_args_str(bookd_args *a, const char *key, const char *val);
int bookd_args_strn(bookd_args *a, const char *key, const char *val,
		    size_t len);
int bookd_args_int(bookd_args *a, const char *key, int64_t v);
int bookd_args_uint(bookd_args *a, const char *key, uint64_t v);
int bookd_args_bool(bookd_args *a, const char *key, bool v);
int bookd_args_nil(bookd_args *a, const char *key);
int bookd_args_map(bookd_args *a, const char *key);
int bookd_args_array(bookd_args *a, const char *key);
int bookd_args_end(bookd_args *a);

/* The packed map (valid until the next change to a), or NULL when a has
 * an error or an open map or array.  For bookd_call()/bookd_send(). */
const void *bookd_args_data(bookd_args *a, size_t *len);

/*
 * Generic calls.  args/args_len: the packed MessagePack bytes of one map, or
 * NULL/0 for none.  On success *result (may be NULL) points to the reply's
 * result, valid until the next call on c.
 */
int bookd_call(bookd_conn *c, const char *op, const void *args, size_t args_len,
	       const msgpack_object **result);
/* The same with a builder (NULL: no args); a's error, if any, is returned
 * and nothing is sent. */
int bookd_call_args(bookd_conn *c, const char *op, bookd_args *a,
		    const msgpack_object **result);
/* The result of the last successful call or typed helper on c, NULL after a
 * failure; valid until the next call on c. */
const msgpack_object *bookd_result(const bookd_conn *c);

/* Pipelining: send one request; its id goes to *id (may be NULL). */
int bookd_send(bookd_conn *c, const char *op, const void *args, size_t args_len,
	       uint64_t *id);
int bookd_send_args(bookd_conn *c, const char *op, bookd_args *a, uint64_t *id);
/* Receive the reply to the oldest request sent and not yet received: its
 * id in *id (may be NULL), its result in *result as for bookd_call().
 * Returns 0, or the server's error for that request (the connection stays
 * usable), or a transport error. */
int bookd_recv(bookd_conn *c, uint64_t *id, const msgpack_object **result);
/* Requests sent whose replies bookd_recv() has not yet returned. */
size_t bookd_pending(const bookd_conn *c);

/*
 * Subscriptions and pushes.
 */
struct bookd_push {
	char kind[16];	   /* "changed", or "overflow" (see above) */
	uint64_t sub;	   /* the subscription */
	char topic[8];	   /* "slots" or "holds" */
	char resource[64]; /* the resource id */
	char date[11];	   /* "YYYY-MM-DD", the changed day */
	uint64_t version;  /* the day's version after the change */
};

/* topic "slots" or "holds"; from/to "YYYY-MM-DD" or NULL. */
int bookd_subscribe(bookd_conn *c, const char *topic, const char *resource,
		    const char *from, const char *to, uint64_t *sub);
int bookd_unsubscribe(bookd_conn *c, uint64_t sub);
/* 1 with a push in *out, 0 when none came within timeout_ms (0: do not
 * wait; negative: wait without bound), or a negative error. */
int bookd_next_push(bookd_conn *c, struct bookd_push *out, int timeout_ms);

/*
 * Typed helpers.  Times are Unix seconds (multiples of 900), strings
 * NUL-terminated; optional string arguments may be NULL.
 */
struct bookd_hello_info {
	char server[32];  /* "bookd" */
	char version[32]; /* the engine's version */
	int64_t proto;	  /* protocol version, 1 */
	char role[16];	  /* "admin" or "public" */
	int64_t quantum;  /* 900 */
	int64_t hold_ttl_ms;
};

/* role: NULL to keep the connection's, or "public" to drop to it. */
int bookd_hello(bookd_conn *c, const char *client, const char *role,
		struct bookd_hello_info *info);
/* Authenticate with a signed token (bookctl token). */
int bookd_hello_token(bookd_conn *c, const char *client, const char *token,
		      struct bookd_hello_info *info);
int bookd_ping(bookd_conn *c);

/* Is [start, end) free on resource for session (may be NULL)?  reason (may
 * be NULL) is one of enum bookd_reason (bookd_errors.h), BOOKD_REASON_OTHER
 * for a reason this library does not know. */
int bookd_check(bookd_conn *c, const char *resource, int64_t start, int64_t end,
		const char *session, bool *is_free, enum bookd_reason *reason);
/* Create, move or renew session's hold on resource; expires_at_ms may be
 * NULL. */
int bookd_hold(bookd_conn *c, const char *resource, int64_t start, int64_t end,
	       const char *session, int64_t *expires_at_ms);
/* released (may be NULL): whether there was a hold to release. */
int bookd_release(bookd_conn *c, const char *resource, const char *session,
		  bool *released);

/* One resource of a booking; quantity 0 or 1 books one unit. */
struct bookd_item {
	const char *resource;
	uint32_t quantity;
};

struct bookd_book_req {
	const char *resource;		/* one resource, or NULL ... */
	const struct bookd_item *items; /* ... several, or pool units */
	size_t nitems;
	int64_t start, end;
	const char *name, *email, *phone, *notes; /* the booker */
	const char *timezone;	/* for showing times; NULL: the resource's */
	const char *event_type; /* NULL for none */
	const char *session;	/* consume this session's hold */
	const char *status;	/* e.g. "pending"; NULL: the default */
	const char *key;	/* idempotency key */
	const char *by;		/* audit actor */
	const char *note;	/* internal note */
};

struct bookd_booking_item {
	char *resource;
	uint32_t quantity;
};

struct bookd_history {
	int64_t at_ms;
	char *from, *to, *by, *reason;
};

/*
 * A booking as the server returned it.  Every string is non-NULL ("" when
 * the server left it out: a public caller never sees another booking's
 * ref).  Free with bookd_booking_free().
 */
struct bookd_booking {
	uint64_t id;
	char *ref;
	char *status; /* pending, confirmed, declined, cancelled, ... */
	int64_t start, end;
	struct bookd_booking_item *items;
	size_t nitems;
	char *name, *email, *phone, *notes; /* the booker */
	char *timezone, *event_type, *note;
	int64_t created_ms, updated_ms;
	struct bookd_history *history;
	size_t nhistory;
};

void bookd_booking_free(struct bookd_booking *b);
/* Fill *out from a booking map (for results of booking.list and the
 * like).  0, BOOKD_E_PROTO when o is not a booking, or BOOKD_E_NOMEM. */
int bookd_booking_from_object(const msgpack_object *o,
			      struct bookd_booking *out);

/* out (may be NULL) receives the booking; free it with
 * bookd_booking_free(). */
int bookd_book(bookd_conn *c, const struct bookd_book_req *req,
	       struct bookd_booking *out);
/* By id, or by ref when ref is not NULL (public callers must use the
 * ref). */
int bookd_booking_get(bookd_conn *c, uint64_t id, const char *ref,
		      struct bookd_booking *out);
int bookd_cancel(bookd_conn *c, uint64_t id, const char *ref,
		 const char *reason, struct bookd_booking *out);
/* to: "confirmed", "declined", "cancelled", "completed" or "no_show". */
int bookd_transition(bookd_conn *c, uint64_t id, const char *to,
		     const char *reason, struct bookd_booking *out);
int bookd_reschedule(bookd_conn *c, uint64_t id, const char *ref, int64_t start,
		     int64_t end, struct bookd_booking *out);

BOOKD_END_DECLS

#endif

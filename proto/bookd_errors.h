/*
 * bookd_errors.h - the one list of bookd's error codes.
 *
 * Every error the engine sends and every error the C client returns comes
 * from BOOKD_ERROR_LIST.  The list generates the enum (negative values, so a
 * function can return "n >= 0 on success, a bookd_err on failure"), the wire
 * strings of SPEC section 3 and the human messages of bookd_strerror().
 *
 * The wire codes (BAD_REQUEST .. INTERNAL) come first and in the order of the
 * specification; the client-side codes (IO, PROTO, ...) never travel on the
 * wire.  Adding a code means adding one line here.
 */
#ifndef BOOKD_ERRORS_H
#define BOOKD_ERRORS_H

/* Extra fields an error of a code carries on the wire, besides code,
 * message and field (PROTOCOL.md section 6). */
#define BOOKD_ERRD_RESOURCE  1u /* "resource": the resource refused */
#define BOOKD_ERRD_CONFLICTS 2u /* "conflicts": the bookings in the way */
#define BOOKD_ERRD_RETRY     4u /* "retry_after_ms", when the wait is known */

/* X(name, "message", extra fields) */
#define BOOKD_ERROR_LIST(X)                                                    \
	X(BAD_REQUEST, "malformed or invalid request", 0)                      \
	X(UNKNOWN_OP, "unknown operation", 0)                                  \
	X(NOT_FOUND, "no such object", 0)                                      \
	X(EXISTS, "object already exists", 0)                                  \
	X(CONFLICT, "overlaps an active booking",                              \
	  BOOKD_ERRD_CONFLICTS | BOOKD_ERRD_RESOURCE)                          \
	X(HELD, "overlaps another session's hold", BOOKD_ERRD_RESOURCE)        \
	X(CLOSED, "outside the resource's open hours", BOOKD_ERRD_RESOURCE)    \
	X(INACTIVE, "resource is deactivated", BOOKD_ERRD_RESOURCE)            \
	X(OUT_OF_RANGE, "outside the bookable window", 0)                      \
	X(INVALID_STATE, "illegal status transition", 0)                       \
	X(UNAUTHENTICATED, "authentication failed", 0)                         \
	X(FORBIDDEN, "not allowed for this role", 0)                           \
	X(TOO_LARGE, "message too large", 0)                                   \
	X(LIMIT, "a configured limit was reached", BOOKD_ERRD_RETRY)           \
	X(UNAVAILABLE, "server unavailable or shutting down", 0)               \
	X(INTERNAL, "internal server error", 0)                                \
	/* client-side only: */                                                \
	X(IO, "connection or system error (see errno)", 0)                     \
	X(PROTO, "malformed reply from server", 0)                             \
	X(CLOSED_CONN, "connection closed by server", 0)                       \
	X(NOMEM, "out of memory", 0)                                           \
	X(STALE, "reader could not get a consistent copy", 0)

enum bookd_err {
	BOOKD_OK = 0,
#define BOOKD_X_ENUM(name, msg, details) BOOKD_E_##name,
	BOOKD_E_FIRST_ = -1000,
	BOOKD_ERROR_LIST(BOOKD_X_ENUM)
#undef BOOKD_X_ENUM
	    BOOKD_E_LAST_
};

/* Number of codes that appear on the wire (BAD_REQUEST .. INTERNAL). */
#define BOOKD_WIRE_ERRORS 16

#endif

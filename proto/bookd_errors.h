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

/* X(name, "message") */
#define BOOKD_ERROR_LIST(X)                                                    \
	X(BAD_REQUEST, "malformed or invalid request")                         \
	X(UNKNOWN_OP, "unknown operation")                                     \
	X(NOT_FOUND, "no such object")                                         \
	X(EXISTS, "object already exists")                                     \
	X(CONFLICT, "overlaps an active booking")                              \
	X(HELD, "overlaps another session's hold")                             \
	X(CLOSED, "outside the resource's open hours")                         \
	X(INACTIVE, "resource is deactivated")                                 \
	X(OUT_OF_RANGE, "outside the bookable window")                         \
	X(INVALID_STATE, "illegal status transition")                          \
	X(UNAUTHENTICATED, "authentication failed")                            \
	X(FORBIDDEN, "not allowed for this role")                              \
	X(TOO_LARGE, "message too large")                                      \
	X(LIMIT, "a configured limit was reached")                             \
	X(UNAVAILABLE, "server unavailable or shutting down")                  \
	X(INTERNAL, "internal server error")                                   \
	/* client-side only: */                                                \
	X(IO, "connection or system error (see errno)")                        \
	X(PROTO, "malformed reply from server")                                \
	X(CLOSED_CONN, "connection closed by server")                          \
	X(NOMEM, "out of memory")                                              \
	X(STALE, "reader could not get a consistent copy")

enum bookd_err {
	BOOKD_OK = 0,
#define BOOKD_X_ENUM(name, msg) BOOKD_E_##name,
	BOOKD_E_FIRST_ = -1000,
	BOOKD_ERROR_LIST(BOOKD_X_ENUM)
#undef BOOKD_X_ENUM
	    BOOKD_E_LAST_
};

/* Number of codes that appear on the wire (BAD_REQUEST .. INTERNAL). */
#define BOOKD_WIRE_ERRORS 16

#endif

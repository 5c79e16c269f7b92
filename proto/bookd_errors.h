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
 *
 * Installed with bookd.h and bookd_reader.h, which include it; it needs no
 * other header.
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

/*
 * Why a span is not free: the one list for the engine's `check` (the
 * socket client, bookd.h) and the shared-page reader (bookd_reader.h).
 * X(name, "wire name"), in the order of precedence: when several apply,
 * the first is the reason.  OUT_OF_RANGE comes only from the reader (the
 * engine answers it as an error) and OTHER only from the client (a reason
 * this library does not know).
 */
#define BOOKD_REASON_LIST(X)                                                   \
	X(NONE, "")                                                            \
	X(INACTIVE, "inactive")                                                \
	X(OUT_OF_RANGE, "out_of_range")                                        \
	X(CLOSED, "closed")                                                    \
	X(BOOKED, "booked")                                                    \
	X(HELD, "held")                                                        \
	X(OTHER, "other")

enum bookd_reason {
#define BOOKD_X_REASON(name, wire) BOOKD_REASON_##name,
	BOOKD_REASON_LIST(BOOKD_X_REASON)
#undef BOOKD_X_REASON
};

/*
 * The public headers' declarations sit between BOOKD_BEGIN_DECLS and
 * BOOKD_END_DECLS: C linkage for C++ callers, and default visibility, since
 * the library itself is compiled with -fvisibility=hidden.
 */
#if defined(__GNUC__)
#define BOOKD_VIS_PUSH_ _Pragma("GCC visibility push(default)")
#define BOOKD_VIS_POP_	_Pragma("GCC visibility pop")
#else
#define BOOKD_VIS_PUSH_
#define BOOKD_VIS_POP_
#endif
#ifdef __cplusplus
#define BOOKD_BEGIN_DECLS                                                      \
	extern "C" {                                                           \
	BOOKD_VIS_PUSH_
#define BOOKD_END_DECLS                                                        \
	BOOKD_VIS_POP_                                                         \
	}
#else
#define BOOKD_BEGIN_DECLS BOOKD_VIS_PUSH_
#define BOOKD_END_DECLS	  BOOKD_VIS_POP_
#endif

BOOKD_BEGIN_DECLS

/* "CONFLICT" for BOOKD_E_CONFLICT, "OK" for 0. */
const char *bookd_err_name(int err);
/* "overlaps an active booking" for BOOKD_E_CONFLICT. */
const char *bookd_strerror(int err);
/* "booked" for BOOKD_REASON_BOOKED, "" for BOOKD_REASON_NONE, "other" for
 * a value outside the list. */
const char *bookd_reason_name(enum bookd_reason r);

BOOKD_END_DECLS

#endif

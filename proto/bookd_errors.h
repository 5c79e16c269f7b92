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

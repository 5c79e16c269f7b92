/*
 * caller.h - who a request acts for: its principal.
 *
 * Every request runs for one principal, a short string that scopes what a
 * caller may reuse or touch: idempotency keys, hold sessions, per-caller
 * caps and rate limits.  It is
 *   "v:<gateway>/<visitor>"  when the envelope names a visitor with "as"
 *                            (<gateway>: the connection's token subject,
 *                            else "uid<N>");
 *   "t:<subject>"            for a connection authenticated with a token;
 *   "u:<uid>"                otherwise (the peer uid from SO_PEERCRED).
 * A web gateway holds one engine connection and names each visitor, so the
 * per-caller rules apply per visitor, not per gateway.
 *
 * "as" is allowed only on an admin connection or one holding a gateway
 * token, and demotes that one request to role public.  Nothing here fails:
 * the principal always fits its buffer (the parts are bounded).
 */
#ifndef BOOKD_CALLER_H
#define BOOKD_CALLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <getopt.h>
#include <sys/types.h>

#define VISITOR_MAX 64
/* "v:" + 63-byte subject + "/" + 64-byte visitor, and the NUL. */
#define PRINCIPAL_MAX 135

/* Is this a well-formed visitor name (1-64 bytes of [A-Za-z0-9._:-])? */
bool caller_visitor_ok(const char *v, size_t len);

/* Write the principal into out[PRINCIPAL_MAX + 1].  subject: the
 * connection's token subject ("" when none); visitor: NULL when the request
 * has no "as" (vlen bytes, already checked by caller_visitor_ok). */
void caller_principal(char out[PRINCIPAL_MAX + 1], const char *subject,
		      uid_t uid, const char *visitor, size_t vlen);

/*
 * What one caller may take.  Set from the command line (caller_option);
 * every limit is listed with its default and flag in PROTOCOL.md section 5.
 */
struct caller_limits {
	uint32_t max_hold_minutes;	   /* span of one hold */
	uint32_t holds_per_caller;	   /* live holds of one principal */
	uint32_t holds_per_resource;	   /* live non-admin holds */
	bool public_requires_event_type;   /* public book/reschedule */
	uint32_t public_writes_per_minute; /* token bucket; 0: no limit */
	uint32_t max_reschedules;	   /* per booking */
};

#define CALLER_LIMITS_DEFAULT                                                  \
	((struct caller_limits){.max_hold_minutes = 24 * 60,                   \
				.holds_per_caller = 16,                        \
				.holds_per_resource = 256,                     \
				.public_requires_event_type = false,           \
				.public_writes_per_minute = 60,                \
				.max_reschedules = 50})

/* A booking's history holds its creation, its status changes (at most
 * four in a row: pending, confirmed, then one final status) and its
 * reschedules: so max_reschedules + this many entries at most. */
#define CALLER_HISTORY_EXTRA 8

/* getopt_long codes of the options below (main.c lists CALLER_LONGOPTS in
 * its table and hands these codes to caller_option). */
enum {
	CALLER_OPT_FIRST = 0x1000,
	CALLER_OPT_MAX_HOLD_MINUTES = CALLER_OPT_FIRST,
	CALLER_OPT_HOLDS_PER_CALLER,
	CALLER_OPT_HOLDS_PER_RESOURCE,
	CALLER_OPT_PUBLIC_REQUIRES_ET,
	CALLER_OPT_PUBLIC_WRITES,
	CALLER_OPT_MAX_RESCHEDULES,
	CALLER_OPT_LAST
};

#define CALLER_LONGOPTS                                                        \
	{"max-hold-minutes", required_argument, NULL,                          \
	 CALLER_OPT_MAX_HOLD_MINUTES},                                         \
	    {"max-holds-per-caller", required_argument, NULL,                  \
	     CALLER_OPT_HOLDS_PER_CALLER},                                     \
	    {"max-holds-per-resource", required_argument, NULL,                \
	     CALLER_OPT_HOLDS_PER_RESOURCE},                                   \
	    {"public-requires-event-type", required_argument, NULL,            \
	     CALLER_OPT_PUBLIC_REQUIRES_ET},                                   \
	    {"public-writes-per-minute", required_argument, NULL,              \
	     CALLER_OPT_PUBLIC_WRITES},                                        \
	    {"max-reschedules", required_argument, NULL,                       \
	     CALLER_OPT_MAX_RESCHEDULES},

#define CALLER_USAGE                                                           \
	"  --max-hold-minutes N         span of one hold (default 1440)\n"     \
	"  --max-holds-per-caller N     live holds of one caller (default "    \
	"16)\n"                                                                \
	"  --max-holds-per-resource N   live non-admin holds on one resource " \
	"(default 256)\n"                                                      \
	"  --public-requires-event-type on|off  public bookings name an "      \
	"event "                                                               \
	"type (default off)\n"                                                 \
	"  --public-writes-per-minute N public writes of one caller per "      \
	"minute (default 60, 0: no limit)\n"                                   \
	"  --max-reschedules N          reschedules of one booking (default "  \
	"50)\n"

/* Parse the value of option code `opt` into *l.  Returns 0, or -1 after a
 * one-line message on stderr. */
int caller_option(struct caller_limits *l, int opt, const char *val);

/*
 * A token bucket per principal for public writes: `per_minute` tokens a
 * minute, as many at most.  Returns 0 and takes a token, or the number of
 * milliseconds until one is available.  Buckets that have refilled are
 * dropped, so the table holds only callers who wrote in the last minute.
 */
struct ktab;
int64_t caller_rate_take(struct ktab *buckets, const char *principal,
			 uint32_t per_minute, int64_t now_ms);
/* Drop the buckets that are full again (call now and then). */
void caller_rate_sweep(struct ktab *buckets, uint32_t per_minute,
		       int64_t now_ms);

#endif

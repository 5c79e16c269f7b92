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

#endif

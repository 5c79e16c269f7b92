/*
 * caller.c - the principal of a request; see caller.h.
 */
#include <stdio.h>
#include <string.h>

#include "caller.h"

bool caller_visitor_ok(const char *v, size_t len)
{
	if (len < 1 || len > VISITOR_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == ':' || c == '-'))
			return false;
	}
	return true;
}

void caller_principal(char out[PRINCIPAL_MAX + 1], const char *subject,
		      uid_t uid, const char *visitor, size_t vlen)
{
	char who[72];

	if (subject[0])
		snprintf(who, sizeof(who), "%.63s", subject);
	else
		snprintf(who, sizeof(who), "uid%lu", (unsigned long)uid);
	if (visitor)
		snprintf(out, PRINCIPAL_MAX + 1, "v:%s/%.*s", who,
			 (int)(vlen > VISITOR_MAX ? VISITOR_MAX : vlen),
			 visitor);
	else if (subject[0])
		snprintf(out, PRINCIPAL_MAX + 1, "t:%s", who);
	else
		snprintf(out, PRINCIPAL_MAX + 1, "u:%lu", (unsigned long)uid);
}

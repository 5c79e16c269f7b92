/*
 * names.c - the names of libbookd's codes (bookd_errors.h): error codes,
 * shared with the engine through proto/errors.c, and the reasons a span is
 * not free, from BOOKD_REASON_LIST.  Used by the socket client and the
 * reader alike.
 */
#include <string.h>

#include "bookd_errors.h"
#include "client_priv.h"
#include "errors.h"

static const char *const reason_names[] = {
#define BOOKD_X_NAME(name, wire) [BOOKD_REASON_##name] = wire,
    BOOKD_REASON_LIST(BOOKD_X_NAME)
#undef BOOKD_X_NAME
};

const char *bookd_err_name(int err)
{
	return proto_err_name(err);
}

const char *bookd_strerror(int err)
{
	return proto_err_message(err);
}

const char *bookd_reason_name(enum bookd_reason r)
{
	if ((unsigned)r > BOOKD_REASON_OTHER)
		return reason_names[BOOKD_REASON_OTHER];
	return reason_names[r];
}

enum bookd_reason bookd_reason_from_name_(const char *s, size_t n)
{
	for (int i = BOOKD_REASON_NONE + 1; i < BOOKD_REASON_OTHER; i++)
		if (strlen(reason_names[i]) == n &&
		    memcmp(reason_names[i], s, n) == 0)
			return (enum bookd_reason)i;
	return BOOKD_REASON_OTHER;
}

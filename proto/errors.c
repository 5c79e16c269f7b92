/*
 * errors.c - names and messages for the codes of bookd_errors.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"

static const char *const err_names[] = {
#define NAME_X(name, msg, details) #name,
    BOOKD_ERROR_LIST(NAME_X)
#undef NAME_X
};

static const char *const err_msgs[] = {
#define MSG_X(name, msg, details) msg,
    BOOKD_ERROR_LIST(MSG_X)
#undef MSG_X
};

static const unsigned err_details[] = {
#define DETAILS_X(name, msg, details) details,
    BOOKD_ERROR_LIST(DETAILS_X)
#undef DETAILS_X
};

#define NERR ((int)(sizeof(err_names) / sizeof(err_names[0])))

static int err_index(int e)
{
	int i = e - BOOKD_E_FIRST_ - 1;
	return (i >= 0 && i < NERR) ? i : -1;
}

const char *proto_err_name(int e)
{
	int i = err_index(e);
	if (e == BOOKD_OK)
		return "OK";
	return i < 0 ? "INTERNAL" : err_names[i];
}

const char *proto_err_message(int e)
{
	int i = err_index(e);
	if (e == BOOKD_OK)
		return "success";
	return i < 0 ? "unknown error" : err_msgs[i];
}

unsigned proto_err_details(int e)
{
	int i = err_index(e);
	return i < 0 ? 0 : err_details[i];
}

int proto_err_set(struct proto_error *e, int code, const char *field,
		  const char *fmt, ...)
{
	va_list ap;
	size_t n = 0;

	memset(e, 0, sizeof(*e));
	e->code = code;
	if (field) {
		snprintf(e->field, sizeof(e->field), "%s", field);
		n = (size_t)snprintf(e->msg, sizeof(e->msg), "%s: ", e->field);
	}
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof(e->msg) - n, fmt, ap);
	va_end(ap);
	return code;
}

int proto_err_from_name(const char *name, size_t len)
{
	for (int i = 0; i < BOOKD_WIRE_ERRORS; i++)
		if (strlen(err_names[i]) == len &&
		    memcmp(err_names[i], name, len) == 0)
			return BOOKD_E_FIRST_ + 1 + i;
	return BOOKD_E_INTERNAL;
}

/*
 * errors.h - conversions between bookd_err codes and their wire names.
 *
 * The codes themselves are declared in bookd_errors.h, which the public
 * client header includes too.  A name that is not a wire code maps to
 * BOOKD_E_INTERNAL, so a newer server never makes an older client misread
 * an error as success.
 */
#ifndef BOOKD_PROTO_ERRORS_H
#define BOOKD_PROTO_ERRORS_H

#include <stddef.h>
#include <stdint.h>

#include "bookd_errors.h"

const char *proto_err_name(int e);    /* "CONFLICT" */
const char *proto_err_message(int e); /* "overlaps an active booking" */
int proto_err_from_name(const char *name, size_t len);
/* BOOKD_ERRD_* bits: the extra fields an error of code e carries. */
unsigned proto_err_details(int e);

#define PROTO_ERR_CONFLICTS_MAX 16

/*
 * An error reply, whole: the one value every refusal is written into and
 * the one the engine sends (server.c send_error).  Empty strings mean
 * absent: no field, and the code's default message.  The details are
 * packed only for the codes whose BOOKD_ERRD_* bits name them.
 */
struct proto_error {
	int code; /* BOOKD_E_*, 0 when there is no error */
	char field[64];
	char msg[256];
	char resource[64]; /* BOOKD_ERRD_RESOURCE */
	uint32_t nconflicts;
	uint32_t conflicts[PROTO_ERR_CONFLICTS_MAX]; /* BOOKD_ERRD_CONFLICTS */
	int64_t retry_after_ms; /* BOOKD_ERRD_RETRY, packed when > 0 */
};

/* Set *e to code with field (NULL: none) and a message; with a field the
 * message is "<field>: <fmt...>".  Returns code. */
int proto_err_set(struct proto_error *e, int code, const char *field,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif

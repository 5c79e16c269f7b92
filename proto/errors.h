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

#include "bookd_errors.h"

const char *proto_err_name(int e);    /* "CONFLICT" */
const char *proto_err_message(int e); /* "overlaps an active booking" */
int proto_err_from_name(const char *name, size_t len);

#endif

/*
 * client_priv.h - what client.c (the connection: socket, framing, reply and
 * push queues) shares with calls.c (the typed helpers).  Not installed, not
 * part of the API in bookd.h.
 */
#ifndef BOOKD_CLIENT_PRIV_H
#define BOOKD_CLIENT_PRIV_H

#include "bookd.h"

/*
 * Record a failure that did not come from the server (for example a reply
 * whose result lacks a field): sets the message bookd_errmsg() returns and
 * returns err.  The connection stays usable.
 */
int bookd_fail_(bookd_conn *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

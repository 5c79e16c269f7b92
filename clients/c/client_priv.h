/*
 * client_priv.h - what client.c (the connection: socket, framing, reply and
 * push queues) shares with calls.c (the typed helpers), args.c (the
 * argument builder) and names.c.  Not installed, not part of the API in
 * bookd.h; hidden from the shared library's symbols (visibility and
 * version script), though the names end in '_' to say so.
 */
#ifndef BOOKD_CLIENT_PRIV_H
#define BOOKD_CLIENT_PRIV_H

#include "bookd.h"

/* The reason a wire name ("booked") stands for; BOOKD_REASON_OTHER when it
 * is none of BOOKD_REASON_LIST. */
enum bookd_reason bookd_reason_from_name_(const char *s, size_t n);

/* The connection's own builder, emptied, for the typed helpers of calls.c
 * (NULL when it could not be allocated). */
bookd_args *bookd_conn_args_(bookd_conn *c);

/*
 * A growable byte buffer (a request being framed, an argument map).
 * bookd_buf_put_() appends n bytes, doubling the capacity as needed; -1 when
 * memory runs out, the buffer then as it was.  Nothing here aborts.
 */
struct bookd_buf_ {
	char *data;
	size_t len, cap;
};
int bookd_buf_put_(struct bookd_buf_ *b, const void *p, size_t n);

/* A string object into buf (NUL-terminated); "" when it is not a string,
 * does not fit or holds a NUL byte.  For the fixed-size fields of the API's
 * structs. */
void bookd_copy_str_(const msgpack_object *o, char *buf, size_t len);

/*
 * Record a failure that did not come from the server (for example a reply
 * whose result lacks a field): sets the message bookd_errmsg() returns and
 * returns err.  The connection stays usable.
 */
int bookd_fail_(bookd_conn *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

/*
 * reply.h - the error path of a request: how a handler records an error
 * (req_error, declared in server.h) and how an error reply is packed and
 * sent.
 *
 * An error reply is {id, ok: false, error: {code, message, field?,
 * conflicts?, resource?}} (proto/PROTOCOL.md section 6).  Packing cannot
 * fail: the buffers abort on allocation failure.
 */
#ifndef BOOKD_REPLY_H
#define BOOKD_REPLY_H

#include "server.h"

/* Pack "ok": false and the "error" map of r into s->pk. */
void pack_error(struct server *s, struct req *r);
/* A whole error reply to request id (NULL: nil) of c, delivered after
 * every LSN already appended is durable. */
void reply_simple_error(struct server *s, struct conn *c,
			const msgpack_object *id, int err, const char *msg);

#endif

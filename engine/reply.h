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

/* Pack "ok": false and the "error" map of e into pk. */
void pack_error(msgpack_packer *pk, const struct proto_error *e);
/* The one way an error reply leaves: a whole frame {id (NULL: nil), ok:
 * false, error} to c, delivered after every LSN already appended is
 * durable. */
void send_error(struct server *s, struct conn *c, const msgpack_object *id,
		const struct proto_error *e);
/* A request-level refusal: code, field (NULL: none) and message. */
void reply_simple_error(struct server *s, struct conn *c,
			const msgpack_object *id, int code, const char *field,
			const char *msg);

#endif

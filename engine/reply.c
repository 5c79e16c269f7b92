/*
 * reply.c - the error path; see reply.h.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "reply.h"

int req_error(struct req *r, int code, const char *field, const char *fmt, ...)
{
	va_list ap;
	size_t n = 0;

	memset(&r->e, 0, sizeof(r->e));
	r->e.code = code;
	if (field) {
		snprintf(r->e.field, sizeof(r->e.field), "%s", field);
		n = (size_t)snprintf(r->e.msg, sizeof(r->e.msg),
				     "%s: ", r->e.field);
	}
	va_start(ap, fmt);
	vsnprintf(r->e.msg + n, sizeof(r->e.msg) - n, fmt, ap);
	va_end(ap);
	return code;
}

/* Pack {ok: false, error: {...}}; the error's code decides its extra
 * fields, so the map's size follows from the same table. */
void pack_error(msgpack_packer *pk, const struct proto_error *e)
{
	unsigned d = proto_err_details(e->code);

	wire_pk_str(pk, "ok");
	msgpack_pack_false(pk);
	wire_pk_str(pk, "error");
	bool retry = (d & BOOKD_ERRD_RETRY) && e->retry_after_ms > 0;

	msgpack_pack_map(pk, 2 + (e->field[0] != 0) +
				 !!(d & BOOKD_ERRD_CONFLICTS) +
				 !!(d & BOOKD_ERRD_RESOURCE) + retry);
	wire_pk_kstr(pk, "code", proto_err_name(e->code));
	wire_pk_kstr(pk, "message",
		     e->msg[0] ? e->msg : proto_err_message(e->code));
	if (e->field[0])
		wire_pk_kstr(pk, "field", e->field);
	if (d & BOOKD_ERRD_CONFLICTS) {
		wire_pk_str(pk, "conflicts");
		msgpack_pack_array(pk, e->nconflicts);
		for (uint32_t i = 0; i < e->nconflicts; i++)
			msgpack_pack_uint32(pk, e->conflicts[i]);
	}
	if (d & BOOKD_ERRD_RESOURCE)
		wire_pk_kstr(pk, "resource", e->resource);
	if (retry)
		wire_pk_kint(pk, "retry_after_ms", e->retry_after_ms);
}

/* The one way an error reply leaves: a whole frame {id, ok: false, error}. */
void send_error(struct server *s, struct conn *c, const msgpack_object *id,
		const struct proto_error *e)
{
	size_t off;

	s->rb.len = 0;
	off = wire_frame_begin(&s->rb);
	msgpack_pack_map(&s->pk, 3);
	wire_pk_str(&s->pk, "id");
	if (id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		msgpack_pack_uint64(&s->pk, id->via.u64);
	else
		msgpack_pack_nil(&s->pk);
	pack_error(&s->pk, e);
	wire_frame_end(&s->rb, off);
	server_deliver(s, c, wal_last_lsn(s->wal));
}

/* A request-level refusal: code, field (NULL: none) and message. */
void reply_simple_error(struct server *s, struct conn *c,
			const msgpack_object *id, int code, const char *field,
			const char *msg)
{
	struct proto_error e;

	proto_err_set(&e, code, field, "%s", msg);
	send_error(s, c, id, &e);
}

/*
 * reply.c - the error path; see reply.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "reply.h"

int req_error(struct req *r, int err, const char *fmt, ...)
{
	va_list ap;

	r->err = err;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return err;
}

void pack_error(struct server *s, struct req *r)
{
	msgpack_packer *pk = &s->pk;
	const struct check_out *co = r->co.err ? &r->co : NULL;
	size_t n = 2;

	if (r->field)
		n++;
	if (co && co->err == BOOKD_E_CONFLICT)
		n++;
	if (co && (co->err == BOOKD_E_CONFLICT || co->err == BOOKD_E_HELD ||
		   co->err == BOOKD_E_CLOSED || co->err == BOOKD_E_INACTIVE))
		n++;
	wire_pk_str(pk, "ok");
	msgpack_pack_false(pk);
	wire_pk_str(pk, "error");
	msgpack_pack_map(pk, n);
	wire_pk_kstr(pk, "code", proto_err_name(r->err));
	wire_pk_kstr(pk, "message",
		     r->msg[0] ? r->msg : proto_err_message(r->err));
	if (r->field)
		wire_pk_kstr(pk, "field", r->field);
	if (co && co->err == BOOKD_E_CONFLICT) {
		/* Admins see which bookings are in the way; public callers
		 * learn only that something is. */
		wire_pk_str(pk, "conflicts");
		if (r->admin_details) {
			msgpack_pack_array(pk, co->nids);
			for (uint32_t i = 0; i < co->nids; i++)
				msgpack_pack_uint32(pk, co->ids[i]);
		} else {
			msgpack_pack_array(pk, 0);
		}
	}
	if (co && (co->err == BOOKD_E_CONFLICT || co->err == BOOKD_E_HELD ||
		   co->err == BOOKD_E_CLOSED || co->err == BOOKD_E_INACTIVE))
		wire_pk_kstr(pk, "resource", s->st.res[co->res]->id);
}

void reply_simple_error(struct server *s, struct conn *c,
			const msgpack_object *id, int err, const char *msg)
{
	struct req r;
	size_t off;

	memset(&r, 0, sizeof(r));
	r.err = err;
	snprintf(r.msg, sizeof(r.msg), "%s", msg);
	if (err == BOOKD_E_BAD_REQUEST) {
		/* Messages of argument checks start with the field's name. */
		size_t n = strcspn(msg, ": ");
		if (msg[n] == ':' && n > 0 && n < sizeof(r.fieldbuf)) {
			memcpy(r.fieldbuf, msg, n);
			r.fieldbuf[n] = 0;
			r.field = r.fieldbuf;
		}
	}
	s->rb.len = 0;
	off = wire_frame_begin(&s->rb);
	msgpack_pack_map(&s->pk, 3);
	wire_pk_str(&s->pk, "id");
	if (id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		msgpack_pack_uint64(&s->pk, id->via.u64);
	else
		msgpack_pack_nil(&s->pk);
	pack_error(s, &r);
	wire_frame_end(&s->rb, off);
	server_deliver(s, c, wal_last_lsn(s->wal));
}

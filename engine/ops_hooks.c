/*
 * ops_hooks.c - the webhook registry's handlers: hook.put, hook.get,
 * hook.list and hook.delete (admin only, by the op table); see handlers.h
 * for how a handler is written and hooks.h for the registry and its record.
 *
 * A write builds a typed struct hook_in, hands it to hooks_record() (which
 * checks it and encodes the WAL record with the record's one encoder), and
 * logs and applies that record with log_and_apply().  The secret leaves the
 * engine only in the reply of the hook.put that set it and in hook.list
 * {secrets: true}; every other reply masks it.
 */
#include <openssl/evp.h>

#include "handlers.h"
#include "hooks.h"

static int id_arg(struct req *r, char id[64])
{
	if (wire_cstr(r->a[ARG_id], id, 64) < 0 ||
	    !proto_slug_ok(id, strlen(id)))
		return req_error(r, BOOKD_E_BAD_REQUEST, "id",
				 "1 to 63 characters of a-z, 0-9 and . _ - "
				 "(starting with a letter or digit)");
	return 0;
}

/* 32 random bytes, base64, prefixed. */
static void new_secret(char out[HOOK_SECRET_MAX + 1])
{
	unsigned char raw[32];
	size_t pl = strlen(HOOK_SECRET_PREFIX);

	arc4random_buf(raw, sizeof(raw));
	memcpy(out, HOOK_SECRET_PREFIX, pl);
	EVP_EncodeBlock((unsigned char *)out + pl, raw, sizeof(raw));
	explicit_bzero(raw, sizeof(raw));
}

int h_hook_put(struct req *r)
{
	const struct state *st = &r->s->st;
	const msgpack_object *sec = r->a[ARG_secret];
	const struct hook *old;
	struct hook_in in;
	struct wbuf rec = {0};
	char id[64], url[HOOK_URL_MAX + 1], secret[HOOK_SECRET_MAX + 1];
	char badf[32] = "events";
	bool shown;
	int rc;

	if (id_arg(r, id))
		return r->e.code;
	if (wire_cstr(r->a[ARG_url], url, sizeof(url)) < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "url",
				 "an http:// or https:// URL with a host, "
				 "printable ASCII without spaces, at most %d "
				 "bytes",
				 HOOK_URL_MAX);
	memset(&in, 0, sizeof(in));
	in.id = id;
	in.url = url;
	in.events = hooks_parse_events(r->a[ARG_events], badf, sizeof(badf));
	if (in.events == 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, badf,
				 "a non-empty list of booking event types "
				 "(booking.created ...) or \"*\"");
	if (sec && wire_cstr(sec, secret, sizeof(secret)) < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "secret",
				 "\"whsec_\" followed by the base64 of 16 to "
				 "64 bytes");
	old = hooks_find(st, id);
	/* A new hook without a secret gets one; an update without one keeps
	 * the old, so receivers need not change. */
	shown = sec != NULL || old == NULL;
	if (sec == NULL && old == NULL)
		new_secret(secret);
	else if (sec == NULL)
		memcpy(secret, old->secret, sizeof(secret));
	in.secret = secret;
	in.active = r->a[ARG_active] ? r->a[ARG_active]->via.boolean : true;
	in.updated_ms = now_ms();
	in.created_ms = old ? old->created_ms : in.updated_ms;
	rc = hooks_record(st, &in, &rec, &r->e);
	if (rc == 0)
		rc = log_and_apply(r, WAL_HOOK, &rec);
	if (rc == 0) {
		hooks_in(hooks_find(st, id), &in);
		hooks_encode(r->pk, &in, shown ? HOOK_SECRET : HOOK_MASKED);
	}
	explicit_bzero(secret, sizeof(secret));
	wbuf_free(&rec);
	return rc;
}

int h_hook_get(struct req *r)
{
	const struct hook *h;
	struct hook_in in;
	char id[64];

	if (id_arg(r, id))
		return r->e.code;
	h = hooks_find(&r->s->st, id);
	if (h == NULL)
		return req_error(r, BOOKD_E_NOT_FOUND, "id", "no hook '%s'",
				 id);
	hooks_in(h, &in);
	hooks_encode(r->pk, &in, HOOK_MASKED);
	return 0;
}

int h_hook_list(struct req *r)
{
	const struct state *st = &r->s->st;
	uint32_t n = hooks_count(st);
	bool secrets = r->a[ARG_secrets] && r->a[ARG_secrets]->via.boolean;
	struct hook_in in;

	msgpack_pack_map(r->pk, 1);
	wire_pk_str(r->pk, "hooks");
	msgpack_pack_array(r->pk, n);
	for (uint32_t i = 0; i < n; i++) {
		hooks_in(hooks_at(st, i), &in);
		hooks_encode(r->pk, &in, secrets ? HOOK_SECRET : HOOK_MASKED);
	}
	return 0;
}

int h_hook_delete(struct req *r)
{
	struct wbuf rec = {0};
	char id[64];
	int rc;

	if (id_arg(r, id))
		return r->e.code;
	rc = hooks_delete_record(&r->s->st, id, &rec, &r->e);
	if (rc == 0)
		rc = log_and_apply(r, WAL_HOOK, &rec);
	if (rc == 0) {
		msgpack_pack_map(r->pk, 2);
		wire_pk_kstr(r->pk, "id", id);
		wire_pk_kbool(r->pk, "deleted", true);
	}
	wbuf_free(&rec);
	return rc;
}

/*
 * hooks.c - the webhook registry (see hooks.h).
 *
 * Live writes build a WAL_HOOK record, log it, and apply that same record
 * through state_apply(), as every other mutation does: recovery and the live
 * path run the same code.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hooks.h"
#include "log.h"
#include "server.h"
#include "state.h"

/* ---- checks shared by records and requests --------------------------- */

static bool url_ok(const char *p, size_t n)
{
	size_t skip;

	if (n > HOOK_URL_MAX)
		return false;
	if (n > 7 && memcmp(p, "http://", 7) == 0)
		skip = 7;
	else if (n > 8 && memcmp(p, "https://", 8) == 0)
		skip = 8;
	else
		return false;
	if (p[skip] == '/' || p[skip] == '?' || p[skip] == '#')
		return false; /* no host */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return false;
	return true;
}

/* "whsec_" + standard base64 of 16..64 bytes. */
static bool secret_ok(const char *p, size_t n)
{
	size_t pl = strlen(HOOK_SECRET_PREFIX), b, dec;

	if (n <= pl || n > HOOK_SECRET_MAX ||
	    memcmp(p, HOOK_SECRET_PREFIX, pl) != 0)
		return false;
	b = n - pl;
	if (b % 4)
		return false;
	for (size_t i = pl; i < n; i++) {
		char c = p[i];
		bool pad = c == '=' && i >= n - 2;
		if (pad && i == n - 2 && p[n - 1] != '=')
			return false;
		if (!pad &&
		    !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return false;
	}
	dec = b / 4 * 3 - (p[n - 1] == '=') - (p[n - 2] == '=');
	return dec >= 16 && dec <= 64;
}

static bool slug_ok(const char *p, size_t n)
{
	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      (i > 0 && (c == '.' || c == '_' || c == '-'))))
			return false;
	}
	return true;
}

/* The event set of an array of type names; 0 when any is unknown or the
 * array is empty or not an array. */
static uint32_t events_of(const msgpack_object *a, char *bad, size_t badlen)
{
	uint32_t set = 0;

	if (a == NULL || a->type != MSGPACK_OBJECT_ARRAY ||
	    a->via.array.size < 1)
		return 0;
	for (uint32_t i = 0; i < a->via.array.size; i++) {
		const msgpack_object *o = &a->via.array.ptr[i];
		uint32_t bit = 0;
		if (wire_str_eq(o, "*"))
			bit = HOOK_ALL;
		for (int e = EV_CREATED; e < EV__COUNT && !bit; e++)
			if (wire_str_eq(o, event_names[e]))
				bit = 1u << e;
		if (!bit) {
			if (bad)
				snprintf(bad, badlen, "events[%" PRIu32 "]", i);
			return 0;
		}
		set |= bit;
	}
	return set;
}

static struct hook_set *set_of(struct state *st)
{
	if (st->webhooks == NULL)
		st->webhooks = calloc(1, sizeof(*st->webhooks));
	return st->webhooks;
}

static int find(const struct hook_set *hs, const char *id, size_t n)
{
	for (uint32_t i = 0; hs && i < hs->n; i++)
		if (strlen(hs->h[i].id) == n && memcmp(hs->h[i].id, id, n) == 0)
			return (int)i;
	return -1;
}

/* ---- records ---------------------------------------------------------- */

int hooks_apply(struct state *st, const msgpack_object *m)
{
	const msgpack_object *id = wire_get(m, "id");
	const msgpack_object *url = wire_get(m, "url");
	const msgpack_object *sec = wire_get(m, "secret");
	const msgpack_object *del = wire_get(m, "deleted");
	const msgpack_object *act = wire_get(m, "active");
	struct hook_set *hs = set_of(st);
	struct hook h;
	int at;

	memset(&h, 0, sizeof(h));
	if (hs == NULL || id == NULL || wire_cstr(id, h.id, sizeof(h.id)) < 0 ||
	    !slug_ok(h.id, strlen(h.id)))
		return -1;
	at = find(hs, h.id, strlen(h.id));
	if (del && del->type == MSGPACK_OBJECT_BOOLEAN && del->via.boolean) {
		if (at < 0)
			return -1;
		free(hs->h[at].url);
		memmove(&hs->h[at], &hs->h[at + 1],
			(hs->n - (uint32_t)at - 1) * sizeof(hs->h[0]));
		hs->n--;
		return 0;
	}
	if (url == NULL || url->type != MSGPACK_OBJECT_STR ||
	    !url_ok(url->via.str.ptr, url->via.str.size) || sec == NULL ||
	    wire_cstr(sec, h.secret, sizeof(h.secret)) < 0 ||
	    !secret_ok(h.secret, strlen(h.secret)) || act == NULL ||
	    act->type != MSGPACK_OBJECT_BOOLEAN ||
	    !wire_int(wire_get(m, "created_ms"), &h.created_ms) ||
	    !wire_int(wire_get(m, "updated_ms"), &h.updated_ms))
		return -1;
	h.events = events_of(wire_get(m, "events"), NULL, 0);
	if (h.events == 0)
		return -1;
	h.active = act->via.boolean;
	if (at < 0 && hs->n >= HOOK_MAX)
		return -1;
	h.url = strndup(url->via.str.ptr, url->via.str.size);
	if (h.url == NULL)
		return -1;
	if (at < 0) {
		at = (int)hs->n++;
	} else {
		free(hs->h[at].url);
	}
	hs->h[at] = h;
	return 0;
}

void hooks_free(struct state *st)
{
	if (st->webhooks == NULL)
		return;
	for (uint32_t i = 0; i < st->webhooks->n; i++) {
		free(st->webhooks->h[i].url);
		explicit_bzero(st->webhooks->h[i].secret,
			       sizeof(st->webhooks->h[i].secret));
	}
	free(st->webhooks);
	st->webhooks = NULL;
}

uint32_t hooks_count(const struct state *st)
{
	return st->webhooks ? st->webhooks->n : 0;
}

static void pack_events(msgpack_packer *pk, uint32_t set)
{
	int n = 0;

	wire_pk_str(pk, "events");
	if (set & HOOK_ALL) {
		msgpack_pack_array(pk, 1);
		wire_pk_str(pk, "*");
		return;
	}
	for (int e = EV_CREATED; e < EV__COUNT; e++)
		n += (set >> e) & 1;
	msgpack_pack_array(pk, (size_t)n);
	for (int e = EV_CREATED; e < EV__COUNT; e++)
		if ((set >> e) & 1)
			wire_pk_str(pk, event_names[e]);
}

/* The masked form shows the prefix and the last four characters. */
static void mask(const char *secret, char out[32])
{
	size_t n = strlen(secret);
	snprintf(out, 32, "%s...%s", HOOK_SECRET_PREFIX,
		 n >= 4 ? secret + n - 4 : "");
}

enum show { SHOW_MASKED, SHOW_SECRET };

static void pack_hook(msgpack_packer *pk, const struct hook *h, enum show how)
{
	char m[32];

	msgpack_pack_map(pk, 7);
	wire_pk_kstr(pk, "id", h->id);
	wire_pk_kstr(pk, "url", h->url);
	pack_events(pk, h->events);
	if (how == SHOW_SECRET) {
		wire_pk_kstr(pk, "secret", h->secret);
	} else {
		mask(h->secret, m);
		wire_pk_kstr(pk, "secret", m);
	}
	wire_pk_kbool(pk, "active", h->active);
	wire_pk_kint(pk, "created_ms", h->created_ms);
	wire_pk_kint(pk, "updated_ms", h->updated_ms);
}

void hooks_pack_rec(msgpack_packer *pk, const struct state *st, uint32_t i)
{
	pack_hook(pk, &st->webhooks->h[i], SHOW_SECRET);
}

/* ---- handlers --------------------------------------------------------- */

static int bad(struct req *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(struct req *r, const char *field, const char *fmt, ...)
{
	va_list ap;
	int n;

	r->err = BOOKD_E_BAD_REQUEST;
	snprintf(r->fieldbuf, sizeof(r->fieldbuf), "%s", field);
	r->field = r->fieldbuf;
	n = snprintf(r->msg, sizeof(r->msg), "%s: ", r->fieldbuf);
	va_start(ap, fmt);
	vsnprintf(r->msg + n, sizeof(r->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return r->err;
}

static int id_arg(struct req *r, char id[64])
{
	const msgpack_object *o = r->a[ARG_id];

	if (wire_cstr(o, id, 64) < 0 || !slug_ok(id, strlen(id)))
		return bad(r, "id",
			   "1 to 63 characters of a-z, 0-9 and . _ - "
			   "(starting with a letter or digit)");
	return 0;
}

static int found(struct req *r, const char *id)
{
	int at = find(r->s->st.webhooks, id, strlen(id));

	if (at < 0) {
		r->err = BOOKD_E_NOT_FOUND;
		snprintf(r->fieldbuf, sizeof(r->fieldbuf), "id");
		r->field = r->fieldbuf;
		snprintf(r->msg, sizeof(r->msg), "id: no hook '%s'", id);
	}
	return at;
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

static void log_and_apply(struct req *r, struct wbuf *rec)
{
	struct server *s = r->s;
	uint64_t lsn = server_log_record(s, WAL_HOOK, rec);

	if (state_apply(&s->st, WAL_HOOK, rec->data, (uint32_t)rec->len, lsn,
			now_ms()) < 0) {
		log_msg("FATAL: record at LSN %" PRIu64 " does not apply", lsn);
		abort();
	}
}

int h_hook_put(struct req *r)
{
	struct hook_set *hs = set_of(&r->s->st);
	const msgpack_object *url = r->a[ARG_url];
	const msgpack_object *sec = r->a[ARG_secret];
	struct hook h;
	struct wbuf rec = {0};
	msgpack_packer pk;
	char badf[32] = "events", u[HOOK_URL_MAX + 1];
	bool shown;
	int at;

	memset(&h, 0, sizeof(h));
	if (hs == NULL)
		return req_error(r, BOOKD_E_INTERNAL, "out of memory");
	if (id_arg(r, h.id))
		return r->err;
	if (!url_ok(url->via.str.ptr, url->via.str.size))
		return bad(r, "url",
			   "an http:// or https:// URL with a host, printable "
			   "ASCII without spaces, at most %d bytes",
			   HOOK_URL_MAX);
	h.events = events_of(r->a[ARG_events], badf, sizeof(badf));
	if (h.events == 0)
		return bad(r, badf,
			   "a non-empty list of booking event types "
			   "(booking.created ...) or \"*\"");
	if (sec && (wire_cstr(sec, h.secret, sizeof(h.secret)) < 0 ||
		    !secret_ok(h.secret, strlen(h.secret))))
		return bad(r, "secret",
			   "\"whsec_\" followed by the base64 of 16 to 64 "
			   "bytes");
	at = find(hs, h.id, strlen(h.id));
	if (at < 0 && hs->n >= HOOK_MAX)
		return req_error(r, BOOKD_E_LIMIT, "hooks: at most %d",
				 HOOK_MAX);
	/* A new hook without a secret gets one; an update without one keeps
	 * the old, so receivers need not change. */
	shown = sec != NULL || at < 0;
	if (sec == NULL && at < 0)
		new_secret(h.secret);
	else if (sec == NULL)
		memcpy(h.secret, hs->h[at].secret, sizeof(h.secret));
	h.active = r->a[ARG_active] ? r->a[ARG_active]->via.boolean : true;
	h.updated_ms = now_ms();
	h.created_ms = at < 0 ? h.updated_ms : hs->h[at].created_ms;
	memcpy(u, url->via.str.ptr, url->via.str.size);
	u[url->via.str.size] = 0;
	h.url = u; /* packed into the record, not kept */
	wbuf_packer_init(&pk, &rec);
	pack_hook(&pk, &h, SHOW_SECRET);
	log_and_apply(r, &rec);
	wbuf_free(&rec);
	at = find(hs, h.id, strlen(h.id));
	pack_hook(r->pk, &hs->h[at], shown ? SHOW_SECRET : SHOW_MASKED);
	explicit_bzero(h.secret, sizeof(h.secret));
	return 0;
}

int h_hook_get(struct req *r)
{
	char id[64];
	int at;

	if (id_arg(r, id))
		return r->err;
	at = found(r, id);
	if (at < 0)
		return r->err;
	pack_hook(r->pk, &r->s->st.webhooks->h[at], SHOW_MASKED);
	return 0;
}

int h_hook_list(struct req *r)
{
	const struct hook_set *hs = r->s->st.webhooks;
	uint32_t n = hs ? hs->n : 0;
	bool secrets = r->a[ARG_secrets] && r->a[ARG_secrets]->via.boolean;

	msgpack_pack_map(r->pk, 1);
	wire_pk_str(r->pk, "hooks");
	msgpack_pack_array(r->pk, n);
	for (uint32_t i = 0; i < n; i++)
		pack_hook(r->pk, &hs->h[i],
			  secrets ? SHOW_SECRET : SHOW_MASKED);
	return 0;
}

int h_hook_delete(struct req *r)
{
	struct wbuf rec = {0};
	msgpack_packer pk;
	char id[64];

	if (id_arg(r, id) || found(r, id) < 0)
		return r->err;
	wbuf_packer_init(&pk, &rec);
	msgpack_pack_map(&pk, 2);
	wire_pk_kstr(&pk, "id", id);
	wire_pk_kbool(&pk, "deleted", true);
	log_and_apply(r, &rec);
	wbuf_free(&rec);
	msgpack_pack_map(r->pk, 2);
	wire_pk_kstr(r->pk, "id", id);
	wire_pk_kbool(r->pk, "deleted", true);
	return 0;
}

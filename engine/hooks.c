/*
 * hooks.c - the webhook registry and its record (see hooks.h).
 *
 * hook.put and hook.delete (engine/ops_hooks.c) get their WAL record from
 * hooks_record() / hooks_delete_record(), log it, and apply that same
 * record through state_apply() -> hooks_apply(), as every other mutation
 * does: recovery and the live path run the same code.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookd_errors.h"
#include "hooks.h"
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

uint32_t hooks_parse_events(const msgpack_object *a, char *bad, size_t badlen)
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

uint32_t hooks_count(const struct state *st)
{
	return st->webhooks ? st->webhooks->n : 0;
}

const struct hook *hooks_at(const struct state *st, uint32_t i)
{
	return i < hooks_count(st) ? &st->webhooks->h[i] : NULL;
}

const struct hook *hooks_find(const struct state *st, const char *id)
{
	int at = find(st->webhooks, id, strlen(id));

	return at < 0 ? NULL : &st->webhooks->h[at];
}

void hooks_in(const struct hook *h, struct hook_in *in)
{
	*in = (struct hook_in){
	    .id = h->id,
	    .url = h->url,
	    .events = h->events,
	    .secret = h->secret,
	    .active = h->active,
	    .created_ms = h->created_ms,
	    .updated_ms = h->updated_ms,
	};
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

void hooks_encode(msgpack_packer *pk, const struct hook_in *in,
		  enum hook_show how)
{
	char m[32];

	msgpack_pack_map(pk, 7);
	wire_pk_kstr(pk, "id", in->id);
	wire_pk_kstr(pk, "url", in->url);
	pack_events(pk, in->events);
	if (how == HOOK_SECRET) {
		wire_pk_kstr(pk, "secret", in->secret);
	} else {
		mask(in->secret, m);
		wire_pk_kstr(pk, "secret", m);
	}
	wire_pk_kbool(pk, "active", in->active);
	wire_pk_kint(pk, "created_ms", in->created_ms);
	wire_pk_kint(pk, "updated_ms", in->updated_ms);
}

int hooks_record(const struct state *st, const struct hook_in *in,
		 struct wbuf *rec, struct proto_error *e)
{
	msgpack_packer pk;

	if (!proto_slug_ok(in->id, strlen(in->id)))
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "id",
				     "1 to 63 characters of a-z, 0-9 and . _ - "
				     "(starting with a letter or digit)");
	if (!url_ok(in->url, strlen(in->url)))
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "url",
				     "an http:// or https:// URL with a host, "
				     "printable ASCII without spaces, at most "
				     "%d bytes",
				     HOOK_URL_MAX);
	if (in->events == 0)
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "events",
				     "a non-empty list of booking event types "
				     "(booking.created ...) or \"*\"");
	if (!secret_ok(in->secret, strlen(in->secret)))
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "secret",
				     "\"whsec_\" followed by the base64 of 16 "
				     "to 64 bytes");
	if (hooks_find(st, in->id) == NULL && hooks_count(st) >= HOOK_MAX)
		return proto_err_set(e, BOOKD_E_LIMIT, NULL,
				     "hooks: at most %d", HOOK_MAX);
	wbuf_packer_init(&pk, rec);
	hooks_encode(&pk, in, HOOK_SECRET);
	return 0;
}

int hooks_delete_record(const struct state *st, const char *id,
			struct wbuf *rec, struct proto_error *e)
{
	msgpack_packer pk;

	if (hooks_find(st, id) == NULL)
		return proto_err_set(e, BOOKD_E_NOT_FOUND, "id", "no hook '%s'",
				     id);
	wbuf_packer_init(&pk, rec);
	msgpack_pack_map(&pk, 2);
	wire_pk_kstr(&pk, "id", id);
	wire_pk_kbool(&pk, "deleted", true);
	return 0;
}

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
	    !proto_slug_ok(h.id, strlen(h.id)))
		return -1;
	at = find(hs, h.id, strlen(h.id));
	if (del && del->type == MSGPACK_OBJECT_BOOLEAN && del->via.boolean) {
		if (at < 0)
			return -1;
		free(hs->h[at].url);
		explicit_bzero(hs->h[at].secret, sizeof(hs->h[at].secret));
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
	h.events = hooks_parse_events(wire_get(m, "events"), NULL, 0);
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

void hooks_pack_rec(msgpack_packer *pk, const struct state *st, uint32_t i)
{
	struct hook_in in;

	hooks_in(&st->webhooks->h[i], &in);
	hooks_encode(pk, &in, HOOK_SECRET);
}

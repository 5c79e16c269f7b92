/*
 * hooks.h - the webhook registry: which URLs the notifier (bookd-notify)
 * posts which booking events to, and with what signing secret.
 *
 * What it owns
 * ------------
 * The registered hooks (state.webhooks, at most HOOK_MAX) and their record
 * format WAL_HOOK: its checks, its one encoder (hooks_encode, which writes
 * the WAL record, the snapshot record and, masked, the replies) and its
 * apply function (hooks_apply, called by state_apply for the live path and
 * recovery alike).  The admin operations hook.put, hook.get, hook.list and
 * hook.delete are handlers in engine/ops_hooks.c.  The engine never calls a
 * hook itself: it never touches the network.  bookd-notify reads the
 * registry with hook.list {secrets: true} and delivers.
 *
 * Record (WAL_HOOK payload, and one snapshot record per hook after the
 * events feed): a MessagePack map
 *   {id, url, events: [type | "*"], secret, active, created_ms, updated_ms}
 * which is the new full state of the hook, or {id, deleted: true}.
 *
 * Invariants
 * ----------
 * - A hook's url starts with http:// or https://, holds only printable
 *   ASCII without spaces and is at most HOOK_URL_MAX bytes; its secret is
 *   "whsec_" + base64 of 16 to 64 bytes; its events are a non-empty set of
 *   the feed's types, or all of them ("*").  Records are checked again when
 *   applied, so a damaged log cannot install a hook the ops would refuse.
 * - The secret leaves the engine only in the reply of the hook.put that set
 *   it and in hook.list {secrets: true} (for the notifier); every other
 *   reply shows a masked form.
 *
 * How it fails
 * ------------
 * hooks_record() refuses an input with BAD_REQUEST naming the field, or
 * LIMIT when HOOK_MAX hooks exist; hooks_delete_record() with NOT_FOUND.
 * hooks_apply() returns -1 for a record it cannot take (recovery treats
 * that as corruption).
 */
#ifndef BOOKD_HOOKS_H
#define BOOKD_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "errors.h"
#include "wal.h"
#include "wire.h"

#define HOOK_MAX	   64
#define HOOK_URL_MAX	   2048
#define HOOK_SECRET_MAX	   96
#define HOOK_SECRET_PREFIX "whsec_"
#define HOOK_ALL	   1u /* bit 0 of events: "*" */

struct hook {
	char id[64];
	char *url;
	uint32_t events; /* bit (1 << enum feed_event), or HOOK_ALL */
	char secret[HOOK_SECRET_MAX + 1];
	bool active;
	int64_t created_ms, updated_ms;
};

struct hook_set {
	uint32_t n;
	struct hook h[HOOK_MAX];
};

struct state;

/* The typed input of hook.put: the new full state of a hook. */
struct hook_in {
	const char *id;	    /* a slug */
	const char *url;    /* NUL-terminated */
	uint32_t events;    /* as struct hook; 0 is refused */
	const char *secret; /* "whsec_" + base64 */
	bool active;
	int64_t created_ms, updated_ms;
};

/* How an encoded hook shows its secret: records and hook.list {secrets}
 * carry it, every other reply a masked form. */
enum hook_show { HOOK_MASKED, HOOK_SECRET };

/* The event set of an array of feed type names or "*"; 0 when the array is
 * empty, not an array, or names an unknown type (then *bad, when given,
 * names the element: "events[i]"). */
uint32_t hooks_parse_events(const msgpack_object *a, char *bad, size_t badlen);

uint32_t hooks_count(const struct state *st);
const struct hook *hooks_at(const struct state *st, uint32_t i);
const struct hook *hooks_find(const struct state *st, const char *id);
/* The input that reproduces a stored hook. */
void hooks_in(const struct hook *h, struct hook_in *in);

/* The one encoder of the hook record. */
void hooks_encode(msgpack_packer *pk, const struct hook_in *in,
		  enum hook_show how);
/* Check an input against the state and encode its WAL record into *rec
 * (which the caller frees).  Returns 0, or a BOOKD_E_* code with *e
 * filled (the field named as on the wire). */
int hooks_record(const struct state *st, const struct hook_in *in,
		 struct wbuf *rec, struct proto_error *e);
/* The record that deletes hook id; NOT_FOUND when there is none. */
int hooks_delete_record(const struct state *st, const char *id,
			struct wbuf *rec, struct proto_error *e);

/* Apply one WAL_HOOK record (from state_apply). */
int hooks_apply(struct state *st, const msgpack_object *m);
void hooks_free(struct state *st);
/* Pack hook i as its record (snapshot). */
void hooks_pack_rec(msgpack_packer *pk, const struct state *st, uint32_t i);

#endif

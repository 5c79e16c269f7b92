/*
 * hooks.h - the webhook registry: which URLs the notifier (bookd-notify)
 * posts which booking events to, and with what signing secret.
 *
 * What it owns
 * ------------
 * The registered hooks (state.webhooks, at most HOOK_MAX), their WAL record
 * type WAL_HOOK and their place in the snapshot, and the admin operations
 * hook.put, hook.get, hook.list and hook.delete.  The engine never calls a
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
 * Handlers reply BAD_REQUEST naming the field, NOT_FOUND, or LIMIT when
 * HOOK_MAX hooks exist.  hooks_apply() returns -1 for a record it cannot
 * take (recovery treats that as corruption).
 */
#ifndef BOOKD_HOOKS_H
#define BOOKD_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#define WAL_HOOK	   4 /* enum wal_type: full hook, or its deletion */
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
struct req;

/* Apply one WAL_HOOK record. */
int hooks_apply(struct state *st, const msgpack_object *m);
void hooks_free(struct state *st);
uint32_t hooks_count(const struct state *st);
/* Pack hook i as its record (snapshot). */
void hooks_pack_rec(msgpack_packer *pk, const struct state *st, uint32_t i);

/* Handlers bound by the op table (engine/ops.c). */
int h_hook_put(struct req *r);
int h_hook_get(struct req *r);
int h_hook_list(struct req *r);
int h_hook_delete(struct req *r);

#endif

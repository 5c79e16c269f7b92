/*
 * hmap.h - a string-keyed hash map to integers (open addressing, linear
 * probing, power-of-two capacity).
 *
 * The map copies its keys, into an arena of its own (arena.h): entries
 * are never removed, since every index bookd keeps by name (resources by
 * slug, bookings by ref, idempotency keys) only grows, and a deleted-entry
 * scheme would be dead code.  Growth failure is fatal (abort), like
 * wbuf's.
 */
#ifndef BOOKD_HMAP_H
#define BOOKD_HMAP_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

struct hmap_ent {
	char *key;
	uint32_t klen;
	uint32_t hash;
	uint64_t val;
};

struct hmap {
	struct hmap_ent *ents;
	size_t cap; /* 0 or a power of two */
	size_t n;
	struct arena keys;
	/* A big map half full has the table it will grow into made ahead,
	 * its memory faulted in on another thread (zeroing megabytes of
	 * fresh memory is slow), and takes it when it grows. */
	struct hmap_ent *next;
	size_t next_cap;
	struct arena_warm warm;
};

/* Returns 1 and sets *val when found, 0 otherwise. */
int hmap_get(const struct hmap *m, const char *key, size_t klen, uint64_t *val);
/* Insert or overwrite. */
void hmap_put(struct hmap *m, const char *key, size_t klen, uint64_t val);
/* Start fetching the slot where key's search begins into the cache, ahead
 * of an hmap_put or hmap_get of it (a cache miss in a big map). */
void hmap_prefetch(const struct hmap *m, const char *key, size_t klen);
/* Make room for n entries in all without growing again. */
void hmap_reserve(struct hmap *m, size_t n);
void hmap_free(struct hmap *m);

/* The hash of n bytes (FNV-1a with a final avalanche, so low bits are
 * usable): the one hmap and the arena's string table use. */
uint32_t hmap_hash(const char *p, size_t n);

#endif

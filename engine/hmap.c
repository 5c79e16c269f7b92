/*
 * hmap.c - see hmap.h.
 */
#include <stdlib.h>
#include <string.h>

#include "hmap.h"

uint32_t hmap_hash(const char *p, size_t n)
{
	/* FNV-1a, then a final avalanche so low bits are usable. */
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

static struct hmap_ent *find(const struct hmap *m, const char *key, size_t klen,
			     uint32_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct hmap_ent *e = &m->ents[i];
		if (e->key == NULL || (e->hash == h && e->klen == klen &&
				       memcmp(e->key, key, klen) == 0))
			return e;
	}
}

int hmap_get(const struct hmap *m, const char *key, size_t klen, uint64_t *val)
{
	struct hmap_ent *e;

	if (m->cap == 0)
		return 0;
	e = find(m, key, klen, hmap_hash(key, klen));
	if (e->key == NULL)
		return 0;
	*val = e->val;
	return 1;
}

void hmap_prefetch(const struct hmap *m, const char *key, size_t klen)
{
	if (m->cap)
		__builtin_prefetch(
		    &m->ents[hmap_hash(key, klen) & (m->cap - 1)], 1);
}

/* Tables of 2 MiB or more are mapped for huge pages: every insert and
 * lookup lands on a random entry, and with 4 KiB pages each is a TLB miss
 * (a nested page walk on a virtual machine). */
static struct hmap_ent *ents_alloc(size_t cap)
{
	struct hmap_ent *e;
	size_t mapped;

	if (cap > SIZE_MAX / sizeof(*e))
		abort();
	if (cap * sizeof(*e) >= ARENA_BLOCK)
		return arena_map(cap * sizeof(*e), &mapped);
	e = calloc(cap, sizeof(*e));
	if (e == NULL)
		abort();
	return e;
}

static void ents_free(struct hmap_ent *e, size_t cap)
{
	if (cap * sizeof(*e) >= ARENA_BLOCK)
		arena_unmap(e, cap * sizeof(*e));
	else
		free(e);
}

/* Let go of the table made ahead, if any. */
static void drop_next(struct hmap *m)
{
	arena_warm_join(&m->warm);
	if (m->next)
		ents_free(m->next, m->next_cap);
	m->next = NULL;
	m->next_cap = 0;
}

static void resize(struct hmap *m, size_t ncap)
{
	struct hmap old = *m;

	if (m->next && m->next_cap == ncap) {
		arena_warm_join(&m->warm);
		m->ents = m->next;
		m->next = NULL;
		m->next_cap = 0;
	} else {
		drop_next(m);
		m->ents = ents_alloc(ncap);
	}
	m->cap = ncap;
	for (size_t i = 0; i < old.cap; i++) {
		struct hmap_ent *o = &old.ents[i];
		if (o->key)
			*find(m, o->key, o->klen, o->hash) = *o;
	}
	ents_free(old.ents, old.cap);
}

static void grow(struct hmap *m)
{
	resize(m, m->cap ? m->cap * 2 : 64);
}

void hmap_reserve(struct hmap *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 64;

	while (n * 4 > cap * 3) {
		if (cap > SIZE_MAX / 2)
			abort();
		cap *= 2;
	}
	if (cap > m->cap)
		resize(m, cap);
}

void hmap_put(struct hmap *m, const char *key, size_t klen, uint64_t val)
{
	uint32_t h = hmap_hash(key, klen);
	struct hmap_ent *e;

	if ((m->n + 1) * 4 > m->cap * 3)
		grow(m);
	else if (m->next == NULL && (m->n + 1) * 2 > m->cap &&
		 m->cap * sizeof(*m->ents) >= ARENA_BLOCK &&
		 m->cap <= SIZE_MAX / 2 / sizeof(*m->ents)) {
		size_t mapped;
		m->next_cap = m->cap * 2;
		m->next = arena_map(m->next_cap * sizeof(*m->ents), &mapped);
		arena_warm_start(&m->warm, m->next, mapped);
	}
	e = find(m, key, klen, h);
	if (e->key == NULL) {
		e->key = arena_strndup(&m->keys, key, klen);
		e->klen = (uint32_t)klen;
		e->hash = h;
		m->n++;
	}
	e->val = val;
}

void hmap_free(struct hmap *m)
{
	drop_next(m);
	ents_free(m->ents, m->cap);
	arena_free(&m->keys);
	m->ents = NULL;
	m->cap = m->n = 0;
}

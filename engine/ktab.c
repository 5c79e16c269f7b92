/*
 * ktab.c - a string-keyed table with removal; see ktab.h.
 */
#include <stdlib.h>
#include <string.h>

#include "ktab.h"

static uint32_t hash(const char *k, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)k[i]) * 16777619u;
	return h;
}

struct kent *ktab_get(const struct ktab *t, const char *key, size_t len)
{
	uint32_t h = hash(key, len);

	if (t->nb == 0)
		return NULL;
	for (struct kent *e = t->b[h & (t->nb - 1)]; e; e = e->next)
		if (e->hash == h && e->klen == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

static void grow(struct ktab *t)
{
	size_t nb = t->nb ? t->nb * 2 : 16;
	struct kent **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		abort();
	for (size_t i = 0; i < t->nb; i++) {
		struct kent *e = t->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

struct kent *ktab_add(struct ktab *t, const char *key, size_t len)
{
	struct kent *e = ktab_get(t, key, len);

	if (e)
		return e;
	if (t->n >= t->nb * 2)
		grow(t);
	e = calloc(1, sizeof(*e) + len + 1);
	if (e == NULL)
		abort();
	e->hash = hash(key, len);
	e->klen = len;
	memcpy(e->key, key, len);
	e->next = t->b[e->hash & (t->nb - 1)];
	t->b[e->hash & (t->nb - 1)] = e;
	t->n++;
	return e;
}

void ktab_del(struct ktab *t, struct kent *e)
{
	struct kent **pp = &t->b[e->hash & (t->nb - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	free(e->val);
	free(e);
	t->n--;
}

void ktab_free(struct ktab *t)
{
	for (size_t i = 0; i < t->nb; i++) {
		struct kent *e = t->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e->val);
			free(e);
		}
	}
	free(t->b);
	memset(t, 0, sizeof(*t));
}

/*
 * ktab.h - a small string-keyed table with removal, for per-caller and
 * per-session bookkeeping that must shrink again (hold sessions, live hold
 * counts, rate-limit buckets).
 *
 * Chained hashing with a power-of-two bucket array that doubles when the
 * table holds twice as many entries as buckets.  Each entry carries a
 * counter, a time and an optional owned string for its user.  Entries are
 * removed by their user when they no longer say anything (a count back to
 * zero, a full bucket), so the table's size follows what is live, never
 * what was ever seen.  Allocation failure is fatal (abort), as elsewhere in
 * the engine's memory-only structures.
 */
#ifndef BOOKD_KTAB_H
#define BOOKD_KTAB_H

#include <stddef.h>
#include <stdint.h>

struct kent {
	struct kent *next;
	uint32_t hash;
	int64_t n; /* the user's counter */
	int64_t t; /* the user's time */
	char *val; /* the user's string (owned, freed with the entry) */
	size_t klen;
	char key[]; /* NUL-terminated */
};

struct ktab {
	struct kent **b;
	size_t nb; /* 0 or a power of two */
	size_t n;
};

struct kent *ktab_get(const struct ktab *t, const char *key, size_t len);
/* The entry for key, created zeroed (n = t = 0, val = NULL) if absent. */
struct kent *ktab_add(struct ktab *t, const char *key, size_t len);
void ktab_del(struct ktab *t, struct kent *e);
void ktab_free(struct ktab *t);

#endif

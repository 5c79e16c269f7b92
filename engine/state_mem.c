/*
 * state_mem.c - the memory of the domain state: bookings and their strings
 * in the state's arena (arena.h), sizing it ahead of a load, and replay,
 * which applies durable records without queuing deltas and then sets the
 * committed copies at once; see state.h.
 */
#include <stdlib.h>
#include <string.h>

#include "quanta.h"
#include "state.h"
#include "state_int.h"

struct booking *st_new_booking(struct state *st)
{
	return arena_alloc(&st->mem, sizeof(struct booking),
			   _Alignof(struct booking));
}

struct hist *st_hist_alloc(struct state *st, size_t n)
{
	size_t room = 1;

	if (n == 0)
		return NULL;
	while (room < n)
		room *= 2;
	return arena_alloc(&st->mem, room * sizeof(struct hist),
			   _Alignof(struct hist));
}

void st_prefetch_days(const struct state *st, const struct booking *b)
{
	int64_t day = q_day_of(occ_start(b));

	if (day < st->first_day || day > st->last_day)
		return;
	/* A day slot is a cache miss on a restart (the rings of every
	 * resource are far bigger than the cache): start fetching it while
	 * the rest of the record is applied. */
	for (int i = 0; i < b->nitems; i++) {
		const struct resource *r = st->res[b->items[i].res];
		const char *d = (const char *)&r->days[st_ring(st, day)];
		__builtin_prefetch(d, 1);
		__builtin_prefetch(d + sizeof(struct rday) - 1, 1);
	}
}

const char *st_intern(struct state *st, const char *s, size_t n)
{
	return strtab_intern(&st->strs, s, n);
}

const char *st_keep(struct state *st, const char *s, size_t n)
{
	return arena_strndup(&st->mem, s, n);
}

void state_reserve(struct state *st, size_t resources, size_t bookings)
{
	size_t bytes = 0;

	if (resources <= st->max_resources - st->nres)
		bytes += resources * st->window_days * sizeof(struct rday);
	if (bookings > 0 && bookings <= UINT32_MAX - st->nbk) {
		st->bk = st_grow(st->bk, &st->capbk, st->nbk + bookings,
				 sizeof(*st->bk));
		hmap_reserve(&st->bk_by_ref, st->nbk + bookings);
		/* A booking, one item and its shortest strings: less than
		 * most take, so the estimate does not overshoot. */
		bytes += bookings *
			 (sizeof(struct booking) + sizeof(struct item) + 32);
	}
	arena_reserve(&st->mem, bytes);
}

void state_replay_begin(struct state *st)
{
	st->replaying = true;
}

/* The committed units of a day: a copy of the working ones. */
static void copy_units(uint16_t **dst, const uint16_t *src)
{
	if (src == NULL) {
		free(*dst);
		*dst = NULL;
		return;
	}
	if (*dst == NULL)
		*dst = st_calloc(Q_PER_DAY, sizeof(uint16_t));
	memcpy(*dst, src, Q_PER_DAY * sizeof(uint16_t));
}

void state_replay_end(struct state *st)
{
	st->replaying = false;
	for (uint32_t i = 0; i < st->nres; i++) {
		struct resource *r = st->res[i];
		r->cquantity = r->quantity;
		r->csched = r->sched;
		for (uint32_t k = 0; k < st->window_days; k++) {
			struct rday *d = &r->days[k];
			if (d->day == DAY_NONE)
				continue;
			d->copen[0] = d->open[0];
			d->copen[1] = d->open[1];
			d->cbooked[0] = d->booked[0];
			d->cbooked[1] = d->booked[1];
			copy_units(&d->cunits, d->units);
			d->open_changed = false;
		}
	}
}

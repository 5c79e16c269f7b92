/*
 * state.c - the domain state: lookups, bitmaps, checks, holds and the
 * window; see state.h for its invariants.  The record formats and their
 * encoders are in records.c.
 */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bookd_errors.h"
#include "hooks.h"
#include "quanta.h"
#include "state.h"
#include "state_int.h"
#include "wal.h"

const char *const bstatus_names[BS__COUNT] = {
    "pending", "confirmed", "declined", "cancelled", "completed", "no_show",
};

const char *const event_names[EV__COUNT] = {
    "",
    "booking.created",
    "booking.confirmed",
    "booking.declined",
    "booking.cancelled",
    "booking.completed",
    "booking.no_show",
    "booking.rescheduled",
};

int bstatus_parse(const msgpack_object *o)
{
	for (int i = 0; i < BS__COUNT; i++)
		if (wire_str_eq(o, bstatus_names[i]))
			return i;
	return -1;
}

bool bstatus_can_move(int from, int to)
{
	switch (from) {
	case BS_PENDING:
		return to == BS_CONFIRMED || to == BS_DECLINED ||
		       to == BS_CANCELLED;
	case BS_CONFIRMED:
		return to == BS_COMPLETED || to == BS_CANCELLED ||
		       to == BS_NO_SHOW;
	default:
		return false;
	}
}

void *st_calloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);
	if (p == NULL)
		abort();
	return p;
}

char *st_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p == NULL)
		abort();
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

/* Grow a vector of n items to hold at least need. */
void *st_grow(void *v, size_t *cap, size_t need, size_t sz)
{
	size_t ncap;
	void *nv;

	if (need <= *cap)
		return v;
	ncap = *cap ? *cap : 8;
	while (ncap < need)
		ncap *= 2;
	nv = reallocarray(v, ncap, sz);
	if (nv == NULL)
		abort();
	if (ncap * sz >= ((size_t)4 << 20)) {
		/* A vector grown big (the bookings, the events feed) faults
		 * its new room in 2 MiB at a time rather than 4 KiB (a slow
		 * fault on a virtual machine).  Advice only.  The range is
		 * rounded outwards to pages, so that it covers the whole
		 * mapping of a block malloc mapped for it: advice on part of
		 * a mapping splits it, and the next realloc could then no
		 * longer move it with mremap but would copy it. */
		uintptr_t a = (uintptr_t)nv & ~(uintptr_t)4095;
		uintptr_t e =
		    ((uintptr_t)nv + ncap * sz + 4095) & ~(uintptr_t)4095;
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
	}
	*cap = ncap;
	return nv;
}

uint32_t st_ring(const struct state *st, int64_t day)
{
	int64_t w = st->window_days;

	/* Days since 1970 fit 32 bits for millennia: a 32-bit division is
	 * several times cheaper than two 64-bit ones, and this runs for
	 * every day of every resource on a restart. */
	if (day >= 0 && day <= UINT32_MAX)
		return (uint32_t)day % st->window_days;
	return (uint32_t)(((day % w) + w) % w);
}

int state_init(struct state *st, uint32_t max_resources, int64_t first_day,
	       int64_t last_day, uint32_t window_days)
{
	memset(st, 0, sizeof(*st));
	if (last_day < first_day ||
	    (uint64_t)(last_day - first_day + 1) > window_days)
		return -1;
	st->max_resources = max_resources;
	st->first_day = first_day;
	st->last_day = last_day;
	st->window_days = window_days;
	st->res = st_calloc(max_resources, sizeof(*st->res));
	return 0;
}

static void free_day(struct rday *d)
{
	free(d->units);
	free(d->cunits);
	free(d->bids);
	d->units = d->cunits = NULL;
	d->bids = NULL;
	d->nbids = d->capbids = 0;
}

void state_free(struct state *st)
{
	for (uint32_t i = 0; i < st->nres; i++) {
		struct resource *r = st->res[i];
		struct hold *h = r->holds;
		while (h) {
			struct hold *n = h->rnext;
			free(h);
			h = n;
		}
		for (uint32_t d = 0; d < st->window_days; d++)
			free_day(&r->days[d]);
		sched_free(r->sched);
		free(r->sched_ref);
		free(r->name);
		free(r->kind);
		free(r->timezone);
		free(r->meta);
		free(r);
	}
	free(st->res);
	free(st->bk);
	free(st->ev);
	hooks_free(st);
	free(st->deltas);
	for (size_t i = 0; i < st->nold; i++)
		sched_free(st->old_scheds[i]);
	free(st->old_scheds);
	for (uint32_t i = 0; i < st->nss; i++)
		sched_free(st->ss[i].sched);
	free(st->ss);
	for (uint32_t i = 0; i < st->nhc; i++) {
		hcal_free(st->hc[i].cal);
		free(st->hc[i].name);
	}
	free(st->hc);
	for (uint32_t i = 0; i < st->net; i++) {
		free(st->et[i]->title);
		free(st->et[i]->meta);
		free(st->et[i]);
	}
	free(st->et);
	hmap_free(&st->et_by_id);
	hmap_free(&st->res_by_id);
	hmap_free(&st->bk_by_ref);
	hmap_free(&st->bk_by_key);
	hmap_free(&st->bk_by_email);
	for (size_t i = 0; i < st->n_email; i++)
		free(st->by_email_ids[i].ids);
	free(st->by_email_ids);
	ktab_free(&st->sessions);
	ktab_free(&st->holders);
	if (st->zone)
		msgpack_zone_free(st->zone);
	strtab_free(&st->strs);
	arena_free(&st->mem);
	memset(st, 0, sizeof(*st));
}

struct resource *state_resource(const struct state *st, const char *id,
				size_t len)
{
	uint64_t v;
	return hmap_get(&st->res_by_id, id, len, &v) ? st->res[v] : NULL;
}

struct booking *state_booking(const struct state *st, uint64_t id)
{
	return (id >= 1 && id <= st->nbk) ? st->bk[id - 1] : NULL;
}

struct booking *state_booking_by_ref(const struct state *st, const char *ref,
				     size_t len)
{
	uint64_t v;
	return hmap_get(&st->bk_by_ref, ref, len, &v) ? state_booking(st, v)
						      : NULL;
}

/* Idempotency keys are indexed as "<owner>\x1f<key>": each principal has
 * its own keys.  (Principals never hold 0x1f.) */
size_t st_key_index(char *buf, size_t cap, const char *owner, const char *key,
		    size_t len)
{
	size_t ol = owner ? strlen(owner) : 0;

	if (ol + 1 + len > cap)
		return 0;
	memcpy(buf, owner ? owner : "", ol);
	buf[ol] = 0x1f;
	memcpy(buf + ol + 1, key, len);
	return ol + 1 + len;
}

struct booking *state_booking_by_key(const struct state *st, const char *owner,
				     const char *key, size_t len)
{
	char ix[STATE_KEY_INDEX_MAX];
	size_t n = st_key_index(ix, sizeof(ix), owner, key, len);
	uint64_t v;

	return n && hmap_get(&st->bk_by_key, ix, n, &v) ? state_booking(st, v)
							: NULL;
}

struct rday *state_day(const struct state *st, const struct resource *r,
		       int64_t day)
{
	struct rday *d;

	if (day < st->first_day || day > st->last_day)
		return NULL;
	d = &r->days[st_ring(st, day)];
	return d->day == day ? d : NULL;
}

void st_push_delta(struct state *st, const struct delta *d)
{
	if (st->replaying)
		return;
	st->deltas = st_grow(st->deltas, &st->capdeltas, st->ndeltas + 1,
			     sizeof(*st->deltas));
	st->deltas[st->ndeltas++] = *d;
}

void st_open_bits(const struct sched *sc, int64_t day, uint64_t open[2])
{
	if (sc) {
		sched_open_bits(sc, day, open);
		return;
	}
	/* Without a schedule a resource is open around the clock. */
	open[0] = ~0ull;
	open[1] = 0xffffffffull;
}

void st_init_day(const struct resource *r, struct rday *d, int64_t day)
{
	free_day(d);
	memset(d, 0, sizeof(*d));
	d->day = day;
	st_open_bits(r->sched, day, d->open);
	st_open_bits(r->csched, day, d->copen);
}

/* Slot count of slot s in a (units, booked) pair. */
static unsigned slot_count(const uint16_t *units, const uint64_t booked[2],
			   int s)
{
	if (units)
		return units[s];
	return (unsigned)((booked[s / 64] >> (s % 64)) & 1);
}

/*
 * Re-express one day's occupancy under quantity q: counts are kept when the
 * resource is a pool or some slot holds more than one unit (a quantity
 * lowered under existing bookings), plain bits otherwise.
 */
void st_requant_copy(uint16_t **unitsp, uint64_t booked[2], uint32_t q)
{
	uint16_t c[Q_PER_DAY];
	bool need_units = q > 1;

	for (int s = 0; s < Q_PER_DAY; s++) {
		c[s] = (uint16_t)slot_count(*unitsp, booked, s);
		if (c[s] > 1)
			need_units = true;
	}
	booked[0] = booked[1] = 0;
	for (int s = 0; s < Q_PER_DAY; s++)
		if (c[s] >= q && c[s] > 0)
			booked[s / 64] |= 1ull << (s % 64);
	if (need_units) {
		if (*unitsp == NULL)
			*unitsp = st_calloc(Q_PER_DAY, sizeof(uint16_t));
		memcpy(*unitsp, c, sizeof(c));
	} else {
		free(*unitsp);
		*unitsp = NULL;
	}
}

static void occupy_slots(uint16_t **unitsp, uint64_t booked[2], uint32_t q,
			 int from, int to, int qty)
{
	assert(0 <= from && from <= to && to <= Q_PER_DAY);
	assert(q >= 1 && q <= STATE_MAX_QUANTITY && qty != 0);
	if (*unitsp == NULL && q == 1 && (qty == 1 || qty == -1)) {
		uint64_t m[2];
		q_mask(m, from, to);
		if (qty > 0) {
			booked[0] |= m[0];
			booked[1] |= m[1];
		} else {
			booked[0] &= ~m[0];
			booked[1] &= ~m[1];
		}
		return;
	}
	if (*unitsp == NULL)
		st_requant_copy(unitsp, booked, q);
	if (*unitsp == NULL) /* q == 1 and nothing stacked: make counts */
		*unitsp = st_calloc(Q_PER_DAY, sizeof(uint16_t));
	for (int s = from; s < to; s++) {
		int c = (*unitsp)[s] + qty;
		(*unitsp)[s] = (uint16_t)(c < 0 ? 0 : c);
		if ((*unitsp)[s] >= q && (*unitsp)[s] > 0)
			booked[s / 64] |= 1ull << (s % 64);
		else
			booked[s / 64] &= ~(1ull << (s % 64));
	}
}

static void bids_add(struct rday *d, uint32_t id)
{
	size_t cap = d->capbids;
	for (uint32_t i = 0; i < d->nbids; i++)
		if (d->bids[i] == id)
			return;
	d->bids = st_grow(d->bids, &cap, d->nbids + 1, sizeof(*d->bids));
	d->capbids = (uint32_t)cap;
	d->bids[d->nbids++] = id;
}

static void bids_del(struct rday *d, uint32_t id)
{
	for (uint32_t i = 0; i < d->nbids; i++)
		if (d->bids[i] == id) {
			d->bids[i] = d->bids[--d->nbids];
			return;
		}
}

void state_occupy(struct state *st, const struct booking *b, int sign,
		  bool emit)
{
	int64_t d0, d1, os = occ_start(b), oe = occ_end(b);

	span_days(os, oe, &d0, &d1);
	if (d0 < st->first_day)
		d0 = st->first_day;
	if (d1 > st->last_day)
		d1 = st->last_day;
	for (int i = 0; i < b->nitems; i++) {
		struct resource *r = st->res[b->items[i].res];
		int qty = sign * (int)b->items[i].qty;
		for (int64_t day = d0; day <= d1; day++) {
			struct rday *d = state_day(st, r, day);
			int from, to;
			if (d == NULL)
				continue;
			span_slots(os, oe, day, &from, &to);
			occupy_slots(&d->units, d->booked, r->quantity, from,
				     to, qty);
			if (sign > 0)
				bids_add(d, b->id);
			else
				bids_del(d, b->id);
			if (emit) {
				struct delta dl = {DELTA_OCCUPY, (uint8_t)from,
						   (uint8_t)to,	 qty,
						   r->idx,	 day};
				st_push_delta(st, &dl);
			}
		}
	}
}

void state_commit_deltas(struct state *st, const struct delta *dl, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct delta *x = &dl[i];
		struct resource *r = st->res[x->res];
		struct rday *d;

		switch (x->kind) {
		case DELTA_OCCUPY:
			d = state_day(st, r, x->day);
			if (d)
				occupy_slots(&d->cunits, d->cbooked,
					     r->cquantity, x->from, x->to,
					     x->qty);
			break;
		case DELTA_REQUANT:
			r->cquantity = (uint32_t)x->qty;
			for (uint32_t k = 0; k < st->window_days; k++)
				if (r->days[k].day != DAY_NONE)
					st_requant_copy(&r->days[k].cunits,
							r->days[k].cbooked,
							r->cquantity);
			break;
		case DELTA_OPEN:
			r->csched = x->ptr;
			for (uint32_t k = 0; k < st->window_days; k++) {
				struct rday *dd = &r->days[k];
				uint64_t was[2] = {dd->copen[0], dd->copen[1]};
				if (dd->day == DAY_NONE)
					continue;
				st_open_bits(r->csched, dd->day, dd->copen);
				if (was[0] != dd->copen[0] ||
				    was[1] != dd->copen[1])
					dd->open_changed = true;
			}
			break;
		default:
			break;
		}
	}
}

struct delta *state_take_deltas(struct state *st, size_t *n)
{
	struct delta *d = st->deltas;
	*n = st->ndeltas;
	st->deltas = NULL;
	st->ndeltas = st->capdeltas = 0;
	return d;
}

/* ---- checks ----------------------------------------------------------- */

static bool overlaps(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
	return a0 < b1 && b0 < a1;
}

static void add_conflict(struct check_out *out, uint32_t id)
{
	for (uint32_t i = 0; i < out->nids; i++)
		if (out->ids[i] == id)
			return;
	if (out->nids < sizeof(out->ids) / sizeof(out->ids[0]))
		out->ids[out->nids++] = id;
}

/* Units other sessions' holds take on slot s of day (pools count each
 * overlapping hold as one unit). */
static unsigned held_units(const struct resource *r, int64_t day, int s,
			   const char *session)
{
	int64_t t0 = day * DAY_SECONDS + (int64_t)s * Q_SECONDS;
	unsigned n = 0;

	for (const struct hold *h = r->holds; h; h = h->rnext)
		if (overlaps(h->start, h->end, t0, t0 + Q_SECONDS) &&
		    (session == NULL || strcmp(h->session, session) != 0))
			n++;
	return n;
}

static int fail(struct check_out *out, int err, uint32_t res)
{
	out->err = err;
	out->res = res;
	return err;
}

int state_check(struct state *st, const struct item *items, int nitems,
		int64_t start, int64_t end, unsigned flags, const char *session,
		struct check_out *out)
{
	int64_t d0, d1;
	bool check_holds = flags & CHK_HOLDS;

	assert(nitems >= 1 && nitems <= MAX_ITEMS && start < end);
	memset(out, 0, sizeof(*out));
	span_days(start, end, &d0, &d1);
	for (int i = 0; i < nitems; i++) {
		const struct resource *r = st->res[items[i].res];
		if (!r->active)
			return fail(out, BOOKD_E_INACTIVE, r->idx);
	}
	if (d0 < st->first_day || d1 > st->last_day)
		return fail(out, BOOKD_E_OUT_OF_RANGE, items[0].res);
	for (int i = 0; i < nitems && (flags & CHK_OPEN); i++) {
		const struct resource *r = st->res[items[i].res];
		for (int64_t day = d0; day <= d1; day++) {
			const struct rday *d = state_day(st, r, day);
			uint64_t m[2];
			int from, to;
			span_slots(start, end, day, &from, &to);
			q_mask(m, from, to);
			if ((d->open[0] & m[0]) != m[0] ||
			    (d->open[1] & m[1]) != m[1])
				return fail(out, BOOKD_E_CLOSED, r->idx);
		}
	}
	for (int i = 0; i < nitems; i++) {
		const struct resource *r = st->res[items[i].res];
		for (int64_t day = d0; day <= d1; day++) {
			const struct rday *d = state_day(st, r, day);
			bool hit = false;
			int from, to;
			span_slots(start, end, day, &from, &to);
			for (int s = from; s < to && !hit; s++)
				hit = slot_count(d->units, d->booked, s) +
					  items[i].qty >
				      r->quantity;
			if (!hit)
				continue;
			out->err = BOOKD_E_CONFLICT;
			out->res = r->idx;
			for (uint32_t k = 0; k < d->nbids; k++) {
				const struct booking *b =
				    st->bk[d->bids[k] - 1];
				for (int j = 0; j < b->nitems; j++)
					if (b->items[j].res == r->idx &&
					    overlaps(occ_start(b), occ_end(b),
						     start, end))
						add_conflict(out, b->id);
			}
		}
	}
	if (out->err)
		return out->err;
	if (!check_holds)
		return 0;
	for (int i = 0; i < nitems; i++) {
		const struct resource *r = st->res[items[i].res];
		for (int64_t day = d0; day <= d1; day++) {
			const struct rday *d = state_day(st, r, day);
			uint64_t m[2];
			int from, to;
			span_slots(start, end, day, &from, &to);
			q_mask(m, from, to);
			if (((d->held[0] & m[0]) | (d->held[1] & m[1])) == 0)
				continue;
			for (int s = from; s < to; s++) {
				unsigned used =
				    slot_count(d->units, d->booked, s);
				if ((d->held[s / 64] >> (s % 64) & 1) &&
				    used + held_units(r, day, s, session) +
					    items[i].qty >
					r->quantity)
					return fail(out, BOOKD_E_HELD, r->idx);
			}
		}
	}
	return 0;
}

/* ---- holds ------------------------------------------------------------ */

struct hold *state_hold_find(const struct resource *r, const char *session)
{
	for (struct hold *h = r->holds; h; h = h->rnext)
		if (strcmp(h->session, session) == 0)
			return h;
	return NULL;
}

/* Recompute held bits over the days of [start, end) and report changes. */
static void refresh_held(struct state *st, struct resource *r, int64_t start,
			 int64_t end)
{
	int64_t d0, d1;

	span_days(start, end, &d0, &d1);
	for (int64_t day = d0; day <= d1; day++) {
		struct rday *d = state_day(st, r, day);
		uint64_t held[2] = {0, 0};
		if (d == NULL)
			continue;
		for (const struct hold *h = r->holds; h; h = h->rnext) {
			int from, to;
			if (!overlaps(h->start, h->end, day * DAY_SECONDS,
				      (day + 1) * DAY_SECONDS))
				continue;
			span_slots(h->start, h->end, day, &from, &to);
			q_bits_set(held, from, to);
		}
		if (held[0] != d->held[0] || held[1] != d->held[1]) {
			uint64_t old[2] = {d->held[0], d->held[1]};
			d->held[0] = held[0];
			d->held[1] = held[1];
			if (st->hooks.held_changed)
				st->hooks.held_changed(st->hooks.ctx, r, d,
						       old);
		}
	}
}

static void exp_unlink(struct state *st, struct hold *h)
{
	if (h->eprev)
		h->eprev->enext = h->enext;
	else
		st->exp_head = h->enext;
	if (h->enext)
		h->enext->eprev = h->eprev;
	else
		st->exp_tail = h->eprev;
	h->enext = h->eprev = NULL;
}

static void exp_append(struct state *st, struct hold *h)
{
	h->eprev = st->exp_tail;
	h->enext = NULL;
	if (st->exp_tail)
		st->exp_tail->enext = h;
	else
		st->exp_head = h;
	st->exp_tail = h;
}

const char *state_session_owner(const struct state *st, const char *session)
{
	const struct kent *e =
	    ktab_get(&st->sessions, session, strlen(session));
	return e ? e->val : NULL;
}

uint32_t state_holds_of(const struct state *st, const char *owner)
{
	const struct kent *e = ktab_get(&st->holders, owner, strlen(owner));
	return e ? (uint32_t)e->n : 0;
}

/* Count a hold in (sign 1) or out (sign -1) of its session and owner. */
static void hold_count(struct state *st, const struct hold *h, int sign)
{
	struct kent *s, *o;

	if (sign > 0) {
		s = ktab_add(&st->sessions, h->session, strlen(h->session));
		if (s->val == NULL)
			s->val = st_strndup(h->owner, strlen(h->owner));
		/* One owner per live session: the caller checked. */
		assert(strcmp(s->val, h->owner) == 0);
		s->n++;
		o = ktab_add(&st->holders, h->owner, strlen(h->owner));
		o->n++;
		return;
	}
	s = ktab_get(&st->sessions, h->session, strlen(h->session));
	o = ktab_get(&st->holders, h->owner, strlen(h->owner));
	assert(s != NULL && s->n > 0 && o != NULL && o->n > 0);
	if (--s->n == 0)
		ktab_del(&st->sessions, s);
	if (--o->n == 0)
		ktab_del(&st->holders, o);
}

int state_hold_set(struct state *st, struct resource *r, const char *session,
		   const char *owner, int64_t start, int64_t end,
		   int64_t expires_ms)
{
	struct hold *h = state_hold_find(r, session);
	int64_t os = start, oe = end;
	int changed = 1;

	assert(start < end);
	if (h == NULL) {
		h = st_calloc(1, sizeof(*h));
		h->res = r->idx;
		snprintf(h->session, sizeof(h->session), "%s", session);
		snprintf(h->owner, sizeof(h->owner), "%s", owner);
		hold_count(st, h, +1);
		h->rnext = r->holds;
		if (r->holds)
			r->holds->rprev = h;
		r->holds = h;
		r->nholds++;
		st->nholds++;
	} else {
		changed = h->start != start || h->end != end;
		os = h->start;
		oe = h->end;
		exp_unlink(st, h);
	}
	h->start = start;
	h->end = end;
	h->expires_ms = expires_ms;
	exp_append(st, h);
	if (changed) {
		refresh_held(st, r, os, oe);
		if (os != start || oe != end)
			refresh_held(st, r, start, end);
	}
	return changed;
}

int state_hold_release(struct state *st, struct resource *r,
		       const char *session)
{
	struct hold *h = state_hold_find(r, session);

	if (h == NULL)
		return 0;
	/* Unlink first so the held bits are recomputed without it. */
	exp_unlink(st, h);
	if (h->rprev)
		h->rprev->rnext = h->rnext;
	else
		r->holds = h->rnext;
	if (h->rnext)
		h->rnext->rprev = h->rprev;
	h->rnext = h->rprev = NULL;
	assert(r->nholds > 0 && st->nholds > 0);
	r->nholds--;
	st->nholds--;
	hold_count(st, h, -1);
	refresh_held(st, r, h->start, h->end);
	free(h);
	return 1;
}

uint32_t state_hold_expire(struct state *st, int64_t now)
{
	uint32_t n = 0;

	while (st->exp_head && st->exp_head->expires_ms <= now) {
		struct hold *h = st->exp_head;
		state_hold_release(st, st->res[h->res], h->session);
		n++;
	}
	return n;
}

int64_t state_hold_next_expiry(const struct state *st)
{
	return st->exp_head ? st->exp_head->expires_ms : -1;
}

/* ---- window ----------------------------------------------------------- */

void state_slide(struct state *st, int64_t first_day, int64_t last_day)
{
	int64_t old_last = st->last_day;

	if (last_day <= old_last)
		return;
	st->first_day = first_day;
	st->last_day = last_day;
	for (int64_t day = old_last + 1; day <= last_day; day++) {
		if (day < first_day)
			continue;
		for (uint32_t i = 0; i < st->nres; i++)
			st_init_day(st->res[i],
				    &st->res[i]->days[st_ring(st, day)], day);
	}
	/* Days that enter the window are empty unless a booking reaches that
	 * far ahead (made under a longer horizon): find those once. */
	for (uint32_t i = 0; i < st->nbk; i++) {
		const struct booking *b = st->bk[i];
		int64_t d0, d1;
		if (!bstatus_occupies(b->status))
			continue;
		span_days(occ_start(b), occ_end(b), &d0, &d1);
		if (d1 <= old_last)
			continue;
		for (int k = 0; k < b->nitems; k++) {
			struct resource *r = st->res[b->items[k].res];
			for (int64_t day = d0 > old_last ? d0 : old_last + 1;
			     day <= d1 && day <= last_day; day++) {
				struct rday *d = state_day(st, r, day);
				int from, to;
				span_slots(occ_start(b), occ_end(b), day, &from,
					   &to);
				occupy_slots(&d->units, d->booked, r->quantity,
					     from, to, (int)b->items[k].qty);
				occupy_slots(&d->cunits, d->cbooked,
					     r->cquantity, from, to,
					     (int)b->items[k].qty);
				bids_add(d, b->id);
			}
		}
	}
}

uint32_t state_et_step(const struct event_type *et)
{
	uint32_t m = et->nlengths ? et->lengths[0] : 15;

	if (et->slot_interval)
		return et->slot_interval;
	for (uint32_t i = 1; i < et->nlengths; i++)
		if (et->lengths[i] < m)
			m = et->lengths[i];
	return m;
}

/* The index key of an e-mail: ASCII letters folded to lower case (the
 * domain is case-insensitive, and people do not tell local parts apart by
 * case either).  Returns its length, 0 when it does not fit. */
static size_t email_key(const char *email, size_t len, char *out, size_t cap)
{
	if (len == 0 || len >= cap)
		return 0;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(email[i] >= 'A' && email[i] <= 'Z'
				    ? email[i] - 'A' + 'a'
				    : email[i]);
	return len;
}

const struct id_list *state_bookings_by_email(const struct state *st,
					      const char *email, size_t len)
{
	char key[PROTO_EMAIL_MAX + 1];
	uint64_t v;
	size_t n = email_key(email, len, key, sizeof key);

	if (n == 0 || !hmap_get(&st->bk_by_email, key, n, &v))
		return NULL;
	return &st->by_email_ids[v];
}

void st_index_email(struct state *st, const struct booking *b)
{
	char key[PROTO_EMAIL_MAX + 1];
	size_t n = b->email
		       ? email_key(b->email, strlen(b->email), key, sizeof key)
		       : 0;
	struct id_list *l;
	uint64_t v;

	if (n == 0)
		return;
	if (!hmap_get(&st->bk_by_email, key, n, &v)) {
		st->by_email_ids =
		    st_grow(st->by_email_ids, &st->cap_email, st->n_email + 1,
			    sizeof(*st->by_email_ids));
		v = st->n_email++;
		memset(&st->by_email_ids[v], 0, sizeof(st->by_email_ids[v]));
		hmap_put(&st->bk_by_email, key, n, v);
	}
	l = &st->by_email_ids[v];
	/* Bookings are added in id order, so each list stays ascending. */
	assert(l->n == 0 || l->ids[l->n - 1] < b->id);
	l->ids = st_grow(l->ids, &l->cap, l->n + 1, sizeof(*l->ids));
	l->ids[l->n++] = b->id;
}

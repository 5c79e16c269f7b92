/*
 * state.c - the domain state; see state.h for its invariants.
 */
#include <stdlib.h>
#include <string.h>

#include "bookd_errors.h"
#include "hooks.h"
#include "quanta.h"
#include "state.h"
#include "wal.h"

#define MAX_QUANTITY 10000

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

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);
	if (p == NULL)
		abort();
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p == NULL)
		abort();
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

/* Grow a vector of n items to hold at least need. */
static void *grow_vec(void *v, size_t *cap, size_t need, size_t sz)
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
	*cap = ncap;
	return nv;
}

static uint32_t ring(const struct state *st, int64_t day)
{
	int64_t w = st->window_days;
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
	st->res = xcalloc(max_resources, sizeof(*st->res));
	return 0;
}

static void free_booking(struct booking *b)
{
	if (b == NULL)
		return;
	free(b->items);
	free(b->name);
	free(b->email);
	free(b->phone);
	free(b->notes);
	free(b->timezone);
	free(b->event_type);
	free(b->note);
	free(b->key);
	for (int i = 0; i < b->nhist; i++) {
		free(b->hist[i].by);
		free(b->hist[i].reason);
	}
	free(b->hist);
	free(b);
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
		free(r->days);
		sched_free(r->sched);
		free(r->name);
		free(r->kind);
		free(r->timezone);
		free(r->meta);
		free(r);
	}
	free(st->res);
	for (uint32_t i = 0; i < st->nbk; i++)
		free_booking(st->bk[i]);
	free(st->bk);
	free(st->ev);
	hooks_free(st);
	free(st->deltas);
	for (size_t i = 0; i < st->nold; i++)
		sched_free(st->old_scheds[i]);
	free(st->old_scheds);
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

struct booking *state_booking_by_key(const struct state *st, const char *key,
				     size_t len)
{
	uint64_t v;
	return hmap_get(&st->bk_by_key, key, len, &v) ? state_booking(st, v)
						      : NULL;
}

struct rday *state_day(const struct state *st, const struct resource *r,
		       int64_t day)
{
	struct rday *d;

	if (day < st->first_day || day > st->last_day)
		return NULL;
	d = &r->days[ring(st, day)];
	return d->day == day ? d : NULL;
}

static void push_delta(struct state *st, const struct delta *d)
{
	st->deltas = grow_vec(st->deltas, &st->capdeltas, st->ndeltas + 1,
			      sizeof(*st->deltas));
	st->deltas[st->ndeltas++] = *d;
}

static void open_bits(const struct sched *sc, int64_t day, uint64_t open[2])
{
	if (sc) {
		sched_open_bits(sc, day, open);
		return;
	}
	/* Without a schedule a resource is open around the clock. */
	open[0] = ~0ull;
	open[1] = 0xffffffffull;
}

static void init_day(const struct resource *r, struct rday *d, int64_t day)
{
	free_day(d);
	memset(d, 0, sizeof(*d));
	d->day = day;
	open_bits(r->sched, day, d->open);
	open_bits(r->csched, day, d->copen);
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
static void requant_copy(uint16_t **unitsp, uint64_t booked[2], uint32_t q)
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
			*unitsp = xcalloc(Q_PER_DAY, sizeof(uint16_t));
		memcpy(*unitsp, c, sizeof(c));
	} else {
		free(*unitsp);
		*unitsp = NULL;
	}
}

static void occupy_slots(uint16_t **unitsp, uint64_t booked[2], uint32_t q,
			 int from, int to, int qty)
{
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
		requant_copy(unitsp, booked, q);
	if (*unitsp == NULL) /* q == 1 and nothing stacked: make counts */
		*unitsp = xcalloc(Q_PER_DAY, sizeof(uint16_t));
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
	d->bids = grow_vec(d->bids, &cap, d->nbids + 1, sizeof(*d->bids));
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
				push_delta(st, &dl);
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
					requant_copy(&r->days[k].cunits,
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
				open_bits(r->csched, dd->day, dd->copen);
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

/* ---- records ---------------------------------------------------------- */

static char *obj_strdup(const msgpack_object *o)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return NULL;
	return xstrndup(o->via.str.ptr, o->via.str.size);
}

static int64_t obj_int(const msgpack_object *o, int64_t dflt)
{
	int64_t v;
	return wire_int(o, &v) ? v : dflt;
}

static bool obj_bool(const msgpack_object *o, bool dflt)
{
	return o && o->type == MSGPACK_OBJECT_BOOLEAN ? o->via.boolean : dflt;
}

static void pack_meta(const msgpack_object *o, char **out, uint32_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	free(*out);
	*out = NULL;
	*len = 0;
	if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
		return;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_object(&pk, *o);
	*out = sb.data; /* sbuffer memory is malloc'd: ours now */
	*len = (uint32_t)sb.size;
}

static void replace_str(char **dst, const msgpack_object *o)
{
	if (o == NULL)
		return;
	free(*dst);
	*dst = obj_strdup(o);
}

static bool sched_equal(const struct sched *a, const struct sched *b)
{
	struct wbuf x = {0}, y = {0};
	msgpack_packer px, py;
	bool eq;

	wbuf_packer_init(&px, &x);
	wbuf_packer_init(&py, &y);
	sched_pack(a, &px);
	sched_pack(b, &py);
	eq = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
	wbuf_free(&x);
	wbuf_free(&y);
	return eq;
}

/*
 * Install a resource's schedule from its record (absent: unchanged; nil:
 * none).  The working open bits change now; the committed ones when the
 * DELTA_OPEN is committed.  Replaced schedules stay allocated because a
 * delta in flight may still name them.
 */
static int apply_schedule(struct state *st, struct resource *r,
			  const msgpack_object *o)
{
	struct sched *sc = NULL;
	char err[160];

	if (o == NULL)
		return 0;
	if (o->type != MSGPACK_OBJECT_NIL &&
	    sched_parse(o, &sc, err, sizeof(err)) < 0)
		return -1;
	if (sc == NULL && r->sched == NULL)
		return 0;
	if (sc && r->sched && sched_equal(sc, r->sched)) {
		sched_free(sc); /* unchanged: no republication, no pushes */
		return 0;
	}
	if (r->sched) {
		st->old_scheds =
		    grow_vec(st->old_scheds, &st->capold, st->nold + 1,
			     sizeof(*st->old_scheds));
		st->old_scheds[st->nold++] = r->sched;
	}
	r->sched = sc;
	for (uint32_t k = 0; k < st->window_days; k++)
		if (r->days[k].day != DAY_NONE)
			open_bits(sc, r->days[k].day, r->days[k].open);
	{
		struct delta dl = {DELTA_OPEN, 0, 0, 0, r->idx, 0, sc};
		push_delta(st, &dl);
	}
	return 0;
}

static int apply_resource(struct state *st, const msgpack_object *m)
{
	const msgpack_object *id = wire_get(m, "id");
	struct resource *r;
	bool created = false, was_active;
	uint32_t q;

	if (id == NULL || id->type != MSGPACK_OBJECT_STR ||
	    id->via.str.size == 0 || id->via.str.size > 63)
		return -1;
	q = (uint32_t)obj_int(wire_get(m, "quantity"), 1);
	if (q < 1 || q > MAX_QUANTITY)
		return -1;
	r = state_resource(st, id->via.str.ptr, id->via.str.size);
	if (r == NULL) {
		if (st->nres >= st->max_resources)
			return -1;
		r = xcalloc(1, sizeof(*r));
		r->idx = st->nres;
		memcpy(r->id, id->via.str.ptr, id->via.str.size);
		r->quantity = r->cquantity = q;
		r->days = xcalloc(st->window_days, sizeof(*r->days));
		for (uint32_t k = 0; k < st->window_days; k++)
			r->days[k].day = DAY_NONE;
		r->tz = NULL;
		for (int64_t d = st->first_day; d <= st->last_day; d++)
			init_day(r, &r->days[ring(st, d)], d);
		st->res[st->nres++] = r;
		hmap_put(&st->res_by_id, r->id, strlen(r->id), r->idx);
		created = true;
	} else if (q != r->quantity) {
		struct delta dl = {DELTA_REQUANT, 0, 0, (int32_t)q, r->idx, 0};
		r->quantity = q;
		for (uint32_t k = 0; k < st->window_days; k++)
			if (r->days[k].day != DAY_NONE)
				requant_copy(&r->days[k].units,
					     r->days[k].booked, q);
		push_delta(st, &dl);
	}
	replace_str(&r->name, wire_get(m, "name"));
	replace_str(&r->kind, wire_get(m, "kind"));
	replace_str(&r->timezone, wire_get(m, "timezone"));
	r->tz = NULL;
	if (r->timezone && tz_get(r->timezone, &r->tz) < 0)
		r->tz = NULL; /* checked when logged; UTC if tzdata lost it */
	if (apply_schedule(st, r, wire_get(m, "schedule")) < 0)
		return -1;
	if (wire_get(m, "meta"))
		pack_meta(wire_get(m, "meta"), &r->meta, &r->meta_len);
	r->standalone = obj_bool(wire_get(m, "standalone"), true);
	was_active = r->active;
	r->active = obj_bool(wire_get(m, "active"), true);
	r->created_ms = obj_int(wire_get(m, "created_ms"), 0);
	r->updated_ms = obj_int(wire_get(m, "updated_ms"), 0);
	{
		/* qty 1: (de)activation, which changes every day's slots. */
		struct delta dl = {
		    DELTA_RESOURCE, 0, 0, created || was_active != r->active,
		    r->idx,	    0};
		push_delta(st, &dl);
	}
	return 0;
}

static int parse_hist(const msgpack_object *a, struct booking *b)
{
	if (a == NULL)
		return 0;
	if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size > 65535)
		return -1;
	b->hist = xcalloc(a->via.array.size, sizeof(*b->hist));
	for (uint32_t i = 0; i < a->via.array.size; i++) {
		const msgpack_object *h = &a->via.array.ptr[i];
		struct hist *x = &b->hist[b->nhist++];
		x->at_ms = obj_int(wire_get(h, "at_ms"), 0);
		x->from = (int8_t)bstatus_parse(wire_get(h, "from"));
		x->to = (int8_t)bstatus_parse(wire_get(h, "to"));
		if (x->to < 0)
			return -1;
		x->by = obj_strdup(wire_get(h, "by"));
		x->reason = obj_strdup(wire_get(h, "reason"));
	}
	return 0;
}

static int parse_booking(struct state *st, const msgpack_object *m,
			 struct booking *b)
{
	const msgpack_object *items = wire_get(m, "items");
	const msgpack_object *booker = wire_get(m, "booker");
	const msgpack_object *ref = wire_get(m, "ref");
	int s = bstatus_parse(wire_get(m, "status"));

	b->id = (uint32_t)obj_int(wire_get(m, "id"), 0);
	b->start = obj_int(wire_get(m, "start"), 0);
	b->end = obj_int(wire_get(m, "end"), 0);
	if (b->id == 0 || s < 0 || b->start >= b->end || items == NULL ||
	    items->type != MSGPACK_OBJECT_ARRAY || items->via.array.size == 0 ||
	    items->via.array.size > MAX_ITEMS || ref == NULL ||
	    wire_cstr(ref, b->ref, sizeof(b->ref)) < 0)
		return -1;
	b->status = (uint8_t)s;
	b->items = xcalloc(items->via.array.size, sizeof(*b->items));
	for (uint32_t i = 0; i < items->via.array.size; i++) {
		const msgpack_object *it = &items->via.array.ptr[i];
		const msgpack_object *rid = wire_get(it, "resource");
		struct resource *r;
		if (rid == NULL || rid->type != MSGPACK_OBJECT_STR)
			return -1;
		r = state_resource(st, rid->via.str.ptr, rid->via.str.size);
		if (r == NULL)
			return -1;
		b->items[i].res = r->idx;
		b->items[i].qty =
		    (uint32_t)obj_int(wire_get(it, "quantity"), 1);
		if (b->items[i].qty < 1 || b->items[i].qty > MAX_QUANTITY)
			return -1;
		b->nitems++;
	}
	b->name = obj_strdup(wire_get(booker, "name"));
	b->email = obj_strdup(wire_get(booker, "email"));
	b->phone = obj_strdup(wire_get(booker, "phone"));
	b->notes = obj_strdup(wire_get(booker, "notes"));
	b->timezone = obj_strdup(wire_get(m, "timezone"));
	b->event_type = obj_strdup(wire_get(m, "event_type"));
	b->note = obj_strdup(wire_get(m, "note"));
	b->key = obj_strdup(wire_get(m, "key"));
	b->created_ms = obj_int(wire_get(m, "created_ms"), 0);
	b->updated_ms = obj_int(wire_get(m, "updated_ms"), 0);
	b->buf_before = (int32_t)obj_int(wire_get(m, "buffer_before"), 0) * 60;
	b->buf_after = (int32_t)obj_int(wire_get(m, "buffer_after"), 0) * 60;
	if (b->buf_before < 0 || b->buf_after < 0 || b->buf_before > 86400 ||
	    b->buf_after > 86400)
		return -1;
	return parse_hist(wire_get(m, "history"), b);
}

static int event_of(const msgpack_object *o)
{
	for (int i = 1; i < EV__COUNT; i++)
		if (wire_str_eq(o, event_names[i]))
			return i;
	return EV_NONE;
}

static bool same_occupancy(const struct booking *a, const struct booking *b)
{
	if (occ_start(a) != occ_start(b) || occ_end(a) != occ_end(b) ||
	    a->nitems != b->nitems)
		return false;
	for (int i = 0; i < a->nitems; i++)
		if (a->items[i].res != b->items[i].res ||
		    a->items[i].qty != b->items[i].qty)
			return false;
	return true;
}

static int apply_booking(struct state *st, const msgpack_object *m,
			 uint64_t lsn, int64_t at_ms)
{
	bool same_slots = false;
	struct booking *b = xcalloc(1, sizeof(*b));
	struct booking *old;
	int ev;

	if (parse_booking(st, m, b) < 0) {
		free_booking(b);
		return -1;
	}
	old = state_booking(st, b->id);
	if (old == NULL && b->id != st->nbk + 1) {
		free_booking(b); /* ids are sequential: a gap is damage */
		return -1;
	}
	if (old) {
		if (strcmp(old->ref, b->ref) != 0) {
			free_booking(b);
			return -1;
		}
		/* A change that keeps the same slots (pending -> confirmed, a
		 * note) leaves the bitmaps, and the subscribers, alone. */
		same_slots = bstatus_occupies(old->status) &&
			     bstatus_occupies(b->status) &&
			     same_occupancy(old, b);
		if (bstatus_occupies(old->status) && !same_slots)
			state_occupy(st, old, -1, true);
		st->by_status[old->status]--;
		free_booking(old);
		st->bk[b->id - 1] = b;
	} else {
		st->bk =
		    grow_vec(st->bk, &st->capbk, st->nbk + 1, sizeof(*st->bk));
		st->bk[st->nbk++] = b;
		hmap_put(&st->bk_by_ref, b->ref, strlen(b->ref), b->id);
		if (b->key)
			hmap_put(&st->bk_by_key, b->key, strlen(b->key), b->id);
	}
	st->by_status[b->status]++;
	if (bstatus_occupies(b->status) && !same_slots)
		state_occupy(st, b, +1, true);
	ev = event_of(wire_get(m, "event"));
	if (ev != EV_NONE) {
		st->ev =
		    grow_vec(st->ev, &st->capev, st->nev + 1, sizeof(*st->ev));
		st->ev[st->nev++] =
		    (struct event){lsn, at_ms, b->id, (uint8_t)ev};
	}
	return 0;
}

/* Pack key and an already packed value (meta maps), or nil. */
static void pk_kraw(msgpack_packer *pk, const char *key, const char *raw,
		    uint32_t len)
{
	wire_pk_str(pk, key);
	if (raw)
		pk->callback(pk->data, raw, len);
	else
		msgpack_pack_nil(pk);
}

struct event_type *state_event_type(const struct state *st, const char *id,
				    size_t len)
{
	uint64_t v;
	return hmap_get(&st->et_by_id, id, len, &v) ? st->et[v] : NULL;
}

bool state_et_links(const struct event_type *e, uint32_t idx)
{
	for (uint32_t i = 0; i < e->nres; i++)
		if (e->res[i] == idx)
			return true;
	return false;
}

static int u32_list(const msgpack_object *a, uint32_t *out, uint32_t max,
		    uint32_t *n)
{
	*n = 0;
	if (a == NULL || a->type != MSGPACK_OBJECT_ARRAY ||
	    a->via.array.size > max)
		return -1;
	for (uint32_t i = 0; i < a->via.array.size; i++) {
		if (a->via.array.ptr[i].type !=
			MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    a->via.array.ptr[i].via.u64 > UINT32_MAX)
			return -1;
		out[(*n)++] = (uint32_t)a->via.array.ptr[i].via.u64;
	}
	return 0;
}

static int apply_event_type(struct state *st, const msgpack_object *m)
{
	const msgpack_object *id = wire_get(m, "id");
	const msgpack_object *res = wire_get(m, "resources");
	struct event_type e, *x;

	memset(&e, 0, sizeof(e));
	if (id == NULL || wire_cstr(id, e.id, sizeof(e.id)) < 0 ||
	    u32_list(wire_get(m, "lengths"), e.lengths, ET_MAX_LENGTHS,
		     &e.nlengths) < 0 ||
	    res == NULL || res->type != MSGPACK_OBJECT_ARRAY ||
	    res->via.array.size > ET_MAX_RESOURCES)
		return -1;
	for (uint32_t i = 0; i < res->via.array.size; i++) {
		const msgpack_object *o = &res->via.array.ptr[i];
		struct resource *r;
		if (o->type != MSGPACK_OBJECT_STR)
			return -1;
		r = state_resource(st, o->via.str.ptr, o->via.str.size);
		if (r == NULL)
			return -1;
		e.res[e.nres++] = r->idx;
	}
	e.slot_interval = (uint32_t)obj_int(wire_get(m, "slot_interval"), 0);
	e.buffer_before = (uint32_t)obj_int(wire_get(m, "buffer_before"), 0);
	e.buffer_after = (uint32_t)obj_int(wire_get(m, "buffer_after"), 0);
	e.min_notice = (uint32_t)obj_int(wire_get(m, "min_notice"), 0);
	e.max_future = (uint32_t)obj_int(wire_get(m, "max_future"), 0);
	e.requires_confirmation =
	    obj_bool(wire_get(m, "requires_confirmation"), false);
	e.active = obj_bool(wire_get(m, "active"), true);
	e.created_ms = obj_int(wire_get(m, "created_ms"), 0);
	e.updated_ms = obj_int(wire_get(m, "updated_ms"), 0);
	x = state_event_type(st, e.id, strlen(e.id));
	if (x == NULL) {
		x = xcalloc(1, sizeof(*x));
		st->et =
		    grow_vec(st->et, &st->capet, st->net + 1, sizeof(*st->et));
		hmap_put(&st->et_by_id, e.id, strlen(e.id), st->net);
		st->et[st->net++] = x;
	}
	e.title = x->title;
	e.meta = x->meta;
	e.meta_len = x->meta_len;
	*x = e;
	replace_str(&x->title, wire_get(m, "title"));
	pack_meta(wire_get(m, "meta"), &x->meta, &x->meta_len);
	return 0;
}

void state_pack_event_type(msgpack_packer *pk, const struct state *st,
			   const struct event_type *e)
{
	msgpack_pack_map(pk, 14);
	wire_pk_kstr(pk, "id", e->id);
	wire_pk_kstr(pk, "title", e->title);
	wire_pk_str(pk, "lengths");
	msgpack_pack_array(pk, e->nlengths);
	for (uint32_t i = 0; i < e->nlengths; i++)
		msgpack_pack_uint32(pk, e->lengths[i]);
	wire_pk_kint(pk, "slot_interval", e->slot_interval);
	wire_pk_str(pk, "resources");
	msgpack_pack_array(pk, e->nres);
	for (uint32_t i = 0; i < e->nres; i++)
		wire_pk_str(pk, st->res[e->res[i]]->id);
	wire_pk_kint(pk, "buffer_before", e->buffer_before);
	wire_pk_kint(pk, "buffer_after", e->buffer_after);
	wire_pk_kint(pk, "min_notice", e->min_notice);
	wire_pk_str(pk, "max_future");
	if (e->max_future)
		msgpack_pack_uint32(pk, e->max_future);
	else
		msgpack_pack_nil(pk);
	wire_pk_kbool(pk, "requires_confirmation", e->requires_confirmation);
	wire_pk_kbool(pk, "active", e->active);
	pk_kraw(pk, "meta", e->meta, e->meta_len);
	wire_pk_kint(pk, "created_ms", e->created_ms);
	wire_pk_kint(pk, "updated_ms", e->updated_ms);
}

int state_apply(struct state *st, uint16_t type, const char *payload,
		uint32_t len, uint64_t lsn, int64_t at_ms)
{
	msgpack_unpacked u;
	size_t off = 0;
	int rc = -1;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, payload, len, &off) ==
		MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_MAP) {
		if (type == WAL_RESOURCE)
			rc = apply_resource(st, &u.data);
		else if (type == WAL_BOOKING)
			rc = apply_booking(st, &u.data, lsn, at_ms);
		else if (type == WAL_EVENT_TYPE)
			rc = apply_event_type(st, &u.data);
		else if (type == WAL_HOOK)
			rc = hooks_apply(st, &u.data);
	}
	msgpack_unpacked_destroy(&u);
	return rc;
}

/* ---- packing ---------------------------------------------------------- */

void state_pack_resource_rec(msgpack_packer *pk, const struct resource *r)
{
	msgpack_pack_map(pk, 11);
	wire_pk_kstr(pk, "id", r->id);
	wire_pk_kstr(pk, "name", r->name);
	wire_pk_kstr(pk, "kind", r->kind);
	wire_pk_kstr(pk, "timezone", r->timezone);
	wire_pk_kint(pk, "quantity", r->quantity);
	wire_pk_kbool(pk, "standalone", r->standalone);
	wire_pk_kbool(pk, "active", r->active);
	pk_kraw(pk, "meta", r->meta, r->meta_len);
	wire_pk_str(pk, "schedule");
	if (r->sched)
		sched_pack(r->sched, pk);
	else
		msgpack_pack_nil(pk);
	wire_pk_kint(pk, "created_ms", r->created_ms);
	wire_pk_kint(pk, "updated_ms", r->updated_ms);
}

void state_pack_resource(msgpack_packer *pk, const struct state *st,
			 const struct resource *r)
{
	(void)st;
	state_pack_resource_rec(pk, r);
}

static void pack_booking_body(msgpack_packer *pk, const struct state *st,
			      const struct booking *b, int extra)
{
	msgpack_pack_map(pk, (size_t)(16 + extra));
	wire_pk_kint(pk, "id", b->id);
	wire_pk_kstr(pk, "ref", b->ref);
	wire_pk_str(pk, "resources");
	msgpack_pack_array(pk, b->nitems);
	for (int i = 0; i < b->nitems; i++)
		wire_pk_str(pk, st->res[b->items[i].res]->id);
	wire_pk_str(pk, "items");
	msgpack_pack_array(pk, b->nitems);
	for (int i = 0; i < b->nitems; i++) {
		msgpack_pack_map(pk, 2);
		wire_pk_kstr(pk, "resource", st->res[b->items[i].res]->id);
		wire_pk_kint(pk, "quantity", b->items[i].qty);
	}
	wire_pk_kint(pk, "start", b->start);
	wire_pk_kint(pk, "end", b->end);
	wire_pk_kint(pk, "buffer_before", b->buf_before / 60);
	wire_pk_kint(pk, "buffer_after", b->buf_after / 60);
	wire_pk_kstr(pk, "status", bstatus_names[b->status]);
	wire_pk_str(pk, "booker");
	msgpack_pack_map(pk, 4);
	wire_pk_kstr(pk, "name", b->name);
	wire_pk_kstr(pk, "email", b->email);
	wire_pk_kstr(pk, "phone", b->phone);
	wire_pk_kstr(pk, "notes", b->notes);
	wire_pk_kstr(pk, "timezone", b->timezone);
	wire_pk_kstr(pk, "event_type", b->event_type);
	wire_pk_kstr(pk, "note", b->note);
	wire_pk_kint(pk, "created_ms", b->created_ms);
	wire_pk_kint(pk, "updated_ms", b->updated_ms);
	wire_pk_str(pk, "history");
	msgpack_pack_array(pk, b->nhist);
	for (int i = 0; i < b->nhist; i++) {
		const struct hist *h = &b->hist[i];
		msgpack_pack_map(pk, 5);
		wire_pk_kint(pk, "at_ms", h->at_ms);
		wire_pk_kstr(pk, "from",
			     h->from >= 0 ? bstatus_names[(int)h->from] : NULL);
		wire_pk_kstr(pk, "to", bstatus_names[(int)h->to]);
		wire_pk_kstr(pk, "by", h->by);
		wire_pk_kstr(pk, "reason", h->reason);
	}
}

void state_pack_booking(msgpack_packer *pk, const struct state *st,
			const struct booking *b, enum view v)
{
	(void)v; /* both views carry the same fields; see PROTOCOL.md */
	pack_booking_body(pk, st, b, 0);
}

void state_pack_booking_rec(msgpack_packer *pk, const struct state *st,
			    const struct booking *b, int event)
{
	pack_booking_body(pk, st, b, 2);
	wire_pk_kstr(pk, "key", b->key);
	wire_pk_kstr(pk, "event",
		     event > EV_NONE && event < EV__COUNT ? event_names[event]
							  : NULL);
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

int state_check_span(struct state *st, const struct item *items, int nitems,
		     int64_t start, int64_t end, bool check_holds,
		     const char *session, struct check_out *out)
{
	return state_check(st, items, nitems, start, end,
			   CHK_OPEN | (check_holds ? CHK_HOLDS : 0), session,
			   out);
}

int state_check(struct state *st, const struct item *items, int nitems,
		int64_t start, int64_t end, unsigned flags, const char *session,
		struct check_out *out)
{
	int64_t d0, d1;
	bool check_holds = flags & CHK_HOLDS;

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

int state_hold_set(struct state *st, struct resource *r, const char *session,
		   int64_t start, int64_t end, int64_t expires_ms)
{
	struct hold *h = state_hold_find(r, session);
	int64_t os = start, oe = end;
	int changed = 1;

	if (h == NULL) {
		h = xcalloc(1, sizeof(*h));
		h->res = r->idx;
		snprintf(h->session, sizeof(h->session), "%s", session);
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
	r->nholds--;
	st->nholds--;
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
			init_day(st->res[i], &st->res[i]->days[ring(st, day)],
				 day);
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

/*
 * records.c - the domain's record formats: applying WAL records to the
 * state, and the one encoder of each format (resource, event type,
 * booking, booking change; event types and shared schedules are in
 * records_catalog.c), used for the log, snapshots and replies; see
 * state.h.
 */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookd_errors.h"
#include "hooks.h"
#include "quanta.h"
#include "state.h"
#include "state_int.h"
#include "unpack.h"
#include "wal.h"

/* ---- records ---------------------------------------------------------- */

static char *obj_strdup(const msgpack_object *o)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return NULL;
	return st_strndup(o->via.str.ptr, o->via.str.size);
}

int64_t rec_int(const msgpack_object *o, int64_t dflt)
{
	int64_t v;
	return wire_int(o, &v) ? v : dflt;
}

bool rec_bool(const msgpack_object *o, bool dflt)
{
	return o && o->type == MSGPACK_OBJECT_BOOLEAN ? o->via.boolean : dflt;
}

void rec_pack_meta(const msgpack_object *o, char **out, uint32_t *len)
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

void rec_replace_str(char **dst, const msgpack_object *o)
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
		st->old_scheds = st_grow(st->old_scheds, &st->capold,
					 st->nold + 1, sizeof(*st->old_scheds));
		st->old_scheds[st->nold++] = r->sched;
	}
	r->sched = sc;
	for (uint32_t k = 0; k < st->window_days; k++)
		if (r->days[k].day != DAY_NONE)
			st_open_bits(sc, r->days[k].day, r->days[k].open);
	{
		struct delta dl = {DELTA_OPEN, 0, 0, 0, r->idx, 0, sc};
		st_push_delta(st, &dl);
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
	    id->via.str.size == 0 || id->via.str.size > PROTO_SLUG_MAX)
		return -1;
	q = (uint32_t)rec_int(wire_get(m, "quantity"), 1);
	if (q < 1 || q > STATE_MAX_QUANTITY)
		return -1;
	r = state_resource(st, id->via.str.ptr, id->via.str.size);
	if (r == NULL) {
		if (st->nres >= st->max_resources)
			return -1;
		r = st_calloc(1, sizeof(*r));
		r->idx = st->nres;
		memcpy(r->id, id->via.str.ptr, id->via.str.size);
		r->quantity = r->cquantity = q;
		/* In the arena: the ring of every resource in a few huge
		 * pages rather than a page fault per 4 KiB of each. */
		r->days =
		    arena_alloc(&st->mem, st->window_days * sizeof(*r->days),
				_Alignof(struct rday));
		for (uint32_t k = 0; k < st->window_days; k++)
			r->days[k].day = DAY_NONE;
		r->tz = NULL;
		for (int64_t d = st->first_day; d <= st->last_day; d++)
			st_init_day(r, &r->days[st_ring(st, d)], d);
		st->res[st->nres++] = r;
		hmap_put(&st->res_by_id, r->id, strlen(r->id), r->idx);
		created = true;
	} else if (q != r->quantity) {
		struct delta dl = {DELTA_REQUANT, 0, 0, (int32_t)q, r->idx, 0};
		r->quantity = q;
		for (uint32_t k = 0; k < st->window_days; k++)
			if (r->days[k].day != DAY_NONE)
				st_requant_copy(&r->days[k].units,
						r->days[k].booked, q);
		st_push_delta(st, &dl);
	}
	rec_replace_str(&r->name, wire_get(m, "name"));
	rec_replace_str(&r->kind, wire_get(m, "kind"));
	rec_replace_str(&r->timezone, wire_get(m, "timezone"));
	r->tz = NULL;
	if (r->timezone && tz_get(r->timezone, &r->tz) < 0)
		r->tz = NULL; /* checked when logged; UTC if tzdata lost it */
	if (apply_schedule(st, r, wire_get(m, "schedule")) < 0)
		return -1;
	free(r->sched_ref);
	r->sched_ref = obj_strdup(wire_get(m, "schedule_ref"));
	if (wire_get(m, "meta"))
		rec_pack_meta(wire_get(m, "meta"), &r->meta, &r->meta_len);
	r->standalone = rec_bool(wire_get(m, "standalone"), true);
	was_active = r->active;
	r->active = rec_bool(wire_get(m, "active"), true);
	r->archived = rec_bool(wire_get(m, "archived"), false);
	r->created_ms = rec_int(wire_get(m, "created_ms"), 0);
	r->updated_ms = rec_int(wire_get(m, "updated_ms"), 0);
	{
		/* qty 1: (de)activation, which changes every day's slots. */
		struct delta dl = {
		    DELTA_RESOURCE, 0, 0, created || was_active != r->active,
		    r->idx,	    0};
		st_push_delta(st, &dl);
	}
	return 0;
}

/* A booking's string field: copied into the arena, or interned. */
static const char *bk_str(struct state *st, const msgpack_object *o)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return NULL;
	return st_keep(st, o->via.str.ptr, o->via.str.size);
}

static const char *bk_intern(struct state *st, const msgpack_object *o)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return NULL;
	return st_intern(st, o->via.str.ptr, o->via.str.size);
}

static int parse_hist(struct state *st, const msgpack_object *a,
		      struct booking *b)
{
	if (a == NULL)
		return 0;
	if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size > 65535)
		return -1;
	b->hist = st_hist_alloc(st, a->via.array.size);
	for (uint32_t i = 0; i < a->via.array.size; i++) {
		const msgpack_object *h = &a->via.array.ptr[i];
		struct hist *x = &b->hist[b->nhist++];
		x->at_ms = rec_int(wire_get(h, "at_ms"), 0);
		x->from = (int8_t)bstatus_parse(wire_get(h, "from"));
		x->to = (int8_t)bstatus_parse(wire_get(h, "to"));
		if (x->to < 0)
			return -1;
		x->by = bk_intern(st, wire_get(h, "by"));
		x->reason = bk_intern(st, wire_get(h, "reason"));
	}
	return 0;
}

/* The fields of a booking record, found in one pass over its map. */
enum bk_field {
	BF_ID,
	BF_REF,
	BF_ITEMS,
	BF_START,
	BF_END,
	BF_BUF_BEFORE,
	BF_BUF_AFTER,
	BF_STATUS,
	BF_BOOKER,
	BF_TIMEZONE,
	BF_EVENT_TYPE,
	BF_NOTE,
	BF_KEY,
	BF_OWNER,
	BF_CREATED,
	BF_UPDATED,
	BF_HISTORY,
	BF_EVENT,
	BF_CHANGE,
	BF__COUNT
};

#define BK_FIELD(s)                                                            \
	{                                                                      \
		s, sizeof(s) - 1                                               \
	}
static const struct {
	const char *name;
	uint32_t len;
} bk_field_names[BF__COUNT] = {
    BK_FIELD("id"),	      BK_FIELD("ref"),	      BK_FIELD("items"),
    BK_FIELD("start"),	      BK_FIELD("end"),	      BK_FIELD("buffer_before"),
    BK_FIELD("buffer_after"), BK_FIELD("status"),     BK_FIELD("booker"),
    BK_FIELD("timezone"),     BK_FIELD("event_type"), BK_FIELD("note"),
    BK_FIELD("key"),	      BK_FIELD("owner"),      BK_FIELD("created_ms"),
    BK_FIELD("updated_ms"),   BK_FIELD("history"),    BK_FIELD("event"),
    BK_FIELD("change"),
};
#undef BK_FIELD

/* f[k]: the value of field k, or NULL.  A key that repeats keeps its
 * first value, as wire_get() does. */
static void bk_fields(const msgpack_object *m, const msgpack_object **f)
{
	for (int k = 0; k < BF__COUNT; k++)
		f[k] = NULL;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i];
		const char *kp = kv->key.via.str.ptr;
		uint32_t kl = kv->key.via.str.size;
		if (kv->key.type != MSGPACK_OBJECT_STR)
			continue;
		/* Length and first byte first: most names differ there. */
		for (int k = 0; k < BF__COUNT; k++)
			if (kl == bk_field_names[k].len &&
			    kp[0] == bk_field_names[k].name[0] &&
			    memcmp(kp, bk_field_names[k].name, kl) == 0) {
				if (f[k] == NULL)
					f[k] = &kv->val;
				break;
			}
	}
}

static int parse_booking(struct state *st, const msgpack_object *const *f,
			 struct booking *b)
{
	const msgpack_object *items = f[BF_ITEMS];
	const msgpack_object *booker = f[BF_BOOKER];
	const msgpack_object *ref = f[BF_REF];
	int s = bstatus_parse(f[BF_STATUS]);
	struct item *it;

	b->id = (uint32_t)rec_int(f[BF_ID], 0);
	b->start = rec_int(f[BF_START], 0);
	b->end = rec_int(f[BF_END], 0);
	if (b->id == 0 || s < 0 || b->start >= b->end || items == NULL ||
	    items->type != MSGPACK_OBJECT_ARRAY || items->via.array.size == 0 ||
	    items->via.array.size > MAX_ITEMS || ref == NULL ||
	    wire_cstr(ref, b->ref, sizeof(b->ref)) < 0)
		return -1;
	b->status = (uint8_t)s;
	it = arena_alloc(&st->mem, items->via.array.size * sizeof(*it),
			 _Alignof(struct item));
	b->items = it;
	for (uint32_t i = 0; i < items->via.array.size; i++) {
		const msgpack_object *io = &items->via.array.ptr[i];
		const msgpack_object *rid = wire_get(io, "resource");
		struct resource *r;
		if (rid == NULL || rid->type != MSGPACK_OBJECT_STR)
			return -1;
		r = state_resource(st, rid->via.str.ptr, rid->via.str.size);
		if (r == NULL)
			return -1;
		it[i].res = r->idx;
		it[i].qty = (uint32_t)rec_int(wire_get(io, "quantity"), 1);
		if (it[i].qty < 1 || it[i].qty > STATE_MAX_QUANTITY)
			return -1;
		b->nitems++;
	}
	b->name = bk_str(st, wire_get(booker, "name"));
	b->email = bk_str(st, wire_get(booker, "email"));
	b->phone = bk_str(st, wire_get(booker, "phone"));
	b->notes = bk_str(st, wire_get(booker, "notes"));
	b->timezone = bk_intern(st, f[BF_TIMEZONE]);
	b->event_type = bk_intern(st, f[BF_EVENT_TYPE]);
	b->note = bk_str(st, f[BF_NOTE]);
	b->key = bk_str(st, f[BF_KEY]);
	b->owner = bk_intern(st, f[BF_OWNER]);
	b->created_ms = rec_int(f[BF_CREATED], 0);
	b->updated_ms = rec_int(f[BF_UPDATED], 0);
	b->buf_before = (int32_t)rec_int(f[BF_BUF_BEFORE], 0) * 60;
	b->buf_after = (int32_t)rec_int(f[BF_BUF_AFTER], 0) * 60;
	if (b->buf_before < 0 || b->buf_after < 0 ||
	    b->buf_before > ET_MAX_GAP_MINUTES * 60 ||
	    b->buf_after > ET_MAX_GAP_MINUTES * 60)
		return -1;
	return parse_hist(st, f[BF_HISTORY], b);
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

/* b replaced old, its earlier version (which may be a copy of b's own
 * earlier fields): move the occupancy and the status count over. */
static void restate(struct state *st, const struct booking *old,
		    const struct booking *b)
{
	/* A change that keeps the same slots (pending -> confirmed, a note)
	 * leaves the bitmaps, and the subscribers, alone. */
	bool same_slots = bstatus_occupies(old->status) &&
			  bstatus_occupies(b->status) && same_occupancy(old, b);

	if (bstatus_occupies(old->status) && !same_slots)
		state_occupy(st, old, -1, true);
	st->by_status[old->status]--;
	st->by_status[b->status]++;
	if (bstatus_occupies(b->status) && !same_slots)
		state_occupy(st, b, +1, true);
}

static void check_counts(const struct state *st, const struct booking *b)
{
	/* Ids are dense and every booking is counted in exactly one
	 * status. */
	assert(b->id >= 1 && b->id <= st->nbk && st->bk[b->id - 1] == b);
	assert(b->nitems >= 1 && b->nitems <= MAX_ITEMS && b->start < b->end);
#ifndef NDEBUG
	{
		uint64_t total = 0;
		for (int k = 0; k < BS__COUNT; k++)
			total += st->by_status[k];
		assert(total == st->nbk);
	}
#else
	(void)st;
	(void)b;
#endif
}

static void feed_event(struct state *st, const struct booking *b,
		       const msgpack_object *event, uint64_t lsn, int64_t at_ms)
{
	int ev = event_of(event);

	if (ev != EV_NONE) {
		st->ev =
		    st_grow(st->ev, &st->capev, st->nev + 1, sizeof(*st->ev));
		st->ev[st->nev++] =
		    (struct event){lsn, at_ms, b->id, (uint8_t)ev};
	}
}

/*
 * A change record: the booking's new status and span and one history
 * entry, applied to the stored booking in place (its strings and items do
 * not change).  Its size does not grow with the booking's history (a full
 * record per change would make n changes cost O(n^2) bytes of log).
 */
static int apply_booking_change(struct state *st, const msgpack_object *m,
				const msgpack_object *const *f, uint64_t lsn,
				int64_t at_ms)
{
	const msgpack_object *ch = f[BF_CHANGE];
	struct booking *b = state_booking(st, (uint64_t)rec_int(f[BF_ID], 0));
	const msgpack_object *ref = f[BF_REF];
	int s = bstatus_parse(f[BF_STATUS]);
	struct booking was;
	struct hist h, *nh;

	(void)m;
	if (b != NULL)
		st_prefetch_days(st, b);
	if (b == NULL || ref == NULL || !wire_str_eq(ref, b->ref) || s < 0 ||
	    ch == NULL || ch->type != MSGPACK_OBJECT_MAP ||
	    b->nhist == UINT16_MAX)
		return -1;
	h.at_ms = rec_int(wire_get(ch, "at_ms"), 0);
	h.from = (int8_t)bstatus_parse(wire_get(ch, "from"));
	h.to = (int8_t)bstatus_parse(wire_get(ch, "to"));
	was = *b;
	b->start = rec_int(f[BF_START], was.start);
	b->end = rec_int(f[BF_END], was.end);
	if (b->start >= b->end || h.to < 0) {
		*b = was; /* nothing changed */
		return -1;
	}
	h.by = bk_intern(st, wire_get(ch, "by"));
	h.reason = bk_intern(st, wire_get(ch, "reason"));
	nh = b->hist;
	if ((b->nhist & (b->nhist - 1)) == 0) {
		/* Full (its room is the power of two from st_hist_alloc):
		 * twice the room, in the arena. */
		nh = st_hist_alloc(st, b->nhist ? 2u * b->nhist : 1u);
		if (b->nhist)
			memcpy(nh, b->hist, b->nhist * sizeof(*nh));
	}
	nh[b->nhist] = h;
	b->hist = nh;
	b->nhist++;
	b->status = (uint8_t)s;
	b->updated_ms = rec_int(f[BF_UPDATED], was.updated_ms);
	restate(st, &was, b);
	check_counts(st, b);
	feed_event(st, b, f[BF_EVENT], lsn, at_ms);
	return 0;
}

/* A full booking record: a new booking, or one that replaces the booking
 * with its id, keeping the bitmaps, indexes, counters and feed in step. */
static int apply_booking(struct state *st, const msgpack_object *m,
			 uint64_t lsn, int64_t at_ms)
{
	const msgpack_object *f[BF__COUNT];
	struct booking *b, *old;

	bk_fields(m, f);
	if (f[BF_CHANGE])
		return apply_booking_change(st, m, f, lsn, at_ms);
	/* The index slot of a new booking's ref, fetched while the record
	 * is read (a cache miss in a big index). */
	if (f[BF_REF] && f[BF_REF]->type == MSGPACK_OBJECT_STR)
		hmap_prefetch(&st->bk_by_ref, f[BF_REF]->via.str.ptr,
			      f[BF_REF]->via.str.size);
	/* A booking whose record fails stays in the arena, unreachable,
	 * until state_free. */
	b = st_new_booking(st);
	if (parse_booking(st, f, b) < 0)
		return -1;
	st_prefetch_days(st, b);
	old = state_booking(st, b->id);
	if (old == NULL && b->id != st->nbk + 1)
		return -1; /* ids are sequential: a gap is damage */
	if (old) {
		if (strcmp(old->ref, b->ref) != 0)
			return -1;
		st->bk[b->id - 1] = b;
		restate(st, old, b);
	} else {
		st->bk =
		    st_grow(st->bk, &st->capbk, st->nbk + 1, sizeof(*st->bk));
		st->bk[st->nbk++] = b;
		hmap_put(&st->bk_by_ref, b->ref, strlen(b->ref), b->id);
		st_index_email(st, b);
		if (b->key) {
			char ix[STATE_KEY_INDEX_MAX];
			size_t n = st_key_index(ix, sizeof(ix), b->owner,
						b->key, strlen(b->key));
			if (n)
				hmap_put(&st->bk_by_key, ix, n, b->id);
		}
		st->by_status[b->status]++;
		if (bstatus_occupies(b->status))
			state_occupy(st, b, +1, true);
	}
	check_counts(st, b);
	feed_event(st, b, f[BF_EVENT], lsn, at_ms);
	return 0;
}

/* Pack key and an already packed value (meta maps), or nil. */
void rec_pk_kraw(msgpack_packer *pk, const char *key, const char *raw,
		 uint32_t len)
{
	wire_pk_str(pk, key);
	if (raw)
		pk->callback(pk->data, raw, len);
	else
		msgpack_pack_nil(pk);
}

int state_apply(struct state *st, uint16_t type, const char *payload,
		uint32_t len, uint64_t lsn, int64_t at_ms)
{
	msgpack_object o;
	int rc = -1;

	/* One zone for every record, cleared after each: decoding a record
	 * allocates nothing once the zone has grown to the largest. */
	if (st->zone == NULL) {
		st->zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
		if (st->zone == NULL)
			abort();
	}
	/* unpack_object accepts what msgpack_unpack does, several times
	 * faster (unpack.h).  Bytes after the map are ignored, as they
	 * always were. */
	if (unpack_object(payload, len, st->zone, &o) &&
	    o.type == MSGPACK_OBJECT_MAP) {
		if (type == WAL_RESOURCE)
			rc = apply_resource(st, &o);
		else if (type == WAL_BOOKING)
			rc = apply_booking(st, &o, lsn, at_ms);
		else if (type == WAL_EVENT_TYPE)
			rc = rec_apply_event_type(st, &o);
		else if (type == WAL_HOOK)
			rc = hooks_apply(st, &o);
		else if (type == WAL_SCHEDULE)
			rc = rec_apply_shared_sched(st, &o);
		else if (type == WAL_HOLIDAYS)
			rc = rec_apply_holidays(st, &o);
	}
	msgpack_zone_clear(st->zone);
	return rc;
}

/* ---- packing ---------------------------------------------------------- */

void state_resource_in(const struct resource *r, struct resource_in *in)
{
	*in = (struct resource_in){
	    .id = r->id,
	    .name = r->name,
	    .kind = r->kind,
	    .timezone = r->timezone,
	    .quantity = r->quantity,
	    .standalone = r->standalone,
	    .active = r->active,
	    .archived = r->archived,
	    .meta = r->meta,
	    .meta_len = r->meta_len,
	    .sched = r->sched,
	    .sched_ref = r->sched_ref,
	    .created_ms = r->created_ms,
	    .updated_ms = r->updated_ms,
	};
}

void state_encode_resource(msgpack_packer *pk, const struct resource_in *r,
			   uint32_t extra)
{
	msgpack_pack_map(pk, 11 + (r->archived ? 1 : 0) +
				 (r->sched_ref ? 1 : 0) + extra);
	wire_pk_kstr(pk, "id", r->id);
	wire_pk_kstr(pk, "name", r->name);
	wire_pk_kstr(pk, "kind", r->kind);
	wire_pk_kstr(pk, "timezone", r->timezone);
	wire_pk_kint(pk, "quantity", r->quantity);
	wire_pk_kbool(pk, "standalone", r->standalone);
	wire_pk_kbool(pk, "active", r->active);
	if (r->archived)
		wire_pk_kbool(pk, "archived", true);
	rec_pk_kraw(pk, "meta", r->meta, r->meta_len);
	wire_pk_str(pk, "schedule");
	if (r->sched && r->sched_wire)
		sched_pack_wire(r->sched, pk, 0);
	else if (r->sched)
		sched_pack(r->sched, pk);
	else
		msgpack_pack_nil(pk);
	if (r->sched_ref)
		wire_pk_kstr(pk, "schedule_ref", r->sched_ref);
	wire_pk_kint(pk, "created_ms", r->created_ms);
	wire_pk_kint(pk, "updated_ms", r->updated_ms);
}

int state_resource_record(const struct state *st, const struct resource_in *in,
			  struct wbuf *rec, struct proto_error *e)
{
	const struct tz *z;
	msgpack_packer pk;

	if (!proto_slug_ok(in->id, strlen(in->id)))
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "id",
				     "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	if (in->quantity < 1 || in->quantity > STATE_MAX_QUANTITY)
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "quantity",
				     "from 1 to %u", STATE_MAX_QUANTITY);
	if (in->timezone && tz_get(in->timezone, &z) < 0)
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "timezone",
				     "unknown time zone '%.64s'", in->timezone);
	if (state_resource(st, in->id, strlen(in->id)) == NULL &&
	    st->nres >= st->max_resources)
		return proto_err_set(e, BOOKD_E_LIMIT, NULL,
				     "resources: at most %u (--max-resources)",
				     st->max_resources);
	wbuf_packer_init(&pk, rec);
	state_encode_resource(&pk, in, 0);
	return 0;
}

void state_pack_resource_rec(msgpack_packer *pk, const struct resource *r)
{
	struct resource_in in;

	state_resource_in(r, &in);
	state_encode_resource(pk, &in, 0);
}

void state_pack_resource(msgpack_packer *pk, const struct state *st,
			 const struct resource *r)
{
	struct resource_in in;

	(void)st;
	state_resource_in(r, &in);
	in.sched_wire = true;
	state_encode_resource(pk, &in, 0);
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
	pack_booking_body(pk, st, b, 3);
	wire_pk_kstr(pk, "key", b->key);
	wire_pk_kstr(pk, "owner", b->owner);
	wire_pk_kstr(pk, "event",
		     event > EV_NONE && event < EV__COUNT ? event_names[event]
							  : NULL);
}

int state_booking_change_record(const struct state *st,
				const struct booking *cur,
				const struct booking_change *c,
				const struct caller_limits *lim,
				struct wbuf *rec, struct proto_error *e)
{
	msgpack_packer pk;
	bool move = c->start != cur->start || c->end != cur->end;

	assert(c->start < c->end && cur->nitems > 0);
	if (c->event == EV_RESCHEDULED) {
		uint32_t n = 0;
		if (!move)
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, "start",
					     "the booking already has this "
					     "span");
		for (int i = 0; i < cur->nhist; i++)
			n += cur->hist[i].from == cur->hist[i].to;
		if (n >= lim->max_reschedules)
			return proto_err_set(e, BOOKD_E_LIMIT, NULL,
					     "booking: rescheduled %u times "
					     "already (--max-reschedules)",
					     n);
	}
	if (cur->nhist >= lim->max_reschedules + CALLER_HISTORY_EXTRA)
		return proto_err_set(e, BOOKD_E_LIMIT, NULL,
				     "booking: its history holds %u entries "
				     "already",
				     (unsigned)cur->nhist);
	wbuf_packer_init(&pk, rec);
	msgpack_pack_map(&pk, 11);
	wire_pk_kint(&pk, "id", cur->id);
	wire_pk_kstr(&pk, "ref", cur->ref);
	wire_pk_kstr(&pk, "status", bstatus_names[c->status]);
	wire_pk_kint(&pk, "start", c->start);
	wire_pk_kint(&pk, "end", c->end);
	/* Items and buffers are unchanged; they are repeated so that a
	 * reader of the log sees what each record occupies. */
	wire_pk_kint(&pk, "buffer_before", cur->buf_before / 60);
	wire_pk_kint(&pk, "buffer_after", cur->buf_after / 60);
	wire_pk_str(&pk, "items");
	msgpack_pack_array(&pk, cur->nitems);
	for (int i = 0; i < cur->nitems; i++) {
		msgpack_pack_map(&pk, 2);
		wire_pk_kstr(&pk, "resource", st->res[cur->items[i].res]->id);
		wire_pk_kint(&pk, "quantity", cur->items[i].qty);
	}
	wire_pk_kint(&pk, "updated_ms", c->at_ms);
	wire_pk_str(&pk, "change");
	msgpack_pack_map(&pk, 5);
	wire_pk_kint(&pk, "at_ms", c->at_ms);
	wire_pk_kstr(&pk, "from", bstatus_names[cur->status]);
	wire_pk_kstr(&pk, "to", bstatus_names[c->status]);
	wire_pk_kstr(&pk, "by", c->by);
	wire_pk_kstr(&pk, "reason", c->reason);
	wire_pk_kstr(&pk, "event",
		     c->event > EV_NONE && c->event < EV__COUNT
			 ? event_names[c->event]
			 : NULL);
	return 0;
}

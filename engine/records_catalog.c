/*
 * records_catalog.c - the record formats of the catalog: event types,
 * shared schedules and holiday calendars (apply, the one encoder of each, the
 * typed-input checks); the rest of the records are in records.c, see state.h.
 */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookd_errors.h"
#include "quanta.h"
#include "state.h"
#include "state_int.h"
#include "wal.h"

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

int rec_apply_event_type(struct state *st, const msgpack_object *m)
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
	e.slot_interval = (uint32_t)rec_int(wire_get(m, "slot_interval"), 0);
	e.buffer_before = (uint32_t)rec_int(wire_get(m, "buffer_before"), 0);
	e.buffer_after = (uint32_t)rec_int(wire_get(m, "buffer_after"), 0);
	e.min_notice = (uint32_t)rec_int(wire_get(m, "min_notice"), 0);
	e.max_future = (uint32_t)rec_int(wire_get(m, "max_future"), 0);
	e.requires_confirmation =
	    rec_bool(wire_get(m, "requires_confirmation"), false);
	e.active = rec_bool(wire_get(m, "active"), true);
	e.archived = rec_bool(wire_get(m, "archived"), false);
	e.created_ms = rec_int(wire_get(m, "created_ms"), 0);
	e.updated_ms = rec_int(wire_get(m, "updated_ms"), 0);
	x = state_event_type(st, e.id, strlen(e.id));
	if (x == NULL) {
		x = st_calloc(1, sizeof(*x));
		st->et =
		    st_grow(st->et, &st->capet, st->net + 1, sizeof(*st->et));
		hmap_put(&st->et_by_id, e.id, strlen(e.id), st->net);
		st->et[st->net++] = x;
	}
	e.title = x->title;
	e.meta = x->meta;
	e.meta_len = x->meta_len;
	*x = e;
	rec_replace_str(&x->title, wire_get(m, "title"));
	rec_pack_meta(wire_get(m, "meta"), &x->meta, &x->meta_len);
	return 0;
}

void state_event_type_in(const struct event_type *e, struct event_type_in *in)
{
	memset(in, 0, sizeof(*in));
	in->id = e->id;
	in->title = e->title;
	memcpy(in->lengths, e->lengths, sizeof(in->lengths));
	in->nlengths = e->nlengths;
	in->slot_interval = e->slot_interval;
	memcpy(in->res, e->res, sizeof(in->res));
	in->nres = e->nres;
	in->buffer_before = e->buffer_before;
	in->buffer_after = e->buffer_after;
	in->min_notice = e->min_notice;
	in->max_future = e->max_future;
	in->requires_confirmation = e->requires_confirmation;
	in->active = e->active;
	in->archived = e->archived;
	in->meta = e->meta;
	in->meta_len = e->meta_len;
	in->created_ms = e->created_ms;
	in->updated_ms = e->updated_ms;
}

void state_encode_event_type(msgpack_packer *pk, const struct state *st,
			     const struct event_type_in *e)
{
	msgpack_pack_map(pk, 14 + (e->archived ? 1 : 0));
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
	if (e->archived)
		wire_pk_kbool(pk, "archived", true);
	rec_pk_kraw(pk, "meta", e->meta, e->meta_len);
	wire_pk_kint(pk, "created_ms", e->created_ms);
	wire_pk_kint(pk, "updated_ms", e->updated_ms);
}

void state_pack_event_type(msgpack_packer *pk, const struct state *st,
			   const struct event_type *e)
{
	struct event_type_in in;

	state_event_type_in(e, &in);
	state_encode_event_type(pk, st, &in);
}

static bool minutes_ok(uint32_t m, bool q15, uint32_t max)
{
	return (!q15 || m % Q_MINUTES == 0) && m <= max;
}

int state_event_type_record(const struct state *st,
			    const struct event_type_in *in, struct wbuf *rec,
			    struct proto_error *e)
{
	msgpack_packer pk;
	char field[48];

	if (!proto_slug_ok(in->id, strlen(in->id)))
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "id",
				     "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	if (in->nlengths == 0)
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "lengths",
				     "at least one length");
	for (uint32_t i = 0; i < in->nlengths; i++) {
		if (in->lengths[i] == 0 ||
		    !minutes_ok(in->lengths[i], true, ET_MAX_LENGTH_MINUTES)) {
			snprintf(field, sizeof(field), "lengths[%u]", i);
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, field,
					     "minutes, a positive multiple of "
					     "15");
		}
	}
	if (in->nres == 0)
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "resources",
				     "at least one resource");
	for (uint32_t i = 0; i < in->nres; i++) {
		assert(in->res[i] < st->nres);
		for (uint32_t k = 0; k < i; k++)
			if (in->res[k] == in->res[i]) {
				snprintf(field, sizeof(field), "resources[%u]",
					 i);
				return proto_err_set(e, BOOKD_E_BAD_REQUEST,
						     field, "listed twice");
			}
	}
	{
		static const struct {
			const char *name;
			size_t off;
			bool q15;
			uint32_t max;
		} mf[] = {
		    {"slot_interval",
		     offsetof(struct event_type_in, slot_interval), true,
		     ET_MAX_GAP_MINUTES},
		    {"buffer_before",
		     offsetof(struct event_type_in, buffer_before), true,
		     ET_MAX_GAP_MINUTES},
		    {"buffer_after",
		     offsetof(struct event_type_in, buffer_after), true,
		     ET_MAX_GAP_MINUTES},
		    {"min_notice", offsetof(struct event_type_in, min_notice),
		     false, ET_MAX_NOTICE_MINUTES},
		    {"max_future", offsetof(struct event_type_in, max_future),
		     false, ET_MAX_NOTICE_MINUTES},
		};
		for (size_t i = 0; i < sizeof(mf) / sizeof(mf[0]); i++) {
			uint32_t v;
			memcpy(&v, (const char *)in + mf[i].off, sizeof(v));
			if (!minutes_ok(v, mf[i].q15, mf[i].max))
				return proto_err_set(
				    e, BOOKD_E_BAD_REQUEST, mf[i].name,
				    "%sat most %u minutes",
				    mf[i].q15 ? "a multiple of 15, " : "",
				    mf[i].max);
		}
	}
	wbuf_packer_init(&pk, rec);
	state_encode_event_type(&pk, st, in);
	return 0;
}

/* ---- shared schedules ------------------------------------------------ */

struct shared_sched *state_shared_sched(const struct state *st, const char *id,
					size_t len)
{
	for (uint32_t i = 0; i < st->nss; i++)
		if (strlen(st->ss[i].id) == len &&
		    memcmp(st->ss[i].id, id, len) == 0)
			return &st->ss[i];
	return NULL;
}

uint32_t state_sched_users(const struct state *st, const char *id)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < st->nres; i++)
		n += st->res[i]->sched_ref &&
		     strcmp(st->res[i]->sched_ref, id) == 0;
	return n;
}

/* {id, schedule: map | nil}; nil deletes.  The resources using it carry
 * their own copy in their records, so nothing else changes here. */
int rec_apply_shared_sched(struct state *st, const msgpack_object *m)
{
	const msgpack_object *id = wire_get(m, "id");
	const msgpack_object *o = wire_get(m, "schedule");
	struct shared_sched *s;
	struct sched *sc = NULL;
	char err[160];

	if (id == NULL || id->type != MSGPACK_OBJECT_STR ||
	    id->via.str.size == 0 || id->via.str.size > PROTO_SLUG_MAX ||
	    o == NULL)
		return -1;
	if (o->type != MSGPACK_OBJECT_NIL &&
	    sched_parse(o, &sc, err, sizeof(err)) < 0)
		return -1;
	s = state_shared_sched(st, id->via.str.ptr, id->via.str.size);
	if (sc == NULL) {
		if (s) {
			sched_free(s->sched);
			*s = st->ss[--st->nss];
		}
		return 0;
	}
	if (s == NULL) {
		if (st->nss >= STATE_MAX_SHARED_SCHED) {
			sched_free(sc);
			return -1;
		}
		st->ss =
		    st_grow(st->ss, &st->capss, st->nss + 1, sizeof(*st->ss));
		s = &st->ss[st->nss++];
		memset(s, 0, sizeof(*s));
		memcpy(s->id, id->via.str.ptr, id->via.str.size);
	}
	sched_free(s->sched);
	s->sched = sc;
	return 0;
}

static void encode_schedule(msgpack_packer *pk, const char *id,
			    const struct sched *sched)
{
	msgpack_pack_map(pk, 2);
	wire_pk_kstr(pk, "id", id);
	wire_pk_str(pk, "schedule");
	if (sched)
		sched_pack(sched, pk);
	else
		msgpack_pack_nil(pk);
}

int state_schedule_record(const struct state *st, const char *id,
			  const struct sched *sched, struct wbuf *rec,
			  struct proto_error *e)
{
	msgpack_packer pk;

	if (!proto_slug_ok(id, strlen(id)))
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "id",
				     "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	if (state_resource(st, id, strlen(id)))
		return proto_err_set(e, BOOKD_E_EXISTS, "id",
				     "'%s' is a resource", id);
	if (sched && !state_shared_sched(st, id, strlen(id)) &&
	    st->nss >= STATE_MAX_SHARED_SCHED)
		return proto_err_set(e, BOOKD_E_LIMIT, NULL,
				     "shared schedules: at most %u",
				     STATE_MAX_SHARED_SCHED);
	wbuf_packer_init(&pk, rec);
	encode_schedule(&pk, id, sched);
	return 0;
}

void state_pack_schedule_rec(msgpack_packer *pk, const struct shared_sched *s)
{
	encode_schedule(pk, s->id, s->sched);
}

/* ---- holiday calendars ------------------------------------------------ */

struct holiday_cal *state_holidays(const struct state *st, const char *id,
				   size_t len)
{
	for (uint32_t i = 0; i < st->nhc; i++)
		if (strlen(st->hc[i].id) == len &&
		    memcmp(st->hc[i].id, id, len) == 0)
			return &st->hc[i];
	return NULL;
}

const struct hcal *state_holidays_resolve(void *ctx, const char *id, size_t len)
{
	const struct holiday_cal *h = state_holidays(ctx, id, len);

	return h ? h->cal : NULL;
}

uint32_t state_holidays_users(const struct state *st, const char *id)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < st->nss; i++)
		n += sched_has_holidays(st->ss[i].sched, id);
	for (uint32_t i = 0; i < st->nres; i++) {
		const struct resource *r = st->res[i];
		n += !r->archived && r->sched && !r->sched_ref &&
		     sched_has_holidays(r->sched, id);
	}
	return n;
}

/* {id, name, dates: [...] | nil, created_ms, updated_ms}; nil deletes.
 * The schedules including it carry their own copy of its dates, so
 * nothing else changes here. */
int rec_apply_holidays(struct state *st, const msgpack_object *m)
{
	const msgpack_object *id = wire_get(m, "id");
	const msgpack_object *o = wire_get(m, "dates");
	struct holiday_cal *h;
	struct hcal *cal = NULL;
	char err[160];

	if (id == NULL || id->type != MSGPACK_OBJECT_STR ||
	    !proto_slug_ok(id->via.str.ptr, id->via.str.size) || o == NULL)
		return -1;
	if (o->type != MSGPACK_OBJECT_NIL &&
	    hcal_parse(o, &cal, err, sizeof(err)) < 0)
		return -1;
	h = state_holidays(st, id->via.str.ptr, id->via.str.size);
	if (cal == NULL) {
		if (h) {
			hcal_free(h->cal);
			free(h->name);
			*h = st->hc[--st->nhc];
		}
		return 0;
	}
	if (h == NULL) {
		if (st->nhc >= STATE_MAX_HOLIDAYS) {
			hcal_free(cal);
			return -1;
		}
		st->hc =
		    st_grow(st->hc, &st->caphc, st->nhc + 1, sizeof(*st->hc));
		h = &st->hc[st->nhc++];
		memset(h, 0, sizeof(*h));
		memcpy(h->id, id->via.str.ptr, id->via.str.size);
	}
	hcal_free(h->cal);
	h->cal = cal;
	rec_replace_str(&h->name, wire_get(m, "name"));
	h->created_ms = rec_int(wire_get(m, "created_ms"), 0);
	h->updated_ms = rec_int(wire_get(m, "updated_ms"), 0);
	return 0;
}

static void encode_holidays(msgpack_packer *pk, const char *id,
			    const char *name, const struct hcal *cal,
			    int64_t created_ms, int64_t updated_ms)
{
	msgpack_pack_map(pk, 5);
	wire_pk_kstr(pk, "id", id);
	wire_pk_kstr(pk, "name", name);
	wire_pk_str(pk, "dates");
	if (cal)
		hcal_pack(cal, pk);
	else
		msgpack_pack_nil(pk);
	wire_pk_kint(pk, "created_ms", created_ms);
	wire_pk_kint(pk, "updated_ms", updated_ms);
}

int state_holidays_record(const struct state *st, const char *id,
			  const char *name, const struct hcal *cal,
			  int64_t created_ms, int64_t updated_ms,
			  struct wbuf *rec, struct proto_error *e)
{
	msgpack_packer pk;

	if (!proto_slug_ok(id, strlen(id)))
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "id",
				     "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	if (cal && !state_holidays(st, id, strlen(id)) &&
	    st->nhc >= STATE_MAX_HOLIDAYS)
		return proto_err_set(e, BOOKD_E_LIMIT, NULL,
				     "holiday calendars: at most %u",
				     STATE_MAX_HOLIDAYS);
	wbuf_packer_init(&pk, rec);
	encode_holidays(&pk, id, name, cal, created_ms, updated_ms);
	return 0;
}

void state_pack_holidays_rec(msgpack_packer *pk, const struct holiday_cal *h)
{
	encode_holidays(pk, h->id, h->name, h->cal, h->created_ms,
			h->updated_ms);
}

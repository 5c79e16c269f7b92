/*
 * ops_directory.c - the handlers of resources, schedules and event types; see
 * handlers.h.
 */
#include "handlers.h"

/* ---- resources -------------------------------------------------------- */

/* Copy an optional string argument: NULL when absent, else buf. */
static int str_arg(struct req *r, int f, const char *name, char *buf,
		   size_t len, const char **out)
{
	const msgpack_object *o = r->a[f];

	if (o == NULL)
		return 0;
	if (wire_cstr(o, buf, len) < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, name,
				 "must not contain NUL bytes");
	*out = buf;
	return 0;
}

/* A `meta` argument, packed into buf: a map, or nil to clear. */
static int meta_arg(struct req *r, struct wbuf *buf, const char **meta,
		    uint32_t *len)
{
	const msgpack_object *o = r->a[ARG_meta];
	msgpack_packer pk;

	if (o == NULL)
		return 0;
	*meta = NULL;
	*len = 0;
	if (o->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (o->type != MSGPACK_OBJECT_MAP)
		return req_error(r, BOOKD_E_BAD_REQUEST, "meta",
				 "must be a map");
	wbuf_packer_init(&pk, buf);
	wire_pk_obj(&pk, o);
	if (buf->len > PROTO_META_MAX)
		return req_error(r, BOOKD_E_BAD_REQUEST, "meta",
				 "larger than %d bytes packed", PROTO_META_MAX);
	*meta = buf->data;
	*len = (uint32_t)buf->len;
	return 0;
}

/* The strings a resource input points into while it is built. */
struct resource_bufs {
	char id[64], name[257], kind[65], timezone[65], sched_ref[64];
	struct wbuf meta;
};

/* The new state of a resource: the old one (or the defaults) overlaid with
 * the request's fields.  A schedule argument is parsed into *sched (NULL
 * when nil or absent; the caller frees it). */
static int resource_input(struct req *r, const struct resource *old,
			  struct resource_in *in, struct resource_bufs *b,
			  struct sched **sched)
{
	const msgpack_object *const *a = r->a;
	const msgpack_object *sc = a[ARG_schedule];
	char err[200];

	*sched = NULL;
	if (old) {
		state_resource_in(old, in);
	} else {
		*in = (struct resource_in){.timezone = "UTC",
					   .quantity = 1,
					   .standalone = true,
					   .active = true,
					   .created_ms = now_ms()};
	}
	in->updated_ms = now_ms();
	if (wire_cstr(a[ARG_id], b->id, sizeof(b->id)) < 0 ||
	    !valid_slug(a[ARG_id]))
		return req_error(r, BOOKD_E_BAD_REQUEST, "id",
				 "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	in->id = b->id;
	if (str_arg(r, ARG_name, "name", b->name, sizeof(b->name), &in->name) ||
	    str_arg(r, ARG_kind, "kind", b->kind, sizeof(b->kind), &in->kind) ||
	    str_arg(r, ARG_timezone, "timezone", b->timezone,
		    sizeof(b->timezone), &in->timezone) ||
	    meta_arg(r, &b->meta, &in->meta, &in->meta_len))
		return r->e.code;
	if (a[ARG_quantity])
		in->quantity = a[ARG_quantity]->via.u64 > UINT32_MAX
				   ? 0
				   : (uint32_t)a[ARG_quantity]->via.u64;
	if (a[ARG_standalone])
		in->standalone = a[ARG_standalone]->via.boolean;
	if (a[ARG_active])
		in->active = a[ARG_active]->via.boolean;
	if (sc && sc->type == MSGPACK_OBJECT_STR) {
		/* A string names a shared schedule: the resource gets a copy,
		 * rewritten whenever the shared one changes. */
		const struct shared_sched *ss = state_shared_sched(
		    &r->s->st, sc->via.str.ptr, sc->via.str.size);
		if (ss == NULL)
			return req_error(r, BOOKD_E_NOT_FOUND, "schedule",
					 "no shared schedule '%.*s'",
					 (int)(sc->via.str.size > PROTO_SLUG_MAX
						   ? PROTO_SLUG_MAX
						   : sc->via.str.size),
					 sc->via.str.ptr);
		snprintf(b->sched_ref, sizeof(b->sched_ref), "%s", ss->id);
		in->sched = ss->sched;
		in->sched_ref = b->sched_ref;
	} else if (sc) {
		if (sc->type != MSGPACK_OBJECT_NIL &&
		    sc->type != MSGPACK_OBJECT_MAP)
			return req_error(r, BOOKD_E_BAD_REQUEST, "schedule",
					 "must be a map, a shared schedule's "
					 "id or nil");
		if (sc->type == MSGPACK_OBJECT_MAP) {
			int rc = sched_parse_wire(sc, state_holidays_resolve,
						  &r->s->st, sched, err,
						  sizeof(err));
			if (rc < 0)
				return req_error(r,
						 rc == -ENOENT
						     ? BOOKD_E_NOT_FOUND
						     : BOOKD_E_BAD_REQUEST,
						 "schedule", "%s", err);
		}
		in->sched = *sched;
		in->sched_ref = NULL;
	}
	return 0;
}

/* Count, over the window, what the new state strands: slots of pools over
 * capacity, and occupying bookings outside open hours. */
static void stranded(const struct state *st, const struct resource *res,
		     uint32_t *overbooked, uint32_t *closed)
{
	*overbooked = *closed = 0;
	for (uint32_t k = 0; k < st->window_days; k++) {
		const struct rday *d = &res->days[k];
		if (d->day == DAY_NONE)
			continue;
		for (int sl = 0; sl < Q_PER_DAY; sl++) {
			bool open = (d->open[sl / 64] >> (sl % 64)) & 1;
			bool used = d->units
					? d->units[sl] > 0
					: (d->booked[sl / 64] >> (sl % 64)) & 1;
			if (d->units && d->units[sl] > res->quantity)
				(*overbooked)++;
			if (used && !open)
				(*closed)++;
		}
	}
}

/* Log the resource input and reply with the stored entry, plus what the
 * change strands (or, for schedule.put, the schedule alone). */
static int write_resource(struct req *r, const struct resource_in *in,
			  bool reply_schedule)
{
	struct wbuf rec = {0};
	struct resource *res;
	struct resource_in now;
	uint32_t overbooked, closed;

	if (state_resource_record(&r->s->st, in, &rec, &r->e)) {
		wbuf_free(&rec);
		return r->e.code;
	}
	if (log_and_apply(r, WAL_RESOURCE, &rec)) {
		wbuf_free(&rec);
		return r->e.code;
	}
	wbuf_free(&rec);
	res = state_resource(&r->s->st, in->id, strlen(in->id));
	assert(res != NULL);
	/* Lowering a pool under what is booked, or closing hours that hold
	 * bookings, is allowed (bookings are never dropped) and reported. */
	stranded(&r->s->st, res, &overbooked, &closed);
	if (reply_schedule) {
		sched_pack_wire(res->sched, r->pk, closed ? 1 : 0);
	} else {
		state_resource_in(res, &now);
		now.sched_wire = true;
		state_encode_resource(r->pk, &now,
				      (overbooked ? 1 : 0) + (closed ? 1 : 0));
		if (overbooked)
			wire_pk_kint(r->pk, "overbooked_slots", overbooked);
	}
	if (closed)
		wire_pk_kint(r->pk, "booked_slots_closed", closed);
	return 0;
}

static int put_resource(struct req *r, const struct resource *old)
{
	struct resource_in in;
	struct resource_bufs b = {0};
	struct sched *sched = NULL;
	int rc = resource_input(r, old, &in, &b, &sched);

	if (rc == 0)
		rc = write_resource(r, &in, false);
	sched_free(sched);
	wbuf_free(&b.meta);
	return rc;
}

int h_resource_create(struct req *r)
{
	const msgpack_object *id = r->a[ARG_id];

	if (!valid_slug(id))
		return req_error(r, BOOKD_E_BAD_REQUEST, "id",
				 "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	if (state_resource(&r->s->st, id->via.str.ptr, id->via.str.size) ||
	    state_shared_sched(&r->s->st, id->via.str.ptr, id->via.str.size))
		return req_error(r, BOOKD_E_EXISTS, NULL, "id: '%.*s' exists",
				 (int)id->via.str.size, id->via.str.ptr);
	return put_resource(r, NULL);
}

int h_resource_update(struct req *r)
{
	struct resource *old = find_res(r, r->a[ARG_id], "id", true);

	if (old == NULL)
		return r->e.code;
	if (old->archived)
		return req_error(r, BOOKD_E_INVALID_STATE, "id",
				 "'%s' was deleted (archived)", old->id);
	return put_resource(r, old);
}

/* Bookings that still occupy time from now on (pending, confirmed, ...)
 * and use resource res (or, with res NULL, event type et). */
static uint32_t future_bookings(const struct state *st,
				const struct resource *res, const char *et)
{
	int64_t now_s = now_ms() / 1000;
	uint32_t n = 0;

	for (uint32_t i = 0; i < st->nbk; i++) {
		const struct booking *b = st->bk[i];
		bool uses = false;

		if (!bstatus_occupies(b->status) || b->end <= now_s)
			continue;
		if (res) {
			for (int k = 0; k < b->nitems && !uses; k++)
				uses = b->items[k].res == res->idx;
		} else {
			uses = b->event_type && strcmp(b->event_type, et) == 0;
		}
		n += uses;
	}
	return n;
}

/* Archive, never erase: past bookings keep naming the resource and stay
 * readable; it stays inactive for good and its id stays taken. */
int h_resource_delete(struct req *r)
{
	struct resource *res = find_res(r, r->a[ARG_id], "id", true);
	struct resource_in in;
	uint32_t n;

	if (res == NULL)
		return r->e.code;
	if ((n = future_bookings(&r->s->st, res, NULL)) > 0)
		return req_error(r, BOOKD_E_INVALID_STATE, "id",
				 "'%s' has %u booking%s from now on: cancel "
				 "or move %s first",
				 res->id, n, n == 1 ? "" : "s",
				 n == 1 ? "it" : "them");
	state_resource_in(res, &in);
	in.active = false;
	in.archived = true;
	in.updated_ms = now_ms();
	return write_resource(r, &in, false);
}

/* ---- schedules -------------------------------------------------------- */

/* Pack the ids of the resources using shared schedule id (for a public
 * caller the active ones only, as resource.list shows them). */
static void pack_users(const struct req *r, const char *id)
{
	const struct state *st = &r->s->st;
	uint32_t n = 0;

	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			msgpack_pack_array(r->pk, n);
		for (uint32_t i = 0; i < st->nres; i++) {
			const struct resource *res = st->res[i];
			if (!res->sched_ref ||
			    strcmp(res->sched_ref, id) != 0 ||
			    (!res->active && r->role != ROLE_ADMIN))
				continue;
			if (pass == 0)
				n++;
			else
				wire_pk_str(r->pk, res->id);
		}
	}
}

/*
 * Create or replace the shared schedule id, then rewrite the record of
 * every resource using it: the same path as a per-resource change, so
 * their days are republished and their `slots` subscribers pushed.
 */
static int put_shared(struct req *r, const struct sched *sched)
{
	struct state *st = &r->s->st;
	const struct shared_sched *ss;
	struct wbuf rec = {0};
	char id[64];

	if (wire_cstr(r->a[ARG_id], id, sizeof(id)) < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "id",
				 "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	if (state_schedule_record(st, id, sched, &rec, &r->e) ||
	    log_and_apply(r, WAL_SCHEDULE, &rec)) {
		wbuf_free(&rec);
		return r->e.code;
	}
	ss = state_shared_sched(st, id, strlen(id));
	assert(ss != NULL);
	for (uint32_t i = 0; i < st->nres; i++) {
		struct resource_in in;
		if (!st->res[i]->sched_ref ||
		    strcmp(st->res[i]->sched_ref, id) != 0)
			continue;
		state_resource_in(st->res[i], &in);
		in.sched = ss->sched;
		in.updated_ms = now_ms();
		rec.len = 0;
		if (state_resource_record(st, &in, &rec, &r->e) ||
		    log_and_apply(r, WAL_RESOURCE, &rec)) {
			wbuf_free(&rec);
			return r->e.code;
		}
	}
	wbuf_free(&rec);
	sched_pack_wire(ss->sched, r->pk, 2);
	wire_pk_kstr(r->pk, "id", id);
	wire_pk_str(r->pk, "resources");
	pack_users(r, id);
	return 0;
}

int h_schedule_put(struct req *r)
{
	const msgpack_object *ido = r->a[ARG_id];
	struct resource *res =
	    state_resource(&r->s->st, ido->via.str.ptr, ido->via.str.size);
	msgpack_object_kv kv[4];
	msgpack_object m;
	struct sched *sched;
	struct resource_in in;
	char err[200];
	uint32_t n = 0;
	int rc;

	if (res && res->archived)
		return req_error(r, BOOKD_E_INVALID_STATE, "id",
				 "'%s' was deleted (archived)", res->id);
	/* The schedule is the arguments without the id. */
	kv[n].key = (msgpack_object){.type = MSGPACK_OBJECT_STR,
				     .via.str = {8, "timezone"}};
	kv[n++].val = *r->a[ARG_timezone];
	kv[n].key = (msgpack_object){.type = MSGPACK_OBJECT_STR,
				     .via.str = {6, "weekly"}};
	kv[n++].val = *r->a[ARG_weekly];
	if (r->a[ARG_overrides]) {
		kv[n].key = (msgpack_object){.type = MSGPACK_OBJECT_STR,
					     .via.str = {9, "overrides"}};
		kv[n++].val = *r->a[ARG_overrides];
	}
	if (r->a[ARG_holidays]) {
		kv[n].key = (msgpack_object){.type = MSGPACK_OBJECT_STR,
					     .via.str = {8, "holidays"}};
		kv[n++].val = *r->a[ARG_holidays];
	}
	m.type = MSGPACK_OBJECT_MAP;
	m.via.map.size = n;
	m.via.map.ptr = kv;
	rc = sched_parse_wire(&m, state_holidays_resolve, &r->s->st, &sched,
			      err, sizeof(err));
	if (rc < 0) {
		/* The schedule's own field names are the arguments' names. */
		return req_error(
		    r, rc == -ENOENT ? BOOKD_E_NOT_FOUND : BOOKD_E_BAD_REQUEST,
		    NULL, "%s", err);
	}
	if (res == NULL) {
		/* Not a resource's id: a shared schedule by its own id. */
		rc = put_shared(r, sched);
		sched_free(sched);
		return rc;
	}
	/* Only the schedule changes: the resource keeps its own zone for
	 * local dates, whatever zone the schedule's hours are given in. */
	state_resource_in(res, &in);
	in.sched = sched;
	in.sched_ref = NULL; /* its own schedule from now on */
	in.updated_ms = now_ms();
	rc = write_resource(r, &in, true);
	sched_free(sched);
	return rc;
}

int h_schedule_get(struct req *r)
{
	const msgpack_object *ido = r->a[ARG_id];
	const struct shared_sched *ss =
	    state_shared_sched(&r->s->st, ido->via.str.ptr, ido->via.str.size);
	struct resource *res;

	if (ss) {
		sched_pack_wire(ss->sched, r->pk, 1);
		wire_pk_str(r->pk, "resources");
		pack_users(r, ss->id);
		return 0;
	}
	res = find_res(r, ido, "id", false);
	if (res == NULL)
		return r->e.code;
	/* nil: no schedule, open around the clock. */
	if (res->sched)
		sched_pack_wire(res->sched, r->pk, 0);
	else
		msgpack_pack_nil(r->pk);
	return 0;
}

int h_schedule_list(struct req *r)
{
	const struct state *st = &r->s->st;
	uint32_t n = 0;

	for (uint32_t i = 0; i < st->nres; i++)
		n += st->res[i]->sched &&
		     (st->res[i]->active || r->role == ROLE_ADMIN);
	msgpack_pack_array(r->pk, n + st->nss);
	for (uint32_t i = 0; i < st->nres; i++) {
		const struct resource *res = st->res[i];
		if (!res->sched || (!res->active && r->role != ROLE_ADMIN))
			continue;
		msgpack_pack_map(r->pk, res->sched_ref ? 3 : 2);
		wire_pk_kstr(r->pk, "id", res->id);
		wire_pk_str(r->pk, "schedule");
		sched_pack_wire(res->sched, r->pk, 0);
		if (res->sched_ref)
			wire_pk_kstr(r->pk, "schedule_ref", res->sched_ref);
	}
	/* Shared schedules: {id, shared: true, schedule, resources}. */
	for (uint32_t i = 0; i < st->nss; i++) {
		msgpack_pack_map(r->pk, 4);
		wire_pk_kstr(r->pk, "id", st->ss[i].id);
		wire_pk_kbool(r->pk, "shared", true);
		wire_pk_str(r->pk, "schedule");
		sched_pack_wire(st->ss[i].sched, r->pk, 0);
		wire_pk_str(r->pk, "resources");
		pack_users(r, st->ss[i].id);
	}
	return 0;
}

int h_schedule_delete(struct req *r)
{
	const msgpack_object *ido = r->a[ARG_id];
	struct state *st = &r->s->st;
	const struct shared_sched *ss =
	    state_shared_sched(st, ido->via.str.ptr, ido->via.str.size);
	struct wbuf rec = {0};
	uint32_t users;
	int rc = 0;

	if (ss == NULL)
		return req_error(r, BOOKD_E_NOT_FOUND, "id",
				 "no shared schedule '%.*s'",
				 (int)(ido->via.str.size > PROTO_SLUG_MAX
					   ? PROTO_SLUG_MAX
					   : ido->via.str.size),
				 ido->via.str.ptr);
	users = state_sched_users(st, ss->id);
	if (users)
		return req_error(r, BOOKD_E_INVALID_STATE, NULL,
				 "schedule '%s' is used by %u resource%s",
				 ss->id, users, users == 1 ? "" : "s");
	{
		char id[64];
		snprintf(id, sizeof(id), "%s", ss->id);
		if (state_schedule_record(st, id, NULL, &rec, &r->e) ||
		    log_and_apply(r, WAL_SCHEDULE, &rec))
			rc = r->e.code;
		else {
			msgpack_pack_map(r->pk, 2);
			wire_pk_kstr(r->pk, "id", id);
			wire_pk_kbool(r->pk, "deleted", true);
		}
	}
	wbuf_free(&rec);
	return rc;
}

/* ---- event types ------------------------------------------------------ */

static uint32_t minutes_arg(const struct req *r, int f)
{
	const msgpack_object *o = r->a[f];
	/* Beyond every bound the domain checks: refused there. */
	return o == NULL		 ? 0
	       : o->via.u64 > UINT32_MAX ? UINT32_MAX
					 : (uint32_t)o->via.u64;
}

int h_event_type_put(struct req *r)
{
	const msgpack_object *const *a = r->a;
	const msgpack_object *len = a[ARG_lengths], *res = a[ARG_resources];
	const struct event_type *old;
	struct event_type_in in = {0};
	struct wbuf rec = {0}, meta = {0};
	char field[48], id[64], title[257];
	int rc;

	_Static_assert(ET_MAX_LENGTHS >= PROTO_ET_LENGTHS_MAX &&
			   ET_MAX_RESOURCES >= PROTO_ET_RESOURCES_MAX,
		       "the schema's bounds fit the event type's arrays");
	if (!valid_slug(a[ARG_id]) || wire_cstr(a[ARG_id], id, sizeof(id)) < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "id",
				 "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	if (wire_cstr(a[ARG_title], title, sizeof(title)) < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "title",
				 "must not contain NUL bytes");
	in.id = id;
	in.title = title;
	for (uint32_t i = 0; i < len->via.array.size; i++) {
		const msgpack_object *o = &len->via.array.ptr[i];
		snprintf(field, sizeof(field), "lengths[%u]", i);
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    o->via.u64 > UINT32_MAX)
			return req_error(r, BOOKD_E_BAD_REQUEST, field,
					 "minutes, a positive multiple of "
					 "15");
		in.lengths[in.nlengths++] = (uint32_t)o->via.u64;
	}
	for (uint32_t i = 0; i < res->via.array.size; i++) {
		const msgpack_object *o = &res->via.array.ptr[i];
		const struct resource *rr;
		snprintf(field, sizeof(field), "resources[%u]", i);
		if (o->type != MSGPACK_OBJECT_STR)
			return req_error(r, BOOKD_E_BAD_REQUEST, field,
					 "a resource id");
		if ((rr = find_res(r, o, field, true)) == NULL)
			return r->e.code;
		in.res[in.nres++] = rr->idx;
	}
	if (a[ARG_slot_interval] && a[ARG_slot_interval]->via.u64 == 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "slot_interval",
				 "a positive multiple of 15");
	in.slot_interval = minutes_arg(r, ARG_slot_interval);
	in.buffer_before = minutes_arg(r, ARG_buffer_before);
	in.buffer_after = minutes_arg(r, ARG_buffer_after);
	in.min_notice = minutes_arg(r, ARG_min_notice);
	in.max_future = minutes_arg(r, ARG_max_future);
	in.requires_confirmation = a[ARG_requires_confirmation] &&
				   a[ARG_requires_confirmation]->via.boolean;
	in.active = a[ARG_active] ? a[ARG_active]->via.boolean : true;
	if (meta_arg(r, &meta, &in.meta, &in.meta_len))
		return r->e.code;
	old = state_event_type(&r->s->st, id, strlen(id));
	if (old && old->archived)
		return req_error(r, BOOKD_E_INVALID_STATE, "id",
				 "'%s' was deleted (archived)", id);
	in.updated_ms = now_ms();
	in.created_ms = old ? old->created_ms : in.updated_ms;
	rc = state_event_type_record(&r->s->st, &in, &rec, &r->e);
	if (rc == 0)
		rc = log_and_apply(r, WAL_EVENT_TYPE, &rec);
	if (rc == 0) {
		state_pack_event_type(
		    r->pk, &r->s->st,
		    state_event_type(&r->s->st, id, strlen(id)));
	}
	wbuf_free(&rec);
	wbuf_free(&meta);
	return rc;
}

int h_event_type_delete(struct req *r)
{
	const struct event_type *e;
	struct event_type_in in;
	struct wbuf rec = {0};
	uint32_t n;
	int rc;

	if (event_type_arg(r, r->a[ARG_id], &e))
		return r->e.code;
	if ((n = future_bookings(&r->s->st, NULL, e->id)) > 0)
		return req_error(r, BOOKD_E_INVALID_STATE, "id",
				 "'%s' has %u booking%s from now on: cancel "
				 "or move %s first",
				 e->id, n, n == 1 ? "" : "s",
				 n == 1 ? "it" : "them");
	state_event_type_in(e, &in);
	in.active = false;
	in.archived = true;
	in.updated_ms = now_ms();
	rc = state_event_type_record(&r->s->st, &in, &rec, &r->e);
	if (rc == 0)
		rc = log_and_apply(r, WAL_EVENT_TYPE, &rec);
	if (rc == 0)
		state_pack_event_type(
		    r->pk, &r->s->st,
		    state_event_type(&r->s->st, in.id, strlen(in.id)));
	wbuf_free(&rec);
	return rc;
}

int h_event_type_get(struct req *r)
{
	const struct event_type *e;

	if (event_type_arg(r, r->a[ARG_id], &e))
		return r->e.code;
	state_pack_event_type(r->pk, &r->s->st, e);
	return 0;
}

int h_event_type_list(struct req *r)
{
	const struct state *st = &r->s->st;
	bool all = r->role == ROLE_ADMIN;
	uint32_t n = 0;

	for (uint32_t i = 0; i < st->net; i++)
		n += all || st->et[i]->active;
	msgpack_pack_array(r->pk, n);
	for (uint32_t i = 0; i < st->net; i++)
		if (all || st->et[i]->active)
			state_pack_event_type(r->pk, st, st->et[i]);
	return 0;
}

int h_resource_get(struct req *r)
{
	struct resource *res = find_res(r, r->a[ARG_id], "id", false);

	if (res == NULL)
		return r->e.code;
	state_pack_resource(r->pk, &r->s->st, res);
	return 0;
}

/* Without `after` or `limit`, the whole directory as an array (as it
 * always was); with either, a page {resources, next?} that stops before
 * the reply budget. */
int h_resource_list(struct req *r)
{
	const struct state *st = &r->s->st;
	const msgpack_object *const *a = r->a;
	bool active_only =
	    r->role != ROLE_ADMIN ||
	    (a[ARG_active_only] && a[ARG_active_only]->via.boolean);
	uint64_t after = a[ARG_after] ? a[ARG_after]->via.u64 : 0;
	uint64_t limit = a[ARG_limit] ? a[ARG_limit]->via.u64 : MAX_LIST;
	bool paged = a[ARG_after] || a[ARG_limit], more = false;
	uint32_t n = 0, i;
	struct page pg;

	if (!paged) {
		for (i = 0; i < st->nres; i++)
			n += !active_only || st->res[i]->active;
		msgpack_pack_array(r->pk, n);
		for (i = 0; i < st->nres; i++)
			if (!active_only || st->res[i]->active)
				state_pack_resource(r->pk, st, st->res[i]);
		return 0;
	}
	if (limit < 1 || limit > MAX_LIST)
		return req_error(r, BOOKD_E_BAD_REQUEST, "limit",
				 "from 1 to %d", MAX_LIST);
	page_init(&pg);
	for (i = after < st->nres ? (uint32_t)after : st->nres; i < st->nres;
	     i++) {
		if (active_only && !st->res[i]->active)
			continue;
		if (n == limit) {
			more = true;
			break;
		}
		page_mark(&pg);
		state_pack_resource(&pg.pk, st, st->res[i]);
		if (page_over(&pg, n)) {
			more = true;
			break;
		}
		n++;
	}
	msgpack_pack_map(r->pk, more ? 2 : 1);
	wire_pk_str(r->pk, "resources");
	page_emit(&pg, r->pk, n);
	if (more)
		wire_pk_kint(r->pk, "next", i);
	return 0;
}

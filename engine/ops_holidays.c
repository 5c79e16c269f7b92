/*
 * ops_holidays.c - the handlers of holiday calendars (holidays.put, .get,
 * .list, .delete); see handlers.h and proto/schedule.h.
 *
 * A calendar is a named set of dates, each closed all day or open only in
 * its windows, that schedules include by id.  Schedules keep their own
 * copy of the dates (so the log's records stay self-contained), which
 * makes a calendar change a sequence of records: the calendar, then every
 * shared schedule including it, then every resource whose schedule
 * includes it, rebound to the new dates.  The resource records take the
 * path of any schedule change, so their days' open bits are recomputed
 * and their `slots` subscribers pushed.  A calendar in use cannot be
 * deleted: holidays.delete answers INVALID_STATE with the count.
 */
#include <errno.h>

#include "handlers.h"

/* The id argument as a C string, or the error it wrote. */
static int id_arg(struct req *r, char id[PROTO_SLUG_MAX + 1])
{
	if (wire_cstr(r->a[ARG_id], id, PROTO_SLUG_MAX + 1) < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "id",
				 "a slug: [a-z0-9][a-z0-9._-]{0,62}");
	return 0;
}

static const struct holiday_cal *find_cal(struct req *r)
{
	const msgpack_object *ido = r->a[ARG_id];
	const struct holiday_cal *h =
	    state_holidays(&r->s->st, ido->via.str.ptr, ido->via.str.size);

	if (h == NULL)
		req_error(r, BOOKD_E_NOT_FOUND, "id",
			  "no holiday calendar '%.*s'",
			  (int)(ido->via.str.size > PROTO_SLUG_MAX
				    ? PROTO_SLUG_MAX
				    : ido->via.str.size),
			  ido->via.str.ptr);
	return h;
}

/* A failed rebind is an internal error: the calendar was just stored,
 * and a calendar in use is never deleted. */
static int rebind(struct req *r, const struct sched *old, struct sched **out)
{
	char err[160];
	int rc = sched_rebind(old, state_holidays_resolve, &r->s->st, out, err,
			      sizeof(err));

	if (rc < 0)
		return req_error(r, BOOKD_E_INTERNAL, NULL,
				 "cannot rebind a schedule: %s", err);
	return 0;
}

/*
 * Rewrite every schedule including calendar id after it changed: shared
 * schedules first, then the resources (their copies of shared schedules
 * follow the shared one).  Archived resources keep the copy they had.
 * Counts the resources rewritten into *n.
 */
static int republish(struct req *r, const char *id, uint32_t *n)
{
	struct state *st = &r->s->st;
	struct wbuf rec = {0};
	int rc = 0;

	*n = 0;
	for (uint32_t i = 0; i < st->nss && rc == 0; i++) {
		struct sched *sc;
		char sid[64];

		if (!sched_has_holidays(st->ss[i].sched, id))
			continue;
		if (rebind(r, st->ss[i].sched, &sc))
			return r->e.code;
		snprintf(sid, sizeof(sid), "%s", st->ss[i].id);
		rec.len = 0;
		if (state_schedule_record(st, sid, sc, &rec, &r->e) ||
		    log_and_apply(r, WAL_SCHEDULE, &rec))
			rc = r->e.code;
		sched_free(sc);
	}
	for (uint32_t i = 0; i < st->nres && rc == 0; i++) {
		struct resource *res = st->res[i];
		struct resource_in in;
		struct sched *own = NULL;

		if (res->archived || !res->sched ||
		    !sched_has_holidays(res->sched, id))
			continue;
		state_resource_in(res, &in);
		if (res->sched_ref) {
			const struct shared_sched *ss = state_shared_sched(
			    st, res->sched_ref, strlen(res->sched_ref));
			if (ss == NULL)
				return req_error(r, BOOKD_E_INTERNAL, NULL,
						 "resource '%s': no shared "
						 "schedule '%s'",
						 res->id, res->sched_ref);
			in.sched = ss->sched;
		} else {
			if (rebind(r, res->sched, &own))
				return r->e.code;
			in.sched = own;
		}
		in.updated_ms = now_ms();
		rec.len = 0;
		if (state_resource_record(st, &in, &rec, &r->e) ||
		    log_and_apply(r, WAL_RESOURCE, &rec))
			rc = r->e.code;
		else
			(*n)++;
		sched_free(own);
	}
	wbuf_free(&rec);
	return rc;
}

/* {id, name, dates, created_ms, updated_ms, used_by} plus extra entries. */
static void pack_cal(struct req *r, const struct holiday_cal *h, uint32_t extra)
{
	msgpack_pack_map(r->pk, 6 + extra);
	wire_pk_kstr(r->pk, "id", h->id);
	wire_pk_kstr(r->pk, "name", h->name);
	wire_pk_str(r->pk, "dates");
	hcal_pack(h->cal, r->pk);
	wire_pk_kint(r->pk, "created_ms", h->created_ms);
	wire_pk_kint(r->pk, "updated_ms", h->updated_ms);
	wire_pk_kint(r->pk, "used_by", state_holidays_users(&r->s->st, h->id));
}

int h_holidays_put(struct req *r)
{
	struct state *st = &r->s->st;
	const struct holiday_cal *old;
	struct hcal *cal;
	struct wbuf rec = {0};
	char id[PROTO_SLUG_MAX + 1], name[257], err[200];
	const char *namep = NULL;
	int64_t now = now_ms();
	uint32_t n;
	int rc;

	if (id_arg(r, id))
		return r->e.code;
	if (r->a[ARG_name]) {
		if (wire_cstr(r->a[ARG_name], name, sizeof(name)) < 0)
			return req_error(r, BOOKD_E_BAD_REQUEST, "name",
					 "must not contain NUL bytes");
		namep = name;
	}
	rc = hcal_parse(r->a[ARG_dates], &cal, err, sizeof(err));
	if (rc < 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, NULL, "%s", err);
	old = state_holidays(st, id, strlen(id));
	if (old && !r->a[ARG_name])
		namep = old->name; /* an absent name keeps the old one */
	rc = state_holidays_record(st, id, namep, cal,
				   old ? old->created_ms : now, now, &rec,
				   &r->e) ||
	     log_and_apply(r, WAL_HOLIDAYS, &rec);
	wbuf_free(&rec);
	hcal_free(cal);
	if (rc)
		return r->e.code;
	if (republish(r, id, &n))
		return r->e.code;
	pack_cal(r, state_holidays(st, id, strlen(id)), 1);
	wire_pk_kint(r->pk, "republished", n);
	return 0;
}

int h_holidays_get(struct req *r)
{
	const struct holiday_cal *h = find_cal(r);

	if (h == NULL)
		return r->e.code;
	pack_cal(r, h, 0);
	return 0;
}

/* [{id, name, count, used_by}]: the dates by holidays.get, so the list
 * stays small whatever the calendars hold. */
int h_holidays_list(struct req *r)
{
	const struct state *st = &r->s->st;

	msgpack_pack_array(r->pk, st->nhc);
	for (uint32_t i = 0; i < st->nhc; i++) {
		msgpack_pack_map(r->pk, 4);
		wire_pk_kstr(r->pk, "id", st->hc[i].id);
		wire_pk_kstr(r->pk, "name", st->hc[i].name);
		wire_pk_kint(r->pk, "count",
			     (int64_t)hcal_count(st->hc[i].cal));
		wire_pk_kint(r->pk, "used_by",
			     state_holidays_users(st, st->hc[i].id));
	}
	return 0;
}

int h_holidays_delete(struct req *r)
{
	struct state *st = &r->s->st;
	const struct holiday_cal *h = find_cal(r);
	struct wbuf rec = {0};
	char id[PROTO_SLUG_MAX + 1];
	uint32_t users;
	int rc;

	if (h == NULL)
		return r->e.code;
	users = state_holidays_users(st, h->id);
	if (users)
		return req_error(r, BOOKD_E_INVALID_STATE, NULL,
				 "holiday calendar '%s' is used by %u "
				 "schedule%s",
				 h->id, users, users == 1 ? "" : "s");
	snprintf(id, sizeof(id), "%s", h->id);
	rc = state_holidays_record(st, id, NULL, NULL, 0, now_ms(), &rec,
				   &r->e) ||
	     log_and_apply(r, WAL_HOLIDAYS, &rec);
	wbuf_free(&rec);
	if (rc)
		return r->e.code;
	msgpack_pack_map(r->pk, 2);
	wire_pk_kstr(r->pk, "id", id);
	wire_pk_kbool(r->pk, "deleted", true);
	return 0;
}

/*
 * ops_slots.c - the handlers of availability (check, slots, holds.day) and
 * holds; see handlers.h.
 */
#include "handlers.h"

/* ---- availability ----------------------------------------------------- */

int h_check(struct req *r)
{
	struct resource *res =
	    find_res(r, r->a[ARG_resource], "resource", true);
	char session[SESSION_MAX + 1];
	struct check_out co;
	struct item it;
	int64_t start, end;
	const char *reason = NULL;

	if (res == NULL || get_span(r, &start, &end) || session_arg(r, session))
		return r->e.code;
	it = (struct item){res->idx, 1};
	switch (state_check(&r->s->st, &it, 1, start, end, CHK_OPEN | CHK_HOLDS,
			    session[0] ? session : NULL, &co)) {
	case 0:
		break;
	case BOOKD_E_CONFLICT:
		reason = "booked";
		break;
	case BOOKD_E_HELD:
		reason = "held";
		break;
	case BOOKD_E_CLOSED:
		reason = "closed";
		break;
	case BOOKD_E_INACTIVE:
		reason = "inactive";
		break;
	default:
		return check_failed(r, &co);
	}
	msgpack_pack_map(r->pk, reason ? 2 : 1);
	wire_pk_kbool(r->pk, "free", reason == NULL);
	if (reason)
		wire_pk_kstr(r->pk, "reason", reason);
	return 0;
}

/*
 * The grid of slots.day: in the local day [day_start, day_end), starts step
 * by `step` from the start of each open window (a run of open quarters;
 * for a resource without schedule the whole day), and a start counts when
 * its span is open and free of bookings and its buffers free of bookings.
 * Holds are ignored.  With an event type, its notice and window bound the
 * starts too.
 */
struct grid {
	struct resource *res;
	const struct event_type *et;
	const struct tz *zone;
	int64_t day, day_start, day_end, dur, step;
	int64_t not_before, not_after; /* notice and window */
	int32_t bb, ba;
	char session[SESSION_MAX + 1];
};

static void grid_bounds(struct grid *g, int64_t now_s)
{
	g->not_before = INT64_MIN;
	g->not_after = INT64_MAX;
	if (g->et == NULL)
		return;
	g->bb = (int32_t)g->et->buffer_before * 60;
	g->ba = (int32_t)g->et->buffer_after * 60;
	if (g->et->min_notice)
		g->not_before = now_s + (int64_t)g->et->min_notice * 60;
	if (g->et->max_future)
		g->not_after = now_s + (int64_t)g->et->max_future * 60;
}

static int grid_common(struct req *r, struct grid *g)
{
	uint64_t dflt;

	g->res = find_res(r, r->a[ARG_resource], "resource", false);
	if (g->res == NULL || event_type_arg(r, r->a[ARG_event_type], &g->et) ||
	    get_minutes(r, ARG_duration, "duration", 0, &g->dur) ||
	    date_zone(r, g->res, &g->zone))
		return r->e.code;
	if (g->et && et_allows(r, g->et, g->res, g->dur, "duration"))
		return r->e.code;
	/* An event type steps by its slot_interval, else by its shortest
	 * length (so a 5-hour session in a 10:00-20:00 day is offered at
	 * every hour a 1-hour one is, not only at 10:00 and 15:00). */
	dflt = g->et ? state_et_step(g->et) : (uint64_t)g->dur / 60;
	if (get_minutes(r, ARG_interval, "interval", dflt, &g->step))
		return r->e.code;
	grid_bounds(g, now_ms() / 1000);
	return 0;
}

static void grid_day(struct grid *g, int64_t day)
{
	g->day = day;
	tz_local_day(g->zone, day, &g->day_start, &g->day_end);
}

static int grid_args(struct req *r, struct grid *g)
{
	int64_t day;

	memset(g, 0, sizeof(*g));
	if (grid_common(r, g) || get_date(r, ARG_date, "date", &day))
		return r->e.code;
	grid_day(g, day);
	if (q_day_of(g->day_end - 1) < r->s->st.first_day ||
	    q_day_of(g->day_start) > r->s->st.last_day) {
		char win[64];

		window_text(&r->s->st, win, sizeof win);
		return req_error(r, BOOKD_E_OUT_OF_RANGE, "date",
				 "outside the bookable window: %s (UTC dates)",
				 win);
	}
	return 0;
}

static bool start_free(struct state *st, const struct grid *g, int64_t t)
{
	struct item it = {g->res->idx, 1};
	struct check_out co;

	if (t < g->not_before || t > g->not_after)
		return false;
	if (state_check(st, &it, 1, t, t + g->dur, CHK_OPEN, NULL, &co))
		return false;
	if (g->bb && state_check(st, &it, 1, t - g->bb, t, 0, NULL, &co))
		return false;
	if (g->ba && state_check(st, &it, 1, t + g->dur, t + g->dur + g->ba, 0,
				 NULL, &co))
		return false;
	return true;
}

/* Is the quarter at t open for the resource (false outside the window)? */
static bool open_at(const struct state *st, const struct resource *res,
		    int64_t t)
{
	const struct rday *d = state_day(st, res, q_day_of(t));
	int s;

	if (d == NULL)
		return false;
	s = q_slot_of(t);
	return (d->open[s / 64] >> (s % 64)) & 1;
}

/* Starts a local day can have (quanta.h): the grid and the reader's
 * slot lists share the bound. */
#define GRID_MAX Q_MAX_LOCAL_DAY_STARTS

/*
 * The starts of the grid's day, in order, into out (at most max of them).
 * Local days in zones whose midnight is not on a quarter (historic
 * offsets) start their grid at the first quarter after midnight.
 */
static uint32_t grid_walk(struct state *st, const struct grid *g, int64_t out[],
			  uint32_t max)
{
	int64_t t = g->day_start, end = g->day_end;
	uint32_t n = 0;

	t = (t + Q_SECONDS - 1) / Q_SECONDS * Q_SECONDS;
	while (t < end && n < max) {
		int64_t run_end, u;
		if (!open_at(st, g->res, t)) {
			t += Q_SECONDS;
			continue;
		}
		for (run_end = t; run_end < end && open_at(st, g->res, run_end);
		     run_end += Q_SECONDS)
			;
		for (u = t; u < run_end && n < max; u += g->step)
			if (start_free(st, g, u))
				out[n++] = u;
		t = run_end;
	}
	return n;
}

static bool held_by_other(const struct resource *res, int64_t s, int64_t e,
			  const char *session)
{
	for (const struct hold *h = res->holds; h; h = h->rnext)
		if (h->start < e && s < h->end &&
		    (!session[0] || strcmp(h->session, session) != 0))
			return true;
	return false;
}

int h_slots_day(struct req *r)
{
	struct grid g;
	int64_t starts[GRID_MAX];
	uint32_t n;
	char date[11];

	if (grid_args(r, &g))
		return r->e.code;
	n = grid_walk(&r->s->st, &g, starts, GRID_MAX);
	q_format_date(g.day, date);
	msgpack_pack_map(r->pk, 3);
	wire_pk_kstr(r->pk, "date", date);
	wire_pk_kstr(r->pk, "tz", tz_name(g.zone));
	wire_pk_str(r->pk, "slots");
	msgpack_pack_array(r->pk, n);
	for (uint32_t i = 0; i < n; i++)
		msgpack_pack_int64(r->pk, starts[i]);
	return 0;
}

int h_slots_view(struct req *r)
{
	struct grid g;
	int64_t starts[GRID_MAX];
	uint32_t n;

	if (grid_args(r, &g) || session_arg(r, g.session))
		return r->e.code;
	n = grid_walk(&r->s->st, &g, starts, GRID_MAX);
	msgpack_pack_array(r->pk, n);
	for (uint32_t i = 0; i < n; i++) {
		msgpack_pack_map(r->pk, 2);
		wire_pk_kint(r->pk, "start", starts[i]);
		wire_pk_kstr(r->pk, "state",
			     held_by_other(g.res, starts[i], starts[i] + g.dur,
					   g.session)
				 ? "reserved"
				 : "available");
	}
	return 0;
}

int h_slots_month(struct req *r)
{
	struct grid g;
	int64_t from, to, first;
	char date[11];

	memset(&g, 0, sizeof(g));
	if (grid_common(r, &g) || get_date(r, ARG_from, "from", &from) ||
	    get_date(r, ARG_to, "to", &to))
		return r->e.code;
	if (to < from)
		return req_error(r, BOOKD_E_BAD_REQUEST, "to", "before from");
	if (to - from + 1 > MAX_MONTH_DAYS)
		return req_error(r, BOOKD_E_BAD_REQUEST, "to",
				 "at most %d days from 'from'", MAX_MONTH_DAYS);
	msgpack_pack_map(r->pk, (size_t)(to - from + 1));
	for (int64_t day = from; day <= to; day++) {
		grid_day(&g, day);
		q_format_date(day, date);
		wire_pk_str(r->pk, date);
		if (grid_walk(&r->s->st, &g, &first, 1) > 0)
			msgpack_pack_true(r->pk);
		else
			msgpack_pack_false(r->pk);
	}
	return 0;
}

static int hold_cmp(const void *a, const void *b)
{
	const struct hold *x = *(const struct hold *const *)a;
	const struct hold *y = *(const struct hold *const *)b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

int h_holds_day(struct req *r)
{
	struct resource *res =
	    find_res(r, r->a[ARG_resource], "resource", false);
	const struct hold *hs[MAX_DAY_HOLDS];
	char session[SESSION_MAX + 1];
	const struct tz *zone;
	int64_t day, ds, de;
	uint32_t n = 0;

	if (res == NULL || get_date(r, ARG_date, "date", &day) ||
	    date_zone(r, res, &zone) || session_arg(r, session))
		return r->e.code;
	tz_local_day(zone, day, &ds, &de);
	for (const struct hold *h = res->holds; h && n < MAX_DAY_HOLDS;
	     h = h->rnext)
		if (h->start < de && ds < h->end)
			hs[n++] = h;
	qsort(hs, n, sizeof(hs[0]), hold_cmp); /* chronological */
	msgpack_pack_array(r->pk, n);
	for (uint32_t i = 0; i < n; i++) {
		msgpack_pack_map(r->pk, 3);
		wire_pk_kint(r->pk, "start", hs[i]->start);
		wire_pk_kint(r->pk, "end", hs[i]->end);
		wire_pk_kbool(r->pk, "mine",
			      session[0] &&
				  strcmp(hs[i]->session, session) == 0);
	}
	return 0;
}

/* ---- holds ------------------------------------------------------------ */

struct hold_req {
	struct resource *res;
	int64_t start, end;
};

/*
 * May this caller take hold h?  Every caller: not in the past, at most
 * --max-hold-minutes long.  Non-admin callers: room on the resource
 * (--max-holds-per-resource) and for the caller (--max-holds-per-caller;
 * `fresh` is how many holds of this request are new).  Admin callers are
 * bounded only by MAX_HOLDS_PER_RESOURCE, the table's own size.
 */
static int hold_check(struct req *r, const struct hold_req *h,
		      const char *session, uint32_t fresh, struct check_out *co)
{
	const struct caller_limits *lim = &r->s->cfg.limits;
	struct item it = {h->res->idx, 1};
	bool is_new = state_hold_find(h->res, session) == NULL;
	bool admin = r->role == ROLE_ADMIN;

	if (h->start < now_ms() / 1000)
		return req_error(r, BOOKD_E_OUT_OF_RANGE, "start",
				 "in the past: a hold starts now or later");
	if (h->end - h->start > (int64_t)lim->max_hold_minutes * 60)
		return req_error(r, BOOKD_E_LIMIT, "end",
				 "a hold spans at most %u minutes "
				 "(--max-hold-minutes)",
				 lim->max_hold_minutes);
	if (is_new && h->res->nholds >= MAX_HOLDS_PER_RESOURCE)
		return req_error(r, BOOKD_E_LIMIT, NULL,
				 "hold: %s has %d holds already", h->res->id,
				 MAX_HOLDS_PER_RESOURCE);
	if (is_new && !admin && h->res->nholds >= lim->holds_per_resource)
		return req_error(r, BOOKD_E_LIMIT, NULL,
				 "hold: %s has %u holds already "
				 "(--max-holds-per-resource)",
				 h->res->id, lim->holds_per_resource);
	if (fresh && !admin &&
	    state_holds_of(&r->s->st, r->principal) + fresh >
		lim->holds_per_caller)
		return req_error(r, BOOKD_E_LIMIT, NULL,
				 "hold: at most %u live holds per caller "
				 "(--max-holds-per-caller)",
				 lim->holds_per_caller);
	if (state_check(&r->s->st, &it, 1, h->start, h->end,
			CHK_OPEN | CHK_HOLDS, session, co))
		return check_failed(r, co);
	return 0;
}

int h_hold(struct req *r)
{
	struct hold_req h;
	char session[SESSION_MAX + 1];
	struct check_out co;
	int64_t ttl = r->s->cfg.hold_ttl_ms;

	h.res = find_res(r, r->a[ARG_resource], "resource", true);
	if (h.res == NULL || get_span(r, &h.start, &h.end) ||
	    session_arg(r, session) ||
	    hold_check(r, &h, session, state_hold_find(h.res, session) == NULL,
		       &co))
		return r->e.code;
	state_hold_set(&r->s->st, h.res, session, r->principal, h.start, h.end,
		       mono_ms() + ttl);
	msgpack_pack_map(r->pk, 1);
	wire_pk_kint(r->pk, "expires_at_ms", now_ms() + ttl);
	return 0;
}

int h_hold_many(struct req *r)
{
	const msgpack_object *list = r->a[ARG_holds];
	struct hold_req hs[PROTO_HOLDS_MAX];
	char session[SESSION_MAX + 1];
	struct check_out co;
	uint32_t n = list->via.array.size, fresh = 0;
	int64_t ttl = r->s->cfg.hold_ttl_ms;
	char field[64];

	if (session_arg(r, session))
		return r->e.code;
	if (n == 0)
		return req_error(r, BOOKD_E_BAD_REQUEST, "holds",
				 "at least one hold");
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *o = &list->via.array.ptr[i];
		const msgpack_object *a[ARG__COUNT];
		struct proto_error e;
		snprintf(field, sizeof(field), "holds[%u]", i);
		if (proto_validate_args(OP_check, o, a, &e) || a[ARG_session])
			return req_error(
			    r, BOOKD_E_BAD_REQUEST, field, "%s",
			    a[ARG_session] ? "session belongs outside" : e.msg);
		hs[i].res = find_res(r, a[ARG_resource], field, true);
		if (hs[i].res == NULL)
			return r->e.code;
		for (uint32_t k = 0; k < i; k++)
			if (hs[k].res == hs[i].res)
				return req_error(r, BOOKD_E_BAD_REQUEST, field,
						 "resource '%s' twice",
						 hs[i].res->id);
		snprintf(field, sizeof(field), "holds[%u].", i);
		if (span_of(r, a[ARG_start], a[ARG_end], field, &hs[i].start,
			    &hs[i].end))
			return r->e.code;
	}
	/* All or nothing: every hold is checked before any is taken. */
	for (uint32_t i = 0; i < n; i++)
		fresh += state_hold_find(hs[i].res, session) == NULL;
	for (uint32_t i = 0; i < n; i++)
		if (hold_check(r, &hs[i], session, fresh, &co))
			return r->e.code;
	for (uint32_t i = 0; i < n; i++)
		state_hold_set(&r->s->st, hs[i].res, session, r->principal,
			       hs[i].start, hs[i].end, mono_ms() + ttl);
	msgpack_pack_map(r->pk, 1);
	wire_pk_kint(r->pk, "expires_at_ms", now_ms() + ttl);
	return 0;
}

int h_release(struct req *r)
{
	struct resource *res =
	    find_res(r, r->a[ARG_resource], "resource", true);
	char session[SESSION_MAX + 1];
	int released;

	if (res == NULL || session_arg(r, session))
		return r->e.code;
	released = state_hold_release(&r->s->st, res, session);
	msgpack_pack_map(r->pk, 1);
	wire_pk_kbool(r->pk, "released", released);
	return 0;
}

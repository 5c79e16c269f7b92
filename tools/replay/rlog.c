/*
 * rlog.c - see rlog.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "quanta.h"
#include "rlog.h"
#include "wire.h"

/* A scan callback's way of saying "far enough": not an error. */
#define RL_STOP 0x7fff0001
/* The engine's defaults: a week of past, 730 days ahead. */
#define RL_MIN_LAG  8
#define RL_MIN_LEAD 731
/* Records whose spans reach further than this from their commit day are
 * not from an engine (its horizon is at most 3660 days); the window does
 * not grow for them, and their admissions go unchecked. */
#define RL_MAX_REACH 4000

int rlog_open(struct rlog *rl, const char *path, char *err, size_t errlen)
{
	struct stat sb;
	bool wal;

	memset(rl, 0, sizeof(*rl));
	rl->path = path;
	rl->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rl->dirfd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	wal = fstatat(rl->dirfd, "wal", &sb, 0) == 0 && S_ISDIR(sb.st_mode);
	rl->archive = fstatat(rl->dirfd, "wal/archive", &sb, 0) == 0 &&
		      S_ISDIR(sb.st_mode);
	if (snapshot_peek(rl->dirfd, &rl->snap, err, errlen) < 0) {
		close(rl->dirfd);
		return -1;
	}
	if (!wal && !rl->snap.present) {
		snprintf(err, errlen,
			 "%s: not a bookd data directory (no wal/ and no "
			 "snapshot)",
			 path);
		close(rl->dirfd);
		return -1;
	}
	return 0;
}

void rlog_close(struct rlog *rl)
{
	if (rl->dirfd >= 0)
		close(rl->dirfd);
	rl->dirfd = -1;
}

const char *rlog_type_name(uint16_t type)
{
	switch (type) {
	case WAL_RESOURCE:
		return "resource";
	case WAL_BOOKING:
		return "booking";
	case WAL_EVENT_TYPE:
		return "event_type";
	case 4: /* WAL_HOOK (engine/hooks.h) */
		return "hook";
	case WAL_SCHEDULE:
		return "schedule";
	case WAL_HOLIDAYS:
		return "holidays";
	default:
		return "unknown";
	}
}

void rlog_fmt_ms(int64_t ms, char buf[32])
{
	int64_t s = q_floor_div(ms, 1000), day = q_day_of(s);
	int64_t sec = s - day * DAY_SECONDS, y;
	unsigned m, d;

	q_civil_from_days(day, &y, &m, &d);
	snprintf(buf, 32, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m,
		 d, (int)(sec / 3600), (int)(sec % 3600 / 60), (int)(sec % 60),
		 (int)(ms - s * 1000));
}

void rlog_fmt_s(int64_t s, char buf[32])
{
	int64_t day = q_day_of(s), sec = s - day * DAY_SECONDS, y;
	unsigned m, d;

	q_civil_from_days(day, &y, &m, &d);
	if (sec % 60)
		snprintf(buf, 32, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02dZ", y,
			 m, d, (int)(sec / 3600), (int)(sec % 3600 / 60),
			 (int)(sec % 60));
	else
		snprintf(buf, 32, "%04" PRId64 "-%02u-%02uT%02d:%02dZ", y, m, d,
			 (int)(sec / 3600), (int)(sec % 3600 / 60));
}

/* Read exactly n digits at *p into *v. */
static int digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		*v = *v * 10 + (**p - '0');
	}
	return 0;
}

int rlog_parse_time(const char *s, int64_t *ms)
{
	int64_t day;
	int hh = 0, mm = 0, ss = 0, frac = 0, off = 0;
	const char *p = s + 10;

	if (strlen(s) < 10 || q_parse_date(s, 10, &day) < 0)
		return -1;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (digits(&p, 2, &hh) || *p++ != ':' || digits(&p, 2, &mm))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &ss))
				return -1;
			if (*p == '.') {
				int scale = 100;
				p++;
				if (*p < '0' || *p > '9')
					return -1;
				for (; *p >= '0' && *p <= '9'; p++) {
					frac += (*p - '0') * scale;
					scale /= 10;
				}
			}
		}
		if (hh > 24 || mm > 59 || ss > 60 || (hh == 24 && (mm || ss)))
			return -1;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) ||
		    oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
	}
	if (*p != 0)
		return -1;
	*ms = ((day * DAY_SECONDS + hh * 3600 + mm * 60 + ss) - off) * 1000 +
	      frac;
	return 0;
}

/* ---- reading records ---------------------------------------------- */

struct bounded {
	uint64_t to;
	wal_fn fn;
	void *ctx;
};

static int bounded_fn(void *ctx, const struct wal_rec *r)
{
	struct bounded *b = ctx;
	if (b->to && r->lsn > b->to)
		return RL_STOP;
	return b->fn(b->ctx, r);
}

/* What a snapshot lets the log leave out: the LSNs it covers. */
static uint64_t covered(const struct rlog *rl)
{
	return rl->snap.present ? rl->snap.lsn : 0;
}

int rlog_records(struct rlog *rl, uint64_t from, uint64_t to, wal_fn fn,
		 void *ctx, struct wal_scan *scan, char *err, size_t errlen)
{
	struct wal_scan_opts o = {covered(rl), from ? from : 1, rl->archive};
	struct bounded b = {to, fn, ctx};
	int rc = wal_scan(rl->dirfd, &o, bounded_fn, &b, scan);

	if (rc == RL_STOP) {
		scan->bad_lsn = 0; /* not damage: the end asked for */
		return 0;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s/wal: %s", rl->path, strerror(-rc));
		return -1;
	}
	return rc;
}

/* ---- the first pass: how wide a window the rebuild needs ----------- */

struct prepass {
	uint64_t until;
	uint64_t resources; /* resource records: new ones at most */
	int64_t first_ms;
	bool any;
	int64_t lag, lead; /* days before and after a record's own day */
};

static int64_t obj_i64(const msgpack_object *o, int64_t dflt)
{
	int64_t v;
	return wire_int(o, &v) ? v : dflt;
}

/*
 * The days [*d0, *d1] a booking record occupies, and whether the record
 * admits it (a creation or a move: the engine checked the window then).
 */
static bool admitted_span(const struct wal_rec *r, int64_t *d0, int64_t *d1)
{
	msgpack_unpacked u;
	size_t off = 0;
	bool ok = false;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, r->payload, r->len, &off) ==
		MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_MAP) {
		const msgpack_object *m = &u.data;
		const msgpack_object *ev = wire_get(m, "event");
		int64_t s = obj_i64(wire_get(m, "start"), 0);
		int64_t e = obj_i64(wire_get(m, "end"), 0);
		int64_t bb = obj_i64(wire_get(m, "buffer_before"), 0) * 60;
		int64_t ba = obj_i64(wire_get(m, "buffer_after"), 0) * 60;
		if ((wire_str_eq(ev, "booking.created") ||
		     wire_str_eq(ev, "booking.rescheduled")) &&
		    s - bb < e + ba) {
			span_days(s - bb, e + ba, d0, d1);
			ok = true;
		}
	}
	msgpack_unpacked_destroy(&u);
	return ok;
}

static int prepass_fn(void *ctx, const struct wal_rec *r)
{
	struct prepass *p = ctx;
	int64_t d0, d1, day = q_day_of(q_floor_div(r->at_ms, 1000));

	if (p->until && r->lsn > p->until)
		return RL_STOP;
	if (!p->any)
		p->first_ms = r->at_ms;
	p->any = true;
	if (r->type == WAL_RESOURCE)
		p->resources++;
	if (r->type == WAL_BOOKING && admitted_span(r, &d0, &d1)) {
		if (day - d0 > p->lag && day - d0 <= RL_MAX_REACH)
			p->lag = day - d0;
		if (d1 - day > p->lead && d1 - day <= RL_MAX_REACH)
			p->lead = d1 - day;
	}
	return 0;
}

/* ---- the rebuild ------------------------------------------------------ */

struct builder {
	struct state *st;
	const struct rbuild_opts *o;
	struct rbuild_res *res;
	int64_t lead;  /* days ahead of a record's day the window keeps */
	int64_t slack; /* how far past that a slide moves */
	uint32_t ring;
	char *err;
	size_t errlen;
};

static void commit_all(struct state *st)
{
	size_t n;
	struct delta *dl = state_take_deltas(st, &n);

	state_commit_deltas(st, dl, n);
	free(dl);
}

static int apply_fn(void *ctx, const struct wal_rec *r)
{
	struct builder *b = ctx;
	struct state *st = b->st;
	int64_t day = q_day_of(q_floor_div(r->at_ms, 1000));

	if (b->o->until_lsn && r->lsn > b->o->until_lsn) {
		b->res->stopped = true;
		return RL_STOP;
	}
	/* Keep the record's own day and everything it may reach ahead in
	 * the window, as the engine's window did when it committed. */
	if (day + b->lead > st->last_day) {
		int64_t last = day + b->lead + b->slack;
		state_slide(st, last - b->ring + 1, last);
	}
	if (b->o->before && b->o->before(b->o->ctx, st, r)) {
		snprintf(b->err, b->errlen, "stopped at LSN %" PRIu64, r->lsn);
		return -EINTR;
	}
	if (state_apply(st, r->type, r->payload, r->len, r->lsn, r->at_ms) <
	    0) {
		snprintf(b->err, b->errlen,
			 "the %s record at LSN %" PRIu64 " does not apply",
			 rlog_type_name(r->type), r->lsn);
		return -EBADMSG;
	}
	commit_all(st);
	if (b->res->applied == 0)
		b->res->first_ms = r->at_ms;
	b->res->applied++;
	b->res->lsn = r->lsn;
	b->res->last_ms = r->at_ms;
	if (b->o->after && b->o->after(b->o->ctx, st, r)) {
		snprintf(b->err, b->errlen, "stopped after LSN %" PRIu64,
			 r->lsn);
		return -EINTR;
	}
	return 0;
}

/* Did a live engine replace the snapshot since rl->snap was read? */
static bool snapshot_moved(struct rlog *rl)
{
	struct snapshot_info now;
	char err[256];

	if (snapshot_peek(rl->dirfd, &now, err, sizeof(err)) < 0 ||
	    (now.present == rl->snap.present && now.lsn == rl->snap.lsn))
		return false;
	rl->snap = now;
	return true;
}

int rlog_build(struct rlog *rl, const struct rbuild_opts *o, struct state *st,
	       struct rbuild_res *res, char *err, size_t errlen)
{
	bool use_snap = rl->snap.present && !o->from_start;
	uint64_t base = use_snap ? rl->snap.lsn : 0;
	struct wal_scan_opts so = {base, base + 1,
				   o->from_start && rl->archive};
	struct prepass pp = {o->until_lsn, 0,	       0,
			     false,	   RL_MIN_LAG, RL_MIN_LEAD};
	struct builder b;
	int64_t t0, first;
	uint64_t maxres;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(st, 0, sizeof(*st));
	b = (struct builder){st, o, res, 0, 0, 0, err, errlen};
	rc = wal_scan(rl->dirfd, &so, prepass_fn, &pp, &res->scan);
	if (rc < 0) {
		res->moved = rc == -ENOENT && snapshot_moved(rl);
		snprintf(err, errlen, "%s/wal: %s", rl->path, strerror(-rc));
		return -1;
	}
	t0 = use_snap ? rl->snap.created_ms : pp.any ? pp.first_ms : now_ms();
	b.lead = pp.lead;
	b.slack = (pp.lag + pp.lead) / 4 > 30 ? (pp.lag + pp.lead) / 4 : 30;
	b.ring = (uint32_t)(pp.lag + pp.lead + 1 + b.slack);
	first = q_day_of(q_floor_div(t0, 1000)) - pp.lag;
	maxres = (use_snap ? rl->snap.resources : 0) + pp.resources + 1;
	if (maxres > UINT32_MAX || state_init(st, (uint32_t)maxres, first,
					      first + b.ring - 1, b.ring) < 0) {
		snprintf(err, errlen,
			 "cannot size a state for %" PRIu64 " resources",
			 maxres);
		return -1;
	}
	if (use_snap) {
		if (snapshot_read(rl->dirfd, st, &res->snap, err, errlen) < 0)
			return -1;
		if (res->snap.lsn != base) {
			res->moved = snapshot_moved(rl);
			snprintf(err, errlen,
				 "the snapshot changed while it was read");
			return -1;
		}
		res->lsn = res->snap.lsn;
		if (o->snapshot_loaded &&
		    o->snapshot_loaded(o->ctx, st, NULL)) {
			snprintf(err, errlen, "stopped after the snapshot");
			return -1;
		}
	}
	rc = wal_scan(rl->dirfd, &so, apply_fn, &b, &res->scan);
	res->window_first = st->first_day;
	res->window_last = st->last_day;
	/* Segments a live engine let go after a newer checkpoint look like
	 * a hole in the log: that is not damage. */
	if ((rc == -ENOENT || (rc == 0 && res->scan.verdict == WAL_CORRUPT)) &&
	    snapshot_moved(rl)) {
		res->moved = true;
		snprintf(err, errlen,
			 "the engine wrote a new checkpoint while the log was "
			 "read");
		return -1;
	}
	if (rc == RL_STOP)
		res->scan.bad_lsn = 0; /* not damage: the end asked for */
	if (rc == RL_STOP || rc == 0)
		return 0;
	if (rc != -EINTR && rc != -EBADMSG)
		snprintf(err, errlen, "%s/wal: %s", rl->path, strerror(-rc));
	return -1;
}

/*
 * verify.c - `bookd-replay verify`: prove that a data directory holds a
 * consistent history.
 *
 * What it checks, in order:
 *  1. The snapshot: header, every record's checksum, the file checksum, and
 *     that every record applies (snapshot_read).
 *  2. The log after it: every record's checksum and LSN, with the recovery
 *     rule of wal.h deciding between a torn tail (fine: never acknowledged)
 *     and corruption (damage, named by LSN).
 *  3. Every record as it is replayed: booking status changes follow the
 *     state machine, and every booking a record creates or moves fits next
 *     to the others (no single-unit resource taken twice, no pool over its
 *     quantity) at that moment, ignoring its own old span as the engine
 *     does.  This is the no-double-booking invariant at the point where the
 *     engine decided it.
 *  4. The rebuilt state: each day's bitmaps and unit counts, working and
 *     committed, equal what the occupying bookings imply, and each day's
 *     booking list is exactly the bookings touching it; slots over a
 *     resource's quantity are damage unless its quantity was lowered (the
 *     engine allows that and reports it); statuses, spans, indexes and the
 *     events feed are sound.
 *  5. The archive (wal/archive/), when present, reads cleanly.
 *  6. The pages file, when it was published at exactly the LSN rebuilt:
 *     its directory and every page in both windows equal the state.
 *
 * Problems are listed one per line on stdout (the first VERIFY_SHOW of
 * them), with a summary; the exit status is 1 when any was found.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "pages.h"
#include "quanta.h"
#include "rlog.h"
#include "wire.h"

#define VERIFY_SHOW 50

struct verify {
	uint64_t problems;
	uint64_t admissions; /* creations and moves checked */
	uint64_t unchecked;  /* admissions reaching outside the window */
	uint64_t transitions;
	uint8_t *lowered;   /* per resource: a record lowered its quantity */
	uint8_t *snap_over; /* per resource: over quantity in the snapshot */
	uint32_t nflags;
};

static void problem(struct verify *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(struct verify *v, const char *fmt, ...)
{
	va_list ap;

	if (v->problems++ < VERIFY_SHOW) {
		fputs("PROBLEM: ", stdout);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		fputc('\n', stdout);
	}
}

static int flags_for(struct verify *v, const struct state *st)
{
	if (v->lowered)
		return 0;
	v->nflags = st->max_resources;
	v->lowered = calloc(v->nflags, 1);
	v->snap_over = calloc(v->nflags, 1);
	return v->lowered && v->snap_over ? 0 : -1;
}

/* Units booked on slot s of a day, from counts or bits. */
static unsigned units_at(const uint16_t *units, const uint64_t bits[2], int s)
{
	return units ? units[s] : (unsigned)(bits[s / 64] >> (s % 64) & 1);
}

/* ---- per-record checks ------------------------------------------------ */

struct rec_booking {
	uint32_t id;
	int status;
	int64_t start, end, os, oe;
	struct item items[MAX_ITEMS];
	int nitems;
};

/* The fields of a booking record the checks need; -1 when the record is
 * malformed (state_apply then refuses it and says so). */
static int parse_rec_booking(const struct state *st, const struct wal_rec *r,
			     struct rec_booking *b)
{
	msgpack_unpacked u;
	size_t off = 0;
	int rc = -1;

	memset(b, 0, sizeof(*b));
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, r->payload, r->len, &off) ==
		MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_MAP) {
		const msgpack_object *m = &u.data, *items;
		int64_t id = 0, bb = 0, ba = 0;
		wire_int(wire_get(m, "id"), &id);
		wire_int(wire_get(m, "start"), &b->start);
		wire_int(wire_get(m, "end"), &b->end);
		wire_int(wire_get(m, "buffer_before"), &bb);
		wire_int(wire_get(m, "buffer_after"), &ba);
		b->id = (uint32_t)id;
		b->status = bstatus_parse(wire_get(m, "status"));
		b->os = b->start - bb * 60;
		b->oe = b->end + ba * 60;
		items = wire_get(m, "items");
		rc = b->status >= 0 && items &&
			     items->type == MSGPACK_OBJECT_ARRAY &&
			     items->via.array.size <= MAX_ITEMS
			 ? 0
			 : -1;
		for (uint32_t i = 0; rc == 0 && i < items->via.array.size;
		     i++) {
			const msgpack_object *it = &items->via.array.ptr[i];
			const msgpack_object *rid = wire_get(it, "resource");
			const struct resource *res = NULL;
			int64_t q = 1;
			if (rid && rid->type == MSGPACK_OBJECT_STR)
				res = state_resource(st, rid->via.str.ptr,
						     rid->via.str.size);
			wire_int(wire_get(it, "quantity"), &q);
			if (res == NULL || q < 1) {
				rc = -1;
				break;
			}
			b->items[b->nitems++] =
			    (struct item){res->idx, (uint32_t)q};
		}
	}
	msgpack_unpacked_destroy(&u);
	return rc;
}

static bool same_items(const struct booking *old, const struct rec_booking *b)
{
	if (old->nitems != b->nitems)
		return false;
	for (int i = 0; i < b->nitems; i++)
		if (old->items[i].res != b->items[i].res ||
		    old->items[i].qty != b->items[i].qty)
			return false;
	return true;
}

/* Names of up to four bookings on day d of resource res overlapping slot
 * s, into buf. */
static void overlapping(const struct state *st, const struct rday *d,
			uint32_t res, int s, uint32_t self, char *buf,
			size_t len)
{
	int64_t t0 = d->day * DAY_SECONDS + (int64_t)s * Q_SECONDS;
	size_t used = 0;
	int shown = 0;

	buf[0] = 0;
	for (uint32_t k = 0; k < d->nbids && shown < 4; k++) {
		const struct booking *o = st->bk[d->bids[k] - 1];
		bool on = false;
		if (o->id == self)
			continue;
		for (int j = 0; j < o->nitems; j++)
			on |= o->items[j].res == res;
		if (!on || occ_start(o) >= t0 + Q_SECONDS || occ_end(o) <= t0)
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s#%u",
					 shown ? ", " : "", o->id);
		shown++;
		if (used >= len)
			break;
	}
}

/*
 * Does booking b fit into the state next to the others?  The old version
 * of the booking, if it occupies, is taken out first and put back after.
 */
static void check_fit(struct verify *v, struct state *st,
		      const struct wal_rec *r, const struct rec_booking *b,
		      const struct booking *old)
{
	int64_t d0, d1;
	bool outside = false;

	if (old && bstatus_occupies(old->status))
		state_occupy(st, old, -1, false);
	span_days(b->os, b->oe, &d0, &d1);
	for (int i = 0; i < b->nitems; i++) {
		const struct resource *res = st->res[b->items[i].res];
		bool reported = false;
		for (int64_t day = d0; day <= d1 && !reported; day++) {
			const struct rday *d = state_day(st, res, day);
			int from, to;
			if (d == NULL) {
				outside = true;
				continue;
			}
			span_slots(b->os, b->oe, day, &from, &to);
			for (int s = from; s < to && !reported; s++) {
				unsigned c = units_at(d->units, d->booked, s);
				char when[32], who[96];
				if (c + b->items[i].qty <= res->quantity)
					continue;
				rlog_fmt_s(day * DAY_SECONDS +
					       (int64_t)s * Q_SECONDS,
					   when);
				overlapping(st, d, res->idx, s, b->id, who,
					    sizeof(who));
				problem(v,
					"LSN %" PRIu64 ": booking #%u was "
					"admitted on %s at %s over its "
					"quantity: %u taken + %u asked > %u "
					"(overlaps %s)",
					r->lsn, b->id, res->id, when, c,
					b->items[i].qty, res->quantity,
					who[0] ? who : "?");
				reported = true;
			}
		}
	}
	if (outside)
		v->unchecked++;
	if (old && bstatus_occupies(old->status))
		state_occupy(st, old, +1, false);
}

static void check_booking_rec(struct verify *v, struct state *st,
			      const struct wal_rec *r)
{
	struct rec_booking b;
	const struct booking *old;
	bool moved;

	if (parse_rec_booking(st, r, &b) < 0)
		return;
	old = state_booking(st, b.id);
	if (old == NULL && b.id != st->nbk + 1)
		return; /* state_apply refuses it and says so */
	if (old && old->status != b.status) {
		v->transitions++;
		if (!bstatus_can_move(old->status, b.status))
			problem(v,
				"LSN %" PRIu64 ": booking #%u went from %s to "
				"%s, which is not a legal transition",
				r->lsn, b.id, bstatus_names[old->status],
				bstatus_names[b.status]);
	}
	if (old == NULL && b.status != BS_PENDING && b.status != BS_CONFIRMED)
		problem(v, "LSN %" PRIu64 ": booking #%u was created %s",
			r->lsn, b.id, bstatus_names[b.status]);
	moved = old && (old->start != b.start || old->end != b.end ||
			occ_start(old) != b.os || occ_end(old) != b.oe ||
			!same_items(old, &b));
	if (moved && old->status != BS_PENDING && old->status != BS_CONFIRMED)
		problem(v, "LSN %" PRIu64 ": booking #%u was moved while %s",
			r->lsn, b.id, bstatus_names[old->status]);
	if (!bstatus_occupies(b.status))
		return;
	if (old == NULL || !bstatus_occupies(old->status) || moved) {
		v->admissions++;
		check_fit(v, st, r, &b, old);
	}
}

/* A resource record: remember quantities going down. */
static void check_resource_rec(struct verify *v, struct state *st,
			       const struct wal_rec *r)
{
	msgpack_unpacked u;
	size_t off = 0;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, r->payload, r->len, &off) ==
		MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_MAP) {
		const msgpack_object *id = wire_get(&u.data, "id");
		const struct resource *res = NULL;
		int64_t q = 1;
		if (id && id->type == MSGPACK_OBJECT_STR)
			res = state_resource(st, id->via.str.ptr,
					     id->via.str.size);
		wire_int(wire_get(&u.data, "quantity"), &q);
		if (res && q < (int64_t)res->quantity && res->idx < v->nflags)
			v->lowered[res->idx] = 1;
	}
	msgpack_unpacked_destroy(&u);
}

static int before_fn(void *ctx, struct state *st, const struct wal_rec *r)
{
	struct verify *v = ctx;

	if (flags_for(v, st) < 0) {
		fprintf(stderr, "bookd-replay: out of memory\n");
		return 1;
	}
	if (r->type == WAL_BOOKING)
		check_booking_rec(v, st, r);
	else if (r->type == WAL_RESOURCE)
		check_resource_rec(v, st, r);
	return 0;
}

/* ---- the rebuilt state ------------------------------------------------ */

/* Bookings occupying each resource, as one array indexed by offsets. */
struct by_res {
	uint32_t *start; /* [nres + 1] */
	uint32_t *ids;
};

static int index_by_res(const struct state *st, struct by_res *x)
{
	uint32_t *fill;

	x->start = calloc((size_t)st->nres + 1, sizeof(*x->start));
	fill = calloc((size_t)st->nres + 1, sizeof(*fill));
	x->ids = NULL;
	if (x->start == NULL || fill == NULL)
		goto fail;
	for (uint32_t i = 0; i < st->nbk; i++) {
		const struct booking *b = st->bk[i];
		if (!bstatus_occupies(b->status))
			continue;
		for (int j = 0; j < b->nitems; j++)
			x->start[b->items[j].res + 1]++;
	}
	for (uint32_t r = 0; r < st->nres; r++)
		x->start[r + 1] += x->start[r];
	x->ids = reallocarray(NULL, x->start[st->nres] + 1, sizeof(*x->ids));
	if (x->ids == NULL)
		goto fail;
	for (uint32_t i = 0; i < st->nbk; i++) {
		const struct booking *b = st->bk[i];
		if (!bstatus_occupies(b->status))
			continue;
		for (int j = 0; j < b->nitems; j++) {
			uint32_t r = b->items[j].res;
			x->ids[x->start[r] + fill[r]++] = b->id;
		}
	}
	free(fill);
	return 0;
fail:
	free(fill);
	free(x->start);
	free(x->ids);
	return -1;
}

/* Compare one day of one resource with the counts the bookings imply. */
static void check_day(struct verify *v, const struct state *st,
		      const struct resource *res, const struct rday *d,
		      const uint32_t *want, uint32_t want_bids, uint64_t *over,
		      const char *where)
{
	char date[11];
	bool bad = false;

	q_format_date(d->day, date);
	for (int s = 0; s < Q_PER_DAY && !bad; s++) {
		unsigned w = units_at(d->units, d->booked, s);
		unsigned c = units_at(d->cunits, d->cbooked, s);
		bool wbit = d->booked[s / 64] >> (s % 64) & 1;
		bool cbit = d->cbooked[s / 64] >> (s % 64) & 1;
		bool full = want[s] >= res->quantity && want[s] > 0;
		bool cfull = want[s] >= res->cquantity && want[s] > 0;
		if (w != want[s] || c != want[s] || wbit != full ||
		    cbit != cfull) {
			problem(v,
				"%s: %s on %s slot %d: the bitmaps hold %u "
				"(committed %u, bits %d/%d) where the bookings "
				"take %u",
				where, res->id, date, s, w, c, wbit, cbit,
				want[s]);
			bad = true;
		}
		if (want[s] > res->quantity)
			(*over)++;
	}
	if (d->nbids != want_bids) {
		problem(v, "%s: %s on %s lists %u bookings where %u touch it",
			where, res->id, date, d->nbids, want_bids);
		return;
	}
	for (uint32_t k = 0; k < d->nbids; k++) {
		const struct booking *b = state_booking(st, d->bids[k]);
		int64_t d0 = 0, d1 = -1;
		bool on = false;
		if (b) {
			span_days(occ_start(b), occ_end(b), &d0, &d1);
			for (int j = 0; j < b->nitems; j++)
				on |= b->items[j].res == res->idx;
		}
		if (b == NULL || !on || !bstatus_occupies(b->status) ||
		    d->day < d0 || d->day > d1) {
			problem(v,
				"%s: %s on %s lists booking #%u, which "
				"does not touch it",
				where, res->id, date, d->bids[k]);
			return;
		}
	}
}

/*
 * Every day of every resource against its bookings.  snapshot: the state
 * just loaded from the snapshot, whose history is unknown (slots over
 * quantity there are remembered, not judged).
 */
static int check_bitmaps(struct verify *v, const struct state *st,
			 bool snapshot)
{
	const char *where = snapshot ? "snapshot" : "state";
	uint32_t wd = st->window_days;
	uint32_t *want = calloc((size_t)wd * Q_PER_DAY, sizeof(*want));
	uint32_t *bids = calloc(wd, sizeof(*bids));
	struct by_res x;

	if (want == NULL || bids == NULL || index_by_res(st, &x) < 0) {
		free(want);
		free(bids);
		fprintf(stderr, "bookd-replay: out of memory\n");
		return -1;
	}
	for (uint32_t r = 0; r < st->nres; r++) {
		const struct resource *res = st->res[r];
		uint64_t over = 0;
		memset(want, 0, (size_t)wd * Q_PER_DAY * sizeof(*want));
		memset(bids, 0, wd * sizeof(*bids));
		for (uint32_t k = x.start[r]; k < x.start[r + 1]; k++) {
			const struct booking *b = state_booking(st, x.ids[k]);
			int64_t d0, d1;
			uint32_t qty = 0;
			for (int j = 0; j < b->nitems; j++)
				if (b->items[j].res == r)
					qty += b->items[j].qty;
			if (k > x.start[r] && x.ids[k - 1] == b->id)
				continue; /* listed once per item */
			span_days(occ_start(b), occ_end(b), &d0, &d1);
			if (d0 < st->first_day)
				d0 = st->first_day;
			if (d1 > st->last_day)
				d1 = st->last_day;
			for (int64_t day = d0; day <= d1; day++) {
				uint32_t slot =
				    (uint32_t)(((day % wd) + wd) % wd);
				int from, to;
				span_slots(occ_start(b), occ_end(b), day, &from,
					   &to);
				for (int s = from; s < to; s++)
					want[slot * Q_PER_DAY + (uint32_t)s] +=
					    qty;
				bids[slot]++;
			}
		}
		for (int64_t day = st->first_day; day <= st->last_day; day++) {
			const struct rday *d = state_day(st, res, day);
			uint32_t slot = (uint32_t)(((day % wd) + wd) % wd);
			if (d == NULL) {
				problem(v,
					"%s: %s has no page for a day of "
					"its window",
					where, res->id);
				break;
			}
			check_day(v, st, res, d, want + slot * Q_PER_DAY,
				  bids[slot], &over, where);
		}
		if (over == 0)
			continue;
		if (snapshot) {
			v->snap_over[r] = 1;
			printf("note: snapshot: %s has %" PRIu64
			       " slots booked over its quantity %u (allowed "
			       "only after its quantity was lowered)\n",
			       res->id, over, res->quantity);
		} else if (v->lowered[r] || v->snap_over[r]) {
			printf("note: %s has %" PRIu64
			       " slots booked over its quantity %u, which "
			       "was lowered (allowed and reported by "
			       "resource.update)\n",
			       res->id, over, res->quantity);
		} else {
			problem(v,
				"%s: %s has %" PRIu64
				" slots booked over its quantity %u, which was "
				"never lowered",
				where, res->id, over, res->quantity);
		}
	}
	free(x.start);
	free(x.ids);
	free(want);
	free(bids);
	return 0;
}

/* Statuses, spans, indexes and the events feed. */
static void check_objects(struct verify *v, const struct state *st)
{
	uint64_t by_status[BS__COUNT] = {0};

	for (uint32_t i = 0; i < st->nbk; i++) {
		const struct booking *b = st->bk[i];
		if (b->id != i + 1)
			problem(v, "state: booking #%u sits at %u", b->id,
				i + 1);
		if (b->start >= b->end || b->start % Q_SECONDS ||
		    b->end % Q_SECONDS || occ_start(b) % Q_SECONDS ||
		    occ_end(b) % Q_SECONDS)
			problem(v,
				"state: booking #%u spans [%" PRId64
				", %" PRId64 ") with buffers %d/%d s, "
				"not whole quarters",
				b->id, b->start, b->end, b->buf_before,
				b->buf_after);
		if (b->status >= BS__COUNT) {
			problem(v, "state: booking #%u has no valid status",
				b->id);
			continue;
		}
		by_status[b->status]++;
		if (state_booking_by_ref(st, b->ref, strlen(b->ref)) != b)
			problem(v, "state: booking #%u is not found by its ref",
				b->id);
		if (b->key && state_booking_by_key(st, b->owner, b->key,
						   strlen(b->key)) != b)
			problem(v,
				"state: booking #%u is not found by its "
				"idempotency key",
				b->id);
	}
	for (int s = 0; s < BS__COUNT; s++)
		if (by_status[s] != st->by_status[s])
			problem(v,
				"state: %" PRIu64 " bookings are %s, the "
				"counter says %" PRIu64,
				by_status[s], bstatus_names[s],
				st->by_status[s]);
	for (size_t i = 0; i < st->nev; i++) {
		const struct event *e = &st->ev[i];
		if (e->booking == 0 || e->booking > st->nbk ||
		    e->type == EV_NONE || e->type >= EV__COUNT ||
		    (i > 0 && e->lsn <= st->ev[i - 1].lsn)) {
			problem(v,
				"state: feed event %zu (LSN %" PRIu64
				") is out of order or names nothing",
				i, e->lsn);
			break;
		}
	}
}

/* ---- the pages file --------------------------------------------------- */

struct pview {
	const unsigned char *p;
	size_t len;
	const struct pages_header *h;
};

static const struct pages_dirent *dirent_at(const struct pview *pv, uint32_t i)
{
	return (const struct pages_dirent *)(pv->p + pv->h->dir_offset +
					     (uint64_t)i * PAGES_DIRENT_SIZE);
}

static const struct pages_page *page_at(const struct pview *pv, uint32_t r,
					int64_t day)
{
	return (const struct pages_page *)(pv->p + pv->h->pages_offset +
					   pages_page_index(
					       r, day, pv->h->window_days) *
					       PAGES_PAGE_SIZE);
}

struct pcmp {
	uint64_t pages, unpublished, diffs;
	char first[200];
};

static void pdiff(struct pcmp *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pdiff(struct pcmp *c, const char *fmt, ...)
{
	va_list ap;

	if (c->diffs++ == 0) {
		va_start(ap, fmt);
		vsnprintf(c->first, sizeof(c->first), fmt, ap);
		va_end(ap);
	}
}

/* One pass over the file, meant to run inside a commit_seq read. */
static void compare_pages(const struct pview *pv, const struct state *st,
			  struct pcmp *c)
{
	uint64_t nres = seq_load(&pv->h->nresources);
	int64_t first = (int64_t)seq_load(&pv->h->first_day);
	int64_t last = (int64_t)seq_load(&pv->h->last_day);

	memset(c, 0, sizeof(*c));
	if (nres != st->nres) {
		pdiff(c, "%" PRIu64 " resources where the log has %u", nres,
		      st->nres);
		return;
	}
	if (first < st->first_day)
		first = st->first_day;
	if (last > st->last_day)
		last = st->last_day;
	for (uint32_t r = 0; r < st->nres; r++) {
		const struct resource *res = st->res[r];
		const struct pages_dirent *e = dirent_at(pv, r);
		char id[64];
		uint64_t fl = seq_load(&e->flags), want_fl;
		for (int w = 0; w < 8; w++) {
			uint64_t x = seq_load(&e->id[w]);
			memcpy(id + 8 * w, &x, 8);
		}
		id[63] = 0;
		want_fl = (res->active ? PAGES_DIR_ACTIVE : 0) |
			  (res->standalone ? PAGES_DIR_STANDALONE : 0);
		if (strcmp(id, res->id) != 0 || fl != want_fl ||
		    seq_load(&e->quantity) != res->cquantity)
			pdiff(c,
			      "directory entry %u (%s) differs from "
			      "resource %s",
			      r, id, res->id);
		for (int64_t day = first; day <= last && day >= 0; day++) {
			const struct pages_page *pg = page_at(pv, r, day);
			const struct rday *d = state_day(st, res, day);
			char date[11];
			bool same = true;
			if (seq_load(&pg->day) != (uint64_t)day) {
				c->unpublished++;
				continue;
			}
			c->pages++;
			for (int w = 0; w < 2; w++)
				same &=
				    seq_load(&pg->open[w]) == d->copen[w] &&
				    seq_load(&pg->booked[w]) == d->cbooked[w];
			for (int w = 0; w < 24 && same; w++) {
				uint64_t x = seq_load(&pg->units[w]), want = 0;
				for (int k = 0; k < 4 && d->cunits; k++)
					want |= (uint64_t)d->cunits[4 * w + k]
						<< (16 * k);
				same = x == want;
			}
			if (!same) {
				q_format_date(day, date);
				pdiff(c,
				      "page of %s on %s differs from its "
				      "bookings",
				      res->id, date);
			}
		}
	}
}

static void check_pages(struct verify *v, const struct rlog *rl,
			const struct state *st, uint64_t lsn)
{
	struct pview pv;
	struct stat sb;
	struct pcmp c = {0};
	uint64_t dir_off, pages_off, size, durable = 0;
	int fd = openat(rl->dirfd, "pages", O_RDONLY | O_CLOEXEC);
	bool done = false;

	if (fd < 0) {
		printf("pages: none\n");
		return;
	}
	if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size < PAGES_HEADER_SIZE) {
		problem(v, "pages: too short to hold a header");
		close(fd);
		return;
	}
	pv.len = (size_t)sb.st_size;
	pv.p = mmap(NULL, pv.len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (pv.p == MAP_FAILED) {
		problem(v, "pages: cannot map: %s", strerror(errno));
		return;
	}
	pv.h = (const struct pages_header *)pv.p;
	if (pv.h->magic != PAGES_MAGIC || pv.h->version != PAGES_VERSION ||
	    pv.h->header_size != PAGES_HEADER_SIZE ||
	    pv.h->dirent_size != PAGES_DIRENT_SIZE ||
	    pv.h->page_size != PAGES_PAGE_SIZE ||
	    pages_layout(pv.h->max_resources, pv.h->window_days, &dir_off,
			 &pages_off, &size) < 0 ||
	    dir_off != pv.h->dir_offset || pages_off != pv.h->pages_offset ||
	    size > pv.len || pv.h->max_resources < st->nres) {
		problem(v, "pages: the header does not describe a pages file "
			   "of this layout");
		goto out;
	}
	if (seq_load(&pv.h->state) == PAGES_RETIRED) {
		printf("pages: retired (a newer engine replaced it); not "
		       "compared\n");
		goto out;
	}
	/* A live engine may publish meanwhile: compare inside one commit
	 * cut, retrying a bounded number of times. */
	for (int tries = 0; tries < 200 && !done; tries++) {
		uint64_t s0 = seq_read_begin(&pv.h->commit_seq);
		if (s0 & 1) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
			continue;
		}
		durable = seq_load(&pv.h->durable_lsn);
		if (durable == lsn)
			compare_pages(&pv, st, &c);
		done = seq_read_ok(&pv.h->commit_seq, s0);
	}
	if (!done)
		printf("pages: the engine kept publishing; not compared\n");
	else if (durable != lsn)
		printf("pages: published up to LSN %" PRIu64
		       ", the log holds LSN %" PRIu64 "; not compared\n",
		       durable, lsn);
	else if (c.diffs)
		problem(v,
			"pages: %" PRIu64 " differences with the log at LSN "
			"%" PRIu64 ", first: %s",
			c.diffs, lsn, c.first);
	else
		printf("pages: agree with the log at LSN %" PRIu64
		       " (%u resources, %" PRIu64 " pages, %" PRIu64
		       " not published)\n",
		       lsn, st->nres, c.pages, c.unpublished);
out:
	munmap((void *)pv.p, pv.len);
}

/* ---- the command ------------------------------------------------------ */

static int snapshot_fn(void *ctx, struct state *st, const struct wal_rec *r)
{
	struct verify *v = ctx;

	(void)r;
	if (flags_for(v, st) < 0 || check_bitmaps(v, st, true) < 0)
		return 1;
	return 0;
}

static void report_scan(struct verify *v, const char *what,
			const struct wal_scan *sc)
{
	if (sc->verdict == WAL_CORRUPT)
		problem(v,
			"%s: corrupt at LSN %" PRIu64 " (%s); valid records "
			"end at LSN %" PRIu64 "; recover with bookd-replay "
			"replay DIR --into NEWDIR --until %" PRIu64,
			what, sc->bad_lsn, sc->detail, sc->last_lsn,
			sc->last_lsn);
	else if (sc->verdict == WAL_TORN)
		printf("note: %s: torn tail at LSN %" PRIu64
		       " (%s): never acknowledged; bookd cuts it at its next "
		       "start\n",
		       what, sc->bad_lsn, sc->detail);
}

int cmd_verify(const struct cmd_args *a)
{
	struct verify v;
	struct rlog rl;
	struct state st;
	struct rbuild_opts o = {0};
	struct rbuild_res res;
	char err[512];
	int rc;

	memset(&v, 0, sizeof(v));
	if (rlog_open(&rl, a->dir, err, sizeof(err)) < 0) {
		printf("PROBLEM: %s\nFAILED: %s cannot be verified\n", err,
		       a->dir);
		return EXIT_DAMAGED;
	}
	o.before = before_fn;
	o.snapshot_loaded = snapshot_fn;
	o.ctx = &v;
	/* A live engine may checkpoint and let segments go while verify
	 * reads: then read again from the new snapshot. */
	for (int tries = 1;; tries++) {
		rc = rlog_build(&rl, &o, &st, &res, err, sizeof(err));
		if (rc == 0 || !res.moved || tries == 3)
			break;
		printf("note: the engine wrote a checkpoint meanwhile; reading "
		       "again\n");
		state_free(&st);
		free(v.lowered);
		free(v.snap_over);
		memset(&v, 0, sizeof(v));
	}
	if (res.snap.present)
		printf("snapshot: LSN %" PRIu64 ", %u resources, %u event "
		       "types, %u bookings, %" PRIu64 " events, %" PRIu64
		       " bytes\n",
		       res.snap.lsn, res.snap.resources, res.snap.event_types,
		       res.snap.bookings, res.snap.events, res.snap.bytes);
	else if (rc == 0)
		printf("snapshot: none\n");
	if (rc < 0) {
		problem(&v, "%s", err);
		goto done;
	}
	if (res.applied)
		printf("log: %" PRIu64
		       " records after the snapshot, LSN %" PRIu64
		       " to %" PRIu64 ", in %u segments\n",
		       res.applied, res.lsn - res.applied + 1, res.lsn,
		       res.scan.segments);
	else
		printf("log: no records after LSN %" PRIu64 ", %u segments\n",
		       res.lsn, res.scan.segments);
	report_scan(&v, "log", &res.scan);
	printf("checks: %" PRIu64 " bookings created or moved, %" PRIu64
	       " status changes, %" PRIu64
	       " admissions reaching outside the window unchecked\n",
	       v.admissions, v.transitions, v.unchecked);
	if (flags_for(&v, &st) < 0 || check_bitmaps(&v, &st, false) < 0) {
		v.problems++;
		goto done;
	}
	check_objects(&v, &st);
	printf("state: LSN %" PRIu64 ", %u resources, %u event types, %u "
	       "bookings, %zu events; days checked %" PRId64 "..%" PRId64 "\n",
	       res.lsn, st.nres, st.net, st.nbk, st.nev, st.first_day,
	       st.last_day);
	if (rl.archive) {
		struct wal_scan_opts so = {rl.snap.present ? rl.snap.lsn : 0, 1,
					   true};
		struct wal_scan sc;
		rc = wal_scan(rl.dirfd, &so, NULL, NULL, &sc);
		if (rc < 0)
			problem(&v, "wal/archive: %s", strerror(-rc));
		else {
			printf("archive: LSN %" PRIu64 " to %" PRIu64
			       " with the log, %u segments\n",
			       sc.first_lsn, sc.last_lsn, sc.segments);
			report_scan(&v, "archive", &sc);
		}
	}
	if (res.scan.verdict != WAL_CORRUPT)
		check_pages(&v, &rl, &st, res.lsn);
done:
	state_free(&st);
	rlog_close(&rl);
	free(v.lowered);
	free(v.snap_over);
	if (v.problems) {
		if (v.problems > VERIFY_SHOW)
			printf("(%" PRIu64 " more problems not shown)\n",
			       v.problems - VERIFY_SHOW);
		printf("FAILED: %" PRIu64 " problems in %s\n", v.problems,
		       a->dir);
		return EXIT_DAMAGED;
	}
	printf("OK: %s\n", a->dir);
	return 0;
}

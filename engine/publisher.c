/*
 * publisher.c - pages and pushes; see publisher.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookd_errors.h"
#include "pagesw.h"
#include "publisher.h"
#include "quanta.h"

struct sub {
	struct sub *rnext, *rprev; /* the resource's (or events) list */
	struct sub *cnext;	   /* the connection's subscriptions */
	struct conn *conn;
	uint64_t id;
	uint32_t res;
	uint8_t topic;
	int64_t from_day, to_day;
};

int pub_init(struct publisher *p, int dirfd, uint32_t max_res,
	     uint32_t window_days, int64_t first_day, int64_t last_day,
	     struct stats *stats)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->stats = stats;
	p->max_res = max_res;
	p->res = calloc(max_res, sizeof(*p->res));
	if (p->res == NULL)
		return -ENOMEM;
	wbuf_packer_init(&p->pk, &p->pb);
	rc = pagesw_open(&p->pages, dirfd, max_res, window_days, first_day,
			 last_day);
	return rc < 0 ? rc : 0;
}

void pub_set_loop(struct publisher *p, struct loop *loop)
{
	p->loop = loop;
}

void pub_free(struct publisher *p)
{
	if (p->pages)
		pagesw_close(p->pages);
	free(p->res);
	wbuf_free(&p->pb);
	free(p->due_slots.v);
	free(p->due_holds.v);
}

/* ---- pages ------------------------------------------------------------ */

void pub_begin(struct publisher *p)
{
	pagesw_commit_begin(p->pages);
}

void pub_end(struct publisher *p, uint64_t durable_lsn)
{
	pagesw_set_durable_lsn(p->pages, durable_lsn);
	pagesw_commit_end(p->pages);
}

void pub_resource(struct publisher *p, uint32_t idx, const char *id,
		  uint32_t flags, uint32_t quantity, const struct tz *tz)
{
	struct pub_res *r = &p->res[idx];

	snprintf(r->id, sizeof(r->id), "%s", id);
	r->tz = tz;
	pagesw_set_resource(p->pages, idx, id, flags, quantity);
	pagesw_set_resource_zone(p->pages, idx, tz ? tz_name(tz) : NULL);
}

void pub_page(struct publisher *p, uint32_t idx, int64_t day,
	      const uint64_t open[2], const uint64_t booked[2],
	      const uint64_t held[2], const uint16_t *units, bool slots,
	      bool holds)
{
	pagesw_write_page(p->pages, idx, day, open, booked, held, units, slots,
			  holds);
}

void pub_window(struct publisher *p, int64_t first_day, int64_t last_day)
{
	pagesw_set_window(p->pages, first_day, last_day);
}

/* ---- what is due ------------------------------------------------------ */

static void due(struct dayrefs *q, const struct pub_res *r, uint32_t idx,
		int64_t utc_day, int from, int to)
{
	const struct tz *z = r->tz;
	int64_t t0 = utc_day * DAY_SECONDS + (int64_t)from * Q_SECONDS;
	int64_t t1 = utc_day * DAY_SECONDS + (int64_t)to * Q_SECONDS - 1;
	int64_t l0 = z ? tz_local_day_of(z, t0) : utc_day;
	int64_t l1 = z ? tz_local_day_of(z, t1) : utc_day;

	if (r->subs == NULL || from >= to)
		return;
	for (int64_t l = l0; l <= l1; l++) {
		if (q->n == q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 64;
			struct dayref *v = reallocarray(q->v, cap, sizeof(*v));
			if (v == NULL)
				abort();
			q->v = v;
			q->cap = cap;
		}
		q->v[q->n++] = (struct dayref){idx, l};
	}
}

void pub_slots_changed(struct publisher *p, uint32_t idx, int64_t utc_day,
		       int from, int to)
{
	due(&p->due_slots, &p->res[idx], idx, utc_day, from, to);
}

void pub_holds_changed(struct publisher *p, uint32_t idx, int64_t utc_day,
		       const uint64_t old[2], const uint64_t now[2])
{
	uint64_t x0 = old[0] ^ now[0], x1 = old[1] ^ now[1];
	int from, to;

	if ((x0 | x1) == 0)
		return;
	/* Only the local dates of the quarters that changed are due. */
	from = x0 ? __builtin_ctzll(x0) : 64 + __builtin_ctzll(x1);
	to = x1 ? 128 - __builtin_clzll(x1) : 64 - __builtin_clzll(x0);
	due(&p->due_holds, &p->res[idx], idx, utc_day, from, to);
}

/* ---- pushes ----------------------------------------------------------- */

static void push(struct publisher *p, struct sub *x, const char *date,
		 uint64_t version)
{
	size_t off;

	p->pb.len = 0;
	off = wire_frame_begin(&p->pb);
	msgpack_pack_map(&p->pk, 6);
	wire_pk_kstr(&p->pk, "push", "changed");
	wire_pk_kint(&p->pk, "sub", (int64_t)x->id);
	wire_pk_kstr(&p->pk, "topic",
		     x->topic == TOPIC_SLOTS ? "slots" : "holds");
	wire_pk_kstr(&p->pk, "resource", p->res[x->res].id);
	wire_pk_kstr(&p->pk, "date", date);
	wire_pk_kint(&p->pk, "version", (int64_t)version);
	wire_frame_end(&p->pb, off);
	if (loop_push(p->loop, x->conn, p->pb.data, p->pb.len))
		p->stats->pushes++;
}

static int dayref_cmp(const void *a, const void *b)
{
	const struct dayref *x = a, *y = b;
	if (x->res != y->res)
		return x->res < y->res ? -1 : 1;
	return (x->day > y->day) - (x->day < y->day);
}

static void push_due(struct publisher *p, struct dayrefs *q, uint8_t topic,
		     uint64_t version)
{
	if (q->n == 0)
		return;
	qsort(q->v, q->n, sizeof(*q->v), dayref_cmp);
	for (size_t i = 0; i < q->n; i++) {
		const struct dayref *d = &q->v[i];
		char date[11];

		if (i > 0 && d->res == q->v[i - 1].res &&
		    d->day == q->v[i - 1].day)
			continue;
		q_format_date(d->day, date);
		for (struct sub *x = p->res[d->res].subs; x; x = x->rnext)
			if (x->topic == topic && d->day >= x->from_day &&
			    d->day <= x->to_day)
				push(p, x, date, version);
	}
	q->n = 0;
}

void pub_push_slots(struct publisher *p, uint64_t version)
{
	push_due(p, &p->due_slots, TOPIC_SLOTS, version);
}

void pub_push_holds(struct publisher *p)
{
	if (p->due_holds.n)
		push_due(p, &p->due_holds, TOPIC_HOLDS, ++p->holds_seq);
}

void pub_events(struct publisher *p, uint64_t last_event_lsn)
{
	if (last_event_lsn <= p->events_lsn)
		return;
	p->events_lsn = last_event_lsn;
	for (struct sub *x = p->event_subs; x; x = x->rnext) {
		size_t off;

		p->pb.len = 0;
		off = wire_frame_begin(&p->pb);
		msgpack_pack_map(&p->pk, 4);
		wire_pk_kstr(&p->pk, "push", "events");
		wire_pk_kint(&p->pk, "sub", (int64_t)x->id);
		wire_pk_kstr(&p->pk, "topic", "events");
		wire_pk_kint(&p->pk, "lsn", (int64_t)last_event_lsn);
		wire_frame_end(&p->pb, off);
		if (loop_push(p->loop, x->conn, p->pb.data, p->pb.len))
			p->stats->pushes++;
	}
}

/* ---- subscriptions ---------------------------------------------------- */

static struct sub **list_of(struct publisher *p, const struct sub *x)
{
	return x->topic == TOPIC_EVENTS ? &p->event_subs : &p->res[x->res].subs;
}

/* Take a subscription off its list and free it. */
static void sub_free(struct publisher *p, struct sub *x)
{
	if (x->rprev)
		x->rprev->rnext = x->rnext;
	else
		*list_of(p, x) = x->rnext;
	if (x->rnext)
		x->rnext->rprev = x->rprev;
	p->nsubs--;
	free(x);
}

int pub_subscribe(struct publisher *p, struct conn *c, uint8_t topic,
		  uint32_t idx, int64_t from_day, int64_t to_day, uint64_t *id)
{
	struct sub *x, **list;

	if (c->nsubs >= PUB_MAX_SUBS_PER_CONN)
		return BOOKD_E_LIMIT;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return BOOKD_E_INTERNAL;
	x->id = ++p->next_sub;
	x->conn = c;
	x->res = topic == TOPIC_EVENTS ? 0 : idx;
	x->topic = topic;
	x->from_day = from_day;
	x->to_day = to_day;
	list = list_of(p, x);
	x->rnext = *list;
	if (*list)
		(*list)->rprev = x;
	*list = x;
	x->cnext = c->subs;
	c->subs = x;
	c->nsubs++;
	p->nsubs++;
	*id = x->id;
	return 0;
}

int pub_unsubscribe(struct publisher *p, struct conn *c, uint64_t id)
{
	struct sub **pp = &c->subs, *x;

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->cnext;
	if (*pp == NULL)
		return BOOKD_E_NOT_FOUND;
	x = *pp;
	*pp = x->cnext;
	c->nsubs--;
	sub_free(p, x);
	return 0;
}

void pub_drop_conn(struct publisher *p, struct conn *c)
{
	struct sub *x = c->subs;

	while (x) {
		struct sub *n = x->cnext;
		sub_free(p, x);
		x = n;
	}
	c->subs = NULL;
	c->nsubs = 0;
}

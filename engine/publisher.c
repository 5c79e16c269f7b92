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
	struct pub_caller *caller;
	uint64_t id;
	uint32_t res;
	uint8_t topic;
	int64_t from_day, to_day;
	struct sub_ent *ents; /* its places in the day index */
	uint32_t nents;
};

/*
 * The day index of one resource and topic: a segment tree over the local
 * days [index_base, index_base + index_days).  Node 1 covers them all, node
 * n's children are 2n and 2n+1, leaf index_days + k is day index_base + k.
 * A subscription is listed at the O(log days) nodes that exactly cover its
 * range (clipped to the index), so the subscribers of day d are the lists
 * on the path from d's leaf to the root: a change costs its matching
 * subscribers and the path, never the others.  The arrays of list heads
 * are made with a resource-topic's first subscription.  The covered span
 * is the window with a year to slide into; when the window leaves it, every
 * index is rebuilt around the new window.
 */
struct sub_ent {
	struct sub_ent *next, *prev;
	struct sub *sub;
	uint32_t node;
};

#define INDEX_SLACK_DAYS 370 /* the window may slide this far */

int pub_init(struct publisher *p, int dirfd, const char *pages_dir,
	     uint32_t max_res, uint32_t window_days, int64_t first_day,
	     int64_t last_day, struct stats *stats)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->stats = stats;
	p->max_res = max_res;
	p->max_subs_per_caller = 4096;
	p->max_subs = 65536;
	p->first_day = first_day;
	p->last_day = last_day;
	p->index_base = first_day - 2;
	p->index_days = 1;
	while (p->index_days <
	       (uint64_t)(last_day - first_day) + 5 + INDEX_SLACK_DAYS)
		p->index_days *= 2;
	p->res = calloc(max_res, sizeof(*p->res));
	p->all_due = calloc(max_res, sizeof(*p->all_due));
	if (p->res == NULL || p->all_due == NULL)
		return -ENOMEM;
	wbuf_packer_init(&p->pk, &p->pb);
	rc = pagesw_prepare(&p->pages, dirfd, pages_dir, max_res, window_days,
			    first_day, last_day);
	return rc < 0 ? rc : 0;
}

int pub_install(struct publisher *p)
{
	return pagesw_install(p->pages);
}

void pub_set_loop(struct publisher *p, struct loop *loop)
{
	p->loop = loop;
}

void pub_set_limits(struct publisher *p, uint32_t per_caller, uint64_t total)
{
	if (per_caller)
		p->max_subs_per_caller = per_caller;
	if (total)
		p->max_subs = total;
}

void pub_free(struct publisher *p)
{
	if (p->pages)
		pagesw_close(p->pages);
	for (uint32_t i = 0; p->res && i < p->max_res; i++)
		for (int t = 0; t < 2; t++)
			free(p->res[i].day_index[t]);
	free(p->res);
	free(p->all_due);
	free(p->match);
	for (size_t i = 0; i < PUB_CALLER_BUCKETS; i++)
		while (p->callers[i]) {
			struct pub_caller *n = p->callers[i]->next;
			free(p->callers[i]);
			p->callers[i] = n;
		}
	wbuf_free(&p->pb);
	free(p->due_slots.v);
	free(p->due_holds.v);
}

/* ---- the day index ---------------------------------------------------- */

static void index_add(struct publisher *p, struct sub *x)
{
	struct sub_ent ***heads = &p->res[x->res].day_index[x->topic];
	int64_t a = x->from_day, b = x->to_day;
	int64_t lo = p->index_base, hi = lo + (int64_t)p->index_days - 1;
	uint32_t l, r, n = 0, cap = 0;

	x->ents = NULL;
	x->nents = 0;
	if (a < lo)
		a = lo;
	if (b > hi)
		b = hi;
	if (a > b)
		return;
	if (*heads == NULL) {
		*heads = calloc(2 * (size_t)p->index_days, sizeof(**heads));
		if (*heads == NULL)
			abort();
	}
	for (uint32_t d = p->index_days; d > 1; d /= 2)
		cap += 2;
	x->ents = calloc(cap, sizeof(*x->ents));
	if (x->ents == NULL)
		abort();
	l = (uint32_t)(a - lo) + p->index_days;
	r = (uint32_t)(b - lo) + p->index_days + 1;
	for (; l < r; l /= 2, r /= 2) {
		uint32_t nodes[2] = {0, 0};
		if (l & 1)
			nodes[0] = l++;
		if (r & 1)
			nodes[1] = --r;
		for (int k = 0; k < 2; k++) {
			struct sub_ent *e;
			if (nodes[k] == 0)
				continue;
			e = &x->ents[n++];
			e->sub = x;
			e->node = nodes[k];
			e->next = (*heads)[e->node];
			if (e->next)
				e->next->prev = e;
			(*heads)[e->node] = e;
		}
	}
	x->nents = n;
}

static void index_del(struct publisher *p, struct sub *x)
{
	struct sub_ent **heads = p->res[x->res].day_index[x->topic];

	for (uint32_t i = 0; i < x->nents; i++) {
		struct sub_ent *e = &x->ents[i];
		if (e->prev)
			e->prev->next = e->next;
		else
			heads[e->node] = e->next;
		if (e->next)
			e->next->prev = e->prev;
	}
	free(x->ents);
	x->ents = NULL;
	x->nents = 0;
}

/* The window left the indexed span: index around the new one. */
static void index_rebuild(struct publisher *p)
{
	for (uint32_t i = 0; i < p->max_res; i++)
		for (int t = 0; t < 2; t++)
			for (struct sub *x = p->res[i].subs[t]; x; x = x->rnext)
				index_del(p, x);
	p->index_base = p->first_day - 2;
	for (uint32_t i = 0; i < p->max_res; i++)
		for (int t = 0; t < 2; t++) {
			free(p->res[i].day_index[t]);
			p->res[i].day_index[t] = NULL;
			for (struct sub *x = p->res[i].subs[t]; x; x = x->rnext)
				index_add(p, x);
		}
}

static void match_add(struct publisher *p, struct sub *x)
{
	if (p->nmatch == p->capmatch) {
		size_t cap = p->capmatch ? p->capmatch * 2 : 64;
		struct sub **v = reallocarray(p->match, cap, sizeof(*v));
		if (v == NULL)
			abort();
		p->match = v;
		p->capmatch = cap;
	}
	p->match[p->nmatch++] = x;
}

static int newest_first(const void *a, const void *b)
{
	const struct sub *x = *(struct sub *const *)a;
	const struct sub *y = *(struct sub *const *)b;
	return (x->id < y->id) - (x->id > y->id);
}

/* The subscribers of topic on (res, local day), newest first, into
 * p->match. */
static void subscribers_of(struct publisher *p, uint32_t res, uint8_t topic,
			   int64_t day)
{
	struct sub_ent **heads = p->res[res].day_index[topic];
	int64_t k = day - p->index_base;

	p->nmatch = 0;
	if (k < 0 || k >= (int64_t)p->index_days) {
		/* Outside the indexed span (no subscription reaches it but
		 * through its clipped ends): look at every one. */
		for (struct sub *x = p->res[res].subs[topic]; x; x = x->rnext)
			if (day >= x->from_day && day <= x->to_day)
				match_add(p, x);
		return;
	}
	if (heads == NULL)
		return;
	for (uint32_t n = (uint32_t)k + p->index_days; n >= 1; n /= 2)
		for (struct sub_ent *e = heads[n]; e; e = e->next)
			match_add(p, e->sub);
	if (p->nmatch > 1) /* match is NULL until the first one */
		qsort(p->match, p->nmatch, sizeof(*p->match), newest_first);
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
	p->first_day = first_day;
	p->last_day = last_day;
	if (first_day - 2 < p->index_base ||
	    last_day + 2 >= p->index_base + (int64_t)p->index_days)
		index_rebuild(p);
}

/* ---- what is due ------------------------------------------------------ */

static void due(struct dayrefs *q, const struct pub_res *r, uint8_t topic,
		uint32_t idx, int64_t utc_day, int from, int to)
{
	const struct tz *z = r->tz;
	int64_t t0 = utc_day * DAY_SECONDS + (int64_t)from * Q_SECONDS;
	int64_t t1 = utc_day * DAY_SECONDS + (int64_t)to * Q_SECONDS - 1;
	int64_t l0 = z ? tz_local_day_of(z, t0) : utc_day;
	int64_t l1 = z ? tz_local_day_of(z, t1) : utc_day;

	if (r->subs[topic] == NULL || from >= to)
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
	due(&p->due_slots, &p->res[idx], TOPIC_SLOTS, idx, utc_day, from, to);
}

void pub_window_changed(struct publisher *p, uint32_t idx)
{
	struct pub_res *r = &p->res[idx];

	if (r->all_due || r->subs[TOPIC_SLOTS] == NULL)
		return;
	r->all_due = true;
	p->all_due[p->nall_due++] = idx;
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
	due(&p->due_holds, &p->res[idx], TOPIC_HOLDS, idx, utc_day, from, to);
}

/* ---- pushes ----------------------------------------------------------- */

/* One push to x about date (and, for a range, through to). */
static void push(struct publisher *p, struct sub *x, const char *date,
		 const char *to, uint64_t version)
{
	size_t off;

	p->pb.len = 0;
	off = wire_frame_begin(&p->pb);
	msgpack_pack_map(&p->pk, to ? 7 : 6);
	wire_pk_kstr(&p->pk, "push", "changed");
	wire_pk_kint(&p->pk, "sub", (int64_t)x->id);
	wire_pk_kstr(&p->pk, "topic",
		     x->topic == TOPIC_SLOTS ? "slots" : "holds");
	wire_pk_kstr(&p->pk, "resource", p->res[x->res].id);
	wire_pk_kstr(&p->pk, "date", date);
	if (to)
		wire_pk_kstr(&p->pk, "to", to);
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
		if (topic == TOPIC_SLOTS && p->res[d->res].all_due)
			continue; /* one push for the whole range, below */
		q_format_date(d->day, date);
		subscribers_of(p, d->res, topic, d->day);
		for (size_t k = 0; k < p->nmatch; k++)
			push(p, p->match[k], date, NULL, version);
	}
	q->n = 0;
}

/*
 * Resources whose every day changed: one push per subscription, naming the
 * first and last local dates of its range inside the window, instead of
 * one per date (a quantity change would otherwise push each subscriber
 * once for each of some 740 days).
 */
static void push_all_due(struct publisher *p, uint64_t version)
{
	for (uint32_t i = 0; i < p->nall_due; i++) {
		struct pub_res *r = &p->res[p->all_due[i]];
		const struct tz *z = r->tz;
		int64_t lo = z ? tz_local_day_of(z, p->first_day * DAY_SECONDS)
			       : p->first_day;
		int64_t hi = z ? tz_local_day_of(z, p->last_day * DAY_SECONDS +
							DAY_SECONDS - 1)
			       : p->last_day;

		for (struct sub *x = r->subs[TOPIC_SLOTS]; x; x = x->rnext) {
			int64_t a = x->from_day > lo ? x->from_day : lo;
			int64_t b = x->to_day < hi ? x->to_day : hi;
			char from[11], to[11];
			if (a > b)
				continue;
			q_format_date(a, from);
			q_format_date(b, to);
			push(p, x, from, to, version);
		}
		r->all_due = false;
	}
	p->nall_due = 0;
}

void pub_push_slots(struct publisher *p, uint64_t version)
{
	push_due(p, &p->due_slots, TOPIC_SLOTS, version);
	push_all_due(p, version);
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
	return x->topic == TOPIC_EVENTS ? &p->event_subs
					: &p->res[x->res].subs[x->topic];
}

/* The caller of c: its token's subject, else its peer uid. */
static void caller_key(const struct conn *c, char key[72])
{
	if (c->subject[0])
		snprintf(key, 72, "s:%s", c->subject);
	else
		snprintf(key, 72, "u:%lu", (unsigned long)c->uid);
}

static struct pub_caller **caller_slot(struct publisher *p, const char *key)
{
	uint32_t h = 2166136261u;
	struct pub_caller **pp;

	for (const char *k = key; *k; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	pp = &p->callers[h % PUB_CALLER_BUCKETS];
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void caller_put(struct publisher *p, struct pub_caller *k)
{
	struct pub_caller **pp;

	if (--k->n > 0)
		return;
	pp = caller_slot(p, k->key);
	*pp = k->next;
	free(k);
}

/* Take a subscription off its list and free it. */
static void sub_free(struct publisher *p, struct sub *x)
{
	if (x->topic != TOPIC_EVENTS)
		index_del(p, x);
	if (x->rprev)
		x->rprev->rnext = x->rnext;
	else
		*list_of(p, x) = x->rnext;
	if (x->rnext)
		x->rnext->rprev = x->rprev;
	p->nsubs--;
	caller_put(p, x->caller);
	free(x);
}

int pub_subscribe(struct publisher *p, struct conn *c, uint8_t topic,
		  uint32_t idx, int64_t from_day, int64_t to_day, uint64_t *id)
{
	struct sub *x, **list;
	struct pub_caller **pk, *k;
	char key[72];

	if (c->nsubs >= PUB_MAX_SUBS_PER_CONN || p->nsubs >= p->max_subs)
		return BOOKD_E_LIMIT;
	caller_key(c, key);
	pk = caller_slot(p, key);
	if (*pk && (*pk)->n >= p->max_subs_per_caller)
		return BOOKD_E_LIMIT;
	if (*pk == NULL) {
		*pk = calloc(1, sizeof(**pk));
		if (*pk == NULL)
			return BOOKD_E_INTERNAL;
		snprintf((*pk)->key, sizeof((*pk)->key), "%s", key);
	}
	k = *pk;
	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		k->n++;
		caller_put(p, k);
		return BOOKD_E_INTERNAL;
	}
	k->n++;
	x->caller = k;
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
	if (topic != TOPIC_EVENTS)
		index_add(p, x);
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

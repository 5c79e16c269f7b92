/*
 * publisher.h - what readers and subscribers see: the shared pages and the
 * pushes.
 *
 * The publisher owns the pages writer (pagesw) and every subscription.  The
 * engine hands it committed state in neutral terms (a resource's directory
 * entry and zone, a page's bit words, which quarters of which UTC day
 * changed) and it writes the pages under their seqlocks and sends:
 *
 *   - "slots" pushes: one per subscriber per local date touched by a
 *     durable group (pub_push_slots), versioned by the group's LSN;
 *   - "holds" pushes: one per subscriber per local date whose held bits
 *     changed (pub_push_holds), versioned by a counter;
 *   - "events" pushes to admin subscribers of the events feed, once new
 *     events are durable (pub_events).
 *
 * Pushes name local dates in the resource's zone while pages are UTC days:
 * a changed UTC day becomes the one or two local dates it overlaps, queued
 * and de-duplicated, so a change spanning several UTC days still pushes
 * each subscriber once per local date.
 *
 * Subscribers are found through a day index per resource and topic (a
 * segment tree over local days, publisher.c), so a change costs its
 * matching subscribers, not every subscriber of the resource.
 *
 * Invariants: a subscription is on exactly one list (its resource's and
 * topic's, or the events list), in its resource's day index (clipped to the
 * indexed span), and on its connection's list, and is freed with its
 * connection.  Nothing here decides availability or reads domain state.
 *
 * How it fails: pub_init returns -errno when the pages file cannot be built;
 * pub_subscribe returns BOOKD_E_LIMIT past the per-connection cap; out of
 * memory aborts.  A subscriber that does not read its pushes is cut off by
 * the loop (loop_push).
 */
#ifndef BOOKD_PUBLISHER_H
#define BOOKD_PUBLISHER_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "loop.h"
#include "stats.h"
#include "tz.h"
#include "wire.h"

#define TOPIC_SLOTS  0
#define TOPIC_HOLDS  1
#define TOPIC_EVENTS 2

#define PUB_MAX_SUBS_PER_CONN 4096
#define PUB_CALLER_BUCKETS    1024

struct pagesw;

/* A resource-day whose subscribers are due a push (day: a local date in the
 * resource's zone). */
struct dayref {
	uint32_t res;
	int64_t day;
};

struct dayrefs {
	struct dayref *v;
	size_t n, cap;
};

struct sub_ent;

struct pub_res {
	char id[64];
	const struct tz *tz;	       /* NULL: UTC */
	struct sub *subs[2];	       /* by topic: TOPIC_SLOTS, TOPIC_HOLDS */
	struct sub_ent **day_index[2]; /* by topic; see publisher.c */
	bool all_due;		       /* every day changed in this batch */
};

/* Subscriptions of one caller (token subject, else peer uid). */
struct pub_caller {
	struct pub_caller *next;
	uint32_t n;
	char key[72];
};

struct publisher {
	struct pagesw *pages;
	struct loop *loop;
	struct stats *stats;
	struct pub_res *res; /* [max_res] */
	uint32_t max_res;
	uint32_t max_subs_per_caller;
	uint64_t max_subs;
	struct pub_caller *callers[PUB_CALLER_BUCKETS];
	int64_t first_day, last_day; /* the window, UTC days */
	int64_t index_base;	     /* first local day the indexes cover */
	uint32_t index_days;	     /* days they cover (a power of two) */
	struct sub **match;	     /* scratch: the subscribers of a date */
	size_t nmatch, capmatch;
	uint32_t *all_due; /* resources with all_due set */
	uint32_t nall_due;
	uint64_t next_sub;
	uint64_t nsubs;
	struct sub *event_subs;
	uint64_t events_lsn; /* the last event LSN pushed */
	struct dayrefs due_slots, due_holds;
	uint64_t holds_seq; /* version of "holds" pushes */
	struct wbuf pb;	    /* a push being built */
	msgpack_packer pk;
};

/* Build the pages file (see pagesw_prepare) and get ready; 0 or -errno.
 * Readers keep the old file until pub_install, called once the first
 * publication is complete (0 or -errno). */
int pub_init(struct publisher *p, int dirfd, const char *pages_dir,
	     uint32_t max_res, uint32_t window_days, int64_t first_day,
	     int64_t last_day, struct stats *stats);
int pub_install(struct publisher *p);
/* Pushes go through this loop (set before the first push). */
void pub_set_loop(struct publisher *p, struct loop *loop);
/* Caps on subscriptions: per caller (token subject, else peer uid) and in
 * all; 0 keeps the default (4096, 65536). */
void pub_set_limits(struct publisher *p, uint32_t per_caller, uint64_t total);
void pub_free(struct publisher *p);

/* Bracket a publication of several pages; pub_end also publishes the
 * durable LSN. */
void pub_begin(struct publisher *p);
void pub_end(struct publisher *p, uint64_t durable_lsn);

/* Resource idx's directory entry (PAGES_DIR_* flags) and zone. */
void pub_resource(struct publisher *p, uint32_t idx, const char *id,
		  uint32_t flags, uint32_t quantity, const struct tz *tz);
/* The whole state of page (idx, day); see pagesw_write_page. */
void pub_page(struct publisher *p, uint32_t idx, int64_t day,
	      const uint64_t open[2], const uint64_t booked[2],
	      const uint64_t held[2], const uint16_t *units, bool slots,
	      bool holds);
void pub_window(struct publisher *p, int64_t first_day, int64_t last_day);

/* Quarters [from, to) of UTC day of resource idx changed: its "slots"
 * subscribers are due a push at the next pub_push_slots. */
void pub_slots_changed(struct publisher *p, uint32_t idx, int64_t utc_day,
		       int from, int to);
/* Every day of resource idx changed (its quantity, its activation): each
 * "slots" subscriber of it gets one push for its whole range at the next
 * pub_push_slots, not one per date. */
void pub_window_changed(struct publisher *p, uint32_t idx);
/* The held bits of (idx, utc_day) went from old to now: "holds"
 * subscribers of the local dates of the changed quarters are due a push at
 * the next pub_push_holds. */
void pub_holds_changed(struct publisher *p, uint32_t idx, int64_t utc_day,
		       const uint64_t old[2], const uint64_t now[2]);
void pub_push_slots(struct publisher *p, uint64_t version);
void pub_push_holds(struct publisher *p);
/* The last durable event now has this LSN: push "events" subscribers when
 * it moved. */
void pub_events(struct publisher *p, uint64_t last_event_lsn);

/* Subscribe c to topic on resource idx (ignored for TOPIC_EVENTS) for the
 * local dates [from_day, to_day].  0 or BOOKD_E_LIMIT (PUB_MAX_SUBS_PER_CONN
 * on c, the caller's cap or the total cap reached). */
int pub_subscribe(struct publisher *p, struct conn *c, uint8_t topic,
		  uint32_t idx, int64_t from_day, int64_t to_day, uint64_t *id);
/* 0, or BOOKD_E_NOT_FOUND when c has no subscription id. */
int pub_unsubscribe(struct publisher *p, struct conn *c, uint64_t id);
/* Free every subscription of c. */
void pub_drop_conn(struct publisher *p, struct conn *c);

#endif

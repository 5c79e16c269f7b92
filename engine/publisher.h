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
 * Invariants: a subscription is on exactly one list (its resource's, or
 * the events list) and on its connection's list, and is freed with its
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

struct pub_res {
	char id[64];
	const struct tz *tz; /* NULL: UTC */
	struct sub *subs;
};

struct publisher {
	struct pagesw *pages;
	struct loop *loop;
	struct stats *stats;
	struct pub_res *res; /* [max_res] */
	uint32_t max_res;
	uint64_t next_sub;
	uint64_t nsubs;
	struct sub *event_subs;
	uint64_t events_lsn; /* the last event LSN pushed */
	struct dayrefs due_slots, due_holds;
	uint64_t holds_seq; /* version of "holds" pushes */
	struct wbuf pb;	    /* a push being built */
	msgpack_packer pk;
};

/* Build the pages file (see pagesw_open) and get ready; 0 or -errno. */
int pub_init(struct publisher *p, int dirfd, uint32_t max_res,
	     uint32_t window_days, int64_t first_day, int64_t last_day,
	     struct stats *stats);
/* Pushes go through this loop (set before the first push). */
void pub_set_loop(struct publisher *p, struct loop *loop);
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
 * local dates [from_day, to_day].  0 or BOOKD_E_LIMIT. */
int pub_subscribe(struct publisher *p, struct conn *c, uint8_t topic,
		  uint32_t idx, int64_t from_day, int64_t to_day, uint64_t *id);
/* 0, or BOOKD_E_NOT_FOUND when c has no subscription id. */
int pub_unsubscribe(struct publisher *p, struct conn *c, uint64_t id);
/* Free every subscription of c. */
void pub_drop_conn(struct publisher *p, struct conn *c);

#endif

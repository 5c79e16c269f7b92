/*
 * state.h - the engine's domain state: resources, bookings, holds and the
 * per-resource-day bitmaps, with the checks that guard them.
 *
 * Ownership and invariants
 * ------------------------
 * - Everything here lives in the one engine thread; nothing locks.
 * - Durable state changes only through state_apply(), which takes a WAL
 *   record (type + MessagePack payload).  Live handlers build the record,
 *   append it to the WAL, then apply that same record; recovery applies the
 *   records it reads.  So a restart rebuilds exactly what was acknowledged.
 * - Working bitmaps (rday.booked, rday.units) include changes whose WAL
 *   group is not durable yet; every change to them is also queued as a delta
 *   (state.deltas).  The server moves a group's deltas aside when the group
 *   is sealed and applies them to the committed copies (rday.cbooked,
 *   rday.cunits) when it is durable; only committed copies are published to
 *   readers.
 * - A day's booked bits equal the union of the occupying bookings that cover
 *   it; a pool's units equal the sum of their quantities.  Every check
 *   (state_check) looks at every day and resource of a request before
 *   anything changes.
 * - Holds are memory only.  Their expiry order equals their renewal order
 *   (the TTL is one constant), so a FIFO list serves as the timer queue.
 * - Every live hold is counted once under its session and once under its
 *   owner (state.sessions, state.holders); a session with live holds has
 *   exactly one owner, and an entry leaves its table with its last hold.
 * - Booking ids are dense (1..nbk), every booking is counted in exactly one
 *   status, and a booking's history grows by one entry per logged change.
 * - The domain owns its record formats: each has one encoder here (typed
 *   inputs in, checked, encoded), used for the log, snapshots and replies.
 * These are asserted where they are kept (assert(), on in every build that
 * does not define NDEBUG, which none of the Makefile's do).
 *
 * Days live in a ring of window_days slots per resource, indexed by
 * day % window_days, covering [first_day, last_day].  A request touching a
 * day outside the window is OUT_OF_RANGE.
 */
#ifndef BOOKD_STATE_H
#define BOOKD_STATE_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "arena.h"
#include "errors.h"
#include "caller.h"
#include "hmap.h"
#include "ktab.h"
#include "ops.h"
#include "quanta.h"
#include "schedule.h"
#include "tz.h"
#include "wire.h"

#define DAY_NONE    INT64_MIN
#define MAX_ITEMS   PROTO_BOOK_ITEMS_MAX
#define SESSION_MAX PROTO_SESSION_MAX

enum bstatus {
	BS_PENDING,
	BS_CONFIRMED,
	BS_DECLINED,
	BS_CANCELLED,
	BS_COMPLETED,
	BS_NO_SHOW,
	BS__COUNT
};

extern const char *const bstatus_names[BS__COUNT];
int bstatus_parse(const msgpack_object *o);
/* Does a booking in this status keep its slots? */
static inline bool bstatus_occupies(int s)
{
	return s != BS_DECLINED && s != BS_CANCELLED;
}
/* Is from -> to a legal transition (SPEC section 3)? */
bool bstatus_can_move(int from, int to);

struct rday {
	int64_t day;	     /* DAY_NONE when the slot holds no day */
	uint64_t open[2];    /* working: from the newest schedule */
	uint64_t copen[2];   /* committed (published) */
	uint64_t booked[2];  /* working */
	uint64_t cbooked[2]; /* committed (published) */
	uint64_t held[2];
	uint16_t *units;  /* pools only: working booked units per slot */
	uint16_t *cunits; /* pools only: committed */
	uint32_t *bids;	  /* occupying bookings touching this day */
	uint32_t nbids, capbids;
	uint32_t mark;	   /* scratch for de-duplicating per group */
	bool open_changed; /* copen changed by a commit, not yet published */
};

struct hold {
	struct hold *rnext, *rprev; /* the resource's holds */
	struct hold *enext, *eprev; /* expiry order */
	uint32_t res;
	int64_t start, end;
	int64_t expires_ms; /* monotonic clock */
	char session[SESSION_MAX + 1];
	char owner[PRINCIPAL_MAX + 1]; /* the principal holding it */
};

/* A shared (named) schedule: resources naming it carry a copy of it in
 * their own record, rewritten whenever it changes. */
#define STATE_MAX_SHARED_SCHED 1024u
struct shared_sched {
	char id[64];
	struct sched *sched;
};

/* A holiday calendar: schedules including it carry a copy of its dates
 * (proto/schedule.h), rewritten whenever it changes. */
#define STATE_MAX_HOLIDAYS PROTO_HOLIDAY_CALENDARS_MAX
struct holiday_cal {
	char id[64];
	char *name;	  /* NULL: none */
	struct hcal *cal; /* its dates */
	int64_t created_ms, updated_ms;
};

struct resource {
	uint32_t idx;
	char id[64];
	char *name, *kind, *timezone;
	char *meta; /* packed MessagePack, or NULL */
	uint32_t meta_len;
	uint32_t quantity;
	uint32_t cquantity;	    /* committed quantity (what readers see) */
	struct sched *sched;	    /* NULL: open around the clock */
	const struct sched *csched; /* the committed schedule */
	char *sched_ref;	    /* the shared schedule it uses, or NULL */
	const struct tz *tz;	    /* the resource's zone for local dates */
	bool standalone, active;
	bool
	    archived; /* resource.delete: inactive for good, kept for history */
	int64_t created_ms, updated_ms;
	struct rday *days; /* [window_days] */
	struct hold *holds;
	uint32_t nholds;
};

struct item {
	uint32_t res;
	uint32_t qty;
};

/* A booking's strings, items and history live in the state's arena (by
 * and reason, timezone, event type and owner interned) and are released
 * with the state.  Strings and items never change once written; a history
 * grows by doubling into new room (st_hist_alloc). */
struct hist {
	int64_t at_ms;
	int8_t from; /* -1 at creation */
	int8_t to;
	const char *by;
	const char *reason;
};

struct booking {
	uint32_t id;
	uint8_t status;
	uint8_t nitems;
	uint16_t nhist;
	int64_t start, end;
	int32_t buf_before, buf_after; /* seconds occupied around the span */
	char ref[33];
	const struct item *items;
	const char *name, *email, *phone, *notes;
	const char *timezone, *event_type, *note, *key;
	const char *owner; /* the principal that created it (caller.h), or
			      NULL */
	int64_t created_ms, updated_ms;
	struct hist *hist; /* malloc'd: it grows with each change */
};

enum delta_kind {
	DELTA_OCCUPY,	/* qty units on slots [from, to) of (res, day) */
	DELTA_REQUANT,	/* the resource's quantity became qty */
	DELTA_RESOURCE, /* the directory entry changed (qty 1: new or
			   (de)activated) */
	DELTA_OPEN,	/* the resource's schedule became ptr */
};

struct delta {
	uint8_t kind;
	uint8_t from, to; /* slots [from, to) */
	int32_t qty;	  /* +n occupy, -n free; the new quantity */
	uint32_t res;
	int64_t day;
	const void *ptr;
};

#define ET_MAX_LENGTHS	 PROTO_ET_LENGTHS_MAX
#define ET_MAX_RESOURCES PROTO_ET_RESOURCES_MAX
/* Bounds of an event type's minutes: a length at most 31 days, a slot
 * interval or buffer at most a day, a notice or horizon at most ten years. */
#define ET_MAX_LENGTH_MINUTES (31 * Q_DAY_MINUTES)
#define ET_MAX_GAP_MINUTES    Q_DAY_MINUTES
#define ET_MAX_NOTICE_MINUTES (3660 * Q_DAY_MINUTES)

/* An event type: what a booker picks, with durations and linked resources. */
struct event_type {
	char id[64];
	char *title;
	uint32_t lengths[ET_MAX_LENGTHS]; /* minutes */
	uint32_t nlengths;
	uint32_t slot_interval; /* minutes, 0: the shortest length */
	uint32_t res[ET_MAX_RESOURCES];
	uint32_t nres;
	uint32_t buffer_before, buffer_after; /* minutes */
	uint32_t min_notice, max_future;      /* minutes, 0: no bound */
	bool requires_confirmation, active;
	bool archived; /* event_type.delete: inactive for good */
	char *meta;
	uint32_t meta_len;
	int64_t created_ms, updated_ms;
};

enum feed_event {
	EV_NONE,
	EV_CREATED,
	EV_CONFIRMED,
	EV_DECLINED,
	EV_CANCELLED,
	EV_COMPLETED,
	EV_NO_SHOW,
	EV_RESCHEDULED,
	EV__COUNT
};
extern const char *const event_names[EV__COUNT];

struct event {
	uint64_t lsn;
	int64_t at_ms;
	uint32_t booking;
	uint8_t type;
};

struct state;

struct state_hooks {
	/* A resource-day's held bits changed (publish them, push "holds"). */
	void (*held_changed)(void *ctx, struct resource *r, struct rday *d,
			     const uint64_t old_held[2]);
	void *ctx;
};

struct id_list {
	uint32_t *ids;
	uint32_t n;
	size_t cap;
};

struct state {
	uint32_t window_days;
	int64_t first_day, last_day;
	uint32_t max_resources;
	struct resource **res;
	uint32_t nres;
	struct hmap res_by_id;
	struct booking **bk; /* by id - 1 */
	uint32_t nbk;
	size_t capbk;
	struct hmap bk_by_ref, bk_by_key;
	/* Bookings by booker e-mail (ASCII case folded): the value indexes
	 * by_email_ids, whose lists hold booking ids in ascending order. */
	struct hmap bk_by_email;
	struct id_list *by_email_ids;
	size_t n_email, cap_email;
	uint64_t by_status[BS__COUNT];
	struct event *ev;
	size_t nev, capev;
	struct event_type **et;
	uint32_t net;
	size_t capet;
	struct hmap et_by_id;
	struct sched **old_scheds; /* replaced schedules, kept for deltas */
	size_t nold, capold;
	struct delta *deltas;
	size_t ndeltas, capdeltas;
	struct hold *exp_head, *exp_tail;
	uint32_t nholds;
	/* Live holds by session (n; val: the session's owner) and by owner
	 * (n).  An entry lives while it counts at least one hold. */
	struct ktab sessions, holders;
	struct state_hooks hooks;
	struct hook_set *webhooks; /* hooks.h; NULL until the first hook */
	struct shared_sched *ss;   /* shared schedules, by id order of put */
	uint32_t nss;
	size_t capss;
	struct holiday_cal *hc; /* holiday calendars, in order of put */
	uint32_t nhc;
	size_t caphc;
	/* Bookings (never deleted: ids are dense), their items and strings,
	 * and the resources' day rings: memory freed only with the state. */
	struct arena mem;
	struct strtab strs;
	msgpack_zone *zone; /* decoding of one record at a time */
	/* Replaying durable records (state_replay_begin): no deltas are
	 * queued, and the committed copies are set at the end. */
	bool replaying;
};

int state_init(struct state *st, uint32_t max_resources, int64_t first_day,
	       int64_t last_day, uint32_t window_days);
void state_free(struct state *st);

/* Shared schedules (engine/records.c). */
struct shared_sched *state_shared_sched(const struct state *st, const char *id,
					size_t len);
uint32_t state_sched_users(const struct state *st, const char *id);
/* The record of a shared schedule: sched NULL deletes it.  The id is a
 * slug that no resource uses; at most STATE_MAX_SHARED_SCHED. */
int state_schedule_record(const struct state *st, const char *id,
			  const struct sched *sched, struct wbuf *rec,
			  struct proto_error *e);
void state_pack_schedule_rec(msgpack_packer *pk, const struct shared_sched *s);

/* Holiday calendars (engine/records_catalog.c). */
struct holiday_cal *state_holidays(const struct state *st, const char *id,
				   size_t len);
/* A sched_resolve_fn over the calendars of the state ctx. */
const struct hcal *state_holidays_resolve(void *ctx, const char *id,
					  size_t len);
/* How many schedules include calendar id: shared ones, and the own
 * schedules of resources not archived. */
uint32_t state_holidays_users(const struct state *st, const char *id);
/* The record of a calendar: cal NULL deletes it.  The id is a slug; at
 * most STATE_MAX_HOLIDAYS calendars. */
int state_holidays_record(const struct state *st, const char *id,
			  const char *name, const struct hcal *cal,
			  int64_t created_ms, int64_t updated_ms,
			  struct wbuf *rec, struct proto_error *e);
void state_pack_holidays_rec(msgpack_packer *pk, const struct holiday_cal *h);

struct resource *state_resource(const struct state *st, const char *id,
				size_t len);
struct booking *state_booking(const struct state *st, uint64_t id);
struct booking *state_booking_by_ref(const struct state *st, const char *ref,
				     size_t len);
/* The booking made by principal `owner` under idempotency key `key`. */
struct booking *state_booking_by_key(const struct state *st, const char *owner,
				     const char *key, size_t len);
#define STATE_KEY_INDEX_MAX (PRINCIPAL_MAX + 1 + PROTO_KEY_MAX)
struct rday *state_day(const struct state *st, const struct resource *r,
		       int64_t day);

/*
 * Apply one WAL record (the redo of a mutation).  Returns 0, or -1 if the
 * payload is malformed (recovery treats that as corruption).
 */
int state_apply(struct state *st, uint16_t type, const char *payload,
		uint32_t len, uint64_t lsn, int64_t at_ms);

struct event_type *state_event_type(const struct state *st, const char *id,
				    size_t len);
/* Does event type e link resource idx? */
bool state_et_links(const struct event_type *e, uint32_t idx);

/* The span a booking occupies: its own plus buffers. */
static inline int64_t occ_start(const struct booking *b)
{
	return b->start - b->buf_before;
}
static inline int64_t occ_end(const struct booking *b)
{
	return b->end + b->buf_after;
}

/*
 * Typed inputs of the mutations that create or replace a directory entry.
 * The domain checks them, encodes the WAL record with the one encoder of
 * its format, and the same encoder writes snapshots and replies, so a
 * record format has one owner (this file and state.c).
 */
struct resource_in {
	const char *id;			    /* a slug */
	const char *name, *kind, *timezone; /* NULL: absent */
	uint32_t quantity;		    /* 1..STATE_MAX_QUANTITY */
	bool standalone, active;
	bool archived;	  /* written as "archived": true only when set */
	const char *meta; /* a packed MessagePack map, or NULL */
	uint32_t meta_len;
	const struct sched *sched; /* NULL: open around the clock */
	const char *sched_ref;	   /* the shared schedule's id, or NULL */
	int64_t created_ms, updated_ms;
	/* Encode the schedule in its wire form (a reply), not the full form
	 * of a record (proto/schedule.h). */
	bool sched_wire;
};

struct event_type_in {
	const char *id, *title;
	uint32_t lengths[ET_MAX_LENGTHS]; /* minutes */
	uint32_t nlengths;
	uint32_t slot_interval;
	uint32_t res[ET_MAX_RESOURCES]; /* resource indices */
	uint32_t nres;
	uint32_t buffer_before, buffer_after, min_notice, max_future;
	bool requires_confirmation, active;
	bool archived; /* written as "archived": true only when set */
	const char *meta;
	uint32_t meta_len;
	int64_t created_ms, updated_ms;
};

#define STATE_MAX_QUANTITY 10000

/* The input that reproduces a stored entry (for updates and encoding). */
void state_resource_in(const struct resource *r, struct resource_in *in);
void state_event_type_in(const struct event_type *e, struct event_type_in *in);

/* The one encoder of each record: a map of the record's keys plus `extra`
 * more, which the caller packs after it (a reply's additions). */
void state_encode_resource(msgpack_packer *pk, const struct resource_in *in,
			   uint32_t extra);
void state_encode_event_type(msgpack_packer *pk, const struct state *st,
			     const struct event_type_in *in);

/* Check an input against the state and encode its WAL record into *rec
 * (which the caller frees).  Returns 0, or a BOOKD_E_* code with *e filled
 * (the field named as on the wire). */
int state_resource_record(const struct state *st, const struct resource_in *in,
			  struct wbuf *rec, struct proto_error *e);
int state_event_type_record(const struct state *st,
			    const struct event_type_in *in, struct wbuf *rec,
			    struct proto_error *e);

/* Pack records. */
void state_pack_resource_rec(msgpack_packer *pk, const struct resource *r);
void state_pack_booking_rec(msgpack_packer *pk, const struct state *st,
			    const struct booking *b, int event);
void state_pack_event_type(msgpack_packer *pk, const struct state *st,
			   const struct event_type *e);

/* A change of a stored booking: its new status and span, and who did it
 * and why (one history entry). */
struct booking_change {
	uint8_t status;
	int64_t start, end;
	int64_t at_ms;
	const char *by, *reason;
	int event; /* EV_*, EV_NONE for none */
};
/*
 * Check a change of booking cur against the per-booking bounds (a
 * reschedule must move it and stays under lim->max_reschedules; the
 * history under lim->max_reschedules + CALLER_HISTORY_EXTRA) and encode its WAL
 * record: the change alone, never the booking's history.  Returns 0 or a
 * BOOKD_E_* code with *e filled.
 */
int state_booking_change_record(const struct state *st,
				const struct booking *cur,
				const struct booking_change *c,
				const struct caller_limits *lim,
				struct wbuf *rec, struct proto_error *e);

enum view { VIEW_PUBLIC, VIEW_ADMIN };
void state_pack_resource(msgpack_packer *pk, const struct state *st,
			 const struct resource *r);
void state_pack_booking(msgpack_packer *pk, const struct state *st,
			const struct booking *b, enum view v);

/* Result of a span check. */
struct check_out {
	int err;	  /* 0 or a BOOKD_E_* code */
	uint32_t res;	  /* resource the refusal concerns */
	uint32_t ids[16]; /* conflicting bookings (CONFLICT) */
	uint32_t nids;
};

#define CHK_OPEN  1u /* the span must be inside open hours */
#define CHK_HOLDS 2u /* other sessions' holds count */
/*
 * Can items[] take [start, end)?  Checks, for every resource and day:
 * window, active, bookings and, with CHK_OPEN, open hours, and with
 * CHK_HOLDS, holds of sessions other than `session` (NULL: every hold
 * counts).  Buffers need neither (they only keep bookings apart).  Returns
 * 0 or the error code also stored in out->err.
 */
int state_check(struct state *st, const struct item *items, int nitems,
		int64_t start, int64_t end, unsigned flags, const char *session,
		struct check_out *out);

/*
 * Add (sign > 0) or remove (sign < 0) a booking's occupancy in the working
 * bitmaps.  With emit, the change is queued as deltas for publication;
 * without, it is a private what-if (reschedule takes the old span out to
 * check the new one, then puts it back).
 */
void state_occupy(struct state *st, const struct booking *b, int sign,
		  bool emit);

/* Holds.  All times of expiry are monotonic milliseconds. */
struct hold *state_hold_find(const struct resource *r, const char *session);
/* Create, replace or renew session's hold on r for principal owner (a
 * session with live holds has one owner: the caller checks with
 * state_session_owner first).  Returns 1 if the held bits changed. */
int state_hold_set(struct state *st, struct resource *r, const char *session,
		   const char *owner, int64_t start, int64_t end,
		   int64_t expires_ms);
/* The principal whose live holds use this session name, or NULL. */
const char *state_session_owner(const struct state *st, const char *session);
/* How many live holds principal owner has. */
uint32_t state_holds_of(const struct state *st, const char *owner);
int state_hold_release(struct state *st, struct resource *r,
		       const char *session);
/* Expire holds due at now; returns how many. */
uint32_t state_hold_expire(struct state *st, int64_t now);
int64_t state_hold_next_expiry(const struct state *st); /* -1 when none */

/* Slide the window so that it ends at last_day; new days are rebuilt from
 * the bookings. */
void state_slide(struct state *st, int64_t first_day, int64_t last_day);

/*
 * Recovery: between begin and end every record applied is already durable,
 * so no delta is queued for it; end makes every committed copy (quantity,
 * schedule, open and booked bits, units) equal to the working one, which
 * is what committing each record's deltas would have left.  Replayed
 * records' DELTA_RESOURCE entries are not queued either: the caller
 * publishes everything after a recovery.
 */
void state_replay_begin(struct state *st);
void state_replay_end(struct state *st);
/* Size the indexes for that many more resources and bookings (a
 * snapshot's counts), and have their memory faulted in beside the load. */
void state_reserve(struct state *st, size_t resources, size_t bookings);

/* Take the queued deltas (the caller owns the array afterwards). */
struct delta *state_take_deltas(struct state *st, size_t *n);
/* Apply deltas to the committed bitmaps. */
void state_commit_deltas(struct state *st, const struct delta *d, size_t n);

/* Iterate the days of a span: for (d = first; d <= last; d++) with slots
 * [from, to) of day d. */
static inline void span_days(int64_t start, int64_t end, int64_t *d0,
			     int64_t *d1)
{
	*d0 = q_day_of(start);
	*d1 = q_day_of(end - 1);
}
static inline void span_slots(int64_t start, int64_t end, int64_t day,
			      int *from, int *to)
{
	int64_t ds = day * DAY_SECONDS;
	*from = start <= ds ? 0 : (int)((start - ds) / Q_SECONDS);
	*to =
	    end >= ds + DAY_SECONDS ? Q_PER_DAY : (int)((end - ds) / Q_SECONDS);
	/* The caller asks only for days the span touches. */
	assert(0 <= *from && *from <= *to && *to <= Q_PER_DAY);
}

/* Minutes between an event type's offered starts: its slot_interval, or
 * its shortest length when that is 0. */
uint32_t state_et_step(const struct event_type *et);

/* The ids of the bookings whose booker e-mail is email (any ASCII case),
 * ascending; NULL when there are none. */
const struct id_list *state_bookings_by_email(const struct state *st,
					      const char *email, size_t len);

#endif

/*
 * bookd_reader.h - answer availability questions from bookd's shared pages,
 * without a round trip to the engine.
 *
 * What it is
 * ----------
 * bookd publishes its committed availability in the file DATA/pages (layout:
 * proto/pages.h): per resource and per day of a window around today, 96
 * fifteen-minute slots of open / booked / held bits, and booked-unit counts
 * for pools.  A process on the same machine that can read the data
 * directory maps that file read-only and answers "is this span free", "which
 * starts does slots.day list" and the like with plain memory loads: no
 * system call, no lock, no allocation in the common path.  The engine stays
 * the authority; the reader is a fast path that says so when it cannot
 * answer, and the caller then asks the engine over the socket.
 *
 * How to use it
 * -------------
 *     bookd_reader *r;
 *     uint32_t studio;
 *     enum bookd_reason reason;
 *     int free;
 *
 *     if (bookd_reader_open("/srv/bookd/var", &r) != 0) ...;
 *     if (bookd_reader_resource(r, "studio-a", &studio) != 0) ...;
 *     rc = bookd_reader_check(r, studio, start, end, NULL, &free, &reason);
 *     if (rc == BOOKD_E_STALE) ... ask the engine with `check` instead;
 *     else if (rc == 0 && !free) ... bookd_reason_name(reason);
 *     bookd_reader_close(r);
 *
 * Resolve each slug once with bookd_reader_resource() and keep the index:
 * it names the resource for the life of the handle, also across engine
 * restarts (the handle maps it to the new file's directory).  Instants are
 * Unix seconds (UTC), multiples of 900; spans are [start, end).  Day
 * numbers count days since 1970-01-01: for the page calls they are UTC days
 * (unix_seconds / 86400), for the slot lists they are local dates in the
 * zone the call names (bookd_reader_date() turns "YYYY-MM-DD" into one).
 *
 * Slot lists for local days:
 *
 *     int64_t date, starts[BOOKD_READER_MAX_STARTS];
 *     size_t n;
 *
 *     bookd_reader_date("2025-03-30", &date);
 *     rc = bookd_reader_slots_day_tz(r, studio, date, "Europe/Berlin",
 *                                    60, 0, starts, &n);
 *
 * A NULL zone means the resource's own `timezone` as the engine published
 * it in the pages (UTC when it has none), which is what the engine uses for
 * a date without `tz`; pass a name to ask about another zone.
 *
 * Every function returns 0 or a negative bookd_err code (bookd_errors.h):
 *  - BOOKD_E_STALE: no consistent copy after BOOKD_READER_RETRIES attempts
 *    (the engine kept writing), a day inside the window that the engine has
 *    not published yet, or a question the pages cannot settle (see Caveats);
 *    ask the engine.
 *  - BOOKD_E_NOT_FOUND: no such resource (in the current file).
 *  - BOOKD_E_BAD_REQUEST: misaligned or empty span, bad duration/interval,
 *    a date that is not YYYY-MM-DD, an unknown time zone.
 *  - BOOKD_E_OUT_OF_RANGE: a day outside the window, from the day reads,
 *    the unit count and the day slot lists (check() reports it as a reason;
 *    the month view marks such days 0).
 *  - BOOKD_E_PROTO: the file is not a bookd pages file of this layout
 *    version (wrong magic, version or sizes).
 *  - BOOKD_E_IO (errno set): open, fstat or mmap failed, e.g. ENOENT when no
 *    engine ever ran on that directory, or a zone file could not be read.
 *    BOOKD_E_NOMEM: out of memory.
 *
 * Engine restarts: each start of bookd builds a new file and marks the old
 * one retired.  Every call first checks that mark (one load) and, when it is
 * set, re-opens the path and re-maps transparently; the new generation is
 * visible through bookd_reader_info().
 *
 * Caveats
 * -------
 *  - A handle is not thread-safe (it re-maps and counts in place): use one
 *    handle per thread, or lock around it.  Handles are cheap.
 *  - held is the union of every session's holds: the pages cannot tell the
 *    caller's own hold from another session's.  slots_view() therefore marks
 *    a start reserved when its span touches any hold, the caller's own
 *    included, and check() with a session answers BOOKD_E_STALE when held
 *    bits are the only obstacle (the engine can exclude the caller's hold).
 *  - The slot lists follow slots.day without an event type: local days in
 *    any zone (DST days of 92 or 100 quarters included), starts stepping
 *    from the start of each open window.  Event types (buffers, notice,
 *    window, their default interval) need the engine.
 *  - check() on a pool (quantity > 1) whose span meets held slots answers
 *    BOOKD_E_STALE unless some held slot is down to its last unit: the
 *    pages say that a slot is held, not by how many holds, and each hold
 *    takes one unit.
 *  - Hold bits are hints: they appear when a hold is granted and vanish when
 *    it ends, but the engine decides.  Booked bits are always durable.
 *  - If bookd dies, its file keeps the last published state until the next
 *    start retires it; a reader cannot tell a dead engine from an idle one.
 *  - Do not truncate or rewrite DATA/pages by hand while readers map it: a
 *    shrunk file makes their loads fault (SIGBUS).
 */
#ifndef BOOKD_READER_H
#define BOOKD_READER_H

#include <stddef.h>
#include <stdint.h>

#include "bookd_errors.h"

BOOKD_BEGIN_DECLS

/* Attempts at a consistent copy before BOOKD_E_STALE. */
#define BOOKD_READER_RETRIES 64
#define BOOKD_READER_SLOTS   96 /* slots of a UTC day, and its most starts */
/*
 * Most starts of one local day: a local day is shorter than 76 hours,
 * because UTC offsets stay within 26 hours either way (DST days are 23 or
 * 25 hours, 92 or 100 quarters).
 */
#define BOOKD_READER_MAX_STARTS 304
/* Most days of one bookd_reader_slots_month() call, as the engine allows. */
#define BOOKD_READER_MONTH_MAX 366
/* Longest duration or interval, in minutes (31 days), as the engine allows. */
#define BOOKD_READER_MINUTES_MAX (31 * 24 * 60)

typedef struct bookd_reader bookd_reader;

/* Open DATA/pages under datadir read-only and check its format. */
int bookd_reader_open(const char *datadir, bookd_reader **out);
void bookd_reader_close(bookd_reader *r);

struct bookd_reader_info {
	uint64_t generation; /* 1 for the first engine start, then +1 */
	int64_t first_day;   /* the window of days the pages cover */
	int64_t last_day;
	uint64_t durable_lsn; /* LSN of the last published WAL group */
	uint32_t nresources;  /* directory entries in the file */
	uint32_t max_resources;
	uint32_t window_days;
};
int bookd_reader_info(bookd_reader *r, struct bookd_reader_info *out);

/* Resolve a slug to an index for the calls below. */
int bookd_reader_resource(bookd_reader *r, const char *id, uint32_t *idx);

#define BOOKD_READER_ID_MAX 63
struct bookd_reader_resource {
	char id[BOOKD_READER_ID_MAX + 1];
	int active;
	int standalone;
	uint32_t quantity; /* 1 for a single resource */
};
int bookd_reader_resource_info(bookd_reader *r, uint32_t idx,
			       struct bookd_reader_resource *out);

/*
 * Is [start, end) free on resource idx?  *free is 1 or 0 and *reason the
 * first of enum bookd_reason (bookd_errors.h) that applies, or
 * BOOKD_REASON_NONE; bookd_reason_name() names it.  The span may cross
 * midnight and run over many days; all of them come from one consistent
 * cut.  session may be NULL; see Caveats for what a session changes.
 */
int bookd_reader_check(bookd_reader *r, uint32_t idx, int64_t start,
		       int64_t end, const char *session, int *free,
		       enum bookd_reason *reason);

/*
 * One UTC day of a resource, as published.  Slot i is bit i % 64 of word
 * i / 64.  units[] are booked units per slot of a pool, zero for a single
 * resource.
 */
struct bookd_reader_day {
	int64_t day;
	uint64_t slots_version;
	uint64_t holds_version;
	uint64_t open[2];
	uint64_t booked[2];
	uint64_t held[2];
	uint16_t units[BOOKD_READER_SLOTS];
	uint32_t quantity;
	int active;
};
/* One day (BOOKD_E_OUT_OF_RANGE outside the window). */
int bookd_reader_day(bookd_reader *r, uint32_t idx, int64_t day,
		     struct bookd_reader_day *out);
/* ndays consecutive days from first_day, from one consistent cut. */
int bookd_reader_days(bookd_reader *r, uint32_t idx, int64_t first_day,
		      uint32_t ndays, struct bookd_reader_day *out);

/*
 * Units free over the whole of [start, end): the minimum over its slots of
 * quantity - booked units (a single resource: 1 or 0).  Open hours, holds
 * and the active flag are not considered; bookd_reader_check() does that.
 */
int bookd_reader_free_units(bookd_reader *r, uint32_t idx, int64_t start,
			    int64_t end, uint32_t *units);

/* "YYYY-MM-DD" to a day number (BOOKD_E_BAD_REQUEST when not a date). */
int bookd_reader_date(const char *yyyy_mm_dd, int64_t *date);

/*
 * The starts slots.day lists for local date `date` in zone `tz` (an IANA
 * name; NULL: the resource's zone) without an event type: in the local day
 * [midnight, next midnight), for each open window (a maximal run of open
 * quarters of the day; the whole day for a resource open around the clock) the
 * starts window_start + k * interval inside the window whose span [start, start
 * + duration) is open and not booked over its whole length.  A span may run
 * past the window's end and past midnight while it stays open; a span that
 * reaches past the pages' window is not listed.  duration and interval are
 * minutes, positive multiples of 15 up to BOOKD_READER_MINUTES_MAX
 * (interval 0: the duration).  Fills starts[] and *n, chronological.  The
 * day and every later day a span reaches come from one consistent cut.
 *
 * BOOKD_E_OUT_OF_RANGE when the local day lies wholly outside the window
 * (a day partly inside lists the starts inside); BOOKD_E_BAD_REQUEST for
 * bad minutes or an unknown zone.  A deactivated resource has no starts (as
 * the engine answers an admin; a public caller gets NOT_FOUND from the
 * engine).  Time zones are loaded from /usr/share/zoneinfo the first time a
 * process uses them (tz.h; no setenv, no global state), then cached.
 */
int bookd_reader_slots_day_tz(bookd_reader *r, uint32_t idx, int64_t date,
			      const char *tz, uint32_t duration_min,
			      uint32_t interval_min,
			      int64_t starts[BOOKD_READER_MAX_STARTS],
			      size_t *n);
/* The same for UTC day `day`: bookd_reader_slots_day_tz() with zone UTC. */
int bookd_reader_slots_day(bookd_reader *r, uint32_t idx, int64_t day,
			   uint32_t duration_min, uint32_t interval_min,
			   int64_t starts[BOOKD_READER_SLOTS], size_t *n);

/* A start of slots.view: reserved when its span touches a held slot. */
struct bookd_reader_view_slot {
	int64_t start;
	int reserved;
};
/* The same starts as bookd_reader_slots_day_tz(), each marked available or
 * reserved (its span touches a held slot, whoever holds it), chronological,
 * from one cut. */
int bookd_reader_slots_view_tz(
    bookd_reader *r, uint32_t idx, int64_t date, const char *tz,
    uint32_t duration_min, uint32_t interval_min,
    struct bookd_reader_view_slot out[BOOKD_READER_MAX_STARTS], size_t *n);
/* bookd_reader_slots_view_tz() for UTC day `day`. */
int bookd_reader_slots_view(
    bookd_reader *r, uint32_t idx, int64_t day, uint32_t duration_min,
    uint32_t interval_min,
    struct bookd_reader_view_slot out[BOOKD_READER_SLOTS], size_t *n);

/*
 * slots.month: for each local date from .. to (at most
 * BOOKD_READER_MONTH_MAX days, BOOKD_E_BAD_REQUEST otherwise), avail[date -
 * from] = 1 when bookd_reader_slots_day_tz() would list at least one start,
 * else 0.  Days outside the window are 0, as the engine answers.  All days
 * come from one consistent cut.
 */
int bookd_reader_slots_month(bookd_reader *r, uint32_t idx, int64_t from,
			     int64_t to, const char *tz, uint32_t duration_min,
			     uint32_t interval_min, uint8_t *avail);

/* Counters of this handle, for benchmarks and tests. */
struct bookd_reader_stats {
	uint64_t reads;	  /* consistent copies taken */
	uint64_t retries; /* attempts that found the seqlock odd or moved */
	uint64_t stale;	  /* calls that gave up with BOOKD_E_STALE */
	uint64_t reopens; /* re-opens after the engine retired a file */
};
void bookd_reader_stats(const bookd_reader *r, struct bookd_reader_stats *out);

BOOKD_END_DECLS

#endif

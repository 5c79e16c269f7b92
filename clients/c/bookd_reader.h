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
 *     int free, reason;
 *
 *     if (bookd_reader_open("/srv/bookd/var", &r) != 0) ...;
 *     if (bookd_reader_resource(r, "studio-a", &studio) != 0) ...;
 *     rc = bookd_reader_check(r, studio, start, end, NULL, &free, &reason);
 *     if (rc == BOOKD_E_STALE) ... ask the engine with `check` instead;
 *     else if (rc == 0 && !free) ... bookd_reader_reason_name(reason);
 *     bookd_reader_close(r);
 *
 * Resolve each slug once with bookd_reader_resource() and keep the index:
 * it names the resource for the life of the handle, also across engine
 * restarts (the handle maps it to the new file's directory).  Instants are
 * Unix seconds (UTC), multiples of 900; spans are [start, end).  Days are
 * UTC day numbers, days since 1970-01-01 (unix_seconds / 86400).
 *
 * Every function returns 0 or a negative bookd_err code (bookd_errors.h):
 *  - BOOKD_E_STALE: no consistent copy after BOOKD_READER_RETRIES attempts
 *    (the engine kept writing), a day inside the window that the engine has
 *    not published yet, or a question the pages cannot settle (see Caveats);
 *    ask the engine.
 *  - BOOKD_E_NOT_FOUND: no such resource (in the current file).
 *  - BOOKD_E_BAD_REQUEST: misaligned or empty span, bad duration/interval.
 *  - BOOKD_E_OUT_OF_RANGE: a day outside the window, from the day reads,
 *    the unit count and the slot lists (check() reports it as a reason).
 *  - BOOKD_E_PROTO: the file is not a bookd pages file of this layout
 *    version (wrong magic, version or sizes).
 *  - BOOKD_E_IO (errno set): open, fstat or mmap failed, e.g. ENOENT when no
 *    engine ever ran on that directory.  BOOKD_E_NOMEM: out of memory.
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
 *  - Only UTC days: the slot lists step from 00:00 UTC.  Local days (a
 *    resource's time zone, DST days of 92 or 100 slots) and event types
 *    (buffers, notice) need the engine.
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

#ifdef __cplusplus
extern "C" {
#endif

/* Attempts at a consistent copy before BOOKD_E_STALE. */
#define BOOKD_READER_RETRIES 64
#define BOOKD_READER_SLOTS   96 /* slots of a UTC day, and most starts */

typedef struct bookd_reader bookd_reader;

/* Why a span is not free, in this order of precedence. */
enum bookd_reader_reason {
	BOOKD_READER_FREE = 0,
	BOOKD_READER_INACTIVE,	   /* the resource is deactivated */
	BOOKD_READER_OUT_OF_RANGE, /* a day is outside the window */
	BOOKD_READER_CLOSED,	   /* a slot is outside the open hours */
	BOOKD_READER_BOOKED,	   /* booked (a pool: no unit left) */
	BOOKD_READER_HELD,	   /* a session holds a slot */
};

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
 * first of enum bookd_reader_reason that applies.  The span may cross
 * midnight and run over many days; all of them come from one consistent
 * cut.  session may be NULL; see Caveats for what a session changes.
 */
int bookd_reader_check(bookd_reader *r, uint32_t idx, int64_t start,
		       int64_t end, const char *session, int *free,
		       int *reason);

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

/*
 * The starts slots.day lists for UTC day `day`: stepping by interval
 * minutes (0: the duration) from 00:00 UTC, every start of the day whose
 * span [start, start + duration) is open and not booked over its whole
 * length; a span may run past midnight into later days, and one that runs
 * past the window is not listed.  duration and interval are positive
 * multiples of 15 minutes.  Fills starts[] (at most BOOKD_READER_SLOTS) and
 * *n, chronological.  BOOKD_E_OUT_OF_RANGE for a day outside the window;
 * a deactivated resource has no starts (as the engine answers an admin; a
 * public caller gets NOT_FOUND from the engine).
 */
int bookd_reader_slots_day(bookd_reader *r, uint32_t idx, int64_t day,
			   uint32_t duration_min, uint32_t interval_min,
			   int64_t starts[BOOKD_READER_SLOTS], size_t *n);

/* A start of slots.view: reserved when its span touches a held slot. */
struct bookd_reader_view_slot {
	int64_t start;
	int reserved;
};
/* The same starts as bookd_reader_slots_day(), each marked available or
 * reserved, chronological. */
int bookd_reader_slots_view(
    bookd_reader *r, uint32_t idx, int64_t day, uint32_t duration_min,
    uint32_t interval_min,
    struct bookd_reader_view_slot out[BOOKD_READER_SLOTS], size_t *n);

/* "booked", "held", "closed", "inactive", "out_of_range"; "" for FREE. */
const char *bookd_reader_reason_name(int reason);

/* Counters of this handle, for benchmarks and tests. */
struct bookd_reader_stats {
	uint64_t reads;	  /* consistent copies taken */
	uint64_t retries; /* attempts that found the seqlock odd or moved */
	uint64_t stale;	  /* calls that gave up with BOOKD_E_STALE */
	uint64_t reopens; /* re-opens after the engine retired a file */
};
void bookd_reader_stats(const bookd_reader *r, struct bookd_reader_stats *out);

#ifdef __cplusplus
}
#endif

#endif

/*
 * pagesw.h - the engine's writer of the shared availability file DATA/pages
 * (layout: proto/pages.h).
 *
 * What it owns: the file, its mapping and every store into it.  The engine
 * keeps its own state and calls this module to publish committed booking
 * bits, schedule bits and hold bits; nothing here decides availability.
 *
 * Invariants:
 *  - One writer: only the engine thread calls these functions, and only one
 *    engine runs per data directory (the engine's flock).
 *  - Every store into the live file happens inside a commit_seq bracket.
 *    pagesw_commit_begin/end bracket a publication of several pages; a
 *    call made outside such a bracket (a lone page, a directory entry, the
 *    window, the durable LSN) opens and closes its own.  Each page and
 *    directory entry is also written under its own seqlock.
 *  - A resource's row of pages is initialised (every day PAGES_NO_DAY) the
 *    first time pagesw_set_resource or pagesw_write_page touches that row,
 *    and always before nresources covers it, so unused rows stay sparse.
 *  - Versions of a page only grow, also across the ring slot's change of day.
 *
 * How it fails: pagesw_open returns -errno (no log line: the caller logs) and
 * leaves the data directory as it was, except for a stray pages.new (and
 * its directory in the pages directory) that the next open replaces.  The other calls cannot fail; a resource index outside
 * the file, a negative day, a window longer than the ring or nested commit
 * brackets break the caller's contract and abort through assert().  The
 * file is a cache rebuilt at every start, so it is never fsynced.
 */
#ifndef BOOKD_PAGESW_H
#define BOOKD_PAGESW_H

#include <stdint.h>

#include "pages.h"

struct pagesw;

/*
 * Build a fresh DATA/pages.new (sparse, full size), fill its header with
 * generation = old file's generation + 1 (or 1), rename it over DATA/pages,
 * then mark the old file (if any) PAGES_RETIRED so its readers re-open.
 * dirfd is the data directory.  pages_dir (NULL: none) is a directory on a
 * memory file system for the file itself, DATA/pages and DATA/pages.new
 * being links to it (pagesdir.h); when it cannot be used the file is made
 * in the data directory, and pagesw_place says which.  The window
 * [first_day, last_day] must hold at most window_days days, none negative.
 * Returns 0 or -errno (-EINVAL for bad sizes or window).
 */
int pagesw_open(struct pagesw **out, int dirfd, const char *pages_dir,
		uint32_t max_resources, uint32_t window_days, int64_t first_day,
		int64_t last_day);
/*
 * pagesw_open in two steps, so that a restart can fill the new file before
 * readers are sent to it: prepare builds DATA/pages.new (the old file, if
 * any, stays LIVE and keeps serving) and starts a thread that faults in as
 * many rows as the old file had resources; every call below may be made
 * on it at once.  install joins that thread, renames the file into place
 * and retires the old one; it returns 0 or -errno (the rename or the
 * retirement failed).  pagesw_close before install removes pages.new.
 */
int pagesw_prepare(struct pagesw **out, int dirfd, const char *pages_dir,
		   uint32_t max_resources, uint32_t window_days,
		   int64_t first_day, int64_t last_day);
int pagesw_install(struct pagesw *pw);
/* The file's path in the pages directory, or NULL when it is in the data
 * directory. */
const char *pagesw_place(const struct pagesw *pw);
/* Unmap and close.  The file stays LIVE for readers until the next open. */
void pagesw_close(struct pagesw *pw);
uint64_t pagesw_generation(const struct pagesw *pw);

/*
 * Directory entry of resource index idx (0..max_resources-1): id slug (at
 * most PAGES_ID_MAX bytes; it must not change once set), PAGES_DIR_* flags,
 * quantity.  Grows nresources to idx+1 when needed (entries are never
 * removed).
 */
void pagesw_set_resource(struct pagesw *pw, uint32_t idx, const char *id,
			 uint32_t flags, uint32_t quantity);
/* The resource's time zone name (NULL or longer than PAGES_TZ_MAX: none,
 * which readers take as UTC). */
void pagesw_set_resource_zone(struct pagesw *pw, uint32_t idx,
			      const char *zone);

/*
 * Bracket a publication that changes several pages (header commit_seq
 * seqlock), so multi-page readers see all of it or none.  Not nestable.
 */
void pagesw_commit_begin(struct pagesw *pw);
void pagesw_commit_end(struct pagesw *pw);

/*
 * Write the whole state of page (idx, day): open/booked/held bitmaps (2
 * words each, 96 bits), units: NULL for single resources, else 96 counts
 * packed 4 per word; bump slots_version if slots_changed, holds_version if
 * holds_changed.  day must be within the window, or about to enter it by a
 * pagesw_set_window in the same commit bracket (the ring slot is
 * day % window_days, so the day it held leaves; the page records the day).
 */
void pagesw_write_page(struct pagesw *pw, uint32_t idx, int64_t day,
		       const uint64_t open[2], const uint64_t booked[2],
		       const uint64_t held[2], const uint16_t *units,
		       int slots_changed, int holds_changed);

/*
 * Versions of page (idx, day), for push messages; 0 when the page does not
 * hold that day.
 */
uint64_t pagesw_slots_version(const struct pagesw *pw, uint32_t idx,
			      int64_t day);
uint64_t pagesw_holds_version(const struct pagesw *pw, uint32_t idx,
			      int64_t day);

/*
 * Move the window; it must hold at most window_days days, none negative.
 * Pages of days that enter the window are unpublished (readers fall back to
 * the engine) until pagesw_write_page writes them.
 */
void pagesw_set_window(struct pagesw *pw, int64_t first_day, int64_t last_day);
void pagesw_set_durable_lsn(struct pagesw *pw, uint64_t lsn);

#endif

/*
 * pages.h - the layout of the shared availability file `DATA/pages`.
 *
 * Readers open `DATA/pages`.  By default it is a symbolic link to the file
 * on a memory file system (bookd --pages-dir, default /dev/shm; see
 * engine/pagesdir.h), because the file is a cache rebuilt at every start
 * and its write-back would compete with the log's fdatasyncs; with
 * --pages-on-disk it is the file itself.  The layout is the same.
 *
 * Written only by bookd (one writer, engine/pagesw.c); mapped read-only by
 * any number of reader processes (libbookd's reader, clients/c/reader.c).
 * All multi-byte fields are native-endian: the file is a shared-memory
 * segment for processes on one machine, never copied between machines.
 * Every word a reader may see change is an _Atomic uint64_t read and written
 * through seqlock.h; a plain memcpy of those words is a data race.
 *
 * File layout (offsets in bytes):
 *
 *   0                  struct pages_header (PAGES_HEADER_SIZE = 4096)
 *   dir_offset = 4096  struct pages_dirent[max_resources] (128 bytes each)
 *   pages_offset       struct pages_page[max_resources][window_days]
 *                      (PAGES_PAGE_SIZE = 320 bytes each); pages_offset is
 *                      the end of the directory rounded up to 4096
 *   file size          pages_offset + max_resources * window_days * 320
 *
 * pages_layout() below computes these numbers; the writer stores them in the
 * header and a reader refuses a file whose header disagrees with them.
 *
 * Header (struct pages_header, byte offsets):
 *
 *    0 magic          PAGES_MAGIC, "BOOKDPG1" read as a little-endian word
 *    8 version        PAGES_VERSION; a reader refuses any other
 *   12 header_size    4096
 *   16 dirent_size    128
 *   20 page_size      320
 *   24 max_resources  directory entries (and page rows) the file has room for
 *   28 window_days    pages per resource: the ring length
 *   32 dir_offset     byte offset of the directory
 *   40 pages_offset   byte offset of the first page
 *   48 generation     1 for the first file in a directory, previous + 1 after
 *   56 state          seq_word, enum pages_state
 *   64 nresources     seq_word, directory entries published, only grows
 *   72 commit_seq     seq_word, seqlock over every publication
 *   80 first_day      seq_word, oldest day in the window (int64 bits)
 *   88 last_day       seq_word, newest day in the window (int64 bits)
 *   96 durable_lsn    seq_word, LSN of the last published WAL group
 *  104..4095          zero
 *
 * The fields before `state` are plain integers: the writer sets them before
 * the file is renamed into place and never changes them afterwards.
 *
 * Directory entry (struct pages_dirent, 128 bytes): seq (seqlock of this
 * entry), flags (PAGES_DIR_*), quantity (1 for a single resource, the unit
 * count of a pool), id (the resource's slug, at most 63 bytes, NUL-padded,
 * packed byte by byte into id[0..7] in memory order), tz (the resource's
 * time zone for local dates, at most 39 bytes packed the same way into
 * tz[0..4]; empty means UTC; a longer name is not published and reads as
 * empty).  An entry's id never changes once it is set; flags, quantity and
 * tz may.  An entry
 * at an index below nresources with an empty id is unused.
 *
 * Page (struct pages_page, 320 bytes, 64-byte aligned): seq, day, open[2],
 * booked[2], held[2] (together one cache line: what a check reads), then
 * slots_version, holds_version, units[24], reserved[6].
 * Page (r, d) for absolute day d (days since 1970-01-01, UTC) lives at
 * pages_offset + (r * window_days + d % window_days) * PAGES_PAGE_SIZE
 * (pages_page_index()).  The page stores its day number: a reader must
 * compare it, since the ring slot may still hold a day that left the window
 * or no day at all (PAGES_NO_DAY).  A day inside the window whose page holds
 * another day has not been published yet: a reader must not guess its bits
 * and asks the engine instead.  Days in a window are never negative, so
 * PAGES_NO_DAY (all ones) is never a real day.
 *
 * Bits: slot i (0..95) of a day is bit (i % 64) of word (i / 64) of open[],
 * booked[] and held[]; bits 32..63 of word 1 are zero.  open = the schedule
 * allows booking; booked = an active booking (or its buffer) covers the slot;
 * for a pool (quantity > 1) booked means "no unit left" and units[] counts
 * booked units, four 16-bit counts per word, slot i in bits 16*(i%4) of
 * units[i/4]; a single resource's units[] are zero.  held = some session's
 * hold covers the slot (holds are best-effort hints for readers; the engine
 * decides).  slots_version grows whenever open, booked or units change and
 * holds_version whenever held changes; both also grow when a ring slot starts
 * holding a new day, so a (resource, day) never sees its versions go back.
 *
 * Consistency:
 *  - Each page and each directory entry has its own seqlock (`seq`); a
 *    reader of one page or one entry needs only that one.
 *  - header.commit_seq is a seqlock around every publication: the writer
 *    changes no shared word after the file goes live except between a
 *    seq_write_begin and seq_write_end of commit_seq (several pages of one
 *    commit share one bracket).  A reader that needs several pages, or a
 *    page together with the directory or the window, reads commit_seq before
 *    and after copying them and retries if it moved, so a multi-day answer
 *    comes from one cut.
 *  - Booked bits and counts are published only after the WAL group that made
 *    them is durable; readers never see a booking a crash could undo.
 *  - Every page of directory entry r holds PAGES_NO_DAY (or a published day)
 *    before nresources grows past r: the writer initialises a row of pages,
 *    issues a release fence and only then stores the larger nresources, and a
 *    reader loads nresources and issues an acquire fence before it touches
 *    the row.  Rows at or above nresources may be untouched zeros (the file
 *    is sparse and only the rows in use cost memory).
 *
 * Lifetime: bookd builds a fresh file at every start (pages.new, put in
 * place of pages once its first publication is complete, so readers keep
 * the previous file while bookd recovers) with generation = previous + 1,
 * and then marks the previous file's header state PAGES_RETIRED.  A reader checks `state` (one relaxed
 * load) and re-opens the path when it sees RETIRED; directory indices of the
 * new file may differ from the old one's.  The file is sized once and never
 * shrunk while mapped.  When bookd stops, its file stays LIVE with the last
 * published state until the next start retires it.
 */
#ifndef BOOKD_PAGES_H
#define BOOKD_PAGES_H

#include <stddef.h>
#include <stdint.h>

#include "seqlock.h"

#define PAGES_MAGIC	  0x314750444b4f4f42ull /* "BOOKDPG1" little-endian */
#define PAGES_VERSION	  1u
#define PAGES_HEADER_SIZE 4096u
#define PAGES_DIRENT_SIZE 128u
#define PAGES_PAGE_SIZE	  320u
#define PAGES_ALIGN	  4096u
#define PAGES_SLOTS	  96
#define PAGES_QUANTUM	  900
#define PAGES_NO_DAY	  UINT64_MAX
#define PAGES_ID_MAX	  63 /* bytes of a slug, without the NUL */

enum pages_state { PAGES_LIVE = 1, PAGES_RETIRED = 2 };

struct pages_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;
	uint32_t dirent_size;
	uint32_t page_size;
	uint32_t max_resources;
	uint32_t window_days;
	uint64_t dir_offset;
	uint64_t pages_offset;
	uint64_t generation;  /* set before the file is renamed into place */
	seq_word state;	      /* enum pages_state */
	seq_word nresources;  /* directory entries in use, only grows */
	seq_word commit_seq;  /* seqlock over every publication */
	seq_word first_day;   /* oldest day in the window */
	seq_word last_day;    /* newest day in the window */
	seq_word durable_lsn; /* LSN of the last published WAL group */
};

#define PAGES_DIR_ACTIVE     1u
#define PAGES_DIR_STANDALONE 2u

struct pages_dirent {
	seq_word seq;
	seq_word flags;	   /* PAGES_DIR_* */
	seq_word quantity; /* 1 for a single resource */
	seq_word id[8];	   /* slug, NUL-padded, at most 63 bytes */
	seq_word tz[5];	   /* IANA zone of its local dates, NUL-padded,
			      at most 39 bytes; empty: UTC */
};

#define PAGES_TZ_MAX 39

/* The first 64 bytes hold everything a check reads: one cache line. */
struct pages_page {
	seq_word seq;
	seq_word day; /* absolute day, or PAGES_NO_DAY */
	seq_word open[2];
	seq_word booked[2];
	seq_word held[2];
	seq_word slots_version; /* bumped when open/booked/units change */
	seq_word holds_version; /* bumped when held changes */
	seq_word units[24];
	seq_word reserved[6];
};

_Static_assert(sizeof(struct pages_header) <= PAGES_HEADER_SIZE, "header");
_Static_assert(sizeof(struct pages_dirent) == PAGES_DIRENT_SIZE, "dirent");
_Static_assert(sizeof(struct pages_page) == PAGES_PAGE_SIZE, "page");
_Static_assert(sizeof(seq_word) == 8, "seq_word is one 64-bit word");
_Static_assert(offsetof(struct pages_header, generation) == 48, "header");
_Static_assert(offsetof(struct pages_header, state) == 56, "header");
_Static_assert(offsetof(struct pages_header, durable_lsn) == 96, "header");
_Static_assert(offsetof(struct pages_dirent, id) == 24, "dirent");
_Static_assert(offsetof(struct pages_page, open) == 16, "page");
_Static_assert(offsetof(struct pages_page, slots_version) == 64, "page");
_Static_assert(offsetof(struct pages_page, units) == 80, "page");

/*
 * The offsets and size of a file for max_resources entries and a ring of
 * window_days pages.  Returns 0, or -1 when either count is zero or the file
 * would not fit in 63 bits.
 */
static inline int pages_layout(uint32_t max_resources, uint32_t window_days,
			       uint64_t *dir_offset, uint64_t *pages_offset,
			       uint64_t *file_size)
{
	uint64_t dir_end, npages, bytes;

	if (max_resources == 0 || window_days == 0)
		return -1;
	dir_end =
	    PAGES_HEADER_SIZE + (uint64_t)max_resources * PAGES_DIRENT_SIZE;
	dir_end = (dir_end + PAGES_ALIGN - 1) / PAGES_ALIGN * PAGES_ALIGN;
	npages = (uint64_t)max_resources * window_days;
	if (__builtin_mul_overflow(npages, (uint64_t)PAGES_PAGE_SIZE, &bytes) ||
	    __builtin_add_overflow(bytes, dir_end, &bytes) ||
	    bytes > (uint64_t)INT64_MAX)
		return -1;
	*dir_offset = PAGES_HEADER_SIZE;
	*pages_offset = dir_end;
	*file_size = bytes;
	return 0;
}

/* Index of page (resource, day) in the page array; day must be >= 0. */
static inline uint64_t pages_page_index(uint32_t resource, int64_t day,
					uint32_t window_days)
{
	return (uint64_t)resource * window_days + (uint64_t)day % window_days;
}

#endif

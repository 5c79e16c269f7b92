/*
 * pages.h - the layout of the shared availability file `DATA/pages`.
 *
 * Written only by bookd (one writer); mapped read-only by any number of
 * reader processes (libbookd's reader).  All multi-byte fields are
 * native-endian: the file is a shared-memory segment for processes on one
 * machine, never copied between machines.  Every word a reader may see
 * change is an _Atomic uint64_t read and written through seqlock.h.
 *
 * File layout (offsets in bytes):
 *
 *   0                  struct pages_header (PAGES_HEADER_SIZE = 4096)
 *   dir_offset         struct pages_dirent[max_resources] (128 bytes each)
 *   pages_offset       struct pages_page[max_resources][window_days]
 *                      (PAGES_PAGE_SIZE = 320 bytes each)
 *
 * Page (r, d) for absolute day d (days since 1970-01-01, UTC) lives at
 * pages_offset + (r * window_days + d % window_days) * PAGES_PAGE_SIZE.  The
 * page stores its day number: a reader must compare it, since the ring slot
 * may still hold a day that left the window (or no day: PAGES_NO_DAY).
 *
 * Bits: slot i (0..95) of a day is bit (i % 64) of word (i / 64) of open[],
 * booked[] and held[].  open = the schedule allows booking; booked = an
 * active booking (or its buffer) covers the slot; for a pool (quantity > 1)
 * booked means "no unit left" and units[i] counts booked units, four 16-bit
 * counts per word, slot i in bits 16*(i%4) of units[i/4].  held = some
 * session's hold covers the slot (holds are best-effort hints for readers;
 * the engine decides).
 *
 * Consistency:
 *  - Each page and each directory entry has its own seqlock (`seq`).
 *  - header.commit_seq is a seqlock around every publication that changes
 *    more than one page: a reader that needs several pages reads commit_seq
 *    before and after copying them and retries if it moved, so a multi-day
 *    answer comes from one cut.
 *  - Booked bits and counts are published only after the WAL group that made
 *    them is durable; readers never see a booking a crash could undo.
 *
 * Lifetime: bookd builds a fresh file at every start (pages.new, renamed
 * over pages) with generation = previous + 1, and then marks the previous
 * file's header state PAGES_RETIRED.  A reader checks `state` (one relaxed
 * load) and re-opens the path when it sees RETIRED.  The file is sized once
 * and never shrunk while mapped.
 */
#ifndef BOOKD_PAGES_H
#define BOOKD_PAGES_H

#include <stdint.h>

#include "seqlock.h"

#define PAGES_MAGIC 0x314750444b4f4f42ull /* "BOOKDPG1" little-endian */
#define PAGES_VERSION 1u
#define PAGES_HEADER_SIZE 4096u
#define PAGES_DIRENT_SIZE 128u
#define PAGES_PAGE_SIZE 320u
#define PAGES_SLOTS 96
#define PAGES_QUANTUM 900
#define PAGES_NO_DAY UINT64_MAX

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
	seq_word state;       /* enum pages_state */
	seq_word nresources;  /* directory entries in use, only grows */
	seq_word commit_seq;  /* seqlock over multi-page publications */
	seq_word first_day;   /* oldest day in the window */
	seq_word last_day;    /* newest day in the window */
	seq_word durable_lsn; /* LSN of the last published WAL group */
};

#define PAGES_DIR_ACTIVE 1u
#define PAGES_DIR_STANDALONE 2u

struct pages_dirent {
	seq_word seq;
	seq_word flags;    /* PAGES_DIR_* */
	seq_word quantity; /* 1 for a single resource */
	seq_word id[8];    /* slug, NUL-padded, at most 63 bytes */
	seq_word reserved[5];
};

struct pages_page {
	seq_word seq;
	seq_word day;           /* absolute day, or PAGES_NO_DAY */
	seq_word slots_version; /* bumped when open/booked/units change */
	seq_word holds_version; /* bumped when held changes */
	seq_word open[2];
	seq_word booked[2];
	seq_word held[2];
	seq_word units[24];
	seq_word reserved[6];
};

_Static_assert(sizeof(struct pages_header) <= PAGES_HEADER_SIZE, "header");
_Static_assert(sizeof(struct pages_dirent) == PAGES_DIRENT_SIZE, "dirent");
_Static_assert(sizeof(struct pages_page) == PAGES_PAGE_SIZE, "page");

#endif

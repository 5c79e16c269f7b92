/*
 * reader.c - libbookd's reader of the shared pages; see bookd_reader.h for
 * the API and proto/pages.h for the layout and its consistency rules.
 *
 * Reads of one page use that page's seqlock; reads that need several pages,
 * or a page together with the directory and the window, use the header's
 * commit_seq.  The writer stores nothing visible outside a commit_seq
 * bracket (pages.h), so a cut validated by commit_seq needs no page seqlock.
 * Every retry loop is bounded by BOOKD_READER_RETRIES and ends in
 * BOOKD_E_STALE.
 *
 * The slot lists copy the UTC days a question needs into flat bitmaps of
 * quarters (struct cut, kept in the handle so a month of days costs no
 * allocation and little stack) and walk the local days over them as the
 * engine's grid_walk() walks its own bitmaps: runs of open quarters from
 * the local day's first quarter, starts stepping from each run's start,
 * a start kept when no unusable quarter (closed, booked, outside the window)
 * lies in its span.  Later days that spans run into are scanned only up to
 * their first unusable quarter, which ends every longer span.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bookd_reader.h"
#include "pages.h"
#include "quanta.h"
#include "tz.h"

_Static_assert(BOOKD_READER_MAX_STARTS == Q_MAX_LOCAL_DAY_STARTS,
	       "the reader's slot lists and the engine's grid share a bound");

#define NO_PAGE UINT32_MAX
/*
 * UTC days one cut may copy: a month view's local days, plus the few days
 * at either end that its first and last local day reach into (UTC offsets
 * stay within 26 hours, so two at most; six leaves room).
 */
#define CUT_DAYS  (BOOKD_READER_MONTH_MAX + 6)
#define CUT_WORDS ((CUT_DAYS * PAGES_SLOTS + 63) / 64 + 1)
/* Re-open attempts when the path keeps yielding a retired file (the engine
 * restarting repeatedly). */
#define REOPEN_TRIES 8

/* A resource as the caller knows it: the index handed out is stable for the
 * handle's life; `page` is its directory index in the current file. */
struct rent {
	char id[PAGES_ID_MAX + 1];
	uint32_t page;
};

struct mapping {
	void *map;
	size_t size;
	const struct pages_header *hdr;
	const struct pages_dirent *dir;
	const struct pages_page *pages;
	uint32_t max_resources;
	uint32_t window_days;
	uint64_t generation;
};

/*
 * One resource's pages over consecutive UTC days from one cut, as flat
 * bitmaps of quarters: bit k stands for absolute quarter q0 + k (the
 * quarter starting at (q0 + k) * 900).  open: the schedule allows it and
 * the day is in the window; bad: not open or booked (a pool: no unit left);
 * held: some session holds it.  Bits past nq are zero.  tail_bad and
 * tail_held are the first bad and held absolute quarters at or after q0 +
 * nq that a span can reach (INT64_MAX: none); held quarters past tail_bad
 * are not looked for, since every span reaching them is bad anyway.
 */
struct cut {
	int64_t q0, nq;
	int64_t tail_bad, tail_held;
	int64_t first, last; /* the window */
	bool active;
	bool unpublished;
	uint64_t *open, *bad, *held; /* CUT_WORDS each */
};

struct bookd_reader {
	struct mapping m;
	char *path;
	uint32_t synced; /* entries 0..synced-1 of the directory are in ents */
	struct rent *ents;
	uint32_t nents, capents;
	uint32_t *hash; /* open addressing, ents index + 1, 0 = empty */
	uint32_t hcap;	/* a power of two, more than twice nents */
	struct cut cut;
	uint64_t *cut_words; /* the storage behind cut's bitmaps */
	/* The zone the last slot list named: tz_get() takes a mutex, a
	 * repeated name costs one strcmp. */
	char zone_name[TZ_NAME_MAX + 1];
	const struct tz *zone;
	struct bookd_reader_stats st;
};

/* What one read of a span found, accumulated over its days. */
struct span_acc {
	uint64_t flags;
	uint64_t quantity;
	bool out_of_range;
	bool unpublished;
	bool closed;
	bool booked;
	bool held;
	bool held_last; /* a held slot has at most one unit left */
	uint32_t max_units;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* Give the writer a moment to finish its bracket: a short, growing spin.
 * A writer descheduled mid-bracket outlasts the bound and the caller falls
 * back to the socket. */
static void backoff(bookd_reader *r, unsigned attempt)
{
	unsigned n = attempt < 8 ? 1u << attempt : 256u;

	r->st.retries++;
	while (n-- > 0)
		cpu_relax();
}

static int give_up(bookd_reader *r)
{
	r->st.stale++;
	return BOOKD_E_STALE;
}

static void unmap(struct mapping *m)
{
	if (m->map != NULL)
		munmap(m->map, m->size);
	m->map = NULL;
}

/* Map `path` read-only and check that it is a pages file of this layout. */
static int map_file(const char *path, struct mapping *m)
{
	uint64_t dir_off, pages_off, size;
	const struct pages_header *h;
	struct stat st;
	uint64_t state;
	int fd, rc, saved;

	memset(m, 0, sizeof(*m));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return BOOKD_E_IO;
	if (fstat(fd, &st) < 0) {
		rc = BOOKD_E_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)PAGES_HEADER_SIZE) {
		rc = BOOKD_E_PROTO;
		goto out;
	}
	m->map = mmap(NULL, PAGES_HEADER_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (m->map == MAP_FAILED) {
		m->map = NULL;
		rc = BOOKD_E_IO;
		goto out;
	}
	m->size = PAGES_HEADER_SIZE;
	/* The fields before `state` never change once the file is in place,
	 * so plain reads are fine. */
	h = m->map;
	if (h->magic != PAGES_MAGIC || h->version != PAGES_VERSION ||
	    h->header_size != PAGES_HEADER_SIZE ||
	    h->dirent_size != PAGES_DIRENT_SIZE ||
	    h->page_size != PAGES_PAGE_SIZE ||
	    pages_layout(h->max_resources, h->window_days, &dir_off, &pages_off,
			 &size) < 0 ||
	    h->dir_offset != dir_off || h->pages_offset != pages_off ||
	    (uint64_t)st.st_size < size || size > SIZE_MAX) {
		rc = BOOKD_E_PROTO;
		goto out;
	}
	state = seq_load(&h->state);
	if (state != PAGES_LIVE && state != PAGES_RETIRED) {
		rc = BOOKD_E_PROTO;
		goto out;
	}
	m->max_resources = h->max_resources;
	m->window_days = h->window_days;
	m->generation = h->generation;
	munmap(m->map, m->size);
	m->map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (m->map == MAP_FAILED) {
		m->map = NULL;
		rc = BOOKD_E_IO;
		goto out;
	}
	m->size = (size_t)size;
	m->hdr = m->map;
	m->dir = (const struct pages_dirent *)((const char *)m->map + dir_off);
	m->pages =
	    (const struct pages_page *)((const char *)m->map + pages_off);
	rc = 0;
out:
	saved = errno;
	if (rc != 0)
		unmap(m);
	close(fd);
	errno = saved;
	return rc;
}

static uint32_t hash_id(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h;
}

static int64_t lookup(const bookd_reader *r, const char *id)
{
	uint32_t i;

	if (r->hcap == 0)
		return -1;
	for (i = hash_id(id) & (r->hcap - 1); r->hash[i] != 0;
	     i = (i + 1) & (r->hcap - 1))
		if (strcmp(r->ents[r->hash[i] - 1].id, id) == 0)
			return r->hash[i] - 1;
	return -1;
}

static int hash_grow(bookd_reader *r)
{
	uint32_t ncap = r->hcap ? r->hcap * 2 : 64;
	uint32_t *nh;

	nh = calloc(ncap, sizeof(*nh));
	if (nh == NULL)
		return BOOKD_E_NOMEM;
	for (uint32_t k = 0; k < r->nents; k++) {
		uint32_t i = hash_id(r->ents[k].id) & (ncap - 1);
		while (nh[i] != 0)
			i = (i + 1) & (ncap - 1);
		nh[i] = k + 1;
	}
	free(r->hash);
	r->hash = nh;
	r->hcap = ncap;
	return 0;
}

static int ent_add(bookd_reader *r, const char *id, uint32_t page)
{
	struct rent *e;
	uint32_t i;
	int rc;

	if (r->nents == r->capents) {
		uint32_t ncap = r->capents ? r->capents * 2 : 16;
		e = reallocarray(r->ents, ncap, sizeof(*e));
		if (e == NULL)
			return BOOKD_E_NOMEM;
		r->ents = e;
		r->capents = ncap;
	}
	if (2 * (r->nents + 1) >= r->hcap) {
		rc = hash_grow(r);
		if (rc != 0)
			return rc;
	}
	e = &r->ents[r->nents];
	memcpy(e->id, id, sizeof(e->id));
	e->page = page;
	for (i = hash_id(id) & (r->hcap - 1); r->hash[i] != 0;
	     i = (i + 1) & (r->hcap - 1))
		;
	r->hash[i] = ++r->nents;
	return 0;
}

/* Copy directory entry i under its seqlock. */
static int dirent_read(bookd_reader *r, uint32_t i, char id[PAGES_ID_MAX + 1],
		       uint64_t *flags, uint64_t *quantity)
{
	const struct pages_dirent *e = &r->m.dir[i];
	uint64_t w[8], s;

	for (unsigned a = 0; a < BOOKD_READER_RETRIES; a++) {
		s = seq_read_begin(&e->seq);
		if (s & 1) {
			backoff(r, a);
			continue;
		}
		*flags = seq_load(&e->flags);
		*quantity = seq_load(&e->quantity);
		for (int k = 0; k < 8; k++)
			w[k] = seq_load(&e->id[k]);
		if (!seq_read_ok(&e->seq, s)) {
			backoff(r, a);
			continue;
		}
		memcpy(id, w, PAGES_ID_MAX);
		id[PAGES_ID_MAX] = '\0';
		return 0;
	}
	return give_up(r);
}

/*
 * Bring ents up to date with the directory.  Entries are set once and only
 * added, so a scan resumes where it stopped; it stops before an empty entry,
 * which the writer may still fill in.
 */
static int dir_sync(bookd_reader *r)
{
	char id[PAGES_ID_MAX + 1];
	uint64_t n, flags, quantity;
	int64_t k;
	int rc;

	n = seq_load(&r->m.hdr->nresources);
	/* Pairs with the writer's release fence before nresources grows. */
	atomic_thread_fence(memory_order_acquire);
	if (n > r->m.max_resources)
		n = r->m.max_resources;
	for (uint32_t i = r->synced; i < n; i++) {
		rc = dirent_read(r, i, id, &flags, &quantity);
		if (rc != 0)
			return rc;
		if (id[0] == '\0')
			continue;
		k = lookup(r, id);
		if (k >= 0) {
			r->ents[k].page = i;
		} else {
			rc = ent_add(r, id, i);
			if (rc != 0)
				return rc;
		}
		if (r->synced == i)
			r->synced = i + 1;
	}
	return 0;
}

/* The engine restarted: move to the file now at the path.  Indices handed
 * out stay valid; their directory positions are looked up again. */
static int reopen(bookd_reader *r)
{
	struct mapping m;
	int rc;

	for (unsigned a = 0; a < REOPEN_TRIES; a++) {
		rc = map_file(r->path, &m);
		if (rc != 0)
			return rc;
		if (m.generation != r->m.generation &&
		    seq_load(&m.hdr->state) == PAGES_LIVE) {
			unmap(&r->m);
			r->m = m;
			r->synced = 0;
			for (uint32_t k = 0; k < r->nents; k++)
				r->ents[k].page = NO_PAGE;
			r->st.reopens++;
			return dir_sync(r);
		}
		unmap(&m);
	}
	return give_up(r);
}

static inline int ensure_live(bookd_reader *r)
{
	if (__builtin_expect(seq_load(&r->m.hdr->state) == PAGES_LIVE, 1))
		return 0;
	return reopen(r);
}

static int resolve_slow(bookd_reader *r, uint32_t idx, uint32_t *page)
{
	int rc;

	if (idx >= r->nents)
		return BOOKD_E_NOT_FOUND;
	rc = dir_sync(r);
	if (rc != 0)
		return rc;
	if (r->ents[idx].page == NO_PAGE)
		return BOOKD_E_NOT_FOUND;
	*page = r->ents[idx].page;
	return 0;
}

/* The current directory index of caller's index idx, re-opening first if
 * the engine retired the file. */
static inline int resolve(bookd_reader *r, uint32_t idx, uint32_t *page)
{
	int rc = ensure_live(r);

	if (rc != 0)
		return rc;
	if (__builtin_expect(idx < r->nents && r->ents[idx].page != NO_PAGE,
			     1)) {
		*page = r->ents[idx].page;
		return 0;
	}
	return resolve_slow(r, idx, page);
}

int bookd_reader_open(const char *datadir, bookd_reader **out)
{
	bookd_reader *r;
	size_t len;
	int rc;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return BOOKD_E_NOMEM;
	len = strlen(datadir) + sizeof("/pages");
	r->path = malloc(len);
	if (r->path == NULL) {
		rc = BOOKD_E_NOMEM;
		goto fail;
	}
	snprintf(r->path, len, "%s/pages", datadir);
	r->cut_words = calloc(3 * CUT_WORDS, sizeof(*r->cut_words));
	if (r->cut_words == NULL) {
		rc = BOOKD_E_NOMEM;
		goto fail;
	}
	r->cut.open = r->cut_words;
	r->cut.bad = r->cut_words + CUT_WORDS;
	r->cut.held = r->cut_words + 2 * CUT_WORDS;
	rc = map_file(r->path, &r->m);
	if (rc != 0)
		goto fail;
	rc = dir_sync(r);
	if (rc != 0)
		goto fail;
	*out = r;
	return 0;
fail:
	bookd_reader_close(r);
	return rc;
}

void bookd_reader_close(bookd_reader *r)
{
	int saved = errno;

	if (r == NULL)
		return;
	unmap(&r->m);
	free(r->ents);
	free(r->hash);
	free(r->cut_words);
	free(r->path);
	free(r);
	errno = saved;
}

int bookd_reader_info(bookd_reader *r, struct bookd_reader_info *out)
{
	const struct pages_header *h;
	uint64_t c;
	int rc = ensure_live(r);

	if (rc != 0)
		return rc;
	h = r->m.hdr;
	for (unsigned a = 0; a < BOOKD_READER_RETRIES; a++) {
		c = seq_read_begin(&h->commit_seq);
		if (c & 1) {
			backoff(r, a);
			continue;
		}
		out->first_day = (int64_t)seq_load(&h->first_day);
		out->last_day = (int64_t)seq_load(&h->last_day);
		out->durable_lsn = seq_load(&h->durable_lsn);
		out->nresources = (uint32_t)seq_load(&h->nresources);
		if (!seq_read_ok(&h->commit_seq, c)) {
			backoff(r, a);
			continue;
		}
		out->generation = r->m.generation;
		out->max_resources = r->m.max_resources;
		out->window_days = r->m.window_days;
		r->st.reads++;
		return 0;
	}
	return give_up(r);
}

int bookd_reader_resource(bookd_reader *r, const char *id, uint32_t *idx)
{
	int64_t k;
	int rc = ensure_live(r);

	if (rc != 0)
		return rc;
	if (strnlen(id, PAGES_ID_MAX + 1) > PAGES_ID_MAX)
		return BOOKD_E_NOT_FOUND;
	k = lookup(r, id);
	if (k < 0 || r->ents[k].page == NO_PAGE) {
		rc = dir_sync(r);
		if (rc != 0)
			return rc;
		k = lookup(r, id);
		if (k < 0 || r->ents[k].page == NO_PAGE)
			return BOOKD_E_NOT_FOUND;
	}
	*idx = (uint32_t)k;
	return 0;
}

int bookd_reader_resource_info(bookd_reader *r, uint32_t idx,
			       struct bookd_reader_resource *out)
{
	uint64_t flags, quantity;
	uint32_t page;
	int rc = resolve(r, idx, &page);

	if (rc != 0)
		return rc;
	rc = dirent_read(r, page, out->id, &flags, &quantity);
	if (rc != 0)
		return rc;
	out->active = (flags & PAGES_DIR_ACTIVE) != 0;
	out->standalone = (flags & PAGES_DIR_STANDALONE) != 0;
	out->quantity = (uint32_t)quantity;
	r->st.reads++;
	return 0;
}

static inline const struct pages_page *page_of(const bookd_reader *r,
					       uint32_t page, int64_t day)
{
	return &r->m.pages[pages_page_index(page, day, r->m.window_days)];
}

/*
 * Fold slots [from, to) of page p into a: relaxed loads only, to be
 * validated by the caller's seqlock.  Returns false when the page does not
 * hold `day` (not published yet).
 */
static inline bool page_fold(const struct pages_page *p, int64_t day, int from,
			     int to, bool want_units, struct span_acc *a)
{
	uint64_t m[2];

	if (seq_load(&p->day) != (uint64_t)day)
		return false;
	q_mask(m, from, to);
	for (int w = 0; w < 2; w++) {
		uint64_t held;
		if (m[w] == 0)
			continue;
		a->closed |= (~seq_load(&p->open[w]) & m[w]) != 0;
		a->booked |= (seq_load(&p->booked[w]) & m[w]) != 0;
		held = seq_load(&p->held[w]) & m[w];
		if (held == 0)
			continue;
		a->held = true;
		/* Each hold takes one unit: a held slot with one unit left
		 * (always, for a single resource) is surely taken. */
		for (; held != 0 && !a->held_last; held &= held - 1) {
			int i = 64 * w + __builtin_ctzll(held);
			uint64_t u =
			    (seq_load(&p->units[i / 4]) >> (16 * (i % 4))) &
			    0xffff;
			a->held_last = u + 2 > a->quantity;
		}
	}
	if (want_units) {
		for (int i = from; i < to; i++) {
			uint32_t u = (uint32_t)(seq_load(&p->units[i / 4]) >>
						(16 * (i % 4))) &
				     0xffff;
			if (u > a->max_units)
				a->max_units = u;
		}
	}
	return true;
}

/*
 * Read span [d0 slot s0, d1 slot s1) of directory entry `page` into a.  One
 * day: the page's own seqlock (the common, cheapest case; the flags and
 * window are single words).  Several days: one cut under commit_seq.
 */
static inline int span_read(bookd_reader *r, uint32_t page, int64_t d0, int s0,
			    int64_t d1, int s1, bool want_units,
			    struct span_acc *a)
{
	const struct pages_header *h = r->m.hdr;
	const struct pages_dirent *e = &r->m.dir[page];
	const seq_word *seq;
	int64_t first, last;
	uint64_t s;

	for (unsigned att = 0; att < BOOKD_READER_RETRIES; att++) {
		/* A negative day is before any window: the cut path below
		 * reports it without touching a page. */
		seq = d0 == d1 && d0 >= 0 ? &page_of(r, page, d0)->seq
					  : &h->commit_seq;
		memset(a, 0, sizeof(*a));
		s = seq_read_begin(seq);
		if (s & 1) {
			backoff(r, att);
			continue;
		}
		a->flags = seq_load(&e->flags);
		a->quantity = seq_load(&e->quantity);
		first = (int64_t)seq_load(&h->first_day);
		last = (int64_t)seq_load(&h->last_day);
		if (d0 < first || d1 > last) {
			a->out_of_range = true;
		} else {
			for (int64_t d = d0; d <= d1; d++) {
				if (!page_fold(page_of(r, page, d), d,
					       d == d0 ? s0 : 0,
					       d == d1 ? s1 : PAGES_SLOTS,
					       want_units, a)) {
					a->unpublished = true;
					break;
				}
			}
		}
		if (!seq_read_ok(seq, s)) {
			backoff(r, att);
			continue;
		}
		r->st.reads++;
		return 0;
	}
	return give_up(r);
}

/* Checks a span's arguments and splits it into days and slots. */
static inline int span_split(int64_t start, int64_t end, int64_t *d0, int *s0,
			     int64_t *d1, int *s1)
{
	if (start >= end || !q_aligned(start) || !q_aligned(end))
		return BOOKD_E_BAD_REQUEST;
	*d0 = q_day_of(start);
	*s0 = q_slot_of(start);
	*d1 = q_day_of(end - Q_SECONDS);
	*s1 = q_slot_of(end - Q_SECONDS) + 1;
	return 0;
}

int bookd_reader_check(bookd_reader *r, uint32_t idx, int64_t start,
		       int64_t end, const char *session, int *free,
		       enum bookd_reason *reason)
{
	enum bookd_reason why;
	struct span_acc a;
	int64_t d0, d1;
	int s0, s1, rc;
	uint32_t page;

	rc = resolve(r, idx, &page);
	if (rc != 0)
		return rc;
	rc = span_split(start, end, &d0, &s0, &d1, &s1);
	if (rc != 0)
		return rc;
	rc = span_read(r, page, d0, s0, d1, s1, false, &a);
	if (rc != 0)
		return rc;
	if (!(a.flags & PAGES_DIR_ACTIVE))
		why = BOOKD_REASON_INACTIVE;
	else if (a.out_of_range)
		why = BOOKD_REASON_OUT_OF_RANGE;
	else if (a.unpublished)
		return give_up(r);
	else if (a.closed)
		why = BOOKD_REASON_CLOSED;
	else if (a.booked)
		why = BOOKD_REASON_BOOKED;
	else if (a.held && session != NULL)
		return give_up(r); /* maybe the caller's own hold */
	else if (a.held && !a.held_last)
		return give_up(r); /* a pool: how many holds is unknown */
	else if (a.held)
		why = BOOKD_REASON_HELD;
	else
		why = BOOKD_REASON_NONE;
	*free = why == BOOKD_REASON_NONE;
	*reason = why;
	return 0;
}

int bookd_reader_free_units(bookd_reader *r, uint32_t idx, int64_t start,
			    int64_t end, uint32_t *units)
{
	struct span_acc a;
	int64_t d0, d1;
	int s0, s1, rc;
	uint32_t page;

	rc = resolve(r, idx, &page);
	if (rc != 0)
		return rc;
	rc = span_split(start, end, &d0, &s0, &d1, &s1);
	if (rc != 0)
		return rc;
	rc = span_read(r, page, d0, s0, d1, s1, true, &a);
	if (rc != 0)
		return rc;
	if (a.out_of_range)
		return BOOKD_E_OUT_OF_RANGE;
	if (a.unpublished)
		return give_up(r);
	if (a.quantity <= 1)
		*units = a.booked ? 0 : 1;
	else
		*units = a.max_units >= a.quantity
			     ? 0
			     : (uint32_t)(a.quantity - a.max_units);
	return 0;
}

/* Copy page p into out; relaxed loads, validated by the caller. */
static bool page_copy(const struct pages_page *p, int64_t day,
		      struct bookd_reader_day *out)
{
	if (seq_load(&p->day) != (uint64_t)day)
		return false;
	out->day = day;
	out->slots_version = seq_load(&p->slots_version);
	out->holds_version = seq_load(&p->holds_version);
	for (int w = 0; w < 2; w++) {
		out->open[w] = seq_load(&p->open[w]);
		out->booked[w] = seq_load(&p->booked[w]);
		out->held[w] = seq_load(&p->held[w]);
	}
	for (int w = 0; w < PAGES_SLOTS / 4; w++) {
		uint64_t v = seq_load(&p->units[w]);
		for (int k = 0; k < 4; k++)
			out->units[4 * w + k] = (uint16_t)(v >> (16 * k));
	}
	return true;
}

/* Days [first, first + n) under one seqlock: the page's for one day,
 * commit_seq for several. */
static int days_read(bookd_reader *r, uint32_t page, int64_t first, uint32_t n,
		     struct bookd_reader_day *out)
{
	const struct pages_header *h = r->m.hdr;
	const struct pages_dirent *e = &r->m.dir[page];
	int64_t wfirst, wlast, last = first + (int64_t)n - 1;
	uint64_t flags, quantity, s;
	const seq_word *seq;
	bool unpublished, oor;

	for (unsigned att = 0; att < BOOKD_READER_RETRIES; att++) {
		seq = n == 1 ? &page_of(r, page, first)->seq : &h->commit_seq;
		unpublished = false;
		s = seq_read_begin(seq);
		if (s & 1) {
			backoff(r, att);
			continue;
		}
		flags = seq_load(&e->flags);
		quantity = seq_load(&e->quantity);
		wfirst = (int64_t)seq_load(&h->first_day);
		wlast = (int64_t)seq_load(&h->last_day);
		oor = first < wfirst || last > wlast;
		for (uint32_t i = 0; !oor && !unpublished && i < n; i++)
			unpublished = !page_copy(page_of(r, page, first + i),
						 first + i, &out[i]);
		if (!seq_read_ok(seq, s)) {
			backoff(r, att);
			continue;
		}
		if (oor)
			return BOOKD_E_OUT_OF_RANGE;
		if (unpublished)
			return give_up(r);
		for (uint32_t i = 0; i < n; i++) {
			out[i].quantity = (uint32_t)quantity;
			out[i].active = (flags & PAGES_DIR_ACTIVE) != 0;
		}
		r->st.reads++;
		return 0;
	}
	return give_up(r);
}

int bookd_reader_day(bookd_reader *r, uint32_t idx, int64_t day,
		     struct bookd_reader_day *out)
{
	return bookd_reader_days(r, idx, day, 1, out);
}

int bookd_reader_days(bookd_reader *r, uint32_t idx, int64_t first_day,
		      uint32_t ndays, struct bookd_reader_day *out)
{
	uint32_t page;
	int rc;

	rc = resolve(r, idx, &page);
	if (rc != 0)
		return rc;
	if (ndays == 0)
		return BOOKD_E_BAD_REQUEST;
	if (first_day < 0 || ndays > r->m.window_days ||
	    first_day > INT64_MAX - (int64_t)ndays)
		return BOOKD_E_OUT_OF_RANGE;
	return days_read(r, page, first_day, ndays, out);
}

/* The zone called name (NULL: UTC), from the handle's one-entry cache.
 * Callers turn a NULL zone argument into the resource's zone first. */
static int zone_get(bookd_reader *r, const char *name, const struct tz **z)
{
	int rc;

	if (name == NULL)
		name = "UTC";
	if (r->zone != NULL && strcmp(name, r->zone_name) == 0) {
		*z = r->zone;
		return 0;
	}
	rc = tz_get(name, z);
	switch (rc) {
	case 0:
		break;
	case -EINVAL:
	case -ENOENT:
	case -EBADMSG:
		return BOOKD_E_BAD_REQUEST;
	case -ENOMEM:
		return BOOKD_E_NOMEM;
	default:
		errno = -rc;
		return BOOKD_E_IO;
	}
	/* A valid name is at most TZ_NAME_MAX bytes, so it fits. */
	snprintf(r->zone_name, sizeof(r->zone_name), "%s", name);
	r->zone = *z;
	return 0;
}

/* Minutes of a duration or interval in quarters, as the engine checks
 * them; 0 when they are not positive multiples of 15 within the bound. */
static int64_t quarters_of(uint32_t minutes)
{
	if (minutes == 0 || minutes % 15 != 0 ||
	    minutes > BOOKD_READER_MINUTES_MAX)
		return 0;
	return minutes / 15;
}

/* The first quarter at or after instant t. */
static inline int64_t q_ceil(int64_t t)
{
	return q_floor_div(t + Q_SECONDS - 1, Q_SECONDS);
}

/* OR a day's 96 bits (w0: slots 0..63, w1: 64..95) into flat at bit pos. */
static inline void flat_put(uint64_t *flat, int64_t pos, uint64_t w0,
			    uint64_t w1)
{
	int64_t k = pos / 64;
	int sh = (int)(pos % 64);

	w1 &= (1ull << 32) - 1;
	flat[k] |= w0 << sh;
	if (sh == 0) {
		flat[k + 1] |= w1;
		return;
	}
	flat[k + 1] |= w0 >> (64 - sh) | w1 << sh;
	/* The 32 bits of w1 end within word k + 1 unless sh > 32. */
	if (sh > 32)
		flat[k + 2] |= w1 >> (64 - sh);
}

/* The first set bit of flat[0..nbits) at or after pos, or -1. */
static inline int64_t flat_next(const uint64_t *flat, int64_t nbits,
				int64_t pos)
{
	int64_t k = pos / 64;
	uint64_t x;

	if (pos >= nbits)
		return -1;
	x = flat[k] & (~0ull << (pos % 64));
	for (;;) {
		if (x != 0)
			return 64 * k + __builtin_ctzll(x);
		if (++k * 64 >= nbits)
			return -1;
		x = flat[k];
	}
}

/* The first clear bit of flat[0..nbits) at or after pos, or nbits. */
static inline int64_t flat_next_clear(const uint64_t *flat, int64_t nbits,
				      int64_t pos)
{
	int64_t k = pos / 64;
	uint64_t x;

	if (pos >= nbits)
		return nbits;
	x = ~flat[k] & (~0ull << (pos % 64));
	for (;;) {
		if (x != 0) {
			int64_t b = 64 * k + __builtin_ctzll(x);
			return b < nbits ? b : nbits;
		}
		if (++k * 64 >= nbits)
			return nbits;
		x = ~flat[k];
	}
}

/* The first bad quarter at or after q (q inside the copied days). */
static inline int64_t cut_next_bad(const struct cut *c, int64_t q)
{
	int64_t k = flat_next(c->bad, c->nq, q - c->q0);

	return k >= 0 ? c->q0 + k : c->tail_bad;
}

static inline int64_t cut_next_held(const struct cut *c, int64_t q)
{
	int64_t k = flat_next(c->held, c->nq, q - c->q0);

	return k >= 0 ? c->q0 + k : c->tail_held;
}

/* The first set slot of a day's two words, or -1. */
static inline int day_first_set(uint64_t w0, uint64_t w1)
{
	if (w0 != 0)
		return __builtin_ctzll(w0);
	if (w1 != 0)
		return 64 + __builtin_ctzll(w1);
	return -1;
}

/*
 * Copy days d0..d1 of directory entry `page` into c, and scan the days after
 * them up to (not including) absolute quarter `reach`, all under
 * commit_seq.  Days outside the window are bad throughout and need no page;
 * a day inside it whose page holds another day sets c->unpublished.
 */
static int cut_read(bookd_reader *r, uint32_t page, int64_t d0, int64_t d1,
		    int64_t reach, struct cut *c)
{
	const uint64_t hi = (1ull << 32) - 1;
	const struct pages_header *h = r->m.hdr;
	const struct pages_dirent *e = &r->m.dir[page];
	const struct pages_page *p;
	uint64_t s, open[2], bad[2], held[2];
	size_t words;
	int64_t d;
	int k;

	c->q0 = d0 * PAGES_SLOTS;
	c->nq = (d1 - d0 + 1) * PAGES_SLOTS;
	words = (size_t)((c->nq + 63) / 64 + 1);
	for (unsigned att = 0; att < BOOKD_READER_RETRIES; att++) {
		memset(c->open, 0, words * sizeof(uint64_t));
		memset(c->bad, 0, words * sizeof(uint64_t));
		memset(c->held, 0, words * sizeof(uint64_t));
		c->tail_bad = c->tail_held = INT64_MAX;
		c->unpublished = false;
		s = seq_read_begin(&h->commit_seq);
		if (s & 1) {
			backoff(r, att);
			continue;
		}
		c->active = (seq_load(&e->flags) & PAGES_DIR_ACTIVE) != 0;
		c->first = (int64_t)seq_load(&h->first_day);
		c->last = (int64_t)seq_load(&h->last_day);
		for (d = d0; d <= d1; d++) {
			int64_t pos = (d - d0) * PAGES_SLOTS;
			if (d < c->first || d > c->last) {
				flat_put(c->bad, pos, ~0ull, hi);
				continue;
			}
			p = page_of(r, page, d);
			if (seq_load(&p->day) != (uint64_t)d) {
				c->unpublished = true;
				break;
			}
			for (int w = 0; w < 2; w++) {
				open[w] = seq_load(&p->open[w]);
				bad[w] = ~open[w] | seq_load(&p->booked[w]);
				held[w] = seq_load(&p->held[w]);
			}
			flat_put(c->open, pos, open[0], open[1]);
			flat_put(c->bad, pos, bad[0], bad[1]);
			flat_put(c->held, pos, held[0], held[1]);
		}
		for (d = d1 + 1; !c->unpublished && d * PAGES_SLOTS < reach;
		     d++) {
			if (d < c->first || d > c->last) {
				c->tail_bad = d * PAGES_SLOTS;
				break;
			}
			p = page_of(r, page, d);
			if (seq_load(&p->day) != (uint64_t)d) {
				c->unpublished = true;
				break;
			}
			for (int w = 0; w < 2; w++) {
				bad[w] = ~seq_load(&p->open[w]) |
					 seq_load(&p->booked[w]);
				held[w] = seq_load(&p->held[w]);
			}
			k = day_first_set(held[0], held[1] & hi);
			if (k >= 0 && c->tail_held == INT64_MAX)
				c->tail_held = d * PAGES_SLOTS + k;
			k = day_first_set(bad[0], bad[1] & hi);
			if (k >= 0) {
				c->tail_bad = d * PAGES_SLOTS + k;
				break;
			}
		}
		if (!seq_read_ok(&h->commit_seq, s)) {
			backoff(r, att);
			continue;
		}
		r->st.reads++;
		return 0;
	}
	return give_up(r);
}

/*
 * Copy what the local days covering quarters [qa, qb) need: the UTC days
 * holding those quarters, and the later days their spans of dur quarters
 * can reach.
 */
static int cut_span(bookd_reader *r, uint32_t page, int64_t qa, int64_t qb,
		    int64_t dur)
{
	int64_t d0 = q_floor_div(qa, PAGES_SLOTS);
	int64_t d1 = q_floor_div((qb > qa ? qb : qa + 1) - 1, PAGES_SLOTS);

	/* Only offsets beyond tz.h's bounds could make this many days. */
	if (d1 - d0 + 1 > CUT_DAYS)
		return give_up(r);
	return cut_read(r, page, d0, d1, (qb > qa ? qb - 1 : qa) + dur,
			&r->cut);
}

/*
 * The grid of one local day, quarters [qa, qb), over the cut: for each run
 * of open quarters, starts stepping by `step` from the run's start while
 * inside it, kept when their span of `dur` quarters has no bad quarter.
 * Fills at most cap starts (instants) and, when reserved is not NULL,
 * whether each span meets a held quarter; returns how many.  This is the
 * engine's grid_walk() with start_free() reduced to the pages' bits.
 */
static size_t grid_walk(const struct cut *c, int64_t qa, int64_t qb,
			int64_t dur, int64_t step, int64_t *starts,
			int *reserved, size_t cap)
{
	int64_t q = qa, rs, re, u;
	size_t k = 0;

	while (q < qb && k < cap) {
		rs = flat_next(c->open, c->nq, q - c->q0);
		if (rs < 0 || c->q0 + rs >= qb)
			break;
		re = flat_next_clear(c->open, c->nq, rs);
		rs += c->q0;
		re += c->q0;
		if (re > qb)
			re = qb;
		for (u = rs; u < re && k < cap; u += step) {
			if (cut_next_bad(c, u) < u + dur)
				continue;
			starts[k] = u * Q_SECONDS;
			if (reserved != NULL)
				reserved[k] = cut_next_held(c, u) < u + dur;
			k++;
		}
		q = re;
	}
	return k;
}

/* The resource's zone name as the engine published it ("" for UTC). */
static int dirent_zone(bookd_reader *r, uint32_t page,
		       char name[PAGES_TZ_MAX + 1])
{
	const struct pages_dirent *e = &r->m.dir[page];

	for (unsigned att = 0; att < BOOKD_READER_RETRIES; att++) {
		uint64_t words[5], s = seq_read_begin(&e->seq);
		if (s & 1) {
			backoff(r, att);
			continue;
		}
		for (int i = 0; i < 5; i++)
			words[i] = seq_load(&e->tz[i]);
		if (!seq_read_ok(&e->seq, s)) {
			backoff(r, att);
			continue;
		}
		memcpy(name, words, PAGES_TZ_MAX);
		name[PAGES_TZ_MAX] = 0;
		return 0;
	}
	return give_up(r);
}

/* The common arguments of the slot lists, checked as the engine does. */
static int grid_args(bookd_reader *r, uint32_t idx, const char *tz,
		     uint32_t duration_min, uint32_t interval_min,
		     uint32_t *page, const struct tz **z, int64_t *dur,
		     int64_t *step)
{
	int rc = resolve(r, idx, page);

	if (rc != 0)
		return rc;
	*dur = quarters_of(duration_min);
	*step = quarters_of(interval_min != 0 ? interval_min : duration_min);
	if (*dur == 0 || *step == 0)
		return BOOKD_E_BAD_REQUEST;
	if (tz == NULL) {
		char name[PAGES_TZ_MAX + 1];
		rc = dirent_zone(r, *page, name);
		if (rc != 0)
			return rc;
		return zone_get(r, name[0] ? name : NULL, z);
	}
	return zone_get(r, tz, z);
}

/*
 * slots.day and slots.view for local date `date`: at most cap starts
 * (cap >= the day's quarters, or BOOKD_E_STALE); reserved may be NULL.
 */
static int slots_list(bookd_reader *r, uint32_t idx, int64_t date,
		      const char *tz, uint32_t duration_min,
		      uint32_t interval_min, int64_t *starts, int *reserved,
		      size_t cap, size_t *n)
{
	const struct cut *c = &r->cut;
	const struct tz *z;
	int64_t dur, step, ds, de, qa, qb;
	uint32_t page;
	int rc;

	*n = 0;
	rc = grid_args(r, idx, tz, duration_min, interval_min, &page, &z, &dur,
		       &step);
	if (rc != 0)
		return rc;
	tz_local_day(z, date, &ds, &de);
	qa = q_ceil(ds);
	qb = q_ceil(de);
	if (qb - qa > (int64_t)cap)
		return give_up(r);
	rc = cut_span(r, page, qa, qb, dur);
	if (rc != 0)
		return rc;
	/* The engine refuses a local day wholly outside its window and
	 * answers one that is partly inside. */
	if (q_day_of(de - 1) < c->first || q_day_of(ds) > c->last)
		return BOOKD_E_OUT_OF_RANGE;
	/* No start of a deactivated resource is free: an empty list, as the
	 * engine answers. */
	if (!c->active)
		return 0;
	if (c->unpublished)
		return give_up(r);
	*n = grid_walk(c, qa, qb, dur, step, starts, reserved, cap);
	return 0;
}

int bookd_reader_date(const char *yyyy_mm_dd, int64_t *date)
{
	if (q_parse_date(yyyy_mm_dd, strlen(yyyy_mm_dd), date) < 0)
		return BOOKD_E_BAD_REQUEST;
	return 0;
}

int bookd_reader_slots_day_tz(bookd_reader *r, uint32_t idx, int64_t date,
			      const char *tz, uint32_t duration_min,
			      uint32_t interval_min,
			      int64_t starts[BOOKD_READER_MAX_STARTS],
			      size_t *n)
{
	return slots_list(r, idx, date, tz, duration_min, interval_min, starts,
			  NULL, BOOKD_READER_MAX_STARTS, n);
}

int bookd_reader_slots_day(bookd_reader *r, uint32_t idx, int64_t day,
			   uint32_t duration_min, uint32_t interval_min,
			   int64_t starts[BOOKD_READER_SLOTS], size_t *n)
{
	return slots_list(r, idx, day, "UTC", duration_min, interval_min,
			  starts, NULL, BOOKD_READER_SLOTS, n);
}

/* The view of slots_list(), into out[0..cap). */
static int view_list(bookd_reader *r, uint32_t idx, int64_t date,
		     const char *tz, uint32_t duration_min,
		     uint32_t interval_min, struct bookd_reader_view_slot *out,
		     size_t cap, size_t *n)
{
	int64_t starts[BOOKD_READER_MAX_STARTS];
	int reserved[BOOKD_READER_MAX_STARTS];
	int rc;

	rc = slots_list(r, idx, date, tz, duration_min, interval_min, starts,
			reserved, cap, n);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < *n; i++) {
		out[i].start = starts[i];
		out[i].reserved = reserved[i];
	}
	return 0;
}

int bookd_reader_slots_view_tz(
    bookd_reader *r, uint32_t idx, int64_t date, const char *tz,
    uint32_t duration_min, uint32_t interval_min,
    struct bookd_reader_view_slot out[BOOKD_READER_MAX_STARTS], size_t *n)
{
	return view_list(r, idx, date, tz, duration_min, interval_min, out,
			 BOOKD_READER_MAX_STARTS, n);
}

int bookd_reader_slots_view(
    bookd_reader *r, uint32_t idx, int64_t day, uint32_t duration_min,
    uint32_t interval_min,
    struct bookd_reader_view_slot out[BOOKD_READER_SLOTS], size_t *n)
{
	return view_list(r, idx, day, "UTC", duration_min, interval_min, out,
			 BOOKD_READER_SLOTS, n);
}

int bookd_reader_slots_month(bookd_reader *r, uint32_t idx, int64_t from,
			     int64_t to, const char *tz, uint32_t duration_min,
			     uint32_t interval_min, uint8_t *avail)
{
	const struct cut *c = &r->cut;
	const struct tz *z;
	int64_t dur, step, ds, de, qa, qb, first_start, ndays;
	uint32_t page;
	int rc;

	rc = grid_args(r, idx, tz, duration_min, interval_min, &page, &z, &dur,
		       &step);
	if (rc != 0)
		return rc;
	if (to < from || __builtin_sub_overflow(to, from, &ndays) ||
	    ndays >= BOOKD_READER_MONTH_MAX)
		return BOOKD_E_BAD_REQUEST;
	ndays++;
	tz_local_day(z, from, &ds, &de);
	qa = q_ceil(ds);
	tz_local_day(z, to, &ds, &de);
	qb = q_ceil(de);
	rc = cut_span(r, page, qa, qb, dur);
	if (rc != 0)
		return rc;
	if (c->active && c->unpublished)
		return give_up(r);
	for (int64_t i = 0; i < ndays; i++) {
		tz_local_day(z, from + i, &ds, &de);
		avail[i] =
		    c->active && grid_walk(c, q_ceil(ds), q_ceil(de), dur, step,
					   &first_start, NULL, 1) > 0;
	}
	return 0;
}

void bookd_reader_stats(const bookd_reader *r, struct bookd_reader_stats *out)
{
	*out = r->st;
}

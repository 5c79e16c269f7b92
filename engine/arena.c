/*
 * arena.c - see arena.h.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "hmap.h"

#define HUGE_ALIGN ARENA_BLOCK
/* Past this many blocks, blocks of ARENA_AHEAD are mapped and faulted in
 * ahead on another thread. */
#define ARENA_AHEAD_AFTER 8
#define ARENA_AHEAD	  ((size_t)16 << 20)

/*
 * Under AddressSanitizer the regions come from the heap: its leak checker
 * scans heap memory for pointers but not anonymous mappings, and the
 * arena holds the only pointers to memory malloc'd for the state (a day's
 * units, a booking's history).
 */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_HEAP 1
#else
#define ARENA_HEAP 0
#endif

static void *region_new(size_t size, size_t align)
{
	void *p;

	if (ARENA_HEAP) {
		p = aligned_alloc(align, size);
		if (p == NULL)
			abort();
		return memset(p, 0, size);
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		abort();
	return p;
}

static void region_free(void *p, size_t size)
{
	if (ARENA_HEAP)
		free(p);
	else
		munmap(p, size);
}

void *arena_map(size_t n, size_t *mapped)
{
	size_t size = (n + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
	size_t over = size + HUGE_ALIGN;
	char *p, *q;

	if (size < n || over < size)
		abort();
	*mapped = size;
	if (ARENA_HEAP)
		return region_new(size, HUGE_ALIGN);
	/* Map one huge page more than asked and trim both ends, so the
	 * region starts on a huge-page boundary and THP can back it. */
	p = region_new(over, 4096);
	q = (char *)(((uintptr_t)p + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1));
	if (q > p)
		munmap(p, (size_t)(q - p));
	if (q + size < p + over)
		munmap(q + size, (size_t)(p + over - (q + size)));
	/* Advice only: without THP the region is ordinary pages. */
	(void)madvise(q, size, MADV_HUGEPAGE);
	return q;
}

void arena_unmap(void *p, size_t n)
{
	if (p)
		region_free(p, (n + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1));
}

static void push_block(struct arena *a, void *p, size_t size)
{
	if (a->nblocks == a->capblocks) {
		size_t cap = a->capblocks ? a->capblocks * 2 : 16;
		void **b = reallocarray(a->blocks, cap, sizeof(*b));
		size_t *s;
		if (b == NULL)
			abort();
		a->blocks = b;
		s = reallocarray(a->sizes, cap, sizeof(*s));
		if (s == NULL)
			abort();
		a->sizes = s;
		a->capblocks = cap;
	}
	a->blocks[a->nblocks] = p;
	a->sizes[a->nblocks++] = size;
	a->cur = p;
	a->left = size;
}

static void *warm_block(void *arg)
{
	struct arena_warm *w = arg;

	/* A huge page at a time, front to back, as the allocations go. */
	for (size_t off = 0; off < w->n; off += ARENA_BLOCK)
		if (madvise(w->p + off,
			    w->n - off < ARENA_BLOCK ? w->n - off : ARENA_BLOCK,
			    MADV_POPULATE_WRITE) < 0)
			break;
	return NULL;
}

/* A forked child has no such thread to join (and must not wait for it). */
void arena_warm_join(struct arena_warm *w)
{
	if (w->on && w->pid == (int)getpid())
		pthread_join(w->thread, NULL);
	w->on = 0;
}

void arena_warm_start(struct arena_warm *w, void *p, size_t n)
{
	arena_warm_join(w);
	w->p = p;
	w->n = n;
	w->pid = (int)getpid();
	if (pthread_create(&w->thread, NULL, warm_block, w) == 0)
		w->on = 1;
}

static void start_warm(struct arena *a, char *p, size_t size)
{
	arena_warm_start(&a->warm, p, size);
}

void arena_reserve(struct arena *a, size_t n)
{
	size_t size;
	char *p;

	if (a->warm.on || n < ARENA_BLOCK)
		return;
	p = arena_map(n, &size);
	push_block(a, p, size);
	start_warm(a, p, size);
}

/* Blocks start at 64 KiB and double up to ARENA_BLOCK, so a small arena
 * (an index of a few names) costs little; only full-size blocks are
 * advised for huge pages. */
static void new_block(struct arena *a, size_t need)
{
	size_t size = (size_t)65536 << (a->nblocks < 5 ? a->nblocks : 5);
	void *p;

	if (size > ARENA_BLOCK)
		size = ARENA_BLOCK;
	if (need > size)
		size = need;
	if (size >= ARENA_BLOCK && a->nblocks >= ARENA_AHEAD_AFTER) {
		/* A big arena that keeps growing (a log being replayed):
		 * map several huge pages at once, and have them faulted in
		 * ahead of the allocations on another thread. */
		if (size < ARENA_AHEAD)
			size = ARENA_AHEAD;
		p = arena_map(size, &size);
		push_block(a, p, size);
		start_warm(a, p, size);
		return;
	}
	if (size >= ARENA_BLOCK) {
		p = arena_map(size, &size);
	} else {
		size = (size + 4095) & ~(size_t)4095;
		p = region_new(size, 4096);
	}
	push_block(a, p, size);
}

void *arena_alloc(struct arena *a, size_t n, size_t align)
{
	size_t pad;
	char *p;

	if (n == 0)
		n = 1;
	pad = (align - ((uintptr_t)a->cur & (align - 1))) & (align - 1);
	if (a->cur == NULL || pad + n > a->left) {
		if (n > SIZE_MAX - 4096)
			abort();
		new_block(a, n + align);
		pad = 0;
	}
	p = a->cur + pad;
	a->cur = p + n;
	a->left -= pad + n;
	a->used += n;
	/* Fresh anonymous memory is zero and never reused: no memset. */
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1, 1);

	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

size_t arena_mapped(const struct arena *a)
{
	size_t t = 0;

	for (size_t i = 0; i < a->nblocks; i++)
		t += a->sizes[i];
	return t;
}

void arena_free(struct arena *a)
{
	arena_warm_join(&a->warm);
	for (size_t i = 0; i < a->nblocks; i++)
		region_free(a->blocks[i], a->sizes[i]);
	free(a->blocks);
	free(a->sizes);
	memset(a, 0, sizeof(*a));
}

/* ---- interned strings ------------------------------------------------- */

static struct strtab_ent *slot(const struct strtab *t, const char *s, size_t n,
			       uint32_t h)
{
	size_t mask = t->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct strtab_ent *e = &t->ents[i];
		if (e->s == NULL ||
		    (e->hash == h && e->len == n && memcmp(e->s, s, n) == 0))
			return e;
	}
}

static void strtab_grow(struct strtab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 64;
	struct strtab_ent *old = t->ents;
	size_t ocap = t->cap;

	t->ents = calloc(ncap, sizeof(*t->ents));
	if (t->ents == NULL)
		abort();
	t->cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].s)
			*slot(t, old[i].s, old[i].len, old[i].hash) = old[i];
	free(old);
}

const char *strtab_intern(struct strtab *t, const char *s, size_t n)
{
	uint32_t h = hmap_hash(s, n);
	struct strtab_ent *e;

	if (n > UINT32_MAX)
		abort();
	if ((t->n + 1) * 4 > t->cap * 3)
		strtab_grow(t);
	e = slot(t, s, n, h);
	if (e->s == NULL) {
		e->s = arena_strndup(&t->a, s, n);
		e->len = (uint32_t)n;
		e->hash = h;
		t->n++;
	}
	return e->s;
}

void strtab_free(struct strtab *t)
{
	arena_free(&t->a);
	free(t->ents);
	memset(t, 0, sizeof(*t));
}

/*
 * arena.h - memory that lives as long as its owner: a bump allocator over
 * large blocks, and a table of interned strings on top of it.
 *
 * What it owns and why: the domain keeps a million bookings whose strings
 * and items never change once written, and which are never deleted (ids
 * are dense).  Allocating each of them with malloc cost a call, a header
 * and a page fault per 4 KiB on a restart; an arena hands them out of
 * blocks of ARENA_BLOCK bytes that the kernel may back with huge pages
 * (MADV_HUGEPAGE), so a restart takes a fault per 2 MiB instead.
 *
 * Invariants
 * - Nothing allocated from an arena is freed on its own: arena_free()
 *   releases every block at once.  An object that must be freed does not
 *   belong here; one that grows (a booking's history) moves to new room
 *   twice its size, so what it leaves behind stays below what it holds.
 * - A pointer returned stays valid and unmoved until arena_free().
 * - Interned strings are NUL-terminated and compared by bytes; equal
 *   strings give the same pointer, so they may be compared by address.
 *
 * How it fails: an allocation the system refuses aborts, like every other
 * allocation of the in-memory state (state_int.h).
 */
#ifndef BOOKD_ARENA_H
#define BOOKD_ARENA_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* One block: 2 MiB, the size of a huge page on x86-64. */
#define ARENA_BLOCK ((size_t)2 << 20)

/* A thread faulting in a region (zeroing fresh memory on another core). */
struct arena_warm {
	pthread_t thread;
	int on;
	int pid; /* the process that started it (not a forked child) */
	char *p;
	size_t n;
};

/* Fault in [p, p + n) on another thread, once the previous region of w is
 * done (waiting for it).  Advice: nothing happens when no thread starts. */
void arena_warm_start(struct arena_warm *w, void *p, size_t n);
/* Wait for w's thread, if any (not in a forked child, which has none). */
void arena_warm_join(struct arena_warm *w);

struct arena {
	char *cur;     /* next free byte of the current block */
	size_t left;   /* bytes left in it */
	void **blocks; /* every block mapped, to unmap them */
	size_t *sizes; /* and their sizes */
	size_t nblocks, capblocks;
	size_t used;		/* bytes handed out */
	struct arena_warm warm; /* faulting in a reserved block */
};

/* n bytes aligned to align (a power of two, at most 4096), zeroed. */
void *arena_alloc(struct arena *a, size_t n, size_t align);
/* A NUL-terminated copy of s[0..n). */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/*
 * Make the next block about n bytes (a restart that knows what it will
 * load) and fault it in on another thread, so the zeroing of fresh memory
 * runs beside the allocations rather than in them.  Advice: allocations
 * never wait for that thread, and a second call while it runs does
 * nothing.  An arena that grows past a few dozen MiB does the same by
 * itself, 16 MiB at a time.  arena_free() joins the thread.
 */
void arena_reserve(struct arena *a, size_t n);
/* Bytes mapped for the arena's blocks. */
size_t arena_mapped(const struct arena *a);
void arena_free(struct arena *a);

/*
 * A region of at least n bytes of zeroed memory, aligned to 2 MiB and
 * advised for huge pages, for large tables that are touched sparsely and
 * live long (a resource's days).  *mapped is the size to give to munmap.
 */
void *arena_map(size_t n, size_t *mapped);
/* Release a region of arena_map(n, ...). */
void arena_unmap(void *p, size_t n);

struct strtab_ent {
	const char *s; /* NULL: empty slot */
	uint32_t len;
	uint32_t hash;
};

/* Interned strings: one copy of each distinct string, in the arena. */
struct strtab {
	struct arena a;
	struct strtab_ent *ents;
	size_t cap; /* 0 or a power of two */
	size_t n;
};

/* The one copy of s[0..n) (NUL-terminated). */
const char *strtab_intern(struct strtab *t, const char *s, size_t n);
void strtab_free(struct strtab *t);

#endif

/*
 * seqlock.h - single-writer sequence locks over shared memory.
 *
 * Contract (after Linux's seqlock.h): the writer is one thread of one
 * process; readers are any number of processes that map the words read-only.
 * Readers copy the protected words out inside the read section and use the
 * copy only after seq_read_ok() said it is consistent.  Protected data holds
 * no pointers.  Every protected word is an _Atomic uint64_t and is touched
 * only through these helpers, because a plain memcpy of words another process
 * is writing is a data race in C11.
 *
 * Why each fence is where it is:
 *  - seq_write_begin stores the odd count, then a release fence: the data
 *    stores that follow cannot become visible before the odd count does, so a
 *    reader that sees new data also sees an odd (or moved) count.
 *  - seq_write_end publishes the even count with a release store: every data
 *    store before it is visible to a reader that acquires the new count.
 *  - seq_read_begin acquire-loads the count: the data loads that follow
 *    cannot be hoisted above it.
 *  - seq_read_ok issues an acquire fence before re-loading the count: the
 *    relaxed data loads before it cannot sink below the re-load.
 */
#ifndef BOOKD_SEQLOCK_H
#define BOOKD_SEQLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef _Atomic uint64_t seq_word;

static inline void seq_write_begin(seq_word *seq)
{
	uint64_t s = atomic_load_explicit(seq, memory_order_relaxed);
	atomic_store_explicit(seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static inline void seq_write_end(seq_word *seq)
{
	uint64_t s = atomic_load_explicit(seq, memory_order_relaxed);
	atomic_store_explicit(seq, s + 1, memory_order_release);
}

static inline void seq_store(seq_word *w, uint64_t v)
{
	atomic_store_explicit(w, v, memory_order_relaxed);
}

static inline uint64_t seq_load(const seq_word *w)
{
	return atomic_load_explicit((seq_word *)w, memory_order_relaxed);
}

/* Returns the count to pass to seq_read_ok(); odd means "a write is under
 * way", in which case the caller should retry. */
static inline uint64_t seq_read_begin(const seq_word *seq)
{
	return atomic_load_explicit((seq_word *)seq, memory_order_acquire);
}

static inline bool seq_read_ok(const seq_word *seq, uint64_t start)
{
	atomic_thread_fence(memory_order_acquire);
	return (start & 1) == 0 &&
	       atomic_load_explicit((seq_word *)seq, memory_order_relaxed) ==
		   start;
}

#endif

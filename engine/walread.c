/*
 * walread.c - reading segment files: mapping them, checking one record,
 * and the read-ahead thread of a scan (see wal_int.h).
 *
 * The read-ahead thread maps the segments in turn and checks their records
 * as wal_scan() walks them (from the header on, each at the end of the one
 * before, until a zero length word), and tells how far each segment's
 * records are checked.  The scan then reads a record's fields itself and
 * skips only the checksum of a record that lies within that reach; a
 * record past it (the read-ahead stopped at damage, lags, or could not map
 * the file) the scan checks itself.  So the read-ahead changes no verdict:
 * both walk the same bytes of the same mapping by the same rule.  It does
 * not decode anything: handing decoded records between cores costs more
 * than decoding them where they are used.
 *
 * The scan uses the read-ahead's mappings; a mapping goes when the scan has
 * moved past it and the read-ahead has too, or at wal_ahead_end().
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crc32c.h"
#include "le.h"
#include "wal.h"
#include "wal_int.h"

int wal_map_segment(int dfd, const char *name, struct mapped *m, bool populate)
{
	struct stat st;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

	m->p = NULL;
	m->len = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (st.st_size > 0) {
		void *p =
		    mmap(NULL, (size_t)st.st_size, PROT_READ,
			 MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
		if (p == MAP_FAILED) {
			int e = -errno;
			close(fd);
			return e;
		}
		m->p = p;
		m->len = (size_t)st.st_size;
	}
	close(fd);
	return 0;
}

void wal_unmap_segment(struct mapped *m)
{
	if (m->p)
		munmap((void *)m->p, m->len);
	m->p = NULL;
}

int wal_parse_rec(const struct mapped *m, size_t off, struct wal_rec *r,
		  bool check)
{
	const unsigned char *h = m->p + off;
	uint32_t len;

	if (off + WAL_REC_HEADER > m->len)
		return 0;
	len = get32(h);
	if (len == 0 || len > WAL_MAX_PAYLOAD ||
	    off + WAL_REC_HEADER + len > m->len)
		return 0;
	if (check && crc32c(0, h + 8, WAL_REC_HEADER - 8 + len) != get32(h + 4))
		return 0;
	r->len = len;
	r->lsn = get64(h + 8);
	r->synced = get64(h + 16);
	r->at_ms = (int64_t)get64(h + 24);
	r->type = get16(h + 32);
	r->payload = (const char *)h + WAL_REC_HEADER;
	r->offset = off;
	return 1;
}

/* ---- the read-ahead thread --------------------------------------------- */

/* Records checked between two reports of progress (and looks at stop). */
#define AHEAD_REPORT 64
/* Bytes of unused log mapped in between two looks at stop. */
#define AHEAD_POPULATE ((size_t)1 << 20)

struct wal_ahead {
	const struct seg *segs;
	size_t nsegs;
	struct mapped *maps;  /* [nsegs], the read-ahead's */
	_Atomic size_t *good; /* [nsegs]: records end to here are checked */
	pthread_t thread;
	/* The scan's: the segment it reads, and what it last learned. */
	size_t cur_seg;
	size_t cur_good;
	_Alignas(64) _Atomic uint32_t mapped; /* segments mapped */
	_Atomic uint32_t at;		      /* segment being checked */
	_Atomic uint32_t done;		      /* no more news */
	_Atomic uint32_t news;		      /* futex word */
	_Atomic uint32_t scan_waits;
	_Alignas(64) _Atomic uint32_t stop;
};

static void news(struct wal_ahead *a)
{
	/* Sequentially consistent with the scan's scan_waits store and its
	 * look at mapped/done: the scan is woken or sees the news. */
	atomic_fetch_add(&a->news, 1);
	if (atomic_load(&a->scan_waits))
		syscall(SYS_futex, (uint32_t *)&a->news, FUTEX_WAKE_PRIVATE, 1,
			NULL, NULL, 0);
}

static void *ahead_main(void *arg)
{
	struct wal_ahead *a = arg;

	for (size_t i = 0; i < a->nsegs && !atomic_load(&a->stop); i++) {
		struct mapped *m = &a->maps[i];
		size_t off = WAL_SEG_HEADER;
		unsigned n = 0;

		atomic_store(&a->at, (uint32_t)i);
		if (wal_map_segment(a->segs[i].dfd, a->segs[i].name, m, false) <
		    0)
			break;
		(void)madvise((void *)m->p, m->len, MADV_SEQUENTIAL);
		atomic_store(&a->mapped, (uint32_t)i + 1);
		news(a);
		while (off + 4 <= m->len && get32(m->p + off) != 0) {
			struct wal_rec r;
			if (!wal_parse_rec(m, off, &r, true))
				goto out; /* the scan goes no further */
			off += pad8(WAL_REC_HEADER + r.len);
			if (++n % AHEAD_REPORT == 0) {
				atomic_store_explicit(&a->good[i], off,
						      memory_order_release);
				if (atomic_load_explicit(&a->stop,
							 memory_order_relaxed))
					goto out;
			}
		}
		atomic_store_explicit(&a->good[i], off, memory_order_release);
		/* The rest of the segment is unused log, which the scan reads
		 * through for later records when this is the newest segment
		 * (later_records in wal.c): map its pages in here, a fault
		 * each, rather than on the scan's thread.  Advice only. */
		for (size_t from = off & ~(size_t)4095;
		     from < m->len && !atomic_load(&a->stop);
		     from += AHEAD_POPULATE) {
			size_t len = m->len - from < AHEAD_POPULATE
					 ? m->len - from
					 : AHEAD_POPULATE;
			if (madvise((void *)(m->p + from), len,
				    MADV_POPULATE_READ) < 0)
				break;
		}
	}
out:
	atomic_store(&a->at, (uint32_t)a->nsegs);
	atomic_store(&a->done, 1);
	news(a);
	return NULL;
}

struct wal_ahead *wal_ahead_start(const struct seg *segs, size_t nsegs)
{
	struct wal_ahead *a;

	if (nsegs == 0 || nsegs > UINT32_MAX - 1)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->segs = segs;
	a->nsegs = nsegs;
	a->maps = calloc(nsegs, sizeof(*a->maps));
	a->good = calloc(nsegs, sizeof(*a->good));
	if (a->maps == NULL || a->good == NULL ||
	    pthread_create(&a->thread, NULL, ahead_main, a) != 0) {
		free(a->maps);
		free(a->good);
		free(a);
		return NULL;
	}
	return a;
}

const struct mapped *wal_ahead_map(struct wal_ahead *a, size_t seg)
{
	/* The segment before is done with: its mapping goes now, unless
	 * the read-ahead still reads it (then at the end). */
	if (seg > 0 && atomic_load(&a->at) > seg - 1)
		wal_unmap_segment(&a->maps[seg - 1]);
	a->cur_seg = seg;
	a->cur_good = 0;
	for (;;) {
		uint32_t v = atomic_load(&a->news);
		if (atomic_load(&a->mapped) > seg)
			return &a->maps[seg];
		if (atomic_load(&a->done))
			return NULL;
		/* Mapping a file takes microseconds: sleep rather than
		 * spin, since the read-ahead may share this core. */
		atomic_store(&a->scan_waits, 1);
		if (atomic_load(&a->mapped) <= seg && !atomic_load(&a->done))
			syscall(SYS_futex, (uint32_t *)&a->news,
				FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
		atomic_store(&a->scan_waits, 0);
	}
}

bool wal_ahead_checked(struct wal_ahead *a, size_t seg, size_t end)
{
	if (seg != a->cur_seg)
		return false;
	if (end > a->cur_good)
		a->cur_good =
		    atomic_load_explicit(&a->good[seg], memory_order_acquire);
	return end <= a->cur_good;
}

void wal_ahead_end(struct wal_ahead *a)
{
	if (a == NULL)
		return;
	atomic_store(&a->stop, 1);
	pthread_join(a->thread, NULL);
	for (size_t i = 0; i < a->nsegs; i++)
		wal_unmap_segment(&a->maps[i]);
	free(a->maps);
	free(a->good);
	free(a);
}

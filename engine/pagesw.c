/*
 * pagesw.c - the writer of DATA/pages; see pagesw.h for the contract and
 * proto/pages.h for the layout.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pagesdir.h"
#include "pagesw.h"

#define PAGES_NAME "pages"
#define PAGES_TMP  "pages.new"
/* Readers of other users (a web server's group, say) may map the file; the
 * data directory's own mode decides who can reach it. */
#define PAGES_MODE 0644

struct pagesw {
	int fd;
	void *map;
	size_t size;
	struct pages_header *hdr;
	struct pages_dirent *dir;
	struct pages_page *pages;
	uint32_t max_resources;
	uint32_t window_days;
	uint32_t nres;	/* the nresources readers see */
	uint32_t ninit; /* rows 0..ninit-1 hold days or PAGES_NO_DAY */
	int in_commit;
	uint64_t generation;
	/* Between pagesw_prepare and pagesw_install: the file is
	 * DATA/pages.new, the old one (oldfd, or -1) still serves readers,
	 * and a thread faults in the rows the old file had in use. */
	int dirfd; /* a duplicate, for the rename */
	int oldfd;
	int installed;
	pthread_t warm;
	int warming;
	uint32_t warm_rows;
	/* The pages directory (pagesdir.h) or NULL, the file the link
	 * DATA/pages named before ("" when it was no link) and ours. */
	const char *pdir;
	char oldtarget[4096];
	char target[4096];
};

static int window_ok(uint32_t window_days, int64_t first_day, int64_t last_day)
{
	return first_day >= 0 && first_day <= last_day &&
	       (uint64_t)(last_day - first_day) < window_days;
}

/*
 * Open the current DATA/pages for writing and read its generation.  *oldfd
 * is -1 when there is no such file, or when it is too short or of another
 * magic or version: no reader can have attached to such a file, so there is
 * nobody to tell that it retired.
 */
static int old_open(int dirfd, int *oldfd, uint64_t *generation,
		    uint64_t *nresources)
{
	unsigned char h[offsetof(struct pages_header, commit_seq)];
	uint64_t magic, gen;
	uint32_t version;
	struct stat st;
	ssize_t n;
	int fd, err;

	*oldfd = -1;
	*generation = 0;
	*nresources = 0;
	/* DATA/pages may be a link into the pages directory (pagesdir.h);
	 * only this engine's user writes the data directory. */
	fd = openat(dirfd, PAGES_NAME, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)PAGES_HEADER_SIZE)
		goto ignore;
	n = pread(fd, h, sizeof(h), 0);
	if (n < 0) {
		err = -errno;
		goto fail;
	}
	if ((size_t)n != sizeof(h))
		goto ignore;
	memcpy(&magic, h + offsetof(struct pages_header, magic), sizeof(magic));
	memcpy(&version, h + offsetof(struct pages_header, version),
	       sizeof(version));
	memcpy(&gen, h + offsetof(struct pages_header, generation),
	       sizeof(gen));
	if (magic != PAGES_MAGIC || version != PAGES_VERSION)
		goto ignore;
	/* Only a hint of how many rows the new file will use: no seqlock
	 * needed, and a writer still running is locked out by the flock. */
	memcpy(nresources, h + offsetof(struct pages_header, nresources),
	       sizeof(*nresources));
	*oldfd = fd;
	*generation = gen;
	return 0;
ignore:
	close(fd);
	return 0;
fail:
	close(fd);
	return err;
}

/*
 * Tell the readers of the replaced file to re-open the path.  The new file
 * is already in place, so a reader that sees RETIRED and opens the path
 * finds it.  A failure here cannot be undone (the rename is done) and is
 * reported so the caller can log it.
 */
static int old_retire(int oldfd)
{
	struct pages_header *h;
	void *m;

	m = mmap(NULL, PAGES_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 oldfd, 0);
	if (m == MAP_FAILED)
		return -errno;
	h = m;
	atomic_thread_fence(memory_order_release);
	seq_store(&h->state, PAGES_RETIRED);
	munmap(m, PAGES_HEADER_SIZE);
	return 0;
}

/* Readers never look at rows at or above nresources, so these plain
 * initialising stores need no seqlock; set_resource publishes them with a
 * release fence before nresources grows. */
static void rows_init(struct pagesw *pw, uint32_t upto)
{
	if (pw->ninit < upto) {
		/* Fault the rows in with one call rather than a trap per
		 * 4 KiB: on a restart every row of every resource is
		 * written, and page-fault traps were most of that time.
		 * Advice only: a kernel without it faults as before. */
		uintptr_t a = (uintptr_t)(pw->pages + (uint64_t)pw->ninit *
							  pw->window_days);
		uintptr_t b =
		    (uintptr_t)(pw->pages + (uint64_t)upto * pw->window_days);
		uintptr_t pg = 4096;
		a &= ~(pg - 1);
		(void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
	}
	for (; pw->ninit < upto; pw->ninit++) {
		struct pages_page *row =
		    pw->pages + (uint64_t)pw->ninit * pw->window_days;
		for (uint32_t d = 0; d < pw->window_days; d++)
			seq_store(&row[d].day, PAGES_NO_DAY);
	}
}

/* Every visible store is inside a commit_seq bracket; a call outside the
 * caller's bracket opens its own. */
static void bracket_begin(struct pagesw *pw)
{
	if (!pw->in_commit)
		seq_write_begin(&pw->hdr->commit_seq);
}

static void bracket_end(struct pagesw *pw)
{
	if (!pw->in_commit)
		seq_write_end(&pw->hdr->commit_seq);
}

static struct pages_page *page_at(const struct pagesw *pw, uint32_t idx,
				  int64_t day)
{
	return pw->pages + pages_page_index(idx, day, pw->window_days);
}

/* Rows faulted in per call of the warming thread. */
#define WARM_ROWS 8u

static void *warm_rows(void *arg)
{
	struct pagesw *pw = arg;

	/* Advice only: a kernel without MADV_POPULATE_WRITE leaves the
	 * faults to the writer, as before. */
	for (uint32_t r = 0; r < pw->warm_rows; r += WARM_ROWS) {
		uint32_t n = pw->warm_rows - r < WARM_ROWS ? pw->warm_rows - r
							   : WARM_ROWS;
		uintptr_t a =
		    (uintptr_t)(pw->pages + (uint64_t)r * pw->window_days);
		uintptr_t b = (uintptr_t)(pw->pages +
					  (uint64_t)(r + n) * pw->window_days);
		a &= ~(uintptr_t)4095;
		if (madvise((void *)a, b - a, MADV_POPULATE_WRITE) < 0)
			break;
		/* A populated page of a memory file system may still be
		 * untouched memory of the virtual machine, whose first write
		 * costs the hypervisor's fault (measured: 236 MiB populated
		 * in 0.08 s, then written in 0.43 s; a second pass 0.003 s).
		 * So write each page here, an atomic add of zero: nothing
		 * changes under the engine thread's own stores. */
		for (uintptr_t q = (a + 4095) & ~(uintptr_t)4095; q + 8 <= b;
		     q += 4096)
			atomic_fetch_add_explicit((seq_word *)q, 0,
						  memory_order_relaxed);
	}
	return NULL;
}

static void warm_join(struct pagesw *pw)
{
	if (pw->warming) {
		pthread_join(pw->warm, NULL);
		pw->warming = 0;
	}
}

/*
 * Create the new file: in the pages directory, named by the link
 * DATA/pages.new, or as DATA/pages.new itself.  A pages directory that
 * cannot be used (missing, read-only, full) leaves the file in the data
 * directory, and pw->pdir NULL so the caller can say so.
 */
static int new_file(struct pagesw *pw, int dirfd)
{
	ssize_t n;
	int fd;

	pw->target[0] = '\0';
	if (pw->pdir) {
		pagesdir_sweep(pw->pdir, dirfd, pw->oldtarget);
		fd = pagesdir_create(pw->pdir, dirfd, pw->target,
				     sizeof pw->target);
		if (fd >= 0) {
			if (symlinkat(pw->target, dirfd, PAGES_TMP) == 0)
				return fd;
			n = -errno;
			close(fd);
			pagesdir_remove(pw->target);
			pw->target[0] = '\0';
			return (int)n;
		}
		pw->pdir = NULL;
	}
	fd = openat(dirfd, PAGES_TMP,
		    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		    PAGES_MODE);
	return fd < 0 ? -errno : fd;
}

/* Remove what new_file made. */
static void new_file_remove(struct pagesw *pw)
{
	unlinkat(pw->dirfd, PAGES_TMP, 0);
	if (pw->pdir)
		pagesdir_remove(pw->target);
}

int pagesw_prepare(struct pagesw **out, int dirfd, const char *pages_dir,
		   uint32_t max_resources, uint32_t window_days,
		   int64_t first_day, int64_t last_day)
{
	struct pagesw *pw = NULL;
	uint64_t dir_off, pages_off, size, oldgen, oldres;
	int oldfd = -1, err;
	int created = 0;
	ssize_t n;

	*out = NULL;
	if (pages_layout(max_resources, window_days, &dir_off, &pages_off,
			 &size) < 0 ||
	    !window_ok(window_days, first_day, last_day) || size > SIZE_MAX)
		return -EINVAL;
	pw = calloc(1, sizeof(*pw));
	if (pw == NULL)
		return -ENOMEM;
	pw->fd = -1;
	pw->oldfd = -1;
	pw->map = MAP_FAILED;
	pw->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (pw->dirfd < 0) {
		err = -errno;
		goto fail;
	}
	/* A link to another data directory's file (this one a copy of it)
	 * is replaced, never followed: that file is not ours to retire. */
	n = readlinkat(dirfd, PAGES_NAME, pw->oldtarget,
		       sizeof pw->oldtarget - 1);
	pw->oldtarget[n > 0 ? (size_t)n : 0] = '\0';
	if (pw->oldtarget[0] && !pagesdir_ours(pw->oldtarget, dirfd)) {
		pw->oldtarget[0] = '\0';
		oldgen = oldres = 0;
	} else {
		err = old_open(dirfd, &oldfd, &oldgen, &oldres);
		if (err < 0)
			goto fail;
	}

	/* A pages.new left by a crash is nobody's: replace it. */
	if (unlinkat(dirfd, PAGES_TMP, 0) < 0 && errno != ENOENT) {
		err = -errno;
		goto fail;
	}
	pw->pdir = pages_dir;
	pw->fd = new_file(pw, dirfd);
	if (pw->fd < 0) {
		err = pw->fd;
		goto fail;
	}
	created = 1;
	/* ftruncate leaves the file sparse: rows cost memory once used. */
	if (ftruncate(pw->fd, (off_t)size) < 0) {
		err = -errno;
		goto fail;
	}
	pw->map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       pw->fd, 0);
	if (pw->map == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	pw->size = (size_t)size;
	pw->hdr = pw->map;
	pw->dir = (struct pages_dirent *)((char *)pw->map + dir_off);
	pw->pages = (struct pages_page *)((char *)pw->map + pages_off);
	pw->max_resources = max_resources;
	pw->window_days = window_days;
	pw->generation = oldgen + 1;

	/* No reader can see this file before the rename in pagesw_install,
	 * so the plain fields are simply set; the rename orders them before
	 * any open. */
	pw->hdr->magic = PAGES_MAGIC;
	pw->hdr->version = PAGES_VERSION;
	pw->hdr->header_size = PAGES_HEADER_SIZE;
	pw->hdr->dirent_size = PAGES_DIRENT_SIZE;
	pw->hdr->page_size = PAGES_PAGE_SIZE;
	pw->hdr->max_resources = max_resources;
	pw->hdr->window_days = window_days;
	pw->hdr->dir_offset = dir_off;
	pw->hdr->pages_offset = pages_off;
	pw->hdr->generation = pw->generation;
	seq_store(&pw->hdr->state, PAGES_LIVE);
	seq_store(&pw->hdr->nresources, 0);
	seq_store(&pw->hdr->commit_seq, 0);
	seq_store(&pw->hdr->first_day, (uint64_t)first_day);
	seq_store(&pw->hdr->last_day, (uint64_t)last_day);
	seq_store(&pw->hdr->durable_lsn, 0);

	/* The rows the old file used will be written again (resources are
	 * never removed): fault them in on another core while the caller
	 * recovers.  Without a thread the writer faults them itself. */
	pw->warm_rows =
	    oldres < max_resources ? (uint32_t)oldres : max_resources;
	if (pw->warm_rows > 0 &&
	    pthread_create(&pw->warm, NULL, warm_rows, pw) == 0)
		pw->warming = 1;
	pw->oldfd = oldfd;
	*out = pw;
	return 0;
fail:
	if (oldfd >= 0)
		close(oldfd);
	if (pw->map != MAP_FAILED)
		munmap(pw->map, pw->size);
	if (pw->fd >= 0)
		close(pw->fd);
	if (created)
		new_file_remove(pw);
	if (pw->dirfd >= 0)
		close(pw->dirfd);
	free(pw);
	return err;
}

int pagesw_install(struct pagesw *pw)
{
	int err;

	if (pw->installed)
		return 0;
	warm_join(pw);
	/* Exchange the names rather than rename over the old file: ext4
	 * starts writing a file back when it replaces another by rename
	 * (auto_da_alloc), and this one is a cache of hundreds of MiB that
	 * is never meant to be synced. */
	if (pw->oldfd >= 0 && renameat2(pw->dirfd, PAGES_TMP, pw->dirfd,
					PAGES_NAME, RENAME_EXCHANGE) == 0) {
		if (unlinkat(pw->dirfd, PAGES_TMP, 0) < 0 && errno != ENOENT)
			return -errno;
	} else if (renameat(pw->dirfd, PAGES_TMP, pw->dirfd, PAGES_NAME) < 0) {
		return -errno;
	}
	pw->installed = 1;
	pagesdir_remove(pw->oldtarget);
	if (pw->oldfd >= 0) {
		err = old_retire(pw->oldfd);
		close(pw->oldfd);
		pw->oldfd = -1;
		if (err < 0)
			return err;
	}
	return 0;
}

int pagesw_open(struct pagesw **out, int dirfd, const char *pages_dir,
		uint32_t max_resources, uint32_t window_days, int64_t first_day,
		int64_t last_day)
{
	int rc = pagesw_prepare(out, dirfd, pages_dir, max_resources,
				window_days, first_day, last_day);

	if (rc < 0)
		return rc;
	rc = pagesw_install(*out);
	if (rc < 0) {
		pagesw_close(*out);
		*out = NULL;
	}
	return rc;
}

void pagesw_close(struct pagesw *pw)
{
	if (pw == NULL)
		return;
	warm_join(pw);
	munmap(pw->map, pw->size);
	close(pw->fd);
	/* Never installed: the old file serves on, the new one goes. */
	if (!pw->installed)
		new_file_remove(pw);
	if (pw->oldfd >= 0)
		close(pw->oldfd);
	close(pw->dirfd);
	free(pw);
}

const char *pagesw_place(const struct pagesw *pw)
{
	return pw->pdir ? pw->target : NULL;
}

uint64_t pagesw_generation(const struct pagesw *pw)
{
	return pw->generation;
}

void pagesw_set_resource_zone(struct pagesw *pw, uint32_t idx, const char *zone)
{
	uint64_t words[5] = {0};
	struct pages_dirent *e;
	size_t len = zone ? strnlen(zone, PAGES_TZ_MAX + 1) : 0;

	assert(idx < pw->max_resources);
	if (len <= PAGES_TZ_MAX && len > 0)
		memcpy(words, zone, len);
	bracket_begin(pw);
	rows_init(pw, idx + 1);
	e = &pw->dir[idx];
	seq_write_begin(&e->seq);
	for (int i = 0; i < 5; i++)
		seq_store(&e->tz[i], words[i]);
	seq_write_end(&e->seq);
	bracket_end(pw);
}

void pagesw_set_resource(struct pagesw *pw, uint32_t idx, const char *id,
			 uint32_t flags, uint32_t quantity)
{
	uint64_t words[8] = {0};
	struct pages_dirent *e;
	size_t len;

	assert(idx < pw->max_resources);
	len = strnlen(id, PAGES_ID_MAX + 1);
	assert(len <= PAGES_ID_MAX);
	if (len > PAGES_ID_MAX)
		len = PAGES_ID_MAX;
	memcpy(words, id, len);

	bracket_begin(pw);
	rows_init(pw, idx + 1);
	e = &pw->dir[idx];
	seq_write_begin(&e->seq);
	seq_store(&e->flags, flags);
	seq_store(&e->quantity, quantity);
	for (int i = 0; i < 8; i++)
		seq_store(&e->id[i], words[i]);
	seq_write_end(&e->seq);
	if (idx >= pw->nres) {
		/* The rows and the entry must be visible before the count that
		 * lets readers look at them. */
		pw->nres = idx + 1;
		atomic_thread_fence(memory_order_release);
		seq_store(&pw->hdr->nresources, pw->nres);
	}
	bracket_end(pw);
}

void pagesw_commit_begin(struct pagesw *pw)
{
	assert(!pw->in_commit);
	seq_write_begin(&pw->hdr->commit_seq);
	pw->in_commit = 1;
}

void pagesw_commit_end(struct pagesw *pw)
{
	assert(pw->in_commit);
	pw->in_commit = 0;
	seq_write_end(&pw->hdr->commit_seq);
}

void pagesw_write_page(struct pagesw *pw, uint32_t idx, int64_t day,
		       const uint64_t open[2], const uint64_t booked[2],
		       const uint64_t held[2], const uint16_t *units,
		       int slots_changed, int holds_changed)
{
	/* Bits 96..127 do not exist; keep them zero whatever the caller has. */
	const uint64_t wmask[2] = {~0ull, (1ull << 32) - 1};
	struct pages_page *p;
	int newday;

	/* A day outside the current window is allowed: moving the window
	 * writes the days that enter it and then the new bounds, all in one
	 * bracket.  Readers check the day against the window they see. */
	assert(idx < pw->max_resources);
	assert(day >= 0);
	bracket_begin(pw);
	rows_init(pw, idx + 1);
	p = page_at(pw, idx, day);
	newday = seq_load(&p->day) != (uint64_t)day;
	seq_write_begin(&p->seq);
	if (newday)
		seq_store(&p->day, (uint64_t)day);
	if (slots_changed || newday)
		seq_store(&p->slots_version, seq_load(&p->slots_version) + 1);
	if (holds_changed || newday)
		seq_store(&p->holds_version, seq_load(&p->holds_version) + 1);
	for (int w = 0; w < 2; w++) {
		seq_store(&p->open[w], open[w] & wmask[w]);
		seq_store(&p->booked[w], booked[w] & wmask[w]);
		seq_store(&p->held[w], held[w] & wmask[w]);
	}
	for (int w = 0; w < PAGES_SLOTS / 4; w++) {
		uint64_t v = 0;
		if (units != NULL)
			for (int k = 0; k < 4; k++)
				v |= (uint64_t)units[4 * w + k] << (16 * k);
		seq_store(&p->units[w], v);
	}
	seq_write_end(&p->seq);
	bracket_end(pw);
}

/* The writer is the only one storing these words, so a relaxed load of its
 * own stores needs no seqlock. */
static const struct pages_page *page_for(const struct pagesw *pw, uint32_t idx,
					 int64_t day)
{
	const struct pages_page *p;

	if (idx >= pw->ninit || day < 0)
		return NULL;
	p = page_at(pw, idx, day);
	return seq_load(&p->day) == (uint64_t)day ? p : NULL;
}

uint64_t pagesw_slots_version(const struct pagesw *pw, uint32_t idx,
			      int64_t day)
{
	const struct pages_page *p = page_for(pw, idx, day);

	return p != NULL ? seq_load(&p->slots_version) : 0;
}

uint64_t pagesw_holds_version(const struct pagesw *pw, uint32_t idx,
			      int64_t day)
{
	const struct pages_page *p = page_for(pw, idx, day);

	return p != NULL ? seq_load(&p->holds_version) : 0;
}

void pagesw_set_window(struct pagesw *pw, int64_t first_day, int64_t last_day)
{
	assert(window_ok(pw->window_days, first_day, last_day));
	bracket_begin(pw);
	seq_store(&pw->hdr->first_day, (uint64_t)first_day);
	seq_store(&pw->hdr->last_day, (uint64_t)last_day);
	bracket_end(pw);
}

void pagesw_set_durable_lsn(struct pagesw *pw, uint64_t lsn)
{
	bracket_begin(pw);
	seq_store(&pw->hdr->durable_lsn, lsn);
	bracket_end(pw);
}

/*
 * snapshot.c - see snapshot.h for the format and the invariants.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fhdr.h"
#include "le.h"
#include "crc32c.h"
#include "hooks.h"
#include "compact.h"
#include "log.h"
#include "snapshot.h"

_Static_assert(SNAP_HEADER == FHDR_SIZE,
	       "the header is the common file header");

/* Flush the output buffer to the file past this many bytes. */
#define SNAP_WRITE_CHUNK (1u << 20)
/* Start the write-back of snapshot.tmp every this many bytes (sw_writeback). */
#define SNAP_SYNC_CHUNK (4ull << 20)
/* Commit the deltas of this many loaded records at a time, so loading a big
 * snapshot does not queue one delta per booking-day. */
#define SNAP_COMMIT_EVERY 4096u
/* Files from this size on have their checksums checked on a second
 * thread. */
#define SNAP_CHECK_THREAD_MIN ((size_t)4 << 20)

/* ---- writing ---------------------------------------------------------- */

struct swriter {
	int fd;
	struct wbuf out;   /* bytes not yet written to fd */
	struct wbuf rec;   /* the payload being packed */
	msgpack_packer pk; /* packs into rec */
	uint32_t crc;	   /* of every byte emitted so far */
	uint64_t records;
	uint64_t written; /* bytes written to fd */
	uint64_t flushed; /* write-back started for bytes before this */
	uint64_t waited;  /* write-back done for bytes before this */
};

/*
 * Write-back as the file grows, SNAP_SYNC_CHUNK at a time, waiting for the
 * chunk before the one just started: the dirty part of snapshot.tmp stays
 * under two chunks, so the log's fdatasync never queues behind hundreds
 * of megabytes of snapshot (ext4 commits the file's allocated blocks with
 * the journal).  Failures are left to the final fsync.
 */
static void sw_writeback(struct swriter *w)
{
	if (w->written - w->flushed < SNAP_SYNC_CHUNK)
		return;
	if (w->flushed > w->waited)
		sync_file_range(
		    w->fd, (off_t)w->waited, (off_t)(w->flushed - w->waited),
		    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
			SYNC_FILE_RANGE_WAIT_AFTER);
	w->waited = w->flushed;
	sync_file_range(w->fd, (off_t)w->flushed,
			(off_t)(w->written - w->flushed),
			SYNC_FILE_RANGE_WRITE);
	w->flushed = w->written;
}

static int sw_flush(struct swriter *w)
{
	size_t done = 0;

	while (done < w->out.len) {
		ssize_t n = write(w->fd, w->out.data + done, w->out.len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	w->written += w->out.len;
	w->out.len = 0;
	sw_writeback(w);
	return 0;
}

static int sw_emit(struct swriter *w, const void *p, size_t n)
{
	w->crc = crc32c(w->crc, p, n);
	wbuf_append(&w->out, p, n);
	return w->out.len >= SNAP_WRITE_CHUNK ? sw_flush(w) : 0;
}

/* Emit w->rec as one record of the given type. */
static int sw_record(struct swriter *w, uint16_t type)
{
	static const unsigned char zeros[8];
	unsigned char h[SNAP_REC_HEADER];
	size_t len = w->rec.len;
	int rc;

	if (len == 0 || len > SNAP_MAX_PAYLOAD)
		return -EFBIG;
	memset(h, 0, sizeof(h));
	put32(h, (uint32_t)len);
	put16(h + 8, type);
	put32(h + 4,
	      crc32c(crc32c(0, h + 8, SNAP_REC_HEADER - 8), w->rec.data, len));
	rc = sw_emit(w, h, sizeof(h));
	if (rc == 0)
		rc = sw_emit(w, w->rec.data, len);
	if (rc == 0)
		rc = sw_emit(w, zeros,
			     pad8(SNAP_REC_HEADER + len) - SNAP_REC_HEADER -
				 len);
	w->rec.len = 0;
	w->records++;
	return rc;
}

static int sw_events(struct swriter *w, const struct state *st)
{
	for (size_t i = 0; i < st->nev; i += SNAP_EVENTS_PER_REC) {
		size_t n = st->nev - i;
		int rc;

		if (n > SNAP_EVENTS_PER_REC)
			n = SNAP_EVENTS_PER_REC;
		for (size_t k = i; k < i + n; k++) {
			unsigned char e[SNAP_EVENT_SIZE];
			memset(e, 0, sizeof(e));
			put64(e, st->ev[k].lsn);
			put64(e + 8, (uint64_t)st->ev[k].at_ms);
			put32(e + 16, st->ev[k].booking);
			e[20] = st->ev[k].type;
			wbuf_append(&w->rec, e, sizeof(e));
		}
		rc = sw_record(w, SNAP_EVENTS);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int sw_body(struct swriter *w, const struct state *st, uint64_t lsn)
{
	unsigned char h[SNAP_HEADER], t[SNAP_TRAILER];
	int rc;

	fhdr_begin(h, SNAP_MAGIC, SNAP_VERSION, lsn, now_ms());
	put32(h + 32, st->nres);
	put32(h + 36, st->net);
	put32(h + 40, st->nbk);
	put64(h + 48, st->nev);
	fhdr_seal(h);
	rc = sw_emit(w, h, sizeof(h));
	for (uint32_t i = 0; i < st->nres && rc == 0; i++) {
		state_pack_resource_rec(&w->pk, st->res[i]);
		rc = sw_record(w, WAL_RESOURCE);
	}
	for (uint32_t i = 0; i < st->net && rc == 0; i++) {
		state_pack_event_type(&w->pk, st, st->et[i]);
		rc = sw_record(w, WAL_EVENT_TYPE);
	}
	for (uint32_t i = 0; i < st->nbk && rc == 0; i++) {
		state_pack_booking_rec(&w->pk, st, st->bk[i], EV_NONE);
		rc = sw_record(w, WAL_BOOKING);
	}
	if (rc == 0)
		rc = sw_events(w, st);
	for (uint32_t i = 0; i < hooks_count(st) && rc == 0; i++) {
		hooks_pack_rec(&w->pk, st, i);
		rc = sw_record(w, WAL_HOOK);
	}
	for (uint32_t i = 0; i < st->nss && rc == 0; i++) {
		state_pack_schedule_rec(&w->pk, &st->ss[i]);
		rc = sw_record(w, WAL_SCHEDULE);
	}
	for (uint32_t i = 0; i < st->nhc && rc == 0; i++) {
		state_pack_holidays_rec(&w->pk, &st->hc[i]);
		rc = sw_record(w, WAL_HOLIDAYS);
	}
	if (rc < 0)
		return rc;
	memset(t, 0, sizeof(t));
	memcpy(t, SNAP_END_MAGIC, 8);
	put64(t + 8, w->records);
	put32(t + 16, w->crc);
	put32(t + 28, crc32c(0, t, 28));
	rc = sw_emit(w, t, sizeof(t));
	if (rc == 0)
		rc = sw_flush(w);
	return rc;
}

int snapshot_write_tmp(int dirfd, const struct state *st, uint64_t lsn,
		       uint64_t *bytes, char *err, size_t errlen)
{
	struct swriter w;
	int rc;

	memset(&w, 0, sizeof(w));
	wbuf_packer_init(&w.pk, &w.rec);
	w.fd = openat(dirfd, SNAP_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		      0640);
	if (w.fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create %s: %s", SNAP_TMP,
			 strerror(-rc));
		return rc;
	}
	rc = sw_body(&w, st, lsn);
	if (rc == 0 && fsync(w.fd) < 0)
		rc = -errno;
	if (rc == 0 && bytes) {
		off_t end = lseek(w.fd, 0, SEEK_CUR);
		*bytes = end > 0 ? (uint64_t)end : 0;
	}
	if (close(w.fd) < 0 && rc == 0)
		rc = -errno;
	wbuf_free(&w.out);
	wbuf_free(&w.rec);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write %s: %s", SNAP_TMP,
			 rc == -EFBIG ? "a record exceeds the size limit"
				      : strerror(-rc));
		unlinkat(dirfd, SNAP_TMP, 0);
	}
	return rc;
}

/* Make snapshot.tmp the snapshot, durably. */
int snapshot_install_tmp(int dirfd, char *err, size_t errlen)
{
	int rc = 0;

	if (renameat(dirfd, SNAP_TMP, dirfd, SNAP_FILE) < 0 ||
	    fsync(dirfd) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot install %s: %s", SNAP_FILE,
			 strerror(-rc));
	}
	return rc;
}

int snapshot_write(int dirfd, const struct state *st, uint64_t lsn, char *err,
		   size_t errlen)
{
	int rc = snapshot_write_tmp(dirfd, st, lsn, NULL, err, errlen);
	return rc < 0 ? rc : snapshot_install_tmp(dirfd, err, errlen);
}

/* ---- reading ---------------------------------------------------------- */

struct sfile {
	const unsigned char *p;
	size_t len;
};

static int map_file(int dirfd, struct sfile *f, char *err, size_t errlen)
{
	struct stat sb;
	int fd, rc = 0;

	f->p = NULL;
	f->len = 0;
	fd = openat(dirfd, SNAP_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", SNAP_FILE,
			 strerror(-rc));
		return rc;
	}
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot stat %s: %s", SNAP_FILE,
			 strerror(-rc));
		goto out;
	}
	if ((uint64_t)sb.st_size < SNAP_HEADER + SNAP_TRAILER) {
		snprintf(err, errlen,
			 "%s: %lld bytes, too short to be a snapshot",
			 SNAP_FILE, (long long)sb.st_size);
		rc = -EUCLEAN;
		goto out;
	}
	/* Every byte is read once, front to back: map it all at once rather
	 * than a page-fault trap per few pages. */
	f->p = mmap(NULL, (size_t)sb.st_size, PROT_READ,
		    MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (f->p == MAP_FAILED) {
		f->p = NULL;
		rc = -errno;
		snprintf(err, errlen, "cannot map %s: %s", SNAP_FILE,
			 strerror(-rc));
		goto out;
	}
	f->len = (size_t)sb.st_size;
	rc = 1;
out:
	close(fd);
	return rc;
}

static int check_header(const struct sfile *f, struct snapshot_info *info,
			char *err, size_t errlen)
{
	const unsigned char *h = f->p;
	const char *what = NULL;

	enum fhdr_fault fault = fhdr_check(h, f->len, SNAP_MAGIC, SNAP_VERSION);

	/* Older versions hold a subset of the record types: read them too. */
	for (uint32_t v = SNAP_VERSION_OLDEST;
	     fault == FHDR_VERSION && v < SNAP_VERSION; v++)
		fault = fhdr_check(h, f->len, SNAP_MAGIC, v);
	switch (fault) {
	case FHDR_OK:
		break;
	case FHDR_MAGIC:
		what = "not a snapshot (bad magic)";
		break;
	case FHDR_CRC_BAD:
		what = "header checksum mismatch";
		break;
	case FHDR_VERSION:
		what = "unknown version";
		break;
	case FHDR_SIZE_BAD:
		what = "unexpected header size";
		break;
	}
	if (what) {
		snprintf(err, errlen, "%s: %s", SNAP_FILE, what);
		return -EUCLEAN;
	}
	info->present = true;
	info->lsn = get64(h + 16);
	info->created_ms = (int64_t)get64(h + 24);
	info->resources = get32(h + 32);
	info->event_types = get32(h + 36);
	info->bookings = get32(h + 40);
	info->events = get64(h + 48);
	info->bytes = f->len;
	return 0;
}

int snapshot_peek(int dirfd, struct snapshot_info *info, char *err,
		  size_t errlen)
{
	struct sfile f;
	int rc;

	memset(info, 0, sizeof(*info));
	rc = map_file(dirfd, &f, err, errlen);
	if (rc <= 0)
		return rc;
	rc = check_header(&f, info, err, errlen);
	munmap((void *)f.p, f.len);
	return rc;
}

static const char *type_name(uint16_t type)
{
	switch (type) {
	case WAL_RESOURCE:
		return "resource";
	case WAL_EVENT_TYPE:
		return "event type";
	case WAL_BOOKING:
		return "booking";
	case SNAP_EVENTS:
		return "events";
	case WAL_HOOK:
		return "hook";
	case WAL_SCHEDULE:
		return "shared schedule";
	case WAL_HOLIDAYS:
		return "holiday calendar";
	default:
		return "unknown";
	}
}

/* Rank of a record type in the required order, or -1 if unknown. */
static int type_rank(uint16_t type)
{
	switch (type) {
	case WAL_RESOURCE:
		return 0;
	case WAL_EVENT_TYPE:
		return 1;
	case WAL_BOOKING:
		return 2;
	case SNAP_EVENTS:
		return 3;
	case WAL_HOOK:
		return 4;
	case WAL_SCHEDULE:
		return 5;
	case WAL_HOLIDAYS:
		return 6;
	default:
		return -1;
	}
}

/* Append a batch of feed events, checking each against the state.  Room
 * for all of them was reserved from the header's count. */
static int load_events(struct state *st, const unsigned char *p, uint32_t len,
		       uint64_t snap_lsn, const char **why)
{
	size_t n = len / SNAP_EVENT_SIZE;

	if (len % SNAP_EVENT_SIZE != 0) {
		*why = "events record of a size that is not a whole number "
		       "of entries";
		return -1;
	}
	if (n > st->capev - st->nev) {
		*why = "more events than the header says";
		return -1;
	}
	for (size_t i = 0; i < n; i++, p += SNAP_EVENT_SIZE) {
		struct event e = {get64(p), (int64_t)get64(p + 8),
				  get32(p + 16), p[20]};
		if (e.type == EV_NONE || e.type >= EV__COUNT) {
			*why = "event of an unknown type";
			return -1;
		}
		if (e.booking == 0 || e.booking > st->nbk) {
			*why = "event naming a booking the snapshot lacks";
			return -1;
		}
		if (e.lsn > snap_lsn ||
		    (st->nev > 0 && e.lsn <= st->ev[st->nev - 1].lsn)) {
			*why = "events out of LSN order";
			return -1;
		}
		st->ev[st->nev++] = e;
	}
	return 0;
}

/* Room for the header's count of events, bounded by what the file can
 * hold so a damaged count cannot ask for absurd memory. */
static int reserve_events(struct state *st, const struct snapshot_info *info,
			  char *err, size_t errlen)
{
	struct event *nv;

	if (info->events > info->bytes / SNAP_EVENT_SIZE) {
		snprintf(err, errlen, "%s: header counts more events than fit",
			 SNAP_FILE);
		return -EUCLEAN;
	}
	if (info->events == 0)
		return 0;
	nv = reallocarray(st->ev, st->nev + info->events, sizeof(*st->ev));
	if (nv == NULL) {
		snprintf(err, errlen,
			 "%s: out of memory for %" PRIu64 " events", SNAP_FILE,
			 info->events);
		return -ENOMEM;
	}
	st->ev = nv;
	st->capev = st->nev + info->events;
	return 0;
}

/* Room in the booking indexes for the header's count, bounded like the
 * events' (a booking record is larger than its header). */
static void reserve_bookings(struct state *st, const struct snapshot_info *info)
{
	if (info->bookings <= info->bytes / SNAP_REC_HEADER &&
	    info->resources <= info->bytes / SNAP_REC_HEADER)
		state_reserve(st, info->resources, (size_t)info->bookings);
}

static void commit_loaded(struct state *st)
{
	size_t n;
	struct delta *dl = state_take_deltas(st, &n);

	state_commit_deltas(st, dl, n);
	free(dl);
}

/*
 * The checksums of a snapshot are checked on a second thread, ahead of the
 * records being applied: the loader applies a record only once its
 * checksum is known to hold (ok_end covers it), so a damaged record is
 * never applied, as when it checked them itself.  The whole file's
 * checksum is computed there too.
 */
struct snap_check {
	const unsigned char *p;
	size_t end;	       /* of the records (the trailer's offset) */
	_Atomic size_t ok_end; /* records before it have good checksums */
	_Atomic int done;      /* the walk ended: at end, or at a bad record */
	uint32_t whole;	       /* the file's checksum, valid once joined */
	pthread_t th;
};

static bool rec_crc_ok(const unsigned char *h, uint32_t len)
{
	return crc32c(crc32c(0, h + 8, SNAP_REC_HEADER - 8),
		      h + SNAP_REC_HEADER, len) == get32(h + 4);
}

static void *check_ahead(void *arg)
{
	struct snap_check *c = arg;
	size_t off = SNAP_HEADER;

	while (off < c->end) {
		const unsigned char *h = c->p + off;
		uint32_t len;
		if (c->end - off < SNAP_REC_HEADER)
			break;
		len = get32(h);
		if (len == 0 || len > SNAP_MAX_PAYLOAD ||
		    len > c->end - off - SNAP_REC_HEADER || !rec_crc_ok(h, len))
			break;
		off += pad8(SNAP_REC_HEADER + len);
		atomic_store_explicit(&c->ok_end, off, memory_order_release);
	}
	atomic_store_explicit(&c->done, 1, memory_order_release);
	c->whole = crc32c(0, c->p, c->end);
	return NULL;
}

/* Is the record [off, off + size) known to have a good checksum?  Waits
 * for the checking thread (c NULL: checks it here). */
static bool rec_checked(struct snap_check *c, const unsigned char *h,
			uint32_t len, size_t rec_end)
{
	if (c == NULL)
		return rec_crc_ok(h, len);
	for (;;) {
		int done = atomic_load_explicit(&c->done, memory_order_acquire);
		if (atomic_load_explicit(&c->ok_end, memory_order_acquire) >=
		    rec_end)
			return true;
		if (done)
			return false;
		sched_yield();
	}
}

/* Walk and apply every record of a mapped snapshot whose header passed. */
static int load_records(const struct sfile *f, struct state *st,
			struct snapshot_info *info, char *err, size_t errlen)
{
	const unsigned char *t = f->p + f->len - SNAP_TRAILER;
	size_t end = f->len - SNAP_TRAILER, off = SNAP_HEADER;
	struct snap_check ck = {.p = f->p, .end = end}, *c = &ck;
	uint32_t whole;
	uint64_t records = 0;
	int rank = 0;
	const char *why = NULL;

	if (memcmp(t, SNAP_END_MAGIC, 8) != 0 ||
	    crc32c(0, t, 28) != get32(t + 28)) {
		snprintf(err, errlen,
			 "%s: no valid trailer (the file was cut short or "
			 "damaged at its end)",
			 SNAP_FILE);
		return -EUCLEAN;
	}
	/* A small file is checked here: a thread would cost more than the
	 * checksums it takes over. */
	if (f->len < SNAP_CHECK_THREAD_MIN ||
	    pthread_create(&ck.th, NULL, check_ahead, &ck) != 0)
		c = NULL;
	while (off < end) {
		const unsigned char *h = f->p + off;
		uint32_t len;
		uint16_t type;
		int r;

		if (end - off < SNAP_REC_HEADER) {
			why = "record header cut short";
			break;
		}
		len = get32(h);
		type = get16(h + 8);
		if (len == 0 || len > SNAP_MAX_PAYLOAD ||
		    len > end - off - SNAP_REC_HEADER) {
			why = "record length out of bounds";
			break;
		}
		if (!rec_checked(c, h, len,
				 off + pad8(SNAP_REC_HEADER + len))) {
			why = "record checksum mismatch";
			break;
		}
		r = type_rank(type);
		if (r < 0) {
			why = "unknown record type";
			break;
		}
		if (r < rank) {
			why = "record out of order";
			break;
		}
		rank = r;
		if (type == SNAP_EVENTS) {
			if (load_events(st, h + SNAP_REC_HEADER, len, info->lsn,
					&why) < 0)
				break;
		} else if (type == WAL_SCHEDULE) {
			uint32_t before = st->nss;
			if (state_apply(st, type,
					(const char *)h + SNAP_REC_HEADER, len,
					info->lsn, info->created_ms) < 0 ||
			    st->nss != before + 1) {
				why = "shared schedule record does not apply";
				break;
			}
		} else if (type == WAL_HOLIDAYS) {
			uint32_t before = st->nhc;
			if (state_apply(st, type,
					(const char *)h + SNAP_REC_HEADER, len,
					info->lsn, info->created_ms) < 0 ||
			    st->nhc != before + 1) {
				why = "holiday calendar record does not "
				      "apply";
				break;
			}
		} else if (type == WAL_HOOK) {
			uint32_t before = hooks_count(st);
			if (state_apply(st, type,
					(const char *)h + SNAP_REC_HEADER, len,
					info->lsn, info->created_ms) < 0 ||
			    hooks_count(st) != before + 1) {
				why = "hook record does not apply";
				break;
			}
		} else {
			uint32_t before = type == WAL_RESOURCE	? st->nres
					  : type == WAL_BOOKING ? st->nbk
								: st->net;
			uint32_t after;
			if (state_apply(st, type,
					(const char *)h + SNAP_REC_HEADER, len,
					info->lsn, info->created_ms) < 0) {
				why = type == WAL_RESOURCE &&
					      st->nres >= st->max_resources
					  ? "record does not apply: more "
					    "resources than this engine "
					    "has room for (--max-resources)"
					  : "record does not apply";
				break;
			}
			after = type == WAL_RESOURCE  ? st->nres
				: type == WAL_BOOKING ? st->nbk
						      : st->net;
			if (after != before + 1) {
				why = "record repeats an object";
				break;
			}
		}
		records++;
		if (records % SNAP_COMMIT_EVERY == 0)
			commit_loaded(st);
		off += pad8(SNAP_REC_HEADER + len);
	}
	commit_loaded(st);
	if (c) {
		pthread_join(ck.th, NULL);
		whole = ck.whole;
	} else {
		whole = crc32c(0, f->p, end);
	}
	if (why) {
		snprintf(err, errlen,
			 "%s: record %" PRIu64 " at offset %zu (%s): %s",
			 SNAP_FILE, records + 1, off,
			 end - off >= SNAP_REC_HEADER
			     ? type_name(get16(f->p + off + 8))
			     : "?",
			 why);
		return -EUCLEAN;
	}
	if (off != end || records != get64(t + 8)) {
		snprintf(err, errlen,
			 "%s: %" PRIu64
			 " records where the trailer says %" PRIu64,
			 SNAP_FILE, records, get64(t + 8));
		return -EUCLEAN;
	}
	if (whole != get32(t + 16)) {
		snprintf(err, errlen, "%s: file checksum mismatch", SNAP_FILE);
		return -EUCLEAN;
	}
	if (st->nres != info->resources || st->net != info->event_types ||
	    st->nbk != info->bookings || st->nev != info->events) {
		snprintf(err, errlen,
			 "%s: contents disagree with the header's counts",
			 SNAP_FILE);
		return -EUCLEAN;
	}
	info->records = records;
	return 0;
}

int snapshot_read(int dirfd, struct state *st, struct snapshot_info *info,
		  char *err, size_t errlen)
{
	struct sfile f;
	int rc;

	memset(info, 0, sizeof(*info));
	rc = map_file(dirfd, &f, err, errlen);
	if (rc <= 0)
		return rc;
	rc = check_header(&f, info, err, errlen);
	if (rc == 0)
		rc = reserve_events(st, info, err, errlen);
	if (rc == 0) {
		reserve_bookings(st, info);
		rc = load_records(&f, st, info, err, errlen);
	}
	munmap((void *)f.p, f.len);
	return rc;
}

int snapshot_load(int dirfd, struct state *st, uint64_t *lsn, char *err,
		  size_t errlen)
{
	struct snapshot_info info;
	int rc = snapshot_read(dirfd, st, &info, err, errlen);

	*lsn = rc == 0 ? info.lsn : 0;
	return rc;
}

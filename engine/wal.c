/*
 * wal.c - see wal.h for the format and the recovery rule.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "le.h"
#include "crc32c.h"
#include "fhdr.h"
#include "log.h"
#include "wal.h"
#include "wal_int.h"
#include "walprep.h"
#include "wire.h"

_Static_assert(WAL_SEG_HEADER == FHDR_SIZE,
	       "the header is the common file header");

/* Are the 64 bytes at p all zero?  (A run of unused log: recovery skips
 * such runs.  Word loads rather than a memcmp call: the newest segment's
 * unused rest is tens of megabytes of them.) */
static bool zero64(const unsigned char *p)
{
	uint64_t acc = 0;

	for (int k = 0; k < 64; k += 8)
		acc |= get64(p + k);
	return acc == 0;
}

struct wal {
	int dirfd;  /* DATA */
	int waldfd; /* DATA/wal */
	int fd;	    /* current segment */
	uint64_t seg_first;
	uint64_t seg_size;
	uint64_t cur_size;    /* of the current segment */
	uint32_t max_payload; /* WAL_MAX_PAYLOAD, lower in tests */
	off_t offset;	      /* next write offset in the current segment */
	uint64_t last_lsn;
	uint64_t durable_lsn;
	struct wbuf gather;
	uint32_t gather_records;
	uint64_t gather_first;
	/* Groups written or being written, oldest at flight_head: their
	 * buffers stay untouched until wal_group_done. */
	struct wbuf flight[WAL_MAX_FLIGHT];
	uint64_t flight_last[WAL_MAX_FLIGHT];
	unsigned flight_head;
	unsigned in_flight;
	uint32_t segments;
	struct wal_stats st;
	struct prep prep;
};

static int check_seg_header(const struct mapped *m, uint64_t first_lsn)
{
	if (fhdr_check(m->p, m->len, WAL_SEG_MAGIC, WAL_VERSION) != FHDR_OK ||
	    get64(m->p + 16) != first_lsn)
		return -1;
	return 0;
}

/*
 * After damage at (segment i, offset off) with expected LSN e, what valid
 * records with LSN >= e lie further on?  LATER_PROOF: one written after e
 * was durable (synced >= e), so e's damage came later: corruption.
 * LATER_STALE: only records written while e was not yet durable (a group
 * that overlapped a torn one, never acknowledged).  LATER_NONE: neither.
 */
enum later { LATER_NONE, LATER_STALE, LATER_PROOF };

static enum later later_records(const struct seg *segs, size_t nsegs, size_t i,
				const struct mapped *cur, size_t off,
				uint64_t e)
{
	enum later found = LATER_NONE;

	for (size_t s = i; s < nsegs && found != LATER_PROOF; s++) {
		struct mapped m;
		size_t pos;

		if (s == i) {
			m = *cur;
			pos = off + 8;
		} else {
			if (wal_map_segment(segs[s].dfd, segs[s].name, &m,
					    false) < 0)
				continue;
			pos = WAL_SEG_HEADER;
		}
		for (; pos + WAL_REC_HEADER <= m.len; pos += 8) {
			struct wal_rec r;
			uint32_t len;
			/* A segment's unused rest is zeros (megabytes of it
			 * in a prepared segment): skip zero runs 64 bytes at
			 * a time; a record starts with a non-zero length, so
			 * none begins inside a run. */
			while (pos + 64 + WAL_REC_HEADER <= m.len &&
			       zero64(m.p + pos))
				pos += 64;
			len = get32(m.p + pos);
			uint64_t lsn = get64(m.p + pos + 8);
			uint64_t synced = get64(m.p + pos + 16);
			if (len == 0 || len > WAL_MAX_PAYLOAD || lsn < e ||
			    synced >= lsn || !wal_parse_rec(&m, pos, &r, true))
				continue;
			if (synced >= e) {
				found = LATER_PROOF;
				break;
			}
			found = LATER_STALE;
		}
		if (s != i)
			wal_unmap_segment(&m);
	}
	return found;
}

/*
 * Collect the segments a scan reads: wal/archive/ (when asked) and wal/,
 * sorted, without duplicates.  *waldfd and *archfd are opened here (-1
 * when absent) and closed by the caller.
 */
static int scan_segments(int dirfd, bool archive, int *waldfd, int *archfd,
			 struct seg **out, size_t *n)
{
	size_t cap = 0, k = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	*archfd = -1;
	*waldfd = openat(dirfd, "wal", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*waldfd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (archive) {
		*archfd = openat(*waldfd, "archive",
				 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (*archfd < 0 && errno != ENOENT)
			return -errno;
		if (*archfd >= 0)
			rc = wal_add_segments(*archfd, true, out, n, &cap);
	}
	if (rc == 0)
		rc = wal_add_segments(*waldfd, false, out, n, &cap);
	if (rc < 0)
		return rc;
	if (*n == 0)
		return 0;
	qsort(*out, *n, sizeof(**out), wal_seg_cmp);
	/* A segment both archived and live (a crash between the two steps of
	 * a copy made by hand): the live one, sorted last, wins. */
	for (size_t i = 0; i < *n; i++) {
		if (i + 1 < *n &&
		    (*out)[i + 1].first_lsn == (*out)[i].first_lsn)
			continue;
		(*out)[k++] = (*out)[i];
	}
	*n = k;
	return 0;
}

int wal_scan(int dirfd, const struct wal_scan_opts *o, wal_fn fn, void *ctx,
	     struct wal_scan *res)
{
	struct seg *segs = NULL;
	size_t nsegs = 0;
	uint64_t expect = 0;
	int waldfd = -1, archfd = -1, rc;
	struct wal_ahead *ahead = NULL;

	memset(res, 0, sizeof(*res));
	rc = scan_segments(dirfd, o->archive, &waldfd, &archfd, &segs, &nsegs);
	if (rc < 0)
		goto out;
	res->segments = (uint32_t)nsegs;
	/* Checksums on another thread, ahead of this one: see walread.c.
	 * Without it the scan checks them itself. */
	ahead = wal_ahead_start(segs, nsegs);
	for (size_t i = 0; i < nsegs && res->verdict == WAL_CLEAN; i++) {
		struct mapped m;
		const struct mapped *am;
		size_t off = WAL_SEG_HEADER;
		uint64_t first = segs[i].first_lsn;

		/* LSNs up to covered_lsn are in the snapshot, so the log may
		 * begin, or resume after a gap, anywhere up to covered_lsn + 1;
		 * past that point every LSN must be there. */
		if (first <= o->covered_lsn + 1 && first > expect)
			expect = first;
		if (expect == 0 || first > expect) {
			res->bad_lsn = expect ? expect : o->covered_lsn + 1;
			res->bad_seg = first;
			res->bad_offset = 0;
			snprintf(res->detail, sizeof(res->detail),
				 "LSNs %" PRIu64 " to %" PRIu64
				 " are missing before segment %s",
				 res->bad_lsn, first - 1, segs[i].name);
			res->verdict = WAL_CORRUPT;
			break;
		}
		am = ahead ? wal_ahead_map(ahead, i) : NULL;
		if (am) {
			m = *am; /* the read-ahead's, unmapped by it */
		} else {
			rc = wal_map_segment(segs[i].dfd, segs[i].name, &m,
					     false);
			if (rc < 0)
				goto out;
		}
		if (check_seg_header(&m, first) < 0 || first != expect) {
			/* A segment whose header never reached the disk can
			 * only be the newest one, created just before a
			 * crash; anything else is damage. */
			res->bad_lsn = expect;
			res->bad_seg = first;
			res->bad_offset = 0;
			snprintf(res->detail, sizeof(res->detail),
				 "segment %s: %s", segs[i].name,
				 first != expect ? "overlaps the one before"
						 : "bad header");
			res->verdict = (i + 1 == nsegs && first == expect &&
					!segs[i].archived)
					   ? WAL_TORN
					   : WAL_CORRUPT;
			if (am == NULL)
				wal_unmap_segment(&m);
			break;
		}
		while (off + 4 <= m.len && get32(m.p + off) != 0) {
			struct wal_rec r;
			size_t end = off + WAL_REC_HEADER + get32(m.p + off);
			bool checked = am && wal_ahead_checked(ahead, i, end);
			if (!wal_parse_rec(&m, off, &r, !checked) ||
			    r.lsn != expect) {
				res->bad_lsn = expect;
				res->bad_seg = first;
				res->bad_offset = off;
				snprintf(res->detail, sizeof(res->detail),
					 "segment %s offset %zu: %s",
					 segs[i].name, off,
					 wal_parse_rec(&m, off, &r, true)
					     ? "unexpected LSN"
					     : "record cut short or failing "
					       "its checksum");
				res->verdict =
				    later_records(segs, nsegs, i, &m, off,
						  expect) == LATER_PROOF
					? WAL_CORRUPT
					: WAL_TORN;
				break;
			}
			r.seg_first_lsn = first;
			if (res->first_lsn == 0)
				res->first_lsn = r.lsn;
			res->last_lsn = r.lsn;
			res->records++;
			res->bytes += WAL_REC_HEADER + r.len;
			expect = r.lsn + 1;
			if (r.lsn >= o->from_lsn && fn) {
				rc = fn(ctx, &r);
				if (rc) {
					res->bad_lsn = r.lsn;
					if (am == NULL)
						wal_unmap_segment(&m);
					goto out;
				}
			}
			off += pad8(WAL_REC_HEADER + r.len);
		}
		if (res->verdict == WAL_CLEAN && i + 1 == nsegs &&
		    off + WAL_REC_HEADER <= m.len) {
			enum later l =
			    later_records(segs, nsegs, i, &m, off, expect);
			if (l != LATER_NONE) {
				res->bad_lsn = expect;
				res->bad_seg = first;
				res->bad_offset = off;
			}
			if (l == LATER_PROOF) {
				/* Zeros where the next record belongs, yet a
				 * record written after it was durable
				 * follows: a write that was acknowledged got
				 * lost. */
				snprintf(res->detail, sizeof(res->detail),
					 "segment %s offset %zu: zeros where a "
					 "record should be, before later "
					 "durable records",
					 segs[i].name, off);
				res->verdict = WAL_CORRUPT;
			} else if (l == LATER_STALE) {
				/* A group written while the one before it
				 * was in flight, which never reached the
				 * disk: both were never acknowledged.  The
				 * cut removes the later one, so that it can
				 * never be taken for the records that will
				 * be written where the first should be. */
				snprintf(res->detail, sizeof(res->detail),
					 "segment %s offset %zu: zeros where a "
					 "record should be, then records of a "
					 "group that was never durable",
					 segs[i].name, off);
				res->verdict = WAL_TORN;
			}
		}
		if (res->verdict == WAL_TORN &&
		    (i + 1 < nsegs || segs[i].archived)) {
			/* Damage before the newest segment is never a torn
			 * tail: later segments exist only after a group
			 * in this one was durable. */
			res->verdict = WAL_CORRUPT;
		}
		if (am == NULL)
			wal_unmap_segment(&m);
	}
	rc = 0;
out:
	wal_ahead_end(ahead);
	free(segs);
	if (archfd >= 0)
		close(archfd);
	if (waldfd >= 0)
		close(waldfd);
	return rc;
}

int wal_scan_dir(int dirfd, uint64_t after_lsn, wal_fn fn, void *ctx,
		 struct wal_scan *res)
{
	struct wal_scan_opts o = {after_lsn, after_lsn + 1, false};
	return wal_scan(dirfd, &o, fn, ctx, res);
}

/*
 * Start the segment for first_lsn: the prepared one when ready; else, at
 * open (at_open), one written with zeros now (FIRST_SEG bytes at most); on
 * the commit path, a fallocated one.
 */
static int new_segment(struct wal *w, uint64_t first_lsn, bool at_open)
{
	uint64_t size = w->seg_size;
	unsigned char h[WAL_SEG_HEADER];
	char name[32];
	int fd, rc;

	snprintf(name, sizeof(name), "%016" PRIx64 ".wal", first_lsn);
	fhdr_begin(h, WAL_SEG_MAGIC, WAL_VERSION, first_lsn, now_ms());
	fhdr_seal(h);
	fd = prep_take_next(&w->prep, name, &size);
	if (fd >= 0) {
		/* Zero-filled and synced, now named: write its header.  The
		 * first group's fdatasync on this file makes the header
		 * durable with the records; a crash before that leaves a
		 * newest segment with a bad header, a torn tail. */
		if (prep_pwrite_all(fd, h, sizeof(h), 0) < 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		fd = openat(w->waldfd, name,
			    O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (fd < 0)
			return -errno;
		/* Preallocating keeps the file size constant across groups,
		 * though not the blocks' state (see "Segment preparation"). */
		if (at_open) {
			size = size < FIRST_SEG ? size : FIRST_SEG;
			rc = -prep_zero_fill(fd, size, NULL);
		} else {
			uint64_t nf = w->prep.fallbacks; /* this one included */
			if ((nf & (nf - 1)) == 0)	 /* 1st, 2nd, 4th... */
				log_msg("WAL segment %s: none prepared in "
					"time, preallocating one (%" PRIu64
					" times so far)",
					name, nf);
			rc = posix_fallocate(fd, 0, (off_t)size);
		}
		if (rc != 0 && rc != EOPNOTSUPP) {
			close(fd);
			return -rc;
		}
		if (pwrite(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
		    fdatasync(fd) < 0) {
			rc = -errno;
			close(fd);
			return rc ? rc : -EIO;
		}
	}
	rc = wal_fsync_dir(w->waldfd);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = fd;
	w->seg_first = first_lsn;
	w->offset = WAL_SEG_HEADER;
	w->cur_size = size;
	w->segments++;
	prep_set_current(&w->prep, size, WAL_SEG_HEADER);
	return 0;
}

/* Zero everything from off to the end of the segment, durably. */
static int cut_tail(int waldfd, uint64_t seg_first, uint64_t off)
{
	char name[32];
	struct stat st;
	int fd, rc = 0;

	snprintf(name, sizeof(name), "%016" PRIx64 ".wal", seg_first);
	fd = openat(waldfd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if ((off_t)off < st.st_size) {
		static const char zeros[65536];
		off_t pos = (off_t)off;
		while (pos < st.st_size) {
			size_t n = (size_t)(st.st_size - pos);
			if (n > sizeof(zeros))
				n = sizeof(zeros);
			if (pwrite(fd, zeros, n, pos) != (ssize_t)n) {
				rc = -errno;
				goto out;
			}
			pos += (off_t)n;
		}
		if (fdatasync(fd) < 0)
			rc = -errno;
	}
out:
	close(fd);
	return rc;
}

int wal_open(struct wal **out, int dirfd, const struct wal_opts *opts,
	     wal_fn fn, void *ctx, struct wal_scan *scan, char *err,
	     size_t errlen)
{
	struct wal *w;
	struct seg *segs = NULL;
	size_t nsegs = 0;
	int rc;

	*out = NULL;
	if (mkdirat(dirfd, "wal", 0750) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create wal/: %s",
			 strerror(errno));
		return -errno;
	}
	rc = wal_scan_dir(dirfd, opts->after_lsn, fn, ctx, scan);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the log: %s", strerror(-rc));
		return rc;
	}
	if (rc > 0) {
		snprintf(err, errlen,
			 "the record at LSN %" PRIu64
			 " does not apply (code %d); inspect it with "
			 "`bookd-replay dump --from %" PRIu64 "`",
			 scan->bad_lsn, rc, scan->bad_lsn);
		return -EINVAL;
	}
	if (scan->verdict == WAL_CORRUPT) {
		snprintf(err, errlen,
			 "the log is corrupt at LSN %" PRIu64
			 " (%s); valid records end at LSN %" PRIu64
			 "; inspect with `bookd-replay verify` and recover "
			 "with `bookd-replay replay DIR --into NEWDIR "
			 "--until %" PRIu64 "`",
			 scan->bad_lsn, scan->detail, scan->last_lsn,
			 scan->last_lsn);
		return -EUCLEAN;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		snprintf(err, errlen, "cannot open the log: out of memory");
		return -ENOMEM;
	}
	w->fd = -1;
	w->prep.next_fd = -1;
	w->dirfd = dirfd;
	w->max_payload = WAL_MAX_PAYLOAD;
	w->seg_size =
	    opts->segment_size ? opts->segment_size : WAL_DEFAULT_SEGMENT;
	w->waldfd = openat(dirfd, "wal", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->waldfd < 0) {
		rc = -errno;
		goto fail;
	}
	/* The snapshot may reach further than the log (a log written with
	 * --sync off can lose its tail); new records follow both. */
	w->last_lsn = w->durable_lsn =
	    scan->last_lsn > opts->after_lsn ? scan->last_lsn : opts->after_lsn;
	/* A segment being prepared when the process stopped: never part of
	 * the log (its name is not a segment's), made again when needed. */
	if (unlinkat(w->waldfd, PREP_NAME, 0) < 0 && errno != ENOENT) {
		rc = -errno;
		goto fail;
	}
	prep_start(&w->prep, w->waldfd, w->seg_size);
	if (scan->verdict == WAL_TORN) {
		log_msg("cutting a torn log tail at LSN %" PRIu64 ": %s",
			scan->bad_lsn, scan->detail);
		if (scan->bad_offset == 0) {
			char name[32];
			snprintf(name, sizeof(name), "%016" PRIx64 ".wal",
				 scan->bad_seg);
			if (unlinkat(w->waldfd, name, 0) < 0 ||
			    wal_fsync_dir(w->waldfd) < 0) {
				rc = -errno;
				goto fail;
			}
		} else {
			rc = cut_tail(w->waldfd, scan->bad_seg,
				      scan->bad_offset);
			if (rc < 0)
				goto fail;
		}
	}
	rc = wal_list_segments(w->waldfd, &segs, &nsegs);
	if (rc < 0)
		goto fail;
	w->segments = (uint32_t)nsegs;
	if (nsegs > 0) {
		/* Append to the newest segment, after its last record, when
		 * that record is the last LSN. */
		struct mapped m;
		size_t off = WAL_SEG_HEADER;
		struct wal_rec r;
		const struct seg *sg = &segs[nsegs - 1];
		uint64_t last = sg->first_lsn - 1;

		rc = wal_map_segment(w->waldfd, sg->name, &m, false);
		if (rc < 0)
			goto fail;
		while (wal_parse_rec(&m, off, &r, true)) {
			last = r.lsn;
			off += pad8(WAL_REC_HEADER + r.len);
		}
		wal_unmap_segment(&m);
		if (last == w->last_lsn) {
			w->fd = openat(w->waldfd, sg->name, O_RDWR | O_CLOEXEC);
			if (w->fd < 0) {
				rc = -errno;
				goto fail;
			}
			w->seg_first = sg->first_lsn;
			w->offset = (off_t)off;
			/* A short file (a first segment, or one cut by
			 * hand) grows up to the usual size. */
			w->cur_size = m.len > w->seg_size ? m.len : w->seg_size;
			prep_set_current(&w->prep, w->cur_size, off);
		}
	}
	if (w->fd < 0) {
		/* No segment yet, or the snapshot reaches past the newest
		 * one: the next LSN starts a segment of its own, which the
		 * recovery rule accepts because the snapshot covers the
		 * gap. */
		rc = new_segment(w, w->last_lsn + 1, true);
		if (rc < 0)
			goto fail;
	}
	free(segs);
	*out = w;
	return 0;
fail:
	snprintf(err, errlen, "cannot open the log: %s", strerror(-rc));
	free(segs);
	wal_close(w);
	return rc;
}

void wal_close(struct wal *w)
{
	if (w == NULL)
		return;
	prep_stop(&w->prep);
	if (w->fd >= 0)
		close(w->fd);
	if (w->waldfd >= 0)
		close(w->waldfd);
	wbuf_free(&w->gather);
	for (unsigned i = 0; i < WAL_MAX_FLIGHT; i++)
		wbuf_free(&w->flight[i]);
	free(w);
}

uint64_t wal_append(struct wal *w, uint16_t type, const void *payload,
		    uint32_t len, int64_t at_ms)
{
	unsigned char h[WAL_REC_HEADER];
	size_t total = pad8(WAL_REC_HEADER + len);
	uint64_t lsn;

	/* Recovery refuses a record over the limit as corruption, so one
	 * must never be acknowledged: refuse it here, before it has an LSN. */
	if (len > w->max_payload)
		return 0;
	lsn = ++w->last_lsn;

	memset(h, 0, sizeof(h));
	put32(h, len);
	put64(h + 8, lsn);
	put64(h + 24, (uint64_t)at_ms);
	put16(h + 32, type);
	wbuf_reserve(&w->gather, total);
	wbuf_append(&w->gather, h, sizeof(h));
	wbuf_append(&w->gather, payload, len);
	memset(w->gather.data + w->gather.len, 0, total - WAL_REC_HEADER - len);
	w->gather.len += total - WAL_REC_HEADER - len;
	if (w->gather_records++ == 0)
		w->gather_first = lsn;
	return lsn;
}

uint64_t wal_last_lsn(const struct wal *w)
{
	return w->last_lsn;
}

uint64_t wal_durable_lsn(const struct wal *w)
{
	return w->durable_lsn;
}

int wal_has_pending(const struct wal *w)
{
	return w->gather_records > 0;
}

int wal_in_flight(const struct wal *w)
{
	return (int)w->in_flight;
}

int wal_group_begin(struct wal *w, struct wal_group *g)
{
	struct wbuf tmp;
	size_t off = 0;
	unsigned slot;
	int rc;

	if (w->in_flight == WAL_MAX_FLIGHT || w->gather_records == 0)
		return 0;
	if ((uint64_t)w->offset + w->gather.len > w->cur_size &&
	    (uint64_t)w->offset > WAL_SEG_HEADER) {
		/* A new segment starts only when every group of this one is
		 * durable: recovery calls damage before the newest segment
		 * corruption, and an fdatasync of the new file would not
		 * cover the old one. */
		if (w->in_flight > 0)
			return 0;
		rc = new_segment(w, w->gather_first, false);
		if (rc < 0)
			return rc;
	}
	/* Seal: every record learns what was really durable when it was
	 * written (a group still in flight is not), then gets its
	 * checksum. */
	while (off < w->gather.len) {
		unsigned char *h = (unsigned char *)w->gather.data + off;
		uint32_t len = get32(h);
		put64(h + 16, w->durable_lsn);
		put32(h + 4, crc32c(0, h + 8, WAL_REC_HEADER - 8 + len));
		off += pad8(WAL_REC_HEADER + len);
	}
	slot = (w->flight_head + w->in_flight) % WAL_MAX_FLIGHT;
	tmp = w->flight[slot];
	w->flight[slot] = w->gather;
	w->gather = tmp;
	w->gather.len = 0;
	g->fd = w->fd;
	g->buf = w->flight[slot].data;
	g->len = w->flight[slot].len;
	g->offset = w->offset;
	g->first_lsn = w->gather_first;
	g->last_lsn = w->last_lsn;
	g->records = w->gather_records;
	w->flight_last[slot] = w->last_lsn;
	w->offset += (off_t)w->flight[slot].len;
	prep_reserve(&w->prep, (uint64_t)w->offset);
	w->in_flight++;
	w->st.groups++;
	w->st.records += w->gather_records;
	w->st.bytes += w->flight[slot].len;
	w->gather_records = 0;
	return 1;
}

void wal_group_done(struct wal *w)
{
	unsigned slot = w->flight_head;

	assert(w->in_flight > 0);
	w->durable_lsn = w->flight_last[slot];
	w->flight[slot].len = 0;
	w->flight_head = (slot + 1) % WAL_MAX_FLIGHT;
	w->in_flight--;
}

void wal_get_stats(const struct wal *w, struct wal_stats *st)
{
	*st = w->st;
	st->segments = w->segments;
	if (w->prep.started) {
		pthread_mutex_lock((pthread_mutex_t *)&w->prep.mu);
		st->seg_prepared = w->prep.prepared;
		st->seg_fallbacks = w->prep.fallbacks;
		st->seg_ready = w->prep.next_fd >= 0;
		pthread_mutex_unlock((pthread_mutex_t *)&w->prep.mu);
	}
}

int wal_trim(struct wal *w, uint64_t upto_lsn, bool archive)
{
	int n = wal_trim_dir(w->waldfd, upto_lsn, archive, w->seg_first);

	if (n > 0)
		w->segments -= (uint32_t)n;
	return n;
}

void wal_recount(struct wal *w)
{
	struct seg *segs = NULL;
	size_t nsegs = 0;

	if (wal_list_segments(w->waldfd, &segs, &nsegs) == 0)
		w->segments = (uint32_t)nsegs;
	free(segs);
}

#ifdef BOOKD_TEST_HOOKS
void wal_set_max_payload(struct wal *w, uint32_t max)
{
	w->max_payload = max < WAL_MAX_PAYLOAD ? max : WAL_MAX_PAYLOAD;
}
#endif

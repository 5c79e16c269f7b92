/*
 * test_wal.c - the write-ahead log without an engine: logs are built in a
 * temporary directory with wal_open / wal_append / wal_group_begin + pwrite
 * + wal_group_done, exactly the calls the server makes, then damaged on
 * purpose and read back with wal_scan_dir and wal_open.
 *
 * Covers the recovery rule of wal.h: a log cut at every record boundary
 * and at random offsets inside records (followed by zeros, by garbage, or
 * by nothing) always recovers exactly its complete prefix; a damaged record
 * with later durable groups after it is corruption naming its LSN; a newest
 * segment with a bad header is a torn tail and an older one corruption;
 * segments roll at their size; snapshot coverage lets the log start late
 * and wal_trim lets segments go or archives them; a damaged record is found
 * however far ahead of the scan its checksum-checking thread runs.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "suite_main.h"
#include "le.h"
#include "wal.h"

#define MAX_RECS 512

static char dir[256];
static int dirfd_ = -1;

/* Where each record landed, from a clean scan. */
struct where {
	uint64_t seg;
	uint64_t off;
	uint32_t len;
};

struct seen {
	uint64_t n;
	uint64_t lsns[MAX_RECS];
	uint64_t last;
	int ordered; /* every LSN was the previous one + 1 */
	struct where at[MAX_RECS];
};

/* A deterministic generator, so a failure can be reproduced. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void rm_tree(const char *path)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
}

static void setup(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/bookd-wal-XXXXXX", t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dirfd_, 0);
}

static void teardown(void)
{
	close(dirfd_);
	rm_tree(dir);
}

static int collect(void *ctx, const struct wal_rec *r)
{
	struct seen *s = ctx;
	if (s->n > 0 && r->lsn != s->last + 1)
		s->ordered = 0;
	if (s->n < MAX_RECS) {
		s->lsns[s->n] = r->lsn;
		s->at[s->n] =
		    (struct where){r->seg_first_lsn, r->offset, r->len};
	}
	s->n++;
	s->last = r->lsn;
	return 0;
}

static void scan(uint64_t after, struct seen *s, struct wal_scan *res)
{
	memset(s, 0, sizeof(*s));
	s->ordered = 1;
	ck_assert_int_eq(wal_scan_dir(dirfd_, after, collect, s, res), 0);
}

/* Payload bytes of record lsn: its length and content follow from the LSN,
 * so a scan can check that each record came back intact. */
static uint32_t payload_of(uint64_t lsn, unsigned char *buf)
{
	uint32_t len = 1 + (uint32_t)((lsn * 37) % 300);
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(lsn * 131 + i);
	return len;
}

static void write_group(struct wal *w)
{
	struct wal_group g;
	ck_assert_int_eq(wal_group_begin(w, &g), 1);
	ck_assert_int_eq(pwrite(g.fd, g.buf, g.len, g.offset), (ssize_t)g.len);
	wal_group_done(w);
}

/* Open (or create) the log, append n records in groups of 1..max_group,
 * each group written before the next, and close it.  Returns the last
 * LSN. */
static uint64_t append_log(uint64_t seg_size, uint64_t after, int n,
			   int max_group)
{
	struct wal *w;
	struct wal_opts o = {seg_size, after};
	struct wal_scan sc;
	char err[256];
	unsigned char buf[512];
	uint64_t last;
	int in_group = 0, group = 1 + (int)rnd((uint32_t)max_group);

	ck_assert_msg(
	    wal_open(&w, dirfd_, &o, NULL, NULL, &sc, err, sizeof(err)) == 0,
	    "wal_open: %s", err);
	for (int i = 0; i < n; i++) {
		uint64_t lsn = wal_last_lsn(w) + 1;
		uint32_t len = payload_of(lsn, buf);
		ck_assert_uint_eq(wal_append(w, WAL_BOOKING, buf, len,
					     (int64_t)(1700000000000ll + lsn)),
				  lsn);
		if (++in_group == group) {
			write_group(w);
			in_group = 0;
			group = 1 + (int)rnd((uint32_t)max_group);
		}
	}
	if (wal_has_pending(w))
		write_group(w);
	ck_assert_uint_eq(wal_durable_lsn(w), wal_last_lsn(w));
	last = wal_last_lsn(w);
	wal_close(w);
	return last;
}

static void check_payloads(const struct seen *s)
{
	unsigned char buf[512];
	for (uint64_t i = 0; i < s->n && i < MAX_RECS; i++)
		ck_assert_uint_eq(s->at[i].len, payload_of(s->lsns[i], buf));
}

static char *seg_path(uint64_t first, char *buf, size_t len)
{
	snprintf(buf, len, "%s/wal/%016" PRIx64 ".wal", dir, first);
	return buf;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;
	long n;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void spit(const char *path, const unsigned char *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, len), (ssize_t)len);
	close(fd);
}

static int count_files(const char *sub)
{
	char cmd[512], out[32];
	FILE *p;
	int n;

	snprintf(cmd, sizeof(cmd), "ls '%s/%s' | grep -c '\\.wal$'", dir, sub);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(out, sizeof(out), p));
	pclose(p);
	n = atoi(out);
	return n;
}

/*
 * Damage kinds after a cut at byte c of the segment: the rest zeroed (a
 * preallocated file whose last write never happened), garbage (a write that
 * reached the disk only in part, over old bytes), or the file ending there.
 */
enum tail { TAIL_ZERO, TAIL_GARBAGE, TAIL_NONE };

static void cut(const char *path, const unsigned char *orig, size_t len,
		size_t c, enum tail how)
{
	unsigned char *p = malloc(len);

	ck_assert_ptr_nonnull(p);
	memcpy(p, orig, c);
	if (how == TAIL_ZERO)
		memset(p + c, 0, len - c);
	for (size_t i = c; how == TAIL_GARBAGE && i < len; i++)
		p[i] = (unsigned char)(1 + rnd(255));
	spit(path, p, how == TAIL_NONE ? c : len);
	free(p);
}

/* The log recovers exactly records 1..k, and wal_open makes it appendable
 * again right after record k. */
static void expect_prefix(uint64_t k, int reopen)
{
	struct seen s;
	struct wal_scan res;

	scan(0, &s, &res);
	ck_assert_msg(res.verdict != WAL_CORRUPT, "corrupt: %s", res.detail);
	ck_assert_uint_eq(res.last_lsn, k);
	ck_assert_uint_eq(s.n, k);
	ck_assert(s.ordered);
	if (k)
		ck_assert_uint_eq(s.lsns[0], 1);
	check_payloads(&s);
	if (!reopen)
		return;
	ck_assert_uint_eq(append_log(1 << 20, 0, 3, 2), k + 3);
	scan(0, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(s.n, k + 3);
	ck_assert(s.ordered);
	check_payloads(&s);
}

START_TEST(torn_tail_every_boundary)
{
	struct seen s;
	struct wal_scan res;
	char path[400];
	unsigned char *orig;
	size_t len;
	uint64_t n = append_log(1 << 20, 0, 60, 5);

	scan(0, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(s.n, n);
	orig = slurp(seg_path(1, path, sizeof(path)), &len);
	for (enum tail how = TAIL_ZERO; how <= TAIL_NONE; how++) {
		/* A cut just before record k+1 keeps records 1..k. */
		for (uint64_t k = 0; k <= n; k++) {
			size_t c = k < n ? s.at[k].off : len;
			if (how == TAIL_NONE && k == n)
				continue;
			cut(path, orig, len, c, how);
			expect_prefix(k, how == TAIL_ZERO || k % 7 == 0);
		}
	}
	spit(path, orig, len);
	free(orig);
}
END_TEST

START_TEST(torn_tail_inside_records)
{
	struct seen s;
	struct wal_scan res;
	char path[400];
	unsigned char *orig;
	size_t len;
	uint64_t n = append_log(1 << 20, 0, 60, 5);

	scan(0, &s, &res);
	orig = slurp(seg_path(1, path, sizeof(path)), &len);
	for (int i = 0; i < 300; i++) {
		uint64_t k = rnd((uint32_t)n);
		/* Somewhere inside record k+1: header or payload. */
		size_t span = 40 + s.at[k].len;
		size_t c = s.at[k].off + 1 + rnd((uint32_t)span - 1);
		enum tail how = (enum tail)rnd(3);
		cut(path, orig, len, c, how);
		expect_prefix(k, i % 10 == 0);
	}
	free(orig);
}
END_TEST

START_TEST(corruption_names_lsn)
{
	struct seen clean, s;
	struct wal_scan res;
	char path[400], err[512];
	unsigned char *orig, *p;
	size_t len;
	uint64_t n;
	struct wal *w;
	struct wal_opts o = {1 << 20, 0};

	/* One record per group, so every record but the last has a later
	 * durable group proving it was durable. */
	n = append_log(1 << 20, 0, 30, 1);
	scan(0, &clean, &res);
	orig = slurp(seg_path(1, path, sizeof(path)), &len);
	p = malloc(len);
	ck_assert_ptr_nonnull(p);
	for (uint64_t k = 0; k < n; k++) {
		/* The length word, the checksum, the LSN, the payload, and
		 * the whole record lost (zeros). */
		size_t where[] = {0, 5, 9, 40 + clean.at[k].len / 2, 0};
		for (size_t j = 0; j < sizeof(where) / sizeof(where[0]); j++) {
			memcpy(p, orig, len);
			if (j == 4)
				memset(p + clean.at[k].off, 0,
				       40 + clean.at[k].len);
			else
				p[clean.at[k].off + where[j]] ^= 0x40;
			spit(path, p, len);
			scan(0, &s, &res);
			if (k + 1 == n) {
				/* The last group has nothing after it: a torn
				 * tail, never acknowledged. */
				ck_assert_int_ne(res.verdict, WAL_CORRUPT);
				ck_assert_uint_eq(res.last_lsn, n - 1);
			} else {
				ck_assert_msg(res.verdict == WAL_CORRUPT,
					      "record %d damage %d: verdict %d",
					      (int)k + 1, (int)j,
					      (int)res.verdict);
				ck_assert_uint_eq(res.bad_lsn, k + 1);
				ck_assert_uint_eq(res.last_lsn, k);
			}
		}
	}
	/* wal_open refuses a corrupt log, names the LSN and changes
	 * nothing. */
	memcpy(p, orig, len);
	p[clean.at[10].off + 44] ^= 1;
	spit(path, p, len);
	ck_assert_int_eq(
	    wal_open(&w, dirfd_, &o, NULL, NULL, &res, err, sizeof(err)),
	    -EUCLEAN);
	ck_assert_msg(strstr(err, "corrupt at LSN 11 ") != NULL, "message: %s",
		      err);
	free(orig);
	orig = slurp(path, &len);
	ck_assert_int_eq(memcmp(orig, p, len), 0);
	free(orig);
	free(p);
}
END_TEST

START_TEST(segments_roll)
{
	struct seen s;
	struct wal_scan res;
	uint64_t n = append_log(4096, 0, 200, 4);
	int files = count_files("wal");

	scan(0, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(s.n, n);
	ck_assert(s.ordered);
	check_payloads(&s);
	ck_assert_int_gt(files, 5);
	ck_assert_uint_eq(res.segments, (uint32_t)files);
	/* Every record lies inside one segment, which is named after the
	 * first LSN it holds. */
	for (uint64_t i = 0; i < n; i++) {
		ck_assert_uint_le(s.at[i].seg, s.lsns[i]);
		if (i == 0 || s.at[i].seg != s.at[i - 1].seg)
			ck_assert_uint_eq(s.at[i].seg, s.lsns[i]);
	}
	/* Appending after a reopen continues in the newest segment. */
	ck_assert_uint_eq(append_log(4096, 0, 50, 3), n + 50);
	scan(0, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(s.n, n + 50);
	ck_assert(s.ordered);
}
END_TEST

/* Segment first LSNs, in order, from a clean scan. */
static int seg_firsts(const struct seen *s, uint64_t *out, int max)
{
	int k = 0;
	for (uint64_t i = 0; i < s->n && i < MAX_RECS; i++)
		if ((i == 0 || s->at[i].seg != s->at[i - 1].seg) && k < max)
			out[k++] = s->at[i].seg;
	return k;
}

/* Wait (bounded) until the log has the next segment prepared. */
static bool wait_ready(struct wal *w, int ms)
{
	struct wal_stats st;
	for (int i = 0; i < ms; i++) {
		wal_get_stats(w, &st);
		if (st.seg_ready)
			return true;
		usleep(1000);
	}
	return false;
}

/*
 * Segments prepared in the background (zero-filled, synced, renamed at the
 * switch) hold the log like any other: every record replays while the
 * thread prepares files as groups are written, switches use prepared files
 * when ready, and a preparation file is never read as log.  A crash
 * right after a switch, before the header reached the disk, is a torn tail:
 * the records after it are never replayed and the log goes on after the
 * last complete record.
 */
START_TEST(prepared_segments)
{
	const uint64_t seg = 32 << 10;
	struct wal *w;
	struct wal_opts o = {seg, 0};
	struct wal_scan res;
	struct wal_stats st;
	struct seen s;
	char err[256], path[400];
	unsigned char buf[512], *p;
	uint64_t newest = 1, n;
	size_t len;

	ck_assert_msg(
	    wal_open(&w, dirfd_, &o, NULL, NULL, &res, err, sizeof(err)) == 0,
	    "wal_open: %s", err);
	/* Bursts with no waiting race the preparation of the next file. */
	for (int g = 0; g < 1000; g++) {
		for (int r = 0; r < 1 + g % 4; r++) {
			uint64_t lsn = wal_last_lsn(w) + 1;
			uint32_t l = payload_of(lsn, buf);
			ck_assert_uint_eq(wal_append(w, WAL_BOOKING, buf, l, 1),
					  lsn);
		}
		write_group(w);
		wal_get_stats(w, &st);
		if (st.segments >= 2 && st.segments < 6)
			(void)wait_ready(w, 20);
	}
	wal_get_stats(w, &st);
	ck_assert_uint_ge(st.segments, 8);
	ck_assert_uint_ge(st.seg_prepared, 3);
	/* The last switch went to a prepared segment: wait for the next and
	 * switch into it, then stop as a crash would. */
	ck_assert(wait_ready(w, 5000));
	for (uint64_t segs = st.segments; st.segments == segs;) {
		uint64_t lsn = wal_last_lsn(w) + 1;
		uint32_t l = payload_of(lsn, buf);
		ck_assert_uint_eq(wal_append(w, WAL_BOOKING, buf, l, 1), lsn);
		write_group(w);
		wal_get_stats(w, &st);
		newest = lsn;
	}
	n = wal_last_lsn(w);
	wal_close(w);

	scan(0, &s, &res);
	ck_assert_msg(res.verdict == WAL_CLEAN, "%s", res.detail);
	ck_assert_uint_eq(res.last_lsn, n);
	ck_assert_uint_eq(res.segments, st.segments);
	ck_assert(s.ordered);
	check_payloads(&s);
	/* A prepared segment has its full size, zeros after its records. */
	p = slurp(seg_path(newest, path, sizeof(path)), &len);
	ck_assert_uint_eq(len, seg);
	free(p);

	/* A preparation file left by a crash, holding a copy of a valid
	 * segment: never replayed, removed by wal_open. */
	p = slurp(seg_path(1, path, sizeof(path)), &len);
	snprintf(path, sizeof(path), "%s/wal/next.wal.prep", dir);
	spit(path, p, len);
	free(p);
	scan(0, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(res.last_lsn, n);

	/* The newest (prepared) segment's header never reached the disk. */
	p = slurp(seg_path(newest, path, sizeof(path)), &len);
	memset(p, 0, WAL_SEG_HEADER);
	spit(path, p, len);
	free(p);
	scan(0, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_TORN);
	ck_assert_uint_eq(res.last_lsn, newest - 1);
	ck_assert_uint_eq(append_log(seg, 0, 5, 2), newest + 4);
	scan(0, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(res.last_lsn, newest + 4);
	ck_assert(s.ordered);
	check_payloads(&s);
}
END_TEST

START_TEST(newest_segment_bad_header)
{
	struct seen s;
	struct wal_scan res;
	uint64_t firsts[64], n = append_log(4096, 0, 120, 3);
	int k;
	char path[400];
	unsigned char *orig, *p;
	size_t len;

	scan(0, &s, &res);
	k = seg_firsts(&s, firsts, 64);
	ck_assert_int_gt(k, 3);
	/* The newest segment's header never reached the disk: torn, and the
	 * log ends before it. */
	orig = slurp(seg_path(firsts[k - 1], path, sizeof(path)), &len);
	p = malloc(len);
	ck_assert_ptr_nonnull(p);
	memcpy(p, orig, len);
	p[20] ^= 0xff;
	spit(path, p, len);
	scan(0, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_TORN);
	ck_assert_uint_eq(res.last_lsn, firsts[k - 1] - 1);
	ck_assert_uint_eq(s.n, firsts[k - 1] - 1);
	/* wal_open drops it and appends after the last complete record. */
	ck_assert_uint_eq(append_log(4096, 0, 5, 2), firsts[k - 1] + 4);
	scan(0, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(s.n, firsts[k - 1] + 4);
	ck_assert(s.ordered);
	free(orig);
	/* An older segment with a bad header is corruption. */
	orig = slurp(seg_path(firsts[1], path, sizeof(path)), &len);
	orig[3] ^= 1;
	spit(path, orig, len);
	scan(0, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CORRUPT);
	ck_assert_uint_eq(res.bad_lsn, firsts[1]);
	free(orig);
	free(p);
	(void)n;
}
END_TEST

START_TEST(snapshot_coverage)
{
	struct seen s;
	struct wal_scan res;
	uint64_t firsts[64], n = append_log(4096, 0, 150, 3);
	char path[400];
	int k;

	scan(0, &s, &res);
	k = seg_firsts(&s, firsts, 64);
	ck_assert_int_gt(k, 3);
	/* Without the first two segments the log starts at firsts[2]: fine
	 * when a snapshot covers everything before it... */
	ck_assert_int_eq(unlink(seg_path(firsts[0], path, sizeof(path))), 0);
	ck_assert_int_eq(unlink(seg_path(firsts[1], path, sizeof(path))), 0);
	scan(firsts[2] - 1, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(res.first_lsn, firsts[2]);
	ck_assert_uint_eq(s.n, n - firsts[2] + 1);
	/* ...or more, in which case records up to the snapshot are skipped. */
	scan(firsts[2] + 5, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(s.n, n - firsts[2] - 5);
	ck_assert_uint_eq(s.lsns[0], firsts[2] + 6);
	/* ...and corruption naming the first missing LSN when not. */
	scan(firsts[2] - 2, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CORRUPT);
	ck_assert_uint_eq(res.bad_lsn, firsts[2] - 1);
	scan(0, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CORRUPT);
	ck_assert_uint_eq(res.bad_lsn, 1);
	/* A hole in the middle past the snapshot is corruption too. */
	ck_assert_int_eq(unlink(seg_path(firsts[3], path, sizeof(path))), 0);
	scan(firsts[2] - 1, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CORRUPT);
	ck_assert_uint_eq(res.bad_lsn, firsts[3]);
	/* Unless the snapshot covers the hole. */
	scan(firsts[4] - 1, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(s.n, n - firsts[4] + 1);
}
END_TEST

START_TEST(snapshot_past_log_end)
{
	struct seen s;
	struct wal_scan res;
	uint64_t n = append_log(1 << 20, 0, 10, 2);

	/* A snapshot at LSN 25 over a log that ends at 10: new records take
	 * LSN 26 on, in a segment of their own, and the whole reads back. */
	ck_assert_uint_eq(n, 10);
	ck_assert_uint_eq(append_log(1 << 20, 25, 4, 2), 29);
	scan(25, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(s.n, 4);
	ck_assert_uint_eq(s.lsns[0], 26);
	ck_assert_int_eq(count_files("wal"), 2);
	/* An empty log under a snapshot starts at its LSN + 1. */
	rm_tree(dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	close(dirfd_);
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_uint_eq(append_log(1 << 20, 500, 3, 1), 503);
	scan(500, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(res.first_lsn, 501);
}
END_TEST

static void trim_case(bool archive)
{
	struct seen s;
	struct wal_scan res;
	struct wal *w;
	struct wal_opts o = {4096, 0};
	char err[256];
	uint64_t firsts[64], n = append_log(4096, 0, 150, 3);
	int k, before;

	scan(0, &s, &res);
	k = seg_firsts(&s, firsts, 64);
	before = count_files("wal");
	ck_assert_int_eq(before, k);
	ck_assert_int_eq(
	    wal_open(&w, dirfd_, &o, NULL, NULL, &res, err, sizeof(err)), 0);
	/* A snapshot just short of segment 3's first record lets segments
	 * 0 and 1 go: segment 2 still holds LSNs above it. */
	ck_assert_int_eq(wal_trim(w, firsts[3] - 2, archive), 2);
	ck_assert_int_eq(count_files("wal"), k - 2);
	ck_assert_int_eq(wal_trim(w, firsts[3] - 2, archive), 0);
	/* Never the segment being appended to, even when all is covered. */
	ck_assert_int_eq(wal_trim(w, n, archive), k - 3);
	ck_assert_int_eq(count_files("wal"), 1);
	wal_close(w);
	scan(n, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(res.first_lsn, firsts[k - 1]);
	if (archive) {
		struct wal_scan_opts so = {0, 1, true};
		ck_assert_int_eq(count_files("wal/archive"), k - 1);
		memset(&s, 0, sizeof(s));
		s.ordered = 1;
		ck_assert_int_eq(wal_scan(dirfd_, &so, collect, &s, &res), 0);
		ck_assert_int_eq(res.verdict, WAL_CLEAN);
		ck_assert_uint_eq(s.n, n);
		ck_assert(s.ordered);
		check_payloads(&s);
	}
}

START_TEST(trim_removes)
{
	trim_case(false);
}
END_TEST

START_TEST(trim_archives)
{
	trim_case(true);
}
END_TEST

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Append records first..last to the gathering group of w. */
static void append_range(struct wal *w, uint64_t first, uint64_t last)
{
	unsigned char buf[512];

	for (uint64_t lsn = first; lsn <= last; lsn++) {
		uint32_t len = payload_of(lsn, buf);
		ck_assert_uint_eq(wal_append(w, WAL_BOOKING, buf, len,
					     (int64_t)(1700000000000ll + lsn)),
				  lsn);
	}
}

static struct wal *open_log(void)
{
	struct wal *w;
	struct wal_opts o = {1 << 20, 0};
	struct wal_scan sc;
	char err[256];

	ck_assert_msg(
	    wal_open(&w, dirfd_, &o, NULL, NULL, &sc, err, sizeof(err)) == 0,
	    "wal_open: %s", err);
	ck_assert_int_eq(sc.verdict, WAL_CLEAN);
	return w;
}

/*
 * Two groups in flight, the crash between their writes: group N (LSNs
 * 11..14) reached the disk only in part (its first `part` bytes; 0: none
 * of it), group N+1 (15..17) entirely.  N+1 was never acknowledged (N was
 * not durable), its records say so (synced 10), and recovery must end the
 * log at 10 and cut N+1 away: rewritten with the same sizes, LSNs 11..14
 * end exactly where N+1's stale records begin, which would otherwise be
 * read as LSNs 15..17.
 */
START_TEST(overlap_torn_tail)
{
	/* Bytes of N that reached the disk; the last case is all of it but
	 * the last 8 bytes. */
	static const size_t parts[] = {0, 8, 40, 100, 0};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		struct wal *w;
		struct wal_group gn, gn1, g3;
		struct seen s;
		struct wal_scan res;
		size_t part;
		uint64_t k;

		if (i > 0) {
			teardown();
			setup();
		}
		ck_assert_uint_eq(append_log(1 << 20, 0, 10, 3), 10);
		w = open_log();
		append_range(w, 11, 14);
		ck_assert_int_eq(wal_group_begin(w, &gn), 1);
		append_range(w, 15, 17);
		ck_assert_int_eq(wal_group_begin(w, &gn1), 1);
		ck_assert_int_eq(wal_in_flight(w), 2);
		/* The bound: a third group waits. */
		append_range(w, 18, 18);
		ck_assert_int_eq(wal_group_begin(w, &g3), 0);
		/* What N+1 claims durable: only what was. */
		ck_assert_uint_eq(le64((const unsigned char *)gn1.buf + 16),
				  10);
		ck_assert_uint_eq(gn1.offset, gn.offset + (off_t)gn.len);
		part = i + 1 < sizeof(parts) / sizeof(parts[0]) ? parts[i]
								: gn.len - 8;
		ck_assert_uint_lt(part, gn.len);
		ck_assert_int_eq(pwrite(gn1.fd, gn1.buf, gn1.len, gn1.offset),
				 (ssize_t)gn1.len);
		ck_assert_int_eq(pwrite(gn.fd, gn.buf, part, gn.offset),
				 (ssize_t)part);
		wal_close(w); /* the crash: neither group done */

		/* Records of N that reached the disk whole. */
		k = 10;
		for (size_t at = 0;; k++) {
			unsigned char buf[512];
			at += (WAL_REC_HEADER + payload_of(k + 1, buf) + 7) &
			      ~(size_t)7;
			if (at > part)
				break;
		}
		scan(0, &s, &res);
		ck_assert_msg(res.verdict == WAL_TORN,
			      "part %zu: verdict %d: %s", part, res.verdict,
			      res.detail);
		ck_assert_uint_eq(res.bad_lsn, k + 1);
		ck_assert_uint_eq(res.last_lsn, k);
		ck_assert_uint_eq(s.n, k);
		ck_assert(s.ordered);

		/* Reopen (cutting the tail) and write the rest of N again. */
		ck_assert_uint_eq(append_log(1 << 20, 0, (int)(14 - k), 4), 14);
		scan(0, &s, &res);
		ck_assert_msg(res.verdict == WAL_CLEAN, "part %zu: %s", part,
			      res.detail);
		ck_assert_uint_eq(s.n, 14);
		ck_assert_uint_eq(res.last_lsn, 14);
		ck_assert(s.ordered);
		check_payloads(&s);
	}
}
END_TEST

/*
 * The other side of the rule: group N done (acknowledged), N+1 still in
 * flight, N+2 begun after N was done.  N+2's records prove N durable, so
 * damage inside N, found later, is corruption, not a tail to cut.
 */
START_TEST(overlap_proof_after_done)
{
	struct wal *w;
	struct wal_group g1, g2, g3;
	struct seen s;
	struct wal_scan res;
	char path[512];
	unsigned char *p, buf[512];
	size_t len, rec11;

	ck_assert_uint_eq(append_log(1 << 20, 0, 10, 3), 10);
	w = open_log();
	append_range(w, 11, 14);
	ck_assert_int_eq(wal_group_begin(w, &g1), 1);
	ck_assert_int_eq(pwrite(g1.fd, g1.buf, g1.len, g1.offset),
			 (ssize_t)g1.len);
	append_range(w, 15, 17);
	ck_assert_int_eq(wal_group_begin(w, &g2), 1);
	ck_assert_int_eq(pwrite(g2.fd, g2.buf, g2.len, g2.offset),
			 (ssize_t)g2.len);
	wal_group_done(w);
	ck_assert_uint_eq(wal_durable_lsn(w), 14);
	append_range(w, 18, 19);
	ck_assert_int_eq(wal_group_begin(w, &g3), 1);
	ck_assert_int_eq(pwrite(g3.fd, g3.buf, g3.len, g3.offset),
			 (ssize_t)g3.len);
	wal_close(w);

	scan(0, &s, &res);
	ck_assert_int_eq(res.verdict, WAL_CLEAN);
	ck_assert_uint_eq(s.n, 19);

	/* One flipped byte inside LSN 12's payload. */
	p = slurp(seg_path(1, path, sizeof(path)), &len);
	rec11 = (WAL_REC_HEADER + payload_of(11, buf) + 7) & ~(size_t)7;
	p[(size_t)g1.offset + rec11 + WAL_REC_HEADER + 1] ^= 1;
	spit(path, p, len);
	free(p);
	scan(0, &s, &res);
	ck_assert_msg(res.verdict == WAL_CORRUPT, "verdict %d: %s", res.verdict,
		      res.detail);
	ck_assert_uint_eq(res.bad_lsn, 12);
}
END_TEST

/*
 * A group that needs a new segment waits while another is in flight (an
 * fdatasync of the new file would not cover the old one, and damage before
 * the newest segment is corruption), then begins once that one is done.
 */
START_TEST(overlap_never_spans_segments)
{
	struct wal *w;
	struct wal_opts o = {4096, 0};
	struct wal_scan sc;
	struct wal_group g1, g2;
	struct seen s;
	char err[256];
	uint64_t lsn = 1;

	ck_assert_msg(
	    wal_open(&w, dirfd_, &o, NULL, NULL, &sc, err, sizeof(err)) == 0,
	    "wal_open: %s", err);
	/* Fill the first segment with groups of one until the next record
	 * would not fit, one group in flight at a time. */
	for (;; lsn++) {
		unsigned char buf[512];
		append_range(w, lsn, lsn);
		ck_assert_int_eq(wal_group_begin(w, &g1), 1);
		ck_assert_int_eq(pwrite(g1.fd, g1.buf, g1.len, g1.offset),
				 (ssize_t)g1.len);
		if ((uint64_t)g1.offset + g1.len + WAL_REC_HEADER +
			payload_of(lsn + 1, buf) + 8 >
		    4096)
			break;
		wal_group_done(w);
	}
	ck_assert_int_eq(wal_in_flight(w), 1);
	append_range(w, lsn + 1, lsn + 1);
	ck_assert_int_eq(wal_group_begin(w, &g2), 0);
	ck_assert(wal_has_pending(w));
	wal_group_done(w);
	ck_assert_int_eq(wal_group_begin(w, &g2), 1);
	ck_assert_int_ne(g2.fd, g1.fd);
	ck_assert_int_eq(g2.offset, WAL_SEG_HEADER);
	ck_assert_int_eq(pwrite(g2.fd, g2.buf, g2.len, g2.offset),
			 (ssize_t)g2.len);
	wal_group_done(w);
	wal_close(w);
	scan(0, &s, &sc);
	ck_assert_int_eq(sc.verdict, WAL_CLEAN);
	ck_assert_uint_eq(s.n, lsn + 1);
	ck_assert_uint_eq(sc.segments, 2);
}
END_TEST

/* A scan whose callback stalls at the first record, so that the read-ahead
 * thread has checked every record before the scan reads one, or not. */
struct slow {
	struct seen s;
	int stall;
};

static int collect_slow(void *ctx, const struct wal_rec *r)
{
	struct slow *w = ctx;
	if (w->s.n == 0 && w->stall)
		usleep(200 * 1000);
	return collect(&w->s, r);
}

static int cmp_seg(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The segment files of the log, sorted (by first LSN). */
static int list_segs(char names[][32], int max)
{
	char wal[300];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(wal, sizeof(wal), "%s/wal", dir);
	d = opendir(wal);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL && n < max)
		if (strlen(de->d_name) == 20 &&
		    strcmp(de->d_name + 16, ".wal") == 0)
			memcpy(names[n++], de->d_name, 21); /* 20 + NUL */
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_seg);
	return n;
}

/*
 * The read-ahead thread checks checksums ahead of the scan, which then
 * skips them for records the thread vouched for: a record with a damaged
 * payload must still be found, at its LSN, wherever it lies (deep inside
 * an older segment, or in the newest one) and however far ahead the
 * thread is (all the way, when the scan stalls at its first record).
 */
START_TEST(readahead_never_vouches_for_damage)
{
	char names[64][32], path[400];
	int nseg;
	uint64_t n = append_log(64 << 10, 0, 4000, 8);

	nseg = list_segs(names, 64);
	ck_assert_int_ge(nseg, 4);
	for (int pick = 0; pick < 2; pick++) {
		/* The middle record of the second segment, then of the
		 * newest one. */
		const char *name = names[pick == 0 ? 1 : nseg - 1];
		unsigned char *orig;
		size_t len, off = WAL_SEG_HEADER, mid;
		uint64_t lsn = 0, count = 0;

		snprintf(path, sizeof(path), "%s/wal/%s", dir, name);
		orig = slurp(path, &len);
		while (off + WAL_REC_HEADER <= len && get32(orig + off) != 0) {
			count++;
			off += pad8(WAL_REC_HEADER + get32(orig + off));
		}
		ck_assert_uint_ge(count, 3 * 64);
		off = WAL_SEG_HEADER;
		for (mid = 0; mid < count / 2; mid++)
			off += pad8(WAL_REC_HEADER + get32(orig + off));
		lsn = get64(orig + off + 8);
		for (int stall = 0; stall < 2; stall++) {
			struct slow w;
			struct wal_scan res;
			orig[off + WAL_REC_HEADER + 1] ^= 0x20;
			spit(path, orig, len);
			orig[off + WAL_REC_HEADER + 1] ^= 0x20;
			memset(&w, 0, sizeof(w));
			w.s.ordered = 1;
			w.stall = stall;
			ck_assert_int_eq(
			    wal_scan_dir(dirfd_, 0, collect_slow, &w, &res), 0);
			ck_assert_msg(res.verdict == WAL_CORRUPT,
				      "segment %s LSN %" PRIu64
				      " stall %d: verdict %d",
				      name, lsn, stall, (int)res.verdict);
			ck_assert_uint_eq(res.bad_lsn, lsn);
			ck_assert_uint_eq(res.last_lsn, lsn - 1);
			ck_assert_uint_eq(w.s.n, lsn - 1);
			ck_assert(w.s.ordered);
			spit(path, orig, len);
			memset(&w, 0, sizeof(w));
			w.s.ordered = 1;
			w.stall = stall;
			ck_assert_int_eq(
			    wal_scan_dir(dirfd_, 0, collect_slow, &w, &res), 0);
			ck_assert_int_eq(res.verdict, WAL_CLEAN);
			ck_assert_uint_eq(w.s.n, n);
		}
		free(orig);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("wal");
	TCase *tc = tcase_create("wal");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, torn_tail_every_boundary);
	tcase_add_test(tc, torn_tail_inside_records);
	tcase_add_test(tc, corruption_names_lsn);
	tcase_add_test(tc, segments_roll);
	tcase_add_test(tc, newest_segment_bad_header);
	tcase_add_test(tc, prepared_segments);
	tcase_add_test(tc, snapshot_coverage);
	tcase_add_test(tc, snapshot_past_log_end);
	tcase_add_test(tc, trim_removes);
	tcase_add_test(tc, trim_archives);
	tcase_add_test(tc, overlap_torn_tail);
	tcase_add_test(tc, overlap_proof_after_done);
	tcase_add_test(tc, overlap_never_spans_segments);
	tcase_add_test(tc, readahead_never_vouches_for_damage);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

/*
 * stats.c - `bookd-replay stats`: what a data directory holds, in a few
 * lines: the snapshot, records by type, the LSN range and time span, the
 * log's size on disk, and the rebuilt state's bookings by status.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "rlog.h"

struct tally {
	uint64_t by_type[4]; /* unknown, resource, booking, event type */
	uint64_t records, bytes, first, last;
	int64_t min_ms, max_ms;
};

static int tally_fn(void *ctx, const struct wal_rec *r)
{
	struct tally *t = ctx;

	t->by_type[r->type <= WAL_EVENT_TYPE ? r->type : 0]++;
	if (t->records == 0 || r->at_ms < t->min_ms)
		t->min_ms = r->at_ms;
	if (t->records == 0 || r->at_ms > t->max_ms)
		t->max_ms = r->at_ms;
	if (t->records == 0)
		t->first = r->lsn;
	t->last = r->lsn;
	t->records++;
	t->bytes += WAL_REC_HEADER + r->len;
	return 0;
}

/* Segment files in dirfd/sub: count, bytes, bytes allocated. */
static void seg_sizes(int dirfd, const char *sub, uint64_t *n, uint64_t *size,
		      uint64_t *alloc)
{
	int fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	*n = *size = *alloc = 0;
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		size_t len = strlen(de->d_name);
		if (len != 20 || strcmp(de->d_name + 16, ".wal") != 0 ||
		    fstatat(fd, de->d_name, &sb, 0) < 0)
			continue;
		(*n)++;
		*size += (uint64_t)sb.st_size;
		*alloc += (uint64_t)sb.st_blocks * 512;
	}
	closedir(d);
}

int cmd_stats(const struct cmd_args *a)
{
	struct rlog rl;
	struct tally t;
	struct wal_scan sc;
	struct state st;
	struct rbuild_opts o = {0};
	struct rbuild_res res;
	char err[512], t0[32], t1[32];
	uint64_t n, size, alloc;
	int rc = 0, rc2;

	memset(&t, 0, sizeof(t));
	if (rlog_open(&rl, a->dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "bookd-replay: %s\n", err);
		return EXIT_DAMAGED;
	}
	if (rl.snap.present) {
		rlog_fmt_ms(rl.snap.created_ms, t0);
		printf("snapshot: LSN %" PRIu64 ", %" PRIu64
		       " bytes, written %s\n",
		       rl.snap.lsn, rl.snap.bytes, t0);
	} else {
		printf("snapshot: none\n");
	}
	if (rlog_records(&rl, 1, 0, tally_fn, &t, &sc, err, sizeof(err)) < 0) {
		fprintf(stderr, "bookd-replay: %s\n", err);
		rlog_close(&rl);
		return EXIT_DAMAGED;
	}
	printf("records: %" PRIu64 " (resource %" PRIu64 ", event_type %" PRIu64
	       ", booking %" PRIu64 ", unknown %" PRIu64 ")",
	       t.records, t.by_type[WAL_RESOURCE], t.by_type[WAL_EVENT_TYPE],
	       t.by_type[WAL_BOOKING], t.by_type[0]);
	if (t.records)
		printf(", LSN %" PRIu64 " to %" PRIu64, t.first, t.last);
	printf(", %" PRIu64 " bytes\n", t.bytes);
	if (t.records) {
		rlog_fmt_ms(t.min_ms, t0);
		rlog_fmt_ms(t.max_ms, t1);
		printf("time: %s to %s (%.1f hours)\n", t0, t1,
		       (double)(t.max_ms - t.min_ms) / 3600000.0);
	}
	seg_sizes(rl.dirfd, "wal", &n, &size, &alloc);
	printf("log: %" PRIu64 " segments, %" PRIu64 " bytes (%" PRIu64
	       " allocated) in wal/",
	       n, size, alloc);
	if (rl.archive) {
		seg_sizes(rl.dirfd, "wal/archive", &n, &size, &alloc);
		printf("; %" PRIu64 " segments, %" PRIu64
		       " bytes in wal/archive/",
		       n, size);
	}
	fputc('\n', stdout);
	if (sc.verdict == WAL_CORRUPT) {
		printf("end: CORRUPT at LSN %" PRIu64 " (%s)\n", sc.bad_lsn,
		       sc.detail);
		rc = EXIT_DAMAGED;
	} else if (sc.verdict == WAL_TORN) {
		printf("end: torn tail at LSN %" PRIu64
		       " (never acknowledged)\n",
		       sc.bad_lsn);
	} else {
		printf("end: clean\n");
	}
	rc2 = rlog_build(&rl, &o, &st, &res, err, sizeof(err));
	if (rc2 < 0 && res.moved) {
		/* A live engine checkpointed meanwhile: once more. */
		state_free(&st);
		rc2 = rlog_build(&rl, &o, &st, &res, err, sizeof(err));
	}
	if (rc2 < 0) {
		fprintf(stderr, "bookd-replay: %s\n", err);
		rc = EXIT_DAMAGED;
	} else {
		printf("state: LSN %" PRIu64 ", %u resources, %u event types, "
		       "%u bookings, %zu events\n",
		       res.lsn, st.nres, st.net, st.nbk, st.nev);
		printf("bookings:");
		for (int s = 0; s < BS__COUNT; s++)
			printf("%s %s %" PRIu64, s ? "," : "", bstatus_names[s],
			       st.by_status[s]);
		fputc('\n', stdout);
	}
	state_free(&st);
	rlog_close(&rl);
	return rc;
}

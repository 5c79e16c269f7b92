/*
 * test_snapshot.c - snapshots without an engine: a state built from random
 * records (the way the engine builds it: pack a record, apply it) is
 * written, loaded into a fresh state and compared object by object and
 * bitmap by bitmap; damaged snapshots are refused with a reason; a file
 * written by hand from the documented layout loads; and the checkpoint
 * policy, driven with a real log the way the server drives it, recovers the
 * same state from snapshot + log tail while old segments go.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "harness.h"
#include "checkpoint.h"
#include "state.h"
#include "suite_main.h"
#include "wal.h"

#define D0   20400 /* the test's "today" as a day number */
#define NRES 6

static char dir[256];
static int dfd = -1;
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void setup(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/bookd-snap-XXXXXX", t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
}

static void teardown(void)
{
	char cmd[512];
	close(dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void new_state(struct state *st)
{
	ck_assert_int_eq(state_init(st, 64, D0 - 7, D0 + 60, 70), 0);
}

/* ---- a random workload, built as the engine builds records ---------- */

static const char *const res_ids[NRES] = {"studio-a", "studio-b", "mics",
					  "piano",    "old",	  "cables"};

static void pack_resource(struct wbuf *out, int i, int version)
{
	msgpack_sbuffer sb;
	const char *tz = i == 0 ? "Europe/Berlin" : "UTC";
	int q = i == 2 ? 5 - version % 3 : i == 5 ? 3 + version % 2 : 1;

	msgpack_sbuffer_init(&sb);
	if (i == 0)
		/* A schedule, to check it survives in canonical form. */
		ck_assert_int_eq(
		    h_pack(&sb,
			   "{s:s s:s s:s s:s s:i s:b s:b s:{s:i} "
			   "s:{s:s s:[{s:i s:s s:s} {s:i s:s s:s}] "
			   "s:[{s:s s:[]}]} s:I s:I}",
			   "id", res_ids[i], "name", "Studio A", "kind", "room",
			   "timezone", tz, "quantity", q, "standalone", 1,
			   "active", 1, "meta", "v", version, "schedule",
			   "timezone", tz, "weekly", "day", 1, "start", "09:00",
			   "end", "18:00", "day", 3, "start", "00:00", "end",
			   "24:00", "overrides", "date", "2025-11-05",
			   "windows", "created_ms", (int64_t)1700000000000ll,
			   "updated_ms", (int64_t)(1700000000000ll + version)),
		    0);
	else
		ck_assert_int_eq(
		    h_pack(&sb, "{s:s s:s s:n s:s s:i s:b s:b s:n s:n s:I s:I}",
			   "id", res_ids[i], "name", res_ids[i], "kind",
			   "timezone", tz, "quantity", q, "standalone", i != 5,
			   "active", !(i == 4 && version > 0), "meta",
			   "schedule", "created_ms", (int64_t)1700000000000ll,
			   "updated_ms", (int64_t)(1700000000000ll + version)),
		    0);
	wbuf_append(out, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

static void pack_event_type(struct wbuf *out, int version)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	ck_assert_int_eq(
	    h_pack(&sb,
		   "{s:s s:s s:[i i] s:i s:[s s] s:i s:i s:i s:n s:b s:b "
		   "s:{s:s} s:I s:I}",
		   "id", "session", "title", "Studio session", "lengths", 60,
		   120, "slot_interval", 30, "resources", "studio-a",
		   "studio-b", "buffer_before", 15, "buffer_after",
		   15 * (version % 2), "min_notice", 60, "max_future",
		   "requires_confirmation", version % 2, "active", 1, "meta",
		   "color", "blue", "created_ms", (int64_t)1700000000000ll,
		   "updated_ms", (int64_t)(1700000000000ll + version)),
	    0);
	wbuf_append(out, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/*
 * Would the engine admit occupancy of [start, end) on these items?  The
 * workload must stay admissible: single resources keep bits, not counts,
 * so overlapping bookings are a state the engine never builds.  Spans
 * wholly outside the window stand for history made under an older one.
 */
static bool admissible(struct state *st, const struct item *items, int n,
		       int64_t start, int64_t end)
{
	struct check_out co;
	int64_t d0, d1;

	span_days(start, end, &d0, &d1);
	if (d1 < st->first_day || d0 > st->last_day)
		return true;
	return state_check(st, items, n, start, end, 0, NULL, &co) == 0;
}

/* A new booking, or 0 when the span picked is taken. */
static int pack_new_booking(struct state *st, struct wbuf *out)
{
	struct item items[3];
	struct hist h = {1700000000000ll, -1, BS_CONFIRMED, "tester", NULL};
	struct booking b;
	msgpack_packer pk;
	char key[32];
	int64_t start;

	memset(&b, 0, sizeof(b));
	b.id = st->nbk + 1;
	for (int i = 0; i < 32; i++)
		b.ref[i] = "0123456789abcdef"[rnd(16)];
	b.nitems = (uint8_t)(1 + rnd(3));
	for (int i = 0; i < b.nitems; i++)
		items[i] = (struct item){i == 0 ? rnd(2) : (uint32_t)(1 + i),
					 i == 1 ? 1 + rnd(2) : 1};
	b.items = items;
	/* Some in the window's past, some crossing days, one far ahead. */
	start =
	    (int64_t)(D0 - 20 + (int)rnd(90)) * 86400 + (int64_t)rnd(96) * 900;
	b.start = start;
	b.end = start + (int64_t)(1 + rnd(250)) * 900;
	if (rnd(4) == 0) {
		b.buf_before = 900;
		b.buf_after = 1800;
		b.event_type = "session";
	}
	b.status = rnd(3) == 0 ? BS_PENDING : BS_CONFIRMED;
	h.to = (int8_t)b.status;
	b.name = "Ann";
	b.email = "ann@example.com";
	b.phone = rnd(2) ? "+49 30 1234" : NULL;
	b.notes = rnd(3) == 0 ? "bring \"cables\"\n" : NULL;
	b.timezone = rnd(2) ? "Europe/Berlin" : NULL;
	b.note = NULL;
	if (rnd(3) == 0) {
		snprintf(key, sizeof(key), "key-%u", b.id);
		b.key = key;
	}
	b.created_ms = b.updated_ms = 1700000000000ll + b.id;
	b.hist = &h;
	b.nhist = 1;
	if (!admissible(st, items, b.nitems, occ_start(&b), occ_end(&b)))
		return 0;
	wbuf_packer_init(&pk, out);
	state_pack_booking_rec(&pk, st, &b, EV_CREATED);
	return 1;
}

/* A transition or a reschedule of an existing booking, as ops.c's
 * change_booking builds it; 0 when the booking picked cannot change. */
static int pack_change(struct state *st, struct wbuf *out)
{
	static const int ev_of[BS__COUNT] = {
	    EV_NONE,	  EV_CONFIRMED, EV_DECLINED,
	    EV_CANCELLED, EV_COMPLETED, EV_NO_SHOW,
	};
	struct booking *cur = st->bk[rnd(st->nbk)];
	struct booking nb = *cur;
	struct hist *hist;
	msgpack_packer pk;
	int to = (int)rnd(BS__COUNT), ev;

	if (rnd(3) == 0 && bstatus_occupies(cur->status) &&
	    cur->status <= BS_CONFIRMED) {
		to = cur->status;
		nb.start = cur->start + 900 * (int64_t)(1 + rnd(8));
		nb.end = nb.start + 900 * (int64_t)(1 + rnd(40));
		ev = EV_RESCHEDULED;
		/* Checked without its own old span, as ops.c does. */
		state_occupy(st, cur, -1, false);
		if (!admissible(st, nb.items, nb.nitems, occ_start(&nb),
				occ_end(&nb))) {
			state_occupy(st, cur, +1, false);
			return 0;
		}
		state_occupy(st, cur, +1, false);
	} else if (bstatus_can_move(cur->status, to)) {
		ev = ev_of[to];
	} else {
		return 0;
	}
	hist = reallocarray(NULL, (size_t)cur->nhist + 1, sizeof(*hist));
	ck_assert_ptr_nonnull(hist);
	memcpy(hist, cur->hist, cur->nhist * sizeof(*hist));
	hist[cur->nhist] =
	    (struct hist){1700000001000ll + cur->nhist, (int8_t)cur->status,
			  (int8_t)to, "ops", rnd(2) ? "because" : NULL};
	nb.hist = hist;
	nb.nhist = cur->nhist + 1;
	nb.status = (uint8_t)to;
	nb.updated_ms = hist[cur->nhist].at_ms;
	wbuf_packer_init(&pk, out);
	state_pack_booking_rec(&pk, st, &nb, ev);
	free(hist);
	return 1;
}

/* The next random record for st. */
static uint16_t gen(struct state *st, struct wbuf *out)
{
	static int versions[NRES + 1];
	uint32_t r = rnd(100);

	out->len = 0;
	if (st->nres < NRES || r < 3) {
		int i = st->nres < NRES ? (int)st->nres : (int)rnd(NRES);
		pack_resource(out, i, versions[i]++);
		return WAL_RESOURCE;
	}
	if (r < 6) {
		pack_event_type(out, versions[NRES]++);
		return WAL_EVENT_TYPE;
	}
	if (st->nbk > 0 && r < 50 && pack_change(st, out))
		return WAL_BOOKING;
	while (!pack_new_booking(st, out))
		out->len = 0;
	return WAL_BOOKING;
}

static void commit_all(struct state *st)
{
	size_t n;
	struct delta *dl = state_take_deltas(st, &n);
	state_commit_deltas(st, dl, n);
	free(dl);
}

static void build(struct state *st, int nrec)
{
	struct wbuf rec = {0};

	new_state(st);
	for (int i = 1; i <= nrec; i++) {
		uint16_t type = gen(st, &rec);
		ck_assert_int_eq(state_apply(st, type, rec.data,
					     (uint32_t)rec.len, (uint64_t)i,
					     1700000000000ll + i),
				 0);
	}
	commit_all(st);
	wbuf_free(&rec);
}

/* ---- comparing states --------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* A day's booked units per slot: counts where it keeps them, bits
 * otherwise (the representation may differ; the counts may not). */
static void canon_units(struct wbuf *o, const uint16_t *u,
			const uint64_t bits[2])
{
	uint16_t c[96];
	for (int s = 0; s < 96; s++)
		c[s] = u ? u[s] : (uint16_t)(bits[s / 64] >> (s % 64) & 1);
	wbuf_append(o, c, sizeof(c));
}

/* Everything a state holds that a restart must rebuild, as bytes. */
static void canon(const struct state *st, struct wbuf *o)
{
	msgpack_packer pk;

	wbuf_packer_init(&pk, o);
	msgpack_pack_uint32(&pk, st->nres);
	msgpack_pack_uint32(&pk, st->net);
	msgpack_pack_uint32(&pk, st->nbk);
	msgpack_pack_uint64(&pk, st->nev);
	for (int s = 0; s < BS__COUNT; s++)
		msgpack_pack_uint64(&pk, st->by_status[s]);
	for (uint32_t i = 0; i < st->nres; i++) {
		const struct resource *r = st->res[i];
		state_pack_resource_rec(&pk, r);
		msgpack_pack_uint32(&pk, r->cquantity);
		msgpack_pack_int(&pk, r->csched == r->sched);
		for (int64_t day = st->first_day; day <= st->last_day; day++) {
			const struct rday *d = state_day(st, r, day);
			uint32_t bids[4096];
			ck_assert_ptr_nonnull(d);
			ck_assert_uint_le(d->nbids, 4096);
			wbuf_append(o, &d->day, sizeof(d->day));
			wbuf_append(o, d->open, sizeof(d->open));
			wbuf_append(o, d->copen, sizeof(d->copen));
			wbuf_append(o, d->booked, sizeof(d->booked));
			wbuf_append(o, d->cbooked, sizeof(d->cbooked));
			canon_units(o, d->units, d->booked);
			canon_units(o, d->cunits, d->cbooked);
			if (d->nbids) {
				memcpy(bids, d->bids, d->nbids * sizeof(*bids));
				qsort(bids, d->nbids, sizeof(*bids), cmp_u32);
				wbuf_append(o, bids, d->nbids * sizeof(*bids));
			}
			wbuf_append(o, "|", 1);
		}
	}
	for (uint32_t i = 0; i < st->net; i++)
		state_pack_event_type(&pk, st, st->et[i]);
	for (uint32_t i = 0; i < st->nbk; i++) {
		const struct booking *b = st->bk[i];
		state_pack_booking_rec(&pk, st, b, EV_NONE);
		ck_assert_ptr_eq(
		    state_booking_by_ref(st, b->ref, strlen(b->ref)), b);
		if (b->key)
			ck_assert_ptr_eq(state_booking_by_key(st, b->owner,
							      b->key,
							      strlen(b->key)),
					 b);
	}
	for (size_t i = 0; i < st->nev; i++) {
		msgpack_pack_uint64(&pk, st->ev[i].lsn);
		msgpack_pack_int64(&pk, st->ev[i].at_ms);
		msgpack_pack_uint32(&pk, st->ev[i].booking);
		msgpack_pack_uint8(&pk, st->ev[i].type);
	}
}

static void assert_same(const struct state *a, const struct state *b)
{
	struct wbuf x = {0}, y = {0};

	canon(a, &x);
	canon(b, &y);
	ck_assert_uint_eq(x.len, y.len);
	ck_assert_int_eq(memcmp(x.data, y.data, x.len), 0);
	wbuf_free(&x);
	wbuf_free(&y);
}

/* ---- tests ---------------------------------------------------------- */

START_TEST(round_trip)
{
	struct state a, b;
	struct snapshot_info info;
	char err[256];
	uint64_t lsn = 0;
	struct stat sb;

	build(&a, 1500);
	ck_assert_uint_gt(a.nbk, 300);
	ck_assert_uint_gt(a.nev, 300);
	ck_assert_uint_eq(a.net, 1);
	ck_assert_msg(snapshot_write(dfd, &a, 1500, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(fstatat(dfd, SNAP_TMP, &sb, 0), -1);
	ck_assert_int_eq(snapshot_peek(dfd, &info, err, sizeof(err)), 0);
	ck_assert(info.present);
	ck_assert_uint_eq(info.lsn, 1500);
	ck_assert_uint_eq(info.resources, NRES);
	ck_assert_uint_eq(info.bookings, a.nbk);
	ck_assert_uint_eq(info.events, a.nev);
	new_state(&b);
	ck_assert_msg(snapshot_load(dfd, &b, &lsn, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_uint_eq(lsn, 1500);
	assert_same(&a, &b);
	/* The loaded state keeps working like the original: the same
	 * records applied to both leave them equal. */
	{
		struct wbuf rec = {0};
		for (int i = 1501; i <= 1700; i++) {
			uint16_t type = gen(&a, &rec);
			ck_assert_int_eq(state_apply(&a, type, rec.data,
						     (uint32_t)rec.len,
						     (uint64_t)i, i),
					 0);
			ck_assert_int_eq(state_apply(&b, type, rec.data,
						     (uint32_t)rec.len,
						     (uint64_t)i, i),
					 0);
		}
		wbuf_free(&rec);
		commit_all(&a);
		commit_all(&b);
		assert_same(&a, &b);
	}
	/* Writing again replaces the snapshot. */
	ck_assert_int_eq(snapshot_write(dfd, &a, 1700, err, sizeof(err)), 0);
	ck_assert_int_eq(snapshot_peek(dfd, &info, err, sizeof(err)), 0);
	ck_assert_uint_eq(info.lsn, 1700);
	state_free(&a);
	state_free(&b);
}
END_TEST

START_TEST(empty_and_absent)
{
	struct state a, b;
	char err[256];
	uint64_t lsn = 99;
	struct snapshot_info info;

	new_state(&a);
	ck_assert_int_eq(snapshot_load(dfd, &a, &lsn, err, sizeof(err)), 0);
	ck_assert_uint_eq(lsn, 0);
	ck_assert_int_eq(snapshot_peek(dfd, &info, err, sizeof(err)), 0);
	ck_assert(!info.present);
	ck_assert_int_eq(snapshot_write(dfd, &a, 0, err, sizeof(err)), 0);
	new_state(&b);
	ck_assert_int_eq(snapshot_load(dfd, &b, &lsn, err, sizeof(err)), 0);
	assert_same(&a, &b);
	state_free(&a);
	state_free(&b);
}
END_TEST

static unsigned char *read_snap(size_t *len)
{
	struct stat sb;
	unsigned char *p;
	int fd = openat(dfd, SNAP_FILE, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	p = malloc((size_t)sb.st_size);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(read(fd, p, (size_t)sb.st_size), sb.st_size);
	close(fd);
	*len = (size_t)sb.st_size;
	return p;
}

static void write_snap(const unsigned char *p, size_t len)
{
	int fd = openat(dfd, SNAP_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, len), (ssize_t)len);
	close(fd);
}

/* Load the snapshot on disk into a fresh state; returns the result. */
static int try_load(char *err, size_t errlen)
{
	struct state st;
	uint64_t lsn;
	int rc;

	new_state(&st);
	rc = snapshot_load(dfd, &st, &lsn, err, errlen);
	state_free(&st);
	return rc;
}

START_TEST(every_byte_protected)
{
	struct state a;
	char err[256];
	unsigned char *orig, *p;
	size_t len;

	build(&a, 40);
	ck_assert_int_eq(snapshot_write(dfd, &a, 40, err, sizeof(err)), 0);
	state_free(&a);
	orig = read_snap(&len);
	p = malloc(len + 64);
	ck_assert_ptr_nonnull(p);
	/* Any single flipped bit anywhere is refused, with a reason. */
	for (size_t i = 0; i < len; i++) {
		memcpy(p, orig, len);
		p[i] ^= (unsigned char)(1u << (i % 8));
		write_snap(p, len);
		err[0] = 0;
		ck_assert_msg(try_load(err, sizeof(err)) == -EUCLEAN,
			      "byte %zu accepted", i);
		ck_assert_msg(strncmp(err, "snapshot: ", 10) == 0, "%s", err);
	}
	/* So is a file cut short anywhere, or with bytes after its end. */
	for (size_t n = 0; n < len; n += 1 + n / 16) {
		write_snap(orig, n);
		ck_assert_int_eq(try_load(err, sizeof(err)), -EUCLEAN);
	}
	memcpy(p, orig, len);
	memset(p + len, 0, 64);
	write_snap(p, len + 64);
	ck_assert_int_eq(try_load(err, sizeof(err)), -EUCLEAN);
	write_snap(orig, len);
	ck_assert_int_eq(try_load(err, sizeof(err)), 0);
	free(orig);
	free(p);
}
END_TEST

/* ---- a snapshot written by hand from the layout in snapshot.h ------- */

static void le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

struct hand {
	struct wbuf b;
	uint64_t records;
};

static void hand_begin(struct hand *h, uint64_t lsn, uint32_t nres,
		       uint32_t net, uint32_t nbk, uint64_t nev)
{
	unsigned char hd[64] = {0};
	memcpy(hd, "BOOKDSNP", 8);
	le(hd + 8, 1, 4);
	le(hd + 12, 64, 4);
	le(hd + 16, lsn, 8);
	le(hd + 24, 1700000000000ull, 8);
	le(hd + 32, nres, 4);
	le(hd + 36, net, 4);
	le(hd + 40, nbk, 4);
	le(hd + 48, nev, 8);
	le(hd + 60, crc32c(0, hd, 60), 4);
	memset(h, 0, sizeof(*h));
	wbuf_append(&h->b, hd, 64);
}

static void hand_rec(struct hand *h, uint16_t type, const void *p, uint32_t n)
{
	unsigned char rh[16] = {0}, pad[8] = {0};
	le(rh, n, 4);
	le(rh + 8, type, 2);
	le(rh + 4, crc32c(crc32c(0, rh + 8, 8), p, n), 4);
	wbuf_append(&h->b, rh, 16);
	wbuf_append(&h->b, p, n);
	wbuf_append(&h->b, pad, (8 - n % 8) % 8);
	h->records++;
}

static void hand_packed(struct hand *h, uint16_t type, const char *fmt, ...)
{
	msgpack_sbuffer sb;
	va_list ap;

	msgpack_sbuffer_init(&sb);
	va_start(ap, fmt);
	ck_assert_int_eq(h_vpack(&sb, fmt, ap), 0);
	va_end(ap);
	hand_rec(h, type, sb.data, (uint32_t)sb.size);
	msgpack_sbuffer_destroy(&sb);
}

static void hand_end(struct hand *h)
{
	unsigned char t[32] = {0};
	memcpy(t, "BOOKDEND", 8);
	le(t + 8, h->records, 8);
	le(t + 16, crc32c(0, h->b.data, h->b.len), 4);
	le(t + 28, crc32c(0, t, 28), 4);
	wbuf_append(&h->b, t, 32);
	write_snap((const unsigned char *)h->b.data, h->b.len);
	wbuf_free(&h->b);
}

static void hand_booking(struct hand *h, int id, const char *res)
{
	char ref[16];
	snprintf(ref, sizeof(ref), "r%d", id);
	hand_packed(
	    h, WAL_BOOKING, "{s:i s:s s:s s:I s:I s:[{s:s s:i}] s:{s:s s:s}}",
	    "id", id, "ref", ref, "status", "confirmed", "start",
	    (int64_t)D0 * 86400 + 36000 + 3600 * id, "end",
	    (int64_t)D0 * 86400 + 39600 + 3600 * id, "items", "resource", res,
	    "quantity", 1, "booker", "name", "A", "email", "a@b");
}

static void hand_events(struct hand *h, uint64_t lsn0, int n, int booking)
{
	unsigned char e[24 * 8] = {0};
	for (int i = 0; i < n; i++) {
		le(e + 24 * i, lsn0 + (uint64_t)i, 8);
		le(e + 24 * i + 8, 1700000000000ull, 8);
		le(e + 24 * i + 16, (uint64_t)booking, 4);
		e[24 * i + 20] = EV_CREATED;
	}
	hand_rec(h, SNAP_EVENTS, e, (uint32_t)(24 * n));
}

START_TEST(hand_written)
{
	struct hand h;
	struct state st;
	char err[256];
	uint64_t lsn;

	hand_begin(&h, 50, 1, 0, 2, 2);
	hand_packed(&h, WAL_RESOURCE, "{s:s s:i}", "id", "a", "quantity", 1);
	hand_booking(&h, 1, "a");
	hand_booking(&h, 2, "a");
	hand_events(&h, 10, 2, 1);
	hand_end(&h);
	new_state(&st);
	ck_assert_msg(snapshot_load(dfd, &st, &lsn, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(lsn, 50);
	ck_assert_uint_eq(st.nbk, 2);
	ck_assert_uint_eq(st.nev, 2);
	ck_assert_uint_eq(st.ev[1].lsn, 11);
	/* Committed, as a snapshot holds only durable state. */
	ck_assert_uint_ne(state_day(&st, st.res[0], D0)->cbooked[0], 0);
	state_free(&st);
}
END_TEST

/* Each malformed-but-checksummed snapshot is refused with this reason. */
START_TEST(hand_written_refused)
{
	struct hand h;
	char err[256];

	/* A booking before the resources. */
	hand_begin(&h, 5, 1, 0, 1, 0);
	hand_booking(&h, 1, "a");
	hand_packed(&h, WAL_RESOURCE, "{s:s}", "id", "a");
	hand_end(&h);
	ck_assert_int_eq(try_load(err, sizeof(err)), -EUCLEAN);
	ck_assert_msg(strstr(err, "does not apply") != NULL, "%s", err);
	/* Resources after bookings. */
	hand_begin(&h, 5, 2, 0, 1, 0);
	hand_packed(&h, WAL_RESOURCE, "{s:s}", "id", "a");
	hand_booking(&h, 1, "a");
	hand_packed(&h, WAL_RESOURCE, "{s:s}", "id", "b");
	hand_end(&h);
	ck_assert_int_eq(try_load(err, sizeof(err)), -EUCLEAN);
	ck_assert_msg(strstr(err, "record 3 ") && strstr(err, "out of order"),
		      "%s", err);
	/* The same booking twice. */
	hand_begin(&h, 5, 1, 0, 1, 0);
	hand_packed(&h, WAL_RESOURCE, "{s:s}", "id", "a");
	hand_booking(&h, 1, "a");
	hand_booking(&h, 1, "a");
	hand_end(&h);
	ck_assert_int_eq(try_load(err, sizeof(err)), -EUCLEAN);
	ck_assert_msg(strstr(err, "repeats"), "%s", err);
	/* An event of a booking it lacks; events after the snapshot LSN. */
	hand_begin(&h, 50, 1, 0, 1, 1);
	hand_packed(&h, WAL_RESOURCE, "{s:s}", "id", "a");
	hand_booking(&h, 1, "a");
	hand_events(&h, 3, 1, 2);
	hand_end(&h);
	ck_assert_int_eq(try_load(err, sizeof(err)), -EUCLEAN);
	ck_assert_msg(strstr(err, "lacks"), "%s", err);
	hand_begin(&h, 50, 1, 0, 1, 2);
	hand_packed(&h, WAL_RESOURCE, "{s:s}", "id", "a");
	hand_booking(&h, 1, "a");
	hand_events(&h, 50, 2, 1);
	hand_end(&h);
	ck_assert_int_eq(try_load(err, sizeof(err)), -EUCLEAN);
	ck_assert_msg(strstr(err, "LSN order"), "%s", err);
	/* A record type it does not know. */
	hand_begin(&h, 5, 0, 0, 0, 0);
	hand_packed(&h, 9, "{s:s}", "id", "a");
	hand_end(&h);
	ck_assert_int_eq(try_load(err, sizeof(err)), -EUCLEAN);
	ck_assert_msg(strstr(err, "unknown record type"), "%s", err);
	/* Counts that disagree with the header. */
	hand_begin(&h, 5, 2, 0, 0, 0);
	hand_packed(&h, WAL_RESOURCE, "{s:s}", "id", "a");
	hand_end(&h);
	ck_assert_int_eq(try_load(err, sizeof(err)), -EUCLEAN);
	ck_assert_msg(strstr(err, "counts"), "%s", err);
	/* A snapshot of a newer version. */
	hand_begin(&h, 5, 0, 0, 0, 0);
	le((unsigned char *)h.b.data + 8, SNAP_VERSION + 1, 4);
	le((unsigned char *)h.b.data + 60, crc32c(0, h.b.data, 60), 4);
	hand_end(&h);
	ck_assert_int_eq(try_load(err, sizeof(err)), -EUCLEAN);
	ck_assert_msg(strstr(err, "version"), "%s", err);
	/* Version 1, from before holiday calendars, still loads. */
	hand_begin(&h, 5, 1, 0, 0, 0);
	le((unsigned char *)h.b.data + 8, 1, 4);
	le((unsigned char *)h.b.data + 60, crc32c(0, h.b.data, 60), 4);
	hand_packed(&h, WAL_RESOURCE, "{s:s}", "id", "a");
	hand_end(&h);
	ck_assert_msg(try_load(err, sizeof(err)) == 0, "%s", err);
	/* A holiday calendar that does not parse. */
	hand_begin(&h, 5, 0, 0, 0, 0);
	hand_packed(&h, WAL_HOLIDAYS, "{s:s s:s}", "id", "x", "dates", "no");
	hand_end(&h);
	ck_assert_int_eq(try_load(err, sizeof(err)), -EUCLEAN);
	ck_assert_msg(strstr(err, "holiday calendar record does not apply"),
		      "%s", err);
}
END_TEST

/* ---- checkpoints with a real log -------------------------------------- */

struct replay_ctx {
	struct state *st;
	uint64_t n;
};

static int replay(void *ctx, const struct wal_rec *r)
{
	struct replay_ctx *c = ctx;
	c->n++;
	return state_apply(c->st, r->type, r->payload, r->len, r->lsn,
			   r->at_ms) < 0;
}

static int count_segments(const char *sub)
{
	char cmd[512], out[32] = "0";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls '%s/%s' 2>/dev/null | grep -c wal$", dir,
		 sub);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	if (fgets(out, sizeof(out), p) == NULL)
		out[0] = 0;
	pclose(p);
	return atoi(out);
}

/* First LSNs of the segments a scan passes through. */
struct firsts {
	int n;
	uint64_t v[256];
};

static int seg_first_fn(void *ctx, const struct wal_rec *r)
{
	struct firsts *f = ctx;
	if ((f->n == 0 || f->v[f->n - 1] != r->seg_first_lsn) && f->n < 256)
		f->v[f->n++] = r->seg_first_lsn;
	return 0;
}

/* Recover a state from the directory as the engine does; returns the
 * number of log records replayed. */
static uint64_t recover(struct state *st, uint64_t *snap_lsn)
{
	struct wal *w;
	struct wal_opts o = {4096, 0};
	struct wal_scan sc;
	struct replay_ctx c = {st, 0};
	char err[256];

	new_state(st);
	ck_assert_msg(snapshot_load(dfd, st, snap_lsn, err, sizeof(err)) == 0,
		      "%s", err);
	o.after_lsn = *snap_lsn;
	ck_assert_msg(
	    wal_open(&w, dfd, &o, replay, &c, &sc, err, sizeof(err)) == 0, "%s",
	    err);
	wal_close(w);
	commit_all(st);
	return c.n;
}

static void group(struct wal *w)
{
	struct wal_group g;
	ck_assert_int_eq(wal_group_begin(w, &g), 1);
	ck_assert_int_eq(pwrite(g.fd, g.buf, g.len, g.offset), (ssize_t)g.len);
	wal_group_done(w);
}

/* The engine's binary: the compactor a checkpoint spawns (this test's
 * own binary has no --write-snapshot mode). */
static const char *compactor(void)
{
	const char *bin = getenv("BOOKD_BIN");

	ck_assert_msg(bin != NULL && access(bin, X_OK) == 0,
		      "BOOKD_BIN (the engine) is not set or not executable");
	return bin;
}

/* The checkpoint child ended (waiting at most 30 s for it): take its
 * result as the engine does when the pidfd polls readable. */
static int wait_child(struct checkpoint *ck, struct wal *w, char *err,
		      size_t errlen)
{
	struct pollfd p = {ck->child_fd, POLLIN, 0};

	ck_assert_int_ge(ck->child_fd, 0);
	ck_assert_int_eq(poll(&p, 1, 30000), 1);
	return checkpoint_child_done(ck, w, err, errlen);
}

/* A finished child's result, without waiting: 0 while it still runs. */
static int poll_child(struct checkpoint *ck, struct wal *w, char *err,
		      size_t errlen)
{
	struct pollfd p = {ck->child_fd, POLLIN, 0};

	if (ck->child_fd < 0 || poll(&p, 1, 0) != 1)
		return 0;
	return checkpoint_child_done(ck, w, err, errlen);
}

static void checkpoint_case(bool archive, bool foreground)
{
	struct state live, back;
	struct wal *w;
	struct wal_opts o = {4096, 0};
	struct wal_scan sc;
	struct checkpoint ck;
	struct wbuf rec = {0};
	char err[256];
	uint64_t snap = 0, replayed;
	int published = 0, next_wait = 100;

	new_state(&live);
	ck_assert_int_eq(
	    wal_open(&w, dfd, &o, NULL, NULL, &sc, err, sizeof(err)), 0);
	checkpoint_init(&ck, dfd, 6000, archive, 0, 0);
	ck.foreground = foreground;
	ck.exe = compactor();
	/* The server's loop: handlers append and apply, a group is sealed
	 * and written, and the checkpoint policy runs after it.  The
	 * compactor rebuilds the state up to the durable LSN from the
	 * directory while this loop goes on appending to the log. */
	for (int i = 0; i < 800; i++) {
		uint16_t type = gen(&live, &rec);
		uint64_t lsn = wal_append(w, type, rec.data, (uint32_t)rec.len,
					  1700000000000ll);
		ck_assert_int_eq(state_apply(&live, type, rec.data,
					     (uint32_t)rec.len, lsn,
					     1700000000000ll),
				 0);
		if (rnd(4) == 0) {
			int rc;
			group(w);
			/* Now and then the loop waits for the compactor, so
			 * a slow one (a sanitizer build) still gets several
			 * checkpoints done. */
			if (i >= next_wait && ck.child) {
				rc = wait_child(&ck, w, err, sizeof(err));
				next_wait = i + 100;
			} else {
				rc = poll_child(&ck, w, err, sizeof(err));
			}
			ck_assert_msg(rc >= 0, "%s", err);
			published += rc;
			rc = checkpoint_tick(&ck, &live, w, err, sizeof(err));
			ck_assert_msg(rc >= 0, "%s", err);
			published += rc;
		}
	}
	if (ck.child) {
		int rc = wait_child(&ck, w, err, sizeof(err));
		ck_assert_msg(rc >= 0, "%s", err);
		published += rc;
	}
	ck_assert_int_ge(published, 3);
	ck_assert_uint_eq(ck.written, (uint64_t)published);
	/* Exactly the segments the last snapshot covers went (or moved to
	 * the archive): the oldest left holds its LSN + 1, the next one
	 * starts after it. */
	{
		struct wal_scan_opts so = {ck.lsn, 1, false};
		struct firsts f = {0};
		ck_assert_int_eq(wal_scan(dfd, &so, seg_first_fn, &f, &sc), 0);
		ck_assert_int_eq(sc.verdict, WAL_CLEAN);
		ck_assert_int_ge(f.n, 1);
		ck_assert_uint_le(f.v[0], ck.lsn + 1);
		if (f.n > 1)
			ck_assert_uint_gt(f.v[1], ck.lsn + 1);
		ck_assert_int_eq(count_segments("wal"), f.n);
		if (archive)
			ck_assert_int_gt(count_segments("wal/archive"), 5);
		else
			ck_assert_int_eq(count_segments("wal/archive"), 0);
	}
	/* Records gathered but never written are lost in a crash; what was
	 * durable comes back from snapshot + log. */
	if (wal_has_pending(w))
		group(w);
	commit_all(&live);
	wal_close(w);
	replayed = recover(&back, &snap);
	ck_assert_uint_eq(snap, ck.lsn);
	ck_assert_uint_gt(snap, 0);
	ck_assert_uint_lt(replayed, 800 - snap + 1);
	assert_same(&live, &back);
	state_free(&back);
	/* A clean stop snapshots everything; the restart replays nothing.
	 * (The log no longer starts at LSN 1: opening it needs the
	 * snapshot's LSN.) */
	o.after_lsn = ck.lsn;
	ck_assert_int_eq(
	    wal_open(&w, dfd, &o, NULL, NULL, &sc, err, sizeof(err)), 0);
	ck_assert_int_eq(checkpoint_now(&ck, &live, w, err, sizeof(err)), 1);
	ck_assert_int_eq(checkpoint_now(&ck, &live, w, err, sizeof(err)), 0);
	wal_close(w);
	ck_assert_uint_eq(recover(&back, &snap), 0);
	ck_assert_uint_eq(snap, ck.lsn);
	assert_same(&live, &back);
	if (archive) {
		/* The archive still holds the whole history: replaying it
		 * from LSN 1 rebuilds the same state. */
		struct wal_scan_opts so = {0, 1, true};
		struct state full;
		struct replay_ctx c = {&full, 0};
		new_state(&full);
		ck_assert_int_eq(wal_scan(dfd, &so, replay, &c, &sc), 0);
		ck_assert_int_eq(sc.verdict, WAL_CLEAN);
		ck_assert_uint_eq(sc.first_lsn, 1);
		commit_all(&full);
		assert_same(&live, &full);
		state_free(&full);
	}
	state_free(&back);
	state_free(&live);
	wbuf_free(&rec);
}

START_TEST(checkpoints_trim)
{
	checkpoint_case(false, false);
}
END_TEST

START_TEST(checkpoints_archive)
{
	checkpoint_case(true, false);
}
END_TEST

START_TEST(checkpoints_foreground)
{
	checkpoint_case(false, true);
}
END_TEST

static void waits_for_durability(bool foreground)
{
	struct state live;
	struct wal *w;
	struct wal_opts o = {1 << 20, 0};
	struct wal_scan sc;
	struct checkpoint ck;
	struct snapshot_info info;
	struct wal_group g;
	struct wbuf rec = {0};
	char err[256];
	struct stat sb;

	new_state(&live);
	ck_assert_int_eq(
	    wal_open(&w, dfd, &o, NULL, NULL, &sc, err, sizeof(err)), 0);
	checkpoint_init(&ck, dfd, 1, false, 0, 0);
	ck.foreground = foreground;
	ck.exe = compactor();
	for (int i = 0; i < 20; i++) {
		uint16_t type = gen(&live, &rec);
		uint64_t lsn =
		    wal_append(w, type, rec.data, (uint32_t)rec.len, 0);
		ck_assert_int_eq(state_apply(&live, type, rec.data,
					     (uint32_t)rec.len, lsn, 0),
				 0);
		if (i == 9) {
			/* Group 1..10 goes out; 11.. gather meanwhile. */
			ck_assert_int_eq(wal_group_begin(w, &g), 1);
		}
	}
	ck_assert_int_eq(pwrite(g.fd, g.buf, g.len, g.offset), (ssize_t)g.len);
	wal_group_done(w);
	if (!foreground) {
		/* Due: the compactor is asked for the durable LSN (10) only,
		 * and what it wrote is installed as soon as it ended. */
		ck_assert_int_eq(
		    checkpoint_tick(&ck, &live, w, err, sizeof(err)), 0);
		ck_assert_int_gt(ck.child, 0);
		ck_assert_uint_eq(ck.child_lsn, 10);
		/* Only one checkpoint at a time. */
		ck_assert_int_eq(
		    checkpoint_tick(&ck, &live, w, err, sizeof(err)), 0);
		ck_assert_msg(wait_child(&ck, w, err, sizeof(err)) == 1, "%s",
			      err);
		ck_assert_int_eq(ck.child, 0);
		ck_assert_int_eq(ck.child_fd, -1);
		ck_assert_int_eq(snapshot_peek(dfd, &info, err, sizeof(err)),
				 0);
		ck_assert_uint_eq(info.lsn, 10);
		ck_assert_int_eq(
		    checkpoint_now(&ck, &live, w, err, sizeof(err)), -EBUSY);
		/* Once 11..20 are durable, the next one covers them. */
		group(w);
		ck_assert_int_eq(
		    checkpoint_tick(&ck, &live, w, err, sizeof(err)), 0);
		ck_assert_uint_eq(ck.child_lsn, 20);
		ck_assert_msg(wait_child(&ck, w, err, sizeof(err)) == 1, "%s",
			      err);
		ck_assert_int_eq(snapshot_peek(dfd, &info, err, sizeof(err)),
				 0);
		ck_assert_uint_eq(info.lsn, 20);
		ck_assert_int_eq(fstatat(dfd, SNAP_TMP, &sb, 0), -1);
		wal_close(w);
		wbuf_free(&rec);
		state_free(&live);
		return;
	}
	/* Due, but LSN 20 is not durable: snapshot.tmp waits. */
	ck_assert_int_eq(checkpoint_tick(&ck, &live, w, err, sizeof(err)), 0);
	ck_assert_int_eq(fstatat(dfd, SNAP_TMP, &sb, 0), 0);
	ck_assert_int_eq(snapshot_peek(dfd, &info, err, sizeof(err)), 0);
	ck_assert(!info.present);
	ck_assert_int_eq(checkpoint_now(&ck, &live, w, err, sizeof(err)),
			 -EBUSY);
	/* Once it is, the next tick installs it. */
	group(w);
	ck_assert_int_eq(checkpoint_tick(&ck, &live, w, err, sizeof(err)), 1);
	ck_assert_int_eq(snapshot_peek(dfd, &info, err, sizeof(err)), 0);
	ck_assert_uint_eq(info.lsn, 20);
	ck_assert_int_eq(fstatat(dfd, SNAP_TMP, &sb, 0), -1);
	wal_close(w);
	wbuf_free(&rec);
	state_free(&live);
}

START_TEST(checkpoint_waits_for_durability)
{
	waits_for_durability(false);
}
END_TEST

START_TEST(checkpoint_waits_for_durability_foreground)
{
	waits_for_durability(true);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("snapshot");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, empty_and_absent);
	tcase_add_test(tc, every_byte_protected);
	tcase_add_test(tc, hand_written);
	tcase_add_test(tc, hand_written_refused);
	tcase_add_test(tc, checkpoints_trim);
	tcase_add_test(tc, checkpoints_archive);
	tcase_add_test(tc, checkpoints_foreground);
	tcase_add_test(tc, checkpoint_waits_for_durability);
	tcase_add_test(tc, checkpoint_waits_for_durability_foreground);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

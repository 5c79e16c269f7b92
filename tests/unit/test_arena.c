/*
 * test_arena.c - unit tests of the memory a restart fills: the arena and
 * its interned strings (engine/arena), the string map's reserve and keys
 * (engine/hmap), and the domain's use of them (engine/state, records):
 * a change applied in place, and a replay without deltas that leaves the
 * committed copies exactly where committing every delta would.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "bookings.h"
#include "hmap.h"
#include "state.h"
#include "suite_main.h"
#include "wal.h"
#include "wire.h"

START_TEST(arena_alloc_and_free)
{
	struct arena a = {0};
	static const char zero[1000];
	char *first, *big;
	char *p[5000];

	/* Aligned, zeroed, unmoved, across many blocks. */
	for (int i = 0; i < 5000; i++) {
		size_t align = (size_t)1 << (i % 7);
		p[i] = arena_alloc(&a, 1000 + (size_t)i % 13, align);
		ck_assert_uint_eq((uintptr_t)p[i] % align, 0);
		ck_assert_int_eq(memcmp(p[i], zero, 1000), 0);
		memset(p[i], i & 0xff, 1000);
	}
	for (int i = 0; i < 5000; i++)
		ck_assert_int_eq((unsigned char)p[i][999], i & 0xff);
	ck_assert_uint_ge(arena_mapped(&a), 5000u * 1000u);
	/* Larger than a block. */
	big = arena_alloc(&a, 3 * ARENA_BLOCK + 5, 64);
	big[3 * ARENA_BLOCK + 4] = 'x';
	ck_assert_int_eq(big[0], 0);
	first = arena_strndup(&a, "abc\0def", 7);
	ck_assert_int_eq(memcmp(first, "abc\0def", 8), 0);
	arena_free(&a);
	ck_assert_uint_eq(arena_mapped(&a), 0);
	ck_assert_ptr_null(a.cur);
}
END_TEST

START_TEST(arena_reserve_warms)
{
	struct arena a = {0};
	uint64_t *v;

	/* Allocation goes on while another thread faults the block in. */
	arena_reserve(&a, 8 * ARENA_BLOCK);
	ck_assert_int_eq(a.warm.on, 1);
	arena_reserve(&a, 8 * ARENA_BLOCK); /* a second one: nothing */
	ck_assert_uint_eq(a.nblocks, 1);
	v = arena_alloc(&a, 7 * ARENA_BLOCK, 8);
	for (size_t i = 0; i < 7 * ARENA_BLOCK / 8; i += 512)
		v[i] = i;
	for (size_t i = 0; i < 7 * ARENA_BLOCK / 8; i += 512)
		ck_assert_uint_eq(v[i], i);
	ck_assert_uint_eq(a.nblocks, 1); /* it came from the reserved block */
	arena_free(&a);			 /* joins the thread */
	/* Too small to be worth a thread. */
	arena_reserve(&a, 100);
	ck_assert_int_eq(a.warm.on, 0);
	arena_free(&a);
}
END_TEST

START_TEST(interned_strings)
{
	struct strtab t = {0};
	const char *kept[3000];
	char buf[32];

	for (int i = 0; i < 3000; i++) {
		int n = snprintf(buf, sizeof(buf), "s%d", i);
		kept[i] = strtab_intern(&t, buf, (size_t)n);
		ck_assert_str_eq(kept[i], buf);
	}
	ck_assert_uint_eq(t.n, 3000);
	/* Equal strings give the same pointer, also after the table grew. */
	for (int i = 0; i < 3000; i++) {
		int n = snprintf(buf, sizeof(buf), "s%d", i);
		ck_assert_ptr_eq(strtab_intern(&t, buf, (size_t)n), kept[i]);
	}
	ck_assert_uint_eq(t.n, 3000);
	/* Lengths, not NULs, tell strings apart. */
	ck_assert_ptr_ne(strtab_intern(&t, "ab", 1),
			 strtab_intern(&t, "ab", 2));
	ck_assert_ptr_eq(strtab_intern(&t, "", 0), strtab_intern(&t, "x", 0));
	strtab_free(&t);
	ck_assert_uint_eq(t.n, 0);
}
END_TEST

START_TEST(hmap_reserve_keeps_entries)
{
	struct hmap m = {0};
	char k[32];
	uint64_t v;

	hmap_put(&m, "early", 5, 1);
	hmap_reserve(&m, 200000); /* a table of more than 2 MiB */
	ck_assert_uint_ge(m.cap * 3, 200000u * 4);
	ck_assert(hmap_get(&m, "early", 5, &v));
	ck_assert_uint_eq(v, 1);
	for (int i = 0; i < 200000; i++) {
		int n = snprintf(k, sizeof(k), "ref-%d", i);
		hmap_put(&m, k, (size_t)n, (uint64_t)i);
	}
	ck_assert_uint_eq(m.n, 200001);
	for (int i = 0; i < 200000; i += 997) {
		int n = snprintf(k, sizeof(k), "ref-%d", i);
		ck_assert(hmap_get(&m, k, (size_t)n, &v));
		ck_assert_uint_eq(v, (uint64_t)i);
	}
	ck_assert(!hmap_get(&m, "ref-200000", 10, &v));
	hmap_free(&m);
}
END_TEST

/* A big map half full makes the table it grows into ahead, and takes it
 * when it grows: every entry is there before and after. */
START_TEST(hmap_grows_into_table_made_ahead)
{
	struct hmap m = {0};
	struct hmap_ent *ahead = NULL;
	char k[32];
	uint64_t v;
	int n = 0, grown_into = 0;

	for (int i = 0; i < 400000; i++) {
		size_t cap = m.cap;
		n = snprintf(k, sizeof(k), "ref-%d", i);
		hmap_put(&m, k, (size_t)n, (uint64_t)i);
		if (m.cap != cap && ahead != NULL) {
			/* It grew into the table made ahead. */
			ck_assert_ptr_eq(m.ents, ahead);
			grown_into++;
		}
		if (m.next)
			ck_assert_uint_eq(m.next_cap, m.cap * 2);
		ahead = m.next;
	}
	ck_assert_int_ge(grown_into, 2);
	ck_assert_uint_eq(m.n, 400000);
	for (int i = 0; i < 400000; i += 101) {
		n = snprintf(k, sizeof(k), "ref-%d", i);
		ck_assert(hmap_get(&m, k, (size_t)n, &v));
		ck_assert_uint_eq(v, (uint64_t)i);
	}
	ck_assert(!hmap_get(&m, "ref-400000", 10, &v));
	/* A reserve past the table made ahead drops it. */
	hmap_reserve(&m, 3000000);
	ck_assert_ptr_null(m.next);
	ck_assert(hmap_get(&m, "ref-399999", 10, &v));
	ck_assert_uint_eq(v, 399999);
	hmap_free(&m);
}
END_TEST

/* ---- the domain ------------------------------------------------------- */

#define TODAY	20000
#define NOW_MS	((int64_t)TODAY * 86400000)
#define T(d, h) ((int64_t)(TODAY + (d)) * 86400 + (int64_t)((h)*3600))

static const struct caller_limits lim = CALLER_LIMITS_DEFAULT;

static void apply(struct state *st, uint16_t type, const struct wbuf *rec,
		  uint64_t lsn)
{
	ck_assert_uint_gt(rec->len, 0);
	ck_assert_int_eq(
	    state_apply(st, type, rec->data, (uint32_t)rec->len, lsn, NOW_MS),
	    0);
}

/* The records of a small history: a room and a pool of 3, bookings on
 * both, cancellations, a move, and the pool lowered to 2 under them. */
static size_t history(struct wbuf *recs, uint16_t *types, size_t max)
{
	struct state st;
	struct proto_error e = {0};
	struct check_out co;
	const struct booking *rep;
	size_t n = 0;
	struct item room = {0, 1}, pool = {1, 2};

	ck_assert_int_eq(state_init(&st, 4, TODAY - 2, TODAY + 20, 24), 0);
	for (int r = 0; r < 2; r++) {
		struct resource_in in = {.id = r ? "pool" : "room",
					 .quantity = r ? 3 : 1,
					 .standalone = true,
					 .active = true};
		ck_assert_int_eq(state_resource_record(&st, &in, &recs[n], &e),
				 0);
		types[n] = WAL_RESOURCE;
		apply(&st, types[n], &recs[n], n + 1);
		n++;
	}
	for (int i = 0; i < 12 && n + 2 < max; i++) {
		struct book_in in = {.items = i % 2 ? &pool : &room,
				     .nitems = 1,
				     .start = T(1 + i / 2, 9),
				     .end = T(1 + i / 2, 11),
				     .name = "Ada",
				     .email = "ada@example.org",
				     .owner = "p1",
				     .actor = "admin",
				     .admin = true,
				     .now_ms = NOW_MS};
		ck_assert_int_eq(
		    state_book_record(&st, &in, &lim, &recs[n], &e, &co, &rep),
		    0);
		types[n] = WAL_BOOKING;
		apply(&st, types[n], &recs[n], n + 1);
		n++;
		if (i % 3 == 0) {
			/* Cancel it, or move it a week on. */
			const struct booking *b = st.bk[st.nbk - 1];
			struct booking_change c = {
			    .status = i % 2 ? BS_CONFIRMED : BS_CANCELLED,
			    .start = i % 2 ? b->start + 7 * 86400 : b->start,
			    .end = i % 2 ? b->end + 7 * 86400 : b->end,
			    .at_ms = NOW_MS,
			    .by = "admin",
			    .reason = "test",
			    .event = i % 2 ? EV_RESCHEDULED : EV_CANCELLED};
			ck_assert_int_eq(state_booking_change_record(
					     &st, b, &c, &lim, &recs[n], &e),
					 0);
			types[n] = WAL_BOOKING;
			apply(&st, types[n], &recs[n], n + 1);
			n++;
		}
	}
	{
		struct resource_in in;
		state_resource_in(st.res[1], &in);
		in.quantity = 2;
		ck_assert_int_eq(state_resource_record(&st, &in, &recs[n], &e),
				 0);
		types[n] = WAL_RESOURCE;
		n++;
	}
	state_free(&st);
	return n;
}

START_TEST(replay_matches_commits)
{
	struct wbuf recs[64] = {{0}};
	uint16_t types[64];
	size_t n = history(recs, types, 60);
	struct state live, rep;
	struct delta *dl;
	size_t nd;

	ck_assert_int_eq(state_init(&live, 4, TODAY - 2, TODAY + 20, 24), 0);
	ck_assert_int_eq(state_init(&rep, 4, TODAY - 2, TODAY + 20, 24), 0);
	state_replay_begin(&rep);
	for (size_t i = 0; i < n; i++) {
		apply(&live, types[i], &recs[i], i + 1);
		dl = state_take_deltas(&live, &nd);
		state_commit_deltas(&live, dl, nd);
		free(dl);
		apply(&rep, types[i], &recs[i], i + 1);
	}
	dl = state_take_deltas(&rep, &nd);
	ck_assert_uint_eq(nd, 0); /* replaying queues none */
	free(dl);
	state_replay_end(&rep);
	ck_assert_uint_eq(rep.nbk, live.nbk);
	ck_assert_uint_eq(rep.res[1]->cquantity, 2);
	for (uint32_t r = 0; r < live.nres; r++) {
		const struct resource *a = live.res[r], *b = rep.res[r];
		ck_assert_uint_eq(a->cquantity, b->cquantity);
		ck_assert_ptr_eq(b->csched, b->sched);
		for (uint32_t k = 0; k < live.window_days; k++) {
			const struct rday *x = &a->days[k], *y = &b->days[k];
			ck_assert_int_eq(x->day, y->day);
			ck_assert_int_eq(
			    memcmp(x->cbooked, y->cbooked, sizeof(x->cbooked)),
			    0);
			ck_assert_int_eq(
			    memcmp(x->copen, y->copen, sizeof(x->copen)), 0);
			ck_assert_int_eq(x->cunits == NULL, y->cunits == NULL);
			if (x->cunits)
				ck_assert_int_eq(
				    memcmp(x->cunits, y->cunits,
					   Q_PER_DAY * sizeof(uint16_t)),
				    0);
		}
	}
	/* The pool's stacked day still counts 2 units of each booking. */
	{
		const struct rday *d = state_day(&rep, rep.res[1], TODAY + 1);
		ck_assert_ptr_nonnull(d);
		ck_assert_ptr_nonnull(d->cunits);
		ck_assert_uint_eq(d->cunits[9 * 4], 2);
	}
	state_free(&live);
	state_free(&rep);
	for (size_t i = 0; i < n; i++)
		wbuf_free(&recs[i]);
}
END_TEST

START_TEST(change_in_place)
{
	struct wbuf recs[64] = {{0}};
	uint16_t types[64];
	size_t n = history(recs, types, 60);
	struct state st;
	const struct booking *b1 = NULL, *b2;
	const char *name = NULL;

	ck_assert_int_eq(state_init(&st, 4, TODAY - 2, TODAY + 20, 24), 0);
	for (size_t i = 0; i < n; i++) {
		apply(&st, types[i], &recs[i], i + 1);
		if (st.nbk == 1 && b1 == NULL) {
			b1 = st.bk[0];
			name = b1->name;
			ck_assert_uint_eq(b1->nhist, 1);
		}
	}
	/* Booking 1 was cancelled by a change record: the same booking,
	 * its strings untouched, one more history entry. */
	ck_assert_ptr_eq(st.bk[0], b1);
	ck_assert_ptr_eq(b1->name, name);
	ck_assert_str_eq(b1->name, "Ada");
	ck_assert_int_eq(b1->status, BS_CANCELLED);
	ck_assert_uint_eq(b1->nhist, 2);
	ck_assert_str_eq(b1->hist[1].reason, "test");
	/* Repeated strings are interned: one copy for every booking. */
	b2 = st.bk[1];
	ck_assert_ptr_eq(b1->owner, b2->owner);
	ck_assert_ptr_eq(b1->hist[0].by, b2->hist[0].by);
	ck_assert_uint_eq(st.by_status[BS_CANCELLED], 2);
	state_free(&st);
	for (size_t i = 0; i < n; i++)
		wbuf_free(&recs[i]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("memory");

	tcase_add_test(tc, arena_alloc_and_free);
	tcase_add_test(tc, arena_reserve_warms);
	tcase_add_test(tc, interned_strings);
	tcase_add_test(tc, hmap_reserve_keeps_entries);
	tcase_add_test(tc, hmap_grows_into_table_made_ahead);
	tcase_add_test(tc, replay_matches_commits);
	tcase_add_test(tc, change_in_place);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

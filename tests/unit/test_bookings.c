/*
 * test_bookings.c - unit tests of the domain's booking mutations
 * (engine/bookings.c) without a socket: public span rules, an event
 * type's notice, lengths and buffers, idempotency keys, holds, and the
 * change records of reschedule and transition.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookings.h"
#include "suite_main.h"
#include "wal.h"
#include "wire.h"

#define TODAY 20000
/* Noon today, in milliseconds. */
#define NOW_MS (((int64_t)TODAY * 86400 + 12 * 3600) * 1000)
#define T(h)   ((int64_t)TODAY * 86400 + (int64_t)((h)*3600))

static struct state st;
static struct item one = {0, 1};
static const struct caller_limits lim = CALLER_LIMITS_DEFAULT;
static uint64_t lsn = 1;

static void apply(uint16_t type, const struct wbuf *rec)
{
	ck_assert_uint_gt(rec->len, 0);
	ck_assert_int_eq(state_apply(&st, type, rec->data, (uint32_t)rec->len,
				     lsn++, NOW_MS),
			 0);
}

static void setup(void)
{
	struct resource_in r = {
	    .id = "room", .quantity = 1, .standalone = 1, .active = 1};
	struct event_type_in et = {.id = "talk",
				   .title = "Talk",
				   .lengths = {60},
				   .nlengths = 1,
				   .res = {0},
				   .nres = 1,
				   .buffer_before = 30,
				   .min_notice = 120,
				   .active = true};
	struct proto_error e = {0};
	struct wbuf rec = {0};

	ck_assert_int_eq(state_init(&st, 4, TODAY - 7, TODAY + 30, 40), 0);
	ck_assert_int_eq(state_resource_record(&st, &r, &rec, &e), 0);
	apply(WAL_RESOURCE, &rec);
	wbuf_free(&rec);
	ck_assert_int_eq(state_event_type_record(&st, &et, &rec, &e), 0);
	apply(WAL_EVENT_TYPE, &rec);
	wbuf_free(&rec);
}

static void teardown(void)
{
	state_free(&st);
}

/* A public request for [start, end) on the room. */
static struct book_in req(int64_t start, int64_t end)
{
	return (struct book_in){.items = &one,
				.nitems = 1,
				.start = start,
				.end = end,
				.name = "Ada",
				.email = "ada@example.org",
				.owner = "p1",
				.actor = "public",
				.now_ms = NOW_MS};
}

static struct book_str str(const char *s)
{
	return (struct book_str){s, strlen(s)};
}

/* Run state_book_record; on success apply the record (unless a repeat). */
static int book(const struct book_in *in, struct proto_error *e,
		struct check_out *co, const struct booking **repeat)
{
	struct wbuf rec = {0};
	const struct booking *dummy;
	int rc;

	memset(e, 0, sizeof(*e));
	rc = state_book_record(&st, in, &lim, &rec, e, co,
			       repeat ? repeat : &dummy);
	if (rc == 0 && rec.len)
		apply(WAL_BOOKING, &rec);
	wbuf_free(&rec);
	return rc;
}

START_TEST(public_past_start)
{
	struct book_in in = req(T(11), T(12));
	struct proto_error e;
	struct check_out co;

	ck_assert_int_eq(book(&in, &e, &co, NULL), BOOKD_E_OUT_OF_RANGE);
	ck_assert_str_eq(e.field, "start");
	ck_assert_int_eq(co.err, 0);
	ck_assert_uint_eq(st.nbk, 0);
	in.admin = true; /* staff may book what has started */
	ck_assert_int_eq(book(&in, &e, &co, NULL), 0);
	ck_assert_uint_eq(st.nbk, 1);
	ck_assert_int_eq(st.bk[0]->status, BS_CONFIRMED);
	ck_assert_str_eq(st.bk[0]->hist[0].by, "public");
}
END_TEST

START_TEST(event_type_rules)
{
	struct book_in in = req(T(13), T(14));
	struct proto_error e;
	struct check_out co;

	in.event_type = str("talk");
	/* An hour ahead; 'talk' needs two hours' notice. */
	ck_assert_int_eq(book(&in, &e, &co, NULL), BOOKD_E_OUT_OF_RANGE);
	ck_assert_msg(
	    strstr(e.msg, "needs at least 2 h notice: bookable from") != NULL,
	    "%s", e.msg);
	ck_assert_str_eq(e.field, "start");
	/* 45 minutes is not one of its lengths. */
	in.start = T(15);
	in.end = T(15.75);
	ck_assert_int_eq(book(&in, &e, &co, NULL), BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(e.field, "end");
	in.end = T(16);
	ck_assert_int_eq(book(&in, &e, &co, NULL), 0);
	ck_assert_int_eq(st.bk[0]->buf_before, 30 * 60);
	ck_assert_str_eq(st.bk[0]->event_type, "talk");
	/* An unknown event type, and public callers setting a status. */
	in.event_type = str("nope");
	ck_assert_int_eq(book(&in, &e, &co, NULL), BOOKD_E_NOT_FOUND);
	ck_assert_str_eq(e.field, "event_type");
	in.event_type = (struct book_str){0};
	in.start = T(20);
	in.end = T(21);
	in.status_given = true;
	in.status = BS_PENDING;
	ck_assert_int_eq(book(&in, &e, &co, NULL), BOOKD_E_FORBIDDEN);
	in.admin = true;
	ck_assert_int_eq(book(&in, &e, &co, NULL), 0);
	ck_assert_int_eq(st.bk[1]->status, BS_PENDING);
}
END_TEST

START_TEST(buffers_against_neighbour)
{
	struct book_in in = req(T(15), T(16));
	struct proto_error e;
	struct check_out co;

	ck_assert_int_eq(book(&in, &e, &co, NULL), 0);
	/* Right after it: free, but 'talk' wants 30 minutes before. */
	in = req(T(16), T(17));
	in.event_type = str("talk");
	ck_assert_int_eq(book(&in, &e, &co, NULL), BOOKD_E_CONFLICT);
	ck_assert_int_eq(co.err, BOOKD_E_CONFLICT);
	ck_assert_int_eq(e.code, 0); /* the caller words a span refusal */
	ck_assert_uint_eq(co.nids, 1);
	ck_assert_uint_eq(co.ids[0], 1);
	/* Without the event type there is no buffer. */
	in.event_type = (struct book_str){0};
	ck_assert_int_eq(book(&in, &e, &co, NULL), 0);
	ck_assert_uint_eq(st.nbk, 2);
}
END_TEST

START_TEST(same_key_repeats)
{
	struct book_in in = req(T(15), T(16));
	struct proto_error e;
	struct check_out co;
	const struct booking *rep;

	in.key = str("k1");
	ck_assert_int_eq(book(&in, &e, &co, &rep), 0);
	ck_assert_ptr_null(rep);
	ck_assert_uint_eq(st.nbk, 1);
	ck_assert_str_eq(st.bk[0]->key, "k1");
	/* The same request again returns the first booking, books nothing. */
	ck_assert_int_eq(book(&in, &e, &co, &rep), 0);
	ck_assert_ptr_eq(rep, st.bk[0]);
	ck_assert_uint_eq(st.nbk, 1);
	/* A different request under the key is refused. */
	in.start = T(17);
	in.end = T(18);
	ck_assert_int_eq(book(&in, &e, &co, &rep), BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(e.field, "key");
	/* Keys are per principal. */
	in.owner = "p2";
	ck_assert_int_eq(book(&in, &e, &co, &rep), 0);
	ck_assert_ptr_null(rep);
	ck_assert_uint_eq(st.nbk, 2);
	in.key = str("");
	ck_assert_int_eq(book(&in, &e, &co, &rep), BOOKD_E_BAD_REQUEST);
}
END_TEST

START_TEST(held_span)
{
	struct book_in in = req(T(15), T(16));
	struct proto_error e;
	struct check_out co;
	struct resource *room = st.res[0];

	ck_assert_int_eq(
	    state_hold_set(&st, room, "s1", "p1", T(15), T(16), 1 << 30), 1);
	ck_assert_int_eq(book(&in, &e, &co, NULL), BOOKD_E_HELD);
	in.session = "s2";
	ck_assert_int_eq(book(&in, &e, &co, NULL), BOOKD_E_HELD);
	ck_assert_uint_eq(st.nbk, 0);
	in.session = "s1";
	ck_assert_int_eq(book(&in, &e, &co, NULL), 0);
	ck_assert_uint_eq(st.nbk, 1);
	state_book_release_holds(&st, in.items, in.nitems, in.session);
	ck_assert_ptr_null(state_hold_find(room, "s1"));
	ck_assert_uint_eq(st.nholds, 0);
}
END_TEST

START_TEST(changes)
{
	struct book_in in = req(T(15), T(16));
	struct booking_change_in c = {.actor = "public", .now_ms = NOW_MS};
	struct proto_error e = {0};
	struct check_out co;
	struct wbuf rec = {0};

	in.event_type = str("talk");
	ck_assert_int_eq(book(&in, &e, &co, NULL), 0);
	/* Reschedule into another session's hold: refused by the check. */
	ck_assert_int_eq(
	    state_hold_set(&st, st.res[0], "s9", "p9", T(18), T(19), 1 << 30),
	    1);
	c.start = T(18);
	c.end = T(19);
	ck_assert_int_eq(
	    state_reschedule_record(&st, st.bk[0], &c, &lim, &rec, &e, &co),
	    BOOKD_E_HELD);
	/* The what-if put the old span back. */
	ck_assert_uint_ne(state_day(&st, st.res[0], TODAY)->booked[0] |
			      state_day(&st, st.res[0], TODAY)->booked[1],
			  0);
	/* Not one of the event type's lengths. */
	c.start = T(20);
	c.end = T(20.5);
	ck_assert_int_eq(
	    state_reschedule_record(&st, st.bk[0], &c, &lim, &rec, &e, &co),
	    BOOKD_E_BAD_REQUEST);
	c.end = T(21);
	ck_assert_int_eq(
	    state_reschedule_record(&st, st.bk[0], &c, &lim, &rec, &e, &co), 0);
	apply(WAL_BOOKING, &rec);
	wbuf_free(&rec);
	ck_assert_int_eq(st.bk[0]->start, T(20));
	ck_assert_str_eq(st.bk[0]->hist[1].reason,
			 "rescheduled from 2024-10-04T15:00Z to "
			 "2024-10-04T20:00Z");
	/* Public callers do not name the actor. */
	c.by_given = true;
	c.by = "mallory";
	ck_assert_int_eq(state_transition_record(&st, st.bk[0], BS_CANCELLED,
						 &c, &lim, &rec, &e),
			 BOOKD_E_FORBIDDEN);
	c.admin = true;
	c.reason = "ill";
	ck_assert_int_eq(state_transition_record(&st, st.bk[0], BS_CANCELLED,
						 &c, &lim, &rec, &e),
			 0);
	apply(WAL_BOOKING, &rec);
	wbuf_free(&rec);
	ck_assert_int_eq(st.bk[0]->status, BS_CANCELLED);
	ck_assert_str_eq(st.bk[0]->hist[2].by, "mallory");
	ck_assert_int_eq(state_transition_record(&st, st.bk[0], BS_CONFIRMED,
						 &c, &lim, &rec, &e),
			 BOOKD_E_INVALID_STATE);
	wbuf_free(&rec);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bookings");
	TCase *tc = tcase_create("domain");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, public_past_start);
	tcase_add_test(tc, event_type_rules);
	tcase_add_test(tc, buffers_against_neighbour);
	tcase_add_test(tc, same_key_repeats);
	tcase_add_test(tc, held_span);
	tcase_add_test(tc, changes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

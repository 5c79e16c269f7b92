/*
 * test_state.c - unit tests of the domain (engine/state) without a socket:
 * the booking state machine, span checks over applied records, pools,
 * and the typed inputs of resources and event types, which the domain
 * checks and encodes with the one encoder of each record format.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "suite_main.h"
#include "wal.h"
#include "wire.h"

START_TEST(state_machine)
{
	static const char *legal[] = {
	    "pending>confirmed",   "pending>declined",	  "pending>cancelled",
	    "confirmed>completed", "confirmed>cancelled", "confirmed>no_show",
	};
	int nlegal = 0;

	for (int a = 0; a < BS__COUNT; a++)
		for (int b = 0; b < BS__COUNT; b++) {
			char k[40];
			bool want = false;
			snprintf(k, sizeof(k), "%s>%s", bstatus_names[a],
				 bstatus_names[b]);
			for (size_t i = 0; i < sizeof(legal) / sizeof(*legal);
			     i++)
				want |= strcmp(k, legal[i]) == 0;
			ck_assert_int_eq(bstatus_can_move(a, b), want);
			nlegal += want;
		}
	ck_assert_int_eq(nlegal, 6);
	ck_assert(!bstatus_occupies(BS_DECLINED));
	ck_assert(!bstatus_occupies(BS_CANCELLED));
	ck_assert(bstatus_occupies(BS_PENDING));
	ck_assert(bstatus_occupies(BS_COMPLETED));
}
END_TEST

/* Apply a resource record to st. */
static void put_resource(struct state *st, const char *id, int quantity)
{
	struct wbuf b = {0};
	msgpack_packer pk;

	wbuf_packer_init(&pk, &b);
	msgpack_pack_map(&pk, 2);
	wire_pk_kstr(&pk, "id", id);
	wire_pk_kint(&pk, "quantity", quantity);
	ck_assert_int_eq(
	    state_apply(st, WAL_RESOURCE, b.data, (uint32_t)b.len, 1, 0), 0);
	wbuf_free(&b);
}

static void put_booking(struct state *st, uint32_t id, const char *res, int qty,
			int64_t s, int64_t e, const char *status)
{
	struct wbuf b = {0};
	msgpack_packer pk;
	char ref[33];

	snprintf(ref, sizeof(ref), "ref%u", id);
	wbuf_packer_init(&pk, &b);
	msgpack_pack_map(&pk, 6);
	wire_pk_kint(&pk, "id", id);
	wire_pk_kstr(&pk, "ref", ref);
	wire_pk_kstr(&pk, "status", status);
	wire_pk_kint(&pk, "start", s);
	wire_pk_kint(&pk, "end", e);
	wire_pk_str(&pk, "items");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 2);
	wire_pk_kstr(&pk, "resource", res);
	wire_pk_kint(&pk, "quantity", qty);
	ck_assert_int_eq(
	    state_apply(st, WAL_BOOKING, b.data, (uint32_t)b.len, id + 1, 0),
	    0);
	wbuf_free(&b);
}

START_TEST(span_checks)
{
	struct state st;
	int64_t today = 20000, mon = (today + 1) * 86400;
	struct check_out co;
	struct item a = {0, 1}, pool = {1, 2};

	ck_assert_int_eq(state_init(&st, 8, today - 7, today + 30, 40), 0);
	put_resource(&st, "a", 1);
	put_resource(&st, "mics", 3);
	/* Mon 14:00 -> Wed 10:00 marks exactly those slots. */
	put_booking(&st, 1, "a", 1, mon + 14 * 3600,
		    mon + 2 * 86400 + 10 * 3600, "confirmed");
	{
		const struct resource *r = state_resource(&st, "a", 1);
		const struct rday *d0 = state_day(&st, r, today + 1);
		const struct rday *d1 = state_day(&st, r, today + 2);
		const struct rday *d2 = state_day(&st, r, today + 3);
		ck_assert_uint_eq(d0->booked[0], ~0ull << 56);
		ck_assert_uint_eq(d0->booked[1], 0xffffffffull);
		ck_assert_uint_eq(d1->booked[0], ~0ull);
		ck_assert_uint_eq(d2->booked[0], (1ull << 40) - 1);
		ck_assert_uint_eq(d2->booked[1], 0);
		/* Committed copies follow only the deltas. */
		ck_assert_uint_eq(d0->cbooked[0], 0);
	}
	ck_assert_int_eq(state_check(&st, &a, 1, mon + 13 * 3600,
				     mon + 14 * 3600, CHK_OPEN | CHK_HOLDS,
				     NULL, &co),
			 0);
	ck_assert_int_eq(state_check(&st, &a, 1, mon + 13 * 3600,
				     mon + 15 * 3600, CHK_OPEN | CHK_HOLDS,
				     NULL, &co),
			 BOOKD_E_CONFLICT);
	ck_assert_int_eq(co.nids, 1);
	ck_assert_int_eq(co.ids[0], 1);
	ck_assert_int_eq(state_check(&st, &a, 1, mon + 40 * 86400,
				     mon + 40 * 86400 + 900,
				     CHK_OPEN | CHK_HOLDS, NULL, &co),
			 BOOKD_E_OUT_OF_RANGE);
	/* Cancelling frees the slots. */
	put_booking(&st, 1, "a", 1, mon + 14 * 3600,
		    mon + 2 * 86400 + 10 * 3600, "cancelled");
	ck_assert_int_eq(state_check(&st, &a, 1, mon + 13 * 3600,
				     mon + 15 * 3600, CHK_OPEN | CHK_HOLDS,
				     NULL, &co),
			 0);
	/* Pools count units: 2 + 2 > 3, 2 + 1 fits. */
	put_booking(&st, 2, "mics", 2, mon, mon + 3600, "confirmed");
	ck_assert_int_eq(state_check(&st, &pool, 1, mon, mon + 900,
				     CHK_OPEN | CHK_HOLDS, NULL, &co),
			 BOOKD_E_CONFLICT);
	pool.qty = 1;
	ck_assert_int_eq(state_check(&st, &pool, 1, mon, mon + 900,
				     CHK_OPEN | CHK_HOLDS, NULL, &co),
			 0);
	/* Holds conflict only with other sessions. */
	ck_assert_int_eq(
	    state_hold_set(&st, st.res[0], "S", "u:1", mon, mon + 3600, 1000),
	    1);
	ck_assert_int_eq(state_check(&st, &a, 1, mon, mon + 900,
				     CHK_OPEN | CHK_HOLDS, "T", &co),
			 BOOKD_E_HELD);
	ck_assert_int_eq(state_check(&st, &a, 1, mon, mon + 900,
				     CHK_OPEN | CHK_HOLDS, "S", &co),
			 0);
	/* Renewal of the same span changes no bits; expiry frees them. */
	ck_assert_int_eq(
	    state_hold_set(&st, st.res[0], "S", "u:1", mon, mon + 3600, 2000),
	    0);
	ck_assert_int_eq(state_hold_expire(&st, 1500), 0);
	ck_assert_int_eq(state_hold_expire(&st, 2000), 1);
	ck_assert_int_eq(state_check(&st, &a, 1, mon, mon + 900,
				     CHK_OPEN | CHK_HOLDS, "T", &co),
			 0);
	{
		size_t n;
		struct delta *dl = state_take_deltas(&st, &n);
		state_commit_deltas(&st, dl, n);
		free(dl);
		ck_assert_uint_eq(
		    state_day(&st, st.res[0], today + 1)->cbooked[0], 0);
		ck_assert_uint_eq(
		    state_day(&st, st.res[1], today + 1)->cunits[0], 2);
	}
	state_free(&st);
}
END_TEST

START_TEST(requantify)
{
	struct state st;
	int64_t today = 20000, d = (today + 1) * 86400;
	const struct rday *r;

	ck_assert_int_eq(state_init(&st, 4, today - 7, today + 10, 20), 0);
	put_resource(&st, "p", 2);
	put_booking(&st, 1, "p", 1, d, d + 900, "confirmed");
	put_booking(&st, 2, "p", 1, d, d + 900, "confirmed");
	r = state_day(&st, st.res[0], today + 1);
	ck_assert_uint_eq(r->booked[0] & 1, 1);
	/* Raising the pool frees the slot; lowering to 1 keeps both
	 * bookings (never dropped) and counts. */
	put_resource(&st, "p", 3);
	ck_assert_uint_eq(r->booked[0] & 1, 0);
	put_resource(&st, "p", 1);
	ck_assert_uint_eq(r->booked[0] & 1, 1);
	ck_assert_uint_eq(r->units[0], 2);
	put_booking(&st, 2, "p", 1, d, d + 900, "cancelled");
	ck_assert_uint_eq(r->booked[0] & 1, 1);
	put_booking(&st, 1, "p", 1, d, d + 900, "cancelled");
	ck_assert_uint_eq(r->booked[0] & 1, 0);
	state_free(&st);
}
END_TEST

/* Encode a resource input, apply it, and check the stored entry encodes to
 * the same bytes: one encoder for the record, snapshots and replies. */
START_TEST(resource_input_round_trip)
{
	struct state st;
	struct proto_error e;
	struct wbuf rec = {0}, again = {0};
	msgpack_packer pk;
	struct resource_in in = {.id = "room-1",
				 .name = "Room one",
				 .timezone = "Europe/Paris",
				 .quantity = 3,
				 .standalone = true,
				 .active = true,
				 .created_ms = 5,
				 .updated_ms = 6};
	const struct resource *r;

	ck_assert_int_eq(state_init(&st, 1, 20000 - 7, 20000 + 30, 40), 0);
	ck_assert_int_eq(state_resource_record(&st, &in, &rec, &e), 0);
	ck_assert_int_eq(
	    state_apply(&st, WAL_RESOURCE, rec.data, (uint32_t)rec.len, 1, 0),
	    0);
	r = state_resource(&st, "room-1", 6);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->quantity, 3);
	ck_assert_str_eq(r->timezone, "Europe/Paris");
	wbuf_packer_init(&pk, &again);
	state_pack_resource_rec(&pk, r);
	ck_assert_uint_eq(again.len, rec.len);
	ck_assert(memcmp(again.data, rec.data, rec.len) == 0);
	wbuf_free(&rec);

	/* Refusals name the field; nothing is encoded. */
	in.id = "Bad";
	ck_assert_int_eq(state_resource_record(&st, &in, &rec, &e),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(e.field, "id");
	ck_assert_uint_eq(rec.len, 0);
	in.id = "room-1";
	in.quantity = 0;
	ck_assert_int_eq(state_resource_record(&st, &in, &rec, &e),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(e.field, "quantity");
	in.quantity = 1;
	in.timezone = "Mars/Olympus";
	ck_assert_int_eq(state_resource_record(&st, &in, &rec, &e),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(e.field, "timezone");
	/* A second resource is over max_resources (1); an update is not. */
	in.timezone = NULL;
	in.id = "room-2";
	ck_assert_int_eq(state_resource_record(&st, &in, &rec, &e),
			 BOOKD_E_LIMIT);
	in.id = "room-1";
	ck_assert_int_eq(state_resource_record(&st, &in, &rec, &e), 0);
	wbuf_free(&rec);
	wbuf_free(&again);
	state_free(&st);
}
END_TEST

START_TEST(event_type_input_checks)
{
	struct state st;
	struct proto_error e;
	struct wbuf rec = {0}, again = {0};
	msgpack_packer pk;
	struct event_type_in in = {.id = "cut",
				   .title = "Haircut",
				   .lengths = {30, 60},
				   .nlengths = 2,
				   .res = {0},
				   .nres = 1,
				   .buffer_after = 15,
				   .min_notice = 7,
				   .active = true};
	const struct event_type *et;

	ck_assert_int_eq(state_init(&st, 4, 20000 - 7, 20000 + 30, 40), 0);
	put_resource(&st, "chair", 1);
	ck_assert_int_eq(state_event_type_record(&st, &in, &rec, &e), 0);
	ck_assert_int_eq(
	    state_apply(&st, WAL_EVENT_TYPE, rec.data, (uint32_t)rec.len, 2, 0),
	    0);
	et = state_event_type(&st, "cut", 3);
	ck_assert_ptr_nonnull(et);
	ck_assert_int_eq(et->nlengths, 2);
	ck_assert_int_eq(et->min_notice, 7);
	wbuf_packer_init(&pk, &again);
	state_pack_event_type(&pk, &st, et);
	ck_assert_uint_eq(again.len, rec.len);
	ck_assert(memcmp(again.data, rec.data, rec.len) == 0);
	wbuf_free(&rec);

	in.lengths[1] = 50; /* not a multiple of 15 */
	ck_assert_int_eq(state_event_type_record(&st, &in, &rec, &e),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(e.field, "lengths[1]");
	in.lengths[1] = 60;
	in.buffer_after = ET_MAX_GAP_MINUTES + 15;
	ck_assert_int_eq(state_event_type_record(&st, &in, &rec, &e),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(e.field, "buffer_after");
	in.buffer_after = 0;
	in.res[1] = 0;
	in.nres = 2;
	ck_assert_int_eq(state_event_type_record(&st, &in, &rec, &e),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(e.field, "resources[1]");
	in.nres = 0;
	ck_assert_int_eq(state_event_type_record(&st, &in, &rec, &e),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(e.field, "resources");
	ck_assert_uint_eq(rec.len, 0);
	wbuf_free(&again);
	state_free(&st);
}
END_TEST

START_TEST(slugs)
{
	ck_assert(proto_slug_ok("a", 1));
	ck_assert(proto_slug_ok("0a.b_c-d", 8));
	ck_assert(!proto_slug_ok("", 0));
	ck_assert(!proto_slug_ok("-a", 2));
	ck_assert(!proto_slug_ok("A", 1));
	ck_assert(!proto_slug_ok("a b", 3));
	{
		char id[65];
		memset(id, 'a', 64);
		ck_assert(proto_slug_ok(id, 63));
		ck_assert(!proto_slug_ok(id, 64));
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("domain");

	tcase_add_test(tc, state_machine);
	tcase_add_test(tc, span_checks);
	tcase_add_test(tc, requantify);
	tcase_add_test(tc, resource_input_round_trip);
	tcase_add_test(tc, event_type_input_checks);
	tcase_add_test(tc, slugs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

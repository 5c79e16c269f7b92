/*
 * test_caller.c - unit tests of the caller module (engine/caller.c) and
 * its table (engine/ktab.c): principals, visitor names, the options of the
 * caller limits, the public write bucket, and a table that shrinks again.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "caller.h"
#include "ktab.h"
#include "suite_main.h"

START_TEST(principals)
{
	char p[PRINCIPAL_MAX + 1];
	char v[VISITOR_MAX + 1];

	caller_principal(p, "", 1000, NULL, 0);
	ck_assert_str_eq(p, "u:1000");
	caller_principal(p, "web", 1000, NULL, 0);
	ck_assert_str_eq(p, "t:web");
	caller_principal(p, "web", 1000, "alice", 5);
	ck_assert_str_eq(p, "v:web/alice");
	caller_principal(p, "", 33, "bob", 3);
	ck_assert_str_eq(p, "v:uid33/bob");
	/* The longest parts fit. */
	{
		char subj[64];
		memset(subj, 's', 63);
		subj[63] = 0;
		memset(v, 'v', VISITOR_MAX);
		caller_principal(p, subj, 0, v, VISITOR_MAX);
		ck_assert_uint_eq(strlen(p), 2 + 63 + 1 + VISITOR_MAX);
	}
	ck_assert(caller_visitor_ok("a.B_c:d-9", 9));
	ck_assert(!caller_visitor_ok("", 0));
	ck_assert(!caller_visitor_ok("a/b", 3));
	ck_assert(!caller_visitor_ok("a b", 3));
	ck_assert(!caller_visitor_ok("\xc3\xa9", 2));
	ck_assert(caller_visitor_ok(v, VISITOR_MAX));
	ck_assert(!caller_visitor_ok(v, VISITOR_MAX + 1));
}
END_TEST

START_TEST(options)
{
	struct caller_limits l = CALLER_LIMITS_DEFAULT;

	ck_assert_uint_eq(l.max_hold_minutes, 1440);
	ck_assert_uint_eq(l.holds_per_caller, 16);
	ck_assert(!l.public_requires_event_type);
	ck_assert_int_eq(caller_option(&l, CALLER_OPT_MAX_HOLD_MINUTES, "60"),
			 0);
	ck_assert_uint_eq(l.max_hold_minutes, 60);
	ck_assert_int_eq(caller_option(&l, CALLER_OPT_MAX_HOLD_MINUTES, "0"),
			 -1);
	ck_assert_int_eq(caller_option(&l, CALLER_OPT_PUBLIC_REQUIRES_ET, "on"),
			 0);
	ck_assert(l.public_requires_event_type);
	ck_assert_int_eq(
	    caller_option(&l, CALLER_OPT_PUBLIC_REQUIRES_ET, "yes"), -1);
	ck_assert_int_eq(caller_option(&l, CALLER_OPT_PUBLIC_WRITES, "0"), 0);
	ck_assert_uint_eq(l.public_writes_per_minute, 0);
}
END_TEST

START_TEST(write_bucket)
{
	struct ktab t = {0};
	int64_t now = 1000000;

	/* 6 a minute: six at once, then one every 10 s. */
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(caller_rate_take(&t, "p", 6, now), 0);
	ck_assert_int_eq(caller_rate_take(&t, "p", 6, now), 10000);
	ck_assert_int_eq(caller_rate_take(&t, "p", 6, now + 4000), 6000);
	ck_assert_int_eq(caller_rate_take(&t, "p", 6, now + 10000), 0);
	/* Someone else has a bucket of their own. */
	ck_assert_int_eq(caller_rate_take(&t, "q", 6, now + 10000), 0);
	ck_assert_uint_eq(t.n, 2);
	/* After a minute both are full again and the sweep drops them. */
	caller_rate_sweep(&t, 6, now + 5 * 60000);
	ck_assert_uint_eq(t.n, 0);
	ck_assert_int_eq(caller_rate_take(&t, "p", 0, now), 0); /* off */
	ktab_free(&t);
}
END_TEST

START_TEST(table_shrinks)
{
	struct ktab t = {0};
	char k[16];

	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		ktab_add(&t, k, strlen(k))->n = i;
	}
	ck_assert_uint_eq(t.n, 1000);
	for (int i = 0; i < 1000; i += 2) {
		snprintf(k, sizeof(k), "k%d", i);
		ktab_del(&t, ktab_get(&t, k, strlen(k)));
	}
	ck_assert_uint_eq(t.n, 500);
	for (int i = 0; i < 1000; i++) {
		struct kent *e;
		snprintf(k, sizeof(k), "k%d", i);
		e = ktab_get(&t, k, strlen(k));
		if (i % 2)
			ck_assert(e && e->n == i);
		else
			ck_assert_ptr_null(e);
	}
	ktab_free(&t);
	ck_assert_uint_eq(t.n, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("caller");
	TCase *tc = tcase_create("caller");

	tcase_add_test(tc, principals);
	tcase_add_test(tc, options);
	tcase_add_test(tc, write_bucket);
	tcase_add_test(tc, table_shrinks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

/*
 * test_client_as.c - libbookd's bookd_set_as(): a trusted connection acting
 * for visitors, against a real bookd.
 *
 * The engine runs a request that carries "as" as public and for that
 * visitor: two visitors on one admin connection cannot touch each other's
 * hold session, a request with "as" cannot use admin ops, and clearing the
 * setting gives the connection its own rights back.  Bad visitor names are
 * refused by the library before anything is sent.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bookd.h"
#include "harness.h"
#include "suite_main.h"

static struct harness H;

static void setup(void)
{
	ck_assert_int_eq(h_start(&H, NULL), 0);
}

static void teardown(void)
{
	h_cleanup(&H);
}

/* A span of one hour, two weeks ahead, on a quarter boundary. */
static int64_t later(void)
{
	int64_t t = (int64_t)time(NULL) + 14 * 86400;

	return t - t % 3600;
}

static void make_resource(bookd_conn *c, const char *id)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_str_with_body(&pk, id, strlen(id));
	ck_assert_int_eq(
	    bookd_call(c, "resource.create", sb.data, sb.size, NULL), 0);
	msgpack_sbuffer_destroy(&sb);
}

START_TEST(visitors_on_one_connection)
{
	int err;
	bookd_conn *c = bookd_connect(H.sock, &err);
	int64_t s = later();
	bool released = false;

	ck_assert_ptr_nonnull(c);
	make_resource(c, "room");
	ck_assert_int_eq(bookd_set_as(c, "c-visitor-a"), 0);
	ck_assert_int_eq(bookd_hold(c, "room", s, s + 3600, "sess-a", NULL), 0);
	/* Another visitor naming the same session is refused. */
	ck_assert_int_eq(bookd_set_as(c, "c-visitor-b"), 0);
	ck_assert_int_eq(bookd_release(c, "room", "sess-a", &released),
			 BOOKD_E_FORBIDDEN);
	/* As a visitor the connection is public: no admin ops. */
	ck_assert_int_eq(bookd_call(c, "stats", NULL, 0, NULL),
			 BOOKD_E_FORBIDDEN);
	/* The owner releases it. */
	ck_assert_int_eq(bookd_set_as(c, "c-visitor-a"), 0);
	ck_assert_int_eq(bookd_release(c, "room", "sess-a", &released), 0);
	ck_assert(released);
	/* Cleared: the connection's own (admin) rights again. */
	ck_assert_int_eq(bookd_set_as(c, NULL), 0);
	ck_assert_int_eq(bookd_call(c, "stats", NULL, 0, NULL), 0);
	bookd_close(c);
}
END_TEST

START_TEST(bad_names_are_refused)
{
	char big[BOOKD_AS_MAX + 2];
	int err;
	bookd_conn *c = bookd_connect(H.sock, &err);

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(bookd_set_as(c, ""), BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_set_as(c, "has space"), BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_set_as(c, "naïve"), BOOKD_E_BAD_REQUEST);
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	ck_assert_int_eq(bookd_set_as(c, big), BOOKD_E_BAD_REQUEST);
	big[BOOKD_AS_MAX] = 0;
	ck_assert_int_eq(bookd_set_as(c, big), 0);
	/* A refused name left the last good one in place. */
	ck_assert_int_eq(bookd_set_as(c, "x y"), BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(bookd_call(c, "stats", NULL, 0, NULL),
			 BOOKD_E_FORBIDDEN);
	ck_assert_int_eq(bookd_ping(c), 0);
	bookd_close(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("client_as");
	TCase *tc = tcase_create("as");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, visitors_on_one_connection);
	tcase_add_test(tc, bad_names_are_refused);
	suite_add_tcase(s, tc);
	return run_suite(s);
}

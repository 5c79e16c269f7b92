/*
 * test_hooks.c - the webhook registry (hook.put/get/list/delete) against a
 * real bookd: validation, the secret shown once and masked afterwards, the
 * public role refused, the bound on hooks, and durability across a clean
 * restart (from the snapshot), kill -9 (from the log) and both together.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include "harness.h"
#include "hooks.h"
#include "snapshot.h"
#include "state.h"
#include "suite_main.h"
#include "wire.h"

static struct harness H;
static msgpack_unpacked R;
static uint64_t next_id = 1;
static int fd = -1;

static void setup(void)
{
	ck_assert_int_eq(h_start(&H, NULL), 0);
	msgpack_unpacked_init(&R);
	fd = h_connect_raw(&H);
	ck_assert_int_ge(fd, 0);
}

static void teardown(void)
{
	msgpack_unpacked_destroy(&R);
	h_cleanup(&H);
}

#define CALL(op, ...)                                                          \
	(msgpack_unpacked_destroy(&R), msgpack_unpacked_init(&R),              \
	 h_call(fd, &R, next_id++, op, __VA_ARGS__))

static void reconnect(void)
{
	fd = h_connect_raw(&H);
	ck_assert_int_ge(fd, 0);
}

/* A string field of the result (or of map m), copied. */
static const char *sfield(const msgpack_object *m, const char *key)
{
	static char buf[4][256];
	static int k;
	const msgpack_object *v = wire_get(m ? m : h_result(&R), key);

	k = (k + 1) % 4;
	if (v == NULL || wire_cstr(v, buf[k], sizeof(buf[k])) < 0)
		return NULL;
	return buf[k];
}

static const char *errfield(void)
{
	static char buf[64];
	const msgpack_object *v = wire_get(h_error(&R), "field");
	if (v == NULL || wire_cstr(v, buf, sizeof(buf)) < 0)
		return "";
	return buf;
}

START_TEST(put_get_list_delete)
{
	char secret[128];
	const msgpack_object *hooks;

	ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[s s]}", "id", "crm",
			      "url", "https://crm.example/hook", "events",
			      "booking.created", "booking.cancelled"),
			 0);
	/* Generated: whsec_ + base64 of 32 bytes (44 characters). */
	snprintf(secret, sizeof(secret), "%s", sfield(NULL, "secret"));
	ck_assert_int_eq(strncmp(secret, "whsec_", 6), 0);
	ck_assert_uint_eq(strlen(secret), 6 + 44);
	ck_assert(wire_get(h_result(&R), "active")->via.boolean);

	/* get and list mask it. */
	ck_assert_int_eq(CALL("hook.get", "{s:s}", "id", "crm"), 0);
	ck_assert_str_eq(sfield(NULL, "url"), "https://crm.example/hook");
	ck_assert_ptr_null(strstr(sfield(NULL, "secret"), secret + 6));
	ck_assert_uint_lt(strlen(sfield(NULL, "secret")), 16);
	ck_assert_int_eq(
	    CALL("hook.put", "{s:s s:s s:[s] s:s s:b}", "id", "all", "url",
		 "http://127.0.0.1:8080/x", "events", "*", "secret",
		 "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "active", 0),
	    0);
	ck_assert_int_eq(CALL("hook.list", "{}"), 0);
	hooks = wire_get(h_result(&R), "hooks");
	ck_assert_uint_eq(hooks->via.array.size, 2);
	for (uint32_t i = 0; i < 2; i++)
		ck_assert_ptr_null(
		    strstr(sfield(&hooks->via.array.ptr[i], "secret"), "MfKQ"));
	/* The notifier's view carries the secrets. */
	ck_assert_int_eq(CALL("hook.list", "{s:b}", "secrets", 1), 0);
	hooks = wire_get(h_result(&R), "hooks");
	ck_assert_str_eq(sfield(&hooks->via.array.ptr[0], "secret"), secret);

	/* An update without a secret keeps it and does not show it. */
	ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[s]}", "id", "crm", "url",
			      "https://crm.example/v2", "events",
			      "booking.no_show"),
			 0);
	ck_assert_ptr_null(strstr(sfield(NULL, "secret"), secret + 6));
	ck_assert_int_eq(CALL("hook.list", "{s:b}", "secrets", 1), 0);
	hooks = wire_get(h_result(&R), "hooks");
	ck_assert_str_eq(sfield(&hooks->via.array.ptr[0], "secret"), secret);
	ck_assert_str_eq(sfield(&hooks->via.array.ptr[0], "url"),
			 "https://crm.example/v2");

	ck_assert_int_eq(CALL("hook.delete", "{s:s}", "id", "crm"), 0);
	ck_assert_int_eq(CALL("hook.get", "{s:s}", "id", "crm"),
			 BOOKD_E_NOT_FOUND);
	ck_assert_int_eq(CALL("hook.delete", "{s:s}", "id", "crm"),
			 BOOKD_E_NOT_FOUND);
	ck_assert_int_eq(CALL("hook.list", "{}"), 0);
	ck_assert_uint_eq(wire_get(h_result(&R), "hooks")->via.array.size, 1);
}
END_TEST

START_TEST(bad_input)
{
	static const char *const urls[] = {
	    "ftp://x.example/",
	    "https://",
	    "http:///path",
	    "https://exa mple.com/",
	    "https://example.com/\x01",
	    "javascript:alert(1)",
	    "HTTPS://example.com",
	};
	char big[2100];

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[s]}", "id", "h",
				      "url", urls[i], "events", "*"),
				 BOOKD_E_BAD_REQUEST);
		ck_assert_str_eq(errfield(), "url");
	}
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "https://", 8);
	big[sizeof(big) - 1] = 0;
	ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[s]}", "id", "h", "url",
			      big, "events", "*"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[s s]}", "id", "h", "url",
			      "https://a.example/", "events", "booking.created",
			      "booking.exploded"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_str_eq(errfield(), "events[1]");
	ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[]}", "id", "h", "url",
			      "https://a.example/", "events"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[i]}", "id", "h", "url",
			      "https://a.example/", "events", 3),
			 BOOKD_E_BAD_REQUEST);
	static const char *const secrets[] = {
	    "secret", "whsec_", "whsec_YWJj", "whsec_!!!!!!!!!!!!!!!!!!!!!!!!",
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"};
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[s] s:s}", "id",
				      "h", "url", "https://a.example/",
				      "events", "*", "secret", secrets[i]),
				 BOOKD_E_BAD_REQUEST);
		ck_assert_str_eq(errfield(), "secret");
	}
	ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[s]}", "id", "Bad/Id",
			      "url", "https://a.example/", "events", "*"),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(
	    CALL("hook.put", "{s:s s:[s]}", "id", "h", "events", "*"),
	    BOOKD_E_BAD_REQUEST);
	ck_assert_int_eq(CALL("hook.list", "{}"), 0);
	ck_assert_uint_eq(wire_get(h_result(&R), "hooks")->via.array.size, 0);
}
END_TEST

START_TEST(admin_only_and_bounded)
{
	char id[16];
	int pfd = h_connect_raw(&H);

	ck_assert_int_ge(pfd, 0);
	ck_assert_int_eq(h_call(pfd, &R, 1, "hello", "{s:s}", "role", "public"),
			 0);
	msgpack_unpacked_destroy(&R);
	msgpack_unpacked_init(&R);
	ck_assert_int_eq(h_call(pfd, &R, 2, "hook.list", "{}"),
			 BOOKD_E_FORBIDDEN);
	for (int i = 0; i < 64; i++) {
		snprintf(id, sizeof(id), "h%d", i);
		ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[s]}", "id", id,
				      "url", "https://a.example/", "events",
				      "*"),
				 0);
	}
	ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[s]}", "id", "h64", "url",
			      "https://a.example/", "events", "*"),
			 BOOKD_E_LIMIT);
	/* Replacing an existing one is still allowed at the bound. */
	ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[s]}", "id", "h7", "url",
			      "https://b.example/", "events", "*"),
			 0);
}
END_TEST

static void expect_hooks(const char *const want[], int n, const char *secret0)
{
	const msgpack_object *hooks;

	ck_assert_int_eq(CALL("hook.list", "{s:b}", "secrets", 1), 0);
	hooks = wire_get(h_result(&R), "hooks");
	ck_assert_uint_eq(hooks->via.array.size, (unsigned)n);
	for (int i = 0; i < n; i++)
		ck_assert_str_eq(sfield(&hooks->via.array.ptr[i], "id"),
				 want[i]);
	if (secret0)
		ck_assert_str_eq(sfield(&hooks->via.array.ptr[0], "secret"),
				 secret0);
}

/* The snapshot a clean stop wrote holds n hooks, the first with secret. */
static void snapshot_has(uint32_t n, const char *secret)
{
	struct state st;
	char err[256];
	uint64_t lsn = 0;
	int dirfd = open(H.data, O_RDONLY | O_DIRECTORY);

	ck_assert_int_ge(dirfd, 0);
	ck_assert_int_eq(state_init(&st, 16, 20400, 20410, 20), 0);
	ck_assert_msg(snapshot_load(dirfd, &st, &lsn, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_gt(lsn, 0);
	ck_assert_uint_eq(hooks_count(&st), n);
	ck_assert_str_eq(st.webhooks->h[0].secret, secret);
	state_free(&st);
	close(dirfd);
}

START_TEST(durable_across_restarts)
{
	char secret[128];
	static const char *const two[] = {"a", "b"};
	static const char *const three[] = {"a", "b", "c"};
	static const char *const after_del[] = {"a", "c"};

	ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[s]}", "id", "a", "url",
			      "https://a.example/", "events",
			      "booking.created"),
			 0);
	snprintf(secret, sizeof(secret), "%s", sfield(NULL, "secret"));
	ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[s]}", "id", "b", "url",
			      "https://b.example/", "events", "*"),
			 0);
	/* kill -9: the log alone brings them back. */
	h_kill9(&H);
	ck_assert_int_eq(h_restart(&H, NULL), 0);
	reconnect();
	expect_hooks(two, 2, secret);
	/* A clean stop writes a snapshot; the hooks come back from it. */
	ck_assert_int_eq(h_stop(&H), 0);
	snapshot_has(2, secret);
	ck_assert_int_eq(h_restart(&H, NULL), 0);
	reconnect();
	expect_hooks(two, 2, secret);
	/* Snapshot plus log tail, with a deletion in the tail. */
	ck_assert_int_eq(CALL("hook.put", "{s:s s:s s:[s]}", "id", "c", "url",
			      "https://c.example/", "events",
			      "booking.rescheduled"),
			 0);
	h_kill9(&H);
	ck_assert_int_eq(h_restart(&H, NULL), 0);
	reconnect();
	expect_hooks(three, 3, secret);
	ck_assert_int_eq(CALL("hook.delete", "{s:s}", "id", "b"), 0);
	ck_assert_int_eq(h_stop(&H), 0);
	snapshot_has(2, secret);
	ck_assert_int_eq(h_restart(&H, NULL), 0);
	reconnect();
	expect_hooks(after_del, 2, secret);
	h_kill9(&H);
	ck_assert_int_eq(h_restart(&H, NULL), 0);
	reconnect();
	expect_hooks(after_del, 2, secret);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hooks");
	TCase *tc = tcase_create("hooks");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, put_get_list_delete);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, admin_only_and_bounded);
	tcase_add_test(tc, durable_across_restarts);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

/*
 * test_fuzz.c - hostile input against a real engine: random and mutated
 * requests on several connections, then proof that the engine is alive,
 * answers correctly and lost nothing it had committed.
 *
 * The generator knows the op table (proto/ops.h), so most frames reach the
 * handlers with plausible but wrong arguments: every op, every argument
 * with values of every type, nested maps and arrays, huge and negative
 * integers, misaligned times, long strings, bytes that are not MessagePack.
 * Under ASan and UBSan (make test) a memory error ends the engine and the
 * test fails.  BOOKD_FUZZ_FRAMES sets the count (default 6000; `make fuzz`
 * runs many more).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "suite_main.h"
#include "harness.h"
#include "ops.h"
#include "wire.h"

static struct harness H;

static void setup(void)
{
	ck_assert_int_eq(h_start(&H, "--hold-ttl-ms 500 --max-resources 64"),
			 0);
}

static void teardown(void)
{
	h_cleanup(&H);
}

static unsigned seed;

static unsigned rnd(unsigned n)
{
	return (unsigned)rand_r(&seed) % n;
}

static const char *const words[] = {
    "studio-a",	     "studio-b",     "mics",	   "",		 "UTC",
    "Europe/Berlin", "Mars/Olympus", "2026-12-01", "2026-02-30", "24:00",
    "09:00",	     "slots",	     "holds",	   "pending",	 "confirmed",
    "cancelled",     "a@b",	     "x",
};

static void pack_value(msgpack_packer *pk, int depth);

static void pack_string(msgpack_packer *pk)
{
	static char big[5000];
	unsigned k = rnd(10);

	if (k < 7) {
		wire_pk_str(pk, words[rnd(sizeof(words) / sizeof(words[0]))]);
	} else if (k < 9) {
		size_t n = rnd(sizeof(big));
		memset(big, 'a' + (int)rnd(26), n);
		wire_pk_strn(pk, big, n);
	} else {
		char b[8] = {0, 'x', (char)0xff, 'y', 0, 'z', '\n', 1};
		wire_pk_strn(pk, b, sizeof(b));
	}
}

static void pack_int(msgpack_packer *pk)
{
	int64_t base = ((int64_t)time(NULL) / 86400 + 1) * 86400;
	switch (rnd(8)) {
	case 0:
		msgpack_pack_int64(pk, INT64_MIN);
		break;
	case 1:
		msgpack_pack_uint64(pk, UINT64_MAX);
		break;
	case 2:
		msgpack_pack_int64(pk, -(int64_t)rnd(100000));
		break;
	case 3:
		msgpack_pack_int64(pk, base + (int64_t)rnd(96 * 40) * 900);
		break;
	case 4:
		msgpack_pack_int64(pk, base + (int64_t)rnd(86400));
		break;
	case 5:
		msgpack_pack_int64(pk, (int64_t)rnd(2000) * 15);
		break;
	default:
		msgpack_pack_int64(pk, rnd(10));
		break;
	}
}

static void pack_value(msgpack_packer *pk, int depth)
{
	unsigned k = rnd(depth > 3 ? 6 : 9);

	switch (k) {
	case 0:
		msgpack_pack_nil(pk);
		break;
	case 1:
		msgpack_pack_true(pk);
		break;
	case 2:
		msgpack_pack_double(pk, -1.5);
		break;
	case 3:
	case 4:
		pack_int(pk);
		break;
	case 5:
		pack_string(pk);
		break;
	case 6: {
		unsigned n = rnd(6);
		msgpack_pack_array(pk, n);
		for (unsigned i = 0; i < n; i++)
			pack_value(pk, depth + 1);
		break;
	}
	default: {
		/* A map whose keys are real argument names most of the time:
		 * nested records (booker, holds[], schedules) get exercised. */
		unsigned n = rnd(6);
		msgpack_pack_map(pk, n);
		for (unsigned i = 0; i < n; i++) {
			const struct op_spec *o = &proto_ops[rnd(OP__COUNT)];
			if (o->nargs && rnd(4))
				wire_pk_str(pk, o->args[rnd(o->nargs)].name);
			else
				pack_string(pk);
			pack_value(pk, depth + 1);
		}
		break;
	}
	}
}

/* One request frame into b: usually well-formed around a fuzzed body. */
static void make_frame(struct wbuf *b, uint64_t id)
{
	msgpack_packer pk;
	size_t off;
	unsigned k = rnd(20);

	wbuf_packer_init(&pk, b);
	if (k == 0) { /* garbage that frames but does not parse */
		unsigned n = 1 + rnd(40);
		unsigned char len[4] = {0, 0, 0, (unsigned char)n};
		wbuf_append(b, len, 4);
		for (unsigned i = 0; i < n; i++) {
			unsigned char c = (unsigned char)rnd(256);
			wbuf_append(b, &c, 1);
		}
		return;
	}
	off = wire_frame_begin(b);
	if (k == 1) {
		pack_value(&pk, 0); /* any value, maybe not a map */
	} else {
		const struct op_spec *o = &proto_ops[rnd(OP__COUNT)];
		unsigned n = o->nargs ? rnd(o->nargs + 2) : rnd(2);
		msgpack_pack_map(&pk, 3);
		wire_pk_kint(&pk, "id", (int64_t)id);
		wire_pk_kstr(&pk, "op", rnd(30) ? o->name : "no.such.op");
		wire_pk_str(&pk, "args");
		msgpack_pack_map(&pk, n);
		for (unsigned i = 0; i < n; i++) {
			if (o->nargs && rnd(10))
				wire_pk_str(&pk, o->args[rnd(o->nargs)].name);
			else
				pack_string(&pk);
			pack_value(&pk, 1);
		}
	}
	wire_frame_end(b, off);
}

START_TEST(random_requests)
{
	const char *env = getenv("BOOKD_FUZZ_FRAMES");
	long frames = env ? atol(env) : 6000;
	int fds[4];
	msgpack_unpacked u;
	int64_t committed;

	seed = getenv("BOOKD_TEST_SEED")
		   ? (unsigned)atol(getenv("BOOKD_TEST_SEED"))
		   : (unsigned)time(NULL);
	fprintf(stderr, "test_fuzz: seed %u, %ld frames\n", seed, frames);
	msgpack_unpacked_init(&u);
	for (int i = 0; i < 4; i++)
		fds[i] = h_connect_raw(&H);
	/* A known state that the noise must not disturb. */
	ck_assert_int_eq(
	    h_call(fds[0], &u, 1, "resource.create", "{s:s}", "id", "keep"), 0);
	msgpack_unpacked_destroy(&u);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_call(fds[0], &u, 2, "book",
				"{s:s s:I s:I s:{s:s s:s}}", "resource", "keep",
				"start", h_day(2), "end", h_day(2) + 3600,
				"booker", "name", "k", "email", "k@x"),
			 0);
	msgpack_unpacked_destroy(&u);
	for (long i = 0; i < frames; i++) {
		struct wbuf b = {0};
		int c = (int)rnd(4);
		if (fds[c] < 0)
			fds[c] = h_connect_raw(&H);
		ck_assert_int_ge(fds[c], 0);
		make_frame(&b, (uint64_t)i + 10);
		if (h_send_all(fds[c], b.data, b.len) < 0) {
			/* The engine may close a connection on bytes it cannot
			 * frame; open another. */
			close(fds[c]);
			fds[c] = -1;
		}
		wbuf_free(&b);
		/* Drain replies now and then so nobody is paused. */
		if (i % 64 == 63)
			for (int k = 0; k < 4; k++) {
				if (fds[k] < 0)
					continue;
				msgpack_unpacked_init(&u);
				while (h_recv_frame(fds[k], &u, 1) == 1) {
					msgpack_unpacked_destroy(&u);
					msgpack_unpacked_init(&u);
				}
				msgpack_unpacked_destroy(&u);
			}
	}
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* Alive, and the committed booking is intact. */
	fds[0] = h_connect_raw(&H);
	ck_assert_int_ge(fds[0], 0);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(
	    h_call(fds[0], &u, 3, "booking.get", "{s:I}", "id", (int64_t)1), 0);
	ck_assert(wire_str_eq(wire_get(h_result(&u), "status"), "confirmed") ||
		  wire_str_eq(wire_get(h_result(&u), "status"), "cancelled") ||
		  wire_str_eq(wire_get(h_result(&u), "status"), "completed") ||
		  wire_str_eq(wire_get(h_result(&u), "status"), "no_show"));
	msgpack_unpacked_destroy(&u);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_call(fds[0], &u, 4, "stats", NULL), 0);
	ck_assert(wire_int(wire_get(h_result(&u), "bookings"), &committed));
	ck_assert_int_ge(committed, 1);
	msgpack_unpacked_destroy(&u);
	close(fds[0]);
	/* What was committed survives a restart (and the log replays). */
	ck_assert_int_eq(h_stop(&H), 0);
	ck_assert_int_eq(h_restart(&H, NULL), 0);
	fds[0] = h_connect_raw(&H);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(h_call(fds[0], &u, 5, "stats", NULL), 0);
	{
		int64_t after;
		ck_assert(wire_int(wire_get(h_result(&u), "bookings"), &after));
		ck_assert_int_eq(after, committed);
	}
	msgpack_unpacked_destroy(&u);
	close(fds[0]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fuzz");
	TCase *tc = tcase_create("fuzz");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, random_requests);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

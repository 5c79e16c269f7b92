/*
 * test_core.c - unit tests of the small core modules: slot math and dates
 * (proto/quanta), bitmaps, framing and argument validation (proto/wire,
 * proto/ops), the string map (engine/hmap), CRC-32C and tokens.  The
 * domain (engine/state) has its own suite, test_state.c.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "suite_main.h"
#include "crc32c.h"
#include "hmap.h"
#include "num.h"
#include "ops.h"
#include "quanta.h"
#include "state.h"
#include "token.h"
#include "wal.h"
#include "wire.h"

START_TEST(slot_math)
{
	int64_t d = q_days_from_civil(2026, 12, 1);
	int64_t t = d * 86400;

	ck_assert_int_eq(q_day_of(t), d);
	ck_assert_int_eq(q_slot_of(t), 0);
	ck_assert_int_eq(q_slot_of(t + 14 * 3600), 56);
	ck_assert_int_eq(q_slot_of(t + 23 * 3600 + 45 * 60), 95);
	ck_assert_int_eq(q_day_of(t - 1), d - 1);
	ck_assert_int_eq(q_day_of(-1), -1);
	ck_assert(q_aligned(t + 900));
	ck_assert(!q_aligned(t + 60));
	ck_assert_int_eq(q_weekday(q_days_from_civil(2026, 11, 30)), 1);
	ck_assert_int_eq(q_weekday(q_days_from_civil(1970, 1, 1)), 4);
	ck_assert_int_eq(q_weekday(q_days_from_civil(1969, 12, 28)), 7);
}
END_TEST

START_TEST(civil_round_trip)
{
	for (int64_t z = -800000; z <= 800000; z += 997) {
		int64_t y;
		unsigned m, dd;
		q_civil_from_days(z, &y, &m, &dd);
		ck_assert_int_eq(q_days_from_civil(y, m, dd), z);
	}
}
END_TEST

START_TEST(dates)
{
	int64_t day;
	char buf[11];

	ck_assert_int_eq(q_parse_date("2026-12-01", 10, &day), 0);
	q_format_date(day, buf);
	ck_assert_str_eq(buf, "2026-12-01");
	ck_assert_int_eq(q_parse_date("2024-02-29", 10, &day), 0);
	ck_assert_int_eq(q_parse_date("2026-02-29", 10, &day), -1);
	ck_assert_int_eq(q_parse_date("2100-02-29", 10, &day), -1);
	ck_assert_int_eq(q_parse_date("2000-02-29", 10, &day), 0);
	ck_assert_int_eq(q_parse_date("2026-13-01", 10, &day), -1);
	ck_assert_int_eq(q_parse_date("2026-04-31", 10, &day), -1);
	ck_assert_int_eq(q_parse_date("2026-1-01", 9, &day), -1);
	ck_assert_int_eq(q_parse_date("2026/12/01", 10, &day), -1);
	ck_assert_int_eq(q_parse_date("2026-12-0x", 10, &day), -1);
}
END_TEST

START_TEST(bitmaps)
{
	uint64_t m[2];

	q_mask(m, 0, 96);
	ck_assert_uint_eq(m[0], ~0ull);
	ck_assert_uint_eq(m[1], 0xffffffffull);
	q_mask(m, 56, 96); /* Monday 14:00 to midnight */
	ck_assert_uint_eq(m[0], ~0ull << 56);
	ck_assert_uint_eq(m[1], 0xffffffffull);
	q_mask(m, 0, 40); /* Wednesday to 10:00 */
	ck_assert_uint_eq(m[0], (1ull << 40) - 1);
	ck_assert_uint_eq(m[1], 0);
	q_mask(m, 63, 65);
	ck_assert_uint_eq(m[0], 1ull << 63);
	ck_assert_uint_eq(m[1], 1);
	q_mask(m, 10, 10);
	ck_assert_uint_eq(m[0] | m[1], 0);
	q_mask(m, -5, 200); /* clipped */
	ck_assert_uint_eq(m[1], 0xffffffffull);
}
END_TEST

START_TEST(span_iteration)
{
	int64_t mon = q_days_from_civil(2026, 11, 30) * 86400;
	int64_t d0, d1;
	int from, to;

	span_days(mon + 14 * 3600, mon + 2 * 86400 + 10 * 3600, &d0, &d1);
	ck_assert_int_eq(d1 - d0, 2);
	span_slots(mon + 14 * 3600, mon + 2 * 86400 + 10 * 3600, d0, &from,
		   &to);
	ck_assert_int_eq(from, 56);
	ck_assert_int_eq(to, 96);
	span_slots(mon + 14 * 3600, mon + 2 * 86400 + 10 * 3600, d0 + 1, &from,
		   &to);
	ck_assert_int_eq(from, 0);
	ck_assert_int_eq(to, 96);
	span_slots(mon + 14 * 3600, mon + 2 * 86400 + 10 * 3600, d1, &from,
		   &to);
	ck_assert_int_eq(from, 0);
	ck_assert_int_eq(to, 40);
	/* A span ending at midnight stays on its day. */
	span_days(mon, mon + 86400, &d0, &d1);
	ck_assert_int_eq(d0, d1);
	/* Across a week. */
	span_days(mon, mon + 9 * 86400 + 900, &d0, &d1);
	ck_assert_int_eq(d1 - d0, 9);
}
END_TEST

START_TEST(framing)
{
	struct wbuf b = {0};
	msgpack_packer pk;
	const char *body;
	size_t blen, used, off;
	unsigned char big[4] = {0x00, 0x10, 0x00, 0x01};

	wbuf_packer_init(&pk, &b);
	off = wire_frame_begin(&b);
	msgpack_pack_map(&pk, 1);
	wire_pk_kstr(&pk, "op", "ping");
	ck_assert_int_eq(wire_frame_end(&b, off), 0);
	/* Every prefix is incomplete; the whole is one frame. */
	for (size_t n = 0; n < b.len; n++)
		ck_assert_int_eq(
		    wire_frame_next(b.data, n, &body, &blen, &used), 0);
	ck_assert_int_eq(wire_frame_next(b.data, b.len, &body, &blen, &used),
			 1);
	ck_assert_uint_eq(used, b.len);
	ck_assert_uint_eq(blen, b.len - 4);
	/* 1 MiB + 1 is refused from the header alone. */
	ck_assert_int_eq(wire_frame_next((char *)big, 4, &body, &blen, &used),
			 -1);
	big[1] = 0x10;
	big[3] = 0x00;
	ck_assert_int_eq(wire_frame_next((char *)big, 4, &body, &blen, &used),
			 0);
	wbuf_free(&b);
}
END_TEST

/* Validate args given as a packed map against op. */
static int validate(int op, const char *bytes, size_t n, char *msg)
{
	msgpack_unpacked u;
	const msgpack_object *a[ARG__COUNT];
	size_t off = 0;
	int rc;

	msgpack_unpacked_init(&u);
	ck_assert_int_eq(msgpack_unpack_next(&u, bytes, n, &off),
			 MSGPACK_UNPACK_SUCCESS);
	{
		struct proto_error e = {0};
		rc = proto_validate_args(op, &u.data, a, &e);
		snprintf(msg, 256, "%s", e.msg);
	}
	msgpack_unpacked_destroy(&u);
	return rc;
}

static size_t pack_args(char *out, void (*fill)(msgpack_packer *))
{
	struct wbuf b = {0};
	msgpack_packer pk;
	size_t n;

	wbuf_packer_init(&pk, &b);
	fill(&pk);
	memcpy(out, b.data, b.len);
	n = b.len;
	wbuf_free(&b);
	return n;
}

static void args_ok(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 3);
	wire_pk_kstr(pk, "resource", "a");
	wire_pk_kint(pk, "start", 0);
	wire_pk_kint(pk, "end", 900);
}

static void args_unknown(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 4);
	wire_pk_kstr(pk, "resource", "a");
	wire_pk_kint(pk, "start", 0);
	wire_pk_kint(pk, "end", 900);
	wire_pk_kint(pk, "colour", 1);
}

static void args_wrong_type(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 3);
	wire_pk_kstr(pk, "resource", "a");
	wire_pk_kstr(pk, "start", "10:00");
	wire_pk_kint(pk, "end", 900);
}

static void args_missing(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	wire_pk_kstr(pk, "resource", "a");
}

static void args_long(msgpack_packer *pk)
{
	char s[200];
	memset(s, 'x', sizeof(s) - 1);
	s[sizeof(s) - 1] = 0;
	msgpack_pack_map(pk, 4);
	wire_pk_kstr(pk, "resource", "a");
	wire_pk_kint(pk, "start", 0);
	wire_pk_kint(pk, "end", 900);
	wire_pk_kstr(pk, "session", s);
}

static void args_twice(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 4);
	wire_pk_kstr(pk, "resource", "a");
	wire_pk_kint(pk, "start", 0);
	wire_pk_kint(pk, "end", 900);
	wire_pk_kint(pk, "start", 0);
}

static void args_many(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	wire_pk_kstr(pk, "session", "s");
	wire_pk_str(pk, "holds");
	msgpack_pack_array(pk, 65);
	for (int i = 0; i < 65; i++)
		msgpack_pack_nil(pk);
}

START_TEST(validation)
{
	char buf[4096], msg[256];
	size_t n;

	n = pack_args(buf, args_ok);
	ck_assert_int_eq(validate(OP_check, buf, n, msg), 0);
	n = pack_args(buf, args_unknown);
	ck_assert_int_eq(validate(OP_check, buf, n, msg), BOOKD_E_BAD_REQUEST);
	ck_assert_ptr_nonnull(strstr(msg, "colour"));
	n = pack_args(buf, args_wrong_type);
	ck_assert_int_eq(validate(OP_check, buf, n, msg), BOOKD_E_BAD_REQUEST);
	ck_assert_ptr_nonnull(strstr(msg, "start"));
	n = pack_args(buf, args_missing);
	ck_assert_int_eq(validate(OP_check, buf, n, msg), BOOKD_E_BAD_REQUEST);
	ck_assert_ptr_nonnull(strstr(msg, "required"));
	n = pack_args(buf, args_long);
	ck_assert_int_eq(validate(OP_check, buf, n, msg), BOOKD_E_BAD_REQUEST);
	ck_assert_ptr_nonnull(strstr(msg, "session"));
	n = pack_args(buf, args_twice);
	ck_assert_int_eq(validate(OP_check, buf, n, msg), BOOKD_E_BAD_REQUEST);
	n = pack_args(buf, args_many);
	ck_assert_int_eq(validate(OP_hold_many, buf, n, msg),
			 BOOKD_E_BAD_REQUEST);
	ck_assert_ptr_nonnull(strstr(msg, "holds"));
	ck_assert_int_eq(proto_op_lookup("booking.cancel", 14),
			 OP_booking_cancel);
	ck_assert_int_eq(proto_op_lookup("booking.cance", 13), -1);
}
END_TEST

START_TEST(text_checks)
{
	static const struct {
		const char *s;
		bool multiline;
		int want;
	} cases[] = {
	    {"plain", false, 0},
	    {"Zo\xc3\xab \xe6\x97\xa5 \xf0\x9f\x98\x80", false, 0},
	    {"a\tb\nc", true, 0},
	    {"a\tb", false, WIRE_TEXT_CONTROL},
	    {"a\nb", false, WIRE_TEXT_CONTROL},
	    {"a\rb", true, WIRE_TEXT_CONTROL},
	    {"\x1b"
	     "[2J",
	     true, WIRE_TEXT_CONTROL},
	    {"\x7f", true, WIRE_TEXT_CONTROL},
	    {"\xc2\x85", true, WIRE_TEXT_CONTROL}, /* C1 NEL */
	    {"\xc2\xa0", false, 0},		   /* NBSP */
	    {"\xff", false, WIRE_TEXT_BAD_UTF8},
	    {"\xc0\xaf", false, WIRE_TEXT_BAD_UTF8},	 /* overlong */
	    {"\xe0\x80\xaf", false, WIRE_TEXT_BAD_UTF8}, /* overlong */
	    {"\xed\xa0\x80", false, WIRE_TEXT_BAD_UTF8}, /* surrogate */
	    {"\xf4\x90\x80\x80", false, WIRE_TEXT_BAD_UTF8},
	    {"\xe6\x97", false, WIRE_TEXT_BAD_UTF8}, /* cut short */
	    {"\x80", false, WIRE_TEXT_BAD_UTF8},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(wire_text_check(cases[i].s, strlen(cases[i].s),
					      cases[i].multiline) ==
				  cases[i].want,
			      "case %zu", i);
	ck_assert_int_eq(wire_text_check("a\0b", 3, true), WIRE_TEXT_CONTROL);
}
END_TEST

START_TEST(numbers)
{
	uint64_t v = 7;

	ck_assert_int_eq(num_parse_u64("42", 1, 100, &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(
	    num_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(
	    num_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -1);
	ck_assert_int_eq(num_parse_u64("", 0, 10, &v), -1);
	ck_assert_int_eq(num_parse_u64("-1", 0, 10, &v), -1);
	ck_assert_int_eq(num_parse_u64("+1", 0, 10, &v), -1);
	ck_assert_int_eq(num_parse_u64(" 1", 0, 10, &v), -1);
	ck_assert_int_eq(num_parse_u64("1x", 0, 10, &v), -1);
	ck_assert_int_eq(num_parse_u64("11", 0, 10, &v), -1);
	ck_assert_int_eq(num_parse_u64("0", 1, 10, &v), -1);
}
END_TEST

START_TEST(hash_map)
{
	struct hmap m = {0};
	uint64_t v;
	char k[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "key-%d", i);
		hmap_put(&m, k, strlen(k), (uint64_t)i * 3);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "key-%d", i);
		ck_assert(hmap_get(&m, k, strlen(k), &v));
		ck_assert_uint_eq(v, (uint64_t)i * 3);
	}
	ck_assert(!hmap_get(&m, "key-5000", 8, &v));
	hmap_put(&m, "key-1", 5, 7);
	ck_assert(hmap_get(&m, "key-1", 5, &v));
	ck_assert_uint_eq(v, 7);
	ck_assert_uint_eq(m.n, 5000);
	hmap_free(&m);
}
END_TEST

START_TEST(crc)
{
	/* The standard check value of CRC-32C. */
	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(crc32c(crc32c(0, "1234", 4), "56789", 5),
			  0xe3069283u);
}
END_TEST

START_TEST(tokens)
{
	unsigned char key[32] = {1, 2, 3};
	char tok[TOKEN_MAX], role[8], subject[64];

	ck_assert_int_eq(
	    token_mint(key, "admin", "ops@studio", 2000, tok, sizeof(tok)), 0);
	ck_assert_int_eq(
	    token_verify(key, tok, strlen(tok), 1000, role, subject), 0);
	ck_assert_str_eq(role, "admin");
	ck_assert_str_eq(subject, "ops@studio");
	ck_assert_int_eq(
	    token_verify(key, tok, strlen(tok), 3000, role, subject),
	    -1); /* expired */
	tok[10] ^= 1;
	ck_assert_int_eq(
	    token_verify(key, tok, strlen(tok), 1000, role, subject), -1);
	ck_assert_int_eq(token_mint(key, "root", "x", 1, tok, sizeof(tok)), -1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, slot_math);
	tcase_add_test(tc, civil_round_trip);
	tcase_add_test(tc, dates);
	tcase_add_test(tc, bitmaps);
	tcase_add_test(tc, span_iteration);
	tcase_add_test(tc, framing);
	tcase_add_test(tc, validation);
	tcase_add_test(tc, text_checks);
	tcase_add_test(tc, numbers);
	tcase_add_test(tc, hash_map);
	tcase_add_test(tc, crc);
	tcase_add_test(tc, tokens);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

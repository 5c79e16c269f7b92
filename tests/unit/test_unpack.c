/*
 * test_unpack.c - engine/unpack against msgpack_unpack, the decoder it
 * stands in for: on generated objects of every type and encoding width
 * (nested past msgpack_unpack's stack), on those cut short or with bytes
 * changed, and on random bytes, both accept exactly the same inputs and
 * build the same trees.
 */
#include <check.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suite_main.h"
#include "unpack.h"

#if defined(__SANITIZE_ADDRESS__)
/* msgpack_unpack allocates room for a container's count before reading
 * it: random bytes ask it for up to a hundred GiB, which must be refused
 * quickly (it then fails, as unpack_object does without asking). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1:max_allocation_size_mb=64";
}
#endif

/* A deterministic generator, so a failure can be reproduced. */
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static const char bytes[70000];

/* Pack a random object, nesting up to depth levels more. */
static void gen(msgpack_packer *pk, int depth)
{
	uint32_t k = rnd(depth > 0 ? 24 : 18);
	uint32_t n;

	switch (k) {
	case 0:
		msgpack_pack_nil(pk);
		break;
	case 1:
		rnd(2) ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
		break;
	case 2:
		msgpack_pack_uint64(pk, (uint64_t)rnd(UINT32_MAX) << rnd(33));
		break;
	case 3:
		msgpack_pack_int64(
		    pk, -(int64_t)((uint64_t)rnd(UINT32_MAX) << rnd(31)));
		break;
	case 4:
		msgpack_pack_fix_uint8(pk, (uint8_t)rnd(256));
		msgpack_pack_fix_uint16(pk, (uint16_t)rnd(65536));
		break;
	case 5:
		msgpack_pack_fix_uint32(pk, rnd(UINT32_MAX));
		msgpack_pack_fix_uint64(pk, (uint64_t)rnd(UINT32_MAX) << 31);
		break;
	case 6:
		msgpack_pack_fix_int8(pk, (int8_t)rnd(256));
		msgpack_pack_fix_int16(pk, (int16_t)rnd(65536));
		break;
	case 7:
		msgpack_pack_fix_int32(pk, (int32_t)rnd(UINT32_MAX));
		msgpack_pack_fix_int64(pk, (int64_t)rnd(UINT32_MAX) << 30);
		break;
	case 8:
		msgpack_pack_float(pk, (float)rnd(100000) / 7.0f);
		break;
	case 9:
		msgpack_pack_double(pk, (double)rnd(100000) / 3.0);
		break;
	case 10:
	case 11:
		/* fixstr, str 8, str 16 */
		n = rnd(4) ? rnd(40) : rnd(4) ? rnd(300) : 256 + rnd(66000);
		msgpack_pack_str_with_body(pk, bytes, n);
		break;
	case 12:
		n = rnd(3) ? rnd(300) : rnd(66000);
		msgpack_pack_bin_with_body(pk, bytes, n);
		break;
	case 13: {
		/* fixext 1..16 and ext 8, 16 */
		static const uint32_t sizes[] = {1, 2, 4, 8, 16, 0, 3, 300};
		n = sizes[rnd(8)];
		msgpack_pack_ext_with_body(pk, bytes, n, (int8_t)rnd(256));
		break;
	}
	case 14:
		msgpack_pack_int8(pk, (int8_t)rnd(256));
		break;
	case 15:
		msgpack_pack_unsigned_int(pk, rnd(200));
		break;
	case 16:
	case 17:
		msgpack_pack_array(pk, 0);
		if (rnd(2))
			msgpack_pack_map(pk, 0);
		break;
	case 18:
	case 19:
	case 20:
		n = rnd(5) ? rnd(6) : 14 + rnd(10); /* fix and 16-bit */
		msgpack_pack_array(pk, n);
		for (uint32_t i = 0; i < n; i++)
			gen(pk, depth - 1 - (int)rnd(2));
		break;
	default:
		n = rnd(5) ? rnd(5) : 14 + rnd(6);
		msgpack_pack_map(pk, n);
		for (uint32_t i = 0; i < n; i++) {
			gen(pk, 0);
			gen(pk, depth - 1 - (int)rnd(2));
		}
		break;
	}
}

/* A chain of one-element containers d deep around a value. */
static void gen_deep(msgpack_packer *pk, int d)
{
	for (int i = 0; i < d; i++) {
		if (rnd(2)) {
			msgpack_pack_array(pk, 1);
		} else {
			msgpack_pack_map(pk, 1);
			msgpack_pack_nil(
			    pk); /* the key; the rest is its value */
		}
	}
	/* Empty containers at the bottom count no deeper. */
	if (rnd(2))
		msgpack_pack_array(pk, 0);
	else
		msgpack_pack_nil(pk);
}

static void same_tree(const msgpack_object *a, const msgpack_object *b)
{
	ck_assert_int_eq(a->type, b->type);
	switch (a->type) {
	case MSGPACK_OBJECT_NIL:
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		ck_assert_int_eq(a->via.boolean, b->via.boolean);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		ck_assert_uint_eq(a->via.u64, b->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		ck_assert_int_eq(a->via.i64, b->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		ck_assert_int_eq(
		    memcmp(&a->via.f64, &b->via.f64, sizeof(a->via.f64)), 0);
		break;
	case MSGPACK_OBJECT_STR:
	case MSGPACK_OBJECT_BIN:
		/* An empty one's pointer is no part of its value
		 * (msgpack_unpack leaves a stale one there). */
		ck_assert_uint_eq(a->via.str.size, b->via.str.size);
		if (a->via.str.size)
			ck_assert_ptr_eq(a->via.str.ptr, b->via.str.ptr);
		break;
	case MSGPACK_OBJECT_EXT:
		ck_assert_int_eq(a->via.ext.type, b->via.ext.type);
		ck_assert_uint_eq(a->via.ext.size, b->via.ext.size);
		if (a->via.ext.size)
			ck_assert_ptr_eq(a->via.ext.ptr, b->via.ext.ptr);
		break;
	case MSGPACK_OBJECT_ARRAY:
		ck_assert_uint_eq(a->via.array.size, b->via.array.size);
		for (uint32_t i = 0; i < a->via.array.size; i++)
			same_tree(&a->via.array.ptr[i], &b->via.array.ptr[i]);
		break;
	case MSGPACK_OBJECT_MAP:
		ck_assert_uint_eq(a->via.map.size, b->via.map.size);
		for (uint32_t i = 0; i < a->via.map.size; i++) {
			same_tree(&a->via.map.ptr[i].key,
				  &b->via.map.ptr[i].key);
			same_tree(&a->via.map.ptr[i].val,
				  &b->via.map.ptr[i].val);
		}
		break;
	default:
		ck_abort_msg("unexpected type %d", (int)a->type);
	}
}

static unsigned accepted, refused;

/* Both decoders on buf[0..len): the same verdict, the same tree. */
static void compare(const char *buf, size_t len)
{
	msgpack_zone z1, z2;
	msgpack_object o1, o2;
	size_t off = 0;
	msgpack_unpack_return r;
	bool ok1, ok2;

	ck_assert(msgpack_zone_init(&z1, 4096));
	ck_assert(msgpack_zone_init(&z2, 4096));
	r = msgpack_unpack(buf, len, &off, &z1, &o1);
	ok1 = r == MSGPACK_UNPACK_SUCCESS || r == MSGPACK_UNPACK_EXTRA_BYTES;
	ok2 = unpack_object(buf, len, &z2, &o2);
	ck_assert_msg(ok1 == ok2,
		      "msgpack_unpack %d, unpack_object %d (%zu bytes)", (int)r,
		      (int)ok2, len);
	if (ok1) {
		same_tree(&o1, &o2);
		accepted++;
	} else {
		refused++;
	}
	msgpack_zone_destroy(&z1);
	msgpack_zone_destroy(&z2);
}

START_TEST(same_as_msgpack_unpack)
{
	for (int round = 0; round < 3000; round++) {
		msgpack_sbuffer sb;
		msgpack_packer pk;
		char *copy;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		if (round % 20 == 0)
			gen_deep(&pk, 30 + (int)rnd(6)); /* around the stack */
		else
			gen(&pk, 1 + (int)rnd(8));
		if (rnd(4) == 0)
			gen(&pk, 1); /* extra bytes after the object */
		compare(sb.data, sb.size);
		/* Cut short. */
		for (int i = 0; i < 4 && sb.size > 1; i++)
			compare(sb.data, rnd((uint32_t)sb.size));
		/* Bytes changed. */
		copy = malloc(sb.size);
		ck_assert_ptr_nonnull(copy);
		for (int i = 0; i < 6; i++) {
			memcpy(copy, sb.data, sb.size);
			for (int j = 0, m = 1 + (int)rnd(3); j < m; j++)
				copy[rnd((uint32_t)sb.size)] =
				    rnd(2) ? (char)rnd(256)
					   : (char)(copy[0] ^ (1 << rnd(8)));
			compare(copy, sb.size);
		}
		free(copy);
		msgpack_sbuffer_destroy(&sb);
	}
	/* Random bytes. */
	for (int round = 0; round < 20000; round++) {
		char buf[64];
		size_t len = 1 + rnd(sizeof(buf));
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)rnd(256);
		compare(buf, len);
	}
	/* Both outcomes were exercised, plenty. */
	ck_assert_uint_gt(accepted, 3000);
	ck_assert_uint_gt(refused, 3000);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("unpack");
	TCase *tc = tcase_create("unpack");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, same_as_msgpack_unpack);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}

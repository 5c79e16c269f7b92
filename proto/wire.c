/*
 * wire.c - framing and MessagePack helpers; see wire.h.
 */
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int wire_frame_next(const char *p, size_t n, const char **body, size_t *blen,
		    size_t *used)
{
	const unsigned char *u = (const unsigned char *)p;
	uint32_t len;

	if (n < 4)
		return 0;
	len = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	      (uint32_t)u[2] << 8 | u[3];
	if (len > WIRE_MAX_FRAME)
		return -1;
	if (n - 4 < len)
		return 0;
	*body = p + 4;
	*blen = len;
	*used = 4 + (size_t)len;
	return 1;
}

static uint64_t be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

uint64_t wire_be(const unsigned char *p, size_t n)
{
	return be(p, n);
}

/*
 * The headers 0xc0..0xdf: how many bytes of length field follow, how many
 * payload bytes follow beyond a length, and, for arrays and maps, how many
 * objects each counted unit is (1 or 2).  0xc1 is never used.
 */
static const struct mp_hdr {
	uint8_t lenbytes, fixed, items_per, bad;
} mp_hdrs[32] = {
    [0x00] = {0, 0, 0, 0},  /* nil */
    [0x01] = {0, 0, 0, 1},  /* never used */
    [0x02] = {0, 0, 0, 0},  /* false */
    [0x03] = {0, 0, 0, 0},  /* true */
    [0x04] = {1, 0, 0, 0},  /* bin 8 */
    [0x05] = {2, 0, 0, 0},  /* bin 16 */
    [0x06] = {4, 0, 0, 0},  /* bin 32 */
    [0x07] = {1, 1, 0, 0},  /* ext 8: length, type, data */
    [0x08] = {2, 1, 0, 0},  /* ext 16 */
    [0x09] = {4, 1, 0, 0},  /* ext 32 */
    [0x0a] = {0, 4, 0, 0},  /* float 32 */
    [0x0b] = {0, 8, 0, 0},  /* float 64 */
    [0x0c] = {0, 1, 0, 0},  /* uint 8 */
    [0x0d] = {0, 2, 0, 0},  /* uint 16 */
    [0x0e] = {0, 4, 0, 0},  /* uint 32 */
    [0x0f] = {0, 8, 0, 0},  /* uint 64 */
    [0x10] = {0, 1, 0, 0},  /* int 8 */
    [0x11] = {0, 2, 0, 0},  /* int 16 */
    [0x12] = {0, 4, 0, 0},  /* int 32 */
    [0x13] = {0, 8, 0, 0},  /* int 64 */
    [0x14] = {0, 2, 0, 0},  /* fixext 1: type, data */
    [0x15] = {0, 3, 0, 0},  /* fixext 2 */
    [0x16] = {0, 5, 0, 0},  /* fixext 4 */
    [0x17] = {0, 9, 0, 0},  /* fixext 8 */
    [0x18] = {0, 17, 0, 0}, /* fixext 16 */
    [0x19] = {1, 0, 0, 0},  /* str 8 */
    [0x1a] = {2, 0, 0, 0},  /* str 16 */
    [0x1b] = {4, 0, 0, 0},  /* str 32 */
    [0x1c] = {2, 0, 1, 0},  /* array 16 */
    [0x1d] = {4, 0, 1, 0},  /* array 32 */
    [0x1e] = {2, 0, 2, 0},  /* map 16 */
    [0x1f] = {4, 0, 2, 0},  /* map 32 */
};

/*
 * Walk one MessagePack object at p[0..n) and put its byte length in *used.
 * Every length and item count is checked against the bytes that remain;
 * since every pending item needs at least one byte, the items a frame can
 * declare are bounded by its size, and so is what msgpack-c will allocate
 * for them.  Returns 0, or -1 when the bytes are not one whole object.
 */
int wire_msgpack_check(const void *data, size_t n, size_t *used)
{
	return wire_msgpack_check_max(data, n, SIZE_MAX, used);
}

int wire_msgpack_check_max(const void *data, size_t n, size_t max_objects,
			   size_t *used)
{
	const unsigned char *p = data;
	size_t off = 0;
	size_t pending = 1;
	size_t seen = 1;

	while (pending > 0) {
		/* A header is followed by "bytes" payload bytes, or announces
		 * "items" further objects (an array's or a map's). */
		uint64_t bytes = 0, items = 0;
		size_t fixed = 0;
		unsigned char b;

		if (off >= n)
			return -1;
		b = p[off++];
		pending--;
		if (b <= 0x7f || b >= 0xe0) {
			/* A positive or negative fixint: nothing follows. */
		} else if (b <= 0x8f) {
			items = 2u * (b & 0x0fu);
		} else if (b <= 0x9f) {
			items = b & 0x0fu;
		} else if (b <= 0xbf) {
			bytes = b & 0x1fu;
		} else {
			const struct mp_hdr *h = &mp_hdrs[b - 0xc0];
			if (h->bad || n - off < h->lenbytes)
				return -1;
			if (h->items_per)
				items = be(p + off, h->lenbytes) * h->items_per;
			else
				bytes = be(p + off, h->lenbytes);
			off += h->lenbytes;
			fixed = h->fixed;
		}
		if (bytes > n - off || fixed > n - off - bytes)
			return -1;
		off += (size_t)bytes + fixed;
		if (items > n - off || pending > n - off - items)
			return -1;
		if (items > max_objects - seen)
			return -2;
		seen += (size_t)items;
		pending += (size_t)items;
	}
	*used = off;
	return 0;
}

const msgpack_object *wire_get(const msgpack_object *map, const char *key)
{
	size_t kl = strlen(key);

	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
		    memcmp(k->via.str.ptr, key, kl) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

bool wire_str_eq(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, s, n) == 0;
}

int wire_cstr(const msgpack_object *o, char *buf, size_t len)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR ||
	    o->via.str.size >= len ||
	    memchr(o->via.str.ptr, 0, o->via.str.size))
		return -1;
	memcpy(buf, o->via.str.ptr, o->via.str.size);
	buf[o->via.str.size] = 0;
	return 0;
}

bool wire_int(const msgpack_object *o, int64_t *v)
{
	if (o == NULL)
		return false;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > INT64_MAX)
			return false;
		*v = (int64_t)o->via.u64;
		return true;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return true;
	}
	return false;
}

void wire_pk_strn(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

void wire_pk_str(msgpack_packer *pk, const char *s)
{
	wire_pk_strn(pk, s, strlen(s));
}

void wire_pk_kstr(msgpack_packer *pk, const char *key, const char *val)
{
	wire_pk_str(pk, key);
	if (val)
		wire_pk_str(pk, val);
	else
		msgpack_pack_nil(pk);
}

void wire_pk_kint(msgpack_packer *pk, const char *key, int64_t val)
{
	wire_pk_str(pk, key);
	msgpack_pack_int64(pk, val);
}

void wire_pk_kbool(msgpack_packer *pk, const char *key, bool val)
{
	wire_pk_str(pk, key);
	if (val)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

void wire_pk_obj(msgpack_packer *pk, const msgpack_object *o)
{
	msgpack_pack_object(pk, *o);
}

int wire_text_check(const char *s, size_t n, bool multiline)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		uint32_t cp;
		size_t len;

		if (c < 0x80) {
			if ((c < 0x20 &&
			     !(multiline && (c == '\t' || c == '\n'))) ||
			    c == 0x7f)
				return WIRE_TEXT_CONTROL;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return WIRE_TEXT_BAD_UTF8; /* continuation, overlong
						      lead or beyond 0xf4 */
		}
		if (n - i < len)
			return WIRE_TEXT_BAD_UTF8;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return WIRE_TEXT_BAD_UTF8;
			cp = (cp << 6) | (p[i + k] & 0x3fu);
		}
		/* Overlong forms, surrogates, beyond U+10FFFF. */
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return WIRE_TEXT_BAD_UTF8;
		/* C1 controls. */
		if (cp >= 0x80 && cp <= 0x9f)
			return WIRE_TEXT_CONTROL;
		i += len;
	}
	return 0;
}

int wire_text_check_all(const msgpack_object *o)
{
	int rc = 0;

	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		return wire_text_check(o->via.str.ptr, o->via.str.size, true);
	case MSGPACK_OBJECT_ARRAY:
		for (uint32_t i = 0; rc == 0 && i < o->via.array.size; i++)
			rc = wire_text_check_all(&o->via.array.ptr[i]);
		return rc;
	case MSGPACK_OBJECT_MAP:
		for (uint32_t i = 0; rc == 0 && i < o->via.map.size; i++) {
			rc = wire_text_check_all(&o->via.map.ptr[i].key);
			if (rc == 0)
				rc =
				    wire_text_check_all(&o->via.map.ptr[i].val);
		}
		return rc;
	default:
		return 0;
	}
}

const char *wire_text_problem(int rc)
{
	return rc == WIRE_TEXT_BAD_UTF8 ? "not valid UTF-8"
					: "contains control characters";
}

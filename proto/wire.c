/*
 * wire.c - framing and MessagePack helpers; see wire.h.
 */
#include <stdlib.h>
#include <string.h>

#include "wire.h"

void wbuf_reserve(struct wbuf *b, size_t extra)
{
	size_t need = b->len + extra;
	size_t cap;
	char *p;

	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		abort();
	b->data = p;
	b->cap = cap;
}

void wbuf_append(struct wbuf *b, const void *p, size_t n)
{
	wbuf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void wbuf_consume(struct wbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void wbuf_free(struct wbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static int wbuf_write(void *data, const char *buf, size_t len)
{
	wbuf_append(data, buf, len);
	return 0;
}

void wbuf_packer_init(msgpack_packer *pk, struct wbuf *b)
{
	msgpack_packer_init(pk, b, wbuf_write);
}

size_t wire_frame_begin(struct wbuf *b)
{
	size_t off = b->len;
	wbuf_append(b, "\0\0\0\0", 4);
	return off;
}

int wire_frame_end(struct wbuf *b, size_t off)
{
	size_t n = b->len - off - 4;
	unsigned char *p = (unsigned char *)b->data + off;

	if (n > WIRE_MAX_FRAME) {
		b->len = off;
		return -1;
	}
	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	return 0;
}

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

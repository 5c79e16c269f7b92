/*
 * unpack.c - see unpack.h.
 *
 * A recursive descent over the buffer that builds each object in place,
 * where msgpack_unpack runs a general state machine with a stack of
 * partial objects copied through callbacks.  The cases follow msgpack-c's
 * unpack_template.h and unpack.c one for one.
 */
#include <msgpack/unpack_define.h>
#include <string.h>

#include "unpack.h"

/* The deepest nesting msgpack_unpack accepts (its embedded stack). */
#define DEPTH_MAX MSGPACK_EMBED_STACK_SIZE

typedef const unsigned char *cur;

static inline uint64_t be(cur p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void set_int(msgpack_object *o, int64_t v)
{
	if (v >= 0) {
		o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
		o->via.u64 = (uint64_t)v;
	} else {
		o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
		o->via.i64 = v;
	}
}

static cur one(cur p, cur e, unsigned depth, msgpack_zone *z,
	       msgpack_object *o);

/* n elements (n pairs when map) of a container opened at depth. */
static cur container(cur p, cur e, unsigned depth, msgpack_zone *z,
		     msgpack_object *o, uint64_t n, bool map)
{
	if (depth >= DEPTH_MAX)
		return NULL;
	if (map) {
		msgpack_object_kv *kv;
		o->type = MSGPACK_OBJECT_MAP;
		o->via.map.size = 0;
		o->via.map.ptr = NULL;
		if (n == 0)
			return p;
		/* Each pair takes two bytes at least: more than the rest
		 * holds is a truncated buffer. */
		if (n > (uint64_t)(e - p) / 2)
			return NULL;
		kv = msgpack_zone_malloc(z, n * sizeof(*kv));
		if (kv == NULL)
			return NULL;
		o->via.map.ptr = kv;
		for (uint64_t i = 0; i < n; i++) {
			p = one(p, e, depth + 1, z, &kv[i].key);
			if (p == NULL)
				return NULL;
			p = one(p, e, depth + 1, z, &kv[i].val);
			if (p == NULL)
				return NULL;
			o->via.map.size++;
		}
	} else {
		msgpack_object *a;
		o->type = MSGPACK_OBJECT_ARRAY;
		o->via.array.size = 0;
		o->via.array.ptr = NULL;
		if (n == 0)
			return p;
		if (n > (uint64_t)(e - p))
			return NULL;
		a = msgpack_zone_malloc(z, n * sizeof(*a));
		if (a == NULL)
			return NULL;
		o->via.array.ptr = a;
		for (uint64_t i = 0; i < n; i++) {
			p = one(p, e, depth + 1, z, &a[i]);
			if (p == NULL)
				return NULL;
			o->via.array.size++;
		}
	}
	return p;
}

/* A string, binary or extension body of l bytes at p. */
static cur body(cur p, cur e, uint64_t l, msgpack_object *o, int type)
{
	if (l > (uint64_t)(e - p))
		return NULL;
	o->type = type;
	if (type == MSGPACK_OBJECT_EXT) {
		/* l counts the type byte; none at all is refused. */
		if (l == 0)
			return NULL;
		o->via.ext.type = (int8_t)p[0];
		o->via.ext.ptr = (const char *)p + 1;
		o->via.ext.size = (uint32_t)(l - 1);
	} else {
		/* str and bin share their layout. */
		o->via.str.ptr = (const char *)p;
		o->via.str.size = (uint32_t)l;
	}
	return p + l;
}

static cur one(cur p, cur e, unsigned depth, msgpack_zone *z, msgpack_object *o)
{
	unsigned b;
	int w;

	if (p >= e)
		return NULL;
	b = *p++;
	if (b <= 0x7f) {
		o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
		o->via.u64 = b;
		return p;
	}
	if (b >= 0xe0) {
		set_int(o, (int8_t)b);
		return p;
	}
	if (b <= 0x8f)
		return container(p, e, depth, z, o, b & 0x0f, true);
	if (b <= 0x9f)
		return container(p, e, depth, z, o, b & 0x0f, false);
	if (b <= 0xbf)
		return body(p, e, b & 0x1f, o, MSGPACK_OBJECT_STR);
	switch (b) {
	case 0xc0:
		o->type = MSGPACK_OBJECT_NIL;
		return p;
	case 0xc2:
	case 0xc3:
		o->type = MSGPACK_OBJECT_BOOLEAN;
		o->via.boolean = b == 0xc3;
		return p;
	case 0xc4: /* bin 8, 16, 32 */
	case 0xc5:
	case 0xc6:
		w = 1 << (b - 0xc4);
		if ((size_t)(e - p) < (size_t)w)
			return NULL;
		return body(p + w, e, be(p, w), o, MSGPACK_OBJECT_BIN);
	case 0xc7: /* ext 8, 16, 32: the length leaves out the type */
	case 0xc8:
	case 0xc9:
		w = 1 << (b - 0xc7);
		if ((size_t)(e - p) < (size_t)w)
			return NULL;
		return body(p + w, e, be(p, w) + 1, o, MSGPACK_OBJECT_EXT);
	case 0xca: {
		union {
			uint32_t i;
			float f;
		} m;
		if (e - p < 4)
			return NULL;
		m.i = (uint32_t)be(p, 4);
		o->type = MSGPACK_OBJECT_FLOAT32;
		o->via.f64 = m.f;
		return p + 4;
	}
	case 0xcb: {
		union {
			uint64_t i;
			double f;
		} m;
		if (e - p < 8)
			return NULL;
		m.i = be(p, 8);
		o->type = MSGPACK_OBJECT_FLOAT64;
		o->via.f64 = m.f;
		return p + 8;
	}
	case 0xcc: /* uint 8, 16, 32, 64 */
	case 0xcd:
	case 0xce:
	case 0xcf:
		w = 1 << (b - 0xcc);
		if ((size_t)(e - p) < (size_t)w)
			return NULL;
		o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
		o->via.u64 = be(p, w);
		return p + w;
	case 0xd0: /* int 8, 16, 32, 64 */
	case 0xd1:
	case 0xd2:
	case 0xd3: {
		uint64_t v;
		w = 1 << (b - 0xd0);
		if ((size_t)(e - p) < (size_t)w)
			return NULL;
		v = be(p, w);
		if (w == 1)
			set_int(o, (int8_t)v);
		else if (w == 2)
			set_int(o, (int16_t)v);
		else if (w == 4)
			set_int(o, (int32_t)v);
		else
			set_int(o, (int64_t)v);
		return p + w;
	}
	case 0xd4: /* fixext 1, 2, 4, 8, 16: a type byte, then the data */
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		return body(p, e, (1u << (b - 0xd4)) + 1, o,
			    MSGPACK_OBJECT_EXT);
	case 0xd9: /* str 8, 16, 32 */
	case 0xda:
	case 0xdb:
		w = 1 << (b - 0xd9);
		if ((size_t)(e - p) < (size_t)w)
			return NULL;
		return body(p + w, e, be(p, w), o, MSGPACK_OBJECT_STR);
	case 0xdc: /* array 16, 32 */
	case 0xdd:
	case 0xde: /* map 16, 32 */
	case 0xdf:
		w = b & 1 ? 4 : 2;
		if ((size_t)(e - p) < (size_t)w)
			return NULL;
		return container(p + w, e, depth, z, o, be(p, w), b >= 0xde);
	default: /* 0xc1, never used */
		return NULL;
	}
}

bool unpack_object(const char *buf, size_t len, msgpack_zone *z,
		   msgpack_object *out)
{
	cur p = (cur)buf;

	return one(p, p + len, 0, z, out) != NULL;
}

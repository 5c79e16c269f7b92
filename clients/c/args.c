/*
 * args.c - the argument builder of bookd.h (bookd_args): the MessagePack
 * map of a request's "args", built key by key, with nested maps and arrays.
 *
 * It owns one growable buffer and a stack of open containers.  Every map and
 * array is written with a 32-bit count header (map32 / array32) that
 * bookd_args_end() patches, so callers never count fields ahead; the root
 * map is opened by bookd_args_new() / bookd_args_reset() and closed when
 * the bytes are taken.
 *
 * Invariants:
 *   - depth >= 1 while the builder is usable: stack[0] is the root map at
 *     offset 0.
 *   - len never exceeds BOOKD_ARGS_MAX: a request cannot be larger than a
 *     frame, so a bigger map is refused early (BOOKD_E_TOO_LARGE) instead
 *     of growing without bound.
 *   - The first failure is sticky (err): later additions do nothing and
 *     return it, bookd_args_data() returns NULL, and bookd_call_args()
 *     returns it without sending.  Nothing here aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "client_priv.h"
#include "wire.h"

/* The frame limit minus room for the request's id and op. */
#define BOOKD_ARGS_MAX (WIRE_MAX_FRAME - 1024)

struct args_level {
	size_t off;	/* where the container's header is */
	uint32_t count; /* items (map: pairs) so far */
	bool is_map;
};

struct bookd_args {
	struct bookd_buf_ buf;
	msgpack_packer pk;
	int err;
	size_t depth;
	struct args_level stack[BOOKD_ARGS_DEPTH];
};

static int args_put(bookd_args *a, const void *p, size_t n)
{
	if (a->err)
		return -1;
	if (n > BOOKD_ARGS_MAX - a->buf.len) {
		a->err = BOOKD_E_TOO_LARGE;
		return -1;
	}
	if (bookd_buf_put_(&a->buf, p, n) < 0) {
		a->err = BOOKD_E_NOMEM;
		return -1;
	}
	return 0;
}

static int args_write(void *data, const char *buf, size_t len)
{
	return args_put(data, buf, len);
}

/* A container header with a zero count, patched by close_level(). */
static void open_level(bookd_args *a, bool is_map)
{
	static const unsigned char map32[5] = {0xdf, 0, 0, 0, 0};
	static const unsigned char arr32[5] = {0xdd, 0, 0, 0, 0};
	size_t off = a->buf.len;

	if (a->depth == BOOKD_ARGS_DEPTH) {
		a->err = BOOKD_E_BAD_REQUEST;
		return;
	}
	if (args_put(a, is_map ? map32 : arr32, 5) < 0)
		return;
	a->stack[a->depth++] = (struct args_level){off, 0, is_map};
}

static void close_level(bookd_args *a)
{
	struct args_level *l = &a->stack[--a->depth];
	unsigned char *h = (unsigned char *)a->buf.data + l->off;

	h[1] = (unsigned char)(l->count >> 24);
	h[2] = (unsigned char)(l->count >> 16);
	h[3] = (unsigned char)(l->count >> 8);
	h[4] = (unsigned char)l->count;
}

bookd_args *bookd_args_new(void)
{
	bookd_args *a = calloc(1, sizeof *a);

	if (a == NULL)
		return NULL;
	msgpack_packer_init(&a->pk, a, args_write);
	bookd_args_reset(a);
	return a;
}

void bookd_args_free(bookd_args *a)
{
	if (a == NULL)
		return;
	free(a->buf.data);
	free(a);
}

void bookd_args_reset(bookd_args *a)
{
	a->buf.len = 0;
	a->err = 0;
	a->depth = 0;
	open_level(a, true);
}

int bookd_args_error(const bookd_args *a)
{
	return a->err;
}

/*
 * Start one value: write its key inside a map, check that there is none
 * inside an array.  Returns 0 when the value may follow.
 */
static int value_begin(bookd_args *a, const char *key)
{
	struct args_level *l;

	if (a->err)
		return a->err;
	if (a->depth == 0) {
		a->err = BOOKD_E_BAD_REQUEST; /* taken: reset first */
		return a->err;
	}
	l = &a->stack[a->depth - 1];
	if ((key != NULL) != l->is_map || l->count == UINT32_MAX) {
		a->err = BOOKD_E_BAD_REQUEST;
		return a->err;
	}
	if (key)
		msgpack_pack_str_with_body(&a->pk, key, strlen(key));
	l->count++;
	return a->err;
}

int bookd_args_strn(bookd_args *a, const char *key, const char *val, size_t len)
{
	if (val == NULL && len > 0) {
		a->err = a->err ? a->err : BOOKD_E_BAD_REQUEST;
		return a->err;
	}
	if (len > UINT32_MAX) {
		a->err = a->err ? a->err : BOOKD_E_TOO_LARGE;
		return a->err;
	}
	if (value_begin(a, key) == 0)
		msgpack_pack_str_with_body(&a->pk, val ? val : "", len);
	return a->err;
}

int bookd_args_str(bookd_args *a, const char *key, const char *val)
{
	if (val == NULL)
		return a->err;
	return bookd_args_strn(a, key, val, strlen(val));
}

int bookd_args_int(bookd_args *a, const char *key, int64_t v)
{
	if (value_begin(a, key) == 0)
		msgpack_pack_int64(&a->pk, v);
	return a->err;
}

int bookd_args_uint(bookd_args *a, const char *key, uint64_t v)
{
	if (value_begin(a, key) == 0)
		msgpack_pack_uint64(&a->pk, v);
	return a->err;
}

int bookd_args_bool(bookd_args *a, const char *key, bool v)
{
	if (value_begin(a, key) == 0) {
		if (v)
			msgpack_pack_true(&a->pk);
		else
			msgpack_pack_false(&a->pk);
	}
	return a->err;
}

int bookd_args_nil(bookd_args *a, const char *key)
{
	if (value_begin(a, key) == 0)
		msgpack_pack_nil(&a->pk);
	return a->err;
}

int bookd_args_map(bookd_args *a, const char *key)
{
	if (value_begin(a, key) == 0)
		open_level(a, true);
	return a->err;
}

int bookd_args_array(bookd_args *a, const char *key)
{
	if (value_begin(a, key) == 0)
		open_level(a, false);
	return a->err;
}

int bookd_args_end(bookd_args *a)
{
	if (a->err)
		return a->err;
	if (a->depth <= 1) {
		a->err = BOOKD_E_BAD_REQUEST; /* nothing open but the root */
		return a->err;
	}
	close_level(a);
	return 0;
}

const void *bookd_args_data(bookd_args *a, size_t *len)
{
	if (a->err || a->depth != 1) {
		if (len)
			*len = 0;
		return NULL;
	}
	/* Patch the root's count in place; the root stays open, so more
	 * fields may follow and be patched again. */
	close_level(a);
	a->depth = 1;
	if (len)
		*len = a->buf.len;
	return a->buf.data;
}

/* The bytes to send, or the reason there are none (set on c). */
static int args_take(bookd_conn *c, bookd_args *a, const void **p, size_t *n)
{
	if (bookd_broken(c))
		return bookd_broken(c);
	if (a == NULL) {
		*p = NULL;
		*n = 0;
		return 0;
	}
	*p = bookd_args_data(a, n);
	if (*p != NULL)
		return 0;
	if (a->err == 0)
		return bookd_fail_(c, BOOKD_E_BAD_REQUEST,
				   "args: %zu map or array left open",
				   a->depth - 1);
	return bookd_fail_(c, a->err, "args: %s", bookd_strerror(a->err));
}

int bookd_call_args(bookd_conn *c, const char *op, bookd_args *a,
		    const msgpack_object **result)
{
	const void *p;
	size_t n;
	int rc = args_take(c, a, &p, &n);

	return rc < 0 ? rc : bookd_call(c, op, p, n, result);
}

int bookd_send_args(bookd_conn *c, const char *op, bookd_args *a, uint64_t *id)
{
	const void *p;
	size_t n;
	int rc = args_take(c, a, &p, &n);

	return rc < 0 ? rc : bookd_send(c, op, p, n, id);
}

/*
 * wbuf.c - the growable buffer and frame building of wire.h, for the
 * engine, the tools and the tests.
 *
 * Allocation failure here is fatal (abort), as wire.h explains, so this file
 * is not part of libbookd: the library builds its requests in its own
 * buffers (client.c, args.c) and returns BOOKD_E_NOMEM instead.
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
	if (n == 0)
		return; /* p may be NULL (an empty buffer) */
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

/*
 * text.c - UTF-8 decoding and escaped output for people; see text.h.
 */
#include <string.h>

#include "text.h"

size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* The escape for one character or byte, or "" when it prints as is. */
static void escape_one(uint32_t cp, size_t len, unsigned char byte, char out[8])
{
	out[0] = 0;
	if (len == 0) {
		snprintf(out, 8, "\\x%02x", byte);
		return;
	}
	switch (cp) {
	case '\\':
		strcpy(out, "\\\\");
		return;
	case '\n':
		strcpy(out, "\\n");
		return;
	case '\t':
		strcpy(out, "\\t");
		return;
	case '\r':
		strcpy(out, "\\r");
		return;
	case 0x1b:
		strcpy(out, "\\e");
		return;
	}
	if (cp < 0x20 || cp == 0x7f)
		snprintf(out, 8, "\\x%02x", (unsigned)cp);
	else if (cp >= 0x80 && cp <= 0x9f)
		snprintf(out, 8, "\\u%04x", (unsigned)cp);
}

/* Walk s[0..n), handing each piece (a run of printable bytes or one
 * escape) to emit. */
static void text_walk(const char *s, size_t n,
		      void (*emit)(void *ctx, const char *p, size_t k),
		      void *ctx)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;

	while (i < n) {
		uint32_t cp = 0;
		size_t len = utf8_next(u + i, n - i, &cp);
		char esc[8];

		escape_one(cp, len, u[i], esc);
		if (esc[0] == 0) {
			i += len;
			continue;
		}
		if (i > run)
			emit(ctx, s + run, i - run);
		emit(ctx, esc, strlen(esc));
		i += len ? len : 1;
		run = i;
	}
	if (n > run)
		emit(ctx, s + run, n - run);
}

static void emit_file(void *ctx, const char *p, size_t k)
{
	fwrite(p, 1, k, ctx);
}

void text_print(FILE *f, const char *s, size_t n)
{
	text_walk(s, n, emit_file, f);
}

struct sink {
	char *buf;
	size_t len, used;
	int full;
};

static void emit_buf(void *ctx, const char *p, size_t k)
{
	struct sink *b = ctx;

	if (b->full)
		return;
	if (k > b->len - 1 - b->used) {
		/* Cut a printable run at a character boundary; drop an
		 * escape whole. */
		size_t room = b->len - 1 - b->used, keep = 0;
		if (p[0] != '\\') {
			while (keep < room) {
				uint32_t cp;
				size_t l =
				    utf8_next((const unsigned char *)p + keep,
					      k - keep, &cp);
				if (l == 0 || keep + l > room)
					break;
				keep += l;
			}
		}
		memcpy(b->buf + b->used, p, keep);
		b->used += keep;
		b->full = 1;
		return;
	}
	memcpy(b->buf + b->used, p, k);
	b->used += k;
}

char *text_escape(const char *s, size_t n, char *buf, size_t len)
{
	struct sink b = {buf, len, 0, 0};

	if (len == 0)
		return buf;
	text_walk(s, n, emit_buf, &b);
	buf[b.used] = 0;
	return buf;
}

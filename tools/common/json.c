/*
 * json.c - JSON to MessagePack and back, for bookctl; see json.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "text.h"

struct jp {
	const char *s; /* the text */
	size_t i;      /* the next byte */
	msgpack_sbuffer *sb;
	msgpack_packer pk;
	char *err;
	size_t errlen;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static int jfail(struct jp *p,
						       const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->failed)
		return -1;
	p->failed = true;
	n = snprintf(p->err, p->errlen, "JSON at byte %zu: ", p->i);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void skip_ws(struct jp *p)
{
	while (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
	       p->s[p->i] == '\r')
		p->i++;
}

static int put(struct jp *p, const void *b, size_t n)
{
	if (msgpack_sbuffer_write(p->sb, b, n) < 0)
		return jfail(p, "out of memory");
	return 0;
}

/* A 32-bit container header whose count is patched later; returns where. */
static size_t begin32(struct jp *p, unsigned char type)
{
	size_t off = p->sb->size;
	unsigned char h[5] = {type, 0, 0, 0, 0};

	put(p, h, sizeof h);
	return off;
}

static void patch32(struct jp *p, size_t off, uint32_t n)
{
	unsigned char *h = (unsigned char *)p->sb->data + off;

	if (p->failed)
		return;
	h[1] = (unsigned char)(n >> 24);
	h[2] = (unsigned char)(n >> 16);
	h[3] = (unsigned char)(n >> 8);
	h[4] = (unsigned char)n;
}

static int hex4(struct jp *p, uint32_t *v)
{
	*v = 0;
	for (int k = 0; k < 4; k++) {
		char c = p->s[p->i];
		uint32_t d;
		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (uint32_t)(c - 'A' + 10);
		else
			return jfail(p, "bad \\u escape");
		*v = *v << 4 | d;
		p->i++;
	}
	return 0;
}

static size_t utf8(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string starting at the opening quote, packed as a MessagePack str.
 * Its decoded bytes are at most as many as its source bytes, so the body
 * is decoded into a buffer of that size. */
static int parse_string(struct jp *p)
{
	size_t start = ++p->i;
	size_t end = start;
	size_t n = 0;
	char *buf;
	int rc = -1;

	while (p->s[end] != '"') {
		if (p->s[end] == 0)
			return jfail(p, "unterminated string");
		if (p->s[end] == '\\' && p->s[end + 1] != 0)
			end++;
		end++;
	}
	buf = malloc(end - start + 1);
	if (buf == NULL)
		return jfail(p, "out of memory");
	while (p->i < end) {
		unsigned char c = (unsigned char)p->s[p->i];
		uint32_t cp, lo;

		if (c < 0x20) {
			jfail(p, "control character in string");
			goto out;
		}
		if (c != '\\') {
			buf[n++] = (char)c;
			p->i++;
			continue;
		}
		p->i++;
		switch (p->s[p->i++]) {
		case '"':
			buf[n++] = '"';
			break;
		case '\\':
			buf[n++] = '\\';
			break;
		case '/':
			buf[n++] = '/';
			break;
		case 'b':
			buf[n++] = '\b';
			break;
		case 'f':
			buf[n++] = '\f';
			break;
		case 'n':
			buf[n++] = '\n';
			break;
		case 'r':
			buf[n++] = '\r';
			break;
		case 't':
			buf[n++] = '\t';
			break;
		case 'u':
			if (hex4(p, &cp) < 0)
				goto out;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p->s[p->i] != '\\' ||
				    p->s[p->i + 1] != 'u') {
					jfail(p, "lone surrogate");
					goto out;
				}
				p->i += 2;
				if (hex4(p, &lo) < 0)
					goto out;
				if (lo < 0xdc00 || lo > 0xdfff) {
					jfail(p, "bad surrogate pair");
					goto out;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				jfail(p, "lone surrogate");
				goto out;
			}
			/* "\uXXXX" is 6 source bytes and at most 3 UTF-8
			 * bytes; a pair is 12 and 4: the buffer suffices. */
			n += utf8(cp, buf + n);
			break;
		default:
			jfail(p, "bad escape");
			goto out;
		}
	}
	p->i = end + 1;
	if (msgpack_pack_str_with_body(&p->pk, buf, n) < 0)
		jfail(p, "out of memory");
	else
		rc = 0;
out:
	free(buf);
	return rc;
}

static int parse_number(struct jp *p)
{
	size_t start = p->i;
	bool is_int = true;
	const char *s = p->s;
	char *endp;

	if (s[p->i] == '-')
		p->i++;
	if (!(s[p->i] >= '0' && s[p->i] <= '9'))
		return jfail(p, "bad number");
	while (s[p->i] >= '0' && s[p->i] <= '9')
		p->i++;
	if (s[p->i] == '.' || s[p->i] == 'e' || s[p->i] == 'E') {
		is_int = false;
		if (s[p->i] == '.') {
			p->i++;
			if (!(s[p->i] >= '0' && s[p->i] <= '9'))
				return jfail(p, "bad number");
			while (s[p->i] >= '0' && s[p->i] <= '9')
				p->i++;
		}
		if (s[p->i] == 'e' || s[p->i] == 'E') {
			p->i++;
			if (s[p->i] == '+' || s[p->i] == '-')
				p->i++;
			if (!(s[p->i] >= '0' && s[p->i] <= '9'))
				return jfail(p, "bad number");
			while (s[p->i] >= '0' && s[p->i] <= '9')
				p->i++;
		}
	}
	errno = 0;
	if (is_int && s[start] == '-') {
		long long v = strtoll(s + start, &endp, 10);
		if (errno == 0 && (size_t)(endp - s) == p->i) {
			msgpack_pack_int64(&p->pk, v);
			return 0;
		}
	} else if (is_int) {
		unsigned long long v = strtoull(s + start, &endp, 10);
		if (errno == 0 && (size_t)(endp - s) == p->i) {
			msgpack_pack_uint64(&p->pk, v);
			return 0;
		}
	}
	/* A non-integer, or an integer too large for 64 bits. */
	errno = 0;
	{
		double d = strtod(s + start, &endp);
		if ((size_t)(endp - s) != p->i || !isfinite(d))
			return jfail(p, "number out of range");
		msgpack_pack_double(&p->pk, d);
	}
	return 0;
}

static int parse_value(struct jp *p, int depth);

static int parse_container(struct jp *p, int depth, bool is_obj)
{
	char close = is_obj ? '}' : ']';
	size_t off = begin32(p, is_obj ? 0xdf : 0xdd);
	uint32_t n = 0;

	if (depth >= JSON_MAX_DEPTH)
		return jfail(p, "nested deeper than %d", JSON_MAX_DEPTH);
	p->i++;
	skip_ws(p);
	if (p->s[p->i] == close) {
		p->i++;
		patch32(p, off, 0);
		return p->failed ? -1 : 0;
	}
	for (;;) {
		skip_ws(p);
		if (is_obj) {
			if (p->s[p->i] != '"')
				return jfail(p, "expected a string key");
			if (parse_string(p) < 0)
				return -1;
			skip_ws(p);
			if (p->s[p->i] != ':')
				return jfail(p, "expected ':'");
			p->i++;
		}
		if (parse_value(p, depth + 1) < 0)
			return -1;
		n++;
		skip_ws(p);
		if (p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->s[p->i] == close) {
			p->i++;
			break;
		}
		return jfail(p, "expected ',' or '%c'", close);
	}
	patch32(p, off, n);
	return p->failed ? -1 : 0;
}

static bool word(struct jp *p, const char *w)
{
	size_t n = strlen(w);

	if (strncmp(p->s + p->i, w, n) != 0)
		return false;
	p->i += n;
	return true;
}

static int parse_value(struct jp *p, int depth)
{
	char c;

	skip_ws(p);
	c = p->s[p->i];
	if (c == '{' || c == '[')
		return parse_container(p, depth, c == '{');
	if (c == '"')
		return parse_string(p);
	if (c == '-' || (c >= '0' && c <= '9'))
		return parse_number(p);
	if (word(p, "true"))
		return msgpack_pack_true(&p->pk) < 0 ? jfail(p, "out of memory")
						     : 0;
	if (word(p, "false"))
		return msgpack_pack_false(&p->pk) < 0
			   ? jfail(p, "out of memory")
			   : 0;
	if (word(p, "null"))
		return msgpack_pack_nil(&p->pk) < 0 ? jfail(p, "out of memory")
						    : 0;
	if (c == 0)
		return jfail(p, "unexpected end");
	return jfail(p, "unexpected '%c'", c);
}

int json_to_msgpack(const char *text, msgpack_sbuffer *sb, char *err,
		    size_t errlen)
{
	struct jp p = {.s = text, .sb = sb, .err = err, .errlen = errlen};

	if (errlen)
		err[0] = 0;
	if (strnlen(text, JSON_MAX_TEXT + 1) > JSON_MAX_TEXT)
		return jfail(&p, "text longer than %u bytes", JSON_MAX_TEXT);
	msgpack_packer_init(&p.pk, sb, msgpack_sbuffer_write);
	if (parse_value(&p, 0) < 0)
		return -1;
	skip_ws(&p);
	if (p.s[p.i] != 0)
		return jfail(&p, "trailing characters");
	return 0;
}

/* ---------------------------------------------------------------------- */

void json_print_str(FILE *f, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	fputc('"', f);
	for (size_t i = 0; i < n;) {
		uint32_t cp = 0;
		size_t len = utf8_next(u + i, n - i, &cp);

		if (len == 0) {
			/* Not UTF-8: the replacement character keeps the
			 * output valid JSON. */
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		switch (cp) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			/* Controls, C1 included, never reach a terminal. */
			if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
				fprintf(f, "\\u%04x", (unsigned)cp);
			else
				fwrite(u + i, 1, len, f);
		}
		i += len;
	}
	fputc('"', f);
}

static void print_base64(FILE *f, const char *s, size_t n)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789+/";
	const unsigned char *u = (const unsigned char *)s;

	fputc('"', f);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)u[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)u[i + 1] << 8;
		if (i + 2 < n)
			v |= u[i + 2];
		fputc(tbl[v >> 18 & 63], f);
		fputc(tbl[v >> 12 & 63], f);
		fputc(i + 1 < n ? tbl[v >> 6 & 63] : '=', f);
		fputc(i + 2 < n ? tbl[v & 63] : '=', f);
	}
	fputc('"', f);
}

static void print_value(FILE *f, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		fputs("null", f);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o->via.boolean ? "true" : "false", f);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		fprintf(f, "%" PRIu64, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		fprintf(f, "%" PRId64, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (isfinite(o->via.f64))
			fprintf(f, "%.17g", o->via.f64);
		else
			fputs("null", f);
		break;
	case MSGPACK_OBJECT_STR:
		json_print_str(f, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		print_base64(f, o->via.bin.ptr, o->via.bin.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		fputc('[', f);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i)
				fputc(',', f);
			print_value(f, &o->via.array.ptr[i]);
		}
		fputc(']', f);
		break;
	case MSGPACK_OBJECT_MAP:
		fputc('{', f);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object *k = &o->via.map.ptr[i].key;
			if (i)
				fputc(',', f);
			if (k->type == MSGPACK_OBJECT_STR) {
				json_print_str(f, k->via.str.ptr,
					       k->via.str.size);
			} else {
				/* JSON keys are strings: quote the key's
				 * JSON text. */
				char *buf = NULL;
				size_t len = 0;
				FILE *m = open_memstream(&buf, &len);
				if (m) {
					print_value(m, k);
					fclose(m);
					json_print_str(f, buf, len);
				} else {
					fputs("\"\"", f);
				}
				free(buf);
			}
			fputc(':', f);
			print_value(f, &o->via.map.ptr[i].val);
		}
		fputc('}', f);
		break;
	default:
		fputs("null", f);
		break;
	}
}

void json_print(FILE *f, const msgpack_object *o)
{
	print_value(f, o);
}

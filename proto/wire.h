/*
 * wire.h - framing and MessagePack helpers shared by the engine and libbookd.
 *
 * Framing (SPEC section 3): a message is a 4-byte big-endian length N, then N
 * bytes holding one MessagePack map; N is at most WIRE_MAX_FRAME.  A frame is
 * built in a wbuf: wire_frame_begin() reserves the length, the body is packed
 * with a msgpack_packer writing into the wbuf (wbuf_packer_init), and
 * wire_frame_end() patches the length in.
 *
 * Every accessor here (wire_get, wire_str_eq, wire_cstr, ...) tolerates any
 * object type and never reads past a string's declared size: the objects come
 * from untrusted bytes.
 *
 * Allocation failure in wbuf is fatal (abort): every caller would otherwise
 * have to unwind a half-packed reply, and a process that cannot grow a reply
 * buffer cannot do anything else useful either.  The wbuf functions and the
 * frame builders live in wbuf.c, which libbookd leaves out (a library must
 * not abort its host); the rest, in wire.c, never allocates.
 */
#ifndef BOOKD_WIRE_H
#define BOOKD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define WIRE_MAX_FRAME (1u << 20)

struct wbuf {
	char *data;
	size_t len;
	size_t cap;
};

void wbuf_reserve(struct wbuf *b, size_t extra);
void wbuf_append(struct wbuf *b, const void *p, size_t n);
void wbuf_consume(struct wbuf *b, size_t n); /* drop n bytes at the front */
void wbuf_free(struct wbuf *b);
void wbuf_packer_init(msgpack_packer *pk, struct wbuf *b);

/* Returns the offset to hand to wire_frame_end(). */
size_t wire_frame_begin(struct wbuf *b);
/* Returns 0, or -1 when the body exceeds WIRE_MAX_FRAME (frame removed). */
int wire_frame_end(struct wbuf *b, size_t off);

/*
 * Look for one complete frame at p[0..n).  Returns 1 and sets *body, *blen
 * and *used when one is there, 0 when more bytes are needed, and -1 when the
 * announced length exceeds WIRE_MAX_FRAME (the stream cannot be resynced).
 */
int wire_frame_next(const char *p, size_t n, const char **body, size_t *blen,
		    size_t *used);
/* The big-endian unsigned integer of n (at most 8) bytes at p: a frame's
 * length, a MessagePack length or count. */
uint64_t wire_be(const unsigned char *p, size_t n);

/*
 * Walk one MessagePack object at data[0..n) without allocating, and put its
 * byte length in *used.  Every length and item count is checked against the
 * bytes that remain, so a frame cannot announce more items than it has
 * bytes: call this before msgpack_unpack_next() on untrusted bytes, whose
 * allocation follows the announced counts.  Returns 0, or -1 when the bytes
 * do not hold one whole object.
 */
int wire_msgpack_check(const void *data, size_t n, size_t *used);
/* The same, and -2 when the object holds more than max_objects objects
 * (itself, array items, map keys and values, all nested), found before
 * walking further: bounds the work and the allocation of unpacking it. */
int wire_msgpack_check_max(const void *data, size_t n, size_t max_objects,
			   size_t *used);

/*
 * Text checks.  Strings on the wire must be UTF-8 (no overlong forms, no
 * surrogates) without control characters: C0, DEL and C1; multiline text
 * may hold tab and newline.  Return 0, WIRE_TEXT_BAD_UTF8 or
 * WIRE_TEXT_CONTROL.  wire_text_check_all checks every string (keys too)
 * inside an object as multiline text; objects from msgpack-c are at most 32
 * levels deep, which bounds its recursion.
 */
#define WIRE_TEXT_BAD_UTF8 1
#define WIRE_TEXT_CONTROL  2
int wire_text_check(const char *s, size_t n, bool multiline);
int wire_text_check_all(const msgpack_object *o);
const char *wire_text_problem(int rc); /* "not valid UTF-8", ... */

/* Object helpers. */
const msgpack_object *wire_get(const msgpack_object *map, const char *key);
bool wire_str_eq(const msgpack_object *o, const char *s);
/* Copy a string object into buf (NUL-terminated); -1 if not a string or it
 * does not fit, or if it holds a NUL byte. */
int wire_cstr(const msgpack_object *o, char *buf, size_t len);
bool wire_int(const msgpack_object *o, int64_t *v);

/* Packing shorthands. */
void wire_pk_str(msgpack_packer *pk, const char *s);
void wire_pk_strn(msgpack_packer *pk, const char *s, size_t n);
void wire_pk_kstr(msgpack_packer *pk, const char *key, const char *val);
void wire_pk_kint(msgpack_packer *pk, const char *key, int64_t val);
void wire_pk_kbool(msgpack_packer *pk, const char *key, bool val);
/* Copy an object (e.g. a client's meta map) into the packer. */
void wire_pk_obj(msgpack_packer *pk, const msgpack_object *o);

#endif

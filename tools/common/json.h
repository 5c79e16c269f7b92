/*
 * json.h - conversions between JSON and MessagePack for the tools (bookctl,
 * bookd-replay):
 * JSON text typed by a person into packed MessagePack (bookctl call), and
 * any MessagePack object into JSON text (--json output).
 *
 * The parser accepts RFC 8259 JSON: objects, arrays, strings with every
 * escape (\uXXXX surrogate pairs become UTF-8), integers that fit int64 or
 * uint64, other numbers as doubles, true, false and null.  It is bounded:
 * nesting deeper than JSON_MAX_DEPTH or input longer than JSON_MAX_TEXT is
 * an error, and it reads nothing past the string it is given.  Containers
 * are packed as map32/array32 with their counts patched at the end, which
 * is valid MessagePack.
 *
 * The printer writes compact JSON on one line, always valid JSON whatever
 * the bytes: strings are escaped per JSON, control characters (C1 too) as
 * \u00XX, and a byte that is not UTF-8 becomes U+FFFD (\ufffd); binary
 * values become base64 strings; extension values become null;
 * map keys that are not strings are printed as JSON and quoted.
 *
 * How it fails: json_to_msgpack() returns 0, or -1 with a message that
 * names the byte offset in err.  Running out of memory is -1 too.
 */
#ifndef BOOKCTL_JSON_H
#define BOOKCTL_JSON_H

#include <stddef.h>
#include <stdio.h>

#include <msgpack.h>

#define JSON_MAX_DEPTH 64
#define JSON_MAX_TEXT  (1u << 20)

int json_to_msgpack(const char *text, msgpack_sbuffer *sb, char *err,
		    size_t errlen);
void json_print(FILE *f, const msgpack_object *o);
/* One JSON string holding s[0..n). */
void json_print_str(FILE *f, const char *s, size_t n);

#endif

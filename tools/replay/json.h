/*
 * json.h - MessagePack objects as JSON text, for bookd-replay's --json
 * output (one record per line, JSON Lines).
 *
 * The output is compact JSON on one line: strings escaped per RFC 8259
 * (control characters as \u00XX; other bytes are copied as they are,
 * since the engine only stores valid UTF-8); integers exactly; floats with
 * 17 significant digits, NaN and infinities as null; binary values as
 * base64 strings; extension values as null; map keys that are not strings
 * are printed as JSON and quoted.
 * Printing cannot fail; write errors show in ferror(f).
 */
#ifndef BOOKD_REPLAY_JSON_H
#define BOOKD_REPLAY_JSON_H

#include <stddef.h>
#include <stdio.h>

#include <msgpack.h>

void json_print(FILE *f, const msgpack_object *o);
/* One JSON string holding s[0..n). */
void json_print_str(FILE *f, const char *s, size_t n);

#endif

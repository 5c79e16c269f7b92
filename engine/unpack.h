/*
 * unpack.h - decoding one MessagePack object into msgpack_object form, as
 * msgpack_unpack() does, several times faster: the decoder of every WAL
 * record payload (state_apply), which a restart runs a million times.
 *
 * What it owns: nothing.  The objects it makes live in the caller's zone;
 * strings, binaries and extension payloads point into the caller's buffer
 * (as msgpack_unpack's do), which must outlive them.
 *
 * Invariant: for every input, unpack_object() succeeds exactly when
 * msgpack_unpack() returns MSGPACK_UNPACK_SUCCESS or
 * MSGPACK_UNPACK_EXTRA_BYTES, and then makes the same tree (types, values,
 * sizes, pointers into the buffer; an empty string's pointer, which
 * msgpack_unpack leaves stale or NULL, points into the buffer here);
 * tests/unit/test_unpack.c checks this
 * against msgpack_unpack on generated, mutated and random inputs.  In
 * particular a container met inside MSGPACK_EMBED_STACK_SIZE open
 * non-empty containers fails, as msgpack_unpack's stack does.
 *
 * How it fails: it returns false (bad or truncated input, or a zone out of
 * memory); what it made in the zone stays there until the zone is cleared.
 */
#ifndef BOOKD_UNPACK_H
#define BOOKD_UNPACK_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

/* Decode the object at the start of buf[0..len) into *out; bytes after it
 * are ignored.  Returns true on success. */
bool unpack_object(const char *buf, size_t len, msgpack_zone *z,
		   msgpack_object *out);

#endif

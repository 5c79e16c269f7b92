/*
 * fhdr.h - the 64-byte header that opens a log segment (wal.h) and a
 * snapshot (snapshot.h).
 *
 *   offset size  field
 *   0      8     magic (the file kind)
 *   8      4     format version
 *   12     4     header size (64)
 *   16     8     an LSN: the segment's first, or the one the snapshot holds
 *   24     8     created, Unix milliseconds
 *   32     28    the kind's own fields (zero when unused)
 *   60     4     CRC32C of bytes 0..59
 *
 * All integers little-endian.  fhdr_check says which part is wrong, so the
 * owner of the format can name it in its error.
 */
#ifndef BOOKD_FHDR_H
#define BOOKD_FHDR_H

#include <stdint.h>
#include <string.h>

#include "crc32c.h"
#include "le.h"

#define FHDR_SIZE 64u
#define FHDR_CRC  60u

/* Zero h and fill the common fields; the caller adds its own, then seals. */
static inline void fhdr_begin(unsigned char h[FHDR_SIZE], const char magic[8],
			      uint32_t version, uint64_t lsn, int64_t at_ms)
{
	memset(h, 0, FHDR_SIZE);
	memcpy(h, magic, 8);
	put32(h + 8, version);
	put32(h + 12, FHDR_SIZE);
	put64(h + 16, lsn);
	put64(h + 24, (uint64_t)at_ms);
}

static inline void fhdr_seal(unsigned char h[FHDR_SIZE])
{
	put32(h + FHDR_CRC, crc32c(0, h, FHDR_CRC));
}

enum fhdr_fault {
	FHDR_OK = 0,
	FHDR_MAGIC,   /* not this kind of file */
	FHDR_CRC_BAD, /* the header's checksum does not match */
	FHDR_VERSION, /* a version this build does not know */
	FHDR_SIZE_BAD,
};

/* Check the first FHDR_SIZE bytes of a file of length len. */
static inline enum fhdr_fault fhdr_check(const unsigned char *h, size_t len,
					 const char magic[8], uint32_t version)
{
	if (len < FHDR_SIZE || memcmp(h, magic, 8) != 0)
		return FHDR_MAGIC;
	if (crc32c(0, h, FHDR_CRC) != get32(h + FHDR_CRC))
		return FHDR_CRC_BAD;
	if (get32(h + 8) != version)
		return FHDR_VERSION;
	if (get32(h + 12) != FHDR_SIZE)
		return FHDR_SIZE_BAD;
	return FHDR_OK;
}

#endif

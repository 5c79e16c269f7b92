/*
 * num.h - whole numbers from command lines, for bookd, bookctl,
 * bookd-replay, bookd-bench and bookd-http: one parser for all of them.
 *
 * Only plain decimal digits are a number: no sign, no spaces, no "0x",
 * nothing after the digits; a value that overflows 64 bits or falls
 * outside [lo, hi] is refused.  Each program prints its own message.
 */
#ifndef BOOKD_NUM_H
#define BOOKD_NUM_H

#include <stdint.h>

/* 0 with the value in *out, or -1 (and *out untouched). */
int num_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

#endif

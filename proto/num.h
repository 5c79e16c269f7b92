/*
 * num.h - decimal numbers from command lines, parsed one way everywhere.
 *
 * The engine, its tools and the benchmark read numeric options with
 * num_parse_u64(); each prints its own message when it fails.
 */
#ifndef BOOKD_NUM_H
#define BOOKD_NUM_H

#include <stdint.h>

/* s as a whole decimal number from lo to hi (no sign, no trailing text,
 * no overflow).  Returns 0 with *out set, or -1. */
int num_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

#endif

/*
 * num.c - decimal numbers from command lines; see num.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "num.h"

int num_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || end == s || s[0] == '-' || s[0] == '+' ||
	    s[0] == ' ' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

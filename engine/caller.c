/*
 * caller.c - the principal of a request; see caller.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caller.h"
#include "ktab.h"
#include "num.h"

bool caller_visitor_ok(const char *v, size_t len)
{
	if (len < 1 || len > VISITOR_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == ':' || c == '-'))
			return false;
	}
	return true;
}

void caller_principal(char out[PRINCIPAL_MAX + 1], const char *subject,
		      uid_t uid, const char *visitor, size_t vlen)
{
	char who[72];

	if (subject[0])
		snprintf(who, sizeof(who), "%.63s", subject);
	else
		snprintf(who, sizeof(who), "uid%lu", (unsigned long)uid);
	if (visitor)
		snprintf(out, PRINCIPAL_MAX + 1, "v:%s/%.*s", who,
			 (int)(vlen > VISITOR_MAX ? VISITOR_MAX : vlen),
			 visitor);
	else if (subject[0])
		snprintf(out, PRINCIPAL_MAX + 1, "t:%s", who);
	else
		snprintf(out, PRINCIPAL_MAX + 1, "u:%lu", (unsigned long)uid);
}

static int number(const char *opt, const char *val, uint32_t lo, uint32_t hi,
		  uint32_t *out)
{
	uint64_t v;

	if (num_parse_u64(val, lo, hi, &v) < 0) {
		fprintf(stderr,
			"bookd: --%s: expected a whole number from %u to %u, "
			"got '%s'\n",
			opt, lo, hi, val);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

int caller_option(struct caller_limits *l, int opt, const char *val)
{
	switch (opt) {
	case CALLER_OPT_MAX_HOLD_MINUTES:
		return number("max-hold-minutes", val, 15, 31 * 24 * 60,
			      &l->max_hold_minutes);
	case CALLER_OPT_HOLDS_PER_CALLER:
		return number("max-holds-per-caller", val, 1, 100000,
			      &l->holds_per_caller);
	case CALLER_OPT_HOLDS_PER_RESOURCE:
		return number("max-holds-per-resource", val, 1, 10000,
			      &l->holds_per_resource);
	case CALLER_OPT_PUBLIC_REQUIRES_ET:
		if (strcmp(val, "on") == 0 || strcmp(val, "off") == 0) {
			l->public_requires_event_type = val[1] == 'n';
			return 0;
		}
		fprintf(stderr,
			"bookd: --public-requires-event-type: 'on' or 'off', "
			"got '%s'\n",
			val);
		return -1;
	case CALLER_OPT_PUBLIC_WRITES:
		return number("public-writes-per-minute", val, 0, 1000000,
			      &l->public_writes_per_minute);
	case CALLER_OPT_MAX_RESCHEDULES:
		return number("max-reschedules", val, 1, 1000,
			      &l->max_reschedules);
	default:
		return -1;
	}
}

/* Thousandths of a token gained since the bucket was last seen (a full
 * minute refills it whole, so longer gaps need not be counted). */
static int64_t refill(const struct kent *e, uint32_t per_minute, int64_t now_ms)
{
	int64_t dt = now_ms - e->t;

	if (dt < 0)
		dt = 0;
	if (dt > 60000)
		dt = 60000;
	return dt * per_minute * 1000 / 60000;
}

int64_t caller_rate_take(struct ktab *buckets, const char *principal,
			 uint32_t per_minute, int64_t now_ms)
{
	/* Tokens are counted in thousandths, so one minute refills
	 * per_minute * 1000 of them: one per millisecond per write a
	 * minute. */
	const int64_t full = (int64_t)per_minute * 1000;
	struct kent *e;
	int64_t tokens;

	if (per_minute == 0)
		return 0;
	e = ktab_add(buckets, principal, strlen(principal));
	if (e->t == 0) {
		e->n = full;
		e->t = now_ms;
	}
	tokens = e->n + refill(e, per_minute, now_ms);
	if (tokens > full)
		tokens = full;
	e->t = now_ms;
	if (tokens < 1000) {
		e->n = tokens;
		/* Milliseconds until the bucket holds a whole token. */
		return ((1000 - tokens) * 60000 + (int64_t)per_minute * 1000 -
			1) /
		       ((int64_t)per_minute * 1000);
	}
	e->n = tokens - 1000;
	return 0;
}

/* Drop the buckets that are full again: they say nothing a fresh one
 * would not. */
void caller_rate_sweep(struct ktab *buckets, uint32_t per_minute,
		       int64_t now_ms)
{
	const int64_t full = (int64_t)per_minute * 1000;

	for (size_t i = 0; i < buckets->nb; i++) {
		struct kent *e = buckets->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			if (e->n + refill(e, per_minute, now_ms) >= full)
				ktab_del(buckets, e);
		}
	}
}

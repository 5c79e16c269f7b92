/*
 * zone.c - which time zone bookctl reads and shows a resource's times in.
 *
 * People think of a studio's hours in the studio's own zone, so without
 * --tz (or $BOOKD_TZ) a command asks the engine for the resource's
 * timezone (resource.get) and uses it both to read START and DATE and to
 * print every time, always with the zone's name.  Answers are cached for
 * the life of the process: listing many bookings costs one resource.list
 * (zone_load_all), not one call per row.
 *
 * Failure: a resource the engine does not know is reported like any
 * refusal (it would be refused anyway); for output, an unknown resource
 * falls back to the booking's own zone, then UTC, and the zone printed
 * beside each time says which was used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookctl.h"
#include "wire.h"

struct zone_entry {
	char *id;
	const struct tz *tz;
};

static struct zone_entry *cache;
static size_t ncache, capcache;

static const struct tz *cached(const char *id)
{
	for (size_t i = 0; i < ncache; i++)
		if (strcmp(cache[i].id, id) == 0)
			return cache[i].tz;
	return NULL;
}

/* Remember a resource record's zone under id (the record's own id when
 * NULL); a record without a usable zone counts as UTC, the engine's
 * default. */
static const struct tz *remember(const msgpack_object *r, const char *id)
{
	const msgpack_object *tzo = wire_get(r, "timezone");
	const struct tz *tz = NULL;
	char name[128], rid[128];

	if (wire_cstr(tzo, name, sizeof name) < 0 || tz_get(name, &tz) < 0)
		tz_get("UTC", &tz);
	if (id)
		snprintf(rid, sizeof rid, "%s", id);
	else if (wire_cstr(wire_get(r, "id"), rid, sizeof rid) < 0)
		return tz;
	if (tz == NULL || cached(rid))
		return tz;
	if (ncache == capcache) {
		size_t cap = capcache ? capcache * 2 : 16;
		struct zone_entry *p = reallocarray(cache, cap, sizeof *p);

		if (p == NULL)
			return tz;
		cache = p;
		capcache = cap;
	}
	cache[ncache].id = strdup(rid);
	if (cache[ncache].id == NULL)
		return tz;
	cache[ncache++].tz = tz;
	return tz;
}

static int lookup(struct ctx *x, const char *resource, const struct tz **out)
{
	const msgpack_object *r;
	bookd_args *a;
	int rc;

	if ((*out = cached(resource)) != NULL)
		return 0;
	if ((a = bookd_args_new()) == NULL)
		return BOOKD_E_NOMEM;
	bookd_args_str(a, "id", resource);
	rc = bookd_call_args(x->c, "resource.get", a, &r);
	bookd_args_free(a);
	if (rc < 0)
		return rc;
	*out = remember(r, resource);
	return *out ? 0 : BOOKD_E_PROTO;
}

int zone_of(struct ctx *x, const char *resource, const struct tz **out)
{
	int rc;

	if (x->tz_fixed) {
		*out = x->tz;
		return 0;
	}
	rc = lookup(x, resource, out);
	return rc < 0 ? bookctl_fail(x, rc) : 0;
}

const struct tz *zone_known(struct ctx *x, const char *resource,
			    const char *fallback)
{
	const struct tz *tz = NULL;

	if (x->tz_fixed)
		return x->tz;
	if (resource && (tz = cached(resource)) != NULL)
		return tz;
	if (fallback && *fallback && tz_get(fallback, &tz) == 0)
		return tz;
	return tz_get("UTC", &tz) == 0 ? tz : x->tz;
}

const struct tz *zone_show(struct ctx *x, const char *resource,
			   const char *fallback)
{
	const struct tz *tz = NULL;

	if (!x->tz_fixed && resource && lookup(x, resource, &tz) == 0)
		return tz;
	if (bookd_broken(x->c))
		return NULL;
	return zone_known(x, resource, fallback);
}

int zone_load_all(struct ctx *x)
{
	const msgpack_object *r;
	int rc;

	if (x->tz_fixed)
		return 0;
	rc = bookd_call_args(x->c, "resource.list", NULL, &r);
	if (rc < 0)
		return bookctl_fail(x, rc);
	for (uint32_t i = 0;
	     r->type == MSGPACK_OBJECT_ARRAY && i < r->via.array.size; i++)
		remember(&r->via.array.ptr[i], NULL);
	return 0;
}

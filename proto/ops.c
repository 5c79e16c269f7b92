/*
 * ops.c - the operation table expanded into data, and argument validation.
 *
 * Everything here derives from BOOKD_OPS and ARGS_* in ops.h; see there.
 */
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "quanta.h"
#include "wire.h"

#define SPEC_X(field, type, req, max) {#field, ARG_##field, type, req, max},
#define OP_ARGS_X(ident, wire, role, flags)                                    \
	static const struct arg_spec args_##ident[] = {                        \
	    ARGS_##ident(SPEC_X){NULL, 0, 0, 0, 0}};
BOOKD_OPS(OP_ARGS_X)
#undef OP_ARGS_X

#define OP_SPEC_X(ident, wire, role, flags)                                    \
	[OP_##ident] = {wire, role, flags,                                     \
			sizeof(args_##ident) / sizeof(args_##ident[0]) - 1,    \
			args_##ident},
const struct op_spec proto_ops[OP__COUNT] = {BOOKD_OPS(OP_SPEC_X)};
#undef OP_SPEC_X

static const struct arg_spec booker_args[] = {ARGS_booker(SPEC_X)};
const struct sub_spec proto_booker = {
    "booker", sizeof(booker_args) / sizeof(booker_args[0]), booker_args};

int proto_op_lookup(const char *name, size_t len)
{
	for (int i = 0; i < OP__COUNT; i++) {
		const char *n = proto_ops[i].name;
		if (strlen(n) == len && memcmp(n, name, len) == 0)
			return i;
	}
	return -1;
}

static const char *type_name(int t)
{
	switch (t) {
	case T_STR:
	case T_TEXT:
	case T_SLUG:
	case T_DATE:
	case T_EMAIL:
		return "a string";
	case T_UINT:
	case T_MINUTES:
		return "a non-negative integer";
	case T_INT:
	case T_INSTANT:
		return "an integer";
	case T_BOOL:
		return "a boolean";
	case T_MAP:
		return "a map";
	case T_ARR:
		return "an array";
	default:
		return "a value";
	}
}

static int type_ok(const struct arg_spec *s, const msgpack_object *o)
{
	switch (s->type) {
	case T_STR:
	case T_TEXT:
	case T_SLUG:
	case T_DATE:
	case T_EMAIL:
		return o->type == MSGPACK_OBJECT_STR;
	case T_UINT:
	case T_MINUTES:
		return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
	case T_INT:
	case T_INSTANT:
		return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
		       o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
	case T_BOOL:
		return o->type == MSGPACK_OBJECT_BOOLEAN;
	case T_MAP:
		return o->type == MSGPACK_OBJECT_MAP;
	case T_ARR:
		return o->type == MSGPACK_OBJECT_ARRAY;
	default:
		return 1;
	}
}

bool proto_slug_ok(const char *p, size_t n)
{
	if (n < 1 || n > PROTO_SLUG_MAX)
		return false;
	if (!((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= '0' && p[0] <= '9')))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool is_str(const struct arg_spec *s)
{
	return s->type == T_STR || s->type == T_TEXT || s->type == T_SLUG ||
	       s->type == T_DATE || s->type == T_EMAIL;
}

/* What the semantic type says beyond the wire type: NULL when v is fine,
 * else the problem, for "<field>: <problem>". */
static const char *semantic_problem(const struct arg_spec *s,
				    const msgpack_object *v)
{
	int64_t t, day;

	switch (s->type) {
	case T_SLUG:
		return proto_slug_ok(v->via.str.ptr, v->via.str.size)
			   ? NULL
			   : "a slug: [a-z0-9][a-z0-9._-]{0,62}";
	case T_DATE:
		return q_parse_date(v->via.str.ptr, v->via.str.size, &day) < 0
			   ? "not a date (YYYY-MM-DD)"
			   : NULL;
	case T_EMAIL:
		return memchr(v->via.str.ptr, '@', v->via.str.size) == NULL ||
			       memchr(v->via.str.ptr, ' ', v->via.str.size)
			   ? "not an email address"
			   : NULL;
	case T_INSTANT:
		if (!wire_int(v, &t))
			return "out of range";
		return q_aligned(t) ? NULL
				    : "not a multiple of 900 seconds (15 "
				      "minutes)";
	case T_MINUTES:
		return v->via.u64 == 0 || v->via.u64 % Q_MINUTES ||
			       v->via.u64 > s->max
			   ? "minutes, a positive multiple of 15 (at most 31 "
			     "days)"
			   : NULL;
	default:
		return NULL;
	}
}

/* Check one present value against its spec; the error names the field as
 * <prefix><name> (made only for an error: a valid value costs no
 * formatting). */
static int check_value(const struct arg_spec *s, const msgpack_object *v,
		       const char *prefix, struct proto_error *e)
{
	char field[64], buf[64];
	const char *why = NULL;
	int text;

	if (!type_ok(s, v)) {
		snprintf(buf, sizeof(buf), "must be %s", type_name(s->type));
		why = buf;
	} else if (is_str(s) &&
		   v->via.str.size > (s->max ? s->max : PROTO_MAX_STR)) {
		snprintf(buf, sizeof(buf), "longer than %u bytes",
			 s->max ? s->max : PROTO_MAX_STR);
		why = buf;
	} else if (s->type == T_ARR &&
		   v->via.array.size > (s->max ? s->max : PROTO_MAX_ITEMS)) {
		snprintf(buf, sizeof(buf), "more than %u items",
			 s->max ? s->max : PROTO_MAX_ITEMS);
		why = buf;
	} else {
		/* Every string a request carries is text a person or a
		 * client will read back: checked here, once, for all.  A
		 * map (booker) is checked by its sub-schema. */
		text = is_str(s)
			   ? wire_text_check(v->via.str.ptr, v->via.str.size,
					     s->type == T_TEXT)
		       : s->type == T_MAP ? 0
					  : wire_text_check_all(v);
		why = text ? wire_text_problem(text) : semantic_problem(s, v);
	}
	if (why == NULL)
		return 0;
	snprintf(field, sizeof(field), "%s%s", prefix, s->name);
	return proto_err_set(e, BOOKD_E_BAD_REQUEST, field, "%s", why);
}

/* An unknown argument.  The message quotes the key (at most 64 bytes); the
 * error names it as its field when it can be one: the key's text before any
 * colon, 1 to 63 bytes without a space.  `op` NULL: a sub-schema's key,
 * named <prefix><key>. */
static int unknown_key(struct proto_error *e, const msgpack_object *k,
		       const char *op, const char *prefix)
{
	int n = (int)(k->via.str.size > 64 ? 64 : k->via.str.size);
	size_t f;

	/* A key that is not text is not quoted back. */
	if (wire_text_check(k->via.str.ptr, (size_t)n, false)) {
		if (op == NULL)
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, NULL,
					     "%.*s: an unknown field (its name "
					     "is not valid text)",
					     (int)strcspn(prefix, "."), prefix);
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "args",
				     "an unknown field for %s (its name is not "
				     "valid text)",
				     op);
	}
	if (op == NULL) {
		char field[64];
		snprintf(field, sizeof(field), "%s%.*s", prefix,
			 n > 32 ? 32 : n, k->via.str.ptr);
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, field,
				     "unknown field");
	}
	proto_err_set(e, BOOKD_E_BAD_REQUEST, NULL,
		      "%.*s: unknown field for %s", n, k->via.str.ptr, op);
	f = strcspn(e->msg, ": ");
	if (e->msg[f] == ':' && f > 0 && f < sizeof(e->field)) {
		memcpy(e->field, e->msg, f);
		e->field[f] = 0;
	}
	return e->code;
}

/* The walk both validators share: op names the op of a request's args, or
 * is NULL for a sub-schema whose fields are named <prefix><name>. */
static int validate_map(const struct arg_spec *args, int nargs, const char *op,
			const char *prefix, const msgpack_object *map,
			const msgpack_object *out[ARG__COUNT],
			struct proto_error *e)
{
	char field[64];

	for (uint32_t i = 0; map && i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		const msgpack_object *v = &map->via.map.ptr[i].val;
		const struct arg_spec *s = NULL;

		if (k->type != MSGPACK_OBJECT_STR) {
			if (op == NULL) {
				snprintf(field, sizeof(field), "%.*s",
					 (int)strcspn(prefix, "."), prefix);
				return proto_err_set(e, BOOKD_E_BAD_REQUEST,
						     field,
						     "keys must be strings");
			}
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, "args",
					     "keys must be strings");
		}
		for (int j = 0; j < nargs; j++) {
			const char *n = args[j].name;
			if (strlen(n) == k->via.str.size &&
			    memcmp(n, k->via.str.ptr, k->via.str.size) == 0) {
				s = &args[j];
				break;
			}
		}
		if (s == NULL)
			return unknown_key(e, k, op, prefix);
		if (out[s->field]) {
			snprintf(field, sizeof(field), "%s%s", prefix, s->name);
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, field,
					     "given twice");
		}
		if (s->type != T_ANY && !s->required &&
		    v->type == MSGPACK_OBJECT_NIL)
			continue; /* an explicit nil means "absent" */
		if (check_value(s, v, prefix, e))
			return e->code;
		out[s->field] = v;
	}
	for (int j = 0; j < nargs; j++) {
		if (args[j].required && !out[args[j].field]) {
			snprintf(field, sizeof(field), "%s%s", prefix,
				 args[j].name);
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, field,
					     "required");
		}
	}
	return 0;
}

int proto_validate_args(int op, const msgpack_object *args,
			const msgpack_object *out[ARG__COUNT],
			struct proto_error *e)
{
	const struct op_spec *spec = &proto_ops[op];

	memset(out, 0, sizeof(out[0]) * ARG__COUNT);
	if (args && args->type == MSGPACK_OBJECT_NIL)
		args = NULL;
	if (args && args->type != MSGPACK_OBJECT_MAP)
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "args",
				     "must be a map");
	return validate_map(spec->args, spec->nargs, spec->name, "", args, out,
			    e);
}

int proto_validate_sub(const struct sub_spec *sub, const msgpack_object *map,
		       const msgpack_object *out[ARG__COUNT],
		       struct proto_error *e)
{
	char prefix[40];

	memset(out, 0, sizeof(out[0]) * ARG__COUNT);
	snprintf(prefix, sizeof(prefix), "%s.", sub->name);
	if (map->type != MSGPACK_OBJECT_MAP)
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, sub->name,
				     "must be a map");
	return validate_map(sub->args, sub->nargs, NULL, prefix, map, out, e);
}

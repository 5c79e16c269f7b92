/*
 * ops.c - the operation table expanded into data, and argument validation.
 *
 * Everything here derives from BOOKD_OPS and ARGS_* in ops.h; see there.
 */
#include <stdio.h>
#include <string.h>

#include "ops.h"
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
		return "a string";
	case T_UINT:
		return "a non-negative integer";
	case T_INT:
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
		return o->type == MSGPACK_OBJECT_STR;
	case T_UINT:
		return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
	case T_INT:
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

/* An unknown argument.  The message quotes the key (at most 64 bytes); the
 * error names it as its field when it can be one: the key's text before any
 * colon, 1 to 63 bytes without a space. */
static int unknown_key(struct proto_error *e, const msgpack_object *k,
		       const char *op)
{
	int n = (int)(k->via.str.size > 64 ? 64 : k->via.str.size);
	size_t f;

	/* A key that is not text is not quoted back. */
	if (wire_text_check(k->via.str.ptr, (size_t)n, false))
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "args",
				     "an unknown field for %s (its name is not "
				     "valid text)",
				     op);

	proto_err_set(e, BOOKD_E_BAD_REQUEST, NULL,
		      "%.*s: unknown field for %s", n, k->via.str.ptr, op);
	f = strcspn(e->msg, ": ");
	if (e->msg[f] == ':' && f > 0 && f < sizeof(e->field)) {
		memcpy(e->field, e->msg, f);
		e->field[f] = 0;
	}
	return e->code;
}

int proto_validate_args(int op, const msgpack_object *args,
			const msgpack_object *out[ARG__COUNT],
			struct proto_error *e)
{
	const struct op_spec *spec = &proto_ops[op];

	memset(out, 0, sizeof(out[0]) * ARG__COUNT);
	if (args && args->type == MSGPACK_OBJECT_NIL)
		args = NULL;
	if (args && args->type != MSGPACK_OBJECT_MAP) {
		return proto_err_set(e, BOOKD_E_BAD_REQUEST, "args",
				     "must be a map");
	}
	for (uint32_t i = 0; args && i < args->via.map.size; i++) {
		const msgpack_object *k = &args->via.map.ptr[i].key;
		const msgpack_object *v = &args->via.map.ptr[i].val;
		const struct arg_spec *s = NULL;
		int text;

		if (k->type != MSGPACK_OBJECT_STR) {
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, "args",
					     "keys must be strings");
		}
		for (int j = 0; j < spec->nargs; j++) {
			const char *n = spec->args[j].name;
			if (strlen(n) == k->via.str.size &&
			    memcmp(n, k->via.str.ptr, k->via.str.size) == 0) {
				s = &spec->args[j];
				break;
			}
		}
		if (s == NULL) {
			return unknown_key(e, k, spec->name);
		}
		if (out[s->field]) {
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, s->name,
					     "given twice");
		}
		if (s->type != T_ANY && !s->required &&
		    v->type == MSGPACK_OBJECT_NIL)
			continue; /* an explicit nil means "absent" */
		if (!type_ok(s, v)) {
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, s->name,
					     "must be %s", type_name(s->type));
		}
		if ((s->type == T_STR || s->type == T_TEXT) &&
		    v->via.str.size > (s->max ? s->max : PROTO_MAX_STR)) {
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, s->name,
					     "longer than %u bytes",
					     s->max ? s->max : PROTO_MAX_STR);
		}
		if (s->type == T_ARR &&
		    v->via.array.size > (s->max ? s->max : PROTO_MAX_ITEMS)) {
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, s->name,
					     "more than %u items",
					     s->max ? s->max : PROTO_MAX_ITEMS);
		}
		/* Every string a request carries is text a person or a
		 * client will read back: checked here, once, for all. */
		text = s->type == T_STR
			   ? wire_text_check(v->via.str.ptr, v->via.str.size,
					     false)
			   : wire_text_check_all(v);
		if (text)
			return proto_err_set(e, BOOKD_E_BAD_REQUEST, s->name,
					     "%s", wire_text_problem(text));
		out[s->field] = v;
	}
	for (int j = 0; j < spec->nargs; j++) {
		if (spec->args[j].required && !out[spec->args[j].field]) {
			return proto_err_set(e, BOOKD_E_BAD_REQUEST,
					     spec->args[j].name, "required");
		}
	}
	return 0;
}

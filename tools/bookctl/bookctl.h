/*
 * bookctl.h - what the parts of bookctl share: the parsed command line,
 * the exit codes, and the helpers commands use to call the engine and
 * report.
 *
 * main.c parses the command line into a struct ctx, checks the command's
 * argument counts and options, connects, and runs the command; commands.c
 * holds one function per command; out.c prints results for people and
 * reports errors.
 *
 * Exit codes: BOOKCTL_OK; BOOKCTL_REFUSED when the engine answered with an
 * error; BOOKCTL_USAGE for a bad command line; BOOKCTL_CONN when the engine
 * could not be reached or the connection failed.
 */
#ifndef BOOKCTL_H
#define BOOKCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "bookd.h"
#include "tz.h"

enum {
	BOOKCTL_OK = 0,
	BOOKCTL_REFUSED = 1,
	BOOKCTL_USAGE = 2,
	BOOKCTL_CONN = 3,
};

/* The per-command options, X(ident, "name", "metavar"). */
#define BOOKCTL_OPTS(X)                                                        \
	X(name, "name", "NAME")                                                \
	X(kind, "kind", "KIND")                                                \
	X(quantity, "quantity", "N")                                           \
	X(timezone, "timezone", "ZONE")                                        \
	X(email, "email", "EMAIL")                                             \
	X(phone, "phone", "PHONE")                                             \
	X(notes, "notes", "TEXT")                                              \
	X(note, "note", "TEXT")                                                \
	X(key, "key", "KEY")                                                   \
	X(session, "session", "SESSION")                                       \
	X(status, "status", "STATUS")                                          \
	X(reason, "reason", "TEXT")                                            \
	X(resource, "resource", "ID")                                          \
	X(limit, "limit", "N")                                                 \
	X(after, "after", "N")                                                 \
	X(duration, "duration", "MINUTES")                                     \
	X(interval, "interval", "MINUTES")                                     \
	X(count, "count", "N")                                                 \
	X(role, "role", "ROLE")                                                \
	X(subject, "subject", "NAME")                                          \
	X(ttl, "ttl", "SECONDS")

enum opt_id {
#define OPT_ENUM(ident, name, meta) OPT_##ident,
	BOOKCTL_OPTS(OPT_ENUM)
#undef OPT_ENUM
	    OPT__COUNT
};

#define OPTBIT(ident) (1u << OPT_##ident)

struct ctx {
	const char *cmd;     /* the command's name, e.g. "resource add" */
	const char *socket;  /* --socket, or NULL for the library default */
	bool json;	     /* --json */
	const struct tz *tz; /* --tz, or NULL for UTC */
	bookd_conn *c;
	int argc; /* the command's positional arguments */
	char **argv;
	const char *opt[OPT__COUNT]; /* option values, NULL when absent */
};

/* A failed call: print it and return BOOKCTL_REFUSED for an error from the
 * engine, BOOKCTL_CONN for a failed connection. */
int bookctl_fail(struct ctx *x, int rc);
/* A bad command line: print "bookctl: <message>" and return
 * BOOKCTL_USAGE. */
int bookctl_usage(struct ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* out.c: human output. */
void out_json(const msgpack_object *o);
void out_resource(struct ctx *x, const msgpack_object *r, bool detail);
void out_resource_table(struct ctx *x, const msgpack_object *list);
int out_booking(struct ctx *x, const msgpack_object *o);
void out_booking_table(struct ctx *x, const msgpack_object *list);
void out_map_lines(const msgpack_object *m);
/* A string object into buf, escaped for a terminal (text.h); "" when not a
 * string. */
const char *out_str(const msgpack_object *o, char *buf, size_t len);
/* A C string to stdout, escaped for a terminal. */
void out_text(const char *s);

/* cmd_notify.c: webhooks and the notifier. */
int cmd_hook_add(struct ctx *x);
int cmd_hook_list(struct ctx *x);
int cmd_hook_rm(struct ctx *x);
int cmd_notify_status(struct ctx *x);

/* commands.c: one function per command. */
int cmd_resource_add(struct ctx *x);
int cmd_resource_list(struct ctx *x);
int cmd_resource_show(struct ctx *x);
int cmd_resource_active(struct ctx *x);
int cmd_book(struct ctx *x);
int cmd_day(struct ctx *x);
int cmd_check(struct ctx *x);
int cmd_hold(struct ctx *x);
int cmd_release(struct ctx *x);
int cmd_cancel(struct ctx *x);
int cmd_show(struct ctx *x);
int cmd_list(struct ctx *x);
int cmd_transition(struct ctx *x);
int cmd_reschedule(struct ctx *x);
int cmd_stats(struct ctx *x);
int cmd_ping(struct ctx *x);
int cmd_events(struct ctx *x);
int cmd_watch(struct ctx *x);
int cmd_call(struct ctx *x);
int cmd_token(struct ctx *x);

#endif

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

/* The per-command options, X(ident, "name", "metavar"); a NULL metavar
 * makes a flag that takes no value (its value reads "1"). */
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
	X(ttl, "ttl", "SECONDS")                                               \
	X(title, "title", "TEXT")                                              \
	X(lengths, "lengths", "MINUTES,...")                                   \
	X(resources, "resources", "ID,...")                                    \
	X(buffer_before, "buffer-before", "MINUTES")                           \
	X(buffer_after, "buffer-after", "MINUTES")                             \
	X(min_notice, "min-notice", "MINUTES")                                 \
	X(max_future, "max-future", "MINUTES")                                 \
	X(confirm, "confirm", NULL)                                            \
	X(inactive, "inactive", NULL)                                          \
	X(keep, "keep", NULL)                                                  \
	X(from, "from", "DATE")                                                \
	X(to, "to", "DATE")                                                    \
	X(public, "public", NULL)                                              \
	X(domain, "domain", "DOMAIN")                                          \
	X(holidays, "holidays", "ID,...")                                      \
	X(schedule, "schedule", "ID")                                          \
	X(file, "file", "PATH")

enum opt_id {
#define OPT_ENUM(ident, name, meta) OPT_##ident,
	BOOKCTL_OPTS(OPT_ENUM)
#undef OPT_ENUM
	    OPT__COUNT
};

#define OPTBIT(ident) ((uint64_t)1 << OPT_##ident)

struct ctx {
	const char *cmd;    /* the command's name, e.g. "resource add" */
	const char *socket; /* --socket, or NULL for the library default */
	bool json;	    /* --json */
	/* The zone times are read and shown in: --tz or $BOOKD_TZ when
	 * tz_fixed, else set per command to the resource's own (zone.c). */
	const struct tz *tz;
	bool tz_fixed;
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

/* zone.c: the resource's time zone, looked up once per resource. */
/* The zone for RESOURCE's times (x->tz when tz_fixed): 0, or an exit code
 * after reporting why it could not be learnt.  Replaces the connection's
 * last result. */
int zone_of(struct ctx *x, const char *resource, const struct tz **out);
/* The same for output, which must not fail: fallback (a zone name, may be
 * NULL), then UTC, when the resource cannot be looked up. */
const struct tz *zone_show(struct ctx *x, const char *resource,
			   const char *fallback);
/* The same from what is already known, with no call (while a result is
 * still in use); never NULL. */
const struct tz *zone_known(struct ctx *x, const char *resource,
			    const char *fallback);
/* Learn every resource's zone with one resource.list (before listing
 * bookings of many resources).  0, or an exit code after reporting. */
int zone_load_all(struct ctx *x);

/* out.c: human output. */
void out_json(const msgpack_object *o);
void out_resource(struct ctx *x, const msgpack_object *r, bool detail);
void out_resource_table(struct ctx *x, const msgpack_object *list);
/* A booking's card, its times in its first resource's zone. */
void out_booking(struct ctx *x, const struct bookd_booking *b);
void out_schedule(const msgpack_object *s);
void out_event_type(const msgpack_object *e, bool detail);
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
int cmd_delete(struct ctx *x);
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
int cmd_schedule_show(struct ctx *x);
int cmd_schedule_list(struct ctx *x);
int cmd_schedule_set(struct ctx *x);
/* The windows of HOURS ("closed", or HH:MM-HH:MM[,...]) as {start, end}
 * maps (with "day" when as_weekly) into the array being built in a; -1
 * when they cannot be read. */
int schedule_add_windows(bookd_args *a, const char *hours, bool as_weekly,
			 int day);

/* cmd_holidays.c: holiday calendars, deleting shared schedules, --file. */
/* schedule.put from the JSON object in --file, with id argv[0]; 0 with
 * its result in *r, or an exit code after reporting. */
int schedule_set_file(struct ctx *x, const msgpack_object **r);
int cmd_schedule_delete(struct ctx *x);
int cmd_schedule_use(struct ctx *x);
int cmd_holidays_list(struct ctx *x);
int cmd_holidays_show(struct ctx *x);
int cmd_holidays_set(struct ctx *x);
int cmd_holidays_delete(struct ctx *x);
int cmd_event_type_list(struct ctx *x);
int cmd_event_type_show(struct ctx *x);
int cmd_event_type_set(struct ctx *x);
int cmd_ical(struct ctx *x);

#endif

/*
 * main.c - bookctl's command line: global options, the command table, help,
 * and the connection.  See bookctl.h for how the parts fit.
 *
 * Options may come before or after the command; "--" ends them.  Every
 * command states its positional argument counts and the options it takes,
 * so a misspelt or misplaced option is a usage error (exit 2) before
 * anything is sent.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bookctl.h"

#define MAX_POS 32

struct command {
	const char *name; /* one or two words */
	const char *args; /* synopsis of the positional arguments */
	uint64_t opts;	  /* OPTBIT()s of the options it takes */
	int min, max;	  /* positional argument counts */
	int (*run)(struct ctx *x);
	const char *help;
	bool offline; /* needs no connection to the engine */
};

static const struct {
	const char *name;
	const char *meta;
} opt_names[OPT__COUNT] = {
#define OPT_NAME(ident, name, meta) [OPT_##ident] = {name, meta},
    BOOKCTL_OPTS(OPT_NAME)
#undef OPT_NAME
};

#define BOOKER                                                                 \
	(OPTBIT(name) | OPTBIT(email) | OPTBIT(phone) | OPTBIT(notes) |        \
	 OPTBIT(key) | OPTBIT(session) | OPTBIT(status) | OPTBIT(note))

static const struct command commands[] = {
    {"resource add", "ID",
     OPTBIT(name) | OPTBIT(kind) | OPTBIT(quantity) | OPTBIT(timezone) |
	 OPTBIT(schedule),
     1, 1, cmd_resource_add,
     "Create a resource: a studio, a room, or with --quantity N a pool of\n"
     "N interchangeable units.  --timezone sets the zone its dates are\n"
     "read in (default UTC); --schedule makes it use a shared schedule."},
    {"resource list", "", 0, 0, 0, cmd_resource_list, "List resources."},
    {"resource show", "ID", 0, 1, 1, cmd_resource_show, "Show one resource."},
    {"resource disable", "ID", 0, 1, 1, cmd_resource_active,
     "Deactivate a resource: nothing new can be booked or held on it."},
    {"resource enable", "ID", 0, 1, 1, cmd_resource_active,
     "Activate a resource again."},
    {"resource delete", "ID", 0, 1, 1, cmd_delete,
     "Delete a resource that no booking from now on uses: it is archived,\n"
     "not erased (inactive for good; past bookings keep naming it)."},
    {"book", "RESOURCE[,RESOURCE...] START DURATION", BOOKER, 3, 3, cmd_book,
     "Book one or several resources at once (all or nothing).  Write\n"
     "ID:N for N units of a pool.  START is 2026-12-14T10:00 in the\n"
     "resource's time zone (or the --tz zone); DURATION is 2h, 90m or 1h30m.  "
     "--name and --email\n"
     "are required.  --session consumes that session's hold; --key makes\n"
     "a retry return the first booking instead of booking twice;\n"
     "--status pending asks for confirmation."},
    {"day", "RESOURCE DATE",
     OPTBIT(duration) | OPTBIT(interval) | OPTBIT(session), 2, 2, cmd_day,
     "Show the starts of DATE (YYYY-MM-DD) on which a booking of\n"
     "--duration minutes (default 60) fits, each \"available\" or\n"
     "\"reserved\" (another session holds part of it), in time order."},
    {"check", "RESOURCE START DURATION", OPTBIT(session), 3, 3, cmd_check,
     "Say whether the span is free, and if not why."},
    {"hold", "RESOURCE START DURATION", OPTBIT(session) | OPTBIT(keep), 3, 3,
     cmd_hold,
     "Hold the span for --session (required) while a form is filled in.\n"
     "The hold expires unless renewed by holding the same span again;\n"
     "with --keep, bookctl renews it every half TTL until Ctrl-C, then\n"
     "releases it."},
    {"release", "RESOURCE", OPTBIT(session), 1, 1, cmd_release,
     "Release --session's hold on RESOURCE."},
    {"cancel", "REF|ID", OPTBIT(reason), 1, 1, cmd_cancel,
     "Cancel a booking; its time is free again at once."},
    {"show", "REF|ID", 0, 1, 1, cmd_show, "Show a booking and its history."},
    {"list", "",
     OPTBIT(resource) | OPTBIT(limit) | OPTBIT(status) | OPTBIT(after) |
	 OPTBIT(email),
     0, 0, cmd_list,
     "List bookings, oldest first; --after ID continues a listing.\n"
     "--email lists one booker's bookings (any case)."},
    {"confirm", "ID", OPTBIT(reason), 1, 1, cmd_transition,
     "Confirm a pending booking."},
    {"decline", "ID", OPTBIT(reason), 1, 1, cmd_transition,
     "Decline a pending booking; its time is free again."},
    {"complete", "ID", OPTBIT(reason), 1, 1, cmd_transition,
     "Mark a confirmed booking completed."},
    {"no-show", "ID", OPTBIT(reason), 1, 1, cmd_transition,
     "Mark a confirmed booking as a no-show."},
    {"reschedule", "REF|ID START DURATION", 0, 3, 3, cmd_reschedule,
     "Move a booking; if the new span is not free nothing changes."},
    {"stats", "", 0, 0, 0, cmd_stats, "Show the engine's counters."},
    {"ping", "", 0, 0, 0, cmd_ping, "Check that the engine answers."},
    {"events", "", OPTBIT(after) | OPTBIT(limit), 0, 0, cmd_events,
     "Show the durable feed of booking events after LSN --after."},
    {"watch", "RESOURCE DATE [DATE2]", OPTBIT(count), 2, 3, cmd_watch,
     "Print one line per change of RESOURCE's bookings (slots) or holds\n"
     "on DATE (through DATE2) until interrupted, or until --count\n"
     "changes."},
    {"schedule list", "", 0, 0, 0, cmd_schedule_list,
     "List the resources that have open hours and the shared schedules,\n"
     "with their hours in their zones."},
    {"schedule show", "ID", 0, 1, 1, cmd_schedule_show,
     "Show a resource's or a shared schedule's open hours (weekly windows,\n"
     "dated overrides, holiday calendars, and who uses a shared one)."},
    {"schedule set", "ID [ZONE RULE...]", OPTBIT(holidays) | OPTBIT(file), 1,
     28, cmd_schedule_set,
     "Set a resource's open hours, or with an ID that is no resource's\n"
     "create or replace that shared schedule (resources use it with\n"
     "resource.update {schedule: ID}, and change with it).  Hours are read\n"
     "in ZONE.  Each RULE is DAYS=HOURS: DAYS is mon..sun, a range\n"
     "mon-fri, or a date 2026-12-24; HOURS is 09:00-17:00, several joined\n"
     "by commas, or 'closed'.  A date's rule replaces that day's hours.\n"
     "--holidays includes holiday calendars (their dates replace the\n"
     "weekly hours; the schedule's own dated rules win over them).  --file\n"
     "reads the whole schedule, schedule.put's JSON object, instead.  e.g.\n"
     "  bookctl schedule set studio-hours Europe/Berlin mon-fri=09:00-18:00 "
     "\\\n"
     "      sat=10:00-14:00 2026-12-24=closed --holidays de-be-2027"},
    {"schedule use", "RESOURCE ID", 0, 2, 2, cmd_schedule_use,
     "Make a resource use the shared schedule ID (it changes with it)."},
    {"schedule delete", "ID", 0, 1, 1, cmd_schedule_delete,
     "Delete a shared schedule no resource uses."},
    {"holidays list", "", 0, 0, 0, cmd_holidays_list,
     "List holiday calendars: their dates and how many schedules include\n"
     "them."},
    {"holidays show", "ID", 0, 1, 1, cmd_holidays_show,
     "Show a holiday calendar's dates."},
    {"holidays set", "ID [DATE[=HOURS]...]", OPTBIT(name) | OPTBIT(file), 1,
     401, cmd_holidays_set,
     "Create or replace a holiday calendar: DATE alone (or DATE=closed)\n"
     "closes that date all day, DATE=10:00-14:00 opens it only then.\n"
     "Dates and hours are local to each schedule including the calendar;\n"
     "every one of them changes with it.  --file reads holidays.put's\n"
     "JSON object (or just its dates array) instead.  e.g.\n"
     "  bookctl holidays set de-be-2027 --name 'Berlin 2027' 2027-01-01 \\\n"
     "      2027-12-24=10:00-14:00 2027-12-25 2027-12-26"},
    {"holidays delete", "ID", 0, 1, 1, cmd_holidays_delete,
     "Delete a holiday calendar no schedule includes."},
    {"event-type list", "", 0, 0, 0, cmd_event_type_list,
     "List event types: what a booker picks, its lengths and resources."},
    {"event-type show", "ID", 0, 1, 1, cmd_event_type_show,
     "Show one event type."},
    {"event-type delete", "ID", 0, 1, 1, cmd_delete,
     "Delete an event type that no booking from now on uses (archived:\n"
     "inactive for good, past bookings keep naming it)."},
    {"event-type set", "ID",
     OPTBIT(title) | OPTBIT(lengths) | OPTBIT(resources) | OPTBIT(interval) |
	 OPTBIT(buffer_before) | OPTBIT(buffer_after) | OPTBIT(min_notice) |
	 OPTBIT(max_future) | OPTBIT(confirm) | OPTBIT(inactive),
     1, 1, cmd_event_type_set,
     "Create or replace an event type.  --title, --lengths (minutes, e.g.\n"
     "60,120,300) and --resources (ids) are required; --interval steps the\n"
     "offered starts; buffers, --min-notice and --max-future are minutes;\n"
     "--confirm makes new bookings pending until confirmed; --inactive\n"
     "hides it from public callers."},
    {"ical", "RESOURCE",
     OPTBIT(from) | OPTBIT(to) | OPTBIT(public) | OPTBIT(domain), 1, 1,
     cmd_ical,
     "Print RESOURCE's bookings as an iCalendar (RFC 5545) feed, with\n"
     "cancelled ones marked STATUS:CANCELLED.  --from and --to (dates in\n"
     "the resource's zone) bound it; --public leaves out the bookers'\n"
     "details; --domain sets the right-hand side of the UIDs."},
    {"call", "OP [JSON-ARGS]", 0, 1, 2, cmd_call,
     "Call any operation with arguments written as a JSON object and\n"
     "print its result as JSON, e.g.\n"
     "  bookctl call slots.day '{\"resource\": \"studio-a\", "
     "\"date\": \"2026-12-01\", \"duration\": 60}'"},
    {"hook add", "ID URL [EVENT...]", 0, 2, 9, cmd_hook_add,
     "Register (or replace) a webhook for booking events (default all)."},
    {"hook list", "", 0, 0, 0, cmd_hook_list, "List webhooks."},
    {"hook rm", "ID", 0, 1, 1, cmd_hook_rm, "Delete a webhook."},
    {"notify status", "STATE-DIR", 0, 1, 1, cmd_notify_status,
     "What bookd-notify --state STATE-DIR is doing: cursor, lag, retries,\n"
     "dead letters, per-hook failures."},
    {"token", "DATA-DIR", OPTBIT(role) | OPTBIT(subject) | OPTBIT(ttl), 1, 1,
     cmd_token,
     "Mint a signed token for `hello {token}` with the key in DATA-DIR\n"
     "(readable by the engine's owner only).  --role admin|gateway|public\n"
     "(default public; a gateway may act for visitors with \"as\"),\n"
     "--subject names the caller (the audit actor),\n"
     "--ttl is its lifetime in seconds (default 86400).",
     true},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void synopsis(FILE *f, const struct command *cmd)
{
	fprintf(f, "bookctl %s", cmd->name);
	if (cmd->args[0])
		fprintf(f, " %s", cmd->args);
	for (int i = 0; i < OPT__COUNT; i++)
		if (cmd->opts & ((uint64_t)1 << i)) {
			if (opt_names[i].meta)
				fprintf(f, " [--%s %s]", opt_names[i].name,
					opt_names[i].meta);
			else
				fprintf(f, " [--%s]", opt_names[i].name);
		}
	fputc('\n', f);
}

static void usage(FILE *f)
{
	fputs("usage: bookctl [--socket PATH] [--json] [--tz ZONE] COMMAND "
	      "[ARGS]\n\n"
	      "Administer and inspect a bookd engine over its socket.\n\n"
	      "  --socket PATH  the engine's socket (default $BOOKD_SOCKET, "
	      "else " BOOKD_DEFAULT_SOCKET ")\n"
	      "  --json         print the engine's result as JSON\n"
	      "  --tz ZONE      read and show times in ZONE (e.g. "
	      "Europe/Berlin), not in\n"
	      "                 the resource's own zone (default "
	      "$BOOKD_TZ)\n\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-17s %s\n", commands[i].name, commands[i].args);
	fputs("\n'bookctl help COMMAND' describes one.  Exit status: 0 ok, 1 "
	      "refused by the\nengine, 2 bad usage, 3 engine unreachable.\n",
	      f);
}

static void command_help(const struct command *cmd)
{
	fputs("usage: ", stdout);
	synopsis(stdout, cmd);
	printf("\n%s\n", cmd->help);
}

/* The command named by pos[0] (and pos[1] for two-word names); *words
 * says how many positions it used. */
static const struct command *find_command(char **pos, int npos, int *words)
{
	char two[64];

	if (npos >= 2 && snprintf(two, sizeof two, "%s %s", pos[0], pos[1]) <
			     (int)sizeof two)
		for (size_t i = 0; i < NCOMMANDS; i++)
			if (strcmp(commands[i].name, two) == 0) {
				*words = 2;
				return &commands[i];
			}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, pos[0]) == 0) {
			*words = 1;
			return &commands[i];
		}
	return NULL;
}

int bookctl_usage(struct ctx *x, const char *fmt, ...)
{
	va_list ap;

	fputs("bookctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (x && x->cmd)
		fprintf(stderr, "(see 'bookctl help %s')\n", x->cmd);
	else
		fputs("(see 'bookctl --help')\n", stderr);
	return BOOKCTL_USAGE;
}

static int find_opt(const char *name, size_t len)
{
	for (int i = 0; i < OPT__COUNT; i++)
		if (strlen(opt_names[i].name) == len &&
		    memcmp(opt_names[i].name, name, len) == 0)
			return i;
	return -1;
}

/* What to do when the engine cannot be reached, by the reason. */
static void connect_hint(int e)
{
	if (e == EACCES || e == EPERM)
		fputs("  The socket exists but this user may not open it: run "
		      "as the engine's\n  user or group (see \"Running bookd "
		      "for a website\" in README.md).\n",
		      stderr);
	else
		fputs("  Is bookd running?  Start it with 'make run' (it "
		      "serves ./var/bookd.sock),\n  or point bookctl at its "
		      "socket with --socket PATH or $BOOKD_SOCKET.\n",
		      stderr);
}

int main(int argc, char **argv)
{
	struct ctx x;
	const struct command *cmd;
	const char *tzname = NULL;
	char *pos[MAX_POS];
	int npos = 0, words = 0, err = 0, rc;
	bool help = false, opts_done = false;

	memset(&x, 0, sizeof x);
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		const char *name, *eq, *val = NULL;
		size_t nlen;
		int o;

		if (opts_done || a[0] != '-' || a[1] == 0) {
			if (npos == MAX_POS)
				return bookctl_usage(NULL,
						     "too many arguments");
			pos[npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help = true;
			continue;
		}
		if (a[1] != '-')
			return bookctl_usage(NULL, "unknown option %s", a);
		name = a + 2;
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		if (nlen == 4 && memcmp(name, "json", 4) == 0 && !eq) {
			x.json = true;
			continue;
		}
		o = find_opt(name, nlen);
		if (o < 0 && !(nlen == 6 && memcmp(name, "socket", 6) == 0) &&
		    !(nlen == 2 && memcmp(name, "tz", 2) == 0))
			return bookctl_usage(NULL, "unknown option --%.*s",
					     (int)nlen, name);
		if (o >= 0 && opt_names[o].meta == NULL) {
			if (eq)
				return bookctl_usage(NULL,
						     "--%.*s takes no value",
						     (int)nlen, name);
			x.opt[o] = "1";
			continue;
		}
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return bookctl_usage(NULL, "--%.*s needs a value",
					     (int)nlen, name);
		if (o >= 0)
			x.opt[o] = val;
		else if (nlen == 2)
			tzname = val;
		else
			x.socket = val;
	}

	if (npos == 0) {
		usage(help ? stdout : stderr);
		return help ? BOOKCTL_OK : BOOKCTL_USAGE;
	}
	if (strcmp(pos[0], "help") == 0) {
		if (npos == 1) {
			usage(stdout);
			return BOOKCTL_OK;
		}
		cmd = find_command(pos + 1, npos - 1, &words);
		if (cmd == NULL)
			return bookctl_usage(NULL, "no command '%s'", pos[1]);
		command_help(cmd);
		return BOOKCTL_OK;
	}
	cmd = find_command(pos, npos, &words);
	if (cmd == NULL)
		return bookctl_usage(NULL, "no command '%s'", pos[0]);
	x.cmd = cmd->name;
	if (help) {
		command_help(cmd);
		return BOOKCTL_OK;
	}
	x.argc = npos - words;
	x.argv = pos + words;
	if (x.argc < cmd->min || x.argc > cmd->max)
		return bookctl_usage(&x, "usage: bookctl %s%s%s", cmd->name,
				     cmd->args[0] ? " " : "", cmd->args);
	for (int i = 0; i < OPT__COUNT; i++)
		if (x.opt[i] && !(cmd->opts & ((uint64_t)1 << i)))
			return bookctl_usage(&x, "%s takes no --%s", cmd->name,
					     opt_names[i].name);
	if (tzname == NULL && (tzname = getenv("BOOKD_TZ")) != NULL &&
	    *tzname == 0)
		tzname = NULL;
	if (tzname) {
		int e = tz_get(tzname, &x.tz);
		if (e < 0)
			return bookctl_usage(&x, "time zone %s: %s", tzname,
					     tz_strerror(e));
		x.tz_fixed = true;
	} else if (tz_get("UTC", &x.tz) < 0) {
		fprintf(stderr, "bookctl: cannot load the UTC zone (is tzdata "
				"installed?)\n");
		return BOOKCTL_USAGE;
	}

	if (cmd->offline)
		return cmd->run(&x);
	x.c = bookd_connect(x.socket, &err);
	if (x.c == NULL) {
		const char *path = x.socket ? x.socket : getenv("BOOKD_SOCKET");
		int e = errno;

		fprintf(stderr, "bookctl: cannot connect to %s: %s\n",
			path && *path ? path : BOOKD_DEFAULT_SOCKET,
			err == BOOKD_E_IO ? strerror(e) : bookd_strerror(err));
		connect_hint(err == BOOKD_E_IO ? e : 0);
		return BOOKCTL_CONN;
	}
	rc = cmd->run(&x);
	bookd_close(x.c);
	return rc;
}

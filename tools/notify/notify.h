/*
 * notify.h - bookd-notify, the process that turns the engine's durable
 * `events` feed into webhooks and emails.  The engine never touches the
 * network; this process does, with the engine's admin role.
 *
 * Parts
 * -----
 *   main.c     options, subcommands, the loop: poll the feed (only events
 *              the engine reports durable), turn events into jobs, start
 *              due jobs, advance the cursor.
 *   store.c    everything in --state: the cursor, the job journal (retries
 *              and reminders), the dead letters, the requeue requests and
 *              the status file.
 *   deliver.c  transfers through libcurl's multi interface: webhook POSTs
 *              (Standard Webhooks signatures), SMTP, the HTTP email API.
 *   mail.c     the emails: subject, text and HTML parts, the .ics, MIME.
 *
 * Delivery rule (at least once, never skipped)
 * --------------------------------------------
 * The cursor (the LSN of the last event whose every job is settled) is
 * written only after each job of each event up to it has either succeeded
 * or been written to the journal (fsynced).  A restart resends everything
 * after the cursor and every journaled job: some deliveries may repeat,
 * none is lost.  A job is settled as dead after its retries span
 * retry_total_s (24 h by default); dead letters are kept in DIR/dead.log
 * until an admin replays them.
 *
 * How it fails: a full disk or a failed fsync in --state is fatal (exit
 * status 1 with a line saying why): the cursor would otherwise claim more
 * than is safe.  An unreachable engine is retried every half second.
 */
#ifndef BOOKD_NOTIFY_H
#define BOOKD_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define NOTIFY_KEY_MAX	  128
#define NOTIFY_TARGET_MAX 320
/* Jobs in memory; past it a delivery that would wait for a retry goes to
 * the dead letters at once, so one dead endpoint cannot exhaust memory. */
#define NOTIFY_MAX_JOBS 50000

enum job_kind {
	JOB_HOOK = 'H',	  /* payload: the webhook body (JSON) */
	JOB_MAIL = 'M',	  /* payload: a MIME message, or the API's JSON */
	JOB_REMIND = 'R', /* payload: the booking id; composed when due */
};

struct job {
	char key[NOTIFY_KEY_MAX]; /* unique: H:<hook>:<lsn>, M:<lsn> ... */
	char kind;		  /* enum job_kind */
	char target[NOTIFY_TARGET_MAX]; /* hook id, or the recipient */
	char msgid[NOTIFY_KEY_MAX];	/* webhook-id, or the Message-ID */
	char label[48];			/* event type or mail kind, for logs */
	uint64_t lsn;			/* the event (0 for reminders) */
	uint32_t attempts;
	int64_t next_ms; /* wall clock: when to try next */
	int64_t first_ms;
	char *payload;
	size_t plen;
	char *err; /* last failure, for dead letters */
	bool journaled;
	bool running;
	bool api;      /* a mail payload in the email API's JSON form */
	uint64_t slot; /* fresh jobs: the event slot they hold back */
	struct transfer *t;
};

struct cfg {
	const char *socket, *state, *token_file;
	const char *smtp, *smtp_user, *smtp_password_file, *smtp_ca_file;
	const char *email_api, *email_api_key_file;
	const char *from, *base_url;
	int64_t reminder_lead_s; /* --reminder-hours, or in seconds */
	int64_t retry_base_ms;
	int64_t retry_total_s;
	int64_t poll_ms;
	int timeout_s;
	char *smtp_password, *email_api_key, *token;
};

/* ---- store.c --------------------------------------------------------- */

struct store;

int store_open(struct store **out, const char *dir, bool create);
void store_close(struct store *s);
uint64_t store_cursor(const struct store *s);
/* Write the cursor durably (temp, fsync, rename, fsync dir). */
int store_set_cursor(struct store *s, uint64_t lsn);
/* Journal: buffered, made durable by store_sync(). */
void store_put(struct store *s, const struct job *j);
void store_done(struct store *s, const char *key);
void store_sent(struct store *s, const char *key, int64_t until_ms);
bool store_was_sent(const struct store *s, const char *key);
void store_dead(struct store *s, const struct job *j);
int store_sync(struct store *s);
/* Jobs read back from the journal at open (ownership passes). */
struct job **store_take_jobs(struct store *s, size_t *n);
/* Dead letters requested back (by bookd-notify replay); ownership passes. */
struct job **store_take_requeued(struct store *s, size_t *n);
size_t store_dead_count(const struct store *s);
/* Rewrite the journal with only live jobs when it has grown. */
int store_compact(struct store *s, struct job *const *jobs, size_t n);
int store_write_status(struct store *s, const char *json);

/* Subcommands that work on a state directory. */
int store_list_dead(const char *dir, bool json);
int store_request_replay(const char *dir, const char *key);

void job_free(struct job *j);
/* Base64 (standard, padded) of n bytes into a new string. */
char *b64_encode(const void *p, size_t n);
/* Decode; returns the length or -1. */
long b64_decode(const char *s, size_t n, unsigned char *out, size_t cap);

/* ---- mail.c ---------------------------------------------------------- */

enum mail_kind {
	MAIL_CONFIRMED,	  /* created, not pending */
	MAIL_RECEIVED,	  /* created, pending */
	MAIL_APPROVED,	  /* pending -> confirmed */
	MAIL_DECLINED,	  /* with the reason */
	MAIL_CANCELLED,	  /* with the reason */
	MAIL_RESCHEDULED, /* old and new time */
	MAIL_REMINDER,
	MAIL__COUNT
};
extern const char *const mail_kind_names[MAIL__COUNT];

/* What a mail says, gathered from the event and the booking. */
struct mail_in {
	enum mail_kind kind;
	uint64_t lsn; /* the event, for Message-ID; 0 for reminders */
	uint64_t id;  /* booking id */
	const char *ref;
	const char *name, *email;
	const char *title; /* what was booked */
	const char *resources;
	const char *tz; /* zone name */
	int64_t start, end;
	int64_t old_start, old_end; /* rescheduled: the span before */
	const char *reason;	    /* declined / cancelled */
	uint32_t sequence;	    /* iCalendar SEQUENCE */
	int64_t stamp_ms;	    /* DTSTAMP, Date */
};

struct mail_out {
	char subject[256];
	char msgid[NOTIFY_KEY_MAX];
	char *text, *html, *ics; /* ics NULL for none */
	bool cancel;		 /* METHOD:CANCEL */
};

int mail_compose(const struct cfg *cfg, const struct mail_in *in,
		 struct mail_out *out);
void mail_out_free(struct mail_out *m);
/* The whole message for SMTP (CRLF line ends). */
char *mail_mime(const struct cfg *cfg, const struct mail_in *in,
		const struct mail_out *m, size_t *len);
/* The email API's JSON body. */
char *mail_api_json(const struct cfg *cfg, const struct mail_in *in,
		    const struct mail_out *m, size_t *len);
bool mail_addr_ok(const char *s);
/* The address of "Name <addr>", or s itself. */
void mail_bare_addr(const char *s, char out[NOTIFY_TARGET_MAX]);

/* ---- deliver.c ------------------------------------------------------- */

struct deliver;

struct hook_cfg {
	char id[64];
	char url[2049];
	char secret[100];
	bool active;
};

/* Called when a transfer ends: ok, with a short description. */
typedef void (*deliver_done_fn)(void *ctx, struct job *j, bool ok,
				const char *what, long ms);

int deliver_init(struct deliver **out, const struct cfg *cfg,
		 deliver_done_fn fn, void *ctx);
void deliver_free(struct deliver *d);
/* Start a webhook POST for j to h. */
int deliver_hook(struct deliver *d, struct job *j, const struct hook_cfg *h,
		 int64_t now_ms);
/* Start a mail. */
int deliver_mail(struct deliver *d, struct job *j);
/* Transfers running for a target (fairness between endpoints). */
int deliver_running(const struct deliver *d, const char *target);
int deliver_total(const struct deliver *d);
/* Wait at most timeout_ms for progress (or for extra_fd, when not -1, to
 * become readable) and report finished transfers. */
int deliver_poll(struct deliver *d, int timeout_ms, int extra_fd);
/* Drop j's transfer (its hook went away). */
void deliver_cancel(struct deliver *d, struct job *j);
/* Standard Webhooks signature "v1,<base64>" into out[128]. */
int webhook_sign(const char *secret, const char *msgid, int64_t ts,
		 const char *body, size_t n, char out[128]);

int64_t wall_ms(void);
void notify_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

/*
 * log.h - the engine's log: one line per notable event on stderr.
 *
 * Lines start with "bookd: " so they are easy to pick out of a supervisor's
 * output.  Logging never fails the caller.
 */
#ifndef BOOKD_LOG_H
#define BOOKD_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* The engine's exit statuses, named once (SPEC section 1). */
enum bookd_exit {
	BOOKD_EXIT_OK = 0,
	/* Bad arguments, an unusable data directory, a held lock, a corrupt
	 * log: nothing was modified. */
	BOOKD_EXIT_START = 2,
	/* The log or the ring failed while running: stopped without
	 * acknowledging what could not be made durable. */
	BOOKD_EXIT_FATAL = 3,
};

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Rate limiting for lines a client can provoke: log_due() is true at most
 * once per interval_ms; the calls it refused in between are counted in
 * suppressed (reset when it says yes), so the line can report them.
 */
struct log_rate {
	int64_t last_ms;
	uint64_t suppressed;
};
bool log_due(struct log_rate *r, int64_t interval_ms, uint64_t *suppressed);

/* Milliseconds of the real-time clock, and of the monotonic clock. */
int64_t now_ms(void);
int64_t mono_ms(void);

#endif

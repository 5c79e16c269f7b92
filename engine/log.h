/*
 * log.h - the engine's log: one line per notable event on stderr.
 *
 * Lines start with "bookd: " so they are easy to pick out of a supervisor's
 * output.  Logging never fails the caller.
 */
#ifndef BOOKD_LOG_H
#define BOOKD_LOG_H

#include <stdint.h>

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Milliseconds of the real-time clock, and of the monotonic clock. */
int64_t now_ms(void);
int64_t mono_ms(void);

#endif

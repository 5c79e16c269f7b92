/*
 * text.h - strings from the engine shown safely: UTF-8 decoding and the
 * escaped form the tools print for people.
 *
 * Stored strings (a booker's name, notes, a resource's name) come from any
 * caller, so they may hold invalid UTF-8 or terminal control sequences
 * (ESC [2J clears the screen, OSC sets the window title or writes the
 * clipboard).  Printed raw, they would act on the terminal of whoever runs
 * bookctl.  text_print() shows them instead: printable UTF-8 as it is,
 * every control character (C0, DEL, C1) as an escape (\n, \t, \r, \e,
 * \x01, \u009b), every byte that is not valid UTF-8 as \xNN, and the
 * backslash as \\, so the output is unambiguous.  JSON output
 * (json_print_str) uses utf8_next() to stay valid JSON whatever the bytes.
 */
#ifndef BOOKD_TEXT_H
#define BOOKD_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The length (1 to 4) of the valid UTF-8 sequence at s[0..n), with its code
 * point in *cp; 0 when s[0] does not start one (a stray continuation byte,
 * an overlong form, a surrogate, past U+10FFFF, or cut short).  n > 0.
 */
size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp);

/* s[0..n) for a person, escaped as above. */
void text_print(FILE *f, const char *s, size_t n);
/* The escaped form of s[0..n) into buf (NUL-terminated, cut at len - 1
 * bytes but never inside an escape); returns buf. */
char *text_escape(const char *s, size_t n, char *buf, size_t len);

#endif

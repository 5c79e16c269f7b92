/*
 * token.h - signed session tokens for `hello {token}`.
 *
 * A token names a role and a subject (the default audit actor) and expires.
 * Format: "bk1." hex(payload) "." hex(HMAC-SHA256(key, payload)), where
 * payload is "<role>\n<subject>\n<expiry, Unix seconds>".  The key is the
 * 32 random bytes of DATA/auth.key, created by bookd on first start (mode
 * 0600); `bookctl token` reads it to mint.  Verification compares MACs in
 * constant time.
 */
#ifndef BOOKD_TOKEN_H
#define BOOKD_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_KEY_LEN	  32
#define TOKEN_MAX	  1024
#define TOKEN_SUBJECT_MAX 63

/* Returns 0, or -1 if role/subject are unusable (empty, too long, "\n"). */
int token_mint(const unsigned char key[TOKEN_KEY_LEN], const char *role,
	       const char *subject, int64_t expires, char *out, size_t outlen);
/* Returns 0 with role ("admin", "gateway" or "public") and subject filled, -1
 * when the token is malformed, forged or expired at now. */
int token_verify(const unsigned char key[TOKEN_KEY_LEN], const char *tok,
		 size_t len, int64_t now, char role[8],
		 char subject[TOKEN_SUBJECT_MAX + 1]);

#endif

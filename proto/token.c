/*
 * token.c - see token.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "token.h"

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

static int unhex(const char *s, size_t n, unsigned char *out)
{
	if (n % 2)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = s[i + k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else
				return -1;
		}
		out[i / 2] = (unsigned char)v;
	}
	return 0;
}

static void mac(const unsigned char key[TOKEN_KEY_LEN], const void *p, size_t n,
		unsigned char out[32])
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, TOKEN_KEY_LEN, p, n, out, &len);
}

int token_mint(const unsigned char key[TOKEN_KEY_LEN], const char *role,
	       const char *subject, int64_t expires, char *out, size_t outlen)
{
	char payload[128];
	unsigned char m[32];
	int n;

	if ((strcmp(role, "admin") != 0 && strcmp(role, "public") != 0 &&
	     strcmp(role, "gateway") != 0) ||
	    subject[0] == 0 || strlen(subject) > TOKEN_SUBJECT_MAX ||
	    strchr(subject, '\n'))
		return -1;
	n = snprintf(payload, sizeof(payload), "%s\n%s\n%lld", role, subject,
		     (long long)expires);
	if (n < 0 || (size_t)n >= sizeof(payload) ||
	    outlen < 4 + 2 * (size_t)n + 1 + 64 + 1)
		return -1;
	mac(key, payload, (size_t)n, m);
	memcpy(out, "bk1.", 4);
	hex((unsigned char *)payload, (size_t)n, out + 4);
	out[4 + 2 * n] = '.';
	hex(m, 32, out + 5 + 2 * n);
	return 0;
}

int token_verify(const unsigned char key[TOKEN_KEY_LEN], const char *tok,
		 size_t len, int64_t now, char role[8],
		 char subject[TOKEN_SUBJECT_MAX + 1])
{
	unsigned char payload[128], got[32], want[32];
	const char *dot;
	size_t plen;
	char *nl1, *nl2, *end;
	long long exp;

	if (len < 4 || len > TOKEN_MAX || memcmp(tok, "bk1.", 4) != 0)
		return -1;
	dot = memchr(tok + 4, '.', len - 4);
	if (dot == NULL || (size_t)(tok + len - dot - 1) != 64)
		return -1;
	plen = (size_t)(dot - tok - 4);
	if (plen / 2 >= sizeof(payload) || unhex(tok + 4, plen, payload) < 0 ||
	    unhex(dot + 1, 64, got) < 0)
		return -1;
	plen /= 2;
	mac(key, payload, plen, want);
	if (CRYPTO_memcmp(got, want, 32) != 0)
		return -1;
	payload[plen] = 0;
	nl1 = strchr((char *)payload, '\n');
	if (nl1 == NULL)
		return -1;
	nl2 = strchr(nl1 + 1, '\n');
	if (nl2 == NULL || (size_t)(nl1 - (char *)payload) >= 8 ||
	    (size_t)(nl2 - nl1 - 1) > TOKEN_SUBJECT_MAX)
		return -1;
	exp = strtoll(nl2 + 1, &end, 10);
	if (*end != 0 || exp < now)
		return -1;
	memcpy(role, payload, (size_t)(nl1 - (char *)payload));
	role[nl1 - (char *)payload] = 0;
	memcpy(subject, nl1 + 1, (size_t)(nl2 - nl1 - 1));
	subject[nl2 - nl1 - 1] = 0;
	return 0;
}

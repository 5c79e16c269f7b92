/*
 * jwt.c - OIDC ID/access tokens (compact JWS) checked against a JWKS file.
 *
 * Owns: the public keys of --jwks (RSA and EC P-256 keys, at most MAX_KEYS),
 * re-read when the file's modification time or size changes (looked at no
 * more than once a second), and the verification of a token:
 *
 *   three base64url parts -> header is JSON with alg RS256 or ES256 (none,
 *   HS*, anything else refused; "crit" refused) -> the key named by "kid"
 *   (or every key of the algorithm's type when there is no kid) verifies
 *   the signature over "header.payload" -> payload is JSON with iss equal
 *   to --issuer, aud equal to (or a list holding) --audience, exp in the
 *   future and nbf in the past (both with SKEW_S seconds of leeway), and a
 *   string sub.
 *
 * The booker's email is taken only when "email_verified" is not false.
 * Admin rights: the claim named by --admin-claim equals the value, or is a
 * list holding it (or is true when the value is "true").
 *
 * Invariants: the key set is replaced whole under the mutex; a token is
 * never trusted on a partial check.  A file that fails to parse on reload
 * keeps the previous keys (and says so once).
 *
 * How it fails: -1 with a short reason for the caller ("token: expired",
 * ...); never a crash on hostile input (sizes checked, 8 KiB at most).
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gw.h"

#define MAX_KEYS      32
#define MAX_TOKEN     8192
#define SKEW_S	      60
#define RELOAD_GAP_NS 1000000000LL

struct key {
	char kid[128];
	bool ec; /* EC P-256, else RSA */
	EVP_PKEY *pkey;
};

static struct key keys[MAX_KEYS];
static size_t nkeys;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct timespec file_mtime;
static off_t file_size;
static int64_t checked_ns;

/* base64url without padding; returns the length or -1. */
static long b64url(const char *in, size_t n, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int v;
		char c = in[i];
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-')
			v = 62;
		else if (c == '_')
			v = 63;
		else if (c == '=' && i + 2 >= n)
			break;
		else
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)o;
}

static BIGNUM *bn_of(json_t *o, const char *name)
{
	unsigned char buf[1024];
	json_t *v = json_object_get(o, name);
	long n;

	if (!json_is_string(v))
		return NULL;
	n = b64url(json_string_value(v), json_string_length(v), buf,
		   sizeof buf);
	return n > 0 ? BN_bin2bn(buf, (int)n, NULL) : NULL;
}

/* The public key of type alg ("RSA", "EC") made of the parameters pushed on
 * b, or NULL when pushed is false or OpenSSL refuses them. Frees b. */
static EVP_PKEY *key_of(OSSL_PARAM_BLD *b, bool pushed, const char *alg)
{
	OSSL_PARAM *p = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;

	if (pushed && (p = OSSL_PARAM_BLD_to_param(b)) &&
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL)) &&
	    EVP_PKEY_fromdata_init(ctx) > 0)
		if (EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, p) <= 0)
			pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(p);
	OSSL_PARAM_BLD_free(b);
	return pk;
}

static EVP_PKEY *rsa_key(json_t *k)
{
	BIGNUM *n = bn_of(k, "n"), *e = bn_of(k, "e");
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	EVP_PKEY *pk;

	pk = key_of(b,
		    n && e && b && BN_num_bits(n) >= 2048 &&
			OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n) &&
			OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e),
		    "RSA");
	BN_free(n);
	BN_free(e);
	return pk;
}

static EVP_PKEY *ec_key(json_t *k)
{
	unsigned char pub[65];
	json_t *x = json_object_get(k, "x"), *y = json_object_get(k, "y"),
	       *crv = json_object_get(k, "crv");
	OSSL_PARAM_BLD *b;

	if (!json_is_string(crv) || strcmp(json_string_value(crv), "P-256") ||
	    !json_is_string(x) || !json_is_string(y))
		return NULL;
	pub[0] = 4;
	if (b64url(json_string_value(x), json_string_length(x), pub + 1, 32) !=
		32 ||
	    b64url(json_string_value(y), json_string_length(y), pub + 33, 32) !=
		32)
		return NULL;
	b = OSSL_PARAM_BLD_new();
	return key_of(b,
		      b &&
			  OSSL_PARAM_BLD_push_utf8_string(
			      b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
			  OSSL_PARAM_BLD_push_octet_string(
			      b, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub),
		      "EC");
}

/* With mu held. */
static int load(bool first)
{
	struct key nk[MAX_KEYS];
	size_t n = 0, i;
	json_error_t e;
	json_t *root, *arr, *k;
	struct stat st;

	if (stat(gw_cfg.jwks, &st) != 0) {
		fprintf(stderr, "bookd-http: --jwks %s: cannot read\n",
			gw_cfg.jwks);
		return -1;
	}
	file_mtime = st.st_mtim;
	file_size = st.st_size;
	root = json_load_file(gw_cfg.jwks, 0, &e);
	arr = root ? json_object_get(root, "keys") : NULL;
	if (!json_is_array(arr)) {
		fprintf(stderr, "bookd-http: --jwks %s: not a JWKS (%s)%s\n",
			gw_cfg.jwks, root ? "no keys" : e.text,
			first ? "" : "; keeping the previous keys");
		json_decref(root);
		return -1;
	}
	memset(nk, 0, sizeof nk);
	for (i = 0; i < json_array_size(arr); i++) {
		k = json_array_get(arr, i);
		json_t *kty = json_object_get(k, "kty"),
		       *kid = json_object_get(k, "kid"),
		       *use = json_object_get(k, "use");
		if (n == MAX_KEYS || !json_is_string(kty))
			continue;
		if (json_is_string(use) &&
		    strcmp(json_string_value(use), "sig"))
			continue;
		if (strcmp(json_string_value(kty), "RSA") == 0) {
			nk[n].pkey = rsa_key(k);
		} else if (strcmp(json_string_value(kty), "EC") == 0) {
			nk[n].pkey = ec_key(k);
			nk[n].ec = true;
		}
		if (nk[n].pkey == NULL)
			continue;
		if (json_is_string(kid))
			snprintf(nk[n].kid, sizeof nk[n].kid, "%s",
				 json_string_value(kid));
		n++;
	}
	json_decref(root);
	for (i = 0; i < nkeys; i++)
		EVP_PKEY_free(keys[i].pkey);
	memcpy(keys, nk, sizeof nk);
	nkeys = n;
	fprintf(stderr, "bookd-http: %zu signing keys from %s\n", n,
		gw_cfg.jwks);
	return 0;
}

int gw_jwt_init(void)
{
	int rc;

	pthread_mutex_lock(&mu);
	rc = load(true);
	checked_ns = gw_now_ns();
	pthread_mutex_unlock(&mu);
	return rc;
}

/* With mu held: re-read the file when it changed. */
static void maybe_reload(void)
{
	int64_t now = gw_now_ns();
	struct stat st;

	if (now - checked_ns < RELOAD_GAP_NS)
		return;
	checked_ns = now;
	if (stat(gw_cfg.jwks, &st) != 0)
		return;
	if (st.st_mtim.tv_sec != file_mtime.tv_sec ||
	    st.st_mtim.tv_nsec != file_mtime.tv_nsec || st.st_size != file_size)
		(void)load(false);
}

static int verify_sig(const struct key *k, const char *data, size_t dlen,
		      const unsigned char *sig, size_t slen)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char der[80], *dp = der;
	const unsigned char *use = sig;
	size_t ulen = slen;
	int ok = 0;

	if (m == NULL)
		return 0;
	if (k->ec) {
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r, *s;
		int dl;
		if (es == NULL || slen != 64) {
			ECDSA_SIG_free(es);
			EVP_MD_CTX_free(m);
			return 0;
		}
		r = BN_bin2bn(sig, 32, NULL);
		s = BN_bin2bn(sig + 32, 32, NULL);
		if (r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
			BN_free(r);
			BN_free(s);
			ECDSA_SIG_free(es);
			EVP_MD_CTX_free(m);
			return 0;
		}
		dl = i2d_ECDSA_SIG(es, NULL);
		if (dl <= 0 || (size_t)dl > sizeof der) {
			ECDSA_SIG_free(es);
			EVP_MD_CTX_free(m);
			return 0;
		}
		i2d_ECDSA_SIG(es, &dp);
		ECDSA_SIG_free(es);
		use = der;
		ulen = (size_t)dl;
	}
	if (EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
	    EVP_DigestVerify(m, use, ulen, (const unsigned char *)data, dlen) ==
		1)
		ok = 1;
	EVP_MD_CTX_free(m);
	return ok;
}

static bool has_value(json_t *claim, const char *want)
{
	size_t i;
	json_t *x;

	if (json_is_string(claim))
		return strcmp(json_string_value(claim), want) == 0;
	if (json_is_true(claim))
		return strcmp(want, "true") == 0;
	for (i = 0; json_is_array(claim) && i < json_array_size(claim); i++) {
		x = json_array_get(claim, i);
		if (json_is_string(x) &&
		    strcmp(json_string_value(x), want) == 0)
			return true;
	}
	return false;
}

#define FAIL(msg)                                                              \
	do {                                                                   \
		snprintf(why, 128, "token: %s", msg);                          \
		goto out;                                                      \
	} while (0)

int gw_jwt_verify(const char *tok, struct gw_claims *out, char why[128])
{
	const char *d1, *d2;
	unsigned char *hb = NULL, *pb = NULL, sig[1024];
	long hl, pl, sl;
	json_t *h = NULL, *p = NULL, *v;
	size_t n = strlen(tok);
	bool ec, ok = false;
	time_t now = time(NULL);
	int rc = -1;
	const char *kid = NULL;

	memset(out, 0, sizeof *out);
	if (n > MAX_TOKEN)
		FAIL("too long");
	d1 = strchr(tok, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (d1 == NULL || d2 == NULL || strchr(d2 + 1, '.'))
		FAIL("not a signed JWT (three parts)");
	hb = malloc(n);
	pb = malloc(n);
	if (hb == NULL || pb == NULL)
		FAIL("out of memory");
	hl = b64url(tok, (size_t)(d1 - tok), hb, n);
	pl = b64url(d1 + 1, (size_t)(d2 - d1 - 1), pb, n);
	sl = b64url(d2 + 1, strlen(d2 + 1), sig, sizeof sig);
	if (hl <= 0 || pl <= 0)
		FAIL("malformed");
	h = json_loadb((const char *)hb, (size_t)hl, JSON_REJECT_DUPLICATES,
		       NULL);
	p = json_loadb((const char *)pb, (size_t)pl, JSON_REJECT_DUPLICATES,
		       NULL);
	if (!json_is_object(h) || !json_is_object(p))
		FAIL("malformed");
	v = json_object_get(h, "alg");
	if (!json_is_string(v))
		FAIL("no algorithm");
	if (strcmp(json_string_value(v), "RS256") == 0)
		ec = false;
	else if (strcmp(json_string_value(v), "ES256") == 0)
		ec = true;
	else
		FAIL("algorithm not accepted (RS256 or ES256)");
	if (json_object_get(h, "crit"))
		FAIL("critical header extensions not supported");
	if (sl <= 0)
		FAIL("malformed signature");
	v = json_object_get(h, "kid");
	if (json_is_string(v))
		kid = json_string_value(v);
	pthread_mutex_lock(&mu);
	maybe_reload();
	for (size_t i = 0; i < nkeys && !ok; i++) {
		if (keys[i].ec != ec)
			continue;
		if (kid && strcmp(keys[i].kid, kid) != 0)
			continue;
		ok = verify_sig(&keys[i], tok, (size_t)(d2 - tok), sig,
				(size_t)sl);
	}
	pthread_mutex_unlock(&mu);
	if (!ok)
		FAIL("bad signature or unknown key");
	v = json_object_get(p, "iss");
	if (!json_is_string(v) || strcmp(json_string_value(v), gw_cfg.issuer))
		FAIL("wrong issuer");
	v = json_object_get(p, "aud");
	if (!has_value(v, gw_cfg.audience))
		FAIL("wrong audience");
	v = json_object_get(p, "exp");
	if (!json_is_number(v))
		FAIL("no expiry");
	if (json_number_value(v) + SKEW_S < (double)now)
		FAIL("expired");
	v = json_object_get(p, "nbf");
	if (v &&
	    (!json_is_number(v) || json_number_value(v) - SKEW_S > (double)now))
		FAIL("not valid yet");
	v = json_object_get(p, "sub");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= sizeof out->sub)
		FAIL("no subject");
	snprintf(out->sub, sizeof out->sub, "%s", json_string_value(v));
	v = json_object_get(p, "email");
	if (json_is_string(v) && json_string_length(v) < sizeof out->email &&
	    !json_is_false(json_object_get(p, "email_verified")))
		snprintf(out->email, sizeof out->email, "%s",
			 json_string_value(v));
	if (gw_cfg.admin_claim[0])
		out->admin = has_value(json_object_get(p, gw_cfg.admin_claim),
				       gw_cfg.admin_value);
	rc = 0;
out:
	json_decref(h);
	json_decref(p);
	free(hb);
	free(pb);
	return rc;
}

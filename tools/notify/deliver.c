/*
 * deliver.c - bookd-notify's transfers, all on one libcurl multi handle so
 * that a slow or dead endpoint only ever holds its own transfers: every
 * transfer has its own timeout (--timeout, 10 s by default) and the loop
 * never waits on any single one.
 *
 * Webhooks follow Standard Webhooks: POST of the JSON body with headers
 * webhook-id (the job's id, the same for every attempt), webhook-timestamp
 * (Unix seconds of this attempt) and webhook-signature "v1,<base64 of
 * HMAC-SHA256(key, id "." timestamp "." body)>", the key being the base64
 * decoding of the secret after "whsec_".  Only http and https are allowed,
 * redirects are not followed, and the answer's body is discarded.
 *
 * Mail goes by SMTP (smtp:// with STARTTLS when offered, required when a
 * password is configured; smtps://) or by an HTTP email API (POST of JSON
 * with a Bearer key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/hmac.h>

#include "notify.h"

struct transfer {
	struct job *j;
	CURL *e;
	struct curl_slist *hdrs, *rcpt;
	size_t upoff;
	int64_t start_ms;
	bool http;
	char errbuf[CURL_ERROR_SIZE];
	char target[NOTIFY_TARGET_MAX];
};

struct deliver {
	CURLM *m;
	const struct cfg *cfg;
	deliver_done_fn fn;
	void *ctx;
	struct transfer **ts;
	size_t n, cap;
};

int deliver_init(struct deliver **out, const struct cfg *cfg,
		 deliver_done_fn fn, void *ctx)
{
	struct deliver *d = calloc(1, sizeof(*d));

	if (d == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		free(d);
		return -1;
	}
	d->m = curl_multi_init();
	if (d->m == NULL) {
		free(d);
		return -1;
	}
	curl_multi_setopt(d->m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 256L);
	d->cfg = cfg;
	d->fn = fn;
	d->ctx = ctx;
	*out = d;
	return 0;
}

static void t_free(struct deliver *d, struct transfer *t)
{
	curl_multi_remove_handle(d->m, t->e);
	curl_easy_cleanup(t->e);
	curl_slist_free_all(t->hdrs);
	curl_slist_free_all(t->rcpt);
	free(t);
}

void deliver_free(struct deliver *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		t_free(d, d->ts[i]);
	free(d->ts);
	curl_multi_cleanup(d->m);
	curl_global_cleanup();
	free(d);
}

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

static size_t upload(char *buf, size_t sz, size_t n, void *u)
{
	struct transfer *t = u;
	size_t left = t->j->plen - t->upoff, want = sz * n;

	if (want > left)
		want = left;
	memcpy(buf, t->j->payload + t->upoff, want);
	t->upoff += want;
	return want;
}

static struct transfer *t_new(struct deliver *d, struct job *j,
			      const char *target)
{
	struct transfer *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->e = curl_easy_init();
	if (t->e == NULL) {
		free(t);
		return NULL;
	}
	t->j = j;
	snprintf(t->target, sizeof(t->target), "%s", target);
	t->start_ms = wall_ms();
	curl_easy_setopt(t->e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->e, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(t->e, CURLOPT_TIMEOUT, (long)d->cfg->timeout_s);
	curl_easy_setopt(t->e, CURLOPT_CONNECTTIMEOUT, (long)d->cfg->timeout_s);
	curl_easy_setopt(t->e, CURLOPT_WRITEFUNCTION, discard);
	return t;
}

static int t_start(struct deliver *d, struct transfer *t)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct transfer **v = reallocarray(d->ts, cap, sizeof(*v));
		if (v == NULL)
			return -1;
		d->ts = v;
		d->cap = cap;
	}
	if (curl_multi_add_handle(d->m, t->e) != CURLM_OK)
		return -1;
	d->ts[d->n++] = t;
	t->j->running = true;
	t->j->t = t;
	return 0;
}

int webhook_sign(const char *secret, const char *msgid, int64_t ts,
		 const char *body, size_t n, char out[128])
{
	unsigned char key[128], mac[32];
	const char *b = secret + strlen("whsec_");
	long kl;
	unsigned int ml = 0;
	char head[200];
	int hl;
	unsigned char *msg;
	bool ok;
	char *sig;

	if (strncmp(secret, "whsec_", 6) != 0)
		return -1;
	kl = b64_decode(b, strlen(b), key, sizeof(key));
	if (kl <= 0)
		return -1;
	hl = snprintf(head, sizeof(head), "%s.%lld.", msgid, (long long)ts);
	msg = malloc((size_t)hl + n);
	if (msg == NULL)
		return -1;
	memcpy(msg, head, (size_t)hl);
	memcpy(msg + hl, body, n);
	ok = HMAC(EVP_sha256(), key, (int)kl, msg, (size_t)hl + n, mac, &ml) !=
	     NULL;
	free(msg);
	explicit_bzero(key, sizeof(key));
	if (!ok)
		return -1;
	sig = b64_encode(mac, ml);
	if (sig == NULL)
		return -1;
	snprintf(out, 128, "v1,%s", sig);
	free(sig);
	return 0;
}

int deliver_hook(struct deliver *d, struct job *j, const struct hook_cfg *h,
		 int64_t now_ms)
{
	struct transfer *t = t_new(d, j, h->id);
	char sig[128], line[256];
	int64_t ts = now_ms / 1000;

	if (t == NULL)
		return -1;
	if (webhook_sign(h->secret, j->msgid, ts, j->payload, j->plen, sig) <
	    0) {
		t_free(d, t);
		return -1;
	}
	t->http = true;
	t->hdrs = curl_slist_append(t->hdrs, "Content-Type: application/json");
	snprintf(line, sizeof(line), "webhook-id: %s", j->msgid);
	t->hdrs = curl_slist_append(t->hdrs, line);
	snprintf(line, sizeof(line), "webhook-timestamp: %lld", (long long)ts);
	t->hdrs = curl_slist_append(t->hdrs, line);
	snprintf(line, sizeof(line), "webhook-signature: %s", sig);
	t->hdrs = curl_slist_append(t->hdrs, line);
	t->hdrs = curl_slist_append(t->hdrs, "User-Agent: bookd-notify");
	t->hdrs = curl_slist_append(t->hdrs, "Expect:");
	curl_easy_setopt(t->e, CURLOPT_URL, h->url);
	curl_easy_setopt(t->e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(t->e, CURLOPT_HTTPHEADER, t->hdrs);
	curl_easy_setopt(t->e, CURLOPT_POSTFIELDS, j->payload);
	curl_easy_setopt(t->e, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)j->plen);
	if (t_start(d, t) < 0) {
		t_free(d, t);
		return -1;
	}
	return 0;
}

int deliver_mail(struct deliver *d, struct job *j)
{
	const struct cfg *c = d->cfg;
	struct transfer *t = t_new(d, j, "mail");
	char addr[NOTIFY_TARGET_MAX + 4], line[600];

	if (t == NULL)
		return -1;
	if (j->api) {
		t->http = true;
		t->hdrs = curl_slist_append(t->hdrs,
					    "Content-Type: application/json");
		snprintf(line, sizeof(line), "Authorization: Bearer %s",
			 c->email_api_key ? c->email_api_key : "");
		t->hdrs = curl_slist_append(t->hdrs, line);
		t->hdrs = curl_slist_append(t->hdrs, "Expect:");
		curl_easy_setopt(t->e, CURLOPT_URL, c->email_api);
		curl_easy_setopt(t->e, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(t->e, CURLOPT_HTTPHEADER, t->hdrs);
		curl_easy_setopt(t->e, CURLOPT_POSTFIELDS, j->payload);
		curl_easy_setopt(t->e, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)j->plen);
	} else {
		char bare[NOTIFY_TARGET_MAX];
		mail_bare_addr(c->from, bare);
		snprintf(addr, sizeof(addr), "<%s>", bare);
		curl_easy_setopt(t->e, CURLOPT_URL, c->smtp);
		curl_easy_setopt(t->e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
		curl_easy_setopt(t->e, CURLOPT_MAIL_FROM, addr);
		snprintf(addr, sizeof(addr), "<%s>", j->target);
		t->rcpt = curl_slist_append(NULL, addr);
		curl_easy_setopt(t->e, CURLOPT_MAIL_RCPT, t->rcpt);
		curl_easy_setopt(t->e, CURLOPT_READFUNCTION, upload);
		curl_easy_setopt(t->e, CURLOPT_READDATA, t);
		curl_easy_setopt(t->e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(t->e, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)j->plen);
		/* Never send a password in the clear. */
		curl_easy_setopt(t->e, CURLOPT_USE_SSL,
				 c->smtp_user ? (long)CURLUSESSL_ALL
					      : (long)CURLUSESSL_TRY);
		/* A relay with a private CA (the certificate is always
		 * verified). */
		if (c->smtp_ca_file)
			curl_easy_setopt(t->e, CURLOPT_CAINFO, c->smtp_ca_file);
		if (c->smtp_user) {
			curl_easy_setopt(t->e, CURLOPT_USERNAME, c->smtp_user);
			curl_easy_setopt(t->e, CURLOPT_PASSWORD,
					 c->smtp_password ? c->smtp_password
							  : "");
		}
	}
	if (t_start(d, t) < 0) {
		t_free(d, t);
		return -1;
	}
	return 0;
}

int deliver_running(const struct deliver *d, const char *target)
{
	int n = 0;
	for (size_t i = 0; i < d->n; i++)
		n += strcmp(d->ts[i]->target, target) == 0;
	return n;
}

int deliver_total(const struct deliver *d)
{
	return (int)d->n;
}

static void t_remove(struct deliver *d, struct transfer *t)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->ts[i] == t) {
			d->ts[i] = d->ts[--d->n];
			break;
		}
	t->j->running = false;
	t->j->t = NULL;
	t_free(d, t);
}

void deliver_cancel(struct deliver *d, struct job *j)
{
	if (j->t)
		t_remove(d, j->t);
}

int deliver_poll(struct deliver *d, int timeout_ms, int extra_fd)
{
	int running = 0, left = 0;
	CURLMsg *msg;
	struct curl_waitfd w = {extra_fd, CURL_WAIT_POLLIN, 0};

	curl_multi_perform(d->m, &running);
	curl_multi_poll(d->m, extra_fd >= 0 ? &w : NULL, extra_fd >= 0 ? 1 : 0,
			timeout_ms, NULL);
	curl_multi_perform(d->m, &running);
	while ((msg = curl_multi_info_read(d->m, &left))) {
		struct transfer *t;
		struct job *j;
		char what[300];
		long code = 0;
		bool ok;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
				  (char **)&t);
		curl_easy_getinfo(t->e, CURLINFO_RESPONSE_CODE, &code);
		if (msg->data.result != CURLE_OK) {
			ok = false;
			snprintf(what, sizeof(what), "%s",
				 t->errbuf[0]
				     ? t->errbuf
				     : curl_easy_strerror(msg->data.result));
		} else if (t->http) {
			ok = code >= 200 && code < 300;
			snprintf(what, sizeof(what), "HTTP %ld", code);
		} else {
			ok = true;
			snprintf(what, sizeof(what), "SMTP %ld", code);
		}
		j = t->j;
		long ms = (long)(wall_ms() - t->start_ms);
		t_remove(d, t);
		d->fn(d->ctx, j, ok, what, ms);
	}
	return 0;
}

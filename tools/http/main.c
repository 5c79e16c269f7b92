/*
 * main.c - bookd-http: options, the HTTP daemon and the life of one request.
 *
 * Owns: the command line (gw_cfg), the libmicrohttpd daemon (a pool of
 * gw_cfg.threads threads, epoll inside each, suspend/resume for streams),
 * the order every request goes through, and the answer helpers:
 *
 *   body gathered (at most --max-body, else 413) -> client address ->
 *   rate bucket (429) -> identity (Bearer JWT, else the session cookie,
 *   made on first sight) -> CORS (preflight; Origin checked) -> CSRF for
 *   state-changing methods (application/json and the same-site cookie or a
 *   Bearer token) -> dispatch (/v1/admin, /v1, /healthz, /metrics, static).
 *
 * Invariants: every answer goes through gw_send() (or the stream), which
 * adds the common headers and records the metrics; the session id is 128
 * random bits that only the browser and this process see (the engine sees
 * a hash of it); no header or body beyond its limit is kept.
 *
 * How it fails: bad options end the process with a message and exit 2; an
 * engine that is not there at start-up is exit 1; after start-up a lost
 * engine is 503 per request.  SIGINT/SIGTERM end streams cleanly, then the
 * daemon.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"
#include "num.h"

struct gw_config gw_cfg = {
    .threads = 2,
    .max_conns = 1024,
    .max_conns_per_ip = 128,
    .timeout_s = 10,
    .max_streams = 512,
    .max_streams_per_ip = 8,
    .max_body = GW_MAX_BODY_DEFAULT,
    .rate_per_ip = 50,
};

int64_t gw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* Fetched once at start: SHA256() fetches the algorithm (and takes the
 * provider's locks) on every call; a fetched EVP_MD is safe to share. */
static EVP_MD *sha;

/* "c-" or "u-" and 32 hex digits of SHA-256(what). */
static void visitor_id(char prefix, const char *what,
		       char out[GW_VISITOR_MAX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (sha == NULL ||
	    !EVP_Digest(what, strlen(what), md, &mdlen, sha, NULL) ||
	    mdlen < 16)
		SHA256((const unsigned char *)what, strlen(what), md);
	out[0] = prefix;
	out[1] = '-';
	hex(md, 16, out + 2);
}

/* ---------------------------------------------------------------------- */
/* Answers. */

void gw_common_headers(struct gw_req *q, struct MHD_Response *r)
{
	char cookie[128];

	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (q->new_sid) {
		snprintf(cookie, sizeof cookie,
			 GW_SID_COOKIE "=%s; Path=/; HttpOnly; SameSite=Lax%s",
			 q->sid, gw_cfg.cookie_secure ? "; Secure" : "");
		MHD_add_response_header(r, "Set-Cookie", cookie);
	}
	if (q->origin_ok) {
		MHD_add_response_header(r, "Access-Control-Allow-Origin",
					q->origin_ok);
		MHD_add_response_header(r, "Access-Control-Allow-Credentials",
					"true");
		MHD_add_response_header(r, "Vary", "Origin");
	}
}

enum MHD_Result gw_queue(struct gw_req *q, unsigned status,
			 struct MHD_Response *r)
{
	enum MHD_Result ok;

	gw_common_headers(q, r);
	ok = MHD_queue_response(q->conn, status, r);
	MHD_destroy_response(r);
	gw_metrics_record(q->route, status, gw_now_ns() - q->t0_ns);
	return ok;
}

enum MHD_Result gw_send(struct gw_req *q, unsigned status, char *body,
			size_t len, const char *ctype)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type",
				ctype ? ctype : "application/json");
	return gw_queue(q, status, r);
}

enum MHD_Result gw_json(struct gw_req *q, unsigned status, json_t *obj)
{
	char *text;

	if (obj == NULL)
		return gw_problem(q, 500, "INTERNAL", "out of memory", NULL);
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (text == NULL)
		return gw_problem(q, 500, "INTERNAL", "out of memory", NULL);
	return gw_send(q, status, text, strlen(text), NULL);
}

static const char *title_of(unsigned status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 503:
		return "Service Unavailable";
	default:
		return status >= 500 ? "Internal Server Error" : "Error";
	}
}

enum MHD_Result gw_problem(struct gw_req *q, unsigned status, const char *code,
			   const char *detail, const char *field)
{
	json_t *p;
	char *text;

	p = json_pack("{s:s,s:s,s:i,s:s,s:s}", "type", "about:blank", "title",
		      title_of(status), "status", (int)status, "code", code,
		      "detail", detail);
	if (p && field)
		json_object_set_new(p, "field", json_string(field));
	text = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	if (text == NULL)
		return MHD_NO;
	return gw_send(q, status, text, strlen(text),
		       "application/problem+json");
}

/* ---------------------------------------------------------------------- */
/* Static files. */

static const char *ctype_of(const char *path)
{
	static const char *const map[][2] = {
	    {".html", "text/html; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".mjs", "text/javascript; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".json", "application/json"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	    {".txt", "text/plain; charset=utf-8"},
	    {".ics", "text/calendar; charset=utf-8"},
	    {".webmanifest", "application/manifest+json"},
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof map / sizeof map[0]; i++)
		if (strcmp(dot, map[i][0]) == 0)
			return map[i][1];
	return "application/octet-stream";
}

static enum MHD_Result serve_static(struct gw_req *q)
{
	char path[PATH_MAX], real[PATH_MAX], root[PATH_MAX];
	const char *u = q->url;
	struct MHD_Response *r;
	struct stat st;
	int fd;

	q->route = GW_ROUTE_STATIC;
	if (gw_cfg.static_dir == NULL ||
	    (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0))
		return gw_problem(q, 404, "NOT_FOUND", "no such page", NULL);
	if (strstr(u, "..") || strchr(u, '\\') || u[0] != '/')
		return gw_problem(q, 404, "NOT_FOUND", "no such page", NULL);
	if (realpath(gw_cfg.static_dir, root) == NULL)
		return gw_problem(q, 404, "NOT_FOUND", "no such page", NULL);
	if ((size_t)snprintf(path, sizeof path, "%s%s", root, u) >= sizeof path)
		return gw_problem(q, 404, "NOT_FOUND", "no such page", NULL);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		strncat(path, "/index.html", sizeof path - strlen(path) - 1);
	if (stat(path, &st) != 0 && strchr(strrchr(u, '/'), '.') == NULL &&
	    strlen(root) + 12 < sizeof path) {
		/* A page path without a file (such as /booking/REF) is the
		 * application's: serve its entry page. */
		strcpy(path, root);
		strcat(path, "/index.html");
	}
	if (realpath(path, real) == NULL ||
	    strncmp(real, root, strlen(root)) != 0 ||
	    (real[strlen(root)] != '/' && real[strlen(root)] != 0) ||
	    stat(real, &st) != 0 || !S_ISREG(st.st_mode))
		return gw_problem(q, 404, "NOT_FOUND", "no such page", NULL);
	fd = open(real, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gw_problem(q, 404, "NOT_FOUND", "no such page", NULL);
	r = MHD_create_response_from_fd((size_t)st.st_size, fd);
	if (r == NULL) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype_of(real));
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "same-origin");
	return gw_queue(q, 200, r);
}

/* ---------------------------------------------------------------------- */
/* The request. */

static void client_address(struct gw_req *q)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	memset(q->who.ipkey, 0, sizeof q->who.ipkey);
	strcpy(q->who.ip, "?");
	ci = MHD_get_connection_info(q->conn,
				     MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		memcpy(q->who.ipkey + 12, &in->sin_addr, 4);
		q->who.ipkey[10] = q->who.ipkey[11] = 0xff;
		inet_ntop(AF_INET, &in->sin_addr, q->who.ip, sizeof q->who.ip);
		q->who.loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		/* A /64 is one visitor's: buckets count per prefix. */
		memcpy(q->who.ipkey, &in6->sin6_addr, 8);
		inet_ntop(AF_INET6, &in6->sin6_addr, q->who.ip,
			  sizeof q->who.ip);
		q->who.loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
}

static bool hexid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* The session cookie; a new one when there is none (or a bad one). */
static void session(struct gw_req *q)
{
	const char *v = MHD_lookup_connection_value(q->conn, MHD_COOKIE_KIND,
						    GW_SID_COOKIE);
	unsigned char raw[16];

	if (v && strlen(v) == 32 && hexid(v, 32)) {
		memcpy(q->sid, v, 33);
		q->have_cookie = true;
		return;
	}
	if (RAND_bytes(raw, sizeof raw) != 1)
		arc4random_buf(raw, sizeof raw);
	hex(raw, sizeof raw, q->sid);
	q->new_sid = true;
}

/* 0, or an answer was queued (a bad token). */
static int identity(struct gw_req *q, enum MHD_Result *ans)
{
	const char *auth = MHD_lookup_connection_value(
	    q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	struct gw_claims cl;
	char why[128], key[300];

	session(q);
	if (auth == NULL) {
		visitor_id('c', q->sid, q->who.visitor);
		return 0;
	}
	if (strncasecmp(auth, "Bearer ", 7) != 0 || gw_cfg.jwks == NULL) {
		*ans = gw_problem(q, 401, "UNAUTHENTICATED",
				  gw_cfg.jwks ? "Authorization: expected "
						"\"Bearer <token>\""
					      : "this gateway takes no logins",
				  "Authorization");
		return -1;
	}
	if (gw_jwt_verify(auth + 7, &cl, why) != 0) {
		*ans =
		    gw_problem(q, 401, "UNAUTHENTICATED", why, "Authorization");
		return -1;
	}
	q->who.logged_in = true;
	q->who.admin = cl.admin;
	snprintf(q->who.sub, sizeof q->who.sub, "%s", cl.sub);
	snprintf(q->who.email, sizeof q->who.email, "%s", cl.email);
	snprintf(key, sizeof key, "%s\n%s", gw_cfg.issuer, cl.sub);
	visitor_id('u', key, q->who.visitor);
	return 0;
}

static bool same_origin(struct gw_req *q, const char *origin)
{
	const char *host = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_HOST);
	const char *p = strstr(origin, "://");

	return host && p && strcmp(p + 3, host) == 0;
}

static bool unsafe_method(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
	       strcmp(m, "DELETE") == 0 || strcmp(m, "PATCH") == 0;
}

static enum MHD_Result handle(struct gw_req *q)
{
	const char *origin =
	    MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Origin");
	enum MHD_Result ans;
	unsigned wait;

	client_address(q);
	if (q->body_too_large) {
		char d[96];
		snprintf(d, sizeof d, "the request body is over %zu bytes",
			 gw_cfg.max_body);
		return gw_problem(q, 413, "TOO_LARGE", d, NULL);
	}
	if (gw_cfg.rate_per_ip && (wait = gw_rate_take(q->who.ipkey)) != 0) {
		char s[16];
		struct MHD_Response *r;
		char *text = strdup("{\"type\":\"about:blank\",\"title\":\"Too "
				    "Many Requests\",\"status\":429,\"code\":"
				    "\"LIMIT\",\"detail\":\"too many requests "
				    "from your address; wait and retry\"}");
		if (text == NULL)
			return MHD_NO;
		snprintf(s, sizeof s, "%u", wait);
		r = MHD_create_response_from_buffer(strlen(text), text,
						    MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(r, "Content-Type",
					"application/problem+json");
		MHD_add_response_header(r, "Retry-After", s);
		ans = MHD_queue_response(q->conn, 429, r);
		MHD_destroy_response(r);
		gw_metrics_record(q->route, 429, gw_now_ns() - q->t0_ns);
		return ans;
	}
	if (origin) {
		for (size_t i = 0; i < gw_cfg.ncors; i++)
			if (strcmp(origin, gw_cfg.cors[i]) == 0)
				q->origin_ok = gw_cfg.cors[i];
	}
	if (strcmp(q->method, "OPTIONS") == 0) {
		struct MHD_Response *r;
		if (q->origin_ok == NULL)
			return gw_problem(q, 403, "FORBIDDEN",
					  "this origin may not call the API",
					  "Origin");
		r = MHD_create_response_from_buffer(0, NULL,
						    MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, "Access-Control-Allow-Methods",
					"GET, POST, PUT, PATCH, DELETE");
		MHD_add_response_header(r, "Access-Control-Allow-Headers",
					"Content-Type, Authorization, "
					"Idempotency-Key, Last-Event-ID");
		MHD_add_response_header(r, "Access-Control-Max-Age", "600");
		return gw_queue(q, 204, r);
	}
	if (identity(q, &ans) != 0)
		return ans;
	if (unsafe_method(q->method)) {
		const char *ct = MHD_lookup_connection_value(
		    q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
		if (origin && q->origin_ok == NULL && !same_origin(q, origin))
			return gw_problem(q, 403, "FORBIDDEN",
					  "cross-site request refused",
					  "Origin");
		if (ct == NULL ||
		    strncasecmp(ct, "application/json", 16) != 0 ||
		    (ct[16] != 0 && ct[16] != ';'))
			return gw_problem(q, 415, "BAD_REQUEST",
					  "send the body as application/json "
					  "(Content-Type)",
					  "Content-Type");
		if (!q->have_cookie && !q->who.logged_in)
			return gw_problem(
			    q, 403, "FORBIDDEN",
			    "no session cookie: load the booking page first "
			    "(cookies must be enabled)",
			    GW_SID_COOKIE);
	}
	if (strncmp(q->url, "/v1/admin/", 10) == 0 ||
	    strcmp(q->url, "/v1/admin") == 0) {
		q->route = GW_ROUTE_ADMIN;
		return gw_admin(q, q->url + 9);
	}
	if (strncmp(q->url, "/v1/", 4) == 0)
		return gw_api(q);
	if (strcmp(q->url, "/healthz") == 0)
		return gw_health(q);
	if (strcmp(q->url, "/metrics") == 0)
		return gw_metrics(q);
	return serve_static(q);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn,
				 const char *url, const char *method,
				 const char *version, const char *upload_data,
				 size_t *upload_size, void **con_cls)
{
	struct gw_req *q = *con_cls;

	(void)cls;
	(void)version;
	if (q == NULL) {
		q = calloc(1, sizeof *q);
		if (q == NULL)
			return MHD_NO;
		q->conn = conn;
		q->t0_ns = gw_now_ns();
		q->route = GW_ROUTE_OTHER;
		*con_cls = q;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!q->body_too_large &&
		    q->body_len + *upload_size <= gw_cfg.max_body) {
			char *nb =
			    realloc(q->body, q->body_len + *upload_size + 1);
			if (nb == NULL)
				return MHD_NO;
			memcpy(nb + q->body_len, upload_data, *upload_size);
			q->body = nb;
			q->body_len += *upload_size;
			q->body[q->body_len] = 0;
		} else {
			q->body_too_large = true;
			/* Far past the limit: stop reading and hang up rather
			 * than drain a body nobody will read. */
			q->body_seen += *upload_size;
			if (q->body_seen > 16 * (uint64_t)gw_cfg.max_body)
				return MHD_NO;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	q->method = method;
	q->url = url;
	return handle(q);
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct gw_req *q = *con_cls;

	(void)cls;
	(void)toe;
	gw_conn_request_done(conn);
	if (q) {
		free(q->body);
		free(q);
		*con_cls = NULL;
	}
}

static void log_cb(void *cls, const char *fm, va_list ap)
{
	(void)cls;
	fputs("bookd-http: ", stderr);
	vfprintf(stderr, fm, ap);
}

/* ---------------------------------------------------------------------- */
/* Options. */

static void usage(void)
{
	fputs("usage: bookd-http --socket PATH --data DIR --listen HOST:PORT\n"
	      "  [--static DIR] [--token-file F]\n"
	      "  [--jwks FILE --issuer ISS --audience AUD [--admin-claim "
	      "NAME=VALUE]]\n"
	      "  [--require-login-to-book] [--cors ORIGIN ...] [--rate-per-ip "
	      "N]\n"
	      "  [--threads N] [--max-conns N] [--max-conns-per-ip N]\n"
	      "  [--timeout S] [--max-streams N] [--max-streams-per-ip N]\n"
	      "  [--max-body BYTES] [--cookie-secure]\n",
	      stderr);
	exit(2);
}

static unsigned num(const char *opt, const char *v, unsigned lo, unsigned hi)
{
	uint64_t n;

	if (num_parse_u64(v, lo, hi, &n) < 0) {
		fprintf(stderr, "bookd-http: %s: expected a number %u..%u\n",
			opt, lo, hi);
		exit(2);
	}
	return (unsigned)n;
}

/* The options that take a whole number: where it goes and its bounds. */
struct num_opt {
	const char *name;
	unsigned *to;
	unsigned lo, hi;
};

static const struct num_opt *num_opt(const char *name)
{
	static const struct num_opt opts[] = {
	    {"--rate-per-ip", &gw_cfg.rate_per_ip, 0, 1000000},
	    {"--threads", &gw_cfg.threads, 1, 64},
	    {"--max-conns", &gw_cfg.max_conns, 1, 100000},
	    {"--max-conns-per-ip", &gw_cfg.max_conns_per_ip, 1, 100000},
	    {"--timeout", &gw_cfg.timeout_s, 1, 3600},
	    {"--max-streams", &gw_cfg.max_streams, 0, 2000},
	    {"--max-streams-per-ip", &gw_cfg.max_streams_per_ip, 0, 2000},
	};

	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
		if (strcmp(name, opts[i].name) == 0)
			return &opts[i];
	return NULL;
}

static char *read_token(const char *path)
{
	char buf[2048];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "bookd-http: --token-file %s: %s\n", path,
			strerror(errno));
		exit(2);
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	while (n &&
	       (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = 0;
	if (n == 0 || n > 1024) {
		fprintf(stderr, "bookd-http: --token-file %s: no token\n",
			path);
		exit(2);
	}
	return strdup(buf);
}

static void parse_args(int argc, char **argv)
{
	const char *listen = "127.0.0.1:8080";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		const struct num_opt *no;
#define TAKE()                                                                 \
	do {                                                                   \
		if (v == NULL)                                                 \
			usage();                                               \
		i++;                                                           \
	} while (0)
		if (strcmp(a, "--socket") == 0) {
			TAKE();
			gw_cfg.socket = v;
		} else if (strcmp(a, "--data") == 0) {
			TAKE();
			gw_cfg.data = v;
		} else if (strcmp(a, "--listen") == 0) {
			TAKE();
			listen = v;
		} else if (strcmp(a, "--static") == 0) {
			TAKE();
			gw_cfg.static_dir = v;
		} else if (strcmp(a, "--token-file") == 0) {
			TAKE();
			gw_cfg.engine_token = read_token(v);
		} else if (strcmp(a, "--jwks") == 0) {
			TAKE();
			gw_cfg.jwks = v;
		} else if (strcmp(a, "--issuer") == 0) {
			TAKE();
			gw_cfg.issuer = v;
		} else if (strcmp(a, "--audience") == 0) {
			TAKE();
			gw_cfg.audience = v;
		} else if (strcmp(a, "--admin-claim") == 0) {
			const char *eq;
			TAKE();
			eq = strchr(v, '=');
			if (eq == NULL || eq == v ||
			    (size_t)(eq - v) >= sizeof gw_cfg.admin_claim ||
			    strlen(eq + 1) >= sizeof gw_cfg.admin_value) {
				fprintf(stderr, "bookd-http: --admin-claim: "
						"expected NAME=VALUE\n");
				exit(2);
			}
			memcpy(gw_cfg.admin_claim, v, (size_t)(eq - v));
			strcpy(gw_cfg.admin_value, eq + 1);
		} else if (strcmp(a, "--require-login-to-book") == 0) {
			gw_cfg.require_login = true;
		} else if (strcmp(a, "--reads") == 0) {
			TAKE();
			if (strcmp(v, "engine") != 0 &&
			    strcmp(v, "pages") != 0) {
				fprintf(stderr, "bookd-http: --reads: pages or "
						"engine\n");
				exit(2);
			}
			gw_cfg.reads_engine = strcmp(v, "engine") == 0;
		} else if (strcmp(a, "--cookie-secure") == 0) {
			gw_cfg.cookie_secure = true;
		} else if (strcmp(a, "--cors") == 0) {
			TAKE();
			if (gw_cfg.ncors == GW_MAX_CORS) {
				fprintf(stderr,
					"bookd-http: --cors: at most "
					"%d origins\n",
					GW_MAX_CORS);
				exit(2);
			}
			gw_cfg.cors[gw_cfg.ncors++] = v;
		} else if ((no = num_opt(a)) != NULL) {
			TAKE();
			*no->to = num(a, v, no->lo, no->hi);
		} else if (strcmp(a, "--max-body") == 0) {
			TAKE();
			gw_cfg.max_body = num(a, v, 1024, 1u << 20);
		} else {
			fprintf(stderr, "bookd-http: unknown option %s\n", a);
			usage();
		}
#undef TAKE
	}
	if (gw_cfg.data == NULL) {
		fprintf(stderr, "bookd-http: --data DIR is required\n");
		usage();
	}
	if (gw_cfg.socket == NULL) {
		static char sock[PATH_MAX];
		snprintf(sock, sizeof sock, "%s/bookd.sock", gw_cfg.data);
		gw_cfg.socket = sock;
	}
	if (gw_cfg.jwks && (gw_cfg.issuer == NULL || gw_cfg.audience == NULL)) {
		fprintf(stderr,
			"bookd-http: --jwks needs --issuer and --audience\n");
		exit(2);
	}
	if (gw_cfg.require_login && gw_cfg.jwks == NULL) {
		fprintf(stderr,
			"bookd-http: --require-login-to-book needs --jwks\n");
		exit(2);
	}
	const char *colon = strrchr(listen, ':');
	if (colon == NULL || colon == listen ||
	    (size_t)(colon - listen) >= sizeof gw_cfg.listen_host) {
		fprintf(stderr, "bookd-http: --listen: expected HOST:PORT\n");
		exit(2);
	}
	memcpy(gw_cfg.listen_host, listen, (size_t)(colon - listen));
	gw_cfg.port = (uint16_t)num("--listen port", colon + 1, 0, 65535);
}

int main(int argc, char **argv)
{
	struct sockaddr_in6 sa6;
	struct sockaddr_in sa4;
	struct sockaddr *sa;
	struct MHD_Daemon *d;
	sigset_t set;
	int sig;
	unsigned flags;
	const union MHD_DaemonInfo *di;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	sha = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (gw_engine_probe() != 0)
		return 1;
	if (gw_cfg.jwks && gw_jwt_init() != 0)
		return 2;
	if (gw_stream_start() != 0 || gw_conns_start() != 0)
		return 1;

	memset(&sa4, 0, sizeof sa4);
	memset(&sa6, 0, sizeof sa6);
	if (inet_pton(AF_INET, gw_cfg.listen_host, &sa4.sin_addr) == 1) {
		sa4.sin_family = AF_INET;
		sa4.sin_port = htons(gw_cfg.port);
		sa = (struct sockaddr *)&sa4;
		flags = 0;
	} else {
		const char *h = gw_cfg.listen_host;
		char buf[64];
		size_t n = strlen(h);
		if (h[0] == '[' && n > 2 && h[n - 1] == ']') {
			memcpy(buf, h + 1, n - 2);
			buf[n - 2] = 0;
			h = buf;
		}
		if (inet_pton(AF_INET6, h, &sa6.sin6_addr) != 1) {
			fprintf(stderr,
				"bookd-http: --listen: %s is not an address\n",
				gw_cfg.listen_host);
			return 2;
		}
		sa6.sin6_family = AF_INET6;
		sa6.sin6_port = htons(gw_cfg.port);
		sa = (struct sockaddr *)&sa6;
		flags = MHD_USE_IPv6;
	}
	flags |= MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
		 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	d = MHD_start_daemon(
	    flags, gw_cfg.port, NULL, NULL, access_cb, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, log_cb, NULL, MHD_OPTION_SOCK_ADDR, sa,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)gw_cfg.threads,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)gw_cfg.max_conns,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)gw_cfg.max_conns_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)gw_cfg.timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)(32 * 1024), MHD_OPTION_NOTIFY_COMPLETED, completed_cb,
	    NULL, MHD_OPTION_NOTIFY_CONNECTION, gw_conn_notify, NULL,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "bookd-http: cannot listen on %s:%u\n",
			gw_cfg.listen_host, gw_cfg.port);
		return 1;
	}
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	fprintf(stderr,
		"bookd-http: listening on %s:%u (engine %s, %s; visitors %s)\n",
		gw_cfg.listen_host, di ? di->port : gw_cfg.port, gw_cfg.socket,
		gw_engine_admin ? "admin" : "not admin",
		gw_as_supported ? "named with \"as\""
				: "on a public connection");
	if (di)
		printf("port %u\n", di->port);
	fflush(stdout);

	while (sigwait(&set, &sig) != 0)
		;
	fprintf(stderr, "bookd-http: stopping\n");
	gw_stream_stop();
	MHD_stop_daemon(d);
	gw_conns_stop();
	fprintf(stderr, "bookd-http: stopped\n");
	free(gw_cfg.engine_token);
	EVP_MD_free(sha);
	return 0;
}

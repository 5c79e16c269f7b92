/*
 * gw.h - what the modules of bookd-http, the web gateway, share.
 *
 * The gateway turns HTTP/1.1 + JSON into bookd calls.  libmicrohttpd runs a
 * small pool of threads (epoll inside each); every thread keeps its own
 * engine connection and its own shared-pages reader (engine.c), so a
 * request never waits for another thread.  Reads of availability come from
 * the pages; writes and holds go over the socket on the request's thread,
 * tagged with the visitor's id ("as"); pushes arrive on one connection owned
 * by the stream thread (stream.c) and leave as Server-Sent Events.
 *
 * Modules: main.c (options, the daemon, the request life cycle: limits,
 * cookies, CORS, CSRF, dispatch, responses), api.c (the public API),
 * admin.c (the admin API, /healthz, /metrics), engine.c (engine
 * connections, MessagePack <-> JSON, error mapping, times), jwt.c (OIDC
 * tokens against a JWKS file), stream.c (SSE), limits.c (per-IP buckets and
 * stream counts), conns.c (a deadline per request), metrics.c (counters
 * and histograms).
 *
 * How it fails: every failure a caller can cause is an HTTP error with an
 * application/problem+json body; a lost engine connection is 503 for the
 * request that found it and is re-made by the next one; nothing a caller
 * sends can grow the gateway without bound (bodies, headers, streams, rate
 * buckets and stream buffers are all capped).
 */
#ifndef BOOKD_GW_H
#define BOOKD_GW_H

#include <jansson.h>
#include <microhttpd.h>
#include <msgpack.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bookd.h"
#include "bookd_reader.h"

#define GW_MAX_CORS	    16
#define GW_VISITOR_MAX	    64 /* = BOOKD_AS_MAX */
#define GW_SID_COOKIE	    "bookd_sid"
#define GW_HEARTBEAT_S	    15
#define GW_STREAM_BUF_MAX   (64u * 1024)
#define GW_MAX_BODY_DEFAULT (64u * 1024)

struct gw_config {
	const char *socket;
	const char *data;
	char listen_host[64];
	uint16_t port;
	const char *static_dir;
	char *engine_token; /* from --token-file, NULL for none */
	const char *jwks, *issuer, *audience;
	char admin_claim[64], admin_value[128]; /* --admin-claim NAME=VALUE */
	bool require_login;
	const char *cors[GW_MAX_CORS];
	size_t ncors;
	unsigned rate_per_ip; /* requests per second and burst; 0: off */
	unsigned threads;
	unsigned max_conns, max_conns_per_ip;
	unsigned timeout_s;
	unsigned max_streams, max_streams_per_ip;
	size_t max_body;
	bool cookie_secure;
	bool reads_engine; /* --reads engine: never the pages (comparisons) */
};
extern struct gw_config gw_cfg;

/* Decided once at start-up (engine.c): does the engine take "as", and is
 * the gateway's own connection admin? */
extern bool gw_as_supported;
extern bool gw_engine_admin;

/* Who is asking (main.c fills it before a handler runs). */
struct gw_who {
	char visitor[GW_VISITOR_MAX + 1]; /* the id sent as "as" and session */
	bool logged_in;
	bool admin;
	char sub[256];
	char email[257];
	bool loopback;
	char ip[64]; /* textual, for logs and buckets */
	unsigned char ipkey[16];
};

/* One HTTP request while it is being handled. */
struct gw_req {
	struct MHD_Connection *conn;
	const char *method;
	const char *url;
	char *body;
	size_t body_len;
	bool body_too_large;
	uint64_t body_seen; /* bytes past the limit, discarded */
	bool have_cookie;
	char sid[33]; /* the cookie's session id, hex */
	bool new_sid; /* set a cookie on the answer */
	struct gw_who who;
	int route; /* enum gw_route, for metrics */
	int64_t t0_ns;
	const char *origin_ok; /* the Origin to echo in CORS headers, or NULL */
	bool streaming;	       /* answered with a stream (stream.c owns it) */
};

/* Routes, for metrics. */
#define GW_ROUTES(X)                                                           \
	X(OTHER, "other")                                                      \
	X(RESOURCES, "resources")                                              \
	X(EVENT_TYPES, "event_types")                                          \
	X(MONTH, "month")                                                      \
	X(DAY, "day")                                                          \
	X(DAY_ENGINE, "day_engine")                                            \
	X(HOLD, "hold")                                                        \
	X(BOOK, "book")                                                        \
	X(BOOKING, "booking")                                                  \
	X(STREAM, "stream")                                                    \
	X(ME, "me")                                                            \
	X(ADMIN, "admin")                                                      \
	X(HEALTH, "healthz")                                                   \
	X(METRICS, "metrics")                                                  \
	X(STATIC, "static")                                                    \
	X(ICAL, "ical")
enum gw_route {
#define X(a, b) GW_ROUTE_##a,
	GW_ROUTES(X)
#undef X
	    GW_NROUTES
};

/* ---- main.c: responses ---- */

/* Add the common headers to r, queue it with status, release it and record
 * the request in the metrics. */
enum MHD_Result gw_queue(struct gw_req *q, unsigned status,
			 struct MHD_Response *r);
/* Queue body (taken over) with status; ctype NULL means JSON. */
enum MHD_Result gw_send(struct gw_req *q, unsigned status, char *body,
			size_t len, const char *ctype);
/* Serialize obj (reference stolen) and send it. */
enum MHD_Result gw_json(struct gw_req *q, unsigned status, json_t *obj);
/* An RFC 9457 problem: code is the engine's error code name (or one of the
 * gateway's own), detail a sentence for people, field may be NULL. */
enum MHD_Result gw_problem(struct gw_req *q, unsigned status, const char *code,
			   const char *detail, const char *field);
/* Add the headers every answer carries (cookie, CORS, no-store). */
void gw_common_headers(struct gw_req *q, struct MHD_Response *r);
int64_t gw_now_ns(void);

/* ---- engine.c ---- */

/* The calling thread's reader (NULL when the pages cannot be opened). */
bookd_reader *gw_reader(void);

/*
 * One engine call on the calling thread's connection.  visitor non-NULL:
 * the request runs as that visitor (role public).  args: a packed map or
 * NULL.  0 with *res, or a negative bookd_err; *errobj then holds the
 * engine's error map (or NULL for a transport error).
 */
int gw_call(const char *visitor, const char *op, const msgpack_sbuffer *args,
	    const msgpack_object **res, const msgpack_object **errobj);
/*
 * n requests pipelined on one round trip (same visitor rule as gw_call).
 * take(i, rc, res, errobj, ctx) sees each reply in order; res and errobj
 * are valid only during that call.  0 when every reply was taken, else a
 * transport error (503) and take may have seen only some replies.
 */
typedef void (*gw_take_fn)(size_t i, int rc, const msgpack_object *res,
			   const msgpack_object *errobj, void *ctx);
int gw_call_n(const char *visitor, size_t n, const char *const *ops,
	      const msgpack_sbuffer *const *args, gw_take_fn take, void *ctx);
/* The engine's error as a problem answer (public: conflicts stay bare). */
enum MHD_Result gw_engine_problem(struct gw_req *q, int err,
				  const msgpack_object *errobj, bool public);
/* HTTP status for an engine error code. */
unsigned gw_status_of(int err);

/* MessagePack object to JSON; instants get ISO companions in zone tz (NULL:
 * UTC; a booking's own "timezone" wins inside it). */
json_t *gw_to_json(const msgpack_object *o, const char *tz);
/* Re-write the ISO strings of a converted tree for zone tz (a booking's
 * own "timezone" still wins inside it).  Lets a caller convert a result
 * first and ask the engine for the zone after. */
void gw_rezone(json_t *v, const char *tz);
/* Pack a JSON value as MessagePack into pk (0 or -1 for a value MessagePack
 * cannot hold). */
int gw_pack_json(msgpack_packer *pk, const json_t *v);
/* "2026-12-07T09:00:00+01:00" for Unix seconds t in zone tz (NULL: UTC). */
void gw_iso(int64_t t, const char *tz, char out[40]);
struct tz;
/* The same with the zone already loaded (NULL: UTC). */
void gw_iso_z(int64_t t, const struct tz *z, char out[40]);
/* The same with the UTC offset (seconds east) already known. */
void gw_iso_off(int64_t t, int64_t off, char out[40]);
/* Set key (ISO) and key_unix on obj for instant t. */
void gw_set_time(json_t *obj, const char *key, int64_t t, const char *tz);
/* Parse an instant: a JSON integer (Unix seconds) or an ISO 8601 string
 * with offset or Z.  0 or -1. */
int gw_parse_instant(const json_t *v, int64_t *out);
/* The zone of a resource as the engine last said (cached a few seconds);
 * 0, or a negative bookd_err (NOT_FOUND when it is unknown or, for
 * public, inactive). */
int gw_resource_zone(const char *id, char tz[65]);
/* Ask the engine at start-up what it supports; 0 or -1 (message printed). */
int gw_engine_probe(void);
msgpack_object gw_nil(void);
const msgpack_object *gw_get(const msgpack_object *map, const char *key);

/* ---- api.c / admin.c ---- */
enum MHD_Result gw_api(struct gw_req *q);
enum MHD_Result gw_admin(struct gw_req *q, const char *path);
/* feed.c: GET .../resources/{id}/calendar.ics (admin: with bookers). */
enum MHD_Result gw_ical(struct gw_req *q, const char *id, size_t idlen,
			bool admin);
enum MHD_Result gw_health(struct gw_req *q);
enum MHD_Result gw_metrics(struct gw_req *q);

/* ---- jwt.c ---- */
struct gw_claims {
	char sub[256];
	char email[257];
	bool admin;
};
/* Load the JWKS file (also called to reload); 0 or -1 with a message. */
int gw_jwt_init(void);
/* Verify a compact JWS; 0 with claims, or -1 with a reason in why. */
int gw_jwt_verify(const char *token, struct gw_claims *out, char why[128]);

/* ---- stream.c ---- */
int gw_stream_start(void);
void gw_stream_stop(void);
enum MHD_Result gw_stream_open(struct gw_req *q);

/* ---- limits.c ---- */
/* Take a token from ip's bucket: 0, or the seconds to wait. */
unsigned gw_rate_take(const unsigned char key[16]);
/* Count a stream for ip: 0, or -1 when a cap is reached. */
int gw_streams_acquire(const unsigned char key[16]);
void gw_streams_release(const unsigned char key[16]);
unsigned gw_streams_open(void);

/* ---- conns.c ---- */
int gw_conns_start(void);
void gw_conns_stop(void);
void gw_conn_notify(void *cls, struct MHD_Connection *conn, void **ctx,
		    enum MHD_ConnectionNotificationCode code);
/* The connection answered a request: its next one starts its clock. */
void gw_conn_request_done(struct MHD_Connection *conn);
/* The connection carries a stream: no deadline any more. */
void gw_conn_exempt(struct MHD_Connection *conn);

/* ---- metrics.c ---- */
void gw_metrics_record(int route, unsigned status, int64_t ns);
/* Append the gateway's own series in Prometheus text format. */
void gw_metrics_text(char **buf, size_t *len, size_t *cap);
void gw_buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

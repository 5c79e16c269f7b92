/*
 * conns.c - a deadline for every request, so slow senders cannot keep
 * connections by dribbling.
 *
 * libmicrohttpd closes a connection that is silent for --timeout seconds,
 * but one that sends a byte every few seconds stays open for ever.  This
 * module tracks every connection (libmicrohttpd's start and close
 * notifications) with the time its current request began: the connection
 * start, then the end of each answered request.  Once a second a thread
 * shuts down the socket of every connection whose request has taken longer
 * than the deadline (twice --timeout); libmicrohttpd then sees the end of
 * the stream and closes it.  Streams are exempt once their answer started.
 *
 * Invariants: a slot names a socket only between the start and the close
 * notification, and the socket is shut down only under the table's mutex,
 * so a descriptor that was closed and reused is never touched (the close
 * notification comes before libmicrohttpd closes the descriptor).  The
 * table has gw_cfg.max_conns slots, as many as libmicrohttpd admits.
 *
 * How it fails: with no free slot (cannot happen while the daemon's own
 * connection limit holds) a connection is simply not tracked.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw.h"

struct track {
	bool used;
	bool exempt;
	int fd;
	int64_t since_ns;
};

static struct track *tracks;
static size_t ntracks;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t thread;
static atomic_bool stopping;
static bool started;

void gw_conn_notify(void *cls, struct MHD_Connection *conn, void **ctx,
		    enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *ci;
	struct track *t = *ctx;

	(void)cls;
	pthread_mutex_lock(&mu);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn,
					     MHD_CONNECTION_INFO_CONNECTION_FD);
		for (size_t i = 0; ci && i < ntracks; i++)
			if (!tracks[i].used) {
				tracks[i] = (struct track){
				    .used = true,
				    .fd = ci->connect_fd,
				    .since_ns = gw_now_ns(),
				};
				*ctx = &tracks[i];
				break;
			}
	} else if (t) {
		t->used = false;
		*ctx = NULL;
	}
	pthread_mutex_unlock(&mu);
}

static struct track *track_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

void gw_conn_request_done(struct MHD_Connection *conn)
{
	struct track *t = track_of(conn);

	if (t == NULL)
		return;
	pthread_mutex_lock(&mu);
	if (t->used)
		t->since_ns = gw_now_ns();
	pthread_mutex_unlock(&mu);
}

void gw_conn_exempt(struct MHD_Connection *conn)
{
	struct track *t = track_of(conn);

	if (t == NULL)
		return;
	pthread_mutex_lock(&mu);
	if (t->used)
		t->exempt = true;
	pthread_mutex_unlock(&mu);
}

static void *run(void *arg)
{
	int64_t deadline = 2LL * gw_cfg.timeout_s * 1000000000LL;

	(void)arg;
	while (!atomic_load(&stopping)) {
		int64_t now = gw_now_ns();

		pthread_mutex_lock(&mu);
		for (size_t i = 0; i < ntracks; i++) {
			struct track *t = &tracks[i];
			if (t->used && !t->exempt &&
			    now - t->since_ns > deadline) {
				shutdown(t->fd, SHUT_RDWR);
				t->since_ns = now;
			}
		}
		pthread_mutex_unlock(&mu);
		usleep(250000);
	}
	return NULL;
}

int gw_conns_start(void)
{
	ntracks = gw_cfg.max_conns;
	tracks = calloc(ntracks, sizeof *tracks);
	if (tracks == NULL || pthread_create(&thread, NULL, run, NULL) != 0)
		return -1;
	started = true;
	return 0;
}

void gw_conns_stop(void)
{
	if (!started)
		return;
	atomic_store(&stopping, true);
	pthread_join(thread, NULL);
	free(tracks);
	tracks = NULL;
	ntracks = 0;
}

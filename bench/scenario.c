/*
 * scenario.c - the engine every scenario starts from.  See scenario.h.
 */
#include "scenario.h"
#include "util.h"

int bench_ctx_engine(struct bench_ctx *x, struct bench_engine *e,
		     const char *extra)
{
	char args[256];
	bookd_conn *c;
	int rc;

	bench_fmt(args, sizeof args, "%s %s", extra ? extra : "",
		  x->engine_args ? x->engine_args : "");
	if (x->attach_sock)
		rc = bench_engine_attach(e, x->attach_sock, x->attach_data);
	else
		rc = bench_engine_start(e, x->bin, x->base, args);
	if (rc < 0)
		return -1;
	c = bench_engine_connect(e);
	if (c == NULL)
		goto fail;
	rc = bench_create_resources(c, x->nres);
	bookd_close(c);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	bench_engine_cleanup(e);
	return -1;
}

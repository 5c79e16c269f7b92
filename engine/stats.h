/*
 * stats.h - the engine's counters, as the "stats" operation reports them.
 *
 * One struct stats belongs to the server; the loop, the commit and the
 * publisher each get a pointer to it and bump their own counters.  The
 * counters only grow and are read only by the engine thread.
 */
#ifndef BOOKD_STATS_H
#define BOOKD_STATS_H

#include <stdint.h>

struct stats {
	uint64_t conns_total;  /* loop: connections accepted */
	uint64_t ops;	       /* loop: frames handled */
	uint64_t commits;      /* commit: groups made durable */
	uint64_t fsyncs;       /* commit */
	uint64_t inline_syncs; /* commit: of them, a lone request's, inline */
	uint64_t records;      /* commit: records in those groups */
	uint64_t pushes;       /* publisher */
	uint64_t cut_off;      /* loop: connections cut for unread pushes */
};

#endif

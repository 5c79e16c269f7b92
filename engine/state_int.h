/*
 * state_int.h - what state.c and records.c share inside the domain, and no
 * one else uses.  Allocation failure in these helpers is fatal (abort), as
 * everywhere in the in-memory state.
 */
#ifndef BOOKD_STATE_INT_H
#define BOOKD_STATE_INT_H

#include "state.h"

void *st_calloc(size_t n, size_t sz);
char *st_strndup(const char *s, size_t n);
/* Grow v (of *cap elements of sz bytes) to hold need; returns it. */
void *st_grow(void *v, size_t *cap, size_t need, size_t sz);
/* Add a new booking to the e-mail index (records.c, on insertion). */
void st_index_email(struct state *st, const struct booking *b);
/* The slot of day in each resource's ring of days. */
uint32_t st_ring(const struct state *st, int64_t day);
/* A zeroed booking in the state's arena (a booking that is dropped or
 * replaced stays there until state_free). */
struct booking *st_new_booking(struct state *st);
/* Room for n history entries in the arena, rounded up to a power of two:
 * a history of n entries has that much room, and grows by doubling. */
struct hist *st_hist_alloc(struct state *st, size_t n);
/* Fetch the day slots b occupies first into the cache, ahead of use. */
void st_prefetch_days(const struct state *st, const struct booking *b);
/* Booking strings: the one copy of a string that repeats (time zones,
 * event types, principals, reasons), or a copy in the arena. */
const char *st_intern(struct state *st, const char *s, size_t n);
const char *st_keep(struct state *st, const char *s, size_t n);
void st_push_delta(struct state *st, const struct delta *d);
/* The open bits of day under schedule sc (NULL: always open). */
void st_open_bits(const struct sched *sc, int64_t day, uint64_t open[2]);
/* (Re)build day's slot of r from its schedule. */
void st_init_day(const struct resource *r, struct rday *d, int64_t day);
void st_requant_copy(uint16_t **unitsp, uint64_t booked[2], uint32_t q);
/* "<owner>\x1f<key>" into buf: the index of an idempotency key; 0 when it
 * does not fit. */
size_t st_key_index(char *buf, size_t cap, const char *owner, const char *key,
		    size_t len);

/* Shared by the record files (records.c, records_catalog.c): field readers
 * of a decoded record, and the appliers of the catalog's records. */
int64_t rec_int(const msgpack_object *o, int64_t dflt);
bool rec_bool(const msgpack_object *o, bool dflt);
void rec_pack_meta(const msgpack_object *o, char **out, uint32_t *len);
void rec_replace_str(char **dst, const msgpack_object *o);
void rec_pk_kraw(msgpack_packer *pk, const char *key, const char *raw,
		 uint32_t len);
int rec_apply_event_type(struct state *st, const msgpack_object *m);
int rec_apply_shared_sched(struct state *st, const msgpack_object *m);
int rec_apply_holidays(struct state *st, const msgpack_object *m);

#endif

/*
 * icalfeed.c - a stored booking as an iCalendar event (see icalfeed.h).
 */
#include <string.h>
#include "icalfeed.h"

void ical_from_booking(struct ical_booking *e, const struct bookd_booking *b,
		       const char *title, bool admin)
{
	memset(e, 0, sizeof(*e));
	e->id = b->id;
	e->status = b->status;
	e->start = b->start;
	e->end = b->end;
	e->created_ms = b->created_ms;
	e->updated_ms = b->updated_ms;
	e->sequence = b->nhistory ? (unsigned)b->nhistory - 1 : 0;
	e->title =
	    admin && b->event_type && b->event_type[0] ? b->event_type : title;
	e->location = title;
	e->name = b->name;
	e->email = b->email;
	e->phone = b->phone;
	e->notes = b->notes;
	e->note = b->note;
	e->ref = b->ref;
}

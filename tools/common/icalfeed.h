/*
 * icalfeed.h - a stored booking as an iCalendar event: the one mapping
 * from the engine's booking record (struct bookd_booking, decoded by the
 * client library) to the writer's struct ical_booking, shared by bookctl
 * ical and the gateway's calendar feeds.
 *
 * The mapping: SEQUENCE is the number of changes after creation (history
 * entries minus one); the event's title is the booking's event type in an
 * admin feed when it has one, else the feed's title (the resource's name),
 * which is also the LOCATION; booker details are copied as they are and
 * ical_event() writes them only for admin feeds.
 *
 * The result points into b and title: it is valid until the booking is
 * freed.  The function cannot fail.
 */
#ifndef BOOKD_ICALFEED_H
#define BOOKD_ICALFEED_H

#include <stdbool.h>
#include "bookd.h"
#include "ical.h"

void ical_from_booking(struct ical_booking *e, const struct bookd_booking *b,
		       const char *title, bool admin);

#endif

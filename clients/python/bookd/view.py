"""The day view (SPEC ``slots.view``) derived locally, as a pure function.

``slots.view`` is defined as a derivation from two queries: the stable
``slots.day`` (bookable starts, holds ignored) and the volatile ``holds.day``
(active holds touching the day, ``mine`` marking the caller's session).  A
start is ``reserved`` when its span ``[start, start + duration)`` overlaps a
hold that is not the caller's, otherwise ``available``; the list is in time
order, never grouped by state.  Deriving it locally lets a page keep its slot
list (which changes only with bookings) and re-derive just the states when a
``holds`` push arrives.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable, Mapping, Union

from ._wire import instant, to_wire
from .types import AVAILABLE, RESERVED, DaySlots, HoldSpan, ViewSlot

Instant = Union[_dt.datetime, int]
"""An aware datetime or Unix seconds."""


def _seconds(t: Instant) -> int:
    return int(to_wire(t))


def _minutes(d: Union[int, _dt.timedelta]) -> int:
    return int(to_wire(d))


def _span(h: Union[HoldSpan, Mapping[str, Any]]) -> tuple[int, int, bool]:
    if isinstance(h, HoldSpan):
        return _seconds(h.start), _seconds(h.end), bool(h.mine)
    return _seconds(h["start"]), _seconds(h["end"]), bool(h.get("mine"))


def day_view(slots: Union[DaySlots, Iterable[Instant]],
             holds: Iterable[Union[HoldSpan, Mapping[str, Any]]],
             duration: Union[int, _dt.timedelta]) -> list[ViewSlot]:
    """Mark each start available or reserved, in chronological order.

    ``slots`` is a ``slots.day`` result (or its starts), ``holds`` a
    ``holds.day`` result (or maps with ``start``, ``end``, ``mine``), and
    ``duration`` the viewer's span in minutes (or a timedelta) — the same
    duration the slots were asked for.  Holds marked ``mine`` never reserve:
    a user's own hold does not hide the slot they are holding.  A span may
    run past midnight, so ``holds`` must include the holds of the following
    days it reaches (``Client.day_view`` asks for them).
    """
    starts = slots.slots if isinstance(slots, DaySlots) else slots
    length = _minutes(duration) * 60
    if length <= 0:
        raise ValueError("duration must be positive")
    others = sorted((s, e) for s, e, mine in map(_span, holds) if not mine)
    out = []
    for start in sorted({_seconds(s) for s in starts}):
        end = start + length
        reserved = any(hs < end and start < he for hs, he in others)
        out.append(ViewSlot(instant(start), RESERVED if reserved
                            else AVAILABLE))
    return out

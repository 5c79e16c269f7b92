"""Result types of the bookd client.

Each is a small dataclass built from a reply map.  Instants (Unix seconds on
the wire) become aware UTC :class:`datetime.datetime` values and dates
(``YYYY-MM-DD``) become :class:`datetime.date`; millisecond timestamps
(``*_ms``) stay integers.  Keys the engine sends that a dataclass does not
name are kept in its ``extra`` dict, so a newer engine's additions are never
lost; keys it leaves out are ``None``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, TypeVar

from ._wire import day, instant

T = TypeVar("T")


def _build(cls: type[T], data: Any,
           conv: Mapping[str, Callable[[Any], Any]] | None = None) -> T:
    """Fill dataclass cls from a reply map, converting the named fields."""
    if not isinstance(data, dict):
        data = {}
    conv = conv or {}
    names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
    kwargs: dict[str, Any] = {}
    for name in names:
        value = data.get(name)
        if value is not None and name in conv:
            value = conv[name](value)
        kwargs[name] = value
    kwargs["extra"] = {k: v for k, v in data.items() if k not in names}
    return cls(**kwargs)


def _page(cls: type[T], data: Any, key: str,
          item: Callable[[Any], Any]) -> T:
    """Fill page dataclass cls: its list ``key`` made of ``item(each)``,
    ``[]`` when the reply leaves it out."""
    page = _build(cls, data, {key: lambda v: [item(x) for x in v]})
    if getattr(page, key) is None:
        setattr(page, key, [])
    return page


@dataclass
class ServerInfo:
    """The reply to ``hello``."""

    server: Optional[str]
    version: Optional[str]
    proto: Optional[int]
    role: Optional[str]
    """``"admin"`` or ``"public"``: this connection's role."""
    quantum: Optional[int]
    hold_ttl_ms: Optional[int]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> "ServerInfo":
        return _build(cls, data)


@dataclass
class Resource:
    """A bookable resource (a studio, a room, a pool of microphones)."""

    id: str
    name: Optional[str]
    kind: Optional[str]
    timezone: Optional[str]
    schedule: Any
    quantity: Optional[int]
    standalone: Optional[bool]
    active: Optional[bool]
    meta: Any
    extra: dict[str, Any] = field(default_factory=dict)
    """Other keys, e.g. what ``resource.update`` reports about bookings."""

    @classmethod
    def from_wire(cls, data: Any) -> "Resource":
        return _build(cls, data)


@dataclass
class EventType:
    """What a booker picks: lengths, linked resources, buffers (minutes)."""

    id: str
    title: Optional[str]
    lengths: Optional[list[int]]
    slot_interval: Optional[int]
    resources: Optional[list[str]]
    buffer_before: Optional[int]
    buffer_after: Optional[int]
    min_notice: Optional[int]
    max_future: Optional[int]
    requires_confirmation: Optional[bool]
    active: Optional[bool]
    meta: Any
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> "EventType":
        return _build(cls, data)


@dataclass
class Booking:
    """A booking; ``start``/``end`` are aware UTC datetimes."""

    id: int
    ref: Optional[str]
    resources: Optional[list[str]]
    items: Optional[list[dict[str, Any]]]
    start: _dt.datetime
    end: _dt.datetime
    status: str
    booker: Optional[dict[str, Any]]
    timezone: Optional[str]
    event_type: Optional[str]
    note: Optional[str]
    created_ms: Optional[int]
    updated_ms: Optional[int]
    history: Optional[list[dict[str, Any]]]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> "Booking":
        return _build(cls, data, {"start": instant, "end": instant})


@dataclass
class BookingPage:
    """One page of ``booking.list``; pass ``next`` as ``after`` for more."""

    bookings: list[Booking]
    next: Optional[int]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> "BookingPage":
        return _page(cls, data, "bookings", Booking.from_wire)


@dataclass
class ResourcePage:
    """One page of ``resource.list {after, limit}``; pass ``next`` as
    ``after`` for more."""

    resources: list[Resource]
    next: Optional[int]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> "ResourcePage":
        return _page(cls, data, "resources", Resource.from_wire)


@dataclass
class Event:
    """One entry of the durable ``events`` feed."""

    lsn: int
    type: str
    at_ms: Optional[int]
    booking: Optional[Booking]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> "Event":
        return _build(cls, data, {"booking": Booking.from_wire})


@dataclass
class EventPage:
    """One page of ``events``; pass ``next`` as ``after`` for more."""

    events: list[Event]
    next: Optional[int]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> "EventPage":
        return _page(cls, data, "events", Event.from_wire)


@dataclass
class CheckResult:
    """The reply to ``check``: ``reason`` is set when not free."""

    free: bool
    reason: Optional[str]
    """``"booked"``, ``"held"``, ``"closed"`` or ``"inactive"``."""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> "CheckResult":
        return _build(cls, data)


@dataclass
class DaySlots:
    """The reply to ``slots.day``: bookable starts, in order."""

    date: _dt.date
    tz: Optional[str]
    slots: list[_dt.datetime]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> "DaySlots":
        out = _build(cls, data, {
            "date": day, "slots": lambda v: [instant(s) for s in v]})
        if out.slots is None:
            out.slots = []
        return out


@dataclass
class HoldSpan:
    """An active hold touching a day (``holds.day``)."""

    start: _dt.datetime
    end: _dt.datetime
    mine: bool
    """Whether the hold belongs to the session named in the query."""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> "HoldSpan":
        return _build(cls, data, {"start": instant, "end": instant})


AVAILABLE = "available"
RESERVED = "reserved"


@dataclass
class ViewSlot:
    """One start of the day view, ``available`` or ``reserved``."""

    start: _dt.datetime
    state: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.state == AVAILABLE

    @classmethod
    def from_wire(cls, data: Any) -> "ViewSlot":
        return _build(cls, data, {"start": instant})


@dataclass
class HoldGrant:
    """The reply to ``hold`` and ``hold.many``."""

    expires_at_ms: int
    """When the hold lapses unless renewed, in Unix milliseconds."""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> "HoldGrant":
        return _build(cls, data)


@dataclass
class Push:
    """A ``changed`` notification of a subscription.

    It names what changed, not the new data: re-read the day (``slots_day``,
    ``holds_day`` or :meth:`day_view`) when one arrives.
    """

    push: str
    sub: int
    topic: Optional[str]
    resource: Optional[str]
    date: Optional[_dt.date]
    version: Optional[int]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> "Push":
        return _build(cls, data, {"date": day})


def slots_month_from_wire(data: Any) -> dict[_dt.date, bool]:
    """The reply to ``slots.month``: date -> whether any start is free."""
    if not isinstance(data, dict):
        return {}
    return {day(k): bool(v) for k, v in sorted(data.items())}

"""The operations of bookd as methods, shared by the sync and asyncio clients.

:class:`Operations` turns each typed method into one call of ``self._op(op,
args, convert)``: the synchronous client sends the request and returns the
converted result, the asyncio client returns an awaitable of it, so both
expose the same surface from one definition.  The annotations name the
synchronous result; on :class:`bookd.aio.AsyncClient` each method returns an
awaitable of that type.

Argument rules, the same for every method: keywords are the wire names of
SPEC section 3 (``from_`` for ``from``); ``None`` means "not given" and is
left out of the request (pass :data:`NIL` to send an explicit nil, e.g. to
clear a schedule); aware datetimes, dates and timedeltas are converted (see
:mod:`bookd._wire`).

Operations that appear in proto/ops.h after this file was written (the
generated table is the authority) are still reachable as methods named after
them: ``client.schedule_put(id=..., ...)`` sends ``schedule.put`` with the
keyword arguments as given and returns the raw result.
"""

from __future__ import annotations

import abc
import datetime as _dt
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

from ._ops import OPS
from ._wire import wire_args
from .types import (
    Booking,
    BookingPage,
    ResourcePage,
    CheckResult,
    DaySlots,
    EventPage,
    EventType,
    HoldGrant,
    HoldSpan,
    Resource,
    ServerInfo,
    ViewSlot,
    slots_month_from_wire,
)

OPS_BY_WIRE = {op.wire: op for op in OPS}
OPS_BY_IDENT = {op.ident: op for op in OPS}

Instant = Union[_dt.datetime, int]
"""An aware datetime or Unix seconds (a multiple of 900 for spans)."""
Day = Union[_dt.date, str]
"""A date or a ``YYYY-MM-DD`` string."""
Minutes = Union[int, _dt.timedelta]
"""Minutes, or a timedelta of whole minutes."""


class _Nil:
    """The type of :data:`NIL`."""

    def __repr__(self) -> str:
        return "bookd.NIL"


NIL: Any = _Nil()
"""Pass as an argument to send an explicit nil (``None`` omits it)."""


def _raw(value: Any) -> Any:
    return value


def _args(**kw: Any) -> dict[str, Any]:
    """Wire args from keywords: None dropped, NIL sent as nil."""
    out = wire_args({k: v for k, v in kw.items()
                     if v is not None and v is not NIL})
    for k, v in kw.items():
        if v is NIL:
            out[k[:-1] if k.endswith("_") else k] = None
    return out


def _resources(items: Optional[Sequence[Any]]) -> Optional[list[Any]]:
    """``book``'s resources: ids, ``{id, quantity}`` maps or (id, n) pairs."""
    if items is None:
        return None
    return [{"id": r[0], "quantity": r[1]} if isinstance(r, tuple) else r
            for r in items]


def _holds(items: Iterable[Any]) -> list[Any]:
    """``hold.many``'s holds: ``{resource, start, end}`` maps or triples."""
    return [{"resource": h[0], "start": h[1], "end": h[2]}
            if isinstance(h, tuple) else h for h in items]


def _weekly(items: Iterable[Any]) -> list[Any]:
    """``schedule.put``'s weekly windows: maps or (day, start, end)."""
    return [{"day": w[0], "start": w[1], "end": w[2]}
            if isinstance(w, tuple) else w for w in items]


def _view_dates(date: Day, duration: Minutes) -> list[_dt.date]:
    """The local dates whose holds can touch a day view's spans.

    A span starts on ``date`` but may run past midnight, so holds of the
    following dates matter too: as many as a span of ``duration`` can reach
    when every local day is as short as a DST day (23 hours).
    """
    first = date if isinstance(date, _dt.date) else \
        _dt.date.fromisoformat(date)
    minutes = duration // _dt.timedelta(minutes=1) \
        if isinstance(duration, _dt.timedelta) else int(duration)
    return [first + _dt.timedelta(days=i)
            for i in range(2 + minutes // (23 * 60))]


def _list_of(cls: Any) -> Callable[[Any], list[Any]]:
    return lambda v: [cls.from_wire(x) for x in (v or [])]


class Operations(abc.ABC):
    """One method per operation of the wire protocol (see module doc)."""

    @abc.abstractmethod
    def _op(self, op: str, args: dict[str, Any],
            convert: Callable[[Any], Any]) -> Any:
        """Send one request and deliver ``convert(result)``."""

    def call(self, op: str, **args: Any) -> Any:
        """Call any operation by wire name; returns the raw result.

        Every keyword is sent, ``None`` as nil, with datetimes, dates and
        timedeltas converted and one trailing underscore dropped from names.
        """
        return self._op(op, wire_args(args), _raw)

    def __getattr__(self, name: str) -> Any:
        op = OPS_BY_IDENT.get(name) if not name.startswith("_") else None
        if op is None:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r}")
        wire = op.wire

        def method(**args: Any) -> Any:
            return self._op(wire, _args(**args), _raw)

        method.__name__ = name
        method.__doc__ = (f"Send ``{wire}`` ({op.role}) with the given "
                          "keyword arguments; returns the raw result. "
                          "Arguments: " +
                          (", ".join(a.name for a in op.args) or "none"))
        return method

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(OPS_BY_IDENT))

    # Session

    def hello(self, client: Optional[str] = None, role: Optional[str] = None,
              token: Optional[str] = None) -> ServerInfo:
        """Identify the client, drop to ``role="public"`` or present a token.

        Raises :class:`bookd.Forbidden` when asking for a role above the
        connection's and :class:`bookd.Unauthenticated` for a bad token.
        """
        return self._op("hello", _args(client=client, role=role, token=token),
                        self._server_info)

    def _server_info(self, result: Any) -> ServerInfo:
        """Convert a hello reply and remember it as ``self.server``."""
        info = ServerInfo.from_wire(result)
        self.server = info
        return info

    def ping(self) -> str:
        """Round trip; returns ``"pong"``."""
        return self._op("ping", {}, _raw)

    def stats(self) -> dict[str, Any]:
        """Engine counters (admin)."""
        return self._op("stats", {}, _raw)

    # Resources

    def resource_create(self, id: str, *, name: Optional[str] = None,
                        kind: Optional[str] = None,
                        timezone: Optional[str] = None,
                        schedule: Any = None,
                        quantity: Optional[int] = None,
                        standalone: Optional[bool] = None,
                        active: Optional[bool] = None,
                        meta: Any = None) -> Resource:
        """Create a resource (admin); :class:`bookd.Exists` if the id is taken.

        ``schedule`` is ``{timezone, weekly: [{day, start, end}],
        overrides?}`` as for ``schedule.put``, or the id of a shared
        schedule (a string); none means always open.
        """
        return self._op("resource.create", _args(
            id=id, name=name, kind=kind, timezone=timezone,
            schedule=schedule, quantity=quantity, standalone=standalone,
            active=active, meta=meta), Resource.from_wire)

    def resource_update(self, id: str, *, name: Optional[str] = None,
                        kind: Optional[str] = None,
                        timezone: Optional[str] = None,
                        schedule: Any = None,
                        quantity: Optional[int] = None,
                        standalone: Optional[bool] = None,
                        active: Optional[bool] = None,
                        meta: Any = None) -> Resource:
        """Change the given fields of a resource (admin).

        Effects on existing bookings (stranded by a schedule change, above a
        lowered quantity) are reported in the result's ``extra``.
        """
        return self._op("resource.update", _args(
            id=id, name=name, kind=kind, timezone=timezone,
            schedule=schedule, quantity=quantity, standalone=standalone,
            active=active, meta=meta), Resource.from_wire)

    def resource_get(self, id: str) -> Resource:
        """One resource; :class:`bookd.NotFound` if unknown (or inactive for
        a public connection)."""
        return self._op("resource.get", _args(id=id), Resource.from_wire)

    def resource_list(self, active_only: Optional[bool] = None,
                      after: Optional[int] = None,
                      limit: Optional[int] = None) -> Any:
        """All resources (public connections see active ones only).

        With ``after`` or ``limit``, one page instead: a ``ResourcePage``;
        continue with ``after=page.next`` while it is not None.
        """
        if after is None and limit is None:
            return self._op("resource.list", _args(active_only=active_only),
                            _list_of(Resource))
        return self._op("resource.list", _args(
            active_only=active_only, after=after, limit=limit),
            ResourcePage.from_wire)

    # Schedules

    def schedule_put(self, id: str, timezone: str,
                     weekly: Iterable[Union[Mapping[str, Any],
                                            tuple[int, Any, Any]]],
                     overrides: Optional[Iterable[Mapping[str, Any]]] = None,
                     holidays: Optional[Sequence[str]] = None
                     ) -> Any:
        """Set a resource's weekly open hours and date overrides (admin).

        With an id that is not a resource's, create or replace the shared
        schedule of that id; every resource using it changes with it.

        ``weekly`` holds ``{day, start, end}`` maps or ``(day, start, end)``
        triples: ISO weekday (Monday = 1) and ``"HH:MM"`` strings or
        :class:`datetime.time` values (``end`` may be ``"24:00"``).
        ``overrides`` holds ``{date, windows: [{start, end}]}``; an override
        without windows closes that date.  ``holidays`` names holiday
        calendars (see :meth:`holidays_put`) whose dates the schedule
        includes; its own overrides win over them.  Returns the engine's
        reply as is.
        """
        return self._op("schedule.put", _args(
            id=id, timezone=timezone, weekly=_weekly(weekly),
            overrides=None if overrides is None else list(overrides),
            holidays=None if holidays is None else list(holidays)), _raw)

    def schedule_get(self, id: str) -> dict[str, Any]:
        """A resource's schedule ``{timezone, weekly, overrides}``;
        :class:`bookd.NotFound` when it has none (open around the clock)."""
        return self._op("schedule.get", _args(id=id), _raw)

    def schedule_list(self) -> list[dict[str, Any]]:
        """Every resource's schedule and every shared schedule (``shared:
        True``, with the ``resources`` using it), as the engine lists them."""
        return self._op("schedule.list", {}, _raw)

    def schedule_delete(self, id: str) -> Any:
        """Delete a shared schedule (admin); :class:`bookd.InvalidState`
        while resources use it."""
        return self._op("schedule.delete", _args(id=id), _raw)

    # Holiday calendars

    def holidays_put(self, id: str, dates: Iterable[Mapping[str, Any]],
                     name: Optional[str] = None) -> dict[str, Any]:
        """Create or replace a holiday calendar (admin).

        ``dates`` holds ``{date: "YYYY-MM-DD", windows?: [{start, end}]}``:
        a date without windows is closed all day, one with windows open
        only then.  Every schedule including the calendar changes with it.
        """
        return self._op("holidays.put", _args(
            id=id, dates=list(dates), name=name), _raw)

    def holidays_get(self, id: str) -> dict[str, Any]:
        """A holiday calendar ``{id, name, dates, used_by, ...}`` (admin)."""
        return self._op("holidays.get", _args(id=id), _raw)

    def holidays_list(self) -> list[dict[str, Any]]:
        """Every holiday calendar ``{id, name, count, used_by}`` (admin)."""
        return self._op("holidays.list", {}, _raw)

    def holidays_delete(self, id: str) -> Any:
        """Delete a holiday calendar (admin); :class:`bookd.InvalidState`
        while schedules include it."""
        return self._op("holidays.delete", _args(id=id), _raw)

    # Event types

    def event_type_put(self, id: str, *, title: str,
                       lengths: Sequence[Minutes], resources: Sequence[str],
                       slot_interval: Optional[Minutes] = None,
                       buffer_before: Optional[Minutes] = None,
                       buffer_after: Optional[Minutes] = None,
                       min_notice: Optional[Minutes] = None,
                       max_future: Optional[Minutes] = None,
                       requires_confirmation: Optional[bool] = None,
                       active: Optional[bool] = None,
                       meta: Any = None) -> EventType:
        """Create or replace an event type (admin); all durations in minutes.

        A booking of this type occupies ``[start - buffer_before, end +
        buffer_after)``; ``min_notice`` and ``max_future`` bound how soon and
        how far ahead it may be booked; ``requires_confirmation`` makes its
        bookings ``pending``.
        """
        return self._op("event_type.put", _args(
            id=id, title=title, lengths=list(lengths),
            resources=list(resources), slot_interval=slot_interval,
            buffer_before=buffer_before, buffer_after=buffer_after,
            min_notice=min_notice, max_future=max_future,
            requires_confirmation=requires_confirmation, active=active,
            meta=meta), EventType.from_wire)

    def event_type_get(self, id: str) -> EventType:
        """One event type (public connections: active ones only)."""
        return self._op("event_type.get", _args(id=id), EventType.from_wire)

    def event_type_list(self) -> list[EventType]:
        """All event types (public connections: active ones only)."""
        return self._op("event_type.list", {}, _list_of(EventType))

    # Availability

    def check(self, resource: str, start: Instant, end: Instant,
              session: Optional[str] = None) -> CheckResult:
        """Whether ``[start, end)`` is free (ignoring ``session``'s hold)."""
        return self._op("check", _args(resource=resource, start=start,
                                       end=end, session=session),
                        CheckResult.from_wire)

    def slots_day(self, resource: str, date: Day, duration: Minutes,
                  interval: Optional[Minutes] = None,
                  tz: Optional[str] = None,
                  event_type: Optional[str] = None) -> DaySlots:
        """Bookable starts of a local day for spans of ``duration`` minutes.

        Steps by ``interval`` (default ``duration``); holds are ignored.
        """
        return self._op("slots.day", _args(
            resource=resource, date=date, duration=duration,
            interval=interval, tz=tz, event_type=event_type),
            DaySlots.from_wire)

    def slots_month(self, resource: str, from_: Day, to: Day,
                    duration: Minutes, interval: Optional[Minutes] = None,
                    tz: Optional[str] = None,
                    event_type: Optional[str] = None) -> dict[_dt.date, bool]:
        """Per date in ``[from_, to]``: whether ``slots_day`` has a start."""
        return self._op("slots.month", _args(
            resource=resource, from_=from_, to=to, duration=duration,
            interval=interval, tz=tz, event_type=event_type),
            slots_month_from_wire)

    def slots_view(self, resource: str, date: Day, duration: Minutes,
                   interval: Optional[Minutes] = None,
                   tz: Optional[str] = None,
                   session: Optional[str] = None,
                   event_type: Optional[str] = None) -> list[ViewSlot]:
        """The engine's day view: each start ``available`` or ``reserved``.

        :func:`bookd.day_view` computes the same list locally.
        """
        return self._op("slots.view", _args(
            resource=resource, date=date, duration=duration,
            interval=interval, tz=tz, session=session,
            event_type=event_type), _list_of(ViewSlot))

    def holds_day(self, resource: str, date: Day, tz: Optional[str] = None,
                  session: Optional[str] = None) -> list[HoldSpan]:
        """Active holds touching a day; ``mine`` marks ``session``'s."""
        return self._op("holds.day", _args(resource=resource, date=date,
                                           tz=tz, session=session),
                        _list_of(HoldSpan))

    # Holds

    def hold(self, resource: str, start: Instant, end: Instant,
             session: str) -> HoldGrant:
        """Create, replace or renew ``session``'s hold on ``resource``.

        Raises :class:`bookd.Held`, :class:`bookd.Conflict`,
        :class:`bookd.Closed`, :class:`bookd.Inactive` or
        :class:`bookd.OutOfRange`.  See also :meth:`hold_span`, which renews
        in the background.
        """
        return self._op("hold", _args(resource=resource, start=start, end=end,
                                      session=session), HoldGrant.from_wire)

    def hold_many(self, holds: Iterable[Union[Mapping[str, Any],
                                              tuple[str, Instant, Instant]]],
                  session: str) -> HoldGrant:
        """Hold several resources at once, all or nothing.

        ``holds`` holds ``{resource, start, end}`` maps or
        ``(resource, start, end)`` triples.
        """
        return self._op("hold.many", _args(holds=_holds(holds),
                                           session=session),
                        HoldGrant.from_wire)

    def release(self, resource: str, session: str) -> bool:
        """Release ``session``'s hold; returns whether there was one."""
        return self._op("release", _args(resource=resource, session=session),
                        lambda r: bool(r.get("released"))
                        if isinstance(r, dict) else False)

    # Bookings

    def book(self, *, start: Instant, end: Instant,
             booker: Mapping[str, Any], resource: Optional[str] = None,
             resources: Optional[Sequence[Any]] = None,
             timezone: Optional[str] = None,
             event_type: Optional[str] = None,
             session: Optional[str] = None, status: Optional[str] = None,
             key: Optional[str] = None, by: Optional[str] = None,
             note: Optional[str] = None) -> Booking:
        """Book ``[start, end)`` on ``resource`` or on all of ``resources``.

        ``resources`` lists ids, ``{id, quantity}`` maps or ``(id, quantity)``
        pairs; ``booker`` is ``{name, email, phone?, notes?}``.  ``session``
        names the caller's own hold, which the booking consumes; ``key`` makes
        the call idempotent.  Returns once the booking is durable.  Raises
        :class:`bookd.Conflict`, :class:`bookd.Held`, :class:`bookd.Closed`,
        :class:`bookd.Inactive`, :class:`bookd.OutOfRange` or
        :class:`bookd.NotFound`.
        """
        return self._op("book", _args(
            resource=resource, resources=_resources(resources), start=start,
            end=end, booker=dict(booker), timezone=timezone,
            event_type=event_type, session=session, status=status, key=key,
            by=by, note=note), Booking.from_wire)

    def booking_get(self, id: Optional[int] = None,
                    ref: Optional[str] = None) -> Booking:
        """One booking by ``id`` (admin) or ``ref``."""
        return self._op("booking.get", _args(id=id, ref=ref),
                        Booking.from_wire)

    def resource_delete(self, id: str) -> Resource:
        """Archive a resource no booking from now on uses (admin)."""
        return self._op("resource.delete", {"id": id}, Resource.from_wire)

    def event_type_delete(self, id: str) -> EventType:
        """Archive an event type no booking from now on uses (admin)."""
        return self._op("event_type.delete", {"id": id},
                        EventType.from_wire)

    def booking_list(self, resource: Optional[str] = None,
                     from_: Optional[Instant] = None,
                     to: Optional[Instant] = None,
                     status: Optional[str] = None,
                     limit: Optional[int] = None,
                     after: Optional[int] = None,
                     email: Optional[str] = None) -> BookingPage:
        """A page of bookings (admin); continue with ``after=page.next``.
        ``email`` selects one booker's bookings (any case), by index."""
        return self._op("booking.list", _args(
            resource=resource, from_=from_, to=to, status=status, limit=limit,
            after=after, email=email), BookingPage.from_wire)

    def booking_cancel(self, id: Optional[int] = None,
                       ref: Optional[str] = None,
                       reason: Optional[str] = None,
                       by: Optional[str] = None) -> Booking:
        """Cancel a booking by ``id`` (admin) or ``ref``; frees its slots."""
        return self._op("booking.cancel", _args(id=id, ref=ref, reason=reason,
                                                by=by), Booking.from_wire)

    def booking_transition(self, id: int, to: str,
                           reason: Optional[str] = None,
                           by: Optional[str] = None) -> Booking:
        """Move a booking to status ``to`` (admin).

        :class:`bookd.InvalidState` for a transition the state machine does
        not allow.
        """
        return self._op("booking.transition", _args(id=id, to=to,
                                                    reason=reason, by=by),
                        Booking.from_wire)

    def booking_reschedule(self, id: Optional[int] = None,
                           ref: Optional[str] = None, *, start: Instant,
                           end: Instant, by: Optional[str] = None,
                           session: Optional[str] = None) -> Booking:
        """Move a booking to ``[start, end)`` atomically, or change nothing.

        ``session`` names the caller's own hold, which then does not block
        the new span."""
        return self._op("booking.reschedule", _args(
            id=id, ref=ref, start=start, end=end, by=by, session=session),
            Booking.from_wire)

    # Subscriptions and the event feed

    def unsubscribe(self, sub: Any) -> None:
        """End a subscription (its id or the subscription object)."""
        sub_id = getattr(sub, "sub", sub)
        return self._op("unsubscribe", _args(sub=sub_id),
                        lambda r: self._forget_sub(sub_id))

    @abc.abstractmethod
    def _forget_sub(self, sub_id: int) -> None:
        """Stop routing pushes of ``sub_id`` (it was unsubscribed)."""

    def events(self, after: Optional[int] = None,
               limit: Optional[int] = None) -> EventPage:
        """The durable booking event feed after LSN ``after`` (admin)."""
        return self._op("events", _args(after=after, limit=limit),
                        EventPage.from_wire)

"""bookd: a Python client for the bookd booking engine.

Quick start::

    import datetime as dt
    import bookd

    with bookd.connect() as c:            # $BOOKD_SOCKET or ./var/bookd.sock
        day = dt.date(2030, 5, 6)
        for slot in c.day_view("studio-a", day, duration=60):
            print(slot.start, slot.state)

- :func:`connect` gives a thread-safe :class:`Client` with one method per
  operation of the protocol (``resource_create``, ``slots_day``,
  ``booking_cancel``, ...) and a generic :meth:`Client.call`.
- Errors are :class:`Error` subclasses named after the wire codes
  (:class:`Conflict`, :class:`Held`, :class:`Closed`, :class:`BadRequest`,
  :class:`NotFound`, ...).
- :meth:`Client.subscribe` gives an iterator of :class:`Push`;
  :meth:`Client.hold_span` a :class:`Hold` context manager that renews in the
  background.
- :func:`day_view` is the ``slots.view`` derivation as a pure function.
- :mod:`bookd.aio` is the asyncio client with the same surface.
"""

from ._api import NIL
from ._ops import OPS, WIRE_ERRORS
from ._schema import Arg, Op
from ._wire import MAX_FRAME
from .client import (
    Client,
    Hold,
    Subscription,
    connect,
    default_socket_path,
)
from .errors import (
    BadRequest,
    Closed,
    Conflict,
    ConnectionClosed,
    ConnectionFailed,
    Error,
    Exists,
    Forbidden,
    Held,
    Inactive,
    Internal,
    InvalidState,
    Limit,
    NotFound,
    OutOfRange,
    ProtocolError,
    Timeout,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnknownOp,
)
from .types import (
    AVAILABLE,
    RESERVED,
    Booking,
    BookingPage,
    ResourcePage,
    CheckResult,
    DaySlots,
    Event,
    EventPage,
    EventType,
    HoldGrant,
    HoldSpan,
    Push,
    Resource,
    ServerInfo,
    ViewSlot,
)
from .view import day_view

__version__ = "0.1.0"

__all__ = [
    "AVAILABLE", "Arg", "BadRequest", "Booking", "BookingPage", "ResourcePage",
    "CheckResult", "Client", "Closed", "Conflict", "ConnectionClosed",
    "ConnectionFailed", "DaySlots", "Error", "Event", "EventPage",
    "EventType", "Exists",
    "Forbidden", "Held", "Hold", "HoldGrant", "HoldSpan", "Inactive",
    "Internal", "InvalidState", "Limit", "MAX_FRAME", "NIL", "NotFound",
    "OPS", "Op", "OutOfRange", "ProtocolError", "Push", "RESERVED",
    "Resource", "ServerInfo", "Subscription", "Timeout", "TooLarge",
    "Unauthenticated", "Unavailable", "UnknownOp", "ViewSlot",
    "WIRE_ERRORS", "connect", "day_view", "default_socket_path",
]

"""Exceptions of the bookd client.

Every error the engine returns becomes an instance of a subclass of
:class:`Error` named after its wire code (``CONFLICT`` -> :class:`Conflict`),
carrying the code, the engine's message and every other key of the error map
in ``details`` (``field``, ``conflicts``, ...).  A code this client does not
know (a newer engine) becomes a plain :class:`Error` with that code, so it is
never mistaken for success.

Failures on the client's side have their own classes: :class:`ConnectionFailed`
(the socket could not be opened), :class:`ConnectionClosed` (the connection
ended while a request was outstanding, or was used after it ended),
:class:`ProtocolError` (the engine sent something that is not a valid frame)
and :class:`Timeout` (no reply within the client's timeout; the connection
stays usable and the late reply is discarded).
"""

from __future__ import annotations

from typing import Any, Mapping


class Error(Exception):
    """Base class of every bookd error.

    Attributes: ``code`` (the wire code, e.g. ``"HELD"``), ``message`` (the
    engine's human-readable message) and ``details`` (the other keys of the
    error map, e.g. ``{"field": "start"}``).
    """

    code: str = "ERROR"

    def __init__(self, message: str = "", code: str | None = None,
                 details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code


class BadRequest(Error):
    """Malformed or invalid request; ``details["field"]`` names the field."""
    code = "BAD_REQUEST"


class UnknownOp(Error):
    """The engine does not know the operation."""
    code = "UNKNOWN_OP"


class NotFound(Error):
    """No such resource, booking or subscription."""
    code = "NOT_FOUND"


class Exists(Error):
    """The object already exists."""
    code = "EXISTS"


class Conflict(Error):
    """The span overlaps an active booking (``details["conflicts"]``)."""
    code = "CONFLICT"


class Held(Error):
    """The span overlaps another session's hold."""
    code = "HELD"


class Closed(Error):
    """The span lies outside the resource's open hours."""
    code = "CLOSED"


class Inactive(Error):
    """The resource is deactivated."""
    code = "INACTIVE"


class OutOfRange(Error):
    """Outside the bookable window (horizon, notice or event-type window)."""
    code = "OUT_OF_RANGE"


class InvalidState(Error):
    """An illegal booking status transition."""
    code = "INVALID_STATE"


class Unauthenticated(Error):
    """A token was refused."""
    code = "UNAUTHENTICATED"


class Forbidden(Error):
    """Not allowed for this connection's role."""
    code = "FORBIDDEN"


class TooLarge(Error):
    """A message exceeds the 1 MiB frame limit."""
    code = "TOO_LARGE"


class Limit(Error):
    """A configured limit was reached."""
    code = "LIMIT"


class Unavailable(Error):
    """The engine is shutting down or cannot serve."""
    code = "UNAVAILABLE"


class Internal(Error):
    """An internal engine error."""
    code = "INTERNAL"


class ConnectionFailed(Error, ConnectionError):
    """The socket could not be opened (client side)."""
    code = "IO"


class ConnectionClosed(Error, ConnectionError):
    """The connection is closed, or closed while a request waited."""
    code = "CLOSED_CONN"


class ProtocolError(Error):
    """The engine sent bytes that are not a valid bookd message."""
    code = "PROTO"


class Timeout(Error, TimeoutError):
    """No reply came within the timeout (client side)."""
    code = "TIMEOUT"


WIRE_CLASSES: dict[str, type[Error]] = {
    cls.code: cls
    for cls in (BadRequest, UnknownOp, NotFound, Exists, Conflict, Held,
                Closed, Inactive, OutOfRange, InvalidState, Unauthenticated,
                Forbidden, TooLarge, Limit, Unavailable, Internal)
}
"""The exception class of each wire error code."""


def from_wire(err: Any) -> Error:
    """Build the exception for the ``error`` map of a reply.

    A malformed error map still yields an :class:`Error` (code ``PROTO``
    when there is no usable code), never a success.
    """
    if not isinstance(err, dict):
        return ProtocolError(f"error reply is not a map: {err!r}")
    code = err.get("code")
    message = err.get("message")
    if not isinstance(message, str):
        message = ""
    details = {k: v for k, v in err.items() if k not in ("code", "message")}
    if not isinstance(code, str):
        return ProtocolError(f"error reply without a code: {err!r}",
                             details=details)
    cls = WIRE_CLASSES.get(code)
    if cls is None:
        return Error(message, code=code, details=details)
    return cls(message, details=details)

"""The receiving half of a connection, shared by the sync and asyncio clients.

Both clients read bytes their own way (a blocking reader thread, an asyncio
task) and hand them to one :class:`Incoming`, which splits them into
messages and routes each one: a push to ``on_push(push)``, a reply to
``on_reply(msg_id, result, error)`` (``error`` is None for a success), and an
id-less error, which the engine sends just before it closes the connection,
to :attr:`Incoming.close_reason`.  :meth:`Incoming.end_error` turns however
the reading stopped into the one error the connection ends with, so both
clients fail their waiters the same way.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from . import _wire
from .errors import ConnectionClosed, Error, ProtocolError, from_wire
from .types import Push


class Incoming:
    """Bytes from the engine in, routed messages out (see the module doc)."""

    def __init__(self, on_push: Callable[[Push], None],
                 on_reply: Callable[[int, Any, Optional[Error]], None]
                 ) -> None:
        self._frames = _wire.FrameReader()
        self._on_push = on_push
        self._on_reply = on_reply
        self.close_reason: Optional[str] = None

    def feed(self, data: bytes) -> None:
        """Route every complete message in data (and what came before).

        Raises :class:`ProtocolError` for bytes that are not the protocol;
        exceptions of the callbacks pass through.
        """
        self._frames.feed(data)
        for msg in self._frames.frames():
            self._route(msg)

    def _route(self, msg: dict[str, Any]) -> None:
        if "push" in msg:
            self._on_push(Push.from_wire(msg))
            return
        msg_id = msg.get("id")
        if not isinstance(msg_id, int):
            # An error without an id is about the connection itself (a
            # frame the engine could not take, a shutdown): keep it as the
            # reason the connection ends.
            if msg.get("ok") is False:
                self.close_reason = str(from_wire(msg.get("error")))
                return
            raise ProtocolError(f"message without id or push: {msg!r}")
        if msg.get("ok") is True:
            self._on_reply(msg_id, msg.get("result"), None)
        else:
            self._on_reply(msg_id, None, from_wire(msg.get("error")))

    def end_error(self, exc: Optional[BaseException]) -> Error:
        """The error a connection ends with: ``exc`` None at end of stream,
        else what stopped the reading."""
        if exc is None:
            return ConnectionClosed(
                "connection closed by the engine" +
                (f": {self.close_reason}" if self.close_reason else ""))
        if isinstance(exc, ProtocolError):
            return exc
        if isinstance(exc, OSError):
            return ConnectionClosed(f"connection lost: {exc}")
        # A message that breaks a converter or hook is the engine's fault as
        # far as this connection is concerned.
        return ProtocolError(f"unusable message from the engine: {exc!r}")

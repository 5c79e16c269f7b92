"""Framing and value conversion for the bookd wire protocol (SPEC section 3).

A message is a 4-byte big-endian length N followed by N bytes holding one
MessagePack map; N is at most :data:`MAX_FRAME`.  This module packs requests
(refusing oversized ones before they reach the socket, so a caller's mistake
does not cost the connection), splits a byte stream into messages, and
converts Python values to their wire form:

- an aware :class:`datetime.datetime` becomes Unix seconds (a naive one is
  refused: it names no instant, and guessing the local zone would book the
  wrong hour);
- a :class:`datetime.date` becomes ``"YYYY-MM-DD"``;
- a :class:`datetime.time` becomes ``"HH:MM"`` (schedule windows);
- a :class:`datetime.timedelta` becomes minutes (the unit of every duration
  in the protocol); one that is not a whole number of minutes is refused.

Fractional seconds are refused rather than truncated for the same reason.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterator

import msgpack

from .errors import ProtocolError, TooLarge

MAX_FRAME = 1 << 20
"""The largest message body either side accepts (1 MiB)."""

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_SECOND = _dt.timedelta(seconds=1)
_MINUTE = _dt.timedelta(minutes=1)


def to_wire(value: Any) -> Any:
    """Convert datetimes, dates and timedeltas (also nested) to wire values."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: give it a tzinfo "
                             "(e.g. datetime.timezone.utc)")
        delta = value - _EPOCH
        if delta % _SECOND:
            raise ValueError(f"{value!r} is not a whole second")
        return delta // _SECOND
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, _dt.time):
        if value.second or value.microsecond or value.tzinfo is not None:
            raise ValueError(f"{value!r}: give a wall-clock HH:MM")
        return value.strftime("%H:%M")
    if isinstance(value, _dt.timedelta):
        if value % _MINUTE:
            raise ValueError(f"{value!r} is not a whole number of minutes")
        return value // _MINUTE
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    return value


def wire_args(args: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments to a wire ``args`` map.

    One trailing underscore is dropped from each name, so Python keywords can
    be passed (``from_`` -> ``from``).
    """
    return {(k[:-1] if k.endswith("_") else k): to_wire(v)
            for k, v in args.items()}


def instant(seconds: int) -> _dt.datetime:
    """Unix seconds from the wire to an aware UTC datetime."""
    return _EPOCH + _dt.timedelta(seconds=seconds)


def day(text: str) -> _dt.date:
    """A ``YYYY-MM-DD`` string from the wire to a date."""
    return _dt.date.fromisoformat(text)


def pack(message: dict[str, Any]) -> bytes:
    """One framed message; :class:`TooLarge` when the body exceeds 1 MiB."""
    body = msgpack.packb(message, use_bin_type=True)
    if len(body) > MAX_FRAME:
        raise TooLarge(f"request of {len(body)} bytes exceeds the "
                       f"{MAX_FRAME}-byte frame limit")
    return len(body).to_bytes(4, "big") + body


def unpack(body: bytes) -> dict[str, Any]:
    """Decode one message body; :class:`ProtocolError` unless it is a map.

    Strings that are not valid UTF-8 (a caller may have stored such bytes
    in a name or a note) are decoded with ``errors="replace"``: each bad
    byte becomes U+FFFD.  The reply stays usable and every string in it can
    be printed, encoded and sent back; the exact bytes are not kept.
    """
    try:
        msg = msgpack.unpackb(body, raw=False, strict_map_key=False,
                              unicode_errors="replace")
    except (ValueError, msgpack.UnpackException) as e:
        raise ProtocolError(f"undecodable message: {e}") from None
    if not isinstance(msg, dict):
        raise ProtocolError(f"message is not a map: {msg!r}")
    return msg


class FrameReader:
    """Splits a byte stream into message bodies.

    Feed it whatever the socket returned; iterate :meth:`frames` for the
    complete messages.  An announced length above the limit cannot be
    resynchronised and raises :class:`ProtocolError`.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def frames(self) -> Iterator[dict[str, Any]]:
        while len(self._buf) >= 4:
            n = int.from_bytes(self._buf[:4], "big")
            if n > MAX_FRAME:
                raise ProtocolError(f"frame of {n} bytes exceeds the limit")
            if len(self._buf) < 4 + n:
                return
            body = bytes(self._buf[4:4 + n])
            del self._buf[:4 + n]
            yield unpack(body)

"""Framing and value conversion (no engine needed)."""

from __future__ import annotations

import datetime as dt

import msgpack
import pytest

import bookd
from bookd import _wire

UTC = dt.timezone.utc


def test_datetimes_dates_and_timedeltas_convert():
    berlin = dt.timezone(dt.timedelta(hours=2))
    assert _wire.to_wire(dt.datetime(2030, 5, 6, 14, tzinfo=berlin)) == \
        int(dt.datetime(2030, 5, 6, 12, tzinfo=UTC).timestamp())
    assert _wire.to_wire(dt.date(2030, 5, 6)) == "2030-05-06"
    assert _wire.to_wire(dt.timedelta(hours=5)) == 300
    assert _wire.to_wire({"a": [dt.date(2030, 1, 2)]}) == {"a": ["2030-01-02"]}
    assert _wire.instant(0) == dt.datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("bad", [
    dt.datetime(2030, 5, 6, 14),                       # naive
    dt.datetime(2030, 5, 6, 14, 0, 0, 5, tzinfo=UTC),  # fractional second
    dt.timedelta(seconds=90),                          # not whole minutes
])
def test_ambiguous_values_are_refused(bad):
    with pytest.raises(ValueError):
        _wire.to_wire(bad)


def test_trailing_underscore_is_dropped():
    assert _wire.wire_args({"from_": "2030-01-01", "to": 1}) == \
        {"from": "2030-01-01", "to": 1}


def test_frames_split_across_reads_and_joined_in_one():
    a = _wire.pack({"id": 1, "ok": True, "result": "pong"})
    b = _wire.pack({"push": "changed", "sub": 3})
    stream = a + b
    reader = _wire.FrameReader()
    got = []
    for i in range(len(stream)):
        reader.feed(stream[i:i + 1])
        got += list(reader.frames())
    assert got == [{"id": 1, "ok": True, "result": "pong"},
                   {"push": "changed", "sub": 3}]


def test_oversized_frames_are_refused_both_ways():
    with pytest.raises(bookd.TooLarge):
        _wire.pack({"x": "a" * _wire.MAX_FRAME})
    reader = _wire.FrameReader()
    reader.feed((_wire.MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(bookd.ProtocolError):
        list(reader.frames())


def test_a_frame_that_is_not_a_map_is_a_protocol_error():
    body = msgpack.packb([1, 2])
    reader = _wire.FrameReader()
    reader.feed(len(body).to_bytes(4, "big") + body)
    with pytest.raises(bookd.ProtocolError):
        list(reader.frames())

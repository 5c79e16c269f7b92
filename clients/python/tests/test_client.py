"""Client behaviour a well-behaved engine never provokes: late replies,
garbage bytes, a connection ended with an id-less error, and a push that
arrives right behind its subscribe reply.  A scripted peer on a socketpair
plays the engine; everything else is tested against the real one."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any, Callable

import pytest

import bookd
import bookd.aio
from bookd import _wire
from util import WAIT


class FakeEngine:
    """Reads requests on one end of a socketpair and answers via a script.

    ``script(request, send)`` is called for each request; ``send(msg)``
    writes one framed message, ``send_raw(bytes)`` arbitrary bytes.
    """

    def __init__(self, script: Callable[["FakeEngine", dict], None]) -> None:
        self.client_sock, self.sock = socket.socketpair()
        self.sock.settimeout(WAIT)
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def send(self, msg: dict[str, Any]) -> None:
        self.sock.sendall(_wire.pack(msg))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)

    def _run(self) -> None:
        reader = _wire.FrameReader()
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return
                reader.feed(data)
                for req in reader.frames():
                    self.requests.append(req)
                    self.script(self, req)
        except OSError:
            return


def ok(req: dict[str, Any], result: Any) -> dict[str, Any]:
    return {"id": req["id"], "ok": True, "result": result}


def test_a_timed_out_reply_is_dropped_and_the_connection_stays_usable():
    held: list[dict] = []

    def script(eng: FakeEngine, req: dict) -> None:
        if req["op"] == "slow":
            held.append(req)  # answered later, after the next request
        else:
            if held:
                eng.send(ok(held.pop(), "late"))
            eng.send(ok(req, "pong"))

    eng = FakeEngine(script)
    client = bookd.Client(eng.client_sock, timeout=0.2)
    try:
        with pytest.raises(bookd.Timeout) as e:
            client.call("slow")
        assert isinstance(e.value, TimeoutError)
        client.timeout = WAIT
        assert client.ping() == "pong"
        assert client.ping() == "pong"
    finally:
        client.close()


def test_garbage_from_the_engine_fails_waiters_with_protocol_error():
    eng = FakeEngine(lambda e, req: e.send_raw(b"\x00\x00\x00\x03\x93\x01\x02"
                                               b"\x03"))
    client = bookd.Client(eng.client_sock, timeout=WAIT)
    with pytest.raises(bookd.ProtocolError):
        client.ping()
    assert client.closed
    with pytest.raises(bookd.ConnectionClosed):
        client.ping()
    client.close()


def test_an_id_less_error_explains_the_close():
    def script(eng: FakeEngine, req: dict) -> None:
        eng.send({"ok": False, "error": {"code": "UNAVAILABLE",
                                         "message": "shutting down"}})
        eng.close()

    eng = FakeEngine(script)
    client = bookd.Client(eng.client_sock, timeout=WAIT)
    with pytest.raises(bookd.ConnectionClosed) as e:
        client.ping()
    assert "UNAVAILABLE" in str(e.value)
    client.close()


def test_push_right_behind_the_subscribe_reply_is_not_lost():
    def script(eng: FakeEngine, req: dict) -> None:
        if req["op"] == "subscribe":
            eng.send_raw(_wire.pack(ok(req, {"sub": 7})) + _wire.pack({
                "push": "changed", "sub": 7, "topic": "holds",
                "resource": "r", "date": "2030-05-06", "version": 3}))
        else:
            eng.send(ok(req, {}))

    eng = FakeEngine(script)
    client = bookd.Client(eng.client_sock, timeout=WAIT)
    try:
        sub = client.subscribe("holds", "r", "2030-05-06", "2030-05-06")
        push = sub.get(timeout=WAIT)
        assert push is not None and (push.sub, push.version) == (7, 3)
        assert str(push.date) == "2030-05-06"
        sub.close()
        assert eng.requests[-1] == {"id": 2, "op": "unsubscribe",
                                    "args": {"sub": 7}}
    finally:
        client.close()


def test_requests_carry_wire_names_and_omit_unset_arguments():
    eng = FakeEngine(lambda e, req: e.send(ok(req, {})))
    client = bookd.Client(eng.client_sock, timeout=WAIT)
    try:
        client.slots_month("r", from_="2030-05-01", to="2030-05-31",
                           duration=60)
        client.resource_update("r", schedule=bookd.NIL)
        assert eng.requests[0] == {"id": 1, "op": "slots.month", "args": {
            "resource": "r", "from": "2030-05-01", "to": "2030-05-31",
            "duration": 60}}
        assert eng.requests[1]["args"] == {"id": "r", "schedule": None}
    finally:
        client.close()


def test_async_client_timeout_and_late_reply():
    held: list[dict] = []

    def script(eng: FakeEngine, req: dict) -> None:
        if req["op"] == "slow":
            held.append(req)
        else:
            if held:
                eng.send(ok(held.pop(), "late"))
            eng.send(ok(req, "pong"))

    async def main() -> None:
        eng = FakeEngine(script)
        reader, writer = await asyncio.open_unix_connection(
            sock=eng.client_sock)
        client = bookd.aio.AsyncClient(reader, writer, timeout=0.2)
        with pytest.raises(bookd.Timeout):
            await client.call("slow")
        client.timeout = WAIT
        assert await client.ping() == "pong"
        await client.close()
        with pytest.raises(bookd.ConnectionClosed):
            await client.ping()

    asyncio.run(asyncio.wait_for(main(), 60))


def _booking_with_bad_bytes(req: dict) -> bytes:
    """A reply whose strings hold bytes that are not UTF-8, packed by hand
    (msgpack would refuse to pack them as str from Python)."""
    import msgpack

    name = b"Ada \xff\xfe L"
    body = msgpack.packb({"id": req["id"], "ok": True, "result": {
        "id": 1, "status": "confirmed", "booker": {"name": "NAME"},
        "note": "NOTE"}}, use_bin_type=True)
    body = body.replace(b"\xa4NAME", bytes([0xa0 | len(name)]) + name)
    body = body.replace(b"\xa4NOTE", b"\xa3\xc3\x28x")
    return len(body).to_bytes(4, "big") + body


def _bad_bytes_script(eng: FakeEngine, req: dict) -> None:
    if req["op"] == "booking.get":
        eng.send_raw(_booking_with_bad_bytes(req))
    else:
        eng.send(ok(req, "pong"))


def test_invalid_utf8_in_a_reply_is_replaced_not_fatal():
    eng = FakeEngine(_bad_bytes_script)
    client = bookd.Client(eng.client_sock, timeout=WAIT)
    try:
        b = client.call("booking.get", id=1)
        assert b["booker"]["name"] == "Ada \ufffd\ufffd L"
        assert b["note"] == "\ufffd(x"
        assert client.ping() == "pong"  # the connection lives on
        assert not client.closed
    finally:
        client.close()


def test_invalid_utf8_in_a_reply_asyncio():
    async def main() -> None:
        eng = FakeEngine(_bad_bytes_script)
        reader, writer = await asyncio.open_unix_connection(
            sock=eng.client_sock)
        client = bookd.aio.AsyncClient(reader, writer, timeout=WAIT)
        try:
            b = await client.call("booking.get", id=1)
            assert b["booker"]["name"] == "Ada \ufffd\ufffd L"
            assert await client.ping() == "pong"
        finally:
            await client.close()

    asyncio.run(asyncio.wait_for(main(), 60))

"""Every error class, provoked from a real bookd where the engine can be
made to send it (INTERNAL cannot; its mapping is checked in
test_generated.py along with every other code)."""

from __future__ import annotations

import datetime as dt
import socket
import time

import pytest

import bookd
from bookd import _wire
from util import BOOKER, WAIT, Engine, at, new_resource_id


def test_bad_request_names_the_field_and_keeps_the_connection(client, rid,
                                                              day):
    with pytest.raises(bookd.BadRequest) as e:
        client.hold(rid, at(day, "10:00") + dt.timedelta(minutes=1),
                    at(day, "11:00"), "s-bad")
    assert e.value.code == "BAD_REQUEST"
    assert "start" in e.value.message or e.value.details.get("field") == \
        "start"
    with pytest.raises(bookd.BadRequest) as e:
        client.call("ping", bogus=1)
    assert "bogus" in str(e.value) or e.value.details.get("field") == "bogus"
    with pytest.raises(bookd.BadRequest):
        client.call("resource.get", id=5)
    with pytest.raises(bookd.BadRequest):
        client.call("resource.get")
    with pytest.raises(bookd.BadRequest):
        client.check(rid, at(day, "11:00"), at(day, "10:00"))
    assert client.ping() == "pong"


def test_unknown_op(client):
    with pytest.raises(bookd.UnknownOp):
        client.call("no.such.op")
    assert client.ping() == "pong"


def test_not_found(client):
    with pytest.raises(bookd.NotFound):
        client.resource_get("no-such-resource")
    with pytest.raises(bookd.NotFound):
        client.booking_get(id=10**12)
    with pytest.raises(bookd.NotFound):
        client.slots_day("no-such-resource", dt.date.today(), 60)


def test_exists(client, rid):
    with pytest.raises(bookd.Exists):
        client.resource_create(rid)


def test_conflict_lists_the_bookings_for_admin_only(engine, client, rid, day):
    first = client.book(resource=rid, start=at(day, "10:00"),
                        end=at(day, "12:00"), booker=BOOKER)
    with pytest.raises(bookd.Conflict) as e:
        client.book(resource=rid, start=at(day, "11:00"),
                    end=at(day, "13:00"), booker=BOOKER)
    assert first.id in e.value.details.get("conflicts", [])
    with pytest.raises(bookd.Conflict):
        client.hold(rid, at(day, "11:30"), at(day, "12:30"), "s-conflict")
    with engine.connect(role="public") as pub:
        with pytest.raises(bookd.Conflict) as e:
            pub.book(resource=rid, start=at(day, "11:00"),
                     end=at(day, "13:00"), booker=BOOKER)
        assert not e.value.details.get("conflicts")


def test_held(client, rid, day):
    client.hold(rid, at(day, "13:00"), at(day, "14:00"), "s-a")
    with pytest.raises(bookd.Held):
        client.hold(rid, at(day, "13:30"), at(day, "14:30"), "s-b")
    with pytest.raises(bookd.Held):
        client.book(resource=rid, start=at(day, "10:00"),
                    end=at(day, "15:00"), booker=BOOKER, session="s-b")


def test_closed_outside_open_hours(client, rid, day):
    client.schedule_put(rid, "UTC", [{"day": d, "start": "09:00",
                                      "end": "17:00"} for d in range(1, 8)])
    client.book(resource=rid, start=at(day, "09:00"), end=at(day, "10:00"),
                booker=BOOKER)
    with pytest.raises(bookd.Closed):
        client.book(resource=rid, start=at(day, "08:00"),
                    end=at(day, "09:00"), booker=BOOKER)
    with pytest.raises(bookd.Closed):
        client.hold(rid, at(day, "16:00"), at(day, "18:00"), "s-closed")


def test_inactive(client, rid, day):
    client.resource_update(rid, active=False)
    with pytest.raises(bookd.Inactive):
        client.book(resource=rid, start=at(day, "10:00"),
                    end=at(day, "11:00"), booker=BOOKER)
    with pytest.raises(bookd.Inactive):
        client.hold(rid, at(day, "10:00"), at(day, "11:00"), "s-inactive")


def test_out_of_range(client, rid, day):
    far = day + dt.timedelta(days=5 * 366)
    with pytest.raises(bookd.OutOfRange):
        client.book(resource=rid, start=at(far, "10:00"),
                    end=at(far, "11:00"), booker=BOOKER)
    with pytest.raises(bookd.OutOfRange):
        client.hold(rid, at(far, "10:00"), at(far, "11:00"), "s-far")


def test_invalid_state(client, rid, day):
    b = client.book(resource=rid, start=at(day, "10:00"),
                    end=at(day, "11:00"), booker=BOOKER)
    client.booking_cancel(id=b.id)
    with pytest.raises(bookd.InvalidState):
        client.booking_transition(b.id, "confirmed")
    with pytest.raises(bookd.InvalidState):
        client.booking_cancel(id=b.id)


def test_unauthenticated(engine, client):
    with pytest.raises(bookd.Unauthenticated):
        client.hello(token="not-a-valid-token")
    with pytest.raises(bookd.Unauthenticated):
        engine.connect(token="x.y.z")


def test_forbidden(engine, day):
    with engine.connect(role="public") as pub:
        with pytest.raises(bookd.Forbidden):
            pub.resource_create(new_resource_id())
        with pytest.raises(bookd.Forbidden):
            pub.hello(role="admin")
        with pytest.raises(bookd.Forbidden):
            pub.booking_list()
        with pytest.raises(bookd.Forbidden):
            pub.stats()
        assert pub.server.role == "public"


def test_too_large_refused_locally_without_losing_the_connection(client):
    with pytest.raises(bookd.TooLarge):
        client.call("ping", blob="x" * (bookd.MAX_FRAME + 1))
    assert client.ping() == "pong"


def test_too_large_from_the_engine(engine, client):
    """A raw oversized frame: the engine answers TOO_LARGE and closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(WAIT)
        s.connect(engine.socket)
        s.sendall((bookd.MAX_FRAME + 1).to_bytes(4, "big") + b"\x80" * 64)
        reader, msgs = _wire.FrameReader(), []
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            reader.feed(data)
            msgs += list(reader.frames())
    errors = [bookd.errors.from_wire(m.get("error")) for m in msgs
              if m.get("ok") is False]
    assert [type(e) for e in errors] == [bookd.TooLarge], msgs
    assert client.ping() == "pong"  # the engine is unharmed


@pytest.fixture(scope="module")
def small_engine():
    """An engine allowed only two resources."""
    eng = Engine("--max-resources", "2").start()
    yield eng
    eng.close()


def test_limit(small_engine):
    with small_engine.connect() as c:
        c.resource_create("one")
        c.resource_create("two")
        with pytest.raises(bookd.Limit):
            c.resource_create("three")
        assert [r.id for r in c.resource_list()] == ["one", "two"]


def test_shutdown_fails_waiters_with_unavailable_or_closed():
    """SIGTERM with a live connection: calls fail cleanly, exit status 0."""
    eng = Engine().start()
    try:
        c = eng.connect()
        c.resource_create("r")
        eng.proc.terminate()
        deadline = time.monotonic() + WAIT
        with pytest.raises((bookd.Unavailable, bookd.ConnectionClosed)):
            while time.monotonic() < deadline:
                c.resource_get("r")
        c.close()
    finally:
        eng.close()

"""Every operation of proto/ops.h through the client, against a real bookd.

Each test names the operations it exercises with ``@covers``;
test_every_op_is_covered fails when an operation (for example one newly
added to proto/ops.h and regenerated into bookd/_ops.py) has no test here.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

import bookd
from util import BOOKER, WAIT, at, new_resource_id

COVERED: set[str] = set()


def covers(*ops: str):
    def mark(fn):
        COVERED.update(ops)
        return fn
    return mark


def test_every_op_is_covered():
    missing = sorted(op.wire for op in bookd.OPS if op.wire not in COVERED)
    assert not missing, f"operations without a test: {missing}"


def hhmm(slots) -> list[str]:
    return [s.strftime("%H:%M") for s in slots]


@covers("hello", "ping")
def test_hello_and_ping(engine, client):
    info = client.server
    assert isinstance(info, bookd.ServerInfo)
    assert (info.server, info.proto, info.quantum, info.role) == \
        ("bookd", 1, 900, "admin")
    assert isinstance(info.hold_ttl_ms, int) and info.hold_ttl_ms > 0
    assert client.ping() == "pong"
    again = client.hello(client="second hello")
    assert again.role == "admin" and client.server is again
    with engine.connect(role="public") as pub:
        assert pub.server.role == "public"
        assert pub.ping() == "pong"


@covers("stats")
def test_stats(client, rid, day):
    client.book(resource=rid, start=at(day, "01:00"), end=at(day, "02:00"),
                booker=BOOKER)
    stats = client.stats()
    assert isinstance(stats, dict) and stats
    assert all(isinstance(k, str) for k in stats)


@covers("resource.create", "resource.get", "resource.list",
        "resource.update")
def test_resource_lifecycle(engine, client):
    rid = new_resource_id()
    made = client.resource_create(rid, name="Studio A", kind="studio",
                                  timezone="Europe/Berlin", quantity=1,
                                  meta={"floor": 2})
    assert isinstance(made, bookd.Resource)
    assert (made.id, made.name, made.kind, made.timezone, made.quantity,
            made.standalone, made.active, made.meta) == \
        (rid, "Studio A", "studio", "Europe/Berlin", 1, True, True,
         {"floor": 2})
    assert client.resource_get(rid) == made
    assert rid in [r.id for r in client.resource_list()]

    changed = client.resource_update(rid, name="Studio A+", active=False)
    assert (changed.name, changed.active, changed.kind) == \
        ("Studio A+", False, "studio")
    assert client.resource_get(rid).name == "Studio A+"
    assert rid not in [r.id for r in client.resource_list(active_only=True)]
    assert rid in [r.id for r in client.resource_list(active_only=False)]
    with engine.connect(role="public") as pub:
        assert rid not in [r.id for r in pub.resource_list()]
        with pytest.raises(bookd.NotFound):
            pub.resource_get(rid)
    client.resource_update(rid, active=True)
    with engine.connect(role="public") as pub:
        assert pub.resource_get(rid).id == rid


@covers("schedule.put", "schedule.get", "schedule.list")
def test_schedules(client, rid, day):
    nxt = day + dt.timedelta(days=1)
    client.schedule_put(rid, "UTC",
                        [(d, "09:00", "17:00") for d in range(1, 8)],
                        overrides=[{"date": nxt, "windows": []}])
    sched = client.schedule_get(rid)
    assert sched["timezone"] == "UTC"
    assert sorted(w["day"] for w in sched["weekly"]) == list(range(1, 8))
    assert {(w["start"], w["end"]) for w in sched["weekly"]} == \
        {("09:00", "17:00")}
    assert [o["date"] for o in sched["overrides"]] == [nxt.isoformat()]
    assert rid in [s.get("id") for s in client.schedule_list()]
    assert hhmm(client.slots_day(rid, day, 60).slots) == \
        [f"{h:02d}:00" for h in range(9, 17)]
    assert client.slots_day(rid, nxt, 60).slots == []
    assert not client.check(rid, at(day, "08:00"), at(day, "09:00")).free
    # Wall-clock times are accepted for the windows too.
    client.schedule_put(rid, "UTC", [(d, dt.time(10), dt.time(12))
                                     for d in range(1, 8)])
    assert hhmm(client.slots_day(rid, day, 60).slots) == ["10:00", "11:00"]


@covers("schedule.delete")
def test_shared_schedules(client, day):
    sid, a, b = new_resource_id(), new_resource_id(), new_resource_id()
    client.schedule_put(sid, "UTC",
                        [(d, "09:00", "11:00") for d in range(1, 8)])
    client.resource_create(a, schedule=sid)
    client.resource_create(b)
    client.resource_update(b, schedule=sid)
    assert sorted(client.schedule_get(sid)["resources"]) == sorted([a, b])
    client.schedule_put(sid, "UTC",
                        [(d, "14:00", "15:00") for d in range(1, 8)])
    for r in (a, b):
        assert hhmm(client.slots_day(r, day, 60).slots) == ["14:00"]
    shared = [s for s in client.schedule_list() if s.get("id") == sid]
    assert shared and shared[0]["shared"] is True
    with pytest.raises(bookd.InvalidState):
        client.schedule_delete(sid)
    client.resource_update(a, schedule=bookd.NIL)
    client.resource_update(b, schedule=bookd.NIL)
    client.schedule_delete(sid)
    with pytest.raises(bookd.NotFound):
        client.schedule_get(sid)


@covers("holidays.put", "holidays.get", "holidays.list", "holidays.delete")
def test_holidays(client, day):
    cal, sid, a = new_resource_id(), new_resource_id(), new_resource_id()
    client.holidays_put(cal, [{"date": day}], name="Closed")
    client.schedule_put(sid, "UTC",
                        [(d, "09:00", "11:00") for d in range(1, 8)],
                        holidays=[cal])
    client.resource_create(a, schedule=sid)
    assert client.slots_day(a, day, 60).slots == []
    got = client.holidays_put(cal, [{"date": day, "windows": [
        {"start": "10:00", "end": "11:00"}]}])
    assert got["republished"] == 1 and got["name"] == "Closed"
    assert hhmm(client.slots_day(a, day, 60).slots) == ["10:00"]
    assert client.holidays_get(cal)["used_by"] == 1
    assert cal in [c["id"] for c in client.holidays_list()]
    with pytest.raises(bookd.InvalidState):
        client.holidays_delete(cal)
    client.schedule_put(sid, "UTC",
                        [(d, "09:00", "11:00") for d in range(1, 8)])
    assert hhmm(client.slots_day(a, day, 60).slots) == ["09:00", "10:00"]
    client.holidays_delete(cal)
    with pytest.raises(bookd.NotFound):
        client.holidays_get(cal)


@covers("event_type.put", "event_type.get", "event_type.list")
def test_event_types(engine, client, rid, day):
    et_id = f"et-{rid}"
    et = client.event_type_put(et_id, title="Studio session",
                               lengths=[60, 120], resources=[rid],
                               slot_interval=30, buffer_after=15)
    assert isinstance(et, bookd.EventType)
    assert (et.id, et.title, et.lengths, et.resources, et.slot_interval,
            et.buffer_after, et.buffer_before, et.requires_confirmation,
            et.active) == (et_id, "Studio session", [60, 120], [rid], 30,
                           15, 0, False, True)
    got = client.event_type_get(et_id)
    assert (got.id, got.lengths, got.resources) == (et_id, [60, 120], [rid])
    assert et_id in [e.id for e in client.event_type_list()]

    # The type's interval and buffers apply to the slot list.
    starts = hhmm(client.slots_day(rid, day, 60, event_type=et_id).slots)
    assert starts[:3] == ["00:00", "00:30", "01:00"]
    b = client.book(resource=rid, start=at(day, "10:00"),
                    end=at(day, "11:00"), booker=BOOKER, event_type=et_id)
    assert b.event_type == et_id
    assert not client.check(rid, at(day, "11:00"), at(day, "11:15")).free
    with pytest.raises(bookd.BadRequest):
        client.book(resource=rid, start=at(day, "13:00"),
                    end=at(day, "14:30"), booker=BOOKER, event_type=et_id)
    assert client.slots_month(rid, day, day, 60, event_type=et_id) == \
        {day: True}
    view = client.slots_view(rid, day, 60, event_type=et_id)
    assert hhmm(v.start for v in view)[:2] == ["00:00", "00:30"]

    pending_id = f"et-pending-{rid}"
    client.event_type_put(pending_id, title="Request", lengths=[60],
                          resources=[rid], requires_confirmation=True,
                          active=False)
    p = client.book(resource=rid, start=at(day, "15:00"),
                    end=at(day, "16:00"), booker=BOOKER,
                    event_type=pending_id)
    assert p.status == "pending"
    with engine.connect(role="public") as pub:
        assert pending_id not in [e.id for e in pub.event_type_list()]
        with pytest.raises(bookd.NotFound):
            pub.event_type_get(pending_id)


def test_resource_create_takes_a_schedule(client, day):
    """SPEC: resource.create accepts schedule? (as schedule.put takes it)."""
    rid = new_resource_id()
    client.resource_create(rid, schedule={
        "timezone": "UTC",
        "weekly": [{"day": d, "start": "09:00", "end": "17:00"}
                   for d in range(1, 8)]})
    assert client.schedule_get(rid)["timezone"] == "UTC"
    assert hhmm(client.slots_day(rid, day, 480).slots) == ["09:00"]


@covers("check")
def test_check(client, rid, day):
    start, end = at(day, "10:00"), at(day, "11:00")
    assert client.check(rid, start, end) == bookd.CheckResult(True, None)
    client.hold(rid, start, end, "s-check-a")
    held = client.check(rid, start, end)
    assert (held.free, held.reason) == (False, "held")
    assert client.check(rid, start, end, session="s-check-a").free
    client.release(rid, "s-check-a")
    client.book(resource=rid, start=at(day, "10:30"), end=at(day, "11:30"),
                booker=BOOKER)
    booked = client.check(rid, start, end)
    assert (booked.free, booked.reason) == (False, "booked")
    assert client.check(rid, at(day, "11:30"), at(day, "12:00")).free


@covers("slots.day")
def test_slots_day(client, rid, day):
    full = client.slots_day(rid, day, 60)
    assert isinstance(full, bookd.DaySlots)
    assert full.date == day and full.tz == "UTC"
    assert full.slots == [at(day, f"{h:02d}:00") for h in range(24)]
    assert client.slots_day(rid, day.isoformat(), dt.timedelta(hours=1)) \
        == full

    client.book(resource=rid, start=at(day, "10:00"), end=at(day, "12:00"),
                booker=BOOKER)
    assert "10:00" not in hhmm(client.slots_day(rid, day, 60).slots)
    half = hhmm(client.slots_day(rid, day, 60, interval=30).slots)
    assert half[:4] == ["00:00", "00:30", "01:00", "01:30"]
    for gone in ("09:30", "10:00", "10:30", "11:00", "11:30"):
        assert gone not in half
    assert "09:00" in half and "12:00" in half
    # A span may run past midnight into the next (free) day.
    assert "23:00" in hhmm(client.slots_day(rid, day, 120, interval=60).slots)


@covers("slots.month")
def test_slots_month(client, rid, day):
    nxt = day + dt.timedelta(days=1)
    client.book(resource=rid, start=at(nxt, "00:00"), end=at(nxt, "00:00", 1),
                booker=BOOKER)
    month = client.slots_month(rid, day, day + dt.timedelta(days=2), 60)
    assert month == {day: True, nxt: False, day + dt.timedelta(days=2): True}


@covers("slots.view", "holds.day")
def test_slots_view_and_holds_day(client, rid, day):
    client.hold(rid, at(day, "13:00"), at(day, "14:00"), "s-view-a")
    mine = client.holds_day(rid, day, session="s-view-a")
    assert mine == [bookd.HoldSpan(at(day, "13:00"), at(day, "14:00"), True)]
    theirs = client.holds_day(rid, day, session="s-view-b")
    assert [h.mine for h in theirs] == [False]
    assert [h.mine for h in client.holds_day(rid, day)] == [False]

    view = client.slots_view(rid, day, 60, session="s-view-b")
    assert all(isinstance(v, bookd.ViewSlot) for v in view)
    assert [v.start.strftime("%H:%M") for v in view if not v.available] == \
        ["13:00"]
    assert view == client.day_view(rid, day, 60, session="s-view-b")
    assert all(v.available for v in
               client.slots_view(rid, day, 60, session="s-view-a"))


def test_day_view_sees_holds_on_the_next_day(client, rid, day):
    """Spans that run past midnight reach holds of the following day."""
    nxt = day + dt.timedelta(days=1)
    client.hold(rid, at(nxt, "01:00"), at(nxt, "02:00"), "s-night")
    engine_view = client.slots_view(rid, day, 300, interval=60,
                                    session="s-other")
    assert [v.start.strftime("%H:%M") for v in engine_view
            if not v.available] == ["21:00", "22:00", "23:00"]
    assert client.day_view(rid, day, 300, interval=60,
                           session="s-other") == engine_view


@covers("hold", "release")
def test_hold_renew_replace_release(client, rid, day):
    before_ms = int(time.time() * 1000)
    first = client.hold(rid, at(day, "09:00"), at(day, "10:00"), "s-h")
    assert isinstance(first, bookd.HoldGrant)
    assert first.expires_at_ms > before_ms
    renewed = client.hold(rid, at(day, "09:00"), at(day, "10:00"), "s-h")
    assert renewed.expires_at_ms >= first.expires_at_ms
    client.hold(rid, at(day, "15:00"), at(day, "16:00"), "s-h")
    spans = client.holds_day(rid, day, session="s-h")
    assert [(h.start, h.end) for h in spans] == \
        [(at(day, "15:00"), at(day, "16:00"))]
    assert client.release(rid, "s-h") is True
    assert client.release(rid, "s-h") is False
    assert client.holds_day(rid, day) == []


@covers("hold.many")
def test_hold_many_is_all_or_nothing(client, day):
    a, b = new_resource_id(), new_resource_id()
    client.resource_create(a)
    client.resource_create(b)
    grant = client.hold_many([(a, at(day, "10:00"), at(day, "11:00")),
                              {"resource": b, "start": at(day, "10:00"),
                               "end": at(day, "11:00")}], "s-many-1")
    assert grant.expires_at_ms > 0
    assert [h.mine for h in client.holds_day(a, day, session="s-many-1")] \
        == [True]
    assert [h.mine for h in client.holds_day(b, day, session="s-many-1")] \
        == [True]
    c = new_resource_id()
    client.resource_create(c)
    with pytest.raises(bookd.Held):
        client.hold_many([(c, at(day, "10:00"), at(day, "11:00")),
                          (a, at(day, "10:30"), at(day, "11:30"))],
                         "s-many-2")
    assert client.holds_day(c, day) == []


@covers("book", "booking.get")
def test_book_and_get(engine, client, rid, day):
    b = client.book(resource=rid, start=at(day, "10:00"),
                    end=at(day, "12:00"), booker=BOOKER, note="first",
                    timezone="Europe/Berlin", by="tests")
    assert isinstance(b, bookd.Booking)
    assert (b.start, b.end, b.status, b.resources, b.note, b.timezone) == \
        (at(day, "10:00"), at(day, "12:00"), "confirmed", [rid], "first",
         "Europe/Berlin")
    assert b.booker["name"] == BOOKER["name"]
    assert isinstance(b.id, int) and isinstance(b.ref, str)
    assert len(b.ref) >= 22  # at least 128 bits in any usual encoding
    assert client.booking_get(id=b.id) == b
    assert client.booking_get(ref=b.ref).id == b.id
    with engine.connect(role="public") as pub:
        assert pub.booking_get(ref=b.ref).id == b.id

    # The key makes a repeat return the first booking and book nothing.
    k1 = client.book(resource=rid, start=at(day, "14:00"),
                     end=at(day, "15:00"), booker=BOOKER, key="key-1")
    k2 = client.book(resource=rid, start=at(day, "14:00"),
                     end=at(day, "15:00"), booker=BOOKER, key="key-1")
    assert k1.id == k2.id

    # Booking with one's own session consumes one's own hold.
    client.hold(rid, at(day, "16:00"), at(day, "17:00"), "s-book")
    client.book(resource=rid, start=at(day, "16:00"), end=at(day, "17:00"),
                booker=BOOKER, session="s-book")
    assert client.holds_day(rid, day) == []


@covers("book")
def test_book_pool_units_and_add_on(client, day):
    mics, studio, cable = (new_resource_id() for _ in range(3))
    client.resource_create(mics, quantity=5, kind="microphone")
    client.resource_create(studio)
    client.resource_create(cable, standalone=False)
    b = client.book(resources=[studio, (mics, 3), {"id": cable}],
                    start=at(day, "10:00"), end=at(day, "11:00"),
                    booker=BOOKER)
    assert sorted(b.resources) == sorted([studio, mics, cable])
    assert {"resource": mics, "quantity": 3} in b.items
    client.book(resource=mics, start=at(day, "10:00"), end=at(day, "11:00"),
                booker=BOOKER)
    client.book(resources=[(mics, 1)], start=at(day, "10:00"),
                end=at(day, "11:00"), booker=BOOKER)
    with pytest.raises(bookd.Conflict):
        client.book(resources=[(mics, 1)], start=at(day, "10:30"),
                    end=at(day, "11:30"), booker=BOOKER)


@covers("booking.list")
def test_booking_list_pages(client, rid, day):
    ids = [client.book(resource=rid, start=at(day, f"{h:02d}:00"),
                       end=at(day, f"{h:02d}:30"), booker=BOOKER).id
           for h in range(3)]
    page = client.booking_list(resource=rid)
    assert isinstance(page, bookd.BookingPage)
    assert [b.id for b in page.bookings] == ids
    seen, after = [], None
    for _ in range(10):
        page = client.booking_list(resource=rid, limit=1, after=after)
        seen += [b.id for b in page.bookings]
        if page.next is None:
            break
        after = page.next
    assert seen == ids
    client.booking_cancel(id=ids[1])
    assert [b.id for b in client.booking_list(
        resource=rid, status="cancelled").bookings] == [ids[1]]
    window = client.booking_list(resource=rid, from_=at(day, "01:00"),
                                 to=at(day, "03:00"))
    assert [b.id for b in window.bookings] == ids[1:]


@covers("booking.list")
def test_booking_list_by_email(client, rid, day):
    mine = client.book(resource=rid, start=at(day, "05:00"),
                       end=at(day, "05:30"),
                       booker={"name": "M", "email": "Mine@Example.org"}).id
    client.book(resource=rid, start=at(day, "06:00"), end=at(day, "06:30"),
                booker=BOOKER)
    page = client.booking_list(email="mine@example.ORG")
    assert [b.id for b in page.bookings] == [mine]


@covers("resource.delete", "event_type.delete")
def test_delete_archives(client, day):
    rid = new_resource_id()
    client.resource_create(rid)
    client.event_type_put("et-" + rid, title="T", lengths=[60],
                          resources=[rid])
    b = client.book(resource=rid, start=at(day, "09:00"),
                    end=at(day, "10:00"), booker=BOOKER,
                    event_type="et-" + rid)
    for call in (lambda: client.resource_delete(rid),
                 lambda: client.event_type_delete("et-" + rid)):
        with pytest.raises(bookd.InvalidState) as e:
            call()
        assert e.value.code == "INVALID_STATE"
        assert "has 1 booking from now on" in str(e.value)
    client.booking_cancel(id=b.id)
    et = client.event_type_delete("et-" + rid)
    assert et.active is False and et.extra.get("archived") is True
    res = client.resource_delete(rid)
    assert res.active is False and res.extra.get("archived") is True
    assert client.booking_get(id=b.id).resources == [rid]


@covers("booking.cancel")
def test_booking_cancel_frees_slots(engine, client, rid, day):
    b = client.book(resource=rid, start=at(day, "10:00"),
                    end=at(day, "11:00"), booker=BOOKER)
    cancelled = client.booking_cancel(id=b.id, reason="changed plans",
                                      by="ada")
    assert cancelled.status == "cancelled"
    assert cancelled.history[-1]["to"] == "cancelled"
    assert cancelled.history[-1]["reason"] == "changed plans"
    assert client.check(rid, at(day, "10:00"), at(day, "11:00")).free
    b2 = client.book(resource=rid, start=at(day, "10:00"),
                     end=at(day, "11:00"), booker=BOOKER)
    with engine.connect(role="public") as pub:
        assert pub.booking_cancel(ref=b2.ref).status == "cancelled"


@covers("booking.transition")
def test_booking_transition(client, rid, day):
    b = client.book(resource=rid, start=at(day, "10:00"),
                    end=at(day, "11:00"), booker=BOOKER, status="pending")
    assert b.status == "pending"
    b = client.booking_transition(b.id, "confirmed", reason="ok", by="desk")
    assert b.status == "confirmed"
    b = client.booking_transition(b.id, "completed")
    assert b.status == "completed"
    assert [h["to"] for h in b.history][-2:] == ["confirmed", "completed"]
    assert not client.check(rid, at(day, "10:00"), at(day, "11:00")).free


@covers("booking.reschedule")
def test_booking_reschedule(client, rid, day):
    b = client.book(resource=rid, start=at(day, "10:00"),
                    end=at(day, "11:00"), booker=BOOKER)
    moved = client.booking_reschedule(id=b.id, start=at(day, "10:30"),
                                      end=at(day, "11:30"))
    assert (moved.id, moved.start, moved.end) == \
        (b.id, at(day, "10:30"), at(day, "11:30"))
    assert client.check(rid, at(day, "10:00"), at(day, "10:30")).free
    assert not client.check(rid, at(day, "11:00"), at(day, "11:30")).free
    other = client.book(resource=rid, start=at(day, "12:00"),
                        end=at(day, "13:00"), booker=BOOKER)
    with pytest.raises(bookd.Conflict):
        client.booking_reschedule(ref=other.ref, start=at(day, "11:00"),
                                  end=at(day, "12:00"))
    assert client.booking_get(id=other.id).start == at(day, "12:00")


@covers("subscribe", "unsubscribe")
def test_subscribe_and_unsubscribe(client, rid, day):
    sub = client.subscribe("slots", rid, day, day)
    assert isinstance(sub, bookd.Subscription) and isinstance(sub.sub, int)
    client.book(resource=rid, start=at(day, "10:00"), end=at(day, "11:00"),
                booker=BOOKER)
    push = sub.get(timeout=WAIT)
    assert push is not None, "no slots push after a booking"
    assert (push.push, push.sub, push.topic, push.resource, push.date) == \
        ("changed", sub.sub, "slots", rid, day)
    client.unsubscribe(sub)
    assert sub.get(timeout=WAIT) is None  # iteration has ended
    with pytest.raises(bookd.NotFound):
        client.unsubscribe(sub.sub)


@covers("events")
def test_events_feed(client, rid, day):
    b = client.book(resource=rid, start=at(day, "10:00"),
                    end=at(day, "11:00"), booker=BOOKER)
    client.booking_cancel(id=b.id)
    mine, after = [], 0
    for _ in range(10000):
        page = client.events(after=after, limit=100)
        assert isinstance(page, bookd.EventPage)
        mine += [e.type for e in page.events
                 if e.booking is not None and e.booking.id == b.id]
        if not page.events or page.next is None:
            break
        assert all(e.lsn > after for e in page.events)
        after = page.next
    assert mine == ["booking.created", "booking.cancelled"]


def test_generic_call_and_ops_without_typed_methods(client, rid):
    assert client.call("ping") == "pong"
    raw = client.call("resource.get", id=rid)
    assert isinstance(raw, dict) and raw["id"] == rid
    for op in bookd.OPS:
        assert callable(getattr(client, op.ident)), op.wire
    assert client.resource_get.__name__ == "resource_get"
    with pytest.raises(AttributeError):
        client.no_such_operation


@covers("hook.put", "hook.get", "hook.list", "hook.delete")
def test_hooks(client):
    hid = new_resource_id()
    made = client.hook_put(id=hid, url="https://example.org/hook",
                           events=["booking.created"])
    assert made["secret"].startswith("whsec_") and len(made["secret"]) == 50
    got = client.hook_get(id=hid)
    assert got["url"] == "https://example.org/hook"
    assert got["secret"] != made["secret"]  # masked
    assert hid in [h["id"] for h in client.hook_list()["hooks"]]
    full = {h["id"]: h for h in client.hook_list(secrets=True)["hooks"]}
    assert full[hid]["secret"] == made["secret"]
    with pytest.raises(bookd.BadRequest):
        client.hook_put(id=hid, url="gopher://x", events=["*"])
    assert client.hook_delete(id=hid) == {"id": hid, "deleted": True}
    with pytest.raises(bookd.NotFound):
        client.hook_get(id=hid)

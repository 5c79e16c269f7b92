"""SPEC section 7, scenarios 1 and 3, written with the Python client.

Each view is read twice, from the engine (``slots.view``) and derived
locally (``day_view``), and the two must agree.
"""

from __future__ import annotations

import pytest

import bookd
from util import BOOKER, WAIT, at, new_resource_id, wait_until

FIVE_HOURS = 300
ONE_HOUR = 60


def states(view: list[bookd.ViewSlot]) -> dict[str, str]:
    return {v.start.strftime("%H:%M"): v.state for v in view}


def views(c: bookd.Client, rid: str, day, duration: int, session: str):
    engine_view = c.slots_view(rid, day, duration, interval=60,
                               session=session)
    local_view = c.day_view(rid, day, duration, interval=60, session=session)
    assert engine_view == local_view
    starts = [v.start for v in engine_view]
    assert starts == sorted(starts), "the view must be chronological"
    return states(engine_view)


def start_scene(engine, day, subscribe: bool = False):
    """Connections A and B, a fresh studio and A's 13:00-14:00 hold; with
    subscribe, B's holds subscription is made before the hold."""
    a = engine.connect()
    b = engine.connect()
    studio = new_resource_id()
    a.resource_create(studio, name="studio-a")
    sub = b.subscribe("holds", studio, day, day) if subscribe else None
    a.hold(studio, at(day, "13:00"), at(day, "14:00"), "session-A")
    return a, b, studio, sub


def test_scenario_1_multi_duration_conflict(engine, day):
    a, b, studio, _ = start_scene(engine, day)
    with a, b:
        five = views(b, studio, day, FIVE_HOURS, "session-B")
        for hhmm in ("09:00", "10:00", "11:00", "12:00", "13:00"):
            assert five[hhmm] == bookd.RESERVED, hhmm
        assert five["08:00"] == bookd.AVAILABLE
        assert five["14:00"] == bookd.AVAILABLE
        assert [h for h, s in five.items() if s == bookd.RESERVED] == \
            ["09:00", "10:00", "11:00", "12:00", "13:00"]

        with pytest.raises(bookd.Held):
            b.book(resource=studio, start=at(day, "10:00"),
                   end=at(day, "15:00"), booker=BOOKER, session="session-B")

        one = views(b, studio, day, ONE_HOUR, "session-B")
        assert [h for h, s in one.items() if s == bookd.RESERVED] == ["13:00"]
        # A sees its own hold as no obstacle.
        assert bookd.RESERVED not in views(a, studio, day, FIVE_HOURS,
                                           "session-A").values()


def test_scenario_3_hold_release(engine, day):
    a, b, studio, sub = start_scene(engine, day, subscribe=True)
    with a, b:
        assert sub.get(timeout=WAIT) is not None  # A's hold
        assert b.check(studio, at(day, "13:00"), at(day, "14:00")).reason == \
            "held"
        assert a.release(studio, "session-A") is True
        push = sub.get(timeout=WAIT)
        assert push is not None, "B's holds subscription was not pushed"
        assert (push.topic, push.resource, push.date) == \
            ("holds", studio, day)
        five = views(b, studio, day, FIVE_HOURS, "session-B")
        for hhmm in ("09:00", "10:00", "11:00", "12:00", "13:00"):
            assert five[hhmm] == bookd.AVAILABLE, hhmm


def test_scenario_3_hold_expiry(short_engine, day):
    """The same, with A's hold lapsing after the (600 ms) TTL instead."""
    a, b, studio, sub = start_scene(short_engine, day, subscribe=True)
    with a, b:
        assert sub.get(timeout=WAIT) is not None  # A's hold
        push = sub.get(timeout=WAIT)
        assert push is not None, "no holds push when the hold expired"
        assert (push.topic, push.resource, push.date) == \
            ("holds", studio, day)
        wait_until(lambda: b.holds_day(studio, day) == [], "the expiry")
        five = views(b, studio, day, FIVE_HOURS, "session-B")
        assert bookd.RESERVED not in five.values()
        b.book(resource=studio, start=at(day, "10:00"), end=at(day, "15:00"),
               booker=BOOKER, session="session-B")

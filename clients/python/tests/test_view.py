"""The local day-view derivation as a pure function (no engine needed)."""

from __future__ import annotations

import datetime as dt

import bookd
from bookd import day_view
from util import at

D = dt.date(2030, 5, 6)


def hourly(first: str, last: str) -> list[dt.datetime]:
    h0, h1 = int(first[:2]), int(last[:2])
    return [at(D, f"{h:02d}:00") for h in range(h0, h1 + 1)]


def states(view):
    return [(v.start.strftime("%H:%M"), v.state) for v in view]


def test_five_hour_viewer_around_a_one_hour_hold():
    """SPEC 7.1: a hold 13:00-14:00 reserves the 09:00..13:00 starts."""
    hold = [bookd.HoldSpan(at(D, "13:00"), at(D, "14:00"), False)]
    view = day_view(hourly("08:00", "14:00"), hold, 300)
    assert states(view) == [
        ("08:00", "available"), ("09:00", "reserved"), ("10:00", "reserved"),
        ("11:00", "reserved"), ("12:00", "reserved"), ("13:00", "reserved"),
        ("14:00", "available")]


def test_one_hour_viewer_sees_only_the_held_hour():
    hold = [{"start": at(D, "13:00"), "end": at(D, "14:00"), "mine": False}]
    view = day_view(hourly("11:00", "15:00"), hold, dt.timedelta(hours=1))
    assert [s for s, st in states(view) if st == "reserved"] == ["13:00"]


def test_own_hold_does_not_reserve():
    hold = [bookd.HoldSpan(at(D, "13:00"), at(D, "14:00"), True)]
    assert all(v.available for v in day_view(hourly("10:00", "14:00"),
                                             hold, 60))


def test_result_is_chronological_whatever_the_input_order():
    starts = list(reversed(hourly("08:00", "16:00")))
    holds = [bookd.HoldSpan(at(D, "09:00"), at(D, "10:00"), False),
             bookd.HoldSpan(at(D, "14:00"), at(D, "14:15"), False)]
    view = day_view(starts, holds, 60)
    assert [v.start for v in view] == sorted(v.start for v in view)
    assert states(view)[:3] == [("08:00", "available"), ("09:00", "reserved"),
                                ("10:00", "available")]
    assert ("14:00", "reserved") in states(view)


def test_touching_spans_do_not_overlap_and_ints_are_accepted():
    start = int(at(D, "12:00").timestamp())
    holds = [{"start": start + 3600, "end": start + 7200}]
    view = day_view([start], holds, 60)
    assert view[0].available and view[0].start == at(D, "12:00")


def test_day_slots_result_is_accepted():
    slots = bookd.DaySlots(D, "UTC", hourly("08:00", "09:00"))
    assert len(day_view(slots, [], 60)) == 2

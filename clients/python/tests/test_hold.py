"""The Hold context manager across the hold TTL (engine with a 600 ms TTL).

Nothing here asserts a duration: the tests wait, bounded, for an effect
(renewals counted, a hold gone) and then check the state.
"""

from __future__ import annotations

import pytest

import bookd
from util import BOOKER, SHORT_TTL_MS, WAIT, at, new_resource_id, wait_until


def make_resource(c: bookd.Client) -> str:
    rid = new_resource_id()
    c.resource_create(rid)
    return rid


def test_hold_survives_past_the_ttl_while_renewed(short_engine, day):
    with short_engine.connect() as a, short_engine.connect() as b:
        assert a.server.hold_ttl_ms == SHORT_TTL_MS
        rid = make_resource(a)
        span = (at(day, "13:00"), at(day, "14:00"))
        with a.hold_span(rid, *span) as h:
            assert h.renew_every == SHORT_TTL_MS / 2000.0
            # Four renewals take at least twice the TTL: without them the
            # hold would have lapsed by now.
            wait_until(lambda: h.renewals >= 4 or h.error, "four renewals")
            assert h.alive and h.error is None
            with pytest.raises(bookd.Held):
                b.hold(rid, *span, "s-other")
            assert not b.check(rid, *span).free
            booking = a.book(resource=rid, start=span[0], end=span[1],
                             booker=BOOKER, session=h.session)
        assert booking.status == "confirmed"
        assert b.holds_day(rid, day) == []


def test_exit_releases_at_once(short_engine, day):
    with short_engine.connect() as a, short_engine.connect() as b:
        rid = make_resource(a)
        span = (at(day, "09:00"), at(day, "10:00"))
        with a.hold_span(rid, *span, session="s-exit") as h:
            assert [x.mine for x in b.holds_day(rid, day,
                                                session="s-exit")] == [True]
        assert not h.alive
        assert b.holds_day(rid, day) == []
        b.hold(rid, *span, "s-next")


def test_a_lapsed_hold_taken_by_another_is_reported_lost(short_engine, day):
    with short_engine.connect() as a, short_engine.connect() as b:
        rid = make_resource(a)
        span = (at(day, "15:00"), at(day, "16:00"))
        # Renewing far less often than the TTL lets the hold lapse.
        with a.hold_span(rid, *span, renew_every=3600) as h:
            wait_until(lambda: b.check(rid, *span).free, "the hold to lapse")
            b.hold(rid, *span, "s-taker")
            with pytest.raises(bookd.Held):
                h.renew()
            assert not h.alive and isinstance(h.error, bookd.Held)
            with pytest.raises(bookd.Held):
                h.raise_if_lost()


def test_expiry_pushes_holds_subscribers(short_engine, day):
    with short_engine.connect() as a, short_engine.connect() as b:
        rid = make_resource(a)
        sub = b.subscribe("holds", rid, day, day)
        a.hold(rid, at(day, "13:00"), at(day, "14:00"), "s-lapse")
        assert sub.get(timeout=WAIT) is not None  # the hold itself
        assert sub.get(timeout=WAIT) is not None, "no push on expiry"
        assert b.holds_day(rid, day) == []

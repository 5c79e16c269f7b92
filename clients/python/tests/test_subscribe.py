"""Subscriptions: which changes push which topic, iteration and callbacks.

To assert that nothing was pushed, the subscriber pings after the change:
the engine queues a change's pushes before it reads the subscriber's next
request, and the reader thread routes messages in arrival order, so once the
ping returns every push caused earlier is in the subscription's queue.
"""

from __future__ import annotations

import datetime as dt
import threading

import bookd
from util import BOOKER, WAIT, at


def drain(watcher: bookd.Client, sub: bookd.Subscription) -> list[bookd.Push]:
    watcher.ping()
    out = []
    while sub.pending():
        out.append(sub.get(timeout=WAIT))
    return out


def test_holds_push_on_hold_and_release_but_not_on_renewal(engine, client,
                                                            rid, day):
    with engine.connect() as watcher:
        holds = watcher.subscribe("holds", rid, day, day)
        slots = watcher.subscribe("slots", rid, day, day)
        client.hold(rid, at(day, "13:00"), at(day, "14:00"), "s-a")
        got = drain(watcher, holds)
        assert [(p.topic, p.resource, p.date) for p in got] == \
            [("holds", rid, day)]
        for _ in range(3):
            client.hold(rid, at(day, "13:00"), at(day, "14:00"), "s-a")
        assert drain(watcher, holds) == []
        client.release(rid, "s-a")
        assert len(drain(watcher, holds)) == 1
        assert drain(watcher, slots) == [], "holds must not push slots"


def test_slots_push_once_per_day_of_a_multi_day_booking(engine, client, rid,
                                                         day):
    d0, d1, d2 = (day + dt.timedelta(days=i) for i in range(3))
    with engine.connect() as watcher:
        slots = watcher.subscribe("slots", rid, d0, d2)
        holds = watcher.subscribe("holds", rid, d0, d2)
        client.book(resource=rid, start=at(d0, "14:00"), end=at(d2, "10:00"),
                    booker=BOOKER)
        got = [slots.get(timeout=WAIT) for _ in range(3)]
        assert None not in got, "fewer than three slots pushes"
        assert sorted(p.date for p in got) == [d0, d1, d2]
        assert drain(watcher, slots) == []
        assert drain(watcher, holds) == []


def test_days_outside_the_subscribed_range_do_not_push(engine, client, rid,
                                                       day):
    later = day + dt.timedelta(days=3)
    with engine.connect() as watcher:
        sub = watcher.subscribe("slots", rid, from_=day, to=day)
        client.book(resource=rid, start=at(later, "10:00"),
                    end=at(later, "11:00"), booker=BOOKER)
        client.book(resource=rid, start=at(day, "10:00"),
                    end=at(day, "11:00"), booker=BOOKER)
        push = sub.get(timeout=WAIT)
        assert push is not None and push.date == day
        assert drain(watcher, sub) == []


def test_callback_runs_on_its_own_thread_and_may_call_the_client(
        engine, client, rid, day):
    seen: list[tuple[bookd.Push, list[bookd.HoldSpan]]] = []
    arrived = threading.Event()
    with engine.connect() as watcher:

        def on_push(push: bookd.Push) -> None:
            # Calling back into the client from a callback must not deadlock.
            seen.append((push, watcher.holds_day(rid, push.date)))
            arrived.set()

        sub = watcher.subscribe("holds", rid, day, day, callback=on_push)
        client.hold(rid, at(day, "09:00"), at(day, "10:00"), "s-cb")
        assert arrived.wait(WAIT), "callback not called"
        push, spans = seen[0]
        assert push.sub == sub.sub
        assert [(h.start, h.end) for h in spans] == \
            [(at(day, "09:00"), at(day, "10:00"))]
        sub.close()


def test_iteration_ends_when_the_connection_closes(engine, client, rid, day):
    watcher = engine.connect()
    sub = watcher.subscribe("holds", rid, day, day)
    client.hold(rid, at(day, "09:00"), at(day, "10:00"), "s-it")
    done = threading.Event()
    received: list[bookd.Push] = []

    def consume() -> None:
        for push in sub:
            received.append(push)
            watcher.close()
        done.set()

    t = threading.Thread(target=consume)
    t.start()
    assert done.wait(WAIT), "iteration did not end after close"
    t.join(WAIT)
    assert len(received) == 1 and watcher.closed

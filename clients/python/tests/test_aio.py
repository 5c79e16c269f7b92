"""The asyncio client against a real bookd: the same surface, awaited.

pytest-asyncio is not a dependency: each test runs its coroutine with
asyncio.run, bounded by asyncio.wait_for.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

import bookd
import bookd.aio
from util import BOOKER, WAIT, at, new_resource_id


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_connect_and_basic_operations(engine, day):
    async def main():
        async with await bookd.aio.connect(engine.socket) as c:
            assert (c.server.server, c.server.role) == ("bookd", "admin")
            assert await c.ping() == "pong"
            rid = new_resource_id()
            r = await c.resource_create(rid, name="Async studio")
            assert isinstance(r, bookd.Resource) and r.name == "Async studio"
            slots = await c.slots_day(rid, day, 60)
            assert len(slots.slots) == 24 and slots.date == day
            b = await c.book(resource=rid, start=at(day, "10:00"),
                             end=at(day, "11:00"), booker=BOOKER)
            assert (await c.booking_get(ref=b.ref)).id == b.id
            with pytest.raises(bookd.Conflict):
                await c.book(resource=rid, start=at(day, "10:30"),
                             end=at(day, "11:30"), booker=BOOKER)
            with pytest.raises(bookd.UnknownOp):
                await c.call("no.such.op")
            assert (await c.call("resource.get", id=rid))["id"] == rid
        assert c.closed
        with pytest.raises(bookd.ConnectionClosed):
            await c.ping()
    run(main())


def test_concurrent_tasks_are_pipelined_and_matched(engine):
    async def main():
        async with await bookd.aio.connect(engine.socket) as c:
            ids = [new_resource_id() for _ in range(20)]
            await asyncio.gather(*(c.resource_create(i, quantity=n + 1)
                                   for n, i in enumerate(ids)))
            got = await asyncio.gather(*(c.resource_get(ids[n % 20])
                                         for n in range(400)))
            assert [(r.id, r.quantity) for r in got] == \
                [(ids[n % 20], n % 20 + 1) for n in range(400)]
            results = await asyncio.gather(
                *(c.resource_get(f"missing-{n}") for n in range(10)),
                return_exceptions=True)
            assert all(isinstance(e, bookd.NotFound) for e in results)
            fut = c.submit("ping")
            assert await asyncio.wait_for(fut, WAIT) == "pong"
    run(main())


def test_subscription_hold_and_day_view(engine, day):
    async def main():
        async with await bookd.aio.connect(engine.socket) as a, \
                await bookd.aio.connect(engine.socket) as b:
            rid = new_resource_id()
            await a.resource_create(rid)
            sub = await b.subscribe("holds", rid, day, day)
            span = (at(day, "13:00"), at(day, "14:00"))
            async with a.hold_span(rid, *span, renew_every=0.05) as h:
                push = await sub.get(timeout=WAIT)
                assert push is not None and (push.topic, push.date) == \
                    ("holds", day)
                while h.renewals < 3 and h.error is None:
                    await asyncio.sleep(0.05)
                assert h.alive
                with pytest.raises(bookd.Held):
                    await b.hold(rid, *span, "s-async-other")
                view = await b.day_view(rid, day, 300, interval=60)
                assert view == await b.slots_view(rid, day, 300, interval=60)
                assert [v.start.strftime("%H:%M") for v in view
                        if not v.available] == \
                    ["09:00", "10:00", "11:00", "12:00", "13:00"]
            assert not h.alive
            assert await sub.get(timeout=WAIT) is not None  # the release
            assert await b.holds_day(rid, day) == []
            await sub.close()
            assert await sub.get(timeout=WAIT) is None
    run(main())


def test_async_callback_and_iteration_end(engine, day):
    async def main():
        a = await bookd.aio.connect(engine.socket)
        rid = new_resource_id()
        await a.resource_create(rid)
        got: asyncio.Queue = asyncio.Queue()

        async def on_push(push):
            await got.put((push, await a.holds_day(rid, push.date)))

        await a.subscribe("holds", rid, day, day, callback=on_push)
        iterated = await a.subscribe("holds", rid, day, day)
        await a.hold(rid, at(day, "09:00"), at(day, "10:00"), "s-cb")
        push, spans = await asyncio.wait_for(got.get(), WAIT)
        assert push.date == day and len(spans) == 1
        first = await iterated.__anext__()
        assert first.topic == "holds"
        await a.close()
        assert [p async for p in iterated] == []
    run(main())


def test_connect_failure_is_a_bookd_error(tmp_path):
    async def main():
        with pytest.raises(bookd.ConnectionFailed):
            await bookd.aio.connect(str(tmp_path / "nothing.sock"))
    run(main())
    with pytest.raises(bookd.ConnectionFailed):
        bookd.connect(str(tmp_path / "nothing.sock"))


def test_naive_datetimes_are_refused_before_sending(engine):
    async def main():
        async with await bookd.aio.connect(engine.socket) as c:
            with pytest.raises(ValueError):
                await c.check("x", dt.datetime(2030, 1, 1, 10),
                              dt.datetime(2030, 1, 1, 11))
            assert await c.ping() == "pong"
    run(main())

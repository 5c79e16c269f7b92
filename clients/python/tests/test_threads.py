"""One Client shared by many threads: requests pipelined, replies matched."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import threading

import pytest

import bookd
from util import BOOKER, WAIT, at, new_resource_id

THREADS = 8
ROUNDS = 150


def test_threads_get_their_own_replies(client, day):
    ids = [new_resource_id() for _ in range(THREADS)]
    for n, rid in enumerate(ids):
        client.resource_create(rid, name=f"thread {n}", quantity=n + 1)
    start = threading.Barrier(THREADS)
    failures: list[str] = []

    def work(n: int) -> None:
        start.wait(WAIT)
        for i in range(ROUNDS):
            r = client.resource_get(ids[n])
            if (r.id, r.quantity) != (ids[n], n + 1):
                failures.append(f"thread {n} got {r.id}")
            # Errors reach the thread that caused them, too.
            try:
                client.resource_get(f"{ids[n]}-missing-{i}")
                failures.append(f"thread {n}: no NotFound")
            except bookd.NotFound:
                pass
            # Starts step by the duration from midnight; the last span
            # may run into the next (free) day.
            slots = client.slots_day(ids[n], day, 15 * (n + 1))
            if len(slots.slots) != -(-96 // (n + 1)):
                failures.append(f"thread {n}: {len(slots.slots)} slots")

    threads = [threading.Thread(target=work, args=(n,)) for n in
               range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        assert not t.is_alive(), "a thread is stuck"
    assert failures == []
    assert client.ping() == "pong"


def test_submit_pipelines_from_one_thread(client, rid):
    futures = [client.submit("resource.get", id=rid) if i % 2 else
               client.submit("ping") for i in range(1000)]
    for i, fut in enumerate(futures):
        result = fut.result(WAIT)
        assert (result["id"] == rid) if i % 2 else (result == "pong")
    bad = client.submit("resource.get", id="missing-resource")
    with pytest.raises(bookd.NotFound):
        bad.result(WAIT)


def test_racing_threads_book_only_non_overlapping_spans(client, rid, day):
    """Threads race for overlapping spans; the winners never overlap."""
    step = dt.timedelta(minutes=15)
    spans = [(at(day, "10:00") + i * step, at(day, "11:00") + i * step)
             for i in range(12)]

    def attempt(span):
        try:
            return client.book(resource=rid, start=span[0], end=span[1],
                               booker=BOOKER)
        except bookd.Conflict:
            return None

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(attempt, spans, timeout=120))
    won = sorted((b.start, b.end) for b in results if b is not None)
    assert won, "nobody won"
    for (s1, e1), (s2, e2) in zip(won, won[1:]):
        assert e1 <= s2, f"overlapping winners {s1}-{e1} and {s2}-{e2}"
    listed = sorted((b.start, b.end) for b in
                    client.booking_list(resource=rid).bookings)
    assert listed == won


def test_racing_threads_hold_one_span_one_winner(client, rid, day):
    def attempt(n: int):
        try:
            client.hold(rid, at(day, "13:00"), at(day, "14:00"), f"s-{n}")
            return n
        except bookd.Held:
            return None

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        winners = [n for n in pool.map(attempt, range(THREADS * 2),
                                       timeout=120) if n is not None]
    assert len(winners) == 1

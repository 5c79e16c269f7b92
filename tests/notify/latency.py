#!/usr/bin/python3
"""Delivery latency of bookd-notify: from a booking's durable reply to its
booking.created webhook at a receiver, at a paced booking rate.

    PYTHONPATH=clients/python python3 tests/notify/latency.py [RATE] [SECONDS]

Uses build/bookd and build/bookd-notify (or $BOOKD_BIN, $BOOKD_NOTIFY_BIN),
a real HTTP receiver on loopback, no mail transport.  The reply to `book`
is sent only once the booking is durable, so "reply received" stands for
"event durable" (it is later by one socket hop, so latency is, if anything,
underestimated by tens of microseconds).  Prints p50, p90, p99 and max.
Not part of `make test`: it is a measurement, not a check.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "clients" / "python"),
                str(HERE.parents[1] / "clients" / "python" / "tests")]

from nhelp import Notifier, Receiver, wait_until  # noqa: E402
from util import Engine  # noqa: E402


def main() -> None:
    rate = float(sys.argv[1]) if len(sys.argv) > 1 else 1000.0
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    threads = int(os.environ.get("THREADS", "16"))
    eng = Engine().start()
    recv = Receiver()
    c = eng.connect()
    nres = 64
    for k in range(nres):
        c.resource_create(f"r{k}")
    h = c.call("hook.put", id="lat", url=recv.url("/ok"),
               events=["booking.created"])
    recv.secrets["/ok"] = h["secret"]
    n = Notifier(eng.socket, "--poll-ms", "5").start()
    replied = {}
    lock = threading.Lock()
    total = int(rate * seconds)
    day0 = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)
    base = int(dt.datetime(day0.year, day0.month, day0.day,
                           tzinfo=dt.timezone.utc).timestamp())

    def worker(w: int) -> None:
        cl = eng.connect()
        t0 = time.monotonic()
        for i in range(w, total, threads):
            due = t0 + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            k = i // nres
            start = base + (k // 90) * 86400 + (k % 90) * 900
            b = cl.book(resource=f"r{i % nres}", start=start,
                        end=start + 900,
                        booker={"name": "L", "email": "l@example.org"})
            now = time.time()
            with lock:
                replied[b.id] = now
        cl.close()

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    t_start = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - t_start
    wait_until(lambda: len(recv.accepted("/ok")) >= total, "all webhooks",
               timeout=120)
    lat = []
    for g in recv.accepted("/ok"):
        bid = json.loads(g["body"])["data"]["id"]
        lat.append((g["at"] - replied[bid]) * 1000.0)
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))]

    print(f"{total} bookings in {elapsed:.2f} s ({total / elapsed:.0f}/s), "
          f"{len(lat)} webhooks: latency ms p50 {pct(50):.1f} "
          f"p90 {pct(90):.1f} p99 {pct(99):.1f} max {lat[-1]:.1f}")
    log = n.log()
    print(f"notifier: {log.count(': ok ')} attempts ok, "
          f"{log.count(': failed ')} failed")
    for line in log.splitlines():
        if ": failed " in line:
            print("  e.g. " + line)
            break
    n.close()
    recv.close()
    c.close()
    eng.close()


if __name__ == "__main__":
    main()

"""bookd-notify against real servers: a real bookd, a real SMTP server
(aiosmtpd) and a real HTTP receiver that checks every webhook signature.

Run by tests/run.sh; BOOKD_BIN and BOOKD_NOTIFY_BIN name the binaries.
The kill -9 storm uses 400 bookings (not the 1,000 of the issue) and the
engine-crash test a few hundred, to keep the suite well under 90 s on a
shared 2-core machine; NOTIFY_BURST overrides the count.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.header
import email.policy
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from icalendar import Calendar

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "clients" / "python"),
                str(HERE.parents[1] / "clients" / "python" / "tests")]

import bookd  # noqa: E402
from nhelp import (WAIT, Notifier, Receiver, Smtp, all_events,  # noqa: E402
                   wait_until)
from util import Engine, at  # noqa: E402

BASE = "https://studio.example"
FROM = "Studio Bookings <bookings@studio.example>"
KINDS = {
    "confirmed": "Booking confirmed",
    "received": "Booking request received",
    "approved": "Booking approved",
    "declined": "Booking request declined",
    "cancelled": "Booking cancelled",
    "rescheduled": "Booking rescheduled",
}
LONG_NAME = "Hopper, Grace «Ünïcödé» <g@x> \"q\" " * 3
BURST = int(os.environ.get("NOTIFY_BURST", "400"))


@pytest.fixture
def engine():
    eng = Engine().start()
    yield eng
    eng.close()


@pytest.fixture
def client(engine):
    with engine.connect() as c:
        yield c


@pytest.fixture
def recv():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def smtp():
    s = Smtp()
    yield s
    s.close()


def notifier(engine, smtp, *extra, **kw) -> Notifier:
    args = ["--from", FROM, "--base-url", BASE, "--poll-ms", "10"]
    if smtp is not None:
        args += ["--smtp", smtp.url()]
    return Notifier(engine.socket, *args, *extra, **kw)


def add_hook(client, recv, hook_id, path, events=("*",)):
    h = client.call("hook.put", id=hook_id, url=recv.url(path),
                    events=list(events))
    recv.secrets[path] = h["secret"]
    return h


def day(n=3) -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=n)


def parse(mail) -> email.message.EmailMessage:
    return email.message_from_bytes(mail["data"], policy=email.policy.default)


def kind_of(msg) -> str:
    mid = msg["Message-ID"]
    return mid.split(".")[1].split("@")[0]


def lsn_of(msg) -> int:
    return int(msg["Message-ID"].strip("<>").split(".")[0][4:])


def ics_of(msg):
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            return part, Calendar.from_ical(part.get_payload(decode=True))
    return None, None


# ---- the six emails and the webhooks of a booking's life ----------------

def test_lifecycle_emails_and_webhooks(engine, client, recv, smtp):
    client.resource_create("studio-a", name='Studio <A> & "B"',
                           timezone="Europe/Berlin")
    add_hook(client, recv, "all", "/ok")
    # Polling once a minute: only the engine's events pushes can bring the
    # deliveries in time.
    n = notifier(engine, smtp, "--poll-ms", "60000").start()
    try:
        wait_until(lambda: "(events pushes, polling as a fallback)" in n.log(),
                   "the subscription")
        d = day()
        evil = "<script>alert(1)</script>"
        b1 = client.book(resource="studio-a", start=at(d, "10:00"),
                         end=at(d, "11:00"), status="pending",
                         booker={"name": evil, "email": "eve@example.org"})
        client.booking_transition(b1.id, "confirmed")
        client.booking_reschedule(b1.id, start=at(d, "12:00"),
                                  end=at(d, "13:00"))
        client.booking_cancel(b1.id, reason="Studio flooded <b>&</b>")
        b2 = client.book(resource="studio-a", start=at(d, "14:00"),
                         end=at(d, "15:00"), status="pending",
                         booker={"name": "Ada", "email": "ada@example.org"})
        client.booking_transition(b2.id, "declined",
                                  reason="Fully booked <i>sorry</i>")
        b3 = client.book(resource="studio-a", start=at(d, "16:00"),
                         end=at(d, "17:00"),
                         booker={"name": LONG_NAME, "email": "g@example.org"})
        feed = all_events(client)
        assert len(feed) == 7
        wait_until(lambda: len(smtp.messages()) >= 7, "seven emails")
        wait_until(lambda: len(recv.accepted("/ok")) >= 7, "seven webhooks")
    finally:
        n.close()

    types = {e["lsn"]: e["type"] for e in feed}
    refs = {b.id: client.booking_get(b.id).ref for b in (b1, b2, b3)}
    msgs = [parse(m) for m in smtp.messages()]
    assert len(msgs) == 7
    by_kind = {}
    for m in msgs:
        by_kind.setdefault(kind_of(m), []).append(m)
    assert sorted(by_kind) == sorted(KINDS)
    assert len(by_kind["received"]) == 2
    for m in msgs:
        kind = kind_of(m)
        assert m["Subject"] == f"{KINDS[kind]}: Studio <A> & \"B\""
        assert m["Message-ID"] == \
            f"<evt-{lsn_of(m)}.{kind}@studio.example>"
        assert lsn_of(m) in types
        text = m.get_body(("plain",)).get_content()
        html = m.get_body(("html",)).get_content()
        # Every interpolated value is escaped in HTML.
        assert "<script>" not in html and "<A>" not in html
        assert "Studio &lt;A&gt; &amp; &quot;B&quot;" in html
        to = m["To"].addresses[0]
        bid = {"eve@example.org": b1.id, "ada@example.org": b2.id,
               "g@example.org": b3.id}[to.addr_spec]
        if bid == b3.id:
            # RFC 2047 decoding (Python's address parser adds a space
            # between adjacent encoded words, which the RFC says to drop).
            raw = email.message_from_bytes(
                [x for x in smtp.messages()
                 if parse(x)["Message-ID"] == m["Message-ID"]][0]["data"])
            phrase = raw["To"].rsplit(" <", 1)[0]
            assert str(email.header.make_header(
                email.header.decode_header(phrase))) == LONG_NAME
        if bid == b1.id:
            assert to.display_name == evil
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
            assert evil in text
        # Times in the booking's zone, named.
        assert "(Europe/Berlin, UTC+01:00)" in text
        # Management links, to the booker only (these mails go nowhere else).
        link = f"{BASE}/booking/{refs[bid]}"
        assert link in text and f'href="{link}"' in html
        if kind in ("declined", "cancelled"):
            assert f"{link}/reschedule" not in text
        else:
            assert f"{link}/reschedule" in text and f"{link}/cancel" in text
        part, cal = ics_of(m)
        assert part is not None, f"{kind}: no .ics"
        assert part.get_filename() == "invite.ics"
        ev = [c for c in cal.walk() if c.name == "VEVENT"][0]
        assert str(ev["UID"]) == f"booking-{bid}@studio.example"
        assert str(cal["METHOD"]) == \
            ("CANCEL" if kind in ("declined", "cancelled") else "REQUEST")
        assert str(ev["SUMMARY"]) == 'Studio <A> & "B"'
        assert "eve@example.org" in str(ev["ATTENDEE"]) or bid != b1.id
    # What each kind says.
    t = {k: v[0].get_body(("plain",)).get_content()
         for k, v in by_kind.items()}
    assert "Sunday" in t["confirmed"] or "day," in t["confirmed"]
    assert "17:00 (Europe/Berlin" in t["confirmed"]   # 16:00 UTC
    assert "not confirmed yet" in t["received"]
    assert "Studio flooded <b>&</b>" in t["cancelled"]
    assert "Fully booked <i>sorry</i>" in t["declined"]
    h = by_kind["declined"][0].get_body(("html",)).get_content()
    assert "Fully booked &lt;i&gt;sorry&lt;/i&gt;" in h
    assert "Was" in t["rescheduled"] and "Now" in t["rescheduled"]
    assert "11:00 (Europe/Berlin" in t["rescheduled"]  # old start
    assert "13:00 (Europe/Berlin" in t["rescheduled"]  # new start
    assert "1 h" in t["rescheduled"]
    _, cal = ics_of(by_kind["rescheduled"][0])
    ev = [c for c in cal.walk() if c.name == "VEVENT"][0]
    assert ev.decoded("DTSTART") == at(d, "12:00")
    assert ev.decoded("DTEND") == at(d, "13:00")

    # Webhooks: signed, one per event, data without the ref.
    assert recv.bad_signatures == 0
    got = recv.accepted("/ok")
    assert sorted(g["id"] for g in got) == \
        sorted(f"evt_{lsn}" for lsn in types)
    for g in got:
        body = json.loads(g["body"])
        assert set(body) == {"type", "timestamp", "data"}
        assert body["type"] == types[int(g["id"][4:])]
        assert "ref" not in body["data"]
        for ref in refs.values():
            assert ref.encode() not in g["body"]


# ---- retries, dead letters, and one endpoint never slowing another -------

def test_retries_dead_letters_and_isolation(engine, client, recv, smtp):
    client.resource_create("room")
    add_hook(client, recv, "flaky", "/flaky", ["booking.created"])
    add_hook(client, recv, "hang", "/hang")
    add_hook(client, recv, "good", "/ok")
    add_hook(client, recv, "down", "/down")
    n = notifier(engine, None, "--retry-base-ms", "300", "--timeout", "3",
                 "--retry-total-s", "5").start()
    try:
        d = day()
        booked_at = {}
        for i in range(3):
            b = client.book(resource="room", start=at(d, f"1{i}:00"),
                            end=at(d, f"1{i}:30"), booker={"name": "x", "email": "x@example.org"})
            booked_at[b.id] = time.time()
        # The good endpoint gets everything at once although /hang holds
        # its own deliveries for the whole timeout.
        wait_until(lambda: len(recv.accepted("/ok")) == 3, "good hook",
                   timeout=5)
        for g in recv.accepted("/ok"):
            bid = json.loads(g["body"])["data"]["id"]
            assert g["at"] - booked_at[bid] < 1.5, \
                "the good endpoint waited for the hanging one"
        # Three failures, then success, always with the same webhook-id.
        wait_until(lambda: len(recv.accepted("/flaky")) == 3,
                   "flaky hook accepted", timeout=20)
        with recv.lock:
            tries = [g for g in recv.got if g["path"] == "/flaky"]
        for wid in {g["id"] for g in tries}:
            mine = [g for g in tries if g["id"] == wid]
            assert [g["status"] for g in mine] == [503, 503, 503, 200]
        # /down never accepts: its deliveries become dead letters.
        # (/hang's deliveries die too, later: only /down's are counted.)
        wait_until(lambda: n.run("dead").stdout.count("H:down:") == 3,
                   "dead letters", timeout=25)
        listing = n.run("dead").stdout
        assert "HTTP 500" in listing
        status = json.loads((n.state / "status.json").read_text())
        hooks = {h["id"]: h for h in status["hooks"]}
        assert hooks["down"]["failures"] >= 3
        assert hooks["good"]["failures"] == 0
        # An admin replays them once the endpoint is back.
        recv.down = False
        for line in listing.splitlines():
            if line.startswith("H:down:"):
                r = n.run("replay", line.split()[0])
                assert r.returncode == 0, r.stderr
        wait_until(lambda: len(recv.accepted("/down")) == 3,
                   "replayed dead letters", timeout=10)
        wait_until(lambda: "H:down:" not in n.run("dead").stdout,
                   "dead letters gone")
        assert recv.bad_signatures == 0
    finally:
        recv.release.set()
        n.close()


# ---- kill -9 of the notifier during a burst ------------------------------

def burst(engine, count, lifecycle=True, stop=None, errors=None):
    """Bookings on 8 resources, some taken through their life."""
    c = engine.connect()
    made = 0
    i = 0
    while made < count and not (stop and stop.is_set()):
        r = f"r{i % 8}"
        k = i // 8
        start = at(day(1 + k // 90), "00:00") + dt.timedelta(minutes=15 * (k % 90))
        end = start + dt.timedelta(minutes=15)
        try:
            pending = lifecycle and i % 10 in (1, 2)
            b = c.book(resource=r, start=start, end=end,
                       status="pending" if pending else None,
                       booker={"name": f"B{i}", "email": f"b{i}@example.org"})
            made += 1
            if lifecycle and i % 10 == 1:
                c.booking_transition(b.id, "confirmed")
            elif lifecycle and i % 10 == 2:
                c.booking_transition(b.id, "declined", reason="full")
            elif lifecycle and i % 10 == 3:
                c.booking_reschedule(b.id, start=start + dt.timedelta(days=300),
                                     end=end + dt.timedelta(days=300))
            elif lifecycle and i % 10 == 4:
                c.booking_cancel(b.id, reason="changed plans")
        except (bookd.ConnectionFailed, OSError, bookd.Error, bookd.ProtocolError) as e:
            if errors is not None:
                errors.append(repr(e))
            try:
                c.close()
            except Exception:
                pass
            time.sleep(0.1)
            c = wait_until(lambda: _try_connect(engine), "reconnect")
        i += 1
    c.close()
    return made


def _try_connect(engine):
    try:
        return engine.connect()
    except Exception:
        return None


def delivered_ids(recv, path="/ok"):
    return [g["id"] for g in recv.accepted(path)]


def test_kill9_notifier_during_burst(engine, client, recv, smtp):
    for k in range(8):
        client.resource_create(f"r{k}")
    add_hook(client, recv, "all", "/ok")
    n = notifier(engine, smtp).start()
    kills = 0
    rng = random.Random(13)
    try:
        t = threading.Thread(target=burst, args=(engine, BURST))
        t.start()
        while t.is_alive():
            time.sleep(rng.uniform(0.02, 0.2))
            n.kill9()
            kills += 1
            n.start()
        t.join()
        feed = all_events(client)
        want = {f"evt_{e['lsn']}" for e in feed}
        wait_until(lambda: want <= set(delivered_ids(recv)),
                   "every event delivered", timeout=60)
        mail_lsns = {e["lsn"] for e in feed
                     if e["type"] in ("booking.created", "booking.confirmed",
                                      "booking.declined", "booking.cancelled",
                                      "booking.rescheduled")}
        wait_until(lambda: mail_lsns <= {lsn_of(parse(m))
                                         for m in smtp.messages()},
                   "every email", timeout=60)
    finally:
        n.close()
    got = delivered_ids(recv)
    msgs = [parse(m) for m in smtp.messages()]
    assert {kind_of(m) for m in msgs} >= set(KINDS)
    assert recv.bad_signatures == 0
    # Nothing that is not an event of the feed.
    assert set(got) <= want
    dup_hooks = len(got) - len(set(got))
    dup_mails = len(msgs) - len({m["Message-ID"] for m in msgs})
    print(f"\nkill-9 storm: {len(feed)} events, {kills} kills, "
          f"{dup_hooks} duplicate webhooks, {dup_mails} duplicate emails",
          file=sys.stderr)


# ---- kill -9 of the engine while the notifier follows it -----------------

def test_kill9_engine_no_gap(engine, client, recv, smtp):
    for k in range(8):
        client.resource_create(f"r{k}")
    add_hook(client, recv, "all", "/ok")
    n = notifier(engine, None).start()
    stop = threading.Event()
    errors = []
    try:
        t = threading.Thread(target=burst,
                             args=(engine, 100000, False, stop, errors))
        t.start()
        time.sleep(1.0)
        engine.proc.kill()
        engine.proc.wait()
        time.sleep(0.3)
        engine.start()
        time.sleep(1.0)
        stop.set()
        t.join()
        with engine.connect() as c:
            feed = all_events(c)
        types = {f"evt_{e['lsn']}": e["type"] for e in feed}
        wait_until(lambda: set(types) <= set(delivered_ids(recv)),
                   "every event after the crash", timeout=60)
    finally:
        n.close()
    assert errors, "the engine crash was not seen by the booking thread"
    assert len(feed) > 50
    # No gap, and nothing delivered that the engine does not have: an
    # event is taken only once durable, so no LSN was delivered for an
    # event the crash erased.
    for g in recv.accepted("/ok"):
        assert g["id"] in types, f"{g['id']} is not in the feed"
        assert json.loads(g["body"])["type"] == types[g["id"]]
    assert recv.bad_signatures == 0


# ---- reminders: durable, never twice; no transport: logged as skipped ----

def test_reminder_once_across_restart(engine, client, recv, smtp):
    client.resource_create("desk")
    add_hook(client, recv, "all", "/ok")
    now = time.time()
    start = (int(now) // 900 + 2) * 900
    lead = int(start - now) - 3  # due in about three seconds
    n = notifier(engine, smtp, "--reminder-lead-s", str(lead)).start()
    try:
        b = client.book(resource="desk", start=start, end=start + 900,
                        booker={"name": "Ada", "email": "ada@example.org"})

        def reminders():
            return [m for m in smtp.messages()
                    if parse(m)["Subject"].startswith("Reminder")]
        wait_until(lambda: reminders(), "the reminder", timeout=15)
        m = parse(reminders()[0])
        assert f"{BASE}/booking/{client.booking_get(b.id).ref}" in \
            m.get_body(("plain",)).get_content()
        # Replay the whole feed: the webhook repeats, the reminder not.
        assert n.stop() == 0
        (n.state / "cursor").write_text("bookd-notify cursor 1\n0\n")
        n.start()
        wait_until(lambda: len(recv.accepted("/ok")) == 2,
                   "the replayed webhook")
        time.sleep(1.0)
        assert len(reminders()) == 1
    finally:
        n.close()


def test_without_transport_emails_are_skipped(engine, client, recv):
    client.resource_create("desk")
    add_hook(client, recv, "all", "/ok")
    n = notifier(engine, None).start()
    try:
        client.book(resource="desk", start=at(day(), "09:00"),
                    end=at(day(), "10:00"),
                    booker={"name": "Ada", "email": "ada@example.org"})
        wait_until(lambda: recv.accepted("/ok"), "the webhook")
        wait_until(lambda: "skipped: no --smtp or --email-api" in n.log(),
                   "the skip logged")
    finally:
        n.close()


# ---- bookctl hook add|list|rm and notify status --------------------------

def bookctl(engine, *args):
    path = os.environ.get("BOOKCTL_BIN") or str(HERE.parents[1] / "build" /
                                                "bookctl")
    return subprocess.run([path, "--socket", engine.socket, *args],
                          capture_output=True, text=True, timeout=WAIT)


def test_bookctl_hooks_and_status(engine, client, recv):
    r = bookctl(engine, "hook", "add", "crm", recv.url("/ok"),
                "booking.created")
    assert r.returncode == 0, r.stderr
    secret = [w for w in r.stdout.split() if w.startswith("whsec_")][0]
    assert len(secret) == 50 and "shown once" in r.stdout
    recv.secrets["/ok"] = secret
    r = bookctl(engine, "hook", "list")
    assert "crm" in r.stdout and secret not in r.stdout
    assert "booking.created" in r.stdout
    r = bookctl(engine, "hook", "add", "bad", "ftp://x/")
    assert r.returncode == 1 and "url" in r.stderr
    client.resource_create("desk")
    n = notifier(engine, None).start()
    try:
        client.book(resource="desk", start=at(day(), "09:00"),
                    end=at(day(), "10:00"),
                    booker={"name": "Ada", "email": "ada@example.org"})
        wait_until(lambda: recv.accepted("/ok"), "the webhook")
        wait_until(lambda: (n.state / "status.json").exists()
                   and json.loads((n.state / "status.json").read_text())
                   ["cursor"] >= 1, "status with the cursor")
        r = bookctl(engine, "notify", "status", str(n.state))
        assert r.returncode == 0, r.stderr
        assert "lag           0 events" in r.stdout
        assert "hook crm" in r.stdout and "delivered 1" in r.stdout
        r = bookctl(engine, "--json", "notify", "status", str(n.state))
        st = json.loads(r.stdout)
        assert st["lag_events"] == 0 and st["notifier"]["dead_letters"] == 0
        # With the notifier stopped, new events show up as lag.
        assert n.stop() == 0
        client.book(resource="desk", start=at(day(), "11:00"),
                    end=at(day(), "12:00"),
                    booker={"name": "Ada", "email": "ada@example.org"})
        r = bookctl(engine, "--json", "notify", "status", str(n.state))
        assert json.loads(r.stdout)["lag_events"] == 1
    finally:
        n.close()
    r = bookctl(engine, "hook", "rm", "crm")
    assert r.returncode == 0 and "deleted crm" in r.stdout
    assert bookctl(engine, "hook", "rm", "crm").returncode == 1


# ---- the HTTP email API ---------------------------------------------------

def test_email_api(engine, client, recv, tmp_path):
    client.resource_create("desk", name="Desk & <Co>")
    key = tmp_path / "key"
    key.write_text("re_test_123\n")
    n = Notifier(engine.socket, "--from", FROM, "--base-url", BASE,
                 "--email-api", recv.url("/api"), "--email-api-key-file",
                 str(key)).start()
    try:
        b = client.book(resource="desk", start=at(day(), "09:00"),
                        end=at(day(), "10:00"),
                        booker={"name": "<b>Ada</b>",
                                "email": "ada@example.org"})
        wait_until(lambda: recv.accepted("/api"), "the API call")
    finally:
        n.close()
    g = recv.accepted("/api")[0]
    assert g["auth"] == "Bearer re_test_123"
    assert g["ctype"] == "application/json"
    m = json.loads(g["body"])
    assert m["from"] == FROM and m["to"] == ["ada@example.org"]
    assert m["subject"] == "Booking confirmed: Desk & <Co>"
    assert "&lt;b&gt;Ada&lt;/b&gt;" in m["html"] and "<b>Ada" not in m["html"]
    assert "<b>Ada</b>" in m["text"]
    assert f"{BASE}/booking/{client.booking_get(b.id).ref}" in m["text"]
    ics = base64.b64decode(m["attachments"][0]["content"])
    assert b"METHOD:REQUEST" in ics


# ---- --token-file: the role comes from the token ------------------------

def test_token_file_role(engine, client, recv, tmp_path):
    client.resource_create("desk")
    add_hook(client, recv, "all", "/ok")
    for role in ("public", "admin"):
        r = bookctl(engine, "token", str(engine.data), "--role", role,
                    "--subject", "notifier")
        assert r.returncode == 0, r.stderr
        (tmp_path / role).write_text(r.stdout.strip() + "\n")
    # A public token is refused by the notifier itself, saying why.
    n = notifier(engine, None, "--token-file", str(tmp_path / "public"))
    n.start()
    assert n.proc.wait(WAIT) == 1
    assert "gives this process the public role" in n.log()
    n.tmp.cleanup()
    n = notifier(engine, None, "--token-file", str(tmp_path / "admin"))
    n.start()
    try:
        client.book(resource="desk", start=at(day(), "09:00"),
                    end=at(day(), "10:00"),
                    booker={"name": "Ada", "email": "ada@example.org"})
        wait_until(lambda: recv.accepted("/ok"), "the webhook")
    finally:
        n.close()


# ---- SMTP with STARTTLS and AUTH -----------------------------------------

def test_smtp_starttls_and_auth(engine, client, tmp_path):
    import ssl
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        capture_output=True, text=True, timeout=WAIT)
    assert r.returncode == 0, r.stderr
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    smtp = Smtp(tls_context=ctx, users={"studio": "s3cret"})
    (tmp_path / "pw").write_text("s3cret\n")
    (tmp_path / "bad").write_text("wrong\n")
    client.resource_create("desk")
    try:
        # A wrong password: refused, retried, never delivered.
        n = Notifier(engine.socket, "--from", FROM, "--smtp", smtp.url(),
                     "--smtp-user", "studio", "--smtp-password-file",
                     str(tmp_path / "bad"), "--smtp-ca-file", str(cert),
                     "--retry-base-ms", "200").start()
        try:
            client.book(resource="desk", start=at(day(), "09:00"),
                        end=at(day(), "10:00"),
                        booker={"name": "Ada", "email": "ada@example.org"})
            wait_until(lambda: n.log().count("email ada@example.org") >= 2,
                       "two refused attempts")
            assert ": failed " in n.log()
            assert smtp.messages() == []
        finally:
            n.close()
        # The right one, over STARTTLS with the certificate verified.
        n = Notifier(engine.socket, "--from", FROM, "--smtp", smtp.url(),
                     "--smtp-user", "studio", "--smtp-password-file",
                     str(tmp_path / "pw"), "--smtp-ca-file", str(cert)).start()
        try:
            wait_until(lambda: smtp.messages(), "the mail over STARTTLS")
        finally:
            n.close()
        m = smtp.messages()[0]
        assert m["tls"] and m["login"] == "studio"
        assert parse(m)["Subject"].startswith("Booking confirmed")
    finally:
        smtp.close()

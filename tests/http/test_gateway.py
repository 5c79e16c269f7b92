"""bookd-http against a real bookd: every public endpoint, the error
mapping, two visitors with their own cookies, the event stream, logins,
the admin API and the hostile-traffic defences."""

from __future__ import annotations

import re
import socket
import time

from conftest import (AUDIENCE, Gateway, Stream, Visitor, utc)

BOOKER = {"name": "Ada Lovelace", "email": "ada@example.org"}


def problem(r, status, code, field=None):
    assert r.status == status, (r.status, r.raw)
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json["status"] == status and r.json["code"] == code, r.json
    assert r.json["title"] and r.json["detail"]
    if field is not None:
        assert r.json.get("field") == field, r.json


def test_lists_and_cookie(gw, rid, engine):
    with engine.admin() as c:
        c.event_type_put("et-" + rid, title="Session", lengths=[60],
                         resources=[rid])
        c.event_type_put("off-" + rid, title="Old", lengths=[60],
                         resources=[rid], active=False)
    v = gw.visitor()
    r = v.get("/v1/resources")
    assert r.status == 200
    cookie = r.headers["Set-Cookie"]
    assert re.fullmatch(r"bookd_sid=[0-9a-f]{32}; Path=/; HttpOnly; "
                        r"SameSite=Lax", cookie), cookie
    assert r.headers["Cache-Control"] == "no-store"
    res = {x["id"]: x for x in r.json["resources"]}
    assert res[rid]["timezone"] == "Europe/Berlin"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d",
                        res[rid]["created"])
    assert res[rid]["created_unix"] == res[rid]["created_ms"] // 1000
    # The cookie is kept: no new one on the next answer.
    assert "Set-Cookie" not in v.get("/v1/resources").headers
    ets = {x["id"] for x in v.get("/v1/event-types").json["event_types"]}
    assert "et-" + rid in ets and "off-" + rid not in ets
    problem(v.get("/v1/nothing"), 404, "NOT_FOUND")
    problem(v.request("POST", "/v1/resources", body={}), 405, "BAD_REQUEST")


def test_day_view_from_pages(gw, rid, day):
    v = gw.visitor()
    r = v.get(f"/v1/resources/{rid}/days/{day}?duration=60")
    assert r.status == 200, r.raw
    j = r.json
    assert j["source"] == "pages" and j["tz"] == "Europe/Berlin"
    assert len(j["slots"]) == 24
    starts = [s["start_unix"] for s in j["slots"]]
    assert starts == sorted(starts)
    first = j["slots"][0]
    assert first["start"] == f"{day}T00:00:00+01:00"
    assert first["end_unix"] - first["start_unix"] == 3600
    assert {s["state"] for s in j["slots"]} == {"available"}
    # Another zone: the same instants named in that zone.
    r = v.get(f"/v1/resources/{rid}/days/{day}?duration=60&tz=UTC")
    assert r.json["slots"][0]["start"] == f"{day}T00:00:00+00:00"
    # Bad arguments, named.
    problem(v.get(f"/v1/resources/{rid}/days/{day}"), 400, "BAD_REQUEST",
            "duration")
    problem(v.get(f"/v1/resources/{rid}/days/{day}?duration=7"), 400,
            "BAD_REQUEST", "duration")
    problem(v.get(f"/v1/resources/{rid}/days/2026-13-45?duration=60"), 400,
            "BAD_REQUEST", "date")
    problem(v.get(f"/v1/resources/{rid}/days/{day}?duration=60&tz=Mars/X"),
            400, "BAD_REQUEST", "tz")
    problem(v.get(f"/v1/resources/nope-{rid}/days/{day}?duration=60"), 404,
            "NOT_FOUND")
    problem(v.get(f"/v1/resources/{rid}/days/2090-01-01?duration=60"), 422,
            "OUT_OF_RANGE")


def test_day_view_with_event_type_matches_engine(gw, rid, day, engine):
    """Buffers, notice and the type's interval applied on the pages give
    what the engine's slots.view gives."""
    import datetime as dt
    et = "e-" + rid
    with engine.admin() as c:
        c.event_type_put(et, title="Long", lengths=[60, 120],
                         slot_interval=30, buffer_before=30,
                         buffer_after=45, min_notice=180, resources=[rid])
        s = utc(day, "10:00")
        c.book(resource=rid, start=s, end=s + 3600,
               booker={"name": "X", "email": "x@example.org"})
        s2 = utc(day, "15:15")
        c.book(resource=rid, start=s2, end=s2 + 900,
               booker={"name": "X", "email": "x@example.org"})
    v = gw.visitor()
    today = dt.datetime.now(dt.timezone.utc).date()
    for d in (today, today + dt.timedelta(days=1), day):
        for dur in (None, 120):
            q = f"/v1/resources/{rid}/days/{d}?event_type={et}"
            if dur:
                q += f"&duration={dur}"
            r = v.get(q)
            assert r.status == 200, r.raw
            assert r.json["source"] == "pages"
            with engine.admin() as c:
                want = [x.start for x in
                        c.slots_view(rid, d, dur or 60, event_type=et)]
            got = [x["start_unix"] for x in r.json["slots"]]
            assert got == [int(w.timestamp()) if hasattr(w, "timestamp")
                           else w for w in want], (d, dur)
            if d == day and dur is None:
                # The buffers bite around the 10:00-11:00 booking.
                assert utc(day, "09:00") not in got
                assert utc(day, "11:00") not in got
                assert utc(day, "08:00") in got and utc(day, "11:30") in got
    with engine.admin() as c:
        c.event_type_put("m-" + rid, title="Soon", lengths=[60],
                         buffer_after=30, min_notice=120,
                         max_future=3 * 1440, resources=[rid])
    frm, to = today - dt.timedelta(days=1), today + dt.timedelta(days=6)
    for t in (et, "m-" + rid):
        r = v.get(f"/v1/resources/{rid}/month?event_type={t}"
                  f"&from={frm}&to={to}")
        assert r.status == 200 and r.json["source"] == "pages", r.raw
        with engine.admin() as c:
            want = c.slots_month(rid, frm, to, 60, event_type=t)
        got = {x["date"]: x["available"] for x in r.json["days"]}
        assert got == {str(k): v for k, v in want.items()}, (got, want)
        assert got[str(frm)] is False and got[str(today + dt.timedelta(
            days=1))] is True
        assert got[str(to)] is (t == et)
    r = v.get(f"/v1/resources/{rid}/days/{day}?event_type={et}"
              "&duration=45")
    problem(r, 400, "BAD_REQUEST")
    problem(v.get(f"/v1/resources/{rid}/days/{day}?event_type=none-{rid}"),
            404, "NOT_FOUND")


def test_month(gw, rid, day, engine):
    with engine.admin() as c:
        c.schedule_put(rid, "Europe/Berlin",
                       weekly=[{"day": d, "start": "09:00", "end": "17:00"}
                               for d in range(1, 6)])
    v = gw.visitor()
    to = day.fromordinal(day.toordinal() + 13)
    r = v.get(f"/v1/resources/{rid}/month?from={day}&to={to}&duration=60")
    assert r.status == 200, r.raw
    j = r.json
    assert j["source"] == "pages" and len(j["days"]) == 14
    dates = [d["date"] for d in j["days"]]
    assert dates == sorted(dates)
    for d in j["days"]:
        wd = day.fromisoformat(d["date"]).isoweekday()
        assert d["available"] == (wd <= 5), d
    problem(v.get(f"/v1/resources/{rid}/month?from={day}&duration=60"), 400,
            "BAD_REQUEST", "to")


def test_two_visitors_hold_and_stream(gw, rid, day):
    a, b = gw.visitor(), gw.visitor()
    a.get("/v1/resources")
    b.get("/v1/resources")
    assert a.cookies != b.cookies
    s = Stream(gw.port, f"/v1/stream?resource={rid}&from={day}&to={day}",
               b.cookies)
    try:
        assert s.read_until(b": subscribed", 5), s.buf
        assert b"text/event-stream" in s.buf
        start = utc(day, "10:00")
        t0 = time.monotonic()
        r = a.request("PUT", f"/v1/holds/{rid}",
                      body={"start": start, "end": start + 3600})
        assert r.status == 200, r.raw
        assert 0 < r.json["ttl_ms"] <= 10000
        assert r.json["start"] == f"{day}T11:00:00+01:00"
        assert s.read_until(b"event: holds", 2), s.buf
        took = time.monotonic() - t0
        assert took < 0.2, f"hold to event: {took * 1000:.0f} ms" 
        assert f'"date":"{day}"'.encode() in s.buf
        # B sees it reserved; A sees it as its own.
        jb = b.get(f"/v1/resources/{rid}/days/{day}?duration=60").json
        ja = a.get(f"/v1/resources/{rid}/days/{day}?duration=60").json
        sb = {x["start_unix"]: x["state"] for x in jb["slots"]}
        sa = {x["start_unix"]: x["state"] for x in ja["slots"]}
        assert sb[start] == "reserved" and sa[start] == "mine"
        assert sb[start + 3600] == "available" == sa[start + 3600]
        assert jb["source"] == "engine"
        # B cannot take it.
        problem(b.request("PUT", f"/v1/holds/{rid}",
                          body={"start": start, "end": start + 3600}),
                409, "HELD")
        # A's renewal of the same span sends nothing.
        s.drain(0.1)
        r = a.request("PUT", f"/v1/holds/{rid}",
                      body={"start": f"{day}T11:00:00+01:00",
                            "end": f"{day}T12:00:00+01:00"})
        assert r.status == 200
        quiet = s.drain(0.5)
        assert b"event:" not in quiet, quiet
        # Release: one more event; the view is free again from the pages.
        r = a.request("DELETE", f"/v1/holds/{rid}", body={})
        assert r.json == {"resource": rid, "released": True}
        assert s.read_until(b"event: holds", 2)
        jb = b.get(f"/v1/resources/{rid}/days/{day}?duration=60").json
        assert jb["source"] == "pages"
        assert r.status == 200
    finally:
        s.close()


def test_booking_flow(gw, rid, day, engine):
    a, b = gw.visitor(), gw.visitor()
    a.get("/v1/resources")
    b.get("/v1/resources")
    start = utc(day, "13:00")
    span = {"start": start, "end": start + 3600}
    s = Stream(gw.port, f"/v1/stream?resource={rid}&from={day}", b.cookies)
    try:
        assert s.read_until(b": subscribed", 5)
        assert a.request("PUT", f"/v1/holds/{rid}", body=span).status == 200
        body = {"resource": rid, **span, **BOOKER, "notes": "hi"}
        r = a.request("POST", "/v1/bookings", body=body,
                      headers={"Idempotency-Key": "order-1"})
        assert r.status == 201, r.raw
        bk = r.json
        assert re.fullmatch(r"[0-9a-f]{32}", bk["ref"])
        assert bk["status"] == "confirmed"
        assert bk["start"] == f"{day}T14:00:00+01:00"
        assert s.read_until(b"event: slots", 3), s.buf
        # Once: the same key from the same visitor is the same booking.
        r2 = a.request("POST", "/v1/bookings", body=body,
                       headers={"Idempotency-Key": "order-1"})
        assert r2.status == 201 and r2.json["ref"] == bk["ref"]
        # The same key from another visitor is a new request: refused,
        # and it reveals nothing of A's booking.
        r3 = b.request("POST", "/v1/bookings",
                       body={"resource": rid, **span, "name": "B",
                             "email": "b@example.org"},
                       headers={"Idempotency-Key": "order-1"})
        problem(r3, 409, "CONFLICT")
        assert "conflicts" not in r3.json and bk["ref"] not in r3.raw.decode()
        assert "Ada" not in r3.raw.decode()
        # The booking by its ref.
        r = b.get(f"/v1/bookings/{bk['ref']}")
        assert r.status == 200 and r.json["ref"] == bk["ref"]
        problem(b.get("/v1/bookings/" + "0" * 32), 404, "NOT_FOUND")
        problem(b.get("/v1/bookings/xyz"), 404, "NOT_FOUND")
        # Reschedule, refused then accepted.
        other = utc(day, "15:00")
        assert b.request("PUT", f"/v1/holds/{rid}",
                         body={"start": other, "end": other + 3600}
                         ).status == 200
        problem(a.request("POST", f"/v1/bookings/{bk['ref']}/reschedule",
                          body={"start": other, "end": other + 3600}),
                409, "HELD")
        assert b.request("DELETE", f"/v1/holds/{rid}", body={}).status == 200
        r = a.request("POST", f"/v1/bookings/{bk['ref']}/reschedule",
                      body={"start": other, "end": other + 3600})
        assert r.status == 200 and r.json["start_unix"] == other
        # Cancel, then cancel again.
        r = a.request("POST", f"/v1/bookings/{bk['ref']}/cancel",
                      body={"reason": "plans changed"})
        assert r.status == 200 and r.json["status"] == "cancelled"
        hist = [h["at_unix"] for h in r.json["history"]]
        assert hist == sorted(hist)
        problem(a.request("POST", f"/v1/bookings/{bk['ref']}/cancel",
                          body={}), 409, "INVALID_STATE")
    finally:
        s.close()


def test_error_mapping(gw, rid, day, engine):
    v = gw.visitor()
    v.get("/v1/resources")
    start = utc(day, "10:00")
    problem(v.request("PUT", f"/v1/holds/{rid}",
                      body={"start": start + 60, "end": start + 3600}),
            400, "BAD_REQUEST", "start")
    problem(v.request("PUT", f"/v1/holds/{rid}", body={"end": start}),
            400, "BAD_REQUEST", "start")
    problem(v.request("PUT", f"/v1/holds/{rid}", raw=b"{nope",
                      headers={"Content-Type": "application/json"}),
            400, "BAD_REQUEST", "body")
    problem(v.request("PUT", f"/v1/holds/{rid}",
                      body={"start": utc(day.replace(year=day.year + 5),
                                         "10:00"),
                            "end": utc(day.replace(year=day.year + 5),
                                       "11:00")}),
            422, "OUT_OF_RANGE")
    r = v.request("PUT", f"/v1/holds/{rid}",
                  body={"start": start, "end": start + 25 * 3600})
    problem(r, 429, "LIMIT")
    assert int(r.headers["Retry-After"]) >= 1
    problem(v.request("PUT", "/v1/holds/no-such-room",
                      body={"start": start, "end": start + 900}),
            404, "NOT_FOUND")
    with engine.admin() as c:
        c.schedule_put(rid, "UTC", weekly=[])
    problem(v.request("PUT", f"/v1/holds/{rid}",
                      body={"start": start, "end": start + 900}),
            422, "CLOSED")
    problem(v.request("POST", "/v1/bookings",
                      body={"resource": rid, "start": start,
                            "end": start + 900, "name": "X"}),
            400, "BAD_REQUEST", "email")
    problem(v.request("POST", "/v1/bookings",
                      body={"resource": rid, "start": start,
                            "end": start + 900, **BOOKER},
                      headers={"Idempotency-Key": "has space"}),
            400, "BAD_REQUEST", "Idempotency-Key")


def test_csrf_and_cors(gw, rid, day):
    start = utc(day, "08:00")
    span = {"start": start, "end": start + 900}
    fresh = Visitor(gw.port)
    problem(fresh.request("PUT", f"/v1/holds/{rid}", body=span), 403,
            "FORBIDDEN", "bookd_sid")
    v = gw.visitor()
    v.get("/v1/resources")
    problem(v.request("PUT", f"/v1/holds/{rid}", raw=b"start=1",
                      headers={"Content-Type":
                               "application/x-www-form-urlencoded"}),
            415, "BAD_REQUEST", "Content-Type")
    problem(v.request("PUT", f"/v1/holds/{rid}", body=span,
                      headers={"Origin": "https://evil.example.test"}),
            403, "FORBIDDEN", "Origin")
    r = v.request("PUT", f"/v1/holds/{rid}", body=span,
                  headers={"Origin": f"http://127.0.0.1:{gw.port}"})
    assert r.status == 200, r.raw
    r = v.request("OPTIONS", "/v1/bookings",
                  headers={"Origin": "https://shop.example.test",
                           "Access-Control-Request-Method": "POST"})
    assert r.status == 204
    assert r.headers["Access-Control-Allow-Origin"] == \
        "https://shop.example.test"
    assert "Idempotency-Key" in r.headers["Access-Control-Allow-Headers"]
    problem(v.request("OPTIONS", "/v1/bookings",
                      headers={"Origin": "https://evil.example.test"}),
            403, "FORBIDDEN")
    r = v.get("/v1/resources", headers={"Origin": "https://evil.example.test"})
    assert r.status == 200 and "Access-Control-Allow-Origin" not in r.headers


def test_jwt(gw, keys, rid, day):
    def as_(tok):
        v = Visitor(gw.port)
        v.bearer = tok
        return v.get("/v1/me/bookings")

    r = as_(keys.token(email="nobody@example.org"))
    assert r.status == 200, r.raw
    assert r.json["bookings"] == [] and r.json["truncated"] is False
    assert as_(keys.token("ES256", kid="e1")).status == 200
    now = int(time.time())
    for tok, why in [
            (keys.token(exp=now - 3600), "expired"),
            (keys.token(aud="someone-else"), "audience"),
            (keys.token(iss="https://evil.test/"), "issuer"),
            (keys.token(key=keys.other), "signature"),
            (keys.token("none"), "algorithm"),
            (keys.token(nbf=now + 3600), "not valid yet"),
            (keys.token(exp=None), "expiry"),
            ("not.a.jwt.at-all", "three parts"),
    ]:
        r = as_(tok)
        problem(r, 401, "UNAUTHENTICATED", "Authorization")
        assert why in r.json["detail"], (why, r.json)
    # Tampered: a claim changed after signing.
    tok = keys.token(sub="user-1")
    h, p, s = tok.split(".")
    import base64
    import json as _j
    body = _j.loads(base64.urlsafe_b64decode(p + "=="))
    body["sub"] = "admin"
    p2 = base64.urlsafe_b64encode(_j.dumps(body).encode()).rstrip(b"=")
    problem(as_(f"{h}.{p2.decode()}.{s}"), 401, "UNAUTHENTICATED")
    # Anonymous: me/bookings needs a login.
    problem(gw.visitor().get("/v1/me/bookings"), 401, "UNAUTHENTICATED")


def test_login_books_with_token_email(gw, keys, rid, day):
    v = gw.visitor()
    v.bearer = keys.token(sub="carol", email="carol@example.org")
    start = utc(day, "20:00")
    r = v.request("POST", "/v1/bookings",
                  body={"resource": rid, "start": start, "end": start + 900,
                        "name": "Carol", "email": "mallory@example.org"})
    assert r.status == 201, r.raw
    assert r.json["booker"]["email"] == "carol@example.org"
    mine = v.get("/v1/me/bookings").json["bookings"]
    assert [b["ref"] for b in mine] == [r.json["ref"]]


def test_admin_api(gw, keys, rid, day, engine):
    adm = Visitor(gw.port)
    adm.bearer = keys.token(sub="desk", role="admin")
    user = Visitor(gw.port)
    user.bearer = keys.token(sub="someone")
    problem(user.get("/v1/admin/bookings"), 403, "FORBIDDEN")
    problem(gw.visitor().get("/v1/admin/bookings"), 401, "UNAUTHENTICATED")
    with engine.admin() as c:
        c.event_type_put("conf-" + rid, title="Req", lengths=[60],
                         resources=[rid], requires_confirmation=True)
    v = gw.visitor()
    v.get("/v1/resources")
    start = utc(day, "06:00")
    r = v.request("POST", "/v1/bookings",
                  body={"resource": rid, "start": start, "end": start + 3600,
                        "event_type": "conf-" + rid, **BOOKER})
    assert r.status == 201 and r.json["status"] == "pending", r.raw
    r = adm.get(f"/v1/admin/bookings?resource={rid}&status=pending")
    assert r.status == 200, r.raw
    ids = [b["id"] for b in r.json["bookings"]]
    assert len(ids) == 1
    r = adm.request("POST", f"/v1/admin/bookings/{ids[0]}/confirm",
                    body={"reason": "ok"})
    assert r.status == 200 and r.json["status"] == "confirmed", r.raw
    assert r.json["history"][-1]["by"] == "desk"
    problem(adm.request("POST", f"/v1/admin/bookings/{ids[0]}/decline",
                        body={}), 409, "INVALID_STATE")
    r = adm.request("PUT", f"/v1/admin/event-types/x-{rid}",
                    body={"title": "X", "lengths": [30], "resources": [rid]})
    assert r.status == 200 and r.json["id"] == f"x-{rid}"
    r = adm.request("POST", "/v1/admin/resources",
                    body={"id": "new-" + rid, "name": "New"})
    assert r.status == 201, r.raw
    problem(adm.request("POST", "/v1/admin/resources",
                        body={"id": "new-" + rid}), 409, "EXISTS")
    r = adm.request("PATCH", f"/v1/admin/resources/new-{rid}",
                    body={"active": False})
    assert r.status == 200 and r.json["active"] is False
    # Inactive: public views say not found, admins still list it.
    problem(v.get(f"/v1/resources/new-{rid}/days/{day}?duration=60"), 404,
            "NOT_FOUND")
    assert f"new-{rid}" in [x["id"] for x in
                            adm.get("/v1/admin/resources").json]
    r = adm.get(f"/v1/admin/resources/{rid}/grid/{day}")
    assert r.status == 200
    q = {x["start_unix"]: x["state"] for x in r.json["quarters"]}
    assert q[start] == "booked" and len(q) == 96
    r = adm.request("PUT", f"/v1/admin/resources/{rid}/schedule",
                    body={"timezone": "UTC", "weekly": []})
    assert r.status == 200, r.raw


def test_health_metrics_limits(gw, rid, day):
    v = gw.visitor()
    r = v.get("/healthz")
    assert r.status == 200 and r.json["status"] == "ok"
    v.get(f"/v1/resources/{rid}/days/{day}?duration=60")
    r = v.get("/metrics")
    assert r.status == 200
    text = r.raw.decode()
    assert 'bookd_http_requests_total{route="day",code="2xx"}' in text
    assert 'bookd_http_request_seconds_bucket{route="day",le="+Inf"}' in text
    assert "bookd_engine_bookings " in text
    # A body over the limit, and headers over theirs.
    r = v.request("POST", "/v1/bookings", raw=b"x" * 70000,
                  headers={"Content-Type": "application/json"})
    problem(r, 413, "TOO_LARGE")
    # A body far past the limit: the connection is closed, unread.
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    s.sendall(b"POST /v1/bookings HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\n"
              b"Content-Length: 100000000\r\n\r\n")
    sent, closed = 0, False
    try:
        while sent < 40_000_000:
            s.sendall(b"x" * 65536)
            sent += 65536
    except OSError:
        closed = True
    s.close()
    # What was sent before the close is what the kernel buffered on both
    # sides (loopback buffers grow to several MiB), not what was read.
    assert closed and sent < 16_000_000, sent
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 +
              b"\r\n\r\n")
    head = s.recv(100)
    s.close()
    assert head.startswith(b"HTTP/1.1 4") and b" 200 " not in head, head


def test_rate_limit_streams_slowloris_and_stop(engine, rid, day):
    g = Gateway(engine, "--rate-per-ip", "20", "--timeout", "2",
                "--max-streams-per-ip", "2", "--token-file",
                str(engine.token("gateway", "web-test")))
    try:
        assert "named with \"as\"" in g.log()
        v = g.visitor()
        codes = [v.get("/v1/resources").status for _ in range(60)]
        assert codes.count(200) >= 20 and 429 in codes, codes
        r = v.get("/v1/resources")
        while r.status != 429:
            r = v.get("/v1/resources")
        problem(r, 429, "LIMIT")
        assert int(r.headers["Retry-After"]) >= 1
        time.sleep(1.2)
        assert v.get("/v1/resources").status == 200
        # Visitor requests work through a gateway token ("as").
        start = utc(day, "02:00")
        assert v.request("PUT", f"/v1/holds/{rid}",
                         body={"start": start, "end": start + 900}
                         ).status == 200
        # Slow loris: 30 connections that never finish their headers do
        # not slow down others, and are closed after --timeout.
        slow = []
        for _ in range(30):
            s = socket.create_connection(("127.0.0.1", g.port), timeout=10)
            s.sendall(b"GET /v1/resources HTTP/1.1\r\nHost: x\r\nX-A: ")
            slow.append(s)
        time.sleep(1.1)
        t0 = time.monotonic()
        fast = Visitor(g.port)
        assert fast.get("/healthz").status == 200
        assert time.monotonic() - t0 < 0.5
        time.sleep(2.5)
        closed = 0
        for s in slow:
            s.settimeout(2)
            try:
                data = s.recv(4096)
                while data:
                    data = s.recv(4096)
                closed += 1
            except ConnectionResetError:
                closed += 1
            except socket.timeout:
                pass
            s.close()
        assert closed == 30, closed
        # Dribbling one header byte every 0.3 s defeats the idle timeout,
        # not the deadline of twice --timeout for a whole request.
        drip = [socket.create_connection(("127.0.0.1", g.port), timeout=10)
                for _ in range(5)]
        for d in drip:
            d.sendall(b"GET /v1/resources HTTP/1.1\r\nHost: x\r\n")
        t0, alive = time.monotonic(), set(range(5))
        while alive and time.monotonic() - t0 < 9:
            for i in list(alive):
                try:
                    drip[i].sendall(b"X")
                except OSError:
                    alive.discard(i)
            time.sleep(0.3)
        took = time.monotonic() - t0
        for d in drip:
            d.close()
        assert not alive and 3.5 < took < 7, (alive, took)
        # Streams: at most 2 per address; stop ends them with "bye".
        time.sleep(1.0)
        s1 = Stream(g.port, f"/v1/stream?resource={rid}", v.cookies)
        s2 = Stream(g.port, f"/v1/stream?resource={rid}", v.cookies,
                    "Last-Event-ID: holds-3\r\n")
        assert s1.read_until(b": subscribed", 5)
        assert s2.read_until(b"event: resync", 5)
        s3 = Stream(g.port, f"/v1/stream?resource={rid}", v.cookies)
        assert s3.read_until(b"429", 5), s3.buf
        s3.close()
        bad = Stream(g.port, "/v1/stream?resource=no-such", v.cookies)
        assert bad.read_until(b"404", 5)
        bad.close()
        assert g.stop() == 0, g.log()
        assert s1.read_until(b"event: bye", 5)
        assert s1.read_until(b"0\r\n\r\n", 5), s1.buf[-200:]
        s1.close()
        s2.close()
    finally:
        g.stop()


def test_require_login(engine, rid, day):
    from conftest import ISSUER, Keys
    keys = Keys(engine.root / "jwks-2.json")
    g = Gateway(engine, "--jwks", str(keys.path), "--issuer", ISSUER,
                "--audience", AUDIENCE, "--require-login-to-book")
    try:
        # The JWKS file is re-read when it changes: new keys in, old out.
        u = g.visitor()
        u.bearer = keys.token()
        assert u.get("/v1/me/bookings").status == 200
        old = keys.token()
        time.sleep(1.1)
        keys = Keys(keys.path)
        deadline = time.monotonic() + 5
        while Visitor(g.port).get("/healthz").status == 200:
            w = Visitor(g.port)
            w.bearer = keys.token()
            if w.get("/v1/me/bookings").status == 200:
                break
            assert time.monotonic() < deadline, "new keys not taken"
            time.sleep(0.2)
        u.bearer = old
        problem(u.get("/v1/me/bookings"), 401, "UNAUTHENTICATED")
        v = g.visitor()
        v.get("/v1/resources")
        start = utc(day, "22:00")
        span = {"start": start, "end": start + 900}
        assert v.request("PUT", f"/v1/holds/{rid}", body=span).status == 200
        problem(v.request("POST", "/v1/bookings",
                          body={"resource": rid, **span, **BOOKER}),
                401, "UNAUTHENTICATED")
    finally:
        assert g.stop() == 0, g.log()


def test_engine_restart(day):
    from conftest import Engine
    eng = Engine()
    try:
        with eng.admin() as c:
            c.resource_create("r1", timezone="UTC")
        g = Gateway(eng)
        try:
            v = g.visitor()
            path = f"/v1/resources/r1/days/{day}?duration=60"
            assert v.get(path).json["source"] == "pages"
            s = Stream(g.port, f"/v1/stream?resource=r1&from={day}",
                       v.cookies)
            assert s.read_until(b": subscribed", 5)
            start = utc(day, "09:00")
            span = {"start": start, "end": start + 3600}
            assert v.request("PUT", "/v1/holds/r1", body=span).status == 200
            eng.restart()
            # The stream says why and ends; the browser reconnects.
            assert s.read_until(b"event: error", 5), s.buf
            assert s.read_until(b"0\r\n\r\n", 5)
            s.close()
            # Views come from the new pages, and a write goes through on
            # the first try (the dead connection is noticed before
            # sending).
            r = v.get(path)
            assert r.status == 200 and r.json["source"] == "pages"
            assert [x["state"] for x in r.json["slots"]].count(
                "available") == 24
            assert v.request("PUT", "/v1/holds/r1", body=span).status == 200
            assert v.get("/healthz").status == 200
            s = Stream(g.port, f"/v1/stream?resource=r1&from={day}",
                       v.cookies)
            assert s.read_until(b": subscribed", 5), s.buf
            s.close()
        finally:
            assert g.stop() == 0, g.log()
    finally:
        eng.close()


def test_dst_day_times(gw, rid):
    """Europe/Berlin springs forward on 2027-03-28: 23 hourly starts, each
    named with the offset in force at that instant."""
    import datetime as dt
    from zoneinfo import ZoneInfo
    berlin = ZoneInfo("Europe/Berlin")
    v = gw.visitor()
    for date, n in (("2027-03-28", 23), ("2027-10-31", 25)):
        r = v.get(f"/v1/resources/{rid}/days/{date}?duration=60")
        assert r.status == 200, r.raw
        slots = r.json["slots"]
        assert len(slots) == n
        for x in slots:
            for k in ("start", "end"):
                want = dt.datetime.fromtimestamp(
                    x[k + "_unix"], berlin).isoformat()
                assert x[k] == want, (x, want)
        r = v.get(f"/v1/resources/{rid}/days/{date}?duration=60&tz="
                  "America/New_York")
        ny = ZoneInfo("America/New_York")
        for x in r.json["slots"]:
            assert x["start"] == dt.datetime.fromtimestamp(
                x["start_unix"], ny).isoformat()


def test_static_files(gw):
    v = gw.visitor()
    r = v.get("/")
    assert r.status == 200 and r.raw.startswith(b"<!doctype html>")
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.headers["X-Frame-Options"] == "DENY"
    r = v.get("/booking/0123abcd")
    assert r.status == 200 and b"<title>book</title>" in r.raw
    r = v.get("/js/app.js")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/javascript")
    for bad in ("/js/missing.js", "/leak.txt", "/../secret.txt",
                "/js/..%2f..%2fsecret.txt", "/%2e%2e/secret.txt"):
        r = v.get(bad)
        assert r.status == 404 and b"secret" not in r.raw, (bad, r.raw)


def test_stream_churn(gw, rid, day):
    """Streams opened and dropped (some mid-event) while holds move: the
    gateway stays up, and a stream opened afterwards still gets events."""
    import random
    import threading
    a = gw.visitor()
    a.get("/v1/resources")
    stop = threading.Event()

    def holder():
        h = gw.visitor()
        h.get("/v1/resources")
        t = utc(day, "04:00")
        while not stop.is_set():
            t2 = t + 900 * random.randint(0, 8)
            h.request("PUT", f"/v1/holds/{rid}", body={"start": t2,
                                                       "end": t2 + 900})
    th = threading.Thread(target=holder)
    th.start()
    try:
        for i in range(60):
            s = Stream(gw.port, f"/v1/stream?resource={rid}&from={day}",
                       a.cookies)
            if i % 3 == 0:
                s.read_until(b"event: holds", 1)
            elif i % 3 == 1:
                s.read_until(b": subscribed", 1)
            s.close()
    finally:
        stop.set()
        th.join(10)
    s = Stream(gw.port, f"/v1/stream?resource={rid}&from={day}", a.cookies)
    try:
        assert s.read_until(b": subscribed", 5)
        t = utc(day, "07:00")
        assert a.request("PUT", f"/v1/holds/{rid}",
                         body={"start": t, "end": t + 900}).status == 200
        assert s.read_until(b"event: holds", 2), s.buf
    finally:
        s.close()
    assert gw.visitor().get("/healthz").status == 200


def test_month_from_engine(engine, rid, day):
    """The month answered by the engine (--reads engine) has the same
    shape as the pages' answer: a date and an "available" per day."""
    with engine.admin() as c:
        c.schedule_put(rid, "Europe/Berlin",
                       weekly=[{"day": d, "start": "09:00", "end": "17:00"}
                               for d in range(1, 6)])
    g = Gateway(engine, "--reads", "engine")
    try:
        v = g.visitor()
        to = day.fromordinal(day.toordinal() + 6)
        r = v.get(f"/v1/resources/{rid}/month?from={day}&to={to}"
                  "&duration=60")
        assert r.status == 200, r.raw
        assert r.json["source"] == "engine"
        assert [d["date"] for d in r.json["days"]] == [
            str(day.fromordinal(day.toordinal() + i)) for i in range(7)]
        for d in r.json["days"]:
            wd = day.fromisoformat(d["date"]).isoweekday()
            assert d["available"] == (wd <= 5), d
    finally:
        assert g.stop() == 0, g.log()


def test_calendar_feeds(gw, keys, rid, day, engine):
    """The iCalendar feeds (tools/common/ical.c through tools/http/feed.c),
    parsed by the icalendar package: stable UIDs, CANCELLED, bookers only
    in the admin feed."""
    import datetime as dt

    import icalendar
    v = gw.visitor()
    v.get("/v1/resources")  # the session cookie
    a = v.request("POST", "/v1/bookings",
                  body={"resource": rid, "start": utc(day, "08:00"),
                        "end": utc(day, "09:00"),
                        "name": "Ann; \"A\", Lee",
                        "email": "ann@example.org"})
    assert a.status == 201, a.raw
    b = v.request("POST", "/v1/bookings",
                  body={"resource": rid, "start": utc(day, "10:00"),
                        "end": utc(day, "11:00"), **BOOKER})
    assert b.status == 201, b.raw
    r = v.request("POST", f"/v1/bookings/{b.json['ref']}/cancel",
                  body={"reason": "moved"})
    assert r.status == 200, r.raw

    def events(r):
        assert r.status == 200, r.raw
        assert r.headers["Content-Type"].startswith("text/calendar")
        cal = icalendar.Calendar.from_ical(r.raw)
        assert cal["X-WR-TIMEZONE"] == "Europe/Berlin"
        return {str(e["UID"]): e for e in cal.walk("VEVENT")}

    adm = Visitor(gw.port)
    adm.bearer = keys.token(sub="desk", role="admin")
    ev = events(adm.get(f"/v1/admin/resources/{rid}/calendar.ics"))
    ua = f"booking-{a.json['id']}@bookd"
    ub = f"booking-{b.json['id']}@bookd"
    assert set(ev) == {ua, ub}, ev.keys()
    assert ev[ua]["STATUS"] == "CONFIRMED"
    assert ev[ub]["STATUS"] == "CANCELLED"
    assert str(ev[ua]["SUMMARY"]).endswith(": Ann; \"A\", Lee")
    assert "ann@example.org" in str(ev[ua]["ATTENDEE"])
    assert ev[ua].decoded("DTSTART").timestamp() == utc(day, "08:00")

    pub = v.get(f"/v1/resources/{rid}/calendar.ics")
    ev = events(pub)
    assert set(ev) == {ua, ub}
    for bad in (b"Ann", b"example.org", b"ATTENDEE", b"DESCRIPTION",
                a.json["ref"].encode()):
        assert bad not in pub.raw, bad

    # Local dates bound the feed; bad ones are refused.
    far = (day + dt.timedelta(days=40)).isoformat()
    assert events(v.get(f"/v1/resources/{rid}/calendar.ics?from={far}")) \
        == {}
    problem(v.get(f"/v1/resources/{rid}/calendar.ics?from=soon"), 400,
            "BAD_REQUEST", "from")
    problem(v.get("/v1/resources/no-such-room/calendar.ics"), 404,
            "NOT_FOUND")
    problem(gw.visitor().get(f"/v1/admin/resources/{rid}/calendar.ics"),
            401, "UNAUTHENTICATED")
    # A gateway-role engine connection cannot list bookings: 503, said so.
    g = Gateway(engine, "--token-file",
                str(engine.token("gateway", "web-feed")))
    try:
        problem(g.visitor().get(f"/v1/resources/{rid}/calendar.ics"), 503,
                "UNAVAILABLE")
    finally:
        assert g.stop() == 0, g.log()

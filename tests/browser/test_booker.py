"""The booking page in a real browser (headless Chromium) against a real
bookd and bookd-http: live holds between two visitors, booking, cancelling
on the manage page, a hold lost while the form is open, a DST day seen from
two time zones, keyboard-only booking, and screenshots of each step."""

from __future__ import annotations

import datetime as dt
import re
import statistics
import time

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from conftest import BERLIN, HOLD_TTL_MS, NEW_YORK, REPO, at
from pagehelp import (block, css, open_booker, screenshots, slot, slot_state,
                      slots, until, visible)


def hm(label: str) -> tuple[int, int]:
    """'14:00' or '2:00 pm' as (14, 0)."""
    text = label.strip().lower().replace("\u202f", " ")
    pm = text.endswith("pm")
    am = text.endswith("am")
    h, m = text.rstrip("apm ").split(":")
    hour = int(h) % 12 + (12 if pm else 0) if (am or pm) else int(h)
    return hour, int(m)


def fill_form(d, name="Ada Lovelace", email="ada@example.com") -> None:
    css(d, "#f-name").send_keys(name)
    css(d, "#f-email").send_keys(email)


def test_two_visitors_live(stack, day, browsers):
    a, b = browsers(), browsers()
    date = day.isoformat()
    t13, t14 = at(BERLIN, day, "13:00"), at(BERLIN, day, "14:00")
    open_booker(a, stack.url, "session", date)
    open_booker(b, stack.url, "session", date)
    b.execute_script("window.__sameDocument = 1; window.__btn = document."
                     "querySelector('#day button[data-start=\"' + "
                     "arguments[0] + '\"]')", at(BERLIN, day, "09:00"))
    assert slot_state(b, t14) == "available"
    assert hm(slot(b, t14).find_element("css selector", ".time").text) == \
        (14, 0)

    # A chooses 14:00: B sees it reserved within a second, no reload.
    start = time.monotonic()
    slot(a, t14).click()
    until("14:00 reserved in B", lambda: slot_state(b, t14) == "reserved",
          timeout=1.0, step=0.005)
    seen = time.monotonic() - start
    assert seen < 1.0
    assert "reserved" in slot(b, t14).text
    # Updated in place (no flicker): the other buttons are the same nodes,
    # and the change is announced to screen readers.
    assert b.execute_script("return window.__btn.isConnected && "
                            "window.__btn === document.querySelector("
                            "'#day button[data-start=\"' + arguments[0] + "
                            "'\"]')", at(BERLIN, day, "09:00"))
    until("the announcement", lambda: "14:00 is now reserved" in
          css(b, "#live").get_attribute("textContent"))
    until("A's form", lambda: visible(a, "#step-form"))
    assert "held for you" in css(a, "#hold-status").text
    assert slot_state(a, t14) == "mine"

    # B asks for two hours at 13:00, which overlaps A's hold: refused, said
    # in words, and B stays on the list.
    css(b, 'label[for="len-1"]').click()
    until("13:00 for two hours reserved in B",
          lambda: slot_state(b, t13) == "reserved")
    slot(b, t13).click()
    until("B's refusal", lambda: visible(b, "#notice"))
    text = css(b, "#notice").text
    assert "Someone else is holding" in text and "Pick another time" in text
    assert visible(b, "#step-pick") and not visible(b, "#step-form")
    screenshots(b, "0-live-reserved")
    css(b, 'label[for="len-0"]').click()
    until("B back on one hour", lambda: slot_state(b, t14) == "reserved")

    # A books: 14:00 leaves B's list.
    fill_form(a)
    css(a, "#f-submit").click()
    until("A's success page", lambda: visible(a, "#step-done"))
    assert css(a, "#done-title").text == "Booking confirmed"
    summary = css(a, "#done-summary").text
    assert "Studio session" in summary and "Studio A" in summary
    ics = css(a, "#done-ics").get_attribute("href")
    assert ics.startswith("blob:")
    body = a.execute_async_script(
        "fetch(arguments[0]).then(r => r.text()).then(arguments[1])", ics)
    stamp = dt.datetime.fromtimestamp(t14, dt.timezone.utc)
    assert f"DTSTART:{stamp:%Y%m%dT%H%M%SZ}" in body
    until("14:00 gone from B", lambda: slot_state(b, t14) == "")
    assert b.execute_script("return window.__sameDocument") == 1

    # A cancels on the manage page: 14:00 is free again in B.
    manage = css(a, "#done-manage").get_attribute("href")
    # Nothing of the visitor in the URL but the ref (hex, which may well
    # contain "ada": look for what is not hex).
    path = manage.split("/booking/", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{32}", path), manage
    assert "lovelace" not in manage.lower() and "example" not in manage
    a.get(manage)
    until("the manage page", lambda: visible(a, "#manage-actions"))
    assert "Confirmed" in css(a, "#manage-summary").text
    css(a, "#m-cancel").click()
    css(a, "#c-reason").send_keys("Band member ill")
    css(a, "#c-confirm").click()
    until("the cancellation", lambda: "cancelled" in css(a, "#manage-msg").text)
    assert "Band member ill" in css(a, "#manage-history").text
    until("14:00 free again in B", lambda: slot_state(b, t14) == "available")
    assert b.execute_script("return window.__sameDocument") == 1


def test_hold_lost_while_form_open(stack, day, browsers):
    a = browsers()
    d = day + dt.timedelta(days=1)
    t10 = at(BERLIN, d, "10:00")
    open_booker(a, stack.url, "mixing", d.isoformat())
    slot(a, t10).click()
    until("the form", lambda: visible(a, "#step-form"))
    # The network drops: renewals fail and the hold lapses at its TTL.
    block(a, ["*/v1/holds/*"])
    until("the lost-hold message", lambda: visible(a, "#notice"),
          timeout=HOLD_TTL_MS / 1000 + 5)
    assert "ran out" in css(a, "#notice").text
    assert visible(a, "#step-pick") and not visible(a, "#step-form")
    block(a, [])
    screenshots(a, "5-hold-lost")
    until("10:00 free again", lambda: slot_state(a, t10) == "available")


def test_dst_day_in_two_zones(stack, browsers):
    berlin_day = dt.date(2027, 3, 28)  # clocks go 02:00 -> 03:00
    start = int(dt.datetime(2027, 3, 28, tzinfo=BERLIN).timestamp())
    end = int(dt.datetime(2027, 3, 29, tzinfo=BERLIN).timestamp())
    expect = list(range(start, end, 3600))
    assert len(expect) == 23

    a = browsers(zone="Europe/Berlin")
    open_booker(a, stack.url, "rehearsal", berlin_day.isoformat())
    got = slots(a)
    assert [s for s, _, _ in got] == expect
    labels = [hm(t) for _, _, t in got]
    assert labels == [(h, 0) for h in [0, 1] + list(range(3, 24))]
    assert "Europe/Berlin" == css(a, "#tz").get_attribute("value")
    a.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [
        {"name": "prefers-color-scheme", "value": "dark"}]})
    assert a.execute_script(
        "return getComputedStyle(document.body).backgroundColor") == \
        "rgb(18, 20, 23)"
    screenshots(a, "8-dst-dark")

    ny = browsers(zone="America/New_York")
    seen = {}
    for date in ("2027-03-27", "2027-03-28"):
        open_booker(ny, stack.url, "rehearsal", date)
        for s, state, text in slots(ny):
            seen[s] = hm(text)
    assert css(ny, "#tz").get_attribute("value") == "America/New_York"
    assert "Eastern" in css(ny, "#tz-name").text
    for t in expect:
        local = dt.datetime.fromtimestamp(t, NEW_YORK)
        assert seen.get(t) == (local.hour, local.minute), (t, seen.get(t))


def focused(d) -> str:
    return d.execute_script(
        "const e = document.activeElement; return e ? (e.id || "
        "e.dataset.start || e.dataset.date || e.tagName) : ''")


def tab_to(d, test, what: str, limit: int = 40) -> None:
    keys = ActionChains(d)
    for _ in range(limit):
        if d.execute_script(f"const e = document.activeElement; return !!e && "
                            f"({test})"):
            return
        keys.send_keys(Keys.TAB).perform()
    raise AssertionError(f"Tab never reached {what} (at {focused(d)})")


def test_keyboard_only_booking(stack, browsers):
    d = browsers()
    d.get(f"{stack.url}/?event_type=consult")
    until("the day list", lambda: slots(d))
    screenshots(d, "1-pick")
    keys = ActionChains(d)
    # Into the calendar grid (one tab stop), then a day with the arrows.
    tab_to(d, "e.matches('#calendar button[data-date]')", "the calendar")
    first = d.execute_script("return document.activeElement.dataset.date")
    keys.send_keys(Keys.ARROW_RIGHT).perform()
    nxt = d.execute_script("return document.activeElement.dataset.date")
    assert nxt > first
    keys.send_keys(Keys.ARROW_LEFT).send_keys(Keys.ENTER).perform()
    until("the day", lambda: slots(d))
    tab_to(d, "e.matches('#day button[data-state=available]')", "a time")
    start = int(d.execute_script("return document.activeElement.dataset.start"))
    keys.send_keys(Keys.ENTER).perform()
    until("the form", lambda: visible(d, "#step-form"))
    assert focused(d) == "form-title"
    # Sending it empty names what is missing and goes to the first field.
    tab_to(d, "e.id === 'f-submit'", "the submit button")
    keys.send_keys(Keys.ENTER).perform()
    until("the form's errors", lambda: visible(d, "#e-name"))
    assert focused(d) == "f-name"
    assert "Enter your name" in css(d, "#e-name").text
    assert "email" in css(d, "#e-email").text
    screenshots(d, "2-form-errors")
    keys.send_keys("Grace Hopper").send_keys(Keys.TAB).perform()
    keys.send_keys("grace@example.com").send_keys(Keys.TAB).perform()
    keys.send_keys("+49 30 1234567").perform()
    tab_to(d, "e.id === 'f-submit'", "the submit button")
    assert css(d, "#f-submit").text == "Send request"
    screenshots(d, "3-form")
    keys.send_keys(Keys.ENTER).perform()
    until("the success page", lambda: visible(d, "#step-done"))
    assert focused(d) == "done-title"
    assert css(d, "#done-title").text == "Request received"
    text = css(d, "#done-summary").text
    assert "Consultation" in text and "Request received" in text
    screenshots(d, "4-done")
    tab_to(d, "e.id === 'done-manage'", "the manage link")
    keys.send_keys(Keys.ENTER).perform()
    until("the manage page", lambda: visible(d, "#manage-actions"))
    screenshots(d, "6-manage")
    with stack.client() as c:
        page = c.booking_list(resource="studio-k")
        mine = [x for x in page.bookings if x.start.timestamp() == start]
        assert len(mine) == 1 and mine[0].status == "pending"


LATENCY_TRIES = 50
BACK_JS = """
const done = arguments[arguments.length - 1];
const shown = (id) => !document.getElementById(id).hidden;
let n = 0, back = false;
const step = () => {
  if (++n > 1000) return done(false);
  if (shown("step-form")) {
    document.getElementById("f-back").click();
    back = true;
  } else if (back && shown("step-pick")) return done(true);
  setTimeout(step, 5);
};
step();
"""


def test_reserved_latency(stack, day, browsers):
    """Time from A's click on a time to B's list showing it reserved."""
    a, b = browsers(), browsers()
    d = day + dt.timedelta(days=2)
    date = d.isoformat()
    times = [at(BERLIN, d, f"{h}:00") for h in (10, 11, 12, 13)]
    open_booker(a, stack.url, "mixing", date)
    open_booker(b, stack.url, "mixing", date)
    a.execute_script(
        "document.addEventListener('click', e => { if (e.target.closest("
        "'#day button')) window.__clickAt = performance.timeOrigin + "
        "performance.now(); }, true)")
    b.execute_script(
        "window.__seen = {}; new MutationObserver(ms => { for (const m of ms)"
        " { const s = m.target.dataset && m.target.dataset.state; if (s) "
        "window.__seen[m.target.dataset.start + s] = performance.timeOrigin"
        " + performance.now(); } }).observe(document.getElementById('day'),"
        " {subtree: true, attributes: true, attributeFilter: ['data-state']})")
    lat = []
    for i in range(LATENCY_TRIES):
        t = times[i % len(times)]
        until("a free time in B", lambda: slot_state(b, t) == "available")
        b.execute_script("window.__seen = {}")
        slot(a, t).click()
        key = f"{t}reserved"
        seen = until("reserved in B", lambda: b.execute_script(
            "return window.__seen[arguments[0]]", key), timeout=5, step=0.005)
        lat.append(seen - a.execute_script("return window.__clickAt"))
        # Back to the list (releasing the hold) in one round trip.
        assert a.execute_async_script(BACK_JS), "A did not get back to the list"
    lat.sort()
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    line = (f"click-to-reserved over {len(lat)} tries: p50 {p50:.0f} ms, "
            f"p99 {p99:.0f} ms, max {lat[-1]:.0f} ms")
    out = REPO / "build" / "screenshots" / "latency.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(line + "\n")
    print(line)
    # Every try arrived (each waits at most 5 s); the typical one well
    # within the second the page promises.  The tail is reported, not
    # gated: on a loaded 2-core machine under ASan a single try can stall.
    assert p50 < 1000, line


def test_admin_page(stack, browsers):
    d3 = dt.datetime.now(BERLIN).date() + dt.timedelta(days=3)
    with stack.client() as c:
        ask = c.book(resource="studio-k", start=at(BERLIN, d3, "10:00"),
                     end=at(BERLIN, d3, "11:00"), event_type="consult",
                     booker={"name": "Pending Person",
                             "email": "pending@example.com"})
        ok = c.book(resource="studio-a", start=at(BERLIN, d3, "12:00"),
                    end=at(BERLIN, d3, "14:00"), event_type="session",
                    booker={"name": "Booked Band", "email": "b@example.com"})
        q = int(time.time()) // 900 * 900
        now = c.book(resource="room-dst", start=q - 3600, end=q + 3600,
                     booker={"name": "Late Band", "email": "l@example.com"})
    assert ask.status == "pending" and ok.status == "confirmed"

    d = browsers()
    d.get(f"{stack.url}/admin.html")
    until("the sign-in form", lambda: visible(d, "#signin"))
    # A login without the admin claim is turned away with words.
    css(d, "#token").send_keys(stack.token("u1", "u1@example.com"))
    css(d, "#signin-form button").click()
    until("the refusal", lambda: "admin claim" in css(d, "#page-error").text)
    css(d, "#token").send_keys(stack.token("boss", "boss@example.com", True))
    css(d, "#signin-form button").click()
    until("the pending request",
          lambda: "Pending Person" in css(d, "#pending").text)
    d.execute_script(
        "const i = document.getElementById('grid-date'); i.value = "
        "arguments[0]; i.dispatchEvent(new Event('change'))", d3.isoformat())
    until("booked quarters in the grid", lambda: d.execute_script(
        "return document.querySelectorAll('#grid .q.booked').length") == 12)  # 8 + the pending 4
    assert d.execute_script(
        "return document.querySelectorAll('#grid .q.closed').length") > 0
    assert "Booked Band" in css(d, "#upcoming").text
    # A hold taken elsewhere shows in the grid live, as held quarters.
    with stack.client() as c:
        c.hold("studio-b", at(BERLIN, d3, "15:00"), at(BERLIN, d3, "16:00"),
               session="grid-test")
    until("held quarters in the grid", lambda: d.execute_script(
        "return document.querySelectorAll('#grid .q.held').length") == 4,
        timeout=2)
    screenshots(d, "7-admin")
    # The tables are redrawn when a push arrives, so each attempt finds
    # its row again (a redraw between two steps makes the row stale).

    def decline():
        rows = [r for r in d.find_elements("css selector", "#pending tr")
                if "Pending Person" in r.text]
        if not rows:
            return True  # declined by an earlier attempt
        inputs = rows[0].find_elements("css selector", "input")
        if not inputs:
            rows[0].find_element(
                "xpath", ".//button[text()='Decline']").click()
            inputs = rows[0].find_elements("css selector", "input")
        inputs[0].clear()
        inputs[0].send_keys("Studio closed for repairs")
        inputs[0].submit()
        return True
    until("the decline form", decline)
    until("the decline", lambda: "done" in css(d, "#board-msg").text)
    until("the request gone",
          lambda: "Pending Person" not in css(d, "#pending").text)
    # A booking under way can be marked as a no-show.
    until("the no-show button", lambda: [
        r for r in d.find_elements("css selector", "#upcoming tr")
        if "Late Band" in r.text][0].find_element(
            "xpath", ".//button[text()='No-show']").click() or True)
    until("the no-show", lambda: "No-show: done" in css(d, "#board-msg").text)
    with stack.client() as c:
        b = c.booking_get(id=ask.id)
        assert c.booking_get(id=now.id).status == "no_show"
    assert b.status == "declined"
    assert b.history[-1]["reason"] == "Studio closed for repairs"


def test_reschedule_on_manage_page(stack, day, browsers):
    d4 = day + dt.timedelta(days=4)
    t = {h: at(BERLIN, d4, f"{h}:00") for h in (10, 11, 15)}
    with stack.client() as c:
        mine = c.book(resource="studio-b", start=t[10], end=t[10] + 3600,
                      event_type="mixing",
                      booker={"name": "Mover", "email": "m@example.com"})
    d = browsers()
    d.get(f"{stack.url}/booking/{mine.ref}")
    until("the manage page", lambda: visible(d, "#manage-actions"))
    css(d, "#m-reschedule").click()
    cal = f'#r-calendar button[data-date="{d4.isoformat()}"]'
    for _ in range(3):
        if d.find_elements("css selector", cal):
            break
        css(d, "#r-calendar .cal-next").click()
        time.sleep(0.3)
    until("the day in the calendar", lambda: css(d, cal).is_displayed())
    css(d, cal).click()
    until("11:00 in the list",
          lambda: slot_state(d, t[11], "#r-day") == "available")
    assert slot_state(d, t[10], "#r-day") == ""  # its own old time: booked
    # Someone else holds 11:00 first: shown live, and choosing it is
    # refused with words; the booking keeps its time.
    with stack.client() as c:
        c.hold("studio-b", t[11], t[11] + 3600, session="someone-else")
    until("11:00 reserved",
          lambda: slot_state(d, t[11], "#r-day") == "reserved")
    css(d, f'#r-day button[data-start="{t[11]}"]').click()
    until("the refusal", lambda: visible(d, "#r-notice"))
    text = css(d, "#r-notice").text
    assert "keeps its current time" in text and "Someone else" in text
    assert not visible(d, "#r-go")
    # 15:00 is held on choosing it (other visitors see it reserved), then
    # the move is one request.
    css(d, f'#r-day button[data-start="{t[15]}"]').click()
    until("the confirm button", lambda: visible(d, "#r-go"))
    assert "held for you" in css(d, "#r-choice").text
    with stack.client() as c:
        held = c.holds_day("studio-b", d4.isoformat(), tz="Europe/Berlin")
    assert t[15] in [int(h.start.timestamp()) for h in held]
    css(d, "#r-go").click()
    until("the move", lambda: "moved" in css(d, "#manage-msg").text)
    assert "15:00" in css(d, "#manage-summary").text
    with stack.client() as c:
        b = c.booking_get(ref=mine.ref)
    assert int(b.start.timestamp()) == t[15]


def test_multi_day_span_and_login_email(stack, day, browsers):
    """A two-day hire shows where it ends; a signed-in visitor's email comes
    from the login and cannot be edited."""
    d = browsers()
    d.get(stack.url + "/")
    d.execute_script("sessionStorage.setItem('bookd.token', arguments[0])",
                     stack.token("v1", "vera@example.com"))
    d5 = day + dt.timedelta(days=5)
    open_booker(d, stack.url, "tour", d5.isoformat())
    noon = at(BERLIN, d5, "12:00")
    label = slot(d, noon).text
    end = dt.datetime.fromtimestamp(noon + 2 * 86400, BERLIN)
    assert "\u2192" in label and end.strftime("%-d") in label, label
    slot(d, noon).click()
    until("the form", lambda: visible(d, "#step-form"))
    email = css(d, "#f-email")
    assert email.get_attribute("value") == "vera@example.com"
    assert email.get_attribute("readonly") is not None
    text = css(d, "#form-summary").text
    assert "Until" in text and "runs past midnight" in text
    css(d, "#f-name").send_keys("Vera")
    css(d, "#f-submit").click()
    until("the success page", lambda: visible(d, "#step-done"))
    assert "Until" in css(d, "#done-summary").text
    with stack.client() as c:
        page = c.booking_list(resource="van")
    b = [x for x in page.bookings if int(x.start.timestamp()) == noon][0]
    assert int(b.end.timestamp()) == noon + 2 * 86400
    assert b.booker["email"] == "vera@example.com"


def test_any_free_resource(stack, day, browsers):
    """With two booths, one visitor's hold leaves the time free for "any
    free one"; choosing it holds the other booth; then it is reserved."""
    a, b = browsers(), browsers()
    d6 = day + dt.timedelta(days=6)
    t10 = at(BERLIN, d6, "10:00")
    open_booker(a, stack.url, "booth", d6.isoformat())
    open_booker(b, stack.url, "booth", d6.isoformat())
    assert css(b, "#resource").get_attribute("value") == ""  # any
    assert "Any free one" in css(b, "#resource").text
    slot(a, t10).click()
    until("A's form", lambda: visible(a, "#step-form"))
    first = "Vocal booth 1" if "booth 1" in css(a, "#form-summary").text \
        else "Vocal booth 2"
    time.sleep(0.5)  # B has had the change pushed by now
    assert slot_state(b, t10) == "available"
    slot(b, t10).click()
    until("B's form", lambda: visible(b, "#step-form"))
    other = css(b, "#form-summary").text
    assert "Vocal booth" in other and first not in other
    # Both booths held: a third visitor sees 10:00 reserved.
    c = browsers()
    open_booker(c, stack.url, "booth", d6.isoformat())
    until("10:00 reserved for C", lambda: slot_state(c, t10) == "reserved")


def test_extras_booked_together(stack, day, browsers):
    """An add-on linked to the event type is offered on the form and booked
    in the same booking as the room."""
    d = browsers()
    d7 = day + dt.timedelta(days=7)
    t10 = at(BERLIN, d7, "10:00")
    open_booker(d, stack.url, "podcast", d7.isoformat())
    assert not visible(d, "#resource-row")  # the add-on is not a choice
    slot(d, t10).click()
    until("the form", lambda: visible(d, "#step-form"))
    until("the extra checked free", lambda: css(d, "#extra-0").is_enabled())
    assert css(d, 'label[for="extra-0"]').text == "Microphone kit"
    css(d, "#extra-0").click()
    fill_form(d, "Pod Caster", "pod@example.com")
    screenshots(d, "3b-form-extras")
    css(d, "#f-submit").click()
    until("the success page", lambda: visible(d, "#step-done"))
    assert "Podcast room, Microphone kit" in css(d, "#done-summary").text
    with stack.client() as c:
        page = c.booking_list(resource="mic-kit")
    b = [x for x in page.bookings if int(x.start.timestamp()) == t10][0]
    assert sorted(b.resources) == ["mic-kit", "studio-p"]


def test_stream_refused_then_followed(stack, day, browsers):
    """A stream the gateway refuses (say, too many open) is tried again
    later, and the list is live again without a reload."""
    a = browsers()
    d8 = day + dt.timedelta(days=8)
    t10 = at(BERLIN, d8, "10:00")
    block(a, ["*/v1/stream*"])
    open_booker(a, stack.url, "mixing", d8.isoformat())
    a.execute_script("window.__sameDocument = 1")
    time.sleep(0.5)
    block(a, [])
    time.sleep(3)  # the first retry comes 2 s after the refusal
    with stack.client() as c:
        c.hold("studio-b", t10, t10 + 3600, session="stream-test")
    # Well before the 10 s poll would notice.
    until("10:00 reserved", lambda: slot_state(a, t10) == "reserved",
          timeout=2)
    assert a.execute_script("return window.__sameDocument") == 1

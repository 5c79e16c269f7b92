"""Helpers of the browser tests: waiting on the booking page's elements,
and screenshots at phone and desktop widths checked not to be blank."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Callable

from selenium.common.exceptions import (NoSuchElementException,
                                        StaleElementReferenceException,
                                        WebDriverException)
from selenium.webdriver.common.by import By

WAIT = 10.0
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
PHONE = (360, 800)
DESKTOP = (1280, 900)


def until(what: str, fn: Callable[[], object], timeout: float = WAIT,
          step: float = 0.02):
    """Poll fn until it returns something true; fail naming what."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (NoSuchElementException, StaleElementReferenceException,
                IndexError):
            pass
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} "
                         f"(last: {last!r})")


def css(d, sel: str):
    return d.find_element(By.CSS_SELECTOR, sel)


def visible(d, sel: str) -> bool:
    try:
        return css(d, sel).is_displayed()
    except NoSuchElementException:
        return False


def slot(d, start: int):
    return css(d, f'#day button[data-start="{start}"]')


def slot_state(d, start: int, root: str = "#day") -> str:
    """The state of a start in a day list, or "" when it is not listed."""
    try:
        return d.find_element(
            By.CSS_SELECTOR,
            f'{root} button[data-start="{start}"]').get_attribute(
                "data-state") or ""
    except NoSuchElementException:
        return ""


def slots(d, root: str = "#day") -> list[tuple[int, str, str]]:
    """(start, state, time text) of every listed start, in page order."""
    return d.execute_script(
        "return [...document.querySelectorAll(arguments[0] + "
        "' button[data-start]')].map(b => [Number(b.dataset.start), "
        "b.dataset.state, b.querySelector('.time').textContent])", root)


def open_booker(d, base: str, event_type: str, date: str) -> None:
    d.get(f"{base}/?event_type={event_type}&date={date}")
    until("the day list", lambda: visible(d, "#step-pick")
          and css(d, "#day-title").text not in ("", "Pick a day")
          and slots(d))


COUNT_JS = """
const done = arguments[arguments.length - 1];
const img = new Image();
img.onload = () => {
  const c = new OffscreenCanvas(img.width, img.height);
  const x = c.getContext("2d");
  x.drawImage(img, 0, 0);
  const d = x.getImageData(0, 0, img.width, img.height).data;
  const colours = new Set();
  let busy = 0, rows = 0;
  for (let y = 0; y < img.height; y += 4) {
    rows++;
    const seen = new Set();
    for (let i = 0; i < img.width; i += 2) {
      const o = (y * img.width + i) * 4;
      seen.add((d[o] << 16) | (d[o + 1] << 8) | d[o + 2]);
    }
    if (seen.size > 1) busy++;
    for (const s of seen) colours.add(s);
  }
  done([colours.size, busy, rows, img.width, img.height]);
};
img.onerror = () => done(null);
img.src = "data:image/png;base64," + arguments[0];
"""


def check_not_blank(d, png_b64: str, name: str) -> tuple[int, int]:
    """A screenshot must have many colours and content on more than a
    sliver of its rows (decoded by the browser's own image decoder)."""
    res = d.execute_async_script(COUNT_JS, png_b64)
    assert res, f"{name}: the screenshot is not a readable PNG"
    colours, busy, rows, w, h = res
    assert colours >= 8, f"{name}: only {colours} colours: blank?"
    assert busy >= rows // 10, f"{name}: only {busy} of {rows} rows drawn"
    return w, h


def screenshots(d, step: str) -> list[Path]:
    """Screenshots of the current page at desktop and phone widths, written
    to build/screenshots/STEP-desktop.png and STEP-phone.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    out = []
    size = d.get_window_size()
    for label, (w, h) in (("desktop", DESKTOP), ("phone", PHONE)):
        d.set_window_size(w, h)
        until("the window size", lambda: abs(d.execute_script(
            "return window.innerWidth") - w) < 40, timeout=5)
        time.sleep(0.15)
        png = d.get_screenshot_as_base64()
        check_not_blank(d, png, f"{step}-{label}")
        path = SHOTS / f"{step}-{label}.png"
        path.write_bytes(base64.b64decode(png))
        out.append(path)
    d.set_window_size(size["width"], size["height"])
    return out


def block(d, patterns: list[str]) -> None:
    """Make the browser's requests to these URL patterns fail."""
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": patterns})


__all__ = ["until", "css", "visible", "slot", "slot_state", "slots",
           "open_booker", "screenshots", "block", "check_not_blank",
           "WebDriverException"]

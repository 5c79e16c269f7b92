"""Fixtures of the browser tests: a real bookd and bookd-http on temporary
paths and a free loopback port, seeded through the Python client, and
headless Chromium browsers driven by Selenium (Debian's chromium,
chromium-driver and python3-selenium).

Binaries: $BOOKD_BIN and $BOOKD_HTTP_BIN (tests/run.sh sets them), else
build/bookd and build/bookd-http.  Every wait is bounded; a missing binary
or browser fails the suite with a message saying what to install or build.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator, Optional
from zoneinfo import ZoneInfo

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "clients" / "python"))
import bookd  # noqa: E402

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import \
    decode_dss_signature  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

ISSUER = "https://login.example.test"
HOLD_TTL_MS = 3000
"""The engine's hold TTL in these tests: short, so a lost hold shows fast."""
READY = 30.0
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SHOTS = REPO / "build" / "screenshots"
CHROME_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu",
    "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--lang=en-GB", "--disable-extensions",
    "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
]


def binary(env: str, name: str) -> Path:
    path = Path(os.environ.get(env) or REPO / "build" / name)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{name} not found at {path}: run make (or set {env})",
                    pytrace=False)
    return path


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process with its stderr in a file, stopped by SIGTERM."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.log_path = log
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=f, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        return self.proc.returncode


def at(zone: ZoneInfo, d: dt.date, hhmm: str) -> int:
    """Unix seconds of a local wall time."""
    h, m = map(int, hhmm.split(":"))
    return int(dt.datetime(d.year, d.month, d.day, h, m, tzinfo=zone)
               .timestamp())


class Stack:
    """bookd + bookd-http + the seeded catalogue."""

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="bookd-www-")
        root = Path(self.tmp.name)
        self.root = root
        self.data = root / "data"
        self.sock = str(root / "bookd.sock")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.engine = Proc([str(binary("BOOKD_BIN", "bookd")), "--data",
                            str(self.data), "--socket", self.sock,
                            "--hold-ttl-ms", str(HOLD_TTL_MS),
                            "--max-hold-minutes", "4320"],
                           root / "bookd.log")
        self.wait(lambda: "bookd: ready" in self.engine.log(), self.engine,
                  "bookd ready")
        self.seed()
        self.key = ec.generate_private_key(ec.SECP256R1())
        nums = self.key.public_key().public_numbers()
        jwks = root / "jwks.json"
        jwks.write_text(json.dumps({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
            "use": "sig", "x": b64u(nums.x.to_bytes(32, "big")),
            "y": b64u(nums.y.to_bytes(32, "big"))}]}))
        self.http = Proc([str(binary("BOOKD_HTTP_BIN", "bookd-http")),
                          "--socket", self.sock, "--data", str(self.data),
                          "--listen", f"127.0.0.1:{self.port}", "--static",
                          str(REPO / "tools" / "http" / "www"),
                          "--jwks", str(jwks), "--issuer", ISSUER,
                          "--audience", "bookd", "--admin-claim",
                          "role=admin", "--rate-per-ip", "0",
                          # Every test browser is 127.0.0.1.
                          "--max-streams-per-ip", "64"],
                         root / "http.log")
        self.wait(self.healthy, self.http, "bookd-http /healthz")

    def wait(self, ok, proc: Proc, what: str) -> None:
        deadline = time.monotonic() + READY
        while not ok():
            if not proc.alive():
                self.close()
                pytest.fail(f"{what}: exited early:\n{proc.log()}",
                            pytrace=False)
            if time.monotonic() > deadline:
                log = proc.log()
                self.close()
                pytest.fail(f"{what}: not within {READY} s:\n{log}",
                            pytrace=False)
            time.sleep(0.05)

    def token(self, sub: str, email: str, admin: bool = False) -> str:
        """An ES256 login token the gateway accepts (admin: the claim)."""
        now = int(time.time())
        head = {"alg": "ES256", "typ": "JWT", "kid": "k1"}
        body = {"iss": ISSUER, "aud": "bookd", "sub": sub, "email": email,
                "iat": now, "nbf": now, "exp": now + 3600}
        if admin:
            body["role"] = "admin"
        signing = (b64u(json.dumps(head).encode()) + "." +
                   b64u(json.dumps(body).encode()))
        der = self.key.sign(signing.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing + "." + b64u(r.to_bytes(32, "big") +
                                    s.to_bytes(32, "big"))

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def client(self) -> bookd.Client:
        return bookd.connect(self.sock, timeout=30)

    def seed(self) -> None:
        with self.client() as c:
            week = [(d, "09:00", "18:00") for d in range(1, 8)]
            for rid, name in [("studio-a", "Studio A"),
                              ("studio-b", "Studio B"),
                              ("studio-k", "Studio K"),
                              ("booth-1", "Vocal booth 1"),
                              ("booth-2", "Vocal booth 2")]:
                c.resource_create(rid, name=name, timezone="Europe/Berlin")
                c.schedule_put(rid, "Europe/Berlin", week)
            c.resource_create("room-dst", name="Rehearsal room",
                              timezone="Europe/Berlin")
            c.event_type_put("session", title="Studio session",
                             lengths=[60, 120], resources=["studio-a"])
            c.event_type_put("mixing", title="Mixing slot", lengths=[60],
                             resources=["studio-b"])
            c.event_type_put("consult", title="Consultation", lengths=[60],
                             resources=["studio-k"],
                             requires_confirmation=True)
            c.event_type_put("rehearsal", title="Rehearsal", lengths=[60],
                             resources=["room-dst"])
            c.resource_create("studio-p", name="Podcast room",
                              timezone="Europe/Berlin")
            c.resource_create("mic-kit", name="Microphone kit",
                              timezone="Europe/Berlin", standalone=False,
                              quantity=2)
            c.event_type_put("podcast", title="Podcast recording",
                             lengths=[60], resources=["studio-p", "mic-kit"])
            c.event_type_put("booth", title="Vocal booth", lengths=[60],
                             resources=["booth-1", "booth-2"])
            c.resource_create("van", name="Tour van",
                              timezone="Europe/Berlin")
            c.event_type_put("tour", title="Van hire", lengths=[2880],
                             slot_interval=720, resources=["van"])

    def close(self) -> None:
        codes = []
        for p in ("http", "engine"):
            proc = getattr(self, p, None)
            if proc is not None:
                codes.append((p, proc.stop(), proc.log()))
        self.tmp.cleanup()
        return codes


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    s = Stack()
    yield s
    for name, code, log in s.close():
        assert code == 0, f"{name} exited with {code}:\n{log[-3000:]}"


@pytest.fixture(scope="session")
def day() -> dt.date:
    """A Berlin date two weeks ahead (inside the engine's window)."""
    return dt.datetime.now(BERLIN).date() + dt.timedelta(days=14)


def make_browser(zone: str = "Europe/Berlin", width: int = 1280,
                 height: int = 900) -> webdriver.Chrome:
    for path in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} missing: apt-get install -y chromium "
                        "chromium-driver python3-selenium", pytrace=False)
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in CHROME_FLAGS:
        opts.add_argument(a)
    opts.add_argument(f"--window-size={width},{height}")
    profile = tempfile.mkdtemp(prefix="bookd-chrome-")
    opts.add_argument(f"--user-data-dir={profile}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    opts.add_experimental_option("prefs", {"intl.accept_languages": "en-GB"})
    env = dict(os.environ, TZ=zone, LANG="en_GB.UTF-8", LANGUAGE="en_GB")
    service = Service("/usr/bin/chromedriver", env=env)
    drv = webdriver.Chrome(service=service, options=opts)
    drv.set_page_load_timeout(20)
    drv.set_script_timeout(20)
    drv.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": zone})
    drv.execute_cdp_cmd("Emulation.setLocaleOverride", {"locale": "en-GB"})
    drv.bookd_profile = profile
    return drv


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.bookd_failed = rep.failed


class Pool:
    """Browsers kept for the session: starting Chromium costs seconds, so a
    test's browsers are reset (cookies, storage, overrides) and reused."""

    def __init__(self) -> None:
        self.idle: list[webdriver.Chrome] = []

    def take(self, zone: str = "Europe/Berlin", width: int = 1280,
             height: int = 900) -> webdriver.Chrome:
        for d in self.idle:
            if d.bookd_zone == zone:
                self.idle.remove(d)
                d.set_window_size(width, height)
                return d
        d = make_browser(zone, width, height)
        d.bookd_zone = zone
        return d

    def give(self, d: webdriver.Chrome, url: str) -> None:
        """Back to the pool as a new visitor: a fresh session cookie, no
        token, no blocked URLs, the light scheme."""
        if d.current_url.startswith(url):
            d.execute_script("sessionStorage.clear(); localStorage.clear()")
        d.get("about:blank")
        d.execute_cdp_cmd("Network.enable", {})
        d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        d.execute_cdp_cmd("Network.clearBrowserCookies", {})
        d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        self.idle.append(d)

    def quit(self, d: webdriver.Chrome) -> None:
        d.quit()
        subprocess.run(["rm", "-rf", d.bookd_profile], check=False)

    def close(self) -> None:
        while self.idle:
            self.quit(self.idle.pop())


@pytest.fixture(scope="session", autouse=True)
def clean_failures() -> None:
    """Captures of failures from an earlier run would mislead."""
    for f in SHOTS.glob("fail-*"):
        f.unlink()


@pytest.fixture(scope="session")
def pool() -> Iterator[Pool]:
    p = Pool()
    yield p
    p.close()


@pytest.fixture
def browsers(request, pool, stack) -> Iterator:
    """A factory of browsers (new visitors), handed back at the end of the
    test.  After a failure each browser's screen, page text and console go
    to build/screenshots/fail-TEST-N.* and the browsers are quit."""
    made: list[webdriver.Chrome] = []

    def make(**kw) -> webdriver.Chrome:
        d = pool.take(**kw)
        d.get_log("browser")  # drop what an earlier test left
        made.append(d)
        return d

    yield make
    failed = getattr(request.node, "bookd_failed", False)
    if failed:
        SHOTS.mkdir(parents=True, exist_ok=True)
        for i, d in enumerate(made):
            base = SHOTS / f"fail-{request.node.name}-{i}"
            try:
                d.save_screenshot(str(base) + ".png")
                text = d.execute_script("return location.href + '\\n' + "
                                        "document.body.innerText")
                logs = "\n".join(str(e) for e in d.get_log("browser"))
                base.with_suffix(".txt").write_text(text + "\n---\n" + logs)
            except Exception as e:  # the browser may be gone
                base.with_suffix(".txt").write_text(f"no capture: {e}")
    errors = []
    for d in made:
        if not failed:
            errors += [e for e in d.get_log("browser")
                       if e["level"] == "SEVERE" and "Failed to load "
                       "resource" not in e["message"]]
        if failed or errors:
            pool.quit(d)
        else:
            pool.give(d, stack.url)
    assert not errors, f"errors in the browser console: {errors}"

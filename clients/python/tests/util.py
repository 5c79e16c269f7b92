"""Helpers of the bookd client tests: a real engine process, times, names.

The engine binary is ``$BOOKD_BIN`` (tests/run.sh sets it), else
``build/bookd`` at the repository root.  A missing binary fails the tests
that need it with a clear message; nothing is skipped.  Every wait is
bounded: the engine must print ``bookd: ready`` within READY_TIMEOUT seconds
and exit within STOP_TIMEOUT after SIGTERM (then it is killed).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

import pytest

import bookd

REPO = Path(__file__).resolve().parents[3]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
CALL_TIMEOUT = 30.0
SHORT_TTL_MS = 600
"""The hold TTL of the short_engine fixture."""
WAIT = 20.0
"""Upper bound on any wait for an asynchronous effect (a push, an expiry)."""


def engine_binary() -> Path:
    path = Path(os.environ.get("BOOKD_BIN") or REPO / "build" / "bookd")
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"bookd binary not found at {path}: build it (make) or "
                    "set BOOKD_BIN", pytrace=False)
    return path


class Engine:
    """One bookd process on its own data directory and socket."""

    def __init__(self, *extra: str) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="bookd-py-")
        root = Path(self.tmp.name)
        self.data = root / "data"
        self.socket = str(root / "s.sock")
        self.log_path = root / "stderr.log"
        self.extra = list(extra)
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self) -> "Engine":
        binary = engine_binary()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(binary), "--data", str(self.data), "--socket",
                 self.socket, *self.extra],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=log)
        deadline = time.monotonic() + READY_TIMEOUT
        while b"bookd: ready" not in self.log_path.read_bytes():
            if self.proc.poll() is not None:
                pytest.fail(f"bookd exited with {self.proc.returncode} before "
                            f"ready:\n{self.log()}", pytrace=False)
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"bookd not ready within {READY_TIMEOUT} s:\n"
                            f"{self.log()}", pytrace=False)
            time.sleep(0.02)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> Optional[int]:
        """SIGTERM, bounded wait, then SIGKILL; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        return self.proc.returncode

    def connect(self, **kw) -> bookd.Client:
        kw.setdefault("timeout", CALL_TIMEOUT)
        return bookd.connect(self.socket, **kw)

    def close(self) -> None:
        """Stop and clean up; the engine must have exited with status 0.

        Under ASan, leaks and memory errors show up in that status.
        """
        status = self.stop()
        log = self.log()
        self.tmp.cleanup()
        assert status == 0, f"bookd exited with {status}:\n{log}"


_ids = itertools.count(1)


def new_resource_id() -> str:
    """A resource id unique within this test run."""
    return f"py-{os.getpid()}-{next(_ids)}"


def at(d: dt.date, hhmm: str, days: int = 0) -> dt.datetime:
    """The aware UTC instant of ``hh:mm`` on date ``d`` (plus ``days``)."""
    h, m = map(int, hhmm.split(":"))
    return dt.datetime(d.year, d.month, d.day, h, m,
                       tzinfo=dt.timezone.utc) + dt.timedelta(days=days)


def wait_until(predicate, what: str, timeout: float = WAIT):
    """Poll predicate() until it returns a true value; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for "
                                 f"{what}")
        time.sleep(0.05)


BOOKER = {"name": "Ada Lovelace", "email": "ada@example.org"}

"""Helpers of the bookd-notify tests: a real SMTP server (aiosmtpd), a real
HTTP webhook receiver that checks every signature, and the notifier process.

Every wait is bounded (WAIT seconds unless told otherwise).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from aiosmtpd.controller import Controller

REPO = Path(__file__).resolve().parents[2]
WAIT = 30.0


def notify_binary() -> Path:
    path = Path(os.environ.get("BOOKD_NOTIFY_BIN")
                or REPO / "build" / "bookd-notify")
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"bookd-notify not found at {path}: build it (make) or "
                    "set BOOKD_NOTIFY_BIN", pytrace=False)
    return path


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(pred, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {what}")
        time.sleep(0.05)


def verify_signature(secret: str, msg_id: str, ts: str, body: bytes,
                     header: str) -> bool:
    """Standard Webhooks: v1,<base64 HMAC-SHA256(key, id.ts.body)>."""
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body,
                   hashlib.sha256).digest()
    want = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(want, s) for s in header.split(" "))


class Receiver:
    """Webhook endpoints by path: /ok accepts; /flaky fails the first
    `fail_first` attempts of each webhook-id; /hang never answers (until
    close); /down answers 500 while `down` is set."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.got: List[dict] = []
        self.bad_signatures = 0
        self.secrets: Dict[str, str] = {}
        self.attempts: Dict[tuple, int] = {}
        self.fail_first = 3
        self.down = True
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                outer.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        path = h.path
        wid = h.headers.get("webhook-id", "")
        ts = h.headers.get("webhook-timestamp", "")
        sig = h.headers.get("webhook-signature", "")
        secret = self.secrets.get(path)
        ok_sig = path == "/api" or (bool(secret) and verify_signature(
            secret, wid, ts, body, sig))
        if path == "/hang":
            self.release.wait(60)
            return
        with self.lock:
            if not ok_sig:
                self.bad_signatures += 1
            k = (path, wid)
            self.attempts[k] = self.attempts.get(k, 0) + 1
            attempt = self.attempts[k]
            status = 200
            if path == "/flaky" and attempt <= self.fail_first:
                status = 503
            if path == "/down" and self.down:
                status = 500
            self.got.append({"path": path, "id": wid, "ts": ts,
                             "auth": h.headers.get("Authorization", ""),
                             "ctype": h.headers.get("Content-Type", ""),
                             "body": body, "status": status,
                             "at": time.time(), "attempt": attempt})
        h.send_response(status)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def accepted(self, path: str) -> List[dict]:
        with self.lock:
            return [g for g in self.got
                    if g["path"] == path and g["status"] == 200]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Smtp:
    """A real SMTP server on a loopback port, keeping every message.  With
    tls_context it requires STARTTLS; with users ({login: password}) it
    requires AUTH (over TLS)."""

    def __init__(self, tls_context=None, users=None) -> None:
        self.lock = threading.Lock()
        self.mails: List[dict] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with outer.lock:
                    outer.mails.append({"to": list(envelope.rcpt_tos),
                                        "from": envelope.mail_from,
                                        "data": envelope.content,
                                        "tls": session.ssl is not None,
                                        "login": session.auth_data,
                                        "at": time.time()})
                return "250 OK"

        def check(server, session, envelope, mechanism, auth_data):
            from aiosmtpd.smtp import AuthResult
            login = auth_data.login.decode()
            ok = users.get(login) == auth_data.password.decode()
            return AuthResult(success=ok, handled=False,
                              auth_data=login if ok else None)

        self.port = free_port()
        kw = {}
        if tls_context is not None:
            kw.update(tls_context=tls_context, require_starttls=True)
        if users:
            kw.update(authenticator=check, auth_required=True,
                      auth_require_tls=True)
        self.ctl = Controller(Handler(), hostname="127.0.0.1",
                              port=self.port, **kw)
        self.ctl.start()

    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def messages(self) -> List[dict]:
        with self.lock:
            return list(self.mails)

    def close(self) -> None:
        self.ctl.stop()


class Notifier:
    """One bookd-notify process; its stderr goes to a log file."""

    def __init__(self, socket_path: str, *extra: str,
                 state: Optional[Path] = None) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="bookd-notify-")
        self.state = state or Path(self.tmp.name) / "state"
        self.log_path = Path(self.tmp.name) / "notify.log"
        self.args = [str(notify_binary()), "--socket", socket_path,
                     "--state", str(self.state), *extra]
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> "Notifier":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=log)
        return self

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(WAIT)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def run(self, *sub: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(notify_binary()), *sub, "--state",
                               str(self.state)], capture_output=True,
                              text=True, timeout=WAIT)

    def close(self) -> None:
        status = self.stop()
        log = self.log()
        self.tmp.cleanup()
        assert status == 0, f"bookd-notify exited with {status}:\n{log}"


def all_events(client) -> List[dict]:
    out, after = [], 0
    while True:
        r = client.call("events", after=after, limit=1000)
        out.extend(r["events"])
        if not r["events"]:
            return out
        after = r["next"]

"""Fixtures of the bookd-http tests: a real bookd and real bookd-http
processes on a temporary data directory and free loopback ports, visitors
with their own cookie jars (http.client, keep-alive), raw event streams and
JWTs minted with keys the tests make.

Binaries: $BOOKD_BIN, $BOOKD_HTTP_BIN, $BOOKCTL_BIN (tests/run.sh sets
them), else build/.  Every wait is bounded.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import \
    decode_dss_signature

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "clients" / "python"))
import bookd  # noqa: E402

ISSUER = "https://login.example.test/"
AUDIENCE = "bookd-web"


def binary(env: str, name: str) -> str:
    path = os.environ.get(env) or str(REPO / "build" / name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{name} not found at {path}: run make", pytrace=False)
    return path


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_int(n: int) -> str:
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class Keys:
    """An RSA and an EC signing key in a JWKS file, and a stranger key."""

    def __init__(self, path: Path) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537,
                                            key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.other = rsa.generate_private_key(public_exponent=65537,
                                              key_size=2048)
        rn = self.rsa.public_key().public_numbers()
        en = self.ec.public_key().public_numbers()
        jwks = {"keys": [
            {"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256",
             "n": b64u_int(rn.n), "e": b64u_int(rn.e)},
            {"kty": "EC", "kid": "e1", "crv": "P-256",
             "x": b64u(en.x.to_bytes(32, "big")),
             "y": b64u(en.y.to_bytes(32, "big"))},
        ]}
        self.path = path
        path.write_text(json.dumps(jwks))

    def token(self, alg: str = "RS256", key: Any = None, kid: str = "r1",
              **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1",
                "email": "ada@example.org", "iat": now, "exp": now + 600}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        head = {"alg": alg, "typ": "JWT", "kid": kid}
        signing = (b64u(json.dumps(head).encode()) + "." +
                   b64u(json.dumps(body).encode())).encode()
        if alg == "RS256":
            sig = (key or self.rsa).sign(signing, padding.PKCS1v15(),
                                         hashes.SHA256())
        elif alg == "ES256":
            der = (key or self.ec).sign(signing, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:
            sig = b""
        return signing.decode() + "." + b64u(sig)


class Gateway:
    """One bookd-http process."""

    def __init__(self, engine: "Engine", *extra: str) -> None:
        self.engine = engine
        self.log_path = engine.root / f"http-{time.monotonic_ns()}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [binary("BOOKD_HTTP_BIN", "bookd-http"), "--data",
                 str(engine.data), "--socket", engine.socket, "--listen",
                 "127.0.0.1:0", *extra],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("port "):
            self.proc.kill()
            pytest.fail("bookd-http did not start:\n" +
                        self.log_path.read_text(), pytrace=False)
        self.port = int(line.split()[1])

    def visitor(self) -> "Visitor":
        return Visitor(self.port)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(20)
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class Engine:
    def __init__(self, *extra: str) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="bookd-http-")
        self.root = Path(self.tmp.name)
        self.data = self.root / "data"
        self.socket = str(self.root / "s.sock")
        self.log_path = self.root / "bookd.log"
        self.extra = extra
        self.start()

    def restart(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(30) == 0
        self.log_path.write_bytes(b"")
        self.start()

    def start(self) -> None:
        extra = self.extra
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [binary("BOOKD_BIN", "bookd"), "--data", str(self.data),
                 "--socket", self.socket, *extra],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=log)
        deadline = time.monotonic() + 30
        while b"bookd: ready" not in self.log_path.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail("bookd did not start:\n" +
                            self.log_path.read_text(), pytrace=False)
            time.sleep(0.02)

    def admin(self) -> bookd.Client:
        return bookd.connect(self.socket, timeout=30)

    def token(self, role: str, subject: str) -> Path:
        out = subprocess.run(
            [binary("BOOKCTL_BIN", "bookctl"), "token", str(self.data),
             "--role", role, "--subject", subject],
            check=True, capture_output=True, timeout=30)
        path = self.root / f"{role}-{subject}.token"
        path.write_bytes(out.stdout)
        return path

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        log = self.log_path.read_text(errors="replace")
        self.tmp.cleanup()
        assert self.proc.returncode == 0, log


class Response:
    def __init__(self, r: http.client.HTTPResponse, body: bytes) -> None:
        self.status = r.status
        self.headers = r.headers
        self.raw = body
        ctype = r.headers.get("Content-Type", "")
        self.json = json.loads(body) if "json" in ctype and body else None


class Visitor:
    """A browser: its own keep-alive connection and cookie jar."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.bearer: Optional[str] = None

    def request(self, method: str, path: str, body: Any = None,
                headers: Optional[dict[str, str]] = None,
                raw: Optional[bytes] = None) -> Response:
        h = {}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in
                                    self.cookies.items())
        if self.bearer:
            h["Authorization"] = "Bearer " + self.bearer
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                payload = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1",
                                                       self.port, timeout=10)
                if attempt:
                    raise
        for c in r.headers.get_all("Set-Cookie") or []:
            k, v = c.split(";")[0].split("=", 1)
            self.cookies[k] = v
        return Response(r, payload)

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)


class Stream:
    """A raw event stream: the bytes as they come."""

    def __init__(self, port: int, path: str, cookies: dict[str, str],
                 headers: str = "") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Cookie: {cookie}\r\nAccept: text/event-stream\r\n{headers}"
            "\r\n".encode())
        self.buf = b""

    def read_until(self, needle: bytes, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return False
            chunk = self.sock.recv(65536)
            if not chunk:
                return needle in self.buf
            self.buf += chunk
        return True

    def drain(self, seconds: float) -> bytes:
        """Everything that arrives within seconds."""
        start = len(self.buf)
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                break
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        return self.buf[start:]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="session")
def engine():
    eng = Engine("--hold-ttl-ms", "10000")
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def keys(engine):
    return Keys(engine.root / "jwks.json")


@pytest.fixture(scope="session")
def gw(engine, keys):
    """The main gateway: the engine's own uid (admin connection, "as" for
    visitors), logins, one CORS origin, a generous rate."""
    www = engine.root / "www"
    (www / "js").mkdir(parents=True)
    (www / "index.html").write_text("<!doctype html><title>book</title>")
    (www / "js" / "app.js").write_text("export const x = 1;\n")
    (engine.root / "secret.txt").write_text("secret")
    (www / "leak.txt").symlink_to(engine.root / "secret.txt")
    g = Gateway(engine, "--static", str(www), "--jwks", str(keys.path),
                "--issuer", ISSUER,
                "--audience", AUDIENCE, "--admin-claim", "role=admin",
                "--cors", "https://shop.example.test", "--rate-per-ip",
                "100000", "--threads", "2")
    yield g
    assert g.stop() == 0, g.log()


@pytest.fixture(scope="session")
def day() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=14)


_n = [0]


@pytest.fixture
def rid(engine) -> str:
    """A fresh resource in Europe/Berlin, open around the clock."""
    _n[0] += 1
    name = f"room-{os.getpid()}-{_n[0]}"
    with engine.admin() as c:
        c.resource_create(name, name=f"Room {_n[0]}",
                          timezone="Europe/Berlin")
    return name


def utc(d: dt.date, hhmm: str) -> int:
    h, m = map(int, hhmm.split(":"))
    return int(dt.datetime(d.year, d.month, d.day, h, m,
                           tzinfo=dt.timezone.utc).timestamp())

"""The synchronous, thread-safe bookd client.

One :class:`Client` owns one Unix-socket connection and one background
reader thread.  Any number of threads may call it at once: each request gets
the next id and is written whole under a send lock, so requests from several
threads are pipelined on the one connection, and the reader thread hands
each reply to the waiter with the same id.  Pushes go to the
:class:`Subscription` they name.

Invariants: a request id is registered before its bytes are sent and removed
when its reply arrives, its wait times out or the connection ends; when the
connection ends every waiter fails with :class:`bookd.ConnectionClosed` and
every subscription's iteration stops.  Every wait is bounded by the client's
``timeout`` (a :class:`bookd.Timeout` leaves the connection usable: the late
reply is dropped by id).

Subscription callbacks run on a thread of their own, never on the reader
thread, so a callback may call the client.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import queue
import socket
import threading
from typing import Any, Callable, Iterator, Optional

from . import _stream, _wire
from ._api import Day, Instant, Minutes, Operations, _args, _view_dates
from ._hold import HoldState
from .errors import (
    ConnectionClosed,
    ConnectionFailed,
    Error,
    ProtocolError,
    Timeout,
)
from .types import DaySlots, HoldSpan, Push, ViewSlot
from .view import day_view

log = logging.getLogger("bookd")

DEFAULT_SOCKET = "./var/bookd.sock"
DEFAULT_TIMEOUT = 30.0
PUSH_QUEUE_MAX = 10000
"""Pushes kept per subscription before new ones are counted as dropped."""


def default_socket_path() -> str:
    """``$BOOKD_SOCKET``, else ``./var/bookd.sock`` (SPEC section 1)."""
    return os.environ.get("BOOKD_SOCKET") or DEFAULT_SOCKET


def _open_socket(path: Optional[str], timeout: float) -> socket.socket:
    path = path or default_socket_path()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.settimeout(None)
    except OSError as e:
        sock.close()
        raise ConnectionFailed(f"cannot connect to {path}: {e}") from e
    return sock


class _End:
    """Queue marker: the subscription has ended."""


_END = _End()


class Subscription:
    """A live subscription: iterate it, or :meth:`get` with a timeout.

    Pushes name a changed resource-day (:class:`bookd.Push`).  Iteration
    stops when the subscription is closed or the connection ends.  If the
    consumer falls more than ``PUSH_QUEUE_MAX`` pushes behind, further pushes
    are counted in ``dropped`` instead of queued: re-read the day.
    """

    def __init__(self, client: "Client", sub: int, topic: str,
                 resource: str) -> None:
        self.client = client
        self.sub = sub
        self.topic = topic
        self.resource = resource
        self.dropped = 0
        self._queue: "queue.Queue[Any]" = queue.Queue()
        self._ended = False
        self._thread: Optional[threading.Thread] = None

    def _deliver(self, push: Push) -> None:
        """Called on the reader thread for each push of this subscription."""
        if self._queue.qsize() >= PUSH_QUEUE_MAX:
            self.dropped += 1
            return
        self._queue.put(push)

    def _end(self) -> None:
        """Called once the subscription can receive nothing more."""
        if not self._ended:
            self._ended = True
            self._queue.put(_END)

    def get(self, timeout: Optional[float] = None) -> Optional[Push]:
        """The next push; ``None`` on timeout or after the end."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _END:
            self._queue.put(_END)
            return None
        return item

    def pending(self) -> int:
        """How many pushes are queued now."""
        return self._queue.qsize() - (1 if self._ended else 0)

    def __iter__(self) -> Iterator[Push]:
        while True:
            item = self._queue.get()
            if item is _END:
                self._queue.put(_END)
                return
            yield item

    def _run_callback(self, callback: Callable[[Push], Any]) -> None:
        for push in self:
            try:
                callback(push)
            except Exception:
                log.exception("bookd: subscription %d callback failed",
                              self.sub)

    def close(self) -> None:
        """Unsubscribe (if the connection is still open) and end iteration."""
        if not self.client.closed:
            try:
                self.client.unsubscribe(self.sub)
            except ConnectionClosed:
                pass
        self._end()
        if self._thread is not None and \
                self._thread is not threading.current_thread():
            self._thread.join(self.client.timeout)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Hold(HoldState):
    """A hold kept alive in the background while a user decides.

    ``with client.hold_span(resource, start, end) as h:`` takes the hold
    (raising :class:`bookd.Held`, :class:`bookd.Conflict`, ... at once),
    renews it every ``hold_ttl_ms / 2`` on a background thread, and releases
    it on exit.  Book inside the block with ``session=h.session`` to consume
    it.  If a renewal fails (the connection ended, or the hold lapsed and
    someone else took the span) renewing stops, ``h.error`` holds the error
    and ``h.alive`` is false; :meth:`raise_if_lost` turns that into the
    exception.
    """

    def __init__(self, client: "Client", resource: str, start: Instant,
                 end: Instant, session: Optional[str] = None,
                 renew_every: Optional[float] = None) -> None:
        super().__init__(client, resource, start, end, session, renew_every)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def alive(self) -> bool:
        """True while held and renewing without error."""
        return (self._thread is not None and self.error is None
                and not self._stop.is_set())

    def acquire(self) -> "Hold":
        """Take the hold and start renewing it."""
        self._granted(self.client.hold(self.resource, self.start, self.end,
                                       self.session))
        self._thread = threading.Thread(target=self._renew, daemon=True,
                                        name=f"bookd-hold-{self.resource}")
        self._thread.start()
        return self

    def renew(self) -> None:
        """Renew now (the background thread does this every interval).

        A failure is recorded in ``error`` and raised.
        """
        try:
            grant = self.client.hold(self.resource, self.start, self.end,
                                     self.session)
        except Error as e:
            self.error = e
            raise
        self._renewed(grant)

    def _renew(self) -> None:
        assert self.renew_every is not None
        while not self._stop.wait(self.renew_every):
            try:
                self.renew()
            except Error as e:
                log.warning("bookd: hold on %s lost: %s", self.resource, e)
                return

    def release(self) -> bool:
        """Stop renewing and release; returns whether the engine had it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.client.timeout)
        if self.client.closed:
            return False
        try:
            return self.client.release(self.resource, self.session)
        except ConnectionClosed:
            return False

    def __enter__(self) -> "Hold":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


class _Pending:
    """A request waiting for its reply."""

    __slots__ = ("future", "on_result")

    def __init__(self, on_result: Optional[Callable[[Any], None]]) -> None:
        self.future: concurrent.futures.Future[Any] = \
            concurrent.futures.Future()
        self.on_result = on_result


class Client(Operations):
    """A thread-safe connection to bookd; see the module doc.

    Make one with :func:`bookd.connect`.  Every operation of the protocol is
    a method (:class:`bookd._api.Operations`); :meth:`submit` pipelines
    without waiting.  Use as a context manager or call :meth:`close`.
    """

    def __init__(self, sock: socket.socket,
                 timeout: Optional[float] = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.server = None
        self._sock = sock
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._next_id = 1
        self._pending: dict[int, _Pending] = {}
        self._subs: dict[int, Subscription] = {}
        self._closed_by: Optional[Error] = None
        self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                        name="bookd-reader")
        self._reader.start()

    # Connection

    @property
    def closed(self) -> bool:
        """Whether the connection has ended."""
        return self._closed_by is not None

    def close(self) -> None:
        """Close the connection; waiters fail with ConnectionClosed."""
        self._fail(ConnectionClosed("connection closed by the client"))
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._reader is not threading.current_thread():
            self._reader.join(self.timeout)
        self._sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _fail(self, err: Error) -> None:
        """End the connection: fail every waiter, end every subscription."""
        with self._lock:
            if self._closed_by is None:
                self._closed_by = err
            pending = list(self._pending.values())
            subs = list(self._subs.values())
            self._pending.clear()
            self._subs.clear()
        for p in pending:
            if not p.future.done():
                p.future.set_exception(self._closed_by)
        for s in subs:
            s._end()

    def _read_loop(self) -> None:
        incoming = _stream.Incoming(self._on_push, self._on_reply)
        err: Error = ConnectionClosed("connection closed")
        try:
            while True:
                data = self._sock.recv(1 << 16)
                if not data:
                    break
                incoming.feed(data)
            err = incoming.end_error(None)
        except Exception as e:
            err = incoming.end_error(e)
        finally:
            if not isinstance(err, ConnectionClosed):
                try:
                    self._sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._fail(err)

    def _on_push(self, push: Push) -> None:
        """Route a push to its subscription (reader thread)."""
        with self._lock:
            sub = self._subs.get(push.sub)
        if sub is not None:
            sub._deliver(push)

    def _on_reply(self, msg_id: int, result: Any,
                  error: Optional[Error]) -> None:
        """Hand a reply to its waiter (reader thread)."""
        with self._lock:
            pending = self._pending.pop(msg_id, None)
        if pending is None:
            return  # Its waiter timed out; the reply is no longer wanted.
        if error is not None:
            pending.future.set_exception(error)
            return
        if pending.on_result is not None:
            pending.on_result(result)
        pending.future.set_result(result)

    # Requests

    def _send(self, op: str, args: dict[str, Any],
              on_result: Optional[Callable[[Any], None]] = None
              ) -> tuple[int, "concurrent.futures.Future[Any]"]:
        pending = _Pending(on_result)
        with self._send_lock:
            with self._lock:
                if self._closed_by is not None:
                    raise ConnectionClosed(str(self._closed_by))
                req_id = self._next_id
                msg: dict[str, Any] = {"id": req_id, "op": op}
                if args:
                    msg["args"] = args
                frame = _wire.pack(msg)
                self._next_id += 1
                self._pending[req_id] = pending
            try:
                self._sock.sendall(frame)
            except OSError as e:
                self._fail(ConnectionClosed(f"send failed: {e}"))
        return req_id, pending.future

    def _wait(self, req_id: int,
              future: "concurrent.futures.Future[Any]") -> Any:
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError:
            with self._lock:
                self._pending.pop(req_id, None)
            raise Timeout(f"no reply within {self.timeout} s") from None

    def _op(self, op: str, args: dict[str, Any],
            convert: Callable[[Any], Any]) -> Any:
        return convert(self._wait(*self._send(op, args)))

    def submit(self, op: str, **args: Any
               ) -> "concurrent.futures.Future[Any]":
        """Send a request without waiting; the future holds the raw result.

        Arguments are as for :meth:`call`.  Submitting many requests before
        waiting pipelines them on the connection.  The future fails with the
        engine's :class:`bookd.Error`, or with ConnectionClosed; it is not
        bounded by the client's timeout, so wait on it with one.
        """
        return self._send(op, _wire.wire_args(args))[1]

    # Subscriptions, holds and the day view

    def subscribe(self, topic: str, resource: Optional[str] = None,
                  from_: Optional[Day] = None, to: Optional[Day] = None,
                  callback: Optional[Callable[[Push], Any]] = None
                  ) -> Subscription:
        """Subscribe to ``slots`` or ``holds`` changes of a resource's days,
        or (admin, no resource) to ``events``: a push when new events are
        durable.

        Returns a :class:`Subscription` to iterate; with ``callback``, each
        push is also handed to it on a thread of its own.
        """
        made: list[Subscription] = []

        def register(result: Any) -> None:
            # Runs on the reader thread before any later message is read,
            # so no push for the new subscription can arrive unrouted.
            sub_id = result.get("sub") if isinstance(result, dict) else None
            if not isinstance(sub_id, int):
                return
            sub = Subscription(self, sub_id, topic, resource)
            with self._lock:
                self._subs[sub_id] = sub
            made.append(sub)

        result = self._wait(*self._send("subscribe", _args(
            topic=topic, resource=resource, from_=from_, to=to), register))
        if not made:
            raise ProtocolError(f"subscribe reply without a sub: {result!r}")
        sub = made[0]
        if callback is not None:
            sub._thread = threading.Thread(target=sub._run_callback,
                                           args=(callback,), daemon=True,
                                           name=f"bookd-sub-{sub.sub}")
            sub._thread.start()
        return sub

    def _forget_sub(self, sub_id: int) -> None:
        with self._lock:
            sub = self._subs.pop(sub_id, None)
        if sub is not None:
            sub._end()

    def hold_span(self, resource: str, start: Instant, end: Instant,
                  session: Optional[str] = None,
                  renew_every: Optional[float] = None) -> Hold:
        """A :class:`Hold` context manager (renews every TTL/2, releases).

        ``session`` defaults to a fresh random one; ``renew_every`` (seconds)
        to half the engine's ``hold_ttl_ms``.
        """
        return Hold(self, resource, start, end, session, renew_every)

    def day_view(self, resource: str, date: Day, duration: Minutes,
                 interval: Optional[Minutes] = None, tz: Optional[str] = None,
                 session: Optional[str] = None,
                 event_type: Optional[str] = None) -> list[ViewSlot]:
        """The day view derived locally from ``slots.day`` and ``holds.day``.

        The queries are pipelined: the day's slots, and the holds of the
        day and of the following days its spans can run into.  The result
        equals ``slots_view``.
        """
        slots = self._send("slots.day", _args(
            resource=resource, date=date, duration=duration,
            interval=interval, tz=tz, event_type=event_type))
        holds = [self._send("holds.day", _args(
            resource=resource, date=d, tz=tz, session=session))
            for d in _view_dates(date, duration)]
        day_slots = DaySlots.from_wire(self._wait(*slots))
        spans = [HoldSpan.from_wire(h) for sent in holds
                 for h in self._wait(*sent)]
        return day_view(day_slots, spans, duration)


def connect(path: Optional[str] = None, *,
            timeout: Optional[float] = DEFAULT_TIMEOUT,
            role: Optional[str] = None, token: Optional[str] = None,
            client_name: str = "bookd.py") -> Client:
    """Connect to bookd and say hello.

    ``path`` defaults to ``$BOOKD_SOCKET``, else ``./var/bookd.sock``.
    ``role="public"`` drops the connection to the public role; ``token``
    presents a signed token.  ``timeout`` (seconds, None for no limit)
    bounds the connect and every call.  The hello reply is kept as
    ``client.server``.  Raises :class:`bookd.ConnectionFailed` when the
    socket cannot be opened.
    """
    client = Client(_open_socket(path, timeout or DEFAULT_TIMEOUT), timeout)
    try:
        client.hello(client=client_name, role=role, token=token)
    except BaseException:
        client.close()
        raise
    return client

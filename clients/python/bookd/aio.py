"""The asyncio bookd client, with the same surface as :class:`bookd.Client`.

``client = await bookd.aio.connect()`` gives an :class:`AsyncClient` whose
operation methods return awaitables (``await client.slots_day(...)``).  It
belongs to the event loop it was made on.  A reader task routes replies to
their waiters by id, so any number of tasks may await calls at once and their
requests are pipelined on the one connection; pushes go to the
:class:`AsyncSubscription` they name.

Invariants and failures are those of the synchronous client: every wait is
bounded by ``timeout`` (:class:`bookd.Timeout`, the connection stays usable),
the end of the connection fails every waiter with
:class:`bookd.ConnectionClosed` and ends every subscription, and a cancelled
caller leaves the connection usable (its reply is dropped by id).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Awaitable, Callable, Optional

from . import _stream, _wire
from ._api import Day, Instant, Minutes, Operations, _args, _view_dates
from ._hold import HoldState
from .client import DEFAULT_TIMEOUT, PUSH_QUEUE_MAX, default_socket_path
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

_END = object()


class AsyncSubscription:
    """A live subscription: ``async for push in sub`` or :meth:`get`.

    Iteration stops when the subscription is closed or the connection ends.
    Pushes beyond ``PUSH_QUEUE_MAX`` unconsumed ones are counted in
    ``dropped`` instead of queued.
    """

    def __init__(self, client: "AsyncClient", sub: int, topic: str,
                 resource: str) -> None:
        self.client = client
        self.sub = sub
        self.topic = topic
        self.resource = resource
        self.dropped = 0
        self._queue: "asyncio.Queue[Any]" = asyncio.Queue()
        self._ended = False
        self._task: Optional["asyncio.Task[None]"] = None

    def _deliver(self, push: Push) -> None:
        if self._queue.qsize() >= PUSH_QUEUE_MAX:
            self.dropped += 1
            return
        self._queue.put_nowait(push)

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(_END)

    async def get(self, timeout: Optional[float] = None) -> Optional[Push]:
        """The next push; ``None`` on timeout or after the end."""
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
        if item is _END:
            self._queue.put_nowait(_END)
            return None
        return item

    def pending(self) -> int:
        """How many pushes are queued now."""
        return self._queue.qsize() - (1 if self._ended else 0)

    def __aiter__(self) -> "AsyncSubscription":
        return self

    async def __anext__(self) -> Push:
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)
            raise StopAsyncIteration
        return item

    async def _run_callback(self, callback: Callable[[Push], Any]) -> None:
        async for push in self:
            try:
                result = callback(push)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("bookd: subscription %d callback failed",
                              self.sub)

    async def close(self) -> None:
        """Unsubscribe (if the connection is still open) and end iteration."""
        if not self.client.closed:
            try:
                await self.client.unsubscribe(self.sub)
            except ConnectionClosed:
                pass
        self._end()
        if self._task is not None and self._task is not asyncio.current_task():
            await asyncio.wait([self._task], timeout=self.client.timeout)

    async def __aenter__(self) -> "AsyncSubscription":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class AsyncHold(HoldState):
    """The asyncio form of :class:`bookd.Hold`.

    ``async with client.hold_span(resource, start, end) as h:`` takes the
    hold, renews it every ``hold_ttl_ms / 2`` in a task and releases it on
    exit; ``h.error`` and ``h.alive`` report a failed renewal.
    """

    def __init__(self, client: "AsyncClient", resource: str, start: Instant,
                 end: Instant, session: Optional[str] = None,
                 renew_every: Optional[float] = None) -> None:
        super().__init__(client, resource, start, end, session, renew_every)
        self._task: Optional["asyncio.Task[None]"] = None
        self._released = False

    @property
    def alive(self) -> bool:
        """True while held and renewing without error."""
        return (self._task is not None and self.error is None
                and not self._released)

    async def acquire(self) -> "AsyncHold":
        """Take the hold and start renewing it."""
        self._granted(await self.client.hold(self.resource, self.start,
                                             self.end, self.session))
        self._task = asyncio.get_running_loop().create_task(self._renew())
        return self

    async def renew(self) -> None:
        """Renew now; a failure is recorded in ``error`` and raised."""
        try:
            grant = await self.client.hold(self.resource, self.start,
                                           self.end, self.session)
        except Error as e:
            self.error = e
            raise
        self._renewed(grant)

    async def _renew(self) -> None:
        assert self.renew_every is not None
        while True:
            await asyncio.sleep(self.renew_every)
            try:
                await self.renew()
            except Error as e:
                log.warning("bookd: hold on %s lost: %s", self.resource, e)
                return

    async def release(self) -> bool:
        """Stop renewing and release; returns whether the engine had it."""
        self._released = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task], timeout=self.client.timeout)
        if self.client.closed:
            return False
        try:
            return await self.client.release(self.resource, self.session)
        except ConnectionClosed:
            return False

    async def __aenter__(self) -> "AsyncHold":
        return await self.acquire()

    async def __aexit__(self, *exc: Any) -> None:
        await self.release()


class AsyncClient(Operations):
    """An asyncio connection to bookd; see the module doc.

    Make one with :func:`connect`; close with :meth:`close` or ``async
    with``.  Operation methods are those of :class:`bookd.Client`, each
    returning an awaitable of the result.
    """

    def __init__(self, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter,
                 timeout: Optional[float] = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.server = None
        self._reader = reader
        self._writer = writer
        self._next_id = 1
        self._pending: dict[int, "asyncio.Future[Any]"] = {}
        self._hooks: dict[int, Callable[[Any], None]] = {}
        self._subs: dict[int, AsyncSubscription] = {}
        self._closed_by: Optional[Error] = None
        self._drain_lock = asyncio.Lock()
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    @property
    def closed(self) -> bool:
        """Whether the connection has ended."""
        return self._closed_by is not None

    async def close(self) -> None:
        """Close the connection; waiters fail with ConnectionClosed."""
        self._fail(ConnectionClosed("connection closed by the client"))
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), self.timeout)
        except (OSError, asyncio.TimeoutError):
            pass
        self._task.cancel()
        await asyncio.wait([self._task], timeout=self.timeout)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _fail(self, err: Error) -> None:
        if self._closed_by is None:
            self._closed_by = err
        pending = list(self._pending.values())
        subs = list(self._subs.values())
        self._pending.clear()
        self._hooks.clear()
        self._subs.clear()
        for fut in pending:
            if not fut.done():
                fut.set_exception(self._closed_by)
        for s in subs:
            s._end()

    async def _read_loop(self) -> None:
        incoming = _stream.Incoming(self._on_push, self._on_reply)
        err: Error = ConnectionClosed("connection closed by the client")
        try:
            while True:
                data = await self._reader.read(1 << 16)
                if not data:
                    break
                incoming.feed(data)
            err = incoming.end_error(None)
        except Exception as e:
            err = incoming.end_error(e)
        finally:
            if isinstance(err, ProtocolError):
                self._writer.close()
            self._fail(err)

    def _on_push(self, push: Push) -> None:
        sub = self._subs.get(push.sub)
        if sub is not None:
            sub._deliver(push)

    def _on_reply(self, msg_id: int, result: Any,
                  error: Optional[Error]) -> None:
        fut = self._pending.pop(msg_id, None)
        hook = self._hooks.pop(msg_id, None)
        if fut is None or fut.done():
            return
        if error is not None:
            fut.set_exception(error)
            return
        if hook is not None:
            hook(result)
        fut.set_result(result)

    def _send(self, op: str, args: dict[str, Any],
              hook: Optional[Callable[[Any], None]] = None
              ) -> tuple[int, "asyncio.Future[Any]"]:
        if self._closed_by is not None:
            raise ConnectionClosed(str(self._closed_by))
        req_id = self._next_id
        msg: dict[str, Any] = {"id": req_id, "op": op}
        if args:
            msg["args"] = args
        frame = _wire.pack(msg)
        self._next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        if hook is not None:
            self._hooks[req_id] = hook
        self._writer.write(frame)
        return req_id, fut

    async def _wait(self, req_id: int, fut: "asyncio.Future[Any]") -> Any:
        try:
            async with self._drain_lock:
                await self._writer.drain()
            return await asyncio.wait_for(asyncio.shield(fut), self.timeout)
        except asyncio.TimeoutError:
            raise Timeout(f"no reply within {self.timeout} s") from None
        except OSError as e:
            self._fail(ConnectionClosed(f"send failed: {e}"))
            raise ConnectionClosed(str(self._closed_by)) from None
        finally:
            # Whether answered, timed out or cancelled, this id is done.
            self._pending.pop(req_id, None)
            self._hooks.pop(req_id, None)
            if fut.done() and not fut.cancelled():
                fut.exception()

    async def _request(self, op: str, args: dict[str, Any],
                       convert: Callable[[Any], Any]) -> Any:
        return convert(await self._wait(*self._send(op, args)))

    def _op(self, op: str, args: dict[str, Any],
            convert: Callable[[Any], Any]) -> Awaitable[Any]:
        return self._request(op, args, convert)

    def submit(self, op: str, **args: Any) -> "asyncio.Future[Any]":
        """Send a request now; the future holds the raw result.

        The request is written before this returns, so several submits are
        pipelined.  The future is not bounded by the client's timeout.
        """
        return self._send(op, _wire.wire_args(args))[1]

    async def subscribe(self, topic: str, resource: Optional[str] = None,
                        from_: Optional[Day] = None, to: Optional[Day] = None,
                        callback: Optional[Callable[[Push], Any]] = None
                        ) -> AsyncSubscription:
        """Subscribe to ``slots`` or ``holds`` changes of a resource's days,
        or (admin, no resource) to ``events``: a push when new events are
        durable.

        With ``callback`` (a function or coroutine function), each push is
        also handed to it from a task of its own.
        """
        made: list[AsyncSubscription] = []

        def register(result: Any) -> None:
            # Runs in the reader task before the next message is read.
            sub_id = result.get("sub") if isinstance(result, dict) else None
            if not isinstance(sub_id, int):
                return
            sub = AsyncSubscription(self, sub_id, topic, resource)
            self._subs[sub_id] = sub
            made.append(sub)

        result = await self._wait(*self._send("subscribe", _args(
            topic=topic, resource=resource, from_=from_, to=to), register))
        if not made:
            raise ProtocolError(f"subscribe reply without a sub: {result!r}")
        sub = made[0]
        if callback is not None:
            sub._task = asyncio.get_running_loop().create_task(
                sub._run_callback(callback))
        return sub

    def _forget_sub(self, sub_id: int) -> None:
        sub = self._subs.pop(sub_id, None)
        if sub is not None:
            sub._end()

    def hold_span(self, resource: str, start: Instant, end: Instant,
                  session: Optional[str] = None,
                  renew_every: Optional[float] = None) -> AsyncHold:
        """An :class:`AsyncHold` (``async with``): renews every TTL/2."""
        return AsyncHold(self, resource, start, end, session, renew_every)

    async def day_view(self, resource: str, date: Day, duration: Minutes,
                       interval: Optional[Minutes] = None,
                       tz: Optional[str] = None,
                       session: Optional[str] = None,
                       event_type: Optional[str] = None) -> list[ViewSlot]:
        """The day view derived locally (as :meth:`bookd.Client.day_view`)."""
        slots = self._send("slots.day", _args(
            resource=resource, date=date, duration=duration,
            interval=interval, tz=tz, event_type=event_type))
        holds = [self._send("holds.day", _args(
            resource=resource, date=d, tz=tz, session=session))
            for d in _view_dates(date, duration)]
        day_slots = DaySlots.from_wire(await self._wait(*slots))
        spans = [HoldSpan.from_wire(h) for sent in holds
                 for h in await self._wait(*sent)]
        return day_view(day_slots, spans, duration)


async def connect(path: Optional[str] = None, *,
                  timeout: Optional[float] = DEFAULT_TIMEOUT,
                  role: Optional[str] = None, token: Optional[str] = None,
                  client_name: str = "bookd.py/aio") -> AsyncClient:
    """Connect to bookd and say hello (as :func:`bookd.connect`)."""
    path = path or default_socket_path()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(path, limit=_wire.MAX_FRAME + 4),
            timeout or DEFAULT_TIMEOUT)
    except (OSError, asyncio.TimeoutError) as e:
        raise ConnectionFailed(f"cannot connect to {path}: {e}") from e
    client = AsyncClient(reader, writer, timeout)
    try:
        await client.hello(client=client_name, role=role, token=token)
    except BaseException:
        await client.close()
        raise
    return client


__all__ = ["AsyncClient", "AsyncHold", "AsyncSubscription", "connect"]

"""What the sync :class:`bookd.Hold` and the asyncio :class:`AsyncHold`
share: the span and session held, the record of renewals, the renewal
interval and the lost-hold error.  Each subclass adds its own way of
renewing in the background (a thread, a task)."""

from __future__ import annotations

import uuid
from typing import Any, Optional

from ._api import Instant
from .errors import Error


class HoldState:
    def __init__(self, client: Any, resource: str, start: Instant,
                 end: Instant, session: Optional[str],
                 renew_every: Optional[float]) -> None:
        self.client = client
        self.resource = resource
        self.start = start
        self.end = end
        self.session = session or uuid.uuid4().hex
        self.renew_every = renew_every
        self.expires_at_ms: Optional[int] = None
        self.renewals = 0
        self.error: Optional[Error] = None

    def _granted(self, grant: Any) -> None:
        """Record the first grant: its expiry, and the renewal interval
        (half the engine's hold TTL) unless one was given."""
        self.expires_at_ms = grant.expires_at_ms
        if self.renew_every is None:
            server = self.client.server
            ttl = server.hold_ttl_ms if server else None
            self.renew_every = (ttl or 10000) / 2000.0

    def _renewed(self, grant: Any) -> None:
        self.expires_at_ms = grant.expires_at_ms
        self.renewals += 1

    def raise_if_lost(self) -> None:
        """Raise the renewal error, if renewing failed."""
        if self.error is not None:
            raise self.error

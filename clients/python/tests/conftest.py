"""Fixtures: a real bookd engine shared by the session, connections to it,
fresh resources and a test date.  See util.py for the engine process."""

from __future__ import annotations

import datetime as dt
from typing import Iterator

import pytest

import bookd
from util import SHORT_TTL_MS, Engine, new_resource_id


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The engine shared by most tests (default hold TTL)."""
    eng = Engine().start()
    yield eng
    eng.close()


@pytest.fixture
def client(engine: Engine) -> Iterator[bookd.Client]:
    """An admin connection (same uid as the engine)."""
    with engine.connect() as c:
        yield c


@pytest.fixture
def rid(client: bookd.Client) -> str:
    """A fresh resource (UTC, no schedule: open around the clock)."""
    name = new_resource_id()
    client.resource_create(name, name=f"Test {name}")
    return name


@pytest.fixture(scope="session")
def day() -> dt.date:
    """A UTC date two weeks ahead: inside the engine's window, not past."""
    return dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=14)


@pytest.fixture(scope="session")
def short_engine() -> Iterator[Engine]:
    """An engine whose holds lapse SHORT_TTL_MS after their last renewal."""
    eng = Engine("--hold-ttl-ms", str(SHORT_TTL_MS)).start()
    yield eng
    eng.close()

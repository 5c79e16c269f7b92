"""Types of the generated operation table (bookd/_ops.py) and lookups on it.

The table itself is generated from proto/ops.h by clients/python/gen_ops.py;
this module only gives its rows a shape and indexes them by wire name and by
Python method name.
"""

from __future__ import annotations

from typing import NamedTuple


class Arg(NamedTuple):
    """One argument of an operation, as declared in proto/ops.h."""

    name: str
    """Wire name of the argument (``from``, ``start``, ...)."""
    type: str
    """``str``, ``uint``, ``int``, ``bool``, ``map``, ``array`` or ``any``."""
    required: bool
    max: int
    """Byte limit of a string or item limit of an array; 0: the default."""


class Op(NamedTuple):
    """One operation of the wire protocol."""

    ident: str
    """The Python method name (``slots_day``)."""
    wire: str
    """The wire name (``slots.day``)."""
    role: str
    """The least role allowed to call it: ``public`` or ``admin``."""
    writes: bool
    """Whether it mutates durable state (its reply waits for the log)."""
    args: tuple[Arg, ...]

"""A tiny command line for bookd: ``python3 -m bookd --help``.

``python3 -m bookd OP [key=value ...]`` calls one operation and prints the
result as JSON; a value is read as JSON when it parses (``duration=60``,
``booker={"name": "A", "email": "a@x"}``) and as a string otherwise.
``python3 -m bookd ops`` lists the operations, ``python3 -m bookd watch
TOPIC RESOURCE [FROM [TO]]`` prints pushes until interrupted.  Errors print
``CODE: message`` on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional

from . import OPS, Error, connect


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_args(pairs: list[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"bookd: argument {pair!r} is not key=value")
        out[key] = _value(value)
    return out


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python3 -m bookd",
        description="Call one bookd operation and print its result as JSON.",
        epilog="examples: python3 -m bookd resource.list; "
               "python3 -m bookd slots.day resource=studio-a "
               "date=2030-05-06 duration=60; "
               "python3 -m bookd watch slots studio-a")
    ap.add_argument("--socket", help="socket path (default: $BOOKD_SOCKET, "
                    "else ./var/bookd.sock)")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="seconds to wait for a reply (default 30)")
    ap.add_argument("op", help="an operation (see 'ops'), 'ops' or 'watch'")
    ap.add_argument("args", nargs="*", help="key=value arguments, or for "
                    "watch: TOPIC RESOURCE [FROM [TO]]")
    opts = ap.parse_args(argv)
    if opts.op == "ops":
        for op in OPS:
            args = " ".join(a.name + ("" if a.required else "?")
                            for a in op.args)
            print(f"{op.wire:20} {op.role:6} {args}")
        return 0
    try:
        with connect(opts.socket, timeout=opts.timeout) as client:
            if opts.op == "watch":
                if not 2 <= len(opts.args) <= 4:
                    ap.error("watch takes TOPIC RESOURCE [FROM [TO]]")
                topic, resource, *span = opts.args
                sub = client.subscribe(topic, resource, *span)
                print(json.dumps({"sub": sub.sub}), flush=True)
                for push in sub:
                    print(json.dumps({"push": push.push, "sub": push.sub,
                                      "topic": push.topic,
                                      "resource": push.resource,
                                      "date": str(push.date),
                                      "version": push.version}), flush=True)
                return 0
            result = client.call(opts.op, **_parse_args(opts.args))
    except Error as e:
        print(f"bookd: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    json.dump(result, sys.stdout, indent=2, sort_keys=True, default=repr)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Generate bookd/_ops.py from proto/ops.h and proto/bookd_errors.h.

The C headers are the one declaration of the protocol's operations, their
argument schemas and the error codes (ARCHITECTURE.md: everything else
derives from the op table).  This script reads them with a deliberately small
parser that understands exactly the shapes used there:

- ``X(ident, "wire.name", ROLE_x, OPF_x)`` entries of the BOOKD_OPS X-macro;
- function-like ``#define ARGS_<ident>(F) ...`` macros made of ``F(field,
  T_type, required, max)`` entries and calls of other function-like macros
  (``ARGS_RESOURCE_BODY(F, 1)``), expanded recursively;
- ``X(NAME, "message")`` entries of BOOKD_ERROR_LIST, of which the first
  BOOKD_WIRE_ERRORS travel on the wire.

Anything it cannot make sense of is an error (exit status 2), never a silent
omission.  Usage::

    gen_ops.py            rewrite bookd/_ops.py
    gen_ops.py --check    exit 1 if bookd/_ops.py differs from the headers
    gen_ops.py --stdout   print the generated module
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OPS_H = REPO / "proto" / "ops.h"
ERRORS_H = REPO / "proto" / "bookd_errors.h"
OUT = HERE / "bookd" / "_ops.py"

ROLES = {"ROLE_PUBLIC": "public", "ROLE_ADMIN": "admin"}
FLAGS = {"OPF_READ": False, "OPF_WRITE": True}
TYPES = {
    "T_STR": "str",
    "T_TEXT": "str",
    "T_SLUG": "str",
    "T_DATE": "str",
    "T_EMAIL": "str",
    "T_INSTANT": "int",
    "T_MINUTES": "uint",
    "T_UINT": "uint",
    "T_INT": "int",
    "T_BOOL": "bool",
    "T_MAP": "map",
    "T_ARR": "array",
    "T_ANY": "any",
}


class GenError(Exception):
    """The headers have a shape this generator does not understand."""


def _logical_lines(text: str) -> list[str]:
    """Join backslash continuations and drop C comments."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return text.replace("\\\n", " ").splitlines()


def _defines(text: str) -> dict[str, tuple[list[str], str]]:
    """Every function-like macro: name -> (parameters, body)."""
    out: dict[str, tuple[list[str], str]] = {}
    for line in _logical_lines(text):
        m = re.match(r"\s*#\s*define\s+(\w+)\(([^)]*)\)\s*(.*)$", line)
        if m:
            params = [p.strip() for p in m.group(2).split(",") if p.strip()]
            out[m.group(1)] = (params, m.group(3).strip())
    return out


def _constants(text: str) -> dict[str, int]:
    """Every object-like macro whose body is a decimal number."""
    out: dict[str, int] = {}
    for line in _logical_lines(text):
        m = re.match(r"\s*#\s*define\s+(\w+)\s+(\d+)\s*(?:/\*.*\*/)?\s*$",
                     line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def _calls(body: str) -> list[tuple[str, list[str]]]:
    """Split a macro body into its top-level NAME(arg, ...) calls."""
    calls = []
    pos = 0
    body = body.strip()
    call_re = re.compile(r"\s*(\w+)\s*\(([^()]*)\)\s*")
    while pos < len(body):
        m = call_re.match(body, pos)
        if not m:
            near = body[pos:pos + 40]
            raise GenError(f"cannot parse macro body near {near!r}")
        calls.append((m.group(1), [a.strip() for a in m.group(2).split(",")]))
        pos = m.end()
    return calls


def _expand_args(name: str, bindings: dict[str, str],
                 defines: dict[str, tuple[list[str], str]],
                 consts: dict[str, int],
                 depth: int = 0) -> list[tuple[str, str, bool, int]]:
    """Expand an argument-schema macro into (field, type, required, max)."""
    if depth > 8:
        raise GenError(f"macro recursion too deep in {name}")
    params, body = defines[name]
    fields = []
    for callee, args in _calls(body):
        args = [bindings.get(a, a) for a in args]
        if bindings.get(callee, callee) == "F":
            if len(args) != 4 or args[1] not in TYPES:
                raise GenError(f"{name}: bad field entry "
                               f"{callee}{tuple(args)}")
            fields.append((args[0], TYPES[args[1]], args[2] != "0",
                           consts[args[3]] if args[3] in consts
                           else int(args[3])))
        elif callee in defines:
            cparams, _ = defines[callee]
            if len(cparams) != len(args):
                raise GenError(f"{name}: {callee} takes {len(cparams)} args")
            fields += _expand_args(callee, dict(zip(cparams, args)),
                                   defines, consts, depth + 1)
        else:
            raise GenError(f"{name}: unknown macro {callee}")
    return fields


def parse_ops(text: str) -> list[tuple[str, str, str, bool, list]]:
    """The op table: (ident, wire name, role, writes, args) in table order."""
    defines = _defines(text)
    if "BOOKD_OPS" not in defines:
        raise GenError("proto/ops.h has no BOOKD_OPS macro")
    ops = []
    for callee, args in _calls(defines["BOOKD_OPS"][1]):
        if callee != "X" or len(args) != 4:
            raise GenError(f"BOOKD_OPS: unexpected entry "
                           f"{callee}{tuple(args)}")
        ident, wire, role, flags = args
        if not re.fullmatch(r'"[a-z_.]+"', wire):
            raise GenError(f"BOOKD_OPS: bad wire name {wire}")
        if role not in ROLES or flags not in FLAGS:
            raise GenError(f"BOOKD_OPS: bad role or flags for {ident}")
        schema = "ARGS_" + ident
        if schema not in defines:
            raise GenError(f"no {schema} for op {ident}")
        fields = _expand_args(schema, {defines[schema][0][0]: "F"}, defines,
                              _constants(text))
        ops.append((ident, wire.strip('"'), ROLES[role], FLAGS[flags], fields))
    return ops


def parse_errors(text: str) -> list[str]:
    """The error codes that travel on the wire, in header order."""
    defines = _defines(text)
    m = re.search(r"#\s*define\s+BOOKD_WIRE_ERRORS\s+(\d+)", text)
    if "BOOKD_ERROR_LIST" not in defines or not m:
        raise GenError("bookd_errors.h lacks BOOKD_ERROR_LIST or "
                       "BOOKD_WIRE_ERRORS")
    codes = [args[0] for callee, args in
             _calls(re.sub(r'"(?:[^"\\]|\\.)*"', "MSG",
                           defines["BOOKD_ERROR_LIST"][1]))
             if callee == "X"]
    return codes[: int(m.group(1))]


def render(ops_text: str, errors_text: str) -> str:
    """The complete text of bookd/_ops.py."""
    ops = parse_ops(ops_text)
    errors = parse_errors(errors_text)
    lines = [
        '"""The operation table and wire error codes of bookd.',
        "",
        "Generated by clients/python/gen_ops.py from proto/ops.h and",
        "proto/bookd_errors.h; do not edit.  Regenerate with",
        "``/usr/bin/python3 clients/python/gen_ops.py``.",
        '"""',
        "",
        "from ._schema import Arg, Op",
        "",
        "OPS: tuple[Op, ...] = (",
    ]
    for ident, wire, role, writes, fields in ops:
        head = f"    Op({ident!r}, {wire!r}, {role!r}, {writes!r}, ("
        if not fields:
            lines.append(head + ")),")
            continue
        lines.append(head)
        for field, typ, req, mx in fields:
            lines.append(f"        Arg({field!r}, {typ!r}, {req!r}, {mx!r}),")
        lines.append("    )),")
    lines.append(")")
    lines.append("")
    lines.append("WIRE_ERRORS: tuple[str, ...] = (")
    lines += [f"    {code!r}," for code in errors]
    lines.append(")")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="exit 1 if bookd/_ops.py is out of date")
    mode.add_argument("--stdout", action="store_true",
                      help="print the module instead of writing it")
    opts = ap.parse_args()
    try:
        text = render(OPS_H.read_text(), ERRORS_H.read_text())
    except (OSError, GenError) as e:
        print(f"gen_ops: {e}", file=sys.stderr)
        return 2
    if opts.stdout:
        sys.stdout.write(text)
        return 0
    current = OUT.read_text() if OUT.exists() else ""
    if opts.check:
        if current != text:
            print(f"gen_ops: {OUT} is out of date with proto/ops.h; "
                  "run /usr/bin/python3 clients/python/gen_ops.py",
                  file=sys.stderr)
            return 1
        return 0
    if current != text:
        OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

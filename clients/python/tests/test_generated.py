"""The generated op table matches proto/ops.h, and the client covers it."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import bookd
from bookd import _api, errors

HERE = Path(__file__).resolve().parent
GEN = HERE.parent / "gen_ops.py"
sys.path.insert(0, str(GEN.parent))
import gen_ops  # noqa: E402


def test_ops_py_is_up_to_date_with_ops_h():
    expected = gen_ops.render(gen_ops.OPS_H.read_text(),
                              gen_ops.ERRORS_H.read_text())
    assert (HERE.parent / "bookd" / "_ops.py").read_text() == expected, \
        "bookd/_ops.py is stale: run clients/python/gen_ops.py"


def test_gen_ops_check_mode_agrees():
    proc = subprocess.run(["/usr/bin/python3", str(GEN), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_parser_expands_nested_schema_macros():
    ops = {o[1]: o for o in gen_ops.parse_ops(gen_ops.OPS_H.read_text())}
    create = [a[0] for a in ops["resource.create"][4]]
    assert create[0] == "id" and "schedule" in create and "meta" in create
    assert ops["resource.create"][4][0][2] is True  # id is required
    assert ops["ping"][4] == []


def test_parser_rejects_unknown_shapes():
    bad = '#define BOOKD_OPS(X) X(a, "a", ROLE_NOBODY, OPF_READ)\n' \
          '#define ARGS_a(F)\n'
    try:
        gen_ops.parse_ops(bad)
    except gen_ops.GenError as e:
        assert "role" in str(e)
    else:
        raise AssertionError("a bad role was accepted")


def test_every_op_is_a_method_with_the_schema_arguments():
    """Typed methods take exactly the op's wire arguments."""
    client_cls = bookd.Client
    for op in bookd.OPS:
        fn = getattr(client_cls, op.ident, None)
        if fn is None:
            # Not typed yet (an op newer than _api.py): reached through
            # __getattr__, checked on an instance in test_ops.py.
            continue
        params = [p for p in inspect.signature(fn).parameters
                  if p not in ("self", "callback")]
        wire = [p[:-1] if p.endswith("_") else p for p in params]
        assert sorted(wire) == sorted(a.name for a in op.args), op.wire
        required = {a.name for a in op.args if a.required}
        sig = inspect.signature(fn).parameters
        for p in params:
            name = p[:-1] if p.endswith("_") else p
            has_default = sig[p].default is not inspect.Parameter.empty
            assert has_default == (name not in required), (op.wire, p)


def test_typed_methods_name_only_real_ops():
    known = {op.ident for op in bookd.OPS}
    typed = {name for name, _ in inspect.getmembers(_api.Operations,
                                                    inspect.isfunction)
             if not name.startswith("_") and name != "call"}
    assert typed <= known, typed - known


def test_every_wire_error_has_a_class():
    assert set(bookd.WIRE_ERRORS) == set(errors.WIRE_CLASSES)
    for code in bookd.WIRE_ERRORS:
        cls = errors.WIRE_CLASSES[code]
        assert issubclass(cls, bookd.Error)
        assert getattr(bookd, cls.__name__) is cls
        e = errors.from_wire({"code": code, "message": "m", "field": "x"})
        assert type(e) is cls
        assert (e.code, e.message, e.details) == (code, "m", {"field": "x"})


def test_unknown_and_malformed_error_maps_are_still_errors():
    e = errors.from_wire({"code": "FROM_THE_FUTURE", "message": "hi"})
    assert type(e) is bookd.Error and e.code == "FROM_THE_FUTURE"
    assert type(errors.from_wire("nope")) is bookd.ProtocolError
    assert type(errors.from_wire({"message": "x"})) is bookd.ProtocolError

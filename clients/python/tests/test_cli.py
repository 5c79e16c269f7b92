"""``python3 -m bookd``: help, the op list, one call, an error."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import bookd

PKG_ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, socket: str | None = None):
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    cmd = ["/usr/bin/python3", "-m", "bookd"]
    if socket:
        cmd += ["--socket", socket]
    return subprocess.run(cmd + list(args), capture_output=True, text=True,
                          env=env, timeout=60)


def test_help():
    proc = cli("--help")
    assert proc.returncode == 0 and "usage:" in proc.stdout


def test_ops_lists_every_operation():
    proc = cli("ops")
    assert proc.returncode == 0
    listed = [line.split()[0] for line in proc.stdout.splitlines()]
    assert listed == [op.wire for op in bookd.OPS]


def test_call_prints_json_and_errors_exit_1(engine, rid):
    proc = cli("resource.get", f"id={rid}", socket=engine.socket)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["id"] == rid
    proc = cli("resource.get", "id=no-such-thing", socket=engine.socket)
    assert proc.returncode == 1 and "NOT_FOUND" in proc.stderr

"""``pip install ./clients/python`` works offline and installs the package.

The source is copied first so the build leaves nothing in the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PKG_ROOT = Path(__file__).resolve().parents[1]


def test_pip_install_and_import(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(PKG_ROOT, src, ignore=shutil.ignore_patterns(
        "tests", "__pycache__", "build", "*.egg-info"))
    target = tmp_path / "site"
    proc = subprocess.run(
        ["/usr/bin/python3", "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--no-index", "--target", str(target),
         str(src)], capture_output=True, text=True, timeout=300,
        cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = dict(os.environ, PYTHONPATH=str(target))
    check = subprocess.run(
        ["/usr/bin/python3", "-c",
         "import bookd, bookd.aio; print(bookd.__file__, len(bookd.OPS))"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert check.returncode == 0, check.stderr
    path, count = check.stdout.split()
    assert path.startswith(str(target)) and int(count) > 0
    assert (target / "bookd" / "py.typed").exists()

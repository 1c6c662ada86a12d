"""The package type-checks: mypy over micropim.py, handlers/, store/ and search/."""

from __future__ import annotations

import pathlib

from mypy import api

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_mypy_finds_no_errors() -> None:
    targets = [str(ROOT / name) for name in ("micropim.py", "handlers", "store", "search")]
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "setup.cfg"), *targets])
    assert status == 0, stdout + stderr

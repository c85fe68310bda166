"""``python -m bench.X`` entry points prepare the process as the ``tandem`` command does."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.paths import run_main
from kb.config import OPENMP_DEFAULTS


def test_run_main_sets_openmp_spin_and_exits_with_mains_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in OPENMP_DEFAULTS:
        monkeypatch.delenv(key, raising=False)
    seen: dict[str, str | None] = {}

    def main() -> int:
        seen.update({key: os.environ.get(key) for key in OPENMP_DEFAULTS})
        return 3

    with pytest.raises(SystemExit) as stop:
        run_main(main)
    assert stop.value.code == 3
    assert seen == OPENMP_DEFAULTS


def test_module_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench.warm_cache", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "usage" in out.stdout.lower()

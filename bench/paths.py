"""Where the research code finds the repository, the evaluation data and the results folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from kb.config import load_settings, prepare_openmp

# bench/ is installed in development mode from the repository (never in the product's wheel),
# so the repository root is the folder above this package.
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def default_eval_dir() -> Path:
    """The evaluation data: the settings' ``eval_dir`` (``TANDEM_EVAL_DIR``, else
    ``../shared/eval`` relative to the repository)."""
    return load_settings(os.environ).eval_dir.resolve()


def run_main(main: Callable[[], int | None]) -> None:
    """Run a ``python -m bench.X`` entry point as the ``tandem`` command would: OpenMP's spin
    setting first (it is read when the library loads), then ``main``; its return is the exit
    code."""
    prepare_openmp(os.environ)
    raise SystemExit(main())

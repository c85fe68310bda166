"""Where the research code finds the repository, the evaluation data and the results folder."""

from __future__ import annotations

from pathlib import Path

# bench/ is installed in development mode from the repository (never in the product's wheel),
# so the repository root is the folder above this package.
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def default_eval_dir() -> Path:
    """``../shared/eval`` relative to the repository (the evaluation data's home)."""
    return (ROOT.parent / "shared" / "eval").resolve()

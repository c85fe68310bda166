"""Build the int8 e5 encoder's calibration file (kb/embedding/data/e5-int8-calibration-v*.npz).

    python scripts/build_e5_calibration.py [--demo-dir ingest/demo] [--out FILE]

Runs the float32 graph over 48 pieces of 1,300 characters of the demo library's guides and
notes (fixed seed) and writes each projection's largest input per feature, with a header
naming the model file and the texts. Stored passage vectors depend on this file: when it is
rebuilt on other texts, raise ``kb.embedding.calibration.VERSION`` so the new file gets a new
name, and re-import (or keep the old version) so vectors stay comparable.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kb.config import load_settings  # noqa: E402
from kb.embedding.calibration import (  # noqa: E402
    CALIBRATION_FILE,
    build_calibration,
    calibration_texts,
    save_calibration,
)
from kb.embedding.e5_model import E5File  # noqa: E402


def main() -> None:
    settings = load_settings(os.environ)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-dir", type=Path, default=settings.demo_dir)
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    model = E5File()
    texts = calibration_texts(args.demo_dir)
    folder = args.demo_dir.resolve()
    where = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    source = f"guides and notes of {where} at {commit}"
    maxima, header = build_calibration(model, texts, source)
    save_calibration(args.out, maxima, header)
    print(f"wrote {args.out}: {len(maxima)} projections, {header['texts']}")


if __name__ == "__main__":
    main()

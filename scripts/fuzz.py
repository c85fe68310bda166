"""A longer fuzz run than CI's: the same Hypothesis tests with more, fresh examples.

    python scripts/fuzz.py --scale 20          # 20 times CI's examples, new inputs each run
    python scripts/fuzz.py --scale 5 --same    # CI's fixed inputs, five times as many

Prints the configuration, then runs pytest on the fuzz tests (tests/fuzz and
tests/web/test_fuzz_api.py); its exit status is pytest's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["tests/fuzz", "tests/web/test_fuzz_api.py"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=20.0,
                        help="examples per test, as a multiple of CI's (default 20)")  # fmt: skip
    parser.add_argument("--same", action="store_true",
                        help="CI's derandomised inputs instead of fresh random ones")  # fmt: skip
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments, e.g. -x")
    args = parser.parse_args(argv)
    env = {
        **os.environ,
        "TANDEM_FUZZ_SCALE": str(args.scale),
        "TANDEM_FUZZ_RANDOM": "0" if args.same else "1",
    }
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS,
               *args.pytest_args]  # fmt: skip
    print(f"fuzz: TANDEM_FUZZ_SCALE={args.scale} TANDEM_FUZZ_RANDOM={env['TANDEM_FUZZ_RANDOM']}")
    print("fuzz: " + " ".join(command), flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    raise SystemExit(main())

"""Small timing helpers shared by the benchmarks: wall-clock samples and their percentiles."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bench.paths import ROOT

T = TypeVar("T")


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99, mean and max of samples in milliseconds (rounded to 0.01 ms)."""
    if not samples_ms:
        return {"n": 0}
    values = np.asarray(samples_ms, dtype=np.float64)
    return {
        "n": int(values.size),
        "p50": round(float(np.percentile(values, 50)), 2),
        "p95": round(float(np.percentile(values, 95)), 2),
        "p99": round(float(np.percentile(values, 99)), 2),
        "mean": round(float(values.mean()), 2),
        "max": round(float(values.max()), 2),
    }


def time_each(function: Callable[[T], Any], items: Iterable[T], warmup: int = 3) -> list[float]:
    """Call ``function`` once per item and return each call's wall time in ms.

    The first ``warmup`` items are run once untimed first (lazy loading, caches, page-ins).
    """
    items = list(items)
    for item in items[:warmup]:
        function(item)
    samples = []
    for item in items:
        start = time.perf_counter()
        function(item)
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (what else was running shapes every figure)."""
    return [round(v, 2) for v in os.getloadavg()]


def rss_mb() -> float:
    """Resident memory of this process in MB (peak is in :func:`peak_rss_mb`): Linux's
    ``/proc/self/statm`` (no bench extra needed), else psutil."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):
        import psutil

        return round(psutil.Process().memory_info().rss / 2**20, 1)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux ru_maxrss is in kB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def git_commit(root: Path = ROOT) -> str:
    """The checked-out commit (plus "-dirty" when tracked files changed), or "unknown"."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", ""),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
    }

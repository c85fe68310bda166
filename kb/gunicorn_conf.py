"""gunicorn hooks for ``tandem serve`` (``--config python:kb.gunicorn_conf``).

The app is built once in the master and forked (``--preload``). Models hold thread pools
that do not survive a fork, so each worker loads its search models and opens its search
engine after the fork, in a background thread, while it already accepts requests (a search
that comes first waits for the same load instead of starting a second one).
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
from pathlib import Path

log = logging.getLogger("tandem")


def command(workers: int, bind: str, *options: str) -> list[str]:
    """The gunicorn command line of ``tandem serve`` (the web benchmark runs the same)."""
    gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
    return [
        gunicorn, "--workers", str(workers), "--bind", bind, "--timeout", "120", *options,
        # The app is built once in the master (language tables loaded there, with
        # TANDEM_WARM_UP=1) and forked; models, indexes and database connections are opened
        # in each worker after the fork.
        "--preload", "--config", "python:kb.gunicorn_conf", "kb.app:create_app()",
    ]  # fmt: skip


def post_worker_init(worker) -> threading.Thread:  # noqa: ANN001 - gunicorn's Worker
    tandem = worker.wsgi.extensions["tandem"]

    def warm() -> None:
        try:
            tandem.warm_up_models()
        except Exception:  # a broken model shows at the first search, with its own error
            log.exception("warming up the search models failed")

    thread = threading.Thread(target=warm, name="tandem-warm-up", daemon=True)
    thread.start()
    return thread

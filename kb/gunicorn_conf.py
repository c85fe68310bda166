"""gunicorn hooks for ``tandem serve`` (``--config python:kb.gunicorn_conf``).

The app is built once in the master and forked (``--preload``). Models hold thread pools
that do not survive a fork, so each worker loads its search models and opens its search
engine after the fork, before it accepts its first request: requests go to workers that
are ready (the warm-up had run in a background thread while the worker already accepted
requests; at a million chunks, where a worker opens its indexes in about 30 s, the web
benchmark then sent queries to a worker still loading: one step's p99 7 s). gunicorn's
``--timeout`` (120 s) bounds a worker's start as well.
"""

from __future__ import annotations

import logging
import shutil
import sys
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


def post_worker_init(worker) -> None:  # noqa: ANN001 - gunicorn's Worker
    try:
        worker.wsgi.extensions["tandem"].warm_up_models()
    except Exception:  # a broken model shows at the first search, with its own error
        log.exception("warming up the search models failed")

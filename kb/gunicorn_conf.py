"""gunicorn configuration and hooks for ``tandem serve`` (``--config python:kb.gunicorn_conf``).

The app is built once in the master and forked (``--preload``), from settings loaded from the
environment ``tandem serve`` gives it. Models hold thread pools that do not survive a fork, so
each worker loads its search models and opens its search engine after the fork, in
``post_worker_init``, before it accepts its first request: requests only reach workers that
are ready. gunicorn's ``--timeout`` (120 s) bounds a worker's start as well.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

from kb.config import prepare_openmp
from kb.logsafe import describe_exception, scrub, strip_query

log = logging.getLogger("tandem")

# gunicorn reads this module before it builds the app: the process's entry point.
prepare_openmp(os.environ)


class PrivateLogger(Logger):
    """gunicorn's logger, minus what a log line must never hold (kb.logsafe).

    gunicorn writes the request line (query string included) on a worker timeout ("Error
    handling request GET /search?q=..."), and the client's raw request line on a malformed
    request; tracebacks end with exception messages. Here every error-log message is scrubbed,
    exceptions are logged as type and frames only, and the access log has no query string
    and no referrer query.
    """

    def _scrubbed(self, msg: object, args: tuple[Any, ...]) -> str:
        text = str(msg)
        if args:
            try:
                text = text % args
            except (TypeError, ValueError):
                text = f"{text} {args!r}"
        return scrub(text)

    def critical(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.error_log.critical(self._scrubbed(msg, args))

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.error_log.error(self._scrubbed(msg, args))

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.error_log.warning(self._scrubbed(msg, args))

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.error_log.info(self._scrubbed(msg, args))

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.error_log.debug(self._scrubbed(msg, args))

    def exception(self, msg: object, *args: Any, **kwargs: Any) -> None:
        error = sys.exc_info()[1]
        detail = f": {describe_exception(error)}" if error is not None else ""
        self.error_log.error(self._scrubbed(msg, args) + detail)

    def log(self, lvl: Any, msg: object, *args: Any, **kwargs: Any) -> None:
        if isinstance(lvl, str):
            lvl = self.LOG_LEVELS.get(lvl.lower(), logging.INFO)
        self.error_log.log(lvl, self._scrubbed(msg, args))

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["q"] = ""
        for key in ("r", "f", "U"):
            if isinstance(atoms.get(key), str):
                atoms[key] = strip_query(atoms[key])
        return atoms


# gunicorn reads its settings from this module (``--config python:kb.gunicorn_conf``).
logger_class = PrivateLogger


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
    tandem = getattr(worker.wsgi, "extensions", {}).get("tandem")
    if tandem is None:  # not the Tandem app (a test serving a bare WSGI app)
        return
    try:
        tandem.warm_up_models()
    except Exception:  # a broken model shows at the first search, with its own error
        log.exception("warming up the search models failed")
    warm_up_matching = worker.wsgi.extensions.get("matching_warm_up")
    try:
        if warm_up_matching is not None:
            warm_up_matching()
    except Exception:  # the first HR matching page shows the same error, with its own page
        log.exception("warming up matching failed")

"""HR's long matching computations (a programme's proposal or gaps) as background jobs.

A page asks :class:`JobRunner` for the answer to (kind, programme). The answer is looked up by
a key that fingerprints the data it depends on (people, public content, matching vectors,
pairs): a finished job with the current key is served as it is; otherwise one job row is
created (the database's unique key lets only one of several workers create it) and a thread
of this worker computes it, writing its progress and, at the end, the answer as JSON or the
error. A page never blocks past a short wait; it shows the progress and reloads.

A job whose worker died (no progress for ``STALE_AFTER``) is taken over by the next request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kb.embedding import Embedder
from kb.errors import NotFound, TandemError
from kb.i18n import N_, TEXT_KEY, Text, decode_texts, encode_texts, reason_of
from kb.models import Enrolment, MatchingJob, Pair, PairChange, Programme, utcnow
from matching import service
from matching.results import to_data

log = logging.getLogger(__name__)
KINDS = ("proposal", "gaps")
STALE_AFTER = dt.timedelta(minutes=5)
PROGRESS_CHARS = 200  # the column's length
ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class JobState:
    """What a page shows of a job."""

    id: int
    kind: str
    programme: str
    status: str  # queued | running | done | failed
    progress: str
    result: Any  # the answer as plain data once done
    error: str
    created_at: dt.datetime

    @property
    def done(self) -> bool:
        return self.status == "done"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def pair_state(session: Session) -> tuple[Any, ...]:
    """A fingerprint of every pair (each write adds an audit line; a removal lowers a count)."""
    return tuple(
        session.execute(
            select(
                func.count(Pair.id),
                func.max(Pair.id),
                select(func.max(PairChange.id)).scalar_subquery(),
            )
        ).one()
    )


def programme_state(session: Session, programme: str) -> tuple[Any, ...]:
    """A fingerprint of the programme's enrolments and matching weights."""
    found = session.scalar(select(Programme).where(Programme.slug == programme))
    if found is None:
        return ()
    enrolled = session.execute(
        select(func.count(Enrolment.id), func.max(Enrolment.updated_at)).where(
            Enrolment.programme_id == found.id
        )
    ).one()
    return (*enrolled, found.matching_weights)


def progress_data(line: str) -> str:
    """A progress line as stored: plain text, or a Text with values as JSON (the page shows
    it in the reader's language)."""
    if isinstance(line, Text) and line.params:
        data = {TEXT_KEY: "", "template": line.template, "params": encode_texts(line.params)}
        stored = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if len(stored) <= PROGRESS_CHARS:
            return stored
    return str(line)[:PROGRESS_CHARS]


def progress_text(stored: str | None) -> str:
    """The inverse of :func:`progress_data` (and of :func:`error_data`); a job stored before
    errors kept their template has a plain English line, shown as it is."""
    if stored and stored.startswith("{"):
        try:
            found = decode_texts(json.loads(stored))
        except ValueError:
            return stored
        return found if isinstance(found, str) else stored
    return stored or ""


def error_data(error: Exception) -> str:
    """A failed job's error as stored: a domain error's message with its template and values
    as JSON (the page shows it in the reader's language); anything else, which has no message
    meant for people, as a translatable line naming its kind (the log has the details)."""
    if isinstance(error, TandemError):
        text = reason_of(error)
    else:
        text = Text(
            N_("an unexpected error (%(kind)s); the server's log has the details"),
            kind=type(error).__name__,
        )
    if not text.params:
        return str(text)
    data = {TEXT_KEY: str(text), "template": text.template, "params": encode_texts(text.params)}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def job_key(session: Session, kind: str, programme: str) -> str:
    """The fingerprint of the data a (kind, programme) answer depends on."""
    state = [
        kind,
        programme,
        *service.data_state(session),
        *pair_state(session),
        *programme_state(session, programme),
    ]
    return hashlib.sha256(json.dumps(state, default=str).encode()).hexdigest()


def compute(
    session: Session,
    embedders: Mapping[str, Embedder],
    kind: str,
    programme: str,
    cache: service.PoolCache | None,
    progress: Callable[[str], None],
) -> Any:
    """The answer to one job as plain data."""
    if kind == "proposal":
        return to_data(
            service.propose(session, embedders, programme, cache=cache, progress=progress)
        )
    if kind == "gaps":
        return to_data(service.gaps(session, embedders, programme, cache=cache, progress=progress))
    raise ValueError(f"unknown job kind {kind!r}")


class JobRunner:
    """Starts and reports jobs for one process (its threads share the process's pools)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        embedders: Mapping[str, Embedder],
        cache: service.PoolCache | None = None,
        *,
        inline: bool = False,
    ) -> None:
        self.sessions = sessions
        self.embedders = embedders
        self.cache = cache
        self.inline = inline  # run a job in the asking thread (tests, the command line)
        self._answers: dict[int, Any] = {}  # parsed answers of recent jobs (MBs of JSON)
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    def request(self, kind: str, programme: str, wait: float = 0.0) -> JobState:
        """The current answer for (kind, programme), starting its computation if needed and
        waiting up to ``wait`` seconds for it."""
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        with self.sessions() as session:
            if session.scalar(select(Programme.id).where(Programme.slug == programme)) is None:
                raise NotFound(N_("no programme %(slug)r"), slug=programme)
            key = job_key(session, kind, programme)
            job = session.execute(
                select(
                    MatchingJob.id,
                    MatchingJob.status,
                    MatchingJob.updated_at,
                ).where(
                    MatchingJob.kind == kind,
                    MatchingJob.programme == programme,
                    MatchingJob.key == key,
                )
            ).one_or_none()
            if job is None:
                job_id = self._create(session, kind, programme, key)
            elif job.status in ACTIVE and utcnow() - job.updated_at > STALE_AFTER:
                job_id = self._take_over(session, job.id, job.updated_at)
            else:
                job_id = job.id
        if wait > 0:
            thread = self._threads.get(job_id)
            if thread is not None:
                thread.join(wait)
        return self.state(job_id)

    def state(self, job_id: int) -> JobState:
        """A job as a page shows it; a done job's answer is parsed once per process."""
        with self.sessions() as session:
            row = session.execute(
                select(
                    MatchingJob.kind,
                    MatchingJob.programme,
                    MatchingJob.status,
                    MatchingJob.progress,
                    MatchingJob.error,
                    MatchingJob.created_at,
                ).where(MatchingJob.id == job_id)
            ).one_or_none()
            if row is None:
                raise NotFound(N_("no matching job %(id)s"), id=job_id)
            kind, programme, status, progress, error, created = row
            answer = None
            if status == "done":
                with self._lock:
                    answer = self._answers.get(job_id)
                if answer is None:
                    text = session.scalar(
                        select(MatchingJob.result).where(MatchingJob.id == job_id)
                    )
                    answer = decode_texts(json.loads(text or "null"))
                    with self._lock:
                        while len(self._answers) >= 8:
                            self._answers.pop(next(iter(self._answers)))
                        self._answers[job_id] = answer
        return JobState(job_id, kind, programme, status, progress_text(progress), answer,
                        progress_text(error), created)  # fmt: skip

    def _create(self, session: Session, kind: str, programme: str, key: str) -> int:
        job = MatchingJob(
            kind=kind,
            programme=programme,
            key=key,
            status="queued",
            progress=N_("waiting to start"),
        )
        session.add(job)
        try:
            session.flush()
        except IntegrityError:  # another worker created it first: report that one
            session.rollback()
            return session.scalars(
                select(MatchingJob.id).where(
                    MatchingJob.kind == kind,
                    MatchingJob.programme == programme,
                    MatchingJob.key == key,
                )
            ).one()
        # Answers for older data are not shown again: keep the table small.
        session.execute(
            delete(MatchingJob).where(
                MatchingJob.kind == kind,
                MatchingJob.programme == programme,
                MatchingJob.id != job.id,
                MatchingJob.status.not_in(ACTIVE),
            )
        )
        session.commit()
        self._start(job.id)
        return job.id

    def _take_over(self, session: Session, job_id: int, seen: dt.datetime) -> int:
        """Restart a job nobody works on any more, unless another worker just did."""
        # An UPDATE answers a CursorResult (with rowcount); Session.execute is typed Result.
        claimed = cast(
            "CursorResult[Any]",
            session.execute(
                update(MatchingJob)
                .where(
                    MatchingJob.id == job_id,
                    MatchingJob.updated_at == seen,
                )
                .values(status="queued", progress=N_("restarted"), updated_at=utcnow())
            ),
        )
        session.commit()
        if claimed.rowcount == 1:
            self._start(job_id)
        return job_id

    def _start(self, job_id: int) -> None:
        if self.inline:
            self.run(job_id)
            return
        thread = threading.Thread(
            target=self.run, args=(job_id,), name=f"matching-job-{job_id}", daemon=True
        )
        with self._lock:
            self._threads = {k: t for k, t in self._threads.items() if t.is_alive()}
            self._threads[job_id] = thread
        thread.start()

    def _set(self, job_id: int, **values: Any) -> None:
        with self.sessions() as session:
            session.execute(
                update(MatchingJob)
                .where(MatchingJob.id == job_id)
                .values(updated_at=utcnow(), **values)
            )
            session.commit()

    def run(self, job_id: int) -> None:
        """Compute one job and store its answer or its error (in this thread)."""
        with self.sessions() as session:
            row = session.execute(
                select(MatchingJob.kind, MatchingJob.programme).where(MatchingJob.id == job_id)
            ).one_or_none()
            if row is None:
                return
            kind, programme = row
        self._set(job_id, status="running", progress=N_("starting"))
        try:
            with self.sessions() as session:
                data = compute(
                    session,
                    self.embedders,
                    kind,
                    programme,
                    self.cache,
                    lambda line: self._set(job_id, progress=progress_data(line)),
                )
        # A job thread has no caller to raise to: whatever stops it is recorded on the job,
        # or its page would wait forever.
        except Exception as error:  # noqa: BLE001
            log.exception("matching job %s (%s %s) failed", job_id, kind, programme)
            self._set(
                job_id,
                status="failed",
                progress=N_("failed"),
                error=error_data(error),
            )
            return
        # Messages with values (kb.i18n.Text) keep their template, so pages can translate them.
        self._set(
            job_id,
            status="done",
            progress=N_("done"),
            result=json.dumps(encode_texts(data), ensure_ascii=False),
        )

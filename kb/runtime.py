"""The running system in one object: settings, database, embedders and search, built lazily.

Core code (no Flask): the web app, the CLI and scripts all open one ``Tandem`` and pass its
parts to services. Models and indexes are loaded at most once per process, on first use.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kb.config import Settings
from kb.db import make_engine, make_session_factory, upgrade_database
from kb.embedding import Embedder, create_embedder

if TYPE_CHECKING:
    from kb.search.hybrid import SearchEngine
    from kb.services.match_vectors import Refresher


class LazyEmbedders(Mapping[str, Embedder]):
    """Embedders by configuration name; each is created on first access, once, with the
    runtime options of ``settings`` (None: their defaults)."""

    def __init__(
        self,
        specs: tuple[str, ...],
        settings: Settings | None = None,
        shared: LazyEmbedders | None = None,
    ) -> None:
        self._specs = tuple(dict.fromkeys(specs))
        self._settings = settings
        self._shared = shared  # reuse its instances: a model is loaded once per process
        self._made: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    def __getitem__(self, spec: str) -> Embedder:
        if spec not in self._specs:
            raise KeyError(spec)
        if self._shared is not None and spec in self._shared:
            return self._shared[spec]
        with self._lock:
            if spec not in self._made:
                self._made[spec] = create_embedder(spec, self._settings)
            return self._made[spec]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    @property
    def loaded(self) -> tuple[str, ...]:
        """Specs already created (for health checks; creating is cheap, loading is lazy too)."""
        return tuple(self._made)


def model_specs(settings: Settings) -> tuple[str, ...]:
    """Every model this instance computes or queries: import models first, then search ones."""
    return tuple(dict.fromkeys((*settings.import_models, *settings.search_models)))


def freeze_long_lived() -> None:
    """Leave every object alive now (models, the search engine's indexes: millions of objects
    at a million chunks) out of Python's cyclic garbage collection for good (``gc.freeze``,
    after a last collection so no garbage is kept). A full collection then only walks what
    was made since, instead of pausing a request for seconds over the indexes. For a serving
    process, after its warm-up."""
    gc.collect()
    gc.freeze()


class Tandem:
    """Settings, engine, session factory, embedders and the search engine of one instance."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions: sessionmaker[Session] = make_session_factory(engine)
        self.embedders = LazyEmbedders(model_specs(settings), settings)
        self.matching_embedders = LazyEmbedders(
            settings.matching_specs, settings, shared=self.embedders
        )
        self._search: SearchEngine | None = None
        self._refresher: Refresher | None = None
        self._lock = threading.Lock()

    @property
    def search(self) -> SearchEngine:
        """The hybrid search engine, created on first use (it opens the indexes)."""
        with self._lock:
            if self._search is None:
                from kb.search.hybrid import SearchEngine

                self._search = SearchEngine(self.settings, self.sessions, self.embedders)
            return self._search

    @property
    def matching_refresh(self) -> Refresher:
        """This process's thread that stores the matching vectors of documents just
        published (:class:`kb.services.match_vectors.Refresher`), made on first use."""
        with self._lock:
            if self._refresher is None:
                from kb.services.match_vectors import Refresher

                self._refresher = Refresher(self.sessions, self.matching_embedders)
            return self._refresher

    def warm_up(self) -> None:
        """Load per-process language tables now (the Polish stemmer takes seconds), so the first
        search does not wait. Opens no database or index handle: safe before a fork."""
        from kb.search.analysis import warm_up

        warm_up()

    def warm_up_models(self) -> None:
        """Embed one query with every search model, so a worker's first search does not
        wait for model files, tokenizers and sessions, then open the search engine (its
        indexes: at a million chunks the longest part of a worker's start), before the first
        user rather than during. For a process that already forked: run by gunicorn's
        ``post_worker_init`` (:mod:`kb.gunicorn_conf`), never in the master."""
        for spec in self.settings.search_models:
            self.embedders[spec].embed_queries(["warm-up"])
        # Publishing embeds passages with the import models, and the matching vectors of a
        # published document are computed with every matching model (MiniLM too, otherwise
        # loaded by the first publish: 5-30 s on a busy machine).
        for spec in self.settings.import_models:
            self.embedders[spec].embed_passages(["warm-up"])
        for spec in self.settings.matching_specs:
            self.matching_embedders[spec].embed_queries(["warm-up"])
        self.search.warm_up()
        freeze_long_lived()

    def close(self) -> None:
        """Finish queued matching vectors, release the search engine's handles and the
        database pool."""
        with self._lock:
            if self._refresher is not None:
                self._refresher.close()
            self._refresher = None
            if self._search is not None:
                self._search.close()
            self._search = None
        self.engine.dispose()

    def __enter__(self) -> Tandem:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_tandem(settings: Settings) -> Tandem:
    """Open an instance: make its folders, connect, and migrate the schema to the latest."""
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    upgrade_database(settings.database_url)
    return Tandem(settings, engine)

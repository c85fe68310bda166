"""The candidate pool: participants with their goals and evidence as vectors. Pure.

The service builds :class:`~matching.profiles.Participant` objects from the database and
their stored vectors; the benchmark builds pools from synthetic ones. Nothing here touches a
database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from matching.constraints import Eligibility, PeopleCodes, descendants, eligibility
from matching.lexical import Lexicon
from matching.profiles import (
    Evidence,
    Participant,
    TextBank,
    TextEmbedder,
    build_bank,
    source_codes,
)
from matching.scoring import ScoringConfig


class MissingModel(KeyError):
    """The scoring configuration needs an embedder the caller did not pass."""


class VectorMemo:
    """Vectors of texts already embedded, by (model name, side, text): profiles embed once.

    A bounded LRU; the web runtime may keep one per process and pass it to the service.
    """

    def __init__(self, max_items: int = 200_000) -> None:
        self.max_items = max_items
        self._store: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # web threads of one process share a memo

    def __len__(self) -> int:
        return len(self._store)

    def vectors(self, embedder: TextEmbedder, side: str, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._vectors(embedder, side, texts)

    def _vectors(self, embedder: TextEmbedder, side: str, texts: Sequence[str]) -> np.ndarray:
        keys = [(embedder.name, side, t) for t in texts]
        missing = list(dict.fromkeys(k[2] for k in keys if k not in self._store))
        if missing:
            encode = embedder.embed_queries if side == "query" else embedder.embed_passages
            fresh = np.asarray(encode(missing), dtype=np.float32)
            for text, vector in zip(missing, fresh, strict=True):
                self._store[(embedder.name, side, text)] = vector
        for key in keys:
            self._store.move_to_end(key)
        found = [self._store[k] for k in keys]
        while len(self._store) > self.max_items:
            self._store.popitem(last=False)
        if not found:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack(found).astype(np.float32)


@dataclass
class Pool:
    """Participants with their goals and evidence embedded under one scoring configuration."""

    participants: list[Participant]
    goals: TextBank
    evidence: TextBank
    items: list[Evidence]
    config: ScoringConfig
    profiles: sparse.csr_matrix | None = None  # [participants, terms]: whole-profile TF-IDF
    missing_vectors: int = 0  # texts that had no stored vector (scored as unrelated)
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.index = {p.id: i for i, p in enumerate(self.participants)}

    def position(self, person_id: int) -> int:
        return self.index[person_id]

    def goal_texts(self, i: int) -> list[str]:
        return list(self.participants[i].goals)

    def cached(self, key: Any, make: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def codes(self) -> PeopleCodes:
        return self.cached("codes", lambda: PeopleCodes.of(self.participants))

    def eligibility(
        self,
        mentees: np.ndarray,
        mentors: np.ndarray,
        chains: Mapping[int, frozenset[int]],
        history: Iterable[tuple[int, int]],
    ) -> Eligibility:
        """Hard constraints between pool positions ``mentees`` and ``mentors``."""
        bits = self.codes.languages
        below = self.cached(("descendants", id(chains)), lambda: descendants(chains))
        return eligibility(
            self.people(mentees),
            self.people(mentors),
            chains,
            history,
            languages=(bits[mentees], bits[mentors]),
            below=below,
        )

    def people(self, positions: np.ndarray) -> list[Participant]:
        """Participants at ``positions`` (the list is cached for large groups: every
        recommendation asks for the same candidates)."""

        def make() -> list[Participant]:
            return [self.participants[i] for i in positions]

        if len(positions) < 64:
            return make()
        return self.cached(("people", positions_key(positions)), make)

    def owner_index(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the goal/evidence bank sorted by owner, and each owner's start offset."""

        def make() -> tuple[np.ndarray, np.ndarray]:
            owners = (self.goals if kind == "goals" else self.evidence).owners
            order = np.argsort(owners, kind="stable")
            starts = np.searchsorted(owners[order], np.arange(len(self.participants) + 1))
            return order, starts

        return self.cached(("owners", kind), make)


# (signal name, side, texts) -> one unit-length row per text
VectorSource = Callable[[str, str, list[str]], np.ndarray]


def build_pool(
    participants: Sequence[Participant], config: ScoringConfig, vectors: VectorSource
) -> Pool:
    """Stack every goal and evidence item of ``participants`` with their vectors for each
    signal of ``config`` (``vectors`` answers them: stored rows in the service, a model in
    the evaluation and tests) and the lexical features."""
    participants = list(participants)
    goal_texts, goal_owners, items, item_owners = [], [], [], []
    for i, p in enumerate(participants):
        for goal in p.goals:
            goal_texts.append(goal)
            goal_owners.append(i)
        for item in p.evidence:
            items.append(item)
            item_owners.append(i)
    evidence_texts = [e.embedding_text for e in items]
    goal_dense: dict[str, np.ndarray] = {}
    evidence_dense: dict[str, np.ndarray] = {}
    for signal in config.signals:
        if signal.name not in config.dense_names:
            continue
        goal_dense[signal.name] = _rows(vectors, signal.name, signal.goal_side, goal_texts)
        evidence_dense[signal.name] = _rows(
            vectors, signal.name, signal.evidence_side, evidence_texts
        )
    lexicon, profiles = None, None
    if config.uses_lexical:
        documents = profile_documents(participants)
        lexicon = Lexicon.fit([d for d in documents if d])
        profiles = lexicon.transform(documents)
    return Pool(
        participants=participants,
        goals=build_bank(goal_texts, goal_owners, dense=goal_dense, lexicon=lexicon),
        evidence=build_bank(
            evidence_texts,
            item_owners,
            dense=evidence_dense,
            lexicon=lexicon,
            languages=[e.language for e in items],
            sources=source_codes(items, item_owners),
        ),
        items=items,
        config=config,
        profiles=profiles,
    )


def _rows(vectors: VectorSource, name: str, side: str, texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    return np.asarray(vectors(name, side, texts), dtype=np.float32)


def embed_pool(
    participants: Sequence[Participant],
    embedders: Mapping[str, TextEmbedder],
    config: ScoringConfig,
    memo: VectorMemo | None = None,
) -> Pool:
    """A pool whose vectors come from running ``embedders`` (through ``memo``): for the
    evaluation and tests; the service builds its pools from stored vectors."""
    memo = memo or VectorMemo()
    for name in config.dense_names:
        if name not in embedders:
            raise MissingModel(name)
    return build_pool(
        participants, config, lambda name, side, texts: memo.vectors(embedders[name], side, texts)
    )


def profile_documents(participants: Sequence[Participant]) -> list[str]:
    """Each person's evidence as one text: the document of the profile-level lexical signal
    (and of the lexicon's document frequencies: how many people use a word)."""
    return ["\n".join(e.embedding_text for e in p.evidence) for p in participants]


def positions_key(idx: np.ndarray) -> bytes:
    """A hashable key of a set of pool positions (for the pool's caches)."""
    return np.asarray(idx, dtype=np.int64).tobytes()

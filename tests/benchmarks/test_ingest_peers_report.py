from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bench.evaluation.beir import EvalPassage
from bench.ingest import demo_guide_lengths, project_library, write_guides
from bench.peers import doc_ranking, tandem_search, timed_in_turns
from bench.report import plot_all


def test_projection_is_docs_times_chunks_over_rate():
    lengths = demo_guide_lengths()
    assert lengths and min(lengths) > 0
    projection = project_library(passages_per_s=10.0, docs=1000)
    expected = 1000 * projection["chunks_per_doc"] / 10.0 / 60
    assert projection["projected_minutes"] == pytest.approx(expected, abs=0.1)
    assert projection["chunks_per_doc"] >= 1


def test_written_guides_have_front_matter_and_known_authors(material, tmp_path):
    from ingest.readers import read_document  # the product's own reader must accept them

    paths = write_guides(material, tmp_path, 4)
    assert len(paths) == 4
    for path in paths:
        guide = read_document(path)
        assert guide.title and guide.body_md
        assert guide.language in {"en", "pl", "ru"}


def test_doc_ranking_keeps_the_best_passage_order_of_documents():
    passages = [EvalPassage(d, 0, "", "") for d in ["a", "b", "a", "c", "b"]]
    assert doc_ranking([2, 4, 0, 3, 1], passages) == ["a", "b", "c"]
    assert doc_ranking([3, 0, 1], passages, k=2) == ["c", "a"]


def test_systems_are_timed_in_turns_on_every_query() -> None:
    calls: list[tuple[str, str]] = []

    def system(name: str):  # noqa: ANN202
        return lambda text: calls.append((name, text))

    samples = timed_in_turns({"a": system("a"), "b": system("b")}, ["q1", "q2", "q3"],
                             warm_up=1, block=2)  # fmt: skip
    assert {k: len(v) for k, v in samples.items()} == {"a": 3, "b": 3}
    timed = calls[2:]  # after one warm-up query asked of both
    assert timed == [("a", "q1"), ("a", "q2"), ("b", "q1"), ("b", "q2"),  # block 1: a first
                     ("b", "q3"), ("a", "q3")]  # fmt: skip


def test_tandem_search_embeds_no_query_while_timed(tmp_path) -> None:
    """With the query vectors made beforehand for the text the search embeds (quotes and
    operators taken out), the timed searches embed nothing."""
    from kb.embedding import CachedEmbedder, EmbeddingCache, FakeEmbedder
    from kb.search.query import parse_query

    class Counting(FakeEmbedder):
        calls: list[int] = []

        def embed_queries(self, texts):
            self.calls.append(len(texts))
            return super().embed_queries(texts)

    passages = [
        EvalPassage(f"d{i}", 0, f"Guide {i}", f"How to write prompts, part {i}.") for i in range(12)
    ]
    queries = ["prompts", '"write prompts" part', "guide -part"]
    embedder = CachedEmbedder(Counting(), EmbeddingCache(tmp_path / "cache.sqlite"))
    vectors = embedder.embed_passages([p.embedding_text for p in passages])
    embedder.embed_queries([parse_query(q).text for q in queries])
    with tandem_search(passages, vectors, "fake", embedder) as engine:
        samples = timed_in_turns({"tandem": lambda text: engine.search(text, None)}, queries)
        assert engine.search("prompts", None).hits
    assert len(samples["tandem"]) == len(queries)
    assert Counting.calls == [len(queries)]  # one batch beforehand, none while timed


def test_plots_are_written_for_every_part_present(tmp_path):
    lat = {"n": 3, "p50": 1.0, "p95": 2.0, "p99": 3.0, "mean": 1.5, "max": 3.0}
    size = lambda n: {  # noqa: E731
        "size": n,
        "vectors": {
            "flat": {"latency_ms": lat, "recall@10": 1.0},
            "ivf": {
                "nlist": 4,
                "build_s": 0.1,
                "nprobe": {"8": {"latency_ms": lat, "recall@10": 0.97}},
            },
        },
        "bm25": {"build_s": 1.0, "latency_ms": lat},
        "full": {"latency_ms": lat},
    }
    result = {
        "search": {
            "query_embedding": {"latency_ms": lat},
            "sizes": [size(10), size(100)],
            "summary": [{"size": 10, "ivf_p95_ms": 2.0}, {"size": 100, "ivf_p95_ms": 2.0}],
        },
        "web": {
            "config": {"p99_goal_ms": 200},
            "workers": {"1": {"steps": [{"rps": 5, "p99": 80, "connections": 1}]}},
        },
        "peers": {"summary": [{"set": "x", "bm25s_ndcg@10": 0.9, "bm25s_p50_ms": 1.0}]},
    }
    made = plot_all(result, tmp_path)
    assert {p.name for p in made} == {
        "bench-search-latency.png",
        "bench-search-recall.png",
        "bench-index-build.png",
        "bench-web.png",
        "bench-peers.png",
    }
    assert all(p.stat().st_size > 1000 for p in made)
    json.dumps(result)


def test_bench_command_parses_sizes_and_lists_its_parts():
    from bench.cli import int_list
    from kb.cli import main

    assert int_list("10k,100k,1M") == (10_000, 100_000, 1_000_000)
    assert int_list("2500") == (2500,)
    result = CliRunner().invoke(main, ["bench", "--help"])
    assert result.exit_code == 0
    assert "search|ingest|web|peers|matching" in result.output
    assert "Usage: tandem bench" in result.output


def test_merge_keeps_every_part_and_each_runs_metadata(tmp_path):
    from bench import merge_results

    a = tmp_path / "bench-search.json"
    b = tmp_path / "bench-web.json"
    a.write_text(
        json.dumps(
            {
                "command": "tandem bench search",
                "commit": "abc",
                "load_average_start": [3.0],
                "search": {"sizes": []},
            }
        )
    )
    b.write_text(
        json.dumps(
            {
                "command": "tandem bench web",
                "commit": "abc",
                "load_average_start": [5.0],
                "web": {"workers": {}},
            }
        )
    )
    merged = merge_results([a, b])
    assert merged["search"] == {"sizes": []} and merged["web"] == {"workers": {}}
    assert [r["parts"] for r in merged["runs"]] == [["search"], ["web"]]
    assert [r["load_average_start"] for r in merged["runs"]] == [[3.0], [5.0]]
    assert merged["command"] == "tandem bench search + tandem bench web"


def test_merge_combines_search_runs_of_different_sizes(tmp_path):
    from bench import merge_results

    small = tmp_path / "a.json"
    large = tmp_path / "b.json"
    small.write_text(
        json.dumps(
            {
                "command": "a",
                "search": {
                    "config": {"sizes": [10]},
                    "sizes": [{"size": 10}],
                    "summary": [{"size": 10}],
                },
            }
        )
    )
    large.write_text(
        json.dumps(
            {
                "command": "b",
                "search": {
                    "config": {"sizes": [1000]},
                    "sizes": [{"size": 1000}],
                    "summary": [{"size": 1000}],
                },
            }
        )
    )
    merged = merge_results([large, small])
    assert [s["size"] for s in merged["search"]["sizes"]] == [10, 1000]
    assert [s["size"] for s in merged["search"]["summary"]] == [10, 1000]
    assert len(merged["search"]["configs"]) == 2


def test_merge_keeps_web_runs_of_different_libraries_and_plots_them_by_size(tmp_path):
    from bench import merge_results

    def web(chunks: int, rps: float) -> dict:
        best = {"rps": rps, "p99": 150.0, "connections": 2}
        return {
            "chunks": chunks,
            "config": {"p99_goal_ms": 200},
            "workers": {"1": {"steps": [best], "best": best}},
        }

    big, small = tmp_path / "big.json", tmp_path / "small.json"
    big.write_text(json.dumps({"command": "web 1M", "web": web(1_000_000, 9.0)}))
    small.write_text(json.dumps({"command": "web demo", "web": web(300, 40.0)}))
    merged = merge_results([big, small])
    assert [w["chunks"] for w in merged["web_by_size"]] == [300, 1_000_000]
    assert merged["web"]["chunks"] == 300  # the demo library's run stays the main one
    made = {p.name for p in plot_all(merged, tmp_path)}
    assert {"bench-web.png", "bench-web-size.png"} <= made


def test_bench_merge_command_writes_the_full_result(tmp_path):
    from kb.cli import main

    part = tmp_path / "bench-peers.json"
    part.write_text(
        json.dumps(
            {
                "command": "tandem bench peers",
                "peers": {"summary": [{"set": "x", "bm25s_ndcg@10": 0.9, "bm25s_p50_ms": 1.0}]},
            }
        )
    )
    result = CliRunner().invoke(main, ["bench", "--merge", str(part), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    merged = json.loads((tmp_path / "bench-full.json").read_text())
    assert merged["peers"]["summary"][0]["set"] == "x"
    assert (tmp_path / "bench-peers.png").exists()


def test_e5_flops_counts_projections_ffn_and_attention() -> None:
    from bench.ingest import e5_flops

    h, f = 384, 1536
    one_token = 12 * (2 * (4 * h * h + 2 * h * f) + 4 * h)
    assert e5_flops(1) == one_token
    assert e5_flops(200) > 200 * one_token  # attention grows with the square of the length
    assert e5_flops(0) == 0


def test_pipeline_only_times_the_import_and_projects_from_it(material, tmp_path):
    """A whole-library run (``--pipeline-only``) imports and projects from the pipeline's own
    rate; no bare model, levers or runtimes, and no ingest plot without them."""
    from bench.ingest import IngestBenchConfig, run_ingest_bench
    from bench.report import plot_ingest
    from kb.embedding import FakeEmbedder

    config = IngestBenchConfig(docs=3, model="fake", pipeline_only=True, work_dir=tmp_path)
    result = run_ingest_bench(material, lambda batch: FakeEmbedder(), config, log=lambda m: None)
    assert result["pipeline"]["imported"] == 3 and result["pipeline"]["chunks"] >= 3
    assert "bare" not in result and "levers" not in result
    assert result["projection"]["passages_per_s"] == result["pipeline"]["chunks_per_s"]
    assert plot_ingest(result, tmp_path) == []
    assert list(tmp_path.iterdir()) == []  # the work folder is removed

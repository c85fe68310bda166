"""Every ``tandem bench`` part runs end to end at a tiny size, from an empty embedding cache,
in a temporary folder (``tandem bench --smoke``). Scale and timing stay out: it checks only
that each part runs and writes its result. This is what would have caught issue 19 (a bench
that could not find the vectors the evaluation had stored)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import PARTS

CLI = "from kb.cli import main; main()"  # the installed `tandem` command's entry point


@pytest.mark.smoke
def test_every_bench_part_runs_at_a_tiny_size_from_an_empty_cache(
        tiny_eval_dir: Path, tmp_path: Path) -> None:  # fmt: skip
    assert shutil.which("wrk"), "the web part needs wrk: apt-get install -y wrk (scripts/test.sh)"
    cache = tmp_path / "cache"
    out = tmp_path / "results"
    env = {**os.environ, "TANDEM_CACHE_DIR": str(cache), "TANDEM_INSTANCE": str(tmp_path / "i")}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", CLI, "bench", "--smoke", "--model", "fake",
         "--eval-dir", str(tiny_eval_dir), "--out", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((out / "bench-full.json").read_text(encoding="utf-8"))
    assert set(PARTS) <= set(result)
    assert result["vector_keys"] == {"q": "fake", "p": "fake"}
    search = result["search"]
    assert [s["size"] for s in search["sizes"]] == [200, 400]
    assert search["sizes"][0]["full"]["latency_ms"]["n"] == 10  # the product's whole search
    assert "bm25" in search["sizes"][1] and "hnsw" in search["sizes"][1]["vectors"]
    assert result["ingest"]["pipeline"]["imported"] == 2
    steps = result["web"]["workers"]["1"]["steps"]
    assert steps and steps[0]["requests"] > 0 and steps[0]["errors"] == 0
    assert set(result["peers"]["sets"]) == {"xquad-ru", "xquad-en", "poquad-pl"}
    assert result["matching"]["proposals"][0]["optimal_certified"]
    for library in ("demo", "company"):  # HR's matching pages, served, each answered warm
        assert result["matching-web"][library]["warm"]["proposal"]["requests"] == 3
    assert (cache / "embeddings.sqlite").is_file()  # the empty cache was filled on the way
    assert {p.name for p in out.glob("*.png")} >= {"bench-search-latency.png", "bench-peers.png"}

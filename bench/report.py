"""Plots (PNG, matplotlib Agg) and a Markdown table from a benchmark result file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _pyplot():  # noqa: ANN202 - matplotlib has loose typing
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_search(search: Mapping[str, Any], out: Path) -> list[Path]:
    """p95 latency of each part and the full path against library size; recall@10 likewise."""
    plt = _pyplot()
    sizes = search.get("sizes", [])
    if not sizes:
        return []
    made = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = [s["size"] for s in sizes]
    embed = search.get("query_embedding", {}).get("latency_ms", {}).get("p95")
    if embed is not None:
        ax.plot(xs, [embed] * len(xs), "--", label="query embedding (model)")
    ax.plot(
        xs,
        [s["vectors"]["flat"]["latency_ms"]["p95"] for s in sizes],
        "o-",
        label="FAISS flat (exact)",
    )
    ivf = [(r["size"], r["ivf_p95_ms"]) for r in search.get("summary", []) if "ivf_p95_ms" in r]
    if ivf:
        ax.plot(*zip(*ivf, strict=True), "o-", label="FAISS IVF (recall>=0.95 setting)")
    bm25 = [(s["size"], s["bm25"]["latency_ms"]["p95"]) for s in sizes if "bm25" in s]
    if bm25:
        ax.plot(*zip(*bm25, strict=True), "s-", label="BM25 (Whoosh)")
    sparse = [
        (s["size"], s["sparse_bm25"]["latency_ms"]["p95"]) for s in sizes if "sparse_bm25" in s
    ]
    if sparse:
        ax.plot(*zip(*sparse, strict=True), "s--", label="BM25 (sparse matrix)")
    full = [(s["size"], s["full"]["latency_ms"]["p95"]) for s in sizes if "full" in s]
    if full:
        ax.plot(*zip(*full, strict=True), "D-", lw=2, label="full hybrid path")
    ax.axhline(50, color="grey", lw=0.8, ls=":")
    ax.axhline(150, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the library")
    ax.set_ylabel("p95 latency per query (ms)")
    ax.set_title("Search latency against library size (2 cores)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    made.append(_save(plt, fig, out / "bench-search-latency.png"))

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for nprobe in sizes[0]["vectors"]["ivf"]["nprobe"]:
        ax.plot(
            xs,
            [s["vectors"]["ivf"]["nprobe"][nprobe]["recall@10"] for s in sizes],
            "o-",
            label=f"IVF nprobe={nprobe}",
        )
    hnsw = [s for s in sizes if "hnsw" in s["vectors"]]
    if hnsw:
        for ef in hnsw[0]["vectors"]["hnsw"]["efSearch"]:
            ax.plot(
                [s["size"] for s in hnsw],
                [s["vectors"]["hnsw"]["efSearch"][ef]["recall@10"] for s in hnsw],
                "x--",
                label=f"HNSW efSearch={ef}",
            )
    ax.axhline(0.95, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the library")
    ax.set_ylabel("recall@10 against exact search")
    ax.set_title("Approximate vector search: recall against library size")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    made.append(_save(plt, fig, out / "bench-search-recall.png"))

    builds = [(s["size"], s["bm25"]["build_s"]) for s in sizes if "bm25" in s]
    ivf_builds = [(s["size"], s["vectors"]["ivf"]["build_s"]) for s in sizes]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if builds:
        ax.plot(*zip(*builds, strict=True), "s-", label="Whoosh index build")
    sparse_builds = [(s["size"], s["sparse_bm25"]["build_s"]) for s in sizes if "sparse_bm25" in s]
    if sparse_builds:
        ax.plot(*zip(*sparse_builds, strict=True), "s--", label="sparse BM25 build")
    ax.plot(*zip(*ivf_builds, strict=True), "o-", label="FAISS IVF train + add")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the library")
    ax.set_ylabel("seconds")
    ax.set_title("Index build time against library size")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    made.append(_save(plt, fig, out / "bench-index-build.png"))
    return made


def plot_ingest(ingest: Mapping[str, Any], out: Path) -> list[Path]:
    """Pipeline against bare model, and the chunk-length and batch-size levers."""
    plt = _pyplot()
    if "pipeline" not in ingest or "bare" not in ingest:
        return []
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    axes[0].bar(
        ["pipeline", "bare model"],
        [ingest["pipeline"]["chunks_per_s"], ingest["bare"]["passages_per_s"]],
    )
    axes[0].set_ylabel("chunks per second")
    axes[0].set_title(f"import ({ingest['pipeline_vs_bare']:.0%} of bare)")
    chunk = ingest["levers"]["chunk_chars"]
    axes[1].bar(list(chunk), [v["chars_per_s"] for v in chunk.values()])
    axes[1].set_xlabel("max chunk characters")
    axes[1].set_ylabel("characters embedded per second")
    axes[1].set_title("chunk length")
    batch = ingest["levers"]["batch_size"]
    axes[2].bar(list(batch), [v["passages_per_s"] for v in batch.values()])
    axes[2].set_xlabel("batch size")
    axes[2].set_ylabel("passages per second")
    axes[2].set_title("batch size")
    fig.suptitle(f"Import throughput, {ingest.get('model', '')}", fontsize=10)
    return [_save(plt, fig, out / "bench-ingest.png")]


def plot_web(web: Mapping[str, Any], out: Path) -> list[Path]:
    """Requests/s against p99 latency as concurrency rises, one line per worker count."""
    plt = _pyplot()
    if not web.get("workers"):
        return []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for workers, entry in web["workers"].items():
        steps = entry["steps"]
        ax.plot(
            [s["rps"] for s in steps], [s["p99"] for s in steps], "o-", label=f"{workers} worker(s)"
        )
        for s in steps:
            ax.annotate(f"c={s['connections']}", (s["rps"], s["p99"]), fontsize=7)
    ax.axhline(web["config"]["p99_goal_ms"], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("requests per second")
    ax.set_ylabel("p99 latency (ms)")
    ax.set_yscale("log")
    ax.set_title("/api/search under gunicorn (wrk, loopback)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return [_save(plt, fig, out / "bench-web.png")]


def plot_web_by_size(runs: Sequence[Mapping[str, Any]], out: Path) -> list[Path]:
    """Best requests/s within the p99 goal against the served library's size."""
    plt = _pyplot()
    runs = [r for r in runs if r.get("chunks")]
    if len(runs) < 2:
        return []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for workers in sorted({w for r in runs for w in r["workers"]}, key=int):
        points = [
            (r["chunks"], r["workers"][workers]["best"])
            for r in runs
            if (r["workers"].get(workers) or {}).get("best")
        ]
        ax.plot(
            [c for c, _ in points],
            [b["rps"] for _, b in points],
            "o-",
            label=f"{workers} worker(s)",
        )
        for chunks, best in points:
            ax.annotate(f"p99 {best['p99']:.0f} ms", (chunks, best["rps"]), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the served library")
    ax.set_ylabel("requests/s (p99 within goal, 0 errors)")
    ax.set_ylim(bottom=0)
    ax.set_title("/api/search under gunicorn as the library grows")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return [_save(plt, fig, out / "bench-web-size.png")]


def plot_peers(peers: Mapping[str, Any], out: Path) -> list[Path]:
    """nDCG@10 of every system on every set, and their p50 query latency."""
    plt = _pyplot()
    rows = peers.get("summary", [])
    if not rows:
        return []
    systems = sorted({k[: -len("_ndcg@10")] for r in rows for k in r if k.endswith("_ndcg@10")})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / max(len(systems), 1)
    for i, system in enumerate(systems):
        xs = [j + i * width for j in range(len(rows))]
        axes[0].bar(xs, [r.get(f"{system}_ndcg@10", 0) for r in rows], width, label=system)
        axes[1].bar(xs, [r.get(f"{system}_p50_ms", 0) for r in rows], width, label=system)
    for ax in axes:
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(rows))])
        ax.set_xticklabels([r["set"] for r in rows])
    axes[0].set_ylim(0.5, 1.0)
    axes[0].set_ylabel("nDCG@10 (dev)")
    axes[1].set_ylabel("p50 ms per query")
    axes[0].legend(fontsize=7)
    fig.suptitle("Peers on the same data and vectors", fontsize=10)
    return [_save(plt, fig, out / "bench-peers.png")]


def plot_matching(matching: Mapping[str, Any], out: Path) -> list[Path]:
    """Full proposal time and peak memory against programme size."""
    rows = matching.get("proposals", [])
    if not rows:
        return []
    plt = _pyplot()
    sizes = [r["mentees"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(sizes, [r["seconds"] for r in rows], "o-", color="tab:blue", label="time (s)")
    ax.axhline(10, color="tab:blue", ls=":", lw=1)
    ax.set_xlabel("mentees (mentors = mentees / 5, capacity 1-5)")
    ax.set_ylabel("proposal time (s)", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(
        sizes, [r["peak_rss_mb"] for r in rows], "s--", color="tab:red", label="peak RSS (MiB)"
    )
    ax2.axhline(2048, color="tab:red", ls=":", lw=1)
    ax2.set_ylabel("peak memory (MiB)", color="tab:red")
    ax.set_title("Matching: full proposal, time and memory")
    return [_save(plt, fig, out / "bench-matching.png")]


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_all(result: Mapping[str, Any], out: Path) -> list[Path]:
    """Every plot the result has data for."""
    out.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    if "search" in result:
        made += plot_search(result["search"], out)
    if "ingest" in result:
        made += plot_ingest(result["ingest"], out)
    if "web" in result:
        made += plot_web(result["web"], out)
    if "web_by_size" in result:
        made += plot_web_by_size(result["web_by_size"], out)
    if "peers" in result:
        made += plot_peers(result["peers"], out)
    if "matching" in result:
        made += plot_matching(result["matching"], out)
    return made


def search_table(search: Mapping[str, Any]) -> str:
    """The search part as a Markdown table (p50/p95/p99 ms; recall@10 of the ANN settings)."""

    def cell(stats: Mapping[str, Any] | None) -> str:
        if not stats or "p95" not in stats:
            return "-"
        return f"{stats['p50']:.1f} / {stats['p95']:.1f} / {stats['p99']:.1f}"

    embed = search.get("query_embedding", {}).get("latency_ms")
    lines = [
        "| chunks | full hybrid path | query embedding | FAISS flat | FAISS HNSW, product efSearch"
        " (recall@10) | FAISS IVF (nprobe, recall@10) | Whoosh BM25 | sparse BM25 |",
        "|---:|---|---|---|---|---|---|---|",
    ]
    rows = {r["size"]: r for r in search.get("summary", [])}
    for entry in search.get("sizes", []):
        vectors = entry["vectors"]
        row = rows.get(entry["size"], {})
        hnsw_entry = vectors.get("hnsw", {})
        product_ef = hnsw_entry.get("product_efSearch", 128)
        hnsw = hnsw_entry.get("efSearch", {}).get(str(product_ef))
        hnsw_cell = f"{cell(hnsw['latency_ms'])} ({hnsw['recall@10']:.3f})" if hnsw else "-"
        nprobe = row.get("ivf_nprobe")
        ivf = vectors["ivf"]["nprobe"].get(str(nprobe))
        ivf_cell = f"{cell(ivf['latency_ms'])} ({nprobe}, {ivf['recall@10']:.3f})" if ivf else "-"
        cells = [
            f"{entry['size']:,}",
            cell(entry.get("full", {}).get("latency_ms")),
            cell(embed),
            cell(vectors["flat"]["latency_ms"]),
            hnsw_cell,
            ivf_cell,
            cell(entry.get("bm25", {}).get("latency_ms")),
            cell(entry.get("sparse_bm25", {}).get("latency_ms")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Cells: p50 / p95 / p99 in ms, one query per call.")
    return "\n".join(lines)

"""Matching speed and memory on synthetic, already-embedded programmes (a benchmark, not a test).

    .venv/bin/python scripts/bench_matching.py                 # everything, writes results/
    .venv/bin/python scripts/bench_matching.py --sizes 1000 2000 --queries 50

1. Recommendations for one mentee among 2,000 mentors (profiles already embedded): latency
   percentiles over many mentees, reasons included. Measured first, in a fresh subprocess:
   nothing the proposals leave on the machine (hot CPUs, freed memory) comes before it.
2. A full proposal (scores, every hard constraint, soft preferences, exact optimiser with its
   optimality certificate, reasons for every pair, unmatched reasons) for 1k..10k mentees and
   a fifth as many mentors with capacity 1 to 5. Each size runs in a fresh subprocess so its
   peak memory (max RSS of the whole process, data included) is its own.

Writes results/bench-matching.json and results/bench-matching.png with the command, commit and
configuration next to the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matching.proposals import propose  # noqa: E402
from matching.recommendations import recommend  # noqa: E402
from matching.scoring import DEFAULT_CONFIG  # noqa: E402
from matching.synthetic import make_programme  # noqa: E402


def rss_mb() -> float:
    """Current resident memory of this process."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_proposal(n_mentees: int, seed: int) -> dict[str, object]:
    """Build a programme, then time one full proposal; memory as seen by this process."""
    programme = make_programme(n_mentees, n_mentees // 5, DEFAULT_CONFIG, seed=seed)
    before = rss_mb()
    start, cpu = time.perf_counter(), time.process_time()
    result = propose(
        programme.pool, programme.mentees, programme.mentors, programme.capacity,
        chains=programme.chains, history=programme.history, locked=programme.locked,
    )
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "mentees": n_mentees,
        "mentors": n_mentees // 5,
        "places": int(sum(programme.capacity)),
        "goals": len(programme.pool.goals),
        "evidence_items": len(programme.pool.evidence),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "load_average_after": round(os.getloadavg()[0], 2),
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(peak_mb(), 1),
        "pairs": len(result.pairs),
        "unmatched_mentees": len(result.unmatched_mentees),
        "optimal_certified": result.certified,
        "optimiser_rounds": result.stats.get("optimiser_rounds"),
        "candidate_pairs": result.stats.get("candidate_pairs"),
    }


def recommendation_latency(n_mentors: int, queries: int, seed: int) -> dict[str, object]:
    programme = make_programme(queries, n_mentors, DEFAULT_CONFIG, seed=seed)
    mentors = programme.mentors

    def ask(i: int) -> object:
        return recommend(programme.pool, i, mentors, role="mentee", chains=programme.chains,
                         history=programme.history, limit=10)

    ask(0)  # builds the cached mentor views once, as a running service would
    load_before = os.getloadavg()[0]
    times, cpu_times = [], []
    for i in range(queries):
        start, cpu = time.perf_counter(), time.process_time()
        ask(i)
        times.append((time.perf_counter() - start) * 1000)
        cpu_times.append((time.process_time() - cpu) * 1000)
    ms, cpu_ms = np.array(times), np.array(cpu_times)
    return {
        "mentors": n_mentors,
        "mentor_evidence_items": sum(len(programme.pool.participants[j].evidence)
                                     for j in mentors),
        "queries": queries,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "max_ms": round(float(ms.max()), 2),
        "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 2),
        "cpu_p95_ms": round(float(np.percentile(cpu_ms, 95)), 2),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
    }


def child(*args: str) -> dict[str, object]:
    """Run this script with ``args`` in a fresh process; its last output line as JSON."""
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "matching", "scripts"],
                               cwd=ROOT, capture_output=True, text=True, check=True)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def plot(rows: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["mentees"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(sizes, [r["seconds"] for r in rows], "o-", color="tab:blue", label="time (s)")
    ax.axhline(10, color="tab:blue", ls=":", lw=1)
    ax.set_xlabel("mentees (mentors = mentees / 5, capacity 1-5)")
    ax.set_ylabel("proposal time (s)", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(sizes, [r["peak_rss_mb"] for r in rows], "s--", color="tab:red",
             label="peak RSS (MiB)")
    ax2.axhline(2048, color="tab:red", ls=":", lw=1)
    ax2.set_ylabel("peak memory (MiB)", color="tab:red")
    ax.set_title("Matching: full proposal, time and memory")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[1000, 2000, 4000, 6000, 8000, 10000])
    parser.add_argument("--mentors", type=int, default=2000, help="for recommendations")
    parser.add_argument("--queries", type=int, default=200, help="recommendations to time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child: one size
    parser.add_argument("--latency", action="store_true", help=argparse.SUPPRESS)  # child
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench-matching.json")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_proposal(args.one, args.seed)))
        return
    if args.latency:
        print(json.dumps(recommendation_latency(args.mentors, args.queries, args.seed)))
        return

    latency = child("--latency", "--mentors", str(args.mentors), "--queries",
                    str(args.queries), "--seed", str(args.seed))
    print(json.dumps(latency), flush=True)
    rows = []
    for size in args.sizes:
        rows.append(child("--one", str(size), "--seed", str(args.seed)))
        print(json.dumps(rows[-1]), flush=True)
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "commit": commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average": os.getloadavg()},
        "config": DEFAULT_CONFIG.to_dict(),
        "recommendations": latency,
        "proposals": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    plot(rows, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()

"""Matching speed and memory on synthetic, already-embedded programmes (``tandem bench matching``).

1. Recommendations for one mentee among 2,000 mentors (profiles already embedded): latency
   percentiles over many mentees, reasons included. Measured first, in a fresh subprocess:
   nothing the proposals leave on the machine (hot CPUs, freed memory) comes before it.
2. A full proposal (scores, every hard constraint, soft preferences, exact optimiser with its
   optimality certificate, reasons for every pair, unmatched reasons) for 1k..10k mentees and
   a fifth as many mentors with capacity 1 to 5. Each size runs in a fresh subprocess
   (``python -m bench.matching``) so its peak memory (max RSS of the whole process, data
   included) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bench.paths import run_main
from bench.programmes import make_programme
from bench.timing import peak_rss_mb, rss_mb
from matching.proposals import propose
from matching.recommendations import recommend
from matching.scoring import DEFAULT_CONFIG


@dataclass
class MatchingBenchConfig:
    """What one matching benchmark run measures."""

    sizes: tuple[int, ...] = (1000, 2000, 4000, 6000, 8000, 10000)  # mentees per proposal
    mentors: int = 2000  # mentors recommended from
    queries: int = 200  # recommendations timed
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def one_proposal(n_mentees: int, seed: int) -> dict[str, Any]:
    """Build a programme, then time one full proposal; memory as seen by this process."""
    programme = make_programme(n_mentees, n_mentees // 5, DEFAULT_CONFIG, seed=seed)
    before = rss_mb()
    start, cpu = time.perf_counter(), time.process_time()
    result = propose(
        programme.pool,
        programme.mentees,
        programme.mentors,
        programme.capacity,
        chains=programme.chains,
        history=programme.history,
        locked=programme.locked,
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
        "peak_rss_mb": peak_rss_mb(),
        "pairs": len(result.pairs),
        "unmatched_mentees": len(result.unmatched_mentees),
        "optimal_certified": result.certified,
        "optimiser_rounds": result.stats.get("optimiser_rounds"),
        "candidate_pairs": result.stats.get("candidate_pairs"),
    }


def recommendation_latency(n_mentors: int, queries: int, seed: int) -> dict[str, Any]:
    programme = make_programme(queries, n_mentors, DEFAULT_CONFIG, seed=seed)
    mentors = programme.mentors

    def ask(i: int) -> object:
        return recommend(
            programme.pool,
            i,
            mentors,
            role="mentee",
            chains=programme.chains,
            history=programme.history,
            limit=10,
        )

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
        "mentor_evidence_items": sum(len(programme.pool.participants[j].evidence) for j in mentors),
        "queries": queries,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "max_ms": round(float(ms.max()), 2),
        "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 2),
        "cpu_p95_ms": round(float(np.percentile(cpu_ms, 95)), 2),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
    }


def child(*args: str) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its last output line as JSON."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.matching", *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_matching_bench(
    config: MatchingBenchConfig, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Recommendation latency, then one proposal per size of ``config``; JSON-ready."""
    log(f"recommendations among {config.mentors:,} mentors, {config.queries} mentees")
    latency = child(
        "--latency",
        "--mentors",
        str(config.mentors),
        "--queries",
        str(config.queries),
        "--seed",
        str(config.seed),
    )
    rows = []
    for size in config.sizes:
        log(f"[{size:,} mentees] full proposal")
        rows.append(child("--one", str(size), "--seed", str(config.seed)))
    return {
        "config": config.to_dict(),
        "scoring": DEFAULT_CONFIG.to_dict(),
        "recommendations": latency,
        "proposals": rows,
        "summary": {
            "recommendation_p95_ms": latency["p95_ms"],
            "proposals": [
                {k: row[k] for k in ("mentees", "seconds", "peak_rss_mb", "optimal_certified")}
                for row in rows
            ],
        },
    }


def main() -> None:
    """One measurement of :func:`run_matching_bench`, in its own process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--one", type=int, help="time one proposal of this many mentees")
    parser.add_argument("--latency", action="store_true", help="time recommendations")
    parser.add_argument("--mentors", type=int, default=MatchingBenchConfig.mentors)
    parser.add_argument("--queries", type=int, default=MatchingBenchConfig.queries)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_proposal(args.one, args.seed)))
    elif args.latency:
        print(json.dumps(recommendation_latency(args.mentors, args.queries, args.seed)))
    else:
        parser.error("one of --one or --latency (the whole bench: tandem bench matching)")


if __name__ == "__main__":
    run_main(main)

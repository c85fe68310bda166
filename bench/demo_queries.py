"""The demo library's cross-language examples and odd queries, with the real model (issue 15).

    python -m bench.demo_queries [--instance DIR]

Loads the demo library into a temporary instance (or uses ``--instance``, e.g. one made by
``tandem demo``), runs each query as an anonymous visitor and prints, as JSON lines, how many
results it shows and where the expected guide ranks (``null``: not shown).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from bench.paths import run_main
from ingest.demo import load_demo
from kb.config import load_settings
from kb.runtime import open_tandem

POWER_QUERY = "Automating a weekly report with Power Query"
QUERIES: list[tuple[str, str | None]] = [
    ("how can an AI assistant help me write my weekly team report", POWER_QUERY),
    ("jak zrobić raport w Excelu", POWER_QUERY),
    ("the and of", None),
    ('NOT ( ) * OR AND "', None),
    ("<script>alert(1)</script>", None),
]


def run(instance: Path, load: bool) -> None:
    database = f"sqlite:///{instance / 'tandem.sqlite3'}"
    settings = load_settings(os.environ, {"instance_dir": instance, "database_url": database})
    tandem = open_tandem(settings)
    try:
        if load:
            load_demo(tandem.sessions, tandem.embedders)
            tandem.search.catch_up()
        for query, expected in QUERIES:
            results = tandem.search.search(query, None, limit=100)
            titles = [hit.title for hit in results.hits]
            rank = titles.index(expected) + 1 if expected in titles else None
            row = {"query": query, "total": results.total, "top3": titles[:3],
                   "expected": expected, "rank": rank, "message": results.message}  # fmt: skip
            print(json.dumps(row, ensure_ascii=False), flush=True)
    finally:
        tandem.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instance", type=Path, help="an instance with the demo loaded")
    args = parser.parse_args()
    if args.instance:
        run(args.instance.resolve(), load=False)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(Path(tmp) / "instance", load=True)


if __name__ == "__main__":
    run_main(main)

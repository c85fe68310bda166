"""How long the product's Whoosh searcher takes to open, and to reopen after a small change.

    .venv/bin/python scripts/whoosh_reopen.py /tmp/tandem-bench-XXXX/instance-1000000

On an instance's current Whoosh index (e.g. the 1M library kept by ``tandem bench search
--keep-instance``): the first open, then one commit adding a probe chunk and one deleting it
again (each its own segment, no merging), each followed by the reopen the next search does
(``FullTextIndex._reopen``: only touched segments are read) and a quoted-phrase look-up. The
index ends as it began, less one deleted document. Page-cache state shapes the first figures.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kb.search.indexes.fulltext import FullTextIndex  # noqa: E402
from kb.search.query import parse_query  # noqa: E402
from kb.search.records import ChunkRecord  # noqa: E402


def main() -> None:
    index_dir = Path(sys.argv[1]) / "index"
    ft = FullTextIndex.open(index_dir / os.readlink(index_dir / "whoosh"))
    start = time.perf_counter()
    ft.doc_count()
    print(f"first open {time.perf_counter() - start:.2f} s")
    with ft.searcher() as searcher:
        print(f"segments {len(list(searcher.reader().leaf_readers()))}")
    probe = ChunkRecord(99_999_999, "guide:99999999", "guide", "en", "probe", "reopen probe")
    for step, records in enumerate([[probe], []]):  # add it, then delete it
        with ft.writer(merge=False) as writer:
            ft.replace_document(writer, probe.doc_key, records)
        start = time.perf_counter()
        count = ft.doc_count()
        took = 1000 * (time.perf_counter() - start)
        print(f"change {step}: reopen {took:.1f} ms ({count:,} docs)")
        start = time.perf_counter()
        ft.phrase_matches(parse_query('"reopen probe"'))
        print(f"  then a phrase look-up {1000 * (time.perf_counter() - start):.1f} ms")
    ft.close()


if __name__ == "__main__":
    main()

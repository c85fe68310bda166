"""Cost of the probe's hostile markdown (issue 18, finding 7): render, index text, chunks.

    python scripts/render_cost.py [--size-mb 1.9]

Prints, per input: a cold render, a cached render (a page view of unchanged content), the
index-text conversion, the number and longest length of chunks, and whether the document is
refused. Wall times on the machine it runs on; the tests assert work, not time.
"""

from __future__ import annotations

import argparse
import time

from kb.chunking import chunk_text
from kb.services.markup import MarkupError, check_markdown, markdown_to_text, render_markdown


def timed(function, *args):  # noqa: ANN001, ANN002, ANN201
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1.9)
    args = parser.parse_args()
    size = int(args.size_mb * 1_000_000)
    inputs = {
        f"'[' x {size:,}": "[" * size,
        "run without spaces, 190,000 chars": "x" * 190_000,
        "5,000 nested <div>": "<div>" * 5000 + "end",
        "list nested 12 deep": "".join("  " * i + f"- level {i}\n" for i in range(12)),
    }
    print(f"render_cost: --size-mb {args.size_mb}")
    for name, md in inputs.items():
        try:
            check_markdown(md)
            verdict = "accepted"
        except MarkupError as error:
            verdict = f"refused at import: {error}"
        _, cold = timed(render_markdown, md)
        _, warm = timed(render_markdown, md)
        text, convert = timed(markdown_to_text, md)
        chunks = chunk_text(text)
        longest = max((len(c.text) for c in chunks), default=0)
        print(f"{name}: render {cold:.2f} s cold, {warm * 1000:.2f} ms cached; index text "
              f"{convert:.2f} s; {len(chunks)} chunks, longest {longest}; {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()

"""Hypothesis settings and strategies for the fuzz tests: a bounded run in CI, a longer one
from the script (scripts/fuzz.py).

``TANDEM_FUZZ_SCALE`` scales every test's number of examples (scripts/fuzz.py sets it);
examples are derandomised (the same inputs on every CI run) unless the script asks for fresh
ones, and nothing is stored in a .hypothesis directory.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SCALE = float(os.environ.get("TANDEM_FUZZ_SCALE", "1"))
settings.register_profile(
    "tandem",
    deadline=None,  # a loaded CI machine is slow; cost is asserted by work, not time
    database=None,
    derandomize=os.environ.get("TANDEM_FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("tandem")


def examples(ci: int) -> int:
    """Examples for a test that runs ``ci`` of them in CI."""
    return max(1, int(ci * SCALE))


# Markup that opens things and never closes them (closing tags, quotes, ")" and ":" are left
# out: with them, a word may legitimately become a URL, an attribute or dropped script text).
FRAGMENTS = [
    "<script>", "<style>", "<iframe>", "<noscript>", "<template>", "<object>", "<textarea>",
    "<title>", "<xmp>", "<plaintext>", "<svg>", "<math>", "<select>", "<!--", "<?php", "<![CDATA[",
    "<div>", "<span>", "<table>", "<p>", "<", ">", "[", "](", "![", "*", "**", "_", "`", "```\n",
    "~~", "#", "## ", "> ", "- ", "1. ", "    ", "  ", "\n", "\n\n", "|", "|---|", "&", "&amp",
    "\\", "=", "---", "\t", "é", "ё", "ą",
]  # fmt: skip


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A document of hostile fragments with numbered words between them, and those words."""
    parts = draw(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=60))
    words = [f"wz{i}q" for i in range(len(parts))]
    md = "".join(f"{part} {word} " for part, word in zip(parts, words, strict=True))
    return md, words

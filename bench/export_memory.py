"""Peak Python memory of a data export holding uploaded videos: the streamed zip
(``kb.services.export.write_export`` into a file, as the web download and the command do)
against the in-memory one (``export_zip``).

    python -m bench.export_memory [--videos 20] [--mb 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from kb.services import export


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--mb", type=float, default=2.0, help="size of each video (MB)")
    args = parser.parse_args()
    size = int(args.mb * 1024 * 1024)
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        videos = []
        for i in range(args.videos):
            name = f"{i:032x}.mp4"
            (directory / name).write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(size - 12))
            videos.append({"name": name, "size": size, "file": f"videos/{name}"})
        data: dict[str, Any] = {
            "format": export.FORMAT, "exported_at": "2026-12-05T17:00:00",
            "profile": {"name": "Bench", "email": "bench@example.com"}, "enrolments": [],
            "pairs": [], "guides": [], "notes": [], "insights": [], "feedback": [],
            "videos": videos,
        }  # fmt: skip
        tracemalloc.start()
        with tempfile.TemporaryFile() as target:
            export.write_export(data, target, directory)
            written = target.tell()
        streamed = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        export.export_zip(data, directory)
        in_memory = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(f"{args.videos} videos x {args.mb} MB, zip {written / 1e6:.1f} MB: peak Python memory "
          f"{streamed / 1e6:.1f} MB streamed (write_export), {in_memory / 1e6:.1f} MB in memory "
          "(export_zip)")  # fmt: skip


if __name__ == "__main__":
    main()

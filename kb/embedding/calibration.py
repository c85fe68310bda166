"""The int8 encoder's calibration: each projection's largest input per feature, shipped as a
versioned file so that stored vectors never depend on what else is on disk.

The file ``data/e5-int8-calibration-v<VERSION>.npz`` holds one float32 array per projection
(``l<i>.qkv``, ``l<i>.ao``, ``l<i>.fi``, ``l<i>.fo``) and a JSON ``header``: the format, the
version, the model file it belongs to and the texts it was measured on. It is built once by
``scripts/build_e5_calibration.py`` (the float32 graph run over pieces of the demo library's
guides and notes) and only read at load. A new calibration gets a new version and file name:
vectors embedded with a given version stay reproducible.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kb.embedding.e5_model import E5File, E5Tokenizer, prefix

FORMAT = 1
VERSION = 1
DATA = Path(__file__).resolve().parent / "data"
CALIBRATION_FILE = DATA / f"e5-int8-calibration-v{VERSION}.npz"


class CalibrationError(ValueError):
    """The calibration file is missing, of another format or version, or for another model."""


def projection_names(model: E5File) -> dict[str, int]:
    """Every int8 projection's name and its input width."""
    h = model.hyper
    names: dict[str, int] = {}
    for i in range(h.layers):
        names.update({f"l{i}.qkv": h.hidden, f"l{i}.ao": h.hidden, f"l{i}.fi": h.hidden,
                      f"l{i}.fo": h.ffn})  # fmt: skip
    return names


def load_calibration(model: E5File, path: Path = CALIBRATION_FILE) -> dict[str, np.ndarray]:
    """The input maxima for ``model`` from ``path``, checked against the model's shapes."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"cannot read the e5 int8 calibration {path}: {exc}") from exc
    header = read_header(arrays.pop("header", None), path)
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise CalibrationError(
            f"{path}: calibration format {header.get('format')} version {header.get('version')},"
            f" expected format {FORMAT} version {VERSION}"
        )
    if header.get("model", {}).get("bytes") != model.path.stat().st_size:
        raise CalibrationError(f"{path} was measured on another model file than {model.path}")
    expected = projection_names(model)
    if set(arrays) != set(expected):
        raise CalibrationError(f"{path} does not name this model's projections")
    for name, width in expected.items():
        if arrays[name].shape != (width,) or arrays[name].dtype != np.float32:
            raise CalibrationError(f"{path}: {name} is not float32 of width {width}")
    return arrays


def read_header(raw: np.ndarray | None, path: Path) -> dict[str, Any]:
    if raw is None or raw.dtype != np.uint8:
        raise CalibrationError(f"{path} has no calibration header")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"{path}: unreadable calibration header") from exc
    if not isinstance(header, dict):
        raise CalibrationError(f"{path}: unreadable calibration header")
    return header


def save_calibration(
    path: Path, maxima: Mapping[str, np.ndarray], header: Mapping[str, Any]
) -> None:
    """Write ``maxima`` and ``header`` (JSON) as one ``.npz`` file."""
    raw = np.frombuffer(json.dumps(dict(header), sort_keys=True).encode("utf-8"), np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: np.asarray(value, np.float32) for name, value in maxima.items()}
    with path.open("wb") as handle:
        np.savez(handle, allow_pickle=False, header=raw, **arrays)


def calibration_texts(folder: Path, count: int = 48, size: int = 1300) -> list[str]:
    """``count`` pieces of ``size`` characters of the guides and notes under ``folder`` (front
    matter dropped, whitespace collapsed), picked with a fixed seed."""
    files = sorted((folder / "guides").glob("*.md")) + sorted((folder / "notes").glob("*.md"))
    if not files:
        raise FileNotFoundError(f"no guides or notes in {folder} to calibrate int8 with")
    pieces: list[str] = []
    for path in files:
        body = re.sub(r"\s+", " ", path.read_text(encoding="utf-8").split("---", 2)[-1]).strip()
        pieces.extend(body[i : i + size] for i in range(0, len(body), size))
    rng = np.random.default_rng(0)
    picks = rng.choice(len(pieces), size=min(count, len(pieces)), replace=False)
    return [pieces[i] for i in sorted(picks)]


def passage_windows(model: E5File, texts: Sequence[str]) -> list[list[int]]:
    """The first token window of each text, embedded as a passage."""
    tokenizer = E5Tokenizer(model)
    width = model.hyper.max_positions - 2
    return [[model.bos, *ids[:width], model.eos]
            for ids in tokenizer.content_ids([prefix(False) + t for t in texts])]  # fmt: skip


def input_maxima(model: E5File, windows: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
    """Each projection's largest input per feature over ``windows``, run in float32."""
    from kb.embedding.e5_onnx import OnnxE5, build_graph, make_session

    session = make_session(build_graph(model, weights_kind="float"), 0)
    embed = OnnxE5(model)  # its word, position and type embeddings
    names = [o.name for o in session.get_outputs()[1:]]
    maxima: dict[str, np.ndarray] = {}
    for window in windows:
        outputs = session.run(names, {"x": embed.inputs([window])})
        for name, value in zip(names, outputs, strict=True):
            seen = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
            maxima[name] = np.maximum(maxima.get(name, seen), seen)
    return maxima


def build_calibration(
    model: E5File, texts: Sequence[str], source: str
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The maxima over ``texts`` and the header that describes them (``source``: where the
    texts came from)."""
    maxima = input_maxima(model, passage_windows(model, texts))
    digest = hashlib.sha256(model.path.read_bytes()).hexdigest()
    header = {
        "format": FORMAT,
        "version": VERSION,
        "model": {"file": model.path.name, "bytes": model.path.stat().st_size, "sha256": digest},
        "texts": {
            "count": len(texts),
            "sha256": hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest(),
            "source": source,
        },
    }
    return maxima, header

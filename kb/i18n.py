"""Languages of the interface: the supported locales, the ``N_`` marker and the catalogs.

Importable without Flask: domain code marks user-facing strings with :func:`N_` (a no-op that
the extractor finds) and the web layer translates them (``kb.views.i18n``). Catalogs are per
area, ``kb/translations/<area>/<locale>/LC_MESSAGES/messages.po`` with the compiled ``.mo``
beside it, so that several people can translate at once without touching one file; the web
layer hands every area folder to Flask-Babel, which merges them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# The interface's languages; English is the source language of every message.
LOCALES: tuple[str, ...] = ("en", "pl", "ru")
DEFAULT_LOCALE = "en"
TRANSLATED_LOCALES: tuple[str, ...] = tuple(code for code in LOCALES if code != DEFAULT_LOCALE)
# Each language's name in itself, as the switcher shows it.
LOCALE_NAMES: dict[str, str] = {"en": "English", "pl": "Polski", "ru": "Русский"}
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name)
    """Mark ``message`` for translation without translating it (the web layer does that)."""
    return message


class Text(str):
    """English text that keeps its ``N_`` template and values, so that the web layer can show
    it in the reader's language (``|translate`` in templates); elsewhere it is a plain str."""

    template: str
    params: dict[str, object]

    def __new__(cls, template: str, /, **params: object) -> Text:
        text = super().__new__(cls, template % params if params else template)
        text.template = template
        text.params = params
        return text


def reason_of(error: Exception) -> Text:
    """A domain error's (``kb.errors.TandemError``) message as a :class:`Text` (English when
    shown as a str), to pass as a value into another message: the web layer translates both."""
    template = getattr(error, "template", None)
    if not isinstance(template, str):
        return Text(str(error))
    return Text(template, **(getattr(error, "params", None) or {}))


class Texts(str):
    """Several :class:`Text` shown as one comma-separated list (each translated on its own),
    e.g. the counts of candidates a constraint ruled out."""

    items: tuple[str, ...]
    separator: str

    def __new__(cls, items: Iterable[str], /, separator: str = ", ") -> Texts:
        listed = tuple(items)
        text = super().__new__(cls, separator.join(listed))
        text.items = listed
        text.separator = separator
        return text


# Text kept in JSON (a matching job's stored answer and progress): {TEXT_KEY: english,
# "template": ..., "params": {...}} or {TEXTS_KEY: [...]}; decode_texts makes them Text again.
TEXT_KEY = "__text__"
TEXTS_KEY = "__texts__"


def encode_texts(value: object) -> object:
    """``value`` (plain data) with every Text that has values, and every Texts, as JSON-able
    dicts that :func:`decode_texts` turns back; everything else as it is."""
    if isinstance(value, Texts):
        return {TEXTS_KEY: [encode_texts(item) for item in value.items]}
    if isinstance(value, Text):
        return {TEXT_KEY: str(value), "template": value.template,
                "params": {k: encode_texts(v) for k, v in value.params.items()}}  # fmt: skip
    if isinstance(value, dict):
        return {k: encode_texts(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode_texts(v) for v in value]
    return value


def decode_texts(value: object) -> object:
    """The inverse of :func:`encode_texts` (after a JSON round trip)."""
    if isinstance(value, dict):
        if TEXTS_KEY in value and len(value) == 1:
            items = [decode_texts(item) for item in value[TEXTS_KEY]]
            return Texts(t if isinstance(t, str) else str(t) for t in items)
        if TEXT_KEY in value and isinstance(value.get("template"), str):
            params = {k: decode_texts(v) for k, v in (value.get("params") or {}).items()}
            try:
                return Text(value["template"], **params)
            except (KeyError, ValueError, TypeError):
                return str(value[TEXT_KEY])
        return {k: decode_texts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_texts(v) for v in value]
    return value


def supported_locale(value: str | None) -> str | None:
    """``value`` ("pl", "pl-PL", "ru_RU") as one of :data:`LOCALES`, or None."""
    if not value:
        return None
    code = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return code if code in LOCALES else None


def area_directories(root: Path = TRANSLATIONS_DIR) -> list[Path]:
    """The per-area catalog folders (each holds ``<locale>/LC_MESSAGES/messages.po``)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))


def locale_choices(codes: Iterable[str] = LOCALES) -> list[tuple[str, str]]:
    """(code, own name) pairs for forms that let a person pick a language."""
    return [(code, LOCALE_NAMES[code]) for code in codes]

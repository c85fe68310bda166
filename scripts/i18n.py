"""Translation catalogs, per area: extract, merge, compile and check.

    python scripts/i18n.py update    # extract every area's strings, merge into its pl/ru .po
    python scripts/i18n.py compile   # write each .po's .mo (committed beside it)
    python scripts/i18n.py check     # list missing/untranslated/fuzzy strings, placeholder
                                     # mismatches and stale .mo files; exit 1 if any

The area of a string is its template folder (``templates/<area>/...``) or its view module
(``kb/views/<area>.py``, ``kb/views/api/<area>.py``); everything else (base templates, the
error handler, domain errors marked with ``kb.i18n.N_``) is ``core``. Catalogs live in
``kb/translations/<area>/<locale>/LC_MESSAGES/messages.po``; the web app merges all areas.
Extraction uses Babel's Python extractor and Jinja's own Babel extractor.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from jinja2.ext import babel_extract

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "kb" / "translations"
LOCALES = ("pl", "ru")
PYTHON_SOURCES = ("kb", "matching", "ingest")
KEYWORDS = {
    "_": None,
    "gettext": None,
    "lazy_gettext": None,
    "ngettext": (1, 2),
    "lazy_ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "N_": None,
}
# View modules that serve every area; their strings are core's.
SHARED_VIEW_MODULES = {"__init__", "support", "listing", "i18n"}
# Fixed header dates: a rerun that finds nothing new leaves the files byte for byte alone.
HEADER_DATE = dt.datetime(2026, 12, 5, 0, 0, tzinfo=dt.UTC)
PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>\w+)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?P<kind>[diouxXeEfFgGcrsa%])"
)


def area_of(path: Path) -> str:
    """The catalog area of a source file (relative to the repository root)."""
    parts = path.parts
    if parts[0] == "templates":
        return parts[1] if len(parts) > 2 else "core"
    if parts[:2] == ("kb", "views"):
        name = path.stem
        if len(parts) == 3 and name not in SHARED_VIEW_MODULES:
            return name
        if len(parts) == 4 and parts[2] == "api" and name not in SHARED_VIEW_MODULES:
            return name
    return "core"


def source_files(root: Path = ROOT) -> Iterator[Path]:
    """Every file that may hold interface strings, relative to ``root``, in a stable order."""
    for path in sorted((root / "templates").rglob("*.html")):
        yield path.relative_to(root)
    for package in PYTHON_SOURCES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root)
            if "migrations" in rel.parts or "demo" in rel.parts:
                continue
            yield rel


def extract_file(root: Path, rel: Path) -> Iterator[tuple[int, str | tuple[str, ...], str | None]]:
    """(line, message id(s), context) of each marked string in one file."""
    method = babel_extract if rel.suffix == ".html" else "python"
    options = {"newstyle_gettext": "true"} if rel.suffix == ".html" else {}
    with open(root / rel, "rb") as handle:
        for line, message, _comments, context in extract(
            method, handle, keywords=KEYWORDS, options=options, strip_comment_tags=True
        ):
            yield line, message, context


LANGUAGE_NAMES = {"pl": "Polish", "ru": "Russian"}


def new_catalog(locale: str | None = None) -> Catalog:
    name = LANGUAGE_NAMES.get(locale or "", "The")
    return Catalog(
        locale=locale,
        domain="messages",
        header_comment=f"# {name} messages of the Tandem interface (scripts/i18n.py update).",
        project="Tandem",
        version="1",
        copyright_holder="Tandem",
        msgid_bugs_address="",
        creation_date=HEADER_DATE,
        revision_date=HEADER_DATE,
        fuzzy=False,
    )


def extract_areas(root: Path = ROOT) -> dict[str, Catalog]:
    """Every area's template catalog (the messages its sources use)."""
    areas: dict[str, Catalog] = {}
    for rel in source_files(root):
        for line, message, context in extract_file(root, rel):
            if not (message[0] if isinstance(message, tuple) else message):
                continue
            catalog = areas.setdefault(area_of(rel), new_catalog())
            catalog.add(message, None, [(rel.as_posix(), line)], context=context)
    return areas


def po_path(area: str, locale: str, translations: Path = TRANSLATIONS) -> Path:
    return translations / area / locale / "LC_MESSAGES" / "messages.po"


def read_catalog(path: Path, locale: str) -> Catalog:
    with open(path, "rb") as handle:
        return read_po(handle, locale=locale)


def po_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, include_lineno=False, ignore_obsolete=True)
    return out.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def update(root: Path = ROOT, translations: Path = TRANSLATIONS) -> list[Path]:
    """Merge each area's extracted strings into its .po files, keeping translations;
    strings no longer used are dropped. Returns the files written."""
    written = []
    for area, template in sorted(extract_areas(root).items()):
        for locale in LOCALES:
            path = po_path(area, locale, translations)
            if path.exists():
                catalog = read_catalog(path, locale)
                catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
            else:
                catalog = new_catalog(locale)
                catalog.update(template, no_fuzzy_matching=True)
            catalog.creation_date = HEADER_DATE
            catalog.revision_date = HEADER_DATE
            data = po_bytes(catalog)
            if not path.exists() or path.read_bytes() != data:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                written.append(path)
    return written


def compile_all(translations: Path = TRANSLATIONS) -> list[Path]:
    """Write the .mo of every .po whose compiled form differs. Returns the files written."""
    written = []
    for po in sorted(translations.glob("*/*/LC_MESSAGES/messages.po")):
        locale = po.parent.parent.name
        data = mo_bytes(read_catalog(po, locale))
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != data:
            mo.write_bytes(data)
            written.append(mo)
    return written


def placeholders(text: str) -> tuple[list[str], int, bool]:
    """(named placeholders sorted, count of positional ones, whether a stray % is present)."""
    names: list[str] = []
    positional = 0
    consumed = 0
    for match in PLACEHOLDER.finditer(text):
        consumed += len(match.group(0))
        if match.group("kind") == "%":
            continue
        if match.group("name"):
            names.append(match.group("name"))
        else:
            positional += 1
    stray = text.count("%") > sum(m.group(0).count("%") for m in PLACEHOLDER.finditer(text))
    return sorted(set(names)), positional, stray


@dataclass
class Report:
    """What ``check`` found; empty lists mean the catalogs are complete and compiled."""

    missing: list[str] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)
    fuzzy: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    clashes: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return [
            *(f"missing from catalog: {m}" for m in self.missing),
            *(f"not translated: {m}" for m in self.untranslated),
            *(f"fuzzy (needs review): {m}" for m in self.fuzzy),
            *(f"placeholders differ: {m}" for m in self.placeholders),
            *(f"stale or missing .mo: {m}" for m in self.stale),
            *(f"translated differently in two areas: {m}" for m in self.clashes),
        ]


def _strings(value: str | tuple[str, ...] | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def check_message(message: Message, where: str, report: Report) -> None:
    label = f"{where}: {_strings(message.id)[0]!r}"
    translations = _strings(message.string) if message.string else []
    if not translations or not all(translations):
        report.untranslated.append(label)
        return
    if message.fuzzy:
        report.fuzzy.append(label)
    wanted, positional, stray = placeholders(_strings(message.id)[0])
    if stray:
        report.placeholders.append(f"{label} (a lone % in the English text; write %%)")
    if positional:
        report.placeholders.append(f"{label} (use named placeholders: %(name)s, or %% for %)")
    for text in translations:
        names, count, stray = placeholders(text)
        plural = isinstance(message.id, tuple | list)
        # A plural form may leave out the number (Russian "один файл"); the names must match.
        if (
            stray
            or names != wanted
            and not (plural and set(names) <= set(wanted))
            or (count != positional and not plural)
        ):
            report.placeholders.append(f"{label} -> {text!r}")


def check(root: Path = ROOT, translations: Path = TRANSLATIONS) -> Report:
    """Compare the sources' strings with every area's catalogs and compiled files."""
    report = Report()
    for area, template in sorted(extract_areas(root).items()):
        for locale in LOCALES:
            path = po_path(area, locale, translations)
            where = f"{area}/{locale}"
            catalog = read_catalog(path, locale) if path.exists() else new_catalog(locale)
            for message in template:
                if not message.id:
                    continue
                found = catalog.get(message.id, context=message.context)
                if found is None:
                    report.missing.append(f"{where}: {_strings(message.id)[0]!r}")
                    continue
                check_message(found, where, report)
    for po in sorted(translations.glob("*/*/LC_MESSAGES/messages.po")):
        locale = po.parent.parent.name
        catalog = read_catalog(po, locale)
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != mo_bytes(catalog):
            report.stale.append(str(mo.relative_to(translations)))
    report.clashes.extend(clashes(translations))
    return report


def clashes(translations: Path = TRANSLATIONS) -> list[str]:
    """Strings that two areas translate differently. The web app merges every area's catalog
    into one, so only one of the translations would ever be shown; a string whose meaning
    differs between pages needs a context (``pgettext``) instead."""
    found = []
    for locale in LOCALES:
        seen: dict[tuple[str | None, str], dict[str, str]] = {}
        for po in sorted(translations.glob(f"*/{locale}/LC_MESSAGES/messages.po")):
            area = po.parent.parent.parent.name
            for message in read_catalog(po, locale):
                if message.id and message.string:
                    key = (message.context, _strings(message.id)[0])
                    seen.setdefault(key, {})[area] = "|".join(_strings(message.string))
        for (context, msgid), by_area in sorted(seen.items(), key=lambda item: item[0][1]):
            if len(set(by_area.values())) > 1:
                where = ", ".join(f"{area} {text!r}" for area, text in sorted(by_area.items()))
                label = f"{context}: {msgid!r}" if context else repr(msgid)
                found.append(f"{locale}: {label} ({where})")
    return found


def untranslated_entries(translations: Path = TRANSLATIONS) -> Iterable[tuple[Path, str]]:
    """(file, msgid) of every empty translation: the to-do list of translators."""
    for po in sorted(translations.glob("*/*/LC_MESSAGES/messages.po")):
        for message in read_catalog(po, po.parent.parent.name):
            if message.id and not (message.string and all(_strings(message.string))):
                yield po, _strings(message.id)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("update", "compile", "check"))
    args = parser.parse_args(argv)
    if args.command == "update":
        for path in update():
            print(f"updated {path.relative_to(ROOT)}")
        return 0
    if args.command == "compile":
        for path in compile_all():
            print(f"compiled {path.relative_to(ROOT)}")
        return 0
    problems = check().problems()
    for line in problems:
        print(line)
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

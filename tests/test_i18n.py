"""The translation catalogs are complete, compiled and consistent (scripts/i18n.py), and the
check really fails on a missing translation, a stale .mo or a broken placeholder."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from kb.errors import NotFound, ValidationError
from kb.i18n import N_, area_directories, supported_locale

ROOT = Path(__file__).resolve().parents[1]


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "scripts" / "i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["i18n_tool"] = module
    spec.loader.exec_module(module)
    return module


tool = load_tool()


def test_every_interface_string_is_translated_into_polish_and_russian() -> None:
    report = tool.check()
    assert report.problems() == [], (
        "run `python scripts/i18n.py update`, translate, then `python scripts/i18n.py compile`"
    )


def test_every_area_catalog_is_a_translation_directory() -> None:
    areas = {path.name for path in area_directories()}
    assert "core" in areas
    assert areas == set(tool.extract_areas())


def test_areas_follow_template_folders_and_view_modules() -> None:
    assert tool.area_of(Path("templates/guides/view.html")) == "guides"
    assert tool.area_of(Path("templates/base.html")) == "core"
    assert tool.area_of(Path("kb/views/hr.py")) == "hr"
    assert tool.area_of(Path("kb/views/api/notes.py")) == "notes"
    assert tool.area_of(Path("kb/views/support.py")) == "core"
    assert tool.area_of(Path("kb/services/guides.py")) == "core"
    assert tool.area_of(Path("kb/app.py")) == "core"


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A copy of the sources and catalogs to break on purpose."""
    root = tmp_path / "repo"
    for name in ("templates", "kb", "matching", "ingest"):
        shutil.copytree(ROOT / name, root / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))  # fmt: skip
    return root


def test_a_new_template_string_without_translation_fails_the_check(sandbox: Path) -> None:
    page = sandbox / "templates" / "core_extra.html"
    page.write_text("<p>{{ _('A sentence nobody translated yet') }}</p>\n")
    translations = sandbox / "kb" / "translations"
    report = tool.check(sandbox, translations)
    assert any("A sentence nobody translated yet" in m for m in report.missing)
    # update adds it with an empty translation: still a failure, now as "not translated"
    tool.update(sandbox, translations)
    tool.compile_all(translations)
    report = tool.check(sandbox, translations)
    assert report.missing == []
    assert any("A sentence nobody translated yet" in m for m in report.untranslated)
    assert report.problems()


def test_a_stale_mo_and_a_broken_placeholder_fail_the_check(sandbox: Path) -> None:
    translations = sandbox / "kb" / "translations"
    po = tool.po_path("core", "pl", translations)
    catalog = tool.read_catalog(po, "pl")
    catalog["line %(line)s"].string = "wiersz %(linia)s"  # a renamed placeholder
    po.write_bytes(tool.po_bytes(catalog))
    report = tool.check(sandbox, translations)
    assert any("line %(line)s" in m for m in report.placeholders)
    assert "core/pl/LC_MESSAGES/messages.mo" in report.stale
    tool.compile_all(translations)
    assert tool.check(sandbox, translations).stale == []


def test_a_string_two_areas_translate_differently_fails_the_check(sandbox: Path) -> None:
    # The app merges the areas' catalogs: one of two translations would silently win.
    translations = sandbox / "kb" / "translations"
    po = tool.po_path("guides", "ru", translations)
    catalog = tool.read_catalog(po, "ru")
    assert catalog.get("Title") is not None and tool.po_path("notes", "ru", translations).exists()
    catalog["Title"].string = "Название статьи"
    po.write_bytes(tool.po_bytes(catalog))
    tool.compile_all(translations)
    report = tool.check(sandbox, translations)
    assert any("'Title'" in m and "guides 'Название статьи'" in m for m in report.clashes)
    assert report.problems()


def test_placeholders_are_parsed_like_python_formats() -> None:
    assert tool.placeholders("%(count)d guides by %(name)s") == (["count", "name"], 0, False)
    assert tool.placeholders("100%% sure, %s") == ([], 1, False)
    assert tool.placeholders("50% off")[1] == 1  # "% o" is a conversion: rejected as positional
    assert tool.placeholders("Done 100%")[2] is True  # a lone % breaks newstyle gettext


def test_update_keeps_existing_translations_and_is_stable(sandbox: Path) -> None:
    translations = sandbox / "kb" / "translations"
    before = {p: p.read_bytes() for p in translations.rglob("*.po")}
    assert tool.update(sandbox, translations) == []  # nothing new: files untouched
    assert {p: p.read_bytes() for p in translations.rglob("*.po")} == before


def test_locales_are_normalised() -> None:
    assert supported_locale("pl-PL") == "pl"
    assert supported_locale("ru_RU") == "ru"
    assert supported_locale("EN") == "en"
    assert supported_locale("de") is None
    assert supported_locale("") is None


def test_domain_errors_carry_a_template_and_english_text() -> None:
    error = NotFound(N_("No guide %(slug)s."), slug="excel")
    assert str(error) == "No guide excel."
    assert error.template == "No guide %(slug)s." and error.params == {"slug": "excel"}
    invalid = ValidationError(N_("Is %(n)s characters long."), field="title", n=5)
    assert invalid.reason == "Is 5 characters long."
    assert str(invalid) == "field 'title': Is 5 characters long."
    assert invalid.template == "Is %(n)s characters long."
    # old-style messages (f-strings, literal % signs) stay as they are
    assert str(NotFound("100% gone")) == "100% gone"


def test_polish_says_wniosek_for_an_insight_everywhere() -> None:
    """One word for one thing: the pages said "wniosek" and, in nine places (evaluation,
    note buttons and messages, my data, the pair agreement), "spostrzeżenie"."""
    from babel.messages.pofile import read_po

    other_word = []
    for po in sorted((ROOT / "kb" / "translations").glob("*/pl/LC_MESSAGES/messages.po")):
        with po.open("rb") as handle:
            for message in read_po(handle):
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                texts = message.string if isinstance(message.string, tuple) else (message.string,)
                if any("insight" in i.lower() for i in ids) and message.string:
                    other_word += [
                        f"{po.parts[-4]}: {ids[0]!r} -> {t!r}"
                        for t in texts
                        if "wnios" not in t.lower()
                    ]
    assert other_word == []

"""Import direction (DESIGN.md): core modules never pull in the web layer or each other's tops.

Each module is imported in a fresh interpreter, so what it drags in shows in ``sys.modules``.
Modules are discovered with pkgutil, so new ones are covered without editing this file.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Only these may import Flask; kb.cli and the web layer are where the packages meet.
WEB_MODULES = {"kb.app", "kb.cli"}
WEB_PACKAGES = ("kb.views",)
# Matching modules allowed to reach into kb core and the database.
MATCHING_IMPURE = {"matching.service", "matching.evaluation"}


def discover(package: str) -> list[str]:
    """``package`` and every module below it, found on disk."""
    path = ROOT.joinpath(*package.split("."))
    names = [package]
    for info in pkgutil.walk_packages([str(path)], prefix=f"{package}."):
        if ".migrations" in info.name or info.name.rsplit(".", 1)[-1].startswith("test"):
            continue
        names.append(info.name)
    return names


def is_web(name: str) -> bool:
    return name in WEB_MODULES or name.startswith(WEB_PACKAGES)


KB_CORE = [n for n in discover("kb") if not is_web(n)]
INGEST = discover("ingest")
MATCHING = discover("matching")
MATCHING_CORE = [n for n in MATCHING if n not in MATCHING_IMPURE and n != "matching"]


def loaded_after_import(module: str) -> set[str]:
    """Top-level package names in sys.modules after importing ``module`` in a new interpreter."""
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, f"importing {module} failed:\n{out.stderr[-2000:]}"
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def tops(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_discovery_finds_the_core() -> None:
    for expected in ("kb.db", "kb.models", "kb.runtime", "kb.embeddings", "kb.config"):
        assert expected in KB_CORE
    assert "kb.app" not in KB_CORE and "kb.cli" not in KB_CORE


@pytest.mark.parametrize("module", KB_CORE)
def test_kb_core_imports_no_web_ingest_or_matching(module: str) -> None:
    loaded = tops(loaded_after_import(module))
    assert not loaded & {"flask", "flask_login", "flask_wtf", "ingest", "matching"}


@pytest.mark.parametrize("module", INGEST)
def test_ingest_imports_no_flask_or_matching(module: str) -> None:
    loaded = tops(loaded_after_import(module))
    assert not loaded & {"flask", "flask_login", "flask_wtf", "matching"}


@pytest.mark.parametrize("module", MATCHING_CORE)
def test_matching_core_is_pure(module: str) -> None:
    loaded = loaded_after_import(module)
    assert not tops(loaded) & {"flask", "sqlalchemy", "ingest", "whoosh", "faiss"}
    assert not {m for m in loaded if m.startswith(("kb.db", "kb.models", "kb.search"))}


@pytest.mark.parametrize("module", [m for m in MATCHING if m in MATCHING_IMPURE])
def test_matching_service_imports_no_flask(module: str) -> None:
    assert "flask" not in tops(loaded_after_import(module))

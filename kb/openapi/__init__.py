"""The OpenAPI 3 document of ``/api/``, assembled from one YAML fragment per area.

Each area keeps its own ``kb/openapi/<area>.yaml`` (paths and components of its routes), so
helpers working on different areas never edit one file. ``core.yaml`` holds the document's
head (``openapi``, ``info``, security schemes). Two fragments defining the same path and
method, or the same component, are an error rather than a silent overwrite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FRAGMENTS_DIR = Path(__file__).resolve().parent
HEAD_KEYS = ("openapi", "info", "servers", "security", "tags")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class FragmentError(ValueError):
    """Two fragments clash, or one is not a mapping."""


def load_document(directory: Path = FRAGMENTS_DIR) -> dict[str, Any]:
    """The whole document: every ``*.yaml`` fragment of ``directory`` merged."""
    document: dict[str, Any] = {"paths": {}, "components": {}}
    for path in sorted(directory.glob("*.yaml")):
        fragment = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(fragment, dict):
            raise FragmentError(f"{path.name}: a fragment must be a mapping")
        merge(document, fragment, path.name)
    if "openapi" not in document:
        raise FragmentError("no fragment gives the document's head (openapi, info)")
    ordered = {key: document[key] for key in HEAD_KEYS if key in document}
    ordered["paths"] = dict(sorted(document["paths"].items()))
    ordered["components"] = document["components"]
    return ordered


def merge(document: dict[str, Any], fragment: dict[str, Any], name: str) -> None:
    for key, value in fragment.items():
        if key in HEAD_KEYS:
            if key in document:
                raise FragmentError(f"{name}: {key!r} is already given by another fragment")
            document[key] = value
        elif key == "paths":
            for route, operations in (value or {}).items():
                known = document["paths"].setdefault(route, {})
                for method, operation in operations.items():
                    if method in known:
                        raise FragmentError(f"{name}: {method.upper()} {route} is defined twice")
                    known[method] = operation
        elif key == "components":
            for section, items in (value or {}).items():
                known = document["components"].setdefault(section, {})
                for item, definition in (items or {}).items():
                    if item in known and known[item] != definition:
                        raise FragmentError(f"{name}: component {section}/{item} differs")
                    known[item] = definition
        else:
            raise FragmentError(f"{name}: unexpected top-level key {key!r}")


def operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(path, METHOD) of every documented operation."""
    return {
        (route, method.upper())
        for route, ops in document["paths"].items()
        for method in ops
        if method in METHODS
    }

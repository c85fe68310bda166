"""The product's build hook; pyproject.toml holds everything else.

templates/ and static/ stay at the repository root (the project's layout). A built wheel (a
regular, non-editable install) carries them inside the ``kb`` package as ``kb/templates`` and
``kb/static``, where ``kb.app`` looks first; an editable install serves them from the checkout.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
WEB_ASSETS = ("templates", "static")


class BuildWithWebAssets(build_py):
    """``build_py`` that also copies the web assets into the built ``kb`` package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for name in WEB_ASSETS:
            target = Path(self.build_lib) / "kb" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / name, target)


setup(cmdclass={"build_py": BuildWithWebAssets})

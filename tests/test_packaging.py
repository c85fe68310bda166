"""The product as a user installs it: a built wheel, installed (not editable) into a new venv.

The wheel is built from a copy of the sources without build isolation (this venv's setuptools)
and installed without dependencies into a venv that sees this venv's packages, so the test
costs seconds, not a download. Inside that venv the app must serve a page from the installed
templates and static files, the research package ``bench`` must be absent, and ``tandem bench``
must say how to install it.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md",
           "kb", "ingest", "matching", "templates", "static")  # fmt: skip

SERVE_A_PAGE = """
import json, sys
from pathlib import Path
import kb
from kb.app import create_app

app = create_app(test_config={"TESTING": True, "SECRET_KEY": "test"})
client = app.test_client()
page = client.get("/")
css = client.get("/static/style.css")
polish = client.get("/", headers={"Accept-Language": "pl"})
print(json.dumps({
    "kb": kb.__file__,
    "template_folder": str(Path(app.root_path, app.template_folder)),
    "page": page.status_code,
    "title": "<title>" in page.get_data(as_text=True),
    "css": css.status_code,
    "polish": ">Szukaj</a>" in polish.get_data(as_text=True),
}))
"""


def build_wheel(work: Path) -> Path:
    source = work / "src"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(
                path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            shutil.copy2(path, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(work / "dist"), str(source)],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    return next((work / "dist").glob("tandem-*.whl"))


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would put the checkout on the import path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the new venv's python) with the wheel installed."""
    work = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(work)
    venv = work / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)],
        check=True, timeout=120, capture_output=True, env=clean_env(),
    )  # fmt: skip
    # The product's dependencies come from this venv's site-packages (a .pth line adds the
    # folder, not the editable installs that folder's own .pth files would add).
    purelib = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True, env=clean_env(),
    ).stdout.strip())  # fmt: skip
    (purelib / "outer-venv.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return wheel, python


def test_the_wheel_carries_the_web_assets_and_no_research_code(
        installed: tuple[Path, Path]) -> None:  # fmt: skip
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "kb/templates/base.html" in names
    assert "kb/static/style.css" in names
    assert "ingest/demo/people.csv" in names
    for locale in ("pl", "ru"):
        assert f"kb/translations/core/{locale}/LC_MESSAGES/messages.mo" in names
    assert not [n for n in names if n.split("/")[0] in ("bench", "tests", "scripts", "results")]


def test_the_installed_app_serves_a_page_from_its_own_templates(
        installed: tuple[Path, Path], tmp_path: Path) -> None:  # fmt: skip
    _, python = installed
    env = clean_env(TANDEM_INSTANCE=str(tmp_path / "instance"), TANDEM_MODELS="fake")
    out = subprocess.run(
        [str(python), "-c", SERVE_A_PAGE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    site_packages = str(python.parent.parent)
    assert seen["kb"].startswith(site_packages), seen  # the wheel's kb, not the checkout's
    assert seen["template_folder"] == str(Path(seen["kb"]).parent / "templates"), seen
    assert seen["page"] == 200 and seen["title"] and seen["css"] == 200, seen
    assert seen["polish"], seen  # the catalogs came with the wheel


def test_the_installed_tandem_names_the_bench_install(
        installed: tuple[Path, Path], tmp_path: Path) -> None:  # fmt: skip
    _, python = installed
    env = clean_env(TANDEM_INSTANCE=str(tmp_path / "instance"), TANDEM_MODELS="fake")
    found = subprocess.run(
        [str(python), "-c", "import bench"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode != 0  # the research package is not part of the product
    for command in ("bench", "eval", "match-eval"):
        out = subprocess.run(
            [str(python.parent / "tandem"), command, "--help"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 1, out.stdout + out.stderr
        assert "pip install -e ./bench" in out.stderr
        assert "Traceback" not in out.stderr

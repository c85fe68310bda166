"""Browser tests: Debian's Chromium, driven headless by Playwright, against a live server.

The server is the real app (CSRF on, no test shortcuts) over a temporary SQLite instance with
the small library of tests/web/conftest.py and the fake embedder, served by werkzeug in a
thread on 127.0.0.1. Each test gets a fresh browser context (no cookies).

What the tests need is installed by scripts/browser-deps.sh (called by scripts/test.sh):
``chromium`` from Debian (not Playwright's own download, which this machine cannot reach),
the ``playwright`` Python package, and npm's ``axe-core`` for the accessibility checks. When
they are missing the tests are skipped on a workstation and fail in CI (CI=true).

Helpers for tests: ``login(page, email)``, ``accessibility_problems(page)`` (axe-core's
serious and critical violations), ``screenshot(page, name)`` (a PNG in the test's temporary
folder; also in docs/screenshots/ when TANDEM_SCREENSHOTS=1).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from web.conftest import PASSWORD, Library, load_library
from werkzeug.serving import make_server

from kb.app import create_app
from kb.config import load_settings
from kb.runtime import open_tandem
from kb.services import people

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("TANDEM_CHROMIUM", "/usr/bin/chromium")
AXE_JS = Path(os.environ.get("TANDEM_AXE_JS", ROOT / ".cache/axe/node_modules/axe-core/axe.min.js"))
SCREENSHOT_DIR = ROOT / "docs" / "screenshots"
# Chromium as root in a container, with no network beyond loopback: without the background
# networking flags it keeps trying (and failing) to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
HR_ADMIN = "ida@example.com"


def _missing() -> str | None:
    """What the browser tests lack on this machine, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (bash scripts/browser-deps.sh)"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)"
    if not AXE_JS.exists():
        return f"{AXE_JS} is missing (bash scripts/browser-deps.sh installs axe-core)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class LiveServer:
    """A running app: its base URL, the instance behind it and the library's ids."""

    url: str
    tandem: Any
    library: Library

    def __call__(self, path: str) -> str:
        return self.url + path


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app over a fresh small library, one per test module."""
    folder = tmp_path_factory.mktemp("live")
    settings = load_settings(
        {},
        {
            "instance_dir": folder / "instance",
            "database_url": f"sqlite:///{folder / 'instance' / 'tandem.sqlite3'}",
            "search_models": ("fake",),
            "import_models": ("fake",),
        },
    )
    tandem = open_tandem(settings)
    library = load_library(tandem)
    with tandem.sessions() as session:
        record = people.PersonRecord(
            name="Ida Admin", email=HR_ADMIN, roles=("hr", "admin"), languages=("pl", "en")
        )
        admin, _ = people.upsert_person(session, record)
        people.set_password(admin, PASSWORD)
        session.commit()
    app = create_app(
        test_config={"SECRET_KEY": "browser-tests", "TANDEM_MATCHING_JOBS_INLINE": True},
        tandem=tandem,
    )
    with serve_app(app, tandem, library) as server:
        yield server


@contextlib.contextmanager
def serve_app(app: Any, tandem: Any, library: Library) -> Iterator[LiveServer]:
    """Serve ``app`` on a free loopback port in a thread; closes ``tandem`` afterwards."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", tandem, library)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        tandem.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh browser context (no cookies, English first) and its page.

    ``bypass_csp`` lets the tests inject axe-core; the app itself allows no scripts.
    """
    context = browser.new_context(
        base_url=live_server.url,
        bypass_csp=True,
        locale="en-GB",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def new_page(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """``new_page(locale="pl-PL")``: another, separate browser (its own cookies)."""
    contexts: list[Any] = []

    def make(locale: str = "en-GB") -> Any:
        context = browser.new_context(
            base_url=live_server.url, bypass_csp=True, locale=locale,
            viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def login(page: Any, email: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would, and check it worked."""
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, f"login as {email} failed: still on {page.url}"


def accessibility_problems(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the current page, one line each."""
    page.add_script_tag(path=str(AXE_JS))
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(v['nodes'])}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Any, name: str, folder: Path | None = None) -> Path:
    """Save a PNG of the page in ``folder``; with TANDEM_SCREENSHOTS=1 also in docs/screenshots/."""
    target = (folder or Path(os.environ.get("TMPDIR", "/tmp"))) / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    if os.environ.get("TANDEM_SCREENSHOTS") == "1":
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, SCREENSHOT_DIR / f"{name}.png")
    return target

"""Screenshots of every page a person reaches, for a look by eye: each role, en/pl (ru for a
few), at desktop (1280 px) and phone (390 px) width.

    PYTHONPATH=. .venv/bin/python scripts/look.py [OUT] [--only TEXT] [--langs en,pl,ru]
                                                   [--widths 1280,390]

Builds the demo library (``tandem demo``'s data, with the fake embedder so it takes seconds)
in a temporary instance, adds what some pages need (a second revision, a near-duplicate draft,
a help request), serves the real app (CSRF on) on 127.0.0.1 in a thread and drives Debian's
headless Chromium with Playwright, as tests/browser/conftest.py does. One browser at a time.

Writes OUT/<role>-<page>-<lang>-<width>.png (full page; OUT defaults to /tmp/look) and
OUT/report.txt: per shot, the HTTP status, elements sticking out to the right (the page
scrolls sideways), and
short texts shown identically in English and another language (candidate untranslated
strings, to be judged by eye: names and product words are legitimately the same).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from ingest.demo import DEMO_PASSWORD, load_demo  # noqa: E402
from kb.app import create_app  # noqa: E402
from kb.config import load_settings  # noqa: E402
from kb.models import HELP_REASONS, Guide, Pair, Person, SessionNote, SharedInsight  # noqa: E402
from kb.runtime import Tandem, open_tandem  # noqa: E402
from kb.services import guides, help, people  # noqa: E402
from tests.browser.overflow import OVERFLOWING  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
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
MENTEE = "jan.kowalski@example.com"  # pair with Katarzyna Wójcik in the running programme
MENTOR = "kasia.wojcik@example.com"  # Jan's mentor, author of four guides
HR = "anna.zielinska@example.com"
RUNNING = "rm-2026-autumn"
PLANNED = "rm-2027-spring"
# Russian for a few pages only: the ones with the most interface text.
RUSSIAN = {"home", "search", "guide", "pair", "hr", "programme", "evaluation", "profile"}

# The page's short visible texts (interface strings rather than content): buttons, labels,
# headings, table heads, links in navigation, paragraphs with class hint/empty.
SHORT_TEXTS = """() => {
  const picked = new Set();
  const sel = 'button, label, h1, h2, h3, th, nav a, legend, summary, .hint, .empty, '
    + 'p.muted, .flash, .notice, .field-error, option, input[type=submit]';
  for (const el of document.querySelectorAll(sel)) {
    const text = (el.innerText || el.value || '').trim().replace(/\\s+/g, ' ');
    if (text && text.length < 120 && /[A-Za-z]{3}/.test(text)) picked.add(text);
  }
  return [...picked];
}"""


@dataclass
class Shot:
    """One page to photograph: who, where, and (optionally) what to do there first."""

    role: str
    name: str
    path: str
    action: str | None = None  # "publish" | "upload" | "search-none"
    status: int = 200


@dataclass
class Findings:
    lines: list[str] = field(default_factory=list)
    texts: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)


def build_instance(folder: Path) -> Tandem:
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
    load_demo(
        tandem.sessions,
        tandem.embedders,
        matching=tandem.matching_embedders,
        progress=False,
        demo_dir=settings.demo_dir,
    )
    tandem.search.catch_up()
    return tandem


def prepare(tandem: Tandem) -> dict[str, Any]:
    """What some pages need beyond the demo: ids and slugs for the page list."""
    with tandem.sessions() as s:
        mentor = people.get_person_by_email(s, MENTOR)
        mentee = people.get_person_by_email(s, MENTEE)
        pair = s.scalars(
            select(Pair).where(Pair.mentor_id == mentor.id, Pair.mentee_id == mentee.id)
        ).one()
        guide = (
            s.scalars(
                select(Guide).where(Guide.author_id == mentor.id, Guide.language == "pl")
            ).first()
            or s.scalars(select(Guide).where(Guide.author_id == mentor.id)).one()
        )
        current = guide.current
        assert current is not None
        guides.save_revision(
            s, guide, mentor, title=current.title + " (2026)",
            body_md=current.body_md.replace("\n\n", "\n\nDopisane w grudniu.\n\n", 1)
            + "\n\n## Nowa sekcja\n\nKrótki akapit dodany w drugiej wersji.\n",
            embedders=tandem.embedders,
        )  # fmt: skip
        # A draft that says what an existing guide says: publishing it shows the check.
        twin = guides.create_guide(
            s, mentor, title=current.title + " — kopia robocza",
            body_md=current.body_md, language=guide.language, tags=guide.tags,
        )  # fmt: skip
        request = help.ask_for_help(s, pair, mentee, HELP_REASONS[0], "Rzadko się widujemy.")
        s.commit()
        # A note of the pair's mentee (the mentor may only read it: the editor is for Jan).
        note_id = s.scalar(
            select(SessionNote.id)
            .where(SessionNote.pair_id == pair.id, SessionNote.author_id == mentee.id)
            .order_by(SessionNote.id)
        )
        insight_id = s.scalar(select(SharedInsight.id).order_by(SharedInsight.id))
        return {
            "pair": pair.id,
            "guide": guide.slug,
            "twin": twin.slug,
            "note": note_id,
            "insight": insight_id,
            "help": request.id,
            "mentee_id": mentee.id,
            "mentor_id": mentor.id,
        }


def pages(ids: dict[str, Any]) -> list[Shot]:
    pair, guide = ids["pair"], ids["guide"]
    every = [
        Shot("{role}", "home", "/"),
        Shot("{role}", "search", "/search?q=Excel"),
        Shot("{role}", "search-none", "/search?q=zzqxwv"),
        Shot("{role}", "guides", "/guides"),
        Shot("{role}", "guide", f"/guides/{guide}"),
        Shot("{role}", "profile", "/account/profile"),
        Shot("{role}", "password", "/account/password"),
        Shot("{role}", "tokens", "/account/tokens"),
        Shot("{role}", "inbox", "/inbox/"),
        Shot("{role}", "my-data", "/me/data"),
        Shot("{role}", "programmes", "/programmes/"),
        Shot("{role}", "programme", f"/programmes/{RUNNING}"),
        Shot("{role}", "calendar", "/calendar"),
        Shot("{role}", "not-found", "/guides/no-such-guide", status=404),
        Shot("{role}", "person", f"/people/{ids['mentor_id']}"),
    ]
    pair_pages = [
        Shot("{role}", "pair", "/pair"),
        Shot("{role}", "note", f"/notes/{ids['note']}"),
        Shot("{role}", "note-edit", f"/notes/{ids['note']}/edit"),
        Shot("{role}", "note-new", f"/pair/{pair}/notes/new"),
        Shot("{role}", "insight", f"/insights/{ids['insight']}"),
        Shot("{role}", "help", f"/pairs/{pair}/help"),
        Shot("{role}", "onboarding", f"/programmes/pairs/{pair}/onboarding"),
        Shot("{role}", "feedback", "/programmes/feedback"),
        Shot("{role}", "feedback-kickoff", f"/programmes/pairs/{pair}/feedback/kickoff"),
        Shot("{role}", "feedback-mid", f"/programmes/pairs/{pair}/feedback/mid"),
        Shot("{role}", "forbidden", f"/hr/programmes/{RUNNING}", status=403),
    ]
    mentor = [
        Shot("mentor", "my-guides", "/guides/mine"),
        Shot("mentor", "guide-new", "/guides/new"),
        Shot("mentor", "guide-edit", f"/guides/{guide}/edit"),
        Shot("mentor", "revisions", f"/guides/{guide}/revisions"),
        Shot("mentor", "diff", f"/guides/{guide}/diff"),
        Shot("mentor", "publish", f"/guides/{ids['twin']}/edit", action="publish"),
        Shot("mentor", "videos", "/guides/videos"),
    ]
    hr = [
        Shot("hr", "hr", "/hr/"),
        Shot("hr", "hr-programme", f"/hr/programmes/{RUNNING}"),
        Shot("hr", "hr-programme-planned", f"/hr/programmes/{PLANNED}"),
        Shot("hr", "programme-edit", f"/hr/programmes/{RUNNING}/edit"),
        Shot("hr", "programme-new", "/hr/programmes/new"),
        Shot("hr", "enrolment", f"/hr/programmes/{PLANNED}/enrolment"),
        Shot("hr", "preparation", f"/hr/programmes/{PLANNED}/preparation"),
        Shot("hr", "weights", f"/hr/programmes/{RUNNING}/weights"),
        Shot("hr", "gaps", f"/hr/programmes/{RUNNING}/gaps"),
        Shot("hr", "proposal", f"/hr/programmes/{PLANNED}/proposal"),
        Shot("hr", "recommend", f"/hr/recommend?mentee={MENTEE}"),
        Shot("hr", "health", f"/hr/programmes/{RUNNING}/health"),
        Shot("hr", "evaluation", f"/hr/programmes/{RUNNING}/evaluation"),
        Shot("hr", "evaluation-print", f"/hr/programmes/{RUNNING}/evaluation/print"),
        Shot("hr", "questions", f"/hr/programmes/{RUNNING}/questions"),
        Shot("hr", "help-requests", "/hr/help"),
        Shot("hr", "repair", f"/hr/help/{ids['help']}/repair"),
        Shot("hr", "audit", "/hr/audit", status=403),  # the demo's HR are not admins
        Shot("hr", "upload", "/hr/people/upload"),
        Shot("hr", "upload-dry-run", "/hr/people/upload", action="upload"),
        Shot("hr", "directory", "/account/people/"),
        Shot("hr", "manage", f"/account/people/{ids['mentee_id']}"),
    ]
    shots: list[Shot] = [Shot("anon", "login", "/login")]
    for role in ("mentee", "mentor", "hr"):
        for shot in every:
            shots.append(Shot(role, shot.name, shot.path, shot.action, shot.status))
    for role in ("mentee", "mentor"):
        for shot in pair_pages:
            shots.append(Shot(role, shot.name, shot.path, shot.action, shot.status))
    return shots + mentor + hr


UPLOAD_CSV = (
    "name,email,department,manager_email,languages,roles,expertise,goals,opt_in,capacity,"
    "style,availability\n"
    "Ewa Nowa-Kowalczykowska,ewa.nowa@example.com,Kontroling i raportowanie finansowe,,pl;en,"
    "mentee,,nauczyć się Power BI,yes,,structured,mon-am\n"
    "Jan Kowalski,jan.kowalski@example.com,Operacje,,pl;en,mentee,,Excel,yes,,structured,"
    "tue-am\n"
    "Bez Adresu,,Sprzedaż,,pl,mentor,Excel,,yes,2,casual,mon-am\n"
)


@contextmanager
def serve(tandem: Tandem) -> Iterator[str]:
    app = create_app(
        test_config={"SECRET_KEY": "look", "TANDEM_MATCHING_JOBS_INLINE": True}, tandem=tandem
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def set_language(tandem: Tandem, email: str, lang: str) -> None:
    with tandem.sessions() as s:
        s.scalars(select(Person).where(Person.email == email)).one().ui_language = lang
        s.commit()


def act(page: Any, shot: Shot, folder: Path) -> None:
    """The step before the picture, for pages that answer a form."""
    if shot.action == "publish":
        page.locator("form[action$='/publish'] button[type=submit]").first.click()
        page.wait_for_load_state()
    elif shot.action == "upload":
        csv = folder / "people.csv"
        csv.write_text(UPLOAD_CSV, encoding="utf-8")
        page.set_input_files("input[type=file]", str(csv))
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_load_state()


def run(args: argparse.Namespace) -> int:
    from playwright.sync_api import sync_playwright

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    langs = args.langs.split(",")
    widths = [int(w) for w in args.widths.split(",")]
    emails = {"mentee": MENTEE, "mentor": MENTOR, "hr": HR}
    findings = Findings()
    with tempfile.TemporaryDirectory(prefix="look-") as tmp:
        tandem = build_instance(Path(tmp))
        ids = prepare(tandem)
        shots = [s for s in pages(ids) if not args.only or args.only in f"{s.role}-{s.name}"]
        with serve(tandem) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for lang in langs:
                for width in widths:
                    for role in ("anon", "mentee", "mentor", "hr"):
                        mine = [s for s in shots if s.role == role]
                        if lang == "ru":
                            mine = [s for s in mine if s.name in RUSSIAN or role == "anon"]
                        if not mine:
                            continue
                        if role != "anon":
                            set_language(tandem, emails[role], lang)
                        context = browser.new_context(
                            base_url=base,
                            locale={"en": "en-GB", "pl": "pl-PL", "ru": "ru-RU"}[lang],
                            viewport={"width": width, "height": 900 if width > 500 else 844},
                        )
                        context.set_default_timeout(20_000)
                        page = context.new_page()
                        if role != "anon":
                            page.goto("/login")
                            page.fill("input[name=email]", emails[role])
                            page.fill("input[name=password]", DEMO_PASSWORD)
                            page.click("main form button[type=submit]")
                            page.wait_for_load_state()
                        for shot in mine:
                            photograph(page, shot, lang, width, out, Path(tmp), findings)
                        context.close()
            browser.close()
        tandem.close()
    write_report(out, findings, langs)
    print(f"{len(list(out.glob('*.png')))} PNGs and report.txt in {out}")
    return 0


def photograph(
    page: Any, shot: Shot, lang: str, width: int, out: Path, tmp: Path, findings: Findings
) -> None:
    name = f"{shot.role}-{shot.name}-{lang}-{width}"
    answer = page.goto(shot.path)
    status = answer.status if answer is not None else 0
    act(page, shot, tmp)
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    notes = []
    if status != shot.status:
        notes.append(f"status {status} (expected {shot.status})")
    if page.locator("html").get_attribute("lang") != lang:
        notes.append(f"<html lang={page.locator('html').get_attribute('lang')}>")
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    if scroll > width:
        notes.append(f"scrollWidth {scroll}: " + ", ".join(page.evaluate(OVERFLOWING)))
    findings.texts[(shot.role, shot.name, lang)] = page.evaluate(SHORT_TEXTS)
    line = f"{name}: " + ("; ".join(notes) if notes else "ok")
    findings.lines.append(line)
    print(line, flush=True)


def write_report(out: Path, findings: Findings, langs: list[str]) -> None:
    lines = ["# shots", *findings.lines, "", "# texts identical to English (candidates)"]
    for (role, name, lang), texts in sorted(findings.texts.items()):
        if lang == "en":
            continue
        english = set(findings.texts.get((role, name, "en"), []))
        same = sorted(t for t in texts if t in english)
        if same:
            lines.append(f"{role}-{name}-{lang}: " + " | ".join(same))
    (out / "report.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("/tmp/look"))
    parser.add_argument("--only", default="", help="only shots whose role-page contains this")
    parser.add_argument("--langs", default="en,pl,ru")
    parser.add_argument("--widths", default="1280,390")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

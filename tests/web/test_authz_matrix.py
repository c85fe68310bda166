"""The authorisation matrix: every route × every role × real, missing and huge ids.

The cases come from ``app.url_map``: a route without a line in ``POLICY`` fails the suite, so
whoever adds a route declares who may use it. Roles are logged in by putting their session
into the cookie (no password hashing per case); the deactivated account's session was opened
before its deactivation, so it must count as anonymous.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.routing import Rule

from kb.config import load_settings
from kb.models import Guide, Pair, SessionNote
from kb.runtime import Tandem, open_tandem
from kb.services import (
    calendar,
    enrolment,
    guides,
    inbox,
    meetings,
    notes,
    people,
    programmes,
    tokens,
    uploads,
)
from kb.services import help as help_requests

from .conftest import Library, load_library, make_app

ROLES = ("anonymous", "mentee", "mentor", "other_pair", "hr", "hr_admin", "deactivated")
EMAILS = {
    "mentee": "bogdan@example.com",  # Anna's mentee: the pair with the notes
    "mentor": "anna@example.com",
    "other_pair": "celina@example.com",  # mentor of another pair
    "hr": "hania@example.com",
    "hr_admin": "ida@example.com",
    "deactivated": "jerzy@example.com",  # was mentor and HR administrator
}
HUGE = 2**64

# Outcomes: a status code, or "login" (302 to the login page).
OK, MOVED, LOGIN, FORBIDDEN, MISSING = "200", "302", "login", "403", "404"
UNAUTHORIZED = "401"  # the JSON API's answer without a valid session or token


def public(status: str = OK) -> dict[str, str]:
    return dict.fromkeys(ROLES, status)


def logged_in(status: str = OK) -> dict[str, str]:
    return {**public(status), "anonymous": LOGIN, "deactivated": LOGIN}


def pair_members(status: str, outsiders: str) -> dict[str, str]:
    """The pair's mentor and mentee get ``status``; everybody else ``outsiders``."""
    return {**public(outsiders), "mentor": status, "mentee": status}


def api_members(status: str, outsiders: str = MISSING) -> dict[str, str]:
    """The JSON API for a pair's members: 401 without a valid session or token."""
    return {**pair_members(status, outsiders), "anonymous": "401", "deactivated": "401"}


def hr_only(status: str = OK) -> dict[str, str]:
    return {**logged_in(FORBIDDEN), "hr": status, "hr_admin": status}


def api_hr(status: str = OK) -> dict[str, str]:
    """An HR-only JSON API route: 401 without a valid session or token, 403 without HR."""
    return {**public(FORBIDDEN), "anonymous": "401", "deactivated": "401", "hr": status,
            "hr_admin": status}  # fmt: skip


def hr_admin_only(status: str = MOVED) -> dict[str, str]:
    return {**logged_in(FORBIDDEN), "hr_admin": status}


def author_only(status: str) -> dict[str, str]:
    """The guide's author (the mentor) gets ``status``; other accounts 404, as if missing."""
    return {**logged_in(MISSING), "mentor": status}


def api_author(status: str) -> dict[str, str]:
    """The guide API for its author (the mentor): others 404, no valid login 401."""
    return {**author_only(status), "anonymous": "401", "deactivated": "401"}


# Who may write guides: mentors and HR (the mentee may not).
WRITERS = {**logged_in(OK), "mentee": FORBIDDEN}


@dataclass(frozen=True)
class Policy:
    """Who gets what from one route and method, with real ids.

    ``args`` builds the URL arguments for the real case from the world (it may create a fresh
    object, so a case that changes it leaves the others alone). With a missing or huge id, a
    role that passes the route's login and role checks gets 404; others get what they get with
    a real id.
    """

    real: dict[str, str]
    args: Callable[[World], dict[str, Any]] = lambda world: {}
    query: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None  # a JSON body instead of the form ``data``


# One line per (endpoint, method). New routes must be added here.
POLICY: dict[tuple[str, str], Policy] = {
    ("main.home", "GET"): Policy(public()),
    ("main.health", "GET"): Policy(public()),
    ("auth.login", "GET"): Policy(public()),
    ("auth.login", "POST"): Policy(public()),  # an empty form is shown again
    ("auth.logout", "POST"): Policy(logged_in(MOVED)),
    # Single sign-on is off unless configured (tests/web/test_sso.py runs it for real).
    ("auth.sso_start", "GET"): Policy(public(MISSING)),
    ("auth.sso_callback", "GET"): Policy(public(MISSING)),
    ("search.search_page", "GET"): Policy(public(), query={"q": "excel"}),
    ("search.search_api", "GET"): Policy(public(), query={"q": "excel"}),
    ("guides.index", "GET"): Policy(public()),
    ("guides.view", "GET"): Policy(public(), lambda w: {"slug": w.library.guide_slug}),
    ("guides.by_id", "GET"): Policy(public(MOVED), lambda w: {"guide_id": w.guide_id}),
    ("guides.mine", "GET"): Policy(logged_in()),
    ("guides.new", "GET"): Policy(WRITERS),
    ("guides.new", "POST"): Policy(
        {**WRITERS, "mentor": MOVED, "other_pair": MOVED, "hr": MOVED, "hr_admin": MOVED},
        data={"title": "Matrix guide", "body_md": "A guide for one matrix case."},
    ),
    # Uploaded videos: writers upload (no file: 400). One that no guide links to yet is the
    # uploader's alone (404 for everyone else); its uploader and HR may delete it (the first
    # post asks to confirm), to others it is not there.
    ("guides.videos", "GET"): Policy(WRITERS),
    ("guides.videos", "POST"): Policy(
        {**WRITERS, **{r: "400" for r, v in WRITERS.items() if v == OK}}
    ),
    ("guides.video_file", "GET"): Policy(
        {**public(MISSING), "mentor": OK}, lambda w: {"name": w.fresh_video()}
    ),
    ("guides.delete_video", "POST"): Policy(
        {**logged_in(MISSING), "mentor": OK, "hr": OK, "hr_admin": OK},
        lambda w: {"name": w.fresh_video()},
    ),
    ("guides.edit", "GET"): Policy(author_only(OK), lambda w: {"slug": w.fresh_guide()}),
    ("guides.edit", "POST"): Policy(
        author_only(MOVED),
        lambda w: {"slug": w.fresh_guide()},
        data={"title": "Matrix guide, edited", "body_md": "Edited for one matrix case."},
    ),
    ("guides.publish", "POST"): Policy(  # confirmed: other matrix guides are near-duplicates
        author_only(MOVED),
        lambda w: {"slug": w.fresh_guide(published=False)},
        data={"confirm": "1"},
    ),  # fmt: skip
    ("guides.unpublish", "POST"): Policy(author_only(MOVED), lambda w: {"slug": w.fresh_guide()}),
    ("guides.archive", "POST"): Policy(
        {**author_only(MOVED), "hr": MOVED, "hr_admin": MOVED},
        lambda w: {"slug": w.fresh_guide()},
    ),
    ("guides.revisions", "GET"): Policy(public(), lambda w: {"slug": w.library.guide_slug}),
    ("guides.diff", "GET"): Policy(public(), lambda w: {"slug": w.library.guide_slug}),
    ("guides.restore", "POST"): Policy(
        author_only(MOVED), lambda w: {"slug": w.fresh_guide(revisions=2), "number": 1}
    ),
    ("guides.insight", "GET"): Policy(
        public(), lambda w: {"insight_id": w.library.published_insight_id}
    ),
    ("notes.my_pair", "GET"): Policy(logged_in()),
    ("notes.view", "GET"): Policy(
        pair_members(OK, MISSING), lambda w: {"note_id": w.library.private_note_id}
    ),
    ("notes.propose", "POST"): Policy(
        {**pair_members(MOVED, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"note_id": w.fresh_note(insight=False)},
        data={"text": "A fresh insight."},
    ),
    ("notes.consent", "POST"): Policy(
        {**pair_members(MOVED, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"note_id": w.fresh_note(insight=True)},
    ),
    ("notes.withdraw", "POST"): Policy(
        {**pair_members(MOVED, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"note_id": w.fresh_note(insight=True)},
    ),
    ("notes.new", "GET"): Policy(
        {**pair_members(OK, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"pair_id": w.pair_id},
    ),
    ("notes.new", "POST"): Policy(
        {**pair_members(MOVED, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"pair_id": w.pair_id},
        data={"title": "Matrix session", "language": "en", "learned": "Pivot tables."},
    ),
    ("notes.edit", "GET"): Policy(
        {**pair_members(OK, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"note_id": w.fresh_note(insight=False)},
    ),
    ("notes.edit", "POST"): Policy(
        {**pair_members(MOVED, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"note_id": w.fresh_note(insight=False)},
        data={"title": "Edited in the matrix", "language": "en", "body_md": "Edited."},
    ),
    ("notes.delete", "POST"): Policy(
        {**pair_members(MOVED, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"note_id": w.fresh_note(insight=True)},
    ),
    ("hr.index", "GET"): Policy(hr_only()),
    ("hr.programme", "GET"): Policy(hr_only(), lambda w: {"slug": "spring"}),
    ("hr.correct_pair", "POST"): Policy(hr_only(MOVED), lambda w: {"pair_id": w.pair_id}),
    ("hr.proposal", "GET"): Policy(hr_only(), lambda w: {"slug": "spring"}),
    ("hr.apply_proposal", "POST"): Policy(hr_only(MOVED), lambda w: {"slug": "spring"}),
    ("hr.decide_pair", "POST"): Policy(
        hr_only(MOVED),
        lambda w: {"slug": "spring"},
        data={"mentor": "anna@example.com", "mentee": "bogdan@example.com", "decision": "reject"},
    ),
    ("hr.gaps", "GET"): Policy(hr_only(), lambda w: {"slug": "spring"}),
    ("hr.recommend", "GET"): Policy(hr_only(), query={"mentee": "bogdan@example.com"}),
    ("hr.deactivate", "POST"): Policy(hr_admin_only(), lambda w: {"person_id": w.fresh_person()}),
    ("hr.audit_log", "GET"): Policy(hr_admin_only(OK)),
    ("inbox.index", "GET"): Policy(logged_in()),
    ("inbox.read", "POST"): Policy(
        {**public(MISSING), "mentor": MOVED, "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"message_id": w.fresh_message()},
    ),
    ("inbox.read_all", "POST"): Policy(logged_in(MOVED)),
    # Everyone logged in gets their own data, never anyone else's (no id in the URL).
    ("privacy.my_data", "GET"): Policy(logged_in()),
    ("privacy.download", "POST"): Policy(logged_in()),
    ("api.my_data", "GET"): Policy({**public(), "anonymous": "401", "deactivated": "401"}),
    ("programmes.create", "GET"): Policy(hr_only()),
    ("programmes.create", "POST"): Policy(hr_only("400")),  # an empty form is shown again
    ("programmes.edit", "GET"): Policy(hr_only(), lambda w: {"slug": "spring"}),
    ("programmes.edit", "POST"): Policy(hr_only("400"), lambda w: {"slug": "spring"}),
    ("programmes.enrolment", "GET"): Policy(hr_only(), lambda w: {"slug": "spring"}),
    ("programmes.invite", "POST"): Policy(hr_only(MOVED), lambda w: {"slug": "spring"}),
    ("programmes.prepared", "POST"): Policy(
        hr_only(MOVED), lambda w: {"enrolment_id": w.fresh_enrolment()}
    ),
    ("programmes.accept", "POST"): Policy(
        hr_only(MOVED), lambda w: {"enrolment_id": w.fresh_enrolment()}
    ),
    ("programmes.preparation", "GET"): Policy(hr_only(), lambda w: {"slug": "spring"}),
    ("programmes.create_pair", "POST"): Policy(hr_only(MOVED), lambda w: {"slug": "spring"}),
    ("programmes.swap", "POST"): Policy(hr_only(MOVED), lambda w: {"pair_id": w.pair_id}),
    ("programmes.weights", "GET"): Policy(hr_only(), lambda w: {"slug": "spring"}),
    ("programmes.weights", "POST"): Policy(hr_only(MOVED), lambda w: {"slug": "spring"}),
    ("programmes.index", "GET"): Policy(logged_in()),
    ("programmes.people_upload", "GET"): Policy(hr_only()),
    ("programmes.people_upload", "POST"): Policy(hr_only("400")),  # no file: rejected
    ("programmes.people_upload_confirm", "POST"): Policy(hr_only(MOVED)),  # no data: back
    # "spring" takes no applications: only HR (and its enrolled people) see its page.
    ("programmes.view", "GET"): Policy(
        {**logged_in(MISSING), "hr": OK, "hr_admin": OK}, lambda w: {"slug": "spring"}
    ),
    ("programmes.apply", "POST"): Policy(logged_in(MISSING), lambda w: {"slug": "spring"}),
    ("programmes.answer", "POST"): Policy(
        {**logged_in(MISSING), "mentee": MOVED}, lambda w: {"enrolment_id": w.fresh_enrolment()}
    ),
    ("programmes.leave", "POST"): Policy(
        {**logged_in(MISSING), "mentee": MOVED}, lambda w: {"enrolment_id": w.fresh_enrolment()}
    ),
    ("programmes.onboarding", "GET"): Policy(
        {**pair_members(OK, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"pair_id": w.pair_id},
    ),
    ("programmes.onboarding", "POST"): Policy(
        {**pair_members(MOVED, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"pair_id": w.pair_id},
    ),
    ("sessions.plan", "POST"): Policy(
        {**pair_members(MOVED, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"pair_id": w.pair_id},
        data={"date": "2026-12-07", "time": "10:00", "minutes": "60", "tags": "ai"},
    ),
    ("sessions.mark", "POST"): Policy(
        {**pair_members(MOVED, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"meeting_id": w.fresh_meeting()},
        data={"status": "held"},
    ),
    ("sessions.ics", "GET"): Policy(
        {**pair_members(OK, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"meeting_id": w.fresh_meeting()},
    ),
    ("sessions.calendar_page", "GET"): Policy(logged_in()),
    ("sessions.new_feed", "POST"): Policy(logged_in(MOVED)),
    ("sessions.revoke_feed", "POST"): Policy(logged_in(MOVED)),
    # The secret address: the token alone opens it, for whoever holds it, logged in or not.
    ("sessions.feed", "GET"): Policy(public(), lambda w: {"token": w.feed_token()}),
    ("sessions.ask_help", "GET"): Policy(
        {**pair_members(OK, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"pair_id": w.pair_id},
    ),
    ("sessions.ask_help", "POST"): Policy(
        {**pair_members(MOVED, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"pair_id": w.pair_id},
        data={"reason": "other"},
    ),
    ("sessions.help_requests", "GET"): Policy(hr_only()),
    ("sessions.handle_help", "POST"): Policy(
        hr_only(MOVED), lambda w: {"request_id": w.fresh_help()}, data={"action": "close"}
    ),
    ("sessions.repair_choices", "GET"): Policy(hr_only(), lambda w: {"request_id": w.fresh_help()}),
    ("sessions.programme_health", "GET"): Policy(hr_only(), lambda w: {"slug": "spring"}),
    ("sessions.programme_health", "POST"): Policy(
        hr_only(MOVED), lambda w: {"slug": "spring"}, data={"quiet_weeks": "4", "pause_weeks": "4"}
    ),
    ("sessions.programme_health_csv", "GET"): Policy(hr_only(), lambda w: {"slug": "spring"}),
    ("evaluation.mine", "GET"): Policy(logged_in()),
    ("evaluation.give", "GET"): Policy(
        {**pair_members(OK, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"pair_id": w.pair_id, "round_": "mid"},
    ),
    ("evaluation.give", "POST"): Policy(
        {**pair_members(MOVED, MISSING), "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"pair_id": w.pair_id, "round_": "mid"},
    ),
    ("api.programme_evaluation", "GET"): Policy(
        {**hr_only(), "anonymous": "401", "deactivated": "401"}, lambda w: {"slug": "spring"}
    ),
    ("evaluation.evaluation_page", "GET"): Policy(hr_only(), lambda w: {"slug": "spring"}),
    ("evaluation.evaluation_print", "GET"): Policy(hr_only(), lambda w: {"slug": "spring"}),
    ("evaluation.evaluation_csv", "GET"): Policy(
        hr_only(), lambda w: {"slug": "spring", "table": "ratings"}
    ),
    ("evaluation.questions", "GET"): Policy(hr_only(), lambda w: {"slug": "spring"}),
    ("evaluation.questions", "POST"): Policy(hr_only(MOVED), lambda w: {"slug": "spring"}),
    ("static", "GET"): Policy(public(), lambda w: {"filename": "style.css"}),
    # Accounts: a person's own API tokens (someone else's token is "not found").
    ("accounts.api_tokens", "GET"): Policy(logged_in()),
    ("accounts.api_tokens", "POST"): Policy(logged_in(), data={"name": "matrix script"}),
    ("accounts.revoke_token", "POST"): Policy(
        {**public(MISSING), "mentor": MOVED, "anonymous": LOGIN, "deactivated": LOGIN},
        lambda w: {"token_id": w.fresh_token()},
    ),
    # Set-password links: without a valid link, "not found" for everyone.
    ("accounts.set_password", "GET"): Policy(public(MISSING)),
    ("accounts.set_password", "POST"): Policy(public(MISSING)),
    ("accounts.password", "GET"): Policy(logged_in()),
    ("accounts.password", "POST"): Policy(logged_in("400")),  # an empty form is shown again
    ("accounts.profile", "GET"): Policy(logged_in()),
    ("accounts.profile", "POST"): Policy(logged_in("400"), data={"capacity": "99"}),
    # One's own single sign-on link: nobody in the matrix has one, so it only goes back.
    ("accounts.unlink_own_sso", "POST"): Policy(logged_in(MOVED)),
    ("people.view", "GET"): Policy(public(), lambda w: {"person_id": w.fresh_person()}),
    # HR's account management: links by HR, deactivation and roles by administrators.
    ("accounts.directory", "GET"): Policy(hr_only()),
    ("accounts.manage", "GET"): Policy(hr_only(), lambda w: {"person_id": w.fresh_person()}),
    ("accounts.issue_link", "POST"): Policy(hr_only(), lambda w: {"person_id": w.fresh_person()}),
    ("accounts.unlink_sso", "POST"): Policy(
        hr_only(MOVED), lambda w: {"person_id": w.fresh_person()}
    ),
    ("accounts.deactivate", "POST"): Policy(
        hr_admin_only(), lambda w: {"person_id": w.fresh_person()}
    ),
    ("accounts.reactivate", "POST"): Policy(
        hr_admin_only(), lambda w: {"person_id": w.fresh_person()}
    ),
    ("accounts.roles", "POST"): Policy(
        hr_admin_only(), lambda w: {"person_id": w.fresh_person()}, data={"roles": "mentee"}
    ),
    # The JSON API answers 401 (never a redirect) without a valid session or token.
    ("api.openapi", "GET"): Policy(public()),
    ("api.me", "GET"): Policy({**public(), "anonymous": "401", "deactivated": "401"}),
    ("api.update_me", "PATCH"): Policy(  # a form body is refused: the API takes JSON
        {**public("400"), "anonymous": "401", "deactivated": "401"}, data={"goals": "x"}
    ),
    # Notes over the API: the pair's two members only; HR and another pair get 404.
    ("api.programme_health", "GET"): Policy(
        {**hr_only(), "anonymous": "401", "deactivated": "401"}, lambda w: {"slug": "spring"}
    ),
    # The re-pair picker over the API: HR only. The POST without a body is refused (400)
    # after the pair is found, so a missing pair is still a 404 for HR.
    ("api.repair", "GET"): Policy(api_hr(), lambda w: {"pair_id": w.pair_id}),
    ("api.repair", "POST"): Policy(api_hr("400"), lambda w: {"pair_id": w.pair_id}),
    ("api.list_notes", "GET"): Policy(api_members(OK, OK)),
    ("api.create_note", "POST"): Policy(
        api_members("201"),
        lambda w: {"pair_id": w.pair_id},
        json={"title": "API note", "body_md": "Written by the matrix."},
    ),  # fmt: skip
    ("api.note", "GET"): Policy(api_members(OK), lambda w: {"note_id": w.library.private_note_id}),
    ("api.note", "PATCH"): Policy(
        api_members(OK),
        lambda w: {"note_id": w.fresh_note(insight=False)},
        json={"title": "Changed by the matrix"},
    ),  # fmt: skip
    ("api.note", "DELETE"): Policy(
        api_members("204"), lambda w: {"note_id": w.fresh_note(insight=True)}
    ),
    ("api.insight", "POST"): Policy(
        api_members(OK),
        lambda w: {"note_id": w.fresh_note(insight=False)},
        json={"text": "An insight from the matrix."},
    ),  # fmt: skip
    ("api.consent_insight", "POST"): Policy(
        api_members(OK), lambda w: {"note_id": w.fresh_note(insight=True)}
    ),
    ("api.insight", "DELETE"): Policy(
        api_members("204"), lambda w: {"note_id": w.fresh_note(insight=True)}
    ),
    # Guides over the API: the pages' permissions; 401 instead of the login redirect.
    ("api.list_guides", "GET"): Policy(public()),
    ("api.get_guide", "GET"): Policy(public(), lambda w: {"slug": w.library.guide_slug}),
    ("api.create_guide", "POST"): Policy(
        {**public("201"), "mentee": FORBIDDEN, "anonymous": "401", "deactivated": "401"},
        json={"title": "API guide", "body_md": "Written by the matrix."},
    ),
    ("api.change_guide", "PATCH"): Policy(
        api_author(OK), lambda w: {"slug": w.fresh_guide()}, json={"title": "Changed"}
    ),
    ("api.publish_guide", "POST"): Policy(
        api_author(OK),
        lambda w: {"slug": w.fresh_guide(published=False)},
        json={"confirm": True},
    ),  # fmt: skip
    ("api.unpublish_guide", "POST"): Policy(api_author(OK), lambda w: {"slug": w.fresh_guide()}),
    ("api.archive_guide", "POST"): Policy(
        {**api_author(OK), "hr": OK, "hr_admin": OK}, lambda w: {"slug": w.fresh_guide()}
    ),
    ("api.guide_revisions", "GET"): Policy(public(), lambda w: {"slug": w.library.guide_slug}),
    ("api.restore_revision", "POST"): Policy(
        api_author(OK), lambda w: {"slug": w.fresh_guide(revisions=2), "number": 1}
    ),
    # Programmes over the API: HR only; without credentials a JSON 401. The matrix posts a
    # form body, which the API refuses (400) once the caller may use the route.
    ("api.list_programmes", "GET"): Policy(api_hr()),
    ("api.create_programme", "POST"): Policy(api_hr("400"), data={"slug": "x", "name": "X"}),
    ("api.get_programme", "GET"): Policy(api_hr(), lambda w: {"slug": "spring"}),
    ("api.update_programme", "PATCH"): Policy(api_hr("400"), lambda w: {"slug": "spring"}),
    ("api.export", "GET"): Policy(api_hr(), lambda w: {"slug": "spring"}),
    ("api.invite", "POST"): Policy(api_hr("400"), lambda w: {"slug": "spring"}),
    ("api.create_pair", "POST"): Policy(api_hr("400"), lambda w: {"slug": "spring"}),
    ("api.set_weights", "PUT"): Policy(api_hr("400"), lambda w: {"slug": "spring"}),
    # The language switcher: anyone may choose (303 back to the page).
    ("i18n.switch", "POST"): Policy(public("303"), data={"lang": "pl", "next": "/"}),
}


@dataclass
class World:
    """One instance for the whole matrix, with the web tests' library plus two accounts."""

    tandem: Tandem
    app: Flask
    library: Library
    guide_id: int
    pair_id: int
    deactivated_cookie: str
    counter: int = 0

    def session_id(self, role: str) -> str | None:
        """What Flask-Login keeps in the session for ``role`` (None: anonymous)."""
        if role == "anonymous":
            return None
        if role == "deactivated":
            return self.deactivated_cookie
        with self.tandem.sessions() as s:
            found = people.find_person(s, EMAILS[role])
            assert found is not None
            return f"{found.id}:{found.session_version}"

    def fresh_note(self, insight: bool) -> int:
        """A new note of the mentor's pair (with a pending insight if asked)."""
        with self.tandem.sessions() as s:
            note = s.get(SessionNote, self.library.private_note_id)
            assert note is not None
            fresh = notes.create_note(
                s, note.pair, note.pair.mentor, title="Matrix note", language="en",
                body_md="A note for one matrix case.", embedders=self.tandem.embedders,
            )  # fmt: skip
            if insight:
                notes.propose_insight(
                    s, fresh, note.pair.mentee, "Something to share.",
                    embedders=self.tandem.embedders,
                )  # fmt: skip
            s.commit()
            return fresh.id

    def fresh_message(self) -> int:
        """A new inbox notice for the mentor."""
        with self.tandem.sessions() as s:
            mentor = people.find_person(s, EMAILS["mentor"])
            assert mentor is not None
            message = inbox.notify(s, mentor, "welcome")
            assert message is not None
            s.commit()
            return message.id

    def fresh_enrolment(self) -> int:
        """The mentee invited to a new programme (each case its own)."""
        self.counter += 1
        with self.tandem.sessions() as s:
            hr = people.find_person(s, EMAILS["hr"])
            mentee = people.find_person(s, EMAILS["mentee"])
            assert hr is not None and mentee is not None
            found, _ = programmes.upsert_programme(s, slug=f"m{self.counter}", name="Matrix")
            invited = enrolment.invite(s, found, mentee, "mentee", hr)
            s.commit()
            return invited.id

    def fresh_meeting(self) -> int:
        """A new planned session of the mentor's pair."""
        with self.tandem.sessions() as s:
            pair = s.get(Pair, self.pair_id)
            assert pair is not None
            meeting = meetings.plan_meeting(
                s, pair, pair.mentor, day=dt.date(2026, 12, 7), start=dt.time(10), minutes=60
            )
            s.commit()
            return meeting.id

    def feed_token(self) -> str:
        """The mentor's secret calendar address (made once)."""
        with self.tandem.sessions() as s:
            mentor = people.find_person(s, EMAILS["mentor"])
            assert mentor is not None
            feed = calendar.feed_of(s, mentor) or calendar.new_feed(s, mentor)
            s.commit()
            return feed.token

    def fresh_help(self) -> int:
        """A new open request for help by the mentee."""
        with self.tandem.sessions() as s:
            pair = s.get(Pair, self.pair_id)
            assert pair is not None
            request = help_requests.ask_for_help(s, pair, pair.mentee, "other")
            s.commit()
            return request.id

    def fresh_guide(self, published: bool = True, revisions: int = 1) -> str:
        """A new guide by the mentor (published unless asked), with ``revisions`` revisions."""
        self.counter += 1
        with self.tandem.sessions() as s:
            author = people.find_person(s, EMAILS["mentor"])
            assert author is not None
            guide = guides.create_guide(
                s, author, title=f"Matrix guide {self.counter}", language="en",
                body_md=f"Matrix guide number {self.counter}.",
            )  # fmt: skip
            for n in range(2, revisions + 1):
                guides.save_revision(
                    s, guide, author, title=guide.title, body_md=f"Revision {n}.",
                    embedders=self.tandem.embedders,
                )  # fmt: skip
            if published:
                guides.publish(s, guide, author, self.tandem.embedders)
            s.commit()
            return guide.slug

    def fresh_token(self) -> int:
        """A new API token of the mentor's."""
        with self.tandem.sessions() as s:
            mentor = people.find_person(s, EMAILS["mentor"])
            assert mentor is not None
            for old in tokens.list_tokens(s, mentor, revoked=False):  # stay under the limit
                tokens.revoke_token(s, mentor, old.id)
            row, _ = tokens.create_token(s, mentor, f"matrix {self.counter}")
            self.counter += 1
            s.commit()
            return row.id

    def fresh_video(self) -> str:
        """A new uploaded video of the mentor's (its stored name)."""
        with self.tandem.sessions() as s:
            mentor = people.find_person(s, EMAILS["mentor"])
            assert mentor is not None
            upload = uploads.store_video(
                s, mentor, io.BytesIO(b"\x00\x00\x00\x18ftypmp42" + bytes(100)), 10_000,
                uploads.videos_dir(self.tandem.settings.instance_dir),
            )  # fmt: skip
            s.commit()
            return upload.name

    def fresh_person(self) -> int:
        self.counter += 1
        with self.tandem.sessions() as s:
            record = people.PersonRecord(name="Fresh Person", email=f"fresh{self.counter}@x.org")
            found, _ = people.upsert_person(s, record)
            s.commit()
            return found.id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("matrix")
    settings = load_settings(
        {},
        {
            "instance_dir": root / "instance",
            "database_url": f"sqlite:///{root / 'instance' / 'tandem.sqlite3'}",
            "search_models": ("fake",),
            "import_models": ("fake",),
        },
    )
    tandem = open_tandem(settings)
    library = load_library(tandem)
    with tandem.sessions() as s:
        people.upsert_person(
            s, people.PersonRecord(name="Ida Admin", email=EMAILS["hr_admin"], roles=("admin",))
        )
        jerzy, _ = people.upsert_person(
            s,
            people.PersonRecord(
                name="Jerzy Gone", email=EMAILS["deactivated"], roles=("mentor", "admin")
            ),
        )
        s.flush()
        opened = f"{jerzy.id}:{jerzy.session_version}"  # a session opened before...
        people.deactivate(jerzy)  # ...the account was deactivated
        programme = programmes.get_programme(s, "spring")
        pair = next(p for p in programme.pairs if p.mentor.email == EMAILS["mentor"])
        guide_id = s.scalar(select(Guide.id).where(Guide.slug == library.guide_slug))
        s.commit()
        world = World(tandem, make_app(tandem), library, guide_id, pair.id, opened)
    yield world
    tandem.close()


def route_keys(app: Flask) -> list[tuple[str, str, Rule]]:
    return sorted(
        (rule.endpoint, method, rule)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    )


def outcome(status: int, location: str) -> str:
    if status in (301, 302, 303) and "/login" in location:
        return LOGIN
    return str(status)


def gate(expected: str) -> bool:
    """Whether a role with this real-id outcome passed the route's login and role checks."""
    return expected not in (LOGIN, FORBIDDEN, UNAUTHORIZED)


def variant_args(rule: Rule, real: dict[str, Any], variant: str) -> dict[str, Any]:
    if variant == "real":
        return real
    args = dict(real)
    for name in rule.arguments:
        converter = type(rule._converters[name]).__name__.lower()
        numeric = "int" in converter
        if variant == "missing":
            args[name] = 987654 if numeric else "no-such-thing"
        else:
            args[name] = HUGE if numeric else str(HUGE)
    return args


def request_case(world: World, rule: Rule, method: str, role: str, variant: str) -> str:
    policy = POLICY[(rule.endpoint, method)]
    args = policy.args(world) if variant == "real" or rule.arguments else {}
    args = variant_args(rule, args, variant)
    path = rule.build(args, append_unknown=False)[1]  # type: ignore[index]
    client = world.app.test_client()
    account = world.session_id(role)
    if account is not None:
        with client.session_transaction() as session:
            session["_user_id"] = account
            session["_fresh"] = True
    body: dict[str, Any] = {"data": policy.data} if policy.json is None else {"json": policy.json}
    answer = client.open(path, method=method, query_string=policy.query, **body)
    return outcome(answer.status_code, answer.headers.get("Location", ""))


def int_route(rule: Rule) -> bool:
    return any("int" in type(c).__name__.lower() for c in rule._converters.values())


def expected_outcome(policy: Policy, role: str, variant: str, rule: Rule) -> str:
    """A huge number never matches an ``int`` route (404 for everyone, before any check)."""
    real = policy.real[role]
    if variant == "real" or not rule.arguments:
        return real
    if variant == "huge" and int_route(rule):
        return MISSING
    return MISSING if gate(real) else real


def test_every_route_has_a_policy(world: World) -> None:
    routes = {(endpoint, method) for endpoint, method, _ in route_keys(world.app)}
    undeclared = sorted(routes - set(POLICY))
    assert undeclared == [], f"routes without an authorisation policy in POLICY: {undeclared}"
    assert sorted(set(POLICY) - routes) == [], "POLICY names routes that no longer exist"
    for key, policy in POLICY.items():
        assert set(policy.real) == set(ROLES), key


@pytest.mark.parametrize("variant", ["real", "missing", "huge"])
def test_authorisation_matrix(world: World, variant: str) -> None:
    """Every declared route, role and id variant; all mismatches reported at once."""
    mismatches = []
    cases = 0
    for endpoint, method, rule in route_keys(world.app):
        policy = POLICY.get((endpoint, method))
        if policy is None:
            continue  # test_every_route_has_a_policy names it
        if variant != "real" and not rule.arguments:
            continue
        for role in ROLES:
            want = expected_outcome(policy, role, variant, rule)
            got = request_case(world, rule, method, role, variant)
            cases += 1
            if got != want:
                mismatches.append(f"{method} {rule.rule} as {role}: {got}, want {want}")
    assert cases > 0
    assert mismatches == [], "\n".join(mismatches)

"""A phone's width (390 x 844, in Chromium): the pages added late fit without sideways
scrolling in Polish and Russian, whose words are longer than English ones: the re-pair picker,
the pair health page with its CSV link, the programme's enrolment stages, the evaluation page
and the guide editor."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kb.models import HELP_REASONS, Guide, HelpRequest, Pair
from kb.services import enrolment, guides, help, match_vectors, people
from kb.services.pairs import programme_by_slug

from .conftest import accessibility_problems, login, screenshot
from .overflow import OVERFLOWING

WIDTH, HEIGHT = 390, 844
HR = "hania@example.com"


def phone_context(browser: Any, live_server: Any, locale: str, width: int = WIDTH) -> Any:
    """A fresh browser context at phone size (or ``width``), in ``locale``; axe may be
    injected (``bypass_csp``)."""
    context = browser.new_context(
        base_url=live_server.url, bypass_csp=True, locale=locale,
        viewport={"width": width, "height": HEIGHT},
    )  # fmt: skip
    context.set_default_timeout(15_000)
    return context


def request_for_help(live_server: Any) -> int:
    """Bogdan asks HR for help with his pair (Anna's): the re-pair picker's request; Dawid is
    invited to the programme and agrees, so its enrolment stages have a full row. Once per
    server."""
    with live_server.tandem.sessions() as s:
        found = s.scalars(select(HelpRequest.id).order_by(HelpRequest.id)).first()
        if found is not None:
            return found
        # Bogdan states goals and two mentors with free places know them: the picker has rows.
        people.upsert_person(s, people.PersonRecord(
            name="Bogdan Mentee", email="bogdan@example.com", roles=("mentee",),
            languages=("pl", "en"), goals=("formuły w Excelu", "tabele przestawne"),
        ))  # fmt: skip
        for name, email in (
            ("Marta Wiśniewska-Kowalczyk", "marta@example.com"),
            ("Светлана Александровна Кузнецова", "svetlana@example.com"),
        ):
            people.upsert_person(s, people.PersonRecord(
                name=name, email=email, roles=("mentor",), languages=("pl", "en"),
                expertise=("formuły w Excelu", "tabele przestawne"), capacity=2,
                department="Controlling",
            ))  # fmt: skip
        bogdan = people.get_person_by_email(s, "bogdan@example.com")
        pair = s.scalars(select(Pair).where(Pair.mentee_id == bogdan.id)).one()
        request = help.ask_for_help(s, pair, bogdan, HELP_REASONS[0], "")
        hr = people.get_person_by_email(s, HR)
        dawid = people.get_person_by_email(s, "dawid@example.com")
        invited = enrolment.invite(s, programme_by_slug(s, "spring"), dawid, "mentee", hr)
        enrolment.answer(s, invited, dawid, True)  # agreed: the row has its date and accept forms
        s.commit()
        request_id = request.id
    match_vectors.catch_up(live_server.tandem.sessions, live_server.tandem.matching_embedders)
    return request_id


def fits(page: Any) -> tuple[bool, list[str]]:
    """No sideways scrolling. (Not is_mobile: a phone's browser zooms out to show what is too
    wide, and innerWidth grows with it, so the check would always pass.)"""
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    inner = page.evaluate("() => window.innerWidth")
    assert inner == WIDTH
    return scroll <= inner, [f"scrollWidth {scroll} > {inner}", *page.evaluate(OVERFLOWING)]


@pytest.mark.parametrize("locale", ["pl-PL", "ru-RU"])
def test_late_pages_fit_a_390px_screen(browser, live_server, locale, tmp_path):
    request_id = request_for_help(live_server)
    context = phone_context(browser, live_server, locale)
    problems: dict[str, list[str]] = {}
    try:
        hr = context.new_page()
        login(hr, HR)
        pages = {
            "repair": f"/hr/help/{request_id}/repair",
            "health": "/hr/programmes/spring/health",
            "enrolment": "/hr/programmes/spring/enrolment",
            "evaluation": "/hr/programmes/spring/evaluation",
            "guide-editor": "/guides/new",
        }
        for name, path in pages.items():
            answer = hr.goto(path)
            assert answer is not None and answer.status == 200, path
            assert hr.locator("html").get_attribute("lang") == locale[:2]
            if name == "repair":
                assert hr.locator(".table-scroll tbody tr").count() >= 1
            if name == "health":
                assert hr.locator("a[href$='/health.csv']").is_visible()
            ok, why = fits(hr)
            screenshot(hr, f"narrow-{name}-{locale[:2]}", tmp_path)
            if hr.locator(".table-scroll").count():  # the table's far side, for the eye
                hr.locator(".table-scroll").first.evaluate("(el) => { el.scrollLeft = 10000; }")
                screenshot(hr, f"narrow-{name}-{locale[:2]}-scrolled", tmp_path)
            if not ok:
                problems[path] = why
            axe = accessibility_problems(hr)
            if axe:
                problems[path + " (axe)"] = axe
    finally:
        context.close()
    assert problems == {}, "\n".join(f"{path}: {why}" for path, why in problems.items())


# Forty tags in use, as in the demo library: the editor offers each as a tick box.
MANY_TAGS = [f"{word}-{n}" for n in range(8) for word in ("wiedza", "знание", "teams", "bi", "ai")]


def publish_many_tags(live_server: Any) -> None:
    """Celina publishes a guide with forty tags (once per server)."""
    with live_server.tandem.sessions() as s:
        celina = people.get_person_by_email(s, "celina@example.com")
        if s.scalar(select(Guide.id).where(Guide.slug == "many-tags")) is not None:
            return
        guide = guides.create_guide(
            s, celina, title="Many tags", language="en", tags=MANY_TAGS, slug="many-tags",
            body_md="A guide with many tags.",
        )  # fmt: skip
        guides.publish(s, guide, celina, live_server.tandem.embedders)
        s.commit()


@pytest.mark.parametrize("width", [1280, WIDTH])
def test_the_guide_editors_tag_choices_wrap_instead_of_widening_the_page(
    browser, live_server, width, tmp_path
):
    publish_many_tags(live_server)
    context = phone_context(browser, live_server, "pl-PL", width=width)
    try:
        page = context.new_page()
        login(page, "anna@example.com")
        for path in ("/guides/new", f"/guides/{live_server.library.guide_slug}/edit"):
            page.goto(path)
            assert page.locator(".tag-choices label.check").count() >= 30
            screenshot(page, f"tag-choices-{width}", tmp_path)
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            assert scroll <= width, [path, scroll, *page.evaluate(OVERFLOWING)]
    finally:
        context.close()


# Pages whose tables were wider than a phone and widened the whole page (found by
# scripts/look.py): each table now scrolls in its own named, focusable region.
TABLE_PAGES = {
    "bogdan@example.com": ["/pair", "/guides"],
    "anna@example.com": ["/guides/mine", "/guides/{guide}/revisions"],
    HR: ["/hr/", "/hr/programmes/spring", "/hr/help", "/account/people/",
         "/hr/programmes/spring/questions"],
}  # fmt: skip


@pytest.mark.parametrize("email", sorted(TABLE_PAGES))
def test_wide_tables_scroll_in_their_own_region_at_390px(browser, live_server, email, tmp_path):
    request_for_help(live_server)
    context = phone_context(browser, live_server, "pl-PL")
    problems: dict[str, list[str]] = {}
    try:
        page = context.new_page()
        login(page, email)
        for path in TABLE_PAGES[email]:
            path = path.format(guide=live_server.library.guide_slug)
            answer = page.goto(path)
            assert answer is not None and answer.status == 200, path
            tables = page.locator("main table")
            assert tables.count() >= 1, path
            outside = page.locator("main table:not(.table-scroll table)").count()
            named = page.locator(".table-scroll[role=region][aria-label][tabindex='0']").count()
            # a note's title keeps a readable width (it was squeezed to a word per line)
            squeezed = page.locator("td.wide").evaluate_all(
                "(cells) => cells.filter((c) => c.getBoundingClientRect().width < 200).length"
            )
            ok, why = fits(page)
            screenshot(page, "tables" + path.replace("/", "-"), tmp_path)
            if not ok or outside or squeezed or named < tables.count():
                problems[path] = [f"{outside} table(s) outside a region, {squeezed} squeezed", *why]
            axe = accessibility_problems(page)
            if axe:
                problems[path + " (axe)"] = axe
    finally:
        context.close()
    assert problems == {}, "\n".join(f"{path}: {why}" for path, why in problems.items())


# Where each choice's control sits: the label's line (or inside the label), not a line of its own.
CHOICES = """() => [...document.querySelectorAll('main [type=radio], main [type=checkbox]')]
  .filter((input) => input.labels && input.labels.length)
  .map((input) => {
    const box = input.getBoundingClientRect(), label = input.labels[0].getBoundingClientRect();
    return {id: input.id, width: Math.round(box.width),
            beside: (input.labels[0].contains(input) || box.right <= label.left + 1)
                    && box.bottom > label.top && box.top < label.bottom};
  })"""


def test_the_help_forms_choices_sit_beside_their_labels(browser, live_server, tmp_path):
    """Radio buttons were as wide as the form (inputs get width: 100%), centred on a line of
    their own above each reason; the reveal check box stood above its label."""
    with live_server.tandem.sessions() as s:
        bogdan = people.get_person_by_email(s, "bogdan@example.com")
        pair_id = s.scalars(select(Pair.id).where(Pair.mentee_id == bogdan.id)).one()
    context = phone_context(browser, live_server, "pl-PL")
    try:
        page = context.new_page()
        login(page, "bogdan@example.com")
        page.goto(f"/pairs/{pair_id}/help")
        screenshot(page, "help-choices", tmp_path)
        choices = page.evaluate(CHOICES)
        assert len(choices) == len(HELP_REASONS) + 1
        assert [c for c in choices if not c["beside"] or c["width"] > 40] == []
    finally:
        context.close()


def test_a_ratings_five_choices_share_one_line(browser, live_server, tmp_path):
    """The mid-programme questionnaire's 1-5 ratings: five radios on one line, each beside
    its number (they were five form-wide radios stacked above five bold numbers)."""
    with live_server.tandem.sessions() as s:
        bogdan = people.get_person_by_email(s, "bogdan@example.com")
        pair_id = s.scalars(select(Pair.id).where(Pair.mentee_id == bogdan.id)).one()
    context = phone_context(browser, live_server, "pl-PL")
    try:
        page = context.new_page()
        login(page, "bogdan@example.com")
        page.goto(f"/programmes/pairs/{pair_id}/feedback/mid")
        screenshot(page, "rating-choices", tmp_path)
        ratings = page.locator("fieldset.rating")
        assert ratings.count() >= 1
        tops = ratings.first.locator("input[type=radio]").evaluate_all(
            "(inputs) => inputs.map((i) => Math.round(i.getBoundingClientRect().top))"
        )
        assert len(tops) == 5 and max(tops) - min(tops) < 10, tops
        assert [c for c in page.evaluate(CHOICES) if not c["beside"] or c["width"] > 40] == []
    finally:
        context.close()


def test_form_fields_keep_their_gap_and_choices_are_not_bold(browser, live_server, tmp_path):
    """The programme form (label, control, label, ... straight in the form): each control
    touched the next field's label, and every competence and language choice was bold."""
    context = phone_context(browser, live_server, "pl-PL")
    try:
        page = context.new_page()
        login(page, HR)
        page.goto("/hr/programmes/new")
        screenshot(page, "programme-form", tmp_path)
        gaps = page.evaluate(
            """() => [...document.querySelectorAll('form.stacked > label')].slice(1).map((l) => {
                 const before = l.previousElementSibling.getBoundingClientRect();
                 return Math.round(l.getBoundingClientRect().top - before.bottom);
               })"""
        )
        assert len(gaps) >= 5 and min(gaps) >= 12, gaps
        weights = page.locator("label:has(> input[type=checkbox])").evaluate_all(
            "(labels) => labels.map((l) => getComputedStyle(l).fontWeight)"
        )
        assert len(weights) >= 5 and set(weights) == {"400"}, weights
    finally:
        context.close()


def test_a_programmes_competences_read_as_separate_words(browser, live_server, tmp_path):
    """The programme page listed its competences as bare list items in a flex row:
    "Generatywna AI Media społecznościowe" read as one phrase. Each is now a pill."""
    from kb.models import Programme, join_list

    with live_server.tandem.sessions() as s:
        programme = s.scalars(select(Programme).where(Programme.slug == "spring")).one()
        programme.competences = join_list(["generative-ai", "social-media", "esg"])
        s.commit()
    context = phone_context(browser, live_server, "pl-PL")
    try:
        page = context.new_page()
        login(page, HR)  # (a running programme's page is for its people and HR)
        page.goto("/programmes/spring")
        screenshot(page, "competences", tmp_path)
        items = page.locator("main ul.tags li")
        assert items.all_inner_texts() == ["Generatywna AI", "Media społecznościowe", "ESG"]
        borders = items.evaluate_all(
            "(lis) => lis.map((li) => parseFloat(getComputedStyle(li).borderTopWidth))"
        )
        assert min(borders) > 0, borders
    finally:
        context.close()


# The header's parts, by the vertical middle of their boxes (rounded, in CSS pixels).
HEADER = """() => {
  const middle = (el) => {
    const box = el.getBoundingClientRect();
    return Math.round((box.top + box.bottom) / 2);
  };
  const all = (selector) => [...document.querySelectorAll(selector)];
  const nav = document.querySelector('.site-nav');
  const logOut = document.querySelector('.account form button');
  return {
    brand: middle(document.querySelector('.brand')),
    inbox: middle(document.querySelector('.inbox-link')),
    account: all('.account > a:not(.inbox-link), .account > form').map(middle),
    nav: all('.site-nav a').map(middle),
    navScrolls: getComputedStyle(nav).overflowX === 'auto',
    logOutRight: Math.round(logOut.getBoundingClientRect().right),
  };
}"""


@pytest.mark.parametrize("locale", ["en-GB", "pl-PL", "ru-RU"])
def test_the_phone_header_is_three_tidy_lines(browser, live_server, locale, tmp_path):
    """At 390 px the account's links wrapped, leaving "Wyloguj się" / "Выйти" alone on a line,
    and HR's navigation took two more. Now: the brand with the inbox, then the name, "Your
    data" and "Log out", then the navigation on one line that scrolls sideways by itself."""
    context = phone_context(browser, live_server, locale)
    try:
        page = context.new_page()
        login(page, HR)  # the most links: HR's "Programmes" and "Accounts" too
        page.goto("/hr/")
        assert page.locator("html").get_attribute("lang") == locale[:2]
        screenshot(page, f"header-{locale[:2]}", tmp_path)
        header = page.evaluate(HEADER)
        assert abs(header["inbox"] - header["brand"]) <= 4, header
        assert len(header["account"]) == 3 and max(header["account"]) - min(header["account"]) <= 2
        assert len(header["nav"]) == 5 and max(header["nav"]) - min(header["nav"]) <= 2, header
        assert header["brand"] < min(header["account"]) < min(header["nav"]), header
        assert header["navScrolls"] and header["logOutRight"] <= WIDTH, header
        ok, why = fits(page)
        assert ok, why
        # the navigation's far end is reachable: by keyboard focus, the region scrolls to it
        page.locator(".site-nav a").nth(-2).focus()
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.closest('.site-nav') !== null")
        assert page.locator(".site-nav a").last.evaluate(
            "(a) => a.getBoundingClientRect().right <= window.innerWidth + 0.5"
        )
        assert accessibility_problems(page) == []
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["pl-PL", "ru-RU"])
def test_the_profiles_style_and_times_fit_and_each_box_is_named(
    browser, live_server, locale, tmp_path
):
    """The profile's working style is a select and its times a grid of boxes, a weekday per
    row (they were two free-text boxes for codes): at 390 px in Polish and Russian nothing
    sticks out, each box sits beside its part of day and is named with its weekday, and a
    choice saved comes back ticked."""
    context = phone_context(browser, live_server, locale)
    try:
        page = context.new_page()
        login(page, "anna@example.com")  # a mentor: the capacity field shows too
        page.goto("/account/profile")
        screenshot(page, f"profile-times-{locale}", tmp_path)
        assert page.evaluate(OVERFLOWING) == []
        boxes = page.locator(".slot-grid input[type=checkbox]")
        assert boxes.count() == 10
        day = "Poniedziałek" if locale == "pl-PL" else "Понедельник"
        assert page.get_by_label(f"{day} {'rano' if locale == 'pl-PL' else 'утро'}").count() == 1
        tops = boxes.evaluate_all(
            "(inputs) => inputs.map((i) => Math.round(i.getBoundingClientRect().top))"
        )
        assert all(abs(tops[i] - tops[i + 1]) < 6 for i in range(0, 10, 2)), tops  # a day a row
        assert [c for c in page.evaluate(CHOICES) if not c["beside"] or c["width"] > 40] == []
        assert accessibility_problems(page) == []
        page.select_option("select[name=style]", "hands-on")
        boxes.nth(3).check()  # Tuesday afternoon
        page.locator("form.stacked button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator(".slot-grid input:checked").evaluate_all(
            "(inputs) => inputs.map((i) => i.value)"
        ) == ["tue-pm"]
        assert page.locator("select[name=style]").input_value() == "hands-on"
    finally:
        context.close()

"""The interface in Russian, in a real browser: a mentor writes and publishes a guide, a mentee
searches and finds it, HR opens a programme's pages. Each page shows Russian labels (and none of
the English ones checked), has ``<html lang="ru">``, and axe-core finds no serious problems.
Selectors use ids, names and form actions; the words checked are the Russian ones."""

from __future__ import annotations

from typing import Any

from .conftest import accessibility_problems, login, screenshot

LOCALE = "ru-RU"
TITLE = "Сводные таблицы: метод Тритонус"
BODY = (
    "# Сводные таблицы с Copilot\n\n"
    "Попросите Copilot построить сводную таблицу по данным **Тритонус** и проверьте итоги.\n"
)
# The navigation of a logged-in person, in Russian; English words that must not be left over.
NAV = ("Поиск", "Руководства", "Входящие", "Ваши данные")
MAIN_LABELS = "main button, main label, main th, main h1, main h2, main summary"
NAV_ENGLISH = ("Search", "Guides", "Inbox", "Your data", "Log out", "Skip to content")


def nav_texts(page: Any) -> list[str]:
    """The words of the site navigation, its buttons and the language switcher's label."""
    return [
        " ".join(text.split())
        for text in page.locator(
            "nav.site-nav a, nav.site-nav button, header button, .language-label"
        ).all_inner_texts()
    ]


def english_leftovers(page: Any, extra: tuple[str, ...] = ()) -> list[str]:
    """English labels still shown in the navigation, or in the main area's buttons/labels."""
    shown = nav_texts(page) + [
        " ".join(text.split())
        for text in page.locator(
            "main button, main label, main th, main h1, main h2"
        ).all_inner_texts()
    ]
    return [word for word in (*NAV_ENGLISH, *extra) if any(word == text for text in shown)]


def check_russian(page: Any, *, extra_english: tuple[str, ...] = ()) -> None:
    assert page.locator("html").get_attribute("lang") == "ru"
    shown = " | ".join(nav_texts(page))
    for word in NAV[:2]:
        assert word in shown, shown
    assert english_leftovers(page, extra_english) == [], page.url
    assert accessibility_problems(page) == [], page.url


def submit(page: Any, selector: str) -> None:
    page.click(selector)
    page.wait_for_load_state()


def test_a_mentor_publishes_a_guide_and_a_mentee_finds_it_in_russian(new_page, tmp_path):
    mentor = new_page(locale=LOCALE)
    login(mentor, "celina@example.com")
    mentor.goto("/guides/new")
    assert mentor.get_by_role("heading", name="Написать руководство").is_visible()
    check_russian(mentor, extra_english=("Write a guide", "Preview", "Save and publish", "Title"))
    mentor.fill("#title", TITLE)
    mentor.fill("#body_md", BODY)
    mentor.fill("#tags", "excel, сводные таблицы")
    mentor.select_option("#language", "ru")
    submit(mentor, "button[name=action][value=preview]")
    assert mentor.locator(".preview strong", has_text="Тритонус").is_visible()
    assert mentor.get_by_role("heading", name="Предпросмотр").is_visible()
    check_russian(mentor)
    screenshot(mentor, "ru-guide-editor", tmp_path)
    submit(mentor, "button[name=action][value=publish]")
    if mentor.locator("form[action$='/publish'] button").count():  # near-duplicates: confirm
        submit(mentor, "form[action$='/publish'] button >> nth=0")
    assert mentor.get_by_role("heading", name=TITLE).first.is_visible()
    slug = mentor.url.rstrip("/").rsplit("/", 1)[-1]
    assert "Опубликовано" in mentor.content()  # the flash message, in Russian
    check_russian(mentor)
    screenshot(mentor, "ru-guide-published", tmp_path)

    mentee = new_page(locale=LOCALE)
    login(mentee, "bogdan@example.com")
    mentee.goto("/search")
    check_russian(mentee, extra_english=("Apply", "Filters"))
    mentee.fill("#q", "Тритонус")
    submit(mentee, ".search-box button[type=submit]")
    link = mentee.get_by_role("link", name=TITLE).first
    assert link.is_visible()
    check_russian(mentee, extra_english=("Apply", "Filters"))
    screenshot(mentee, "ru-search", tmp_path)
    link.click()
    mentee.wait_for_load_state()
    assert mentee.url.rstrip("/").endswith(f"/guides/{slug}")
    assert "Тритонус" in mentee.content()
    check_russian(mentee)


def test_hr_opens_a_programmes_pages_in_russian(new_page, tmp_path):
    hr = new_page(locale=LOCALE)
    login(hr, "hania@example.com")
    hr.goto("/hr/programmes/spring")
    assert hr.get_by_role("heading", name="Spring round").is_visible()
    assert hr.locator("summary", has_text="Составить пару вручную").is_visible()
    assert hr.get_by_role("heading", name="Пары", exact=True).is_visible()
    check_russian(hr, extra_english=("Pair two people by hand", "Programmes", "Accounts"))
    screenshot(hr, "ru-hr-programme", tmp_path)
    for path in ("/hr/programmes/spring/enrolment", "/hr/programmes/spring/health",
                 "/hr/programmes/spring/edit"):  # fmt: skip
        hr.goto(path)
        check_russian(hr, extra_english=("Save", "Mentor", "Mentee", "Status"))
        if path.endswith("/health"):  # the pair status in words, not its code
            statuses = hr.locator("table.health tbody td:nth-child(3)").all_inner_texts()
            words = {"активна", "предложена", "приостановлена"}
            assert statuses and set(statuses) <= words, statuses
    screenshot(hr, "ru-hr-programme-edit", tmp_path)

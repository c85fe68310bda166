"""HR reads a programme's evaluation in the browser, in Polish and in English: charts drawn
as SVG without any script, the printable view, no serious accessibility problem; a mentor
may not open it."""

from __future__ import annotations

from tests.web.test_evaluation_pages import seed

from .conftest import accessibility_problems, login, screenshot

HR = "hania@example.com"
PATH = "/hr/programmes/spring/evaluation"


def test_hr_reads_the_evaluation_in_polish_and_english(new_page, live_server, tmp_path):
    seed(live_server.tandem)
    polish = new_page(locale="pl-PL")
    login(polish, HR)
    polish.goto("/hr/programmes/spring/edit")
    polish.get_by_role("link", name="7. Ewaluacja").click()
    polish.wait_for_load_state()
    assert polish.url.endswith(PATH)
    assert polish.get_by_role("heading", name="Ocena programu: Spring round").is_visible()
    assert polish.get_by_role("heading", name="Oceny w ankietach (od 1 do 5)").is_visible()
    assert polish.locator("svg.chart").count() >= 3
    assert "Zyxelgate" not in polish.content()
    assert accessibility_problems(polish) == []
    screenshot(polish, "evaluation-pl", tmp_path)
    polish.get_by_role("link", name="Wersja do druku").click()
    polish.wait_for_load_state()
    assert polish.url.endswith(PATH + "/print")
    assert polish.locator("nav.stages").count() == 0
    assert accessibility_problems(polish) == []

    english = new_page(locale="en-GB")
    login(english, HR)
    english.goto(PATH)
    assert english.get_by_role("heading", name="Evaluation: Spring round").is_visible()
    assert english.get_by_text("How useful was the programme for you overall?").first.is_visible()
    with english.expect_download() as download:
        english.locator('a[href$="/evaluation/ratings.csv"]').click()
    assert download.value.suggested_filename == "spring-ratings.csv"
    assert accessibility_problems(english) == []
    screenshot(english, "evaluation", tmp_path)

    mentor = new_page()
    login(mentor, "anna@example.com")
    answer = mentor.goto(PATH)
    assert answer is not None and answer.status == 403

"""Programme stages 1 to 4 in the browser: HR creates a programme, invites, records the
preparatory conversation, accepts; people apply, answer, leave, accept the pair agreement;
HR pairs by hand, swaps a mentor and tries weights side by side. No note text on any page."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from kb.models import AuditEntry, Enrolment, Pair, Programme
from kb.services import people

HR = "hania@example.com"
SECRET = "Zyxelgate"  # in the library's private note


def new_programme(client: FlaskClient, **extra: str) -> None:
    data = {"slug": "autumn", "name": "Autumn round", "description": "Seniors learn AI.",
            "competences": ["generative-ai", "esg"], "custom_competences": "Excel",
            "starts": "2025-09-01", "ends": "2025-10-15", "languages": ["pl", "en"],
            "rhythm_weeks": "2", "note_template": "## Goal", "open_for_applications": "1",
            "status": "planned", **extra}  # fmt: skip
    return client.post("/hr/programmes/new", data=data, follow_redirects=True)


def test_hr_creates_a_programme_with_a_length_warning(client, login, web_tandem) -> None:
    login(client, HR)
    assert "Competences it develops" in client.get("/hr/programmes/new").get_data(as_text=True)
    page = new_programme(client).get_data(as_text=True)
    assert "less than 3 months" in page and "Participants: Autumn round" in page
    assert "2. Selection of participants" in page  # the stage navigation
    with web_tandem.sessions() as s:
        autumn = s.scalar(select(Programme).where(Programme.slug == "autumn"))
        assert autumn is not None
        assert autumn.competence_list == ["generative-ai", "esg", "excel"]
        assert s.scalar(select(AuditEntry.action)) == "programme.create"
    again = new_programme(client)
    assert again.status_code == 400 and "exists already" in again.get_data(as_text=True)
    edited = client.post(
        "/hr/programmes/autumn/edit",
        data={
            "name": "Autumn round 2",
            "starts": "2025-09-01",
            "ends": "2026-01-31",
            "status": "planned",
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Programme saved" in edited and "months" not in edited.split("Programme saved")[0]


def test_a_programmes_languages_are_named_in_the_readers_language(client, login) -> None:
    login(client, HR)
    new_programme(client)
    page = client.get("/programmes/autumn").get_data(as_text=True)
    assert " · Polish, English</p>" in page and "PL, EN" not in page
    polish = client.get("/programmes/autumn", headers={"Accept-Language": "pl"})
    assert " · polski, angielski</p>" in polish.get_data(as_text=True)


def test_enrolment_from_invitation_to_acceptance(client, login, web_tandem, app) -> None:
    login(client, HR)
    new_programme(client)
    page = client.post(
        "/hr/programmes/autumn/invite",
        data={"emails": "bogdan@example.com\nnobody@example.com", "role": "mentee"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Invited 1 person" in page and "nobody@example.com" in page
    with web_tandem.sessions() as s:
        invited = s.scalars(select(Enrolment)).one()
        enrolment_id = invited.id
    client.post("/logout")
    mentee = app.test_client()
    login(mentee, "bogdan@example.com")
    assert "Autumn round" in mentee.get("/programmes/").get_data(as_text=True)
    mentee.post(f"/programmes/enrolments/{enrolment_id}/answer", data={"answer": "accept"})
    login(client, HR)
    page = client.post(f"/hr/enrolments/{enrolment_id}/accept", follow_redirects=True).get_data(
        as_text=True
    )
    assert "record the preparatory conversation first" in page
    client.post(f"/hr/enrolments/{enrolment_id}/prepared", data={"on": "2025-08-20"})
    client.post(f"/hr/enrolments/{enrolment_id}/accept")
    with web_tandem.sessions() as s:
        assert s.get(Enrolment, enrolment_id).status == "enrolled"  # type: ignore[union-attr]
    # Anyone else's invitation is not theirs to answer.
    other = app.test_client()
    login(other, "dawid@example.com")
    assert other.post(f"/programmes/enrolments/{enrolment_id}/leave").status_code == 404
    mentee.post(f"/programmes/enrolments/{enrolment_id}/leave")
    with web_tandem.sessions() as s:
        assert s.get(Enrolment, enrolment_id).status == "left"  # type: ignore[union-attr]


def test_people_apply_to_an_open_programme(client, login, app) -> None:
    login(client, HR)
    new_programme(client)
    mentor = app.test_client()
    login(mentor, "celina@example.com")
    page = mentor.get("/programmes/autumn").get_data(as_text=True)
    assert "Generative AI" in page and "Send my application" in page
    refused = mentor.post(
        "/programmes/autumn/apply",
        data={"role": "mentor", "motivation": "I like teaching."},
        follow_redirects=True,
    )
    assert "ready to mentor" in refused.get_data(as_text=True)
    mentor.post(
        "/programmes/autumn/apply",
        data={
            "role": "mentor",
            "motivation": "I like teaching.",
            "expertise": "Teams",
            "ready": "1",
        },
    )
    page = client.get("/hr/programmes/autumn/enrolment").get_data(as_text=True)
    assert "Celina Mentor" in page and "agreed, waiting for HR" in page and "Teams" in page
    assert "I like teaching" not in page  # the motivation is for the conversation, not a list


def test_manual_pair_swap_and_onboarding(client, login, web_tandem, app) -> None:
    with web_tandem.sessions() as s:
        people.upsert_person(
            s, people.PersonRecord(name="Ela Boss", email="ela@example.com", roles=("mentee",))
        )
        celina = people.get_person_by_email(s, "celina@example.com")
        celina.manager_id = people.get_person_by_email(s, "ela@example.com").id
        s.commit()
    login(client, HR)
    refused = client.post(
        "/hr/programmes/spring/pairs",
        data={"mentor": "celina@example.com", "mentee": "ela@example.com"},
        follow_redirects=True,
    )
    assert "management chain" in refused.get_data(as_text=True)
    with web_tandem.sessions() as s:
        anna_pair = s.scalars(select(Pair).join(Pair.mentor).where(Pair.status == "active")).first()
        assert anna_pair is not None
        pair_id, mentor_email = anna_pair.id, anna_pair.mentor.email
    member = app.test_client()
    login(member, mentor_email)
    page = member.get(f"/programmes/pairs/{pair_id}/onboarding").get_data(as_text=True)
    assert "does not feed performance reviews" in page and "not the mentee's supervisor" in page
    member.post(f"/programmes/pairs/{pair_id}/onboarding", data={"agree": "1"})
    prep = client.get("/hr/programmes/spring/preparation").get_data(as_text=True)
    assert "yes" in prep and "not yet" in prep and SECRET not in prep
    programme_page = client.get("/hr/programmes/spring").get_data(as_text=True)
    assert "1. Decision and goal" in programme_page and SECRET not in programme_page


def test_weights_side_by_side_and_saved(client, login, web_tandem) -> None:
    login(client, HR)
    page = client.get("/hr/programmes/spring/weights?teach_back=3&expertise=0.5")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Side by side" in text and "Mentor with the new" in text
    client.post("/hr/programmes/spring/weights", data={"teach_back": "3"})
    with web_tandem.sessions() as s:
        spring = s.scalar(select(Programme).where(Programme.slug == "spring"))
        assert spring is not None and '"teach_back": 3.0' in spring.matching_weights
        assert (
            s.scalar(select(AuditEntry.action).where(AuditEntry.action == "programme.weights"))
            is not None
        )


def test_people_csv_upload_dry_run_then_confirm(client, login, web_tandem) -> None:
    import io
    import json
    import re

    csv_bytes = (
        b"name,email,department,manager_email,roles\n"
        b"Nina New,nina@example.com,IT,hania@example.com,mentor\n"
        b"Bad,bad-mail,IT,,mentor\n"
    )

    def dry_run() -> str:
        return client.post(
            "/hr/people/upload",
            data={"file": (io.BytesIO(csv_bytes), "p.csv")},
            content_type="multipart/form-data",
        ).get_data(as_text=True)

    login(client, HR)
    page = dry_run()
    assert "Would create 1" in page and "reject 1" in page and "would be created" in page
    assert "Confirm: write 1 change<" in page
    with web_tandem.sessions() as s:
        assert people.find_person(s, "nina@example.com") is None  # a dry run writes nothing
    digest = re.search(r'name="digest" value="([0-9a-f]{64})"', page).group(1)  # type: ignore[union-attr]
    done = client.post(
        "/hr/people/upload/confirm", data={"digest": digest}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Created 1, updated 0, unchanged 0, rejected 1" in done
    with web_tandem.sessions() as s:
        assert people.find_person(s, "nina@example.com") is not None
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "people.upload"))
        assert entry is not None and json.loads(entry.detail)["created"] == 1
    # the kept file is gone once applied: confirming twice does not apply twice
    twice = client.post(
        "/hr/people/upload/confirm", data={"digest": digest}, follow_redirects=True
    ).get_data(as_text=True)
    assert "expired or was already applied" in twice
    again = dry_run()  # the same file again: nothing to write
    assert "Would create 0" in again and "Nothing to write." in again
    forged = client.post(
        "/hr/people/upload/confirm", data={"digest": "../../secret_key"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "expired or was already applied" in forged
    bad = client.post(
        "/hr/people/upload",
        data={"file": (io.BytesIO(b"\xff\xfe,broken"), "p.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400 and "not valid UTF-8" in bad.get_data(as_text=True)
    polish = client.get("/hr/people/upload", headers={"Accept-Language": "pl"})
    assert "Wgraj" in polish.get_data(as_text=True)


def test_programme_pages_speak_polish_and_russian(client, login, app, web_tandem) -> None:
    """Every page of stages 1 to 4 in pl and ru: translated headings, labels and stage names,
    and no English sentence of the page left over."""
    login(client, HR)
    new_programme(client)
    with web_tandem.sessions() as s:
        pair = s.scalars(select(Pair).where(Pair.status == "active")).first()
        assert pair is not None
        pair_id, mentor_email = pair.id, pair.mentor.email
    hr_pages = {
        "/hr/programmes/new": ("Nowy program", "Новая программа", "Competences it develops"),
        "/hr/programmes/autumn/edit": ("Rozwijane kompetencje", "Развиваемые компетенции",
                                       "Purpose and description"),
        "/hr/programmes/autumn/enrolment": ("Uczestnicy: Autumn round", "Участники: Autumn round",
                                            "Taking part is voluntary"),
        "/hr/programmes/spring/preparation": ("3. Przygotowanie", "3. Подготовка",
                                              "Before their first session"),
        "/hr/programmes/spring/weights": ("Wagi dopasowania", "Веса подбора", "How a pair's score"),
        "/hr/people/upload": ("Wgraj osoby", "Загрузка сотрудников", "Check the file"),
    }  # fmt: skip
    member = app.test_client()
    login(member, mentor_email)
    member_pages = {
        "/programmes/": ("Programy mentoringowe", "Программы наставничества", "Open programmes"),
        "/programmes/autumn": ("Wyślij zgłoszenie", "Отправить заявку",
                               "Why you want to take part"),
        f"/programmes/pairs/{pair_id}/onboarding": ("Umowa pary", "Соглашение пары",
                                                    "does not feed performance reviews"),
    }  # fmt: skip
    for who, pages in ((client, hr_pages), (member, member_pages)):
        for url, (polish, russian, english) in pages.items():
            for lang, expected in (("pl", polish), ("ru", russian)):
                response = who.get(url, headers={"Accept-Language": lang})
                text = response.get_data(as_text=True)
                assert response.status_code == 200, (url, lang)
                assert expected in text, (url, lang)
                assert english not in text, (url, lang)


def test_the_management_chain_is_refused_on_every_page_path(client, login, web_tandem) -> None:
    """Pick from the recommendations, swap a mentor, start a pair: each refused with the reason
    when one of the two manages the other, and nothing changes."""
    with web_tandem.sessions() as s:
        people.upsert_person(
            s, people.PersonRecord(name="Ela Boss", email="ela@example.com", roles=("mentee",))
        )
        celina = people.get_person_by_email(s, "celina@example.com")
        ela = people.get_person_by_email(s, "ela@example.com")
        anna = people.get_person_by_email(s, "anna@example.com")
        spring = s.scalar(select(Programme).where(Programme.slug == "spring"))
        assert spring is not None
        pair = Pair(programme_id=spring.id, mentor_id=anna.id, mentee_id=ela.id,
                    status="proposed")  # fmt: skip
        s.add(pair)
        s.flush()
        pair_id = pair.id
        anna_pair = s.scalar(select(Pair).where(Pair.mentor_id == anna.id, Pair.status == "active"))
        assert anna_pair is not None
        anna_pair.status = "ended"  # Anna has a place left: only the chain can refuse
        celina.manager_id = ela.id  # Ela manages Celina
        s.commit()
    login(client, HR)
    # the pick button of the recommendations page posts the manual-pair form
    picked = client.post(
        "/hr/programmes/spring/pairs",
        follow_redirects=True,
        data={"mentor": "celina@example.com", "mentee": "ela@example.com"},
    )
    assert "management chain" in picked.get_data(as_text=True)  # fmt: skip
    swapped = client.post(f"/hr/pairs/{pair_id}/swap", data={"mentor": "celina@example.com"},
                          follow_redirects=True)  # fmt: skip
    assert "management chain" in swapped.get_data(as_text=True)
    with web_tandem.sessions() as s:
        ela = people.get_person_by_email(s, "ela@example.com")
        anna = people.get_person_by_email(s, "anna@example.com")
        anna.manager_id = ela.id  # the next HR export: Ela now manages Anna too
        s.commit()
    started = client.post(f"/hr/pairs/{pair_id}", data={"status": "active"},
                          follow_redirects=True)  # fmt: skip
    assert "management chain" in started.get_data(as_text=True)
    with web_tandem.sessions() as s:
        kept = s.get(Pair, pair_id)
        assert kept is not None and kept.status == "proposed"
        ela_id = people.get_person_by_email(s, "ela@example.com").id
        assert s.scalars(select(Pair).where(Pair.mentee_id == ela_id)).all() == [kept]
        assert s.scalar(select(AuditEntry).where(AuditEntry.action.in_(
            ("pair.create", "pair.swap", "pair.status")))) is None  # fmt: skip

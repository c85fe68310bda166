from __future__ import annotations

import pytest
from sqlalchemy import select

from kb.errors import NotFound, ValidationError
from kb.models import Person
from kb.services.people import (
    authenticate,
    check_password,
    get_person_by_email,
    management_chain,
    person_record,
    set_password,
    upsert_people,
    upsert_person,
)


def rec(email: str, manager: str = "", **extra):
    return person_record(
        {"name": email.split("@")[0].title(), "email": email, "manager_email": manager, **extra}
    )


def test_person_record_normalises_fields():
    r = person_record({
        "name": "  Anna   Nowak ", "email": "Anna.Nowak@Example.com", "languages": "PL, en",
        "roles": ["mentor", "mentee"], "expertise": "TikTok for brands; Excel, Power BI",
        "opt_in": "no", "capacity": "3", "availability": "mon-am;tue-pm",
    })  # fmt: skip
    assert r.name == "Anna Nowak" and r.email == "anna.nowak@example.com"
    assert r.languages == ("pl", "en") and r.roles == ("mentor", "mentee")
    assert r.expertise == ("TikTok for brands", "Excel, Power BI")
    assert r.opt_in is False and r.capacity == 3 and r.availability == ("mon-am", "tue-pm")


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"name": "A", "email": "not-an-email"}, "email", "not a valid e-mail"),
        ({"name": "", "email": "a@x.org"}, "name", "required"),
        ({"name": "A", "email": "a@x.org", "languages": "pl;de"}, "languages", "'de'"),
        ({"name": "A", "email": "a@x.org", "roles": "boss"}, "roles", "'boss'"),
        ({"name": "A", "email": "a@x.org", "capacity": "-1"}, "capacity", "0 or more"),
        ({"name": "A", "email": "a@x.org", "capacity": "2.5"}, "capacity", "whole number"),
        ({"name": "A", "email": "a@x.org", "opt_in": "maybe"}, "opt_in", "yes/no"),
        ({"name": "A", "email": "a@x.org", "manager_email": "boss"}, "manager_email", "valid"),
        ({"name": "A", "email": "a@x.org", "style": "casual"}, "style", "'casual'"),
        (
            {"name": "A", "email": "a@x.org", "availability": "mon-am;sat-am"},
            "availability",
            "'sat-am'",
        ),  # fmt: skip
        ({"name": "A", "email": "a@x.org", "availability": "Tue; Thu"}, "availability", "'tue'"),
    ],
)
def test_person_record_rejects_bad_values(data, field, words):
    with pytest.raises(ValidationError) as error:
        person_record(data)
    assert error.value.field == field and words in str(error.value)


def test_style_and_availability_are_codes_written_loosely_or_exactly():
    r = rec("a@x.org", style="Hands on", availability="Mon AM, wed_pm, mon-am")
    assert r.style == "hands-on" and r.availability == ("mon-am", "wed-pm")
    assert rec("b@x.org", style=" ").style == "" and rec("c@x.org").availability == ()


def test_every_code_in_the_closed_sets_is_accepted():
    from kb.models import AVAILABILITY, STYLES

    assert STYLES == ("structured", "informal", "hands-on", "reflective")
    assert AVAILABILITY[:2] == ("mon-am", "mon-pm") and len(AVAILABILITY) == 10
    assert rec("a@x.org", availability=list(AVAILABILITY)).availability == AVAILABILITY
    assert [rec("a@x.org", style=s).style for s in STYLES] == list(STYLES)


def test_unknown_fields_are_named():
    with pytest.raises(ValidationError, match="unknown field.*salary"):
        person_record({"name": "A", "email": "a@x.org", "salary": "1"})


def test_upsert_statuses_and_no_write_when_unchanged(session):
    person, status = upsert_person(session, rec("a@x.org", roles="mentor"))
    session.commit()
    assert status == "created"
    stamp = person.updated_at
    assert upsert_person(session, rec("a@x.org", roles="mentor"))[1] == "unchanged"
    assert not session.dirty
    assert upsert_person(session, rec("a@x.org", roles="mentee"))[1] == "updated"
    session.commit()
    assert person.roles == "mentee" and person.updated_at >= stamp


def test_managers_resolve_within_a_batch_in_any_order(session):
    results = upsert_people(
        session, [rec("c@x.org", "b@x.org"), rec("b@x.org", "a@x.org"), rec("a@x.org")]
    )
    session.commit()
    c = results[0][0]
    assert [p.email for p in management_chain(session, c)] == ["b@x.org", "a@x.org"]


def test_unknown_manager_is_a_validation_error_naming_both(session):
    with pytest.raises(ValidationError, match="unknown manager 'ghost@x.org' of a@x.org"):
        upsert_people(session, [rec("a@x.org", "ghost@x.org")], lines={"a@x.org": 2})


def test_manager_cycle_is_reported_with_the_people(session):
    with pytest.raises(ValidationError) as error:
        upsert_people(
            session,
            [
                rec("a@x.org", "b@x.org"),
                rec("b@x.org", "c@x.org"),
                rec("c@x.org", "a@x.org"),
                rec("d@x.org", "a@x.org"),
            ],
        )
    message = str(error.value)
    assert "manager cycle" in message
    for email in ("a@x.org", "b@x.org", "c@x.org"):
        assert email in message
    assert "d@x.org" not in message  # reaches the cycle but is not part of it


def test_self_management_is_a_cycle(session):
    with pytest.raises(ValidationError, match="manager cycle: a@x.org -> a@x.org"):
        upsert_person(session, rec("a@x.org", "a@x.org"))


def test_duplicate_emails_in_a_batch_are_rejected(session):
    with pytest.raises(ValidationError, match="appears twice"):
        upsert_people(session, [rec("a@x.org"), rec("A@x.org")])


def test_management_chain_is_cycle_safe(session):
    upsert_people(session, [rec("a@x.org"), rec("b@x.org", "a@x.org")])
    session.flush()
    a = get_person_by_email(session, "a@x.org")
    b = get_person_by_email(session, "b@x.org")
    a.manager_id = b.id  # a cycle that bypassed validation (e.g. edited in the database)
    session.flush()
    assert [p.email for p in management_chain(session, b)] == ["a@x.org"]


def test_passwords(session):
    person, _ = upsert_person(session, rec("a@x.org"))
    assert not check_password(person, "whatever1")
    set_password(person, "tandem-demo")
    session.commit()
    assert person.password_hash and "tandem-demo" not in person.password_hash
    assert check_password(person, "tandem-demo") and not check_password(person, "tandem-dem0")
    assert authenticate(session, "A@X.org", "tandem-demo") is person
    assert authenticate(session, "a@x.org", "nope-nope") is None
    assert authenticate(session, "nobody@x.org", "tandem-demo") is None
    with pytest.raises(ValidationError, match="at least 8"):
        set_password(person, "short")


def test_get_person_by_email_not_found(session):
    with pytest.raises(NotFound, match="nobody@x.org"):
        get_person_by_email(session, "nobody@x.org")
    assert session.scalars(select(Person)).all() == []

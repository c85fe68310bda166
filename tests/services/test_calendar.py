"""The .ics text: RFC 5545 escaping, folding, CRLF, UTC times; parsed back with icalendar."""

from __future__ import annotations

import datetime as dt

import icalendar

from kb.services import calendar

NOW = dt.datetime(2026, 12, 5, 3, 0, 0)


def event(**kw: object) -> calendar.Event:
    base: dict[str, object] = dict(
        uid="abc123@tandem", starts=dt.datetime(2026, 12, 7, 9, 30),
        ends=dt.datetime(2026, 12, 7, 10, 30),
        summary="Mentoring session: Anna / Bogdan", description="", status="CONFIRMED",
        sequence=0, categories=(), modified=NOW,
    )  # fmt: skip
    base.update(kw)
    return calendar.Event(**base)  # type: ignore[arg-type]


def test_escape_text() -> None:
    assert calendar.escape_text("a;b,c\\d\ne\r\nf") == "a\\;b\\,c\\\\d\\ne\\nf"


def test_fold_keeps_lines_within_75_octets_and_utf8_whole() -> None:
    line = "SUMMARY:" + "Żółć " * 40
    folded = calendar.fold(line)
    parts = folded.split("\r\n")
    assert len(parts) > 1
    assert all(len(p.encode("utf-8")) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert "".join([parts[0]] + [p[1:] for p in parts[1:]]) == line  # unfolds to the original


def test_calendar_is_crlf_and_parses_back() -> None:
    text = calendar.calendar_text(
        [
            event(summary="Sesja: Żaneta, Bogdan; \"cytat\"", description="Line 1\nLine 2, more",
                  categories=("ai", "excel, sheets"), sequence=2),
            event(uid="second@tandem", status="CANCELLED"),
        ],
        NOW,
    )  # fmt: skip
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # every line ends in CRLF
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    parsed = icalendar.Calendar.from_ical(text)
    assert str(parsed["VERSION"]) == "2.0" and str(parsed["PRODID"]) == calendar.PRODID
    events = list(parsed.walk("VEVENT"))
    assert [str(e["UID"]) for e in events] == ["abc123@tandem", "second@tandem"]
    first = events[0]
    assert str(first["SUMMARY"]) == 'Sesja: Żaneta, Bogdan; "cytat"'
    assert str(first["DESCRIPTION"]) == "Line 1\nLine 2, more"
    assert first.decoded("DTSTART") == dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)
    assert first.decoded("DTEND") == dt.datetime(2026, 12, 7, 10, 30, tzinfo=dt.UTC)
    assert first.decoded("DTSTAMP") == NOW.replace(tzinfo=dt.UTC)
    assert int(first["SEQUENCE"]) == 2
    assert [str(c) for c in first["CATEGORIES"].cats] == ["ai", "excel, sheets"]
    assert str(events[1]["STATUS"]) == "CANCELLED"

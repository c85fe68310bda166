"""/api/programmes/<slug>/evaluation: HR reads the same tables as the page, one table with
?table=; others get 401/403; no note content; every read is audited as an export."""

from __future__ import annotations

from sqlalchemy import select

from kb.models import AuditEntry
from tests.web.test_evaluation_pages import SECRET, seed

URL = "/api/programmes/spring/evaluation"


def test_hr_reads_the_evaluation_as_json(client, login, web_tandem, app) -> None:
    seed(web_tandem)
    assert client.get(URL).status_code == 401
    login(client, "anna@example.com")
    assert client.get(URL).status_code == 403
    hr = app.test_client()
    login(hr, "hania@example.com")
    answer = hr.get(URL)
    assert answer.status_code == 200
    data = answer.get_json()
    assert data["min_group"] == 3
    tables = {t["name"]: t for t in data["tables"]}
    assert tables["ratings"]["rows"][0][2:5] == ["everyone", 4, 4.0]
    assert SECRET not in answer.get_data(as_text=True)
    assert "Budget session" not in answer.get_data(as_text=True)
    one = hr.get(URL, query_string={"table": "ratings"}).get_json()
    assert [t["name"] for t in one["tables"]] == ["ratings"]
    assert hr.get(URL, query_string={"table": "notes"}).status_code == 404
    assert hr.get("/api/programmes/nope/evaluation").status_code == 404
    with web_tandem.sessions() as s:
        assert s.scalars(select(AuditEntry.action)).all().count("evaluation.export") == 2

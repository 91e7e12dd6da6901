"""The yearly report on the staff page: the dashboard links this year's and last year's."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dsr.core.ledger.db import session_scope
from dsr.core.ledger.models import utcnow
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys, login
from tests.dashboard_data import fill


def test_the_dashboard_links_the_current_and_last_years_report(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """Ops follow the dashboard's links to a printable report of each year (vi, en), or a CSV."""
    with session_scope(rt.db_url) as session:
        fill(session, utcnow())
    login(client, keys.ops)
    year = utcnow().year
    dashboard = client.get("/web/dashboard").text
    for y in (year, year - 1):
        assert f'href="/web/report?year={y}"' in dashboard
    page = client.get(f"/web/report?year={year}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "báo cáo năm" in page.text and "@page { size: A4" in page.text
    assert f"01/01/{year} \u2013 31/12/{year}" in page.text
    english = client.get(f"/web/report?year={year}&lang=en")
    assert "Data-subject requests: yearly report" in english.text
    csv = client.get(f"/web/report?year={year}&format=csv")
    assert csv.headers["content-disposition"] == (
        f'attachment; filename="dsr-report-{year}-01-01-{year}-12-31.csv"'
    )
    assert csv.text.startswith("section,name,figure,value\n")
    assert client.get("/web/report?start=2026-13-01&end=2026-12-31").status_code == 422


def test_support_staff_cannot_read_the_report(client: TestClient, keys: Keys) -> None:
    """The report is ops': support staff get 403, nobody logged in is sent to log in."""
    assert client.get("/web/report?year=2026", follow_redirects=False).status_code in (303, 307)
    login(client, keys.alice)
    assert client.get("/web/report?year=2026").status_code == 403
    assert client.get("/web/report/retention").status_code == 403

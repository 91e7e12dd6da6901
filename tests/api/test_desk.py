"""The desk through the API and the staff page: find a caller's requests, cancel one."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import AuditEvent
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys, csrf_of, login

CALLER = {"kind": "access", "email": "Tran.Binh@Example.vn", "phone": "0912 345 678"}


def _file(client: TestClient, key: str, **body: object) -> str:
    response = client.post("/requests", json={**CALLER, **body}, headers=Keys.header(key))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_api_search_shows_status_and_dates_to_support_details_to_the_filer(
    client: TestClient, keys: Keys
) -> None:
    """Bob finds Alice's request by the caller's phone (status and dates, not details); Alice and
    ops may open it; a short id works on GET /requests/{id}."""
    alices = _file(client, keys.alice)
    found = client.get(
        "/requests/search", params={"phone": "+84912345678"}, headers=Keys.header(keys.bob)
    )
    assert found.status_code == 200
    [row] = found.json()
    assert (row["id"], row["may_open"], row["tasks"]) == (alices, False, None)
    assert row["status"] == "awaiting_verification" and row["due_at"].endswith("Z")
    assert client.get(f"/requests/{alices[:8]}", headers=Keys.header(keys.bob)).status_code == 404
    mine = client.get(f"/requests/{alices[:8]}", headers=Keys.header(keys.alice))
    assert mine.status_code == 200 and mine.json()["id"] == alices
    by_mail = client.get(
        "/requests/search", params={"email": "tran.binh@example.vn"}, headers=Keys.header(keys.ops)
    )
    assert [(r["id"], r["may_open"]) for r in by_mail.json()] == [(alices, True)]
    bad = client.get("/requests/search", params={"email": "x"}, headers=Keys.header(keys.ops))
    assert bad.status_code == 422


def test_api_cancel_by_the_filer_or_ops_only(client: TestClient, keys: Keys) -> None:
    """Bob may not cancel Alice's request; Alice may, once; a second cancel is a conflict."""
    alices = _file(client, keys.alice)
    url = f"/requests/{alices}/cancel"
    assert client.post(url, json={"reason": "x"}, headers=Keys.header(keys.bob)).status_code == 404
    assert client.post(url, json={}, headers=Keys.header(keys.alice)).status_code == 422
    done = client.post(url, json={"reason": "withdrawn"}, headers=Keys.header(keys.alice))
    assert done.status_code == 200 and done.json()["status"] == "canceled"
    again = client.post(url, json={"reason": "again"}, headers=Keys.header(keys.ops))
    assert again.status_code == 409


def test_staff_page_search_box_and_cancel_button(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """On the page, a support agent types the caller's address, phone or short id and sees the
    matching requests (audited); the filer's page has a cancel form that needs a reason."""
    alices = _file(client, keys.alice)
    login(client, keys.bob)
    for q in ("tran.binh@example.vn", "091-234-5678", alices[:8]):
        page = client.get("/web/search", params={"q": q})
        assert page.status_code == 200 and f'id="f-{alices}"' in page.text, q
        assert 'data-may-open="false"' in page.text
    assert "Không có yêu cầu nào" in client.get("/web/search", params={"q": "a@b.vn"}).text
    with Session(get_engine(rt.db_url)) as session:
        searches = session.exec(select(AuditEvent).where(AuditEvent.action == "searched")).all()
    assert [e.actor for e in searches] == ["api:bob"] * 4

    client.cookies.clear()
    login(client, keys.alice)
    page = client.get(f"/web/requests/{alices}")
    assert 'id="cancel"' in page.text
    empty = client.post(
        f"/web/requests/{alices}/cancel", data={"csrf": csrf_of(page.text), "reason": " "}
    )
    assert empty.status_code == 200 and empty.url.path == f"/web/requests/{alices}"
    assert 'role="alert"' in empty.text
    done = client.post(
        f"/web/requests/{alices}/cancel",
        data={"csrf": csrf_of(page.text), "reason": "khách rút yêu cầu"},
    )
    assert 'id="canceled"' in done.text and 'data-status="canceled"' in done.text
    assert 'id="cancel"' not in done.text


def test_the_complaint_form_says_no_code_is_needed(client: TestClient) -> None:
    """The complaint form promises no verification code (none is sent); the others still do."""
    for lang, no_code, code in (
        ("vi", "Khiếu nại không cần mã xác minh", "mã xác minh"),
        ("en", "A complaint needs no verification code", "verification code"),
    ):
        complaint = client.get(f"/privacy/complaint?lang={lang}").text
        help_text = complaint.split('id="email-help">')[1].split("</p>")[0]
        assert no_code in help_text
        access = client.get("/privacy/access").text
        assert code in access.split('id="email-help">')[1].split("</p>")[0]

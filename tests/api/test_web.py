"""The support-staff web page through its forms: login, CSRF, filing, the list and a request."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from dsr.core.ledger import apikeys
from dsr.core.ledger.db import get_engine, session_scope
from dsr.core.ledger.models import (
    ApiKey,
    ConnectorTask,
    Outbox,
    OutboxStatus,
    Request,
    TaskStatus,
    utcnow,
)
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys, csrf_of, login, queued


def _request_count(rt: Runtime) -> int:
    with Session(get_engine(rt.db_url)) as session:
        return session.exec(select(func.count()).select_from(Request)).one()


def _file(client: TestClient, **form: str) -> tuple[int, str, str]:
    page = client.get("/web/requests/new")
    data = {
        "csrf": csrf_of(page.text),
        "kind": "access",
        "email": "an.nguyen@example.vn",
        "jurisdiction": "vn",
        "language": "vi",
        **form,
    }
    response = client.post("/web/requests", data=data, follow_redirects=False)
    return response.status_code, response.headers.get("location", ""), response.text


def test_pages_need_a_login(client: TestClient) -> None:
    """Without a session every page redirects to the login form, which is Vietnamese by default."""
    for path in ("/web/requests", "/web/requests/new", f"/web/requests/{'a' * 32}"):
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/web/login")
    page = client.get("/")
    assert page.url.path == "/web/login"
    assert '<html lang="vi">' in page.text and "Khóa API" in page.text


def test_login_rejects_wrong_key_and_missing_csrf(client: TestClient, keys: Keys) -> None:
    """A wrong or revoked key is 401 on the form; a login without the CSRF token is 403."""
    page = client.get("/web/login")
    for key in ("dsr_wrong", keys.revoked):
        wrong = client.post("/web/login", data={"api_key": key, "csrf": csrf_of(page.text)})
        assert wrong.status_code == 401 and "Khóa API không đúng" in wrong.text
    forged = client.post(
        "/web/login", data={"api_key": keys.alice, "csrf": "forged"}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert client.get("/web/requests", follow_redirects=False).status_code == 303


def test_file_through_the_form_and_see_it_listed(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """A request filed on the form is in the list with kind, status, due date and days left."""
    login(client, keys.alice)
    status, location, _ = _file(client, verified="on", phone="0912345678")
    assert status == 303
    request_id = location.split("/")[3].split("?")[0]
    assert location == f"/web/requests/{request_id}?filed=1"  # lands on the request
    assert 'id="filed"' in client.get(location).text
    page = client.get("/web/requests")
    assert page.status_code == 200
    row = re.search(rf'<tr id="r-{request_id}".*?</tr>', page.text, re.S)
    assert row, "filed request not in the list"
    assert "truy cập dữ liệu" in row.group(0) and "đang xử lý" in row.group(0)
    assert "còn 10 ngày" in row.group(0)  # vn: access within 10 days of receipt
    assert re.search(r"\d\d/\d\d/\d{4}", row.group(0))
    assert queued("dispatch_request") == []  # dispatched at intake: its first stage is queued
    assert len(queued("run_connector_task")) == 1
    detail = client.get(f"/requests/{request_id}", headers=Keys.header(keys.ops)).json()
    assert detail["filed_by"] == "api:alice" and detail["verified_by"] == "api:alice"


def test_form_errors_reshow_the_form_and_write_nothing(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """Bad input is a 422 page naming the problem, keeping what was typed; no row is written."""
    login(client, keys.alice)
    for form, problem in (
        ({"email": "not-an-address"}, "malformed email address"),
        ({"kind": "rectify", "changes": "shoe_size=42"}, "unknown field"),
        ({"kind": "rectify", "changes": "no equals sign"}, "FIELD=VALUE"),
        ({"name": "A\x00B"}, "control characters"),
    ):
        status, _, html = _file(client, **form)
        assert status == 422, form
        assert problem in html
        assert 'value="an.nguyen@example.vn"' in html or "not-an-address" in html
    assert _request_count(rt) == 0


def test_form_without_csrf_is_refused(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """A logged-in form post without this session's token is 403 and files nothing."""
    login(client, keys.alice)
    response = client.post(
        "/web/requests", data={"csrf": "x", "kind": "access", "email": "an.nguyen@example.vn"}
    )
    assert response.status_code == 403
    assert _request_count(rt) == 0


def test_english_toggle_and_overdue_in_red(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """``?lang=en`` switches the session to English; an overdue open request is marked red."""
    login(client, keys.alice)
    _, location, _ = _file(client, verified="on")
    request_id = location.split("/")[3].split("?")[0]
    with session_scope(rt.db_url) as session:
        session.execute(
            update(Request)
            .where(col(Request.id) == request_id)
            .values(due_at=utcnow() - timedelta(days=3))
        )
    page = client.get("/web/requests?lang=en")
    assert '<html lang="en">' in page.text and "File a request" in page.text
    row = re.search(rf'<tr id="r-{request_id}"[^>]*>.*?</tr>', page.text, re.S)
    assert row and 'class="overdue"' in row.group(0) and "3 days overdue" in row.group(0)
    assert '<html lang="en">' in client.get("/web/requests/new").text  # sticks to the session
    only = client.get("/web/requests?overdue=true")
    assert request_id in only.text


def test_request_page_shows_stores_reply_and_audit(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """A request's page lists each connector's status, the reply sent and the audit trail."""
    login(client, keys.alice)
    _, location, _ = _file(client, verified="on")
    request_id = location.split("/")[3].split("?")[0]
    now = utcnow()
    with session_scope(rt.db_url) as session:
        for connector, values in (
            ("crm", {"status": TaskStatus.DONE, "records": 3}),
            ("orders", {"status": TaskStatus.FAILED, "error": "store unreachable"}),
        ):  # the tasks intake's dispatch created, as the workers left them
            session.execute(
                update(ConnectorTask)
                .where(
                    col(ConnectorTask.request_id) == request_id,
                    col(ConnectorTask.connector) == connector,
                )
                .values(updated_at=now, **values)
            )
        session.add(
            Outbox(
                request_id=request_id,
                purpose="reply",
                recipient="a@example.vn",
                message_id="<reply-1@example.com>",
                path="/dev/null",
                status=OutboxStatus.SENT,
                created_at=now,
                sent_at=now,
            )
        )
    page = client.get(f"/web/requests/{request_id}?lang=en")
    assert page.status_code == 200
    html = page.text
    assert re.search(r'data-connector="crm">.*?done.*?<td>3</td>', html, re.S)
    assert re.search(r'data-connector="orders">.*?failed.*?store unreachable', html, re.S)
    assert "Sent at" in html and "&lt;reply-1@example.com&gt;" in html
    assert "api:alice" in html and "verified_by_staff" in html and "received" in html
    assert client.get(f"/web/requests/{'b' * 32}").status_code == 404


def test_web_verify_and_ops_retry(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """Staff enter the subject's code on the page; only ops see and use the retry button."""
    from tests.api.conftest import verification_code

    login(client, keys.alice)
    _, location, _ = _file(client)
    request_id = location.split("/")[3].split("?")[0]
    page = client.get(f"/web/requests/{request_id}")
    wrong = client.post(
        f"/web/requests/{request_id}/verify", data={"csrf": csrf_of(page.text), "code": "abc"}
    )
    assert wrong.status_code == 422 and "wrong verification code" in wrong.text
    done = client.post(
        f"/web/requests/{request_id}/verify",
        follow_redirects=False,
        data={"csrf": csrf_of(page.text), "code": verification_code(rt, request_id)},
    )
    assert done.status_code == 303
    with session_scope(rt.db_url) as session:
        session.add(
            ConnectorTask(
                request_id=request_id,
                connector="crm",
                status=TaskStatus.FAILED,
                updated_at=utcnow(),
            )
        )
        session.execute(
            update(Request).where(col(Request.id) == request_id).values(status="needs_attention")
        )
    page = client.get(f"/web/requests/{request_id}")
    assert "/retry" not in page.text
    refused = client.post(f"/web/requests/{request_id}/retry", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 403
    client.cookies.clear()
    login(client, keys.ops)
    page = client.get(f"/web/requests/{request_id}")
    assert "/retry" in page.text
    retried = client.post(
        f"/web/requests/{request_id}/retry",
        follow_redirects=False,
        data={"csrf": csrf_of(page.text)},
    )
    assert retried.status_code == 303
    assert (
        client.get(f"/requests/{request_id}", headers=Keys.header(keys.ops)).json()["status"]
        == "in_progress"
    )


def test_revoking_a_key_ends_its_sessions(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """Once the key is revoked, its session cookie no longer opens any page."""
    login(client, keys.bob)
    assert client.get("/web/requests", follow_redirects=False).status_code == 200
    with session_scope(rt.db_url) as session:
        row = session.exec(select(ApiKey).where(ApiKey.name == "bob")).one()
        apikeys.revoke(session, row.id)
    assert client.get("/web/requests", follow_redirects=False).status_code == 303


def test_logout_needs_csrf_and_ends_the_session(client: TestClient, keys: Keys) -> None:
    """Logging out takes the page's token; afterwards the pages ask for a login again."""
    login(client, keys.alice)
    page = client.get("/web/requests")
    assert client.post("/web/logout", data={"csrf": "nope"}).status_code == 403
    out = client.post("/web/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/web/requests", follow_redirects=False).status_code == 303


def test_session_cookie_is_signed_httponly_and_strict(client: TestClient, keys: Keys) -> None:
    """The session cookie is HttpOnly and SameSite=strict, and holds no API key."""
    page = client.get("/web/login")
    response = client.post(
        "/web/login",
        data={"api_key": keys.alice, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert keys.alice not in cookie

"""Complaints over HTTP and on the staff page: file, find in the queue, answer from a template."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import Outbox, Request
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys, csrf_of, login, queued

H = Keys.header
TEXT = "Tôi bị gọi điện quảng cáo\nsau khi đã yêu cầu ngừng."


def _complaint(client: TestClient, key: str, **body: Any) -> dict[str, Any]:
    body = {"kind": "complaint", "email": "an.nguyen@example.vn", "text": TEXT, **body}
    response = client.post("/requests", json=body, headers=H(key))
    assert response.status_code == 201, response.text
    return response.json()


def _replies(rt: Runtime, request_id: str) -> list[Outbox]:
    with Session(get_engine(rt.db_url)) as session:
        return list(
            session.exec(
                select(Outbox).where(Outbox.request_id == request_id, Outbox.purpose == "reply")
            )
        )


def test_file_and_answer_a_complaint_over_http(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """Support files a complaint with its text, lists the queue, answers it; the reply is queued
    to the filing address and the answer shows on the request."""
    created = _complaint(client, keys.alice)
    assert (created["kind"], created["status"], created["tasks"]) == (
        "complaint",
        "in_progress",
        [],
    )
    assert queued("dispatch_request") == []  # no store is searched
    queue = client.get(
        "/requests", params={"kind": "complaint", "status": "in_progress"}, headers=H(keys.bob)
    ).json()
    assert [r["id"] for r in queue] == [created["id"]]
    detail = client.get(f"/requests/{created['id']}", headers=H(keys.bob)).json()
    assert detail["complaint"]["text"] == TEXT and detail["complaint"]["answered_at"] is None
    templates = client.get("/complaints/templates", headers=H(keys.bob)).json()
    assert {"name": "secure_account", "needs_note": True} in templates
    response = client.post(
        f"/requests/{created['id']}/answer",
        json={"template": "secure_account", "note": "Ai đó đã đăng nhập bằng mật khẩu cũ."},
        headers=H(keys.bob),
    )
    assert response.status_code == 200, response.text
    answered = response.json()
    assert answered["status"] == "replying"
    assert answered["complaint"]["answered_by"] == "api:bob"
    assert answered["audit"][-1]["action"] == "complaint_answered"
    [reply] = _replies(rt, created["id"])
    assert reply.recipient == "an.nguyen@example.vn"
    assert [m["args"] for m in queued("deliver_message")][-1] == [reply.id]


def test_bad_answers_over_http(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """Unknown template or missing note: 422; answering twice or a non-complaint: 409; an
    unknown id: 404; nothing is queued."""
    created = _complaint(client, keys.alice)
    access = client.post(
        "/requests", json={"kind": "access", "email": "b@example.vn"}, headers=H(keys.alice)
    ).json()
    for request_id, body, status, needle in (
        (created["id"], {"template": "apology"}, 422, "unknown answer template"),
        (created["id"], {"template": "outside_scope"}, 422, "needs a note"),
        (created["id"], {"template": "resolved", "extra": 1}, 422, "extra"),
        (access["id"], {"template": "resolved"}, 409, "not a complaint"),
        ("0" * 32, {"template": "resolved"}, 404, "no such request"),
    ):
        response = client.post(f"/requests/{request_id}/answer", json=body, headers=H(keys.ops))
        assert response.status_code == status, response.text
        assert needle in response.text
    assert _replies(rt, created["id"]) == []
    ok = client.post(
        f"/requests/{created['id']}/answer", json={"template": "no_misuse"}, headers=H(keys.ops)
    )
    assert ok.status_code == 200
    twice = client.post(
        f"/requests/{created['id']}/answer", json={"template": "no_misuse"}, headers=H(keys.ops)
    )
    assert twice.status_code == 409 and len(_replies(rt, created["id"])) == 1


def test_complaint_input_is_checked_over_http(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """A complaint without text, or text on another kind: 422 and no row."""
    for body, needle in (
        ({"kind": "complaint", "email": "a@example.vn"}, "complaint text is empty"),
        ({"kind": "access", "email": "a@example.vn", "text": "x"}, "only for complaints"),
        ({"kind": "complaint", "email": "a@example.vn", "text": "a\x00b"}, "control characters"),
    ):
        response = client.post("/requests", json=body, headers=H(keys.alice))
        assert response.status_code == 422 and needle in response.text
    with Session(get_engine(rt.db_url)) as session:
        assert session.exec(select(func.count()).select_from(Request)).one() == 0


def test_staff_page_files_queues_and_answers_a_complaint(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """On the staff page: file a complaint on the form, find it under "complaints to answer",
    answer it with a template; a template that needs a note re-shows the form with the reason."""
    login(client, keys.alice)
    form = client.get("/web/requests/new")
    filed = client.post(
        "/web/requests",
        data={
            "csrf": csrf_of(form.text),
            "kind": "complaint",
            "email": "an.nguyen@example.vn",
            "text": TEXT,
            "jurisdiction": "vn",
            "language": "vi",
        },
        follow_redirects=False,
    )
    assert filed.status_code == 303, filed.text
    request_id = filed.headers["location"].split("/")[3].split("?")[0]
    home = client.get("/web/requests")
    assert "Khiếu nại chờ trả lời" in home.text
    queue = client.get("/web/requests?kind=complaint&status=in_progress")
    row = re.search(rf'<tr id="r-{request_id}".*?</tr>', queue.text, re.S)
    assert row and "khiếu nại" in row.group(0) and "còn 15 ngày" in row.group(0)
    page = client.get(f"/web/requests/{request_id}")
    assert "Tôi bị gọi điện quảng cáo" in page.text and 'id="answer-form"' in page.text
    assert "Hướng dẫn bảo mật lại tài khoản (cần ghi chú)" in page.text
    refused = client.post(
        f"/web/requests/{request_id}/answer",
        data={"csrf": csrf_of(page.text), "template": "secure_account", "note": ""},
    )
    assert refused.status_code == 422 and "cần ghi chú của nhân viên" in refused.text
    assert 'option value="secure_account" selected' in refused.text
    done = client.post(
        f"/web/requests/{request_id}/answer",
        data={"csrf": csrf_of(page.text), "template": "no_misuse", "note": "Đã kiểm tra."},
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = client.get(f"/web/requests/{request_id}")
    assert 'id="answer-form"' not in after.text
    assert "Không phát hiện vi phạm" in after.text and "api:alice" in after.text
    assert len(_replies(rt, request_id)) == 1

"""``/requests``: filing, listing, reading, verifying and retrying over HTTP on PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from api import create_app
from dsr.core.ledger.db import get_engine, session_scope
from dsr.core.ledger.models import (
    AuditEvent,
    ConnectorTask,
    Outbox,
    Request,
    RequestStatus,
    TaskStatus,
    utcnow,
)
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.steps import Step
from tests.api.conftest import Keys, queued, verification_code

H = Keys.header


def _file(client: TestClient, key: str, **body: Any) -> dict[str, Any]:
    body.setdefault("kind", "access")
    body.setdefault("email", "an.nguyen@example.vn")
    response = client.post("/requests", json=body, headers=H(key))
    assert response.status_code == 201, response.text
    return response.json()


def _counts(rt: Runtime) -> tuple[int, int, int]:
    with Session(get_engine(rt.db_url)) as session:
        return (
            session.exec(select(func.count()).select_from(Request)).one(),
            session.exec(select(func.count()).select_from(AuditEvent)).one(),
            session.exec(select(func.count()).select_from(Outbox)).one(),
        )


def test_file_verified_request_records_staff_and_enqueues_dispatch(
    client: TestClient, keys: Keys
) -> None:
    """A verified request is 201 with Location, names the key as filer, and queues its dispatch."""
    response = client.post(
        "/requests",
        headers=H(keys.alice),
        json={
            "kind": "access",
            "email": " An.Nguyen@Example.VN ",
            "phone": "0912 345 678",
            "name": "Nguyễn Văn An",
            "language": "en",
            "verified": True,
        },
    )
    assert response.status_code == 201, response.text
    data = response.json()
    assert response.headers["location"] == f"/requests/{data['id']}"
    assert (data["status"], data["email"], data["language"]) == (
        "in_progress",
        "an.nguyen@example.vn",
        "en",
    )
    assert data["verified_by"] == "api:alice" and data["due_at"] and data["ack_due_at"]
    # Nothing is left to prove: dispatched at intake, its first stage (crm) is queued by task id.
    assert queued("dispatch_request") == []
    (run,) = queued("run_connector_task")
    assert re.fullmatch(r"[0-9a-f]{32}", run["args"][0])  # a task id only, never the address
    detail = client.get(f"/requests/{data['id']}", headers=H(keys.alice)).json()
    assert detail["filed_by"] == "api:alice"
    assert [(e["actor"], e["action"]) for e in detail["audit"]] == [
        ("api:alice", "received"),
        ("api:alice", "verified_by_staff"),
        ("system", "dispatched"),
    ]


def test_unverified_request_waits_for_code(client: TestClient, keys: Keys) -> None:
    """Without ``verified`` the request awaits the subject's code and nothing is dispatched."""
    data = _file(client, keys.alice)
    assert data["status"] == "awaiting_verification"
    assert queued("dispatch_request") == []
    assert len(queued("deliver_message")) == 2  # acknowledgement and the code


def test_steps_are_enqueued_only_after_commit(rt: Runtime, keys: Keys) -> None:
    """When the API enqueues, the request is already visible to another connection."""
    seen: list[tuple[Step, str | None]] = []

    def enqueue(steps: Any) -> None:
        with Session(get_engine(rt.db_url)) as other:
            for step in steps:
                status = other.exec(select(Request.status)).first()
                seen.append((step, status))

    with TestClient(create_app(rt, enqueue=enqueue)) as client:
        _file(client, keys.alice, verified=True)
    assert "run_task" in [s.actor for s, _ in seen]
    assert all(status == "in_progress" for _, status in seen)


@pytest.mark.parametrize(
    "body, message",
    [
        ({"kind": "export", "email": "a@example.vn"}, "kind"),
        ({"kind": "access", "email": "not-an-address"}, "malformed email address"),
        ({"kind": "access", "email": "a@example.vn", "phone": "12"}, "malformed phone number"),
        ({"kind": "rectify", "email": "a@example.vn"}, "needs at least one"),
        (
            {"kind": "rectify", "email": "a@example.vn", "changes": {"shoe_size": "42"}},
            "unknown field 'shoe_size'",
        ),
        ({"kind": "access", "email": "a@example.vn", "changes": {"name": "B"}}, "only for rectify"),
        (
            {"kind": "access", "email": "a@example.vn", "jurisdiction": "mars"},
            "unknown jurisdiction",
        ),
        ({"kind": "access", "email": "a@example.vn", "language": "fr"}, "language"),
        ({"kind": "access", "email": "a@exa\u0000mple.vn"}, "control characters"),
        ({"kind": "access", "email": "a@example.vn", "admin": True}, "admin"),
        ({"kind": "access"}, "email"),
    ],
)
def test_bad_input_is_422_and_writes_nothing(
    client: TestClient, rt: Runtime, keys: Keys, body: dict[str, Any], message: str
) -> None:
    """Every kind of bad input is a 422 naming the problem; no row, event or e-mail is written."""
    before = _counts(rt)
    response = client.post("/requests", json=body, headers=H(keys.alice))
    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert _counts(rt) == before
    assert queued() == []


def test_malformed_json_is_422(client: TestClient, keys: Keys) -> None:
    """A body that is not JSON is a 422, not a server error."""
    response = client.post(
        "/requests", content=b"{nope", headers={**H(keys.alice), "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "detail" in response.json()


def test_list_filters_by_status_and_overdue(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """``?status=`` keeps one status; ``?overdue=true`` keeps open, verified requests past due_at
    (an unverified one's clock has not started; an ops key lists every key's requests)."""
    waiting = _file(client, keys.alice)
    verified = _file(client, keys.bob, kind="erase", verified=True)
    with session_scope(rt.db_url) as session:
        session.execute(
            update(Request)
            .where(col(Request.id).in_([waiting["id"], verified["id"]]))
            .values(due_at=utcnow() - timedelta(days=2))
        )
    everything = client.get("/requests", headers=H(keys.ops)).json()
    assert [r["id"] for r in everything] == [verified["id"], waiting["id"]]  # newest first
    only = client.get("/requests?status=in_progress", headers=H(keys.ops)).json()
    assert [r["id"] for r in only] == [verified["id"]]
    late = client.get("/requests", params={"overdue": "true"}, headers=H(keys.ops)).json()
    assert [r["id"] for r in late] == [verified["id"]]
    assert client.get("/requests?limit=1", headers=H(keys.ops)).json()[0]["id"] == verified["id"]


def test_list_rejects_unknown_status(client: TestClient, keys: Keys) -> None:
    """An unknown status filter is a 422 that lists the valid ones."""
    response = client.get("/requests?status=lost", headers=H(keys.alice))
    assert response.status_code == 422
    assert "awaiting_verification" in response.json()["detail"]


def test_get_unknown_request_is_404(client: TestClient, keys: Keys) -> None:
    """An id that names nothing, or cannot be an id, is a 404."""
    for rid in ("0" * 32, "nope", "a%00b"):
        response = client.get(f"/requests/{rid}", headers=H(keys.alice))
        assert response.status_code == 404
        assert response.json() == {"detail": "no such request"}


def test_verify_with_the_emailed_code(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """A wrong code is a 422 (counted); the right one verifies and dispatches; again is 409."""
    data = _file(client, keys.alice)
    code = verification_code(rt, data["id"])
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(
        f"/requests/{data['id']}/verify", json={"code": wrong}, headers=H(keys.alice)
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "wrong verification code"
    response = client.post(
        f"/requests/{data['id']}/verify", json={"code": code}, headers=H(keys.alice)
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "verified"
    assert [m["args"] for m in queued("dispatch_request")] == [[data["id"]]]
    again = client.post(
        f"/requests/{data['id']}/verify", json={"code": code}, headers=H(keys.alice)
    )
    assert again.status_code == 409
    missing = client.post(
        f"/requests/{'f' * 32}/verify", json={"code": code}, headers=H(keys.alice)
    )
    assert missing.status_code == 404


def _needs_attention(rt: Runtime, request_id: str) -> None:
    """Put the request where a failed store leaves it (two stages: crm failed, orders after)."""
    now = utcnow()
    outcome: dict[str, dict[str, Any]] = {
        "crm": {"status": TaskStatus.FAILED, "error": "store unreachable", "finished_at": now},
        "orders": {"status": TaskStatus.SKIPPED},
    }
    with session_scope(rt.db_url) as session:
        for task in session.exec(
            select(ConnectorTask).where(ConnectorTask.request_id == request_id)
        ):
            # The tasks intake's dispatch created; the stores not named here finished.
            values = outcome.get(task.connector, {"status": TaskStatus.DONE, "finished_at": now})
            session.execute(
                update(ConnectorTask)
                .where(col(ConnectorTask.id) == task.id)
                .values(updated_at=now, **values)
            )
        session.execute(
            update(Request)
            .where(col(Request.id) == request_id)
            .values(status=RequestStatus.NEEDS_ATTENTION, attention="connector task failed")
        )


def test_ops_retries_a_needs_attention_request(client: TestClient, rt: Runtime, keys: Keys) -> None:
    """Ops re-drive failed tasks: the request is in progress and the first stage is queued."""
    data = _file(client, keys.alice, verified=True)
    _needs_attention(rt, data["id"])
    from workers.broker import broker

    broker.flush_all()
    assert client.post(f"/requests/{data['id']}/retry", headers=H(keys.alice)).status_code == 403
    response = client.post(f"/requests/{data['id']}/retry", headers=H(keys.ops))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "in_progress" and body["attention"] is None
    statuses = {t["connector"]: t["status"] for t in body["tasks"]}
    assert (statuses["crm"], statuses["orders"]) == ("pending", "pending")
    assert len(queued("run_connector_task")) == 1  # stage 0 only; orders waits for crm
    detail = client.get(f"/requests/{data['id']}", headers=H(keys.ops)).json()
    assert ("api:olga", "retried") in [(e["actor"], e["action"]) for e in detail["audit"]]
    # Retrying a request that is not in needs_attention re-sends its current step (its message
    # may be lost) instead of refusing: the crm task is queued again.
    again = client.post(f"/requests/{data['id']}/retry", headers=H(keys.ops))
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "in_progress"
    assert len(queued("run_connector_task")) == 2


def test_openapi_schema_is_published(client: TestClient) -> None:
    """The OpenAPI schema lists every endpoint and both ways to present a key."""
    schema = client.get("/openapi.json").json()
    assert {
        "/requests",
        "/requests/{request_id}",
        "/requests/{request_id}/verify",
        "/requests/{request_id}/retry",
        "/requests/{request_id}/export",
        "/exports/{token}",
        "/healthz",
        "/metrics",
    } <= set(schema["paths"])
    assert set(schema["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}
    assert not any(p.startswith("/web") for p in schema["paths"])


def test_identical_request_joins_the_open_one(client: TestClient, keys: Keys) -> None:
    """Filing the same request twice over HTTP gives the open one back, with duplicate_of."""
    first = _file(client, keys.alice, verified=True)
    again = _file(client, keys.alice, verified=True)
    assert again["id"] == first["id"] and again["duplicate_of"] == first["id"]
    assert first["duplicate_of"] is None


def test_a_door_queues_the_reply_for_a_worker_instead_of_building_it(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    """When an ops re-drive through the API finishes a request's fan-in, the reply's
    aggregation goes to the queue for a worker: the API neither builds nor sends it."""
    data = _file(client, keys.alice, verified=True)
    now = utcnow()
    with session_scope(rt.db_url) as session:  # every store answered; the fan-in was lost
        session.execute(
            update(ConnectorTask)
            .where(col(ConnectorTask.request_id) == data["id"])
            .values(status=TaskStatus.DONE, finished_at=now, updated_at=now)
        )
    from workers.broker import broker

    broker.flush_all()
    response = client.post(f"/requests/{data['id']}/retry", headers=H(keys.ops))
    assert response.status_code == 200, response.text
    after = client.get(f"/requests/{data['id']}", headers=H(keys.ops)).json()
    assert (after["status"], after["reply"]) == ("replying", None)
    assert [m["args"] for m in queued("aggregate_request")] == [[data["id"]]]

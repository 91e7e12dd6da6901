"""``GET /alerts`` and the acknowledgement by ops (issue 23): alerts are visible beside the
ledger, not only in ops' mailbox, and someone can say they took one."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from dsr.core.ledger.db import get_engine, session_scope
from dsr.core.ledger.models import AuditEvent
from dsr.core.replies import alerts
from dsr.core.runtime.process import Runtime
from tests.api.conftest import Keys, csrf_of, login

H = Keys.header


def test_ops_list_and_acknowledge_alerts(client: TestClient, rt: Runtime, keys: Keys) -> None:
    with session_scope(rt.db_url) as session:
        alerts.raise_alert(session, rt.settings, reason="disk_full", occasion="task:crm")
        alerts.raise_alert(session, rt.settings, reason="stalled", occasion="x")
    assert client.get("/alerts", headers=H(keys.alice)).status_code == 403  # support: no
    listed = client.get("/alerts", headers=H(keys.ops))
    assert listed.status_code == 200, listed.text
    assert {a["reason"] for a in listed.json()} == {"disk_full", "stalled"}
    first = next(a for a in listed.json() if a["reason"] == "disk_full")
    assert first["acknowledged_at"] is None

    done = client.post(f"/alerts/{first['id']}/acknowledge", headers=H(keys.ops))
    assert done.status_code == 200, done.text
    assert done.json()["acknowledged_by"] == "api:olga" and done.json()["acknowledged_at"]
    again = client.post(f"/alerts/{first['id']}/acknowledge", headers=H(keys.ops))
    assert again.json()["acknowledged_at"] == done.json()["acknowledged_at"]  # once

    still_open = client.get("/alerts?open=true", headers=H(keys.ops)).json()
    assert [a["reason"] for a in still_open] == ["stalled"]
    assert client.post("/alerts/nope/acknowledge", headers=H(keys.ops)).status_code == 404
    with Session(get_engine(rt.db_url)) as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action == "alert_acknowledged")
        ).all()
    assert len(events) == 1


def test_the_dashboard_lists_open_alerts_and_ops_acknowledge_them(
    client: TestClient, rt: Runtime, keys: Keys
) -> None:
    with session_scope(rt.db_url) as session:
        alerts.raise_alert(session, rt.settings, reason="disk_full", occasion="task:crm")
    login(client, keys.ops)
    page = client.get("/web/dashboard")
    assert page.status_code == 200 and 'id="alert-list"' in page.text and "disk_full" in page.text
    (alert_id,) = re.findall(r'data-alert="([0-9a-f]{32})"', page.text)
    done = client.post(
        f"/web/alerts/{alert_id}/acknowledge",
        data={"csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = client.get("/web/dashboard")
    assert 'id="alert-list"' not in after.text  # acknowledged: off the open list
    listed = client.get("/alerts", headers=H(keys.ops)).json()
    assert listed[0]["acknowledged_by"] == "api:olga"

"""Ops' alerts: the list (newest first) and the acknowledgement that says someone took one.

An alert stays in the ledger after it is acknowledged (the metric counts every alert ever
raised); acknowledging records who and when, once, and puts it in the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import col, select

from dsr.core.ledger import audit
from dsr.core.ledger.apikeys import Role
from dsr.core.ledger.db import changed
from dsr.core.ledger.models import Alert, utcnow
from dsr.errors import NotFound
from dsr.service.base import ServiceBase
from dsr.service.callers import Caller


class AlertView(BaseModel):
    """One alert as ops see it: ids, reasons and store names only (never personal data)."""

    id: str
    reason: str
    request_id: str | None
    detail: dict[str, Any]
    created_at: datetime
    emailed: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None


def _view(row: Alert) -> AlertView:
    return AlertView(
        id=row.id,
        reason=row.reason,
        request_id=row.request_id,
        detail=dict(row.detail),
        created_at=row.created_at,
        emailed=row.emailed,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
    )


def list_alerts(
    svc: ServiceBase, *, by: Caller, open_only: bool = False, limit: int = 200
) -> list[AlertView]:
    """Alerts, newest first (``open_only``: not yet acknowledged). Ops only."""
    svc._require(by, Role.OPS)
    with svc.session() as session:
        query = select(Alert).order_by(col(Alert.created_at).desc()).limit(limit)
        if open_only:
            query = query.where(col(Alert.acknowledged_at).is_(None))
        return [_view(a) for a in session.exec(query)]


def acknowledge(svc: ServiceBase, alert_id: str, *, by: Caller) -> AlertView:
    """Record that ``by`` took the alert; a second acknowledgement changes nothing."""
    svc._require(by, Role.OPS)
    with svc.session() as session:
        if session.get(Alert, alert_id) is None:
            raise NotFound("no such alert")
        won = changed(
            session,
            update(Alert)
            .where(col(Alert.id) == alert_id, col(Alert.acknowledged_at).is_(None))
            .values(acknowledged_at=utcnow(), acknowledged_by=by.actor[:120]),
        )
        if won:
            audit.record(session, actor=by.actor, action="alert_acknowledged", alert_id=alert_id)
        row = session.get(Alert, alert_id)
        assert row is not None
        session.refresh(row)
        return _view(row)

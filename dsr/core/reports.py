"""What each store did for a request, as the replies and ops alerts show it."""

from __future__ import annotations

from sqlmodel import Session

from dsr.core import paths, replies
from dsr.core.dispatch import tasks_of
from dsr.core.models import Request, RequestKind, TaskStatus
from dsr.core.runtime import Runtime


def store_reports(session: Session, rt: Runtime, request: Request) -> list[replies.StoreReport]:
    """One report per connector task, in stage order."""
    reports = []
    for task in tasks_of(session, request.id):
        connector = rt.connectors.get(task.connector)
        staging = paths.staging(rt.settings.resolved_export_dir, request.id, task.connector)
        reports.append(
            replies.StoreReport(
                connector=task.connector,
                labels=dict(getattr(connector, "labels", {}) or {"en": task.connector}),
                status=task.status,
                result=task.result,
                recipients=list(getattr(connector, "recipients", []) or []),
                staging=staging
                if request.kind == RequestKind.ACCESS and staging.exists()
                else None,
                reason=task.error if task.status != TaskStatus.DONE else None,
            )
        )
    return reports

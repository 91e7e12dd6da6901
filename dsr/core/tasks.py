"""Connector tasks: run one store's part of a request, then decide fan-in in the ledger."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, update
from sqlmodel import Session, col

from dsr.connectors.base import Action, Operation, Outcome, TaskResult
from dsr.core import assurance, audit, candidates, dispatch, messages, paths, steps
from dsr.core.db import changed
from dsr.core.holds import matching as matching_hold
from dsr.core.models import (
    TERMINAL_TASK,
    ConnectorTask,
    Request,
    RequestCandidate,
    RequestKind,
    RequestStatus,
    TaskStatus,
    utcnow,
)
from dsr.core.reports import store_reports
from dsr.core.runtime import Runtime
from dsr.errors import DsrError, FatalStoreError, NotApplicable, NotFound, StateConflict


def _claim(session: Session, rt: Runtime, task: ConnectorTask) -> bool:
    now = utcnow()
    stale = now - timedelta(seconds=rt.settings.task_lease_seconds)
    won = changed(
        session,
        update(ConnectorTask)
        .where(
            col(ConnectorTask.id) == task.id,
            or_(
                col(ConnectorTask.status) == TaskStatus.PENDING,
                and_(
                    col(ConnectorTask.status) == TaskStatus.RUNNING,
                    col(ConnectorTask.started_at) < stale,
                ),
            ),
        )
        .values(
            status=TaskStatus.RUNNING,
            started_at=now,
            updated_at=now,
            attempts=ConnectorTask.attempts + 1,
        ),
    )
    session.commit()
    return bool(won)


def _finish(
    session: Session,
    task: ConnectorTask,
    status: TaskStatus,
    *,
    result: dict[str, Any] | None = None,
    records: int = 0,
    error: str | None = None,
) -> bool:
    now = utcnow()
    won = changed(
        session,
        update(ConnectorTask)
        .where(
            col(ConnectorTask.id) == task.id,
            col(ConnectorTask.status).not_in(TERMINAL_TASK),
        )
        .values(
            status=status,
            result=result,
            records=records,
            error=error,
            finished_at=now,
            updated_at=now,
        ),
    )
    if won:
        audit.record(
            session,
            actor=f"connector:{task.connector}",
            action=f"task_{status}",
            request_id=task.request_id,
            connector=task.connector,
            records=records,
        )
    return bool(won)


def _deferred(reason: str) -> TaskResult:
    return TaskResult(
        Operation.ERASE, 0, [Outcome("*", Action.DEFERRED, 0, reason=f"legal hold: {reason}")]
    )


def run(session: Session, rt: Runtime, task_id: str) -> list[steps.Step]:
    """Run one connector task (idempotent: a finished task is left alone)."""
    task = session.get(ConnectorTask, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    if task.status in TERMINAL_TASK:
        return [steps.advance(task.request_id)]
    if not _claim(session, rt, task):
        return []  # another worker holds a fresh claim on it
    request = session.get(Request, task.request_id)
    assert request is not None
    scope = assurance.policy(session, request, task.connector)
    hold = matching_hold(session, scope.search, task.connector)
    if request.kind == RequestKind.ERASE and hold is not None:
        _finish(
            session,
            task,
            TaskStatus.SKIPPED,
            result=_deferred(hold.reason).to_json(),
            error=f"legal hold: {hold.reason}"[:500],
        )
        return [steps.advance(task.request_id)]
    try:
        result = rt.connectors[task.connector].apply(
            Operation(request.kind),
            scope,
            staging=paths.staging(rt.settings.resolved_export_dir, request.id, task.connector),
            changes=dict(request.changes or {}),
        )
    except NotApplicable as err:
        _finish(session, task, TaskStatus.SKIPPED, result=task.result, error=str(err)[:500])
    except FatalStoreError as err:
        # ``task.result`` holds what earlier runs did (retry, review): keep it for the reply.
        _finish(session, task, TaskStatus.FAILED, result=task.result, error=str(err)[:500])
    except Exception as err:
        # Release the claim so the broker's retry can run the task at once, instead of finding
        # a fresh lease and leaving the request to the re-drive job.
        session.rollback()
        session.execute(
            update(ConnectorTask)
            .where(col(ConnectorTask.id) == task.id)
            .values(
                status=TaskStatus.PENDING,
                updated_at=utcnow(),
                # Our errors carry ids only; others (SQLAlchemy's) may quote bound values.
                error=str(err)[:500] if isinstance(err, DsrError) else type(err).__name__,
            )
        )
        session.commit()
        raise
    else:
        # Only what the policy admitted was touched; a re-run (retry, review) adds to before.
        merged = assurance.merge(request.kind, task.result, result.to_json())
        if _finish(session, task, TaskStatus.DONE, result=merged, records=merged["records"]):
            assurance.learn(session, rt, request, task.connector, scope, result)
    return [steps.advance(task.request_id)]


def fail(session: Session, task_id: str, reason: str) -> list[steps.Step]:
    """The retry budget is spent: the task failed for good, so fan-in can still finish."""
    task = session.get(ConnectorTask, task_id)
    if task is None:
        return []
    _finish(session, task, TaskStatus.FAILED, result=task.result, error=reason[:500])
    return [steps.advance(task.request_id)]


def fan_in(session: Session, rt: Runtime, request_id: str) -> list[steps.Step]:
    """One conditional UPDATE decides the winner once every task is terminal."""
    open_task = exists().where(
        col(ConnectorTask.request_id) == request_id, col(ConnectorTask.status).not_in(TERMINAL_TASK)
    )
    failed = exists().where(
        col(ConnectorTask.request_id) == request_id, col(ConnectorTask.status) == TaskStatus.FAILED
    )
    now = utcnow()
    base = update(Request).where(
        col(Request.id) == request_id, col(Request.status) == RequestStatus.IN_PROGRESS, ~open_task
    )
    if changed(
        session,
        base.where(failed).values(
            status=RequestStatus.NEEDS_ATTENTION, updated_at=now, attention="connector task failed"
        ),
    ):
        request = session.get(Request, request_id)
        assert request is not None
        session.refresh(request)
        audit.record(session, actor="system", action="needs_attention", request_id=request_id)
        reports = store_reports(session, rt, request)
        rounds = max((t.attempts for t in dispatch.tasks_of(session, request_id)), default=1)
        return [
            messages.ops_alert(
                session,
                rt.settings,
                request,
                "connector_failed",
                reports,
                occasion=f"attempt-{rounds}",
            )
        ]
    undecided = exists().where(
        col(RequestCandidate.request_id) == request_id, col(RequestCandidate.decision).is_(None)
    )
    if changed(
        session,
        base.where(~failed, undecided).values(status=RequestStatus.NEEDS_REVIEW, updated_at=now),
    ):
        # Records whose owner is uncertain: the reply waits for a staff decision (dsr review).
        request = session.get(Request, request_id)
        assert request is not None
        session.refresh(request)
        audit.record(session, actor="system", action="needs_review", request_id=request_id)
        reports = store_reports(session, rt, request)
        decided = sum(1 for c in candidates.of(session, request_id) if c.decision is not None)
        return [
            messages.ops_alert(
                session, rt.settings, request, "needs_review", reports, occasion=f"after-{decided}"
            )
        ]
    if changed(session, base.where(~failed).values(status=RequestStatus.REPLYING, updated_at=now)):
        audit.record(session, actor="system", action="all_tasks_done", request_id=request_id)
        return [steps.aggregate(request_id)]
    return []


def retry(session: Session, rt: Runtime, request_id: str, *, by: str) -> list[steps.Step]:
    """Re-drive a needs_attention request: failed tasks, and every later stage, run again."""
    request = session.get(Request, request_id)
    if request is None:
        raise NotFound(f"no request {request_id}")
    if request.status != RequestStatus.NEEDS_ATTENTION:
        raise StateConflict(f"request {request_id} is {request.status}, not needs_attention")
    tasks = dispatch.tasks_of(session, request_id)
    failed_stages = [t.stage for t in tasks if t.status == TaskStatus.FAILED]
    first = min(failed_stages) if failed_stages else None
    now = utcnow()
    for t in tasks:
        # Later stages ran with an identity the failed store could not expand: run them again.
        if t.status == TaskStatus.FAILED or (first is not None and t.stage > first):
            t.status, t.error, t.records = TaskStatus.PENDING, None, 0
            t.result = assurance.stash(t.result)
            t.updated_at = now
            session.add(t)
    request.status, request.attention, request.updated_at = RequestStatus.IN_PROGRESS, None, now
    session.add(request)
    audit.record(session, actor=by, action="retried", request_id=request_id)
    session.flush()
    return dispatch.ready(session, request_id)

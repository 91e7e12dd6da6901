"""Connector tasks: run one store's part of a request, then decide fan-in in the ledger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import and_, case, exists, or_, update
from sqlmodel import Session, col

from connectors.base import Action, Operation, Outcome, TaskResult
from dsr.core.identity import assurance, candidates
from dsr.core.identity.scope import Scope
from dsr.core.ledger import audit, exports, paths, storage
from dsr.core.ledger.db import UnitOfWork, changed
from dsr.core.ledger.holds import matching as matching_hold
from dsr.core.ledger.models import (
    TERMINAL_TASK,
    ConnectorTask,
    Request,
    RequestCandidate,
    RequestKind,
    RequestStatus,
    TaskStatus,
    load_request,
    utcnow,
)
from dsr.core.pipeline import dispatch, subjects
from dsr.core.pipeline.reports import store_reports
from dsr.core.replies import alerts, undeliverable
from dsr.core.runtime import leases, steps
from dsr.core.runtime.process import Runtime
from dsr.errors import DsrError, FatalStoreError, NotApplicable, NotFound


def _claim(session: Session, rt: Runtime, task_id: str) -> tuple[str, str] | None:
    """Take the task: pending, or running under a lease old enough to mean its worker died.

    One ``UPDATE … RETURNING``: the request and store it belongs to when it was ours to take.
    """
    now = utcnow()
    stale = now - timedelta(seconds=rt.settings.task_lease_seconds)
    won = session.execute(
        update(ConnectorTask)
        .where(
            col(ConnectorTask.id) == task_id,
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
        )
        .returning(col(ConnectorTask.request_id), col(ConnectorTask.connector))
    ).first()
    return None if won is None else (won[0], won[1])


class _Ref(NamedTuple):
    """What ``_finish`` needs of a task (a claimed one is not loaded)."""

    id: str
    request_id: str
    connector: str


def _finish(
    session: Session,
    task: ConnectorTask | _Ref,
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


@dataclass(frozen=True)
class Work:
    """A claimed task and everything its store needs, read before the store is talked to."""

    task_id: str
    request_id: str
    connector: str
    operation: Operation
    scope: Scope  # the core's policy: which records the store may act on
    changes: dict[str, str]
    staging: Path
    received_at: datetime | None = None  # every record written before it must be searched


@dataclass(frozen=True)
class Done:
    """What the store did, or why it did nothing; ``retry`` is re-raised after recording."""

    status: TaskStatus
    result: TaskResult | None = None
    error: str | None = None
    retry: BaseException | None = None


def claim(session: Session, rt: Runtime, task_id: str) -> Work | list[steps.Step]:
    """Claim a task; the work to do, or the steps to take when there is none (idempotent).

    A legal hold on an erasure finishes the task here, without the store.
    """
    claimed = _claim(session, rt, task_id)
    if claimed is None:
        task = session.get(ConnectorTask, task_id)
        if task is None:
            raise NotFound(f"no task {task_id}")
        if task.status in TERMINAL_TASK:
            return [steps.advance(task.request_id)]
        return []  # another worker holds a fresh claim on it
    request_id, connector = claimed
    request = session.get(Request, request_id)
    assert request is not None
    scope = assurance.policy(session, request, connector)
    if request.kind == RequestKind.ERASE:
        hold = matching_hold(session, scope.search, connector)
        if hold is not None:
            _finish(
                session,
                _Ref(task_id, request_id, connector),
                TaskStatus.SKIPPED,
                result=_deferred(hold.reason).to_json(),
                error=f"legal hold: {hold.reason}"[:500],
            )
            return [steps.advance(request_id)]
    return Work(
        task_id=task_id,
        request_id=request_id,
        connector=connector,
        operation=Operation(request.kind),
        scope=scope,
        changes=dict(request.changes or {}),
        staging=paths.staging(rt.settings.resolved_export_dir, request_id, connector),
        received_at=request.received_at,
    )


def keeper(uow: UnitOfWork, rt: Runtime, todo: Work) -> Callable[[TaskResult], None] | None:
    """For an erasure: what keeps its result in the ledger just before its store commits (the
    only ledger transaction opened while a store works, and the store waits for it)."""
    if todo.operation is not Operation.ERASE:
        return None

    def keep(about_to: TaskResult) -> None:
        with uow() as session:
            task = session.get(ConnectorTask, todo.task_id)
            if task is not None and task.status == TaskStatus.RUNNING:
                assurance.keep_attempt(session, rt, task, todo.scope, about_to)

    return keep


def work(uow: UnitOfWork, rt: Runtime, todo: Work) -> Done:
    """Talk to the store, with no ledger transaction open (an erasure's result aside, kept
    just before the store commits it); every outcome becomes a value."""
    try:
        try:
            result = rt.connectors[todo.connector].apply(
                todo.operation,
                todo.scope,
                staging=todo.staging,
                changes=todo.changes,
                as_of=todo.received_at,
                before_commit=keeper(uow, rt, todo),
            )
            # With a bucket, what was staged here goes there: another host builds the bundle.
            exports.publish_staging(rt.settings, todo.request_id, todo.connector, todo.staging)
        except BaseException:
            storage.remove_tree(todo.staging)  # half-written: never bundled, never filling a disk
            raise
    except NotApplicable as err:
        return Done(TaskStatus.SKIPPED, error=str(err)[:500])
    except FatalStoreError as err:
        return Done(TaskStatus.FAILED, error=str(err)[:500])
    except Exception as err:  # noqa: BLE001 - recorded, then re-raised for the broker's retry
        return Done(TaskStatus.PENDING, error=_one_line(err), retry=err)
    return Done(TaskStatus.DONE, result=result)


def record(session: Session, rt: Runtime, todo: Work, done: Done) -> list[steps.Step]:
    """Write what the store did; a retriable failure releases the claim for the retry."""
    if done.retry is not None:
        # Releasing the claim lets the broker's retry run the task at once, instead of finding a
        # fresh lease and leaving the request to the re-drive job.
        session.execute(
            update(ConnectorTask)
            .where(
                col(ConnectorTask.id) == todo.task_id,
                col(ConnectorTask.status) == TaskStatus.RUNNING,
            )
            .values(status=TaskStatus.PENDING, updated_at=utcnow(), error=done.error)
        )
        if storage.is_disk_full(done.retry):
            # Not the store's fault and not worth a retry storm: ops are told, the task waits
            # (pending) and re-drive runs it again, so the request resumes when space returns.
            return alerts.raise_alert(
                session,
                rt.settings,
                reason="disk_full",
                request=session.get(Request, todo.request_id),
                occasion=f"task:{todo.connector}",
                connector=todo.connector,
            )
        return []
    task = session.get(ConnectorTask, todo.task_id)
    request = session.get(Request, todo.request_id)
    assert task is not None and request is not None
    result = done.result
    if result is None:
        # ``task.result`` holds what earlier runs did (retry, review): keep it for the reply.
        _finish(session, task, done.status, result=task.result, error=done.error)
        return [steps.advance(todo.request_id)]
    previous = task.result
    if todo.operation is Operation.ERASE:
        previous = assurance.settle_attempt(previous, result, run=task.attempts)
        if result.records == 0:
            result = subjects.already_erased(session, request, todo.connector, result)
    # Only what the policy admitted was touched; a re-run (retry, review) adds to before.
    merged = assurance.merge(request.kind, previous, result.to_json())
    if _finish(session, task, TaskStatus.DONE, result=merged, records=merged["records"]):
        assurance.learn(session, rt, request, todo.connector, todo.scope, result)
    return [steps.advance(todo.request_id)]


def run(uow: UnitOfWork, rt: Runtime, task_id: str) -> list[steps.Step]:
    """Run one connector task: claim (short transaction), the store's work (none), record.

    No ledger transaction is open while the store is talked to, so a slow store never blocks
    another writer (on SQLite every writer waits for the one open transaction).
    """
    with uow() as session:
        todo = claim(session, rt, task_id)
    if not isinstance(todo, Work):
        return todo
    with leases.holding("task", todo.task_id):  # renewed while a slow store works
        done = work(uow, rt, todo)
    with uow() as session:
        follow = record(session, rt, todo, done)
    if done.retry is not None and not storage.is_disk_full(done.retry):
        raise done.retry
    return follow


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.errno:
        return storage.describe(err)
    return str(err)[:500] if isinstance(err, DsrError) else type(err).__name__


def fail(session: Session, task_id: str, reason: str) -> list[steps.Step]:
    """The retry budget is spent: the task failed for good, so fan-in can still finish."""
    task = session.get(ConnectorTask, task_id)
    if task is None:
        return []
    _finish(session, task, TaskStatus.FAILED, result=task.result, error=reason[:500])
    return [steps.advance(task.request_id)]


def fan_in(session: Session, rt: Runtime, request_id: str) -> list[steps.Step]:
    """One conditional UPDATE decides the winner, and where it goes, once every task is
    terminal: a failed store → needs_attention, a record whose owner is uncertain among the
    subject's *proven* identifiers → needs_review (staff decide, ``dsr review``), otherwise →
    replying.

    A candidate that only unproven identifiers hit (another account's record found by a phone
    the requester typed) never blocks the reply and raises no alert: otherwise the request's
    pace would tell a stranger whether the phone is a customer's. The reply is unaffected (it
    counts only what proven identifiers found); staff still see those candidates, marked as
    not blocking, on the request.
    """
    task = col(ConnectorTask.request_id) == request_id
    open_task = exists().where(task, col(ConnectorTask.status).not_in(TERMINAL_TASK))
    failed = exists().where(task, col(ConnectorTask.status) == TaskStatus.FAILED)
    undecided = exists().where(
        col(RequestCandidate.request_id) == request_id,
        col(RequestCandidate.decision).is_(None),
        col(RequestCandidate.trusted_match).is_(True),
    )
    outcome = session.execute(
        update(Request)
        .where(
            col(Request.id) == request_id,
            col(Request.status) == RequestStatus.IN_PROGRESS,
            ~open_task,
        )
        .values(
            status=case(
                (failed, RequestStatus.NEEDS_ATTENTION.value),
                (undecided, RequestStatus.NEEDS_REVIEW.value),
                else_=RequestStatus.REPLYING.value,
            ),
            attention=case((failed, "connector task failed"), else_=col(Request.attention)),
            updated_at=utcnow(),
        )
        .returning(col(Request.status))
    ).scalar_one_or_none()
    if outcome is None:
        return []  # a task is still open, or another fan-in won
    request = session.get(Request, request_id, populate_existing=True)
    assert request is not None
    if outcome == RequestStatus.REPLYING:
        audit.record(session, actor="system", action="all_tasks_done", request_id=request_id)
        if request.kind == RequestKind.ERASE:
            # Every store has erased (once: this UPDATE has one winner): what we made of the
            # data goes too, before the reply waits on any third party's notice.
            assurance.complete_erasure(session, rt, request)
        return [steps.aggregate(request_id), *subjects.waiting(session, request)]
    # needs_attention (a store failed) or needs_review (staff decide): ops are told either way.
    reports = store_reports(session, rt, request)
    if outcome == RequestStatus.NEEDS_ATTENTION:
        rounds = max((t.attempts for t in dispatch.tasks_of(session, request_id)), default=1)
        alert: dict[str, Any] = {
            "reason": "connector_failed",
            "occasion": f"attempt-{rounds}",
            "connectors": [r.connector for r in reports if r.status == TaskStatus.FAILED],
        }
    else:
        decided = sum(1 for c in candidates.of(session, request_id) if c.decision is not None)
        alert = {"reason": "needs_review", "occasion": f"after-{decided}"}
    audit.record(session, actor="system", action=outcome, request_id=request_id)
    return subjects.waiting(session, request) + alerts.raise_alert(
        session, rt.settings, request=request, stores=reports, **alert
    )


def retry(session: Session, rt: Runtime, request_id: str, *, by: str) -> list[steps.Step]:
    """Re-drive a needs_attention request: failed tasks, and every later stage, run again."""
    request = load_request(session, request_id, status=RequestStatus.NEEDS_ATTENTION)
    tasks = dispatch.tasks_of(session, request_id)
    failed_stages = [t.stage for t in tasks if t.status == TaskStatus.FAILED]
    if not failed_stages and (resent := undeliverable.resend(session, request, by=by)):
        return resent  # the stores are done; what failed was the e-mail
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

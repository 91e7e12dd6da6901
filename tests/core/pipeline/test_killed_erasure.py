"""A worker killed while its store erases: before the store commits, or after it and before
the ledger hears of it. Either way the task runs again and the reply tells what was done."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from connectors.base import Action, Operation, Outcome, TaskResult
from dsr.core.identity.assurance import merge, settle_attempt
from dsr.core.ledger.db import get_engine, units_of_work
from dsr.core.ledger.models import ConnectorTask, utcnow
from dsr.core.pipeline import runner, tasks
from dsr.core.runtime.steps import StepName
from tests.core.conftest import Core


class Killed(BaseException):
    """The worker process dies here."""


def _task(core: Core, request_id: str, connector: str) -> ConnectorTask:
    with Session(get_engine(core.rt.db_url)) as session:
        return session.exec(
            select(ConnectorTask).where(
                ConnectorTask.request_id == request_id, ConnectorTask.connector == connector
            )
        ).one()


def _kill_crm_task(core: Core, request_id: str, die: Callable[[tasks.Work], None]) -> None:
    """Run the request until its CRM task, kill that task's worker with ``die``, let its lease
    go stale (the broker re-delivers the message), then run everything to the end."""
    uow = units_of_work(core.rt.db_url)
    crm, killed = _task(core, request_id, "crm").id, False
    queue = core.take()
    while queue:
        step = queue.pop(0)
        if killed or step.actor != StepName.RUN_TASK or step.id != crm:
            queue += runner.execute(uow, core.rt, step)
            continue
        with uow() as session:
            todo = tasks.claim(session, core.rt, step.id)
        assert isinstance(todo, tasks.Work)
        with pytest.raises(Killed):
            die(todo)
        killed = True
        with Session(get_engine(core.rt.db_url)) as session:
            session.execute(
                update(ConnectorTask)
                .where(col(ConnectorTask.id) == crm)
                .values(started_at=utcnow() - timedelta(hours=1))
            )
            session.commit()
        queue.append(step)


def _certificate(core: Core, request_id: str) -> str:
    (reply,) = core.replies(request_id)
    body = reply.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_killed_after_the_store_committed_the_erasure_still_certifies_it(core: Core) -> None:
    """The CRM erases the subject and the worker dies before the ledger hears of it: the task
    run again finds nothing, yet the reply counts what was erased, and the stores the CRM's
    customer id and phone lead to are searched with them (no review, nothing skipped)."""
    rid = core.submit("erase")

    def after_commit(todo: tasks.Work) -> None:
        done = tasks.work(units_of_work(core.rt.db_url), core.rt, todo)
        assert done.result is not None and done.result.records == 1
        raise Killed

    _kill_crm_task(core, rid, after_commit)
    data = core.status(rid)
    assert data["status"] == "completed" and not data.get("candidates")
    done = {t["connector"]: (t["status"], t["records"]) for t in data["tasks"]}
    assert done["crm"] == ("done", 1)
    assert done["orders"][1] > 0 and done["recordings"] == ("done", 2)  # by customer id, phone
    certificate = _certificate(core, rid)
    assert "Hồ sơ khách hàng: đã xóa 1 bản ghi" in certificate  # not "no data found"
    assert "Cuộc gọi: đã xóa 2 bản ghi" in certificate


def test_killed_before_the_store_committed_counts_the_erasure_once(core: Core) -> None:
    """The result is kept, then the worker dies before its store commits: the run again erases
    the same records, and they are counted once."""
    rid = core.submit("erase")
    uow = units_of_work(core.rt.db_url)

    def before_commit(todo: tasks.Work) -> None:
        keep = tasks.keeper(uow, core.rt, todo)
        assert keep is not None

        def die(about_to: TaskResult) -> None:
            keep(about_to)
            raise Killed

        core.rt.connectors["crm"].apply(
            todo.operation, todo.scope, staging=todo.staging, before_commit=die
        )

    _kill_crm_task(core, rid, before_commit)
    crm = _task(core, rid, "crm")
    assert crm.status == "done" and crm.records == 1 and crm.result is not None
    assert [(o["action"], o["count"]) for o in crm.result["outcomes"]] == [("erased", 1)]


def test_a_kept_attempt_counts_only_what_it_erased_and_only_once() -> None:
    """The rule, on results as stores give them: a run's own kept attempt, one that erased
    nothing and one whose records the later run erased again are dropped; one whose store
    committed counts its erased records, not what it deferred (the later run finds those)."""
    deferred_only = [Outcome("orders", Action.DEFERRED, 1)]
    erased_and_deferred = [Outcome("orders", Action.ANONYMISED, 2), *deferred_only]
    later = TaskResult(Operation.ERASE, 1, [Outcome("orders", Action.NOT_FOUND, 0), *deferred_only])

    def kept(outcomes: list[Outcome], records: int, run: int) -> dict[str, Any]:
        attempt = TaskResult(Operation.ERASE, records, outcomes).to_json()
        return {"attempt": {**attempt, "run": run}}

    assert settle_attempt(kept(deferred_only, 1, run=2), later, run=2) is None  # its own
    assert settle_attempt(kept(deferred_only, 1, run=1), later, run=2) is None  # nothing erased
    again = TaskResult(Operation.ERASE, 3, erased_and_deferred)
    assert settle_attempt(kept(erased_and_deferred, 3, run=1), again, run=2) is None
    settled = settle_attempt(kept(erased_and_deferred, 3, run=1), later, run=2)
    assert settled is not None
    (earlier,) = settled["prior"]
    assert earlier["records"] == 2 and "run" not in earlier
    merged = merge("erase", settled, later.to_json())
    assert merged["records"] == 3  # 2 anonymised before the kill, 1 deferred found now

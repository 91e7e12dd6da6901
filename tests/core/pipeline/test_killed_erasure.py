"""A worker killed while its store erases: before the store commits, or after it and before
the ledger hears of it. Either way the task runs again and the reply tells what was done."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from connectors.base import TaskResult
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
    assert crm.status == "done" and crm.records == 1, crm.result
    assert [(o["action"], o["count"]) for o in crm.result["outcomes"]] == [("erased", 1)]

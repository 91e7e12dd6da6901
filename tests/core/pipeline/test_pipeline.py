"""Every stage of a request on the core alone: SQLite ledger, no broker, a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from dsr.core.ledger.db import get_engine, session_scope, units_of_work
from dsr.core.ledger.models import ConnectorTask, Outbox, Request, utcnow
from dsr.core.pipeline import redrive, runner, tasks
from dsr.core.runtime import steps
from dsr.errors import InvalidInput, StateConflict
from tests.core.conftest import EMAIL, STAFF, Core


@pytest.mark.parametrize("kind", ["access", "rectify", "erase"])
def test_each_kind_completes_with_one_reply(core: Core, kind: str) -> None:
    """A staff-verified request runs every store and ends completed with exactly one reply."""
    changes = {"address": "5 Trần Phú, Hà Nội"} if kind == "rectify" else {}
    rid = core.submit(kind, changes=changes)
    core.drain()
    data = core.status(rid)
    assert data["status"] == "completed"
    assert {t["connector"] for t in data["tasks"]} == set(core.rt.connectors)
    assert all(t["status"] in ("done", "skipped") for t in data["tasks"])
    assert len(core.replies(rid)) == 1


def test_every_step_delivered_twice_runs_each_store_once(core: Core) -> None:
    """A duplicate of every message changes nothing: one claim per task, one reply."""
    rid = core.submit("erase")
    core.drain(times=2)
    with Session(get_engine(core.rt.db_url)) as session:
        runs = session.exec(select(ConnectorTask).where(ConnectorTask.request_id == rid)).all()
    assert runs and all(t.attempts == 1 for t in runs)
    assert len(core.replies(rid)) == 1


def test_wrong_code_counts_and_right_code_dispatches(core: Core) -> None:
    """S4: nothing runs before the code; a wrong one is refused and counted, the right one goes."""
    rid = core.submit("access", verified=False, by=None)
    assert core.status(rid)["status"] == "awaiting_verification"
    core.drain()  # acknowledgement and code e-mails only
    code_mail = [m for m in core.smtp.to(EMAIL) if ".verification-" in str(m["Message-ID"])]
    plain = code_mail[0].get_body(("plain",))
    assert plain is not None
    body = plain.get_content()
    code = next(w for w in body.split() if w.isdigit() and len(w) == 6)
    with pytest.raises(InvalidInput, match="wrong verification code"):
        core.service.verify(rid, "000000" if code != "000000" else "111111", by=STAFF)
    with Session(get_engine(core.rt.db_url)) as session:
        assert session.get(Request, rid).code_attempts == 1  # type: ignore[union-attr]
    assert core.status(rid)["tasks"] == []
    core.service.verify(rid, code, by=STAFF)
    core.drain()
    assert core.status(rid)["status"] == "completed"
    with pytest.raises(StateConflict):
        core.service.verify(rid, code, by=STAFF)


def test_a_fresh_claim_is_respected_and_a_stale_one_taken_over(core: Core) -> None:
    """A running task with a live lease is left alone; one whose worker died is taken over."""
    core.submit("access")
    task_id = next(s.id for s in core.take() if s.actor == "run_task")
    with session_scope(core.rt.db_url) as session:
        assert isinstance(tasks.claim(session, core.rt, task_id), tasks.Work)  # ours now
    with session_scope(core.rt.db_url) as session:
        assert tasks.claim(session, core.rt, task_id) == []  # a second worker stands back
        stale = utcnow() - timedelta(seconds=core.rt.settings.task_lease_seconds + 1)
        session.execute(
            update(ConnectorTask).where(col(ConnectorTask.id) == task_id).values(started_at=stale)
        )
    with session_scope(core.rt.db_url) as session:
        assert isinstance(tasks.claim(session, core.rt, task_id), tasks.Work)  # taken over


def test_fan_in_has_exactly_one_winner(core: Core) -> None:
    """Once every task is terminal, only the first fan-in moves the request on to its reply."""
    rid = core.submit("rectify", changes={"address": "1 Lê Lợi, Huế"})
    queue = core.take()
    seen_aggregate = 0
    uow = units_of_work(core.rt.db_url)
    while queue:
        step = queue.pop(0)
        follow = runner.execute(uow, core.rt, step)
        if step.actor == "advance":  # after a task: the next stage, or fan-in when none is open
            follow += runner.execute(uow, core.rt, steps.fan_in(step.id))  # a concurrent one
            # Fan-in's own aggregations (a partner's notice going out starts one too).
            seen_aggregate += sum(1 for s in follow if s.actor == "aggregate")
        queue += follow
    assert seen_aggregate == 1
    assert core.status(rid)["status"] == "completed"


def test_a_failed_store_goes_to_ops_and_retry_completes_it(core: Core) -> None:
    """A store that fails for good: needs_attention and an ops alert, no reply; retry finishes."""
    rid = core.submit("access")
    queue = core.take()
    uow = units_of_work(core.rt.db_url)
    while queue:
        step = queue.pop(0)
        if step.actor == "run_task":
            with session_scope(core.rt.db_url) as session:
                task = session.get(ConnectorTask, step.id)
                assert task is not None
            if task.connector == "orders":
                with session_scope(core.rt.db_url) as session:
                    queue += tasks.fail(session, step.id, "retries exhausted")
                continue
        queue += runner.execute(uow, core.rt, step)
    data = core.status(rid)
    assert data["status"] == "needs_attention"
    assert core.smtp.to(core.rt.settings.ops_email)
    assert core.replies(rid) == []
    core.service.retry(rid, by=STAFF)
    core.drain()
    assert core.status(rid)["status"] == "completed"
    assert len(core.replies(rid)) == 1


def test_a_held_subject_is_not_erased(core: Core) -> None:
    """S6: a legal hold defers the erasure in the held store and the certificate says why."""
    core.service.hold_add(
        email=EMAIL, phone=None, reason="tranh chấp", by=STAFF, connectors=["newsletter"]
    )
    rid = core.submit("erase")
    core.drain()
    held = next(t for t in core.status(rid)["tasks"] if t["connector"] == "newsletter")
    assert held["status"] == "skipped" and "legal hold" in held["error"]
    assert core.status(rid)["status"] == "completed"
    assert "tranh chấp" in core.replies(rid)[0].get_body(("plain",)).get_content()


def test_lost_messages_are_found_by_redrive(core: Core) -> None:
    """Task messages lost after intake's commit are found again by re-drive; the request ends."""
    rid = core.submit("access")
    queued = core.take()
    lost = [s for s in queued if s.actor == "run_task"]
    assert lost  # a verified request is dispatched at intake: its first stage is queued
    core.drain([s for s in queued if s not in lost])  # only the e-mails got through
    with session_scope(core.rt.db_url) as session:
        found = redrive.stuck(session, core.rt, older_than_seconds=0, request_id=rid)
    assert set(lost) <= set(found)
    core.drain(found)
    assert core.status(rid)["status"] == "completed"


def test_a_reply_sent_but_not_recorded_is_finished_not_resent(core: Core) -> None:
    """Killed between the SMTP server's 250 and recording it: re-drive completes, sends nothing."""
    rid = core.submit("access")
    core.drain()
    with session_scope(core.rt.db_url) as session:
        session.execute(
            update(Request)
            .where(col(Request.id) == rid)
            .values(status="replying", completed_at=None)
        )
        session.execute(
            update(Outbox)
            .where(col(Outbox.request_id) == rid, col(Outbox.purpose) == "reply")
            .values(finished_at=None)
        )
    with session_scope(core.rt.db_url) as session:
        found = redrive.stuck(session, core.rt, older_than_seconds=0, request_id=rid)
    core.drain(found)
    assert core.status(rid)["status"] == "completed"
    assert len(core.replies(rid)) == 1

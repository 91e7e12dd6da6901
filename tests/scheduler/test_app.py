"""The scheduler: only the leader runs jobs, once per slot, and a missed slot is caught up once.

Slots are made due by moving a job's stored next run time into the past (never by sleeping);
jobs only enqueue dramatiq messages, which are counted in the real Redis queue.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.schedulers.base import (  # type: ignore[import-untyped]
    STATE_PAUSED,
    STATE_RUNNING,
)

from dsr.core.ledger import audit
from dsr.core.ledger.db import get_engine, migrate, session_scope
from dsr.core.ops import retention
from dsr.core.runtime.process import Runtime
from scheduler.app import STORE, TABLE, SchedulerApp
from tests.scheduler.stores import settings

# Monthly slots: real time never reaches a new one while a test runs.
MONTHLY = {
    "sweep": "0 2 1 * *",
    "watchdog": "10 2 1 * *",
    "redrive": "20 2 1 * *",
    "cleanup": "30 2 1 * *",
    "index": "40 2 1 * *",
}
ONE_EACH = Counter(
    purge_store=4, deadline_watchdog=1, redrive_stuck=1, cleanup_expired=1, refresh_indexes=1
)
MakeApp = Callable[..., SchedulerApp]


def queued() -> Counter[str]:
    """Messages waiting in the broker's queue, by actor."""
    from workers.broker import broker

    raw = broker.client.hvals(f"{broker.namespace}:dsr.msgs")
    return Counter(json.loads(m)["actor_name"] for m in raw)


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The job store's database: a SQLite or PostgreSQL ledger."""
    url = (
        f"sqlite:///{tmp_path / 'ledger.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    migrate(url)
    yield url
    get_engine(url).dispose()


@pytest.fixture
def make_app(ledger: str, tmp_path: Path, redis_url: str) -> Iterator[MakeApp]:
    """Schedulers sharing one Redis namespace and one job store, started paused."""
    from workers.broker import broker

    namespace = f"dsr-test-sched-{uuid.uuid4().hex[:8]}"
    rt = Runtime(settings(tmp_path, ledger))
    apps: list[SchedulerApp] = []

    def make(schedule: dict[str, str] = MONTHLY) -> SchedulerApp:
        policy = replace(retention.policy_for(rt), schedule=schedule)
        app = SchedulerApp(rt, client=broker.client, policy=policy, namespace=namespace)
        app.start(elect=False)
        apps.append(app)
        return app

    broker.flush_all()
    yield make
    for app in apps:
        app.shutdown()
    broker.flush_all()
    for k in broker.client.scan_iter(f"{namespace}:*"):
        broker.client.delete(k)


def _miss_slots(scheduler: BackgroundScheduler, days: int = 100) -> None:
    """Move every stored job's next run ~3 monthly slots into the past (a downtime)."""
    since = datetime.now(UTC) - timedelta(days=days)
    for job in scheduler.get_jobs(jobstore=STORE):
        scheduler.modify_job(
            job.id, jobstore=STORE, next_run_time=job.trigger.get_next_fire_time(None, since)
        )


def _settle(apps: list[SchedulerApp], expected: Counter[str], timeout: float = 20) -> None:
    """Wait until the due jobs ran: every job is due again only in the future."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        now = datetime.now(UTC)
        jobs = [j for a in apps for j in a.jobs()]
        if queued() == expected and jobs and all(j.next_run_time > now for j in jobs):
            return
        time.sleep(0.02)  # the scheduler's own thread is working; no slot is waited for
    raise AssertionError(f"queued {dict(queued())}, expected {dict(expected)}")


def test_two_schedulers_run_each_job_once_per_slot(make_app: MakeApp) -> None:
    """Only the leader runs due jobs; even both running, a slot already run is not run again."""
    a, b = make_app(), make_app()
    assert a.tick() and not b.tick()
    assert {j.id for j in a.jobs()} == {
        "retention_sweep",
        "deadline_watchdog",
        "redrive",
        "cleanup",
        "index_refresh",
    }
    _miss_slots(a.scheduler)
    _settle([a], ONE_EACH)
    assert b.scheduler.state == STATE_PAUSED and not b.jobs()

    b._lead()  # split brain: the follower resumes too, as a stalled ex-leader might
    assert b.scheduler.state == STATE_RUNNING
    _miss_slots(b.scheduler)  # the same slots are due again, for both schedulers
    _settle([a, b], ONE_EACH)
    time.sleep(0.2)
    assert queued() == ONE_EACH


def test_restart_after_missed_slots_runs_one_catch_up(make_app: MakeApp, ledger: str) -> None:
    """A scheduler restarted after missing three slots runs each job once, then waits."""
    first = make_app()
    assert first.tick()
    first.shutdown()  # the process stops; its lock is freed

    offline = BackgroundScheduler(timezone=UTC)
    offline.add_jobstore(
        SQLAlchemyJobStore(engine=get_engine(ledger), tablename=TABLE), alias=STORE
    )
    offline.start(paused=True)
    _miss_slots(offline)  # three monthly slots pass while nothing runs
    stored = {j.id: j.next_run_time for j in offline.get_jobs(jobstore=STORE)}
    offline.remove_jobstore(STORE, shutdown=False)  # its last loop round must not run them
    offline.shutdown()
    assert all(t < datetime.now(UTC) - timedelta(days=60) for t in stored.values())

    second = make_app()
    assert queued() == Counter()
    assert second.tick()
    _settle([second], ONE_EACH)
    assert all(j.next_run_time > datetime.now(UTC) for j in second.jobs())


def test_a_changed_timetable_replaces_the_stored_job(make_app: MakeApp) -> None:
    """A new cron line in retention.yaml reschedules that job; the others keep their times."""
    first = make_app()
    first.tick()
    before = {j.id: j.next_run_time for j in first.jobs()}
    first.shutdown()
    second = make_app({**MONTHLY, "sweep": "0 3 2 * *"})
    second.tick()
    after = {j.id: (j.next_run_time, j.trigger) for j in second.jobs()}
    assert "hour='3'" in str(after["retention_sweep"][1])
    assert after["retention_sweep"][0] != before["retention_sweep"]
    assert all(after[k][0] == before[k] for k in before if k != "retention_sweep")
    assert queued() == Counter()


def test_losing_the_lock_pauses_the_scheduler(make_app: MakeApp) -> None:
    """A leader whose lock was taken over pauses at its next round and runs nothing more."""
    from workers.broker import broker

    a, b = make_app(), make_app()
    a.tick()
    broker.client.delete(a.leader.name)  # as if it expired during a stall
    assert b.tick() and not a.tick()
    assert a.scheduler.state == STATE_PAUSED and b.scheduler.state == STATE_RUNNING


def test_only_the_leader_seals_the_audit_log(make_app: MakeApp, ledger: str) -> None:
    """Events recorded anywhere are sealed into the chain within a few seconds by the leader."""
    a, b = make_app(), make_app()
    with session_scope(ledger) as session:
        audit.record(session, actor="system", action="received", request_id="a" * 32)
    assert a.tick() and not b.tick()
    end = time.monotonic() + 30
    while time.monotonic() < end:
        with session_scope(ledger) as session:
            report = audit.verify(session)
        if report.unsealed == 0:
            break
        time.sleep(0.05)  # the leader's sealer runs on its own interval
    assert report.ok and report.unsealed == 0 and report.events >= 1

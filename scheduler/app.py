"""The scheduler process (``dsr scheduler``): APScheduler 3 jobs, run by one leader only.

Every scheduler starts paused. The one holding the Redis leader lock opens the job store (a
table in the ledger database), brings the stored jobs in line with the configuration *without*
touching the next run time of a job whose definition is unchanged, and resumes; losing the lock
pauses it again. A job missed while no scheduler ran is therefore still due when one starts, and
``coalesce`` runs it once, not once per missed slot. As a fence against two leaders in a split
second (a stalled process whose lock expired), the executor runs a job for a slot only after a
``SET NX`` of "job X ran slot T" in Redis succeeds.
"""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import redis
import structlog
from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]  # APScheduler 3 ships no type hints
from apscheduler.job import Job  # type: ignore[import-untyped]
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from dsr.core.ledger import audit
from dsr.core.ledger.db import get_engine, units_of_work
from dsr.core.ops.retention import Policy, policy_for
from dsr.core.runtime.process import Runtime
from scheduler import jobs
from scheduler.leader import Leader
from workers.broker import broker

log = structlog.get_logger(__name__)
STORE = "ledger"  # job store alias; its table lives in the ledger database
TABLE = "scheduler_jobs"
SEALER = "audit_sealer"  # job and executor of the audit log's sealer
FENCE_TTL_SECONDS = 14 * 24 * 3600


class FencedExecutor(ThreadPoolExecutor):  # type: ignore[misc]  # untyped base
    """A thread pool that runs a job for a slot only if no scheduler has run that slot yet."""

    def __init__(self, client: redis.Redis, prefix: str, max_workers: int = 4) -> None:
        super().__init__(max_workers)
        self._client, self._prefix = client, prefix

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        slot = run_times[-1].astimezone(UTC).isoformat()
        key = f"{self._prefix}:{job.id}:{slot}"
        if not self._client.set(key, b"1", nx=True, ex=FENCE_TTL_SECONDS):
            log.warning("scheduler_slot_already_ran", job=job.id, slot=slot)
            run_times = []  # run_job then runs nothing and reports no event
        super()._do_submit_job(job, run_times)


class SchedulerApp:
    """A paused APScheduler plus a Leader that resumes it while this process leads."""

    def __init__(
        self,
        rt: Runtime,
        *,
        client: redis.Redis,
        policy: Policy | None = None,
        namespace: str | None = None,
        ttl: float | None = None,
        interval: float | None = None,
    ) -> None:
        self.rt = rt
        self.policy = policy or policy_for(rt)
        self.specs = jobs.specs(self.policy)
        ns = namespace or rt.settings.broker_namespace
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={
                "default": FencedExecutor(client, f"{ns}:scheduler:ran"),
                SEALER: ThreadPoolExecutor(1),
            },
            # No misfire limit: a sweep missed for any length of downtime still runs, once.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.leader = Leader(
            client,
            f"{ns}:scheduler:leader",
            ttl=ttl or self.policy.leader_ttl_seconds,
            interval=interval,
            on_elected=self._lead,
            on_lost=self._follow,
        )
        self._store_open = False

    def start(self, *, elect: bool = True) -> None:
        """Start paused; with ``elect`` a thread competes for leadership (tests call ``tick``)."""
        self.scheduler.start(paused=True)
        if elect:
            self.leader.start()

    def tick(self) -> bool:
        return self.leader.tick()

    def _lead(self) -> None:
        if not self._store_open:
            store = SQLAlchemyJobStore(engine=get_engine(self.rt.db_url), tablename=TABLE)
            self.scheduler.add_jobstore(store, alias=STORE)
            self._store_open = True
        self.reconcile()
        # The sealer is not a stored job: it runs every few seconds while this process leads,
        # needs no catching up after downtime, and may harmlessly run twice (it locks).
        self.scheduler.add_job(
            self._seal,
            trigger=IntervalTrigger(seconds=self.policy.audit_seal_seconds),
            id=SEALER,
            jobstore="default",
            executor=SEALER,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
        self.scheduler.resume()

    def _seal(self) -> None:
        sealed = audit.seal_all(units_of_work(self.rt.db_url))
        if sealed:
            log.debug("audit_sealed", events=sealed)

    def _follow(self) -> None:
        self.scheduler.pause()

    def reconcile(self) -> None:
        """Stored jobs = configured jobs; an unchanged job keeps its (maybe missed) next run."""
        wanted = {spec.id for spec in self.specs}
        for job in self.scheduler.get_jobs(jobstore=STORE):
            if job.id not in wanted:
                job.remove()
        for spec in self.specs:
            job = self.scheduler.get_job(spec.id, jobstore=STORE)
            if job is not None and spec.matches(job):
                continue
            self.scheduler.add_job(
                spec.func,
                trigger=spec.trigger,
                kwargs=spec.kwargs,
                id=spec.id,
                name=spec.id,
                jobstore=STORE,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )
            log.info("scheduler_job_configured", job=spec.id, trigger=str(spec.trigger))

    def jobs(self) -> list[Job]:
        return self.scheduler.get_jobs(jobstore=STORE) if self._store_open else []

    def shutdown(self) -> None:
        """Stop competing, free the lock for a follower, and stop the scheduler."""
        self.leader.stop(release=True)
        if self._store_open:
            # APScheduler's loop runs one more round after shutdown() even when paused; without
            # the store it cannot advance a due job's next run time past a slot it never ran.
            self.scheduler.remove_jobstore(STORE, shutdown=False)
            self._store_open = False
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)


def broker_client() -> redis.Redis:
    """The broker's own Redis connection (DSR_REDIS_URL, or the embedded server's socket)."""
    client: redis.Redis = broker.client
    return client


def run(rt: Runtime) -> None:
    """``dsr scheduler``: lead or stand by until SIGTERM / SIGINT."""
    app = SchedulerApp(rt, client=broker_client())
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, Any] = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    app.start()
    log.info("scheduler_started", holder=app.leader.identity, jobs=[s.id for s in app.specs])
    try:
        while not stop.wait(1.0):
            pass
    finally:
        app.shutdown()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        log.info("scheduler_stopped", holder=app.leader.identity)

"""The scheduler's jobs. Each only enqueues messages; workers (workers/maintenance.py) do the work.

Jobs are stored in the ledger database (APScheduler's SQLAlchemyJobStore), so they are named by
textual reference and take plain arguments (connector names) only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.job import Job  # type: ignore[import-untyped]  # APScheduler 3 ships no type hints
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from dsr.core.ops.retention import Policy
from dsr.errors import ConfigError
from workers import maintenance


@dataclass(frozen=True)
class JobSpec:
    """One job as configured: stable id, function reference, cron trigger, arguments."""

    id: str
    func: str
    trigger: CronTrigger
    kwargs: dict[str, Any] = field(default_factory=dict)

    def matches(self, job: Job) -> bool:
        """Whether a stored job is this one (then its next run time, maybe missed, is kept)."""
        return (
            job.func_ref == self.func
            and repr(job.trigger) == repr(self.trigger)
            and job.kwargs == self.kwargs
            and job.coalesce
            and job.max_instances == 1
            and job.misfire_grace_time is None
        )


def specs(policy: Policy) -> list[JobSpec]:
    """The five jobs, timed by the retention file's ``schedule`` (ConfigError on a bad cron)."""
    zone = ZoneInfo(policy.timezone)

    def cron(key: str) -> CronTrigger:
        try:
            return CronTrigger.from_crontab(policy.schedule[key], timezone=zone)
        except ValueError as err:
            raise ConfigError(f"schedule.{key}: {err}") from None

    return [
        JobSpec(
            "retention_sweep",
            f"{__name__}:retention_sweep",
            cron("sweep"),
            {"connectors": policy.connectors},
        ),
        JobSpec("deadline_watchdog", f"{__name__}:deadline_watchdog", cron("watchdog")),
        JobSpec("redrive", f"{__name__}:redrive", cron("redrive")),
        JobSpec("cleanup", f"{__name__}:cleanup", cron("cleanup")),
        JobSpec("index_refresh", f"{__name__}:index_refresh", cron("index")),
    ]


def retention_sweep(connectors: list[str]) -> None:
    """Fan the nightly sweep out: one message per connector that has retention rules."""
    for name in connectors:
        maintenance.purge_store.send(name)


def deadline_watchdog() -> None:
    maintenance.deadline_watchdog.send()


def redrive() -> None:
    maintenance.redrive_stuck.send()


def cleanup() -> None:
    maintenance.cleanup_expired.send()


def index_refresh() -> None:
    maintenance.refresh_indexes.send()

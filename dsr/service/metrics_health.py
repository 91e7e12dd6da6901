"""Metrics the alerting rules in ``deploy/prometheus/rules.yml`` need beyond the counts.

How long work has been idle (a request no step has touched, an e-mail not yet sent) and how the
retention sweeps went. Thresholds are not decided here: the exporter reports ages and outcomes,
and the rules say what is too old (the Prometheus convention), so an operator tunes them there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import Session, col, select

from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import OPEN_REQUEST, Outbox, OutboxStatus, PurgeRun, Request, utcnow

SWEEP_STATUSES = ("finished", "incomplete", "failed", "superseded", "running")


class PipelineCollector(Collector):
    """Idle ages and sweep outcomes, read from the ledger on every scrape."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    def describe(self) -> list[Metric]:
        return []  # registering must not query the ledger

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with Session(get_engine(self.db_url)) as session:
            yield self._idle(session, now)
            yield from self._outbox(session, now)
            yield from self._sweeps(session)

    def _idle(self, session: Session, now: datetime) -> Metric:
        idle = GaugeMetricFamily(
            "dsr_request_idle_seconds_max",
            "Open requests: seconds since the least recently updated one changed, by status and "
            "kind (a complaint in_progress waits for staff; other kinds wait for a step).",
            labels=["status", "kind"],
        )
        for status, kind, oldest in session.exec(
            select(Request.status, Request.kind, func.min(Request.updated_at))
            .where(col(Request.status).in_(OPEN_REQUEST))
            .group_by(col(Request.status), col(Request.kind))
        ):
            idle.add_metric([status, kind], max(0.0, (now - oldest).total_seconds()))
        return idle

    def _outbox(self, session: Session, now: datetime) -> Iterator[Metric]:
        count, oldest = session.exec(
            select(func.count(), func.min(Outbox.created_at)).where(
                Outbox.status == OutboxStatus.PENDING
            )
        ).one()
        yield GaugeMetricFamily(
            "dsr_outbox_pending", "E-mails written but not yet accepted by SMTP.", value=count
        )
        yield GaugeMetricFamily(
            "dsr_outbox_oldest_pending_seconds",
            "Age of the oldest e-mail not yet accepted by SMTP (0 when none waits).",
            value=max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0,
        )

    def _sweeps(self, session: Session) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "dsr_purge_runs",
            "Retention sweeps (not dry runs) by store and outcome.",
            labels=["connector", "status"],
        )
        last_ok = GaugeMetricFamily(
            "dsr_purge_last_success_timestamp_seconds",
            "When each store's last sweep finished completely (Unix time).",
            labels=["connector"],
        )
        counts: dict[tuple[str, str], int] = {}
        finished: dict[str, datetime] = {}
        for connector, report, ended in session.exec(
            select(PurgeRun.connector, PurgeRun.report, PurgeRun.finished_at).where(
                col(PurgeRun.dry_run).is_(False)
            )
        ):
            status = str((report or {}).get("status", "running"))
            counts[(connector, status)] = counts.get((connector, status), 0) + 1
            if status == "finished" and ended is not None:
                finished[connector] = max(ended, finished.get(connector, ended))
        for connector in sorted({c for c, _ in counts}):
            for status in SWEEP_STATUSES:
                runs.add_metric([connector, status], counts.get((connector, status), 0))
        for connector, ended in sorted(finished.items()):
            last_ok.add_metric([connector], ended.timestamp())
        yield runs
        yield last_ok

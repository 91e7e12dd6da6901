"""Prometheus metrics computed from the ledger at scrape time (``/metrics``, ops only).

The ledger is the source of truth and is shared by every process, so a scrape of any one API
process sees the whole system; nothing is counted in memory. Every figure is one aggregate query.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Float, case, cast, func, literal_column
from sqlalchemy import select as sa_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from dsr.core.ledger.apikeys import Role
from dsr.core.ledger.db import get_engine
from dsr.core.ledger.models import (
    Alert,
    AuditEvent,
    ConnectorTask,
    Outbox,
    OutboxStatus,
    PurgeRun,
    Request,
    RequestKind,
    RequestStatus,
    TaskStatus,
    utcnow,
)
from dsr.core.ops import retention_report
from dsr.core.replies.outbox import REPLY
from dsr.core.runtime.deadlines import overdue_clause
from dsr.service.base import ServiceBase
from dsr.service.callers import Caller
from dsr.service.metrics_health import PipelineCollector
from dsr.service.metrics_retention import RetentionCollector

# Connector work ranges from a cached lookup to a large store export.
BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


def _seconds(dialect: str) -> ColumnElement[Any]:
    """``finished_at - started_at`` in seconds, in the ledger's own SQL dialect."""
    started, finished = col(ConnectorTask.started_at), col(ConnectorTask.finished_at)
    if dialect == "postgresql":
        return cast(func.extract("epoch", finished - started), Float)
    if dialect in ("mysql", "mariadb"):
        return func.timestampdiff(literal_column("MICROSECOND"), started, finished) / 1e6
    return (func.julianday(finished) - func.julianday(started)) * 86400.0


def purged_rows(report: Mapping[str, Any]) -> int:
    """Rows a sweep purged: its ``purged`` count, or the sum over its per-rule reports."""
    value = report.get("purged")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    total = 0
    for item in report.values():
        if isinstance(item, list):
            total += sum(purged_rows(x) for x in item if isinstance(x, dict))
    return total


class LedgerCollector(Collector):
    """Reads the ledger on every ``collect`` (one scrape)."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    def describe(self) -> list[Metric]:
        return []  # registering must not query the ledger

    def collect(self) -> Iterator[Metric]:
        with Session(get_engine(self.db_url)) as session:
            yield from self._requests(session)
            yield from self._tasks(session)
            yield self._replies(session)
            yield self._purged(session)
            yield from self._audit(session)
            yield self._alerts(session)
            yield self._duplicates(session)

    def _audit(self, session: Session) -> Iterator[Metric]:
        count, oldest = session.exec(
            select(func.count(), func.min(AuditEvent.at)).where(col(AuditEvent.position).is_(None))
        ).one()
        yield GaugeMetricFamily(
            "dsr_audit_unsealed_events",
            "Audit events not yet sealed into the hash chain (the scheduler's leader seals).",
            value=count,
        )
        age = (utcnow() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "dsr_audit_oldest_unsealed_seconds",
            "Age of the oldest unsealed audit event; growing means no scheduler is sealing.",
            value=age,
        )

    def _requests(self, session: Session) -> Iterator[Metric]:
        by = GaugeMetricFamily(
            "dsr_requests", "Requests by status and kind.", labels=["status", "kind"]
        )
        counts: dict[tuple[str, str], int] = {
            (s.value, k.value): 0 for s in RequestStatus for k in RequestKind
        }
        for status, kind, n in session.exec(
            select(Request.status, Request.kind, func.count()).group_by(
                col(Request.status), col(Request.kind)
            )
        ):
            counts[(status, kind)] = n
        for (status, kind), n in sorted(counts.items()):
            by.add_metric([status, kind], n)
        yield by
        overdue = session.exec(
            select(func.count()).select_from(Request).where(overdue_clause())
        ).one()
        yield GaugeMetricFamily(
            "dsr_requests_overdue", "Open requests past their due date.", value=overdue
        )

    def _tasks(self, session: Session) -> Iterator[Metric]:
        by = GaugeMetricFamily(
            "dsr_connector_tasks",
            "Connector tasks by connector and status.",
            labels=["connector", "status"],
        )
        for connector, status, n in session.exec(
            select(ConnectorTask.connector, ConnectorTask.status, func.count()).group_by(
                col(ConnectorTask.connector), col(ConnectorTask.status)
            )
        ):
            by.add_metric([connector, status], n)
        yield by
        seconds = _seconds(session.get_bind().dialect.name)
        columns = [func.count(), func.coalesce(func.sum(seconds), 0.0)]
        columns += [func.sum(case((seconds <= b, 1), else_=0)) for b in BUCKETS]
        hist = HistogramMetricFamily(
            "dsr_connector_task_duration_seconds",
            "Time from a connector task's start to its end (done or failed).",
            labels=["connector"],
        )
        for connector, count, total, *cumulative in session.execute(
            sa_select(col(ConnectorTask.connector), *columns)
            .where(
                col(ConnectorTask.status).in_((TaskStatus.DONE, TaskStatus.FAILED)),
                col(ConnectorTask.started_at).is_not(None),
                col(ConnectorTask.finished_at).is_not(None),
            )
            .group_by(col(ConnectorTask.connector))
        ):
            buckets = [(str(b), int(c or 0)) for b, c in zip(BUCKETS, cumulative, strict=True)]
            hist.add_metric([connector], [*buckets, ("+Inf", int(count))], sum_value=float(total))
        yield hist

    def _replies(self, session: Session) -> Metric:
        sent = CounterMetricFamily(
            "dsr_replies_sent", "Replies sent to subjects, by kind.", labels=["kind"]
        )
        counts = {k.value: 0 for k in RequestKind}
        for kind, n in session.exec(
            select(Request.kind, func.count())
            .join(Outbox, col(Outbox.request_id) == col(Request.id))
            .where(
                Outbox.purpose == REPLY,
                Outbox.status == OutboxStatus.SENT,
            )
            .group_by(col(Request.kind))
        ):
            counts[kind] = n
        for kind, n in sorted(counts.items()):
            sent.add_metric([kind], n)
        return sent

    def _purged(self, session: Session) -> Metric:
        purged = CounterMetricFamily(
            "dsr_purged_rows", "Rows purged by retention sweeps.", labels=["connector"]
        )
        totals: dict[str, int] = {}
        for connector, report in session.exec(
            select(PurgeRun.connector, PurgeRun.report).where(col(PurgeRun.dry_run).is_(False))
        ):
            totals[connector] = totals.get(connector, 0) + purged_rows(report or {})
        for connector, n in sorted(totals.items()):
            purged.add_metric([connector], n)
        return purged

    def _alerts(self, session: Session) -> Metric:
        # From the ledger's alert rows: counted even while SMTP or the export disk is down.
        raised = CounterMetricFamily(
            "dsr_alerts", "Alerts raised to ops, by reason.", labels=["reason"]
        )
        for reason, n in session.exec(
            select(Alert.reason, func.count()).group_by(col(Alert.reason))
        ):
            raised.add_metric([reason], n)
        return raised

    def _duplicates(self, session: Session) -> Metric:
        # A message re-sent after a hand-over whose answer was never recorded (the process died
        # between the final dot and the sent mark): the server may hold it twice.
        resent = CounterMetricFamily(
            "dsr_duplicate_sends",
            "Messages sent again after a hand-over whose outcome was lost, by purpose.",
            labels=["purpose"],
        )
        for purpose, n in session.exec(
            select(Outbox.purpose, func.sum(Outbox.resends))
            .where(col(Outbox.resends) > 0)
            .group_by(col(Outbox.purpose))
        ):
            resent.add_metric([purpose.split(":", 1)[0]], n or 0)
        return resent


def registry(db_url: str) -> CollectorRegistry:
    """A registry of the app's own (not the process-global default one)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(LedgerCollector(db_url))
    reg.register(PipelineCollector(db_url))
    return reg


class MetricsOps(ServiceBase):
    """The scrape (ops only): every figure read from the ledger now, none counted in memory."""

    def metrics(self, *, by: Caller) -> bytes:
        """The Prometheus text exposition of the ledger's figures."""
        self._require(by, Role.OPS)
        reg = registry(self.rt.db_url)
        reg.register(self.retention_collector)
        return generate_latest(reg)

    @cached_property
    def retention_collector(self) -> RetentionCollector:
        """One per service: its figure reads the stores, so it is cached between scrapes."""
        return RetentionCollector(self._retention_flags)

    def _retention_flags(self) -> dict[str, bool]:
        """Each rule's flag (``connector.table`` -> past its limit by more than a sweep
        interval); a store that cannot be read is left out rather than called on time."""
        with self.session():
            pass  # the ledger's schema, before the holds are read
        figures = retention_report.standings_now(self.rt)
        return {r.rule: r.flagged for r in figures if r.error is None}

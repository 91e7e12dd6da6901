"""Retention rules (``config/retention.yaml``) and the sweep that applies them to one connector.

A sweep runs each of the connector's rules through its ``purge`` (chunked, one transaction per
chunk, held subjects skipped). Its ``PurgeRun`` row is updated right after every chunk commits,
so a killed run keeps what it did on record; at the end one audit event per store carries the
counts. It is resumable because every purge statement selects only aged rows still in place: a
rerun of a killed sweep continues where it stopped. The next run marks the killed run's row
superseded and writes the audit events for the counts it recorded, so the audit log sums to the
rows removed. The ledger is never held in a transaction while a store is swept (on SQLite that
would block every other writer for the whole sweep).

The store and the ledger are two databases: a process that dies after a chunk commits in the
store and before its count reaches the ledger would leave that chunk off the record. So each
chunk is also counted in the store, in its own transaction (``connectors.purge_log``), and a
run is closed — by itself, or superseded by the next — with the store's count where it can be
read: the audit log sums to the rows removed, a killed run's last chunk included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from connectors.base import Connector, PurgeJob, PurgeReport, RetentionRule
from dsr import yamlconfig
from dsr.core.identity import deferrals
from dsr.core.ledger import audit, holds
from dsr.core.ledger.db import session_scope
from dsr.core.ledger.models import PurgeRun, utcnow
from dsr.core.replies import followups
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.progress import Progress, Report, ignore
from dsr.core.runtime.steps import Step
from dsr.errors import ConfigError, InvalidInput, StoreError

DEFAULT_SCHEDULE = {
    "sweep": "0 2 * * *",
    "watchdog": "0 * * * *",
    "redrive": "* * * * *",
    "cleanup": "30 * * * *",
    "index": "* * * * *",
}


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    connector: str
    table: str
    column: str
    days: int = Field(ge=0)
    action: Literal["delete", "anonymise"] = "delete"
    fiscal_year_end: bool = False
    only_when_set: str | None = None


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[_Rule]
    chunk_size: int = Field(default=5000, ge=1)
    reminder_days: list[int] = Field(default_factory=lambda: [7, 2])
    timezone: str = "Asia/Ho_Chi_Minh"
    schedule: dict[Literal["sweep", "watchdog", "redrive", "cleanup", "index"], str] = Field(
        default_factory=dict
    )
    leader_ttl_seconds: float = Field(default=30.0, gt=0)
    audit_seal_seconds: float = Field(default=5.0, gt=0)


@dataclass(frozen=True)
class Policy:
    """The parsed retention file: rules, sweep chunk size, reminder points and the timetable."""

    rules: tuple[RetentionRule, ...]
    chunk_size: int = 5000
    reminder_days: tuple[int, ...] = (7, 2)
    timezone: str = "Asia/Ho_Chi_Minh"
    schedule: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SCHEDULE))
    leader_ttl_seconds: float = 30.0
    audit_seal_seconds: float = 5.0

    @property
    def connectors(self) -> list[str]:
        """Connectors with at least one rule, in file order."""
        return list(dict.fromkeys(r.connector for r in self.rules))

    def for_connector(self, name: str) -> list[RetentionRule]:
        return [r for r in self.rules if r.connector == name]


def load_policy(path: Path) -> Policy:
    """Read and validate a retention file (ConfigError on anything wrong)."""
    doc = yamlconfig.load(_Document, path)
    try:
        ZoneInfo(doc.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{path}: unknown timezone {doc.timezone!r}") from None
    if any(d < 1 for d in doc.reminder_days):
        raise ConfigError(f"{path}: reminder_days must be whole days of at least 1")
    rules = tuple(RetentionRule(**r.model_dump()) for r in doc.rules)
    seen = [(r.connector, r.table) for r in rules]
    if len(set(seen)) != len(seen):
        raise ConfigError(f"{path}: more than one rule for the same connector and table")
    schedule = {**DEFAULT_SCHEDULE, **{str(k): v for k, v in doc.schedule.items()}}
    return Policy(
        rules,
        doc.chunk_size,
        tuple(sorted(set(doc.reminder_days), reverse=True)),
        doc.timezone,
        schedule,
        doc.leader_ttl_seconds,
        doc.audit_seal_seconds,
    )


def check(policy: Policy, connectors: Mapping[str, Connector]) -> Policy:
    """Refuse rules naming a connector or table that ``connectors.yaml`` does not define."""
    for rule in policy.rules:
        connector = connectors.get(rule.connector)
        if connector is None:
            raise ConfigError(f"retention rule names unknown connector {rule.connector!r}")
        tables = connector.retention_tables
        if rule.table not in tables:
            raise ConfigError(
                f"retention rule for {rule.connector!r} names unknown table "
                f"{rule.table!r} (known: {', '.join(sorted(tables))})"
            )
    return policy


@dataclass(frozen=True)
class PurgeRequest:
    """What a retention sweep is asked to do; the defaults are the scheduler's nightly sweep.

    One value from the door (``dsr purge``) through the service to each store's sweep, instead
    of the same keyword parameters repeated at every hop.
    """

    as_of: datetime | None = None  # cut-offs as of this instant (None: when the sweep starts)
    dry_run: bool = False  # count what would go, change nothing
    chunk_size: int | None = None  # rows per store transaction (None: retention.yaml's)
    max_chunks: int | None = None  # stop after this many chunks per rule; a rerun continues


def policy_for(rt: Runtime) -> Policy:
    """The process's retention file, checked against its connectors."""
    return check(load_policy(rt.settings.retention_file), rt.connectors)


def sweep(
    rt: Runtime,
    connector: str,
    request: PurgeRequest = PurgeRequest(),
    *,
    by: str = "scheduler",
    policy: Policy | None = None,
    progress: Report = ignore,
    send: Callable[[list[Step]], None] | None = None,
) -> list[PurgeReport]:
    """Apply every rule of one connector as ``request`` says; a PurgeRun row records what
    happened.

    ``progress`` hears of each rule (``connector.table``) as it starts and when it is done.
    ``send`` enqueues the messages the sweep queued (committed): the notices of deferred
    records it erased.
    """
    policy = policy or policy_for(rt)
    store = rt.connectors.get(connector)
    if store is None:
        raise InvalidInput(f"unknown connector {connector!r}")
    dry_run, max_chunks = request.dry_run, request.max_chunks
    now = request.as_of or utcnow()
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    size = request.chunk_size or policy.chunk_size
    with session_scope(rt.db_url) as session:
        killed = [r.id for r in _unfinished(session, connector)]
    counted = {run: _counted(store, run) for run in killed}  # read with no ledger transaction
    with session_scope(rt.db_url) as session:
        held = holds.held_identity(session, connector, now)
        run_id = _open_run(
            session,
            connector,
            dry_run,
            {"as_of": now.isoformat(), "chunk_size": size},
            by,
            counted,
        )
    _forget(store, [run for run, counts in counted.items() if counts is not None])
    reports: list[PurgeReport] = []
    latest: list[PurgeReport] = []  # the rules done and the one under way, as last recorded

    def on_chunk(current: PurgeReport) -> None:
        latest[:] = [*reports, current]
        _update_run(rt, run_id, [asdict(r) for r in latest], "running")
        task = f"{connector}.{current.table}"
        progress(Progress(task, current.purged, max(current.purged, current.matched)))

    try:
        for rule in policy.for_connector(connector):
            task = f"{connector}.{rule.table}"
            progress(Progress(task, 0, None))
            report = store.purge(
                PurgeJob(
                    rule,
                    now=now,
                    held=held,
                    dry_run=dry_run,
                    chunk_size=size,
                    max_chunks=max_chunks,
                    on_chunk=None if dry_run else on_chunk,
                    run_id=None if dry_run else run_id,
                )
            )
            reports.append(report)
            latest[:] = reports
            _update_run(rt, run_id, [asdict(r) for r in reports], "running")
            done = report.matched if dry_run else report.purged
            progress(Progress(task, done, max(done, report.matched), finished=True))
    except Exception as err:
        _close(
            rt, store, run_id, latest, "failed", by=by, dry_run=dry_run, error=type(err).__name__
        )
        raise
    status = "finished" if all(r.done for r in reports) else "incomplete"
    _close(rt, store, run_id, reports, status, by=by, dry_run=dry_run)
    if not dry_run:
        # Erasures deferred while a record was still needed (an open order) finish here; the
        # partners that received those records are told, then the subject (followups.py).
        finished = deferrals.complete(
            rt,
            connector,
            now=now,
            on_erased=lambda session, request_id, result, tables: followups.record(
                session, rt, request_id, connector, result, tables, now=now
            ),
        )
        if send is not None:
            send(finished.follow)  # without it, re-drive sends the queued messages
    return reports


def _unfinished(session: Any, connector: str) -> list[PurgeRun]:
    """Runs of this connector that never finished (killed), locked for the one closing them."""
    return list(
        session.exec(
            select(PurgeRun)
            .where(PurgeRun.connector == connector, col(PurgeRun.finished_at).is_(None))
            .with_for_update()
        )
    )


def _counted(store: Connector, run_id: str) -> dict[str, int] | None:
    """What the store says the run removed per table; None when it cannot be read now."""
    try:
        return store.purged_in(run_id)
    except StoreError:
        return None  # the store is down: the ledger's own count stands, one chunk may be off


def _forget(store: Connector, runs: list[str]) -> None:
    for run in runs:
        try:
            store.forget_run(run)
        except StoreError:
            pass  # left in the store: read again only if the run were unfinished, and it is not


def _with_counts(
    stores: list[dict[str, Any]], counts: dict[str, int] | None, connector: str
) -> list[dict[str, Any]]:
    """The run's per-table records with the store's own counts of what was removed (never less
    than the ledger recorded: a run superseded while it still worked had its count forgotten
    by the run that took over, and counts again from there)."""
    if not counts:
        return stores
    by_table = {s["table"]: dict(s) for s in stores}
    for table, purged in counts.items():
        entry = by_table.setdefault(
            table,
            asdict(PurgeReport(connector, table, "", "", matched=purged, done=False)),
        )
        entry["purged"] = max(entry["purged"], purged)
    return list(by_table.values())


def _close(
    rt: Runtime,
    store: Connector,
    run_id: str,
    reports: list[PurgeReport],
    status: str,
    *,
    by: str,
    dry_run: bool,
    error: str | None = None,
) -> None:
    """End the run on record (with the store's count of what it removed), then let the store
    forget its count; a dry run removed nothing, so the store is not asked."""
    counts = None if dry_run else _counted(store, run_id)
    stores = _with_counts([asdict(r) for r in reports], counts, store.name)
    _update_run(rt, run_id, stores, status, by=by, error=error)
    if counts is not None:
        _forget(store, [run_id])


def _open_run(
    session: Any,
    connector: str,
    dry_run: bool,
    info: dict[str, Any],
    by: str,
    counted: dict[str, dict[str, int] | None],
) -> str:
    started = utcnow()
    run = PurgeRun(
        connector=connector,
        dry_run=dry_run,
        started_at=started,
        report={**info, "status": "running", "stores": []},
    )
    for stale in _unfinished(session, connector):
        # A run that never finished was killed; this one continues its work. What it removed
        # (the store's count, else its own record) goes in the audit log now, so no removed
        # row is left off the record.
        stores = _with_counts(
            list(stale.report.get("stores", [])), counted.get(stale.id), connector
        )
        if stores:  # the rule under way when it was killed is not done, whatever it said
            stores[-1] = {**stores[-1], "done": False}
        stale.report = {
            **stale.report,
            "stores": stores,
            "status": "superseded",
            "interrupted": True,
            "superseded_by": run.id,
        }
        stale.finished_at = started
        session.add(stale)
        _audit(session, stale, stores, "superseded", by, None)
    session.add(run)
    return run.id


def _update_run(
    rt: Runtime,
    run_id: str,
    stores: list[dict[str, Any]],
    status: str,
    *,
    by: str | None = None,
    error: str | None = None,
) -> None:
    with session_scope(rt.db_url) as session:
        run = session.exec(select(PurgeRun).where(PurgeRun.id == run_id).with_for_update()).one()
        if run.report.get("status") == "superseded" and by is None:
            status = "superseded"  # a newer run took over while this one still worked
        run.report = {
            **run.report,
            "status": status,
            "stores": stores,
            **({"error": error} if error else {}),
        }
        if by is not None:  # the run is over: finished, incomplete or failed
            run.finished_at = utcnow()
            _audit(session, run, stores, status, by, error)
        session.add(run)


def _audit(
    session: Any,
    run: PurgeRun,
    stores: list[dict[str, Any]],
    status: str,
    by: str,
    error: str | None,
) -> None:
    if run.dry_run:
        return  # a dry run changed nothing; its PurgeRun row says what it saw
    # What an earlier event of this run already put on record (a newer run superseded it while
    # it was still working): only the rest is recorded now, so events sum to the rows removed.
    audited: dict[str, int] = dict(run.report.get("audited", {}))
    for s in stores:
        key = f"{s['connector']}.{s['table']}"
        purged = s["purged"] - audited.get(key, 0)
        if key in audited and purged == 0:
            continue
        audited[key] = s["purged"]
        audit.record(
            session,
            actor=by,
            action="retention_purged",
            run_id=run.id,
            connector=s["connector"],
            table=s["table"],
            rule_action=s["action"],
            cutoff=s["cutoff"],
            matched=s["matched"],
            purged=purged,
            skipped_held=s["skipped_held"],
            done=s["done"],
            status=status,
        )
    run.report = {**run.report, "audited": audited}
    if status == "failed":
        audit.record(
            session,
            actor=by,
            action="retention_failed",
            run_id=run.id,
            connector=run.connector,
            error=error,
        )

"""Retention you can show (``dsr report retention``): per store and rule, how far behind it is.

For every rule of ``config/retention.yaml``: the oldest record a sweep could still take (not
anonymised yet, not under a legal hold) against the rule's limit, what the next sweep would take
now and how many rows legal holds keep back (a dry run of the rule), and the holds themselves
(reason, end); the rows purged per month over the last twelve months, read from the sweeps'
records (``purge_runs``, whose per-table counts were checked against the store's own
``dsr_purge_log``); and the sweeps that failed or were superseded. A rule is *flagged* when its
oldest record is past the limit by more than one sweep interval: the sweep is not keeping up (or
not running). The same flag is the ``dsr_retention_overdue`` metric.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from connectors.base import PurgeJob, RetentionRule
from connectors.sql_purge import cutoff_for
from dsr.core.ledger import holds
from dsr.core.ledger.db import session_scope
from dsr.core.ledger.models import PurgeRun, utcnow
from dsr.core.ops.retention import Policy, policy_for
from dsr.core.runtime.process import Runtime
from dsr.errors import StoreError

MONTHS = 12
_TROUBLE = ("failed", "superseded")


@dataclass
class HoldFigures:
    reason: str
    until: datetime | None


@dataclass
class RuleFigures:
    """One rule's standing: ``over_days`` past its limit, flagged beyond one sweep interval."""

    rule: str  # connector.table
    store: str
    table: str
    action: str
    limit_days: int
    oldest_at: datetime | None = None
    age_days: float | None = None
    over_days: float | None = None  # how far past the limit the oldest record is (> 0: behind)
    flagged: bool = False
    due_now: int | None = None  # rows the next sweep would take
    held_back: int | None = None  # aged rows kept back by legal holds
    holds: list[HoldFigures] = field(default_factory=list)
    error: str | None = None  # the store could not be read: nothing is claimed about it


@dataclass
class MonthFigures:
    month: str  # YYYY-MM in the policy's time zone
    total: int  # rows purged that month, every rule
    purged: dict[str, int]  # connector.table -> rows


@dataclass
class SweepFigures:
    run: str
    store: str
    started_at: datetime
    status: str  # failed | superseded
    error: str | None = None
    superseded_by: str | None = None


@dataclass
class RetentionReport:
    as_of: datetime
    timezone: str
    sweep_interval_days: float
    generated_at: datetime
    rules: list[RuleFigures]
    months: list[MonthFigures]
    sweeps: list[SweepFigures]

    @property
    def flagged(self) -> list[RuleFigures]:
        return [r for r in self.rules if r.flagged]


def sweep_interval_days(crontab: str) -> float:
    """How often a crontab line fires, roughly, in days: one line is what the scheduler runs,
    and "by more than one interval" needs only its order of magnitude."""
    fields = crontab.split()
    if len(fields) != 5:
        return 1.0
    minute, hour, dom, month, dow = fields
    if month != "*":
        return 366.0
    if dom != "*":
        return 31.0
    if dow != "*":
        return 7.0
    if hour.startswith("*/") and hour[2:].isdigit():
        return int(hour[2:]) / 24
    if hour == "*":
        if minute.startswith("*/") and minute[2:].isdigit():
            return int(minute[2:]) / 1440
        return 1 / 1440 if minute == "*" else 1 / 24
    return 1.0


def _standing(rt: Runtime, rule: RetentionRule, now: datetime, interval: float) -> RuleFigures:
    figures = RuleFigures(
        f"{rule.connector}.{rule.table}", rule.connector, rule.table, rule.action, rule.days
    )
    with session_scope(rt.db_url) as session:
        held = holds.held_identity(session, rule.connector, now)
        figures.holds = [
            HoldFigures(h.reason, h.until)
            for h in holds.active(session, now)
            if not h.connectors or rule.connector in h.connectors
        ]
    store = rt.connectors[rule.connector]
    try:  # the ledger holds no transaction while a store is read
        oldest = getattr(store, "oldest_held", None)
        figures.oldest_at = oldest(rule, held=held) if oldest is not None else None
        dry = store.purge(PurgeJob(rule, now=now, held=held, dry_run=True))
    except StoreError as err:
        figures.error = type(err).__name__
        return figures
    figures.due_now, figures.held_back = dry.matched, dry.skipped_held
    if figures.oldest_at is not None:
        figures.age_days = round((now - figures.oldest_at).total_seconds() / 86400, 1)
        # The limit ends at the rule's cutoff (from the end of the record's year for accounting
        # records): a record older than the cutoff is past it by that much.
        cutoff = cutoff_for(rule, now.replace(tzinfo=None)).replace(tzinfo=UTC)
        over = (cutoff - figures.oldest_at).total_seconds() / 86400
        figures.over_days = round(over, 1)
        figures.flagged = over > interval
    return figures


def standings(rt: Runtime, policy: Policy, now: datetime) -> list[RuleFigures]:
    """Every rule's standing as of ``now`` (also what the retention metric reports)."""
    interval = sweep_interval_days(policy.schedule.get("sweep", "0 2 * * *"))
    return [_standing(rt, rule, now, interval) for rule in policy.rules]


def _history(session: Session, since: datetime) -> list[PurgeRun]:
    return list(
        session.exec(
            select(PurgeRun)
            .where(col(PurgeRun.started_at) >= since, col(PurgeRun.dry_run).is_(False))
            .order_by(col(PurgeRun.started_at))
        )
    )


def _month_keys(first: date, last: date) -> list[str]:
    keys, (year, month) = [], (first.year, first.month)
    while (year, month) <= (last.year, last.month):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


def _first_of_window(last: date) -> date:
    """The first day of the month ``MONTHS - 1`` months before ``last``'s."""
    index = last.year * 12 + last.month - 1 - (MONTHS - 1)
    return date(index // 12, index % 12 + 1, 1)


def _months(runs: list[PurgeRun], zone: ZoneInfo, keys: list[str]) -> list[MonthFigures]:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for run in runs:
        key = run.started_at.astimezone(zone).strftime("%Y-%m")
        for s in run.report.get("stores", []):
            totals[key][f"{s.get('connector', run.connector)}.{s.get('table')}"] += int(
                s.get("purged") or 0
            )
    return [
        MonthFigures(k, sum(totals.get(k, {}).values()), dict(sorted(totals.get(k, {}).items())))
        for k in keys
    ]


def _troubled(runs: list[PurgeRun]) -> list[SweepFigures]:
    out = []
    for run in runs:
        status = str(run.report.get("status", ""))
        if status in _TROUBLE:
            out.append(
                SweepFigures(
                    run.id,
                    run.connector,
                    run.started_at,
                    status,
                    run.report.get("error"),
                    run.report.get("superseded_by"),
                )
            )
    return out


def retention(
    rt: Runtime, *, as_of: datetime | None = None, first_month: date | None = None
) -> RetentionReport:
    """The retention report as of ``as_of`` (now); purges per month from ``first_month``'s
    month (default: the last twelve months)."""
    now = (as_of or utcnow()).astimezone(UTC)
    policy = policy_for(rt)
    zone = ZoneInfo(policy.timezone)
    rules = standings(rt, policy, now)
    last = now.astimezone(zone).date()
    first = (first_month or _first_of_window(last)).replace(day=1)
    since = datetime.combine(first, datetime.min.time(), zone)
    with session_scope(rt.db_url) as session:
        runs = [r for r in _history(session, since) if r.started_at <= now]
    return RetentionReport(
        as_of=now,
        timezone=policy.timezone,
        sweep_interval_days=sweep_interval_days(policy.schedule.get("sweep", "")),
        generated_at=utcnow().replace(microsecond=0),
        rules=rules,
        months=_months(runs, zone, _month_keys(first, last)),
        sweeps=_troubled(runs),
    )


def standings_now(rt: Runtime) -> list[RuleFigures]:
    """Every rule's standing now, with the process's retention file."""
    return standings(rt, policy_for(rt), utcnow())

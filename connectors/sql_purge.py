"""Retention sweeps of a SQL store: chunked, resumable, skipping held subjects.

Each chunk is its own transaction over a primary-key range (``key >= lo AND key < lo + n``,
which PostgreSQL runs as an index range scan, far faster than ``key IN (SELECT ... LIMIT n)``);
the next range starts at the next aged key, so gaps cost one indexed ``MIN``. Non-integer keys
fall back to keyset pages. A killed sweep resumes by construction: the aged-and-live condition
is part of every statement, so a rerun continues where rows remain and never touches young ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from connectors import purge_log
from connectors.base import PurgeJob, PurgeReport, RetentionRule
from connectors.sql_files import file_paths, remove_files
from connectors.sql_scan import Scanner
from connectors.sql_store import Store
from connectors.sql_tables import Bound, Normaliser, rows_of, search_values, store_errors
from connectors.sql_writes import anonymise_where, child_pred, delete_where
from dsr.errors import ConfigError
from dsr.identity import EMAIL, Identity
from dsr.spellings import stored_values


def naive_utc(now: datetime | None) -> datetime:
    """Stores keep naive UTC timestamps; compare and write in that form."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def cutoff_for(rule: RetentionRule, now: datetime) -> datetime:
    """Rows whose age column is before this have aged out.

    With ``fiscal_year_end`` the age counts from the end of the record's year: a record of year Y
    ages out once 1 January of Y+1 plus ``days`` has passed.
    """
    boundary = now - timedelta(days=rule.days)
    return datetime(boundary.year, 1, 1) if rule.fiscal_year_end else boundary


def _target(store: Store, rule: RetentionRule) -> Bound:
    bound = store.tables().get(rule.table)
    where = f"retention rule for {store.name}.{rule.table}"
    if bound is None:
        raise ConfigError(f"{where}: no such table in connectors.yaml")
    if bound.spec.parent is not None:
        raise ConfigError(f"{where}: name the parent table; child rows follow their parent")
    for column in (rule.column, rule.only_when_set):
        if column and column not in bound.table.c:
            raise ConfigError(f"{where}: no column {column}")
    if rule.action not in ("delete", "anonymise"):
        raise ConfigError(f"{where}: action must be delete or anonymise, not {rule.action}")
    if rule.action == "anonymise" and bound.spec.erase.mode != "anonymise":
        raise ConfigError(f"{where}: the table has no anonymise columns (erase.mode)")
    if rule.days < 0:
        raise ConfigError(f"{where}: days must not be negative")
    return bound


def _descendants(
    store: Store, bound: Bound, pred: ColumnElement[bool]
) -> list[tuple[Bound, ColumnElement[bool]]]:
    """Every table below ``bound`` with the predicate picking its rows, deepest first."""
    out: list[tuple[Bound, ColumnElement[bool]]] = []
    for child in store.children(bound.spec):
        cpred = child_pred(child, bound, pred)
        out.extend(_descendants(store, child, cpred))
        out.append((child, cpred))
    return out


def _chunk(
    store: Store,
    conn: sa.Connection,
    bound: Bound,
    pred: ColumnElement[bool],
    action: str,
    now: datetime,
    counted: tuple[str, int] | None,
) -> int:
    """Purge one chunk in one transaction; how many rows of the rule's table it changed.

    ``counted`` (run id, chunk number): the count goes in the store's purge log, in the same
    transaction as the rows it counts.
    """
    with conn.begin():
        if conn.dialect.name == "postgresql":
            # A sweep is idempotent and resumable: a chunk lost to a server crash is simply
            # purged again next time, so it need not wait for its WAL flush (~1.4x faster).
            conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        if action == "delete":
            columns = bound.spec.match.get(EMAIL, [])
            if columns and store.config.suppression is not None:
                # Only a hash of a purged address stays, so it is never re-added.
                found = conn.execute(sa.select(*(bound.col(c) for c in columns)).where(pred))
                emails = {v for row in found for raw in row for v in stored_values(EMAIL, raw)}
                store.suppress(conn, emails, now=now, reason="retention")
            for child, cpred in _descendants(store, bound, pred):
                _remove_files(store, conn, child, cpred)
                delete_where(conn, child, cpred)
            _remove_files(store, conn, bound, pred)
            changed = delete_where(conn, bound, pred)
        else:
            for child, cpred in _descendants(store, bound, pred):
                if child.spec.erase.mode == "anonymise":
                    anonymise_where(conn, child, cpred, store.secret_key)
                elif child.spec.erase.mode == "delete":
                    delete_where(conn, child, cpred)
            changed = anonymise_where(conn, bound, pred, store.secret_key)
        if counted is not None:
            purge_log.note(
                conn, counted[0], bound.spec.name, counted[1], changed, store.config.own_schema
            )
        return changed


def _remove_files(
    store: Store, conn: sa.Connection, bound: Bound, pred: ColumnElement[bool]
) -> None:
    """Remove the files the rows about to be deleted name (first: never an unnamed file)."""
    spec = bound.spec
    if spec.file is None:
        return
    columns = [bound.key, *(bound.col(c) for c in sorted(spec.file.columns()))]
    rows = rows_of(conn.execute(sa.select(*columns).where(pred)))
    remove_files(store.name, file_paths(store.name, spec, rows))


class _Size:
    """Chunk size: starts at the configured one and doubles (up to 8x) while chunks commit in
    under 0.25 s, halving again above 0.5 s. Small fixed chunks rewrite the same index pages
    over and over (SQLite ran at 0.43 of one DELETE); transactions stay well under 1 s."""

    def __init__(self, base: int) -> None:
        self.base = self.value = base

    def observe(self, seconds: float) -> None:
        if seconds < 0.25 and self.value < self.base * 8:
            self.value *= 2
        elif seconds > 0.5 and self.value > self.base:
            self.value //= 2


def _ranges(
    conn: sa.Connection, bound: Bound, cond: ColumnElement[bool], size: _Size
) -> Iterator[ColumnElement[bool]]:
    """Chunk predicates, each covering at most ``size`` keys, computed lazily (resumable)."""
    key = bound.key
    if bound.int_key:
        with conn.begin():
            lo = conn.execute(sa.select(sa.func.min(key)).where(cond)).scalar()
        while lo is not None:
            hi = lo + size.value
            yield sa.and_(key >= lo, key < hi, cond)
            with conn.begin():
                lo = conn.execute(sa.select(sa.func.min(key)).where(key >= hi, cond)).scalar()
        return
    last: Any = None
    while True:
        stmt = sa.select(key).where(cond).order_by(key).limit(size.value)
        if last is not None:
            stmt = stmt.where(key > last)
        with conn.begin():
            keys = list(conn.execute(stmt).scalars())
        if not keys:
            return
        last = keys[-1]
        yield sa.and_(key.in_(keys), cond)


def _held_keys(store: Store, bound: Bound, held: Identity) -> list[Any]:
    """Keys of the table's rows that hold a held subject's identifier, in any spelling."""
    normalise = Normaliser(store.region)
    values = search_values(held, bound.spec.match, store.region, normalise=normalise)
    if not values:
        return []
    store.index.ensure_fresh(None)
    with store.engine.connect() as conn:
        scan = Scanner.everything(store, conn, held, values, normalise, anonymised_too=True)
        rows = scan.hits(bound.spec, values)
        return [] if rows is None else [row[bound.spec.key] for row in rows]


def purge(store: Store, job: PurgeJob) -> PurgeReport:
    """Run one retention rule on a SQL store (see the module docstring)."""
    rule, now, held, dry_run, run_id = job.rule, job.now, job.held, job.dry_run, job.run_id
    if job.chunk_size < 1:
        raise ConfigError("chunk_size must be at least 1")
    with store_errors(store.name):
        bound = _target(store, rule)
        cutoff = cutoff_for(rule, now)
        aged_col = bound.col(rule.only_when_set or rule.column)
        aged: ColumnElement[bool] = aged_col < cutoff  # NULL never compares: never ages out
        live = bound.live_clause()
        if live is not None:
            aged = sa.and_(aged, live)
        held_keys = _held_keys(store, bound, held)
        cond = sa.and_(aged, bound.key.not_in(held_keys)) if held_keys else aged
        report = PurgeReport(
            store.name, rule.table, rule.action, cutoff.isoformat(), dry_run=dry_run
        )
        count = sa.select(sa.func.count()).select_from(bound.table)
        with store.engine.connect() as conn:
            report.matched = int(conn.execute(count.where(cond)).scalar_one())
            if held_keys:
                report.skipped_held = int(
                    conn.execute(count.where(sa.and_(aged, bound.key.in_(held_keys)))).scalar_one()
                )
        if dry_run:
            return report
        if run_id is not None:
            purge_log.ensure(store.engine, store.config.own_schema)
        size = _Size(job.chunk_size)
        with store.engine.connect() as conn:
            for pred in _ranges(conn, bound, cond, size):
                if job.max_chunks is not None and report.chunks >= job.max_chunks:
                    report.done = False  # more aged rows remain: a rerun continues from here
                    break
                started = time.monotonic()
                counted = None if run_id is None else (run_id, report.chunks)
                report.purged += _chunk(store, conn, bound, pred, rule.action, now, counted)
                size.observe(time.monotonic() - started)
                report.chunks += 1
                if job.on_chunk is not None:
                    job.on_chunk(report)  # on record before the next chunk starts
        return report


def oldest(store: Store, rule: RetentionRule, *, held: Identity) -> datetime | None:
    """The oldest value of the rule's age column among the rows a sweep could still take (not
    anonymised yet, not held): how far the store is behind its rule (UTC; None: no such row)."""
    with store_errors(store.name):
        bound = _target(store, rule)
        aged_col = bound.col(rule.only_when_set or rule.column)
        where: list[ColumnElement[bool]] = [aged_col.is_not(None)]
        live = bound.live_clause()
        if live is not None:
            where.append(live)
        held_keys = _held_keys(store, bound, held)
        if held_keys:
            where.append(bound.key.not_in(held_keys))
        with store.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.min(aged_col)).where(*where)).scalar()
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)

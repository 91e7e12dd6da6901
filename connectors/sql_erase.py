"""Erasing a subject's admitted rows in a SQL store: delete, anonymise or keep per table, and
defer the rows still needed (``defer_when``: an order not yet delivered), children with their
parent. Addresses of erased rows, and the ones the policy trusts, go on the suppression list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connectors.base import Action, Outcome, Policy
from connectors.sql_config import TableSpec
from connectors.sql_files import FILES, file_paths, remove_files
from connectors.sql_store import Store
from connectors.sql_tables import Normaliser, column_values
from connectors.sql_writes import anonymise_where, delete_where, retained_until
from dsr.identity import EMAIL

Rows = dict[str, list[dict[str, Any]]]
Row = dict[str, Any]
SUPPRESSION_REASON = "only a keyed hash of the address is kept, so it is never added again"


def _basis(store: Store, spec: TableSpec, rows: Rows) -> tuple[str | None, str | None]:
    """Legal basis and retention end for a table's kept rows (a child inherits its parent's)."""
    erase = spec.erase
    until = None
    if erase.retention is not None:
        latest = max(
            (
                r[erase.retention.source]
                for r in rows.get(spec.name, [])
                if r[erase.retention.source] is not None
            ),
            default=None,
        )
        until = retained_until(latest, erase.retention)
    if spec.parent is not None and (erase.legal_basis is None or until is None):
        parent = next(t for t in store.config.tables if t.name == spec.parent.table)
        p_basis, p_until = _basis(store, parent, rows)
        return erase.legal_basis or p_basis, until or p_until
    return erase.legal_basis, until


def _deferred(store: Store, rows: Rows) -> tuple[Rows, Rows]:
    """Split admitted rows into those to erase now and those still needed (``defer_when``),
    a child going with its parent."""
    now: Rows = {}
    later: Rows = {}
    held: dict[str, set[Any]] = {}
    for spec in store.config.tables:
        if spec.name not in rows:
            continue
        found = rows[spec.name]
        if spec.parent is not None:
            keep = held.get(spec.parent.table, set())
            later[spec.name] = [r for r in found if r[spec.parent.column] in keep]
        elif spec.defer_when is not None:
            values = spec.defer_when.values
            later[spec.name] = [r for r in found if str(r[spec.defer_when.column]) in values]
        else:
            later[spec.name] = []
        held[spec.name] = {r[spec.key] for r in later[spec.name]}
        now[spec.name] = [r for r in found if r[spec.key] not in held[spec.name]]
    return now, later


def erase_rows(
    store: Store,
    conn: sa.Connection,
    rows: Rows,
    policy: Policy,
    now: datetime,
    normalise: Normaliser,
) -> tuple[list[Outcome], list[tuple[TableSpec, Row]]]:
    tables = store.tables()
    erase_now, later = _deferred(store, rows)
    by_table: dict[str, list[Outcome]] = {}
    # Children first: a parent's rows may not go while rows still point at them.
    for spec in reversed(store.config.tables):
        if spec.name not in rows:
            continue
        found = erase_now[spec.name]
        bound = tables[spec.name]
        pred = bound.key.in_([r[spec.key] for r in found])
        basis, until = _basis(store, spec, rows)
        outcomes = by_table.setdefault(spec.name, [])
        if not found and not later[spec.name]:
            outcomes.append(Outcome(spec.name, Action.NOT_FOUND, 0))
        elif not found:
            pass
        elif spec.erase.mode == "delete":
            files = _remove_files(store, spec, found)
            outcomes.append(Outcome(spec.name, Action.ERASED, delete_where(conn, bound, pred)))
            outcomes += files
        elif spec.erase.mode == "anonymise":
            if spec.file is not None and spec.file.column in spec.erase.columns:
                outcomes += _remove_files(store, spec, found)
            count = anonymise_where(conn, bound, pred, store.secret_key)
            outcomes.append(
                Outcome(
                    spec.name, Action.ANONYMISED, count, legal_basis=basis, retained_until=until
                )
            )
        else:
            outcomes.append(
                Outcome(
                    spec.name,
                    Action.RETAINED,
                    len(found),
                    legal_basis=basis,
                    retained_until=until,
                )
            )
        if later[spec.name]:
            reason = _defer_reason(store, spec)
            outcomes.append(
                Outcome(spec.name, Action.DEFERRED, len(later[spec.name]), reason=reason)
            )
    outcomes = [o for t in store.config.tables for o in by_table.get(t.name, [])]
    emails = set(policy.trusted.get(EMAIL))
    for spec in store.config.tables:
        for row in erase_now.get(spec.name, []):
            emails.update(column_values(spec, EMAIL, row, normalise))
    added = store.suppress(conn, emails, now=now, reason="erasure")
    if added and store.config.suppression is not None:
        outcomes.append(
            Outcome(
                store.config.suppression.table, Action.RETAINED, added, reason=SUPPRESSION_REASON
            )
        )
    deferred = [
        (spec, row)
        for spec in store.config.tables
        if spec.parent is None
        for row in later.get(spec.name, [])
    ]
    return outcomes, deferred


def _remove_files(store: Store, spec: TableSpec, rows: list[Row]) -> list[Outcome]:
    """Remove the files the rows name, before the rows themselves go."""
    if spec.file is None:
        return []
    paths = file_paths(store.name, spec, rows)
    if not paths:
        return []
    return [Outcome(f"{spec.name}{FILES}", Action.ERASED, remove_files(store.name, paths))]


def _defer_reason(store: Store, spec: TableSpec) -> str:
    if spec.defer_when is not None:
        return spec.defer_when.reason
    parent = next(t for t in store.config.tables if spec.parent and t.name == spec.parent.table)
    return _defer_reason(store, parent)

"""Which of the rows a rectify or erase changed went to third parties (``shared`` in YAML).

Computed from the rows as they were found, before the change: a notice names the references the
recipient already holds (order numbers) and, for a rectify, the fields it must correct.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import Action, Operation, Shared
from connectors.sql_config import TableSpec
from connectors.sql_writes import is_stale


def _group(
    spec: TableSpec, rows: list[dict[str, Any]], action: Action, fields: list[str]
) -> list[Shared]:
    shared = spec.shared
    assert shared is not None
    refs: dict[str | None, list[str]] = {}
    for row in rows:
        reference = row[shared.reference]
        if reference is None:
            continue
        if shared.column is None:
            to: str | None = None
        else:
            value = row[shared.column]
            if value is None or not str(value).strip():
                continue  # never handed to anyone (e.g. an order not yet with a courier)
            to = " ".join(str(value).split())
        refs.setdefault(to, []).append(str(reference))
    return [
        Shared(spec.name, action, sorted(set(r)), fields, recipient=to, labels=dict(shared.labels))
        for to, r in refs.items()
    ]


def on_rectify(
    spec: TableSpec, rows: list[dict[str, Any]], changes: Mapping[str, str], region: str
) -> list[Shared]:
    """Rows whose recipients hold a value this rectify changes: updated now, or history."""
    fields = sorted(spec.shared_fields & set(changes))
    if not fields or not rows:
        return []
    # Fields the table cannot compare (shared but not rectifiable here) count as changed.
    columns = {f: spec.rectifiable[f] for f in fields if f in spec.rectifiable}
    comparable = len(columns) == len(fields)
    stale = [r for r in rows if not comparable or is_stale(r, columns, changes, region)]
    hist = spec.historical_when
    past = [r for r in stale if hist is not None and str(r[hist.column]) in hist.values]
    current = [r for r in stale if not (hist is not None and str(r[hist.column]) in hist.values)]
    return _group(spec, current, Action.UPDATED, fields) + _group(
        spec, past, Action.HISTORICAL, fields
    )


def on_erase(spec: TableSpec, rows: list[dict[str, Any]]) -> list[Shared]:
    """Rows erased or anonymised now: their recipients must erase their copies."""
    if spec.erase.mode == "keep" or not rows:
        return []
    action = Action.ERASED if spec.erase.mode == "delete" else Action.ANONYMISED
    return _group(spec, rows, action, sorted(spec.shared_fields))


def shared_records(
    tables: list[TableSpec],
    rows: Mapping[str, list[dict[str, Any]]],
    operation: Operation,
    changes: Mapping[str, str],
    region: str,
) -> list[Shared]:
    """Every shared table's changed rows, grouped by the recipient they went to."""
    out: list[Shared] = []
    for spec in tables:
        if spec.shared is None or spec.name not in rows:
            continue
        if operation is Operation.RECTIFY:
            out += on_rectify(spec, rows[spec.name], changes, region)
        elif operation is Operation.ERASE:
            out += on_erase(spec, rows[spec.name])
    return out

"""One record of a SQL store read by key, as staff need it to decide whose it is (review).

Read only, one row, by its primary key: the name, the identifiers its ``match`` columns hold
(normalised) and the dates the table's entry names (``review``, ``collected_at``,
``changed_at``). Nothing is guessed from column names the configuration does not give.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from connectors.base import RecordSummary
from connectors.sql_store import Store
from connectors.sql_tables import Bound, Normaliser, column_values, rows_of, store_errors


def _key(bound: Bound, key: str) -> Any:
    """The key as the column's type wants it (None: it cannot be one of this table's keys)."""
    try:
        wanted = bound.key.type.python_type
    except NotImplementedError:
        return key
    if wanted is int:
        try:
            return int(key)
        except ValueError:
            return None
    return key


def summary(row: dict[str, Any], bound: Bound, normalise: Normaliser) -> RecordSummary:
    """What staff see of one row."""
    spec = bound.spec

    def column(name: str | None) -> object:
        return row[name] if name else None

    return RecordSummary.read(
        name=column(spec.name_column),
        identifiers=[(k, v) for k in spec.match for v in column_values(spec, k, row, normalise)],
        created=column(spec.created_column),
        last_activity=column(spec.review.last_activity),
        updated=column(spec.changed_at),
    )


def describe(store: Store, table: str, key: str) -> RecordSummary | None:
    """The row ``key`` of ``table`` (None: no such configured table)."""
    bound = store.tables().get(table)
    if bound is None:
        return None
    value = _key(bound, key)
    if value is None:
        return RecordSummary(present=False)
    with store_errors(store.name), store.engine.connect() as conn:
        found = list(rows_of(conn.execute(sa.select(bound.table).where(bound.key == value))))
    if not found:
        return RecordSummary(present=False)
    return summary(found[0], bound, Normaliser(store.region))

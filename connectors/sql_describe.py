"""One record of a SQL store read by key, as staff need it to decide whose it is (review).

Read only, one row, by its primary key: the name, the identifiers its ``match`` columns hold
(normalised) and the dates the table's entry names (``review``, ``collected_at``,
``changed_at``). Nothing is guessed from column names the configuration does not give.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa

from connectors.base import Pair, RecordSummary
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


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None  # a text date in a shape we do not read: not shown, never guessed
    return None


def _name(value: object) -> str | None:
    text = " ".join(str(value).split()) if value is not None else ""
    return text or None


def summary(row: dict[str, Any], bound: Bound, normalise: Normaliser) -> RecordSummary:
    """What staff see of one row."""
    spec = bound.spec
    pairs: list[Pair] = []
    for kind in spec.match:
        pairs += [(kind, v) for v in column_values(spec, kind, row, normalise)]
    return RecordSummary(
        name=_name(row[spec.name_column]) if spec.name_column else None,
        identifiers=tuple(dict.fromkeys(pairs)),
        created_at=_moment(row[spec.created_column]) if spec.created_column else None,
        last_activity_at=_moment(row[spec.review.last_activity])
        if spec.review.last_activity
        else None,
        updated_at=_moment(row[spec.changed_at]) if spec.changed_at else None,
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

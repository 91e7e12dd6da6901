"""Samples of a table's rows spread over the whole table, at the cost of a few indexed reads.

The first N rows a table returns are its oldest, and a shop's first thousand orders are not
like its last (guest checkout came later; a bulk import wrote a whole batch one way). With an
integer key, the sample is taken in ten slices from the key's lowest to its highest value, each
slice an indexed range read (``key >= :start ORDER BY key LIMIT n/10``); without one, the
first N rows it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

SLICES = 10


def sample(
    conn: sa.Connection,
    table: str,
    columns: Sequence[str],
    n: int,
    *,
    key: str | None = None,
    not_null: str | None = None,
) -> list[sa.Row[Any]]:
    """Up to ``n`` rows of ``columns``; spread along ``key`` (an indexed integer column) when
    given; only rows whose ``not_null`` column holds a value, when given."""
    cols: list[sa.ColumnClause[Any]] = [sa.column(c) for c in columns]
    stmt = sa.table(table, *cols).select()
    if not_null is not None:
        stmt = stmt.where(sa.column(not_null).is_not(None))
    if key is not None and n >= SLICES:
        k: sa.ColumnClause[Any] = sa.column(key)
        bounds = sa.select(sa.func.min(k), sa.func.max(k)).select_from(sa.table(table))
        low, high = conn.execute(bounds).one()
        if isinstance(low, int) and isinstance(high, int) and high - low > n:
            rows: list[sa.Row[Any]] = []
            each = -(-n // SLICES)
            for i in range(SLICES):
                start = low + (high - low) * i // SLICES
                part = stmt.where(k >= start).order_by(k).limit(each)
                rows += conn.execute(part).all()
            return rows[:n]
    return list(conn.execute(stmt.limit(n)))

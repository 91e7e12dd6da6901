"""Links between tables that the schema does not declare but the values show.

Many products declare no foreign keys (WordPress and WooCommerce declare none): ``user_id`` in
``wp_usermeta`` holds ``wp_users.ID`` all the same. A column counts as a link when its name
points at another table (``user_id`` -> ``wp_users``, ``order_id`` -> ``wp_wc_orders``,
``partner_id`` -> ``res_partner``; a table named for it before one merely mentioning it) and
nearly all of its sampled values are keys there, asked of the engine by primary key. Small
integer ids are keys of almost every table, hence the name must agree too.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from connectors.discover_schema import ForeignKey, TableInfo
from connectors.recognise import pct, words

MIN_SHARE = 0.9  # of a column's sampled values that must be keys of the table it names
MAX_PROBE = 100  # distinct values asked about per column
_NONE_VALUES = (0, "0", "")  # stored for "none": says nothing about a link


def stem(column: str) -> str | None:
    """What a reference column names: ``customer_id`` -> customer (None: not a reference)."""
    lower = column.lower()
    for suffix in ("_id", "id"):
        if lower.endswith(suffix) and len(lower) > len(suffix):
            return lower.removesuffix(suffix).rstrip("_") or None
    return None


def _naming(stem_word: str, table: str) -> int | None:
    """How well ``table`` is named for ``stem_word``: 0, named for it (``wp_wc_orders``); 1, it
    is one of its words (``wp_wc_order_addresses``); None, not at all."""
    forms = {stem_word, f"{stem_word}s", f"{stem_word}es"}
    last = table.lower().rsplit("_", 1)[-1]
    if last in forms:
        return 0
    return 1 if forms & words(table) else None


def infer_links(conn: sa.Connection, tables: dict[str, TableInfo]) -> None:
    """Add to each table the links its values show (``ForeignKey.inferred`` says why)."""
    for t in tables.values():
        if t.error is not None:
            continue
        declared = {fk.columns[0] for fk in t.foreign_keys if len(fk.columns) == 1}
        for column in t.columns.values():
            word = stem(column.name)
            if word is None or column.name in declared or column.type_class not in ("int", "text"):
                continue
            if t.primary_key == (column.name,):
                continue
            values = sorted({v for v in column.values if v not in _NONE_VALUES}, key=str)[
                :MAX_PROBE
            ]
            if len(values) < 2:
                continue
            ranked = sorted(
                (rank, target.name)
                for target in tables.values()
                if (rank := _naming(word, target.name)) is not None
            )
            for _, name in ranked:
                target = tables[name]
                key = target.primary_key
                if (
                    target.name == t.name
                    or target.error is not None
                    or len(key) != 1
                    or target.columns[key[0]].type_class != column.type_class
                ):
                    continue
                hits = _keys_found(conn, target.name, key[0], values)
                if hits >= MIN_SHARE * len(values):
                    why = (
                        f"{pct(hits, len(values))} of {len(values)} sampled {column.name} values "
                        f"are keys of {target.name} (no foreign key declares it)"
                    )
                    t.foreign_keys.append(
                        ForeignKey((column.name,), target.name, (key[0],), inferred=why)
                    )
                    break


def _keys_found(conn: sa.Connection, table: str, key: str, values: list[Any]) -> int:
    """How many of ``values`` are keys of ``table`` (an indexed lookup, never a scan)."""
    col: sa.ColumnClause[Any] = sa.column(key)
    stmt = (
        sa.select(sa.func.count(sa.distinct(col)))
        .select_from(sa.table(table))
        .where(col.in_(values))
    )
    try:
        return int(conn.execute(stmt).scalar() or 0)
    except sa_exc.SQLAlchemyError:
        conn.rollback()  # PostgreSQL refuses every later statement in a failed transaction
        return 0

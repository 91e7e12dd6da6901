"""How the engine will run a lookup: its own plan (EXPLAIN), read on a read-only connection.

Two lookups matter for a configured table: reading rows by key (``WHERE key IN (...)``, and
for a child table by its parent column) and reading the rows changed since a time
(``WHERE changed_at >= :t``). The answer is index or scan, the engine's row estimate, and
whether an index exists that the engine could use: on a small table PostgreSQL and MariaDB
rightly prefer a scan, which is not a problem. When no index can serve the lookup, the
``CREATE INDEX`` an operator could add is proposed; it is never run. Only the plan's shape is
reported, never its text: plans quote the bound values.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

Query = Literal["key", "parent", "changed_at"]
_WHERE = {"key": "{c} IN ({p})", "parent": "{c} IN ({p})", "changed_at": "{c} >= {p}"}
_PG_INDEX_NODES = ("Index Scan", "Index Only Scan", "Bitmap Index Scan")


@dataclass(frozen=True)
class Lookup:
    """One lookup's plan: index or scan, the estimate, and what could be added."""

    query: Query
    column: str
    access: Literal["index", "scan"]
    index: str | None
    estimated_rows: int | None
    index_available: bool
    plan: str  # the plan's shape, e.g. "Index Scan using customers_pkey"
    proposal: str | None  # CREATE INDEX ... when no index can serve the lookup

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Plan:
    access: Literal["index", "scan"]
    index: str | None
    rows: int | None
    shape: str
    available: bool


def probe_values(
    conn: sa.Connection, table: str, column: str, sql_type: sa.types.TypeEngine[Any], query: Query
) -> list[Any]:
    """Values to plan with: two stored keys, or a time a day ago (typed like the column)."""
    if query != "changed_at":
        col: sa.ColumnClause[Any] = sa.column(column)
        stmt: sa.Select[Any] = sa.select(col).select_from(sa.table(table))
        stored = [v for (v,) in conn.execute(stmt.where(col.is_not(None)).limit(2))]
        if stored:
            return stored * (2 // len(stored))
    try:
        python = sql_type.python_type
    except NotImplementedError:
        python = str
    day_ago = datetime.now(UTC) - timedelta(days=1)
    if python is datetime:
        return [day_ago if getattr(sql_type, "timezone", False) else day_ago.replace(tzinfo=None)]
    if python is date:
        return [day_ago.date()]
    if python in (int, float):
        return [int(time.time()) - 86400] if query == "changed_at" else [1, 2]
    return [day_ago.isoformat()] if query == "changed_at" else ["a", "b"]


def explain(
    conn: sa.Connection,
    backend: str,
    table: str,
    column: str,
    sql_type: sa.types.TypeEngine[Any],
    query: Query,
    indexed: dict[str, str],
) -> Lookup:
    """The engine's plan for one lookup on ``table``; ``indexed``: leading column -> index."""
    values = probe_values(conn, table, column, sql_type, query)
    q = conn.dialect.identifier_preparer.quote
    names = [f"v{i}" for i in range(len(values))]
    where = _WHERE[query].format(c=q(column), p=", ".join(f":{n}" for n in names))
    select = f"SELECT * FROM {q(table)} WHERE {where}"
    binds = [sa.bindparam(n, type_=sql_type) for n in names]
    params = dict(zip(names, values, strict=True))
    if backend == "postgresql":
        plan = _postgres(conn, select, binds, params)
    elif backend == "mysql":
        plan = _mariadb(conn, select, binds, params)
    else:
        plan = _sqlite(conn, select, binds, params, indexed.get(column))
    proposal = None
    if not plan.available and column not in indexed:
        name = f"ix_{table}_{column}"[:63]
        proposal = f"CREATE INDEX {q(name)} ON {q(table)} ({q(column)})"
    return Lookup(
        query=query,
        column=column,
        access=plan.access,
        index=plan.index,
        estimated_rows=plan.rows,
        index_available=plan.available or column in indexed,
        plan=plan.shape,
        proposal=proposal,
    )


def _postgres_once(
    conn: sa.Connection, select: str, binds: list[sa.BindParameter[Any]], params: dict[str, Any]
) -> tuple[str, str | None, int | None]:
    stmt = sa.text(f"EXPLAIN (FORMAT JSON) {select}").bindparams(*binds)
    raw = conn.execute(stmt, params).scalar()
    doc: Any = json.loads(raw) if isinstance(raw, str) else raw
    top = doc[0]["Plan"]
    stack, node_type, index = [top], top["Node Type"], None
    while stack:
        node = stack.pop()
        if node["Node Type"] in _PG_INDEX_NODES:
            node_type, index = node["Node Type"], node.get("Index Name")
            break
        stack += node.get("Plans", [])
    return node_type, index, int(top.get("Plan Rows", 0))


def _postgres(
    conn: sa.Connection, select: str, binds: list[sa.BindParameter[Any]], params: dict[str, Any]
) -> _Plan:
    node, index, rows = _postgres_once(conn, select, binds, params)
    shape = f"{node} using {index}" if index else node
    if index:
        return _Plan("index", index, rows, shape, True)
    # A scan may only mean the table is small. With scans made prohibitively dear, the plan
    # shows whether an index could serve the lookup once the table grows.
    conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
    try:
        _, usable, _ = _postgres_once(conn, select, binds, params)
    finally:
        conn.rollback()  # SET LOCAL ends with the transaction
    return _Plan("scan", None, rows, shape, usable is not None)


def _mariadb(
    conn: sa.Connection, select: str, binds: list[sa.BindParameter[Any]], params: dict[str, Any]
) -> _Plan:
    stmt = sa.text(f"EXPLAIN FORMAT=JSON {select}").bindparams(*binds)
    doc = json.loads(str(conn.execute(stmt, params).scalar()))
    stack: list[Any] = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "access_type" in item:
                access = str(item["access_type"])
                key = item.get("key")
                possible = item.get("possible_keys") or []
                rows = item.get("rows")
                scan = access in ("ALL", "index")  # "index": every entry of an index, a scan too
                shape = f"{access}" + (f" on {key}" if key else "")
                kind: Literal["index", "scan"] = "scan" if scan else "index"
                return _Plan(kind, None if scan else key, rows, shape, bool(possible) or not scan)
            stack += list(item.values())
        elif isinstance(item, list):
            stack += item
    return _Plan("scan", None, None, "no plan", False)


def _sqlite(
    conn: sa.Connection,
    select: str,
    binds: list[sa.BindParameter[Any]],
    params: dict[str, Any],
    known_index: str | None,
) -> _Plan:
    stmt = sa.text(f"EXPLAIN QUERY PLAN {select}").bindparams(*binds)
    details = [str(row[-1]) for row in conn.execute(stmt, params)]
    shape = "; ".join(details)
    search = next((d for d in details if d.startswith("SEARCH")), None)
    if search is None:
        return _Plan("scan", None, None, shape, known_index is not None)
    found = re.search(r"USING (?:COVERING )?(INDEX \S+|INTEGER PRIMARY KEY|PRIMARY KEY)", search)
    index = found.group(1).removeprefix("INDEX ") if found else None
    return _Plan("index", index, None, shape, True)

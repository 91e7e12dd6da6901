"""What ``discover`` reads from a database: its schema (SQLAlchemy inspector) and a sample of
each table's values, judged column by column (``connectors.recognise``).

Only SELECTs on a read-only connection. A table that cannot be read (dropped meanwhile, no
privilege) is reported with the reason, not fatal: the rest of the database is still worth a
proposal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from connectors.readonly import reason
from connectors.recognise import Evidence, recognise
from connectors.sampling import sample as sample_rows

TypeClass = Literal["text", "int", "time", "other"]
# Columns never sampled: binary data says nothing a parser can read, and may be large.
_SKIP_TYPES = (sa.LargeBinary, sa.types.BINARY, sa.types.VARBINARY)


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key: ``columns`` of this table referencing ``referred_columns`` of another
    (declared by the schema, or ``inferred`` from the values: ``connectors.discover_links``)."""

    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    inferred: str | None = None  # not declared: why the values show it


@dataclass(frozen=True)
class Column:
    """A column, its type class and what its sampled values are (None: nothing personal)."""

    name: str
    sql_type: str
    type_class: TypeClass
    values: tuple[Any, ...]
    evidence: Evidence | None


@dataclass
class TableInfo:
    """A table as read: schema, the sampled rows' count and each column's findings."""

    name: str
    columns: dict[str, Column] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    unique: list[tuple[str, ...]] = field(default_factory=list)  # constraints and indexes
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    indexed: set[str] = field(default_factory=set)  # columns leading some index
    sampled: int = 0
    error: str | None = None

    def found(self, *kinds: str) -> dict[str, Evidence]:
        """Columns whose values were recognised as one of ``kinds``, by column."""
        return {
            c.name: c.evidence
            for c in self.columns.values()
            if c.evidence is not None and c.evidence.kind in kinds
        }


def type_class(sql_type: sa.types.TypeEngine[Any]) -> TypeClass:
    """Text, integer, timestamp or other, from the reflected type."""
    try:
        python = sql_type.python_type
    except NotImplementedError:
        return "other"
    if python is str:
        return "text"
    if python is int:
        return "int"
    if python in (datetime, date):
        return "time"
    return "other"


def read_table(
    conn: sa.Connection, inspector: sa.Inspector, name: str, *, region: str, sample: int
) -> TableInfo:
    """One table's schema and sampled findings (``error`` set when it could not be read)."""
    info = TableInfo(name)
    try:
        reflected = inspector.get_columns(name)
        pk = inspector.get_pk_constraint(name).get("constrained_columns") or []
        info.primary_key = tuple(pk)
        info.unique = [tuple(u["column_names"]) for u in inspector.get_unique_constraints(name)]
        for index in inspector.get_indexes(name):
            cols = tuple(c for c in index.get("column_names", []) if c)
            if cols:
                info.indexed.add(cols[0])
                if index.get("unique"):
                    info.unique.append(cols)
        if pk:
            info.indexed.add(pk[0])
        info.foreign_keys = [
            ForeignKey(
                tuple(fk["constrained_columns"]),
                fk["referred_table"],
                tuple(fk["referred_columns"]),
            )
            for fk in inspector.get_foreign_keys(name)
        ]
        sampled = [c["name"] for c in reflected if not isinstance(c["type"], _SKIP_TYPES)]
        by_name = {c["name"]: c for c in reflected}
        int_key = pk[0] if len(pk) == 1 and type_class(by_name[pk[0]]["type"]) == "int" else None
        rows = sample_rows(conn, name, sampled, sample, key=int_key) if sampled else []
    except (sa_exc.SQLAlchemyError, NotImplementedError) as err:
        conn.rollback()  # PostgreSQL refuses every later statement in a failed transaction
        info.error = reason(err)
        return info
    info.sampled = len(rows)
    for col in reflected:
        cname = col["name"]
        values: tuple[Any, ...] = ()
        if cname in sampled:
            i = sampled.index(cname)
            values = tuple(r[i] for r in rows if r[i] is not None)
        tclass = type_class(col["type"])
        evidence = recognise(cname, values, region=region) if tclass in ("text", "other") else None
        info.columns[cname] = Column(cname, _type_name(col["type"]), tclass, values, evidence)
    return info


def _type_name(sql_type: sa.types.TypeEngine[Any]) -> str:
    try:
        return str(sql_type)
    except sa_exc.SQLAlchemyError:  # a dialect type the generic compiler cannot write
        return type(sql_type).__name__

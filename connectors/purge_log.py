"""A sweep's own record in the store it sweeps: one row per chunk, in the chunk's transaction.

The ledger records each chunk right after the store commits it; a sweep killed between the
two commits would leave that chunk removed but off the record. This table closes the gap: it
changes in the same transaction as the rows it counts, so when the ledger closes a killed run
it reads here how many rows that run really removed (``purged``), then forgets the run.
The table (``dsr_purge_log``) is created in the store on its first sweep.
"""

from __future__ import annotations

import sqlalchemy as sa

NAME = "dsr_purge_log"
_tables: dict[str | None, sa.Table] = {}


def table(schema: str | None = None) -> sa.Table:
    """The purge log, in ``schema`` (a PostgreSQL schema or MariaDB database of its own, so the
    product's own schema stays as it shipped) or beside the data (None)."""
    if schema not in _tables:
        _tables[schema] = sa.Table(
            NAME,
            sa.MetaData(schema=schema),
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.String(64), nullable=False, index=True),
            sa.Column("table_name", sa.String(128), nullable=False),
            # within its rule (two rules may share a table)
            sa.Column("chunk", sa.Integer, nullable=False),
            sa.Column("purged", sa.Integer, nullable=False),
        )
    return _tables[schema]


def ensure(engine: sa.Engine, schema: str | None = None) -> None:
    """Create the table (and its schema) if this store has none yet (idempotent)."""
    with engine.begin() as conn:
        if schema is not None and not sa.inspect(conn).has_schema(schema):
            conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
    table(schema).create(engine, checkfirst=True)


def note(
    conn: sa.Connection, run_id: str, name: str, chunk: int, purged: int, schema: str | None = None
) -> None:
    """Count one chunk, inside the transaction that removed its rows."""
    conn.execute(
        sa.insert(table(schema)).values(run_id=run_id, table_name=name, chunk=chunk, purged=purged)
    )


def purged(engine: sa.Engine, run_id: str, schema: str | None = None) -> dict[str, int]:
    """Rows removed per table by the run ``run_id``, as the store committed them."""
    log = table(schema)
    if not sa.inspect(engine).has_table(NAME, schema=schema):
        return {}
    stmt = (
        sa.select(log.c.table_name, sa.func.sum(log.c.purged))
        .where(log.c.run_id == run_id)
        .group_by(log.c.table_name)
    )
    with engine.connect() as conn:
        return {name: int(total) for name, total in conn.execute(stmt)}


def forget(engine: sa.Engine, run_id: str, schema: str | None = None) -> None:
    """Drop a run's rows once the ledger has them on record."""
    if not sa.inspect(engine).has_table(NAME, schema=schema):
        return
    with engine.begin() as conn:
        conn.execute(sa.delete(table(schema)).where(table(schema).c.run_id == run_id))

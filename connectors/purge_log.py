"""A sweep's own record in the store it sweeps: one row per chunk, in the chunk's transaction.

The ledger records each chunk right after the store commits it; a sweep killed between the
two commits would leave that chunk removed but off the record. This table closes the gap: it
changes in the same transaction as the rows it counts, so when the ledger closes a killed run
it reads here how many rows that run really removed (``purged``), then forgets the run.
The table (``dsr_purge_log``) is created in the store on its first sweep.
"""

from __future__ import annotations

import sqlalchemy as sa

_metadata = sa.MetaData()
purge_log = sa.Table(
    "dsr_purge_log",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("table_name", sa.String(128), nullable=False),
    sa.Column("chunk", sa.Integer, nullable=False),  # within its rule (two rules may share a table)
    sa.Column("purged", sa.Integer, nullable=False),
)


def ensure(engine: sa.Engine) -> None:
    """Create the table if this store has none yet (idempotent)."""
    purge_log.create(engine, checkfirst=True)


def note(conn: sa.Connection, run_id: str, table: str, chunk: int, purged: int) -> None:
    """Count one chunk, inside the transaction that removed its rows."""
    conn.execute(
        sa.insert(purge_log).values(run_id=run_id, table_name=table, chunk=chunk, purged=purged)
    )


def purged(engine: sa.Engine, run_id: str) -> dict[str, int]:
    """Rows removed per table by the run ``run_id``, as the store committed them."""
    if not sa.inspect(engine).has_table(purge_log.name):
        return {}
    stmt = (
        sa.select(purge_log.c.table_name, sa.func.sum(purge_log.c.purged))
        .where(purge_log.c.run_id == run_id)
        .group_by(purge_log.c.table_name)
    )
    with engine.connect() as conn:
        return {table: int(total) for table, total in conn.execute(stmt)}


def forget(engine: sa.Engine, run_id: str) -> None:
    """Drop a run's rows once the ledger has them on record."""
    if not sa.inspect(engine).has_table(purge_log.name):
        return
    with engine.begin() as conn:
        conn.execute(sa.delete(purge_log).where(purge_log.c.run_id == run_id))

"""Ledger engine, sessions and schema migrations (Alembic, applied on start)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.sql.expression import Executable
from sqlmodel import Session

from dsr.files import create_private

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_engines: dict[str, Engine] = {}


def _sqlite_setup(engine: Engine) -> None:
    # pysqlite's own transaction handling defers the write lock, which lets two writers read the
    # same audit-chain tip; BEGIN IMMEDIATE serialises writers instead (SQLAlchemy's recipe).
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def get_engine(url: str) -> Engine:
    """One engine per URL per process."""
    engine = _engines.get(url)
    if engine is None:
        if url.startswith("sqlite"):
            path = sa.engine.make_url(url).database
            if path and path != ":memory:":
                create_private(Path(path))  # the ledger holds personal data: 0600 in 0700
            engine = sa.create_engine(url, connect_args={"timeout": 30})
            _sqlite_setup(engine)
        else:
            engine = sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
        _engines[url] = engine
    return engine


def dispose_all() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the ledger schema to the latest revision (creates it on an empty database)."""
    engine = get_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes starting on an empty database must not both create the schema.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(742001)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE/DELETE and return how many rows it changed (the conditional-claim idiom)."""
    return cast(CursorResult[Any], session.execute(statement)).rowcount


UnitOfWork = Callable[[], AbstractContextManager[Session]]


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def units_of_work(url: str) -> UnitOfWork:
    """Short transactions on the ledger at ``url``: each ``with`` block commits on success.

    Steps that talk to a store or the SMTP server take one of these instead of a session, so
    they can commit their claim before the slow part and record the outcome after it.
    """
    return lambda: session_scope(url)

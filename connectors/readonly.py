"""Opening a store so that nothing this process sends can change it.

``dsr connectors discover`` and ``check`` look at databases other products own. Their own code
only reads, but the engine is told as well, so a mistake cannot become a write: SQLite opens the
file with ``mode=ro`` (and never creates one), PostgreSQL and MariaDB sessions start with every
transaction READ ONLY.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from dsr.errors import InvalidInput, RetriableStoreError

BACKENDS = ("sqlite", "postgresql", "mysql")  # mysql: SQLAlchemy's name for MariaDB too
_READ_ONLY_SESSION = {
    "postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "mysql": "SET SESSION TRANSACTION READ ONLY",
}


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to print and to put in YAML)."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return "<not a database URL>"


def backend_of(url: str) -> str:
    """The engine family of ``url`` (sqlite, postgresql, mysql); InvalidInput when unsupported."""
    try:
        parsed = sa.make_url(url)
    except sa_exc.ArgumentError:
        raise InvalidInput("not a database URL (expected e.g. postgresql+psycopg://…)") from None
    backend = parsed.get_backend_name()
    if backend == "mariadb":
        backend = "mysql"
    if backend not in BACKENDS:
        raise InvalidInput(
            f"unsupported database {backend!r} (supported: sqlite, postgresql, mysql)"
        )
    return backend


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite URL names (None for any other engine or an in-memory database)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database or "")


def open_read_only(url: str) -> sa.Engine:
    """An engine on ``url`` whose every connection refuses to write."""
    backend = backend_of(url)
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is None:
            raise InvalidInput("an in-memory SQLite database holds nothing to read")
        if not path.is_file():
            raise InvalidInput(f"no SQLite file at {path}")
        # A creator, not a ``file:`` URL: SQLAlchemy would unquote the path, and a "#" or "?"
        # in it would make SQLite open (and create) another file.
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        return sa.create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)
        )
    parsed = sa.make_url(url)
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:  # a dead host must fail fast, not hang the CLI
        connect_args["connect_timeout"] = 10
    engine = sa.create_engine(parsed, connect_args=connect_args, poolclass=sa.pool.NullPool)
    statement = _READ_ONLY_SESSION[backend]

    @sa.event.listens_for(engine, "connect")
    def _read_only(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        dbapi_connection.commit()  # psycopg opened a transaction for the SET: end it

    return engine


def reason(err: BaseException) -> str:
    """A driver error as its class and code only: driver messages may quote stored values."""
    orig = getattr(err, "orig", None) or err
    code = getattr(orig, "sqlstate", None)
    args = getattr(orig, "args", ())
    if code is None and args and isinstance(args[0], int):
        code = args[0]  # MariaDB error number
    return f"{type(orig).__name__}{f' {code}' if code else ''}"


@contextmanager
def connected(engine: sa.Engine, url: str) -> Iterator[sa.Connection]:
    """A connection to the store; RetriableStoreError (URL masked) when it cannot be opened."""
    try:
        conn = engine.connect()
    except sa_exc.DBAPIError as err:
        raise RetriableStoreError(f"cannot connect to {mask_url(url)} ({reason(err)})") from None
    try:
        yield conn
    finally:
        conn.rollback()  # read-only: there is never anything to commit
        conn.close()

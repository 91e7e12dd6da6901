"""The identifier index: keyed hashes of the identifiers a store's rows hold, kept outside it.

A store shaped by another product holds identifiers as people typed them, and we may add no
column, index or trigger to its tables; so lookups go through this index instead. Each entry
is (store, table, digest of a lookup key, row key); the digest is a keyed BLAKE2b of
``dsr.spellings.lookup_keys``, so the index holds no identifier in the clear. An entry only
proposes a row: the caller re-reads it by key and judges what it holds now.

Per table, a state row says which rows are covered: every row written before ``covered_until``
is indexed. A build in progress keeps its ``cursor`` (the last key done), so a killed build
resumes where it stopped. ``fingerprint`` names what was indexed (columns, key, digest key):
when the configuration changes, the table is indexed anew.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dsr.files import create_private

_metadata = sa.MetaData()
entries = sa.Table(
    "dsr_identifier_index",
    _metadata,
    sa.Column("store", sa.String(128), nullable=False),
    sa.Column("tbl", sa.String(128), nullable=False),
    sa.Column("digest", sa.BigInteger, nullable=False),
    sa.Column("row_key", sa.String(255), nullable=False),
    sa.Index("ix_dsr_identifier_lookup", "store", "digest"),
    sa.Index("ix_dsr_identifier_row", "store", "tbl", "row_key"),
)
states = sa.Table(
    "dsr_identifier_index_state",
    _metadata,
    sa.Column("store", sa.String(128), primary_key=True),
    sa.Column("tbl", sa.String(128), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("covered_until", sa.DateTime),  # NULL: never completely built
    sa.Column("build_started", sa.DateTime),
    sa.Column("cursor", sa.String(255)),  # the last key a running build finished
    sa.Column("rows", sa.BigInteger, nullable=False, default=0),
)
_CHUNK = 1000  # keys per IN list
MEMORY = "sqlite://"  # a process-private index (a store built without one: tests, tools)


@dataclass(frozen=True)
class State:
    """How far one table is indexed."""

    fingerprint: str
    covered_until: datetime | None
    build_started: datetime | None
    cursor: str | None
    rows: int


def _engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pre-ping: it would double each lookup's round trips; a connection the server
        # dropped fails one lookup (retried as the store's errors are) and is replaced.
        return sa.create_engine(parsed, pool_size=10, max_overflow=10)
    if not parsed.database:  # in memory: one connection, or each would see its own database
        return sa.create_engine(
            parsed, poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False}
        )
    if parsed.database:  # keyed digests of personal data: 0600 in 0700, as the ledger
        create_private(Path(parsed.database).resolve())
    engine = sa.create_engine(parsed, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _wal(dbapi_conn: Any, _record: Any) -> None:  # several workers write: WAL, no waits
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-131072")  # 128 MB: a build's inserts land at random
        cursor.close()

    return engine


class IdentifierIndex:
    """One index database (``DSR_INDEX_URL``) shared by every store and worker."""

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.engine = _engine(url)
        # The first key of the suppression chain never changes with rotation: digests stay
        # valid, and the index holds nothing a reader without the key could reverse.
        self._key = hashlib.blake2b(secret.split(",")[0].encode(), digest_size=32).digest()
        self._hashers: dict[str, Any] = {}
        self.key_check = self.digests("check", ["dsr"])[0]
        self._ready = False
        self._lock = threading.Lock()

    def ensure(self) -> None:
        """Create the index's tables on first use (idempotent)."""
        with self._lock:
            if not self._ready:
                _metadata.create_all(self.engine, checkfirst=True)
                self._ready = True

    def digests(self, kind: str, keys: Iterable[str]) -> list[int]:
        """Signed 64-bit keyed digests of lookup keys of one identifier kind."""
        base = self._hashers.get(kind)
        if base is None:  # keyed once per kind; each digest then starts from a copy
            base = hashlib.blake2b(f"{kind}\x1f".encode(), key=self._key, digest_size=8)
            self._hashers[kind] = base
        out = []
        for k in keys:
            h = base.copy()
            h.update(k.encode())
            out.append(int.from_bytes(h.digest(), "big", signed=True))
        return out

    # -- lookups --------------------------------------------------------------------------

    def lookup(self, store: str, digests: Sequence[int]) -> dict[str, set[str]]:
        """Row keys per table whose entries carry any of ``digests``."""
        self.ensure()
        found: dict[str, set[str]] = {}
        wanted = sorted(set(digests))
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), _CHUNK):
                stmt = sa.select(entries.c.tbl, entries.c.row_key).where(
                    entries.c.store == store, entries.c.digest.in_(wanted[i : i + _CHUNK])
                )
                for tbl, key in conn.execute(stmt):
                    found.setdefault(tbl, set()).add(key)
        return found

    def state(self, store: str, table: str) -> State | None:
        self.ensure()
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(states).where(states.c.store == store, states.c.tbl == table)
            ).first()
        if row is None:
            return None
        return State(row.fingerprint, row.covered_until, row.build_started, row.cursor, row.rows)

    # -- writes ---------------------------------------------------------------------------

    def put(
        self,
        store: str,
        table: str,
        rows: Sequence[tuple[str, Sequence[int]]],
        *,
        replace: bool,
        state: dict[str, Any] | None = None,
    ) -> None:
        """Index ``rows`` (row key, its digests) in one transaction; with ``replace`` the rows'
        earlier entries go first (they were re-read: what they held before no longer counts).
        ``state`` updates the table's state row in the same transaction."""
        self.ensure()
        values = [(store, table, d, key) for key, found in rows for d in set(found)]
        with self.engine.begin() as conn:
            if replace:
                keys = [key for key, _ in rows]
                for i in range(0, len(keys), _CHUNK):
                    conn.execute(
                        sa.delete(entries).where(
                            entries.c.store == store,
                            entries.c.tbl == table,
                            entries.c.row_key.in_(keys[i : i + _CHUNK]),
                        )
                    )
            if values:
                _insert(conn, values)
            if state is not None:
                self._set_state(conn, store, table, state)

    def set_state(self, store: str, table: str, **values: Any) -> None:
        self.ensure()
        with self.engine.begin() as conn:
            self._set_state(conn, store, table, values)

    def _set_state(
        self, conn: sa.Connection, store: str, table: str, values: dict[str, Any]
    ) -> None:
        where = (states.c.store == store) & (states.c.tbl == table)
        if conn.execute(sa.update(states).where(where).values(values)).rowcount == 0:
            conn.execute(states.insert().values(store=store, tbl=table, **values))

    def clear(self, store: str, table: str) -> None:
        """Forget a table's entries and state (its configuration changed)."""
        self.ensure()
        with self.engine.begin() as conn:
            conn.execute(sa.delete(entries).where(entries.c.store == store, entries.c.tbl == table))
            conn.execute(sa.delete(states).where(states.c.store == store, states.c.tbl == table))

    def close(self) -> None:
        self.engine.dispose()


def _insert(conn: sa.Connection, values: list[tuple[str, str, int, str]]) -> None:
    """Bulk insert entries through the driver: a build writes millions (COPY on PostgreSQL)."""
    columns = "store, tbl, digest, row_key"
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor().copy(f"COPY {entries.name} ({columns}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    marks = ", ".join([mark] * 4)
    conn.exec_driver_sql(f"INSERT INTO {entries.name} ({columns}) VALUES ({marks})", values)

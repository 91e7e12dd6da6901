"""A SQL-backed store described entirely by its ``connectors.yaml`` entry.

SQLAlchemy Core on reflected tables, bound parameters only, on SQLite, PostgreSQL and MariaDB.
The subject is found through normalised, indexed shadow columns (``match``); child tables
through their parent's key. Erasure deletes, anonymises or keeps per table; a suppression list
(keyed hashes) keeps erased addresses from being re-added.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dsr.connectors.base import (
    Action,
    Found,
    OnChunk,
    Operation,
    Outcome,
    PurgeReport,
    RetentionRule,
    TaskResult,
)
from dsr.connectors.export import TableWriter, earliest, json_row
from dsr.connectors.sql_config import SqlConfig, TableSpec, parse_entry
from dsr.connectors.sql_purge import naive_utc, purge
from dsr.connectors.sql_shared import shared_records
from dsr.connectors.sql_tables import Bound, reflect, search_values, store_errors
from dsr.connectors.sql_writes import (
    add_suppression,
    anonymise_where,
    delete_where,
    prepare_changes,
    rectify_table,
    rekey_suppression,
    retained_until,
)
from dsr.errors import ConfigError, InvalidInput, NotApplicable
from dsr.identity import (
    EMAIL,
    Identity,
    normalise_email,
    normalise_value,
    suppression_hash,
    try_normalise_email,
)

Rows = dict[str, list[dict[str, Any]]]  # table -> raw rows, only for tables actually searched
_IN_CHUNK = 1000  # parent keys per IN list when fetching child rows
SUPPRESSION_REASON = "only a keyed hash of the address is kept, so it is never added again"


class SuppressedAddress(InvalidInput):
    """The address was erased and is on the suppression list: it must not be (re-)added."""


def _engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    connect_args: dict[str, Any] = {}
    # A store behind a dead network must fail fast (and be retried), not hang a worker.
    if parsed.get_backend_name() in ("postgresql", "mysql", "mariadb"):
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = 10
    return sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


class SqlStore:
    """One SQL database holding personal data, driven by its configuration."""

    kind = "sql"

    def __init__(self, config: SqlConfig, *, secret_key: str, region: str = "VN") -> None:
        self.config = config
        self.name = config.name
        self.labels = dict(config.labels)
        self.recipients = list(config.recipients)
        self.needs = frozenset(k for t in config.tables for k in t.match)
        self.provides = frozenset(k for t in config.tables for k in t.provides)
        self.rectifiable_fields = frozenset(f for t in config.tables for f in t.rectifiable)
        self.shared_fields = frozenset(f for t in config.tables for f in t.shared_fields)
        self.retention_tables = frozenset(t.name for t in config.tables if t.parent is None)
        self.secret_key = secret_key
        self.region = region
        self.engine = _engine(config.url)
        self._bound: dict[str, Bound] | None = None
        self._suppression: sa.Table | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls, entry: Mapping[str, Any], *, secret_key: str, region: str = "VN"
    ) -> SqlStore:
        """Build from one validated ``connectors.yaml`` entry (ConfigError when invalid)."""
        return cls(parse_entry(SqlConfig, entry), secret_key=secret_key, region=region)

    def __repr__(self) -> str:
        return f"SqlStore({self.name!r})"

    # -- schema -----------------------------------------------------------------------------

    def tables(self) -> dict[str, Bound]:
        """The configured tables, reflected once (FatalStoreError when the schema differs)."""
        with self._lock:
            if self._bound is None:
                with store_errors(self.name):
                    self._bound, self._suppression = reflect(self.engine, self.config)
            return self._bound

    def suppression_table(self) -> sa.Table | None:
        """The reflected suppression table, when this store has one."""
        self.tables()
        return self._suppression

    def children(self, parent: TableSpec) -> list[Bound]:
        """Direct child tables of ``parent``."""
        tables = self.tables()
        return [
            tables[t.name]
            for t in self.config.tables
            if t.parent is not None and t.parent.table == parent.name
        ]

    # -- find -------------------------------------------------------------------------------

    def search(self, conn: sa.Connection, identity: Identity) -> Rows:
        """The subject's raw rows per searched table (NotApplicable when nothing to search by)."""
        values = search_values(identity, self.needs, self.region)
        if not values:
            raise NotApplicable(f"{self.name}: searches by {', '.join(sorted(self.needs))} only")
        tables = self.tables()
        rows: Rows = {}
        for spec in self.config.tables:
            bound = tables[spec.name]
            if spec.parent is None:
                clause = bound.match_clause(values)
                if clause is None:
                    continue  # not searchable with these identifiers: not claimed as empty
                stmt = sa.select(bound.table).where(clause).order_by(bound.key)
                rows[spec.name] = [dict(r._mapping) for r in conn.execute(stmt)]
            elif spec.parent.table in rows:
                parent = tables[spec.parent.table]
                keys = [r[parent.spec.key] for r in rows[spec.parent.table]]
                fk = bound.col(spec.parent.column)
                found: list[dict[str, Any]] = []
                for i in range(0, len(keys), _IN_CHUNK):
                    stmt = (
                        sa.select(bound.table)
                        .where(fk.in_(keys[i : i + _IN_CHUNK]))
                        .order_by(bound.key)
                    )
                    found.extend(dict(r._mapping) for r in conn.execute(stmt))
                rows[spec.name] = found
        return rows

    def _provided(self, rows: Rows) -> Identity:
        provided = Identity()
        for spec in self.config.tables:
            for kind, column in spec.provides.items():
                provided.add(
                    kind,
                    (
                        normalise_value(kind, r[column], self.region)
                        for r in rows.get(spec.name, [])
                    ),
                )
        return provided

    def _public(self, rows: Rows) -> dict[str, list[dict[str, Any]]]:
        tables = self.tables()
        return {
            t: [json_row(r, tables[t].export_columns()) for r in found] for t, found in rows.items()
        }

    def find(self, identity: Identity) -> Found:
        """Every record about the subject, JSON-safe, and the identifiers they reveal."""
        with store_errors(self.name), self.engine.connect() as conn:
            rows = self.search(conn, identity)
        return Found(records=self._public(rows), provides=self._provided(rows))

    # -- apply ------------------------------------------------------------------------------

    def apply(
        self,
        operation: Operation,
        identity: Identity,
        *,
        staging: Path,
        changes: dict[str, str] | None = None,
        now: datetime | None = None,
    ) -> TaskResult:
        """Export to ``staging`` (access), edit (rectify) or erase/anonymise (erase); idempotent."""
        operation = Operation(operation)
        if operation is Operation.ACCESS:
            return self._access(identity, staging)
        if operation is Operation.RECTIFY:
            prepared = prepare_changes(changes or {}, self.region)
            with store_errors(self.name), self.engine.begin() as conn:
                rows = self.search(conn, identity)
                outcomes = [
                    o
                    for spec in self.config.tables
                    if spec.rectifiable and spec.name in rows
                    for o in rectify_table(
                        conn, self.tables()[spec.name], rows[spec.name], prepared, self.region
                    )
                ]
            shared = shared_records(self.config.tables, rows, operation, prepared, self.region)
            return TaskResult(
                operation,
                sum(map(len, rows.values())),
                outcomes,
                self._provided(rows),
                shared=shared,
            )
        with store_errors(self.name), self.engine.begin() as conn:
            rows = self.search(conn, identity)
            outcomes = self._erase(conn, rows, identity, naive_utc(now))
        shared = shared_records(self.config.tables, rows, operation, {}, self.region)
        return TaskResult(
            operation,
            sum(map(len, rows.values())),
            outcomes,
            self._provided(rows),
            shared=shared,
        )

    def _access(self, identity: Identity, staging: Path) -> TaskResult:
        """Stream every table's rows straight to the staging files (never all in memory)."""
        values = search_values(identity, self.needs, self.region)
        if not values:
            raise NotApplicable(f"{self.name}: searches by {', '.join(sorted(self.needs))} only")
        tables = self.tables()
        parents = {t.parent.table for t in self.config.tables if t.parent is not None}
        keys: dict[str, list[Any]] = {}
        outcomes: list[Outcome] = []
        provided = Identity()
        collected: list[Any] = []
        with store_errors(self.name), self.engine.connect() as conn:
            streaming = conn.execution_options(stream_results=True, yield_per=1000)
            for spec in self.config.tables:
                bound = tables[spec.name]
                if spec.parent is None:
                    clause = bound.match_clause(values)
                    if clause is None:
                        continue  # not searchable with these identifiers: not claimed as empty
                    selects = [sa.select(bound.table).where(clause).order_by(bound.key)]
                elif spec.parent.table in keys:
                    fk, pk = bound.col(spec.parent.column), keys[spec.parent.table]
                    selects = [
                        sa.select(bound.table)
                        .where(fk.in_(pk[i : i + _IN_CHUNK]))
                        .order_by(bound.key)
                        for i in range(0, len(pk), _IN_CHUNK)
                    ]
                else:
                    continue
                columns = bound.export_columns()
                own_keys = keys.setdefault(spec.name, []) if spec.name in parents else None
                first: Any = None
                with TableWriter(staging, spec.name, list(columns)) as writer:
                    for stmt in selects:
                        for row in streaming.execute(stmt):
                            m = row._mapping
                            writer.write(json_row(m, columns))
                            if own_keys is not None:
                                own_keys.append(m[spec.key])
                            for kind, column in spec.provides.items():
                                provided.add(kind, [normalise_value(kind, m[column], self.region)])
                            if spec.collected_at and m[spec.collected_at] is not None:
                                value = json_row(m, [spec.collected_at])[spec.collected_at]
                                first = value if first is None else min(first, value)
                outcomes.append(
                    Outcome(spec.name, Action.EXPORTED, writer.count)
                    if writer.count
                    else Outcome(spec.name, Action.NOT_FOUND, 0)
                )
                collected.append(first)
        return TaskResult(
            Operation.ACCESS,
            sum(o.count for o in outcomes),
            outcomes,
            provided,
            collected_from=earliest(collected),
        )

    def _basis(self, spec: TableSpec, rows: Rows) -> tuple[str | None, str | None]:
        """Legal basis and retention end for a table's kept rows (a child inherits its parent's)."""
        erase = spec.erase
        until = None
        if erase.retention is not None:
            latest = max(
                (
                    r[erase.retention.source]
                    for r in rows.get(spec.name, [])
                    if r[erase.retention.source] is not None
                ),
                default=None,
            )
            until = retained_until(latest, erase.retention)
        if spec.parent is not None and (erase.legal_basis is None or until is None):
            parent = next(t for t in self.config.tables if t.name == spec.parent.table)
            p_basis, p_until = self._basis(parent, rows)
            return erase.legal_basis or p_basis, until or p_until
        return erase.legal_basis, until

    def _erase(
        self, conn: sa.Connection, rows: Rows, identity: Identity, now: datetime
    ) -> list[Outcome]:
        tables = self.tables()
        by_table: dict[str, Outcome] = {}
        # Children first: a parent's rows may not go while rows still point at them.
        for spec in reversed(self.config.tables):
            if spec.name not in rows:
                continue
            found = rows[spec.name]
            bound = tables[spec.name]
            pred = bound.key.in_([r[spec.key] for r in found])
            basis, until = self._basis(spec, rows)
            if not found:
                by_table[spec.name] = Outcome(spec.name, Action.NOT_FOUND, 0)
            elif spec.erase.mode == "delete":
                by_table[spec.name] = Outcome(
                    spec.name, Action.ERASED, delete_where(conn, bound, pred)
                )
            elif spec.erase.mode == "anonymise":
                count = anonymise_where(conn, bound, pred, self.secret_key)
                by_table[spec.name] = Outcome(
                    spec.name, Action.ANONYMISED, count, legal_basis=basis, retained_until=until
                )
            else:
                by_table[spec.name] = Outcome(
                    spec.name, Action.RETAINED, len(found), legal_basis=basis, retained_until=until
                )
        outcomes = [by_table[t.name] for t in self.config.tables if t.name in by_table]
        emails = set(identity.get(EMAIL))
        for spec in self.config.tables:
            if column := spec.match.get(EMAIL):
                emails.update(r[column] for r in rows.get(spec.name, []) if r[column])
        added = self.suppress(conn, emails, now=now, reason="erasure")
        if added and self.config.suppression is not None:
            outcomes.append(
                Outcome(
                    self.config.suppression.table, Action.RETAINED, added, reason=SUPPRESSION_REASON
                )
            )
        return outcomes

    # -- suppression ------------------------------------------------------------------------

    def suppress(self, conn: sa.Connection, emails: set[str], *, now: datetime, reason: str) -> int:
        """Put the valid addresses among ``emails`` on the suppression list; how many were new."""
        table = self.suppression_table()
        if table is None or self.config.suppression is None:
            return 0
        normalised = {e for e in map(try_normalise_email, emails) if e}
        hashes = {suppression_hash(e, self.secret_key) for e in normalised}
        return add_suppression(
            conn, table, self.config.suppression.column, hashes, now=now, reason=reason
        )

    def is_suppressed(self, email: str) -> bool:
        """Whether the address was erased and must never be re-added (InvalidInput if malformed)."""
        table = self.suppression_table()
        if table is None or self.config.suppression is None:
            raise ConfigError(f"{self.name}: no suppression list configured")
        col = table.c[self.config.suppression.column]
        digest = suppression_hash(normalise_email(email), self.secret_key)
        with store_errors(self.name), self.engine.connect() as conn:
            return conn.execute(sa.select(col).where(col == digest)).first() is not None

    def rekey_suppression(self, new_key: str, *, now: datetime) -> int | None:
        """Re-key the suppression list with ``new_key`` in one transaction (idempotent); None
        when this store keeps no list."""
        if self.config.suppression is None:
            return None
        table = self.suppression_table()
        assert table is not None  # reflected with the configured tables
        column = self.config.suppression.column
        with store_errors(self.name), self.engine.begin() as conn:
            return rekey_suppression(
                conn, table, column, chain=self.secret_key, new_key=new_key, now=naive_utc(now)
            )

    def check_not_suppressed(self, email: str) -> None:
        """Raise SuppressedAddress when an import would re-add an erased address."""
        if self.is_suppressed(email):
            raise SuppressedAddress("address is on the suppression list")

    # -- retention --------------------------------------------------------------------------

    def purge(
        self,
        rule: RetentionRule,
        *,
        now: datetime,
        held: Identity,
        dry_run: bool = False,
        chunk_size: int = 5000,
        max_chunks: int | None = None,
        on_chunk: OnChunk | None = None,
    ) -> PurgeReport:
        """Delete or anonymise what ``rule`` says has aged out, in chunks, skipping the held."""
        return purge(
            self,
            rule,
            now=naive_utc(now),
            held=held,
            dry_run=dry_run,
            chunk_size=chunk_size,
            max_chunks=max_chunks,
            on_chunk=on_chunk,
        )

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

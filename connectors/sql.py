"""A SQL-backed store described entirely by its ``connectors.yaml`` entry.

SQLAlchemy Core on reflected tables, bound parameters only, on SQLite, PostgreSQL and MariaDB.
The store's tables are used as another product shaped them: nothing is added to them. The
subject is found through the identifier index kept outside the store (``sql_index``), which
proposes rows that are then re-read and judged by the values they hold, in any spelling; child
tables through their parent's key. Only the rows the core's policy admits are exported,
rectified or erased (``sql_scan``); erasure deletes, anonymises, keeps or defers per table
(``sql_erase``) and is then checked by searching again (``sql_verify``); a suppression list
(keyed hashes) keeps erased addresses from being re-added.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

import sqlalchemy as sa

from connectors import purge_log
from connectors.base import (
    Action,
    Found,
    IdentifierChange,
    Match,
    Operation,
    Outcome,
    Policy,
    PurgeJob,
    PurgeReport,
    RecordSummary,
    RetentionRule,
    Shared,
    TaskResult,
)
from connectors.export import TableWriter, earliest, json_row
from connectors.identifier_index import MEMORY, IdentifierIndex
from connectors.sql_config import SqlConfig, TableSpec, parse_entry
from connectors.sql_describe import describe
from connectors.sql_erase import erase_rows
from connectors.sql_files import FILES, ArchivedFile, copy_files, file_path, file_paths
from connectors.sql_index import Progress, StoreIndex
from connectors.sql_purge import naive_utc, oldest, purge
from connectors.sql_scan import Row, Scanner
from connectors.sql_shared import shared_records
from connectors.sql_tables import (
    Bound,
    Normaliser,
    child_rows,
    reflect,
    search_values,
    store_errors,
)
from connectors.sql_verify import verify_erasure
from connectors.sql_writes import (
    add_suppression,
    identifier_changes,
    prepare_changes,
    rectify_table,
    rekey_suppression,
)
from dsr.errors import ConfigError, FatalStoreError, InvalidInput, NotApplicable
from dsr.identity import (
    Identity,
    normalise_email,
    suppression_hash,
    try_normalise_email,
)

Rows = dict[str, list[dict[str, Any]]]  # table -> raw rows, only for tables actually searched


def _files_outcome(staging: Path, spec: TableSpec, files: list[ArchivedFile]) -> Outcome:
    copied, missing = copy_files(staging, spec, files)
    return Outcome(
        f"{spec.name}{FILES}",
        Action.EXPORTED if copied else Action.NOT_FOUND,
        copied,
        reason=f"{missing} file(s) missing from the store" if missing else None,
    )


class SuppressedAddress(InvalidInput):
    """The address was erased and is on the suppression list: it must not be (re-)added."""


def _engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    connect_args: dict[str, Any] = {}
    # A store behind a dead network must fail fast (and be retried), not hang a worker.
    remote = parsed.get_backend_name() in ("postgresql", "mysql", "mariadb")
    if remote and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = 10
    return sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


class SqlStore:
    """One SQL database holding personal data, driven by its configuration."""

    kind = "sql"

    def __init__(
        self,
        config: SqlConfig,
        *,
        secret_key: str,
        region: str = "VN",
        index: IdentifierIndex | None = None,
    ) -> None:
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
        self.index = StoreIndex(
            self.name, self.engine, self.tables, index or IdentifierIndex(MEMORY, secret_key)
        )

    @classmethod
    def from_config(
        cls,
        entry: Mapping[str, Any],
        *,
        secret_key: str,
        region: str = "VN",
        index: IdentifierIndex | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> SqlStore:
        """Build from one validated ``connectors.yaml`` entry (ConfigError when invalid); a SQL
        store's credentials are in its URL, so ``secrets`` is not read."""
        config = parse_entry(SqlConfig, entry)
        return cls(config, secret_key=secret_key, region=region, index=index)

    def __repr__(self) -> str:
        return f"SqlStore({self.name!r})"

    def export_notes(self) -> dict[str, dict[str, Any]]:
        """Per table, what the subject's export and replies say of it: its ``title``, ``purpose``
        and column ``labels``
        (each ``{vi, en}``) and the column it was ``collected_at``."""
        return {
            t.name: {
                "purpose": dict(t.purpose),
                "title": dict(t.title),
                "labels": dict(t.labels),
                "collected_at": t.collected_at,
            }
            for t in self.config.tables
        }

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

    def search(self, conn: sa.Connection, identity: Identity, normalise: Normaliser) -> Rows:
        """The rows holding any of the identity's values, per searched table, with no policy
        (NotApplicable when nothing to search by); children through their parents."""
        values = search_values(identity, self.needs, self.region, normalise=normalise)
        if not values:
            raise NotApplicable(f"{self.name}: searches by {', '.join(sorted(self.needs))} only")
        scan = Scanner.everything(self, conn, identity, values, normalise)
        tables = self.tables()
        rows: Rows = {}
        for spec in self.config.tables:
            if spec.parent is None:
                found = scan.hits(spec, values)
                if found is not None:  # None: not searchable by these: not claimed empty
                    rows[spec.name] = list(found)
            elif spec.parent.table in rows:
                parent = tables[spec.parent.table]
                keys = [r[parent.spec.key] for r in rows[spec.parent.table]]
                rows[spec.name] = list(child_rows(conn, tables[spec.name], keys))
        return rows

    def _provided(self, rows: Rows, normalise: Normaliser) -> Identity:
        provided = Identity()
        for spec in self.config.tables:
            for kind, column in spec.provides.items():
                provided.add(kind, (normalise(kind, r[column]) for r in rows.get(spec.name, [])))
        return provided

    def _public(self, rows: Rows) -> dict[str, list[dict[str, Any]]]:
        tables = self.tables()
        return {
            t: [json_row(r, tables[t].export_columns) for r in found] for t, found in rows.items()
        }

    def _files(self, rows: Rows) -> dict[str, list[PurePath]]:
        return {
            spec.name: [
                p if isinstance(p, Path) else PurePosixPath(p.key)
                for p in file_paths(self.name, spec, rows[spec.name])
                if p.is_file()
            ]
            for spec in self.config.tables
            if spec.file is not None and spec.name in rows
        }

    def find(self, identity: Identity, *, as_of: datetime | None = None) -> Found:
        """Every record holding one of the identity's values, JSON-safe, and the identifiers
        they reveal; the index is first brought up to ``as_of`` (None: used as it stands)."""
        normalise = Normaliser(self.region)
        with store_errors(self.name):
            self.index.ensure_fresh(as_of)
        with store_errors(self.name), self.engine.connect() as conn:
            rows = self.search(conn, identity, normalise)
        return Found(
            records=self._public(rows),
            provides=self._provided(rows, normalise),
            files=self._files(rows),
        )

    def describe(self, table: str, key: str) -> RecordSummary | None:
        """One record read by key for staff review: name, identifiers, configured dates."""
        return describe(self, table, key)

    # -- apply ------------------------------------------------------------------------------

    def apply(
        self,
        operation: Operation,
        policy: Policy,
        *,
        staging: Path,
        changes: dict[str, str] | None = None,
        now: datetime | None = None,
        as_of: datetime | None = None,
        before_commit: Callable[[TaskResult], None] | None = None,
    ) -> TaskResult:
        """Export to ``staging`` (access), edit (rectify) or erase/anonymise (erase) the rows
        ``policy`` admits, and nothing else; idempotent. The index first covers ``as_of``
        (the request's receipt): a record written before it is found. An erasure is one
        transaction, and ``before_commit`` hears what it holds before it commits."""
        operation = Operation(operation)
        normalise = Normaliser(self.region)
        if not search_values(policy.search, self.needs, self.region, normalise=normalise):
            raise NotApplicable(f"{self.name}: searches by {', '.join(sorted(self.needs))} only")
        with store_errors(self.name):
            self.index.ensure_fresh(as_of or now)
        if operation is Operation.ACCESS:
            return self._access(policy, staging, normalise)
        if operation is Operation.RECTIFY:
            prepared = prepare_changes(changes or {}, self.region)
            with store_errors(self.name), self.engine.begin() as conn:
                scan = Scanner(self, conn, policy, normalise)
                rows = scan.collect()
                outcomes: list[Outcome] = []
                replaced: list[IdentifierChange] = []
                for spec in self.config.tables:
                    if (spec.rectifiable or spec.historical_when) and spec.name in rows:
                        try:
                            done, updated = rectify_table(
                                conn,
                                self.tables()[spec.name],
                                rows[spec.name],
                                prepared,
                                self.region,
                            )
                        except sa.exc.IntegrityError:
                            # Two rows of the subject's (one address imported twice, spelled two
                            # ways) cannot both take a value the table holds once: people merge
                            # them in the product; nothing was written.
                            raise FatalStoreError(
                                f"{self.name}: {spec.name}: the new value would be held twice, "
                                "which the table refuses (the subject has duplicate rows there: "
                                "merge them in the product, then retry)"
                            ) from None
                        outcomes += done
                        replaced += identifier_changes(spec, updated, prepared, normalise)
            with store_errors(self.name):
                self.reindex(rows)
            shared = shared_records(self.config.tables, rows, operation, prepared, self.region)
            return self._result(operation, rows, outcomes, scan, changes=replaced, shared=shared)
        with store_errors(self.name), self.engine.begin() as conn:
            scan = Scanner(self, conn, policy, normalise)
            rows = scan.collect()
            outcomes, deferred = erase_rows(self, conn, rows, policy, naive_utc(now), normalise)
            kept = {id(r) for _, r in deferred}  # open orders stay: no partner is told of them yet
            erased = {t: [r for r in found if id(r) not in kept] for t, found in rows.items()}
            shared = shared_records(self.config.tables, erased, operation, {}, self.region)
            result = self._result(
                operation,
                rows,
                outcomes,
                scan,
                deferred=[scan.match(spec, r) for spec, r in deferred],
                shared=shared,
            )
            if before_commit is not None:
                before_commit(result)
        with store_errors(self.name):
            self.reindex(rows)
            result.remaining = verify_erasure(self, policy, deferred, normalise)
        return result

    def _result(
        self,
        operation: Operation,
        rows: Rows,
        outcomes: list[Outcome],
        scan: Scanner,
        *,
        changes: list[IdentifierChange] | None = None,
        deferred: list[Match] | None = None,
        shared: list[Shared] | None = None,
    ) -> TaskResult:
        return TaskResult(
            operation,
            sum(map(len, rows.values())),
            outcomes,
            self._provided(rows, scan.normalise),
            searched=scan.searched_kinds(),
            candidates=scan.candidates,
            changes=changes or [],
            deferred=deferred or [],
            shared=shared or [],
        )

    def _access(self, policy: Policy, staging: Path, normalise: Normaliser) -> TaskResult:
        """Stream every admitted row straight to the staging files (never all in memory)."""
        tables = self.tables()
        keys: dict[str, list[Any]] = {}
        outcomes: list[Outcome] = []
        provided = Identity()
        collected: list[Any] = []
        with store_errors(self.name), self.engine.connect() as conn:
            scan = Scanner(self, conn, policy, normalise)
            accounts = scan.accounts()
            for spec in self.config.tables:
                bound = tables[spec.name]
                rows: Iterable[Row]
                if spec.parent is None and spec.provides:
                    if spec.name not in accounts:
                        continue  # not searchable with these identifiers: not claimed as empty
                    rows = accounts[spec.name]
                elif spec.parent is None:
                    found = scan.top_level(spec)
                    if found is None:
                        continue
                    rows = (row for row, _ in found)
                elif spec.parent.table in keys:
                    rows = scan.children(spec, keys[spec.parent.table], stream=True)
                else:
                    continue
                columns = bound.export_columns
                own_keys = keys.setdefault(spec.name, []) if spec.name in scan.parents else None
                first: Any = None
                files: list[ArchivedFile] = []
                with TableWriter(staging, spec.name, list(columns)) as writer:
                    for m in rows:
                        writer.write(json_row(m, columns))
                        if (path := file_path(self.name, spec, m)) is not None:
                            files.append(path)
                        if own_keys is not None:
                            own_keys.append(m[spec.key])
                        for kind, column in spec.provides.items():
                            provided.add(kind, [normalise(kind, m[column])])
                        if spec.collected_at and m[spec.collected_at] is not None:
                            value = json_row(m, [spec.collected_at])[spec.collected_at]
                            first = value if first is None else min(first, value)
                outcomes.append(
                    Outcome(spec.name, Action.EXPORTED, writer.count)
                    if writer.count
                    else Outcome(spec.name, Action.NOT_FOUND, 0)
                )
                if files:
                    outcomes.append(_files_outcome(staging, spec, files))
                collected.append(first)
        return TaskResult(
            Operation.ACCESS,
            sum(o.count for o in outcomes if not o.table.endswith(FILES)),
            outcomes,
            provided,
            collected_from=earliest(collected),
            searched=scan.searched_kinds(),
            candidates=scan.candidates,
        )

    def refresh_index(self, *, full: bool = False, progress: Progress | None = None) -> list[Any]:
        """Bring the identifier index up to now (``full``: read every row again)."""
        with store_errors(self.name):
            return list(self.index.refresh(full=full, progress=progress))

    def reindex(self, rows: Rows) -> None:
        """Re-read rows this operation changed and replace their index entries (a rectified
        address is found by its new value; an erased row no longer proposed)."""
        tables = self.tables()
        with self.engine.connect() as conn:
            for spec in self.config.tables:
                if not spec.match or not rows.get(spec.name):
                    continue
                self.index.reread(conn, tables[spec.name], [r[spec.key] for r in rows[spec.name]])

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

    def purge(self, job: PurgeJob) -> PurgeReport:
        """Delete or anonymise what the job's rule says has aged out, in chunks, skipping the
        held."""
        return purge(self, replace(job, now=naive_utc(job.now)))

    def oldest_held(self, rule: RetentionRule, *, held: Identity) -> datetime | None:
        """The oldest record a sweep of ``rule`` could still take (``dsr report retention``)."""
        return oldest(self, rule, held=held)

    def purged_in(self, run_id: str) -> dict[str, int]:
        with store_errors(self.name):
            return purge_log.purged(self.engine, run_id, self.config.own_schema)

    def forget_run(self, run_id: str) -> None:
        with store_errors(self.name):
            purge_log.forget(self.engine, run_id, self.config.own_schema)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

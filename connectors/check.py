"""``dsr connectors check``: does each configured SQL store fit its live database?

Read-only (``connectors.readonly``). Each entry is read by the connector's own model
(``SqlConfig``: an entry it refuses is a problem). Per configured table: the table and every
column it names exist; the key is unique (a unique index or primary key, else a probe for one
duplicate); how the engine will read rows by key, by parent and by ``changed_at``
(``connectors.plans``); whether the account holds the privileges the entry asks for
(``connectors.privileges``); how the match columns spell their identifiers and whether
matching reads every spelling (``connectors.spellings``). The tables the system keeps in the
store (the sweep's purge log, the suppression list) are listed. A *problem* means the entry
does not fit (the command exits 1); a *warning* is worth a look (a scan an index would avoid,
values matching cannot read). No output names a stored value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from connectors import purge_log
from connectors.discover_schema import type_class
from connectors.plans import Lookup, Query, explain
from connectors.privileges import granted
from connectors.readonly import connected, open_read_only, reason, sqlite_path
from connectors.sampling import sample as sample_rows
from connectors.spellings import Survey, survey
from connectors.sql_config import SqlConfig, TableSpec, parse_entry
from dsr import objects
from dsr.errors import ConfigError, DsrError, InvalidInput

FILES_CHECKED = 100  # file names per table looked up under the configured root
OWN_PREFIX = "dsr_"  # what this system names the tables it keeps (purge log, identifier index)
_ERASE_PRIVILEGE = {"delete": "DELETE", "anonymise": "UPDATE", "keep": None}


def needed_privileges(spec: TableSpec) -> dict[str, str]:
    """Each privilege a table's configuration needs, and what needs it."""
    needed = {"SELECT": "find and export"}
    if spec.rectifiable:
        needed["UPDATE"] = "rectifiable"
    erase = _ERASE_PRIVILEGE[spec.erase.mode]
    if erase:
        needed.setdefault(erase, f"erase mode {spec.erase.mode}")
    return needed


@dataclass
class TableCheck:
    """What was found for one configured table."""

    name: str
    exists: bool = True
    missing_columns: list[str] = field(default_factory=list)
    key: str = ""
    key_unique: bool | None = None  # None: not probed (table missing, or a child's parent key)
    key_basis: str = ""
    lookups: list[Lookup] = field(default_factory=list)
    privileges: dict[str, Any] = field(default_factory=dict)
    spellings: dict[str, Survey] = field(default_factory=dict)

    @property
    def columns_ok(self) -> bool:
        return self.exists and not self.missing_columns

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "exists": self.exists,
            "columns_ok": self.columns_ok,
            "missing_columns": self.missing_columns,
            "key": self.key,
            "key_unique": self.key_unique,
            "key_basis": self.key_basis,
            "lookups": [lk.to_json() for lk in self.lookups],
            "privileges": self.privileges,
            "spellings": {k: s.to_json() for k, s in self.spellings.items()},
        }


@dataclass
class StoreCheck:
    """One connector's findings; ``ok`` when nothing in it is a problem."""

    name: str
    kind: str
    backend: str | None = None
    skipped: str | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tables: list[TableCheck] = field(default_factory=list)
    own_tables: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "backend": self.backend,
            "ok": self.ok,
            "skipped": self.skipped,
            "problems": self.problems,
            "warnings": self.warnings,
            "tables": [t.to_json() for t in self.tables],
            "own_tables": self.own_tables,
        }


@dataclass
class CheckReport:
    """Every connector checked."""

    connectors: list[StoreCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.connectors)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "connectors": [c.to_json() for c in self.connectors]}


def check_entries(
    entries: Sequence[Mapping[str, Any]],
    *,
    region: str,
    only: str | None = None,
    sample: int = 1000,
) -> CheckReport:
    """Check every entry of a connectors file (or the one named ``only``)."""
    chosen = [e for e in entries if only is None or e.get("name") == only]
    if not chosen:
        raise InvalidInput(f"no connector named {only!r} in the connectors file")
    return CheckReport([check_entry(e, region=region, sample=sample) for e in chosen])


def check_entry(entry: Mapping[str, Any], *, region: str, sample: int = 1000) -> StoreCheck:
    """Check one connectors.yaml entry against its live database (non-SQL ones are skipped)."""
    name, kind = str(entry.get("name", "?")), str(entry.get("kind", "?"))
    result = StoreCheck(name, kind)
    if kind != "sql":
        result.skipped = f"kind {kind}: not a SQL store, not checked"
        return result
    try:  # validated as the connector itself validates it at start
        config = parse_entry(SqlConfig, entry)
        engine = open_read_only(config.url)
    except (ConfigError, InvalidInput) as err:
        result.problems.append(str(err))
        return result
    result.backend = engine.dialect.name
    try:
        with connected(engine, config.url) as conn:
            _Checker(conn, config, result, region=region, sample=sample).run()
    except DsrError as err:
        result.problems.append(str(err))
    except sa_exc.SQLAlchemyError as err:
        result.problems.append(f"the store could not be read ({reason(err)})")
    finally:
        engine.dispose()
    return result


class _Checker:
    """One store's checks on one read-only connection."""

    def __init__(
        self,
        conn: sa.Connection,
        config: SqlConfig,
        result: StoreCheck,
        *,
        region: str,
        sample: int,
    ) -> None:
        self.conn, self.config, self.result = conn, config, result
        self.region, self.sample = region, sample
        self.backend = conn.dialect.name if conn.dialect.name != "mariadb" else "mysql"
        self.inspector = sa.inspect(conn)
        self.existing = set(self.inspector.get_table_names())
        self.sqlite_file = sqlite_path(config.url)

    def problem(self, text: str) -> None:
        self.result.problems.append(text)

    def run(self) -> None:
        for spec in self.config.tables:
            self.result.tables.append(self.table(spec))
        self.own_tables()

    def table(self, spec: TableSpec) -> TableCheck:
        found = TableCheck(spec.name, key=spec.key)
        if spec.name not in self.existing:
            found.exists = False
            self.problem(f"{spec.name}: no such table")
            return found
        columns = {c["name"]: c for c in self.inspector.get_columns(spec.name)}
        found.missing_columns = sorted(spec.columns() - set(columns))
        for column in found.missing_columns:
            self.problem(f"{spec.name}: no column {column}")
        for step in (self.key, self.lookups, self.privileges, self.spellings, self.files):
            try:
                step(spec, found, columns)
            except sa_exc.SQLAlchemyError as err:
                self.conn.rollback()
                self.problem(f"{spec.name}: {step.__name__} could not be checked ({reason(err)})")
        return found

    def key(self, spec: TableSpec, found: TableCheck, columns: dict[str, Any]) -> None:
        if spec.key not in columns:
            return
        if spec.parent is not None and spec.parent.column == spec.key:
            found.key_basis = "child table keyed by its parent column: exempt"
            return
        pk = self.inspector.get_pk_constraint(spec.name).get("constrained_columns") or []
        unique = [
            tuple(u["column_names"]) for u in self.inspector.get_unique_constraints(spec.name)
        ]
        unique += [
            tuple(c for c in i["column_names"] if c)
            for i in self.inspector.get_indexes(spec.name)
            if i.get("unique")
        ]
        if pk == [spec.key] or (spec.key,) in unique:
            found.key_unique, found.key_basis = (
                True,
                "primary key" if pk == [spec.key] else "unique index",
            )
            return
        col: sa.ColumnClause[Any] = sa.column(spec.key)
        probe = (
            sa.select(col)
            .select_from(sa.table(spec.name))
            .where(col.is_not(None))
            .group_by(col)
            .having(sa.func.count() > 1)
            .limit(1)
        )
        duplicate = self.conn.execute(probe).first() is not None
        found.key_unique = not duplicate
        found.key_basis = "probed: no unique index or primary key on it"
        if duplicate:
            self.problem(f"{spec.name}: key {spec.key} is not unique (duplicate values exist)")
        else:
            self.result.warnings.append(
                f"{spec.name}: key {spec.key} is unique today but nothing keeps it so "
                "(no primary key or unique index)"
            )

    def lookups(self, spec: TableSpec, found: TableCheck, columns: dict[str, Any]) -> None:
        indexed = self._indexed(spec.name)
        wanted: list[tuple[Query, str]] = [("key", spec.key)]
        if spec.parent is not None:
            wanted.append(("parent", spec.parent.column))
        if spec.changed_at:
            wanted.append(("changed_at", spec.changed_at))
        for query, column in wanted:
            if column not in columns:
                continue
            lookup = explain(
                self.conn, self.backend, spec.name, column, columns[column]["type"], query, indexed
            )
            self.conn.rollback()
            found.lookups.append(lookup)
            if lookup.proposal:
                self.result.warnings.append(
                    f"{spec.name}: lookup by {query} ({column}) scans the table; an index would "
                    f"serve it: {lookup.proposal}"
                )

    def _indexed(self, table: str) -> dict[str, str]:
        """Leading column of each index (and the primary key) -> the index's name."""
        out: dict[str, str] = {}
        pk = self.inspector.get_pk_constraint(table)
        if pk.get("constrained_columns"):
            out[pk["constrained_columns"][0]] = str(pk.get("name") or "PRIMARY KEY")
        for index in self.inspector.get_indexes(table):
            cols = [c for c in index.get("column_names", []) if c]
            if cols:
                out.setdefault(cols[0], str(index["name"]))
        return out

    def privileges(self, spec: TableSpec, found: TableCheck, columns: dict[str, Any]) -> None:
        needed = needed_privileges(spec)
        have = granted(self.conn, self.backend, spec.name, self.sqlite_file)
        missing = [p for p in needed if not have.get(p)]
        found.privileges = {"needed": needed, "granted": have, "missing": missing}
        for p in missing:
            self.problem(f"{spec.name}: the account lacks {p} (needed for {needed[p]})")

    def spellings(self, spec: TableSpec, found: TableCheck, columns: dict[str, Any]) -> None:
        for kind, cols in spec.match.items():
            present = [c for c in cols if c in columns]
            samples = {c: self._sample(spec, c, columns) for c in present}
            nones = {c: tuple(v) for c, v in spec.null_when.items()}
            result = survey(kind, samples, region=self.region, none_values=nones)
            found.spellings[kind] = result
            if not result.covered:
                self.result.warnings.append(f"{spec.name}: {result.summary()}")

    def _sample(self, spec: TableSpec, column: str, columns: dict[str, Any]) -> list[Any]:
        """A column's values in a sample spread over the table (along an indexed integer key)."""
        key = spec.key if spec.key in columns and spec.key in self._indexed(spec.name) else None
        if key is not None and type_class(columns[key]["type"]) != "int":
            key = None
        rows = sample_rows(self.conn, spec.name, [column], self.sample, key=key, not_null=column)
        return [row[0] for row in rows]

    def files(self, spec: TableSpec, found: TableCheck, columns: dict[str, Any]) -> None:
        if spec.file is None or spec.file.column not in columns:
            return
        column, root = spec.file.column, spec.file.root
        if objects.is_url(root):
            self.result.warnings.append(f"{spec.name}: files in a bucket are not sampled")
            return
        folder = Path(root)
        if not folder.is_dir():
            self.problem(f"{spec.name}: file root {root} is not a folder")
            return
        base = folder.resolve()
        values = self._sample(spec, column, columns)[:FILES_CHECKED]
        names = [str(v) for v in values if str(v).strip()]
        outside = [n for n in names if not (base / n).resolve().is_relative_to(base)]
        missing = [n for n in names if n not in outside and not (base / n).is_file()]
        if outside:
            self.problem(f"{spec.name}: {len(outside)} sampled file names lead outside {root}")
        if missing:
            self.result.warnings.append(
                f"{spec.name}: {len(missing)} of {len(names)} sampled files are not under {root}"
            )

    def own_tables(self) -> None:
        """The tables this system keeps inside the store: do they exist, may it use them?"""
        # (table, its schema, what it is, privileges it needs, whether the store needs it now)
        own: list[tuple[str, str | None, str, dict[str, str], bool]] = []
        schema = self.config.own_schema
        where = f" in schema {schema}" if schema else ""
        sweeps = {"SELECT": "sweeps", "INSERT": "sweeps", "DELETE": "sweeps"}
        purpose = f"the retention sweep's purge log{where} (made by the first sweep)"
        own.append((purge_log.NAME, schema, purpose, sweeps, False))
        if self.config.suppression is not None:
            needed = {
                "SELECT": "refusing erased addresses",
                "INSERT": "erase",
                "UPDATE": "dsr keys rotate-suppression",
            }
            own.append((self.config.suppression.table, None, "the suppression list", needed, True))
        known = {o[0] for o in own}
        for name in sorted(self.existing):
            if name.startswith(OWN_PREFIX) and name not in known:
                purpose = "a table of this system's (dsr_ prefix)"
                own.append((name, None, purpose, {"SELECT": "reading it"}, False))
        for name, in_schema, purpose, needed, required in own:
            entry: dict[str, Any] = {"name": name, "schema": in_schema, "purpose": purpose}
            entry["exists"] = exists = self._has_table(name, in_schema)
            self.result.own_tables.append(entry)
            if not exists:
                if required:
                    self.problem(f"{name} ({purpose}): no such table")
                continue
            have = granted(self.conn, self.backend, name, self.sqlite_file, in_schema)
            missing = [p for p in needed if not have.get(p)]
            entry["privileges"] = {"needed": needed, "granted": have, "missing": missing}
            for p in missing:
                text = f"{name}: the account lacks {p} (needed for {needed[p]})"
                (self.problem if required else self.result.warnings.append)(text)
        supp = self.config.suppression
        if (
            supp is not None
            and supp.table in self.existing
            and supp.column not in {c["name"] for c in self.inspector.get_columns(supp.table)}
        ):
            self.problem(f"{supp.table}: no column {supp.column}")

    def _has_table(self, name: str, schema: str | None) -> bool:
        if schema is None:
            return name in self.existing
        return bool(
            self.inspector.has_schema(schema) and self.inspector.has_table(name, schema=schema)
        )

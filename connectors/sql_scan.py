"""Searching a SQL store under the core's policy: the rows it admits, and the ones it does not.

Account tables (those that ``provide`` identifiers, like the CRM's customers) are searched in
rounds: rows the policy admits add identifiers, and the store is searched again with what is new
until nothing is; each round's rows are judged together with the ones still refused, so the
order rows come back in never changes a verdict. Every other top-level table is then searched
once with everything known, each row judged as it is read (an access export streams them);
child tables follow their admitted parents only. Rows the policy does not admit are reported as
candidates and never reach a statement that writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from connectors.base import Candidate, Match, Pair, Policy, Verdict
from connectors.sql_config import TableSpec
from connectors.sql_tables import Normaliser, Params, child_rows, rows_of, search_values

if TYPE_CHECKING:
    from connectors.sql import SqlStore

Row = dict[str, Any]


class Scanner:
    """One operation's search of one store, inside the caller's connection."""

    def __init__(
        self, store: SqlStore, conn: sa.Connection, policy: Policy, normalise: Normaliser
    ) -> None:
        self.store = store
        self.conn = conn
        self.policy = policy
        self.normalise = normalise
        self.tables = store.tables()
        self.searched: dict[str, set[str]] = {}  # kind -> values searched so far
        self.candidates: list[Candidate] = []
        self.parents = {t.parent.table for t in store.config.tables if t.parent is not None}

    # -- what a row is, for the policy ------------------------------------------------------

    def match(self, spec: TableSpec, row: Row) -> Match:
        """The row as the policy sees it: key, identifiers that hit it, account, provides."""
        matched = tuple(
            (kind, str(row[column]))
            for kind, column in spec.match.items()
            if row[column] is not None and str(row[column]) in self.searched.get(kind, ())
        )
        return Match(
            spec.name,
            str(row[spec.key]),
            matched,
            owner_of(spec, row),
            tuple(
                (kind, value)
                for kind, column in spec.provides.items()
                if (value := self.normalise(kind, row[column]))
            ),
        )

    def _new_values(self) -> dict[str, list[str]]:
        """Search values not searched yet (all of them on the first call); marks them searched."""
        values = search_values(
            self.policy.search, self.store.needs, self.store.region, normalise=self.normalise
        )
        fresh = {
            kind: [v for v in items if v not in self.searched.get(kind, set())]
            for kind, items in values.items()
        }
        fresh = {kind: items for kind, items in fresh.items() if items}
        for kind, items in fresh.items():
            self.searched.setdefault(kind, set()).update(items)
        return fresh

    def _all_values(self) -> dict[str, list[str]]:
        self._new_values()
        return {kind: sorted(items) for kind, items in self.searched.items() if items}

    # -- account tables: rounds until nothing new -------------------------------------------

    def accounts(self) -> dict[str, list[Row]]:
        """Admitted rows of every account table that could be searched, by table."""
        specs = [s for s in self.store.config.tables if s.parent is None and s.provides]
        admitted: dict[str, list[Row]] = {}
        seen: dict[str, set[Any]] = {s.name: set() for s in specs}
        refused: list[tuple[TableSpec, Row]] = []
        verdicts: list[Verdict] = []
        while specs and (values := self._new_values()):
            batch = list(refused)
            for spec in specs:
                select = self.tables[spec.name].match_select(values)
                if select is None:
                    continue
                admitted.setdefault(spec.name, [])
                for row in rows_of(self.conn.execute(*select)):
                    if row[spec.key] not in seen[spec.name]:
                        seen[spec.name].add(row[spec.key])
                        batch.append((spec, row))
            verdicts = self.policy.decide([self.match(spec, row) for spec, row in batch])
            refused = []
            kept: list[Verdict] = []
            for (spec, row), verdict in zip(batch, verdicts, strict=True):
                if verdict is Verdict.ADMIT:
                    admitted[spec.name].append(row)
                else:
                    refused.append((spec, row))
                    kept.append(verdict)
            verdicts = kept
        self.candidates += [
            Candidate(self.match(spec, row), verdict)
            for (spec, row), verdict in zip(refused, verdicts, strict=True)
        ]
        return admitted

    # -- other tables: one search with everything known -------------------------------------

    def top_level(
        self, spec: TableSpec, *, stream: bool = False
    ) -> Iterator[tuple[Row, Match]] | None:
        """Admitted rows of a table without ``provides`` (None: not searchable by what is
        known, so not claimed empty); each refused row becomes a candidate as it is read."""
        select = self.tables[spec.name].match_select(self._all_values())
        if select is None:
            return None
        return self._judged(spec, *select, stream)

    def _judged(
        self, spec: TableSpec, stmt: sa.Select[Any], params: Params, stream: bool
    ) -> Iterator[tuple[Row, Match]]:
        conn = self.conn.execution_options(stream_results=True, yield_per=1000) if stream else None
        for row in rows_of((conn or self.conn).execute(stmt, params)):
            match = self.match(spec, row)
            verdict = self.policy.decide([match])[0]
            if verdict is Verdict.ADMIT:
                yield row, match
            else:
                self.candidates.append(Candidate(match, verdict))

    def children(
        self, spec: TableSpec, parent_keys: list[Any], *, stream: bool = False
    ) -> Iterator[Row]:
        """Rows of a child table whose parent was admitted (they go with their parent)."""
        assert spec.parent is not None
        conn = self.conn.execution_options(stream_results=True, yield_per=1000) if stream else None
        return child_rows(conn or self.conn, self.tables[spec.name], parent_keys)

    def collect(self) -> dict[str, list[Row]]:
        """Every admitted row, by table, for the tables that were searched (rectify, erase)."""
        rows = self.accounts()
        for spec in self.store.config.tables:
            if spec.parent is None and not spec.provides:
                found = self.top_level(spec)
                if found is not None:
                    rows[spec.name] = [row for row, _ in found]
            elif spec.parent is not None and spec.parent.table in rows:
                parent = self.tables[spec.parent.table].spec
                keys = [r[parent.key] for r in rows[spec.parent.table]]
                rows[spec.name] = list(self.children(spec, keys))
        return rows

    def searched_kinds(self) -> list[str]:
        return sorted(kind for kind, items in self.searched.items() if items)


def owner_of(spec: TableSpec, row: Row) -> tuple[Pair, ...]:
    """The account identifiers a row carries (its ``match`` columns hold normalised values)."""
    owner: list[Pair] = []
    for kind in spec.owner:
        value = row[spec.match[kind]]
        if value is not None and str(value).strip():
            owner.append((kind, str(value)))
            if spec.owner_rule == "first":
                break
    return tuple(owner)

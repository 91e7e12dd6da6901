"""Searching a SQL store under the core's policy: the rows it admits, and the ones it does not.

Rows are proposed by the store's identifier index (``sql_index``), re-read by key, and judged
by what they hold now: a row none of whose values reads as a searched identifier is no hit.

Account tables (those that ``provide`` identifiers, like the CRM's customers) are searched in
rounds: rows the policy admits add identifiers, and the store is searched again with what is new
until nothing is; each round's rows are judged together with the ones still refused, so the
order rows come back in never changes a verdict. Every other top-level table is then searched
once with everything known, each row judged as it is read (an access export streams them);
child tables follow their admitted parents only. Rows the policy does not admit are reported as
candidates and never reach a statement that writes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from connectors.base import Candidate, Match, Pair, Policy, Verdict
from connectors.sql_config import TableSpec
from connectors.sql_index import keys_params
from connectors.sql_store import Store
from connectors.sql_tables import Normaliser, child_rows, column_values, rows_of, search_values
from dsr.identity import Identity

Row = dict[str, Any]
_REREAD = 1000  # proposed keys re-read per statement


class EveryRow:
    """A policy that admits every row it is shown (``find`` for read-only tools and checks,
    and a sweep's held subjects)."""

    def __init__(self, identity: Identity) -> None:
        self.search = self.trusted = identity

    def decide(self, matches: Sequence[Match]) -> list[Verdict]:
        return [Verdict.ADMIT] * len(matches)


class Scanner:
    """One operation's search of one store, inside the caller's connection."""

    def __init__(
        self,
        store: Store,
        conn: sa.Connection,
        policy: Policy,
        normalise: Normaliser,
        *,
        anonymised_too: bool = False,
    ) -> None:
        self.store = store
        self.conn = conn
        self.policy = policy
        self.normalise = normalise
        self.anonymised_too = anonymised_too  # the check after an erasure sees every row
        self.via_children: dict[tuple[str, str], set[Pair]] = {}  # (table, key) -> child hits
        self.tables = store.tables()
        self.searched: dict[str, set[str]] = {}  # kind -> values searched so far
        self.candidates: list[Candidate] = []
        self.parents = {t.parent.table for t in store.config.tables if t.parent is not None}
        # The index's proposals (table -> row keys) per set of values searched.
        self.proposed: dict[tuple[tuple[str, tuple[str, ...]], ...], dict[str, list[str]]] = {}

    @classmethod
    def everything(
        cls,
        store: Store,
        conn: sa.Connection,
        identity: Identity,
        values: dict[str, list[str]],
        normalise: Normaliser,
        *,
        anonymised_too: bool = False,
    ) -> Scanner:
        """A read-only search admitting every row that holds one of ``values`` (tools, a
        sweep's held subjects)."""
        scan = cls(store, conn, EveryRow(identity), normalise, anonymised_too=anonymised_too)
        scan.searched = {k: set(v) for k, v in values.items()}
        return scan

    # -- what a row is, for the policy ------------------------------------------------------

    def match(self, spec: TableSpec, row: Row) -> Match:
        """The row as the policy sees it: key, identifiers that hit it (its own, and its child
        rows'), account, provides."""
        key = str(row[spec.key])
        own = self._matched(spec, row)
        matched = tuple(dict.fromkeys([*own, *sorted(self.via_children.get((spec.name, key), ()))]))
        return Match(
            spec.name,
            key,
            matched,
            owner_of(spec, row, self.normalise),
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
                found = self.hits(spec, values)
                if found is None:
                    continue
                admitted.setdefault(spec.name, [])
                for row in found:
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

    def hits(self, spec: TableSpec, values: dict[str, list[str]]) -> Iterator[Row] | None:
        """The rows of a top-level table holding any of ``values``, or whose child rows with
        ``match`` columns do (None: not searchable by them), read as they are needed.

        The index proposes rows; each is re-read by key here and kept only when one of its
        values reads as a searched identifier now. A child row's hit leads to its parent, which
        is judged as the account it belongs to (an order reached by its address's phone).
        """
        children = [c for c in self.store.config.tables if c.parent and c.parent.table == spec.name]
        if not any(set(t.match) & set(values) for t in (spec, *children)):
            return None
        asked = tuple(sorted((k, tuple(v)) for k, v in values.items()))
        keys = self.proposed.get(asked)
        if keys is None:  # one index lookup serves every table of a search round
            keys = self.proposed[asked] = self.store.index.lookup(values)
        via: dict[str, list[Pair]] = {}
        for child in children:
            if set(child.match) & set(values):
                assert child.parent is not None
                for row in self._reread(child, keys.get(child.name, []), values, live_only=False):
                    parent = str(row[child.parent.column])
                    via.setdefault(parent, []).extend(self._matched(child, row))
        for key, pairs in via.items():
            self.via_children.setdefault((spec.name, key), set()).update(pairs)
        return self._own_then_via(spec, keys.get(spec.name, []) if spec.match else [], values, via)

    def _own_then_via(
        self, spec: TableSpec, keys: list[str], values: dict[str, list[str]], via: dict[str, Any]
    ) -> Iterator[Row]:
        seen: set[str] = set()
        for row in self._reread(spec, keys, values):
            seen.add(str(row[spec.key]))
            yield row
        yield from self._reread(spec, sorted(set(via) - seen), None)

    def _reread(
        self,
        spec: TableSpec,
        keys: list[str],
        values: dict[str, list[str]] | None,
        *,
        live_only: bool = True,
    ) -> Iterator[Row]:
        """Rows by key, kept when one of their values reads as one of ``values`` (None: all)."""
        bound = self.tables[spec.name]
        live = live_only and not self.anonymised_too
        for i in range(0, len(keys), _REREAD):
            stmt, params = keys_params(bound, keys[i : i + _REREAD], live_only=live)
            for row in rows_of(self.conn.execute(stmt, params)):
                if values is None or any(
                    v in values[kind]
                    for kind in spec.match
                    if kind in values
                    for v in column_values(spec, kind, row, self.normalise)
                ):
                    yield row

    def _matched(self, spec: TableSpec, row: Row) -> list[Pair]:
        return [
            (kind, value)
            for kind in spec.match
            for value in column_values(spec, kind, row, self.normalise)
            if value in self.searched.get(kind, ())
        ]

    def top_level(self, spec: TableSpec) -> Iterator[tuple[Row, Match]] | None:
        """Admitted rows of a table without ``provides`` (None: not searchable by what is
        known, so not claimed empty); each refused row becomes a candidate as it is read."""
        found = self.hits(spec, self._all_values())
        if found is None:
            return None
        return self._judged(spec, found)

    def _judged(self, spec: TableSpec, rows: Iterator[Row]) -> Iterator[tuple[Row, Match]]:
        for row in rows:
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


def owner_of(spec: TableSpec, row: Row, normalise: Normaliser) -> tuple[Pair, ...]:
    """The account identifiers a row carries, read from its ``match`` columns."""
    owner: list[Pair] = []
    for kind in spec.owner:
        values = column_values(spec, kind, row, normalise)
        owner += ((kind, value) for value in values)
        if values and spec.owner_rule == "first":
            break
    return tuple(owner)

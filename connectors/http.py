"""A store behind a JSON API, described entirely by its ``connectors.yaml`` entry.

The records are found through the API's own lookups (``find`` per identifier kind), judged by
the core's policy like every store's (``http_scan``), and exported, changed or erased by the
requests the entry names (``http_writes``), then searched again after an erasure. Nothing of the
store is copied or indexed here: the API is asked every time. It keeps no retention sweep
(``retention_tables`` is empty): a rule naming it is refused at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from connectors.base import (
    Action,
    Found,
    IdentifierChange,
    Operation,
    Outcome,
    Policy,
    PurgeJob,
    PurgeReport,
    RecordSummary,
    TaskResult,
)
from connectors.export import TableWriter, earliest
from connectors.http_client import HttpClient, Record
from connectors.http_config import HttpConfig, Resource
from connectors.http_describe import describe
from connectors.http_scan import EveryRecord, Scan, flat
from connectors.http_templates import at
from connectors.http_writes import erase, rectify, verify
from connectors.identifier_index import IdentifierIndex
from connectors.sql_config import parse_entry
from connectors.sql_tables import Normaliser, search_values
from connectors.sql_writes import prepare_changes
from dsr.errors import ConfigError, NotApplicable
from dsr.identity import Identity


def _columns(resource: Resource, records: list[Record]) -> list[str]:
    if resource.fields is not None:
        return list(resource.fields)
    return list(dict.fromkeys(k for r in records for k in r))


class HttpStore:
    """One store reached over HTTP, driven by its configuration."""

    kind = "http"

    def __init__(
        self,
        config: HttpConfig,
        *,
        secrets: Mapping[str, str] | None = None,
        region: str = "VN",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.labels = dict(config.labels)
        self.recipients: list[str] = []
        self.region = region
        self.needs = frozenset(k for r in config.resources for k in r.find)
        self.provides = frozenset(k for r in config.resources for k in r.provides)
        self.rectifiable_fields = frozenset(f for r in config.resources for f in r.rectify)
        self.shared_fields: frozenset[str] = frozenset()
        self.retention_tables: frozenset[str] = frozenset()
        self.client = HttpClient(config, secrets or {}, transport=transport)

    @classmethod
    def from_config(
        cls,
        entry: Mapping[str, Any],
        *,
        secret_key: str,
        region: str = "VN",
        index: IdentifierIndex | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> HttpStore:
        """Build from one validated ``connectors.yaml`` entry (ConfigError when invalid)."""
        return cls(parse_entry(HttpConfig, entry), secrets=secrets, region=region)

    def __repr__(self) -> str:
        return f"HttpStore({self.name!r})"

    def _scan(self, policy: Policy) -> Scan:
        normalise = Normaliser(self.region)
        if not search_values(policy.search, self.needs, self.region, normalise=normalise):
            raise NotApplicable(f"{self.name}: searches by {', '.join(sorted(self.needs))} only")
        return Scan(self.config, self.client, policy, normalise)

    def _provided(self, scan: Scan, found: Mapping[str, list[Record]]) -> Identity:
        """The identifiers the admitted records add (``provides``), normalised."""
        provided = Identity()
        for resource in self.config.resources:
            for kind, path in resource.provides.items():
                rows = found.get(resource.name, [])
                provided.add(kind, (scan.normalise(kind, at(r, path)) for r in rows))
        return provided

    def describe(self, table: str, key: str) -> RecordSummary | None:
        """One record read by key for staff review, by its resource's ``read`` request."""
        return describe(self.client, self.config, table, key, Normaliser(self.region))

    def find(self, identity: Identity, *, as_of: datetime | None = None) -> Found:
        """Every record the identifiers reach, as the API answers now (``as_of`` needs nothing:
        the API is always current)."""
        scan = self._scan(EveryRecord(identity))
        found = scan.collect()
        records: dict[str, list[dict[str, Any]]] = {}
        for resource in self.config.resources:
            if resource.name in scan.searchable:
                rows = found.get(resource.name, [])
                records[resource.name] = [flat(r, _columns(resource, rows)) for r in rows]
        return Found(records=records, provides=self._provided(scan, found))

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
        """Export (access), change (rectify) or erase the records ``policy`` admits, and
        nothing else; idempotent. An erasure then searches again (``remaining``). It is a
        series of requests, not one transaction: ``before_commit`` is not called."""
        operation = Operation(operation)
        rectifying = operation is Operation.RECTIFY
        prepared = prepare_changes(changes or {}, self.region) if rectifying else {}
        scan = self._scan(policy)
        found = scan.collect()
        searched = [r for r in self.config.resources if r.name in scan.searchable]
        outcomes: list[Outcome] = []
        replaced: list[IdentifierChange] = []
        collected: list[Any] = []
        if operation is Operation.ACCESS:
            for resource in searched:
                rows = found.get(resource.name, [])
                outcomes.append(self._export(staging, resource, rows))
                if resource.collected_at:
                    collected += [at(r, resource.collected_at) for r in rows]
        elif operation is Operation.RECTIFY:
            for resource in searched:
                done, changed = rectify(
                    self.client, resource, found.get(resource.name, []), prepared, scan.normalise
                )
                outcomes += done
                replaced += changed
        remaining = None
        if operation is Operation.ERASE:
            outcomes = erase(self.client, scan, found)
            remaining = verify(scan, policy)
        return TaskResult(
            operation,
            sum(map(len, found.values())),
            outcomes,
            self._provided(scan, found),
            collected_from=earliest(collected),
            searched=scan.searched_kinds(),
            candidates=scan.candidates,
            changes=replaced,
            remaining=remaining,
        )

    def _export(self, staging: Path, resource: Resource, records: list[Record]) -> Outcome:
        if not records:
            return Outcome(resource.name, Action.NOT_FOUND, 0)
        columns = _columns(resource, records)
        with TableWriter(staging, resource.name, columns) as writer:
            for record in records:
                writer.write(flat(record, columns))
        return Outcome(resource.name, Action.EXPORTED, writer.count)

    # -- no retention sweep ---------------------------------------------------------------------

    def purge(self, job: PurgeJob) -> PurgeReport:
        """Refused: an HTTP store is swept by the product behind it, never by rule here."""
        raise ConfigError(f"{self.name}: an HTTP store has no retention sweep ({job.rule.table})")

    def purged_in(self, run_id: str) -> dict[str, int]:
        return {}

    def forget_run(self, run_id: str) -> None:
        return None

    def close(self) -> None:
        """Close the HTTP session."""
        self.client.close()

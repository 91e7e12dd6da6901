"""One operation's search of an HTTP store, judged by the core's policy.

The search runs in rounds: each round asks the store's ``find`` requests for every identifier
not yet searched by, describes each record returned as a ``Match`` (the identifiers that
reached it, the account identifiers it carries, what it would add) and lets the policy judge
the round's records together. Admitted records add identifiers (``provides``), and the next
round searches by what is new, until nothing is: the same scope logic as every store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.base import Candidate, Match, Pair, Policy, Verdict
from connectors.http_client import HttpClient, Record
from connectors.http_config import HttpConfig, Resource
from connectors.http_templates import at
from connectors.sql_tables import Normaliser, search_values
from dsr.errors import FatalStoreError
from dsr.identity import Identity

MAX_ROUNDS = 20  # identifiers added by admitted records converge long before this


class EveryRecord:
    """A policy admitting every record it is shown (``find``, for tools and checks)."""

    def __init__(self, identity: Identity) -> None:
        self.search = self.trusted = identity

    def decide(self, matches: Sequence[Match]) -> list[Verdict]:
        return [Verdict.ADMIT] * len(matches)


def key_of(resource: Resource, record: Record) -> str | None:
    """A record's key as text (None when the record lacks one)."""
    value = at(record, resource.key)
    return None if value is None or value == "" else str(value)


def identifiers(resource: Resource, kind: str, record: Record, normalise: Normaliser) -> list[str]:
    """The normalised identifiers of ``kind`` a record holds in its ``match`` fields."""
    out: list[str] = []
    for path in resource.match.get(kind, ()):
        out += [v for v in normalise.values(kind, at(record, path)) if v not in out]
    return out


def flat(record: Record, fields: Sequence[str]) -> dict[str, Any]:
    """A record's exported fields, one level deep (nested values as JSON text)."""
    out: dict[str, Any] = {}
    for name in fields:
        value = at(record, name)
        is_plain = value is None or isinstance(value, (str, int, float, bool))
        out[name] = value if is_plain else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return out


@dataclass
class Scan:
    """What one operation's search found: admitted records by resource, and candidates."""

    config: HttpConfig
    client: HttpClient
    policy: Policy
    normalise: Normaliser
    records: dict[str, dict[str, Record]] = field(default_factory=dict)  # admitted
    matches: dict[tuple[str, str], Match] = field(default_factory=dict)
    refused: dict[tuple[str, str], Candidate] = field(default_factory=dict)
    searched: dict[str, set[str]] = field(default_factory=dict)
    searchable: set[str] = field(default_factory=set)  # resources asked at least once
    seen: dict[tuple[str, str], tuple[Resource, Record]] = field(default_factory=dict)
    left: set[tuple[str, str]] = field(default_factory=set)  # admitted, not erased (holds)

    @property
    def candidates(self) -> list[Candidate]:
        return list(self.refused.values())

    def searched_kinds(self) -> list[str]:
        return sorted(k for k, v in self.searched.items() if v)

    def match(self, resource: Resource, record: Record, hits: set[Pair]) -> Match:
        owner: list[Pair] = []
        for kind in resource.owner:
            owner += [(kind, v) for v in identifiers(resource, kind, record, self.normalise)]
        provides: list[Pair] = []
        for added, path in resource.provides.items():
            provides += [(added, v) for v in self.normalise.values(added, at(record, path))]
        return Match(
            resource.name,
            key_of(resource, record) or "",
            tuple(sorted(hits)),
            tuple(dict.fromkeys(owner)),
            tuple(dict.fromkeys(provides)),
        )

    def _new_values(self) -> dict[str, list[str]]:
        kinds = {k for r in self.config.resources for k in r.find}
        values = search_values(
            self.policy.search, kinds, self.normalise.region, normalise=self.normalise
        )
        return {
            kind: new
            for kind, found in values.items()
            if (new := [v for v in found if v not in self.searched.get(kind, set())])
        }

    def _round(self, values: dict[str, list[str]]) -> bool:
        """Search by ``values``, judge what came back; whether any record was returned."""
        hits: dict[tuple[str, str], set[Pair]] = {}
        found: dict[tuple[str, str], tuple[Resource, Record]] = {}
        for resource in self.config.resources:
            for kind, calls in resource.find.items():
                for value in values.get(kind, ()):
                    self.searchable.add(resource.name)
                    for call in calls:
                        for record in self.client.records(call, {"value": value}):
                            key = key_of(resource, record)
                            if key is None:  # a record we cannot name, we cannot act on
                                raise FatalStoreError(
                                    f"{self.config.name}: a {resource.name} record has no "
                                    f"key at {resource.key!r}"
                                )
                            if call.exact and value not in identifiers(
                                resource, kind, record, self.normalise
                            ):
                                continue  # the API read the value as a pattern
                            ref = (resource.name, key)
                            found[ref] = (resource, record)
                            hits.setdefault(ref, set()).add((kind, value))
        for kind, vs in values.items():
            self.searched.setdefault(kind, set()).update(vs)
        self.seen.update(found)
        # Records refused earlier are judged again: what this round admitted may make them the
        # subject's (their account's address is now trusted).
        pending = [r for r in found if r[1] not in self.records.get(r[0], {})]
        pending += [r for r in self.refused if r not in found]
        batch = []
        for ref in pending:
            resource, record = self.seen[ref]
            earlier = self.matches.get(ref)
            reached = hits.get(ref, set()) | set(earlier.matched if earlier else ())
            batch.append(self.match(resource, record, reached))
            self.matches[ref] = batch[-1]
        for match, verdict in zip(batch, self.policy.decide(batch), strict=True):
            ref = (match.table, match.key)
            if verdict is Verdict.ADMIT:
                self.records.setdefault(match.table, {})[match.key] = self.seen[ref][1]
                self.refused.pop(ref, None)
            else:
                self.refused[ref] = Candidate(match, verdict)
        return bool(found)

    def collect(self) -> dict[str, list[Record]]:
        """Search until no admitted record adds an identifier; the admitted records."""
        for _ in range(MAX_ROUNDS):
            values = self._new_values()
            if not values:
                break
            self._round(values)
        return {name: list(found.values()) for name, found in self.records.items()}

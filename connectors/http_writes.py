"""What a rectify and an erasure send to an HTTP store, and the check after an erasure.

Every request is idempotent as configured: a delete answered "not found" (``none``) was done by
an earlier attempt, a suppression answered "already there" (``done``) too, so a task retried
after the store failed half-way finishes the work without doing anything twice. Requests are
sent in the configured order (a ban before the delete that would take the list it names).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from connectors.base import (
    Action,
    IdentifierChange,
    Outcome,
    Pair,
    Policy,
    Remaining,
    Why,
    after_erasure,
    current_value,
)
from connectors.http_client import DONE, NONE, HttpClient, Record
from connectors.http_config import Resource
from connectors.http_scan import Scan, identifiers, key_of
from connectors.http_templates import at
from connectors.sql_tables import Normaliser
from dsr.identity import EMAIL, PHONE

SUPPRESSED_REASON = "the address is on the store's ban list, so it is never subscribed again"
KEPT_REASON = "kept as configured: holds nothing erasable"
HOLDS_REASON = "left for review: erasing it would also remove records not proven the subject's"


def _values(resource: Resource, record: Record, **extra: Any) -> dict[str, Any]:
    return {**record, "key": key_of(resource, record), **extra}


def rectify(
    client: HttpClient,
    resource: Resource,
    records: list[Record],
    changes: Mapping[str, str],
    normalise: Normaliser,
) -> tuple[list[Outcome], list[IdentifierChange]]:
    """Send the configured requests for every record holding an old value of a changed field."""
    fields = {f: spec for f, spec in resource.rectify.items() if f in changes}
    if not records:
        return [Outcome(resource.name, Action.NOT_FOUND, 0)], []
    if not fields:
        return [Outcome(resource.name, Action.UNCHANGED, len(records))], []
    updated, changed = 0, set()
    replaced: list[IdentifierChange] = []
    for record in records:
        stale = False
        for name, spec in fields.items():
            old = at(record, spec.field)
            if current_value(name, old, normalise.region) == changes[name]:
                continue
            stale = True
            changed.add(name)
            values = _values(resource, record, new=changes[name], old=old)
            for call in spec.calls:
                client.send(call, values)
            if name in (EMAIL, PHONE) and name in resource.match:
                replaced += _identifier_changes(resource, record, name, changes, normalise)
        updated += stale
    outcomes = []
    if updated:
        outcomes.append(Outcome(resource.name, Action.UPDATED, updated, fields=sorted(changed)))
    if len(records) > updated:
        outcomes.append(Outcome(resource.name, Action.UNCHANGED, len(records) - updated))
    return outcomes, replaced


def _identifier_changes(
    resource: Resource,
    record: Record,
    kind: str,
    changes: Mapping[str, str],
    normalise: Normaliser,
) -> list[IdentifierChange]:
    account: list[Pair] = []
    for owner in resource.owner:
        for value in identifiers(resource, owner, record, normalise):
            account.append((owner, changes[owner] if owner in resource.rectify else value))
    key = key_of(resource, record) or ""
    return [
        IdentifierChange(
            resource.name, key, kind, old, changes[kind], tuple(dict.fromkeys(account))
        )
        for old in identifiers(resource, kind, record, normalise)
        if old != changes[kind]
    ]


def holds_refused(scan: Scan, resource: Resource, record: Record) -> bool:
    """Whether erasing ``record`` would take with it a record the policy did not admit."""
    for held in resource.holds:
        mine = at(record, held.value)
        for table, key in scan.refused:
            if table == held.resource and at(scan.seen[(table, key)][1], held.field) == mine:
                return True
    return False


def erase(client: HttpClient, scan: Scan, records: Mapping[str, list[Record]]) -> list[Outcome]:
    """Suppress, then delete (or keep) every admitted record, resource by resource; a record
    that would take a refused one with it is left (``scan.left``) for review."""
    outcomes: list[Outcome] = []
    suppressed: Counter[str] = Counter()
    for resource in scan.config.resources:
        if resource.name not in scan.searchable:
            continue
        found = records.get(resource.name, [])
        if not found:
            outcomes.append(Outcome(resource.name, Action.NOT_FOUND, 0))
            continue
        if resource.keep:
            outcomes.append(Outcome(resource.name, Action.RETAINED, len(found), reason=KEPT_REASON))
            continue
        left = [r for r in found if holds_refused(scan, resource, r)]
        scan.left |= {(resource.name, key_of(resource, r) or "") for r in left}
        if left:
            outcomes.append(Outcome(resource.name, Action.RETAINED, len(left), reason=HOLDS_REASON))
            found = [r for r in found if r not in left]
            if not found:
                continue
        for record in found:
            values = _values(resource, record)
            for call in resource.suppress:
                if client.send(call, values) not in (NONE, DONE):
                    suppressed[resource.suppress_as] += 1
            for call in resource.erase:
                client.send(call, values)
        outcomes.append(Outcome(resource.name, Action.ERASED, len(found)))
    outcomes += [
        Outcome(name, Action.RETAINED, n, reason=SUPPRESSED_REASON)
        for name, n in suppressed.items()
    ]
    return outcomes


def verify(scan: Scan, policy: Policy) -> list[Remaining]:
    """The same search again after an erasure: what it still reaches, and why."""
    again = Scan(scan.config, scan.client, policy, scan.normalise, left=scan.left)
    rows = again.collect()
    counts: Counter[tuple[str, Why]] = Counter()
    kept = {r.name for r in scan.config.resources if r.keep}
    by_name = {r.name: r for r in scan.config.resources}
    for name, found in rows.items():
        for record in found:
            if name in kept:
                why = Why.KEPT
            elif (name, key_of(by_name[name], record) or "") in scan.left:
                why = Why.REVIEW
            else:
                why = Why.NOT_ERASED
            counts[(name, why)] += 1
    return after_erasure(scan.config.name, counts, again.candidates)

"""Identity assurance in the pipeline: the policy a connector task runs under, and what its
result teaches the ledger (derived identifiers, candidates, identity history, deferrals).

A task's policy is built from the ledger when the task runs: what is trusted (verified, derived,
former), what was only asserted, the identifiers contested by another account's records found
earlier, and the staff decisions on this store's candidates.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from connectors.base import Action, TaskResult
from dsr.core.identity import artefacts, candidates, deferrals, history, identifiers
from dsr.core.identity.scope import Scope
from dsr.core.ledger import audit
from dsr.core.ledger.models import ConnectorTask, Provenance, Request
from dsr.core.runtime.process import Runtime
from dsr.identity import EMAIL


def policy(session: Session, request: Request, connector: str) -> Scope:
    """The scope policy for one connector task of ``request``."""
    rows = identifiers.of(session, request.id)
    found = candidates.of(session, request.id)
    included, excluded = candidates.decisions(found, connector)
    verified = identifiers.as_identity(rows, (Provenance.VERIFIED,)).get(EMAIL)
    # An open order an earlier erasure of this subject deferred is still theirs, even once the
    # account it hung on is gone: a second erasure defers it again instead of asking staff.
    earlier = deferrals.proven(session, connector, verified) - excluded
    return Scope(
        identifiers.trusted(rows),
        identifiers.asserted(rows),
        former=identifiers.as_identity(rows, (Provenance.FORMER,)),
        contested=candidates.contested(found, rows),
        included=included | earlier,
        excluded=excluded,
    )


def learn(
    session: Session,
    rt: Runtime,
    request: Request,
    connector: str,
    scope: Scope,
    result: TaskResult,
) -> None:
    """Record what a finished task found: derived identifiers (from admitted records only),
    candidates, replaced identifiers (history), deferred records; then former identifiers."""
    secret = rt.settings.keys.suppression
    identifiers.add_identity(
        session, secret, request.id, scope.derived, Provenance.DERIVED, source=connector
    )
    candidates.record(session, secret, request.id, connector, result.candidates, scope.trusted)
    if result.changes:
        history.record(session, request.id, connector, result.changes)
    if result.deferred:
        deferrals.record(session, request.id, connector, result.deferred, result.outcomes)
    expand_former(session, rt, request.id)


def expand_former(session: Session, rt: Runtime, request_id: str) -> int:
    """Add the former identifiers of the accounts the request trusts (identity history)."""
    rows = identifiers.of(session, request_id)
    pairs = history.former(session, identifiers.trusted(rows))
    return identifiers.add(
        session,
        rt.settings.keys.suppression,
        request_id,
        sorted(pairs),
        Provenance.FORMER,
        "history",
    )


def complete_erasure(session: Session, rt: Runtime, request: Request) -> int:
    """What an erasure removes besides the stores' records: the subject's earlier exports
    (files deleted, links revoked), their identity history, and the identifiers the ledger
    derived for them (values forgotten; hash and mask kept). Earlier exports removed."""
    rows = identifiers.of(session, request.id)
    trusted = identifiers.trusted(rows)
    pairs = {(kind, value) for kind, values in trusted.values.items() for value in values}
    emails = trusted.get(EMAIL)
    removed = artefacts.revoke_earlier(session, rt.settings, request, emails)
    erased = history.erase(session, pairs)
    earlier = artefacts.earlier_requests(session, request, emails)
    forgotten = identifiers.erase_values(session, [request.id, *earlier], pairs)
    audit.record(
        session,
        actor="system",
        action="identity_history_erased",
        request_id=request.id,
        history=erased,
        identifiers=forgotten,
        exports_removed=removed,
    )
    return removed


# -- a task run again (retry, review, an attempt killed) ------------------------------------------

ATTEMPT = "attempt"  # an erasure's result, kept just before its store committed it


def keep_attempt(
    session: Session, rt: Runtime, task: ConnectorTask, scope: Scope, about_to: TaskResult
) -> None:
    """An erasure is about to commit in its store: keep what it erased, and the identifiers its
    records add, in the ledger first. A worker killed after the store's commit, before its
    own, leaves the records gone: the task run again finds nothing, and without this would
    certify "not found" and search the next stores without the customer id that led to them.
    """
    earlier = settle_attempt(task.result, about_to, run=task.attempts)  # a killed one's
    task.result = {**(earlier or {}), ATTEMPT: {**about_to.to_json(), "run": task.attempts}}
    session.add(task)
    identifiers.add_identity(
        session,
        rt.settings.keys.suppression,
        task.request_id,
        scope.derived,
        Provenance.DERIVED,
        source=task.connector,
    )


_ACTED = (Action.ERASED.value, Action.ANONYMISED.value)


def settle_attempt(
    previous: dict[str, Any] | None, fresh: TaskResult, *, run: int
) -> dict[str, Any] | None:
    """The task's earlier result with a kept attempt settled by a later run (``fresh``, about
    to commit or finished; ``run`` its number). The attempt counts as an earlier run only if it
    erased or anonymised something and the later run finds nothing left to: then its store
    committed and those records are gone. Otherwise it is dropped: it never committed (the
    later run does its work), it had nothing to remember, or it is the later run's own."""
    if not previous or ATTEMPT not in previous:
        return previous
    rest = {k: v for k, v in previous.items() if k != ATTEMPT}
    kept = previous[ATTEMPT]
    outcomes = kept.get("outcomes") or []
    erased = any(o["action"] in _ACTED and o.get("count") for o in outcomes)
    again = any(o.action.value in _ACTED and o.count for o in fresh.outcomes)
    if kept.get("run") == run or not erased or again:
        return rest or None
    # What it deferred is still in the store, found again by the later run: counted there.
    deferred = sum(int(o.get("count") or 0) for o in outcomes if o["action"] == "deferred")
    done = {k: v for k, v in kept.items() if k != "run"}
    done["records"] = int(kept.get("records") or 0) - deferred
    return {**rest, "prior": [*(rest.get("prior") or []), done]}


def stash(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a task being reset keeps of its finished run(s) (and of a kept attempt), to merge
    with the next one."""
    if not result:
        return None
    runs = list(result.get("prior") or [])
    if "outcomes" in result:
        runs.append({k: v for k, v in result.items() if k not in ("prior", ATTEMPT)})
    kept = {"prior": runs} if runs else {}
    if ATTEMPT in result:
        kept[ATTEMPT] = result[ATTEMPT]
    return kept or None


def merge(kind: str, previous: dict[str, Any] | None, result: dict[str, Any]) -> dict[str, Any]:
    """One result for a task that ran more than once.

    An access re-export holds everything again. A later erasure run no longer finds what an
    earlier one erased or anonymised, so counts add up (what is deferred is what the last run
    still defers). A later rectify run finds everything again, the earlier updates as already
    current: its outcomes stand, with the earlier updates added to them.
    """
    runs = list((previous or {}).get("prior") or [])
    if kind == "access" or not runs:
        return result
    last = [dict(o) for o in result.get("outcomes") or []]
    if kind == "rectify":
        earlier = [o for run in runs for o in run.get("outcomes") or [] if o["action"] == "updated"]
        outcomes = _added(last, earlier)
        updated = {o["table"] for o in outcomes if o["action"] == "updated"}
        outcomes = [
            o for o in outcomes if not (o["action"] == "unchanged" and o["table"] in updated)
        ]
        records = int(result.get("records") or 0)
    else:
        earlier = [
            o for run in runs for o in run.get("outcomes") or [] if o["action"] != "deferred"
        ]
        outcomes = _added(last, earlier)
        acted = {o["table"] for o in outcomes if o["action"] != "not_found" and o.get("count")}
        outcomes = [o for o in outcomes if not (o["action"] == "not_found" and o["table"] in acted)]
        records = sum(int(r.get("records") or 0) for r in [*runs, result])
    searched = set(result.get("searched") or [])
    shared: list[dict[str, Any]] = []
    for run in [*runs, result]:
        searched |= set(run.get("searched") or [])
        # What each run changed went to its recipients: every run's records are told of.
        shared += [s for s in run.get("shared") or [] if s not in shared]
    return {
        **result,
        "records": records,
        "outcomes": outcomes,
        "searched": sorted(searched),
        "shared": shared,
    }


def _added(outcomes: list[dict[str, Any]], more: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``outcomes`` with ``more`` added in: counts summed per (table, action)."""
    out = [dict(o) for o in outcomes]
    for extra in more:
        same = next(
            (o for o in out if (o["table"], o["action"]) == (extra["table"], extra["action"])), None
        )
        if same is None:
            out.append(dict(extra))
            continue
        same["count"] = int(same.get("count") or 0) + int(extra.get("count") or 0)
        same["fields"] = sorted(set(same.get("fields") or []) | set(extra.get("fields") or []))
        for name in ("legal_basis", "reason"):
            same[name] = same.get(name) or extra.get(name)
        ends = [v for v in (same.get("retained_until"), extra.get("retained_until")) if v]
        same["retained_until"] = max(ends) if ends else None
    return out

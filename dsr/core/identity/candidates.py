"""Candidates: records a search hit that the scope policy did not admit, and staff decisions.

A candidate is named by its reference ``connector:table:key`` (``crm:customers:17``), which is
what ``dsr review --include/--exclude`` takes. It holds the identifiers that hit it only as keyed
hashes and masked values. A decided candidate keeps its decision when the store runs again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from connectors.base import Candidate, Pair, Verdict
from dsr.core.identity.identifiers import value_hash
from dsr.core.identity.masking import mask
from dsr.core.ledger.models import CandidateDecision, RequestCandidate, RequestIdentifier, utcnow
from dsr.errors import InvalidInput
from dsr.identity import Identity

# Why a candidate was not acted on, as staff read it (the reply words it for the subject).
EXPLANATIONS = {
    Verdict.UNPROVEN: "hit only by identifiers the requester gave but did not prove",
    Verdict.OTHER_ACCOUNT: "belongs to another account (none of its customer ids or e-mails "
    "is the subject's)",
    Verdict.SHARED_IDENTIFIER: "has no account of its own and was hit only by an identifier "
    "another account also holds",
    Verdict.EXCLUDED: "excluded by staff",
}


def ref(connector: str, table: str, key: str) -> str:
    return f"{connector}:{table}:{key}"


def ref_of(row: RequestCandidate) -> str:
    return ref(row.connector, row.table_name, row.record_key)


def of(session: Session, request_id: str) -> list[RequestCandidate]:
    return list(
        session.exec(
            select(RequestCandidate)
            .where(RequestCandidate.request_id == request_id)
            .order_by(col(RequestCandidate.id))
        )
    )


def pending(rows: Iterable[RequestCandidate]) -> list[RequestCandidate]:
    return [r for r in rows if r.decision is None]


def record(
    session: Session,
    secret: str,
    request_id: str,
    connector: str,
    found: Sequence[Candidate],
    trusted: Identity,
) -> int:
    """Replace the connector's undecided candidates with what its latest run reported; how
    many are undecided now. Decided candidates stay as staff left them."""
    session.execute(
        delete(RequestCandidate).where(
            col(RequestCandidate.request_id) == request_id,
            col(RequestCandidate.connector) == connector,
            col(RequestCandidate.decision).is_(None),
        )
    )
    decided = {
        (r.table_name, r.record_key)
        for r in session.exec(
            select(RequestCandidate).where(
                RequestCandidate.request_id == request_id,
                RequestCandidate.connector == connector,
            )
        )
    }
    now = utcnow()
    count = 0
    for candidate in found:
        match = candidate.match
        if (match.table, match.key) in decided or candidate.verdict is Verdict.ADMIT:
            continue
        decided.add((match.table, match.key))
        session.add(
            RequestCandidate(
                request_id=request_id,
                connector=connector,
                table_name=match.table,
                record_key=match.key[:200],
                reason=candidate.verdict.value,
                matched=[
                    {"kind": k, "hash": value_hash(secret, k, v), "masked": mask(k, v)}
                    for k, v in match.matched
                ],
                trusted_match=any(v in trusted.get(k) for k, v in match.matched),
                created_at=now,
            )
        )
        count += 1
    return count


def contested(
    rows: Iterable[RequestCandidate], identifiers: Iterable[RequestIdentifier]
) -> frozenset[Pair]:
    """Identifiers that hit a record of another account (not included by staff): a record
    with no account of its own, hit only by these, may be that other account's."""
    hashes = {
        m["hash"]
        for r in rows
        if r.decision != CandidateDecision.INCLUDED
        and (r.reason == Verdict.OTHER_ACCOUNT or r.decision == CandidateDecision.EXCLUDED)
        for m in r.matched
    }
    return frozenset(
        (i.kind, i.value) for i in identifiers if i.value is not None and i.value_hash in hashes
    )


def decisions(
    rows: Iterable[RequestCandidate], connector: str
) -> tuple[frozenset[tuple[str, str]], frozenset[tuple[str, str]]]:
    """(included, excluded) records of one connector, as (table, key)."""
    included: set[tuple[str, str]] = set()
    excluded: set[tuple[str, str]] = set()
    for r in rows:
        if r.connector != connector or r.decision is None:
            continue
        target = included if r.decision == CandidateDecision.INCLUDED else excluded
        target.add((r.table_name, r.record_key))
    return frozenset(included), frozenset(excluded)


def decide(
    rows: Sequence[RequestCandidate],
    *,
    include: Sequence[str],
    exclude: Sequence[str],
    exclude_all: bool,
    by: str,
) -> tuple[list[RequestCandidate], list[RequestCandidate]]:
    """Apply a staff decision to the undecided candidates; (included, excluded).

    Every undecided candidate must be named, unless ``exclude_all`` excludes the rest.
    """
    open_ = {ref_of(r): r for r in pending(rows)}
    unknown = [x for x in [*include, *exclude] if x not in open_]
    if unknown:
        raise InvalidInput(f"no undecided candidate {unknown[0]!r} on this request")
    both = set(include) & set(exclude)
    if both:
        raise InvalidInput(f"candidate {sorted(both)[0]!r} is both included and excluded")
    left = [x for x in open_ if x not in include and x not in exclude]
    if left and not exclude_all:
        raise InvalidInput(
            f"{len(left)} candidate(s) left undecided: include or exclude each, or exclude all",
            "include",
            "exclude",
            "exclude_all",
        )
    now = utcnow()
    included: list[RequestCandidate] = []
    excluded: list[RequestCandidate] = []
    for name, row in open_.items():
        row.decision = CandidateDecision.INCLUDED if name in include else CandidateDecision.EXCLUDED
        row.decided_by, row.decided_at = by[:120], now
        (included if name in include else excluded).append(row)
    return included, excluded


def view(rows: Iterable[RequestCandidate]) -> list[dict[str, Any]]:
    """What ``--json`` and the staff page show for each candidate."""
    return [
        {
            "ref": ref_of(r),
            "store": r.connector,
            "table": r.table_name,
            "key": r.record_key,
            "matched": [{"kind": m["kind"], "value": m["masked"]} for m in r.matched],
            "reason": r.reason,
            "why": EXPLANATIONS.get(Verdict(r.reason), r.reason),
            "decision": r.decision,
            "decided_by": r.decided_by,
            "blocks_reply": r.trusted_match,
        }
        for r in rows
    ]

"""What staff see of an undecided candidate so that they can decide whose it is.

Each record is read again from its store by key (``connectors.base.Describes``), read only,
when ops open the review: its name, which of its identifiers hit the search, its other
identifiers, the account's creation and last activity. Every value is masked here, before it
leaves the core; nothing is kept in the ledger or logged. No ledger transaction is open while
the stores are read (the caller reads the rows first and audits after).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from connectors.base import Connector, Describes, RecordSummary
from dsr.core.identity.candidates import ref_of
from dsr.core.identity.identifiers import value_hash
from dsr.core.identity.masking import mask, mask_name
from dsr.core.ledger.models import RequestCandidate
from dsr.errors import RetriableStoreError, StoreError

MAX_READS = 50  # records read per opening of a review: a page, not a bulk export


class Detail(StrEnum):
    """How far a candidate could be described."""

    SHOWN = "shown"
    GONE = "gone"  # the record is no longer in the store
    UNAVAILABLE = "unavailable"  # the store cannot read one record by key
    UNREACHABLE = "unreachable"  # the store did not answer now (try again later)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # stores keep naive UTC
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _read(store: Connector | None, row: RequestCandidate) -> tuple[Detail, RecordSummary | None]:
    if not isinstance(store, Describes):
        return Detail.UNAVAILABLE, None
    try:
        found = store.describe(row.table_name, row.record_key)
    except RetriableStoreError:
        return Detail.UNREACHABLE, None
    except StoreError:  # its schema or configuration refuses: nothing to show from it
        return Detail.UNAVAILABLE, None
    if found is None:
        return Detail.UNAVAILABLE, None
    return (Detail.SHOWN, found) if found.present else (Detail.GONE, None)


def _shape(row: RequestCandidate, detail: Detail, found: RecordSummary | None, secret: str) -> Any:
    hit = {m["hash"] for m in row.matched}
    others = []
    if found is not None:
        others = [
            {"kind": kind, "value": mask(kind, value)}
            for kind, value in found.identifiers
            if value_hash(secret, kind, value) not in hit
        ]
    return {
        "ref": ref_of(row),
        "detail": detail.value,
        "name": mask_name(found.name) if found is not None and found.name else None,
        "matched": [{"kind": m["kind"], "value": m["masked"]} for m in row.matched],
        "others": others,
        "created_at": _iso(found.created_at) if found else None,
        "last_activity_at": _iso(found.last_activity_at) if found else None,
        "updated_at": _iso(found.updated_at) if found else None,
    }


def describe(
    connectors: Mapping[str, Connector], rows: Sequence[RequestCandidate], secret: str
) -> list[dict[str, Any]]:
    """The undecided candidates among ``rows`` (at most ``MAX_READS``), each read from its
    store and masked; ``secret`` is the key the candidates' hashes were made with."""
    out = []
    for row in [r for r in rows if r.decision is None][:MAX_READS]:
        detail, found = _read(connectors.get(row.connector), row)
        out.append(_shape(row, detail, found, secret))
    return out

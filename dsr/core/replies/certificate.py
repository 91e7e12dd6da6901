"""The signed certificate every completion reply carries (``certificate.jws``).

It states what was done for one request, per store, in terms anyone can check offline against
the published keys: never the subject's identifier, only its keyed hash. It is issued as the
reply is built, in the same transaction, with an audit event of its own (``certificate_issued``)
whose sequence number it names together with the chain's sealed head at that moment; the event
records the digest of the certificate's payload, so the chain, once sealed past it, vouches for
this exact certificate (``certificate_check.against_ledger``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from config.certificate_keys import CertificateKeys
from config.settings import Settings
from dsr.core.ledger import audit
from dsr.core.ledger.models import AuditEvent, AuditHead, Request, utcnow
from dsr.core.replies import jws, templates

ACTION = "certificate_issued"
FILENAME = "certificate.jws"
TYPE = "dsr-completion-certificate"
VERSION = 1
_VERIFIED = ("verified", "verified_by_staff")
# Outcome actions as a certificate counts them (connectors.base.Action).
_COUNTED = {
    "updated": "updated",
    "erased": "erased",
    "anonymised": "anonymised",
    "retained": "kept",
    "deferred": "deferred",
}


@dataclass(frozen=True)
class Issued:
    token: str  # the compact JWS
    claims: dict[str, Any]


def subject_hash(keys: CertificateKeys, identifier: str) -> str:
    """HMAC-SHA256 of the verified (normalised) identifier under the never-rotated subject key."""
    return hmac.new(keys.subject_key, identifier.encode(), hashlib.sha256).hexdigest()


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _store(report: templates.StoreReport) -> dict[str, Any]:
    result = report.result or {}
    counts = dict.fromkeys(("updated", "erased", "anonymised", "kept", "deferred", "held"), 0)
    tables: list[dict[str, Any]] = []
    for o in result.get("outcomes") or []:
        action, n = str(o.get("action", "")), int(o.get("count") or 0)
        reason = str(o.get("reason") or "") or None
        if action == "deferred" and reason and reason.startswith("legal hold"):
            counts["held"] += n or 1  # a held store was not searched: the hold itself counts
            reason = "legal hold"  # its text is staff's, and may name a case or a person
        elif action in _COUNTED:
            counts[_COUNTED[action]] += n
        tables.append(
            {
                "table": o.get("table"),
                "action": action,
                "count": n,
                "legal_basis": o.get("legal_basis"),
                "until": o.get("retained_until"),
                "reason": reason,
            }
        )
    remaining = result.get("remaining")
    check = None
    if remaining is not None:
        left = sum(int(r["count"]) for r in remaining if r.get("why") == "not_erased")
        check = {
            "passed": left == 0,
            "remaining": [
                {"table": r["table"], "count": int(r["count"]), "why": r["why"]} for r in remaining
            ],
        }
    return {
        "store": report.connector,
        "status": report.status,
        "found": int(result.get("records") or 0),
        **counts,
        "tables": tables,
        "post_erasure_check": check,
        "recipients": list(report.recipients),
    }


def _verified_at(session: Session, request_id: str) -> datetime | None:
    return session.exec(
        select(AuditEvent.at)
        .where(AuditEvent.request_id == request_id, col(AuditEvent.action).in_(_VERIFIED))
        .order_by(col(AuditEvent.seq))
        .limit(1)
    ).first()


def issue(
    session: Session,
    settings: Settings,
    request: Request,
    reports: list[templates.StoreReport],
    told: list[templates.NoticeView],
) -> Issued:
    """Sign the request's certificate and record its audit event, in the caller's transaction."""
    keys = settings.certificate_keys
    now = utcnow().replace(microsecond=0)
    event = AuditEvent(at=now, actor="system", action=ACTION, request_id=request.id, detail={})
    session.add(event)
    session.flush()  # its sequence number, named by the certificate
    head = session.get(AuditHead, 1)
    assert request.verified_email is not None
    claims: dict[str, Any] = {
        "type": TYPE,
        "version": VERSION,
        "controller": settings.company_name,
        "request_id": request.id,
        "subject": {
            "identifier": "email",
            "hmac_sha256": subject_hash(keys, request.verified_email),
        },
        "kind": request.kind,
        "jurisdiction": request.jurisdiction,
        "received_at": _iso(request.received_at),
        "verified_at": _iso(_verified_at(session, request.id)),
        "completed_at": now.isoformat(),
        "due_at": _iso(request.due_at),
        "stores": [_store(r) for r in reports],
        "notices": [
            {
                "recipient": n.name,
                "status": n.status,
                "sent_at": _iso(n.sent_at),
                "records": n.records,
                "reason": n.reason,
            }
            for n in told
        ],
        "audit": {
            "event_seq": event.seq,
            "head_position": head.seq if head else 0,
            "head_hash": head.hash if head else audit.GENESIS,
        },
        "issued_at": now.isoformat(),
    }
    token = jws.sign(claims, keys.signer, keys.current.kid)
    event.detail = {
        "kid": keys.current.kid,
        "payload_sha256": hashlib.sha256(jws.canonical(claims)).hexdigest(),
    }
    session.add(event)
    return Issued(token, claims)

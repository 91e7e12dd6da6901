"""Intake: validate a request completely, then write it (bad input writes nothing).

Validation happens once, at the door's call (``validate``): a raw ``Submission`` goes in, a
``ValidSubmission`` (normalised, every default filled in) comes out, and ``submit`` takes only
that, so nothing below the service ever sees unchecked input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlmodel import Session

from connectors.registry import rectifiable_fields
from dsr.core.identity import identifiers
from dsr.core.intake import approval, complaints, mailboxes, verification
from dsr.core.ledger import audit
from dsr.core.ledger.models import (
    LANGUAGES,
    Provenance,
    Request,
    RequestKind,
    RequestStatus,
    utcnow,
)
from dsr.core.pipeline import dispatch, subjects
from dsr.core.replies import status_links
from dsr.core.runtime import deadlines, steps
from dsr.core.runtime.process import Runtime
from dsr.errors import InvalidInput
from dsr.identity import (
    EMAIL,
    NAME,
    PHONE,
    Identity,
    check_input,
    normalise_email,
    normalise_field,
    normalise_name,
    normalise_phone,
)


@dataclass
class Submission:
    """A request as a door received it: nothing checked yet (``validate`` does)."""

    kind: str
    email: str
    phone: str | None = None
    name: str | None = None
    changes: dict[str, str] = field(default_factory=dict)
    jurisdiction: str | None = None
    language: str | None = None
    verified: bool = False
    by: str | None = None  # the staff member who filed or verified it
    text: str | None = None  # complaint only: what the subject complains about


@dataclass(frozen=True)
class ValidSubmission:
    """A submission that passed ``validate``: normalised identifiers and changes, a known kind,
    language and jurisdiction. Only ``validate`` makes one."""

    kind: RequestKind
    email: str
    phone: str | None
    name: str | None
    changes: dict[str, str]
    jurisdiction: str
    language: str
    verified: bool
    by: str | None
    text: str | None


V = TypeVar("V")


def no_duplicates(pairs: Iterable[tuple[str, V]]) -> dict[str, V]:
    """The pairs as a dict; InvalidInput when a name comes twice (the last must not silently
    win: ``kind`` given twice, or one field set to two values). Also the API's JSON object hook.
    """
    out: dict[str, V] = {}
    for name, value in pairs:
        if name in out:
            raise InvalidInput(f"{name[:64]!r} is given twice")
        out[name] = value
    return out


def _normalised_changes(raw: dict[str, str], allowed: set[str], region: str) -> dict[str, str]:
    changes: dict[str, str] = {}
    for fld, value in raw.items():
        check_input(fld, "a field name")
        check_input(value, f"the new value of {fld[:64]!r}")
        if fld not in allowed:
            raise InvalidInput(f"unknown field {fld!r} (rectifiable: {', '.join(sorted(allowed))})")
        changes[fld] = normalise_field(fld, value, region)
    return changes


def validate(rt: Runtime, sub: Submission) -> ValidSubmission:
    """The normalised submission, or InvalidInput naming the first problem."""
    if sub.kind not in RequestKind.__members__.values():
        raise InvalidInput(f"unknown request kind {sub.kind!r} ({', '.join(RequestKind)})")
    region = rt.settings.default_region
    language = sub.language or rt.settings.default_language
    if language not in LANGUAGES:
        raise InvalidInput(f"unknown language {language!r} (vi, en)")
    jurisdiction = sub.jurisdiction or rt.settings.default_jurisdiction
    if jurisdiction not in rt.profiles:
        raise InvalidInput(f"unknown jurisdiction {jurisdiction!r} ({', '.join(rt.profiles)})")
    if sub.kind == RequestKind.RECTIFY and not sub.changes:
        raise InvalidInput("a rectify request needs at least one field to change", "changes")
    if sub.kind != RequestKind.RECTIFY and sub.changes:
        raise InvalidInput("changes are only for rectify requests", "changes")
    if sub.kind == RequestKind.COMPLAINT:
        text: str | None = complaints.clean_text(
            sub.text, what="complaint text", limit=complaints.MAX_TEXT
        )
    elif sub.text:
        raise InvalidInput("text is only for complaints", "text")
    else:
        text = None
    if sub.verified and not sub.by:
        raise InvalidInput(
            "verified needs by: the staff member who vouches, recorded in the audit log",
            "verified",
            "by",
        )
    if not isinstance(sub.verified, bool):  # no "yes", "false" or 1 from any door
        raise InvalidInput("verified is true or false")
    check_input(sub.email, "the e-mail address")
    for value, what in ((sub.phone, "the phone number"), (sub.name, "the name"), (sub.by, "by")):
        if value:  # "" is "not given", as before; anything else must be visible text
            check_input(value, what)
    return ValidSubmission(
        kind=RequestKind(sub.kind),
        email=normalise_email(sub.email),
        phone=normalise_phone(sub.phone, region) if sub.phone else None,
        name=normalise_name(sub.name) if sub.name else None,
        changes=_normalised_changes(sub.changes, rectifiable_fields(rt.connectors), region),
        jurisdiction=jurisdiction,
        language=language,
        verified=sub.verified,
        by=sub.by,
        text=text,
    )


def submit(
    session: Session,
    rt: Runtime,
    sub: ValidSubmission,
    *,
    now: datetime | None = None,
    owner: str | None = None,
) -> tuple[Request, list[steps.Step]]:
    """File a request: ledger row, acknowledgement, then verification or dispatch.

    ``owner`` (an API key's id, a privacy-center visitor's ``subject:…``) is set before the
    e-mails are written: a subject's e-mails carry the request's status link. ``sub`` was
    validated by the caller (``validate``), once.
    """
    if not isinstance(sub, ValidSubmission):  # a raw Submission must never reach the ledger
        raise TypeError("filing.submit takes a ValidSubmission: call filing.validate first")
    now = now or utcnow()
    # Where third parties received the data and must act too, the longer period applies
    # (Decree 356: 15 / 30 days); the acknowledgement names them and says so.
    third_party = bool(rt.recipients.parties(sub.kind, sub.changes, rt.connectors))
    due = deadlines.compute(sub.kind, sub.jurisdiction, now, rt.profiles, third_party=third_party)
    identity = Identity()
    identity.add(EMAIL, [sub.email])
    identity.add(PHONE, [sub.phone])
    identity.add(NAME, [sub.name])
    request = Request(
        kind=sub.kind,
        status=RequestStatus.RECEIVED,
        jurisdiction=sub.jurisdiction,
        language=sub.language,
        email=sub.email,
        phone=sub.phone,
        name=sub.name,
        identity=identity.to_json(),
        changes=sub.changes,
        received_at=now,
        ack_due_at=due.ack_due_at,
        due_at=due.due_at,
        updated_at=now,
        subject_key=subjects.key(sub, rt.settings.keys.suppression),
        owner=owner,
    )
    # Per mailbox, across requests: an acknowledgement, and a code unless staff vouched.
    mailboxes.allow_mails(
        session,
        rt.settings,
        sub.email,
        1 if sub.verified or sub.kind == RequestKind.COMPLAINT else 2,
        capped=status_links.filed_by_subject(owner),
        stoppable=not sub.verified,
        request_id=request.id,
        now=now,
    )
    session.add(request)
    session.flush()
    # Provenance: staff vouch for everything on the submission; otherwise nothing is proven
    # until the one-time code comes back (and then only the address it went to).
    identifiers.add(
        session,
        rt.settings.keys.suppression,
        request.id,
        [(k, v) for k, v in ((EMAIL, sub.email), (PHONE, sub.phone), (NAME, sub.name)) if v],
        Provenance.VERIFIED if sub.verified else Provenance.ASSERTED,
        f"staff:{sub.by}" if sub.verified else "submission",
    )
    audit.record(
        session,
        actor=sub.by or "subject",
        action="received",
        request_id=request.id,
        kind=sub.kind,
        jurisdiction=sub.jurisdiction,
        fields=sorted(sub.changes),
    )
    out = [verification.acknowledge(session, rt, request)]
    if sub.kind == RequestKind.COMPLAINT:
        assert sub.text is not None
        out += complaints.open_complaint(
            session, request, sub.text, verified_by=sub.by if sub.verified else None
        )
    elif sub.verified and approval.needs_approval(rt.settings, sub.kind):
        assert sub.by is not None
        approval.hold(session, request, by=sub.by)  # a second staff member must approve
    elif sub.verified:
        assert sub.by is not None
        verification.mark_verified(session, request, by=sub.by)
        # Nothing is left to prove: the tasks are created in this transaction and the first
        # stage goes straight to the connector workers (no dispatch message, no queue wait).
        out += dispatch.dispatch(session, rt, request.id)
    else:
        out += verification.send_code(session, rt, request, now=now)
    return request, out

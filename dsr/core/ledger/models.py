"""The ledger: requests, connector tasks, reply outbox, audit events, holds and purge runs.

The ledger, not the broker, is the source of truth; a message only says "look at row X".
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, Index, Text, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel

from dsr.errors import NotFound, StateConflict


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


LANGUAGES = ("vi", "en")  # what replies, pages and summaries are written in


class RequestKind(StrEnum):
    ACCESS = "access"
    RECTIFY = "rectify"
    ERASE = "erase"
    COMPLAINT = "complaint"  # no store is searched: staff answer it (dsr.core.intake.complaints)


class RequestStatus(StrEnum):
    RECEIVED = "received"
    AWAITING_VERIFICATION = "awaiting_verification"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    REPLYING = "replying"
    COMPLETED = "completed"
    NEEDS_ATTENTION = "needs_attention"
    NEEDS_REVIEW = "needs_review"
    AWAITING_APPROVAL = "awaiting_approval"  # vouched for by one staff member, waiting for a second
    REJECTED = "rejected"
    CANCELED = "canceled"


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


TERMINAL_TASK = (TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.SKIPPED)
OPEN_REQUEST = (
    RequestStatus.RECEIVED,
    RequestStatus.AWAITING_VERIFICATION,
    RequestStatus.VERIFIED,
    RequestStatus.IN_PROGRESS,
    RequestStatus.REPLYING,
    RequestStatus.NEEDS_ATTENTION,
    RequestStatus.NEEDS_REVIEW,
    RequestStatus.AWAITING_APPROVAL,
)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # refused for good (5xx), or undeliverable too long: never re-sent, ops act


class NoticeStatus(StrEnum):
    """A third party's notice of a rectify or erase (GDPR art. 19)."""

    PENDING = "pending"  # queued in the outbox
    SENT = "sent"
    FAILED = "failed"  # the recipient's server refused it for good: ops act
    NO_CONTACT = "no_contact"  # configured without an address: ops act
    NOT_NEEDED = "not_needed"  # it holds none of the changed records, or need not hear of this


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every engine (SQLite hands back naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name in ("sqlite", "mysql") else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kw: Any) -> Any:
    return Field(sa_column=Column(UtcDateTime(), **kw))


class Request(SQLModel, table=True):
    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_status_due", "status", "due_at"),
        # One request at a time per address (dsr/core/pipeline/subjects.py) looks requests up
        # this way.
        Index("ix_requests_email_status", "email", "status"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    kind: str = Field(max_length=16)
    status: str = Field(max_length=32, index=True)
    jurisdiction: str = Field(max_length=16)
    language: str = Field(max_length=8, default="vi")
    email: str = Field(max_length=320)
    phone: str | None = Field(default=None, max_length=20)
    name: str | None = Field(default=None, max_length=200)
    identity: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    verified_email: str | None = Field(default=None, max_length=320)
    verified_by: str | None = Field(default=None, max_length=120)
    code_hash: str | None = Field(default=None, max_length=64)
    code_expires_at: datetime | None = _ts(nullable=True)
    code_attempts: int = 0
    received_at: datetime = _ts(nullable=False)
    ack_due_at: datetime | None = _ts(nullable=True)
    acknowledged_at: datetime | None = _ts(nullable=True)
    due_at: datetime = _ts(nullable=False)
    completed_at: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts(nullable=False)
    attention: str | None = Field(default=None, max_length=500)
    late: bool = False
    # Who filed it: the API key's id (web page included); None when filed at the command line
    # (ops). Support keys see and act on their own requests only.
    owner: str | None = Field(default=None, max_length=32, index=True)
    # A hash of (kind, normalised identifiers, changes): an identical request joins an open one.
    subject_key: str | None = Field(default=None, max_length=64, index=True)
    # Four eyes (dsr/core/intake/approval.py): who approved a staff-vouched request, and who
    # (ops) let its filing key download the export.
    approved_by: str | None = Field(default=None, max_length=120)
    export_granted_by: str | None = Field(default=None, max_length=120)


def load_request(
    session: Session, request_id: str, *, status: RequestStatus | None = None
) -> Request:
    """The request, or NotFound; with ``status``, StateConflict when it is in another one."""
    request = session.get(Request, request_id)
    if request is None:
        raise NotFound(f"no request {request_id}")
    if status is not None and request.status != status:
        raise StateConflict(f"request {request_id} is {request.status}, not {status}")
    return request


class ConnectorTask(SQLModel, table=True):
    __tablename__ = "connector_tasks"
    __table_args__ = (UniqueConstraint("request_id", "connector"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    request_id: str = Field(foreign_key="requests.id", index=True, max_length=32)
    connector: str = Field(max_length=64)
    stage: int = 0
    status: str = Field(max_length=16, index=True)
    records: int = 0
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: str | None = Field(default=None, max_length=500)
    attempts: int = 0
    started_at: datetime | None = _ts(nullable=True)
    finished_at: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts(nullable=False)


class Outbox(SQLModel, table=True):
    """One e-mail to send; ``purpose`` is unique per request so a message exists once."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("request_id", "purpose"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    request_id: str | None = Field(default=None, index=True, max_length=32)
    purpose: str = Field(max_length=64)
    recipient: str = Field(max_length=320)
    message_id: str = Field(max_length=200)
    path: str = Field(max_length=500)  # the rendered message on disk, never a blob here
    status: str = Field(max_length=16, index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts(nullable=False)
    sent_at: datetime | None = _ts(nullable=True)
    finished_at: datetime | None = _ts(nullable=True)  # what the sending changes is recorded
    claimed_at: datetime | None = _ts(nullable=True)  # a worker's delivery lease (one sender)
    # The lease's holder (a token per attempt): the hand-over is written only by its holder,
    # so a sender whose lease expired and was taken over never sends the final dot.
    claim: str | None = Field(default=None, max_length=32)
    # Set just before the message's last byte goes to the server, cleared when the server's
    # answer is known: still set on the next attempt, the message may have arrived already.
    handed_over_at: datetime | None = _ts(nullable=True)
    resends: int = 0  # attempts after a hand-over whose answer was never recorded (duplicates)


class Notice(SQLModel, table=True):
    """One recipient's notice about one request; exists once per (request, recipient)."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("request_id", "recipient"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    request_id: str = Field(foreign_key="requests.id", index=True, max_length=32)
    recipient: str = Field(max_length=64)  # the id in connectors.yaml
    name: str = Field(max_length=200)
    channel: str | None = Field(default=None, max_length=16)  # email | webhook
    address: str | None = Field(default=None, max_length=320)
    status: str = Field(max_length=16, index=True)
    reason: str | None = Field(default=None, max_length=32)  # why not needed
    records: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    attempt: int = 1
    outbox_id: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, max_length=500)
    reply_by: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    sent_at: datetime | None = _ts(nullable=True)


class AuditEvent(SQLModel, table=True):
    """Appended without a lock (``seq`` comes from the database); the sealer later sets its
    ``position`` in the hash chain, the previous event's hash and its own. No personal data."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index(
            "ix_audit_events_unsealed",
            "seq",
            postgresql_where=text("position IS NULL"),
            sqlite_where=text("position IS NULL"),
        ),
    )

    seq: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False)
    actor: str = Field(max_length=120)
    action: str = Field(max_length=64)
    request_id: str | None = Field(default=None, index=True, max_length=32)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    position: int | None = Field(default=None, unique=True)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class AuditHead(SQLModel, table=True):
    """One row: the sealed chain's tip (``seq`` is its position). Only the sealer writes it."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(max_length=64)


class Hold(SQLModel, table=True):
    """A legal hold: erasure of the subject's data is deferred and sweeps skip it."""

    __tablename__ = "holds"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    email: str | None = Field(default=None, max_length=320, index=True)
    phone: str | None = Field(default=None, max_length=20, index=True)
    connectors: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reason: str = Field(max_length=500)
    until: datetime | None = _ts(nullable=True)
    created_by: str = Field(max_length=120)
    created_at: datetime = _ts(nullable=False)
    lifted_at: datetime | None = _ts(nullable=True)


class PurgeRun(SQLModel, table=True):
    __tablename__ = "purge_runs"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    connector: str = Field(max_length=64)
    dry_run: bool = False
    started_at: datetime = _ts(nullable=False)
    finished_at: datetime | None = _ts(nullable=True)
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=120)
    role: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts(nullable=False)
    revoked_at: datetime | None = _ts(nullable=True)


class Complaint(SQLModel, table=True):
    """A complaint's own facts: the subject's text and the staff answer (one per request)."""

    __tablename__ = "complaints"

    request_id: str = Field(foreign_key="requests.id", primary_key=True, max_length=32)
    text: str = Field(sa_column=Column(Text, nullable=False))
    answer_template: str | None = Field(default=None, max_length=64)
    answer_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answered_by: str | None = Field(default=None, max_length=120)
    answered_at: datetime | None = _ts(nullable=True)


class Alert(SQLModel, table=True):
    """Something ops must hear about, recorded in the ledger first.

    The ledger row does not need the part that failed (SMTP, the export disk): the e-mail to ops
    is queued beside it when it can be, and the watchdog queues it later when it could not.
    ``key`` makes raising the same alert twice (a redelivered message) a no-op.
    """

    __tablename__ = "alerts"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    key: str = Field(max_length=200, unique=True)
    request_id: str | None = Field(default=None, index=True, max_length=32)
    reason: str = Field(max_length=64, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(nullable=False)
    emailed: bool = False
    acknowledged_at: datetime | None = _ts(nullable=True)
    acknowledged_by: str | None = Field(default=None, max_length=120)


class MailboxEvent(SQLModel, table=True):
    """Something that happened to a mailbox (dsr/core/intake/mailboxes.py): an e-mail sent
    there, a wrong code typed for it, a lockout, its owner saying "this was not me".

    ``mailbox`` is a keyed hash of the folded address (dsr/mailbox.py): limits count per
    mailbox across requests, and the table holds no address.
    """

    __tablename__ = "mailbox_events"
    __table_args__ = (Index("ix_mailbox_events_lookup", "mailbox", "kind", "at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    mailbox: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    at: datetime = _ts(nullable=False)
    request_id: str | None = Field(default=None, max_length=32)


class Deployment(SQLModel, table=True):
    """One row: the ledger's fingerprint, written on first start. Every process checks that the
    broker namespace it consumes carries the same one (one ledger per namespace)."""

    __tablename__ = "deployment"

    id: int = Field(default=1, primary_key=True)
    fingerprint: str = Field(max_length=64)
    created_at: datetime = _ts(nullable=False)


class BrokerClaim(SQLModel, table=True):
    """A broker namespace this ledger has served, since when: the older claim wins a namespace
    whose Redis forgot it (a flush), never the first process to start after."""

    __tablename__ = "broker_claims"

    namespace: str = Field(primary_key=True, max_length=200)
    claimed_at: datetime = _ts(nullable=False)


class Provenance(StrEnum):
    """Where an identifier on a request came from (what it proves)."""

    VERIFIED = "verified"  # the address the one-time code went to, or vouched for by staff
    DERIVED = "derived"  # read from a record already in scope
    FORMER = "former"  # an identifier an in-scope account had before a rectify changed it
    ASSERTED = "asserted"  # typed in, not proven


TRUSTED = (Provenance.VERIFIED, Provenance.DERIVED, Provenance.FORMER)


class RequestIdentifier(SQLModel, table=True):
    """One identifier a request searches by, with its provenance.

    ``value_hash`` (keyed) names the identifier for good; ``value`` is set to NULL once the
    subject is erased, leaving only ``masked`` for display.
    """

    __tablename__ = "request_identifiers"
    __table_args__ = (UniqueConstraint("request_id", "kind", "value_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="requests.id", index=True, max_length=32)
    kind: str = Field(max_length=16)
    value: str | None = Field(default=None, max_length=320)
    value_hash: str = Field(max_length=64, index=True)
    masked: str = Field(max_length=120)
    provenance: str = Field(max_length=16)
    source: str = Field(max_length=120)
    created_at: datetime = _ts(nullable=False)


class CandidateDecision(StrEnum):
    INCLUDED = "included"
    EXCLUDED = "excluded"


class RequestCandidate(SQLModel, table=True):
    """A record a search hit that the scope policy did not admit: it waits for staff.

    ``matched`` lists the identifiers that hit it as ``{"kind", "hash", "masked"}``, never raw
    values; ``trusted_match`` says a proven identifier hit it (the reply may then count it).
    """

    __tablename__ = "request_candidates"
    __table_args__ = (UniqueConstraint("request_id", "connector", "table_name", "record_key"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="requests.id", index=True, max_length=32)
    connector: str = Field(max_length=64)
    table_name: str = Field(max_length=64)
    record_key: str = Field(max_length=200)
    reason: str = Field(max_length=32)
    matched: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    trusted_match: bool = False
    decision: str | None = Field(default=None, max_length=16)
    decided_by: str | None = Field(default=None, max_length=120)
    decided_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts(nullable=False)


class IdentityHistory(SQLModel, table=True):
    """A former identifier of an account: ``kind``/``value`` was replaced by a rectify on the
    record; ``link_kind``/``link_value`` is one of that account's identifiers after the change
    (one row per link). Erased with the subject."""

    __tablename__ = "identity_history"
    __table_args__ = (Index("ix_identity_history_link", "link_kind", "link_value"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    value: str = Field(max_length=320)
    link_kind: str = Field(max_length=16)
    link_value: str = Field(max_length=320)
    connector: str = Field(max_length=64)
    table_name: str = Field(max_length=64)
    record_key: str = Field(max_length=200)
    request_id: str = Field(max_length=32)
    changed_at: datetime = _ts(nullable=False)


class ExportRevocation(SQLModel, table=True):
    """An earlier request whose export files an erasure removed: its links answer 410 Gone."""

    __tablename__ = "export_revocations"

    request_id: str = Field(primary_key=True, max_length=32)
    erased_by: str = Field(max_length=32, index=True)
    files: int = 0
    revoked_at: datetime = _ts(nullable=False)


class ErasureDeferral(SQLModel, table=True):
    """A record an erasure admitted but had to keep for now (an open order); ``search`` holds
    the identifiers that find it again, kept only until the deferral is done."""

    __tablename__ = "erasure_deferrals"
    __table_args__ = (UniqueConstraint("request_id", "connector", "table_name", "record_key"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="requests.id", index=True, max_length=32)
    connector: str = Field(max_length=64, index=True)
    table_name: str = Field(max_length=64)
    record_key: str = Field(max_length=200)
    reason: str = Field(max_length=500)
    search: list[list[str]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts(nullable=False)
    done_at: datetime | None = _ts(nullable=True)


class ErasureFollowUp(SQLModel, table=True):
    """Deferred records a later sweep erased, for one request and store (its ``id`` numbers the
    batch): the partners told of them, and the follow-up the subject gets once they were.

    ``erased`` lists per table what was done (ids, counts, actions); ``notices`` per partner its
    id, name, how many records it received and the outbox row of its notice (none when it could
    not be told). No identifier of the subject's is kept here.
    """

    __tablename__ = "erasure_followups"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="requests.id", index=True, max_length=32)
    connector: str = Field(max_length=64)
    erased: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notices: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    outbox_id: str | None = Field(default=None, max_length=32)  # the follow-up, once queued
    created_at: datetime = _ts(nullable=False)


class WebSession(SQLModel, table=True):
    """A staff member's web-page session, server-side so that logout ends it everywhere."""

    __tablename__ = "web_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)  # SHA-256 of the cookie's random id
    key_id: str = Field(max_length=32, index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(nullable=False)
    expires_at: datetime = _ts(nullable=False, index=True)


class KeyCheck(SQLModel, table=True):
    """A keyed check value per key purpose: a process started with another key is refused."""

    __tablename__ = "key_checks"

    purpose: str = Field(primary_key=True, max_length=32)
    digest: str = Field(max_length=64)
    updated_at: datetime = _ts(nullable=False)

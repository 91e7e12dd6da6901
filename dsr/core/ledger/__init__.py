"""The ledger: what is on record. The bottom of the core; it imports no other group.

``models`` (the tables and their statuses), ``db`` (engines, units of work, Alembic
``migrations`` applied on start), ``audit`` (the hash chain), ``holds`` (legal holds),
``apikeys`` + ``web_sessions`` (who may call, and their logged-in pages), ``key_checks`` (the
suppression key the lists were keyed with), and each request's folder on disk: ``paths`` (its
layout) and ``storage`` (atomic writes, a full disk).

Modules whose functions read as ``audit.record`` or ``holds.add`` are used as namespaces; the
tables, statuses and session helpers every group needs are re-exported by name.
"""

from dsr.core.ledger import (
    apikeys,
    audit,
    db,
    holds,
    key_checks,
    models,
    paths,
    storage,
    web_sessions,
)
from dsr.core.ledger.apikeys import KEY_ROLES, Role
from dsr.core.ledger.audit import ChainReport
from dsr.core.ledger.db import UnitOfWork, changed, migrate, session_scope, units_of_work
from dsr.core.ledger.models import (
    LANGUAGES,
    OPEN_REQUEST,
    TERMINAL_TASK,
    TRUSTED,
    Alert,
    ApiKey,
    AuditEvent,
    CandidateDecision,
    Complaint,
    ConnectorTask,
    Deployment,
    ErasureDeferral,
    ExportRevocation,
    Hold,
    IdentityHistory,
    Notice,
    NoticeStatus,
    Outbox,
    OutboxStatus,
    Provenance,
    PurgeRun,
    Request,
    RequestCandidate,
    RequestIdentifier,
    RequestKind,
    RequestStatus,
    TaskStatus,
    load_request,
    new_id,
    utcnow,
)

__all__ = [
    # modules, used as namespaces
    "models",
    "db",
    "audit",
    "holds",
    "apikeys",
    "web_sessions",
    "key_checks",
    "paths",
    "storage",
    # models: statuses and kinds
    "RequestKind",
    "RequestStatus",
    "TaskStatus",
    "OutboxStatus",
    "NoticeStatus",
    "Provenance",
    "CandidateDecision",
    "OPEN_REQUEST",
    "TERMINAL_TASK",
    "TRUSTED",
    "LANGUAGES",
    # models: tables
    "Request",
    "ConnectorTask",
    "Outbox",
    "Notice",
    "Complaint",
    "Alert",
    "AuditEvent",
    "Hold",
    "PurgeRun",
    "ApiKey",
    "Deployment",
    "RequestIdentifier",
    "RequestCandidate",
    "IdentityHistory",
    "ExportRevocation",
    "ErasureDeferral",
    # models: helpers
    "load_request",
    "new_id",
    "utcnow",
    # db: units of work
    "UnitOfWork",
    "session_scope",
    "units_of_work",
    "changed",
    "migrate",
    # audit
    "ChainReport",
    # apikeys
    "Role",
    "KEY_ROLES",
]

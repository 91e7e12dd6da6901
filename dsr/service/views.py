"""What the service's operations answer besides a request: the ops views, as pydantic models.

A request is ``RequestOut`` / ``RequestDetail`` (``dsr.core.intake.views``), or for its subject
``SubjectStatusOut``. The doors print these as they are: the CLI's ``--json`` is
``model_dump(mode="json", exclude_unset=True)``, the HTTP API its response model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from dsr.core.intake.subject_status import Phase
from dsr.core.intake.views import ComplaintOut, RequestOut
from dsr.core.ledger.models import RequestKind


class StoresOut(BaseModel):
    total: int
    finished: int


class SubjectStatusOut(BaseModel):
    """A request as its subject sees it (``dsr.core.intake.subject_status``): where it stands,
    never what was found; ``status_token`` is the status link's token."""

    id: str
    kind: RequestKind
    phase: Phase
    language: str
    email: str
    received_at: str
    due_at: str
    completed_at: str | None
    reply_sent_at: str | None
    stores: StoresOut
    code_open: bool
    attempts_left: int  # the codes the subject may still try (0 once closed)
    delivered_as: str | None = None  # completed: how the export went (attachment or link)
    status_token: str


class AnsweredOut(RequestOut):
    """A complaint just answered: the request and its complaint (the audit trail is status's)."""

    complaint: ComplaintOut | None


class RedriveOut(BaseModel):
    request_id: str | None
    steps: int


class AnswerTemplateOut(BaseModel):
    name: str
    needs_note: bool


class HoldOut(BaseModel):
    """A legal hold (it names the subject: ops only)."""

    id: str
    email: str | None
    phone: str | None
    reason: str
    connectors: list[str] | None
    until: str | None
    created_by: str
    created_at: str | None
    lifted_at: str | None


class HoldLiftedOut(HoldOut):
    """A hold just lifted; ``already_lifted`` when it was lifted before (nothing changed)."""

    already_lifted: bool


class ApiKeyOut(BaseModel):
    """An API key, never the key itself."""

    id: str
    name: str
    role: str
    created_at: str | None
    revoked_at: str | None


class NewApiKeyOut(ApiKeyOut):
    key: str  # shown once, never stored


class PurgeRuleOut(BaseModel):
    """One retention rule's sweep: ``done`` False means it stopped early and can resume."""

    connector: str
    table: str
    action: str
    cutoff: str
    matched: int
    purged: int
    skipped_held: int
    chunks: int
    dry_run: bool
    done: bool


class PurgeErrorOut(BaseModel):
    connector: str
    error: str


class PurgeOut(BaseModel):
    dry_run: bool
    as_of: str
    stores: list[PurgeRuleOut]
    errors: list[PurgeErrorOut]


class IndexBuildOut(BaseModel):
    connector: str
    table: str
    rows: int
    full: bool
    seconds: float


class AuditCheckOut(BaseModel):
    """The audit chain's check; ``ok`` False names the first broken event."""

    ok: bool
    events: int
    first_broken: int | None = None
    problem: str | None = None
    unsealed: int = 0
    oldest_unsealed_at: str | None = None


class MasterRotatedOut(BaseModel):
    rotated: str  # "secret_key"
    previous_accepted_until: str


class SuppressionRotatedOut(BaseModel):
    rotated: str  # "suppression_key"
    stores: dict[str, int]  # lists re-keyed, per store
    keys_in_chain: int
    key_source: str  # "file" or "environment"


def dump(data: Any) -> Any:
    """A view (or a list or dict holding views) as the JSON-ready value the doors print: unset
    fields left out, as the contract has always shown them."""
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json", exclude_unset=True)
    if isinstance(data, list):
        return [dump(x) for x in data]
    if isinstance(data, dict):
        return {k: dump(v) for k, v in data.items()}
    return data

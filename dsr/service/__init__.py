"""The one application service every door calls (CLI, HTTP API, web pages, demo).

The doors (``api/``, ``cli/``) import the core only through here (an import contract says so):
the service's operations, who may call them (``Caller``), and the core's names a door needs to
build a call or read its answer (inputs, view models, values). The ledger's table models
(``dsr.core.ledger.models``) a door may import for typing directly.
"""

from dsr.core.intake.filing import Submission, no_duplicates
from dsr.core.intake.views import RequestDetail, RequestOut, iso
from dsr.core.ledger.apikeys import Role
from dsr.core.ops.dashboard import Dashboard, Queue, ReplyDay, StoreRate
from dsr.core.ops.logs import configure_logging
from dsr.core.ops.retention import PurgeRequest
from dsr.core.replies.templates import format_date
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.progress import Progress, Report, ignore
from dsr.core.runtime.steps import Step
from dsr.service.access import StaffKey
from dsr.service.app import Service
from dsr.service.base import Enqueue
from dsr.service.callers import Caller
from dsr.service.review_details import CandidateDetailOut
from dsr.service.views import (
    AnsweredOut,
    AnswerTemplateOut,
    ApiKeyOut,
    AuditCheckOut,
    HoldOut,
    IndexBuildOut,
    NewApiKeyOut,
    PurgeOut,
    RedriveOut,
    SubjectStatusOut,
    dump,
)

__all__ = [
    # the service, its callers and its wiring
    "Service",
    "Caller",
    "Role",
    "StaffKey",
    "Runtime",
    "Enqueue",
    "Step",
    "configure_logging",
    # what a door sends
    "Submission",
    "no_duplicates",
    "PurgeRequest",
    # what it gets back
    "RequestOut",
    "RequestDetail",
    "SubjectStatusOut",
    "CandidateDetailOut",
    "AnsweredOut",
    "AnswerTemplateOut",
    "RedriveOut",
    "HoldOut",
    "ApiKeyOut",
    "NewApiKeyOut",
    "PurgeOut",
    "IndexBuildOut",
    "AuditCheckOut",
    "dump",
    "Dashboard",
    "Queue",
    "ReplyDay",
    "StoreRate",
    "Progress",
    "Report",
    "ignore",
    # how it shows values
    "iso",
    "format_date",
]

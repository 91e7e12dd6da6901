"""Intake: a request comes in, is verified, and is shown. The top of the request flow.

``filing`` (validate completely, then write: bad input writes nothing), ``verification`` (the
one-time code), ``complaints`` (a staff queue and templated answers), ``views`` (a request as
the CLI's ``--json`` and the API show it) and ``subject_status`` (what a subject's status link
shows).
"""

from dsr.core.intake import complaints, filing, subject_status, verification, views
from dsr.core.intake.filing import Submission, ValidSubmission, no_duplicates
from dsr.core.intake.views import RequestDetail, RequestOut

__all__ = [
    # modules, used as namespaces
    "filing",
    "verification",
    "complaints",
    "views",
    "subject_status",
    # filing
    "Submission",
    "ValidSubmission",
    "no_duplicates",
    # views
    "RequestOut",
    "RequestDetail",
]

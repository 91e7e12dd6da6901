"""The pipeline: a verified request carried through every store to its reply.

``dispatch`` (one task per connector, in dependency stages), ``subjects`` (one request at a time
per subject; identical requests join), ``tasks`` (claim, work, record; fan-in), ``review``
(staff decide uncertain records, and the request carries on), ``reports`` + ``aggregate`` (what
each store did, and the reply built from it), ``redrive`` (work whose message was lost, sent
again) and ``runner`` (each step by name, and a whole request run inline).
"""

from dsr.core.pipeline import (
    aggregate,
    dispatch,
    redrive,
    reports,
    review,
    runner,
    subjects,
    tasks,
)
from dsr.core.pipeline.runner import INLINE, drain, execute
from dsr.core.pipeline.subjects import Submitted
from dsr.core.pipeline.tasks import Done, Work

__all__ = [
    # modules, used as namespaces
    "dispatch",
    "subjects",
    "tasks",
    "review",
    "reports",
    "aggregate",
    "redrive",
    "runner",
    # subjects
    "Submitted",
    # tasks
    "Work",
    "Done",
    # runner
    "execute",
    "drain",
    "INLINE",
]

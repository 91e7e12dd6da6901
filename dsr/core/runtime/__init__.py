"""What a process builds once and every step shares. Above the ledger, below every stage.

``process`` (the ``Runtime``: settings, connectors, deadline profiles and third-party recipients,
built once from configuration and passed down), ``deadlines`` (jurisdiction profiles, due dates),
``recipients`` (the third parties the stores share with), ``steps`` (the ``Step`` a core call
returns for its caller to run after commit) and ``progress`` (how long work reports how far it
got). Deadlines and recipients live here, not with intake and replies, because the runtime loads
them: every stage may then take a runtime without importing a stage above it.
"""

from dsr.core.runtime import deadlines, process, progress, recipients, steps
from dsr.core.runtime.deadlines import Profile, load_profiles, overdue_clause
from dsr.core.runtime.process import Runtime
from dsr.core.runtime.progress import Progress, Report
from dsr.core.runtime.recipients import NOTIFIED_KINDS, Recipient, RecipientBook
from dsr.core.runtime.steps import Step, StepName

__all__ = [
    # modules, used as namespaces
    "process",
    "deadlines",
    "recipients",
    "steps",
    "progress",
    # process
    "Runtime",
    # deadlines
    "Profile",
    "load_profiles",
    "overdue_clause",
    # recipients
    "Recipient",
    "RecipientBook",
    "NOTIFIED_KINDS",
    # steps
    "Step",
    "StepName",
    # progress
    "Progress",
    "Report",
]

"""Running it: scheduled sweeps and what ops look at. Nothing else in the core imports it.

``retention`` (the rules and the sweep that applies them), ``watchdog`` (reminders, escalations,
clean-up), ``dashboard`` (the ops page's numbers), ``deployment`` (the ledger's fingerprint, which a
worker on another ledger fails to match), ``logs`` (one logging chain per process, personal data
redacted), ``report`` + ``retention_report`` (the yearly DSR figures, retention you can show) and
``report_render`` (either as JSON, CSV or HTML for A4).
"""

from dsr.core.ops import (
    dashboard,
    deployment,
    logs,
    report,
    report_render,
    retention,
    retention_report,
    watchdog,
)
from dsr.core.ops.dashboard import Dashboard
from dsr.core.ops.logs import RedactPII, configure_logging, get_logger
from dsr.core.ops.retention import Policy, PurgeRequest

__all__ = [
    # modules, used as namespaces
    "retention",
    "watchdog",
    "dashboard",
    "deployment",
    "logs",
    "report",
    "report_render",
    "retention_report",
    # retention
    "Policy",
    "PurgeRequest",
    # dashboard
    "Dashboard",
    # logs
    "configure_logging",
    "get_logger",
    "RedactPII",
]

"""The process's Runtime, shared by every actor; tests replace it with their own."""

from __future__ import annotations

from dsr.core.ledger import key_checks
from dsr.core.ledger.db import migrate, session_scope
from dsr.core.runtime.process import Runtime

_runtime: Runtime | None = None


def get() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
        migrate(_runtime.db_url)
        with session_scope(_runtime.db_url) as session:
            key_checks.ensure_suppression_key(session, _runtime.settings.keys.suppression)
    return _runtime


def current() -> Runtime | None:
    """The process's Runtime if one was built or set, without building one."""
    return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime

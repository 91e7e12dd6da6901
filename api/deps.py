"""What every route needs from the app: the Runtime and a way to enqueue steps after commit."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog
from starlette.requests import HTTPConnection

from dsr.runtime import Runtime
from dsr.steps import Step

log = structlog.get_logger(__name__)
Enqueue = Callable[[Iterable[Step]], None]


def runtime(conn: HTTPConnection) -> Runtime:
    rt: Runtime = conn.app.state.rt
    return rt


def broker_enqueue(follow: Iterable[Step]) -> None:
    """Send steps to dramatiq (imported late: it wires the broker on import)."""
    from workers.actors import enqueue

    enqueue(follow)


def enqueue_after_commit(conn: HTTPConnection, follow: list[Step], request_id: str) -> None:
    """Send the steps of a committed transaction.

    A broker outage must not turn a filed request into an error: the row is committed, and the
    scheduler's re-drive job finds work whose message was never sent.
    """
    if not follow:
        return
    send: Enqueue = conn.app.state.enqueue
    try:
        send(follow)
    except Exception as err:  # noqa: BLE001 - any broker failure; the ledger already holds it
        log.warning("enqueue_failed", request_id=request_id, error=type(err).__name__)

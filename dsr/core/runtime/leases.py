"""Leases this process holds while it works: a running connector task, a delivery in flight.

A lease is a timestamp in the ledger (``started_at`` of a running task, ``claimed_at`` of an
outbox row) that other workers respect until it is ``task_lease_seconds`` old. The worker's
keeper thread renews every lease this process holds (``renew``), so a slow store keeps its
task, while a killed worker's leases expire a lease-length later and re-drive takes the work
over then.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

from sqlalchemy import update
from sqlmodel import Session, col

from dsr.core.ledger.models import ConnectorTask, Outbox, OutboxStatus, TaskStatus, utcnow

Kind = Literal["task", "outbox"]

_held: dict[str, Kind] = {}
_lock = threading.Lock()


@contextmanager
def holding(kind: Kind, object_id: str) -> Iterator[None]:
    """While the block runs, this process's keeper renews the lease on ``object_id``."""
    with _lock:
        _held[object_id] = kind
    try:
        yield
    finally:
        with _lock:
            _held.pop(object_id, None)


def held() -> dict[str, Kind]:
    with _lock:
        return dict(_held)


def renew(session: Session, leases: dict[str, Kind], now: datetime | None = None) -> None:
    """Move every held lease's clock to now (only leases still in force: still running, still
    pending)."""
    now = now or utcnow()
    tasks = [i for i, kind in leases.items() if kind == "task"]
    rows = [i for i, kind in leases.items() if kind == "outbox"]
    if tasks:
        session.execute(
            update(ConnectorTask)
            .where(
                col(ConnectorTask.id).in_(tasks), col(ConnectorTask.status) == TaskStatus.RUNNING
            )
            .values(started_at=now, updated_at=now)
        )
    if rows:
        session.execute(
            update(Outbox)
            .where(col(Outbox.id).in_(rows), col(Outbox.status) == OutboxStatus.PENDING)
            .values(claimed_at=now)
        )

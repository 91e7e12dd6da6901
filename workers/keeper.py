"""The worker process's keeper thread, started once per ``dsr worker`` process (imported by
it after the actors).

Every few seconds it puts this ledger's claim on the namespace back (``workers.fingerprint``),
beats dramatiq's heartbeat for this process even while every worker thread is busy (so the
broker never takes a live worker's messages for a dead one's), renews the leases of the tasks
and deliveries this process holds (``dsr.core.runtime.leases``), and runs re-drive — one worker
of the fleet at a time, under a short Redis lock — so a killed worker's work resumes with or
without a scheduler. It exits the process 3 with one line when the namespace turns out to
serve another ledger.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import structlog
from dramatiq import Broker

from config.settings import get_settings
from dsr.core.ledger.db import session_scope
from dsr.core.ledger.models import utcnow
from dsr.core.pipeline import redrive
from dsr.core.runtime import leases
from dsr.errors import ConfigError
from workers import fingerprint, guard, runtime
from workers.actors import enqueue

log = structlog.get_logger(__name__)

_started = threading.Event()


def start(broker: Broker) -> None:
    """Run the keeper thread in this worker process (once)."""
    if _started.is_set():
        return
    _started.set()
    guard.exit_on_foreign()
    threading.Thread(target=_keep, args=(broker,), name="dsr-keeper", daemon=True).start()


def _keep(broker: Broker) -> None:
    settings = get_settings()
    namespace = settings.broker_namespace
    client = broker.client  # type: ignore[attr-defined]
    beat = max(1.0, min(settings.ledger_claim_interval_seconds, settings.task_lease_seconds / 3))
    last_redrive = time.monotonic()
    while True:
        try:
            rt = runtime.get()
            client.zadd(
                f"{namespace}:__heartbeats__",
                {broker.broker_id: int(time.time() * 1000)},  # type: ignore[attr-defined]
            )
            fingerprint.ensure(rt, client, namespace)
            _renew(rt)
            every = settings.worker_redrive_interval_seconds
            if every and time.monotonic() - last_redrive >= every:
                last_redrive = time.monotonic()
                _redrive(rt, client, namespace, every)
        except ConfigError as err:
            guard.exit_now(f"configuration error: {err}")
        except Exception as err:  # noqa: BLE001 - Redis or the ledger away: try next round
            log.warning("keeper_round_failed", error=type(err).__name__)
        time.sleep(beat)


def _renew(rt: Any) -> None:
    held = leases.held()
    if held:
        with session_scope(rt.db_url) as session:
            leases.renew(session, held)


def _redrive(rt: Any, client: Any, namespace: str, every: int) -> None:
    """Re-drive, by one worker of the fleet at a time (whichever takes the lock first)."""
    if not client.set(f"{namespace}:redrive-lock", "1", nx=True, ex=max(1, every - 1)):
        return
    with session_scope(rt.db_url) as session:
        follow = redrive.stuck(session, rt, now=utcnow())
    if follow:
        log.info("worker_redrive", steps=len(follow))
    enqueue(follow)

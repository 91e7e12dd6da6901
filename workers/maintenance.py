"""The scheduler's actors: retention sweep, deadline watchdog, re-drive, clean-up, index
refresh. Each is thin.

Messages carry a connector name or nothing; the ledger says what to do. All are idempotent: a
sweep selects only aged rows still in place, reminders are unique outbox rows, re-driven steps
land on idempotent actors.
"""

from __future__ import annotations

import dramatiq

import workers.broker  # noqa: F401 - the broker must exist before any actor is declared
from connectors.base import Indexed
from dsr.core.ledger.db import session_scope
from dsr.core.ledger.models import utcnow
from dsr.core.ops import retention, watchdog
from dsr.core.pipeline import ending, redrive
from dsr.errors import ConfigError, InvalidInput
from workers import fingerprint, runtime
from workers.actors import enqueue
from workers.broker import broker

_SWEEP_TIME_LIMIT_MS = 12 * 3600 * 1000  # a sweep of a big store is long; a rerun resumes it


@dramatiq.actor(
    queue_name="dsr",
    max_retries=3,
    time_limit=_SWEEP_TIME_LIMIT_MS,
    throws=(ConfigError, InvalidInput),
)
def purge_store(connector: str) -> None:
    """Apply the retention rules of one connector now."""
    retention.sweep(runtime.get(), connector, by="scheduler", send=enqueue)  # now, whole rule


@dramatiq.actor(queue_name="dsr", max_retries=3)
def deadline_watchdog() -> None:
    """Queue due reminders and escalations to ops, then send them."""
    rt = runtime.get()
    with session_scope(rt.db_url) as session:
        follow = watchdog.check(session, rt, utcnow())
    enqueue(follow)


@dramatiq.actor(queue_name="dsr", max_retries=3)
def redrive_stuck() -> None:
    """Re-send the steps of work idle past the threshold, and unsent e-mails."""
    rt = runtime.get()
    try:  # a Redis flush removed the namespace's fingerprint: put it back
        fingerprint.ensure(rt, broker.client, rt.settings.broker_namespace)
    except ConfigError:
        pass  # logged; the processes on the other ledger refuse to start
    with session_scope(rt.db_url) as session:
        follow = redrive.stuck(session, rt, now=utcnow())
    enqueue(follow)


@dramatiq.actor(queue_name="dsr", max_retries=3)
def cleanup_expired() -> None:
    """Delete expired export bundles and verification codes; cancel requests left unverified
    past ``DSR_VERIFY_WITHIN_DAYS`` (audited, nothing sent to the address)."""
    rt = runtime.get()
    watchdog.cleanup(rt, utcnow())
    with session_scope(rt.db_url) as session:
        ending.expire_unverified(session, days=rt.settings.verify_within_days)


@dramatiq.actor(queue_name="dsr", max_retries=3, time_limit=_SWEEP_TIME_LIMIT_MS)
def refresh_indexes() -> None:
    """Bring every store's identifier index up to now (a first build resumes where it was)."""
    for connector in runtime.get().connectors.values():
        if isinstance(connector, Indexed):
            connector.refresh_index()

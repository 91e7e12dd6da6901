"""A worker serves its own ledger's messages only, keeps its claims alive, and re-drives.

``LedgerStamp`` (a dramatiq middleware, first in the chain) writes the sending process's ledger
id into every message's options and, in a worker, leaves a message of another ledger untouched
by anything that could act on it, retry it or dead-letter it: a copy goes back to the queue for
the fleet it belongs to, and the process exits 3 with one line (a worker whose ledger owns the
namespace instead parks it in ``<namespace>:foreign`` with an alert, since the right fleet is
not here).

Only a real worker process (``workers.keeper`` calls ``exit_on_foreign``) exits; a test's
in-process worker gives the message back and logs.
"""

from __future__ import annotations

import os
import sys
import uuid
from typing import Any

import structlog
from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy
from dramatiq.middleware import SkipMessage

from config.settings import get_settings
from dsr.errors import ConfigError

log = structlog.get_logger(__name__)

LEDGER = "dsr_ledger"  # the message option naming the ledger that produced it
_exit_on_foreign = False


def exit_on_foreign() -> None:
    global _exit_on_foreign
    _exit_on_foreign = True


def _this_ledger() -> str | None:
    from workers import fingerprint, runtime

    current = runtime.current()
    url = current.db_url if current is not None else get_settings().resolved_database_url
    return fingerprint.ledger_id(url)


class LedgerStamp(Middleware):
    """Every message says which ledger produced it; a worker acts only on its own ledger's."""

    def before_enqueue(self, broker: Broker, message: Any, delay: int) -> None:
        if LEDGER not in message.options:
            mine = _this_ledger()
            if mine is not None:
                message.options[LEDGER] = mine

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        theirs = message.options.get(LEDGER)
        if theirs is None:
            return  # sent by a release before the stamp: the row check still guards it
        mine = _this_ledger()
        if mine is None or theirs == mine:
            return
        _leave(broker, message, mine, theirs)
        raise SkipMessage  # acknowledged here only after its copy is back in the queue


def _leave(broker: Broker, message: MessageProxy, mine: str, theirs: str) -> None:
    """Give another ledger's message back, untouched, to the fleet it belongs to."""
    from workers import fingerprint, runtime

    namespace = get_settings().broker_namespace
    client = broker.client  # type: ignore[attr-defined]
    copy = message.message.copy(message_id=str(uuid.uuid4()))
    copy.options.pop("redis_message_id", None)
    try:
        fingerprint.ensure(runtime.get(), client, namespace)
        ours = True
    except ConfigError:
        ours = False
    if ours:
        # The namespace is this ledger's: no fleet here will ever take it. Kept for ops.
        client.rpush(f"{namespace}:foreign", copy.encode())
        log.critical("foreign_message_parked", ledger=theirs[:8], actor=message.actor_name)
        return
    broker.enqueue(copy)
    log.critical("foreign_message_left", ledger=theirs[:8], actor=message.actor_name)
    if _exit_on_foreign:
        # Acknowledged now that its copy is queued: left with this process's other fetched
        # messages, it would come back a second time once the broker found the process dead.
        broker.do_ack(message.queue_name, message.options["redis_message_id"])  # type: ignore[attr-defined]
        exit_now(
            f"configuration error: broker namespace {namespace!r} carries messages of another "
            f"ledger ({theirs[:8]}, this ledger's is {mine[:8]}): check DSR_DATABASE_URL, "
            "DSR_REDIS_URL and DSR_BROKER_NAMESPACE"
        )


def exit_now(line: str) -> None:
    """End this worker process at once with status 3 and one line: its fetched messages stay
    un-acknowledged, so the broker gives them back to the queue for the right fleet."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    os._exit(3)

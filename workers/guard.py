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
from workers.fingerprint import Claim

log = structlog.get_logger(__name__)

LEDGER = "dsr_ledger"  # the message option naming the ledger that produced it
_exit_on_foreign = False


def exit_on_foreign() -> None:
    global _exit_on_foreign
    _exit_on_foreign = True


def _this_ledger() -> Claim | None:
    from workers import fingerprint, runtime

    # The process's own ledger: its Runtime's (a worker's), else the one DSR_DATABASE_URL names
    # (the CLI's and the API's). A process whose ledger is only the default in ``var/`` (one
    # machine, its own embedded Redis) or that sends for a Runtime of its own (tests) does not
    # guess: its messages go unstamped, and the row check still guards them.
    current = runtime.current()
    url = current.db_url if current is not None else get_settings().database_url
    if url is None:
        return None
    return fingerprint.stamp(url, get_settings().broker_namespace)


class LedgerStamp(Middleware):
    """Every message says which ledger produced it; a worker acts only on its own ledger's."""

    def before_enqueue(self, broker: Broker, message: Any, delay: int) -> None:
        if LEDGER not in message.options:
            mine = _this_ledger()
            if mine is not None:
                message.options[LEDGER] = mine.encode()

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        try:
            self._check(broker, message)
        except SkipMessage:
            raise
        except Exception as err:
            # dramatiq logs a middleware's failure and goes on to run the message: never here.
            log.critical("ledger_check_failed", error=type(err).__name__)
            if _exit_on_foreign:
                exit_now(f"error: the message's ledger could not be checked ({type(err).__name__})")
            raise

    def _check(self, broker: Broker, message: MessageProxy) -> None:
        theirs = Claim.decode(message.options.get(LEDGER))
        if theirs is None:
            return  # sent by a release before the stamp: the row check still guards it
        from workers import fingerprint, runtime

        # A worker's own ledger, always known (built here if no actor has built it yet).
        url, namespace = runtime.get().db_url, get_settings().broker_namespace
        mine = fingerprint.stamp(url, namespace)
        if mine is None or theirs.ledger == mine.ledger:
            return
        mine = fingerprint.stamp(url, namespace, fresh=True) or mine  # the ledger as it is now
        if theirs.ledger == mine.ledger:
            return
        _leave(broker, message, mine, theirs)
        raise SkipMessage  # acknowledged only once it is back in the queue, or parked


def _leave(broker: Broker, message: MessageProxy, mine: Claim, theirs: Claim) -> None:
    """Another ledger's message, untouched: back to the queue for the fleet it belongs to, and
    this process ends, when that ledger has served the namespace longer than this one; else
    (a process on a wrong ledger sent it here) parked in ``<namespace>:foreign`` for ops."""
    namespace = get_settings().broker_namespace
    client = broker.client  # type: ignore[attr-defined]
    copy = message.copy(message_id=str(uuid.uuid4()))
    copy.options.pop("redis_message_id", None)
    if mine.since <= theirs.since:
        client.rpush(f"{namespace}:foreign", copy.encode())
        log.critical("foreign_message_parked", ledger=theirs.ledger[:8], actor=message.actor_name)
        return
    broker.enqueue(copy)
    log.critical("foreign_message_left", ledger=theirs.ledger[:8], actor=message.actor_name)
    if _exit_on_foreign:
        # Acknowledged now that its copy is queued: left with this process's other fetched
        # messages, it would come back a second time once the broker found the process dead.
        broker.do_ack(message.queue_name, message.options["redis_message_id"])  # type: ignore[attr-defined]
        exit_now(
            f"configuration error: broker namespace {namespace!r} serves another ledger "
            f"(fingerprint {theirs.ledger[:8]}, this ledger's is {mine.ledger[:8]}): check "
            "DSR_DATABASE_URL, DSR_REDIS_URL and DSR_BROKER_NAMESPACE"
        )


def exit_now(line: str) -> None:
    """End this worker process at once with status 3 and one line: its fetched messages stay
    un-acknowledged, so the broker gives them back to the queue for the right fleet."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    os._exit(3)

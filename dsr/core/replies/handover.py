"""The ledger's side of a message's last step, so a crash can neither lose nor hide a send.

Before the final dot of DATA the hand-over is committed (``handed_over_at``); the ``sent`` mark
is then prepared in an open transaction (its row locked), so once the server answers 250 only
its COMMIT is left to do. A process that dies in between leaves ``handed_over_at`` set: the next
attempt knows the server may already hold the message and counts the resend (``resends``, the
``dsr_duplicate_sends_total`` metric, a ``possible_duplicate`` log event with the Message-ID).

If that COMMIT fails (the ledger restarted, the connection dropped), the 250 is still in hand:
the mark is written again on a fresh connection until the ledger answers, never re-sent.

On SQLite, whose one writer at a time would wait on the server's answer, the mark is written
right after the answer instead.
"""

from __future__ import annotations

from contextlib import ExitStack

import structlog
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from dsr.core.ledger.db import UnitOfWork, changed
from dsr.core.ledger.models import Outbox, OutboxStatus, utcnow

log = structlog.get_logger(__name__)
# How long a worker holding a 250 keeps trying to record it while the ledger is away (its
# delivery lease is renewed meanwhile, so no one else sends the message).
RECORD_SENT_SECONDS = 120.0


class LeaseLost(Exception):
    """This attempt's delivery lease was taken over (it expired while the sender stalled):
    the final dot was not sent, the lease's new holder sends the message."""


def mark_sent(session: Session, outbox_id: str, claim: str | None = None) -> bool:
    """The only statement of its transaction: nothing may widen the send-twice window. With
    ``claim``, only while that attempt still holds the lease. False if no row moved."""
    held = [col(Outbox.claim) == claim] if claim is not None else []
    moved = changed(
        session,
        update(Outbox)
        .where(col(Outbox.id) == outbox_id, col(Outbox.status) == OutboxStatus.PENDING, *held)
        .values(
            status=OutboxStatus.SENT,
            sent_at=utcnow(),
            attempts=Outbox.attempts + 1,
            claimed_at=None,
            claim=None,
            handed_over_at=None,
        ),
    )
    return moved > 0


@retry(
    retry=retry_if_exception_type(OperationalError),
    wait=wait_exponential(multiplier=0.2, max=5.0),
    stop=stop_after_delay(RECORD_SENT_SECONDS),
    reraise=True,  # still no ledger: the next attempt counts it as a possible duplicate
)
def record_sent(uow: UnitOfWork, outbox_id: str) -> None:
    """Write the sent mark of a message the server accepted (its 250 is in hand), trying again
    while the ledger is unreachable (a restart, a dropped connection): a failure here must not
    end in a resend, since the server certainly holds the message. ``mark_sent`` only moves a
    pending row, so a COMMIT whose answer was lost and is written again changes nothing."""
    with uow() as session:
        mark_sent(session, outbox_id)


class LedgerHandover:
    """``mailer.Handover`` for one outbox row."""

    def __init__(self, uow: UnitOfWork, outbox_id: str, claim: str) -> None:
        self.uow, self.outbox_id, self.claim = uow, outbox_id, claim
        self._open: ExitStack | None = None

    def before_end(self) -> None:
        """Raises LeaseLost, before the final dot, if another attempt holds the lease now."""
        with self.uow() as session:
            held = changed(
                session,
                update(Outbox)
                .where(
                    col(Outbox.id) == self.outbox_id,
                    col(Outbox.status) == OutboxStatus.PENDING,
                    col(Outbox.claim) == self.claim,
                )
                .values(handed_over_at=utcnow()),
            )
            prepare = session.get_bind().dialect.name != "sqlite"
        if not held:
            raise LeaseLost(self.outbox_id)
        if prepare:
            stack = ExitStack()
            session = stack.enter_context(self.uow())
            try:
                # The row stays locked until the answer: no one can claim it meanwhile.
                if not mark_sent(session, self.outbox_id, self.claim):
                    raise LeaseLost(self.outbox_id)  # taken over between the two statements
            except BaseException:
                stack.__exit__(RuntimeError, RuntimeError("prepare failed"), None)
                raise
            self._open = stack

    def accepted(self) -> None:
        if self._open is not None:
            stack, self._open = self._open, None
            try:
                stack.close()  # COMMIT: the sent mark prepared before the final dot
                return
            except Exception as err:  # noqa: BLE001 - the server has it: recorded below
                log.warning("sent_mark_retried", outbox_id=self.outbox_id, error=type(err).__name__)
        record_sent(self.uow, self.outbox_id)

    def abandon(self, answered: bool) -> None:
        if self._open is not None:
            stack, self._open = self._open, None
            stack.__exit__(RuntimeError, RuntimeError("not accepted"), None)  # ROLLBACK
        if answered:  # the server said no: it does not hold the message
            with self.uow() as session:
                session.execute(
                    update(Outbox)
                    .where(col(Outbox.id) == self.outbox_id)
                    .values(handed_over_at=None)
                )

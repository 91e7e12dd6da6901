"""The ledger's side of a message's last step, so a crash can neither lose nor hide a send.

Before the final dot of DATA the hand-over is committed (``handed_over_at``); the ``sent`` mark
is then prepared in an open transaction (its row locked), so once the server answers 250 only
its COMMIT is left to do. A process that dies in between leaves ``handed_over_at`` set: the next
attempt knows the server may already hold the message and counts the resend (``resends``, the
``dsr_duplicate_sends_total`` metric, a ``possible_duplicate`` log event with the Message-ID).

On SQLite, whose one writer at a time would wait on the server's answer, the mark is written
right after the answer instead.
"""

from __future__ import annotations

from contextlib import ExitStack

from sqlalchemy import update
from sqlmodel import Session, col

from dsr.core.ledger.db import UnitOfWork
from dsr.core.ledger.models import Outbox, OutboxStatus, utcnow


def mark_sent(session: Session, outbox_id: str) -> None:
    """The only statement of its transaction: nothing may widen the send-twice window."""
    session.execute(
        update(Outbox)
        .where(col(Outbox.id) == outbox_id, col(Outbox.status) == OutboxStatus.PENDING)
        .values(
            status=OutboxStatus.SENT,
            sent_at=utcnow(),
            attempts=Outbox.attempts + 1,
            claimed_at=None,
            handed_over_at=None,
        )
    )


class LedgerHandover:
    """``mailer.Handover`` for one outbox row."""

    def __init__(self, uow: UnitOfWork, outbox_id: str) -> None:
        self.uow, self.outbox_id = uow, outbox_id
        self._open: ExitStack | None = None

    def before_end(self) -> None:
        with self.uow() as session:
            session.execute(
                update(Outbox)
                .where(col(Outbox.id) == self.outbox_id)
                .values(handed_over_at=utcnow())
            )
            prepare = session.get_bind().dialect.name != "sqlite"
        if prepare:
            stack = ExitStack()
            session = stack.enter_context(self.uow())
            try:
                mark_sent(session, self.outbox_id)
            except BaseException:
                stack.__exit__(RuntimeError, RuntimeError("prepare failed"), None)
                raise
            self._open = stack

    def accepted(self) -> None:
        if self._open is not None:
            stack, self._open = self._open, None
            stack.close()  # COMMIT: the sent mark prepared before the final dot
            return
        with self.uow() as session:
            mark_sent(session, self.outbox_id)

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

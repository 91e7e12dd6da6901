"""A message the SMTP server accepted is recorded as sent even when the ledger connection drops
between the 250 and the COMMIT of the sent mark (a PostgreSQL restart, a network cut): the 250
is in hand, so the mark is written again on a new connection, and the message is never sent a
second time (issue 23)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from config.settings import Settings
from dsr.core.ledger.db import get_engine, migrate, units_of_work
from dsr.core.ledger.models import Outbox, OutboxStatus
from dsr.core.replies import delivery
from tests import services
from tests.core.replies.queued import queued, smtp_server


class _CutsTheLedgerBeforeAnswering:
    """Keeps every message; before its first 250 it ends the ledger sessions that wait in an
    open transaction (the sender's prepared sent mark), as a PostgreSQL restart would."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.cut = 0
        self.admin = sa.create_engine(services.POSTGRES_URL, isolation_level="AUTOCOMMIT")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook
        self.received.append(envelope.content)
        if len(self.received) == 1:
            with self.admin.connect() as conn:
                self.cut = len(
                    conn.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                            " AND state = 'idle in transaction'"
                        )
                    ).all()
                )
        return "250 OK"


def test_a_lost_ledger_connection_after_the_250_does_not_send_twice(
    tmp_path: Path, postgres_url: str
) -> None:
    migrate(postgres_url)
    handler = _CutsTheLedgerBeforeAnswering()
    try:
        with smtp_server(handler) as port:
            settings = Settings(
                database_url=postgres_url, smtp_host="127.0.0.1", smtp_port=port,
                var_dir=tmp_path / "var",
            )  # fmt: skip
            row = queued(postgres_url, tmp_path / "reply.eml", "<r2.reply@example.com>")
            uow = units_of_work(postgres_url)
            delivery.deliver(uow, settings, row.id)  # the server accepted: the attempt succeeded
            assert handler.cut >= 1  # the sender's open transaction was really cut
            delivery.deliver(uow, settings, row.id)  # re-drive's next look at it
            assert len(handler.received) == 1  # the subject got it once
            with Session(get_engine(postgres_url)) as session:
                sent = session.get(Outbox, row.id)
                assert sent is not None and sent.status == OutboxStatus.SENT
                assert sent.resends == 0 and sent.handed_over_at is None
    finally:
        handler.admin.dispose()
        get_engine(postgres_url).dispose()

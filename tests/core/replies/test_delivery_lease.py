"""Two senders of one message after a delivery lease expired (its holder stalled, not dead):
the one whose lease was taken over never sends the final dot, so the subject gets the message
once (issue 23)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from sqlmodel import Session

from config.settings import Settings
from dsr.core.ledger.db import get_engine, migrate, units_of_work
from dsr.core.ledger.models import Outbox, OutboxStatus
from dsr.core.replies import delivery
from tests.core.replies.queued import queued, smtp_server


class _HoldsTheFirstSender:
    """Keeps every message; the first sender is held at RCPT until ``release`` is set."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.first_waiting = threading.Event()
        self.release = threading.Event()
        self.rcpts = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:  # aiosmtpd hook
        self.rcpts += 1
        if self.rcpts == 1:
            self.first_waiting.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook
        self.received.append(envelope.content)
        return "250 OK"


def test_a_sender_whose_lease_was_taken_over_does_not_send(
    tmp_path: Path, postgres_url: str
) -> None:
    migrate(postgres_url)
    handler = _HoldsTheFirstSender()
    try:
        with smtp_server(handler) as port:
            settings = Settings(
                database_url=postgres_url, smtp_host="127.0.0.1", smtp_port=port,
                task_lease_seconds=1, var_dir=tmp_path / "var",
            )  # fmt: skip
            row = queued(postgres_url, tmp_path / "reply.eml", "<r3.reply@example.com>")
            uow = units_of_work(postgres_url)
            errors: list[BaseException] = []

            def stalled() -> None:  # a worker whose keeper stopped renewing (no keeper here)
                try:
                    delivery.deliver(uow, settings, row.id)
                except BaseException as err:  # noqa: BLE001 - reported below
                    errors.append(err)

            first = threading.Thread(target=stalled)
            first.start()
            assert handler.first_waiting.wait(10)
            time.sleep(1.5)  # its lease expires
            delivery.deliver(uow, settings, row.id)  # re-drive: another worker takes it over
            assert len(handler.received) == 1
            handler.release.set()
            first.join(30)
            assert len(handler.received) == 1, "sent twice: the stalled sender sent it again"
            with Session(get_engine(postgres_url)) as session:
                sent = session.get(Outbox, row.id)
                assert sent is not None and sent.status == OutboxStatus.SENT
            assert not errors, errors
    finally:
        handler.release.set()
        get_engine(postgres_url).dispose()
